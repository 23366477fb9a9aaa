/*
 * The blob format (protocol/blob.h): chunk hashes and blob ids against known
 * answers computed independently (tests/data/blob-vectors.txt, made with
 * Python's hashlib by tests/data/blob_vectors.py), the streaming hasher fed
 * in pieces of every awkward length, manifest consistency, the manifest
 * parser on malformed bytes, and reading a doc's files.
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

#include "blob.h"
#include "codec.h"
#include "crypto.h"
#include "hex.h"
#include "object.h"

/* The generator of blob_vectors.py: byte i = ((i * 2654435761) mod 2^32) >> 24. */
static void gen_bytes(uint8_t *p, uint64_t from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((uint32_t)((from + i) * 2654435761u) >> 24);
}

typedef struct vector {
    uint64_t size;
    uint8_t id[KN_BLOB_ID];
    uint32_t n;
    uint8_t hashes[16][KN_BLOB_HASH];
} vector;

static size_t load_vectors(vector *v, size_t max)
{
    FILE *f = fopen(KN_TEST_DATA "/blob-vectors.txt", "r");
    char line[4096];
    size_t n = 0;
    assert_non_null(f);
    while (fgets(line, sizeof line, f) && n < max) {
        if (line[0] == '#')
            continue;
        char *save = NULL, *tok = strtok_r(line, " \n", &save);
        assert_non_null(tok);
        v[n].size = strtoull(tok, NULL, 10);
        tok = strtok_r(NULL, " \n", &save);
        assert_non_null(tok);
        assert_int_equal(kn_hex_decode(v[n].id, KN_BLOB_ID, tok, strlen(tok)), 0);
        v[n].n = 0;
        while ((tok = strtok_r(NULL, " \n", &save))) {
            assert_true(v[n].n < 16);
            assert_int_equal(
                kn_hex_decode(v[n].hashes[v[n].n++], KN_BLOB_HASH, tok, strlen(tok)), 0);
        }
        n++;
    }
    fclose(f);
    return n;
}

static void test_constants(void **state)
{
    (void)state;
    uint8_t e[KN_BLOB_ID];
    assert_int_equal(kn_crypto_init(), 0);
    kn_blake2b(e, sizeof e, NULL, 0);
    assert_memory_equal(e, KN_BLOB_EMPTY_ID, KN_BLOB_ID);
    assert_int_equal(kn_blob_nchunks(0), 0);
    assert_int_equal(kn_blob_nchunks(1), 1);
    assert_int_equal(kn_blob_nchunks(KN_BLOB_CHUNK), 1);
    assert_int_equal(kn_blob_nchunks(KN_BLOB_CHUNK + 1), 2);
    assert_int_equal(kn_blob_nchunks(KN_BLOB_SIZE_MAX), KN_BLOB_CHUNKS_MAX);
    assert_int_equal(kn_blob_chunk_len(KN_BLOB_CHUNK + 5, 0), KN_BLOB_CHUNK);
    assert_int_equal(kn_blob_chunk_len(KN_BLOB_CHUNK + 5, 1), 5);
    assert_int_equal(kn_blob_chunk_len(KN_BLOB_CHUNK + 5, 2), 0);
    assert_int_equal(kn_blob_chunk_len(2 * KN_BLOB_CHUNK, 1), KN_BLOB_CHUNK);
    assert_int_equal(kn_blob_chunk_len(0, 0), 0);
    assert_int_equal(kn_blob_manifest_len(0), 8);
    assert_int_equal(kn_blob_manifest_len(KN_BLOB_SIZE_MAX), KN_BLOB_MANIFEST_MAX);
}

