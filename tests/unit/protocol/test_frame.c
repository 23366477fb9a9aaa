/*
 * Frames, fragments and the secure session: streams cut at seeded random
 * boundaries, oversize and garbage input, and the session's handshake,
 * identity checks, failures and rekeying, two sessions wired back to back.
 * Every random test prints its seed on failure.
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
#include "frame.h"
#include "identity.h"
#include "noise.h"

static const uint64_t NOW = 1700000000000ull;
static const uint64_t DAY = 86400000ull;

/* xorshift64*: the tests' only randomness, from an explicit seed. */
static uint64_t rnd(uint64_t *st)
{
    uint64_t x = *st;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static size_t rnd_below(uint64_t *st, size_t n)
{
    return (size_t)(rnd(st) % n);
}

static void fill(uint8_t *b, size_t n, uint64_t *st)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rnd(st);
}

/* ---- frame reader ---- */

static void test_reader_random_chunks(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        uint64_t st = seed * 0x9E3779B97F4A7C15ull;
        enum { FRAMES = 40 };
        size_t lens[FRAMES], total = 0;
        for (int i = 0; i < FRAMES; i++) {
            /* Mostly small frames, some near and at the limit. */
            size_t r = rnd_below(&st, 10);
            lens[i] = r < 6 ? 1 + rnd_below(&st, 300)
                : r < 9     ? 1 + rnd_below(&st, KN_FRAME_MAX)
                            : KN_FRAME_MAX;
            total += 2 + lens[i];
        }
        uint8_t *stream = malloc(total);
        assert_non_null(stream);
        size_t pos = 0;
        for (int i = 0; i < FRAMES; i++) {
            kn_frame_header(stream + pos, lens[i]);
            fill(stream + pos + 2, lens[i], &st);
            pos += 2 + lens[i];
        }
        kn_frame_reader *r;
        assert_rc(0, kn_frame_reader_new(&r, 0));
        int got = 0;
        size_t expect_pos = 0;
        pos = 0;
        while (pos < total) {
            /* Chunks of 1 byte up to 100 KiB, as a socket might deliver. */
            size_t chunk
                = rnd_below(&st, 4) == 0 ? 1 + rnd_below(&st, 3) : 1 + rnd_below(&st, 100000);
            if (chunk > total - pos)
                chunk = total - pos;
            const uint8_t *in = stream + pos;
            size_t len = chunk;
            while (len > 0) {
                const uint8_t *f;
                size_t used, flen;
                int rc = kn_frame_reader_next(r, in, len, &used, &f, &flen);
                if (rc < 0)
                    fail_msg(
                        "seed %llu: reader error %s", (unsigned long long)seed, kn_errname(rc));
                in += used;
                len -= used;
                if (rc == 0) {
                    assert_int_equal(len, 0);
                    break;
                }
                if (flen != lens[got] || memcmp(f, stream + expect_pos + 2, flen) != 0)
                    fail_msg("seed %llu: frame %d differs (len %zu, expected %zu)",
                        (unsigned long long)seed, got, flen, lens[got]);
                expect_pos += 2 + flen;
                got++;
            }
            pos += chunk;
        }
        if (got != FRAMES)
            fail_msg("seed %llu: %d frames, expected %d", (unsigned long long)seed, got, FRAMES);
        assert_int_equal(kn_frame_reader_buffered(r), 0);
        kn_frame_reader_free(r);
        free(stream);
    }
}

static void test_reader_rejects(void **state)
{
    (void)state;
    kn_frame_reader *r;
    const uint8_t *f;
    size_t used, flen;
    /* A zero-length frame. */
    assert_rc(0, kn_frame_reader_new(&r, 0));
    static const uint8_t zero[] = { 0, 0, 1, 2, 3 };
    assert_rc(KN_EPROTO, kn_frame_reader_next(r, zero, sizeof zero, &used, &f, &flen));
    /* Errors are final. */
    static const uint8_t ok[] = { 0, 1, 7 };
    assert_rc(KN_EPROTO, kn_frame_reader_next(r, ok, sizeof ok, &used, &f, &flen));
    kn_frame_reader_free(r);
    /* Longer than the configured limit, noticed from the header alone. */
    assert_rc(0, kn_frame_reader_new(&r, 100));
    static const uint8_t big[] = { 0, 101 };
    assert_rc(0, kn_frame_reader_next(r, big, 1, &used, &f, &flen));
    assert_int_equal(used, 1);
    assert_rc(KN_ETOOBIG, kn_frame_reader_next(r, big + 1, 1, &used, &f, &flen));
    kn_frame_reader_free(r);
    assert_rc(KN_EINVAL, kn_frame_reader_new(&r, KN_FRAME_MAX + 1));
    kn_frame_reader_free(NULL);
}

/* ---- fragments ---- */

