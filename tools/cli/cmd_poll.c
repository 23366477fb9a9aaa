/*
 * Polls: `knoten poll` (create, ls, show) and `knoten vote`. The tally is
 * the store's (kn_store_poll_tally): every node computes the same from the
 * same ballots, so `knoten poll show` prints the same on every node.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "directory.h"
#include "hex.h"

enum { OPTIONS_MAX = KN_POLL_OPTIONS_MAX, DEFAULT_DAYS = 14 };

/* --deadline: "14d" / "36h" from now, a date (the end of that day), or a date and time. */
static int parse_deadline(kn_cli *cli, const char *s, const char *tz, uint64_t now, uint64_t *ms)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (!errno && end != s && (strcmp(end, "d") == 0 || strcmp(end, "h") == 0) && n > 0
        && n <= 3650) {
        *ms = now + n * (strcmp(end, "d") == 0 ? 86400000ull : 3600000ull);
        return CLI_OK;
    }
    if (strlen(s) == 10) { /* a date alone: votes are open until that day ends */
        char t[32];
        snprintf(t, sizeof t, "%s 23:59:59", s);
        return cli_parse_local_time(cli, "--deadline", t, tz, ms);
    }
    return cli_parse_local_time(cli, "--deadline", s, tz, ms);
}

static int poll_create(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "area", required_argument, 0, 's' },
        { "space", required_argument, 0, 's' }, { "question", required_argument, 0, 'q' },
        { "option", required_argument, 0, 'o' }, { "multiple", no_argument, 0, 'm' },
        { "deadline", required_argument, 0, 'd' }, { "tz", required_argument, 0, 'z' },
        { "show-early", no_argument, 0, 'e' }, { "count", required_argument, 0, 'c' },
        { "as", required_argument, 0, 'A' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *space = NULL, *question = NULL, *deadline_s = NULL, *tz = "Europe/Berlin",
               *count = "user", *as = NULL;
    char *options[OPTIONS_MAX];
    int noptions = 0, opt, code = -1;
    bool multiple = false, show_early = false;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "poll", &code)) >= 0) {
        switch (opt) {
        case 's':
            space = optarg;
            break;
        case 'q':
            question = optarg;
            break;
        case 'o':
            if (noptions == OPTIONS_MAX)
                return cli_usage_error(cli, "at most %d options", OPTIONS_MAX);
            options[noptions++] = optarg;
            break;
        case 'm':
            multiple = true;
            break;
        case 'd':
            deadline_s = optarg;
            break;
        case 'z':
            tz = optarg;
            break;
        case 'e':
            show_early = true;
            break;
        case 'c':
            count = optarg;
            break;
        case 'A':
            as = optarg;
            break;
        }
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (!space || !question)
        return cli_usage_error(cli, "--area and --question are required");
    if (noptions < 2)
        return cli_usage_error(cli, "give at least two --option");
    if (strcmp(count, "user") != 0 && strcmp(count, "council") != 0)
        return cli_usage_error(cli,
            "--count is \"user\" (one vote per member of staff) or "
            "\"council\" (one answer per council)");
    uint64_t now = kn_env_now(cli->env), deadline = now + DEFAULT_DAYS * 86400000ull;
    if (deadline_s && (code = parse_deadline(cli, deadline_s, tz, now, &deadline)) != CLI_OK)
        return code;
    if (deadline <= now)
        return cli_usage_error(cli, "--deadline %s has passed already", deadline_s);
    kn_datadir dd;
    cli_signer sg;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    if ((code = cli_signer_open(cli, &dd, as, &sg)) == CLI_OK) {
        kn_object_draft d = { .type = KN_T_POLL, .space = space };
        cli_field f[] = {
            { .key = "count", .kind = F_STR, .s = count },
            { .key = "deadline", .kind = F_UINT, .u = deadline },
            { .key = "multiple", .kind = F_BOOL, .u = multiple },
            { .key = "options", .kind = F_STRS, .strs = options, .nstrs = noptions },
            { .key = "question", .kind = F_STR, .s = question },
            { .key = "show_early", .kind = F_BOOL, .u = show_early },
        };
        code = cli_publish_fields(cli, &dd, &d, f, 6, &sg, false, NULL);
        cli_signer_close(&sg);
    }
    kn_datadir_close(&dd);
    return code;
}

/* The options of a poll, as pointers into its bytes (valid while the bytes are). */
typedef struct poll_view {
    const char *opt[OPTIONS_MAX];
    uint32_t optlen[OPTIONS_MAX];
    uint32_t n;
    char question[1001];
} poll_view;

