/*
 * Negentropy V1: range-based set reconciliation over (timestamp, id) items.
 *
 * Anti-entropy between two nodes runs this protocol over the objects they hold
 * (timestamp = `created`, id = the object id). The client (initiator) opens with
 * kn_neg_initiate(), the server answers every message with
 * kn_neg_reconcile_server(), and the client feeds each answer to
 * kn_neg_reconcile_client(), which reports the ids only it has ("have") and the
 * ids only the server has ("need"), until it says the sets are reconciled.
 *
 * The messages are byte-for-byte those of the reference implementation
 * (hoytech/negentropy, docs/negentropy-protocol-v1.md): version byte 0x61, 16
 * fingerprint buckets per split, id lists below 32 items, minimal bounds, the
 * same frame-size-limit cut-off and skip merging. docs/negentropy.md says how
 * the reference's cross-implementation suite is run against this code.
 *
 * The engine is sans-I/O and has no globals: bytes in, bytes out. It works over
 * an abstract sorted item storage (kn_neg_storage) so that the store can back it
 * with an LMDB tree holding sums and counts, making a round O(log n) per range.
 * An in-memory storage (kn_neg_vector) is provided here for tests, the harness
 * and small sets.
 */
#ifndef KN_NEGENTROPY_H
#define KN_NEGENTROPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
    KN_NEG_ID = 32, /* bytes in an item id */
    KN_NEG_FINGERPRINT = 16, /* bytes in a range fingerprint */
    KN_NEG_VERSION = 0x61, /* protocol version byte of Negentropy V1 */
    KN_NEG_VARINT_MAX = 10, /* longest encoding of a uint64_t varint */
    KN_NEG_MIN_FRAME = 4096, /* smallest non-zero frame size limit */
    KN_NEG_DONE = 1, /* kn_neg_reconcile_client(): reconciliation complete */
};

/* The "infinity" timestamp; items may not use it. */
#define KN_NEG_TS_MAX UINT64_MAX

typedef struct kn_neg_item {
    uint64_t timestamp;
    uint8_t id[KN_NEG_ID];
} kn_neg_item;

/*
 * The sorted set of items the engine reconciles, seen through function
 * pointers. Items are ordered by timestamp, then by id bytewise, and are
 * addressed by index 0..size-1. Every function returns 0 or a negative KN_E
 * code, which the engine passes up unchanged (so an LMDB error surfaces as the
 * store's code). The storage must not change while an engine uses it.
 */
typedef struct kn_neg_storage {
    void *ctx;
    /* Number of items. */
    int (*size)(void *ctx, size_t *out);
    /* The item at index (index < size). */
    int (*get)(void *ctx, size_t index, kn_neg_item *out);
    /*
     * The first index i in [begin, end) whose item is not less than bound
     * (comparing timestamp, then all 32 id bytes), or end if there is none.
     * A bound's id prefix arrives zero-padded to 32 bytes.
     */
    int (*lower_bound)(void *ctx, size_t begin, size_t end, const kn_neg_item *bound, size_t *out);
    /*
     * The fingerprint of the items in [begin, end): their ids summed as 32-byte
     * little-endian integers mod 2^256, then kn_neg_fingerprint_of_sum() with
     * the count end - begin. An implementation keeps the sums incrementally.
     */
    int (*fingerprint)(void *ctx, size_t begin, size_t end, uint8_t out[static KN_NEG_FINGERPRINT]);
} kn_neg_storage;

/* ---- building blocks, public for storage implementations and tests ---- */

/* acc += id mod 2^256, both 32-byte little-endian. */
void kn_neg_sum_add(uint8_t acc[static KN_NEG_ID], const uint8_t id[static KN_NEG_ID]);
/* acc -= id mod 2^256. */
void kn_neg_sum_sub(uint8_t acc[static KN_NEG_ID], const uint8_t id[static KN_NEG_ID]);
/* SHA-256(sum || varint(count)), first 16 bytes. */
void kn_neg_fingerprint_of_sum(
    uint8_t out[static KN_NEG_FINGERPRINT], const uint8_t sum[static KN_NEG_ID], uint64_t count);

/* Writes the varint (most significant 7-bit group first) and returns its length (1..10). */
size_t kn_neg_varint_encode(uint8_t out[static KN_NEG_VARINT_MAX], uint64_t v);
/*
 * Reads one varint from in[0..len); *used receives the bytes consumed.
 * KN_ETRUNC if it does not end inside the input, KN_ENONCANON if it has a
 * leading zero group, KN_ETOOBIG if it does not fit in 64 bits.
 */
