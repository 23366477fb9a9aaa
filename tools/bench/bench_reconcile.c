/*
 * Reconciliation benchmark (issue 4, item 8): two LMDB stores of N items each
 * (default 1,000,000) reconciled with Negentropy V1 at d = 0, 1, 1,000,
 * 10,000 and 100,000 differences, then one store of BIG items (default
 * 10,000,000) at d = 0. Both sides run the real engine over the store's
 * fingerprint tree (store/negtree.c), each from its own read snapshot; the
 * messages pass in memory. For every run it prints round trips, bytes each
 * way and CPU ms per side next to the targets of the issue, and, as the limit
 * it is measured against, the CPU of one full scan of the same store (what a
 * storage without the tree pays before its first message).
 *
 * Items go in through the test-only kn_store_debug_neg_insert (by_time
 * entries without signed objects), sorted and in bulk, then the tree is built
 * by kn_store_neg_rebuild; the differences are applied with per-item tree
 * maintenance, as ingest does. Half of d is missing from the server, half is
 * new at the server (d = 1: one item new at the server). The have/need lists
 * are checked against what was changed.
 *
 * usage: bench_reconcile [N [BIG [FRAME [DIR]]]]
 *   N      items per side (default 1000000)
 *   BIG    items of the d = 0 store (default 10000000; 0 skips it)
 *   FRAME  Negentropy frame size limit in bytes (default 60000, under one Noise frame)
 *   DIR    where the stores go (default a fresh directory under /tmp); removed at the end
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "negentropy.h"
#include "negtree.h"
#include "store.h"

enum { CHUNK = 100000 };

static const uint64_t T0 = 1577836800000ull; /* 2020-01-01 */

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_id(uint64_t *s, uint8_t id[KN_NEG_ID])
{
    for (size_t i = 0; i < KN_NEG_ID; i += 8) {
        uint64_t v = rng_next(s);
        memcpy(id + i, &v, 8);
    }
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_reconcile: %s: %s\n", what, rc < 0 ? kn_strerror(rc) : "failed");
    exit(1);
}

/*
 * Item i of the base set: strictly increasing timestamps spread over `span`
 * ms (so the set is generated sorted, chunk by chunk), random ids from a seed
 * of its own so that both stores get the same items.
 */
typedef struct gen {
    uint64_t rng, step, i;
} gen;

static void gen_next(gen *g, kn_neg_item *it)
{
    it->timestamp = T0 + g->i * g->step + rng_next(&g->rng) % g->step;
    rng_id(&g->rng, it->id);
    g->i++;
}

typedef struct side {
    char dir[256];
    kn_store *s;
} side;

static void side_open(side *sd, const char *base, const char *name, size_t map)
{
    kn_store_options opt = { .initial_map_size = map, .no_sync = true };
    snprintf(sd->dir, sizeof sd->dir, "%s/%s", base, name);
    if (mkdir(sd->dir, 0700) != 0)
        die(sd->dir, KN_EIO);
    int rc = kn_store_open(&sd->s, sd->dir, &opt);
    if (rc < 0)
        die("kn_store_open", rc);
}

static unsigned long long dir_bytes(const side *sd)
{
    char path[300];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", sd->dir);
    return stat(path, &st) == 0 ? (unsigned long long)st.st_blocks * 512 : 0;
}

