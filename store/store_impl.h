/*
 * Internals shared by the files of store/: the kn_store struct, the named
 * databases, the byte layouts of keys and values, and the write-transaction
 * runner that grows the map. Nothing outside store/ includes this file; it is
 * the one place besides the .c files here that may see <lmdb.h>.
 *
 * Layouts (all integers big-endian so that byte order is numeric order):
 *
 *   objects         id(32)                                  -> object bytes
 *   by_time         created(8) id(32)                       -> ""
 *   by_author       author(32) created(8) id(32)            -> ""
 *   by_space_type   space(0..64) 0x00 type(1) created(8) id -> ""
 *   by_ref          ref(32) type(1) created(8) id(32)       -> ""
 *   tombstones      id(32)                                  -> retract id(32) created(8)
 *   pending         id(32)                                  -> object bytes
 *   pending_by_dep  dep(32) pending id(32)                  -> ""
 *   membership      key(32)                                 -> flags(1) founder_since(8)
 *                   since(8) revoked_at(8) n(1) n x (admitter(32) admit created(8))
 *                   (schema 3: since is stored, computed by the roster pass in ingest.c)
 *   users           user key(32)                            -> node(32) cert id(32) revoked_at(8)
 *   meta            "schema_version" -> u32; "network" -> id(32) admit k(8)
 *   settings        local key (1..KN_STORE_SETTING_KEY_MAX) -> value
 *   negtree         depth(1) prefix(10)                     -> count(8) sum(32) split(1)
 *                   (schema 2; see negtree.h)
 *   roster          created(8) id(32)                       -> object bytes
 *                   (schema 3) every network, admit, revoke and user object that is
 *                   stored or pending only because its author is not a member at its
 *                   created time: the input of the roster pass (ingest.c)
 *   search_terms, search_parts, search_docs, search_fwd, search_times
 *                   (schema 5; search_times replaced search_ids in 6) the search
 *                   index; layouts in search.c
 *   dm_index        user(32) created(8) id(32)              -> flags(1) other(32)
 *                   (schema 7) every dm under its author and its recipient;
 *                   dmindex.c
 *
 * Blobs (schema 4; blobstore.c, docs/blobs.md):
 *
 *   blob_manifest   blob(32)                                -> size(8) n x chunk hash(32)
 *   blob_chunks     blob(32) index(4)                       -> chunk bytes
 *   blob_state      blob(32)                                -> nchunks(4) present(4) size(8)
 *                                                              bytes(8) staged_ms(8)
 *   blob_refs       blob(32) doc id(32)                     -> council(32) size(8) created(8)
 *   blob_council    council(32) blob(32)                    -> count(4) admission(1) size(8)
 *                                                              first created(8)
 *   blob_usage      council(32)                             -> accepted bytes(8)
 *   blob_wanted     blob(32)                                -> size(8) requested_ms(8)
 */
#ifndef KN_STORE_IMPL_H
#define KN_STORE_IMPL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

enum {
    KN_STORE_DEFAULT_MAP = 64 * 1024 * 1024,
    KN_STORE_DEFAULT_PENDING_MAX = 100000,
    KN_STORE_MAX_DBS = 32,
    /* How often a batch may double the map before we give up (64 KiB -> 256 TiB). */
    KN_STORE_GROW_MAX = 32,
    /* A failed write with less free space than this on the file system is "disk full". */
    KN_STORE_LOW_SPACE = 4 << 20,
    /* The longest index key: a full space, NUL, type, created, id. */
    KN_IDX_KEY_MAX = KN_SPACE_MAX + 1 + 1 + 8 + KN_ID,
};

/* "Never": the value of a time that has not happened (not revoked, not a member). */
#define KN_NEVER UINT64_MAX

typedef struct kn_store_dbs {
    MDB_dbi objects, by_time, by_author, by_space_type, by_ref, tombstones, pending, pending_by_dep,
        membership, users, meta, settings, negtree, roster, blob_manifest, blob_chunks, blob_state,
        blob_refs, blob_council, blob_usage, blob_wanted;
    MDB_dbi search_terms, search_parts, search_docs, search_fwd, search_times;
    MDB_dbi dm_index;
} kn_store_dbs;

typedef struct kn_negtree_cache kn_negtree_cache;
typedef struct kn_search_state kn_search_state;

struct kn_store {
    MDB_env *env;
    kn_store_dbs db;
    size_t pending_max;
    size_t max_map; /* kn_store_options.max_map_size; 0: no limit */
    char dir[4096]; /* the environment's directory, to look at its free space */
    int fail_code; /* kn_store_debug_fail_writes: the KN_E code the next commits fail with */
    unsigned fail_count;
    kn_negtree_cache *tree_cache; /* negtree.c: tree nodes of the open write txn; owned */
    kn_search_state *search; /* search.c: text analysis and the open write txn's postings; owned */
    /*
     * Held while the map size changes (grow_map, adopting another process's
     * size) and for the whole of a kn_store_write_bg transaction, so that a
     * writer thread's transaction never sees the map move (store.h, Threads).
     */
    pthread_mutex_t grow_lock;
};

