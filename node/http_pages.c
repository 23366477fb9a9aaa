/*
 * The web pages for council staff: plain HTML rendered here, a small
 * stylesheet and script from node/web/ (built into the binary), forms that
 * work without script (post, then redirect), German by default and English
 * by the switch in the header (cookie `lang`).
 *
 * Safety: every string that comes from an object, a form or the store goes
 * through hb_esc (HTML escaping of & < > " '); Markdown goes only through
 * the safe renderer; every form that changes something carries the session's
 * CSRF token; the CSP of http.c forbids inline script, so a string that got
 * through would still not run.
 *
 * Accessibility: one <main> per page with a skip link, every form control
 * has a <label>, focus is visible (app.css), colours meet WCAG AA contrast,
 * and nothing needs a mouse.
 */
#define _GNU_SOURCE /* strcasestr */
#include <string.h>
#include <strings.h>

#include "directory.h"
#include "hex.h"
#include "http_i18n.h"
#include "http_impl.h"
#include "invites.h"
#include "markdown.h"
#include "users.h"

static const char *const texts[T_COUNT][2] = {
#define KN_TEXT_ROW(id, de, en) [id] = { de, en },
    KN_TEXTS(KN_TEXT_ROW)
#undef KN_TEXT_ROW
};

const char *http_tr(const hreq *r, enum kn_text t)
{
    return texts[t][strcmp(r->lang, "en") == 0];
}

static const char *tr(const hreq *r, enum kn_text t)
{
    return http_tr(r, t);
}

/* ---- layout ---- */

void http_page_begin(hreq *r, hbuf *b, const char *title)
{
    hb_printf(b,
        "<!doctype html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>",
        r->lang);
    hb_escs(b, title);
    hb_puts(b, " \xe2\x80\x93 knoten</title><base href=\"");
    hb_escs(b, r->base);
    hb_puts(b, "/\"><link rel=\"stylesheet\" href=\"static/app.css\">");
    if (r->authed) {
        hb_puts(b, "<meta name=\"csrf\" content=\"");
        hb_escs(b, r->csrf);
        hb_puts(b, "\">");
    }
    hb_puts(b, "<script src=\"static/app.js\" defer></script></head><body>");
    hb_printf(b, "<a class=\"skip\" href=\"#main\">%s</a><header><nav aria-label=\"knoten\">",
        tr(r, T_SKIP));
    hb_puts(b, "<a class=\"brand\" href=\"./\">knoten</a>");
    if (r->authed) {
        static const struct {
            const char *href;
            enum kn_text t;
        } nav[] = { { "./", T_START }, { "areas", T_AREAS }, { "docs", T_DOCS },
            { "forum", T_FORUM }, { "links", T_LINKS }, { "polls", T_POLLS },
            { "events", T_EVENTS }, { "messages", T_MESSAGES }, { "people", T_DIRECTORY } };
        /* The section this page belongs to (its first path segment) is marked for screen readers.
         */
        const char *first = r->path[0] == '/' ? r->path + 1 : r->path;
        size_t flen = strcspn(first, "/");
        hb_puts(b, "<ul>");
        for (size_t i = 0; i < sizeof nav / sizeof nav[0]; i++) {
            bool here = i == 0 ? flen == 0
                               : strlen(nav[i].href) == flen && !strncmp(nav[i].href, first, flen);
            hb_printf(b, "<li><a href=\"%s\"%s>%s</a></li>", nav[i].href,
                here ? " aria-current=\"page\"" : "", tr(r, nav[i].t));
        }
        if (r->acct.role == KN_ROLE_ADMIN)
            hb_printf(b, "<li><a href=\"admin\"%s>%s</a></li>",
                flen == 5 && !strncmp(first, "admin", 5) ? " aria-current=\"page\"" : "",
                tr(r, T_ADMIN));
        hb_printf(b,
            "</ul><form method=\"get\" action=\"search\" role=\"search\" class=\"navsearch\">"
            "<label for=\"nav-q\" class=\"visually-hidden\">%s</label><input id=\"nav-q\" "
            "name=\"q\" type=\"search\" maxlength=\"1000\" placeholder=\"%s\">"
            "<button type=\"submit\">%s</button></form>",
            tr(r, T_SEARCH), tr(r, T_SEARCH), tr(r, T_FIND));
    }
    hb_puts(b, "<div class=\"tools\">");
    /* The switch comes back to this page (with its query), not to the start page. */
    const char *other = strcmp(r->lang, "en") ? "en" : "de";
    hb_printf(b, "<a href=\"lang?to=%s&amp;next=", other);
    hbuf here = { 0 };
    hb_puts(&here, r->path);
    if (r->req && r->req->query_at != SIZE_MAX && r->req->path.len - r->req->query_at < 2000)
        hb_printf(&here, "%.*s", (int)(r->req->path.len - r->req->query_at),
            r->req->path.base + r->req->query_at);
    hb_urlenc(b, here.oom || !here.p ? "/" : here.p);
    hb_free(&here);
    hb_printf(b, "\" lang=\"%s\">%s</a>", other, tr(r, T_LANG_SWITCH));
    if (r->authed) {
        hb_puts(b, " <span class=\"who\">");
        hb_escs(b, r->acct.login);
        hb_printf(b,
            "</span> <form method=\"post\" action=\"logout\" class=\"inline\">"
            "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
            "<button type=\"submit\">%s</button></form>",
            r->csrf, tr(r, T_LOGOUT));
    }
    hb_puts(b, "</div></nav></header><main id=\"main\" tabindex=\"-1\">");
}

void http_page_end(hreq *r, hbuf *b, int status)
{
    /* The Prometheus figures are for IT; staff would find a page of raw numbers. */
    hb_puts(b,
        r->authed && r->acct.role == KN_ROLE_ADMIN
            ? "</main><footer><p>knoten \xc2\xb7 <a href=\"metrics\">metrics</a></p></footer>"
              "</body></html>\n"
            : "</main><footer><p>knoten</p></footer></body></html>\n");
    if (b->oom) {
        hb_free(b);
        http_send(r, 500, "text/plain; charset=utf-8", "out of memory\n", 14);
        return;
    }
    http_header(r, "cache-control", "no-store");
    http_send(r, status, "text/html; charset=utf-8", b->p, b->len);
    hb_free(b);
}

void http_csrf_field(hreq *r, hbuf *b)
{
    hb_printf(b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", r->csrf);
}

void http_pages_error(hreq *r, int status, const char *msg)
{
    hbuf b = { 0 };
    http_page_begin(r, &b, tr(r, T_ERROR));
    hb_printf(&b, "<h1>%s %d</h1><p class=\"error\" role=\"alert\">", tr(r, T_ERROR), status);
    hb_escs(&b, msg);
    hb_printf(&b, "</p><p><a href=\"./\">%s</a></p>", tr(r, T_TO_START));
    http_page_end(r, &b, status);
}

void http_notice(hbuf *b, const char *cls, const char *msg)
{
    hb_printf(b, "<p class=\"%s\" role=\"%s\">", cls, strcmp(cls, "error") ? "status" : "alert");
    hb_escs(b, msg);
    hb_puts(b, "</p>");
}

/* ---- pieces of objects ---- */

const char *http_jbody(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, "body"), k));
    return s ? s : "";
}

const char *http_jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static uint64_t jtime(json_t *o)
{
    return (uint64_t)json_integer_value(json_object_get(o, "created"));
}

/*
 * One page of a listing (http_list, newest first, at most limit): the first,
 * or the one an "older entries" link asks for with ?before=MS&skip=N, the
 * entries created at or before MS without the first N created at MS (those
 * ended the previous page: several entries can share a millisecond).
 */
void http_page_bounds(hreq *r, uint64_t *before_ms, size_t *skip_n)
{
    const char *bs = http_form_get(&r->query, "before"), *ss = http_form_get(&r->query, "skip");
    char *end;
    unsigned long long before = bs && *bs && *bs != '-' ? strtoull(bs, &end, 10) : 0;
    if (before && (*end || before >= UINT64_MAX / 2))
        before = 0;
    unsigned long skip = before && ss && *ss && *ss != '-' ? strtoul(ss, &end, 10) : 0;
    if (skip && (*end || skip > 10000)) /* bounded: http_list scans at most 20000 */
        skip = 0;
    *before_ms = before;
    *skip_n = skip;
}

void http_page_drop_shown(json_t *items, uint64_t before, size_t skip)
{
    for (size_t k = 0;
         items && k < skip && json_array_size(items) && jtime(json_array_get(items, 0)) == before;
         k++)
        json_array_remove(items, 0);
}

static json_t *page_list(hreq *r, kn_store_query *q, kn_otype type, size_t limit, bool *more)
{
    uint64_t before;
    size_t skip;
    http_page_bounds(r, &before, &skip);
    q->until_ms = before ? before + 1 : 0;
    json_t *items = http_list(r, q, type, limit + skip, more);
    http_page_drop_shown(items, before, skip);
    return items;
}

/*
 * The link to the next page of a listing at path (urlencoded already, may
 * hold a query) when more: entries older than the last one shown, and those
 * of its millisecond not shown yet.
 */
