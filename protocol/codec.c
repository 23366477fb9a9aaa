/*
 * Canonical msgpack writer (through msgpack-c's packer) and strict reader.
 * See codec.h for why the reader is our own.
 */
#include "codec.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* ---- writer ---- */

static int out_append(void *data, const char *buf, size_t len)
{
    kn_mp_out *o = data;
    if (o->err)
        return -1;
    /* Empty writes (an empty str or raw buffer) may come with buf == NULL, and
     * o->buf is NULL until the first byte: memcpy must not see either. */
    if (len == 0)
        return 0;
    if (len > SIZE_MAX - o->len || (o->limit && o->len + len > o->limit)) {
        o->err = KN_ETOOBIG;
        return -1;
    }
    if (o->len + len > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + len)
            cap *= 2;
        uint8_t *nb = realloc(o->buf, cap);
        if (!nb) {
            o->err = KN_ENOMEM;
            return -1;
        }
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, buf, len);
    o->len += len;
    return 0;
}

void kn_mp_out_init(kn_mp_out *o, size_t limit)
{
    memset(o, 0, sizeof *o);
    o->limit = limit;
}

void kn_mp_out_free(kn_mp_out *o)
{
    if (!o)
        return;
    free(o->buf);
    memset(o, 0, sizeof *o);
}

void kn_mp_out_reset(kn_mp_out *o)
{
    o->len = 0;
    o->err = 0;
}

uint8_t *kn_mp_out_take(kn_mp_out *o, size_t *len)
{
    uint8_t *b = o->buf;
    *len = o->len;
    size_t limit = o->limit;
    memset(o, 0, sizeof *o);
    o->limit = limit;
    return b;
}

#define PACKER(o)                                                                                  \
    msgpack_packer pk;                                                                             \
    msgpack_packer_init(&pk, (o), out_append)

void kn_mp_write_array(kn_mp_out *o, uint32_t n)
{
    PACKER(o);
    msgpack_pack_array(&pk, n);
}

void kn_mp_write_map(kn_mp_out *o, uint32_t n)
{
    PACKER(o);
    msgpack_pack_map(&pk, n);
}

void kn_mp_write_uint(kn_mp_out *o, uint64_t v)
{
    PACKER(o);
    msgpack_pack_uint64(&pk, v);
}

void kn_mp_write_int(kn_mp_out *o, int64_t v)
{
    PACKER(o);
    msgpack_pack_int64(&pk, v);
}

void kn_mp_write_bool(kn_mp_out *o, bool v)
{
    PACKER(o);
    if (v)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
}

void kn_mp_write_nil(kn_mp_out *o)
{
    PACKER(o);
    msgpack_pack_nil(&pk);
}

void kn_mp_write_str(kn_mp_out *o, const char *s, size_t len)
{
    if (len > UINT32_MAX) {
        if (!o->err)
            o->err = KN_ETOOBIG;
        return;
    }
    PACKER(o);
    msgpack_pack_str(&pk, len);
    msgpack_pack_str_body(&pk, s, len);
}

void kn_mp_write_cstr(kn_mp_out *o, const char *s)
{
    kn_mp_write_str(o, s, strlen(s));
}

void kn_mp_write_bin_head(kn_mp_out *o, size_t len)
{
    if (len > UINT32_MAX) {
        if (!o->err)
            o->err = KN_ETOOBIG;
        return;
    }
    PACKER(o);
    msgpack_pack_bin(&pk, len);
}

void kn_mp_write_bin(kn_mp_out *o, const uint8_t *b, size_t len)
{
    kn_mp_write_bin_head(o, len);
    if (len <= UINT32_MAX)
        out_append(o, (const char *)b, len);
}

void kn_mp_write_raw(kn_mp_out *o, const uint8_t *b, size_t len)
{
    out_append(o, (const char *)b, len);
}

/* ---- strict reader ---- */

