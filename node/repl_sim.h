/*
 * The deterministic network simulator: many replication engines in one
 * process, on virtual time, exchanging encoded wire messages through a seeded
 * packet queue with latency (uniform, hence reordering), loss, a partition
 * that heals, and restarts that keep the store.
 *
 * It runs the production engine (node/repl.c) unchanged over in-memory
 * stores (kn_repl_memstore); there is no Noise in between, since the session
 * layer neither adds nor loses application messages. Everything random comes
 * from one kn_env_seeded, and nothing reads the wall clock, so one seed
 * replays a run exactly, down to the digest in the report.
 *
 * Callers: tools/sim (the `knoten-sim` command line) and
 * tests/unit/node/test_sim.c. docs/replication.md shows runs and figures.
 */
#ifndef KN_REPL_SIM_H
#define KN_REPL_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

typedef struct kn_sim_config {
    uint32_t nodes; /* >= 2 */
    uint32_t degree; /* each node dials until it has at least this many links [4] */
    uint32_t objects; /* objects published; one in four is a reply to an earlier one [10] */
    double loss; /* probability that one message is lost, 0..1 */
    uint64_t seed;
    uint32_t lat_min_ms, lat_max_ms; /* per-message latency, uniform [10, 100] */
    uint64_t publish_window_ms; /* objects appear at random times in [1 s, 1 s + window) [10000] */
    uint64_t partition_at_ms, heal_at_ms; /* 0, 0: none. Splits the nodes into two random halves */
    uint32_t restarts; /* nodes that go down for restart_down_ms during the window [0] */
    uint64_t restart_down_ms; /* [20000] */
    unsigned fanout; /* engine's eager fan-out; 0: the engine's default */
    bool no_prune; /* turn off the engine's Plumtree prune */
    uint64_t graft_delay_ms; /* engine's graft delay; 0: the engine's default */
    uint64_t neg_interval_ms; /* engine's anti-entropy period; 0: the engine's default */
    uint64_t max_ms; /* give up after this much virtual time [window + heal + 600 s] */
    /*
     * Bandwidth of each direction of each link, bytes per second; 0: unlimited.
     * A message occupies its link for len / bandwidth before its latency
     * starts, and the engine sees the bytes still waiting (kn_repl_config.queued).
     */
    uint64_t link_bytes_per_s;
    /*
     * A flooding author: one more author, at one random node, publishes
     * flood x (objects / 8) threads spread over the window, i.e. flood times
     * the rate of each of the 8 normal authors. 0: none.
     */
    uint32_t flood;
    bool no_author_limit; /* turn off the engine's per-author bound */
    unsigned author_objs_per_sec; /* engine's per-author rate; 0: the engine's default */
    size_t queue_bytes_idle; /* engine's idle backlog; 0: the engine's default */
} kn_sim_config;

typedef struct kn_sim_report {
    uint32_t nodes, edges, objects; /* objects: all, the flood's included */
    uint32_t flood_objects;
    uint64_t expected, delivered; /* (node, object) pairs */
    double delivery_pct;
    double copies_per_node; /* obj messages received per object / (n - 1), mean */
    double rmr; /* copies_per_node - 1 */
    double hops_last_mean; /* per object: hops of its last first-delivery; mean over objects */
    uint32_t hops_last_max;
    uint64_t last_ms_p50, last_ms_max; /* per object: publish to last delivery */
    /* Per (node, object) publish to delivery, normal authors' objects only. */
    uint64_t lat_ms_p50, lat_ms_p99, lat_ms_max;
    uint64_t msgs, msgs_lost;
    uint64_t bytes, bytes_obj, bytes_have, bytes_want, bytes_neg, bytes_other;
    uint64_t want_timeouts, neg_sessions;
    uint64_t grafts, prunes; /* links made eager by a graft, lazy by a duplicate, all nodes */
    uint64_t objs_stored, ingest_calls; /* received objects stored, and store calls it took */
    uint64_t objs_deferred; /* held back by the per-author bound, all nodes */
    uint32_t stores_complete; /* nodes whose store holds every object at the end */
    uint64_t end_ms; /* virtual time when all was delivered (or max_ms) */
    uint64_t digest; /* FNV-1a over every delivery: equal digests, equal runs */
} kn_sim_report;

/* Fills defaults for zero fields of cfg (nodes and seed excepted). */
void kn_sim_config_defaults(kn_sim_config *cfg);

/*
 * A fault mix drawn from the seed alone, for sweeps over many seeds: 10-80
 * nodes of degree 2-6, 5-40 objects, 0-30% loss, latency spread up to 400 ms
 * (so messages overtake each other), in three runs of four a partition into
 * two random halves that heals after 2-60 s, and up to a quarter of the nodes
 * restarted (down 1-30 s, store kept); it must converge within 30 virtual
 * minutes of the last fault. Overwrites cfg entirely; the same
 * seed always gives the same config, so `knoten-sim --chaos --seed S`
 * replays one run of a sweep exactly.
 */
void kn_sim_config_chaos(kn_sim_config *cfg, uint64_t seed);

/* True if every node received every object and every store holds them all. */
bool kn_sim_converged(const kn_sim_report *rep);

/* Runs one simulation. 0 (whatever the delivery), or KN_EINVAL / KN_ENOMEM. */
KN_MUST_USE int kn_sim_run(const kn_sim_config *cfg, kn_sim_report *rep);

/* The report as a few lines of text; identical runs print identical text. */
void kn_sim_report_print(FILE *f, const kn_sim_config *cfg, const kn_sim_report *rep);

#endif
