/*
 * Fuzz target for what a browser or an API client sends the node
 * (docs/api.md): every POST endpoint that turns a JSON body into a signed
 * object (thread, post, link, retract, poll, vote, event, RSVP, document,
 * message), uploads in pieces, the Markdown preview, invites and login; the
 * GET endpoints whose query strings handlers parse (search, events,
 * objects, polls, calendars); and the HTML pages with their form bodies
 * (the same objects made by forms, and the pages that show them). The real
 * handlers run against a real node data directory with a signed-in admin;
 * only the HTTP server around them is replaced.
 *
 * How: the target is linked with --wrap for http_send, http_send_shared,
 * http_json, http_error, http_redirect, http_header, http_start_stream
 * (http.c talks to h2o) and sync_announce (sync.c talks to peers), so a
 * handler's answer lands in the functions below instead of on a socket. A
 * request is built in a zeroed h2o_req_t: method, headers, entity, pool.
 * Uploads that are being stored run on a real libuv loop (http_blob.c's
 * idle handle), and so do the password checks of logins (http_auth.c: the
 * loop runs until the login is answered).
 *
 * Input: up to 8 requests, separated by a line "--". A request is: one
 * byte picking the endpoint ('a' the first of `endpoints`), a line with the
 * id for the path and, after '?', the query string (an empty id takes a
 * fixture's id: a thread, poll, event made at start-up; "@" the id of the
 * previous answer, e.g. an upload's), then the body, in which "@ID@" also
 * becomes the previous answer's id. So an input can start an upload, send
 * its pieces (PUT ?offset=N) and make a document of it.
 *
 * KN_FUZZ_VERBOSE=1 prints each request's method, path and status.
 *
 * The oracle, beyond "no crash, no leak":
 *   - every request is answered exactly once, with a status from 200 to 499
 *     (the data directory is healthy, so a 500 is a bug);
 *   - a JSON answer is never NULL (a json_pack that failed, e.g. on a string
 *     that is not UTF-8, would otherwise become a 500 "oom");
 *   - every error has a code and a message;
 *   - a 201 with an id names an object that is now in the store;
 *   - iCalendar answers (GET /api/events/ID/ics, /api/events/ics?space=)
 *     are CRLF lines of at most 75 octets, each valid UTF-8 without
 *     controls, BEGIN/END balanced;
 *   - after every object created, the Atom feed of its area (node/atom.c,
 *     as `knoten feed` writes it) is well-formed XML;
 *   - HTML pages: see check_html; redirects stay on this site as a browser
 *     reads the Location (tabs and newlines dropped).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "accounts.h"
#include "atom.h"
#include "codec.h"
#include "env.h"
#include "hex.h"
#include "http_impl.h"
#include "users.h"

/* ---- well-formed output ---- */

/* An iCalendar body: CRLF lines of at most 75 octets, each valid UTF-8 without controls. */
static void check_ics(const char *s, size_t len)
{
    size_t start = 0;
    int depth = 0;
    while (start < len) {
        size_t e = start;
        while (e + 1 < len && !(s[e] == '\r' && s[e + 1] == '\n'))
            e++;
        if (e + 1 >= len || e - start > 75 || !kn_utf8_valid(s + start, e - start))
            abort();
        for (size_t i = start; i < e; i++)
            if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
                abort();
        if (e - start >= 6 && memcmp(s + start, "BEGIN:", 6) == 0)
            depth++;
        if (e - start >= 4 && memcmp(s + start, "END:", 4) == 0 && --depth < 0)
            abort();
        start = e + 2;
    }
    if (depth != 0)
        abort();
}

/*
 * A small XML well-formedness check for the Atom feed: valid UTF-8 of XML
 * 1.0 characters, tags nested properly, attribute values quoted, '&' only
 * in the five predefined entities or a numeric reference, no '<' in text.
 */
