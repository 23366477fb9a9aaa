/*
 * knoten-sim: runs the replication engine on many simulated nodes in one
 * process (node/repl_sim.h) and prints delivery, redundancy (RMR), hops,
 * latency and bytes. The same seed prints the same report, byte for byte;
 * a run that does not reach every node exits 1 and names its seed.
 *
 *   knoten-sim --nodes 1000 --degree 6 --objects 20 --loss 0.05 --seed 7 \
 *              [--partition 3000:40000] [--restarts 10] [--fanout 3] [--seeds 10]
 *              [--link-bw 32000 --flood 100 [--no-author-limit]]
 *   knoten-sim --chaos --seed 1 --seeds 1000 --summary   # the fault sweep
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl_sim.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: knoten-sim --nodes N [--degree K] [--objects M] [--loss P] [--seed S]\n"
        "                  [--seeds COUNT] [--partition FROM_MS:TO_MS] [--restarts R]\n"
        "                  [--fanout F] [--latency MIN_MS:MAX_MS] [--window MS]\n"
        "                  [--neg-interval MS] [--no-prune] [--graft-delay MS]\n"
        "                  [--link-bw BYTES_PER_S] [--flood FACTOR] [--author-rate N]\n"
        "                  [--idle-bytes N] [--no-author-limit]\n"
        "       knoten-sim --chaos [--seed S] [--seeds COUNT] [--summary]\n"
        "Runs N replication engines on virtual time and reports delivery, RMR, hops and bytes.\n"
        "--seeds runs COUNT consecutive seeds starting at S. --flood adds an author who\n"
        "publishes FACTOR times as fast as each of the 8 normal ones; give links a\n"
        "bandwidth (--link-bw) so that it competes with them.\n"
        "--chaos draws the whole network and its faults from each seed (10-80 nodes, up to\n"
        "30%% loss, reordering, a partition that heals, restarts); --summary prints one line\n"
        "per seed and a total. A seed that does not converge is named with its replay command;\n"
        "the exit status is 1 if any did.\n");
}

static int parse_u64(const char *s, unsigned long long *v)
{
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return (errno || end == s || *end) ? -1 : 0;
}

static int parse_pair(const char *s, unsigned long long *a, unsigned long long *b)
{
    char buf[64];
    const char *colon = strchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof buf)
        return -1;
    memcpy(buf, s, (size_t)(colon - s));
    buf[colon - s] = 0;
    return (parse_u64(buf, a) < 0 || parse_u64(colon + 1, b) < 0) ? -1 : 0;
}

int main(int argc, char **argv)
{
    kn_sim_config c;
    unsigned long long v, w, seeds = 1;
    bool chaos = false, summary = false;
    memset(&c, 0, sizeof c);
    c.seed = 1;
    static const struct option opts[] = {
        { "nodes", required_argument, 0, 'n' },
        { "degree", required_argument, 0, 'k' },
        { "objects", required_argument, 0, 'm' },
        { "loss", required_argument, 0, 'l' },
        { "seed", required_argument, 0, 's' },
        { "seeds", required_argument, 0, 'S' },
        { "partition", required_argument, 0, 'p' },
        { "restarts", required_argument, 0, 'r' },
        { "fanout", required_argument, 0, 'f' },
        { "latency", required_argument, 0, 'L' },
        { "window", required_argument, 0, 'w' },
        { "neg-interval", required_argument, 0, 'i' },
        { "no-prune", no_argument, 0, 'P' },
        { "graft-delay", required_argument, 0, 'g' },
        { "link-bw", required_argument, 0, 'B' },
        { "flood", required_argument, 0, 'F' },
        { "author-rate", required_argument, 0, 'A' },
        { "idle-bytes", required_argument, 0, 'I' },
        { "no-author-limit", no_argument, 0, 'N' },
        { "chaos", no_argument, 0, 'C' },
        { "summary", no_argument, 0, 'Q' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (ch) {
        case 'n':
            bad = parse_u64(optarg, &v) < 0 || v < 2 || v > 1000000;
            c.nodes = (uint32_t)v;
            break;
        case 'k':
            bad = parse_u64(optarg, &v) < 0 || v < 1 || v > 64;
            c.degree = (uint32_t)v;
            break;
        case 'm':
            bad = parse_u64(optarg, &v) < 0 || v < 1 || v > 100000;
            c.objects = (uint32_t)v;
            break;
        case 'l': {
            char *end;
            c.loss = strtod(optarg, &end);
            bad = *end || c.loss < 0 || c.loss >= 1;
            break;
        }
        case 's':
            bad = parse_u64(optarg, &v) < 0;
            c.seed = v;
            break;
        case 'S':
            bad = parse_u64(optarg, &seeds) < 0 || seeds < 1;
            break;
        case 'p':
            bad = parse_pair(optarg, &v, &w) < 0 || !v || w <= v;
            c.partition_at_ms = v;
            c.heal_at_ms = w;
            break;
        case 'r':
            bad = parse_u64(optarg, &v) < 0 || v > 1000000;
            c.restarts = (uint32_t)v;
            break;
        case 'f':
            bad = parse_u64(optarg, &v) < 0 || v < 1 || v > 64;
            c.fanout = (unsigned)v;
            break;
        case 'L':
            bad = parse_pair(optarg, &v, &w) < 0 || w < v;
            c.lat_min_ms = (uint32_t)v;
            c.lat_max_ms = (uint32_t)w;
            break;
        case 'w':
            bad = parse_u64(optarg, &v) < 0 || !v;
            c.publish_window_ms = v;
            break;
        case 'i':
            bad = parse_u64(optarg, &v) < 0 || !v;
            c.neg_interval_ms = v;
            break;
        case 'P':
            c.no_prune = true;
            break;
        case 'g':
            bad = parse_u64(optarg, &v) < 0 || !v;
            c.graft_delay_ms = v;
            break;
        case 'B':
            bad = parse_u64(optarg, &v) < 0 || !v;
            c.link_bytes_per_s = v;
            break;
        case 'F':
            bad = parse_u64(optarg, &v) < 0 || !v || v > 10000;
            c.flood = (uint32_t)v;
            break;
        case 'A':
            bad = parse_u64(optarg, &v) < 0 || !v || v > 1000000;
            c.author_objs_per_sec = (unsigned)v;
            break;
        case 'I':
            bad = parse_u64(optarg, &v) < 0 || !v;
            c.queue_bytes_idle = (size_t)v;
            break;
        case 'N':
            c.no_author_limit = true;
            break;
        case 'C':
            chaos = true;
            break;
        case 'Q':
            summary = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "knoten-sim: bad value for an option; see --help\n");
            return 2;
        }
    }
    if ((!c.nodes && !chaos) || optind != argc) {
        usage(stderr);
        return 2;
    }
    unsigned long long failed = 0;
    uint64_t first = c.seed, worst_end = 0, worst_seed = first;
    for (unsigned long long i = 0; i < seeds; i++) {
        kn_sim_report r;
        if (chaos)
            kn_sim_config_chaos(&c, first + i);
        else
            c.seed = first + i;
        int rc = kn_sim_run(&c, &r);
        bool ok = rc == 0 && kn_sim_converged(&r);
        if (summary && ok)
            printf("seed %llu: converged, %u nodes, %u objects, loss %.2f, %llu ms virtual\n",
                (unsigned long long)c.seed, r.nodes, r.objects, c.loss,
                (unsigned long long)r.end_ms);
        else
            kn_sim_report_print(stdout, &c, &r);
        if (ok && r.end_ms > worst_end) {
            worst_end = r.end_ms;
            worst_seed = c.seed;
        }
        if (!ok) {
            fprintf(stderr,
                "knoten-sim: seed %llu FAILED (%s, delivery %.2f%%, %u of %u stores complete); "
                "replay: knoten-sim %s--seed %llu%s\n",
                (unsigned long long)c.seed, rc < 0 ? kn_strerror(rc) : "did not converge",
                r.delivery_pct, r.stores_complete, r.nodes, chaos ? "--chaos " : "",
                (unsigned long long)c.seed, chaos ? "" : " and the same options");
            failed++;
        }
        fflush(stdout);
    }
    if (seeds > 1)
        printf("%llu seeds from %llu: %llu converged, %llu failed; slowest seed %llu "
               "(%llu ms virtual)\n",
            seeds, (unsigned long long)first, seeds - failed, failed,
            (unsigned long long)worst_seed, (unsigned long long)worst_end);
    return failed ? 1 : 0;
}
