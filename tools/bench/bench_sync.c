/*
 * bench_sync (issue 4 item 8): how fast a node ingests while it catches up,
 * and how much anonymous memory a node holding 1M objects uses while it
 * syncs, both measured on real `knoten run` processes over TCP on 127.0.0.1.
 *
 *   bench_sync [--objects N] [--runs R] [--big M] [--big-new K] [--knoten PATH] [--keep]
 *              [--perf-c CMD] [--perf-a CMD]
 *
 * Why real processes rather than engines in one process: the figures the
 * issue asks for are the node's (Noise, the libuv loop, LMDB commits, the
 * engine's pacing and windows all included), and RssAnon is a per-process
 * figure; an in-process harness would measure a different program.
 *
 * 1. Ingest during sync. Node a founds a network and admits c (`knoten
 *    init`, `knoten admit`); N threads signed with a's key (default
 *    100,000) are stored in a's store through the store API before a runs
 *    (validated and ingested in batches of 1,024, as `knoten import` would,
 *    without its JSON). Then a and c run, c dials a, and c's store is polled
 *    (a read transaction every 20 ms) until it holds everything. Ingest
 *    rate = N / (time from c's first new object to its last). It is printed
 *    next to the 2-core Ed25519 verify rate measured in the same run (two
 *    threads verifying at once, wall clock, for 1.5 s just before the
 *    catch-up and 1.5 s just after it: the mean), target >= 0.8 x that. With
 *    --runs R (default 3) the whole measurement (a fresh pair, the verify
 *    rate, the catch-up) is repeated and the median printed.
 *
 *    The machine may be shared (and a, the sender, runs on it too), so the
 *    wall-clock ratio moves with others' load. The CPU time each process
 *    used from c's first new object to its last (/proc/PID/stat; c's loop
 *    thread from /proc/PID/task/PID/stat) does not, so it is printed per
 *    object too, with the ratio it implies if c had two cores to itself:
 *    c's rate is then at most min(2 / c's CPU per object, 1 / its loop
 *    thread's CPU per object), against 2 / (CPU of one Ed25519 verify).
 *    Each run also prints the loop thread's kernel part (page writes and
 *    fdatasync, sockets), the load average, and the validation threads'
 *    share of c's CPU: the implied ratio with the verify cost taken from c
 *    itself, since the CPU time of one verify in the two-thread loop moves
 *    by 20 % with others' load (a diagnostic, not the target's figure).
 *
 * 2. Memory with 1M objects. Signing and validating 1M objects takes minutes
 *    here, so both stores get the same M (default 1,000,000) items straight
 *    into by_time and the fingerprint tree through the store's test loader
 *    (kn_store_debug_neg_insert + kn_store_neg_rebuild: ids and timestamps,
 *    no object bodies). To Negentropy and to the node's memory this is a
 *    store of M objects: the reconciliation runs over M + K items and the
 *    tree is read through LMDB's file-backed map. Then a gets K (default
 *    5,000) real signed objects and c catches them up. c's RssAnon (from
 *    /proc/PID/status, every 20 ms) is sampled from its start until it is
 *    done; the peak is printed against the 64 MiB target, with a's (the
 *    answering side) and c's VmHWM for reference.
 *
 * --perf-c CMD (--perf-a CMD) profiles c (a) during the catch-up of part 1:
 * `CMD -p PID` is run through /bin/sh when c's first new object is stored
 * and gets SIGINT when its last is, e.g.
 *   --perf-c 'perf stat -e task-clock --per-thread -o /tmp/c.stat'
 *   --perf-c 'perf record -g -o /tmp/c.data'
 * (with --runs R each run overwrites the file).
 *
 * Everything lives in a fresh directory under $TMPDIR (default /tmp),
 * removed at the end unless --keep. TMPDIR=/dev/shm gives the same run with
 * the stores on tmpfs: what ingest costs without the disk writes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
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
#include "negtree.h"
#include "object.h"
#include "store.h"

enum { BATCH = 1024 };

/* ---- the 2-core verify rate ---- */

