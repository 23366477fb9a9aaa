/*
 * Blob storage (blobstore.h): manifests, chunks, per-blob state, references from
 * docs, per-council admission and usage, the wanted list. Layouts are in
 * store_impl.h; the rules in docs/blobs.md.
 *
 * Invariants every function here keeps, inside one write transaction:
 *   - blob_state exists iff blob_manifest does; present/bytes count the
 *     blob_chunks entries under the blob.
 *   - blob_refs has one entry per (blob, live doc); blob_council one per
 *     (council, blob) with the number of that council's docs referencing the
 *     blob, and the admission decided when the first of them was stored.
 *   - blob_usage[c] is the sum of sizes of c's accepted blob_council entries.
 *   - blob_wanted holds exactly the blobs that have an accepted blob_council
 *     entry and are not complete.
 *   - A blob without references has no manifest, chunks or state, except
 *     while staged by the command line (kn_blob_gc collects those).
 */
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "blobstore.h"
#include "grow.h"
#include "store_impl.h"

enum {
    STATE_REC = 4 + 4 + 8 + 8 + 8,
    REF_KEY = KN_BLOB_ID + KN_ID,
    REF_REC = KN_KEY + 8 + 8,
    COUNCIL_KEY = KN_KEY + KN_BLOB_ID,
    COUNCIL_REC = 4 + 1 + 8 + 8,
    WANT_REC = 8 + 8,
    CHUNK_KEY = KN_BLOB_ID + 4,
};

static const char SET_MAX_FILE[] = "blob.max_file";
static const char SET_QUOTA[] = "blob.quota";
static const char SET_POLICY[] = "blob.policy";
/* kn_blob_scrub: free pages still to overwrite (8 bytes); UINT64_MAX: count them first. */
static const char SET_SCRUB[] = "blob.scrub";
/* ... and its scratch values, "blob.scrub." + index (4), one zero-filled page each. */
static const char SET_SCRUB_PAGE[] = "blob.scrub.";

/* ---- small helpers ---- */

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *v)
{
    MDB_val k = { klen, (void *)key };
    return kn_store_mdb_err(mdb_get(txn, dbi, &k, v));
}

static int put(
    MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val, size_t vlen)
{
    MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
    return kn_store_mdb_err(mdb_put(txn, dbi, &k, &v, 0));
}

static int del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
    MDB_val k = { klen, (void *)key };
    int rc = mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(rc);
}

static bool prefixed(const MDB_val *k, const uint8_t *prefix, size_t plen)
{
    return k->mv_size >= plen && memcmp(k->mv_data, prefix, plen) == 0;
}

/* ---- records ---- */

typedef struct state_rec {
    uint32_t nchunks, present;
    uint64_t size, bytes, staged_ms;
} state_rec;

static int state_get(kn_store *s, MDB_txn *txn, const uint8_t id[KN_BLOB_ID], state_rec *st)
{
    MDB_val v;
    int rc = get(txn, s->db.blob_state, id, KN_BLOB_ID, &v);
    if (rc < 0)
        return rc;
    if (v.mv_size != STATE_REC)
        return KN_ECORRUPT;
    const uint8_t *p = v.mv_data;
    st->nchunks = be32_get(p);
    st->present = be32_get(p + 4);
    st->size = kn_be64_get(p + 8);
    st->bytes = kn_be64_get(p + 16);
    st->staged_ms = kn_be64_get(p + 24);
    if (st->size > KN_BLOB_SIZE_MAX || st->nchunks != kn_blob_nchunks(st->size)
        || st->present > st->nchunks || st->bytes > st->size)
        return KN_ECORRUPT;
    return 0;
}

static int state_put(kn_store *s, MDB_txn *txn, const uint8_t id[KN_BLOB_ID], const state_rec *st)
{
    uint8_t b[STATE_REC];
    be32_put(b, st->nchunks);
    be32_put(b + 4, st->present);
    kn_be64_put(b + 8, st->size);
    kn_be64_put(b + 16, st->bytes);
    kn_be64_put(b + 24, st->staged_ms);
    return put(txn, s->db.blob_state, id, KN_BLOB_ID, b, sizeof b);
}

typedef struct council_rec {
    uint32_t count;
    kn_blob_admission adm;
    uint64_t size, first_created;
} council_rec;

static void council_key(
    uint8_t k[COUNCIL_KEY], const uint8_t c[KN_KEY], const uint8_t b[KN_BLOB_ID])
{
    memcpy(k, c, KN_KEY);
    memcpy(k + KN_KEY, b, KN_BLOB_ID);
}

static int council_decode(const MDB_val *v, council_rec *r)
{
    if (v->mv_size != COUNCIL_REC)
        return KN_ECORRUPT;
    const uint8_t *p = v->mv_data;
    r->count = be32_get(p);
    r->adm = (kn_blob_admission)p[4];
    r->size = kn_be64_get(p + 5);
    r->first_created = kn_be64_get(p + 13);
    if (r->count == 0 || r->adm < KN_BLOB_ACCEPTED || r->adm > KN_BLOB_REFUSED_INVALID)
        return KN_ECORRUPT;
    return 0;
}

static int council_get(
    kn_store *s, MDB_txn *txn, const uint8_t c[KN_KEY], const uint8_t b[KN_BLOB_ID], council_rec *r)
{
    uint8_t k[COUNCIL_KEY];
    MDB_val v;
    council_key(k, c, b);
    int rc = get(txn, s->db.blob_council, k, sizeof k, &v);
    return rc < 0 ? rc : council_decode(&v, r);
}

static int council_put(kn_store *s, MDB_txn *txn, const uint8_t c[KN_KEY],
    const uint8_t b[KN_BLOB_ID], const council_rec *r)
{
    uint8_t k[COUNCIL_KEY], v[COUNCIL_REC];
    council_key(k, c, b);
    be32_put(v, r->count);
    v[4] = (uint8_t)r->adm;
    kn_be64_put(v + 5, r->size);
    kn_be64_put(v + 13, r->first_created);
    return put(txn, s->db.blob_council, k, sizeof k, v, sizeof v);
}

static int usage_get(kn_store *s, MDB_txn *txn, const uint8_t c[KN_KEY], uint64_t *bytes)
{
    MDB_val v;
    int rc = get(txn, s->db.blob_usage, c, KN_KEY, &v);
    *bytes = 0;
    if (rc == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (v.mv_size != 8)
        return KN_ECORRUPT;
    *bytes = kn_be64_get(v.mv_data);
    return 0;
}

static int usage_put(kn_store *s, MDB_txn *txn, const uint8_t c[KN_KEY], uint64_t bytes)
{
    uint8_t b[8];
    if (bytes == 0)
        return del(txn, s->db.blob_usage, c, KN_KEY);
    kn_be64_put(b, bytes);
    return put(txn, s->db.blob_usage, c, KN_KEY, b, sizeof b);
}

static int usage_add(kn_store *s, MDB_txn *txn, const uint8_t c[KN_KEY], uint64_t add, bool sub)
{
    uint64_t u;
    int rc = usage_get(s, txn, c, &u);
    if (rc < 0)
        return rc;
    if (sub)
        u = u > add ? u - add : 0;
    else
        u = u + add < u ? UINT64_MAX : u + add;
    return usage_put(s, txn, c, u);
}

/* ---- settings, read inside a transaction ---- */

static int setting_u64(kn_store *s, MDB_txn *txn, const char *key, uint64_t def, uint64_t *out)
{
    MDB_val v;
    int rc = get(txn, s->db.settings, key, strlen(key), &v);
    *out = def;
    if (rc == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (v.mv_size != 8)
        return KN_ECORRUPT;
    *out = kn_be64_get(v.mv_data);
    return 0;
}

static int limits_read(kn_store *s, MDB_txn *txn, kn_blob_limits *l)
{
    int rc = setting_u64(s, txn, SET_MAX_FILE, KN_BLOB_DEFAULT_MAX_FILE, &l->max_file);
    if (rc < 0)
        return rc;
    if (l->max_file == 0 || l->max_file > KN_BLOB_SIZE_MAX)
        return KN_ECORRUPT;
    return setting_u64(s, txn, SET_QUOTA, KN_BLOB_DEFAULT_QUOTA, &l->quota);
}

static int council_of(kn_store *s, MDB_txn *txn, const uint8_t author[KN_KEY], uint8_t c[KN_KEY])
{
    MDB_val v;
    int rc = get(txn, s->db.users, author, KN_KEY, &v);
    if (rc == KN_ENOTFOUND) {
        memcpy(c, author, KN_KEY);
        return 0;
    }
    if (rc < 0)
        return rc;
    if (v.mv_size < KN_KEY)
        return KN_ECORRUPT;
    memcpy(c, v.mv_data, KN_KEY);
    return 0;
}

/* ---- decisions ---- */

/* The admission of a council's first reference to a blob, under limits l and its usage. */
static int decide(kn_store *s, MDB_txn *txn, const uint8_t c[KN_KEY], const uint8_t b[KN_BLOB_ID],
    uint64_t size, const kn_blob_limits *l, kn_blob_admission *adm)
{
    state_rec st;
    uint64_t used;
    int rc;

    /* Only the empty file has 0 chunks, and its id is only that of 0 chunks. */
    if (size > KN_BLOB_SIZE_MAX || (size == 0) != (memcmp(b, KN_BLOB_EMPTY_ID, KN_BLOB_ID) == 0)) {
        *adm = KN_BLOB_REFUSED_INVALID;
        return 0;
    }
    rc = state_get(s, txn, b, &st);
    if (rc < 0 && rc != KN_ENOTFOUND)
        return rc;
    if (rc == 0 && st.size != size) {
        *adm = KN_BLOB_REFUSED_INVALID;
        return 0;
    }
    if (size > l->max_file) {
        *adm = KN_BLOB_REFUSED_SIZE;
        return 0;
    }
    if ((rc = usage_get(s, txn, c, &used)) < 0)
        return rc;
    if (l->quota && (size > l->quota || used > l->quota - size)) {
        *adm = KN_BLOB_REFUSED_QUOTA;
        return 0;
    }
    *adm = KN_BLOB_ACCEPTED;
    return 0;
}

/* A chunk up to this size may share a leaf page with other records (LMDB, 4 KiB pages). */
enum { SMALL_CHUNK = 4096 };

/* Removes a blob's manifest, state, chunks and wanted entry (not its references). */
static int purge_data(kn_store *s, MDB_txn *txn, const uint8_t id[KN_BLOB_ID])
{
    MDB_cursor *c = NULL;
    uint8_t start[CHUNK_KEY];
    int rc;

    if ((rc = del(txn, s->db.blob_manifest, id, KN_BLOB_ID)) < 0
        || (rc = del(txn, s->db.blob_state, id, KN_BLOB_ID)) < 0
        || (rc = del(txn, s->db.blob_wanted, id, KN_BLOB_ID)) < 0)
        return rc;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_chunks, &c))) < 0)
        return rc;
    memcpy(start, id, KN_BLOB_ID);
    memset(start + KN_BLOB_ID, 0, 4);
    /* Each round looks the range up afresh rather than trusting a cursor across a delete. */
    for (;;) {
        MDB_val k = { sizeof start, start }, v;
        if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) != 0)
            break;
        if (!prefixed(&k, id, KN_BLOB_ID))
            break;
        if (v.mv_size <= SMALL_CHUNK) {
            /*
             * A small chunk shares its page with other records: zeros first,
             * so that the page left behind does not keep its bytes where the
             * delete leaves a gap (pages of their own are freed whole and
             * overwritten by kn_blob_scrub).
             */
            static const uint8_t zeros[SMALL_CHUNK];
            MDB_val z = { v.mv_size, (void *)zeros };
            if ((rc = mdb_cursor_put(c, &k, &z, MDB_CURRENT)) != 0)
                break;
        }
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
    }
    rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(rc);
    mdb_cursor_close(c);
    if (rc == 0) { /* the freed pages still hold the bytes: kn_blob_scrub overwrites them */
        uint8_t all[8];
        kn_be64_put(all, UINT64_MAX);
        rc = put(txn, s->db.settings, SET_SCRUB, sizeof SET_SCRUB - 1, all, sizeof all);
    }
    return rc;
}

