/*
 * The abuse guard: what peers did wrong, the score it costs them, and the
 * bans it earns. One per node; the libuv shell (conn.c, messages.c, sync.c)
 * books offenses and asks before it accepts, authorises or dials.
 *
 * Keys: a peer that misbehaves before the handshake has proved anything is
 * known only by its IP address (random bytes, a wrong network key, a
 * handshake that stalls, too many connections at once); after it, by its
 * identity key, which the handshake authenticated (garbage frames, malformed
 * messages, invalid objects, floods, replays, wants for unknown ids, a
 * message that never completes). A guest, whose identity costs nothing to
 * make, is booked under both.
 *
 * Each offense adds points (guard.c, `offenses`); the score loses
 * `threshold` points every `decay_ms`, so rare mistakes are forgotten. At
 * `threshold` the key is banned for ban_ms, doubled for each earlier ban of
 * the same key (at most ban_max_ms); a key without offenses for forget_ms
 * starts afresh. A banned address is refused at accept, before any
 * cryptography; a banned identity is refused after the handshake and not
 * dialled.
 *
 * Sans-I/O: every call takes `now` (ms); no clock, no sockets, no logging.
 * Bounded: at most keys_max keys; when full, a key that is not banned and
 * has the lowest score is forgotten first.
 */
#ifndef KN_GUARD_H
#define KN_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum kn_offense {
    KN_OFFENSE_HANDSHAKE, /* before: bytes that are no handshake with our network key */
    KN_OFFENSE_SLOW, /* before: the handshake did not finish in time (stalled, dribbled) */
    KN_OFFENSE_CROWD, /* before: more handshakes at once from one address than allowed */
    KN_OFFENSE_GARBAGE, /* after: bytes that do not decrypt, or frames out of bounds */
    KN_OFFENSE_PROTOCOL, /* after: a malformed or unexpected message */
    KN_OFFENSE_BAD_OBJECT, /* after: an object with a bad signature or schema */
    KN_OFFENSE_FLOOD, /* after: more objects or wants per second than allowed, persistently */
    KN_OFFENSE_REPLAY, /* after: objects we hold, pushed unasked, far beyond gossip's share */
    KN_OFFENSE_UNKNOWN_WANTS, /* after: many wants for ids this node never had */
    KN_OFFENSE_STALL, /* after: no complete message within the idle timeout */
    KN_OFFENSE_GUEST, /* after: any of the above by a guest, booked against its address */
    KN_OFFENSE_RETRY, /* an identity that comes back while banned: its address pays */
    KN_OFFENSE_COUNT
} kn_offense;

/* What the offense is, for logs and `knoten peer ls` ("sent an object with a bad signature"). */
const char *kn_offense_text(kn_offense o);

enum { KN_GUARD_LABEL_MAX = 64 };

typedef struct kn_guard_config {
    uint64_t ban_ms; /* the first ban [60 s] */
    uint64_t ban_max_ms; /* [1 h] */
    unsigned threshold; /* points that earn a ban [100] */
    uint64_t decay_ms; /* the score loses threshold points in this time [10 min] */
    uint64_t forget_ms; /* no offense for this long: the key starts afresh [24 h] */
    size_t keys_max; /* [4096] */
} kn_guard_config;

/* A key: an address (IP, no port) or an identity; label is what logs show. */
typedef struct kn_guard_key {
    uint8_t h[32]; /* BLAKE2b of the kind and the bytes: the map key */
    bool is_id;
    char label[KN_GUARD_LABEL_MAX + 1]; /* the IP, or the identity's first 8 bytes in hex */
} kn_guard_key;

void kn_guard_key_addr(kn_guard_key *k, const char *ip);
void kn_guard_key_id(kn_guard_key *k, const uint8_t identity[32]);

typedef struct kn_guard kn_guard;

/* Zero fields of cfg take the defaults in brackets; cfg may be NULL. */
KN_MUST_USE int kn_guard_new(kn_guard **out, const kn_guard_config *cfg);
void kn_guard_free(kn_guard *g);

/*
 * Books one offense. Returns the end of the key's ban (ms) if this offense
 * banned it, 0 if not (the score is below the threshold, or the key was
 * banned already: a banned key's further offenses add nothing).
 */
uint64_t kn_guard_offend(kn_guard *g, const kn_guard_key *k, kn_offense o, uint64_t now);

/* The end of the key's ban if it is banned at now, else 0. */
uint64_t kn_guard_banned(kn_guard *g, const kn_guard_key *k, uint64_t now);

/* What is known of one key (for peers.state). */
typedef struct kn_guard_entry {
    char label[KN_GUARD_LABEL_MAX + 1];
    bool is_id;
    unsigned score; /* at now */
    unsigned bans; /* bans so far */
    uint64_t banned_until; /* 0: not banned at now */
    uint64_t last_ms; /* time of the last offense */
    kn_offense last; /* the last offense */
} kn_guard_entry;

/*
 * Copies up to cap entries with a score or a ban at now, or whose last ban
 * was earned within decay_ms, banned ones first; returns how many there are
 * in all.
 */
size_t kn_guard_list(kn_guard *g, uint64_t now, kn_guard_entry *out, size_t cap);

#endif
