/*
 * Blob hashing and manifests (blob.h). The arithmetic on sizes is done in
 * 64 bits and bounded by KN_BLOB_SIZE_MAX first, so no product or sum here
 * can overflow on any input.
 */
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "codec.h"
#include "object.h"

/* BLAKE2b-256 of the empty string; test_blob.c checks it against kn_blake2b. */
const uint8_t KN_BLOB_EMPTY_ID[KN_BLOB_ID] = { 0x0e, 0x57, 0x51, 0xc0, 0x26, 0xe5, 0x43, 0xb2, 0xe8,
    0xab, 0x2e, 0xb0, 0x60, 0x99, 0xda, 0xa1, 0xd1, 0xe5, 0xdf, 0x47, 0x77, 0x8f, 0x77, 0x87, 0xfa,
    0xab, 0x45, 0xcd, 0xf1, 0x2f, 0xe3, 0xa8 };

void kn_blob_chunk_hash(uint8_t out[static KN_BLOB_HASH], const uint8_t *data, size_t len)
{
    kn_blake2b(out, KN_BLOB_HASH, data, len);
}

void kn_blob_id_of(uint8_t id[static KN_BLOB_ID], const uint8_t *hashes, uint32_t n)
{
    kn_blake2b(id, KN_BLOB_ID, hashes, (size_t)n * KN_BLOB_HASH);
}

int kn_blob_manifest_check(
    uint64_t size, const uint8_t *hashes, uint32_t n, const uint8_t id[static KN_BLOB_ID])
{
    uint8_t got[KN_BLOB_ID];
    if (size > KN_BLOB_SIZE_MAX)
        return KN_ETOOBIG;
    if (n != kn_blob_nchunks(size) || (n && !hashes))
        return KN_EINVAL;
    kn_blob_id_of(got, hashes, n);
    return kn_memcmp_ct(got, id, KN_BLOB_ID) == 0 ? 0 : KN_EHASH;
}

void kn_blob_manifest_encode(uint8_t *out, uint64_t size, const uint8_t *hashes, uint32_t n)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)size;
        size >>= 8;
    }
    if (n)
        memcpy(out + KN_BLOB_MANIFEST_HDR, hashes, (size_t)n * KN_BLOB_HASH);
}

int kn_blob_manifest_parse(const uint8_t *buf, size_t len, const uint8_t *id, uint64_t *size,
    const uint8_t **hashes, uint32_t *n)
{
    uint64_t sz = 0;
    if (!buf || !size || !hashes || !n)
        return KN_EINVAL;
    if (len < KN_BLOB_MANIFEST_HDR)
        return KN_ETRUNC;
    for (int i = 0; i < 8; i++)
        sz = sz << 8 | buf[i];
    if (sz > KN_BLOB_SIZE_MAX)
        return KN_ETOOBIG;
    size_t want = kn_blob_manifest_len(sz);
    if (len < want)
        return KN_ETRUNC;
    if (len > want)
        return KN_ETRAILING;
    uint32_t count = kn_blob_nchunks(sz);
    const uint8_t *h = buf + KN_BLOB_MANIFEST_HDR;
    if (id) {
        int rc = kn_blob_manifest_check(sz, h, count, id);
        if (rc < 0)
            return rc;
    }
    *size = sz;
    *hashes = h;
    *n = count;
    return 0;
}

/* ---- streaming hasher ---- */

void kn_blob_hasher_init(kn_blob_hasher *h)
{
    memset(h, 0, sizeof *h);
    kn_blake2b_init(&h->chunk, KN_BLOB_HASH);
}

/* Appends the hash of the chunk just completed and starts the next one. */
static int close_chunk(kn_blob_hasher *h)
{
    if (h->nchunks == h->cap) {
        uint32_t ncap = h->cap ? h->cap * 2 : 64;
        if (ncap > KN_BLOB_CHUNKS_MAX)
            ncap = KN_BLOB_CHUNKS_MAX;
        if (ncap <= h->nchunks)
            return KN_ETOOBIG;
        uint8_t *p = realloc(h->hashes, (size_t)ncap * KN_BLOB_HASH);
        if (!p)
            return KN_ENOMEM;
        h->hashes = p;
        h->cap = ncap;
    }
    kn_blake2b_final(&h->chunk, h->hashes + (size_t)h->nchunks * KN_BLOB_HASH, KN_BLOB_HASH);
    h->nchunks++;
    h->fill = 0;
    kn_blake2b_init(&h->chunk, KN_BLOB_HASH);
    return 0;
}

