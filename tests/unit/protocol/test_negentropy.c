/*
 * Negentropy V1: encoding, fingerprints, the version reply, input validation,
 * and whole reconciliations between two in-memory storages.
 *
 * KAT_INIT and KAT_REPLY are messages the reference C++ harness
 * (hoytech/negentropy test/cpp/harness) wrote for the item sets kat_item()
 * builds, so a byte drift shows up here without the Perl suite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto.h"
#include "negentropy.h"

static const char KAT_INIT[]
    = "61876a0200c10180b2eb04597db53323d28486a66681ea0300019e919b112a68b9d0e2a326d797e137060202"
      "0254012cf4288909e87ab108902842d102e52c020202d0015cac50473deb6fff14381b02edc44fdf0302038a"
      "01cf836be5269d78e1d5122972a2bf03210202044401297373d1bee8dcc05f914bdb50c990ff020204c001b6"
      "eb7efb6b63120a2b42594dc51cf64f020205fe01d2c8665bd6fabd9f59812d844010b92103000185ba4a12e9"
      "8801e538aad9c673446882020001982b024781ba1b91e983a0e8b3d059ca020207cf01c16547c561e342771b"
      "d1ef0e122294a00202078901007cb0228f73be220dd730ec288e1b80020208e6014583f550a4882fec13f14d"
      "9ecd13c832020208a0013a9f4f12d89fdee789e895316bf524a303000189ac56647f1cc48a8a70b0ce126f9b"
      "48000001db334ca7646ee7f730aaf8358e4072ab";

static const char KAT_REPLY[]
    = "61876a0200c1020500070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d900454c53"
      "5a61686f767d848b9299a0a7aeb5bcc3cad1d8dfe6edf4fb0209101700646b727980878e959ca3aab1b8bfc6"
      "cdd4dbe2e9f0f7fe050c131a21282f3600838a91989fa6adb4bbc2c9d0d7dee5ecf3fa01080f161d242b3239"
      "40474e5500a2a9b0b7bec5ccd3dae1e8eff6fd040b121920272e353c434a51585f666d740300020400e0e7ee"
      "f5fc030a11181f262d343b424950575e656c737a81888f969da4abb2011e252c333a41484f565d646b727980"
      "878e959ca3aab1b8bfc6cdd4dbe2e9f0013d444b525960676e757c838a91989fa6adb4bbc2c9d0d7dee5ecf3"
      "fa01080f01ff060d141b222930373e454c535a61686f767d848b9299a0a7aeb5bcc3cad1020202540206017b"
      "828990979ea5acb3bac1c8cfd6dde4ebf2f900070e151c232a31383f464d019aa1a8afb6bdc4cbd2d9e0e7ee"
      "f5fc030a11181f262d343b424950575e656c01b9c0c7ced5dce3eaf1f8ff060d141b222930373e454c535a61"
      "686f767d848b01d8dfe6edf4fb020910171e252c333a41484f565d646b727980878e959ca3aa02161d242b32"
      "3940474e555c636a71787f868d949ba2a9b0b7bec5ccd3dae1e802353c434a51585f666d747b828990979ea5"
      "acb3bac1c8cfd6dde4ebf2f90007020202d0020302545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7ee"
      "f5fc030a11181f2602737a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff060d141b222930373e4502b1b8bf"
      "c6cdd4dbe2e9f0f7fe050c131a21282f363d444b525960676e757c830302038a020502d0d7dee5ecf3fa0108"
      "0f161d242b323940474e555c636a71787f868d949ba2030e151c232a31383f464d545b626970777e858c939a"
      "a1a8afb6bdc4cbd2d9e0034c535a61686f767d848b9299a0a7aeb5bcc3cad1d8dfe6edf4fb020910171e03ef"
      "f6fd040b121920272e353c434a51585f666d747b828990979ea5acb3bac1036b727980878e959ca3aab1b8bf"
      "c6cdd4dbe2e9f0f7fe050c131a21282f363d0202044400020204c0020404444b525960676e757c838a91989f"
      "a6adb4bbc2c9d0d7dee5ecf3fa01080f1604e7eef5fc030a11181f262d343b424950575e656c737a81888f96"
      "9da4abb2b904828990979ea5acb3bac1c8cfd6dde4ebf2f900070e151c232a31383f464d5404a1a8afb6bdc4"
      "cbd2d9e0e7eef5fc030a11181f262d343b424950575e656c73020205fe0003000203055b626970777e858c93"
      "9aa1a8afb6bdc4cbd2d9e0e7eef5fc030a11181f262d057a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff06"
      "0d141b222930373e454c05b8bfc6cdd4dbe2e9f0f7fe050c131a21282f363d444b525960676e757c838a0200"
      "020306151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e706d7dee5ecf3fa01080f"
      "161d242b323940474e555c636a71787f868d949ba2a906f6fd040b121920272e353c434a51585f666d747b82"
      "8990979ea5acb3bac1c8020207cf020606535a61686f767d848b9299a0a7aeb5bcc3cad1d8dfe6edf4fb0209"
      "10171e2506727980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe050c131a21282f363d440691989fa6adb4bb"
      "c2c9d0d7dee5ecf3fa01080f161d242b323940474e555c6306b0b7bec5ccd3dae1e8eff6fd040b121920272e"
      "353c434a51585f666d747b82070d141b222930373e454c535a61686f767d848b9299a0a7aeb5bcc3cad1d8df"
      "072c333a41484f565d646b727980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe02020789020207eef5fc030a"
      "11181f262d343b424950575e656c737a81888f969da4abb2b9c0074b525960676e757c838a91989fa6adb4bb"
      "c2c9d0d7dee5ecf3fa01080f161d030208a00003000204091c232a31383f464d545b626970777e858c939aa1"
      "a8afb6bdc4cbd2d9e0e7ee09bfc6cdd4dbe2e9f0f7fe050c131a21282f363d444b525960676e757c838a9109"
      "dee5ecf3fa01080f161d242b323940474e555c636a71787f868d949ba2a9b009fd040b121920272e353c434a"
      "51585f666d747b828990979ea5acb3bac1c8cf00000203095a61686f767d848b9299a0a7aeb5bcc3cad1d8df"
      "e6edf4fb020910171e252c097980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe050c131a21282f363d444b09"
      "989fa6adb4bbc2c9d0d7dee5ecf3fa01080f161d242b323940474e555c636a";

enum { KAT_HAVE = 14, KAT_NEED = 9 };

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static int setup(void **state)
{
    (void)state;
    return kn_crypto_init() < 0 ? -1 : 0;
}

/* ---- varints ---- */

