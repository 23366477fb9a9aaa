/*
 * `knoten join CODE --name NAME [--ags CODE]`: a fresh node joins a network
 * with an invite code (docs/federation.md, "Joining over the network").
 *
 * Order matters for the error messages: the code is decoded first, with the
 * current time, so a typo or an expiry is reported before anything is
 * created or any connection is made. Then the data directory is created
 * with the network key from the code (nothing is founded), the inviter's
 * addresses become the configured peers pinned to the inviter's identity,
 * and the node runs in join mode (node/join.h) until it is admitted and the
 * first reconciliation with the inviter is over. The node logs its progress
 * to standard error; this command prints the outcome and what to do next.
 *
 * A directory this command created but whose join did not finish (the
 * inviter was unreachable, the code was refused) is marked in the setting
 * "join.state" = "started", so the same command, or one with a new code,
 * may run again on it; any other existing node is refused with advice.
 * The network key and the secret are never printed and are wiped after use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "crypto.h"
#include "hex.h"
#include "invite.h"
#include "join.h"
#include "peer_config.h"

#define JOIN_STATE_SETTING "join.state"

static bool ags_valid(const char *s)
{
    size_t n = strlen(s);
    if (n != 8 && n != 12)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* The code from the arguments (several if it was pasted with spaces) or "-" for stdin. */
static int read_code(int argc, char **argv, char **text, size_t *len)
{
    if (argc == 1 && strcmp(argv[0], "-") == 0) {
        int code = cli_read_text("-", "the invite code", KN_INVITE_INPUT_MAX, text);
        if (code == CLI_OK)
            *len = strlen(*text);
        return code;
    }
    size_t total = 1;
    for (int i = 0; i < argc; i++)
        total += strlen(argv[i]) + 1;
    if (total > KN_INVITE_INPUT_MAX + 1)
        total = KN_INVITE_INPUT_MAX + 1; /* the decoder says "too long" */
    if (!(*text = calloc(1, total)))
        return cli_fail("out of memory");
    size_t at = 0;
    for (int i = 0; i < argc && at + 1 < total; i++) {
        int w = snprintf(*text + at, total - at, "%s ", argv[i]);
        at = w < 0 ? at : at + (size_t)w >= total ? total - 1 : at + (size_t)w;
    }
    *len = strlen(*text);
    return CLI_OK;
}

/* The decode errors, in the words an administrator with the e-mail in front of them needs. */
static int decode_failed(int rc, const kn_invite *inv, const kn_invite_problem *p)
{
    char until[40];
    switch (rc) {
    case KN_EEXPIRED:
        cli_format_time(until, sizeof until, inv->expires_ms);
        return cli_fail(
            "the invite code expired on %s; ask the inviting council for a new one.", until);
    case KN_ECORRUPT:
        if (p->bad_char)
            return cli_fail("the code is mistyped at character %zu ('%c' cannot be part of a "
                            "code): check it against the e-mail.",
                p->pos + 1, p->bad_char);
        return cli_fail("the code is mistyped or incomplete (its checksum does not match): check "
                        "it against the e-mail, or paste it again in one piece.");
    default:
        return cli_fail("%s", kn_invite_strerror(rc));
    }
}

/*
 * Creates the data directory with the code's network key, or reuses one a
 * failed join left behind. Leaves dd open on CLI_OK.
 */
static int prepare_datadir(kn_cli *cli, const kn_invite *inv, kn_datadir *dd)
{
    int rc, code;
    if (!kn_datadir_exists(cli->data_dir)) {
        if ((code = cli_datadir_fresh(cli)) != CLI_OK)
            return code;
        if ((rc = kn_datadir_create(cli->data_dir, cli->env, inv->network_key)) < 0)
            return cli_fail("cannot create %s: %s", cli->data_dir, kn_strerror(rc));
        if ((code = cli_open(cli, dd)) != CLI_OK)
            return code;
        if ((rc = kn_store_setting_put(
                 dd->store, JOIN_STATE_SETTING, (const uint8_t *)"started", 7))
            < 0) {
            kn_datadir_close(dd);
            return cli_fail("cannot write to %s: %s", cli->data_dir, kn_strerror(rc));
        }
        return CLI_OK;
    }
    if ((code = cli_open(cli, dd)) != CLI_OK)
        return code;
    uint8_t *state = NULL;
    size_t len = 0;
    rc = kn_store_setting_get(dd->store, JOIN_STATE_SETTING, &state, &len);
    bool unfinished = rc == 0 && len == 7 && memcmp(state, "started", 7) == 0;
    free(state);
    kn_store_stats st = { 0 };
    if (!unfinished) {
        kn_datadir_close(dd);
        return cli_fail("%s already holds a knoten node, so it cannot join with a code.\n"
                        "`knoten run --data %s` starts that node. To join a network with this "
                        "code, use a new directory: `knoten join CODE --name NAME --data NEWDIR`.",
            cli->data_dir, cli->data_dir);
    }
    /* An unfinished join: the same network goes on; another one only if nothing came yet. */
    if (dd->has_network_key && kn_memcmp_ct(dd->network_key, inv->network_key, 32) != 0) {
        if (kn_store_stats_get(dd->store, &st) < 0 || st.objects + st.pending > 0) {
            kn_datadir_close(dd);
            return cli_fail("%s holds an unfinished join to another network. Use a new directory "
                            "(--data NEWDIR), or move this one away first.",
                cli->data_dir);
        }
        if ((rc = kn_datadir_set_network_key(dd, inv->network_key)) < 0) {
            kn_datadir_close(dd);
            return cli_fail("cannot write the network key: %s", kn_strerror(rc));
        }
        /* The other network's inviter was pinned as a peer: it is no peer of this one. */
        kn_peer_list none = { 0 };
        if ((rc = kn_peer_list_save(dd->store, &none)) < 0) {
            kn_datadir_close(dd);
            return cli_fail("cannot clear the configured peers: %s", kn_strerror(rc));
        }
    }
    fprintf(stderr, "knoten: continuing the unfinished join in %s\n", cli->data_dir);
    return CLI_OK;
}

