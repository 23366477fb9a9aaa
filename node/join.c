/*
 * Invite redemption over the network, both sides (docs/federation.md,
 * "Joining over the network").
 *
 * The inviter (any member running `knoten run`): a peer sends
 * ["join", secret, name, ags]. The node signs the admit {ags?, name, node}
 * with refs = [network id] first, so that a name the schema refuses does not
 * use up the invite; then redeems the secret (kn_invites_redeem: one locked
 * read-modify-write, so a code works once); stores the admit, has the engine
 * announce it to the other peers, sends it to the joiner as an ordinary
 * "obj" and, if the admit made the joiner a member (k = 1), makes the
 * connection a member connection on the spot, so anti-entropy starts at
 * once. A refusal is a bye with the reason. The secret travels only inside
 * the Noise session to the inviter the code pins, so it needs no further
 * proof; it is wiped from the receive buffer after use (messages.c).
 *
 * One join per connection; at most NODE_JOIN_RATE_MAX failed joins per
 * address a minute (guessing a 160-bit secret is hopeless anyway: the limit
 * keeps a noisy peer from churning the invite lock and the log).
 *
 * The joiner (`knoten join`, kn_node_join_run): the node runs without a
 * listener and with the inviter's addresses as its only peers. On the first
 * connection to the inviter it sends join instead of starting replication,
 * waits for the admit naming it, stores it (pending until the network object
 * arrives), becomes a member connection and runs the first reconciliation.
 * join_tick ends the run: admit timeout, refusal, the end of that first
 * reconciliation (logged with its figures), or the inviter lost for good.
 * Progress during the sync is logged by sync.c as for any large catch-up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "hex.h"
#include "invites.h"
#include "node_impl.h"

/* ---- inviter side ---- */

/* The counting slot of the address c comes from (IP without port). */
static struct join_attempts *attempts_of(node *n, const conn *c, uint64_t now)
{
    char ip[KN_PEER_ADDR_MAX + 1];
    snprintf(ip, sizeof ip, "%s", c->addr);
    char *colon = strrchr(ip, ':');
    if (colon)
        *colon = 0;
    struct join_attempts *oldest = &n->join_attempts[0];
    for (size_t i = 0; i < NODE_JOIN_RATE_SLOTS; i++) {
        struct join_attempts *a = &n->join_attempts[i];
        if (a->ip[0] && strcmp(a->ip, ip) == 0) {
            if (now - a->window_ms >= NODE_JOIN_RATE_WINDOW_MS) {
                a->window_ms = now;
                a->failures = 0;
            }
            return a;
        }
        if (a->window_ms < oldest->window_ms)
            oldest = a;
    }
    snprintf(oldest->ip, sizeof oldest->ip, "%s", ip);
    oldest->window_ms = now;
    oldest->failures = 0;
    return oldest;
}

/* Refuses a join: logs why, sends the bye, closes. Returns 0 (not a protocol violation). */
static int refuse(conn *c, struct join_attempts *a, const char *reason, uint64_t now)
{
    char label[320];
    if (a)
        a->failures++;
    node_log(c->n, "refused a join from %s: %s", node_peer_label(c, label, sizeof label), reason);
    c->benign_close = true;
    conn_close(c, 0, reason, true, now);
    return 0;
}

/* Signs admit {ags?, name, node} for node_key with refs = [net]; *raw is malloc'd. */
static int sign_admit(node *n, const uint8_t node_key[static 32], const kn_wire_msg *m,
    const uint8_t net[static KN_ID], uint64_t now, uint8_t **raw, size_t *len)
{
    kn_mp_out body;
    kn_mp_out_init(&body, KN_OBJECT_MAX);
    /* Keys in bytewise order, as canonical form wants: ags < name < node. */
    kn_mp_write_map(&body, m->ags_len ? 3 : 2);
    if (m->ags_len) {
        kn_mp_write_cstr(&body, "ags");
        kn_mp_write_str(&body, m->ags, m->ags_len);
    }
    kn_mp_write_cstr(&body, "name");
    kn_mp_write_str(&body, m->name, m->name_len);
    kn_mp_write_cstr(&body, "node");
    kn_mp_write_bin(&body, node_key, 32);
    int rc = kn_mp_out_error(&body);
    if (rc == 0) {
        kn_object_draft d = { .type = KN_T_ADMIT, .space = "", .nrefs = 1, .created = now };
        memcpy(d.refs[0], net, KN_ID);
        d.body = body.buf;
        d.body_len = body.len;
        rc = kn_object_sign(&d, n->dd->identity_sk, raw, len);
    }
    kn_mp_out_free(&body);
    return rc;
}

