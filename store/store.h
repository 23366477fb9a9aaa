/*
 * The store: one LMDB environment per node holding every replicated object,
 * its indexes, tombstones, pending objects and membership state, plus local
 * settings that never replicate. store/ is the only module that includes
 * <lmdb.h>; nothing outside sees an LMDB type or code.
 *
 * Ingest is all-or-nothing per batch: one write transaction per batch of
 * arrivals. Objects arrive already validated by kn_object_validate() (so the
 * expensive signature checks can run on many threads first); the store adds
 * what needs the store: dedupe, tombstones, author authorisation and
 * dependency presence. An object whose dependencies are missing is kept in
 * the pending table and ingested when they arrive, in the same transaction.
 *
 * Callers: the node (replication, HTTP), the command line, tests, benchmarks.
 *
 * Threads: one kn_store may be used by one thread at a time (the caller
 * serialises; the store takes no locks). It may move between threads. The
 * store is the only writer of its environment: when the map is full, a write
 * aborts, doubles the map (which LMDB allows only while no transaction of the
 * process is open) and retries. So a visitor must not write to the store it
 * is iterating (reads such as kn_store_get are fine), and two kn_store handles
 * must not be open on one directory. One exception: a second thread may store
 * blob chunks with kn_blob_put_batch_bg (blobstore.h) meanwhile; it never
 * changes the map size (a lock orders it with the owner's map growth) and
 * leaves the search index to the owner.
 *
 * Authorisation (membership and users databases, recomputed from all roster
 * objects whenever one is stored): the first network object defines the
 * network and makes its author a member from its created time; a node is a
 * member once min(k, M) distinct members signed an admit for it (k = the
 * network's "admit", M = the members at that admit's time, not counting the
 * candidate), until a revoke of its key; users are certified by member nodes
 * and may sign while their certificate is not revoked and their node is a
 * member. An author not known yet makes an object pending (its admit or
 * certificate may still arrive); an author known not to be allowed at
 * `created` gets KN_EUNAUTH. When a key's membership shrinks (a revoke, or a
 * late admit that raises M for later admits) what it and its users signed
 * outside it is removed, so the result does not depend on arrival order.
 * Roster objects whose author is not a member at their time stay pending
 * (they count once it is), and are dropped once it is revoked by then.
 * A retract is allowed from the target's author or the node that certified
 * it; roster objects (network, admit, revoke, user) cannot be retracted.
 */
#ifndef KN_STORE_H
#define KN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "object.h"

/*
 * 2: adds the Negentropy tree (negtree.h). 3: adds the roster log and stores
 * member-since (admission rule min(k, M)). 4: adds blob storage (blobstore.h).
 * 5: adds the search index (search.h). 6: the index maps (created, id) to its
 * object numbers instead of the id alone. 7: adds the direct-message index
 * (kn_store_mailbox). Older stores are migrated on open.
 */
enum { KN_STORE_SCHEMA_VERSION = 7 };

typedef struct kn_store kn_store;

typedef struct kn_store_options {
    size_t initial_map_size; /* bytes; 0: 64 MiB. The map grows by itself when full. */
    bool no_sync; /* tests and benchmarks only: skip fsync at commit */
    size_t pending_max; /* pending objects held at most; 0: 100,000. Beyond: KN_ELIMIT */
    /*
     * Bytes the map may grow to (the quota); 0: no limit. A write that needs
     * more fails with KN_EMAPFULL and changes nothing (test_store_faults).
     */
    size_t max_map_size;
    /*
     * Called during long work in kn_store_open (building the search index of
     * an older store): done of total objects, after each step. May be NULL.
     */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
} kn_store_options;

/*
 * Opens (creating if needed) the store in directory dir, which must exist.
 * Checks the stored schema version: KN_ESCHEMAVER if it is newer than ours.
 * Migrates an older store; building its search index may take a while
 * (opt->progress reports it, and an interrupted build resumes on the next
 * open). opt may be NULL for defaults.
 */
KN_MUST_USE int kn_store_open(kn_store **out, const char *dir, const kn_store_options *opt);
void kn_store_close(kn_store *s);

