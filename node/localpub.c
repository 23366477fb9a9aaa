/*
 * Objects this node's own tools stored while it runs: `knoten thread`,
 * `knoten post`, `knoten import` … write into LMDB from another process, and
 * the running node must push them to its peers like objects it made itself.
 *
 * Choice: the node polls its own store, every NODE_LOCAL_POLL_MS (250 ms)
 * and at once on SIGUSR1, for objects signed with this node's identity key
 * or the key of one of the staff users it certified (`--as USER`; one
 * by-author range read per key, index entries only: no object is read or
 * decoded) that are newer than the newest it has seen, and
 * announces each to the engine (sync_announce). Polling needs nothing
 * from the writer, survives a writer that crashes half-way, and costs one
 * short LMDB range read per poll; each is handed to the engine by id
 * (kn_repl_announce), which reads it back when it pushes it. Latency: at
 * most 250 ms (125 ms on average) before the first push; a writer that wants it at once sends
 * SIGUSR1 (the propagation benchmark does). Objects replicated in from
 * peers are not by this node and are never looked at here.
 *
 * The watermark is the largest `created` seen. Two writers may commit out of
 * `created` order, so every poll re-reads NODE_LOCAL_LOOKBACK_MS (2 s)
 * behind it and skips the ids it already published (local_recent). An
 * object stored with a `created` older than that window when it is written
 * (an import of old own objects) is not pushed by this path; anti-entropy
 * with each peer (every minute) carries it instead.
 *
 * A poll that finds the store's generation (LMDB's last committed
 * transaction, kn_store_generation) where the last complete poll found it
 * reads nothing: no commit, no new object. While the node only sends (a
 * peer catching up from it) that is every poll; before, each re-read the
 * look-back window, 16,000 index entries at bench_sync's density.
 *
 * At most NODE_LOCAL_BATCH objects are published per loop iteration; if
 * there are more, an idle handle keeps polling so the loop stays responsive
 * during a large import. Such a poll goes on from where the last one
 * stopped (key and `created`), not from the start of the look-back window:
 * re-reading the window each time made an import of n objects within two
 * seconds cost O(n^2 / NODE_LOCAL_BATCH) decodes, and so did every start of
 * a node that had just imported (20,000 objects: 2.5 s before it listened).
 */
#include <stdlib.h>
#include <string.h>

#include "node_impl.h"

typedef struct item {
    uint64_t created;
    uint8_t id[KN_ID];
} item;

typedef struct scan {
    node *n;
    item v[NODE_LOCAL_BATCH];
    size_t count;
    bool more;
    bool all; /* start-up: note every id of the window, no batch limit, publish nothing */
    uint64_t last; /* `created` of the last object visited */
} scan;

/* Index entries only (kn_store_each_id): the window is re-read at every poll, so nothing is
 * decoded. */
static int visit(void *ctx, uint64_t created, const uint8_t id[KN_ID])
{
    scan *s = ctx;
    if (kn_idmap_get(&s->n->local_recent, id))
        return 0;
    if (s->all) {
        uint64_t *seen = kn_idmap_put(&s->n->local_recent, id, NULL);
        if (seen)
            *seen = created;
        return 0;
    }
    if (s->count == NODE_LOCAL_BATCH) {
        s->more = true;
        return 1;
    }
    item *it = &s->v[s->count];
    /* The visitor may not write the store: note the id now, announce after the read. */
    it->created = created;
    memcpy(it->id, id, KN_ID);
    s->count++;
    s->last = created;
    return 0;
}

/* Forgets ids that fell out of the look-back window. */
static void prune(node *n)
{
    uint64_t floor
        = n->local_mark > NODE_LOCAL_LOOKBACK_MS ? n->local_mark - NODE_LOCAL_LOOKBACK_MS : 0;
    size_t ndrop = 0;
    uint8_t(*drop)[KN_ID] = NULL;
    for (size_t i = 0; i < n->local_recent.cap; i++) {
        const uint8_t *id;
        uint64_t *created = kn_idmap_slot(&n->local_recent, i, &id);
        if (!created || *created >= floor)
            continue;
        void *p = realloc(drop, (ndrop + 1) * sizeof *drop);
        if (!p)
            break;
        drop = p;
        memcpy(drop[ndrop++], id, KN_ID);
    }
    for (size_t i = 0; i < ndrop; i++)
        kn_idmap_del(&n->local_recent, drop[i]);
    free(drop);
}

static int newest(void *ctx, const kn_object *o)
{
    *(uint64_t *)ctx = o->created;
    return 1;
}

static void on_idle(uv_idle_t *h)
{
    node *n = h->data;
    localpub_poll(n, node_now(n));
}