static const char *redeem_refusal(int rc)
{
    switch (rc) {
    case KN_ENOTFOUND:
        return "invite unknown: this node made no invite with that code";
    case KN_EEXPIRED:
        return "invite expired: ask for a new one";
    case KN_EEXIST:
        return "invite already used: ask for a new one";
    case KN_EPERM:
        return "invite withdrawn by the inviting council";
    default:
        return "the inviting node cannot check invites right now; try again later";
    }
}

int join_on_join(conn *c, const kn_wire_msg *m, uint64_t now, const char **why)
{
    node *n = c->n;
    char label[320], hex[65];
    uint8_t net[KN_ID], id[KN_ID];
    uint64_t k;
    uint8_t *raw = NULL;
    size_t len = 0;
    kn_roster_member self, joiner;
    kn_invite_record rec;
    int rc;

    if (n->join) {
        *why = "a join sent to a node that is joining itself";
        return KN_EPROTO;
    }
    if (c->join_seen) {
        *why = "a second join on one connection";
        return KN_EPROTO;
    }
    c->join_seen = true;
    struct join_attempts *a = attempts_of(n, c, now);
    if (a->failures >= NODE_JOIN_RATE_MAX)
        return refuse(
            c, NULL, "too many invite attempts from your address; try again in a minute", now);
    if (kn_store_network_get(n->dd->store, net, &k) < 0
        || kn_store_member_get(n->dd->store, n->dd->identity_pk, &self) < 0
        || !kn_roster_member_at(&self, now))
        return refuse(c, NULL, "this node cannot admit anyone: it is not a member itself", now);
    /* Before the invite is used up: a name the admit schema refuses ends here. */
    if ((rc = sign_admit(n, c->identity, m, net, now, &raw, &len)) < 0)
        return refuse(c, a, "the council name or AGS is not acceptable (control characters?)", now);
    rc = kn_invites_redeem(n->dd, m->secret, m->secret_len, c->identity, now, &rec);
    /* The same node again (its first admit was lost on the way): send it one more. */
    if (rc == KN_EEXIST && rec.has_used_by && memcmp(rec.used_by, c->identity, 32) == 0)
        rc = 0;
    if (rc < 0) {
        free(raw);
        if (rc != KN_ENOTFOUND && rc != KN_EEXPIRED && rc != KN_EEXIST && rc != KN_EPERM)
            node_log(n, "cannot read the invites: %s", kn_strerror(rc));
        return refuse(c, a, redeem_refusal(rc), now);
    }
    rc = kn_store_put(n->dd->store, raw, len, now, id);
    if (rc < 0) {
        node_log(n,
            "cannot store the admit for %s: %s (invite %u is marked used; the same node "
            "may try again)",
            node_peer_label(c, label, sizeof label), kn_strerror(rc), rec.id);
        free(raw);
        return refuse(
            c, NULL, "the inviting node could not store the admission; try again later", now);
    }
    /* localpub would find the admit as a new own object: it is published here already. */
    uint64_t *seen = kn_idmap_put(&n->local_recent, id, NULL);
    if (seen)
        *seen = now;
    (void)sync_announce(n, raw, len, id, now);
    kn_mp_out o;
    kn_mp_out_init(&o, KN_WIRE_MSG_MAX);
    if (kn_wire_write_obj(&o, raw, len) == 0)
        conn_send(c, &o, now);
    kn_mp_out_free(&o);
    free(raw);
    kn_hex_encode(hex, id, KN_ID);
    node_log(n, "admitted %s as \"%.*s\" with invite %u (admit %.16s\u2026)",
        node_peer_label(c, label, sizeof label), (int)m->name_len, m->name, rec.id, hex);
    if (c->closing)
        return 0;
    if (kn_store_member_get(n->dd->store, c->identity, &joiner) == 0
        && kn_roster_member_at(&joiner, now)) {
        if (!c->member)
            node_promote(n, c, now);
        return 0;
    }
    /* k > 1: one signature is not enough. The joiner keeps the admit and waits. */
    char reason[KN_WIRE_REASON_MAX + 1];
    snprintf(reason, sizeof reason,
        "admitted by %u of %llu signatures: other members must run `knoten admit` for this node",
        joiner.nadmits, (unsigned long long)k);
    node_log(n, "%s needs more signatures: %s", label, reason);
    c->benign_close = true;
    conn_close(c, 0, reason, true, now);
    return 0;
}