static void test_assembler(void **state)
{
    (void)state;
    kn_msg_assembler *a;
    const uint8_t *msg;
    size_t mlen;
    assert_rc(0, kn_msg_assembler_new(&a, 10));
    static const uint8_t one[] = { 0x00, 'h', 'i' };
    assert_rc(1, kn_msg_assembler_push(a, one, sizeof one, &msg, &mlen));
    assert_int_equal(mlen, 2);
    assert_memory_equal(msg, "hi", 2);
    static const uint8_t empty[] = { 0x00 };
    assert_rc(1, kn_msg_assembler_push(a, empty, 1, &msg, &mlen));
    assert_int_equal(mlen, 0);
    static const uint8_t p1[] = { 0x01, 'a', 'b', 'c' }, p2[] = { 0x01, 'd' }, p3[] = { 0x00 };
    assert_rc(0, kn_msg_assembler_push(a, p1, sizeof p1, &msg, &mlen));
    assert_rc(0, kn_msg_assembler_push(a, p2, sizeof p2, &msg, &mlen));
    assert_rc(1, kn_msg_assembler_push(a, p3, sizeof p3, &msg, &mlen));
    assert_int_equal(mlen, 4);
    assert_memory_equal(msg, "abcd", 4);
    /* Exactly at the limit, in pieces. */
    static const uint8_t f5[] = { 0x01, 1, 2, 3, 4, 5 }, l5[] = { 0x00, 6, 7, 8, 9, 10 };
    assert_rc(0, kn_msg_assembler_push(a, f5, sizeof f5, &msg, &mlen));
    assert_rc(1, kn_msg_assembler_push(a, l5, sizeof l5, &msg, &mlen));
    assert_int_equal(mlen, 10);
    /* One byte over the limit. */
    static const uint8_t l6[] = { 0x00, 6, 7, 8, 9, 10, 11 };
    assert_rc(0, kn_msg_assembler_push(a, f5, sizeof f5, &msg, &mlen));
    assert_rc(KN_ELIMIT, kn_msg_assembler_push(a, l6, sizeof l6, &msg, &mlen));
    assert_rc(KN_ELIMIT, kn_msg_assembler_push(a, one, sizeof one, &msg, &mlen));
    kn_msg_assembler_free(a);

    /* A single frame over the limit. */
    uint8_t big[12] = { 0x00 };
    assert_rc(0, kn_msg_assembler_new(&a, 10));
    assert_rc(KN_ELIMIT, kn_msg_assembler_push(a, big, sizeof big, &msg, &mlen));
    kn_msg_assembler_free(a);

    /* Protocol violations: empty plaintext, unknown flag, empty continuation. */
    static const uint8_t bad_flag[] = { 0x02, 'x' }, empty_more[] = { 0x01 };
    assert_rc(0, kn_msg_assembler_new(&a, 0));
    assert_rc(KN_EPROTO, kn_msg_assembler_push(a, one, 0, &msg, &mlen));
    kn_msg_assembler_free(a);
    assert_rc(0, kn_msg_assembler_new(&a, 0));
    assert_rc(KN_EPROTO, kn_msg_assembler_push(a, bad_flag, sizeof bad_flag, &msg, &mlen));
    kn_msg_assembler_free(a);
    assert_rc(0, kn_msg_assembler_new(&a, 0));
    assert_rc(KN_EPROTO, kn_msg_assembler_push(a, empty_more, 1, &msg, &mlen));
    kn_msg_assembler_free(a);

    assert_int_equal(kn_msg_fragments(0), 1);
    assert_int_equal(kn_msg_fragments(KN_FRAME_MAX_CHUNK), 1);
    assert_int_equal(kn_msg_fragments(KN_FRAME_MAX_CHUNK + 1), 2);
}

/* ---- sessions ---- */

struct node_keys {
    uint8_t id_pk[32], id_sk[64], x_priv[32], x_pub[32];
    kn_identity_statement st;
};

static struct node_keys node_keys(uint8_t seedbyte, uint64_t expiry)
{
    struct node_keys k;
    uint8_t seed[32];
    memset(seed, seedbyte, sizeof seed);
    kn_sign_keypair_from_seed(k.id_pk, k.id_sk, seed);
    memset(k.x_priv, seedbyte ^ 0x77, sizeof k.x_priv);
    kn_x25519_base(k.x_pub, k.x_priv);
    kn_identity_sign(&k.st, k.id_pk, k.id_sk, k.x_pub, expiry);
    return k;
}

static const uint8_t NETKEY[32] = { 'k', 'n', 'o', 't', 'e', 'n', ' ', 'n', 'e', 't' };

static kn_session *session(
    enum kn_noise_role role, const struct node_keys *k, const uint8_t netkey[32], uint8_t eph_byte)
{
    kn_session *s;
    uint8_t eph[32];
    memset(eph, eph_byte, sizeof eph);
    assert_rc(0, kn_session_new(&s, role, netkey, k->x_priv, &k->st, eph, NOW));
    return s;
}

