/*
 * bench_noise: what the encrypted transport costs, next to what it cannot beat.
 *
 * The headline is one kn_session pair over a TCP connection on 127.0.0.1, the
 * way the node drives it (node/conn.c): a writer thread calls
 * kn_session_send and kn_session_take_output and write()s the buffer; the
 * reading thread read()s into a 64 KiB buffer (NODE_READ_BUF), calls
 * kn_session_feed and drains kn_session_next_message. It moves a fixed
 * number of bytes in messages of 65518 bytes (the largest that fits one
 * frame, so each message is one ChaCha20-Poly1305 record of 65519 bytes,
 * exactly what the raw figures measure).
 *
 * Its limit is raw kn_aead_encrypt and kn_aead_decrypt over the same bytes in
 * the same run. The two sessions run on two threads, so on two cores they form
 * a pipeline: encrypt on one side overlaps decrypt on the other, and the pair
 * can go no faster than the slower of the two raw rates. That rate is the
 * denominator of the ratio. Everything else the session does (framing,
 * copies, the syscalls and the kernel's own copies) counts against it. Raw
 * rates are measured before and after the session and the faster of each is
 * kept, so a burst of load elsewhere cannot flatter the ratio.
 *
 * Also printed: plain TCP through the same loop without Noise (what the
 * loopback costs here), the pair in memory in one thread (against raw
 * encrypt + decrypt one after the other), and full knoten handshakes per
 * second next to the X25519 and Ed25519 work one needs.
 *
 *   bench_noise [MiB per measurement, default 512]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "error.h"
#include "frame.h"
#include "identity.h"
#include "noise.h"

enum {
    MSG = KN_FRAME_MAX_CHUNK, /* 65518: one full frame per message */
    READ_BUF = 64 << 10, /* the node's read buffer */
};

static const uint64_t NOW = 1700000000000ull;
static const double TARGET = 0.7;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "bench_noise: %s: %s\n", what, kn_strerror(rc));
        exit(1);
    }
}

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n);
    if (!p) {
        fprintf(stderr, "bench_noise: out of memory\n");
        exit(1);
    }
    return p;
}

struct keys {
    uint8_t x_priv[32];
    kn_identity_statement st;
};

static struct keys make_keys(uint8_t b)
{
    struct keys k;
    uint8_t seed[32], pk[32], sk[64], x_pub[32];
    memset(seed, b, 32);
    memset(k.x_priv, b ^ 0x33, 32);
    kn_sign_keypair_from_seed(pk, sk, seed);
    kn_x25519_base(x_pub, k.x_priv);
    kn_identity_sign(&k.st, pk, sk, x_pub, NOW + 86400000ull);
    return k;
}

static const uint8_t NETKEY[32] = { 1, 2, 3 };

/* Moves all pending output of from into to in READ_BUF-sized pieces. */
static void transfer(kn_session *from, kn_session *to)
{
    const uint8_t *b;
    size_t len;
    kn_session_pending_output(from, &b, &len);
    for (size_t off = 0; off < len; off += READ_BUF) {
        size_t n = len - off < READ_BUF ? len - off : READ_BUF;
        check(kn_session_feed(to, b + off, n, NOW), "feed");
    }
    kn_session_consume_output(from, len);
}

static void pair(
    kn_session **a, kn_session **b, const struct keys *ka, const struct keys *kb, uint8_t eph)
{
    uint8_t ea[32], eb[32];
    memset(ea, eph, 32);
    memset(eb, eph ^ 0xff, 32);
    check(kn_session_new(a, KN_NOISE_INITIATOR, NETKEY, ka->x_priv, &ka->st, ea, NOW), "new");
    check(kn_session_new(b, KN_NOISE_RESPONDER, NETKEY, kb->x_priv, &kb->st, eb, NOW), "new");
    check(kn_session_start(*a), "start");
    transfer(*a, *b);
    transfer(*b, *a);
    transfer(*a, *b);
    if (kn_session_state(*a) != KN_SESSION_ESTABLISHED
        || kn_session_state(*b) != KN_SESSION_ESTABLISHED) {
        fprintf(stderr, "bench_noise: handshake failed\n");
        exit(1);
    }
}

/* Raw AEAD over 65519-byte records (one full frame's plaintext each), total bytes of each. */
static double enc_cpu_mbs, dec_cpu_mbs; /* raw rates per CPU-second, best seen */