/* ---- joiner side ---- */

void join_on_established(node *n, conn *c, uint64_t now)
{
    kn_node_join *j = n->join;
    char label[320];
    if (memcmp(c->identity, j->inviter, 32) != 0) {
        /* Only the inviter's addresses are configured; anyone else waits for `knoten run`. */
        c->benign_close = true;
        conn_close(c, 0, "joining: not the inviting node", true, now);
        return;
    }
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    /*
     * Reserve the whole message first: a buffer that grew while the secret
     * was in it would leave a copy behind in freed memory.
     */
    uint8_t pad[512] = { 0 };
    kn_mp_write_bin(&o, pad, sizeof pad);
    kn_mp_out_reset(&o);
    int rc = kn_wire_write_join(&o, j->secret, j->secret_len, j->name, strlen(j->name), j->ags,
        j->ags ? strlen(j->ags) : 0);
    if (rc == 0) {
        c->joining = true;
        node_log(n, "%s: presenting the invite as \"%s\"", node_peer_label(c, label, sizeof label),
            j->name);
        conn_send(c, &o, now);
    } else {
        node_log(n, "cannot write the join message: %s", kn_strerror(rc));
    }
    if (o.buf)
        kn_memzero(o.buf, o.cap);
    kn_mp_out_free(&o);
}

/*
 * The admit alone does not say whether it made us a member: with k > 1 the
 * inviter follows it with a bye ("admitted by 1 of k ..."), with k = 1 it
 * starts replication (its hello comes next). So the connection stays in the
 * joining state after the admit until the next message decides: a
 * replication message makes it a member connection, a bye ends the join as
 * pending. An inviter that counted us as a member already (a join retried
 * after a lost admit) sends neither; join_tick promotes after
 * NODE_ADMIT_SETTLE_MS of quiet.
 */
static void admitted(conn *c, uint64_t now)
{
    char label[320];
    c->joining = false;
    node_log(c->n, "%s admitted this node to the network; initial sync starts",
        node_peer_label(c, label, sizeof label));
    node_promote(c->n, c, now);
}

int join_on_reply(
    conn *c, const uint8_t *msg, size_t len, const kn_wire_msg *m, uint64_t now, const char **why)
{
    node *n = c->n;
    kn_node_join *j = n->join;
    kn_object o;
    const uint8_t *key;
    uint32_t klen;
    if (j->admitted) {
        admitted(c, now);
        return c->closing ? 0 : sync_receive(c, msg, len, m, now, why);
    }
    /*
     * Before the admit: a peer that already counts us as a member (a join
     * retried after a lost admit) may start replication at once;
     * anti-entropy after the admit catches up on what is dropped here.
     */
    if (m->kind != KN_WIRE_OBJ)
        return 0;
    int rc = kn_object_validate(&o, m->data, m->data_len, now);
    if (rc < 0) {
        *why = "invalid object";
        return rc;
    }
    if (o.type != KN_T_ADMIT || memcmp(o.author, j->inviter, 32) != 0
        || kn_object_bin(&o, "node", &key, &klen) < 0 || klen != 32
        || memcmp(key, n->dd->identity_pk, 32) != 0)
        return 0;
    /* Pending until the network object arrives with the first reconciliation. */
    rc = kn_store_put(n->dd->store, m->data, m->data_len, now, NULL);
    if (rc < 0)
        node_log(n, "cannot store the admit yet (%s); the sync brings it again", kn_strerror(rc));
    j->admitted = true;
    j->admitted_ms = now;
    return 0;
}

