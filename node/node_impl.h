/*
 * Internals of the running node, shared by node.c (lifecycle, configured
 * peers, timers, state file), conn.c (one TCP connection and its secure
 * session), messages.c (the application messages), sync.c (the replication
 * engine's transport, and the per-peer sync accounting) and localpub.c
 * (objects other processes stored locally), join.c (invite redemption on
 * both sides, and the join mode of `knoten join`) and addr.c (this node's
 * addr object, and the announced peers it dials to keep its target number of
 * connections). Not for other modules.
 *
 * Ownership: the node owns the slots (one per configured peer, and one per
 * address another member announced) and the
 * connections (a list). A connection's memory is released only in the close
 * callback of its TCP handle (libuv rule); a slot is freed when the
 * configuration drops it, after detaching its connection.
 *
 * Time: every callback starts with node_now(), which reads the injected
 * clock once per loop iteration, and passes `now` down.
 */
#ifndef KN_NODE_IMPL_H
#define KN_NODE_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "codec.h"
#include "datadir.h"
#include "env.h"
#include "frame.h"
#include "guard.h"
#include "identity.h"
#include "join.h"
#include "log.h"
#include "node.h"
#include "peer_config.h"
#include "peer_state.h"
#include "repl.h"
#include "repl_idmap.h"
#include "wire.h"

enum {
    NODE_TICK_MS = 250,
    NODE_RELOAD_MS = 2000, /* re-read the configured peers this often (and on SIGHUP) */
    NODE_STATE_MIN_MS = 1000, /* write peers.state at most this often */
    NODE_STATE_HEARTBEAT_MS = 10000,
    NODE_HANDSHAKE_MS = 10000, /* TCP connect + Noise handshake must finish within */
    NODE_PING_MS = 15000,
    NODE_SILENCE_MS = 45000, /* nothing received for this long: the peer is gone */
    NODE_PING_TIMEOUT_MS = 15000, /* our ping unanswered, nothing heard: the link is stuck */
    NODE_BACKOFF_MIN_MS = 1000,
    NODE_BACKOFF_MAX_MS = 60000,
    NODE_STABLE_MS = 60000, /* a connection that lived this long resets the backoff */
    NODE_MAX_INBOUND = 256,
    NODE_MAX_HALFOPEN = 64, /* connections not yet established, inbound (and outbound) */
    NODE_HALFOPEN_PER_ADDR = 8, /* inbound handshakes at once from one IP address */
    NODE_REFUSED_LOG_MS = 10000, /* refusals of banned addresses: one log line this often */
    NODE_MAX_MESSAGE = 1 << 20, /* reassembled application message bound (> KN_WIRE_MSG_MAX) */
    NODE_WRITE_QUEUE_MAX = 8 << 20, /* a peer that does not read this much is dropped */
    NODE_CLOSE_GRACE_MS = 2000, /* time a `bye` gets to leave before the socket is cut */
    NODE_STATEMENT_DAYS = 30,
    NODE_READ_BUF = 64 << 10,
    NODE_LOCAL_POLL_MS = NODE_TICK_MS, /* look for objects other processes stored (each tick) */
    NODE_LOCAL_LOOKBACK_MS = 2000, /* ... re-reading this far behind the newest seen */
    NODE_LOCAL_BATCH = 256, /* ... publishing at most this many per loop iteration */
    NODE_ROUND_QUIET_MS = 1000, /* a reconciliation ends when the link is quiet this long */
    NODE_PROGRESS_MS = 1000, /* catch-up progress is logged at most this often */
    NODE_CAUGHT_UP_LOG_MIN = 100, /* objects a reconciliation must bring to be logged */
    NODE_GUEST_MS = 60000, /* a guest that has not joined within this is sent away */
    NODE_ROSTER_CHECK_MS = 1000, /* live connections are re-classified this often */
    NODE_REVOKED_RETRY_MS = 3600000, /* a revoked peer (or one that calls us revoked): 1 h */
    NODE_REFUSED_RETRY_MS = 300000, /* a peer that calls us "not a member": 5 min, */
    NODE_REFUSED_TRIES = 6, /* after this many refusals in a row if our roster disagrees */
    NODE_JOIN_RATE_SLOTS = 32, /* addresses whose failed joins are counted */
    NODE_JOIN_RATE_WINDOW_MS = 60000,
    NODE_JOIN_RATE_MAX = 10, /* failed joins per address and window */
    NODE_ADMIT_SETTLE_MS = 1000, /* joiner: after the admit, quiet this long means "member" */
    NODE_CANDIDATES_MS = 2000, /* re-read members' addr objects this often */
    NODE_ADDR_AUTHORS_MAX = 4096, /* authors of addr objects looked at per re-read */
};