static void check_xml(const char *s, size_t len)
{
    char stack[32][32];
    int depth = 0;
    if (!kn_utf8_valid(s, len))
        abort();
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            || (c == 0xef && i + 2 < len && (unsigned char)s[i + 1] == 0xbf
                && (unsigned char)s[i + 2] >= 0xbe))
            abort();
        if (c == '&') {
            static const char *const ents[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;" };
            bool ok = i + 2 < len && s[i + 1] == '#';
            for (size_t k = 0; k < 5 && !ok; k++)
                ok = len - i >= strlen(ents[k]) && memcmp(s + i, ents[k], strlen(ents[k])) == 0;
            if (!ok)
                abort();
            continue;
        }
        if (c == '>')
            abort(); /* cmark and kn_text_escape write it as &gt; in text */
        if (c != '<')
            continue;
        const char *e = memchr(s + i, '>', len - i);
        if (!e)
            abort();
        const char *t = s + i + 1;
        size_t tl = (size_t)(e - t);
        if (tl && t[0] == '?') {
            i = (size_t)(e - s);
            continue; /* the declaration */
        }
        bool closing = tl && t[0] == '/', empty = tl && t[tl - 1] == '/';
        const char *name = t + closing;
        size_t nl = strcspn(name, " />");
        if (nl == 0 || nl >= sizeof stack[0])
            abort();
        /* Attributes: name="value" with no '<', '>' or '"' inside. */
        for (const char *q = name + nl; q < e - empty;) {
            if (*q == ' ') {
                q++;
                continue;
            }
            const char *eq = memchr(q, '=', (size_t)(e - q));
            if (closing || !eq || eq[1] != '"')
                abort();
            const char *v = eq + 2, *vend = memchr(v, '"', (size_t)(e - v));
            if (!vend)
                abort();
            q = vend + 1;
        }
        if (closing) {
            if (depth == 0 || strlen(stack[depth - 1]) != nl
                || memcmp(stack[depth - 1], name, nl) != 0)
                abort();
            depth--;
        } else if (!empty) {
            if (depth == 32)
                abort();
            memcpy(stack[depth], name, nl);
            stack[depth++][nl] = 0;
        }
        i = (size_t)(e - s);
    }
    if (depth != 0)
        abort();
}

/* The Atom feed of an area, written and checked (a fuzzed object of it is among the entries). */
static void check_feed(kn_datadir *d, const char *area)
{
    kn_directory dir;
    kn_text t;
    if (kn_directory_load(d, &dir) < 0)
        abort();
    kn_text_init(&t, 16 << 20);
    kn_atom_options o = { .area = area, .base_url = "https://knoten.example", .max_entries = 5 };
    int rc = kn_atom_area(d->store, &dir, &o, &t);
    if (rc == 0 && !t.err)
        check_xml(t.s, t.len);
    else if (rc != KN_EINVAL)
        abort(); /* KN_EINVAL: not an area name the feed takes */
    kn_text_free(&t);
    kn_directory_free(&dir);
}

/*
 * An HTML page: every tag is one the pages write (a string of a person's
 * that escaped its escaping would show up as another tag or attribute),
 * no event-handler or style attribute, every script is the page's own
 * static/app.js, and every href, src or action stays on http(s), mailto
 * or this site. KN_FUZZ_TAGS=1 prints the tags and attributes seen.
 */