void join_on_bye(conn *c, const char *reason, size_t len, uint64_t now)
{
    node *n = c->n;
    kn_node_join *j = n->join;
    if (j->outcome != KN_JOIN_RUNNING || !c->joining)
        return; /* an ordinary goodbye during the sync: the slot dials again */
    if (len > KN_JOIN_REASON_MAX)
        len = KN_JOIN_REASON_MAX;
    memcpy(j->reason, reason, len);
    j->reason[len] = 0;
    j->outcome = j->admitted ? KN_JOIN_PENDING : KN_JOIN_REFUSED;
    c->joining = false;
    node_stop(n,
        j->outcome == KN_JOIN_REFUSED ? "the inviting node refused the join, stopping"
                                      : "admitted, but more signatures are needed; stopping",
        now);
}

static void kib(char *buf, size_t cap, uint64_t bytes)
{
    if (bytes >= 10ull << 20)
        snprintf(buf, cap, "%.1f MiB", (double)bytes / (1 << 20));
    else
        snprintf(buf, cap, "%llu KiB", (unsigned long long)((bytes + 1023) / 1024));
}

void join_tick(node *n, uint64_t now)
{
    kn_node_join *j = n->join;
    if (j->outcome != KN_JOIN_RUNNING)
        return;
    uint64_t timeout = j->admit_timeout_ms ? j->admit_timeout_ms : KN_JOIN_ADMIT_TIMEOUT_MS;
    for (conn *c = n->conns; c; c = c->next)
        if (c->joining && !c->closing && j->admitted
            && now - j->admitted_ms >= NODE_ADMIT_SETTLE_MS)
            admitted(c, now);
    if (!j->admitted) {
        if (now - n->join_started_ms < timeout)
            return;
        j->outcome = KN_JOIN_NO_ADMIT;
        /* The last thing that went wrong with the inviter's addresses, if anything did. */
        for (slot *s = n->slots; s; s = s->next)
            if (s->last_error[0]) {
                snprintf(j->reason, sizeof j->reason, "%.100s: %.150s", s->cfg.addr, s->last_error);
                break;
            }
        node_stop(n, "no admission from the inviting node in time, stopping", now);
        return;
    }
    conn *c = n->conns;
    while (
        c && (!c->established || c->closing || !c->member || memcmp(c->identity, j->inviter, 32)))
        c = c->next;
    if (!c) {
        if (!n->join_lost_since_ms)
            n->join_lost_since_ms = now;
        if (now - n->join_lost_since_ms >= KN_JOIN_LOST_MS) {
            j->outcome = KN_JOIN_LOST;
            node_stop(n, "the inviting node stayed unreachable, stopping", now);
        }
        return;
    }
    n->join_lost_since_ms = 0;
    char label[320], size[32];
    const sync_round *r = &c->round;
    if (c->sync.recon_ms >= j->admitted_ms && c->sync.recon_ms && !r->active) {
        /* The first reconciliation since the admit is over: that is the initial sync. */
        j->objects = c->sync.recon_in;
        j->bytes = r->obj_bytes_in;
        j->sync_ms = c->sync.recon_duration_ms;
        j->outcome = KN_JOIN_DONE;
        kib(size, sizeof size, j->bytes);
        node_log(n, "initial sync from %s done: %llu objects, %s in %.1f s",
            node_peer_label(c, label, sizeof label), (unsigned long long)j->objects, size,
            (double)j->sync_ms / 1000.0);
        node_stop(n, "joined, stopping", now);
        return;
    }
    /* Progress lines during the sync come from sync.c, as for any large catch-up. */
}

int kn_node_join_run(kn_datadir *dd, const kn_env *env, kn_node_join *join)
{
    kn_node_config cfg;
    kn_node_config_defaults(&cfg);
    cfg.listen = NULL;
    cfg.http_enabled = false; /* no listener of any kind: the web interface is `knoten run`'s */
    join->outcome = KN_JOIN_RUNNING;
    join->reason[0] = 0;
    join->admitted = false;
    join->objects = join->bytes = join->sync_ms = 0;
    int rc = node_run(dd, &cfg, env, join);
    if (rc == 0 && join->outcome == KN_JOIN_RUNNING)
        join->outcome = KN_JOIN_STOPPED;
    return rc;
}