/*
 * Who a peer is, decided after the handshake from the roster (node.c,
 * node_classify) and again every NODE_ROSTER_CHECK_MS while it is connected:
 * a member syncs; a guest holds the network key but is not admitted and may
 * only send join, ping and bye; a revoked key is refused at once.
 */
enum { NODE_PEER_MEMBER = 1, NODE_PEER_GUEST, NODE_PEER_REVOKED };

/* The bye a guest gets for anything but join, ping and bye, and when its time is up. */
#define NODE_BYE_NOT_MEMBER "not a member: redeem an invite with `knoten join`"
#define NODE_BYE_REVOKED "revoked"

/*
 * One reconciliation as the shell sees it (sync.c): it starts with the first
 * "neg" message either way and lasts while neg, want and obj messages flow,
 * until NODE_ROUND_QUIET_MS of quiet.
 */
typedef struct sync_round {
    bool active;
    uint64_t start_ms, last_ms, progress_ms;
    uint64_t objs_in, objs_out, obj_bytes_in;
    uint64_t wants_out; /* ids we asked this peer for during the round */
    uint64_t logged_in; /* objs_in at the last progress line */
} sync_round;

typedef struct node node;
typedef struct conn conn;
typedef struct slot slot;
typedef struct node_host node_host;

/*
 * The process around the councils (node.c): the one event loop and the
 * signal handles, shared by every council it hosts (`knoten run` with
 * several [council NAME] sections; one council otherwise, and in join mode).
 * A signal reaches every council; the loop ends once the last council has
 * finished stopping and closed the signal handles.
 */
struct node_host {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm, sighup;
    uv_signal_t sigusr1; /* "look for new local objects now" */
    const kn_env *env;
    node **nodes; /* owned, n of them */
    size_t n;
    size_t running; /* councils not finished yet */
    struct http *http; /* the web UI and API of the councils that enable it (http.c); or NULL */
};

/*
 * One address we dial and what we learned about it: a configured peer
 * (`knoten peer add`), or an announced one (addr.c: an address from a member's
 * newest addr object, with that member's key pinned in cfg).
 */
struct slot {
    node *n;
    slot *next;
    kn_peer_entry cfg;
    bool announced; /* from a member's addr object; dialled only below the target */
    bool stale; /* addr.c, during a re-read: not announced any more */
    bool has_learned; /* identity seen at the last handshake on this address */
    uint8_t learned[32];
    conn *conn; /* our outbound connection, or NULL */
    struct resolve *resolving; /* pending DNS lookup, or NULL */
    kn_peer_phase phase;
    unsigned failures; /* consecutive failed attempts, for the backoff */
    uint64_t retry_ms;
    uint64_t handshake_ms, error_ms;
    uint64_t bytes_in, bytes_out; /* of the current or last connection */
    kn_peer_sync sync; /* of the last connection, once it ended */
    kn_peer_blobs blobs; /* ... and the file chunks it moved */
    uint64_t blobs_corrupt_before; /* corrupt chunks over every closed connection (blobsync.c) */
    char last_error[KN_PEER_ERROR_MAX + 1];
};

