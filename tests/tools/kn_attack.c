/*
 * kn_attack: a hostile peer for the reliability tests (tests/integration/
 * hostile_peers.sh), in C on the project's own protocol code so that the
 * attacks that need a completed handshake can make one. It talks to one
 * node at HOST:PORT and reports, on one line, what the node did.
 *
 * Without a handshake (known to the node only by the address):
 *   random HOST:PORT N          N connections, each sending 200 random bytes
 *   prefix HOST:PORT            a frame header announcing 65535 bytes, then 10
 *                               bytes, then nothing
 *   slow HOST:PORT              one byte a second
 *   halfopen HOST:PORT N HOLD   N TCP connections, opened as fast as it can and
 *                               held HOLD seconds without a byte
 *   probe HOST:PORT             is this address refused at once? ("refused" if
 *                               the node closes within 300 ms without a byte)
 * With a handshake, as the member whose data directory is DATA (its identity
 * key and network key; its store is not touched):
 *   hello DATA HOST:PORT        handshake and ping: "ok", or "refused: REASON"
 *   garbage DATA HOST:PORT      then 4 KiB of random bytes
 *   huge DATA HOST:PORT         then one message of 1.5 MiB (over the 1 MiB bound)
 *   trickle DATA HOST:PORT      then one message, one byte a second
 *   badsig DATA HOST:PORT N     then N objects signed by DATA, each with its
 *                               signature broken
 *   replay DATA HOST:PORT N     then 16 objects signed by DATA, sent N times over
 *   wants DATA HOST:PORT N      then wants for N random ids, 1024 per message
 *
 * Every mode ends with the connection: "closed by the node after MS ms
 * [(bye: REASON)]", or "still open after MS ms" when its time is up. Exit 0
 * unless the attack could not be made at all (2: usage, 1: setup failed).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "crypto.h"
#include "datadir.h"
#include "frame.h"
#include "identity.h"
#include "object.h"
#include "wire.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct sockaddr_in target;

static int parse_target(const char *s)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    memset(&target, 0, sizeof target);
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &target.sin_addr) == 1 ? 0 : -1;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&target, sizeof target) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Waits up to ms for the node to close fd (EOF or reset); returns 1 if it did. */
static int wait_closed(int fd, uint64_t ms, kn_session *s, char *bye, size_t cap)
{
    uint64_t end = mono_ms() + ms;
    uint8_t buf[65536];
    for (;;) {
        uint64_t t = mono_ms();
        if (t >= end)
            return 0;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, (int)(end - t));
        if (r <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return 1;
        if (s && kn_session_feed(s, buf, (size_t)n, now_ms()) == 0) {
            const uint8_t *m;
            size_t len;
            while (kn_session_next_message(s, &m, &len) == 1) {
                kn_wire_msg w;
                if (kn_wire_decode(&w, m, len) == 0 && w.kind == KN_WIRE_BYE && bye)
                    snprintf(bye, cap, "%.*s", (int)w.reason_len, w.reason);
            }
        }
    }
}

static void report(const char *mode, int closed, uint64_t since, const char *bye)
{
    if (closed)
        printf("%s: closed by the node after %llu ms%s%s%s\n", mode,
            (unsigned long long)(mono_ms() - since), bye && *bye ? " (bye: " : "",
            bye && *bye ? bye : "", bye && *bye ? ")" : "");
    else
        printf("%s: still open after %llu ms\n", mode, (unsigned long long)(mono_ms() - since));
    fflush(stdout);
}

/* ---- without a handshake ---- */

static int mode_random(int n)
{
    int closed = 0;
    for (int i = 0; i < n; i++) {
        uint8_t junk[200];
        kn_crypto_os_random(junk, sizeof junk);
        /* One frame of 40-189 random bytes, all sent: a message 1 that cannot decrypt. */
        junk[0] = 0;
        junk[1] = (uint8_t)(40 + junk[1] % 150);
        int fd = dial();
        if (fd < 0) {
            closed++; /* refused outright counts as closed */
            continue;
        }
        (void)send_all(fd, junk, sizeof junk);
        closed += wait_closed(fd, 3000, NULL, NULL, 0);
        close(fd);
    }
    printf("random: %d of %d connections closed by the node\n", closed, n);
    return 0;
}

static int mode_prefix_or_slow(const char *mode)
{
    int fd = dial();
    if (fd < 0) {
        printf("%s: cannot connect\n", mode);
        return 0;
    }
    uint64_t t0 = mono_ms();
    if (strcmp(mode, "prefix") == 0) {
        uint8_t b[12] = { 0xff, 0xff };
        kn_crypto_os_random(b + 2, 10);
        (void)send_all(fd, b, sizeof b);
        report(mode, wait_closed(fd, 30000, NULL, NULL, 0), t0, NULL);
    } else {
        int closed = 0;
        for (int i = 0; i < 60 && !closed; i++) {
            uint8_t b = (uint8_t)(i == 0 ? 0 : 0x20);
            if (send_all(fd, &b, 1) < 0) {
                closed = 1;
                break;
            }
            closed = wait_closed(fd, 1000, NULL, NULL, 0);
        }
        report(mode, closed, t0, NULL);
    }
    close(fd);
    return 0;
}

