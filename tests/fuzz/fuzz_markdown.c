/*
 * Fuzz target for the safe Markdown renderer (node/markdown.c), with an
 * oracle for what markdown.h promises, not only "does not crash":
 *
 *   - input up to KN_MARKDOWN_MAX renders (0), longer is KN_ETOOBIG;
 *   - the HTML is valid UTF-8 (invalid input bytes are replaced);
 *   - every '<' opens a tag cmark writes for Markdown (p, a, em, code, ...;
 *     never script, img, iframe, style or raw HTML from the input), every
 *     '>' closes one, and text holds only well-formed entity references;
 *   - tags carry no attributes but href and title (start on <ol>, a
 *     language class on <code>), always double-quoted;
 *   - every href, entities decoded, is http:, https:, mailto: or relative,
 *     as a browser parses it (url_ok_reference, written from the URL
 *     standard, not from markdown.c).
 *
 * The same input is also given to kn_markdown_url_safe directly: what it
 * calls safe must be safe for url_ok_reference too.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "markdown.h"

/*
 * What a browser would run, written from the URL standard rather than from
 * markdown.c: leading C0 controls and spaces are dropped and tab, CR and LF
 * removed anywhere; a scheme is ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")
 * before the first ':', and anything else is a relative URL. True if the
 * URL has no scheme or http, https or mailto.
 */
static bool url_ok_reference(const char *url)
{
    static const char *const ok[] = { "http", "https", "mailto" };
    char scheme[16];
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)url;
    while (*p && *p <= ' ')
        p++;
    for (; *p && *p != ':'; p++) {
        if (*p == '\t' || *p == '\n' || *p == '\r')
            continue;
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
        bool other = (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.';
        if (!alpha && !(n && other))
            return true; /* not a scheme: relative */
        if (n++ < sizeof scheme)
            scheme[n - 1] = (char)*p;
    }
    if (*p != ':' || n == 0)
        return true;
    for (size_t i = 0; i < 3; i++)
        if (n == strlen(ok[i]) && strncasecmp(scheme, ok[i], n) == 0)
            return true;
    return false;
}

/* Length of the entity reference at s ("&amp;", "&#39;", "&#x2F;"), 0 if it is none. */
static size_t entity_len(const char *s)
{
    size_t i = 1;
    if (s[i] == '#') {
        i++;
        bool hex = s[i] == 'x' || s[i] == 'X';
        i += hex;
        size_t d = i;
        while (hex ? strchr("0123456789abcdefABCDEF", s[i]) && s[i] : s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return 0;
    } else {
        size_t d = i;
        while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))
            i++;
        if (i == d)
            return 0;
    }
    return s[i] == ';' ? i + 1 : 0;
}

/* Decodes the few entities cmark writes into attribute values (&amp; &quot; &lt; &gt; &#39;). */
static void attr_decode(const char *v, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap;) {
        static const struct {
            const char *e;
            char c;
        } ents[] = { { "&amp;", '&' }, { "&quot;", '"' }, { "&lt;", '<' }, { "&gt;", '>' },
            { "&#39;", '\'' } };
        bool done = false;
        for (size_t k = 0; k < sizeof ents / sizeof ents[0] && !done; k++) {
            size_t el = strlen(ents[k].e);
            if (len - i >= el && memcmp(v + i, ents[k].e, el) == 0) {
                out[o++] = ents[k].c;
                i += el;
                done = true;
            }
        }
        if (!done && v[i] == '&' && i + 3 < len && v[i + 1] == '#') {
            /* A numeric reference (cmark writes ' in an href as &#x27;): ASCII only. */
            char *end;
            bool hex = v[i + 2] == 'x' || v[i + 2] == 'X';
            unsigned long c = strtoul(v + i + 2 + hex, &end, hex ? 16 : 10);
            if (*end != ';' || c == 0 || c > 0x7f)
                abort();
            out[o++] = (char)c;
            i = (size_t)(end - v) + 1;
            done = true;
        }
        if (!done) {
            if (v[i] == '&')
                abort(); /* an entity cmark would not write */
            out[o++] = v[i++];
        }
    }
    out[o] = 0;
}

static bool name_is(const char *s, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(s, name, n) == 0;
}

/* Checks one tag's inside "<...>" (t[0..n), without the brackets). */
static void check_tag(const char *t, size_t n)
{
    static const char *const names[] = { "p", "a", "code", "pre", "em", "strong", "h1", "h2", "h3",
        "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "hr", "br", NULL };
    bool closing = n && t[0] == '/';
    const char *p = t + closing, *end = t + n;
    size_t tl = 0;
    while (p + tl < end && p[tl] != ' ' && p[tl] != '/')
        tl++;
    bool known = false;
    for (size_t i = 0; names[i] && !known; i++)
        known = name_is(p, tl, names[i]);
    if (!known)
        abort();
    const char *q = p + tl;
    while (q < end) {
        while (q < end && *q == ' ')
            q++;
        if (q == end || (*q == '/' && q + 1 == end))
            break;
        if (closing)
            abort();
        size_t al = 0;
        while (q + al < end && q[al] != '=' && q[al] != ' ')
            al++;
        bool href = name_is(q, al, "href"), title = name_is(q, al, "title");
        bool start = name_is(p, tl, "ol") && name_is(q, al, "start");
        bool cls = name_is(p, tl, "code") && name_is(q, al, "class");
        if (!href && !title && !start && !cls)
            abort();
        q += al;
        if (end - q < 2 || q[0] != '=' || q[1] != '"')
            abort();
        q += 2;
        const char *v = q;
        while (q < end && *q != '"')
            q++;
        if (q == end)
            abort();
        size_t vl = (size_t)(q - v);
        q++;
        char dec[4096];
        attr_decode(v, vl, dec, sizeof dec);
        if (href && !url_ok_reference(dec))
            abort();
        if (start && strspn(dec, "0123456789") != strlen(dec))
            abort();
        if (cls && strncmp(dec, "language-", 9) != 0)
            abort();
    }
}

static void check_html(const char *html)
{
    size_t len = strlen(html);
    if (!kn_utf8_valid(html, len))
        abort();
    for (size_t i = 0; i < len; i++) {
        if (html[i] == '>')
            abort(); /* only inside a tag, which is skipped below */
        if (html[i] == '&' && entity_len(html + i) == 0)
            abort();
        if (html[i] != '<')
            continue;
        const char *e = memchr(html + i + 1, '>', len - i - 1);
        const char *lt = memchr(html + i + 1, '<', len - i - 1);
        if (!e || (lt && lt < e))
            abort();
        check_tag(html + i + 1, (size_t)(e - html - i - 1));
        i = (size_t)(e - html);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *html = NULL;
    int rc = kn_markdown_to_html((const char *)data, size, &html);
    if (size > KN_MARKDOWN_MAX) {
        if (rc != KN_ETOOBIG || html)
            abort();
        return 0;
    }
    if (rc != 0 || !html)
        abort();
    check_html(html);
    free(html);

    char url[256];
    size_t ul = size < sizeof url - 1 ? size : sizeof url - 1;
    memcpy(url, data, ul);
    url[ul] = 0;
    if (kn_markdown_url_safe(url) && !url_ok_reference(url))
        abort(); /* markdown.c may refuse more (any ':' before a '/'), never less */
    return 0;
}
