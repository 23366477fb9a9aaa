/*
 * The growable text buffer (text.h).
 */
#include "text.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kn_text_init(kn_text *t, size_t limit)
{
    memset(t, 0, sizeof *t);
    t->limit = limit;
}

void kn_text_free(kn_text *t)
{
    if (!t)
        return;
    free(t->s);
    memset(t, 0, sizeof *t);
}

static bool reserve(kn_text *t, size_t n)
{
    if (t->err)
        return false;
    if (n > SIZE_MAX - t->len - 1 || (t->limit && t->len + n > t->limit)) {
        t->err = KN_ETOOBIG;
        return false;
    }
    if (t->len + n + 1 > t->cap) {
        size_t ncap = t->cap ? t->cap : 256;
        while (ncap < t->len + n + 1)
            ncap *= 2;
        char *ns = realloc(t->s, ncap);
        if (!ns) {
            t->err = KN_ENOMEM;
            return false;
        }
        t->s = ns;
        t->cap = ncap;
    }
    return true;
}

void kn_text_put(kn_text *t, const char *s, size_t n)
{
    if (!reserve(t, n))
        return;
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = 0;
}

void kn_text_puts(kn_text *t, const char *s)
{
    kn_text_put(t, s, strlen(s));
}

void kn_text_printf(kn_text *t, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (!t->err)
            t->err = KN_EINVAL;
        return;
    }
    if ((size_t)n < sizeof small) {
        kn_text_put(t, small, (size_t)n);
        return;
    }
    if (!reserve(t, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* U+FFFE or U+FFFF (EF BF BE, EF BF BF) at s[0..n): not characters, in XML or anywhere. */
static bool noncharacter(const char *s, size_t n)
{
    return n >= 3 && (unsigned char)s[0] == 0xef && (unsigned char)s[1] == 0xbf
        && ((unsigned char)s[2] == 0xbe || (unsigned char)s[2] == 0xbf);
}

void kn_text_escape(kn_text *t, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e;
        switch (s[i]) {
        case '&':
            e = "&amp;";
            break;
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        case '"':
            e = "&quot;";
            break;
        case '\'':
            e = "&#39;";
            break;
        default:
            if (((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
                || noncharacter(s + i, n - i)) {
                e = ""; /* XML 1.0 forbids these even as references */
                break;
            }
            continue;
        }
        kn_text_put(t, s + run, i - run);
        kn_text_puts(t, e);
        run = i + (noncharacter(s + i, n - i) ? 3 : 1);
        i = run - 1;
    }
    kn_text_put(t, s + run, n - run);
}
