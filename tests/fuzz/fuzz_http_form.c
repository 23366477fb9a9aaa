/*
 * Fuzz target for the parsers of what a browser sends (node/http_util.c,
 * node/http_blob.c, node/http_api.c), each on the whole input:
 *
 *   - query strings and urlencoded bodies (http_form_parse): a parsed form
 *     has at most HTTP_FIELDS_MAX fields, every key and value is UTF-8
 *     without NUL and as long as it says, and writing the fields out again
 *     percent-encoded (hb_urlenc) parses back to the same fields;
 *   - the UTF-8 check every decoded value passes (http_utf8_ok), against an
 *     independent decoder written from the Unicode standard's table of
 *     well-formed byte sequences;
 *   - the Cookie header (http_cookie_find): a value found is a whole
 *     "name=value" item of the header and fits its buffer;
 *   - X-Forwarded-For (http_forwarded_last): the last entry, trimmed, made
 *     only of the characters of an IP address;
 *   - the file name and media type of an upload (http_file_name_ok,
 *     http_mime_ok) and the Content-Disposition header written for a file
 *     name (http_content_disposition): printable ASCII only, so a name can
 *     never break out of the header;
 *   - tags given as one string (http_tags_of): trimmed, non-empty, no comma;
 *   - the Range header of downloads (kn_http_range_parse): a partial range
 *     lies inside the file, and the answer equals that of a second parser
 *     written here from http_range.h's rules.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_impl.h"
#include "http_range.h"

/* Well-formed UTF-8 without NUL, by Table 3-7 of the Unicode standard. */
static bool utf8_reference(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        uint8_t lo = 0x80, hi = 0xbf;
        size_t n;
        if (c == 0)
            return false;
        if (c <= 0x7f) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3;
        else
            return false;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
        else if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
        if (i + n >= len)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return false;
        i += n + 1;
    }
    return true;
}

static void check_form(const char *s, size_t len)
{
    h2o_mem_pool_t pool;
    http_form f, g;
    h2o_mem_init_pool(&pool);
    int rc = http_form_parse(&pool, s, len, &f);
    if (rc < 0) {
        if (rc != KN_EINVAL && rc != KN_ELIMIT)
            abort();
        h2o_mem_clear_pool(&pool);
        return;
    }
    if (f.n > HTTP_FIELDS_MAX)
        abort();
    hbuf out = { 0 };
    for (size_t i = 0; i < f.n; i++) {
        const http_kv *kv = &f.v[i];
        if (strlen(kv->val) != kv->len || !utf8_reference((const uint8_t *)kv->val, kv->len)
            || !utf8_reference((const uint8_t *)kv->key, strlen(kv->key)))
            abort();
        /* The first field of a key is the one http_form_get finds. */
        const char *first = http_form_get(&f, kv->key);
        const char *all[HTTP_FIELDS_MAX];
        size_t n = http_form_all(&f, kv->key, all, HTTP_FIELDS_MAX);
        if (!first || n == 0 || n > f.n || all[0] != first)
            abort();
        if (i)
            hb_puts(&out, "&");
        hb_urlenc(&out, kv->key);
        hb_puts(&out, "=");
        hb_urlenc(&out, kv->val);
    }
    if (out.oom)
        abort();
    /* Percent-encoded again, the fields come back the same. */
    if (http_form_parse(&pool, out.p ? out.p : "", out.len, &g) != 0 || g.n != f.n)
        abort();
    for (size_t i = 0; i < f.n; i++)
        if (strcmp(f.v[i].key, g.v[i].key) != 0 || strcmp(f.v[i].val, g.v[i].val) != 0
            || f.v[i].len != g.v[i].len)
            abort();
    hb_free(&out);
    h2o_mem_clear_pool(&pool);
}

static void check_cookie(const char *s, size_t len, const char *name, size_t cap)
{
    char out[80];
    if (!http_cookie_find(s, len, name, out, cap))
        return;
    size_t vl = strlen(out), nl = strlen(name);
    if (vl >= cap)
        abort();
    /* out is the value of an item "name=value" that starts the header or follows ';' or ' '. */
    bool seen = false;
    for (size_t p = 0; p + nl + 1 + vl <= len && !seen; p++)
        seen = (p == 0 || s[p - 1] == ';' || s[p - 1] == ' ') && memcmp(s + p, name, nl) == 0
            && s[p + nl] == '=' && memcmp(s + p + nl + 1, out, vl) == 0
            && (p + nl + 1 + vl == len || s[p + nl + 1 + vl] == ';');
    if (!seen)
        abort();
}