/* The manifest is here and every chunk of it. */
static int complete_in(
    kn_store *s, MDB_txn *txn, const uint8_t id[KN_BLOB_ID], bool *complete, bool *have)
{
    state_rec st;
    int rc = state_get(s, txn, id, &st);
    *complete = false;
    *have = false;
    if (rc == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    *have = true;
    *complete = st.present == st.nchunks;
    return 0;
}

/*
 * Scans the references of a blob: how many live docs reference it, whether
 * any council accepted it, and (first_refusal) the first refusal seen.
 */
static int refs_scan(kn_store *s, MDB_txn *txn, const uint8_t id[KN_BLOB_ID], uint32_t *nrefs,
    bool *accepted, kn_blob_admission *first_refusal, uint64_t *size)
{
    MDB_cursor *c = NULL;
    uint8_t start[REF_KEY];
    int rc;

    *nrefs = 0;
    *accepted = false;
    if (first_refusal)
        *first_refusal = KN_BLOB_NOREF;
    if (size)
        *size = 0;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_refs, &c))) < 0)
        return rc;
    memcpy(start, id, KN_BLOB_ID);
    memset(start + KN_BLOB_ID, 0, KN_ID);
    MDB_val k = { sizeof start, start }, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (!prefixed(&k, id, KN_BLOB_ID))
            break;
        if (k.mv_size != REF_KEY || v.mv_size != REF_REC) {
            rc = KN_ECORRUPT;
            goto out;
        }
        uint8_t council[KN_KEY];
        council_rec cr;
        memcpy(council, v.mv_data, KN_KEY);
        if (size && *nrefs == 0)
            *size = kn_be64_get((const uint8_t *)v.mv_data + KN_KEY);
        (*nrefs)++;
        if ((rc = council_get(s, txn, council, id, &cr)) < 0) {
            rc = rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
            goto out;
        }
        if (cr.adm == KN_BLOB_ACCEPTED)
            *accepted = true;
        else if (first_refusal && *first_refusal == KN_BLOB_NOREF)
            *first_refusal = cr.adm;
    }
    rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(rc);
out:
    mdb_cursor_close(c);
    return rc;
}

/*
 * Brings a blob's wanted entry and data in line with its references: no
 * reference left -> its data goes; accepted and incomplete -> wanted; else
 * not wanted. size: the size the references give (for the wanted entry).
 */
static int settle(kn_store *s, MDB_txn *txn, const uint8_t id[KN_BLOB_ID])
{
    uint32_t nrefs;
    bool accepted, complete, have;
    uint64_t size;
    MDB_val v;
    int rc;

    if ((rc = refs_scan(s, txn, id, &nrefs, &accepted, NULL, &size)) < 0)
        return rc;
    if (nrefs == 0) {
        state_rec st;
        rc = state_get(s, txn, id, &st);
        if (rc == 0 && st.staged_ms)
            return del(txn, s->db.blob_wanted, id, KN_BLOB_ID); /* staged by a publish going on */
        if (rc < 0 && rc != KN_ENOTFOUND)
            return rc;
        return purge_data(s, txn, id);
    }
    if ((rc = complete_in(s, txn, id, &complete, &have)) < 0)
        return rc;
    if (accepted && !complete && size == 0) {
        /* The empty file: its manifest is known without asking anyone. */
        state_rec st = { 0 };
        uint8_t m[KN_BLOB_MANIFEST_HDR] = { 0 };
        if ((rc = put(txn, s->db.blob_manifest, id, KN_BLOB_ID, m, sizeof m)) < 0
            || (rc = state_put(s, txn, id, &st)) < 0)
            return rc;
        complete = true;
    }
    if (!accepted || complete)
        return del(txn, s->db.blob_wanted, id, KN_BLOB_ID);
    rc = get(txn, s->db.blob_wanted, id, KN_BLOB_ID, &v);
    if (rc == 0)
        return 0;
    if (rc != KN_ENOTFOUND)
        return rc;
    uint8_t w[WANT_REC];
    kn_be64_put(w, size);
    kn_be64_put(w + 8, 0);
    return put(txn, s->db.blob_wanted, id, KN_BLOB_ID, w, sizeof w);
}

/*
 * A doc references the blob now, so the publish that staged it is done: from
 * here on the blob lives exactly as long as its references.
 */
static int unstage(kn_store *s, MDB_txn *txn, const uint8_t id[KN_BLOB_ID])
{
    state_rec st;
    int rc = state_get(s, txn, id, &st);
    if (rc == KN_ENOTFOUND || (rc == 0 && st.staged_ms == 0))
        return 0;
    if (rc < 0)
        return rc;
    st.staged_ms = 0;
    return state_put(s, txn, id, &st);
}

/* ---- references from docs (called by ingest.c) ---- */

typedef struct doc_refs {
    uint8_t doc[KN_ID];
    uint8_t council[KN_KEY];
    uint64_t created;
    uint32_t n;
    uint8_t blob[KN_DOC_FILES_MAX][KN_BLOB_ID];
    uint64_t size[KN_DOC_FILES_MAX];
} doc_refs;

/* Copies what a doc says about its blobs, once per distinct blob, before anything is written. */
static int doc_refs_read(kn_store *s, MDB_txn *txn, const kn_object *o, doc_refs *d)
{
    kn_doc_file f[KN_DOC_FILES_MAX];
    uint32_t n;
    int rc = kn_doc_files(o, f, &n);
    if (rc < 0)
        return rc == KN_ESCHEMA ? KN_ECORRUPT : rc; /* it passed the schema on its way in */
    memcpy(d->doc, o->id, KN_ID);
    d->created = o->created;
    d->n = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool dup = false;
        for (uint32_t j = 0; j < d->n && !dup; j++)
            dup = memcmp(d->blob[j], f[i].blob, KN_BLOB_ID) == 0;
        if (dup)
            continue;
        memcpy(d->blob[d->n], f[i].blob, KN_BLOB_ID);
        d->size[d->n] = f[i].size;
        d->n++;
    }
    return council_of(s, txn, o->author, d->council);
}

int kn_blob_doc_added(kn_store *s, MDB_txn *txn, const kn_object *o)
{
    kn_blob_limits l;
    doc_refs *d = malloc(sizeof *d);
    int rc;

    if (!d)
        return KN_ENOMEM;
    if ((rc = doc_refs_read(s, txn, o, d)) < 0 || (rc = limits_read(s, txn, &l)) < 0)
        goto out;
    for (uint32_t i = 0; i < d->n; i++) {
        uint8_t rk[REF_KEY], rv[REF_REC];
        MDB_val v;
        council_rec cr;
        memcpy(rk, d->blob[i], KN_BLOB_ID);
        memcpy(rk + KN_BLOB_ID, d->doc, KN_ID);
        if ((rc = get(txn, s->db.blob_refs, rk, sizeof rk, &v)) == 0)
            continue; /* already counted (a rebuild over a store that has them) */
        if (rc != KN_ENOTFOUND)
            goto out;
        memcpy(rv, d->council, KN_KEY);
        kn_be64_put(rv + KN_KEY, d->size[i]);
        kn_be64_put(rv + KN_KEY + 8, d->created);
        if ((rc = put(txn, s->db.blob_refs, rk, sizeof rk, rv, sizeof rv)) < 0)
            goto out;
        rc = council_get(s, txn, d->council, d->blob[i], &cr);
        if (rc == 0) {
            cr.count++;
        } else if (rc == KN_ENOTFOUND) {
            cr = (council_rec) { 1, KN_BLOB_NOREF, d->size[i], d->created };
            if ((rc = decide(s, txn, d->council, d->blob[i], d->size[i], &l, &cr.adm)) < 0)
                goto out;
            if (cr.adm == KN_BLOB_ACCEPTED
                && (rc = usage_add(s, txn, d->council, d->size[i], false)) < 0)
                goto out;
        } else {
            goto out;
        }
        if ((rc = council_put(s, txn, d->council, d->blob[i], &cr)) < 0
            || (rc = unstage(s, txn, d->blob[i])) < 0 || (rc = settle(s, txn, d->blob[i])) < 0)
            goto out;
    }
    rc = 0;
out:
    free(d);
    return rc;
}

