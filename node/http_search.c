/*
 * Search in the web interface and the API (docs/api.md, "Search"): the box
 * in every page's header, a results page with filters by area and type, and
 * GET /api/search. The index, the ranking and the bounds are the store's
 * (store/search.h, docs/search.md); this file only shows the hits, each with
 * a link to the page it lives on, the names of its author and council, and
 * says when no object had every word or the work bound was reached.
 *
 * Callers: http_api.c (http_search_api), http_pages.c (http_search_pages).
 */
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "hex.h"
#include "http_impl.h"
#include "search.h"

static const char *tr(const hreq *r, enum kn_text t)
{
    return http_tr(r, t);
}

/* The types a search can be narrowed to, with their labels. */
static const struct {
    const char *name;
    enum kn_text label;
} types[] = {
    { "doc", T_DOCS },
    { "thread", T_THREADS },
    { "post", T_REPLIES },
    { "link", T_LINKS },
    { "poll", T_POLLS },
    { "event", T_EVENTS },
    { "user", T_DIRECTORY },
};

/* The page of a hit: docs/ID, forum/THREAD#pID, ... (post: its thread from the store). */
static void hit_href(hreq *r, const kn_search_hit *h, char *out, size_t cap)
{
    char hex[65];
    kn_hex_encode(hex, h->id, KN_ID);
    switch (h->type) {
    case KN_T_DOC:
        snprintf(out, cap, "docs/%s", hex);
        break;
    case KN_T_THREAD:
        snprintf(out, cap, "forum/%s", hex);
        break;
    case KN_T_POST: {
        uint8_t *raw = NULL;
        size_t len;
        kn_object o;
        char t[65] = "";
        if (kn_store_get(r->n->dd->store, h->id, &raw, &len) == 0
            && kn_object_decode(&o, raw, len) == 0 && o.nrefs > 0)
            kn_hex_encode(t, o.refs[0], KN_ID);
        free(raw);
        snprintf(out, cap, "forum/%s#p%.16s", t, hex);
        break;
    }
    case KN_T_LINK:
        snprintf(out, cap, "links#l%.16s", hex);
        break;
    case KN_T_POLL:
        snprintf(out, cap, "polls/%s", hex);
        break;
    case KN_T_EVENT:
        snprintf(out, cap, "events/%s", hex);
        break;
    default: {
        char key[65];
        kn_hex_encode(key, h->author, KN_KEY);
        snprintf(out, cap, "people#u%.16s", key);
        break;
    }
    }
}

/*
 * Runs the query of the request (q, space, type, limit): 0 and res filled,
 * or an error answered. Where the store says the text has no word to search
 * for, *empty is set instead (the page then shows just the box).
 */
static int run(hreq *r, kn_search_result *res, bool *empty)
{
    const char *q = http_form_get(&r->query, "q"), *space = http_form_get(&r->query, "space"),
               *type = http_form_get(&r->query, "type"), *lim = http_form_get(&r->query, "limit");
    kn_search_query sq = { .text = q, .limit = 20 };
    *empty = false;
    memset(res, 0, sizeof *res);
    if (!q || !*q) {
        *empty = true;
        return 0;
    }
    if (space && *space) {
        if (strlen(space) > KN_SPACE_MAX) {
            http_error(r, 400, "bad_space", tr(r, T_FORM_AREA));
            return KN_EINVAL;
        }
        sq.space = space;
    }
    if (type && *type) {
        int t = kn_otype_from_name(type, strlen(type));
        if (t < 0) {
            http_error(r, 400, "bad_type", "unknown object type");
            return KN_EINVAL;
        }
        sq.type = (kn_otype)t;
    }
    if (lim && *lim) {
        char *end;
        unsigned long v = strtoul(lim, &end, 10);
        if (*end || lim[0] == '-' || v < 1 || v > 100) {
            http_error(r, 400, "bad_limit", "limit is a number from 1 to 100");
            return KN_EINVAL;
        }
        sq.limit = (uint32_t)v;
    }
    int rc = kn_store_search(r->n->dd->store, &sq, res);
    if (rc == KN_EINVAL && !sq.space && !sq.type) {
        *empty = true; /* only stop words, or single letters */
        return 0;
    }
    if (rc < 0)
        http_error(r, rc == KN_ETOOBIG || rc == KN_EUTF8 || rc == KN_EINVAL ? 400 : 500,
            "bad_query",
            rc == KN_ETOOBIG      ? tr(r, T_SEARCH_TOO_LONG)
                : rc == KN_EINVAL ? tr(r, T_SEARCH_NO_WORD)
                : rc == KN_EUTF8  ? tr(r, T_SEARCH_UTF8)
                                  : kn_strerror(rc));
    return rc;
}

