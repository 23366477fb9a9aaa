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
 */
#include <string.h>

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
    if (kn_session_account_get(r->n->dd->store, r->session_key, &s, &r->acct) < 0
        || s.expires_ms <= r->now) {
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

int http_auth_login(hreq *r, const char *login, const char *password, const char **code)
{
    http *h = r->h;
    char akey[80], ikey[80];
    *code = "bad_login";
    if (!login || !password || !kn_login_valid(login) || strlen(password) > 1024) {
        h->logins_failed++;
        return 401;
    }
    snprintf(akey, sizeof akey, "a:%s", login);
    snprintf(ikey, sizeof ikey, "i:%s", r->ip);
    if (rl_limited(h, akey, HTTP_RL_MAX_ACCOUNT, r->now)
        || rl_limited(h, ikey, HTTP_RL_MAX_ADDR, r->now)) {
        h->logins_limited++;
        *code = "rate_limited";
        http_header(r, "retry-after", "900");
        return 429;
    }
    kn_account a;
    int rc = kn_account_get(r->n->dd->store, login, &a);
    if (rc < 0 || !a.has_password || kn_pwhash_verify(a.pwhash, password, strlen(password)) < 0) {
        rl_fail(h, akey, r->now);
        rl_fail(h, ikey, r->now);
        h->logins_failed++;
        node_log(r->n, "web login failed for \"%s\" from %s", login, r->ip);
        return 401;
    }
    if (!kn_users_holds_key(r->n->dd, a.user)) {
        *code = "no_user_key";
        h->logins_failed++;
        return 403;
    }
    http_rl_slot *s = rl_find(h, akey, r->now, false);
    if (s)
        s->failures = 0;
    if (start_session(r, &a) < 0) {
        *code = "internal";
        return 500;
    }
    h->logins_ok++;
    *code = "ok";
    return 0;
}

void http_auth_logout(hreq *r)
{
    if (r->authed)
        http_ignore(kn_session_del(r->n->dd->store, r->session_key));
    r->authed = false;
    http_header(r, "set-cookie", SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
}

int http_auth_activate(hreq *r, const char *token, const char *password, const char **code)
{
    uint8_t t[32], hash[32];
    kn_account a;
    *code = "bad_token";
    if (!token || strlen(token) != 64 || kn_hex_decode(t, 32, token, 64) < 0)
        return 400;
    kn_blake2b(hash, 32, t, 32);
    kn_memzero(t, sizeof t);
    if (kn_account_by_activation(r->n->dd->store, hash, &a) < 0
        || a.activation_expires_ms <= r->now)
        return 404;
    if (!password || strlen(password) < 8 || strlen(password) > 1024) {
        *code = "weak_password";
        return 400;
    }
    if (kn_pwhash_str(a.pwhash, password, strlen(password)) < 0) {
        *code = "internal";
        return 500;
    }
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

void http_auth_api_login(hreq *r)
{
    json_t *j = http_body_json(r);
    if (!j)
        return;
    const char *login = json_string_value(json_object_get(j, "login"));
    const char *password = json_string_value(json_object_get(j, "password"));
    const char *code;
    int status = http_auth_login(r, login, password, &code);
    json_decref(j);
    if (status) {
        http_error(r, status, code,
            status == 429       ? "too many failed logins; wait 15 minutes"
                : status == 403 ? "this node does not hold the account's user key"
                                : "wrong login or password");
        return;
    }
    http_json(r, 200, http_session_json(r));
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