static int reevaluate(kn_store *s, MDB_txn *txn, const uint8_t *only, const kn_blob_limits *l,
    bool fill, size_t *accepted);

int kn_blob_doc_removed(kn_store *s, MDB_txn *txn, const kn_object *o)
{
    doc_refs *d = malloc(sizeof *d);
    int rc;

    if (!d)
        return KN_ENOMEM;
    if ((rc = doc_refs_read(s, txn, o, d)) < 0) /* copies: o may point into pages we change */
        goto out;
    for (uint32_t i = 0; i < d->n; i++) {
        uint8_t rk[REF_KEY], council[KN_KEY];
        MDB_val v;
        council_rec cr;
        memcpy(rk, d->blob[i], KN_BLOB_ID);
        memcpy(rk + KN_BLOB_ID, d->doc, KN_ID);
        rc = get(txn, s->db.blob_refs, rk, sizeof rk, &v);
        if (rc == KN_ENOTFOUND)
            continue;
        if (rc < 0)
            goto out;
        if (v.mv_size != REF_REC) {
            rc = KN_ECORRUPT;
            goto out;
        }
        /* The council recorded with the reference: the author's certificate may be gone now. */
        memcpy(council, v.mv_data, KN_KEY);
        if ((rc = del(txn, s->db.blob_refs, rk, sizeof rk)) < 0)
            goto out;
        if ((rc = council_get(s, txn, council, d->blob[i], &cr)) < 0) {
            rc = rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
            goto out;
        }
        if (--cr.count > 0) {
            rc = council_put(s, txn, council, d->blob[i], &cr);
        } else {
            uint8_t ck[COUNCIL_KEY];
            council_key(ck, council, d->blob[i]);
            if ((rc = del(txn, s->db.blob_council, ck, sizeof ck)) < 0)
                goto out;
            /* Space freed: quota refusals of the same council that fit now are accepted. */
            kn_blob_limits l;
            if (cr.adm == KN_BLOB_ACCEPTED && (rc = usage_add(s, txn, council, cr.size, true)) == 0
                && (rc = limits_read(s, txn, &l)) == 0)
                rc = reevaluate(s, txn, council, &l, true, NULL);
        }
        if (rc < 0 || (rc = settle(s, txn, d->blob[i])) < 0)
            goto out;
    }
    rc = 0;
out:
    free(d);
    return rc;
}

int kn_blob_rebuild(kn_store *s, MDB_txn *txn)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc;

    /* The blob databases are new at this step; drop whatever a failed attempt left. */
    MDB_dbi dbs[] = { s->db.blob_refs, s->db.blob_council, s->db.blob_usage, s->db.blob_wanted };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++)
        if ((rc = kn_store_mdb_err(mdb_drop(txn, dbs[i], 0))) < 0)
            return rc;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.objects, &c))) < 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kn_object o;
        if (kn_object_decode(&o, v.mv_data, v.mv_size) < 0) {
            rc = KN_ECORRUPT;
            goto out;
        }
        /* Only blob databases are written below, so the objects cursor and o stay valid. */
        if (o.type == KN_T_DOC && (rc = kn_blob_doc_added(s, txn, &o)) < 0)
            goto out;
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : kn_store_mdb_err(rc);
out:
    mdb_cursor_close(c);
    return rc;
}

/* ---- limits and policy ---- */

const char *kn_blob_admission_text(kn_blob_admission a)
{
    switch (a) {
    case KN_BLOB_NOREF:
        return "no live document references it";
    case KN_BLOB_ACCEPTED:
        return "accepted";
    case KN_BLOB_REFUSED_SIZE:
        return "larger than this node's per-file limit";
    case KN_BLOB_REFUSED_QUOTA:
        return "over the storage quota of the issuing council on this node";
    case KN_BLOB_REFUSED_INVALID:
        return "the document gives a size that does not fit its file";
    default:
        return "unknown";
    }
}

struct limits_ctx {
    kn_blob_limits l;
    int rc;
};

static int limits_get_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct limits_ctx *c = ctx;
    return limits_read(s, txn, &c->l);
}

/* Runs fn in a read transaction (the write runner is for writes). */
static int in_read(kn_store *s, kn_store_txn_fn fn, void *ctx)
{
    MDB_txn *txn;
    int rc = kn_store_read_begin(s, &txn);
    if (rc < 0)
        return rc;
    rc = fn(s, txn, ctx);
    mdb_txn_abort(txn);
    return rc;
}

int kn_blob_limits_get(kn_store *s, kn_blob_limits *l)
{
    struct limits_ctx c;
    if (!s || !l)
        return KN_EINVAL;
    int rc = in_read(s, limits_get_txn, &c);
    if (rc == 0)
        *l = c.l;
    return rc;
}

typedef struct cent {
    uint8_t key[COUNCIL_KEY];
    council_rec r;
} cent;

static int cent_cmp(const void *a, const void *b)
{
    const cent *x = a, *y = b;
    int c = memcmp(x->key, y->key, KN_KEY);
    if (c)
        return c;
    if (x->r.first_created != y->r.first_created)
        return x->r.first_created < y->r.first_created ? -1 : 1;
    return memcmp(x->key + KN_KEY, y->key + KN_KEY, KN_BLOB_ID);
}

/*
 * Re-decides (council, blob) entries, per council in the order of first
 * reference, for one council (only) or all. fill: the limits did not change
 * but the council's usage went down, so only quota refusals that now fit are
 * accepted and nothing accepted changes. Otherwise every entry is decided
 * afresh under l, except that an accepted blob already stored complete stays
 * accepted and counts (lowering a limit never deletes, and the usage shows
 * what is on disk). Entries found invalid stay so: that does not depend on
 * limits. *accepted counts entries that went from refused to accepted.
 */
static int reevaluate(kn_store *s, MDB_txn *txn, const uint8_t *only, const kn_blob_limits *l,
    bool fill, size_t *accepted)
{
    MDB_cursor *c = NULL;
    cent *e = NULL;
    size_t n = 0, cap = 0;
    MDB_val k, v;
    int rc;

    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_council, &c))) < 0)
        return rc;
    k = (MDB_val) { only ? KN_KEY : 0, (void *)only };
    for (rc = mdb_cursor_get(c, &k, &v, only ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (only && !prefixed(&k, only, KN_KEY))
            break;
        if (n == cap) {
            cent *ne = kn_grow(e, &cap, 256, sizeof *e);
            if (!ne) {
                rc = KN_ENOMEM;
                goto out;
            }
            e = ne;
        }
        if (k.mv_size != COUNCIL_KEY || (rc = council_decode(&v, &e[n].r)) < 0) {
            rc = KN_ECORRUPT;
            goto out;
        }
        memcpy(e[n].key, k.mv_data, COUNCIL_KEY);
        n++;
    }
    if (rc != MDB_NOTFOUND && rc != 0) {
        rc = kn_store_mdb_err(rc);
        goto out;
    }
    mdb_cursor_close(c);
    c = NULL;
    if (n > 1)
        qsort(e, n, sizeof *e, cent_cmp);
    for (size_t i = 0; i < n;) {
        uint8_t council[KN_KEY];
        uint64_t used = 0;
        size_t j = i;
        memcpy(council, e[i].key, KN_KEY);
        if (fill && (rc = usage_get(s, txn, council, &used)) < 0)
            goto out;
        for (; j < n && memcmp(e[j].key, council, KN_KEY) == 0; j++) {
            council_rec *r = &e[j].r;
            kn_blob_admission was = r->adm;
            bool keep = false; /* stored: stays accepted and counted whatever the limits */
            if (!fill && was == KN_BLOB_ACCEPTED) {
                bool complete, have;
                if ((rc = complete_in(s, txn, e[j].key + KN_KEY, &complete, &have)) < 0)
                    goto out;
                keep = complete;
            }
            if (keep) {
                used += r->size;
            } else if (fill ? was == KN_BLOB_REFUSED_QUOTA : was != KN_BLOB_REFUSED_INVALID) {
                if (r->size > l->max_file)
                    r->adm = KN_BLOB_REFUSED_SIZE;
                else if (l->quota && (r->size > l->quota || used > l->quota - r->size))
                    r->adm = KN_BLOB_REFUSED_QUOTA;
                else
                    r->adm = KN_BLOB_ACCEPTED;
                if (r->adm == KN_BLOB_ACCEPTED)
                    used += r->size;
            } else if (!fill && r->adm == KN_BLOB_ACCEPTED) {
                used += r->size;
            }
            if (r->adm == was)
                continue;
            if (r->adm == KN_BLOB_ACCEPTED && accepted)
                (*accepted)++;
            if ((rc = council_put(s, txn, council, e[j].key + KN_KEY, r)) < 0
                || (rc = settle(s, txn, e[j].key + KN_KEY)) < 0)
                goto out;
        }
        if ((rc = usage_put(s, txn, council, used)) < 0)
            goto out;
        i = j;
    }
    rc = 0;
out:
    mdb_cursor_close(c);
    free(e);
    return rc;
}

struct limits_set_ctx {
    kn_blob_limits l;
    size_t accepted;
};

