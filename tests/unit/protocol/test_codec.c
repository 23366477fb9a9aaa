/*
 * Canonical msgpack: every writer form read back at its boundaries, every
 * non-shortest form refused, and UTF-8 validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"

#include "codec.h"
#include "error.h"

static void test_uint_boundaries(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        size_t len;
        uint8_t tag;
    } cases[] = {
        { 0, 1, 0x00 },
        { 127, 1, 0x7f },
        { 128, 2, 0xcc },
        { 255, 2, 0xcc },
        { 256, 3, 0xcd },
        { 65535, 3, 0xcd },
        { 65536, 5, 0xce },
        { 0xffffffffull, 5, 0xce },
        { 0x100000000ull, 9, 0xcf },
        { UINT64_MAX, 9, 0xcf },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kn_mp_out o;
        kn_mp_in in;
        uint64_t v = 1;
        kn_mp_out_init(&o, 0);
        kn_mp_write_uint(&o, cases[i].v);
        assert_int_equal(kn_mp_out_error(&o), 0);
        assert_int_equal(o.len, cases[i].len);
        assert_int_equal(o.buf[0], cases[i].tag);
        kn_mp_in_init(&in, o.buf, o.len);
        assert_int_equal(kn_mp_peek(&in), KN_MP_UINT);
        assert_rc(0, kn_mp_read_uint(&in, &v));
        assert_int_equal(v, cases[i].v);
        assert_int_equal(kn_mp_in_left(&in), 0);
        /* Every prefix of the encoding is truncated. */
        for (size_t cut = 0; cut < o.len; cut++) {
            kn_mp_in_init(&in, o.buf, cut);
            assert_rc(KN_ETRUNC, kn_mp_read_uint(&in, &v));
        }
        /* A non-negative value read as an int comes back, or is too big for int64. */
        int64_t s;
        kn_mp_in_init(&in, o.buf, o.len);
        if (cases[i].v <= INT64_MAX) {
            assert_rc(0, kn_mp_read_int(&in, &s));
            assert_int_equal(s, (int64_t)cases[i].v);
        } else {
            assert_rc(KN_ETOOBIG, kn_mp_read_int(&in, &s));
        }
        kn_mp_out_free(&o);
    }
}

static void test_int_boundaries(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        size_t len;
        uint8_t tag;
    } cases[] = {
        { -1, 1, 0xff },
        { -32, 1, 0xe0 },
        { -33, 2, 0xd0 },
        { -128, 2, 0xd0 },
        { -129, 3, 0xd1 },
        { -32768, 3, 0xd1 },
        { -32769, 5, 0xd2 },
        { INT32_MIN, 5, 0xd2 },
        { (int64_t)INT32_MIN - 1, 9, 0xd3 },
        { INT64_MIN, 9, 0xd3 },
        { 0, 1, 0x00 },
        { 200, 2, 0xcc },
        { INT64_MAX, 9, 0xcf },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kn_mp_out o;
        kn_mp_in in;
        int64_t v = 1;
        kn_mp_out_init(&o, 0);
        kn_mp_write_int(&o, cases[i].v);
        assert_int_equal(o.len, cases[i].len);
        assert_int_equal(o.buf[0], cases[i].tag);
        kn_mp_in_init(&in, o.buf, o.len);
        assert_rc(0, kn_mp_read_int(&in, &v));
        assert_int_equal(v, cases[i].v);
        assert_int_equal(kn_mp_in_left(&in), 0);
        if (cases[i].v < 0) {
            uint64_t u;
            kn_mp_in_init(&in, o.buf, o.len);
            assert_int_equal(kn_mp_peek(&in), KN_MP_NINT);
            assert_rc(KN_ETYPE, kn_mp_read_uint(&in, &u));
        }
        for (size_t cut = 0; cut < o.len; cut++) {
            kn_mp_in_init(&in, o.buf, cut);
            assert_rc(KN_ETRUNC, kn_mp_read_int(&in, &v));
        }
        kn_mp_out_free(&o);
    }
}

