/*
 * Noise beyond the vectors: the nonce layout, HMAC/HKDF known answers (from
 * Python's hmac + hashlib.blake2b), Rekey() and the automatic rekey, the
 * reserved nonce, the 65535-byte limit, low-order keys and the dead state
 * after any failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"

#include "crypto.h"
#include "error.h"
#include "noise.h"

static void unhex(uint8_t *out, const char *hex)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void assert_hex(const uint8_t *got, const char *hex)
{
    size_t n = strlen(hex) / 2;
    uint8_t want[256];
    assert_true(n <= sizeof want);
    unhex(want, hex);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("byte %zu is %02x, expected %02x", i, got[i], want[i]);
}

static void test_nonce_layout(void **state)
{
    (void)state;
    uint8_t n[KN_NOISE_NONCE];
    kn_noise_nonce_bytes(n, 0x0102030405060708ull);
    static const uint8_t want[KN_NOISE_NONCE] = { 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1 };
    assert_memory_equal(n, want, sizeof want);
    kn_noise_nonce_bytes(n, 1);
    static const uint8_t one[KN_NOISE_NONCE] = { 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 };
    assert_memory_equal(n, one, sizeof one);

    /* A cipher at that counter encrypts exactly as the IETF AEAD with that nonce
       (known answer from Python's cryptography package). */
    uint8_t key[KN_NOISE_KEY], ct[5 + KN_NOISE_TAG];
    memset(key, 0x42, sizeof key);
    kn_noise_cipher *c;
    assert_rc(0, kn_noise_cipher_new(&c, key, 0x0102030405060708ull));
    assert_rc(0, kn_noise_cipher_encrypt(c, NULL, 0, (const uint8_t *)"hello", 5, ct));
    assert_hex(ct, "84975019191e409a4cdd9bb6814185fd5b0cab9b8d");
    assert_int_equal(kn_noise_cipher_nonce(c), 0x0102030405060709ull);
    kn_noise_cipher_free(c);
}

static void test_hmac_hkdf_known_answers(void **state)
{
    (void)state;
    uint8_t key[200], out[KN_NOISE_HASH], o1[KN_NOISE_HASH], o2[KN_NOISE_HASH], o3[KN_NOISE_HASH];
    for (int i = 0; i < 200; i++)
        key[i] = (uint8_t)i;
    kn_noise_hmac(out, key, 64, (const uint8_t *)"knoten", 6);
    assert_hex(out,
        "d5f6985f4ba94146cdc4576ea8c22af3a76123817b2d2a71513bd76b62fe443e"
        "71b28b426d0dbcf0d5f5a17997e47637ef56b3927818d189094ff1b2dac6102d");
    kn_noise_hmac(out, key, 200, (const uint8_t *)"long key", 8);
    assert_hex(out,
        "3657d96bcab1b777275ca0c25f3bab9388d8ac4d3914495a2b495c756b52dd22"
        "dc9531abcd00141e683e53e77cf10f468330f65c569c44f0f54edd3ad89cb566");
    kn_noise_hmac(out, NULL, 0, NULL, 0);
    assert_hex(out,
        "198cd2006f66ff83fbbd913f78aca2251caf4f19fe9475aade8cf2091b99a684"
        "66775177424f58286886cbae8229644cec747237d4b721735485e17372fdf59c");

    uint8_t ck[KN_NOISE_HASH], ikm[32];
    memset(ck, 0x11, sizeof ck);
    memset(ikm, 0x22, sizeof ikm);
    kn_noise_hkdf(ck, ikm, sizeof ikm, o1, o2, o3);
    assert_hex(o1,
        "f40cb5e07d2427ba7f73913ac1fda74f774012188c442e04d7b6738430612e57"
        "3151cce099cd56d36e167cfa2761a052518e82dd02e45be173470479d72f544c");
    assert_hex(o2,
        "acdbfbc9fca30a9a12e37d7c6dc98d203af3dadc116d8aec4d51491ffe8c370e"
        "d6593becd2f5bbf31ca7b8983fdf4cb3031a9d331a038a007de628a416c55915");
    assert_hex(o3,
        "54b0eb2eb9af4a8e98b77ad6428586833bfc156c84d4480cd7fafc47231f7ff2"
        "7546fec2ec4e5b4041ae9e431bab416dade6c147b597cae32ccf06f15b65173f");
    /* ck may be an output (MixKey does that). */
    kn_noise_hkdf(ck, ikm, sizeof ikm, ck, o2, NULL);
    assert_memory_equal(ck, o1, sizeof o1);
}

