/*
 * The application messages of an established session, in one place.
 *
 * protocol/wire.h decodes every message strictly (canonical msgpack, exact
 * arity per kind, bounded sizes, nothing trailing); msg_dispatch() then finds
 * the kind's row in `handlers`. A message that does not decode disconnects
 * the peer. The session's own messages are handled here:
 *
 *   ["ping", nonce]   answered at once with ["pong", nonce]
 *   ["pong", nonce]   must answer our one outstanding ping
 *   ["bye", reason]   the peer is closing
 *
 *   ["join", ...]     an invite redemption: join.c (join_on_join)
 *
 * and every other kind (hello, have, want, obj, neg) goes to the replication
 * engine through sync_receive() (sync.c), but only from a member. A guest
 * (the network key, no admission) that sends one is told NODE_BYE_NOT_MEMBER
 * and disconnected; in join mode, the connection that carries our join hands
 * what arrives before the admit to join_on_reply().
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "node_impl.h"

enum { MSG_SMALL_MAX = 64 + KN_WIRE_REASON_MAX };

typedef int (*msg_handler)(conn *c, const kn_wire_msg *m, uint64_t now, const char **why);

static int on_ping(conn *c, const kn_wire_msg *m, uint64_t now, const char **why)
{
    (void)why;
    kn_mp_out o;
    kn_mp_out_init(&o, MSG_SMALL_MAX);
    if (kn_wire_write_pong(&o, m->nonce) == 0)
        conn_send(c, &o, now);
    kn_mp_out_free(&o);
    return 0;
}

static int on_pong(conn *c, const kn_wire_msg *m, uint64_t now, const char **why)
{
    if (!c->ping_outstanding || m->nonce != c->ping_nonce) {
        *why = "pong without a matching ping";
        return KN_EPROTO;
    }
    c->ping_outstanding = false;
    if (!c->pong_seen) {
        /* The first pong proves the session works both ways; later ones are routine. */
        char label[320];
        c->pong_seen = true;
        node_log(c->n, "%s answered ping (pong received, rtt %llu ms)",
            node_peer_label(c, label, sizeof label), (unsigned long long)(now - c->ping_sent_ms));
    }
    return 0;
}

static bool reason_is(const kn_wire_msg *m, const char *prefix)
{
    size_t n = strlen(prefix);
    return m->reason_len >= n && memcmp(m->reason, prefix, n) == 0;
}

static int on_bye(conn *c, const kn_wire_msg *m, uint64_t now, const char **why)
{
    (void)why;
    char reason[KN_WIRE_REASON_MAX + 160];
    /* "revoked" is about this node: say so, and that there is no way back for its key. */
    snprintf(reason, sizeof reason, "peer said bye: %.*s%s", (int)m->reason_len, m->reason,
        m->reason_len == strlen(NODE_BYE_REVOKED) && reason_is(m, NODE_BYE_REVOKED)
            ? " (this node's membership was revoked, for good: the council needs a new node, "
              "joined with a new invite)"
            : "");
    if (c->n->join)
        join_on_bye(c, m->reason, m->reason_len, now);
    /*
     * Refused for who we are: not a failure of the link, and no reason to
     * call back soon. Unless our own roster says we are a member, or we do
     * not know the network yet: then the peer may simply not have received
     * our admit, and learns it from its other links within seconds. So the
     * slot's ordinary backoff (1 s, doubling) retries for about a minute
     * before the 5-minute floor applies; with the floor at once, two members
     * stayed apart for 5 minutes after both knew better (repl_mesh).
     */
    bool revoked = reason_is(m, NODE_BYE_REVOKED), not_member = reason_is(m, "not a member");
    bool refused = revoked || not_member;
    if (refused)
        c->retry_floor_ms = revoked ? NODE_REVOKED_RETRY_MS : NODE_REFUSED_RETRY_MS;
    if (not_member && node_classify(c->n, c->n->dd->identity_pk, now) == NODE_PEER_MEMBER)
        c->floor_after = NODE_REFUSED_TRIES;
    c->benign_close = !refused;
    conn_close(c, refused ? KN_EUNAUTH : 0, reason, false, now);
    return 0;
}

static const struct {
    kn_wire_kind kind;
    msg_handler fn;
} handlers[] = {
    { KN_WIRE_PING, on_ping },
    { KN_WIRE_PONG, on_pong },
    { KN_WIRE_BYE, on_bye },
};

int msg_dispatch(conn *c, const uint8_t *msg, size_t len, uint64_t now, const char **why)
{
    kn_wire_msg m;
    int rc = kn_wire_decode(&m, msg, len);
    if (rc < 0) {
        *why = rc == KN_EPROTO ? "unknown message kind" : "malformed message";
        return rc;
    }
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (handlers[i].kind == m.kind)
            return handlers[i].fn(c, &m, now, why);
    if (m.kind == KN_WIRE_JOIN) {
        rc = join_on_join(c, &m, now, why);
        /*
         * The secret is decrypted in the session's receive buffer, which m
         * points into and which is ours to overwrite until the next read:
         * wipe it there rather than leave it for the next message to cover.
         */
        kn_memzero((uint8_t *)(uintptr_t)m.secret, m.secret_len);
        return rc;
    }
    if (!c->member) {
        if (c->joining)
            return join_on_reply(c, msg, len, &m, now, why);
        char label[320];
        node_log(c->n, "%s sent \"%s\" but is not a member: refused",
            node_peer_label(c, label, sizeof label), kn_wire_kind_name(m.kind));
        c->retry_floor_ms = NODE_REFUSED_RETRY_MS;
        conn_close(c, KN_EUNAUTH, NODE_BYE_NOT_MEMBER, true, now);
        return 0;
    }
    return sync_receive(c, msg, len, &m, now, why);
}

void msg_send_ping(conn *c, uint64_t now)
{
    uint8_t r[8];
    kn_env_random(c->n->env, r, sizeof r);
    uint64_t nonce = 0;
    for (int i = 0; i < 8; i++)
        nonce = nonce << 8 | r[i];
    kn_mp_out o;
    kn_mp_out_init(&o, MSG_SMALL_MAX);
    if (kn_wire_write_ping(&o, nonce) == 0) {
        c->ping_nonce = nonce;
        c->ping_outstanding = true;
        c->ping_sent_ms = now;
        conn_send(c, &o, now);
    }
    kn_mp_out_free(&o);
}

void msg_encode_bye(kn_mp_out *o, const char *reason)
{
    size_t full = strlen(reason), len = full;
    if (len > KN_WIRE_REASON_MAX)
        len = KN_WIRE_REASON_MAX;
    /* Cutting at a byte boundary may split a UTF-8 sequence; back up to a lead byte. */
    while (len && len < full && ((unsigned char)reason[len] & 0xc0) == 0x80)
        len--;
    if (kn_wire_write_bye(o, reason, len) < 0 && !o->err)
        o->err = KN_EINVAL;
}
