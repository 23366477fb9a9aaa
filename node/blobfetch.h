/*
 * The blob fetch engine: moves file contents (blobs, docs/blobs.md) between
 * nodes, for one node and its connected peers, both ways.
 *
 * Fetching. The store says which blobs this node wants and lacks (every blob
 * a live doc lists under the eager policy; only those asked for under the
 * on-demand one). The engine works on many of them at a time (up to
 * `active_max` blobs with `active_chunks` chunks between them): it loads the
 * blob's manifest from the store, or fetches it from a peer in pages
 * ("blob-manifest-want") and checks it against the blob id before storing
 * it; then it asks peers for the chunks the store lacks ("blob-want", up to
 * KN_WIRE_CHUNK_IDX_MAX indexes a message), spreading the requests over every
 * peer that has not said it lacks them, with a bound per peer and in total,
 * so memory stays bounded however large the file. Every chunk is checked
 * against its hash in the manifest; a good one waits in a bounded inbox and
 * is written with the others (and the manifests fetched meanwhile, with
 * put_batch) in one store transaction, when the inbox is full or 50 ms
 * after the oldest came; a blob is complete once that write is. The write
 * may run beside the engine (put_batch_start): new chunks fill a second
 * inbox meanwhile, and chunks held in memory count against the bounds on
 * chunks in flight, so memory stays bounded however slow the store. A chunk
 * that fails its hash (or has the wrong length) is dropped, its sender is
 * not asked for that blob again, and the chunk goes to another peer; after
 * `bad_max` corrupt chunks the sender is reported as a fault
 * (kn_blobfetch_take_fault) for the shell to disconnect. A peer that answers
 * "blob-none" is not asked for that blob for `lack_ms` (or until it says
 * "blob-have"); one that has requests out and sends nothing for `stall_ms`
 * loses them to other peers. The store knows which chunks are present, so a
 * restart or a lost connection costs only the chunks in flight. When a blob
 * is complete, every peer is told ("blob-have").
 *
 * Serving. A peer's manifest and chunk requests wait in a bounded queue per
 * peer (more than KN_BLOBFETCH_SERVE_QUEUE is a protocol violation: an honest
 * requester never has that many out); they are answered from the store, one
 * chunk read at a time, only while the transport holds less than
 * `serve_bytes` for that peer (the queued() callback), so a slow reader never
 * makes us read a file into memory. What we lack is answered "blob-none".
 *
 * Like the replication engine (repl.h) it is sans-I/O, deterministic and
 * free of globals: the caller feeds it decoded blob messages, peers coming
 * and going, and `now`; it answers through the send() callback and returns
 * its next deadline from kn_blobfetch_tick(). The libuv shell (node/blobsync.c)
 * and the unit tests drive the same code. It owns its peer table, the state
 * of the blobs it fetches and the chunks waiting to be stored.
 */
#ifndef KN_BLOBFETCH_H
#define KN_BLOBFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "object.h"
#include "wire.h"

enum {
    KN_BLOBFETCH_PEERS_MAX = 64, /* connected peers per engine */
    KN_BLOBFETCH_CHUNK = KN_WIRE_CHUNK_MAX, /* 256 KiB: every chunk but a blob's last */
    KN_BLOBFETCH_SERVE_QUEUE = 256, /* chunk and manifest requests a peer may have waiting */
    KN_BLOBFETCH_WANTED_MAX = 65536, /* wanted blobs remembered between rescans */
    KN_BLOBFETCH_BATCH_MAX = 256, /* chunks in one store write; total_inflight is at most this */
};

/* The largest blob the engine fetches: 16 GiB (65,536 chunks; a 2 MiB manifest). */
#define KN_BLOBFETCH_SIZE_MAX ((uint64_t)65536 * KN_BLOBFETCH_CHUNK)

/* Chunks of a blob of `size` bytes: every one full but the last; none for an empty blob. */
static inline uint64_t kn_blobfetch_chunks(uint64_t size)
{
    return size / KN_BLOBFETCH_CHUNK + (size % KN_BLOBFETCH_CHUNK != 0);
}

/* The blob id of a manifest: BLAKE2b-256 over the n chunk hashes, concatenated. */
void kn_blobfetch_blob_id(const uint8_t (*hashes)[KN_ID], uint32_t n, uint8_t out[KN_ID]);

/* One checked manifest to store (every pointer borrowed for the call). */
typedef struct kn_blobfetch_manifest {
    const uint8_t *blob; /* KN_ID bytes */
    uint64_t size;
    const uint8_t (*hashes)[KN_ID];
    uint32_t n;
} kn_blobfetch_manifest;