void http_older_link(hreq *r, hbuf *b, const char *path, json_t *items, bool more)
{
    size_t n = json_array_size(items), same = 0;
    if (!more || !n)
        return;
    uint64_t last = jtime(json_array_get(items, n - 1));
    while (same < n && jtime(json_array_get(items, n - 1 - same)) == last)
        same++;
    const char *bs = http_form_get(&r->query, "before"), *ss = http_form_get(&r->query, "skip");
    if (bs && ss && strtoull(bs, NULL, 10) == last) /* a millisecond longer than a page */
        same += strtoul(ss, NULL, 10);
    hb_printf(b, "<p><a href=\"%s%sbefore=%llu&amp;skip=%zu\">%s</a></p>", path,
        strchr(path, '?') ? "&amp;" : "?", (unsigned long long)last, same, tr(r, T_MORE));
}

/* Markdown only through the safe renderer (node/markdown.h); if it fails, escaped text. */
void http_markdown(hbuf *b, const char *text)
{
    char *html = NULL;
    hb_puts(b, "<div class=\"md\">");
    if (kn_markdown_to_html(text, strlen(text), &html) == 0) {
        hb_puts(b, html);
    } else {
        hb_puts(b, "<pre>");
        hb_escs(b, text);
        hb_puts(b, "</pre>");
    }
    free(html);
    hb_puts(b, "</div>");
}

void http_byline(hreq *r, hbuf *b, json_t *o)
{
    char when[40];
    http_fmt_time(when, sizeof when, jtime(o));
    hb_printf(b, "<p class=\"meta\">%s ", tr(r, T_BY));
    const char *an = http_jstr(o, "author_name"), *council = http_jstr(o, "council");
    if (*an) {
        hb_escs(b, an);
        if (*council) {
            hb_puts(b, " (");
            hb_escs(b, council);
            hb_puts(b, ")");
        }
    } else if (*council) { /* signed by the council's node itself */
        hb_escs(b, council);
    } else {
        hb_printf(b, "%.12s\xe2\x80\xa6", http_jstr(o, "author"));
    }
    hb_printf(b, ", <time>%s</time>", when);
    uint8_t id[KN_ID];
    kn_versions vs;
    if (http_parse_id(http_jstr(o, "id"), id) && kn_store_versions(r->n->dd->store, id, &vs) == 0
        && vs.n > 1 && vs.self > 0) /* a new version: say so, readers may have seen the old */
        hb_printf(b, " (%s)", tr(r, T_EDITED));
    if (*http_jstr(o, "space")) {
        hb_printf(b, " \xc2\xb7 %s <a href=\"areas/", tr(r, T_AREA));
        hb_urlenc(b, http_jstr(o, "space"));
        hb_puts(b, "\">");
        hb_escs(b, http_jstr(o, "space"));
        hb_puts(b, "</a>");
    }
    hb_puts(b, "</p>");
}

static enum kn_text type_text(const char *type)
{
    if (!strcmp(type, "thread"))
        return T_TYPE_thread;
    if (!strcmp(type, "post"))
        return T_TYPE_post;
    if (!strcmp(type, "link"))
        return T_TYPE_link;
    if (!strcmp(type, "doc"))
        return T_TYPE_doc;
    if (!strcmp(type, "poll"))
        return T_TYPE_poll;
    if (!strcmp(type, "event"))
        return T_TYPE_event;
    return T_TYPE_other;
}

/* The page an object lives on; false for types without one. */
static bool object_href(json_t *o, char *out, size_t cap)
{
    const char *type = http_jstr(o, "type");
    if (!strcmp(type, "thread"))
        snprintf(out, cap, "forum/%s", http_jstr(o, "id"));
    else if (!strcmp(type, "post")) {
        const char *t = json_string_value(json_array_get(json_object_get(o, "refs"), 0));
        snprintf(out, cap, "forum/%s#p%.16s", t ? t : "", http_jstr(o, "id"));
    } else if (!strcmp(type, "link"))
        snprintf(out, cap, "links#l%.16s", http_jstr(o, "id"));
    else if (!strcmp(type, "doc"))
        snprintf(out, cap, "docs/%s", http_jstr(o, "id"));
    else if (!strcmp(type, "poll"))
        snprintf(out, cap, "polls/%s", http_jstr(o, "id"));
    else if (!strcmp(type, "event"))
        snprintf(out, cap, "events/%s", http_jstr(o, "id"));
    else
        return false;
    return true;
}

static bool is_content(const char *type)
{
    return !strcmp(type, "thread") || !strcmp(type, "post") || !strcmp(type, "link")
        || !strcmp(type, "doc") || !strcmp(type, "poll") || !strcmp(type, "event");
}

/* The first 80 bytes of text (escaped, not cutting a UTF-8 sequence), "…" if there is more. */
static void excerpt(hbuf *b, const char *text)
{
    size_t len = strlen(text), n = len > 80 ? 80 : len;
    while (n > 0 && n < len && ((unsigned char)text[n] & 0xc0) == 0x80)
        n--;
    hb_esc(b, text, n);
    if (n < len)
        hb_puts(b, "\xe2\x80\xa6");
}

/* One line of a "what is new" list. */
void http_entry_line(hreq *r, hbuf *b, json_t *o)
{
    char href[200];
    const char *type = http_jstr(o, "type");
    const char *title = http_jbody(o, "title");
    if (!*title)
        title = http_jbody(o, "question");
    hb_printf(b, "<li><span class=\"tag\">%s</span> ", tr(r, type_text(type)));
    bool link = object_href(o, href, sizeof href);
    if (link)
        hb_printf(b, "<a href=\"%s\">", href);
    if (*title)
        hb_escs(b, title);
    else
        excerpt(b, http_jbody(o, "body"));
    if (link)
        hb_puts(b, "</a>");
    http_byline(r, b, o);
    hb_puts(b, "</li>");
}

/* ---- login, activation, language ---- */

static void login_page(hreq *r, const char *error, int status)
{
    hbuf b = { 0 };
    char pre[65];
    if (!http_cookie(r, "knoten_pre", pre, sizeof pre) || strlen(pre) != 64) {
        uint8_t t[32];
        kn_env_random(r->n->env, t, sizeof t);
        kn_hex_encode(pre, t, 32);
        char cookie[320];
        snprintf(cookie, sizeof cookie, "knoten_pre=%s; Path=%s/; HttpOnly; SameSite=Strict%s", pre,
            r->base, r->https ? "; Secure" : "");
        http_header(r, "set-cookie", cookie);
    }
    http_page_begin(r, &b, tr(r, T_LOGIN));
    hb_printf(&b, "<h1>%s</h1>", tr(r, T_LOGIN));
    const char *expired = http_form_get(&r->query, "expired");
    if (error)
        http_notice(&b, "error", error);
    else if (expired && !strcmp(expired, "1"))
        http_notice(&b, "notice", tr(r, T_SESSION_EXPIRED));
    const char *next = http_form_get(&r->query, "next"),
               *login = http_method_is(r, "POST") ? http_param(r, "login") : NULL;
    hb_printf(&b,
        "<form method=\"post\" action=\"login\" class=\"stack\">"
        "<input type=\"hidden\" name=\"pre\" value=\"%s\">"
        "<input type=\"hidden\" name=\"next\" value=\"",
        pre);
    hb_escs(&b, http_local_path_ok(next) ? next : "/");
    hb_printf(&b,
        "\"><label for=\"login\">%s</label>"
        "<input id=\"login\" name=\"login\" autocomplete=\"username\" required%s "
        "maxlength=\"64\" value=\"",
        tr(r, T_LOGIN_NAME), login && *login ? "" : " autofocus");
    hb_escs(&b, login && strlen(login) <= 64 ? login : "");
    hb_printf(&b,
        "\"><label for=\"password\">%s</label>"
        "<input id=\"password\" name=\"password\" type=\"password\" "
        "autocomplete=\"current-password\" required%s maxlength=\"1024\">"
        "<button type=\"submit\">%s</button></form>",
        tr(r, T_PASSWORD), login && *login ? " autofocus" : "", tr(r, T_LOGIN));
    http_page_end(r, &b, status);
}

static void login_done(hreq *r, int status, const char *code)
{
    (void)code;
    if (status) {
        login_page(r,
            status == 429       ? tr(r, T_LOGIN_LIMITED)
                : status == 403 ? tr(r, T_LOGIN_NOKEY)
                : status == 503 ? tr(r, T_LOGIN_BUSY)
                                : tr(r, T_LOGIN_FAILED),
            status);
        return;
    }
    const char *next = http_param(r, "next");
    http_redirect(r, next ? next : "/");
}

static void login_post(hreq *r)
{
    char pre[65];
    const char *fpre = http_param(r, "pre");
    if (!http_cookie(r, "knoten_pre", pre, sizeof pre) || !fpre || strlen(fpre) != 64
        || kn_memcmp_ct(pre, fpre, 64) != 0) {
        r->h->csrf_refused++;
        login_page(r, tr(r, T_CSRF), 403);
        return;
    }
    http_auth_login(r, http_param(r, "login"), http_param(r, "password"), login_done);
}

