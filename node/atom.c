/*
 * Atom feeds (see atom.h).
 */
#include "atom.h"
#include "grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hex.h"
#include "render.h"
#include "tz.h"

static const kn_otype feed_types[]
    = { KN_T_THREAD, KN_T_POST, KN_T_LINK, KN_T_EVENT, KN_T_POLL, KN_T_DOC };

void kn_atom_time(char *buf, size_t cap, uint64_t ms)
{
    int64_t t = (int64_t)(ms / 1000), days = t / 86400, sod = t % 86400, y;
    unsigned m, d;
    kn_civil_from_days(days, &y, &m, &d);
    snprintf(buf, cap, "%04d-%02u-%02uT%02u:%02u:%02uZ", (int)y, m, d, (unsigned)(sod / 3600),
        (unsigned)(sod % 3600 / 60), (unsigned)(sod % 60));
}

/* An entry to write: the newest version of an object, and its first version. */
typedef struct entry {
    uint8_t id[KN_ID]; /* newest version */
    uint8_t first[KN_ID];
    uint64_t updated, published;
} entry;

typedef struct collect {
    kn_store *s;
    entry *e;
    size_t n, cap, want, of_type;
    int err;
} collect;

static int collect_visit(void *arg, const kn_object *o)
{
    collect *c = arg;
    kn_versions v;
    if (kn_store_versions(c->s, o->id, &v) < 0 || memcmp(kn_versions_newest(&v), o->id, KN_ID) != 0)
        return 0; /* an earlier version: its newest is listed in its place */
    if (c->n == c->cap) {
        entry *ne = kn_grow(c->e, &c->cap, 64, sizeof *ne);
        if (!ne) {
            c->err = KN_ENOMEM;
            return 1;
        }
        c->e = ne;
    }
    entry *e = &c->e[c->n++];
    memcpy(e->id, o->id, KN_ID);
    memcpy(e->first, v.id[0], KN_ID);
    e->updated = o->created;
    e->published = v.created[0];
    return ++c->of_type >= c->want ? 1 : 0;
}

/* Newest first; ties by id, so the order never depends on the walk. */
static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->updated != y->updated)
        return x->updated > y->updated ? -1 : 1;
    return memcmp(y->id, x->id, KN_ID);
}

/* Percent-encodes everything but unreserved characters (RFC 3986) for an IRI's last part. */
static void put_pct(kn_text *t, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
            || c == '.' || c == '_' || c == '~')
            kn_text_put(t, s + i, 1);
        else
            kn_text_printf(t, "%%%02X", c);
    }
}

/* A title for the entry: the object's own, "Re: thread" for a reply, "Poll: ..." for a poll. */
static void entry_title(kn_store *s, const kn_object *o, char *buf, size_t cap)
{
    char t[400];
    kn_render_title(o, t, sizeof t);
    if (o->type == KN_T_POLL) {
        snprintf(buf, cap, "Poll: %s", t);
    } else if (o->type == KN_T_POST && o->nrefs >= 1) {
        kn_versions v;
        uint8_t *raw = NULL;
        size_t len;
        kn_object th;
        t[0] = 0;
        if (kn_store_versions(s, o->refs[0], &v) == 0
            && kn_store_get(s, kn_versions_newest(&v), &raw, &len) == 0
            && kn_object_decode(&th, raw, len) == 0)
            kn_render_title(&th, t, sizeof t);
        free(raw);
        snprintf(buf, cap, "Re: %s", t[0] ? t : "(retracted thread)");
    } else {
        snprintf(buf, cap, "%s", t);
    }
}

