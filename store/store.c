/*
 * The store's environment and its read side: opening (schema version check),
 * the write-transaction runner that grows the map, lookups, the four index
 * scans, stats and local settings. Ingest, pending objects and the roster
 * live in ingest.c.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "grow.h"
#include "store_impl.h"

enum { KN_STORE_SETTING_KEY_MAX = 256 };

int kn_store_mdb_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return KN_ENOTFOUND;
    case MDB_MAP_FULL:
        return KN_EMAPFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        return KN_ECORRUPT;
    case MDB_VERSION_MISMATCH:
        return KN_ESCHEMAVER;
    case ENOMEM:
        return KN_ENOMEM;
    case EACCES:
        return KN_EPERM;
    case MDB_READERS_FULL:
    case EBUSY:
        return KN_EBUSY;
    case ENOSPC:
    case EDQUOT:
        return KN_ENOSPC;
    case EIO:
        return KN_EIO;
    default:
        return KN_ESTORE;
    }
}

/* Another process grew the map: take its size (under grow_lock, see store_impl.h). */
static int adopt_map_size(kn_store *s)
{
    pthread_mutex_lock(&s->grow_lock);
    int rc = mdb_env_set_mapsize(s->env, 0);
    pthread_mutex_unlock(&s->grow_lock);
    return rc;
}

int kn_store_read_begin(kn_store *s, MDB_txn **txn)
{
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Another handle grew the map; adopt its size and try once more. */
        if ((rc = adopt_map_size(s)) == 0)
            rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    }
    return kn_store_mdb_err(rc);
}

/*
 * Doubling the map needs no transaction open in this process, which the
 * thread-safety contract in store.h guarantees: the caller's write txn has
 * just been aborted and nobody else uses this kn_store meanwhile.
 */
static int grow_map(kn_store *s)
{
    MDB_envinfo info;
    pthread_mutex_lock(&s->grow_lock); /* waits for a background write (kn_store_write_bg) */
    int rc = mdb_env_info(s->env, &info);
    if (rc == 0
        && (info.me_mapsize > SIZE_MAX / 2 || (s->max_map && info.me_mapsize >= s->max_map)))
        rc = MDB_MAP_FULL;
    if (rc == 0) {
        size_t next = info.me_mapsize * 2;
        if (s->max_map && next > s->max_map)
            next = s->max_map; /* the quota: one last step up to it */
        rc = mdb_env_set_mapsize(s->env, next);
    }
    pthread_mutex_unlock(&s->grow_lock);
    return kn_store_mdb_err(rc);
}

/*
 * LMDB reports a write the file system cut short as EIO ("short write,
 * filesystem full?"), which is what a full disk usually gives. Tell the two
 * apart by looking: with less than KN_STORE_LOW_SPACE bytes left it is the
 * disk, and the administrator is told so.
 */
static int disk_full_or(kn_store *s, int rc)
{
    struct statvfs v;
    if (rc == KN_EIO && statvfs(s->dir, &v) == 0
        && (uint64_t)v.f_bavail * v.f_frsize < KN_STORE_LOW_SPACE)
        return KN_ENOSPC;
    return rc;
}

int kn_store_write(kn_store *s, kn_store_txn_fn fn, void *ctx)
{
    for (int attempt = 0;; attempt++) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc == MDB_MAP_RESIZED && (rc = adopt_map_size(s)) == 0)
            rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc)
            return kn_store_mdb_err(rc);
        kn_negtree_cache_reset(s);
        kn_search_txn_reset(s);
        rc = fn(s, txn, ctx);
        if (rc >= 0) {
            int frc = kn_search_flush(s, txn); /* the postings fn queued */
            if (frc >= 0)
                frc = kn_negtree_flush(s, txn); /* the tree nodes fn changed */
            if (frc < 0)
                rc = frc;
        }
        if (rc >= 0 && s->fail_count) {
            s->fail_count--; /* kn_store_debug_fail_writes */
            rc = s->fail_code;
        }
        if (rc < 0)
            mdb_txn_abort(txn);
        else
            rc = disk_full_or(s, kn_store_mdb_err(mdb_txn_commit(txn))); /* frees txn */
        if (rc != KN_EMAPFULL)
            return rc;
        if (attempt >= KN_STORE_GROW_MAX)
            return KN_EMAPFULL;
        if ((rc = grow_map(s)) < 0)
            return rc;
    }
}

int kn_store_write_bg(kn_store *s, kn_store_txn_fn fn, void *ctx)
{
    MDB_txn *txn;
    pthread_mutex_lock(&s->grow_lock);
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
        rc = KN_EMAPFULL; /* the owner adopts the new size */
    } else if ((rc = kn_store_mdb_err(rc)) == 0) {
        rc = fn(s, txn, ctx);
        if (rc < 0)
            mdb_txn_abort(txn);
        else
            rc = disk_full_or(s, kn_store_mdb_err(mdb_txn_commit(txn)));
    }
    pthread_mutex_unlock(&s->grow_lock);
    return rc;
}