static int limits_set_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct limits_set_ctx *a = ctx;
    uint8_t b[8];
    int rc;

    a->accepted = 0;
    kn_be64_put(b, a->l.max_file);
    if ((rc = put(txn, s->db.settings, SET_MAX_FILE, strlen(SET_MAX_FILE), b, 8)) < 0)
        return rc;
    kn_be64_put(b, a->l.quota);
    if ((rc = put(txn, s->db.settings, SET_QUOTA, strlen(SET_QUOTA), b, 8)) < 0)
        return rc;
    return reevaluate(s, txn, NULL, &a->l, false, &a->accepted);
}

int kn_blob_limits_set(kn_store *s, const kn_blob_limits *l, size_t *accepted)
{
    if (!s || !l || l->max_file == 0 || l->max_file > KN_BLOB_SIZE_MAX)
        return KN_EINVAL;
    struct limits_set_ctx a = { *l, 0 };
    int rc = kn_store_write(s, limits_set_txn, &a);
    if (rc == 0 && accepted)
        *accepted = a.accepted;
    return rc;
}

int kn_blob_policy_get(kn_store *s, kn_blob_policy *p)
{
    uint8_t *v = NULL;
    size_t len = 0;
    if (!s || !p)
        return KN_EINVAL;
    *p = KN_BLOB_EAGER;
    int rc = kn_store_setting_get(s, SET_POLICY, &v, &len);
    if (rc == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (len != 1 || v[0] > KN_BLOB_ON_DEMAND)
        rc = KN_ECORRUPT;
    else
        *p = (kn_blob_policy)v[0];
    free(v);
    return rc;
}

int kn_blob_policy_set(kn_store *s, kn_blob_policy p)
{
    if (!s || (p != KN_BLOB_EAGER && p != KN_BLOB_ON_DEMAND))
        return KN_EINVAL;
    uint8_t b = (uint8_t)p;
    return kn_store_setting_put(s, SET_POLICY, &b, 1);
}

const char *kn_blob_policy_name(kn_blob_policy p)
{
    return p == KN_BLOB_ON_DEMAND ? "on-demand" : "eager";
}

/* ---- queries ---- */

struct info_ctx {
    const uint8_t *id, *council;
    kn_blob_info *info;
};

static int info_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct info_ctx *a = ctx;
    kn_blob_info *in = a->info;
    state_rec st;
    MDB_val v;
    bool accepted;
    kn_blob_admission refusal;
    uint64_t ref_size;
    int rc;

    memset(in, 0, sizeof *in);
    if ((rc = refs_scan(s, txn, a->id, &in->refs, &accepted, &refusal, &ref_size)) < 0)
        return rc;
    rc = state_get(s, txn, a->id, &st);
    if (rc < 0 && rc != KN_ENOTFOUND)
        return rc;
    if (rc == KN_ENOTFOUND && in->refs == 0)
        return KN_ENOTFOUND;
    if (rc == 0) {
        in->have_manifest = true;
        in->size = st.size;
        in->nchunks = st.nchunks;
        in->present = st.present;
        in->complete = st.present == st.nchunks;
    } else {
        in->size = ref_size;
        in->nchunks = ref_size <= KN_BLOB_SIZE_MAX ? kn_blob_nchunks(ref_size) : 0;
    }
    rc = get(txn, s->db.blob_wanted, a->id, KN_BLOB_ID, &v);
    if (rc == 0) {
        if (v.mv_size != WANT_REC)
            return KN_ECORRUPT;
        in->wanted = true;
        in->requested_ms = kn_be64_get((const uint8_t *)v.mv_data + 8);
    } else if (rc != KN_ENOTFOUND) {
        return rc;
    }
    if (a->council) {
        council_rec cr;
        rc = council_get(s, txn, a->council, a->id, &cr);
        if (rc < 0 && rc != KN_ENOTFOUND)
            return rc;
        in->admission = rc == 0 ? cr.adm : KN_BLOB_NOREF;
    } else {
        in->admission = accepted ? KN_BLOB_ACCEPTED : refusal;
    }
    return 0;
}

int kn_blob_info_get(
    kn_store *s, const uint8_t id[KN_BLOB_ID], const uint8_t *council, kn_blob_info *info)
{
    if (!s || !id || !info)
        return KN_EINVAL;
    struct info_ctx a = { id, council, info };
    return in_read(s, info_txn, &a);
}

int kn_blob_is_complete(kn_store *s, const uint8_t id[KN_BLOB_ID])
{
    kn_blob_info in;
    if (kn_blob_info_get(s, id, NULL, &in) < 0)
        return 0;
    return in.complete ? 1 : 0;
}

struct council_ctx {
    const uint8_t *author;
    uint8_t *council;
};

static int council_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct council_ctx *a = ctx;
    return council_of(s, txn, a->author, a->council);
}

int kn_blob_council_of(kn_store *s, const uint8_t author[KN_KEY], uint8_t council[KN_KEY])
{
    if (!s || !author || !council)
        return KN_EINVAL;
    struct council_ctx a = { author, council };
    return in_read(s, council_txn, &a);
}

struct usage_ctx {
    const uint8_t *council, *id;
    uint64_t size, used;
    kn_blob_limits l;
};

static int usage_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct usage_ctx *a = ctx;
    return usage_get(s, txn, a->council, &a->used);
}

int kn_blob_usage(kn_store *s, const uint8_t council[KN_KEY], uint64_t *bytes)
{
    if (!s || !council || !bytes)
        return KN_EINVAL;
    struct usage_ctx a = { .council = council };
    int rc = in_read(s, usage_txn, &a);
    *bytes = a.used;
    return rc;
}

static int admit_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct usage_ctx *a = ctx;
    council_rec cr;
    int rc;
    if ((rc = limits_read(s, txn, &a->l)) < 0 || (rc = usage_get(s, txn, a->council, &a->used)) < 0)
        return rc;
    rc = council_get(s, txn, a->council, a->id, &cr);
    if (rc == 0 && cr.adm == KN_BLOB_ACCEPTED)
        return 0;
    if (rc < 0 && rc != KN_ENOTFOUND)
        return rc;
    if (a->size > a->l.max_file)
        return KN_ETOOBIG;
    if (a->l.quota && (a->size > a->l.quota || a->used > a->l.quota - a->size))
        return KN_EQUOTA;
    return 0;
}

int kn_blob_admit_check(kn_store *s, const uint8_t council[KN_KEY], const uint8_t id[KN_BLOB_ID],
    uint64_t size, uint64_t *usage, kn_blob_limits *limits)
{
    if (!s || !council || !id)
        return KN_EINVAL;
    struct usage_ctx a = { .council = council, .id = id, .size = size };
    int rc = in_read(s, admit_txn, &a);
    if (usage)
        *usage = a.used;
    if (limits)
        *limits = a.l;
    return rc;
}

/* ---- manifests ---- */

struct manifest_ctx {
    const uint8_t *id;
    uint64_t size;
    const uint8_t *hashes;
    uint32_t n;
    uint64_t staged_ms; /* 0: from a peer, needs an accepted reference */
    int result; /* kn_blob_put_result (kn_store_write returns 0 on a commit) */
};

/* Is there an accepted reference to id whose doc gives this size? */
static int accepted_with_size(
    kn_store *s, MDB_txn *txn, const uint8_t id[KN_BLOB_ID], uint64_t size)
{
    MDB_cursor *c = NULL;
    uint8_t start[REF_KEY];
    bool any = false, any_accepted = false;
    int rc;

    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_refs, &c))) < 0)
        return rc;
    memcpy(start, id, KN_BLOB_ID);
    memset(start + KN_BLOB_ID, 0, KN_ID);
    MDB_val k = { sizeof start, start }, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        council_rec cr;
        if (!prefixed(&k, id, KN_BLOB_ID))
            break;
        if (v.mv_size != REF_REC) {
            rc = KN_ECORRUPT;
            goto out;
        }
        any = true;
        if ((rc = council_get(s, txn, v.mv_data, id, &cr)) < 0)
            goto out;
        if (cr.adm != KN_BLOB_ACCEPTED)
            continue;
        any_accepted = true;
        if (kn_be64_get((const uint8_t *)v.mv_data + KN_KEY) == size) {
            rc = 0;
            goto out;
        }
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(rc);
        goto out;
    }
    rc = !any ? KN_ENOTFOUND : !any_accepted ? KN_EQUOTA : KN_EINVAL;
out:
    mdb_cursor_close(c);
    return rc;
}

/*
 * A manifest that matches the blob id proves how many chunks the blob has
 * (nobody can find another hash list with the same id), though not the exact
 * size within the last chunk. A council's accepted reference whose size
 * calls for another number of chunks can therefore never complete: it is
 * marked invalid, its bytes leave the council's usage, and the blob leaves
 * the wanted list unless another reference still fits. This keeps a doc
 * with a wrong size from being fetched from peer after peer forever.
 */
static int invalidate_sizes(kn_store *s, MDB_txn *txn, const uint8_t id[KN_BLOB_ID], uint32_t n)
{
    MDB_cursor *c = NULL;
    uint8_t start[REF_KEY], (*councils)[KN_KEY] = NULL;
    size_t nc = 0, cap = 0;
    int rc;

    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_refs, &c))) < 0)
        return rc;
    memcpy(start, id, KN_BLOB_ID);
    memset(start + KN_BLOB_ID, 0, KN_ID);
    MDB_val k = { sizeof start, start }, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && prefixed(&k, id, KN_BLOB_ID);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (v.mv_size != REF_REC) {
            rc = KN_ECORRUPT;
            goto out;
        }
        if (nc == cap) {
            void *nn = kn_grow(councils, &cap, 8, KN_KEY);
            if (!nn) {
                rc = KN_ENOMEM;
                goto out;
            }
            councils = nn;
        }
        memcpy(councils[nc++], v.mv_data, KN_KEY); /* copied: the writes below move pages */
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(rc);
        goto out;
    }
    mdb_cursor_close(c);
    c = NULL;
    rc = 0;
    for (size_t i = 0; i < nc; i++) {
        council_rec cr;
        if ((rc = council_get(s, txn, councils[i], id, &cr)) < 0)
            goto out;
        if (cr.adm != KN_BLOB_ACCEPTED || kn_blob_nchunks(cr.size) == n)
            continue;
        cr.adm = KN_BLOB_REFUSED_INVALID;
        if ((rc = council_put(s, txn, councils[i], id, &cr)) < 0
            || (rc = usage_add(s, txn, councils[i], cr.size, true)) < 0)
            goto out;
    }
    rc = settle(s, txn, id);