/* Rekey() and the automatic rekey after 65,536 messages, against Python's numbers. */
static void test_rekey(void **state)
{
    (void)state;
    uint8_t key[KN_NOISE_KEY], ct[64], pt[64];
    memset(key, 0x42, sizeof key);
    kn_noise_cipher *enc, *dec;
    assert_rc(0, kn_noise_cipher_new(&enc, key, 0));
    assert_rc(0, kn_noise_cipher_new(&dec, key, 0));
    for (uint32_t i = 0; i < KN_NOISE_REKEY_INTERVAL; i++) {
        assert_rc(0, kn_noise_cipher_encrypt(enc, NULL, 0, (const uint8_t *)"x", 1, ct));
        assert_rc(0, kn_noise_cipher_decrypt(dec, NULL, 0, ct, 1 + KN_NOISE_TAG, pt));
    }
    assert_int_equal(kn_noise_cipher_nonce(enc), 65536);
    /* Nonce unchanged, key = Rekey(k): known answer from Python. */
    assert_rc(0, kn_noise_cipher_encrypt(enc, NULL, 0, (const uint8_t *)"hello", 5, ct));
    assert_hex(ct, "a46699da1e2ec125b143ed268b8305d953ea5cb125");
    assert_rc(0, kn_noise_cipher_decrypt(dec, NULL, 0, ct, 5 + KN_NOISE_TAG, pt));
    assert_memory_equal(pt, "hello", 5);
    kn_noise_cipher_free(enc);
    kn_noise_cipher_free(dec);

    /* Explicit rekey: k' from Python; the nonce stays. */
    uint8_t k2[KN_NOISE_KEY];
    unhex(k2, "159f5119c24b03e867f41504aecfbe0708789c2285c6577effe3de06d2f03234");
    kn_noise_cipher *ref;
    assert_rc(0, kn_noise_cipher_new(&enc, key, 7));
    assert_rc(0, kn_noise_cipher_new(&dec, key, 7));
    assert_rc(0, kn_noise_cipher_new(&ref, k2, 7));
    assert_rc(0, kn_noise_cipher_rekey(enc));
    assert_int_equal(kn_noise_cipher_nonce(enc), 7);
    uint8_t ct2[64];
    assert_rc(0, kn_noise_cipher_encrypt(enc, NULL, 0, (const uint8_t *)"abc", 3, ct));
    assert_rc(0, kn_noise_cipher_encrypt(ref, NULL, 0, (const uint8_t *)"abc", 3, ct2));
    assert_memory_equal(ct, ct2, 3 + KN_NOISE_TAG);
    /* The peer that did not rekey cannot read it, and is dead afterwards. */
    assert_rc(KN_ECRYPTO, kn_noise_cipher_decrypt(dec, NULL, 0, ct, 3 + KN_NOISE_TAG, pt));
    assert_rc(KN_ESTATE, kn_noise_cipher_decrypt(dec, NULL, 0, ct, 3 + KN_NOISE_TAG, pt));
    assert_rc(KN_ESTATE, kn_noise_cipher_encrypt(dec, NULL, 0, pt, 1, ct));
    assert_rc(KN_ESTATE, kn_noise_cipher_rekey(dec));
    kn_noise_cipher_free(enc);
    kn_noise_cipher_free(dec);
    kn_noise_cipher_free(ref);
}

static void test_reserved_nonce(void **state)
{
    (void)state;
    uint8_t key[KN_NOISE_KEY] = { 1 }, ct[32], pt[32];
    kn_noise_cipher *c;
    assert_rc(0, kn_noise_cipher_new(&c, key, UINT64_MAX - 1));
    assert_rc(0, kn_noise_cipher_encrypt(c, NULL, 0, pt, 1, ct));
    assert_rc(KN_ENONCE, kn_noise_cipher_encrypt(c, NULL, 0, pt, 1, ct));
    assert_int_equal(kn_noise_cipher_nonce(c), UINT64_MAX);
    kn_noise_cipher_free(c);
    assert_rc(0, kn_noise_cipher_new(&c, key, UINT64_MAX));
    memset(ct, 0, sizeof ct);
    assert_rc(KN_ENONCE, kn_noise_cipher_decrypt(c, NULL, 0, ct, 17, pt));
    assert_rc(KN_ESTATE, kn_noise_cipher_decrypt(c, NULL, 0, ct, 17, pt));
    kn_noise_cipher_free(c);
}