static void check_varint(uint64_t v, const char *hex)
{
    uint8_t want[KN_NEG_VARINT_MAX], got[KN_NEG_VARINT_MAX];
    size_t want_len = unhex(hex, want, sizeof want);
    size_t len = kn_neg_varint_encode(got, v);
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, len);
    uint64_t back = 0;
    size_t used = 0;
    assert_int_equal(kn_neg_varint_decode(got, len, &back, &used), 0);
    assert_int_equal(used, len);
    assert_int_equal(back, v);
}

static void test_varint_vectors(void **state)
{
    (void)state;
    check_varint(0, "00");
    check_varint(1, "01");
    check_varint(127, "7f");
    check_varint(128, "8100");
    check_varint(255, "817f");
    check_varint(16383, "ff7f");
    check_varint(16384, "818000");
    check_varint(UINT64_MAX, "81ffffffffffffffff7f");
}

static void test_varint_rejects(void **state)
{
    (void)state;
    uint8_t buf[16];
    uint64_t v;
    size_t used, n;

    /* Truncated: every prefix of a multi-byte varint, and the empty input. */
    n = unhex("81ffffffffffffffff7f", buf, sizeof buf);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(kn_neg_varint_decode(buf, cut, &v, &used), KN_ETRUNC);
    /* 2^64 and beyond. */
    n = unhex("8280808080808080808000", buf, sizeof buf);
    assert_int_equal(kn_neg_varint_decode(buf, n, &v, &used), KN_ETOOBIG);
    n = unhex("82808080808080808000", buf, sizeof buf);
    assert_int_equal(kn_neg_varint_decode(buf, n, &v, &used), KN_ETOOBIG);
    n = unhex("ffffffffffffffffffffffff7f", buf, sizeof buf);
    assert_int_equal(kn_neg_varint_decode(buf, n, &v, &used), KN_ETOOBIG);
    /* A leading zero group is not the shortest encoding. */
    n = unhex("8001", buf, sizeof buf);
    assert_int_equal(kn_neg_varint_decode(buf, n, &v, &used), KN_ENONCANON);
    /* Trailing bytes are left for the caller. */
    n = unhex("7fff", buf, sizeof buf);
    assert_int_equal(kn_neg_varint_decode(buf, n, &v, &used), 0);
    assert_int_equal(used, 1);
    assert_int_equal(v, 127);
}

