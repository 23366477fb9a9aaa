/*
 * Poll tallies and RSVP counts (store.h). Both read the by_ref index of the
 * poll or event, and both are pure functions of the stored set: every ballot
 * is keyed by its voter (a user, or the user's council when the poll counts
 * per council) and only the greatest (created, id) per voter counts. Sorting
 * by that key, rather than trusting any iteration or arrival order, is what
 * makes every node compute the same result from the same objects.
 *
 * A voter's council is the node that certified the user (the users
 * database), which every node derives the same from the roster.
 */
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "store_impl.h"

/* A ballot or an RSVP as read: who, when, which, what. */
typedef struct entry {
    uint8_t unit[KN_KEY]; /* what counts once: the user, or the council */
    uint8_t user[KN_KEY];
    uint8_t node[KN_KEY];
    uint8_t id[KN_ID];
    uint64_t created;
    uint32_t value; /* choices bitmask, or rsvp status */
} entry;

/* (unit, created, id): the last entry of each unit is the one that counts. */
static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = memcmp(x->unit, y->unit, KN_KEY);
    if (c)
        return c;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return memcmp(x->id, y->id, KN_ID);
}

/* The node that certified user key (users record: node(32) cert(32) revoked_at(8)). */
static int user_node(kn_store *s, MDB_txn *txn, const uint8_t key[KN_KEY], uint8_t node[KN_KEY])
{
    MDB_val k = { KN_KEY, (void *)key }, v;
    int rc = mdb_get(txn, s->db.users, &k, &v);
    if (rc)
        return kn_store_mdb_err(rc);
    if (v.mv_size != KN_KEY + KN_ID + 8)
        return KN_ECORRUPT;
    memcpy(node, v.mv_data, KN_KEY);
    return 0;
}

typedef struct entries {
    entry *e;
    size_t n, cap;
} entries;

static entry *entries_add(entries *es)
{
    if (es->n == es->cap) {
        entry *ne = kn_grow(es->e, &es->cap, 32, sizeof *ne);
        if (!ne)
            return NULL;
        es->e = ne;
    }
    entry *e = &es->e[es->n++];
    memset(e, 0, sizeof *e);
    return e;
}

/*
 * Reads every object of `type` referring to target into es, with its author
 * and the author's council. read() fills the value and may skip an object
 * (returns 1). Objects whose author is no user are skipped: ingest refuses
 * them, so they can only be objects from before that rule.
 */
static int read_entries(kn_store *s, MDB_txn *txn, const uint8_t target[KN_ID], kn_otype type,
    bool per_node, int (*read)(const kn_object *o, void *ctx, uint32_t *value), void *ctx,
    entries *es)
{
    uint8_t(*ids)[KN_ID] = NULL;
    size_t n = 0;
    int rc = kn_store_ref_ids(s, txn, target, type, KN_TALLY_BALLOTS_MAX, &ids, &n);
    for (size_t i = 0; i < n && rc >= 0; i++) {
        kn_object o;
        uint8_t node[KN_KEY];
        uint32_t value = 0;
        if ((rc = kn_store_load(s, txn, s->db.objects, ids[i], &o)) < 0) {
            rc = rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
            break;
        }
        if ((rc = read(&o, ctx, &value)) != 0) {
            rc = rc > 0 ? 0 : rc;
            continue;
        }
        if ((rc = user_node(s, txn, o.author, node)) == KN_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        if (es->n == KN_TALLY_BALLOTS_MAX) {
            rc = KN_ELIMIT;
            break;
        }
        entry *e = entries_add(es);
        if (!e) {
            rc = KN_ENOMEM;
            break;
        }
        memcpy(e->unit, per_node ? node : o.author, KN_KEY);
        memcpy(e->user, o.author, KN_KEY);
        memcpy(e->node, node, KN_KEY);
        memcpy(e->id, o.id, KN_ID);
        e->created = o.created;
        e->value = value;
    }
    free(ids);
    return rc;
}

/*
 * Sorts es and keeps the last entry of each unit, compacted to the front, in
 * (node, user) order for display. Returns the number kept.
 */
static int node_user_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = memcmp(x->node, y->node, KN_KEY);
    return c ? c : memcmp(x->user, y->user, KN_KEY);
}

static size_t latest_per_unit(entries *es)
{
    size_t k = 0;
    if (es->n == 0)
        return 0;
    qsort(es->e, es->n, sizeof *es->e, entry_cmp);
    for (size_t i = 0; i < es->n; i++)
        if (i + 1 == es->n || memcmp(es->e[i].unit, es->e[i + 1].unit, KN_KEY) != 0)
            es->e[k++] = es->e[i];
    qsort(es->e, k, sizeof *es->e, node_user_cmp);
    return k;
}

/* ---- polls ---- */

typedef struct poll_ctx {
    uint64_t deadline;
    uint32_t noptions;
    uint64_t ballots;
} poll_ctx;

static int read_ballot(const kn_object *o, void *arg, uint32_t *value)
{
    poll_ctx *p = arg;
    kn_mp_in in;
    uint32_t n;
    uint64_t c;
    if (o->created > p->deadline)
        return 1; /* ingest refuses these; a store from before that rule might hold one */
    if (kn_object_field(o, "choices", &in) < 0 || kn_mp_read_array(&in, &n) < 0)
        return KN_ECORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        if (kn_mp_read_uint(&in, &c) < 0)
            return KN_ECORRUPT;
        if (c >= p->noptions)
            return 1;
        *value |= 1u << c;
    }
    p->ballots++;
    return 0;
}

