/*
 * kn_netem: a userspace stand-in for `tc qdisc ... netem` (packet loss,
 * delay and partitions between network namespaces), for
 * tests/integration/netns_faults.sh on kernels built without sch_netem.
 *
 *   kn_netem --ctl FIFO [--seed S] [--loss PERCENT] [--delay MS] [--jitter MS]
 *            [--limit PACKETS] NETNS=10.77.0.1 NETNS=10.77.0.2 ...
 *
 * For each NETNS (a name under /run/netns, made by `ip netns add`) it enters
 * that namespace, creates a TUN device "knt0" there (the device belongs to
 * the namespace it is created in, the file descriptor stays with this
 * process), gives it the address ADDR/24, brings it and lo up, and returns
 * to its own namespace. It then reads every IPv4 packet a namespace sends
 * into 10.77.0.0/24 and writes it into the TUN device of the namespace that
 * owns the destination address: dropped with probability PERCENT, held for
 * MS (+ a uniform 0..jitter) milliseconds first, dropped while the two
 * namespaces are on different sides of a partition. Like netem on each
 * node's interface, every packet crosses this once, so the round trip
 * between two namespaces is twice the delay.
 *
 * The loss and jitter come from one PRNG seeded by --seed (printed at
 * start): the same seed drops the same sequence of packets, although which
 * packets these are depends on the kernels' timing. At most --limit packets
 * (default 4096) wait at a time, in buffers allocated once at start; a
 * packet that finds the queue full is dropped and counted ("overflow"), as
 * netem does beyond its limit.
 *
 * Control: one command a line written to FIFO (opened here, so writers never
 * block on a missing reader):
 *   groups G1 G2 ...   partition: namespace i (command-line order) is on side
 *                      Gi (0-9); packets only pass between equal sides
 *   heal               every namespace on side 0
 *   loss PERCENT / delay MS / jitter MS
 *   stats              print the counters
 *   quit               exit (so does SIGTERM or SIGINT)
 * Each command is acknowledged on stdout ("kn_netem: ok groups 0 0 1 1"), so
 * a script knows when it applies. "kn_netem: ready" follows the setup; the
 * counters are printed every 5 s and at exit.
 *
 * Needs CAP_SYS_ADMIN (setns) and CAP_NET_ADMIN (TUN, addresses): root.
 * It never touches the namespace it runs in, only those it is given.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
    NS_MAX = 16,
    PKT_MAX = 2048, /* above the TUN device's MTU (1500) */
    LIMIT_MAX = 65536,
    READS_PER_POLL = 64, /* packets read from one device before looking at the others */
    LINE_MAX_LEN = 256,
};
#define STATS_EVERY_US 5000000u /* the counters go to stdout every 5 s */

typedef struct ns {
    char name[64];
    uint32_t addr; /* network order */
    int fd; /* the TUN device inside the namespace */
    int side;
} ns;

typedef struct pkt {
    uint64_t due_us;
    uint64_t seq; /* arrival order: equal due times leave in it */
    int from, to;
    uint16_t len;
    uint8_t *data;
} pkt;

typedef struct netem {
    ns nss[NS_MAX];
    int n;
    double loss; /* 0..1 */
    uint64_t delay_us, jitter_us;
    uint64_t rng;
    /* A min-heap of waiting packets on (due_us, seq); free slots on a stack. */
    pkt *slots;
    int *heap, *free_slots;
    int nheap, nfree, limit;
    uint64_t seq;
    uint64_t forwarded, lost, cut, overflow, unroutable, write_failed;
    int ctl;
    char line[LINE_MAX_LEN];
    size_t nline;
} netem;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* splitmix64: small, seedable, good enough for drawing losses. */
static uint64_t rng_next(netem *e)
{
    uint64_t z = (e->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unit(netem *e)
{
    return (double)(rng_next(e) >> 11) / 9007199254740992.0; /* [0, 1) */
}

/* ---- setup: one TUN device in each namespace ---- */

static int ns_enter(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "kn_netem: cannot open %s (%s): create it with `ip netns add %s`\n", path,
            strerror(errno), name);
        return -1;
    }
    int rc = setns(fd, CLONE_NEWNET);
    if (rc < 0)
        fprintf(stderr, "kn_netem: cannot enter network namespace %s: %s (run as root)\n", name,
            strerror(errno));
    close(fd);
    return rc;
}

static int if_up(int sock, const char *dev, uint32_t addr)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev);
    if (addr) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = addr;
        if (ioctl(sock, SIOCSIFADDR, &ifr) < 0)
            return -1;
        sin->sin_addr.s_addr = htonl(0xffffff00u);
        if (ioctl(sock, SIOCSIFNETMASK, &ifr) < 0)
            return -1;
    }
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
        return -1;
    ifr.ifr_flags |= IFF_UP;
    return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

