/*
 * The replication engine (see repl.h for the contract, docs/replication.md
 * for the design and the measurements behind its defaults).
 *
 * State, all bounded:
 *  - `known`: for recently seen ids, bitmasks over peer slots: peers that
 *    told us they have the id (obj, have), peers we have already queued it
 *    for (obj or have), pushed it to unasked, and asked for it; and how the
 *    first copy came (push, want answer, local). Cleared wholesale when it reaches KNOWN_MAX
 * entries; forgetting only costs a redundant "have".
 *  - `wants`: ids we lack and were told about, with the peers that announced
 *    them, the one we asked, a deadline and a try count; at most WANTS_MAX.
 *    A want waits (W_WAIT, in the `delayed` heap by deadline) for the tree's
 *    copy, is then ready (W_QUEUED) in the `ready` queue of each live
 *    announcer, and is in flight (W_INFLIGHT) to one of them, in that peer's
 *    `asked_q` by timeout. A freed in-flight slot takes the next ready id of
 *    its own peer's queue, so assigning costs O(1) amortised however many
 *    ids wait (the queues are lazy: an entry whose want moved on is skipped
 *    when it comes to the front). Assigned wants leave in one "want" message
 *    per peer per tick (up to KN_WIRE_IDS_MAX ids).
 *  - per peer: FIFO queues of ids to push in full (paced), to send because
 *    the peer asked (unpaced: its wants bound them), and to announce;
 *    in-flight want count; a one-second window for objects out and in; one
 *    negentropy client session (if we dialled) and one server session. What
 *    a reconciliation found is kept as two id lists and fed into the wants
 *    and the push queue a bounded amount at a time (RECON_WANTS_MAX, so the
 *    want table stays small however large the catch-up).
 *  - `pending`: ids the store holds as pending, re-checked after every store,
 *    so that an object released by a late dependency is passed on too.
 *  - `batches`: with a validate hook, received objects not yet validated,
 *    in arrival order: staged (filling), out at the hook, or back (done),
 *    moved to the inbox only from the front so that the store sees them in
 *    the order they came; each peer counts its objects there (`unverified`),
 *    which holds back its wants (backpressure) and bounds memory.
 *  - `inbox`: received objects, validated, stored together at the next tick
 *    (one write transaction); `held`: stored objects over their author's
 *    token bucket (`authors`), forwarded when the links are idle or the
 *    bucket refills.
 *  - `lag8`/`lagvar4`: how late the tree's copy comes after a lazy "have",
 *    which sets the graft wait.
 *
 * Abuse: what a peer sends unasked passes per-peer token buckets
 * (bucket.h): objects that answer none of our wants (objs_in_per_sec) and
 * want ids (wants_in_per_sec); what is over is dropped unread. A peer is at
 * fault (kn_repl_take_fault; the shell disconnects and bans it) when in one
 * ABUSE_WINDOW_MS it had more dropped than its bucket holds (it keeps
 * sending at twice its rate or more), sent REPEATS_MAX objects again that
 * it had already sent or announced on this connection (gossip never sends a
 * peer the same id twice, so that is replay), or asked for UNKNOWN_WANTS_MAX
 * ids this node never had (we never announced them). Objects from a peer
 * that are new but merely old (a peer forwarding what it just caught up) are
 * not replay.
 */
#include "repl.h"
#include "grow.h"

#include <stdlib.h>
#include <string.h>

#include "bucket.h"
#include "codec.h"
#include "negentropy.h"
#include "repl_idmap.h"
#include "store.h"
#include "wire.h"

enum {
    KNOWN_MAX = 65536,
    WANTS_MAX = 65536,
    PENDING_MAX = 1024,
    WANT_TRIES = 4, /* announcers asked before an id is left to anti-entropy */
    WANT_WAITS = 7, /* timeouts a want sits out while its peer answers the ones asked before */
    HELD_MAX = 65536, /* objects held back by the per-author bound */
    AUTHORS_MAX = 4096, /* author buckets remembered */
    SNAPSHOT_MIN_AGE_MS = 1000, /* an in-memory server snapshot is rebuilt at most this often */
    RECON_WANTS_MAX = 4096, /* wants a reconciliation keeps open at a time, per peer */
    RECON_PUSH_MAX = 1024, /* ids a reconciliation keeps queued for push, per peer */
    INBOX_WAIT_MS = 50, /* validated objects wait at most this long for a larger ingest */
    HAS_CHUNK = 256, /* ids looked up in the store at once (store_has_many) */
    ABUSE_WINDOW_MS = 10000, /* the window the abuse counters below are kept over */
    REPEATS_MAX = 256, /* objects a peer sends again unasked per window before it is a fault */
    UNKNOWN_WANTS_MAX = 1024, /* wants for ids we never had, per window */
    UNSOLICITED_BACKLOG = 256, /* a peer's unasked objects waiting for validation at most */
    INLINE_PER_TICK = 16, /* in-rate gossip validated on the caller's thread between ticks */
};

typedef struct idq {
    uint8_t (*ids)[KN_ID];
    size_t head, n, cap; /* live entries are [head, n) */
} idq;

static size_t idq_len(const idq *q)
{
    return q->n - q->head;
}

static void idq_free(idq *q)
{
    free(q->ids);
    memset(q, 0, sizeof *q);
}

static int idq_push(idq *q, const uint8_t id[KN_ID], size_t max)
{
    if (max && idq_len(q) >= max)
        return KN_ELIMIT;
    if (q->n == q->cap) {
        if (q->head > 0) {
            memmove(q->ids, q->ids + q->head, idq_len(q) * KN_ID);
            q->n -= q->head;
            q->head = 0;
        } else {
            void *p = kn_grow(q->ids, &q->cap, 16, KN_ID);
            if (!p)
                return KN_ENOMEM;
            q->ids = p;
        }
    }
    memcpy(q->ids[q->n++], id, KN_ID);
    return 0;
}

static const uint8_t *idq_front(const idq *q)
{
    return q->ids[q->head];
}

static void idq_pop(idq *q)
{
    if (++q->head == q->n)
        q->head = q->n = 0;
}

/*
 * How the first copy of an object reached us, which decides whether a later
 * duplicate prunes its link: only a push that repeats a push (or our own
 * object) shows a redundant eager link; a copy that we asked for does not.
 */
enum { HOW_NONE = 0, HOW_LOCAL, HOW_PUSH, HOW_ASKED };

typedef struct known_rec {
    uint64_t has; /* peers that told us they have it */
    uint64_t sent; /* peers we queued it for (obj or have) */
    uint64_t pushed; /* peers we pushed it to unasked: a "have" back from them is a prune */
    uint64_t asked; /* peers we sent a "want" for it: their obj answers, it is no push */
    uint64_t have_at; /* when a lazy "have" of it first came while we lacked it; 0: none */
    int8_t first; /* slot whose copy came first, -1 if local or unknown */
    uint8_t how; /* HOW_*: how the first copy came */
    uint8_t inbox; /* received, being validated or waiting in the inbox to be stored */
} known_rec;

enum { W_WAIT = 1, W_QUEUED = 2, W_INFLIGHT = 3 };

typedef struct want_rec {
    uint64_t deadline; /* W_WAIT: not before; W_INFLIGHT: timeout */
    uint64_t announcers;
    uint64_t inq; /* W_QUEUED: slots whose ready queue holds it */
    uint32_t ask_seq; /* in flight: the asked peer's ask_seq when it was asked */
    int8_t asked; /* slot asked, while in flight */
    int8_t recon; /* slot whose reconciliation found it missing, or -1 */
    uint8_t state;
    uint8_t tries;
    uint8_t waits; /* timeouts sat out behind the peer's other answers (WANT_WAITS) */
    uint8_t graft; /* it answers a lazy "have": asking grafts the link */
} want_rec;

/* An id with a time: the delayed heap (by at, then seq) and the per-peer timeout FIFOs. */
typedef struct timed {
    uint64_t at;
    uint64_t seq;
    uint8_t id[KN_ID];
} timed;

typedef struct tq {
    timed *v;
    size_t head, n, cap; /* FIFO use: live entries are [head, n) */
} tq;

/*
 * A Negentropy storage that the engine's kn_neg keeps for a whole session,
 * while the items behind it are opened per message: from the store's
 * snapshot (neg_open, closed again after the message) or from an in-memory
 * vector built once per session. Calls while it is closed fail.
 */
typedef struct neg_view {
    kn_repl *r;
    kn_neg_storage inner;
    void *snap; /* the store's snapshot while open */
    kn_neg_vector *vec; /* without neg_open */
    bool open;
} neg_view;

typedef struct peer {
    bool live;
    bool initiator;
    bool hello_seen;
    bool eager; /* Plumtree: new objects go to this peer in full, not as "have" */
    uint64_t id;
    idq push, answer, announce, want_out;
    idq bulk; /* pushes of objects the author bound held back: sent when push is empty */
    uint64_t announce_due; /* 0: nothing to announce */
    unsigned inflight;
    idq ready; /* ids of W_QUEUED wants it announced (lazy: see want_rec.inq) */
    size_t nready; /* wants with this slot in inq */
    tq asked_q; /* (timeout, id) of the wants sent to it, oldest first */
    uint64_t out_win; /* start of the current one-second window of pushes */
    unsigned out_count;
    /*
     * What it sends us unasked (see "Abuse" above kn_repl_receive): objects
     * and want ids through token buckets, and per ABUSE_WINDOW_MS what was
     * dropped over them, objects it sent again, and wants for unknown ids.
     */
    kn_bucket in_objs, in_wants;
    uint64_t abuse_win;
    unsigned dropped, repeats, unknown_wants;
    /* negentropy client (we initiate) */
    kn_neg *nc;
    neg_view ncv;
    kn_neg_ids nc_have, nc_need; /* what the last session found, fed a bit at a time */
    size_t nc_have_done, nc_need_done;
    size_t recon_open; /* wants with recon == this slot */
    kn_repl_recon rc;
    uint64_t nc_session, nc_deadline, next_neg, session_ctr;
    /* negentropy server (the peer initiates) */
    kn_neg *ns;
    neg_view nsv;
    uint64_t ns_session, ns_built;
    unsigned unverified; /* its objects staged or out at the validate hook */
    unsigned unverified_push; /* ... of them, those it sent unasked */
    size_t unverified_bytes; /* ... their encoded size */
    uint64_t answered_at; /* when it last answered one of our wants (0: never) */
    uint32_t ask_seq; /* ids asked of it so far (wrapping), */
    uint32_t answered_seq; /* ... and the ask_seq of the latest-asked one it answered */
    int fault; /* an object it sent failed validation late: refuse it with this code */
} peer;

/* A received object, validated, waiting for the next ingest batch. */
typedef struct inbox_ent {
    uint8_t *buf; /* owned copy; obj points into it */
    uint64_t peer_id; /* who sent it (looked up again: it may be gone by then) */
    bool fast; /* gossip within its author's rate (see no_fast_gossip) */
} inbox_ent;

