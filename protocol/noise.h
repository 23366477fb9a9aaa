/*
 * The Noise Protocol Framework (revision 34), sans I/O.
 *
 * knoten peers talk Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b with the prologue
 * "knoten/1" and the 32-byte network key as the PSK (DESIGN.md, "Wire
 * protocol"): a peer without the network key fails at message 1 and learns
 * nothing, not even our static key. NN, XX and XXpsk3 are here too, only so
 * that the published test vectors can be replayed against this code.
 *
 * This file owns the HandshakeState, SymmetricState and CipherState of the
 * spec, and HMAC/HKDF over BLAKE2b written as the spec writes them (keyed
 * BLAKE2b is not HMAC). It never reads a clock, a socket or the RNG: the
 * caller hands in the ephemeral private key and moves bytes. Callers: the
 * session in frame.h (the node's one user), the vector tests, the interop
 * driver and the benchmark.
 *
 * Failure is final. A handshake or transport cipher that fails to decrypt,
 * meets a low-order key or a malformed message is wiped and answers every
 * later call with KN_ESTATE; the connection must be dropped.
 */
#ifndef KN_NOISE_H
#define KN_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
    KN_NOISE_KEY = 32, /* X25519 keys, cipher keys, the PSK */
    KN_NOISE_HASH = 64, /* BLAKE2b: HASHLEN */
    KN_NOISE_BLOCK = 128, /* BLAKE2b: BLOCKLEN, for HMAC */
    KN_NOISE_TAG = 16,
    KN_NOISE_NONCE = 12,
    KN_NOISE_MAX_MESSAGE = 65535, /* spec section 3 */
    KN_NOISE_MAX_PLAINTEXT = KN_NOISE_MAX_MESSAGE - KN_NOISE_TAG, /* 65519 */
    /* Each transport direction rekeys itself after this many messages. */
    KN_NOISE_REKEY_INTERVAL = 65536,
};

/* The knoten protocol: prologue and pattern. */
#define KN_NOISE_PROLOGUE "knoten/1"
#define KN_NOISE_PROLOGUE_LEN 8

enum kn_noise_role {
    KN_NOISE_INITIATOR = 0,
    KN_NOISE_RESPONDER = 1,
};

enum kn_noise_pattern {
    KN_NOISE_NN = 0,
    KN_NOISE_XX,
    KN_NOISE_XXPSK0, /* knoten's pattern */
    KN_NOISE_XXPSK3,
};

/*
 * Maps a full protocol name such as "Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b"
 * to a pattern. KN_ENOTFOUND for any other pattern, DH, cipher or hash.
 */
KN_MUST_USE int kn_noise_pattern_from_name(const char *name, enum kn_noise_pattern *pattern);

/* The full protocol name; a static string. */
const char *kn_noise_pattern_name(enum kn_noise_pattern pattern);

/* True if the pattern has a psk token (the PSK must then be given). */
bool kn_noise_pattern_has_psk(enum kn_noise_pattern pattern);

/* True if the pattern transmits static keys (the static key must then be given). */
bool kn_noise_pattern_has_static(enum kn_noise_pattern pattern);

/*
 * The 96-bit ChaChaPoly nonce of counter n: 4 zero bytes, then n as 64-bit
 * little-endian (spec section 12.3).
 */
void kn_noise_nonce_bytes(uint8_t out[static KN_NOISE_NONCE], uint64_t n);

/* ---- transport: one CipherState per direction ---- */

typedef struct kn_noise_cipher kn_noise_cipher;

/*
 * A transport cipher from a raw key and a starting nonce. The normal source of
 * ciphers is kn_noise_handshake_split(); this is for tests and benchmarks.
 * The key is copied. KN_ENOMEM.
 */
KN_MUST_USE int kn_noise_cipher_new(
    kn_noise_cipher **out, const uint8_t key[static KN_NOISE_KEY], uint64_t nonce);
/* Wipes and frees; NULL is fine. */
void kn_noise_cipher_free(kn_noise_cipher *c);

/*
 * EncryptWithAd: out receives len + KN_NOISE_TAG bytes (out may equal in).
 * len + KN_NOISE_TAG must not exceed KN_NOISE_MAX_MESSAGE (KN_ETOOBIG).
 * After every KN_NOISE_REKEY_INTERVAL messages the cipher rekeys itself, in
 * step with the peer's decrypting cipher. KN_ENONCE when the counter has
 * reached 2^64-1, which the spec reserves; KN_ESTATE once failed.
 */
KN_MUST_USE int kn_noise_cipher_encrypt(kn_noise_cipher *c, const uint8_t *ad, size_t adlen,
    const uint8_t *in, size_t len, uint8_t *out);
/*
 * DecryptWithAd: in holds len bytes including the tag, out receives
 * len - KN_NOISE_TAG (out may equal in). A failed authentication (KN_ECRYPTO)
 * or a message longer than KN_NOISE_MAX_MESSAGE (KN_ETOOBIG) kills the
 * cipher: it is wiped and every later call returns KN_ESTATE.
 */
KN_MUST_USE int kn_noise_cipher_decrypt(kn_noise_cipher *c, const uint8_t *ad, size_t adlen,
    const uint8_t *in, size_t len, uint8_t *out);
