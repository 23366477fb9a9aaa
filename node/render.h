/*
 * How an object's content looks in HTML, the same wherever it is shown: the
 * Atom feed (node/atom.c), `knoten show --html`, later the web UI. Markdown
 * fields go through node/markdown.c; every other string is escaped; URLs
 * come out only when they are http(s) (the schema allows no others anyway).
 *
 * Which fields are Markdown: the body of threads and posts, and the
 * description of links, events and documents.
 */
#ifndef KN_RENDER_H
#define KN_RENDER_H

#include <stddef.h>

#include "error.h"
#include "object.h"
#include "text.h"

/*
 * Appends the HTML of o's content (no title, no wrapper element): the
 * rendered Markdown, and for links the address, for events when and where,
 * for polls the options, for documents the files. Returns t->err or a
 * rendering error.
 */
KN_MUST_USE int kn_render_content_html(kn_text *t, const kn_object *o);

/*
 * A one-line title for o into buf (cap bytes): its title, a poll's question,
 * a user's or council's name; "" for types without one (posts: the caller
 * knows the thread).
 */
void kn_render_title(const kn_object *o, char *buf, size_t cap);

/*
 * When an event happens, in its own zone: "2026-12-03 10:00 - 12:00
 * Europe/Berlin (CET)", or across days with both dates. Falls back to UTC
 * when the zone is not known here.
 */
void kn_render_event_when(const kn_object *o, char *buf, size_t cap);

#endif