static int mode_halfopen(int n, int hold)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int *fds = calloc((size_t)n, sizeof *fds);
    if (!fds)
        return 1;
    int opened = 0;
    for (int i = 0; i < n; i++)
        if ((fds[i] = dial()) >= 0)
            opened++;
    uint64_t end = mono_ms() + (uint64_t)hold * 1000;
    while (mono_ms() < end)
        usleep(100000);
    int closed = 0;
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0)
            continue;
        uint8_t b;
        ssize_t r = recv(fds[i], &b, 1, MSG_DONTWAIT);
        closed += r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
        close(fds[i]);
    }
    free(fds);
    printf("halfopen: %d of %d connections opened, %d of them closed by the node within %d s\n",
        opened, n, closed, hold);
    return 0;
}

static int mode_probe(void)
{
    int fd = dial();
    if (fd < 0) {
        printf("probe: refused (connect failed)\n");
        return 0;
    }
    int closed = wait_closed(fd, 300, NULL, NULL, 0);
    printf("probe: %s\n", closed ? "refused" : "open");
    close(fd);
    return 0;
}

/* ---- with a handshake ---- */

typedef struct peer {
    int fd;
    kn_session *s;
    kn_datadir dd;
    uint64_t t0;
} peer;

static int flush_out(peer *p)
{
    const uint8_t *out;
    size_t len;
    kn_session_pending_output(p->s, &out, &len);
    if (!len)
        return 0;
    if (send_all(p->fd, out, len) < 0)
        return -1;
    kn_session_consume_output(p->s, len);
    return 0;
}

/* Connects and completes the handshake as DATA's identity; 0, or -1 with why in bye. */
static int handshake(peer *p, const char *data, char *bye, size_t cap)
{
    uint8_t xpriv[32], xpub[32], eph[32];
    kn_identity_statement st;
    memset(p, 0, sizeof *p);
    p->fd = -1;
    if (kn_datadir_open(&p->dd, data, NULL) < 0 || !p->dd.has_network_key) {
        snprintf(bye, cap, "cannot open %s", data);
        return -1;
    }
    kn_store_close(p->dd.store); /* the node may run on it; only the keys are needed */
    p->dd.store = NULL;
    kn_crypto_os_random(xpriv, sizeof xpriv);
    kn_crypto_os_random(eph, sizeof eph);
    kn_x25519_base(xpub, xpriv);
    kn_identity_sign(&st, p->dd.identity_pk, p->dd.identity_sk, xpub, now_ms() + 3600000);
    if (kn_session_new(&p->s, KN_NOISE_INITIATOR, p->dd.network_key, xpriv, &st, eph, now_ms()) < 0
        || kn_session_set_max_message(p->s, 2u << 20) < 0 || kn_session_start(p->s) < 0) {
        snprintf(bye, cap, "cannot start a session");
        return -1;
    }
    if ((p->fd = dial()) < 0) {
        snprintf(bye, cap, "cannot connect");
        return -1;
    }
    p->t0 = mono_ms();
    uint8_t buf[65536];
    while (kn_session_state(p->s) == KN_SESSION_HANDSHAKING) {
        if (flush_out(p) < 0)
            break;
        struct pollfd pf = { .fd = p->fd, .events = POLLIN };
        if (poll(&pf, 1, 5000) <= 0)
            break;
        ssize_t n = recv(p->fd, buf, sizeof buf, 0);
        if (n <= 0 || kn_session_feed(p->s, buf, (size_t)n, now_ms()) < 0)
            break;
    }
    if (kn_session_state(p->s) != KN_SESSION_ESTABLISHED || flush_out(p) < 0) {
        snprintf(bye, cap, "handshake failed");
        return -1;
    }
    /* As initiator we are established after message 3; the node may still refuse us. */
    return 0;
}

static int send_msg(peer *p, kn_mp_out *o)
{
    int rc = kn_mp_out_error(o);
    if (rc == 0)
        rc = kn_session_send(p->s, o->buf, o->len);
    if (rc == 0)
        rc = flush_out(p);
    kn_mp_out_reset(o);
    return rc;
}

static void peer_close(peer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    kn_session_free(p->s);
    kn_datadir_close(&p->dd);
}

