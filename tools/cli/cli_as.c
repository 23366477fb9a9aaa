/*
 * What the collaboration commands share: signing as a member of staff
 * (--as USER), publishing a body of fields, loading the object an argument
 * names, and finding the version an --edit replaces.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "crypto.h"
#include "hex.h"
#include "tz.h"
#include "users.h"

int cli_signer_open(kn_cli *cli, kn_datadir *dd, const char *as, cli_signer *sg)
{
    (void)cli;
    memset(sg, 0, sizeof *sg);
    if (!as) {
        memcpy(sg->pk, dd->identity_pk, 32);
        memcpy(sg->sk, dd->identity_sk, 64);
        sg->loaded = true;
        return CLI_OK;
    }
    int rc = kn_users_find(dd, as, sg->pk);
    if (rc == KN_ENOTFOUND)
        return cli_fail("no user \"%s\" on this node; `knoten user ls` lists this node's staff "
                        "(give the name or the key), `knoten user add` creates one",
            as);
    if (rc == KN_EEXIST)
        return cli_fail(
            "several users are called \"%s\"; give the KEY from `knoten user ls` instead", as);
    if (rc < 0)
        return cli_fail("cannot read the users: %s", kn_strerror(rc));
    rc = kn_users_load_secret(dd, sg->pk, sg->sk);
    if (rc == KN_ENOTFOUND)
        return cli_fail("this node does not hold the key of \"%s\": a user publishes on the node "
                        "that created it (`knoten user ls` shows KEY HELD)",
            as);
    if (rc == KN_EPERM)
        return cli_fail("the key file of \"%s\" is readable by others; fix it with "
                        "`chmod 600 %s/users/*.key`",
            as, dd->path);
    if (rc < 0)
        return cli_fail("cannot load the key of \"%s\": %s", as, kn_strerror(rc));
    sg->user = true;
    sg->loaded = true;
    return CLI_OK;
}

void cli_signer_close(cli_signer *sg)
{
    if (sg)
        kn_memzero(sg->sk, sizeof sg->sk);
}

int cli_need_as(kn_cli *cli, const char *as, const char *what)
{
    if (as)
        return CLI_OK;
    return cli_usage_error(cli,
        "%s come from staff, not from the node: give --as USER "
        "(`knoten user ls` lists this node's users)",
        what);
}

/* A refusal by the store, in words that say what to do. */
static int explain_refusal(kn_otype type, int rc)
{
    const char *t = kn_otype_name(type);
    switch (rc) {
    case KN_EUNAUTH:
        return cli_fail("the %s was refused: its author may not publish it (a vote, RSVP or "
                        "message needs --as USER; only the author or its node may retract)",
            t);
    case KN_EEXPIRED:
        return cli_fail("the %s was refused: the poll's deadline has passed", t);
    case KN_ERETRACTED:
        return cli_fail("the %s was refused: what it refers to was retracted", t);
    case KN_ESCHEMA:
        return cli_fail("the %s was refused: it does not fit what it refers to (a choice the poll "
                        "does not have, several choices in a single-choice poll, another area, "
                        "or the wrong kind of object)",
            t);
    default:
        return cli_fail("cannot store the %s: %s", t, kn_strerror(rc));
    }
}

int cli_publish_fields(kn_cli *cli, kn_datadir *dd, kn_object_draft *d, cli_field *f, int n,
    const cli_signer *sg, bool quiet, uint8_t *id_out)
{
    kn_mp_out body;
    uint8_t *raw = NULL, id[KN_ID];
    size_t len;
    char hex[2 * KN_ID + 1];
    int rc;

    kn_mp_out_init(&body, KN_OBJECT_MAX);
    if ((rc = cli_body_encode(f, n, &body)) < 0) {
        kn_mp_out_free(&body);
        return cli_object_error(d, rc);
    }
    d->body = body.buf;
    d->body_len = body.len;
    d->created = kn_env_now(cli->env);
    rc = kn_object_sign(d, sg ? sg->sk : dd->identity_sk, &raw, &len);
    kn_mp_out_free(&body);
    d->body = NULL;
    if (rc == KN_ESCHEMA)
        return cli_fail("the %s does not fit its schema (docs/objects.md): a field is empty, too "
                        "long, or holds control characters",
            kn_otype_name(d->type));
    if (rc < 0)
        return cli_object_error(d, rc);
    rc = kn_store_put(dd->store, raw, len, kn_env_now(cli->env), id);
    free(raw);
    if (rc < 0)
        return explain_refusal(d->type, rc);
    if (rc == KN_PUT_PENDING)
        fprintf(stderr,
            "knoten: stored as pending: something it depends on is not here yet "
            "(see `knoten status`).\n");
    if (id_out)
        memcpy(id_out, id, KN_ID);
    if (!quiet) {
        kn_hex_encode(hex, id, KN_ID);
        puts(hex);
    }
    return CLI_OK;
}

