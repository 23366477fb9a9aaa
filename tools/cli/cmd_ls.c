/*
 * Commands that read the store: ls, show, export, import (status: cmd_status.c).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "directory.h"
#include "hex.h"
#include "objjson.h"
#include "render.h"

static void print_summary(const kn_object *o)
{
    char id[65], when[40];
    kn_hex_encode(id, o->id, KN_ID);
    cli_format_time(when, sizeof when, o->created);
    const char *title = NULL;
    uint32_t tlen = 0;
    if (kn_object_str(o, "title", &title, &tlen) < 0 && kn_object_str(o, "name", &title, &tlen) < 0
        && kn_object_str(o, "body", &title, &tlen) < 0)
        title = NULL;
    if (title && tlen > 60)
        tlen = 60;
    printf("%.16s  %-8s %-19.19s %-16.*s %.*s\n", id, kn_otype_name(o->type), when,
        (int)o->space_len, o->space, title ? (int)tlen : 0, title ? title : "");
}

static int print_json_line(const kn_object *o, bool with_raw, FILE *f)
{
    json_t *j = kn_objjson_new(o, with_raw);
    if (!j)
        return KN_ENOMEM;
    int rc = json_dumpf(j, f, JSON_COMPACT | JSON_ENSURE_ASCII) == 0 ? 0 : KN_EIO;
    json_decref(j);
    if (rc == 0 && fputc('\n', f) == EOF)
        rc = KN_EIO;
    return rc;
}

typedef struct ls_ctx {
    kn_store *store;
    uint64_t limit;
    uint64_t seen;
    kn_otype only; /* 0: every type */
    bool json;
    bool all_versions;
    int err;
} ls_ctx;

/* True for the types that have versions (edits). */
static bool versioned(kn_otype t)
{
    return t == KN_T_DOC || t == KN_T_THREAD || t == KN_T_POST || t == KN_T_LINK || t == KN_T_EVENT;
}

/*
 * True if o is the newest version of itself (or has none): listings show
 * only that one. A chain that cannot be read shows the object rather than
 * hiding it.
 */
static bool is_newest(kn_store *s, const kn_object *o)
{
    kn_versions v;
    if (!versioned(o->type) || kn_store_versions(s, o->id, &v) < 0)
        return true;
    return memcmp(kn_versions_newest(&v), o->id, KN_ID) == 0;
}

static int ls_visit(void *arg, const kn_object *o)
{
    ls_ctx *c = arg;
    if (c->only && o->type != c->only)
        return 0;
    if (!c->all_versions && !is_newest(c->store, o))
        return 0;
    if (c->json) {
        if ((c->err = print_json_line(o, false, stdout)) < 0)
            return 1;
    } else {
        print_summary(o);
    }
    c->seen++;
    return c->limit && c->seen >= c->limit ? 1 : 0;
}

int cmd_ls(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "space", required_argument, 0, 's' }, { "area", required_argument, 0, 's' },
              { "type", required_argument, 0, 't' }, { "author", required_argument, 0, 'a' },
              { "limit", required_argument, 0, 'n' }, { "json", no_argument, 0, 'j' },
              { "versions", no_argument, 0, 'V' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    kn_store_query q = { .index = KN_BY_TIME, .reverse = true };
    uint8_t author[32];
    ls_ctx c = { .limit = 100 };
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "ls", &code)) >= 0) {
        switch (opt) {
        case 's':
            if (strlen(optarg) > KN_SPACE_MAX)
                return cli_usage_error(cli, "area names have at most %d bytes", KN_SPACE_MAX);
            q.space = optarg;
            break;
        case 't': {
            int t = kn_otype_from_name(optarg, strlen(optarg));
            if (t < 0)
                return cli_usage_error(cli,
                    "unknown type \"%s\"; types are network, admit, revoke, "
                    "user, addr, doc, thread, post, link, poll, vote, event, "
                    "rsvp, dm, retract",
                    optarg);
            q.type = (kn_otype)t;
            break;
        }
        case 'a':
            if ((code = cli_parse_id(cli, "--author", optarg, author)) != CLI_OK)
                return code;
            q.author = author;
            break;
        case 'n': {
            char *end;
            errno = 0;
            c.limit = strtoull(optarg, &end, 10);
            if (errno || *end || optarg[0] == '-')
                return cli_usage_error(cli, "--limit must be a number");
            break;
        }
        case 'j':
            c.json = true;
            break;
        case 'V':
            c.all_versions = true;
            break;
        }
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (q.author && (q.space || q.type))
        return cli_usage_error(cli, "--author cannot be combined with --space or --type");
    if (q.author)
        q.index = KN_BY_AUTHOR;
    else if (q.space)
        q.index = KN_BY_SPACE_TYPE;
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    c.store = dd.store;
    /* A type without an area: walk by time and filter (by_space_type needs the area). */
    if (q.type && !q.space) {
        c.only = q.type;
        q.type = 0;
    }
    if (!c.json)
        printf("%-16s  %-8s %-19s %-16s %s\n", "ID (prefix)", "TYPE", "CREATED (UTC)", "AREA",
            "TITLE");
    int rc = kn_store_each(dd.store, &q, ls_visit, &c);
    kn_datadir_close(&dd);
    if (rc < 0 || c.err < 0)
        return cli_fail("cannot list objects: %s", kn_strerror(rc < 0 ? rc : c.err));
    if (!c.json && c.seen == 0)
        fprintf(stderr, "knoten: no objects match.\n");
    return CLI_OK;
}