out:
    mdb_cursor_close(c);
    free(councils);
    return rc;
}

static int manifest_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct manifest_ctx *a = ctx;
    state_rec st;
    MDB_val k = { KN_BLOB_ID, (void *)a->id }, v;
    int rc = state_get(s, txn, a->id, &st);

    a->result = KN_BLOB_DUPLICATE;
    if (rc == 0) {
        if (a->staged_ms && st.staged_ms != a->staged_ms) {
            st.staged_ms = a->staged_ms;
            if ((rc = state_put(s, txn, a->id, &st)) < 0)
                return rc;
        }
        return 0;
    }
    if (rc != KN_ENOTFOUND)
        return rc;
    if (!a->staged_ms && (rc = accepted_with_size(s, txn, a->id, a->size)) < 0) {
        if (rc != KN_EINVAL)
            return rc;
        /* Commit what the hash-checked chunk count proves about the docs' sizes. */
        if ((rc = invalidate_sizes(s, txn, a->id, a->n)) < 0)
            return rc;
        a->result = KN_EINVAL;
        return 0;
    }
    size_t len = kn_blob_manifest_len(a->size);
    v.mv_size = len;
    if ((rc = kn_store_mdb_err(mdb_put(txn, s->db.blob_manifest, &k, &v, MDB_RESERVE))) < 0)
        return rc;
    kn_blob_manifest_encode(v.mv_data, a->size, a->hashes, a->n);
    st = (state_rec) { a->n, 0, a->size, 0, a->staged_ms };
    if ((rc = state_put(s, txn, a->id, &st)) < 0)
        return rc;
    if (!a->staged_ms && (rc = settle(s, txn, a->id)) < 0) /* the empty file is complete now */
        return rc;
    a->result = KN_BLOB_STORED;
    return 0;
}

static int manifest_store(kn_store *s, const uint8_t id[KN_BLOB_ID], uint64_t size,
    const uint8_t *hashes, uint32_t n, uint64_t staged_ms)
{
    if (!s || !id || (n && !hashes))
        return KN_EINVAL;
    int rc = kn_blob_manifest_check(size, hashes, n, id);
    if (rc < 0)
        return rc;
    struct manifest_ctx a = { id, size, hashes, n, staged_ms, 0 };
    rc = kn_store_write(s, manifest_txn, &a);
    return rc < 0 ? rc : a.result;
}

int kn_blob_put_manifest(
    kn_store *s, const uint8_t id[KN_BLOB_ID], uint64_t size, const uint8_t *hashes, uint32_t n)
{
    return manifest_store(s, id, size, hashes, n, 0);
}

int kn_blob_stage_manifest(kn_store *s, const uint8_t id[KN_BLOB_ID], uint64_t size,
    const uint8_t *hashes, uint32_t n, uint64_t now_ms)
{
    return manifest_store(s, id, size, hashes, n, now_ms ? now_ms : 1);
}

struct get_manifest_ctx {
    const uint8_t *id;
    uint64_t size;
    uint8_t *hashes;
    uint32_t n;
};

static int get_manifest_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct get_manifest_ctx *a = ctx;
    MDB_val v;
    const uint8_t *h;
    int rc = get(txn, s->db.blob_manifest, a->id, KN_BLOB_ID, &v);
    if (rc < 0)
        return rc;
    if (kn_blob_manifest_parse(v.mv_data, v.mv_size, NULL, &a->size, &h, &a->n) < 0)
        return KN_ECORRUPT;
    if (a->n) {
        if (!(a->hashes = malloc((size_t)a->n * KN_BLOB_HASH)))
            return KN_ENOMEM;
        memcpy(a->hashes, h, (size_t)a->n * KN_BLOB_HASH);
    }
    return 0;
}

int kn_blob_get_manifest(
    kn_store *s, const uint8_t id[KN_BLOB_ID], uint64_t *size, uint8_t **hashes, uint32_t *n)
{
    if (!s || !id || !size || !hashes || !n)
        return KN_EINVAL;
    struct get_manifest_ctx a = { id, 0, NULL, 0 };
    int rc = in_read(s, get_manifest_txn, &a);
    *size = rc == 0 ? a.size : 0;
    *hashes = rc == 0 ? a.hashes : NULL;
    *n = rc == 0 ? a.n : 0;
    if (rc < 0)
        free(a.hashes);
    return rc;
}

/* ---- chunks ---- */

struct chunks_ctx {
    const kn_blob_chunk_in *c;
    size_t n;
    const uint8_t (*hash)[KN_BLOB_HASH];
    int *results;
    bool bg; /* kn_blob_put_batch_bg: a blob completing with text to index is KN_EBUSY */
};

static int chunk_one(
    kn_store *s, MDB_txn *txn, const kn_blob_chunk_in *c, const uint8_t *hash, bool bg)
{
    state_rec st;
    MDB_val v;
    uint8_t key[CHUNK_KEY];
    int rc = state_get(s, txn, c->blob, &st);

    if (rc < 0)
        return rc;
    if (c->index >= st.nchunks || c->len != kn_blob_chunk_len(st.size, c->index))
        return KN_EINVAL;
    if ((rc = get(txn, s->db.blob_manifest, c->blob, KN_BLOB_ID, &v)) < 0)
        return rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
    if (v.mv_size != kn_blob_manifest_len(st.size))
        return KN_ECORRUPT;
    const uint8_t *want
        = (const uint8_t *)v.mv_data + KN_BLOB_MANIFEST_HDR + (size_t)c->index * KN_BLOB_HASH;
    if (kn_memcmp_ct(want, hash, KN_BLOB_HASH) != 0)
        return KN_EHASH;
    memcpy(key, c->blob, KN_BLOB_ID);
    be32_put(key + KN_BLOB_ID, c->index);
    MDB_val k = { sizeof key, key }, d = { c->len, (void *)c->data };
    rc = mdb_put(txn, s->db.blob_chunks, &k, &d, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST)
        return KN_BLOB_DUPLICATE;
    if (rc)
        return kn_store_mdb_err(rc);
    st.present++;
    st.bytes += c->len;
    if ((rc = state_put(s, txn, c->blob, &st)) < 0)
        return rc;
    if (st.present == st.nchunks && bg && (rc = kn_search_blob_wants_text(s, txn, c->blob)) != 0)
        return rc < 0 ? rc : KN_EBUSY; /* the owner thread stores this batch */
    if (st.present == st.nchunks
        && ((rc = del(txn, s->db.blob_wanted, c->blob, KN_BLOB_ID)) < 0
            || (!bg && (rc = kn_search_blob_complete(s, txn, c->blob)) < 0))) /* text files */
        return rc;
    return KN_BLOB_STORED;
}

static int chunks_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct chunks_ctx *a = ctx;
    for (size_t i = 0; i < a->n; i++) {
        int rc = chunk_one(s, txn, &a->c[i], a->hash[i], a->bg);
        if (rc < 0 && rc != KN_ENOTFOUND && rc != KN_EINVAL && rc != KN_EHASH)
            return rc;
        a->results[i] = rc;
    }
    return 0;
}

int kn_blob_put_chunks(kn_store *s, const kn_blob_chunk_in *c, size_t n, int *results)
{
    if (!s || (n && (!c || !results)) || n > KN_BLOB_BATCH_MAX)
        return KN_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!c[i].blob || (c[i].len && !c[i].data) || c[i].len > KN_BLOB_CHUNK)
            return KN_EINVAL;
    if (n == 0)
        return 0;
    /* Hash before the transaction: kn_store_write may run it twice (map growth). */
    uint8_t(*hash)[KN_BLOB_HASH] = malloc(n * KN_BLOB_HASH);
    if (!hash)
        return KN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (c[i].hash)
            memcpy(hash[i], c[i].hash, KN_BLOB_HASH);
        else
            kn_blob_chunk_hash(hash[i], c[i].data, c[i].len);
    }
    struct chunks_ctx a = { c, n, (const uint8_t(*)[KN_BLOB_HASH])hash, results, false };
    int rc = kn_store_write(s, chunks_txn, &a);
    free(hash);
    return rc;
}

struct batch_ctx {
    const kn_blob_manifest_in *m;
    size_t nm;
    const int *checked; /* kn_blob_manifest_check of each, done before the transaction */
    int *mresults;
    struct chunks_ctx chunks;
};

static int batch_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct batch_ctx *a = ctx;
    for (size_t i = 0; i < a->nm; i++) {
        if (a->checked[i] < 0) {
            a->mresults[i] = a->checked[i];
            continue;
        }
        struct manifest_ctx mc = { a->m[i].blob, a->m[i].size, a->m[i].hashes, a->m[i].n, 0, 0 };
        int rc = manifest_txn(s, txn, &mc);
        if (rc < 0 && rc != KN_ENOTFOUND && rc != KN_EQUOTA && rc != KN_EINVAL)
            return rc;
        a->mresults[i] = rc < 0 ? rc : mc.result;
    }
    return chunks_txn(s, txn, &a->chunks);
}

