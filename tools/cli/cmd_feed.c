/*
 * `knoten feed AREA`: the area's Atom feed (node/atom.c) on standard output
 * or into a file, for feed readers, mail clients or a web server.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atom.h"
#include "cli.h"
#include "directory.h"

int cmd_feed(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "base-url", required_argument, 0, 'b' }, { "limit", required_argument, 0, 'n' },
              { "output", required_argument, 0, 'o' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    kn_atom_options ao = { 0 };
    const char *path = NULL;
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "ho:", opts, "feed", &code)) >= 0) {
        if (opt == 'b') {
            ao.base_url = optarg;
        } else if (opt == 'o') {
            path = optarg;
        } else if (opt == 'n') {
            char *end;
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (errno || *end || n < 1 || n > KN_ATOM_MAX_ENTRIES)
                return cli_usage_error(cli, "--limit takes 1 to %d entries", KN_ATOM_MAX_ENTRIES);
            ao.max_entries = n;
        }
    }
    if (opt == CLI_STOP)
        return code;
    if (optind + 1 != argc)
        return cli_usage_error(cli, "give exactly one AREA");
    ao.area = argv[optind];
    if (!*ao.area || strlen(ao.area) > KN_SPACE_MAX)
        return cli_usage_error(cli, "area names have 1 to %d bytes", KN_SPACE_MAX);
    kn_datadir dd;
    kn_directory dir;
    kn_text t;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    kn_text_init(&t, 0);
    int rc = kn_directory_load(&dd, &dir);
    if (rc == 0) {
        rc = kn_atom_area(dd.store, &dir, &ao, &t);
        kn_directory_free(&dir);
    }
    kn_datadir_close(&dd);
    if (rc == KN_EINVAL)
        code = cli_usage_error(cli,
            "--base-url must be an http:// or https:// address without "
            "a trailing slash, e.g. https://knoten.example.de");
    else if (rc == KN_ENOTFOUND)
        code = cli_fail("this node has no network yet; `knoten status` shows it");
    else if (rc < 0)
        code = cli_fail("cannot write the feed: %s", kn_strerror(rc));
    else
        code = cli_write_output(path, t.s, t.len);
    kn_text_free(&t);
    return code;
}
