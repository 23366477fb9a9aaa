/*
 * The Negentropy tree: counts and id sums per key prefix, kept in step with
 * by_time so that a fingerprint or an index lookup is a descent, not a scan.
 * negtree.h describes the layout and the costs; ingest.c calls
 * kn_negtree_add/del, store.c calls kn_negtree_build when it migrates.
 *
 * Record: key depth(1) || P(10), where P is the item key K = created(8) ||
 * id[0..1] with every nibble from index `depth` on set to zero; value
 * count(8, big-endian) || sum(32, little-endian as Negentropy adds) ||
 * split(1). Within one depth, key order is item order, and the children of
 * (d, P) are the contiguous keys (d+1, P with nibble d = 0..15).
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "grow.h"
#include "negtree.h"
#include "store_impl.h"

enum {
    ITEM_KEY = 8 + KN_ID, /* a by_time key */
    K_BYTES = 10, /* created(8) id[0..1] */
    DEPTH_MAX = 2 * K_BYTES, /* 20 nibbles: a node at this depth cannot split */
    NODE_KEY = 1 + K_BYTES,
    NODE_VAL = 8 + KN_ID + 1,
};

typedef struct node {
    uint64_t count;
    uint8_t sum[KN_ID];
    bool split;
} node;

/* ---- nibbles ---- */

static unsigned nibble(const uint8_t *k, unsigned d)
{
    return d % 2 ? k[d / 2] & 0x0f : k[d / 2] >> 4;
}

static void set_nibble(uint8_t *k, unsigned d, unsigned v)
{
    if (d % 2)
        k[d / 2] = (uint8_t)((k[d / 2] & 0xf0) | v);
    else
        k[d / 2] = (uint8_t)((k[d / 2] & 0x0f) | v << 4);
}

/* Whether a and b agree on their first d nibbles. */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned d)
{
    if (memcmp(a, b, d / 2) != 0)
        return false;
    return d % 2 == 0 || (a[d / 2] >> 4) == (b[d / 2] >> 4);
}

/* The node key of depth d on the path of item key (or prefix) k. */
static void node_key(uint8_t out[NODE_KEY], const uint8_t *k, unsigned d)
{
    out[0] = (uint8_t)d;
    memset(out + 1, 0, K_BYTES);
    memcpy(out + 1, k, d / 2);
    if (d % 2)
        out[1 + d / 2] = k[d / 2] & 0xf0;
}

/* ---- sums ---- */

/*
 * The id sums mod 2^256, as kn_neg_sum_add/sub compute them (little-endian),
 * but four 64-bit limbs at a time: a tree update adds the id to every node on
 * its path, and the byte-wise loop was a fifth of the ingest writer's
 * instructions.
 */
/* memcpy is one load or store; the byte swap only exists on big-endian hosts. */
static uint64_t le64_get(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static void le64_put(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

static void sum_add(uint8_t acc[KN_ID], const uint8_t id[KN_ID])
{
    uint64_t carry = 0;
    for (int i = 0; i < KN_ID; i += 8) {
        uint64_t a = le64_get(acc + i), b = le64_get(id + i);
        uint64_t t = a + b, r = t + carry;
        carry = (t < a) | (r < t);
        le64_put(acc + i, r);
    }
}

static void sum_sub(uint8_t acc[KN_ID], const uint8_t id[KN_ID])
{
    uint64_t borrow = 0;
    for (int i = 0; i < KN_ID; i += 8) {
        uint64_t a = le64_get(acc + i), b = le64_get(id + i);
        uint64_t t = a - b, r = t - borrow;
        borrow = (a < b) | (t < borrow);
        le64_put(acc + i, r);
    }
}

/* ---- records ---- */

static int node_parse(const MDB_val *v, node *n)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size != NODE_VAL || p[8 + KN_ID] > 1)
        return KN_ECORRUPT;
    n->count = kn_be64_get(p);
    memcpy(n->sum, p + 8, KN_ID);
    n->split = p[8 + KN_ID];
    return n->count ? 0 : KN_ECORRUPT; /* empty nodes are deleted */
}

static int node_get(kn_store *s, MDB_txn *txn, const uint8_t key[NODE_KEY], node *n)
{
    MDB_val k = { NODE_KEY, (void *)key }, v;
    int rc = mdb_get(txn, s->db.negtree, &k, &v);
    if (rc)
        return kn_store_mdb_err(rc);
    return node_parse(&v, n);
}

