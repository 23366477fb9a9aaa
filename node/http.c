/*
 * The node's HTTP server: h2o 2.2.5 on the node's own libuv loop.
 *
 * We accept TCP connections ourselves (uv_tcp) and hand each to h2o with
 * h2o_uv_socket_create() and h2o_accept(); one h2o handler receives every
 * request and routes it: /api/... and /metrics to http_api.c, /static/ to the
 * assets built into the binary, the rest to the pages (http_pages.c).
 *
 * Every response carries Content-Security-Policy default-src 'self' (nothing
 * inline, nothing from elsewhere), nosniff, no framing and no referrer to
 * other sites. HTTP/2 (h2c upgrade) is off: browsers use it only over TLS,
 * which a reverse proxy in front of the node provides.
 *
 * Several councils hosted in one process share the listener, each below its
 * web_path ("/" for one council, "/NAME" for several): a request goes to the
 * council with the longest matching path, and its pages use relative links
 * below <base href>, its cookies that path.
 *
 * Shutdown: when the last council stops, node_stop() calls http_stop() (stop
 * accepting, close idle keep-alive connections); when it finished,
 * finish_stop() calls http_finish(), which cuts the connections still open so
 * h2o closes them through its own error path, and lets h2o's handles stop
 * holding the loop; when the loop has ended, host_run() calls http_free() to
 * dispose of the h2o context.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hex.h"
#include "http_impl.h"
#include "peer_config.h"

struct http_conn {
    uv_tcp_t tcp; /* first: h2o's close callback receives this handle */
    http *h;
    http_conn *prev, *next;
};

typedef struct handler {
    h2o_handler_t super;
    http *h;
} handler;

#define CSP                                                                                        \
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "               \
    "form-action 'self'; frame-ancestors 'none'"

/* ---- responses ---- */

static void count_status(http *h, int status)
{
    int cls = status / 100;
    h->requests[cls >= 1 && cls <= 5 ? cls : 0]++;
    if (status >= 100 && status < 600)
        h->status_counts[status]++;
}

void http_header(hreq *r, const char *name, const char *value)
{
    /* h2o keeps the pointers it is given: both strings go into the request's pool. */
    h2o_iovec_t nm = h2o_strdup(&r->req->pool, name, strlen(name));
    h2o_iovec_t v = h2o_strdup(&r->req->pool, value, strlen(value));
    h2o_add_header_by_str(
        &r->req->pool, &r->req->res.headers, nm.base, nm.len, 1, NULL, v.base, v.len);
}

static void security_headers(hreq *r)
{
    http_header(r, "content-security-policy", CSP);
    http_header(r, "x-content-type-options", "nosniff");
    http_header(r, "x-frame-options", "DENY");
    http_header(r, "referrer-policy", "same-origin");
}

/* Status, length, content type and the security headers of a response about to start. */
static void response_head(hreq *r, int status, const char *ctype, uint64_t len)
{
    r->responded = true;
    count_status(r->h, status);
    h2o_req_t *req = r->req;
    req->res.status = status;
    req->res.reason = status == 200 ? "OK"
        : status == 201             ? "Created"
        : status == 206             ? "Partial Content"
        : status == 303             ? "See Other"
        : status < 400              ? "OK"
        : status == 416             ? "Range Not Satisfiable"
        : status < 500              ? "Client Error"
                                    : "Server Error";
    req->res.content_length = len;
    if (ctype)
        http_header(r, "content-type", ctype);
    security_headers(r);
}