kn_mp_type kn_mp_peek(const kn_mp_in *in)
{
    if (in->p >= in->end)
        return KN_MP_NONE;
    uint8_t b = *in->p;
    if (b <= 0x7f || b == 0xcc || b == 0xcd || b == 0xce || b == 0xcf)
        return KN_MP_UINT;
    if (b >= 0xe0 || b == 0xd0 || b == 0xd1 || b == 0xd2 || b == 0xd3)
        return KN_MP_NINT; /* signedness settled by kn_mp_read_int */
    if ((b & 0xf0) == 0x80 || b == 0xde || b == 0xdf)
        return KN_MP_MAP;
    if ((b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd)
        return KN_MP_ARRAY;
    if ((b & 0xe0) == 0xa0 || b == 0xd9 || b == 0xda || b == 0xdb)
        return KN_MP_STR;
    if (b == 0xc4 || b == 0xc5 || b == 0xc6)
        return KN_MP_BIN;
    if (b == 0xc0)
        return KN_MP_NIL;
    if (b == 0xc2 || b == 0xc3)
        return KN_MP_BOOL;
    if (b == 0xca || b == 0xcb)
        return KN_MP_FLOAT;
    if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8))
        return KN_MP_EXT;
    return KN_MP_INVALID;
}

/* The error for finding type `got` where another type was wanted. */
static int wrong_type(kn_mp_type got)
{
    switch (got) {
    case KN_MP_NONE:
        return KN_ETRUNC;
    case KN_MP_FLOAT:
        return KN_EFLOAT;
    case KN_MP_EXT:
        return KN_EEXT;
    case KN_MP_NIL:
        return KN_ENIL;
    default:
        return KN_ETYPE;
    }
}

static uint64_t be_read(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads an n-byte big-endian field after the tag byte. */
static int take_be(kn_mp_in *in, int n, uint64_t *v)
{
    if (kn_mp_in_left(in) < (size_t)n + 1)
        return KN_ETRUNC;
    *v = be_read(in->p + 1, n);
    in->p += 1 + n;
    return 0;
}

/*
 * Reads a length header for a container or string family. fix_mask/fix_tag
 * describe the fix form (fix_max its largest length), tag8/16/32 the wider
 * forms (0 where the family has none). Each wider form must be needed.
 */
static int read_len(kn_mp_in *in, uint8_t fix_mask, uint8_t fix_tag, uint32_t fix_max, uint8_t tag8,
    uint8_t tag16, uint8_t tag32, uint32_t *n)
{
    if (in->p >= in->end)
        return KN_ETRUNC;
    uint8_t b = *in->p;
    uint64_t v;
    int rc;
    if (fix_mask && (b & fix_mask) == fix_tag) {
        *n = b & (uint8_t)~fix_mask;
        in->p++;
        return 0;
    }
    if (tag8 && b == tag8) {
        if ((rc = take_be(in, 1, &v)) < 0)
            return rc;
        if (fix_mask && v <= fix_max)
            return KN_ENONCANON;
    } else if (b == tag16) {
        if ((rc = take_be(in, 2, &v)) < 0)
            return rc;
        if (v <= (tag8 ? 0xff : fix_max))
            return KN_ENONCANON;
    } else if (b == tag32) {
        if ((rc = take_be(in, 4, &v)) < 0)
            return rc;
        if (v <= 0xffff)
            return KN_ENONCANON;
    } else {
        return KN_ETYPE;
    }
    *n = (uint32_t)v;
    return 0;
}

int kn_mp_read_array(kn_mp_in *in, uint32_t *n)
{
    kn_mp_type t = kn_mp_peek(in);
    if (t != KN_MP_ARRAY)
        return wrong_type(t);
    int rc = read_len(in, 0xf0, 0x90, 15, 0, 0xdc, 0xdd, n);
    if (rc < 0)
        return rc;
    /* Every element takes at least one byte: a cheap bound before any loop. */
    return *n > kn_mp_in_left(in) ? KN_ETRUNC : 0;
}

int kn_mp_read_map(kn_mp_in *in, uint32_t *n)
{
    kn_mp_type t = kn_mp_peek(in);
    if (t != KN_MP_MAP)
        return wrong_type(t);
    int rc = read_len(in, 0xf0, 0x80, 15, 0, 0xde, 0xdf, n);
    if (rc < 0)
        return rc;
    return (uint64_t)*n * 2 > kn_mp_in_left(in) ? KN_ETRUNC : 0;
}

int kn_mp_read_uint(kn_mp_in *in, uint64_t *v)
{
    if (in->p >= in->end)
        return KN_ETRUNC;
    uint8_t b = *in->p;
    int rc;
    if (b <= 0x7f) {
        *v = b;
        in->p++;
        return 0;
    }
    static const struct {
        uint8_t tag;
        int bytes;
        uint64_t min;
    } forms[] = { { 0xcc, 1, 0x80 }, { 0xcd, 2, 0x100 }, { 0xce, 4, 0x10000 },
        { 0xcf, 8, 0x100000000ull } };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (b != forms[i].tag)
            continue;
        if ((rc = take_be(in, forms[i].bytes, v)) < 0)
            return rc;
        return *v < forms[i].min ? KN_ENONCANON : 0;
    }
    /* A signed form holding a non-negative value is non-canonical, not a type error. */
    if (b >= 0xd0 && b <= 0xd3) {
        int bytes = 1 << (b - 0xd0);
        if (kn_mp_in_left(in) < (size_t)bytes + 1)
            return KN_ETRUNC;
        if ((in->p[1] & 0x80) == 0)
            return KN_ENONCANON;
        return KN_ETYPE;
    }
    return b >= 0xe0 ? KN_ETYPE : wrong_type(kn_mp_peek(in));
}

