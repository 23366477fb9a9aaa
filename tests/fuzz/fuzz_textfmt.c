/*
 * Fuzz target for the writers that put people's strings into iCalendar and
 * Atom (node/ics.c, node/text.c). The strings come from signed objects,
 * whose schema checks only UTF-8 and length, so any valid UTF-8 (control
 * characters included) can reach them. The oracle:
 *
 *   - kn_ics_text_escape: the result has no CR, LF or other control but
 *     tab, every ';' ',' '\' is escaped, and unescaping gives back the input
 *     without its controls (newlines come back from "\n");
 *   - kn_ics_line: CRLF-terminated physical lines of at most 75 octets,
 *     every continuation starts with one space, unfolding gives back
 *     "NAME:value", and for UTF-8 input no line splits a character;
 *   - kn_text_escape (Atom, XML): only characters XML 1.0 allows, no '<'
 *     or '>', every '&' starts one of the five entities written, and
 *     unescaping gives back the input without what XML forbids.
 *
 * The input is used as it is and, where a writer needs UTF-8, only if it is.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "ics.h"
#include "text.h"

/* The code point at s[0..len) and its length (valid UTF-8 assumed). */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = s[0] >= 0xf0 ? 3 : s[0] >= 0xe0 ? 2 : 1;
    *cp = s[0] & (0x3f >> n);
    for (size_t k = 1; k <= n; k++)
        *cp = *cp << 6 | (s[k] & 0x3f);
    return n + 1;
}

static bool xml_char(uint32_t c)
{
    return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff)
        || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

static void check_ics_escape(const char *s, size_t len)
{
    kn_text t;
    kn_text_init(&t, 0);
    kn_ics_text_escape(&t, s, len);
    if (t.err)
        abort();
    /* Unescape, and compare with the input without controls (but tab and LF). */
    size_t j = 0;
    for (size_t i = 0; i < t.len; i++) {
        unsigned char c = (unsigned char)t.s[i];
        char want;
        if ((c < 0x20 && c != '\t') || c == 0x7f || c == ';' || c == ',')
            abort(); /* a control, or ';' ',' not escaped */
        if (c == '\\') {
            if (++i == t.len)
                abort();
            char e = t.s[i];
            if (e == 'n')
                want = '\n';
            else if (e == '\\' || e == ';' || e == ',')
                want = e;
            else
                abort();
        } else {
            want = (char)c;
        }
        while (j < len
            && ((((unsigned char)s[j] < 0x20 && s[j] != '\t' && s[j] != '\n'))
                || (unsigned char)s[j] == 0x7f))
            j++;
        if (j == len || s[j] != want)
            abort();
        j++;
    }
    while (
        j < len && (((unsigned char)s[j] < 0x20 && s[j] != '\t' && s[j] != '\n') || s[j] == 0x7f))
        j++;
    if (j != len)
        abort();
    kn_text_free(&t);
}

static void check_ics_line(const char *s, size_t len)
{
    kn_text t;
    bool utf8 = kn_utf8_valid(s, len);
    kn_text_init(&t, 0);
    kn_ics_line(&t, "DESCRIPTION", s, len);
    if (t.err || t.len < 2 || memcmp(t.s + t.len - 2, "\r\n", 2) != 0)
        abort();
    kn_text u;
    kn_text_init(&u, 0);
    size_t start = 0;
    bool first = true;
    while (start < t.len) {
        const char *crlf = NULL;
        for (size_t i = start; i + 1 < t.len; i++)
            if (t.s[i] == '\r' && t.s[i + 1] == '\n') {
                crlf = t.s + i;
                break;
            }
        if (!crlf)
            abort();
        size_t l = (size_t)(crlf - (t.s + start));
        if (l > 75)
            abort();
        const char *line = t.s + start;
        if (!first) {
            if (l < 2 || line[0] != ' ')
                abort(); /* a continuation: one space and at least one octet */
            line++;
            l--;
        }
        /* Each line of UTF-8 is UTF-8: no character is split. */
        if (utf8 && !kn_utf8_valid(line, l))
            abort();
        kn_text_put(&u, line, l);
        start += (size_t)(crlf - (t.s + start)) + 2;
        first = false;
    }
    if (u.err || u.len != 12 + len || memcmp(u.s, "DESCRIPTION:", 12) != 0
        || memcmp(u.s + 12, s, len) != 0)
        abort();
    kn_text_free(&u);
    kn_text_free(&t);
}

static void check_xml_escape(const char *s, size_t len)
{
    static const struct {
        const char *e;
        char c;
    } ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
        { "&#39;", '\'' } };
    kn_text t;
    kn_text_init(&t, 0);
    kn_text_escape(&t, s, len);
    if (t.err || !kn_utf8_valid(t.s, t.len))
        abort();
    kn_text u;
    kn_text_init(&u, 0);
    for (size_t i = 0; i < t.len;) {
        uint32_t cp;
        if (t.s[i] == '<' || t.s[i] == '>')
            abort();
        if (t.s[i] == '&') {
            size_t k = 0;
            while (k < sizeof ents / sizeof ents[0]
                && strncmp(t.s + i, ents[k].e, strlen(ents[k].e)) != 0)
                k++;
            if (k == sizeof ents / sizeof ents[0])
                abort();
            kn_text_put(&u, &ents[k].c, 1);
            i += strlen(ents[k].e);
            continue;
        }
        size_t n = utf8_next((const unsigned char *)t.s + i, &cp);
        if (!xml_char(cp))
            abort();
        kn_text_put(&u, t.s + i, n);
        i += n;
    }
    /* The input without the characters XML forbids. */
    kn_text want;
    kn_text_init(&want, 0);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next((const unsigned char *)s + i, &cp);
        if (xml_char(cp))
            kn_text_put(&want, s + i, n);
        i += n;
    }
    if (u.err || want.err || u.len != want.len || (u.len && memcmp(u.s, want.s, u.len) != 0))
        abort();
    kn_text_free(&want);
    kn_text_free(&u);
    kn_text_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    if (size > 1 << 16)
        return 0;
    check_ics_escape(s, size);
    /* Values reach kn_ics_line escaped (TEXT) or free of CR and LF (URL, ids, times). */
    if (!memchr(s, '\r', size) && !memchr(s, '\n', size))
        check_ics_line(s, size);
    kn_text e;
    kn_text_init(&e, 0);
    kn_ics_text_escape(&e, s, size);
    if (!e.err)
        check_ics_line(e.s ? e.s : "", e.len);
    kn_text_free(&e);
    if (kn_utf8_valid(s, size))
        check_xml_escape(s, size);
    return 0;
}