/* ---- bytes ---- */

static inline void kn_be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline uint64_t kn_be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/*
 * The membership record (layout above), shared by ingest.c, which writes it,
 * and roster.c, which reads it. Decoding fills m (member_since included) and
 * refuses any record ingest would not have written (KN_ECORRUPT).
 */
enum {
    KN_MEMBER_HDR = 1 + 8 + 8 + 8 + 1,
    KN_MEMBER_ENTRY = KN_KEY + 8,
    KN_MEMBER_FOUNDER = 1,
};
KN_MUST_USE int kn_member_decode(
    const uint8_t key[KN_KEY], const uint8_t *p, size_t len, kn_roster_member *m);

/*
 * Rebuilds the membership and users databases from every stored roster
 * object (schema migration 2 -> 3; ingest.c). Runs inside open's transaction.
 */
KN_MUST_USE int kn_roster_rebuild(kn_store *s, MDB_txn *txn);

/*
 * Blob references (blobstore.c), kept in step with the doc objects inside the
 * ingest transaction: kn_blob_doc_added after a doc is stored, and
 * kn_blob_doc_removed before it is deleted (retraction, revocation), which
 * purges every blob no live doc references any more. o may point into the
 * transaction's pages: both read all they need from it before any write.
 * kn_blob_rebuild recomputes all of it from the stored docs (migration 3 -> 4).
 */
KN_MUST_USE int kn_blob_doc_added(kn_store *s, MDB_txn *txn, const kn_object *o);
KN_MUST_USE int kn_blob_doc_removed(kn_store *s, MDB_txn *txn, const kn_object *o);
KN_MUST_USE int kn_blob_rebuild(kn_store *s, MDB_txn *txn);
/*
 * The blob databases' part of kn_store_check (check.c): every invariant that
 * blobstore.c keeps (listed at its top), chunk hashes included. Each problem
 * is reported through problem(ctx, what, id or NULL); the return is 0 or the
 * code of a read that failed.
 */
typedef void (*kn_blob_problem_fn)(void *ctx, const char *what, const uint8_t *id);
KN_MUST_USE int kn_blob_check(kn_store *s, MDB_txn *txn, kn_blob_problem_fn problem, void *ctx);
/* The same for the search index (search.c): records, postings, statistics, versions. */
KN_MUST_USE int kn_search_check(kn_store *s, MDB_txn *txn, kn_blob_problem_fn problem, void *ctx);

/* LMDB return codes mapped onto the one error table (MDB_MAP_FULL -> KN_EMAPFULL). */
int kn_store_mdb_err(int rc);

/*
 * Runs fn inside one write transaction and commits it. On KN_EMAPFULL (from
 * fn or from the commit) the transaction is aborted, the map doubled and fn
 * run again from the start, so fn must not keep state between attempts except
 * through what it recomputes. Any other negative return aborts.
 */
typedef int (*kn_store_txn_fn)(kn_store *s, MDB_txn *txn, void *ctx);
KN_MUST_USE int kn_store_write(kn_store *s, kn_store_txn_fn fn, void *ctx);

/*
 * kn_store_write for the one background writer store.h allows (blobstore.c's
 * kn_blob_put_batch_bg): fn runs in a write transaction on another thread than
 * the store's owner, holding grow_lock throughout, and must touch nothing of s
 * but s->db and txn (no search or negtree state, no debug failures). It never
 * changes the map: KN_EMAPFULL when the map is full or another process grew
 * it; the owner then runs the work with kn_store_write, which grows it.
 */
KN_MUST_USE int kn_store_write_bg(kn_store *s, kn_store_txn_fn fn, void *ctx);

/*
 * dmindex.c: the entries of a dm object (none for other types) in dm_index,
 * written and deleted with the object; _entries counts them and _has checks
 * they are there (kn_store_check); _build fills the table from every stored
 * dm (migration 6 -> 7).
 */
KN_MUST_USE int kn_dmindex_add(kn_store *s, MDB_txn *txn, const kn_object *o);
KN_MUST_USE int kn_dmindex_del(kn_store *s, MDB_txn *txn, const kn_object *o);
size_t kn_dmindex_entries(const kn_object *o);
bool kn_dmindex_has(kn_store *s, MDB_txn *txn, const kn_object *o);
KN_MUST_USE int kn_dmindex_build(kn_store *s, MDB_txn *txn);

/* A read-only transaction; abort it with mdb_txn_abort(). */
KN_MUST_USE int kn_store_read_begin(kn_store *s, MDB_txn **txn);

/*
 * Looks up id in `objects` (or `pending`) and decodes it into o; o points
 * into the transaction's pages (valid until the next write in txn or its
 * end). A stored record that does not decode is KN_ECORRUPT.
 *
 * The key is taken as the id without hashing the record again
 * (kn_object_decode_known): every record was decoded, hashed and validated
 * before it was written under its id, and the file is the node's own, so
 * re-hashing on every read (a listing reads dozens of objects per request)
 * would only guard against a damaged or edited data.mdb. That is what
 * `knoten check` (store/check.c) is for: it re-hashes every record. Bytes
 * handed out whole (kn_store_get: to peers, to the API) are re-hashed too.
 */
