/*
 * `knoten search`: full-text search over what this node holds (store/search.h),
 * with filters by area, type, council and date, as text or JSON lines.
 */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "grow.h"
#include "hex.h"
#include "search.h"

enum { COUNCIL_NAME_MAX = 200, COUNCIL_MATCHES_MAX = 8 };

/*
 * A date as YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (UTC), in ms. end_of_day: a
 * bare date means the end of that day (for --until, which includes it).
 * Returns 0 or -1.
 */
static int parse_date(const char *s, bool end_of_day, uint64_t *out)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    char sep;
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    bool has_time = false;
    if (s[n]) {
        int n2 = 0;
        sep = s[n];
        if ((sep != 'T' && sep != ' ')
            || (sscanf(s + n + 1, "%2d:%2d%n", &h, &mi, &n2) != 2 || n2 != 5))
            return -1;
        n += 1 + n2;
        if (s[n] == ':') {
            int n3 = 0;
            if (sscanf(s + n + 1, "%2d%n", &sec, &n3) != 1 || n3 != 2)
                return -1;
            n += 3;
        }
        if (s[n] == 'Z')
            n++;
        if (s[n])
            return -1;
        has_time = true;
    }
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59
        || sec > 60 || h < 0 || mi < 0 || sec < 0)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d) /* 2026-02-31 rolls over: refuse it */
        return -1;
    *out = (uint64_t)t * 1000 + (end_of_day && !has_time ? 86400000ull : 0);
    return 0;
}

/* The name admits give each council node (the newest one wins). */
typedef struct council_names {
    struct {
        uint8_t key[KN_KEY];
        char name[COUNCIL_NAME_MAX + 1];
    } * v;
    size_t n, cap;
    int err;
} council_names;

static int collect_council(void *ctx, const kn_object *o)
{
    council_names *c = ctx;
    const uint8_t *key;
    const char *s;
    uint32_t kl, sl;
    if (kn_object_bin(o, "node", &key, &kl) < 0 || kl != KN_KEY
        || kn_object_str(o, "name", &s, &sl) < 0 || sl > COUNCIL_NAME_MAX)
        return 0;
    size_t i = 0;
    while (i < c->n && memcmp(c->v[i].key, key, KN_KEY) != 0)
        i++;
    if (i == c->n) {
        if (c->n == c->cap) {
            void *nv = kn_grow(c->v, &c->cap, 16, sizeof *c->v);
            if (!nv) {
                c->err = KN_ENOMEM;
                return 1;
            }
            c->v = nv;
        }
        memcpy(c->v[c->n++].key, key, KN_KEY);
    }
    memcpy(c->v[i].name, s, sl);
    c->v[i].name[sl] = 0;
    return 0;
}

static const char *council_name(const council_names *c, const uint8_t key[KN_KEY])
{
    for (size_t i = 0; i < c->n; i++)
        if (memcmp(c->v[i].key, key, KN_KEY) == 0)
            return c->v[i].name;
    return NULL;
}

/*
 * --council: 64 hex digits, or a part of a council's name as its admission
 * gave it (case does not matter). Several councils matching is an error
 * that lists them.
 */
static int resolve_council(
    kn_cli *cli, const council_names *names, const char *arg, uint8_t out[KN_KEY])
{
    size_t found = 0, exact = 0, which = 0;
    if (strlen(arg) == 64 && kn_hex_decode(out, KN_KEY, arg, 64) == 0)
        return CLI_OK;
    for (size_t i = 0; i < names->n; i++) {
        if (strcasecmp(names->v[i].name, arg) == 0) {
            exact++;
            which = i;
        }
    }
    if (exact == 1) {
        memcpy(out, names->v[which].key, KN_KEY);
        return CLI_OK;
    }
    for (size_t i = 0; i < names->n; i++)
        if (strcasestr(names->v[i].name, arg)) {
            found++;
            which = i;
        }
    if (found == 1) {
        memcpy(out, names->v[which].key, KN_KEY);
        return CLI_OK;
    }
    if (found == 0)
        return cli_usage_error(cli,
            "no council is called \"%s\"; `knoten members` lists them (give the name or the "
            "64-digit key)",
            arg);
    fprintf(stderr, "%s: \"%s\" matches several councils:\n", cli->prog, arg);
    size_t shown = 0;
    for (size_t i = 0; i < names->n && shown < COUNCIL_MATCHES_MAX; i++)
        if (strcasestr(names->v[i].name, arg)) {
            char hex[65];
            kn_hex_encode(hex, names->v[i].key, KN_KEY);
            fprintf(stderr, "  %s  %s\n", hex, names->v[i].name);
            shown++;
        }
    return cli_usage_error(cli, "give more of the name, or the key");
}

