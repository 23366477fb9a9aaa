/*
 * The direct-message index (schema 7): for every stored `dm` object, one
 * entry under its author and one under its recipient (one only when they are
 * the same person), so that a member of staff's mailbox is a range of this
 * table instead of a pass over every message the federation carries.
 *
 *   dm_index   user(32) created(8) id(32)  ->  flags(1) other(32)
 *
 * flags bit 0: the user wrote it (other = the recipient); else the user
 * received it (other = the author). Entries are written in the ingest
 * transaction (store_object) and deleted with the object (remove_object),
 * so the index never disagrees with `objects`; kn_store_check compares them.
 */
#include "store_impl.h"

enum {
    DM_KEY = KN_KEY + 8 + KN_ID,
    DM_VAL = 1 + KN_KEY,
    DM_SENT = 1,
};

/* The recipient of a dm object, or NULL if it names none (the schema requires one). */
static const uint8_t *dm_to(const kn_object *o)
{
    const uint8_t *to;
    uint32_t len;
    if (o->type != KN_T_DM || kn_object_bin(o, "to", &to, &len) < 0 || len != KN_KEY)
        return NULL;
    return to;
}

static void dm_key(uint8_t k[DM_KEY], const uint8_t user[KN_KEY], const kn_object *o)
{
    memcpy(k, user, KN_KEY);
    kn_be64_put(k + KN_KEY, o->created);
    memcpy(k + KN_KEY + 8, o->id, KN_ID);
}

/* Calls fn for the one or two entries of o: (user, value). */
static int each_entry(const kn_object *o, MDB_txn *txn, MDB_dbi dbi,
    int (*fn)(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, const uint8_t *v))
{
    const uint8_t *to = dm_to(o);
    uint8_t k[DM_KEY], v[DM_VAL];
    int rc;
    if (!to)
        return 0;
    dm_key(k, o->author, o);
    v[0] = DM_SENT;
    memcpy(v + 1, to, KN_KEY);
    if ((rc = fn(txn, dbi, k, v)) < 0 || memcmp(to, o->author, KN_KEY) == 0)
        return rc;
    dm_key(k, to, o);
    v[0] = 0;
    memcpy(v + 1, o->author, KN_KEY);
    return fn(txn, dbi, k, v);
}

static int put_entry(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, const uint8_t *v)
{
    MDB_val key = { DM_KEY, (void *)k }, val = { DM_VAL, (void *)v };
    return kn_store_mdb_err(mdb_put(txn, dbi, &key, &val, 0));
}

static int del_entry(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, const uint8_t *v)
{
    (void)v;
    MDB_val key = { DM_KEY, (void *)k };
    int rc = mdb_del(txn, dbi, &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(rc);
}

int kn_dmindex_add(kn_store *s, MDB_txn *txn, const kn_object *o)
{
    return each_entry(o, txn, s->db.dm_index, put_entry);
}

int kn_dmindex_del(kn_store *s, MDB_txn *txn, const kn_object *o)
{
    return each_entry(o, txn, s->db.dm_index, del_entry);
}

size_t kn_dmindex_entries(const kn_object *o)
{
    const uint8_t *to = dm_to(o);
    return !to ? 0 : memcmp(to, o->author, KN_KEY) == 0 ? 1 : 2;
}

bool kn_dmindex_has(kn_store *s, MDB_txn *txn, const kn_object *o)
{
    const uint8_t *to = dm_to(o);
    const uint8_t *users[2] = { o->author, to };
    for (int i = 0; to && i < 2; i++) {
        uint8_t k[DM_KEY];
        dm_key(k, users[i], o);
        MDB_val key = { DM_KEY, k }, val;
        if (mdb_get(txn, s->db.dm_index, &key, &val) != 0 || val.mv_size != DM_VAL)
            return false;
    }
    return true;
}

/*
 * Calls fn(ctx, key, value) for every entry of the cursor's table whose key
 * starts with prefix, in key order, until fn returns nonzero (returned).
 */
static int each_prefixed(MDB_cursor *c, const void *prefix, size_t plen,
    int (*fn)(void *ctx, const MDB_val *k, const MDB_val *v), void *ctx)
{
    MDB_val k = { plen, (void *)prefix }, v;
    for (int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (mrc == MDB_NOTFOUND)
            return 0;
        if (mrc)
            return kn_store_mdb_err(mrc);
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            return 0;
        int rc = fn(ctx, &k, &v);
        if (rc)
            return rc;
    }
}

typedef struct build_ctx {
    kn_store *s;
    MDB_txn *txn;
} build_ctx;

/* One by_space_type entry of area "", type dm: space(0) 0x00 type(1) created(8) id(32). */
static int build_one(void *ctx, const MDB_val *k, const MDB_val *v)
{
    build_ctx *b = ctx;
    kn_object o;
    (void)v;
    if (k->mv_size != 2 + 8 + KN_ID)
        return 0; /* kn_store_check reports it */
    int rc = kn_store_load(b->s, b->txn, b->s->db.objects, (const uint8_t *)k->mv_data + 10, &o);
    return rc < 0 ? rc : kn_dmindex_add(b->s, b->txn, &o);
}

/* Schema 6 -> 7: every stored dm, found through by_space_type (dms live in the area ""). */
int kn_dmindex_build(kn_store *s, MDB_txn *txn)
{
    const uint8_t prefix[2] = { 0, (uint8_t)KN_T_DM };
    build_ctx b = { s, txn };
    MDB_cursor *c = NULL;
    int rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_space_type, &c));
    if (rc < 0)
        return rc;
    rc = each_prefixed(c, prefix, sizeof prefix, build_one, &b);
    mdb_cursor_close(c);
    return rc;
}

typedef struct mail_ctx {
    int (*fn)(void *ctx, const kn_store_mail *m);
    void *ctx;
} mail_ctx;

static int mail_one(void *ctx, const MDB_val *k, const MDB_val *v)
{
    mail_ctx *mc = ctx;
    if (k->mv_size != DM_KEY || v->mv_size != DM_VAL)
        return KN_ECORRUPT;
    const uint8_t *kp = k->mv_data, *vp = v->mv_data;
    kn_store_mail m = {
        .id = kp + KN_KEY + 8,
        .other = vp + 1,
        .created = kn_be64_get(kp + KN_KEY),
        .sent = (vp[0] & DM_SENT) != 0,
    };
    return mc->fn(mc->ctx, &m);
}

int kn_store_mailbox(kn_store *s, const uint8_t user[KN_KEY],
    int (*fn)(void *ctx, const kn_store_mail *m), void *ctx)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    mail_ctx mc = { fn, ctx };
    int rc;
    if (!s || !user || !fn)
        return KN_EINVAL;
    if ((rc = kn_store_read_begin(s, &txn)) < 0)
        return rc;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.dm_index, &c))) == 0) {
        rc = each_prefixed(c, user, KN_KEY, mail_one, &mc);
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return rc < 0 ? rc : 0;
}