/* Moves all pending output of from into to, in random chunks; returns the bytes moved. */
static size_t pump_one(kn_session *from, kn_session *to, uint64_t *st, uint64_t now)
{
    const uint8_t *b;
    size_t len, moved = 0;
    kn_session_pending_output(from, &b, &len);
    if (len == 0)
        return 0;
    /* Feed may add output to `from` only via `to`; copy first so b may move. */
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, b, len);
    kn_session_consume_output(from, len);
    while (moved < len) {
        size_t chunk = 1 + rnd_below(st, rnd_below(st, 2) ? 70000 : 50);
        if (chunk > len - moved)
            chunk = len - moved;
        int rc = kn_session_feed(to, copy + moved, chunk, now);
        if (rc < 0)
            break;
        moved += chunk;
    }
    free(copy);
    return len;
}

static void pump(kn_session *a, kn_session *b, uint64_t *st)
{
    while (pump_one(a, b, st, NOW) + pump_one(b, a, st, NOW) > 0)
        ;
}

struct msgs {
    size_t n;
    size_t lens[64];
    uint8_t *data[64];
};

static void drain(kn_session *s, struct msgs *out)
{
    const uint8_t *m;
    size_t len;
    while (kn_session_next_message(s, &m, &len) == 1) {
        assert_true(out->n < 64);
        out->lens[out->n] = len;
        out->data[out->n] = malloc(len ? len : 1);
        assert_non_null(out->data[out->n]);
        memcpy(out->data[out->n], m, len);
        out->n++;
    }
}

static void msgs_free(struct msgs *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->data[i]);
    m->n = 0;
}

static void test_session_round_trip(void **state)
{
    (void)state;
    struct node_keys ka = node_keys(1, NOW + DAY), kb = node_keys(2, NOW + DAY);
    static const size_t sizes[] = { 0, 1, 100, KN_FRAME_MAX_CHUNK - 1, KN_FRAME_MAX_CHUNK,
        KN_FRAME_MAX_CHUNK + 1, 200000, KN_FRAME_DEFAULT_MAX_MESSAGE };
    enum { NSIZES = sizeof sizes / sizeof sizes[0] };
    for (uint64_t seed = 1; seed <= 4; seed++) {
        uint64_t st = seed * 0x9E3779B97F4A7C15ull;
        kn_session *a = session(KN_NOISE_INITIATOR, &ka, NETKEY, 0x11);
        kn_session *b = session(KN_NOISE_RESPONDER, &kb, NETKEY, 0x22);
        assert_int_equal(kn_session_state(a), KN_SESSION_HANDSHAKING);
        assert_int_equal(kn_session_deadline(a), NOW + KN_SESSION_HANDSHAKE_TIMEOUT_MS);
        assert_null(kn_session_remote_identity(a));
        assert_rc(KN_ESTATE, kn_session_send(a, (const uint8_t *)"x", 1));
        assert_rc(0, kn_session_start(b)); /* a no-op for the responder */
        assert_rc(0, kn_session_start(a));
        assert_rc(KN_ESTATE, kn_session_start(a));
        pump(a, b, &st);
        if (kn_session_state(a) != KN_SESSION_ESTABLISHED
            || kn_session_state(b) != KN_SESSION_ESTABLISHED)
            fail_msg("seed %llu: not established (%s / %s)", (unsigned long long)seed,
                kn_errname(kn_session_error(a)), kn_errname(kn_session_error(b)));
        assert_int_equal(kn_session_deadline(a), UINT64_MAX);
        /* Each side knows the other's identity and static key. */
        const kn_identity_statement *ra = kn_session_remote_identity(a);
        const kn_identity_statement *rb = kn_session_remote_identity(b);
        assert_non_null(ra);
        assert_non_null(rb);
        assert_memory_equal(ra->identity, kb.id_pk, 32);
        assert_memory_equal(rb->identity, ka.id_pk, 32);
        uint8_t rs[32], ha[64], hb[64];
        assert_rc(0, kn_session_remote_static(a, rs));
        assert_memory_equal(rs, kb.x_pub, 32);
        assert_rc(0, kn_session_handshake_hash(a, ha));
        assert_rc(0, kn_session_handshake_hash(b, hb));
        assert_memory_equal(ha, hb, 64);

        /* Messages of every interesting size, both ways, in one burst. */
        uint8_t *payload = malloc(KN_FRAME_DEFAULT_MAX_MESSAGE);
        assert_non_null(payload);
        fill(payload, KN_FRAME_DEFAULT_MAX_MESSAGE, &st);
        for (int i = 0; i < NSIZES; i++) {
            assert_rc(0, kn_session_send(a, payload, sizes[i]));
            assert_rc(0, kn_session_send(b, payload + 1, sizes[NSIZES - 1 - i] - (i == 0)));
        }
        assert_rc(KN_ETOOBIG, kn_session_send(a, payload, KN_FRAME_DEFAULT_MAX_MESSAGE + 1));
        struct msgs ma = { 0 }, mb = { 0 };
        const uint8_t *b_out;
        size_t b_len;
        kn_session_pending_output(a, &b_out, &b_len);
        while (b_len > 0) {
            pump_one(a, b, &st, NOW);
            drain(b, &mb);
            pump_one(b, a, &st, NOW);
            drain(a, &ma);
            kn_session_pending_output(a, &b_out, &b_len);
        }
        pump(a, b, &st);
        drain(a, &ma);
        drain(b, &mb);
        assert_int_equal(mb.n, NSIZES);
        assert_int_equal(ma.n, NSIZES);
        for (int i = 0; i < NSIZES; i++) {
            assert_int_equal(mb.lens[i], sizes[i]);
            assert_memory_equal(mb.data[i], payload, sizes[i]);
            size_t want = sizes[NSIZES - 1 - i] - (i == 0);
            assert_int_equal(ma.lens[i], want);
            assert_memory_equal(ma.data[i], payload + 1, want);
        }
        msgs_free(&ma);
        msgs_free(&mb);
        free(payload);
        kn_session_free(a);
        kn_session_free(b);
    }
}

