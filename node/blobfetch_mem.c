/*
 * kn_blobfetch_memstore: the in-memory blob store behind the fetch engine's
 * unit tests (see blobfetch.h). A blob is a manifest (size and chunk hashes)
 * and an array of chunk buffers; "wanted" is a flag, as a stored doc listing
 * the blob would make it under the eager policy.
 */
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "blobfetch.h"
#include "repl_idmap.h"

typedef struct mem_blob {
    uint64_t size;
    uint32_t n; /* chunks */
    bool has_manifest;
    bool wanted;
    uint8_t (*hashes)[KN_ID];
    uint8_t **chunk; /* n entries, NULL where absent */
    uint32_t *len;
    uint32_t stored; /* chunks present */
} mem_blob;

struct kn_blobfetch_memstore {
    kn_idmap map; /* blob id -> mem_blob * */
    uint64_t put_calls, chunks_put;
    int fail_puts;
};

static mem_blob *get_blob(const kn_blobfetch_memstore *m, const uint8_t blob[KN_ID])
{
    mem_blob **p = kn_idmap_get(&m->map, blob);
    return p ? *p : NULL;
}

static mem_blob *put_blob(kn_blobfetch_memstore *m, const uint8_t blob[KN_ID])
{
    mem_blob *b = get_blob(m, blob);
    if (b)
        return b;
    int created;
    mem_blob **p = kn_idmap_put(&m->map, blob, &created);
    if (!p || !(b = calloc(1, sizeof *b))) {
        if (p)
            kn_idmap_del(&m->map, blob);
        return NULL;
    }
    *p = b;
    return b;
}

static void free_blob(mem_blob *b)
{
    if (!b)
        return;
    for (uint32_t i = 0; b->chunk && i < b->n; i++)
        free(b->chunk[i]);
    free(b->chunk);
    free(b->len);
    free(b->hashes);
    free(b);
}

/* Gives b the manifest (size, hashes), with room for its chunks. */
static int set_manifest(mem_blob *b, uint64_t size, const uint8_t (*hashes)[KN_ID], uint32_t n)
{
    if (b->has_manifest)
        return 0;
    b->hashes = malloc((size_t)n * KN_ID + 1);
    b->chunk = calloc((size_t)n + 1, sizeof *b->chunk);
    b->len = calloc((size_t)n + 1, sizeof *b->len);
    if (!b->hashes || !b->chunk || !b->len) {
        free(b->hashes);
        free(b->chunk);
        free(b->len);
        b->hashes = NULL;
        b->chunk = NULL;
        b->len = NULL;
        return KN_ENOMEM;
    }
    if (n)
        memcpy(b->hashes, hashes, (size_t)n * KN_ID);
    b->size = size;
    b->n = n;
    b->has_manifest = true;
    return 0;
}

int kn_blobfetch_memstore_new(kn_blobfetch_memstore **out)
{
    kn_blobfetch_memstore *m = calloc(1, sizeof *m);
    if (!m)
        return KN_ENOMEM;
    kn_idmap_init(&m->map, sizeof(mem_blob *));
    *out = m;
    return 0;
}

void kn_blobfetch_memstore_free(kn_blobfetch_memstore *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->map.cap; i++) {
        mem_blob **p = kn_idmap_slot(&m->map, i, NULL);
        if (p)
            free_blob(*p);
    }
    kn_idmap_free(&m->map);
    free(m);
}