/* What happened to one object on ingest (non-negative), or a negative KN_E... code. */
enum kn_put_result {
    KN_PUT_STORED = 1, /* new, valid, stored and indexed */
    KN_PUT_DUPLICATE = 2, /* already stored, or already pending */
    KN_PUT_PENDING = 3, /* author certificate or a ref missing: held until it arrives */
    KN_PUT_TOMBSTONED = 4, /* this id was retracted; content not stored */
};

/*
 * Ingests n validated objects in one write transaction. objs (and the bytes
 * they point to) are borrowed for the call; results has n entries. results[i] receives
 * a kn_put_result or a negative code for object i (KN_EUNAUTH: the author is
 * known not to be allowed). Pending objects whose dependencies arrive in this
 * batch are released in the same transaction. Returns 0, or a negative code
 * if the transaction itself failed (then nothing of the batch is stored).
 * released, if not NULL, receives how many pending objects were released.
 */
KN_MUST_USE int kn_store_ingest(
    kn_store *s, const kn_object *objs, size_t n, int *results, size_t *released);
/*
 * results[i] is what happened to object i when its turn came: an object that
 * went pending and was released later in the same batch reads KN_PUT_PENDING
 * and is counted in *released. Per-object refusals are KN_EUNAUTH and
 * KN_ELIMIT (the pending table is full: try again once dependencies arrived).
 */

/*
 * Validates (kn_object_validate at now_ms) and ingests one encoded object
 * (buf borrowed). Returns a kn_put_result or a negative code; id_out, if not
 * NULL, receives the id once the object decoded.
 */
KN_MUST_USE int kn_store_put(
    kn_store *s, const uint8_t *buf, size_t len, uint64_t now_ms, uint8_t id_out[KN_ID]);

/* A malloc'd copy of the object's bytes (caller frees); KN_ENOTFOUND, KN_ERETRACTED. */
KN_MUST_USE int kn_store_get(kn_store *s, const uint8_t id[KN_ID], uint8_t **buf, size_t *len);
/*
 * A number that changes whenever a write transaction commits to the store,
 * by this process or another one on the same data directory (the CLI):
 * LMDB's last committed transaction id. Something computed from the store
 * and tagged with the generation read before computing it is still current
 * while the generation is unchanged (the HTTP listing cache). 0 on error.
 */
uint64_t kn_store_generation(kn_store *s);
/* 1 if stored, 0 if not; tombstoned and pending ids count as not stored. */
int kn_store_has(kn_store *s, const uint8_t id[KN_ID]);
/* 1 if the id is tombstoned. */
int kn_store_is_tombstoned(kn_store *s, const uint8_t id[KN_ID]);
/*
 * For each of ids[0..n): known[i] = 1 if it is stored or tombstoned (an id
 * the node must never fetch again), else 0 (pending counts as not stored).
 * One read transaction for all of them, where kn_store_has and
 * kn_store_is_tombstoned take one each: replication asks this for every
 * id a reconciliation found or a peer wants. 0, or a negative code (then
 * known is unspecified).
 */
KN_MUST_USE int kn_store_known(kn_store *s, const uint8_t *const *ids, size_t n, uint8_t *known);
/*
 * kn_store_known, and pending ids count too: held[i] = 1 if fetching ids[i]
 * again would bring nothing (stored, tombstoned, or held as pending until
 * what it needs arrives; the store releases it then by itself).
 */
KN_MUST_USE int kn_store_held(kn_store *s, const uint8_t *const *ids, size_t n, uint8_t *held);

/*
 * Visitor for iteration. o and its bytes are valid only during the call
 * (they point into the read transaction). Return 0 to go on, 1 to stop; a
 * negative return stops too and is returned by the iterating function.
 */
typedef int (*kn_store_visit_fn)(void *ctx, const kn_object *o);

/*
 * A query; zero fields do not filter. Results come in (created, id) order.
 * author, space and ref are borrowed for the call.
 */