static bool html_url_ok(const char *v, size_t n)
{
    char scheme[16];
    size_t k = 0, i = 0;
    while (i < n && (unsigned char)v[i] <= ' ')
        i++;
    for (; i < n && v[i] != ':'; i++) {
        char c = v[i];
        if (c == '\t' || c == '\n' || c == '\r')
            continue;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alpha && !(k && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')))
            return true; /* no scheme: relative */
        if (k < sizeof scheme)
            scheme[k] = (char)(c | 0x20);
        k++;
    }
    if (i == n || k == 0)
        return true;
    return (k == 4 && !memcmp(scheme, "http", 4)) || (k == 5 && !memcmp(scheme, "https", 5))
        || (k == 6 && !memcmp(scheme, "mailto", 6));
}

static void check_html(const char *s, size_t len)
{
    static const char *const tags
        = " html head meta title base link script body header nav ul li a "
          "form input button span main h1 h2 h3 h4 p label textarea "
          "select option div ol table thead tbody tr th td strong em "
          "code pre blockquote hr br small time section article footer "
          "details summary fieldset legend dl dt dd img svg path abbr "
          "mark caption output progress meter del ins sup sub ";
    static const char app_js[] = "<script src=\"static/app.js\" defer></script>";
    bool dump = getenv("KN_FUZZ_TAGS") != NULL;
    if (!kn_utf8_valid(s, len))
        abort();
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '<')
            continue;
        const char *t = s + i + 1, *end = s + len;
        if (t < end && *t == '!') { /* <!DOCTYPE html> */
            i += strcspn(t, ">");
            continue;
        }
        bool closing = t < end && *t == '/';
        t += closing;
        size_t nl = 0;
        while (t + nl < end && ((t[nl] >= 'a' && t[nl] <= 'z') || (t[nl] >= '0' && t[nl] <= '9')))
            nl++;
        if (nl == 0)
            abort(); /* a bare '<' in text: unescaped */
        char name[34] = " ";
        if (nl > 30)
            abort();
        memcpy(name + 1, t, nl);
        name[nl + 1] = ' ';
        name[nl + 2] = 0;
        if (dump)
            fprintf(stderr, "tag%s\n", name);
        if (!strstr(tags, name) && !dump)
            abort();
        if (!closing && nl == 6 && !memcmp(t, "script", 6)
            && ((size_t)(end - (s + i)) < sizeof app_js - 1
                || memcmp(s + i, app_js, sizeof app_js - 1) != 0))
            abort();
        const char *q = t + nl;
        while (q < end && *q != '>') {
            if (*q == ' ' || *q == '/' || *q == '\n') {
                q++;
                continue;
            }
            size_t al = 0;
            while (q + al < end && ((q[al] >= 'a' && q[al] <= 'z') || q[al] == '-'))
                al++;
            if (al == 0)
                abort(); /* not an attribute name: a quote or '<' leaked */
            if (dump)
                fprintf(stderr, "attr %.*s\n", (int)al, q);
            if ((al > 2 && q[0] == 'o' && q[1] == 'n') || (al == 5 && !memcmp(q, "style", 5)))
                abort();
            bool url = (al == 4 && !memcmp(q, "href", 4)) || (al == 3 && !memcmp(q, "src", 3))
                || (al == 6 && !memcmp(q, "action", 6));
            const char *a = q;
            q += al;
            if (q < end && *q == '=') {
                if (q + 1 >= end || q[1] != '"')
                    abort(); /* the pages always double-quote */
                const char *v = q + 2, *ve = memchr(v, '"', (size_t)(end - v));
                if (!ve || memchr(v, '<', (size_t)(ve - v)) || memchr(v, '>', (size_t)(ve - v)))
                    abort();
                if (url && !html_url_ok(v, (size_t)(ve - v))) {
                    fprintf(stderr, "fuzz_http_api: %.*s=\"%.*s\"\n", (int)al, a, (int)(ve - v), v);
                    abort();
                }
                q = ve + 1;
            }
        }
        i = (size_t)(q - s);
    }
}

/* ---- the answer, caught ---- */

static struct {
    int responses;
    int status;
    char id[65]; /* a 201's "id", if any */
} ans;

static void answered(int status)
{
    ans.responses++;
    ans.status = status;
    if (ans.responses > 1 || status < 200 || status >= 500) {
        fprintf(stderr, "fuzz_http_api: answer #%d with status %d\n", ans.responses, status);
        abort();
    }
}

void __wrap_http_send(hreq *r, int status, const char *ctype, const char *body, size_t len);
void __wrap_http_send(hreq *r, int status, const char *ctype, const char *body, size_t len)
{
    if (status == 200 && ctype && strncmp(ctype, "text/calendar", 13) == 0)
        check_ics(body, len);
    if (ctype && strncmp(ctype, "text/html", 9) == 0)
        check_html(body, len);
    r->responded = true;
    answered(status);
}

