/*
 * Ingest: dedupe, authorisation against the roster, dependency presence, the
 * pending table, retraction and revocation, all inside the one write
 * transaction of a batch.
 *
 * The roster is kept incrementally in two databases, so that checking an
 * author costs two lookups rather than a replay of every admit:
 *
 *   membership  key -> flags(1) founder_since(8) revoked_at(8) n(1)
 *                      n x (admitter key(32) admit created(8))
 *   users       user key -> node key(32) cert id(32) revoked_at(8)
 *
 * A membership record exists for every key that founded, was admitted or was
 * revoked. Revocations are kept there for any key (node or user), also before
 * the key is otherwise known, so that the answer does not depend on whether
 * the revoke or the certificate arrived first. A node is a member from the
 * created time of the k-th earliest admit by distinct members (k = the
 * network's "admit" rule), or from the network's created time if it founded
 * it, until its revocation. Deriving "member since" from created times rather
 * than arrival order makes every node compute the same roster.
 *
 * Open question (k > 1): a network has one founder, so with "admit" = 2 no
 * second member can ever be admitted. The rule is implemented as written;
 * bootstrapping needs either several founders or k capped by the number of
 * members at the admit's time, which is a decision for the protocol.
 *
 * Whenever something a pending object might wait for appears (an object id,
 * or a key that becomes a member or a user), the key goes on a work queue;
 * draining the queue re-checks the objects pending on it, and what they in
 * turn make known goes on the queue too.
 */
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

enum {
    KN_ADMITTERS_MAX = 64, /* admits kept per node; the rule allows k <= 255 but real k is small */
    MEMBER_HDR = 1 + 8 + 8 + 1,
    MEMBER_ENTRY = KN_KEY + 8,
    USER_REC = KN_KEY + KN_ID + 8,
    NETWORK_REC = KN_ID + 8,
    FLAG_FOUNDER = 1,
};

typedef struct member_rec {
    uint8_t flags;
    uint64_t founder_since;
    uint64_t revoked_at;
    uint32_t n;
    uint8_t adm_key[KN_ADMITTERS_MAX][KN_KEY];
    uint64_t adm_at[KN_ADMITTERS_MAX];
} member_rec;

typedef struct user_rec {
    uint8_t node[KN_KEY];
    uint8_t cert[KN_ID];
    uint64_t revoked_at;
} user_rec;

typedef struct keyq {
    uint8_t (*k)[KN_KEY];
    size_t n, cap;
} keyq;

/*
 * A roster record as ingest reads it, cached for one transaction: membership
 * (found, member_since() under the network's k, revoked_at) or a user
 * certificate.
 */
typedef struct roster_entry {
    uint8_t key[KN_KEY];
    bool user; /* a users record; else a membership record */
    bool found;
    uint64_t since, revoked_at;
    user_rec u;
} roster_entry;

enum { ROSTER_CACHE = 8 };

/*
 * What one ingest transaction carries from object to object.
 *
 * The roster caches exist because every object asks the same questions (is
 * there a network, what is its k, is this author a member since when) and
 * the answers change only when a roster object (network, admit, revoke,
 * user) is stored: roster_forget() runs then. A batch from one author thus
 * reads the network and membership records once instead of once per object.
 *
 * The cursors stay open for the whole transaction: LMDB puts through a
 * positioned cursor skip the descent from the root when the key belongs on
 * the page the cursor is on, which is the case for the time-ordered keys of
 * by_time and by_author, and for the put that follows the dedupe lookup of
 * the same id in objects.
 */
typedef struct ingest_state {
    keyq q;
    size_t released;
    bool net_cached;
    int net_rc; /* network_get(): 0 or KN_ENOTFOUND */
    uint64_t net_k;
    roster_entry roster[ROSTER_CACHE];
    unsigned nroster, roster_next;
    MDB_cursor *objects, *by_time, *by_author, *by_space_type, *by_ref;
} ingest_state;

enum status { ST_MEMBER, ST_UNKNOWN, ST_REFUSED };

static int keyq_push(keyq *q, const uint8_t k[KN_KEY])
{
    if (q->n == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 32;
        void *nk = realloc(q->k, ncap * KN_KEY);
        if (!nk)
            return KN_ENOMEM;
        q->k = nk;
        q->cap = ncap;
    }
    memcpy(q->k[q->n++], k, KN_KEY);
    return 0;
}

/* Results that refuse one object without failing the batch. */
static bool per_object_error(int rc)
{
    return rc == KN_EUNAUTH || rc == KN_ELIMIT || rc == KN_ESCHEMA;
}

static bool roster_type(kn_otype t)
{
    return t == KN_T_NETWORK || t == KN_T_ADMIT || t == KN_T_REVOKE || t == KN_T_USER;
}

