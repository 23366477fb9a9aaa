/*
 * Commands that publish objects: init (the network object), thread, post,
 * link, retract. Each builds a body, signs it with the node identity and
 * stores it; the store validates it exactly as it would a peer's object.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "codec.h"
#include "crypto.h"
#include "hex.h"

static int field_cmp(const void *a, const void *b)
{
    const cli_field *x = a, *y = b;
    return kn_mp_key_cmp(x->key, (uint32_t)strlen(x->key), y->key, (uint32_t)strlen(y->key));
}

int cli_body_encode(cli_field *fields, int n, kn_mp_out *o)
{
    cli_field present[32];
    int m = 0;
    for (int i = 0; i < n && m < 32; i++) {
        if (fields[i].absent || (fields[i].kind == F_STR && !fields[i].s)
            || (fields[i].kind == F_STRS && !fields[i].nstrs)
            || (fields[i].kind == F_RAW && !fields[i].bin))
            continue;
        present[m++] = fields[i];
    }
    qsort(present, (size_t)m, sizeof present[0], field_cmp);
    kn_mp_write_map(o, (uint32_t)m);
    for (int i = 0; i < m; i++) {
        kn_mp_write_cstr(o, present[i].key);
        switch (present[i].kind) {
        case F_STR:
            kn_mp_write_cstr(o, present[i].s);
            break;
        case F_UINT:
            kn_mp_write_uint(o, present[i].u);
            break;
        case F_STRS:
            kn_mp_write_array(o, (uint32_t)present[i].nstrs);
            for (int k = 0; k < present[i].nstrs; k++)
                kn_mp_write_cstr(o, present[i].strs[k]);
            break;
        case F_BIN32:
            kn_mp_write_bin(o, present[i].bin, 32);
            break;
        case F_BOOL:
            kn_mp_write_bool(o, present[i].u != 0);
            break;
        case F_UINTS:
            kn_mp_write_array(o, (uint32_t)present[i].len);
            for (size_t k = 0; k < present[i].len; k++)
                kn_mp_write_uint(o, present[i].uints[k]);
            break;
        case F_BIN:
            kn_mp_write_bin(o, present[i].bin, present[i].len);
            break;
        case F_RAW:
            kn_mp_write_raw(o, present[i].bin, present[i].len);
            break;
        }
    }
    return kn_mp_out_error(o);
}

int cli_read_text(const char *path, const char *what, size_t max, char **out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return cli_fail("cannot read %s: %s", path, strerror(errno));
    if (f == stdin)
        cli_stdin_prompt(what);
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf)
        return cli_fail("out of memory");
    if (err) {
        free(buf);
        return cli_fail("cannot read %s", path);
    }
    if (n > max) {
        free(buf);
        return cli_fail("%s is longer than %zu bytes; shorten it", path, max);
    }
    buf[n] = 0;
    *out = buf;
    return CLI_OK;
}

/* Explains a refusal by the object schema in the terms of the command line. */
static int publish_body(kn_cli *cli, kn_datadir *dd, kn_object_draft *d, cli_field *f, int n)
{
    kn_mp_out body;
    kn_mp_out_init(&body, KN_OBJECT_MAX);
    int rc = cli_body_encode(f, n, &body);
    if (rc < 0) {
        kn_mp_out_free(&body);
        return cli_object_error(d, rc);
    }
    d->body = body.buf;
    d->body_len = body.len;
    d->created = kn_env_now(cli->env);
    rc = cli_publish(cli, dd, d);
    kn_mp_out_free(&body);
    return rc;
}

/* ---- init ---- */

/*
 * Reads a network key for `init --network-key-file`: the 32 raw bytes of a
 * member's DATA/network.key, or the same as 64 hex digits (with optional
 * surrounding whitespace) for keys sent as text.
 */
