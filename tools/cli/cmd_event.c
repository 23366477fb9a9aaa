/*
 * Events: `knoten event` (create, edit, ls, show), `knoten rsvp` and
 * `knoten ics` (iCalendar export, node/ics.c). Times are typed as local
 * times in the event's zone and stored as UTC milliseconds with the zone's
 * name, so every node shows the same instant.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "directory.h"
#include "grow.h"
#include "hex.h"
#include "ics.h"
#include "render.h"
#include "tz.h"

enum { LANGS_MAX = 8 };

/* Copies the [str] field key of o into NUL-terminated strings in bufs (at most max). */
static int obj_langs(const kn_object *o, char bufs[][9], char **out, int max)
{
    kn_mp_in v;
    uint32_t n, len;
    const char *s;
    int k = 0;
    if (kn_object_field(o, "langs", &v) < 0 || kn_mp_read_array(&v, &n) < 0)
        return 0;
    for (uint32_t i = 0; i < n && k < max && kn_mp_read_str(&v, &s, &len) == 0; i++) {
        if (len > 8)
            continue;
        memcpy(bufs[k], s, len);
        bufs[k][len] = 0;
        out[k] = bufs[k];
        k++;
    }
    return k;
}

typedef struct event_args {
    const char *space, *title, *start, *end, *tz, *link, *place, *group, *contact, *capacity,
        *description, *edit, *as;
    char *langs[LANGS_MAX];
    int nlangs;
} event_args;

