/*
 * Ingest: dedupe, authorisation against the roster, dependency presence, the
 * pending table, retraction and revocation, all inside the one write
 * transaction of a batch.
 *
 * The roster lives in two databases, so that checking an author costs two
 * lookups rather than a replay of every admit:
 *
 *   membership  key -> flags(1) founder_since(8) since(8) revoked_at(8) n(1)
 *                      n x (admitter key(32) admit created(8))
 *   users       user key -> node key(32) cert id(32) revoked_at(8)
 *
 * Both are a pure function of the roster log (store_impl.h): every network,
 * admit, revoke and user object that is stored, or pending only because its
 * author is not a member at its created time. Whenever the log changes,
 * roster_recompute() runs one pass over it in (created, id) order and
 * rewrites both databases from scratch (see there for the rule). A full pass
 * per roster object is affordable because roster objects are few (hundreds
 * per network, against millions of other objects) and arrive rarely; the
 * common path (a thread, a post) only reads the two records. Deriving the
 * roster from created times and ids rather than arrival order makes every
 * node compute the same roster from the same set of roster objects.
 *
 * A membership record exists for every key that founded, was admitted by a
 * member or was revoked. Revocations are kept there for any key (node or
 * user), also before the key is otherwise known, so that the answer does not
 * depend on whether the revoke or the certificate arrived first.
 *
 * Whenever something a pending object might wait for appears (an object id,
 * or a key that becomes a member or a user), the key goes on a work queue;
 * draining the queue re-checks the objects pending on it, and what they in
 * turn make known goes on the queue too.
 */
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "store_impl.h"

enum {
    /* admits kept per node; the rule allows k <= 255 but real k is small */
    KN_ADMITTERS_MAX = KN_ROSTER_ADMITTERS_MAX,
    USER_REC = KN_KEY + KN_ID + 8,
    NETWORK_REC = KN_ID + 8,
    LOG_KEY = 8 + KN_ID,
    /* ingest_one: an admit, revoke or user object ready for the roster pass */
    EVAL_ROSTER = 100,
};

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
    bool node; /* membership: founded or admitted (not only a revoked key) */
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

enum status { ST_MEMBER, ST_UNKNOWN, ST_LATER, ST_REFUSED };

static int keyq_push(keyq *q, const uint8_t k[KN_KEY])
{
    if (q->n == q->cap) {
        void *nk = kn_grow(q->k, &q->cap, 32, KN_KEY);
        if (!nk)
            return KN_ENOMEM;
        q->k = nk;
    }
    memcpy(q->k[q->n++], k, KN_KEY);
    return 0;
}