static void activate_page(hreq *r, const char *token, const char *error, int status)
{
    hbuf b = { 0 };
    http_page_begin(r, &b, tr(r, T_ACTIVATE));
    hb_printf(&b, "<h1>%s</h1><p>%s</p>", tr(r, T_ACTIVATE), tr(r, T_ACTIVATE_INTRO));
    if (error)
        http_notice(&b, "error", error);
    hb_puts(&b,
        "<form method=\"post\" action=\"activate\" class=\"stack\">"
        "<input type=\"hidden\" name=\"t\" value=\"");
    hb_escs(&b, token ? token : "");
    hb_printf(&b,
        "\"><label for=\"password\">%s</label>"
        "<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" "
        "required minlength=\"8\" maxlength=\"1024\">"
        "<label for=\"password2\">%s</label>"
        "<input id=\"password2\" name=\"password2\" type=\"password\" "
        "autocomplete=\"new-password\" required minlength=\"8\" maxlength=\"1024\">"
        "<button type=\"submit\">%s</button></form>",
        tr(r, T_PASSWORD), tr(r, T_PASSWORD2), tr(r, T_ACTIVATE));
    http_page_end(r, &b, status);
}

static void activate_done(hreq *r, int status, const char *code)
{
    if (status) {
        activate_page(r, http_param(r, "t"),
            !strcmp(code, "weak_password") ? tr(r, T_PW_WEAK)
                : status == 503            ? tr(r, T_LOGIN_BUSY)
                                           : tr(r, T_ACTIVATE_BAD),
            status);
        return;
    }
    http_redirect(r, "/");
}

static void activate_post(hreq *r)
{
    const char *t = http_param(r, "t"), *p1 = http_param(r, "password"),
               *p2 = http_param(r, "password2");
    if (!p1 || !p2 || strcmp(p1, p2) != 0) {
        activate_page(r, t, tr(r, T_PW_MISMATCH), 400);
        return;
    }
    http_auth_activate(r, t, p1, activate_done);
}

static void lang_switch(hreq *r)
{
    const char *to = http_form_get(&r->query, "to");
    if (!to || (strcmp(to, "de") && strcmp(to, "en")))
        to = "de";
    char cookie[240];
    snprintf(cookie, sizeof cookie, "lang=%s; Path=%s/; SameSite=Strict; Max-Age=31536000%s", to,
        r->base, r->https ? "; Secure" : "");
    http_header(r, "set-cookie", cookie);
    if (r->authed) {
        snprintf(r->acct.lang, sizeof r->acct.lang, "%s", to);
        http_ignore(kn_account_put(r->n->dd->store, &r->acct));
    }
    const char *next = http_form_get(&r->query, "next");
    http_redirect(r, next && http_local_path_ok(next) ? next : "/");
}

/* ---- start, areas ---- */

static void start_page(hreq *r)
{
    hbuf b = { 0 };
    http_page_begin(r, &b, tr(r, T_START));
    hb_printf(&b, "<h1>%s, ", tr(r, T_WELCOME));
    kn_directory dir; /* the person's name, as colleagues see it; the login if none */
    const kn_user_entry *me = NULL;
    bool have_dir = kn_directory_load(r->n->dd, &dir) == 0;
    if (have_dir)
        me = kn_directory_user(&dir, r->acct.user);
    hb_escs(&b, me && me->name[0] ? me->name : r->acct.login);
    if (have_dir)
        kn_directory_free(&dir);
    hb_puts(&b, "</h1>");
    uint64_t since = r->acct.prev_visit_ms;
    kn_store_query q = { .index = KN_BY_TIME, .reverse = true, .since_ms = since ? since + 1 : 0 };
    bool more = false;
    json_t *items = http_list(r, &q, 0, 200, &more);
    size_t shown = 0;
    hb_printf(&b, "<section aria-labelledby=\"new\"><h2 id=\"new\">%s</h2>",
        since ? tr(r, T_NEW_SINCE) : tr(r, T_RECENT));
    hb_puts(&b, "<ul class=\"entries\">");
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        if (!is_content(http_jstr(o, "type")) || shown == 50)
            continue;
        http_entry_line(r, &b, o);
        shown++;
    }
    hb_puts(&b, "</ul>");
    if (!shown)
        hb_printf(&b, "<p>%s</p>", tr(r, T_NOTHING_NEW));
    hb_puts(&b, "</section>");
    json_decref(items);
    http_page_end(r, &b, 200);
}

static int area_visit(void *ctx, const kn_object *o)
{
    json_t *counts = ctx;
    if (!o->space_len)
        return 0;
    char sp[KN_SPACE_MAX + 1];
    snprintf(sp, sizeof sp, "%.*s", (int)o->space_len, o->space);
    json_t *c = json_object_get(counts, sp);
    json_object_set_new(counts, sp, json_integer(c ? json_integer_value(c) + 1 : 1));
    return json_object_size(counts) > 1000 ? 1 : 0;
}

static void areas_page(hreq *r)
{
    hbuf b = { 0 };
    json_t *counts = json_object();
    kn_store_query q = { .index = KN_BY_TIME, .reverse = true };
    http_ignore(kn_store_each(r->n->dd->store, &q, area_visit, counts));
    http_page_begin(r, &b, tr(r, T_AREAS));
    hb_printf(&b, "<h1>%s</h1><ul class=\"areas\">", tr(r, T_AREAS));
    const char *k;
    json_t *v;
    json_object_foreach(counts, k, v)
    {
        hb_puts(&b, "<li><a href=\"areas/");
        hb_urlenc(&b, k);
        hb_puts(&b, "\">");
        hb_escs(&b, k);
        hb_printf(&b, "</a> <span class=\"count\">%lld %s</span></li>",
            (long long)json_integer_value(v),
            tr(r, json_integer_value(v) == 1 ? T_OBJECT_ONE : T_OBJECTS));
    }
    hb_puts(&b, "</ul>");
    if (!json_object_size(counts))
        hb_printf(&b, "<p>%s</p>", tr(r, T_NO_AREAS));
    json_decref(counts);
    http_page_end(r, &b, 200);
}

static void area_page(hreq *r, const char *space)
{
    if (strlen(space) > KN_SPACE_MAX) {
        http_error(r, 404, "not_found", tr(r, T_NOT_FOUND));
        return;
    }
    hbuf b = { 0 };
    http_page_begin(r, &b, space);
    hb_printf(&b, "<h1>%s: ", tr(r, T_AREA));
    hb_escs(&b, space);
    hb_puts(&b, "</h1>");
    kn_store_query q = { .index = KN_BY_SPACE_TYPE, .space = space, .reverse = true };
    bool more = false;
    json_t *items = page_list(r, &q, 0, 100, &more);
    hb_puts(&b, "<ul class=\"entries\">");
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        if (is_content(http_jstr(o, "type")))
            http_entry_line(r, &b, o);
    }
    hb_puts(&b, "</ul>");
    hbuf path = { 0 };
    hb_puts(&path, "areas/");
    hb_urlenc(&path, space);
    http_older_link(r, &b, path.p ? path.p : "areas", items, more);
    hb_free(&path);
    json_decref(items);
    hb_puts(&b, "<p><a class=\"button\" href=\"forum/new?space=");
    hb_urlenc(&b, space);
    hb_printf(&b, "\">%s</a></p>", tr(r, T_NEW_THREAD));
    http_page_end(r, &b, 200);
}

/* ---- forum ---- */

void http_input(
    hreq *r, hbuf *b, const char *name, enum kn_text label, const char *attrs, const char *value)
{
    hb_printf(b, "<label for=\"%s\">%s</label><input id=\"%s\" name=\"%s\" %s value=\"", name,
        tr(r, label), name, name, attrs);
    hb_escs(b, value);
    hb_puts(b, "\">");
}

void http_area_field(hreq *r, hbuf *b, const char *value)
{
    hb_printf(b,
        "<label for=\"space\">%s</label><input id=\"space\" name=\"space\" required "
        "maxlength=\"64\" placeholder=\"%s\" value=\"",
        tr(r, T_AREA), tr(r, T_SPACE_HINT));
    hb_escs(b, value ? value : "");
    hb_puts(b, "\">");
}

void http_markdown_field(
    hreq *r, hbuf *b, const char *id, enum kn_text label, bool required, const char *value)
{
    hb_printf(b,
        "<label for=\"%s\">%s</label><textarea id=\"%s\" name=\"body\" rows=\"8\" "
        "maxlength=\"32000\" data-preview=\"%s-preview\"%s>",
        id, tr(r, label), id, id, required ? " required" : "");
    hb_escs(b, value ? value : "");
    hb_printf(b,
        "</textarea><button type=\"button\" class=\"secondary\" data-preview-for=\"%s\">%s"
        "</button><div id=\"%s-preview\" class=\"preview md\" aria-live=\"polite\" "
        "hidden></div>",
        id, tr(r, T_PREVIEW), id);
}