/* One verified chunk to store (every pointer borrowed for the call). */
typedef struct kn_blobfetch_chunk {
    const uint8_t *blob; /* KN_ID bytes */
    uint32_t index;
    const uint8_t *hash; /* KN_ID bytes: BLAKE2b-256 of data, as the manifest says */
    const uint8_t *data;
    size_t len;
} kn_blobfetch_chunk;

/*
 * The blob store as the engine sees it. Every function returns 0 or a
 * negative KN_E code unless said otherwise; ctx is passed back unchanged.
 */
typedef struct kn_blobfetch_store {
    void *ctx;
    /*
     * Calls fn(fctx, blob, size) for every blob this node wants and does not
     * hold complete (size: the byte count the doc declares); a negative
     * return from fn stops and is returned.
     */
    int (*each_wanted)(
        void *ctx, int (*fn)(void *fctx, const uint8_t blob[KN_ID], uint64_t size), void *fctx);
    /*
     * The stored manifest of blob: *size, and *n chunk hashes in a malloc'd
     * *hashes (the caller frees). KN_ENOTFOUND if it is not stored.
     */
    int (*manifest_get)(void *ctx, const uint8_t blob[KN_ID], uint64_t *size,
        uint8_t (**hashes)[KN_ID], uint32_t *n);
    /* Stores a manifest the engine has checked against the blob id. */
    int (*manifest_put)(void *ctx, const uint8_t blob[KN_ID], uint64_t size,
        const uint8_t (*hashes)[KN_ID], uint32_t n);
    /* Sets bit i (bits[i / 8] & 1 << i % 8) for every chunk i < n of blob the store holds. */
    int (*present)(void *ctx, const uint8_t blob[KN_ID], uint8_t *bits, uint32_t n);
    /* Stores n verified chunks, all or none (one transaction). */
    int (*put_chunks)(void *ctx, const kn_blobfetch_chunk *c, size_t n);
    /*
     * Optional: stores nm checked manifests, then nc verified chunks (of those
     * blobs or of blobs whose manifest is stored), all in one transaction, so
     * that many small files cost one commit, not two each. NULL: every
     * manifest is stored at once with manifest_put, chunks with put_chunks.
     */
    int (*put_batch)(void *ctx, const kn_blobfetch_manifest *m, size_t nm,
        const kn_blobfetch_chunk *c, size_t nc);
    /*
     * Optional, with put_batch: the same write, started beside the engine
     * (the node's writer thread) so that the network goes on while the
     * store commits. 0: under way, and the caller calls kn_blobfetch_written()
     * with its result later, on the engine's thread; the store copies what
     * it needs of m and c except the chunks' bytes, which the engine keeps
     * valid until then. A negative return: nothing started (the engine then
     * writes with put_batch). The engine has at most one write under way.
     */
    int (*put_batch_start)(void *start_ctx, const kn_blobfetch_manifest *m, size_t nm,
        const kn_blobfetch_chunk *c, size_t nc);
    void *start_ctx; /* put_batch_start's own context (the writer, not the store) */
    /*
     * Serving: calls fn(fctx, data, len) with chunk `index` of blob, the bytes
     * valid only during the call, and returns what fn returns; KN_ENOTFOUND
     * if the store does not hold that chunk.
     */
    int (*read_chunk)(void *ctx, const uint8_t blob[KN_ID], uint32_t index,
        int (*fn)(void *fctx, const uint8_t *data, size_t len), void *fctx);
} kn_blobfetch_store;

typedef struct kn_blobfetch_config {
    kn_blobfetch_store store;
    /*
     * Hands one encoded wire message for `peer` to the transport (msg borrowed
     * for the call). A negative return means the peer is going away.
     */
    int (*send)(void *ctx, uint64_t peer, const uint8_t *msg, size_t len);
    void *send_ctx;
    /* Bytes the transport still holds for peer (back-pressure on serving); NULL: always 0. */
    size_t (*queued)(void *ctx, uint64_t peer);

    /* Zero picks the default given in brackets. */
    unsigned peer_inflight; /* chunks asked of one peer at once [64, at most] ... */
    size_t peer_bytes; /* ... or bytes of them [4 MiB] */
    unsigned total_inflight; /* chunks asked of all peers at once [256] ... */
    size_t total_bytes; /* ... or bytes of them [16 MiB] */
    unsigned active_max; /* blobs fetched at once [128] ... */
    unsigned active_chunks; /* ... with this many chunks between them, or one blob [16384] */
    unsigned inbox_max; /* verified chunks held before a store write is forced [64, at most] */
    size_t inbox_bytes; /* ... or bytes of them [2 MiB] */
    uint64_t
        stall_ms; /* a peer with requests out that answers nothing this long loses them [15000] */
    uint64_t lack_ms; /* after a blob-none, that peer is not asked for that blob for [1000] */
    uint64_t rescan_ms; /* the store's wanted list is read at least this often [10000] */
    size_t serve_bytes; /* serve a peer while its transport holds less than this [2 MiB] */
    /*
     * Bytes of chunks served per second to all peers together, with bursts
     * of a quarter second's worth (at least one chunk); 0: no limit [0].
     */
    uint64_t serve_rate;
    unsigned bad_max; /* corrupt chunks from one peer before it is a fault [3] */
    /*
     * TESTS ONLY (the shell sets it from KNOTEN_TEST_CORRUPT_CHUNKS): flips one
     * byte of every chunk this node serves, to play a faulty peer.
     */
    bool test_corrupt_served;
} kn_blobfetch_config;