/* One received object in a validation batch; its decoded view is in the batch's objs. */
typedef struct vent {
    uint8_t *buf; /* owned copy of the object's bytes */
    size_t len;
    uint64_t peer_id; /* who sent it (looked up again: it may be gone by then) */
    uint8_t id[KN_ID];
    bool push; /* it came unasked (counted in the peer's unverified_push too) */
} vent;

enum { B_STAGED, B_OUT, B_DONE };

struct kn_repl_batch {
    kn_repl_batch *next; /* the engine's FIFO, or its free list */
    uint64_t now; /* validate against this time */
    size_t n, cap;
    int state; /* B_* */
    vent *e; /* [cap], then objs and res, in the same allocation */
    kn_object *objs; /* decoded when staged, views into each e[i].buf */
    int *res; /* 0 or the object's validation error */
};

/* An object stored but held back by the per-author bound. */
typedef struct held_ent {
    uint8_t id[KN_ID];
    uint8_t author[KN_KEY];
} held_ent;

struct kn_repl {
    kn_repl_config cfg;
    peer peers[KN_REPL_PEERS_MAX];
    size_t npeers;
    kn_idmap known;
    kn_idmap wants;
    timed *delayed; /* min-heap of W_WAIT wants by (deadline, seq); lazy */
    size_t ndelayed, delayed_cap;
    uint64_t seq;
    bool in_tick; /* wants go out at the tick (or when a message fills up) */
    idq pending;
    inbox_ent *inbox; /* [inbox_cap], and so are inbox_obj and inbox_res */
    kn_object *inbox_obj;
    int *inbox_res;
    size_t ninbox, inbox_cap;
    uint64_t inbox_at; /* when the first object of the inbox came (validate hook only) */
    bool inbox_urgent; /* it holds gossip from an author within its rate: store at the tick */
    inbox_ent *fast_ent; /* [inbox_cap] scratch of ingest_fast */
    kn_object *fast_obj; /* [inbox_cap] */
    unsigned inline_left; /* such objects still to be validated inline before the next tick */
    held_ent *held; /* FIFO [held_head, nheld) */
    size_t held_head, nheld, held_cap;
    kn_idmap authors; /* author key -> bucket */
    kn_repl_batch *bhead, *btail; /* validation batches in arrival order */
    kn_repl_batch *bfree; /* batches to reuse */
    size_t nout; /* batches out at the validate hook */
    size_t nvalidating; /* objects in the batches */
    uint64_t faults[KN_REPL_PEERS_MAX]; /* peers to report, FIFO [fault_head, nfaults) */
    size_t fault_head, nfaults;
    /* How long after the first lazy "have" the tree's copy comes (TCP RTO style, ms x 8, x 4). */
    uint64_t lag8, lagvar4;
    kn_mp_out out;
    kn_repl_stats st;
};