typedef struct kn_store_query {
    enum { KN_BY_TIME, KN_BY_AUTHOR, KN_BY_SPACE_TYPE, KN_BY_REF } index;
    uint64_t since_ms; /* inclusive */
    uint64_t until_ms; /* exclusive; 0: no bound */
    const uint8_t *author; /* KN_BY_AUTHOR */
    const char *space; /* KN_BY_SPACE_TYPE: NUL-terminated, "" is the empty space; NULL
                          with a type: that type in every space (one seek per space) */
    kn_otype type; /* KN_BY_SPACE_TYPE, KN_BY_REF (0: any type) */
    const uint8_t *ref; /* KN_BY_REF: objects listing this id in refs */
    bool reverse; /* newest first */
} kn_store_query;

KN_MUST_USE int kn_store_each(
    kn_store *s, const kn_store_query *q, kn_store_visit_fn fn, void *ctx);

/*
 * The same iteration, but the visitor gets only each match's created and id
 * (from the index entry; id valid during the call) and no object is read or
 * decoded: for callers that need to know which objects exist, not what they
 * say (the running node's look for objects its own tools stored).
 */
typedef int (*kn_store_visit_id_fn)(void *ctx, uint64_t created, const uint8_t id[KN_ID]);
KN_MUST_USE int kn_store_each_id(
    kn_store *s, const kn_store_query *q, kn_store_visit_id_fn fn, void *ctx);

/* Pending objects, for the command line and tests. */
KN_MUST_USE int kn_store_each_pending(kn_store *s, kn_store_visit_fn fn, void *ctx);

typedef struct kn_store_stats {
    uint64_t objects;
    uint64_t pending;
    uint64_t tombstones;
    uint64_t map_size; /* bytes */
    uint64_t map_used; /* bytes */
    uint32_t schema_version;
} kn_store_stats;

KN_MUST_USE int kn_store_stats_get(kn_store *s, kn_store_stats *st);

/*
 * Writes a compacted copy of the whole environment (data.mdb) into dir,
 * which must exist and hold no data.mdb: a consistent snapshot taken inside
 * one read transaction, without free pages, so the bytes of purged records
 * (a retracted document's chunks) are not in the copy. For backups, and for
 * tests that prove purged data is gone.
 */
KN_MUST_USE int kn_store_copy_compact(kn_store *s, const char *dir);

/*
 * Local, non-replicating key/value settings (node identity paths, peers, ...).
 * key: NUL-terminated, 1..256 bytes; val borrowed.
 */
KN_MUST_USE int kn_store_setting_put(kn_store *s, const char *key, const uint8_t *val, size_t len);
/* A malloc'd copy; KN_ENOTFOUND if absent. */
KN_MUST_USE int kn_store_setting_get(kn_store *s, const char *key, uint8_t **val, size_t *len);

/*
 * Checks the store's consistency (store/check.c): every object decodes to
 * its key and is in every index, every index entry names a stored object,
 * the fingerprint tree agrees with by_time, pending and tombstones are
 * disjoint from the objects. 0 if all holds; KN_ECORRUPT with the count and
 * the first problem in r; another negative code if the store cannot be read.
 * A full scan, for `knoten check` and tests.
 */
typedef struct kn_store_check_report {
    uint64_t objects, by_time, pending, tombstones;
    uint64_t problems;
    char first_problem[160];
} kn_store_check_report;
KN_MUST_USE int kn_store_check(kn_store *s, kn_store_check_report *r);

/*
 * Tests only: the next `count` write transactions fail at commit with code
 * (KN_ENOSPC: the disk is full; KN_EMAPFULL: the map is): they are aborted
 * and the error returned. A map-full failure is retried with a larger map
 * like a real one, and each retry counts. count 0 turns it off.
 */
void kn_store_debug_fail_writes(kn_store *s, int code, unsigned count);

/*
 * Tests only: overwrites one raw record in the named database ("objects",
 * "meta", "by_time", ...) so that tests can check that corrupt or newer data
 * on disk is refused. key and val are borrowed. Never call it in the node.
 */
KN_MUST_USE int kn_store_debug_put_raw(
    kn_store *s, const char *db, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);

#endif

/* ==== Roster queries (store/roster.c; issue 5, federation) ==== */
/*
 * Read-only views of the membership and users databases that ingest.c keeps
 * (layouts there). Each call runs in its own read transaction and returns
 * copies, so callers may read the store again while they hold the results.
 * Callers: `knoten members`, `knoten user`, `knoten admit`, node/users.c,
 * and in phase 2 the handshake (is this identity a member now?).
 */