typedef struct kn_blobfetch kn_blobfetch;

/* Copies cfg. KN_EINVAL without send or a complete store interface. */
KN_MUST_USE int kn_blobfetch_new(kn_blobfetch **out, const kn_blobfetch_config *cfg);
void kn_blobfetch_free(kn_blobfetch *f);

/* A session with peer is up (any id unique among live peers). KN_EEXIST, KN_ELIMIT. */
KN_MUST_USE int kn_blobfetch_peer_up(kn_blobfetch *f, uint64_t peer, uint64_t now);
/*
 * The peer sent corrupt chunks before (on an earlier connection, as the
 * caller remembers): it is asked for a blob only while no other connected
 * peer may be. KN_ENOTFOUND for an unknown peer.
 */
KN_MUST_USE int kn_blobfetch_peer_distrust(kn_blobfetch *f, uint64_t peer);
/* The session ended: what was asked of it is asked of others. Unknown peers are ignored. */
void kn_blobfetch_peer_down(kn_blobfetch *f, uint64_t peer, uint64_t now);

/* True for the kinds kn_blobfetch_receive handles (blob-have ... blob-none). */
bool kn_blobfetch_handles(kn_wire_kind kind);

/*
 * One decoded blob message from peer (m and the bytes it points to borrowed
 * for the call). A negative return is the peer's fault (KN_ELIMIT: too many
 * requests waiting; KN_EPROTO: a chunk or manifest page nobody asked it for,
 * or one that does not fit): the caller disconnects it. A corrupt chunk is
 * not an error here (see kn_blobfetch_take_fault).
 */
KN_MUST_USE int kn_blobfetch_receive(
    kn_blobfetch *f, uint64_t peer, const kn_wire_msg *m, uint64_t now);

/*
 * The wanted list may have changed (a doc or a retract was stored, a blob
 * was asked for): it is read again at the next tick.
 */
void kn_blobfetch_rescan(kn_blobfetch *f);

/*
 * Writes the verified chunks waiting in the inbox, reads the wanted list when
 * due, starts blobs, sends requests, handles timeouts and serves what peers
 * asked for as far as their transport allows. Returns the absolute time of
 * the next deadline. Cheap to call often; the shell calls it once per loop
 * iteration in which it was fed, while kn_blobfetch_busy(), and at the
 * deadline.
 */
uint64_t kn_blobfetch_tick(kn_blobfetch *f, uint64_t now);

/*
 * The write started with put_batch_start is over: rc is what put_batch would
 * have returned. Its chunks count as present only now (or are missing again
 * after a failure), and the blobs it made whole are complete. Call tick after.
 */
void kn_blobfetch_written(kn_blobfetch *f, int rc, uint64_t now);

/* True while requests of peers wait to be served (call tick when transport output drains). */
bool kn_blobfetch_busy(const kn_blobfetch *f);

/*
 * A peer that sent bad_max corrupt chunks (or a manifest that does not match
 * its blob id as often): its id. False when there is none; each peer is
 * reported once per connection.
 */
bool kn_blobfetch_take_fault(kn_blobfetch *f, uint64_t *peer);

/* Things worth a log line, in the order they happened. */
typedef enum kn_blobfetch_event_kind {
    KN_BLOBFETCH_DONE = 1, /* blob complete */
    KN_BLOBFETCH_CORRUPT, /* peer sent a chunk (index) or manifest (index = UINT32_MAX) that failed
                           */
    KN_BLOBFETCH_STALLED, /* peer answered nothing for stall_ms: its requests went elsewhere */
    KN_BLOBFETCH_STORE_FAILED, /* the store refused chunks or a manifest (code) */
} kn_blobfetch_event_kind;