static void check_forwarded(const char *s, size_t len)
{
    char ip[64];
    if (!http_forwarded_last(s, len, ip, sizeof ip))
        return;
    size_t l = strlen(ip);
    if (l == 0 || l >= sizeof ip || strspn(ip, "0123456789abcdefABCDEF.:") != l)
        abort();
}

static void check_file_name(const char *s, size_t len)
{
    bool name_ok = http_file_name_ok(s, len);
    if (name_ok
        && (len == 0 || len > KN_FILE_NAME_MAX || !utf8_reference((const uint8_t *)s, len)
            || memchr(s, '/', len) || memchr(s, '\\', len)))
        abort();
    if (http_mime_ok(s, len) && (len > KN_MIME_MAX || memchr(s, 0, len) || !memchr(s, '/', len)))
        abort();
    /* Any name (a peer's object is schema-checked, but not by this code). */
    hbuf b = { 0 };
    http_content_disposition(&b, s, len);
    if (b.oom)
        abort();
    for (size_t i = 0; i < b.len; i++) {
        unsigned char c = (unsigned char)b.p[i];
        if (c < 0x20 || c >= 0x7f)
            abort();
    }
    hb_free(&b);
}

static void check_tags(const char *s, size_t len)
{
    if (!utf8_reference((const uint8_t *)s, len))
        return;
    json_t *j = json_pack("{s:s%}", "tags", s, len);
    if (!j)
        abort();
    json_t *a = http_tags_of(j, "tags");
    size_t i;
    json_t *t;
    json_array_foreach(a, i, t)
    {
        const char *v = json_string_value(t);
        size_t l = json_string_length(t);
        if (!v || l == 0 || v[0] == ' ' || v[l - 1] == ' ' || memchr(v, ',', l))
            abort();
    }
    json_decref(a);
    json_decref(j);
}

/* Decimal digits s[0..n) (n >= 1) as a number, UINT64_MAX if it does not fit. */
static uint64_t digits(const char *s, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return UINT64_MAX;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v;
}

/* http_range.h's rules written again, for a differential check. */
static kn_http_range_result range_reference(
    const char *v, size_t len, uint64_t size, uint64_t *first, uint64_t *last)
{
    *first = *last = 0;
    if (len == 0 || len > KN_HTTP_RANGE_MAX || size == 0)
        return KN_RANGE_IGNORE;
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (len < 7 || strncasecmp(v, "bytes=", 6) != 0)
        return KN_RANGE_IGNORE;
    v += 6;
    len -= 6;
    size_t a = 0, b;
    while (a < len && v[a] >= '0' && v[a] <= '9')
        a++; /* v is not NUL-terminated: no strspn */
    if (a == len || v[a] != '-')
        return KN_RANGE_IGNORE;
    const char *r = v + a + 1;
    size_t rl = len - a - 1;
    for (b = 0; b < rl && r[b] >= '0' && r[b] <= '9'; b++)
        ;
    if (b != rl || (a == 0 && b == 0))
        return KN_RANGE_IGNORE;
    if (a == 0) { /* -SUFFIX */
        uint64_t suf = digits(r, b);
        if (suf == 0)
            return KN_RANGE_UNSATISFIABLE;
        *first = suf >= size ? 0 : size - suf;
        *last = size - 1;
        return KN_RANGE_PARTIAL;
    }
    uint64_t f = digits(v, a), l = b ? digits(r, b) : UINT64_MAX;
    if (l < f)
        return KN_RANGE_IGNORE;
    if (f >= size)
        return KN_RANGE_UNSATISFIABLE;
    *first = f;
    *last = l >= size ? size - 1 : l;
    return KN_RANGE_PARTIAL;
}

static void check_range(const char *s, size_t len)
{
    static const uint64_t sizes[] = { 0, 1, 1000, UINT64_MAX };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t a = 77, b = 77, ra, rb;
        kn_http_range_result got = kn_http_range_parse(s, len, sizes[i], &a, &b);
        kn_http_range_result want = range_reference(s, len, sizes[i], &ra, &rb);
        if (got == KN_RANGE_PARTIAL ? !(a <= b && b < sizes[i]) : (a || b))
            abort();
        if (got != want || a != ra || b != rb)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    if (size > 1 << 16)
        return 0;
    check_form(s, size);
    if (http_utf8_ok(s, size) != utf8_reference(data, size))
        abort();
    check_cookie(s, size, "knoten_session", 65);
    check_cookie(s, size, "lang", 4);
    check_forwarded(s, size);
    check_file_name(s, size);
    check_tags(s, size);
    check_range(s, size);
    return 0;
}
