/*
 * bench_docs (issue 6 item 6): how long two real `knoten run` processes take
 * to move documents with their files from a to b over loopback, and what it
 * costs them in CPU, printed next to the raw BLAKE2b-256 and
 * ChaCha20-Poly1305 rates of this machine measured in the same run.
 *
 *   bench_docs [--workload small|big|both] [--small N] [--small-size BYTES]
 *              [--big N] [--big-size BYTES] [--knoten PATH] [--keep]
 *   bench_docs --export DIR    writes the workloads' files to DIR/small, DIR/big
 *
 * Workloads (the issue's): "small", 1,000 files of 50 KiB; "big", 20 files of
 * 5 MiB. File contents are pseudo-random (nothing compresses or repeats),
 * the same bytes on every run and in --export, so tools/bench/
 * syncthing_compare.sh can give Syncthing exactly the same files.
 *
 * For each workload: a founds a network and admits b (`knoten init`,
 * `knoten admit`), b is told to dial a. The files are published at a
 * through the store API before a runs, as `knoten doc publish` would (hash,
 * stage the manifest, store the chunks, sign and store one doc per file),
 * so what is timed is only the transfer. Then a starts; once it listens, b
 * starts, and b's store is polled (a read transaction every 10 ms) until
 * every file is complete there. Wall time = from b's start to that moment:
 * handshake, reconciliation of the doc objects, manifests and chunks, all
 * of it. CPU = user + system seconds of each process over the same span
 * (/proc/PID/stat). At the end every file at b is compared with the
 * original, byte for byte.
 *
 * The limit printed next to it: the receiver has to decrypt (ChaCha20-
 * Poly1305) and hash (BLAKE2b-256) every byte at least once, so
 * bytes / chacha_rate + bytes / blake2b_rate is the CPU time one core needs
 * for the bare crypto of the payload. The machine may be shared with other
 * work: wall times move with its load; the CPU seconds much less.
 *
 * Everything lives in a fresh directory under /tmp, removed at the end
 * unless --keep.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_proc.h"
#include "blob.h"
#include "blobstore.h"
#include "codec.h"
#include "crypto.h"
#include "datadir.h"
#include "env_system.h"
#include "object.h"
#include "store.h"

enum { CHUNK_BATCH = 16, POLL_MS = 10 };

/* ---- the files ---- */

typedef struct workload {
    const char *name;
    size_t files;
    size_t size;
} workload;

/* File i of a workload: size bytes of a xorshift stream seeded by the workload and i. */
static void file_bytes(const workload *w, size_t i, uint8_t *buf)
{
    uint64_t x = 0x9e3779b97f4a7c15ull * (i + 1) ^ (uint64_t)w->size << 20 ^ w->files;
    size_t k = 0;
    for (; k + 8 <= w->size; k += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(buf + k, &x, 8);
    }
    for (; k < w->size; k++)
        buf[k] = (uint8_t)(k * 31 + i);
}

static void file_name(const workload *w, size_t i, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s-%05zu.bin", w->name, i);
}

static int export_files(const workload *w, const char *dir)
{
    char sub[600], path[800], name[64];
    snprintf(sub, sizeof sub, "%s/%s", dir, w->name);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -1;
    if (mkdir(sub, 0700) < 0 && errno != EEXIST)
        return -1;
    uint8_t *buf = malloc(w->size + 1);
    if (!buf)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < w->files && rc == 0; i++) {
        file_bytes(w, i, buf);
        file_name(w, i, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s", sub, name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, w->size, f) != w->size)
            rc = -1;
        if (f && fclose(f) != 0)
            rc = -1;
    }
    free(buf);
    return rc;
}

/* ---- raw crypto rates ---- */