/* ---- sums and fingerprints ---- */

static void check_fingerprint(const uint8_t sum[KN_NEG_ID], uint64_t count, const char *hex)
{
    uint8_t want[KN_NEG_FINGERPRINT], got[KN_NEG_FINGERPRINT];
    unhex(hex, want, sizeof want);
    kn_neg_fingerprint_of_sum(got, sum, count);
    assert_memory_equal(got, want, sizeof want);
}

static void test_sum_carry(void **state)
{
    (void)state;
    uint8_t acc[KN_NEG_ID] = { 0 }, id[KN_NEG_ID] = { 0 };

    /* 0xff + 0x01 in the lowest byte carries into the next one. */
    acc[0] = 0xff;
    id[0] = 0x01;
    kn_neg_sum_add(acc, id);
    assert_int_equal(acc[0], 0x00);
    assert_int_equal(acc[1], 0x01);
    for (size_t i = 2; i < KN_NEG_ID; i++)
        assert_int_equal(acc[i], 0);
    /* (0x100 as 32-byte LE) summed over two items, SHA-256(sum || 02). */
    check_fingerprint(acc, 2, "e02b1741933239009331f2dbba6130ee");

    /* All ones + 1 carries through all 32 bytes and wraps to zero mod 2^256. */
    memset(acc, 0xff, sizeof acc);
    kn_neg_sum_add(acc, id);
    for (size_t i = 0; i < KN_NEG_ID; i++)
        assert_int_equal(acc[i], 0);
    check_fingerprint(acc, 2, "58cc2f44d3a27866874701fbad573da9");
    check_fingerprint(acc, 0, "7f9c9e31ac8256ca2f258583df262dbc");
    /* The count goes in as a varint: 128 is 81 00. */
    check_fingerprint(acc, 128, "74c091a8f8c630eebb4563ad692d11f9");

    /* Subtraction borrows back across every byte. */
    kn_neg_sum_sub(acc, id);
    for (size_t i = 0; i < KN_NEG_ID; i++)
        assert_int_equal(acc[i], 0xff);
}

static void test_vector_fingerprint(void **state)
{
    (void)state;
    kn_neg_vector *v;
    uint8_t a[KN_NEG_ID] = { 0xff }, b[KN_NEG_ID] = { 0x01 }, fp[KN_NEG_FINGERPRINT];
    assert_int_equal(kn_neg_vector_new(&v), 0);
    assert_int_equal(kn_neg_vector_insert(v, 7, a), 0);
    assert_int_equal(kn_neg_vector_insert(v, 5, b), 0);
    assert_int_equal(kn_neg_vector_insert(v, KN_NEG_TS_MAX, b), KN_EINVAL);
    assert_int_equal(kn_neg_vector_seal(v), 0);
    assert_int_equal(kn_neg_vector_insert(v, 1, b), KN_ESTATE);
    kn_neg_storage st = kn_neg_vector_storage(v);
    assert_int_equal(st.fingerprint(st.ctx, 0, 2, fp), 0);
    uint8_t want[KN_NEG_FINGERPRINT];
    unhex("e02b1741933239009331f2dbba6130ee", want, sizeof want);
    assert_memory_equal(fp, want, sizeof want);
    kn_neg_item it;
    assert_int_equal(st.get(st.ctx, 0, &it), 0);
    assert_int_equal(it.timestamp, 5);
    assert_int_equal(st.fingerprint(st.ctx, 1, 3, fp), KN_EINVAL);
    kn_neg_vector_free(v);

    /* Duplicates are refused at seal time. */
    assert_int_equal(kn_neg_vector_new(&v), 0);
    assert_int_equal(kn_neg_vector_insert(v, 7, a), 0);
    assert_int_equal(kn_neg_vector_insert(v, 7, a), 0);
    assert_int_equal(kn_neg_vector_seal(v), KN_EEXIST);
    kn_neg_vector_free(v);
}