/* Results that refuse one object without failing the batch. */
static bool per_object_error(int rc)
{
    return rc == KN_EUNAUTH || rc == KN_ELIMIT || rc == KN_ESCHEMA || rc == KN_EEXPIRED
        || rc == KN_ERETRACTED;
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

/* Encodes m as a membership record (layout at the top); returns its length. */
static size_t member_encode(uint8_t *buf, const kn_roster_member *m)
{
    buf[0] = m->founder ? KN_MEMBER_FOUNDER : 0;
    kn_be64_put(buf + 1, m->founder ? m->founder_since : KN_NEVER);
    kn_be64_put(buf + 9, m->member_since);
    kn_be64_put(buf + 17, m->revoked_at);
    buf[25] = (uint8_t)m->nadmits;
    for (uint32_t i = 0; i < m->nadmits; i++) {
        uint8_t *e = buf + KN_MEMBER_HDR + i * KN_MEMBER_ENTRY;
        memcpy(e, m->admitter[i], KN_KEY);
        kn_be64_put(e + KN_KEY, m->admitted_at[i]);
    }
    return KN_MEMBER_HDR + (size_t)m->nadmits * KN_MEMBER_ENTRY;
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

/*
 * The membership of key, from the cache or the database; valid until the
 * next lookup. Only the header is decoded: since and revoked_at are all an
 * author check needs.
 */
static int member_lookup(kn_store *s, MDB_txn *txn, ingest_state *is, const uint8_t key[KN_KEY],
    const roster_entry **out)
{
    roster_entry *e = roster_find(is, key, false);
    if (!e) {
        MDB_val v = { 0, NULL };
        int rc = get_raw(txn, s->db.membership, key, KN_KEY, &v);
        if (rc < 0 && rc != KN_ENOTFOUND)
            return rc;
        const uint8_t *p = v.mv_data;
        if (rc == 0
            && (v.mv_size < KN_MEMBER_HDR || (p[0] & ~KN_MEMBER_FOUNDER) || p[25] > KN_ADMITTERS_MAX
                || v.mv_size != KN_MEMBER_HDR + (size_t)p[25] * KN_MEMBER_ENTRY))
            return KN_ECORRUPT;
        e = roster_slot(is);
        memcpy(e->key, key, KN_KEY);
        e->user = false;
        e->found = rc == 0;
        e->node = e->found && ((p[0] & KN_MEMBER_FOUNDER) || p[25] > 0);
        e->since = e->found ? kn_be64_get(p + 9) : KN_NEVER;
        e->revoked_at = e->found ? kn_be64_get(p + 17) : KN_NEVER;
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
 * membership established so far, and an admit may still arrive. ST_LATER: a
 * member only from a later time; not final either, since under min(k, M) a
 * late admit can move member-since earlier, so such objects wait too (else
 * whether they are kept would depend on the order of arrival). ST_REFUSED
 * is final for this object: revoked at or before t.
 */
static int node_status(
    kn_store *s, MDB_txn *txn, ingest_state *is, const uint8_t key[KN_KEY], uint64_t t, int *st)
{
    const roster_entry *r;
    int rc = member_lookup(s, txn, is, key, &r);
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
        *st = ST_LATER;
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
 * the key whose admit or certificate is missing, or whose membership begins
 * after o->created; KN_EUNAUTH if refused (revoked).
 */
static int check_author(
    kn_store *s, MDB_txn *txn, ingest_state *is, const kn_object *o, uint8_t dep[KN_KEY])
{
    user_rec u;
    int st, rc;

    if ((rc = node_status(s, txn, is, o->author, o->created, &st)) < 0)
        return rc;
    if (st == ST_MEMBER)
        return 0;
    if (st == ST_REFUSED)
        return KN_EUNAUTH;
    if (st == ST_LATER) {
        memcpy(dep, o->author, KN_KEY);
        return KN_PUT_PENDING;
    }
    rc = user_lookup(s, txn, is, o->author, &u);
    if (rc == KN_ENOTFOUND) {
        memcpy(dep, o->author, KN_KEY);
        return KN_PUT_PENDING;
    }
    if (rc < 0)
        return rc;
    if (u.revoked_at != KN_NEVER && u.revoked_at <= o->created)
        return KN_EUNAUTH;
    if ((rc = node_status(s, txn, is, u.node, o->created, &st)) < 0)
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

/*
 * Votes, RSVPs and direct messages come from staff, not from nodes: the
 * author, which check_author has let through, must be a certified user.
 */
static int check_staff(kn_store *s, MDB_txn *txn, ingest_state *is, const kn_object *o)
{
    user_rec u;
    int rc = user_lookup(s, txn, is, o->author, &u);
    return rc == KN_ENOTFOUND ? KN_EUNAUTH : rc;
}

/*
 * The target of a vote or an RSVP (its one ref), which check_refs found
 * stored or tombstoned. A retracted target refuses the object
 * (KN_ERETRACTED): the retraction removed the target's votes and RSVPs too
 * (apply_effects), so whichever came first, none is kept.
 */
static int load_target(kn_store *s, MDB_txn *txn, const kn_object *o, kn_otype want, kn_object *t)
{
    int rc;
    if (exists(txn, s->db.tombstones, o->refs[0]))
        return KN_ERETRACTED;
    if ((rc = kn_store_load(s, txn, s->db.objects, o->refs[0], t)) < 0)
        return rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
    if (t->type != want || t->space_len != o->space_len
        || memcmp(t->space, o->space, o->space_len) != 0)
        return KN_ESCHEMA; /* a vote for a thread, or in another area */
    return 0;
}

/*
 * What the schema cannot check about a ballot, since it needs the poll: every
 * choice names an option, one choice unless the poll allows several, and the
 * ballot was cast (created) by the deadline. All of it depends only on the
 * two objects, so every node decides the same whatever the arrival order.
 */
static int check_vote(kn_store *s, MDB_txn *txn, const kn_object *o)
{
    kn_object poll;
    kn_mp_in in;
    uint32_t noptions, nchoices;
    uint64_t deadline, c;
    bool multiple;
    int rc;

    if ((rc = load_target(s, txn, o, KN_T_POLL, &poll)) < 0)
        return rc;
    if (kn_object_uint(&poll, "deadline", &deadline) < 0
        || kn_object_field(&poll, "multiple", &in) < 0 || kn_mp_read_bool(&in, &multiple) < 0
        || kn_object_field(&poll, "options", &in) < 0 || kn_mp_read_array(&in, &noptions) < 0)
        return KN_ECORRUPT; /* a stored poll passed its schema */
    if (o->created > deadline)
        return KN_EEXPIRED;
    if (kn_object_field(o, "choices", &in) < 0 || kn_mp_read_array(&in, &nchoices) < 0)
        return KN_ESCHEMA;
    if (nchoices > 1 && !multiple)
        return KN_ESCHEMA;
    for (uint32_t i = 0; i < nchoices; i++)
        if (kn_mp_read_uint(&in, &c) < 0 || c >= noptions)
            return KN_ESCHEMA;
    return 0;
}

/*
 * The checks of an admit, revoke or user object before the roster pass,
 * which alone decides whether it counts. Refused for good: an author revoked
 * at or before created, or a user key (users cannot admit, revoke or
 * certify). Pending outside the roster log: an author the roster has never
 * heard of (re-checked when it is admitted), or a missing ref. Otherwise
 * EVAL_ROSTER, also when the author is not (yet) a member at created: a late
 * admit may still make it one, and the pass decides.
 */
static int evaluate_roster(
    kn_store *s, MDB_txn *txn, ingest_state *is, const kn_object *o, uint8_t dep[KN_ID])
{
    const roster_entry *r;
    user_rec u;
    int rc;

    if ((rc = member_lookup(s, txn, is, o->author, &r)) < 0)
        return rc;
    if (r->found && r->revoked_at != KN_NEVER && r->revoked_at <= o->created)
        return KN_EUNAUTH;
    if (!r->node) {
        rc = user_lookup(s, txn, is, o->author, &u);
        if (rc == 0)
            return KN_EUNAUTH;
        if (rc != KN_ENOTFOUND)
            return rc;
        memcpy(dep, o->author, KN_KEY);
        return KN_PUT_PENDING;
    }
    if ((rc = check_refs(s, txn, o, dep)) != 0)
        return rc;
    return EVAL_ROSTER;
}

/*
 * 0: store it; EVAL_ROSTER: hand it to the roster pass; KN_PUT_PENDING with
 * *dep; or a negative code. Dedupe is the caller's.
 */
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
    if (roster_type(o->type))
        return evaluate_roster(s, txn, is, o, dep);
    if ((rc = check_author(s, txn, is, o, dep)) != 0)
        return rc;
    if ((rc = check_refs(s, txn, o, dep)) != 0)
        return rc;
    switch (o->type) {
    case KN_T_RETRACT:
        return check_retract(s, txn, is, o);
    case KN_T_VOTE:
        if ((rc = check_staff(s, txn, is, o)) < 0)
            return rc;
        return check_vote(s, txn, o);
    case KN_T_RSVP: {
        kn_object ev;
        if ((rc = check_staff(s, txn, is, o)) < 0)
            return rc;
        return load_target(s, txn, o, KN_T_EVENT, &ev);
    }
    case KN_T_DM:
        return check_staff(s, txn, is, o);
    default:
        return 0;
    }
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
    if (o->type == KN_T_DOC /* references to its files' blobs, admission, the wanted list */
        && (rc = kn_blob_doc_added(s, txn, o)) < 0)
        return rc;
    if (o->type == KN_T_DM && (rc = kn_dmindex_add(s, txn, o)) < 0)
        return rc;
    return kn_search_add(s, txn, o);
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
    uint8_t oid[KN_ID], *copy = NULL;
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
    /* The blob and search hooks read o and write: each gets a view of a copy, not of a page. */
    if ((rc = kn_store_detach(&o, &copy)) < 0)
        goto out;
    /* A doc takes its blobs with it unless another live doc references them (blobstore.c). */
    if (o.type == KN_T_DOC && (rc = kn_blob_doc_removed(s, txn, &o)) < 0)
        goto out;
    if ((rc = kn_search_remove(s, txn, &o)) < 0 || (rc = kn_dmindex_del(s, txn, &o)) < 0)
        goto out;
    if ((rc = del_raw(txn, s->db.by_time, kt, lt)) < 0 || (rc = kn_negtree_del(s, txn, kt)) < 0
        || (rc = del_raw(txn, s->db.by_author, ka, la)) < 0
        || (rc = del_raw(txn, s->db.by_space_type, ks, ls)) < 0)
        goto out;
    for (uint32_t i = 0; i < nrefs; i++)
        if ((rc = del_raw(txn, s->db.by_ref, kr[i], lr)) < 0)
            goto out;
    rc = del_raw(txn, s->db.objects, oid, KN_ID);
out:
    free(copy);
    return rc;
}

/* Deletes every stored object of type `type` that lists target among its refs (by_ref). */
static int remove_referring(kn_store *s, MDB_txn *txn, const uint8_t target[KN_ID], kn_otype type)
{
    uint8_t(*ids)[KN_ID] = NULL;
    size_t n = 0;
    int rc = kn_store_ref_ids(s, txn, target, type, SIZE_MAX, &ids, &n);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = remove_object(s, txn, ids[i]);
    free(ids);
    return rc;
}

/*
 * Takes what key signed with from <= created < until out of the store once
 * the roster says it was not allowed to, so that the store holds the same
 * set whichever of the roster objects and the others arrived first.
 * to_pending: the key's membership now starts later than it did (a late
 * admit raised M), which a later admit may undo, so the objects wait on key
 * in pending, as they would had they arrived now. Else (a revocation) they
 * are deleted; no tombstone is written, since the ids are refused anyway.
 * Roster objects are left to the roster pass (roster_place).
 */
static int purge_range(kn_store *s, MDB_txn *txn, const uint8_t key[KN_KEY], uint64_t from,
    uint64_t until, bool to_pending)
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
        if (kn_be64_get((const uint8_t *)k.mv_data + KN_KEY) >= until)
            break;
        if (n == cap) {
            void *ni = kn_grow(ids, &cap, 16, KN_ID);
            if (!ni) {
                rc = KN_ENOMEM;
                goto out;
            }
            ids = ni;
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
        if (to_pending) {
            uint8_t pkey[KN_KEY + KN_ID], *copy;
            memcpy(pkey, key, KN_KEY);
            memcpy(pkey + KN_KEY, ids[i], KN_ID);
            /* o points into a page that a write may move: copy it first. */
            if (!(copy = malloc(o.raw_len))) {
                rc = KN_ENOMEM;
                goto out;
            }
            memcpy(copy, o.raw, o.raw_len);
            rc = put_raw(txn, s->db.pending, ids[i], KN_ID, copy, o.raw_len);
            free(copy);
            if (rc < 0 || (rc = put_raw(txn, s->db.pending_by_dep, pkey, sizeof pkey, "", 0)) < 0)
                goto out;
        }
        if ((rc = remove_object(s, txn, ids[i])) < 0)
            goto out;
    }
out:
    mdb_cursor_close(c);
    free(ids);
    return rc;
}

/*
 * What storing o changes beyond its own record, other than the roster (the
 * roster pass does that): the network record, tombstones.
 */
static int apply_effects(kn_store *s, MDB_txn *txn, const kn_object *o)
{
    int rc;

    switch (o->type) {
    case KN_T_NETWORK: {
        uint64_t k;
        uint8_t rec[NETWORK_REC];
        if (kn_object_uint(o, "admit", &k) < 0 || k < 1 || k > 255)
            return KN_ESCHEMA;
        memcpy(rec, o->id, KN_ID);
        kn_be64_put(rec + KN_ID, k);
        return put_raw(txn, s->db.meta, (const uint8_t *)"network", 7, rec, sizeof rec);
    }
    case KN_T_RETRACT: {
        uint8_t target[KN_ID], tomb[KN_ID + 8];
        kn_object t;
        memcpy(target, o->refs[0], KN_ID);
        if (exists(txn, s->db.tombstones, target))
            return 0;
        if ((rc = kn_store_load(s, txn, s->db.objects, target, &t)) < 0)
            return rc;
        if (t.type == KN_T_POLL || t.type == KN_T_EVENT) {
            /* Its ballots or RSVPs go with it; check_vote refuses later ones. */
            kn_otype dep = t.type == KN_T_POLL ? KN_T_VOTE : KN_T_RSVP;
            if ((rc = remove_referring(s, txn, target, dep)) < 0)
                return rc;
        }
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

/* ---- the roster pass ---- */

/* Where the pass puts one roster object. */
enum place { PLACE_STORED, PLACE_PENDING, PLACE_DROPPED };

typedef struct log_entry {
    uint8_t key[LOG_KEY]; /* created(8) id(32), its key in the roster log */
    uint8_t author[KN_KEY];
    uint64_t created;
    bool counted;
} log_entry;

/* A whole roster: as the pass computes it, or as the databases held it before. */
typedef struct roster {
    kn_roster_member *m;
    size_t nm, capm;
    kn_roster_user *u;
    size_t nu, capu;
} roster;

/*
 * [lo, hi): the times at which a key may sign; lo == KN_NEVER when there are
 * none. cut: from then on it never may (a revocation); hi == cut unless empty.
 */
typedef struct ival {
    uint64_t lo, hi, cut;
} ival;

static void roster_free(roster *r)
{
    free(r->m);
    free(r->u);
}

/* Linear scans: a network has hundreds of keys, and the pass runs only for roster objects. */
static kn_roster_member *roster_member(const roster *r, const uint8_t key[KN_KEY])
{
    for (size_t i = 0; i < r->nm; i++)
        if (memcmp(r->m[i].key, key, KN_KEY) == 0)
            return &r->m[i];
    return NULL;
}

static kn_roster_user *roster_user(const roster *r, const uint8_t key[KN_KEY])
{
    for (size_t i = 0; i < r->nu; i++)
        if (memcmp(r->u[i].key, key, KN_KEY) == 0)
            return &r->u[i];
    return NULL;
}

/* A new, empty slot at the end of the array (elements of size elem); NULL if out of memory. */
static void *grow(void **arr, size_t *n, size_t *cap, size_t elem)
{
    if (*n == *cap) {
        void *na = kn_grow(*arr, cap, 16, elem);
        if (!na)
            return NULL;
        *arr = na;
    }
    uint8_t *slot = (uint8_t *)*arr + (*n)++ * elem;
    memset(slot, 0, elem);
    return slot;
}

/* The record of key, added empty if absent; NULL if out of memory. Moves earlier records. */
static kn_roster_member *roster_member_add(roster *r, const uint8_t key[KN_KEY])
{
    kn_roster_member *m = roster_member(r, key);
    if (m)
        return m;
    if (!(m = grow((void **)&r->m, &r->nm, &r->capm, sizeof *m)))
        return NULL;
    memcpy(m->key, key, KN_KEY);
    m->founder_since = m->member_since = m->revoked_at = KN_NEVER;
    return m;
}

static ival ival_make(uint64_t lo, uint64_t hi)
{
    if (lo == KN_NEVER || lo >= hi)
        return (ival) { KN_NEVER, KN_NEVER, hi };
    return (ival) { lo, hi, hi };
}

/*
 * When key may sign an object that is not a roster object, as check_author
 * decides it: a node from its member-since until its revocation; a user
 * while its node is a member and its certificate is not revoked.
 */
static ival key_ival(const roster *r, const uint8_t key[KN_KEY])
{
    const kn_roster_member *m = roster_member(r, key);
    if (m && m->member_since != KN_NEVER)
        return ival_make(m->member_since, m->revoked_at);
    const kn_roster_user *u = roster_user(r, key);
    const kn_roster_member *n = u ? roster_member(r, u->node) : NULL;
    uint64_t cut = m ? m->revoked_at : KN_NEVER; /* a user's revocation is kept under its key */
    if (n && n->revoked_at < cut)
        cut = n->revoked_at;
    return ival_make(n ? n->member_since : KN_NEVER, cut);
}

/* Reads the membership and users databases as they are (before a pass rewrites them). */
static int roster_read(kn_store *s, MDB_txn *txn, roster *r)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc, mrc;

    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.membership, &c))) < 0)
        return rc;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kn_roster_member *m = grow((void **)&r->m, &r->nm, &r->capm, sizeof *m);
        if (!m) {
            rc = KN_ENOMEM;
            goto out;
        }
        if (k.mv_size != KN_KEY
            || (rc = kn_member_decode(k.mv_data, v.mv_data, v.mv_size, m)) < 0) {
            rc = KN_ECORRUPT;
            goto out;
        }
    }
    if (mrc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(mrc);
        goto out;
    }
    mdb_cursor_close(c);
    c = NULL;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.users, &c))) < 0)
        return rc;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kn_roster_user *u = grow((void **)&r->u, &r->nu, &r->capu, sizeof *u);
        if (!u) {
            rc = KN_ENOMEM;
            goto out;
        }
        if (k.mv_size != KN_KEY || v.mv_size != USER_REC) {
            rc = KN_ECORRUPT;
            goto out;
        }
        const uint8_t *p = v.mv_data;
        memcpy(u->key, k.mv_data, KN_KEY);
        memcpy(u->node, p, KN_KEY);
        memcpy(u->cert, p + KN_KEY, KN_ID);
        u->revoked_at = kn_be64_get(p + KN_KEY + KN_ID);
    }
    rc = mrc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(mrc);