/* MiB/s of BLAKE2b-256 over 256 KiB chunks, and of ChaCha20-Poly1305 over 64 KiB frames. */
static void crypto_rates(double *blake, double *chacha)
{
    size_t len = 256 << 10;
    uint8_t *buf = calloc(1, len + KN_AEAD_TAG), h[32], key[32] = { 1 }, nonce[12] = { 0 };
    double t0 = mono_ms(), bytes = 0;
    while (mono_ms() - t0 < 1000) {
        kn_blake2b(h, sizeof h, buf, len);
        buf[0] ^= h[0];
        bytes += (double)len;
    }
    *blake = bytes / (1 << 20) / ((mono_ms() - t0) / 1000);
    size_t frame = 65519;
    t0 = mono_ms();
    bytes = 0;
    while (mono_ms() - t0 < 1000) {
        kn_aead_encrypt(buf, buf, frame, NULL, 0, nonce, key);
        nonce[0]++;
        bytes += (double)frame;
    }
    *chacha = bytes / (1 << 20) / ((mono_ms() - t0) / 1000);
    free(buf);
}

/* ---- processes ---- */

/* The nodes running now, stopped by the signal handler if the benchmark is interrupted. */
static volatile pid_t running[2];

static void on_signal(int sig)
{
    for (int i = 0; i < 2; i++)
        if (running[i] > 0)
            kill(running[i], SIGTERM);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- the two nodes ---- */

typedef struct pair {
    char root[256], a[300], b[300];
    int pa;
    char *knoten;
} pair;

/* a founds, b takes its network key, a admits b, b is told to dial a. */
static int make_pair(pair *p, const char *name)
{
    return bench_pair(p->knoten, p->root, name, "b", p->a, p->b, &p->pa, "bench_docs");
}

/* Stores one file as `knoten doc publish` does: manifest, chunks in batches, then the doc. */
static int publish(kn_datadir *dd, const workload *w, size_t i, const uint8_t *data, uint64_t now)
{
    kn_store *s = dd->store;
    kn_blob_hasher h;
    uint8_t id[KN_BLOB_ID];
    kn_blob_hasher_init(&h);
    int rc = kn_blob_hasher_update(&h, data, w->size);
    if (rc == 0)
        rc = kn_blob_hasher_final(&h, id);
    if (rc == 0)
        rc = kn_blob_stage_manifest(s, id, w->size, h.hashes, h.nchunks, now);
    uint32_t n = h.nchunks;
    kn_blob_hasher_free(&h);
    for (uint32_t c = 0; rc >= 0 && c < n; c += CHUNK_BATCH) {
        kn_blob_chunk_in in[CHUNK_BATCH];
        int results[CHUNK_BATCH];
        size_t k = 0;
        for (; k < CHUNK_BATCH && c + k < n; k++) {
            uint32_t idx = c + (uint32_t)k;
            in[k] = (kn_blob_chunk_in) { .blob = id,
                .index = idx,
                .data = data + (size_t)idx * KN_BLOB_CHUNK,
                .len = kn_blob_chunk_len(w->size, idx) };
        }
        rc = kn_blob_put_chunks(s, in, k, results);
        for (size_t j = 0; rc >= 0 && j < k; j++)
            if (results[j] < 0)
                rc = results[j];
    }
    if (rc < 0)
        return rc;
    char name[64];
    file_name(w, i, name, sizeof name);
    kn_mp_out body;
    kn_mp_out_init(&body, KN_OBJECT_MAX);
    kn_mp_write_map(&body, 3);
    kn_mp_write_cstr(&body, "files");
    kn_mp_write_array(&body, 1);
    kn_mp_write_map(&body, 4);
    kn_mp_write_cstr(&body, "blob");
    kn_mp_write_bin(&body, id, KN_BLOB_ID);
    kn_mp_write_cstr(&body, "mime");
    kn_mp_write_cstr(&body, "application/octet-stream");
    kn_mp_write_cstr(&body, "name");
    kn_mp_write_cstr(&body, name);
    kn_mp_write_cstr(&body, "size");
    kn_mp_write_uint(&body, w->size);
    kn_mp_write_cstr(&body, "kind");
    kn_mp_write_cstr(&body, "other");
    kn_mp_write_cstr(&body, "title");
    kn_mp_write_cstr(&body, name);
    kn_object_draft d = { .type = KN_T_DOC,
        .created = now + i,
        .space = "Bench",
        .body = body.buf,
        .body_len = body.len };
    uint8_t *raw = NULL;
    size_t len;
    rc = kn_mp_out_error(&body);
    if (rc == 0)
        rc = kn_object_sign(&d, dd->identity_sk, &raw, &len);
    if (rc == 0)
        rc = kn_store_put(s, raw, len, now + w->files, NULL);
    free(raw);
    kn_mp_out_free(&body);
    return rc < 0 ? rc : 0;
}

static int publish_all(const char *dir, const workload *w)
{
    kn_datadir dd;
    kn_store_options opt = { .no_sync = true };
    int rc = kn_datadir_open(&dd, dir, &opt);
    if (rc < 0) {
        fprintf(stderr, "bench_docs: cannot open %s: %s\n", dir, kn_strerror(rc));
        return rc;
    }
    uint8_t *buf = malloc(w->size + 1);
    uint64_t now = kn_env_now(kn_env_system());
    for (size_t i = 0; buf && i < w->files && rc == 0; i++) {
        file_bytes(w, i, buf);
        rc = publish(&dd, w, i, buf, now);
    }
    if (rc < 0)
        fprintf(stderr, "bench_docs: publishing failed: %s\n", kn_strerror(rc));
    free(buf);
    kn_datadir_close(&dd);
    return buf ? rc : KN_ENOMEM;
}

/* Every file of w complete at dir's store, and equal to the original. */
static int verify_all(kn_store *s, const char *dir, const workload *w)
{
    (void)dir;
    uint8_t *buf = malloc(w->size + 1), *chunk = malloc(KN_BLOB_CHUNK);
    int bad = 0;
    for (size_t i = 0; buf && chunk && i < w->files; i++) {
        kn_blob_hasher h;
        uint8_t id[KN_BLOB_ID];
        file_bytes(w, i, buf);
        kn_blob_hasher_init(&h);
        if (kn_blob_hasher_update(&h, buf, w->size) < 0 || kn_blob_hasher_final(&h, id) < 0)
            bad++;
        uint32_t n = h.nchunks;
        kn_blob_hasher_free(&h);
        for (uint32_t c = 0; c < n; c++) {
            uint32_t len = 0;
            if (kn_blob_get_chunk(s, id, c, chunk, &len) < 0 || len != kn_blob_chunk_len(w->size, c)
                || memcmp(chunk, buf + (size_t)c * KN_BLOB_CHUNK, len) != 0) {
                bad++;
                break;
            }
        }
    }
    free(buf);
    free(chunk);
    return bad;
}

typedef struct result {
    double wall_ms;
    double cpu_a, cpu_b;
    int ok;
} result;

static uint64_t complete_of(kn_store *s)
{
    kn_blob_stats st;
    return kn_blob_stats_get(s, &st) == 0 ? st.complete : 0;
}

static void transfer(pair *p, const workload *w, result *res)
{
    memset(res, 0, sizeof *res);
    char sdir[340];
    snprintf(sdir, sizeof sdir, "%s/store", p->b);
    pid_t pa = start_node(p->knoten, p->a, p->pa);
    running[0] = pa;
    sleep_ms(500); /* a listens */
    double a0 = proc_cpu_s(pa, 0);
    double t0 = mono_ms();
    pid_t pb = start_node(p->knoten, p->b, free_port());
    running[1] = pb;
    kn_store *bs = NULL;
    for (int i = 0; i < 500 && !bs; i++) {
        if (kn_store_open(&bs, sdir, NULL) < 0)
            bs = NULL;
        if (!bs)
            sleep_ms(POLL_MS);
    }
    while (bs) {
        if (complete_of(bs) >= w->files) {
            res->wall_ms = mono_ms() - t0;
            res->cpu_b = proc_cpu_s(pb, 0);
            res->cpu_a = proc_cpu_s(pa, 0) - a0;
            res->ok = 1;
            break;
        }
        if (mono_ms() - t0 > 600000)
            break;
        sleep_ms(POLL_MS);
    }
    if (bs && res->ok && verify_all(bs, p->b, w) != 0) {
        fprintf(stderr, "bench_docs: files at b differ from the originals\n");
        res->ok = 0;
    }
    kn_store_close(bs);
    stop_node(pb);
    stop_node(pa);
    running[0] = running[1] = 0;
}

static void usage(void)
{
    fprintf(stderr,
        "usage: bench_docs [--workload small|big|both] [--small N] [--small-size BYTES]\n"
        "                  [--big N] [--big-size BYTES] [--knoten PATH] [--keep]\n"
        "       bench_docs --export DIR\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = { { "workload", required_argument, 0, 'w' },
        { "small", required_argument, 0, 's' }, { "small-size", required_argument, 0, 'S' },
        { "big", required_argument, 0, 'b' }, { "big-size", required_argument, 0, 'B' },
        { "knoten", required_argument, 0, 'k' }, { "keep", no_argument, 0, 'K' },
        { "export", required_argument, 0, 'e' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    workload wl[2] = { { "small", 1000, 50 << 10 }, { "big", 20, 5 << 20 } };
    const char *which = "both", *export_dir = NULL;
    char knoten[600] = "";
    bool keep = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'w':
            which = optarg;
            break;
        case 's':
            wl[0].files = strtoul(optarg, NULL, 10);
            break;
        case 'S':
            wl[0].size = strtoul(optarg, NULL, 10);
            break;
        case 'b':
            wl[1].files = strtoul(optarg, NULL, 10);
            break;
        case 'B':
            wl[1].size = strtoul(optarg, NULL, 10);
            break;
        case 'k':
            snprintf(knoten, sizeof knoten, "%s", optarg);
            break;
        case 'K':
            keep = true;
            break;
        case 'e':
            export_dir = optarg;
            break;
        default:
            usage();
            return opt == 'h' ? 0 : 2;
        }
    }
    if (strcmp(which, "small") && strcmp(which, "big") && strcmp(which, "both")) {
        usage();
        return 2;
    }
    if (kn_crypto_init() < 0)
        return 1;
    if (export_dir) {
        for (int k = 0; k < 2; k++)
            if (export_files(&wl[k], export_dir) < 0) {
                fprintf(stderr, "bench_docs: cannot write the files under %s\n", export_dir);
                return 1;
            }
        return 0;
    }
    if (!*knoten) {
        /* The knoten next to this program (build/tools/). */
        ssize_t n = readlink("/proc/self/exe", knoten, sizeof knoten - 16);
        if (n <= 0)
            return 1;
        knoten[n] = 0;
        char *slash = strrchr(knoten, '/');
        snprintf(slash ? slash + 1 : knoten, 16, "knoten");
    }
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    pair p = { .knoten = knoten };
    snprintf(p.root, sizeof p.root, "/tmp/knoten-bench-docs-XXXXXX");
    if (!mkdtemp(p.root))
        return 1;
    double blake, chacha;
    crypto_rates(&blake, &chacha);
    printf("bench_docs: documents with their files from a to b, two `knoten run` processes on "
           "127.0.0.1\n");
    printf("raw rates on this machine, one core: BLAKE2b-256 %.0f MiB/s, ChaCha20-Poly1305 %.0f "
           "MiB/s\n",
        blake, chacha);
    int fails = 0;
    for (int k = 0; k < 2; k++) {
        const workload *w = &wl[k];
        if (strcmp(which, "both") != 0 && strcmp(which, w->name) != 0)
            continue;
        double mib = (double)w->files * (double)w->size / (1 << 20);
        result res;
        if (make_pair(&p, w->name) < 0 || publish_all(p.a, w) < 0) {
            fails++;
            continue;
        }
        transfer(&p, w, &res);
        if (!res.ok) {
            printf("%-6s %zu files of %zu bytes: FAILED (see %s)\n", w->name, w->files, w->size,
                p.root);
            keep = true;
            fails++;
            continue;
        }
        double crypto_s = mib / chacha + mib / blake;
        printf("%-6s %zu files x %zu B = %.1f MiB: wall %.2f s (%.1f MiB/s, %.0f files/s); "
               "CPU a %.2f s, b %.2f s; bare crypto of the payload at b: %.2f s of one core\n",
            w->name, w->files, w->size, mib, res.wall_ms / 1000, mib / (res.wall_ms / 1000),
            (double)w->files / (res.wall_ms / 1000), res.cpu_a, res.cpu_b, crypto_s);
        printf("RESULT %s wall_s=%.3f cpu_a_s=%.3f cpu_b_s=%.3f mib=%.1f\n", w->name,
            res.wall_ms / 1000, res.cpu_a, res.cpu_b, mib);
    }
    if (!keep)
        nftw(p.root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    else
        printf("kept %s\n", p.root);
    return fails ? 1 : 0;
}
