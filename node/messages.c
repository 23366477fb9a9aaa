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
 * and every other kind (hello, have, want, obj, neg) goes to the replication
 * engine through sync_receive() (sync.c).
 */
#include <stdio.h>
#include <string.h>

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

static int on_bye(conn *c, const kn_wire_msg *m, uint64_t now, const char **why)
{
    (void)why;
    char reason[KN_WIRE_REASON_MAX + 32];
    snprintf(reason, sizeof reason, "peer said bye: %.*s", (int)m->reason_len, m->reason);
    c->benign_close = true;
    conn_close(c, 0, reason, false, now);
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