typedef struct verifier {
    const uint8_t *pk, *sig, *msg;
    size_t len;
    double ms;
    long n;
    double cpu_s; /* the thread's CPU time */
} verifier;

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *verify_loop(void *arg)
{
    verifier *v = arg;
    double t0 = mono_ms(), c0 = thread_cpu_s();
    long n = 0;
    while (mono_ms() - t0 < v->ms)
        for (int i = 0; i < 64; i++)
            n += kn_sign_verify(v->sig, v->msg, v->len, v->pk) == 0;
    v->n = n;
    v->cpu_s = thread_cpu_s() - c0;
    return NULL;
}

/*
 * Ed25519 verifications per second with two threads verifying at once (wall
 * clock); *cpu_us receives the CPU time of one verification (the cheaper
 * thread's), which others' load does not change.
 */
static double verify_rate_2core(double *cpu_us)
{
    uint8_t seed[32] = { 7 }, pk[32], sk[64], sig[64], msg[400];
    memset(msg, 'x', sizeof msg);
    kn_sign_keypair_from_seed(pk, sk, seed);
    kn_sign_detached(sig, msg, sizeof msg, sk);
    verifier v[2]
        = { { pk, sig, msg, sizeof msg, 1500, 0, 0 }, { pk, sig, msg, sizeof msg, 1500, 0, 0 } };
    pthread_t th;
    double t0 = mono_ms();
    if (pthread_create(&th, NULL, verify_loop, &v[1]) != 0)
        return 0;
    verify_loop(&v[0]);
    pthread_join(th, NULL);
    double c0 = v[0].n ? v[0].cpu_s / (double)v[0].n : 0,
           c1 = v[1].n ? v[1].cpu_s / (double)v[1].n : 0;
    *cpu_us = 1e6 * (c0 > 0 && (c0 < c1 || c1 <= 0) ? c0 : c1);
    return (double)(v[0].n + v[1].n) * 1000.0 / (mono_ms() - t0);
}

/* ---- setting up the two nodes ---- */

typedef struct pair {
    char root[256], a[300], c[300];
    int pa;
    char *knoten;
    const char *perf_c, *perf_a; /* --perf-c, --perf-a: commands, or NULL */
} pair;

/* a founds, c takes its network key, a admits c, c is told to dial a. */
static int make_pair(pair *p, const char *name)
{
    return bench_pair(p->knoten, p->root, name, "c", p->a, p->c, &p->pa, "bench_sync");
}

/*
 * Signs n threads with dir's identity and ingests them into its store.
 * created runs from now upwards in steps of 1/8 ms, as gen_objects does:
 * after the admission that makes the author a member, and well within the
 * 10 minutes an object may be ahead of the clock.
 */
static int add_objects(const char *dir, size_t n)
{
    kn_datadir dd;
    int rc = kn_datadir_open(&dd, dir, NULL);
    if (rc < 0) {
        fprintf(stderr, "bench_sync: cannot open %s: %s\n", dir, kn_strerror(rc));
        return rc;
    }
    static kn_object objs[BATCH];
    static uint8_t *raws[BATCH];
    static int results[BATCH];
    char title[64], text[201];
    memset(text, 'a', 200);
    text[200] = 0;
    uint64_t now = kn_env_now(kn_env_system());
    for (size_t i = 0; i < n && rc == 0;) {
        size_t k = 0;
        for (; k < BATCH && i < n && rc == 0; k++, i++) {
            kn_mp_out body;
            kn_mp_out_init(&body, KN_OBJECT_MAX);
            kn_mp_write_map(&body, 3);
            kn_mp_write_cstr(&body, "body");
            kn_mp_write_cstr(&body, text);
            kn_mp_write_cstr(&body, "tags");
            kn_mp_write_array(&body, 0);
            kn_mp_write_cstr(&body, "title");
            snprintf(title, sizeof title, "Bench thread %zu", i);
            kn_mp_write_cstr(&body, title);
            kn_object_draft d = { .type = KN_T_THREAD,
                .created = now + (uint64_t)i / 8,
                .space = "Bench",
                .body = body.buf,
                .body_len = body.len };
            size_t len;
            if ((rc = kn_object_sign(&d, dd.identity_sk, &raws[k], &len)) == 0)
                rc = kn_object_validate(&objs[k], raws[k], len, now);
            kn_mp_out_free(&body);
        }
        if (rc == 0)
            rc = kn_store_ingest(dd.store, objs, k, results, NULL);
        for (size_t j = 0; j < k; j++) {
            if (rc == 0 && results[j] != KN_PUT_STORED) {
                fprintf(stderr, "bench_sync: object %zu: %s\n", j,
                    results[j] < 0 ? kn_strerror(results[j]) : "not stored");
                rc = KN_EINVAL;
            }
            free(raws[j]);
        }
    }
    kn_datadir_close(&dd);
    return rc;
}

