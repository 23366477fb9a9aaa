/*
 * The signed static-key statement: a good one verifies; a wrong key, an
 * expired statement and a forged signature do not; the encoding is canonical
 * and strictly decoded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"

#include "crypto.h"
#include "error.h"
#include "identity.h"

static const uint64_t NOW = 1700000000000ull;
static const uint64_t DAY = 86400000ull;

struct keys {
    uint8_t pk[32], sk[64], xpriv[32], xpub[32];
};

static struct keys make_keys(uint8_t seedbyte)
{
    struct keys k;
    uint8_t seed[32];
    memset(seed, seedbyte, sizeof seed);
    kn_sign_keypair_from_seed(k.pk, k.sk, seed);
    memset(k.xpriv, seedbyte ^ 0x5a, sizeof k.xpriv);
    kn_x25519_base(k.xpub, k.xpriv);
    return k;
}

static void test_good_statement(void **state)
{
    (void)state;
    struct keys k = make_keys(1);
    kn_identity_statement st;
    kn_identity_sign(&st, k.pk, k.sk, k.xpub, NOW + DAY);
    assert_memory_equal(st.identity, k.pk, 32);
    assert_int_equal(st.expiry_ms, NOW + DAY);
    assert_rc(0, kn_identity_verify(&st, k.xpub, NOW));
    assert_rc(0, kn_identity_verify(&st, k.xpub, NOW + DAY - 1));
}

/* The signed message is exactly context || x25519_pub || expiry (big-endian). */
static void test_signed_bytes_layout(void **state)
{
    (void)state;
    struct keys k = make_keys(2);
    kn_identity_statement st;
    uint64_t expiry = 0x0102030405060708ull;
    kn_identity_sign(&st, k.pk, k.sk, k.xpub, expiry);
    uint8_t msg[21 + 32 + 8];
    memcpy(msg, "knoten/noise-static/1", 21);
    memcpy(msg + 21, k.xpub, 32);
    for (int i = 0; i < 8; i++)
        msg[53 + i] = (uint8_t)(i + 1);
    assert_rc(0, kn_sign_verify(st.sig, msg, sizeof msg, k.pk));
}

static void test_wrong_key(void **state)
{
    (void)state;
    struct keys k = make_keys(3), other = make_keys(4);
    kn_identity_statement st;
    kn_identity_sign(&st, k.pk, k.sk, k.xpub, NOW + DAY);
    /* The statement is good, but the Noise peer proved another static key. */
    assert_rc(KN_EIDENTITY, kn_identity_verify(&st, other.xpub, NOW));
    /* Someone else's identity claiming our X25519 key with our signature. */
    kn_identity_statement stolen = st;
    memcpy(stolen.identity, other.pk, 32);
    assert_rc(KN_EIDENTITY, kn_identity_verify(&stolen, k.xpub, NOW));
}

static void test_expired(void **state)
{
    (void)state;
    struct keys k = make_keys(5);
    kn_identity_statement st;
    kn_identity_sign(&st, k.pk, k.sk, k.xpub, NOW);
    assert_rc(KN_EEXPIRED, kn_identity_verify(&st, k.xpub, NOW));
    assert_rc(KN_EEXPIRED, kn_identity_verify(&st, k.xpub, NOW + 1));
    assert_rc(0, kn_identity_verify(&st, k.xpub, NOW - 1));
    /* Extending the expiry without re-signing breaks the signature. */
    st.expiry_ms += DAY;
    assert_rc(KN_EIDENTITY, kn_identity_verify(&st, k.xpub, NOW));
}