static void read_poll(const kn_object *o, poll_view *p)
{
    kn_mp_in v;
    memset(p, 0, sizeof *p);
    cli_obj_str(o, "question", p->question, sizeof p->question);
    if (kn_object_field(o, "options", &v) == 0 && kn_mp_read_array(&v, &p->n) == 0) {
        if (p->n > OPTIONS_MAX)
            p->n = OPTIONS_MAX;
        for (uint32_t i = 0; i < p->n; i++)
            if (kn_mp_read_str(&v, &p->opt[i], &p->optlen[i]) < 0) {
                p->n = i;
                break;
            }
    }
}

/* "Ja, Weiß nicht" for a choices bitmask. */
static void choices_text(const poll_view *p, uint32_t choices, char *buf, size_t cap)
{
    size_t pos = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < p->n && pos < cap; i++)
        if (choices & (1u << i)) {
            int w = snprintf(
                buf + pos, cap - pos, "%s%.*s", pos ? ", " : "", (int)p->optlen[i], p->opt[i]);
            if (w < 0)
                break;
            pos += (size_t)w;
        }
}

static bool results_visible(const kn_poll_tally *t, uint64_t now)
{
    return t->show_early || now > t->deadline;
}

static int show_json(
    const kn_poll_tally *t, const poll_view *p, const kn_directory *dir, uint64_t now)
{
    char hex[65], label[300];
    bool visible = results_visible(t, now);
    json_t *j = json_object(), *opts = json_array(), *voters = json_array();
    kn_hex_encode(hex, t->poll, KN_ID);
    json_object_set_new(j, "id", json_string(hex));
    json_object_set_new(j, "question", json_string(p->question));
    json_object_set_new(j, "count", json_string(t->per_council ? "council" : "user"));
    json_object_set_new(j, "multiple", json_boolean(t->multiple));
    json_object_set_new(j, "deadline", json_integer((json_int_t)t->deadline));
    json_object_set_new(j, "open", json_boolean(now <= t->deadline));
    json_object_set_new(j, "ballots", json_integer((json_int_t)t->ballots));
    json_object_set_new(j, "results_visible", json_boolean(visible));
    for (uint32_t i = 0; i < p->n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "option", json_stringn(p->opt[i], p->optlen[i]));
        if (visible)
            json_object_set_new(o, "count", json_integer((json_int_t)t->counts[i]));
        json_array_append_new(opts, o);
    }
    json_object_set_new(j, "options", opts);
    for (size_t i = 0; visible && i < t->nvoters; i++) {
        const kn_tally_voter *w = &t->voters[i];
        json_t *o = json_object(), *ch = json_array();
        char user[65], node[65];
        kn_hex_encode(user, w->user, 32);
        kn_hex_encode(node, w->node, 32);
        json_object_set_new(o, "user", json_string(user));
        json_object_set_new(o, "council", json_string(node));
        kn_directory_label(dir, w->node, label, sizeof label);
        json_object_set_new(o, "council_name", json_string(label));
        for (uint32_t c = 0; c < p->n; c++)
            if (w->choices & (1u << c))
                json_array_append_new(ch, json_integer(c + 1));
        json_object_set_new(o, "choices", ch);
        json_array_append_new(voters, o);
    }
    json_object_set_new(j, visible ? "voters" : "voters_hidden", voters);
    int rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    putchar('\n');
    json_decref(j);
    return rc == 0 ? CLI_OK : cli_fail("cannot write the result");
}

/* Per council: for count=user how its staff voted, for count=council its answer. */
static void show_councils(const kn_poll_tally *t, const poll_view *p, const kn_directory *dir)
{
    char label[300], answer[2048];
    printf("\nper council:\n");
    for (size_t i = 0; i < t->nvoters;) {
        size_t j = i;
        uint64_t per[OPTIONS_MAX] = { 0 };
        while (j < t->nvoters && memcmp(t->voters[j].node, t->voters[i].node, 32) == 0) {
            for (uint32_t c = 0; c < p->n; c++)
                per[c] += (t->voters[j].choices >> c) & 1;
            j++;
        }
        kn_directory_label(dir, t->voters[i].node, label, sizeof label);
        if (t->per_council) {
            char who[300];
            choices_text(p, t->voters[i].choices, answer, sizeof answer);
            kn_directory_label(dir, t->voters[i].user, who, sizeof who);
            printf("  ");
            cli_print_col(label, strlen(label), 32);
            printf("%s  (answered by %s)\n", answer, who);
        } else {
            size_t pos = 0;
            answer[0] = 0;
            for (uint32_t c = 0; c < p->n && pos < sizeof answer; c++)
                if (per[c]) {
                    int w = snprintf(answer + pos, sizeof answer - pos, "%s%.*s %llu",
                        pos ? ", " : "", (int)p->optlen[c], p->opt[c], (unsigned long long)per[c]);
                    if (w < 0)
                        break;
                    pos += (size_t)w;
                }
            printf("  ");
            cli_print_col(label, strlen(label), 32);
            printf("%zu voter%s: %s\n", j - i, j - i == 1 ? "" : "s", answer);
        }
        i = j;
    }
}

