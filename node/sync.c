/*
 * The replication engine (repl.h) inside the libuv shell.
 *
 * One kn_repl per node, over the node's LMDB store and identity key. Every
 * established connection is one engine peer whose id is the connection's
 * `seq`; the engine's send() encrypts into that connection's kn_session and
 * the bytes reach the socket at the next flush, which happens at the end of
 * the read that caused them or in the loop's check phase (sync_run), so a
 * burst of messages leaves in one write. A send never closes a connection
 * from inside the engine: a failure is only marked, and sync_run closes it.
 *
 * Ticks: the engine is ticked once per loop iteration in which it was fed
 * (a message, a peer coming or going, a local object), in the check phase
 * after all ready I/O was read, and at the deadline kn_repl_tick returned,
 * through one uv timer. `now` is the node's clock, read once per iteration.
 *
 * Accounting: the shell counts objects per connection itself (it sees every
 * message). A reconciliation this node started (it dialled) is the engine's:
 * kn_repl_peer_recon() says when it started and finished, how many objects
 * it found missing, and how many have come, so a large catch-up logs
 * "n/total objects, size, ~t s left" at most once a second and a summary at
 * the end, and peers.state books it exactly for `knoten sync status`. A
 * reconciliation the peer started is delimited by the shell (sync_round in
 * node_impl.h): from its first "neg" message until the link is quiet.
 *
 * Validation: the engine's signature checks run on libuv's thread pool
 * (uv_queue_work), at most one batch per core at a time (and not more than
 * the pool's four threads, which DNS lookups share), while the loop thread
 * keeps the sockets, Noise, the engine and the LMDB writes. A batch that
 * comes back is handed to kn_repl_validated() in the pool's completion
 * callback; its objects are stored at the engine's next tick, in the check
 * phase of the same loop iteration. A sender whose object failed is closed
 * in sync_run (kn_repl_take_fault). Pending work keeps the loop alive, so
 * every batch is back before the loop ends and the engine is freed.
 *
 * Objects that other processes stored (`knoten thread`, `knoten import`) are
 * already in LMDB when localpub.c finds them; sync_announce() hands their ids
 * to kn_repl_announce(), which pushes them like fresh local objects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobfetch.h"
#include "node_impl.h"
#include "verify_pool.h"

/* ---- the engine's transport ---- */

static conn *conn_of_peer(node *n, uint64_t peer)
{
    for (conn *c = n->conns; c; c = c->next)
        if (c->repl_up && c->seq == peer)
            return c;
    return NULL;
}

static void round_touch(conn *c, kn_wire_kind kind, uint64_t now)
{
    sync_round *r = &c->round;
    if (kind == KN_WIRE_NEG && !r->active) {
        memset(r, 0, sizeof *r);
        r->active = true;
        r->start_ms = r->progress_ms = now;
    }
    if (r->active && (kind == KN_WIRE_NEG || kind == KN_WIRE_WANT || kind == KN_WIRE_OBJ))
        r->last_ms = now;
}

static void account_out(conn *c, const uint8_t *msg, size_t len, uint64_t now)
{
    kn_wire_msg m;
    if (kn_wire_decode(&m, msg, len) < 0)
        return;
    round_touch(c, m.kind, now);
    if (m.kind == KN_WIRE_OBJ) {
        c->sync.objs_out++;
        if (c->round.active)
            c->round.objs_out++;
    } else if (m.kind == KN_WIRE_WANT && c->round.active) {
        c->round.wants_out += m.nids;
    }
}

static void account_in(conn *c, const kn_wire_msg *m, uint64_t now)
{
    round_touch(c, m->kind, now);
    if (m->kind == KN_WIRE_OBJ) {
        c->sync.objs_in++;
        if (c->round.active) {
            c->round.objs_in++;
            c->round.obj_bytes_in += m->data_len;
        }
    }
}

static int engine_send(void *ctx, uint64_t peer, const uint8_t *msg, size_t len)
{
    node *n = ctx;
    conn *c = conn_of_peer(n, peer);
    if (!c)
        return KN_ECLOSED;
    int rc = conn_queue(c, msg, len);
    if (rc == 0)
        account_out(c, msg, len, node_now(n));
    return rc;
}