struct conn {
    node *n;
    conn *prev, *next;
    uv_tcp_t tcp; /* tcp.data == this conn */
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    kn_session *s;
    slot *slot; /* the configured peer we dialled; NULL for inbound */
    bool inbound;
    bool halfopen; /* counted in node.halfopen */
    bool established; /* handshake done and identity accepted */
    bool identity_checked;
    bool closing;
    bool benign_close; /* closed as a duplicate or by the peer's polite bye */
    bool offended; /* an offense was booked for it (abuse.c): one per connection */
    bool quiet; /* refused in a flood (banned, over a limit): node_on_closed logs nothing */
    bool halfopen_in; /* counted in node.halfopen_in too */
    char addr[KN_PEER_ADDR_MAX + 1];
    char ip[KN_PEER_ADDR_MAX + 1]; /* the remote IP without the port, for the guard */
    char refusal[160]; /* why node_authorize refused it, when the text is made up */
    uint8_t identity[32];
    uint64_t seq; /* creation order, to tell the newer of two connections */
    uint64_t started_ms, since_ms, last_rx_ms, close_deadline_ms;
    uint64_t last_msg_ms; /* the last complete message (the idle timeout counts from it) */
    uint64_t next_ping_ms, ping_sent_ms, ping_nonce;
    bool ping_outstanding, pong_seen;
    uint64_t bytes_in, bytes_out;
    bool repl_up; /* known to the replication engine as peer `seq` */
    bool out_pending; /* the session holds output not yet handed to the socket */
    bool send_failed; /* the engine's send failed: close at the next check */
    bool member; /* may sync: hand to the engine (else a guest, see NODE_PEER_GUEST) */
    bool joining; /* join mode: our join went out on this connection, no admit yet */
    bool join_seen; /* the peer sent its one join on this connection */
    uint64_t guest_until_ms; /* a guest is sent away at this time */
    uint64_t retry_floor_ms; /* refused (revoked, not a member): the slot waits this long */
    unsigned floor_after; /* ...but only once the slot has failed more often than this */
    kn_peer_sync sync;
    kn_peer_blobs blobs; /* file chunks moved (blobsync.c) */
    sync_round round;
    uint8_t rbuf[NODE_READ_BUF];
};

struct node {
    node_host *host; /* the process around this council */
    uv_loop_t *loop; /* &host->loop */
    uv_tcp_t listener;
    uv_timer_t tick;
    uv_timer_t repl_timer; /* armed at kn_repl_tick's next deadline */
    uv_check_t repl_check; /* after each loop iteration's I/O: tick the engine, flush */
    uv_idle_t local_idle; /* runs while localpub has more objects to publish */
    const kn_env *env;
    kn_datadir *dd;
    const kn_node_config *cfg;
    kn_log log; /* this council's log lines (level, name) */
    unsigned max_inbound, max_halfopen; /* from cfg, defaults NODE_MAX_INBOUND / _HALFOPEN */
    uint64_t handshake_ms; /* from cfg, default NODE_HANDSHAKE_MS */
    uint64_t idle_ms, ping_ms; /* from cfg, default NODE_SILENCE_MS; pings at a third of it */
    uint64_t ping_timeout_ms; /* from cfg, default NODE_PING_TIMEOUT_MS */
    kn_guard *guard; /* scores and bans of misbehaving peers (abuse.c) */
    uint64_t refused_log_ms; /* abuse.c: when banned addresses' refusals were last logged */
    unsigned refused_quiet; /* ... and how many were not logged since */
    uint64_t limit_log_ms; /* conn.c: when a refusal over a limit was last logged */
    uint8_t noise_priv[32]; /* secret: wiped at exit */
    uint8_t noise_pub[32];
    kn_identity_statement self;
    uint64_t now_ms, now_stamp;
    slot *slots;
    conn *conns;
    unsigned inbound, halfopen, halfopen_in; /* halfopen_in: the inbound part of halfopen */
    uint8_t *peers_blob; /* the last peer list read from the store, to notice changes */
    size_t peers_blob_len;
    uint64_t reload_ms;
    bool reload_now;
    bool state_dirty;
    uint64_t state_written_ms;
    bool stopping, finished;
    uint64_t conn_seq;
    uint64_t stop_deadline_ms;
    int exit_code;

    /* Replication (sync.c). */
    kn_repl *repl;
    kn_repl_store lmdb; /* the engine's LMDB store, wrapped by sync.c's announce shim */
    bool repl_dirty; /* the engine was fed: tick it before the loop sleeps */
    bool out_dirty; /* some connection has output pending */
    bool announcing; /* kn_repl_publish of an object another process stored */
    uint8_t announce_id[KN_ID];

