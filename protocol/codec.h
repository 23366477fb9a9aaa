/*
 * Canonical msgpack: the writer and the strict reader every format uses.
 *
 * protocol/codec.c is the only file that includes <msgpack.h>. The writer packs
 * through msgpack-c, which always chooses the shortest header. The reader is
 * our own: msgpack-c's unpacker accepts every header width and cannot tell us
 * which one it saw, and canonical form is the point (one content, one id). So
 * the reader walks the bytes with a bounded cursor and rejects non-shortest
 * ints and lengths, floats, ext, nil (unless asked for) and truncated input.
 *
 * Callers: object.c (signed objects), wire messages, negentropy framing.
 */
#ifndef KN_CODEC_H
#define KN_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* ---- writer ---- */

/*
 * A growable output buffer. The first allocation failure or overflow of
 * `limit` sets err and turns every later write into a no-op, so a caller
 * writes a whole structure and checks kn_mp_out_error() once at the end.
 * Owns buf; kn_mp_out_free() releases it (or kn_mp_out_take() hands it over).
 */
typedef struct kn_mp_out {
    uint8_t *buf;
    size_t len;
    size_t cap;
    size_t limit; /* 0: no limit */
    int err;
} kn_mp_out;

void kn_mp_out_init(kn_mp_out *o, size_t limit);
void kn_mp_out_free(kn_mp_out *o);
/* Resets len to 0 and clears err, keeping the allocation. */
void kn_mp_out_reset(kn_mp_out *o);
/* Hands the buffer to the caller (who frees it with free()); o is reset empty. */
uint8_t *kn_mp_out_take(kn_mp_out *o, size_t *len);
static inline int kn_mp_out_error(const kn_mp_out *o)
{
    return o->err;
}

void kn_mp_write_array(kn_mp_out *o, uint32_t n);
void kn_mp_write_map(kn_mp_out *o, uint32_t n);
void kn_mp_write_uint(kn_mp_out *o, uint64_t v);
void kn_mp_write_int(kn_mp_out *o, int64_t v);
void kn_mp_write_bool(kn_mp_out *o, bool v);
void kn_mp_write_nil(kn_mp_out *o);
void kn_mp_write_str(kn_mp_out *o, const char *s, size_t len);
void kn_mp_write_cstr(kn_mp_out *o, const char *s);
void kn_mp_write_bin(kn_mp_out *o, const uint8_t *b, size_t len);
/*
 * Only the header of a bin of len bytes: the caller supplies the len bytes
 * after it (e.g. appending them itself, to avoid a copy).
 */
void kn_mp_write_bin_head(kn_mp_out *o, size_t len);
/* Appends bytes that are already a canonical msgpack value. */
void kn_mp_write_raw(kn_mp_out *o, const uint8_t *b, size_t len);

/* ---- strict reader ---- */

typedef enum kn_mp_type {
    KN_MP_NONE = 0, /* end of input */
    KN_MP_NIL,
    KN_MP_BOOL,
    KN_MP_UINT,
    KN_MP_NINT, /* negative int */
    KN_MP_STR,
    KN_MP_BIN,
    KN_MP_ARRAY,
    KN_MP_MAP,
    KN_MP_FLOAT,
    KN_MP_EXT,
    KN_MP_INVALID, /* 0xc1 */
} kn_mp_type;

/* A cursor over borrowed bytes; the bytes must outlive every pointer read from it. */
typedef struct kn_mp_in {
    const uint8_t *p;
    const uint8_t *end;
} kn_mp_in;

static inline void kn_mp_in_init(kn_mp_in *in, const uint8_t *buf, size_t len)
{
    in->p = buf;
    in->end = buf + len;
}

static inline size_t kn_mp_in_left(const kn_mp_in *in)
{
    return (size_t)(in->end - in->p);
}

/* The type of the next value, without consuming it. */
kn_mp_type kn_mp_peek(const kn_mp_in *in);

/*
 * Each reader consumes one value of its type or fails without a guaranteed
 * cursor position: KN_ETRUNC (input ends), KN_ETYPE (another type is next;
 * KN_EFLOAT / KN_EEXT / KN_ENIL when that type is a float, ext or nil),
 * KN_ENONCANON (a shorter header exists). str and bin return pointers into
 * the input; strings are checked to be valid UTF-8 (KN_EUTF8).
 */
KN_MUST_USE int kn_mp_read_array(kn_mp_in *in, uint32_t *n);
KN_MUST_USE int kn_mp_read_map(kn_mp_in *in, uint32_t *n);
KN_MUST_USE int kn_mp_read_uint(kn_mp_in *in, uint64_t *v);
KN_MUST_USE int kn_mp_read_int(kn_mp_in *in, int64_t *v);
KN_MUST_USE int kn_mp_read_bool(kn_mp_in *in, bool *v);
KN_MUST_USE int kn_mp_read_nil(kn_mp_in *in);
KN_MUST_USE int kn_mp_read_str(kn_mp_in *in, const char **s, uint32_t *len);
KN_MUST_USE int kn_mp_read_bin(kn_mp_in *in, const uint8_t **b, uint32_t *len);
/* A bin of exactly `len` bytes (ids, keys, signatures), else KN_EKEYLEN. */
KN_MUST_USE int kn_mp_read_bin_exact(kn_mp_in *in, const uint8_t **b, uint32_t len);

/*
 * Skips one value of any allowed type, checking canonical form all the way
 * down (map keys must be strings, unique and sorted bytewise) to at most
 * max_depth levels of nesting (KN_EDEPTH beyond). Floats and ext are
 * rejected; nil only when allow_nil.
 */
KN_MUST_USE int kn_mp_skip(kn_mp_in *in, int max_depth, bool allow_nil);

/* Bytewise order of map keys: shorter-is-smaller only as a tiebreak (memcmp, then length). */
int kn_mp_key_cmp(const char *a, uint32_t alen, const char *b, uint32_t blen);

/* True if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool kn_utf8_valid(const char *s, size_t len);
/* The length of the longest valid UTF-8 prefix of s[0..len), by the same rules. */
size_t kn_utf8_valid_prefix(const char *s, size_t len);

#endif