static int get_raw(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, MDB_val *v)
{
    MDB_val k = { klen, (void *)key };
    return kn_store_mdb_err(mdb_get(txn, dbi, &k, v));
}

static int put_raw(
    MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
    return kn_store_mdb_err(mdb_put(txn, dbi, &k, &v, 0));
}

/* Deletes key; a key that is already gone is fine (duplicate refs share one entry). */
static int del_raw(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen)
{
    MDB_val k = { klen, (void *)key };
    int rc = mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(rc);
}

static bool exists(MDB_txn *txn, MDB_dbi dbi, const uint8_t id[KN_ID])
{
    MDB_val v;
    return get_raw(txn, dbi, id, KN_ID, &v) == 0;
}

/*
 * exists() for tables that are usually empty (tombstones, pending): asking
 * for the entry count reads the transaction's copy of the database record,
 * which is cheaper than a lookup that finds nothing.
 */
static bool exists_maybe_empty(MDB_txn *txn, MDB_dbi dbi, const uint8_t id[KN_ID])
{
    MDB_stat ms;
    if (mdb_stat(txn, dbi, &ms) == 0 && ms.ms_entries == 0)
        return false;
    return exists(txn, dbi, id);
}

/* Puts through a cursor kept open for the transaction (see ingest_state). */
static int cursor_put(MDB_cursor *c, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
    return kn_store_mdb_err(mdb_cursor_put(c, &k, &v, 0));
}

/* ---- roster records ---- */

static int network_get(kn_store *s, MDB_txn *txn, uint8_t id[KN_ID], uint64_t *k)
{
    MDB_val v;
    int rc = get_raw(txn, s->db.meta, (const uint8_t *)"network", 7, &v);
    if (rc < 0)
        return rc;
    if (v.mv_size != NETWORK_REC)
        return KN_ECORRUPT;
    if (id)
        memcpy(id, v.mv_data, KN_ID);
    if (k)
        *k = kn_be64_get((const uint8_t *)v.mv_data + KN_ID);
    if (k && (*k < 1 || *k > 255))
        return KN_ECORRUPT;
    return 0;
}

static void member_fresh(member_rec *r)
{
    memset(r, 0, sizeof *r);
    r->founder_since = KN_NEVER;
    r->revoked_at = KN_NEVER;
}

static int member_get(kn_store *s, MDB_txn *txn, const uint8_t key[KN_KEY], member_rec *r)
{
    MDB_val v;
    int rc = get_raw(txn, s->db.membership, key, KN_KEY, &v);
    if (rc < 0)
        return rc;
    const uint8_t *p = v.mv_data;
    if (v.mv_size < MEMBER_HDR)
        return KN_ECORRUPT;
    r->flags = p[0];
    r->founder_since = kn_be64_get(p + 1);
    r->revoked_at = kn_be64_get(p + 9);
    r->n = p[17];
    if ((r->flags & ~FLAG_FOUNDER) || r->n > KN_ADMITTERS_MAX
        || v.mv_size != MEMBER_HDR + (size_t)r->n * MEMBER_ENTRY)
        return KN_ECORRUPT;
    for (uint32_t i = 0; i < r->n; i++) {
        const uint8_t *e = p + MEMBER_HDR + i * MEMBER_ENTRY;
        memcpy(r->adm_key[i], e, KN_KEY);
        r->adm_at[i] = kn_be64_get(e + KN_KEY);
    }
    return 0;
}

static int member_put(kn_store *s, MDB_txn *txn, const uint8_t key[KN_KEY], const member_rec *r)
{
    uint8_t buf[MEMBER_HDR + KN_ADMITTERS_MAX * MEMBER_ENTRY];
    buf[0] = r->flags;
    kn_be64_put(buf + 1, r->founder_since);
    kn_be64_put(buf + 9, r->revoked_at);
    buf[17] = (uint8_t)r->n;
    for (uint32_t i = 0; i < r->n; i++) {
        uint8_t *e = buf + MEMBER_HDR + i * MEMBER_ENTRY;
        memcpy(e, r->adm_key[i], KN_KEY);
        kn_be64_put(e + KN_KEY, r->adm_at[i]);
    }
    return put_raw(txn, s->db.membership, key, KN_KEY, buf, MEMBER_HDR + r->n * MEMBER_ENTRY);
}

