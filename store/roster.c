/*
 * Read-only roster queries: who founded the network, who was admitted by
 * whom, who is revoked, which users are certified.
 *
 * ingest.c writes the membership and users databases (and documents their
 * layouts); this file only reads them, and parses them with the same limits
 * so that a record ingest would call corrupt is corrupt here too. "Member
 * since" is computed exactly as ingest.c computes it (founding, or the k-th
 * earliest admit by distinct members), so what `knoten members` prints is
 * what ingest enforces.
 */
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* The layouts of ingest.c (not changed here): see the comment at its top. */
enum {
    MEMBER_HDR = 1 + 8 + 8 + 1,
    MEMBER_ENTRY = KN_KEY + 8,
    USER_REC = KN_KEY + KN_ID + 8,
    NETWORK_REC = KN_ID + 8,
    FLAG_FOUNDER = 1,
};

_Static_assert(KN_ROSTER_NEVER == KN_NEVER, "one value for never");

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

/* Founding, or the k-th earliest admit; KN_NEVER if neither (the rule of ingest.c). */
static uint64_t since_of(const kn_roster_member *m, uint64_t k)
{
    uint64_t since = m->founder ? m->founder_since : KN_NEVER;
    if (k >= 1 && m->nadmits >= k) {
        uint64_t at[KN_ROSTER_ADMITTERS_MAX];
        memcpy(at, m->admitted_at, m->nadmits * sizeof at[0]);
        for (uint32_t i = 1; i < m->nadmits; i++)
            for (uint32_t j = i; j > 0 && at[j - 1] > at[j]; j--) {
                uint64_t t = at[j];
                at[j] = at[j - 1];
                at[j - 1] = t;
            }
        if (at[k - 1] < since)
            since = at[k - 1];
    }
    return since;
}

static int member_parse(
    kn_roster_member *m, const uint8_t key[KN_KEY], const MDB_val *v, uint64_t k)
{
    const uint8_t *p = v->mv_data;
    memset(m, 0, sizeof *m);
    if (v->mv_size < MEMBER_HDR)
        return KN_ECORRUPT;
    uint32_t n = p[17];
    if ((p[0] & ~FLAG_FOUNDER) || n > KN_ROSTER_ADMITTERS_MAX
        || v->mv_size != MEMBER_HDR + (size_t)n * MEMBER_ENTRY)
        return KN_ECORRUPT;
    memcpy(m->key, key, KN_KEY);
    m->founder = p[0] & FLAG_FOUNDER;
    m->founder_since = kn_be64_get(p + 1);
    m->revoked_at = kn_be64_get(p + 9);
    m->nadmits = n;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = p + MEMBER_HDR + i * MEMBER_ENTRY;
        memcpy(m->admitter[i], e, KN_KEY);
        m->admitted_at[i] = kn_be64_get(e + KN_KEY);
    }
    if (!m->founder)
        m->founder_since = KN_NEVER;
    m->member_since = since_of(m, k);
    return 0;
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

/* k for computing "member since"; before any network object, nobody is a member anyway. */
static int rule_k(kn_store *s, MDB_txn *txn, uint64_t *k)
{
    int rc = network_read(s, txn, NULL, k);
    if (rc == KN_ENOTFOUND) {
        *k = 0;
        return 0;
    }
    return rc;
}

int kn_store_member_get(kn_store *s, const uint8_t key[KN_KEY], kn_roster_member *m)
{
    MDB_txn *txn;
    uint64_t k;
    if (!s || !key || !m)
        return KN_EINVAL;
    int rc = kn_store_read_begin(s, &txn);
    if (rc < 0)
        return rc;
    if ((rc = rule_k(s, txn, &k)) == 0) {
        MDB_val mk = { KN_KEY, (void *)key }, v;
        if ((rc = kn_store_mdb_err(mdb_get(txn, s->db.membership, &mk, &v))) == 0)
            rc = member_parse(m, key, &v, k);
    }
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
    return member_parse(entry, key, v, *(const uint64_t *)ctx);
}

int kn_store_members_list(kn_store *s, kn_roster_member **out, size_t *n)
{
    MDB_txn *txn;
    uint64_t k;
    void *arr = NULL;
    if (!s || !out || !n)
        return KN_EINVAL;
    int rc = kn_store_read_begin(s, &txn);
    if (rc < 0)
        return rc;
    if ((rc = rule_k(s, txn, &k)) == 0)
        rc = list_db(txn, s->db.membership, sizeof(kn_roster_member), parse_member, &k, &arr, n);
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
