/*
 * kn_probe: a small read-only look into node stores for the integration
 * tests, cheaper than parsing `knoten ls --json` when a test asks many times
 * (the crash test asks after each of its kills). Opens the store the way the
 * node does (LMDB allows readers beside a running node) and changes nothing.
 *
 *   kn_probe count DIR            objects stored (not pending), one number
 *   kn_probe subset SMALL BIG     exit 0 if every object SMALL stores is stored
 *                                 in BIG; else names the first missing id
 *                                 (SMALL's ids come from its fingerprint tree,
 *                                 without decoding an object; BIG is asked per id)
 *   kn_probe ids DIR              every stored id, hex, one a line, in (created, id) order
 *   kn_probe latency FROM PID TO MS
 *                                 stores a new thread signed by node FROM's
 *                                 identity in FROM's store (as `knoten thread`
 *                                 does), signals the running node PID (SIGUSR1:
 *                                 "look for new local objects now"), and polls
 *                                 TO's store every half millisecond until it
 *                                 holds the thread; prints the milliseconds
 *                                 from the commit at FROM, or exits 1 after MS.
 *
 * DIR is a node's data directory (its store/ below). Exit 1 on any error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "datadir.h"
#include "env_system.h"
#include "hex.h"
#include "negtree.h"
#include "store.h"

static int open_store(const char *datadir, kn_store **s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/store", datadir);
    int rc = kn_store_open(s, path, NULL);
    if (rc < 0)
        fprintf(stderr, "kn_probe: cannot open the store in %s: %s\n", path, kn_strerror(rc));
    return rc;
}

/* Calls fn for every stored id of the store in datadir, from its fingerprint tree. */
static int each_id(const char *datadir, int (*fn)(void *ctx, const uint8_t id[KN_ID]), void *ctx)
{
    kn_store *s = NULL;
    kn_store_neg *h = NULL;
    size_t n = 0;
    int rc = open_store(datadir, &s);
    if (rc < 0)
        return rc;
    if ((rc = kn_store_neg_open(s, &h)) == 0) {
        kn_neg_storage st = kn_store_neg_storage(h);
        rc = st.size(st.ctx, &n);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            kn_neg_item it;
            if ((rc = st.get(st.ctx, i, &it)) == 0)
                rc = fn(ctx, it.id);
        }
        kn_store_neg_close(h);
    }
    kn_store_close(s);
    if (rc < 0 && rc != KN_ENOTFOUND)
        fprintf(stderr, "kn_probe: cannot read %s: %s\n", datadir, kn_strerror(rc));
    return rc;
}

static int print_id(void *ctx, const uint8_t id[KN_ID])
{
    (void)ctx;
    char hex[2 * KN_ID + 1];
    kn_hex_encode(hex, id, KN_ID);
    puts(hex);
    return 0;
}

typedef struct subset {
    kn_store *big;
    size_t checked;
    uint8_t missing[KN_ID];
} subset;

static int in_big(void *ctx, const uint8_t id[KN_ID])
{
    subset *x = ctx;
    if (kn_store_has(x->big, id) != 1) {
        memcpy(x->missing, id, KN_ID);
        return KN_ENOTFOUND;
    }
    x->checked++;
    return 0;
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int latency(const char *from, pid_t pid, const char *to, long limit)
{
    kn_datadir dd;
    kn_store *dst = NULL;
    kn_object_draft d;
    kn_mp_out b;
    uint8_t *obj = NULL, id[KN_ID];
    size_t len = 0;
    char title[64];
    const kn_env *env = kn_env_system();
    if (kn_datadir_open(&dd, from, NULL) < 0) {
        fprintf(stderr, "kn_probe: cannot open %s\n", from);
        return 1;
    }
    if (open_store(to, &dst) < 0) {
        kn_datadir_close(&dd);
        return 1;
    }
    memset(&d, 0, sizeof d);
    snprintf(title, sizeof title, "Latenz %llu", (unsigned long long)kn_env_now(env));
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 2);
    kn_mp_write_cstr(&b, "body");
    kn_mp_write_cstr(&b, "Wie lange braucht das?");
    kn_mp_write_cstr(&b, "title");
    kn_mp_write_cstr(&b, title);
    d.type = KN_T_THREAD;
    d.created = kn_env_now(env);
    d.space = "Test";
    d.body = b.buf;
    d.body_len = b.len;
    int rc = kn_mp_out_error(&b);
    if (rc == 0)
        rc = kn_object_sign(&d, dd.identity_sk, &obj, &len);
    kn_mp_out_free(&b);
    struct timespec t0;
    if (rc == 0)
        rc = kn_store_put(dd.store, obj, len, d.created, id);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    free(obj);
    kn_datadir_close(&dd);
    if (rc != KN_PUT_STORED) {
        fprintf(stderr, "kn_probe: cannot store the thread in %s: %s\n", from, kn_strerror(rc));
        kn_store_close(dst);
        return 1;
    }
    kill(pid, SIGUSR1);
    long ms = 0;
    while (kn_store_has(dst, id) != 1 && (ms = elapsed_ms(&t0)) <= limit)
        usleep(500);
    kn_store_close(dst);
    if (ms > limit) {
        fprintf(stderr, "kn_probe: the thread did not reach %s within %ld ms\n", to, limit);
        return 1;
    }
    printf("%ld\n", elapsed_ms(&t0));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "count") == 0) {
        kn_store *s = NULL;
        kn_store_stats st;
        if (open_store(argv[2], &s) < 0 || kn_store_stats_get(s, &st) < 0)
            return 1;
        kn_store_close(s);
        printf("%llu\n", (unsigned long long)st.objects);
        return 0;
    }
    if (argc == 6 && strcmp(argv[1], "latency") == 0)
        return latency(argv[2], (pid_t)atol(argv[3]), argv[4], atol(argv[5]));
    if (argc == 3 && strcmp(argv[1], "ids") == 0)
        return each_id(argv[2], print_id, NULL) < 0 ? 1 : 0;
    if (argc == 4 && strcmp(argv[1], "subset") == 0) {
        subset x = { 0 };
        if (open_store(argv[3], &x.big) < 0)
            return 1;
        int rc = each_id(argv[2], in_big, &x);
        kn_store_close(x.big);
        if (rc == KN_ENOTFOUND) {
            char hex[2 * KN_ID + 1];
            kn_hex_encode(hex, x.missing, KN_ID);
            printf("missing: %s holds %s, %s does not (%zu found before it)\n", argv[2], hex,
                argv[3], x.checked);
            return 1;
        }
        if (rc < 0)
            return 1;
        printf("subset: all %zu objects of %s are in %s\n", x.checked, argv[2], argv[3]);
        return 0;
    }
    fprintf(stderr, "usage: kn_probe count DIR | kn_probe ids DIR | kn_probe subset SMALL BIG\n");
    return 2;
}