static int node_put(kn_store *s, MDB_txn *txn, const uint8_t key[NODE_KEY], const node *n)
{
    uint8_t val[NODE_VAL];
    kn_be64_put(val, n->count);
    memcpy(val + 8, n->sum, KN_ID);
    val[8 + KN_ID] = n->split;
    MDB_val k = { NODE_KEY, (void *)key }, v = { NODE_VAL, val };
    return kn_store_mdb_err(mdb_put(txn, s->db.negtree, &k, &v, 0));
}

/*
 * Positions c at the first by_time entry whose K starts with the d nibbles of
 * p. MDB_NOTFOUND (as KN_ENOTFOUND) if there is none at or after it; the
 * caller checks the prefix of what it got.
 */
static int items_seek(MDB_cursor *c, const uint8_t *p, unsigned d, MDB_val *k)
{
    MDB_val v;
    uint8_t start[K_BYTES];
    size_t len = (d + 1) / 2;
    int rc;

    if (len == 0) {
        rc = mdb_cursor_get(c, k, &v, MDB_FIRST);
    } else {
        memcpy(start, p, len);
        if (d % 2)
            start[len - 1] &= 0xf0;
        *k = (MDB_val) { len, start };
        rc = mdb_cursor_get(c, k, &v, MDB_SET_RANGE);
    }
    return kn_store_mdb_err(rc);
}

/* ---- the write-back cache ---- */

/*
 * Why: every item added or removed walks its whole path, and time-sorted
 * ingest walks the same upper nodes again and again. Reading and writing each
 * node through LMDB cost about ten B-tree lookups and ten record writes per
 * object, which was the largest share of the ingest writer's time. Instead,
 * the nodes a write transaction touches are kept here, keyed by their tree
 * key: the first touch reads the record (or learns that it is absent), later
 * touches are a hash lookup, and kn_negtree_flush() writes each dirty node
 * once, in key order, before the transaction commits. For a batch of 1024
 * time-sorted objects that is a few hundred record writes instead of about
 * twenty thousand lookups and writes.
 *
 * The algorithm that runs on the cached nodes is unchanged (the same adds,
 * deletes and splits in the same order), so the tree written is exactly the
 * one that per-item updates would have written. split_leaf() reads the items
 * of a leaf from by_time, which ingest writes straight through, so what it
 * counts agrees with the cached counts.
 *
 * Lifetime: kn_store_write() resets the cache when a transaction (or a retry
 * after the map grew) begins and flushes it before the commit. An abort just
 * forgets it. A transaction that touches more than CACHE_MAX nodes flushes
 * early, which keeps memory bounded (a revocation may purge many objects).
 */
enum { CACHE_MAX = 1024 }; /* test_batched_tree_records goes past it */

typedef struct cache_entry {
    uint8_t key[NODE_KEY];
    bool dirty; /* differs from the record in LMDB; count 0: delete (or never write) it */
    node n; /* count 0: absent */
} cache_entry;

struct kn_negtree_cache {
    cache_entry *e; /* in insertion order */
    size_t n, cap;
    uint32_t *slot; /* open addressing: 0 empty, else index into e + 1 */
    size_t nslots; /* a power of two, at least twice n */
    /*
     * The entries on the path of the last item walked: the next item shares
     * the nodes of its common nibble prefix with it (time-sorted ingest shares
     * the top dozen), which then need no hashing. path_len 0: none known.
     */
    uint8_t path_key[K_BYTES];
    unsigned path_len;
    uint32_t path_idx[DEPTH_MAX + 1];
};

static uint64_t cache_hash(const uint8_t key[NODE_KEY])
{
    uint64_t a, b = 0;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, NODE_KEY - 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 29);
}

static int cache_grow(kn_negtree_cache *c)
{
    if (c->n == c->cap) {
        cache_entry *ne = kn_grow(c->e, &c->cap, 256, sizeof *ne);
        if (!ne)
            return KN_ENOMEM;
        c->e = ne;
    }
    if (2 * (c->n + 1) > c->nslots) {
        size_t ns = c->nslots ? c->nslots * 2 : 1024;
        uint32_t *nsl = calloc(ns, sizeof *nsl);
        if (!nsl)
            return KN_ENOMEM;
        for (size_t i = 0; i < c->n; i++) {
            size_t j = cache_hash(c->e[i].key) & (ns - 1);
            while (nsl[j])
                j = (j + 1) & (ns - 1);
            nsl[j] = (uint32_t)(i + 1);
        }
        free(c->slot);
        c->slot = nsl;
        c->nslots = ns;
    }
    return 0;
}

static kn_negtree_cache *cache_of(kn_store *s)
{
    if (!s->tree_cache)
        s->tree_cache = calloc(1, sizeof *s->tree_cache);
    return s->tree_cache;
}

