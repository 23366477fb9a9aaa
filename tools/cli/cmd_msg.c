/*
 * The expert directory and direct messages: `knoten experts` searches the
 * staff of every council by expertise and language (from their certificates),
 * `knoten msg` writes, lists and reads messages encrypted end to end
 * (protocol/dm.h). The node holds its users' keys, so --as USER says whose
 * mailbox to open; other nodes carry the messages but cannot read them.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crypto.h"
#include "directory.h"
#include "dm.h"
#include "hex.h"
#include "mailbox.h"

/* ---- experts ---- */

/*
 * Case-insensitive for ASCII and the German umlauts (Ä Ö Ü, two bytes each
 * in UTF-8), so that "vergabe" finds "Vergaberecht" and "ÖPNV" finds "öpnv".
 */
static void fold(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        else if (c == 0x84 || c == 0x96 || c == 0x9c) /* after 0xc3: Ä Ö Ü -> ä ö ü */
            c = n > 0 && (unsigned char)out[n - 1] == 0xc3 ? (unsigned char)(c + 0x20) : c;
        out[n++] = (char)c;
    }
    out[n] = 0;
}

/* True if one of the comma-separated items of list contains want (folded). */
static bool list_has(const char *list, const char *want, bool exact)
{
    char l[sizeof((kn_user_entry *)0)->expertise], w[256];
    fold(list, l, sizeof l);
    fold(want, w, sizeof w);
    for (char *item = strtok(l, ","); item; item = strtok(NULL, ","))
        if (exact ? strcmp(item, w) == 0 : strstr(item, w) != NULL)
            return true;
    return false;
}

int cmd_experts(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "tag", required_argument, 0, 't' }, { "lang", required_argument, 0, 'l' },
              { "json", no_argument, 0, 'j' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *tag = NULL, *lang = NULL;
    bool json = false;
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "experts", &code)) >= 0) {
        if (opt == 't')
            tag = optarg;
        else if (opt == 'l')
            lang = optarg;
        else if (opt == 'j')
            json = true;
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if ((tag && strlen(tag) > 64) || (lang && strlen(lang) > 8))
        return cli_usage_error(cli, "a tag has at most 64 bytes, a language tag at most 8");
    kn_datadir dd;
    kn_directory dir;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    int rc = kn_directory_load(&dd, &dir);
    kn_datadir_close(&dd);
    if (rc < 0)
        return cli_fail("cannot read the users: %s", kn_strerror(rc));
    uint64_t now = kn_env_now(cli->env);
    size_t shown = 0;
    for (size_t i = 0; i < dir.nusers; i++) {
        const kn_user_entry *u = &dir.users[i];
        if (u->r.revoked_at != KN_ROSTER_NEVER && u->r.revoked_at <= now)
            continue;
        if (tag && !list_has(u->expertise, tag, false))
            continue;
        if (lang && !list_has(u->lang, lang, true))
            continue;
        char council[220], hex[65];
        kn_directory_label(&dir, u->r.node, council, sizeof council);
        kn_hex_encode(hex, u->r.key, 32);
        if (json) {
            json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "key", hex, "name", u->name,
                "role", u->role, "council", council, "expertise", u->expertise, "lang", u->lang);
            if (j) {
                json_dumpf(j, stdout, JSON_COMPACT);
                putchar('\n');
                json_decref(j);
            }
        } else {
            if (shown == 0)
                printf("%-16s %-24s %-16s %-24s %-24s %s\n", "KEY", "NAME", "ROLE", "COUNCIL",
                    "EXPERTISE", "LANG");
            printf("%-16.16s ", hex);
            cli_print_col(u->name, strlen(u->name), 24);
            cli_print_col(u->role, strlen(u->role), 16);
            cli_print_col(council, strlen(council), 24);
            cli_print_col(u->expertise[0] ? u->expertise : "-",
                u->expertise[0] ? strlen(u->expertise) : 1, 24);
            printf("%s\n", u->lang[0] ? u->lang : "-");
        }
        shown++;
    }
    kn_directory_free(&dir);
    if (!shown)
        fprintf(stderr, "knoten: nobody matches%s%s%s%s; `knoten experts` lists everyone.\n",
            tag ? " --tag " : "", tag ? tag : "", lang ? " --lang " : "", lang ? lang : "");
    else if (!json)
        printf("\n`knoten msg send --as YOU --to KEY TEXT` writes to one of them.\n");
    return CLI_OK;
}