/* Writes a header of `len` and checks its size and first byte, then reads it back. */
static void check_len_family(
    int family, const uint32_t *lens, const size_t *hdr, const uint8_t *tags, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t len = lens[i];
        kn_mp_out o;
        kn_mp_in in;
        uint32_t got = 0;
        kn_mp_out_init(&o, 0);
        uint8_t *payload = calloc(len ? (size_t)len * 2 : 1, 1);
        /* Payload: 'a' bytes for str/bin, fixint 0 per element, 0/'' pairs for maps. */
        if (family == 0) {
            memset(payload, 'a', len);
            kn_mp_write_str(&o, (const char *)payload, len);
        } else if (family == 1) {
            kn_mp_write_bin(&o, payload, len);
        } else if (family == 2) {
            kn_mp_write_array(&o, len);
            kn_mp_write_raw(&o, payload, len);
        } else {
            kn_mp_write_map(&o, len);
            kn_mp_write_raw(&o, payload, (size_t)len * 2);
        }
        assert_int_equal(kn_mp_out_error(&o), 0);
        assert_int_equal(o.buf[0], tags[i]);
        kn_mp_in_init(&in, o.buf, o.len);
        const char *s;
        const uint8_t *b;
        if (family == 0) {
            assert_int_equal(o.len, hdr[i] + len);
            assert_int_equal(kn_mp_peek(&in), KN_MP_STR);
            assert_rc(0, kn_mp_read_str(&in, &s, &got));
            assert_ptr_equal(s, (const char *)o.buf + hdr[i]);
        } else if (family == 1) {
            assert_int_equal(o.len, hdr[i] + len);
            assert_int_equal(kn_mp_peek(&in), KN_MP_BIN);
            assert_rc(0, kn_mp_read_bin(&in, &b, &got));
            assert_ptr_equal(b, o.buf + hdr[i]);
        } else if (family == 2) {
            assert_int_equal(kn_mp_peek(&in), KN_MP_ARRAY);
            assert_rc(0, kn_mp_read_array(&in, &got));
        } else {
            assert_int_equal(kn_mp_peek(&in), KN_MP_MAP);
            assert_rc(0, kn_mp_read_map(&in, &got));
        }
        assert_int_equal(got, len);
        assert_int_equal((size_t)(in.p - o.buf), family <= 1 ? o.len : hdr[i]);
        /* A header cut short is truncated. */
        for (size_t cut = 0; cut < hdr[i]; cut++) {
            kn_mp_in_init(&in, o.buf, cut);
            int rc = family == 0 ? kn_mp_read_str(&in, &s, &got)
                : family == 1    ? kn_mp_read_bin(&in, &b, &got)
                : family == 2    ? kn_mp_read_array(&in, &got)
                                 : kn_mp_read_map(&in, &got);
            assert_rc(KN_ETRUNC, rc);
        }
        /* A body one byte short is truncated too. */
        if (len > 0) {
            size_t body = family == 3 ? (size_t)len * 2 : len;
            kn_mp_in_init(&in, o.buf, hdr[i] + body - 1);
            int rc = family == 0 ? kn_mp_read_str(&in, &s, &got)
                : family == 1    ? kn_mp_read_bin(&in, &b, &got)
                : family == 2    ? kn_mp_read_array(&in, &got)
                                 : kn_mp_read_map(&in, &got);
            assert_rc(KN_ETRUNC, rc);
        }
        free(payload);
        kn_mp_out_free(&o);
    }
}

static void test_str_boundaries(void **state)
{
    (void)state;
    const uint32_t lens[] = { 0, 15, 16, 31, 32, 255, 256, 65535, 65536 };
    const size_t hdr[] = { 1, 1, 1, 1, 2, 2, 3, 3, 5 };
    const uint8_t tags[] = { 0xa0, 0xaf, 0xb0, 0xbf, 0xd9, 0xd9, 0xda, 0xda, 0xdb };
    check_len_family(0, lens, hdr, tags, 9);
}

