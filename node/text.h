/*
 * A growable text buffer for the formats the node writes for people and
 * their programs (iCalendar, Atom, HTML fragments). Like kn_mp_out, the
 * first allocation failure or overflow of `limit` sets err and turns every
 * later write into a no-op, so a writer checks once at the end.
 *
 * Callers: node/ics.c, node/atom.c, the command line.
 */
#ifndef KN_TEXT_H
#define KN_TEXT_H

#include <stdarg.h>
#include <stddef.h>

#include "error.h"

typedef struct kn_text_buf {
    char *s; /* NUL-terminated while err == 0 */
    size_t len, cap;
    size_t limit; /* 0: none */
    int err;
} kn_text;

void kn_text_init(kn_text *t, size_t limit);
void kn_text_free(kn_text *t);
void kn_text_put(kn_text *t, const char *s, size_t n);
void kn_text_puts(kn_text *t, const char *s);
void kn_text_printf(kn_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Appends s escaped for XML/HTML text and attribute values (& < > " '),
 * without the characters XML 1.0 forbids even as references (C0 controls but
 * tab, LF and CR; U+FFFE, U+FFFF), so that one person's text cannot make a
 * whole Atom feed unreadable.
 */
void kn_text_escape(kn_text *t, const char *s, size_t n);

#endif