/* A complete response whose body buf lives at least as long as the request. */
static void send_whole(hreq *r, int status, const char *ctype, h2o_iovec_t buf)
{
    static h2o_generator_t generator = { NULL, NULL };
    response_head(r, status, ctype, buf.len);
    h2o_start_response(r->req, &generator);
    if (http_method_is(r, "HEAD"))
        h2o_send(r->req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(r->req, &buf, 1, H2O_SEND_STATE_FINAL);
}

void http_send(hreq *r, int status, const char *ctype, const char *body, size_t len)
{
    if (!r->responded)
        send_whole(r, status, ctype, h2o_strdup(&r->req->pool, body ? body : "", len));
}

void http_send_shared(hreq *r, int status, const char *ctype, char *body, size_t len)
{
    if (r->responded)
        return;
    h2o_mem_link_shared(&r->req->pool, body); /* released when the request's pool is */
    send_whole(r, status, ctype, h2o_iovec_init(body, len));
}

void http_start_stream(hreq *r, int status, const char *ctype, uint64_t len, h2o_generator_t *g)
{
    response_head(r, status, ctype, len);
    h2o_start_response(r->req, g);
}

void http_json(hreq *r, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(j);
    if (!s) {
        http_send(r, 500, "application/json", "{\"error\":\"oom\"}", 15);
        return;
    }
    http_header(r, "cache-control", "no-store");
    http_send(r, status, "application/json; charset=utf-8", s, strlen(s));
    free(s);
}

void http_error(hreq *r, int status, const char *code, const char *msg)
{
    if (r->api || !r->n) {
        http_json(r, status, json_pack("{s:s, s:s}", "error", code, "message", msg));
        return;
    }
    if (r->form_again && (status == 400 || status == 409)) {
        void (*again)(hreq *, int, const char *) = r->form_again;
        r->form_again = NULL; /* once: the form page itself may fail */
        again(r, status, msg);
        return;
    }
    http_pages_error(r, status, msg);
}

void http_redirect(hreq *r, const char *location)
{
    if (!http_local_path_ok(location))
        location = "/"; /* never redirect off this site */
    size_t bl = r->base ? strlen(r->base) : 0, ll = strlen(location);
    char *full = h2o_mem_alloc_pool(&r->req->pool, bl + ll + 1);
    memcpy(full, r->base, bl);
    memcpy(full + bl, location, ll + 1);
    http_header(r, "location", full);
    http_header(r, "cache-control", "no-store");
    http_send(r, 303, "text/plain; charset=utf-8", "", 0);
}

const char *http_req_header(hreq *r, const char *name, size_t *len)
{
    ssize_t i = h2o_find_header_by_str(&r->req->headers, name, strlen(name), -1);
    if (i < 0)
        return NULL;
    *len = r->req->headers.entries[i].value.len;
    return r->req->headers.entries[i].value.base;
}

bool http_method_is(hreq *r, const char *m)
{
    return h2o_memis(r->req->method.base, r->req->method.len, m, strlen(m));
}

const char *http_seg(hreq *r, size_t i)
{
    return i < r->nseg ? r->seg[i] : NULL;
}

/* ---- static files ---- */

static const char *mime_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (dot && strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (dot && strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    return "application/octet-stream";
}

static void serve_asset(hreq *r, const char *name)
{
    for (size_t i = 0; i < kn_web_assets_count; i++) {
        if (strcmp(kn_web_assets[i].name, name) != 0)
            continue;
        http_header(r, "cache-control", "public, max-age=3600");
        http_send(r, 200, mime_of(name), (const char *)kn_web_assets[i].data, kn_web_assets[i].len);
        return;
    }
    http_error(r, 404, "not_found", "no such file");
}

/* ---- routing ---- */

/* The client's address; behind the trusted proxy, the last X-Forwarded-For entry. */
static void client_address(hreq *r)
{
    struct sockaddr_storage ss = { 0 };
    r->ip[0] = 0;
    if (r->req->conn->callbacks->get_peername)
        r->req->conn->callbacks->get_peername(r->req->conn, (struct sockaddr *)&ss);
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, r->ip, sizeof r->ip);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, r->ip, sizeof r->ip);
    if (!r->h->trusted_proxy[0] || strcmp(r->ip, r->h->trusted_proxy) != 0)
        return;
    size_t len;
    const char *v = http_req_header(r, "x-forwarded-proto", &len);
    r->https = v && len == 5 && strncasecmp(v, "https", 5) == 0;
    if ((v = http_req_header(r, "x-forwarded-for", &len)) != NULL)
        http_ignore(http_forwarded_last(v, len, r->ip, sizeof r->ip)); /* else the proxy's */
}