/* A max-size transport message: 65518 message bytes = 65519 plaintext = 65535 on the wire. */
static void test_session_max_frame(void **state)
{
    (void)state;
    uint64_t st = 99;
    struct node_keys ka = node_keys(1, NOW + DAY), kb = node_keys(2, NOW + DAY);
    kn_session *a = session(KN_NOISE_INITIATOR, &ka, NETKEY, 1);
    kn_session *b = session(KN_NOISE_RESPONDER, &kb, NETKEY, 2);
    assert_rc(0, kn_session_start(a));
    pump(a, b, &st);
    static uint8_t big[KN_FRAME_MAX_CHUNK];
    fill(big, sizeof big, &st);
    assert_rc(0, kn_session_send(a, big, sizeof big));
    size_t len;
    uint8_t *out = kn_session_take_output(a, &len);
    assert_non_null(out);
    assert_int_equal(len, 2 + 65535);
    assert_int_equal(out[0], 0xff);
    assert_int_equal(out[1], 0xff);
    assert_null(kn_session_take_output(a, &len));
    assert_int_equal(len, 0);
    assert_rc(0, kn_session_feed(b, out, 2 + 65535, NOW));
    free(out);
    const uint8_t *m;
    assert_int_equal(kn_session_next_message(b, &m, &len), 1);
    assert_int_equal(len, sizeof big);
    assert_memory_equal(m, big, sizeof big);
    assert_int_equal(kn_session_next_message(b, &m, &len), 0);
    kn_session_free(a);
    kn_session_free(b);
}

static void test_session_wrong_network_key(void **state)
{
    (void)state;
    uint64_t st = 5;
    struct node_keys ka = node_keys(1, NOW + DAY), kb = node_keys(2, NOW + DAY);
    uint8_t other[32];
    memcpy(other, NETKEY, 32);
    other[31] ^= 1;
    kn_session *a = session(KN_NOISE_INITIATOR, &ka, other, 1);
    kn_session *b = session(KN_NOISE_RESPONDER, &kb, NETKEY, 2);
    assert_rc(0, kn_session_start(a));
    pump_one(a, b, &st, NOW);
    assert_int_equal(kn_session_state(b), KN_SESSION_FAILED);
    assert_rc(KN_ECRYPTO, kn_session_error(b));
    const uint8_t *out;
    size_t len;
    kn_session_pending_output(b, &out, &len);
    assert_int_equal(len, 0); /* not even the responder's static key leaves */
    assert_rc(KN_ECRYPTO, kn_session_feed(b, (const uint8_t *)"xx", 2, NOW));
    assert_int_equal(kn_session_state(a), KN_SESSION_HANDSHAKING);
    assert_rc(KN_ETIMEOUT, kn_session_tick(a, NOW + KN_SESSION_HANDSHAKE_TIMEOUT_MS));
    assert_int_equal(kn_session_state(a), KN_SESSION_FAILED);
    kn_session_free(a);
    kn_session_free(b);
}

