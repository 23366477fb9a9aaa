/*
 * HTML for object content (render.h).
 */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "markdown.h"
#include "tz.h"

static void put_field_escaped(kn_text *t, const kn_object *o, const char *key)
{
    const char *s;
    uint32_t len;
    if (kn_object_str(o, key, &s, &len) == 0)
        kn_text_escape(t, s, len);
}

static int put_markdown(kn_text *t, const kn_object *o, const char *key)
{
    const char *s;
    uint32_t len;
    char *html = NULL;
    if (kn_object_str(o, key, &s, &len) < 0 || len == 0)
        return 0;
    int rc = kn_markdown_to_html(s, len, &html);
    if (rc < 0)
        return rc;
    kn_text_puts(t, html);
    free(html);
    return 0;
}

/* An http(s) link; the schema has checked the URL (no quotes or spaces can be in it). */
static void put_link(kn_text *t, const char *url, uint32_t len)
{
    kn_text_puts(t, "<a href=\"");
    kn_text_escape(t, url, len);
    kn_text_puts(t, "\">");
    kn_text_escape(t, url, len);
    kn_text_puts(t, "</a>");
}

void kn_render_title(const kn_object *o, char *buf, size_t cap)
{
    static const char *const keys[] = { "title", "question", "name" };
    const char *s;
    uint32_t len;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (kn_object_str(o, keys[i], &s, &len) == 0) {
            snprintf(buf, cap, "%.*s", (int)len, s);
            return;
        }
}

/* "2026-12-03 10:00" for UTC seconds t at offset utoff. */
static void fmt_local(char *buf, size_t cap, int64_t t, int32_t utoff, bool date)
{
    int64_t local = t + utoff, days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    int64_t sod = local - days * 86400, y;
    unsigned m, d;
    kn_civil_from_days(days, &y, &m, &d);
    if (date)
        snprintf(buf, cap, "%04lld-%02u-%02u %02u:%02u", (long long)y, m, d, (unsigned)(sod / 3600),
            (unsigned)(sod % 3600 / 60));
    else
        snprintf(buf, cap, "%02u:%02u", (unsigned)(sod / 3600), (unsigned)(sod % 3600 / 60));
}

void kn_render_event_when(const kn_object *o, char *buf, size_t cap)
{
    uint64_t start = 0, end = 0;
    char tzname[KN_TZ_NAME_MAX + 1] = "UTC", a[40], b[40];
    const char *s;
    uint32_t len;
    kn_tz *z = NULL;
    kn_tz_info si = { 0, false, "UTC" }, ei = { 0, false, "UTC" };

    buf[0] = 0;
    if (kn_object_uint(o, "start", &start) < 0 || kn_object_uint(o, "end", &end) < 0)
        return;
    if (kn_object_str(o, "tz", &s, &len) == 0 && len <= KN_TZ_NAME_MAX) {
        memcpy(tzname, s, len);
        tzname[len] = 0;
    }
    if (kn_tz_load(tzname, &z) == 0) {
        kn_tz_at(z, (int64_t)(start / 1000), &si);
        kn_tz_at(z, (int64_t)(end / 1000), &ei);
    } else {
        snprintf(tzname, sizeof tzname, "UTC");
    }
    fmt_local(a, sizeof a, (int64_t)(start / 1000), si.utoff, true);
    fmt_local(b, sizeof b, (int64_t)(end / 1000), ei.utoff, true);
    bool same_day = strncmp(a, b, 10) == 0;
    if (same_day)
        fmt_local(b, sizeof b, (int64_t)(end / 1000), ei.utoff, false);
    snprintf(buf, cap, "%s - %s %s (%s)", a, b, tzname, si.abbr);
    kn_tz_free(z);
}