/*
 * The keys whose objects only this node's tools can have made: the node's
 * own and those of the staff users it certified (their keys live in
 * DATA/users/, and `knoten thread --as USER` signs with them). *keys is
 * malloc'd; the node's key comes first.
 */
static int own_keys(node *n, uint8_t (**keys)[KN_KEY], size_t *nkeys)
{
    kn_roster_user *us = NULL;
    size_t nu = 0;
    int rc = kn_store_users_list(n->dd->store, n->dd->identity_pk, &us, &nu);
    if (rc < 0)
        nu = 0; /* the node's own objects still go out */
    *keys = malloc((nu + 1) * KN_KEY);
    if (!*keys) {
        free(us);
        return KN_ENOMEM;
    }
    memcpy((*keys)[0], n->dd->identity_pk, KN_KEY);
    for (size_t i = 0; i < nu; i++)
        memcpy((*keys)[i + 1], us[i].key, KN_KEY);
    *nkeys = nu + 1;
    free(us);
    return 0;
}

/*
 * One pass: finds up to NODE_LOCAL_BATCH unseen own objects and publishes
 * them; all: notes every id of the look-back window instead (start-up).
 */
static int poll_once(node *n, bool all, uint64_t now)
{
    /* Read before the scan: a commit during it shows at the next poll. */
    uint64_t gen = kn_store_generation(n->dd->store);
    if (!all && !n->local_more && gen && gen == n->local_gen)
        return 0;
    uint8_t(*keys)[KN_KEY] = NULL;
    size_t nkeys = 0;
    int rc = own_keys(n, &keys, &nkeys);
    if (rc < 0)
        return rc;
    scan *s = calloc(1, sizeof *s);
    if (!s) {
        free(keys);
        return KN_ENOMEM;
    }
    s->n = n;
    s->all = all;
    uint64_t floor
        = n->local_mark > NODE_LOCAL_LOOKBACK_MS ? n->local_mark - NODE_LOCAL_LOOKBACK_MS : 0;
    kn_store_query q = { .index = KN_BY_AUTHOR };
    size_t k = n->local_more && n->local_resume_key < nkeys ? n->local_resume_key : 0;
    for (; k < nkeys && rc >= 0 && !s->more; k++) {
        q.author = keys[k];
        /* Resuming a pass that stopped at the batch limit: from where it stopped. */
        q.since_ms = n->local_more && k == n->local_resume_key && n->local_resume_ms > floor
            ? n->local_resume_ms
            : floor;
        rc = kn_store_each_id(n->dd->store, &q, visit, s);
        if (s->more) {
            n->local_resume_key = k;
            n->local_resume_ms = s->last;
        }
    }
    free(keys);
    for (size_t i = 0; i < s->count; i++) {
        item *it = &s->v[i];
        uint64_t *created = kn_idmap_put(&n->local_recent, it->id, NULL);
        if (created)
            *created = it->created;
        if (it->created > n->local_mark)
            n->local_mark = it->created;
        if (n->repl)
            (void)sync_announce(n, NULL, 0, it->id, now);
    }
    n->local_more = rc >= 0 && s->more;
    n->local_gen = rc >= 0 ? gen : 0; /* a poll that stopped at the batch limit goes on anyway */
    free(s);
    prune(n);
    return rc < 0 ? rc : 0;
}

int localpub_start(node *n, uint64_t now)
{
    kn_idmap_init(&n->local_recent, sizeof(uint64_t));
    if (uv_idle_init(n->loop, &n->local_idle) < 0)
        return KN_ENOMEM;
    n->local_idle.data = n;
    /* The newest own object already stored: only what comes after it is news. */
    uint8_t(*keys)[KN_KEY] = NULL;
    size_t nkeys = 0;
    int rc = own_keys(n, &keys, &nkeys);
    for (size_t k = 0; k < nkeys && rc >= 0; k++) {
        uint64_t mark = 0;
        kn_store_query q = { .index = KN_BY_AUTHOR, .author = keys[k], .reverse = true };
        if ((rc = kn_store_each(n->dd->store, &q, newest, &mark)) >= 0 && mark > n->local_mark)
            n->local_mark = mark;
    }
    free(keys);
    if (rc < 0)
        return rc;
    /* Remember the look-back window's ids without publishing them: one read. */
    return poll_once(n, true, now);
}

void localpub_stop(node *n)
{
    kn_idmap_free(&n->local_recent);
}

void localpub_poll(node *n, uint64_t now)
{
    if (n->stopping || n->finished)
        return;
    int rc = poll_once(n, false, now);
    if (rc < 0)
        node_log(n, "cannot read new local objects from the store: %s", kn_strerror(rc));
    if (n->local_more)
        uv_idle_start(&n->local_idle, on_idle);
    else
        uv_idle_stop(&n->local_idle);
}
