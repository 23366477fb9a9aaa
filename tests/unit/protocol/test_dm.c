/*
 * Direct messages (protocol/dm.c): the recipient and the sender can open a
 * box, nobody else can, nothing tampered opens, and the plaintext inside is
 * held to its canonical form and bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "crypto.h"
#include "dm.h"
#include "test_support.h"

typedef struct key {
    uint8_t pk[32], sk[64];
} key;

static void keygen(key *k, uint8_t b)
{
    uint8_t seed[32];
    memset(seed, b, sizeof seed);
    kn_sign_keypair_from_seed(k->pk, k->sk, seed);
}

static const uint8_t nonce[KN_BOX_NONCE]
    = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24 };

static bool contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return true;
    return false;
}

static int setup(void **state)
{
    (void)state;
    return kn_crypto_init();
}

static void seal(const kn_dm_message *m, const key *from, const key *to, uint8_t **box, size_t *len)
{
    assert_rc(0, kn_dm_seal(m, nonce, from->sk, to->pk, box, len));
}

static void test_roundtrip(void **state)
{
    (void)state;
    key a, b, c;
    keygen(&a, 1);
    keygen(&b, 2);
    keygen(&c, 3);
    const char *body = "Wie handhaben Sie die Eignungsnachweise? Grüße aus Süd";
    kn_dm_message m = { "Vergabe", 7, body, strlen(body) }, got;
    uint8_t *box, *plain;
    size_t len, plen;
    seal(&m, &a, &b, &box, &len);
    assert_memory_equal(box, nonce, KN_BOX_NONCE);
    assert_false(contains(box, len, "Eignungsnachweise"));

    /* The recipient, with the author's key. */
    assert_rc(0, kn_dm_open(box, len, b.sk, a.pk, &plain, &plen, &got));
    assert_int_equal(got.body_len, strlen(body));
    assert_memory_equal(got.body, body, got.body_len);
    assert_int_equal(got.subject_len, 7);
    assert_memory_equal(got.subject, "Vergabe", 7);
    assert_int_equal(len, KN_BOX_NONCE + KN_BOX_TAG + plen);
    kn_dm_plain_free(plain, plen);
    /* The sender, with the recipient's key: the same shared secret. */
    assert_rc(0, kn_dm_open(box, len, a.sk, b.pk, &plain, &plen, &got));
    assert_memory_equal(got.body, body, got.body_len);
    kn_dm_plain_free(plain, plen);
    /* Anybody else, or the recipient told the wrong author: nothing. */
    assert_rc(KN_ECRYPTO, kn_dm_open(box, len, c.sk, a.pk, &plain, &plen, &got));
    assert_rc(KN_ECRYPTO, kn_dm_open(box, len, c.sk, b.pk, &plain, &plen, &got));
    assert_rc(KN_ECRYPTO, kn_dm_open(box, len, b.sk, c.pk, &plain, &plen, &got));
    assert_null(plain);
    assert_null(got.body);

    /* Every single flipped bit, in the nonce, the ciphertext or the tag, is refused. */
    for (size_t i = 0; i < len; i++) {
        box[i] ^= 0x01;
        assert_rc(KN_ECRYPTO, kn_dm_open(box, len, b.sk, a.pk, &plain, &plen, &got));
        box[i] ^= 0x01;
    }
    free(box);

    /* Without a subject; a fresh nonce makes a different box of the same message. */
    kn_dm_message m2 = { NULL, 0, "x", 1 };
    uint8_t *box2, n2[KN_BOX_NONCE];
    size_t len2;
    seal(&m2, &a, &b, &box, &len);
    memset(n2, 0xee, sizeof n2);
    assert_rc(0, kn_dm_seal(&m2, n2, a.sk, b.pk, &box2, &len2));
    assert_int_equal(len, len2);
    assert_memory_not_equal(box + KN_BOX_NONCE, box2 + KN_BOX_NONCE, len - KN_BOX_NONCE);
    assert_rc(0, kn_dm_open(box2, len2, b.sk, a.pk, &plain, &plen, &got));
    assert_null(got.subject);
    kn_dm_plain_free(plain, plen);
    free(box);
    free(box2);
}