static json_t *hits_json(hreq *r, const kn_search_result *res, const kn_directory *dir)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < res->n; i++) {
        const kn_search_hit *h = &res->hits[i];
        char id[65], author[65], council[65], href[200], label[300];
        kn_hex_encode(id, h->id, KN_ID);
        kn_hex_encode(author, h->author, KN_KEY);
        kn_hex_encode(council, h->council, KN_KEY);
        hit_href(r, h, href, sizeof href);
        json_t *j = json_pack("{s:s, s:s, s:I, s:f, s:s, s:s, s:s, s:s, s:s, s:s}", "id", id,
            "type", kn_otype_name(h->type), "created", (json_int_t)h->created, "score", h->score,
            "space", h->space, "title", h->title, "snippet", h->snippet, "author", author,
            "council", council, "href", href);
        json_object_set_new(
            j, "author_name", json_string(kn_directory_label(dir, h->author, label, sizeof label)));
        json_object_set_new(j, "council_name",
            json_string(kn_directory_label(dir, h->council, label, sizeof label)));
        json_array_append_new(arr, j);
    }
    return arr;
}

bool http_search_api(hreq *r)
{
    if (r->nseg != 1 || strcmp(r->seg[0], "search") != 0)
        return false;
    kn_search_result res;
    kn_directory dir;
    bool empty;
    if (!http_method_is(r, "GET") && !http_method_is(r, "HEAD")) {
        http_error(r, 405, "method", "GET /api/search?q=WORDS");
        return true;
    }
    if (run(r, &res, &empty) < 0)
        return true;
    if (empty) {
        http_error(r, 400, "bad_query", "give ?q= with at least one word to search for");
        return true;
    }
    if (kn_directory_load(r->n->dd, &dir) < 0) {
        kn_search_result_free(&res);
        http_error(r, 500, "store", "cannot read the users and councils");
        return true;
    }
    json_t *words = json_array();
    for (uint32_t i = 0; i < res.nwords; i++)
        json_array_append_new(words, json_string(res.words[i]));
    http_json(r, 200,
        json_pack("{s:o, s:I, s:b, s:b, s:o}", "hits", hits_json(r, &res, &dir), "total",
            (json_int_t)res.total, "fallback", res.fallback, "truncated", res.truncated, "words",
            words));
    kn_directory_free(&dir);
    kn_search_result_free(&res);
    return true;
}

static void search_page(hreq *r, const char *error, int status);

/* A refused query: the search page again, with the words and what to change. */
static void search_again(hreq *r, int status, const char *msg)
{
    search_page(r, msg, status);
}