/* When the key became a member: founding, or the k-th earliest admit. KN_NEVER if not. */
static uint64_t member_since(const member_rec *r, uint64_t k)
{
    uint64_t since = (r->flags & FLAG_FOUNDER) ? r->founder_since : KN_NEVER;
    if (k >= 1 && r->n >= k) {
        uint64_t at[KN_ADMITTERS_MAX];
        memcpy(at, r->adm_at, r->n * sizeof at[0]);
        for (uint32_t i = 1; i < r->n; i++) /* insertion sort: n is tiny */
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

static int user_get(kn_store *s, MDB_txn *txn, const uint8_t key[KN_KEY], user_rec *u)
{
    MDB_val v;
    int rc = get_raw(txn, s->db.users, key, KN_KEY, &v);
    if (rc < 0)
        return rc;
    if (v.mv_size != USER_REC)
        return KN_ECORRUPT;
    const uint8_t *p = v.mv_data;
    memcpy(u->node, p, KN_KEY);
    memcpy(u->cert, p + KN_KEY, KN_ID);
    u->revoked_at = kn_be64_get(p + KN_KEY + KN_ID);
    return 0;
}

static int user_put(kn_store *s, MDB_txn *txn, const uint8_t key[KN_KEY], const user_rec *u)
{
    uint8_t buf[USER_REC];
    memcpy(buf, u->node, KN_KEY);
    memcpy(buf + KN_KEY, u->cert, KN_ID);
    kn_be64_put(buf + KN_KEY + KN_ID, u->revoked_at);
    return put_raw(txn, s->db.users, key, KN_KEY, buf, USER_REC);
}

static void roster_forget(ingest_state *is)
{
    is->net_cached = false;
    is->nroster = 0;
    is->roster_next = 0;
}

/* The network's k, read once per transaction (KN_ENOTFOUND before the network exists). */
static int network_k(kn_store *s, MDB_txn *txn, ingest_state *is, uint64_t *k)
{
    if (!is->net_cached) {
        int rc = network_get(s, txn, NULL, &is->net_k);
        if (rc < 0 && rc != KN_ENOTFOUND)
            return rc;
        is->net_rc = rc;
        is->net_cached = true;
    }
    *k = is->net_k;
    return is->net_rc;
}

static roster_entry *roster_find(ingest_state *is, const uint8_t key[KN_KEY], bool user)
{
    for (unsigned i = 0; i < is->nroster; i++)
        if (is->roster[i].user == user && memcmp(is->roster[i].key, key, KN_KEY) == 0)
            return &is->roster[i];
    return NULL;
}

/* A slot for a new entry: the next free one, else round robin. */
static roster_entry *roster_slot(ingest_state *is)
{
    if (is->nroster < ROSTER_CACHE)
        return &is->roster[is->nroster++];
    roster_entry *e = &is->roster[is->roster_next];
    is->roster_next = (is->roster_next + 1) % ROSTER_CACHE;
    return e;
}

/* The membership of key under k, from the cache or the database; valid until the next lookup. */
static int member_lookup(kn_store *s, MDB_txn *txn, ingest_state *is, const uint8_t key[KN_KEY],
    uint64_t k, const roster_entry **out)
{
    roster_entry *e = roster_find(is, key, false);
    if (!e) {
        member_rec r;
        int rc = member_get(s, txn, key, &r);
        if (rc < 0 && rc != KN_ENOTFOUND)
            return rc;
        e = roster_slot(is);
        memcpy(e->key, key, KN_KEY);
        e->user = false;
        e->found = rc == 0;
        e->since = e->found ? member_since(&r, k) : KN_NEVER;
        e->revoked_at = e->found ? r.revoked_at : KN_NEVER;
    }
    *out = e;
    return 0;
}

/* user_get() through the cache: 0, KN_ENOTFOUND, or a fatal code. */
static int user_lookup(
    kn_store *s, MDB_txn *txn, ingest_state *is, const uint8_t key[KN_KEY], user_rec *u)
{
    roster_entry *e = roster_find(is, key, true);
    if (!e) {
        user_rec r;
        memset(&r, 0, sizeof r);
        int rc = user_get(s, txn, key, &r);
        if (rc < 0 && rc != KN_ENOTFOUND)
            return rc;
        e = roster_slot(is);
        memcpy(e->key, key, KN_KEY);
        e->user = true;
        e->found = rc == 0;
        e->u = r;
    }
    if (!e->found)
        return KN_ENOTFOUND;
    *u = e->u;
    return 0;
}

/*
 * Whether key may sign as a node at time t. ST_UNKNOWN means "not yet": no
 * membership established so far, and an admit may still arrive. ST_REFUSED
 * is final for this object: revoked at or before t, or a member only from a
 * later time.
 */
static int node_status(kn_store *s, MDB_txn *txn, ingest_state *is, const uint8_t key[KN_KEY],
    uint64_t t, uint64_t k, int *st)
{
    const roster_entry *r;
    int rc = member_lookup(s, txn, is, key, k, &r);
    if (rc < 0)
        return rc;
    if (!r->found) {
        *st = ST_UNKNOWN;
        return 0;
    }
    uint64_t since = r->since;
    if (r->revoked_at != KN_NEVER && r->revoked_at <= t)
        *st = ST_REFUSED;
    else if (since == KN_NEVER)
        *st = ST_UNKNOWN;
    else if (since <= t)
        *st = ST_MEMBER;
    else
        *st = ST_REFUSED;
    return 0;
}

static int body_key(const kn_object *o, const char *field, const uint8_t **key)
{
    uint32_t len;
    if (kn_object_bin(o, field, key, &len) < 0 || len != KN_KEY)
        return KN_ESCHEMA;
    return 0;
}

/* ---- checks ---- */

/*
 * 0 if o's author may sign o at o->created; KN_PUT_PENDING with *dep set to
 * the key whose admit or certificate is missing; KN_EUNAUTH if refused.
 */
static int check_author(kn_store *s, MDB_txn *txn, ingest_state *is, const kn_object *o, uint64_t k,
    uint8_t dep[KN_KEY])
{
    bool node_only = o->type == KN_T_ADMIT || o->type == KN_T_REVOKE || o->type == KN_T_USER;
    user_rec u;
    int st, rc;

    if ((rc = node_status(s, txn, is, o->author, o->created, k, &st)) < 0)
        return rc;
    if (st == ST_MEMBER)
        return 0;
    if (st == ST_REFUSED)
        return KN_EUNAUTH;
    rc = user_lookup(s, txn, is, o->author, &u);
    if (rc == KN_ENOTFOUND) {
        memcpy(dep, o->author, KN_KEY);
        return KN_PUT_PENDING;
    }
    if (rc < 0)
        return rc;
    if (node_only) /* users cannot admit, revoke or certify */
        return KN_EUNAUTH;
    if (u.revoked_at != KN_NEVER && u.revoked_at <= o->created)
        return KN_EUNAUTH;
    if ((rc = node_status(s, txn, is, u.node, o->created, k, &st)) < 0)
        return rc;
    if (st == ST_MEMBER)
        return 0;
    if (st == ST_REFUSED)
        return KN_EUNAUTH;
    memcpy(dep, u.node, KN_KEY);
    return KN_PUT_PENDING;
}

/* Every ref must be stored or tombstoned; the first missing one is the dependency. */
static int check_refs(kn_store *s, MDB_txn *txn, const kn_object *o, uint8_t dep[KN_ID])
{
    for (uint32_t i = 0; i < o->nrefs; i++) {
        if (exists(txn, s->db.objects, o->refs[i]) || exists(txn, s->db.tombstones, o->refs[i]))
            continue;
        memcpy(dep, o->refs[i], KN_ID);
        return KN_PUT_PENDING;
    }
    return 0;
}

/*
 * A retract may come from the target's author or from the node that
 * certified the target's (user) author. Roster objects cannot be retracted:
 * their effect on membership would stay while their bytes went; revoke is the
 * tool for taking those back.
 */
static int check_retract(kn_store *s, MDB_txn *txn, ingest_state *is, const kn_object *o)
{
    kn_object t;
    user_rec u;
    int rc;

    if (exists(txn, s->db.tombstones, o->refs[0]))
        return 0; /* already retracted; this one changes nothing */
    if ((rc = kn_store_load(s, txn, s->db.objects, o->refs[0], &t)) < 0)
        return rc == KN_ENOTFOUND ? KN_ECORRUPT : rc; /* check_refs saw it */
    if (roster_type(t.type))
        return KN_EUNAUTH;
    if (memcmp(t.author, o->author, KN_KEY) == 0)
        return 0;
    rc = user_lookup(s, txn, is, t.author, &u);
    if (rc == KN_ENOTFOUND)
        return KN_EUNAUTH;
    if (rc < 0)
        return rc;
    return memcmp(u.node, o->author, KN_KEY) == 0 ? 0 : KN_EUNAUTH;
}

/* 0: store it; KN_PUT_PENDING with *dep; or a negative code. Dedupe is the caller's. */
static int evaluate(
    kn_store *s, MDB_txn *txn, ingest_state *is, const kn_object *o, uint8_t dep[KN_ID])
{
    uint64_t k;
    int rc = network_k(s, txn, is, &k);

    if (o->type == KN_T_NETWORK) {
        /* The first network object defines the network; this store serves one. */
        if (rc == KN_ENOTFOUND)
            return 0;
        return rc < 0 ? rc : KN_EUNAUTH;
    }
    if (rc == KN_ENOTFOUND) {
        /* Nobody is a member before the network exists: wait for the founder. */
        memcpy(dep, o->author, KN_KEY);
        return KN_PUT_PENDING;
    }
    if (rc < 0)
        return rc;
    if ((rc = check_author(s, txn, is, o, k, dep)) != 0)
        return rc;
    if ((rc = check_refs(s, txn, o, dep)) != 0)
        return rc;
    if (o->type == KN_T_RETRACT)
        return check_retract(s, txn, is, o);
    return 0;
}

/* ---- writing objects ---- */

static int store_object(kn_store *s, MDB_txn *txn, ingest_state *is, const kn_object *o)
{
    uint8_t key[KN_IDX_KEY_MAX];
    size_t kl;
    int rc;

    if ((rc = cursor_put(is->objects, o->id, KN_ID, o->raw, o->raw_len)) < 0)
        return rc;
    kl = kn_idx_time(key, o);
    if ((rc = cursor_put(is->by_time, key, kl, "", 0)) < 0)
        return rc;
    if ((rc = kn_negtree_add(s, txn, key)) < 0) /* after by_time: a split reads it */
        return rc;
    kl = kn_idx_author(key, o);
    if ((rc = cursor_put(is->by_author, key, kl, "", 0)) < 0)
        return rc;
    kl = kn_idx_space_type(key, o);
    if ((rc = cursor_put(is->by_space_type, key, kl, "", 0)) < 0)
        return rc;
    for (uint32_t i = 0; i < o->nrefs; i++) {
        kl = kn_idx_ref(key, o, i);
        if ((rc = cursor_put(is->by_ref, key, kl, "", 0)) < 0)
            return rc;
    }
    return 0;
}

/*
 * Deletes a stored object and its index entries. The keys are built before
 * the first delete because the decoded view points into pages that a write
 * may move.
 */
static int remove_object(kn_store *s, MDB_txn *txn, const uint8_t id[KN_ID])
{
    uint8_t kt[KN_IDX_KEY_MAX], ka[KN_IDX_KEY_MAX], ks[KN_IDX_KEY_MAX];
    uint8_t kr[KN_MAX_REFS][KN_IDX_KEY_MAX];
    size_t lt, la, ls, lr = KN_ID + 1 + 8 + KN_ID;
    uint8_t oid[KN_ID];
    uint32_t nrefs;
    kn_object o;
    int rc;

    memcpy(oid, id, KN_ID); /* id may itself point into a page */
    if ((rc = kn_store_load(s, txn, s->db.objects, oid, &o)) < 0)
        return rc;
    lt = kn_idx_time(kt, &o);
    la = kn_idx_author(ka, &o);
    ls = kn_idx_space_type(ks, &o);
    nrefs = o.nrefs;
    for (uint32_t i = 0; i < nrefs; i++)
        kn_idx_ref(kr[i], &o, i);
    if ((rc = del_raw(txn, s->db.by_time, kt, lt)) < 0 || (rc = kn_negtree_del(s, txn, kt)) < 0
        || (rc = del_raw(txn, s->db.by_author, ka, la)) < 0
        || (rc = del_raw(txn, s->db.by_space_type, ks, ls)) < 0)
        return rc;
    for (uint32_t i = 0; i < nrefs; i++)
        if ((rc = del_raw(txn, s->db.by_ref, kr[i], lr)) < 0)
            return rc;
    return del_raw(txn, s->db.objects, oid, KN_ID);
}

/*
 * Removes what key signed at or after `from`, once a revocation says it was
 * no longer allowed to: that way the store holds the same set whichever of
 * the revoke and the objects arrived first. Roster objects stay (see
 * check_retract); no tombstone is written, since the ids are refused anyway.
 */
static int purge_after(kn_store *s, MDB_txn *txn, const uint8_t key[KN_KEY], uint64_t from)
{
    MDB_cursor *c = NULL;
    uint8_t start[KN_KEY + 8], (*ids)[KN_ID] = NULL;
    size_t n = 0, cap = 0;
    MDB_val k, v;
    int rc;

    memcpy(start, key, KN_KEY);
    kn_be64_put(start + KN_KEY, from);
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_author, &c))) < 0)
        return rc;
    k = (MDB_val) { sizeof start, start };
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < KN_KEY || memcmp(k.mv_data, key, KN_KEY) != 0)
            break;
        if (k.mv_size != KN_KEY + 8 + KN_ID) {
            rc = KN_ECORRUPT;
            goto out;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void *ni = realloc(ids, ncap * KN_ID);
            if (!ni) {
                rc = KN_ENOMEM;
                goto out;
            }
            ids = ni;
            cap = ncap;
        }
        memcpy(ids[n++], (const uint8_t *)k.mv_data + KN_KEY + 8, KN_ID);
    }
    if (rc != MDB_NOTFOUND && rc != 0) {
        rc = kn_store_mdb_err(rc);
        goto out;
    }
    mdb_cursor_close(c);
    c = NULL;
    rc = 0;
    for (size_t i = 0; i < n; i++) {
        kn_object o;
        if ((rc = kn_store_load(s, txn, s->db.objects, ids[i], &o)) < 0) {
            rc = rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
            goto out;
        }
        if (roster_type(o.type))
            continue;
        if ((rc = remove_object(s, txn, ids[i])) < 0)
            goto out;
    }
