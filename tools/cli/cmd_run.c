/*
 * `knoten run`: the main job. Reads the configuration file if one is given
 * (--config FILE, node/config.h and docs/config.md; without one every
 * setting has its default), lets command-line options override it,
 * initialises the data directory on first start (embedded defaults: a new
 * identity that founds its own network), then hands over to the node's event
 * loop until SIGINT or SIGTERM.
 *
 * --announce and --connections (and the same keys of the file) are kept in
 * the store settings (node/peer_config.h), so the next start without them
 * keeps them: the node publishes the announced addresses in a signed addr
 * object once it is a member, and keeps the target number of connections
 * (docs/federation.md, "Addresses").
 *
 * A file with several [council NAME] sections hosts them all in this one
 * process (kn_node_run_many): each opens its own data directory here first,
 * so a council that cannot start stops the whole command before any listens.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "blobstore.h"
#include "cli.h"
#include "config.h"
#include "node.h"
#include "peer_config.h"
#include "peer_state.h"

/* What the command line said; NULL / -1 / false: not given. */
typedef struct run_flags {
    const char *config;
    const char *listen;
    kn_announce announce;
    bool set_announce, clear_announce;
    long connections;
    bool set_log_level;
    kn_log_level log_level;
    const char *http; /* --http HOST:PORT or "off" */
    const char *trusted_proxy; /* normalised into proxy_ip */
    char proxy_ip[INET6_ADDRSTRLEN];
    bool check; /* --check: print the effective settings and stop */
} run_flags;

/* Stores what the options and the file changed; CLI_OK or an exit code. */
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

/* -1 to go on, else the exit code (--help printed, or bad usage). */
static int parse_flags(kn_cli *cli, int argc, char **argv, run_flags *f)
{
    static const struct option opts[]
        = { { "listen", required_argument, 0, 'l' }, { "announce", required_argument, 0, 'a' },
              { "no-announce", no_argument, 0, 'A' }, { "connections", required_argument, 0, 'c' },
              { "config", required_argument, 0, 'f' }, { "log-level", required_argument, 0, 'v' },
              { "http", required_argument, 0, 'H' }, { "trusted-proxy", required_argument, 0, 'P' },
              { "check", no_argument, 0, 'k' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    int opt, code = -1, rc;
    memset(f, 0, sizeof *f);
    f->connections = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "run", &code)) >= 0) {
        if (opt == 'l') {
            f->listen = optarg;
        } else if (opt == 'H') {
            f->http = optarg;
        } else if (opt == 'P') {
            /* Compared as text with the client's address as the web server writes it. */
            uint8_t a[16];
            int af = strchr(optarg, ':') ? AF_INET6 : AF_INET;
            if (inet_pton(af, optarg, a) != 1 || !inet_ntop(af, a, f->proxy_ip, sizeof f->proxy_ip))
                return cli_usage_error(cli,
                    "--trusted-proxy takes the reverse proxy's IP address, without a port, "
                    "e.g. 127.0.0.1 or ::1; got \"%s\"",
                    optarg);
            f->trusted_proxy = f->proxy_ip;
        } else if (opt == 'f') {
            f->config = optarg;
        } else if (opt == 'k') {
            f->check = true;
        } else if (opt == 'v') {
            if (kn_log_level_parse(optarg, &f->log_level) < 0)
                return cli_usage_error(
                    cli, "--log-level takes error, warn, info or debug, not \"%s\"", optarg);
            f->set_log_level = true;
        } else if (opt == 'a') {
            f->set_announce = true;
            rc = kn_announce_add(&f->announce, optarg);
            if (rc == KN_ELIMIT)
                return cli_usage_error(cli, "at most %d --announce options", KN_ANNOUNCE_MAX);
            if (rc < 0)
                return cli_usage_error(cli,
                    "--announce \"%s\" is not HOST:PORT (e.g. knoten.musterstadt.de:8471, "
                    "192.0.2.7:8471 or [2001:db8::7]:8471): the address other councils' nodes "
                    "reach this one at",
                    optarg);
        } else if (opt == 'A') {
            f->clear_announce = true;
        } else if (opt == 'c') {
            char *end;
            f->connections = strtol(optarg, &end, 10);
            if (!*optarg || *end || f->connections < 0 || f->connections > KN_CONNECTIONS_MAX)
                return cli_usage_error(
                    cli, "--connections takes a number from 0 to %d", KN_CONNECTIONS_MAX);
        }
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (f->set_announce && f->clear_announce)
        return cli_usage_error(cli, "give either --announce or --no-announce, not both");
    if (f->listen && strcmp(f->listen, "off") != 0 && kn_config_check_listen(f->listen) < 0)
        return cli_usage_error(cli,
            "--listen \"%s\" is not an IP address and port such as 0.0.0.0:8471, "
            "127.0.0.1:8471 or [::]:8471",
            f->listen);
    if (f->http && strcmp(f->http, "off") != 0 && kn_config_check_listen(f->http) < 0)
        return cli_usage_error(cli,
            "--http \"%s\" is not an IP address and port such as 127.0.0.1:8470 or "
            "192.0.2.7:8470 (or off)",
            f->http);
    return -1;
}