/* Every vector, hashed by chunks and by the streaming hasher in several piece sizes. */
static void test_known_answers(void **state)
{
    (void)state;
    static vector v[16];
    size_t nv = load_vectors(v, 16);
    assert_int_equal(nv, 8);
    assert_int_equal(kn_crypto_init(), 0);
    uint8_t *buf = malloc(KN_BLOB_CHUNK);
    assert_non_null(buf);
    static const size_t pieces[]
        = { 1, 7, 4096, 100000, KN_BLOB_CHUNK, KN_BLOB_CHUNK + 3, 1 << 22 };
    for (size_t i = 0; i < nv; i++) {
        /* Chunk by chunk, the way the store checks them. */
        assert_int_equal(v[i].n, kn_blob_nchunks(v[i].size));
        for (uint32_t c = 0; c < v[i].n; c++) {
            uint8_t h[KN_BLOB_HASH];
            uint32_t len = kn_blob_chunk_len(v[i].size, c);
            gen_bytes(buf, (uint64_t)c * KN_BLOB_CHUNK, len);
            kn_blob_chunk_hash(h, buf, len);
            assert_memory_equal(h, v[i].hashes[c], KN_BLOB_HASH);
        }
        uint8_t id[KN_BLOB_ID];
        kn_blob_id_of(id, v[i].hashes[0], v[i].n);
        assert_memory_equal(id, v[i].id, KN_BLOB_ID);
        assert_int_equal(kn_blob_manifest_check(v[i].size, v[i].hashes[0], v[i].n, v[i].id), 0);

        for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
            if (pieces[p] == 1 && v[i].size > 300000)
                continue; /* byte by byte over megabytes only costs time */
            kn_blob_hasher h;
            kn_blob_hasher_init(&h);
            uint8_t *piece = malloc(pieces[p]);
            assert_non_null(piece);
            for (uint64_t off = 0; off < v[i].size; off += pieces[p]) {
                size_t len = v[i].size - off < pieces[p] ? (size_t)(v[i].size - off) : pieces[p];
                gen_bytes(piece, off, len);
                assert_int_equal(kn_blob_hasher_update(&h, piece, len), 0);
            }
            free(piece);
            assert_int_equal(kn_blob_hasher_final(&h, id), 0);
            assert_memory_equal(id, v[i].id, KN_BLOB_ID);
            assert_int_equal(h.size, v[i].size);
            assert_int_equal(h.nchunks, v[i].n);
            if (v[i].n)
                assert_memory_equal(h.hashes, v[i].hashes[0], (size_t)v[i].n * KN_BLOB_HASH);
            /* No more after final. */
            assert_rc(KN_ESTATE, kn_blob_hasher_update(&h, buf, 1));
            assert_rc(KN_ESTATE, kn_blob_hasher_final(&h, id));
            uint8_t *taken = kn_blob_hasher_take(&h);
            kn_blob_hasher_free(&h);
            free(taken);
        }
        /* Resumed from the hashes of the full chunks before the last one, then the rest fed. */
        if (v[i].n > 1) {
            uint32_t k = v[i].n - 1;
            kn_blob_hasher h;
            assert_int_equal(kn_blob_hasher_resume(&h, v[i].hashes[0], k), 0);
            for (uint32_t c = k; c < v[i].n; c++) {
                uint32_t len = kn_blob_chunk_len(v[i].size, c);
                gen_bytes(buf, (uint64_t)c * KN_BLOB_CHUNK, len);
                assert_int_equal(kn_blob_hasher_update(&h, buf, len), 0);
            }
            assert_int_equal(kn_blob_hasher_final(&h, id), 0);
            assert_memory_equal(id, v[i].id, KN_BLOB_ID);
            assert_int_equal(h.size, v[i].size);
            kn_blob_hasher_free(&h);
        }
    }
    free(buf);
}

static void test_manifest_check(void **state)
{
    (void)state;
    static vector v[16];
    size_t nv = load_vectors(v, 16);
    const vector *big = &v[nv - 1]; /* 3 MiB + 12345: 13 chunks */
    assert_int_equal(big->n, 13);
    assert_int_equal(kn_blob_manifest_check(big->size, big->hashes[0], big->n, big->id), 0);
    /* The size may move inside the last chunk: the id binds the hashes, the doc binds the size. */
    assert_int_equal(kn_blob_manifest_check(big->size - 1, big->hashes[0], big->n, big->id), 0);
    /* One chunk more or less than the size calls for. */
    assert_rc(KN_EINVAL, kn_blob_manifest_check(big->size, big->hashes[0], big->n - 1, big->id));
    assert_rc(KN_EINVAL,
        kn_blob_manifest_check(big->size + KN_BLOB_CHUNK, big->hashes[0], big->n, big->id));
    /* A changed hash, two swapped hashes. */
    vector w = *big;
    w.hashes[5][0] ^= 1;
    assert_rc(KN_EHASH, kn_blob_manifest_check(w.size, w.hashes[0], w.n, w.id));
    w = *big;
    memcpy(w.hashes[1], big->hashes[2], KN_BLOB_HASH);
    memcpy(w.hashes[2], big->hashes[1], KN_BLOB_HASH);
    assert_rc(KN_EHASH, kn_blob_manifest_check(w.size, w.hashes[0], w.n, w.id));
    /* Too large, the empty file. */
    assert_rc(KN_ETOOBIG, kn_blob_manifest_check(KN_BLOB_SIZE_MAX + 1, big->hashes[0], 0, big->id));
    assert_int_equal(kn_blob_manifest_check(0, NULL, 0, KN_BLOB_EMPTY_ID), 0);
    assert_rc(KN_EHASH, kn_blob_manifest_check(0, NULL, 0, big->id));
}

