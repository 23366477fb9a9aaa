/*
 * The blob fetch engine (blobfetch.h) inside the libuv shell: file contents
 * move between nodes next to replication, over the same connections.
 *
 * One kn_blobfetch per council, over the council's store
 * (kn_blobfetch_store_lmdb). Every connection that replicates (a member's)
 * is one engine peer, under the same id as in the replication engine (the
 * connection's `seq`); its messages are encrypted into the connection's
 * session and leave at the next flush, as replication's do (conn_queue).
 * The engine's back-pressure on serving reads conn_queued(): a peer that
 * reads slowly gets the next chunk only when less than 2 MiB wait for it.
 *
 * When to look at the wanted list again: when the replication engine has
 * stored objects (a shim around its store's ingest notices them; a doc or a
 * retract changes the list, and so may any object that releases a pending
 * doc), at most every 200 ms; on
 * SIGUSR1 (`knoten doc get` under the on-demand policy asks for a file and
 * signals the node), and every 10 s in any case (objects released from
 * pending, a policy changed by the command line).
 *
 * Writes: the chunks that come are stored by a thread of their own
 * (blobwriter.h), so the loop goes on reading the network while LMDB copies
 * them into the file and waits for the disk; the result comes back through
 * on_written(). A chunk counts as present (and a file as complete) only
 * once that commit is durable.
 *
 * Ticks: blobsync_run() is called from sync_run(), so once per loop
 * iteration in the check phase and from the node's 250 ms tick; the engine
 * is ticked when it was fed, when it has requests of peers to serve (their
 * write queues drain between iterations), or when its deadline has come.
 *
 * Log lines: a finished file, with how much of it was already here (so a
 * resumed transfer shows what it saved); a corrupt chunk and who sent it; a
 * peer that stalled; a store that refused; and, while files are coming, a
 * progress line at most once a second with the rate and the time left.
 *
 * KNOTEN_TEST_CORRUPT_CHUNKS=1 in the environment makes this node flip one
 * byte of every chunk it serves. It exists only so that tests can play a
 * faulty peer; the node says so loudly at start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobfetch.h"
#include "blobstore.h"
#include "blobwriter.h"
#include "hex.h"
#include "node_impl.h"

enum {
    BLOBS_PROGRESS_MS = 1000, /* a progress line at most this often */
    BLOBS_STUCK_MS = 60000, /* ... and while nothing comes, one this often */
    BLOBS_PROGRESS_MIN = 4 << 20, /* ... while at least this much is still to come */
    BLOBS_RESCAN_MS = 200, /* objects stored make the wanted list be read at most this often */
    BLOBS_DISTRUST = 3, /* corrupt chunks on earlier connections that make a peer a last resort */
    BLOBS_SCRUB_MS = 1000, /* freed pages of purged files are looked for this often, */
    BLOBS_SCRUB_PAGES = 4096, /* ... and at most this many (16 MiB, two commits) overwritten */
};

static conn *conn_of(node *n, uint64_t peer)
{
    for (conn *c = n->conns; c; c = c->next)
        if (c->repl_up && c->seq == peer)
            return c;
    return NULL;
}

static int bf_send(void *ctx, uint64_t peer, const uint8_t *msg, size_t len)
{
    conn *c = conn_of(ctx, peer);
    return c ? conn_queue(c, msg, len) : KN_ECLOSED;
}

static size_t bf_queued(void *ctx, uint64_t peer)
{
    conn *c = conn_of(ctx, peer);
    return c ? conn_queued(c) : 0;
}

/* ---- the store shim: new docs and retractions change what is wanted ---- */

/*
 * The replication engine's store, seen through a shim. The engine calls
 * ingest from the loop thread, so the shim may poke the blob engine.
 */
typedef struct store_shim {
    node *n;
    kn_repl_store inner;
} store_shim;

static int shim_has(void *ctx, const uint8_t id[KN_ID])
{
    store_shim *sh = ctx;
    return sh->inner.has(sh->inner.ctx, id);
}

static int shim_has_many(void *ctx, const uint8_t *const *ids, size_t n, uint8_t *out)
{
    store_shim *sh = ctx;
    return sh->inner.has_many(sh->inner.ctx, ids, n, out);
}

static int shim_held_many(void *ctx, const uint8_t *const *ids, size_t n, uint8_t *out)
{
    store_shim *sh = ctx;
    return sh->inner.held_many(sh->inner.ctx, ids, n, out);
}

static int shim_get(void *ctx, const uint8_t id[KN_ID], uint8_t **buf, size_t *len)
{
    store_shim *sh = ctx;
    return sh->inner.get(sh->inner.ctx, id, buf, len);
}

