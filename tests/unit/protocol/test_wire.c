/*
 * Wire messages: a round trip for every kind at its bounds, and the strict
 * decoder's refusals (wrong arity, unknown kind, over-long lists and payloads,
 * non-canonical headers, wrong id lengths, trailing and truncated input).
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
#include "error.h"
#include "wire.h"

#define assert_rc(expected, actual)                                                                \
    do {                                                                                           \
        int rc_ = (actual);                                                                        \
        if (rc_ != (expected))                                                                     \
            fail_msg("%s: expected %s, got %s (%d)", #actual, kn_errname(expected),                \
                kn_errname(rc_), rc_);                                                             \
    } while (0)

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed + i * 7);
}

/* Decodes o's bytes, checks the kind and that every prefix is refused as truncated. */
static void decode_ok(const kn_mp_out *o, kn_wire_msg *m, kn_wire_kind kind)
{
    assert_rc(0, kn_mp_out_error(o));
    assert_rc(0, kn_wire_decode(m, o->buf, o->len));
    assert_int_equal(m->kind, kind);
    kn_wire_msg t;
    for (size_t cut = 0; cut < o->len; cut += (o->len > 200 ? 97 : 1))
        assert_true(kn_wire_decode(&t, o->buf, cut) < 0);
    /* One more byte is always refused. */
    uint8_t *longer = malloc(o->len + 1);
    memcpy(longer, o->buf, o->len);
    longer[o->len] = 0;
    assert_rc(KN_ETRAILING, kn_wire_decode(&t, longer, o->len + 1));
    free(longer);
}

static void test_hello(void **state)
{
    (void)state;
    uint8_t key[KN_KEY];
    fill(key, sizeof key, 3);
    kn_mp_out o;
    kn_wire_msg m;
    kn_mp_out_init(&o, 0);
    assert_rc(0, kn_wire_write_hello(&o, KN_WIRE_VERSION, key, 0x5));
    decode_ok(&o, &m, KN_WIRE_HELLO);
    assert_int_equal(m.version, KN_WIRE_VERSION);
    assert_memory_equal(m.node_key, key, KN_KEY);
    assert_int_equal(m.flags, 5);
    kn_mp_out_free(&o);
}

static void test_have_want(void **state)
{
    (void)state;
    static uint8_t ids[KN_WIRE_IDS_MAX + 1][KN_ID];
    for (size_t i = 0; i < KN_WIRE_IDS_MAX + 1; i++)
        fill(ids[i], KN_ID, (uint8_t)i);
    const size_t counts[] = { 0, 1, 2, 15, 16, 17, KN_WIRE_IDS_MAX };
    for (int kind = KN_WIRE_HAVE; kind <= KN_WIRE_WANT; kind++) {
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            kn_mp_out o;
            kn_wire_msg m;
            kn_mp_out_init(&o, 0);
            assert_rc(0, kn_wire_write_ids(&o, (kn_wire_kind)kind, ids, counts[c]));
            decode_ok(&o, &m, (kn_wire_kind)kind);
            assert_int_equal(m.nids, counts[c]);
            for (uint32_t i = 0; i < m.nids; i++)
                assert_memory_equal(kn_wire_id(&m, i), ids[i], KN_ID);
            kn_mp_out_free(&o);
        }
        kn_mp_out o;
        kn_mp_out_init(&o, 0);
        assert_rc(KN_ELIMIT, kn_wire_write_ids(&o, (kn_wire_kind)kind, ids, KN_WIRE_IDS_MAX + 1));
        assert_int_equal(o.len, 0);
        /* Built by hand: one id over the bound. */
        kn_mp_write_array(&o, 2);
        kn_mp_write_cstr(&o, kn_wire_kind_name(kind));
        kn_mp_write_array(&o, KN_WIRE_IDS_MAX + 1);
        for (size_t i = 0; i < KN_WIRE_IDS_MAX + 1; i++)
            kn_mp_write_bin(&o, ids[i], KN_ID);
        kn_wire_msg m;
        assert_rc(KN_ELIMIT, kn_wire_decode(&m, o.buf, o.len));
        /* An id of 31 bytes. */
        kn_mp_out_reset(&o);
        kn_mp_write_array(&o, 2);
        kn_mp_write_cstr(&o, kn_wire_kind_name(kind));
        kn_mp_write_array(&o, 1);
        kn_mp_write_bin(&o, ids[0], KN_ID - 1);
        assert_rc(KN_EKEYLEN, kn_wire_decode(&m, o.buf, o.len));
        /* An id that is a str. */
        kn_mp_out_reset(&o);
        kn_mp_write_array(&o, 2);
        kn_mp_write_cstr(&o, kn_wire_kind_name(kind));
        kn_mp_write_array(&o, 1);
        kn_mp_write_str(&o, "0123456789abcdef0123456789abcdef", KN_ID);
        assert_rc(KN_ETYPE, kn_wire_decode(&m, o.buf, o.len));
        kn_mp_out_free(&o);
    }
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    assert_rc(KN_EINVAL, kn_wire_write_ids(&o, KN_WIRE_OBJ, ids, 1));
    kn_mp_out_free(&o);
}

