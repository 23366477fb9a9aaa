/*
 * The abuse guard (guard.h).
 */
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "hex.h"
#include "repl_idmap.h"

/*
 * Points per offense, against a threshold of 100. Before the handshake a
 * peer may be only misconfigured (the wrong network key) or unlucky (a
 * stalled link): four such failures in a few minutes earn a ban. After it,
 * the peer has proved who it is and sends what its software chose to send:
 * one garbage frame, malformed message or invalid object is enough, and the
 * rate offenses are booked only once a limit has been exceeded for a while
 * (the engine decides when, repl.c).
 */
static const struct {
    unsigned points;
    const char *text;
} offenses[KN_OFFENSE_COUNT] = {
    [KN_OFFENSE_HANDSHAKE] = { 25, "sent bytes that are no handshake with our network key" },
    [KN_OFFENSE_SLOW] = { 25, "did not finish the handshake in time" },
    [KN_OFFENSE_CROWD] = { 10, "opened more handshakes at once than one address may" },
    [KN_OFFENSE_GARBAGE] = { 100, "sent bytes that do not decrypt" },
    [KN_OFFENSE_PROTOCOL] = { 100, "sent a malformed, oversized or unexpected message" },
    [KN_OFFENSE_BAD_OBJECT] = { 100, "sent an invalid object (bad signature or schema)" },
    [KN_OFFENSE_FLOOD] = { 100, "sent objects or wants faster than allowed" },
    [KN_OFFENSE_REPLAY] = { 100, "pushed objects we already hold, far too many" },
    [KN_OFFENSE_UNKNOWN_WANTS] = { 100, "asked for many ids this node never had" },
    [KN_OFFENSE_STALL] = { 50, "sent no complete message within the idle timeout" },
    /*
     * A guest holds the network key but no admission, and can make new
     * identities at will, so its address pays too, a little at a time: ten
     * offenses by guests from one address within minutes ban the address.
     */
    [KN_OFFENSE_GUEST] = { 10, "misbehaved after the handshake without being a member" },
    /*
     * A banned identity is refused only after its handshake (its key is in
     * message 3), which costs us three Diffie-Hellman operations and a
     * signature check each time: an address that keeps bringing one back is
     * banned itself and then refused before any of that.
     */
    [KN_OFFENSE_RETRY] = { 20, "kept coming back with a banned identity" },
};

const char *kn_offense_text(kn_offense o)
{
    return (unsigned)o < KN_OFFENSE_COUNT ? offenses[o].text : "misbehaved";
}

typedef struct rec {
    char label[KN_GUARD_LABEL_MAX + 1];
    bool is_id;
    uint8_t last;
    unsigned score; /* at `at` */
    unsigned bans;
    uint64_t at; /* when score was last brought up to date */
    uint64_t last_ms; /* last offense */
    uint64_t banned_until;
} rec;

struct kn_guard {
    kn_guard_config cfg;
    kn_idmap map; /* kn_guard_key.h -> rec */
};

static void key_make(kn_guard_key *k, bool is_id, const uint8_t *b, size_t n)
{
    kn_blake2b_state st;
    uint8_t kind = is_id ? 'i' : 'a';
    kn_blake2b_init(&st, sizeof k->h);
    kn_blake2b_update(&st, (const uint8_t *)"knoten/guard/1", 14);
    kn_blake2b_update(&st, &kind, 1);
    kn_blake2b_update(&st, b, n);
    kn_blake2b_final(&st, k->h, sizeof k->h);
    k->is_id = is_id;
}

void kn_guard_key_addr(kn_guard_key *k, const char *ip)
{
    size_t n = strlen(ip);
    key_make(k, false, (const uint8_t *)ip, n);
    snprintf(k->label, sizeof k->label, "%s", ip);
}

void kn_guard_key_id(kn_guard_key *k, const uint8_t identity[32])
{
    char hex[65];
    key_make(k, true, identity, 32);
    kn_hex_encode(hex, identity, 32);
    snprintf(k->label, sizeof k->label, "%s", hex);
}

int kn_guard_new(kn_guard **out, const kn_guard_config *cfg)
{
    kn_guard *g = calloc(1, sizeof *g);
    *out = NULL;
    if (!g)
        return KN_ENOMEM;
    if (cfg)
        g->cfg = *cfg;
    if (!g->cfg.ban_ms)
        g->cfg.ban_ms = 60000;
    if (!g->cfg.ban_max_ms)
        g->cfg.ban_max_ms = 3600000;
    if (g->cfg.ban_max_ms < g->cfg.ban_ms)
        g->cfg.ban_max_ms = g->cfg.ban_ms;
    if (!g->cfg.threshold)
        g->cfg.threshold = 100;
    if (!g->cfg.decay_ms)
        g->cfg.decay_ms = 600000;
    if (!g->cfg.forget_ms)
        g->cfg.forget_ms = 86400000;
    if (!g->cfg.keys_max)
        g->cfg.keys_max = 4096;
    kn_idmap_init(&g->map, sizeof(rec));
    *out = g;
    return 0;
}