void __wrap_http_send_shared(hreq *r, int status, const char *ctype, char *body, size_t len);
void __wrap_http_send_shared(hreq *r, int status, const char *ctype, char *body, size_t len)
{
    __wrap_http_send(r, status, ctype, body, len);
}

void __wrap_http_json(hreq *r, int status, json_t *j);
void __wrap_http_json(hreq *r, int status, json_t *j)
{
    if (!j) {
        fprintf(stderr, "fuzz_http_api: NULL JSON for status %d\n", status);
        abort();
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!s)
        abort();
    const char *id = json_string_value(json_object_get(j, "id"));
    if ((status == 200 || status == 201) && id && strlen(id) <= 64)
        memcpy(ans.id, id, strlen(id) + 1);
    free(s);
    json_decref(j);
    r->responded = true;
    answered(status);
}

void __wrap_http_error(hreq *r, int status, const char *code, const char *msg);
void __wrap_http_error(hreq *r, int status, const char *code, const char *msg)
{
    if (!code || !*code || !msg || !*msg || !kn_utf8_valid(msg, strlen(msg))) {
        fprintf(stderr, "fuzz_http_api: error %d without code or message\n", status);
        abort();
    }
    r->responded = true;
    answered(status);
}

void __wrap_http_redirect(hreq *r, const char *location);
void __wrap_http_redirect(hreq *r, const char *location)
{
    if (!http_local_path_ok(location))
        location = "/"; /* what http_redirect does */
    /* As a browser reads it: tabs and newlines dropped, then it must stay on this site. */
    char seen[1024];
    size_t n = 0;
    for (const char *p = location; *p && n + 1 < sizeof seen; p++)
        if (*p != '\t' && *p != '\n' && *p != '\r')
            seen[n++] = *p;
    seen[n] = 0;
    if (seen[0] != '/' || seen[1] == '/' || seen[1] == '\\')
        abort();
    /* The id in "/forum/ID#..." is the next "@". */
    for (const char *p = location; *p; p++)
        if (strspn(p, "0123456789abcdef") == 64) {
            memcpy(ans.id, p, 64);
            ans.id[64] = 0;
            break;
        }
    r->responded = true;
    answered(303);
}

void __wrap_http_header(hreq *r, const char *name, const char *value);
void __wrap_http_header(hreq *r, const char *name, const char *value)
{
    (void)r;
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            abort(); /* a header value must never carry CR, LF or other controls */
    (void)name;
}

void __wrap_http_start_stream(
    hreq *r, int status, const char *ctype, uint64_t len, h2o_generator_t *g);
void __wrap_http_start_stream(
    hreq *r, int status, const char *ctype, uint64_t len, h2o_generator_t *g)
{
    (void)ctype;
    (void)len;
    (void)g;
    r->responded = true;
    answered(status);
}

int __wrap_sync_announce(
    node *n, const uint8_t *raw, size_t len, const uint8_t id[KN_ID], uint64_t now);
int __wrap_sync_announce(
    node *n, const uint8_t *raw, size_t len, const uint8_t id[KN_ID], uint64_t now)
{
    (void)n;
    (void)raw;
    (void)len;
    (void)id;
    (void)now;
    return 0;
}

/* ---- the node ---- */

static kn_datadir dd;
static uv_loop_t loop;
static node nd;
static http srv;
static http_mount mount;
static kn_account admin;
static char fixture[3][65]; /* a thread, a poll, an event */
static const uint64_t NOW = UINT64_C(1795000000000); /* 2026-11-18 */
static const char CSRF[] = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
/* The login form's pre-session token is this cookie; a form must send it as field "pre". */
static const char COOKIE[]
    = "lang=en; knoten_pre=5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";