/* Creates knt0 in the namespace x names; the caller returns to its own after. */
static int ns_setup(ns *x)
{
    if (ns_enter(x->name) < 0)
        return -1;
    x->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (x->fd < 0) {
        fprintf(stderr, "kn_netem: cannot open /dev/net/tun: %s\n", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "knt0");
    if (ioctl(x->fd, TUNSETIFF, &ifr) < 0) {
        fprintf(
            stderr, "kn_netem: cannot create a TUN device in %s: %s\n", x->name, strerror(errno));
        return -1;
    }
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* belongs to x's namespace */
    if (sock < 0 || if_up(sock, "knt0", x->addr) < 0 || if_up(sock, "lo", 0) < 0) {
        fprintf(stderr, "kn_netem: cannot configure knt0 in %s: %s\n", x->name, strerror(errno));
        if (sock >= 0)
            close(sock);
        return -1;
    }
    close(sock);
    return 0;
}

/* ---- the queue ---- */

static bool pkt_before(const netem *e, int a, int b)
{
    const pkt *x = &e->slots[a], *y = &e->slots[b];
    return x->due_us < y->due_us || (x->due_us == y->due_us && x->seq < y->seq);
}

static void heap_push(netem *e, int slot)
{
    int i = e->nheap++;
    e->heap[i] = slot;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!pkt_before(e, e->heap[i], e->heap[parent]))
            break;
        int t = e->heap[i];
        e->heap[i] = e->heap[parent];
        e->heap[parent] = t;
        i = parent;
    }
}

static int heap_pop(netem *e)
{
    int top = e->heap[0];
    e->heap[0] = e->heap[--e->nheap];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < e->nheap && pkt_before(e, e->heap[l], e->heap[m]))
            m = l;
        if (r < e->nheap && pkt_before(e, e->heap[r], e->heap[m]))
            m = r;
        if (m == i)
            break;
        int t = e->heap[i];
        e->heap[i] = e->heap[m];
        e->heap[m] = t;
        i = m;
    }
    return top;
}

static int ns_by_addr(const netem *e, uint32_t addr)
{
    for (int i = 0; i < e->n; i++)
        if (e->nss[i].addr == addr)
            return i;
    return -1;
}

/* One packet read from namespace `from`: drop it, or queue it for its destination. */
static void on_packet(netem *e, int from, const uint8_t *p, size_t len, uint64_t now)
{
    if (len < 20 || (p[0] >> 4) != 4) {
        e->unroutable++; /* IPv6 (router solicitations) and runts */
        return;
    }
    uint32_t dst;
    memcpy(&dst, p + 16, 4);
    int to = ns_by_addr(e, dst);
    if (to < 0 || to == from) {
        e->unroutable++;
        return;
    }
    if (e->nss[from].side != e->nss[to].side) {
        e->cut++;
        return;
    }
    if (e->loss > 0 && rng_unit(e) < e->loss) {
        e->lost++;
        return;
    }
    if (!e->nfree) {
        e->overflow++;
        return;
    }
    int slot = e->free_slots[--e->nfree];
    pkt *k = &e->slots[slot];
    k->due_us = now + e->delay_us + (e->jitter_us ? rng_next(e) % (e->jitter_us + 1) : 0);
    k->seq = e->seq++;
    k->from = from;
    k->to = to;
    k->len = (uint16_t)len;
    memcpy(k->data, p, len);
    heap_push(e, slot);
}

/* Writes every packet that is due; returns the time the next one is due (0: none). */
static uint64_t release_due(netem *e, uint64_t now)
{
    while (e->nheap) {
        pkt *k = &e->slots[e->heap[0]];
        if (k->due_us > now)
            return k->due_us;
        int slot = heap_pop(e);
        /* Asked again: a partition cuts what is in flight too. */
        if (e->nss[k->from].side != e->nss[k->to].side)
            e->cut++;
        else if (write(e->nss[k->to].fd, k->data, k->len) == (ssize_t)k->len)
            e->forwarded++;
        else
            e->write_failed++; /* the receiving queue is full (EAGAIN): lost too */
        e->free_slots[e->nfree++] = slot;
    }
    return 0;
}

/* ---- control ---- */

static void print_stats(const netem *e)
{
    printf("kn_netem: stats forwarded %llu lost %llu cut %llu overflow %llu unroutable %llu "
           "write_failed %llu queued %d\n",
        (unsigned long long)e->forwarded, (unsigned long long)e->lost, (unsigned long long)e->cut,
        (unsigned long long)e->overflow, (unsigned long long)e->unroutable,
        (unsigned long long)e->write_failed, e->nheap);
    fflush(stdout);
}

static bool parse_uint(const char *s, unsigned long long max, unsigned long long *v)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return !errno && !*end && *v <= max;
}