/* The same m items (ids and timestamps, no bodies) into by_time and the tree of dir's store. */
static int add_items(const char *dir, size_t m, uint64_t before)
{
    char sdir[340];
    snprintf(sdir, sizeof sdir, "%s/store", dir);
    kn_store *s;
    int rc = kn_store_open(&s, sdir, NULL);
    if (rc < 0)
        return rc;
    kn_neg_item *items = calloc(m, sizeof *items);
    if (!items) {
        kn_store_close(s);
        return KN_ENOMEM;
    }
    for (size_t i = 0; i < m; i++) {
        uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
        items[i].timestamp = before - m + i; /* one a millisecond, sorted */
        for (int b = 0; b < 4; b++) {
            x ^= x >> 31;
            x *= 0xbf58476d1ce4e5b9ull;
            memcpy(items[i].id + 8 * b, &x, 8);
        }
    }
    if ((rc = kn_store_debug_neg_insert(s, items, m, false)) == 0)
        rc = kn_store_neg_rebuild(s);
    free(items);
    kn_store_close(s);
    return rc;
}

/* Starts `cmd -p pid` through /bin/sh (cmd NULL: nothing, returns -1). */
static pid_t start_perf(const char *cmd, pid_t pid)
{
    if (!cmd)
        return -1;
    char line[1200];
    snprintf(line, sizeof line, "exec %.1100s -p %d", cmd, (int)pid);
    char *argv[] = { "/bin/sh", "-c", line, NULL };
    pid_t p;
    return posix_spawn(&p, argv[0], NULL, NULL, argv, environ) == 0 ? p : -1;
}

static void stop_perf(pid_t p)
{
    if (p > 0) {
        kill(p, SIGINT);
        waitpid(p, NULL, 0);
    }
}

static uint64_t count_of(kn_store *s)
{
    kn_store_stats st;
    return kn_store_stats_get(s, &st) == 0 ? st.objects : 0;
}

typedef struct result {
    double first_ms, done_ms, start_ms; /* since c started */
    proc_mem peak_c, peak_a;
    /* CPU seconds from c's first new object to its last: c, c's loop thread, a */
    double cpu_c, cpu_c_loop, cpu_a;
    double sys_c_loop; /* the kernel's part of cpu_c_loop (page writes, fdatasync, sockets) */
    int ok;
} result;

/*
 * Runs a and c until c holds want objects; samples both processes' memory
 * meanwhile. With perf, p's perf commands run from c's first new object to its last.
 */