out:
    mdb_cursor_close(c);
    return rc;
}

/* Replaces the membership and users databases with r. */
static int roster_write(kn_store *s, MDB_txn *txn, const roster *r)
{
    uint8_t buf[KN_MEMBER_HDR + KN_ADMITTERS_MAX * KN_MEMBER_ENTRY];
    int rc;

    if ((rc = kn_store_mdb_err(mdb_drop(txn, s->db.membership, 0))) < 0
        || (rc = kn_store_mdb_err(mdb_drop(txn, s->db.users, 0))) < 0)
        return rc;
    for (size_t i = 0; i < r->nm; i++) {
        size_t len = member_encode(buf, &r->m[i]);
        if ((rc = put_raw(txn, s->db.membership, r->m[i].key, KN_KEY, buf, len)) < 0)
            return rc;
    }
    for (size_t i = 0; i < r->nu; i++) {
        user_rec u;
        memcpy(u.node, r->u[i].node, KN_KEY);
        memcpy(u.cert, r->u[i].cert, KN_ID);
        u.revoked_at = r->u[i].revoked_at;
        if ((rc = user_put(s, txn, r->u[i].key, &u)) < 0)
            return rc;
    }
    return 0;
}

/*
 * The admission rule, as one pass over the roster log in (created, id)
 * order. Each object is judged by the roster that the objects before it
 * built, so the result depends only on the set of objects in the log:
 *
 * - an object counts if its author is a member at its created time (the
 *   network object: if it is the network this store serves);
 * - network: its author is a founder and a member from its created time;
 * - admit of X by a member other than X: the author joins X's admitters
 *   (each node once, with its earliest counting admit). X, not a member yet,
 *   becomes one at this admit's time once it has min(k, M) admitters, where
 *   M is the number of members at that time (by the objects before this
 *   one, not revoked by then), not counting X. So the first council of a
 *   network with one founder and k = 2 is admitted by the founder alone, the
 *   next needs two signatures;
 * - revoke of a key: its membership ends at the revoke's time (the earliest
 *   counting revoke);
 * - user: the earliest counting certificate of a user key stands.
 *
 * An admit that arrives late with an earlier time can change M for every
 * later admit, so a node's member-since can move later as well as earlier;
 * roster_diff() removes what that leaves unauthorised. Cost: O(E * N) for E
 * roster objects and N keys (linear lookups, and the count of M per admit),
 * a few hundred thousand steps for a network of hundreds of councils. That
 * is why the whole roster is recomputed per roster object rather than
 * patched.
 */