static void test_transport_limits(void **state)
{
    (void)state;
    uint8_t key[KN_NOISE_KEY] = { 2 };
    uint8_t *buf = calloc(1, KN_NOISE_MAX_MESSAGE + 16);
    assert_non_null(buf);
    kn_noise_cipher *enc, *dec;
    assert_rc(0, kn_noise_cipher_new(&enc, key, 0));
    assert_rc(0, kn_noise_cipher_new(&dec, key, 0));
    assert_rc(
        KN_ETOOBIG, kn_noise_cipher_encrypt(enc, NULL, 0, buf, KN_NOISE_MAX_PLAINTEXT + 1, buf));
    assert_int_equal(kn_noise_cipher_nonce(enc), 0);
    assert_rc(0, kn_noise_cipher_encrypt(enc, NULL, 0, buf, KN_NOISE_MAX_PLAINTEXT, buf));
    assert_rc(0, kn_noise_cipher_decrypt(dec, NULL, 0, buf, KN_NOISE_MAX_MESSAGE, buf));
    assert_rc(
        KN_ETOOBIG, kn_noise_cipher_decrypt(dec, NULL, 0, buf, KN_NOISE_MAX_MESSAGE + 1, buf));
    assert_rc(KN_ESTATE, kn_noise_cipher_decrypt(dec, NULL, 0, buf, 16, buf));
    kn_noise_cipher_free(dec);
    assert_rc(0, kn_noise_cipher_new(&dec, key, 0));
    assert_rc(KN_ECRYPTO, kn_noise_cipher_decrypt(dec, NULL, 0, buf, 15, buf));
    kn_noise_cipher_free(enc);
    kn_noise_cipher_free(dec);
    free(buf);
}

struct pair {
    kn_noise_handshake *i, *r;
};

static struct pair knoten_pair(void)
{
    uint8_t psk[32], si[32], sr[32], ei[32], er[32];
    memset(psk, 0xaa, 32);
    memset(si, 1, 32);
    memset(sr, 2, 32);
    memset(ei, 3, 32);
    memset(er, 4, 32);
    struct pair p;
    assert_rc(0, kn_noise_handshake_new_knoten(&p.i, KN_NOISE_INITIATOR, psk, si, ei));
    assert_rc(0, kn_noise_handshake_new_knoten(&p.r, KN_NOISE_RESPONDER, psk, sr, er));
    return p;
}

static void pair_free(struct pair *p)
{
    kn_noise_handshake_free(p->i);
    kn_noise_handshake_free(p->r);
}

static uint8_t m[KN_NOISE_MAX_MESSAGE + 64], pl[KN_NOISE_MAX_MESSAGE + 64];

