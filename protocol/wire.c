/*
 * Wire messages: encoders and the strict decoder (see wire.h).
 *
 * The decoder reads the kind, checks the arity for that kind before reading
 * any field, reads every field with the canonical reader, and insists that
 * the input ends exactly where the message does. Bounds are checked on the
 * header counts before anything is walked, so a hostile count costs nothing.
 */
#include "wire.h"

#include <stdbool.h>
#include <string.h>

#include "blob.h"

_Static_assert((long)KN_WIRE_CHUNK_MAX == (long)KN_BLOB_CHUNK, "a blob-chunk carries one chunk");
_Static_assert((long)KN_WIRE_ID_ENCODED == 2 + (long)KN_BLOB_HASH, "manifest hashes are ids");

static const struct {
    const char *name;
    uint32_t nargs; /* fields after the kind */
} kinds[] = {
    [KN_WIRE_HELLO] = { "hello", 3 },
    [KN_WIRE_HAVE] = { "have", 1 },
    [KN_WIRE_WANT] = { "want", 1 },
    [KN_WIRE_OBJ] = { "obj", 1 },
    [KN_WIRE_NEG] = { "neg", 2 },
    [KN_WIRE_PING] = { "ping", 1 },
    [KN_WIRE_PONG] = { "pong", 1 },
    [KN_WIRE_BYE] = { "bye", 1 },
    [KN_WIRE_JOIN] = { "join", 3 },
    [KN_WIRE_BLOB_HAVE] = { "blob-have", 1 },
    [KN_WIRE_MANIFEST_WANT] = { "blob-manifest-want", 2 },
    [KN_WIRE_MANIFEST] = { "blob-manifest", 4 },
    [KN_WIRE_BLOB_WANT] = { "blob-want", 2 },
    [KN_WIRE_BLOB_CHUNK] = { "blob-chunk", 3 },
    [KN_WIRE_BLOB_NONE] = { "blob-none", 2 },
};

enum { KIND_COUNT = sizeof kinds / sizeof kinds[0] };

const char *kn_wire_kind_name(int kind)
{
    if (kind < KN_WIRE_HELLO || kind >= KIND_COUNT)
        return NULL;
    return kinds[kind].name;
}

static int kind_from_name(const char *s, uint32_t len)
{
    for (int k = KN_WIRE_HELLO; k < KIND_COUNT; k++)
        if (strlen(kinds[k].name) == len && memcmp(kinds[k].name, s, len) == 0)
            return k;
    return KN_EPROTO;
}

static int read_ids(kn_mp_in *in, kn_wire_msg *m, uint32_t max)
{
    uint32_t n;
    int rc = kn_mp_read_array(in, &n);
    if (rc < 0)
        return rc;
    if (n > max)
        return KN_ELIMIT;
    m->ids = in->p;
    m->nids = n;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *b;
        if ((rc = kn_mp_read_bin_exact(in, &b, KN_ID)) < 0)
            return rc;
    }
    return 0;
}

/* A uint that must fit 32 bits (a chunk index): KN_ELIMIT beyond. */
static int read_u32(kn_mp_in *in, uint32_t *out)
{
    uint64_t v;
    int rc = kn_mp_read_uint(in, &v);
    if (rc < 0)
        return rc;
    if (v > UINT32_MAX)
        return KN_ELIMIT;
    *out = (uint32_t)v;
    return 0;
}

/* [index uint, ...] of at most KN_WIRE_CHUNK_IDX_MAX, copied into m->idx. */
static int read_idx(kn_mp_in *in, kn_wire_msg *m)
{
    uint32_t n;
    int rc = kn_mp_read_array(in, &n);
    if (rc < 0)
        return rc;
    if (n > KN_WIRE_CHUNK_IDX_MAX)
        return KN_ELIMIT;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = read_u32(in, &m->idx[i])) < 0)
            return rc;
    m->nidx = n;
    return 0;
}