static void test_session_bad_identity(void **state)
{
    (void)state;
    uint64_t st = 7;
    /* An initiator whose statement expires before the responder checks it. */
    struct node_keys ka = node_keys(1, NOW + 5), kb = node_keys(2, NOW + DAY);
    kn_session *a = session(KN_NOISE_INITIATOR, &ka, NETKEY, 1);
    kn_session *b = session(KN_NOISE_RESPONDER, &kb, NETKEY, 2);
    assert_rc(0, kn_session_start(a));
    pump_one(a, b, &st, NOW);
    pump_one(b, a, &st, NOW);
    assert_int_equal(kn_session_state(a), KN_SESSION_ESTABLISHED);
    pump_one(a, b, &st, NOW + 5);
    assert_int_equal(kn_session_state(b), KN_SESSION_FAILED);
    assert_rc(KN_EEXPIRED, kn_session_error(b));
    assert_null(kn_session_remote_identity(b));
    kn_session_free(a);
    kn_session_free(b);

    /* A session refuses to start with a statement for another key, or an expired one. */
    struct node_keys kc = node_keys(3, NOW + DAY);
    kn_session *s;
    uint8_t eph[32] = { 9 };
    assert_rc(
        KN_EIDENTITY, kn_session_new(&s, KN_NOISE_INITIATOR, NETKEY, ka.x_priv, &kc.st, eph, NOW));
    assert_null(s);
    assert_rc(KN_EEXPIRED,
        kn_session_new(&s, KN_NOISE_INITIATOR, NETKEY, ka.x_priv, &ka.st, eph, NOW + 5));

    /*
     * A responder that has the network key but presents a statement signed for
     * another X25519 key: a raw Noise initiator plays the peer.
     */
    b = session(KN_NOISE_RESPONDER, &kb, NETKEY, 2);
    kn_noise_handshake *hs;
    uint8_t buf[KN_FRAME_MAX + 2], pl[KN_FRAME_MAX];
    size_t n, pn;
    assert_rc(0, kn_noise_handshake_new_knoten(&hs, KN_NOISE_INITIATOR, NETKEY, ka.x_priv, eph));
    assert_rc(0, kn_noise_handshake_write(hs, NULL, 0, buf + 2, KN_FRAME_MAX, &n));
    kn_frame_header(buf, n);
    assert_rc(0, kn_session_feed(b, buf, n + 2, NOW));
    const uint8_t *out;
    size_t len;
    kn_session_pending_output(b, &out, &len);
    assert_rc(0, kn_noise_handshake_read(hs, out + 2, len - 2, pl, sizeof pl, &pn));
    kn_session_consume_output(b, len);
    uint8_t enc[KN_IDENTITY_STATEMENT_MAX];
    size_t enc_len;
    assert_rc(0, kn_identity_encode(&kc.st, enc, sizeof enc, &enc_len));
    assert_rc(0, kn_noise_handshake_write(hs, enc, enc_len, buf + 2, KN_FRAME_MAX, &n));
    kn_frame_header(buf, n);
    assert_rc(KN_EIDENTITY, kn_session_feed(b, buf, n + 2, NOW));
    assert_int_equal(kn_session_state(b), KN_SESSION_FAILED);
    kn_noise_handshake_free(hs);
    kn_session_free(b);

    /* Garbage instead of a statement. */
    b = session(KN_NOISE_RESPONDER, &kb, NETKEY, 2);
    assert_rc(0, kn_noise_handshake_new_knoten(&hs, KN_NOISE_INITIATOR, NETKEY, ka.x_priv, eph));
    assert_rc(0, kn_noise_handshake_write(hs, NULL, 0, buf + 2, KN_FRAME_MAX, &n));
    kn_frame_header(buf, n);
    assert_rc(0, kn_session_feed(b, buf, n + 2, NOW));
    kn_session_pending_output(b, &out, &len);
    assert_rc(0, kn_noise_handshake_read(hs, out + 2, len - 2, pl, sizeof pl, &pn));
    assert_rc(
        0, kn_noise_handshake_write(hs, (const uint8_t *)"\x93", 1, buf + 2, KN_FRAME_MAX, &n));
    kn_frame_header(buf, n);
    assert_true(kn_session_feed(b, buf, n + 2, NOW) < 0);
    assert_int_equal(kn_session_state(b), KN_SESSION_FAILED);
    kn_noise_handshake_free(hs);
    kn_session_free(b);
}

static void established(kn_session **a, kn_session **b, uint64_t *st)
{
    struct node_keys ka = node_keys(1, NOW + DAY), kb = node_keys(2, NOW + DAY);
    *a = session(KN_NOISE_INITIATOR, &ka, NETKEY, 1);
    *b = session(KN_NOISE_RESPONDER, &kb, NETKEY, 2);
    assert_rc(0, kn_session_start(*a));
    pump(*a, *b, st);
    assert_int_equal(kn_session_state(*a), KN_SESSION_ESTABLISHED);
    assert_int_equal(kn_session_state(*b), KN_SESSION_ESTABLISHED);
}

