/*
 * bench_propagation: how fast a new object reaches every node, measured on
 * real `knoten run` processes on 127.0.0.1, and how much memory an idle node
 * holds.
 *
 *   bench_propagation [--nodes 50] [--degree 4] [--objects 40] [--seed S]
 *                     [--knoten PATH] [--keep]
 *
 * Builds a network of N nodes (node 0 founds it; the others join with its
 * network key), links them in a seeded random connected graph of average
 * degree ~D (a random tree plus random extra links; each link is one
 * `knoten peer add`), starts them, and waits until every node holds node 0's
 * network object. Then, object by object, it signs a thread with node 0's
 * key, stores it in node 0's store (as `knoten thread` does, from another
 * process), signals node 0 (SIGUSR1: look for new local objects now) and
 * polls every node's store (LMDB read transactions, every 0.5 ms) until all
 * have it. A second series skips the signal, so node 0 finds each object at
 * its next 250 ms poll: that is the end-to-end figure a `knoten thread` user
 * sees today. The first 3 objects warm the Plumtree up and are not counted.
 *
 * Prints p50/p90/p99/max delivery latency against the target (p99 < 500 ms)
 * and each node's VmHWM/VmRSS/RssAnon from /proc/PID/status against the
 * idle target (10 MiB): once for a node that has just started and is alone,
 * and once for the 50 nodes after the run, idle again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_proc.h"
#include "codec.h"
#include "crypto.h"
#include "datadir.h"
#include "env_system.h"
#include "hex.h"
#include "object.h"
#include "store.h"

extern char **environ;

enum { MAX_NODES = 256, WARMUP = 3 };

typedef struct bnode {
    char dir[512];
    int port;
    pid_t pid;
    kn_store *store;
} bnode;

/*
 * A port that is free now, below Linux's ephemeral range (32768-60999): the
 * 50 nodes' own outgoing connections take ephemeral ports, and one of them
 * could otherwise grab a listening port picked earlier before its node runs.
 */