int kn_store_load(kn_store *s, MDB_txn *txn, MDB_dbi dbi, const uint8_t id[KN_ID], kn_object *o)
{
    (void)s;
    MDB_val k = { KN_ID, (void *)id }, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc)
        return kn_store_mdb_err(rc);
    if (kn_object_decode_known(o, v.mv_data, v.mv_size, id) < 0)
        return KN_ECORRUPT;
    return 0;
}

/* ---- index keys ---- */

size_t kn_idx_time(uint8_t *k, const kn_object *o)
{
    kn_be64_put(k, o->created);
    memcpy(k + 8, o->id, KN_ID);
    return 8 + KN_ID;
}

size_t kn_idx_author(uint8_t *k, const kn_object *o)
{
    memcpy(k, o->author, KN_KEY);
    kn_be64_put(k + KN_KEY, o->created);
    memcpy(k + KN_KEY + 8, o->id, KN_ID);
    return KN_KEY + 8 + KN_ID;
}

size_t kn_idx_space_type(uint8_t *k, const kn_object *o)
{
    /* The decoder refuses control characters in spaces, so 0x00 ends the space unambiguously. */
    size_t n = o->space_len;
    memcpy(k, o->space, n);
    k[n++] = 0;
    k[n++] = (uint8_t)o->type;
    kn_be64_put(k + n, o->created);
    memcpy(k + n + 8, o->id, KN_ID);
    return n + 8 + KN_ID;
}

size_t kn_idx_ref(uint8_t *k, const kn_object *o, uint32_t ref)
{
    memcpy(k, o->refs[ref], KN_ID);
    k[KN_ID] = (uint8_t)o->type;
    kn_be64_put(k + KN_ID + 1, o->created);
    memcpy(k + KN_ID + 1 + 8, o->id, KN_ID);
    return KN_ID + 1 + 8 + KN_ID;
}

static bool has_prefix(const MDB_val *k, const uint8_t *prefix, size_t plen);

