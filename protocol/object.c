/*
 * Signed objects: strict decoding, ids, signing and verification, body field
 * reads. The per-type body schemas live in schema.c; this file only knows the
 * envelope [1, type, author, created, space, refs, body, sig].
 *
 * The decoder leans on the codec's strict reader for canonical headers and
 * adds what is specific to the envelope: exact arity, version, known type,
 * fixed lengths of keys, ids and signature, the space rule, the body map
 * (canonical all the way down, bounded depth) and no trailing bytes. Once an
 * object has decoded, its bytes are the only encoding of its content, so the
 * id computed here is the id every node computes.
 */
#include "object.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"

/* The domain string: 16 bytes including the terminating NUL, as DESIGN.md says. */
static const uint8_t sign_domain[16] = "knoten/object/1";

enum {
    DOMAIN_LEN = sizeof sign_domain,
    /* Every sig element is bin8 of 64 bytes: 0xc4 0x40 then the signature. */
    SIG_HEADER = 2,
};

static const char *const otype_names[KN_T_MAX] = {
#define KN_OTYPE_NAME(name, value, str) [value] = str,
    KN_OTYPES(KN_OTYPE_NAME)
#undef KN_OTYPE_NAME
};

const char *kn_otype_name(int type)
{
    if (type <= 0 || type >= KN_T_MAX)
        return NULL;
    return otype_names[type];
}

int kn_otype_from_name(const char *s, size_t len)
{
    for (int t = 1; t < KN_T_MAX; t++) {
        const char *n = otype_names[t];
        if (n && strlen(n) == len && memcmp(n, s, len) == 0)
            return t;
    }
    return KN_EOBJTYPE;
}

/*
 * The space is an index key in the store and shows up in URLs and the web
 * UI, so every decoded object carries a sane one: at most KN_SPACE_MAX bytes
 * (KN_ETOOBIG) and no control characters (KN_ESCHEMA). Whether a type needs
 * one at all is the type schema's question (schema.c).
 */
static int check_space(const char *s, uint32_t len)
{
    if (len > KN_SPACE_MAX)
        return KN_ETOOBIG;
    for (uint32_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x20 || c == 0x7f)
            return KN_ESCHEMA;
    }
    return 0;
}

/* Everything kn_object_decode checks, except the id: that is the callers' part. */
static int decode_fields(kn_object *o, const uint8_t *buf, size_t len)
{
    kn_mp_in in;
    uint32_t n;
    uint64_t version;
    const char *tname;
    uint32_t tlen;
    int rc;

    if (!o || (!buf && len))
        return KN_EINVAL;
    memset(o, 0, sizeof *o);
    if (len > KN_OBJECT_MAX)
        return KN_ETOOBIG;
    kn_mp_in_init(&in, buf, len);

    if ((rc = kn_mp_read_array(&in, &n)) < 0)
        return rc;
    if (n != 8)
        return KN_EARITY;

    if ((rc = kn_mp_read_uint(&in, &version)) < 0)
        return rc;
    if (version != KN_FORMAT_VERSION)
        return KN_EVERSION;

    if ((rc = kn_mp_read_str(&in, &tname, &tlen)) < 0)
        return rc;
    if ((rc = kn_otype_from_name(tname, tlen)) < 0)
        return rc;
    o->type = (kn_otype)rc;

    if ((rc = kn_mp_read_bin_exact(&in, &o->author, KN_KEY)) < 0)
        return rc;
    if ((rc = kn_mp_read_uint(&in, &o->created)) < 0)
        return rc;
    if ((rc = kn_mp_read_str(&in, &o->space, &o->space_len)) < 0)
        return rc;
    if ((rc = check_space(o->space, o->space_len)) < 0)
        return rc;

    if ((rc = kn_mp_read_array(&in, &n)) < 0)
        return rc;
    if (n > KN_MAX_REFS)
        return KN_ETOOBIG;
    o->nrefs = n;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = kn_mp_read_bin_exact(&in, &o->refs[i], KN_ID)) < 0)
            return rc;

    /* The body map itself is one level; KN_BODY_DEPTH more may nest below it. */
    o->body = in.p;
    kn_mp_type bt = kn_mp_peek(&in);
    if (bt != KN_MP_MAP) {
        uint32_t dummy;
        return kn_mp_read_map(&in, &dummy); /* the precise error for what is there */
    }
    if ((rc = kn_mp_skip(&in, KN_BODY_DEPTH + 1, false)) < 0)
        return rc;
    o->body_len = (size_t)(in.p - o->body);

    if ((rc = kn_mp_read_bin_exact(&in, &o->sig, KN_SIG)) < 0)
        return rc;
    if (kn_mp_in_left(&in) != 0)
        return KN_ETRAILING;

    o->raw = buf;
    o->raw_len = len;
    return 0;
}

