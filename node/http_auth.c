/*
 * Who is asking: staff sessions, login and logout, activation links, CSRF
 * tokens and login rate limiting for the HTTP layer.
 *
 * A session is a random 32-byte token in the cookie `knoten_session`
 * (HttpOnly, SameSite=Strict, Path=/, Secure when the trusted proxy says the
 * browser came over https). The store keeps only BLAKE2b(token) with the login
 * and the expiry (store/accounts.h), so a copy of the data directory holds no
 * usable session. The CSRF token of a session is BLAKE2b("knoten/csrf" ||
 * token): pages put it in every form (field `csrf`), the API wants it in the
 * header X-CSRF-Token, and every state change without it is refused with 403.
 * The login form itself is protected by a double-submit cookie
 * (`knoten_pre`), the JSON login by requiring Content-Type application/json,
 * which a cross-site form cannot send.
 *
 * Failed logins are counted per account and per client address in a fixed
 * table (HTTP_RL_SLOTS, least recently started window replaced first): after
 * HTTP_RL_MAX_ACCOUNT failures for one account or HTTP_RL_MAX_ADDR from one
 * address within HTTP_RL_WINDOW_MS, further attempts get 429 without the
 * password being checked. Passwords are checked with Argon2id
 * (crypto_pwhash_str_verify, libsodium's interactive limits).
 *
 * Argon2id is slow on purpose (tens of milliseconds and 64 MiB per hash), so
 * it never runs on the loop thread, where it would stall replication and
 * every other request: a login or activation reads the account on the loop,
 * hands the hash to libuv's thread pool (uv_queue_work) and answers from the
 * after-work callback (hreq.async). At most HTTP_AUTH_RUNNING hashes run at
 * once (the pool's other threads stay free for the store and validation
 * work; memory stays bounded), HTTP_AUTH_QUEUED more wait in order, beyond
 * that the answer is 503 with Retry-After. An attempt in progress already
 * counts as a failure for the rate limit, so parallel attempts cannot get
 * around it; a success takes its count back. If the client goes away before
 * the hash is done (its request's pool is disposed), the outcome still counts
 * for the rate limit but nothing is answered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "hex.h"
#include "http_impl.h"
#include "users.h"

#define SESSION_COOKIE "knoten_session"

static void csrf_of(const uint8_t token[32], char out[65])
{
    uint8_t in[11 + 32], h[32];
    memcpy(in, "knoten/csrf", 11);
    memcpy(in + 11, token, 32);
    kn_blake2b(h, 32, in, sizeof in);
    kn_hex_encode(out, h, 32);
    kn_memzero(in, sizeof in);
}

void http_auth_load(hreq *r)
{
    char hex[65], lang[4];
    uint8_t token[32];
    if (http_cookie(r, "lang", lang, sizeof lang) && (!strcmp(lang, "de") || !strcmp(lang, "en")))
        memcpy(r->lang, lang, 3);
    const char *ql = http_form_get(&r->query, "lang");
    if (ql && (!strcmp(ql, "de") || !strcmp(ql, "en")))
        memcpy(r->lang, ql, 3);
    if (!http_cookie(r, SESSION_COOKIE, hex, sizeof hex) || strlen(hex) != 64
        || kn_hex_decode(token, 32, hex, 64) < 0)
        return;
    kn_blake2b(r->session_key, 32, token, 32);
    kn_session_rec s;
    /* The rule of the login itself: no session without the user's key (gone when revoked). */
    if (kn_session_account_get(r->n->dd->store, r->session_key, &s, &r->acct) < 0
        || s.expires_ms <= r->now || !kn_users_holds_key(r->n->dd, r->acct.user)) {
        memset(&r->acct, 0, sizeof r->acct);
        kn_memzero(token, sizeof token);
        return;
    }
    r->authed = true;
    csrf_of(token, r->csrf);
    kn_memzero(token, sizeof token);
    if (!ql && (!strcmp(r->acct.lang, "de") || !strcmp(r->acct.lang, "en"))
        && !http_cookie(r, "lang", lang, sizeof lang))
        memcpy(r->lang, r->acct.lang, 3);
}

