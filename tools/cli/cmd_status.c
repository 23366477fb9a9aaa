/*
 * `knoten status`: what an administrator checks first. The node's identity,
 * its network and its own membership, whether the node runs, its peers and
 * their state, the last reconciliation, object counts, and the store's size
 * on disk and map usage. `--json` gives the same as one JSON object.
 *
 * It reads the store (counts, roster) and DATA/peers.state, which the
 * running node rewrites about once a second (node/peer_state.h), so it works
 * while the node runs and never disturbs it.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blobstore.h"
#include "cli.h"
#include "hex.h"
#include "peer_state.h"

typedef struct status_info {
    char identity[65];
    bool has_key;
    /* network */
    bool net_found;
    char net_id[65];
    char net_name[256];
    uint64_t admit_k;
    /* this node in the roster */
    bool in_roster;
    kn_roster_member self;
    size_t members; /* nodes that are members now */
    kn_store_stats st;
    kn_blob_stats blobs;
    uint64_t file_bytes; /* DATA/store/data.mdb */
    /* DATA/peers.state */
    int state_rc; /* 0, KN_ENOTFOUND (never ran), or an error */
    kn_peer_state ps;
    bool alive;
    size_t connected;
    const kn_peer_status *last_sync; /* the peer of the newest reconciliation, or NULL */
} status_info;