/* What the transport still holds for a peer: the session's output and libuv's write queue. */
static size_t engine_queued(void *ctx, uint64_t peer)
{
    conn *c = conn_of_peer(ctx, peer);
    return c ? conn_queued(c) : 0;
}

/* ---- validation on other threads ---- */

/*
 * sync.c's own state. struct node (node_impl.h) is node.c's, so it hangs
 * off the engine timer's data pointer, which only sync.c reads.
 */
typedef struct sync_shell {
    node *n;
    verify_pool *pool;
} sync_shell;

static void verified(void *ctx, kn_repl_batch *b)
{
    node *n = ctx;
    kn_repl_validated(n->repl, b, node_now(n));
    n->repl_dirty = true; /* its objects are stored at the tick in the check phase */
}

static int engine_validate(void *ctx, kn_repl_batch *b)
{
    sync_shell *sh = ctx;
    return sh->pool ? verify_pool_submit(sh->pool, b) : KN_ECLOSED;
}

int sync_start(node *n)
{
    sync_shell *sh = n->repl_timer.data;
    unsigned cores = uv_available_parallelism();
    int rc;
    if (!sh)
        return KN_ESTATE;
    if ((rc = verify_pool_new(&sh->pool, n->loop, cores, verified, n)) < 0)
        return rc;
    kn_repl_config cfg = {
        .store = blobsync_wrap_store(n, kn_repl_store_lmdb(n->dd->store)),
        .send = engine_send,
        .send_ctx = n,
        .queued = engine_queued,
        .env = n->env,
        .validate = engine_validate,
        .validate_ctx = sh,
        /*
         * A queue eight batches deep per worker (64 objects, ~3 ms of verifying
         * each): they keep busy while the loop commits, whose fdatasync took
         * 12 ms (median) to 38 ms (p90) here; four per worker ran dry in the slow ones.
         */
        .validate_max_out = 8 * (cores < 1 ? 1 : cores),
    };
    memcpy(cfg.node_key, n->dd->identity_pk, KN_KEY);
    if ((rc = kn_repl_new(&n->repl, &cfg)) < 0)
        return rc;
    return blobsync_start(n);
}

void sync_stop(node *n)
{
    sync_shell *sh = n->repl_timer.data;
    if (sh) {
        verify_pool_free(sh->pool); /* joins the workers: no batch is touched after this */
        free(sh);
        n->repl_timer.data = NULL;
    }
    kn_repl_free(n->repl);
    n->repl = NULL;
    blobsync_stop(n);
}

/* ---- peers ---- */

void sync_peer_up(node *n, conn *c, uint64_t now)
{
    c->repl_up = true;
    int rc = kn_repl_peer_up(n->repl, c->seq, !c->inbound, now);
    n->repl_dirty = true;
    if (rc == 0)
        blobsync_peer_up(n, c, now);
    if (rc < 0) {
        c->repl_up = false;
        conn_close(c, rc,
            rc == KN_ELIMIT ? "too many peers connected; try another node"
                            : "cannot start replication",
            true, now);
    }
}

static void kib(char *buf, size_t cap, uint64_t bytes)
{
    if (bytes >= 10ull << 20)
        snprintf(buf, cap, "%.1f MiB", (double)bytes / (1 << 20));
    else
        snprintf(buf, cap, "%llu KiB", (unsigned long long)((bytes + 1023) / 1024));
}

static void log_caught_up(conn *c, uint64_t objs_in, uint64_t bytes_in, uint64_t ms, uint64_t out)
{
    char label[320], size[32];
    kib(size, sizeof size, bytes_in);
    node_log(c->n, "caught up from %s: %llu objects, %s in %.1f s (sent %llu)",
        node_peer_label(c, label, sizeof label), (unsigned long long)objs_in, size,
        (double)ms / 1000.0, (unsigned long long)out);
}

