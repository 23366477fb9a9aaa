/*
 * Bounded parsing of what a browser sends (query strings, urlencoded forms,
 * cookies, JSON bodies) and the HTML output buffer that escapes every string
 * it did not write itself. Every decoded value is checked to be UTF-8
 * without NUL before a handler sees it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hex.h"
#include "http_impl.h"
#include "tz.h"

bool http_utf8_ok(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t n;
        uint32_t cp;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n) /* the continuation bytes must all be there */
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)
            || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* Percent-decodes s[0..len) into a NUL-terminated string in pool; NULL if malformed. */
static char *decode(h2o_mem_pool_t *pool, const char *s, size_t len, size_t *outlen)
{
    char *out = h2o_mem_alloc_pool(pool, len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            uint8_t byte;
            if (i + 2 >= len || kn_hex_decode(&byte, 1, s + i + 1, 2) < 0)
                return NULL;
            out[o++] = (char)byte;
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = 0;
    if (!http_utf8_ok(out, o))
        return NULL;
    *outlen = o;
    return out;
}

int http_form_parse(h2o_mem_pool_t *pool, const char *s, size_t len, http_form *f)
{
    f->n = 0;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && s[end] != '&')
            end++;
        if (end > i) {
            if (f->n == HTTP_FIELDS_MAX)
                return KN_ELIMIT;
            const char *eq = memchr(s + i, '=', end - i);
            size_t klen = eq ? (size_t)(eq - (s + i)) : end - i, kl, vl = 0;
            char *k = decode(pool, s + i, klen, &kl);
            char *v = eq ? decode(pool, eq + 1, (size_t)(s + end - eq - 1), &vl) : NULL;
            if (!k || (eq && !v))
                return KN_EINVAL;
            f->v[f->n++] = (http_kv) { k, v ? v : "", vl };
        }
        i = end + 1;
    }
    return 0;
}

const char *http_form_get(const http_form *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].key, key) == 0)
            return f->v[i].val;
    return NULL;
}

size_t http_form_all(const http_form *f, const char *key, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].key, key) == 0) {
            if (n < max)
                out[n] = f->v[i].val;
            n++;
        }
    return n;
}

static bool content_type_is(hreq *r, const char *t)
{
    size_t len;
    const char *v = http_req_header(r, "content-type", &len);
    size_t tl = strlen(t);
    return v && len >= tl && strncasecmp(v, t, tl) == 0 && (len == tl || v[tl] == ';');
}

int http_body_form(hreq *r, const http_form **out)
{
    if (!r->form_parsed) {
        if (!content_type_is(r, "application/x-www-form-urlencoded"))
            return KN_EINVAL;
        h2o_iovec_t e = r->req->entity;
        if (http_form_parse(&r->req->pool, e.base ? e.base : "", e.base ? e.len : 0, &r->form) < 0)
            return KN_EINVAL;
        r->form_parsed = true;
    }
    *out = &r->form;
    return 0;
}

const char *http_param(hreq *r, const char *key)
{
    const http_form *f;
    if (http_body_form(r, &f) < 0)
        return NULL;
    return http_form_get(f, key);
}

json_t *http_body_json(hreq *r)
{
    if (!content_type_is(r, "application/json")) {
        http_error(r, 415, "bad_content_type", "send the body as application/json");
        return NULL;
    }
    h2o_iovec_t e = r->req->entity;
    json_error_t err;
    json_t *j = e.base ? json_loadb(e.base, e.len, JSON_REJECT_DUPLICATES, &err) : NULL;
    if (!j || !json_is_object(j)) {
        json_decref(j);
        http_error(r, 400, "bad_json", "the body must be one JSON object");
        return NULL;
    }
    return j;
}

bool http_cookie_find(const char *v, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name), p = 0;
    while (p < len) {
        while (p < len && (v[p] == ' ' || v[p] == ';'))
            p++;
        size_t end = p;
        while (end < len && v[end] != ';')
            end++;
        if (end - p > nl && memcmp(v + p, name, nl) == 0 && v[p + nl] == '=') {
            size_t vl = end - p - nl - 1;
            if (vl >= cap || memchr(v + p + nl + 1, 0, vl))
                return false;
            memcpy(out, v + p + nl + 1, vl);
            out[vl] = 0;
            return true;
        }
        p = end;
    }
    return false;
}

