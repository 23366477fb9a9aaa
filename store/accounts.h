/*
 * Web accounts and sessions: local-only data of this node that never
 * replicates. A staff account is a login name with an Argon2id password hash
 * (or a pending one-time activation), a role (staff or admin) and the user key
 * whose certificate (node/users.h) signs what that person publishes; a
 * session is a signed-in browser, found by the hash of its cookie token.
 *
 * Both live in the store's local `settings` database under the key prefixes
 * "web/account/" and "web/session/" (layouts in accounts.c), so they are in
 * the same LMDB environment and backup as everything else but are never part
 * of an object, a sync round or an export.
 *
 * Callers: `knoten user add|passwd|ls` (tools/cli) and the HTTP layer
 * (node/http_auth.c). Hashing happens in the caller (protocol/crypto.h,
 * kn_pwhash_str); this module stores strings and bytes only.
 */
#ifndef KN_ACCOUNTS_H
#define KN_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "error.h"
#include "store.h"

enum {
    KN_LOGIN_MAX = 64, /* bytes of a login name: [a-z0-9._-], starting with a letter or digit */
    KN_LANG_TAG_MAX = 8,
    KN_ROLE_STAFF = 1,
    KN_ROLE_ADMIN = 2,
};

typedef struct kn_account {
    char login[KN_LOGIN_MAX + 1];
    uint8_t user[32]; /* the user key the account signs with */
    uint8_t role; /* KN_ROLE_STAFF or KN_ROLE_ADMIN */
    bool has_password;
    char pwhash[KN_PWHASH_STR]; /* crypto_pwhash_str output, NUL-terminated, if has_password */
    bool has_activation;
    uint8_t activation[32]; /* BLAKE2b-256 of the one-time activation token */
    uint64_t activation_expires_ms;
    uint64_t created_ms;
    uint64_t last_visit_ms; /* the start page's "new since" is prev_visit_ms */
    uint64_t prev_visit_ms;
    char lang[KN_LANG_TAG_MAX + 1]; /* "de" or "en"; "" for the default */
} kn_account;

/* True if s is a valid login name (1..KN_LOGIN_MAX bytes of [a-z0-9._-], first [a-z0-9]). */
bool kn_login_valid(const char *s);

/* Creates or replaces the account a->login. */
KN_MUST_USE int kn_account_put(kn_store *s, const kn_account *a);
/* KN_ENOTFOUND if there is no such account; KN_ECORRUPT for a record we did not write. */
KN_MUST_USE int kn_account_get(kn_store *s, const char *login, kn_account *a);
/* Removes the account and every session of it. KN_ENOTFOUND if absent. */
KN_MUST_USE int kn_account_del(kn_store *s, const char *login);
/* Every account in login order; *out is malloc'd (free() it). */
KN_MUST_USE int kn_accounts_list(kn_store *s, kn_account **out, size_t *n);
/* The account whose activation hash equals hash (constant-time compare). KN_ENOTFOUND. */
KN_MUST_USE int kn_account_by_activation(kn_store *s, const uint8_t hash[32], kn_account *a);

typedef struct kn_session_rec {
    char login[KN_LOGIN_MAX + 1];
    uint64_t created_ms;
    uint64_t expires_ms;
} kn_session_rec;

/* key is BLAKE2b-256 of the cookie token: the store never sees a usable token. */
KN_MUST_USE int kn_session_put(kn_store *s, const uint8_t key[32], const kn_session_rec *r);
/* KN_ENOTFOUND if absent (expiry is the caller's check). */
KN_MUST_USE int kn_session_get(kn_store *s, const uint8_t key[32], kn_session_rec *r);
/*
 * The session and its account in one read transaction (every request of a
 * signed-in person asks for both). KN_ENOTFOUND if either is absent.
 */
KN_MUST_USE int kn_session_account_get(
    kn_store *s, const uint8_t key[32], kn_session_rec *r, kn_account *a);
/* Removes one session; absent is not an error. */
KN_MUST_USE int kn_session_del(kn_store *s, const uint8_t key[32]);
/* Removes the sessions that expired before now, or all of login's (login != NULL). */
KN_MUST_USE int kn_sessions_purge(kn_store *s, uint64_t now_ms, const char *login, size_t *removed);

#endif
