/*
 * Growing an array by doubling: the one place that computes a new capacity,
 * checks the byte count for overflow and calls realloc. Callers: every module
 * that collects an unknown number of fixed-size records (ids, keys, hits)
 * while it walks a table or a message.
 */
#ifndef KN_GROW_H
#define KN_GROW_H

#include <stdint.h>
#include <stdlib.h>

/*
 * Returns arr reallocated to hold twice *cap elements of elem bytes (first
 * when *cap is 0) and stores the new capacity in *cap; returns NULL, with arr
 * and *cap untouched, when memory runs out or the size would overflow.
 */
static inline void *kn_grow(void *arr, size_t *cap, size_t first, size_t elem)
{
    size_t ncap = *cap ? *cap * 2 : first;
    if (ncap < *cap || elem == 0 || ncap > SIZE_MAX / elem)
        return NULL;
    void *na = realloc(arr, ncap * elem);
    if (na)
        *cap = ncap;
    return na;
}

#endif
