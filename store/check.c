/*
 * The store's consistency check (kn_store_check in store.h): one read
 * transaction that walks every database and checks what ingest promises to
 * keep true after every committed write transaction, so a crash, a failed
 * write or a bug that left half an object behind shows up as a named
 * problem. Callers: `knoten check`, and the fault-injection and crash tests.
 *
 * Checked, in both directions where there are two:
 *  - every record in objects decodes, is canonical, and its id is its key;
 *  - each object has its by_time, by_author, by_space_type and by_ref
 *    entries, and every index entry names a stored object whose fields give
 *    exactly that key (so no index lists an object that is gone); each
 *    direct message has its dm_index entries, and the table holds no more;
 *  - no stored object is also tombstoned or pending;
 *  - the Negentropy tree (negtree.h) counts the by_time items and its
 *    fingerprint over all of them equals the one computed from by_time;
 *  - pending records decode with their id as key, and every pending_by_dep
 *    entry names a pending object;
 *  - the blob databases (kn_blob_check in blobstore.c): manifests, chunk
 *    counts, lengths and hashes, references against the docs, council
 *    records, usage and the wanted list;
 *  - the search index (kn_search_check in search.c): its records against
 *    the objects, postings, statistics and counts of newer versions.
 * Cost: one pass over the objects with a lookup per index entry they need;
 * an index is scanned in full only when its entry count differs from what
 * the objects need, to name the entry that is wrong.
 */
#include <stdio.h>
#include <string.h>

#include "negtree.h"
#include "store_impl.h"

typedef struct checker {
    kn_store *s;
    MDB_txn *txn;
    kn_store_check_report *r;
    uint8_t sum[KN_ID]; /* of the stored ids, for the tree's fingerprint */
    uint64_t want_refs; /* by_ref entries the objects need (distinct refs each) */
    uint64_t want_dms; /* dm_index entries the dm objects need */
} checker;

static void problem(checker *c, const char *what, const uint8_t *id)
{
    kn_store_check_report *r = c->r;
    if (r->problems++ == 0) {
        if (id)
            snprintf(r->first_problem, sizeof r->first_problem,
                "%s (object %02x%02x%02x%02x\u2026)", what, id[0], id[1], id[2], id[3]);
        else
            snprintf(r->first_problem, sizeof r->first_problem, "%s", what);
    }
}

static void blob_problem(void *ctx, const char *what, const uint8_t *id)
{
    problem(ctx, what, id);
}

static bool has_key(checker *c, MDB_dbi dbi, const uint8_t *k, size_t kl)
{
    MDB_val key = { kl, (void *)k }, v;
    return mdb_get(c->txn, dbi, &key, &v) == 0;
}

/* Each stored object: decodes to its key, not tombstoned or pending, and indexed everywhere. */
static int check_objects(checker *c)
{
    kn_store *s = c->s;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = kn_store_mdb_err(mdb_cursor_open(c->txn, s->db.objects, &cur));
    if (rc < 0)
        return rc;
    for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
        kn_object o;
        uint8_t key[KN_IDX_KEY_MAX];
        c->r->objects++;
        if (k.mv_size != KN_ID) {
            problem(c, "an objects key is not 32 bytes", NULL);
            continue;
        }
        if (kn_object_decode(&o, v.mv_data, v.mv_size) < 0) {
            problem(c, "a stored object does not decode", k.mv_data);
            continue;
        }
        if (memcmp(o.id, k.mv_data, KN_ID) != 0) {
            problem(c, "a stored object's id is not its key", k.mv_data);
            continue;
        }
        if (has_key(c, s->db.tombstones, o.id, KN_ID))
            problem(c, "a stored object is also tombstoned", o.id);
        if (has_key(c, s->db.pending, o.id, KN_ID))
            problem(c, "a stored object is also pending", o.id);
        if (!has_key(c, s->db.by_time, key, kn_idx_time(key, &o)))
            problem(c, "a stored object is missing from by_time", o.id);
        if (!has_key(c, s->db.by_author, key, kn_idx_author(key, &o)))
            problem(c, "a stored object is missing from by_author", o.id);
        if (!has_key(c, s->db.by_space_type, key, kn_idx_space_type(key, &o)))
            problem(c, "a stored object is missing from by_space_type", o.id);
        for (uint32_t i = 0; i < o.nrefs; i++) {
            bool again = false;
            for (uint32_t j = 0; j < i && !again; j++)
                again = memcmp(o.refs[j], o.refs[i], KN_ID) == 0;
            if (again)
                continue; /* the same ref twice is one index entry */
            c->want_refs++;
            if (!has_key(c, s->db.by_ref, key, kn_idx_ref(key, &o, i)))
                problem(c, "a stored object is missing from by_ref", o.id);
        }
        size_t dms = kn_dmindex_entries(&o);
        c->want_dms += dms;
        if (dms && !kn_dmindex_has(s, c->txn, &o))
            problem(c, "a stored direct message is missing from dm_index", o.id);
        kn_neg_sum_add(c->sum, o.id);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(rc);
}