int kn_blob_hasher_update(kn_blob_hasher *h, const uint8_t *data, size_t len)
{
    if (!h || (!data && len))
        return KN_EINVAL;
    if (h->final)
        return KN_ESTATE;
    if (len > KN_BLOB_SIZE_MAX - h->size)
        return KN_ETOOBIG;
    while (len) {
        /* A full chunk is closed only when more bytes follow, so final() sees the last one. */
        if (h->fill == KN_BLOB_CHUNK) {
            int rc = close_chunk(h);
            if (rc < 0)
                return rc;
        }
        size_t take = KN_BLOB_CHUNK - h->fill;
        if (take > len)
            take = len;
        kn_blake2b_update(&h->chunk, data, take);
        h->fill += (uint32_t)take;
        h->size += take;
        data += take;
        len -= take;
    }
    return 0;
}

int kn_blob_hasher_final(kn_blob_hasher *h, uint8_t id[static KN_BLOB_ID])
{
    if (!h)
        return KN_EINVAL;
    if (h->final)
        return KN_ESTATE;
    if (h->fill) {
        int rc = close_chunk(h);
        if (rc < 0)
            return rc;
    }
    h->final = true;
    kn_blob_id_of(id, h->hashes, h->nchunks);
    return 0;
}

int kn_blob_hasher_resume(kn_blob_hasher *h, const uint8_t *hashes, uint32_t n)
{
    if (!h || (!hashes && n))
        return KN_EINVAL;
    kn_blob_hasher_init(h);
    if (n == 0)
        return 0;
    if (n > KN_BLOB_CHUNKS_MAX)
        return KN_ETOOBIG;
    if (!(h->hashes = malloc((size_t)n * KN_BLOB_HASH)))
        return KN_ENOMEM;
    memcpy(h->hashes, hashes, (size_t)n * KN_BLOB_HASH);
    h->cap = h->nchunks = n;
    h->size = (uint64_t)n * KN_BLOB_CHUNK;
    return 0;
}

uint8_t *kn_blob_hasher_take(kn_blob_hasher *h)
{
    uint8_t *p = h->hashes;
    h->hashes = NULL;
    h->cap = 0;
    return p;
}

void kn_blob_hasher_free(kn_blob_hasher *h)
{
    if (!h)
        return;
    free(h->hashes);
    h->hashes = NULL;
    h->cap = 0;
}

/* ---- the files of a doc object ---- */

static int read_file_entry(kn_mp_in *in, kn_doc_file *f)
{
    uint32_t nkeys;
    unsigned seen = 0;
    int rc;

    if ((rc = kn_mp_read_map(in, &nkeys)) < 0)
        return rc;
    for (uint32_t k = 0; k < nkeys; k++) {
        const char *key;
        uint32_t klen, blen;
        if ((rc = kn_mp_read_str(in, &key, &klen)) < 0)
            return rc;
        if (klen == 4 && memcmp(key, "blob", 4) == 0) {
            if ((rc = kn_mp_read_bin(in, &f->blob, &blen)) < 0)
                return rc;
            if (blen != KN_BLOB_ID)
                return KN_ESCHEMA;
            seen |= 1;
        } else if (klen == 4 && memcmp(key, "mime", 4) == 0) {
            if ((rc = kn_mp_read_str(in, &f->mime, &f->mime_len)) < 0)
                return rc;
            seen |= 2;
        } else if (klen == 4 && memcmp(key, "name", 4) == 0) {
            if ((rc = kn_mp_read_str(in, &f->name, &f->name_len)) < 0)
                return rc;
            seen |= 4;
        } else if (klen == 4 && memcmp(key, "size", 4) == 0) {
            if ((rc = kn_mp_read_uint(in, &f->size)) < 0)
                return rc;
            seen |= 8;
        } else if ((rc = kn_mp_skip(in, KN_BODY_DEPTH, false)) < 0) {
            return rc;
        }
    }
    return seen == 15 ? 0 : KN_ESCHEMA;
}

int kn_doc_files(const kn_object *o, kn_doc_file out[KN_DOC_FILES_MAX], uint32_t *n)
{
    kn_mp_in in;
    uint32_t count;
    int rc;

    if (!o || !out || !n)
        return KN_EINVAL;
    *n = 0;
    if (o->type != KN_T_DOC)
        return KN_ETYPE;
    if ((rc = kn_object_field(o, "files", &in)) < 0)
        return rc == KN_ENOTFOUND ? KN_ESCHEMA : rc;
    if ((rc = kn_mp_read_array(&in, &count)) < 0)
        return KN_ESCHEMA;
    if (count == 0 || count > KN_DOC_FILES_MAX)
        return KN_ESCHEMA;
    for (uint32_t i = 0; i < count; i++) {
        memset(&out[i], 0, sizeof out[i]);
        if (read_file_entry(&in, &out[i]) < 0)
            return KN_ESCHEMA;
    }
    *n = count;
    return 0;
}
