/*
 * Web accounts and sessions in the local `settings` database (accounts.h).
 *
 *   "web/account/" login  -> [1, user bin(32), role uint, pwhash str ("" none),
 *                             activation bin(0|32), activation_expires uint,
 *                             created uint, last_visit uint, prev_visit uint, lang str]
 *   "web/session/" hex(BLAKE2b(token)) -> [1, login str, created uint, expires uint]
 *
 * Records are canonical msgpack written by kn_mp_out; anything that does not
 * decode with exactly this shape is KN_ECORRUPT, never trusted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "codec.h"
#include "grow.h"
#include "hex.h"
#include "store_impl.h"

#define ACCOUNT_PREFIX "web/account/"
#define SESSION_PREFIX "web/session/"
enum { RECORD_MAX = 1024, KEY_MAX = 96 };

bool kn_login_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > KN_LOGIN_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

static size_t account_key(char *k, const char *login)
{
    return (size_t)snprintf(k, KEY_MAX, ACCOUNT_PREFIX "%s", login);
}

static size_t session_key(char *k, const uint8_t key[32])
{
    memcpy(k, SESSION_PREFIX, sizeof SESSION_PREFIX - 1);
    kn_hex_encode(k + sizeof SESSION_PREFIX - 1, key, 32);
    return sizeof SESSION_PREFIX - 1 + 64;
}

/* ---- encoding ---- */

static int account_encode(const kn_account *a, kn_mp_out *o)
{
    kn_mp_write_array(o, 10);
    kn_mp_write_uint(o, 1);
    kn_mp_write_bin(o, a->user, 32);
    kn_mp_write_uint(o, a->role);
    kn_mp_write_cstr(o, a->has_password ? a->pwhash : "");
    kn_mp_write_bin(o, a->activation, a->has_activation ? 32 : 0);
    kn_mp_write_uint(o, a->activation_expires_ms);
    kn_mp_write_uint(o, a->created_ms);
    kn_mp_write_uint(o, a->last_visit_ms);
    kn_mp_write_uint(o, a->prev_visit_ms);
    kn_mp_write_cstr(o, a->lang);
    return kn_mp_out_error(o);
}

static int copy_str(char *dst, size_t cap, const char *s, uint32_t len)
{
    if (len >= cap || memchr(s, 0, len))
        return KN_ECORRUPT;
    memcpy(dst, s, len);
    dst[len] = 0;
    return 0;
}

static int account_decode(const char *login, const uint8_t *p, size_t len, kn_account *a)
{
    kn_mp_in in;
    uint32_t n, l;
    uint64_t v, role;
    const char *s;
    const uint8_t *b;
    memset(a, 0, sizeof *a);
    snprintf(a->login, sizeof a->login, "%s", login);
    kn_mp_in_init(&in, p, len);
    if (kn_mp_read_array(&in, &n) < 0 || n != 10 || kn_mp_read_uint(&in, &v) < 0 || v != 1
        || kn_mp_read_bin_exact(&in, &b, 32) < 0)
        return KN_ECORRUPT;
    memcpy(a->user, b, 32);
    if (kn_mp_read_uint(&in, &role) < 0 || (role != KN_ROLE_STAFF && role != KN_ROLE_ADMIN))
        return KN_ECORRUPT;
    a->role = (uint8_t)role;
    if (kn_mp_read_str(&in, &s, &l) < 0 || copy_str(a->pwhash, sizeof a->pwhash, s, l) < 0)
        return KN_ECORRUPT;
    a->has_password = l > 0;
    if (kn_mp_read_bin(&in, &b, &l) < 0 || (l != 0 && l != 32))
        return KN_ECORRUPT;
    a->has_activation = l == 32;
    if (l)
        memcpy(a->activation, b, 32);
    if (kn_mp_read_uint(&in, &a->activation_expires_ms) < 0
        || kn_mp_read_uint(&in, &a->created_ms) < 0 || kn_mp_read_uint(&in, &a->last_visit_ms) < 0
        || kn_mp_read_uint(&in, &a->prev_visit_ms) < 0 || kn_mp_read_str(&in, &s, &l) < 0
        || copy_str(a->lang, sizeof a->lang, s, l) < 0 || kn_mp_in_left(&in) != 0)
        return KN_ECORRUPT;
    return 0;
}

static int session_decode(const uint8_t *p, size_t len, kn_session_rec *r)
{
    kn_mp_in in;
    uint32_t n, l;
    uint64_t v;
    const char *s;
    memset(r, 0, sizeof *r);
    kn_mp_in_init(&in, p, len);
    if (kn_mp_read_array(&in, &n) < 0 || n != 4 || kn_mp_read_uint(&in, &v) < 0 || v != 1
        || kn_mp_read_str(&in, &s, &l) < 0 || copy_str(r->login, sizeof r->login, s, l) < 0
        || kn_mp_read_uint(&in, &r->created_ms) < 0 || kn_mp_read_uint(&in, &r->expires_ms) < 0
        || kn_mp_in_left(&in) != 0)
        return KN_ECORRUPT;
    return 0;
}