int kn_store_ref_ids(kn_store *s, MDB_txn *txn, const uint8_t target[KN_ID], kn_otype type,
    size_t max, uint8_t (**ids)[KN_ID], size_t *n)
{
    MDB_cursor *c = NULL;
    uint8_t prefix[KN_ID + 1];
    size_t cap = 0;
    MDB_val k, v;
    int rc;

    *ids = NULL;
    *n = 0;
    memcpy(prefix, target, KN_ID);
    prefix[KN_ID] = (uint8_t)type;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_ref, &c))) < 0)
        return rc;
    k = (MDB_val) { sizeof prefix, prefix };
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (!has_prefix(&k, prefix, sizeof prefix))
            break;
        if (k.mv_size != sizeof prefix + 8 + KN_ID) {
            rc = KN_ECORRUPT;
            goto out;
        }
        if (*n == max) {
            rc = KN_ELIMIT;
            goto out;
        }
        if (*n == cap) {
            void *ni = kn_grow(*ids, &cap, 16, KN_ID);
            if (!ni) {
                rc = KN_ENOMEM;
                goto out;
            }
            *ids = ni;
        }
        memcpy((*ids)[(*n)++], (const uint8_t *)k.mv_data + sizeof prefix + 8, KN_ID);
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : kn_store_mdb_err(rc);
out:
    mdb_cursor_close(c);
    if (rc < 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- open / close ---- */

static const struct {
    const char *name;
    size_t off;
} db_names[] = {
    { "objects", offsetof(kn_store_dbs, objects) },
    { "by_time", offsetof(kn_store_dbs, by_time) },
    { "by_author", offsetof(kn_store_dbs, by_author) },
    { "by_space_type", offsetof(kn_store_dbs, by_space_type) },
    { "by_ref", offsetof(kn_store_dbs, by_ref) },
    { "tombstones", offsetof(kn_store_dbs, tombstones) },
    { "pending", offsetof(kn_store_dbs, pending) },
    { "pending_by_dep", offsetof(kn_store_dbs, pending_by_dep) },
    { "membership", offsetof(kn_store_dbs, membership) },
    { "users", offsetof(kn_store_dbs, users) },
    { "meta", offsetof(kn_store_dbs, meta) },
    { "settings", offsetof(kn_store_dbs, settings) },
    { "negtree", offsetof(kn_store_dbs, negtree) },
    { "roster", offsetof(kn_store_dbs, roster) },
    { "blob_manifest", offsetof(kn_store_dbs, blob_manifest) },
    { "blob_chunks", offsetof(kn_store_dbs, blob_chunks) },
    { "blob_state", offsetof(kn_store_dbs, blob_state) },
    { "blob_refs", offsetof(kn_store_dbs, blob_refs) },
    { "blob_council", offsetof(kn_store_dbs, blob_council) },
    { "blob_usage", offsetof(kn_store_dbs, blob_usage) },
    { "blob_wanted", offsetof(kn_store_dbs, blob_wanted) },
    { "search_terms", offsetof(kn_store_dbs, search_terms) }, /* see db_flags */
    { "search_parts", offsetof(kn_store_dbs, search_parts) },
    { "search_docs", offsetof(kn_store_dbs, search_docs) },
    { "search_fwd", offsetof(kn_store_dbs, search_fwd) },
    { "search_times", offsetof(kn_store_dbs, search_times) },
    { "dm_index", offsetof(kn_store_dbs, dm_index) },
};

static MDB_dbi *db_by_name(kn_store *s, const char *name)
{
    for (size_t i = 0; i < sizeof db_names / sizeof db_names[0]; i++)
        if (strcmp(db_names[i].name, name) == 0)
            return (MDB_dbi *)((char *)&s->db + db_names[i].off);
    return NULL;
}

/* The postings of a term are sorted duplicates of one fixed size (search.c). */
static unsigned db_flags(const char *name)
{
    return strcmp(name, "search_terms") == 0 ? MDB_DUPSORT | MDB_DUPFIXED : 0;
}

static int read_schema_version(kn_store *s, MDB_txn *txn, uint32_t *ver)
{
    MDB_val k = { sizeof "schema_version" - 1, (void *)"schema_version" }, v;
    int rc = mdb_get(txn, s->db.meta, &k, &v);
    if (rc)
        return kn_store_mdb_err(rc);
    if (v.mv_size != 4)
        return KN_ECORRUPT;
    const uint8_t *p = v.mv_data;
    *ver = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return 0;
}

static int write_schema_version(kn_store *s, MDB_txn *txn)
{
    uint8_t b[4] = { 0, 0, 0, KN_STORE_SCHEMA_VERSION };
    MDB_val k = { sizeof "schema_version" - 1, (void *)"schema_version" }, v = { 4, b };
    return kn_store_mdb_err(mdb_put(txn, s->db.meta, &k, &v, 0));
}

/*
 * Opens every named database (creating it on first use) and writes or checks
 * the schema version. Migrations run here, inside this same transaction, so
 * that a crash leaves either the old or the new layout:
 *
 *   1 -> 2  adds the Negentropy tree ("negtree"), built by one scan of by_time.
 *   2 -> 3  adds the roster log ("roster") and stores each node's member-since
 *           in its membership record; both are rebuilt from the stored roster
 *           objects (admission rule min(k, M), ingest.c).
 *   3 -> 4  adds the blob databases (blobstore.c) and records the references of
 *           every stored doc object to its files' blobs.
 *   4 -> 5  adds the search index ("search_*", search.c). kn_search_open marks
 *           it to be built because the store has no text fingerprint yet; the
 *           build itself runs after this transaction, in steps, so that a
 *           large store does not need one huge transaction (kn_search_build).
 *           The same happens whenever the fingerprint changes (a knoten or
 *           libstemmer that stems differently).
 *   5 -> 6  the search index maps (created, id) to its numbers ("search_times")
 *           instead of the id alone ("search_ids"): ingest adds near the end of
 *           the table instead of at a random place. Filled from search_docs;
 *           nothing else in the index changes (kn_search_migrate_times).
 *   6 -> 7  adds the direct-message index ("dm_index", dmindex.c), filled from
 *           every stored dm: a mailbox is then a range, not a pass over all dms.
 */
static int open_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof db_names / sizeof db_names[0]; i++) {
        int rc = mdb_dbi_open(txn, db_names[i].name, MDB_CREATE | db_flags(db_names[i].name),
            db_by_name(s, db_names[i].name));
        if (rc)
            return kn_store_mdb_err(rc);
    }
    uint32_t ver = 0;
    int rc = read_schema_version(s, txn, &ver);
    if (rc == KN_ENOTFOUND) { /* a new store: every database is empty */
        if ((rc = kn_search_open(s, txn, false)) < 0)
            return rc;
        return write_schema_version(s, txn);
    }
    if (rc < 0)
        return rc;
    if (ver > KN_STORE_SCHEMA_VERSION)
        return KN_ESCHEMAVER;
    if (ver < 1)
        return KN_ECORRUPT;
    if (ver < 2 && (rc = kn_negtree_build(s, txn)) < 0)
        return rc;
    if (ver < 3 && (rc = kn_roster_rebuild(s, txn)) < 0) /* after the tree: it may move objects */
        return rc;
    if (ver < 4 && (rc = kn_blob_rebuild(s, txn)) < 0) /* after the roster: councils of docs */
        return rc;
    if (ver < 6 && (rc = kn_search_migrate_times(s, txn)) < 0)
        return rc;
    if (ver < 7 && (rc = kn_dmindex_build(s, txn)) < 0)
        return rc;
    /* Every open: a store from before 5 or with another text fingerprint is marked for a build. */
    if ((rc = kn_search_open(s, txn, ver < 5)) < 0)
        return rc;
    if (ver == KN_STORE_SCHEMA_VERSION)
        return 0;
    return write_schema_version(s, txn);
}