static void raw_aead(uint64_t total, double *enc_mbs, double *dec_mbs)
{
    uint8_t key[32] = { 7 }, nonce[12] = { 0 };
    size_t n = KN_NOISE_MAX_PLAINTEXT;
    uint8_t *buf = xmalloc(KN_FRAME_MAX);
    uint8_t *out = xmalloc(KN_FRAME_MAX);
    uint64_t bytes = 0;
    double t0 = now_s(), c0 = thread_cpu_s(), r;
    for (; bytes < total; bytes += n) {
        nonce[4]++;
        kn_aead_encrypt(out, buf, n, NULL, 0, nonce, key);
    }
    *enc_mbs = (double)bytes / (now_s() - t0) / 1e6;
    r = (double)bytes / (thread_cpu_s() - c0) / 1e6;
    enc_cpu_mbs = r > enc_cpu_mbs ? r : enc_cpu_mbs;

    t0 = now_s();
    c0 = thread_cpu_s();
    for (bytes = 0; bytes < total; bytes += n)
        check(kn_aead_decrypt(buf, out, n + KN_NOISE_TAG, NULL, 0, nonce, key), "raw decrypt");
    *dec_mbs = (double)bytes / (now_s() - t0) / 1e6;
    r = (double)bytes / (thread_cpu_s() - c0) / 1e6;
    dec_cpu_mbs = r > dec_cpu_mbs ? r : dec_cpu_mbs;
    free(out);
    free(buf);
}

struct raw_job {
    uint64_t total;
    int decrypt;
    double mbs;
};

static void *raw_job_main(void *arg)
{
    struct raw_job *j = arg;
    uint8_t key[32] = { 7 }, nonce[12] = { 0 };
    size_t n = KN_NOISE_MAX_PLAINTEXT;
    uint8_t *buf = xmalloc(KN_FRAME_MAX), *out = xmalloc(KN_FRAME_MAX);
    kn_aead_encrypt(out, buf, n, NULL, 0, nonce, key);
    uint64_t bytes = 0;
    double t0 = now_s();
    for (; bytes < j->total; bytes += n) {
        if (j->decrypt)
            check(kn_aead_decrypt(buf, out, n + KN_NOISE_TAG, NULL, 0, nonce, key), "decrypt");
        else
            kn_aead_encrypt(buf, buf, n, NULL, 0, nonce, key);
    }
    j->mbs = (double)bytes / (now_s() - t0) / 1e6;
    free(out);
    free(buf);
    return NULL;
}

/*
 * Raw encrypt on one thread while raw decrypt runs on another: what the
 * pipeline's two stages get from this machine when they run at the same
 * time. On two idle cores it is close to the single-thread rates; when
 * another process holds a core, or the cores share execution units, it is
 * not, and no session over TCP can beat it.
 */
static double raw_concurrent(uint64_t total)
{
    struct raw_job e = { total, 0, 0 }, d = { total, 1, 0 };
    pthread_t th;
    if (pthread_create(&th, NULL, raw_job_main, &d) != 0) {
        fprintf(stderr, "bench_noise: cannot start a thread\n");
        exit(1);
    }
    raw_job_main(&e);
    pthread_join(th, NULL);
    return e.mbs < d.mbs ? e.mbs : d.mbs;
}

/* The pair in one thread: send, hand the bytes over as reads would, feed, drain. */
static double session_in_memory(uint64_t total, const struct keys *ka, const struct keys *kb)
{
    kn_session *a, *b;
    pair(&a, &b, ka, kb, 2);
    uint8_t *msg = xmalloc(MSG);
    uint64_t bytes = 0;
    double t0 = now_s();
    while (bytes < total) {
        check(kn_session_send(a, msg, MSG), "send");
        transfer(a, b);
        const uint8_t *m;
        size_t len;
        while (kn_session_next_message(b, &m, &len) == 1)
            bytes += len;
    }
    double t = now_s() - t0;
    free(msg);
    kn_session_free(a);
    kn_session_free(b);
    return (double)bytes / t / 1e6;
}

struct tcp_result {
    double mbs, secs, writer_cpu, reader_cpu; /* CPU: fraction of the wall time */
};

struct reader {
    kn_session *s; /* NULL: plain TCP */
    int fd;
    uint64_t bytes, msgs;
    double cpu;
};

/* Receives until EOF as node/conn.c does: read into one buffer, feed, drain. */
static void *reader_main(void *arg)
{
    struct reader *r = arg;
    uint8_t *buf = xmalloc(READ_BUF);
    double c0 = thread_cpu_s();
    for (;;) {
        ssize_t n = read(r->fd, buf, READ_BUF);
        if (n <= 0)
            break;
        if (!r->s) {
            r->bytes += (size_t)n;
            continue;
        }
        check(kn_session_feed(r->s, buf, (size_t)n, NOW), "feed");
        const uint8_t *m;
        size_t len;
        while (kn_session_next_message(r->s, &m, &len) == 1) {
            r->bytes += len;
            r->msgs++;
        }
    }
    r->cpu = thread_cpu_s() - c0;
    free(buf);
    return NULL;
}

