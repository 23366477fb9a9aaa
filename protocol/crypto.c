/*
 * Thin wrappers around libsodium; see crypto.h. The static asserts pin our
 * public sizes to libsodium's, so a mismatch fails the build, not a peer.
 */
#include "crypto.h"

#include <sodium.h>
#include <string.h>

_Static_assert(KN_SIGN_PUBLIC == crypto_sign_PUBLICKEYBYTES, "ed25519 pk size");
_Static_assert(KN_SIGN_SECRET == crypto_sign_SECRETKEYBYTES, "ed25519 sk size");
_Static_assert(KN_SIGN_SEED == crypto_sign_SEEDBYTES, "ed25519 seed size");
_Static_assert(KN_SIGNATURE == crypto_sign_BYTES, "ed25519 sig size");
_Static_assert(KN_X25519_KEY == crypto_scalarmult_BYTES, "x25519 size");
_Static_assert(KN_AEAD_KEY == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "aead key");
_Static_assert(KN_AEAD_NONCE == crypto_aead_chacha20poly1305_ietf_NPUBBYTES, "aead nonce");
_Static_assert(KN_AEAD_TAG == crypto_aead_chacha20poly1305_ietf_ABYTES, "aead tag");
_Static_assert(sizeof(kn_blake2b_state) >= sizeof(crypto_generichash_state), "blake2b state");
_Static_assert(KN_SHA256 == crypto_hash_sha256_BYTES, "sha256 size");
_Static_assert(KN_BOX_NONCE == crypto_box_curve25519xchacha20poly1305_NONCEBYTES, "box nonce");
_Static_assert(KN_BOX_TAG == crypto_box_curve25519xchacha20poly1305_MACBYTES, "box tag");
_Static_assert(KN_X25519_KEY == crypto_box_curve25519xchacha20poly1305_PUBLICKEYBYTES, "box key");
_Static_assert(KN_PWHASH_STR == crypto_pwhash_STRBYTES, "pwhash str size");

int kn_crypto_init(void)
{
    return sodium_init() < 0 ? KN_ECRYPTO : 0;
}

void kn_crypto_os_random(uint8_t *buf, size_t len)
{
    randombytes_buf(buf, len);
}

void kn_sign_keypair_from_seed(uint8_t pk[static KN_SIGN_PUBLIC], uint8_t sk[static KN_SIGN_SECRET],
    const uint8_t seed[static KN_SIGN_SEED])
{
    crypto_sign_seed_keypair(pk, sk, seed);
}

void kn_sign_detached(uint8_t sig[static KN_SIGNATURE], const uint8_t *msg, size_t len,
    const uint8_t sk[static KN_SIGN_SECRET])
{
    crypto_sign_detached(sig, NULL, msg, len, sk);
}

int kn_sign_verify(const uint8_t sig[static KN_SIGNATURE], const uint8_t *msg, size_t len,
    const uint8_t pk[static KN_SIGN_PUBLIC])
{
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : KN_ESIG;
}

int kn_sign_pk_to_x25519(uint8_t xpk[static KN_X25519_KEY], const uint8_t pk[static KN_SIGN_PUBLIC])
{
    return crypto_sign_ed25519_pk_to_curve25519(xpk, pk) == 0 ? 0 : KN_ECRYPTO;
}

int kn_sign_sk_to_x25519(uint8_t xsk[static KN_X25519_KEY], const uint8_t sk[static KN_SIGN_SECRET])
{
    return crypto_sign_ed25519_sk_to_curve25519(xsk, sk) == 0 ? 0 : KN_ECRYPTO;
}

int kn_box_seal(uint8_t *out, const uint8_t *in, size_t len,
    const uint8_t nonce[static KN_BOX_NONCE], const uint8_t pk[static KN_X25519_KEY],
    const uint8_t sk[static KN_X25519_KEY])
{
    return crypto_box_curve25519xchacha20poly1305_easy(out, in, len, nonce, pk, sk) == 0
        ? 0
        : KN_ECRYPTO;
}

int kn_box_open(uint8_t *out, const uint8_t *in, size_t len,
    const uint8_t nonce[static KN_BOX_NONCE], const uint8_t pk[static KN_X25519_KEY],
    const uint8_t sk[static KN_X25519_KEY])
{
    if (len < KN_BOX_TAG)
        return KN_ECRYPTO;
    return crypto_box_curve25519xchacha20poly1305_open_easy(out, in, len, nonce, pk, sk) == 0
        ? 0
        : KN_ECRYPTO;
}

void kn_x25519_base(uint8_t pub[static KN_X25519_KEY], const uint8_t priv[static KN_X25519_KEY])
{
    crypto_scalarmult_base(pub, priv);
}

int kn_x25519(uint8_t shared[static KN_X25519_KEY], const uint8_t priv[static KN_X25519_KEY],
    const uint8_t pub[static KN_X25519_KEY])
{
    /* libsodium returns -1 when the output is all zero, i.e. pub has low order. */
    return crypto_scalarmult(shared, priv, pub) == 0 ? 0 : KN_ELOWORDER;
}

void kn_aead_encrypt(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[static KN_AEAD_NONCE], const uint8_t key[static KN_AEAD_KEY])
{
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, len, ad, adlen, NULL, nonce, key);
}

int kn_aead_decrypt(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[static KN_AEAD_NONCE], const uint8_t key[static KN_AEAD_KEY])
{
    if (len < KN_AEAD_TAG)
        return KN_ECRYPTO;
    return crypto_aead_chacha20poly1305_ietf_decrypt(
               out, NULL, NULL, in, len, ad, adlen, nonce, key)
            == 0
        ? 0
        : KN_ECRYPTO;
}

void kn_blake2b(uint8_t *out, size_t outlen, const uint8_t *in, size_t len)
{
    crypto_generichash(out, outlen, in, len, NULL, 0);
}

void kn_blake2b_init(kn_blake2b_state *st, size_t outlen)
{
    crypto_generichash_init((crypto_generichash_state *)st->opaque, NULL, 0, outlen);
}

void kn_blake2b_update(kn_blake2b_state *st, const uint8_t *in, size_t len)
{
    crypto_generichash_update((crypto_generichash_state *)st->opaque, in, len);
}

void kn_blake2b_final(kn_blake2b_state *st, uint8_t *out, size_t outlen)
{
    crypto_generichash_final((crypto_generichash_state *)st->opaque, out, outlen);
    sodium_memzero(st, sizeof *st);
}

void kn_sha256(uint8_t out[static KN_SHA256], const uint8_t *in, size_t len)
{
    crypto_hash_sha256(out, in, len);
}

int kn_pwhash_str(char out[static KN_PWHASH_STR], const char *password, size_t len)
{
    if (crypto_pwhash_str(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
            crypto_pwhash_MEMLIMIT_INTERACTIVE)
        != 0)
        return KN_ENOMEM;
    return 0;
}

int kn_pwhash_verify(const char hash[static KN_PWHASH_STR], const char *password, size_t len)
{
    return crypto_pwhash_str_verify(hash, password, len) == 0 ? 0 : KN_EPERM;
}

void kn_memzero(void *p, size_t len)
{
    sodium_memzero(p, len);
}

int kn_memcmp_ct(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len);
}
