/*
 * Direct messages: the plaintext map and the box around it (see dm.h).
 */
#include "dm.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"

/* Encodes {body, subject?} canonically (keys in bytewise order: "body" < "subject"). */
static int encode_plain(const kn_dm_message *m, kn_mp_out *o)
{
    if (!m->body || m->body_len < 1 || m->body_len > KN_DM_BODY_MAX
        || !kn_utf8_valid(m->body, m->body_len))
        return KN_ESCHEMA;
    if (m->subject
        && (m->subject_len < 1 || m->subject_len > KN_DM_SUBJECT_MAX
            || !kn_utf8_valid(m->subject, m->subject_len)))
        return KN_ESCHEMA;
    kn_mp_write_map(o, m->subject ? 2 : 1);
    kn_mp_write_cstr(o, "body");
    kn_mp_write_str(o, m->body, m->body_len);
    if (m->subject) {
        kn_mp_write_cstr(o, "subject");
        kn_mp_write_str(o, m->subject, m->subject_len);
    }
    return kn_mp_out_error(o);
}

static bool key_is(const char *k, uint32_t klen, const char *want)
{
    return klen == strlen(want) && memcmp(k, want, klen) == 0;
}

/* The strict reader of the plaintext: exactly {body} or {body, subject}, nothing after it. */
static int decode_plain(const uint8_t *p, size_t len, kn_dm_message *m)
{
    kn_mp_in in;
    uint32_t n, klen, vlen;
    const char *k, *v;

    memset(m, 0, sizeof *m);
    kn_mp_in_init(&in, p, len);
    if (kn_mp_read_map(&in, &n) < 0 || n < 1 || n > 2)
        return KN_ESCHEMA;
    if (kn_mp_read_str(&in, &k, &klen) < 0 || !key_is(k, klen, "body")
        || kn_mp_read_str(&in, &v, &vlen) < 0 || vlen < 1 || vlen > KN_DM_BODY_MAX)
        return KN_ESCHEMA;
    m->body = v;
    m->body_len = vlen;
    if (n == 2) {
        if (kn_mp_read_str(&in, &k, &klen) < 0 || !key_is(k, klen, "subject")
            || kn_mp_read_str(&in, &v, &vlen) < 0 || vlen < 1 || vlen > KN_DM_SUBJECT_MAX)
            return KN_ESCHEMA;
        m->subject = v;
        m->subject_len = vlen;
    }
    return kn_mp_in_left(&in) == 0 ? 0 : KN_ESCHEMA;
}

/* The X25519 pair for a box between my Ed25519 secret key and their Ed25519 public key. */
static int box_keys(const uint8_t my_sk[static KN_SIGN_SECRET],
    const uint8_t their_pk[static KN_SIGN_PUBLIC], uint8_t xsk[static KN_X25519_KEY],
    uint8_t xpk[static KN_X25519_KEY])
{
    int rc = kn_sign_sk_to_x25519(xsk, my_sk);
    if (rc == 0)
        rc = kn_sign_pk_to_x25519(xpk, their_pk);
    return rc;
}

int kn_dm_seal(const kn_dm_message *m, const uint8_t nonce[static KN_BOX_NONCE],
    const uint8_t my_sk[static KN_SIGN_SECRET], const uint8_t their_pk[static KN_SIGN_PUBLIC],
    uint8_t **box, size_t *box_len)
{
    uint8_t xsk[KN_X25519_KEY], xpk[KN_X25519_KEY], *out = NULL;
    kn_mp_out plain;
    size_t len = 0;
    int rc;

    *box = NULL;
    *box_len = 0;
    kn_mp_out_init(&plain, KN_DM_BOX_MAX);
    if ((rc = encode_plain(m, &plain)) < 0)
        goto out;
    len = KN_BOX_NONCE + plain.len + KN_BOX_TAG;
    if (len > KN_DM_BOX_MAX) {
        rc = KN_ETOOBIG;
        goto out;
    }
    if (!(out = malloc(len))) {
        rc = KN_ENOMEM;
        goto out;
    }
    if ((rc = box_keys(my_sk, their_pk, xsk, xpk)) < 0)
        goto out;
    memcpy(out, nonce, KN_BOX_NONCE);
    /* seal */
    if ((rc = kn_box_seal(out + KN_BOX_NONCE, plain.buf, plain.len, nonce, xpk, xsk)) < 0)
        goto out;
    *box = out;
    *box_len = len;
    out = NULL;
out:
    kn_memzero(xsk, sizeof xsk);
    if (plain.buf)
        kn_memzero(plain.buf, plain.cap);
    kn_mp_out_free(&plain);
    free(out);
    return rc;
}

int kn_dm_open(const uint8_t *box, size_t box_len, const uint8_t my_sk[static KN_SIGN_SECRET],
    const uint8_t their_pk[static KN_SIGN_PUBLIC], uint8_t **plain, size_t *plain_len,
    kn_dm_message *m)
{
    uint8_t xsk[KN_X25519_KEY], xpk[KN_X25519_KEY], *out = NULL;
    size_t len = 0;
    int rc;

    *plain = NULL;
    *plain_len = 0;
    memset(m, 0, sizeof *m);
    if (!box)
        return KN_EINVAL;
    if (box_len > KN_DM_BOX_MAX)
        return KN_ETOOBIG;
    /* The smallest plaintext, {body: "x"}, is 8 bytes. */
    if (box_len < KN_BOX_NONCE + KN_BOX_TAG + 8)
        return KN_ETRUNC;
    len = box_len - KN_BOX_NONCE - KN_BOX_TAG;
    if (!(out = malloc(len)))
        return KN_ENOMEM;
    if ((rc = box_keys(my_sk, their_pk, xsk, xpk)) < 0)
        goto out;
    /* open: authenticates the ciphertext under the pair (their key, my key) */
    if ((rc = kn_box_open(out, box + KN_BOX_NONCE, box_len - KN_BOX_NONCE, box, xpk, xsk)) < 0)
        goto out;
    if ((rc = decode_plain(out, len, m)) < 0)
        goto out;
    *plain = out;
    *plain_len = len;
    out = NULL;
out:
    kn_memzero(xsk, sizeof xsk);
    if (out) {
        kn_memzero(out, len);
        free(out);
    }
    if (rc < 0)
        memset(m, 0, sizeof *m);
    return rc;
}

void kn_dm_plain_free(uint8_t *plain, size_t len)
{
    if (!plain)
        return;
    kn_memzero(plain, len);
    free(plain);
}
