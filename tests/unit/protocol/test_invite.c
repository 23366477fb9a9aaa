/*
 * Invite codes: round trip, every single-character substitution caught by
 * the checksum, truncation, case and e-mail mangling tolerated, expiry,
 * strict limits, and the distinct errors a person gets for each mistake.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "crypto.h"
#include "invite.h"

#define NOW 1800000000000ull

static void sample(kn_invite *inv, uint32_t naddrs, uint32_t secret_len)
{
    memset(inv, 0, sizeof *inv);
    for (int i = 0; i < 32; i++) {
        inv->network_key[i] = (uint8_t)(0xa0 + i);
        inv->inviter[i] = (uint8_t)(7 * i + 1);
    }
    static const char *const addrs[] = { "knoten.musterstadt.de:8471", "192.0.2.7:8471",
        "[2001:db8::7]:8471", "knoten.kreis-beispiel.de:65535" };
    inv->naddrs = naddrs;
    for (uint32_t i = 0; i < naddrs; i++)
        strcpy(inv->addrs[i], addrs[i]);
    inv->secret_len = secret_len;
    for (uint32_t i = 0; i < secret_len; i++)
        inv->secret[i] = (uint8_t)(0x55 ^ i);
    inv->expires_ms = NOW + 7 * 86400000ull;
}

static void assert_same(const kn_invite *a, const kn_invite *b)
{
    assert_memory_equal(a->network_key, b->network_key, 32);
    assert_memory_equal(a->inviter, b->inviter, 32);
    assert_int_equal(a->naddrs, b->naddrs);
    for (uint32_t i = 0; i < a->naddrs; i++)
        assert_string_equal(a->addrs[i], b->addrs[i]);
    assert_int_equal(a->secret_len, b->secret_len);
    assert_memory_equal(a->secret, b->secret, a->secret_len);
    assert_int_equal(a->expires_ms, b->expires_ms);
}

static int decode(kn_invite *out, const char *text)
{
    return kn_invite_decode(out, text, strlen(text), NOW, NULL);
}

static void test_round_trip(void **state)
{
    (void)state;
    assert_int_equal(kn_crypto_init(), 0);
    for (uint32_t na = 1; na <= KN_INVITE_ADDRS_MAX; na++) {
        for (uint32_t sl = KN_INVITE_SECRET_MIN; sl <= KN_INVITE_SECRET_MAX; sl += 8) {
            kn_invite a, b;
            char text[KN_INVITE_TEXT_MAX];
            size_t len;
            sample(&a, na, sl);
            assert_int_equal(kn_invite_encode(&a, text, sizeof text, &len), 0);
            assert_int_equal(strlen(text), len);
            assert_true(strncmp(text, "knoten1-", 8) == 0);
            /* Only the alphabet and the dashes between groups of four. */
            for (size_t i = 8; i < len; i++)
                assert_non_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ-", text[i]));
            assert_int_equal(decode(&b, text), 0);
            assert_same(&a, &b);
            kn_invite_wipe(&b);
            for (size_t i = 0; i < sizeof b; i++)
                assert_int_equal(((uint8_t *)&b)[i], 0);
        }
    }
}

/* The largest invite fits the advertised text size exactly. */
static void test_largest(void **state)
{
    (void)state;
    kn_invite a, b;
    char text[KN_INVITE_TEXT_MAX];
    size_t len;
    sample(&a, KN_INVITE_ADDRS_MAX, KN_INVITE_SECRET_MAX);
    for (int i = 0; i < KN_INVITE_ADDRS_MAX; i++) {
        memset(a.addrs[i], 'h', KN_INVITE_ADDR_MAX - 6);
        strcpy(a.addrs[i] + KN_INVITE_ADDR_MAX - 6, ":65535");
    }
    a.expires_ms = UINT64_MAX;
    uint8_t payload[KN_INVITE_PAYLOAD_MAX];
    size_t plen;
    assert_int_equal(kn_invite_payload_encode(&a, payload, sizeof payload, &plen), 0);
    assert_int_equal(plen, KN_INVITE_PAYLOAD_MAX);
    assert_int_equal(kn_invite_encode(&a, text, sizeof text, &len), 0);
    assert_int_equal(len + 1, KN_INVITE_TEXT_MAX);
    assert_int_equal(kn_invite_encode(&a, text, sizeof text - 1, &len), KN_ETOOBIG);
    assert_int_equal(kn_invite_decode(&b, text, strlen(text), NOW, NULL), 0);
    assert_same(&a, &b);
}