int kn_blobfetch_memstore_add(
    kn_blobfetch_memstore *m, const uint8_t *data, size_t len, uint8_t blob_out[KN_ID])
{
    uint64_t n = kn_blobfetch_chunks(len);
    if (len > KN_BLOBFETCH_SIZE_MAX)
        return KN_ETOOBIG;
    uint8_t(*h)[KN_ID] = malloc((size_t)n * KN_ID + 1);
    if (!h)
        return KN_ENOMEM;
    for (uint64_t i = 0; i < n; i++) {
        size_t off = (size_t)i * KN_BLOBFETCH_CHUNK;
        size_t cl = len - off < KN_BLOBFETCH_CHUNK ? len - off : KN_BLOBFETCH_CHUNK;
        kn_blob_chunk_hash(h[i], data + off, cl);
    }
    kn_blobfetch_blob_id((const uint8_t(*)[KN_ID])h, (uint32_t)n, blob_out);
    mem_blob *b = put_blob(m, blob_out);
    int rc = b ? set_manifest(b, len, (const uint8_t(*)[KN_ID])h, (uint32_t)n) : KN_ENOMEM;
    free(h);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < b->n; i++) {
        if (b->chunk[i])
            continue;
        size_t off = (size_t)i * KN_BLOBFETCH_CHUNK;
        size_t cl = len - off < KN_BLOBFETCH_CHUNK ? len - off : KN_BLOBFETCH_CHUNK;
        if (!(b->chunk[i] = malloc(cl + 1)))
            return KN_ENOMEM;
        memcpy(b->chunk[i], data + off, cl);
        b->len[i] = (uint32_t)cl;
        b->stored++;
    }
    b->wanted = false;
    return 0;
}

int kn_blobfetch_memstore_want(kn_blobfetch_memstore *m, const uint8_t blob[KN_ID], uint64_t size)
{
    mem_blob *b = put_blob(m, blob);
    if (!b)
        return KN_ENOMEM;
    if (!b->has_manifest)
        b->size = size;
    b->wanted = true;
    return 0;
}

void kn_blobfetch_memstore_purge(kn_blobfetch_memstore *m, const uint8_t blob[KN_ID])
{
    free_blob(get_blob(m, blob));
    kn_idmap_del(&m->map, blob);
}

uint32_t kn_blobfetch_memstore_chunks(const kn_blobfetch_memstore *m, const uint8_t blob[KN_ID])
{
    const mem_blob *b = get_blob(m, blob);
    return b ? b->stored : 0;
}

int64_t kn_blobfetch_memstore_read(
    const kn_blobfetch_memstore *m, const uint8_t blob[KN_ID], uint8_t *buf, size_t cap)
{
    const mem_blob *b = get_blob(m, blob);
    if (!b || !b->has_manifest)
        return KN_ENOTFOUND;
    if (b->stored < b->n)
        return KN_EAGAIN;
    if (b->size > cap)
        return KN_ETOOBIG;
    size_t off = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        memcpy(buf + off, b->chunk[i], b->len[i]);
        off += b->len[i];
    }
    return (int64_t)off;
}

void kn_blobfetch_memstore_counts(
    const kn_blobfetch_memstore *m, uint64_t *put_calls, uint64_t *chunks_put)
{
    *put_calls = m->put_calls;
    *chunks_put = m->chunks_put;
}

void kn_blobfetch_memstore_fail_puts(kn_blobfetch_memstore *m, int code)
{
    m->fail_puts = code;
}

/* ---- the interface ---- */