int kn_mp_read_int(kn_mp_in *in, int64_t *v)
{
    if (in->p >= in->end)
        return KN_ETRUNC;
    uint8_t b = *in->p;
    int rc;
    if (b <= 0x7f || (b >= 0xcc && b <= 0xcf)) {
        uint64_t u;
        if ((rc = kn_mp_read_uint(in, &u)) < 0)
            return rc;
        if (u > INT64_MAX)
            return KN_ETOOBIG;
        *v = (int64_t)u;
        return 0;
    }
    if (b >= 0xe0) {
        *v = (int8_t)b;
        in->p++;
        return 0;
    }
    if (b < 0xd0 || b > 0xd3)
        return wrong_type(kn_mp_peek(in));
    int bytes = 1 << (b - 0xd0);
    uint64_t u;
    if ((rc = take_be(in, bytes, &u)) < 0)
        return rc;
    int64_t s;
    switch (bytes) {
    case 1:
        s = (int8_t)u;
        break;
    case 2:
        s = (int16_t)u;
        break;
    case 4:
        s = (int32_t)u;
        break;
    default:
        s = (int64_t)u;
        break;
    }
    /* Canonical: non-negative values use the uint forms; negatives the shortest signed one. */
    static const int64_t min_for[4] = { -32, INT8_MIN, INT16_MIN, INT32_MIN };
    int idx = b - 0xd0;
    if (s >= 0 || s >= min_for[idx])
        return KN_ENONCANON;
    *v = s;
    return 0;
}

int kn_mp_read_bool(kn_mp_in *in, bool *v)
{
    kn_mp_type t = kn_mp_peek(in);
    if (t != KN_MP_BOOL)
        return wrong_type(t);
    *v = *in->p == 0xc3;
    in->p++;
    return 0;
}

int kn_mp_read_nil(kn_mp_in *in)
{
    kn_mp_type t = kn_mp_peek(in);
    if (t != KN_MP_NIL)
        return t == KN_MP_NONE ? KN_ETRUNC : KN_ETYPE;
    in->p++;
    return 0;
}

static int read_body(kn_mp_in *in, uint32_t len, const uint8_t **b)
{
    if (kn_mp_in_left(in) < len)
        return KN_ETRUNC;
    *b = in->p;
    in->p += len;
    return 0;
}