static void forum_page(hreq *r)
{
    hbuf b = { 0 };
    http_page_begin(r, &b, tr(r, T_FORUM));
    hb_printf(&b, "<h1>%s</h1><p><a class=\"button\" href=\"forum/new\">%s</a></p>", tr(r, T_FORUM),
        tr(r, T_NEW_THREAD));
    kn_store_query q = { .index = KN_BY_TIME, .reverse = true };
    bool more = false;
    json_t *items = page_list(r, &q, KN_T_THREAD, 100, &more);
    hb_puts(&b, "<ul class=\"entries\">");
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        http_entry_line(r, &b, o);
    }
    hb_puts(&b, "</ul>");
    http_older_link(r, &b, "forum", items, more);
    if (!json_array_size(items))
        hb_printf(&b, "<p>%s</p>", tr(r, T_NO_THREADS));
    json_decref(items);
    http_page_end(r, &b, 200);
}

const char *http_label_tr(hreq *r, const char *label, char *out, size_t cap)
{
    static const char founding[] = "founding council ";
    const char *f;
    size_t n = 0;
    out[0] = 0;
    while ((f = strstr(label, founding)) != NULL && n < cap) {
        n += (size_t)snprintf(
            out + n, cap - n, "%.*s%s ", (int)(f - label), label, tr(r, T_FOUNDING_COUNCIL));
        label = f + sizeof founding - 1;
    }
    if (n < cap)
        snprintf(out + n, cap - n, "%s", label);
    return out;
}

void http_esc_label(hreq *r, hbuf *b, const char *label)
{
    char buf[400];
    hb_escs(b, http_label_tr(r, label, buf, sizeof buf));
}

const char *http_sent_value(hreq *r, bool sent, const char *key)
{
    const char *v = sent ? http_param(r, key) : NULL;
    return v ? v : "";
}

static void thread_new_page(hreq *r, const char *error, int status)
{
    hbuf b = { 0 };
    bool sent = error != NULL;
    http_page_begin(r, &b, tr(r, T_NEW_THREAD));
    hb_printf(&b, "<h1>%s</h1>", tr(r, T_NEW_THREAD));
    if (error)
        http_notice(&b, "error", error);
    hb_puts(&b, "<form method=\"post\" action=\"forum\" class=\"stack\">");
    http_csrf_field(r, &b);
    http_area_field(
        r, &b, sent ? http_sent_value(r, sent, "space") : http_form_get(&r->query, "space"));
    http_input(
        r, &b, "title", T_TITLE, "required maxlength=\"300\"", http_sent_value(r, sent, "title"));
    http_markdown_field(r, &b, "body", T_TEXT, false, http_sent_value(r, sent, "body"));
    http_input(r, &b, "tags", T_TAGS, "maxlength=\"2000\"", http_sent_value(r, sent, "tags"));
    hb_printf(&b, "<button type=\"submit\">%s</button></form>", tr(r, T_PUBLISH));
    http_page_end(r, &b, status);
}

static bool publish_from_form(hreq *r, kn_otype type, const char *space, const uint8_t (*refs)[32],
    uint32_t nrefs, const char *const *keys, size_t nkeys, char idhex[65], const char **why);

static void thread_create(hreq *r)
{
    static const char *const keys[] = { "title", "body", "tags" };
    char id[65];
    const char *why;
    const char *space = http_param(r, "space");
    if (!publish_from_form(r, KN_T_THREAD, space, NULL, 0, keys, 3, id, &why)) {
        if (!r->responded)
            thread_new_page(r, why, 400);
        return;
    }
    char loc[80];
    snprintf(loc, sizeof loc, "/forum/%s", id);
    http_redirect(r, loc);
}

/* ---- withdrawing (retracting) one's own objects, after a confirmation ---- */

/* True if idhex (64 hex digits) has a newer version than itself. */
static bool has_newer(hreq *r, const char *idhex)
{
    uint8_t id[KN_ID];
    kn_versions vs;
    return http_parse_id(idhex, id) && kn_store_versions(r->n->dd->store, id, &vs) == 0
        && memcmp(kn_versions_newest(&vs), id, KN_ID) != 0;
}

void http_retract_link(hreq *r, hbuf *b, json_t *o)
{
    char me[65];
    kn_hex_encode(me, r->acct.user, 32);
    if (strcmp(me, http_jstr(o, "author")) != 0 || has_newer(r, http_jstr(o, "id")))
        return;
    hb_printf(b, "<a class=\"button danger\" href=\"%s/%s/retract\">%s</a>",
        strcmp(http_jstr(o, "type"), "doc") ? "objects" : "docs", http_jstr(o, "id"),
        tr(r, T_RETRACT));
}

/* Where Cancel leads: the object's page (a reply: on the newest version of its thread). */
static void retract_cancel_href(hreq *r, json_t *o, char *out, size_t cap)
{
    uint8_t t[KN_ID];
    kn_versions vs;
    const char *thread = json_string_value(json_array_get(json_object_get(o, "refs"), 0));
    if (!object_href(o, out, cap))
        snprintf(out, cap, "./");
    if (!strcmp(http_jstr(o, "type"), "post") && thread && http_parse_id(thread, t)
        && kn_store_versions(r->n->dd->store, t, &vs) == 0) {
        char hex[65];
        kn_hex_encode(hex, kn_versions_newest(&vs), KN_ID);
        snprintf(out, cap, "forum/%s#p%.16s", hex, http_jstr(o, "id"));
    }
}

void http_retract_page(hreq *r, const char *idhex, kn_otype type)
{
    uint8_t id[KN_ID], *raw;
    kn_object o;
    kn_versions vs;
    if (http_load(r, idhex, type, id, &raw, &o) < 0)
        return;
    bool mine = memcmp(o.author, r->acct.user, KN_KEY) == 0;
    json_t *j = mine ? http_object_json(r, &o) : NULL;
    free(raw);
    if (!mine) {
        http_error(r, 403, "not_author", tr(r, T_EDIT_NOT_AUTHOR));
        return;
    }
    size_t nversions = 1;
    if (kn_store_versions(r->n->dd->store, id, &vs) == 0) {
        nversions = vs.n;
        if (memcmp(kn_versions_newest(&vs), id, KN_ID) != 0) {
            /* An older version's link: confirm on the newest, whose title people know. */
            char loc[120], hex[65];
            kn_hex_encode(hex, kn_versions_newest(&vs), KN_ID);
            snprintf(
                loc, sizeof loc, "/%s/%s/retract", o.type == KN_T_DOC ? "docs" : "objects", hex);
            json_decref(j);
            http_redirect(r, loc);
            return;
        }
    }
    const char *otype = http_jstr(j, "type"), *title = http_jbody(j, "title");
    bool poll = !strcmp(otype, "poll");
    char cancel[200];
    retract_cancel_href(r, j, cancel, sizeof cancel);
    hbuf b = { 0 };
    http_page_begin(r, &b, tr(r, T_RETRACT_HEAD));
    hb_printf(&b, "<h1>%s</h1><p>%s</p><dl class=\"meta\"><dt>%s</dt><dd>%s</dd>",
        tr(r, T_RETRACT_HEAD), tr(r, T_RETRACT_WHAT), tr(r, T_TYPE), tr(r, type_text(otype)));
    if (poll || *title) {
        hb_printf(&b, "<dt>%s</dt><dd>", tr(r, poll ? T_QUESTION : T_TITLE));
        hb_escs(&b, poll ? http_jbody(j, "question") : title);
    } else {
        hb_printf(&b, "<dt>%s</dt><dd>", tr(r, T_RETRACT_TEXT));
        excerpt(&b, http_jbody(j, "body"));
    }
    hb_printf(&b, "</dd><dt>%s</dt><dd>", tr(r, T_AREA));
    hb_escs(&b, http_jstr(j, "space"));
    hb_printf(&b, "</dd><dt>%s</dt><dd>%zu</dd></dl>", tr(r, T_VERSIONS), nversions);
    hb_printf(&b, "<p class=\"error\" id=\"retract-warning\"><strong>%s</strong></p>",
        tr(r, T_RETRACT_WARN));
    hb_printf(&b, "<form method=\"post\" action=\"%s/%s/retract\" class=\"stack\">",
        o.type == KN_T_DOC ? "docs" : "objects", idhex);
    http_csrf_field(r, &b);
    hb_puts(&b, "<input type=\"hidden\" name=\"confirm\" value=\"1\">");
    http_input(r, &b, "reason", T_RETRACT_REASON, "maxlength=\"1000\"", "");
    hb_printf(&b,
        "<p class=\"row\"><button type=\"submit\" class=\"danger strong\" "
        "aria-describedby=\"retract-warning\">%s</button> "
        "<a class=\"button secondary\" href=\"%s\">%s</a></p></form>",
        tr(r, T_RETRACT), cancel, tr(r, T_CANCEL));
    json_decref(j);
    http_page_end(r, &b, 200);
}

bool http_retract_confirmed(hreq *r, const char *idhex, kn_otype type)
{
    const char *c = http_param(r, "confirm");
    uint8_t id[KN_ID];
    if (c && !strcmp(c, "1"))
        return true;
    if (!http_parse_id(idhex, id)) {
        http_error(r, 400, "bad_id", r->api ? "an id is 64 hex digits" : http_tr(r, T_BAD_ID));
        return false;
    }
    hbuf b = { 0 };
    http_page_begin(r, &b, tr(r, T_RETRACT_HEAD));
    hb_printf(&b, "<h1>%s</h1>", tr(r, T_RETRACT_HEAD));
    http_notice(&b, "error", tr(r, T_RETRACT_UNCONFIRMED));
    hb_printf(&b, "<p><a class=\"button\" href=\"%s/%s/retract\">%s</a></p>",
        type == KN_T_DOC ? "docs" : "objects", idhex, tr(r, T_RETRACT_GO_CONFIRM));
    http_page_end(r, &b, 400);
    return false;
}