int kn_object_decode(kn_object *o, const uint8_t *buf, size_t len)
{
    int rc = decode_fields(o, buf, len);
    if (rc < 0)
        return rc;
    kn_blake2b(o->id, KN_ID, buf, len);
    return 0;
}

int kn_object_decode_known(kn_object *o, const uint8_t *buf, size_t len, const uint8_t id[KN_ID])
{
    if (!id)
        return KN_EINVAL;
    int rc = decode_fields(o, buf, len);
    if (rc < 0)
        return rc;
    memcpy(o->id, id, KN_ID);
    return 0;
}

/*
 * The signed message is the domain string followed by the first seven
 * elements as a 7-array. In canonical form the 8-array header is the single
 * byte 0x98 and the 7-array header the single byte 0x97, so the message is
 * the domain, 0x97 and the raw bytes between the header and the sig element:
 * nothing is re-encoded, and what is verified is exactly what was received.
 *
 * Ed25519 needs the message in one piece, so it is assembled: on the stack
 * for the common object (most are a few hundred bytes; a catching-up node
 * verifies tens of thousands a second, and malloc plus free was measurable
 * there), in a heap buffer only above MSG_STACK.
 */
enum { MSG_STACK = 4096 };

int kn_object_verify(const kn_object *o)
{
    uint8_t stack[MSG_STACK];
    if (!o || !o->raw || !o->sig || !o->author)
        return KN_EINVAL;
    size_t sig_elem = (size_t)(o->sig - o->raw) - SIG_HEADER;
    size_t fields = sig_elem - 1;
    size_t len = DOMAIN_LEN + 1 + fields;
    uint8_t *m = len <= sizeof stack ? stack : malloc(len);
    if (!m)
        return KN_ENOMEM;
    memcpy(m, sign_domain, DOMAIN_LEN);
    m[DOMAIN_LEN] = 0x97;
    memcpy(m + DOMAIN_LEN + 1, o->raw + 1, fields);
    int rc = kn_sign_verify(o->sig, m, len, o->author);
    if (m != stack)
        free(m);
    return rc;
}

int kn_object_validate(kn_object *o, const uint8_t *buf, size_t len, uint64_t now_ms)
{
    int rc = kn_object_decode(o, buf, len);
    if (rc < 0)
        return rc;
    if ((rc = kn_object_check_schema(o)) < 0)
        return rc;
    /* Written as a difference so that no sum can overflow near UINT64_MAX. */
    if (o->created > now_ms && o->created - now_ms > KN_FUTURE_SKEW_MS)
        return KN_EFUTURE;
    return kn_object_verify(o);
}

