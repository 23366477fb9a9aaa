/*
 * Federation commands: invite (and invite ls, revoke, check), admit, revoke,
 * members, and user add/ls/revoke. They write roster objects signed by the
 * node identity and read the roster back from the store (store/roster.c), so
 * what they print is what ingest enforces. docs/federation.md explains the
 * model; `knoten join` (redeeming a code over the network) is cmd_join.c.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "cli.h"
#include "codec.h"
#include "crypto.h"
#include "hex.h"
#include "invite.h"
#include "invites.h"
#include "peer_config.h"
#include "peer_state.h"
#include "users.h"

/* ---- helpers ---- */

static void short_hex(char out[17], const uint8_t key[32])
{
    char hex[65];
    kn_hex_encode(hex, key, 32);
    memcpy(out, hex, 16);
    out[16] = 0;
}

static void fmt_time(char *buf, size_t cap, uint64_t ms)
{
    if (ms == KN_ROSTER_NEVER || ms == 0)
        snprintf(buf, cap, "-");
    else
        cli_format_time(buf, cap, ms);
}

/* Parses the leading options loop shared by every command here. */
#define FED_GETOPT_LOOP(cmdname, body)                                                             \
    do {                                                                                           \
        int opt_, code_ = -1;                                                                      \
        optind = 1;                                                                                \
        while ((opt_ = getopt_long(argc, argv, "h", opts, NULL)) != -1) {                          \
            if (cli_common_option(cli, opt_, optarg, cmdname, &code_)) {                           \
                if (code_ >= 0)                                                                    \
                    return code_;                                                                  \
                continue;                                                                          \
            }                                                                                      \
            int opt = opt_;                                                                        \
            body                                                                                   \
        }                                                                                          \
    } while (0)

/* The network object's id and rule, with an actionable message when it is missing. */
static int need_network(kn_datadir *dd, uint8_t id[KN_ID], uint64_t *k)
{
    int rc = kn_store_network_get(dd->store, id, k);
    if (rc == KN_ENOTFOUND)
        return cli_fail("this node does not know its network yet (no `network` object in the "
                        "store).\nA node created with --network-key-file receives it from its "
                        "peers: start `knoten run` and wait for the first sync.");
    if (rc < 0)
        return cli_fail("cannot read the roster: %s", kn_strerror(rc));
    return CLI_OK;
}

/* Fails unless this node may sign roster objects now. */
static int need_member(kn_cli *cli, kn_datadir *dd, const char *what)
{
    kn_roster_member m;
    int rc = kn_store_member_get(dd->store, dd->identity_pk, &m);
    if (rc < 0 && rc != KN_ENOTFOUND)
        return cli_fail("cannot read the roster: %s", kn_strerror(rc));
    if (rc == KN_ENOTFOUND || !kn_roster_member_at(&m, kn_env_now(cli->env)))
        return cli_fail("this node is not a member of the network%s, so it cannot %s.\n"
                        "`knoten members` shows who is; a member can admit this node.",
            rc == 0 && m.revoked_at != KN_ROSTER_NEVER ? " (it was revoked)" : "", what);
    return CLI_OK;
}

/* Splits "a, b,c" into at most max items (pointers into the modified string s). */
static int split_list(char *s, char **items, int max)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ')
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && e[-1] == ' ')
            *--e = 0;
        if (!*tok)
            continue;
        if (n == max)
            return -1;
        items[n++] = tok;
    }
    return n;
}

/* ---- invite ---- */