/* For the signed-in person's own object o (the newest version): an edit link and a retract link. */
static void own_actions(hreq *r, hbuf *b, json_t *o)
{
    char me[65];
    kn_hex_encode(me, r->acct.user, 32);
    if (strcmp(me, http_jstr(o, "author")) != 0)
        return;
    hb_printf(b, "<p class=\"row\"><a class=\"button secondary\" href=\"objects/%s/edit\">%s</a> ",
        http_jstr(o, "id"), tr(r, T_EDIT));
    http_retract_link(r, b, o);
    hb_puts(b, "</p>");
}

static void thread_page(hreq *r, const char *idhex, const char *error)
{
    uint8_t id[32];
    uint8_t *raw;
    kn_object t;
    if (http_load(r, idhex, KN_T_THREAD, id, &raw, &t) < 0)
        return;
    json_t *tj = http_object_json(r, &t);
    free(raw);
    hbuf b = { 0 };
    http_page_begin(r, &b, http_jbody(tj, "title"));
    hb_puts(&b, "<article class=\"thread\"><h1>");
    hb_escs(&b, http_jbody(tj, "title"));
    hb_puts(&b, "</h1>");
    http_byline(r, &b, tj);
    kn_versions vs;
    char newest[65];
    if (kn_store_versions(r->n->dd->store, id, &vs) == 0
        && memcmp(kn_versions_newest(&vs), id, KN_ID) != 0) {
        kn_hex_encode(newest, kn_versions_newest(&vs), KN_ID);
        hb_printf(&b, "<p class=\"error\" role=\"status\">%s <a href=\"forum/%s\">%s</a></p>",
            tr(r, T_OLD_VERSION), newest, tr(r, T_NEWEST_VERSION));
        http_markdown(&b, http_jbody(tj, "body"));
    } else {
        http_markdown(&b, http_jbody(tj, "body"));
        own_actions(r, &b, tj);
    }
    hb_puts(&b, "</article>");
    json_t *posts = http_thread_posts(r, id, 1000);
    hb_printf(&b, "<section aria-labelledby=\"replies\"><h2 id=\"replies\">%s (%zu)</h2>",
        tr(r, T_REPLIES), json_array_size(posts));
    size_t i;
    json_t *o;
    json_array_foreach(posts, i, o)
    {
        hb_printf(&b, "<article class=\"post\" id=\"p%.16s\">", http_jstr(o, "id"));
        http_byline(r, &b, o);
        http_markdown(&b, http_jbody(o, "body"));
        own_actions(r, &b, o);
        hb_puts(&b, "</article>");
    }
    if (!json_array_size(posts))
        hb_printf(&b, "<p>%s</p>", tr(r, T_NO_REPLIES));
    json_decref(posts);
    hb_printf(&b, "</section><section aria-labelledby=\"reply\"><h2 id=\"reply\">%s</h2>",
        tr(r, T_REPLY));
    if (error)
        http_notice(&b, "error", error);
    hb_printf(&b, "<form method=\"post\" action=\"forum/%s/reply\" class=\"stack\">", idhex);
    http_csrf_field(r, &b);
    http_markdown_field(
        r, &b, "reply-body", T_YOUR_REPLY, true, http_sent_value(r, error != NULL, "body"));
    hb_printf(&b, "<button type=\"submit\">%s</button></form></section>", tr(r, T_REPLY));
    json_decref(tj);
    http_page_end(r, &b, error ? 400 : 200);
}

static void thread_reply(hreq *r, const char *idhex)
{
    static const char *const keys[] = { "body" };
    uint8_t refs[2][32], *raw;
    kn_object t;
    if (http_load(r, idhex, KN_T_THREAD, refs[0], &raw, &t) < 0)
        return;
    char space[KN_SPACE_MAX + 1], id[65];
    snprintf(space, sizeof space, "%.*s", (int)t.space_len, t.space);
    free(raw);
    memcpy(refs[1], refs[0], 32);
    const char *why;
    if (!publish_from_form(r, KN_T_POST, space, (const uint8_t(*)[32])refs, 2, keys, 1, id, &why)) {
        if (!r->responded)
            thread_page(r, idhex, why);
        return;
    }
    char loc[120];
    snprintf(loc, sizeof loc, "/forum/%s#p%.16s", idhex, id);
    http_redirect(r, loc);
}

/* ---- links ---- */

static void links_page(hreq *r, const char *error, int status)
{
    hbuf b = { 0 };
    http_page_begin(r, &b, tr(r, T_LINKS));
    hb_printf(&b, "<h1>%s</h1>", tr(r, T_LINKS));
    kn_store_query q = { .index = KN_BY_TIME, .reverse = true };
    bool more = false;
    json_t *items = page_list(r, &q, KN_T_LINK, 100, &more);
    hb_puts(&b, "<ul class=\"entries\">");
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        hb_printf(&b, "<li id=\"l%.16s\"><a href=\"", http_jstr(o, "id"));
        hb_escs(&b, http_jbody(o, "url")); /* the schema allows only http(s) URLs */
        hb_puts(&b, "\" rel=\"noopener noreferrer\" target=\"_blank\">");
        hb_escs(&b, http_jbody(o, "title"));
        hb_puts(&b, "</a>");
        if (*http_jbody(o, "description")) {
            hb_puts(&b, "<p>");
            hb_escs(&b, http_jbody(o, "description"));
            hb_puts(&b, "</p>");
        }
        http_byline(r, &b, o);
        own_actions(r, &b, o);
        hb_puts(&b, "</li>");
    }
    hb_puts(&b, "</ul>");
    http_older_link(r, &b, "links", items, more);
    if (!json_array_size(items))
        hb_printf(&b, "<p>%s</p>", tr(r, T_NO_LINKS));
    json_decref(items);
    hb_printf(
        &b, "<section aria-labelledby=\"newlink\"><h2 id=\"newlink\">%s</h2>", tr(r, T_NEW_LINK));
    if (error)
        http_notice(&b, "error", error);
    hb_puts(&b, "<form method=\"post\" action=\"links\" class=\"stack\">");
    http_csrf_field(r, &b);
    bool sent = error != NULL;
    http_area_field(r, &b, http_sent_value(r, sent, "space"));
    http_input(
        r, &b, "title", T_TITLE, "required maxlength=\"300\"", http_sent_value(r, sent, "title"));
    http_input(r, &b, "url", T_URL, "type=\"url\" required maxlength=\"2048\"",
        http_sent_value(r, sent, "url"));
    hb_printf(&b,
        "<label for=\"description\">%s</label><textarea id=\"description\" "
        "name=\"description\" rows=\"3\" maxlength=\"4000\">",
        tr(r, T_DESCRIPTION));
    hb_escs(&b, http_sent_value(r, sent, "description"));
    hb_puts(&b, "</textarea>");
    http_input(r, &b, "tags", T_TAGS, "maxlength=\"2000\"", http_sent_value(r, sent, "tags"));
    hb_printf(&b, "<button type=\"submit\">%s</button></form></section>", tr(r, T_PUBLISH));
    http_page_end(r, &b, status);
}

static void link_create(hreq *r)
{
    static const char *const keys[] = { "title", "url", "description", "tags" };
    char id[65];
    const char *why;
    if (!publish_from_form(r, KN_T_LINK, http_param(r, "space"), NULL, 0, keys, 4, id, &why)) {
        if (!r->responded)
            links_page(r, why, 400);
        return;
    }
    char loc[80];
    snprintf(loc, sizeof loc, "/links#l%.16s", id);
    http_redirect(r, loc);
}

/* ---- editing and retracting one's own threads, replies and links ---- */

/* "/forum/NEWEST" for the newest version of thread id into loc (cap bytes). */
static void thread_loc(hreq *r, const uint8_t id[KN_ID], char *loc, size_t cap)
{
    kn_versions vs;
    char hex[65];
    kn_hex_encode(hex,
        kn_store_versions(r->n->dd->store, id, &vs) == 0 ? kn_versions_newest(&vs) : id, KN_ID);
    snprintf(loc, cap, "/forum/%s", hex);
}

/* A form field as sent (after a refused save) or the object's (o's body), "" if neither. */
static const char *edit_value(hreq *r, json_t *o, const char *key, bool sent)
{
    const char *v = sent ? http_param(r, key) : http_jbody(o, key);
    return v ? v : "";
}

/*
 * GET /objects/ID/edit: the form for a new version of the signed-in
 * person's own thread, reply or link (http_edit_base: 403 for someone
 * else's, 409 for a version that is no longer the newest), filled with it,
 * or after a refused save (error) with what was sent. Posts to itself.
 */