/* A well-mixed 64-bit function of an id and a peer, to rank peers per object. */
static uint64_t rank(const uint8_t id[KN_ID], uint64_t peer_id)
{
    uint64_t x;
    memcpy(&x, id + 8, sizeof x);
    x ^= peer_id * 0x9e3779b97f4a7c15ull;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t jitter(kn_repl *r, uint64_t span)
{
    if (!r->cfg.env || !span)
        return 0;
    uint8_t b[4];
    kn_env_random(r->cfg.env, b, sizeof b);
    uint32_t v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return v % span;
}

static peer *find_peer(kn_repl *r, uint64_t id)
{
    for (size_t i = 0; i < KN_REPL_PEERS_MAX; i++)
        if (r->peers[i].live && r->peers[i].id == id)
            return &r->peers[i];
    return NULL;
}

static int slot_of(kn_repl *r, const peer *p)
{
    return (int)(p - r->peers);
}

static void send_out(kn_repl *r, peer *p)
{
    if (kn_mp_out_error(&r->out) == 0 && r->out.len) {
        r->st.bytes_out += r->out.len;
        (void)r->cfg.send(r->cfg.send_ctx, p->id, r->out.buf, r->out.len);
    }
    kn_mp_out_reset(&r->out);
}

static known_rec *known_put(kn_repl *r, const uint8_t id[KN_ID])
{
    int created;
    if (r->known.count >= KNOWN_MAX)
        kn_idmap_clear(&r->known);
    known_rec *k = kn_idmap_put(&r->known, id, &created);
    if (k && created)
        k->first = -1;
    return k;
}

/* Queues an id for a peer; a full queue drops it (anti-entropy finds it again). */
static void queue_id(kn_repl *r, idq *q, const uint8_t id[KN_ID])
{
    (void)idq_push(q, id, r->cfg.queue_ids_max);
}

/* We hold id: stored, or validated and waiting in the inbox. */
static bool holds(kn_repl *r, const known_rec *k, const uint8_t id[KN_ID])
{
    return (k && k->inbox) || r->cfg.store.has(r->cfg.store.ctx, id) == 1;
}

/*
 * stored[i] = the store's has() of ids[i], for n <= HAS_CHUNK ids, in one
 * has_many() call where the store offers it (one LMDB read transaction
 * instead of one per id). The engine writes nothing to the store while it
 * uses the answers, so they stay true.
 */
static void store_has_many(kn_repl *r, const uint8_t *const *ids, size_t n, uint8_t *stored)
{
    if (r->cfg.store.has_many && r->cfg.store.has_many(r->cfg.store.ctx, ids, n, stored) == 0)
        return;
    for (size_t i = 0; i < n; i++)
        stored[i] = r->cfg.store.has(r->cfg.store.ctx, ids[i]) == 1;
}

/* store_has_many, with pending objects counted as held: before fetching (see held_many). */
static void store_held_many(kn_repl *r, const uint8_t *const *ids, size_t n, uint8_t *held)
{
    if (!r->cfg.store.held_many || r->cfg.store.held_many(r->cfg.store.ctx, ids, n, held) != 0)
        store_has_many(r, ids, n, held);
}

static void set_eager(kn_repl *r, peer *p, bool eager)
{
    if (p->eager == eager)
        return;
    p->eager = eager;
    if (eager)
        r->st.grafts++;
    else
        r->st.prunes++;
}

/*
 * A new object is here (stored just now, released from pending, or let
 * through by the author bound): push it in full to the eager peers not known
 * to have it and announce it to the lazy ones at the next batch. `from` is
 * the slot it came from, or -1.
 */
static void obj_new(kn_repl *r, const uint8_t id[KN_ID], int from, bool bulk, uint64_t now)
{
    known_rec *k = known_put(r, id);
    uint64_t skip = k ? k->has | k->sent : 0;
    if (from >= 0)
        skip |= 1ull << from;
    for (int s = 0; s < KN_REPL_PEERS_MAX; s++) {
        peer *p = &r->peers[s];
        if (!p->live || (skip >> s & 1))
            continue;
        if (p->eager) {
            queue_id(r, bulk ? &p->bulk : &p->push, id);
            if (k)
                k->pushed |= 1ull << s;
        } else {
            queue_id(r, &p->announce, id);
            if (!p->announce_due)
                p->announce_due = now + r->cfg.announce_delay_ms;
        }
        if (k)
            k->sent |= 1ull << s;
    }
}

/* ---- the per-author bound ---- */

/* Takes one token from author's bucket (bucket.h); false if it is empty. */
static bool bucket_take(kn_repl *r, const uint8_t author[KN_KEY], uint64_t now)
{
    int created;
    if (r->authors.count >= AUTHORS_MAX)
        kn_idmap_clear(&r->authors); /* forgetting refills buckets: a burst at worst */
    kn_bucket *b = kn_idmap_put(&r->authors, author, &created);
    if (!b)
        return true; /* out of memory: do not hold objects back for it */
    if (created)
        kn_bucket_init(b, r->cfg.author_objs_per_sec, r->cfg.author_burst, now);
    return kn_bucket_take(b, now, 1);
}

/* The author's bucket holds a token: its objects go on at once (nothing taken). */
static bool author_within_rate(kn_repl *r, const uint8_t author[KN_KEY], uint64_t now)
{
    const kn_bucket *b = kn_idmap_get(&r->authors, author);
    return r->cfg.no_author_limit || !b || kn_bucket_level(b, now) >= 1;
}

/* Milliseconds until author's bucket holds a token again. */
static uint64_t bucket_wait(kn_repl *r, const uint8_t author[KN_KEY], uint64_t now)
{
    const kn_bucket *b = kn_idmap_get(&r->authors, author);
    return b ? kn_bucket_wait(b, now, 1) : 0;
}

static int held_push(kn_repl *r, const uint8_t id[KN_ID], const uint8_t author[KN_KEY])
{
    if (r->nheld - r->held_head >= HELD_MAX)
        return KN_ELIMIT;
    if (r->nheld == r->held_cap) {
        if (r->held_head > 0) {
            memmove(r->held, r->held + r->held_head, (r->nheld - r->held_head) * sizeof *r->held);
            r->nheld -= r->held_head;
            r->held_head = 0;
        } else {
            held_ent *h = kn_grow(r->held, &r->held_cap, 64, sizeof *h);
            if (!h)
                return KN_ENOMEM;
            r->held = h;
        }
    }
    memcpy(r->held[r->nheld].id, id, KN_ID);
    memcpy(r->held[r->nheld].author, author, KN_KEY);
    r->nheld++;
    return 0;
}

/*
 * A new object by `author` is ready to go on. Within the author's rate it
 * goes at once; beyond it, it waits in the held queue (release_held), so
 * that a flooding author's objects never sit in front of others' in the
 * peers' queues. A full held queue drops the id; anti-entropy carries it.
 */
static void forward(
    kn_repl *r, const uint8_t id[KN_ID], const uint8_t author[KN_KEY], int from, uint64_t now)
{
    if (!r->cfg.no_author_limit && !bucket_take(r, author, now)) {
        if (held_push(r, id, author) == 0)
            r->st.objs_deferred++;
        return;
    }
    obj_new(r, id, from, false, now);
}

/* ---- wants ---- */

/*
 * How long a lazy "have" waits for the tree's copy before we graft. A shared
 * tree is slow for some sources: near a long tree path the eager copy
 * regularly comes well after a neighbour's "have", and grafting then only
 * fetches a copy the tree brings anyway and closes a cycle that costs another
 * duplicate to prune. So the wait follows the lags this node has seen, like
 * TCP's retransmission timeout (mean + 4 deviations), between graft_delay_ms
 * and graft_delay_max_ms.
 */
static uint64_t graft_wait(const kn_repl *r)
{
    uint64_t t = r->lag8 / 8 + r->lagvar4;
    uint64_t lo = r->cfg.graft_delay_ms, hi = r->cfg.graft_delay_max_ms;
    return t < lo ? lo : t > hi ? hi : t;
}

static void lag_sample(kn_repl *r, uint64_t lag)
{
    if (!r->lag8) {
        r->lag8 = lag * 8;
        r->lagvar4 = lag * 2;
        return;
    }
    int64_t err = (int64_t)lag - (int64_t)(r->lag8 / 8);
    r->lag8 = (uint64_t)((int64_t)r->lag8 + err);
    uint64_t aerr = (uint64_t)(err < 0 ? -err : err);
    r->lagvar4 = r->lagvar4 + aerr - r->lagvar4 / 4;
}

/* ---- timed queues ---- */

static void tq_free(tq *q)
{
    free(q->v);
    memset(q, 0, sizeof *q);
}

static int tq_grow(timed **v, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    timed *nv = kn_grow(*v, cap, 64, sizeof *nv);
    if (!nv)
        return KN_ENOMEM;
    *v = nv;
    return 0;
}

static int tq_push(tq *q, uint64_t at, const uint8_t id[KN_ID])
{
    if (q->n == q->cap && q->head > 0) {
        memmove(q->v, q->v + q->head, (q->n - q->head) * sizeof *q->v);
        q->n -= q->head;
        q->head = 0;
    }
    if (tq_grow(&q->v, &q->cap, q->n + 1) < 0)
        return KN_ENOMEM;
    q->v[q->n].at = at;
    memcpy(q->v[q->n].id, id, KN_ID);
    q->n++;
    return 0;
}

static void tq_pop(tq *q)
{
    if (++q->head == q->n)
        q->head = q->n = 0;
}

static bool timed_less(const timed *a, const timed *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static int delayed_push(kn_repl *r, uint64_t at, const uint8_t id[KN_ID])
{
    if (tq_grow(&r->delayed, &r->delayed_cap, r->ndelayed + 1) < 0)
        return KN_ENOMEM;
    timed e = { .at = at, .seq = r->seq++ };
    memcpy(e.id, id, KN_ID);
    size_t i = r->ndelayed++;
    while (i > 0 && timed_less(&e, &r->delayed[(i - 1) / 2])) {
        r->delayed[i] = r->delayed[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    r->delayed[i] = e;
    return 0;
}

static void delayed_pop(kn_repl *r)
{
    timed e = r->delayed[--r->ndelayed];
    size_t i = 0, n = r->ndelayed;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && timed_less(&r->delayed[c + 1], &r->delayed[c]))
            c++;
        if (!timed_less(&r->delayed[c], &e))
            break;
        r->delayed[i] = r->delayed[c];
        i = c;
    }
    if (n)
        r->delayed[i] = e;
}

/* ---- wants ---- */

/*
 * An object of p's left the validation backlog. Clamped like the count: a
 * batch out at the hook when its sender went may come back after a new peer
 * took the same id.
 */
static void unverified_sub(peer *p, size_t len)
{
    p->unverified_bytes -= len <= p->unverified_bytes ? len : p->unverified_bytes;
}

/* The peer's objects waiting for validation are over the bound: ask it for nothing more now. */
static bool verify_full(const kn_repl *r, const peer *p)
{
    return r->cfg.validate
        && (p->unverified >= r->cfg.verify_backlog_max
            || p->unverified_bytes >= r->cfg.verify_backlog_bytes);
}

static void free_slot(kn_repl *r, want_rec *w)
{
    if (w->state == W_INFLIGHT && w->asked >= 0 && r->peers[w->asked].inflight)
        r->peers[w->asked].inflight--;
    for (int s = 0; w->inq && s < KN_REPL_PEERS_MAX; s++)
        if (w->inq >> s & 1) {
            w->inq &= ~(1ull << s);
            if (r->peers[s].nready)
                r->peers[s].nready--;
        }
}

/*
 * Forgets a want. got: the object came (len bytes), which a reconciliation
 * counts as fetched; otherwise it was stored by another path (had) or given
 * up on (dropped).
 */
enum { WANT_GOT, WANT_HAD, WANT_DROPPED };

static void want_del(kn_repl *r, const uint8_t id[KN_ID], want_rec *w, int why, size_t len)
{
    free_slot(r, w);
    if (w->recon >= 0) {
        peer *rp = &r->peers[w->recon];
        if (rp->recon_open)
            rp->recon_open--;
        if (why == WANT_GOT) {
            rp->rc.fetched++;
            rp->rc.fetched_bytes += len;
        } else if (why == WANT_HAD) {
            rp->rc.had++;
        } else {
            rp->rc.dropped++;
        }
    }
    kn_idmap_del(&r->wants, id);
}

/* The id arrived or was stored (or is no longer wanted): forget its want, if any. */
static void want_done(kn_repl *r, const uint8_t id[KN_ID], int why, size_t len)
{
    want_rec *w = kn_idmap_get(&r->wants, id);
    if (w)
        want_del(r, id, w, why, len);
}

/* Sends the want for id to p: it goes out with the others at the tick. */
static void want_assign(kn_repl *r, peer *p, const uint8_t id[KN_ID], want_rec *w, uint64_t now)
{
    int slot = slot_of(r, p);
    free_slot(r, w);
    /*
     * Plumtree graft: the tree failed to bring what a lazy link announced,
     * so that link joins it. Wants from anti-entropy or for a pending
     * object's refs say nothing about the tree and leave the link as it is.
     */
    if (w->graft && !r->cfg.no_prune)
        set_eager(r, p, true);
    known_rec *k = known_put(r, id);
    if (k)
        k->asked |= 1ull << slot;
    w->state = W_INFLIGHT;
    w->asked = (int8_t)slot;
    w->waits = 0;
    w->ask_seq = ++p->ask_seq;
    w->deadline = now + r->cfg.want_timeout_ms;
    p->inflight++;
    (void)tq_push(&p->asked_q, w->deadline, id);
    (void)idq_push(&p->want_out, id, 0);
}

/*
 * Drops the entries of a peer's ready queue whose want has moved on, and
 * duplicates, once they outnumber the live ones: the queue stays O(live).
 */
static void ready_compact(kn_repl *r, int s)
{
    peer *p = &r->peers[s];
    uint64_t bit = 1ull << s;
    idq keep = { 0 };
    for (size_t i = p->ready.head; i < p->ready.n; i++) {
        want_rec *w = kn_idmap_get(&r->wants, p->ready.ids[i]);
        if (w && (w->inq & bit)) {
            w->inq &= ~bit; /* a later duplicate of the same id is not kept */
            (void)idq_push(&keep, p->ready.ids[i], 0);
        }
    }
    for (size_t i = keep.head; i < keep.n; i++) {
        want_rec *w = kn_idmap_get(&r->wants, keep.ids[i]);
        w->inq |= bit;
    }
    idq_free(&p->ready);
    p->ready = keep;
}

/*
 * A want is ready to be asked (its wait is over, its last try timed out, or
 * its peer went). The announcer ranked first among those with a free slot
 * and nothing else waiting gets it at once (so ids spread over peers); if
 * every announcer is busy it waits in each one's ready queue, and the first
 * slot freed takes it. No live announcer: dropped, anti-entropy finds it.
 */
static void want_offer(kn_repl *r, const uint8_t id[KN_ID], want_rec *w, uint64_t now)
{
    int best = -1;
    uint64_t best_rank = 0;
    w->state = W_QUEUED;
    w->asked = -1;
    for (int s = 0; s < KN_REPL_PEERS_MAX; s++) {
        if (!(w->announcers >> s & 1))
            continue;
        peer *p = &r->peers[s];
        if (!p->live) {
            w->announcers &= ~(1ull << s);
            continue;
        }
        if (p->inflight >= r->cfg.wants_max || p->nready || verify_full(r, p))
            continue;
        uint64_t rk = rank(id, p->id) + w->tries;
        if (best < 0 || rk < best_rank) {
            best = s;
            best_rank = rk;
        }
    }
    if (!w->announcers) {
        want_del(r, id, w, WANT_DROPPED, 0);
        return;
    }
    if (best >= 0) {
        want_assign(r, &r->peers[best], id, w, now);
        return;
    }
    for (int s = 0; s < KN_REPL_PEERS_MAX; s++) {
        if (!(w->announcers >> s & 1) || (w->inq >> s & 1))
            continue;
        if (idq_len(&r->peers[s].ready) > 2 * r->peers[s].nready + 1024)
            ready_compact(r, s);
        if (idq_push(&r->peers[s].ready, id, 0) == 0) {
            w->inq |= 1ull << s;
            r->peers[s].nready++;
        }
    }
    if (!w->inq)
        want_del(r, id, w, WANT_DROPPED, 0); /* out of memory: leave it to anti-entropy */
}

/*
 * We lack id and `slot` has it (announced, or it must have it): remember to
 * ask, not before not_before. recon: a reconciliation with slot found it.
 * Returns true if the want is tagged with slot's reconciliation.
 */
static bool want_add(kn_repl *r, const uint8_t id[KN_ID], int slot, uint64_t not_before, bool graft,
    bool recon, uint64_t now)
{
    want_rec *w = kn_idmap_get(&r->wants, id);
    bool fresh = false;
    if (!w) {
        if (r->wants.count >= WANTS_MAX)
            return false;
        if (!(w = kn_idmap_put(&r->wants, id, NULL)))
            return false;
        w->asked = -1;
        w->recon = -1;
        w->state = W_WAIT;
        w->deadline = not_before;
        fresh = true;
    }
    if (graft)
        w->graft = 1;
    uint64_t bit = 1ull << slot;
    bool added = !(w->announcers & bit);
    w->announcers |= bit;
    bool tagged = false;
    if (recon && w->recon < 0) {
        w->recon = (int8_t)slot;
        r->peers[slot].recon_open++;
        tagged = true;
    }
    if (fresh) {
        if (not_before > now) {
            if (delayed_push(r, not_before, id) < 0)
                want_del(r, id, w, WANT_DROPPED, 0);
        } else {
            want_offer(r, id, w, now);
        }
    } else if (added && w->state == W_QUEUED) {
        want_offer(r, id, w, now); /* the new announcer may be free */
    }
    return tagged;
}

/*
 * Moves wants whose wait is over to their announcers, then lets every peer
 * with free in-flight slots take ready ids from its queue, one per peer per
 * pass so that peers share. Costs O(ids assigned + stale entries skipped).
 */
static void assign_wants(kn_repl *r, uint64_t now)
{
    while (r->ndelayed && r->delayed[0].at <= now) {
        timed e = r->delayed[0];
        delayed_pop(r);
        want_rec *w = kn_idmap_get(&r->wants, e.id);
        if (w && w->state == W_WAIT && w->deadline == e.at)
            want_offer(r, e.id, w, now);
    }
    bool progress = true;
    while (progress) {
        progress = false;
        for (int s = 0; s < KN_REPL_PEERS_MAX; s++) {
            peer *p = &r->peers[s];
            if (!p->live || p->inflight >= r->cfg.wants_max || verify_full(r, p))
                continue;
            while (idq_len(&p->ready)) {
                uint8_t id[KN_ID];
                memcpy(id, idq_front(&p->ready), KN_ID);
                idq_pop(&p->ready);
                want_rec *w = kn_idmap_get(&r->wants, id);
                if (!w || !(w->inq >> s & 1))
                    continue; /* moved on since it was queued here */
                want_assign(r, p, id, w, now);
                progress = true;
                break;
            }
        }
    }
}

static void send_ids(kn_repl *r, peer *p, idq *q, kn_wire_kind kind)
{
    while (idq_len(q)) {
        size_t n = idq_len(q);
        if (n > KN_WIRE_IDS_MAX)
            n = KN_WIRE_IDS_MAX;
        if (kn_wire_write_ids(&r->out, kind, (const uint8_t(*)[KN_ID])q->ids + q->head, n) == 0) {
            if (kind == KN_WIRE_HAVE)
                r->st.haves_out += n;
            else
                r->st.wants_out += n;
            send_out(r, p);
        } else {
            kn_mp_out_reset(&r->out);
        }
        q->head += n;
        if (q->head == q->n)
            q->head = q->n = 0;
    }
}

static bool backlogged(kn_repl *r, const peer *p, size_t limit)
{
    return r->cfg.queued && r->cfg.queued(r->cfg.send_ctx, p->id) > limit;
}

/* Sends what a peer is owed now: wants, paced pushes, and due announcements. */
static void flush_peer(kn_repl *r, peer *p, uint64_t now)
{
    int slot = slot_of(r, p);
    /* Wants go once per tick, so the ids freed by a burst of answers share a message. */
    if (idq_len(&p->want_out) && (r->in_tick || idq_len(&p->want_out) >= KN_WIRE_IDS_MAX))
        send_ids(r, p, &p->want_out, KN_WIRE_WANT);
    for (;;) {
        /*
         * Pushes are paced; what the peer asked for is bounded by its own
         * wants in flight. Objects the author bound held back (bulk) go only
         * when no other push waits, so they never sit in front of an
         * object of an author within its rate.
         */
        idq *q = NULL;
        if (idq_len(&p->push) || idq_len(&p->bulk)) {
            if (now >= p->out_win + 1000) {
                p->out_win = now;
                p->out_count = 0;
            }
            if (p->out_count < r->cfg.objs_per_sec)
                q = idq_len(&p->push) ? &p->push : &p->bulk;
        }
        if (!q && idq_len(&p->answer))
            q = &p->answer;
        if (!q || backlogged(r, p, r->cfg.queue_bytes_max))
            break;
        uint8_t id[KN_ID];
        memcpy(id, idq_front(q), KN_ID);
        idq_pop(q);
        known_rec *k = kn_idmap_get(&r->known, id);
        if (q != &p->answer && k && (k->has >> slot & 1))
            continue; /* it told us meanwhile */
        uint8_t *buf = NULL;
        size_t len = 0;
        if (r->cfg.store.get(r->cfg.store.ctx, id, &buf, &len) < 0)
            continue;
        if (kn_wire_write_obj(&r->out, buf, len) == 0) {
            r->st.objs_out++;
            if (q != &p->answer)
                p->out_count++;
            send_out(r, p);
        }
        kn_mp_out_reset(&r->out);
        free(buf);
    }
    if (p->announce_due && now >= p->announce_due) {
        p->announce_due = 0;
        /* Drop ids the peer told us about while they waited. */
        idq keep = { 0 };
        for (size_t i = p->announce.head; i < p->announce.n; i++) {
            known_rec *k = kn_idmap_get(&r->known, p->announce.ids[i]);
            if (!(k && (k->has >> slot & 1)))
                (void)idq_push(&keep, p->announce.ids[i], 0);
        }
        idq_free(&p->announce);
        send_ids(r, p, &keep, KN_WIRE_HAVE);
        idq_free(&keep);
    }
}

/* Nothing waits to be pushed and no transport holds more than queue_bytes_idle. */
static bool links_idle(kn_repl *r)
{
    for (int s = 0; s < KN_REPL_PEERS_MAX; s++) {
        peer *p = &r->peers[s];
        if (p->live
            && (idq_len(&p->push) || idq_len(&p->bulk)
                || backlogged(r, p, r->cfg.queue_bytes_idle)))
            return false;
    }
    return true;
}

/*
 * Lets held objects go, oldest first: while the links are idle (the held
 * objects then delay nobody), or when their author's bucket has refilled.
 */
static void release_held(kn_repl *r, uint64_t now)
{
    while (r->held_head < r->nheld) {
        held_ent *h = &r->held[r->held_head];
        if (!links_idle(r) && !bucket_take(r, h->author, now))
            break;
        uint8_t id[KN_ID];
        memcpy(id, h->id, KN_ID);
        if (++r->held_head == r->nheld)
            r->held_head = r->nheld = 0;
        obj_new(r, id, -1, true, now);
        for (int s = 0; s < KN_REPL_PEERS_MAX; s++)
            if (r->peers[s].live && idq_len(&r->peers[s].bulk))
                flush_peer(r, &r->peers[s], now);
    }
}

static void recon_feed(kn_repl *r, peer *p, uint64_t now);

static void flush_all(kn_repl *r, uint64_t now)
{
    for (int s = 0; s < KN_REPL_PEERS_MAX; s++) {
        peer *p = &r->peers[s];
        if (p->live && p->rc.started_ms && !p->rc.finished_ms)
            recon_feed(r, p, now);
    }
    assign_wants(r, now);
    for (int s = 0; s < KN_REPL_PEERS_MAX; s++)
        if (r->peers[s].live)
            flush_peer(r, &r->peers[s], now);
    if (r->held_head < r->nheld)
        release_held(r, now);
}

/* Objects the store released from pending since we last looked are new objects too. */
static void check_pending(kn_repl *r, uint64_t now)
{
    idq keep = { 0 };
    for (size_t i = r->pending.head; i < r->pending.n; i++) {
        if (r->cfg.store.has(r->cfg.store.ctx, r->pending.ids[i]) == 1) {
            want_done(r, r->pending.ids[i], WANT_HAD, 0);
            obj_new(r, r->pending.ids[i], -1, false, now);
        } else
            (void)idq_push(&keep, r->pending.ids[i], 0);
    }
    idq_free(&r->pending);
    r->pending = keep;
}

/* The store held o as pending: ask the peer that sent it (it stored it, so it has the refs). */
static void on_pending(kn_repl *r, const kn_object *o, int from, uint64_t now)
{
    (void)idq_push(&r->pending, o->id, PENDING_MAX);
    if (from >= 0)
        for (uint32_t i = 0; i < o->nrefs; i++)
            if (r->cfg.store.has(r->cfg.store.ctx, o->refs[i]) != 1)
                (void)want_add(r, o->refs[i], from, 0, false, false, now);
}

/*
 * Stores the inbox in one ingest call (one write transaction for LMDB) and
 * forwards what was new. A failed transaction drops the batch unstored;
 * wants and anti-entropy bring it again.
 */
static void ingest_first(kn_repl *r, size_t n, uint64_t now);

static void ingest_inbox(kn_repl *r, uint64_t now)
{
    ingest_first(r, r->ninbox, now);
}

/*
 * Stores only the inbox's fast objects (gossip within its author's rate),
 * in a small transaction of their own, and leaves the rest to fill up: they
 * need not wait for a large batch, nor sit in one.
 */
static void ingest_fast(kn_repl *r, uint64_t now)
{
    size_t k = 0, nf = 0;
    inbox_ent *e = r->fast_ent;
    kn_object *o = r->fast_obj;
    for (size_t i = 0; i < r->ninbox; i++)
        if (r->inbox[i].fast) {
            e[nf] = r->inbox[i];
            o[nf++] = r->inbox_obj[i];
        } else {
            r->inbox[k] = r->inbox[i];
            r->inbox_obj[k++] = r->inbox_obj[i];
        }
    /* The fast ones first, in their order, then the others, in theirs. */
    memmove(r->inbox + nf, r->inbox, k * sizeof *r->inbox);
    memmove(r->inbox_obj + nf, r->inbox_obj, k * sizeof *r->inbox_obj);
    memcpy(r->inbox, e, nf * sizeof *e);
    memcpy(r->inbox_obj, o, nf * sizeof *o);
    ingest_first(r, nf, now);
}

/* Stores the first n objects of the inbox in one ingest call; the rest move up. */
static void ingest_first(kn_repl *r, size_t n, uint64_t now)
{
    r->inbox_urgent = false;
    if (!n)
        return;
    size_t rest = r->ninbox - n;
    r->ninbox = 0;
    r->st.ingest_calls++;
    int rc = r->cfg.store.ingest(r->cfg.store.ctx, r->inbox_obj, n, r->inbox_res);
    bool stored = false;
    for (size_t i = 0; i < n; i++) {
        const kn_object *o = &r->inbox_obj[i];
        known_rec *k = kn_idmap_get(&r->known, o->id);
        if (k)
            k->inbox = 0;
        peer *p = find_peer(r, r->inbox[i].peer_id);
        int from = p ? slot_of(r, p) : -1;
        int res = rc < 0 ? rc : r->inbox_res[i];
        if (res == KN_PUT_STORED) {
            r->st.objs_new++;
            stored = true;
            forward(r, o->id, o->author, from, now);
        } else if (res == KN_PUT_PENDING) {
            r->st.objs_pending++;
            on_pending(r, o, from, now);
        } else if (res == KN_PUT_DUPLICATE || res == KN_PUT_TOMBSTONED) {
            r->st.objs_dup++;
        } else {
            r->st.objs_refused++; /* not the peer's fault: its roster may differ from ours */
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(r->inbox[i].buf);
        r->inbox[i].buf = NULL;
    }
    if (rest) {
        memmove(r->inbox, r->inbox + n, rest * sizeof *r->inbox);
        memmove(r->inbox_obj, r->inbox_obj + n, rest * sizeof *r->inbox_obj);
        r->ninbox = rest;
    }
    if (stored && idq_len(&r->pending))
        check_pending(r, now);
}

/* ---- validation batches (with a validate hook) ---- */

/*
 * kn_object_validate() after its decode: on_obj() has decoded the object
 * already (it needs the id to dedupe), so the validator does not decode and
 * hash it a second time. The steps and their order are kn_object_validate's.
 */
static int validate_decoded(const kn_object *o, uint64_t now)
{
    int rc = kn_object_check_schema(o);
    if (rc < 0)
        return rc;
    if (o->created > now && o->created - now > KN_FUTURE_SKEW_MS)
        return KN_EFUTURE;
    return kn_object_verify(o);
}

/* Moves a decoded view from the bytes at `from` to an identical copy of them at `to`. */
static void object_rebase(kn_object *o, const uint8_t *from, const uint8_t *to)
{
#define REBASE(ptr) ((ptr) = (const void *)(to + ((const uint8_t *)(ptr)-from)))
    REBASE(o->raw);
    REBASE(o->author);
    REBASE(o->space);
    for (uint32_t i = 0; i < o->nrefs; i++)
        REBASE(o->refs[i]);
    REBASE(o->body);
    REBASE(o->sig);
#undef REBASE
}

static kn_repl_batch *batch_alloc(size_t cap)
{
    size_t ve = cap * sizeof(vent), ob = cap * sizeof(kn_object);
    kn_repl_batch *b = malloc(sizeof *b + ve + ob + cap * sizeof(int));
    if (!b)
        return NULL;
    memset(b, 0, sizeof *b);
    b->cap = cap;
    b->e = (vent *)(b + 1);
    b->objs = (kn_object *)((uint8_t *)b->e + ve);
    b->res = (int *)((uint8_t *)b->objs + ob);
    return b;
}

/* The batch a received object joins: the last one if it is still filling, else a new one. */
static kn_repl_batch *batch_staging(kn_repl *r)
{
    kn_repl_batch *b = r->btail;
    if (b && b->state == B_STAGED && b->n < b->cap)
        return b;
    if ((b = r->bfree))
        r->bfree = b->next;
    else if (!(b = batch_alloc(r->cfg.validate_batch)))
        return NULL;
    b->next = NULL;
    b->n = 0;
    b->state = B_STAGED;
    if (r->btail)
        r->btail->next = b;
    else
        r->bhead = b;
    r->btail = b;
    return b;
}

/*
 * Forgets a peer's objects that wait in staged batches (not yet at the
 * validate hook), so that a peer at fault or gone does not keep others'
 * objects waiting behind its own; batches emptied are unlinked. Objects out
 * at the hook come back and are dropped in batches_apply.
 */
static void purge_staged(kn_repl *r, peer *p)
{
    kn_repl_batch *prev = NULL;
    for (kn_repl_batch *b = r->bhead; b;) {
        kn_repl_batch *next = b->next;
        if (b->state == B_STAGED) {
            size_t k = 0;
            for (size_t i = 0; i < b->n; i++) {
                if (b->e[i].peer_id != p->id) {
                    b->e[k] = b->e[i];
                    b->objs[k] = b->objs[i];
                    k++;
                    continue;
                }
                known_rec *kr = kn_idmap_get(&r->known, b->e[i].id);
                if (kr)
                    kr->inbox = 0; /* not held: another copy may come */
                free(b->e[i].buf);
                r->nvalidating--;
                if (p->unverified)
                    p->unverified--;
                unverified_sub(p, b->e[i].len);
                if (b->e[i].push && p->unverified_push)
                    p->unverified_push--;
            }
            b->n = k;
            if (!k) {
                if (prev)
                    prev->next = next;
                else
                    r->bhead = next;
                if (r->btail == b)
                    r->btail = prev;
                b->next = r->bfree;
                r->bfree = b;
                b = next;
                continue;
            }
        }
        prev = b;
        b = next;
    }
}

static void fault(kn_repl *r, peer *p, int code)
{
    if (p->fault)
        return;
    p->fault = code;
    purge_staged(r, p);
    if (r->nfaults == KN_REPL_PEERS_MAX) {
        memmove(
            r->faults, r->faults + r->fault_head, (r->nfaults - r->fault_head) * sizeof *r->faults);
        r->nfaults -= r->fault_head;
        r->fault_head = 0;
    }
    if (r->nfaults < KN_REPL_PEERS_MAX)
        r->faults[r->nfaults++] = p->id;
}

/*
 * Moves the batches at the front that are back from validation into the
 * inbox, in arrival order (a batch back early waits for the ones before
 * it). Invalid objects are dropped and their senders become faults, except
 * for a clock ahead of ours, which is no malice (as inline).
 */
static void batches_apply(kn_repl *r, uint64_t now)
{
    while (r->bhead && r->bhead->state == B_DONE) {
        kn_repl_batch *b = r->bhead;
        if (!(r->bhead = b->next))
            r->btail = NULL;
        for (size_t i = 0; i < b->n; i++) {
            vent *e = &b->e[i];
            peer *p = find_peer(r, e->peer_id);
            if (p && p->unverified)
                p->unverified--;
            if (p)
                unverified_sub(p, e->len);
            if (p && e->push && p->unverified_push)
                p->unverified_push--;
            r->nvalidating--;
            if (b->res[i] < 0 || (p && p->fault)) {
                /* Invalid, or from a peer at fault: what it sent is not taken. */
                known_rec *k = kn_idmap_get(&r->known, e->id);
                if (k)
                    k->inbox = 0; /* not held: another copy may come */
                free(e->buf);
                r->st.objs_refused++;
                if (p && b->res[i] < 0 && b->res[i] != KN_EFUTURE)
                    fault(r, p, b->res[i]);
                continue;
            }
            if (r->ninbox == r->inbox_cap)
                ingest_inbox(r, now);
            if (!r->ninbox)
                r->inbox_at = now;
            /*
             * Fresh gossip from an author within its rate does not wait for
             * the inbox to fill: only catch-up (answers to our wants) and a
             * flooding author's objects are worth batching, and a flood must
             * not delay the others (tests/integration/flood_author.sh).
             */
            bool fast = e->push && !r->cfg.no_fast_gossip
                && author_within_rate(r, b->objs[i].author, now);
            r->inbox_urgent |= fast;
            r->inbox[r->ninbox].buf = e->buf;
            r->inbox[r->ninbox].peer_id = e->peer_id;
            r->inbox[r->ninbox].fast = fast;
            r->inbox_obj[r->ninbox] = b->objs[i];
            r->ninbox++;
        }
        b->n = 0;
        b->next = r->bfree;
        r->bfree = b;
    }
}

/*
 * Hands staged batches to the validate hook, oldest first, while fewer than
 * validate_max_out are out; a batch still filling goes only if `partial`
 * (at the tick: nothing more arrives before the loop sleeps). A batch the
 * hook cannot take is validated here at once.
 */
static void batches_submit(kn_repl *r, uint64_t now, bool partial)
{
    bool inline_done = false;
    for (kn_repl_batch *b = r->bhead; b && r->nout < r->cfg.validate_max_out; b = b->next) {
        if (b->state != B_STAGED)
            continue;
        if (!b->n || (b->n < b->cap && !partial))
            break;
        b->now = now;
        b->state = B_OUT;
        r->nout++;
        r->st.validate_batches++;
        if (r->cfg.validate(r->cfg.validate_ctx, b) < 0) {
            kn_repl_batch_run(b);
            b->state = B_DONE;
            r->nout--;
            inline_done = true;
        }
    }
    if (inline_done)
        batches_apply(r, now);
}

void kn_repl_batch_run(kn_repl_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        b->res[i] = validate_decoded(&b->objs[i], b->now);
}

/* ---- negentropy ---- */

static int add_item(void *ctx, uint64_t created, const uint8_t id[KN_ID])
{
    return kn_neg_vector_insert(ctx, created, id);
}

/* The whole store as a sorted vector: O(n), for stores without neg_open (the simulator's). */
static int snapshot(kn_repl *r, kn_neg_vector **out)
{
    kn_neg_vector *v = NULL;
    int rc = kn_neg_vector_new(&v);
    if (rc < 0)
        return rc;
    if ((rc = r->cfg.store.each_item(r->cfg.store.ctx, add_item, v)) < 0
        || (rc = kn_neg_vector_seal(v)) < 0) {
        kn_neg_vector_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

static int view_size(void *ctx, size_t *out)
{
    neg_view *v = ctx;
    return v->open ? v->inner.size(v->inner.ctx, out) : KN_ESTATE;
}

static int view_get(void *ctx, size_t index, kn_neg_item *out)
{
    neg_view *v = ctx;
    return v->open ? v->inner.get(v->inner.ctx, index, out) : KN_ESTATE;
}

static int view_lower_bound(
    void *ctx, size_t begin, size_t end, const kn_neg_item *bound, size_t *out)
{
    neg_view *v = ctx;
    return v->open ? v->inner.lower_bound(v->inner.ctx, begin, end, bound, out) : KN_ESTATE;
}

static int view_fingerprint(
    void *ctx, size_t begin, size_t end, uint8_t out[static KN_NEG_FINGERPRINT])
{
    neg_view *v = ctx;
    return v->open ? v->inner.fingerprint(v->inner.ctx, begin, end, out) : KN_ESTATE;
}

static kn_neg_storage view_storage(neg_view *v)
{
    kn_neg_storage st = { .ctx = v,
        .size = view_size,
        .get = view_get,
        .lower_bound = view_lower_bound,
        .fingerprint = view_fingerprint };
    return st;
}

/*
 * Opens the items for one message: a fresh store snapshot (closed again by
 * view_close before the engine touches the store otherwise), or the
 * session's vector, built on first use.
 */
static int view_open(kn_repl *r, neg_view *v)
{
    int rc;
    v->r = r;
    if (r->cfg.store.neg_open) {
        if ((rc = r->cfg.store.neg_open(r->cfg.store.ctx, &v->snap, &v->inner)) < 0)
            return rc;
        v->open = true;
        return 0;
    }
    if (!v->vec) {
        if ((rc = snapshot(r, &v->vec)) < 0)
            return rc;
        v->inner = kn_neg_vector_storage(v->vec);
    }
    v->open = true;
    return 0;
}

static void view_close(neg_view *v)
{
    if (v->open && v->snap)
        v->r->cfg.store.neg_close(v->r->cfg.store.ctx, v->snap);
    v->snap = NULL;
    if (!v->vec)
        v->open = false;
}

static void view_free(neg_view *v)
{
    view_close(v);
    kn_neg_vector_free(v->vec);
    v->vec = NULL;
    v->open = false;
}

static void neg_client_end(peer *p)
{
    kn_neg_free(p->nc);
    view_free(&p->ncv);
    p->nc = NULL;
}

static void recon_lists_free(peer *p)
{
    kn_neg_ids_free(&p->nc_have);
    kn_neg_ids_free(&p->nc_need);
    memset(&p->nc_have, 0, sizeof p->nc_have);
    memset(&p->nc_need, 0, sizeof p->nc_need);
    p->nc_have_done = p->nc_need_done = 0;
}

static void neg_server_end(peer *p)
{
    kn_neg_free(p->ns);
    view_free(&p->nsv);
    p->ns = NULL;
}

/* Our client sessions carry our role in the low bit, so a late answer is never taken for a request.
 */
static uint64_t role_bit(const peer *p)
{
    return p->initiator ? 1 : 0;
}

/* Everything the last reconciliation found is fed in and resolved. */
static bool recon_idle(const peer *p)
{
    return p->nc_need_done == p->nc_need.count && p->nc_have_done == p->nc_have.count
        && p->recon_open == 0;
}

/*
 * Feeds what the reconciliation found into the wants (needs) and the push
 * queue (haves), a bounded amount at a time, and books the end of the
 * reconciliation once the rounds are over and every need is resolved.
 */
static void recon_feed(kn_repl *r, peer *p, uint64_t now)
{
    int slot = slot_of(r, p);
    while (p->nc_need_done < p->nc_need.count && p->recon_open < RECON_WANTS_MAX
        && r->wants.count < WANTS_MAX) {
        /* The next ids that can become wants, looked up in the store together. */
        const uint8_t *ids[HAS_CHUNK];
        uint8_t stored[HAS_CHUNK];
        size_t n = p->nc_need.count - p->nc_need_done;
        if (n > RECON_WANTS_MAX - p->recon_open)
            n = RECON_WANTS_MAX - p->recon_open; /* each want takes one of them at most */
        if (n > HAS_CHUNK)
            n = HAS_CHUNK;
        for (size_t i = 0; i < n; i++)
            ids[i] = p->nc_need.ids[p->nc_need_done + i];
        store_held_many(r, ids, n, stored);
        for (size_t i = 0; i < n && p->recon_open < RECON_WANTS_MAX && r->wants.count < WANTS_MAX;
             i++) {
            p->nc_need_done++;
            known_rec *k = known_put(r, ids[i]);
            if (k)
                k->has |= 1ull << slot; /* the peer has it */
            if ((k && k->inbox) || stored[i]) /* holds() */
                p->rc.had++;
            else if (!want_add(r, ids[i], slot, 0, false, true, now))
                p->rc.had++; /* already wanted for this peer's last round, or no room */
        }
    }
    while (p->nc_have_done < p->nc_have.count && idq_len(&p->push) < RECON_PUSH_MAX) {
        const uint8_t *id = p->nc_have.ids[p->nc_have_done++];
        known_rec *k = known_put(r, id);
        if (k)
            k->sent |= 1ull << slot;
        queue_id(r, &p->push, id);
    }
    if (!p->nc && p->rc.started_ms && !p->rc.finished_ms && recon_idle(p)) {
        p->rc.finished_ms = now;
        recon_lists_free(p);
    }
}

static int neg_start(kn_repl *r, peer *p, uint64_t now)
{
    const uint8_t *msg;
    size_t len;
    int rc;
    neg_client_end(p);
    recon_lists_free(p);
    kn_neg_storage st = view_storage(&p->ncv);
    if ((rc = kn_neg_new(&p->nc, &st, KN_REPL_NEG_FRAME)) < 0)
        return rc;
    if ((rc = view_open(r, &p->ncv)) < 0 || (rc = kn_neg_initiate(p->nc, &msg, &len)) < 0) {
        neg_client_end(p);
        return rc;
    }
    view_close(&p->ncv);
    memset(&p->rc, 0, sizeof p->rc);
    p->rc.started_ms = now;
    p->nc_session = (++p->session_ctr << 1) | role_bit(p);
    p->nc_deadline = now + r->cfg.neg_timeout_ms;
    p->next_neg = now + r->cfg.neg_interval_ms + jitter(r, r->cfg.neg_interval_ms / 10);
    r->st.neg_sessions++;
    if (kn_wire_write_neg(&r->out, p->nc_session, msg, len) == 0)
        send_out(r, p);
    kn_mp_out_reset(&r->out);
    return 0;
}

static int on_neg(kn_repl *r, peer *p, const kn_wire_msg *m, uint64_t now)
{
    const uint8_t *out = NULL;
    size_t out_len = 0;
    int rc;

    if ((m->session & 1) == role_bit(p)) {
        /* An answer to one of our sessions; a late one for an abandoned session is ignored. */
        if (!p->nc || m->session != p->nc_session)
            return 0;
        r->st.neg_rounds++;
        p->rc.rounds++;
        if ((rc = view_open(r, &p->ncv)) == 0)
            rc = kn_neg_reconcile_client(
                p->nc, m->data, m->data_len, &out, &out_len, &p->nc_have, &p->nc_need);
        view_close(&p->ncv);
        p->rc.needs = p->nc_need.count;
        p->rc.haves = p->nc_have.count;
        if (rc < 0) {
            neg_client_end(p);
            return rc;
        }
        if (rc == KN_NEG_DONE) {
            r->st.neg_done++;
            p->rc.complete = true;
            neg_client_end(p);
            return 0;
        }
        p->nc_deadline = now + r->cfg.neg_timeout_ms;
        if (kn_wire_write_neg(&r->out, p->nc_session, out, out_len) == 0)
            send_out(r, p);
        kn_mp_out_reset(&r->out);
        return 0;
    }

    /* A request. An in-memory snapshot is rebuilt at most every SNAPSHOT_MIN_AGE_MS. */
    if (p->ns && p->ns_session != m->session && now >= p->ns_built + SNAPSHOT_MIN_AGE_MS)
        neg_server_end(p);
    if (!p->ns) {
        kn_neg_storage st = view_storage(&p->nsv);
        if ((rc = kn_neg_new(&p->ns, &st, KN_REPL_NEG_FRAME)) < 0)
            return rc;
        p->ns_built = now;
    }
    p->ns_session = m->session;
    if ((rc = view_open(r, &p->nsv)) == 0)
        rc = kn_neg_reconcile_server(p->ns, m->data, m->data_len, &out, &out_len);
    view_close(&p->nsv);
    if (rc < 0) {
        neg_server_end(p);
        return rc;
    }
    if (kn_wire_write_neg(&r->out, m->session, out, out_len) == 0)
        send_out(r, p);
    kn_mp_out_reset(&r->out);
    return 0;
}

/* ---- public ---- */

int kn_repl_new(kn_repl **out, const kn_repl_config *cfg)
{
    *out = NULL;
    if (!cfg || !cfg->send || !cfg->store.has || !cfg->store.get || !cfg->store.ingest
        || (!cfg->store.each_item && !cfg->store.neg_open)
        || (cfg->store.neg_open && !cfg->store.neg_close))
        return KN_EINVAL;
    kn_repl *r = calloc(1, sizeof *r);
    if (!r)
        return KN_ENOMEM;
    r->cfg = *cfg;
#define DEFAULT(f, v)                                                                              \
    if (!r->cfg.f)                                                                                 \
    r->cfg.f = (v)
    DEFAULT(fanout, 3);
    DEFAULT(wants_max, 1024);
    DEFAULT(want_timeout_ms, 2000);
    DEFAULT(announce_delay_ms, 50);
    DEFAULT(neg_interval_ms, 60000);
    DEFAULT(neg_timeout_ms, 20000);
    DEFAULT(objs_per_sec, 2000);
    DEFAULT(queue_bytes_max, 1u << 20);
    DEFAULT(queue_ids_max, 16384);
    DEFAULT(graft_delay_ms, 200);
    DEFAULT(graft_delay_max_ms, 2000);
    DEFAULT(author_objs_per_sec, 20);
    DEFAULT(author_burst, 2 * r->cfg.author_objs_per_sec);
    DEFAULT(queue_bytes_idle, 16u << 10);
    DEFAULT(validate_batch, 64);
    DEFAULT(validate_max_out, 2);
    DEFAULT(verify_backlog_max, 1024);
    DEFAULT(verify_backlog_bytes, 8u << 20);
    DEFAULT(objs_in_per_sec, 4 * r->cfg.objs_per_sec);
    DEFAULT(wants_in_per_sec, 32768);
#undef DEFAULT
    if (r->cfg.validate_batch > 4096)
        r->cfg.validate_batch = 4096;
    kn_idmap_init(&r->known, sizeof(known_rec));
    kn_idmap_init(&r->wants, sizeof(want_rec));
    kn_idmap_init(&r->authors, sizeof(kn_bucket));
    kn_mp_out_init(&r->out, KN_WIRE_MSG_MAX);
    /*
     * With validation on other threads the loop has time to spare for larger
     * write transactions, and each costs a commit (an fsync for LMDB).
     */
    r->inbox_cap = r->cfg.validate ? KN_REPL_INBOX_ASYNC_MAX : KN_REPL_INBOX_MAX;
    r->inline_left = INLINE_PER_TICK;
    r->inbox = malloc(r->inbox_cap * sizeof *r->inbox);
    r->inbox_obj = malloc(r->inbox_cap * sizeof *r->inbox_obj);
    r->inbox_res = malloc(r->inbox_cap * sizeof *r->inbox_res);
    r->fast_ent = malloc(r->inbox_cap * sizeof *r->fast_ent);
    r->fast_obj = malloc(r->inbox_cap * sizeof *r->fast_obj);
    if (!r->inbox || !r->inbox_obj || !r->inbox_res || !r->fast_ent || !r->fast_obj) {
        kn_repl_free(r);
        return KN_ENOMEM;
    }
    *out = r;
    return 0;
}

static void peer_clear(peer *p)
{
    idq_free(&p->push);
    idq_free(&p->bulk);
    idq_free(&p->answer);
    idq_free(&p->announce);
    idq_free(&p->want_out);
    idq_free(&p->ready);
    tq_free(&p->asked_q);
    neg_client_end(p);
    neg_server_end(p);
    recon_lists_free(p);
    memset(p, 0, sizeof *p);
}

void kn_repl_free(kn_repl *r)
{
    if (!r)
        return;
    for (int s = 0; s < KN_REPL_PEERS_MAX; s++)
        peer_clear(&r->peers[s]);
    for (size_t i = 0; i < r->ninbox; i++)
        free(r->inbox[i].buf);
    free(r->inbox);
    free(r->inbox_obj);
    free(r->inbox_res);
    free(r->fast_ent);
    free(r->fast_obj);
    while (r->bhead) {
        kn_repl_batch *b = r->bhead;
        r->bhead = b->next;
        for (size_t i = 0; i < b->n; i++)
            free(b->e[i].buf);
        free(b);
    }
    while (r->bfree) {
        kn_repl_batch *b = r->bfree;
        r->bfree = b->next;
        free(b);
    }
    kn_idmap_free(&r->known);
    kn_idmap_free(&r->wants);
    kn_idmap_free(&r->authors);
    free(r->delayed);
    idq_free(&r->pending);
    free(r->held);
    kn_mp_out_free(&r->out);
    free(r);
}

int kn_repl_peer_up(kn_repl *r, uint64_t peer_id, bool initiator, uint64_t now)
{
    if (find_peer(r, peer_id))
        return KN_EEXIST;
    peer *p = NULL;
    unsigned eager = 0;
    for (int s = 0; s < KN_REPL_PEERS_MAX; s++) {
        if (!r->peers[s].live && !p)
            p = &r->peers[s];
        else if (r->peers[s].live && r->peers[s].eager)
            eager++;
    }
    if (!p)
        return KN_ELIMIT;
    memset(p, 0, sizeof *p);
    p->live = true;
    p->id = peer_id;
    p->initiator = initiator;
    kn_bucket_init(&p->in_objs, r->cfg.objs_in_per_sec, r->cfg.objs_in_per_sec, now);
    kn_bucket_init(&p->in_wants, r->cfg.wants_in_per_sec, r->cfg.wants_in_per_sec, now);
    p->abuse_win = now;
    p->eager = eager < r->cfg.fanout;
    r->npeers++;
    int slot = slot_of(r, p);
    /* A reused slot must not inherit what its previous peer knew. */
    uint64_t keep = ~(1ull << slot);
    for (size_t i = 0; i < r->known.cap; i++) {
        known_rec *k = kn_idmap_slot(&r->known, i, NULL);
        if (k) {
            k->has &= keep;
            k->sent &= keep;
            k->pushed &= keep;
            k->asked &= keep;
            if (k->first == slot)
                k->first = -1;
        }
    }
    if (kn_wire_write_hello(&r->out, KN_WIRE_VERSION, r->cfg.node_key, 0) == 0)
        send_out(r, p);
    kn_mp_out_reset(&r->out);
    if (initiator)
        (void)neg_start(r, p, now);
    return 0;
}

void kn_repl_peer_down(kn_repl *r, uint64_t peer_id, uint64_t now)
{
    peer *p = find_peer(r, peer_id);
    if (!p)
        return;
    int slot = slot_of(r, p);
    uint64_t bit = 1ull << slot;
    /* Its wants in flight are asked of others; first collect, since offering changes the map. */
    idq again = { 0 };
    for (size_t i = 0; i < r->wants.cap; i++) {
        const uint8_t *id;
        want_rec *w = kn_idmap_slot(&r->wants, i, &id);
        if (!w)
            continue;
        w->announcers &= ~bit;
        if (w->recon == slot)
            w->recon = -1;
        if (w->inq & bit) {
            w->inq &= ~bit;
            if (w->state == W_QUEUED && !w->inq)
                (void)idq_push(&again, id, 0);
        }
        if (w->state == W_INFLIGHT && w->asked == slot)
            (void)idq_push(&again, id, 0);
    }
    peer_clear(p);
    r->npeers--;
    for (size_t i = again.head; i < again.n; i++) {
        want_rec *w = kn_idmap_get(&r->wants, again.ids[i]);
        if (w) {
            w->state = W_QUEUED; /* its slot died with the peer */
            w->asked = -1;
            want_offer(r, again.ids[i], w, now);
        }
    }
    idq_free(&again);
    flush_all(r, now);
}

/*
 * Plumtree prune: a pushed duplicate means the link that carried it is
 * redundant, if the first copy also came over the tree (another push, or our
 * own object). If we had asked for the first copy, the tree is broken or slow
 * right here, and pruning the link that is now delivering would cut it more.
 */
/*
 * One more of something a peer may do only so often (dropped over its rate,
 * repeated objects, wants for unknown ids) in the current ABUSE_WINDOW_MS;
 * past max in one window it is a fault (kn_repl_take_fault), which the shell
 * turns into a disconnect and a ban.
 */
static void abuse_add(
    kn_repl *r, peer *p, uint64_t now, unsigned *counter, unsigned n, unsigned max, int code)
{
    if (now >= p->abuse_win + ABUSE_WINDOW_MS) {
        p->abuse_win = now;
        p->dropped = p->repeats = p->unknown_wants = 0;
    }
    *counter = *counter + n > max ? max + 1 : *counter + n;
    if (*counter > max)
        fault(r, p, code);
}

static bool should_prune(const kn_repl *r, const known_rec *k, int slot)
{
    if (r->cfg.no_prune || !k)
        return false;
    return k->how == HOW_LOCAL || (k->how == HOW_PUSH && k->first != slot);
}

static int on_obj(kn_repl *r, peer *p, const kn_wire_msg *m, uint64_t now)
{
    int slot = slot_of(r, p);
    kn_object o;
    int rc;
    r->st.objs_in++;
    if ((rc = kn_object_decode(&o, m->data, m->data_len)) < 0) {
        r->st.objs_refused++;
        return rc;
    }
    /* An answer to our want in flight: bounded by our own window, and known to be missing. */
    const want_rec *w = kn_idmap_get(&r->wants, o.id);
    bool answer = w && w->state == W_INFLIGHT && w->asked == slot;
    if (answer) {
        if (!p->answered_at || (int32_t)(w->ask_seq - p->answered_seq) > 0)
            p->answered_seq = w->ask_seq;
        p->answered_at = now;
    }
    if (!answer && !kn_bucket_take(&p->in_objs, now, 1)) {
        /* Over the bound: not stored, not marked; a want or anti-entropy brings it again. */
        r->st.objs_refused++;
        r->st.objs_over_rate++;
        abuse_add(r, p, now, &p->dropped, 1, p->in_objs.burst, KN_ELIMIT);
        return 0;
    }
    if (r->cfg.validate
        && (p->unverified >= 4 * r->cfg.verify_backlog_max
            || p->unverified_bytes >= 4 * r->cfg.verify_backlog_bytes
            || (!answer && p->unverified_push >= UNSOLICITED_BACKLOG))) {
        /*
         * Its validation backlog is full: dropped (a want stays in flight).
         * Objects it pushes unasked may fill only part of it, so that a
         * flooding peer cannot make the others' objects wait behind
         * thousands of its own; such a push is taken as an announcement
         * instead, and asked for once its backlog has drained (wants wait
         * while it is full), so an honest burst is not lost.
         */
        r->st.objs_backlogged++;
        if (!answer && holds(r, kn_idmap_get(&r->known, o.id), o.id) == 0) {
            known_rec *k = known_put(r, o.id);
            if (k)
                k->has |= 1ull << slot;
            (void)want_add(r, o.id, slot, now, false, false, now);
        }
        return 0;
    }
    known_rec *k = known_put(r, o.id);
    bool asked = answer || (k && (k->asked >> slot & 1));
    if (k && !asked && (k->has >> slot & 1) && holds(r, k, o.id)) {
        /* It sent this already (or said it has it): gossip does not send a peer an id twice. */
        r->st.objs_repeated++;
        abuse_add(r, p, now, &p->repeats, 1, REPEATS_MAX, KN_EEXIST);
    }
    if (k) {
        k->has |= 1ull << slot;
        if (!asked && k->have_at && now >= k->have_at)
            lag_sample(r, now - k->have_at); /* the tree's copy, this long after a "have" */
        if (!asked)
            k->have_at = 0;
    }
    want_done(r, o.id, WANT_GOT, m->data_len);
    if (answer ? (k && k->inbox) : holds(r, k, o.id)) {
        r->st.objs_dup++;
        if (!asked && should_prune(r, k, slot)) {
            /* Stop pushing to it, and tell it with a "have" of the id (see KN_WIRE_HAVE). */
            set_eager(r, p, false);
            if (kn_wire_write_ids(&r->out, KN_WIRE_HAVE, (const uint8_t(*)[KN_ID])o.id, 1) == 0)
                send_out(r, p);
            kn_mp_out_reset(&r->out);
        }
        return 0;
    }
    /*
     * Validate (the signature is the peer's responsibility) now, or with a
     * validate hook in a batch on another thread; store with the next batch.
     */
    uint8_t *copy = malloc(m->data_len);
    if (!copy)
        return 0; /* not the peer's fault; it comes again */
    memcpy(copy, m->data, m->data_len);
    object_rebase(&o, m->data, copy);
    /*
     * Gossip from an author within its rate skips the validation queue (a
     * few per tick, checked here on the caller's thread) and is stored at
     * the next tick: a flooding author's objects, or a catch-up, may fill
     * the queue, and must not make the others' fresh objects wait behind
     * them (tests/integration/flood_author.sh). So objects can be stored in
     * another order than they came; pending takes care of dependencies.
     */
    bool fast = r->cfg.validate && !r->cfg.no_fast_gossip && !answer && r->inline_left > 0
        && author_within_rate(r, o.author, now);
    if (fast) {
        r->inline_left--;
        r->st.objs_fast++;
    }
    if (r->cfg.validate && !fast) {
        kn_repl_batch *b = batch_staging(r);
        if (!b) {
            free(copy);
            return 0;
        }
        b->objs[b->n] = o;
        vent *e = &b->e[b->n++];
        e->buf = copy;
        e->len = m->data_len;
        e->peer_id = p->id;
        memcpy(e->id, o.id, KN_ID);
        e->push = !answer;
        p->unverified++;
        p->unverified_bytes += m->data_len;
        p->unverified_push += !answer;
        r->nvalidating++;
    } else {
        if ((rc = validate_decoded(&o, now)) < 0) {
            free(copy);
            r->st.objs_refused++;
            /* A clock ahead of ours is not malice: refuse the object, keep the peer. */
            return rc == KN_EFUTURE ? 0 : rc;
        }
        if (r->ninbox == r->inbox_cap)
            ingest_inbox(r, now);
        if (!r->ninbox)
            r->inbox_at = now;
        r->inbox[r->ninbox].buf = copy;
        r->inbox[r->ninbox].peer_id = p->id;
        r->inbox[r->ninbox].fast = fast;
        r->inbox_obj[r->ninbox] = o;
        r->ninbox++;
        if (fast)
            r->inbox_urgent = true;
    }
    if ((k = kn_idmap_get(&r->known, o.id))) {
        k->first = (int8_t)slot;
        k->how = asked ? HOW_ASKED : HOW_PUSH;
        k->inbox = 1;
    }
    /* Plumtree: whoever pushed us a first copy is on the tree; keep pushing to it too. */
    if (!asked && !r->cfg.no_prune)
        p->eager = true; /* not counted as a graft: the link already carries pushes one way */
    if (r->cfg.validate && !fast)
        batches_submit(r, now, false);
    else if (r->ninbox == r->inbox_cap)
        ingest_inbox(r, now);
    return 0;
}

int kn_repl_receive(kn_repl *r, uint64_t peer_id, const uint8_t *msg, size_t len, uint64_t now)
{
    peer *p = find_peer(r, peer_id);
    kn_wire_msg m;
    int rc;
    if (!p)
        return KN_ENOTFOUND;
    if (p->fault)
        return p->fault; /* it sent an invalid object: the caller is disconnecting it */
    if ((rc = kn_wire_decode(&m, msg, len)) < 0)
        return rc;
    r->st.bytes_in += len;
    int slot = slot_of(r, p);
    uint64_t bit = 1ull << slot;
    switch (m.kind) {
    case KN_WIRE_HELLO:
        if (p->hello_seen)
            return KN_EPROTO;
        if (m.version != KN_WIRE_VERSION)
            return KN_EVERSION;
        p->hello_seen = true;
        break;
    case KN_WIRE_HAVE:
        for (uint32_t i0 = 0; i0 < m.nids; i0 += HAS_CHUNK) {
            const uint8_t *ids[HAS_CHUNK];
            uint8_t stored[HAS_CHUNK];
            size_t n = m.nids - i0 < HAS_CHUNK ? m.nids - i0 : HAS_CHUNK;
            for (size_t i = 0; i < n; i++)
                ids[i] = kn_wire_id(&m, (uint32_t)(i0 + i));
            store_has_many(r, ids, n, stored);
            for (size_t i = 0; i < n; i++) {
                known_rec *k = known_put(r, ids[i]);
                if (k)
                    k->has |= bit;
                if (!((k && k->inbox) || stored[i])) { /* !holds() */
                    if (k && !k->have_at)
                        k->have_at = now;
                    (void)want_add(r, ids[i], slot,
                        now + graft_wait(r) + jitter(r, graft_wait(r) / 2), true, false, now);
                } else if (k && (k->pushed & bit) && !r->cfg.no_prune)
                    set_eager(r, p, false); /* a "have" of what we pushed to it: it pruned */
            }
        }
        break;
    case KN_WIRE_WANT: {
        /* Over the bound: the rest of this message is not even looked up. */
        uint32_t taken = 0;
        while (taken < m.nids && kn_bucket_take(&p->in_wants, now, 1))
            taken++;
        for (uint32_t i0 = 0; i0 < taken; i0 += HAS_CHUNK) {
            const uint8_t *ids[HAS_CHUNK];
            uint8_t stored[HAS_CHUNK];
            size_t n = taken - i0 < HAS_CHUNK ? taken - i0 : HAS_CHUNK;
            for (size_t i = 0; i < n; i++)
                ids[i] = kn_wire_id(&m, (uint32_t)(i0 + i));
            store_has_many(r, ids, n, stored);
            for (size_t i = 0; i < n; i++) {
                if (!stored[i]) {
                    abuse_add(r, p, now, &p->unknown_wants, 1, UNKNOWN_WANTS_MAX, KN_ENOTFOUND);
                    continue;
                }
                known_rec *k = known_put(r, ids[i]);
                if (k) {
                    /* Asking for what we announced lazily is the peer's graft. */
                    if ((k->sent & bit) && !(k->pushed & bit) && !r->cfg.no_prune)
                        set_eager(r, p, true);
                    k->has &= ~bit; /* it asked, so it does not have it */
                    k->sent |= bit;
                }
                queue_id(r, &p->answer, ids[i]);
            }
        }
        if (taken < m.nids) {
            r->st.wants_over_rate += m.nids - taken;
            abuse_add(r, p, now, &p->dropped, m.nids - taken, p->in_wants.burst, KN_ELIMIT);
        }
        break;
    }
    case KN_WIRE_OBJ:
        if ((rc = on_obj(r, p, &m, now)) < 0)
            return rc;
        break;
    case KN_WIRE_NEG:
        if ((rc = on_neg(r, p, &m, now)) < 0)
            return rc;
        break;
    default:
        return KN_EINVAL;
    }
    flush_all(r, now);
    return 0;
}

/* A local object was stored (published here or by another process): it goes on like a push. */
static void local_new(kn_repl *r, const kn_object *o, uint64_t now)
{
    known_rec *k = known_put(r, o->id);
    if (k) {
        k->how = HOW_LOCAL;
        k->first = -1;
    }
    want_done(r, o->id, WANT_HAD, 0);
    forward(r, o->id, o->author, -1, now);
    if (idq_len(&r->pending))
        check_pending(r, now);
}

int kn_repl_publish(kn_repl *r, const uint8_t *obj, size_t len, uint64_t now)
{
    kn_object o;
    int rc = kn_object_validate(&o, obj, len, now);
    if (rc < 0)
        return rc;
    ingest_inbox(r, now); /* keep arrival order in the store */
    int res = 0;
    if ((rc = r->cfg.store.ingest(r->cfg.store.ctx, &o, 1, &res)) < 0)
        return rc;
    if (res == KN_PUT_STORED) {
        local_new(r, &o, now);
    } else if (res == KN_PUT_PENDING) {
        on_pending(r, &o, -1, now);
    }
    flush_all(r, now);
    return res;
}

int kn_repl_announce(kn_repl *r, const uint8_t id[KN_ID], uint64_t now)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    kn_object o;
    /* The author's key, for the per-author bound: one read of a local object. */
    int rc = r->cfg.store.get(r->cfg.store.ctx, id, &buf, &len);
    if (rc == 0 && (rc = kn_object_decode(&o, buf, len)) == 0) {
        ingest_inbox(r, now); /* keep arrival order for the peers, as publish does */
        local_new(r, &o, now);
        flush_all(r, now);
    }
    free(buf);
    return rc;
}

/*
 * Wants in flight to p whose answer is overdue: ask the next announcer, or
 * give up after WANT_TRIES. The FIFO is in timeout order (every want waits
 * want_timeout_ms), so only its front is looked at; entries of wants that
 * were answered or moved on are dropped there.
 */
static void want_timeouts(kn_repl *r, peer *p, uint64_t now)
{
    int slot = slot_of(r, p);
    while (p->asked_q.head < p->asked_q.n) {
        timed *e = &p->asked_q.v[p->asked_q.head];
        want_rec *w = kn_idmap_get(&r->wants, e->id);
        bool live = w && w->state == W_INFLIGHT && w->asked == slot && w->deadline == e->at;
        if (live && e->at > now)
            break;
        uint8_t id[KN_ID];
        memcpy(id, e->id, KN_ID);
        tq_pop(&p->asked_q);
        if (!live)
            continue;
        if (p->answered_at && now - p->answered_at < r->cfg.want_timeout_ms
            && (int32_t)(w->ask_seq - p->answered_seq) > 0 && w->waits < WANT_WAITS) {
            /*
             * Overdue, but the peer is still answering wants asked before
             * this one: it answers in the order asked, so this one is queued
             * behind them on a slow link, not lost. It waits another period
             * (deadlines stay in order: now + timeout is the latest yet), a
             * bounded number of times. A peer that has answered a want asked
             * after it skipped this one (lost, or withheld): no wait.
             */
            w->waits++;
            w->deadline = now + r->cfg.want_timeout_ms;
            if (tq_push(&p->asked_q, w->deadline, id) == 0)
                continue;
        }
        r->st.want_timeouts++;
        free_slot(r, w);
        /* Keep the announcer if it is the only one: the loss may have been the want's. */
        uint64_t others = w->announcers & ~(1ull << slot);
        if (others)
            w->announcers = others;
        w->asked = -1;
        if (++w->tries >= WANT_TRIES) {
            want_del(r, id, w, WANT_DROPPED, 0);
            continue;
        }
        want_offer(r, id, w, now);
    }
}

uint64_t kn_repl_tick(kn_repl *r, uint64_t now)
{
    uint64_t next = now + 60000;
    r->in_tick = true;
    r->inline_left = INLINE_PER_TICK;
    if (r->cfg.validate)
        batches_submit(r, now, true);
    /*
     * With a validate hook, while more validated objects are on their way the
     * inbox waits to fill for up to INBOX_WAIT_MS: fewer, larger transactions
     * (batches_apply stores a full one at once). Inline, every tick stores
     * what came.
     */
    if (!r->cfg.validate || !r->nvalidating || now >= r->inbox_at + INBOX_WAIT_MS)
        ingest_inbox(r, now);
    else if (r->inbox_urgent)
        ingest_fast(r, now);
    for (int s = 0; s < KN_REPL_PEERS_MAX; s++)
        if (r->peers[s].live)
            want_timeouts(r, &r->peers[s], now);

    for (int s = 0; s < KN_REPL_PEERS_MAX; s++) {
        peer *p = &r->peers[s];
        if (!p->live)
            continue;
        if (p->nc && now >= p->nc_deadline)
            neg_client_end(p); /* no answer: try again at the next period */
        if (p->initiator && !p->nc && now >= p->next_neg && recon_idle(p))
            (void)neg_start(r, p, now); /* not while the last one is still fetching */
        if (p->ns && now >= p->ns_built + r->cfg.neg_timeout_ms)
            neg_server_end(p);
    }
    flush_all(r, now);
    r->in_tick = false;
    if (r->ndelayed && r->delayed[0].at < next)
        next = r->delayed[0].at;
    for (int s = 0; s < KN_REPL_PEERS_MAX; s++) {
        peer *p = &r->peers[s];
        if (!p->live)
            continue;
        if (p->announce_due && p->announce_due < next)
            next = p->announce_due;
        if (idq_len(&p->push) || idq_len(&p->bulk) || idq_len(&p->answer)) {
            uint64_t t = idq_len(&p->push) || idq_len(&p->bulk) ? p->out_win + 1000 : next;
            if (backlogged(r, p, r->cfg.queue_bytes_max))
                t = now + 10;
            if (t < next)
                next = t;
        }
        if (p->asked_q.head < p->asked_q.n && p->asked_q.v[p->asked_q.head].at < next)
            next = p->asked_q.v[p->asked_q.head].at;
        if (p->nc && p->nc_deadline < next)
            next = p->nc_deadline;
        if (p->initiator && !p->nc && recon_idle(p) && p->next_neg < next)
            next = p->next_neg;
        if (p->ns && p->ns_built + r->cfg.neg_timeout_ms < next)
            next = p->ns_built + r->cfg.neg_timeout_ms;
    }
    if (r->ninbox && r->inbox_at + INBOX_WAIT_MS < next)
        next = r->inbox_at + INBOX_WAIT_MS;
    if (r->held_head < r->nheld) {
        /* Held objects go when their author's bucket refills or the links drain. */
        uint64_t t = now + bucket_wait(r, r->held[r->held_head].author, now);
        if (r->cfg.queued && t > now + 10)
            t = now + 10;
        if (t < next)
            next = t;
    }
    return next <= now ? now + 1 : next;
}

void kn_repl_validated(kn_repl *r, kn_repl_batch *b, uint64_t now)
{
    if (b->state != B_OUT)
        return;
    b->state = B_DONE;
    r->nout--;
    batches_apply(r, now);
    batches_submit(r, now, false);
}

bool kn_repl_take_fault(kn_repl *r, uint64_t *peer_id, int *code)
{
    while (r->fault_head < r->nfaults) {
        uint64_t id = r->faults[r->fault_head++];
        if (r->fault_head == r->nfaults)
            r->fault_head = r->nfaults = 0;
        const peer *p = find_peer(r, id);
        if (p && p->fault) {
            *peer_id = id;
            *code = p->fault;
            return true;
        }
    }
    return false;
}

size_t kn_repl_validating(const kn_repl *r)
{
    return r->nvalidating;
}

size_t kn_repl_batches_out(const kn_repl *r)
{
    return r->nout;
}

void kn_repl_get_stats(const kn_repl *r, kn_repl_stats *st)
{
    *st = r->st;
}

size_t kn_repl_peer_count(const kn_repl *r)
{
    return r->npeers;
}

size_t kn_repl_wants_open(const kn_repl *r)
{
    return r->wants.count;
}

int kn_repl_peer_recon(const kn_repl *r, uint64_t peer_id, kn_repl_recon *out)
{
    for (size_t i = 0; i < KN_REPL_PEERS_MAX; i++)
        if (r->peers[i].live && r->peers[i].id == peer_id) {
            *out = r->peers[i].rc;
            return 0;
        }
    return KN_ENOTFOUND;
}

unsigned kn_repl_peer_inflight(const kn_repl *r, uint64_t peer_id)
{
    for (size_t i = 0; i < KN_REPL_PEERS_MAX; i++)
        if (r->peers[i].live && r->peers[i].id == peer_id)
            return r->peers[i].inflight;
    return 0;
}