static void sync_pair(pair *p, uint64_t want, bool perf, result *res)
{
    pid_t perf_c = -1, perf_a = -1;
    memset(res, 0, sizeof *res);
    char sdir[340], listen_log[340];
    snprintf(sdir, sizeof sdir, "%s/store", p->c);
    snprintf(listen_log, sizeof listen_log, "%s.log", p->a);
    pid_t pa = start_node(p->knoten, p->a, p->pa);
    sleep_ms(500); /* a listens */
    kn_store *cs = NULL;
    double t0 = mono_ms();
    pid_t pc = start_node(p->knoten, p->c, free_port());
    for (int i = 0; i < 100 && !cs; i++) {
        if (kn_store_open(&cs, sdir, NULL) < 0)
            cs = NULL;
        if (!cs)
            sleep_ms(20);
    }
    if (!cs)
        goto out;
    uint64_t base = count_of(cs);
    double c0 = 0, l0 = 0, a0 = 0, ls0 = 0, ls1 = 0;
    for (;;) {
        proc_mem m;
        double t = mono_ms() - t0;
        if (read_proc_mem(pc, &m) == 0 && m.anon > res->peak_c.anon)
            res->peak_c.anon = m.anon;
        if (read_proc_mem(pc, &m) == 0 && m.hwm > res->peak_c.hwm)
            res->peak_c.hwm = m.hwm;
        if (read_proc_mem(pa, &m) == 0 && m.anon > res->peak_a.anon)
            res->peak_a = m;
        uint64_t n = count_of(cs);
        if (n > base && !res->first_ms) {
            res->first_ms = t;
            c0 = proc_cpu_s(pc, 0);
            l0 = proc_cpu_split(pc, pc, &ls0);
            a0 = proc_cpu_s(pa, 0);
            if (perf) {
                perf_c = start_perf(p->perf_c, pc);
                perf_a = start_perf(p->perf_a, pa);
            }
        }
        if (n >= want) {
            stop_perf(perf_c);
            stop_perf(perf_a);
            perf_c = perf_a = -1;
            res->done_ms = t;
            res->cpu_c = proc_cpu_s(pc, 0) - c0;
            res->cpu_c_loop = proc_cpu_split(pc, pc, &ls1) - l0;
            res->sys_c_loop = ls1 - ls0;
            res->cpu_a = proc_cpu_s(pa, 0) - a0;
            res->ok = 1;
            break;
        }
        if (t > 600000)
            break;
        sleep_ms(20);
    }
out:
    stop_perf(perf_c);
    stop_perf(perf_a);
    kn_store_close(cs);
    stop_node(pc);
    stop_node(pa);
}

enum { RUNS_MAX = 15 };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Part 1, `runs` times: a fresh pair, a's N objects, the 2-core verify rate,
 * c's catch-up. Prints each run and the medians.
 */