static int write_entry(
    kn_text *t, kn_store *s, const kn_directory *dir, const entry *e, const kn_atom_options *opt)
{
    uint8_t *raw = NULL;
    size_t len;
    kn_object o;
    char hex[65], when[32], title[500], who[300];
    const char *url;
    uint32_t ulen;
    kn_text html;
    int rc = kn_store_get(s, e->id, &raw, &len);
    if (rc < 0 || (rc = kn_object_decode(&o, raw, len)) < 0) {
        free(raw);
        return rc;
    }
    kn_text_puts(t, "<entry>\n");
    kn_hex_encode(hex, e->first, KN_ID);
    kn_text_printf(t, "<id>urn:knoten:object:%s</id>\n", hex);
    entry_title(s, &o, title, sizeof title);
    kn_text_puts(t, "<title type=\"text\">");
    kn_text_escape(t, title, strlen(title));
    kn_text_puts(t, "</title>\n");
    kn_atom_time(when, sizeof when, e->updated);
    kn_text_printf(t, "<updated>%s</updated>\n", when);
    kn_atom_time(when, sizeof when, e->published);
    kn_text_printf(t, "<published>%s</published>\n", when);
    kn_text_puts(t, "<author><name>");
    kn_directory_label(dir, o.author, who, sizeof who);
    kn_text_escape(t, who, strlen(who));
    kn_text_puts(t, "</name></author>\n");
    if ((o.type == KN_T_LINK && kn_object_str(&o, "url", &url, &ulen) == 0)
        || (o.type == KN_T_EVENT && kn_object_str(&o, "link", &url, &ulen) == 0)) {
        kn_text_puts(t, "<link rel=\"alternate\" href=\"");
        kn_text_escape(t, url, ulen);
        kn_text_puts(t, "\"/>\n");
    } else if (opt->base_url) {
        kn_hex_encode(hex, e->id, KN_ID);
        kn_text_puts(t, "<link rel=\"alternate\" href=\"");
        kn_text_escape(t, opt->base_url, strlen(opt->base_url));
        kn_text_printf(t, "/o/%s\"/>\n", hex);
    }
    kn_text_printf(t, "<category term=\"%s\"/>\n", kn_otype_name(o.type));
    kn_text_init(&html, 0);
    rc = kn_render_content_html(&html, &o);
    if (rc == 0) {
        kn_text_puts(t, "<content type=\"html\">");
        kn_text_escape(t, html.s ? html.s : "", html.len);
        kn_text_puts(t, "</content>\n");
    }
    kn_text_free(&html);
    kn_text_puts(t, "</entry>\n");
    free(raw);
    return rc < 0 ? rc : t->err;
}

/* An http(s) base address without quotes, spaces or a trailing slash. */
static bool base_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 8 || n > 1024 || b[n - 1] == '/')
        return false;
    if (strncasecmp(b, "http://", 7) != 0 && strncasecmp(b, "https://", 8) != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)b[i] <= 0x20 || b[i] == '"' || b[i] == '<' || b[i] == '>'
            || (unsigned char)b[i] == 0x7f)
            return false;
    return true;
}

int kn_atom_area(kn_store *s, const kn_directory *dir, const kn_atom_options *opt, kn_text *out)
{
    size_t want = opt->max_entries ? opt->max_entries : KN_ATOM_DEFAULT_ENTRIES;
    collect c = { .s = s, .want = want };
    uint8_t net[KN_ID];
    uint64_t k, updated = 0;
    char hex[65], when[32];
    int rc;

    if (!opt->area || !*opt->area || strlen(opt->area) > KN_SPACE_MAX || want > KN_ATOM_MAX_ENTRIES
        || (opt->base_url && !base_ok(opt->base_url)))
        return KN_EINVAL;
    if ((rc = kn_store_network_get(s, net, &k)) < 0)
        return rc;
    /* The newest `want` of each type, newest first; merged and cut below. */
    for (size_t i = 0; i < sizeof feed_types / sizeof feed_types[0]; i++) {
        kn_store_query q = {
            .index = KN_BY_SPACE_TYPE, .space = opt->area, .type = feed_types[i], .reverse = true
        };
        c.of_type = 0;
        if ((rc = kn_store_each(s, &q, collect_visit, &c)) < 0 || (rc = c.err) < 0)
            goto out;
    }
    if (c.n)
        qsort(c.e, c.n, sizeof *c.e, entry_cmp);
    if (c.n > want)
        c.n = want;
    if (c.n) {
        updated = c.e[0].updated;
    } else {
        uint8_t *raw = NULL;
        size_t len;
        kn_object o;
        if (kn_store_get(s, net, &raw, &len) == 0 && kn_object_decode(&o, raw, len) == 0)
            updated = o.created;
        free(raw);
    }

    kn_text_puts(out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    kn_hex_encode(hex, net, KN_ID);
    kn_text_printf(out, "<id>urn:knoten:%s:area:", hex);
    put_pct(out, opt->area, strlen(opt->area));
    kn_text_puts(out, "</id>\n<title type=\"text\">");
    kn_text_escape(out, opt->area, strlen(opt->area));
    kn_text_puts(out, "</title>\n");
    kn_atom_time(when, sizeof when, updated);
    kn_text_printf(out, "<updated>%s</updated>\n", when);
    kn_text_puts(out, "<generator>knoten</generator>\n");
    if (opt->base_url) {
        kn_text_puts(out, "<link rel=\"self\" href=\"");
        kn_text_escape(out, opt->base_url, strlen(opt->base_url));
        kn_text_puts(out, "/feeds/");
        put_pct(out, opt->area, strlen(opt->area));
        kn_text_puts(out, ".atom\"/>\n");
    }
    for (size_t i = 0; i < c.n && rc == 0; i++)
        rc = write_entry(out, s, dir, &c.e[i], opt);
    if (rc == 0) {
        kn_text_puts(out, "</feed>\n");
        rc = out->err;
    }
out:
    free(c.e);
    return rc;
}
