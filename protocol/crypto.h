/*
 * The cryptographic primitives knoten uses, and the only door to libsodium.
 *
 * protocol/crypto.c is the one file that includes <sodium.h> (STYLE.md rule 1).
 * Everything here is a thin, size-typed wrapper around one libsodium call, so a
 * reviewer can check each against the spec that names it: Ed25519 signatures,
 * X25519, ChaCha20-Poly1305 (IETF, 96-bit nonce), BLAKE2b, SHA-256 (needed by
 * Negentropy V1 fingerprints) and Argon2id password hashes. No construction is
 * built here; HMAC/HKDF for Noise live in noise.c as the Noise spec writes them.
 */
#ifndef KN_CRYPTO_H
#define KN_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
    KN_SIGN_PUBLIC = 32,
    KN_SIGN_SECRET = 64,
    KN_SIGN_SEED = 32,
    KN_SIGNATURE = 64,
    KN_X25519_KEY = 32,
    KN_AEAD_KEY = 32,
    KN_AEAD_NONCE = 12,
    KN_AEAD_TAG = 16,
    KN_BLAKE2B_256 = 32,
    KN_BLAKE2B_512 = 64,
    KN_BLAKE2B_BLOCK = 128,
    KN_SHA256 = 32,
    KN_PWHASH_STR = 128,
    KN_BOX_NONCE = 24, /* XChaCha20-Poly1305 box (direct messages) */
    KN_BOX_TAG = 16,
};

/* Must be called once before any other function here; safe to call again. */
KN_MUST_USE int kn_crypto_init(void);

/* Bytes from the operating system's RNG. Only kn_env_system() calls this. */
void kn_crypto_os_random(uint8_t *buf, size_t len);

/* ---- Ed25519 ---- */
void kn_sign_keypair_from_seed(uint8_t pk[static KN_SIGN_PUBLIC], uint8_t sk[static KN_SIGN_SECRET],
    const uint8_t seed[static KN_SIGN_SEED]);
void kn_sign_detached(uint8_t sig[static KN_SIGNATURE], const uint8_t *msg, size_t len,
    const uint8_t sk[static KN_SIGN_SECRET]);
/* 0 if the signature is valid, KN_ESIG otherwise. */
KN_MUST_USE int kn_sign_verify(const uint8_t sig[static KN_SIGNATURE], const uint8_t *msg,
    size_t len, const uint8_t pk[static KN_SIGN_PUBLIC]);
/* Ed25519 keys converted to X25519 (for end-to-end direct messages). */
KN_MUST_USE int kn_sign_pk_to_x25519(
    uint8_t xpk[static KN_X25519_KEY], const uint8_t pk[static KN_SIGN_PUBLIC]);
KN_MUST_USE int kn_sign_sk_to_x25519(
    uint8_t xsk[static KN_X25519_KEY], const uint8_t sk[static KN_SIGN_SECRET]);

/* ---- X25519 ---- */
void kn_x25519_base(uint8_t pub[static KN_X25519_KEY], const uint8_t priv[static KN_X25519_KEY]);
/* KN_ELOWORDER if the result is all zero (low-order peer key). */
KN_MUST_USE int kn_x25519(uint8_t shared[static KN_X25519_KEY],
    const uint8_t priv[static KN_X25519_KEY], const uint8_t pub[static KN_X25519_KEY]);

/* ---- ChaCha20-Poly1305, IETF variant (RFC 8439) ---- */
/* out receives len + KN_AEAD_TAG bytes; out may equal in. */
void kn_aead_encrypt(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[static KN_AEAD_NONCE], const uint8_t key[static KN_AEAD_KEY]);
/* in holds len bytes including the tag; out receives len - KN_AEAD_TAG. KN_ECRYPTO on failure. */
KN_MUST_USE int kn_aead_decrypt(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad,
    size_t adlen, const uint8_t nonce[static KN_AEAD_NONCE], const uint8_t key[static KN_AEAD_KEY]);

/*
 * ---- crypto_box_curve25519xchacha20poly1305 (direct messages, protocol/dm.c) ----
 * X25519 between the two keys, then XChaCha20-Poly1305 with a 24-byte nonce.
 * The shared key is the same from both sides, so the sender can open what it
 * sealed with (its secret key, the recipient's public key).
 */
/* out receives len + KN_BOX_TAG bytes. KN_ECRYPTO if pk is a low-order point. */
KN_MUST_USE int kn_box_seal(uint8_t *out, const uint8_t *in, size_t len,
    const uint8_t nonce[static KN_BOX_NONCE], const uint8_t pk[static KN_X25519_KEY],
    const uint8_t sk[static KN_X25519_KEY]);
/* in holds len >= KN_BOX_TAG bytes; out receives len - KN_BOX_TAG. KN_ECRYPTO on failure. */
KN_MUST_USE int kn_box_open(uint8_t *out, const uint8_t *in, size_t len,
    const uint8_t nonce[static KN_BOX_NONCE], const uint8_t pk[static KN_X25519_KEY],
    const uint8_t sk[static KN_X25519_KEY]);

/* ---- BLAKE2b (unkeyed, as Noise and object ids use it) ---- */
void kn_blake2b(uint8_t *out, size_t outlen, const uint8_t *in, size_t len);

/* Incremental BLAKE2b; opaque storage sized for libsodium's state. */
typedef struct kn_blake2b_state {
    _Alignas(64) uint8_t opaque[384];
} kn_blake2b_state;
void kn_blake2b_init(kn_blake2b_state *st, size_t outlen);
void kn_blake2b_update(kn_blake2b_state *st, const uint8_t *in, size_t len);
void kn_blake2b_final(kn_blake2b_state *st, uint8_t *out, size_t outlen);

/* ---- SHA-256 (Negentropy fingerprints) ---- */
void kn_sha256(uint8_t out[static KN_SHA256], const uint8_t *in, size_t len);

/* ---- Argon2id password hashes (libsodium crypto_pwhash_str) ---- */
KN_MUST_USE int kn_pwhash_str(char out[static KN_PWHASH_STR], const char *password, size_t len);
/* 0 if the password matches, KN_EPERM otherwise. */
KN_MUST_USE int kn_pwhash_verify(
    const char hash[static KN_PWHASH_STR], const char *password, size_t len);

/* ---- memory ---- */
void kn_memzero(void *p, size_t len);
/* Constant-time equality: 0 if equal. */
int kn_memcmp_ct(const void *a, const void *b, size_t len);

#endif