/* ---- show ---- */

enum { SHOW_REFS_MAX = 200 };

/*
 * What points to an object (replies, ballots, RSVPs, retractions), over all
 * its versions, newest version of each, in (created, id) order, at most
 * SHOW_REFS_MAX. Versions of the object itself are left out.
 */
typedef struct show_ctx {
    kn_store *store;
    const kn_versions *self;
    uint8_t (*ids)[KN_ID];
    uint64_t *created;
    size_t n;
} show_ctx;

static int show_ref_visit(void *arg, const kn_object *o)
{
    show_ctx *c = arg;
    for (size_t i = 0; i < c->self->n; i++)
        if (memcmp(c->self->id[i], o->id, KN_ID) == 0)
            return 0;
    for (size_t i = 0; i < c->n; i++)
        if (memcmp(c->ids[i], o->id, KN_ID) == 0)
            return 0;
    if (!is_newest(c->store, o))
        return 0;
    if (c->n == SHOW_REFS_MAX)
        return 1;
    memcpy(c->ids[c->n], o->id, KN_ID);
    c->created[c->n++] = o->created;
    return 0;
}

static void sort_refs(show_ctx *c)
{
    for (size_t i = 1; i < c->n; i++)
        for (size_t j = i; j > 0
             && (c->created[j - 1] > c->created[j]
                 || (c->created[j - 1] == c->created[j]
                     && memcmp(c->ids[j - 1], c->ids[j], KN_ID) > 0));
             j--) {
            uint8_t id[KN_ID];
            uint64_t t = c->created[j];
            memcpy(id, c->ids[j], KN_ID);
            memcpy(c->ids[j], c->ids[j - 1], KN_ID);
            memcpy(c->ids[j - 1], id, KN_ID);
            c->created[j] = c->created[j - 1];
            c->created[j - 1] = t;
        }
}

/* One object as an HTML <article>: title, who and when, content. */
static int html_article(kn_text *t, const kn_object *o, const kn_directory *dir, const char *title)
{
    char hex[65], when[40], who[300];
    kn_hex_encode(hex, o->id, KN_ID);
    cli_format_time(when, sizeof when, o->created);
    kn_directory_label(dir, o->author, who, sizeof who);
    kn_text_printf(t, "<article class=\"%s\" id=\"o-%s\">\n", kn_otype_name(o->type), hex);
    if (title && *title) {
        kn_text_puts(t, o->type == KN_T_POST ? "<h2>" : "<h1>");
        kn_text_escape(t, title, strlen(title));
        kn_text_puts(t, o->type == KN_T_POST ? "</h2>\n" : "</h1>\n");
    }
    kn_text_puts(t, "<p class=\"meta\">");
    kn_text_escape(t, who, strlen(who));
    kn_text_printf(t, ", %s", when);
    if (o->space_len) {
        kn_text_puts(t, ", ");
        kn_text_escape(t, o->space, o->space_len);
    }
    kn_text_puts(t, "</p>\n");
    int rc = kn_render_content_html(t, o);
    kn_text_puts(t, "</article>\n");
    return rc < 0 ? rc : t->err;
}