out:
    mdb_cursor_close(c);
    free(ids);
    return rc;
}

/* Purges the objects of every user that node certified, from `from` on. */
static int purge_users_of(kn_store *s, MDB_txn *txn, const uint8_t node[KN_KEY], uint64_t from)
{
    MDB_cursor *c = NULL;
    uint8_t(*keys)[KN_KEY] = NULL;
    size_t n = 0, cap = 0;
    MDB_val k, v;
    int rc;

    /* Revocations are rare and users few per node; a scan beats another index. */
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.users, &c))) < 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != KN_KEY || v.mv_size != USER_REC) {
            rc = KN_ECORRUPT;
            goto out;
        }
        if (memcmp(v.mv_data, node, KN_KEY) != 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void *nk = realloc(keys, ncap * KN_KEY);
            if (!nk) {
                rc = KN_ENOMEM;
                goto out;
            }
            keys = nk;
            cap = ncap;
        }
        memcpy(keys[n++], k.mv_data, KN_KEY);
    }
    if (rc != MDB_NOTFOUND && rc != 0) {
        rc = kn_store_mdb_err(rc);
        goto out;
    }
    mdb_cursor_close(c);
    c = NULL;
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = purge_after(s, txn, keys[i], from);
out:
    mdb_cursor_close(c);
    free(keys);
    return rc;
}