static int read_network_key(const char *path, uint8_t key[static 32])
{
    uint8_t buf[160];
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail("cannot read the network key file %s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, sizeof buf, f);
    int err = ferror(f);
    fclose(f);
    int rc = CLI_OK;
    if (err) {
        rc = cli_fail("cannot read the network key file %s", path);
    } else if (n == 32) {
        memcpy(key, buf, 32);
    } else {
        size_t a = 0, b = n;
        while (a < b && memchr(" \t\r\n", buf[a], 4))
            a++;
        while (b > a && memchr(" \t\r\n", buf[b - 1], 4))
            b--;
        if (kn_hex_decode(key, 32, (const char *)buf + a, b - a) < 0)
            rc = cli_fail("%s holds neither 32 raw bytes nor 64 hex digits.\n"
                          "Copy DATA/network.key from a node of the network you want to join.",
                path);
    }
    kn_memzero(buf, sizeof buf);
    return rc;
}

/*
 * The network object signed with a throwaway key before anything is created,
 * so that a name the schema refuses (empty, over 200 characters, not UTF-8)
 * leaves no half-made data directory behind.
 */
static int check_network(const kn_cli *cli, kn_object_draft *d, cli_field *f, int n)
{
    uint8_t seed[32], pk[32], sk[64], *raw = NULL;
    size_t len;
    kn_mp_out body;
    kn_env_random(cli->env, seed, sizeof seed);
    kn_sign_keypair_from_seed(pk, sk, seed);
    kn_mp_out_init(&body, KN_OBJECT_MAX);
    int rc = cli_body_encode(f, n, &body);
    if (rc == 0) {
        d->body = body.buf;
        d->body_len = body.len;
        rc = kn_object_sign(d, sk, &raw, &len);
        d->body = NULL;
        d->body_len = 0;
    }
    kn_mp_out_free(&body);
    free(raw);
    kn_memzero(seed, sizeof seed);
    kn_memzero(sk, sizeof sk);
    if (rc == KN_ESCHEMA)
        return cli_fail("--found takes the network's name, 1 to 200 characters, and "
                        "--description at most 4000; nothing was created");
    if (rc < 0) {
        cli_object_error(d, rc);
        return cli_fail("nothing was created");
    }
    return CLI_OK;
}

int cmd_init(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "found", required_argument, 0, 'f' },
        { "description", required_argument, 0, 'd' }, { "admit", required_argument, 0, 'k' },
        { "network-key-file", required_argument, 0, 'n' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *name = "knoten", *description = NULL, *key_file = NULL;
    bool founding_options = false;
    unsigned long admit = 1;
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "init", &code)) >= 0) {
        switch (opt) {
        case 'f':
            name = optarg;
            founding_options = true;
            break;
        case 'd':
            description = optarg;
            founding_options = true;
            break;
        case 'n':
            key_file = optarg;
            break;
        case 'k': {
            founding_options = true;
            char *end;
            errno = 0;
            admit = strtoul(optarg, &end, 10);
            if (errno || *end || admit < 1 || admit > 255)
                return cli_usage_error(cli, "--admit must be a number from 1 to 255");
            break;
        }
        }
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (kn_datadir_exists(cli->data_dir))
        return cli_fail("%s already holds a knoten node; `knoten status` shows it.\n"
                        "To start over, move that directory away first.",
            cli->data_dir);
    if ((code = cli_datadir_fresh(cli)) != CLI_OK)
        return code;

    if (key_file && founding_options)
        return cli_usage_error(cli,
            "--network-key-file joins an existing network; "
            "--found, --description and --admit found a new one");

    cli_field f[] = {
        { .key = "name", .kind = F_STR, .s = name },
        { .key = "description", .kind = F_STR, .s = description },
        { .key = "admit", .kind = F_UINT, .u = admit },
    };
    kn_object_draft d = { .type = KN_T_NETWORK, .space = "" };
    if (!key_file && (code = check_network(cli, &d, f, 3)) != CLI_OK)
        return code;
    uint8_t network_key[32];
    if (key_file) {
        if ((code = read_network_key(key_file, network_key)) != CLI_OK)
            return code;
    } else {
        kn_env_random(cli->env, network_key, sizeof network_key);
    }
    int rc = kn_datadir_create(cli->data_dir, cli->env, network_key);
    kn_memzero(network_key, sizeof network_key);
    if (rc < 0)
        return cli_fail("cannot create %s: %s", cli->data_dir, kn_strerror(rc));

    kn_datadir dd;
    if ((rc = cli_open(cli, &dd)) != CLI_OK)
        return rc;
    if (key_file) {
        /* Joining: the network object arrives from the peers; nothing is founded here. */
        char hex[65];
        kn_hex_encode(hex, dd.identity_pk, 32);
        printf(
            "Created a knoten node in %s with the network key from %s\n", cli->data_dir, key_file);
        printf("node identity: %s\n", hex);
        kn_datadir_close(&dd);
        return CLI_OK;
    }
    printf("Created a knoten node in %s\n", cli->data_dir);
    printf("network \"%s\" founded; its id:\n", name);
    fflush(stdout);
    rc = publish_body(cli, &dd, &d, f, 3);
    char hex[65];
    kn_hex_encode(hex, dd.identity_pk, 32);
    if (rc == CLI_OK) {
        printf("node identity: %s\n", hex);
        fprintf(stderr,
            "knoten: this council has no name in the network yet; give it one with\n"
            "  knoten admit %s --name \"Stadt Musterstadt\" [--ags 08115003]%s%s\n",
            hex, cli->data_given ? " --data " : "", cli->data_given ? cli->data_dir : "");
    }
    kn_datadir_close(&dd);
    return rc;
}