/* Runs one control line; false: the line is not understood (it is reported and ignored). */
static bool run_command(netem *e, char *line, bool *quit)
{
    char *save = NULL;
    char *cmd = strtok_r(line, " \t", &save);
    char *arg = cmd ? strtok_r(NULL, " \t", &save) : NULL;
    unsigned long long v;
    if (!cmd)
        return true;
    if (strcmp(cmd, "groups") == 0) {
        int sides[NS_MAX], k = 0;
        for (; arg && k < e->n; arg = strtok_r(NULL, " \t", &save)) {
            if (!parse_uint(arg, 9, &v))
                return false;
            sides[k++] = (int)v;
        }
        if (k != e->n || arg)
            return false; /* one side per namespace, no more, no less */
        for (int i = 0; i < e->n; i++)
            e->nss[i].side = sides[i];
    } else if (strcmp(cmd, "heal") == 0 && !arg) {
        for (int i = 0; i < e->n; i++)
            e->nss[i].side = 0;
    } else if (strcmp(cmd, "loss") == 0 && parse_uint(arg, 100, &v)) {
        e->loss = (double)v / 100.0;
    } else if (strcmp(cmd, "delay") == 0 && parse_uint(arg, 60000, &v)) {
        e->delay_us = v * 1000;
    } else if (strcmp(cmd, "jitter") == 0 && parse_uint(arg, 60000, &v)) {
        e->jitter_us = v * 1000;
    } else if (strcmp(cmd, "stats") == 0 && !arg) {
        print_stats(e);
    } else if (strcmp(cmd, "quit") == 0 && !arg) {
        *quit = true;
    } else {
        return false;
    }
    return true;
}

/* Reads what the FIFO holds and runs every complete line. */
static void on_control(netem *e, bool *quit)
{
    char buf[512];
    ssize_t got;
    while ((got = read(e->ctl, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < got; i++) {
            char c = buf[i];
            if (c != '\n') {
                if (e->nline < sizeof e->line - 1)
                    e->line[e->nline++] = c;
                else
                    e->nline = sizeof e->line; /* too long: refused at its end */
                continue;
            }
            char copy[LINE_MAX_LEN];
            bool too_long = e->nline >= sizeof e->line;
            e->line[too_long ? 0 : e->nline] = 0;
            memcpy(copy, e->line, sizeof copy);
            e->nline = 0;
            if (too_long || !run_command(e, e->line, quit))
                printf("kn_netem: refused \"%s\": commands are groups G..., heal, loss PERCENT, "
                       "delay MS, jitter MS, stats, quit\n",
                    too_long ? "(a line over 255 bytes)" : copy);
            else
                printf("kn_netem: ok %s\n", copy);
            fflush(stdout);
        }
    }
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: kn_netem --ctl FIFO [--seed S] [--loss PERCENT] [--delay MS] [--jitter MS]\n"
        "                [--limit PACKETS] NETNS=ADDR...\n"
        "Creates a TUN device knt0 with ADDR/24 in each network namespace and forwards IPv4\n"
        "packets between them with loss, delay and partitions (see tests/tools/kn_netem.c).\n");
}