/* The inviter's addresses become the configured peers, each pinned to the inviter's key. */
static int pin_inviter(kn_datadir *dd, const kn_invite *inv)
{
    kn_peer_list l;
    int rc = kn_peer_list_load(dd->store, &l);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < inv->naddrs && rc >= 0; i++)
        rc = kn_peer_list_add(&l, inv->addrs[i], inv->inviter);
    if (rc >= 0)
        rc = kn_peer_list_save(dd->store, &l);
    kn_peer_list_free(&l);
    return rc;
}

static int report(kn_cli *cli, kn_datadir *dd, const kn_invite *inv, const kn_node_join *j)
{
    char inviter[65], size[32];
    kn_hex_encode(inviter, inv->inviter, 32);
    switch (j->outcome) {
    case KN_JOIN_DONE: {
        if (j->bytes >= 10ull << 20)
            snprintf(size, sizeof size, "%.1f MiB", (double)j->bytes / (1 << 20));
        else
            snprintf(size, sizeof size, "%llu KiB", (unsigned long long)((j->bytes + 1023) / 1024));
        int rc = kn_store_setting_put(dd->store, JOIN_STATE_SETTING, (const uint8_t *)"done", 4);
        if (rc < 0)
            fprintf(stderr, "knoten: note: cannot record the finished join: %s\n", kn_strerror(rc));
        char me[65];
        kn_hex_encode(me, dd->identity_pk, 32);
        printf("Joined: this node is a member of the network, admitted by %.16s\u2026\n", inviter);
        printf("node identity: %s\n", me);
        printf("Initial sync: %llu objects, %s in %.1f s.\n\n", (unsigned long long)j->objects,
            size, (double)j->sync_ms / 1000.0);
        printf("Next: start the node and keep it running (as a service), e.g.\n"
               "  knoten run --data %s --listen 0.0.0.0:8471 --announce HOST:8471\n"
               "where HOST is the name or address other councils reach this machine at\n"
               "(leave --announce out behind a firewall that admits no inbound connections).\n"
               "It stays connected to the federation and syncs from then on.\n"
               "`knoten members` lists the councils, `knoten ls` what they shared.\n",
            cli->data_dir);
        return CLI_OK;
    }
    case KN_JOIN_PENDING: {
        char me[65];
        kn_hex_encode(me, dd->identity_pk, 32);
        return cli_fail("the inviting node signed this node's admission, but the network needs "
                        "more signatures:\n  %s\nSend this node's identity to other member "
                        "councils:\n  %s\nOnce admitted, `knoten run --data %s` syncs.",
            j->reason, me, cli->data_dir);
    }
    case KN_JOIN_REFUSED:
        if (strncmp(j->reason, "invite already used", 19) == 0)
            return cli_fail("the inviting node refused the code: it was already used. A code "
                            "works once; ask the inviting council for a new one.");
        if (strncmp(j->reason, "invite expired", 14) == 0)
            return cli_fail("the inviting node refused the code: it has expired. Ask the "
                            "inviting council for a new one.");
        if (strncmp(j->reason, "invite unknown", 14) == 0)
            return cli_fail("the inviting node does not know this code (invite unknown): it was "
                            "not made there, or it is forged. Ask the inviting council for a new "
                            "one.");
        if (strncmp(j->reason, "invite withdrawn", 16) == 0)
            return cli_fail("the inviting council withdrew this invite; ask them for a new one.");
        if (strcmp(j->reason, "revoked") == 0)
            return cli_fail("the inviting node refused this node: its key was revoked.");
        return cli_fail("the inviting node refused the join: %s", j->reason);
    case KN_JOIN_NO_ADMIT:
        return cli_fail("no admission from the inviting node within %llu s%s%s%s.\n"
                        "Is its node running and reachable at %s%s? Try the same command "
                        "again; the code is used up only once an admission is sent.",
            (unsigned long long)(j->admit_timeout_ms / 1000), j->reason[0] ? " (last error: " : "",
            j->reason[0] ? j->reason : "", j->reason[0] ? ")" : "", inv->addrs[0],
            inv->naddrs > 1 ? " (or the others)" : "");
    case KN_JOIN_LOST:
        return cli_fail("this node was admitted, but the connection to the inviting node was "
                        "lost during the initial sync.\n`knoten run --data %s` continues it.",
            cli->data_dir);
    case KN_JOIN_STOPPED:
    default:
        return cli_fail("stopped before the join finished%s. Run the same command again to go on.",
            j->admitted ? " (this node was admitted already)" : "");
    }
}