/*
 * Rekey() of spec section 11.3: k = the first 32 bytes of
 * ENCRYPT(k, 2^64-1, "", 32 zero bytes); the nonce is unchanged. Both peers
 * must call it at the same point in the message stream. KN_ESTATE once failed.
 */
KN_MUST_USE int kn_noise_cipher_rekey(kn_noise_cipher *c);
/* The next nonce to be used (for tests and logs). */
uint64_t kn_noise_cipher_nonce(const kn_noise_cipher *c);

/* ---- handshake ---- */

typedef struct kn_noise_handshake kn_noise_handshake;

/*
 * Initialize() of spec section 5.3, for one side of one handshake.
 *
 * prologue: prologue_len bytes, copied (hashed at once).
 * psk: 32 bytes, copied; required iff the pattern has a psk token, else NULL.
 * static_priv: 32-byte X25519 private key, copied; required iff the pattern
 *   sends static keys, else NULL.
 * ephemeral_priv: 32 random bytes from the caller's kn_env (or a test
 *   vector), copied; used as this handshake's ephemeral private key.
 * KN_EINVAL if a required key is missing or a forbidden one is given,
 * KN_ENOMEM.
 */
KN_MUST_USE int kn_noise_handshake_new(kn_noise_handshake **out, enum kn_noise_pattern pattern,
    enum kn_noise_role role, const uint8_t *prologue, size_t prologue_len, const uint8_t *psk,
    const uint8_t *static_priv, const uint8_t ephemeral_priv[static KN_NOISE_KEY]);

/* The knoten handshake: XXpsk0, prologue "knoten/1", the network key as PSK. */
KN_MUST_USE int kn_noise_handshake_new_knoten(kn_noise_handshake **out, enum kn_noise_role role,
    const uint8_t network_key[static KN_NOISE_KEY], const uint8_t static_priv[static KN_NOISE_KEY],
    const uint8_t ephemeral_priv[static KN_NOISE_KEY]);

/* Wipes and frees; NULL is fine. */
void kn_noise_handshake_free(kn_noise_handshake *hs);

/* True when it is this side's turn to write the next handshake message. */
bool kn_noise_handshake_my_turn(const kn_noise_handshake *hs);
/* True once every handshake message has been written or read. */
bool kn_noise_handshake_done(const kn_noise_handshake *hs);

/*
 * WriteMessage: processes the next message pattern and writes the message
 * (tokens, then the encrypted payload) to out, at most out_cap bytes; the
 * length goes to *out_len. KN_ESTATE if it is not our turn or the handshake
 * is finished or failed; KN_ETOOBIG if the message would exceed 65535 bytes
 * or out_cap (the handshake is then dead too: its state has moved on).
 */
KN_MUST_USE int kn_noise_handshake_write(kn_noise_handshake *hs, const uint8_t *payload,
    size_t payload_len, uint8_t *out, size_t out_cap, size_t *out_len);
/*
 * ReadMessage: processes the next message from the peer and writes its
 * decrypted payload to payload_out (at most payload_cap bytes; it is never
 * longer than len) with the length in *payload_len. Any failure is final:
 * KN_EPROTO for a message too short for its tokens, KN_ECRYPTO on a bad tag
 * (a wrong PSK or prologue shows here, at message 1), KN_ELOWORDER on a
 * low-order key, KN_ETOOBIG over 65535 bytes or payload_cap. KN_ESTATE (not
 * final) when it is not the peer's turn or the handshake is over.
 */
KN_MUST_USE int kn_noise_handshake_read(kn_noise_handshake *hs, const uint8_t *msg, size_t len,
    uint8_t *payload_out, size_t payload_cap, size_t *payload_len);

/*
 * Split(): after the last message, the two transport ciphers, oriented for
 * this side (send encrypts what the peer's recv decrypts). The caller owns
 * both and frees them. The handshake keeps only h and the remote static key;
 * its chaining key is wiped. KN_ESTATE before the handshake is done.
 */
KN_MUST_USE int kn_noise_handshake_split(
    kn_noise_handshake *hs, kn_noise_cipher **send, kn_noise_cipher **recv);

/* The handshake hash h (channel binding); KN_ESTATE before done or when failed. */
KN_MUST_USE int kn_noise_handshake_hash(
    const kn_noise_handshake *hs, uint8_t h[static KN_NOISE_HASH]);

/* The peer's static public key once received; KN_ENOTFOUND before, KN_ESTATE if failed. */
KN_MUST_USE int kn_noise_handshake_remote_static(
    const kn_noise_handshake *hs, uint8_t rs[static KN_NOISE_KEY]);

/* ---- the constructions, exposed for their known-answer tests ---- */

/* HMAC-HASH(key, data) with HASH = BLAKE2b-512 (RFC 2104, B = 128, L = 64). */
void kn_noise_hmac(uint8_t out[static KN_NOISE_HASH], const uint8_t *key, size_t keylen,
    const uint8_t *data, size_t len);

/*
 * HKDF(chaining_key, input_key_material, num_outputs) of spec section 4.3:
 * num_outputs is 2 or 3; out3 is NULL for 2.
 */
void kn_noise_hkdf(const uint8_t ck[static KN_NOISE_HASH], const uint8_t *ikm, size_t ikmlen,
    uint8_t out1[static KN_NOISE_HASH], uint8_t out2[static KN_NOISE_HASH], uint8_t *out3);

#endif