static void test_obj(void **state)
{
    (void)state;
    static uint8_t obj[KN_OBJECT_MAX + 1];
    fill(obj, sizeof obj, 9);
    const size_t sizes[] = { 0, 1, 255, 256, 65535, KN_OBJECT_MAX };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        kn_mp_out o;
        kn_wire_msg m;
        kn_mp_out_init(&o, 0);
        assert_rc(0, kn_wire_write_obj(&o, obj, sizes[s]));
        decode_ok(&o, &m, KN_WIRE_OBJ);
        assert_int_equal(m.data_len, sizes[s]);
        if (sizes[s])
            assert_memory_equal(m.data, obj, sizes[s]);
        kn_mp_out_free(&o);
    }
    kn_mp_out o;
    kn_wire_msg m;
    kn_mp_out_init(&o, 0);
    assert_rc(KN_ETOOBIG, kn_wire_write_obj(&o, obj, KN_OBJECT_MAX + 1));
    kn_mp_write_array(&o, 2);
    kn_mp_write_cstr(&o, "obj");
    kn_mp_write_bin(&o, obj, KN_OBJECT_MAX + 1);
    assert_rc(KN_ETOOBIG, kn_wire_decode(&m, o.buf, o.len));
    kn_mp_out_free(&o);
}

static void test_neg(void **state)
{
    (void)state;
    static uint8_t msg[KN_WIRE_NEG_MAX + 1];
    fill(msg, sizeof msg, 1);
    const uint64_t sessions[] = { 0, 1, 127, 128, 65536, UINT64_MAX };
    for (size_t s = 0; s < sizeof sessions / sizeof sessions[0]; s++) {
        kn_mp_out o;
        kn_wire_msg m;
        kn_mp_out_init(&o, 0);
        size_t len = s * 1000;
        assert_rc(0, kn_wire_write_neg(&o, sessions[s], msg, len));
        decode_ok(&o, &m, KN_WIRE_NEG);
        assert_true(m.session == sessions[s]);
        assert_int_equal(m.data_len, len);
        if (len)
            assert_memory_equal(m.data, msg, len);
        kn_mp_out_free(&o);
    }
    kn_mp_out o;
    kn_wire_msg m;
    kn_mp_out_init(&o, 0);
    /* The largest negentropy message still fits in KN_WIRE_MSG_MAX. */
    assert_rc(0, kn_wire_write_neg(&o, UINT64_MAX, msg, KN_WIRE_NEG_MAX));
    assert_rc(0, kn_wire_decode(&m, o.buf, o.len));
    kn_mp_out_reset(&o);
    kn_mp_write_array(&o, 3);
    kn_mp_write_cstr(&o, "neg");
    kn_mp_write_uint(&o, 1);
    kn_mp_write_bin(&o, msg, KN_WIRE_NEG_MAX + 1);
    assert_rc(KN_ETOOBIG, kn_wire_decode(&m, o.buf, o.len));
    kn_mp_out_reset(&o);
    assert_rc(KN_ETOOBIG, kn_wire_write_neg(&o, 1, msg, KN_WIRE_NEG_MAX + 1));
    assert_int_equal(o.len, 0);
    kn_mp_out_free(&o);
}

