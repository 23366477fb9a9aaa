/*
 * The replication engine: what to push, what to announce, what to ask for and
 * when to reconcile, for one node and its connected peers.
 *
 * It is sans-I/O and has no globals: the caller feeds it decoded-session
 * application messages (kn_repl_receive), new local objects (kn_repl_publish),
 * peers coming and going, and the time (`now`, read once per loop tick); the
 * engine answers by calling the injected send() callback with encoded wire
 * messages (protocol/wire.h) and by telling the caller when it next needs a
 * tick. The libuv shell (node/node.c) and the simulator (tools/sim) drive the
 * very same code; only the transport and the clock differ.
 *
 * Dissemination (docs/replication.md) is Plumtree: every link is eager (new
 * objects cross it in full, "obj") or lazy (they cross it as an id in a
 * batched "have"). A new valid object, local or received, is pushed at once to
 * the eager peers not known to have it and announced to the others. A
 * duplicate pushed over a link prunes it (the receiver answers with a "have"
 * of the id, and the pusher, seeing a "have" of something it pushed, makes the
 * link lazy too); the sender of a first copy is kept eager. So the eager links
 * settle into one spanning tree shared by every source. A "have" of an unknown
 * id waits graft_delay_ms for the eager copy and then becomes a "want" to one
 * announcer, with a bounded number in flight per peer, a timeout and a retry
 * from another announcer; that want (and only that one: not a want from
 * anti-entropy or for a pending object's refs) is a graft that makes the link
 * eager again on both sides. An object the store holds as pending gets "want"s
 * for its missing refs from the peer that sent it. Anti-entropy is Negentropy
 * V1 over (created, id), started by the dialling side on connect and every
 * `neg_interval_ms`; its "need" ids become wants and its "have" ids are pushed.
 *
 * Received objects are validated (signature) and stored in batches: one
 * store ingest per kn_repl_tick (or per KN_REPL_INBOX_MAX objects), since the
 * store's cost is per write transaction. Without a `validate` hook an object
 * is validated at once, on the caller's thread (the simulator does this, so
 * its runs stay deterministic). With one, the engine does only the cheap part
 * itself (decode, dedupe) and hands the signature checks to the hook in
 * batches (kn_repl_batch), which the shell runs on other threads and gives
 * back with kn_repl_validated(); the engine stores them in the order it
 * received them. While a peer has more than `verify_backlog_max` objects
 * waiting for validation, no new wants go to it (backpressure on the
 * catch-up window), and an invalid signature found late is reported through
 * kn_repl_take_fault() so the shell can disconnect the sender.
 *
 * Forwarding is bounded per author: a token bucket per author key lets
 * `author_objs_per_sec` objects through at once; the rest wait in a queue
 * that is served when the links are idle or the author's bucket refills, so
 * an author who floods cannot delay other members' objects.
 *
 * The engine owns its peer table (at most KN_REPL_PEERS_MAX), its bounded
 * id tables and queues, and its negentropy sessions. The store is reached only
 * through kn_repl_store, so the node can back it with LMDB (kn_repl_store_lmdb)
 * and the simulator with memory (kn_repl_memstore).
 */
#ifndef KN_REPL_H
#define KN_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "error.h"
#include "negentropy.h"
#include "object.h"

enum {
    KN_REPL_PEERS_MAX = 64, /* connected peers per engine */
    KN_REPL_NEG_FRAME = 60000, /* negentropy message cap: one fits in a Noise frame */
    KN_REPL_INBOX_MAX = 256, /* received objects stored per ingest call at most */
    KN_REPL_INBOX_ASYNC_MAX = 1024, /* ... with a validate hook */
};

/*
 * The object store as the engine sees it. Every function returns 0 or a
 * negative KN_E code unless said otherwise; ctx is passed back unchanged.
 */