static void test_handshake_turns_and_limits(void **state)
{
    (void)state;
    struct pair p = knoten_pair();
    size_t n, pn;
    /* Not the responder's turn; not the initiator's turn to read. */
    assert_rc(KN_ESTATE, kn_noise_handshake_write(p.r, NULL, 0, m, sizeof m, &n));
    memset(m, 9, 48);
    assert_rc(KN_ESTATE, kn_noise_handshake_read(p.i, m, 48, pl, sizeof pl, &pn));
    pair_free(&p);

    /* Message 1 is 32 + 16 + payload: the largest payload is 65487. */
    p = knoten_pair();
    assert_rc(KN_ETOOBIG, kn_noise_handshake_write(p.i, pl, 65535 - 48 + 1, m, sizeof m, &n));
    assert_rc(KN_ESTATE, kn_noise_handshake_write(p.i, NULL, 0, m, sizeof m, &n));
    pair_free(&p);
    p = knoten_pair();
    assert_rc(0, kn_noise_handshake_write(p.i, pl, 65535 - 48, m, sizeof m, &n));
    assert_int_equal(n, 65535);
    assert_rc(0, kn_noise_handshake_read(p.r, m, n, pl, sizeof pl, &pn));
    assert_int_equal(pn, 65535 - 48);
    pair_free(&p);

    /* A reader refuses more than 65535 bytes, and a buffer too small for the payload. */
    p = knoten_pair();
    assert_rc(KN_ETOOBIG, kn_noise_handshake_read(p.r, m, 65536, pl, sizeof pl, &pn));
    pair_free(&p);
    p = knoten_pair();
    assert_rc(0, kn_noise_handshake_write(p.i, pl, 10, m, sizeof m, &n));
    assert_rc(KN_ETOOBIG, kn_noise_handshake_read(p.r, m, n, pl, 9, &pn));
    pair_free(&p);
    /* A truncated message. */
    p = knoten_pair();
    assert_rc(0, kn_noise_handshake_write(p.i, NULL, 0, m, sizeof m, &n));
    assert_rc(KN_EPROTO, kn_noise_handshake_read(p.r, m, 40, pl, sizeof pl, &pn));
    assert_rc(KN_ESTATE, kn_noise_handshake_write(p.r, NULL, 0, m, sizeof m, &n));
    pair_free(&p);
}

static void test_full_knoten_handshake(void **state)
{
    (void)state;
    struct pair p = knoten_pair();
    size_t n, pn;
    uint8_t hi[64], hr[64], rs[32], want[32], seed[32];
    assert_rc(KN_ESTATE, kn_noise_handshake_hash(p.i, hi));
    assert_rc(KN_ENOTFOUND, kn_noise_handshake_remote_static(p.i, rs));
    assert_rc(0, kn_noise_handshake_write(p.i, NULL, 0, m, sizeof m, &n)); /* -> psk, e */
    assert_int_equal(n, 48);
    assert_rc(0, kn_noise_handshake_read(p.r, m, n, pl, sizeof pl, &pn));
    assert_rc(0, kn_noise_handshake_write(p.r, (const uint8_t *)"two", 3, m, sizeof m, &n));
    assert_int_equal(n, 32 + 48 + 3 + 16); /* <- e, ee, s, es */
    assert_rc(0, kn_noise_handshake_read(p.i, m, n, pl, sizeof pl, &pn));
    assert_memory_equal(pl, "two", 3);
    assert_rc(0, kn_noise_handshake_remote_static(p.i, rs));
    memset(seed, 2, 32);
    kn_x25519_base(want, seed);
    assert_memory_equal(rs, want, 32);
    assert_false(kn_noise_handshake_done(p.i));
    assert_rc(0, kn_noise_handshake_write(p.i, (const uint8_t *)"three", 5, m, sizeof m, &n));
    assert_int_equal(n, 48 + 5 + 16); /* -> s, se */
    assert_rc(0, kn_noise_handshake_read(p.r, m, n, pl, sizeof pl, &pn));
    assert_true(kn_noise_handshake_done(p.i) && kn_noise_handshake_done(p.r));
    assert_rc(0, kn_noise_handshake_hash(p.i, hi));
    assert_rc(0, kn_noise_handshake_hash(p.r, hr));
    assert_memory_equal(hi, hr, 64);
    assert_rc(KN_ESTATE, kn_noise_handshake_write(p.i, NULL, 0, m, sizeof m, &n));
    kn_noise_cipher *is, *ir, *rsend, *rrecv;
    assert_rc(0, kn_noise_handshake_split(p.i, &is, &ir));
    assert_rc(0, kn_noise_handshake_split(p.r, &rsend, &rrecv));
    assert_rc(0, kn_noise_cipher_encrypt(is, NULL, 0, (const uint8_t *)"hi", 2, m));
    assert_rc(0, kn_noise_cipher_decrypt(rrecv, NULL, 0, m, 18, pl));
    assert_rc(0, kn_noise_cipher_encrypt(rsend, NULL, 0, (const uint8_t *)"yo", 2, m));
    assert_rc(0, kn_noise_cipher_decrypt(ir, NULL, 0, m, 18, pl));
    /* Directions are not interchangeable. */
    assert_rc(0, kn_noise_cipher_encrypt(is, NULL, 0, (const uint8_t *)"hi", 2, m));
    assert_rc(KN_ECRYPTO, kn_noise_cipher_decrypt(ir, NULL, 0, m, 18, pl));
    kn_noise_cipher_free(is);
    kn_noise_cipher_free(ir);
    kn_noise_cipher_free(rsend);
    kn_noise_cipher_free(rrecv);
    pair_free(&p);
}