bool http_cookie(hreq *r, const char *name, char *out, size_t cap)
{
    for (ssize_t i = -1; (i = h2o_find_header(&r->req->headers, H2O_TOKEN_COOKIE, i)) != -1;) {
        h2o_iovec_t v = r->req->headers.entries[i].value;
        if (http_cookie_find(v.base, v.len, name, out, cap))
            return true;
    }
    return false;
}

bool http_forwarded_last(const char *v, size_t len, char *ip, size_t cap)
{
    const char *last = v;
    for (size_t i = 0; i < len; i++)
        if (v[i] == ',')
            last = v + i + 1;
    while (last < v + len && *last == ' ')
        last++;
    size_t l = (size_t)(v + len - last);
    while (l > 0 && last[l - 1] == ' ')
        l--;
    if (l == 0 || l >= cap)
        return false;
    for (size_t i = 0; i < l; i++)
        if (!strchr("0123456789abcdefABCDEF.:", last[i]) || !last[i])
            return false;
    memcpy(ip, last, l);
    ip[l] = 0;
    return true;
}

bool http_local_path_ok(const char *loc)
{
    if (!loc || loc[0] != '/' || loc[1] == '/' || loc[1] == '\\')
        return false;
    for (const unsigned char *p = (const unsigned char *)loc; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '\\')
            return false; /* a browser drops tab and newlines: "/\t/x" would be "//x" */
    return true;
}

bool http_parse_id(const char *s, uint8_t out[32])
{
    return s && strlen(s) == 64 && kn_hex_decode(out, 32, s, 64) == 0;
}

/* ---- hbuf ---- */

void hb_free(hbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static bool hb_reserve(hbuf *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap < b->len + more + 1)
        ncap *= 2;
    char *np = realloc(b->p, ncap);
    if (!np) {
        b->oom = true;
        return false;
    }
    b->p = np;
    b->cap = ncap;
    return true;
}

void hb_put(hbuf *b, const char *s, size_t len)
{
    if (!hb_reserve(b, len))
        return;
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = 0;
}

void hb_puts(hbuf *b, const char *s)
{
    hb_put(b, s, strlen(s));
}

void hb_printf(hbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !hb_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void hb_u64(hbuf *b, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[sizeof d - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    hb_put(b, d + sizeof d - n, n);
}

void hb_esc(hbuf *b, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        hb_put(b, s + start, i - start);
        hb_puts(b, rep);
        start = i + 1;
    }
    hb_put(b, s + start, len - start);
}

void hb_escs(hbuf *b, const char *s)
{
    hb_esc(b, s, strlen(s));
}

void hb_urlenc(hbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
            || c == '_' || c == '.' || c == '~') {
            hb_put(b, (const char *)&c, 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            hb_put(b, e, 3);
        }
    }
}

/*
 * The zone the pages show times in: the one the forms read them in (poll
 * deadlines, the events' default), loaded once for every council of the
 * process; NULL (times in UTC) if this machine has no such zone.
 */
static uv_once_t page_zone_once = UV_ONCE_INIT;
static kn_tz *page_zone;

static void page_zone_load(void)
{
    if (kn_tz_load(HTTP_PAGE_ZONE, &page_zone) < 0)
        page_zone = NULL;
}

void http_fmt_time(char *buf, size_t cap, uint64_t ms)
{
    uv_once(&page_zone_once, page_zone_load);
    kn_tz_info info = { 0, false, "UTC" };
    if (page_zone)
        kn_tz_at(page_zone, (int64_t)(ms / 1000), &info);
    time_t t = (time_t)(ms / 1000) + info.utoff;
    struct tm tm;
    char fmt[40];
    snprintf(fmt, sizeof fmt, "%%Y-%%m-%%d %%H:%%M %s", info.abbr);
    if (!gmtime_r(&t, &tm) || strftime(buf, cap, fmt, &tm) == 0)
        snprintf(buf, cap, "?");
}

void http_fmt_size(char *buf, size_t cap, uint64_t n)
{
    static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
    if (n < 1024) {
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
        return;
    }
    double v = (double)n / 1024;
    int u = 0;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, "%.1f %s", v, unit[u]);
}