static void test_bin_boundaries(void **state)
{
    (void)state;
    const uint32_t lens[] = { 0, 15, 16, 31, 32, 255, 256, 65535, 65536 };
    const size_t hdr[] = { 2, 2, 2, 2, 2, 2, 3, 3, 5 };
    const uint8_t tags[] = { 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc5, 0xc5, 0xc6 };
    check_len_family(1, lens, hdr, tags, 9);
}

static void test_array_map_boundaries(void **state)
{
    (void)state;
    const uint32_t lens[] = { 0, 15, 16, 31, 32, 255, 256, 65535, 65536 };
    const size_t hdr[] = { 1, 1, 3, 3, 3, 3, 3, 3, 5 };
    const uint8_t atags[] = { 0x90, 0x9f, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdd };
    const uint8_t mtags[] = { 0x80, 0x8f, 0xde, 0xde, 0xde, 0xde, 0xde, 0xde, 0xdf };
    check_len_family(2, lens, hdr, atags, 9);
    check_len_family(3, lens, hdr, mtags, 9);
}

typedef struct noncanon {
    const char *what;
    const char *bytes;
    size_t len;
    kn_mp_type type;
} noncanon;

#define NC(what, s, t)                                                                             \
    {                                                                                              \
        what, s, sizeof(s) - 1, t                                                                  \
    }

/* Each of these is a valid msgpack value with a shorter encoding. */
static const noncanon noncanons[] = {
    NC("uint8 for 5", "\xcc\x05", KN_MP_UINT),
    NC("uint8 for 127", "\xcc\x7f", KN_MP_UINT),
    NC("uint16 for 255", "\xcd\x00\xff", KN_MP_UINT),
    NC("uint32 for 65535", "\xce\x00\x00\xff\xff", KN_MP_UINT),
    NC("uint64 for 2^32-1", "\xcf\x00\x00\x00\x00\xff\xff\xff\xff", KN_MP_UINT),
    NC("int8 for 5", "\xd0\x05", KN_MP_UINT),
    NC("int16 for 5", "\xd1\x00\x05", KN_MP_UINT),
    NC("int64 for 0", "\xd3\x00\x00\x00\x00\x00\x00\x00\x00", KN_MP_UINT),
    NC("int8 for -1", "\xd0\xff", KN_MP_NINT),
    NC("int8 for -32", "\xd0\xe0", KN_MP_NINT),
    NC("int16 for -128", "\xd1\xff\x80", KN_MP_NINT),
    NC("int32 for -32768", "\xd2\xff\xff\x80\x00", KN_MP_NINT),
    NC("int64 for INT32_MIN", "\xd3\xff\xff\xff\xff\x80\x00\x00\x00", KN_MP_NINT),
    NC("str8 for 0", "\xd9\x00", KN_MP_STR),
    NC("str8 for 31",
        "\xd9\x1f"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        KN_MP_STR),
    NC("str16 for 3",
        "\xda\x00\x03"
        "abc",
        KN_MP_STR),
    NC("str16 for 255", "\xda\x00\xff", KN_MP_STR),
    NC("str32 for 65535", "\xdb\x00\x00\xff\xff", KN_MP_STR),
    NC("bin16 for 255", "\xc5\x00\xff", KN_MP_BIN),
    NC("bin32 for 65535", "\xc6\x00\x00\xff\xff", KN_MP_BIN),
    NC("bin32 for 0", "\xc6\x00\x00\x00\x00", KN_MP_BIN),
    NC("array16 for 0", "\xdc\x00\x00", KN_MP_ARRAY),
    NC("array16 for 15", "\xdc\x00\x0f", KN_MP_ARRAY),
    NC("array32 for 65535", "\xdd\x00\x00\xff\xff", KN_MP_ARRAY),
    NC("map16 for 15", "\xde\x00\x0f", KN_MP_MAP),
    NC("map32 for 65535", "\xdf\x00\x00\xff\xff", KN_MP_MAP),
};

