/*
 * Blob storage: the manifests and chunks of the files that `doc` objects
 * list, what a node still has to fetch, per-file and per-council limits, and
 * purging a blob when no live document references it any more.
 *
 * The format is protocol/blob.h (256 KiB chunks, BLAKE2b-256 per chunk, the
 * blob id over the list of chunk hashes); docs/blobs.md has the databases
 * and the rules. Everything here is checked before it is stored: a manifest
 * against its blob id, a chunk against its manifest hash and length. A
 * chunk that fails gets KN_EHASH and nothing of it is written.
 *
 * How blobs come to a node:
 *   - Local files (`knoten doc publish`): the command line hashes the file,
 *     kn_blob_stage_manifest(), then streams the chunks with
 *     kn_blob_put_chunks() in batches (one write transaction per batch, never
 *     the whole file in memory), and only then stores the doc object that
 *     references the blob. A staged blob that no doc references after
 *     KN_BLOB_STAGE_TTL_MS is removed by kn_blob_gc().
 *   - Remote docs: ingesting a doc object (store/ingest.c) records a
 *     reference from each of its files to the blob, decides whether this
 *     node accepts the file (per-file maximum and the quota of the doc's
 *     council, see kn_blob_limits) and puts accepted, incomplete blobs on the
 *     wanted list. The network side reads kn_blob_wanted(), fetches the
 *     manifest from a peer and gives it to kn_blob_put_manifest() (checked
 *     against the blob id and the size the doc signed), then the chunks to
 *     kn_blob_put_chunks(). The wanted list is in LMDB, so a restart resumes
 *     where it stopped; kn_blob_missing() says which chunks are still absent.
 *
 * The doc object itself is always stored (it is signed metadata and keeps
 * replicating); a refusal applies to the file contents only, and is visible
 * in kn_blob_info_get() with its reason. Raising the limits with
 * kn_blob_limits_set() re-evaluates earlier refusals; lowering them never
 * deletes a file already stored.
 *
 * Removal: when a doc leaves the store (retracted, or its author revoked),
 * its references go; a blob that no live doc references any more loses its
 * manifest, chunks and state in the same transaction (reference counting
 * through the blob_refs database, so a blob shared by two docs stays while
 * one of them lives).
 *
 * The "council" of a doc is its author if the author is a node, else the
 * node that certified the author (a member of staff).
 *
 * Callers: store/ingest.c (references), the command line (`knoten doc`), the
 * node's fetch engine (node/), tests and benchmarks. Threads as for
 * kn_store: one thread at a time per kn_store.
 */
#ifndef KN_BLOBSTORE_H
#define KN_BLOBSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "error.h"
#include "store.h"

/* Defaults of the limits (store settings, see kn_blob_limits). */
#define KN_BLOB_DEFAULT_MAX_FILE ((uint64_t)2 << 30) /* 2 GiB per file */
#define KN_BLOB_DEFAULT_QUOTA ((uint64_t)50 << 30) /* 50 GiB per council */
/* A staged blob nobody references is removed by kn_blob_gc() after this long. */
#define KN_BLOB_STAGE_TTL_MS ((uint64_t)24 * 3600 * 1000)

/* What kn_blob_put_manifest/_stage_manifest/_put_chunks did (non-negative). */
enum kn_blob_put_result {
    KN_BLOB_STORED = 1,
    KN_BLOB_DUPLICATE = 2, /* already here; nothing changed */
};

/* ---- limits and policy (local settings, never replicated) ---- */

typedef struct kn_blob_limits {
    uint64_t max_file; /* bytes per file, 1..KN_BLOB_SIZE_MAX */
    uint64_t quota; /* bytes of distinct blobs per council; 0: unlimited */
} kn_blob_limits;

/* The limits in force (defaults where never set). */
KN_MUST_USE int kn_blob_limits_get(kn_store *s, kn_blob_limits *l);
/*
 * Stores new limits and re-decides every council's files against them, in
 * the order the councils' docs were first stored (created time): files
 * refused before may now be accepted (and become wanted). A file already
 * stored complete stays stored and accepted (and counts towards its council's
 * usage) even if it is now over a limit. KN_EINVAL if max_file
 * is 0 or above KN_BLOB_SIZE_MAX. accepted, if not NULL, receives how many
 * (council, blob) pairs changed from refused to accepted.
 */
KN_MUST_USE int kn_blob_limits_set(kn_store *s, const kn_blob_limits *l, size_t *accepted);

/* Whether the node fetches every accepted file at once or only what someone asked for. */
typedef enum kn_blob_policy {
    KN_BLOB_EAGER = 0, /* the default: every node keeps a full copy */
    KN_BLOB_ON_DEMAND = 1, /* fetch only blobs marked with kn_blob_request() */
} kn_blob_policy;

