/*
 * Invite codes: canonical payload, checksum, Crockford base32 text.
 * The format is described in invite.h and docs/federation.md.
 */
#include "invite.h"

#include <string.h>

#include "codec.h"
#include "crypto.h"

enum {
    ARITY = 6,
    GROUP = 4, /* characters between dashes */
    /* The smallest payload: array, version, two keys, one 3-byte address, a 16-byte secret, 0. */
    PAYLOAD_MIN = 1 + 1 + 34 + 34 + 1 + 4 + 18 + 1,
    BYTES_MAX = KN_INVITE_PAYLOAD_MAX + KN_INVITE_CHECKSUM,
    SYMBOLS_MAX = (BYTES_MAX * 8 + 4) / 5,
};

static const char alphabet[32] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#define SECRET_DOMAIN "knoten/invite-secret/1"

void kn_invite_wipe(kn_invite *inv)
{
    if (inv)
        kn_memzero(inv, sizeof *inv);
}

void kn_invite_secret_hash(uint8_t out[static 32], const uint8_t *secret, size_t len)
{
    kn_blake2b_state st;
    kn_blake2b_init(&st, 32);
    kn_blake2b_update(&st, (const uint8_t *)SECRET_DOMAIN, sizeof SECRET_DOMAIN); /* NUL too */
    kn_blake2b_update(&st, secret, len);
    kn_blake2b_final(&st, out, 32);
    kn_memzero(&st, sizeof st);
}

/* The first KN_INVITE_CHECKSUM bytes of BLAKE2b-256 over the payload. */
static void checksum(uint8_t out[KN_INVITE_CHECKSUM], const uint8_t *payload, size_t len)
{
    uint8_t h[32];
    kn_blake2b(h, sizeof h, payload, len);
    memcpy(out, h, KN_INVITE_CHECKSUM);
}

/*
 * "host:port" as far as a pure module can tell: 1..255 printable ASCII bytes
 * without spaces, ending in ':' and a port of 1..5 digits. node/ parses it
 * properly (kn_hostport_parse) before dialling.
 */
static bool addr_ok(const char *s, size_t len)
{
    if (len < 3 || len > KN_INVITE_ADDR_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return false;
    size_t digits = 0;
    while (digits < len && s[len - 1 - digits] >= '0' && s[len - 1 - digits] <= '9')
        digits++;
    return digits >= 1 && digits <= 5 && digits + 1 < len && s[len - 1 - digits] == ':';
}

static bool invite_ok(const kn_invite *inv)
{
    if (inv->naddrs < 1 || inv->naddrs > KN_INVITE_ADDRS_MAX)
        return false;
    if (inv->secret_len < KN_INVITE_SECRET_MIN || inv->secret_len > KN_INVITE_SECRET_MAX)
        return false;
    for (uint32_t i = 0; i < inv->naddrs; i++) {
        size_t n = strnlen(inv->addrs[i], KN_INVITE_ADDR_MAX + 1);
        if (!addr_ok(inv->addrs[i], n))
            return false;
    }
    return true;
}

int kn_invite_payload_encode(const kn_invite *inv, uint8_t *out, size_t cap, size_t *len)
{
    if (!inv || !out || !invite_ok(inv))
        return KN_EINVAL;
    kn_mp_out o;
    kn_mp_out_init(&o, KN_INVITE_PAYLOAD_MAX);
    kn_mp_write_array(&o, ARITY);
    kn_mp_write_uint(&o, KN_INVITE_VERSION);
    kn_mp_write_bin(&o, inv->network_key, 32);
    kn_mp_write_bin(&o, inv->inviter, 32);
    kn_mp_write_array(&o, inv->naddrs);
    for (uint32_t i = 0; i < inv->naddrs; i++)
        kn_mp_write_cstr(&o, inv->addrs[i]);
    kn_mp_write_bin(&o, inv->secret, inv->secret_len);
    kn_mp_write_uint(&o, inv->expires_ms);
    int rc = kn_mp_out_error(&o);
    if (rc == 0 && o.len > cap)
        rc = KN_ETOOBIG;
    if (rc == 0) {
        memcpy(out, o.buf, o.len);
        if (len)
            *len = o.len;
    }
    if (o.buf)
        kn_memzero(o.buf, o.len);
    kn_mp_out_free(&o);
    return rc;
}

int kn_invite_payload_decode(kn_invite *inv, const uint8_t *buf, size_t len)
{
    kn_mp_in in;
    uint32_t n;
    uint64_t version;
    const uint8_t *b;
    const char *s;
    uint32_t blen;
    int rc;

    memset(inv, 0, sizeof *inv);
    if (len > KN_INVITE_PAYLOAD_MAX)
        return KN_ETOOBIG;
    kn_mp_in_init(&in, buf, len);
    if ((rc = kn_mp_read_array(&in, &n)) < 0)
        goto out;
    if ((rc = kn_mp_read_uint(&in, &version)) < 0)
        goto out;
    if (version != KN_INVITE_VERSION) {
        rc = KN_EVERSION;
        goto out;
    }
    if (n != ARITY) {
        rc = KN_EARITY;
        goto out;
    }
    if ((rc = kn_mp_read_bin_exact(&in, &b, 32)) < 0)
        goto out;
    memcpy(inv->network_key, b, 32);
    if ((rc = kn_mp_read_bin_exact(&in, &b, 32)) < 0)
        goto out;
    memcpy(inv->inviter, b, 32);
    if ((rc = kn_mp_read_array(&in, &n)) < 0)
        goto out;
    if (n < 1 || n > KN_INVITE_ADDRS_MAX) {
        rc = KN_ESCHEMA;
        goto out;
    }
    inv->naddrs = n;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = kn_mp_read_str(&in, &s, &blen)) < 0)
            goto out;
        if (!addr_ok(s, blen)) {
            rc = KN_ESCHEMA;
            goto out;
        }
        memcpy(inv->addrs[i], s, blen);
        inv->addrs[i][blen] = 0;
    }
    if ((rc = kn_mp_read_bin(&in, &b, &blen)) < 0)
        goto out;
    if (blen < KN_INVITE_SECRET_MIN || blen > KN_INVITE_SECRET_MAX) {
        rc = KN_ESCHEMA;
        goto out;
    }
    memcpy(inv->secret, b, blen);
    inv->secret_len = blen;
    if ((rc = kn_mp_read_uint(&in, &inv->expires_ms)) < 0)
        goto out;
    if (kn_mp_in_left(&in) != 0)
        rc = KN_ETRAILING;