typedef struct kn_repl_store {
    void *ctx;
    /* 1 if the id is stored or must never be fetched again (tombstoned), 0 if not. */
    int (*has)(void *ctx, const uint8_t id[KN_ID]);
    /*
     * Optional: has() for ids[0..n) at once (out[i] = 1 or 0), for stores
     * where one lookup of many costs less than many of one (LMDB: one read
     * transaction). 0, or negative: the engine asks has() one id at a time.
     * NULL: has() is always used.
     */
    int (*has_many)(void *ctx, const uint8_t *const *ids, size_t n, uint8_t *out);
    /*
     * Optional: like has_many, and an object the store holds as pending
     * (waiting for a ref or an author; it releases it by itself) counts as
     * held too. The engine asks this, not has(), before it fetches the ids
     * a reconciliation found missing, so that a pending object (say a
     * retract of something this node never had) is not fetched and verified
     * again at every reconciliation; the reconciliation finds whatever it
     * still waits for on its own. (A "have" of it is still answered with a
     * want: that want may graft a link, and the simulator's latencies need
     * it.) NULL: has_many (or has) is used.
     */
    int (*held_many)(void *ctx, const uint8_t *const *ids, size_t n, uint8_t *out);
    /* A malloc'd copy of a stored object's bytes (the caller frees); KN_ENOTFOUND. */
    int (*get)(void *ctx, const uint8_t id[KN_ID], uint8_t **buf, size_t *len);
    /*
     * Ingests n validated objects (borrowed for the call); results[i] receives
     * a kn_put_result (store.h) or a negative per-object code, as
     * kn_store_ingest() does. Objects released from pending by this batch must
     * turn has() true by the time it returns.
     */
    int (*ingest)(void *ctx, const kn_object *objs, size_t n, int *results);
    /*
     * Calls fn for every stored object (any order); a negative return from fn
     * stops and is returned. Used only without neg_open: the engine then builds
     * an in-memory kn_neg_vector from it, once per reconciliation (O(n)).
     */
    int (*each_item)(
        void *ctx, int (*fn)(void *fctx, uint64_t created, const uint8_t id[KN_ID]), void *fctx);
    /*
     * Optional: a read snapshot of the stored items (created, id) as a
     * Negentropy storage that answers without a scan (store/negtree.h).
     * *st points into *snap and is valid until neg_close(ctx, *snap). The
     * engine opens one per negentropy message, answers that message, and
     * closes it before it calls anything else of this interface, so no
     * snapshot is ever held across an ingest. NULL: each_item is used.
     */
    int (*neg_open)(void *ctx, void **snap, kn_neg_storage *st);
    void (*neg_close)(void *ctx, void *snap);
} kn_repl_store;

/*
 * Objects received from peers whose expensive checks (body schema, clock,
 * Ed25519 signature) the engine hands to the validate hook. The engine owns
 * the batch and every byte it points to; between the hook call and
 * kn_repl_validated() only the hook's side may touch it (kn_repl_batch_run),
 * from any one thread.
 */
typedef struct kn_repl_batch kn_repl_batch;

/*
 * Validates every object of b and records the results in b. Thread-safe: it
 * touches nothing but b (and libsodium, initialised by kn_crypto_init()).
 */
void kn_repl_batch_run(kn_repl_batch *b);