static int mem_each_wanted(
    void *ctx, int (*fn)(void *fctx, const uint8_t blob[KN_ID], uint64_t size), void *fctx)
{
    kn_blobfetch_memstore *m = ctx;
    for (size_t i = 0; i < m->map.cap; i++) {
        const uint8_t *id;
        mem_blob **p = kn_idmap_slot(&m->map, i, &id);
        if (!p || !(*p)->wanted || ((*p)->has_manifest && (*p)->stored == (*p)->n))
            continue;
        int rc = fn(fctx, id, (*p)->size);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int mem_manifest_get(
    void *ctx, const uint8_t blob[KN_ID], uint64_t *size, uint8_t (**hashes)[KN_ID], uint32_t *n)
{
    const mem_blob *b = get_blob(ctx, blob);
    if (!b || !b->has_manifest)
        return KN_ENOTFOUND;
    uint8_t(*h)[KN_ID] = malloc((size_t)b->n * KN_ID + 1);
    if (!h)
        return KN_ENOMEM;
    if (b->n)
        memcpy(h, b->hashes, (size_t)b->n * KN_ID);
    *size = b->size;
    *hashes = h;
    *n = b->n;
    return 0;
}

static int mem_manifest_put(
    void *ctx, const uint8_t blob[KN_ID], uint64_t size, const uint8_t (*hashes)[KN_ID], uint32_t n)
{
    uint8_t id[KN_ID];
    kn_blobfetch_blob_id(hashes, n, id);
    if (memcmp(id, blob, KN_ID) != 0 || kn_blobfetch_chunks(size) != n)
        return KN_ECORRUPT;
    mem_blob *b = put_blob(ctx, blob);
    return b ? set_manifest(b, size, hashes, n) : KN_ENOMEM;
}

static int mem_present(void *ctx, const uint8_t blob[KN_ID], uint8_t *bits, uint32_t n)
{
    const mem_blob *b = get_blob(ctx, blob);
    memset(bits, 0, (size_t)n / 8 + 1);
    if (!b || !b->has_manifest)
        return 0;
    for (uint32_t i = 0; i < n && i < b->n; i++)
        if (b->chunk[i])
            bits[i / 8] |= (uint8_t)(1u << i % 8);
    return 0;
}

static int mem_put_chunks(void *ctx, const kn_blobfetch_chunk *c, size_t n)
{
    kn_blobfetch_memstore *m = ctx;
    if (m->fail_puts)
        return m->fail_puts;
    /* Check everything first: all or none. */
    for (size_t i = 0; i < n; i++) {
        const mem_blob *b = get_blob(m, c[i].blob);
        uint8_t h[KN_ID];
        kn_blob_chunk_hash(h, c[i].data, c[i].len);
        if (!b || !b->has_manifest || c[i].index >= b->n)
            return KN_ENOTFOUND;
        if (memcmp(h, b->hashes[c[i].index], KN_ID) != 0 || memcmp(h, c[i].hash, KN_ID) != 0)
            return KN_ECORRUPT;
    }
    m->put_calls++;
    for (size_t i = 0; i < n; i++) {
        mem_blob *b = get_blob(m, c[i].blob);
        if (b->chunk[c[i].index])
            continue;
        if (!(b->chunk[c[i].index] = malloc(c[i].len + 1)))
            return KN_ENOMEM;
        memcpy(b->chunk[c[i].index], c[i].data, c[i].len);
        b->len[c[i].index] = (uint32_t)c[i].len;
        b->stored++;
        m->chunks_put++;
    }
    return 0;
}

static int mem_put_batch(
    void *ctx, const kn_blobfetch_manifest *m, size_t nm, const kn_blobfetch_chunk *c, size_t nc)
{
    kn_blobfetch_memstore *ms = ctx;
    if (ms->fail_puts)
        return ms->fail_puts;
    for (size_t i = 0; i < nm; i++) {
        int rc = mem_manifest_put(ctx, m[i].blob, m[i].size, m[i].hashes, m[i].n);
        if (rc < 0)
            return rc;
    }
    if (nc == 0) {
        ms->put_calls++;
        return 0;
    }
    return mem_put_chunks(ctx, c, nc);
}

static int mem_read_chunk(void *ctx, const uint8_t blob[KN_ID], uint32_t index,
    int (*fn)(void *fctx, const uint8_t *data, size_t len), void *fctx)
{
    const mem_blob *b = get_blob(ctx, blob);
    if (!b || !b->has_manifest || index >= b->n || !b->chunk[index])
        return KN_ENOTFOUND;
    return fn(fctx, b->chunk[index], b->len[index]);
}

kn_blobfetch_store kn_blobfetch_memstore_iface(kn_blobfetch_memstore *m)
{
    kn_blobfetch_store s = {
        .ctx = m,
        .each_wanted = mem_each_wanted,
        .manifest_get = mem_manifest_get,
        .manifest_put = mem_manifest_put,
        .present = mem_present,
        .put_chunks = mem_put_chunks,
        .put_batch = mem_put_batch,
        .read_chunk = mem_read_chunk,
    };
    return s;
}
