/*
 * The libuv shell of a node. This first version listens, logs and shuts down
 * cleanly on SIGINT/SIGTERM; peering arrives with the transport.
 */
#include "node.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "hex.h"

void kn_node_config_defaults(kn_node_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen = "0.0.0.0:8471";
}

typedef struct node_loop {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
} node_loop;

static void on_signal(uv_signal_t *h, int signum)
{
    fprintf(
        stderr, "knoten: received %s, shutting down\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
    uv_stop(h->loop);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int kn_node_run(kn_datadir *dd, const kn_node_config *cfg, const kn_env *env)
{
    (void)env;
    node_loop nl;
    if (uv_loop_init(&nl.loop) < 0)
        return KN_ENOMEM;
    uv_signal_init(&nl.loop, &nl.sigint);
    uv_signal_init(&nl.loop, &nl.sigterm);
    uv_signal_start(&nl.sigint, on_signal, SIGINT);
    uv_signal_start(&nl.sigterm, on_signal, SIGTERM);
    char id[65];
    kn_hex_encode(id, dd->identity_pk, 32);
    fprintf(
        stderr, "knoten: node %.16s running, data in %s, listen %s\n", id, dd->path, cfg->listen);
    uv_run(&nl.loop, UV_RUN_DEFAULT);
    uv_walk(&nl.loop, close_walk, NULL);
    uv_run(&nl.loop, UV_RUN_DEFAULT);
    uv_loop_close(&nl.loop);
    fprintf(stderr, "knoten: stopped\n");
    return 0;
}