static void edit_page(hreq *r, const char *idhex, const char *error)
{
    uint8_t *raw;
    kn_object o;
    if (http_edit_base(r, idhex, 0, NULL, &raw, &o) < 0)
        return;
    kn_otype type = o.type;
    json_t *j = http_object_json(r, &o);
    free(raw);
    if (type != KN_T_THREAD && type != KN_T_POST && type != KN_T_LINK) {
        json_decref(j);
        char loc[100];
        snprintf(loc, sizeof loc, "/events/%s/edit", idhex); /* events have their own form */
        if (type == KN_T_EVENT)
            http_redirect(r, loc);
        else
            http_error(r, 404, "not_found", tr(r, T_NOT_FOUND));
        return;
    }
    enum kn_text head = type == KN_T_THREAD ? T_EDIT_THREAD
        : type == KN_T_POST                 ? T_EDIT_POST
                                            : T_EDIT_LINK;
    hbuf b = { 0 }, tags = { 0 };
    if (error) {
        hb_puts(&tags, edit_value(r, j, "tags", true));
    } else {
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(json_object_get(j, "body"), "tags"), i, t)
        {
            hb_puts(&tags, i ? ", " : "");
            hb_puts(&tags, json_is_string(t) ? json_string_value(t) : "");
        }
    }
    bool sent = error != NULL;
    http_page_begin(r, &b, tr(r, head));
    hb_printf(&b, "<h1>%s</h1>", tr(r, head));
    if (error)
        http_notice(&b, "error", error);
    hb_printf(&b, "<form method=\"post\" action=\"objects/%s/edit\" class=\"stack\">", idhex);
    http_csrf_field(r, &b);
    hb_printf(&b, "<p>%s: ", tr(r, T_AREA));
    hb_escs(&b, http_jstr(j, "space"));
    hb_puts(&b, "</p>");
    if (type != KN_T_POST)
        http_input(
            r, &b, "title", T_TITLE, "required maxlength=\"300\"", edit_value(r, j, "title", sent));
    if (type == KN_T_LINK) {
        http_input(r, &b, "url", T_URL, "type=\"url\" required maxlength=\"2048\"",
            edit_value(r, j, "url", sent));
        hb_printf(&b,
            "<label for=\"description\">%s</label><textarea id=\"description\" "
            "name=\"description\" rows=\"3\" maxlength=\"4000\">",
            tr(r, T_DESCRIPTION));
        hb_escs(&b, edit_value(r, j, "description", sent));
        hb_puts(&b, "</textarea>");
    } else {
        http_markdown_field(r, &b, "body", type == KN_T_POST ? T_YOUR_REPLY : T_TEXT,
            type == KN_T_POST, edit_value(r, j, "body", sent));
    }
    if (type != KN_T_POST)
        http_input(r, &b, "tags", T_TAGS, "maxlength=\"2000\"", tags.p ? tags.p : "");
    hb_printf(&b, "<button type=\"submit\">%s</button></form>", tr(r, T_EVENT_SAVE));
    hb_free(&tags);
    json_decref(j);
    http_page_end(r, &b, error ? 400 : 200);
}

static bool publish_from_form(hreq *r, kn_otype type, const char *space, const uint8_t (*refs)[32],
    uint32_t nrefs, const char *const *keys, size_t nkeys, char idhex[65], const char **why);

/*
 * POST /objects/ID/edit: signs the new version as `knoten thread|post|link
 * --edit` does (the same fields; refs: the version it replaces, for a reply
 * after its thread and parent), through the same form path as a new one.
 * Fields "space" (and for a reply "thread") may repeat the old place but not
 * change it: 400.
 */
static void edit_post(hreq *r, const char *idhex)
{
    static const char *const thread_keys[] = { "title", "body", "tags" },
                             *const link_keys[] = { "title", "url", "description", "tags" },
                             *const post_keys[] = { "body" };
    uint8_t *raw, refs[3][32];
    kn_object o;
    char space[KN_SPACE_MAX + 1], id[65], loc[200];
    const char *why;
    if (http_edit_base(r, idhex, 0, http_param(r, "space"), &raw, &o) < 0)
        return;
    kn_otype type = o.type;
    bool ok = type == KN_T_THREAD || type == KN_T_LINK
        || (type == KN_T_POST && http_post_edit_refs(r, http_param(r, "thread"), NULL, &o, refs));
    snprintf(space, sizeof space, "%.*s", (int)o.space_len, o.space);
    if (type != KN_T_POST)
        memcpy(refs[0], o.id, KN_ID);
    else if (ok)
        thread_loc(r, o.refs[0], loc, sizeof loc);
    free(raw);
    if (!ok) {
        if (!r->responded)
            http_error(r, 404, "not_found", tr(r, T_NOT_FOUND));
        return;
    }
    const char *const *keys = type == KN_T_THREAD ? thread_keys
        : type == KN_T_LINK                       ? link_keys
                                                  : post_keys;
    size_t nkeys = type == KN_T_THREAD ? 3 : type == KN_T_LINK ? 4 : 1;
    if (!publish_from_form(r, type, space, (const uint8_t(*)[32])refs, type == KN_T_POST ? 3 : 1,
            keys, nkeys, id, &why)) {
        if (!r->responded)
            edit_page(r, idhex, why);
        return;
    }
    if (type == KN_T_THREAD)
        snprintf(loc, sizeof loc, "/forum/%s", id);
    else if (type == KN_T_LINK)
        snprintf(loc, sizeof loc, "/links#l%.16s", id);
    else
        snprintf(loc + strlen(loc), sizeof loc - strlen(loc), "#p%.16s", id);
    http_redirect(r, loc);
}

/*
 * POST /objects/ID/retract: takes back the signed-in person's object and
 * every version of it (http_retract_versions), then shows where it was.
 */
static void retract_post(hreq *r, const char *idhex)
{
    uint8_t id[KN_ID], *raw;
    kn_object o;
    char loc[200] = "/";
    if (!http_retract_confirmed(r, idhex, 0) || http_load(r, idhex, 0, id, &raw, &o) < 0)
        return;
    if (o.type == KN_T_THREAD)
        snprintf(loc, sizeof loc, "/forum");
    else if (o.type == KN_T_POST && o.nrefs >= 1)
        thread_loc(r, o.refs[0], loc, sizeof loc);
    else if (o.type == KN_T_LINK)
        snprintf(loc, sizeof loc, "/links");
    else if (o.type == KN_T_EVENT)
        snprintf(loc, sizeof loc, "/events");
    else if (o.type == KN_T_POLL)
        snprintf(loc, sizeof loc, "/polls");
    free(raw);
    if (http_retract_versions(r, idhex, 0, http_param(r, "reason"), false, NULL) < 0)
        return;
    http_redirect(r, loc);
}

/* ---- people ---- */

static void people_page(hreq *r)
{
    kn_user_entry *v = NULL;
    size_t n = 0;
    if (kn_users_list(r->n->dd, true, &v, &n) < 0) {
        http_error(r, 500, "store", "cannot read the users");
        return;
    }
    const char *q = http_form_get(&r->query, "q");
    kn_directory dir; /* for the councils' names */
    bool have_dir = kn_directory_load(r->n->dd, &dir) == 0;
    hbuf b = { 0 };
    http_page_begin(r, &b, tr(r, T_DIRECTORY));
    hb_printf(&b,
        "<h1>%s</h1><form method=\"get\" action=\"people\" class=\"row\" role=\"search\">"
        "<label for=\"q\">%s</label><input id=\"q\" name=\"q\" maxlength=\"100\" value=\"",
        tr(r, T_DIRECTORY), tr(r, T_SEARCH_PEOPLE));
    hb_escs(&b, q ? q : "");
    hb_printf(&b,
        "\"><button type=\"submit\">%s</button></form><table><thead><tr><th scope=\"col\">%s</th>"
        "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
        "<th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead><tbody>",
        tr(r, T_FIND), tr(r, T_NAME), tr(r, T_COUNCIL), tr(r, T_ROLE), tr(r, T_EXPERTISE),
        tr(r, T_LANGUAGES), tr(r, T_MESSAGES));
    for (size_t i = 0; i < n; i++) {
        if (v[i].r.revoked_at != KN_ROSTER_NEVER)
            continue;
        char council[400] = "", label[300];
        if (have_dir)
            http_label_tr(r, kn_directory_label(&dir, v[i].r.node, label, sizeof label), council,
                sizeof council);
        if (q && *q && !strcasestr(v[i].name, q) && !strcasestr(v[i].expertise, q)
            && !strcasestr(v[i].role, q) && !strcasestr(council, q))
            continue;
        char key[65];
        kn_hex_encode(key, v[i].r.key, 32);
        hb_printf(&b, "<tr id=\"u%.16s\"><td>", key);
        hb_escs(&b, v[i].name);
        hb_puts(&b, "</td><td>");
        hb_escs(&b, council);
        hb_puts(&b, "</td><td>");
        hb_escs(&b, v[i].role);
        hb_puts(&b, "</td><td>");
        hb_escs(&b, v[i].expertise);
        hb_puts(&b, "</td><td>");
        hb_escs(&b, v[i].lang);
        hb_puts(&b, "</td><td>");
        if (memcmp(v[i].r.key, r->acct.user, 32) != 0)
            hb_printf(&b, "<a href=\"messages/%s#reply\">%s</a>", key, tr(r, T_MSG_WRITE));
        hb_puts(&b, "</td></tr>");
    }
    hb_puts(&b, "</tbody></table>");
    free(v);
    if (have_dir)
        kn_directory_free(&dir);
    http_page_end(r, &b, 200);
}

