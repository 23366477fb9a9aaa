/*
 * bench_noise: what the encrypted transport costs, next to what it cannot beat.
 *
 * Throughput of one kn_session (application bytes per second) is printed next
 * to raw kn_aead_encrypt / kn_aead_decrypt throughput measured in the same
 * run, with the ratio and the target (>= 0.7x):
 *   - send side only: kn_session_send of 1 MiB messages vs raw encrypt;
 *   - an in-memory pair (send, hand the bytes over in 64 KiB chunks as a
 *     socket would, feed, take the messages) vs raw encrypt + decrypt of the
 *     same bytes one after the other;
 *   - the same pair over a TCP connection on 127.0.0.1 (a writer thread).
 * Then full knoten handshakes per second (two sessions, identity statements
 * checked), next to the X25519 and Ed25519-verify work one handshake needs.
 *
 *   bench_noise [seconds per measurement, default 1]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

enum { MSG = 1 << 20, CHUNK = 64 * 1024 };

static const uint64_t NOW = 1700000000000ull;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "bench_noise: %s: %s\n", what, kn_strerror(rc));
        exit(1);
    }
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

/* Moves all pending output of from into to in CHUNK-sized pieces. */
static void transfer(kn_session *from, kn_session *to)
{
    const uint8_t *b;
    size_t len;
    kn_session_pending_output(from, &b, &len);
    for (size_t off = 0; off < len; off += CHUNK) {
        size_t n = len - off < CHUNK ? len - off : CHUNK;
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

/* Raw AEAD over 65519-byte records (one full frame's plaintext each). */
static void raw_aead(double secs, double *enc_mbs, double *dec_mbs)
{
    uint8_t key[32] = { 7 }, nonce[12] = { 0 };
    uint8_t *buf = calloc(1, KN_FRAME_MAX + 64);
    size_t n = KN_NOISE_MAX_PLAINTEXT;
    double t0 = now_s(), t;
    uint64_t bytes = 0;
    do {
        for (int i = 0; i < 16; i++, bytes += n) {
            nonce[4]++;
            kn_aead_encrypt(buf, buf, n, NULL, 0, nonce, key);
        }
    } while ((t = now_s() - t0) < secs);
    *enc_mbs = (double)bytes / t / 1e6;

    kn_aead_encrypt(buf, buf, n, NULL, 0, nonce, key);
    uint8_t *out = malloc(KN_FRAME_MAX);
    bytes = 0;
    t0 = now_s();
    do {
        for (int i = 0; i < 16; i++, bytes += n)
            check(kn_aead_decrypt(out, buf, n + 16, NULL, 0, nonce, key), "raw decrypt");
    } while ((t = now_s() - t0) < secs);
    *dec_mbs = (double)bytes / t / 1e6;
    free(out);
    free(buf);
}

static double session_send_only(double secs, const struct keys *ka, const struct keys *kb)
{
    kn_session *a, *b;
    pair(&a, &b, ka, kb, 1);
    uint8_t *msg = calloc(1, MSG);
    uint64_t bytes = 0;
    double t0 = now_s(), t;
    do {
        check(kn_session_send(a, msg, MSG), "send");
        const uint8_t *o;
        size_t len;
        kn_session_pending_output(a, &o, &len);
        kn_session_consume_output(a, len);
        bytes += MSG;
    } while ((t = now_s() - t0) < secs);
    free(msg);
    kn_session_free(a);
    kn_session_free(b);
    return (double)bytes / t / 1e6;
}

static double session_pair(double secs, const struct keys *ka, const struct keys *kb)
{
    kn_session *a, *b;
    pair(&a, &b, ka, kb, 2);
    uint8_t *msg = calloc(1, MSG);
    uint64_t bytes = 0;
    double t0 = now_s(), t;
    do {
        check(kn_session_send(a, msg, MSG), "send");
        transfer(a, b);
        const uint8_t *m;
        size_t len;
        while (kn_session_next_message(b, &m, &len) == 1)
            bytes += len;
    } while ((t = now_s() - t0) < secs);
    free(msg);
    kn_session_free(a);
    kn_session_free(b);
    return (double)bytes / t / 1e6;
}

struct writer {
    kn_session *s;
    int fd;
    double secs;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    uint8_t *msg = calloc(1, MSG);
    double t0 = now_s();
    while (now_s() - t0 < w->secs) {
        size_t len = MSG;
        uint8_t *out = NULL;
        if (w->s) {
            if (kn_session_send(w->s, msg, MSG) < 0)
                break;
            out = kn_session_take_output(w->s, &len);
        } else {
            out = malloc(MSG); /* plain TCP: the same bytes without Noise */
            memcpy(out, msg, MSG);
        }
        size_t off = 0;
        while (off < len) {
            ssize_t n = write(w->fd, out + off, len - off);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        free(out);
        if (off < len)
            break;
    }
    free(msg);
    shutdown(w->fd, SHUT_WR);
    return NULL;
}

/*
 * The pair over TCP on 127.0.0.1: a writer thread sends, this thread
 * receives. With plain set, the same loop moves unencrypted bytes: the limit
 * the loopback itself sets on this machine.
 */
static double session_tcp(double secs, const struct keys *ka, const struct keys *kb, int plain)
{
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
        return 0;
    }
    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(cfd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("bench_noise: connect");
        return 0;
    }
    int sfd = accept(lfd, NULL, NULL);
    close(lfd);
    struct writer w = { a, cfd, secs };
    pthread_t th;
    pthread_create(&th, NULL, writer_main, &w);
    uint8_t *buf = malloc(CHUNK);
    uint64_t bytes = 0;
    double t0 = now_s();
    for (;;) {
        ssize_t n = read(sfd, buf, CHUNK);
        if (n <= 0)
            break;
        if (plain) {
            bytes += (size_t)n;
            continue;
        }
        check(kn_session_feed(b, buf, (size_t)n, NOW), "feed");
        const uint8_t *m;
        size_t len;
        while (kn_session_next_message(b, &m, &len) == 1)
            bytes += len;
    }
    double t = now_s() - t0;
    pthread_join(th, NULL);
    close(sfd);
    close(cfd);
    free(buf);
    kn_session_free(a);
    kn_session_free(b);
    return (double)bytes / t / 1e6;
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

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (secs <= 0)
        secs = 1.0;
    check(kn_crypto_init(), "libsodium");
    struct keys ka = make_keys(1), kb = make_keys(2);

    double enc, dec;
    raw_aead(secs, &enc, &dec);
    double both = 1.0 / (1.0 / enc + 1.0 / dec);
    double send = session_send_only(secs, &ka, &kb);
    double mem = session_pair(secs, &ka, &kb);
    double tcp_plain = session_tcp(secs, &ka, &kb, 1);
    double tcp = session_tcp(secs, &ka, &kb, 0);
    /* The receiving thread must both read from the socket and decrypt. */
    double tcp_limit = 1.0 / (1.0 / tcp_plain + 1.0 / dec);
    double hs = handshakes(secs, &ka, &kb);
    double dh, ver;
    primitives(secs, &dh, &ver);
    /*
     * One knoten handshake, both sides: 4 fixed-base X25519 (two static and
     * two ephemeral public keys) + 6 DH (ee, es, se on each side), and 2
     * statement verifications. Fixed-base is costed as a full DH here.
     */
    double hs_limit = 1.0 / (10.0 / dh + 2.0 / ver);

    printf("raw kn_aead_encrypt (65519-byte records)   %9.1f MB/s\n", enc);
    printf("raw kn_aead_decrypt (65519-byte records)   %9.1f MB/s\n", dec);
    printf("raw encrypt+decrypt, same bytes, serially  %9.1f MB/s\n", both);
    printf("session send only (1 MiB messages)         %9.1f MB/s  = %.2fx raw encrypt "
           "(target >= 0.70x) %s\n",
        send, send / enc, send / enc >= 0.7 ? "ok" : "BELOW TARGET");
    printf("session pair in memory (64 KiB chunks)     %9.1f MB/s  = %.2fx raw encrypt+decrypt "
           "(target >= 0.70x) %s\n",
        mem, mem / both, mem / both >= 0.7 ? "ok" : "BELOW TARGET");
    printf("plain TCP 127.0.0.1, same loop, no Noise   %9.1f MB/s\n", tcp_plain);
    printf("session pair over TCP 127.0.0.1 (2 threads)%9.1f MB/s  = %.2fx plain TCP with raw "
           "decrypt in the reader, %.1f MB/s (target >= 0.70x) %s; %.2fx raw encrypt\n",
        tcp, tcp / tcp_limit, tcp_limit, tcp / tcp_limit >= 0.7 ? "ok" : "BELOW TARGET", tcp / enc);
    printf("handshakes (both sides, statements checked)%9.0f /s    = %.2fx the %0.f/s that "
           "10 X25519 (%.0f/s) + 2 Ed25519 verifies (%.0f/s) allow\n",
        hs, hs / hs_limit, hs_limit, dh, ver);
    return 0;
}
