/*
 * One peer connection: the libuv TCP handle around a sans-I/O kn_session
 * (frame.h). Bytes read are fed to the session with `now`; what the session
 * wants sent is written; decrypted messages go to msg_dispatch().
 *
 * Lifecycle: conn_dial()/conn_accept() -> handshake (deadline
 * NODE_HANDSHAKE_MS from the first byte of effort, TCP connect included) ->
 * identity check (node_authorize) -> established -> conn_close(), which is
 * idempotent, tells the node once, optionally sends `bye` and shuts the
 * socket down, and finally releases the memory in the close callback.
 *
 * A peer without the network key fails at message 1 inside the session,
 * which has then written nothing: we close without sending a single byte.
 *
 * A revoked peer is refused at the identity check. As responder we learn its
 * identity from message 3, when the session is already up on both sides, so
 * it gets a bye "revoked"; as initiator we learn it from message 2 and simply
 * never send message 3. A guest (the network key but no admission) stays
 * connected for at most NODE_GUEST_MS and may only redeem an invite
 * (messages.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "node_impl.h"

/* The session must reassemble the largest wire message (a 256 KiB blob chunk). */
_Static_assert(
    (long)NODE_MAX_MESSAGE >= (long)KN_WIRE_MSG_MAX, "NODE_MAX_MESSAGE below KN_WIRE_MSG_MAX");
_Static_assert(
    (long)NODE_MAX_MESSAGE <= (long)KN_FRAME_DEFAULT_MAX_MESSAGE, "NODE_MAX_MESSAGE too large");

typedef struct write_req {
    uv_write_t req;
    uint8_t *buf;
} write_req;

static int uv_to_kn(int uverr)
{
    switch (uverr) {
    case UV_ENOMEM:
        return KN_ENOMEM;
    case UV_ETIMEDOUT:
        return KN_ETIMEOUT;
    case UV_EOF:
        return KN_ECLOSED;
    default:
        return KN_ENET;
    }
}

static void on_closed(uv_handle_t *h)
{
    conn *c = h->data;
    node *n = c->n;
    if (c->prev)
        c->prev->next = c->next;
    else
        n->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    kn_session_free(c->s);
    free(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    conn *c = req->handle->data;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static conn *conn_new(node *n, uint64_t now)
{
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->n = n;
    c->seq = ++n->conn_seq;
    c->started_ms = now;
    c->last_rx_ms = now;
    if (uv_tcp_init(n->loop, &c->tcp) < 0) {
        free(c);
        return NULL;
    }
    c->tcp.data = c;
    c->next = n->conns;
    if (n->conns)
        n->conns->prev = c;
    n->conns = c;
    c->halfopen = true;
    n->halfopen++;
    return c;
}

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    conn *c = req->handle->data;
    free(w->buf);
    free(w);
    if (status < 0 && status != UV_ECANCELED && !c->closing)
        conn_close(c, KN_ENET, uv_strerror(status), false, node_now(c->n));
}

/* Writes whatever the session has produced; the caller decides what a failure means. */
static int write_output(conn *c)
{
    size_t len;
    uint8_t *buf = kn_session_take_output(c->s, &len);
    if (!buf)
        return 0;
    write_req *w = malloc(sizeof *w);
    if (!w) {
        free(buf);
        return KN_ENOMEM;
    }
    w->buf = buf;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        free(buf);
        free(w);
        return KN_ENET;
    }
    c->bytes_out += len;
    if (c->slot)
        c->slot->bytes_out = c->bytes_out;
    c->n->state_dirty = true;
    return 0;
}

static void flush(conn *c, uint64_t now)
{
    c->out_pending = false;
    int rc = write_output(c);
    if (rc < 0)
        conn_close(c, rc, "cannot write to the socket", false, now);
    else if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > NODE_WRITE_QUEUE_MAX)
        conn_close(c, KN_ELIMIT, "the peer does not read what we send", false, now);
}

void conn_flush(conn *c, uint64_t now)
{
    if (!c->closing && c->s)
        flush(c, now);
}

/*
 * The replication engine's way out: the message is encrypted into the
 * session at once, but written by the next conn_flush (sync_run, or the end
 * of the read that caused it), so that a burst of small messages leaves in
 * one write, and so that a write error never closes a connection from
 * inside the engine.
 */
int conn_queue(conn *c, const uint8_t *msg, size_t len)
{
    if (c->closing || !c->established || c->send_failed)
        return KN_ECLOSED;
    int rc = kn_session_send(c->s, msg, len);
    if (rc < 0) {
        c->send_failed = true;
        c->n->out_dirty = true;
        return rc;
    }
    c->out_pending = true;
    c->n->out_dirty = true;
    return 0;
}