static void test_noncanonical(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof noncanons / sizeof noncanons[0]; i++) {
        const noncanon *c = &noncanons[i];
        /* Enough zero padding after the header that only canonical form can fail. */
        size_t cap = c->len + 2 * 65536 + 16;
        uint8_t *buf = calloc(cap, 1);
        memcpy(buf, c->bytes, c->len);
        kn_mp_in in;
        kn_mp_in_init(&in, buf, cap);
        uint64_t u;
        int64_t s;
        const char *str;
        const uint8_t *b;
        uint32_t n;
        int rc;
        switch (c->type) {
        case KN_MP_UINT:
            rc = kn_mp_read_uint(&in, &u);
            if (rc == KN_ENONCANON) {
                kn_mp_in_init(&in, buf, cap);
                rc = kn_mp_read_int(&in, &s);
            }
            break;
        case KN_MP_NINT:
            rc = kn_mp_read_int(&in, &s);
            break;
        case KN_MP_STR:
            rc = kn_mp_read_str(&in, &str, &n);
            break;
        case KN_MP_BIN:
            rc = kn_mp_read_bin(&in, &b, &n);
            break;
        case KN_MP_ARRAY:
            rc = kn_mp_read_array(&in, &n);
            break;
        default:
            rc = kn_mp_read_map(&in, &n);
            break;
        }
        if (rc != KN_ENONCANON)
            fail_msg("%s: expected KN_ENONCANON, got %s", c->what, kn_errname(rc));
        /* kn_mp_skip refuses it too. */
        kn_mp_in_init(&in, buf, cap);
        assert_rc(KN_ENONCANON, kn_mp_skip(&in, 4, false));
        free(buf);
    }
}

static void test_other_types(void **state)
{
    (void)state;
    kn_mp_out o;
    kn_mp_in in;
    bool v;
    kn_mp_out_init(&o, 0);
    kn_mp_write_bool(&o, true);
    kn_mp_write_bool(&o, false);
    kn_mp_write_nil(&o);
    assert_int_equal(o.len, 3);
    assert_memory_equal(o.buf, "\xc3\xc2\xc0", 3);
    kn_mp_in_init(&in, o.buf, o.len);
    assert_int_equal(kn_mp_peek(&in), KN_MP_BOOL);
    assert_rc(0, kn_mp_read_bool(&in, &v));
    assert_true(v);
    assert_rc(0, kn_mp_read_bool(&in, &v));
    assert_false(v);
    assert_int_equal(kn_mp_peek(&in), KN_MP_NIL);
    assert_rc(KN_ENIL, kn_mp_read_bool(&in, &v));
    assert_rc(0, kn_mp_read_nil(&in));
    assert_int_equal(kn_mp_peek(&in), KN_MP_NONE);
    assert_rc(KN_ETRUNC, kn_mp_read_nil(&in));
    kn_mp_out_free(&o);

    /* Floats, ext and 0xc1 are refused by every reader with their own error. */
    static const struct {
        const char *b;
        size_t len;
        kn_mp_type t;
        int err;
    } bad[] = {
        { "\xca\x00\x00\x00\x00", 5, KN_MP_FLOAT, KN_EFLOAT },
        { "\xcb\x00\x00\x00\x00\x00\x00\x00\x00", 9, KN_MP_FLOAT, KN_EFLOAT },
        { "\xd4\x01\x00", 3, KN_MP_EXT, KN_EEXT },
        { "\xd8\x01"
          "0123456789abcdef",
            18, KN_MP_EXT, KN_EEXT },
        { "\xc7\x00\x01", 3, KN_MP_EXT, KN_EEXT },
        { "\xc1", 1, KN_MP_INVALID, KN_ETYPE },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t u;
        uint32_t n;
        const char *s;
        kn_mp_in_init(&in, (const uint8_t *)bad[i].b, bad[i].len);
        assert_int_equal(kn_mp_peek(&in), bad[i].t);
        assert_rc(bad[i].err, kn_mp_read_uint(&in, &u));
        assert_rc(bad[i].err, kn_mp_read_str(&in, &s, &n));
        assert_rc(bad[i].err, kn_mp_read_map(&in, &n));
        assert_rc(bad[i].err, kn_mp_skip(&in, 4, true));
    }
}