KN_MUST_USE int kn_store_load(
    kn_store *s, MDB_txn *txn, MDB_dbi dbi, const uint8_t id[KN_ID], kn_object *o);

/*
 * The ids of the objects of `type` that list target among their refs, in
 * (created, id) order, from by_ref in txn. *ids is malloc'd (free it; NULL
 * when *n is 0). KN_ELIMIT beyond max ids.
 */
KN_MUST_USE int kn_store_ref_ids(kn_store *s, MDB_txn *txn, const uint8_t target[KN_ID],
    kn_otype type, size_t max, uint8_t (**ids)[KN_ID], size_t *n);

/*
 * Points o at a malloc'd copy of its bytes (*copy, which the caller frees),
 * for code that reads o after writes that may move the page it was loaded
 * from. KN_ENOMEM, or KN_ECORRUPT if the bytes do not decode.
 */
static inline int kn_store_detach(kn_object *o, uint8_t **copy)
{
    if (!(*copy = malloc(o->raw_len)))
        return KN_ENOMEM;
    memcpy(*copy, o->raw, o->raw_len);
    return kn_object_decode(o, *copy, o->raw_len) < 0 ? KN_ECORRUPT : 0;
}

/* Index keys of o; each returns the key length. */
size_t kn_idx_time(uint8_t *k, const kn_object *o);
size_t kn_idx_author(uint8_t *k, const kn_object *o);
size_t kn_idx_space_type(uint8_t *k, const kn_object *o);
size_t kn_idx_ref(uint8_t *k, const kn_object *o, uint32_t ref);

/*
 * The Negentropy tree (negtree.c), kept in step with by_time inside the
 * caller's write transaction. key is a by_time key, created(8) id(32).
 * kn_negtree_add must run after the by_time entry is written (a leaf that
 * splits reads its items from by_time); kn_negtree_build replaces the whole
 * tree with one built from a scan of by_time.
 *
 * Adds and deletes go through a write-back cache of tree nodes (negtree.c):
 * kn_store_write() resets it when a transaction begins and calls
 * kn_negtree_flush() before the commit, so within a transaction nothing but
 * these functions may read or write the negtree database directly.
 */
KN_MUST_USE int kn_negtree_add(kn_store *s, MDB_txn *txn, const uint8_t key[8 + KN_ID]);
KN_MUST_USE int kn_negtree_del(kn_store *s, MDB_txn *txn, const uint8_t key[8 + KN_ID]);
KN_MUST_USE int kn_negtree_build(kn_store *s, MDB_txn *txn);
/* Writes the cached dirty tree nodes into txn and empties the cache. */
KN_MUST_USE int kn_negtree_flush(kn_store *s, MDB_txn *txn);
/* Forgets the cached nodes (transaction start, abort, or a tree being replaced). */
void kn_negtree_cache_reset(kn_store *s);
void kn_negtree_cache_free(kn_negtree_cache *c);

/*
 * The search index (search.c), kept in step with the objects database
 * inside the caller's write transaction: kn_search_add when an object is
 * stored (store_object), kn_search_remove before it is deleted
 * (remove_object); both ignore types that are not indexed. Both copy what
 * they need from o before their first write, so o may point into a page.
 * Postings are buffered per transaction: kn_store_write() calls
 * kn_search_txn_reset() when a transaction begins and kn_search_flush()
 * before the commit.
 */
KN_MUST_USE int kn_search_add(kn_store *s, MDB_txn *txn, const kn_object *o);
KN_MUST_USE int kn_search_remove(kn_store *s, MDB_txn *txn, const kn_object *o);
KN_MUST_USE int kn_search_flush(kn_store *s, MDB_txn *txn);
/* blobstore.c, when a blob's last chunk is stored: re-indexes the docs with it as a text file. */
KN_MUST_USE int kn_search_blob_complete(kn_store *s, MDB_txn *txn, const uint8_t blob[32]);
/*
 * Reads only: 1 if kn_search_blob_complete would index some doc again (a live,
 * indexed doc lists blob as a text file), else 0 or an error. For the
 * background writer, which must leave the search state alone.
 */
KN_MUST_USE int kn_search_blob_wants_text(kn_store *s, MDB_txn *txn, const uint8_t blob[32]);
void kn_search_txn_reset(kn_store *s);
void kn_search_state_free(kn_search_state *st);
/*
 * In open's transaction: compares the stored text fingerprint with this
 * build's and, if they differ or rebuild is set (a store from before schema
 * 5), empties the index and marks it to be built.
 */
KN_MUST_USE int kn_search_open(kn_store *s, MDB_txn *txn, bool rebuild);
/*
 * In open's transaction, for a store of schema 5: fills search_times from
 * search_docs and deletes search_ids (see search.c); nothing to do if there
 * is no search_ids.
 */
KN_MUST_USE int kn_search_migrate_times(kn_store *s, MDB_txn *txn);
/* After open: builds a marked index in transactions of 1,000 objects, reporting progress. */
KN_MUST_USE int kn_search_build(kn_store *s, const kn_store_options *opt);

#endif