/* Splits r->path after prefix into segments (at most 8, each non-empty). */
static bool split_path(hreq *r, const char *prefix)
{
    size_t pl = strlen(prefix);
    const char *p = r->path + pl;
    size_t len = strlen(p);
    if (len >= sizeof r->segbuf)
        return false;
    memcpy(r->segbuf, p, len + 1);
    r->nseg = 0;
    char *save = NULL;
    for (char *t = strtok_r(r->segbuf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (r->nseg == 8)
            return false;
        r->seg[r->nseg++] = t;
    }
    return true;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    http *h = ((handler *)self)->h;
    hreq *r = h2o_mem_alloc_pool(&req->pool, sizeof *r);
    memset(r, 0, sizeof *r);
    r->h = h;
    r->req = req;
    r->base = "";
    r->now = node_now(h->n);
    snprintf(r->lang, sizeof r->lang, "de");
    client_address(r);
    h2o_iovec_t np = req->path_normalized;
    /* Segments reach the pages (area names, ids): UTF-8 only (fuzz_http_api). */
    if (np.len == 0 || np.len >= sizeof r->path || !http_utf8_ok(np.base, np.len)) {
        http_error(r, 414, "bad_path", "the path is too long or malformed");
        return 0;
    }
    if (h2o_memis(np.base, np.len, H2O_STRLIT("/healthz"))) {
        http_send(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
        return 0;
    }
    /* The council whose web_path is the longest prefix of the path (at a '/'). */
    const http_mount *m = NULL;
    for (size_t i = 0; i < h->nmounts; i++) {
        size_t pl = strlen(h->mounts[i].path);
        if (np.len >= pl && memcmp(np.base, h->mounts[i].path, pl) == 0
            && (np.len == pl || np.base[pl] == '/') && (!m || pl > strlen(m->path)))
            m = &h->mounts[i];
    }
    if (!m) {
        http_error(r, 404, "not_found", "no council's pages are here");
        return 0;
    }
    r->n = m->n;
    r->base = m->path;
    r->mount = (http_mount *)m;
    r->now = node_now(r->n);
    size_t pl = strlen(m->path);
    if (np.len == pl) { /* "/musterstadt": its pages are below "/musterstadt/" */
        http_redirect(r, "/");
        return 0;
    }
    if (r->n->stopping) {
        http_error(r, 503, "stopping", "this council's node is shutting down");
        return 0;
    }
    memcpy(r->path, np.base + pl, np.len - pl);
    r->path[np.len - pl] = 0;
    r->api = starts(r->path, "/api/");
    if (req->query_at != SIZE_MAX
        && http_form_parse(&req->pool, req->path.base + req->query_at + 1,
               req->path.len - req->query_at - 1, &r->query)
            < 0) {
        http_error(r, 400, "bad_query", "the query string is malformed or has too many fields");
        return 0;
    }
    if (strcmp(r->path, "/metrics") == 0) {
        http_api_metrics(r);
        return 0;
    }
    if (starts(r->path, "/static/")) {
        serve_asset(r, r->path + 8);
        return 0;
    }
    http_auth_load(r);
    if (r->api) {
        if (!split_path(r, "/api/")) {
            http_error(r, 404, "not_found", "no such endpoint");
            return 0;
        }
        http_api_route(r, r->path + 5);
    } else {
        if (!split_path(r, "/")) {
            http_error(r, 404, "not_found", "no such page");
            return 0;
        }
        http_pages_route(r, r->path);
    }
    if (r->async)
        return 0; /* answered from a callback (http_auth.c), which frees the names then */
    if (!r->responded)
        http_error(r, 500, "internal", "the request was not answered");
    http_names_free(r);
    return 0;
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *hd)
{
    http_conn *c = (http_conn *)hd;
    http *h = c->h;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->nconns--;
    free(c);
}

static void on_refused_closed(uv_handle_t *hd)
{
    free(hd);
}

static void on_connection(uv_stream_t *server, int status)
{
    http *h = server->data;
    if (status < 0)
        return;
    http_conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->h = h;
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || h->stopping
        || h->nconns >= HTTP_MAX_CONNS) {
        uv_close((uv_handle_t *)&c->tcp, on_refused_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->next = h->conns;
    if (h->conns)
        h->conns->prev = c;
    h->conns = c;
    h->nconns++;
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_closed);
    h2o_accept(&h->accept, sock);
}

/* ---- lifecycle ---- */

/* "/" -> "", "/musterstadt/" -> "/musterstadt". */
static void mount_path(char *out, size_t cap, const char *web_path)
{
    snprintf(out, cap, "%s", web_path && web_path[0] == '/' ? web_path : "/");
    size_t l = strlen(out);
    while (l > 0 && out[l - 1] == '/')
        out[--l] = 0;
}

void http_start(node_host *host)
{
    node *first = NULL;
    size_t count = 0;
    for (size_t i = 0; i < host->n; i++)
        if (host->nodes[i]->cfg->http_enabled && host->nodes[i]->cfg->http_listen) {
            count++;
            if (!first)
                first = host->nodes[i];
        }
    if (!first)
        return;
    const char *listen = first->cfg->http_listen;
    char hostname[KN_HOST_MAX + 1];
    uint16_t port;
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } a;
    if (kn_hostport_parse(listen, hostname, &port) < 0
        || (uv_ip4_addr(hostname, port, &a.v4) != 0 && uv_ip6_addr(hostname, port, &a.v6) != 0)) {
        node_logl(first, KN_LOG_ERROR,
            "the web interface is off: \"%s\" is not an IP address and port such as "
            "127.0.0.1:8470",
            listen);
        return;
    }
    http *h = calloc(1, sizeof *h);
    if (!h || !(h->mounts = calloc(count, sizeof *h->mounts))) {
        free(h);
        node_logl(first, KN_LOG_ERROR, "the web interface is off: out of memory");
        return;
    }
    h->host = host;
    h->n = first;
    for (size_t i = 0; i < host->n; i++) {
        node *n = host->nodes[i];
        if (!n->cfg->http_enabled || !n->cfg->http_listen)
            continue;
        http_mount *m = &h->mounts[h->nmounts++];
        m->n = n;
        mount_path(m->path, sizeof m->path, n->cfg->web_path);
    }
    snprintf(h->listen, sizeof h->listen, "%s", listen);
    if (first->cfg->trusted_proxy)
        snprintf(h->trusted_proxy, sizeof h->trusted_proxy, "%s", first->cfg->trusted_proxy);
    const char *hold = getenv("KNOTEN_TEST_LOGIN_HOLD");
    if (hold && *hold) {
        snprintf(h->test_login_hold, sizeof h->test_login_hold, "%s", hold);
        node_logl(first, KN_LOG_WARN,
            "KNOTEN_TEST_LOGIN_HOLD is set: every password check waits until %s exists "
            "(for tests only; unset it)",
            hold);
    }
    h2o_config_init(&h->config);
    h->config.server_name = h2o_iovec_init(H2O_STRLIT("knoten"));
    h->config.max_request_entity_size = HTTP_BODY_MAX;
    h->config.http1.upgrade_to_http2 = 0;
    h->config.http1.req_timeout = 10000;
    h2o_hostconf_t *host_conf
        = h2o_config_register_host(&h->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host_conf, "/", 0);
    handler *hd = (handler *)h2o_create_handler(path, sizeof *hd);
    hd->super.on_req = on_req;
    hd->h = h;
    h2o_context_init(&h->ctx, &host->loop, &h->config);
    h->ctx_inited = true;
    h->accept.ctx = &h->ctx;
    h->accept.hosts = h->config.hosts;
    host->http = h;
    uv_tcp_init(&host->loop, &h->listener);
    h->listener.data = h;
    int rc = uv_tcp_bind(&h->listener, &a.sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&h->listener, 128, on_connection);
    if (rc < 0) {
        node_logl(first, KN_LOG_WARN,
            "the web interface is off: cannot listen on %s: %s%s; the node runs on without it",
            listen, uv_strerror(rc),
            rc == UV_EADDRINUSE ? " (another program uses that port; choose one with --http "
                                  "HOST:PORT or [http] listen)"
                                : "");
        uv_close((uv_handle_t *)&h->listener, NULL);
        return;
    }
    h->listening = true;
    http_blob_start(h, &host->loop);
    for (size_t i = 0; i < h->nmounts; i++)
        node_log(h->mounts[i].n, "web interface on http://%s%s/", listen, h->mounts[i].path);
}

void http_stop(node_host *host)
{
    http *h = host->http;
    if (!h || h->stopping)
        return;
    h->stopping = true;
    http_auth_stop(h);
    if (h->listening && !uv_is_closing((uv_handle_t *)&h->listener))
        uv_close((uv_handle_t *)&h->listener, NULL);
    h->listening = false;
    h2o_context_request_shutdown(&h->ctx);
    /* Idle keep-alive connections wait on req_timeout: end that wait now. */
    h2o_timeout_run(&host->loop, &h->ctx.http1.req_timeout, UINT64_MAX);
}

/* uv_walk: h2o's timers live inside its context; idle, they must not keep the loop running. */
static void unref_ctx_timer(uv_handle_t *hd, void *arg)
{
    http *h = arg;
    const char *p = (const char *)hd, *lo = (const char *)&h->ctx;
    if (uv_handle_get_type(hd) == UV_TIMER && p >= lo && p < lo + sizeof h->ctx)
        uv_unref(hd);
}

void http_finish(node_host *host)
{
    http *h = host->http;
    if (!h)
        return;
    http_stop(host);
    http_blob_finish(h);
    h2o_timeout_run(&host->loop, &h->ctx.http1.req_timeout, UINT64_MAX);
    /* request_shutdown armed HTTP/2's graceful-shutdown timer; we serve no HTTP/2. */
    h2o_timeout_unlink(&h->ctx.http2._graceful_shutdown_timeout);
    /*
     * A connection still open is writing a response to a slow client. Cutting
     * the socket makes its next write fail, and h2o then closes it the usual
     * way (closing the handle under h2o would close it twice).
     */
    for (http_conn *c = h->conns; c; c = c->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            shutdown(fd, SHUT_RDWR);
    }
    /* h2o's wake-up handle (an uv_async, the first member of its queue) must not keep the loop. */
    uv_handle_t *async = (uv_handle_t *)h->ctx.queue;
    if (async && uv_handle_get_type(async) == UV_ASYNC)
        uv_unref(async);
    uv_walk(&host->loop, unref_ctx_timer, h);
}

void http_free(node_host *host)
{
    http *h = host->http;
    if (!h)
        return;
    if (h->ctx_inited)
        h2o_context_dispose(&h->ctx);
    http_auth_stop(h); /* logins still waiting (if http_stop never ran): their requests are gone */
    http_blob_free(h);
    for (size_t i = 0; i < h->nmounts; i++) {
        http_names_cache_free(h->mounts[i].names);
        http_list_cache_free(h->mounts[i].lists);
    }
    h2o_config_dispose(&h->config);
    free(h->mounts);
    free(h);
    host->http = NULL;
}
