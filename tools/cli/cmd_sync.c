/*
 * `knoten sync status`: how replication with each peer is going, as the
 * running node last wrote it to DATA/peers.state (peer_state.h): the last
 * reconciliation (when, how long, objects each way), and the objects and
 * bytes of the current (or last) connection, and the file chunks it moved
 * (with those that failed their hash). Reads the state file only, so
 * it works while the node runs and never disturbs it; the store is opened
 * just for its object counts.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hex.h"
#include "peer_state.h"

bool cli_node_alive(const kn_peer_state *st)
{
    return st->running && st->pid > 0 && (kill((pid_t)st->pid, 0) == 0 || errno == EPERM);
}

void cli_format_bytes(char *buf, size_t cap, uint64_t b)
{
    if (b < 10 * 1024)
        snprintf(buf, cap, "%llu B", (unsigned long long)b);
    else if (b < 10ull << 20)
        snprintf(buf, cap, "%.1f KiB", (double)b / 1024);
    else
        snprintf(buf, cap, "%.1f MiB", (double)b / (1 << 20));
}

void cli_format_ago(char *buf, size_t cap, uint64_t then, uint64_t now)
{
    uint64_t s = now > then ? (now - then) / 1000 : 0;
    if (s < 120)
        snprintf(buf, cap, "%llu s ago", (unsigned long long)s);
    else if (s < 7200)
        snprintf(buf, cap, "%llu min ago", (unsigned long long)(s / 60));
    else if (s < 172800)
        snprintf(buf, cap, "%llu h ago", (unsigned long long)(s / 3600));
    else
        snprintf(buf, cap, "%llu days ago", (unsigned long long)(s / 86400));
}

static int print_json(const kn_peer_status *p, bool alive)
{
    char id[65] = "";
    if (p->has_identity)
        kn_hex_encode(id, p->identity, 32);
    const kn_peer_sync *y = &p->sync;
    json_t *j = json_pack("{s:s, s:s?, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
        "addr", p->addr, "identity", p->has_identity ? id : NULL, "direction",
        p->inbound ? "in" : "out", "state", alive ? kn_peer_phase_name(p->phase) : "stopped",
        "objects_in", (json_int_t)y->objs_in, "objects_out", (json_int_t)y->objs_out, "bytes_in",
        (json_int_t)p->bytes_in, "bytes_out", (json_int_t)p->bytes_out, "last_reconciliation_ms",
        (json_int_t)y->recon_ms, "last_reconciliation_duration_ms",
        (json_int_t)y->recon_duration_ms, "last_reconciliation_objects_in", (json_int_t)y->recon_in,
        "last_reconciliation_objects_out", (json_int_t)y->recon_out, "last_reconciliation_found",
        (json_int_t)y->recon_found, "last_reconciliation_bytes_in", (json_int_t)y->recon_bytes_in);
    if (!j)
        return KN_ENOMEM;
    const kn_peer_blobs *b = &p->blobs;
    json_t *f = json_pack("{s:I, s:I, s:I, s:I, s:I}", "file_chunks_in", (json_int_t)b->chunks_in,
        "file_chunks_out", (json_int_t)b->chunks_out, "file_bytes_in", (json_int_t)b->bytes_in,
        "file_bytes_out", (json_int_t)b->bytes_out, "file_chunks_corrupt", (json_int_t)b->corrupt);
    if (!f || json_object_update(j, f) < 0) {
        json_decref(f);
        json_decref(j);
        return KN_ENOMEM;
    }
    json_decref(f);
    int rc = json_dumpf(j, stdout, JSON_COMPACT) == 0 ? 0 : KN_EIO;
    putchar('\n');
    json_decref(j);
    return rc;
}

static void print_text(const kn_peer_status *p, bool alive, uint64_t now)
{
    char id[65] = "", ago[32], bin[24], bout[24];
    if (p->has_identity)
        kn_hex_encode(id, p->identity, 32);
    const kn_peer_sync *y = &p->sync;
    printf("%s%s%.16s%s, %s, %s\n", p->addr, p->has_identity ? " (" : "", id,
        p->has_identity ? "\u2026)" : "", p->inbound ? "inbound" : "outbound",
        !alive                               ? "node stopped"
            : p->phase == KN_PHASE_CONNECTED ? "connected"
                                             : "not connected");
    if (y->recon_ms) {
        char rin[24], found[48] = "";
        cli_format_ago(ago, sizeof ago, y->recon_ms, now);
        cli_format_bytes(rin, sizeof rin, y->recon_bytes_in);
        if (!p->inbound)
            snprintf(
                found, sizeof found, "%llu missing here, ", (unsigned long long)y->recon_found);
        printf("  last reconciliation  %s, took %.1f s: %s%llu objects in (%s), %llu out\n", ago,
            (double)y->recon_duration_ms / 1000.0, found, (unsigned long long)y->recon_in, rin,
            (unsigned long long)y->recon_out);
    } else {
        printf("  last reconciliation  none yet on this connection\n");
    }
    cli_format_bytes(bin, sizeof bin, p->bytes_in);
    cli_format_bytes(bout, sizeof bout, p->bytes_out);
    printf("  %-20s %llu objects in, %llu out; %s in, %s out\n",
        alive && p->phase == KN_PHASE_CONNECTED ? "this connection" : "last connection",
        (unsigned long long)y->objs_in, (unsigned long long)y->objs_out, bin, bout);
    const kn_peer_blobs *b = &p->blobs;
    if (b->chunks_in || b->chunks_out || b->corrupt) {
        cli_format_bytes(bin, sizeof bin, b->bytes_in);
        cli_format_bytes(bout, sizeof bout, b->bytes_out);
        printf("  %-20s %llu chunks in (%s), %llu out (%s)%s", "files",
            (unsigned long long)b->chunks_in, bin, (unsigned long long)b->chunks_out, bout,
            b->corrupt ? "" : "\n");
        if (b->corrupt)
            printf("; %llu corrupt: it is not asked for those files again\n",
                (unsigned long long)b->corrupt);
    }
}

static int sync_status(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "json", no_argument, 0, 'j' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    bool json = false;
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "sync", &code)) >= 0) {
        if (opt == 'j')
            json = true;
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    kn_store_stats ss;
    int rc = kn_store_stats_get(dd.store, &ss);
    kn_datadir_close(&dd);
    if (rc < 0)
        return cli_fail("cannot read the store: %s", kn_strerror(rc));

    kn_peer_state st;
    rc = kn_peer_state_read(cli->data_dir, &st);
    if (rc == KN_ECORRUPT)
        return cli_fail("%s/%s is unreadable; the running node rewrites it within 10 s",
            cli->data_dir, KN_PEER_STATE_FILE);
    if (rc < 0 && rc != KN_ENOTFOUND)
        return cli_fail(
            "cannot read %s/%s: %s", cli->data_dir, KN_PEER_STATE_FILE, kn_strerror(rc));
    bool alive = rc == 0 && cli_node_alive(&st);
    uint64_t now = kn_env_now(cli->env);
    if (!json) {
        if (rc == KN_ENOTFOUND)
            printf("The node has never run here; start it with `knoten run`.\n");
        else if (!alive)
            printf("The node is not running (`knoten run` starts it); figures are from its last "
                   "run.\n");
        printf("%llu objects stored, %llu pending.\n", (unsigned long long)ss.objects,
            (unsigned long long)ss.pending);
        if (rc == 0 && st.n == 0)
            printf("No peers; add one with `knoten peer add HOST:PORT`.\n");
    }
    code = CLI_OK;
    for (size_t i = 0; rc == 0 && i < st.n; i++) {
        if (json) {
            if (print_json(&st.v[i], alive) < 0)
                code = CLI_FAIL;
        } else {
            print_text(&st.v[i], alive, now);
        }
    }
    kn_peer_state_free(&st);
    return code;
}

int cmd_sync(kn_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(cli, "give a subcommand: status");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return cli_help("sync");
    if (strcmp(sub, "status") != 0)
        return cli_usage_error(cli, "unknown subcommand \"%s\"; use status", sub);
    kn_cli sub_cli = *cli;
    sub_cli.prog = "knoten sync status";
    return sync_status(&sub_cli, argc - 1, argv + 1);
}
