/*
 * kn_env: the clock and the random source, injected.
 *
 * Nothing in knoten reads the wall clock or the system RNG except through a
 * kn_env handed down from the top (the node shell, the simulator, a test).
 * That is what lets the simulator run many nodes on virtual time from one seed.
 * protocol/ only ever receives `now` and random bytes as arguments; store/
 * takes a kn_env where it needs one; node/ provides kn_env_system().
 */
#ifndef KN_ENV_H
#define KN_ENV_H

#include <stddef.h>
#include <stdint.h>

typedef struct kn_env {
    /* Milliseconds since 1970-01-01 UTC. */
    uint64_t (*now_ms)(void *ctx);
    /* Fill buf with len random bytes; never fails. */
    void (*random_bytes)(void *ctx, uint8_t *buf, size_t len);
    void *ctx;
} kn_env;

static inline uint64_t kn_env_now(const kn_env *env)
{
    return env->now_ms(env->ctx);
}

static inline void kn_env_random(const kn_env *env, uint8_t *buf, size_t len)
{
    env->random_bytes(env->ctx, buf, len);
}

/*
 * A deterministic environment for tests and the simulator: a virtual clock
 * that only moves when told, and a ChaCha20 keystream from a 64-bit seed.
 * The caller owns the struct; kn_env_seeded_init() points env->ctx at it.
 */
typedef struct kn_env_seeded {
    kn_env env;
    uint64_t now_ms;
    uint64_t seed;
    uint64_t counter;
    uint8_t pool[64];
    size_t pool_used;
} kn_env_seeded;

void kn_env_seeded_init(kn_env_seeded *s, uint64_t seed, uint64_t start_ms);

#endif
