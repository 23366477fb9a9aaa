/*
 * kn_repl_memstore: the in-memory object store behind the simulator and the
 * engine's unit tests (see repl.h). No roster: every validated object is
 * accepted; one with a missing ref is pending until all its refs are stored.
 */
#include <stdlib.h>
#include <string.h>

#include "repl.h"
#include "repl_idmap.h"
#include "store.h"

enum { MEM_STORED = 1, MEM_PENDING = 2 };

typedef struct mem_rec {
    uint8_t *buf;
    uint64_t created;
    uint32_t len;
    uint32_t state;
} mem_rec;

struct kn_repl_memstore {
    kn_idmap map;
    size_t stored;
    size_t pending;
};

int kn_repl_memstore_new(kn_repl_memstore **out)
{
    kn_repl_memstore *m = calloc(1, sizeof *m);
    if (!m)
        return KN_ENOMEM;
    kn_idmap_init(&m->map, sizeof(mem_rec));
    *out = m;
    return 0;
}

void kn_repl_memstore_free(kn_repl_memstore *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->map.cap; i++) {
        mem_rec *r = kn_idmap_slot(&m->map, i, NULL);
        if (r)
            free(r->buf);
    }
    kn_idmap_free(&m->map);
    free(m);
}

size_t kn_repl_memstore_count(const kn_repl_memstore *m)
{
    return m->stored;
}

int kn_repl_memstore_has(const kn_repl_memstore *m, const uint8_t id[KN_ID])
{
    const mem_rec *r = kn_idmap_get(&m->map, id);
    return r && r->state == MEM_STORED;
}

static int mem_has(void *ctx, const uint8_t id[KN_ID])
{
    return kn_repl_memstore_has(ctx, id);
}

/* Stored or pending: fetching it again would bring nothing (repl.h, held_many). */
static int mem_held_many(void *ctx, const uint8_t *const *ids, size_t n, uint8_t *out)
{
    kn_repl_memstore *m = ctx;
    for (size_t i = 0; i < n; i++)
        out[i] = kn_idmap_get(&m->map, ids[i]) != NULL;
    return 0;
}

static int mem_get(void *ctx, const uint8_t id[KN_ID], uint8_t **buf, size_t *len)
{
    kn_repl_memstore *m = ctx;
    const mem_rec *r = kn_idmap_get(&m->map, id);
    if (!r || r->state != MEM_STORED)
        return KN_ENOTFOUND;
    *buf = malloc(r->len ? r->len : 1);
    if (!*buf)
        return KN_ENOMEM;
    memcpy(*buf, r->buf, r->len);
    *len = r->len;
    return 0;
}

static bool refs_present(kn_repl_memstore *m, const kn_object *o)
{
    for (uint32_t i = 0; i < o->nrefs; i++)
        if (!kn_repl_memstore_has(m, o->refs[i]))
            return false;
    return true;
}

/* Stores every pending object whose refs are all present, until none is left to release. */
static void release_pending(kn_repl_memstore *m)
{
    bool again = true;
    while (again && m->pending) {
        again = false;
        for (size_t i = 0; i < m->map.cap; i++) {
            mem_rec *r = kn_idmap_slot(&m->map, i, NULL);
            kn_object o;
            if (!r || r->state != MEM_PENDING || kn_object_decode(&o, r->buf, r->len) < 0)
                continue;
            if (refs_present(m, &o)) {
                r->state = MEM_STORED;
                m->pending--;
                m->stored++;
                again = true;
            }
        }
    }
}

static int mem_ingest(void *ctx, const kn_object *objs, size_t n, int *results)
{
    kn_repl_memstore *m = ctx;
    bool stored_any = false;
    for (size_t i = 0; i < n; i++) {
        const kn_object *o = &objs[i];
        int created;
        mem_rec *r = kn_idmap_put(&m->map, o->id, &created);
        if (!r)
            return KN_ENOMEM;
        if (!created) {
            results[i] = KN_PUT_DUPLICATE;
            continue;
        }
        r->buf = malloc(o->raw_len ? o->raw_len : 1);
        if (!r->buf) {
            kn_idmap_del(&m->map, o->id);
            return KN_ENOMEM;
        }
        memcpy(r->buf, o->raw, o->raw_len);
        r->len = (uint32_t)o->raw_len;
        r->created = o->created;
        if (refs_present(m, o)) {
            r->state = MEM_STORED;
            m->stored++;
            results[i] = KN_PUT_STORED;
            stored_any = true;
        } else {
            r->state = MEM_PENDING;
            m->pending++;
            results[i] = KN_PUT_PENDING;
        }
    }
    if (stored_any)
        release_pending(m);
    return 0;
}

static int mem_each(
    void *ctx, int (*fn)(void *fctx, uint64_t created, const uint8_t id[KN_ID]), void *fctx)
{
    kn_repl_memstore *m = ctx;
    for (size_t i = 0; i < m->map.cap; i++) {
        const uint8_t *id;
        mem_rec *r = kn_idmap_slot(&m->map, i, &id);
        if (!r || r->state != MEM_STORED)
            continue;
        int rc = fn(fctx, r->created, id);
        if (rc < 0)
            return rc;
    }
    return 0;
}

kn_repl_store kn_repl_memstore_iface(kn_repl_memstore *m)
{
    kn_repl_store s = {
        .ctx = m,
        .has = mem_has,
        .held_many = mem_held_many,
        .get = mem_get,
        .ingest = mem_ingest,
        .each_item = mem_each,
    };
    return s;
}
