/*
 * The node's use of the abuse guard (guard.h): which offense a failure is,
 * under which key it is booked, and what the log says.
 *
 * Where offenses come from:
 *  - conn.c: a handshake that fails (random bytes, a wrong network key) or
 *    times out (stalled, one byte a second, half-open), more handshakes at
 *    once from one address than NODE_HALFOPEN_PER_ADDR (all by address, and
 *    for inbound connections only: an outbound one goes where our own
 *    configuration says); bytes that do not decrypt once the session is up;
 *    no complete message within the idle timeout while bytes trickle in;
 *    a protocol violation of any message (by identity).
 *  - sync.c: the engine's faults: an invalid object found on the
 *    validation pool, a flood of objects or wants, replayed objects, wants
 *    for ids never held (repl.c decides; by identity).
 * A guest (the network key, no admission) is booked by identity and, a
 * little at a time (KN_OFFENSE_GUEST), by address, since it can make new
 * identities at will.
 *
 * What a ban does: a banned address is refused in conn_accept before any
 * cryptography (and not even logged each time: one line per
 * NODE_REFUSED_LOG_MS); a banned identity is refused in node_authorize with
 * a bye that says until when, and its configured or announced address is
 * not dialled until then. peers.state lists scores and bans for `knoten peer
 * ls`.
 */
#include <stdio.h>
#include <string.h>

#include "node_impl.h"

int abuse_start(node *n)
{
    kn_guard_config cfg = {
        .ban_ms = n->cfg->ban_ms,
        .ban_max_ms = n->cfg->ban_ms ? 60 * n->cfg->ban_ms : 0,
    };
    return kn_guard_new(&n->guard, &cfg);
}

void abuse_stop(node *n)
{
    kn_guard_free(n->guard);
    n->guard = NULL;
}

kn_offense abuse_for_code(int rc)
{
    switch (rc) {
    case KN_ESIG:
    case KN_ESCHEMA:
    case KN_EOBJTYPE:
        return KN_OFFENSE_BAD_OBJECT;
    case KN_ELIMIT:
        return KN_OFFENSE_FLOOD;
    case KN_EEXIST:
        return KN_OFFENSE_REPLAY;
    case KN_ENOTFOUND:
        return KN_OFFENSE_UNKNOWN_WANTS;
    default:
        return KN_OFFENSE_PROTOCOL;
    }
}

static void log_booked(node *n, const char *who, kn_offense o, uint64_t until, uint64_t now)
{
    if (until)
        node_logl(n, KN_LOG_WARN, "%s banned for %llu s: it %s", who,
            (unsigned long long)((until - now + 999) / 1000), kn_offense_text(o));
    else
        node_log(n, "%s scored down: it %s", who, kn_offense_text(o));
}

void abuse_offend(node *n, conn *c, kn_offense o, uint64_t now)
{
    char label[320];
    if (!n->guard || c->offended || (!c->inbound && !c->identity_checked))
        return;
    c->offended = true;
    n->state_dirty = true;
    node_peer_label(c, label, sizeof label);
    bool by_addr = !c->identity_checked || !c->member;
    if (c->identity_checked) {
        kn_guard_key k;
        kn_guard_key_id(&k, c->identity);
        log_booked(n, label, o, kn_guard_offend(n->guard, &k, o, now), now);
    }
    if (by_addr && c->inbound && c->ip[0]) {
        kn_guard_key k;
        char who[KN_PEER_ADDR_MAX + 16];
        kn_guard_key_addr(&k, c->ip);
        snprintf(who, sizeof who, "address %s", c->ip);
        kn_offense ao = c->identity_checked ? KN_OFFENSE_GUEST : o;
        uint64_t until = kn_guard_offend(n->guard, &k, ao, now);
        /* Address scores are logged only when they ban: a scan would flood the log. */
        if (until)
            log_booked(n, who, ao, until, now);
    }
}

bool abuse_addr_banned(node *n, const char *ip, uint64_t now)
{
    kn_guard_key k;
    if (!n->guard || !ip[0])
        return false;
    kn_guard_key_addr(&k, ip);
    uint64_t until = kn_guard_banned(n->guard, &k, now);
    if (!until)
        return false;
    if (now >= n->refused_log_ms + NODE_REFUSED_LOG_MS) {
        node_log(n,
            "refused a connection from %s: banned for another %llu s (and %u more refused "
            "since the last line)",
            ip, (unsigned long long)((until - now + 999) / 1000), n->refused_quiet);
        n->refused_log_ms = now;
        n->refused_quiet = 0;
    } else {
        n->refused_quiet++;
    }
    return true;
}

void abuse_banned_retry(node *n, conn *c, uint64_t now)
{
    kn_guard_key k;
    if (!n->guard || !c->inbound || !c->ip[0])
        return;
    kn_guard_key_addr(&k, c->ip);
    uint64_t until = kn_guard_offend(n->guard, &k, KN_OFFENSE_RETRY, now);
    if (until) {
        char who[KN_PEER_ADDR_MAX + 16];
        snprintf(who, sizeof who, "address %s", c->ip);
        log_booked(n, who, KN_OFFENSE_RETRY, until, now);
    }
}

uint64_t abuse_id_banned(node *n, const uint8_t identity[32], uint64_t now, char *why, size_t cap)
{
    kn_guard_key k;
    if (!n->guard)
        return 0;
    kn_guard_key_id(&k, identity);
    uint64_t until = kn_guard_banned(n->guard, &k, now);
    if (until && why)
        snprintf(why, cap, "banned for another %llu s after misbehaving; fix the cause and wait",
            (unsigned long long)((until - now + 999) / 1000));
    return until;
}