typedef struct kn_repl_config {
    kn_repl_store store;
    /*
     * Hands one encoded wire message for `peer` to the transport (msg borrowed
     * for the call). A negative return means the peer is going away; the
     * engine carries on and expects kn_repl_peer_down() soon.
     */
    int (*send)(void *ctx, uint64_t peer, const uint8_t *msg, size_t len);
    void *send_ctx;
    /* Bytes the transport still holds for peer (backpressure); NULL: always 0. */
    size_t (*queued)(void *ctx, uint64_t peer);
    /* Randomness for timer jitter; borrowed, outlives the engine. NULL: no jitter. */
    const kn_env *env;
    uint8_t node_key[KN_KEY]; /* sent in hello */

    /* Zero picks the default given in brackets. */
    unsigned fanout; /* links that start eager; later ones start lazy until grafted [64: all] */
    unsigned wants_max; /* wants in flight per peer [1024] */
    /*
     * A want unanswered this long is asked elsewhere [2000]; but while the
     * peer keeps answering wants asked before it (one within the last
     * period, none asked after it), it waits up to 7 periods more: on a slow
     * link it is queued, not lost.
     */
    uint64_t want_timeout_ms;
    uint64_t announce_delay_ms; /* batching window of "have" [50] */
    uint64_t neg_interval_ms; /* anti-entropy period per peer [60000] */
    uint64_t neg_timeout_ms; /* a session with no answer for this long is dropped [20000] */
    unsigned objs_per_sec; /* objects pushed to one peer per second [2000] */
    /*
     * Per peer, token buckets on what it sends unasked: objects (answers to
     * our wants are not counted) [4 x objs_per_sec] and want ids [32768],
     * per second, with a burst of one second's worth. What is over is
     * dropped; a peer that keeps sending more than twice its rate for a
     * window (10 s) is a fault (KN_ELIMIT), and so is one that sends the
     * same objects again (KN_EEXIST) or asks for many ids we never had
     * (KN_ENOTFOUND): see kn_repl_take_fault.
     */
    unsigned objs_in_per_sec;
    unsigned wants_in_per_sec;
    size_t queue_bytes_max; /* transport backlog above which pushes wait [1 MiB] */
    size_t queue_ids_max; /* ids queued per peer for push or announce [16384] */
    uint64_t graft_delay_ms; /* a "have" waits at least this long for the eager copy [200] */
    uint64_t graft_delay_max_ms; /* ... and at most this long, as lags seen call for [1000] */
    bool no_prune; /* turn off Plumtree prune: every link stays eager (measurements only) */
    /*
     * Per-author forwarding bound: a token bucket of author_burst objects
     * refilled at author_objs_per_sec [20/s, burst 2x]. Objects beyond it are
     * stored but forwarded only when every link's backlog is at most
     * queue_bytes_idle [16 KiB] with nothing else queued, or when the bucket
     * refills. no_author_limit turns it off (measurements only).
     */
    unsigned author_objs_per_sec;
    unsigned author_burst;
    size_t queue_bytes_idle;
    bool no_author_limit;
    /*
     * With a validate hook, gossip (objects pushed unasked) from an author
     * within its rate is validated at once on the caller's thread, up to 16
     * objects between ticks, and stored at the next tick, instead of
     * queueing behind a flood or a catch-up in the validation batches; so
     * objects may be stored in another order than they came.
     * no_fast_gossip turns that off (tests of the batch order).
     */
    bool no_fast_gossip;

    /*
     * Optional: validation off the caller's thread. The engine calls
     * validate(validate_ctx, b) with a batch of received, decoded, not yet
     * known objects; 0 means the hook took it and will run
     * kn_repl_batch_run(b) (on any thread) and then give it back with
     * kn_repl_validated() on the engine's thread; a negative return means it
     * could not, and the engine validates b itself at once. The hook must not
     * call into the engine. At most validate_max_out batches are out at once
     * [2], each of at most validate_batch objects [64]. NULL: every object is
     * validated inline when it arrives (the simulator, tests).
     */
    int (*validate)(void *ctx, kn_repl_batch *b);
    void *validate_ctx;
    unsigned validate_batch;
    unsigned validate_max_out;
    /*
     * Objects from one peer received but not yet validated: above this no new
     * wants go to the peer until the backlog drains; at 4x further objects
     * from it are dropped unstored (a want or anti-entropy brings them again)
     * [1024]; the same for their bytes, verify_backlog_bytes [8 MiB]. Only
     * with a validate hook.
     */
    unsigned verify_backlog_max;
    size_t verify_backlog_bytes;
} kn_repl_config;

typedef struct kn_repl kn_repl;

/* Copies cfg. KN_EINVAL without send or a complete store interface. */
KN_MUST_USE int kn_repl_new(kn_repl **out, const kn_repl_config *cfg);
/* No batch may be out at the validate hook (kn_repl_validating() counts them). */
void kn_repl_free(kn_repl *r);

