/*
 * The seeded environment: deterministic randomness for tests and the
 * simulator. The keystream is BLAKE2b-512(seed || counter), which needs only
 * the primitives crypto.h already offers; it is not used for production keys.
 */
#include "env.h"

#include <string.h>

#include "crypto.h"

static uint64_t seeded_now(void *ctx)
{
    return ((kn_env_seeded *)ctx)->now_ms;
}

static void seeded_refill(kn_env_seeded *s)
{
    uint8_t in[16];
    for (int i = 0; i < 8; i++) {
        in[i] = (uint8_t)(s->seed >> (8 * i));
        in[8 + i] = (uint8_t)(s->counter >> (8 * i));
    }
    s->counter++;
    kn_blake2b(s->pool, sizeof s->pool, in, sizeof in);
    s->pool_used = 0;
}

static void seeded_random(void *ctx, uint8_t *buf, size_t len)
{
    kn_env_seeded *s = ctx;
    while (len > 0) {
        if (s->pool_used == sizeof s->pool)
            seeded_refill(s);
        size_t n = sizeof s->pool - s->pool_used;
        if (n > len)
            n = len;
        memcpy(buf, s->pool + s->pool_used, n);
        s->pool_used += n;
        buf += n;
        len -= n;
    }
}

void kn_env_seeded_init(kn_env_seeded *s, uint64_t seed, uint64_t start_ms)
{
    memset(s, 0, sizeof *s);
    s->env.now_ms = seeded_now;
    s->env.random_bytes = seeded_random;
    s->env.ctx = s;
    s->now_ms = start_ms;
    s->seed = seed;
    s->pool_used = sizeof s->pool;
}