bool http_auth_csrf_ok(hreq *r)
{
    if (!r->authed)
        return false;
    size_t len;
    const char *v = http_req_header(r, "x-csrf-token", &len);
    char got[65];
    if (v && len == 64) {
        memcpy(got, v, 64);
    } else {
        const char *f = http_param(r, "csrf");
        if (!f || strlen(f) != 64)
            goto refuse;
        memcpy(got, f, 64);
    }
    if (kn_memcmp_ct(got, r->csrf, 64) == 0)
        return true;
refuse:
    r->h->csrf_refused++;
    return false;
}

/* ---- rate limiting ---- */

static http_rl_slot *rl_find(http *h, const char *key, uint64_t now, bool create)
{
    http_rl_slot *oldest = &h->rl[0];
    for (size_t i = 0; i < HTTP_RL_SLOTS; i++) {
        http_rl_slot *s = &h->rl[i];
        if (s->key[0] && strcmp(s->key, key) == 0) {
            if (now - s->window_ms >= HTTP_RL_WINDOW_MS) {
                s->window_ms = now;
                s->failures = 0;
            }
            return s;
        }
        if (!s->key[0] || s->window_ms < oldest->window_ms
            || (oldest->key[0] && now - s->window_ms >= HTTP_RL_WINDOW_MS))
            oldest = s;
    }
    if (!create)
        return NULL;
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->key, sizeof oldest->key, "%s", key);
    oldest->window_ms = now;
    return oldest;
}

static bool rl_limited(http *h, const char *key, unsigned max, uint64_t now)
{
    http_rl_slot *s = rl_find(h, key, now, false);
    return s && s->failures >= max;
}

static void rl_fail(http *h, const char *key, uint64_t now)
{
    http_rl_slot *s = rl_find(h, key, now, true);
    s->failures++;
}

/* ---- sessions ---- */

static int start_session(hreq *r, kn_account *a)
{
    uint8_t token[32];
    char hex[65];
    kn_env_random(r->n->env, token, sizeof token);
    kn_blake2b(r->session_key, 32, token, 32);
    kn_session_rec s = { .created_ms = r->now, .expires_ms = r->now + HTTP_SESSION_MS };
    snprintf(s.login, sizeof s.login, "%s", a->login);
    int rc = kn_session_put(r->n->dd->store, r->session_key, &s);
    if (rc < 0) {
        kn_memzero(token, sizeof token);
        return rc;
    }
    a->prev_visit_ms = a->last_visit_ms;
    a->last_visit_ms = r->now;
    http_ignore(kn_account_put(r->n->dd->store, a));
    size_t purged;
    http_ignore(kn_sessions_purge(r->n->dd->store, r->now, NULL, &purged));
    kn_hex_encode(hex, token, 32);
    char cookie[320];
    snprintf(cookie, sizeof cookie,
        SESSION_COOKIE "=%s; Path=%s/; HttpOnly; SameSite=Strict; Max-Age=%llu%s", hex, r->base,
        (unsigned long long)(HTTP_SESSION_MS / 1000), r->https ? "; Secure" : "");
    http_header(r, "set-cookie", cookie);
    r->authed = true;
    r->acct = *a;
    csrf_of(token, r->csrf);
    kn_memzero(token, sizeof token);
    kn_memzero(hex, sizeof hex);
    kn_memzero(cookie, sizeof cookie);
    return 0;
}

/* ---- Argon2id on the thread pool ---- */