/* ---- admin ---- */

/* The state words of peers, members and invites (the API's, in English) in the page's language. */
static const char *state_tr(hreq *r, const char *s)
{
    static const struct {
        const char *en;
        enum kn_text t;
    } words[] = { { "idle", T_ST_IDLE }, { "connecting", T_ST_CONNECTING },
        { "handshake", T_ST_HANDSHAKE }, { "connected", T_ST_CONNECTED },
        { "backoff", T_ST_BACKOFF }, { "revoked", T_ST_REVOKED }, { "founder", T_ST_FOUNDER },
        { "member", T_ST_MEMBER }, { "pending", T_ST_PENDING }, { "used", T_ST_USED },
        { "withdrawn", T_ST_WITHDRAWN }, { "expired", T_ST_EXPIRED }, { "open", T_ST_OPEN } };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcmp(s, words[i].en))
            return tr(r, words[i].t);
    return s;
}

/* The council a node key names (its admit), localised; "" if none names it. */
static void council_of(
    hreq *r, const kn_directory *dir, const uint8_t key[32], char *out, size_t cap)
{
    char label[300];
    out[0] = 0;
    if (dir && kn_directory_council(dir, key))
        http_label_tr(r, kn_directory_label(dir, key, label, sizeof label), out, cap);
}

static void admin_page(hreq *r, const char *invite_code)
{
    kn_directory dir;
    bool have_dir = kn_directory_load(r->n->dd, &dir) == 0;
    hbuf b = { 0 };
    char t1[40];
    http_page_begin(r, &b, tr(r, T_ADMIN));
    hb_printf(&b, "<h1>%s</h1>", tr(r, T_ADMIN));
    /* peers and their sync state */
    json_t *peers = http_peers_json(r);
    hb_printf(&b,
        "<section aria-labelledby=\"peers\"><h2 id=\"peers\">%s</h2><table><thead><tr>"
        "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
        "<th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead><tbody>",
        tr(r, T_PEERS), tr(r, T_ADDRESS), tr(r, T_STATE), tr(r, T_OBJECTS_IN), tr(r, T_OBJECTS_OUT),
        tr(r, T_LAST_SYNC));
    size_t i;
    json_t *p;
    json_array_foreach(peers, i, p)
    {
        json_t *s = json_object_get(p, "sync");
        uint64_t last = (uint64_t)json_integer_value(json_object_get(s, "last_reconciliation"));
        if (last)
            http_fmt_time(t1, sizeof t1, last);
        hb_puts(&b, "<tr><td>");
        hb_escs(&b, http_jstr(p, "addr"));
        hb_printf(&b, " <small>%.12s</small>", http_jstr(p, "identity"));
        uint8_t pk[32];
        char council[400];
        if (have_dir && http_parse_id(http_jstr(p, "identity"), pk)) {
            council_of(r, &dir, pk, council, sizeof council);
            if (*council) {
                hb_puts(&b, " ");
                hb_escs(&b, council);
            }
        }
        hb_puts(&b, "</td><td>");
        hb_escs(&b, state_tr(r, http_jstr(p, "phase")));
        if (*http_jstr(p, "last_error")) {
            hb_puts(&b, " <small>(");
            hb_escs(&b, http_jstr(p, "last_error"));
            hb_puts(&b, ")</small>");
        }
        hb_printf(&b, "</td><td>%lld</td><td>%lld</td><td>%s</td></tr>",
            (long long)json_integer_value(json_object_get(s, "objs_in")),
            (long long)json_integer_value(json_object_get(s, "objs_out")),
            last ? t1 : tr(r, T_NEVER));
    }
    hb_puts(&b, "</tbody></table></section>");
    json_decref(peers);
    /* members */
    kn_roster_member *m = NULL;
    size_t nm = 0;
    if (kn_store_members_list(r->n->dd->store, &m, &nm) == 0) {
        hb_printf(&b, "<section aria-labelledby=\"members\"><h2 id=\"members\">%s</h2><ul>",
            tr(r, T_MEMBERS));
        for (size_t k = 0; k < nm; k++) {
            if (!kn_roster_is_node(&m[k]))
                continue;
            char key[65];
            kn_hex_encode(key, m[k].key, 32);
            const char *state = http_member_state(&m[k]);
            char council[400];
            council_of(r, have_dir ? &dir : NULL, m[k].key, council, sizeof council);
            hb_printf(&b, "<li><code>%.16s\xe2\x80\xa6</code> ", key);
            hb_escs(&b, council);
            hb_printf(&b, " %s</li>", state_tr(r, state));
        }
        hb_puts(&b, "</ul></section>");
        free(m);
    }
    /* invites */
    hb_printf(
        &b, "<section aria-labelledby=\"invites\"><h2 id=\"invites\">%s</h2>", tr(r, T_INVITES));
    if (invite_code) {
        hb_printf(&b, "<p>%s</p><pre class=\"code\" tabindex=\"0\">", tr(r, T_INVITE_CODE));
        hb_escs(&b, invite_code);
        hb_puts(&b, "</pre>");
    }
    kn_invite_list il = { 0 };
    if (kn_invites_load(r->n->dd->store, &il) == 0) {
        hb_puts(&b, "<ul>");
        for (size_t k = 0; k < il.n; k++) {
            const char *st = kn_invite_record_state(&il.v[k], r->now);
            hb_printf(&b, "<li>#%u ", il.v[k].id);
            hb_escs(&b, il.v[k].note);
            hb_printf(&b, " \xe2\x80\x93 %s", state_tr(r, st));
            if (!strcmp(st, "open")) {
                hb_printf(&b,
                    " <form method=\"post\" action=\"admin/invites/%u/withdraw\" "
                    "class=\"inline\">",
                    il.v[k].id);
                http_csrf_field(r, &b);
                hb_printf(&b, "<button type=\"submit\" class=\"secondary\">%s</button></form>",
                    tr(r, T_WITHDRAW));
            }
            hb_puts(&b, "</li>");
        }
        hb_puts(&b, "</ul>");
        kn_invite_list_free(&il);
    }
    hb_puts(&b, "<form method=\"post\" action=\"admin/invites\" class=\"row\">");
    http_csrf_field(r, &b);
    hb_printf(&b,
        "<label for=\"note\">%s</label><input id=\"note\" name=\"note\" maxlength=\"200\">"
        "<button type=\"submit\">%s</button></form></section>",
        tr(r, T_NOTE), tr(r, T_INVITE_CREATE));
    /* accounts */
    kn_account *acc = NULL;
    size_t na = 0;
    if (kn_accounts_list(r->n->dd->store, &acc, &na) == 0) {
        hb_printf(&b, "<section aria-labelledby=\"accounts\"><h2 id=\"accounts\">%s</h2><ul>",
            tr(r, T_ACCOUNTS));
        for (size_t k = 0; k < na; k++) {
            hb_puts(&b, "<li>");
            hb_escs(&b, acc[k].login);
            hb_printf(&b, " \xe2\x80\x93 %s%s</li>",
                acc[k].role == KN_ROLE_ADMIN ? tr(r, T_ROLE_ADMIN) : tr(r, T_ROLE_STAFF),
                acc[k].has_password ? "" : tr(r, T_ACTIVATION_PENDING));
        }
        hb_printf(&b, "</ul><p>%s</p></section>", tr(r, T_ACCOUNTS_HINT));
        free(acc);
    }
    if (have_dir)
        kn_directory_free(&dir);
    http_page_end(r, &b, 200);
}

static void admin_invite(hreq *r)
{
    char *code = NULL;
    const char *note = http_param(r, "note");
    if (http_invite_create(r, note ? note : "", 7ull * 24 * 3600 * 1000, &code) < 0)
        return;
    admin_page(r, code);
    kn_memzero(code, strlen(code));
    free(code);
}

static void admin_withdraw(hreq *r, const char *id)
{
    char *end;
    unsigned long v = strtoul(id, &end, 10);
    if (!*id || *end || v > UINT32_MAX || kn_invites_withdraw(r->n->dd, (uint32_t)v, r->now) < 0) {
        http_error(r, 404, "not_found", tr(r, T_NOT_FOUND));
        return;
    }
    http_redirect(r, "/admin");
}

/* ---- publishing from forms ---- */

/*
 * The first field of a thread, reply or link form that its schema
 * (docs/objects.md) refuses, as a message that names it and says what to
 * change; NULL if these checks find nothing (the schema still checks all).
 */