int kn_store_open(kn_store **out, const char *dir, const kn_store_options *opt)
{
    kn_store_options defaults = { 0 };
    kn_store *s = NULL;
    int rc;

    if (!out || !dir)
        return KN_EINVAL;
    *out = NULL;
    if (!opt)
        opt = &defaults;
    if (!(s = calloc(1, sizeof *s)))
        return KN_ENOMEM;
    pthread_mutex_init(&s->grow_lock, NULL);
    s->pending_max = opt->pending_max ? opt->pending_max : KN_STORE_DEFAULT_PENDING_MAX;
    s->max_map = opt->max_map_size;
    if (snprintf(s->dir, sizeof s->dir, "%s", dir) >= (int)sizeof s->dir) {
        rc = KN_EINVAL;
        goto out;
    }
    if ((rc = kn_store_mdb_err(mdb_env_create(&s->env))) < 0) {
        s->env = NULL;
        goto out;
    }
    if ((rc = kn_store_mdb_err(mdb_env_set_maxdbs(s->env, KN_STORE_MAX_DBS))) < 0)
        goto out;
    size_t map = opt->initial_map_size ? opt->initial_map_size : KN_STORE_DEFAULT_MAP;
    if (s->max_map && map > s->max_map)
        map = s->max_map;
    if ((rc = kn_store_mdb_err(mdb_env_set_mapsize(s->env, map))) < 0)
        goto out;
    /*
     * MDB_NOTLS: read transactions are not tied to a thread, so a kn_store
     * may move between threads (one at a time) and a visitor may open a
     * nested read (kn_store_get) while an iteration's read is open.
     */
    /*
     * Commits stay durable: LMDB syncs the data pages, then the meta page.
     * MDB_NOMETASYNC would save one small synchronous write per commit but
     * lose the last commit on power loss. MDB_WRITEMAP would keep durability
     * but was measured slower for ingest here (a page fault, sometimes a
     * read, per page a transaction dirties, instead of one pwrite), and it
     * turns a full disk into SIGBUS on a sparse data file; so neither.
     */
    unsigned flags = MDB_NOTLS | (opt->no_sync ? MDB_NOSYNC : 0);
    int mrc = mdb_env_open(s->env, dir, flags, 0600);
    if (mrc) {
        rc = mrc == ENOENT ? KN_ENOTFOUND : kn_store_mdb_err(mrc);
        goto out;
    }
    if ((rc = kn_store_write(s, open_txn, NULL)) < 0 || (rc = kn_search_build(s, opt)) < 0)
        goto out;
    *out = s;
    s = NULL;
out:
    kn_store_close(s);
    return rc < 0 ? rc : 0;
}

void kn_store_debug_fail_writes(kn_store *s, int code, unsigned count)
{
    s->fail_code = code;
    s->fail_count = count;
}

void kn_store_close(kn_store *s)
{
    if (!s)
        return;
    if (s->env)
        mdb_env_close(s->env);
    kn_negtree_cache_free(s->tree_cache);
    kn_search_state_free(s->search);
    pthread_mutex_destroy(&s->grow_lock);
    free(s);
}

/* ---- lookups ---- */

int kn_store_get(kn_store *s, const uint8_t id[KN_ID], uint8_t **buf, size_t *len)
{
    MDB_txn *txn = NULL;
    kn_object o;
    int rc;

    if (!s || !id || !buf || !len)
        return KN_EINVAL;
    *buf = NULL;
    *len = 0;
    if ((rc = kn_store_read_begin(s, &txn)) < 0)
        return rc;
    MDB_val k = { KN_ID, (void *)id }, v;
    if ((rc = mdb_get(txn, s->db.tombstones, &k, &v)) == 0) {
        rc = KN_ERETRACTED;
        goto out;
    }
    if ((rc = kn_store_mdb_err(mdb_get(txn, s->db.objects, &k, &v))) < 0)
        goto out;
    /* Bytes that leave the store whole are re-hashed (see kn_store_load). */
    if (kn_object_decode(&o, v.mv_data, v.mv_size) < 0 || memcmp(o.id, id, KN_ID) != 0) {
        rc = KN_ECORRUPT;
        goto out;
    }
    if (!(*buf = malloc(o.raw_len))) {
        rc = KN_ENOMEM;
        goto out;
    }
    memcpy(*buf, o.raw, o.raw_len);
    *len = o.raw_len;
out:
    mdb_txn_abort(txn);
    return rc;
}