static int event_create(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "area", required_argument, 0, 's' }, { "space", required_argument, 0, 's' },
              { "title", required_argument, 0, 't' }, { "start", required_argument, 0, 'S' },
              { "end", required_argument, 0, 'E' }, { "tz", required_argument, 0, 'z' },
              { "link", required_argument, 0, 'l' }, { "place", required_argument, 0, 'p' },
              { "group", required_argument, 0, 'g' }, { "lang", required_argument, 0, 'L' },
              { "contact", required_argument, 0, 'c' }, { "capacity", required_argument, 0, 'n' },
              { "description", required_argument, 0, 'd' }, { "edit", required_argument, 0, 'e' },
              { "as", required_argument, 0, 'A' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    event_args a = { 0 };
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "event", &code)) >= 0) {
        switch (opt) {
        case 's':
            a.space = optarg;
            break;
        case 't':
            a.title = optarg;
            break;
        case 'S':
            a.start = optarg;
            break;
        case 'E':
            a.end = optarg;
            break;
        case 'z':
            a.tz = optarg;
            break;
        case 'l':
            a.link = optarg;
            break;
        case 'p':
            a.place = optarg;
            break;
        case 'g':
            a.group = optarg;
            break;
        case 'L':
            if (a.nlangs == LANGS_MAX)
                return cli_usage_error(cli, "at most %d --lang", LANGS_MAX);
            if (strlen(optarg) < 2 || strlen(optarg) > 8)
                return cli_usage_error(cli, "--lang takes a language tag such as de or en");
            a.langs[a.nlangs++] = optarg;
            break;
        case 'c':
            a.contact = optarg;
            break;
        case 'n':
            a.capacity = optarg;
            break;
        case 'd':
            a.description = optarg;
            break;
        case 'e':
            a.edit = optarg;
            break;
        case 'A':
            a.as = optarg;
            break;
        }
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (!a.edit && (!a.space || !a.title || !a.start || !a.end))
        return cli_usage_error(cli, "--area, --title, --start and --end are required");
    if (!a.edit && !a.link && !a.place)
        return cli_usage_error(cli, "give --link URL (online) or --place TEXT (or both)");
    if (a.link && strncasecmp(a.link, "http://", 7) != 0 && strncasecmp(a.link, "https://", 8) != 0)
        return cli_usage_error(cli, "--link must start with http:// or https://");
    uint64_t capacity = 0;
    if (a.capacity) {
        char *end;
        errno = 0;
        capacity = strtoull(a.capacity, &end, 10);
        if (errno || *end || a.capacity[0] == '-')
            return cli_usage_error(cli, "--capacity takes a number of places");
    }

    kn_datadir dd;
    cli_signer sg;
    uint8_t *base_raw = NULL;
    kn_object base;
    char sp[KN_SPACE_MAX + 1], tzbuf[KN_TZ_NAME_MAX + 1], startbuf[40], endbuf[40], title[301],
        link[2049], place[301], group[201], contact[301], desc[8001], langbuf[LANGS_MAX][9];
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    if ((code = cli_signer_open(cli, &dd, a.as, &sg)) != CLI_OK)
        goto out_dd;
    kn_object_draft d = { .type = KN_T_EVENT, .space = a.space };
    bool has_capacity = a.capacity != NULL;
    if (a.edit) {
        /* What is not given is kept from the version it replaces. */
        uint64_t ms;
        if ((code = cli_edit_base(cli, &dd, a.edit, KN_T_EVENT, &sg, &base_raw, &base)) != CLI_OK)
            goto out;
        cli_obj_space(&base, sp);
        if (a.space && strcmp(a.space, sp) != 0) {
            code = cli_fail("an edit stays in the area of what it replaces (\"%s\")", sp);
            goto out;
        }
        d.space = sp;
        memcpy(d.refs[0], base.id, KN_ID);
        d.nrefs = 1;
        cli_obj_str(&base, "tz", tzbuf, sizeof tzbuf);
        if (!a.tz)
            a.tz = tzbuf;
        /* The old times, in the (possibly new) zone, unless new ones are given. */
        if (!a.start && kn_object_uint(&base, "start", &ms) == 0) {
            kn_tz_format_local(tzbuf, ms, ' ', startbuf, sizeof startbuf);
            a.start = startbuf;
        }
        if (!a.end && kn_object_uint(&base, "end", &ms) == 0) {
            kn_tz_format_local(tzbuf, ms, ' ', endbuf, sizeof endbuf);
            a.end = endbuf;
        }
#define KEEP(field, key, buf)                                                                      \
    if (!a.field) {                                                                                \
        cli_obj_str(&base, key, buf, sizeof buf);                                                  \
        a.field = buf[0] ? buf : NULL;                                                             \
    }
        KEEP(title, "title", title);
        KEEP(link, "link", link);
        KEEP(place, "place", place);
        KEEP(group, "group", group);
        KEEP(contact, "contact", contact);
        KEEP(description, "description", desc);
#undef KEEP
        if (!a.nlangs)
            a.nlangs = obj_langs(&base, langbuf, a.langs, LANGS_MAX);
        if (!has_capacity && kn_object_uint(&base, "capacity", &capacity) == 0)
            has_capacity = true;
    }
    if (!a.tz)
        a.tz = "Europe/Berlin";
    uint64_t start, end;
    if ((code = cli_parse_local_time(cli, "--start", a.start, a.tz, &start)) != CLI_OK
        || (code = cli_parse_local_time(cli, "--end", a.end, a.tz, &end)) != CLI_OK)
        goto out;
    if (end < start) {
        code = cli_usage_error(cli, "--end is before --start");
        goto out;
    }
    cli_field f[] = {
        { .key = "title", .kind = F_STR, .s = a.title },
        { .key = "start", .kind = F_UINT, .u = start },
        { .key = "end", .kind = F_UINT, .u = end },
        { .key = "tz", .kind = F_STR, .s = a.tz },
        { .key = "link", .kind = F_STR, .s = a.link },
        { .key = "place", .kind = F_STR, .s = a.place },
        { .key = "group", .kind = F_STR, .s = a.group },
        { .key = "langs", .kind = F_STRS, .strs = a.langs, .nstrs = a.nlangs },
        { .key = "contact", .kind = F_STR, .s = a.contact },
        { .key = "capacity", .kind = F_UINT, .u = capacity, .absent = !has_capacity },
        { .key = "description", .kind = F_STR, .s = a.description },
    };
    code = cli_publish_fields(cli, &dd, &d, f, 11, &sg, false, NULL);
out:
    free(base_raw);
    cli_signer_close(&sg);
out_dd:
    kn_datadir_close(&dd);
    return code;
}

