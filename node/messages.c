/*
 * The application messages of an established session, in one place.
 *
 * Every message is a canonical msgpack array [kind, ...]. msg_dispatch()
 * reads the kind, finds its row in `handlers` and lets the handler read the
 * rest strictly (exact arity, exact types); anything left over, an unknown
 * kind or a bad argument disconnects the peer. The replication messages
 * (hello, have, want, obj, neg, blob-*) arrive as new rows.
 *
 *   ["ping", nonce uint]   answered at once with ["pong", nonce]
 *   ["pong", nonce uint]   must answer our one outstanding ping
 *   ["bye", reason str]    the peer is closing; at most 200 bytes of reason
 */
#include <stdio.h>
#include <string.h>

#include "node_impl.h"

enum { MSG_SMALL_MAX = 256 };

typedef int (*msg_handler)(conn *c, kn_mp_in *in, uint32_t nargs, uint64_t now, const char **why);

static int read_nonce(kn_mp_in *in, uint32_t nargs, uint64_t *nonce, const char **why)
{
    if (nargs != 1) {
        *why = "wrong number of fields";
        return KN_EARITY;
    }
    int rc = kn_mp_read_uint(in, nonce);
    if (rc < 0)
        *why = "malformed nonce";
    return rc;
}

static int on_ping(conn *c, kn_mp_in *in, uint32_t nargs, uint64_t now, const char **why)
{
    uint64_t nonce;
    int rc = read_nonce(in, nargs, &nonce, why);
    if (rc < 0)
        return rc;
    kn_mp_out o;
    kn_mp_out_init(&o, MSG_SMALL_MAX);
    kn_mp_write_array(&o, 2);
    kn_mp_write_cstr(&o, "pong");
    kn_mp_write_uint(&o, nonce);
    conn_send(c, &o, now);
    kn_mp_out_free(&o);
    return 0;
}

static int on_pong(conn *c, kn_mp_in *in, uint32_t nargs, uint64_t now, const char **why)
{
    uint64_t nonce;
    int rc = read_nonce(in, nargs, &nonce, why);
    if (rc < 0)
        return rc;
    if (!c->ping_outstanding || nonce != c->ping_nonce) {
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

static int on_bye(conn *c, kn_mp_in *in, uint32_t nargs, uint64_t now, const char **why)
{
    const char *s;
    uint32_t len;
    int rc;
    if (nargs != 1) {
        *why = "wrong number of fields";
        return KN_EARITY;
    }
    if ((rc = kn_mp_read_str(in, &s, &len)) < 0) {
        *why = "malformed reason";
        return rc;
    }
    if (len > NODE_BYE_REASON_MAX) {
        *why = "reason too long";
        return KN_ETOOBIG;
    }
    char reason[NODE_BYE_REASON_MAX + 32];
    snprintf(reason, sizeof reason, "peer said bye: %.*s", (int)len, s);
    c->benign_close = true;
    conn_close(c, 0, reason, false, now);
    return 0;
}

static const struct {
    const char *kind;
    msg_handler fn;
} handlers[] = {
    { "ping", on_ping },
    { "pong", on_pong },
    { "bye", on_bye },
};

int msg_dispatch(conn *c, const uint8_t *msg, size_t len, uint64_t now, const char **why)
{
    kn_mp_in in;
    uint32_t n, klen;
    const char *kind;
    int rc;

    kn_mp_in_init(&in, msg, len);
    if ((rc = kn_mp_read_array(&in, &n)) < 0 || n < 1) {
        *why = "message is not an array [kind, ...]";
        return rc < 0 ? rc : KN_EARITY;
    }
    if ((rc = kn_mp_read_str(&in, &kind, &klen)) < 0) {
        *why = "message kind is not a string";
        return rc;
    }
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        if (strlen(handlers[i].kind) != klen || memcmp(handlers[i].kind, kind, klen) != 0)
            continue;
        /* The whole message is checked for trailing bytes before any handler acts on it. */
        kn_mp_in probe = in;
        for (uint32_t k = 1; k < n; k++)
            if ((rc = kn_mp_skip(&probe, 8, false)) < 0) {
                *why = "malformed message";
                return rc;
            }
        if (kn_mp_in_left(&probe)) {
            *why = "unexpected bytes after the message";
            return KN_ETRAILING;
        }
        return handlers[i].fn(c, &in, n - 1, now, why);
    }
    *why = "unknown message kind";
    return KN_EPROTO;
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
    kn_mp_write_array(&o, 2);
    kn_mp_write_cstr(&o, "ping");
    kn_mp_write_uint(&o, nonce);
    c->ping_nonce = nonce;
    c->ping_outstanding = true;
    c->ping_sent_ms = now;
    conn_send(c, &o, now);
    kn_mp_out_free(&o);
}

void msg_encode_bye(kn_mp_out *o, const char *reason)
{
    size_t full = strlen(reason), len = full;
    if (len > NODE_BYE_REASON_MAX)
        len = NODE_BYE_REASON_MAX;
    /* Cutting at a byte boundary may split a UTF-8 sequence; back up to a lead byte. */
    while (len && len < full && ((unsigned char)reason[len] & 0xc0) == 0x80)
        len--;
    kn_mp_write_array(o, 2);
    kn_mp_write_cstr(o, "bye");
    kn_mp_write_str(o, reason, len);
}