struct http_auth_job {
    uv_work_t work;
    http *h;
    node *n; /* the council asked */
    hreq *r; /* NULL once the client went away (the request's pool was disposed) */
    http_auth_job **link; /* in the request's pool, pointing here while both live */
    http_auth_job *next; /* waiting in h->auth_queue */
    http_auth_done_fn done;
    bool activate; /* hash a new password (activation), else verify the stored hash */
    int rc; /* of the hash or the verification */
    char login[KN_LOGIN_MAX + 1];
    uint8_t token_hash[32]; /* activation: BLAKE2b of the one-time token */
    char akey[80], ikey[80]; /* rate limit slots (login) */
    char ip[64]; /* the client, for the log */
    char pwhash[KN_PWHASH_STR]; /* verify: the stored hash; activate: the new one */
    char password[HTTP_PASSWORD_MAX + 1];
    size_t plen;
};

static void on_req_gone(void *p)
{
    http_auth_job *j = *(http_auth_job **)p;
    if (j) {
        j->r = NULL;
        j->link = NULL;
    }
}

/* KNOTEN_TEST_LOGIN_HOLD=PATH (tests only): a hash waits until PATH exists, at most 20 s. */
static void test_hold(const char *path)
{
    for (int i = 0; path && *path && i < 2000 && access(path, F_OK) != 0; i++) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
}

static void auth_work(uv_work_t *w)
{
    http_auth_job *j = w->data;
    test_hold(j->h->test_login_hold);
    j->rc = j->activate ? kn_pwhash_str(j->pwhash, j->password, j->plen)
                        : kn_pwhash_verify(j->pwhash, j->password, j->plen);
}

static void auth_complete(http_auth_job *j, int status);
static void auth_pump(http *h);

static void auth_after(uv_work_t *w, int status)
{
    http_auth_job *j = w->data;
    http *h = j->h;
    h->auth_running--;
    auth_complete(j, status);
    auth_pump(h);
}

/* Starts waiting jobs while fewer than HTTP_AUTH_RUNNING run. */
static void auth_pump(http *h)
{
    while (h->auth_queue && h->auth_running < HTTP_AUTH_RUNNING && !h->stopping) {
        http_auth_job *j = h->auth_queue;
        h->auth_queue = j->next;
        h->auth_queued--;
        j->work.data = j;
        if (uv_queue_work(j->n->loop, &j->work, auth_work, auth_after) == 0) {
            h->auth_running++;
            continue;
        }
        auth_complete(j, UV_EIO);
    }
}

/* Hands j to the pool (via the queue); false if the queue is full or the server stops. */
static bool auth_submit(hreq *r, http_auth_job *j)
{
    http *h = r->h;
    if (h->stopping || h->auth_queued >= HTTP_AUTH_QUEUED)
        return false;
    j->h = h;
    j->n = r->n;
    j->r = r;
    snprintf(j->ip, sizeof j->ip, "%s", r->ip);
    j->link = h2o_mem_alloc_shared(&r->req->pool, sizeof *j->link, on_req_gone);
    *j->link = j;
    r->async = true;
    http_auth_job **tail = &h->auth_queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = j;
    h->auth_queued++;
    auth_pump(h);
    return true;
}

static void auth_job_free(http_auth_job *j)
{
    if (!j)
        return;
    kn_memzero(j, sizeof *j);
    free(j);
}

/* The outcome of a login whose password was checked (j->rc); r is NULL if the client left. */
static int login_finish(http_auth_job *j, hreq *r, const char **code)
{
    http *h = j->h;
    uint64_t now = node_now(j->n);
    kn_account a;
    *code = "bad_login";
    /* The account as it is now: a password changed meanwhile does not let the old one in. */
    if (j->rc < 0 || kn_account_get(j->n->dd->store, j->login, &a) < 0 || !a.has_password
        || strcmp(a.pwhash, j->pwhash) != 0) {
        h->logins_failed++; /* the failures were counted when the attempt started */
        node_log(j->n, "web login failed for \"%s\" from %s", j->login, j->ip);
        return 401;
    }
    http_rl_slot *s = rl_find(h, j->akey, now, false);
    if (s)
        s->failures = 0;
    if ((s = rl_find(h, j->ikey, now, false)) && s->failures)
        s->failures--;
    if (!r)
        return 0;
    if (!kn_users_holds_key(r->n->dd, a.user)) {
        *code = "no_user_key";
        h->logins_failed++;
        return 403;
    }
    r->now = now;
    if (start_session(r, &a) < 0) {
        *code = "internal";
        return 500;
    }
    h->logins_ok++;
    *code = "ok";
    return 0;
}