static int invite_create(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "expires", required_argument, 0, 'e' }, { "note", required_argument, 0, 'n' },
              { "address", required_argument, 0, 'a' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *expires = "7d", *note = NULL;
    const char *addrs[KN_INVITE_ADDRS_MAX];
    size_t naddrs = 0;
    bool too_many = false;
    FED_GETOPT_LOOP("invite", {
        if (opt == 'e')
            expires = optarg;
        else if (opt == 'n')
            note = optarg;
        else if (opt == 'a') {
            if (naddrs == KN_INVITE_ADDRS_MAX)
                too_many = true;
            else
                addrs[naddrs++] = optarg;
        }
    });
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (too_many)
        return cli_usage_error(cli, "at most %d --address options", KN_INVITE_ADDRS_MAX);
    uint64_t ttl;
    if (kn_invites_parse_ttl(expires, &ttl) < 0)
        return cli_usage_error(cli,
            "--expires must be a number and a unit, e.g. 30m, 12h, 7d or 2w, at most %d days",
            KN_INVITE_TTL_MAX_DAYS);
    if (note && (strlen(note) > KN_INVITE_NOTE_MAX || !kn_utf8_valid(note, strlen(note))))
        return cli_usage_error(cli, "--note must be at most %d bytes of UTF-8", KN_INVITE_NOTE_MAX);
    char host[KN_HOST_MAX + 1];
    uint16_t port;
    for (size_t i = 0; i < naddrs; i++)
        if (strlen(addrs[i]) > KN_INVITE_ADDR_MAX || kn_hostport_parse(addrs[i], host, &port) < 0)
            return cli_usage_error(cli,
                "--address \"%s\" is not HOST:PORT (e.g. knoten.musterstadt.de:8471, "
                "192.0.2.7:8471 or [2001:db8::7]:8471)",
                addrs[i]);

    kn_datadir dd;
    int code = cli_open(cli, &dd);
    if (code != CLI_OK)
        return code;
    kn_invite inv;
    char text[KN_INVITE_TEXT_MAX];
    char defaults[KN_INVITE_ADDRS_MAX][KN_INVITE_ADDR_MAX + 1];
    const char *use[KN_INVITE_ADDRS_MAX];
    size_t nuse = naddrs;
    uint8_t net[KN_ID];
    uint64_t k;
    int rc;

    memset(&inv, 0, sizeof inv);
    text[0] = 0;
    if (!dd.has_network_key) {
        code = cli_fail("this node has no network key (DATA/network.key), so there is nothing "
                        "to invite into.\nFound a network with `knoten init --found NAME`.");
        goto out;
    }
    if ((code = need_network(&dd, net, &k)) != CLI_OK
        || (code = need_member(cli, &dd, "invite other councils")) != CLI_OK)
        goto out;
    for (size_t i = 0; i < naddrs; i++)
        use[i] = addrs[i];
    if (naddrs == 0) {
        if ((rc = kn_invites_default_addrs(&dd, defaults, &nuse)) < 0) {
            code = cli_fail("cannot read the stored addresses: %s", kn_strerror(rc));
            goto out;
        }
        if (nuse == 0) {
            code = cli_fail(
                "say where the invited council's node can reach this one: add\n"
                "  --address HOST:PORT\n"
                "with this node's public name or address and the port `knoten run --listen` "
                "uses\n(e.g. --address knoten.musterstadt.de:8471). It is remembered for the "
                "next invite.");
            goto out;
        }
        for (size_t i = 0; i < nuse; i++)
            use[i] = defaults[i];
    }
    uint32_t id;
    rc = kn_invites_create(&dd, cli->env, use, nuse, ttl, note, &inv, &id);
    if (rc == KN_ELIMIT) {
        code = cli_fail("%d invites are open; withdraw some with `knoten invite revoke ID` "
                        "(`knoten invite ls` lists them).",
            KN_INVITES_MAX);
        goto out;
    }
    if (rc < 0) {
        code = cli_fail("cannot create the invite: %s", kn_strerror(rc));
        goto out;
    }
    if (naddrs && (rc = kn_invites_remember_addrs(dd.store, use, nuse)) < 0)
        fprintf(stderr, "knoten: note: could not remember the addresses: %s\n", kn_strerror(rc));
    if ((rc = kn_invite_encode(&inv, text, sizeof text, NULL)) < 0) {
        code = cli_fail("cannot write the invite code: %s", kn_strerror(rc));
        goto out;
    }
    char until[40];
    cli_format_time(until, sizeof until, inv.expires_ms);
    printf("Invite %u%s%s, valid once until %s.\n\n", id, note ? " for " : "", note ? note : "",
        until);
    printf("%s\n\n", text);
    printf("Send the code above to the person who runs the invited council's node, for example\n"
           "in a personal e-mail:\n\n"
           "  With this code your council's knoten node can join our network. Install knoten,\n"
           "  then run:\n\n"
           "    knoten join CODE --name \"Gemeinde ...\" [--ags AMTLICHER-GEMEINDESCHLUESSEL]\n\n"
           "  The code works once and until %s. It contains the key of our network:\n"
           "  do not forward it or post it anywhere. If it has expired, ask us for a new one.\n\n",
        until);
    printf("`knoten invite ls` shows whether it was used; `knoten invite revoke %u` withdraws "
           "it.\n",
        id);
    kn_peer_state ps;
    bool running = false;
    if (kn_peer_state_read(cli->data_dir, &ps) == 0) {
        running = cli_node_alive(&ps);
        kn_peer_state_free(&ps);
    }
    fprintf(stderr,
        "knoten: note: the code is redeemed by this node's `knoten run`: %s "
        "reachable at %s%s until the invited node has joined.\n",
        running ? "keep it running and" : "it is NOT running now; start it and keep it", use[0],
        nuse > 1 ? " (or the other addresses)" : "");
out:
    kn_invite_wipe(&inv);
    kn_memzero(text, sizeof text);
    kn_datadir_close(&dd);
    return code;
}

