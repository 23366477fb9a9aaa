/*
 * Versions of an object (store.h, kn_store_versions): an edit is a new
 * object of the same type by the same author whose previous-version ref
 * (kn_object_previous) names the object it replaces. Following those refs up
 * to the first version and the by_ref index down from it gives every version;
 * the newest by (created, id) is the one to show. Nothing here is stored: it
 * is recomputed from the objects, so it cannot disagree between nodes.
 */
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* o's previous version if it is a genuine one: stored, same type, same author. */
static bool prev_version(kn_store *s, MDB_txn *txn, const kn_object *o, uint8_t prev_id[KN_ID])
{
    const uint8_t *prev = kn_object_previous(o);
    kn_object p;
    if (!prev || kn_store_load(s, txn, s->db.objects, prev, &p) < 0)
        return false;
    if (p.type != o->type || memcmp(p.author, o->author, KN_KEY) != 0)
        return false;
    memcpy(prev_id, prev, KN_ID);
    return true;
}

static bool listed(const kn_versions *v, const uint8_t id[KN_ID])
{
    for (size_t i = 0; i < v->n; i++)
        if (memcmp(v->id[i], id, KN_ID) == 0)
            return true;
    return false;
}

/* Sorts v by (created, id): insertion sort, since KN_VERSIONS_MAX is small. */
static void sort_versions(kn_versions *v)
{
    for (size_t i = 1; i < v->n; i++) {
        uint8_t id[KN_ID];
        uint64_t c = v->created[i];
        memcpy(id, v->id[i], KN_ID);
        size_t j = i;
        while (j > 0
            && (v->created[j - 1] > c
                || (v->created[j - 1] == c && memcmp(v->id[j - 1], id, KN_ID) > 0))) {
            v->created[j] = v->created[j - 1];
            memcpy(v->id[j], v->id[j - 1], KN_ID);
            j--;
        }
        v->created[j] = c;
        memcpy(v->id[j], id, KN_ID);
    }
}

static int versions_txn(kn_store *s, MDB_txn *txn, const uint8_t id[KN_ID], kn_versions *v)
{
    uint8_t cur[KN_ID], prev[KN_ID], author[KN_KEY];
    uint8_t(*kids)[KN_ID] = NULL;
    kn_object o;
    kn_otype type;
    size_t nkids = 0;
    int rc;
    MDB_val k = { KN_ID, (void *)id }, val;

    if (mdb_get(txn, s->db.tombstones, &k, &val) == 0)
        return KN_ERETRACTED;
    if ((rc = kn_store_load(s, txn, s->db.objects, id, &o)) < 0)
        return rc;
    type = o.type;
    memcpy(author, o.author, KN_KEY);

    /* Up to the first version. */
    memcpy(cur, id, KN_ID);
    for (size_t steps = 0;; steps++) {
        if (steps >= KN_VERSIONS_MAX)
            return KN_ELIMIT;
        if ((rc = kn_store_load(s, txn, s->db.objects, cur, &o)) < 0)
            return rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
        if (!prev_version(s, txn, &o, prev))
            break;
        memcpy(cur, prev, KN_ID);
    }

    /* Down from it, breadth first; v itself is the queue. */
    v->n = 1;
    memcpy(v->id[0], cur, KN_ID);
    v->created[0] = o.created;
    for (size_t i = 0; i < v->n; i++) {
        if ((rc = kn_store_ref_ids(s, txn, v->id[i], type, SIZE_MAX, &kids, &nkids)) < 0)
            return rc;
        for (size_t j = 0; j < nkids; j++) {
            kn_object c;
            if ((rc = kn_store_load(s, txn, s->db.objects, kids[j], &c)) < 0) {
                rc = rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
                goto out;
            }
            const uint8_t *p = kn_object_previous(&c);
            if (!p || memcmp(p, v->id[i], KN_ID) != 0 || memcmp(c.author, author, KN_KEY) != 0
                || listed(v, c.id))
                continue; /* a reply, or somebody else's object pointing here */
            if (v->n == KN_VERSIONS_MAX) {
                rc = KN_ELIMIT;
                goto out;
            }
            memcpy(v->id[v->n], c.id, KN_ID);
            v->created[v->n++] = c.created;
        }
        free(kids);
        kids = NULL;
    }
    sort_versions(v);
    for (v->self = 0; v->self < v->n; v->self++)
        if (memcmp(v->id[v->self], id, KN_ID) == 0)
            break;
    rc = v->self < v->n ? 0 : KN_ECORRUPT;
out:
    free(kids);
    return rc;
}

int kn_store_versions(kn_store *s, const uint8_t id[KN_ID], kn_versions *v)
{
    MDB_txn *txn = NULL;
    int rc;

    if (!s || !id || !v)
        return KN_EINVAL;
    memset(v, 0, sizeof *v);
    if ((rc = kn_store_read_begin(s, &txn)) < 0)
        return rc;
    rc = versions_txn(s, txn, id, v);
    mdb_txn_abort(txn);
    if (rc < 0)
        memset(v, 0, sizeof *v);
    return rc;
}