/* A thread signed with sk, unique by n; broken: its signature is flipped. */
static int make_object(const uint8_t sk[64], unsigned n, bool broken, uint8_t **buf, size_t *len)
{
    kn_object_draft d;
    kn_mp_out b;
    char title[48];
    memset(&d, 0, sizeof d);
    snprintf(title, sizeof title, "Angriff %u %llu", n, (unsigned long long)mono_ms());
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 2);
    kn_mp_write_cstr(&b, "body");
    kn_mp_write_cstr(&b, "Dies ist ein Test.");
    kn_mp_write_cstr(&b, "title");
    kn_mp_write_cstr(&b, title);
    d.type = KN_T_THREAD;
    d.created = now_ms();
    d.space = "test";
    d.body = b.buf;
    d.body_len = b.len;
    int rc = kn_mp_out_error(&b);
    if (rc == 0)
        rc = kn_object_sign(&d, sk, buf, len);
    kn_mp_out_free(&b);
    if (rc == 0 && broken)
        (*buf)[*len - 1] ^= 0x55; /* the last byte of the signature */
    return rc;
}

/*
 * The objects of badsig and replay, signed before connecting: the node must
 * see the flood arrive at full speed, not the attacker's signing.
 */
typedef struct objset {
    uint8_t **v;
    size_t *len;
    long n;
} objset;

static void objset_free(objset *os)
{
    for (long i = 0; os->v && i < os->n; i++)
        free(os->v[i]);
    free(os->v);
    free(os->len);
}

static int objset_make(objset *os, const char *data, long n, bool broken)
{
    kn_datadir dd;
    memset(os, 0, sizeof *os);
    if (kn_datadir_open(&dd, data, NULL) < 0)
        return -1;
    os->v = calloc((size_t)n, sizeof *os->v);
    os->len = calloc((size_t)n, sizeof *os->len);
    int rc = os->v && os->len ? 0 : -1;
    for (long i = 0; rc == 0 && i < n; i++, os->n++)
        rc = make_object(dd.identity_sk, (unsigned)i, broken, &os->v[i], &os->len[i]) < 0 ? -1 : 0;
    kn_datadir_close(&dd);
    return rc;
}

