/*
 * The replication engine's view of the LMDB store (see repl.h).
 *
 * has() counts tombstoned ids as present so that a retracted object is never
 * fetched again; has_many() answers many ids in one read transaction, and
 * held_many() the same with pending objects counted (never fetched again
 * while the store holds them: it releases them itself).
 * Anti-entropy reads the store's fingerprint tree (store/negtree.h):
 * neg_open() opens one read snapshot, the engine answers one negentropy
 * message from it and neg_close() ends it, so no snapshot is held across an
 * ingest (which may need to grow the map) and each costs O(log n) per range
 * instead of a scan of the store. each_item() is kept for tools that want
 * the full list; the engine does not call it here.
 */
#include "negtree.h"
#include "repl.h"
#include "store.h"

static int lmdb_has(void *ctx, const uint8_t id[KN_ID])
{
    uint8_t known = 0;
    const uint8_t *ids[1] = { id };
    return kn_store_known(ctx, ids, 1, &known) == 0 && known;
}

static int lmdb_has_many(void *ctx, const uint8_t *const *ids, size_t n, uint8_t *out)
{
    return kn_store_known(ctx, ids, n, out);
}

static int lmdb_held_many(void *ctx, const uint8_t *const *ids, size_t n, uint8_t *out)
{
    return kn_store_held(ctx, ids, n, out);
}

static int lmdb_get(void *ctx, const uint8_t id[KN_ID], uint8_t **buf, size_t *len)
{
    return kn_store_get(ctx, id, buf, len);
}

static int lmdb_ingest(void *ctx, const kn_object *objs, size_t n, int *results)
{
    return kn_store_ingest(ctx, objs, n, results, NULL);
}

typedef struct each_ctx {
    int (*fn)(void *fctx, uint64_t created, const uint8_t id[KN_ID]);
    void *fctx;
} each_ctx;

static int visit(void *ctx, const kn_object *o)
{
    each_ctx *e = ctx;
    return e->fn(e->fctx, o->created, o->id);
}

static int lmdb_each(
    void *ctx, int (*fn)(void *fctx, uint64_t created, const uint8_t id[KN_ID]), void *fctx)
{
    kn_store_query q = { .index = KN_BY_TIME };
    each_ctx e = { fn, fctx };
    return kn_store_each(ctx, &q, visit, &e);
}

static int lmdb_neg_open(void *ctx, void **snap, kn_neg_storage *st)
{
    kn_store_neg *h = NULL;
    int rc = kn_store_neg_open(ctx, &h);
    if (rc < 0)
        return rc;
    *snap = h;
    *st = kn_store_neg_storage(h);
    return 0;
}

static void lmdb_neg_close(void *ctx, void *snap)
{
    (void)ctx;
    kn_store_neg_close(snap);
}

kn_repl_store kn_repl_store_lmdb(struct kn_store *s)
{
    kn_repl_store r = {
        .ctx = s,
        .has = lmdb_has,
        .has_many = lmdb_has_many,
        .held_many = lmdb_held_many,
        .get = lmdb_get,
        .ingest = lmdb_ingest,
        .each_item = lmdb_each,
        .neg_open = lmdb_neg_open,
        .neg_close = lmdb_neg_close,
    };
    return r;
}