static const char *form_problem(hreq *r, kn_otype type, const char *space)
{
    const char *title = http_param(r, "title"), *body = http_param(r, "body"),
               *url = http_param(r, "url"), *desc = http_param(r, "description"),
               *tags = http_param(r, "tags");
    if (!space || !*space || strlen(space) > KN_SPACE_MAX)
        return tr(r, T_FORM_AREA);
    if (type != KN_T_POST && (!title || !*title || strlen(title) > 300))
        return tr(r, T_FORM_TITLE);
    if (type == KN_T_POST && (!body || !*body))
        return tr(r, T_FORM_REPLY_EMPTY);
    if (type != KN_T_LINK && body && strlen(body) > 32000)
        return tr(r, T_FORM_BODY_LONG);
    if (type == KN_T_LINK
        && (!url || strlen(url) > 2048
            || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)))
        return tr(r, T_FORM_URL);
    if (type == KN_T_LINK && desc && strlen(desc) > 4000)
        return tr(r, T_FORM_DESC);
    for (size_t n = 0; tags && *tags;) { /* split as publish_from_form does */
        while (*tags == ' ' || *tags == ',')
            tags++;
        const char *e = tags + strcspn(tags, ","), *t = e;
        while (t > tags && t[-1] == ' ')
            t--;
        if (t > tags && (++n > 32 || (size_t)(t - tags) > 64))
            return tr(r, T_FORM_TAGS);
        tags = e;
    }
    return NULL;
}

/*
 * Builds a JSON body from the form fields keys, and publishes an object of
 * type through the same code path as the API (http_publish). false with
 * *why set (a message for the form) or a response already sent.
 */
static bool publish_from_form(hreq *r, kn_otype type, const char *space, const uint8_t (*refs)[32],
    uint32_t nrefs, const char *const *keys, size_t nkeys, char idhex[65], const char **why)
{
    kn_mp_out o;
    uint8_t id[KN_ID];
    *why = tr(r, T_ERROR);
    if (nkeys > 8)
        return false;
    if ((*why = form_problem(r, type, space)) != NULL)
        return false;
    *why = tr(r, T_ERROR);
    const char *vals[8];
    size_t n = 0;
    const char *sorted[8];
    for (size_t i = 0; i < nkeys; i++) {
        const char *v = http_param(r, keys[i]);
        if (v && *v) {
            sorted[n] = keys[i];
            vals[n++] = v;
        }
    }
    bool has_body = false;
    for (size_t i = 0; i < n; i++)
        has_body |= !strcmp(sorted[i], "body");
    if (type == KN_T_THREAD && !has_body && n < 8) { /* a thread's body may be empty */
        sorted[n] = "body";
        vals[n++] = "";
    }
    /* bytewise key order (insertion sort: at most 8 keys) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
            const char *t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
            t = vals[j];
            vals[j] = vals[j - 1];
            vals[j - 1] = t;
        }
    kn_mp_out_init(&o, KN_OBJECT_MAX);
    kn_mp_write_map(&o, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        kn_mp_write_cstr(&o, sorted[i]);
        if (!strcmp(sorted[i], "tags")) {
            const char *tv[32];
            size_t tl[32], nt = 0;
            const char *s = vals[i];
            while (*s && nt < 32) {
                while (*s == ' ' || *s == ',')
                    s++;
                const char *e = s;
                while (*e && *e != ',')
                    e++;
                const char *t = e;
                while (t > s && t[-1] == ' ')
                    t--;
                if (t > s) {
                    tv[nt] = s;
                    tl[nt++] = (size_t)(t - s);
                }
                s = e;
            }
            kn_mp_write_array(&o, (uint32_t)nt);
            for (size_t k = 0; k < nt; k++)
                kn_mp_write_str(&o, tv[k], tl[k]);
        } else {
            kn_mp_write_cstr(&o, vals[i]);
        }
    }
    kn_object_draft d = {
        .type = type, .space = space ? space : "", .nrefs = nrefs, .body = o.buf, .body_len = o.len
    };
    for (uint32_t i = 0; i < nrefs; i++)
        memcpy(d.refs[i], refs[i], 32);
    bool ok = false;
    if (kn_mp_out_error(&o) == 0 && (!space || strlen(space) <= KN_SPACE_MAX)) {
        /* http_publish answers with an error itself; pages want the form back instead. */
        uint8_t sk[64];
        uint8_t *raw = NULL;
        size_t len;
        if (http_auth_user_secret(r, sk) < 0) {
            *why = tr(r, T_LOGIN_NOKEY);
        } else {
            d.created = r->now;
            int rc = kn_object_sign(&d, sk, &raw, &len);
            kn_memzero(sk, sizeof sk);
            if (rc == 0)
                rc = kn_store_put(r->n->dd->store, raw, len, r->now, id);
            if (rc == KN_PUT_STORED)
                (void)sync_announce(r->n, raw, len, id, r->now);
            free(raw);
            if (rc >= 0) {
                kn_hex_encode(idhex, id, 32);
                ok = true;
            } else if (rc == KN_ESCHEMA) {
                *why = tr(r, T_FORM_BAD);
            } else if (rc == KN_EUNAUTH) {
                *why = tr(r, T_FORBIDDEN);
            } else {
                *why = kn_strerror(rc);
            }
        }
    }
    kn_mp_out_free(&o);
    return ok;
}

/* ---- routing ---- */

static bool seg_is(hreq *r, size_t n, const char *s0)
{
    return r->nseg == n && (n == 0 || !s0 || strcmp(r->seg[0], s0) == 0);
}

void http_pages_route(hreq *r, const char *path)
{
    (void)path;
    bool get = http_method_is(r, "GET") || http_method_is(r, "HEAD");
    bool post = http_method_is(r, "POST");
    if (seg_is(r, 1, "lang") && get) {
        lang_switch(r);
        return;
    }
    if (seg_is(r, 1, "login")) {
        if (post)
            login_post(r);
        else if (r->authed)
            http_redirect(r, "/");
        else
            login_page(r, NULL, 200);
        return;
    }
    if (seg_is(r, 1, "activate")) {
        if (post)
            activate_post(r);
        else
            activate_page(r, http_form_get(&r->query, "t"), NULL, 200);
        return;
    }
    if (!r->authed) {
        char old[65];
        bool expired = http_cookie(r, "knoten_session", old, sizeof old);
        if (!get) { /* a form sent after the session ended: say so, and how to keep the text */
            login_page(r, tr(r, expired ? T_SESSION_EXPIRED_POST : T_LOGIN_FIRST), 401);
            return;
        }
        hbuf loc = { 0 };
        hb_puts(&loc, expired ? "/login?expired=1&next=" : "/login?next=");
        hb_urlenc(&loc, r->path);
        http_redirect(r, loc.oom ? "/login" : loc.p);
        hb_free(&loc);
        return;
    }
    if (!get) {
        if (!post) {
            http_error(r, 405, "method", "method not allowed");
            return;
        }
        if (!http_auth_csrf_ok(r)) {
            http_error(r, 403, "csrf", tr(r, T_CSRF));
            return;
        }
    }
    if (http_docs_pages(r) || http_collab_pages(r) || http_msg_pages(r) || http_search_pages(r))
        return;
    if (seg_is(r, 1, "logout") && post) {
        http_auth_logout(r);
        http_redirect(r, "/login");
    } else if (r->nseg == 0 && get)
        start_page(r);
    else if (seg_is(r, 1, "areas") && get)
        areas_page(r);
    else if (seg_is(r, 2, "areas") && get)
        area_page(r, r->seg[1]);
    else if (seg_is(r, 1, "forum") && get)
        forum_page(r);
    else if (seg_is(r, 1, "forum") && post)
        thread_create(r);
    else if (seg_is(r, 2, "forum") && get && !strcmp(r->seg[1], "new"))
        thread_new_page(r, NULL, 200);
    else if (seg_is(r, 2, "forum") && get)
        thread_page(r, r->seg[1], NULL);
    else if (seg_is(r, 3, "forum") && post && !strcmp(r->seg[2], "reply"))
        thread_reply(r, r->seg[1]);
    else if (seg_is(r, 1, "links") && get)
        links_page(r, NULL, 200);
    else if (seg_is(r, 1, "links") && post)
        link_create(r);
    else if (seg_is(r, 3, "objects") && get && !strcmp(r->seg[2], "retract"))
        http_retract_page(r, r->seg[1], 0);
    else if (seg_is(r, 3, "objects") && post && !strcmp(r->seg[2], "retract"))
        retract_post(r, r->seg[1]);
    else if (seg_is(r, 3, "objects") && get && !strcmp(r->seg[2], "edit"))
        edit_page(r, r->seg[1], NULL);
    else if (seg_is(r, 3, "objects") && post && !strcmp(r->seg[2], "edit"))
        edit_post(r, r->seg[1]);
    else if (seg_is(r, 1, "people") && get)
        people_page(r);
    else if (r->nseg >= 1 && !strcmp(r->seg[0], "admin") && r->acct.role != KN_ROLE_ADMIN)
        http_error(r, 403, "forbidden", tr(r, T_FORBIDDEN));
    else if (seg_is(r, 1, "admin") && get)
        admin_page(r, NULL);
    else if (seg_is(r, 2, "admin") && post && !strcmp(r->seg[1], "invites"))
        admin_invite(r);
    else if (seg_is(r, 4, "admin") && post && !strcmp(r->seg[1], "invites")
        && !strcmp(r->seg[3], "withdraw"))
        admin_withdraw(r, r->seg[2]);
    else
        http_error(r, 404, "not_found", tr(r, T_NOT_FOUND));
}