out:
    if (rc < 0)
        kn_invite_wipe(inv);
    return rc;
}

int kn_invite_encode(const kn_invite *inv, char *out, size_t cap, size_t *len)
{
    uint8_t bytes[BYTES_MAX];
    size_t n = 0, pos = 0, symbols = 0;
    int rc;

    if (!out)
        return KN_EINVAL;
    if ((rc = kn_invite_payload_encode(inv, bytes, KN_INVITE_PAYLOAD_MAX, &n)) < 0)
        goto out;
    checksum(bytes + n, bytes, n);
    n += KN_INVITE_CHECKSUM;

    size_t nsym = (n * 8 + 4) / 5;
    size_t need = strlen(KN_INVITE_PREFIX) + nsym + (nsym - 1) / GROUP + 1;
    if (need > cap) {
        rc = KN_ETOOBIG;
        goto out;
    }
    memcpy(out, KN_INVITE_PREFIX, strlen(KN_INVITE_PREFIX));
    pos = strlen(KN_INVITE_PREFIX);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | bytes[i];
        bits += 8;
        while (bits >= 5) {
            if (symbols && symbols % GROUP == 0)
                out[pos++] = '-';
            out[pos++] = alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
            symbols++;
        }
    }
    if (bits > 0) { /* the last symbol, padded with zero bits */
        if (symbols && symbols % GROUP == 0)
            out[pos++] = '-';
        out[pos++] = alphabet[(acc << (5 - bits)) & 31];
    }
    out[pos] = 0;
    if (len)
        *len = pos;
out:
    kn_memzero(bytes, sizeof bytes);
    return rc;
}

/* The value of a code character (Crockford: I and L read as 1, O as 0), or -1. */
static int symbol_value(unsigned char c)
{
    if (c >= 'a' && c <= 'z')
        c = (unsigned char)(c - 'a' + 'A');
    if (c == 'I' || c == 'L')
        return 1;
    if (c == 'O')
        return 0;
    const char *p = memchr(alphabet, c, sizeof alphabet);
    return p && c ? (int)(p - alphabet) : -1;
}

/*
 * How many bytes at t[i..len) an e-mail client may have inserted into a code
 * and the decoder therefore skips: ASCII whitespace, the group dash, the '>'
 * of a quoted reply, a quoted-printable soft line break ("=" before a line
 * break), and the UTF-8 no-break space, soft hyphen, zero-width space and
 * Unicode hyphens. 0 if t[i] is none of them.
 */