static void test_ping_pong_bye(void **state)
{
    (void)state;
    const uint64_t nonces[] = { 0, 0x7f, 0x80, 0xffffffffull, UINT64_MAX };
    for (size_t i = 0; i < sizeof nonces / sizeof nonces[0]; i++) {
        kn_mp_out o;
        kn_wire_msg m;
        kn_mp_out_init(&o, 0);
        assert_rc(0, kn_wire_write_ping(&o, nonces[i]));
        decode_ok(&o, &m, KN_WIRE_PING);
        assert_true(m.nonce == nonces[i]);
        kn_mp_out_reset(&o);
        assert_rc(0, kn_wire_write_pong(&o, nonces[i]));
        decode_ok(&o, &m, KN_WIRE_PONG);
        assert_true(m.nonce == nonces[i]);
        kn_mp_out_free(&o);
    }
    char reason[KN_WIRE_REASON_MAX + 2];
    memset(reason, 'x', sizeof reason);
    const size_t lens[] = { 0, 8, 31, 32, KN_WIRE_REASON_MAX };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        kn_mp_out o;
        kn_wire_msg m;
        kn_mp_out_init(&o, 0);
        assert_rc(0, kn_wire_write_bye(&o, reason, lens[i]));
        decode_ok(&o, &m, KN_WIRE_BYE);
        assert_int_equal(m.reason_len, lens[i]);
        kn_mp_out_free(&o);
    }
    kn_mp_out o;
    kn_wire_msg m;
    kn_mp_out_init(&o, 0);
    assert_rc(KN_ETOOBIG, kn_wire_write_bye(&o, reason, KN_WIRE_REASON_MAX + 1));
    assert_rc(KN_EUTF8, kn_wire_write_bye(&o, "\xff", 1));
    kn_mp_write_array(&o, 2);
    kn_mp_write_cstr(&o, "bye");
    kn_mp_write_str(&o, reason, KN_WIRE_REASON_MAX + 1);
    assert_rc(KN_ETOOBIG, kn_wire_decode(&m, o.buf, o.len));
    kn_mp_out_free(&o);
}

/* Builds ["join", bin(secret_len), str name, str ags] by hand, bypassing the encoder's checks. */
static void raw_join(kn_mp_out *o, const uint8_t *secret, size_t secret_len, const char *name,
    size_t name_len, const char *ags)
{
    kn_mp_out_reset(o);
    kn_mp_write_array(o, 4);
    kn_mp_write_cstr(o, "join");
    kn_mp_write_bin(o, secret, secret_len);
    kn_mp_write_str(o, name, name_len);
    kn_mp_write_cstr(o, ags);
}

