/*
 * The store's Negentropy storage: the items (created, id) of the by_time index
 * seen as a kn_neg_storage whose fingerprints and index lookups never scan the
 * store.
 *
 * Why: anti-entropy runs Negentropy over every object a node holds. With a
 * sorted array that costs O(n) per round to build; at 10M objects a catch-up
 * would scan the store for each peer (strfry's sync took hours at 15M events
 * for this reason). Here the sums and counts live in a named LMDB database,
 * "negtree", maintained in the same write transaction whenever an object
 * enters or leaves by_time (ingest, release from pending, retraction,
 * revocation purge), so a round costs O(log n) per range.
 *
 * The tree: an item's 80-bit key K is the first 10 bytes of its by_time key,
 * created(8, big-endian) || id[0..1]. A node at depth d (0..20) covers the
 * items whose K starts with a given d-nibble prefix P, and holds their count
 * and the sum of their ids mod 2^256. A node is either a leaf, whose items are
 * read straight from by_time (a key range, since K prefixes by_time keys), or
 * split, when all its non-empty children (depth d+1, fanout 16) are stored.
 * A leaf is split as soon as it holds more than KN_NEGTREE_LEAF_MAX items, so
 * a leaf scan is bounded; a split node stays split until it is empty.
 *
 * Complexity, in LMDB cursor steps: descending to an index or a bound reads
 * at most 16 children per level over at most 20 levels, then at most
 * KN_NEGTREE_LEAF_MAX items of one leaf: O(16 * depth + leaf) with depth <=
 * 20 for any n. In practice the top levels (ms-since-1970 timestamps share
 * their high nibbles) have one child each, so the cost is about log16(n) full
 * levels. size() is O(1) (root), get(i) and lower_bound() one descent,
 * fingerprint() two descents (or one, when the previous call ended where this
 * one begins). Sequential get(i), get(i+1) is one cursor step. An ingest adds
 * one read-modify-write per level on the item's path (about 10 to 14), plus a
 * split of at most KN_NEGTREE_LEAF_MAX + 1 items when a leaf overflows.
 *
 * Worst case: items that share created AND the first two id bytes cannot be
 * told apart by the tree (depth 20 is the last). m of them form one leaf that
 * is scanned linearly: O(m). Many items in the same millisecond alone are fine
 * (their ids, being hashes, spread over id[0..1]); getting m items into one
 * such bucket needs ~2^16 signing attempts per item by an authorised member,
 * and only slows that one range down.
 *
 * Space: about one tree record (52 bytes) per 4 items.
 */
#ifndef KN_NEGTREE_H
#define KN_NEGTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "negentropy.h"
#include "store.h"

enum {
    KN_NEGTREE_LEAF_MAX = 32, /* items in a leaf before it splits */
};

/*
 * A read snapshot of the store's items for one reconciliation round (or a
 * whole reconciliation). It holds one LMDB read transaction, so every call on
 * its storage sees the same set even while ingests commit. Owned by the
 * caller; free it with kn_store_neg_close() before closing the store.
 *
 * Lifetime rule: while a snapshot is open, do not call kn_store_ingest() (or
 * anything that writes) on the same kn_store from a path that could need the
 * map to grow: growing the map requires that this process has no transaction
 * open. The replication engine opens a snapshot, answers one message, and
 * closes it again; a long-lived snapshot also pins old pages in the file.
 */
typedef struct kn_store_neg kn_store_neg;

KN_MUST_USE int kn_store_neg_open(kn_store *s, kn_store_neg **out);
/* Ends the read transaction. Accepts NULL. */
void kn_store_neg_close(kn_store_neg *h);

/*
 * The storage view of the snapshot, to pass to kn_neg_new(). It points into
 * h: valid until kn_store_neg_close(h), so the engine using it must be freed
 * first (or not used after).
 */
kn_neg_storage kn_store_neg_storage(kn_store_neg *h);

/*
 * Rebuilds the tree from by_time in one write transaction: one scan of the
 * store. kn_store_open() runs it once when it migrates a schema-1 store; it
 * is exposed for repair and for the benchmark's bulk loads.
 */
KN_MUST_USE int kn_store_neg_rebuild(kn_store *s);

/*
 * Tests and benchmarks only: put items straight into by_time without objects
 * (so kn_store_each() on such a store reports KN_ECORRUPT), in one write
 * transaction. items are borrowed. with_tree: maintain the tree per item, as
 * ingest does; false leaves it stale until kn_store_neg_rebuild() (fast bulk
 * load of sorted items). An item already present is skipped. Never call these
 * in the node.
 */
KN_MUST_USE int kn_store_debug_neg_insert(
    kn_store *s, const kn_neg_item *items, size_t n, bool with_tree);
/* Removes items from by_time and the tree, as a retraction does; absent items: KN_ENOTFOUND. */
KN_MUST_USE int kn_store_debug_neg_delete(kn_store *s, const kn_neg_item *items, size_t n);
/*
 * A BLAKE2b-256 digest of every tree record, in key order: two stores that
 * saw the same updates in the same order must have the same tree, however the
 * updates were grouped into transactions.
 */
KN_MUST_USE int kn_store_debug_neg_digest(kn_store *s, uint8_t out[32]);
/* Deletes the tree database and writes schema version 1: the store as an older knoten left it. */
KN_MUST_USE int kn_store_debug_neg_drop(kn_store *s);

#endif