static int shim_ingest(void *ctx, const kn_object *objs, size_t n, int *results)
{
    store_shim *sh = ctx;
    int rc = sh->inner.ingest(sh->inner.ctx, objs, n, results);
    /*
     * A doc or a retract stored, or any object stored at all (it may have
     * released a pending doc, whose result reads "pending"): the wanted list
     * may have changed. Looked at within BLOBS_RESCAN_MS, not once per batch.
     */
    (void)objs;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (results[i] == KN_PUT_STORED) {
            sh->n->blobs_rescan_due = true;
            break;
        }
    return rc;
}

static int shim_each_item(
    void *ctx, int (*fn)(void *fctx, uint64_t created, const uint8_t id[KN_ID]), void *fctx)
{
    store_shim *sh = ctx;
    return sh->inner.each_item(sh->inner.ctx, fn, fctx);
}

static int shim_neg_open(void *ctx, void **snap, kn_neg_storage *st)
{
    store_shim *sh = ctx;
    return sh->inner.neg_open(sh->inner.ctx, snap, st);
}

static void shim_neg_close(void *ctx, void *snap)
{
    store_shim *sh = ctx;
    sh->inner.neg_close(sh->inner.ctx, snap);
}

/*
 * The shim is allocated here and freed by blobsync_stop(); without memory the
 * engine gets the store itself, and new docs are found by the periodic rescan.
 */
kn_repl_store blobsync_wrap_store(node *n, kn_repl_store inner)
{
    store_shim *sh = calloc(1, sizeof *sh);
    if (!sh)
        return inner;
    sh->n = n;
    sh->inner = inner;
    n->blobs_shim = sh;
    kn_repl_store s = {
        .ctx = sh,
        .has = shim_has,
        .has_many = inner.has_many ? shim_has_many : NULL,
        .held_many = inner.held_many ? shim_held_many : NULL,
        .get = shim_get,
        .ingest = shim_ingest,
        .each_item = inner.each_item ? shim_each_item : NULL,
        .neg_open = inner.neg_open ? shim_neg_open : NULL,
        .neg_close = inner.neg_close ? shim_neg_close : NULL,
    };
    return s;
}

/* ---- the engine ---- */

/* The writer thread's result (blobwriter.h), on the loop thread. */
static void on_written(void *ctx, int rc)
{
    node *n = ctx;
    if (!n->blobs)
        return;
    kn_blobfetch_written(n->blobs, rc, node_now(n));
    n->blobs_dirty = true;
}

int blobsync_start(node *n)
{
    /* Without the writer thread, the engine writes on the loop thread (slower, just as safe). */
    if (kn_blobwriter_new(&n->blobs_writer, n->loop, n->dd->store, on_written, n) < 0)
        n->blobs_writer = NULL;
    kn_blobfetch_config cfg = {
        .store = n->blobs_writer ? kn_blobwriter_store(n->blobs_writer)
                                 : kn_blobfetch_store_lmdb(n->dd->store),
        .send = bf_send,
        .send_ctx = n,
        .queued = bf_queued,
        /*
         * Well below NODE_WRITE_QUEUE_MAX, at which conn.c drops a peer that
         * does not read: serving stops at this, replication adds at most its
         * own backlog bound, and one chunk more may be in the session.
         */
        .serve_bytes = NODE_WRITE_QUEUE_MAX / 4,
        .serve_rate = n->cfg ? n->cfg->file_upload_rate : 0, /* [limits] file_upload_rate */
    };
    const char *corrupt = getenv("KNOTEN_TEST_CORRUPT_CHUNKS");
    if (corrupt && *corrupt && strcmp(corrupt, "0") != 0) {
        cfg.test_corrupt_served = true;
        node_logl(n, KN_LOG_WARN,
            "KNOTEN_TEST_CORRUPT_CHUNKS is set: this node corrupts every file chunk it serves "
            "(for tests only; unset it)");
    }
    int rc = kn_blobfetch_new(&n->blobs, &cfg);
    n->blobs_dirty = true;
    return rc;
}

void blobsync_stop(node *n)
{
    kn_blobwriter_free(n->blobs_writer); /* first: a write under way reads the engine's chunks */
    n->blobs_writer = NULL;
    kn_blobfetch_free(n->blobs);
    n->blobs = NULL;
    free(n->blobs_shim);
    n->blobs_shim = NULL;
}