static int has_in(kn_store *s, MDB_dbi dbi, const uint8_t id[KN_ID])
{
    MDB_txn *txn;
    if (!s || !id || kn_store_read_begin(s, &txn) < 0)
        return 0;
    MDB_val k = { KN_ID, (void *)id }, v;
    int found = mdb_get(txn, dbi, &k, &v) == 0;
    mdb_txn_abort(txn);
    return found;
}

uint64_t kn_store_generation(kn_store *s)
{
    /*
     * The snapshot a read transaction begun now gets, not the newest meta page
     * (mdb_env_info): a committing writer's meta page shows in the map while
     * its synchronous write is under way, milliseconds before readers are
     * given that snapshot. A generation read then named a commit that a read
     * begun after it did not see, and what was computed from that read was
     * taken as current until the next commit (a local object left unpublished).
     */
    MDB_txn *txn;
    if (!s || kn_store_read_begin(s, &txn) < 0)
        return 0;
    uint64_t id = (uint64_t)mdb_txn_id(txn);
    mdb_txn_abort(txn);
    return id;
}

int kn_store_has(kn_store *s, const uint8_t id[KN_ID])
{
    return s ? has_in(s, s->db.objects, id) : 0;
}

int kn_store_is_tombstoned(kn_store *s, const uint8_t id[KN_ID])
{
    return s ? has_in(s, s->db.tombstones, id) : 0;
}

static int known_in(
    kn_store *s, const uint8_t *const *ids, size_t n, uint8_t *known, bool with_pending)
{
    MDB_txn *txn;
    int rc;

    if (!s || (n && (!ids || !known)))
        return KN_EINVAL;
    if (!n)
        return 0;
    if ((rc = kn_store_read_begin(s, &txn)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        MDB_val k = { KN_ID, (void *)ids[i] }, v;
        known[i] = mdb_get(txn, s->db.objects, &k, &v) == 0
            || mdb_get(txn, s->db.tombstones, &k, &v) == 0
            || (with_pending && mdb_get(txn, s->db.pending, &k, &v) == 0);
    }
    mdb_txn_abort(txn);
    return 0;
}

int kn_store_known(kn_store *s, const uint8_t *const *ids, size_t n, uint8_t *known)
{
    return known_in(s, ids, n, known, false);
}

int kn_store_held(kn_store *s, const uint8_t *const *ids, size_t n, uint8_t *held)
{
    return known_in(s, ids, n, held, true);
}

/* ---- iteration ---- */

/* What an iteration calls: with the object loaded (fn), or with the index entry only (id_fn). */
typedef struct visitor {
    kn_store_visit_fn fn;
    kn_store_visit_id_fn id_fn;
    void *ctx;
} visitor;

/*
 * Hands the visitor what an index entry created(8) || id(32) names: the
 * (created, id) as they are, or the object loaded from objects.
 */
static int visit_id(kn_store *s, MDB_txn *txn, const uint8_t *entry, const visitor *v)
{
    if (v->id_fn)
        return v->id_fn(v->ctx, kn_be64_get(entry), entry + 8);
    kn_object o;
    int rc = kn_store_load(s, txn, s->db.objects, entry + 8, &o);
    if (rc == KN_ENOTFOUND)
        return KN_ECORRUPT; /* an index entry without its object */
    if (rc < 0)
        return rc;
    return v->fn(v->ctx, &o);
}

static bool has_prefix(const MDB_val *k, const uint8_t *prefix, size_t plen)
{
    return k->mv_size >= plen && memcmp(k->mv_data, prefix, plen) == 0;
}

/*
 * Streams the entries prefix || created(8) || id(32) of dbi with since <=
 * created < until, in key order or reversed. Every key under the prefix must
 * have exactly that length: anything else was not written by us.
 */
static int scan_range(kn_store *s, MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t plen,
    const kn_store_query *q, const visitor *vis)
{
    MDB_cursor *c = NULL;
    uint8_t start[KN_IDX_KEY_MAX];
    MDB_val k, v;
    int rc;

    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, dbi, &c))) < 0)
        return rc;
    memcpy(start, prefix, plen);
    if (!q->reverse) {
        kn_be64_put(start + plen, q->since_ms);
        k = (MDB_val) { plen + 8, start };
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    } else {
        size_t slen;
        if (q->until_ms) {
            kn_be64_put(start + plen, q->until_ms);
            slen = plen + 8;
        } else {
            memset(start + plen, 0xff, 8 + KN_ID);
            slen = plen + 8 + KN_ID;
        }
        k = (MDB_val) { slen, start };
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
        else if (rc == 0
            && !(q->until_ms == 0 && k.mv_size == slen && memcmp(k.mv_data, start, slen) == 0))
            rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
    }
    while (rc == 0) {
        if (!has_prefix(&k, prefix, plen))
            break;
        if (k.mv_size != plen + 8 + KN_ID) {
            rc = KN_ECORRUPT;
            goto out;
        }
        const uint8_t *p = (const uint8_t *)k.mv_data + plen;
        uint64_t created = kn_be64_get(p);
        if (!q->reverse && q->until_ms && created >= q->until_ms)
            break;
        if (q->reverse && created < q->since_ms)
            break;
        if ((rc = visit_id(s, txn, p, vis)) != 0)
            goto out;
        rc = mdb_cursor_get(c, &k, &v, q->reverse ? MDB_PREV : MDB_NEXT);
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : kn_store_mdb_err(rc);
out:
    mdb_cursor_close(c);
    return rc;
}