/* ---- raw access to the settings database ---- */

struct kv {
    const char *key;
    size_t klen;
    const uint8_t *val;
    size_t vlen;
    bool del;
};

static int kv_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct kv *p = ctx;
    MDB_val k = { p->klen, (void *)p->key }, v = { p->vlen, (void *)p->val };
    if (p->del) {
        int rc = mdb_del(txn, s->db.settings, &k, NULL);
        return rc == MDB_NOTFOUND ? KN_ENOTFOUND : kn_store_mdb_err(rc);
    }
    return kn_store_mdb_err(mdb_put(txn, s->db.settings, &k, &v, 0));
}

/* Reads key into buf (at most RECORD_MAX bytes) inside txn. */
static int kv_get_in(
    kn_store *s, MDB_txn *txn, const char *key, size_t klen, uint8_t *buf, size_t *len)
{
    MDB_val k = { klen, (void *)key }, v;
    int rc = kn_store_mdb_err(mdb_get(txn, s->db.settings, &k, &v));
    if (rc == 0) {
        if (v.mv_size > RECORD_MAX) {
            rc = KN_ECORRUPT;
        } else {
            memcpy(buf, v.mv_data, v.mv_size);
            *len = v.mv_size;
        }
    }
    return rc;
}

/* Reads key into buf (at most RECORD_MAX bytes). */
static int kv_get(kn_store *s, const char *key, size_t klen, uint8_t *buf, size_t *len)
{
    MDB_txn *txn;
    int rc = kn_store_read_begin(s, &txn);
    if (rc < 0)
        return rc;
    rc = kv_get_in(s, txn, key, klen, buf, len);
    mdb_txn_abort(txn);
    return rc;
}

typedef int (*prefix_fn)(void *ctx, const char *suffix, size_t slen, const uint8_t *v, size_t vlen);

/* Calls fn for every settings entry under prefix, in key order, inside one read. */
static int each_prefix(kn_store *s, const char *prefix, prefix_fn fn, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    size_t plen = strlen(prefix);
    int rc = kn_store_read_begin(s, &txn);
    if (rc < 0)
        return rc;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.settings, &c))) < 0)
        goto out;
    MDB_val k = { plen, (void *)prefix }, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if ((rc = fn(ctx, (const char *)k.mv_data + plen, k.mv_size - plen, v.mv_data, v.mv_size))
            != 0)
            goto out;
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : kn_store_mdb_err(rc);
out:
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc < 0 ? rc : 0;
}

/* ---- accounts ---- */

int kn_account_put(kn_store *s, const kn_account *a)
{
    if (!s || !a || !kn_login_valid(a->login) || strlen(a->lang) > KN_LANG_TAG_MAX
        || (a->role != KN_ROLE_STAFF && a->role != KN_ROLE_ADMIN))
        return KN_EINVAL;
    if (a->has_password && (strlen(a->pwhash) == 0 || strlen(a->pwhash) >= KN_PWHASH_STR))
        return KN_EINVAL;
    char key[KEY_MAX];
    kn_mp_out o;
    kn_mp_out_init(&o, RECORD_MAX);
    int rc = account_encode(a, &o);
    if (rc == 0) {
        struct kv p = { key, account_key(key, a->login), o.buf, o.len, false };
        rc = kn_store_write(s, kv_txn, &p);
    }
    kn_mp_out_free(&o);
    return rc;
}

int kn_account_get(kn_store *s, const char *login, kn_account *a)
{
    if (!s || !a || !kn_login_valid(login))
        return KN_EINVAL;
    char key[KEY_MAX];
    uint8_t buf[RECORD_MAX];
    size_t len = 0;
    int rc = kv_get(s, key, account_key(key, login), buf, &len);
    if (rc < 0)
        return rc;
    return account_decode(login, buf, len, a);
}

struct acc_list {
    kn_account *v;
    size_t n, cap;
    const uint8_t *activation; /* kn_account_by_activation: stop at the match */
    bool found;
};

static int list_visit(void *ctx, const char *suffix, size_t slen, const uint8_t *v, size_t vlen)
{
    struct acc_list *l = ctx;
    char login[KN_LOGIN_MAX + 1];
    kn_account a;
    if (slen == 0 || slen > KN_LOGIN_MAX)
        return KN_ECORRUPT;
    memcpy(login, suffix, slen);
    login[slen] = 0;
    if (!kn_login_valid(login) || account_decode(login, v, vlen, &a) < 0)
        return KN_ECORRUPT;
    if (l->activation) {
        if (a.has_activation && kn_memcmp_ct(a.activation, l->activation, 32) == 0) {
            l->v[0] = a;
            l->found = true;
            return 1;
        }
        return 0;
    }
    if (l->n == l->cap) {
        kn_account *nv = kn_grow(l->v, &l->cap, 16, sizeof *nv);
        if (!nv)
            return KN_ENOMEM;
        l->v = nv;
    }
    l->v[l->n++] = a;
    return 0;
}