static void test_every_substitution_detected(void **state)
{
    (void)state;
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    kn_invite a, b;
    char text[KN_INVITE_TEXT_MAX];
    size_t len, tried = 0;
    sample(&a, 2, 16);
    assert_int_equal(kn_invite_encode(&a, text, sizeof text, &len), 0);
    for (size_t i = 8; i < len; i++) {
        if (text[i] == '-')
            continue;
        char orig = text[i];
        for (const char *c = alphabet; *c; c++) {
            if (*c == orig)
                continue;
            text[i] = *c;
            int rc = decode(&b, text);
            if (rc != KN_ECORRUPT)
                fail_msg("substituting %c for %c at %zu: %s", *c, orig, i, kn_errname(rc));
            tried++;
        }
        text[i] = orig;
    }
    assert_true(tried > 31 * 100);
    /* Two adjacent characters swapped are caught as well. */
    for (size_t i = 8; i + 1 < len; i++) {
        if (text[i] == '-' || text[i + 1] == '-' || text[i] == text[i + 1])
            continue;
        char x = text[i];
        text[i] = text[i + 1];
        text[i + 1] = x;
        assert_int_equal(decode(&b, text), KN_ECORRUPT);
        text[i + 1] = text[i];
        text[i] = x;
    }
    assert_int_equal(decode(&b, text), 0);
}

static void test_truncation_and_extension(void **state)
{
    (void)state;
    kn_invite a, b;
    char text[KN_INVITE_TEXT_MAX + 8];
    size_t len;
    sample(&a, 1, 24);
    assert_int_equal(kn_invite_encode(&a, text, sizeof text, &len), 0);
    for (size_t cut = 0; cut < len; cut++) {
        int rc = kn_invite_decode(&b, text, cut, NOW, NULL);
        if (cut < 8)
            assert_int_equal(rc, KN_EINVAL); /* not even the prefix */
        else if (rc != KN_ECORRUPT)
            fail_msg("code cut to %zu of %zu characters: %s", cut, len, kn_errname(rc));
    }
    /* One character too many (a stray letter at the end) is a typo too. */
    strcat(text, "A");
    assert_int_equal(decode(&b, text), KN_ECORRUPT);
}

static void test_email_mangling_tolerated(void **state)
{
    (void)state;
    kn_invite a, b;
    char text[KN_INVITE_TEXT_MAX], mangled[4 * KN_INVITE_TEXT_MAX];
    size_t len;
    sample(&a, 2, 32);
    assert_int_equal(kn_invite_encode(&a, text, sizeof text, &len), 0);

    /* Lower case, wrapped at 40 columns with CRLF and a quoted-reply prefix, NBSPs. */
    size_t m = 0;
    memcpy(mangled + m, "  \r\n", 4);
    m += 4;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        mangled[m++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        if (i % 40 == 39) {
            memcpy(mangled + m, "=\r\n> ", 5);
            m += 5;
        }
        if (i == 20) {
            memcpy(mangled + m, "\xc2\xa0\xe2\x80\x8b", 5); /* no-break space, zero-width */
            m += 5;
        }
    }
    memcpy(mangled + m, "\n\n", 2);
    m += 2;
    assert_int_equal(kn_invite_decode(&b, mangled, m, NOW, NULL), 0);
    assert_same(&a, &b);

    /* Crockford: O is read as 0, I and L as 1. */
    char confusable[KN_INVITE_TEXT_MAX];
    strcpy(confusable, text);
    bool changed = false;
    for (size_t i = 8; i < len; i++) {
        if (confusable[i] == '0') {
            confusable[i] = 'O';
            changed = true;
        } else if (confusable[i] == '1') {
            confusable[i] = (i & 1) ? 'l' : 'I';
            changed = true;
        }
    }
    assert_true(changed);
    assert_int_equal(decode(&b, confusable), 0);
    assert_same(&a, &b);

    /* A character no code can hold is reported with its position. */
    kn_invite_problem p;
    strcpy(confusable, text);
    confusable[30] = 'U';
    assert_int_equal(kn_invite_decode(&b, confusable, len, NOW, &p), KN_ECORRUPT);
    assert_int_equal(p.pos, 30);
    assert_int_equal(p.bad_char, 'U');
}

static void test_expiry(void **state)
{
    (void)state;
    kn_invite a, b;
    char text[KN_INVITE_TEXT_MAX];
    size_t len;
    sample(&a, 1, 16);
    a.expires_ms = NOW + 1000;
    assert_int_equal(kn_invite_encode(&a, text, sizeof text, &len), 0);
    assert_int_equal(kn_invite_decode(&b, text, len, NOW + 999, NULL), 0);
    assert_int_equal(kn_invite_decode(&b, text, len, NOW + 1000, NULL), KN_EEXPIRED);
    assert_int_equal(b.expires_ms, NOW + 1000); /* filled, so the caller can say when */
    kn_invite_wipe(&b);
}