static void test_seal_bounds(void **state)
{
    (void)state;
    key a, b;
    keygen(&a, 1);
    keygen(&b, 2);
    uint8_t *box = NULL;
    size_t len;
    char *big = malloc(KN_DM_BODY_MAX + 2);
    memset(big, 'a', KN_DM_BODY_MAX + 1);
    big[KN_DM_BODY_MAX + 1] = 0;
    kn_dm_message m = { NULL, 0, big, KN_DM_BODY_MAX };
    assert_rc(0, kn_dm_seal(&m, nonce, a.sk, b.pk, &box, &len));
    assert_true(len <= KN_DM_BOX_MAX);
    free(box);
    m.body_len = KN_DM_BODY_MAX + 1;
    assert_rc(KN_ESCHEMA, kn_dm_seal(&m, nonce, a.sk, b.pk, &box, &len));
    m.body_len = 0;
    assert_rc(KN_ESCHEMA, kn_dm_seal(&m, nonce, a.sk, b.pk, &box, &len));
    m = (kn_dm_message) { big, KN_DM_SUBJECT_MAX + 1, "x", 1 };
    assert_rc(KN_ESCHEMA, kn_dm_seal(&m, nonce, a.sk, b.pk, &box, &len));
    m = (kn_dm_message) { NULL, 0, "\xff\xfe", 2 };
    assert_rc(KN_ESCHEMA, kn_dm_seal(&m, nonce, a.sk, b.pk, &box, &len));
    assert_null(box);
    free(big);
}

/* A literal's bytes and length, embedded NULs included. */
#define P(lit) (const uint8_t *)(lit), sizeof(lit) - 1

/* A box around arbitrary plaintext bytes, as a hostile sender could make one. */
static size_t raw_box(
    uint8_t *out, const uint8_t *plain, size_t plen, const key *from, const key *to)
{
    uint8_t xsk[32], xpk[32];
    assert_rc(0, kn_sign_sk_to_x25519(xsk, from->sk));
    assert_rc(0, kn_sign_pk_to_x25519(xpk, to->pk));
    memcpy(out, nonce, KN_BOX_NONCE);
    assert_rc(0, kn_box_seal(out + KN_BOX_NONCE, plain, plen, nonce, xpk, xsk));
    return KN_BOX_NONCE + plen + KN_BOX_TAG;
}

static void test_open_bounds(void **state)
{
    (void)state;
    key a, b;
    keygen(&a, 1);
    keygen(&b, 2);
    uint8_t box[256], *plain = NULL;
    size_t plen;
    kn_dm_message got;

    /* Hostile plaintexts: all authentic, all refused by the reader. */
    struct {
        const char *what;
        const uint8_t *p;
        size_t n;
    } bad[] = {
        { "empty body",
            P("\x81\xa4"
              "body\xa0") },
        { "no body", P("\x81\xa7subject\xa1x") },
        { "keys out of order",
            P("\x82\xa7subject\xa1x\xa4"
              "body\xa1y") },
        { "unknown key",
            P("\x82\xa4"
              "body\xa1y\xa4zzzz\xa1x") },
        { "trailing bytes",
            P("\x81\xa4"
              "body\xa1y\x00") },
        { "body not a string",
            P("\x81\xa4"
              "body\x01\x00\x00\x00\x00") },
        { "not a map",
            P("\x92\xa4"
              "body\xa1y\x00\x00") },
        { "invalid UTF-8",
            P("\x81\xa4"
              "body\xa2\xc3\x28") },
        { "non-canonical length",
            P("\x81\xa4"
              "body\xd9\x01y") },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = raw_box(box, bad[i].p, bad[i].n, &a, &b);
        int rc = kn_dm_open(box, n, b.sk, a.pk, &plain, &plen, &got);
        if (rc != KN_ESCHEMA && rc != KN_ETRUNC)
            fail_msg("%s: got %s", bad[i].what, kn_errname(rc));
        assert_null(plain);
    }
    /* The smallest valid one opens. */
    size_t n = raw_box(box,
        P("\x81\xa4"
          "body\xa1y"),
        &a, &b);
    assert_rc(0, kn_dm_open(box, n, b.sk, a.pk, &plain, &plen, &got));
    kn_dm_plain_free(plain, plen);

    /* Sizes outside the schema's box are refused before any decryption. */
    uint8_t *huge = calloc(1, KN_DM_BOX_MAX + 1);
    assert_rc(KN_ETOOBIG, kn_dm_open(huge, KN_DM_BOX_MAX + 1, b.sk, a.pk, &plain, &plen, &got));
    assert_rc(
        KN_ETRUNC, kn_dm_open(huge, KN_BOX_NONCE + KN_BOX_TAG, b.sk, a.pk, &plain, &plen, &got));
    assert_rc(KN_ECRYPTO, kn_dm_open(huge, KN_DM_BOX_MAX, b.sk, a.pk, &plain, &plen, &got));
    free(huge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_seal_bounds),
        cmocka_unit_test(test_open_bounds),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
