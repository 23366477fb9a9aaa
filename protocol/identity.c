/* The signed static-key statement; see identity.h. */
#include "identity.h"

#include <string.h>

#include "codec.h"
#include "crypto.h"

enum { CONTEXT_LEN = sizeof KN_IDENTITY_CONTEXT - 1, SIGNED_LEN = CONTEXT_LEN + 32 + 8 };

/* The exact bytes the identity signs. */
static void signed_bytes(
    uint8_t out[static SIGNED_LEN], const uint8_t x25519_pub[static 32], uint64_t expiry_ms)
{
    memcpy(out, KN_IDENTITY_CONTEXT, CONTEXT_LEN);
    memcpy(out + CONTEXT_LEN, x25519_pub, 32);
    for (int i = 0; i < 8; i++)
        out[CONTEXT_LEN + 32 + i] = (uint8_t)(expiry_ms >> (56 - 8 * i));
}

void kn_identity_sign(kn_identity_statement *st,
    const uint8_t identity_pk[static KN_IDENTITY_PUBLIC],
    const uint8_t identity_sk[static KN_IDENTITY_SECRET], const uint8_t x25519_pub[static 32],
    uint64_t expiry_ms)
{
    uint8_t msg[SIGNED_LEN];
    signed_bytes(msg, x25519_pub, expiry_ms);
    memcpy(st->identity, identity_pk, KN_IDENTITY_PUBLIC);
    st->expiry_ms = expiry_ms;
    kn_sign_detached(st->sig, msg, sizeof msg, identity_sk);
}

int kn_identity_verify(
    const kn_identity_statement *st, const uint8_t remote_static[static 32], uint64_t now_ms)
{
    uint8_t msg[SIGNED_LEN];
    /*
     * The signature is checked over the key the Noise handshake proved, so a
     * statement made for another X25519 key fails here like a forged one.
     */
    signed_bytes(msg, remote_static, st->expiry_ms);
    if (kn_sign_verify(st->sig, msg, sizeof msg, st->identity) < 0)
        return KN_EIDENTITY;
    if (now_ms >= st->expiry_ms)
        return KN_EEXPIRED;
    return 0;
}

int kn_identity_encode(
    const kn_identity_statement *st, uint8_t *out, size_t out_cap, size_t *out_len)
{
    kn_mp_out o;
    int rc;
    *out_len = 0;
    kn_mp_out_init(&o, KN_IDENTITY_STATEMENT_MAX);
    kn_mp_write_array(&o, 3);
    kn_mp_write_bin(&o, st->identity, KN_IDENTITY_PUBLIC);
    kn_mp_write_uint(&o, st->expiry_ms);
    kn_mp_write_bin(&o, st->sig, KN_IDENTITY_SIG);
    rc = kn_mp_out_error(&o);
    if (rc < 0)
        goto out;
    if (o.len > out_cap) {
        rc = KN_ETOOBIG;
        goto out;
    }
    memcpy(out, o.buf, o.len);
    *out_len = o.len;
out:
    kn_mp_out_free(&o);
    return rc;
}

int kn_identity_decode(kn_identity_statement *st, const uint8_t *in, size_t len)
{
    kn_mp_in r;
    uint32_t n;
    const uint8_t *b;
    int rc;
    memset(st, 0, sizeof *st);
    kn_mp_in_init(&r, in, len);
    if ((rc = kn_mp_read_array(&r, &n)) < 0)
        return rc;
    if (n != 3)
        return KN_EARITY;
    if ((rc = kn_mp_read_bin_exact(&r, &b, KN_IDENTITY_PUBLIC)) < 0)
        return rc;
    memcpy(st->identity, b, KN_IDENTITY_PUBLIC);
    if ((rc = kn_mp_read_uint(&r, &st->expiry_ms)) < 0)
        return rc;
    if ((rc = kn_mp_read_bin_exact(&r, &b, KN_IDENTITY_SIG)) < 0)
        return rc;
    memcpy(st->sig, b, KN_IDENTITY_SIG);
    if (kn_mp_in_left(&r) != 0)
        return KN_ETRAILING;
    return 0;
}
