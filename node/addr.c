/*
 * Finding each other (issue 5, item 6; docs/federation.md, "Addresses"):
 * this node's own addr object, and the announced peers it dials to keep its
 * target number of connections, so that the federation stays connected when
 * the inviter, or any single node, is down.
 *
 * Our announcement. `knoten run --announce HOST:PORT` keeps the set in the
 * "announce" setting (peer_config.h). The node re-reads it with the peer
 * list and, once it is a member, signs and stores an addr object whenever
 * the set differs from its newest one, and pushes it like any new object.
 * For every author only the newest addr object counts. A node that announces
 * nothing (behind a council firewall) publishes nothing and takes part
 * through the connections it dials.
 *
 * Announced peers. Every NODE_CANDIDATES_MS the node reads the addr objects
 * newest first, keeps the newest per author, keeps the authors that are
 * members now (not revoked, not pending, not a user key, not itself), and
 * keeps one slot per address with the author's key pinned: a different node
 * answering at that address is refused at the handshake (node_authorize),
 * before it gets message 3. An address that is also configured stays the
 * configured peer's.
 *
 * Dialling. Configured peers are always dialled (node.c). Announced slots
 * are dialled only while live member connections (either direction) plus
 * announced dials in progress are fewer than the target; never to an
 * identity already connected or being dialled, never to one the roster does
 * not call a member at that moment. The scan starts after the slot it
 * dialled last (n->rotate), so a dead address, backing off or hanging in its
 * connect, does not keep the others from being tried; each address backs off
 * on its own exactly as configured peers do. Two nodes that dial each other
 * at once keep one connection (node.c, the smaller-identity rule).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "node_impl.h"

/* ---- reading addr objects ---- */

/* The newest addr object of each author, newest first. */
typedef struct newest {
    const uint8_t *self;
    kn_idmap seen; /* authors met so far */
    struct author {
        uint8_t key[KN_KEY];
        uint8_t id[KN_ID];
        uint64_t created;
    } * v;
    size_t n, cap;
    bool own_found;
    uint8_t own_id[KN_ID];
    uint64_t own_created;
    int err;
} newest;

static int visit_addr(void *ctx, const kn_object *o)
{
    newest *w = ctx;
    int created = 0;
    if (o->type != KN_T_ADDR)
        return 0;
    if (memcmp(o->author, w->self, KN_KEY) == 0) {
        if (!w->own_found) {
            w->own_found = true;
            memcpy(w->own_id, o->id, KN_ID);
            w->own_created = o->created;
        }
        return 0;
    }
    if (!kn_idmap_put(&w->seen, o->author, &created)) {
        w->err = KN_ENOMEM;
        return 1;
    }
    if (!created)
        return 0; /* an older one by an author we have */
    if (w->n == NODE_ADDR_AUTHORS_MAX)
        return w->own_found ? 1 : 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        struct author *v = realloc(w->v, cap * sizeof *v);
        if (!v) {
            w->err = KN_ENOMEM;
            return 1;
        }
        w->v = v;
        w->cap = cap;
    }
    struct author *a = &w->v[w->n++];
    memcpy(a->key, o->author, KN_KEY);
    memcpy(a->id, o->id, KN_ID);
    a->created = o->created;
    return 0;
}

static void newest_free(newest *w)
{
    kn_idmap_free(&w->seen);
    free(w->v);
}

/* Fills w from the store; newest_free() afterwards in any case. */
static int newest_read(node *n, newest *w)
{
    memset(w, 0, sizeof *w);
    w->self = n->dd->identity_pk;
    kn_idmap_init(&w->seen, 1);
    kn_store_query q
        = { .index = KN_BY_SPACE_TYPE, .space = "", .type = KN_T_ADDR, .reverse = true };
    int rc = kn_store_each(n->dd->store, &q, visit_addr, w);
    return rc < 0 ? rc : w->err;
}

/* The addresses in the stored addr object id. */
static int addrs_of(node *n, const uint8_t id[static KN_ID], kn_announce *a)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    kn_object o;
    int rc = kn_store_get(n->dd->store, id, &raw, &len);
    if (rc == 0 && (rc = kn_object_decode(&o, raw, len)) == 0)
        rc = kn_announce_from_object(a, &o);
    free(raw);
    return rc;
}

/* ---- our own announcement ---- */

