/*
 * Web logins for staff (store/accounts.h): `knoten user add --login NAME`
 * creates one next to the user certificate (`knoten user login USER --login
 * NAME` for a user made without), `knoten user passwd LOGIN` sets a
 * new password or a new activation link, `knoten user logins` lists them.
 *
 * The password comes from the terminal (asked twice, not echoed), from
 * standard input with --password-stdin (one line), or not at all: then a
 * one-time activation link is printed, valid for 7 days, for the person to
 * choose the password in the browser. Only the Argon2id hash of a password
 * and the BLAKE2b hash of an activation token are stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounts.h"
#include "cli.h"
#include "crypto.h"
#include "hex.h"
#include "node.h"
#include "users.h"

enum { PW_MAX = 1024, PW_MIN = 8, ACTIVATION_DAYS = 7 };

/* Reads one line (without its newline) from f into buf; false at EOF or if too long. */
static bool read_line(FILE *f, char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, f))
        return false;
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[--n] = 0;
    else if (!feof(f))
        return false; /* longer than cap */
    if (n && buf[n - 1] == '\r')
        buf[--n] = 0;
    return true;
}

static int read_password(bool from_stdin, char pw[PW_MAX + 2])
{
    if (from_stdin) {
        if (!read_line(stdin, pw, PW_MAX + 2))
            return cli_fail(
                "--password-stdin: give the password as one line of at most %d bytes", PW_MAX);
    } else {
        char *p = getpass("Password for the web login: ");
        if (!p)
            return cli_fail("cannot read the password from the terminal");
        snprintf(pw, PW_MAX + 2, "%s", p);
        kn_memzero(p, strlen(p));
        char again[PW_MAX + 2];
        p = getpass("Repeat the password: ");
        snprintf(again, sizeof again, "%s", p ? p : "");
        if (p)
            kn_memzero(p, strlen(p));
        bool same = strcmp(again, pw) == 0;
        kn_memzero(again, sizeof again);
        if (!same)
            return cli_fail("the passwords differ; nothing was changed");
    }
    if (strlen(pw) < PW_MIN || strlen(pw) > PW_MAX)
        return cli_fail("a password has %d to %d bytes; nothing was changed", PW_MIN, PW_MAX);
    return CLI_OK;
}

/* Sets a password (mode 'p' prompt, 's' stdin) or a new activation token (mode 'a'). */
static int set_secret(kn_cli *cli, kn_datadir *dd, kn_account *a, char mode)
{
    int code = CLI_OK;
    if (mode == 'a') {
        uint8_t token[32];
        char hex[65], addr[400] = "127.0.0.1:8470/";
        uint8_t *v = NULL;
        size_t len;
        kn_env_random(cli->env, token, sizeof token);
        kn_blake2b(a->activation, 32, token, 32);
        a->has_activation = true;
        a->activation_expires_ms = kn_env_now(cli->env) + ACTIVATION_DAYS * 24ull * 3600 * 1000;
        kn_hex_encode(hex, token, 32);
        kn_memzero(token, sizeof token);
        if (kn_store_setting_get(dd->store, KN_HTTP_SETTING, &v, &len) == 0 && len < sizeof addr) {
            memcpy(addr, v, len);
            addr[len] = 0;
        }
        free(v);
        int rc = kn_account_put(dd->store, a);
        if (rc < 0) {
            kn_memzero(hex, sizeof hex);
            return cli_fail("cannot store the account: %s", kn_strerror(rc));
        }
        fprintf(stderr,
            "knoten: web login \"%s\": send this one-time link to the person (valid %d days; "
            "behind a reverse proxy, use its address instead of %s):\n",
            a->login, ACTIVATION_DAYS, addr);
        fprintf(stderr, "  http://%s%sactivate?t=%s\n", addr,
            addr[0] && addr[strlen(addr) - 1] == '/' ? "" : "/", hex);
        kn_memzero(hex, sizeof hex);
        return CLI_OK;
    }
    char pw[PW_MAX + 2];
    if ((code = read_password(mode == 's', pw)) != CLI_OK)
        goto out;
    if (kn_pwhash_str(a->pwhash, pw, strlen(pw)) < 0) {
        code = cli_fail("cannot hash the password (out of memory?)");
        goto out;
    }
    a->has_password = true;
    a->has_activation = false;
    memset(a->activation, 0, sizeof a->activation);
    int rc = kn_account_put(dd->store, a);
    if (rc < 0) {
        code = cli_fail("cannot store the account: %s", kn_strerror(rc));
        goto out;
    }
    size_t removed;
    if (kn_sessions_purge(dd->store, 0, a->login, &removed) < 0)
        fprintf(stderr, "knoten: note: could not end the login's open sessions\n");
    fprintf(stderr, "knoten: web login \"%s\" has a new password.\n", a->login);
out:
    kn_memzero(pw, sizeof pw);
    return code;
}