static int cmp40(const void *a, const void *b)
{
    return memcmp(a, b, 8 + KN_ID);
}

/*
 * The typed indexes (space/type, ref/type) sort by type before time, so
 * "every type" has no single key range in (created, id) order. We collect
 * the matching (created, id) pairs of all types and sort them. The result set
 * is what the caller asked to see anyway, so its size is the caller's bound.
 */
static int scan_any_type(kn_store *s, MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t plen,
    const kn_store_query *q, const visitor *vis)
{
    MDB_cursor *c = NULL;
    uint8_t *hits = NULL;
    size_t n = 0, cap = 0;
    MDB_val k = { plen, (void *)prefix }, v;
    int rc;

    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, dbi, &c))) < 0)
        return rc;
    uint8_t first[KN_IDX_KEY_MAX + 1];
    memcpy(first, prefix, plen);
    first[plen] = 0;
    k = (MDB_val) { plen + 1, first }; /* LMDB keys are never empty */
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (!has_prefix(&k, prefix, plen))
            break;
        if (k.mv_size != plen + 1 + 8 + KN_ID) {
            rc = KN_ECORRUPT;
            goto out;
        }
        const uint8_t *p = (const uint8_t *)k.mv_data + plen + 1;
        uint64_t created = kn_be64_get(p);
        if (created < q->since_ms || (q->until_ms && created >= q->until_ms))
            continue;
        if (n == cap) {
            uint8_t *nh = kn_grow(hits, &cap, 64, (8 + KN_ID));
            if (!nh) {
                rc = KN_ENOMEM;
                goto out;
            }
            hits = nh;
        }
        memcpy(hits + n * (8 + KN_ID), p, 8 + KN_ID);
        n++;
    }
    if (rc != MDB_NOTFOUND && rc != 0) {
        rc = kn_store_mdb_err(rc);
        goto out;
    }
    rc = 0;
    if (n > 1)
        qsort(hits, n, 8 + KN_ID, cmp40);
    for (size_t i = 0; i < n; i++) {
        size_t j = q->reverse ? n - 1 - i : i;
        if ((rc = visit_id(s, txn, hits + j * (8 + KN_ID), vis)) != 0)
            break;
    }
out:
    free(hits);
    mdb_cursor_close(c);
    return rc;
}

/* Collected (created, id) pairs, visited in order once the index scan is done. */
typedef struct hitlist {
    uint8_t *v;
    size_t n, cap;
} hitlist;

static int hit_add(hitlist *h, const kn_store_query *q, const uint8_t *p)
{
    uint64_t created = kn_be64_get(p);
    if (created < q->since_ms || (q->until_ms && created >= q->until_ms))
        return 0;
    if (h->n == h->cap) {
        uint8_t *nh = kn_grow(h->v, &h->cap, 64, (8 + KN_ID));
        if (!nh)
            return KN_ENOMEM;
        h->v = nh;
    }
    memcpy(h->v + h->n++ * (8 + KN_ID), p, 8 + KN_ID);
    return 0;
}

/*
 * One type in every area (KN_BY_SPACE_TYPE with space NULL): a skip scan of
 * by_space_type that seeks to (area, type) in each area, so it costs one
 * seek per area plus the matches, not a scan of every object. The matches
 * are sorted into (created, id) order as in scan_any_type.
 */
