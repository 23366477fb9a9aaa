/*
 * The libuv shell of a node: the listener, the configured peers it dials,
 * the tick that drives deadlines, pings, redials and the peers.state file,
 * and a clean shutdown on SIGINT/SIGTERM. Connections themselves live in
 * conn.c, application messages in messages.c, the replication engine's
 * wiring in sync.c, and the pickup of objects other processes stored in
 * localpub.c (every 250 ms, and at once on SIGUSR1).
 *
 * Configured peers are re-read from the store every NODE_RELOAD_MS and at
 * once on SIGHUP, so `knoten peer add` in another process takes effect
 * within two seconds without a restart. They are always dialled. Announced
 * peers (addresses other members publish in addr objects, addr.c) share the
 * slot machinery but are dialled only to reach the target number of
 * connections.
 *
 * One node may reach another over two connections at once (both dialled at
 * the same time, or one dialled us while we dialled it). Both sides keep the
 * same one: the connection initiated by the node with the smaller identity
 * key (the newer one if both were initiated by the same node), and close the
 * other with `bye` "duplicate connection".
 */
#include "node.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "hex.h"
#include "node_impl.h"

#define NOISE_KEY_FILE "noise.key"

typedef struct resolve {
    uv_getaddrinfo_t req;
    node *n;
    slot *s; /* NULL once the slot is gone: the answer is then dropped */
} resolve;

void kn_node_config_defaults(kn_node_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen = "0.0.0.0:8471";
    cfg->log_level = KN_LOG_INFO;
    cfg->max_inbound = NODE_MAX_INBOUND;
    cfg->max_handshakes = NODE_MAX_HALFOPEN;
    cfg->http_enabled = true;
    cfg->http_listen = "127.0.0.1:8470";
    cfg->web_path = "/";
}

/* ---- small services for conn.c and messages.c ---- */

uint64_t node_now(node *n)
{
    /* uv_now() moves once per loop iteration, so the injected clock is read once per tick. */
    uint64_t stamp = uv_now(n->loop);
    if (stamp != n->now_stamp || n->now_ms == 0) {
        n->now_stamp = stamp;
        n->now_ms = kn_env_now(n->env);
    }
    return n->now_ms;
}

void node_log(node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kn_logv(&n->log, KN_LOG_INFO, fmt, ap);
    va_end(ap);
}

void node_logl(node *n, kn_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kn_logv(&n->log, level, fmt, ap);
    va_end(ap);
}

static const char *label_for(const char *addr, const uint8_t *id, char *buf, size_t cap)
{
    if (id) {
        char hex[65];
        kn_hex_encode(hex, id, 32);
        snprintf(buf, cap, "peer %s (%.8s\u2026)", addr, hex);
    } else {
        snprintf(buf, cap, "peer %s", addr);
    }
    return buf;
}

const char *node_peer_label(const conn *c, char *buf, size_t cap)
{
    return label_for(c->addr, c->identity_checked ? c->identity : NULL, buf, cap);
}