/* A reconciliation the peer started is over: book it, and say so if it was worth a line. */
static void round_end(conn *c)
{
    sync_round *r = &c->round;
    if (!r->active)
        return;
    r->active = false;
    if (!c->inbound)
        return; /* ours: booked from the engine's figures (recon_book) */
    c->sync.recon_ms = r->start_ms;
    c->sync.recon_duration_ms = r->last_ms - r->start_ms;
    c->sync.recon_in = r->objs_in;
    c->sync.recon_out = r->objs_out;
    c->sync.recon_found = 0;
    c->sync.recon_bytes_in = r->obj_bytes_in;
    c->n->state_dirty = true;
    if (r->objs_in >= NODE_CAUGHT_UP_LOG_MIN || r->logged_in)
        log_caught_up(c, r->objs_in, r->obj_bytes_in, r->last_ms - r->start_ms, r->objs_out);
}

/*
 * Books a reconciliation we started, from the engine's figures: once when it
 * finishes, or as it stands when the connection ends first.
 */
static void recon_book(conn *c, const kn_repl_recon *rc, uint64_t now)
{
    if (!rc->started_ms || c->sync.recon_ms == rc->started_ms)
        return;
    uint64_t end = rc->finished_ms ? rc->finished_ms : now;
    c->sync.recon_ms = rc->started_ms;
    c->sync.recon_duration_ms = end - rc->started_ms;
    c->sync.recon_in = rc->fetched;
    c->sync.recon_out = rc->haves;
    c->sync.recon_found = rc->needs;
    c->sync.recon_bytes_in = rc->fetched_bytes;
    c->n->state_dirty = true;
    if (rc->fetched >= NODE_CAUGHT_UP_LOG_MIN || c->round.logged_in)
        log_caught_up(c, rc->fetched, rc->fetched_bytes, end - rc->started_ms, rc->haves);
    c->round.logged_in = 0;
}

void sync_peer_down(node *n, conn *c, uint64_t now)
{
    if (!c->repl_up)
        return;
    c->repl_up = false;
    round_end(c);
    kn_repl_recon rc;
    if (!c->inbound && kn_repl_peer_recon(n->repl, c->seq, &rc) == 0)
        recon_book(c, &rc, now);
    kn_repl_peer_down(n->repl, c->seq, now);
    blobsync_peer_down(n, c, now);
    n->repl_dirty = true;
}

/* ---- messages ---- */

static const char *violation(kn_wire_kind kind, int rc)
{
    /* The engine's faults for what a peer does too often (repl.h, kn_repl_take_fault). */
    if (rc == KN_ELIMIT)
        return "sent objects or wants faster than allowed";
    if (rc == KN_EEXIST && kind != KN_WIRE_HELLO)
        return "sent objects again that it had sent before (replay)";
    if (rc == KN_ENOTFOUND)
        return "asked for many ids this node never had";
    switch (kind) {
    case KN_WIRE_HELLO:
        return rc == KN_EVERSION ? "unsupported protocol version in hello" : "unexpected hello";
    case KN_WIRE_OBJ:
        return "invalid object";
    case KN_WIRE_NEG:
        return "invalid reconciliation (neg) message";
    case KN_WIRE_HAVE:
        return "invalid have";
    case KN_WIRE_WANT:
        return "invalid want";
    default:
        return "invalid replication message";
    }
}

int sync_receive(
    conn *c, const uint8_t *msg, size_t len, const kn_wire_msg *m, uint64_t now, const char **why)
{
    node *n = c->n;
    if (!c->repl_up) {
        *why = "replication message before the session was set up";
        return KN_EPROTO;
    }
    if (kn_blobfetch_handles(m->kind))
        return blobsync_receive(c, m, now, why);
    account_in(c, m, now);
    int rc = kn_repl_receive(n->repl, c->seq, msg, len, now);
    n->repl_dirty = true;
    if (rc < 0) {
        *why = violation(m->kind, rc);
        return rc;
    }
    return 0;
}

int sync_announce(node *n, const uint8_t *raw, size_t len, const uint8_t id[KN_ID], uint64_t now)
{
    (void)raw;
    (void)len;
    int rc = kn_repl_announce(n->repl, id, now);
    n->repl_dirty = true;
    return rc;
}

/* ---- the loop ---- */