enum { E_GET = 1, E_ID = 2, E_PUT = 4, E_DELETE = 8, E_FIXTURE_MASK = 0x30, E_PAGE = 0x40 };
#define FIX(i) ((i) << 4)

static const struct endpoint {
    const char *path; /* "%s" where the id goes */
    unsigned flags; /* method (POST if none), E_ID, FIX(n): the fixture n-1 for an empty id */
} endpoints[] = {
    { "threads", 0 },
    { "threads/%s/posts", E_ID | FIX(1) },
    { "links", 0 },
    { "objects/%s/retract", E_ID },
    { "polls", 0 },
    { "polls/%s/vote", E_ID | FIX(2) },
    { "events", 0 },
    { "events/%s/rsvp", E_ID | FIX(3) },
    { "docs", 0 },
    { "docs/%s/retract", E_ID },
    { "messages", 0 },
    { "markdown", 0 },
    { "invites", 0 },
    { "login", 0 },
    { "search", E_GET },
    { "events", E_GET },
    { "objects", E_GET },
    { "polls", E_GET },
    { "threads/%s", E_GET | E_ID | FIX(1) },
    { "events/%s", E_GET | E_ID | FIX(3) },
    { "uploads", 0 },
    { "uploads/%s", E_PUT | E_ID },
    { "uploads/%s", E_GET | E_ID },
    { "uploads/%s", E_DELETE | E_ID },
    { "docs/%s", E_GET | E_ID },
    { "docs", E_GET },
    { "messages", E_GET },
    { "events/%s/ics", E_GET | E_ID | FIX(3) },
    { "events/ics", E_GET },
    /* The HTML pages: form bodies, pages showing what the forms made. */
    { "forum", E_PAGE },
    { "forum/%s/reply", E_PAGE | E_ID | FIX(1) },
    { "links", E_PAGE },
    { "polls", E_PAGE },
    { "polls/%s/vote", E_PAGE | E_ID | FIX(2) },
    { "events", E_PAGE },
    { "events/%s/rsvp", E_PAGE | E_ID | FIX(3) },
    { "messages", E_PAGE },
    { "objects/%s/retract", E_PAGE | E_ID },
    { "admin/invites", E_PAGE },
    { "login", E_PAGE },
    { "forum/%s", E_PAGE | E_GET | E_ID | FIX(1) },
    { "polls/%s", E_PAGE | E_GET | E_ID | FIX(2) },
    { "events/%s", E_PAGE | E_GET | E_ID | FIX(3) },
    { "search", E_PAGE | E_GET },
    { "events", E_PAGE | E_GET },
    { "areas/%s", E_PAGE | E_GET | E_ID },
    { "people", E_PAGE | E_GET },
    { "docs", E_PAGE | E_GET },
    { "login", E_PAGE | E_GET },
    { "", E_PAGE | E_GET },
    { "links", E_PAGE | E_GET },
    { "forum", E_PAGE | E_GET },
    /* Appended, so that the checked-in inputs keep their endpoints. */
    { "objects/%s/edit", E_PAGE | E_ID },
    { "objects/%s/edit", E_PAGE | E_GET | E_ID },
    { "objects/%s/retract", E_PAGE | E_GET | E_ID | FIX(1) }, /* the confirmation pages */
    { "docs/%s/retract", E_PAGE | E_GET | E_ID },
    { "docs/%s/retract", E_PAGE | E_ID },
};
enum { NENDPOINTS = sizeof endpoints / sizeof endpoints[0] };