/*
 * One council ready to run: its data directory open, its settings saved,
 * its node configuration filled from the file and the flags.
 */
typedef struct council_run {
    kn_datadir dd;
    bool open;
    int lock_fd; /* DATA/run.lock, held (flock) while the node runs; -1 if not */
    kn_node_config ncfg;
} council_run;

/*
 * True if dir does not exist or holds nothing (a volume's lost+found aside):
 * `knoten run` founds a node only there, not in a directory given by mistake.
 */
static bool dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT;
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)))
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")
            || !strcmp(e->d_name, "lost+found");
    closedir(d);
    return empty;
}

/*
 * One node per data directory: two processes on one store would answer
 * peers with the same identity and overwrite each other's DATA/peers.state.
 * The lock on DATA/run.lock goes with the process, however it ends.
 */
static int lock_datadir(const char *dir, int *fd)
{
    char p[KN_PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/run.lock", dir);
    *fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0)
        return cli_fail("cannot create %s: %s", p, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
        return CLI_OK;
    int err = errno;
    close(*fd);
    *fd = -1;
    if (err != EWOULDBLOCK)
        return cli_fail("cannot lock %s: %s", p, strerror(err));
    kn_peer_state ps;
    long pid = 0;
    if (kn_peer_state_read(dir, &ps) == 0) {
        pid = cli_node_alive(&ps) ? ps.pid : 0;
        kn_peer_state_free(&ps);
    }
    char who[40] = "";
    if (pid > 0)
        snprintf(who, sizeof who, " (pid %ld)", pid);
    return cli_fail("a node is already running on %s%s; stop it first (`systemctl stop knoten`, "
                    "or Ctrl-C where it runs), or give another --data DIR.",
        dir, who);
}

static int open_council(kn_cli *cli, const kn_config *cfg, const kn_council_config *cc,
    const run_flags *f, council_run *r)
{
    int code;
    kn_cli sub = *cli;
    if (cc->data[0] && !cli->data_given)
        snprintf(sub.data_dir, sizeof sub.data_dir, "%s", cc->data);
    if (!kn_datadir_exists(sub.data_dir)) {
        if ((code = cli_datadir_fresh(&sub)) != CLI_OK)
            return code;
        if (!dir_empty(sub.data_dir))
            return cli_fail("%s holds files but no knoten node; a new node is only created in a "
                            "new or empty directory. Give the node's data directory (--data, or "
                            "data = in the configuration file), or create one with `knoten init "
                            "--data DIR` or `knoten join`.",
                sub.data_dir);
        fprintf(stderr, "knoten: %s%sno node in %s yet; creating one\n", cc->name,
            cc->name[0] ? ": " : "", sub.data_dir);
        char *init_argv[] = { "init", "--data", sub.data_dir, NULL };
        if ((code = cmd_init(&sub, 3, init_argv)) != CLI_OK)
            return code;
    }
    kn_store_options so = { .pending_max = cfg->max_pending, .max_map_size = cfg->store_max };
    if ((code = lock_datadir(sub.data_dir, &r->lock_fd)) != CLI_OK)
        return code;
    if ((code = cli_open_with(&sub, &r->dd, &so)) != CLI_OK)
        return code;
    r->open = true;
    bool set_announce = f->set_announce || (cc->announce_set && !f->clear_announce);
    const kn_announce *announce = f->set_announce ? &f->announce : &cc->announce;
    long connections = f->connections >= 0 ? f->connections : cc->connections;
    if ((code = save_settings(&r->dd, announce, set_announce, f->clear_announce, connections))
        != CLI_OK)
        return code;
    if (cfg->max_file || cfg->files_quota_set) { /* [quota]: the document file limits */
        kn_blob_limits l;
        size_t accepted = 0;
        int rc = kn_blob_limits_get(r->dd.store, &l);
        if (cfg->max_file)
            l.max_file = cfg->max_file;
        if (cfg->files_quota_set)
            l.quota = cfg->files_quota;
        if (rc == 0)
            rc = kn_blob_limits_set(r->dd.store, &l, &accepted);
        if (rc < 0)
            return cli_fail("cannot set the file limits of [quota]: %s", kn_strerror(rc));
    }
    kn_node_config *n = &r->ncfg;
    kn_node_config_defaults(n);
    const char *listen = f->listen ? f->listen : cc->listen;
    n->listen = listen[0] && strcmp(listen, "off") != 0 ? listen : NULL;
    n->name = cc->name;
    n->log_level = f->set_log_level ? f->log_level : cfg->log_level;
    n->log_timestamps = cfg->log_timestamps;
    n->max_inbound = cfg->max_inbound;
    n->max_handshakes = cfg->max_handshakes;
    n->file_upload_rate = cfg->file_upload_rate;
    n->handshake_ms = (uint64_t)cfg->handshake_timeout * 1000;
    n->idle_ms = (uint64_t)cfg->idle_timeout * 1000;
    n->ping_timeout_ms = (uint64_t)cfg->ping_timeout * 1000;
    n->ban_ms = (uint64_t)cfg->ban * 1000;
    n->peers = &cc->peers;
    n->http_enabled = cfg->http_enabled;
    n->http_listen = cfg->http_listen;
    n->web_path = cc->web_path;
    n->trusted_proxy = f->trusted_proxy;
    if (f->http) {
        n->http_enabled = strcmp(f->http, "off") != 0;
        if (n->http_enabled)
            n->http_listen = f->http;
    }
    if (n->http_enabled) { /* activation links printed by `knoten user add` point here */
        char url[KN_PEER_ADDR_MAX + 80];
        snprintf(url, sizeof url, "%s%s", n->http_listen, n->web_path[0] ? n->web_path : "/");
        if (kn_store_setting_put(r->dd.store, KN_HTTP_SETTING, (const uint8_t *)url, strlen(url))
            < 0)
            fprintf(stderr, "knoten: note: could not remember the web address in the store\n");
    }
    return CLI_OK;
}

/* --check: what `knoten run` would use, council by council, without opening anything. */
static int print_check(const kn_cli *cli, const kn_config *cfg, const run_flags *f)
{
    printf("configuration %s: OK\n", f->config ? f->config : "(none: the defaults)");
    for (size_t i = 0; i < cfg->ncouncils; i++) {
        const kn_council_config *c = &cfg->councils[i];
        const char *listen = f->listen ? f->listen : c->listen[0] ? c->listen : "off";
        if (cfg->multi)
            printf("[council %s]\n", c->name);
        else
            printf("[node]\n");
        const char *data = cli->data_given || !c->data[0] ? cli->data_dir : c->data;
        printf("  data         %s\n", data);
        if (!kn_datadir_exists(data) && !dir_empty(data))
            printf("               holds files but no node: `knoten run` refuses it (is this "
                   "the right directory?)\n");
        else if (!kn_datadir_exists(data)) /* a typo here would found a network of its own */
            printf("               holds no node yet: `knoten run` would create one that founds "
                   "a network of its own (`knoten init` or `knoten join` first)\n");
        printf("  listen       %s\n", listen);
        const kn_announce *a = f->set_announce ? &f->announce : &c->announce;
        if (f->clear_announce)
            printf("  announce     none (forgotten)\n");
        else if (!f->set_announce && !c->announce_set)
            printf("  announce     as stored by the last run\n");
        for (size_t j = 0; !f->clear_announce && j < a->n; j++)
            printf("  announce     %s\n", a->addr[j]);
        long conns = f->connections >= 0 ? f->connections : c->connections;
        if (conns >= 0)
            printf("  connections  %ld\n", conns);
        else
            printf("  connections  as stored by the last run (8 at first)\n");
        for (size_t j = 0; j < c->peers.n; j++)
            printf("  peer         %s%s\n", c->peers.v[j].addr,
                c->peers.v[j].has_key ? " (key pinned)" : "");
        printf("  web_path     %s\n", c->web_path);
    }
    printf("[log]     level %s, timestamps %s\n",
        kn_log_level_name(f->set_log_level ? f->log_level : cfg->log_level),
        cfg->log_timestamps ? "yes" : "no");
    if (f->http && strcmp(f->http, "off") == 0)
        printf("[http]    disabled (--http off)\n");
    else if (f->http)
        printf("[http]    enabled, %s (--http)\n", f->http);
    else
        printf("[http]    %s, %s\n", cfg->http_enabled ? "enabled" : "disabled", cfg->http_listen);
    if (f->trusted_proxy)
        printf("          trusted proxy %s (--trusted-proxy)\n", f->trusted_proxy);
    printf("[limits]  max_inbound %u, max_handshakes %u, max_pending %llu, handshake_timeout %u s, "
           "idle_timeout %u s, ping_timeout %u s, ban %u s\n",
        cfg->max_inbound, cfg->max_handshakes, (unsigned long long)cfg->max_pending,
        cfg->handshake_timeout, cfg->idle_timeout, cfg->ping_timeout, cfg->ban);
    if (cfg->file_upload_rate)
        printf(
            "[limits]  file_upload_rate %.1f MiB/s\n", (double)cfg->file_upload_rate / 1048576.0);
    if (cfg->store_max)
        printf("[quota]   store %.1f MiB\n", (double)cfg->store_max / 1048576.0);
    else
        printf("[quota]   store: no limit\n");
    if (cfg->max_file)
        printf("[quota]   max_file %.1f MiB\n", (double)cfg->max_file / 1048576.0);
    if (cfg->files_quota_set && cfg->files_quota)
        printf("[quota]   files_per_council %.1f MiB\n", (double)cfg->files_quota / 1048576.0);
    else if (cfg->files_quota_set)
        printf("[quota]   files_per_council: no limit\n");
    if (!cfg->max_file || !cfg->files_quota_set)
        printf("[quota]   other file limits as stored (`knoten doc limits`)\n");
    return CLI_OK;
}

int cmd_run(kn_cli *cli, int argc, char **argv)
{
    run_flags f;
    kn_config cfg;
    char err[KN_CONFIG_ERR_MAX];
    int code = parse_flags(cli, argc, argv, &f), rc;
    if (code >= 0)
        return code;
    rc = f.config ? kn_config_load(&cfg, f.config, err, sizeof err) : kn_config_defaults(&cfg);
    if (rc < 0) {
        if (!f.config)
            return cli_fail("out of memory");
        return cli_fail("%s\nSee docs/config.md (or `man knoten`) for every key.", err);
    }
    if (cfg.multi
        && (f.listen || cli->data_given || f.set_announce || f.clear_announce
            || f.connections >= 0)) {
        kn_config_free(&cfg);
        return cli_usage_error(cli,
            "%s hosts several councils: set listen, data, announce and connections in each "
            "[council NAME] section, not on the command line",
            f.config);
    }
    if (f.check) {
        code = print_check(cli, &cfg, &f);
        kn_config_free(&cfg);
        return code;
    }
    council_run *runs = calloc(cfg.ncouncils, sizeof *runs);
    kn_node_spec *specs = calloc(cfg.ncouncils, sizeof *specs);
    if (!runs || !specs) {
        code = cli_fail("out of memory");
        goto out;
    }
    for (size_t i = 0; i < cfg.ncouncils; i++)
        runs[i].lock_fd = -1;
    for (size_t i = 0; i < cfg.ncouncils; i++) {
        if ((code = open_council(cli, &cfg, &cfg.councils[i], &f, &runs[i])) != CLI_OK)
            goto out;
        specs[i].dd = &runs[i].dd;
        specs[i].cfg = &runs[i].ncfg;
    }
    /*
     * A running node allocates and frees many buffers of a few hundred KiB
     * (file chunks on their way to the store, LMDB's pages for them, Noise
     * messages). glibc would serve each from a fresh mmap, or trim the heap
     * after it, so every chunk cost page faults and zeroing (a quarter of a
     * receiving node's CPU in bench_docs). Keep such buffers in the heap and
     * up to 32 MiB of free heap for reuse instead; the process is long-lived.
     */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
    rc = kn_node_run_many(specs, cfg.ncouncils, cli->env);
    code = rc < 0 ? cli_fail("the node stopped: %s", kn_strerror(rc)) : CLI_OK;
out:
    for (size_t i = 0; runs && i < cfg.ncouncils; i++) {
        if (runs[i].open)
            kn_datadir_close(&runs[i].dd);
        if (runs[i].lock_fd >= 0)
            close(runs[i].lock_fd);
    }
    free(runs);
    free(specs);
    kn_config_free(&cfg);
    return code;
}