/* ---- helpers for engines over generated sets ---- */

static void kat_item(int i, uint64_t *ts, uint8_t id[KN_NEG_ID])
{
    *ts = 1000 + (uint64_t)(i / 4);
    id[0] = (uint8_t)(i / 8);
    for (int j = 1; j < KN_NEG_ID; j++)
        id[j] = (uint8_t)((i * 31 + j * 7) & 0xff);
}

/* Side A of the known-answer sets holds i % 7 != 3, side B i % 5 != 1. */
static kn_neg_vector *kat_vector(int side)
{
    kn_neg_vector *v;
    assert_int_equal(kn_neg_vector_new(&v), 0);
    for (int i = 0; i < 80; i++) {
        if (side == 0 ? i % 7 == 3 : i % 5 == 1)
            continue;
        uint64_t ts;
        uint8_t id[KN_NEG_ID];
        kat_item(i, &ts, id);
        assert_int_equal(kn_neg_vector_insert(v, ts, id), 0);
    }
    assert_int_equal(kn_neg_vector_seal(v), 0);
    return v;
}

static int kat_index(const uint8_t id[KN_NEG_ID])
{
    for (int i = 0; i < 80; i++) {
        uint64_t ts;
        uint8_t mine[KN_NEG_ID];
        kat_item(i, &ts, mine);
        if (!memcmp(mine, id, KN_NEG_ID))
            return i;
    }
    return -1;
}

static void test_known_answer(void **state)
{
    (void)state;
    kn_neg_vector *va = kat_vector(0), *vb = kat_vector(1);
    kn_neg_storage sa = kn_neg_vector_storage(va), sb = kn_neg_vector_storage(vb);
    kn_neg *client, *server;
    const uint8_t *msg, *reply, *next;
    size_t msg_len, reply_len, next_len;
    static uint8_t want[8192];

    assert_int_equal(kn_neg_new(&client, &sa, 0), 0);
    assert_int_equal(kn_neg_new(&server, &sb, 0), 0);

    assert_int_equal(kn_neg_initiate(client, &msg, &msg_len), 0);
    size_t want_len = unhex(KAT_INIT, want, sizeof want);
    assert_int_equal(msg_len, want_len);
    assert_memory_equal(msg, want, want_len);
    assert_int_equal(kn_neg_initiate(client, &msg, &msg_len), KN_ESTATE);

    assert_int_equal(kn_neg_reconcile_server(server, want, want_len, &reply, &reply_len), 0);
    want_len = unhex(KAT_REPLY, want, sizeof want);
    assert_int_equal(reply_len, want_len);
    assert_memory_equal(reply, want, want_len);

    kn_neg_ids have = { 0 }, need = { 0 };
    assert_int_equal(
        kn_neg_reconcile_client(client, want, want_len, &next, &next_len, &have, &need),
        KN_NEG_DONE);
    assert_null(next);
    assert_int_equal(next_len, 0);
    assert_int_equal(have.count, KAT_HAVE);
    assert_int_equal(need.count, KAT_NEED);
    for (size_t i = 0; i < have.count; i++) {
        int k = kat_index(have.ids[i]);
        assert_true(k >= 0 && k % 5 == 1 && k % 7 != 3);
    }
    for (size_t i = 0; i < need.count; i++) {
        int k = kat_index(need.ids[i]);
        assert_true(k >= 0 && k % 7 == 3 && k % 5 != 1);
    }
    kn_neg_ids_free(&have);
    kn_neg_ids_free(&need);

    /* Roles are fixed once chosen. */
    assert_int_equal(
        kn_neg_reconcile_server(client, want, want_len, &reply, &reply_len), KN_ESTATE);
    assert_int_equal(
        kn_neg_reconcile_client(server, want, want_len, &next, &next_len, &have, &need), KN_ESTATE);

    kn_neg_free(client);
    kn_neg_free(server);
    kn_neg_vector_free(va);
    kn_neg_vector_free(vb);
}