/* Runs one request; the answer is in ans. */
static void request(const char *method, const char *path, const char *query, const char *body,
    size_t len, bool page)
{
    h2o_req_t req;
    hreq r;
    memset(&req, 0, sizeof req);
    memset(&r, 0, sizeof r);
    memset(&ans, 0, sizeof ans);
    h2o_mem_init_pool(&req.pool);
    req.method = h2o_iovec_init(method, strlen(method));
    req.entity = h2o_iovec_init(body, len);
    if (page)
        h2o_add_header_by_str(&req.pool, &req.headers, H2O_STRLIT("content-type"), 1, NULL,
            H2O_STRLIT("application/x-www-form-urlencoded"));
    else
        h2o_add_header_by_str(&req.pool, &req.headers, H2O_STRLIT("content-type"), 1, NULL,
            H2O_STRLIT("application/json"));
    h2o_add_header_by_str(
        &req.pool, &req.headers, H2O_STRLIT("cookie"), 1, NULL, COOKIE, sizeof COOKIE - 1);
    h2o_add_header_by_str(
        &req.pool, &req.headers, H2O_STRLIT("x-csrf-token"), 0, NULL, CSRF, sizeof CSRF - 1);
    r.h = &srv;
    r.n = &nd;
    r.req = &req;
    r.now = NOW;
    r.api = !page;
    r.base = "";
    r.mount = &mount;
    snprintf(r.ip, sizeof r.ip, "127.0.0.1");
    snprintf(r.lang, sizeof r.lang, "en");
    r.authed = true;
    r.acct = admin;
    memcpy(r.csrf, CSRF, sizeof CSRF);
    bool ok = http_form_parse(&req.pool, query, strlen(query), &r.query) == 0;
    snprintf(r.path, sizeof r.path, page ? "/%s" : "/api/%s", path);
    memcpy(r.segbuf, path, strlen(path) + 1);
    char *save = NULL;
    for (char *t = strtok_r(r.segbuf, "/", &save); t && ok; t = strtok_r(NULL, "/", &save)) {
        if (r.nseg == 8)
            ok = false;
        else
            r.seg[r.nseg++] = t;
    }
    if (ok) {
        if (page)
            http_pages_route(&r, r.path);
        else
            http_api_route(&r, r.path + 5);
        while (r.async && ans.responses == 0)
            uv_run(&loop, UV_RUN_ONCE); /* until the password check is answered */
        if (ans.responses != 1) {
            fprintf(
                stderr, "fuzz_http_api: %s %s answered %d times\n", method, path, ans.responses);
            abort();
        }
        if (getenv("KN_FUZZ_VERBOSE"))
            fprintf(stderr, "%s %s/%s -> %d\n", method, page ? "" : "/api", path, ans.status);
        uint8_t id[KN_ID], *raw = NULL;
        size_t rl;
        kn_object o;
        if (ans.status == 201 && strlen(ans.id) == 64
            && (kn_hex_decode(id, KN_ID, ans.id, 64) < 0 || !kn_store_has(dd.store, id)))
            abort();
        if (ans.status == 201 && strlen(ans.id) == 64 && kn_store_get(dd.store, id, &raw, &rl) == 0
            && kn_object_decode(&o, raw, rl) == 0 && o.space_len) {
            char area[KN_SPACE_MAX + 1];
            snprintf(area, sizeof area, "%.*s", (int)o.space_len, o.space);
            check_feed(&dd, area);
        }
        free(raw);
    }
    http_names_free(&r);
    h2o_mem_clear_pool(&req.pool);
    /* Let uploads that are storing copy their chunks into the store (http_blob.c). */
    for (int i = 0; i < 64 && srv.upload_idle_on; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "fuzz_http_api: %s: %s\n", what, kn_strerror(rc));
    exit(1);
}

/* Makes a fixture object through the API itself; its id into out. */
static void make(const char *path, const char *body, char out[65])
{
    request("POST", path, "", body, strlen(body), false);
    if (ans.status != 201 || !ans.id[0]) {
        fprintf(stderr, "fuzz_http_api: fixture %s: status %d\n", path, ans.status);
        exit(1);
    }
    memcpy(out, ans.id, 65);
}

static char tmpdir[64];

/*
 * Removes the directories of earlier runs that died (a crash found skips
 * atexit): /dev/shm/kn-fuzz-api-PID whose process is gone.
 */