typedef struct kn_blobfetch_event {
    kn_blobfetch_event_kind kind;
    uint8_t blob[KN_ID];
    uint64_t peer; /* CORRUPT, STALLED */
    uint32_t index; /* CORRUPT */
    int code; /* STORE_FAILED */
    /* DONE: */
    uint64_t size;
    uint32_t chunks; /* in the blob */
    uint32_t fetched; /* chunks fetched since this engine started on it */
    uint32_t had; /* chunks that were in the store already when it started */
    uint64_t started_ms; /* when this engine started on it */
} kn_blobfetch_event;

/* The oldest event not taken yet; false when there is none. At most 256 are kept. */
bool kn_blobfetch_take_event(kn_blobfetch *f, kn_blobfetch_event *ev);

/* Figures for one peer's current session. */
typedef struct kn_blobfetch_peer_stats {
    uint64_t chunks_in, chunks_out; /* verified chunks received, chunks served */
    uint64_t bytes_in, bytes_out; /* their bytes */
    uint64_t corrupt; /* chunks (and manifests) it sent that failed their hash */
    unsigned inflight; /* chunks asked of it now */
} kn_blobfetch_peer_stats;

/* KN_ENOTFOUND for an unknown peer. */
KN_MUST_USE int kn_blobfetch_peer_get_stats(
    const kn_blobfetch *f, uint64_t peer, kn_blobfetch_peer_stats *st);

/* Where fetching stands, for progress lines. */
typedef struct kn_blobfetch_progress {
    size_t wanted; /* blobs wanted and not complete (as of the last rescan) */
    size_t active; /* ... being fetched now */
    uint64_t active_bytes; /* size of the active blobs */
    uint64_t active_missing_bytes; /* ... of which not stored yet */
    uint64_t fetched_chunks, fetched_bytes; /* verified chunks received since the engine started */
    uint64_t completed; /* blobs completed since the engine started */
    uint64_t corrupt; /* corrupt chunks received since the engine started */
    unsigned inflight; /* chunks asked for now */
} kn_blobfetch_progress;

void kn_blobfetch_get_progress(const kn_blobfetch *f, kn_blobfetch_progress *p);

/*
 * The LMDB blob store behind the engine (store/blobstore.h); s is borrowed and
 * outlives the engine. Under the on-demand policy only requested blobs are
 * wanted.
 */
struct kn_store;
kn_blobfetch_store kn_blobfetch_store_lmdb(struct kn_store *s);

/* ---- an in-memory blob store, for the unit tests and the simulator ---- */

typedef struct kn_blobfetch_memstore kn_blobfetch_memstore;

KN_MUST_USE int kn_blobfetch_memstore_new(kn_blobfetch_memstore **out);
void kn_blobfetch_memstore_free(kn_blobfetch_memstore *m);
kn_blobfetch_store kn_blobfetch_memstore_iface(kn_blobfetch_memstore *m);
/*
 * Stores a whole blob made of data (as publishing does): its manifest and
 * every chunk. blob_out receives its id. Not wanted afterwards.
 */
KN_MUST_USE int kn_blobfetch_memstore_add(
    kn_blobfetch_memstore *m, const uint8_t *data, size_t len, uint8_t blob_out[KN_ID]);
/* Marks blob (of size bytes) wanted, as a stored doc listing it would. */
KN_MUST_USE int kn_blobfetch_memstore_want(
    kn_blobfetch_memstore *m, const uint8_t blob[KN_ID], uint64_t size);
/* Forgets blob entirely (manifest, chunks, wanted), as a retraction purges it. */
void kn_blobfetch_memstore_purge(kn_blobfetch_memstore *m, const uint8_t blob[KN_ID]);
/* Chunks of blob stored (0 if the manifest is not). */
uint32_t kn_blobfetch_memstore_chunks(const kn_blobfetch_memstore *m, const uint8_t blob[KN_ID]);
/*
 * Copies the blob's bytes into buf (cap bytes) if every chunk is stored:
 * returns the size, or KN_ENOTFOUND / KN_EAGAIN (incomplete) / KN_ETOOBIG.
 */
KN_MUST_USE int64_t kn_blobfetch_memstore_read(
    const kn_blobfetch_memstore *m, const uint8_t blob[KN_ID], uint8_t *buf, size_t cap);
/* Store writes (put_chunks calls) so far, and chunks written. */
void kn_blobfetch_memstore_counts(
    const kn_blobfetch_memstore *m, uint64_t *put_calls, uint64_t *chunks_put);
/* Tests: every later put_chunks fails with code (0: succeeds again). */
void kn_blobfetch_memstore_fail_puts(kn_blobfetch_memstore *m, int code);

#endif