int kn_accounts_list(kn_store *s, kn_account **out, size_t *n)
{
    if (!s || !out || !n)
        return KN_EINVAL;
    struct acc_list l = { 0 };
    int rc = each_prefix(s, ACCOUNT_PREFIX, list_visit, &l);
    if (rc < 0) {
        free(l.v);
        return rc;
    }
    *out = l.v;
    *n = l.n;
    return 0;
}

int kn_account_by_activation(kn_store *s, const uint8_t hash[32], kn_account *a)
{
    if (!s || !hash || !a)
        return KN_EINVAL;
    struct acc_list l = { .v = a, .activation = hash };
    int rc = each_prefix(s, ACCOUNT_PREFIX, list_visit, &l);
    if (rc < 0)
        return rc;
    return l.found ? 0 : KN_ENOTFOUND;
}

int kn_account_del(kn_store *s, const char *login)
{
    if (!s || !kn_login_valid(login))
        return KN_EINVAL;
    char key[KEY_MAX];
    struct kv p = { key, account_key(key, login), NULL, 0, true };
    int rc = kn_store_write(s, kv_txn, &p);
    if (rc < 0)
        return rc;
    size_t removed;
    return kn_sessions_purge(s, 0, login, &removed);
}

/* ---- sessions ---- */

int kn_session_put(kn_store *s, const uint8_t key[32], const kn_session_rec *r)
{
    if (!s || !key || !r || !kn_login_valid(r->login))
        return KN_EINVAL;
    char k[KEY_MAX];
    kn_mp_out o;
    kn_mp_out_init(&o, RECORD_MAX);
    kn_mp_write_array(&o, 4);
    kn_mp_write_uint(&o, 1);
    kn_mp_write_cstr(&o, r->login);
    kn_mp_write_uint(&o, r->created_ms);
    kn_mp_write_uint(&o, r->expires_ms);
    int rc = kn_mp_out_error(&o);
    if (rc == 0) {
        struct kv p = { k, session_key(k, key), o.buf, o.len, false };
        rc = kn_store_write(s, kv_txn, &p);
    }
    kn_mp_out_free(&o);
    return rc;
}

int kn_session_get(kn_store *s, const uint8_t key[32], kn_session_rec *r)
{
    if (!s || !key || !r)
        return KN_EINVAL;
    char k[KEY_MAX];
    uint8_t buf[RECORD_MAX];
    size_t len = 0;
    int rc = kv_get(s, k, session_key(k, key), buf, &len);
    if (rc < 0)
        return rc;
    return session_decode(buf, len, r);
}

int kn_session_account_get(kn_store *s, const uint8_t key[32], kn_session_rec *r, kn_account *a)
{
    if (!s || !key || !r || !a)
        return KN_EINVAL;
    char k[KEY_MAX];
    uint8_t buf[RECORD_MAX];
    size_t len = 0;
    MDB_txn *txn;
    int rc = kn_store_read_begin(s, &txn);
    if (rc < 0)
        return rc;
    if ((rc = kv_get_in(s, txn, k, session_key(k, key), buf, &len)) == 0
        && (rc = session_decode(buf, len, r)) == 0) {
        if (!kn_login_valid(r->login))
            rc = KN_ECORRUPT;
        else if ((rc = kv_get_in(s, txn, k, account_key(k, r->login), buf, &len)) == 0)
            rc = account_decode(r->login, buf, len, a);
    }
    mdb_txn_abort(txn);
    return rc;
}

int kn_session_del(kn_store *s, const uint8_t key[32])
{
    if (!s || !key)
        return KN_EINVAL;
    char k[KEY_MAX];
    struct kv p = { k, session_key(k, key), NULL, 0, true };
    int rc = kn_store_write(s, kv_txn, &p);
    return rc == KN_ENOTFOUND ? 0 : rc;
}

struct purge {
    uint64_t now;
    const char *login;
    size_t removed;
};

static int purge_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct purge *p = ctx;
    MDB_cursor *c = NULL;
    size_t plen = sizeof SESSION_PREFIX - 1;
    int rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.settings, &c));
    if (rc < 0)
        return rc;
    p->removed = 0;
    MDB_val k = { plen, (void *)SESSION_PREFIX }, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, SESSION_PREFIX, plen) != 0)
            break;
        kn_session_rec r;
        bool drop = session_decode(v.mv_data, v.mv_size, &r) < 0; /* unreadable: drop it */
        if (!drop)
            drop = p->login ? strcmp(r.login, p->login) == 0 : r.expires_ms <= p->now;
        if (drop) {
            if ((rc = mdb_cursor_del(c, 0)) != 0)
                break;
            p->removed++;
        }
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : kn_store_mdb_err(rc);
    mdb_cursor_close(c);
    return rc;
}

int kn_sessions_purge(kn_store *s, uint64_t now_ms, const char *login, size_t *removed)
{
    if (!s || !removed)
        return KN_EINVAL;
    struct purge p = { now_ms, login, 0 };
    int rc = kn_store_write(s, purge_txn, &p);
    *removed = p.removed;
    return rc;
}
