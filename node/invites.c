/*
 * Local invite records: creation, the stored list, withdrawal and the
 * one-time redemption that phase 2's join handshake calls. See invites.h.
 */
#include "invites.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "codec.h"
#include "crypto.h"
#include "peer_config.h"

enum { REC_ARITY = 8 };

void kn_invite_list_free(kn_invite_list *l)
{
    if (!l)
        return;
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

const char *kn_invite_record_state(const kn_invite_record *r, uint64_t now_ms)
{
    switch (r->state) {
    case KN_INVITE_USED:
        return "used";
    case KN_INVITE_WITHDRAWN:
        return "withdrawn";
    default:
        return now_ms >= r->expires_ms ? "expired" : "open";
    }
}

int kn_invite_list_encode(const kn_invite_list *l, struct kn_mp_out *o)
{
    kn_mp_write_array(o, (uint32_t)l->n);
    for (size_t i = 0; i < l->n; i++) {
        const kn_invite_record *r = &l->v[i];
        kn_mp_write_array(o, REC_ARITY);
        kn_mp_write_uint(o, r->id);
        kn_mp_write_bin(o, r->secret_hash, 32);
        kn_mp_write_uint(o, r->created_ms);
        kn_mp_write_uint(o, r->expires_ms);
        kn_mp_write_cstr(o, r->note);
        kn_mp_write_uint(o, (uint64_t)r->state);
        kn_mp_write_bin(o, r->used_by, r->has_used_by ? 32 : 0);
        kn_mp_write_uint(o, r->closed_ms);
    }
    return kn_mp_out_error(o);
}

int kn_invite_list_decode(kn_invite_list *l, const uint8_t *buf, size_t len)
{
    kn_mp_in in;
    uint32_t n, arity, blen;
    uint64_t u;
    const uint8_t *b;
    const char *s;
    int rc;

    memset(l, 0, sizeof *l);
    kn_mp_in_init(&in, buf, len);
    if ((rc = kn_mp_read_array(&in, &n)) < 0)
        return rc;
    if (n > KN_INVITES_MAX)
        return KN_ETOOBIG;
    if (n && !(l->v = calloc(n, sizeof *l->v)))
        return KN_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        kn_invite_record *r = &l->v[i];
        if ((rc = kn_mp_read_array(&in, &arity)) < 0)
            goto out;
        if (arity != REC_ARITY) {
            rc = KN_EARITY;
            goto out;
        }
        if ((rc = kn_mp_read_uint(&in, &u)) < 0)
            goto out;
        if (u == 0 || u > UINT32_MAX) {
            rc = KN_ECORRUPT;
            goto out;
        }
        r->id = (uint32_t)u;
        if ((rc = kn_mp_read_bin_exact(&in, &b, 32)) < 0)
            goto out;
        memcpy(r->secret_hash, b, 32);
        if ((rc = kn_mp_read_uint(&in, &r->created_ms)) < 0
            || (rc = kn_mp_read_uint(&in, &r->expires_ms)) < 0
            || (rc = kn_mp_read_str(&in, &s, &blen)) < 0)
            goto out;
        if (blen > KN_INVITE_NOTE_MAX) {
            rc = KN_ECORRUPT;
            goto out;
        }
        memcpy(r->note, s, blen);
        r->note[blen] = 0;
        if ((rc = kn_mp_read_uint(&in, &u)) < 0)
            goto out;
        if (u > KN_INVITE_WITHDRAWN) {
            rc = KN_ECORRUPT;
            goto out;
        }
        r->state = (kn_invite_state)u;
        if ((rc = kn_mp_read_bin(&in, &b, &blen)) < 0)
            goto out;
        if (blen != 0 && blen != 32) {
            rc = KN_EKEYLEN;
            goto out;
        }
        r->has_used_by = blen == 32;
        if (blen)
            memcpy(r->used_by, b, 32);
        if ((rc = kn_mp_read_uint(&in, &r->closed_ms)) < 0)
            goto out;
        l->n = i + 1;
    }
    if (kn_mp_in_left(&in))
        rc = KN_ETRAILING;
out:
    if (rc < 0)
        kn_invite_list_free(l);
    return rc;
}

