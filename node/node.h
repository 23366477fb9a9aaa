/*
 * The running node: the libuv event loop that accepts and dials peers and
 * drives replication, until SIGINT or SIGTERM. Callers: `knoten run`.
 */
#ifndef KN_NODE_H
#define KN_NODE_H

#include "datadir.h"
#include "env.h"
#include "error.h"

typedef struct kn_node_config {
    const char *listen; /* "HOST:PORT"; IPv6 as "[::1]:8471" */
} kn_node_config;

void kn_node_config_defaults(kn_node_config *cfg);

/* Runs until SIGINT/SIGTERM; returns 0 after a clean shutdown. */
KN_MUST_USE int kn_node_run(kn_datadir *dd, const kn_node_config *cfg, const kn_env *env);

#endif