int kn_mp_read_str(kn_mp_in *in, const char **s, uint32_t *len)
{
    kn_mp_type t = kn_mp_peek(in);
    if (t != KN_MP_STR)
        return wrong_type(t);
    int rc = read_len(in, 0xe0, 0xa0, 31, 0xd9, 0xda, 0xdb, len);
    const uint8_t *b;
    if (rc < 0 || (rc = read_body(in, *len, &b)) < 0)
        return rc;
    if (!kn_utf8_valid((const char *)b, *len))
        return KN_EUTF8;
    *s = (const char *)b;
    return 0;
}

int kn_mp_read_bin(kn_mp_in *in, const uint8_t **b, uint32_t *len)
{
    kn_mp_type t = kn_mp_peek(in);
    if (t != KN_MP_BIN)
        return wrong_type(t);
    int rc = read_len(in, 0, 0, 0, 0xc4, 0xc5, 0xc6, len);
    if (rc < 0)
        return rc;
    return read_body(in, *len, b);
}

int kn_mp_read_bin_exact(kn_mp_in *in, const uint8_t **b, uint32_t len)
{
    uint32_t got = 0;
    int rc = kn_mp_read_bin(in, b, &got);
    if (rc < 0)
        return rc;
    return got == len ? 0 : KN_EKEYLEN;
}

int kn_mp_key_cmp(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
    uint32_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int kn_mp_skip(kn_mp_in *in, int max_depth, bool allow_nil)
{
    kn_mp_type t = kn_mp_peek(in);
    uint32_t n = 0;
    int rc;
    switch (t) {
    case KN_MP_UINT: {
        uint64_t v;
        return kn_mp_read_uint(in, &v);
    }
    case KN_MP_NINT: {
        int64_t v;
        return kn_mp_read_int(in, &v);
    }
    case KN_MP_BOOL: {
        bool v;
        return kn_mp_read_bool(in, &v);
    }
    case KN_MP_NIL:
        return allow_nil ? kn_mp_read_nil(in) : KN_ENIL;
    case KN_MP_STR: {
        const char *s;
        return kn_mp_read_str(in, &s, &n);
    }
    case KN_MP_BIN: {
        const uint8_t *b;
        return kn_mp_read_bin(in, &b, &n);
    }
    case KN_MP_ARRAY:
        if (max_depth <= 0)
            return KN_EDEPTH;
        if ((rc = kn_mp_read_array(in, &n)) < 0)
            return rc;
        for (uint32_t i = 0; i < n; i++)
            if ((rc = kn_mp_skip(in, max_depth - 1, allow_nil)) < 0)
                return rc;
        return 0;
    case KN_MP_MAP: {
        if (max_depth <= 0)
            return KN_EDEPTH;
        if ((rc = kn_mp_read_map(in, &n)) < 0)
            return rc;
        const char *prev = NULL;
        uint32_t prev_len = 0;
        for (uint32_t i = 0; i < n; i++) {
            const char *k = NULL;
            uint32_t klen = 0;
            if ((rc = kn_mp_read_str(in, &k, &klen)) < 0)
                return rc;
            if (prev && kn_mp_key_cmp(prev, prev_len, k, klen) >= 0)
                return KN_EMAPORDER;
            prev = k;
            prev_len = klen;
            if ((rc = kn_mp_skip(in, max_depth - 1, allow_nil)) < 0)
                return rc;
        }
        return 0;
    }
    case KN_MP_NONE:
        return KN_ETRUNC;
    case KN_MP_FLOAT:
        return KN_EFLOAT;
    case KN_MP_EXT:
        return KN_EEXT;
    default:
        return KN_ETYPE;
    }
}

size_t kn_utf8_valid_prefix(const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0;
    while (i < len) {
        /* Eight ASCII bytes at a time: most text here is mostly ASCII. */
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += n + 1;
    }
    return len;
}

bool kn_utf8_valid(const char *str, size_t len)
{
    return kn_utf8_valid_prefix(str, len) == len;
}
