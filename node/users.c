/*
 * Staff identities held by the node: key files, certificates, revocation.
 * See users.h.
 */
#include "users.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "crypto.h"
#include "hex.h"
#include "object.h"

static int users_dir(const kn_datadir *dd, char out[static KN_PATH_MAX])
{
    int n = snprintf(out, KN_PATH_MAX, "%s/users", dd->path);
    return n < 0 || n >= KN_PATH_MAX ? KN_ETOOBIG : 0;
}

int kn_users_key_path(
    const kn_datadir *dd, const uint8_t pk[static 32], char out[static KN_PATH_MAX])
{
    char hex[65];
    kn_hex_encode(hex, pk, 32);
    int n = snprintf(out, KN_PATH_MAX, "%s/users/%s.key", dd->path, hex);
    return n < 0 || n >= KN_PATH_MAX ? KN_ETOOBIG : 0;
}

bool kn_users_holds_key(const kn_datadir *dd, const uint8_t pk[static 32])
{
    char path[KN_PATH_MAX];
    return kn_users_key_path(dd, pk, path) == 0 && access(path, F_OK) == 0;
}

int kn_users_load_secret(const kn_datadir *dd, const uint8_t pk[static 32], uint8_t sk[static 64])
{
    char path[KN_PATH_MAX];
    uint8_t seed[32], got[32];
    int rc = kn_users_key_path(dd, pk, path);
    if (rc < 0)
        return rc;
    if ((rc = kn_secret_file_read(path, seed, sizeof seed)) < 0)
        goto out;
    kn_sign_keypair_from_seed(got, sk, seed);
    if (memcmp(got, pk, 32) != 0) {
        kn_memzero(sk, 64);
        rc = KN_ECORRUPT;
    }
out:
    kn_memzero(seed, sizeof seed);
    return rc;
}

/* Signs a roster object with the node identity at now and stores it. */
static int publish(
    kn_datadir *dd, uint64_t now, kn_object_draft *d, const kn_mp_out *body, uint8_t *id_out)
{
    uint8_t *raw = NULL, id[KN_ID];
    size_t len;
    if (kn_mp_out_error(body))
        return kn_mp_out_error(body);
    d->body = body->buf;
    d->body_len = body->len;
    d->created = now;
    int rc = kn_object_sign(d, dd->identity_sk, &raw, &len);
    if (rc < 0)
        return rc;
    rc = kn_store_put(dd->store, raw, len, now, id);
    free(raw);
    if (rc >= 0 && id_out)
        memcpy(id_out, id, KN_ID);
    return rc;
}

static void write_strs(kn_mp_out *o, const char *key, const char *const *v, size_t n)
{
    kn_mp_write_cstr(o, key);
    kn_mp_write_array(o, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        kn_mp_write_cstr(o, v[i]);
}

int kn_users_create(kn_datadir *dd, const kn_env *env, const kn_user_info *info,
    uint8_t pk[static 32], uint8_t *cert_id)
{
    char dir[KN_PATH_MAX], path[KN_PATH_MAX];
    uint8_t seed[32], sk[64];
    bool wrote = false;
    kn_mp_out body;
    int rc;

    kn_mp_out_init(&body, KN_OBJECT_MAX);
    if (!info || !info->name || !info->role || info->nexpertise > KN_USER_TAGS_MAX
        || info->nlang > KN_USER_LANGS_MAX) {
        rc = KN_ESCHEMA;
        goto out;
    }
    kn_env_random(env, seed, sizeof seed);
    kn_sign_keypair_from_seed(pk, sk, seed);

    /* Body keys in bytewise order: expertise, key, lang, name, role. */
    uint32_t nfields = 3 + (info->nexpertise > 0) + (info->nlang > 0);
    kn_mp_write_map(&body, nfields);
    if (info->nexpertise)
        write_strs(&body, "expertise", info->expertise, info->nexpertise);
    kn_mp_write_cstr(&body, "key");
    kn_mp_write_bin(&body, pk, 32);
    if (info->nlang)
        write_strs(&body, "lang", info->lang, info->nlang);
    kn_mp_write_cstr(&body, "name");
    kn_mp_write_cstr(&body, info->name);
    kn_mp_write_cstr(&body, "role");
    kn_mp_write_cstr(&body, info->role);

    if ((rc = users_dir(dd, dir)) < 0)
        goto out;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        rc = KN_EIO;
        goto out;
    }
    if (chmod(dir, 0700) < 0) {
        rc = KN_EPERM;
        goto out;
    }
    /* The key first: a certificate without its key would be a user nobody can act as. */
    if ((rc = kn_users_key_path(dd, pk, path)) < 0
        || (rc = kn_secret_file_write(path, seed, 32)) < 0)
        goto out;
    wrote = true;
    kn_object_draft d = { .type = KN_T_USER, .space = "" };
    rc = publish(dd, kn_env_now(env), &d, &body, cert_id);
out:
    if (rc < 0 && wrote)
        unlink(path);
    kn_mp_out_free(&body);
    kn_memzero(seed, sizeof seed);
    kn_memzero(sk, sizeof sk);
    return rc;
}