static int invite_ls(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "json", no_argument, 0, 'j' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    bool json = false;
    FED_GETOPT_LOOP("invite", {
        if (opt == 'j')
            json = true;
    });
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    kn_datadir dd;
    int code = cli_open(cli, &dd);
    if (code != CLI_OK)
        return code;
    kn_invite_list l;
    int rc = kn_invites_load(dd.store, &l);
    if (rc < 0) {
        kn_datadir_close(&dd);
        return cli_fail("cannot read the invites: %s", kn_strerror(rc));
    }
    uint64_t now = kn_env_now(cli->env);
    if (!json && l.n == 0)
        printf("No invites yet; `knoten invite --address HOST:PORT` makes one.\n");
    else if (!json)
        printf("%-4s %-9s %-23s %-23s %-16s %s\n", "ID", "STATE", "CREATED", "EXPIRES", "USED BY",
            "NOTE");
    for (size_t i = 0; i < l.n; i++) {
        const kn_invite_record *r = &l.v[i];
        char created[40], expires[40], closed[40], by[17] = "-", byhex[65] = "";
        cli_format_time(created, sizeof created, r->created_ms);
        cli_format_time(expires, sizeof expires, r->expires_ms);
        fmt_time(closed, sizeof closed, r->closed_ms);
        if (r->has_used_by) {
            short_hex(by, r->used_by);
            kn_hex_encode(byhex, r->used_by, 32);
        }
        if (json) {
            json_t *j = json_pack("{s:i, s:s, s:I, s:I, s:s, s:s?, s:I}", "id", (json_int_t)r->id,
                "state", kn_invite_record_state(r, now), "created", (json_int_t)r->created_ms,
                "expires", (json_int_t)r->expires_ms, "note", r->note, "used_by",
                r->has_used_by ? byhex : NULL, "closed", (json_int_t)r->closed_ms);
            if (j) {
                json_dumpf(j, stdout, JSON_COMPACT);
                putchar('\n');
                json_decref(j);
            }
        } else {
            printf("%-4u %-9s %-23s %-23s %-16s %s\n", r->id, kn_invite_record_state(r, now),
                created, expires, by, r->note);
        }
    }
    kn_invite_list_free(&l);
    kn_datadir_close(&dd);
    return CLI_OK;
}

static int invite_revoke(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    FED_GETOPT_LOOP("invite", { (void)opt; });
    if (optind + 1 != argc)
        return cli_usage_error(cli, "give exactly one invite ID (`knoten invite ls` shows them)");
    char *end;
    errno = 0;
    unsigned long id = strtoul(argv[optind], &end, 10);
    if (errno || *end || id == 0 || id > UINT32_MAX)
        return cli_usage_error(cli, "the invite ID is a number, as `knoten invite ls` shows it");
    kn_datadir dd;
    int code = cli_open(cli, &dd);
    if (code != CLI_OK)
        return code;
    int rc = kn_invites_withdraw(&dd, (uint32_t)id, kn_env_now(cli->env));
    if (rc == KN_ENOTFOUND)
        code = cli_fail("there is no invite %lu; `knoten invite ls` lists them", id);
    else if (rc == KN_ESTATE)
        code = cli_fail("invite %lu was already used or withdrawn; nothing to do.\n"
                        "To remove a council that joined with it, use `knoten revoke KEY`.",
            id);
    else if (rc < 0)
        code = cli_fail("cannot withdraw invite %lu: %s", id, kn_strerror(rc));
    else
        printf("Invite %lu withdrawn: its code no longer works.\n", id);
    kn_datadir_close(&dd);
    return code;
}

/*
 * Decodes a code as `knoten join` will, without connecting: so an
 * administrator (and the tests) can see a typo or an expiry first.
 * Never prints the network key or the secret.
 */
static int invite_check(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    FED_GETOPT_LOOP("invite", { (void)opt; });
    if (optind >= argc)
        return cli_usage_error(cli, "give the code (or - to read it from standard input)");
    char *text = NULL;
    size_t len = 0;
    int code = CLI_OK;
    if (optind + 1 == argc && strcmp(argv[optind], "-") == 0) {
        if ((code = cli_read_text("-", "the invite code", KN_INVITE_INPUT_MAX, &text)) != CLI_OK)
            return code;
        len = strlen(text);
    } else {
        /* A code pasted with spaces arrives as several arguments: join them. */
        for (int i = optind; i < argc; i++)
            len += strlen(argv[i]) + 1;
        if (!(text = malloc(len + 1)))
            return cli_fail("out of memory");
        text[0] = 0;
        for (int i = optind; i < argc; i++) {
            strcat(text, argv[i]);
            strcat(text, " ");
        }
        len = strlen(text);
    }
    kn_invite inv;
    kn_invite_problem p;
    uint64_t now = kn_env_now(cli->env);
    int rc = kn_invite_decode(&inv, text, len, now, &p);
    kn_memzero(text, len);
    free(text);
    char until[40];
    if (rc == KN_EEXPIRED) {
        cli_format_time(until, sizeof until, inv.expires_ms);
        code = cli_fail("the invite code expired on %s; ask the inviting council for a new one "
                        "(`knoten invite` on their node).",
            until);
        goto out;
    }
    if (rc < 0) {
        if (rc == KN_ECORRUPT && p.bad_char)
            code = cli_fail("the invite code is mistyped: '%c' (character %zu) cannot be part of "
                            "a code.\n%s",
                p.bad_char, p.pos + 1, kn_invite_strerror(rc));
        else
            code = cli_fail("%s", kn_invite_strerror(rc));
        goto out;
    }
    char inviter[65];
    kn_hex_encode(inviter, inv.inviter, 32);
    cli_format_time(until, sizeof until, inv.expires_ms);
    /* Whether it still works is the inviter's to say (below, on the node that made it). */
    printf("The invite code reads correctly (no typo); it expires on %s.\n", until);
    printf("inviting node: %s\n", inviter);
    for (uint32_t i = 0; i < inv.naddrs; i++)
        printf("address:       %s\n", inv.addrs[i]);

    /* If this node made it, say whether it is still open. */
    if (kn_datadir_exists(cli->data_dir)) {
        kn_datadir dd;
        if (kn_datadir_open(&dd, cli->data_dir, NULL) == 0) {
            kn_invite_record r;
            if (memcmp(dd.identity_pk, inv.inviter, 32) == 0
                && kn_invites_lookup(dd.store, inv.secret, inv.secret_len, &r) == 0) {
                const char *st = kn_invite_record_state(&r, now);
                printf("made here:     invite %u, %s\n", r.id, st);
                if (strcmp(st, "open") != 0)
                    code = cli_fail(
                        "invite %u was %s on this node: the code no longer works.", r.id, st);
            }
            kn_datadir_close(&dd);
        }
    }
out:
    kn_invite_wipe(&inv);
    return code;
}

