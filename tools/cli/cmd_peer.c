/*
 * `knoten peer add|rm|ls` and `knoten peers`: the peers this node dials.
 *
 * The list is kept in the store settings (node/peer_config.h); a running
 * node re-reads it within two seconds (at once on SIGHUP), so these commands
 * work while `knoten run` is up. `ls` joins the list with DATA/peers.state,
 * which the running node rewrites when something changes; it also shows the
 * addresses other members announced that the running node knows of, marked
 * "(announced)", and peers that dialled in, marked "(inbound)".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hex.h"
#include "peer_config.h"
#include "peer_state.h"

/* Parses the common options of a subcommand; returns -1 to go on, else an exit code. */
static int peer_options(kn_cli *cli, int argc, char **argv, const char *help)
{
    static const struct option opts[] = { CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    int opt, code = -1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1)
        if (cli_common_option(cli, opt, optarg, help, &code) && code >= 0)
            return code;
    return -1;
}

static int peer_add(kn_cli *cli, int argc, char **argv)
{
    int code = peer_options(cli, argc, argv, "peer");
    if (code >= 0)
        return code;
    if (argc - optind < 1 || argc - optind > 2)
        return cli_usage_error(cli, "give HOST:PORT and optionally the peer's KEY");
    const char *addr = argv[optind];
    char host[KN_HOST_MAX + 1];
    uint16_t port;
    if (kn_hostport_parse(addr, host, &port) < 0 || strlen(addr) > KN_PEER_ADDR_MAX)
        return cli_usage_error(cli,
            "\"%s\" is not HOST:PORT (e.g. knoten.example.de:8471, "
            "192.0.2.7:8471 or [2001:db8::7]:8471)",
            addr);
    uint8_t key[32];
    bool has_key = argc - optind == 2;
    if (has_key && (code = cli_parse_id(cli, "KEY", argv[optind + 1], key)) != CLI_OK)
        return code;

    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    if (has_key && memcmp(key, dd.identity_pk, 32) == 0) {
        kn_datadir_close(&dd);
        return cli_fail("KEY is this node's own identity; give the identity of the other node "
                        "(`knoten status` on that node shows it)");
    }
    kn_peer_list l;
    int rc = kn_peer_list_load(dd.store, &l);
    if (rc < 0) {
        kn_datadir_close(&dd);
        return cli_fail("cannot read the configured peers: %s", kn_strerror(rc));
    }
    bool existed = kn_peer_list_find(&l, addr) >= 0;
    if ((rc = kn_peer_list_add(&l, addr, has_key ? key : NULL)) == 0)
        rc = kn_peer_list_save(dd.store, &l);
    kn_peer_list_free(&l);
    kn_datadir_close(&dd);
    if (rc == KN_ELIMIT)
        return cli_fail("this node already has %d peers configured; remove one with `knoten peer "
                        "rm HOST:PORT` first",
            KN_PEERS_MAX);
    if (rc < 0)
        return cli_fail("cannot save the peer: %s", kn_strerror(rc));
    printf("%s peer %s%s\n", existed ? "updated" : "added", addr,
        has_key ? " (identity pinned)" : " (any member of the network)");
    printf("A running node picks this up within 2 seconds.\n");
    return CLI_OK;
}

static int peer_rm(kn_cli *cli, int argc, char **argv)
{
    int code = peer_options(cli, argc, argv, "peer");
    if (code >= 0)
        return code;
    if (argc - optind != 1)
        return cli_usage_error(cli, "give exactly one HOST:PORT");
    const char *addr = argv[optind];
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    kn_peer_list l;
    int rc = kn_peer_list_load(dd.store, &l);
    if (rc == 0 && (rc = kn_peer_list_remove(&l, addr)) == 0)
        rc = kn_peer_list_save(dd.store, &l);
    kn_peer_list_free(&l);
    kn_datadir_close(&dd);
    if (rc == KN_ENOTFOUND)
        return cli_fail("%s is not a configured peer; `knoten peer ls` lists them", addr);
    if (rc < 0)
        return cli_fail("cannot remove the peer: %s", kn_strerror(rc));
    printf("removed peer %s\n", addr);
    return CLI_OK;
}