static int tally_txn(kn_store *s, MDB_txn *txn, const uint8_t poll[KN_ID], kn_poll_tally *t)
{
    kn_object o;
    kn_mp_in in;
    const char *count;
    uint32_t clen;
    entries es = { 0 };
    poll_ctx pc = { 0 };
    MDB_val k = { KN_ID, (void *)poll }, v;
    int rc;

    if (mdb_get(txn, s->db.tombstones, &k, &v) == 0)
        return KN_ERETRACTED;
    if ((rc = kn_store_load(s, txn, s->db.objects, poll, &o)) < 0)
        return rc;
    if (o.type != KN_T_POLL)
        return KN_EINVAL;
    if (kn_object_uint(&o, "deadline", &t->deadline) < 0
        || kn_object_str(&o, "count", &count, &clen) < 0 || kn_object_field(&o, "multiple", &in) < 0
        || kn_mp_read_bool(&in, &t->multiple) < 0 || kn_object_field(&o, "show_early", &in) < 0
        || kn_mp_read_bool(&in, &t->show_early) < 0 || kn_object_field(&o, "options", &in) < 0
        || kn_mp_read_array(&in, &t->noptions) < 0 || t->noptions > KN_POLL_OPTIONS_MAX)
        return KN_ECORRUPT;
    memcpy(t->poll, poll, KN_ID);
    t->created = o.created;
    t->per_council = clen == 7 && memcmp(count, "council", 7) == 0;
    pc.deadline = t->deadline;
    pc.noptions = t->noptions;
    if ((rc = read_entries(s, txn, poll, KN_T_VOTE, t->per_council, read_ballot, &pc, &es)) < 0)
        goto out;
    t->ballots = pc.ballots;
    t->nvoters = latest_per_unit(&es);
    t->voters = t->nvoters ? calloc(t->nvoters, sizeof *t->voters) : NULL;
    if (t->nvoters && !t->voters) {
        rc = KN_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < t->nvoters; i++) {
        const entry *e = &es.e[i];
        kn_tally_voter *w = &t->voters[i];
        memcpy(w->user, e->user, KN_KEY);
        memcpy(w->node, e->node, KN_KEY);
        memcpy(w->ballot, e->id, KN_ID);
        w->created = e->created;
        w->choices = e->value;
        for (uint32_t c = 0; c < t->noptions; c++)
            if (e->value & (1u << c))
                t->counts[c]++;
    }
    rc = 0;
out:
    free(es.e);
    return rc;
}

int kn_store_poll_tally(kn_store *s, const uint8_t poll[KN_ID], kn_poll_tally *t)
{
    MDB_txn *txn = NULL;
    int rc;

    if (!s || !poll || !t)
        return KN_EINVAL;
    memset(t, 0, sizeof *t);
    if ((rc = kn_store_read_begin(s, &txn)) < 0)
        return rc;
    rc = tally_txn(s, txn, poll, t);
    mdb_txn_abort(txn);
    if (rc < 0)
        kn_poll_tally_free(t);
    return rc;
}

void kn_poll_tally_free(kn_poll_tally *t)
{
    if (!t)
        return;
    free(t->voters);
    memset(t, 0, sizeof *t);
}

/* ---- RSVPs ---- */

static int read_rsvp(const kn_object *o, void *arg, uint32_t *value)
{
    static const char *const names[] = { "yes", "no", "maybe" };
    const char *st;
    uint32_t len;
    (void)arg;
    if (kn_object_str(o, "status", &st, &len) < 0)
        return KN_ECORRUPT;
    for (uint32_t i = 0; i < 3; i++)
        if (len == strlen(names[i]) && memcmp(st, names[i], len) == 0) {
            *value = i;
            return 0;
        }
    return KN_ECORRUPT;
}

int kn_store_rsvp_tally(
    kn_store *s, const uint8_t (*events)[KN_ID], size_t nevents, kn_rsvp_tally *t)
{
    MDB_txn *txn = NULL;
    entries es = { 0 };
    int rc;

    if (!s || (nevents && !events) || !t)
        return KN_EINVAL;
    memset(t, 0, sizeof *t);
    if ((rc = kn_store_read_begin(s, &txn)) < 0)
        return rc;
    for (size_t i = 0; i < nevents && rc >= 0; i++)
        rc = read_entries(s, txn, events[i], KN_T_RSVP, false, read_rsvp, NULL, &es);
    mdb_txn_abort(txn);
    if (rc < 0)
        goto out;
    t->n = latest_per_unit(&es);
    if (t->n && !(t->e = calloc(t->n, sizeof *t->e))) {
        rc = KN_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < t->n; i++) {
        memcpy(t->e[i].user, es.e[i].user, KN_KEY);
        memcpy(t->e[i].node, es.e[i].node, KN_KEY);
        memcpy(t->e[i].rsvp, es.e[i].id, KN_ID);
        t->e[i].created = es.e[i].created;
        t->e[i].status = (int)es.e[i].value;
        t->counts[es.e[i].value]++;
    }
    rc = 0;
out:
    free(es.e);
    if (rc < 0)
        kn_rsvp_tally_free(t);
    return rc;
}

void kn_rsvp_tally_free(kn_rsvp_tally *t)
{
    if (!t)
        return;
    free(t->e);
    memset(t, 0, sizeof *t);
}