/* ---- ls ---- */

typedef struct ev_row {
    uint8_t id[KN_ID];
    uint64_t start;
} ev_row;

typedef struct ev_ls {
    kn_store *store;
    ev_row *rows;
    size_t n, cap;
    uint64_t since;
    int err;
} ev_ls;

static int ev_ls_visit(void *arg, const kn_object *o)
{
    ev_ls *c = arg;
    kn_versions v;
    uint64_t start = 0, end = 0;
    if (o->type != KN_T_EVENT || kn_object_uint(o, "start", &start) < 0
        || kn_object_uint(o, "end", &end) < 0 || end < c->since)
        return 0;
    if (kn_store_versions(c->store, o->id, &v) == 0
        && memcmp(kn_versions_newest(&v), o->id, KN_ID) != 0)
        return 0; /* an earlier version */
    if (c->n == c->cap) {
        ev_row *nr = kn_grow(c->rows, &c->cap, 32, sizeof *nr);
        if (!nr) {
            c->err = KN_ENOMEM;
            return 1;
        }
        c->rows = nr;
    }
    memcpy(c->rows[c->n].id, o->id, KN_ID);
    c->rows[c->n++].start = start;
    return 0;
}

static int row_cmp(const void *a, const void *b)
{
    const ev_row *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return memcmp(x->id, y->id, KN_ID);
}

static int event_ls(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "area", required_argument, 0, 's' }, { "space", required_argument, 0, 's' },
              { "all", no_argument, 0, 'a' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *space = NULL;
    bool all = false;
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "event", &code)) >= 0) {
        if (opt == 's')
            space = optarg;
        else if (opt == 'a')
            all = true;
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (space && strlen(space) > KN_SPACE_MAX)
        return cli_usage_error(cli, "area names have at most %d bytes", KN_SPACE_MAX);
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    ev_ls c = { .store = dd.store, .since = all ? 0 : kn_env_now(cli->env) };
    kn_store_query q = { .index = space ? KN_BY_SPACE_TYPE : KN_BY_TIME,
        .space = space,
        .type = space ? KN_T_EVENT : 0 };
    int rc = kn_store_each(dd.store, &q, ev_ls_visit, &c);
    if (rc == 0)
        rc = c.err;
    if (rc < 0) {
        code = cli_fail("cannot list the events: %s", kn_strerror(rc));
        goto out;
    }
    if (c.n)
        qsort(c.rows, c.n, sizeof *c.rows, row_cmp);
    else
        fprintf(stderr, "knoten: no %sevents%s%s.\n", all ? "" : "coming ", space ? " in " : "",
            space ? space : "");
    for (size_t i = 0; i < c.n; i++) {
        uint8_t *raw = NULL;
        size_t len;
        kn_object o;
        char hex[17], when[160], title[301], sp[KN_SPACE_MAX + 1];
        if (kn_store_get(dd.store, c.rows[i].id, &raw, &len) < 0
            || kn_object_decode(&o, raw, len) < 0) {
            free(raw);
            continue;
        }
        if (i == 0)
            printf("%-16s  %-50s %-16s %s\n", "ID (prefix)", "WHEN", "AREA", "TITLE");
        cli_short_hex(hex, o.id);
        kn_render_event_when(&o, when, sizeof when);
        cli_obj_str(&o, "title", title, sizeof title);
        cli_obj_space(&o, sp);
        printf("%-16s  ", hex);
        cli_print_col(when, strlen(when), 50);
        cli_print_col(sp, strlen(sp), 16);
        printf("%s\n", title);
        free(raw);
    }
out:
    free(c.rows);
    kn_datadir_close(&dd);
    return code;
}