/* What storing o changes beyond its own record: the roster, tombstones, the work queue. */
static int apply_effects(kn_store *s, MDB_txn *txn, ingest_state *st, const kn_object *o)
{
    const uint8_t *key;
    member_rec r;
    user_rec u;
    int rc;

    switch (o->type) {
    case KN_T_NETWORK: {
        uint64_t k;
        uint8_t rec[NETWORK_REC];
        if (kn_object_uint(o, "admit", &k) < 0 || k < 1 || k > 255)
            return KN_ESCHEMA;
        memcpy(rec, o->id, KN_ID);
        kn_be64_put(rec + KN_ID, k);
        if ((rc = put_raw(txn, s->db.meta, (const uint8_t *)"network", 7, rec, sizeof rec)) < 0)
            return rc;
        rc = member_get(s, txn, o->author, &r);
        if (rc == KN_ENOTFOUND)
            member_fresh(&r);
        else if (rc < 0)
            return rc;
        r.flags |= FLAG_FOUNDER;
        if (o->created < r.founder_since)
            r.founder_since = o->created;
        if ((rc = member_put(s, txn, o->author, &r)) < 0)
            return rc;
        return keyq_push(&st->q, o->author);
    }
    case KN_T_ADMIT: {
        if ((rc = body_key(o, "node", &key)) < 0)
            return rc;
        rc = member_get(s, txn, key, &r);
        if (rc == KN_ENOTFOUND)
            member_fresh(&r);
        else if (rc < 0)
            return rc;
        uint32_t i;
        for (i = 0; i < r.n; i++)
            if (memcmp(r.adm_key[i], o->author, KN_KEY) == 0)
                break;
        if (i < r.n) {
            if (o->created < r.adm_at[i])
                r.adm_at[i] = o->created;
        } else if (r.n < KN_ADMITTERS_MAX) {
            memcpy(r.adm_key[r.n], o->author, KN_KEY);
            r.adm_at[r.n++] = o->created;
        }
        if ((rc = member_put(s, txn, key, &r)) < 0)
            return rc;
        return keyq_push(&st->q, key);
    }
    case KN_T_USER:
        if ((rc = body_key(o, "key", &key)) < 0)
            return rc;
        rc = user_get(s, txn, key, &u);
        if (rc == 0)
            return 0; /* the first certificate for a key stands */
        if (rc != KN_ENOTFOUND)
            return rc;
        memcpy(u.node, o->author, KN_KEY);
        memcpy(u.cert, o->id, KN_ID);
        u.revoked_at = KN_NEVER;
        if ((rc = user_put(s, txn, key, &u)) < 0)
            return rc;
        return keyq_push(&st->q, key);
    case KN_T_REVOKE: {
        uint8_t rkey[KN_KEY];
        if ((rc = body_key(o, "key", &key)) < 0)
            return rc;
        memcpy(rkey, key, KN_KEY);
        rc = member_get(s, txn, rkey, &r);
        if (rc == KN_ENOTFOUND)
            member_fresh(&r);
        else if (rc < 0)
            return rc;
        bool is_node = (r.flags & FLAG_FOUNDER) || r.n > 0;
        if (o->created < r.revoked_at)
            r.revoked_at = o->created;
        if ((rc = member_put(s, txn, rkey, &r)) < 0)
            return rc;
        rc = user_get(s, txn, rkey, &u);
        if (rc == 0 && o->created < u.revoked_at) {
            u.revoked_at = o->created;
            if ((rc = user_put(s, txn, rkey, &u)) < 0)
                return rc;
        } else if (rc < 0 && rc != KN_ENOTFOUND) {
            return rc;
        }
        if ((rc = purge_after(s, txn, rkey, r.revoked_at)) < 0)
            return rc;
        if (is_node && (rc = purge_users_of(s, txn, rkey, r.revoked_at)) < 0)
            return rc;
        /* Objects pending on the key are now refused; re-checking frees their slots. */
        return keyq_push(&st->q, rkey);
    }
    case KN_T_RETRACT: {
        uint8_t target[KN_ID], tomb[KN_ID + 8];
        memcpy(target, o->refs[0], KN_ID);
        if (exists(txn, s->db.tombstones, target))
            return 0;
        if ((rc = remove_object(s, txn, target)) < 0)
            return rc;
        memcpy(tomb, o->id, KN_ID);
        kn_be64_put(tomb + KN_ID, o->created);
        return put_raw(txn, s->db.tombstones, target, KN_ID, tomb, sizeof tomb);
    }
    default:
        return 0;
    }
}