static void test_join(void **state)
{
    (void)state;
    uint8_t secret[KN_WIRE_JOIN_SECRET_MAX + 1];
    char name[KN_WIRE_JOIN_NAME_MAX + 2];
    fill(secret, sizeof secret, 5);
    memset(name, 'n', sizeof name);
    static const char *const agses[] = { "", "09162000", "091620000000" };
    const size_t secret_lens[] = { KN_WIRE_JOIN_SECRET_MIN, 20, KN_WIRE_JOIN_SECRET_MAX };
    const size_t name_lens[] = { 1, 31, 32, KN_WIRE_JOIN_NAME_MAX };
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 4; j++)
            for (size_t a = 0; a < 3; a++) {
                kn_mp_out o;
                kn_wire_msg m;
                kn_mp_out_init(&o, 0);
                assert_rc(0,
                    kn_wire_write_join(&o, secret, secret_lens[i], name, name_lens[j], agses[a],
                        strlen(agses[a])));
                decode_ok(&o, &m, KN_WIRE_JOIN);
                assert_int_equal(m.secret_len, secret_lens[i]);
                assert_memory_equal(m.secret, secret, secret_lens[i]);
                assert_int_equal(m.name_len, name_lens[j]);
                assert_memory_equal(m.name, name, name_lens[j]);
                assert_int_equal(m.ags_len, strlen(agses[a]));
                if (m.ags_len)
                    assert_memory_equal(m.ags, agses[a], m.ags_len);
                kn_mp_out_free(&o);
            }
    /* A UTF-8 name, and NULL for "no AGS". */
    const char *umlaut = "Gemeinde M\xc3\xbcnchberg";
    kn_mp_out o;
    kn_wire_msg m;
    kn_mp_out_init(&o, 0);
    assert_rc(0, kn_wire_write_join(&o, secret, 20, umlaut, strlen(umlaut), NULL, 0));
    decode_ok(&o, &m, KN_WIRE_JOIN);
    assert_int_equal(m.ags_len, 0);

    /* The encoder refuses what the decoder refuses, and writes nothing. */
    kn_mp_out_reset(&o);
    assert_rc(
        KN_ESCHEMA, kn_wire_write_join(&o, secret, KN_WIRE_JOIN_SECRET_MIN - 1, "x", 1, "", 0));
    assert_rc(
        KN_ESCHEMA, kn_wire_write_join(&o, secret, KN_WIRE_JOIN_SECRET_MAX + 1, "x", 1, "", 0));
    assert_rc(KN_ESCHEMA, kn_wire_write_join(&o, secret, 20, "", 0, "", 0));
    assert_rc(
        KN_ETOOBIG, kn_wire_write_join(&o, secret, 20, name, KN_WIRE_JOIN_NAME_MAX + 1, "", 0));
    assert_rc(KN_EUTF8, kn_wire_write_join(&o, secret, 20, "\xff", 1, "", 0));
    assert_rc(KN_ESCHEMA, kn_wire_write_join(&o, secret, 20, "x", 1, "1234567", 7));
    assert_rc(KN_ESCHEMA, kn_wire_write_join(&o, secret, 20, "x", 1, "0916200a", 8));
    assert_rc(KN_ESCHEMA, kn_wire_write_join(&o, secret, 20, "x", 1, "0916200000", 10));
    assert_rc(KN_EINVAL, kn_wire_write_join(&o, NULL, 20, "x", 1, "", 0));
    assert_int_equal(o.len, 0);

    /* The decoder's bounds, on messages built by hand. */
    raw_join(&o, secret, KN_WIRE_JOIN_SECRET_MIN - 1, "x", 1, "");
    assert_rc(KN_ESCHEMA, kn_wire_decode(&m, o.buf, o.len));
    raw_join(&o, secret, KN_WIRE_JOIN_SECRET_MAX + 1, "x", 1, "");
    assert_rc(KN_ESCHEMA, kn_wire_decode(&m, o.buf, o.len));
    raw_join(&o, secret, 20, "", 0, "");
    assert_rc(KN_ESCHEMA, kn_wire_decode(&m, o.buf, o.len));
    raw_join(&o, secret, 20, name, KN_WIRE_JOIN_NAME_MAX + 1, "");
    assert_rc(KN_ETOOBIG, kn_wire_decode(&m, o.buf, o.len));
    raw_join(&o, secret, 20, "x", 1, "12345678x");
    assert_rc(KN_ESCHEMA, kn_wire_decode(&m, o.buf, o.len));
    raw_join(&o, secret, 20, "x", 1, "1234 678");
    assert_rc(KN_ESCHEMA, kn_wire_decode(&m, o.buf, o.len));
    /* Wrong types and arity. */
    kn_mp_out_reset(&o);
    kn_mp_write_array(&o, 4);
    kn_mp_write_cstr(&o, "join");
    kn_mp_write_str(&o, (const char *)"0123456789abcdef", 16); /* secret as str */
    kn_mp_write_cstr(&o, "x");
    kn_mp_write_cstr(&o, "");
    assert_rc(KN_ETYPE, kn_wire_decode(&m, o.buf, o.len));
    kn_mp_out_reset(&o);
    kn_mp_write_array(&o, 4);
    kn_mp_write_cstr(&o, "join");
    kn_mp_write_bin(&o, secret, 20);
    kn_mp_write_cstr(&o, "x");
    kn_mp_write_nil(&o); /* ags as nil instead of "" */
    assert_rc(KN_ENIL, kn_wire_decode(&m, o.buf, o.len));
    kn_mp_out_reset(&o);
    kn_mp_write_array(&o, 3);
    kn_mp_write_cstr(&o, "join");
    kn_mp_write_bin(&o, secret, 20);
    kn_mp_write_cstr(&o, "x");
    assert_rc(KN_EARITY, kn_wire_decode(&m, o.buf, o.len));
    kn_mp_out_reset(&o);
    kn_mp_write_array(&o, 5);
    kn_mp_write_cstr(&o, "join");
    kn_mp_write_bin(&o, secret, 20);
    kn_mp_write_cstr(&o, "x");
    kn_mp_write_cstr(&o, "");
    kn_mp_write_cstr(&o, "");
    assert_rc(KN_EARITY, kn_wire_decode(&m, o.buf, o.len));
    kn_mp_out_free(&o);
}