static int free_port_below_ephemeral(int *next)
{
    for (; *next < 32768; (*next)++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET,
            .sin_port = htons((uint16_t)*next),
            .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (fd < 0)
            return -1;
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return (*next)++;
    }
    return -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static uint64_t rng_state;
static uint32_t rnd(void)
{
    /* splitmix64: the graph is a function of --seed only */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static void print_mem_line(const char *what, proc_mem *v, size_t n)
{
    long hwm[MAX_NODES], rss[MAX_NODES], anon[MAX_NODES];
    for (size_t i = 0; i < n; i++) {
        hwm[i] = v[i].hwm;
        rss[i] = v[i].rss;
        anon[i] = v[i].anon;
    }
    qsort(hwm, n, sizeof *hwm, cmp_long);
    qsort(rss, n, sizeof *rss, cmp_long);
    qsort(anon, n, sizeof *anon, cmp_long);
    printf("%-34s VmHWM median %5.1f max %5.1f MiB | VmRSS median %5.1f max %5.1f MiB | "
           "RssAnon max %4.1f MiB   (target <= 10 MiB: %s)\n",
        what, hwm[n / 2] / 1024.0, hwm[n - 1] / 1024.0, rss[n / 2] / 1024.0, rss[n - 1] / 1024.0,
        anon[n - 1] / 1024.0, hwm[n - 1] <= 10 * 1024 ? "met" : "NOT met");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = { { "nodes", required_argument, 0, 'n' },
        { "degree", required_argument, 0, 'd' }, { "objects", required_argument, 0, 'o' },
        { "seed", required_argument, 0, 's' }, { "knoten", required_argument, 0, 'k' },
        { "keep", no_argument, 0, 'K' }, { 0, 0, 0, 0 } };
    int nn = 50, degree = 4, nobj = 40, opt;
    bool keep = false;
    uint64_t seed = 1;
    char knoten[1024];
    snprintf(knoten, sizeof knoten, "%s", argv[0]);
    char *slash = strrchr(knoten, '/');
    snprintf(slash ? slash + 1 : knoten, sizeof knoten - (size_t)(slash ? slash + 1 - knoten : 0),
        "knoten");
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            nn = atoi(optarg);
            break;
        case 'd':
            degree = atoi(optarg);
            break;
        case 'o':
            nobj = atoi(optarg);
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'k':
            snprintf(knoten, sizeof knoten, "%s", optarg);
            break;
        case 'K':
            keep = true;
            break;
        default:
            fprintf(stderr,
                "usage: bench_propagation [--nodes N] [--degree D] [--objects M] "
                "[--seed S] [--knoten PATH] [--keep]\n");
            return 2;
        }
    }
    if (nn < 2 || nn > MAX_NODES || degree < 2 || nobj < 1 || access(knoten, X_OK) != 0) {
        fprintf(stderr, "bench_propagation: bad arguments or no knoten at %s\n", knoten);
        return 2;
    }
    if (kn_crypto_init() < 0)
        return 1;
    rng_state = seed;
    signal(SIGPIPE, SIG_IGN);

    char work[] = "/tmp/knoten-bench.XXXXXX";
    if (!mkdtemp(work))
        return 1;
    static bnode nodes[MAX_NODES];
    uint8_t seed32[32], pk[32], sk[64] = { 0 };
    int code = 1;
    int next_port = 20000 + (int)(getpid() % 1000) * 10;
    for (int i = 0; i < nn; i++) {
        snprintf(nodes[i].dir, sizeof nodes[i].dir, "%s/n%d", work, i);
        if ((nodes[i].port = free_port_below_ephemeral(&next_port)) < 0)
            goto out;
        nodes[i].pid = -1;
    }
    printf("bench_propagation: %d nodes, average degree ~%d, seed %llu, %s\n", nn, degree,
        (unsigned long long)seed, work);

    /* ---- the network ---- */
    char keyfile[600];
    snprintf(keyfile, sizeof keyfile, "%.500s/network.key", nodes[0].dir);
    for (int i = 0; i < nn; i++) {
        char *a0[] = { knoten, "init", "--data", nodes[i].dir, NULL };
        char *a1[]
            = { knoten, "init", "--data", nodes[i].dir, "--network-key-file", keyfile, NULL };
        if (run(i ? a1 : a0, NULL) != 0) {
            fprintf(stderr, "knoten init failed for %s\n", nodes[i].dir);
            goto out;
        }
    }
    /* Only members sync: the founder (node 0) admits every other node. */
    for (int i = 1; i < nn; i++) {
        char path[700], hex[65], name[32];
        uint8_t idseed[32], ipk[32], isk[64];
        snprintf(path, sizeof path, "%.600s/identity.key", nodes[i].dir);
        if (kn_secret_file_read(path, idseed, sizeof idseed) < 0) {
            fprintf(stderr, "cannot read %s\n", path);
            goto out;
        }
        kn_sign_keypair_from_seed(ipk, isk, idseed);
        kn_memzero(idseed, sizeof idseed);
        kn_memzero(isk, sizeof isk);
        kn_hex_encode(hex, ipk, sizeof ipk);
        snprintf(name, sizeof name, "Gemeinde %d", i);
        char *aa[] = { knoten, "admit", hex, "--name", name, "--data", nodes[0].dir, NULL };
        if (run(aa, NULL) != 0) {
            fprintf(stderr, "knoten admit failed for %s\n", nodes[i].dir);
            goto out;
        }
    }
    /* A random tree, then extra random links up to nn*degree/2 links in all. */
    static unsigned char linked[MAX_NODES][MAX_NODES];
    int links = 0, want_links = nn * degree / 2;
    if (want_links > nn * (nn - 1) / 2)
        want_links = nn * (nn - 1) / 2;
    for (int i = 1; i < nn || links < want_links; i++) {
        int a, b;
        if (i < nn) {
            a = i;
            b = (int)(rnd() % (unsigned)i);
        } else {
            a = (int)(rnd() % (unsigned)nn);
            b = (int)(rnd() % (unsigned)nn);
            if (a == b || linked[a][b])
                continue;
        }
        linked[a][b] = linked[b][a] = 1;
        links++;
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", nodes[b].port);
        char *pa[] = { knoten, "peer", "add", addr, "--data", nodes[a].dir, NULL };
        if (run(pa, NULL) != 0) {
            fprintf(stderr, "knoten peer add failed\n");
            goto out;
        }
    }
    printf("graph: %d links\n", links);

    /* ---- an idle node alone: node 0 before the others start ---- */
    if ((nodes[0].pid = start_node(knoten, nodes[0].dir, nodes[0].port)) < 0)
        goto out;
    sleep_ms(3000);
    proc_mem alone;
    if (read_proc_mem(nodes[0].pid, &alone) == 0)
        print_mem_line("idle node, alone, 3 s after start", &alone, 1);

    for (int i = 1; i < nn; i++)
        if ((nodes[i].pid = start_node(knoten, nodes[i].dir, nodes[i].port)) < 0)
            goto out;
    for (int i = 0; i < nn; i++) {
        char sdir[600];
        snprintf(sdir, sizeof sdir, "%.500s/store", nodes[i].dir);
        if (kn_store_open(&nodes[i].store, sdir, NULL) < 0) {
            fprintf(stderr, "cannot open %s\n", sdir);
            goto out;
        }
    }
    double t_start = mono_ms();
    for (;;) {
        int have = 0;
        for (int i = 0; i < nn; i++) {
            kn_store_stats st;
            if (kn_store_stats_get(nodes[i].store, &st) == 0 && st.objects >= 1)
                have++;
        }
        if (have == nn)
            break;
        if (mono_ms() - t_start > 60000) {
            fprintf(stderr, "only %d of %d nodes got the network object within 60 s:", have, nn);
            for (int i = 0; i < nn; i++) {
                kn_store_stats st;
                if (kn_store_stats_get(nodes[i].store, &st) == 0 && st.objects == 0)
                    fprintf(stderr, " n%d (pid %d%s)", i, (int)nodes[i].pid,
                        kill(nodes[i].pid, 0) == 0 ? "" : ", exited");
            }
            fprintf(stderr, "; logs kept in %s\n", work);
            keep = true;
            goto out;
        }
        sleep_ms(100);
    }
    printf("all %d nodes connected and hold the network object after %.1f s\n", nn,
        (mono_ms() - t_start) / 1000);
    sleep_ms(2000);

    /* ---- propagation ---- */
    char idpath[600];
    snprintf(idpath, sizeof idpath, "%.500s/identity.key", nodes[0].dir);
    if (kn_secret_file_read(idpath, seed32, 32) < 0)
        goto out;
    kn_sign_keypair_from_seed(pk, sk, seed32);
    kn_memzero(seed32, sizeof seed32);
    size_t cap = (size_t)(nobj + WARMUP) * (size_t)nn * 2;
    double *lat_sig = calloc(cap, sizeof *lat_sig), *lat_poll = calloc(cap, sizeof *lat_poll);
    size_t n_sig = 0, n_poll = 0, missed = 0, expected = 0;
    if (!lat_sig || !lat_poll)
        goto out;
    for (int series = 0; series < 2; series++) {
        int count = series == 0 ? nobj + WARMUP : nobj / 2;
        for (int k = 0; k < count; k++) {
            char title[64];
            snprintf(title, sizeof title, "Propagation %d/%d", series, k);
            kn_mp_out body;
            kn_mp_out_init(&body, KN_OBJECT_MAX);
            kn_mp_write_map(&body, 3);
            kn_mp_write_cstr(&body, "body");
            kn_mp_write_cstr(&body, "Wie weit ist es bis zum letzten Knoten?");
            kn_mp_write_cstr(&body, "tags");
            kn_mp_write_array(&body, 0);
            kn_mp_write_cstr(&body, "title");
            kn_mp_write_cstr(&body, title);
            kn_object_draft d = { .type = KN_T_THREAD,
                .created = kn_env_now(kn_env_system()),
                .space = "Bench",
                .body = body.buf,
                .body_len = body.len };
            uint8_t *raw = NULL, id[KN_ID];
            size_t len;
            if (kn_object_sign(&d, sk, &raw, &len) < 0) {
                kn_mp_out_free(&body);
                goto out;
            }
            kn_mp_out_free(&body);
            int rc = kn_store_put(nodes[0].store, raw, len, d.created, id);
            free(raw);
            if (rc != KN_PUT_STORED) {
                fprintf(stderr, "storing at node 0: %s\n", kn_strerror(rc));
                goto out;
            }
            double t0 = mono_ms();
            if (series == 0)
                kill(nodes[0].pid, SIGUSR1);
            static bool seen[MAX_NODES];
            int left = nn - 1;
            memset(seen, 0, sizeof seen);
            while (left > 0 && mono_ms() - t0 < 10000) {
                for (int i = 1; i < nn; i++) {
                    if (seen[i] || kn_store_has(nodes[i].store, id) != 1)
                        continue;
                    seen[i] = true;
                    left--;
                    if (series == 0 && k < WARMUP)
                        continue;
                    if (series == 0)
                        lat_sig[n_sig++] = mono_ms() - t0;
                    else
                        lat_poll[n_poll++] = mono_ms() - t0;
                }
                usleep(500);
            }
            if (!(series == 0 && k < WARMUP)) {
                expected += (size_t)(nn - 1);
                missed += (size_t)left;
            }
            sleep_ms(150 + rnd() % 100);
        }
    }
    qsort(lat_sig, n_sig, sizeof *lat_sig, cmp_double);
    qsort(lat_poll, n_poll, sizeof *lat_poll, cmp_double);
    printf("delivered %zu of %zu (object, node) pairs within 10 s (%.2f%%)\n", expected - missed,
        expected, expected ? 100.0 * (double)(expected - missed) / (double)expected : 0);
    printf("propagation, node 0 signalled (%d objects x %d nodes):\n"
           "  p50 %6.1f ms   p90 %6.1f ms   p99 %6.1f ms (target < 500 ms: %s)   max %6.1f ms\n",
        nobj, nn - 1, pct(lat_sig, n_sig, 0.5), pct(lat_sig, n_sig, 0.9), pct(lat_sig, n_sig, 0.99),
        pct(lat_sig, n_sig, 0.99) < 500 ? "met" : "NOT met", n_sig ? lat_sig[n_sig - 1] : 0);
    printf("end to end as `knoten thread` sees it, node 0 polls every 250 ms (%d objects):\n"
           "  p50 %6.1f ms   p90 %6.1f ms   p99 %6.1f ms (target < 500 ms: %s)   max %6.1f ms\n",
        nobj / 2, pct(lat_poll, n_poll, 0.5), pct(lat_poll, n_poll, 0.9),
        pct(lat_poll, n_poll, 0.99), pct(lat_poll, n_poll, 0.99) < 500 ? "met" : "NOT met",
        n_poll ? lat_poll[n_poll - 1] : 0);
    free(lat_sig);
    free(lat_poll);

    /* ---- memory, idle again ---- */
    sleep_ms(2000);
    static proc_mem m[MAX_NODES];
    size_t nm = 0;
    for (int i = 0; i < nn; i++)
        if (read_proc_mem(nodes[i].pid, &m[nm]) == 0)
            nm++;
    char what[64];
    snprintf(what, sizeof what, "%d nodes after the run, idle", nn);
    if (nm)
        print_mem_line(what, m, nm);
    code = missed ? 1 : 0;
out:
    for (int i = 0; i < nn; i++)
        if (nodes[i].pid > 0)
            kill(nodes[i].pid, SIGTERM);
    for (int i = 0; i < nn; i++) {
        kn_store_close(nodes[i].store);
        if (nodes[i].pid <= 0)
            continue;
        int st;
        for (int t = 0; t < 100 && waitpid(nodes[i].pid, &st, WNOHANG) == 0; t++)
            sleep_ms(50);
        if (kill(nodes[i].pid, 0) == 0) {
            kill(nodes[i].pid, SIGKILL);
            waitpid(nodes[i].pid, &st, 0);
        }
    }
    kn_memzero(sk, sizeof sk);
    if (keep)
        printf("kept %s\n", work);
    else
        nftw(work, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return code;
}