void kn_negtree_cache_reset(kn_store *s)
{
    kn_negtree_cache *c = s->tree_cache;
    if (!c)
        return;
    c->path_len = 0;
    if (c->n == 0)
        return;
    memset(c->slot, 0, c->nslots * sizeof *c->slot);
    c->n = 0;
}

void kn_negtree_cache_free(kn_negtree_cache *c)
{
    if (!c)
        return;
    free(c->e);
    free(c->slot);
    free(c);
}

/*
 * The index of key's entry, inserting one if it is new: loaded from LMDB when
 * load is set (count 0 if there is no record), else zero, to be overwritten.
 */
static int cache_find(
    kn_store *s, MDB_txn *txn, const uint8_t key[NODE_KEY], bool load, size_t *out)
{
    kn_negtree_cache *c = cache_of(s);
    int rc;

    if (!c)
        return KN_ENOMEM;
    if (c->nslots) {
        size_t j = cache_hash(key) & (c->nslots - 1);
        for (; c->slot[j]; j = (j + 1) & (c->nslots - 1)) {
            cache_entry *e = &c->e[c->slot[j] - 1];
            if (memcmp(e->key, key, NODE_KEY) == 0) {
                *out = c->slot[j] - 1;
                return 0;
            }
        }
    }
    if ((rc = cache_grow(c)) < 0)
        return rc;
    cache_entry *e = &c->e[c->n];
    memcpy(e->key, key, NODE_KEY);
    e->dirty = false;
    memset(&e->n, 0, sizeof e->n);
    if (load) {
        rc = node_get(s, txn, key, &e->n);
        if (rc == KN_ENOTFOUND)
            memset(&e->n, 0, sizeof e->n);
        else if (rc < 0)
            return rc;
    }
    size_t j = cache_hash(key) & (c->nslots - 1);
    while (c->slot[j])
        j = (j + 1) & (c->nslots - 1);
    c->slot[j] = (uint32_t)(c->n + 1);
    *out = c->n++;
    return 0;
}

static int cache_cmp(const void *a, const void *b)
{
    return memcmp(((const cache_entry *)a)->key, ((const cache_entry *)b)->key, NODE_KEY);
}

/*
 * Writes the dirty nodes and empties the cache. Entries are sorted in place
 * (which is why the cache is emptied): in key order the cursor stays on one
 * page for neighbouring nodes instead of descending from the root each time.
 */