static void format_set(const kn_announce *a, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; i < a->n && off < cap; i++) {
        int w = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", a->addr[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

void addr_reload(node *n, uint64_t now)
{
    kn_announce a;
    unsigned target;
    char list[KN_ANNOUNCE_MAX * (KN_ANNOUNCE_ADDR_MAX + 2) + 1];
    (void)now;
    if (n->join)
        return; /* joining: the inviter is the only peer, and we are no member yet */
    int rc = kn_connections_load(n->dd->store, &target);
    if (rc < 0) {
        if (!n->announce_loaded)
            node_log(n, "the connections setting is unreadable (%s); using %d", kn_strerror(rc),
                KN_CONNECTIONS_DEFAULT);
        target = KN_CONNECTIONS_DEFAULT;
    }
    if (!n->announce_loaded || target != n->target)
        node_log(n,
            "keeping %u connection%s, configured peers first, then members' announced "
            "addresses",
            target, target == 1 ? "" : "s");
    n->target = target;
    if ((rc = kn_announce_load(n->dd->store, &a)) < 0) {
        if (!n->announce_loaded)
            node_log(
                n, "the announce setting is unreadable (%s); announcing nothing", kn_strerror(rc));
        memset(&a, 0, sizeof a);
    }
    if (n->announce_loaded && kn_announce_equal(&a, &n->announce))
        return;
    n->announce = a;
    n->announce_pending = a.n > 0;
    n->announce_check_ms = 0;
    if (a.n) {
        format_set(&a, list, sizeof list);
        node_log(n, "announcing this node at %s", list);
    } else if (!n->announce_loaded) {
        node_log(n,
            "announcing no address: this node takes part through the connections it "
            "dials (`knoten run --announce HOST:PORT` tells members where to reach it)");
    }
    n->announce_loaded = true;
}

/* Signs the addr object for n->announce, created after our previous one. */
static int sign_addr(node *n, uint64_t created, uint8_t **raw, size_t *len)
{
    kn_mp_out body;
    kn_mp_out_init(&body, KN_OBJECT_MAX);
    kn_mp_write_map(&body, 1);
    kn_mp_write_cstr(&body, "addrs");
    int rc = kn_announce_encode(&n->announce, &body);
    if (rc == 0) {
        kn_object_draft d = { .type = KN_T_ADDR, .space = "", .created = created };
        d.body = body.buf;
        d.body_len = body.len;
        rc = kn_object_sign(&d, n->dd->identity_sk, raw, len);
    }
    kn_mp_out_free(&body);
    return rc;
}

/*
 * Publishes our addr object if the announced set differs from our newest
 * one. Waits while this node is not a member (a node that was just created
 * with the network key, or is pending): its object would be refused.
 */
static void publish_own(node *n, uint64_t now)
{
    kn_roster_member self;
    kn_announce cur;
    newest w;
    uint8_t *raw = NULL, id[KN_ID];
    size_t len = 0;
    char list[KN_ANNOUNCE_MAX * (KN_ANNOUNCE_ADDR_MAX + 2) + 1], hex[65];
    if (!n->announce_pending || now < n->announce_check_ms)
        return;
    n->announce_check_ms = now + NODE_ROSTER_CHECK_MS;
    if (kn_store_member_get(n->dd->store, n->dd->identity_pk, &self) < 0
        || !kn_roster_member_at(&self, now))
        return;
    int rc = newest_read(n, &w);
    bool found = w.own_found;
    uint64_t prev = w.own_created;
    if (rc == 0 && found)
        rc = addrs_of(n, w.own_id, &cur);
    newest_free(&w);
    if (rc < 0) {
        node_log(n, "cannot read this node's addr object: %s", kn_strerror(rc));
        return;
    }
    n->announce_pending = false;
    if (found && kn_announce_equal(&cur, &n->announce))
        return; /* published by an earlier run */
    /* Newest wins by `created`: ours must come after the previous one even if the clock did not. */
    uint64_t created = found && prev >= now ? prev + 1 : now;
    if ((rc = sign_addr(n, created, &raw, &len)) < 0
        || (rc = kn_store_put(n->dd->store, raw, len, now, id)) < 0) {
        node_log(n, "cannot publish this node's addresses: %s; trying again", kn_strerror(rc));
        n->announce_pending = true;
        free(raw);
        return;
    }
    /* localpub would find it as a new own object: it is published here already. */
    uint64_t *seen = kn_idmap_put(&n->local_recent, id, NULL);
    if (seen)
        *seen = created;
    (void)sync_announce(n, raw, len, id, now);
    free(raw);
    format_set(&n->announce, list, sizeof list);
    kn_hex_encode(hex, id, KN_ID);
    node_log(n, "published this node's addresses (%s) in addr %.16s\u2026", list, hex);
}

/* ---- announced peers ---- */

static slot *find_slot(node *n, const char *addr, const uint8_t *key, bool announced)
{
    for (slot *s = n->slots; s; s = s->next)
        if (s->announced == announced && strcmp(s->cfg.addr, addr) == 0
            && (!key || memcmp(s->cfg.key, key, 32) == 0))
            return s;
    return NULL;
}

/* Appends an announced slot for addr, pinned to key, after the others (rotation order). */
static slot *add_slot(node *n, const char *addr, const uint8_t key[static 32], uint64_t now)
{
    slot *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->n = n;
    s->announced = true;
    snprintf(s->cfg.addr, sizeof s->cfg.addr, "%s", addr);
    s->cfg.has_key = true;
    memcpy(s->cfg.key, key, 32);
    s->retry_ms = now;
    slot **pp = &n->slots;
    while (*pp)
        pp = &(*pp)->next;
    *pp = s;
    return s;
}

/*
 * Brings the announced slots in line with the members' newest addr objects:
 * new addresses get a slot, addresses no member announces any more (a newer
 * addr object without them, a revocation) lose theirs.
 */
static void refresh_candidates(node *n, uint64_t now)
{
    newest w;
    kn_announce a;
    size_t count = 0, members = 0;
    n->candidates_ms = now + NODE_CANDIDATES_MS;
    int rc = newest_read(n, &w);
    if (rc < 0) {
        node_log(n, "cannot read the members' addresses: %s", kn_strerror(rc));
        newest_free(&w);
        return;
    }
    for (slot *s = n->slots; s; s = s->next)
        s->stale = s->announced;
    for (size_t i = 0; i < w.n && count < KN_ANNOUNCED_PEERS_MAX; i++) {
        if (node_classify(n, w.v[i].key, now) != NODE_PEER_MEMBER)
            continue; /* revoked, pending, a user's key, or unknown */
        if (addrs_of(n, w.v[i].id, &a) < 0 || a.n == 0)
            continue;
        members++;
        for (size_t j = 0; j < a.n && count < KN_ANNOUNCED_PEERS_MAX; j++) {
            if (find_slot(n, a.addr[j], NULL, false))
                continue; /* configured: that slot dials it */
            slot *s = find_slot(n, a.addr[j], w.v[i].key, true);
            if (!s && !(s = add_slot(n, a.addr[j], w.v[i].key, now))) {
                node_log(n, "out of memory adding an announced peer");
                break;
            }
            s->stale = false;
            count++;
        }
    }
    newest_free(&w);
    for (slot **pp = &n->slots; *pp;) {
        slot *s = *pp;
        if (!s->stale) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        node_slot_free(s, "this address is no longer announced by a member", now);
    }
    if (count != n->candidates_logged) {
        node_log(n, "%zu announced address%s from %zu member%s", count, count == 1 ? "" : "es",
            members, members == 1 ? "" : "s");
        n->candidates_logged = count;
    }
    n->state_dirty = true;
}

/* Whether some slot is dialling this identity right now. */
static bool dialling(node *n, const uint8_t *identity)
{
    for (slot *s = n->slots; s; s = s->next)
        if ((s->resolving || (s->conn && !s->conn->established)) && node_slot_identity(s)
            && memcmp(node_slot_identity(s), identity, 32) == 0)
            return true;
    return false;
}

/* Dials announced slots, in rotation, while the live connections are below the target. */
static void fill(node *n, uint64_t now)
{
    unsigned live = 0, pending = 0, count = 0;
    for (conn *c = n->conns; c; c = c->next)
        if (c->established && !c->closing && c->member)
            live++;
    for (slot *s = n->slots; s; s = s->next) {
        if (!s->announced)
            continue;
        count++;
        if (s->resolving || (s->conn && !s->conn->established))
            pending++;
    }
    if (count == 0 || live + pending >= n->target)
        return;
    unsigned want = n->target - live - pending;
    unsigned start = n->rotate % count, i = 0;
    /* Two passes over the list: from the start position to the end, then from the head. */
    for (unsigned pass = 0; pass < 2 && want; pass++) {
        i = 0;
        for (slot *s = n->slots; s && want; s = s->next) {
            if (!s->announced)
                continue;
            unsigned idx = i++;
            if ((pass == 0 && idx < start) || (pass == 1 && idx >= start))
                continue;
            if (s->conn || s->resolving || now < s->retry_ms
                || node_halfopen_out(n) >= n->max_halfopen)
                continue;
            if (node_established_with(n, s->cfg.key) || dialling(n, s->cfg.key))
                continue;
            if (node_classify(n, s->cfg.key, now) != NODE_PEER_MEMBER)
                continue; /* revoked since the last re-read: never dialled */
            node_slot_dial(n, s, now);
            n->rotate = idx + 1;
            want--;
        }
    }
}

void addr_tick(node *n, uint64_t now)
{
    if (n->join || n->stopping)
        return;
    publish_own(n, now);
    if (now >= n->candidates_ms)
        refresh_candidates(n, now);
    fill(n, now);
}