static int roster_pass(kn_store *s, MDB_txn *txn, roster *r, log_entry **ents, size_t *nents)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;
    uint8_t net[KN_ID];
    uint64_t rule_k = 0;
    size_t cap = 0;
    int rc, mrc;

    *ents = NULL;
    *nents = 0;
    rc = network_get(s, txn, net, &rule_k);
    if (rc < 0 && rc != KN_ENOTFOUND)
        return rc;
    bool have_net = rc == 0; /* without a network nothing counts */
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.roster, &c))) < 0)
        return rc;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kn_object o;
        const uint8_t *key;
        if (k.mv_size != LOG_KEY || kn_object_decode(&o, v.mv_data, v.mv_size) < 0
            || memcmp(o.id, (const uint8_t *)k.mv_data + 8, KN_ID) != 0
            || kn_be64_get(k.mv_data) != o.created || !roster_type(o.type)) {
            rc = KN_ECORRUPT;
            goto out;
        }
        log_entry *e = grow((void **)ents, nents, &cap, sizeof *e);
        if (!e) {
            rc = KN_ENOMEM;
            goto out;
        }
        memcpy(e->key, k.mv_data, LOG_KEY);
        memcpy(e->author, o.author, KN_KEY);
        e->created = o.created;
        if (o.type == KN_T_NETWORK) {
            e->counted = have_net && memcmp(o.id, net, KN_ID) == 0;
        } else {
            const kn_roster_member *a = roster_member(r, o.author);
            e->counted = a && kn_roster_member_at(a, o.created);
        }
        if (!e->counted)
            continue;
        switch (o.type) {
        case KN_T_NETWORK: {
            kn_roster_member *m = roster_member_add(r, o.author);
            if (!m) {
                rc = KN_ENOMEM;
                goto out;
            }
            m->founder = true;
            if (o.created < m->founder_since)
                m->founder_since = o.created;
            if (o.created < m->member_since)
                m->member_since = o.created;
            break;
        }
        case KN_T_ADMIT: {
            if (body_key(&o, "node", &key) < 0) {
                rc = KN_ECORRUPT; /* it passed the schema on the way in */
                goto out;
            }
            if (memcmp(key, o.author, KN_KEY) == 0)
                break; /* a member admitting itself changes nothing */
            kn_roster_member *x = roster_member_add(r, key);
            if (!x) {
                rc = KN_ENOMEM;
                goto out;
            }
            uint32_t i;
            for (i = 0; i < x->nadmits; i++)
                if (memcmp(x->admitter[i], o.author, KN_KEY) == 0)
                    break;
            if (i < x->nadmits || x->nadmits >= KN_ADMITTERS_MAX)
                break; /* this admitter counted already */
            memcpy(x->admitter[x->nadmits], o.author, KN_KEY);
            x->admitted_at[x->nadmits++] = o.created;
            if (x->member_since != KN_NEVER)
                break;
            uint64_t members = 0;
            for (size_t j = 0; j < r->nm; j++)
                if (&r->m[j] != x && kn_roster_member_at(&r->m[j], o.created))
                    members++;
            uint64_t need = members < rule_k ? members : rule_k;
            if (x->nadmits >= (need ? need : 1))
                x->member_since = o.created;
            break;
        }
        case KN_T_REVOKE: {
            if (body_key(&o, "key", &key) < 0) {
                rc = KN_ECORRUPT;
                goto out;
            }
            kn_roster_member *y = roster_member_add(r, key);
            if (!y) {
                rc = KN_ENOMEM;
                goto out;
            }
            if (o.created < y->revoked_at)
                y->revoked_at = o.created;
            break;
        }
        case KN_T_USER: {
            if (body_key(&o, "key", &key) < 0) {
                rc = KN_ECORRUPT;
                goto out;
            }
            if (roster_user(r, key))
                break; /* the earliest certificate stands */
            kn_roster_user *u = grow((void **)&r->u, &r->nu, &r->capu, sizeof *u);
            if (!u) {
                rc = KN_ENOMEM;
                goto out;
            }
            memcpy(u->key, key, KN_KEY);
            memcpy(u->node, o.author, KN_KEY);
            memcpy(u->cert, o.id, KN_ID);
            break;
        }
        default:
            break;
        }
    }
    if (mrc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(mrc);
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < r->nu; i++) { /* a user's revocation is kept under its key */
        const kn_roster_member *m = roster_member(r, r->u[i].key);
        r->u[i].revoked_at = m ? m->revoked_at : KN_NEVER;
    }