/* ---- thread, post, link ---- */

enum { MAX_TAGS = 32, BODY_MAX = 32000 };

/* The area option: --space and its newer name --area. */
#define AREA_LONGOPTS                                                                              \
    { "space", required_argument, 0, 's' },                                                        \
    {                                                                                              \
        "area", required_argument, 0, 's'                                                          \
    }

/* Copies the [str] field key of o into malloc'd NUL-terminated strings (at most max). */
static int obj_strs(const kn_object *o, const char *key, char **out, int max)
{
    kn_mp_in v;
    uint32_t n, len;
    const char *s;
    int k = 0;
    if (kn_object_field(o, key, &v) < 0 || kn_mp_read_array(&v, &n) < 0)
        return 0;
    for (uint32_t i = 0; i < n && k < max; i++) {
        if (kn_mp_read_str(&v, &s, &len) < 0)
            break;
        if (!(out[k] = strndup(s, len)))
            break;
        k++;
    }
    return k;
}

static void free_strs(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
}

/*
 * The area of an edit is the area of what it replaces; --area may repeat it
 * but not change it (a new version in another area would be a move that
 * listings of the old area could not follow).
 */
static int edit_space(const char *given, const kn_object *base, char *space)
{
    cli_obj_space(base, space);
    if (given && strcmp(given, space) != 0)
        return cli_fail(
            "an edit stays in the area of what it replaces (\"%s\"); leave out --area", space);
    return CLI_OK;
}