/* "" or 8 or 12 ASCII digits: an Amtlicher Gemeindeschluessel or a Regionalschluessel. */
static bool ags_ok(const char *s, size_t len)
{
    if (len != 0 && len != 8 && len != 12)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* The bounds of a join's fields, shared by the decoder and the encoder. */
static int join_check(
    size_t secret_len, const char *name, size_t name_len, const char *ags, size_t ags_len)
{
    if (secret_len < KN_WIRE_JOIN_SECRET_MIN || secret_len > KN_WIRE_JOIN_SECRET_MAX)
        return KN_ESCHEMA;
    if (name_len > KN_WIRE_JOIN_NAME_MAX)
        return KN_ETOOBIG;
    if (name_len == 0)
        return KN_ESCHEMA;
    if (!kn_utf8_valid(name, name_len))
        return KN_EUTF8;
    if (!ags_ok(ags, ags_len))
        return KN_ESCHEMA;
    return 0;
}

int kn_wire_decode(kn_wire_msg *m, const uint8_t *buf, size_t len)
{
    kn_mp_in in;
    uint32_t n, klen;
    const char *kind;
    int rc, k;

    memset(m, 0, sizeof *m);
    if (len > KN_WIRE_MSG_MAX)
        return KN_ETOOBIG;
    kn_mp_in_init(&in, buf, len);
    if ((rc = kn_mp_read_array(&in, &n)) < 0)
        return rc;
    if (n < 1)
        return KN_EARITY;
    if ((rc = kn_mp_read_str(&in, &kind, &klen)) < 0)
        return rc;
    if ((k = kind_from_name(kind, klen)) < 0)
        return k;
    if (n - 1 != kinds[k].nargs)
        return KN_EARITY;
    m->kind = (kn_wire_kind)k;

    switch (m->kind) {
    case KN_WIRE_HELLO:
        if ((rc = kn_mp_read_uint(&in, &m->version)) < 0)
            return rc;
        if ((rc = kn_mp_read_bin_exact(&in, &m->node_key, KN_KEY)) < 0)
            return rc;
        if ((rc = kn_mp_read_uint(&in, &m->flags)) < 0)
            return rc;
        break;
    case KN_WIRE_HAVE:
    case KN_WIRE_WANT:
        if ((rc = read_ids(&in, m, KN_WIRE_IDS_MAX)) < 0)
            return rc;
        break;
    case KN_WIRE_OBJ:
        if ((rc = kn_mp_read_bin(&in, &m->data, &m->data_len)) < 0)
            return rc;
        if (m->data_len > KN_OBJECT_MAX)
            return KN_ETOOBIG;
        break;
    case KN_WIRE_NEG:
        if ((rc = kn_mp_read_uint(&in, &m->session)) < 0)
            return rc;
        if ((rc = kn_mp_read_bin(&in, &m->data, &m->data_len)) < 0)
            return rc;
        if (m->data_len > KN_WIRE_NEG_MAX)
            return KN_ETOOBIG;
        break;
    case KN_WIRE_PING:
    case KN_WIRE_PONG:
        if ((rc = kn_mp_read_uint(&in, &m->nonce)) < 0)
            return rc;
        break;
    case KN_WIRE_BYE:
        if ((rc = kn_mp_read_str(&in, &m->reason, &m->reason_len)) < 0)
            return rc;
        if (m->reason_len > KN_WIRE_REASON_MAX)
            return KN_ETOOBIG;
        break;
    case KN_WIRE_JOIN:
        if ((rc = kn_mp_read_bin(&in, &m->secret, &m->secret_len)) < 0)
            return rc;
        if ((rc = kn_mp_read_str(&in, &m->name, &m->name_len)) < 0)
            return rc;
        if ((rc = kn_mp_read_str(&in, &m->ags, &m->ags_len)) < 0)
            return rc;
        if ((rc = join_check(m->secret_len, m->name, m->name_len, m->ags, m->ags_len)) < 0)
            return rc;
        break;
    case KN_WIRE_BLOB_HAVE:
        if ((rc = read_ids(&in, m, KN_WIRE_IDS_MAX)) < 0)
            return rc;
        break;
    case KN_WIRE_MANIFEST_WANT:
        if ((rc = kn_mp_read_bin_exact(&in, &m->blob, KN_ID)) < 0)
            return rc;
        if ((rc = read_u32(&in, &m->first)) < 0)
            return rc;
        break;
    case KN_WIRE_MANIFEST:
        if ((rc = kn_mp_read_bin_exact(&in, &m->blob, KN_ID)) < 0)
            return rc;
        if ((rc = kn_mp_read_uint(&in, &m->size)) < 0)
            return rc;
        if ((rc = read_u32(&in, &m->first)) < 0)
            return rc;
        if ((rc = read_ids(&in, m, KN_WIRE_MANIFEST_PAGE)) < 0)
            return rc;
        break;
    case KN_WIRE_BLOB_WANT:
    case KN_WIRE_BLOB_NONE:
        if ((rc = kn_mp_read_bin_exact(&in, &m->blob, KN_ID)) < 0)
            return rc;
        if ((rc = read_idx(&in, m)) < 0)
            return rc;
        if (m->kind == KN_WIRE_BLOB_WANT && m->nidx == 0)
            return KN_ESCHEMA;
        break;
    case KN_WIRE_BLOB_CHUNK:
        if ((rc = kn_mp_read_bin_exact(&in, &m->blob, KN_ID)) < 0)
            return rc;
        if ((rc = read_u32(&in, &m->index)) < 0)
            return rc;
        if ((rc = kn_mp_read_bin(&in, &m->data, &m->data_len)) < 0)
            return rc;
        if (m->data_len > KN_WIRE_CHUNK_MAX)
            return KN_ETOOBIG;
        break;
    }
    if (kn_mp_in_left(&in))
        return KN_ETRAILING;
    return 0;
}

static void write_head(kn_mp_out *o, kn_wire_kind kind)
{
    kn_mp_write_array(o, kinds[kind].nargs + 1);
    kn_mp_write_cstr(o, kinds[kind].name);
}

int kn_wire_write_hello(
    kn_mp_out *o, uint64_t version, const uint8_t node_key[static KN_KEY], uint64_t flags)
{
    write_head(o, KN_WIRE_HELLO);
    kn_mp_write_uint(o, version);
    kn_mp_write_bin(o, node_key, KN_KEY);
    kn_mp_write_uint(o, flags);
    return kn_mp_out_error(o);
}

int kn_wire_write_ids(kn_mp_out *o, kn_wire_kind kind, const uint8_t (*ids)[KN_ID], size_t n)
{
    if (kind != KN_WIRE_HAVE && kind != KN_WIRE_WANT && kind != KN_WIRE_BLOB_HAVE)
        return KN_EINVAL;
    if (n > KN_WIRE_IDS_MAX)
        return KN_ELIMIT;
    write_head(o, kind);
    kn_mp_write_array(o, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        kn_mp_write_bin(o, ids[i], KN_ID);
    return kn_mp_out_error(o);
}

int kn_wire_write_obj(kn_mp_out *o, const uint8_t *obj, size_t len)
{
    if (len > KN_OBJECT_MAX)
        return KN_ETOOBIG;
    write_head(o, KN_WIRE_OBJ);
    kn_mp_write_bin(o, obj, len);
    return kn_mp_out_error(o);
}

int kn_wire_write_neg(kn_mp_out *o, uint64_t session, const uint8_t *msg, size_t len)
{
    if (len > KN_WIRE_NEG_MAX)
        return KN_ETOOBIG;
    write_head(o, KN_WIRE_NEG);
    kn_mp_write_uint(o, session);
    kn_mp_write_bin(o, msg, len);
    return kn_mp_out_error(o);
}

int kn_wire_write_ping(kn_mp_out *o, uint64_t nonce)
{
    write_head(o, KN_WIRE_PING);
    kn_mp_write_uint(o, nonce);
    return kn_mp_out_error(o);
}

int kn_wire_write_pong(kn_mp_out *o, uint64_t nonce)
{
    write_head(o, KN_WIRE_PONG);
    kn_mp_write_uint(o, nonce);
    return kn_mp_out_error(o);
}

int kn_wire_write_bye(kn_mp_out *o, const char *reason, size_t len)
{
    if (len > KN_WIRE_REASON_MAX)
        return KN_ETOOBIG;
    if (!kn_utf8_valid(reason, len))
        return KN_EUTF8;
    write_head(o, KN_WIRE_BYE);
    kn_mp_write_str(o, reason, len);
    return kn_mp_out_error(o);
}

int kn_wire_write_join(kn_mp_out *o, const uint8_t *secret, size_t secret_len, const char *name,
    size_t name_len, const char *ags, size_t ags_len)
{
    if (!ags)
        ags_len = 0;
    if (!secret || !name)
        return KN_EINVAL;
    int rc = join_check(secret_len, name, name_len, ags ? ags : "", ags_len);
    if (rc < 0)
        return rc;
    write_head(o, KN_WIRE_JOIN);
    kn_mp_write_bin(o, secret, secret_len);
    kn_mp_write_str(o, name, name_len);
    kn_mp_write_str(o, ags ? ags : "", ags_len);
    return kn_mp_out_error(o);
}

int kn_wire_write_manifest_want(kn_mp_out *o, const uint8_t blob[static KN_ID], uint32_t first)
{
    write_head(o, KN_WIRE_MANIFEST_WANT);
    kn_mp_write_bin(o, blob, KN_ID);
    kn_mp_write_uint(o, first);
    return kn_mp_out_error(o);
}

int kn_wire_write_manifest(kn_mp_out *o, const uint8_t blob[static KN_ID], uint64_t size,
    uint32_t first, const uint8_t (*hashes)[KN_ID], size_t n)
{
    if (n > KN_WIRE_MANIFEST_PAGE)
        return KN_ELIMIT;
    write_head(o, KN_WIRE_MANIFEST);
    kn_mp_write_bin(o, blob, KN_ID);
    kn_mp_write_uint(o, size);
    kn_mp_write_uint(o, first);
    kn_mp_write_array(o, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        kn_mp_write_bin(o, hashes[i], KN_ID);
    return kn_mp_out_error(o);
}

int kn_wire_write_blob_idx(kn_mp_out *o, kn_wire_kind kind, const uint8_t blob[static KN_ID],
    const uint32_t *idx, size_t n)
{
    if (kind != KN_WIRE_BLOB_WANT && kind != KN_WIRE_BLOB_NONE)
        return KN_EINVAL;
    if (n > KN_WIRE_CHUNK_IDX_MAX)
        return KN_ELIMIT;
    if (kind == KN_WIRE_BLOB_WANT && n == 0)
        return KN_ESCHEMA;
    write_head(o, kind);
    kn_mp_write_bin(o, blob, KN_ID);
    kn_mp_write_array(o, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        kn_mp_write_uint(o, idx[i]);
    return kn_mp_out_error(o);
}

int kn_wire_write_blob_chunk_head(
    kn_mp_out *o, const uint8_t blob[static KN_ID], uint32_t index, size_t len)
{
    if (len > KN_WIRE_CHUNK_MAX)
        return KN_ETOOBIG;
    write_head(o, KN_WIRE_BLOB_CHUNK);
    kn_mp_write_bin(o, blob, KN_ID);
    kn_mp_write_uint(o, index);
    kn_mp_write_bin_head(o, len);
    return kn_mp_out_error(o);
}

int kn_wire_write_blob_chunk(
    kn_mp_out *o, const uint8_t blob[static KN_ID], uint32_t index, const uint8_t *data, size_t len)
{
    if (len > KN_WIRE_CHUNK_MAX)
        return KN_ETOOBIG;
    write_head(o, KN_WIRE_BLOB_CHUNK);
    kn_mp_write_bin(o, blob, KN_ID);
    kn_mp_write_uint(o, index);
    kn_mp_write_bin(o, data, len);
    return kn_mp_out_error(o);
}