/* A low-order ephemeral from the peer fails the DH that uses it, for good. */
static void test_low_order_keys(void **state)
{
    (void)state;
    size_t n, pn;
    /* Responder side, XX: message 1 is unauthenticated, ee fails at write. */
    uint8_t si[32], sr[32], ei[32], er[32];
    memset(si, 1, 32);
    memset(sr, 2, 32);
    memset(ei, 3, 32);
    memset(er, 4, 32);
    kn_noise_handshake *r;
    assert_rc(
        0, kn_noise_handshake_new(&r, KN_NOISE_XX, KN_NOISE_RESPONDER, NULL, 0, NULL, sr, er));
    memset(m, 0, 32); /* the all-zero point has low order */
    assert_rc(0, kn_noise_handshake_read(r, m, 32, pl, sizeof pl, &pn));
    assert_rc(KN_ELOWORDER, kn_noise_handshake_write(r, NULL, 0, m, sizeof m, &n));
    assert_int_equal(n, 0);
    assert_rc(KN_ESTATE, kn_noise_handshake_write(r, NULL, 0, m, sizeof m, &n));
    kn_noise_handshake_free(r);

    /* Initiator side, knoten: a low-order e in message 2 fails ee at read. */
    struct pair p = knoten_pair();
    assert_rc(0, kn_noise_handshake_write(p.i, NULL, 0, m, sizeof m, &n));
    assert_rc(0, kn_noise_handshake_read(p.r, m, n, pl, sizeof pl, &pn));
    assert_rc(0, kn_noise_handshake_write(p.r, NULL, 0, m, sizeof m, &n));
    static const uint8_t order8[32] = { 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56,
        0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86,
        0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 };
    memcpy(m, order8, 32);
    assert_rc(KN_ELOWORDER, kn_noise_handshake_read(p.i, m, n, pl, sizeof pl, &pn));
    assert_rc(KN_ESTATE, kn_noise_handshake_write(p.i, NULL, 0, m, sizeof m, &n));
    uint8_t h[64];
    assert_rc(KN_ESTATE, kn_noise_handshake_hash(p.i, h));
    pair_free(&p);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    uint8_t k[32] = { 0 };
    kn_noise_handshake *hs;
    /* psk pattern without a psk, static pattern without a static key, and the reverse. */
    assert_rc(KN_EINVAL,
        kn_noise_handshake_new(&hs, KN_NOISE_XXPSK0, KN_NOISE_INITIATOR, NULL, 0, NULL, k, k));
    assert_rc(KN_EINVAL,
        kn_noise_handshake_new(&hs, KN_NOISE_XX, KN_NOISE_INITIATOR, NULL, 0, NULL, NULL, k));
    assert_rc(KN_EINVAL,
        kn_noise_handshake_new(&hs, KN_NOISE_NN, KN_NOISE_INITIATOR, NULL, 0, k, NULL, k));
    assert_rc(KN_EINVAL,
        kn_noise_handshake_new(
            &hs, (enum kn_noise_pattern)9, KN_NOISE_INITIATOR, NULL, 0, NULL, NULL, k));
    enum kn_noise_pattern p;
    assert_rc(KN_ENOTFOUND, kn_noise_pattern_from_name("Noise_XXpsk0_25519_AESGCM_SHA256", &p));
    assert_rc(0, kn_noise_pattern_from_name("Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b", &p));
    assert_int_equal(p, KN_NOISE_XXPSK0);
    kn_noise_handshake_free(NULL);
    kn_noise_cipher_free(NULL);
}

int main(void)
{
    if (kn_crypto_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonce_layout),
        cmocka_unit_test(test_hmac_hkdf_known_answers),
        cmocka_unit_test(test_rekey),
        cmocka_unit_test(test_reserved_nonce),
        cmocka_unit_test(test_transport_limits),
        cmocka_unit_test(test_handshake_turns_and_limits),
        cmocka_unit_test(test_full_knoten_handshake),
        cmocka_unit_test(test_low_order_keys),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
