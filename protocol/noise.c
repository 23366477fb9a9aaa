/*
 * Noise rev 34 for 25519 / ChaChaPoly / BLAKE2b; see noise.h.
 *
 * The structure follows the spec's sections so it can be read beside it:
 * HMAC and HKDF (4.3), CipherState (5.1), SymmetricState (5.2),
 * HandshakeState (5.3). Every DH output and derived key lives on the stack of
 * the function that uses it and is wiped at that function's one exit.
 */
#include "noise.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"

_Static_assert((int)KN_NOISE_KEY == (int)KN_X25519_KEY, "dh size");
_Static_assert((int)KN_NOISE_KEY == (int)KN_AEAD_KEY, "cipher key size");
_Static_assert((int)KN_NOISE_TAG == (int)KN_AEAD_TAG, "tag size");
_Static_assert((int)KN_NOISE_NONCE == (int)KN_AEAD_NONCE, "nonce size");
_Static_assert((int)KN_NOISE_HASH == (int)KN_BLAKE2B_512, "hash size");
_Static_assert((int)KN_NOISE_BLOCK == (int)KN_BLAKE2B_BLOCK, "block size");

/* n = 2^64-1 is reserved for Rekey() (spec 5.1). */
#define NONCE_MAX UINT64_MAX

/* ---- 4.3: HMAC and HKDF ---- */