int cmd_invite(kn_cli *cli, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "ls") == 0)
        return invite_ls(cli, argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "revoke") == 0)
        return invite_revoke(cli, argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "check") == 0)
        return invite_check(cli, argc - 1, argv + 1);
    return invite_create(cli, argc, argv);
}

/* ---- admit, revoke ---- */

static bool ags_ok(const char *s)
{
    size_t n = strlen(s);
    if (n != 8 && n != 12)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int cmd_admit(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "name", required_argument, 0, 'n' },
        { "ags", required_argument, 0, 'a' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *name = NULL, *ags = NULL;
    FED_GETOPT_LOOP("admit", {
        if (opt == 'n')
            name = optarg;
        else if (opt == 'a')
            ags = optarg;
    });
    if (optind + 1 != argc)
        return cli_usage_error(cli, "give exactly one KEY: the node identity of the council");
    uint8_t key[32];
    int code = cli_parse_id(cli, "KEY", argv[optind], key);
    if (code != CLI_OK)
        return code;
    if (!name || !*name || strlen(name) > 200)
        return cli_usage_error(cli,
            "--name is required: the council's name, e.g. \"Gemeinde "
            "Musterstadt\" (at most 200 bytes)");
    if (ags && !ags_ok(ags))
        return cli_usage_error(cli,
            "--ags must be the 8-digit Amtlicher Gemeindeschluessel or "
            "the 12-digit Regionalschluessel");
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    uint8_t net[KN_ID];
    uint64_t k, now = kn_env_now(cli->env);
    kn_roster_member m;
    if ((code = need_network(&dd, net, &k)) != CLI_OK
        || (code = need_member(cli, &dd, "admit councils")) != CLI_OK)
        goto out;
    int rc = kn_store_member_get(dd.store, key, &m);
    if (rc == 0 && m.revoked_at != KN_ROSTER_NEVER) {
        code = cli_fail("that node was revoked; a revocation is final. The council needs a new "
                        "node key (a fresh `knoten init`) and a new invite.");
        goto out;
    }
    if (rc == 0)
        for (uint32_t i = 0; i < m.nadmits; i++)
            if (memcmp(m.admitter[i], dd.identity_pk, 32) == 0)
                fprintf(stderr,
                    "knoten: note: this node signed an admit for it before; the "
                    "earlier signature counts.\n");
    cli_field f[] = {
        { .key = "node", .kind = F_BIN32, .bin = key },
        { .key = "name", .kind = F_STR, .s = name },
        { .key = "ags", .kind = F_STR, .s = ags },
    };
    kn_mp_out body;
    kn_mp_out_init(&body, KN_OBJECT_MAX);
    if ((rc = cli_body_encode(f, 3, &body)) < 0) {
        kn_mp_out_free(&body);
        code = cli_fail("cannot encode the admit: %s", kn_strerror(rc));
        goto out;
    }
    kn_object_draft d = { .type = KN_T_ADMIT, .space = "", .nrefs = 1, .created = now };
    memcpy(d.refs[0], net, KN_ID);
    d.body = body.buf;
    d.body_len = body.len;
    code = cli_publish(cli, &dd, &d);
    kn_mp_out_free(&body);
    if (code != CLI_OK)
        goto out;
    if (kn_store_member_get(dd.store, key, &m) == 0) {
        if (m.founder && m.nadmits == 0) { /* the founder's own admit: only its name counts */
            printf("%s is the founder; this names it: `knoten members`, the expert directory and "
                   "the web show the name on every node.\n",
                name);
        } else if (kn_roster_member_at(&m, now)) {
            printf("%s is a member (%u of %llu required signature%s%s).\n", name, m.nadmits,
                (unsigned long long)k, k == 1 ? "" : "s",
                m.nadmits < k ? "; the network had fewer members than that, and all signed" : "");
        } else {
            printf("%s has %u of %llu required signatures; %llu more member%s must run\n"
                   "  knoten admit %s --name \"%s\"\n",
                name, m.nadmits, (unsigned long long)k, (unsigned long long)(k - m.nadmits),
                k - m.nadmits == 1 ? "" : "s", argv[optind], name);
        }
    }
out:
    kn_datadir_close(&dd);
    return code;
}

int cmd_revoke(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "reason", required_argument, 0, 'r' },
        { "force", no_argument, 0, 'f' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *reason = NULL;
    bool force = false;
    FED_GETOPT_LOOP("revoke", {
        if (opt == 'r')
            reason = optarg;
        else if (opt == 'f')
            force = true;
    });
    if (optind + 1 != argc)
        return cli_usage_error(cli, "give exactly one KEY (a node or user key, 64 hex digits)");
    uint8_t key[32];
    int code = cli_parse_id(cli, "KEY", argv[optind], key);
    if (code != CLI_OK)
        return code;
    if (!reason || !*reason || strlen(reason) > 1000)
        return cli_usage_error(cli, "--reason is required (1 to 1000 bytes): every node shows it");
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    uint8_t net[KN_ID];
    uint64_t k;
    kn_roster_member m;
    kn_roster_user u;
    if ((code = need_network(&dd, net, &k)) != CLI_OK
        || (code = need_member(cli, &dd, "revoke anyone")) != CLI_OK)
        goto out;
    if (memcmp(key, dd.identity_pk, 32) == 0 && !force) {
        code = cli_fail("that is this node's own key: revoking it ends this council's membership "
                        "for good.\nIf that is what you want, add --force.");
        goto out;
    }
    bool has_m = kn_store_member_get(dd.store, key, &m) == 0;
    bool has_u = kn_store_user_get(dd.store, key, &u) == 0;
    bool known_node = has_m && kn_roster_is_node(&m);
    uint64_t now = kn_env_now(cli->env);
    uint64_t revoked_at = has_m && m.revoked_at <= now ? m.revoked_at
        : has_u && u.revoked_at <= now                 ? u.revoked_at
                                                       : KN_ROSTER_NEVER;
    if (revoked_at != KN_ROSTER_NEVER) { /* a second revoke would only add an object */
        char when[40];
        cli_format_time(when, sizeof when, revoked_at);
        code = cli_fail("that key is already revoked (since %s); a revocation is final, "
                        "nothing was published. `knoten members` shows it.",
            when);
        goto out;
    }
    if (!known_node && !has_u)
        fprintf(stderr,
            "knoten: note: this key is not known here yet; the revocation is "
            "published anyway and applies when the key appears.\n");
    cli_field f[] = {
        { .key = "key", .kind = F_BIN32, .bin = key },
        { .key = "reason", .kind = F_STR, .s = reason },
    };
    kn_mp_out body;
    kn_mp_out_init(&body, KN_OBJECT_MAX);
    int rc = cli_body_encode(f, 2, &body);
    if (rc < 0) {
        kn_mp_out_free(&body);
        code = cli_fail("cannot encode the revocation: %s", kn_strerror(rc));
        goto out;
    }
    kn_object_draft d
        = { .type = KN_T_REVOKE, .space = "", .nrefs = 1, .created = kn_env_now(cli->env) };
    memcpy(d.refs[0], net, KN_ID);
    d.body = body.buf;
    d.body_len = body.len;
    code = cli_publish(cli, &dd, &d);
    kn_mp_out_free(&body);
    if (code == CLI_OK)
        printf("Revoked: objects this key%s signs from now on are refused by every node that "
               "receives the revocation.\n",
            known_node ? " (and the users it certified)" : "");
    if (code == CLI_OK && has_u)
        cli_accounts_drop_user(&dd, key);
out:
    kn_datadir_close(&dd);
    return code;
}

/* ---- members ---- */

typedef struct member_name {
    uint8_t key[32];
    char name[201];
    char ags[13];
    uint64_t at;
} member_name;

typedef struct names_ctx {
    member_name *v;
    size_t n, cap;
    int err;
} names_ctx;

/* Remembers the newest name each admit gives a node (visited oldest first). */
static int collect_name(void *ctx, const kn_object *o)
{
    names_ctx *c = ctx;
    const uint8_t *key;
    const char *s;
    uint32_t len;
    if (o->type != KN_T_ADMIT || kn_object_bin(o, "node", &key, &len) < 0 || len != 32)
        return 0;
    size_t i;
    for (i = 0; i < c->n; i++)
        if (memcmp(c->v[i].key, key, 32) == 0)
            break;
    if (i == c->n) {
        if (c->n == c->cap) {
            size_t ncap = c->cap ? 2 * c->cap : 16;
            member_name *nv = realloc(c->v, ncap * sizeof *nv);
            if (!nv) {
                c->err = KN_ENOMEM;
                return 1;
            }
            c->v = nv;
            c->cap = ncap;
        }
        memset(&c->v[c->n], 0, sizeof c->v[0]);
        memcpy(c->v[c->n++].key, key, 32);
    }
    if (kn_object_str(o, "name", &s, &len) == 0 && len <= 200) {
        memcpy(c->v[i].name, s, len);
        c->v[i].name[len] = 0;
    }
    if (kn_object_str(o, "ags", &s, &len) == 0 && len <= 12) {
        memcpy(c->v[i].ags, s, len);
        c->v[i].ags[len] = 0;
    }
    return 0;
}

static const member_name *name_of(const names_ctx *c, const uint8_t key[32])
{
    for (size_t i = 0; i < c->n; i++)
        if (memcmp(c->v[i].key, key, 32) == 0)
            return &c->v[i];
    return NULL;
}

int cmd_members(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "json", no_argument, 0, 'j' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    bool json = false;
    FED_GETOPT_LOOP("members", {
        if (opt == 'j')
            json = true;
    });
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    kn_datadir dd;
    int code = cli_open(cli, &dd);
    if (code != CLI_OK)
        return code;
    uint8_t net[KN_ID];
    uint64_t k, now = kn_env_now(cli->env);
    kn_roster_member *v = NULL;
    size_t n = 0;
    names_ctx names = { 0 };
    int rc;
    if ((code = need_network(&dd, net, &k)) != CLI_OK)
        goto out;
    kn_store_query q = { .index = KN_BY_SPACE_TYPE, .space = "", .type = KN_T_ADMIT };
    if ((rc = kn_store_each(dd.store, &q, collect_name, &names)) < 0 || (rc = names.err) < 0
        || (rc = kn_store_members_list(dd.store, &v, &n)) < 0) {
        code = cli_fail("cannot read the roster: %s", kn_strerror(rc));
        goto out;
    }
    if (!json) {
        uint8_t *raw = NULL;
        size_t len;
        kn_object o;
        const char *s = "";
        uint32_t sl = 0;
        if (kn_store_get(dd.store, net, &raw, &len) == 0 && kn_object_decode(&o, raw, len) == 0
            && kn_object_str(&o, "name", &s, &sl) < 0)
            sl = 0;
        printf("network \"%.*s\": a council is admitted by %llu member signature%s\n\n", (int)sl, s,
            (unsigned long long)k, k == 1 ? "" : "s");
        free(raw);
        printf("%-16s %-10s %-23s %-11s %-23s %s\n", "KEY", "STATE", "MEMBER SINCE", "ADMITTED BY",
            "REVOKED", "NAME");
    }
    for (size_t i = 0; i < n; i++) {
        const kn_roster_member *m = &v[i];
        if (!kn_roster_is_node(m))
            continue; /* a revoked user key, or a key revoked before it was ever admitted */
        const member_name *nm = name_of(&names, m->key);
        const char *state;
        bool revoked = m->revoked_at != KN_ROSTER_NEVER && m->revoked_at <= now;
        if (revoked)
            state = "revoked";
        else if (m->member_since != KN_ROSTER_NEVER && m->member_since <= now)
            state = m->founder ? "founder" : "member";
        else if (m->member_since != KN_ROSTER_NEVER)
            state = "admitted"; /* from a time still ahead */
        else
            state = "pending";
        char since[40], rev[40], by[24], sh[17], hex[65];
        fmt_time(since, sizeof since, m->member_since);
        fmt_time(rev, sizeof rev, m->revoked_at);
        snprintf(by, sizeof by, "%u of %llu", m->nadmits, (unsigned long long)k);
        short_hex(sh, m->key);
        kn_hex_encode(hex, m->key, 32);
        const char *name = nm && nm->name[0] ? nm->name : m->founder ? "(founder)" : "";
        if (json) {
            json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:s?, s:o?, s:o?, s:i, s:I}", "key", hex,
                "name", name, "state", state, "founder", m->founder, "ags",
                nm && nm->ags[0] ? nm->ags : NULL, "member_since",
                m->member_since == KN_ROSTER_NEVER ? NULL
                                                   : json_integer((json_int_t)m->member_since),
                "revoked_at",
                m->revoked_at == KN_ROSTER_NEVER ? NULL : json_integer((json_int_t)m->revoked_at),
                "signatures", (int)m->nadmits, "required", (json_int_t)k);
            if (j) {
                json_dumpf(j, stdout, JSON_COMPACT);
                putchar('\n');
                json_decref(j);
            }
        } else {
            printf("%-16s %-10s %-23s %-11s %-23s %s%s%s%s\n", sh, state, since,
                m->founder && m->nadmits == 0 ? "founder" : by, rev, name,
                nm && nm->ags[0] ? " (" : "", nm && nm->ags[0] ? nm->ags : "",
                nm && nm->ags[0] ? ")" : "");
        }
    }
    if (!json)
        printf("\n`knoten admit KEY --name NAME` co-signs a pending council; `knoten revoke KEY "
               "--reason TEXT` ends a membership.\n");