static int show_html(kn_datadir *dd, const kn_object *o, show_ctx *c)
{
    kn_directory dir;
    kn_text t;
    char title[400];
    int rc = kn_directory_load(dd, &dir);
    if (rc < 0)
        return cli_fail("cannot read the users and councils: %s", kn_strerror(rc));
    kn_text_init(&t, 0);
    kn_render_title(o, title, sizeof title);
    rc = html_article(&t, o, &dir, title);
    if (rc == 0 && c->n)
        kn_text_puts(&t, "<section class=\"replies\">\n");
    for (size_t i = 0; i < c->n && rc == 0; i++) {
        uint8_t *raw = NULL;
        size_t len;
        kn_object r;
        if (kn_store_get(dd->store, c->ids[i], &raw, &len) == 0
            && kn_object_decode(&r, raw, len) == 0
            && (r.type == KN_T_POST || r.type == KN_T_THREAD)) {
            kn_render_title(&r, title, sizeof title);
            rc = html_article(&t, &r, &dir, title);
        }
        free(raw);
    }
    if (rc == 0 && c->n)
        kn_text_puts(&t, "</section>\n");
    if (rc == 0 && (rc = t.err) == 0)
        fputs(t.s ? t.s : "", stdout);
    kn_text_free(&t);
    kn_directory_free(&dir);
    return rc < 0 ? cli_fail("cannot render the object: %s", kn_strerror(rc)) : CLI_OK;
}

int cmd_show(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "json", no_argument, 0, 'j' },
        { "html", no_argument, 0, 'H' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    bool as_json = false, as_html = false;
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "show", &code)) >= 0) {
        if (opt == 'j')
            as_json = true;
        else if (opt == 'H')
            as_html = true;
    }
    if (opt == CLI_STOP)
        return code;
    if (optind + 1 != argc)
        return cli_usage_error(cli, "give exactly one ID");
    if (as_json && as_html)
        return cli_usage_error(cli, "give --json or --html, not both");
    uint8_t id[KN_ID], *raw = NULL;
    if ((code = cli_check_id_arg(cli, "ID", argv[optind])) != CLI_OK)
        return code;
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    kn_object o;
    kn_versions v;
    show_ctx c = { .store = dd.store, .self = &v };
    if ((code = cli_resolve_id(&dd, argv[optind], id)) != CLI_OK
        || (code = cli_load_object(&dd, argv[optind], id, 0, &raw, &o)) != CLI_OK)
        goto out;
    if (as_json) {
        code = print_json_line(&o, false, stdout) < 0 ? CLI_FAIL : CLI_OK;
        goto out;
    }
    int rc = kn_store_versions(dd.store, id, &v);
    if (rc < 0) {
        memset(&v, 0, sizeof v);
        v.n = 1;
        memcpy(v.id[0], id, KN_ID);
    }
    c.ids = malloc(SHOW_REFS_MAX * KN_ID);
    c.created = malloc(SHOW_REFS_MAX * sizeof *c.created);
    if (!c.ids || !c.created) {
        code = cli_fail("out of memory");
        goto out;
    }
    for (size_t i = 0; i < v.n && rc >= 0; i++) {
        kn_store_query q = { .index = KN_BY_REF, .ref = v.id[i] };
        rc = kn_store_each(dd.store, &q, show_ref_visit, &c);
    }
    if (rc < 0) {
        code = cli_fail("cannot list replies: %s", kn_strerror(rc));
        goto out;
    }
    sort_refs(&c);
    if (as_html) {
        code = show_html(&dd, &o, &c);
        goto out;
    }
    json_t *j = kn_objjson_new(&o, false);
    char when[40], hex[65];
    cli_format_time(when, sizeof when, o.created);
    if (!j) {
        code = cli_fail("out of memory");
        goto out;
    }
    printf("id       %s\n", json_string_value(json_object_get(j, "id")));
    printf("type     %s\n", kn_otype_name(o.type));
    printf("author   %s\n", json_string_value(json_object_get(j, "author")));
    printf("created  %s\n", when);
    printf("area     %.*s\n", (int)o.space_len, o.space);
    if (v.n > 1) {
        kn_hex_encode(hex, kn_versions_newest(&v), KN_ID);
        printf("version  %zu of %zu (newest: %s)\n", v.self + 1, v.n, hex);
    }
    json_t *refs = json_object_get(j, "refs");
    for (size_t i = 0; i < json_array_size(refs); i++)
        printf("ref      %s\n", json_string_value(json_array_get(refs, i)));
    char *body = json_dumps(json_object_get(j, "body"), JSON_INDENT(2) | JSON_SORT_KEYS);
    printf("body     %s\n", body ? body : "?");
    free(body);
    json_decref(j);
    for (size_t i = 0; i < c.n; i++) {
        uint8_t *rraw = NULL;
        size_t len;
        kn_object r;
        if (i == 0)
            printf("\npointing here:\n");
        if (kn_store_get(dd.store, c.ids[i], &rraw, &len) == 0
            && kn_object_decode(&r, rraw, len) == 0) {
            printf("  ");
            print_summary(&r);
        }
        free(rraw);
    }
    code = CLI_OK;