static int put_batch(kn_store *s, const kn_blob_manifest_in *m, size_t nm, int *mresults,
    const kn_blob_chunk_in *c, size_t nc, int *cresults, bool bg)
{
    if (!s || (nm && (!m || !mresults)) || (nc && (!c || !cresults)) || nm > KN_BLOB_BATCH_MAX
        || nc > KN_BLOB_BATCH_MAX)
        return KN_EINVAL;
    for (size_t i = 0; i < nc; i++)
        if (!c[i].blob || (c[i].len && !c[i].data) || c[i].len > KN_BLOB_CHUNK)
            return KN_EINVAL;
    for (size_t i = 0; i < nm; i++)
        if (!m[i].blob || (m[i].n && !m[i].hashes))
            return KN_EINVAL;
    if (nm == 0 && nc == 0)
        return 0;
    /* Check and hash before the transaction: kn_store_write may run it twice (map growth). */
    int *checked = malloc(nm * sizeof *checked + 1);
    uint8_t(*hash)[KN_BLOB_HASH] = malloc(nc * KN_BLOB_HASH + 1);
    int rc = checked && hash ? 0 : KN_ENOMEM;
    for (size_t i = 0; rc == 0 && i < nm; i++)
        checked[i] = kn_blob_manifest_check(m[i].size, m[i].hashes, m[i].n, m[i].blob);
    for (size_t i = 0; rc == 0 && i < nc; i++) {
        if (c[i].hash)
            memcpy(hash[i], c[i].hash, KN_BLOB_HASH);
        else
            kn_blob_chunk_hash(hash[i], c[i].data, c[i].len);
    }
    struct batch_ctx a = { m, nm, checked, mresults,
        { c, nc, (const uint8_t(*)[KN_BLOB_HASH])hash, cresults, bg } };
    if (rc == 0)
        rc = bg ? kn_store_write_bg(s, batch_txn, &a) : kn_store_write(s, batch_txn, &a);
    free(checked);
    free(hash);
    return rc;
}

int kn_blob_put_batch(kn_store *s, const kn_blob_manifest_in *m, size_t nm, int *mresults,
    const kn_blob_chunk_in *c, size_t nc, int *cresults)
{
    return put_batch(s, m, nm, mresults, c, nc, cresults, false);
}

int kn_blob_put_batch_bg(kn_store *s, const kn_blob_manifest_in *m, size_t nm, int *mresults,
    const kn_blob_chunk_in *c, size_t nc, int *cresults)
{
    return put_batch(s, m, nm, mresults, c, nc, cresults, true);
}

int kn_blob_put_chunk(
    kn_store *s, const uint8_t id[KN_BLOB_ID], uint32_t index, const uint8_t *data, uint32_t len)
{
    kn_blob_chunk_in c = { id, index, data, len, NULL };
    int res = 0;
    int rc = kn_blob_put_chunks(s, &c, 1, &res);
    return rc < 0 ? rc : res;
}

struct kn_blob_reader {
    kn_store *s;
    MDB_txn *txn;
};

int kn_blob_reader_open(kn_store *s, kn_blob_reader **r)
{
    if (!s || !r)
        return KN_EINVAL;
    *r = calloc(1, sizeof **r);
    if (!*r)
        return KN_ENOMEM;
    (*r)->s = s;
    int rc = kn_store_read_begin(s, &(*r)->txn);
    if (rc < 0) {
        free(*r);
        *r = NULL;
    }
    return rc;
}

int kn_blob_reader_chunk(kn_blob_reader *r, const uint8_t id[KN_BLOB_ID], uint32_t index,
    const uint8_t **data, uint32_t *len)
{
    uint8_t key[CHUNK_KEY];
    MDB_val v;
    if (!r || !id || !data || !len)
        return KN_EINVAL;
    memcpy(key, id, KN_BLOB_ID);
    be32_put(key + KN_BLOB_ID, index);
    int rc = get(r->txn, r->s->db.blob_chunks, key, sizeof key, &v);
    if (rc < 0)
        return rc;
    if (v.mv_size > KN_BLOB_CHUNK || v.mv_size == 0)
        return KN_ECORRUPT;
    *data = v.mv_data;
    *len = (uint32_t)v.mv_size;
    return 0;
}

void kn_blob_reader_close(kn_blob_reader *r)
{
    if (!r)
        return;
    mdb_txn_abort(r->txn);
    free(r);
}

int kn_blob_get_chunk(kn_store *s, const uint8_t id[KN_BLOB_ID], uint32_t index,
    uint8_t buf[KN_BLOB_CHUNK], uint32_t *len)
{
    kn_blob_reader *r;
    const uint8_t *p;
    if (!buf || !len)
        return KN_EINVAL;
    *len = 0;
    int rc = kn_blob_reader_open(s, &r);
    if (rc < 0)
        return rc;
    if ((rc = kn_blob_reader_chunk(r, id, index, &p, len)) == 0)
        memcpy(buf, p, *len);
    kn_blob_reader_close(r);
    return rc;
}

struct missing_ctx {
    const uint8_t *id;
    uint32_t from;
    uint32_t *out;
    size_t max, n;
};

static int missing_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct missing_ctx *a = ctx;
    MDB_cursor *c = NULL;
    state_rec st;
    uint8_t start[CHUNK_KEY];
    int rc;

    a->n = 0;
    if ((rc = state_get(s, txn, a->id, &st)) < 0)
        return rc;
    if (st.present == st.nchunks || a->from >= st.nchunks || a->max == 0)
        return 0;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_chunks, &c))) < 0)
        return rc;
    memcpy(start, a->id, KN_BLOB_ID);
    be32_put(start + KN_BLOB_ID, a->from);
    uint32_t next = a->from; /* the first index not yet accounted for */
    MDB_val k = { sizeof start, start }, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && a->n < a->max;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (!prefixed(&k, a->id, KN_BLOB_ID))
            break;
        if (k.mv_size != CHUNK_KEY) {
            rc = KN_ECORRUPT;
            goto out;
        }
        uint32_t idx = be32_get((const uint8_t *)k.mv_data + KN_BLOB_ID);
        if (idx >= st.nchunks) {
            rc = KN_ECORRUPT;
            goto out;
        }
        for (; next < idx && a->n < a->max; next++)
            a->out[a->n++] = next;
        if (next == idx)
            next = idx + 1;
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(rc);
        goto out;
    }
    for (; next < st.nchunks && a->n < a->max; next++)
        a->out[a->n++] = next;
    rc = 0;
out:
    mdb_cursor_close(c);
    return rc;
}

int kn_blob_missing(
    kn_store *s, const uint8_t id[KN_BLOB_ID], uint32_t from, uint32_t *out, size_t max, size_t *n)
{
    if (!s || !id || (max && !out) || !n)
        return KN_EINVAL;
    struct missing_ctx a = { id, from, out, max, 0 };
    int rc = in_read(s, missing_txn, &a);
    *n = rc == 0 ? a.n : 0;
    return rc;
}

struct present_ctx {
    const uint8_t *id;
    uint8_t *bits;
    uint32_t n;
};

static int present_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct present_ctx *a = ctx;
    MDB_cursor *c = NULL;
    uint8_t start[CHUNK_KEY];
    int rc;

    memset(a->bits, 0, ((size_t)a->n + 7) / 8);
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_chunks, &c))) < 0)
        return rc;
    memcpy(start, a->id, KN_BLOB_ID);
    memset(start + KN_BLOB_ID, 0, 4);
    MDB_val k = { sizeof start, start }, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (!prefixed(&k, a->id, KN_BLOB_ID))
            break;
        if (k.mv_size != CHUNK_KEY) {
            rc = KN_ECORRUPT;
            break;
        }
        uint32_t i = be32_get((const uint8_t *)k.mv_data + KN_BLOB_ID);
        if (i >= a->n)
            break;
        a->bits[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc < 0 ? rc : kn_store_mdb_err(rc);
}

int kn_blob_present(kn_store *s, const uint8_t id[KN_BLOB_ID], uint8_t *bits, uint32_t n)
{
    if (!s || !id || (n && !bits))
        return KN_EINVAL;
    struct present_ctx a = { id, bits, n };
    return n ? in_read(s, present_txn, &a) : 0;
}

/* ---- the wanted list ---- */

struct wanted_ctx {
    const uint8_t *after;
    kn_blob_want *out;
    size_t max, n;
};

static int wanted_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct wanted_ctx *a = ctx;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc;

    a->n = 0;
    if (a->max == 0)
        return 0;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_wanted, &c))) < 0)
        return rc;
    if (a->after) {
        k = (MDB_val) { KN_BLOB_ID, (void *)a->after };
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == KN_BLOB_ID && memcmp(k.mv_data, a->after, KN_BLOB_ID) == 0)
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    } else {
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    }
    for (; rc == 0 && a->n < a->max; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kn_blob_want *w = &a->out[a->n];
        state_rec st;
        if (k.mv_size != KN_BLOB_ID || v.mv_size != WANT_REC) {
            rc = KN_ECORRUPT;
            goto out;
        }
        memset(w, 0, sizeof *w);
        memcpy(w->id, k.mv_data, KN_BLOB_ID);
        w->size = kn_be64_get(v.mv_data);
        w->requested_ms = kn_be64_get((const uint8_t *)v.mv_data + 8);
        int src = state_get(s, txn, w->id, &st);
        if (src == 0) {
            w->have_manifest = true;
            w->size = st.size;
            w->nchunks = st.nchunks;
            w->present = st.present;
        } else if (src == KN_ENOTFOUND) {
            w->nchunks = w->size <= KN_BLOB_SIZE_MAX ? kn_blob_nchunks(w->size) : 0;
        } else {
            rc = src;
            goto out;
        }
        a->n++;
    }
    rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(rc);
out:
    mdb_cursor_close(c);
    return rc;
}

int kn_blob_wanted(kn_store *s, const uint8_t *after, kn_blob_want *out, size_t max, size_t *n)
{
    if (!s || (max && !out) || !n)
        return KN_EINVAL;
    struct wanted_ctx a = { after, out, max, 0 };
    int rc = in_read(s, wanted_txn, &a);
    *n = rc == 0 ? a.n : 0;
    return rc;
}

struct wcount_ctx {
    uint64_t wanted, requested;
};

static int wanted_count_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct wcount_ctx *a = ctx;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_wanted, &c))) < 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (v.mv_size != WANT_REC) {
            rc = KN_ECORRUPT;
            break;
        }
        a->wanted++;
        if (kn_be64_get((const uint8_t *)v.mv_data + 8))
            a->requested++;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc < 0 ? rc : kn_store_mdb_err(rc);
}