int kn_users_revoke(kn_datadir *dd, const kn_env *env, const uint8_t pk[static 32],
    const char *reason, uint8_t *revoke_id)
{
    kn_roster_user u;
    uint8_t net[KN_ID];
    uint64_t k;
    char path[KN_PATH_MAX];
    int rc = kn_store_user_get(dd->store, pk, &u);
    if (rc < 0)
        return rc;
    if (memcmp(u.node, dd->identity_pk, 32) != 0)
        return KN_ENOTFOUND;
    if ((rc = kn_store_network_get(dd->store, net, &k)) < 0)
        return rc == KN_ENOTFOUND ? KN_ESTATE : rc;
    kn_mp_out body;
    kn_mp_out_init(&body, KN_OBJECT_MAX);
    kn_mp_write_map(&body, 2);
    kn_mp_write_cstr(&body, "key");
    kn_mp_write_bin(&body, pk, 32);
    kn_mp_write_cstr(&body, "reason");
    kn_mp_write_cstr(&body, reason ? reason : "");
    kn_object_draft d = { .type = KN_T_REVOKE, .space = "", .nrefs = 1 };
    memcpy(d.refs[0], net, KN_ID);
    rc = publish(dd, kn_env_now(env), &d, &body, revoke_id);
    kn_mp_out_free(&body);
    if (rc >= 0 && kn_users_key_path(dd, pk, path) == 0 && unlink(path) < 0 && errno != ENOENT)
        rc = KN_EIO;
    return rc;
}

/* Joins a certificate's string array as "a,b,c" into out (cap bytes). */
static void join_strs(const kn_object *o, const char *key, char *out, size_t cap)
{
    kn_mp_in v;
    uint32_t n, len;
    const char *s;
    size_t pos = 0;
    out[0] = 0;
    if (kn_object_field(o, key, &v) < 0 || kn_mp_read_array(&v, &n) < 0)
        return;
    for (uint32_t i = 0; i < n; i++) {
        if (kn_mp_read_str(&v, &s, &len) < 0 || pos + len + 2 > cap)
            return;
        if (i)
            out[pos++] = ',';
        memcpy(out + pos, s, len);
        pos += len;
        out[pos] = 0;
    }
}

static void copy_str(const kn_object *o, const char *key, char *out, size_t cap)
{
    const char *s;
    uint32_t len;
    out[0] = 0;
    if (kn_object_str(o, key, &s, &len) == 0 && len < cap) {
        memcpy(out, s, len);
        out[len] = 0;
    }
}

int kn_users_list(kn_datadir *dd, bool all, kn_user_entry **out, size_t *n)
{
    kn_roster_user *us = NULL;
    kn_user_entry *v = NULL;
    size_t cnt = 0;
    int rc = kn_store_users_list(dd->store, all ? NULL : dd->identity_pk, &us, &cnt);
    *out = NULL;
    *n = 0;
    if (rc < 0)
        return rc;
    if (cnt && !(v = calloc(cnt, sizeof *v))) {
        free(us);
        return KN_ENOMEM;
    }
    for (size_t i = 0; i < cnt; i++) {
        uint8_t *raw = NULL;
        size_t len;
        kn_object o;
        v[i].r = us[i];
        v[i].key_held = kn_users_holds_key(dd, us[i].key);
        if (kn_store_get(dd->store, us[i].cert, &raw, &len) == 0
            && kn_object_decode(&o, raw, len) == 0) {
            v[i].certified_ms = o.created;
            copy_str(&o, "name", v[i].name, sizeof v[i].name);
            copy_str(&o, "role", v[i].role, sizeof v[i].role);
            join_strs(&o, "expertise", v[i].expertise, sizeof v[i].expertise);
            join_strs(&o, "lang", v[i].lang, sizeof v[i].lang);
        }
        free(raw);
    }
    free(us);
    *out = v;
    *n = cnt;
    return 0;
}

int kn_users_find(kn_datadir *dd, const char *key_or_name, uint8_t pk[static 32])
{
    if (strlen(key_or_name) == 64 && kn_hex_decode(pk, 32, key_or_name, 64) == 0)
        return 0;
    kn_user_entry *v = NULL;
    size_t n, hits = 0;
    int rc = kn_users_list(dd, false, &v, &n);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, key_or_name) == 0) {
            if (hits++ == 0)
                memcpy(pk, v[i].r.key, 32);
        }
    }
    free(v);
    return hits == 0 ? KN_ENOTFOUND : hits > 1 ? KN_EEXIST : 0;
}