enum { IX_TIME, IX_AUTHOR, IX_SPACE, IX_REF };

/*
 * Every entry of one index names a stored object whose fields give exactly
 * that key: the slow scan, run when the index holds more entries than the
 * objects need, to name the one that is wrong.
 */
static int check_index(checker *c, int which)
{
    kn_store *s = c->s;
    MDB_dbi dbi = which == IX_TIME ? s->db.by_time
        : which == IX_AUTHOR       ? s->db.by_author
        : which == IX_SPACE        ? s->db.by_space_type
                                   : s->db.by_ref;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = kn_store_mdb_err(mdb_cursor_open(c->txn, dbi, &cur));
    if (rc < 0)
        return rc;
    for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
        const uint8_t *key = k.mv_data;
        if (k.mv_size < KN_ID + 8 || k.mv_size > KN_IDX_KEY_MAX) {
            problem(c, "an index key has an impossible length", NULL);
            continue;
        }
        const uint8_t *id = key + k.mv_size - KN_ID;
        kn_object o;
        int lr = kn_store_load(s, c->txn, s->db.objects, id, &o);
        if (lr == KN_ENOTFOUND) {
            problem(c, "an index entry names an object that is not stored", id);
            continue;
        }
        if (lr < 0) {
            problem(c, "an index entry names an object that does not decode", id);
            continue;
        }
        uint8_t want[KN_IDX_KEY_MAX];
        bool match = false;
        if (which == IX_TIME) {
            match = kn_idx_time(want, &o) == k.mv_size && memcmp(want, key, k.mv_size) == 0;
        } else if (which == IX_AUTHOR) {
            match = kn_idx_author(want, &o) == k.mv_size && memcmp(want, key, k.mv_size) == 0;
        } else if (which == IX_SPACE) {
            match = kn_idx_space_type(want, &o) == k.mv_size && memcmp(want, key, k.mv_size) == 0;
        } else {
            for (uint32_t i = 0; i < o.nrefs && !match; i++)
                match = kn_idx_ref(want, &o, i) == k.mv_size && memcmp(want, key, k.mv_size) == 0;
        }
        if (!match)
            problem(c, "an index key does not match the object it names", id);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(rc);
}

/* Each index holds exactly the entries the objects need; else a scan names the wrong one. */
static int check_counts(checker *c)
{
    kn_store *s = c->s;
    const struct {
        int which;
        MDB_dbi dbi;
        uint64_t want;
        const char *name;
    } ix[] = {
        { IX_TIME, s->db.by_time, c->r->objects, "by_time" },
        { IX_AUTHOR, s->db.by_author, c->r->objects, "by_author" },
        { IX_SPACE, s->db.by_space_type, c->r->objects, "by_space_type" },
        { IX_REF, s->db.by_ref, c->want_refs, "by_ref" },
    };
    for (size_t i = 0; i < sizeof ix / sizeof ix[0]; i++) {
        MDB_stat st;
        int rc = kn_store_mdb_err(mdb_stat(c->txn, ix[i].dbi, &st));
        if (rc < 0)
            return rc;
        if (ix[i].which == IX_TIME)
            c->r->by_time = st.ms_entries;
        if (st.ms_entries == ix[i].want)
            continue;
        uint64_t before = c->r->problems;
        if ((rc = check_index(c, ix[i].which)) < 0)
            return rc;
        if (c->r->problems == before) {
            char what[96];
            snprintf(what, sizeof what, "%s holds %llu entries, the objects need %llu", ix[i].name,
                (unsigned long long)st.ms_entries, (unsigned long long)ix[i].want);
            problem(c, what, NULL);
        }
    }
    /* dm_index: every stored dm has its entries (above); here, nothing more. */
    MDB_stat st;
    int rc = kn_store_mdb_err(mdb_stat(c->txn, s->db.dm_index, &st));
    if (rc < 0)
        return rc;
    if (st.ms_entries != c->want_dms) {
        char what[96];
        snprintf(what, sizeof what, "dm_index holds %llu entries, the direct messages need %llu",
            (unsigned long long)st.ms_entries, (unsigned long long)c->want_dms);
        problem(c, what, NULL);
    }
    return 0;
}