uint32_t node_random_u32(node *n)
{
    uint8_t b[4];
    kn_env_random(n->env, b, sizeof b);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* ---- identity and authorisation ---- */

/*
 * Who a peer is, from this node's roster (store/roster.c, the rule ingest
 * applies): revoked at or before now; a member now (the founder, or admitted
 * by k members); or a guest, who holds the network key (the handshake proved
 * that) but is not admitted.
 *
 * A node that does not know its network yet (no `network` object: created
 * with --network-key-file and never synced) cannot tell members from
 * guests, so it treats every key holder as a member: it has nothing to give
 * away, and what it receives is checked by the store as always. Its peers,
 * who do know the roster, decide whether it gets anything.
 */
int node_classify(node *n, const uint8_t identity[static 32], uint64_t now)
{
    kn_roster_member m;
    uint8_t net[KN_ID];
    uint64_t k;
    int rc = kn_store_member_get(n->dd->store, identity, &m);
    if (rc < 0 && rc != KN_ENOTFOUND)
        return rc;
    if (rc == 0 && m.revoked_at != KN_ROSTER_NEVER && m.revoked_at <= now)
        return NODE_PEER_REVOKED;
    if (rc == 0 && kn_roster_member_at(&m, now))
        return NODE_PEER_MEMBER;
    rc = kn_store_network_get(n->dd->store, net, &k);
    if (rc == KN_ENOTFOUND)
        return NODE_PEER_MEMBER;
    return rc < 0 ? rc : NODE_PEER_GUEST;
}

int node_authorize(node *n, conn *c, uint64_t now, const char **why)
{
    if (memcmp(c->identity, n->dd->identity_pk, 32) == 0) {
        *why = c->slot && !c->slot->announced
            ? "this address leads back to this node itself: remove it with `knoten peer rm` "
              "(or from `peer =` in the configuration file)"
            : "this address leads back to this node itself";
        return KN_EIDENTITY;
    }
    if (c->slot && c->slot->cfg.has_key && memcmp(c->identity, c->slot->cfg.key, 32) != 0) {
        *why = c->slot->announced
            ? "its identity is not the key of the member that announced this address"
            : "its identity is not the key configured with `knoten peer add`";
        return KN_EIDENTITY;
    }
    int cls = node_classify(n, c->identity, now);
    if (cls < 0) {
        *why = "cannot read the membership roster";
        return cls;
    }
    if (cls == NODE_PEER_REVOKED) {
        *why = NODE_BYE_REVOKED;
        c->retry_floor_ms = NODE_REVOKED_RETRY_MS;
        return KN_EUNAUTH;
    }
    uint64_t until = abuse_id_banned(n, c->identity, now, c->refusal, sizeof c->refusal);
    if (until) {
        *why = c->refusal;
        c->retry_floor_ms = until - now;
        abuse_banned_retry(n, c, now);
        return KN_EUNAUTH;
    }
    c->member = cls == NODE_PEER_MEMBER;
    return 0;
}

void node_promote(node *n, conn *c, uint64_t now)
{
    char label[320];
    if (c->member || c->closing)
        return;
    c->member = true;
    c->joining = false;
    c->guest_until_ms = 0;
    node_log(
        n, "%s is a member now: starting replication", node_peer_label(c, label, sizeof label));
    sync_peer_up(n, c, now);
}

/*
 * Every NODE_ROSTER_CHECK_MS: a revocation that arrived (by replication or
 * from `knoten revoke` in another process) ends the revoked peer's
 * connection, and an admit that arrived makes a connected guest a member.
 */
static void roster_check(node *n, uint64_t now)
{
    char label[320];
    if (now < n->roster_check_ms)
        return;
    n->roster_check_ms = now + NODE_ROSTER_CHECK_MS;
    for (conn *c = n->conns; c; c = c->next) {
        if (!c->established || c->closing || c->joining || (n->join && !n->join->admitted))
            continue;
        int cls = node_classify(n, c->identity, now);
        if (cls == NODE_PEER_REVOKED) {
            node_log(n, "%s was revoked: disconnecting", node_peer_label(c, label, sizeof label));
            c->retry_floor_ms = NODE_REVOKED_RETRY_MS;
            conn_close(c, KN_EUNAUTH, NODE_BYE_REVOKED, true, now);
        } else if (cls == NODE_PEER_MEMBER && !c->member) {
            node_promote(n, c, now);
        }
    }
}

static void sign_statement(node *n, uint64_t now)
{
    kn_identity_sign(&n->self, n->dd->identity_pk, n->dd->identity_sk, n->noise_pub,
        now + (uint64_t)NODE_STATEMENT_DAYS * 24 * 3600 * 1000);
}

/* DATA/noise.key: the node's X25519 static key, made on first run. */
static int load_noise_key(node *n)
{
    char path[KN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", n->dd->path, NOISE_KEY_FILE);
    int rc = kn_secret_file_read(path, n->noise_priv, sizeof n->noise_priv);
    if (rc == KN_ENOTFOUND) {
        kn_env_random(n->env, n->noise_priv, sizeof n->noise_priv);
        if ((rc = kn_secret_file_write(path, n->noise_priv, sizeof n->noise_priv)) < 0) {
            node_logl(n, KN_LOG_ERROR, "cannot write %s: %s", path, kn_strerror(rc));
            return rc;
        }
        node_log(n, "created the transport key %s", path);
    } else if (rc == KN_EPERM) {
        node_logl(n, KN_LOG_ERROR,
            "%s is readable by other users or cannot be read; fix it with `chmod 600 %s`", path,
            path);
        return rc;
    } else if (rc < 0) {
        node_logl(n, KN_LOG_ERROR, "cannot read %s: %s; move it away to make a new one", path,
            kn_strerror(rc));
        return rc;
    }
    kn_x25519_base(n->noise_pub, n->noise_priv);
    return 0;
}

/* ---- configured peers ---- */

const uint8_t *node_slot_identity(const slot *s)
{
    return s->cfg.has_key ? s->cfg.key : s->has_learned ? s->learned : NULL;
}

conn *node_established_with(node *n, const uint8_t *identity)
{
    if (!identity)
        return NULL;
    for (conn *c = n->conns; c; c = c->next)
        if (c->established && !c->closing && memcmp(c->identity, identity, 32) == 0)
            return c;
    return NULL;
}

static uint64_t backoff_delay(node *n, unsigned failures)
{
    uint64_t d = NODE_BACKOFF_MIN_MS;
    for (unsigned i = 0; i < failures && d < NODE_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > NODE_BACKOFF_MAX_MS)
        d = NODE_BACKOFF_MAX_MS;
    /* Half fixed, half random: peers that failed together do not retry together. */
    return d / 2 + node_random_u32(n) % (d / 2 + 1);
}

/*
 * Books the end of an attempt or a connection on the slot and schedules the
 * next try; returns the delay. A benign end (duplicate connection, polite bye)
 * does not count as a failure.
 */
static uint64_t slot_retry_later(
    node *n, slot *s, int err, const char *why, bool benign, uint64_t lived_ms, uint64_t now)
{
    if (lived_ms >= NODE_STABLE_MS)
        s->failures = 0;
    uint64_t delay = backoff_delay(n, s->failures);
    if (!benign && s->failures < 30)
        s->failures++;
    s->phase = KN_PHASE_BACKOFF;
    s->retry_ms = now + delay;
    if (err < 0 || !benign) {
        snprintf(s->last_error, sizeof s->last_error, "%s", why ? why : kn_strerror(err));
        s->error_ms = now;
    }
    n->state_dirty = true;
    return delay;
}

/* A failed attempt that never had a connection (lookup, out of memory). */
static void slot_failed(node *n, slot *s, int err, const char *why, uint64_t now)
{
    char label[320];
    uint64_t delay = slot_retry_later(n, s, err, why, false, 0, now);
    node_log(n, "%s: %s; retrying in %llu s",
        label_for(s->cfg.addr, node_slot_identity(s), label, sizeof label), why,
        (unsigned long long)((delay + 999) / 1000));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    resolve *r = (resolve *)req;
    node *n = r->n;
    slot *s = r->s;
    free(r);
    if (!s) {
        uv_freeaddrinfo(res);
        return;
    }
    uint64_t now = node_now(n);
    s->resolving = NULL;
    if (status < 0 || !res) {
        char why[128];
        snprintf(why, sizeof why, "cannot resolve the host name: %s", uv_strerror(status));
        slot_failed(n, s, KN_ENET, why, now);
    } else if (n->stopping) {
        s->phase = KN_PHASE_IDLE;
    } else if (conn_dial(n, s, res->ai_addr, now) < 0) {
        slot_failed(n, s, KN_ENOMEM, "out of memory", now);
    }
    uv_freeaddrinfo(res);
}

void node_slot_dial(node *n, slot *s, uint64_t now)
{
    char host[KN_HOST_MAX + 1], port_s[8];
    uint16_t port;
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } a;
    if (kn_hostport_parse(s->cfg.addr, host, &port) < 0) {
        slot_failed(n, s, KN_ECONFIG, "the address is not HOST:PORT", now);
        return;
    }
    if (uv_ip4_addr(host, port, &a.v4) == 0 || uv_ip6_addr(host, port, &a.v6) == 0) {
        if (conn_dial(n, s, &a.sa, now) < 0)
            slot_failed(n, s, KN_ENOMEM, "out of memory", now);
        return;
    }
    resolve *r = calloc(1, sizeof *r);
    if (!r) {
        slot_failed(n, s, KN_ENOMEM, "out of memory", now);
        return;
    }
    r->n = n;
    r->s = s;
    snprintf(port_s, sizeof port_s, "%u", (unsigned)port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    int rc = uv_getaddrinfo(n->loop, &r->req, on_resolved, host, port_s, &hints);
    if (rc < 0) {
        free(r);
        slot_failed(n, s, KN_ENET, uv_strerror(rc), now);
        return;
    }
    s->resolving = r;
    s->phase = KN_PHASE_CONNECTING;
    n->state_dirty = true;
}

void node_slot_free(slot *s, const char *why, uint64_t now)
{
    if (s->conn) {
        conn *c = s->conn;
        c->slot = NULL;
        s->conn = NULL;
        c->benign_close = true;
        conn_close(c, 0, why, true, now);
    }
    if (s->resolving) {
        s->resolving->s = NULL;
        uv_cancel((uv_req_t *)&s->resolving->req);
    }
    free(s);
}

static void apply_peer_list(node *n, const kn_peer_list *l, uint64_t now)
{
    char label[320];
    /* Drop the slots no longer configured (announced ones are addr.c's). */
    for (slot **pp = &n->slots; *pp;) {
        slot *s = *pp;
        if (s->announced || kn_peer_list_find(l, s->cfg.addr) >= 0) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        node_log(n, "%s removed from the configuration",
            label_for(s->cfg.addr, NULL, label, sizeof label));
        node_slot_free(s, "removed from the configuration", now);
    }
    for (size_t i = 0; i < l->n; i++) {
        const kn_peer_entry *e = &l->v[i];
        slot *s = n->slots;
        while (s && (s->announced || strcmp(s->cfg.addr, e->addr) != 0))
            s = s->next;
        if (s) {
            bool changed = s->cfg.has_key != e->has_key
                || (e->has_key && memcmp(s->cfg.key, e->key, 32) != 0);
            s->cfg = *e;
            if (changed) {
                /* A newly pinned key applies to the live connection too. */
                s->has_learned = false;
                s->failures = 0;
                s->retry_ms = now;
                if (s->conn)
                    conn_close(s->conn, 0, "the configured key changed", true, now);
            }
            continue;
        }
        if (!(s = calloc(1, sizeof *s))) {
            node_logl(n, KN_LOG_ERROR, "out of memory adding a peer");
            return;
        }
        s->n = n;
        s->cfg = *e;
        s->retry_ms = now;
        s->next = n->slots;
        n->slots = s;
        node_log(n, "%s added to the configuration",
            label_for(s->cfg.addr, e->has_key ? e->key : NULL, label, sizeof label));
    }
    n->state_dirty = true;
}

static void reload_peers(node *n, uint64_t now)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    kn_peer_list l;
    n->reload_now = false;
    n->reload_ms = now + NODE_RELOAD_MS;
    int rc = kn_store_setting_get(n->dd->store, KN_PEERS_SETTING, &buf, &len);
    if (rc == KN_ENOTFOUND)
        rc = 0;
    if (rc < 0) {
        node_logl(n, KN_LOG_ERROR, "cannot read the configured peers: %s", kn_strerror(rc));
        return;
    }
    if (n->peers_blob && len == n->peers_blob_len
        && (len == 0 || memcmp(buf, n->peers_blob, len) == 0)) {
        free(buf);
        return;
    }
    if (len == 0)
        memset(&l, 0, sizeof l);
    else if ((rc = kn_peer_list_decode(&l, buf, len)) < 0) {
        node_logl(n, KN_LOG_ERROR,
            "the configured peer list is unreadable (%s); rewrite it with `knoten peer`",
            kn_strerror(rc));
        free(buf);
        return;
    }
    /* Peers from the configuration file come after the stored ones (which win on the same address).
     */
    for (size_t i = 0; n->cfg->peers && i < n->cfg->peers->n; i++) {
        const kn_peer_entry *e = &n->cfg->peers->v[i];
        if (kn_peer_list_find(&l, e->addr) < 0
            && kn_peer_list_add(&l, e->addr, e->has_key ? e->key : NULL) < 0)
            node_logl(n, KN_LOG_WARN, "cannot add peer %s from the configuration file", e->addr);
    }
    apply_peer_list(n, &l, now);
    kn_peer_list_free(&l);
    free(n->peers_blob);
    n->peers_blob = buf ? buf : malloc(1);
    n->peers_blob_len = len;
}

/* ---- connection events from conn.c ---- */

/* Whether a is the connection both sides keep over b (see the top of this file). */
static bool keep_first(node *n, const conn *a, const conn *b)
{
    if (a->inbound == b->inbound)
        return a->seq > b->seq; /* same initiator: the newer one */
    const conn *mine = a->inbound ? b : a;
    bool i_am_smaller = memcmp(n->dd->identity_pk, a->identity, 32) < 0;
    return i_am_smaller == (mine == a);
}

void node_on_established(node *n, conn *c, uint64_t now)
{
    char label[320];
    /*
     * Learn who answers at the slot's address first: if this connection is
     * the duplicate, the slot must still know it is reached over the other.
     */
    if (c->slot) {
        c->slot->phase = KN_PHASE_CONNECTED;
        c->slot->has_learned = true;
        memcpy(c->slot->learned, c->identity, 32);
        c->slot->handshake_ms = now;
    } else {
        for (slot *s = n->slots; s; s = s->next)
            if (node_slot_identity(s) && memcmp(node_slot_identity(s), c->identity, 32) == 0)
                s->handshake_ms = now;
    }
    n->state_dirty = true;
    for (conn *o = n->conns; o; o = o->next) {
        if (o == c || o->closing || !o->established || memcmp(o->identity, c->identity, 32) != 0)
            continue;
        /* Joining, the older connection carries our join: keep it. */
        conn *drop = n->join ? c : keep_first(n, c, o) ? o : c;
        drop->benign_close = true;
        conn_close(drop, 0, "duplicate connection", true, now);
        if (drop == c)
            return;
        break;
    }
    bool joining = n->join && !n->join->admitted;
    node_log(n, "%s connected (%s%s)", node_peer_label(c, label, sizeof label),
        c->inbound ? "inbound" : "outbound",
        joining         ? ", joining"
            : c->member ? ""
                        : ", a guest: it holds the network key but is not a member");
    c->next_ping_ms = now + n->ping_ms;
    msg_send_ping(c, now);
    if (c->closing)
        return;
    if (joining) {
        c->member = false;
        join_on_established(n, c, now);
    } else if (c->member) {
        sync_peer_up(n, c, now);
    } else {
        /* Nothing is served to a guest; it may redeem an invite, and has a minute to. */
        c->guest_until_ms = now + NODE_GUEST_MS;
    }
}

void node_on_closed(node *n, conn *c, int err, const char *why, uint64_t now)
{
    char label[320];
    uint64_t delay = 0;
    if (c->quiet)
        return; /* refused before it was anyone (conn_accept): logged there, in bulk */
    n->state_dirty = true;
    sync_peer_down(n, c, now);
    if (c->established) {
        /* The slots that reach this identity keep the connection's figures. */
        if (c->slot) {
            c->slot->sync = c->sync;
            c->slot->blobs = c->blobs;
            c->slot->blobs_corrupt_before += c->blobs.corrupt;
        }
        for (slot *o = n->slots; o; o = o->next)
            if (o != c->slot && !o->conn && node_slot_identity(o)
                && memcmp(node_slot_identity(o), c->identity, 32) == 0) {
                o->sync = c->sync;
                o->blobs = c->blobs;
                o->blobs_corrupt_before += c->blobs.corrupt;
            }
    }
    slot *s = c->slot;
    c->slot = NULL;
    if (s) {
        s->conn = NULL;
        delay = slot_retry_later(
            n, s, err, why, c->benign_close, c->established ? now - c->since_ms : 0, now);
        if (c->retry_floor_ms && delay < c->retry_floor_ms && s->failures > c->floor_after) {
            /* Refused for who we are (or who it is): asking again soon changes nothing. */
            delay = c->retry_floor_ms;
            s->retry_ms = now + delay;
        }
    }
    if (n->stopping)
        return;
    if (s && !c->identity_checked)
        label_for(s->cfg.addr, node_slot_identity(s), label, sizeof label); /* who we expected */
    else
        node_peer_label(c, label, sizeof label);
    unsigned long long secs = (unsigned long long)((delay + 999) / 1000);
    if (c->established && s && !c->benign_close)
        node_log(n, "%s disconnected: %s; reconnecting in %llu s", label, why, secs);
    else if (c->established && c->benign_close && !strcmp(why, "duplicate connection"))
        node_log(n, "%s: closed a duplicate connection, keeping the other", label);
    else if (c->established)
        node_log(n, "%s disconnected: %s", label, why);
    else if (s && !c->benign_close)
        node_log(n, "%s: %s; retrying in %llu s", label, why, secs);
    else if (c->s && err == KN_EUNAUTH) /* refused after the handshake: revoked */
        node_log(n, "%s refused: %s", label, why);
    else if (c->s) /* an inbound attempt that got as far as the handshake */
        node_log(n, "%s: %s", label, why);
    else if (err == KN_ELIMIT)
        node_log(n, "%s refused: %s", label, why);
}

/* ---- peers.state ---- */

int node_peer_state(node *n, bool running, uint64_t now, kn_peer_state *stp)
{
    size_t cap = 0;
    for (slot *s = n->slots; s; s = s->next)
        cap++;
    for (conn *c = n->conns; c; c = c->next)
        cap++;
    kn_peer_state st = { .pid = (long)uv_os_getpid(), .running = running, .updated_ms = now };
    *stp = st;
    if (cap && !(st.v = calloc(cap, sizeof *st.v)))
        return KN_ENOMEM;
    for (slot *s = n->slots; s; s = s->next) {
        kn_peer_status *p = &st.v[st.n++];
        snprintf(p->addr, sizeof p->addr, "%s", s->cfg.addr);
        conn *via = s->conn && s->conn->established && !s->conn->closing
            ? s->conn
            : node_established_with(n, node_slot_identity(s));
        const uint8_t *id = via ? via->identity : node_slot_identity(s);
        if (id) {
            p->has_identity = true;
            memcpy(p->identity, id, 32);
        }
        p->announced = s->announced;
        p->phase = running ? (via ? KN_PHASE_CONNECTED : s->phase) : KN_PHASE_IDLE;
        if (running && via) {
            p->since_ms = via->since_ms;
            p->bytes_in = via->bytes_in;
            p->bytes_out = via->bytes_out;
            p->sync = via->sync;
            p->blobs = via->blobs;
            p->blobs.corrupt += s->blobs_corrupt_before; /* the score stays with the address */
        } else {
            p->bytes_in = s->bytes_in;
            p->bytes_out = s->bytes_out;
            p->sync = s->sync;
            p->blobs = s->blobs;
            p->blobs.corrupt = s->blobs_corrupt_before;
        }
        p->handshake_ms = s->handshake_ms;
        p->retry_ms = s->retry_ms;
        p->error_ms = s->error_ms;
        snprintf(p->last_error, sizeof p->last_error, "%s", s->last_error);
    }
    /* Inbound peers that no configured or announced address accounts for. */
    for (conn *c = n->conns; running && c; c = c->next) {
        if (!c->inbound || !c->established || c->closing)
            continue;
        bool listed = false;
        for (slot *s = n->slots; s && !listed; s = s->next)
            listed = node_slot_identity(s) && memcmp(node_slot_identity(s), c->identity, 32) == 0;
        if (listed)
            continue;
        kn_peer_status *p = &st.v[st.n++];
        snprintf(p->addr, sizeof p->addr, "%s", c->addr);
        p->inbound = true;
        p->phase = KN_PHASE_CONNECTED;
        p->has_identity = true;
        memcpy(p->identity, c->identity, 32);
        p->since_ms = p->handshake_ms = c->since_ms;
        p->bytes_in = c->bytes_in;
        p->bytes_out = c->bytes_out;
        p->sync = c->sync;
        p->blobs = c->blobs;
    }
    /* Misbehaving peers (abuse.c): banned ones first. */
    kn_guard_entry *ge = n->guard ? calloc(KN_PEER_BANS_MAX, sizeof *ge) : NULL;
    size_t ng = ge ? kn_guard_list(n->guard, now, ge, KN_PEER_BANS_MAX) : 0;
    if (ng > KN_PEER_BANS_MAX)
        ng = KN_PEER_BANS_MAX;
    if (ng && (st.bans = calloc(ng, sizeof *st.bans))) {
        for (size_t i = 0; i < ng; i++) {
            kn_peer_ban *b = &st.bans[i];
            snprintf(b->key, sizeof b->key, "%s", ge[i].label);
            b->is_id = ge[i].is_id;
            b->score = ge[i].score;
            b->bans = ge[i].bans;
            b->until_ms = ge[i].banned_until;
            b->last_ms = ge[i].last_ms;
            snprintf(b->reason, sizeof b->reason, "%s", kn_offense_text(ge[i].last));
        }
        st.nbans = ng;
    }
    free(ge);
    *stp = st;
    return 0;
}

static void write_state(node *n, bool running, uint64_t now)
{
    kn_peer_state st;
    if (node_peer_state(n, running, now, &st) < 0)
        return;
    int rc = kn_peer_state_write(n->dd->path, &st);
    if (rc < 0 && n->state_written_ms == 0)
        node_logl(n, KN_LOG_WARN, "cannot write %s/%s: %s", n->dd->path, KN_PEER_STATE_FILE,
            kn_strerror(rc));
    n->state_written_ms = now;
    n->state_dirty = false;
    kn_peer_state_free(&st);
}

/* ---- shutdown ---- */

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/*
 * Every connection has said bye (or the grace time is over): close what is
 * left. The last council to finish closes the host's signal handles, which
 * lets the loop end.
 */
static void finish_stop(node *n)
{
    if (n->finished)
        return;
    n->finished = true;
    for (conn *c = n->conns; c; c = c->next)
        conn_abort(c, n->now_ms);
    uv_close((uv_handle_t *)&n->tick, NULL);
    uv_close((uv_handle_t *)&n->repl_timer, NULL);
    uv_close((uv_handle_t *)&n->repl_check, NULL);
    uv_close((uv_handle_t *)&n->local_idle, NULL);
    node_host *h = n->host;
    if (h->running > 0 && --h->running == 0) {
        http_finish(h);
        uv_close((uv_handle_t *)&h->sigusr1, NULL);
        uv_close((uv_handle_t *)&h->sigint, NULL);
        uv_close((uv_handle_t *)&h->sigterm, NULL);
        uv_close((uv_handle_t *)&h->sighup, NULL);
    }
}

void node_stop(node *n, const char *why, uint64_t now)
{
    if (n->stopping)
        return;
    node_log(n, "%s", why);
    n->stopping = true;
    n->stop_deadline_ms = now + NODE_CLOSE_GRACE_MS;
    if (!uv_is_closing((uv_handle_t *)&n->listener))
        uv_close((uv_handle_t *)&n->listener, NULL);
    bool all = true; /* the web UI serves every council: it stops with the last one */
    for (size_t i = 0; i < n->host->n; i++)
        all &= n->host->nodes[i]->stopping;
    if (all)
        http_stop(n->host);
    for (slot *s = n->slots; s; s = s->next)
        if (s->resolving) {
            s->resolving->s = NULL;
            uv_cancel((uv_req_t *)&s->resolving->req);
            s->resolving = NULL;
        }
    for (conn *c = n->conns; c; c = c->next) {
        c->benign_close = true; /* our decision, not the peer's failure */
        conn_close(c, 0, "shutting down", true, now);
    }
}

static void begin_stop(node *n, const char *signame, uint64_t now)
{
    char why[64];
    snprintf(why, sizeof why, "received %s, shutting down", signame);
    if (n->join && n->join->outcome == KN_JOIN_RUNNING)
        n->join->outcome = KN_JOIN_STOPPED;
    node_stop(n, why, now);
}

/* What a signal means for one council. */
static void node_signal(node *n, int signum)
{
    uint64_t now = node_now(n);
    if (n->finished)
        return;
    if (signum == SIGHUP) {
        node_log(n, "received SIGHUP, re-reading the configured peers");
        n->reload_now = true;
        return;
    }
    if (signum == SIGUSR1) {
        localpub_poll(n, now); /* a local writer says it stored something */
        blobsync_rescan(n); /* ... or asked for a file (`knoten doc get` on demand) */
        return;
    }
    if (n->stopping) {
        finish_stop(n); /* a second signal: do not wait for the peers */
        return;
    }
    begin_stop(n, signum == SIGINT ? "SIGINT" : "SIGTERM", now);
}

/* Signals go to the process, so every council hosted in it hears them. */
static void on_signal(uv_signal_t *sh, int signum)
{
    node_host *h = sh->data;
    for (size_t i = 0; i < h->n; i++)
        node_signal(h->nodes[i], signum);
}

/* ---- the tick ---- */

static void on_tick(uv_timer_t *t)
{
    node *n = t->data;
    uint64_t now = node_now(n);
    /* Closing only ever ends in a close callback, so the list stays walkable here. */
    for (conn *c = n->conns; c; c = c->next)
        conn_tick(c, now);
    if (n->stopping) {
        bool open = false;
        for (conn *c = n->conns; c && !open; c = c->next)
            open = !uv_is_closing((uv_handle_t *)&c->tcp);
        if (!open || now >= n->stop_deadline_ms)
            finish_stop(n);
        return;
    }
    if (n->self.expiry_ms < now + 24ull * 3600 * 1000)
        sign_statement(n, now); /* new connections get a fresh statement; old ones keep theirs */
    if (n->reload_now || now >= n->reload_ms) {
        reload_peers(n, now);
        addr_reload(n, now);
    }
    roster_check(n, now);
    if (n->join) {
        join_tick(n, now);
        if (n->stopping)
            return;
    }
    localpub_poll(n, now); /* NODE_LOCAL_POLL_MS is this tick's period */
    for (slot *s = n->slots; s; s = s->next) {
        if (s->announced || s->conn || s->resolving || now < s->retry_ms
            || node_halfopen_out(n) >= n->max_halfopen)
            continue;
        if (node_established_with(n, node_slot_identity(s)))
            continue; /* reached already, over a connection the peer dialled */
        uint64_t until
            = node_slot_identity(s) ? abuse_id_banned(n, node_slot_identity(s), now, NULL, 0) : 0;
        if (until) {
            s->retry_ms = until; /* banned: not dialled before the ban ends */
            continue;
        }
        node_slot_dial(n, s, now);
    }
    addr_tick(n, now);
    if ((n->state_dirty && now - n->state_written_ms >= NODE_STATE_MIN_MS)
        || now - n->state_written_ms >= NODE_STATE_HEARTBEAT_MS)
        write_state(n, true, now);
    /*
     * Timers run before the loop polls, and the check phase only after the
     * poll has waited: what this tick gave the engine (local objects, peers
     * gone) must go out now, not at the next wake-up.
     */
    sync_run(n, now);
}

static void on_connection(uv_stream_t *server, int status)
{
    node *n = server->data;
    uint64_t now = node_now(n);
    if (status < 0) {
        node_logl(n, KN_LOG_WARN, "accepting a connection failed: %s", uv_strerror(status));
        return;
    }
    conn_accept(n, now);
}

static int start_listener(node *n)
{
    char host[KN_HOST_MAX + 1];
    uint16_t port;
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } a;
    if (kn_hostport_parse(n->cfg->listen, host, &port) < 0
        || (uv_ip4_addr(host, port, &a.v4) != 0 && uv_ip6_addr(host, port, &a.v6) != 0)) {
        node_logl(n, KN_LOG_ERROR,
            "cannot listen on \"%s\": give an IP address and port, e.g. 0.0.0.0:8471 "
            "or [::]:8471",
            n->cfg->listen);
        return KN_ECONFIG;
    }
    int rc = uv_tcp_bind(&n->listener, &a.sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&n->listener, 128, on_connection);
    if (rc < 0) {
        node_logl(n, KN_LOG_ERROR, "cannot listen on %s: %s%s", n->cfg->listen, uv_strerror(rc),
            rc == UV_EADDRINUSE ? "; another program uses that port, choose another one with "
                                  "--listen or `listen =` in the configuration file"
                                : "");
        return KN_ENET;
    }
    return 0;
}