KN_MUST_USE int kn_blob_policy_get(kn_store *s, kn_blob_policy *p);
KN_MUST_USE int kn_blob_policy_set(kn_store *s, kn_blob_policy p);
/* "eager" / "on-demand" */
const char *kn_blob_policy_name(kn_blob_policy p);

/* ---- what a node has ---- */

/* How a council's reference to a blob was decided. */
typedef enum kn_blob_admission {
    KN_BLOB_NOREF = 0, /* no live doc references the blob (for that council) */
    KN_BLOB_ACCEPTED = 1,
    KN_BLOB_REFUSED_SIZE = 2, /* larger than the per-file maximum */
    KN_BLOB_REFUSED_QUOTA = 3, /* would take the council over its quota */
    KN_BLOB_REFUSED_INVALID = 4, /* the doc's size cannot be right (above KN_BLOB_SIZE_MAX,
                                    0 with a non-empty id or the reverse, not the manifest's
                                    size, or another number of chunks than the blob has) */
} kn_blob_admission;

/* A sentence for a refusal, e.g. "larger than this node's per-file limit". */
const char *kn_blob_admission_text(kn_blob_admission a);

typedef struct kn_blob_info {
    uint64_t size; /* the manifest's, else the size the referencing docs give */
    bool have_manifest;
    uint32_t nchunks; /* kn_blob_nchunks(size) */
    uint32_t present; /* chunks stored */
    bool complete; /* manifest and every chunk here */
    bool wanted; /* on the wanted list: accepted, not complete */
    uint64_t requested_ms; /* when kn_blob_request() asked for it; 0: never */
    uint32_t refs; /* live docs referencing it */
    /*
     * With a council given: that council's admission; without: KN_BLOB_ACCEPTED
     * if any council's is, else the first refusal found.
     */
    kn_blob_admission admission;
} kn_blob_info;

/*
 * What the store knows of a blob; council may be NULL. KN_ENOTFOUND if it
 * is neither referenced nor stored.
 */
KN_MUST_USE int kn_blob_info_get(
    kn_store *s, const uint8_t id[KN_BLOB_ID], const uint8_t *council, kn_blob_info *info);

/* 1 if the blob's manifest and all its chunks are stored, 0 if not (or on error). */
int kn_blob_is_complete(kn_store *s, const uint8_t id[KN_BLOB_ID]);

/* The council a doc by author counts against (the author, or its certifying node). */
KN_MUST_USE int kn_blob_council_of(
    kn_store *s, const uint8_t author[KN_KEY], uint8_t council[KN_KEY]);

/* Bytes of distinct accepted blobs referenced by the council's live docs. */
KN_MUST_USE int kn_blob_usage(kn_store *s, const uint8_t council[KN_KEY], uint64_t *bytes);

/*
 * Would a new file of size bytes with this id be accepted for council under
 * the limits now? 0 yes (also if the council already references the blob),
 * KN_ETOOBIG over the per-file limit, KN_EQUOTA over the quota. usage and
 * limits, if not NULL, receive the council's usage and the limits, for the
 * message. `knoten doc publish` asks before it writes anything.
 */
KN_MUST_USE int kn_blob_admit_check(kn_store *s, const uint8_t council[KN_KEY],
    const uint8_t id[KN_BLOB_ID], uint64_t size, uint64_t *usage, kn_blob_limits *limits);

/* ---- manifests ---- */

/*
 * Stores the manifest of a blob a live doc references (from a peer): checked
 * against id (KN_EHASH) and the size a referencing doc gives (KN_EINVAL if no
 * reference has this size); KN_ENOTFOUND if no live doc references id,
 * KN_EQUOTA if every reference was refused. KN_BLOB_STORED or
 * KN_BLOB_DUPLICATE. On KN_EINVAL the hash-checked chunk count still counts:
 * references whose size needs another number of chunks are marked
 * KN_BLOB_REFUSED_INVALID (that doc is wrong, not the peer), so the blob
 * is not wanted for them any more; a size that differs only within the last
 * chunk cannot be judged here and changes nothing.
 */
KN_MUST_USE int kn_blob_put_manifest(
    kn_store *s, const uint8_t id[KN_BLOB_ID], uint64_t size, const uint8_t *hashes, uint32_t n);

/*
 * Stores the manifest of a local file before its doc exists (the command
 * line). Needs no reference; checked against id. The blob is "staged" at
 * now_ms: kn_blob_gc() removes it if no doc references it within
 * KN_BLOB_STAGE_TTL_MS. Staging a blob that is already stored renews that.
 */