static void test_bin_exact(void **state)
{
    (void)state;
    uint8_t key[33] = { 0 };
    kn_mp_out o;
    kn_mp_in in;
    const uint8_t *b;
    kn_mp_out_init(&o, 0);
    kn_mp_write_bin(&o, key, 32);
    kn_mp_write_bin(&o, key, 33);
    kn_mp_write_cstr(&o, "x");
    kn_mp_in_init(&in, o.buf, o.len);
    assert_rc(0, kn_mp_read_bin_exact(&in, &b, 32));
    assert_rc(KN_EKEYLEN, kn_mp_read_bin_exact(&in, &b, 32));
    assert_rc(KN_ETYPE, kn_mp_read_bin_exact(&in, &b, 1));
    kn_mp_out_free(&o);
}

typedef struct utf8_case {
    const char *what;
    const char *s;
    size_t len;
    bool ok;
} utf8_case;

#define U8(what, s, ok)                                                                            \
    {                                                                                              \
        what, s, sizeof(s) - 1, ok                                                                 \
    }

static const utf8_case utf8_cases[] = {
    U8("empty", "", true),
    U8("ascii", "Rathaus", true),
    U8("NUL is a valid code point", "a\0b", true),
    U8("2-byte", "K\xc3\xb6ln", true),
    U8("3-byte euro", "\xe2\x82\xac", true),
    U8("4-byte emoji", "\xf0\x9f\x98\x80", true),
    U8("U+007F", "\x7f", true),
    U8("U+0080", "\xc2\x80", true),
    U8("U+07FF", "\xdf\xbf", true),
    U8("U+0800", "\xe0\xa0\x80", true),
    U8("U+D7FF", "\xed\x9f\xbf", true),
    U8("U+E000", "\xee\x80\x80", true),
    U8("U+FFFF", "\xef\xbf\xbf", true),
    U8("U+10000", "\xf0\x90\x80\x80", true),
    U8("U+10FFFF", "\xf4\x8f\xbf\xbf", true),
    U8("overlong / in 2 bytes", "\xc0\xaf", false),
    U8("overlong NUL", "\xc0\x80", false),
    U8("overlong 0x7f in 2 bytes", "\xc1\xbf", false),
    U8("overlong in 3 bytes", "\xe0\x80\xaf", false),
    U8("overlong U+07FF in 3 bytes", "\xe0\x9f\xbf", false),
    U8("overlong in 4 bytes", "\xf0\x80\x80\xaf", false),
    U8("overlong U+FFFF in 4 bytes", "\xf0\x8f\xbf\xbf", false),
    U8("surrogate U+D800", "\xed\xa0\x80", false),
    U8("surrogate U+DFFF", "\xed\xbf\xbf", false),
    U8("surrogate pair", "\xed\xa0\xbd\xed\xb8\x80", false),
    U8("U+110000", "\xf4\x90\x80\x80", false),
    U8("F5 lead", "\xf5\x80\x80\x80", false),
    U8("F8 lead (5 bytes)", "\xf8\x88\x80\x80\x80", false),
    U8("FE", "\xfe", false),
    U8("FF", "\xff", false),
    U8("lone continuation", "\x80", false),
    U8("continuation after ascii", "a\xbf", false),
    U8("truncated 2-byte", "\xc3", false),
    U8("truncated 3-byte", "\xe2\x82", false),
    U8("truncated 4-byte", "\xf0\x9f\x98", false),
    U8("truncated at the end", "ok\xf0\x9f", false),
    U8("ascii in a continuation slot", "\xe2\x28\xa1", false),
};