void kn_noise_hmac(uint8_t out[static KN_NOISE_HASH], const uint8_t *key, size_t keylen,
    const uint8_t *data, size_t len)
{
    uint8_t k[KN_NOISE_BLOCK] = { 0 };
    uint8_t pad[KN_NOISE_BLOCK];
    uint8_t inner[KN_NOISE_HASH];
    kn_blake2b_state st;

    /* Keys longer than a block are hashed first (RFC 2104); Noise never does it. */
    if (keylen > KN_NOISE_BLOCK)
        kn_blake2b(k, KN_NOISE_HASH, key, keylen);
    else if (keylen > 0)
        memcpy(k, key, keylen);

    for (size_t i = 0; i < KN_NOISE_BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    kn_blake2b_init(&st, KN_NOISE_HASH);
    kn_blake2b_update(&st, pad, sizeof pad);
    kn_blake2b_update(&st, data, len);
    kn_blake2b_final(&st, inner, sizeof inner);

    for (size_t i = 0; i < KN_NOISE_BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    kn_blake2b_init(&st, KN_NOISE_HASH);
    kn_blake2b_update(&st, pad, sizeof pad);
    kn_blake2b_update(&st, inner, sizeof inner);
    kn_blake2b_final(&st, out, KN_NOISE_HASH);

    kn_memzero(k, sizeof k);
    kn_memzero(pad, sizeof pad);
    kn_memzero(inner, sizeof inner);
}

void kn_noise_hkdf(const uint8_t ck[static KN_NOISE_HASH], const uint8_t *ikm, size_t ikmlen,
    uint8_t out1[static KN_NOISE_HASH], uint8_t out2[static KN_NOISE_HASH], uint8_t *out3)
{
    uint8_t temp_key[KN_NOISE_HASH];
    uint8_t buf[KN_NOISE_HASH + 1];

    kn_noise_hmac(temp_key, ck, KN_NOISE_HASH, ikm, ikmlen);
    /* output1 = HMAC-HASH(temp_key, byte(0x01)) */
    buf[0] = 0x01;
    kn_noise_hmac(out1, temp_key, sizeof temp_key, buf, 1);
    /* output2 = HMAC-HASH(temp_key, output1 || byte(0x02)) */
    memcpy(buf, out1, KN_NOISE_HASH);
    buf[KN_NOISE_HASH] = 0x02;
    kn_noise_hmac(out2, temp_key, sizeof temp_key, buf, sizeof buf);
    if (out3) {
        /* output3 = HMAC-HASH(temp_key, output2 || byte(0x03)) */
        memcpy(buf, out2, KN_NOISE_HASH);
        buf[KN_NOISE_HASH] = 0x03;
        kn_noise_hmac(out3, temp_key, sizeof temp_key, buf, sizeof buf);
    }
    kn_memzero(temp_key, sizeof temp_key);
    kn_memzero(buf, sizeof buf);
}

/* ---- 5.1: CipherState ---- */

void kn_noise_nonce_bytes(uint8_t out[static KN_NOISE_NONCE], uint64_t n)
{
    memset(out, 0, 4);
    for (int i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)(n >> (8 * i));
}

struct cipher_state {
    uint8_t k[KN_NOISE_KEY];
    bool has_key;
    uint64_t n;
};

static void cs_initialize_key(struct cipher_state *cs, const uint8_t k[static KN_NOISE_KEY])
{
    memcpy(cs->k, k, KN_NOISE_KEY);
    cs->has_key = true;
    cs->n = 0;
}

/* ENCRYPT(k, n, ad, plaintext) */
static void cs_encrypt(const uint8_t k[static KN_NOISE_KEY], uint64_t n, const uint8_t *ad,
    size_t adlen, const uint8_t *in, size_t len, uint8_t *out)
{
    uint8_t nonce[KN_NOISE_NONCE];
    kn_noise_nonce_bytes(nonce, n);
    kn_aead_encrypt(out, in, len, ad, adlen, nonce, k);
}

/* EncryptWithAd; without a key the plaintext passes through (handshake only). */
static int cs_encrypt_with_ad(struct cipher_state *cs, const uint8_t *ad, size_t adlen,
    const uint8_t *in, size_t len, uint8_t *out)
{
    if (!cs->has_key) {
        if (len > 0)
            memmove(out, in, len);
        return 0;
    }
    if (cs->n == NONCE_MAX)
        return KN_ENONCE;
    cs_encrypt(cs->k, cs->n, ad, adlen, in, len, out);
    cs->n++;
    return 0;
}

static int cs_decrypt_with_ad(struct cipher_state *cs, const uint8_t *ad, size_t adlen,
    const uint8_t *in, size_t len, uint8_t *out)
{
    if (!cs->has_key) {
        if (len > 0)
            memmove(out, in, len);
        return 0;
    }
    if (cs->n == NONCE_MAX)
        return KN_ENONCE;
    uint8_t nonce[KN_NOISE_NONCE];
    kn_noise_nonce_bytes(nonce, cs->n);
    int rc = kn_aead_decrypt(out, in, len, ad, adlen, nonce, cs->k);
    if (rc < 0)
        return rc;
    cs->n++;
    return 0;
}

/* Rekey(): k = first 32 bytes of ENCRYPT(k, maxnonce, zerolen, zeros); n unchanged. */
static void cs_rekey(struct cipher_state *cs)
{
    static const uint8_t zeros[KN_NOISE_KEY];
    uint8_t out[KN_NOISE_KEY + KN_NOISE_TAG];
    cs_encrypt(cs->k, NONCE_MAX, NULL, 0, zeros, sizeof zeros, out);
    memcpy(cs->k, out, KN_NOISE_KEY);
    kn_memzero(out, sizeof out);
}

struct kn_noise_cipher {
    struct cipher_state cs;
    bool dead;
};

int kn_noise_cipher_new(
    kn_noise_cipher **out, const uint8_t key[static KN_NOISE_KEY], uint64_t nonce)
{
    kn_noise_cipher *c = calloc(1, sizeof *c);
    *out = c;
    if (!c)
        return KN_ENOMEM;
    cs_initialize_key(&c->cs, key);
    c->cs.n = nonce;
    return 0;
}

void kn_noise_cipher_free(kn_noise_cipher *c)
{
    if (!c)
        return;
    kn_memzero(c, sizeof *c);
    free(c);
}

static void cipher_kill(kn_noise_cipher *c)
{
    kn_memzero(&c->cs, sizeof c->cs);
    c->dead = true;
}

/*
 * Both directions rekey after message numbers 65535, 131071, ...: the
 * encrypter after sending such a message, the decrypter after accepting it, so
 * the two stay in step without a signal on the wire.
 */
static void cipher_maybe_rekey(kn_noise_cipher *c)
{
    if (c->cs.n % KN_NOISE_REKEY_INTERVAL == 0)
        cs_rekey(&c->cs);
}

int kn_noise_cipher_encrypt(kn_noise_cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *in,
    size_t len, uint8_t *out)
{
    if (c->dead)
        return KN_ESTATE;
    if (len > KN_NOISE_MAX_PLAINTEXT)
        return KN_ETOOBIG;
    int rc = cs_encrypt_with_ad(&c->cs, ad, adlen, in, len, out);
    if (rc < 0)
        return rc;
    cipher_maybe_rekey(c);
    return 0;
}

int kn_noise_cipher_decrypt(kn_noise_cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *in,
    size_t len, uint8_t *out)
{
    int rc;
    if (c->dead)
        return KN_ESTATE;
    if (len > KN_NOISE_MAX_MESSAGE) {
        rc = KN_ETOOBIG;
        goto out;
    }
    if (len < KN_NOISE_TAG) {
        rc = KN_ECRYPTO;
        goto out;
    }
    rc = cs_decrypt_with_ad(&c->cs, ad, adlen, in, len, out);
    if (rc == 0)
        cipher_maybe_rekey(c);
out:
    if (rc < 0)
        cipher_kill(c);
    return rc;
}

int kn_noise_cipher_rekey(kn_noise_cipher *c)
{
    if (c->dead)
        return KN_ESTATE;
    cs_rekey(&c->cs);
    return 0;
}

uint64_t kn_noise_cipher_nonce(const kn_noise_cipher *c)
{
    return c->cs.n;
}

/* ---- 5.2: SymmetricState ---- */

struct symmetric_state {
    struct cipher_state cs;
    uint8_t ck[KN_NOISE_HASH];
    uint8_t h[KN_NOISE_HASH];
};

static void ss_initialize(struct symmetric_state *ss, const char *protocol_name)
{
    size_t len = strlen(protocol_name);
    memset(ss, 0, sizeof *ss);
    /* Every name we support is shorter than HASHLEN: h = name padded with zeros. */
    if (len <= KN_NOISE_HASH)
        memcpy(ss->h, protocol_name, len);
    else
        kn_blake2b(ss->h, KN_NOISE_HASH, (const uint8_t *)protocol_name, len);
    memcpy(ss->ck, ss->h, KN_NOISE_HASH);
}

static void ss_mix_hash(struct symmetric_state *ss, const uint8_t *data, size_t len)
{
    kn_blake2b_state st;
    kn_blake2b_init(&st, KN_NOISE_HASH);
    kn_blake2b_update(&st, ss->h, KN_NOISE_HASH);
    kn_blake2b_update(&st, data, len);
    kn_blake2b_final(&st, ss->h, KN_NOISE_HASH);
}

static void ss_mix_key(struct symmetric_state *ss, const uint8_t *ikm, size_t len)
{
    uint8_t temp_k[KN_NOISE_HASH];
    kn_noise_hkdf(ss->ck, ikm, len, ss->ck, temp_k, NULL);
    /* HASHLEN is 64: temp_k is truncated to 32 bytes. */
    cs_initialize_key(&ss->cs, temp_k);
    kn_memzero(temp_k, sizeof temp_k);
}

static void ss_mix_key_and_hash(struct symmetric_state *ss, const uint8_t *ikm, size_t len)
{
    uint8_t temp_h[KN_NOISE_HASH];
    uint8_t temp_k[KN_NOISE_HASH];
    kn_noise_hkdf(ss->ck, ikm, len, ss->ck, temp_h, temp_k);
    ss_mix_hash(ss, temp_h, sizeof temp_h);
    cs_initialize_key(&ss->cs, temp_k);
    kn_memzero(temp_h, sizeof temp_h);
    kn_memzero(temp_k, sizeof temp_k);
}

/* EncryptAndHash: out receives len (+ 16 once a key is set) bytes. */
static int ss_encrypt_and_hash(
    struct symmetric_state *ss, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    int rc = cs_encrypt_with_ad(&ss->cs, ss->h, KN_NOISE_HASH, in, len, out);
    if (rc < 0)
        return rc;
    *out_len = len + (ss->cs.has_key ? KN_NOISE_TAG : 0);
    ss_mix_hash(ss, out, *out_len);
    return 0;
}

/* DecryptAndHash: h absorbs the ciphertext, so it is read before out is written. */
static int ss_decrypt_and_hash(
    struct symmetric_state *ss, const uint8_t *in, size_t len, uint8_t *out)
{
    uint8_t h_next[KN_NOISE_HASH];
    kn_blake2b_state st;
    kn_blake2b_init(&st, KN_NOISE_HASH);
    kn_blake2b_update(&st, ss->h, KN_NOISE_HASH);
    kn_blake2b_update(&st, in, len);
    kn_blake2b_final(&st, h_next, KN_NOISE_HASH);
    int rc = cs_decrypt_with_ad(&ss->cs, ss->h, KN_NOISE_HASH, in, len, out);
    if (rc == 0)
        memcpy(ss->h, h_next, KN_NOISE_HASH);
    return rc;
}

/* Split(): two CipherStates from HKDF(ck, zerolen, 2), each key truncated to 32 bytes. */
static void ss_split(struct symmetric_state *ss, struct cipher_state *c1, struct cipher_state *c2)
{
    uint8_t temp_k1[KN_NOISE_HASH];
    uint8_t temp_k2[KN_NOISE_HASH];
    kn_noise_hkdf(ss->ck, NULL, 0, temp_k1, temp_k2, NULL);
    cs_initialize_key(c1, temp_k1);
    cs_initialize_key(c2, temp_k2);
    kn_memzero(temp_k1, sizeof temp_k1);
    kn_memzero(temp_k2, sizeof temp_k2);
}

/* ---- 7: the pattern table ---- */

enum token { T_END = 0, T_E, T_S, T_EE, T_ES, T_SE, T_SS, T_PSK };

enum { MAX_MESSAGES = 3, MAX_TOKENS = 6 };

struct pattern {
    const char *name;
    bool has_psk;
    bool has_static;
    int messages;
    /* Message i is written by the initiator when i is even. */
    enum token tokens[MAX_MESSAGES][MAX_TOKENS];
};

static const struct pattern patterns[] = {
    [KN_NOISE_NN] = {
        .name = "Noise_NN_25519_ChaChaPoly_BLAKE2b",
        .messages = 2,
        .tokens = {
            { T_E },              /* -> e */
            { T_E, T_EE },        /* <- e, ee */
        },
    },
    [KN_NOISE_XX] = {
        .name = "Noise_XX_25519_ChaChaPoly_BLAKE2b",
        .has_static = true,
        .messages = 3,
        .tokens = {
            { T_E },                     /* -> e */
            { T_E, T_EE, T_S, T_ES },    /* <- e, ee, s, es */
            { T_S, T_SE },               /* -> s, se */
        },
    },
    [KN_NOISE_XXPSK0] = {
        .name = "Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b",
        .has_psk = true,
        .has_static = true,
        .messages = 3,
        .tokens = {
            { T_PSK, T_E },              /* -> psk, e */
            { T_E, T_EE, T_S, T_ES },    /* <- e, ee, s, es */
            { T_S, T_SE },               /* -> s, se */
        },
    },
    [KN_NOISE_XXPSK3] = {
        .name = "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b",
        .has_psk = true,
        .has_static = true,
        .messages = 3,
        .tokens = {
            { T_E },                     /* -> e */
            { T_E, T_EE, T_S, T_ES },    /* <- e, ee, s, es */
            { T_S, T_SE, T_PSK },        /* -> s, se, psk */
        },
    },
};

enum { N_PATTERNS = sizeof patterns / sizeof patterns[0] };

static bool pattern_valid(enum kn_noise_pattern p)
{
    return (unsigned)p < N_PATTERNS;
}

int kn_noise_pattern_from_name(const char *name, enum kn_noise_pattern *pattern)
{
    for (int i = 0; i < N_PATTERNS; i++) {
        if (strcmp(name, patterns[i].name) == 0) {
            *pattern = (enum kn_noise_pattern)i;
            return 0;
        }
    }
    return KN_ENOTFOUND;
}

const char *kn_noise_pattern_name(enum kn_noise_pattern pattern)
{
    return pattern_valid(pattern) ? patterns[pattern].name : "unknown";
}

bool kn_noise_pattern_has_psk(enum kn_noise_pattern pattern)
{
    return pattern_valid(pattern) && patterns[pattern].has_psk;
}

bool kn_noise_pattern_has_static(enum kn_noise_pattern pattern)
{
    return pattern_valid(pattern) && patterns[pattern].has_static;
}

/* ---- 5.3: HandshakeState ---- */

enum hs_phase { HS_ACTIVE = 0, HS_DONE, HS_SPLIT, HS_DEAD };

struct kn_noise_handshake {
    struct symmetric_state ss;
    const struct pattern *pattern;
    enum kn_noise_role role;
    enum hs_phase phase;
    int next_message;
    uint8_t s_priv[KN_NOISE_KEY], s_pub[KN_NOISE_KEY];
    uint8_t e_priv[KN_NOISE_KEY], e_pub[KN_NOISE_KEY];
    uint8_t rs[KN_NOISE_KEY], re[KN_NOISE_KEY];
    uint8_t psk[KN_NOISE_KEY];
    bool has_s, has_rs, has_re;
};

int kn_noise_handshake_new(kn_noise_handshake **out, enum kn_noise_pattern pattern,
    enum kn_noise_role role, const uint8_t *prologue, size_t prologue_len, const uint8_t *psk,
    const uint8_t *static_priv, const uint8_t ephemeral_priv[static KN_NOISE_KEY])
{
    *out = NULL;
    if (!pattern_valid(pattern) || (role != KN_NOISE_INITIATOR && role != KN_NOISE_RESPONDER))
        return KN_EINVAL;
    const struct pattern *p = &patterns[pattern];
    if (p->has_psk != (psk != NULL) || p->has_static != (static_priv != NULL))
        return KN_EINVAL;
    if (prologue_len > 0 && !prologue)
        return KN_EINVAL;

    kn_noise_handshake *hs = calloc(1, sizeof *hs);
    if (!hs)
        return KN_ENOMEM;
    hs->pattern = p;
    hs->role = role;
    ss_initialize(&hs->ss, p->name);
    ss_mix_hash(&hs->ss, prologue, prologue_len);
    if (psk)
        memcpy(hs->psk, psk, KN_NOISE_KEY);
    if (static_priv) {
        memcpy(hs->s_priv, static_priv, KN_NOISE_KEY);
        kn_x25519_base(hs->s_pub, hs->s_priv);
        hs->has_s = true;
    }
    memcpy(hs->e_priv, ephemeral_priv, KN_NOISE_KEY);
    kn_x25519_base(hs->e_pub, hs->e_priv);
    *out = hs;
    return 0;
}

int kn_noise_handshake_new_knoten(kn_noise_handshake **out, enum kn_noise_role role,
    const uint8_t network_key[static KN_NOISE_KEY], const uint8_t static_priv[static KN_NOISE_KEY],
    const uint8_t ephemeral_priv[static KN_NOISE_KEY])
{
    return kn_noise_handshake_new(out, KN_NOISE_XXPSK0, role, (const uint8_t *)KN_NOISE_PROLOGUE,
        KN_NOISE_PROLOGUE_LEN, network_key, static_priv, ephemeral_priv);
}

void kn_noise_handshake_free(kn_noise_handshake *hs)
{
    if (!hs)
        return;
    kn_memzero(hs, sizeof *hs);
    free(hs);
}

/* Wipes every secret and leaves only the phase: all later calls fail. */
static void hs_kill(kn_noise_handshake *hs)
{
    enum kn_noise_role role = hs->role;
    const struct pattern *p = hs->pattern;
    kn_memzero(hs, sizeof *hs);
    hs->role = role;
    hs->pattern = p;
    hs->phase = HS_DEAD;
}

static bool hs_writer_is_initiator(int message)
{
    return message % 2 == 0;
}

bool kn_noise_handshake_my_turn(const kn_noise_handshake *hs)
{
    return hs->phase == HS_ACTIVE
        && hs_writer_is_initiator(hs->next_message) == (hs->role == KN_NOISE_INITIATOR);
}

bool kn_noise_handshake_done(const kn_noise_handshake *hs)
{
    return hs->phase == HS_DONE || hs->phase == HS_SPLIT;
}

/* MixKey(DH(priv, pub)); KN_ELOWORDER if pub has low order. */
static int hs_mix_dh(kn_noise_handshake *hs, const uint8_t priv[static KN_NOISE_KEY],
    const uint8_t pub[static KN_NOISE_KEY])
{
    uint8_t shared[KN_NOISE_KEY];
    int rc = kn_x25519(shared, priv, pub);
    if (rc < 0)
        goto out;
    ss_mix_key(&hs->ss, shared, sizeof shared);
out:
    kn_memzero(shared, sizeof shared);
    return rc;
}

/*
 * The DH tokens read the same on both sides once "local" and "remote" are
 * resolved: es is DH(e, rs) for the initiator and DH(s, re) for the responder.
 */
static int hs_dh_token(kn_noise_handshake *hs, enum token t)
{
    bool init = hs->role == KN_NOISE_INITIATOR;
    switch (t) {
    case T_EE: /* ee */
        if (!hs->has_re)
            return KN_ESTATE;
        return hs_mix_dh(hs, hs->e_priv, hs->re);
    case T_ES: /* es */
        if (init ? !hs->has_rs : (!hs->has_s || !hs->has_re))
            return KN_ESTATE;
        return init ? hs_mix_dh(hs, hs->e_priv, hs->rs) : hs_mix_dh(hs, hs->s_priv, hs->re);
    case T_SE: /* se */
        if (init ? (!hs->has_s || !hs->has_re) : !hs->has_rs)
            return KN_ESTATE;
        return init ? hs_mix_dh(hs, hs->s_priv, hs->re) : hs_mix_dh(hs, hs->e_priv, hs->rs);
    case T_SS: /* ss */
        if (!hs->has_s || !hs->has_rs)
            return KN_ESTATE;
        return hs_mix_dh(hs, hs->s_priv, hs->rs);
    default:
        return KN_EINVAL;
    }
}

static void hs_finish_message(kn_noise_handshake *hs)
{
    hs->next_message++;
    if (hs->next_message == hs->pattern->messages)
        hs->phase = HS_DONE;
}

int kn_noise_handshake_write(kn_noise_handshake *hs, const uint8_t *payload, size_t payload_len,
    uint8_t *out, size_t out_cap, size_t *out_len)
{
    int rc = 0;
    size_t pos = 0, n;
    *out_len = 0;
    if (!kn_noise_handshake_my_turn(hs))
        return KN_ESTATE;
    if (payload_len > 0 && !payload)
        return KN_EINVAL;
    if (payload_len > KN_NOISE_MAX_MESSAGE) {
        rc = KN_ETOOBIG;
        goto out;
    }
    if (out_cap > KN_NOISE_MAX_MESSAGE)
        out_cap = KN_NOISE_MAX_MESSAGE;

    const enum token *tok = hs->pattern->tokens[hs->next_message];
    for (int i = 0; i < MAX_TOKENS && tok[i] != T_END; i++) {
        switch (tok[i]) {
        case T_E: /* e */
            if (out_cap - pos < KN_NOISE_KEY) {
                rc = KN_ETOOBIG;
                goto out;
            }
            memcpy(out + pos, hs->e_pub, KN_NOISE_KEY);
            pos += KN_NOISE_KEY;
            ss_mix_hash(&hs->ss, hs->e_pub, KN_NOISE_KEY);
            /* In psk handshakes every e also does MixKey(e.public_key) (spec 9.2). */
            if (hs->pattern->has_psk)
                ss_mix_key(&hs->ss, hs->e_pub, KN_NOISE_KEY);
            break;
        case T_S: /* s */
            if (out_cap - pos < KN_NOISE_KEY + (hs->ss.cs.has_key ? KN_NOISE_TAG : 0)) {
                rc = KN_ETOOBIG;
                goto out;
            }
            rc = ss_encrypt_and_hash(&hs->ss, hs->s_pub, KN_NOISE_KEY, out + pos, &n);
            if (rc < 0)
                goto out;
            pos += n;
            break;
        case T_PSK: /* psk */
            ss_mix_key_and_hash(&hs->ss, hs->psk, KN_NOISE_KEY);
            break;
        default: /* ee es se ss */
            rc = hs_dh_token(hs, tok[i]);
            if (rc < 0)
                goto out;
            break;
        }
    }
    /* payload */
    if (out_cap - pos < payload_len + (hs->ss.cs.has_key ? KN_NOISE_TAG : 0)) {
        rc = KN_ETOOBIG;
        goto out;
    }
    rc = ss_encrypt_and_hash(&hs->ss, payload, payload_len, out + pos, &n);
    if (rc < 0)
        goto out;
    pos += n;
    *out_len = pos;
    hs_finish_message(hs);
out:
    if (rc < 0) {
        kn_memzero(out, pos);
        hs_kill(hs);
    }
    return rc;
}

int kn_noise_handshake_read(kn_noise_handshake *hs, const uint8_t *msg, size_t len,
    uint8_t *payload_out, size_t payload_cap, size_t *payload_len)
{
    int rc = 0;
    size_t pos = 0;
    *payload_len = 0;
    if (hs->phase != HS_ACTIVE || kn_noise_handshake_my_turn(hs))
        return KN_ESTATE;
    if (len > KN_NOISE_MAX_MESSAGE) {
        rc = KN_ETOOBIG;
        goto out;
    }

    const enum token *tok = hs->pattern->tokens[hs->next_message];
    for (int i = 0; i < MAX_TOKENS && tok[i] != T_END; i++) {
        switch (tok[i]) {
        case T_E: /* e */
            if (len - pos < KN_NOISE_KEY) {
                rc = KN_EPROTO;
                goto out;
            }
            memcpy(hs->re, msg + pos, KN_NOISE_KEY);
            hs->has_re = true;
            pos += KN_NOISE_KEY;
            ss_mix_hash(&hs->ss, hs->re, KN_NOISE_KEY);
            if (hs->pattern->has_psk)
                ss_mix_key(&hs->ss, hs->re, KN_NOISE_KEY);
            break;
        case T_S: { /* s */
            size_t n = KN_NOISE_KEY + (hs->ss.cs.has_key ? KN_NOISE_TAG : 0);
            if (len - pos < n) {
                rc = KN_EPROTO;
                goto out;
            }
            uint8_t rs[KN_NOISE_KEY];
            rc = ss_decrypt_and_hash(&hs->ss, msg + pos, n, rs);
            if (rc < 0)
                goto out;
            memcpy(hs->rs, rs, KN_NOISE_KEY);
            hs->has_rs = true;
            pos += n;
            break;
        }
        case T_PSK: /* psk */
            ss_mix_key_and_hash(&hs->ss, hs->psk, KN_NOISE_KEY);
            break;
        default: /* ee es se ss */
            rc = hs_dh_token(hs, tok[i]);
            if (rc < 0)
                goto out;
            break;
        }
    }
    /* payload */
    size_t clen = len - pos;
    size_t tag = hs->ss.cs.has_key ? KN_NOISE_TAG : 0;
    if (clen < tag) {
        rc = KN_EPROTO;
        goto out;
    }
    if (clen - tag > payload_cap) {
        rc = KN_ETOOBIG;
        goto out;
    }
    rc = ss_decrypt_and_hash(&hs->ss, msg + pos, clen, payload_out);
    if (rc < 0)
        goto out;
    *payload_len = clen - tag;
    hs_finish_message(hs);
out:
    if (rc < 0)
        hs_kill(hs);
    return rc;
}

int kn_noise_handshake_split(kn_noise_handshake *hs, kn_noise_cipher **send, kn_noise_cipher **recv)
{
    int rc = 0;
    kn_noise_cipher *c1 = NULL, *c2 = NULL;
    *send = NULL;
    *recv = NULL;
    if (hs->phase != HS_DONE)
        return KN_ESTATE;
    c1 = calloc(1, sizeof *c1);
    c2 = calloc(1, sizeof *c2);
    if (!c1 || !c2) {
        rc = KN_ENOMEM;
        goto out;
    }
    ss_split(&hs->ss, &c1->cs, &c2->cs);
    /* c1 carries initiator -> responder, c2 the other way. */
    if (hs->role == KN_NOISE_INITIATOR) {
        *send = c1;
        *recv = c2;
    } else {
        *send = c2;
        *recv = c1;
    }
    c1 = c2 = NULL;
    /* Keep h and rs for the caller; nothing that derives keys survives. */
    kn_memzero(&hs->ss.cs, sizeof hs->ss.cs);
    kn_memzero(hs->ss.ck, sizeof hs->ss.ck);
    kn_memzero(hs->s_priv, sizeof hs->s_priv);
    kn_memzero(hs->e_priv, sizeof hs->e_priv);
    kn_memzero(hs->psk, sizeof hs->psk);
    hs->phase = HS_SPLIT;
out:
    kn_noise_cipher_free(c1);
    kn_noise_cipher_free(c2);
    return rc;
}

int kn_noise_handshake_hash(const kn_noise_handshake *hs, uint8_t h[static KN_NOISE_HASH])
{
    if (!kn_noise_handshake_done(hs))
        return KN_ESTATE;
    memcpy(h, hs->ss.h, KN_NOISE_HASH);
    return 0;
}

int kn_noise_handshake_remote_static(const kn_noise_handshake *hs, uint8_t rs[static KN_NOISE_KEY])
{
    if (hs->phase == HS_DEAD)
        return KN_ESTATE;
    if (!hs->has_rs)
        return KN_ENOTFOUND;
    memcpy(rs, hs->rs, KN_NOISE_KEY);
    return 0;
}
