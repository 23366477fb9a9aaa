/*
 * The replication engine's view of the LMDB store (see repl.h).
 *
 * has() counts tombstoned ids as present so that a retracted object is never
 * fetched again. each_item() walks the by-time index for the in-memory
 * negentropy snapshot; once the store keeps per-subtree sums it should hand
 * the engine a kn_neg_storage instead (docs/replication.md, gaps).
 */
#include "repl.h"
#include "store.h"

static int lmdb_has(void *ctx, const uint8_t id[KN_ID])
{
    kn_store *s = ctx;
    return kn_store_has(s, id) == 1 || kn_store_is_tombstoned(s, id) == 1;
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

kn_repl_store kn_repl_store_lmdb(struct kn_store *s)
{
    kn_repl_store r = {
        .ctx = s,
        .has = lmdb_has,
        .get = lmdb_get,
        .ingest = lmdb_ingest,
        .each_item = lmdb_each,
    };
    return r;
}