int main(int argc, char **argv)
{
    static netem e;
    unsigned long long v;
    const char *ctl = NULL;
    uint64_t seed = (uint64_t)time(NULL);
    static const struct option opts[] = {
        { "ctl", required_argument, 0, 'c' },
        { "seed", required_argument, 0, 's' },
        { "loss", required_argument, 0, 'l' },
        { "delay", required_argument, 0, 'd' },
        { "jitter", required_argument, 0, 'j' },
        { "limit", required_argument, 0, 'L' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    e.limit = 4096;
    e.ctl = -1;
    int c, which = 0;
    while ((c = getopt_long(argc, argv, "h", opts, &which)) != -1) {
        bool ok = true;
        switch (c) {
        case 'c':
            ctl = optarg;
            break;
        case 's':
            ok = parse_uint(optarg, UINT64_MAX, &v);
            seed = v;
            break;
        case 'l':
            ok = parse_uint(optarg, 100, &v);
            e.loss = (double)v / 100.0;
            break;
        case 'd':
            ok = parse_uint(optarg, 60000, &v);
            e.delay_us = v * 1000;
            break;
        case 'j':
            ok = parse_uint(optarg, 60000, &v);
            e.jitter_us = v * 1000;
            break;
        case 'L':
            ok = parse_uint(optarg, LIMIT_MAX, &v) && v > 0;
            e.limit = (int)v;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "kn_netem: bad value for --%s: %s\n", opts[which].name, optarg);
            usage(stderr);
            return 2;
        }
    }
    if (!ctl || optind >= argc || argc - optind > NS_MAX) {
        fprintf(stderr, "kn_netem: give --ctl and 1 to %d NETNS=ADDR arguments\n", NS_MAX);
        usage(stderr);
        return 2;
    }
    for (int i = optind; i < argc; i++) {
        ns *x = &e.nss[e.n];
        const char *eq = strchr(argv[i], '=');
        struct in_addr a;
        if (!eq || eq == argv[i] || (size_t)(eq - argv[i]) >= sizeof x->name
            || inet_pton(AF_INET, eq + 1, &a) != 1 || strchr(argv[i], '/')) {
            fprintf(stderr, "kn_netem: bad argument \"%s\": give NETNS=ADDR, e.g. t1=10.77.0.1\n",
                argv[i]);
            return 2;
        }
        memcpy(x->name, argv[i], (size_t)(eq - argv[i]));
        x->addr = a.s_addr;
        x->fd = -1;
        if (ns_by_addr(&e, x->addr) >= 0) {
            fprintf(stderr, "kn_netem: address %s given twice\n", eq + 1);
            return 2;
        }
        e.n++;
    }

    e.rng = seed;
    e.slots = calloc((size_t)e.limit, sizeof *e.slots);
    e.heap = calloc((size_t)e.limit, sizeof *e.heap);
    e.free_slots = calloc((size_t)e.limit, sizeof *e.free_slots);
    uint8_t *pool = malloc((size_t)e.limit * PKT_MAX);
    int rc = 1;
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (!e.slots || !e.heap || !e.free_slots || !pool || self < 0) {
        fprintf(stderr, "kn_netem: out of memory, or no /proc/self/ns/net\n");
        goto out;
    }
    for (int i = 0; i < e.limit; i++) {
        e.slots[i].data = pool + (size_t)i * PKT_MAX;
        e.free_slots[e.nfree++] = e.limit - 1 - i;
    }
    for (int i = 0; i < e.n; i++) {
        int setup = ns_setup(&e.nss[i]);
        if (setns(self, CLONE_NEWNET) < 0) {
            fprintf(stderr, "kn_netem: cannot return to its own namespace: %s\n", strerror(errno));
            goto out;
        }
        if (setup < 0)
            goto out;
    }
    e.ctl = open(ctl, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (e.ctl < 0) {
        fprintf(stderr, "kn_netem: cannot open the control FIFO %s: %s (make it with mkfifo)\n",
            ctl, strerror(errno));
        goto out;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    printf("kn_netem: seed %llu, loss %.0f%%, delay %llu ms, jitter %llu ms, limit %d packets, "
           "%d namespaces\n",
        (unsigned long long)seed, e.loss * 100, (unsigned long long)(e.delay_us / 1000),
        (unsigned long long)(e.jitter_us / 1000), e.limit, e.n);
    printf("kn_netem: ready\n");
    fflush(stdout);

    struct pollfd pfd[NS_MAX + 1];
    uint8_t buf[PKT_MAX];
    bool quit = false;
    uint64_t stats_due = now_us() + STATS_EVERY_US;
    while (!quit && !stop_requested) {
        if (now_us() >= stats_due) {
            print_stats(&e); /* a trace in the test's log, should it fail */
            stats_due = now_us() + STATS_EVERY_US;
        }
        uint64_t next = release_due(&e, now_us());
        uint64_t now = now_us();
        if (!next || next > stats_due)
            next = stats_due;
        int timeout = next > now ? (int)((next - now + 999) / 1000) : 0;
        for (int i = 0; i < e.n; i++)
            pfd[i] = (struct pollfd) { .fd = e.nss[i].fd, .events = POLLIN };
        pfd[e.n] = (struct pollfd) { .fd = e.ctl, .events = POLLIN };
        int got = poll(pfd, (nfds_t)e.n + 1, timeout);
        if (got < 0 && errno != EINTR) {
            fprintf(stderr, "kn_netem: poll: %s\n", strerror(errno));
            goto out;
        }
        if (got <= 0)
            continue;
        now = now_us();
        for (int i = 0; i < e.n; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            for (int k = 0; k < READS_PER_POLL; k++) {
                ssize_t len = read(e.nss[i].fd, buf, sizeof buf);
                if (len <= 0)
                    break;
                on_packet(&e, i, buf, (size_t)len, now);
            }
        }
        if (pfd[e.n].revents & POLLIN)
            on_control(&e, &quit);
    }
    print_stats(&e);
    rc = 0;
out:
    for (int i = 0; i < e.n; i++)
        if (e.nss[i].fd >= 0)
            close(e.nss[i].fd); /* the devices go with their last descriptor */
    if (e.ctl >= 0)
        close(e.ctl);
    if (self >= 0)
        close(self);
    free(pool);
    free(e.slots);
    free(e.heap);
    free(e.free_slots);
    return rc;
}
