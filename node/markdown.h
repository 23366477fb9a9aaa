/*
 * Markdown for people's text (thread and post bodies, descriptions) turned
 * into HTML that is safe to put into a page or a feed: CommonMark parsed by
 * cmark, then the tree is cleaned before it is rendered.
 *
 *   - Raw HTML is never passed through: an HTML block becomes a code block
 *     and inline HTML inline code, so the reader sees what was typed.
 *   - Link targets must be http:, https:, mailto: or relative; any other
 *     scheme (javascript:, vbscript:, data:, file:, ...) loses its link and
 *     keeps only its text. Entities and tabs or newlines inside the scheme
 *     are decoded and removed first, as a browser would.
 *   - Images become links to the image: no remote image is loaded when a
 *     page is opened (a tracking pixel would tell a third party who read it),
 *     and no data: image either.
 *   - cmark renders with CMARK_OPT_SAFE on top, and escapes text and
 *     attributes itself.
 *
 * Callers: `knoten show --html`, the Atom feed (node/atom.c), later the web UI.
 */
#ifndef KN_MARKDOWN_H
#define KN_MARKDOWN_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum { KN_MARKDOWN_MAX = 65536 }; /* bytes of Markdown rendered at most (bodies are <= 32000) */

/*
 * Renders len bytes of Markdown (UTF-8; invalid sequences are replaced) into
 * a NUL-terminated, malloc'd HTML fragment (caller frees). KN_ETOOBIG above
 * KN_MARKDOWN_MAX, KN_ENOMEM.
 */
KN_MUST_USE int kn_markdown_to_html(const char *md, size_t len, char **html);

/* True if url may be the target of a link: http, https, mailto, or no scheme (relative). */
bool kn_markdown_url_safe(const char *url);

#endif
