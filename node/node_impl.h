/*
 * Internals of the running node, shared by node.c (lifecycle, configured
 * peers, timers, state file), conn.c (one TCP connection and its secure
 * session) and messages.c (the application messages). Not for other modules.
 *
 * Ownership: the node owns the slots (one per configured peer) and the
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
#include "identity.h"
#include "node.h"
#include "peer_config.h"
#include "peer_state.h"

enum {
    NODE_TICK_MS = 250,
    NODE_RELOAD_MS = 2000, /* re-read the configured peers this often (and on SIGHUP) */
    NODE_STATE_MIN_MS = 1000, /* write peers.state at most this often */
    NODE_STATE_HEARTBEAT_MS = 10000,
    NODE_HANDSHAKE_MS = 10000, /* TCP connect + Noise handshake must finish within */
    NODE_PING_MS = 15000,
    NODE_SILENCE_MS = 45000, /* nothing received for this long: the peer is gone */
    NODE_BACKOFF_MIN_MS = 1000,
    NODE_BACKOFF_MAX_MS = 60000,
    NODE_STABLE_MS = 60000, /* a connection that lived this long resets the backoff */
    NODE_MAX_INBOUND = 256,
    NODE_MAX_HALFOPEN = 64, /* connections not yet established, both directions */
    NODE_MAX_MESSAGE = 1 << 20, /* application message bound for now (ping/pong/bye) */
    NODE_WRITE_QUEUE_MAX = 8 << 20, /* a peer that does not read this much is dropped */
    NODE_CLOSE_GRACE_MS = 2000, /* time a `bye` gets to leave before the socket is cut */
    NODE_STATEMENT_DAYS = 30,
    NODE_READ_BUF = 64 << 10,
};

typedef struct node node;
typedef struct conn conn;
typedef struct slot slot;

/* One configured peer: the address we dial and what we learned about it. */
struct slot {
    node *n;
    slot *next;
    kn_peer_entry cfg;
    bool has_learned; /* identity seen at the last handshake on this address */
    uint8_t learned[32];
    conn *conn; /* our outbound connection, or NULL */
    struct resolve *resolving; /* pending DNS lookup, or NULL */
    kn_peer_phase phase;
    unsigned failures; /* consecutive failed attempts, for the backoff */
    uint64_t retry_ms;
    uint64_t handshake_ms, error_ms;
    uint64_t bytes_in, bytes_out; /* of the current or last connection */
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
    char addr[KN_PEER_ADDR_MAX + 1];
    uint8_t identity[32];
    uint64_t seq; /* creation order, to tell the newer of two connections */
    uint64_t started_ms, since_ms, last_rx_ms, close_deadline_ms;
    uint64_t next_ping_ms, ping_sent_ms, ping_nonce;
    bool ping_outstanding, pong_seen;
    uint64_t bytes_in, bytes_out;
    uint8_t rbuf[NODE_READ_BUF];
};

struct node {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t tick;
    const kn_env *env;
    kn_datadir *dd;
    const kn_node_config *cfg;
    uint8_t noise_priv[32]; /* secret: wiped at exit */
    uint8_t noise_pub[32];
    kn_identity_statement self;
    uint64_t now_ms, now_stamp;
    slot *slots;
    conn *conns;
    unsigned inbound, halfopen;
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
};

/* ---- node.c ---- */
uint64_t node_now(node *n);
void node_log(node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "peer 127.0.0.1:9001 (ab12cd34…)" for logs; buf holds at least 300 bytes. */
const char *node_peer_label(const conn *c, char *buf, size_t cap);
uint32_t node_random_u32(node *n);
/* Decides whether a peer may stay: own key, pinned key, roster. 0 or a KN_E code + reason. */
int node_authorize(node *n, conn *c, const char **why);
/* Called by conn.c when a connection is established / has started closing. */
void node_on_established(node *n, conn *c, uint64_t now);
void node_on_closed(node *n, conn *c, int err, const char *why, uint64_t now);

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

/* ---- messages.c ---- */
/* Decodes and handles one application message; a negative code disconnects the peer. */
KN_MUST_USE int msg_dispatch(
    conn *c, const uint8_t *msg, size_t len, uint64_t now, const char **why);
void msg_send_ping(conn *c, uint64_t now);
/* Appends ["bye", reason] (reason cut to KN_WIRE_REASON_MAX bytes). */
void msg_encode_bye(kn_mp_out *o, const char *reason);

#endif
