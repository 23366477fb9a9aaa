/*
 * kn_neg_vector: the in-memory Negentropy storage.
 *
 * Used by the unit tests, the conformance harness and anywhere a set is small
 * enough to hold in memory. prefix[i] is the sum mod 2^256 of the first i ids,
 * so the sum over [begin, end) is prefix[end] - prefix[begin] and a
 * fingerprint never walks the items.
 */
#include <stdlib.h>
#include <string.h>

#include "negentropy.h"

struct kn_neg_vector {
    kn_neg_item *items;
    size_t count;
    size_t cap;
    uint8_t (*prefix)[KN_NEG_ID]; /* count + 1 entries once sealed */
    bool sealed;
};

int kn_neg_vector_new(kn_neg_vector **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : KN_ENOMEM;
}

void kn_neg_vector_free(kn_neg_vector *v)
{
    if (!v)
        return;
    free(v->items);
    free(v->prefix);
    free(v);
}

int kn_neg_vector_insert(kn_neg_vector *v, uint64_t timestamp, const uint8_t id[static KN_NEG_ID])
{
    if (v->sealed)
        return KN_ESTATE;
    if (timestamp == KN_NEG_TS_MAX)
        return KN_EINVAL;
    if (v->count == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        if (cap > SIZE_MAX / sizeof *v->items)
            return KN_ENOMEM;
        kn_neg_item *p = realloc(v->items, cap * sizeof *p);
        if (!p)
            return KN_ENOMEM;
        v->items = p;
        v->cap = cap;
    }
    v->items[v->count].timestamp = timestamp;
    memcpy(v->items[v->count].id, id, KN_NEG_ID);
    v->count++;
    return 0;
}

static int item_qsort_cmp(const void *a, const void *b)
{
    return kn_neg_item_cmp(a, b);
}

int kn_neg_vector_seal(kn_neg_vector *v)
{
    if (v->sealed)
        return KN_ESTATE;
    if (v->count)
        qsort(v->items, v->count, sizeof *v->items, item_qsort_cmp);
    for (size_t i = 1; i < v->count; i++)
        if (kn_neg_item_cmp(&v->items[i - 1], &v->items[i]) == 0)
            return KN_EEXIST;
    v->prefix = calloc(v->count + 1, KN_NEG_ID);
    if (!v->prefix)
        return KN_ENOMEM;
    for (size_t i = 0; i < v->count; i++) {
        memcpy(v->prefix[i + 1], v->prefix[i], KN_NEG_ID);
        kn_neg_sum_add(v->prefix[i + 1], v->items[i].id);
    }
    v->sealed = true;
    return 0;
}

static int vec_size(void *ctx, size_t *out)
{
    const kn_neg_vector *v = ctx;
    if (!v->sealed)
        return KN_ESTATE;
    *out = v->count;
    return 0;
}

static int vec_get(void *ctx, size_t index, kn_neg_item *out)
{
    const kn_neg_vector *v = ctx;
    if (!v->sealed)
        return KN_ESTATE;
    if (index >= v->count)
        return KN_EINVAL;
    *out = v->items[index];
    return 0;
}

static int vec_lower_bound(
    void *ctx, size_t begin, size_t end, const kn_neg_item *bound, size_t *out)
{
    const kn_neg_vector *v = ctx;
    if (!v->sealed)
        return KN_ESTATE;
    if (begin > end || end > v->count)
        return KN_EINVAL;
    while (begin < end) {
        size_t mid = begin + (end - begin) / 2;
        if (kn_neg_item_cmp(&v->items[mid], bound) < 0)
            begin = mid + 1;
        else
            end = mid;
    }
    *out = begin;
    return 0;
}

static int vec_fingerprint(
    void *ctx, size_t begin, size_t end, uint8_t out[static KN_NEG_FINGERPRINT])
{
    const kn_neg_vector *v = ctx;
    if (!v->sealed)
        return KN_ESTATE;
    if (begin > end || end > v->count)
        return KN_EINVAL;
    uint8_t sum[KN_NEG_ID];
    memcpy(sum, v->prefix[end], KN_NEG_ID);
    kn_neg_sum_sub(sum, v->prefix[begin]);
    kn_neg_fingerprint_of_sum(out, sum, end - begin);
    return 0;
}

kn_neg_storage kn_neg_vector_storage(kn_neg_vector *v)
{
    kn_neg_storage s = {
        .ctx = v,
        .size = vec_size,
        .get = vec_get,
        .lower_bound = vec_lower_bound,
        .fingerprint = vec_fingerprint,
    };
    return s;
}