/*
 * A session with `peer` (any id the caller picks, unique among live peers) is
 * established: the engine sends hello and, if initiator (we dialled), starts
 * anti-entropy. KN_EEXIST, KN_ELIMIT beyond KN_REPL_PEERS_MAX.
 */
KN_MUST_USE int kn_repl_peer_up(kn_repl *r, uint64_t peer, bool initiator, uint64_t now);
/* The session ended; wants in flight to it are asked of others. Unknown peers are ignored. */
void kn_repl_peer_down(kn_repl *r, uint64_t peer, uint64_t now);

/*
 * One application message from peer (msg borrowed). Handles hello, have,
 * want, obj and neg; returns KN_EINVAL for ping, pong and bye, which belong
 * to the shell. Any other negative return is the peer's fault (malformed
 * message, invalid object, negentropy violation): the caller disconnects it.
 */
KN_MUST_USE int kn_repl_receive(
    kn_repl *r, uint64_t peer, const uint8_t *msg, size_t len, uint64_t now);

/*
 * A new local object (bytes borrowed): validated, ingested and pushed.
 * Returns a kn_put_result or a negative code (the object is refused).
 */
KN_MUST_USE int kn_repl_publish(kn_repl *r, const uint8_t *obj, size_t len, uint64_t now);

/*
 * An object that is already in the store but new to the engine: one that
 * another process stored (the command line writes into LMDB while the node
 * runs). It is pushed and announced exactly as kn_repl_publish() does for a
 * fresh local object. KN_ENOTFOUND if the store does not hold it (pending
 * objects included: they go on when released, like any other).
 */
KN_MUST_USE int kn_repl_announce(kn_repl *r, const uint8_t id[KN_ID], uint64_t now);

/*
 * Stores the objects received since the last call (one store ingest) and
 * forwards them, then runs timers (announce batches, want timeouts, paced
 * pushes, objects held by the author bound, anti-entropy). Returns the
 * absolute time of the next deadline. The shell calls it once per loop
 * iteration after it has read what was ready (received objects are not
 * stored or forwarded before), and at the deadline. Cheap to call early.
 */
uint64_t kn_repl_tick(kn_repl *r, uint64_t now);

/*
 * A batch the validate hook took is back (kn_repl_batch_run has run on it).
 * Batches may come back in any order; the engine moves their valid objects to
 * the inbox in the order they were received, so they are stored at the next
 * kn_repl_tick as if validated inline. An object with an invalid signature
 * (or any other fault but a clock ahead of ours) makes its sender a fault
 * (kn_repl_take_fault). Then more batches may go to the hook and wants held
 * back by the peers' backlogs go out at the next tick.
 */
void kn_repl_validated(kn_repl *r, kn_repl_batch *b, uint64_t now);

/*
 * A peer at fault: it sent an invalid object found by asynchronous
 * validation (the object's error code), kept sending more than twice its
 * rate of objects or want ids (KN_ELIMIT), sent objects again that it had
 * sent before (KN_EEXIST), or asked for many ids we never had
 * (KN_ENOTFOUND). The caller disconnects it (and may ban it). False when
 * there is none; each peer is reported once, and its later messages are
 * refused with the same code.
 */
bool kn_repl_take_fault(kn_repl *r, uint64_t *peer, int *code);

/* Objects received and not yet validated: staged, or out at the validate hook. */
size_t kn_repl_validating(const kn_repl *r);
/* Batches out at the validate hook now. */
size_t kn_repl_batches_out(const kn_repl *r);