int kn_negtree_flush(kn_store *s, MDB_txn *txn)
{
    kn_negtree_cache *c = s->tree_cache;
    MDB_cursor *cur = NULL;
    size_t nd = 0;
    int rc = 0;

    if (!c || c->n == 0)
        return 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->e[i].dirty)
            c->e[nd++] = c->e[i];
    kn_negtree_cache_reset(s);
    if (nd == 0)
        return 0;
    qsort(c->e, nd, sizeof *c->e, cache_cmp);
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.negtree, &cur))) < 0)
        return rc;
    for (size_t i = 0; i < nd; i++) {
        cache_entry *e = &c->e[i];
        MDB_val k = { NODE_KEY, e->key }, v;
        if (e->n.count) {
            uint8_t val[NODE_VAL];
            kn_be64_put(val, e->n.count);
            memcpy(val + 8, e->n.sum, KN_ID);
            val[8 + KN_ID] = e->n.split;
            v = (MDB_val) { NODE_VAL, val };
            rc = mdb_cursor_put(cur, &k, &v, 0);
        } else {
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
            if (rc == 0)
                rc = mdb_cursor_del(cur, 0);
            else if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        if ((rc = kn_store_mdb_err(rc)) < 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc;
}

/* Makes room before a walk starts, so that no walk is cut in half by a flush. */
static int cache_make_room(kn_store *s, MDB_txn *txn)
{
    if (!s->tree_cache || s->tree_cache->n < CACHE_MAX)
        return 0;
    return kn_negtree_flush(s, txn);
}

static int cache_set(kn_store *s, MDB_txn *txn, const uint8_t key[NODE_KEY], const node *n)
{
    size_t i;
    int rc = cache_find(s, txn, key, false, &i);
    if (rc < 0)
        return rc;
    s->tree_cache->e[i].n = *n;
    s->tree_cache->e[i].dirty = true;
    return 0;
}

/* How many leading nibbles a and b (K_BYTES each) share. */
static unsigned common_nibbles(const uint8_t *a, const uint8_t *b)
{
    unsigned i = 0;
    while (i < K_BYTES && a[i] == b[i])
        i++;
    if (i == K_BYTES)
        return DEPTH_MAX;
    return 2 * i + ((a[i] >> 4) == (b[i] >> 4));
}

/*
 * Starts the walk of item's path: the depths below the returned path_len
 * reuse the previous walk's entries.
 */
static int path_begin(kn_store *s, MDB_txn *txn, const uint8_t item[ITEM_KEY])
{
    int rc = cache_make_room(s, txn);
    kn_negtree_cache *c = cache_of(s);
    if (rc < 0)
        return rc;
    if (!c)
        return KN_ENOMEM;
    if (c->path_len) {
        unsigned p = common_nibbles(c->path_key, item) + 1; /* depths 0..p-1 share nodes */
        if (p < c->path_len)
            c->path_len = p;
    }
    memcpy(c->path_key, item, K_BYTES);
    return 0;
}

/* The cache entry of item's node at depth d; the walk goes d = 0, 1, 2, ... */
static int path_node(
    kn_store *s, MDB_txn *txn, const uint8_t item[ITEM_KEY], unsigned d, cache_entry **out)
{
    kn_negtree_cache *c = s->tree_cache;
    size_t i;
    if (d < c->path_len) {
        i = c->path_idx[d];
    } else {
        uint8_t key[NODE_KEY];
        node_key(key, item, d);
        int rc = cache_find(s, txn, key, true, &i);
        if (rc < 0) {
            c->path_len = 0;
            return rc;
        }
        c->path_idx[d] = (uint32_t)i;
        c->path_len = d + 1;
    }
    *out = &c->e[i];
    return 0;
}

/* ---- write side ---- */

/*
 * Turns the leaf (d, P) into a split node: reads its items from by_time
 * (at most KN_NEGTREE_LEAF_MAX + 1 of them), writes its children as leaves,
 * and splits any child that is itself over the bound (all the items may share
 * the next nibble too). Recursion depth is at most DEPTH_MAX.
 */
static int split_leaf(kn_store *s, MDB_txn *txn, const uint8_t key[NODE_KEY], node *n)
{
    unsigned d = key[0];
    node child[16];
    MDB_cursor *c = NULL;
    MDB_val k, v;
    uint64_t seen = 0;
    int rc;

    memset(child, 0, sizeof child);
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_time, &c))) < 0)
        return rc;
    for (rc = items_seek(c, key + 1, d, &k); rc == 0;
         rc = kn_store_mdb_err(mdb_cursor_get(c, &k, &v, MDB_NEXT))) {
        if (k.mv_size != ITEM_KEY) {
            rc = KN_ECORRUPT;
            goto out;
        }
        const uint8_t *ik = k.mv_data;
        if (!prefix_eq(ik, key + 1, d))
            break;
        node *ch = &child[nibble(ik, d)];
        ch->count++;
        sum_add(ch->sum, ik + 8);
        if (++seen > n->count)
            break; /* caught below */
    }
    if (rc < 0 && rc != KN_ENOTFOUND)
        goto out;
    mdb_cursor_close(c);
    c = NULL;
    if (seen != n->count)
        return KN_ECORRUPT; /* the tree and by_time disagree */
    n->split = true;
    if ((rc = cache_set(s, txn, key, n)) < 0)
        return rc;
    for (unsigned j = 0; j < 16; j++) {
        if (!child[j].count)
            continue;
        uint8_t ck[NODE_KEY];
        memcpy(ck, key, NODE_KEY);
        ck[0] = (uint8_t)(d + 1);
        set_nibble(ck + 1, d, j);
        if ((rc = cache_set(s, txn, ck, &child[j])) < 0)
            return rc;
        if (child[j].count > KN_NEGTREE_LEAF_MAX && d + 1 < DEPTH_MAX
            && (rc = split_leaf(s, txn, ck, &child[j])) < 0)
            return rc;
    }
    return 0;
out:
    mdb_cursor_close(c);
    return rc;
}

int kn_negtree_add(kn_store *s, MDB_txn *txn, const uint8_t item[ITEM_KEY])
{
    uint8_t key[NODE_KEY];
    node n;
    int rc;

    if ((rc = path_begin(s, txn, item)) < 0)
        return rc;
    for (unsigned d = 0; d <= DEPTH_MAX; d++) {
        cache_entry *e;
        if ((rc = path_node(s, txn, item, d, &e)) < 0)
            return rc;
        n = e->n; /* count 0: the first item under this prefix, a new leaf */
        n.count++;
        sum_add(n.sum, item + 8);
        if (!n.split && n.count > KN_NEGTREE_LEAF_MAX && d < DEPTH_MAX) {
            memcpy(key, e->key, NODE_KEY);
            return split_leaf(s, txn, key, &n);
        }
        e->n = n;
        e->dirty = true;
        if (!n.split)
            return 0;
    }
    return KN_ECORRUPT; /* a split node at the last depth */
}