static void remove_stale(void)
{
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        long pid;
        char cmd[300];
        if (sscanf(e->d_name, "kn-fuzz-api-%ld", &pid) != 1 || pid <= 0 || kill((pid_t)pid, 0) == 0
            || errno != ESRCH)
            continue; /* not ours, or its process still runs */
        snprintf(cmd, sizeof cmd, "rm -rf '/dev/shm/%s'", e->d_name);
        if (system(cmd) != 0)
            fprintf(stderr, "fuzz_http_api: could not remove /dev/shm/%s\n", e->d_name);
    }
    if (d)
        closedir(d);
}

static void cleanup(void)
{
    char cmd[128];
    http_blob_free(&srv);
    http_blob_finish(&srv);
    uv_run(&loop, UV_RUN_NOWAIT);
    http_ignore(uv_loop_close(&loop));
    http_names_cache_free(mount.names);
    http_list_cache_free(mount.lists);
    kn_datadir_close(&dd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_http_api: could not remove %s\n", tmpdir);
}

static void setup(void)
{
    /* Seeded: the same keys, objects and ids in every run, so findings replay. */
    static kn_env_seeded seeded;
    kn_env_seeded_init(&seeded, 1, NOW - 60000);
    const kn_env *env = &seeded.env;
    char path[KN_PATH_MAX];
    uint8_t key[32];
    int rc;
    remove_stale();
    snprintf(tmpdir, sizeof tmpdir, "/dev/shm/kn-fuzz-api-%ld", (long)getpid());
    if (mkdir(tmpdir, 0700) < 0) {
        perror(tmpdir);
        exit(1);
    }
    atexit(cleanup);
    snprintf(path, sizeof path, "%s/node", tmpdir);
    kn_env_random(env, key, sizeof key);
    if ((rc = kn_datadir_create(path, env, key)) < 0)
        die("datadir", rc);
    kn_store_options so = { .no_sync = true };
    if ((rc = kn_datadir_open(&dd, path, &so)) < 0)
        die("open", rc);
    /* The network, founded by this node, and an admin whose user key it holds. */
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 2);
    kn_mp_write_cstr(&b, "admit");
    kn_mp_write_uint(&b, 1);
    kn_mp_write_cstr(&b, "name");
    kn_mp_write_cstr(&b, "fuzz");
    kn_object_draft d
        = { .type = KN_T_NETWORK, .space = "", .body = b.buf, .body_len = b.len, .created = 1000 };
    uint8_t *raw = NULL, id[KN_ID];
    size_t len;
    if ((rc = kn_object_sign(&d, dd.identity_sk, &raw, &len)) < 0
        || (rc = kn_store_put(dd.store, raw, len, NOW, id)) < 0)
        die("network", rc);
    free(raw);
    kn_mp_out_free(&b);
    const char *langs[] = { "de" };
    kn_user_info ui = { .name = "Anna Fuzz", .role = "Vergabe", .lang = langs, .nlang = 1 };
    if ((rc = kn_users_create(&dd, env, &ui, admin.user, NULL)) < 0)
        die("user", rc);
    snprintf(admin.login, sizeof admin.login, "anna");
    admin.role = KN_ROLE_ADMIN;
    admin.has_password = true;
    if (crypto_pwhash_str(admin.pwhash, "correct horse", 13, crypto_pwhash_OPSLIMIT_MIN,
            crypto_pwhash_MEMLIMIT_MIN)
        != 0)
        die("pwhash", KN_ENOMEM);
    if ((rc = kn_account_put(dd.store, &admin)) < 0)
        die("account", rc);
    seeded.now_ms = NOW;
    if (uv_loop_init(&loop) != 0)
        die("uv_loop_init", KN_ENOMEM);
    nd.loop = &loop;
    nd.dd = &dd;
    nd.env = env;
    kn_log_init(&nd.log, env);
    nd.log.level = KN_LOG_ERROR;
    srv.n = &nd;
    srv.mounts = &mount;
    srv.nmounts = 1;
    mount.n = &nd;
    http_blob_start(&srv, &loop);
    make("threads", "{\"space\":\"rat\",\"title\":\"Sitzung\",\"body\":\"Tagesordnung\"}",
        fixture[0]);
    make("polls",
        "{\"space\":\"rat\",\"question\":\"Wann?\",\"options\":[\"Mo\",\"Di\",\"Mi\"],"
        "\"multiple\":true,\"deadline\":1900000000000}",
        fixture[1]);
    make("events",
        "{\"space\":\"rat\",\"title\":\"Rat\",\"tz\":\"Europe/Berlin\",\"start\":"
        "\"2026-12-03T10:00\",\"end\":\"2026-12-03T12:00\",\"place\":\"Rathaus\"}",
        fixture[2]);
}