/* The query words a hit lacks, for the fallback ("without: zebra"). */
static void missing_words(const kn_search_result *r, const kn_search_hit *h, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < r->nwords; i++) {
        if (h->matched & (1u << i))
            continue;
        int w = snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", r->words[i]);
        if (w < 0 || (size_t)w >= cap - o)
            break;
        o += (size_t)w;
    }
}

static int print_hit_json(const kn_search_result *r, size_t i, const council_names *names)
{
    const kn_search_hit *h = &r->hits[i];
    char id[65], author[65], council[65], when[40];
    kn_hex_encode(id, h->id, KN_ID);
    kn_hex_encode(author, h->author, KN_KEY);
    kn_hex_encode(council, h->council, KN_KEY);
    cli_format_time(when, sizeof when, h->created);
    json_t *matched = json_array();
    for (uint32_t w = 0; matched && w < r->nwords; w++)
        if (h->matched & (1u << w))
            json_array_append_new(matched, json_string(r->words[w]));
    json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:f, s:s, s:s, s:s?, s:o?}",
        "rank", (json_int_t)(i + 1), "id", id, "type", kn_otype_name(h->type), "area", h->space,
        "created", (json_int_t)h->created, "created_utc", when, "title", h->title, "snippet",
        h->snippet, "score", h->score, "author", author, "council", council, "council_name",
        council_name(names, h->council), "matched", matched);
    if (!j)
        return KN_ENOMEM;
    int rc = json_dumpf(j, stdout, JSON_COMPACT) == 0 ? 0 : KN_EIO;
    json_decref(j);
    if (rc == 0 && putchar('\n') == EOF)
        rc = KN_EIO;
    return rc;
}

static void print_hit_text(const kn_search_result *r, size_t i, const council_names *names)
{
    const kn_search_hit *h = &r->hits[i];
    char id[65], when[40], missing[256];
    kn_hex_encode(id, h->id, KN_ID);
    cli_format_time(when, sizeof when, h->created);
    const char *cn = council_name(names, h->council);
    char ckey[17];
    if (!cn) {
        kn_hex_encode(ckey, h->council, 8);
        cn = ckey;
    }
    printf("%2zu. %s\n", i + 1, h->title[0] ? h->title : "(untitled)");
    printf(
        "    %s | %s | %s | %s\n", kn_otype_name(h->type), h->space[0] ? h->space : "-", when, cn);
    if (h->snippet[0])
        printf("    %s\n", h->snippet);
    if (r->fallback) {
        missing_words(r, h, missing, sizeof missing);
        if (missing[0])
            printf("    (without: %s)\n", missing);
    }
    printf("    %s\n\n", id);
}