int kn_invites_load(kn_store *s, kn_invite_list *l)
{
    uint8_t *buf = NULL;
    size_t len;
    memset(l, 0, sizeof *l);
    int rc = kn_store_setting_get(s, KN_INVITES_SETTING, &buf, &len);
    if (rc == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    rc = kn_invite_list_decode(l, buf, len);
    free(buf);
    return rc < 0 ? KN_ECORRUPT : 0;
}

static int save(kn_store *s, const kn_invite_list *l)
{
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    int rc = kn_invite_list_encode(l, &o);
    if (rc == 0)
        rc = kn_store_setting_put(s, KN_INVITES_SETTING, o.buf, o.len);
    kn_mp_out_free(&o);
    return rc;
}

/*
 * An exclusive lock on DATA/invites.lock for one read-modify-write of the
 * list; the store itself offers no multi-statement transaction to callers.
 */
static int lock_open(const kn_datadir *dd, int *fd)
{
    char path[KN_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/invites.lock", dd->path);
    if (n < 0 || n >= (int)sizeof path)
        return KN_ETOOBIG;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0)
        return errno == EACCES ? KN_EPERM : KN_EIO;
    while (flock(*fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            close(*fd);
            return KN_EIO;
        }
    }
    return 0;
}

static void lock_close(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/* Frees room for one more record: drops the oldest closed or expired one. */
static int make_room(kn_invite_list *l, uint64_t now)
{
    if (l->n < KN_INVITES_MAX)
        return 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].state != KN_INVITE_OPEN || now >= l->v[i].expires_ms) {
            memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof l->v[0]);
            l->n--;
            return 0;
        }
    }
    return KN_ELIMIT;
}

int kn_invites_create(kn_datadir *dd, const kn_env *env, const char *const *addrs, size_t naddrs,
    uint64_t ttl_ms, const char *note, kn_invite *inv, uint32_t *id_out)
{
    kn_invite_list l = { 0 };
    int fd = -1, rc;
    char host[KN_HOST_MAX + 1];
    uint16_t port;

    memset(inv, 0, sizeof *inv);
    if (!dd->has_network_key)
        return KN_ESTATE;
    if (naddrs < 1 || naddrs > KN_INVITE_ADDRS_MAX || ttl_ms == 0)
        return KN_EINVAL;
    if (note && (strlen(note) > KN_INVITE_NOTE_MAX || !kn_utf8_valid(note, strlen(note))))
        return KN_EINVAL;
    for (size_t i = 0; i < naddrs; i++) {
        if (strlen(addrs[i]) > KN_INVITE_ADDR_MAX || kn_hostport_parse(addrs[i], host, &port) < 0)
            return KN_EINVAL;
        strcpy(inv->addrs[i], addrs[i]);
    }
    inv->naddrs = (uint32_t)naddrs;
    memcpy(inv->network_key, dd->network_key, 32);
    memcpy(inv->inviter, dd->identity_pk, 32);
    inv->secret_len = KN_INVITE_SECRET_LEN;
    kn_env_random(env, inv->secret, inv->secret_len);
    uint64_t now = kn_env_now(env);
    inv->expires_ms = now + ttl_ms;

    /* Checks the addresses against the code's own limits before anything is stored. */
    char text[KN_INVITE_TEXT_MAX];
    rc = kn_invite_encode(inv, text, sizeof text, NULL);
    kn_memzero(text, sizeof text);
    if (rc < 0)
        goto out;

    if ((rc = lock_open(dd, &fd)) < 0 || (rc = kn_invites_load(dd->store, &l)) < 0)
        goto out;
    if ((rc = make_room(&l, now)) < 0)
        goto out;
    uint32_t id = 1;
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i].id >= id)
            id = l.v[i].id + 1;
    kn_invite_record *nv = realloc(l.v, (l.n + 1) * sizeof *nv);
    if (!nv) {
        rc = KN_ENOMEM;
        goto out;
    }
    l.v = nv;
    kn_invite_record *r = &l.v[l.n++];
    memset(r, 0, sizeof *r);
    r->id = id;
    kn_invite_secret_hash(r->secret_hash, inv->secret, inv->secret_len);
    r->created_ms = now;
    r->expires_ms = inv->expires_ms;
    if (note)
        strcpy(r->note, note);
    r->state = KN_INVITE_OPEN;
    if ((rc = save(dd->store, &l)) < 0)
        goto out;
    if (id_out)
        *id_out = id;
