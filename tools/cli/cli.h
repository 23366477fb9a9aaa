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

/* Opens the data directory, explaining how to fix a missing or unreadable one. */
int cli_open(kn_cli *cli, kn_datadir *dd);
/* The same with store options (opt may be NULL). */
int cli_open_with(kn_cli *cli, kn_datadir *dd, const kn_store_options *opt);

/* Parses a 64-hex-digit id or key; prints the problem and returns CLI_USAGE if bad. */
int cli_parse_id(const kn_cli *cli, const char *what, const char *s, uint8_t out[static 32]);

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

#endif

/*
 * Body maps for objects made on the command line: the fields in any order;
 * cli_body_encode() sorts them bytewise (as canonical form wants) and leaves
 * out optional string fields that are NULL.
 */
typedef struct cli_field {
    const char *key;
    enum { F_STR, F_UINT, F_STRS, F_BIN32 } kind;
    const char *s;
    uint64_t u;
    char **strs;
    int nstrs;
    const uint8_t *bin;
} cli_field;

/* Encodes the fields as a map into o; returns 0 or a KN_E code. */
int cli_body_encode(cli_field *fields, int n, kn_mp_out *o);

/* Reads a whole file ("-" for stdin) into a NUL-terminated malloc'd string, at most max bytes. */
int cli_read_text(const char *path, size_t max, char **out);