KN_MUST_USE int kn_neg_varint_decode(const uint8_t *in, size_t len, uint64_t *v, size_t *used);

/* Total order of items: timestamp, then id bytewise. <0, 0, >0. */
int kn_neg_item_cmp(const kn_neg_item *a, const kn_neg_item *b);

/* ---- the in-memory storage ---- */

/*
 * A sorted array with prefix sums: inserts go to an unsorted array, seal()
 * sorts it, rejects duplicates and computes the running sum of ids, so that
 * a fingerprint costs O(1) (two 32-byte subtractions and one SHA-256) and a
 * lower bound O(log n). Memory: 64 bytes per item. Once sealed it cannot
 * take more items.
 */
typedef struct kn_neg_vector kn_neg_vector;

KN_MUST_USE int kn_neg_vector_new(kn_neg_vector **out);
void kn_neg_vector_free(kn_neg_vector *v);
/* KN_EINVAL for the reserved timestamp KN_NEG_TS_MAX, KN_ESTATE once sealed. */
KN_MUST_USE int kn_neg_vector_insert(
    kn_neg_vector *v, uint64_t timestamp, const uint8_t id[static KN_NEG_ID]);
/* KN_EEXIST if the same (timestamp, id) was inserted twice; KN_ESTATE if sealed already. */
KN_MUST_USE int kn_neg_vector_seal(kn_neg_vector *v);
/* The storage view of a sealed vector; valid while v lives. */
kn_neg_storage kn_neg_vector_storage(kn_neg_vector *v);

/* ---- the reconciliation engine ---- */

typedef struct kn_neg kn_neg;

/*
 * A list of ids the client found while reconciling; the caller owns the
 * struct (zero-initialise it) and frees the array with kn_neg_ids_free().
 * ids[i] is the i-th id; the engine only appends.
 */
typedef struct kn_neg_ids {
    uint8_t (*ids)[KN_NEG_ID];
    size_t count;
    size_t cap;
} kn_neg_ids;

void kn_neg_ids_free(kn_neg_ids *ids);

/*
 * A new engine over storage (copied; the storage it points to must outlive
 * the engine). frame_size_limit caps every message this engine writes, in
 * bytes; 0 means no limit, otherwise it must be at least KN_NEG_MIN_FRAME
 * (KN_EINVAL). A cut-off message ends with a fingerprint over the rest, and
 * the next round continues from there.
 */
KN_MUST_USE int kn_neg_new(kn_neg **out, const kn_neg_storage *storage, uint64_t frame_size_limit);
void kn_neg_free(kn_neg *n);

/*
 * Makes this engine the client and writes the first message. *out points into
 * a buffer the engine owns, valid until the next call on n or kn_neg_free().
 * KN_ESTATE if called twice.
 */
KN_MUST_USE int kn_neg_initiate(kn_neg *n, const uint8_t **out, size_t *out_len);

/*
 * Server side: answers one client message. The answer is never empty: a
 * message of a newer protocol version (0x62..0x6f) gets the one-byte reply
 * 0x61, asking the client to retry in V1. *out as for kn_neg_initiate().
 * Errors: KN_ETRUNC (input ends early), KN_EPROTO (not a negentropy message,
 * unknown mode, bounds out of order, over-long id prefix), KN_ENONCANON /
 * KN_ETOOBIG (bad varint), KN_ESTATE (this engine initiated), KN_ENOMEM, or
 * a storage error. On error *out is NULL and the engine may be used again.
 */
KN_MUST_USE int kn_neg_reconcile_server(
    kn_neg *n, const uint8_t *in, size_t len, const uint8_t **out, size_t *out_len);

/*
 * Client side: processes one server answer. Appends the ids the client has and
 * the server lacks to *have, and those the server has and the client lacks to
 * *need (either list may repeat across calls only if the server repeats
 * itself). Returns 0 with the next message to send in *out, or KN_NEG_DONE
 * with *out NULL and *out_len 0 when the sets are reconciled. KN_EVERSION if
 * the server speaks another version; other errors as for the server. On error
 * the lists may hold ids appended before the error was found.
 */
KN_MUST_USE int kn_neg_reconcile_client(kn_neg *n, const uint8_t *in, size_t len,
    const uint8_t **out, size_t *out_len, kn_neg_ids *have, kn_neg_ids *need);

#endif
