/*
 * `knoten run`: the main job. Initialises the data directory on first start
 * (embedded defaults: a new identity that founds its own network), then
 * hands over to the node's event loop until SIGINT or SIGTERM.
 *
 * --announce and --connections are kept in the store settings
 * (node/peer_config.h), so the next start without them keeps them: the node
 * publishes the announced addresses in a signed addr object once it is a
 * member, and keeps the target number of connections (docs/federation.md,
 * "Addresses").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "node.h"
#include "peer_config.h"

/* Stores what the options changed; CLI_OK or an exit code. */
static int save_settings(kn_datadir *dd, const kn_announce *announce, bool set_announce,
    bool clear_announce, long connections)
{
    int rc = 0;
    if (set_announce || clear_announce) {
        kn_announce none = { 0 };
        rc = kn_announce_save(dd->store, clear_announce ? &none : announce);
    }
    if (rc == 0 && connections >= 0)
        rc = kn_connections_save(dd->store, (unsigned)connections);
    if (rc < 0)
        return cli_fail("cannot save the node's settings: %s", kn_strerror(rc));
    if (clear_announce)
        fprintf(stderr,
            "knoten: note: this node announces no address from now on; the addr object it "
            "published before stays the newest one, so members may still try that address.\n");
    return CLI_OK;
}

int cmd_run(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "listen", required_argument, 0, 'l' },
        { "announce", required_argument, 0, 'a' }, { "no-announce", no_argument, 0, 'A' },
        { "connections", required_argument, 0, 'c' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    kn_node_config cfg;
    kn_node_config_defaults(&cfg);
    kn_announce announce = { 0 };
    bool set_announce = false, clear_announce = false;
    long connections = -1;
    int opt, code = -1, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, optarg, "run", &code)) {
            if (code >= 0)
                return code;
            continue;
        }
        if (opt == 'l') {
            cfg.listen = optarg;
        } else if (opt == 'a') {
            set_announce = true;
            rc = kn_announce_add(&announce, optarg);
            if (rc == KN_ELIMIT)
                return cli_usage_error(cli, "at most %d --announce options", KN_ANNOUNCE_MAX);
            if (rc < 0)
                return cli_usage_error(cli,
                    "--announce \"%s\" is not HOST:PORT (e.g. knoten.musterstadt.de:8471, "
                    "192.0.2.7:8471 or [2001:db8::7]:8471): the address other councils' nodes "
                    "reach this one at",
                    optarg);
        } else if (opt == 'A') {
            clear_announce = true;
        } else if (opt == 'c') {
            char *end;
            connections = strtol(optarg, &end, 10);
            if (!*optarg || *end || connections < 0 || connections > KN_CONNECTIONS_MAX)
                return cli_usage_error(
                    cli, "--connections takes a number from 0 to %d", KN_CONNECTIONS_MAX);
        }
    }
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (set_announce && clear_announce)
        return cli_usage_error(cli, "give either --announce or --no-announce, not both");
    if (!kn_datadir_exists(cli->data_dir)) {
        fprintf(stderr, "knoten: no node in %s yet; creating one\n", cli->data_dir);
        char *init_argv[] = { "init", "--data", cli->data_dir, NULL };
        if ((code = cmd_init(cli, 3, init_argv)) != CLI_OK)
            return code;
    }
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    if ((code = save_settings(&dd, &announce, set_announce, clear_announce, connections))
        != CLI_OK) {
        kn_datadir_close(&dd);
        return code;
    }
    rc = kn_node_run(&dd, &cfg, cli->env);
    kn_datadir_close(&dd);
    if (rc < 0)
        return cli_fail("the node stopped: %s", kn_strerror(rc));
    return CLI_OK;
}