/* ---- messages ---- */

static int msg_send(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "as", required_argument, 0, 'A' }, { "to", required_argument, 0, 't' },
              { "subject", required_argument, 0, 's' }, { "reply-to", required_argument, 0, 'r' },
              { "body-file", required_argument, 0, 'B' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *as = NULL, *to = NULL, *subject = NULL, *reply_to = NULL, *body_file = NULL;
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "msg", &code)) >= 0) {
        if (opt == 'A')
            as = optarg;
        else if (opt == 't')
            to = optarg;
        else if (opt == 's')
            subject = optarg;
        else if (opt == 'r')
            reply_to = optarg;
        else if (opt == 'B')
            body_file = optarg;
    }
    if (opt == CLI_STOP)
        return code;
    if (!to)
        return cli_usage_error(cli, "--to USER is required (a name or key from `knoten experts`)");
    if (body_file ? optind != argc : optind + 1 != argc)
        return cli_usage_error(cli, "give the TEXT of the message (or --body-file FILE)");
    if ((code = cli_need_as(cli, as, "messages")) != CLI_OK)
        return code;
    if (subject && (!*subject || strlen(subject) > KN_DM_SUBJECT_MAX))
        return cli_usage_error(cli, "--subject has 1 to %d bytes", KN_DM_SUBJECT_MAX);
    kn_object_draft d = { .type = KN_T_DM, .space = "" };
    if (reply_to) {
        if ((code = cli_parse_id(cli, "--reply-to", reply_to, d.refs[0])) != CLI_OK)
            return code;
        d.nrefs = 1;
    }
    char *text = NULL;
    if (body_file
        && (code = cli_read_text(body_file, "the message", KN_DM_BODY_MAX, &text)) != CLI_OK)
        return code;
    const char *body = text ? text : argv[optind];
    if (!*body || strlen(body) > KN_DM_BODY_MAX) {
        free(text);
        return cli_usage_error(cli, "a message has 1 to %d bytes", KN_DM_BODY_MAX);
    }
    kn_datadir dd;
    kn_directory dir = { 0 };
    cli_signer sg = { 0 };
    uint8_t *box = NULL, nonce[KN_BOX_NONCE];
    size_t box_len = 0;
    const kn_user_entry *rcpt;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        goto out_text;
    int rc = kn_directory_load(&dd, &dir);
    if (rc < 0) {
        code = cli_fail("cannot read the users: %s", kn_strerror(rc));
        goto out;
    }
    rc = kn_directory_find_user(&dir, to, &rcpt);
    if (rc == KN_ENOTFOUND) {
        code = cli_fail("no user \"%s\" in the network; `knoten experts` lists them", to);
        goto out;
    }
    if (rc == KN_EEXIST) {
        code = cli_fail("several users are called \"%s\"; give the KEY from `knoten experts`", to);
        goto out;
    }
    if (rcpt->r.revoked_at != KN_ROSTER_NEVER) {
        code = cli_fail("%s's certificate was revoked; the message could not be read", to);
        goto out;
    }
    if ((code = cli_signer_open(cli, &dd, as, &sg)) != CLI_OK)
        goto out;
    kn_dm_message m = { subject, subject ? strlen(subject) : 0, body, strlen(body) };
    kn_env_random(cli->env, nonce, sizeof nonce);
    if ((rc = kn_dm_seal(&m, nonce, sg.sk, rcpt->r.key, &box, &box_len)) < 0) {
        code = cli_fail("cannot encrypt the message: %s%s", kn_strerror(rc),
            rc == KN_ESCHEMA ? " (is it valid UTF-8?)" : "");
        goto out;
    }
    cli_field f[] = {
        { .key = "box", .kind = F_BIN, .bin = box, .len = box_len },
        { .key = "to", .kind = F_BIN32, .bin = rcpt->r.key },
    };
    code = cli_publish_fields(cli, &dd, &d, f, 2, &sg, false, NULL);
    if (code == CLI_OK) {
        char who[300];
        fprintf(stderr,
            "knoten: message to %s stored, encrypted for them; nodes carry it as "
            "ciphertext.\n",
            kn_directory_label(&dir, rcpt->r.key, who, sizeof who));
    }