static void on_repl_timer(uv_timer_t *t)
{
    node *n = ((sync_shell *)t->data)->n;
    n->repl_dirty = true;
    sync_run(n, node_now(n));
}

static void on_repl_check(uv_check_t *h)
{
    node *n = h->data;
    sync_run(n, node_now(n));
}

int sync_handles_init(node *n)
{
    sync_shell *sh = calloc(1, sizeof *sh);
    if (!sh)
        return KN_ENOMEM;
    sh->n = n;
    if (uv_timer_init(n->loop, &n->repl_timer) < 0 || uv_check_init(n->loop, &n->repl_check) < 0) {
        free(sh);
        return KN_ENOMEM;
    }
    n->repl_timer.data = sh;
    n->repl_check.data = n;
    return uv_check_start(&n->repl_check, on_repl_check) < 0 ? KN_ENOMEM : 0;
}

void sync_run(node *n, uint64_t now)
{
    if (!n->repl || n->finished)
        return;
    for (conn *c = n->conns; c; c = c->next)
        if (c->send_failed && !c->closing)
            conn_close(c, KN_ENET, "cannot send", false, now);
    /* Senders of objects that failed validation on the pool: as a refused message would. */
    uint64_t peer;
    int code;
    while (kn_repl_take_fault(n->repl, &peer, &code)) {
        conn *c = conn_of_peer(n, peer);
        if (c && !c->closing) {
            abuse_offend(n, c, abuse_for_code(code), now);
            conn_close(c, code, violation(KN_WIRE_OBJ, code), true, now);
        }
    }
    if (n->repl_dirty) {
        n->repl_dirty = false;
        uint64_t next = kn_repl_tick(n->repl, now);
        uv_timer_start(&n->repl_timer, on_repl_timer, next > now ? next - now : 0, 0);
    }
    blobsync_run(n, now);
    /* Closing a connection tells the engine, which may queue for others: a few passes. */
    for (int pass = 0; pass < 4 && n->out_dirty; pass++) {
        n->out_dirty = false;
        for (conn *c = n->conns; c; c = c->next)
            if (c->out_pending && !c->closing)
                conn_flush(c, now);
    }
}

/*
 * Progress of a catch-up we started: the engine knows the total once the
 * Negentropy rounds are done, so the line gives objects of total, size so
 * far and the time left at the rate so far. Logged at most once a
 * NODE_PROGRESS_MS, only for a catch-up of NODE_CAUGHT_UP_LOG_MIN or more.
 */
static void recon_progress(conn *c, const kn_repl_recon *rc, uint64_t now)
{
    sync_round *r = &c->round;
    uint64_t done = rc->fetched + rc->had + rc->dropped;
    if (rc->needs < NODE_CAUGHT_UP_LOG_MIN || rc->fetched <= r->logged_in
        || now - rc->started_ms < NODE_PROGRESS_MS || now - r->progress_ms < NODE_PROGRESS_MS)
        return;
    char label[320], size[32], left[32] = "";
    kib(size, sizeof size, rc->fetched_bytes);
    double rate = (double)rc->fetched * 1000.0 / (double)(now - rc->started_ms);
    if (rate > 0 && rc->needs > done)
        snprintf(left, sizeof left, ", ~%.0f s left", (double)(rc->needs - done) / rate + 0.5);
    node_log(c->n, "catching up from %s: %llu/%llu objects, %s, %.0f objects/s%s",
        node_peer_label(c, label, sizeof label), (unsigned long long)rc->fetched,
        (unsigned long long)rc->needs, size, rate, left);
    r->progress_ms = now;
    r->logged_in = rc->fetched;
}

void sync_conn_tick(conn *c, uint64_t now)
{
    sync_round *r = &c->round;
    kn_repl_recon rc;
    if (!c->inbound && c->repl_up && kn_repl_peer_recon(c->n->repl, c->seq, &rc) == 0) {
        if (rc.finished_ms) {
            recon_book(c, &rc, now);
            r->active = false;
        } else if (rc.started_ms) {
            recon_progress(c, &rc, now);
        }
        return;
    }
    if (!r->active)
        return;
    if (now - r->last_ms >= NODE_ROUND_QUIET_MS)
        round_end(c);
}