out:
    lock_close(fd);
    kn_invite_list_free(&l);
    if (rc < 0)
        kn_invite_wipe(inv);
    return rc;
}

int kn_invites_withdraw(kn_datadir *dd, uint32_t id, uint64_t now_ms)
{
    kn_invite_list l = { 0 };
    int fd = -1, rc;
    if ((rc = lock_open(dd, &fd)) < 0 || (rc = kn_invites_load(dd->store, &l)) < 0)
        goto out;
    rc = KN_ENOTFOUND;
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i].id != id)
            continue;
        if (l.v[i].state != KN_INVITE_OPEN) {
            rc = KN_ESTATE;
            goto out;
        }
        l.v[i].state = KN_INVITE_WITHDRAWN;
        l.v[i].closed_ms = now_ms;
        rc = save(dd->store, &l);
        goto out;
    }
out:
    lock_close(fd);
    kn_invite_list_free(&l);
    return rc;
}

/* Index of the record whose hash matches, compared in constant time, or -1. */
static long find_secret(const kn_invite_list *l, const uint8_t *secret, size_t len)
{
    uint8_t h[32];
    long found = -1;
    kn_invite_secret_hash(h, secret, len);
    for (size_t i = 0; i < l->n; i++)
        if (kn_memcmp_ct(h, l->v[i].secret_hash, 32) == 0)
            found = (long)i;
    kn_memzero(h, sizeof h);
    return found;
}

int kn_invites_lookup(kn_store *s, const uint8_t *secret, size_t len, kn_invite_record *record)
{
    kn_invite_list l = { 0 };
    int rc = kn_invites_load(s, &l);
    if (rc < 0)
        return rc;
    long i = find_secret(&l, secret, len);
    if (i < 0)
        rc = KN_ENOTFOUND;
    else if (record)
        *record = l.v[i];
    kn_invite_list_free(&l);
    return rc;
}

int kn_invites_redeem(kn_datadir *dd, const uint8_t *secret, size_t len,
    const uint8_t joiner[static 32], uint64_t now_ms, kn_invite_record *record)
{
    kn_invite_list l = { 0 };
    int fd = -1, rc;

    if (!secret || len < KN_INVITE_SECRET_MIN || len > KN_INVITE_SECRET_MAX)
        return KN_ENOTFOUND;
    if ((rc = lock_open(dd, &fd)) < 0 || (rc = kn_invites_load(dd->store, &l)) < 0)
        goto out;
    long i = find_secret(&l, secret, len);
    if (i < 0) {
        rc = KN_ENOTFOUND;
        goto out;
    }
    kn_invite_record *r = &l.v[i];
    if (r->state == KN_INVITE_USED)
        rc = KN_EEXIST;
    else if (r->state == KN_INVITE_WITHDRAWN)
        rc = KN_EPERM;
    else if (now_ms >= r->expires_ms)
        rc = KN_EEXPIRED;
    else {
        r->state = KN_INVITE_USED;
        r->has_used_by = true;
        memcpy(r->used_by, joiner, 32);
        r->closed_ms = now_ms;
        rc = save(dd->store, &l);
    }
    if (record)
        *record = *r;
out:
    lock_close(fd);
    kn_invite_list_free(&l);
    return rc;
}

/* ---- default addresses ---- */