static int mode_member(const char *mode, const char *data, long n)
{
    peer p;
    char bye[256] = "";
    kn_mp_out o;
    objset os = { 0 };
    bool objects = strcmp(mode, "badsig") == 0 || strcmp(mode, "replay") == 0;
    if (objects && objset_make(&os, data, mode[0] == 'b' ? n : 16, mode[0] == 'b') < 0) {
        objset_free(&os);
        printf("%s: cannot sign objects with %s\n", mode, data);
        return 1;
    }
    if (handshake(&p, data, bye, sizeof bye) < 0) {
        objset_free(&os);
        int closed = p.fd >= 0 ? wait_closed(p.fd, 2000, p.s, bye, sizeof bye) : 1;
        printf("%s: refused: %s%s\n", mode, bye, closed ? "" : " (still open)");
        peer_close(&p);
        return 0;
    }
    kn_mp_out_init(&o, 0);
    uint8_t node_key[32];
    memcpy(node_key, p.dd.identity_pk, 32);
    if (strcmp(mode, "hello") == 0) {
        /* A ping: a refused peer gets a bye instead of the pong. */
        uint8_t buf[65536];
        if (kn_wire_write_ping(&o, 42) == 0)
            (void)send_msg(&p, &o);
        uint64_t end = mono_ms() + 3000;
        const char *result = NULL;
        while (!result && mono_ms() < end) {
            struct pollfd pf = { .fd = p.fd, .events = POLLIN };
            if (poll(&pf, 1, 200) <= 0)
                continue;
            ssize_t r = recv(p.fd, buf, sizeof buf, 0);
            if (r <= 0 || kn_session_feed(p.s, buf, (size_t)r, now_ms()) < 0) {
                result = "closed";
                break;
            }
            const uint8_t *m;
            size_t len;
            while (!result && kn_session_next_message(p.s, &m, &len) == 1) {
                kn_wire_msg w;
                if (kn_wire_decode(&w, m, len) < 0)
                    continue;
                if (w.kind == KN_WIRE_PONG)
                    result = "ok";
                else if (w.kind == KN_WIRE_BYE)
                    snprintf(bye, sizeof bye, "%.*s", (int)w.reason_len, w.reason), result = "bye";
            }
        }
        if (result && strcmp(result, "ok") == 0)
            printf("hello: ok\n");
        else if (result && strcmp(result, "bye") == 0)
            printf("hello: refused: %s\n", bye);
        else
            printf("hello: %s\n", result ? result : "no answer");
        kn_mp_out_free(&o);
        peer_close(&p);
        return 0;
    }
    if (kn_wire_write_hello(&o, KN_WIRE_VERSION, node_key, 0) == 0)
        (void)send_msg(&p, &o);
    uint64_t attack_start = mono_ms();
    if (strcmp(mode, "garbage") == 0) {
        /* Whole frames of random bytes: they arrive, and cannot decrypt. */
        uint8_t junk[4096];
        kn_crypto_os_random(junk, sizeof junk);
        for (size_t i = 0; i + 202 <= sizeof junk; i += 202) {
            junk[i] = 0;
            junk[i + 1] = 200;
        }
        (void)send_all(p.fd, junk, sizeof junk / 202 * 202);
    } else if (strcmp(mode, "huge") == 0) {
        /* One message of 1.5 MiB: its fragments say "more" past the node's 1 MiB bound. */
        size_t big = 3u << 19;
        uint8_t *m = malloc(big);
        if (m) {
            memset(m, 0xa5, big);
            m[0] = 0x92; /* it even starts like a message */
            if (kn_session_send(p.s, m, big) == 0)
                (void)flush_out(&p);
            free(m);
        }
    } else if (strcmp(mode, "trickle") == 0) {
        /* One message, handed to the socket a byte a second. */
        if (kn_wire_write_ping(&o, 7) < 0 || kn_session_send(p.s, o.buf, o.len) < 0) {
            kn_mp_out_free(&o);
            peer_close(&p);
            return 1;
        }
        kn_mp_out_reset(&o);
        const uint8_t *out;
        size_t len;
        kn_session_pending_output(p.s, &out, &len);
        int closed = 0;
        for (size_t i = 0; i + 1 < len && !closed; i++) {
            if (send_all(p.fd, out + i, 1) < 0)
                closed = 1;
            else
                closed = wait_closed(p.fd, 1000, NULL, NULL, 0);
        }
        report(mode, closed ? closed : wait_closed(p.fd, 60000, p.s, bye, sizeof bye), attack_start,
            bye);
        kn_mp_out_free(&o);
        peer_close(&p);
        return 0;
    } else if (objects) {
        for (long i = 0; i < n; i++) {
            long k = i % os.n;
            if (kn_wire_write_obj(&o, os.v[k], os.len[k]) < 0 || send_msg(&p, &o) < 0)
                break;
        }
    } else if (strcmp(mode, "wants") == 0) {
        /* Random ids, cheaply: one random block, a counter in the first bytes. */
        uint8_t(*ids)[KN_ID] = malloc(1024 * KN_ID);
        if (ids)
            kn_crypto_os_random((uint8_t *)ids, 1024 * KN_ID);
        for (long sent = 0; ids && sent < n;) {
            long k = n - sent < 1024 ? n - sent : 1024;
            for (long i = 0; i < k; i++)
                memcpy(ids[i], &sent, sizeof sent), ids[i][8] = (uint8_t)i;
            if (kn_wire_write_ids(&o, KN_WIRE_WANT, (const uint8_t(*)[KN_ID])ids, (uint32_t)k) < 0
                || send_msg(&p, &o) < 0)
                break;
            sent += k;
        }
        free(ids);
    } else {
        kn_mp_out_free(&o);
        peer_close(&p);
        return 2;
    }
    report(mode, wait_closed(p.fd, 15000, p.s, bye, sizeof bye), attack_start, bye);
    objset_free(&os);
    kn_mp_out_free(&o);
    peer_close(&p);
    return 0;
}

static int usage(void)
{
    fprintf(stderr,
        "usage: kn_attack random|prefix|slow|halfopen|probe HOST:PORT [N [HOLD]]\n"
        "       kn_attack hello|garbage|huge|trickle|badsig|replay|wants DATA HOST:PORT [N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3 || kn_crypto_init() < 0)
        return usage();
    const char *mode = argv[1];
    bool member = strcmp(mode, "hello") == 0 || strcmp(mode, "garbage") == 0
        || strcmp(mode, "huge") == 0 || strcmp(mode, "trickle") == 0 || strcmp(mode, "badsig") == 0
        || strcmp(mode, "replay") == 0 || strcmp(mode, "wants") == 0;
    if (member) {
        if (argc < 4 || parse_target(argv[3]) < 0)
            return usage();
        return mode_member(mode, argv[2], argc > 4 ? atol(argv[4]) : 1000);
    }
    if (parse_target(argv[2]) < 0)
        return usage();
    if (strcmp(mode, "random") == 0)
        return mode_random(argc > 3 ? atoi(argv[3]) : 10);
    if (strcmp(mode, "prefix") == 0 || strcmp(mode, "slow") == 0)
        return mode_prefix_or_slow(mode);
    if (strcmp(mode, "halfopen") == 0)
        return mode_halfopen(argc > 3 ? atoi(argv[3]) : 1000, argc > 4 ? atoi(argv[4]) : 5);
    if (strcmp(mode, "probe") == 0)
        return mode_probe();
    return usage();
}