static void test_session_garbage(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        uint64_t st = seed;
        kn_session *a, *b;
        established(&a, &b, &st);
        uint8_t junk[300];
        fill(junk, sizeof junk, &st);
        if (seed % 3 == 0) {
            junk[0] = 0;
            junk[1] = 0; /* a zero-length frame */
        }
        int rc = kn_session_feed(b, junk, 1 + rnd_below(&st, sizeof junk), NOW);
        if (rc == 0) {
            /* A partial frame; more junk completes it and then fails. */
            uint8_t more[65600];
            fill(more, sizeof more, &st);
            rc = kn_session_feed(b, more, sizeof more, NOW);
        }
        if (rc != KN_ECRYPTO && rc != KN_EPROTO)
            fail_msg("seed %llu: garbage gave %s", (unsigned long long)seed, kn_errname(rc));
        assert_int_equal(kn_session_state(b), KN_SESSION_FAILED);
        assert_rc(KN_ESTATE, kn_session_send(b, junk, 1));
        kn_session_free(a);
        kn_session_free(b);
    }
}

static void test_session_message_limit(void **state)
{
    (void)state;
    uint64_t st = 3;
    struct node_keys ka = node_keys(1, NOW + DAY), kb = node_keys(2, NOW + DAY);
    kn_session *a = session(KN_NOISE_INITIATOR, &ka, NETKEY, 1);
    kn_session *b = session(KN_NOISE_RESPONDER, &kb, NETKEY, 2);
    assert_rc(0, kn_session_set_max_message(b, 100000));
    assert_rc(0, kn_session_start(a));
    pump(a, b, &st);
    assert_rc(KN_ESTATE, kn_session_set_max_message(b, 5));
    uint8_t *big = calloc(1, 100001);
    assert_non_null(big);
    assert_rc(0, kn_session_send(a, big, 100000));
    pump(a, b, &st);
    const uint8_t *m;
    size_t len;
    assert_int_equal(kn_session_next_message(b, &m, &len), 1);
    assert_int_equal(len, 100000);
    assert_rc(0, kn_session_send(a, big, 100001));
    pump(a, b, &st);
    assert_rc(KN_ELIMIT, kn_session_error(b));
    free(big);
    kn_session_free(a);
    kn_session_free(b);
}

static void test_session_rekey(void **state)
{
    (void)state;
    uint64_t st = 11;
    kn_session *a, *b;
    established(&a, &b, &st);
    const uint8_t *m;
    size_t len;
    /* Explicit rekey on both sides, at the same point of both streams. */
    assert_rc(0, kn_session_rekey(a));
    assert_rc(0, kn_session_rekey(b));
    assert_rc(0, kn_session_send(a, (const uint8_t *)"after", 5));
    assert_rc(0, kn_session_send(b, (const uint8_t *)"rekey", 5));
    pump(a, b, &st);
    assert_int_equal(kn_session_next_message(b, &m, &len), 1);
    assert_memory_equal(m, "after", 5);
    assert_int_equal(kn_session_next_message(a, &m, &len), 1);
    assert_memory_equal(m, "rekey", 5);
    /* The automatic rekey after 65,536 messages keeps the two in step. */
    for (int i = 0; i < KN_NOISE_REKEY_INTERVAL + 10; i++) {
        uint8_t v[4] = { (uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), 0 };
        assert_rc(0, kn_session_send(a, v, 3));
        if (i % 1000 == 999) {
            pump(a, b, &st);
            while (kn_session_next_message(b, &m, &len) == 1)
                ;
        }
    }
    pump(a, b, &st);
    int last = -1;
    while (kn_session_next_message(b, &m, &len) == 1)
        last = m[0] | m[1] << 8 | m[2] << 16;
    assert_int_equal(last, KN_NOISE_REKEY_INTERVAL + 9);
    assert_int_equal(kn_session_state(b), KN_SESSION_ESTABLISHED);
    /* One-sided rekey: the peer cannot read on, and fails. */
    assert_rc(0, kn_session_rekey(a));
    assert_rc(0, kn_session_send(a, (const uint8_t *)"x", 1));
    pump(a, b, &st);
    assert_rc(KN_ECRYPTO, kn_session_error(b));
    kn_session_free(a);
    kn_session_free(b);
}

/*
 * A peer driven by hand: a bare Noise initiator that completes the knoten
 * handshake with a responder session and then writes transport frames of its
 * own choosing, including fragmentations kn_session_send never makes.
 */
struct raw_peer {
    kn_noise_cipher *tx, *rx;
};