/* The outcome of an activation whose new hash was computed. */
static int activate_finish(http_auth_job *j, hreq *r, const char **code)
{
    kn_account a;
    *code = "bad_token";
    if (!r)
        return 0;
    r->now = node_now(r->n);
    if (j->rc < 0) {
        *code = "internal";
        return 500;
    }
    /* Still the same account, and the link still unused and valid. */
    if (kn_account_by_activation(r->n->dd->store, j->token_hash, &a) < 0
        || a.activation_expires_ms <= r->now || strcmp(a.login, j->login) != 0)
        return 404;
    memcpy(a.pwhash, j->pwhash, sizeof a.pwhash);
    a.has_password = true;
    a.has_activation = false;
    memset(a.activation, 0, sizeof a.activation);
    a.activation_expires_ms = 0;
    if (kn_account_put(r->n->dd->store, &a) < 0 || start_session(r, &a) < 0) {
        *code = "internal";
        return 500;
    }
    *code = "ok";
    return 0;
}

/* On the loop: the hash is done (or could not be started: status < 0). */
static void auth_complete(http_auth_job *j, int status)
{
    kn_memzero(j->password, sizeof j->password);
    if (status < 0 && j->rc >= 0)
        j->rc = KN_EIO;
    hreq *r = j->r;
    if (r) { /* the request no longer needs to tell us it is gone */
        *j->link = NULL;
        j->link = NULL;
    }
    const char *code;
    int st = j->activate ? activate_finish(j, r, &code) : login_finish(j, r, &code);
    if (r) {
        j->done(r, st, code);
        http_names_free(r);
    }
    auth_job_free(j);
}

void http_auth_stop(http *h)
{
    while (h->auth_queue) {
        http_auth_job *j = h->auth_queue;
        h->auth_queue = j->next;
        h->auth_queued--;
        if (j->r) {
            *j->link = NULL;
            j->done(j->r, 503, "stopping");
            http_names_free(j->r);
        }
        auth_job_free(j);
    }
}

void http_auth_login(hreq *r, const char *login, const char *password, http_auth_done_fn done)
{
    http *h = r->h;
    char akey[80], ikey[80];
    if (!login || !password || !kn_login_valid(login) || strlen(password) > HTTP_PASSWORD_MAX) {
        h->logins_failed++;
        done(r, 401, "bad_login");
        return;
    }
    snprintf(akey, sizeof akey, "a:%s", login);
    snprintf(ikey, sizeof ikey, "i:%s", r->ip);
    if (rl_limited(h, akey, HTTP_RL_MAX_ACCOUNT, r->now)
        || rl_limited(h, ikey, HTTP_RL_MAX_ADDR, r->now)) {
        h->logins_limited++;
        http_header(r, "retry-after", "900");
        done(r, 429, "rate_limited");
        return;
    }
    kn_account a;
    int rc = kn_account_get(r->n->dd->store, login, &a);
    /* Counted now, taken back on success: attempts in parallel cannot pass the limit. */
    rl_fail(h, akey, r->now);
    rl_fail(h, ikey, r->now);
    if (rc < 0 || !a.has_password) {
        h->logins_failed++;
        node_log(r->n, "web login failed for \"%s\" from %s", login, r->ip);
        done(r, 401, "bad_login");
        return;
    }
    http_auth_job *j = calloc(1, sizeof *j);
    if (j) {
        j->done = done;
        snprintf(j->login, sizeof j->login, "%s", login);
        memcpy(j->akey, akey, sizeof akey);
        memcpy(j->ikey, ikey, sizeof ikey);
        memcpy(j->pwhash, a.pwhash, sizeof j->pwhash);
        j->plen = strlen(password);
        memcpy(j->password, password, j->plen);
    }
    kn_memzero(&a, sizeof a);
    if (j && auth_submit(r, j))
        return;
    auth_job_free(j);
    /* Not tried: take the counts back. */
    http_rl_slot *s;
    if ((s = rl_find(h, akey, r->now, false)) && s->failures)
        s->failures--;
    if ((s = rl_find(h, ikey, r->now, false)) && s->failures)
        s->failures--;
    http_header(r, "retry-after", "2");
    done(r, 503, h->stopping ? "stopping" : "busy");
}