static void test_forged_signature(void **state)
{
    (void)state;
    struct keys k = make_keys(6), mallory = make_keys(7);
    kn_identity_statement st;
    kn_identity_sign(&st, k.pk, k.sk, k.xpub, NOW + DAY);
    for (int bit = 0; bit < 512; bit += 37) {
        kn_identity_statement bad = st;
        bad.sig[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        assert_rc(KN_EIDENTITY, kn_identity_verify(&bad, k.xpub, NOW));
    }
    /* Mallory signs a statement for her key but names k's identity. */
    kn_identity_statement forged;
    kn_identity_sign(&forged, mallory.pk, mallory.sk, mallory.xpub, NOW + DAY);
    memcpy(forged.identity, k.pk, 32);
    assert_rc(KN_EIDENTITY, kn_identity_verify(&forged, mallory.xpub, NOW));
    kn_identity_statement zero;
    memset(&zero, 0, sizeof zero);
    zero.expiry_ms = NOW + DAY;
    assert_rc(KN_EIDENTITY, kn_identity_verify(&zero, k.xpub, NOW));
}

static void test_encoding_round_trip(void **state)
{
    (void)state;
    struct keys k = make_keys(8);
    uint64_t expiries[] = { 0, 1, 127, 128, 255, 65535, 65536, NOW, UINT64_MAX };
    for (size_t i = 0; i < sizeof expiries / sizeof expiries[0]; i++) {
        kn_identity_statement st, back;
        kn_identity_sign(&st, k.pk, k.sk, k.xpub, expiries[i]);
        uint8_t buf[KN_IDENTITY_STATEMENT_MAX + 1];
        size_t n;
        assert_rc(0, kn_identity_encode(&st, buf, sizeof buf, &n));
        assert_int_equal(buf[0], 0x93); /* fixarray 3 */
        assert_int_equal(buf[1], 0xc4); /* bin8 */
        assert_int_equal(buf[2], 32);
        assert_int_equal(buf[n - 66], 0xc4);
        assert_int_equal(buf[n - 65], 64);
        assert_rc(0, kn_identity_decode(&back, buf, n));
        assert_memory_equal(&back.identity, &st.identity, 32);
        assert_int_equal(back.expiry_ms, st.expiry_ms);
        assert_memory_equal(&back.sig, &st.sig, 64);
        /* Every truncation fails; a trailing byte fails. */
        for (size_t cut = 0; cut < n; cut++)
            assert_true(kn_identity_decode(&back, buf, cut) < 0);
        buf[n] = 0;
        assert_rc(KN_ETRAILING, kn_identity_decode(&back, buf, n + 1));
        assert_rc(KN_ETOOBIG, kn_identity_encode(&st, buf, n - 1, &n));
    }
}

static void test_decode_strict(void **state)
{
    (void)state;
    struct keys k = make_keys(9);
    kn_identity_statement st, back;
    kn_identity_sign(&st, k.pk, k.sk, k.xpub, 1000);
    uint8_t buf[KN_IDENTITY_STATEMENT_MAX + 8];
    size_t n;
    assert_rc(0, kn_identity_encode(&st, buf, sizeof buf, &n));
    assert_int_equal(n, 1 + 34 + 3 + 66); /* 1000 is a uint16 */
    /* Wrong arity. */
    buf[0] = 0x92;
    assert_rc(KN_EARITY, kn_identity_decode(&back, buf, n));
    buf[0] = 0x93;
    /* A 31-byte identity. */
    buf[2] = 31;
    assert_rc(KN_EKEYLEN, kn_identity_decode(&back, buf, n));
    buf[2] = 32;
    /* Non-canonical expiry: 1000 as a uint32. */
    uint8_t wide[KN_IDENTITY_STATEMENT_MAX + 8];
    memcpy(wide, buf, 35);
    wide[35] = 0xce;
    wide[36] = 0;
    wide[37] = 0;
    wide[38] = 0x03;
    wide[39] = 0xe8;
    memcpy(wide + 40, buf + 38, 66);
    assert_rc(KN_ENONCANON, kn_identity_decode(&back, wide, 106));
    /* A str where a bin belongs. */
    buf[1] = 0xd9;
    assert_true(kn_identity_decode(&back, buf, n) < 0);
}

int main(void)
{
    if (kn_crypto_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_statement),
        cmocka_unit_test(test_signed_bytes_layout),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_forged_signature),
        cmocka_unit_test(test_encoding_round_trip),
        cmocka_unit_test(test_decode_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
