/*
 * The C side of the Noise interop test: a kn_session over a plain TCP socket
 * on 127.0.0.1, playing one scenario against tests/interop/dissononce_peer.py
 * (python3-dissononce, an independent Noise implementation).
 *
 *   noise_peer listen  0    SCENARIO NETKEY_HEX EXPECT   (prints "PORT <n>")
 *   noise_peer connect PORT SCENARIO NETKEY_HEX EXPECT
 *
 * The listener is the Noise responder, the connecting side the initiator.
 * EXPECT is "ok" (handshake and scenario must succeed) or "reject" (the
 * handshake must fail at message 1 with nothing sent by a responder).
 * Scenarios: "basic" (small and fragmented messages both ways), "max" (one
 * 65535-byte frame each way), "rekey" (explicit rekey, then enough messages
 * to cross the automatic rekey at 65,536). Received bytes are fed to the
 * session one frame at a time so that an explicit rekey can sit exactly
 * between two frames. Every wait is bounded; exit status 0 means pass.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
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

enum { TIMEOUT_MS = 60000, BIG = 200000, MANY = KN_NOISE_REKEY_INTERVAL + 10 };

struct conn {
    int fd;
    kn_session *s;
    uint8_t *in;
    size_t in_len, in_cap;
    bool eof;
    uint64_t deadline;
    size_t bytes_received;
};

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

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "noise_peer: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* Writes what the session has pending, without blocking. */
static void write_some(struct conn *c)
{
    const uint8_t *b;
    size_t len;
    kn_session_pending_output(c->s, &b, &len);
    while (len > 0) {
        ssize_t n = send(c->fd, b, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            die("send: %s", strerror(errno));
        }
        kn_session_consume_output(c->s, (size_t)n);
        kn_session_pending_output(c->s, &b, &len);
    }
}

/* One round of poll: sends pending output, reads what arrived. */
static void io_round(struct conn *c)
{
    const uint8_t *b;
    size_t pending;
    kn_session_pending_output(c->s, &b, &pending);
    uint64_t t = mono_ms();
    if (t >= c->deadline)
        die("timed out");
    struct pollfd p
        = { .fd = c->fd, .events = (short)((c->eof ? 0 : POLLIN) | (pending ? POLLOUT : 0)) };
    if (p.events == 0)
        die("peer closed the connection");
    int rc = poll(&p, 1, (int)(c->deadline - t));
    if (rc < 0 && errno != EINTR)
        die("poll: %s", strerror(errno));
    if (rc <= 0)
        return;
    if (p.revents & POLLOUT)
        write_some(c);
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
        if (c->in_cap - c->in_len < 65536) {
            c->in_cap = c->in_cap * 2 + 65536;
            c->in = realloc(c->in, c->in_cap);
            if (!c->in)
                die("out of memory");
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNRESET)
            die("recv: %s", strerror(errno));
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            c->eof = true;
        if (n > 0) {
            c->in_len += (size_t)n;
            c->bytes_received += (size_t)n;
        }
    }
}

/* Feeds exactly one complete frame if one is buffered; returns 1 if it did. */
static int feed_one_frame(struct conn *c)
{
    if (c->in_len < 2)
        return 0;
    size_t flen = (size_t)c->in[0] << 8 | c->in[1];
    if (c->in_len < 2 + flen && flen != 0)
        return 0;
    int rc = kn_session_feed(c->s, c->in, 2 + flen, now_ms());
    memmove(c->in, c->in + 2 + flen, c->in_len - 2 - flen);
    c->in_len -= 2 + flen;
    if (rc < 0)
        return rc;
    return 1;
}

/* Runs the handshake to the end; returns 0 or the session's error. */
static int handshake(struct conn *c)
{
    int rc = kn_session_start(c->s);
    if (rc < 0)
        return rc;
    while (kn_session_state(c->s) == KN_SESSION_HANDSHAKING) {
        rc = feed_one_frame(c);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if (c->eof)
                return KN_ECLOSED;
            io_round(c);
        }
    }
    write_some(c);
    return kn_session_state(c->s) == KN_SESSION_ESTABLISHED ? 0 : kn_session_error(c->s);
}

/* The next application message, copied out (caller frees). */
static uint8_t *recv_msg(struct conn *c, size_t *len)
{
    for (;;) {
        const uint8_t *m;
        if (kn_session_next_message(c->s, &m, len) == 1) {
            uint8_t *copy = malloc(*len ? *len : 1);
            if (!copy)
                die("out of memory");
            memcpy(copy, m, *len);
            return copy;
        }
        int rc = feed_one_frame(c);
        if (rc < 0)
            die("receiving: %s (%s)", kn_strerror(rc), kn_errname(rc));
        if (rc == 0) {
            if (c->eof)
                die("peer closed the connection early");
            io_round(c);
        }
    }
}