static void test_empty_initiate(void **state)
{
    (void)state;
    kn_neg_vector *v;
    kn_neg *n;
    const uint8_t *out;
    size_t len;
    assert_int_equal(kn_neg_vector_new(&v), 0);
    assert_int_equal(kn_neg_vector_seal(v), 0);
    kn_neg_storage st = kn_neg_vector_storage(v);
    assert_int_equal(kn_neg_new(&n, &st, 100), KN_EINVAL);
    assert_int_equal(kn_neg_new(&n, &st, KN_NEG_MIN_FRAME), 0);
    assert_int_equal(kn_neg_initiate(n, &out, &len), 0);
    /* Version, bound infinity (00 00), id list (02) of 0 ids. */
    static const uint8_t want[] = { 0x61, 0x00, 0x00, 0x02, 0x00 };
    assert_int_equal(len, sizeof want);
    assert_memory_equal(out, want, sizeof want);
    kn_neg_free(n);
    kn_neg_vector_free(v);
}

/* ---- the version byte ---- */

static void test_version_downgrade(void **state)
{
    (void)state;
    kn_neg_vector *v = kat_vector(1);
    kn_neg_storage st = kn_neg_vector_storage(v);
    kn_neg *server, *client;
    const uint8_t *out;
    size_t len;
    uint8_t in[8];
    size_t in_len;

    assert_int_equal(kn_neg_new(&server, &st, 0), 0);
    /* A newer version gets the one-byte reply naming the version we speak. */
    in_len = unhex("62aabbccddeeff", in, sizeof in);
    assert_int_equal(kn_neg_reconcile_server(server, in, in_len, &out, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(out[0], 0x61);
    /* So does any other version in the 0x60..0x6f range, body unread. */
    in[0] = 0x6f;
    assert_int_equal(kn_neg_reconcile_server(server, in, 1, &out, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(out[0], 0x61);
    in[0] = 0x60;
    assert_int_equal(kn_neg_reconcile_server(server, in, in_len, &out, &len), 0);
    assert_int_equal(len, 1);
    /* Bytes outside that range are not a negentropy message at all. */
    in[0] = 0x70;
    assert_int_equal(kn_neg_reconcile_server(server, in, 1, &out, &len), KN_EPROTO);
    assert_null(out);
    in[0] = 0x5f;
    assert_int_equal(kn_neg_reconcile_server(server, in, 1, &out, &len), KN_EPROTO);
    assert_int_equal(kn_neg_reconcile_server(server, in, 0, &out, &len), KN_ETRUNC);
    /* After the downgrade the same engine answers V1 as usual. */
    in_len = unhex("6100000200", in, sizeof in);
    assert_int_equal(kn_neg_reconcile_server(server, in, in_len, &out, &len), 0);
    assert_true(len > 1);

    /* A client cannot go below V1: another version from the server is an error. */
    kn_neg_vector *va = kat_vector(0);
    kn_neg_storage sa = kn_neg_vector_storage(va);
    kn_neg_ids have = { 0 }, need = { 0 };
    assert_int_equal(kn_neg_new(&client, &sa, 0), 0);
    assert_int_equal(kn_neg_initiate(client, &out, &len), 0);
    in[0] = 0x62;
    assert_int_equal(kn_neg_reconcile_client(client, in, 1, &out, &len, &have, &need), KN_EVERSION);
    /* The bare 0x61 reply is an empty V1 message: nothing left to do. */
    in[0] = 0x61;
    assert_int_equal(kn_neg_reconcile_client(client, in, 1, &out, &len, &have, &need), KN_NEG_DONE);
    assert_int_equal(have.count + need.count, 0);

    kn_neg_free(client);
    kn_neg_free(server);
    kn_neg_vector_free(va);
    kn_neg_vector_free(v);
}

/* ---- malformed input ---- */

/*
 * The offsets where a range ends in a well-formed message, found by a parser
 * independent of the engine's. Cutting a message there leaves a valid
 * shorter message; anywhere else it must be refused as truncated.
 */
static size_t range_ends(const uint8_t *m, size_t len, size_t *ends, size_t cap)
{
    size_t pos = 1, n = 0;
    while (pos < len) {
        uint64_t v;
        size_t used;
        assert_int_equal(kn_neg_varint_decode(m + pos, len - pos, &v, &used), 0); /* ts */
        pos += used;
        assert_int_equal(kn_neg_varint_decode(m + pos, len - pos, &v, &used), 0); /* len */
        pos += used + v;
        assert_int_equal(kn_neg_varint_decode(m + pos, len - pos, &v, &used), 0); /* mode */
        pos += used;
        if (v == 1) {
            pos += KN_NEG_FINGERPRINT;
        } else if (v == 2) {
            uint64_t count;
            assert_int_equal(kn_neg_varint_decode(m + pos, len - pos, &count, &used), 0);
            pos += used + count * KN_NEG_ID;
        }
        assert_true(n < cap);
        ends[n++] = pos;
    }
    assert_int_equal(pos, len);
    return n;
}

static void check_every_cut(const uint8_t *m, size_t len, kn_neg *server, kn_neg *client)
{
    static size_t ends[1024];
    size_t n = range_ends(m, len, ends, 1024), e = 0;
    const uint8_t *out;
    size_t out_len;
    for (size_t cut = 0; cut < len; cut++) {
        /* A copy of exactly cut bytes, so ASan sees any read past the end. */
        uint8_t *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, m, cut);
        bool boundary = cut == 1 || (e < n && ends[e] == cut);
        if (e < n && ends[e] == cut)
            e++;
        int want = boundary ? 0 : KN_ETRUNC;
        int rc = kn_neg_reconcile_server(server, copy, cut, &out, &out_len);
        if (rc != want)
            fail_msg("server, cut at %zu of %zu: got %s, want %s", cut, len, kn_errname(rc),
                kn_errname(want));
        if (client) {
            kn_neg_ids have = { 0 }, need = { 0 };
            rc = kn_neg_reconcile_client(client, copy, cut, &out, &out_len, &have, &need);
            if (boundary ? rc < 0 : rc != KN_ETRUNC)
                fail_msg("client, cut at %zu of %zu: got %s", cut, len, kn_errname(rc));
            kn_neg_ids_free(&have);
            kn_neg_ids_free(&need);
        }
        free(copy);
    }
}

static void test_truncation(void **state)
{
    (void)state;
    kn_neg_vector *va = kat_vector(0), *vb = kat_vector(1);
    kn_neg_storage sa = kn_neg_vector_storage(va), sb = kn_neg_vector_storage(vb);
    kn_neg *client, *server;
    static uint8_t init[8192], reply[8192];
    const uint8_t *out;
    size_t init_len = unhex(KAT_INIT, init, sizeof init);
    size_t reply_len = unhex(KAT_REPLY, reply, sizeof reply);

    assert_int_equal(kn_neg_new(&client, &sa, 0), 0);
    assert_int_equal(kn_neg_new(&server, &sb, 0), 0);
    assert_int_equal(kn_neg_initiate(client, &out, &init_len), 0);
    /* Fingerprint ranges (the opening message) and id-list ranges (the reply). */
    check_every_cut(init, init_len, server, NULL);
    check_every_cut(reply, reply_len, server, client);
    kn_neg_free(client);
    kn_neg_free(server);
    kn_neg_vector_free(va);
    kn_neg_vector_free(vb);
}

static void expect_server(kn_neg *server, const char *hex, int want)
{
    uint8_t in[256];
    const uint8_t *out;
    size_t len, in_len = unhex(hex, in, sizeof in);
    int rc = kn_neg_reconcile_server(server, in, in_len, &out, &len);
    if (rc != want)
        fail_msg("%s: got %s, want %s", hex, kn_errname(rc), kn_errname(want));
}

static void test_malformed(void **state)
{
    (void)state;
    kn_neg_vector *v = kat_vector(1);
    kn_neg_storage st = kn_neg_vector_storage(v);
    kn_neg *server;
    assert_int_equal(kn_neg_new(&server, &st, 0), 0);

    /* Well-formed: skip up to (ts 9, id 05..), then skip up to (ts 9, id 07..). */
    expect_server(server,
        "610a010500"
        "01010700",
        0);
    /* The same bound twice is an empty range, which the reference can send. */
    expect_server(server,
        "610a010500"
        "01010500",
        0);
    /* Bounds out of order: same timestamp, smaller id prefix. */
    expect_server(server,
        "610a010500"
        "01010300",
        KN_EPROTO);
    expect_server(server,
        "610a0205ff00"
        "01010500",
        KN_EPROTO);
    /* An id prefix longer than 32 bytes. */
    expect_server(server, "610021", KN_EPROTO);
    /* Unknown modes. */
    expect_server(server, "61000003", KN_EPROTO);
    expect_server(server, "6100008100", KN_EPROTO);
    /* A mode with a leading zero group is not minimal. */
    expect_server(server, "6100008001", KN_ENONCANON);
    /* Varint overflow in a timestamp, a length and an id count. */
    expect_server(server, "61828080808080808080800000", KN_ETOOBIG);
    expect_server(server, "6100ffffffffffffffffff7f", KN_ETOOBIG);
    expect_server(server, "610000028280808080808080808000", KN_ETOOBIG);
    /* An id count larger than the bytes that follow. */
    expect_server(server, "61000002ffffffff7f", KN_ETRUNC);
    expect_server(server,
        "6100000202"
        "0000000000000000000000000000000000000000000000000000000000000000",
        KN_ETRUNC);
    /* After an infinity bound every later timestamp saturates at infinity. */
    expect_server(server, "61000000050000", 0);

    kn_neg_free(server);
    kn_neg_vector_free(v);
}

/* ---- full reconciliations ---- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

struct scenario {
    uint64_t seed;
    size_t items;
    unsigned only_a_pct, only_b_pct; /* per cent of items on one side only */
    uint64_t ts_span; /* small spans force equal timestamps */
    uint64_t limit_a, limit_b; /* frame size limits, 0 for none */
};

/* Marks in *where: 1 only on A, 2 only on B, 3 on both. */
struct universe {
    kn_neg_item *items;
    uint8_t *where;
    size_t n;
};

static void make_universe(const struct scenario *sc, struct universe *u)
{
    uint64_t s = sc->seed;
    u->n = sc->items;
    u->items = calloc(u->n, sizeof *u->items);
    u->where = calloc(u->n, 1);
    assert_non_null(u->items);
    assert_non_null(u->where);
    for (size_t i = 0; i < u->n; i++) {
        u->items[i].timestamp = 1677970534 + splitmix(&s) % sc->ts_span;
        for (size_t j = 0; j < KN_NEG_ID; j += 8) {
            uint64_t r = splitmix(&s);
            memcpy(u->items[i].id + j, &r, 8);
        }
        /* Some ids share a long prefix to exercise long minimal bounds. */
        if (i && splitmix(&s) % 8 == 0)
            memcpy(u->items[i].id, u->items[i - 1].id, 20);
        unsigned p = (unsigned)(splitmix(&s) % 100);
        u->where[i] = p < sc->only_a_pct ? 1 : p < sc->only_a_pct + sc->only_b_pct ? 2 : 3;
    }
}

static kn_neg_vector *side(const struct universe *u, uint8_t mask)
{
    kn_neg_vector *v;
    assert_int_equal(kn_neg_vector_new(&v), 0);
    for (size_t i = 0; i < u->n; i++)
        if (u->where[i] & mask)
            assert_int_equal(kn_neg_vector_insert(v, u->items[i].timestamp, u->items[i].id), 0);
    assert_int_equal(kn_neg_vector_seal(v), 0);
    return v;
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, KN_NEG_ID);
}

/* The ids in list must be exactly those marked `want` in the universe, once each. */
static void check_ids(const struct universe *u, kn_neg_ids *list, uint8_t want, const char *what)
{
    size_t expected = 0;
    for (size_t i = 0; i < u->n; i++)
        expected += u->where[i] == want;
    if (list->count != expected)
        fail_msg("%s: %zu ids, want %zu", what, list->count, expected);
    if (list->count)
        qsort(list->ids, list->count, KN_NEG_ID, cmp_id);
    for (size_t i = 1; i < list->count; i++)
        assert_true(memcmp(list->ids[i - 1], list->ids[i], KN_NEG_ID) < 0);
    for (size_t i = 0; i < u->n; i++) {
        if (u->where[i] != want)
            continue;
        if (!bsearch(u->items[i].id, list->ids, list->count, KN_NEG_ID, cmp_id))
            fail_msg("%s: id of item %zu missing", what, i);
    }
}

/* Runs a to completion as client against b; returns the number of rounds. */
static int reconcile_pair(
    const struct universe *u, uint8_t client_mask, uint64_t client_limit, uint64_t server_limit)
{
    uint8_t server_mask = client_mask == 1 ? 2 : 1;
    kn_neg_vector *vc = side(u, client_mask), *vs = side(u, server_mask);
    kn_neg_storage sc = kn_neg_vector_storage(vc), ss = kn_neg_vector_storage(vs);
    kn_neg *client, *server;
    kn_neg_ids have = { 0 }, need = { 0 };
    const uint8_t *msg, *reply;
    size_t msg_len, reply_len;
    int rounds = 0, rc;

    assert_int_equal(kn_neg_new(&client, &sc, client_limit), 0);
    assert_int_equal(kn_neg_new(&server, &ss, server_limit), 0);
    assert_int_equal(kn_neg_initiate(client, &msg, &msg_len), 0);
    for (;;) {
        if (client_limit)
            assert_true(msg_len <= client_limit);
        assert_int_equal(kn_neg_reconcile_server(server, msg, msg_len, &reply, &reply_len), 0);
        if (server_limit)
            assert_true(reply_len <= server_limit);
        rounds++;
        assert_true(rounds < 1000);
        /* The reply lives in the server's buffer, independent of the client's. */
        rc = kn_neg_reconcile_client(client, reply, reply_len, &msg, &msg_len, &have, &need);
        assert_true(rc >= 0);
        if (rc == KN_NEG_DONE)
            break;
    }
    /* The client's "have" are the ids only it holds, its "need" those only the server holds. */
    check_ids(u, &have, client_mask, "have");
    check_ids(u, &need, server_mask, "need");
    kn_neg_ids_free(&have);
    kn_neg_ids_free(&need);
    kn_neg_free(client);
    kn_neg_free(server);
    kn_neg_vector_free(vc);
    kn_neg_vector_free(vs);
    return rounds;
}

static void run_scenario(const struct scenario *sc, int min_rounds)
{
    struct universe u;
    make_universe(sc, &u);
    int r1 = reconcile_pair(&u, 1, sc->limit_a, sc->limit_b);
    int r2 = reconcile_pair(&u, 2, sc->limit_b, sc->limit_a);
    /* One direction at least must have been cut by the limit into several rounds. */
    if (r1 < min_rounds && r2 < min_rounds)
        fail_msg("seed %llu: %d and %d rounds, expected at least %d", (unsigned long long)sc->seed,
            r1, r2, min_rounds);
    free(u.items);
    free(u.where);
}

static void test_reconcile_random(void **state)
{
    (void)state;
    static const struct scenario cases[] = {
        { 1, 0, 0, 0, 100, 0, 0 },
        { 2, 1, 100, 0, 100, 0, 0 },
        { 3, 31, 10, 10, 5, 0, 0 },
        { 4, 2000, 5, 5, 1000000, 0, 0 },
        { 5, 3000, 20, 20, 50, 0, 0 },
        { 6, 5000, 100, 0, 1000000, 0, 0 },
        { 7, 5000, 0, 100, 1000000, 0, 0 },
        { 8, 4000, 1, 1, 3, 0, 0 },
        { 9, 3000, 0, 0, 1000, 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_scenario(&cases[i], 1);
}

static void test_reconcile_frame_limit(void **state)
{
    (void)state;
    /* Enough differences that id lists and splits overflow a 4 KiB frame. */
    static const struct scenario cases[] = {
        { 11, 20000, 10, 10, 1000000, KN_NEG_MIN_FRAME, KN_NEG_MIN_FRAME },
        { 12, 20000, 30, 0, 500, KN_NEG_MIN_FRAME, 0 },
        { 13, 20000, 0, 30, 500, 0, KN_NEG_MIN_FRAME },
        { 14, 10000, 100, 0, 1000000, 5000, 5000 },
        { 15, 10000, 0, 100, 10, 5000, 5000 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_scenario(&cases[i], 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_vectors),
        cmocka_unit_test(test_varint_rejects),
        cmocka_unit_test(test_sum_carry),
        cmocka_unit_test(test_vector_fingerprint),
        cmocka_unit_test(test_empty_initiate),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_version_downgrade),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_reconcile_random),
        cmocka_unit_test(test_reconcile_frame_limit),
    };
    return cmocka_run_group_tests_name("negentropy", tests, setup, NULL);
}