    /* File contents (blobsync.c). */
    struct kn_blobfetch *blobs;
    void *blobs_shim; /* the replication store's shim (blobsync_wrap_store) */
    struct kn_blobwriter *blobs_writer; /* stores fetched chunks beside the loop (blobwriter.h) */
    uint64_t blobs_scrub_ms; /* when kn_blob_scrub last looked (blobsync_run, once a second) */
    bool blobs_dirty; /* the blob engine was fed: tick it before the loop sleeps */
    bool blobs_rescan_due; /* objects were stored: the wanted list may have changed */
    uint64_t blobs_rescan_ms; /* when that last made the engine read it */
    uint64_t blobs_next; /* its next deadline */
    uint64_t blobs_progress_ms; /* the last progress line */
    uint64_t blobs_logged_bytes; /* fetched bytes at that line */

    /* Local objects written by other processes (localpub.c). */
    uint64_t local_mark; /* newest `created` among our own objects seen */
    kn_idmap local_recent; /* ids seen with created >= local_mark - lookback; value: created */
    bool local_more; /* the last poll stopped at NODE_LOCAL_BATCH */
    size_t local_resume_key; /* ... at this key of own_keys() */
    uint64_t local_resume_ms; /* ... at this `created`: the next poll goes on from there */
    uint64_t local_gen; /* the store's generation the last complete poll read (0: none) */

    /* Federation (node.c, join.c). */
    uint64_t roster_check_ms; /* next re-classification of the live connections */
    struct join_attempts {
        char ip[KN_PEER_ADDR_MAX + 1];
        uint64_t window_ms; /* start of the counting window */
        unsigned failures;
    } join_attempts[NODE_JOIN_RATE_SLOTS];
    kn_node_join *join; /* join mode (`knoten join`); NULL in `knoten run` */
    uint64_t join_started_ms, join_lost_since_ms;

    /* Finding each other (addr.c). */
    kn_announce announce; /* our own addresses (the "announce" setting) */
    bool announce_loaded;
    bool announce_pending; /* the set differs from our newest addr object, or not checked yet */
    uint64_t announce_check_ms; /* next look at whether we may publish it */
    unsigned target; /* target number of live connections ("connections" setting) */
    uint64_t candidates_ms; /* next re-read of the members' addr objects */
    size_t candidates_logged; /* announced addresses at the last log line */
    unsigned rotate; /* where the next scan of announced slots starts */
};

