/*
 * Read-only roster queries: who founded the network, who was admitted by
 * whom, who is revoked, which users are certified.
 *
 * ingest.c writes the membership and users databases (and documents their
 * layouts); this file only reads them, and parses them with the same limits
 * so that a record ingest would call corrupt is corrupt here too. "Member
 * since" is the value ingest.c's roster pass stored (founding, or the admit
 * that gave min(k, M) distinct member signatures), so what `knoten members`
 * prints is what ingest enforces.
 */
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* The layouts of ingest.c (not changed here): see the comment at its top. */
enum {
    USER_REC = KN_KEY + KN_ID + 8,
    NETWORK_REC = KN_ID + 8,
};

_Static_assert(KN_ROSTER_NEVER == KN_NEVER, "one value for never");
_Static_assert(KN_ROSTER_ADMITTERS_MAX <= 255, "n is one byte");

static int network_read(kn_store *s, MDB_txn *txn, uint8_t *id, uint64_t *k)
{
    MDB_val key = { 7, (void *)"network" }, v;
    int rc = kn_store_mdb_err(mdb_get(txn, s->db.meta, &key, &v));
    if (rc < 0)
        return rc;
    if (v.mv_size != NETWORK_REC)
        return KN_ECORRUPT;
    uint64_t kk = kn_be64_get((const uint8_t *)v.mv_data + KN_ID);
    if (kk < 1 || kk > 255)
        return KN_ECORRUPT;
    if (id)
        memcpy(id, v.mv_data, KN_ID);
    if (k)
        *k = kk;
    return 0;
}

/*
 * "Member since" is stored: ingest.c computes it in its roster pass (the
 * rule min(k, M) needs the whole history, not one record), so reading a
 * record is all there is to it.
 */
int kn_member_decode(const uint8_t key[KN_KEY], const uint8_t *p, size_t len, kn_roster_member *m)
{
    memset(m, 0, sizeof *m);
    if (len < KN_MEMBER_HDR)
        return KN_ECORRUPT;
    uint32_t n = p[25];
    if ((p[0] & ~KN_MEMBER_FOUNDER) || n > KN_ROSTER_ADMITTERS_MAX
        || len != KN_MEMBER_HDR + (size_t)n * KN_MEMBER_ENTRY)
        return KN_ECORRUPT;
    memcpy(m->key, key, KN_KEY);
    m->founder = p[0] & KN_MEMBER_FOUNDER;
    m->founder_since = m->founder ? kn_be64_get(p + 1) : KN_NEVER;
    m->member_since = kn_be64_get(p + 9);
    m->revoked_at = kn_be64_get(p + 17);
    m->nadmits = n;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = p + KN_MEMBER_HDR + i * KN_MEMBER_ENTRY;
        memcpy(m->admitter[i], e, KN_KEY);
        m->admitted_at[i] = kn_be64_get(e + KN_KEY);
    }
    return 0;
}

static int member_parse(kn_roster_member *m, const uint8_t key[KN_KEY], const MDB_val *v)
{
    return kn_member_decode(key, v->mv_data, v->mv_size, m);
}

static int user_parse(kn_roster_user *u, const uint8_t key[KN_KEY], const MDB_val *v)
{
    if (v->mv_size != USER_REC)
        return KN_ECORRUPT;
    const uint8_t *p = v->mv_data;
    memcpy(u->key, key, KN_KEY);
    memcpy(u->node, p, KN_KEY);
    memcpy(u->cert, p + KN_KEY, KN_ID);
    u->revoked_at = kn_be64_get(p + KN_KEY + KN_ID);
    return 0;
}

int kn_store_network_get(kn_store *s, uint8_t id[KN_ID], uint64_t *admit_k)
{
    MDB_txn *txn;
    if (!s)
        return KN_EINVAL;
    int rc = kn_store_read_begin(s, &txn);
    if (rc < 0)
        return rc;
    rc = network_read(s, txn, id, admit_k);
    mdb_txn_abort(txn);
    return rc;
}