static void send_msg(struct conn *c, const uint8_t *m, size_t len)
{
    int rc = kn_session_send(c->s, m, len);
    if (rc < 0)
        die("send: %s", kn_errname(rc));
    write_some(c);
}

static void flush(struct conn *c)
{
    const uint8_t *b;
    size_t len;
    for (;;) {
        kn_session_pending_output(c->s, &b, &len);
        if (len == 0)
            return;
        io_round(c);
    }
}

static void pattern(uint8_t *b, size_t len, unsigned mul)
{
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)((i * mul) % 251);
}

static void expect_msg(struct conn *c, const uint8_t *want, size_t want_len, const char *what)
{
    size_t len;
    uint8_t *m = recv_msg(c, &len);
    if (len != want_len || (len > 0 && memcmp(m, want, len) != 0))
        die("%s: got %zu bytes, expected %zu (or different content)", what, len, want_len);
    free(m);
}

/* Both sides send the same script; the peer's messages say "py" where ours say "c". */
static void scenario_basic(struct conn *c)
{
    char text[64];
    for (int i = 0; i < 5; i++) {
        int n = snprintf(text, sizeof text, "message %d from c", i);
        send_msg(c, (const uint8_t *)text, (size_t)n);
    }
    uint8_t *big = malloc(BIG);
    pattern(big, BIG, 7);
    send_msg(c, big, BIG);
    send_msg(c, NULL, 0);
    for (int i = 0; i < 5; i++) {
        int n = snprintf(text, sizeof text, "message %d from py", i);
        expect_msg(c, (const uint8_t *)text, (size_t)n, "small message");
    }
    pattern(big, BIG, 11);
    expect_msg(c, big, BIG, "fragmented 200000-byte message");
    expect_msg(c, NULL, 0, "empty message");
    free(big);
}

static void scenario_max(struct conn *c)
{
    uint8_t *m = malloc(KN_FRAME_MAX_CHUNK);
    pattern(m, KN_FRAME_MAX_CHUNK, 3);
    int rc = kn_session_send(c->s, m, KN_FRAME_MAX_CHUNK);
    const uint8_t *b;
    size_t len;
    kn_session_pending_output(c->s, &b, &len);
    if (rc < 0 || len != 2 + 65535)
        die("a 65518-byte message should be one 65535-byte frame, got %zu bytes", len);
    write_some(c);
    pattern(m, KN_FRAME_MAX_CHUNK, 5);
    expect_msg(c, m, KN_FRAME_MAX_CHUNK, "max-size message");
    free(m);
}

static void scenario_rekey(struct conn *c)
{
    char text[64];
    for (int i = 0; i < 3; i++) {
        int n = snprintf(text, sizeof text, "before %d", i);
        send_msg(c, (const uint8_t *)text, (size_t)n);
    }
    for (int i = 0; i < 3; i++) {
        int n = snprintf(text, sizeof text, "before %d", i);
        expect_msg(c, (const uint8_t *)text, (size_t)n, "message before rekey");
    }
    /* Our 3 are sent and the peer's 3 are read: both directions rekey here. */
    int rc = kn_session_rekey(c->s);
    if (rc < 0)
        die("rekey: %s", kn_errname(rc));
    for (int i = 0; i < 3; i++) {
        int n = snprintf(text, sizeof text, "after %d", i);
        send_msg(c, (const uint8_t *)text, (size_t)n);
    }
    for (int i = 0; i < 3; i++) {
        int n = snprintf(text, sizeof text, "after %d", i);
        expect_msg(c, (const uint8_t *)text, (size_t)n, "message after explicit rekey");
    }
    /* Enough messages to cross nonce 65536, where both sides rekey on their own. */
    for (uint32_t i = 0; i < MANY; i++) {
        uint8_t v[4] = { (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
        rc = kn_session_send(c->s, v, 4);
        if (rc < 0)
            die("send %u: %s", i, kn_errname(rc));
        if (i % 4096 == 0)
            write_some(c);
    }
    write_some(c);
    for (uint32_t i = 0; i < MANY; i++) {
        uint8_t v[4] = { (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
        expect_msg(c, v, 4, "message around the automatic rekey");
    }
}

static int listen_socket(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1) < 0)
        die("bind/listen: %s", strerror(errno));
    socklen_t alen = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &alen);
    *port = ntohs(a.sin_port);
    return fd;
}

static int accept_with_timeout(int lfd)
{
    struct pollfd p = { .fd = lfd, .events = POLLIN };
    if (poll(&p, 1, TIMEOUT_MS) != 1)
        die("no connection within %d ms", TIMEOUT_MS);
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        die("accept: %s", strerror(errno));
    return fd;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect to 127.0.0.1:%d: %s", port, strerror(errno));
    return fd;
}

static void unhex32(uint8_t out[32], const char *hex)
{
    if (strlen(hex) != 64)
        die("network key must be 64 hex digits");
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            die("bad hex");
        out[i] = (uint8_t)v;
    }
}