KN_MUST_USE int kn_blob_stage_manifest(kn_store *s, const uint8_t id[KN_BLOB_ID], uint64_t size,
    const uint8_t *hashes, uint32_t n, uint64_t now_ms);

/* A copy of the manifest: *hashes malloc'd (NULL for 0 chunks), caller frees. KN_ENOTFOUND. */
KN_MUST_USE int kn_blob_get_manifest(
    kn_store *s, const uint8_t id[KN_BLOB_ID], uint64_t *size, uint8_t **hashes, uint32_t *n);

/* ---- chunks ---- */

typedef struct kn_blob_chunk_in {
    const uint8_t *blob; /* KN_BLOB_ID bytes, borrowed */
    uint32_t index;
    const uint8_t *data; /* len bytes, borrowed */
    uint32_t len;
    /*
     * Optional: BLAKE2b-256 of data if the caller already computed it (the
     * network side may hash on worker threads); NULL: the store hashes.
     */
    const uint8_t *hash;
} kn_blob_chunk_in;

/*
 * Stores n chunks in one write transaction. results[i] is KN_BLOB_STORED,
 * KN_BLOB_DUPLICATE (already present), KN_EHASH (data does not match the
 * manifest's hash: nothing stored), KN_EINVAL (index past the end, or not
 * the length the manifest's size gives), or KN_ENOTFOUND (no manifest: the
 * blob is unknown or was purged). Returns 0, or a negative code if the
 * transaction failed (then nothing is stored). At most KN_BLOB_BATCH_MAX
 * chunks per call.
 */
enum { KN_BLOB_BATCH_MAX = 256 };
KN_MUST_USE int kn_blob_put_chunks(kn_store *s, const kn_blob_chunk_in *c, size_t n, int *results);

/* A manifest from a peer, for kn_blob_put_batch (pointers borrowed for the call). */
typedef struct kn_blob_manifest_in {
    const uint8_t *blob; /* KN_BLOB_ID bytes */
    uint64_t size;
    const uint8_t *hashes; /* n * KN_BLOB_HASH bytes */
    uint32_t n;
} kn_blob_manifest_in;

/*
 * kn_blob_put_manifest for nm manifests, then kn_blob_put_chunks for nc
 * chunks (which may belong to those blobs), all in one write transaction:
 * the network side stores many small files with one commit instead of two
 * each. mresults[i] and cresults[i] receive what the single calls would
 * return for that item (a refused manifest does not stop the others; its
 * chunks then get KN_ENOTFOUND). Returns 0, or a negative code if the
 * transaction failed (then nothing is stored). nm and nc at most
 * KN_BLOB_BATCH_MAX each. Callers: node/blobfetch_lmdb.c.
 */
KN_MUST_USE int kn_blob_put_batch(kn_store *s, const kn_blob_manifest_in *m, size_t nm,
    int *mresults, const kn_blob_chunk_in *c, size_t nc, int *cresults);

/*
 * kn_blob_put_batch for the node's blob writer thread (node/blobwriter.c),
 * the one exception to store.h's one-thread-at-a-time rule: it may run on
 * that thread while the store's owner thread goes on using the store. It
 * never grows the map and never touches the search index: it returns
 * KN_EMAPFULL (the map is full, or another process grew it) or KN_EBUSY (a
 * blob completes whose text the search index would read), having stored
 * nothing, and the owner then stores the same batch with kn_blob_put_batch.
 * At most one such call at a time per store.
 */
KN_MUST_USE int kn_blob_put_batch_bg(kn_store *s, const kn_blob_manifest_in *m, size_t nm,
    int *mresults, const kn_blob_chunk_in *c, size_t nc, int *cresults);

/* One chunk (its own transaction); returns its result as above. */
KN_MUST_USE int kn_blob_put_chunk(
    kn_store *s, const uint8_t id[KN_BLOB_ID], uint32_t index, const uint8_t *data, uint32_t len);

/* Copies chunk index into buf (KN_BLOB_CHUNK bytes); *len receives its length. KN_ENOTFOUND. */
KN_MUST_USE int kn_blob_get_chunk(kn_store *s, const uint8_t id[KN_BLOB_ID], uint32_t index,
    uint8_t buf[KN_BLOB_CHUNK], uint32_t *len);

/*
 * Zero-copy reads: a reader holds one read transaction; a chunk's bytes
 * point into the map and stay valid until kn_blob_reader_close(). Keep
 * readers short-lived (a read transaction keeps the pages it sees from being
 * reused), e.g. one per batch of chunks sent.
 */