int cmd_join(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "name", required_argument, 0, 'n' }, { "ags", required_argument, 0, 'a' },
              { "timeout", required_argument, 0, 't' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *name = NULL, *ags = NULL;
    unsigned long timeout_s = KN_JOIN_ADMIT_TIMEOUT_MS / 1000;
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "join", &code)) >= 0) {
        if (opt == 'n')
            name = optarg;
        else if (opt == 'a')
            ags = optarg;
        else if (opt == 't') {
            char *end;
            timeout_s = strtoul(optarg, &end, 10);
            if (*end || timeout_s == 0 || timeout_s > 3600)
                return cli_usage_error(cli, "--timeout is a number of seconds, 1 to 3600");
        }
    }
    if (opt == CLI_STOP)
        return code;
    if (optind >= argc)
        return cli_usage_error(cli,
            "give the invite code from the e-mail (or - to read it from "
            "standard input)");
    if (name && *name && !kn_utf8_valid(name, strlen(name)))
        return cli_usage_error(cli,
            "--name is not valid UTF-8 (typed or saved as Latin-1? "
            "`iconv -f latin1 -t utf-8` converts it)");
    if (!name || !*name || strlen(name) > 200)
        return cli_usage_error(cli,
            "--name is required: the council's name, e.g. \"Gemeinde Musterstadt\" (at most 200 "
            "bytes)");
    if (ags && *ags && !ags_valid(ags))
        return cli_usage_error(cli,
            "--ags must be the 8-digit Amtlicher Gemeindeschluessel or the 12-digit "
            "Regionalschluessel");
    if (ags && !*ags)
        ags = NULL;

    char *text = NULL;
    size_t len = 0;
    if ((code = read_code(argc - optind, argv + optind, &text, &len)) != CLI_OK)
        return code;
    kn_invite inv;
    kn_invite_problem p;
    int rc = kn_invite_decode(&inv, text, len, kn_env_now(cli->env), &p);
    kn_memzero(text, len);
    free(text);
    if (rc < 0) {
        code = decode_failed(rc, &inv, &p);
        kn_invite_wipe(&inv);
        return code;
    }

    kn_datadir dd;
    if ((code = prepare_datadir(cli, &inv, &dd)) != CLI_OK) {
        kn_invite_wipe(&inv);
        return code;
    }
    if ((rc = pin_inviter(&dd, &inv)) < 0) {
        code = cli_fail("cannot configure the inviting node as a peer: %s", kn_strerror(rc));
        goto out;
    }
    char inviter[65], me[65];
    kn_hex_encode(inviter, inv.inviter, 32);
    kn_hex_encode(me, dd.identity_pk, 32);
    fprintf(stderr,
        "knoten: node %.16s\u2026 joins as \"%s\"; connecting to the inviting node %.16s\u2026 at "
        "%s%s\n",
        me, name, inviter, inv.addrs[0], inv.naddrs > 1 ? " (and its other addresses)" : "");
    kn_node_join j = { .secret = inv.secret,
        .secret_len = inv.secret_len,
        .name = name,
        .ags = ags,
        .admit_timeout_ms = (uint64_t)timeout_s * 1000 };
    memcpy(j.inviter, inv.inviter, 32);
    rc = kn_node_join_run(&dd, cli->env, &j);
    if (rc < 0) {
        code = cli_fail("the node could not start: %s", kn_strerror(rc));
        goto out;
    }
    code = report(cli, &dd, &inv, &j);
out:
    kn_invite_wipe(&inv);
    kn_datadir_close(&dd);
    return code;
}