#ifndef KN_STORE_ROSTER_DECLS
#define KN_STORE_ROSTER_DECLS

#define KN_ROSTER_NEVER UINT64_MAX /* a time that has not happened */
enum { KN_ROSTER_ADMITTERS_MAX = 64 };

/* The network this store serves: its object id and admission rule k. KN_ENOTFOUND if none. */
KN_MUST_USE int kn_store_network_get(kn_store *s, uint8_t id[KN_ID], uint64_t *admit_k);

typedef struct kn_roster_member {
    uint8_t key[KN_KEY];
    bool founder;
    uint64_t founder_since; /* KN_ROSTER_NEVER unless founder */
    uint32_t nadmits; /* distinct nodes whose admit for key counts (a member when signing) */
    uint8_t admitter[KN_ROSTER_ADMITTERS_MAX][KN_KEY];
    uint64_t admitted_at[KN_ROSTER_ADMITTERS_MAX]; /* created time of each admit */
    uint64_t member_since; /* founding, or the admit that made min(k, M); KN_ROSTER_NEVER */
    uint64_t revoked_at; /* KN_ROSTER_NEVER unless revoked */
} kn_roster_member;

/* True if key was a node record (founded or admitted at least once), not only a revoked key. */
static inline bool kn_roster_is_node(const kn_roster_member *m)
{
    return m->founder || m->nadmits > 0;
}

/* True if m may sign as a node at time t (the rule ingest.c applies). */
static inline bool kn_roster_member_at(const kn_roster_member *m, uint64_t t)
{
    return m->member_since != KN_ROSTER_NEVER && m->member_since <= t
        && (m->revoked_at == KN_ROSTER_NEVER || t < m->revoked_at);
}

/* The record of one key; KN_ENOTFOUND if the roster has never heard of it. */
KN_MUST_USE int kn_store_member_get(kn_store *s, const uint8_t key[KN_KEY], kn_roster_member *m);

/*
 * Every membership record (nodes, and revoked keys of any kind), in key
 * order. *out is malloc'd (free() it); *n receives the count.
 */
KN_MUST_USE int kn_store_members_list(kn_store *s, kn_roster_member **out, size_t *n);

typedef struct kn_roster_user {
    uint8_t key[KN_KEY];
    uint8_t node[KN_KEY]; /* the certifying node */
    uint8_t cert[KN_ID]; /* id of the (first) user certificate */
    uint64_t revoked_at; /* KN_ROSTER_NEVER unless revoked */
} kn_roster_user;

/* The certificate record of one user key; KN_ENOTFOUND if none is stored. */
KN_MUST_USE int kn_store_user_get(kn_store *s, const uint8_t key[KN_KEY], kn_roster_user *u);

/* Every certified user (node may be NULL for all, else only those it certified); free(*out). */
KN_MUST_USE int kn_store_users_list(
    kn_store *s, const uint8_t *node, kn_roster_user **out, size_t *n);

#endif /* KN_STORE_ROSTER_DECLS */

/* ==== Versions, polls and RSVPs (store/versions.c, store/tally.c; issue 7) ==== */
/*
 * Read-only views over the by_ref index that every node computes the same
 * from the same set of objects, whatever order they arrived in: each result
 * depends only on (created, id) of the objects involved, never on arrival.
 * Each call runs in one read transaction (a consistent snapshot) and returns
 * copies. Callers: `knoten ls|show|poll|event|ics|feed`, later the web UI.
 */
#ifndef KN_STORE_TALLY_DECLS
#define KN_STORE_TALLY_DECLS

enum {
    KN_VERSIONS_MAX = 64, /* versions of one object followed at most */
    KN_POLL_OPTIONS_MAX = 32, /* the poll schema's limit */
    KN_TALLY_BALLOTS_MAX = 1000000, /* ballots (or RSVPs) read for one tally at most */
};

/*
 * The versions of an object: the object an edit names as its previous
 * version (kn_object_previous) counts as an earlier version only if it has
 * the same type and the same author, so nobody can edit somebody else's
 * thread. All versions reachable from id that way, up and down, in
 * (created, id) order: the last is the newest, the one listings show. A
 * retracted version cuts the chain there.
 */