typedef struct kn_blob_reader kn_blob_reader;
KN_MUST_USE int kn_blob_reader_open(kn_store *s, kn_blob_reader **r);
KN_MUST_USE int kn_blob_reader_chunk(kn_blob_reader *r, const uint8_t id[KN_BLOB_ID],
    uint32_t index, const uint8_t **data, uint32_t *len);
void kn_blob_reader_close(kn_blob_reader *r);

/*
 * The indexes of absent chunks of a blob whose manifest is stored, from
 * index `from` on, ascending, at most max of them; *n receives the count.
 * KN_ENOTFOUND if there is no manifest (then all chunks are missing and the
 * manifest must come first).
 */
KN_MUST_USE int kn_blob_missing(
    kn_store *s, const uint8_t id[KN_BLOB_ID], uint32_t from, uint32_t *out, size_t max, size_t *n);

/*
 * Sets bit i (bits[i / 8] & 1 << i % 8) for every stored chunk i < n of the
 * blob and clears the others; bits holds (n + 7) / 8 bytes. A blob without
 * stored chunks leaves every bit clear (no error).
 */
KN_MUST_USE int kn_blob_present(
    kn_store *s, const uint8_t id[KN_BLOB_ID], uint8_t *bits, uint32_t n);

/* ---- what to fetch ---- */

typedef struct kn_blob_want {
    uint8_t id[KN_BLOB_ID];
    uint64_t size;
    bool have_manifest;
    uint32_t nchunks, present;
    uint64_t requested_ms; /* 0 unless kn_blob_request() asked for it */
} kn_blob_want;

/*
 * The blobs that live docs reference, that this node accepted, and that are
 * not complete, in blob id order after `after` (NULL: from the start), at
 * most max; *n receives the count. This list is kept in LMDB, so it is the
 * same after a restart. Under KN_BLOB_ON_DEMAND a fetcher takes only those
 * with requested_ms != 0.
 */
KN_MUST_USE int kn_blob_wanted(
    kn_store *s, const uint8_t *after, kn_blob_want *out, size_t max, size_t *n);

/* How many blobs are on the wanted list, and how many of them were requested. */
KN_MUST_USE int kn_blob_wanted_count(kn_store *s, uint64_t *wanted, uint64_t *requested);

/* Marks a wanted blob as asked for (`knoten doc get`); KN_ENOTFOUND if it is not wanted. */
KN_MUST_USE int kn_blob_request(kn_store *s, const uint8_t id[KN_BLOB_ID], uint64_t now_ms);

/* ---- removal ---- */

/*
 * Removes a blob's manifest, chunks and state (not the references: a blob
 * still referenced and accepted goes back on the wanted list). For tests and
 * repair; retraction purges by itself.
 */
KN_MUST_USE int kn_blob_purge(kn_store *s, const uint8_t id[KN_BLOB_ID]);

/*
 * Removes stored blobs no live doc references: staged ones older than
 * max_age_ms at now_ms, and any other unreferenced one. *purged (if not NULL)
 * receives how many were removed.
 */
KN_MUST_USE int kn_blob_gc(kn_store *s, uint64_t now_ms, uint64_t max_age_ms, size_t *purged);

/*
 * Overwrites, with zeros, the pages of the LMDB file that purges of blob data
 * (retraction, revocation, kn_blob_purge, kn_blob_gc) freed: LMDB leaves a
 * freed page's old bytes in the file until it reuses the page, so without
 * this a retracted file's bytes could still be read from data.mdb. A purge
 * marks the store (setting "blob.scrub", so a crash does not lose it); this
 * then counts the free pages and makes LMDB reuse every one of them for
 * zero-filled scratch values, which it deletes again: at most 4,096 pages
 * (16 MiB) per transaction, and rounds while fewer than max_pages were
 * written in this call (*scrubbed: pages written; call again while it
 * returns KN_EAGAIN). KN_EBUSY: a read transaction
 * (another process's, e.g. a backup) still sees some freed pages, so LMDB
 * cannot reuse them yet; the mark stays and a later call counts again.
 * 0 with *scrubbed 0 when nothing is marked. Called by the running node
 * (node/blobsync.c) and by `knoten doc retract`.
 */
KN_MUST_USE int kn_blob_scrub(kn_store *s, uint64_t max_pages, uint64_t *scrubbed);

typedef struct kn_blob_stats {
    uint64_t blobs; /* with a manifest */
    uint64_t complete;
    uint64_t chunks;
    uint64_t chunk_bytes;
    uint64_t wanted;
    uint64_t refs; /* (blob, doc) references */
} kn_blob_stats;
KN_MUST_USE int kn_blob_stats_get(kn_store *s, kn_blob_stats *st);

#endif