out:
    free(v);
    free(names.v);
    kn_datadir_close(&dd);
    return code;
}

/* ---- user ---- */

static int user_add(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "name", required_argument, 0, 'n' },
        { "role", required_argument, 0, 'r' }, { "expertise", required_argument, 0, 'e' },
        { "lang", required_argument, 0, 'l' }, { "login", required_argument, 0, 'L' },
        { "admin", no_argument, 0, 'A' }, { "password-stdin", no_argument, 0, 's' },
        { "activate", no_argument, 0, 'a' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *name = NULL, *role = NULL, *login = NULL;
    char *expertise = NULL, *lang = NULL;
    bool admin = false, pw_stdin = false, activate = false;
    FED_GETOPT_LOOP("user", {
        if (opt == 'L')
            login = optarg;
        else if (opt == 'A')
            admin = true;
        else if (opt == 's')
            pw_stdin = true;
        else if (opt == 'a')
            activate = true;
        else if (opt == 'n')
            name = optarg;
        else if (opt == 'r')
            role = optarg;
        else if (opt == 'e')
            expertise = optarg;
        else if (opt == 'l')
            lang = optarg;
    });
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (!name || !*name || strlen(name) > KN_USER_NAME_MAX)
        return cli_usage_error(cli, "--name is required (at most %d bytes)", KN_USER_NAME_MAX);
    if (!role || !*role || strlen(role) > KN_USER_ROLE_MAX)
        return cli_usage_error(
            cli, "--role is required, e.g. \"Personalamt\" (at most %d bytes)", KN_USER_ROLE_MAX);
    if (login && cli_login_check(cli, login) != CLI_OK)
        return CLI_USAGE;
    if (!login && (admin || pw_stdin || activate))
        return cli_usage_error(cli, "--admin, --password-stdin and --activate need --login NAME");
    if (pw_stdin && activate)
        return cli_usage_error(cli, "give either --password-stdin or --activate");
    char *tags[KN_USER_TAGS_MAX], *langs[KN_USER_LANGS_MAX];
    int ntags = expertise ? split_list(expertise, tags, KN_USER_TAGS_MAX) : 0;
    int nlangs = lang ? split_list(lang, langs, KN_USER_LANGS_MAX) : 0;
    if (ntags < 0)
        return cli_usage_error(cli, "--expertise takes at most %d tags", KN_USER_TAGS_MAX);
    if (nlangs < 0)
        return cli_usage_error(cli, "--lang takes at most %d languages", KN_USER_LANGS_MAX);
    for (int i = 0; i < ntags; i++)
        if (strlen(tags[i]) > KN_USER_TAG_MAX)
            return cli_usage_error(cli, "an expertise tag is at most %d bytes", KN_USER_TAG_MAX);
    for (int i = 0; i < nlangs; i++)
        if (strlen(langs[i]) < 2 || strlen(langs[i]) > KN_USER_LANG_MAX)
            return cli_usage_error(cli,
                "--lang takes language tags of 2 to 8 letters, e.g. de,en (got \"%s\")", langs[i]);
    kn_datadir dd;
    int code = cli_open(cli, &dd);
    if (code != CLI_OK)
        return code;
    uint8_t net[KN_ID], pk[32], cert[KN_ID];
    uint64_t k;
    if ((code = need_network(&dd, net, &k)) != CLI_OK
        || (code = need_member(cli, &dd, "certify staff")) != CLI_OK)
        goto out;
    kn_user_info info = { name, role, (const char *const *)tags, (size_t)ntags,
        (const char *const *)langs, (size_t)nlangs };
    int rc = kn_users_create(&dd, cli->env, &info, pk, cert);
    if (rc == KN_ESCHEMA || rc == KN_EUTF8) {
        code = cli_fail("the user certificate does not fit the schema (%s); nothing was created",
            rc == KN_EUTF8 ? "--name, --role, --expertise or --lang is not valid UTF-8: typed or "
                             "saved as Latin-1? `iconv -f latin1 -t utf-8` converts it"
                           : "control characters or invalid UTF-8 in a field?");
        goto out;
    }
    if (rc < 0) {
        code = cli_fail("cannot create the user: %s", kn_strerror(rc));
        goto out;
    }
    char hex[65];
    kn_hex_encode(hex, pk, 32);
    printf("%s\n", hex);
    fprintf(stderr, "knoten: user \"%s\" (%s) created; the key is held in %s/users/ (0600).\n",
        name, role, dd.path);
    if (login)
        code = cli_account_create(cli, &dd, pk, login, admin, pw_stdin, activate);
    else
        fprintf(stderr,
            "knoten: no web login; `knoten user login %s --login LOGIN` gives the user one.\n",
            hex);
out:
    kn_datadir_close(&dd);
    return code;
}