static int load_network(kn_store *s, status_info *si)
{
    uint8_t id[KN_ID];
    uint8_t *raw = NULL;
    size_t len;
    kn_object o;
    int rc = kn_store_network_get(s, id, &si->admit_k);
    if (rc == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    si->net_found = true;
    kn_hex_encode(si->net_id, id, KN_ID);
    if ((rc = kn_store_get(s, id, &raw, &len)) < 0)
        return rc;
    const char *name;
    uint32_t n;
    if (kn_object_decode(&o, raw, len) == 0 && kn_object_str(&o, "name", &name, &n) == 0) {
        if (n >= sizeof si->net_name)
            n = sizeof si->net_name - 1;
        memcpy(si->net_name, name, n);
        si->net_name[n] = 0;
    }
    free(raw);
    return 0;
}

static int load_roster(kn_store *s, const uint8_t self[32], uint64_t now, status_info *si)
{
    kn_roster_member *all = NULL;
    size_t n = 0;
    int rc = kn_store_member_get(s, self, &si->self);
    if (rc == 0)
        si->in_roster = true;
    else if (rc != KN_ENOTFOUND)
        return rc;
    if ((rc = kn_store_members_list(s, &all, &n)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (kn_roster_member_at(&all[i], now))
            si->members++;
    free(all);
    return 0;
}

static int gather(kn_cli *cli, status_info *si)
{
    kn_datadir dd;
    int code = cli_open(cli, &dd);
    if (code != CLI_OK)
        return code;
    uint64_t now = kn_env_now(cli->env);
    kn_hex_encode(si->identity, dd.identity_pk, 32);
    si->has_key = dd.has_network_key;
    int rc = kn_store_stats_get(dd.store, &si->st);
    if (rc == 0)
        rc = kn_blob_stats_get(dd.store, &si->blobs);
    if (rc == 0)
        rc = load_network(dd.store, si);
    if (rc == 0)
        rc = load_roster(dd.store, dd.identity_pk, now, si);
    kn_datadir_close(&dd);
    if (rc < 0)
        return cli_fail("cannot read the store: %s", kn_strerror(rc));
    char path[KN_PATH_MAX + 32];
    struct stat fs;
    snprintf(path, sizeof path, "%s/store/data.mdb", cli->data_dir);
    if (stat(path, &fs) == 0)
        si->file_bytes = (uint64_t)fs.st_size;
    si->state_rc = kn_peer_state_read(cli->data_dir, &si->ps);
    if (si->state_rc == 0) {
        si->alive = cli_node_alive(&si->ps);
        for (size_t i = 0; i < si->ps.n; i++) {
            const kn_peer_status *p = &si->ps.v[i];
            if (si->alive && p->phase == KN_PHASE_CONNECTED)
                si->connected++;
            if (p->sync.recon_ms
                && (!si->last_sync || p->sync.recon_ms > si->last_sync->sync.recon_ms))
                si->last_sync = p;
        }
    }
    return CLI_OK;
}

/* "founder", "member", "pending" (admits short of the rule), "revoked" or "guest". */
static const char *membership(const status_info *si, uint64_t now)
{
    if (!si->in_roster)
        return si->net_found ? "guest" : "unknown";
    const kn_roster_member *m = &si->self;
    if (m->revoked_at != KN_ROSTER_NEVER && m->revoked_at <= now)
        return "revoked";
    if (m->founder)
        return "founder";
    if (kn_roster_member_at(m, now))
        return "member";
    return "pending";
}

static const char *direction(const kn_peer_status *p)
{
    return p->inbound ? "in" : p->announced ? "announced" : "out";
}

static json_t *peer_json(const kn_peer_status *p, bool alive)
{
    char id[65];
    if (p->has_identity)
        kn_hex_encode(id, p->identity, 32);
    return json_pack("{s:s, s:s?, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s?, s:I, s:I}", "addr",
        p->addr, "identity", p->has_identity ? id : NULL, "direction", direction(p), "state",
        alive ? kn_peer_phase_name(p->phase) : "stopped", "since_ms", (json_int_t)p->since_ms,
        "last_handshake_ms", (json_int_t)p->handshake_ms, "retry_ms", (json_int_t)p->retry_ms,
        "bytes_in", (json_int_t)p->bytes_in, "bytes_out", (json_int_t)p->bytes_out, "last_error",
        p->last_error[0] ? p->last_error : NULL, "last_error_ms", (json_int_t)p->error_ms,
        "last_sync_ms", (json_int_t)p->sync.recon_ms);
}

static int print_json(kn_cli *cli, const status_info *si, uint64_t now)
{
    const kn_store_stats *st = &si->st;
    json_t *peers = json_array();
    for (size_t i = 0; peers && si->state_rc == 0 && i < si->ps.n; i++)
        if (json_array_append_new(peers, peer_json(&si->ps.v[i], si->alive)) < 0) {
            json_decref(peers);
            peers = NULL;
        }
    json_t *last = si->last_sync ? json_pack("{s:s, s:I, s:I, s:I, s:I}", "peer",
                       si->last_sync->addr, "ms", (json_int_t)si->last_sync->sync.recon_ms,
                       "duration_ms", (json_int_t)si->last_sync->sync.recon_duration_ms,
                       "objects_in", (json_int_t)si->last_sync->sync.recon_in, "objects_out",
                       (json_int_t)si->last_sync->sync.recon_out)
                                 : json_null();
    json_t *j = json_pack("{s:s, s:s, s:{s:s?, s:s?, s:b, s:I, s:s, s:I}, "
                          "s:{s:b, s:I, s:I}, s:o, s:I, s:o, "
                          "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:i}, s:{s:I, s:I, s:I, s:I, s:I}}",
        "data", cli->data_dir, "identity", si->identity, "network", "name",
        si->net_found ? si->net_name : NULL, "id", si->net_found ? si->net_id : NULL, "has_key",
        si->has_key, "admit_k", (json_int_t)si->admit_k, "membership", membership(si, now),
        "members", (json_int_t)si->members, "node", "running", si->alive, "pid",
        (json_int_t)(si->state_rc == 0 ? si->ps.pid : 0), "updated_ms",
        (json_int_t)(si->state_rc == 0 ? si->ps.updated_ms : 0), "peers", peers, "peers_connected",
        (json_int_t)si->connected, "last_sync", last, "store", "objects", (json_int_t)st->objects,
        "pending", (json_int_t)st->pending, "tombstones", (json_int_t)st->tombstones, "file_bytes",
        (json_int_t)si->file_bytes, "map_size", (json_int_t)st->map_size, "map_used",
        (json_int_t)st->map_used, "schema_version", (int)st->schema_version, "blobs", "stored",
        (json_int_t)si->blobs.blobs, "complete", (json_int_t)si->blobs.complete, "chunks",
        (json_int_t)si->blobs.chunks, "bytes", (json_int_t)si->blobs.chunk_bytes, "wanted",
        (json_int_t)si->blobs.wanted);
    if (!j)
        return cli_fail("out of memory");
    int rc = json_dumpf(j, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(j);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}

static void print_peer(const kn_peer_status *p, bool alive, uint64_t now)
{
    char id[65] = "", state[96], ago[32];
    if (p->has_identity)
        kn_hex_encode(id, p->identity, 32);
    if (!alive) {
        snprintf(state, sizeof state, "node stopped");
    } else if (p->phase == KN_PHASE_CONNECTED) {
        cli_format_ago(ago, sizeof ago, p->since_ms, now);
        snprintf(state, sizeof state, "connected since %s", ago);
    } else if (p->phase == KN_PHASE_BACKOFF) {
        unsigned long long in = p->retry_ms > now ? (p->retry_ms - now + 999) / 1000 : 0;
        snprintf(state, sizeof state, "not connected, retry in %llu s", in);
    } else {
        snprintf(state, sizeof state, "%s", kn_peer_phase_name(p->phase));
    }
    printf("  %-28s %-9s %.16s%s  %s\n", p->addr, direction(p), p->has_identity ? id : "-",
        p->has_identity ? "\u2026" : "", state);
    if (p->last_error[0] && p->phase != KN_PHASE_CONNECTED) {
        cli_format_ago(ago, sizeof ago, p->error_ms, now);
        printf("  %-28s last error %s: %s\n", "", ago, p->last_error);
    }
}

static void print_text(kn_cli *cli, const status_info *si, uint64_t now)
{
    const kn_store_stats *st = &si->st;
    char ago[32], when[40], disk[24];
    printf("data directory  %s\n", cli->data_dir);
    printf("identity        %s\n", si->identity);
    if (si->net_found)
        printf("network         %s (%s)\n", si->net_name, si->net_id);
    else
        printf("network         none yet (run `knoten init --found NAME`, or join one)\n");
    if (!si->has_key)
        printf("network key     missing: `knoten join` or `knoten init --network-key-file`\n");
    const char *m = membership(si, now);
    if (strcmp(m, "member") == 0) {
        cli_format_time(when, sizeof when, si->self.member_since);
        printf("membership      member since %s (%zu member%s)\n", when, si->members,
            si->members == 1 ? "" : "s");
    } else if (strcmp(m, "founder") == 0) {
        printf(
            "membership      founder (%zu member%s)\n", si->members, si->members == 1 ? "" : "s");
    } else if (strcmp(m, "pending") == 0) {
        printf("membership      pending: %u of the %llu admissions it needs\n", si->self.nadmits,
            (unsigned long long)si->admit_k);
    } else if (strcmp(m, "revoked") == 0) {
        cli_format_time(when, sizeof when, si->self.revoked_at);
        printf("membership      revoked at %s\n", when);
    } else {
        printf("membership      not admitted: a member runs `knoten admit %s`, or redeem an "
               "invite with `knoten join`\n",
            si->identity);
    }
    if (si->state_rc == KN_ENOTFOUND) {
        printf("node            never run here; start it with `knoten run`\n");
    } else if (si->state_rc < 0) {
        printf("node            %s/%s unreadable (%s)\n", cli->data_dir, KN_PEER_STATE_FILE,
            kn_strerror(si->state_rc));
    } else {
        cli_format_ago(ago, sizeof ago, si->ps.updated_ms, now);
        if (si->alive)
            printf("node            running (pid %ld), state written %s\n", si->ps.pid, ago);
        else
            printf("node            not running (last state %s)\n", ago);
        printf("peers           %zu connected, %zu known\n", si->connected, si->ps.n);
        for (size_t i = 0; i < si->ps.n; i++)
            print_peer(&si->ps.v[i], si->alive, now);
    }
    if (si->last_sync) {
        const kn_peer_sync *y = &si->last_sync->sync;
        cli_format_ago(ago, sizeof ago, y->recon_ms, now);
        printf("last sync       %s with %s: %llu objects in, %llu out\n", ago, si->last_sync->addr,
            (unsigned long long)y->recon_in, (unsigned long long)y->recon_out);
    } else {
        printf("last sync       none yet\n");
    }
    printf("objects         %llu stored, %llu pending, %llu retracted\n",
        (unsigned long long)st->objects, (unsigned long long)st->pending,
        (unsigned long long)st->tombstones);
    cli_format_bytes(disk, sizeof disk, si->blobs.chunk_bytes);
    printf("files           %llu stored, %llu complete (%s), %llu still to fetch\n",
        (unsigned long long)si->blobs.blobs, (unsigned long long)si->blobs.complete, disk,
        (unsigned long long)si->blobs.wanted);
    cli_format_bytes(disk, sizeof disk, si->file_bytes);
    printf("store           schema %u, %s on disk\n", st->schema_version, disk);
    printf("store map       %.1f of %.1f MiB used (grows by itself)\n",
        (double)st->map_used / 1048576.0, (double)st->map_size / 1048576.0);
}

int cmd_status(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "json", no_argument, 0, 'j' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    bool as_json = false;
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "status", &code)) >= 0) {
        if (opt == 'j')
            as_json = true;
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    status_info si;
    memset(&si, 0, sizeof si);
    if ((code = gather(cli, &si)) != CLI_OK)
        return code;
    uint64_t now = kn_env_now(cli->env);
    if (as_json) {
        code = print_json(cli, &si, now);
    } else {
        print_text(cli, &si, now);
        code = CLI_OK;
    }
    kn_peer_state_free(&si.ps);
    return code;
}