static int scan_type_every_space(
    kn_store *s, MDB_txn *txn, const kn_store_query *q, const visitor *vis)
{
    MDB_cursor *c = NULL;
    hitlist h = { 0 };
    uint8_t seek[KN_SPACE_MAX + 2];
    size_t slen = 2;
    int rc;

    seek[0] = 0; /* the empty area first */
    seek[1] = (uint8_t)q->type;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_space_type, &c))) < 0)
        return rc;
    for (;;) {
        MDB_val k = { slen, seek }, v;
        if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) != 0)
            break;
        const uint8_t *key = k.mv_data;
        const uint8_t *nul
            = memchr(key, 0, k.mv_size < KN_SPACE_MAX + 1 ? k.mv_size : KN_SPACE_MAX + 1);
        if (!nul || k.mv_size != (size_t)(nul - key) + 2 + 8 + KN_ID) {
            rc = KN_ECORRUPT;
            goto out;
        }
        size_t sl = (size_t)(nul - key);
        memcpy(seek, key, sl + 1);
        slen = sl + 2;
        if (key[sl + 1] < (uint8_t)q->type) {
            seek[sl + 1] = (uint8_t)q->type; /* this area, the type asked for */
            continue;
        }
        while (rc == 0 && key[sl + 1] == (uint8_t)q->type) {
            if ((rc = hit_add(&h, q, key + sl + 2)) < 0)
                goto out;
            if ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) != 0)
                break;
            key = k.mv_data;
            if (k.mv_size < slen || memcmp(key, seek, sl + 1) != 0)
                break;
        }
        if (rc != 0 && rc != MDB_NOTFOUND)
            goto out;
        seek[sl + 1] = 0xff; /* past this area: the next one */
    }
    if (rc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(rc);
        goto out;
    }
    rc = 0;
    if (h.n > 1)
        qsort(h.v, h.n, 8 + KN_ID, cmp40);
    for (size_t i = 0; i < h.n; i++) {
        size_t j = q->reverse ? h.n - 1 - i : i;
        if ((rc = visit_id(s, txn, h.v + j * (8 + KN_ID), vis)) != 0)
            break;
    }
out:
    free(h.v);
    mdb_cursor_close(c);
    return rc;
}

static int each(kn_store *s, const kn_store_query *q, const visitor *vis)
{
    uint8_t prefix[KN_IDX_KEY_MAX];
    size_t plen = 0;
    MDB_dbi dbi;
    bool typed = false; /* the index has a type byte after the prefix */
    MDB_txn *txn = NULL;
    int rc;

    if (!s || !q)
        return KN_EINVAL;
    if ((unsigned)q->type >= KN_T_MAX)
        return KN_EINVAL;
    switch (q->index) {
    case KN_BY_TIME:
        dbi = s->db.by_time;
        break;
    case KN_BY_AUTHOR:
        if (!q->author)
            return KN_EINVAL;
        dbi = s->db.by_author;
        memcpy(prefix, q->author, KN_KEY);
        plen = KN_KEY;
        break;
    case KN_BY_SPACE_TYPE: {
        if (!q->space && !q->type)
            return KN_EINVAL;
        if (!q->space) { /* one type in every area */
            if (q->until_ms && q->until_ms <= q->since_ms)
                return 0;
            if ((rc = kn_store_read_begin(s, &txn)) < 0)
                return rc;
            rc = scan_type_every_space(s, txn, q, vis);
            mdb_txn_abort(txn);
            return rc < 0 ? rc : 0;
        }
        size_t sl = strlen(q->space);
        if (sl > KN_SPACE_MAX)
            return KN_EINVAL;
        dbi = s->db.by_space_type;
        memcpy(prefix, q->space, sl);
        prefix[sl] = 0;
        plen = sl + 1;
        typed = true;
        break;
    }
    case KN_BY_REF:
        if (!q->ref)
            return KN_EINVAL;
        dbi = s->db.by_ref;
        memcpy(prefix, q->ref, KN_ID);
        plen = KN_ID;
        typed = true;
        break;
    default:
        return KN_EINVAL;
    }
    if (q->until_ms && q->until_ms <= q->since_ms)
        return 0;
    if ((rc = kn_store_read_begin(s, &txn)) < 0)
        return rc;
    if (typed && q->type) {
        prefix[plen++] = (uint8_t)q->type;
        rc = scan_range(s, txn, dbi, prefix, plen, q, vis);
    } else if (typed) {
        rc = scan_any_type(s, txn, dbi, prefix, plen, q, vis);
    } else {
        rc = scan_range(s, txn, dbi, prefix, plen, q, vis);
    }
    mdb_txn_abort(txn);
    return rc < 0 ? rc : 0;
}

int kn_store_each(kn_store *s, const kn_store_query *q, kn_store_visit_fn fn, void *ctx)
{
    visitor v = { .fn = fn, .ctx = ctx };
    return fn ? each(s, q, &v) : KN_EINVAL;
}

int kn_store_each_id(kn_store *s, const kn_store_query *q, kn_store_visit_id_fn fn, void *ctx)
{
    visitor v = { .id_fn = fn, .ctx = ctx };
    return fn ? each(s, q, &v) : KN_EINVAL;
}

