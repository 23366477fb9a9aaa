/*
 * Token buckets (bucket.h).
 */
#include "bucket.h"

void kn_bucket_init(kn_bucket *b, uint32_t rate, uint32_t burst, uint64_t now)
{
    b->rate = rate ? rate : 1;
    b->burst = burst ? burst : 1;
    b->milli = (uint64_t)b->burst * 1000;
    b->at = now;
}

/* Milli-tokens at now, without changing the bucket. A clock that went back adds nothing. */
static uint64_t level_milli(const kn_bucket *b, uint64_t now)
{
    uint64_t cap = (uint64_t)b->burst * 1000;
    if (now <= b->at || b->milli >= cap)
        return b->milli > cap ? cap : b->milli;
    uint64_t dt = now - b->at;
    /* dt * rate cannot overflow before the bucket is full: cap it first. */
    if (dt >= cap / b->rate + 1)
        return cap;
    uint64_t m = b->milli + dt * b->rate;
    return m > cap ? cap : m;
}

bool kn_bucket_take(kn_bucket *b, uint64_t now, uint32_t n)
{
    uint64_t m = level_milli(b, now);
    if (now > b->at)
        b->at = now;
    b->milli = m;
    if (m < (uint64_t)n * 1000)
        return false;
    b->milli = m - (uint64_t)n * 1000;
    return true;
}

uint64_t kn_bucket_level(const kn_bucket *b, uint64_t now)
{
    return level_milli(b, now) / 1000;
}

uint64_t kn_bucket_wait(const kn_bucket *b, uint64_t now, uint32_t n)
{
    uint64_t m = level_milli(b, now), need = (uint64_t)n * 1000;
    if (m >= need)
        return 0;
    return (need - m + b->rate - 1) / b->rate;
}