struct addr_search {
    const uint8_t *author;
    char (*addrs)[KN_INVITE_ADDR_MAX + 1];
    size_t n;
};

static int newest_addr(void *ctx, const kn_object *o)
{
    struct addr_search *a = ctx;
    kn_mp_in v;
    uint32_t n, len;
    const char *s;
    if (o->type != KN_T_ADDR)
        return 0;
    if (kn_object_field(o, "addrs", &v) < 0 || kn_mp_read_array(&v, &n) < 0)
        return 0;
    a->n = 0;
    for (uint32_t i = 0; i < n && a->n < KN_INVITE_ADDRS_MAX; i++) {
        if (kn_mp_read_str(&v, &s, &len) < 0)
            break;
        if (len == 0 || len > KN_INVITE_ADDR_MAX)
            continue;
        memcpy(a->addrs[a->n], s, len);
        a->addrs[a->n++][len] = 0;
    }
    return a->n ? 1 : 0; /* newest first: stop at the first usable one */
}

int kn_invites_default_addrs(
    kn_datadir *dd, char addrs[static KN_INVITE_ADDRS_MAX][KN_INVITE_ADDR_MAX + 1], size_t *n)
{
    struct addr_search a = { dd->identity_pk, addrs, 0 };
    kn_store_query q = { .index = KN_BY_AUTHOR, .author = dd->identity_pk, .reverse = true };
    int rc = kn_store_each(dd->store, &q, newest_addr, &a);
    if (rc < 0)
        return rc;
    *n = a.n;
    if (a.n)
        return 0;

    uint8_t *buf = NULL;
    size_t len;
    rc = kn_store_setting_get(dd->store, KN_INVITE_ADDRS_SETTING, &buf, &len);
    if (rc == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    kn_mp_in in;
    uint32_t cnt, sl;
    const char *s;
    kn_mp_in_init(&in, buf, len);
    rc = kn_mp_read_array(&in, &cnt);
    if (rc == 0 && cnt > KN_INVITE_ADDRS_MAX)
        rc = KN_ECORRUPT;
    for (uint32_t i = 0; rc == 0 && i < cnt; i++) {
        if ((rc = kn_mp_read_str(&in, &s, &sl)) < 0)
            break;
        if (sl == 0 || sl > KN_INVITE_ADDR_MAX) {
            rc = KN_ECORRUPT;
            break;
        }
        memcpy(addrs[i], s, sl);
        addrs[i][sl] = 0;
        *n = i + 1;
    }
    free(buf);
    if (rc < 0)
        *n = 0;
    return rc < 0 ? KN_ECORRUPT : 0;
}

int kn_invites_remember_addrs(kn_store *s, const char *const *addrs, size_t n)
{
    kn_mp_out o;
    if (n > KN_INVITE_ADDRS_MAX)
        return KN_EINVAL;
    kn_mp_out_init(&o, 0);
    kn_mp_write_array(&o, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        kn_mp_write_cstr(&o, addrs[i]);
    int rc = kn_mp_out_error(&o);
    if (rc == 0)
        rc = kn_store_setting_put(s, KN_INVITE_ADDRS_SETTING, o.buf, o.len);
    kn_mp_out_free(&o);
    return rc;
}

int kn_invites_parse_ttl(const char *s, uint64_t *ms)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return KN_EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || v == 0 || end[0] == 0 || end[1] != 0)
        return KN_EINVAL;
    uint64_t unit;
    switch (end[0]) {
    case 's':
        unit = 1000ull;
        break;
    case 'm':
        unit = 60000ull;
        break;
    case 'h':
        unit = 3600000ull;
        break;
    case 'd':
        unit = 86400000ull;
        break;
    case 'w':
        unit = 7 * 86400000ull;
        break;
    default:
        return KN_EINVAL;
    }
    if (v > (uint64_t)KN_INVITE_TTL_MAX_DAYS * 86400000ull / unit)
        return KN_EINVAL;
    *ms = v * unit;
    return 0;
}
