/*
 * The invites this node has handed out: one record per `knoten invite`, kept
 * in the store's local settings (they never replicate), so that the node can
 * later tell a joiner's secret from a guess, and the administrator can see
 * and withdraw open invites.
 *
 * A record holds the hash of the secret (kn_invite_secret_hash), never the
 * secret: the code in the e-mail is the only copy. The whole list lives in
 * one setting, KN_INVITES_SETTING, as one canonical msgpack array of
 *
 *   [id uint, secret_hash bin32, created uint, expires uint, note str,
 *    state uint (0 open, 1 used, 2 withdrawn), used_by bin (0 or 32), closed_at uint]
 *
 * because the settings API has neither iteration nor deletion, and one value
 * is one LMDB transaction. Every read-modify-write holds an exclusive lock
 * on DATA/invites.lock, so `knoten invite` and the running node (which
 * redeems, phase 2) never lose each other's edits, and a secret is marked
 * used exactly once.
 *
 * Callers: `knoten invite` (create, ls, revoke, check) and, in phase 2, the
 * node when a joiner presents a secret (kn_invites_redeem).
 */
#ifndef KN_INVITES_H
#define KN_INVITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datadir.h"
#include "env.h"
#include "error.h"
#include "invite.h"

#define KN_INVITES_SETTING "invites"
/* The addresses last given to `knoten invite --address`, used when none is given. */
#define KN_INVITE_ADDRS_SETTING "invite.addresses"

enum {
    KN_INVITES_MAX = 1000, /* records kept; closed ones are dropped first when full */
    KN_INVITE_NOTE_MAX = 200, /* bytes */
    KN_INVITE_SECRET_LEN = 20, /* bytes of secret in new codes (160 bits) */
    KN_INVITE_TTL_MAX_DAYS = 90,
};

typedef enum kn_invite_state {
    KN_INVITE_OPEN = 0,
    KN_INVITE_USED = 1,
    KN_INVITE_WITHDRAWN = 2,
} kn_invite_state;

typedef struct kn_invite_record {
    uint32_t id; /* 1, 2, 3 ... as the administrator refers to it */
    uint8_t secret_hash[32];
    uint64_t created_ms;
    uint64_t expires_ms;
    char note[KN_INVITE_NOTE_MAX + 1];
    kn_invite_state state;
    bool has_used_by;
    uint8_t used_by[32]; /* the joiner's node key (USED) */
    uint64_t closed_ms; /* when it was used or withdrawn; 0 while open */
} kn_invite_record;

/* Owns v (malloc'd); a zeroed struct is an empty list. */
typedef struct kn_invite_list {
    kn_invite_record *v;
    size_t n;
} kn_invite_list;

void kn_invite_list_free(kn_invite_list *l);

/* "open", "used", "withdrawn" or "expired" (an open record past its expiry at now). */
const char *kn_invite_record_state(const kn_invite_record *r, uint64_t now_ms);

/* Strict decode of the stored list; the encoder writes canonical form. */
KN_MUST_USE int kn_invite_list_decode(kn_invite_list *l, const uint8_t *buf, size_t len);
struct kn_mp_out;
KN_MUST_USE int kn_invite_list_encode(const kn_invite_list *l, struct kn_mp_out *o);

/* Loads the list (an absent setting is an empty list). No lock: a snapshot for display. */
KN_MUST_USE int kn_invites_load(kn_store *s, kn_invite_list *l);

/*
 * Makes a new invite valid for ttl_ms from now: a fresh secret from env, the
 * network key and identity of dd, the given addresses (1..4, "host:port",
 * checked with kn_hostport_parse). Stores its record and fills *inv, which
 * holds secrets: the caller prints the code and wipes inv (kn_invite_wipe).
 * KN_ESTATE if dd has no network key, KN_EINVAL for a bad address or note,
 * KN_ELIMIT if KN_INVITES_MAX invites are open.
 */
KN_MUST_USE int kn_invites_create(kn_datadir *dd, const kn_env *env, const char *const *addrs,
    size_t naddrs, uint64_t ttl_ms, const char *note, kn_invite *inv, uint32_t *id_out);

/* Withdraws an open invite: KN_ENOTFOUND, KN_ESTATE if already used or withdrawn. */
KN_MUST_USE int kn_invites_withdraw(kn_datadir *dd, uint32_t id, uint64_t now_ms);

/*
 * Redeems a secret presented by a joiner (phase 2: the node, once the joiner
 * proved its identity in the handshake). Marks the record used by joiner at
 * now_ms in the same locked read-modify-write that checked it, so a code
 * works once. Returns 0 and *id_out, or:
 *   KN_ENOTFOUND  no invite of this node has this secret (forged or foreign);
 *   KN_EEXPIRED   it expired (now_ms >= expires);
 *   KN_EEXIST     it was already used (by *record's used_by);
 *   KN_EPERM      the administrator withdrew it.
 * record (may be NULL) receives the matching record whenever there is one.
 */
KN_MUST_USE int kn_invites_redeem(kn_datadir *dd, const uint8_t *secret, size_t len,
    const uint8_t joiner[static 32], uint64_t now_ms, kn_invite_record *record);

/* Looks a secret up without changing anything (for `knoten invite check`); KN_ENOTFOUND. */
KN_MUST_USE int kn_invites_lookup(
    kn_store *s, const uint8_t *secret, size_t len, kn_invite_record *record);

/*
 * The addresses to put into a new invite when the administrator gives none:
 * those of this node's newest `addr` object, else the ones remembered from
 * the last `knoten invite --address`. *n = 0 if neither exists.
 */
KN_MUST_USE int kn_invites_default_addrs(
    kn_datadir *dd, char addrs[static KN_INVITE_ADDRS_MAX][KN_INVITE_ADDR_MAX + 1], size_t *n);
/* Remembers addresses for the next invite. */
KN_MUST_USE int kn_invites_remember_addrs(kn_store *s, const char *const *addrs, size_t n);

/* Parses "7d", "12h", "30m", "2w", "90s" (at most KN_INVITE_TTL_MAX_DAYS) into ms; KN_EINVAL. */
KN_MUST_USE int kn_invites_parse_ttl(const char *s, uint64_t *ms);

#endif