void http_auth_logout(hreq *r)
{
    if (r->authed)
        http_ignore(kn_session_del(r->n->dd->store, r->session_key));
    r->authed = false;
    char cookie[320]; /* the path the session cookie was set with, or it stays */
    snprintf(cookie, sizeof cookie,
        SESSION_COOKIE "=; Path=%s/; HttpOnly; SameSite=Strict; Max-Age=0%s", r->base,
        r->https ? "; Secure" : "");
    http_header(r, "set-cookie", cookie);
}

void http_auth_activate(hreq *r, const char *token, const char *password, http_auth_done_fn done)
{
    uint8_t t[32], hash[32];
    kn_account a;
    if (!token || strlen(token) != 64 || kn_hex_decode(t, 32, token, 64) < 0) {
        done(r, 400, "bad_token");
        return;
    }
    kn_blake2b(hash, 32, t, 32);
    kn_memzero(t, sizeof t);
    if (kn_account_by_activation(r->n->dd->store, hash, &a) < 0
        || a.activation_expires_ms <= r->now) {
        done(r, 404, "bad_token");
        return;
    }
    if (!password || strlen(password) < 8 || strlen(password) > HTTP_PASSWORD_MAX) {
        done(r, 400, "weak_password");
        return;
    }
    http_auth_job *j = calloc(1, sizeof *j);
    if (j) {
        j->done = done;
        j->activate = true;
        snprintf(j->login, sizeof j->login, "%s", a.login);
        memcpy(j->token_hash, hash, sizeof hash);
        j->plen = strlen(password);
        memcpy(j->password, password, j->plen);
    }
    if (j && auth_submit(r, j))
        return;
    auth_job_free(j);
    http_header(r, "retry-after", "2");
    done(r, 503, r->h->stopping ? "stopping" : "busy");
}

int http_auth_user_secret(hreq *r, uint8_t sk[static 64])
{
    if (!r->authed)
        return KN_EPERM;
    return kn_users_load_secret(r->n->dd, r->acct.user, sk);
}

/* ---- JSON endpoints ---- */

json_t *http_session_json(hreq *r)
{
    char user[65];
    kn_hex_encode(user, r->acct.user, 32);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "login", r->acct.login, "user", user, "role",
        r->acct.role == KN_ROLE_ADMIN ? "admin" : "staff", "csrf", r->csrf, "lang", r->lang,
        "prev_visit", (json_int_t)r->acct.prev_visit_ms);
}

static void api_login_done(hreq *r, int status, const char *code)
{
    if (status) {
        http_error(r, status, code,
            status == 429       ? "too many failed logins; wait 15 minutes"
                : status == 403 ? "this node does not hold the account's user key"
                : status == 503 ? "the node is busy checking other logins or shutting down; "
                                  "try again in a moment"
                                : "wrong login or password");
        return;
    }
    http_json(r, 200, http_session_json(r));
}

void http_auth_api_login(hreq *r)
{
    json_t *j = http_body_json(r);
    if (!j)
        return;
    const char *login = json_string_value(json_object_get(j, "login"));
    const char *password = json_string_value(json_object_get(j, "password"));
    http_auth_login(r, login, password, api_login_done);
    json_decref(j); /* the job copied what it needs */
}

void http_auth_api_logout(hreq *r)
{
    http_auth_logout(r);
    http_json(r, 200, json_pack("{s:b}", "ok", 1));
}

void http_auth_api_session(hreq *r)
{
    http_json(r, 200, http_session_json(r));
}
