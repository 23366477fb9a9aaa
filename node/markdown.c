/*
 * Safe Markdown rendering with cmark (see markdown.h for the rules).
 */
#include "markdown.h"

#include <cmark.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"

bool kn_markdown_url_safe(const char *url)
{
    static const char *const allowed[] = { "http", "https", "mailto" };
    char scheme[8];
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)url;

    if (!url)
        return false;
    while (*p && *p <= 0x20) /* browsers strip leading C0 controls and spaces */
        p++;
    for (; *p; p++) {
        if (*p == '\t' || *p == '\n' || *p == '\r')
            continue; /* and remove these anywhere */
        if (*p == '/' || *p == '?' || *p == '#')
            return true; /* no scheme before the path: relative */
        if (*p == ':')
            break;
        if (n < sizeof scheme)
            scheme[n] = (char)*p;
        n++;
    }
    if (!*p)
        return true; /* no ':' at all: relative */
    if (n > sizeof scheme)
        return false; /* longer than any allowed scheme */
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strlen(allowed[i]) == n && strncasecmp(scheme, allowed[i], n) == 0)
            return true;
    return false;
}

/* Moves the children of node in front of it and frees it. */
static void unwrap(cmark_node *node)
{
    cmark_node *c;
    while ((c = cmark_node_first_child(node)))
        cmark_node_insert_before(node, c);
    cmark_node_free(node);
}

/* Replaces node by a new node of type `type` carrying node's literal (raw HTML shown as code). */
static int replace_literal(cmark_node *node, cmark_node_type type)
{
    cmark_node *r = cmark_node_new(type);
    if (!r)
        return KN_ENOMEM;
    const char *lit = cmark_node_get_literal(node);
    if (!cmark_node_set_literal(r, lit ? lit : "") || !cmark_node_replace(node, r)) {
        cmark_node_free(r);
        return KN_ENOMEM;
    }
    cmark_node_free(node);
    return 0;
}

/* An image as a link with the same target, title and text. */
static int image_to_link(cmark_node *img)
{
    cmark_node *a = cmark_node_new(CMARK_NODE_LINK), *c;
    if (!a)
        return KN_ENOMEM;
    const char *url = cmark_node_get_url(img), *title = cmark_node_get_title(img);
    if (!cmark_node_set_url(a, url ? url : "") || !cmark_node_set_title(a, title ? title : "")) {
        cmark_node_free(a);
        return KN_ENOMEM;
    }
    while ((c = cmark_node_first_child(img)))
        cmark_node_append_child(a, c);
    if (!cmark_node_replace(img, a)) {
        cmark_node_free(a);
        return KN_ENOMEM;
    }
    cmark_node_free(img);
    return 0;
}

/*
 * Collects the nodes to change during one walk (a tree must not change under
 * its iterator), then changes them. Images first become links, so that the
 * link check below covers their targets too.
 */
static int clean(cmark_node *doc)
{
    cmark_node **todo = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        cmark_iter *it = cmark_iter_new(doc);
        cmark_event_type ev;
        n = 0;
        if (!it)
            return KN_ENOMEM;
        while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            if (ev != CMARK_EVENT_ENTER)
                continue;
            cmark_node *node = cmark_iter_get_node(it);
            cmark_node_type t = cmark_node_get_type(node);
            bool hit = pass == 0
                ? t == CMARK_NODE_IMAGE || t == CMARK_NODE_HTML_BLOCK || t == CMARK_NODE_HTML_INLINE
                : t == CMARK_NODE_LINK && !kn_markdown_url_safe(cmark_node_get_url(node));
            if (!hit)
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                cmark_node **nt = realloc(todo, ncap * sizeof *nt);
                if (!nt) {
                    rc = KN_ENOMEM;
                    break;
                }
                todo = nt;
                cap = ncap;
            }
            todo[n++] = node;
        }
        cmark_iter_free(it);
        for (size_t i = 0; i < n && rc == 0; i++) {
            switch (cmark_node_get_type(todo[i])) {
            case CMARK_NODE_IMAGE:
                rc = image_to_link(todo[i]);
                break;
            case CMARK_NODE_HTML_BLOCK:
                rc = replace_literal(todo[i], CMARK_NODE_CODE_BLOCK);
                break;
            case CMARK_NODE_HTML_INLINE:
                rc = replace_literal(todo[i], CMARK_NODE_CODE);
                break;
            default: /* an unsafe link: keep its text */
                unwrap(todo[i]);
                break;
            }
        }
    }
    free(todo);
    return rc;
}

/*
 * cmark decodes the character references &#xFFFE; and &#xFFFF; into the
 * single bytes 0xFE and 0xFF (utf8proc's legacy encoding of those
 * noncharacters), which is not UTF-8. Every other byte it writes is valid, so
 * this replaces whatever is not with U+FFFD, as the parser does for input.
 */
static int utf8_repair(char **html)
{
    size_t len = strlen(*html), ok = kn_utf8_valid_prefix(*html, len);
    if (ok == len)
        return 0;
    if (len > (SIZE_MAX - 1) / 3)
        return KN_ENOMEM;
    char *out = malloc(3 * len + 1), *o = out;
    if (!out)
        return KN_ENOMEM;
    const char *p = *html, *end = *html + len;
    while (p < end) {
        memcpy(o, p, ok);
        o += ok;
        p += ok;
        if (p == end)
            break;
        memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD for the one byte that starts no character */
        o += 3;
        p++;
        ok = kn_utf8_valid_prefix(p, (size_t)(end - p));
    }
    *o = '\0';
    free(*html);
    *html = out;
    return 0;
}

int kn_markdown_to_html(const char *md, size_t len, char **html)
{
    const int opts = CMARK_OPT_SAFE | CMARK_OPT_VALIDATE_UTF8;
    *html = NULL;
    if (!md && len)
        return KN_EINVAL;
    if (len > KN_MARKDOWN_MAX)
        return KN_ETOOBIG;
    cmark_node *doc = cmark_parse_document(md ? md : "", len, opts);
    if (!doc)
        return KN_ENOMEM;
    int rc = clean(doc);
    if (rc == 0 && !(*html = cmark_render_html(doc, opts)))
        rc = KN_ENOMEM;
    cmark_node_free(doc);
    if (rc == 0 && (rc = utf8_repair(html)) < 0) {
        free(*html);
        *html = NULL;
    }
    return rc;
}