static int pending_count(kn_store *s, MDB_txn *txn, size_t *n)
{
    MDB_stat ms;
    int rc = kn_store_mdb_err(mdb_stat(txn, s->db.pending, &ms));
    *n = rc < 0 ? 0 : ms.ms_entries;
    return rc;
}

/*
 * Ingests one object. from_pending: o came out of the pending table (its
 * dependency entry is already gone) and leaves it unless it must wait again.
 * Returns a kn_put_result, a per-object refusal, or a fatal code.
 */
static int ingest_one(
    kn_store *s, MDB_txn *txn, ingest_state *st, const kn_object *o, bool from_pending)
{
    uint8_t dep[KN_ID], pkey[2 * KN_ID];
    int rc, res;

    MDB_val k = { KN_ID, (void *)o->id }, v;
    if (exists_maybe_empty(txn, s->db.tombstones, o->id))
        res = KN_PUT_TOMBSTONED;
    /* Through the objects cursor, so that store_object's put lands without a second descent. */
    else if ((rc = mdb_cursor_get(st->objects, &k, &v, MDB_SET)) == 0)
        res = KN_PUT_DUPLICATE;
    else if (rc != MDB_NOTFOUND)
        return kn_store_mdb_err(rc);
    else if (!from_pending && exists_maybe_empty(txn, s->db.pending, o->id))
        return KN_PUT_DUPLICATE;
    else
        res = evaluate(s, txn, st, o, dep);
    if (res < 0 && !per_object_error(res))
        return res;

    if (res == KN_PUT_PENDING) {
        if (!from_pending) {
            size_t n;
            if ((rc = pending_count(s, txn, &n)) < 0)
                return rc;
            if (n >= s->pending_max)
                return KN_ELIMIT;
            if ((rc = put_raw(txn, s->db.pending, o->id, KN_ID, o->raw, o->raw_len)) < 0)
                return rc;
        }
        memcpy(pkey, dep, KN_ID);
        memcpy(pkey + KN_ID, o->id, KN_ID);
        if ((rc = put_raw(txn, s->db.pending_by_dep, pkey, sizeof pkey, "", 0)) < 0)
            return rc;
        return KN_PUT_PENDING;
    }
    if (from_pending && (rc = del_raw(txn, s->db.pending, o->id, KN_ID)) < 0)
        return rc;
    if (res != 0)
        return res;

    if ((rc = store_object(s, txn, st, o)) < 0)
        return rc;
    if (roster_type(o->type))
        roster_forget(st); /* apply_effects changes what the caches hold */
    if ((rc = apply_effects(s, txn, st, o)) < 0)
        return rc; /* even KN_ESCHEMA: the object is half-applied, so the batch must go */
    if ((rc = keyq_push(&st->q, o->id)) < 0)
        return rc;
    if (from_pending)
        st->released++;
    return KN_PUT_STORED;
}

