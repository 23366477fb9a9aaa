#include "env_system.h"

#include <time.h>

#include "crypto.h"

static uint64_t system_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void system_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    kn_crypto_os_random(buf, len);
}

static const kn_env system_env = { system_now_ms, system_random, NULL };

const kn_env *kn_env_system(void)
{
    return &system_env;
}