int cmd_thread(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { AREA_LONGOPTS, { "title", required_argument, 0, 't' },
        { "body", required_argument, 0, 'b' }, { "body-file", required_argument, 0, 'B' },
        { "tag", required_argument, 0, 'g' }, { "edit", required_argument, 0, 'e' },
        { "as", required_argument, 0, 'A' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *space = NULL, *title = NULL, *body = NULL, *body_file = NULL, *edit = NULL,
               *as = NULL;
    char *tags[MAX_TAGS], *old_tags[MAX_TAGS];
    int ntags = 0, nold = 0, opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "thread", &code)) >= 0) {
        switch (opt) {
        case 's':
            space = optarg;
            break;
        case 't':
            title = optarg;
            break;
        case 'b':
            body = optarg;
            break;
        case 'B':
            body_file = optarg;
            break;
        case 'e':
            edit = optarg;
            break;
        case 'A':
            as = optarg;
            break;
        case 'g':
            if (ntags == MAX_TAGS)
                return cli_usage_error(cli, "at most %d tags", MAX_TAGS);
            tags[ntags++] = optarg;
            break;
        }
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (!edit && (!space || !title))
        return cli_usage_error(cli, "--area and --title are required");
    if (body && body_file)
        return cli_usage_error(cli, "give --body or --body-file, not both");
    char *text = NULL, *old_body = NULL, old_title[301], sp[KN_SPACE_MAX + 1];
    uint8_t *base_raw = NULL;
    kn_object base;
    cli_signer sg;
    kn_datadir dd;
    if (body_file && (code = cli_read_text(body_file, "the body", BODY_MAX, &text)) != CLI_OK)
        return code;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        goto out_text;
    if ((code = cli_signer_open(cli, &dd, as, &sg)) != CLI_OK)
        goto out_dd;
    kn_object_draft d = { .type = KN_T_THREAD, .space = space };
    if (edit) {
        if ((code = cli_edit_base(cli, &dd, edit, KN_T_THREAD, &sg, &base_raw, &base)) != CLI_OK
            || (code = edit_space(space, &base, sp)) != CLI_OK)
            goto out;
        d.space = sp;
        memcpy(d.refs[0], base.id, KN_ID);
        d.nrefs = 1;
        if (!title) {
            cli_obj_str(&base, "title", old_title, sizeof old_title);
            title = old_title;
        }
        if (!body && !text) {
            const char *b;
            uint32_t bl;
            if (kn_object_str(&base, "body", &b, &bl) == 0 && !(old_body = strndup(b, bl))) {
                code = cli_fail("out of memory");
                goto out;
            }
            body = old_body;
        }
        if (ntags == 0)
            nold = obj_strs(&base, "tags", old_tags, MAX_TAGS);
    }
    cli_field f[] = {
        { .key = "title", .kind = F_STR, .s = title },
        { .key = "body",
            .kind = F_STR,
            .s = text  ? text
                : body ? body
                       : "" },
        { .key = "tags",
            .kind = F_STRS,
            .strs = ntags ? tags : old_tags,
            .nstrs = ntags ? ntags : nold },
    };
    code = cli_publish_fields(cli, &dd, &d, f, 3, &sg, false, NULL);
out:
    free_strs(old_tags, nold);
    free(old_body);
    free(base_raw);
    cli_signer_close(&sg);
out_dd:
    kn_datadir_close(&dd);
out_text:
    free(text);
    return code;
}