/* Collects the ids pending on dep (copies: the table changes while we re-check them). */
static int pending_on(
    kn_store *s, MDB_txn *txn, const uint8_t dep[KN_ID], uint8_t (**ids)[KN_ID], size_t *n)
{
    MDB_cursor *c = NULL;
    size_t cap = 0;
    MDB_val k = { KN_ID, (void *)dep }, v;
    int rc;

    *ids = NULL;
    *n = 0;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.pending_by_dep, &c))) < 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < KN_ID || memcmp(k.mv_data, dep, KN_ID) != 0)
            break;
        if (k.mv_size != 2 * KN_ID) {
            rc = KN_ECORRUPT;
            goto out;
        }
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            void *ni = realloc(*ids, ncap * KN_ID);
            if (!ni) {
                rc = KN_ENOMEM;
                goto out;
            }
            *ids = ni;
            cap = ncap;
        }
        memcpy((*ids)[(*n)++], (const uint8_t *)k.mv_data + KN_ID, KN_ID);
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : kn_store_mdb_err(rc);
out:
    mdb_cursor_close(c);
    return rc;
}

/* Re-checks everything pending on the queued keys until the queue is empty. */
static int drain(kn_store *s, MDB_txn *txn, ingest_state *st)
{
    uint8_t(*ids)[KN_ID] = NULL;
    uint8_t *copy = NULL;
    int rc = 0;

    while (st->q.n > 0) {
        uint8_t dep[KN_KEY], pkey[2 * KN_ID];
        size_t n, npending;
        memcpy(dep, st->q.k[--st->q.n], KN_KEY);
        if ((rc = pending_count(s, txn, &npending)) < 0)
            goto out;
        if (npending == 0) { /* the common case: nothing waits for anything */
            st->q.n = 0;
            break;
        }
        free(ids);
        if ((rc = pending_on(s, txn, dep, &ids, &n)) < 0)
            goto out;
        for (size_t i = 0; i < n; i++) {
            MDB_val v;
            kn_object o;
            memcpy(pkey, dep, KN_ID);
            memcpy(pkey + KN_ID, ids[i], KN_ID);
            if ((rc = del_raw(txn, s->db.pending_by_dep, pkey, sizeof pkey)) < 0)
                goto out;
            rc = get_raw(txn, s->db.pending, ids[i], KN_ID, &v);
            if (rc == KN_ENOTFOUND)
                continue; /* a stale entry; nothing waits any more */
            if (rc < 0)
                goto out;
            /* The pending record is deleted below while o still points at it. */
            if (!(copy = malloc(v.mv_size ? v.mv_size : 1))) {
                rc = KN_ENOMEM;
                goto out;
            }
            memcpy(copy, v.mv_data, v.mv_size);
            if (kn_object_decode(&o, copy, v.mv_size) < 0 || memcmp(o.id, ids[i], KN_ID) != 0) {
                rc = KN_ECORRUPT;
                goto out;
            }
            rc = ingest_one(s, txn, st, &o, true);
            free(copy);
            copy = NULL;
            if (rc < 0 && !per_object_error(rc))
                goto out;
        }
        rc = 0;
    }
out:
    free(copy);
    free(ids);
    return rc;
}