/*
 * Removes one item from every node on its path. A node that becomes empty is
 * deleted; its descendants on the path are empty too and go with it. A split
 * node that shrinks under the leaf bound stays split: that costs a few
 * records, and merging would cost a scan on the delete path.
 */
int kn_negtree_del(kn_store *s, MDB_txn *txn, const uint8_t item[ITEM_KEY])
{
    node n;
    int rc;

    if ((rc = path_begin(s, txn, item)) < 0)
        return rc;
    for (unsigned d = 0; d <= DEPTH_MAX; d++) {
        cache_entry *e;
        if ((rc = path_node(s, txn, item, d, &e)) < 0)
            return rc;
        n = e->n;
        if (n.count == 0)
            return KN_ECORRUPT; /* the item is in by_time but not under this node */
        n.count--;
        sum_sub(n.sum, item + 8);
        /* An emptied node is deleted at the flush; until then it reads as absent. */
        e->n = n;
        if (n.count == 0)
            memset(&e->n, 0, sizeof e->n);
        e->dirty = true;
        if (!n.split)
            return 0;
    }
    return KN_ECORRUPT;
}

/*
 * The bulk build: one pass over by_time in order. open[d] is the node of
 * depth d on the current item's path; when the path moves on, the nodes that
 * end are closed deepest first. A closed node is kept in its parent's list of
 * children (at most 16) until the parent closes, since only then is it known
 * whether the parent splits (count > KN_NEGTREE_LEAF_MAX) and the children
 * are stored. This yields exactly the tree that inserting the items one by
 * one would, with one write per stored node.
 */
typedef struct build_node {
    uint8_t key[NODE_KEY];
    node n;
} build_node;

typedef struct builder {
    kn_store *s;
    MDB_txn *txn;
    build_node open[DEPTH_MAX + 1];
    build_node kids[DEPTH_MAX + 1][16];
    unsigned nkids[DEPTH_MAX + 1];
} builder;

static int build_close(builder *b, unsigned d)
{
    build_node *o = &b->open[d];
    int rc;

    o->n.split = o->n.count > KN_NEGTREE_LEAF_MAX && d < DEPTH_MAX;
    if (o->n.split)
        for (unsigned i = 0; i < b->nkids[d]; i++)
            if ((rc = node_put(b->s, b->txn, b->kids[d][i].key, &b->kids[d][i].n)) < 0)
                return rc;
    b->nkids[d] = 0;
    if (d == 0)
        return node_put(b->s, b->txn, o->key, &o->n);
    build_node *p = &b->open[d - 1];
    p->n.count += o->n.count;
    sum_add(p->n.sum, o->n.sum);
    if (b->nkids[d - 1] >= 16)
        return KN_ECORRUPT; /* by_time out of order */
    b->kids[d - 1][b->nkids[d - 1]++] = *o;
    return 0;
}

int kn_negtree_build(kn_store *s, MDB_txn *txn)
{
    builder *b = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    bool any = false;
    int rc;

    kn_negtree_cache_reset(s); /* what it holds is about to be replaced */
    if ((rc = kn_store_mdb_err(mdb_drop(txn, s->db.negtree, 0))) < 0)
        return rc;
    if (!(b = calloc(1, sizeof *b)))
        return KN_ENOMEM;
    b->s = s;
    b->txn = txn;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_time, &c))) < 0)
        goto out;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != ITEM_KEY) {
            rc = KN_ECORRUPT;
            goto out;
        }
        const uint8_t *ik = k.mv_data;
        unsigned first = 0; /* the shallowest depth whose node changes */
        if (any)
            while (first <= DEPTH_MAX && prefix_eq(b->open[first].key + 1, ik, first))
                first++;
        if (any)
            for (unsigned d = DEPTH_MAX + 1; d-- > first;)
                if ((rc = build_close(b, d)) < 0)
                    goto out;
        for (unsigned d = first; d <= DEPTH_MAX; d++) {
            node_key(b->open[d].key, ik, d);
            memset(&b->open[d].n, 0, sizeof b->open[d].n);
        }
        b->open[DEPTH_MAX].n.count++;
        sum_add(b->open[DEPTH_MAX].n.sum, ik + 8);
        any = true;
    }
    if (rc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(rc);
        goto out;
    }
    rc = 0;
    if (any)
        for (unsigned d = DEPTH_MAX + 1; d-- > 0;)
            if ((rc = build_close(b, d)) < 0)
                goto out;
out:
    mdb_cursor_close(c);
    free(b);
    return rc;
}

/* ---- read side ---- */