static void format_ago(char *buf, size_t cap, uint64_t then, uint64_t now)
{
    if (!then) {
        snprintf(buf, cap, "-");
        return;
    }
    uint64_t s = now > then ? (now - then) / 1000 : 0;
    if (s < 120)
        snprintf(buf, cap, "%llus ago", (unsigned long long)s);
    else if (s < 7200)
        snprintf(buf, cap, "%llum ago", (unsigned long long)(s / 60));
    else if (s < 172800)
        snprintf(buf, cap, "%lluh ago", (unsigned long long)(s / 3600));
    else
        snprintf(buf, cap, "%llud ago", (unsigned long long)(s / 86400));
}

static void format_bytes(char *buf, size_t cap, uint64_t b)
{
    if (b < 10000)
        snprintf(buf, cap, "%llu B", (unsigned long long)b);
    else if (b < 10000000)
        snprintf(buf, cap, "%llu KiB", (unsigned long long)(b >> 10));
    else
        snprintf(buf, cap, "%llu MiB", (unsigned long long)(b >> 20));
}

static bool node_alive(const kn_peer_state *st)
{
    return st->running && st->pid > 0 && (kill((pid_t)st->pid, 0) == 0 || errno == EPERM);
}

static void print_row(const char *addr, const char *state, const uint8_t *id, const char *hs,
    uint64_t in, uint64_t out, const char *err)
{
    char hex[65] = "-", bin[24], bout[24];
    if (id)
        kn_hex_encode(hex, id, 32);
    format_bytes(bin, sizeof bin, in);
    format_bytes(bout, sizeof bout, out);
    printf("%-24s %-34s %-17.16s %-10s %9s %9s  %s\n", addr, state, hex, hs, bin, bout,
        err && *err ? err : "");
}

/*
 * The LAST ERROR column: an error from before the current connection is
 * history (`knoten status` still shows it with its time), not trouble now.
 */
static const char *current_error(const kn_peer_status *p)
{
    if (!p || (p->phase == KN_PHASE_CONNECTED && p->error_ms < p->since_ms))
        return NULL;
    return p->last_error;
}

/* The STATE column for one peer the running node reports (p may be NULL: not in the state). */
static void format_state(
    char *state, size_t cap, const kn_peer_status *p, bool alive, bool announced, uint64_t now)
{
    const char *mark = announced ? " (announced)" : "";
    if (!p || !alive)
        snprintf(state, cap, "%s%s",
            p && p->handshake_ms ? "not connected (node stopped)" : "never connected", mark);
    else if (p->phase == KN_PHASE_CONNECTED)
        snprintf(state, cap, "connected%s", mark);
    else if (announced
        && (p->phase == KN_PHASE_IDLE || (p->phase == KN_PHASE_BACKOFF && p->retry_ms <= now)))
        /* Dialled only while the node has fewer connections than its target. */
        snprintf(state, cap, "standby%s", mark);
    else if (p->phase == KN_PHASE_BACKOFF)
        snprintf(state, cap, "backing off (retry in %llu s)%s",
            (unsigned long long)(p->retry_ms > now ? (p->retry_ms - now + 999) / 1000 : 0), mark);
    else if (p->phase == KN_PHASE_IDLE)
        snprintf(state, cap, "%s", p->handshake_ms ? "waiting to connect" : "never connected");
    else
        snprintf(state, cap, "connecting%s", mark);
}

/*
 * Peers the node scored down for misbehaving (node/guard.h), banned ones
 * first: the address (before a handshake) or identity, until when it is
 * refused, its score and what it did last.
 */
static void print_misbehaving(const kn_peer_state *st, bool alive, uint64_t now)
{
    if (!alive || st->nbans == 0)
        return;
    printf("\nMisbehaving peers (refused while banned; scores fade in 10 minutes):\n");
    printf("%-24s %-30s %5s %4s  %s\n", "ADDRESS OR IDENTITY", "STATE", "SCORE", "BANS",
        "LAST OFFENSE");
    for (size_t i = 0; i < st->nbans; i++) {
        const kn_peer_ban *b = &st->bans[i];
        char state[48], key[KN_PEER_BAN_KEY_MAX + 8];
        if (b->until_ms > now)
            snprintf(state, sizeof state, "banned (%llu s left)",
                (unsigned long long)((b->until_ms - now + 999) / 1000));
        else
            snprintf(state, sizeof state, "scored down");
        snprintf(key, sizeof key, b->is_id ? "id %.16s" : "%s", b->key);
        printf("%-24s %-30s %5u %4u  %s\n", key, state, b->score, b->bans, b->reason);
    }
}