int kn_blob_wanted_count(kn_store *s, uint64_t *wanted, uint64_t *requested)
{
    if (!s)
        return KN_EINVAL;
    struct wcount_ctx a = { 0, 0 };
    int rc = in_read(s, wanted_count_txn, &a);
    if (wanted)
        *wanted = a.wanted;
    if (requested)
        *requested = a.requested;
    return rc;
}

struct request_ctx {
    const uint8_t *id;
    uint64_t now;
};

static int request_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct request_ctx *a = ctx;
    MDB_val v;
    uint8_t w[WANT_REC];
    int rc = get(txn, s->db.blob_wanted, a->id, KN_BLOB_ID, &v);
    if (rc < 0)
        return rc;
    if (v.mv_size != WANT_REC)
        return KN_ECORRUPT;
    memcpy(w, v.mv_data, WANT_REC);
    kn_be64_put(w + 8, a->now ? a->now : 1);
    return put(txn, s->db.blob_wanted, a->id, KN_BLOB_ID, w, sizeof w);
}

int kn_blob_request(kn_store *s, const uint8_t id[KN_BLOB_ID], uint64_t now_ms)
{
    if (!s || !id)
        return KN_EINVAL;
    struct request_ctx a = { id, now_ms };
    return kn_store_write(s, request_txn, &a);
}

/* ---- removal ---- */

static int purge_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    const uint8_t *id = ctx;
    int rc = purge_data(s, txn, id);
    return rc < 0 ? rc : settle(s, txn, id);
}

int kn_blob_purge(kn_store *s, const uint8_t id[KN_BLOB_ID])
{
    if (!s || !id)
        return KN_EINVAL;
    return kn_store_write(s, purge_txn, (void *)id);
}

struct gc_ctx {
    uint64_t now, max_age;
    size_t purged;
};

static int gc_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct gc_ctx *a = ctx;
    MDB_cursor *c = NULL;
    uint8_t(*ids)[KN_BLOB_ID] = NULL;
    size_t n = 0, cap = 0;
    MDB_val k, v;
    int rc;

    a->purged = 0;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_state, &c))) < 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint32_t nrefs;
        bool accepted;
        state_rec st;
        if (k.mv_size != KN_BLOB_ID) {
            rc = KN_ECORRUPT;
            goto out;
        }
        if ((rc = state_get(s, txn, k.mv_data, &st)) < 0
            || (rc = refs_scan(s, txn, k.mv_data, &nrefs, &accepted, NULL, NULL)) < 0)
            goto out;
        if (nrefs)
            continue;
        if (st.staged_ms && st.staged_ms <= a->now && a->now - st.staged_ms < a->max_age)
            continue;
        if (n == cap) {
            void *ni = kn_grow(ids, &cap, 16, KN_BLOB_ID);
            if (!ni) {
                rc = KN_ENOMEM;
                goto out;
            }
            ids = ni;
        }
        memcpy(ids[n++], k.mv_data, KN_BLOB_ID);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(rc);
        goto out;
    }
    mdb_cursor_close(c);
    c = NULL;
    for (size_t i = 0; i < n; i++)
        if ((rc = purge_data(s, txn, ids[i])) < 0)
            goto out;
    a->purged = n;
    rc = 0;
out:
    mdb_cursor_close(c);
    free(ids);
    return rc;
}

int kn_blob_gc(kn_store *s, uint64_t now_ms, uint64_t max_age_ms, size_t *purged)
{
    if (!s)
        return KN_EINVAL;
    struct gc_ctx a = { now_ms, max_age_ms, 0 };
    int rc = kn_store_write(s, gc_txn, &a);
    if (purged)
        *purged = rc == 0 ? a.purged : 0;
    return rc;
}

static int stats_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    kn_blob_stats *st = ctx;
    MDB_stat ms;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc;

    memset(st, 0, sizeof *st);
    if ((rc = kn_store_mdb_err(mdb_stat(txn, s->db.blob_chunks, &ms))) < 0)
        return rc;
    st->chunks = ms.ms_entries;
    if ((rc = kn_store_mdb_err(mdb_stat(txn, s->db.blob_wanted, &ms))) < 0)
        return rc;
    st->wanted = ms.ms_entries;
    if ((rc = kn_store_mdb_err(mdb_stat(txn, s->db.blob_refs, &ms))) < 0)
        return rc;
    st->refs = ms.ms_entries;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_state, &c))) < 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        state_rec r;
        if (k.mv_size != KN_BLOB_ID || (rc = state_get(s, txn, k.mv_data, &r)) < 0) {
            rc = KN_ECORRUPT;
            break;
        }
        st->blobs++;
        st->complete += r.present == r.nchunks;
        st->chunk_bytes += r.bytes;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc < 0 ? rc : kn_store_mdb_err(rc);
}

int kn_blob_stats_get(kn_store *s, kn_blob_stats *st)
{
    if (!s || !st)
        return KN_EINVAL;
    return in_read(s, stats_txn, st);
}

/* ---- consistency check (kn_store_check, check.c) ---- */

typedef struct cref {
    uint8_t key[COUNCIL_KEY]; /* council, blob */
} cref;

static int cref_cmp(const void *a, const void *b)
{
    return memcmp(a, b, COUNCIL_KEY);
}

/* Each state: its manifest, and the chunks under it counted, measured and hashed. */
static int check_states(kn_store *s, MDB_txn *txn, kn_blob_problem_fn problem, void *pctx)
{
    MDB_cursor *c = NULL, *ch = NULL;
    MDB_val k, v;
    int rc;

    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_state, &c))) < 0
        || (rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_chunks, &ch))) < 0)
        goto out;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint8_t id[KN_BLOB_ID], start[CHUNK_KEY];
        state_rec st;
        MDB_val m, ck, cv, w;
        uint64_t msize, bytes = 0;
        const uint8_t *hashes;
        uint32_t n, count = 0;
        if (k.mv_size != KN_BLOB_ID || state_get(s, txn, k.mv_data, &st) < 0) {
            problem(pctx, "a blob_state record is malformed", NULL);
            continue;
        }
        memcpy(id, k.mv_data, KN_BLOB_ID);
        if (get(txn, s->db.blob_manifest, id, KN_BLOB_ID, &m) < 0
            || kn_blob_manifest_parse(m.mv_data, m.mv_size, id, &msize, &hashes, &n) < 0
            || msize != st.size || n != st.nchunks) {
            problem(pctx, "a blob's manifest is missing or does not match its id and state", id);
            continue;
        }
        memcpy(start, id, KN_BLOB_ID);
        memset(start + KN_BLOB_ID, 0, 4);
        ck = (MDB_val) { sizeof start, start };
        for (int r = mdb_cursor_get(ch, &ck, &cv, MDB_SET_RANGE);
             r == 0 && prefixed(&ck, id, KN_BLOB_ID); r = mdb_cursor_get(ch, &ck, &cv, MDB_NEXT)) {
            uint8_t h[KN_BLOB_HASH];
            uint32_t i = ck.mv_size == CHUNK_KEY
                ? be32_get((const uint8_t *)ck.mv_data + KN_BLOB_ID)
                : UINT32_MAX;
            if (i >= n || cv.mv_size != kn_blob_chunk_len(st.size, i)) {
                problem(pctx, "a chunk has an impossible index or length", id);
                continue;
            }
            kn_blob_chunk_hash(h, cv.mv_data, cv.mv_size);
            if (kn_memcmp_ct(h, hashes + (size_t)i * KN_BLOB_HASH, KN_BLOB_HASH) != 0)
                problem(pctx, "a stored chunk does not match its manifest hash", id);
            count++;
            bytes += cv.mv_size;
        }
        if (count != st.present || bytes != st.bytes)
            problem(pctx, "a blob's state does not count its stored chunks", id);
        if (st.present == st.nchunks && get(txn, s->db.blob_wanted, id, KN_BLOB_ID, &w) == 0)
            problem(pctx, "a complete blob is on the wanted list", id);
    }
    rc = rc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(rc);
    /* Chunks of a blob without state (a purge that left some behind). */
    uint8_t last[KN_BLOB_ID];
    bool have_last = false;
    for (int r = mdb_cursor_get(ch, &k, &v, MDB_FIRST); rc == 0 && r == 0;
         r = mdb_cursor_get(ch, &k, &v, MDB_NEXT)) {
        MDB_val sv;
        if (k.mv_size != CHUNK_KEY) {
            problem(pctx, "a blob_chunks key is not 36 bytes", NULL);
            continue;
        }
        if (have_last && memcmp(last, k.mv_data, KN_BLOB_ID) == 0)
            continue;
        memcpy(last, k.mv_data, KN_BLOB_ID);
        have_last = true;
        if (get(txn, s->db.blob_state, last, KN_BLOB_ID, &sv) < 0)
            problem(pctx, "chunks are stored for a blob that has no state", last);
    }
out:
    mdb_cursor_close(ch);
    mdb_cursor_close(c);
    return rc;
}

/*
 * References against the docs that make them, the council records against
 * the references, the usage against the accepted records, the wanted list
 * against admission and completeness.
 */