int kn_object_sign(
    const kn_object_draft *d, const uint8_t sk[static 64], uint8_t **out, size_t *out_len)
{
    kn_mp_out m, w;
    uint8_t sig[KN_SIG];
    kn_object o;
    int rc;

    if (!d || !out || !out_len)
        return KN_EINVAL;
    *out = NULL;
    *out_len = 0;
    const char *tname = kn_otype_name((int)d->type);
    if (!tname || !d->space || d->nrefs > KN_MAX_REFS || !d->body || d->body_len == 0)
        return KN_EINVAL;

    /* The signed message: domain string, then the first seven elements as a 7-array. */
    kn_mp_out_init(&m, DOMAIN_LEN + KN_OBJECT_MAX);
    kn_mp_out_init(&w, KN_OBJECT_MAX);
    kn_mp_write_raw(&m, sign_domain, DOMAIN_LEN);
    kn_mp_write_array(&m, 7);
    kn_mp_write_uint(&m, KN_FORMAT_VERSION);
    kn_mp_write_cstr(&m, tname);
    kn_mp_write_bin(&m, sk + 32, KN_KEY);
    kn_mp_write_uint(&m, d->created);
    kn_mp_write_cstr(&m, d->space);
    kn_mp_write_array(&m, d->nrefs);
    for (uint32_t i = 0; i < d->nrefs; i++)
        kn_mp_write_bin(&m, d->refs[i], KN_ID);
    kn_mp_write_raw(&m, d->body, d->body_len);
    if ((rc = kn_mp_out_error(&m)) < 0)
        goto out;
    kn_sign_detached(sig, m.buf, m.len, sk);

    /* The object: the same fields under an 8-array header, then the signature. */
    kn_mp_write_array(&w, 8);
    kn_mp_write_raw(&w, m.buf + DOMAIN_LEN + 1, m.len - DOMAIN_LEN - 1);
    kn_mp_write_bin(&w, sig, KN_SIG);
    if ((rc = kn_mp_out_error(&w)) < 0)
        goto out;

    /* Refuse to hand out anything a peer would refuse. */
    if ((rc = kn_object_decode(&o, w.buf, w.len)) < 0)
        goto out;
    if ((rc = kn_object_check_schema(&o)) < 0)
        goto out;
    *out = kn_mp_out_take(&w, out_len);
    rc = 0;
out:
    kn_mp_out_free(&m);
    kn_mp_out_free(&w);
    return rc;
}

/* ---- reading body fields ---- */

int kn_object_field(const kn_object *o, const char *key, kn_mp_in *val)
{
    kn_mp_in in;
    uint32_t n;
    int rc;
    if (!o || !key || !val || !o->body)
        return KN_EINVAL;
    size_t klen = strlen(key);
    if (klen > UINT32_MAX)
        return KN_EINVAL;
    kn_mp_in_init(&in, o->body, o->body_len);
    if ((rc = kn_mp_read_map(&in, &n)) < 0)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t kl;
        if ((rc = kn_mp_read_str(&in, &k, &kl)) < 0)
            return rc;
        int c = kn_mp_key_cmp(k, kl, key, (uint32_t)klen);
        if (c == 0) {
            val->p = in.p;
            val->end = in.end;
            return 0;
        }
        /* Keys are sorted, so once past the key it is not there. */
        if (c > 0)
            return KN_ENOTFOUND;
        if ((rc = kn_mp_skip(&in, KN_BODY_DEPTH, false)) < 0)
            return rc;
    }
    return KN_ENOTFOUND;
}

int kn_object_str(const kn_object *o, const char *key, const char **s, uint32_t *len)
{
    kn_mp_in v;
    int rc = kn_object_field(o, key, &v);
    return rc < 0 ? rc : kn_mp_read_str(&v, s, len);
}

int kn_object_uint(const kn_object *o, const char *key, uint64_t *val)
{
    kn_mp_in v;
    int rc = kn_object_field(o, key, &v);
    return rc < 0 ? rc : kn_mp_read_uint(&v, val);
}

int kn_object_bin(const kn_object *o, const char *key, const uint8_t **b, uint32_t *len)
{
    kn_mp_in v;
    int rc = kn_object_field(o, key, &v);
    return rc < 0 ? rc : kn_mp_read_bin(&v, b, len);
}