/* Copies body[0..len) with every "@ID@" replaced by last (NUL-terminated, malloc'd). */
static char *substitute(const char *body, size_t len, const char *last, size_t *outlen)
{
    size_t ll = strlen(last), n = 0;
    char *out = malloc(len * (ll > 4 ? ll / 4 + 1 : 1) + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        if (len - i >= 4 && memcmp(body + i, "@ID@", 4) == 0) {
            memcpy(out + n, last, ll);
            n += ll;
            i += 4;
        } else {
            out[n++] = body[i++];
        }
    }
    *outlen = n;
    return out;
}

/* One request of the input (see the top of the file); last: the id of the previous answer. */
static void one(const char *s, size_t n, char last[65])
{
    if (n < 1)
        return;
    const struct endpoint *e = &endpoints[(uint8_t)(s[0] - 'a') % NENDPOINTS];
    const char *rest = s + 1;
    n--;
    char id[101] = "", query[201] = "", path[200];
    const char *nl = memchr(rest, '\n', n);
    size_t il = nl ? (size_t)(nl - rest) : n;
    if (il >= sizeof id || memchr(rest, 0, il))
        return; /* h2o hands over paths without NUL */
    memcpy(id, rest, il);
    id[il] = 0;
    rest += il + (nl != NULL);
    n -= il + (nl != NULL);
    char *q = strchr(id, '?');
    if (q) {
        snprintf(query, sizeof query, "%s", q + 1);
        *q = 0;
    }
    if (e->flags & E_ID) {
        if (!id[0] && (e->flags & E_FIXTURE_MASK))
            memcpy(id, fixture[((e->flags & E_FIXTURE_MASK) >> 4) - 1], 65);
        else if (strcmp(id, "@") == 0)
            memcpy(id, last, strlen(last) + 1);
        if (!id[0] || strchr(id, '/') || !http_utf8_ok(id, strlen(id)))
            return; /* h2o hands over paths normalised, on_req only UTF-8 ones */
    }
    snprintf(path, sizeof path, e->path, id);
    size_t blen;
    char *body = substitute(rest, n, last, &blen); /* exact size: ASan sees reads past the end */
    if (!body)
        return;
    const char *method = e->flags & E_GET ? "GET"
        : e->flags & E_PUT                ? "PUT"
        : e->flags & E_DELETE             ? "DELETE"
                                          : "POST";
    request(method, path, query, body, blen, e->flags & E_PAGE);
    free(body);
    if (ans.id[0])
        memcpy(last, ans.id, strlen(ans.id) + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup();
        ready = true;
    }
    if (size > 1 << 16)
        return 0;
    /* Requests are separated by a line "--" (at most 8 of them). */
    const char *s = (const char *)data, *end = s + size;
    char last[65] = "";
    for (int k = 0; k < 8 && s < end; k++) {
        const char *sep = NULL;
        for (const char *p = s; p + 4 <= end && !sep; p++)
            if (memcmp(p, "\n--\n", 4) == 0)
                sep = p;
        one(s, (size_t)((sep ? sep : end) - s), last);
        s = sep ? sep + 4 : end;
    }
    /* Nothing outlives the input: open uploads are dropped. */
    http_blob_free(&srv);
    uv_run(&loop, UV_RUN_NOWAIT);
    return 0;
}