typedef struct kn_versions {
    size_t n;
    uint8_t id[KN_VERSIONS_MAX][KN_ID];
    uint64_t created[KN_VERSIONS_MAX];
    size_t self; /* index of the id asked about */
} kn_versions;

/* KN_ENOTFOUND or KN_ERETRACTED for id itself; KN_ELIMIT beyond KN_VERSIONS_MAX versions. */
KN_MUST_USE int kn_store_versions(kn_store *s, const uint8_t id[KN_ID], kn_versions *v);

/*
 * One direct message in a member of staff's mailbox (dm_index, schema 7):
 * pointers into the read transaction, valid during the callback only.
 */
typedef struct kn_store_mail {
    const uint8_t *id;
    const uint8_t *other; /* 32 bytes: the recipient if sent, else the author */
    uint64_t created;
    bool sent; /* the user wrote it (a message to oneself is listed once, as sent) */
} kn_store_mail;

/*
 * Calls fn for every stored dm that user wrote or received, oldest first (by
 * created, then id), from one read transaction; a nonzero return from fn
 * stops (a negative one is returned). Costs the user's own messages, not
 * every dm the store holds.
 */
KN_MUST_USE int kn_store_mailbox(kn_store *s, const uint8_t user[KN_KEY],
    int (*fn)(void *ctx, const kn_store_mail *m), void *ctx);

/* The newest version's id (id itself when it has no later version). */
static inline const uint8_t *kn_versions_newest(const kn_versions *v)
{
    return v->id[v->n - 1];
}

/*
 * One voter's ballot that counts: per user (count "user") or per council
 * (count "council": the latest ballot by any of the council's staff). The
 * latest is the greatest (created, id) among the voter's ballots; ballots
 * after the deadline are refused on ingest and ignored here.
 */
typedef struct kn_tally_voter {
    uint8_t user[KN_KEY]; /* who cast the ballot that counts */
    uint8_t node[KN_KEY]; /* the council (the node that certified the user) */
    uint8_t ballot[KN_ID];
    uint64_t created;
    uint32_t choices; /* bit i: option i */
} kn_tally_voter;

typedef struct kn_poll_tally {
    uint8_t poll[KN_ID];
    bool per_council; /* count "council" */
    bool multiple, show_early;
    uint64_t created, deadline;
    uint32_t noptions;
    uint64_t ballots; /* ballots stored, including those a later one replaced */
    uint64_t counts[KN_POLL_OPTIONS_MAX]; /* voters (users or councils) per option */
    size_t nvoters;
    kn_tally_voter *voters; /* malloc'd; sorted by (node, user) */
} kn_poll_tally;

/* KN_ENOTFOUND, KN_ERETRACTED, or KN_EINVAL if poll is no poll. Free with kn_poll_tally_free. */
KN_MUST_USE int kn_store_poll_tally(kn_store *s, const uint8_t poll[KN_ID], kn_poll_tally *t);
void kn_poll_tally_free(kn_poll_tally *t);

enum kn_rsvp_status { KN_RSVP_YES = 0, KN_RSVP_NO = 1, KN_RSVP_MAYBE = 2 };

typedef struct kn_rsvp_entry {
    uint8_t user[KN_KEY];
    uint8_t node[KN_KEY];
    uint8_t rsvp[KN_ID]; /* the answer that counts: the user's latest (created, id) */
    uint64_t created;
    int status; /* enum kn_rsvp_status */
} kn_rsvp_entry;

typedef struct kn_rsvp_tally {
    uint64_t counts[3]; /* by kn_rsvp_status */
    size_t n;
    kn_rsvp_entry *e; /* malloc'd; sorted by (node, user) */
} kn_rsvp_tally;

/*
 * The RSVPs to an event, over all its versions (events[0..nevents), e.g. the
 * ids of kn_store_versions): each user's latest answer. Free with
 * kn_rsvp_tally_free.
 */
KN_MUST_USE int kn_store_rsvp_tally(
    kn_store *s, const uint8_t (*events)[KN_ID], size_t nevents, kn_rsvp_tally *t);
void kn_rsvp_tally_free(kn_rsvp_tally *t);

#endif /* KN_STORE_TALLY_DECLS */