struct kn_store_neg {
    kn_store *s;
    MDB_txn *txn;
    MDB_cursor *tree; /* children during descents */
    MDB_cursor *items; /* leaf scans */
    MDB_cursor *seq; /* the last item get() returned, for sequential reads */
    node root;
    bool have_seq;
    size_t seq_index;
    /* The prefix sum last computed, since fingerprints of adjacent ranges share an end. */
    bool have_prefix;
    size_t prefix_index;
    uint8_t prefix_sum[KN_ID];
};

/*
 * Descends to index i (< root count, or == count when only the sum is
 * wanted). sum, if not NULL, receives the sum of the ids of items [0, i);
 * item_key, if not NULL, the by_time key of item i. On return h->items is
 * positioned at item i when item_key was asked for.
 */
static int descend_index(kn_store_neg *h, size_t i, uint8_t *sum, uint8_t item_key[ITEM_KEY])
{
    uint8_t p[K_BYTES] = { 0 };
    node n = h->root;
    uint64_t rem = i;
    MDB_val k, v;
    unsigned d = 0;
    int rc;

    if (sum)
        memset(sum, 0, KN_ID);
    if (i == 0 && !item_key)
        return 0;
    if (i >= h->root.count) {
        if (item_key || i > h->root.count)
            return KN_EINVAL;
        if (sum)
            memcpy(sum, h->root.sum, KN_ID);
        return 0;
    }
    while (n.split && d < DEPTH_MAX) {
        uint8_t ck[NODE_KEY];
        node ch;
        bool found = false;
        node_key(ck, p, d);
        ck[0] = (uint8_t)(d + 1);
        k = (MDB_val) { NODE_KEY, ck };
        for (rc = mdb_cursor_get(h->tree, &k, &v, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(h->tree, &k, &v, MDB_NEXT)) {
            const uint8_t *kk = k.mv_data;
            if (k.mv_size != NODE_KEY || kk[0] != d + 1 || !prefix_eq(kk + 1, p, d))
                break;
            if ((rc = node_parse(&v, &ch)) < 0)
                return rc;
            if (rem < ch.count) {
                memcpy(p, kk + 1, K_BYTES);
                found = true;
                break;
            }
            rem -= ch.count;
            if (sum)
                sum_add(sum, ch.sum);
        }
        if (rc != 0 && rc != MDB_NOTFOUND)
            return kn_store_mdb_err(rc);
        if (!found)
            return KN_ECORRUPT; /* the children hold fewer items than their parent */
        n = ch;
        d++;
    }
    if (!item_key && rem == 0)
        return 0;
    for (rc = items_seek(h->items, p, d, &k); rc == 0;
         rc = kn_store_mdb_err(mdb_cursor_get(h->items, &k, &v, MDB_NEXT))) {
        if (k.mv_size != ITEM_KEY || !prefix_eq(k.mv_data, p, d))
            return KN_ECORRUPT;
        if (rem == 0) {
            if (item_key)
                memcpy(item_key, k.mv_data, ITEM_KEY);
            return 0;
        }
        if (sum)
            sum_add(sum, (const uint8_t *)k.mv_data + 8);
        if (--rem == 0 && !item_key)
            return 0;
    }
    return rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
}

/* The number of items less than bound (a by_time key), by one descent. */
static int descend_bound(kn_store_neg *h, const uint8_t bound[ITEM_KEY], size_t *out)
{
    uint8_t p[K_BYTES] = { 0 };
    node n = h->root;
    uint64_t acc = 0;
    MDB_val k, v;
    unsigned d = 0;
    int rc;

    *out = 0;
    if (h->root.count == 0)
        return 0;
    while (n.split && d < DEPTH_MAX) {
        unsigned want = nibble(bound, d);
        uint8_t ck[NODE_KEY];
        bool found = false;
        node_key(ck, p, d);
        ck[0] = (uint8_t)(d + 1);
        k = (MDB_val) { NODE_KEY, ck };
        for (rc = mdb_cursor_get(h->tree, &k, &v, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(h->tree, &k, &v, MDB_NEXT)) {
            const uint8_t *kk = k.mv_data;
            if (k.mv_size != NODE_KEY || kk[0] != d + 1 || !prefix_eq(kk + 1, p, d))
                break;
            unsigned got = nibble(kk + 1, d);
            if (got > want)
                break;
            if ((rc = node_parse(&v, &n)) < 0)
                return rc;
            if (got == want) {
                memcpy(p, kk + 1, K_BYTES);
                found = true;
                break;
            }
            acc += n.count;
        }
        if (rc != 0 && rc != MDB_NOTFOUND)
            return kn_store_mdb_err(rc);
        if (!found) {
            *out = (size_t)acc; /* everything after the bound's slot is greater */
            return 0;
        }
        d++;
    }
    for (rc = items_seek(h->items, p, d, &k); rc == 0;
         rc = kn_store_mdb_err(mdb_cursor_get(h->items, &k, &v, MDB_NEXT))) {
        if (k.mv_size != ITEM_KEY)
            return KN_ECORRUPT;
        if (!prefix_eq(k.mv_data, p, d) || memcmp(k.mv_data, bound, ITEM_KEY) >= 0)
            break;
        acc++;
    }
    if (rc < 0 && rc != KN_ENOTFOUND)
        return rc;
    *out = (size_t)acc;
    return 0;
}

static int neg_size(void *ctx, size_t *out)
{
    kn_store_neg *h = ctx;
    *out = (size_t)h->root.count;
    return 0;
}

static int neg_get(void *ctx, size_t index, kn_neg_item *out)
{
    kn_store_neg *h = ctx;
    MDB_val k, v;
    int rc;

    if (index >= h->root.count)
        return KN_EINVAL;
    if (h->have_seq && (index == h->seq_index || index == h->seq_index + 1)) {
        rc = mdb_cursor_get(h->seq, &k, &v, index == h->seq_index ? MDB_GET_CURRENT : MDB_NEXT);
        if (rc)
            return rc == MDB_NOTFOUND ? KN_ECORRUPT : kn_store_mdb_err(rc);
    } else {
        uint8_t key[ITEM_KEY];
        h->have_seq = false;
        if ((rc = descend_index(h, index, NULL, key)) < 0)
            return rc;
        k = (MDB_val) { ITEM_KEY, key };
        if ((rc = kn_store_mdb_err(mdb_cursor_get(h->seq, &k, &v, MDB_SET_KEY))) < 0)
            return rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
    }
    if (k.mv_size != ITEM_KEY)
        return KN_ECORRUPT;
    h->have_seq = true;
    h->seq_index = index;
    out->timestamp = kn_be64_get(k.mv_data);
    memcpy(out->id, (const uint8_t *)k.mv_data + 8, KN_ID);
    return 0;
}

static int neg_lower_bound(
    void *ctx, size_t begin, size_t end, const kn_neg_item *bound, size_t *out)
{
    kn_store_neg *h = ctx;
    uint8_t b[ITEM_KEY];
    size_t at;
    int rc;

    if (begin > end || end > h->root.count)
        return KN_EINVAL;
    kn_be64_put(b, bound->timestamp);
    memcpy(b + 8, bound->id, KN_ID);
    if ((rc = descend_bound(h, b, &at)) < 0)
        return rc;
    /* The items are sorted, so the global answer clamped to [begin, end] is the range's. */
    *out = at < begin ? begin : at > end ? end : at;
    return 0;
}

static int prefix_sum(kn_store_neg *h, size_t i, uint8_t sum[KN_ID])
{
    if (h->have_prefix && h->prefix_index == i) {
        memcpy(sum, h->prefix_sum, KN_ID);
        return 0;
    }
    int rc = descend_index(h, i, sum, NULL);
    if (rc < 0)
        return rc;
    h->have_prefix = true;
    h->prefix_index = i;
    memcpy(h->prefix_sum, sum, KN_ID);
    return 0;
}

static int neg_fingerprint(
    void *ctx, size_t begin, size_t end, uint8_t out[static KN_NEG_FINGERPRINT])
{
    kn_store_neg *h = ctx;
    uint8_t lo[KN_ID], hi[KN_ID];
    int rc;

    if (begin > end || end > h->root.count)
        return KN_EINVAL;
    memset(lo, 0, KN_ID);
    if (begin > 0 && (rc = prefix_sum(h, begin, lo)) < 0)
        return rc;
    if ((rc = prefix_sum(h, end, hi)) < 0)
        return rc;
    sum_sub(hi, lo);
    kn_neg_fingerprint_of_sum(out, hi, end - begin);
    return 0;
}

void kn_store_neg_close(kn_store_neg *h)
{
    if (!h)
        return;
    mdb_cursor_close(h->tree);
    mdb_cursor_close(h->items);
    mdb_cursor_close(h->seq);
    mdb_txn_abort(h->txn);
    free(h);
}

int kn_store_neg_open(kn_store *s, kn_store_neg **out)
{
    kn_store_neg *h = NULL;
    uint8_t root[NODE_KEY] = { 0 };
    int rc;

    if (!s || !out)
        return KN_EINVAL;
    *out = NULL;
    if (!(h = calloc(1, sizeof *h)))
        return KN_ENOMEM;
    h->s = s;
    if ((rc = kn_store_read_begin(s, &h->txn)) < 0) {
        h->txn = NULL;
        goto out;
    }
    if ((rc = kn_store_mdb_err(mdb_cursor_open(h->txn, s->db.negtree, &h->tree))) < 0
        || (rc = kn_store_mdb_err(mdb_cursor_open(h->txn, s->db.by_time, &h->items))) < 0
        || (rc = kn_store_mdb_err(mdb_cursor_open(h->txn, s->db.by_time, &h->seq))) < 0)
        goto out;
    rc = node_get(s, h->txn, root, &h->root);
    if (rc == KN_ENOTFOUND) {
        memset(&h->root, 0, sizeof h->root);
        rc = 0;
    } else if (rc < 0) {
        goto out;
    }
    *out = h;
    h = NULL;
out:
    kn_store_neg_close(h);
    return rc;
}

kn_neg_storage kn_store_neg_storage(kn_store_neg *h)
{
    kn_neg_storage st = {
        .ctx = h,
        .size = neg_size,
        .get = neg_get,
        .lower_bound = neg_lower_bound,
        .fingerprint = neg_fingerprint,
    };
    return st;
}

/* ---- maintenance, tests and benchmarks ---- */

static int rebuild_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    (void)ctx;
    return kn_negtree_build(s, txn);
}

int kn_store_neg_rebuild(kn_store *s)
{
    return s ? kn_store_write(s, rebuild_txn, NULL) : KN_EINVAL;
}

struct debug_args {
    const kn_neg_item *items;
    size_t n;
    bool with_tree, del;
};

static int debug_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    struct debug_args *a = ctx;
    uint8_t key[ITEM_KEY];
    int rc;

    for (size_t i = 0; i < a->n; i++) {
        kn_be64_put(key, a->items[i].timestamp);
        memcpy(key + 8, a->items[i].id, KN_ID);
        MDB_val k = { ITEM_KEY, key }, v = { 0, "" };
        if (a->del) {
            if ((rc = kn_store_mdb_err(mdb_del(txn, s->db.by_time, &k, NULL))) < 0
                || (rc = kn_negtree_del(s, txn, key)) < 0)
                return rc;
            continue;
        }
        /* Sorted bulk loads append; anything else falls back to an ordinary put. */
        rc = a->with_tree ? MDB_KEYEXIST : mdb_put(txn, s->db.by_time, &k, &v, MDB_APPEND);
        if (rc == MDB_KEYEXIST)
            rc = mdb_put(txn, s->db.by_time, &k, &v, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST)
            continue;
        if ((rc = kn_store_mdb_err(rc)) < 0)
            return rc;
        if (a->with_tree && (rc = kn_negtree_add(s, txn, key)) < 0)
            return rc;
    }
    return 0;
}