out:
    mdb_cursor_close(c);
    return rc;
}

/* A malloc'd copy of the roster log entry at key, decoded into o. */
static int log_load(
    kn_store *s, MDB_txn *txn, const uint8_t key[LOG_KEY], uint8_t **buf, kn_object *o)
{
    MDB_val v;
    int rc = get_raw(txn, s->db.roster, key, LOG_KEY, &v);
    if (rc < 0)
        return rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
    if (!(*buf = malloc(v.mv_size)))
        return KN_ENOMEM;
    memcpy(*buf, v.mv_data, v.mv_size);
    if (kn_object_decode(o, *buf, v.mv_size) < 0)
        return KN_ECORRUPT;
    return 0;
}

/*
 * Puts every roster object where the pass says it belongs: one that counts
 * in objects; one whose author is not a member at its time in pending,
 * waiting on its author (a later pass may count it); one whose author is
 * revoked by its time nowhere, which is what a newly arriving one gets.
 * Objects that move into objects are released like any pending object.
 * trigger, if not NULL, is the log key of the object being ingested, and
 * *placed receives where it went.
 */
static int roster_place(kn_store *s, MDB_txn *txn, ingest_state *st, const roster *r,
    const log_entry *ents, size_t n, const uint8_t *trigger, enum place *placed)
{
    uint8_t *buf = NULL;
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0; i++) {
        const log_entry *e = &ents[i];
        const uint8_t *id = e->key + 8;
        const kn_roster_member *a = roster_member(r, e->author);
        enum place want = e->counted           ? PLACE_STORED
            : a && a->revoked_at <= e->created ? PLACE_DROPPED
                                               : PLACE_PENDING;
        bool is_trigger = trigger && memcmp(trigger, e->key, LOG_KEY) == 0;
        bool in_obj = exists(txn, s->db.objects, id);
        bool in_pend = !in_obj && exists(txn, s->db.pending, id);
        uint8_t pkey[KN_KEY + KN_ID];
        kn_object o;

        if (is_trigger)
            *placed = want;
        memcpy(pkey, e->author, KN_KEY);
        memcpy(pkey + KN_KEY, id, KN_ID);
        switch (want) {
        case PLACE_STORED:
            if (in_obj)
                break;
            if ((rc = log_load(s, txn, e->key, &buf, &o)) < 0)
                break;
            if (in_pend
                && ((rc = del_raw(txn, s->db.pending, id, KN_ID)) < 0
                    || (rc = del_raw(txn, s->db.pending_by_dep, pkey, sizeof pkey)) < 0))
                break;
            if ((rc = store_object(s, txn, st, &o)) < 0 || (rc = keyq_push(&st->q, id)) < 0)
                break;
            if (in_pend && !is_trigger)
                st->released++;
            break;
        case PLACE_PENDING:
            if (in_obj && (rc = remove_object(s, txn, id)) < 0)
                break;
            if (!in_pend) {
                if ((rc = log_load(s, txn, e->key, &buf, &o)) < 0
                    || (rc = put_raw(txn, s->db.pending, id, KN_ID, o.raw, o.raw_len)) < 0)
                    break;
            }
            rc = put_raw(txn, s->db.pending_by_dep, pkey, sizeof pkey, "", 0);
            break;
        case PLACE_DROPPED:
            if (in_obj && (rc = remove_object(s, txn, id)) < 0)
                break;
            if (in_pend && (rc = del_raw(txn, s->db.pending, id, KN_ID)) < 0)
                break;
            rc = del_raw(txn, s->db.roster, e->key, LOG_KEY);
            break;
        }
        free(buf);
        buf = NULL;
    }
    return rc;
}

