/* The engine's id-keyed hash map (see repl_idmap.h). */
#include "repl_idmap.h"

#include <stdlib.h>
#include <string.h>

void kn_idmap_init(kn_idmap *m, size_t vsize)
{
    memset(m, 0, sizeof *m);
    m->vsize = vsize;
    /* Keep values 8-byte aligned: 1 used byte + 32 id bytes, padded to 40. */
    m->ssize = 40 + ((vsize + 7) & ~(size_t)7);
}

void kn_idmap_free(kn_idmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

void kn_idmap_clear(kn_idmap *m)
{
    kn_idmap_free(m);
}

static size_t hash(const uint8_t id[KN_ID])
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    return (size_t)(h ^ (h >> 29));
}

static uint8_t *slot(const kn_idmap *m, size_t i)
{
    return m->slots + i * m->ssize;
}

static size_t find(const kn_idmap *m, const uint8_t id[KN_ID], int *found)
{
    size_t mask = m->cap - 1;
    for (size_t i = hash(id) & mask;; i = (i + 1) & mask) {
        uint8_t *s = slot(m, i);
        if (!s[0]) {
            *found = 0;
            return i;
        }
        if (memcmp(s + 1, id, KN_ID) == 0) {
            *found = 1;
            return i;
        }
    }
}

void *kn_idmap_get(const kn_idmap *m, const uint8_t id[KN_ID])
{
    int found;
    if (!m->cap)
        return NULL;
    size_t i = find(m, id, &found);
    return found ? slot(m, i) + 40 : NULL;
}

static int grow(kn_idmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    uint8_t *ns = calloc(ncap, m->ssize);
    if (!ns)
        return KN_ENOMEM;
    /*
     * A large calloc is a fresh mapping left untouched, so the first probe of
     * a page would map the shared zero page and the first write then copy it
     * and flush the TLB of every core running the node's threads: an
     * inter-processor interrupt per page, on a VM an exit, thousands of them
     * while a catch-up grows the want and known maps. Writing each page first
     * costs one plain fault instead. (A memset after malloc would not do:
     * the compiler turns the pair back into calloc.)
     */
    for (size_t off = 0; off < ncap * m->ssize; off += 4096)
        ((volatile uint8_t *)ns)[off] = 0;
    kn_idmap old = *m;
    m->slots = ns;
    m->cap = ncap;
    for (size_t i = 0; i < old.cap; i++) {
        uint8_t *s = slot(&old, i);
        if (!s[0])
            continue;
        int found;
        size_t j = find(m, s + 1, &found);
        memcpy(slot(m, j), s, m->ssize);
    }
    free(old.slots);
    return 0;
}

void *kn_idmap_put(kn_idmap *m, const uint8_t id[KN_ID], int *created)
{
    int found;
    if ((m->count + 1) * 2 > m->cap && grow(m) < 0)
        return NULL;
    size_t i = find(m, id, &found);
    uint8_t *s = slot(m, i);
    if (!found) {
        s[0] = 1;
        memcpy(s + 1, id, KN_ID);
        memset(s + 40, 0, m->ssize - 40);
        m->count++;
    }
    if (created)
        *created = !found;
    return s + 40;
}

void kn_idmap_del(kn_idmap *m, const uint8_t id[KN_ID])
{
    int found;
    if (!m->cap)
        return;
    size_t i = find(m, id, &found);
    if (!found)
        return;
    size_t mask = m->cap - 1;
    /* Backward shift: pull later entries of the probe run into the hole. */
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        uint8_t *sj = slot(m, j);
        if (!sj[0])
            break;
        size_t home = hash(sj + 1) & mask;
        /* sj may move to i if its home is not cyclically in (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            memcpy(slot(m, i), sj, m->ssize);
            i = j;
        }
    }
    slot(m, i)[0] = 0;
    m->count--;
}

void *kn_idmap_slot(const kn_idmap *m, size_t i, const uint8_t **id)
{
    uint8_t *s = slot(m, i);
    if (!s[0])
        return NULL;
    if (id)
        *id = s + 1;
    return s + 40;
}
