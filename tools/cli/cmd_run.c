/*
 * `knoten run`: the main job. Initialises the data directory on first start
 * (embedded defaults: a new identity that founds its own network), then
 * hands over to the node's event loop until SIGINT or SIGTERM.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "node.h"

int cmd_run(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "listen", required_argument, 0, 'l' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    kn_node_config cfg;
    kn_node_config_defaults(&cfg);
    int opt, code = -1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, optarg, "run", &code)) {
            if (code >= 0)
                return code;
            continue;
        }
        if (opt == 'l')
            cfg.listen = optarg;
    }
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (!kn_datadir_exists(cli->data_dir)) {
        fprintf(stderr, "knoten: no node in %s yet; creating one\n", cli->data_dir);
        char *init_argv[] = { "init", "--data", cli->data_dir, NULL };
        if ((code = cmd_init(cli, 3, init_argv)) != CLI_OK)
            return code;
    }
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    int rc = kn_node_run(&dd, &cfg, cli->env);
    kn_datadir_close(&dd);
    if (rc < 0)
        return cli_fail("the node stopped: %s", kn_strerror(rc));
    return CLI_OK;
}