struct ingest_args {
    const kn_object *objs;
    size_t n;
    int *results;
    size_t released;
};

static int ingest_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct ingest_args *a = ctx;
    ingest_state st;
    int rc = 0;

    memset(&st, 0, sizeof st);
    a->released = 0;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.objects, &st.objects))) < 0
        || (rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_time, &st.by_time))) < 0
        || (rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_author, &st.by_author))) < 0
        || (rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_space_type, &st.by_space_type))) < 0
        || (rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_ref, &st.by_ref))) < 0)
        goto out;
    for (size_t i = 0; i < a->n; i++) {
        rc = ingest_one(s, txn, &st, &a->objs[i], false);
        if (rc < 0 && !per_object_error(rc))
            goto out;
        a->results[i] = rc;
        if ((rc = drain(s, txn, &st)) < 0)
            goto out;
    }
    a->released = st.released;
    rc = 0;
out:
    /* Closed here, while txn is still open: kn_store_write() commits or aborts it after us. */
    mdb_cursor_close(st.objects);
    mdb_cursor_close(st.by_time);
    mdb_cursor_close(st.by_author);
    mdb_cursor_close(st.by_space_type);
    mdb_cursor_close(st.by_ref);
    free(st.q.k);
    return rc;
}

int kn_store_ingest(kn_store *s, const kn_object *objs, size_t n, int *results, size_t *released)
{
    if (released)
        *released = 0;
    if (!s || (n && (!objs || !results)))
        return KN_EINVAL;
    if (n == 0)
        return 0;
    struct ingest_args a = { objs, n, results, 0 };
    int rc = kn_store_write(s, ingest_txn, &a);
    if (rc < 0)
        return rc;
    if (released)
        *released = a.released;
    return 0;
}

int kn_store_put(
    kn_store *s, const uint8_t *buf, size_t len, uint64_t now_ms, uint8_t id_out[KN_ID])
{
    kn_object o;
    int rc, res;

    if (!s || !buf)
        return KN_EINVAL;
    if ((rc = kn_object_validate(&o, buf, len, now_ms)) < 0)
        return rc;
    if (id_out)
        memcpy(id_out, o.id, KN_ID);
    if ((rc = kn_store_ingest(s, &o, 1, &res, NULL)) < 0)
        return rc;
    return res;
}