static int poll_show(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "json", no_argument, 0, 'j' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    bool json = false;
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "poll", &code)) >= 0)
        if (opt == 'j')
            json = true;
    if (opt == CLI_STOP)
        return code;
    if (optind + 1 != argc)
        return cli_usage_error(cli, "give exactly one POLL-ID");
    uint8_t id[KN_ID], *raw = NULL;
    if ((code = cli_parse_id(cli, "POLL-ID", argv[optind], id)) != CLI_OK)
        return code;
    kn_datadir dd;
    kn_directory dir = { 0 };
    kn_poll_tally t = { 0 };
    kn_object o;
    poll_view p;
    uint64_t now = kn_env_now(cli->env);
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    if ((code = cli_load_object(&dd, argv[optind], id, KN_T_POLL, &raw, &o)) != CLI_OK)
        goto out;
    int rc = kn_store_poll_tally(dd.store, id, &t);
    if (rc == 0)
        rc = kn_directory_load(&dd, &dir);
    if (rc < 0) {
        code = cli_fail("cannot count the votes: %s", kn_strerror(rc));
        goto out;
    }
    read_poll(&o, &p);
    if (json) {
        code = show_json(&t, &p, &dir, now);
        goto out;
    }
    char deadline[40], by[300], space[KN_SPACE_MAX + 1];
    cli_format_time(deadline, sizeof deadline, t.deadline);
    kn_directory_label(&dir, o.author, by, sizeof by);
    cli_obj_space(&o, space);
    printf("poll      %s\n", argv[optind]);
    printf("question  %s\n", p.question);
    printf("area      %s\n", space);
    printf("by        %s\n", by);
    printf("counting  %s\n",
        t.per_council ? "one answer per council (the latest ballot of any of its staff)"
                      : "one vote per member of staff (the latest ballot counts)");
    printf("choice    %s\n", t.multiple ? "several options allowed" : "one option");
    printf("deadline  %s (%s)\n", deadline, now <= t.deadline ? "open" : "closed");
    printf("ballots   %llu, from %zu %s\n", (unsigned long long)t.ballots, t.nvoters,
        t.per_council ? (t.nvoters == 1 ? "council" : "councils")
                      : (t.nvoters == 1 ? "voter" : "voters"));
    if (!results_visible(&t, now)) {
        printf("\nResults are shown after the deadline, %s.\n", deadline);
        for (uint32_t i = 0; i < p.n; i++)
            printf("  %2u. %.*s\n", i + 1, (int)p.optlen[i], p.opt[i]);
        goto out;
    }
    printf("\nresults:\n");
    for (uint32_t i = 0; i < p.n; i++) {
        printf("  %2u. ", i + 1);
        cli_print_col(p.opt[i], p.optlen[i], 40);
        printf("%llu\n", (unsigned long long)t.counts[i]);
    }
    if (t.nvoters)
        show_councils(&t, &p, &dir);
out:
    kn_poll_tally_free(&t);
    kn_directory_free(&dir);
    free(raw);
    kn_datadir_close(&dd);
    return code;
}

typedef struct poll_ls_ctx {
    kn_store *store;
    uint64_t now;
    size_t n;
} poll_ls_ctx;

static int poll_ls_visit(void *arg, const kn_object *o)
{
    poll_ls_ctx *c = arg;
    kn_poll_tally t;
    char hex[17], deadline[40], q[1001], space[KN_SPACE_MAX + 1];
    if (o->type != KN_T_POLL || kn_store_poll_tally(c->store, o->id, &t) < 0)
        return 0;
    cli_short_hex(hex, o->id);
    cli_format_time(deadline, sizeof deadline, t.deadline);
    cli_obj_str(o, "question", q, sizeof q);
    cli_obj_space(o, space);
    if (c->n++ == 0)
        printf("%-16s  %-6s %-23s %-7s %-16s %s\n", "ID (prefix)", "STATE", "DEADLINE", "BALLOTS",
            "AREA", "QUESTION");
    printf("%-16s  %-6s %-23s %-7llu %-16s %s\n", hex, c->now <= t.deadline ? "open" : "closed",
        deadline, (unsigned long long)t.ballots, space, q);
    kn_poll_tally_free(&t);
    return 0;
}