static void test_blob_have_and_manifest(void **state)
{
    (void)state;
    static uint8_t ids[KN_WIRE_MANIFEST_PAGE + 1][KN_ID];
    for (size_t i = 0; i < KN_WIRE_MANIFEST_PAGE + 1; i++)
        fill(ids[i], KN_ID, (uint8_t)(i * 3));
    uint8_t blob[KN_ID];
    fill(blob, sizeof blob, 77);
    kn_mp_out o;
    kn_wire_msg m;
    kn_mp_out_init(&o, 0);
    assert_rc(0, kn_wire_write_ids(&o, KN_WIRE_BLOB_HAVE, ids, 3));
    decode_ok(&o, &m, KN_WIRE_BLOB_HAVE);
    assert_int_equal(m.nids, 3);
    assert_memory_equal(kn_wire_id(&m, 2), ids[2], KN_ID);

    const uint32_t firsts[] = { 0, 1, 127, 128, 65535, 65536, UINT32_MAX };
    for (size_t i = 0; i < sizeof firsts / sizeof firsts[0]; i++) {
        kn_mp_out_reset(&o);
        assert_rc(0, kn_wire_write_manifest_want(&o, blob, firsts[i]));
        decode_ok(&o, &m, KN_WIRE_MANIFEST_WANT);
        assert_memory_equal(m.blob, blob, KN_ID);
        assert_int_equal(m.first, firsts[i]);
    }
    const size_t counts[] = { 0, 1, 15, 16, 17, KN_WIRE_MANIFEST_PAGE };
    const uint64_t sizes[] = { 0, 1, 262144, 262145, 1ull << 31, UINT64_MAX };
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        kn_mp_out_reset(&o);
        assert_rc(0, kn_wire_write_manifest(&o, blob, sizes[c], firsts[c], ids, counts[c]));
        decode_ok(&o, &m, KN_WIRE_MANIFEST);
        assert_memory_equal(m.blob, blob, KN_ID);
        assert_true(m.size == sizes[c]);
        assert_int_equal(m.first, firsts[c]);
        assert_int_equal(m.nids, counts[c]);
        for (uint32_t i = 0; i < m.nids; i++)
            assert_memory_equal(kn_wire_id(&m, i), ids[i], KN_ID);
    }
    /* A full page is well inside one message and one noise frame's worth of frames. */
    assert_true(o.len < 40000);
    kn_mp_out_reset(&o);
    assert_rc(KN_ELIMIT, kn_wire_write_manifest(&o, blob, 1, 0, ids, KN_WIRE_MANIFEST_PAGE + 1));
    assert_int_equal(o.len, 0);
    /* By hand: one hash over the page, a first beyond 32 bits, a short blob id. */
    kn_mp_write_array(&o, 5);
    kn_mp_write_cstr(&o, "blob-manifest");
    kn_mp_write_bin(&o, blob, KN_ID);
    kn_mp_write_uint(&o, 1);
    kn_mp_write_uint(&o, 0);
    kn_mp_write_array(&o, KN_WIRE_MANIFEST_PAGE + 1);
    for (size_t i = 0; i < KN_WIRE_MANIFEST_PAGE + 1; i++)
        kn_mp_write_bin(&o, ids[i], KN_ID);
    assert_rc(KN_ELIMIT, kn_wire_decode(&m, o.buf, o.len));
    kn_mp_out_reset(&o);
    kn_mp_write_array(&o, 3);
    kn_mp_write_cstr(&o, "blob-manifest-want");
    kn_mp_write_bin(&o, blob, KN_ID);
    kn_mp_write_uint(&o, (uint64_t)UINT32_MAX + 1);
    assert_rc(KN_ELIMIT, kn_wire_decode(&m, o.buf, o.len));
    kn_mp_out_reset(&o);
    kn_mp_write_array(&o, 3);
    kn_mp_write_cstr(&o, "blob-manifest-want");
    kn_mp_write_bin(&o, blob, KN_ID - 1);
    kn_mp_write_uint(&o, 0);
    assert_rc(KN_EKEYLEN, kn_wire_decode(&m, o.buf, o.len));
    kn_mp_out_reset(&o);
    kn_mp_write_array(&o, 4);
    kn_mp_write_cstr(&o, "blob-manifest");
    kn_mp_write_bin(&o, blob, KN_ID);
    kn_mp_write_uint(&o, 0);
    kn_mp_write_array(&o, 0);
    assert_rc(KN_EARITY, kn_wire_decode(&m, o.buf, o.len));
    kn_mp_out_free(&o);
}