out:
    free(c.ids);
    free(c.created);
    free(raw);
    kn_datadir_close(&dd);
    return code;
}

/* ---- export ---- */

typedef struct export_ctx {
    FILE *out;
    uint64_t n;
    int err;
} export_ctx;

static int export_visit(void *arg, const kn_object *o)
{
    export_ctx *c = arg;
    if ((c->err = print_json_line(o, true, c->out)) < 0)
        return 1;
    c->n++;
    return 0;
}

int cmd_export(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "output", required_argument, 0, 'o' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *path = NULL;
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "ho:", opts, "export", &code)) >= 0) {
        if (opt == 'o')
            path = optarg;
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    export_ctx c = { .out = path ? fopen(path, "w") : stdout };
    if (!c.out) {
        kn_datadir_close(&dd);
        return cli_fail("cannot write %s: %s", path, strerror(errno));
    }
    kn_store_query q = { .index = KN_BY_TIME };
    int rc = kn_store_each(dd.store, &q, export_visit, &c);
    /* Pending objects are valid signed objects too; a peer would keep them as well. */
    if (rc == 0 && c.err == 0)
        rc = kn_store_each_pending(dd.store, export_visit, &c);
    kn_datadir_close(&dd);
    if (rc == 0 && c.err == 0 && fflush(c.out) != 0)
        c.err = KN_EIO;
    if (path && fclose(c.out) != 0 && c.err == 0)
        c.err = KN_EIO;
    if (rc < 0 || c.err < 0)
        return cli_fail("export failed after %llu objects: %s", (unsigned long long)c.n,
            kn_strerror(rc < 0 ? rc : c.err));
    fprintf(stderr, "knoten: exported %llu objects\n", (unsigned long long)c.n);
    return CLI_OK;
}

/* ---- import ---- */

enum { IMPORT_BATCH = 1024, IMPORT_LINE_MAX = 1 << 20, IMPORT_PROGRESS_MS = 2000 };

typedef struct import_batch {
    uint8_t *raw[IMPORT_BATCH];
    kn_object obj[IMPORT_BATCH];
    int results[IMPORT_BATCH];
    unsigned long line[IMPORT_BATCH];
    size_t n;
} import_batch;

typedef struct import_totals {
    unsigned long stored, duplicate, pending, tombstoned, refused, released;
} import_totals;

static void refuse(unsigned long line, const char *why, import_totals *t)
{
    fprintf(stderr, "line %lu: refused: %s\n", line, why);
    t->refused++;
}

static int flush_batch(kn_store *s, import_batch *b, import_totals *t)
{
    size_t released = 0;
    int rc = b->n ? kn_store_ingest(s, b->obj, b->n, b->results, &released) : 0;
    for (size_t i = 0; i < b->n; i++) {
        if (rc == 0) {
            switch (b->results[i]) {
            case KN_PUT_STORED:
                t->stored++;
                break;
            case KN_PUT_DUPLICATE:
                t->duplicate++;
                break;
            case KN_PUT_PENDING:
                t->pending++;
                break;
            case KN_PUT_TOMBSTONED:
                t->tombstoned++;
                break;
            default:
                refuse(b->line[i], kn_strerror(b->results[i]), t);
            }
        }
        free(b->raw[i]);
    }
    t->released += released;
    b->n = 0;
    return rc;
}