typedef struct kn_repl_stats {
    uint64_t objs_in; /* obj messages received */
    uint64_t objs_new; /* ... that were new and stored */
    uint64_t objs_dup; /* ... that we had already */
    uint64_t objs_pending; /* ... held as pending */
    uint64_t objs_refused; /* ... invalid, unauthorised or over the rate */
    uint64_t objs_over_rate; /* ... dropped over the sender's rate (in objs_refused too) */
    uint64_t objs_repeated; /* ... that the sender had sent (or announced) before */
    uint64_t wants_over_rate; /* want ids dropped over the sender's rate */
    uint64_t objs_backlogged; /* ... dropped: the sender's validation backlog was full */
    uint64_t objs_fast; /* ... gossip within its author's rate, validated at once */
    uint64_t validate_batches; /* batches handed to the validate hook */
    uint64_t objs_out; /* obj messages sent */
    uint64_t ingest_calls; /* store ingest calls (write transactions) for received objects */
    uint64_t objs_deferred; /* new objects held back by the per-author bound */
    uint64_t grafts, prunes; /* links made eager by a graft, lazy by a duplicate */
    uint64_t haves_out, wants_out; /* ids announced, ids asked for */
    uint64_t want_timeouts;
    uint64_t neg_sessions, neg_done, neg_rounds;
    uint64_t bytes_in, bytes_out;
} kn_repl_stats;

void kn_repl_get_stats(const kn_repl *r, kn_repl_stats *st);

/*
 * The latest reconciliation this node started with a peer (we dialled it):
 * the Negentropy rounds, and then the fetching of what they found missing,
 * which can take much longer. "needs" is known once the rounds are done
 * (usually within a few round trips), so needs - fetched - had - dropped is
 * what is still to come. A reconciliation is finished when every need is
 * resolved; a later one (every neg_interval_ms) replaces the figures.
 */
typedef struct kn_repl_recon {
    uint64_t started_ms; /* 0: none started on this link yet */
    uint64_t finished_ms; /* 0: still running (or none) */
    uint64_t rounds; /* Negentropy answers received */
    uint64_t needs; /* ids the peer has and we lacked */
    uint64_t fetched; /* ... received since (from any peer) */
    uint64_t fetched_bytes; /* ... their encoded size */
    uint64_t had; /* ... stored meanwhile by another path */
    uint64_t dropped; /* ... given up on (no answer after retries): the next round finds them */
    uint64_t haves; /* ids we have and the peer lacked: pushed to it */
    bool complete; /* the rounds ended in agreement (not a timeout or an error) */
} kn_repl_recon;

/* Copies the figures for peer into *out; KN_ENOTFOUND for an unknown peer. */
KN_MUST_USE int kn_repl_peer_recon(const kn_repl *r, uint64_t peer, kn_repl_recon *out);
/* Number of live peers, wants waiting or in flight, ids queued to push. */
size_t kn_repl_peer_count(const kn_repl *r);
size_t kn_repl_wants_open(const kn_repl *r);
/* Wants currently in flight to peer (0 for unknown peers). */
unsigned kn_repl_peer_inflight(const kn_repl *r, uint64_t peer);

/* ---- store backends ---- */

/*
 * An in-memory store for the simulator and tests, where hundreds to
 * thousands of nodes in one process cannot each open LMDB. It accepts every
 * validated object (no roster), holds an object as pending while any of its
 * refs is missing, and releases it when they arrive. It survives an engine
 * restart: free the engine, keep the memstore, build a new engine over it.
 */
typedef struct kn_repl_memstore kn_repl_memstore;

KN_MUST_USE int kn_repl_memstore_new(kn_repl_memstore **out);
void kn_repl_memstore_free(kn_repl_memstore *m);
kn_repl_store kn_repl_memstore_iface(kn_repl_memstore *m);
size_t kn_repl_memstore_count(const kn_repl_memstore *m); /* stored, not pending */
int kn_repl_memstore_has(const kn_repl_memstore *m, const uint8_t id[KN_ID]);

/*
 * The LMDB store behind the engine; s is borrowed and outlives the engine.
 * Anti-entropy reads the store's fingerprint tree (store/negtree.h), one read
 * snapshot per negentropy message.
 */
struct kn_store;
kn_repl_store kn_repl_store_lmdb(struct kn_store *s);

#endif