int kn_node_run(kn_datadir *dd, const kn_node_config *cfg, const kn_env *env)
{
    return node_run(dd, cfg, env, NULL);
}

int kn_node_run_many(const kn_node_spec *v, size_t n, const kn_env *env)
{
    return host_run(v, n, env, NULL);
}

int node_run(kn_datadir *dd, const kn_node_config *cfg, const kn_env *env, kn_node_join *join)
{
    kn_node_spec spec = { .dd = dd, .cfg = cfg };
    return host_run(&spec, 1, env, join);
}

/* ---- one council on the host's loop ---- */

/*
 * Makes a council's node on the host's loop, up to a bound listener and a
 * started engine, but dials nothing yet (node_start). The node goes into
 * h->nodes as soon as it exists, so that host_run frees it after closing its
 * handles whether or not this succeeded.
 */
static int node_open(node_host *h, const kn_node_spec *spec, kn_node_join *join)
{
    const kn_node_config *cfg = spec->cfg;
    kn_datadir *dd = spec->dd;
    node *n = calloc(1, sizeof *n);
    if (!n)
        return KN_ENOMEM;
    h->nodes[h->n++] = n;
    n->host = h;
    n->loop = &h->loop;
    n->env = h->env;
    n->dd = dd;
    n->cfg = cfg;
    n->join = join;
    kn_log_init(&n->log, h->env);
    n->log.level = cfg->log_level;
    n->log.timestamps = cfg->log_timestamps;
    if (cfg->name)
        snprintf(n->log.name, sizeof n->log.name, "%s", cfg->name);
    n->max_inbound = cfg->max_inbound ? cfg->max_inbound : NODE_MAX_INBOUND;
    n->max_halfopen = cfg->max_handshakes ? cfg->max_handshakes : NODE_MAX_HALFOPEN;
    n->handshake_ms = cfg->handshake_ms ? cfg->handshake_ms : NODE_HANDSHAKE_MS;
    n->idle_ms = cfg->idle_ms ? cfg->idle_ms : NODE_SILENCE_MS;
    n->ping_ms = n->idle_ms / 3;
    n->ping_timeout_ms = cfg->ping_timeout_ms ? cfg->ping_timeout_ms : NODE_PING_TIMEOUT_MS;
    if (!dd->has_network_key) {
        node_logl(n, KN_LOG_ERROR,
            "this node has no network key (%s/network.key); create the node "
            "with `knoten init`, or with `knoten init --network-key-file FILE` to join a "
            "network",
            dd->path);
        return KN_ECONFIG;
    }
    int rc = load_noise_key(n);
    if (rc < 0 || (rc = abuse_start(n)) < 0)
        return rc;
    uint64_t now = node_now(n);
    sign_statement(n, now);
    uv_tcp_init(n->loop, &n->listener);
    uv_timer_init(n->loop, &n->tick);
    n->listener.data = n->tick.data = n;
    if ((rc = sync_handles_init(n)) < 0 || (rc = sync_start(n)) < 0
        || (rc = localpub_start(n, now)) < 0) {
        node_logl(n, KN_LOG_ERROR, "cannot start replication: %s", kn_strerror(rc));
        return rc;
    }
    if (cfg->listen && (rc = start_listener(n)) < 0)
        return rc;
    return 0;
}