static int poll_ls(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "area", required_argument, 0, 's' },
        { "space", required_argument, 0, 's' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *space = NULL;
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "poll", &code)) >= 0)
        if (opt == 's')
            space = optarg;
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (space && strlen(space) > KN_SPACE_MAX)
        return cli_usage_error(cli, "area names have at most %d bytes", KN_SPACE_MAX);
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    poll_ls_ctx c = { dd.store, kn_env_now(cli->env), 0 };
    /* Without an area, walk by time and keep the polls (by_space_type needs the area). */
    kn_store_query q = { .index = space ? KN_BY_SPACE_TYPE : KN_BY_TIME,
        .space = space,
        .type = space ? KN_T_POLL : 0,
        .reverse = true };
    int rc = kn_store_each(dd.store, &q, poll_ls_visit, &c);
    kn_datadir_close(&dd);
    if (rc < 0)
        return cli_fail("cannot list the polls: %s", kn_strerror(rc));
    if (c.n == 0)
        fprintf(stderr, "knoten: no polls%s%s.\n", space ? " in " : "", space ? space : "");
    return CLI_OK;
}

int cmd_poll(kn_cli *cli, int argc, char **argv)
{
    optind = 1;
    if (argc > 1 && strcmp(argv[1], "show") == 0)
        return poll_show(cli, argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "ls") == 0)
        return poll_ls(cli, argc - 1, argv + 1);
    return poll_create(cli, argc, argv);
}

/* ---- vote ---- */

int cmd_vote(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "choice", required_argument, 0, 'c' },
        { "as", required_argument, 0, 'A' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *as = NULL;
    uint32_t chosen = 0;
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "vote", &code)) >= 0) {
        if (opt == 'c') {
            char *end;
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (errno || *end || n < 1 || n > OPTIONS_MAX)
                return cli_usage_error(cli,
                    "--choice takes an option's number as `knoten poll show` lists it (1 to %d)",
                    OPTIONS_MAX);
            chosen |= 1u << (n - 1);
        } else if (opt == 'A') {
            as = optarg;
        }
    }
    if (opt == CLI_STOP)
        return code;
    if (optind + 1 != argc)
        return cli_usage_error(cli, "give exactly one POLL-ID");
    if (!chosen)
        return cli_usage_error(cli, "give --choice N (repeat it in a multiple-choice poll)");
    if ((code = cli_need_as(cli, as, "votes")) != CLI_OK)
        return code;
    uint8_t id[KN_ID], *raw = NULL;
    if ((code = cli_parse_id(cli, "POLL-ID", argv[optind], id)) != CLI_OK)
        return code;
    kn_datadir dd;
    cli_signer sg;
    kn_object o;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    if ((code = cli_load_object(&dd, argv[optind], id, KN_T_POLL, &raw, &o)) != CLI_OK)
        goto out_dd;
    /* Say plainly what the store would refuse. */
    poll_view p;
    uint64_t deadline = 0, choices[OPTIONS_MAX];
    size_t n = 0;
    kn_mp_in v;
    bool multiple = false;
    read_poll(&o, &p);
    if (kn_object_uint(&o, "deadline", &deadline) < 0 || kn_object_field(&o, "multiple", &v) < 0
        || kn_mp_read_bool(&v, &multiple) < 0) {
        code = cli_fail("cannot read the poll %s", argv[optind]);
        goto out;
    }
    for (uint32_t i = 0; i < OPTIONS_MAX; i++)
        if (chosen & (1u << i)) {
            if (i >= p.n) {
                code = cli_usage_error(
                    cli, "this poll has %u options; --choice %u is none of them", p.n, i + 1);
                goto out;
            }
            choices[n++] = i;
        }
    if (n > 1 && !multiple) {
        code = cli_usage_error(cli, "this poll takes one choice; give one --choice");
        goto out;
    }
    if (kn_env_now(cli->env) > deadline) {
        char when[40];
        cli_format_time(when, sizeof when, deadline);
        code = cli_fail("the poll closed at %s; votes are no longer accepted", when);
        goto out;
    }
    if ((code = cli_signer_open(cli, &dd, as, &sg)) != CLI_OK)
        goto out;
    char space[KN_SPACE_MAX + 1];
    cli_obj_space(&o, space);
    kn_object_draft d = { .type = KN_T_VOTE, .space = space, .nrefs = 1 };
    memcpy(d.refs[0], id, KN_ID);
    cli_field f[] = { { .key = "choices", .kind = F_UINTS, .uints = choices, .len = n } };
    code = cli_publish_fields(cli, &dd, &d, f, 1, &sg, false, NULL);
    cli_signer_close(&sg);
out:
    free(raw);
out_dd:
    kn_datadir_close(&dd);
    return code;
}