static void raw_peer_connect(struct raw_peer *p, kn_session *b, const struct node_keys *ka)
{
    kn_noise_handshake *hs;
    uint8_t eph[32], frame[2 + KN_FRAME_MAX], payload[KN_FRAME_MAX], st[KN_IDENTITY_STATEMENT_MAX];
    size_t n, stlen;
    memset(eph, 0x5a, sizeof eph);
    assert_rc(0, kn_noise_handshake_new_knoten(&hs, KN_NOISE_INITIATOR, NETKEY, ka->x_priv, eph));
    assert_rc(0, kn_noise_handshake_write(hs, NULL, 0, frame + 2, KN_FRAME_MAX, &n)); /* msg 1 */
    kn_frame_header(frame, n);
    assert_rc(0, kn_session_feed(b, frame, 2 + n, NOW));
    const uint8_t *out;
    size_t olen;
    kn_session_pending_output(b, &out, &olen); /* msg 2, one frame */
    assert_true(olen > 2);
    assert_rc(0, kn_noise_handshake_read(hs, out + 2, olen - 2, payload, sizeof payload, &n));
    kn_session_consume_output(b, olen);
    assert_rc(0, kn_identity_encode(&ka->st, st, sizeof st, &stlen));
    assert_rc(0, kn_noise_handshake_write(hs, st, stlen, frame + 2, KN_FRAME_MAX, &n)); /* msg 3 */
    kn_frame_header(frame, n);
    assert_rc(0, kn_session_feed(b, frame, 2 + n, NOW));
    assert_int_equal(kn_session_state(b), KN_SESSION_ESTABLISHED);
    assert_rc(0, kn_noise_handshake_split(hs, &p->tx, &p->rx));
    kn_noise_handshake_free(hs);
}

/* Appends one transport frame: fragment byte flag, then n bytes of body. */
static size_t raw_frame(
    struct raw_peer *p, uint8_t *dst, uint8_t flag, const uint8_t *body, size_t n)
{
    uint8_t *plain = dst + 2;
    plain[0] = flag;
    if (n > 0)
        memcpy(plain + 1, body, n);
    assert_rc(0, kn_noise_cipher_encrypt(p->tx, NULL, 0, plain, 1 + n, plain));
    kn_frame_header(dst, 1 + n + KN_NOISE_TAG);
    return 2 + 1 + n + KN_NOISE_TAG;
}

/*
 * Every way a message can arrive is delivered intact and in order, however
 * the bytes are cut: one short frame (read in place from the arena), one
 * full-size frame and full-size-then-more (decrypted into the reassembly
 * buffer, which is handed out whole), short non-final fragments (the copying
 * route), and empty messages; also when the reader leaves messages unread
 * across feeds.
 */
static void test_session_fragment_routes(void **state)
{
    (void)state;
    struct node_keys ka = node_keys(1, NOW + DAY), kb = node_keys(2, NOW + DAY);
    enum { C = KN_FRAME_MAX_CHUNK, CAP = 8 * (2 + KN_FRAME_MAX) + 4096 };
    uint8_t *data = malloc(3 * C), *stream = malloc(CAP);
    assert_non_null(data);
    assert_non_null(stream);
    for (uint64_t seed = 1; seed <= 12; seed++) {
        uint64_t st = seed * 0x9E3779B97F4A7C15ull;
        fill(data, 3 * C, &st);
        kn_session *b = session(KN_NOISE_RESPONDER, &kb, NETKEY, 0x22);
        struct raw_peer p;
        raw_peer_connect(&p, b, &ka);
        /* Expected messages as (offset into data, length). */
        static const size_t want_off[] = { 0, 7, 0, 0, 100, 0, 5, 0 };
        static const size_t want_len[] = { 5, 0, C, C + 40, 6, 2 * C + 3, 0, 1 };
        enum { N = sizeof want_len / sizeof want_len[0] };
        size_t len = 0;
        len += raw_frame(&p, stream + len, KN_FRAME_FINAL, data, 5);
        len += raw_frame(&p, stream + len, KN_FRAME_FINAL, NULL, 0);
        len += raw_frame(&p, stream + len, KN_FRAME_FINAL, data, C);
        len += raw_frame(&p, stream + len, KN_FRAME_MORE, data, C);
        len += raw_frame(&p, stream + len, KN_FRAME_FINAL, data + C, 40);
        len += raw_frame(&p, stream + len, KN_FRAME_MORE, data + 100, 2);
        len += raw_frame(&p, stream + len, KN_FRAME_MORE, data + 102, 1);
        len += raw_frame(&p, stream + len, KN_FRAME_FINAL, data + 103, 3);
        len += raw_frame(&p, stream + len, KN_FRAME_MORE, data, C);
        len += raw_frame(&p, stream + len, KN_FRAME_MORE, data + C, 3);
        len += raw_frame(&p, stream + len, KN_FRAME_MORE, data + C + 3, C);
        len += raw_frame(&p, stream + len, KN_FRAME_FINAL, NULL, 0);
        len += raw_frame(&p, stream + len, KN_FRAME_FINAL, NULL, 0);
        len += raw_frame(&p, stream + len, KN_FRAME_FINAL, data, 1);
        assert_true(len <= CAP);
        size_t fed = 0, got = 0;
        while (got < N) {
            if (fed < len) {
                size_t chunk = 1 + rnd_below(&st, rnd_below(&st, 2) ? 150000 : 40);
                if (chunk > len - fed)
                    chunk = len - fed;
                int rc = kn_session_feed(b, stream + fed, chunk, NOW);
                if (rc < 0)
                    fail_msg("seed %llu: feed: %s", (unsigned long long)seed, kn_errname(rc));
                fed += chunk;
            }
            /* Sometimes read only one message, so some wait across feeds. */
            int budget = rnd_below(&st, 3) == 0 ? 1 : N;
            const uint8_t *m;
            size_t mlen;
            while (budget-- > 0 && kn_session_next_message(b, &m, &mlen) == 1) {
                assert_true(got < N);
                if (mlen != want_len[got])
                    fail_msg("seed %llu: message %zu: %zu bytes, expected %zu",
                        (unsigned long long)seed, got, mlen, want_len[got]);
                assert_memory_equal(m, data + want_off[got], mlen);
                got++;
            }
            if (fed == len && budget >= 0)
                break;
        }
        assert_int_equal(got, N);
        kn_noise_cipher_free(p.tx);
        kn_noise_cipher_free(p.rx);
        kn_session_free(b);
    }
    free(data);
    free(stream);
}