/* Reads the peers and starts the tick: from here on the node dials. */
static void node_start(node *n)
{
    uint64_t now = node_now(n);
    reload_peers(n, now);
    addr_reload(n, now);
    write_state(n, true, now);
    /* The first tick at once: a node restarted after a crash dials its peers without delay. */
    uv_timer_start(&n->tick, on_tick, 0, NODE_TICK_MS);
    char id[65];
    kn_hex_encode(id, n->dd->identity_pk, 32);
    if (n->cfg->listen)
        node_log(n, "node %.16s\u2026 running, data in %s, listening on %s", id, n->dd->path,
            n->cfg->listen);
    else
        node_log(n, "node %.16s\u2026 running, data in %s, not listening", id, n->dd->path);
    n->join_started_ms = now;
}

/* After the loop has closed every handle. */
static void node_free(node *n)
{
    abuse_stop(n);
    sync_stop(n);
    localpub_stop(n);
    while (n->slots) {
        slot *s = n->slots;
        n->slots = s->next;
        free(s);
    }
    free(n->peers_blob);
    kn_memzero(n->noise_priv, sizeof n->noise_priv);
    free(n);
}

/* ---- the host: one loop and the signals for all councils ---- */

int host_run(const kn_node_spec *v, size_t count, const kn_env *env, kn_node_join *join)
{
    if (count == 0)
        return KN_EINVAL;
    /*
     * A write to a socket the peer has just closed raises SIGPIPE, which would
     * kill the node; libuv leaves ignoring it to the program. The write then
     * fails with EPIPE and only that connection ends.
     */
    struct sigaction ign = { .sa_handler = SIG_IGN };
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, NULL);
    node_host *h = calloc(1, sizeof *h);
    if (!h || !(h->nodes = calloc(count, sizeof *h->nodes))) {
        free(h);
        return KN_ENOMEM;
    }
    h->env = env;
    int rc = uv_loop_init(&h->loop) < 0 ? KN_ENOMEM : 0;
    if (rc < 0)
        goto out_free;
    uv_signal_init(&h->loop, &h->sigint);
    uv_signal_init(&h->loop, &h->sigterm);
    uv_signal_init(&h->loop, &h->sighup);
    uv_signal_init(&h->loop, &h->sigusr1);
    h->sigint.data = h->sigterm.data = h->sighup.data = h->sigusr1.data = h;
    /* Every council opens (keys, store, listener) before any dials: one that cannot stops all. */
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = node_open(h, &v[i], join);
    if (rc == 0) {
        uv_signal_start(&h->sigint, on_signal, SIGINT);
        uv_signal_start(&h->sigterm, on_signal, SIGTERM);
        uv_signal_start(&h->sighup, on_signal, SIGHUP);
        uv_signal_start(&h->sigusr1, on_signal, SIGUSR1);
        h->running = h->n;
        http_start(h); /* the web UI of every council that enables it, on one listener */
        for (size_t i = 0; i < h->n; i++)
            node_start(h->nodes[i]);
        uv_run(&h->loop, UV_RUN_DEFAULT);
        for (size_t i = 0; i < h->n; i++) {
            write_state(h->nodes[i], false, node_now(h->nodes[i]));
            node_log(h->nodes[i], "stopped");
        }
    }
    http_free(h); /* h2o closes its own handles, before the walk closes everything else */
    uv_walk(&h->loop, close_walk, NULL);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&h->loop) != 0) {
        kn_log log;
        kn_log_init(&log, env);
        kn_logf(&log, KN_LOG_WARN, "some handles were still open at exit");
    }
    for (size_t i = 0; i < h->n; i++)
        node_free(h->nodes[i]);
out_free:
    free(h->nodes);
    free(h);
    return rc;
}
