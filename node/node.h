/*
 * The running node: the libuv event loop that accepts and dials peers and
 * drives replication, until SIGINT or SIGTERM. Callers: `knoten run`.
 *
 * kn_node_config carries what `knoten run` takes from its options and the
 * configuration file (config.h, docs/config.md) for one council. Pointers in
 * it are borrowed and must stay valid while the node runs.
 */
#ifndef KN_NODE_H
#define KN_NODE_H

#include <stdbool.h>

#include "datadir.h"
#include "env.h"
#include "error.h"
#include "log.h"
#include "peer_config.h"

/*
 * Setting: where the last `knoten run` served this council's web pages
 * ("HOST:PORT/PATH"), so that `knoten user add` prints activation links there.
 */
#define KN_HTTP_SETTING "http.url"

typedef struct kn_node_config {
    const char *listen; /* "HOST:PORT"; IPv6 as "[::1]:8471"; NULL: do not listen */
    const char *name; /* the council's name in log lines; NULL or "" when hosting one */
    kn_log_level log_level;
    bool log_timestamps;
    unsigned max_inbound; /* inbound connections at once; 0: NODE_MAX_INBOUND */
    uint64_t file_upload_rate; /* bytes/s of file contents served to all peers; 0: no limit */
    unsigned max_handshakes; /* connections not yet established; 0: NODE_MAX_HALFOPEN */
    uint64_t handshake_ms; /* a connection must be established within; 0: 10 s */
    uint64_t idle_ms; /* a connection without a complete message this long ends; 0: 45 s */
    uint64_t ping_timeout_ms; /* ping unanswered, nothing heard this long: it ends; 0: 15 s */
    uint64_t ban_ms; /* the first ban of a misbehaving peer (guard.h); 0: 60 s */
    const kn_peer_list
        *peers; /* dialled besides the stored ones (`knoten peer add`); may be NULL */
    /* The web UI and JSON API ([http] in the configuration file). */
    bool http_enabled;
    const char *http_listen; /* "127.0.0.1:8470" by default */
    const char *web_path; /* URL path of this council's pages: "/" or "/NAME" */
    const char *trusted_proxy; /* IP of a reverse proxy whose X-Forwarded-* we believe; NULL */
} kn_node_config;

/* Defaults: listen on 0.0.0.0:8471, log level info, HTTP on 127.0.0.1:8470 at "/". */
void kn_node_config_defaults(kn_node_config *cfg);

/* Runs until SIGINT/SIGTERM; returns 0 after a clean shutdown. */
KN_MUST_USE int kn_node_run(kn_datadir *dd, const kn_node_config *cfg, const kn_env *env);

/* One council of several hosted in one process: its open data directory and configuration. */
typedef struct kn_node_spec {
    kn_datadir *dd;
    const kn_node_config *cfg;
} kn_node_spec;

/*
 * Runs n councils in this process, on one event loop, until SIGINT/SIGTERM;
 * each has its own keys, store, listener and peers, and logs under its name.
 * If one cannot start, none runs. Returns 0 after a clean shutdown of all.
 */
KN_MUST_USE int kn_node_run_many(const kn_node_spec *v, size_t n, const kn_env *env);

#endif