static bool member_same(const kn_roster_member *a, const kn_roster_member *b)
{
    uint8_t ea[KN_MEMBER_HDR + KN_ADMITTERS_MAX * KN_MEMBER_ENTRY];
    uint8_t eb[sizeof ea];
    if (!a || !b)
        return a == b;
    size_t la = member_encode(ea, a), lb = member_encode(eb, b);
    return la == lb && memcmp(ea, eb, la) == 0;
}

static bool user_same(const kn_roster_user *a, const kn_roster_user *b)
{
    if (!a || !b)
        return a == b;
    return memcmp(a->node, b->node, KN_KEY) == 0 && memcmp(a->cert, b->cert, KN_ID) == 0
        && a->revoked_at == b->revoked_at;
}

/* Diffs one key between the roster before and after a pass; see roster_diff. */
static int key_diff(kn_store *s, MDB_txn *txn, ingest_state *st, const roster *old,
    const roster *nw, const uint8_t key[KN_KEY])
{
    ival a = key_ival(old, key), b = key_ival(nw, key);
    bool shrank = a.lo != KN_NEVER && (b.lo == KN_NEVER || a.lo < b.lo || a.hi > b.hi);
    bool grew = b.lo != KN_NEVER && (a.lo == KN_NEVER || b.lo < a.lo || b.hi > a.hi);
    int rc;

    if (shrank) {
        /* Before the new start: may come back, so pending. From the revocation on: gone. */
        uint64_t wait_until = b.lo == KN_NEVER ? b.cut : b.lo;
        if ((rc = purge_range(s, txn, key, 0, wait_until, true)) < 0)
            return rc;
        if (b.cut != KN_NEVER && (rc = purge_range(s, txn, key, b.cut, KN_NEVER, false)) < 0)
            return rc;
    }
    if (grew || !member_same(roster_member(old, key), roster_member(nw, key))
        || !user_same(roster_user(old, key), roster_user(nw, key)))
        return keyq_push(&st->q, key);
    return 0;
}