/* How the secret is set when the caller gave no flag: ask on a terminal, else a link. */
static char default_mode(bool password_stdin, bool activation)
{
    if (password_stdin)
        return 's';
    if (activation)
        return 'a';
    return isatty(STDIN_FILENO) ? 'p' : 'a';
}

void cli_accounts_drop_user(kn_datadir *dd, const uint8_t user[32])
{
    kn_account *v = NULL;
    size_t n = 0;
    if (kn_accounts_list(dd->store, &v, &n) < 0) {
        fprintf(stderr,
            "knoten: could not read the web logins: the user cannot sign in again (the key "
            "is gone), but open sessions last until they expire\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (memcmp(v[i].user, user, 32) != 0)
            continue;
        if (kn_account_del(dd->store, v[i].login) < 0)
            fprintf(stderr, "knoten: could not remove the web login \"%s\"\n", v[i].login);
        else
            fprintf(
                stderr, "knoten: web login \"%s\" removed; its open sessions ended.\n", v[i].login);
    }
    free(v);
}

int cli_login_check(const kn_cli *cli, const char *login)
{
    if (kn_login_valid(login))
        return CLI_OK;
    return cli_usage_error(cli,
        "--login takes 1 to %d lower-case letters, digits, '.', '_' or '-', starting with a "
        "letter or digit (e.g. erika.muster)",
        KN_LOGIN_MAX);
}

int cli_account_create(kn_cli *cli, kn_datadir *dd, const uint8_t user[32], const char *login,
    bool admin, bool password_stdin, bool activation)
{
    kn_account a;
    if (kn_account_get(dd->store, login, &a) == 0)
        return cli_fail("the web login \"%s\" exists already (the user was created; give the "
                        "login with `knoten user passwd`, or choose another with --login)",
            login);
    memset(&a, 0, sizeof a);
    snprintf(a.login, sizeof a.login, "%s", login);
    memcpy(a.user, user, 32);
    a.role = admin ? KN_ROLE_ADMIN : KN_ROLE_STAFF;
    a.created_ms = kn_env_now(cli->env);
    return set_secret(cli, dd, &a, default_mode(password_stdin, activation));
}

static int user_passwd(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "password-stdin", no_argument, 0, 's' },
        { "activate", no_argument, 0, 'a' }, { "admin", no_argument, 0, 'A' },
        { "staff", no_argument, 0, 'S' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    bool from_stdin = false, activation = false;
    int role = 0, opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "user", &code)) != -1) {
        if (opt == CLI_STOP)
            return code;
        if (opt == 's')
            from_stdin = true;
        else if (opt == 'a')
            activation = true;
        else if (opt == 'A')
            role = KN_ROLE_ADMIN;
        else if (opt == 'S')
            role = KN_ROLE_STAFF;
    }
    if (optind + 1 != argc)
        return cli_usage_error(cli, "give the web login name, e.g. `knoten user passwd erika`");
    if (from_stdin && activation)
        return cli_usage_error(cli, "give either --password-stdin or --activate");
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    kn_account a;
    int rc = kn_account_get(dd.store, argv[optind], &a);
    if (rc < 0) {
        code = cli_fail(
            "there is no web login \"%s\" (`knoten user logins` lists them)", argv[optind]);
        goto out;
    }
    if (role)
        a.role = (uint8_t)role;
    code = set_secret(cli, &dd, &a, default_mode(from_stdin, activation));
out:
    kn_datadir_close(&dd);
    return code;
}