static int check_pending(checker *c)
{
    kn_store *s = c->s;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = kn_store_mdb_err(mdb_cursor_open(c->txn, s->db.pending, &cur));
    if (rc < 0)
        return rc;
    for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
        kn_object o;
        c->r->pending++;
        if (k.mv_size != KN_ID || kn_object_decode(&o, v.mv_data, v.mv_size) < 0
            || memcmp(o.id, k.mv_data, KN_ID) != 0)
            problem(c, "a pending record does not decode to its key",
                k.mv_size == KN_ID ? k.mv_data : NULL);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return kn_store_mdb_err(rc);
    if ((rc = kn_store_mdb_err(mdb_cursor_open(c->txn, s->db.pending_by_dep, &cur))) < 0)
        return rc;
    for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
        const uint8_t *key = k.mv_data;
        if (k.mv_size != 2 * KN_ID) {
            problem(c, "a pending_by_dep key is not 64 bytes", NULL);
            continue;
        }
        if (!has_key(c, s->db.pending, key + KN_ID, KN_ID))
            problem(c, "pending_by_dep names an object that is not pending", key + KN_ID);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return kn_store_mdb_err(rc);
    MDB_stat st;
    if ((rc = kn_store_mdb_err(mdb_stat(c->txn, s->db.tombstones, &st))) < 0)
        return rc;
    c->r->tombstones = st.ms_entries;
    return 0;
}

/* The tree's count and whole-range fingerprint against the ones the objects give. */
static int check_tree(checker *c)
{
    kn_store_neg *h = NULL;
    int rc = kn_store_neg_open(c->s, &h);
    if (rc < 0)
        return rc;
    kn_neg_storage st = kn_store_neg_storage(h);
    size_t n = 0;
    uint8_t got[KN_NEG_FINGERPRINT], want[KN_NEG_FINGERPRINT];
    if ((rc = st.size(st.ctx, &n)) < 0)
        goto out;
    if (n != c->r->by_time || n != c->r->objects) {
        problem(c, "the fingerprint tree does not count the stored objects", NULL);
        goto out;
    }
    if ((rc = st.fingerprint(st.ctx, 0, n, got)) < 0)
        goto out;
    kn_neg_fingerprint_of_sum(want, c->sum, n);
    if (memcmp(got, want, sizeof got) != 0)
        problem(c, "the fingerprint tree's sum differs from the by_time items", NULL);
out:
    kn_store_neg_close(h);
    return rc == KN_ECORRUPT ? (problem(c, "the fingerprint tree is corrupt", NULL), 0) : rc;
}

int kn_store_check(kn_store *s, kn_store_check_report *r)
{
    checker c = { .s = s, .r = r };
    memset(r, 0, sizeof *r);
    int rc = kn_store_read_begin(s, &c.txn);
    if (rc < 0)
        return rc;
    if ((rc = check_objects(&c)) == 0 && (rc = check_counts(&c)) == 0)
        rc = check_pending(&c);
    if (rc == 0)
        rc = kn_blob_check(s, c.txn, blob_problem, &c);
    if (rc == 0)
        rc = kn_search_check(s, c.txn, blob_problem, &c);
    mdb_txn_abort(c.txn);
    if (rc == 0)
        rc = check_tree(&c);
    if (rc < 0)
        return rc;
    return r->problems ? KN_ECORRUPT : 0;
}