/*
 * After a pass: every key whose signing interval (key_ival) lost time loses
 * what it signed there, as a revocation always did (a node's users go with
 * it, since their interval is part of the node's); every key whose records
 * changed goes on the work queue, so that what waits for it is checked again
 * (an interval that grew releases objects; a new admit can make an unknown
 * author known).
 */
static int roster_diff(
    kn_store *s, MDB_txn *txn, ingest_state *st, const roster *old, const roster *nw)
{
    const roster *rs[2] = { old, nw };
    int rc = 0;

    for (int w = 0; w < 2 && rc == 0; w++) {
        for (size_t i = 0; i < rs[w]->nm && rc == 0; i++)
            if (w == 0 || !roster_member(old, rs[w]->m[i].key))
                rc = key_diff(s, txn, st, old, nw, rs[w]->m[i].key);
        for (size_t i = 0; i < rs[w]->nu && rc == 0; i++) {
            const uint8_t *key = rs[w]->u[i].key;
            bool seen = roster_member(old, key) || (w == 1 && roster_member(nw, key))
                || (w == 1 && roster_user(old, key));
            if (!seen)
                rc = key_diff(s, txn, st, old, nw, key);
        }
    }
    return rc;
}

/*
 * Recomputes the roster from the roster log: the pass, the new membership
 * and users records, the placement of every roster object, and the
 * consequences for everything else. fresh: the databases hold no usable
 * records (a migration), so nothing is compared and every key is queued.
 */
static int roster_recompute(kn_store *s, MDB_txn *txn, ingest_state *st, bool fresh,
    const uint8_t *trigger, enum place *placed)
{
    roster old, nw;
    log_entry *ents = NULL;
    size_t n = 0;
    int rc;

    memset(&old, 0, sizeof old);
    memset(&nw, 0, sizeof nw);
    if (!fresh && (rc = roster_read(s, txn, &old)) < 0)
        goto out;
    if ((rc = roster_pass(s, txn, &nw, &ents, &n)) < 0)
        goto out;
    if ((rc = roster_write(s, txn, &nw)) < 0)
        goto out;
    roster_forget(st);
    if ((rc = roster_place(s, txn, st, &nw, ents, n, trigger, placed)) < 0)
        goto out;
    rc = roster_diff(s, txn, st, &old, &nw);
out:
    free(ents);
    roster_free(&old);
    roster_free(&nw);
    return rc;
}

static void log_key(uint8_t key[LOG_KEY], const kn_object *o)
{
    kn_be64_put(key, o->created);
    memcpy(key + 8, o->id, KN_ID);
}

static bool in_log(kn_store *s, MDB_txn *txn, const kn_object *o)
{
    uint8_t key[LOG_KEY];
    MDB_val v;
    log_key(key, o);
    return get_raw(txn, s->db.roster, key, LOG_KEY, &v) == 0;
}

/*
 * Adds an admit, revoke or user object that passed evaluate_roster() to the
 * roster log and lets the pass place it. Returns what happened to it.
 */