int kn_store_each_pending(kn_store *s, kn_store_visit_fn fn, void *ctx)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc;

    if (!s || !fn)
        return KN_EINVAL;
    if ((rc = kn_store_read_begin(s, &txn)) < 0)
        return rc;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.pending, &c))) < 0)
        goto out;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kn_object o;
        if (k.mv_size != KN_ID || kn_object_decode(&o, v.mv_data, v.mv_size) < 0
            || memcmp(o.id, k.mv_data, KN_ID) != 0) {
            rc = KN_ECORRUPT;
            goto out;
        }
        if ((rc = fn(ctx, &o)) != 0)
            goto out;
    }
    rc = rc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(rc);
out:
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc < 0 ? rc : 0;
}

/* ---- stats ---- */

int kn_store_stats_get(kn_store *s, kn_store_stats *st)
{
    MDB_txn *txn = NULL;
    MDB_stat ms;
    MDB_envinfo info;
    int rc;

    if (!s || !st)
        return KN_EINVAL;
    memset(st, 0, sizeof *st);
    if ((rc = kn_store_read_begin(s, &txn)) < 0)
        return rc;
    if ((rc = kn_store_mdb_err(mdb_stat(txn, s->db.objects, &ms))) < 0)
        goto out;
    st->objects = ms.ms_entries;
    if ((rc = kn_store_mdb_err(mdb_stat(txn, s->db.pending, &ms))) < 0)
        goto out;
    st->pending = ms.ms_entries;
    if ((rc = kn_store_mdb_err(mdb_stat(txn, s->db.tombstones, &ms))) < 0)
        goto out;
    st->tombstones = ms.ms_entries;
    if ((rc = kn_store_mdb_err(mdb_env_info(s->env, &info))) < 0)
        goto out;
    if ((rc = kn_store_mdb_err(mdb_env_stat(s->env, &ms))) < 0)
        goto out;
    st->map_size = info.me_mapsize;
    st->map_used = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
    rc = read_schema_version(s, txn, &st->schema_version);
out:
    mdb_txn_abort(txn);
    return rc;
}

int kn_store_copy_compact(kn_store *s, const char *dir)
{
    if (!s || !dir)
        return KN_EINVAL;
    int rc = mdb_env_copy2(s->env, dir, MDB_CP_COMPACT);
    return rc == ENOENT ? KN_ENOTFOUND : rc == EEXIST ? KN_EEXIST : kn_store_mdb_err(rc);
}

/* ---- settings ---- */

struct kv_put {
    MDB_dbi *dbi;
    MDB_val k, v;
};

static int kv_put_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    (void)s;
    struct kv_put *p = ctx;
    return kn_store_mdb_err(mdb_put(txn, *p->dbi, &p->k, &p->v, 0));
}

int kn_store_setting_put(kn_store *s, const char *key, const uint8_t *val, size_t len)
{
    if (!s || !key || (!val && len))
        return KN_EINVAL;
    size_t kl = strlen(key);
    if (kl == 0 || kl > KN_STORE_SETTING_KEY_MAX)
        return KN_EINVAL;
    struct kv_put p = { &s->db.settings, { kl, (void *)key }, { len, (void *)val } };
    return kn_store_write(s, kv_put_txn, &p);
}

int kn_store_setting_get(kn_store *s, const char *key, uint8_t **val, size_t *len)
{
    MDB_txn *txn = NULL;
    int rc;

    if (!s || !key || !val || !len)
        return KN_EINVAL;
    *val = NULL;
    *len = 0;
    size_t kl = strlen(key);
    if (kl == 0 || kl > KN_STORE_SETTING_KEY_MAX)
        return KN_EINVAL;
    if ((rc = kn_store_read_begin(s, &txn)) < 0)
        return rc;
    MDB_val k = { kl, (void *)key }, v;
    if ((rc = kn_store_mdb_err(mdb_get(txn, s->db.settings, &k, &v))) < 0)
        goto out;
    /* malloc(0) may return NULL; one spare byte keeps "empty value" distinct from failure. */
    if (!(*val = malloc(v.mv_size + 1))) {
        rc = KN_ENOMEM;
        goto out;
    }
    memcpy(*val, v.mv_data, v.mv_size);
    *len = v.mv_size;
out:
    mdb_txn_abort(txn);
    return rc;
}

int kn_store_debug_put_raw(
    kn_store *s, const char *db, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    MDB_dbi *dbi;
    if (!s || !db || !key || !klen || (!val && vlen) || !(dbi = db_by_name(s, db)))
        return KN_EINVAL;
    struct kv_put p = { dbi, { klen, (void *)key }, { vlen, (void *)val } };
    return kn_store_write(s, kv_put_txn, &p);
}