static size_t filler(const unsigned char *t, size_t i, size_t len)
{
    unsigned char c = t[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '-' || c == '>')
        return 1;
    if (c == '=' && i + 1 < len && (t[i + 1] == '\r' || t[i + 1] == '\n'))
        return 1;
    if (c == 0xc2 && i + 1 < len && (t[i + 1] == 0xa0 || t[i + 1] == 0xad))
        return 2;
    if (c == 0xe2 && i + 2 < len && t[i + 1] == 0x80
        && (t[i + 2] == 0x8b || t[i + 2] == 0x90 || t[i + 2] == 0x91))
        return 3;
    return 0;
}

int kn_invite_decode(
    kn_invite *inv, const char *text, size_t len, uint64_t now_ms, kn_invite_problem *problem)
{
    const unsigned char *t = (const unsigned char *)text;
    uint8_t bytes[BYTES_MAX];
    size_t i = 0, n = 0, symbols = 0, plen = strlen(KN_INVITE_PREFIX) - 1; /* "knoten1" */
    uint32_t acc = 0;
    int bits = 0, rc = 0;

    if (problem)
        memset(problem, 0, sizeof *problem);
    if (!inv)
        return KN_EINVAL;
    memset(inv, 0, sizeof *inv);
    if (!text)
        return KN_EINVAL;
    if (len > KN_INVITE_INPUT_MAX)
        return KN_ETOOBIG;

    /* Leading whitespace and the '>' of a quoted reply. */
    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n' || t[i] == '>'))
        i++;
    /* "knoten" in any case, a version digit, then a dash (or a line break). */
    if (len - i < plen + 1)
        return KN_EINVAL;
    for (size_t k = 0; k < 6; k++)
        if ((t[i + k] | 0x20) != (unsigned char)KN_INVITE_PREFIX[k])
            return KN_EINVAL;
    if (t[i + 6] < '0' || t[i + 6] > '9')
        return KN_EINVAL;
    if (t[i + 6] != '1')
        return KN_EVERSION;
    i += plen;
    if (i >= len || !filler(t, i, len))
        return KN_EINVAL;

    while (i < len) {
        size_t skip = filler(t, i, len);
        if (skip) {
            i += skip;
            continue;
        }
        int v = symbol_value(t[i]);
        if (v < 0) {
            if (problem) {
                problem->pos = i;
                problem->bad_char = (char)t[i];
            }
            rc = KN_ECORRUPT;
            goto out;
        }
        if (++symbols > SYMBOLS_MAX) {
            rc = KN_ETOOBIG;
            goto out;
        }
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bytes[n++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
        i++;
    }
    /* Leftover bits: fewer than five, all zero, or the code was cut or mistyped. */
    if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0 || n < PAYLOAD_MIN + KN_INVITE_CHECKSUM) {
        rc = KN_ECORRUPT;
        goto out;
    }
    uint8_t sum[KN_INVITE_CHECKSUM];
    n -= KN_INVITE_CHECKSUM;
    checksum(sum, bytes, n);
    if (kn_memcmp_ct(sum, bytes + n, KN_INVITE_CHECKSUM) != 0) {
        rc = KN_ECORRUPT;
        goto out;
    }
    rc = kn_invite_payload_decode(inv, bytes, n);
    if (rc < 0 && rc != KN_EVERSION)
        rc = KN_ESCHEMA; /* the checksum matched: a broken writer, not a typo */
    if (rc == 0 && now_ms >= inv->expires_ms)
        rc = KN_EEXPIRED; /* *inv stays filled so the caller can say when */
out:
    acc = 0;
    kn_memzero(bytes, sizeof bytes);
    if (rc < 0 && rc != KN_EEXPIRED)
        kn_invite_wipe(inv);
    return rc;
}

const char *kn_invite_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "the invite code is valid";
    case KN_ETOOBIG:
        return "this is longer than any invite code; copy only the code itself, "
               "from \"knoten1-\" to its last group";
    case KN_EINVAL:
        return "this is not an invite code: a code starts with \"knoten1-\"; "
               "copy it again from the e-mail";
    case KN_ECORRUPT:
        return "the invite code is mistyped or incomplete (its checksum does not match): "
               "compare it with the e-mail group by group, make sure no line is missing, "
               "or ask the inviting council to send it again";
    case KN_EVERSION:
        return "the invite code was made by a newer version of knoten; update knoten on this "
               "machine";
    case KN_ESCHEMA:
        return "the invite code is damaged although no typo was found; ask the inviting "
               "council for a new code";
    case KN_EEXPIRED:
        return "the invite code has expired; ask the inviting council for a new one "
               "(`knoten invite` on their node)";
    default:
        return kn_strerror(rc);
    }
}
