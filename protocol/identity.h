/*
 * The signed static-key statement: which knoten identity stands behind a
 * Noise static key.
 *
 * A node's Noise static key is an X25519 key of its own, separate from its
 * Ed25519 identity (DESIGN.md, "Wire protocol"). The identity signs
 *
 *     "knoten/noise-static/1" || x25519_pub (32) || expiry (u64 big-endian, ms)
 *
 * and the statement travels as the handshake payload (responder: message 2,
 * initiator: message 3), encoded as the canonical msgpack array
 * [identity bin32, expiry uint, sig bin64]. The receiver checks the
 * signature, that the signed key is the Noise remote static key and that the
 * statement has not expired; the membership roster is the node's business.
 * Callers: the session (frame.h) and the node, which signs its statement at
 * start-up.
 */
#ifndef KN_IDENTITY_H
#define KN_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
    KN_IDENTITY_PUBLIC = 32,
    KN_IDENTITY_SECRET = 64,
    KN_IDENTITY_SIG = 64,
    /* array(1) + bin8 32 (34) + uint64 (9) + bin8 64 (66) */
    KN_IDENTITY_STATEMENT_MAX = 1 + 34 + 9 + 66,
};

#define KN_IDENTITY_CONTEXT "knoten/noise-static/1"

/* A plain value; no secrets inside. */
typedef struct kn_identity_statement {
    uint8_t identity[KN_IDENTITY_PUBLIC]; /* Ed25519 public key */
    uint64_t expiry_ms; /* valid while now_ms < expiry_ms */
    uint8_t sig[KN_IDENTITY_SIG];
} kn_identity_statement;

/* Signs the statement that identity (pk, sk) owns x25519_pub until expiry_ms. */
void kn_identity_sign(kn_identity_statement *st,
    const uint8_t identity_pk[static KN_IDENTITY_PUBLIC],
    const uint8_t identity_sk[static KN_IDENTITY_SECRET], const uint8_t x25519_pub[static 32],
    uint64_t expiry_ms);

/*
 * Checks a received statement against the Noise remote static key:
 * KN_EIDENTITY if the signature does not verify or was made for another
 * X25519 key, KN_EEXPIRED if now_ms >= expiry_ms.
 */
KN_MUST_USE int kn_identity_verify(
    const kn_identity_statement *st, const uint8_t remote_static[static 32], uint64_t now_ms);

/* Writes the canonical encoding to out (at most out_cap bytes); KN_ETOOBIG. */
KN_MUST_USE int kn_identity_encode(
    const kn_identity_statement *st, uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * Strict decode of exactly len bytes: canonical msgpack, arity 3, exact key and
 * signature lengths, nothing trailing. Codec errors (KN_ETYPE, KN_EARITY,
 * KN_EKEYLEN, KN_ETRAILING, ...) pass through.
 */
KN_MUST_USE int kn_identity_decode(kn_identity_statement *st, const uint8_t *in, size_t len);

#endif