/* Corrupt chunks this identity sent on earlier connections (kept by the slots that reach it). */
static uint64_t corrupt_before(node *n, const conn *c)
{
    uint64_t most = c->slot ? c->slot->blobs_corrupt_before : 0;
    for (slot *s = n->slots; s; s = s->next)
        if (node_slot_identity(s) && memcmp(node_slot_identity(s), c->identity, 32) == 0
            && s->blobs_corrupt_before > most)
            most = s->blobs_corrupt_before;
    return most;
}

void blobsync_peer_up(node *n, conn *c, uint64_t now)
{
    memset(&c->blobs, 0, sizeof c->blobs);
    if (kn_blobfetch_peer_up(n->blobs, c->seq, now) < 0)
        return; /* beyond the engine's peers: replication goes on, files come from others */
    n->blobs_dirty = true;
    uint64_t bad = corrupt_before(n, c);
    if (bad >= BLOBS_DISTRUST && kn_blobfetch_peer_distrust(n->blobs, c->seq) == 0) {
        char label[320];
        node_logl(n, KN_LOG_WARN,
            "%s sent %llu corrupt file chunks before: it is asked for files only when no other "
            "peer has them",
            node_peer_label(c, label, sizeof label), (unsigned long long)bad);
    }
}

static void book_peer(node *n, conn *c)
{
    kn_blobfetch_peer_stats st;
    if (!n->blobs || kn_blobfetch_peer_get_stats(n->blobs, c->seq, &st) < 0)
        return;
    kn_peer_blobs b = { st.chunks_in, st.chunks_out, st.bytes_in, st.bytes_out, st.corrupt };
    if (memcmp(&b, &c->blobs, sizeof b) != 0) {
        c->blobs = b;
        n->state_dirty = true;
    }
}

void blobsync_peer_down(node *n, conn *c, uint64_t now)
{
    book_peer(n, c);
    kn_blobfetch_peer_down(n->blobs, c->seq, now);
    n->blobs_dirty = true;
}

int blobsync_receive(conn *c, const kn_wire_msg *m, uint64_t now, const char **why)
{
    node *n = c->n;
    int rc = kn_blobfetch_receive(n->blobs, c->seq, m, now);
    n->blobs_dirty = true;
    if (rc == KN_ENOTFOUND)
        return 0; /* not an engine peer (the engine was full): ignore */
    if (rc == KN_ELIMIT)
        *why = "too many file chunk requests at once";
    else if (rc < 0)
        *why = "a file chunk or manifest nobody asked for";
    return rc;
}

void blobsync_rescan(node *n)
{
    if (!n->blobs)
        return;
    kn_blobfetch_rescan(n->blobs);
    n->blobs_dirty = true;
}

/* ---- log lines ---- */

static void mib(char *buf, size_t cap, uint64_t bytes)
{
    if (bytes >= 10ull << 20)
        snprintf(buf, cap, "%.1f MiB", (double)bytes / (1 << 20));
    else
        snprintf(buf, cap, "%llu KiB", (unsigned long long)((bytes + 1023) / 1024));
}

static void log_event(node *n, const kn_blobfetch_event *ev, uint64_t now)
{
    char blob[65], label[320] = "a peer", size[32];
    kn_hex_encode(blob, ev->blob, KN_ID);
    conn *c = ev->kind == KN_BLOBFETCH_CORRUPT || ev->kind == KN_BLOBFETCH_STALLED
        ? conn_of(n, ev->peer)
        : NULL;
    if (c)
        node_peer_label(c, label, sizeof label);
    switch (ev->kind) {
    case KN_BLOBFETCH_DONE: {
        double s = (double)(now - ev->started_ms) / 1000.0;
        mib(size, sizeof size, ev->size);
        node_log(n,
            "file %.16s\u2026 complete: %s, %u chunks (%u fetched now, %u were here already) in "
            "%.1f s",
            blob, size, ev->chunks, ev->fetched, ev->had, s);
        break;
    }
    case KN_BLOBFETCH_CORRUPT:
        if (ev->index == UINT32_MAX)
            node_logl(n, KN_LOG_WARN,
                "%s sent a manifest of file %.16s\u2026 that does not match it: dropped, asking "
                "another peer",
                label, blob);
        else
            node_logl(n, KN_LOG_WARN,
                "%s sent chunk %u of file %.16s\u2026 corrupt (it fails its hash): dropped, "
                "asking another peer",
                label, ev->index, blob);
        break;
    case KN_BLOBFETCH_STALLED:
        node_logl(n, KN_LOG_WARN, "%s did not answer for file %.16s\u2026: asking other peers",
            label, blob);
        break;
    case KN_BLOBFETCH_STORE_FAILED:
        node_logl(n, KN_LOG_ERROR,
            "cannot store file %.16s\u2026: %s; trying again in 30 s (see `knoten status` for "
            "the store's size and limits)",
            blob, kn_strerror(ev->code));
        break;
    }
}

