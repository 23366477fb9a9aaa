/*
 * Invite codes: the one-time text a member council sends to a neighbour so
 * that the neighbour's node can find the network and ask to be admitted.
 *
 * A code carries everything a fresh node needs to make its first connection
 * (docs/federation.md): the network key (the Noise PSK, a secret), the
 * inviter's Ed25519 identity (to pin the first peer), 1..4 addresses where
 * the inviter can be reached, a random one-time secret that the joiner proves
 * to the inviter, and an expiry. The payload is the canonical msgpack array
 *
 *     [ 1, network_key bin32, inviter bin32, [addr str, ...], secret bin16..32, expires uint ]
 *
 * followed by a 4-byte checksum (the first 4 bytes of BLAKE2b-256 over the
 * payload), written in Crockford base32 in groups of four behind the prefix
 * "knoten1-". The alphabet has no I, L, O or U, reads out over the phone and
 * survives e-mail; the decoder ignores case, whitespace, line breaks and the
 * group dashes, and reads I and L as 1, O as 0, as Crockford intends. A typo
 * is caught by the checksum before anything touches the network.
 *
 * The code holds the network key: whoever reads it can talk to the network's
 * nodes (though not be admitted without the secret). Buffers that held it are
 * wiped; errors never quote the code.
 *
 * Pure code: no clock (the caller passes now), no randomness (the caller
 * fills the secret). Callers: `knoten invite`, `knoten join` (phase 2),
 * node/invites.c, the fuzz target.
 */
#ifndef KN_INVITE_H
#define KN_INVITE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
    KN_INVITE_VERSION = 1,
    KN_INVITE_ADDRS_MAX = 4,
    KN_INVITE_ADDR_MAX = 255, /* bytes of one "host:port" */
    KN_INVITE_SECRET_MIN = 16,
    KN_INVITE_SECRET_MAX = 32,
    KN_INVITE_CHECKSUM = 4,
    /* 1 + 1 + 34 + 34 + 1 + 4 * (2 + 255) + 34 + 9 = 1142: the largest payload. */
    KN_INVITE_PAYLOAD_MAX = 1142,
    /*
     * The longest code kn_invite_encode writes, NUL included: 1146 bytes are
     * 1834 base32 characters, 458 dashes between groups of four, the prefix.
     */
    KN_INVITE_TEXT_MAX = 8 + 1834 + 458 + 1,
    /* Input accepted by the decoder, whitespace and line breaks included. */
    KN_INVITE_INPUT_MAX = 8192,
};

#define KN_INVITE_PREFIX "knoten1-"

/*
 * A decoded invite. Holds two secrets (network_key, secret): wipe it with
 * kn_invite_wipe() when done. addrs are NUL-terminated.
 */
typedef struct kn_invite {
    uint8_t network_key[32];
    uint8_t inviter[32]; /* the inviting node's Ed25519 identity */
    uint32_t naddrs; /* 1..KN_INVITE_ADDRS_MAX */
    char addrs[KN_INVITE_ADDRS_MAX][KN_INVITE_ADDR_MAX + 1];
    uint8_t secret[KN_INVITE_SECRET_MAX];
    uint32_t secret_len; /* KN_INVITE_SECRET_MIN..KN_INVITE_SECRET_MAX */
    uint64_t expires_ms; /* valid while now < expires_ms */
} kn_invite;

void kn_invite_wipe(kn_invite *inv);

/*
 * Writes the code as text into out (cap bytes, at most KN_INVITE_TEXT_MAX
 * needed), NUL-terminated; *len (may be NULL) receives its length.
 * KN_EINVAL if inv breaks a limit above (an address must be 1..255 printable
 * ASCII bytes without spaces and end in ":port"), KN_ETOOBIG if out is short.
 */
KN_MUST_USE int kn_invite_encode(const kn_invite *inv, char *out, size_t cap, size_t *len);

/*
 * Where decoding stopped, for an error message that says what to check.
 * pos is the 0-based offset in the input of a character that can never be in
 * a code (KN_ECORRUPT with bad_char set), else 0.
 */
typedef struct kn_invite_problem {
    size_t pos;
    char bad_char; /* 0 if not a single bad character */
} kn_invite_problem;

/*
 * Strict decode of a pasted code (text[0..len), need not be NUL-terminated).
 * Returns 0, or:
 *   KN_ETOOBIG    longer than KN_INVITE_INPUT_MAX or than the largest code;
 *   KN_EINVAL     not an invite code at all (no "knoten1-" prefix, or empty);
 *   KN_ECORRUPT   mistyped or incomplete: a character outside the alphabet
 *                 (see *problem) or a checksum that does not match;
 *   KN_EVERSION   the checksum matches but the code is from a newer knoten;
 *   KN_ESCHEMA    the checksum matches but the content breaks the format
 *                 (made by a broken program, not a typo);
 *   KN_EEXPIRED   a valid code whose time is up (now_ms >= expires_ms); *inv
 *                 is filled so that the caller can say when it expired.
 * On every other error *inv is wiped. problem may be NULL.
 */
KN_MUST_USE int kn_invite_decode(
    kn_invite *inv, const char *text, size_t len, uint64_t now_ms, kn_invite_problem *problem);

/* The binary payload without checksum (out: KN_INVITE_PAYLOAD_MAX bytes); for tests. */
KN_MUST_USE int kn_invite_payload_encode(
    const kn_invite *inv, uint8_t *out, size_t cap, size_t *len);
/* Strict decode of a payload: canonical, exact arity, every limit. */
KN_MUST_USE int kn_invite_payload_decode(kn_invite *inv, const uint8_t *buf, size_t len);

/*
 * What the inviter keeps instead of the secret: BLAKE2b-256 over the domain
 * string "knoten/invite-secret/1\0" and the secret. A stolen copy of the
 * inviter's settings therefore does not let anyone redeem an open invite.
 */
void kn_invite_secret_hash(uint8_t out[static 32], const uint8_t *secret, size_t len);

/* A sentence for an administrator about a decode error (what went wrong and what to do). */
const char *kn_invite_strerror(int rc);

#endif