static int check_refs(kn_store *s, MDB_txn *txn, kn_blob_problem_fn problem, void *pctx)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;
    cref *refs = NULL;
    size_t n = 0, cap = 0;
    int rc;

    /* Every live doc's files are referenced. */
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.objects, &c))) < 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kn_object o;
        kn_doc_file f[KN_DOC_FILES_MAX];
        uint32_t nf;
        if (kn_object_decode(&o, v.mv_data, v.mv_size) < 0 || o.type != KN_T_DOC)
            continue; /* undecodable objects are check.c's to report */
        if (kn_doc_files(&o, f, &nf) < 0) {
            problem(pctx, "a stored doc's files cannot be read", o.id);
            continue;
        }
        for (uint32_t i = 0; i < nf; i++) {
            uint8_t rk[REF_KEY];
            MDB_val rv;
            memcpy(rk, f[i].blob, KN_BLOB_ID);
            memcpy(rk + KN_BLOB_ID, o.id, KN_ID);
            if (get(txn, s->db.blob_refs, rk, sizeof rk, &rv) < 0)
                problem(pctx, "a stored doc's file has no blob reference", o.id);
        }
    }
    mdb_cursor_close(c);
    c = NULL;
    if (rc != MDB_NOTFOUND)
        return kn_store_mdb_err(rc);

    /* Every reference names a live doc that lists the blob; collect (council, blob). */
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_refs, &c))) < 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kn_object o;
        kn_doc_file f[KN_DOC_FILES_MAX];
        uint32_t nf = 0;
        bool lists = false;
        if (k.mv_size != REF_KEY || v.mv_size != REF_REC) {
            problem(pctx, "a blob_refs record is malformed", NULL);
            continue;
        }
        const uint8_t *blob = k.mv_data, *doc = blob + KN_BLOB_ID;
        if (kn_store_load(s, txn, s->db.objects, doc, &o) < 0 || o.type != KN_T_DOC
            || kn_doc_files(&o, f, &nf) < 0) {
            problem(pctx, "a blob reference names a doc that is not stored", doc);
            continue;
        }
        for (uint32_t i = 0; i < nf && !lists; i++)
            lists = memcmp(f[i].blob, blob, KN_BLOB_ID) == 0;
        if (!lists)
            problem(pctx, "a blob reference names a doc that does not list the blob", doc);
        if (n == cap) {
            cref *nr = kn_grow(refs, &cap, 256, sizeof *nr);
            if (!nr) {
                rc = KN_ENOMEM;
                goto out;
            }
            refs = nr;
        }
        memcpy(refs[n].key, v.mv_data, KN_KEY);
        memcpy(refs[n].key + KN_KEY, blob, KN_BLOB_ID);
        n++;
    }
    mdb_cursor_close(c);
    c = NULL;
    if (rc != MDB_NOTFOUND)
        goto out;
    if (n > 1)
        qsort(refs, n, sizeof *refs, cref_cmp);

    /* Council records: one per (council, blob) with the number of references; usage; wanted. */
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_council, &c))) < 0)
        goto out;
    size_t at = 0, records = 0;
    uint8_t council[KN_KEY];
    uint64_t used = 0;
    bool have_council = false;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        bool end = rc != 0;
        if (have_council && (end || memcmp(k.mv_data, council, KN_KEY) != 0)) {
            uint64_t stored;
            if (usage_get(s, txn, council, &stored) < 0 || stored != used)
                problem(pctx, "a council's usage is not the sum of its accepted blobs", council);
            used = 0;
        }
        if (end)
            break;
        council_rec r;
        if (k.mv_size != COUNCIL_KEY || council_decode(&v, &r) < 0) {
            problem(pctx, "a blob_council record is malformed", NULL);
            continue;
        }
        records++;
        memcpy(council, k.mv_data, KN_KEY);
        have_council = true;
        const uint8_t *blob = (const uint8_t *)k.mv_data + KN_KEY;
        size_t cnt = 0;
        while (at < n && memcmp(refs[at].key, k.mv_data, COUNCIL_KEY) < 0)
            at++;
        while (at + cnt < n && memcmp(refs[at + cnt].key, k.mv_data, COUNCIL_KEY) == 0)
            cnt++;
        if (cnt != r.count)
            problem(pctx, "a council record does not count its references", blob);
        if (r.adm != KN_BLOB_ACCEPTED)
            continue;
        used += r.size;
        bool complete, have;
        MDB_val w;
        if (complete_in(s, txn, blob, &complete, &have) < 0)
            problem(pctx, "a blob's state is malformed", blob);
        else if (!complete && get(txn, s->db.blob_wanted, blob, KN_BLOB_ID, &w) < 0)
            problem(pctx, "an accepted, incomplete blob is not on the wanted list", blob);
    }
    mdb_cursor_close(c);
    c = NULL;
    if (rc != MDB_NOTFOUND)
        goto out;
    /* Distinct (council, blob) pairs among the references = council records. */
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || memcmp(refs[i].key, refs[i - 1].key, COUNCIL_KEY) != 0;
    if (distinct != records)
        problem(pctx, "blob references and council records disagree", NULL);
    /* Each wanted blob has an accepted reference. */
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_wanted, &c))) < 0)
        goto out;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint32_t nrefs;
        bool accepted;
        if (k.mv_size != KN_BLOB_ID
            || refs_scan(s, txn, k.mv_data, &nrefs, &accepted, NULL, NULL) < 0 || !accepted)
            problem(pctx, "a wanted blob has no accepted reference", k.mv_data);
    }
    rc = 0;
out:
    mdb_cursor_close(c);
    free(refs);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc < 0 ? rc : kn_store_mdb_err(rc);
}

int kn_blob_check(kn_store *s, MDB_txn *txn, kn_blob_problem_fn problem, void *ctx)
{
    int rc = check_states(s, txn, problem, ctx);
    return rc < 0 ? rc : check_refs(s, txn, problem, ctx);
}

/* ---- scrubbing freed pages ---- */

enum {
    SCRUB_ROUND = 4096, /* pages overwritten per write transaction (16 MiB of dirty pages) */
    SCRUB_VAL = 4000, /* a value of this size takes exactly one overflow page of 4 KiB */
};

struct scrub_ctx {
    uint64_t remaining; /* what to write into SET_SCRUB */
    uint32_t pages; /* scratch values to write (round) or delete */
    bool drop; /* delete the scratch values (and SET_SCRUB when remaining is 0) */
};

static void scrub_key(uint8_t *k, uint32_t i)
{
    memcpy(k, SET_SCRUB_PAGE, sizeof SET_SCRUB_PAGE - 1);
    be32_put(k + sizeof SET_SCRUB_PAGE - 1, i);
}

static int scrub_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct scrub_ctx *a = ctx;
    uint8_t k[sizeof SET_SCRUB_PAGE - 1 + 4], v[8];
    for (uint32_t i = 0; i < a->pages; i++) {
        scrub_key(k, i);
        MDB_val mk = { sizeof k, k }, mv = { SCRUB_VAL, NULL };
        int rc = a->drop ? del(txn, s->db.settings, k, sizeof k)
                         : kn_store_mdb_err(mdb_put(txn, s->db.settings, &mk, &mv, MDB_RESERVE));
        if (rc < 0)
            return rc;
        if (!a->drop)
            memset(mv.mv_data, 0, SCRUB_VAL);
    }
    if (a->drop && a->remaining == 0)
        return del(txn, s->db.settings, SET_SCRUB, sizeof SET_SCRUB - 1);
    kn_be64_put(v, a->remaining);
    return put(txn, s->db.settings, SET_SCRUB, sizeof SET_SCRUB - 1, v, sizeof v);
}

/* Pages on LMDB's free list now (the free database, dbi 0, as mdb_stat -f counts them). */
static int free_pages(kn_store *s, uint64_t *n)
{
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc = kn_store_read_begin(s, &txn), mrc;
    *n = 0;
    if (rc < 0)
        return rc;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, 0, &c))) == 0) {
        while ((mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0)
            if (v.mv_size >= sizeof(size_t))
                *n += *(const size_t *)v.mv_data; /* an IDL: its count, then the pages */
        rc = mrc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(mrc);
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return rc;
}

static uint64_t last_page(kn_store *s)
{
    MDB_envinfo info;
    return mdb_env_info(s->env, &info) == 0 ? (uint64_t)info.me_last_pgno : 0;
}

int kn_blob_scrub(kn_store *s, uint64_t max_pages, uint64_t *scrubbed)
{
    MDB_txn *txn;
    MDB_val v;
    uint64_t remaining = 0;
    if (!s || !scrubbed)
        return KN_EINVAL;
    *scrubbed = 0;
    int rc = kn_store_read_begin(s, &txn);
    if (rc < 0)
        return rc;
    rc = get(txn, s->db.settings, SET_SCRUB, sizeof SET_SCRUB - 1, &v);
    if (rc == 0 && v.mv_size == 8)
        remaining = kn_be64_get(v.mv_data);
    mdb_txn_abort(txn);
    if (rc < 0)
        return rc == KN_ENOTFOUND ? 0 : rc;
    struct scrub_ctx a = { remaining, 0, false };
    if (remaining == UINT64_MAX) {
        /*
         * Count, and commit the count: that commit also lets LMDB reuse the
         * pages the purge freed (it reuses what transaction T freed from
         * transaction T + 2 on, when no reader still sees T's snapshot).
         */
        if ((rc = free_pages(s, &a.remaining)) < 0 || (rc = kn_store_write(s, scrub_txn, &a)) < 0)
            return rc;
    }
    while (a.remaining && *scrubbed < max_pages) {
        /*
         * One zero-filled page per value: LMDB takes them from the free list,
         * oldest first, so the purged pages are written over; then the values
         * go (their pages, now zeros, are free again, listed after the others).
         */
        uint64_t before = last_page(s);
        a.pages = a.remaining < SCRUB_ROUND ? (uint32_t)a.remaining : SCRUB_ROUND;
        a.drop = false;
        if ((rc = kn_store_write(s, scrub_txn, &a)) < 0)
            return rc;
        /*
         * The file grew by more than the values' index needs: some free pages
         * could not be reused (a reader still sees them). Count again later.
         */
        bool blocked = last_page(s) - before > 64 + a.pages / 32;
        a.remaining = blocked ? UINT64_MAX : a.remaining - a.pages;
        a.drop = true;
        if ((rc = kn_store_write(s, scrub_txn, &a)) < 0)
            return rc;
        *scrubbed += a.pages;
        if (blocked)
            return KN_EBUSY;
    }
    return a.remaining ? KN_EAGAIN : 0;
}