int kn_store_member_get(kn_store *s, const uint8_t key[KN_KEY], kn_roster_member *m)
{
    MDB_txn *txn;
    if (!s || !key || !m)
        return KN_EINVAL;
    int rc = kn_store_read_begin(s, &txn);
    if (rc < 0)
        return rc;
    MDB_val mk = { KN_KEY, (void *)key }, v;
    if ((rc = kn_store_mdb_err(mdb_get(txn, s->db.membership, &mk, &v))) == 0)
        rc = member_parse(m, key, &v);
    mdb_txn_abort(txn);
    return rc;
}

/*
 * Walks one database in key order, parsing each record into a growing array
 * of elem-sized entries; keep(ctx, entry) == false drops the entry again.
 */
typedef int (*parse_fn)(void *entry, const uint8_t *key, const MDB_val *v, void *ctx);

static int list_db(
    MDB_txn *txn, MDB_dbi dbi, size_t elem, parse_fn parse, void *ctx, void **out, size_t *n)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;
    uint8_t *arr = NULL;
    size_t cap = 0, cnt = 0;
    int rc, mrc;

    *out = NULL;
    *n = 0;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, dbi, &c))) < 0)
        return rc;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != KN_KEY) {
            rc = KN_ECORRUPT;
            goto out;
        }
        if (cnt == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            void *na = realloc(arr, ncap * elem);
            if (!na) {
                rc = KN_ENOMEM;
                goto out;
            }
            arr = na;
            cap = ncap;
        }
        rc = parse(arr + cnt * elem, k.mv_data, &v, ctx);
        if (rc < 0)
            goto out;
        if (rc == 0)
            cnt++;
    }
    rc = mrc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(mrc);
out:
    mdb_cursor_close(c);
    if (rc < 0) {
        free(arr);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

static int parse_member(void *entry, const uint8_t *key, const MDB_val *v, void *ctx)
{
    (void)ctx;
    return member_parse(entry, key, v);
}

int kn_store_members_list(kn_store *s, kn_roster_member **out, size_t *n)
{
    MDB_txn *txn;
    void *arr = NULL;
    if (!s || !out || !n)
        return KN_EINVAL;
    int rc = kn_store_read_begin(s, &txn);
    if (rc < 0)
        return rc;
    rc = list_db(txn, s->db.membership, sizeof(kn_roster_member), parse_member, NULL, &arr, n);
    mdb_txn_abort(txn);
    *out = arr;
    return rc;
}

int kn_store_user_get(kn_store *s, const uint8_t key[KN_KEY], kn_roster_user *u)
{
    MDB_txn *txn;
    if (!s || !key || !u)
        return KN_EINVAL;
    int rc = kn_store_read_begin(s, &txn);
    if (rc < 0)
        return rc;
    MDB_val mk = { KN_KEY, (void *)key }, v;
    if ((rc = kn_store_mdb_err(mdb_get(txn, s->db.users, &mk, &v))) == 0)
        rc = user_parse(u, key, &v);
    mdb_txn_abort(txn);
    return rc;
}

/* Returns 1 (skip) for users of another node than *ctx. */
static int parse_user(void *entry, const uint8_t *key, const MDB_val *v, void *ctx)
{
    kn_roster_user *u = entry;
    int rc = user_parse(u, key, v);
    if (rc < 0)
        return rc;
    return ctx && memcmp(u->node, ctx, KN_KEY) != 0 ? 1 : 0;
}

int kn_store_users_list(kn_store *s, const uint8_t *node, kn_roster_user **out, size_t *n)
{
    MDB_txn *txn;
    void *arr = NULL;
    if (!s || !out || !n)
        return KN_EINVAL;
    int rc = kn_store_read_begin(s, &txn);
    if (rc < 0)
        return rc;
    rc = list_db(txn, s->db.users, sizeof(kn_roster_user), parse_user, (void *)node, &arr, n);
    mdb_txn_abort(txn);
    *out = arr;
    return rc;
}