static int ingest_runs(pair *p, long n, int runs, bool *keep)
{
    double rate[RUNS_MAX], ratio[RUNS_MAX], cpu_ratio[RUNS_MAX], vr[RUNS_MAX];
    double cpu_c[RUNS_MAX], cpu_loop[RUNS_MAX], cpu_a[RUNS_MAX], vcpu[RUNS_MAX], share[RUNS_MAX];
    for (int run = 0; run < runs; run++) {
        char name[32];
        double t = mono_ms();
        snprintf(name, sizeof name, "ingest%d", run);
        int rc = make_pair(p, name);
        if (rc < 0 || (rc = add_objects(p->a, (size_t)n)) < 0) {
            fprintf(stderr, "bench_sync: cannot set up the ingest pair: %s\n", kn_strerror(rc));
            return -1;
        }
        printf("run %d: %ld objects signed and stored at a in %.1f s\n", run + 1, n,
            (mono_ms() - t) / 1000);
        char sdir[340];
        kn_store *as;
        snprintf(sdir, sizeof sdir, "%s/store", p->a);
        if (kn_store_open(&as, sdir, NULL) < 0)
            return -1;
        uint64_t want = count_of(as);
        kn_store_close(as);
        /*
         * The verify rate just before and just after the catch-up, and their
         * mean: this VM's cores run 20-30 % faster or slower from one minute
         * to the next (others' load on the host), and a rate taken on one
         * side only of the catch-up moved the ratio by as much.
         */
        double vcpu_before, vcpu_after;
        double vr_before = verify_rate_2core(&vcpu_before);
        result r;
        sync_pair(p, want, true, &r);
        if (!r.ok) {
            fprintf(stderr, "bench_sync: c did not catch up (see %s)\n", p->root);
            *keep = true;
            return -1;
        }
        double vr_after = verify_rate_2core(&vcpu_after);
        vr[run] = (vr_before + vr_after) / 2;
        vcpu[run] = (vcpu_before + vcpu_after) / 2;
        printf("  2-core Ed25519 verify rate: %.0f/s (two threads at once, wall clock; %.0f/s "
               "before the catch-up, %.0f/s after); one verify %.1f us CPU\n",
            vr[run], vr_before, vr_after, vcpu[run]);
        double span = r.done_ms - r.first_ms;
        rate[run] = (double)n * 1000.0 / span;
        ratio[run] = rate[run] / vr[run];
        cpu_c[run] = 1e6 * r.cpu_c / (double)n;
        cpu_loop[run] = 1e6 * r.cpu_c_loop / (double)n;
        cpu_a[run] = 1e6 * r.cpu_a / (double)n;
        double bound = cpu_c[run] / 2 > cpu_loop[run] ? cpu_c[run] / 2 : cpu_loop[run];
        cpu_ratio[run] = (vcpu[run] / 2) / bound;
        double load[3] = { -1, -1, -1 };
        (void)getloadavg(load, 3);
        printf("  ingest during sync: %ld objects in %.2f s from c's first new object to its "
               "last (%.2f s from c's start) = %.0f objects/s; ratio %.3f (target >= 0.8): %s; "
               "load average %.1f\n",
            n, span / 1000, r.done_ms / 1000, rate[run], ratio[run],
            ratio[run] >= 0.8 ? "MET" : "NOT MET", load[0]);
        printf("  CPU per object: c %.1f us (loop thread %.1f us, of it kernel %.1f us; "
               "validation threads %.1f us), a %.1f us; implied ratio with two cores for c %.3f "
               "(target >= 0.8): %s\n",
            cpu_c[run], cpu_loop[run], 1e6 * r.sys_c_loop / (double)n, cpu_c[run] - cpu_loop[run],
            cpu_a[run], cpu_ratio[run], cpu_ratio[run] >= 0.8 ? "MET" : "NOT MET");
        /*
         * The same ratio with the verify cost taken from c itself (its
         * validation threads' CPU per object, which is little more than the
         * verify) instead of from the two-thread loop above: the CPU time of a
         * verify moves with others' load by 20 % here, from one measurement to
         * the next, and this share does not depend on it. A diagnostic, not
         * the target's figure.
         */
        share[run] = cpu_c[run] > 0 ? (cpu_c[run] - cpu_loop[run]) / cpu_c[run] : 0;
        printf("  validation threads' share of c's CPU %.3f (the implied ratio if a verify cost "
               "what they spent per object)\n",
            share[run]);
        printf("  c: peak RssAnon %.1f MiB, VmHWM %.1f MiB\n", r.peak_c.anon / 1024.0,
            r.peak_c.hwm / 1024.0);
    }
    double mv = median(vr, runs), mr = median(rate, runs), mq = median(ratio, runs);
    double mc = median(cpu_c, runs), ml = median(cpu_loop, runs), ma = median(cpu_a, runs);
    double mvc = median(vcpu, runs), mcr = median(cpu_ratio, runs), ms = median(share, runs);
    printf("ingest during sync, median of %d: %.0f objects/s against a 2-core verify rate of "
           "%.0f/s: ratio %.3f (target >= 0.8): %s\n",
        runs, mr, mv, mq, mq >= 0.8 ? "MET" : "NOT MET");
    printf("  CPU per object, median: c %.1f us (loop thread %.1f us), a %.1f us; one verify "
           "%.1f us; implied ratio with two cores for c %.3f: %s\n",
        mc, ml, ma, mvc, mcr, mcr >= 0.8 ? "MET" : "NOT MET");
    printf("  validation threads' share of c's CPU, median %.3f\n", ms);
    return 0;
}