/*
 * kn_utf8_valid checks eight ASCII bytes at a time: every case again behind
 * 0..16 bytes of ASCII and before 0..9 more, so each sequence falls at every
 * position of a word and across word boundaries; padding with ASCII changes
 * no verdict.
 */
static void test_utf8_alignment(void **state)
{
    (void)state;
    char buf[64];
    for (size_t i = 0; i < sizeof utf8_cases / sizeof utf8_cases[0]; i++) {
        const utf8_case *c = &utf8_cases[i];
        for (size_t pre = 0; pre <= 16; pre++)
            for (size_t post = 0; post <= 9; post++) {
                memset(buf, 'x', sizeof buf);
                memcpy(buf + pre, c->s, c->len);
                bool got = kn_utf8_valid(buf, pre + c->len + post);
                if (got != c->ok)
                    fail_msg("%s after %zu and before %zu ASCII bytes: expected %s", c->what, pre,
                        post, c->ok ? "valid" : "invalid");
            }
    }
}

static void test_utf8(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof utf8_cases / sizeof utf8_cases[0]; i++) {
        const utf8_case *c = &utf8_cases[i];
        bool got = kn_utf8_valid(c->s, c->len);
        if (got != c->ok)
            fail_msg("%s: expected %s, got %s", c->what, c->ok ? "valid" : "invalid",
                got ? "valid" : "invalid");
        /* The str reader checks the same. */
        kn_mp_out o;
        kn_mp_in in;
        const char *s;
        uint32_t n;
        kn_mp_out_init(&o, 0);
        kn_mp_write_str(&o, c->s, c->len);
        kn_mp_in_init(&in, o.buf, o.len);
        assert_rc(c->ok ? 0 : KN_EUTF8, kn_mp_read_str(&in, &s, &n));
        kn_mp_out_free(&o);
    }
}

static void test_skip_and_keys(void **state)
{
    (void)state;
    static const struct {
        const char *b;
        size_t len;
        int depth;
        bool nil;
        int expect;
    } cases[] = {
        { "\x82\xa1"
          "a\x01\xa1"
          "b\x02",
            7, 1, false, 0 },
        { "\x82\xa1"
          "b\x01\xa1"
          "a\x02",
            7, 1, false, KN_EMAPORDER },
        { "\x82\xa1"
          "a\x01\xa1"
          "a\x02",
            7, 1, false, KN_EMAPORDER },
        { "\x82\xa1"
          "a\x01\xa2"
          "aa\x02",
            8, 1, false, 0 },
        { "\x82\xa2"
          "aa\x01\xa1"
          "a\x02",
            8, 1, false, KN_EMAPORDER },
        { "\x82\xa1"
          "b\x01\xa2"
          "aa\x02",
            8, 1, false, KN_EMAPORDER },
        { "\x82\xa0\x01\xa1"
          "a\x02",
            6, 1, false, 0 },
        { "\x81\x01\x01", 3, 1, false, KN_ETYPE },
        { "\x81\xa1"
          "a\xc0",
            4, 1, false, KN_ENIL },
        { "\x81\xa1"
          "a\xc0",
            4, 1, true, 0 },
        { "\x91\x91\x91\x01", 4, 3, false, 0 },
        { "\x91\x91\x91\x01", 4, 2, false, KN_EDEPTH },
        { "\x91\x81\xa1"
          "a\x91\x01",
            6, 3, false, 0 },
        { "\x91\x81\xa1"
          "a\x91\x01",
            6, 2, false, KN_EDEPTH },
        { "\x01", 1, 0, false, 0 },
        { "\x90", 1, 0, false, KN_EDEPTH },
        { "\x92\x01", 2, 1, false, KN_ETRUNC },
        { "", 0, 1, false, KN_ETRUNC },
        /* Keys compare as unsigned bytes: 0xc3 ('ö' lead) sorts after 'z'. */
        { "\x82\xa1z\x01\xa2\xc3\xb6\x01", 8, 1, false, 0 },
        { "\x82\xa2\xc3\xb6\x01\xa1z\x01", 8, 1, false, KN_EMAPORDER },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kn_mp_in in;
        kn_mp_in_init(&in, (const uint8_t *)cases[i].b, cases[i].len);
        int rc = kn_mp_skip(&in, cases[i].depth, cases[i].nil);
        if (rc != cases[i].expect)
            fail_msg("skip case %zu: expected %s, got %s", i, kn_errname(cases[i].expect),
                kn_errname(rc));
        if (rc == 0)
            assert_int_equal(kn_mp_in_left(&in), 0);
    }
    assert_true(kn_mp_key_cmp("a", 1, "b", 1) < 0);
    assert_true(kn_mp_key_cmp("b", 1, "a", 1) > 0);
    assert_true(kn_mp_key_cmp("a", 1, "aa", 2) < 0);
    assert_true(kn_mp_key_cmp("aa", 2, "a", 1) > 0);
    assert_true(kn_mp_key_cmp("", 0, "a", 1) < 0);
    assert_int_equal(kn_mp_key_cmp("", 0, "", 0), 0);
    assert_int_equal(kn_mp_key_cmp("ab", 2, "ab", 2), 0);
    assert_true(kn_mp_key_cmp("z", 1, "\xc3\xb6", 2) < 0);
}