int cmd_search(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "area", required_argument, 0, 's' },
        { "space", required_argument, 0, 's' }, { "type", required_argument, 0, 't' },
        { "council", required_argument, 0, 'c' }, { "since", required_argument, 0, 'S' },
        { "until", required_argument, 0, 'U' }, { "limit", required_argument, 0, 'n' },
        { "json", no_argument, 0, 'j' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    kn_search_query q = { 0 };
    const char *council_arg = NULL;
    char text[KN_SEARCH_QUERY_MAX + 1];
    bool json = false;
    int opt, code = -1;

    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "search", &code)) >= 0) {
        switch (opt) {
        case 's':
            if (!*optarg || strlen(optarg) > KN_SPACE_MAX)
                return cli_usage_error(
                    cli, "--area needs an area name of 1 to %d bytes", KN_SPACE_MAX);
            q.space = optarg;
            break;
        case 't': {
            int t = kn_otype_from_name(optarg, strlen(optarg));
            if (t < 0
                || !(t == KN_T_DOC || t == KN_T_THREAD || t == KN_T_POST || t == KN_T_LINK
                    || t == KN_T_POLL || t == KN_T_EVENT || t == KN_T_USER))
                return cli_usage_error(cli,
                    "--type must be one of doc, thread, post, link, poll, event, user "
                    "(the types that are searched), not \"%s\"",
                    optarg);
            q.type = (kn_otype)t;
            break;
        }
        case 'c':
            council_arg = optarg;
            break;
        case 'S':
            if (parse_date(optarg, false, &q.since_ms) < 0)
                return cli_usage_error(cli,
                    "--since wants a date like 2026-11-01 or 2026-11-01T08:00 (UTC), not \"%s\"",
                    optarg);
            break;
        case 'U':
            if (parse_date(optarg, true, &q.until_ms) < 0)
                return cli_usage_error(cli,
                    "--until wants a date like 2026-11-30 or 2026-11-30T18:00 (UTC), not \"%s\"",
                    optarg);
            break;
        case 'n': {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || optarg[0] == '-' || v < 1 || v > KN_SEARCH_LIMIT_MAX)
                return cli_usage_error(
                    cli, "--limit must be a number from 1 to %d", KN_SEARCH_LIMIT_MAX);
            q.limit = (uint32_t)v;
            break;
        }
        case 'j':
            json = true;
            break;
        }
    }
    if (opt == CLI_STOP)
        return code;
    if (optind >= argc)
        return cli_usage_error(
            cli, "give the words to search for, e.g. knoten search Gewerbesteuer");
    /* The words may come as one argument or several. */
    size_t len = 0;
    for (int i = optind; i < argc; i++) {
        size_t l = strlen(argv[i]);
        if (len + l + 1 > KN_SEARCH_QUERY_MAX)
            return cli_usage_error(
                cli, "the query is too long (at most %d bytes)", KN_SEARCH_QUERY_MAX);
        if (len)
            text[len++] = ' ';
        memcpy(text + len, argv[i], l);
        len += l;
    }
    text[len] = 0;
    q.text = text;
    if (q.until_ms && q.until_ms <= q.since_ms)
        return cli_usage_error(cli, "--until must be later than --since");

    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    council_names names = { 0 };
    kn_store_query aq = { .index = KN_BY_SPACE_TYPE, .space = "", .type = KN_T_ADMIT };
    int rc = kn_store_each(dd.store, &aq, collect_council, &names);
    if (rc < 0 || names.err < 0) {
        code
            = cli_fail("cannot read the councils' names: %s", kn_strerror(rc < 0 ? rc : names.err));
        goto out;
    }
    uint8_t council[KN_KEY];
    if (council_arg) {
        if ((code = resolve_council(cli, &names, council_arg, council)) != CLI_OK)
            goto out;
        q.council = council;
    }
    kn_search_stats st;
    if (kn_store_search_stats(dd.store, &st) == 0 && !st.complete)
        fprintf(stderr,
            "knoten: the search index of this node is still being built; results may be "
            "incomplete.\n");
    kn_search_result r;
    rc = kn_store_search(dd.store, &q, &r);
    switch (rc) {
    case 0:
        break;
    case KN_EINVAL:
        code = cli_usage_error(cli,
            "nothing to search for in \"%s\": words need two or more letters or digits, "
            "and very common words (der, die, und, the, of ...) are left out",
            text);
        goto out;
    case KN_ETOOBIG:
        code = cli_usage_error(
            cli, "the query has more than %d different words; leave some out", KN_SEARCH_WORDS_MAX);
        goto out;
    case KN_EUTF8:
        code = cli_usage_error(
            cli, "the query is not valid UTF-8; check the character set of the terminal");
        goto out;
    default:
        code = cli_fail("cannot search: %s", kn_strerror(rc));
        goto out;
    }
    code = CLI_OK;
    if (!json && r.n > 0)
        printf("%llu result%s for \"%s\"%s\n\n", (unsigned long long)r.total,
            r.total == 1 ? "" : "s", text,
            r.n < r.total ? " (the best first; --limit shows more)" : "");
    for (size_t i = 0; i < r.n; i++) {
        if (json) {
            if (print_hit_json(&r, i, &names) < 0) {
                code = cli_fail("cannot write the results");
                break;
            }
        } else {
            print_hit_text(&r, i, &names);
        }
    }
    if (r.n == 0)
        fprintf(stderr, "knoten: nothing found for \"%s\".\n", text);
    if (r.fallback)
        fprintf(stderr,
            "knoten: no result contains every word; these contain some of them (the best "
            "first).\n");
    if (r.truncated)
        fprintf(stderr,
            "knoten: the query matches very many entries, and only the newest were ranked; add "
            "a word or narrow it with --area, --type, --council or --since.\n");
    kn_search_result_free(&r);
out:
    free(names.v);
    kn_datadir_close(&dd);
    return code;
}