static void test_blob_want_none(void **state)
{
    (void)state;
    uint8_t blob[KN_ID];
    fill(blob, sizeof blob, 5);
    uint32_t idx[KN_WIRE_CHUNK_IDX_MAX + 1];
    for (size_t i = 0; i < KN_WIRE_CHUNK_IDX_MAX + 1; i++)
        idx[i] = i == 3 ? UINT32_MAX : (uint32_t)(i * 1000);
    const size_t counts[] = { 0, 1, 2, KN_WIRE_CHUNK_IDX_MAX };
    for (int kind = KN_WIRE_BLOB_WANT; kind <= KN_WIRE_BLOB_NONE; kind += 2) {
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            kn_mp_out o;
            kn_wire_msg m;
            kn_mp_out_init(&o, 0);
            int rc = kn_wire_write_blob_idx(&o, (kn_wire_kind)kind, blob, idx, counts[c]);
            if (kind == KN_WIRE_BLOB_WANT && counts[c] == 0) {
                /* A want asks for something; a none may say "nothing at all". */
                assert_rc(KN_ESCHEMA, rc);
                assert_int_equal(o.len, 0);
                kn_mp_write_array(&o, 3);
                kn_mp_write_cstr(&o, "blob-want");
                kn_mp_write_bin(&o, blob, KN_ID);
                kn_mp_write_array(&o, 0);
                assert_rc(KN_ESCHEMA, kn_wire_decode(&m, o.buf, o.len));
                kn_mp_out_free(&o);
                continue;
            }
            assert_rc(0, rc);
            decode_ok(&o, &m, (kn_wire_kind)kind);
            assert_memory_equal(m.blob, blob, KN_ID);
            assert_int_equal(m.nidx, counts[c]);
            for (uint32_t i = 0; i < m.nidx; i++)
                assert_int_equal(m.idx[i], idx[i]);
            kn_mp_out_free(&o);
        }
        kn_mp_out o;
        kn_wire_msg m;
        kn_mp_out_init(&o, 0);
        assert_rc(KN_ELIMIT,
            kn_wire_write_blob_idx(&o, (kn_wire_kind)kind, blob, idx, KN_WIRE_CHUNK_IDX_MAX + 1));
        assert_int_equal(o.len, 0);
        kn_mp_write_array(&o, 3);
        kn_mp_write_cstr(&o, kn_wire_kind_name(kind));
        kn_mp_write_bin(&o, blob, KN_ID);
        kn_mp_write_array(&o, KN_WIRE_CHUNK_IDX_MAX + 1);
        for (size_t i = 0; i < KN_WIRE_CHUNK_IDX_MAX + 1; i++)
            kn_mp_write_uint(&o, i);
        assert_rc(KN_ELIMIT, kn_wire_decode(&m, o.buf, o.len));
        /* An index beyond 32 bits, a negative one, one that is a bin. */
        kn_mp_out_reset(&o);
        kn_mp_write_array(&o, 3);
        kn_mp_write_cstr(&o, kn_wire_kind_name(kind));
        kn_mp_write_bin(&o, blob, KN_ID);
        kn_mp_write_array(&o, 1);
        kn_mp_write_uint(&o, (uint64_t)UINT32_MAX + 1);
        assert_rc(KN_ELIMIT, kn_wire_decode(&m, o.buf, o.len));
        kn_mp_out_reset(&o);
        kn_mp_write_array(&o, 3);
        kn_mp_write_cstr(&o, kn_wire_kind_name(kind));
        kn_mp_write_bin(&o, blob, KN_ID);
        kn_mp_write_array(&o, 1);
        kn_mp_write_int(&o, -1);
        assert_rc(KN_ETYPE, kn_wire_decode(&m, o.buf, o.len));
        kn_mp_out_reset(&o);
        kn_mp_write_array(&o, 3);
        kn_mp_write_cstr(&o, kn_wire_kind_name(kind));
        kn_mp_write_bin(&o, blob, KN_ID);
        kn_mp_write_array(&o, 1);
        kn_mp_write_bin(&o, blob, 1);
        assert_rc(KN_ETYPE, kn_wire_decode(&m, o.buf, o.len));
        kn_mp_out_free(&o);
    }
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    assert_rc(KN_EINVAL, kn_wire_write_blob_idx(&o, KN_WIRE_WANT, blob, idx, 1));
    kn_mp_out_free(&o);
}