/* ---- show ---- */

static int event_show(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "event", &code)) >= 0) { }
    if (opt == CLI_STOP)
        return code;
    if (optind + 1 != argc)
        return cli_usage_error(cli, "give exactly one EVENT-ID");
    uint8_t id[KN_ID], *raw = NULL;
    if ((code = cli_parse_id(cli, "EVENT-ID", argv[optind], id)) != CLI_OK)
        return code;
    kn_datadir dd;
    kn_directory dir = { 0 };
    kn_versions v;
    kn_rsvp_tally t = { 0 };
    kn_object o;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    int rc = kn_store_versions(dd.store, id, &v);
    if (rc == KN_ENOTFOUND || rc == KN_ERETRACTED) {
        code = cli_fail("%s is %s on this node; `knoten event ls` lists the events", argv[optind],
            rc == KN_ERETRACTED ? "retracted" : "not known");
        goto out;
    }
    if (rc < 0 || (rc = kn_store_rsvp_tally(dd.store, (const uint8_t(*)[KN_ID])v.id, v.n, &t)) < 0
        || (rc = kn_directory_load(&dd, &dir)) < 0) {
        code = cli_fail("cannot read the event: %s", kn_strerror(rc));
        goto out;
    }
    char hex[65];
    kn_hex_encode(hex, kn_versions_newest(&v), KN_ID);
    if ((code = cli_load_object(&dd, hex, kn_versions_newest(&v), KN_T_EVENT, &raw, &o)) != CLI_OK)
        goto out;
    char when[160], s[8001], who[300];
    uint64_t cap;
    kn_render_event_when(&o, when, sizeof when);
    printf("event     %s%s\n", hex, v.n > 1 ? "" : "");
    if (v.n > 1)
        printf("version   %zu (edited %zu time%s)\n", v.n, v.n - 1, v.n == 2 ? "" : "s");
    cli_obj_str(&o, "title", s, sizeof s);
    printf("title     %s\n", s);
    printf("when      %s\n", when);
#define LINE(label, key)                                                                           \
    cli_obj_str(&o, key, s, sizeof s);                                                             \
    if (s[0])                                                                                      \
        printf("%-9s %s\n", label, s);
    LINE("where", "place");
    LINE("online", "link");
    LINE("group", "group");
    LINE("contact", "contact");
#undef LINE
    char *langs[LANGS_MAX], langbuf[LANGS_MAX][9];
    int nl = obj_langs(&o, langbuf, langs, LANGS_MAX);
    for (int i = 0; i < nl; i++)
        printf(i ? ", %s" : "languages %s", langs[i]);
    if (nl)
        putchar('\n');
    cli_obj_space(&o, s);
    printf("area      %s\n", s);
    printf("by        %s\n", kn_directory_label(&dir, o.author, who, sizeof who));
    if (kn_object_uint(&o, "capacity", &cap) == 0)
        printf("places    %llu (%llu taken by yes)\n", (unsigned long long)cap,
            (unsigned long long)t.counts[KN_RSVP_YES]);
    printf("rsvp      %llu yes, %llu maybe, %llu no\n", (unsigned long long)t.counts[KN_RSVP_YES],
        (unsigned long long)t.counts[KN_RSVP_MAYBE], (unsigned long long)t.counts[KN_RSVP_NO]);
    static const char *const names[] = { "yes", "no", "maybe" };
    for (size_t i = 0; i < t.n; i++)
        printf("  %-5s  %s\n", names[t.e[i].status],
            kn_directory_label(&dir, t.e[i].user, who, sizeof who));
    cli_obj_str(&o, "description", s, sizeof s);
    if (s[0])
        printf("\n%s\n", s);
out:
    kn_rsvp_tally_free(&t);
    kn_directory_free(&dir);
    free(raw);
    kn_datadir_close(&dd);
    return code;
}

