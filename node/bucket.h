/*
 * A token bucket: the rate limit used per peer (objects and want ids a peer
 * may send, node/repl.c) and per author (objects of one key forwarded at
 * once, node/repl.c), and by the abuse guard (node/guard.h).
 *
 * Sans-I/O and without a clock: every call takes `now` (ms), so the
 * simulator and the tests drive it on virtual time. A bucket holds at most
 * `burst` tokens and gains `rate` tokens per second, kept in thousandths so
 * that rates below one per millisecond add up exactly. A plain value type:
 * no allocation, copyable, zero-initialised means "not set up yet".
 */
#ifndef KN_BUCKET_H
#define KN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct kn_bucket {
    uint64_t milli; /* tokens x 1000 */
    uint64_t at; /* time of the last refill, ms */
    uint32_t rate; /* tokens per second */
    uint32_t burst; /* tokens at most */
} kn_bucket;

/* A full bucket at now: burst tokens, refilled at rate per second (rate, burst >= 1). */
void kn_bucket_init(kn_bucket *b, uint32_t rate, uint32_t burst, uint64_t now);

/* Takes n tokens if the bucket holds them at now; false (and nothing taken) if not. */
bool kn_bucket_take(kn_bucket *b, uint64_t now, uint32_t n);

/* Tokens the bucket holds at now (whole ones). */
uint64_t kn_bucket_level(const kn_bucket *b, uint64_t now);

/* Milliseconds from now until the bucket holds n tokens (0 if it does; n <= burst). */
uint64_t kn_bucket_wait(const kn_bucket *b, uint64_t now, uint32_t n);

#endif