/* ---- node.c ---- */
uint64_t node_now(node *n);
/* A line at level info in this council's log; node_logl at another level (log.h). */
void node_log(node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void node_logl(node *n, kn_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "peer 127.0.0.1:9001 (ab12cd34…)" for logs; buf holds at least 300 bytes. */
const char *node_peer_label(const conn *c, char *buf, size_t cap);
uint32_t node_random_u32(node *n);
/*
 * Decides whether a peer may stay after the handshake: own key, pinned key,
 * roster. Sets c->member. 0, or a KN_E code and the reason (a revoked peer:
 * KN_EUNAUTH and NODE_BYE_REVOKED, which is also the bye it is sent).
 */
int node_authorize(node *n, conn *c, uint64_t now, const char **why);
/* NODE_PEER_MEMBER, _GUEST or _REVOKED for identity at now, or a KN_E code. */
int node_classify(node *n, const uint8_t identity[static 32], uint64_t now);
/* A guest (or a joiner) becomes a member: hand it to the engine. */
void node_promote(node *n, conn *c, uint64_t now);
/* Begins a clean shutdown, logging why (join mode ends this way). */
void node_stop(node *n, const char *why, uint64_t now);
/* The loop of kn_node_run and kn_node_join_run; join is NULL for `knoten run`. */
KN_MUST_USE int node_run(
    kn_datadir *dd, const kn_node_config *cfg, const kn_env *env, kn_node_join *join);
/* The loop for count councils (kn_node_run_many); join, if not NULL, applies to each. */
KN_MUST_USE int host_run(
    const kn_node_spec *v, size_t count, const kn_env *env, kn_node_join *join);
/* Dials the slot's address (a lookup first for a host name). */
void node_slot_dial(node *n, slot *s, uint64_t now);
/* Forgets a slot that is already unlinked: its connection says bye (why), its lookup is dropped. */
void node_slot_free(slot *s, const char *why, uint64_t now);
/* The established, not closing connection with this identity, or NULL (also for NULL). */
conn *node_established_with(node *n, const uint8_t *identity);
/* The identity a slot expects: the pinned key, else the one learned at the last handshake. */
const uint8_t *node_slot_identity(const slot *s);
/* Called by conn.c when a connection is established / has started closing. */
void node_on_established(node *n, conn *c, uint64_t now);
void node_on_closed(node *n, conn *c, int err, const char *why, uint64_t now);

/* The peers as peers.state describes them (st owned by the caller: kn_peer_state_free). */
KN_MUST_USE int node_peer_state(node *n, bool running, uint64_t now, kn_peer_state *st);

/* ---- http.c ---- */
/*
 * Starts the web UI of every council of h whose configuration enables it, on
 * one listener ([http] listen; the first such council's), each council below
 * its web_path. A port in use or a bad address is logged and the councils run
 * on without it.
 */
void http_start(node_host *h);
/* The last council is stopping: stop accepting, close idle connections. */
void http_stop(node_host *h);
/* The last council finished: cut the connections still open; let the loop end. */
void http_finish(node_host *h);
/* After the loop ended, before its handles are walked: dispose of h2o. */
void http_free(node_host *h);

/* Handshakes we dialled that are in progress: new dials wait while max_halfopen are. */
static inline unsigned node_halfopen_out(const node *n)
{
    return n->halfopen - n->halfopen_in;
}

/* ---- abuse.c ---- */
/*
 * Books offense o against c's peer (guard.h): by identity once the handshake
 * proved it, by address before (and for a guest, by both). Once per
 * connection; logs the score or the ban. Outbound connections are booked
 * only after the handshake: before it the address is our own configuration.
 */
void abuse_offend(node *n, conn *c, kn_offense o, uint64_t now);
/* The offense for a protocol violation with code rc (a bad object, or any other). */
kn_offense abuse_for_code(int rc);
/* True (and logged, at most once per NODE_REFUSED_LOG_MS) if ip is banned: refuse it. */
bool abuse_addr_banned(node *n, const char *ip, uint64_t now);
/* An inbound peer came back with a banned identity: its address is booked (KN_OFFENSE_RETRY). */
void abuse_banned_retry(node *n, conn *c, uint64_t now);
/* The end of the ban of identity, or 0; why receives a bye text (>= 160 bytes). */
uint64_t abuse_id_banned(node *n, const uint8_t identity[32], uint64_t now, char *why, size_t cap);
KN_MUST_USE int abuse_start(node *n);
void abuse_stop(node *n);

/* ---- conn.c ---- */
/* Starts an outbound connection to addr for slot s. */
KN_MUST_USE int conn_dial(node *n, slot *s, const struct sockaddr *addr, uint64_t now);
/* Accepts one pending inbound connection from the listener. */
void conn_accept(node *n, uint64_t now);
/*
 * Closes a connection once: err (a KN_E code or 0) and why go to the log and
 * to the slot; a `bye` carrying why is sent first if established and say_bye.
 */
void conn_close(conn *c, int err, const char *why, bool say_bye, uint64_t now);
/* Closes without waiting for anything (a bye already queued may be lost). */
void conn_abort(conn *c, uint64_t now);
/* Deadlines, pings and silence; called from the node tick. */
void conn_tick(conn *c, uint64_t now);
/* Encrypts and sends one application message; closes the connection on failure. */
void conn_send(conn *c, kn_mp_out *msg, uint64_t now);

/* Hands what the session has produced to the socket; may close c. */
void conn_flush(conn *c, uint64_t now);
/* Queues one encoded message on the session without writing (see sync.c); 0 or KN_E code. */
KN_MUST_USE int conn_queue(conn *c, const uint8_t *msg, size_t len);
/* Bytes not yet on the wire: the session's pending output and libuv's write queue. */
size_t conn_queued(const conn *c);

/* ---- sync.c ---- */
KN_MUST_USE int sync_start(node *n);
/* Initialises and starts the engine's timer and check handles (closed by close_walk/finish_stop).
 */
KN_MUST_USE int sync_handles_init(node *n);
void sync_stop(node *n); /* frees the engine; after the loop has ended */
void sync_peer_up(node *n, conn *c, uint64_t now);
void sync_peer_down(node *n, conn *c, uint64_t now);
/* One decoded replication message from c (not ping/pong/bye); negative: disconnect. */
KN_MUST_USE int sync_receive(
    conn *c, const uint8_t *msg, size_t len, const kn_wire_msg *m, uint64_t now, const char **why);
/* Publishes an object another process stored (bytes borrowed); a kn_put_result or KN_E code. */
int sync_announce(node *n, const uint8_t *raw, size_t len, const uint8_t id[KN_ID], uint64_t now);
/* Ticks the engine if it was fed, re-arms its timer, flushes output, closes failed links. */
void sync_run(node *n, uint64_t now);
/* Per-connection bookkeeping from the node tick: ends quiet rounds, logs catch-up progress. */
void sync_conn_tick(conn *c, uint64_t now);

/* ---- blobsync.c ---- */
/* The blob fetch engine over the node's store (after sync_start, which wraps the store). */
KN_MUST_USE int blobsync_start(node *n);
void blobsync_stop(node *n);
void blobsync_peer_up(node *n, conn *c, uint64_t now);
void blobsync_peer_down(node *n, conn *c, uint64_t now);
/* One decoded blob message (kn_blobfetch_handles(kind)) from c; negative: disconnect. */
KN_MUST_USE int blobsync_receive(conn *c, const kn_wire_msg *m, uint64_t now, const char **why);
/* The wanted list may have changed: read it again at the next run. */
void blobsync_rescan(node *n);
/* Ticks the blob engine when due, disconnects faulty peers, logs, books per-peer figures. */
void blobsync_run(node *n, uint64_t now);
/* The replication engine's store with a shim that calls blobsync_rescan on new docs. */
kn_repl_store blobsync_wrap_store(node *n, kn_repl_store inner);

/* ---- localpub.c ---- */
KN_MUST_USE int localpub_start(node *n, uint64_t now);
void localpub_stop(node *n);
void localpub_poll(node *n, uint64_t now);

/* ---- messages.c ---- */
/* Decodes and handles one application message; a negative code disconnects the peer. */
KN_MUST_USE int msg_dispatch(
    conn *c, const uint8_t *msg, size_t len, uint64_t now, const char **why);
void msg_send_ping(conn *c, uint64_t now);
/* Appends ["bye", reason] (reason cut to KN_WIRE_REASON_MAX bytes). */
void msg_encode_bye(kn_mp_out *o, const char *reason);

/* ---- addr.c ---- */
/* Re-reads the "announce" and "connections" settings (at start and with the peer list). */
void addr_reload(node *n, uint64_t now);
/*
 * From the node tick, after the configured peers: publishes our addr object
 * when due, re-reads the members' addr objects every NODE_CANDIDATES_MS, and
 * dials announced peers while there are fewer live connections than the target.
 */
void addr_tick(node *n, uint64_t now);

/* ---- join.c ---- */
/* Inviter side: a peer's ["join", ...] (any connection). Negative: protocol violation. */
KN_MUST_USE int join_on_join(conn *c, const kn_wire_msg *m, uint64_t now, const char **why);
/* Join mode: a message on the connection our join went out on, before the admit. */
KN_MUST_USE int join_on_reply(
    conn *c, const uint8_t *msg, size_t len, const kn_wire_msg *m, uint64_t now, const char **why);
/* Join mode: a connection to the inviter is up and we are not admitted yet: send join. */
void join_on_established(node *n, conn *c, uint64_t now);
/* Join mode: the peer said bye on a joining (or just admitted) connection. */
void join_on_bye(conn *c, const char *reason, size_t len, uint64_t now);
/* Join mode: deadlines, progress of the initial sync, the end. From the node tick. */
void join_tick(node *n, uint64_t now);

#endif