int kn_store_debug_neg_insert(kn_store *s, const kn_neg_item *items, size_t n, bool with_tree)
{
    if (!s || (n && !items))
        return KN_EINVAL;
    struct debug_args a = { items, n, with_tree, false };
    return kn_store_write(s, debug_txn, &a);
}

int kn_store_debug_neg_delete(kn_store *s, const kn_neg_item *items, size_t n)
{
    if (!s || (n && !items))
        return KN_EINVAL;
    struct debug_args a = { items, n, true, true };
    return kn_store_write(s, debug_txn, &a);
}

static int drop_txn(kn_store *s, MDB_txn *txn, void *ctx)
{
    (void)ctx;
    kn_negtree_cache_reset(s);
    uint8_t ver[4] = { 0, 0, 0, 1 };
    MDB_val k = { sizeof "schema_version" - 1, (void *)"schema_version" }, v = { 4, ver };
    int rc = kn_store_mdb_err(mdb_drop(txn, s->db.negtree, 1));
    if (rc == 0)
        rc = kn_store_mdb_err(mdb_put(txn, s->db.meta, &k, &v, 0));
    return rc;
}

int kn_store_debug_neg_drop(kn_store *s)
{
    return s ? kn_store_write(s, drop_txn, NULL) : KN_EINVAL;
}

int kn_store_debug_neg_digest(kn_store *s, uint8_t out[32])
{
    kn_blake2b_state st;
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc;

    if (!s || !out)
        return KN_EINVAL;
    if ((rc = kn_store_read_begin(s, &txn)) < 0)
        return rc;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.negtree, &c))) < 0)
        goto out;
    kn_blake2b_init(&st, 32);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kn_blake2b_update(&st, k.mv_data, k.mv_size);
        kn_blake2b_update(&st, v.mv_data, v.mv_size);
    }
    kn_blake2b_final(&st, out, 32);
    rc = rc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(rc);
out:
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc;
}