/*
 * The pair over TCP on 127.0.0.1: this thread sends (take the output, write
 * it, free it, as node/conn.c does; the node's allocations happen on its one
 * loop thread, so they do here too), a second thread receives. With plain set,
 * the same loop moves unencrypted bytes: the cost of the loopback itself.
 */
static struct tcp_result session_tcp(
    uint64_t total, const struct keys *ka, const struct keys *kb, int plain)
{
    struct tcp_result res = { 0 };
    kn_session *a = NULL, *b = NULL;
    if (!plain)
        pair(&a, &b, ka, kb, 3);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 1) < 0
        || getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
        perror("bench_noise: listen on 127.0.0.1");
        exit(1);
    }
    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    if (cfd < 0 || connect(cfd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("bench_noise: connect to 127.0.0.1");
        exit(1);
    }
    int sfd = accept(lfd, NULL, NULL);
    close(lfd);
    if (sfd < 0) {
        perror("bench_noise: accept");
        exit(1);
    }
    struct reader r = { .s = b, .fd = sfd };
    pthread_t th;
    uint8_t *msg = xmalloc(MSG);
    double t0 = now_s(), c0 = thread_cpu_s();
    if (pthread_create(&th, NULL, reader_main, &r) != 0) {
        fprintf(stderr, "bench_noise: cannot start the reader thread\n");
        exit(1);
    }
    for (uint64_t sent = 0; sent < total; sent += MSG) {
        size_t len = MSG;
        uint8_t *out;
        if (a) {
            check(kn_session_send(a, msg, MSG), "send");
            out = kn_session_take_output(a, &len);
        } else {
            out = malloc(MSG); /* the same allocation pattern, without Noise */
            if (out)
                memcpy(out, msg, MSG);
        }
        size_t off = 0;
        while (out && off < len) {
            ssize_t n = write(cfd, out + off, len - off);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        free(out);
        if (off < len) {
            perror("bench_noise: write");
            exit(1);
        }
    }
    res.writer_cpu = thread_cpu_s() - c0;
    shutdown(cfd, SHUT_WR);
    pthread_join(th, NULL);
    double t = now_s() - t0;
    res.secs = t;
    res.writer_cpu /= t;
    res.reader_cpu = r.cpu / t;
    uint64_t want = (total + MSG - 1) / MSG * MSG;
    if (r.bytes != want || (!plain && r.msgs != want / MSG)) {
        fprintf(stderr, "bench_noise: received %llu bytes, expected %llu\n",
            (unsigned long long)r.bytes, (unsigned long long)want);
        exit(1);
    }
    close(sfd);
    close(cfd);
    free(msg);
    kn_session_free(a);
    kn_session_free(b);
    res.mbs = (double)r.bytes / t / 1e6;
    return res;
}

static double handshakes(double secs, const struct keys *ka, const struct keys *kb)
{
    uint64_t count = 0;
    double t0 = now_s(), t;
    do {
        kn_session *a, *b;
        pair(&a, &b, ka, kb, (uint8_t)count);
        kn_session_free(a);
        kn_session_free(b);
        count++;
    } while ((t = now_s() - t0) < secs);
    return (double)count / t;
}

/* X25519 scalar multiplications and Ed25519 verifications per second. */
static void primitives(double secs, double *dh_per_s, double *verify_per_s)
{
    uint8_t priv[32] = { 5 }, pub[32], shared[32];
    kn_x25519_base(pub, priv);
    uint64_t n = 0;
    double t0 = now_s(), t;
    do {
        check(kn_x25519(shared, priv, pub), "x25519");
        priv[0]++;
        n++;
    } while ((t = now_s() - t0) < secs);
    *dh_per_s = (double)n / t;

    struct keys k = make_keys(9);
    uint8_t x_pub[32];
    kn_x25519_base(x_pub, k.x_priv);
    n = 0;
    t0 = now_s();
    do {
        check(kn_identity_verify(&k.st, x_pub, NOW), "verify");
        n++;
    } while ((t = now_s() - t0) < secs);
    *verify_per_s = (double)n / t;
}

static double max2(double a, double b)
{
    return a > b ? a : b;
}

int main(int argc, char **argv)
{
    double mib = argc > 1 ? atof(argv[1]) : 512;
    if (mib <= 0) {
        fprintf(stderr, "usage: bench_noise [MiB per measurement, default 512]\n");
        return 2;
    }
    uint64_t total = (uint64_t)(mib * 1048576.0);
    check(kn_crypto_init(), "libsodium");
    struct keys ka = make_keys(1), kb = make_keys(2);

    double enc, dec, enc2, dec2;
    raw_aead(total, &enc, &dec);
    struct tcp_result plain = session_tcp(total, &ka, &kb, 1);
    struct tcp_result tcp = session_tcp(total, &ka, &kb, 0);
    raw_aead(total, &enc2, &dec2);
    enc = max2(enc, enc2);
    dec = max2(dec, dec2);
    double both_at_once = raw_concurrent(total);
    double mem = session_in_memory(total, &ka, &kb);
    double hs = handshakes(1.0, &ka, &kb);
    double dh, ver;
    primitives(0.5, &dh, &ver);

    /* The pipeline limit: the slower of encrypt (sender's core) and decrypt (receiver's). */
    double limit = enc < dec ? enc : dec;
    double ratio = tcp.mbs / limit;
    /* In one thread nothing overlaps: encrypt then decrypt, one after the other. */
    double serial = 1.0 / (1.0 / enc + 1.0 / dec);
    /*
     * One knoten handshake, both sides, as the code does it: per side,
     * kn_session_new derives the static public key and verifies its own
     * statement, the handshake derives the static and ephemeral public keys
     * and does three DH (ee, es, se), and the peer's statement is verified.
     * That is 12 X25519 (fixed-base costed as a full DH) and 4 Ed25519
     * verifications for the pair.
     */
    double hs_limit = 1.0 / (12.0 / dh + 4.0 / ver);

    printf("bench_noise: %.0f MiB per measurement, messages of %d bytes (one 65535-byte frame "
           "each)\n",
        mib, MSG);
    printf("raw kn_aead_encrypt, 65519-byte records    %8.1f MB/s\n", enc);
    printf("raw kn_aead_decrypt, 65519-byte records    %8.1f MB/s\n", dec);
    printf("plain TCP 127.0.0.1, same loop, no Noise   %8.1f MB/s  (cost of the loopback)\n",
        plain.mbs);
    printf("session pair over TCP 127.0.0.1            %8.1f MB/s  = %.2fx raw %s (%.1f MB/s), "
           "target >= %.2fx: %s\n",
        tcp.mbs, ratio, enc < dec ? "encrypt" : "decrypt", limit, TARGET,
        ratio >= TARGET ? "MET" : "NOT MET");
    printf("  denominator: the slower of raw encrypt and raw decrypt, because sender and\n"
           "  receiver run on separate cores and a pipeline goes at its slower stage.\n"
           "  CPU busy: writer %.0f%%, reader %.0f%% of the wall time.\n",
        100 * tcp.writer_cpu, 100 * tcp.reader_cpu);
    printf("  raw encrypt and raw decrypt on two threads at once: the slower ran at %.1f MB/s\n"
           "  (%.2fx its single-thread rate): the most a two-thread pipeline gets from this\n"
           "  machine right now; the session is at %.2fx of that.\n",
        both_at_once, both_at_once / limit, tcp.mbs / both_at_once);
    /*
     * The same run in CPU time instead of wall time: each side's bytes per
     * second of its own thread's CPU time, against raw rates per CPU-second.
     * When other processes hold the cores, the wall-clock figures above fall
     * with the share the threads get; this estimate of the same ratio on two
     * free cores does not (it ignores time spent waiting for the peer).
     */
    double mb = (double)((total + MSG - 1) / MSG * MSG) / 1e6;
    double w_rate = mb / (tcp.writer_cpu * tcp.secs), r_rate = mb / (tcp.reader_cpu * tcp.secs);
    double cpu_limit = enc_cpu_mbs < dec_cpu_mbs ? enc_cpu_mbs : dec_cpu_mbs;
    double cpu_pair = w_rate < r_rate ? w_rate : r_rate;
    printf("  per CPU-second (estimate for two free cores): writer %.1f MB/s, reader %.1f MB/s;\n"
           "  raw encrypt %.1f, raw decrypt %.1f; slower side %.2fx the slower raw rate\n",
        w_rate, r_rate, enc_cpu_mbs, dec_cpu_mbs, cpu_pair / cpu_limit);
    printf("session pair in memory, one thread         %8.1f MB/s  = %.2fx raw encrypt then "
           "decrypt, serially (%.1f MB/s)\n",
        mem, mem / serial, serial);
    printf("handshakes, both sides, statements checked %8.0f /s    = %.2fx the %.0f/s that 12 "
           "X25519 (%.0f/s) + 4 Ed25519 verifies (%.0f/s) allow\n",
        hs, hs / hs_limit, hs_limit, dh, ver);
    return 0;
}