int cmd_post(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "reply-to", required_argument, 0, 'r' }, { "body", required_argument, 0, 'b' },
              { "body-file", required_argument, 0, 'B' }, { "edit", required_argument, 0, 'e' },
              { "as", required_argument, 0, 'A' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *reply_to = NULL, *body = NULL, *body_file = NULL, *edit = NULL, *as = NULL;
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "post", &code)) >= 0) {
        if (opt == 'r')
            reply_to = optarg;
        else if (opt == 'b')
            body = optarg;
        else if (opt == 'B')
            body_file = optarg;
        else if (opt == 'e')
            edit = optarg;
        else if (opt == 'A')
            as = optarg;
    }
    if (opt == CLI_STOP)
        return code;
    if (edit ? optind != argc : optind + 1 != argc)
        return cli_usage_error(
            cli, edit ? "with --edit POST-ID give no THREAD-ID" : "give exactly one THREAD-ID");
    if (edit && reply_to)
        return cli_usage_error(cli,
            "an edit keeps the place of the post it replaces; "
            "leave out --reply-to");
    if (!body == !body_file)
        return cli_usage_error(cli, "give --body or --body-file (one of them)");
    kn_object_draft d = { .type = KN_T_POST, .nrefs = 2 };
    if (!edit) {
        if ((code = cli_parse_id(cli, "THREAD-ID", argv[optind], d.refs[0])) != CLI_OK)
            return code;
        memcpy(d.refs[1], d.refs[0], KN_ID);
        if (reply_to && (code = cli_parse_id(cli, "--reply-to", reply_to, d.refs[1])) != CLI_OK)
            return code;
    }
    char *text = NULL, space[KN_SPACE_MAX + 1] = "";
    uint8_t *raw = NULL;
    kn_object o;
    cli_signer sg;
    kn_datadir dd;
    if (body_file && (code = cli_read_text(body_file, "the body", BODY_MAX, &text)) != CLI_OK)
        return code;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        goto out_text;
    if ((code = cli_signer_open(cli, &dd, as, &sg)) != CLI_OK)
        goto out_dd;
    if (edit) {
        /* Same thread, same parent, and the version it replaces. */
        if ((code = cli_edit_base(cli, &dd, edit, KN_T_POST, &sg, &raw, &o)) != CLI_OK)
            goto out;
        memcpy(d.refs[0], o.refs[0], KN_ID);
        memcpy(d.refs[1], o.refs[1], KN_ID);
        memcpy(d.refs[2], o.id, KN_ID);
        d.nrefs = 3;
    } else if ((code = cli_load_object(&dd, argv[optind], d.refs[0], KN_T_THREAD, &raw, &o))
        != CLI_OK) {
        goto out;
    }
    /* A reply lives in its thread's area. */
    cli_obj_space(&o, space);
    d.space = space;
    cli_field f[] = { { .key = "body", .kind = F_STR, .s = text ? text : body } };
    code = cli_publish_fields(cli, &dd, &d, f, 1, &sg, false, NULL);
out:
    free(raw);
    cli_signer_close(&sg);
out_dd:
    kn_datadir_close(&dd);
out_text:
    free(text);
    return code;
}