static void test_blob_chunk(void **state)
{
    (void)state;
    uint8_t blob[KN_ID];
    fill(blob, sizeof blob, 9);
    uint8_t *data = malloc(KN_WIRE_CHUNK_MAX + 1);
    assert_non_null(data);
    fill(data, KN_WIRE_CHUNK_MAX + 1, 11);
    const size_t lens[] = { 0, 1, 255, 256, 65535, 65536, KN_WIRE_CHUNK_MAX };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        kn_mp_out o;
        kn_wire_msg m;
        kn_mp_out_init(&o, 0);
        assert_rc(0, kn_wire_write_blob_chunk(&o, blob, (uint32_t)i * 999, data, lens[i]));
        decode_ok(&o, &m, KN_WIRE_BLOB_CHUNK);
        assert_memory_equal(m.blob, blob, KN_ID);
        assert_int_equal(m.index, i * 999);
        assert_int_equal(m.data_len, lens[i]);
        if (lens[i])
            assert_memory_equal(m.data, data, lens[i]);
        /* The head plus the bytes appended by hand is the same message. */
        kn_mp_out h;
        kn_mp_out_init(&h, 0);
        assert_rc(0, kn_wire_write_blob_chunk_head(&h, blob, (uint32_t)i * 999, lens[i]));
        kn_mp_write_raw(&h, data, lens[i]);
        assert_int_equal(h.len, o.len);
        assert_memory_equal(h.buf, o.buf, o.len);
        kn_mp_out_free(&h);
        kn_mp_out_free(&o);
    }
    kn_mp_out o;
    kn_wire_msg m;
    kn_mp_out_init(&o, 0);
    /* The largest chunk message is the largest message. */
    assert_rc(0, kn_wire_write_blob_chunk(&o, blob, UINT32_MAX, data, KN_WIRE_CHUNK_MAX));
    assert_true(o.len <= KN_WIRE_MSG_MAX);
    kn_mp_out_reset(&o);
    assert_rc(KN_ETOOBIG, kn_wire_write_blob_chunk(&o, blob, 0, data, KN_WIRE_CHUNK_MAX + 1));
    assert_rc(KN_ETOOBIG, kn_wire_write_blob_chunk_head(&o, blob, 0, KN_WIRE_CHUNK_MAX + 1));
    assert_int_equal(o.len, 0);
    kn_mp_write_array(&o, 4);
    kn_mp_write_cstr(&o, "blob-chunk");
    kn_mp_write_bin(&o, blob, KN_ID);
    kn_mp_write_uint(&o, 0);
    kn_mp_write_bin(&o, data, KN_WIRE_CHUNK_MAX + 1);
    assert_rc(KN_ETOOBIG, kn_wire_decode(&m, o.buf, o.len));
    kn_mp_out_reset(&o);
    kn_mp_write_array(&o, 4);
    kn_mp_write_cstr(&o, "blob-chunk");
    kn_mp_write_bin(&o, blob, KN_ID);
    kn_mp_write_uint(&o, 0);
    kn_mp_write_str(&o, "x", 1);
    assert_rc(KN_ETYPE, kn_wire_decode(&m, o.buf, o.len));
    free(data);
    kn_mp_out_free(&o);
}

