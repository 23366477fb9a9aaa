/*
 * Fuzz target for the configuration file parser (node/config.c) on arbitrary
 * bytes.
 *
 * Beyond "does not crash": a refused file leaves nothing allocated and an
 * error that names the source and a line; an accepted one has at least one
 * council, each with a valid listen address (or none), a web path, and for
 * several councils a data directory of its own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kn_config cfg;
    char err[KN_CONFIG_ERR_MAX];
    int rc = kn_config_parse(&cfg, (const char *)data, size, "fuzz", err, sizeof err);
    if (rc < 0) {
        if (cfg.councils || cfg.ncouncils || strncmp(err, "fuzz:", 5) != 0)
            abort();
        return 0;
    }
    if (cfg.ncouncils < 1 || cfg.ncouncils > KN_CONFIG_COUNCILS_MAX)
        abort();
    for (size_t i = 0; i < cfg.ncouncils; i++) {
        const kn_council_config *c = &cfg.councils[i];
        if (c->listen[0] && kn_config_check_listen(c->listen) != 0)
            abort();
        if (c->web_path[0] != '/' || (cfg.multi && c->data[0] != '/'))
            abort();
        if (c->peers.n > KN_PEERS_MAX || c->announce.n > KN_ANNOUNCE_MAX)
            abort();
    }
    kn_config_free(&cfg);
    return 0;
}