/* Decodes one JSON line into b's next slot, or reports why not. */
static void import_line(const char *line, size_t len, unsigned long lineno, uint64_t now,
    import_batch *b, import_totals *t)
{
    char why[256];
    uint8_t *raw = malloc(KN_OBJECT_MAX);
    int n
        = raw ? kn_objjson_import_line(line, len, raw, KN_OBJECT_MAX, why, sizeof why) : KN_ENOMEM;
    if (n < 0) {
        free(raw);
        refuse(lineno, n == KN_ENOMEM ? "out of memory" : why, t);
        return;
    }
    int rc = kn_object_validate(&b->obj[b->n], raw, (size_t)n, now);
    if (rc < 0) {
        free(raw);
        refuse(lineno, kn_strerror(rc), t);
        return;
    }
    b->raw[b->n] = raw;
    b->line[b->n] = lineno;
    b->n++;
}

int cmd_import(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "import", &code)) >= 0) { }
    if (opt == CLI_STOP) /* --help, or a bad option: before anything is created */
        return code;
    if (optind + 1 < argc)
        return cli_usage_error(cli, "give at most one FILE");
    const char *path = optind < argc ? argv[optind] : "-";
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in)
        return cli_fail("cannot read %s: %s", path, strerror(errno));
    if (in == stdin)
        cli_stdin_prompt("objects as JSON lines (`knoten import FILE` reads a file)");
    if (!kn_datadir_exists(cli->data_dir)) {
        if (cli_datadir_fresh(cli) != CLI_OK) {
            if (in != stdin)
                fclose(in);
            return CLI_FAIL;
        }
        int rc = kn_datadir_create(cli->data_dir, cli->env, NULL);
        if (rc < 0) {
            if (in != stdin)
                fclose(in);
            return cli_fail("cannot create %s: %s", cli->data_dir, kn_strerror(rc));
        }
        fprintf(stderr, "knoten: created a new node (no network key yet) in %s\n", cli->data_dir);
    }
    kn_datadir dd;
    import_batch *b = calloc(1, sizeof *b);
    char *line = malloc(IMPORT_LINE_MAX + 2);
    import_totals t = { 0 };
    if (!b || !line) {
        code = cli_fail("out of memory");
        goto out;
    }
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        goto out;
    unsigned long lineno = 0;
    int rc = 0;
    uint64_t now = kn_env_now(cli->env), shown = now;
    while (fgets(line, IMPORT_LINE_MAX + 2, in)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[--len] = 0;
        else if (!feof(in)) {
            /* Longer than any valid line: refuse it and skip to its end. */
            int ch;
            while ((ch = fgetc(in)) != EOF && ch != '\n')
                ;
            refuse(lineno, "line longer than 1 MiB", &t);
            continue;
        }
        if (len == 0)
            continue;
        import_line(line, len, lineno, now, b, &t);
        if (b->n == IMPORT_BATCH) {
            if ((rc = flush_batch(dd.store, b, &t)) < 0)
                break;
            uint64_t at = kn_env_now(cli->env);
            if (at - shown >= IMPORT_PROGRESS_MS) { /* a large file takes minutes */
                shown = at;
                fprintf(stderr,
                    "knoten: importing: %lu lines read; so far %lu new, %lu pending, %lu "
                    "refused\n",
                    lineno, t.stored + t.released,
                    t.pending > t.released ? t.pending - t.released : 0, t.refused);
            }
        }
    }
    if (rc == 0)
        rc = flush_batch(dd.store, b, &t);
    if (rc == 0 && ferror(in))
        rc = KN_EIO;
    kn_datadir_close(&dd);
    if (rc < 0) {
        code = cli_fail("import stopped at line %lu: %s (objects before the current batch are "
                        "stored; run the import again to continue)",
            lineno, kn_strerror(rc));
        goto out;
    }
    fprintf(stderr,
        "knoten: imported %lu new, %lu already present, %lu pending (waiting for what "
        "they depend on), %lu retracted, %lu refused\n",
        t.stored + t.released, t.duplicate, t.pending > t.released ? t.pending - t.released : 0,
        t.tombstoned, t.refused);
    code = t.refused ? CLI_FAIL : CLI_OK;
out:
    free(line);
    free(b);
    if (in != stdin)
        fclose(in);
    return code;
}