static int put_event(kn_text *t, const kn_object *o)
{
    char when[160];
    const char *s;
    uint32_t len;
    uint64_t cap;
    kn_render_event_when(o, when, sizeof when);
    kn_text_puts(t, "<p><strong>When:</strong> ");
    kn_text_escape(t, when, strlen(when));
    kn_text_puts(t, "<br>\n");
    if (kn_object_str(o, "place", &s, &len) == 0 && len) {
        kn_text_puts(t, "<strong>Where:</strong> ");
        kn_text_escape(t, s, len);
        kn_text_puts(t, "<br>\n");
    }
    if (kn_object_str(o, "link", &s, &len) == 0) {
        kn_text_puts(t, "<strong>Online:</strong> ");
        put_link(t, s, len);
        kn_text_puts(t, "<br>\n");
    }
    if (kn_object_str(o, "group", &s, &len) == 0 && len) {
        kn_text_puts(t, "<strong>Group:</strong> ");
        kn_text_escape(t, s, len);
        kn_text_puts(t, "<br>\n");
    }
    kn_mp_in v;
    uint32_t n;
    if (kn_object_field(o, "langs", &v) == 0 && kn_mp_read_array(&v, &n) == 0 && n) {
        kn_text_puts(t, "<strong>Languages:</strong> ");
        for (uint32_t i = 0; i < n && kn_mp_read_str(&v, &s, &len) == 0; i++) {
            if (i)
                kn_text_puts(t, ", ");
            kn_text_escape(t, s, len);
        }
        kn_text_puts(t, "<br>\n");
    }
    if (kn_object_str(o, "contact", &s, &len) == 0 && len) {
        kn_text_puts(t, "<strong>Registration:</strong> ");
        kn_text_escape(t, s, len);
        kn_text_puts(t, "<br>\n");
    }
    if (kn_object_uint(o, "capacity", &cap) == 0)
        kn_text_printf(t, "<strong>Places:</strong> %llu<br>\n", (unsigned long long)cap);
    kn_text_puts(t, "</p>\n");
    return put_markdown(t, o, "description");
}

static void put_poll(kn_text *t, const kn_object *o)
{
    kn_mp_in v;
    uint32_t n, len;
    const char *s;
    uint64_t deadline;
    kn_text_puts(t, "<ol>\n");
    if (kn_object_field(o, "options", &v) == 0 && kn_mp_read_array(&v, &n) == 0)
        for (uint32_t i = 0; i < n && kn_mp_read_str(&v, &s, &len) == 0; i++) {
            kn_text_puts(t, "<li>");
            kn_text_escape(t, s, len);
            kn_text_puts(t, "</li>\n");
        }
    kn_text_puts(t, "</ol>\n");
    if (kn_object_uint(o, "deadline", &deadline) == 0) {
        char when[40];
        fmt_local(when, sizeof when, (int64_t)(deadline / 1000), 0, true);
        kn_text_printf(t, "<p>Votes until %s UTC.</p>\n", when);
    }
}

static void put_doc_files(kn_text *t, const kn_object *o)
{
    kn_mp_in v;
    uint32_t n;
    if (kn_object_field(o, "files", &v) < 0 || kn_mp_read_array(&v, &n) < 0)
        return;
    kn_text_puts(t, "<ul>\n");
    for (uint32_t i = 0; i < n; i++) {
        uint32_t m, klen, len;
        const char *k, *name = NULL;
        uint64_t size = 0;
        if (kn_mp_read_map(&v, &m) < 0)
            break;
        for (uint32_t j = 0; j < m; j++) {
            if (kn_mp_read_str(&v, &k, &klen) < 0)
                return;
            if (klen == 4 && memcmp(k, "name", 4) == 0) {
                if (kn_mp_read_str(&v, &name, &len) < 0)
                    return;
            } else if (klen == 4 && memcmp(k, "size", 4) == 0) {
                if (kn_mp_read_uint(&v, &size) < 0)
                    return;
            } else if (kn_mp_skip(&v, 2, false) < 0) {
                return;
            }
        }
        if (name) {
            kn_text_puts(t, "<li>");
            kn_text_escape(t, name, len);
            kn_text_printf(t, " (%llu bytes)</li>\n", (unsigned long long)size);
        }
    }
    kn_text_puts(t, "</ul>\n");
}

int kn_render_content_html(kn_text *t, const kn_object *o)
{
    int rc = 0;
    const char *s;
    uint32_t len;
    switch (o->type) {
    case KN_T_THREAD:
    case KN_T_POST:
        rc = put_markdown(t, o, "body");
        break;
    case KN_T_LINK:
        if (kn_object_str(o, "url", &s, &len) == 0) {
            kn_text_puts(t, "<p>");
            put_link(t, s, len);
            kn_text_puts(t, "</p>\n");
        }
        rc = put_markdown(t, o, "description");
        break;
    case KN_T_EVENT:
        rc = put_event(t, o);
        break;
    case KN_T_POLL:
        kn_text_puts(t, "<p>");
        put_field_escaped(t, o, "question");
        kn_text_puts(t, "</p>\n");
        put_poll(t, o);
        break;
    case KN_T_DOC:
        rc = put_markdown(t, o, "description");
        put_doc_files(t, o);
        break;
    default:
        break;
    }
    return rc < 0 ? rc : t->err;
}