int cmd_event(kn_cli *cli, int argc, char **argv)
{
    optind = 1;
    if (argc > 1 && strcmp(argv[1], "ls") == 0)
        return event_ls(cli, argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "show") == 0)
        return event_show(cli, argc - 1, argv + 1);
    return event_create(cli, argc, argv);
}

/* ---- rsvp ---- */

int cmd_rsvp(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "as", required_argument, 0, 'A' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *as = NULL;
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "rsvp", &code)) >= 0)
        if (opt == 'A')
            as = optarg;
    if (opt == CLI_STOP)
        return code;
    if (optind + 2 != argc)
        return cli_usage_error(cli, "give EVENT-ID and yes, no or maybe");
    const char *status = argv[optind + 1];
    if (strcmp(status, "yes") != 0 && strcmp(status, "no") != 0 && strcmp(status, "maybe") != 0)
        return cli_usage_error(cli, "the answer is yes, no or maybe (got \"%s\")", status);
    if ((code = cli_need_as(cli, as, "RSVPs")) != CLI_OK)
        return code;
    uint8_t id[KN_ID], *raw = NULL;
    if ((code = cli_parse_id(cli, "EVENT-ID", argv[optind], id)) != CLI_OK)
        return code;
    kn_datadir dd;
    cli_signer sg;
    kn_object o;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    if ((code = cli_load_object(&dd, argv[optind], id, KN_T_EVENT, &raw, &o)) == CLI_OK
        && (code = cli_signer_open(cli, &dd, as, &sg)) == CLI_OK) {
        char space[KN_SPACE_MAX + 1];
        cli_obj_space(&o, space);
        kn_object_draft d = { .type = KN_T_RSVP, .space = space, .nrefs = 1 };
        memcpy(d.refs[0], id, KN_ID);
        cli_field f[] = { { .key = "status", .kind = F_STR, .s = status } };
        code = cli_publish_fields(cli, &dd, &d, f, 1, &sg, false, NULL);
        cli_signer_close(&sg);
    }
    free(raw);
    kn_datadir_close(&dd);
    return code;
}

/* ---- ics ---- */

int cmd_ics(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "area", required_argument, 0, 's' }, { "space", required_argument, 0, 's' },
              { "output", required_argument, 0, 'o' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *space = NULL, *path = NULL;
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "ho:", opts, "ics", &code)) >= 0) {
        if (opt == 's')
            space = optarg;
        else if (opt == 'o')
            path = optarg;
    }
    if (opt == CLI_STOP)
        return code;
    if (space ? optind != argc : optind + 1 != argc)
        return cli_usage_error(cli, "give one EVENT-ID, or --area AREA for the area's calendar");
    if (space && strlen(space) > KN_SPACE_MAX)
        return cli_usage_error(cli, "area names have at most %d bytes", KN_SPACE_MAX);
    uint8_t id[KN_ID];
    if (!space && (code = cli_parse_id(cli, "EVENT-ID", argv[optind], id)) != CLI_OK)
        return code;
    kn_datadir dd;
    kn_directory dir;
    kn_text t;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    kn_text_init(&t, 0);
    int rc = kn_directory_load(&dd, &dir);
    if (rc == 0) {
        rc = space ? kn_ics_export_area(dd.store, &dir, space, &t)
                   : kn_ics_export(dd.store, &dir, (const uint8_t(*)[KN_ID])id, 1, NULL, &t);
        kn_directory_free(&dir);
    }
    kn_datadir_close(&dd);
    if (rc == KN_ENOTFOUND || rc == KN_ERETRACTED || rc == KN_EINVAL)
        code = cli_fail("%s is %s; `knoten event ls` lists the events", argv[optind],
            rc == KN_ENOTFOUND        ? "not on this node"
                : rc == KN_ERETRACTED ? "retracted"
                                      : "no event");
    else if (rc < 0)
        code = cli_fail("cannot write the calendar: %s", kn_strerror(rc));
    else
        code = cli_write_output(path, t.s, t.len);
    kn_text_free(&t);
    return code;
}