static void side_remove(side *sd)
{
    char path[300];
    kn_store_close(sd->s);
    sd->s = NULL;
    snprintf(path, sizeof path, "%s/data.mdb", sd->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", sd->dir);
    unlink(path);
    rmdir(sd->dir);
}

/* Loads n base items sorted into every store in ss, then builds their trees. */
static void load(side **ss, int nss, uint64_t n, uint64_t span, uint64_t seed)
{
    kn_neg_item *chunk = malloc(CHUNK * sizeof *chunk);
    double t = wall_s();
    if (!chunk)
        die("malloc", KN_ENOMEM);
    for (int k = 0; k < nss; k++) {
        gen g = { seed, span / n ? span / n : 1, 0 };
        for (uint64_t at = 0; at < n; at += CHUNK) {
            size_t m = n - at < CHUNK ? (size_t)(n - at) : CHUNK;
            for (size_t i = 0; i < m; i++)
                gen_next(&g, &chunk[i]);
            int rc = kn_store_debug_neg_insert(ss[k]->s, chunk, m, false);
            if (rc < 0)
                die("kn_store_debug_neg_insert", rc);
        }
    }
    double t_items = wall_s() - t;
    for (int k = 0; k < nss; k++) {
        double c0 = cpu_ms(), w0 = wall_s();
        int rc = kn_store_neg_rebuild(ss[k]->s);
        if (rc < 0)
            die("kn_store_neg_rebuild", rc);
        printf("  store %d: %llu items loaded (%.1f s for all stores), tree built by one scan "
               "in %.1f s wall, %.0f ms CPU; data.mdb %.0f MiB\n",
            k, (unsigned long long)n, t_items, wall_s() - w0, cpu_ms() - c0,
            (double)dir_bytes(ss[k]) / 1048576.0);
    }
    free(chunk);
}

typedef struct result {
    int rounds;
    size_t up, down; /* bytes client -> server, server -> client */
    double cpu_client, cpu_server; /* ms */
    kn_neg_ids have, need;
} result;

/*
 * One whole reconciliation, the client over store c, the server over store
 * s, each with a snapshot open for the whole run (as over one connection).
 * CPU is summed per side around that side's calls only.
 */
static void reconcile(kn_store *c, kn_store *s, uint64_t frame, result *r)
{
    kn_store_neg *hc = NULL, *hs = NULL;
    kn_neg *nc = NULL, *ns = NULL;
    const uint8_t *msg, *reply;
    size_t msg_len, reply_len;
    uint8_t *buf = NULL;
    double t;
    int rc;

    memset(r, 0, sizeof *r);
    t = cpu_ms();
    if ((rc = kn_store_neg_open(c, &hc)) < 0)
        die("kn_store_neg_open", rc);
    kn_neg_storage sc = kn_store_neg_storage(hc);
    if ((rc = kn_neg_new(&nc, &sc, frame)) < 0 || (rc = kn_neg_initiate(nc, &msg, &msg_len)) < 0)
        die("initiate", rc);
    r->cpu_client += cpu_ms() - t;

    t = cpu_ms();
    if ((rc = kn_store_neg_open(s, &hs)) < 0)
        die("kn_store_neg_open", rc);
    kn_neg_storage ss = kn_store_neg_storage(hs);
    if ((rc = kn_neg_new(&ns, &ss, frame)) < 0)
        die("kn_neg_new", rc);
    r->cpu_server += cpu_ms() - t;

    for (;;) {
        /* The copy stands for the network: each engine's output lives only until its next call. */
        r->up += msg_len;
        if (!(buf = realloc(buf, msg_len)))
            die("realloc", KN_ENOMEM);
        memcpy(buf, msg, msg_len);
        t = cpu_ms();
        if ((rc = kn_neg_reconcile_server(ns, buf, msg_len, &reply, &reply_len)) < 0)
            die("kn_neg_reconcile_server", rc);
        r->cpu_server += cpu_ms() - t;
        r->rounds++;
        r->down += reply_len;
        if (!(buf = realloc(buf, reply_len)))
            die("realloc", KN_ENOMEM);
        memcpy(buf, reply, reply_len);
        t = cpu_ms();
        rc = kn_neg_reconcile_client(nc, buf, reply_len, &msg, &msg_len, &r->have, &r->need);
        r->cpu_client += cpu_ms() - t;
        if (rc == KN_NEG_DONE)
            break;
        if (rc < 0)
            die("kn_neg_reconcile_client", rc);
    }
    t = cpu_ms();
    kn_neg_free(nc);
    kn_store_neg_close(hc);
    r->cpu_client += cpu_ms() - t;
    t = cpu_ms();
    kn_neg_free(ns);
    kn_store_neg_close(hs);
    r->cpu_server += cpu_ms() - t;
    free(buf);
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, KN_NEG_ID);
}