int cmd_link(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { AREA_LONGOPTS, { "url", required_argument, 0, 'u' },
        { "title", required_argument, 0, 't' }, { "description", required_argument, 0, 'd' },
        { "tag", required_argument, 0, 'g' }, { "edit", required_argument, 0, 'e' },
        { "as", required_argument, 0, 'A' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *space = NULL, *url = NULL, *title = NULL, *description = NULL, *edit = NULL,
               *as = NULL;
    char *tags[MAX_TAGS], *old_tags[MAX_TAGS];
    int ntags = 0, nold = 0, opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "link", &code)) >= 0) {
        switch (opt) {
        case 's':
            space = optarg;
            break;
        case 'u':
            url = optarg;
            break;
        case 't':
            title = optarg;
            break;
        case 'd':
            description = optarg;
            break;
        case 'e':
            edit = optarg;
            break;
        case 'A':
            as = optarg;
            break;
        case 'g':
            if (ntags == MAX_TAGS)
                return cli_usage_error(cli, "at most %d tags", MAX_TAGS);
            tags[ntags++] = optarg;
            break;
        }
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (!edit && (!space || !url || !title))
        return cli_usage_error(cli, "--area, --url and --title are required");
    if (url && strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return cli_usage_error(cli, "the URL must start with http:// or https://");
    char old_url[2049], old_title[301], old_desc[4001], sp[KN_SPACE_MAX + 1];
    uint8_t *base_raw = NULL;
    kn_object base;
    cli_signer sg;
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    if ((code = cli_signer_open(cli, &dd, as, &sg)) != CLI_OK)
        goto out_dd;
    kn_object_draft d = { .type = KN_T_LINK, .space = space };
    if (edit) {
        if ((code = cli_edit_base(cli, &dd, edit, KN_T_LINK, &sg, &base_raw, &base)) != CLI_OK
            || (code = edit_space(space, &base, sp)) != CLI_OK)
            goto out;
        d.space = sp;
        memcpy(d.refs[0], base.id, KN_ID);
        d.nrefs = 1;
        cli_obj_str(&base, "url", old_url, sizeof old_url);
        cli_obj_str(&base, "title", old_title, sizeof old_title);
        cli_obj_str(&base, "description", old_desc, sizeof old_desc);
        url = url ? url : old_url;
        title = title ? title : old_title;
        description = description ? description : old_desc[0] ? old_desc : NULL;
        if (ntags == 0)
            nold = obj_strs(&base, "tags", old_tags, MAX_TAGS);
    }
    cli_field f[] = {
        { .key = "url", .kind = F_STR, .s = url },
        { .key = "title", .kind = F_STR, .s = title },
        { .key = "description", .kind = F_STR, .s = description },
        { .key = "tags",
            .kind = F_STRS,
            .strs = ntags ? tags : old_tags,
            .nstrs = ntags ? ntags : nold },
    };
    code = cli_publish_fields(cli, &dd, &d, f, 4, &sg, false, NULL);
out:
    free_strs(old_tags, nold);
    free(base_raw);
    cli_signer_close(&sg);
out_dd:
    kn_datadir_close(&dd);
    return code;
}

/* ---- retract ---- */

/*
 * Retracts the object and every other version of it (an edit is a new
 * object; taking back only the newest would bring the previous one back into
 * listings). Newest first, one retract per version.
 */
int cmd_retract(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "reason", required_argument, 0, 'r' },
        { "as", required_argument, 0, 'A' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *reason = NULL, *as = NULL;
    int opt, code = -1;
    optind = 1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "retract", &code)) >= 0) {
        if (opt == 'r')
            reason = optarg;
        else if (opt == 'A')
            as = optarg;
    }
    if (opt == CLI_STOP)
        return code;
    if (optind + 1 != argc)
        return cli_usage_error(cli, "give exactly one ID");
    uint8_t id[KN_ID], *raw = NULL;
    if ((code = cli_check_id_arg(cli, "ID", argv[optind])) != CLI_OK)
        return code;
    kn_datadir dd;
    cli_signer sg;
    kn_object o;
    kn_versions v;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    if ((code = cli_signer_open(cli, &dd, as, &sg)) != CLI_OK)
        goto out_dd;
    if ((code = cli_resolve_id(&dd, argv[optind], id)) != CLI_OK
        || (code = cli_load_object(&dd, argv[optind], id, 0, &raw, &o)) != CLI_OK)
        goto out;
    if (memcmp(o.author, sg.pk, 32) != 0) {
        kn_roster_user u;
        bool certified_here = !sg.user && kn_store_user_get(dd.store, o.author, &u) == 0
            && memcmp(u.node, sg.pk, 32) == 0;
        if (!certified_here) {
            code = cli_fail("%s was written by another author; only its author (--as USER for a "
                            "user of this node) or the node that certified that user may "
                            "retract it",
                argv[optind]);
            goto out;
        }
    }
    int rc = kn_store_versions(dd.store, id, &v);
    if (rc < 0) {
        code = cli_fail("cannot read the versions of %s: %s", argv[optind], kn_strerror(rc));
        goto out;
    }
    if (v.n > 1)
        fprintf(stderr, "knoten: retracting all %zu versions of %s\n", v.n, argv[optind]);
    for (size_t i = v.n; i-- > 0 && code == CLI_OK;) {
        kn_object_draft d = { .type = KN_T_RETRACT, .space = "", .nrefs = 1 };
        memcpy(d.refs[0], v.id[i], KN_ID);
        cli_field f[] = { { .key = "reason", .kind = F_STR, .s = reason } };
        code = cli_publish_fields(cli, &dd, &d, f, 1, &sg, false, NULL);
    }
out:
    free(raw);
    cli_signer_close(&sg);
out_dd:
    kn_datadir_close(&dd);
    return code;
}