static int peer_ls(kn_cli *cli, int argc, char **argv, const char *help)
{
    int code = peer_options(cli, argc, argv, help);
    if (code >= 0)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    kn_peer_list l;
    int rc = kn_peer_list_load(dd.store, &l);
    kn_datadir_close(&dd);
    if (rc < 0)
        return cli_fail("cannot read the configured peers: %s", kn_strerror(rc));

    kn_peer_state st;
    int src = kn_peer_state_read(cli->data_dir, &st);
    bool alive = src == 0 && node_alive(&st);
    uint64_t now = kn_env_now(cli->env);
    if (!alive)
        printf("The node is not running (`knoten run` starts it); states are from its last "
               "run.\n");
    size_t found = 0; /* peers the running node found itself: announced, or dialled in */
    for (size_t k = 0; alive && k < st.n; k++)
        found += st.v[k].announced || st.v[k].inbound;
    if (l.n == 0 && found == 0) {
        printf("No peers configured; add one with `knoten peer add HOST:PORT [KEY]`.\n");
        goto out;
    }
    if (l.n == 0)
        printf("No peers configured with `knoten peer add`; the node found these itself "
               "(addresses members announced, nodes that dialled in):\n");
    printf("%-24s %-34s %-17s %-10s %9s %9s  %s\n", "PEER", "STATE", "IDENTITY", "HANDSHAKE", "IN",
        "OUT", "LAST ERROR");
    for (size_t i = 0; i < l.n; i++) {
        const kn_peer_entry *e = &l.v[i];
        const kn_peer_status *p = NULL;
        for (size_t k = 0; src == 0 && k < st.n && !p; k++)
            if (!st.v[k].inbound && !st.v[k].announced && strcmp(st.v[k].addr, e->addr) == 0)
                p = &st.v[k];
        char state[64], hs[24] = "-";
        if (p)
            format_ago(hs, sizeof hs, p->handshake_ms, now);
        format_state(state, sizeof state, p, alive, false, now);
        const uint8_t *id = p && p->has_identity ? p->identity : e->has_key ? e->key : NULL;
        print_row(
            e->addr, state, id, hs, p ? p->bytes_in : 0, p ? p->bytes_out : 0, current_error(p));
    }
    /* Addresses other members announced (addr objects), which the node dials as needed. */
    for (size_t k = 0; alive && k < st.n; k++) {
        const kn_peer_status *p = &st.v[k];
        if (!p->announced)
            continue;
        char state[64], hs[24];
        format_ago(hs, sizeof hs, p->handshake_ms, now);
        format_state(state, sizeof state, p, alive, true, now);
        print_row(p->addr, state, p->has_identity ? p->identity : NULL, hs, p->bytes_in,
            p->bytes_out, current_error(p));
    }
    /* Peers that dialled us and are not in the list. */
    for (size_t k = 0; alive && k < st.n; k++) {
        const kn_peer_status *p = &st.v[k];
        if (!p->inbound)
            continue;
        char hs[24];
        format_ago(hs, sizeof hs, p->handshake_ms, now);
        print_row(p->addr, "connected (inbound)", p->has_identity ? p->identity : NULL, hs,
            p->bytes_in, p->bytes_out, NULL);
    }
out:
    print_misbehaving(&st, alive, now);
    if (src == KN_ECORRUPT)
        fprintf(stderr, "knoten: %s/%s is unreadable; it is rewritten by the running node\n",
            cli->data_dir, KN_PEER_STATE_FILE);
    kn_peer_state_free(&st);
    kn_peer_list_free(&l);
    return CLI_OK;
}

int cmd_peers(kn_cli *cli, int argc, char **argv)
{
    return peer_ls(cli, argc, argv, "peers");
}

int cmd_peer(kn_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(cli, "give a subcommand: add, rm or ls");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return cli_help("peer");
    char prog[64];
    snprintf(prog, sizeof prog, "knoten peer %s", sub);
    kn_cli sub_cli = *cli;
    sub_cli.prog = prog;
    int code;
    if (strcmp(sub, "add") == 0)
        code = peer_add(&sub_cli, argc - 1, argv + 1);
    else if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0)
        code = peer_rm(&sub_cli, argc - 1, argv + 1);
    else if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0)
        code = peer_ls(&sub_cli, argc - 1, argv + 1, "peer");
    else
        return cli_usage_error(cli, "unknown subcommand \"%s\"; use add, rm or ls", sub);
    return code;
}