out:
    free(box);
    cli_signer_close(&sg);
    kn_directory_free(&dir);
    kn_datadir_close(&dd);
out_text:
    if (text) {
        kn_memzero(text, strlen(text));
        free(text);
    }
    return code;
}

/* The first line of s, at most max bytes (not cutting a UTF-8 sequence), into buf. */
static void first_line(const char *s, size_t len, char *buf, size_t max)
{
    size_t n = 0;
    while (n < len && n < max && s[n] != '\n' && s[n] != '\r')
        n++;
    if (n == max)
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    memcpy(buf, s, n);
    buf[n] = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20)
            buf[i] = ' ';
}

static int msg_ls(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "as", required_argument, 0, 'A' },
        { "with", required_argument, 0, 'w' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *as = NULL, *with = NULL;
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "msg", &code)) >= 0) {
        if (opt == 'A')
            as = optarg;
        else if (opt == 'w')
            with = optarg;
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if ((code = cli_need_as(cli, as, "mailboxes")) != CLI_OK)
        return code;
    kn_datadir dd;
    kn_directory dir = { 0 };
    cli_signer sg = { 0 };
    kn_mailbox b = { 0 };
    const kn_user_entry *peer = NULL;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    if ((code = cli_signer_open(cli, &dd, as, &sg)) != CLI_OK)
        goto out;
    int rc = kn_directory_load(&dd, &dir);
    if (rc == 0)
        rc = kn_mailbox_load(dd.store, sg.pk, &b);
    if (rc < 0) {
        code = cli_fail("cannot read the messages: %s", kn_strerror(rc));
        goto out;
    }
    if (with && (rc = kn_directory_find_user(&dir, with, &peer)) < 0) {
        code = cli_fail("no single user \"%s\"; give a KEY from `knoten experts`", with);
        goto out;
    }
    char who[300], when[40], hex[65], line[81];
    if (!peer) {
        /* Conversations: one line per other party, the latest message first. */
        bool *done = calloc(b.n ? b.n : 1, 1);
        if (!done) {
            code = cli_fail("out of memory");
            goto out;
        }
        size_t shown = 0;
        for (size_t i = b.n; i-- > 0;) {
            if (done[i])
                continue;
            size_t count = 0, in = 0;
            for (size_t j = 0; j <= i; j++)
                if (memcmp(b.m[j].other, b.m[i].other, 32) == 0) {
                    done[j] = true;
                    count++;
                    in += !b.m[j].sent;
                }
            if (shown++ == 0)
                printf("%-40s %-8s %-23s %s\n", "WITH", "MESSAGES", "LATEST (UTC)", "KEY");
            cli_format_time(when, sizeof when, b.m[i].created);
            kn_hex_encode(hex, b.m[i].other, 32);
            kn_directory_label(&dir, b.m[i].other, who, sizeof who);
            cli_print_col(who, strlen(who), 40);
            printf("%3zu (%zu in) %-23s %.16s\n", count, in, when, hex);
        }
        free(done);
        if (!shown)
            fprintf(stderr, "knoten: no messages for %s yet.\n", as);
        else
            printf("\n`knoten msg ls --as \"%s\" --with KEY` shows one conversation.\n", as);
        goto out;
    }
    /* One conversation, oldest first, decrypted. */
    for (size_t i = 0; i < b.n; i++) {
        if (memcmp(b.m[i].other, peer->r.key, 32) != 0)
            continue;
        kn_object o;
        uint8_t *raw = NULL, *plain = NULL;
        size_t plen = 0;
        kn_dm_message m;
        cli_format_time(when, sizeof when, b.m[i].created);
        kn_hex_encode(hex, b.m[i].id, KN_ID);
        rc = kn_mailbox_open(dd.store, sg.pk, sg.sk, b.m[i].id, &o, &raw, &plain, &plen, &m);
        if (rc < 0)
            snprintf(line, sizeof line, "(cannot be read: %s)", kn_strerror(rc));
        else if (m.subject)
            first_line(m.subject, m.subject_len, line, 60);
        else
            first_line(m.body, m.body_len, line, 60);
        printf("%.16s  %s  %-4s %s\n", hex, when, b.m[i].sent ? "to" : "from", line);
        kn_dm_plain_free(plain, plen);
        free(raw);
    }
out:
    kn_mailbox_free(&b);
    cli_signer_close(&sg);
    kn_directory_free(&dir);
    kn_datadir_close(&dd);
    return code;
}