/* A deep array nest must fail on depth, not on the stack. */
static void test_deep_nesting(void **state)
{
    (void)state;
    enum { N = 100000 };
    uint8_t *buf = malloc(N + 1);
    memset(buf, 0x91, N);
    buf[N] = 0x01;
    kn_mp_in in;
    kn_mp_in_init(&in, buf, N + 1);
    assert_rc(KN_EDEPTH, kn_mp_skip(&in, 64, false));
    free(buf);
}

static void test_writer(void **state)
{
    (void)state;
    kn_mp_out o;
    kn_mp_out_init(&o, 4);
    kn_mp_write_uint(&o, 1);
    kn_mp_write_cstr(&o, "ab");
    assert_int_equal(kn_mp_out_error(&o), 0);
    assert_int_equal(o.len, 4);
    kn_mp_write_uint(&o, 1);
    assert_rc(KN_ETOOBIG, kn_mp_out_error(&o));
    /* Once failed, later writes are no-ops. */
    kn_mp_write_raw(&o, (const uint8_t *)"", 0);
    assert_int_equal(o.len, 4);
    kn_mp_out_reset(&o);
    assert_int_equal(kn_mp_out_error(&o), 0);
    assert_int_equal(o.len, 0);
    kn_mp_write_uint(&o, 300);
    size_t len;
    uint8_t *b = kn_mp_out_take(&o, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(b, "\xcd\x01\x2c", 3);
    assert_null(o.buf);
    assert_int_equal(o.len, 0);
    assert_int_equal(o.limit, 4);
    free(b);
    kn_mp_out_free(&o);
    kn_mp_out_free(NULL);

    /* Empty writes with NULL data on an unallocated buffer (UB in memcpy before the fix). */
    kn_mp_out_init(&o, 0);
    kn_mp_write_raw(&o, NULL, 0);
    kn_mp_write_str(&o, NULL, 0);
    kn_mp_write_bin(&o, NULL, 0);
    assert_int_equal(kn_mp_out_error(&o), 0);
    assert_int_equal(o.len, 3);
    assert_memory_equal(o.buf, "\xa0\xc4\x00", 3);
    kn_mp_out_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uint_boundaries),
        cmocka_unit_test(test_int_boundaries),
        cmocka_unit_test(test_str_boundaries),
        cmocka_unit_test(test_bin_boundaries),
        cmocka_unit_test(test_array_map_boundaries),
        cmocka_unit_test(test_noncanonical),
        cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_bin_exact),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_utf8_alignment),
        cmocka_unit_test(test_skip_and_keys),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