void kn_guard_free(kn_guard *g)
{
    if (!g)
        return;
    kn_idmap_free(&g->map);
    free(g);
}

/* Brings a record's score and ban up to now: decay, expiry, forgetting. */
static void age(kn_guard *g, rec *r, uint64_t now)
{
    if (now <= r->at)
        return;
    uint64_t dt = now - r->at;
    uint64_t lost = dt * g->cfg.threshold / g->cfg.decay_ms;
    r->score = lost >= r->score ? 0 : r->score - (unsigned)lost;
    if (lost)
        r->at = now; /* keep the remainder when less than a point has decayed */
    if (r->banned_until && now >= r->banned_until)
        r->banned_until = 0;
    if (!r->banned_until && now - r->last_ms >= g->cfg.forget_ms)
        r->bans = 0;
}

/* Makes room for one more key: forgets the unbanned key with the lowest score. */
static void evict(kn_guard *g, uint64_t now)
{
    const uint8_t *victim = NULL;
    uint8_t vid[32];
    unsigned low = ~0u;
    for (size_t i = 0; i < g->map.cap; i++) {
        const uint8_t *id;
        rec *r = kn_idmap_slot(&g->map, i, &id);
        if (!r)
            continue;
        age(g, r, now);
        if (!r->banned_until && r->score < low) {
            low = r->score;
            victim = id;
        }
    }
    if (!victim)
        return; /* every key is banned: keep them, the new one is not booked */
    memcpy(vid, victim, sizeof vid);
    kn_idmap_del(&g->map, vid);
}

uint64_t kn_guard_offend(kn_guard *g, const kn_guard_key *k, kn_offense o, uint64_t now)
{
    if ((unsigned)o >= KN_OFFENSE_COUNT)
        return 0;
    rec *r = kn_idmap_get(&g->map, k->h);
    if (!r) {
        if (g->map.count >= g->cfg.keys_max)
            evict(g, now);
        if (g->map.count >= g->cfg.keys_max || !(r = kn_idmap_put(&g->map, k->h, NULL)))
            return 0;
        snprintf(r->label, sizeof r->label, "%s", k->label);
        r->is_id = k->is_id;
        r->at = now;
    }
    age(g, r, now);
    if (r->banned_until)
        return 0; /* refused anyway; more points would only lengthen the next ban */
    r->last = (uint8_t)o;
    r->last_ms = now;
    r->score += offenses[o].points;
    if (r->score < g->cfg.threshold)
        return 0;
    uint64_t d = g->cfg.ban_ms;
    for (unsigned i = 0; i < r->bans && d < g->cfg.ban_max_ms; i++)
        d *= 2;
    if (d > g->cfg.ban_max_ms)
        d = g->cfg.ban_max_ms;
    r->bans++;
    r->score = 0;
    r->banned_until = now + d;
    return r->banned_until;
}

uint64_t kn_guard_banned(kn_guard *g, const kn_guard_key *k, uint64_t now)
{
    rec *r = kn_idmap_get(&g->map, k->h);
    if (!r)
        return 0;
    age(g, r, now);
    return r->banned_until;
}

size_t kn_guard_list(kn_guard *g, uint64_t now, kn_guard_entry *out, size_t cap)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < g->map.cap; i++) {
            rec *r = kn_idmap_slot(&g->map, i, NULL);
            if (!r)
                continue;
            age(g, r, now);
            /* Listed: banned, scored, or banned within the last decay_ms (a ban just over). */
            bool recent = r->bans && now - r->last_ms < g->cfg.decay_ms;
            if ((pass == 0) != (r->banned_until != 0) || (!r->banned_until && !r->score && !recent))
                continue;
            if (n < cap) {
                kn_guard_entry *e = &out[n];
                snprintf(e->label, sizeof e->label, "%s", r->label);
                e->is_id = r->is_id;
                e->score = r->score;
                e->bans = r->bans;
                e->banned_until = r->banned_until;
                e->last_ms = r->last_ms;
                e->last = (kn_offense)r->last;
            }
            n++;
        }
    return n;
}