int main(int argc, char **argv)
{
    if (argc != 6)
        die("usage: noise_peer listen|connect PORT SCENARIO NETKEY_HEX ok|reject");
    bool listening = strcmp(argv[1], "listen") == 0;
    const char *scenario = argv[3];
    bool expect_ok = strcmp(argv[5], "ok") == 0;
    uint8_t netkey[32];
    unhex32(netkey, argv[4]);
    if (kn_crypto_init() < 0)
        die("libsodium init failed");

    /* Fresh keys from the OS RNG (a test driver; the node draws them through its kn_env). */
    uint8_t seed[32], id_pk[32], id_sk[64], x_priv[32], x_pub[32], eph[32];
    kn_crypto_os_random(seed, sizeof seed);
    kn_crypto_os_random(x_priv, sizeof x_priv);
    kn_crypto_os_random(eph, sizeof eph);
    kn_sign_keypair_from_seed(id_pk, id_sk, seed);
    kn_x25519_base(x_pub, x_priv);
    kn_identity_statement st;
    uint64_t now = now_ms();
    kn_identity_sign(&st, id_pk, id_sk, x_pub, now + 3600 * 1000);

    struct conn c = { .fd = -1 };
    c.deadline = mono_ms() + TIMEOUT_MS;
    if (listening) {
        int port;
        int lfd = listen_socket(&port);
        printf("PORT %d\n", port);
        fflush(stdout);
        c.fd = accept_with_timeout(lfd);
        close(lfd);
    } else {
        c.fd = connect_to(atoi(argv[2]));
    }
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    int rc = kn_session_new(
        &c.s, listening ? KN_NOISE_RESPONDER : KN_NOISE_INITIATOR, netkey, x_priv, &st, eph, now);
    if (rc < 0)
        die("session: %s", kn_errname(rc));

    rc = handshake(&c);
    if (!expect_ok) {
        if (rc == 0)
            die("handshake succeeded but should have been rejected");
        if (listening) {
            /* The responder must reject message 1 with KN_ECRYPTO and send nothing. */
            const uint8_t *b;
            size_t len;
            kn_session_pending_output(c.s, &b, &len);
            if (rc != KN_ECRYPTO || len != 0)
                die("expected KN_ECRYPTO and no output, got %s and %zu bytes", kn_errname(rc), len);
        } else if (c.bytes_received != 0) {
            die("the peer's responder sent %zu bytes; it should have sent none", c.bytes_received);
        }
        printf("rejected as expected: %s (%s), %zu bytes received\n", kn_errname(rc),
            kn_strerror(rc), c.bytes_received);
        close(c.fd);
        kn_session_free(c.s);
        free(c.in);
        return 0;
    }
    if (rc < 0)
        die("handshake failed: %s (%s)", kn_errname(rc), kn_strerror(rc));
    const kn_identity_statement *peer = kn_session_remote_identity(c.s);
    if (!peer)
        die("no peer identity");

    if (strcmp(scenario, "basic") == 0)
        scenario_basic(&c);
    else if (strcmp(scenario, "max") == 0)
        scenario_max(&c);
    else if (strcmp(scenario, "rekey") == 0)
        scenario_rekey(&c);
    else
        die("unknown scenario %s", scenario);

    /* Goodbye: each side sends "bye", reads the peer's, then closes. */
    send_msg(&c, (const uint8_t *)"bye", 3);
    flush(&c);
    expect_msg(&c, (const uint8_t *)"bye", 3, "bye");
    shutdown(c.fd, SHUT_WR);
    printf("%s ok as %s; peer identity %02x%02x%02x%02x...\n", scenario,
        listening ? "responder" : "initiator", peer->identity[0], peer->identity[1],
        peer->identity[2], peer->identity[3]);
    close(c.fd);
    kn_session_free(c.s);
    free(c.in);
    return 0;
}