/* The search box with its filters and the hits; error: the query was refused (not run). */
static void search_page(hreq *r, const char *error, int status)
{
    kn_search_result res = { 0 };
    kn_directory dir = { 0 };
    bool empty = true;
    r->form_again = search_again;
    if (!error && run(r, &res, &empty) < 0)
        return;
    r->form_again = NULL;
    const char *q = http_form_get(&r->query, "q"), *space = http_form_get(&r->query, "space"),
               *type = http_form_get(&r->query, "type");
    hbuf b = { 0 };
    http_page_begin(r, &b, tr(r, T_SEARCH));
    hb_printf(&b,
        "<h1>%s</h1><form method=\"get\" action=\"search\" class=\"row\" role=\"search\">"
        "<label for=\"search-q\">%s</label><input id=\"search-q\" name=\"q\" type=\"search\" "
        "maxlength=\"1000\" value=\"",
        tr(r, T_SEARCH), tr(r, T_SEARCH_WORDS));
    hb_escs(&b, q ? q : "");
    hb_printf(&b,
        "\"><label for=\"search-space\">%s</label><input id=\"search-space\" name=\"space\" "
        "maxlength=\"64\" value=\"",
        tr(r, T_AREA));
    hb_escs(&b, space ? space : "");
    hb_printf(&b,
        "\"><label for=\"search-type\">%s</label><select id=\"search-type\" name=\"type\">"
        "<option value=\"\">%s</option>",
        tr(r, T_TYPE), tr(r, T_ALL));
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        hb_printf(&b, "<option value=\"%s\"%s>%s</option>", types[i].name,
            type && !strcmp(type, types[i].name) ? " selected" : "", tr(r, types[i].label));
    hb_printf(&b, "</select><button type=\"submit\">%s</button></form>", tr(r, T_FIND));
    if (error)
        http_notice(&b, "error", error);
    if (!empty && kn_directory_load(r->n->dd, &dir) == 0) {
        json_t *hits = hits_json(r, &res, &dir);
        hb_printf(&b, "<p role=\"status\" id=\"search-count\">%llu %s",
            (unsigned long long)res.total, tr(r, T_SEARCH_FOUND));
        if (res.fallback)
            hb_printf(&b, " %s", tr(r, T_SEARCH_FALLBACK));
        if (res.truncated)
            hb_printf(&b, " %s", tr(r, T_SEARCH_TRUNCATED));
        hb_puts(&b, "</p><ol class=\"entries hits\">");
        size_t i;
        json_t *h;
        json_array_foreach(hits, i, h)
        {
            char when[40];
            http_fmt_time(
                when, sizeof when, (uint64_t)json_integer_value(json_object_get(h, "created")));
            const char *t = http_jstr(h, "type");
            enum kn_text label = T_TYPE_other;
            for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
                if (!strcmp(t, types[k].name))
                    label = types[k].label;
            hb_printf(&b, "<li><span class=\"tag\">%s</span> <a href=\"%s\">", tr(r, label),
                http_jstr(h, "href"));
            hb_escs(&b, *http_jstr(h, "title") ? http_jstr(h, "title") : "\xe2\x80\xa6");
            hb_puts(&b, "</a>");
            if (*http_jstr(h, "snippet")) {
                hb_puts(&b, "<p class=\"snippet\">");
                hb_escs(&b, http_jstr(h, "snippet"));
                hb_puts(&b, "</p>");
            }
            hb_puts(&b, "<p class=\"meta\">");
            http_esc_label(r, &b, http_jstr(h, "author_name"));
            hb_printf(&b, ", <time>%s</time>", when);
            if (*http_jstr(h, "space")) {
                hb_puts(&b, " \xc2\xb7 ");
                hb_escs(&b, http_jstr(h, "space"));
            }
            hb_puts(&b, "</p></li>");
        }
        hb_puts(&b, "</ol>");
        json_decref(hits);
        kn_directory_free(&dir);
    }
    kn_search_result_free(&res);
    http_page_end(r, &b, status);
}

bool http_search_pages(hreq *r)
{
    if (r->nseg != 1 || strcmp(r->seg[0], "search") != 0)
        return false;
    if (http_method_is(r, "GET") || http_method_is(r, "HEAD"))
        search_page(r, NULL, 200);
    else
        http_error(r, 405, "method", "method not allowed");
    return true;
}