static int msg_read(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "as", required_argument, 0, 'A' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *as = NULL;
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "msg", &code)) >= 0)
        if (opt == 'A')
            as = optarg;
    if (opt == CLI_STOP)
        return code;
    if (optind + 1 != argc)
        return cli_usage_error(cli, "give exactly one message ID");
    if ((code = cli_need_as(cli, as, "mailboxes")) != CLI_OK)
        return code;
    uint8_t id[KN_ID], *raw = NULL, *plain = NULL;
    size_t plen = 0;
    if ((code = cli_parse_id(cli, "ID", argv[optind], id)) != CLI_OK)
        return code;
    kn_datadir dd;
    kn_directory dir = { 0 };
    cli_signer sg = { 0 };
    kn_object o;
    kn_dm_message m;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    if ((code = cli_signer_open(cli, &dd, as, &sg)) != CLI_OK)
        goto out;
    int rc = kn_mailbox_open(dd.store, sg.pk, sg.sk, id, &o, &raw, &plain, &plen, &m);
    if (rc == KN_ENOTFOUND || rc == KN_ERETRACTED) {
        code = cli_fail("no message %s on this node%s", argv[optind],
            rc == KN_ERETRACTED ? " (it was retracted)" : "; `knoten msg ls` lists them");
        goto out;
    }
    if (rc == KN_EINVAL || rc == KN_EPERM) {
        code = cli_fail("%s is not a message to or from %s", argv[optind], as);
        goto out;
    }
    if (rc < 0) {
        code = cli_fail(
            "the message cannot be read: %s (it does not open with %s's key)", kn_strerror(rc), as);
        goto out;
    }
    char who[300], when[40];
    const uint8_t *to;
    uint32_t tl;
    if ((rc = kn_directory_load(&dd, &dir)) < 0 || kn_object_bin(&o, "to", &to, &tl) < 0) {
        code = cli_fail("cannot read the users: %s", kn_strerror(rc));
        goto out;
    }
    cli_format_time(when, sizeof when, o.created);
    printf("from     %s\n", kn_directory_label(&dir, o.author, who, sizeof who));
    printf("to       %s\n", kn_directory_label(&dir, to, who, sizeof who));
    printf("date     %s\n", when);
    if (m.subject)
        printf("subject  %.*s\n", (int)m.subject_len, m.subject);
    printf("\n%.*s\n", (int)m.body_len, m.body);
out:
    kn_dm_plain_free(plain, plen);
    free(raw);
    cli_signer_close(&sg);
    kn_directory_free(&dir);
    kn_datadir_close(&dd);
    return code;
}

int cmd_msg(kn_cli *cli, int argc, char **argv)
{
    optind = 1;
    if (argc > 1 && strcmp(argv[1], "send") == 0)
        return msg_send(cli, argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "ls") == 0)
        return msg_ls(cli, argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "read") == 0)
        return msg_read(cli, argc - 1, argv + 1);
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cli_help("msg");
    return cli_usage_error(cli,
        "say what to do: `knoten msg send`, `knoten msg ls` or "
        "`knoten msg read`");
}