size_t conn_queued(const conn *c)
{
    if (!c->s)
        return 0;
    const uint8_t *buf;
    size_t len = 0;
    kn_session_pending_output(c->s, &buf, &len);
    return len + uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

void conn_send(conn *c, kn_mp_out *msg, uint64_t now)
{
    if (c->closing || !c->established)
        return;
    int rc = kn_mp_out_error(msg);
    if (rc == 0)
        rc = kn_session_send(c->s, msg->buf, msg->len);
    if (rc < 0) {
        conn_close(c, rc, "cannot send", false, now);
        return;
    }
    flush(c, now);
}

/* "IP:PORT" ("[IP]:PORT" for IPv6) into out, and the IP alone into ip. */
static void format_addr(
    const struct sockaddr_storage *ss, char *out, size_t cap, char *ip, size_t ipcap)
{
    char host[64] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(out, cap, "%s:%d", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(out, cap, "[%s]:%d", host, port);
    } else {
        snprintf(out, cap, "unknown");
    }
    snprintf(ip, ipcap, "%s", host);
}

static int start_session(conn *c, enum kn_noise_role role, uint64_t now)
{
    node *n = c->n;
    uint8_t eph[32];
    kn_env_random(n->env, eph, sizeof eph);
    int rc = kn_session_new(&c->s, role, n->dd->network_key, n->noise_priv, &n->self, eph, now);
    kn_memzero(eph, sizeof eph);
    if (rc < 0)
        return rc;
    if ((rc = kn_session_set_max_message(c->s, NODE_MAX_MESSAGE)) < 0)
        return rc;
    return kn_session_start(c->s);
}

/* After every feed: the identity check, the moment of establishment, the messages. */
static void after_feed(conn *c, uint64_t now)
{
    node *n = c->n;
    const kn_identity_statement *id = kn_session_remote_identity(c->s);
    if (id && !c->identity_checked) {
        /*
         * Checked before anything the session produced is written: an
         * initiator refusing the responder here never sends message 3.
         */
        const char *why = NULL;
        c->identity_checked = true;
        memcpy(c->identity, id->identity, 32);
        int rc = node_authorize(n, c, now, &why);
        if (rc < 0) {
            /*
             * As responder the session is up on both sides: say why. As
             * initiator, message 3 waits in the session; it must not leave.
             */
            conn_close(
                c, rc, why, c->inbound && kn_session_state(c->s) == KN_SESSION_ESTABLISHED, now);
            return;
        }
    }
    if (!c->established && kn_session_state(c->s) == KN_SESSION_ESTABLISHED) {
        c->established = true;
        c->since_ms = now;
        c->last_msg_ms = now;
        c->halfopen = false;
        n->halfopen--;
        if (c->halfopen_in) {
            c->halfopen_in = false;
            n->halfopen_in--;
        }
        flush(c, now); /* message 3, if we are the initiator */
        node_on_established(n, c, now);
        if (c->closing)
            return;
    }
    const uint8_t *msg;
    size_t len;
    while (!c->closing && kn_session_next_message(c->s, &msg, &len) == 1) {
        const char *why = "invalid message";
        c->last_msg_ms = now;
        int rc = msg_dispatch(c, msg, len, now, &why);
        if (rc < 0) {
            char text[160];
            snprintf(text, sizeof text, "protocol violation: %s", why);
            abuse_offend(n, c, abuse_for_code(rc), now);
            conn_close(c, rc, text, true, now);
            return;
        }
    }
    if (!c->closing)
        flush(c, now);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn *c = h->data;
    *buf = uv_buf_init((char *)c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = stream->data;
    uint64_t now = node_now(c->n);
    (void)buf;
    if (c->closing || nread == 0)
        return;
    if (nread < 0) {
        conn_close(c, uv_to_kn((int)nread),
            nread == UV_EOF ? "the peer closed the connection" : uv_strerror((int)nread), false,
            now);
        return;
    }
    c->last_rx_ms = now;
    c->bytes_in += (uint64_t)nread;
    if (c->slot)
        c->slot->bytes_in = c->bytes_in;
    c->n->state_dirty = true;
    int rc = kn_session_feed(c->s, c->rbuf, (size_t)nread, now);
    if (rc < 0 && !c->identity_checked && kn_session_remote_identity(c->s)) {
        /*
         * The handshake completed inside this feed and the bytes after it
         * failed: the peer proved its identity, so the offense is its own.
         */
        c->identity_checked = true;
        memcpy(c->identity, kn_session_remote_identity(c->s)->identity, 32);
        c->member = node_classify(c->n, c->identity, now) == NODE_PEER_MEMBER;
    }
    if (rc < 0) {
        const char *why = rc == KN_ECRYPTO && !c->identity_checked
            ? "handshake failed: the peer does not have our network key"
            : rc == KN_EIDENTITY || rc == KN_EEXPIRED ? "bad identity statement"
                                                      : "session failed";
        /* After the handshake a session fails only on bytes no correct peer sends. */
        abuse_offend(c->n, c,
            !c->identity_checked   ? KN_OFFENSE_HANDSHAKE
                : rc == KN_ECRYPTO ? KN_OFFENSE_GARBAGE
                                   : KN_OFFENSE_PROTOCOL, /* a frame or message out of bounds */
            now);
        conn_close(c, rc, why, false, now);
        return;
    }
    after_feed(c, now);
}

static void on_connect(uv_connect_t *req, int status)
{
    conn *c = req->handle->data;
    if (status == UV_ECANCELED || c->closing)
        return;
    uint64_t now = node_now(c->n);
    if (status < 0) {
        char why[128];
        snprintf(why, sizeof why, "cannot connect: %s", uv_strerror(status));
        conn_close(c, KN_ENET, why, false, now);
        return;
    }
    c->n->state_dirty = true;
    if (c->slot)
        c->slot->phase = KN_PHASE_HANDSHAKE;
    int rc = start_session(c, KN_NOISE_INITIATOR, now);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0 ? KN_ENET : 0;
    if (rc < 0) {
        conn_close(c, rc, "cannot start the session", false, now);
        return;
    }
    flush(c, now);
}

int conn_dial(node *n, slot *s, const struct sockaddr *addr, uint64_t now)
{
    conn *c = conn_new(n, now);
    if (!c)
        return KN_ENOMEM;
    c->slot = s;
    s->conn = c;
    s->phase = KN_PHASE_CONNECTING;
    s->bytes_in = s->bytes_out = 0;
    snprintf(c->addr, sizeof c->addr, "%s", s->cfg.addr);
    int rc = uv_tcp_connect(&c->connect_req, &c->tcp, addr, on_connect);
    if (rc < 0) {
        /* The callback will not run: close here (the slot learns why). */
        char why[128];
        snprintf(why, sizeof why, "cannot connect: %s", uv_strerror(rc));
        conn_close(c, KN_ENET, why, false, now);
    }
    return 0;
}

void conn_accept(node *n, uint64_t now)
{
    conn *c = conn_new(n, now);
    if (!c)
        return;
    c->inbound = true;
    n->inbound++;
    if (uv_accept((uv_stream_t *)&n->listener, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c, KN_ENET, "accept failed", false, now);
        return;
    }
    c->halfopen_in = true;
    n->halfopen_in++;
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0)
        format_addr(&ss, c->addr, sizeof c->addr, c->ip, sizeof c->ip);
    else
        snprintf(c->addr, sizeof c->addr, "unknown");
    /*
     * A banned address is refused before any cryptography, and without a log
     * line each time (abuse.c). Over a limit, the connection is accepted only
     * to be closed, so the backlog drains; one address may hold only a few of
     * the handshake slots, so that one scanner cannot take them all.
     */
    if (abuse_addr_banned(n, c->ip, now)) {
        c->quiet = true; /* abuse.c logs refusals, at most one line per NODE_REFUSED_LOG_MS */
        conn_close(c, KN_EUNAUTH, "banned", false, now);
        return;
    }
    unsigned same = 0;
    for (conn *o = n->conns; o; o = o->next)
        same += o != c && o->halfopen_in && !o->closing && strcmp(o->ip, c->ip) == 0;
    if (n->inbound > n->max_inbound || n->halfopen_in > n->max_halfopen
        || same >= NODE_HALFOPEN_PER_ADDR || n->stopping) {
        if (same >= NODE_HALFOPEN_PER_ADDR)
            abuse_offend(n, c, KN_OFFENSE_CROWD, now);
        if (now < n->limit_log_ms + NODE_REFUSED_LOG_MS)
            c->quiet = true; /* a flood of connections: one line per NODE_REFUSED_LOG_MS */
        else
            n->limit_log_ms = now;
        conn_close(c, KN_ELIMIT,
            n->stopping                       ? "shutting down"
                : n->inbound > n->max_inbound ? "too many inbound connections"
                : same >= NODE_HALFOPEN_PER_ADDR
                ? "too many handshakes in progress from this address"
                : "too many handshakes in progress",
            false, now);
        return;
    }
    int rc = start_session(c, KN_NOISE_RESPONDER, now);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0 ? KN_ENET : 0;
    if (rc < 0)
        conn_close(c, rc, "cannot start the session", false, now);
}

void conn_close(conn *c, int err, const char *why, bool say_bye, uint64_t now)
{
    if (c->closing)
        return;
    node *n = c->n;
    c->closing = true;
    c->close_deadline_ms = now + NODE_CLOSE_GRACE_MS;
    if (c->halfopen) {
        c->halfopen = false;
        n->halfopen--;
    }
    if (c->halfopen_in) {
        c->halfopen_in = false;
        n->halfopen_in--;
    }
    if (c->inbound)
        n->inbound--;
    node_on_closed(n, c, err, why, now);
    uv_read_stop((uv_stream_t *)&c->tcp);
    bool graceful = false;
    if (say_bye && c->s && kn_session_state(c->s) == KN_SESSION_ESTABLISHED) {
        /* Best effort: a bye that cannot be sent changes nothing about the close. */
        kn_mp_out o;
        kn_mp_out_init(&o, 512);
        msg_encode_bye(&o, why);
        if (kn_mp_out_error(&o) == 0 && kn_session_send(c->s, o.buf, o.len) == 0
            && write_output(c) == 0)
            graceful = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) == 0;
        kn_mp_out_free(&o);
    }
    if (!graceful && !uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void conn_abort(conn *c, uint64_t now)
{
    conn_close(c, 0, "shutting down", false, now);
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void conn_tick(conn *c, uint64_t now)
{
    if (c->closing) {
        /* A bye that cannot leave within the grace time is abandoned. */
        if (now >= c->close_deadline_ms && !uv_is_closing((uv_handle_t *)&c->tcp))
            uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    if (!c->established) {
        if (now - c->started_ms >= c->n->handshake_ms || (c->s && kn_session_tick(c->s, now) < 0)) {
            abuse_offend(c->n, c, KN_OFFENSE_SLOW, now);
            conn_close(c, KN_ETIMEOUT, "handshake timed out", false, now);
        }
        return;
    }
    /*
     * Honest peers answer our pings (every idle/3), so a connection without a
     * complete message for the idle timeout is gone; if bytes kept coming
     * without completing one, the peer is holding a message open on purpose
     * (slowloris) and is scored for it.
     */
    if (now - c->last_msg_ms >= c->n->idle_ms) {
        char why[96];
        bool trickle = c->last_rx_ms > c->last_msg_ms;
        snprintf(why, sizeof why, "%s for %llu s", trickle ? "no complete message" : "silent",
            (unsigned long long)(c->n->idle_ms / 1000));
        if (trickle)
            abuse_offend(c->n, c, KN_OFFENSE_STALL, now);
        conn_close(c, KN_ETIMEOUT, why, true, now);
        return;
    }
    /*
     * Our ping unanswered and not a byte heard for ping_timeout: the link is
     * stuck (TCP in retransmission backoff after a partition or heavy loss can
     * wait up to minutes). Close and let the slot redial, which gets a fresh
     * connection through at once; not scored, it is the network's doing. A
     * peer busy sending us data still counts as heard (and it pings us too);
     * one trickling bytes is left to the idle timeout above, which scores it.
     */
    if (c->ping_outstanding && now - c->ping_sent_ms >= c->n->ping_timeout_ms
        && now - c->last_rx_ms >= c->n->ping_timeout_ms) {
        char why[96];
        snprintf(why, sizeof why, "no pong for %llu s",
            (unsigned long long)((now - c->ping_sent_ms) / 1000));
        conn_close(c, KN_ETIMEOUT, why, true, now);
        return;
    }
    if (!c->member && c->guest_until_ms && now >= c->guest_until_ms) {
        c->retry_floor_ms = NODE_REFUSED_RETRY_MS;
        conn_close(c, KN_EUNAUTH, NODE_BYE_NOT_MEMBER, true, now);
        return;
    }
    if (now >= c->next_ping_ms && !c->ping_outstanding) {
        c->next_ping_ms = now + c->n->ping_ms;
        msg_send_ping(c, now);
    }
    if (!c->closing)
        sync_conn_tick(c, now);
}