static void test_manifest_parse(void **state)
{
    (void)state;
    static vector v[16];
    size_t nv = load_vectors(v, 16);
    const vector *big = &v[nv - 1];
    size_t len = kn_blob_manifest_len(big->size);
    assert_int_equal(len, 8 + 13 * 32);
    uint8_t *buf = malloc(len + 1);
    assert_non_null(buf);
    kn_blob_manifest_encode(buf, big->size, big->hashes[0], big->n);
    uint64_t size;
    const uint8_t *h;
    uint32_t n;
    assert_int_equal(kn_blob_manifest_parse(buf, len, big->id, &size, &h, &n), 0);
    assert_int_equal(size, big->size);
    assert_int_equal(n, 13);
    assert_ptr_equal(h, buf + 8);
    assert_int_equal(kn_blob_manifest_parse(buf, len, NULL, &size, &h, &n), 0);
    assert_rc(KN_ETRUNC, kn_blob_manifest_parse(buf, len - 1, NULL, &size, &h, &n));
    assert_rc(KN_ETRUNC, kn_blob_manifest_parse(buf, 7, NULL, &size, &h, &n));
    assert_rc(KN_ETRAILING, kn_blob_manifest_parse(buf, len + 1, NULL, &size, &h, &n));
    assert_rc(KN_EHASH, kn_blob_manifest_parse(buf, len, v[1].id, &size, &h, &n));
    /* A size one chunk larger needs 32 bytes more. */
    uint8_t hdr[8];
    kn_blob_manifest_encode(hdr, big->size + KN_BLOB_CHUNK, NULL, 0);
    memcpy(buf, hdr, 8);
    assert_rc(KN_ETRUNC, kn_blob_manifest_parse(buf, len, NULL, &size, &h, &n));
    /* Above the hard maximum, whatever follows. */
    memset(buf, 0xff, 8);
    assert_rc(KN_ETOOBIG, kn_blob_manifest_parse(buf, len, NULL, &size, &h, &n));
    /* The empty file: just the header. */
    memset(buf, 0, 8);
    assert_int_equal(kn_blob_manifest_parse(buf, 8, KN_BLOB_EMPTY_ID, &size, &h, &n), 0);
    assert_int_equal(size, 0);
    assert_int_equal(n, 0);
    free(buf);
}

/* The hasher refuses to go past KN_BLOB_SIZE_MAX without reading that much. */
static void test_hasher_limit(void **state)
{
    (void)state;
    kn_blob_hasher h;
    uint8_t b[4] = { 0 };
    kn_blob_hasher_init(&h);
    h.size = KN_BLOB_SIZE_MAX - 2; /* as if that much had been fed */
    assert_rc(KN_ETOOBIG, kn_blob_hasher_update(&h, b, 3));
    assert_int_equal(h.size, KN_BLOB_SIZE_MAX - 2);
    kn_blob_hasher_free(&h);
    assert_rc(KN_EINVAL, kn_blob_hasher_update(NULL, b, 1));
}

static void doc_object(uint8_t **out, size_t *len, int nfiles, bool bad)
{
    uint8_t pk[KN_KEY], sk[64], seed[32] = { 3 };
    kn_sign_keypair_from_seed(pk, sk, seed);
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 3);
    kn_mp_write_cstr(&b, "files");
    kn_mp_write_array(&b, (uint32_t)nfiles);
    for (int i = 0; i < nfiles; i++) {
        uint8_t blob[32];
        memset(blob, i + 1, sizeof blob);
        kn_mp_write_map(&b, 4);
        kn_mp_write_cstr(&b, "blob");
        kn_mp_write_bin(&b, blob, bad ? 31 : 32);
        kn_mp_write_cstr(&b, "mime");
        kn_mp_write_cstr(&b, "application/pdf");
        kn_mp_write_cstr(&b, "name");
        kn_mp_write_cstr(&b, i ? "b.pdf" : "a.pdf");
        kn_mp_write_cstr(&b, "size");
        kn_mp_write_uint(&b, 1000u * (unsigned)(i + 1));
    }
    kn_mp_write_cstr(&b, "kind");
    kn_mp_write_cstr(&b, "form");
    kn_mp_write_cstr(&b, "title");
    kn_mp_write_cstr(&b, "Antrag");
    assert_int_equal(kn_mp_out_error(&b), 0);
    kn_object_draft d = { .type = KN_T_DOC, .created = 1000, .space = "Formulare" };
    d.body = b.buf;
    d.body_len = b.len;
    int rc = kn_object_sign(&d, sk, out, len);
    kn_mp_out_free(&b);
    assert_rc(bad ? KN_ESCHEMA : 0, rc);
}

static void test_doc_files(void **state)
{
    (void)state;
    uint8_t *buf = NULL;
    size_t len = 0;
    kn_object o;
    kn_doc_file f[KN_DOC_FILES_MAX];
    uint32_t n = 99;

    doc_object(&buf, &len, 2, false);
    assert_int_equal(kn_object_decode(&o, buf, len), 0);
    assert_int_equal(kn_doc_files(&o, f, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(f[0].size, 1000);
    assert_int_equal(f[1].size, 2000);
    assert_int_equal(f[1].blob[0], 2);
    assert_int_equal(f[0].name_len, 5);
    assert_memory_equal(f[0].name, "a.pdf", 5);
    assert_memory_equal(f[1].mime, "application/pdf", f[1].mime_len);
    free(buf);
    /* kn_object_sign refuses a doc whose blob is not 32 bytes; kn_doc_files would too. */
    doc_object(&buf, &len, 1, true);
    assert_null(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_manifest_check),
        cmocka_unit_test(test_manifest_parse),
        cmocka_unit_test(test_hasher_limit),
        cmocka_unit_test(test_doc_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