/* At most once a second while files come: how far, how fast, how long still. */
static void log_progress(node *n, uint64_t now)
{
    kn_blobfetch_progress p;
    kn_blobfetch_get_progress(n->blobs, &p);
    if (p.active == 0 || p.active_missing_bytes < BLOBS_PROGRESS_MIN) {
        n->blobs_progress_ms = now;
        n->blobs_logged_bytes = p.fetched_bytes;
        return;
    }
    if (now - n->blobs_progress_ms < BLOBS_PROGRESS_MS)
        return;
    if (p.fetched_bytes == n->blobs_logged_bytes) {
        /* Nothing came: say so now and then, not every second. */
        if (now - n->blobs_progress_ms >= BLOBS_STUCK_MS) {
            node_log(n,
                "fetching files: %zu wanted, nothing came for %llu s: no connected peer has "
                "them yet",
                p.wanted, (unsigned long long)((now - n->blobs_progress_ms) / 1000));
            n->blobs_progress_ms = now;
        }
        return;
    }
    double secs = (double)(now - n->blobs_progress_ms) / 1000.0;
    double rate = secs > 0 ? (double)(p.fetched_bytes - n->blobs_logged_bytes) / secs : 0;
    char have[32], total[32], left[48] = "";
    mib(have, sizeof have, p.active_bytes - p.active_missing_bytes);
    mib(total, sizeof total, p.active_bytes);
    if (rate > 0)
        snprintf(left, sizeof left, ", ~%.0f s left", (double)p.active_missing_bytes / rate + 0.5);
    node_log(n, "fetching files: %zu of %zu wanted under way, %s of %s, %.1f MiB/s%s", p.active,
        p.wanted, have, total, rate / (1 << 20), left);
    n->blobs_progress_ms = now;
    n->blobs_logged_bytes = p.fetched_bytes;
}

/*
 * Once a second: the pages that purges of file data freed (a retraction,
 * here or by the command line) are overwritten (kn_blob_scrub), 16 MiB of
 * them per look, so the loop is held for two commits at most.
 */
static void scrub(node *n, uint64_t now)
{
    if (now < n->blobs_scrub_ms + BLOBS_SCRUB_MS)
        return;
    n->blobs_scrub_ms = now;
    uint64_t pages = 0;
    int rc = kn_blob_scrub(n->dd->store, BLOBS_SCRUB_PAGES, &pages);
    if (pages)
        node_log(n, "overwrote %llu freed pages (%llu KiB) of purged files in the store%s",
            (unsigned long long)pages, (unsigned long long)pages * 4,
            rc == KN_EAGAIN ? "; more follow" : "");
    if (rc < 0 && rc != KN_EAGAIN)
        node_logl(n, rc == KN_EBUSY ? KN_LOG_INFO : KN_LOG_WARN,
            "cannot overwrite the freed pages of purged files yet (%s): %s; trying again",
            kn_strerror(rc),
            rc == KN_EBUSY ? "another process still reads an older state of the store"
                           : "see `knoten status`");
}

void blobsync_run(node *n, uint64_t now)
{
    if (!n->blobs)
        return;
    scrub(n, now);
    if (n->blobs_rescan_due && now >= n->blobs_rescan_ms + BLOBS_RESCAN_MS) {
        n->blobs_rescan_due = false;
        n->blobs_rescan_ms = now;
        blobsync_rescan(n);
    }
    if (n->blobs_dirty || now >= n->blobs_next || kn_blobfetch_busy(n->blobs)) {
        n->blobs_dirty = false;
        n->blobs_next = kn_blobfetch_tick(n->blobs, now);
    }
    /* Events first: they name the peers that a fault may disconnect below. */
    kn_blobfetch_event ev;
    while (kn_blobfetch_take_event(n->blobs, &ev))
        log_event(n, &ev, now);
    uint64_t peer;
    while (kn_blobfetch_take_fault(n->blobs, &peer)) {
        conn *c = conn_of(n, peer);
        if (c && !c->closing) {
            book_peer(n, c);
            conn_close(c, KN_EPROTO, "sent corrupt file chunks", true, now);
        }
    }
    for (conn *c = n->conns; c; c = c->next)
        if (c->repl_up)
            book_peer(n, c);
    log_progress(n, now);
}