static int user_ls(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "json", no_argument, 0, 'j' },
        { "all", no_argument, 0, 'a' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    bool json = false, all = false;
    FED_GETOPT_LOOP("user", {
        if (opt == 'j')
            json = true;
        else if (opt == 'a')
            all = true;
    });
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    kn_datadir dd;
    int code = cli_open(cli, &dd);
    if (code != CLI_OK)
        return code;
    kn_user_entry *v = NULL;
    size_t n = 0;
    uint64_t now = kn_env_now(cli->env);
    int rc = kn_users_list(&dd, all, &v, &n);
    if (rc < 0) {
        code = cli_fail("cannot read the users: %s", kn_strerror(rc));
        goto out;
    }
    if (!json && n == 0)
        printf("No users yet; `knoten user add --name NAME --role ROLE` creates one.\n");
    else if (!json)
        printf("%-16s %-8s %-24s %-16s %-20s %-6s %s\n", "KEY", "STATE", "NAME", "ROLE",
            "EXPERTISE", "LANG", "KEY HELD");
    for (size_t i = 0; i < n; i++) {
        const kn_user_entry *e = &v[i];
        bool revoked = e->r.revoked_at != KN_ROSTER_NEVER && e->r.revoked_at <= now;
        char sh[17], hex[65], node[65];
        short_hex(sh, e->r.key);
        kn_hex_encode(hex, e->r.key, 32);
        kn_hex_encode(node, e->r.node, 32);
        if (json) {
            json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:o?}", "key", hex,
                "node", node, "name", e->name, "role", e->role, "expertise", e->expertise, "lang",
                e->lang, "state", revoked ? "revoked" : "active", "key_held", e->key_held,
                "revoked_at",
                e->r.revoked_at == KN_ROSTER_NEVER ? NULL
                                                   : json_integer((json_int_t)e->r.revoked_at));
            if (j) {
                json_dumpf(j, stdout, JSON_COMPACT);
                putchar('\n');
                json_decref(j);
            }
        } else {
            printf("%-16s %-8s %-24s %-16s %-20s %-6s %s\n", sh, revoked ? "revoked" : "active",
                e->name, e->role, e->expertise[0] ? e->expertise : "-", e->lang[0] ? e->lang : "-",
                e->key_held ? "yes" : "no");
        }
    }