static void test_not_a_code(void **state)
{
    (void)state;
    kn_invite b;
    assert_int_equal(decode(&b, ""), KN_EINVAL);
    assert_int_equal(decode(&b, "hello"), KN_EINVAL);
    assert_int_equal(decode(&b, "knoten1"), KN_EINVAL);
    assert_int_equal(decode(&b, "knotenX-ABCD"), KN_EINVAL);
    assert_int_equal(decode(&b, "knoten2-ABCD-EFGH"), KN_EVERSION);
    assert_int_equal(decode(&b, "KNOTEN1-ABCD"), KN_ECORRUPT); /* too short to hold anything */
    char *big = malloc(KN_INVITE_INPUT_MAX + 2);
    assert_non_null(big);
    memset(big, 'A', KN_INVITE_INPUT_MAX + 1);
    memcpy(big, "knoten1-", 8);
    assert_int_equal(kn_invite_decode(&b, big, KN_INVITE_INPUT_MAX + 1, NOW, NULL), KN_ETOOBIG);
    assert_int_equal(kn_invite_decode(&b, big, KN_INVITE_INPUT_MAX, NOW, NULL), KN_ETOOBIG);
    free(big);
    assert_non_null(strstr(kn_invite_strerror(KN_ECORRUPT), "mistyped"));
    assert_non_null(strstr(kn_invite_strerror(KN_EEXPIRED), "expired"));
}

/* Writes a payload with a valid checksum around arbitrary content. */
static void wrap(char *text, size_t cap, const uint8_t *payload, size_t n)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint8_t bytes[KN_INVITE_PAYLOAD_MAX + 8], h[32];
    memcpy(bytes, payload, n);
    kn_blake2b(h, 32, payload, n);
    memcpy(bytes + n, h, 4);
    n += 4;
    size_t pos = 0;
    uint32_t acc = 0;
    int bits = 0;
    pos += (size_t)snprintf(text, cap, "knoten1-");
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | bytes[i];
        bits += 8;
        while (bits >= 5) {
            text[pos++] = alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits)
        text[pos++] = alphabet[(acc << (5 - bits)) & 31];
    text[pos] = 0;
}

static void test_strict_payload(void **state)
{
    (void)state;
    kn_invite a, b;
    char text[KN_INVITE_TEXT_MAX + 64];
    uint8_t p[KN_INVITE_PAYLOAD_MAX + 16];
    size_t n;
    sample(&a, 1, 16);
    assert_int_equal(kn_invite_payload_encode(&a, p, sizeof p, &n), 0);

    /* A correct checksum over content that breaks the format is not a typo. */
    wrap(text, sizeof text, p, n);
    assert_int_equal(decode(&b, text), 0);
    p[n] = 0; /* trailing byte */
    wrap(text, sizeof text, p, n + 1);
    assert_int_equal(decode(&b, text), KN_ESCHEMA);
    p[1] = 2; /* version 2 */
    wrap(text, sizeof text, p, n);
    assert_int_equal(decode(&b, text), KN_EVERSION);
    p[1] = 1;

    /* Limits refused on encode. */
    kn_invite c = a;
    c.naddrs = 0;
    assert_int_equal(kn_invite_encode(&c, text, sizeof text, &n), KN_EINVAL);
    c = a;
    c.secret_len = 15;
    assert_int_equal(kn_invite_encode(&c, text, sizeof text, &n), KN_EINVAL);
    c = a;
    strcpy(c.addrs[0], "no port");
    assert_int_equal(kn_invite_encode(&c, text, sizeof text, &n), KN_EINVAL);
    strcpy(c.addrs[0], "host:");
    assert_int_equal(kn_invite_encode(&c, text, sizeof text, &n), KN_EINVAL);
    strcpy(c.addrs[0], "host:123456");
    assert_int_equal(kn_invite_encode(&c, text, sizeof text, &n), KN_EINVAL);

    /* A non-canonical header with a correct checksum is refused. */
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    kn_mp_write_array(&o, 6);
    kn_mp_write_raw(&o, (const uint8_t *)"\xcc\x01", 2); /* uint8 1: not the shortest form */
    kn_mp_write_raw(&o, p + 2, n - 2);
    assert_int_equal(kn_mp_out_error(&o), 0);
    wrap(text, sizeof text, o.buf, o.len);
    assert_int_equal(decode(&b, text), KN_ESCHEMA);
    kn_mp_out_free(&o);
}

static void test_secret_hash(void **state)
{
    (void)state;
    uint8_t s[16] = { 1 }, h1[32], h2[32];
    kn_invite_secret_hash(h1, s, sizeof s);
    kn_invite_secret_hash(h2, s, sizeof s);
    assert_memory_equal(h1, h2, 32);
    s[15] = 1;
    kn_invite_secret_hash(h2, s, sizeof s);
    assert_memory_not_equal(h1, h2, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_largest),
        cmocka_unit_test(test_every_substitution_detected),
        cmocka_unit_test(test_truncation_and_extension),
        cmocka_unit_test(test_email_mangling_tolerated),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_not_a_code),
        cmocka_unit_test(test_strict_payload),
        cmocka_unit_test(test_secret_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