/* Whether got holds exactly the ids of want (both reordered). */
static int same_ids(kn_neg_ids *got, kn_neg_item *want, size_t n)
{
    if (got->count != n)
        return 0;
    uint8_t(*w)[KN_NEG_ID] = malloc((n ? n : 1) * KN_NEG_ID);
    if (!w)
        die("malloc", KN_ENOMEM);
    for (size_t i = 0; i < n; i++)
        memcpy(w[i], want[i].id, KN_NEG_ID);
    qsort(w, n, KN_NEG_ID, id_cmp);
    qsort(got->ids, n, KN_NEG_ID, id_cmp);
    int ok = n == 0 || memcmp(w, got->ids, n * KN_NEG_ID) == 0;
    free(w);
    return ok;
}

static const char *verdict(int ok)
{
    return ok ? "ok" : "MISSED";
}

/* The CPU of one full scan of the store's items: the work the tree saves per reconciliation. */
static double scan_ms(kn_store *s, uint64_t n)
{
    kn_store_neg *h;
    double t = cpu_ms();
    int rc = kn_store_neg_open(s, &h);
    if (rc < 0)
        die("kn_store_neg_open", rc);
    kn_neg_storage st = kn_store_neg_storage(h);
    kn_neg_item it;
    uint8_t sum[KN_NEG_ID] = { 0 };
    for (uint64_t i = 0; i < n; i++) { /* sequential gets: one cursor step each */
        if ((rc = st.get(st.ctx, (size_t)i, &it)) < 0)
            die("get", rc);
        kn_neg_sum_add(sum, it.id);
    }
    kn_store_neg_close(h);
    return cpu_ms() - t;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    uint64_t big = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000;
    uint64_t frame = argc > 3 ? strtoull(argv[3], NULL, 10) : 60000;
    char base[256];
    int rc;

    if ((rc = kn_crypto_init()) < 0)
        die("kn_crypto_init", rc);
    if (argc > 4) {
        snprintf(base, sizeof base, "%s", argv[4]);
    } else {
        snprintf(base, sizeof base, "/tmp/kn-bench-reconcile-XXXXXX");
        if (!mkdtemp(base))
            die("mkdtemp", KN_EIO);
    }
    printf("bench_reconcile: Negentropy V1 over the LMDB fingerprint tree (leaf <= %d items)\n",
        KN_NEGTREE_LEAF_MAX);
    printf("frame size limit %llu bytes; CPU = CLOCK_PROCESS_CPUTIME_ID around each side's "
           "calls\n\n",
        (unsigned long long)frame);

    /* ---- N vs N ---- */
    side a, b;
    side_open(&a, base, "client", (size_t)1 << 30);
    side_open(&b, base, "server", (size_t)1 << 30);
    printf("%llu vs %llu items, created spread over one year:\n", (unsigned long long)n,
        (unsigned long long)n);
    side *both[2] = { &a, &b };
    load(both, 2, n, 365ull * 86400000ull, 42);
    double scan = scan_ms(a.s, n);
    printf("  one full scan of one store's items (no tree): %.0f ms CPU\n\n", scan);

    static const uint64_t ds[] = { 0, 1, 1000, 10000, 100000 };
    printf("  %7s %6s %10s %10s %10s %10s %8s  %s\n", "d", "rounds", "bytes c->s", "bytes s->c",
        "CPU c ms", "CPU s ms", "apply s", "have/need");
    uint64_t drng = 7;
    for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++) {
        uint64_t d = ds[k];
        size_t n_del = (size_t)(d / 2), n_add = (size_t)(d - d / 2);
        kn_neg_item *del = calloc(n_del + 1, sizeof *del), *add = calloc(n_add + 1, sizeof *add);
        if (!del || !add)
            die("calloc", KN_ENOMEM);
        /* Server lacks n_del base items (every one distinct: distinct indexes) ... */
        {
            gen g = { 42, (365ull * 86400000ull) / n, 0 };
            uint64_t stride = n_del ? n / n_del : 0;
            size_t j = 0;
            kn_neg_item it;
            for (uint64_t i = 0; i < n && j < n_del; i++) {
                gen_next(&g, &it);
                if (i % stride == stride / 2)
                    del[j++] = it;
            }
        }
        /* ... and has n_add items of its own, anywhere in the year. */
        for (size_t j = 0; j < n_add; j++) {
            add[j].timestamp = T0 + rng_next(&drng) % (365ull * 86400000ull);
            rng_id(&drng, add[j].id);
        }
        double w = wall_s();
        if ((rc = kn_store_debug_neg_delete(b.s, del, n_del)) < 0
            || (rc = kn_store_debug_neg_insert(b.s, add, n_add, true)) < 0)
            die("apply differences", rc);
        double apply = wall_s() - w;

        result r;
        reconcile(a.s, b.s, frame, &r);
        int ok = same_ids(&r.have, del, n_del) && same_ids(&r.need, add, n_add);
        printf("  %7llu %6d %10zu %10zu %10.1f %10.1f %7.2fs  %zu/%zu %s\n", (unsigned long long)d,
            r.rounds, r.up, r.down, r.cpu_client, r.cpu_server, apply, r.have.count, r.need.count,
            ok ? "exact" : "WRONG");
        if (d == 1)
            printf("          target d = 1: <= 3 rounds (%s), <= 2048 bytes each way (%s)\n",
                verdict(r.rounds <= 3), verdict(r.up <= 2048 && r.down <= 2048));
        if (!ok)
            die("have/need do not match the seeded differences", KN_ECORRUPT);
        kn_neg_ids_free(&r.have);
        kn_neg_ids_free(&r.need);
        /* Put the server back to the base set for the next d. */
        if ((rc = kn_store_debug_neg_delete(b.s, add, n_add)) < 0
            || (rc = kn_store_debug_neg_insert(b.s, del, n_del, true)) < 0)
            die("revert differences", rc);
        free(del);
        free(add);
    }
    printf("  (apply s: wall time to apply the differences to the server with per-item tree "
           "maintenance)\n\n");
    side_remove(&a);
    side_remove(&b);

    /* ---- BIG vs BIG at d = 0 ---- */
    if (big) {
        side c, s;
        side_open(&c, base, "big-client", (size_t)8 << 30);
        side_open(&s, base, "big-server", (size_t)8 << 30);
        printf("%llu vs %llu items, created spread over five years, d = 0:\n",
            (unsigned long long)big, (unsigned long long)big);
        double w = wall_s();
        side *pair[2] = { &c, &s };
        load(pair, 2, big, 5 * 365ull * 86400000ull, 4242);
        printf("  built both stores in %.0f s\n", wall_s() - w);
        double bscan = scan_ms(c.s, big);
        result r;
        reconcile(c.s, s.s, frame, &r);
        int ok = r.have.count == 0 && r.need.count == 0;
        printf("  rounds %d, bytes c->s %zu, s->c %zu, CPU client %.2f ms, server %.2f ms, %s\n",
            r.rounds, r.up, r.down, r.cpu_client, r.cpu_server, ok ? "nothing to do" : "WRONG");
        printf("  target d = 0 over %llu: < 10 ms CPU per side (client %s, server %s); "
               "one full scan instead: %.0f ms CPU\n",
            (unsigned long long)big, verdict(r.cpu_client < 10), verdict(r.cpu_server < 10), bscan);
        kn_neg_ids_free(&r.have);
        kn_neg_ids_free(&r.need);
        side_remove(&c);
        side_remove(&s);
    }
    if (argc <= 4)
        rmdir(base);
    return 0;
}