out:
    free(v);
    kn_datadir_close(&dd);
    return code;
}

static int user_revoke(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "reason", required_argument, 0, 'r' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *reason = "user certificate withdrawn by the administrator";
    FED_GETOPT_LOOP("user", {
        if (opt == 'r')
            reason = optarg;
    });
    if (optind + 1 != argc)
        return cli_usage_error(cli, "give exactly one user KEY or NAME");
    if (!*reason || strlen(reason) > 1000)
        return cli_usage_error(cli, "--reason must be 1 to 1000 bytes");
    kn_datadir dd;
    int code = cli_open(cli, &dd);
    if (code != CLI_OK)
        return code;
    uint8_t pk[32], id[KN_ID];
    int rc = kn_users_find(&dd, argv[optind], pk);
    if (rc == KN_ENOTFOUND) {
        code = cli_fail("no user \"%s\" on this node; `knoten user ls` lists them", argv[optind]);
        goto out;
    }
    if (rc == KN_EEXIST) {
        code = cli_fail(
            "several users are called \"%s\"; give the KEY from `knoten user ls`", argv[optind]);
        goto out;
    }
    if (rc < 0) {
        code = cli_fail("cannot read the users: %s", kn_strerror(rc));
        goto out;
    }
    if ((code = need_member(cli, &dd, "revoke users")) != CLI_OK)
        goto out;
    rc = kn_users_revoke(&dd, cli->env, pk, reason, id);
    if (rc == KN_ENOTFOUND) {
        code = cli_fail("%s is not a user certified by this node; `knoten user ls` lists them.\n"
                        "(`knoten revoke KEY --reason TEXT` revokes any key.)",
            argv[optind]);
        goto out;
    }
    if (rc < 0) {
        code = cli_fail("cannot revoke the user: %s", kn_strerror(rc));
        goto out;
    }
    char hex[65];
    kn_hex_encode(hex, id, KN_ID);
    printf("%s\n", hex);
    fprintf(stderr,
        "knoten: user revoked; objects the user signs from now on are refused, and "
        "the key file was deleted.\n");
    cli_accounts_drop_user(&dd, pk); /* a session would otherwise go on reading for 12 h */
out:
    kn_datadir_close(&dd);
    return code;
}

int cmd_user(kn_cli *cli, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "add") == 0)
        return user_add(cli, argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "ls") == 0)
        return user_ls(cli, argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "revoke") == 0)
        return user_revoke(cli, argc - 1, argv + 1);
    if (argc > 1
        && (strcmp(argv[1], "passwd") == 0 || strcmp(argv[1], "logins") == 0
            || strcmp(argv[1], "login") == 0))
        return cmd_user_web(cli, argc - 1, argv + 1);
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cli_help("user");
    return cli_usage_error(cli,
        "say what to do: `knoten user add`, `knoten user ls`, `knoten user revoke`, "
        "`knoten user login`, `knoten user passwd` or `knoten user logins`");
}
