/*
 * `knoten check`: verifies the store's consistency (kn_store_check) and says
 * what to do about a problem. Safe while the node runs: it reads one LMDB
 * snapshot and writes nothing.
 */
#include <stdio.h>

#include "cli.h"
#include "store.h"

int cmd_check(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "check", &code)) >= 0) { }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    kn_store_check_report r;
    int rc = kn_store_check(dd.store, &r);
    kn_datadir_close(&dd);
    if (rc < 0 && rc != KN_ECORRUPT)
        return cli_fail("cannot read the store: %s", kn_strerror(rc));
    printf("objects         %llu (%llu in the time index), %llu pending, %llu retracted\n",
        (unsigned long long)r.objects, (unsigned long long)r.by_time, (unsigned long long)r.pending,
        (unsigned long long)r.tombstones);
    if (rc == KN_ECORRUPT)
        return cli_fail("the store is inconsistent: %llu problem(s), the first: %s. Restore the "
                        "last backup, or move the data directory's store/ away and let the "
                        "node fetch the library from its peers again",
            (unsigned long long)r.problems, r.first_problem);
    printf("store           consistent: every object indexed, every index entry backed, "
           "fingerprint tree agrees\n");
    return CLI_OK;
}