static int ingest_roster(
    kn_store *s, MDB_txn *txn, ingest_state *st, const kn_object *o, bool from_pending)
{
    uint8_t key[LOG_KEY];
    enum place placed = PLACE_DROPPED;
    int rc;

    log_key(key, o);
    if ((rc = put_raw(txn, s->db.roster, key, LOG_KEY, o->raw, o->raw_len)) < 0)
        return rc;
    if ((rc = roster_recompute(s, txn, st, false, key, &placed)) < 0)
        return rc;
    switch (placed) {
    case PLACE_STORED:
        if (from_pending)
            st->released++;
        return KN_PUT_STORED;
    case PLACE_PENDING:
        return KN_PUT_PENDING;
    default:
        return KN_EUNAUTH;
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
    else if (roster_type(o->type) && in_log(s, txn, o)) {
        /* Pending in the roster log: only the roster pass moves it; wait on the author again. */
        if (!from_pending)
            return KN_PUT_DUPLICATE;
        memcpy(pkey, o->author, KN_KEY);
        memcpy(pkey + KN_KEY, o->id, KN_ID);
        if ((rc = put_raw(txn, s->db.pending_by_dep, pkey, sizeof pkey, "", 0)) < 0)
            return rc;
        return KN_PUT_PENDING;
    } else
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
    if (res == EVAL_ROSTER) /* it stays in pending, if it is there, until the pass moves it */
        return ingest_roster(s, txn, st, o, from_pending);
    if (from_pending && (rc = del_raw(txn, s->db.pending, o->id, KN_ID)) < 0)
        return rc;
    if (res != 0)
        return res;

    if ((rc = store_object(s, txn, st, o)) < 0)
        return rc;
    if (o->type == KN_T_NETWORK)
        roster_forget(st); /* apply_effects writes the network record the caches hold */
    if ((rc = apply_effects(s, txn, o)) < 0)
        return rc; /* even KN_ESCHEMA: the object is half-applied, so the batch must go */
    if (o->type == KN_T_NETWORK) {
        uint8_t key[LOG_KEY];
        log_key(key, o);
        if ((rc = put_raw(txn, s->db.roster, key, LOG_KEY, o->raw, o->raw_len)) < 0
            || (rc = roster_recompute(s, txn, st, false, NULL, NULL)) < 0)
            return rc;
    }
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
            void *ni = kn_grow(*ids, &cap, 8, KN_ID);
            if (!ni) {
                rc = KN_ENOMEM;
                goto out;
            }
            *ids = ni;
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

static int state_open(kn_store *s, MDB_txn *txn, ingest_state *st)
{
    int rc;
    memset(st, 0, sizeof *st);
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.objects, &st->objects))) < 0
        || (rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_time, &st->by_time))) < 0
        || (rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_author, &st->by_author))) < 0
        || (rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_space_type, &st->by_space_type)))
            < 0
        || (rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_ref, &st->by_ref))) < 0)
        return rc;
    return 0;
}

/* Closes the cursors while txn is still open: kn_store_write() commits or aborts it after us. */
static void state_close(ingest_state *st)
{
    mdb_cursor_close(st->objects);
    mdb_cursor_close(st->by_time);
    mdb_cursor_close(st->by_author);
    mdb_cursor_close(st->by_space_type);
    mdb_cursor_close(st->by_ref);
    free(st->q.k);
}

static int ingest_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct ingest_args *a = ctx;
    ingest_state st;
    int rc = 0;

    a->released = 0;
    if ((rc = state_open(s, txn, &st)) < 0)
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
    state_close(&st);
    return rc;
}

/* Copies every stored object of one roster type into the roster log (by_space_type, space ""). */
static int log_fill(kn_store *s, MDB_txn *txn, kn_otype type)
{
    MDB_cursor *c = NULL;
    uint8_t prefix[2] = { 0, (uint8_t)type }, (*ids)[KN_ID] = NULL;
    size_t n = 0, cap = 0;
    MDB_val k = { sizeof prefix, prefix }, v;
    int rc, mrc;

    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_space_type, &c))) < 0)
        return rc;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < 2 || memcmp(k.mv_data, prefix, 2) != 0)
            break;
        if (k.mv_size != 2 + 8 + KN_ID) {
            rc = KN_ECORRUPT;
            goto out;
        }
        uint8_t(*slot)[KN_ID] = grow((void **)&ids, &n, &cap, KN_ID);
        if (!slot) {
            rc = KN_ENOMEM;
            goto out;
        }
        memcpy(*slot, (const uint8_t *)k.mv_data + 2 + 8, KN_ID);
    }
    if (mrc != MDB_NOTFOUND && mrc != 0) {
        rc = kn_store_mdb_err(mrc);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        kn_object o;
        uint8_t key[LOG_KEY], *copy;
        if ((rc = kn_store_load(s, txn, s->db.objects, ids[i], &o)) < 0) {
            rc = rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
            goto out;
        }
        log_key(key, &o);
        if (!(copy = malloc(o.raw_len))) {
            rc = KN_ENOMEM;
            goto out;
        }
        memcpy(copy, o.raw, o.raw_len);
        rc = put_raw(txn, s->db.roster, key, LOG_KEY, copy, o.raw_len);
        free(copy);
        if (rc < 0)
            goto out;
    }
    rc = 0;
out:
    mdb_cursor_close(c);
    free(ids);
    return rc;
}

/*
 * Schema 2 -> 3: the roster log starts as the stored roster objects, the
 * pass computes the records in the new layout, and every key it knows is
 * queued, so pending objects the new rule admits (roster objects among them,
 * which then join the log) are released here. Under schema 2 every stored
 * roster object was signed by a member, and min(k, M) <= k only admits
 * earlier, so nothing that was valid becomes invalid.
 */
int kn_roster_rebuild(kn_store *s, MDB_txn *txn)
{
    static const kn_otype types[] = { KN_T_NETWORK, KN_T_ADMIT, KN_T_REVOKE, KN_T_USER };
    ingest_state st;
    int rc;

    if ((rc = state_open(s, txn, &st)) < 0)
        goto out;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if ((rc = log_fill(s, txn, types[i])) < 0)
            goto out;
    if ((rc = roster_recompute(s, txn, &st, true, NULL, NULL)) < 0)
        goto out;
    rc = drain(s, txn, &st);
out:
    state_close(&st);
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