int cli_load_object(kn_datadir *dd, const char *arg, const uint8_t id[32], kn_otype want,
    uint8_t **raw, kn_object *o)
{
    size_t len;
    *raw = NULL;
    int rc = kn_store_get(dd->store, id, raw, &len);
    if (rc == KN_ENOTFOUND)
        return cli_fail("no object %s on this node; `knoten ls%s%s` lists what is here", arg,
            want ? " --type " : "", want ? kn_otype_name(want) : "");
    if (rc == KN_ERETRACTED)
        return cli_fail("%s was retracted: its content is gone", arg);
    if (rc < 0 || (rc = kn_object_decode(o, *raw, len)) < 0) {
        free(*raw);
        *raw = NULL;
        return cli_fail("cannot read %s: %s", arg, kn_strerror(rc));
    }
    if (want && o->type != want) {
        int code
            = cli_fail("%s is a %s, not a %s", arg, kn_otype_name(o->type), kn_otype_name(want));
        free(*raw);
        *raw = NULL;
        return code;
    }
    return CLI_OK;
}

int cli_edit_base(kn_cli *cli, kn_datadir *dd, const char *arg, kn_otype want, const cli_signer *sg,
    uint8_t **raw, kn_object *o)
{
    uint8_t id[KN_ID];
    kn_versions v;
    int code, rc;

    *raw = NULL;
    if ((code = cli_parse_id(cli, "--edit", arg, id)) != CLI_OK)
        return code;
    if ((code = cli_load_object(dd, arg, id, want, raw, o)) != CLI_OK)
        return code;
    if (memcmp(o->author, sg->pk, 32) != 0) {
        free(*raw);
        *raw = NULL;
        return cli_fail("%s was written by another author: an edit is a new version by the same "
                        "author%s",
            arg, sg->user ? "" : " (for a user's object, give --as USER)");
    }
    if ((rc = kn_store_versions(dd->store, id, &v)) < 0) {
        free(*raw);
        *raw = NULL;
        return cli_fail("cannot read the versions of %s: %s", arg, kn_strerror(rc));
    }
    if (memcmp(kn_versions_newest(&v), id, KN_ID) != 0) {
        /* Edit the newest version, so that versions form a line rather than a fork. */
        char hex[65];
        free(*raw);
        kn_hex_encode(hex, kn_versions_newest(&v), KN_ID);
        fprintf(stderr, "knoten: %s has a newer version %s; editing that one.\n", arg, hex);
        return cli_load_object(dd, hex, kn_versions_newest(&v), want, raw, o);
    }
    return CLI_OK;
}

void cli_obj_str(const kn_object *o, const char *key, char *buf, size_t cap)
{
    const char *s;
    uint32_t len;
    buf[0] = 0;
    if (kn_object_str(o, key, &s, &len) == 0) {
        if (len >= cap)
            len = (uint32_t)cap - 1;
        memcpy(buf, s, len);
        buf[len] = 0;
    }
}

void cli_obj_space(const kn_object *o, char *buf)
{
    memcpy(buf, o->space, o->space_len);
    buf[o->space_len] = 0;
}

int cli_write_output(const char *path, const char *data, size_t len)
{
    FILE *f = path ? fopen(path, "wb") : stdout;
    int code = CLI_OK;
    if (!f || fwrite(data, 1, len, f) != len || fflush(f) != 0)
        code = cli_fail("cannot write %s: %s", path ? path : "standard output", strerror(errno));
    if (f && path && fclose(f) != 0 && code == CLI_OK)
        code = cli_fail("cannot write %s: %s", path, strerror(errno));
    return code;
}

void cli_print_col(const char *s, size_t len, int width)
{
    int chars = 0;
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)s[i] & 0xc0) != 0x80;
    fwrite(s, 1, len, stdout);
    for (; chars < width; chars++)
        putchar(' ');
    putchar(' ');
}

void cli_short_hex(char out[17], const uint8_t key[32])
{
    char hex[65];
    kn_hex_encode(hex, key, 32);
    memcpy(out, hex, 16);
    out[16] = 0;
}

/*
 * "2026-12-03 10:00", "2026-12-03T10:00", with optional ":SS", or a date
 * alone (the start of that day) in zone tz, as UTC milliseconds.
 */
int cli_parse_local_time(kn_cli *cli, const char *opt, const char *s, const char *tz, uint64_t *ms)
{
    bool exists = true;
    int rc = kn_tz_parse_local(s, tz, ms, &exists);
    if (rc == KN_ENOTFOUND || rc == KN_ECONFIG)
        return cli_usage_error(cli,
            "unknown time zone \"%s\"; give an IANA name such as Europe/Berlin (see "
            "/usr/share/zoneinfo)",
            tz);
    if (rc == KN_EINVAL)
        return cli_usage_error(cli, "%s: \"%s\" is not a time like \"2026-12-03 10:00\"", opt, s);
    if (rc < 0)
        return cli_fail("cannot read the time zone %s: %s", tz, kn_strerror(rc));
    if (!exists)
        fprintf(stderr,
            "knoten: %s %s does not exist in %s (the clocks go forward then); "
            "taken as one hour later.\n",
            opt, s, tz);
    return CLI_OK;
}
