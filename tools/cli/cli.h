/*
 * Shared plumbing of the `knoten` subcommands: the command table, option
 * parsing conventions, opening the data directory with messages a person can
 * act on, and printing errors. Each cmd_*.c file implements a few commands.
 *
 * Exit codes: 0 success, 1 failure, 2 bad usage.
 */
#ifndef KN_CLI_H
#define KN_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "datadir.h"
#include "env.h"
#include "object.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct kn_cli {
    const kn_env *env;
    const char *prog; /* "knoten thread" etc., for messages */
    char data_dir[KN_PATH_MAX];
    bool data_given; /* --data was on the command line (it overrides a configuration file) */
} kn_cli;

typedef struct cli_command {
    const char *name;
    int (*run)(kn_cli *cli, int argc, char **argv);
    const char *summary;
    const char *usage; /* full --help text after the "usage:" line */
} cli_command;

/* Prints "knoten: <message>" to stderr and returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a usage error plus "try `knoten CMD --help`" and returns CLI_USAGE. */
int cli_usage_error(const kn_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the help text of the named command. */
int cli_help(const char *name);

/*
 * Handles the options every command takes (--data DIR, --help) inside a
 * getopt_long loop: returns 1 if it consumed opt, 0 if not, and sets *exit
 * to a return code when the command must stop (help printed).
 */
int cli_common_option(kn_cli *cli, int opt, const char *arg, const char *cmd, int *exit_code);
/*
 * getopt_long over a command's options plus the common ones: returns the next
 * command-specific option, -1 at the end, or CLI_STOP when the command must
 * return *code at once (--help printed, or an unknown option). Resets getopt
 * on the first call for argv.
 */
enum { CLI_STOP = -2 };
int cli_getopt(kn_cli *cli, int argc, char **argv, const char *shortopts, const struct option *opts,
    const char *cmd, int *code);
#define CLI_COMMON_LONGOPTS                                                                        \
    { "data", required_argument, 0, 'D' },                                                         \
    {                                                                                              \
        "help", no_argument, 0, 'h'                                                                \
    }

/* Before reading standard input: if it is a terminal, says on stderr what to paste and how to end.
 */
void cli_stdin_prompt(const char *what);
/* Opens the data directory, explaining how to fix a missing or unreadable one. */
int cli_open(kn_cli *cli, kn_datadir *dd);
/*
 * For a data directory that holds no node (kn_datadir_exists() false), before
 * a command creates one there: CLI_FAIL with a message if it cannot be read
 * (another user's directory) or holds a store without identity.key (a backup
 * restored with --no-keys), where creating a node would be wrong; else CLI_OK.
 */
int cli_datadir_fresh(const kn_cli *cli);
/* The same with store options (opt may be NULL). */
int cli_open_with(kn_cli *cli, kn_datadir *dd, const kn_store_options *opt);

/* Parses a 64-hex-digit id or key; prints the problem and returns CLI_USAGE if bad. */
int cli_parse_id(const kn_cli *cli, const char *what, const char *s, uint8_t out[static 32]);

/*
 * An ID argument that may be abbreviated as `knoten ls` shows it (show,
 * retract): cli_check_id_arg before opening the store (64 hex digits, or the
 * first CLI_ID_PREFIX_MIN or more; a usage error otherwise), cli_resolve_id
 * after (the one stored object whose id starts so: a scan of the time index
 * for a prefix; CLI_FAIL with a message if none or several).
 */
enum { CLI_ID_PREFIX_MIN = 8 };
int cli_check_id_arg(const kn_cli *cli, const char *what, const char *s);
int cli_resolve_id(kn_datadir *dd, const char *s, uint8_t out[static 32]);

/*
 * CLI_FAIL with what to do about a draft that could not be encoded or signed
 * (rc from cli_body_encode or kn_object_sign): an area name too long or not
 * UTF-8, an object over KN_OBJECT_MAX, text not in UTF-8.
 */
int cli_object_error(const kn_object_draft *d, int rc);
/* Signs a draft with the node identity, stores it and prints its id. */
int cli_publish(kn_cli *cli, kn_datadir *dd, kn_object_draft *d);

/* Formats ms since the epoch as "2026-11-22 14:03:05 UTC" into buf (>= 32 bytes). */
void cli_format_time(char *buf, size_t cap, uint64_t ms);
/* "12 s ago", "5 min ago", "3 h ago", "2 days ago" (cmd_sync.c). */
void cli_format_ago(char *buf, size_t cap, uint64_t then, uint64_t now);
/* "812 B", "12.3 KiB", "45.6 MiB" (cmd_sync.c). */
void cli_format_bytes(char *buf, size_t cap, uint64_t b);
/* True if the node that wrote DATA/peers.state is running (cmd_sync.c). */
struct kn_peer_state;
bool cli_node_alive(const struct kn_peer_state *st);

/* The command table (main.c). */
extern const cli_command cli_commands[];

/* Command entry points. */
int cmd_init(kn_cli *cli, int argc, char **argv);
int cmd_check(kn_cli *cli, int argc, char **argv);
/* `knoten backup` and `knoten restore` (cmd_backup.c). */
int cmd_backup(kn_cli *cli, int argc, char **argv);
int cmd_restore(kn_cli *cli, int argc, char **argv);
int cmd_thread(kn_cli *cli, int argc, char **argv);
int cmd_post(kn_cli *cli, int argc, char **argv);
int cmd_link(kn_cli *cli, int argc, char **argv);
int cmd_retract(kn_cli *cli, int argc, char **argv);
int cmd_ls(kn_cli *cli, int argc, char **argv);
int cmd_show(kn_cli *cli, int argc, char **argv);
int cmd_export(kn_cli *cli, int argc, char **argv);
int cmd_import(kn_cli *cli, int argc, char **argv);
int cmd_run(kn_cli *cli, int argc, char **argv);
int cmd_status(kn_cli *cli, int argc, char **argv);
int cmd_peer(kn_cli *cli, int argc, char **argv);
int cmd_peers(kn_cli *cli, int argc, char **argv);
/* Federation (cmd_fed.c): invites, admission, revocation, members, staff users. */
int cmd_invite(kn_cli *cli, int argc, char **argv);
int cmd_admit(kn_cli *cli, int argc, char **argv);
int cmd_revoke(kn_cli *cli, int argc, char **argv);
int cmd_members(kn_cli *cli, int argc, char **argv);
int cmd_user(kn_cli *cli, int argc, char **argv);
/* `knoten join` (cmd_join.c): redeem an invite code over the network. */
int cmd_join(kn_cli *cli, int argc, char **argv);
int cmd_sync(kn_cli *cli, int argc, char **argv);
/* `knoten demo` (cmd_demo.c): three councils on 127.0.0.1 with staff and sample content. */
int cmd_demo(kn_cli *cli, int argc, char **argv);
/* Web logins (cmd_account.c): `knoten user login|passwd|logins`, and the login of `user add`. */
int cmd_user_web(kn_cli *cli, int argc, char **argv);
/* Removes the web logins (and so their sessions) of a revoked user; says so on stderr. */
void cli_accounts_drop_user(kn_datadir *dd, const uint8_t user[32]);
/* CLI_OK if login is a valid login name, else a usage error saying what is allowed. */
int cli_login_check(const kn_cli *cli, const char *login);
int cli_account_create(kn_cli *cli, kn_datadir *dd, const uint8_t user[32], const char *login,
    bool admin, bool password_stdin, bool activation);
/* Documents with files (cmd_doc.c): publish, ls, get, versions, retract, limits, policy. */
int cmd_doc(kn_cli *cli, int argc, char **argv);
/* `knoten search` (cmd_search.c): full-text search with filters. */
int cmd_search(kn_cli *cli, int argc, char **argv);

#endif

/*
 * Body maps for objects made on the command line: the fields in any order;
 * cli_body_encode() sorts them bytewise (as canonical form wants) and leaves
 * out optional string fields that are NULL.
 */
typedef struct cli_field {
    const char *key;
    /* F_RAW: .bin holds .len bytes of encoded msgpack, written as is. */
    enum { F_STR, F_UINT, F_STRS, F_BIN32, F_BOOL, F_UINTS, F_BIN, F_RAW } kind;
    const char *s;
    uint64_t u; /* F_UINT, F_BOOL (0 or 1) */
    char **strs;
    int nstrs;
    const uint8_t *bin; /* F_BIN32: 32 bytes; F_BIN: len bytes */
    const uint64_t *uints; /* F_UINTS: len items */
    size_t len;
    bool absent; /* an optional field left out (F_STR: also when s is NULL) */
} cli_field;

/* Encodes the fields as a map into o; returns 0 or a KN_E code. */
int cli_body_encode(cli_field *fields, int n, kn_mp_out *o);

/*
 * Reads a whole file ("-" for stdin, with cli_stdin_prompt(what) at a terminal) into a
 * NUL-terminated malloc'd string, at most max bytes.
 */
int cli_read_text(const char *path, const char *what, size_t max, char **out);

/* ---- issue 7: publishing as staff, and what the collaboration commands share (cli_as.c) ---- */

/*
 * Who signs what a command publishes: the node itself, or, with --as USER, a
 * member of staff whose key this node holds (`knoten user add`).
 */
typedef struct cli_signer {
    uint8_t pk[32];
    uint8_t sk[64]; /* secret: wiped by cli_signer_close */
    bool user;
    bool loaded;
} cli_signer;

/*
 * as NULL: the node. Else a user of this node by exact name or 64-hex key;
 * prints what to do when it is not held here. Returns a CLI code.
 */
int cli_signer_open(kn_cli *cli, kn_datadir *dd, const char *as, cli_signer *sg);
void cli_signer_close(cli_signer *sg);
/* "votes" etc. come from staff only: a usage error unless --as was given. */
int cli_need_as(kn_cli *cli, const char *as, const char *what);

/*
 * Encodes the fields as the body of d, sets created to now, signs with sg
 * (NULL: the node), stores it and prints its id unless quiet. id_out may be
 * NULL. Returns a CLI code; refusals by the store are explained.
 */
int cli_publish_fields(kn_cli *cli, kn_datadir *dd, kn_object_draft *d, cli_field *f, int n,
    const cli_signer *sg, bool quiet, uint8_t *id_out);

/*
 * Loads object id into *raw (malloc'd) and *o, printing what to do if it is
 * missing or retracted, and requiring type `want` unless it is 0.
 */
int cli_load_object(kn_datadir *dd, const char *arg, const uint8_t id[32], kn_otype want,
    uint8_t **raw, kn_object *o);

/*
 * For --edit: the newest version of the object arg names, which must be of
 * type want and signed by sg's key. *raw and *o hold it; d gets its id as
 * the previous version (at refs[slot]) and its area.
 */
int cli_edit_base(kn_cli *cli, kn_datadir *dd, const char *arg, kn_otype want, const cli_signer *sg,
    uint8_t **raw, kn_object *o);

/* Copies string field key of o into buf (cap bytes, NUL-terminated); "" if absent. */
void cli_obj_str(const kn_object *o, const char *key, char *buf, size_t cap);
/* Copies o's area into buf (KN_SPACE_MAX + 1 bytes). */
void cli_obj_space(const kn_object *o, char *buf);

/* Writes len bytes to path (NULL: standard output), saying what failed. Returns a CLI code. */
int cli_write_output(const char *path, const char *data, size_t len);

/*
 * Prints len bytes of UTF-8 and pads with spaces to `width` characters (not
 * bytes, so that "Weiß" lines up with "Nein"), then one space.
 */
void cli_print_col(const char *s, size_t len, int width);

/* The 16-hex-digit prefix of a key or id, as listings show them. */
void cli_short_hex(char out[17], const uint8_t key[32]);

/* Parses "2026-12-03 10:00" (or with seconds, or 'T') as a local time in zone tz: UTC ms. */
int cli_parse_local_time(kn_cli *cli, const char *opt, const char *s, const char *tz, uint64_t *ms);

/* Collaboration commands (cmd_poll.c, cmd_event.c, cmd_msg.c, cmd_feed.c). */
int cmd_poll(kn_cli *cli, int argc, char **argv);
int cmd_vote(kn_cli *cli, int argc, char **argv);
int cmd_event(kn_cli *cli, int argc, char **argv);
int cmd_rsvp(kn_cli *cli, int argc, char **argv);
int cmd_ics(kn_cli *cli, int argc, char **argv);
int cmd_msg(kn_cli *cli, int argc, char **argv);
int cmd_experts(kn_cli *cli, int argc, char **argv);
int cmd_feed(kn_cli *cli, int argc, char **argv);