/* Bad fragment bytes are refused on every route, full-size frames included. */
static void test_session_bad_fragments(void **state)
{
    (void)state;
    struct node_keys ka = node_keys(1, NOW + DAY), kb = node_keys(2, NOW + DAY);
    enum { C = KN_FRAME_MAX_CHUNK };
    uint8_t *data = calloc(1, C), *frame = malloc(2 * (2 + KN_FRAME_MAX));
    assert_non_null(data);
    assert_non_null(frame);
    for (int c = 0; c < 5; c++) {
        kn_session *b = session(KN_NOISE_RESPONDER, &kb, NETKEY, 0x22);
        struct raw_peer p;
        raw_peer_connect(&p, b, &ka);
        size_t len = 0;
        switch (c) {
        case 0: /* unknown fragment byte, short frame */
            len = raw_frame(&p, frame, 0x02, data, 10);
            break;
        case 1: /* unknown fragment byte, full-size frame */
            len = raw_frame(&p, frame, 0x80, data, C);
            break;
        case 2: /* an empty non-final fragment */
            len = raw_frame(&p, frame, KN_FRAME_MORE, NULL, 0);
            break;
        case 3: /* an empty non-final fragment in the middle of a message */
            len = raw_frame(&p, frame, KN_FRAME_MORE, data, C);
            len += raw_frame(&p, frame + len, KN_FRAME_MORE, NULL, 0);
            break;
        case 4: /* an unknown fragment byte in the middle of a message */
            len = raw_frame(&p, frame, KN_FRAME_MORE, data, C);
            len += raw_frame(&p, frame + len, 0xff, data, 3);
            break;
        }
        assert_rc(KN_EPROTO, kn_session_feed(b, frame, len, NOW));
        assert_int_equal(kn_session_state(b), KN_SESSION_FAILED);
        assert_rc(KN_EPROTO, kn_session_error(b));
        kn_noise_cipher_free(p.tx);
        kn_noise_cipher_free(p.rx);
        kn_session_free(b);
    }
    free(data);
    free(frame);
}

static void test_session_misuse(void **state)
{
    (void)state;
    struct node_keys ka = node_keys(1, NOW + DAY);
    kn_session *a = session(KN_NOISE_INITIATOR, &ka, NETKEY, 1);
    /* Feeding an initiator that has not started is refused without failing it. */
    assert_rc(KN_ESTATE, kn_session_feed(a, (const uint8_t *)"\0\1x", 3, NOW));
    assert_int_equal(kn_session_state(a), KN_SESSION_HANDSHAKING);
    assert_rc(KN_ESTATE, kn_session_rekey(a));
    uint8_t h[64], rs[32];
    assert_rc(KN_ESTATE, kn_session_handshake_hash(a, h));
    assert_rc(KN_ESTATE, kn_session_remote_static(a, rs));
    const uint8_t *m;
    size_t len;
    assert_int_equal(kn_session_next_message(a, &m, &len), 0);
    kn_session_consume_output(a, 100);
    kn_session_free(a);
    kn_session_free(NULL);
}

int main(void)
{
    if (kn_crypto_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_random_chunks),
        cmocka_unit_test(test_reader_rejects),
        cmocka_unit_test(test_assembler),
        cmocka_unit_test(test_session_round_trip),
        cmocka_unit_test(test_session_max_frame),
        cmocka_unit_test(test_session_wrong_network_key),
        cmocka_unit_test(test_session_bad_identity),
        cmocka_unit_test(test_session_garbage),
        cmocka_unit_test(test_session_message_limit),
        cmocka_unit_test(test_session_rekey),
        cmocka_unit_test(test_session_fragment_routes),
        cmocka_unit_test(test_session_bad_fragments),
        cmocka_unit_test(test_session_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