/*
 * `knoten user login USER --login LOGIN`: a web login for a user this node
 * holds the key of, made without one (`user add` without --login).
 */
static int user_login(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "login", required_argument, 0, 'L' },
        { "admin", no_argument, 0, 'A' }, { "password-stdin", no_argument, 0, 's' },
        { "activate", no_argument, 0, 'a' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *login = NULL;
    bool admin = false, from_stdin = false, activation = false;
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "user", &code)) != -1) {
        if (opt == CLI_STOP)
            return code;
        if (opt == 'L')
            login = optarg;
        else if (opt == 'A')
            admin = true;
        else if (opt == 's')
            from_stdin = true;
        else if (opt == 'a')
            activation = true;
    }
    if (optind + 1 != argc)
        return cli_usage_error(cli,
            "give the user's KEY or NAME (`knoten user ls`), e.g. "
            "`knoten user login \"Erika Muster\" --login erika`");
    if (!login)
        return cli_usage_error(cli, "give the web login's name with --login LOGIN");
    if ((code = cli_login_check(cli, login)) != CLI_OK)
        return code;
    if (from_stdin && activation)
        return cli_usage_error(cli, "give either --password-stdin or --activate");
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    uint8_t pk[32];
    kn_roster_user u;
    kn_account *v = NULL;
    size_t n = 0;
    int rc = kn_users_find(&dd, argv[optind], pk);
    if (rc == KN_EEXIST)
        code = cli_fail(
            "several users are called \"%s\"; give the KEY from `knoten user ls`", argv[optind]);
    else if (rc < 0 || kn_store_user_get(dd.store, pk, &u) < 0 || !kn_users_holds_key(&dd, pk))
        code = cli_fail("\"%s\" is no user whose key this node holds (`knoten user ls` lists them; "
                        "KEY HELD must say yes)",
            argv[optind]);
    else if (u.revoked_at != KN_ROSTER_NEVER)
        code = cli_fail(
            "the user \"%s\" was revoked; `knoten user add` makes a new one", argv[optind]);
    else if ((rc = kn_accounts_list(dd.store, &v, &n)) < 0)
        code = cli_fail("cannot read the web logins: %s", kn_strerror(rc));
    else {
        for (size_t i = 0; i < n && code == CLI_OK; i++)
            if (memcmp(v[i].user, pk, 32) == 0)
                code = cli_fail("this user has the web login \"%s\" already; `knoten user passwd "
                                "%s` sets a new password",
                    v[i].login, v[i].login);
        if (code == CLI_OK)
            code = cli_account_create(cli, &dd, pk, login, admin, from_stdin, activation);
    }
    free(v);
    kn_datadir_close(&dd);
    return code;
}

static int user_logins(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "user", &code)) != -1)
        if (opt == CLI_STOP)
            return code;
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    kn_account *v = NULL;
    size_t n = 0;
    int rc = kn_accounts_list(dd.store, &v, &n);
    if (rc < 0) {
        code = cli_fail("cannot read the web logins: %s", kn_strerror(rc));
    } else {
        for (size_t i = 0; i < n; i++) {
            char key[65];
            kn_hex_encode(key, v[i].user, 32);
            /* A login whose user key is gone (revoked) cannot sign in, whatever its state. */
            const char *state = !kn_users_holds_key(&dd, v[i].user)
                ? "cannot sign in: this node no longer holds the user's key (revoked?)"
                : v[i].has_password ? "active"
                                    : "activation pending";
            printf("%-20s %-6s %s %s\n", v[i].login, v[i].role == KN_ROLE_ADMIN ? "admin" : "staff",
                key, state);
        }
        if (!n)
            fprintf(stderr, "knoten: no web logins yet: `knoten user add ... --login NAME`\n");
    }
    free(v);
    kn_datadir_close(&dd);
    return code;
}

int cmd_user_web(kn_cli *cli, int argc, char **argv)
{
    if (strcmp(argv[0], "passwd") == 0)
        return user_passwd(cli, argc, argv);
    if (strcmp(argv[0], "login") == 0)
        return user_login(cli, argc, argv);
    return user_logins(cli, argc, argv);
}
