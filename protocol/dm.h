/*
 * Direct messages, encrypted end to end from one staff user to another.
 *
 * A `dm` object carries {box, to}: `to` is the recipient user's Ed25519 key,
 * `box` is a random 24-byte nonce followed by
 * crypto_box_curve25519xchacha20poly1305 (X25519 + XChaCha20-Poly1305) of the
 * plaintext, under the key pair of the sender (the object's author) and the
 * recipient, both converted from Ed25519 to X25519. The plaintext is a
 * canonical msgpack map {body, subject?}. Relaying nodes see only `to`, the
 * author, the time and the length.
 *
 * Because the X25519 shared secret is the same from both sides, the recipient
 * opens the box with (its secret, the author's public key) and the sender
 * with (its secret, the recipient's public key): the sender can read its sent
 * messages, nobody else can. Opening succeeds only with the key of the
 * object's author, so the recipient knows who wrote it (the signature says
 * the same for everyone).
 *
 * This module is pure: the nonce comes in from the caller's kn_env, and keys
 * come in as arguments; every secret derived here is wiped before return.
 * Callers: `knoten msg` (tools/cli/cmd_msg.c) and later the web UI.
 */
#ifndef KN_DM_H
#define KN_DM_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "error.h"

enum {
    KN_DM_BODY_MAX = 32000, /* bytes of UTF-8, like a forum post */
    KN_DM_SUBJECT_MAX = 200,
    KN_DM_BOX_MAX = 60000, /* the dm schema's limit on `box` */
};

/* A message in clear; the strings are borrowed (sealing) or point into the plaintext (opening). */
typedef struct kn_dm_message {
    const char *subject; /* NULL: none */
    size_t subject_len;
    const char *body;
    size_t body_len;
} kn_dm_message;

/*
 * Encodes m (body 1..KN_DM_BODY_MAX bytes, subject NULL or 1..KN_DM_SUBJECT_MAX,
 * both valid UTF-8: else KN_ESCHEMA) and seals it from the sender's Ed25519
 * secret key to the recipient's Ed25519 public key. *box (malloc'd, caller
 * frees) is nonce || ciphertext, ready for the `box` field.
 */
KN_MUST_USE int kn_dm_seal(const kn_dm_message *m, const uint8_t nonce[static KN_BOX_NONCE],
    const uint8_t my_sk[static KN_SIGN_SECRET], const uint8_t their_pk[static KN_SIGN_PUBLIC],
    uint8_t **box, size_t *box_len);

/*
 * Opens a box with my secret key and the other party's public key (the
 * author's when I am the recipient, the `to` key when I sent it). On success
 * *plain is a malloc'd copy of the plaintext (free it with kn_dm_plain_free)
 * and m points into it. KN_ECRYPTO if the box does not open with these keys,
 * KN_ETOOBIG / KN_ETRUNC for a box outside the bounds, KN_ESCHEMA if the
 * plaintext is not a canonical {body, subject?} map within the limits.
 */
KN_MUST_USE int kn_dm_open(const uint8_t *box, size_t box_len,
    const uint8_t my_sk[static KN_SIGN_SECRET], const uint8_t their_pk[static KN_SIGN_PUBLIC],
    uint8_t **plain, size_t *plain_len, kn_dm_message *m);

/* Wipes and frees a plaintext from kn_dm_open (NULL is fine). */
void kn_dm_plain_free(uint8_t *plain, size_t len);

#endif