static int usage(void)
{
    fprintf(stderr,
        "usage: bench_sync [--objects N] [--runs R] [--big M] [--big-new K] [--knoten PATH] "
        "[--keep] [--perf-c CMD] [--perf-a CMD]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = { { "objects", required_argument, 0, 'n' },
        { "big", required_argument, 0, 'b' }, { "big-new", required_argument, 0, 'k' },
        { "knoten", required_argument, 0, 'x' }, { "keep", no_argument, 0, 'K' },
        { "runs", required_argument, 0, 'r' }, { "perf-c", required_argument, 0, 'P' },
        { "perf-a", required_argument, 0, 'A' }, { 0, 0, 0, 0 } };
    long n = 100000, big = 1000000, big_new = 5000, runs = 3;
    bool keep = false;
    pair p = { 0 };
    char exe[512];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 16);
    if (el <= 0)
        return 1;
    exe[el] = 0;
    char *slash = strrchr(exe, '/');
    snprintf(slash + 1, sizeof exe - (size_t)(slash + 1 - exe), "knoten");
    p.knoten = exe;
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'n')
            n = strtol(optarg, NULL, 10);
        else if (opt == 'b')
            big = strtol(optarg, NULL, 10);
        else if (opt == 'k')
            big_new = strtol(optarg, NULL, 10);
        else if (opt == 'x')
            p.knoten = optarg;
        else if (opt == 'K')
            keep = true;
        else if (opt == 'r')
            runs = strtol(optarg, NULL, 10);
        else if (opt == 'P')
            p.perf_c = optarg;
        else if (opt == 'A')
            p.perf_a = optarg;
        else
            return usage();
    }
    if (n < 0 || big < 0 || big_new <= 0 || runs < 1 || runs > RUNS_MAX || kn_crypto_init() < 0)
        return usage();
    srand((unsigned)getpid());
    const char *tmp = getenv("TMPDIR"); /* e.g. /dev/shm: the same run without disk writes */
    if (!tmp || !*tmp || strlen(tmp) > 200)
        tmp = "/tmp";
    snprintf(p.root, sizeof p.root, "%s/bench_sync.XXXXXX", tmp);
    if (!mkdtemp(p.root))
        return 1;
    int code = 1;
    uint64_t now = kn_env_now(kn_env_system());

    if (n > 0 && ingest_runs(&p, n, (int)runs, &keep) < 0)
        goto out;

    if (big > 0) {
        double t = mono_ms();
        if (make_pair(&p, "big") < 0 || add_items(p.a, (size_t)big, now - 86400000ull) < 0
            || add_items(p.c, (size_t)big, now - 86400000ull) < 0
            || add_objects(p.a, (size_t)big_new) < 0) {
            fprintf(stderr, "bench_sync: cannot set up the 1M pair\n");
            goto out;
        }
        printf("memory: %ld items in both stores, %ld new objects at a; set up in %.1f s\n", big,
            big_new, (mono_ms() - t) / 1000);
        char sdir[340];
        kn_store *as;
        snprintf(sdir, sizeof sdir, "%s/store", p.a);
        if (kn_store_open(&as, sdir, NULL) < 0)
            goto out;
        uint64_t want = count_of(as);
        kn_store_close(as);
        result r;
        sync_pair(&p, want, false, &r);
        if (!r.ok) {
            fprintf(stderr, "bench_sync: c did not catch up (see %s)\n", p.root);
            keep = true;
            goto out;
        }
        printf("memory: c caught up %ld objects over %ld + %ld items in %.2f s (from its start)\n",
            big_new, big, big_new, r.done_ms / 1000);
        printf("  c (syncing, %ld items): peak RssAnon %.1f MiB (target <= 64 MiB): %s; VmHWM "
               "%.1f MiB (file-backed map included)\n",
            big, r.peak_c.anon / 1024.0, r.peak_c.anon <= 64 * 1024 ? "MET" : "NOT MET",
            r.peak_c.hwm / 1024.0);
        printf("  a (answering): peak RssAnon %.1f MiB, VmHWM %.1f MiB\n", r.peak_a.anon / 1024.0,
            r.peak_a.hwm / 1024.0);
    }
    code = 0;
out:
    if (keep)
        printf("data kept in %s\n", p.root);
    else
        nftw(p.root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return code;
}
