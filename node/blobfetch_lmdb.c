/*
 * The fetch engine's view of the LMDB blob store (blobfetch.h over
 * store/blobstore.h).
 *
 * each_wanted() reads the store's wanted list a page at a time; under the
 * on-demand policy it passes on only the blobs someone asked for
 * (`knoten doc get` marks them with kn_blob_request). put_chunks() hands the
 * engine's hashes to the store so a chunk is hashed once on its way in, and
 * one batch is one write transaction; put_batch() stores the manifests
 * fetched since the last write with the chunks, so many small files cost one
 * commit, not two each (node/blobwriter.c runs the same on its thread:
 * kn_blobfetch_lmdb_batch). read_chunk() reads a chunk without a
 * copy, in a read transaction that lasts only for the callback.
 */
#include <stdlib.h>
#include <string.h>

#include "blobfetch.h"
#include "blobstore.h"
#include "blobwriter.h"

_Static_assert(
    (int)KN_BLOBFETCH_BATCH_MAX <= (int)KN_BLOB_BATCH_MAX, "one engine write is one store batch");

enum { WANT_PAGE = 256 };

static int lmdb_each_wanted(
    void *ctx, int (*fn)(void *fctx, const uint8_t blob[KN_ID], uint64_t size), void *fctx)
{
    kn_store *s = ctx;
    kn_blob_policy policy = KN_BLOB_EAGER;
    int rc = kn_blob_policy_get(s, &policy);
    if (rc < 0)
        return rc;
    kn_blob_want *v = malloc(WANT_PAGE * sizeof *v);
    if (!v)
        return KN_ENOMEM;
    uint8_t after[KN_BLOB_ID];
    bool first = true;
    for (;;) {
        size_t n = 0;
        if ((rc = kn_blob_wanted(s, first ? NULL : after, v, WANT_PAGE, &n)) < 0)
            break;
        /* The page is a copy: fn may read the store (it must not write it). */
        for (size_t i = 0; i < n && rc >= 0; i++)
            if (policy == KN_BLOB_EAGER || v[i].requested_ms)
                rc = fn(fctx, v[i].id, v[i].size);
        if (rc < 0 || n < WANT_PAGE)
            break;
        memcpy(after, v[n - 1].id, KN_BLOB_ID);
        first = false;
    }
    free(v);
    return rc < 0 ? rc : 0;
}

static int lmdb_manifest_get(
    void *ctx, const uint8_t blob[KN_ID], uint64_t *size, uint8_t (**hashes)[KN_ID], uint32_t *n)
{
    uint8_t *h = NULL;
    int rc = kn_blob_get_manifest(ctx, blob, size, &h, n);
    if (rc < 0)
        return rc;
    if (!h && !(h = malloc(1))) /* no chunks: still a buffer the caller frees */
        return KN_ENOMEM;
    *hashes = (uint8_t(*)[KN_ID])h;
    return 0;
}

static int lmdb_manifest_put(
    void *ctx, const uint8_t blob[KN_ID], uint64_t size, const uint8_t (*hashes)[KN_ID], uint32_t n)
{
    int rc = kn_blob_put_manifest(ctx, blob, size, (const uint8_t *)hashes, n);
    return rc < 0 ? rc : 0;
}

static int lmdb_present(void *ctx, const uint8_t blob[KN_ID], uint8_t *bits, uint32_t n)
{
    return kn_blob_present(ctx, blob, bits, n);
}

/* The engine's chunks as the store takes them. */
static size_t chunks_in(kn_blob_chunk_in *in, const kn_blobfetch_chunk *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        in[i] = (kn_blob_chunk_in) { .blob = c[i].blob,
            .index = c[i].index,
            .data = c[i].data,
            .len = (uint32_t)c[i].len,
            .hash = c[i].hash };
    return n;
}

/* The first refusal among results, if any: the engine then re-reads what is present. */
static int first_refusal(int rc, const int *results, size_t n)
{
    for (size_t i = 0; i < n && rc == 0; i++)
        if (results[i] < 0)
            rc = results[i];
    return rc;
}

static int lmdb_put_chunks(void *ctx, const kn_blobfetch_chunk *c, size_t n)
{
    kn_blob_chunk_in in[64] = { { 0 } };
    int results[64];
    if (n > 64)
        return KN_EINVAL;
    int rc = kn_blob_put_chunks(ctx, in, chunks_in(in, c, n), results);
    return first_refusal(rc, results, n);
}

int kn_blobfetch_lmdb_batch(struct kn_store *s, const kn_blobfetch_manifest *m, size_t nm,
    const kn_blobfetch_chunk *c, size_t nc, bool bg)
{
    if (nc > KN_BLOB_BATCH_MAX || nm > KN_BLOB_BATCH_MAX)
        return KN_EINVAL;
    kn_blob_manifest_in *mi = malloc(nm * sizeof *mi + 1);
    int *mres = malloc(nm * sizeof *mres + 1);
    kn_blob_chunk_in *in = malloc(nc * sizeof *in + 1);
    int *cres = malloc(nc * sizeof *cres + 1);
    int rc = mi && mres && in && cres ? 0 : KN_ENOMEM;
    for (size_t i = 0; rc == 0 && i < nm; i++)
        mi[i]
            = (kn_blob_manifest_in) { m[i].blob, m[i].size, (const uint8_t *)m[i].hashes, m[i].n };
    if (rc == 0)
        rc = (bg ? kn_blob_put_batch_bg : kn_blob_put_batch)(
            s, mi, nm, mres, in, chunks_in(in, c, nc), cres);
    if (rc == 0)
        rc = first_refusal(first_refusal(0, mres, nm), cres, nc);
    free(mi);
    free(mres);
    free(in);
    free(cres);
    return rc;
}

static int lmdb_put_batch(
    void *ctx, const kn_blobfetch_manifest *m, size_t nm, const kn_blobfetch_chunk *c, size_t nc)
{
    return kn_blobfetch_lmdb_batch(ctx, m, nm, c, nc, false);
}

static int lmdb_read_chunk(void *ctx, const uint8_t blob[KN_ID], uint32_t index,
    int (*fn)(void *fctx, const uint8_t *data, size_t len), void *fctx)
{
    kn_blob_reader *r = NULL;
    const uint8_t *data;
    uint32_t len;
    int rc = kn_blob_reader_open(ctx, &r);
    if (rc < 0)
        return rc;
    rc = kn_blob_reader_chunk(r, blob, index, &data, &len);
    if (rc == 0)
        rc = fn(fctx, data, len);
    kn_blob_reader_close(r);
    return rc;
}

kn_blobfetch_store kn_blobfetch_store_lmdb(struct kn_store *s)
{
    kn_blobfetch_store b = {
        .ctx = s,
        .each_wanted = lmdb_each_wanted,
        .manifest_get = lmdb_manifest_get,
        .manifest_put = lmdb_manifest_put,
        .present = lmdb_present,
        .put_chunks = lmdb_put_chunks,
        .put_batch = lmdb_put_batch,
        .read_chunk = lmdb_read_chunk,
    };
    return b;
}