/* Hand-written byte strings the decoder must refuse, each with its reason. */
static void test_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        const char *bytes;
        size_t len;
        int rc;
    } cases[] = {
        { "empty", "", 0, KN_ETRUNC },
        { "not an array", "\xa4ping", 5, KN_ETYPE },
        { "empty array", "\x90", 1, KN_EARITY },
        { "kind is uint", "\x92\x01\x01", 3, KN_ETYPE },
        { "unknown kind", "\x92\xa4pung\x01", 7, KN_EPROTO },
        { "kind differs in case", "\x92\xa4PING\x01", 7, KN_EPROTO },
        { "ping without nonce", "\x91\xa4ping", 6, KN_EARITY },
        { "ping with two nonces", "\x93\xa4ping\x01\x02", 8, KN_EARITY },
        { "ping nonce negative", "\x92\xa4ping\xff", 7, KN_ETYPE },
        { "ping nonce nil", "\x92\xa4ping\xc0", 7, KN_ENIL },
        { "ping nonce float", "\x92\xa4ping\xca\x00\x00\x00\x00", 11, KN_EFLOAT },
        { "ping nonce uint8 for 1", "\x92\xa4ping\xcc\x01", 8, KN_ENONCANON },
        { "array16 header for 2", "\xdc\x00\x02\xa4ping\x01", 9, KN_ENONCANON },
        { "str8 kind", "\x92\xd9\x04ping\x01", 8, KN_ENONCANON },
        { "bye reason is bin",
            "\x92\xa3"
            "bye\xc4\x01x",
            8, KN_ETYPE },
        { "bye reason bad utf8",
            "\x92\xa3"
            "bye\xa1\xff",
            7, KN_EUTF8 },
        { "have not a list", "\x92\xa4have\xc4\x00", 8, KN_ETYPE },
        { "want count larger than input", "\x92\xa4want\xdc\x00\x20", 9, KN_ETRUNC },
        { "obj is str", "\x92\xa3obj\xa1x", 7, KN_ETYPE },
        { "obj two payloads", "\x93\xa3obj\xc4\x00\xc4\x00", 9, KN_EARITY },
        { "neg without session", "\x92\xa3neg\xc4\x00", 7, KN_EARITY },
        { "neg session is bin", "\x93\xa3neg\xc4\x00\xc4\x00", 9, KN_ETYPE },
        { "hello short key", "\x94\xa5hello\x01\xc4\x01k\x00", 12, KN_EKEYLEN },
        { "hello missing flags", "\x93\xa5hello\x01\xc4\x00", 10, KN_EARITY },
        { "ext after kind", "\x92\xa4ping\xd4\x01\x00", 9, KN_EEXT },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kn_wire_msg m;
        int rc = kn_wire_decode(&m, (const uint8_t *)cases[i].bytes, cases[i].len);
        if (rc != cases[i].rc)
            fail_msg(
                "%s: expected %s, got %s", cases[i].what, kn_errname(cases[i].rc), kn_errname(rc));
    }
    /* Over the message size bound before anything is read. */
    uint8_t *big = calloc(1, KN_WIRE_MSG_MAX + 1);
    kn_wire_msg m;
    assert_rc(KN_ETOOBIG, kn_wire_decode(&m, big, KN_WIRE_MSG_MAX + 1));
    free(big);
    assert_null(kn_wire_kind_name(0));
    assert_null(kn_wire_kind_name(KN_WIRE_BLOB_NONE + 1));
    assert_string_equal(kn_wire_kind_name(KN_WIRE_BLOB_CHUNK), "blob-chunk");
    assert_string_equal(kn_wire_kind_name(KN_WIRE_JOIN), "join");
    assert_string_equal(kn_wire_kind_name(KN_WIRE_NEG), "neg");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_have_want),
        cmocka_unit_test(test_obj),
        cmocka_unit_test(test_neg),
        cmocka_unit_test(test_ping_pong_bye),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_blob_have_and_manifest),
        cmocka_unit_test(test_blob_want_none),
        cmocka_unit_test(test_blob_chunk),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
