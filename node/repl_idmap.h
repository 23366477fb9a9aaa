/*
 * A hash map keyed by 32-byte ids, internal to the replication engine and
 * its in-memory store. Ids are BLAKE2b outputs, so their first bytes are
 * already uniform and serve as the hash. Open addressing, linear probing,
 * backward-shift deletion (no tombstones), doubling at 1/2 load. Each slot
 * holds the id and a fixed-size value the caller interprets; the value of a
 * new key starts zeroed. Iteration is by slot index, in a deterministic order
 * that depends only on the operations done, so a seeded run replays exactly.
 */
#ifndef KN_REPL_IDMAP_H
#define KN_REPL_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "object.h"

typedef struct kn_idmap {
    uint8_t *slots; /* cap slots of (1 used byte, KN_ID id, value) */
    size_t cap; /* power of two, or 0 before the first put */
    size_t count;
    size_t vsize;
    size_t ssize; /* bytes per slot */
} kn_idmap;

void kn_idmap_init(kn_idmap *m, size_t vsize);
void kn_idmap_free(kn_idmap *m);
/* Empties the map and releases its memory. */
void kn_idmap_clear(kn_idmap *m);
/* The value stored for id, or NULL. Valid until the next put or del. */
void *kn_idmap_get(const kn_idmap *m, const uint8_t id[KN_ID]);
/* The value for id, inserted zeroed if absent (*created says which); NULL if out of memory. */
void *kn_idmap_put(kn_idmap *m, const uint8_t id[KN_ID], int *created);
/* Removes id if present. Moves other entries: restart any iteration. */
void kn_idmap_del(kn_idmap *m, const uint8_t id[KN_ID]);
/* Slot i (< cap): its value and id, or NULL if the slot is empty. */
void *kn_idmap_slot(const kn_idmap *m, size_t i, const uint8_t **id);

#endif
