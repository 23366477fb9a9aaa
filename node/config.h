/*
 * The configuration file of `knoten run --config FILE`: an INI file read with
 * inih, every key documented in docs/config.md. Everything has a default, so
 * a node starts without a file; command-line options override the file.
 *
 * The file describes either one council, in [node], or several hosted in one
 * process, each in a [council NAME] section with its own data directory,
 * listen address, announced addresses and peers. [log], [http], [limits] and
 * [quota] apply to the whole process.
 *
 * The parser works on a memory buffer (kn_config_parse), so tests and the
 * fuzz target feed it bytes directly; kn_config_load reads a file (at most
 * KN_CONFIG_FILE_MAX bytes) and parses it. Anything it does not know is
 * refused: an unknown section or key, a key given twice, a value out of
 * range or of the wrong form, a line that is neither "key = value" nor a
 * [section] header, an overlong line or a NUL byte. The error names the file
 * and line and says what is allowed:
 *
 *   knoten.conf:7: unknown key "listn" in [node]; allowed: data, listen, ...
 *
 * Leading blanks are ignored (indenting is fine; inih's continuation lines
 * are therefore not supported), comments start with ';' or '#' at the start
 * of a line, or with " ;" after a value.
 *
 * Owner of the result: the caller; kn_config_free releases the peer lists.
 * Callers: `knoten run` (tools/cli/cmd_run.c), tests, fuzz_config.
 */
#ifndef KN_CONFIG_H
#define KN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datadir.h"
#include "error.h"
#include "log.h"
#include "peer_config.h"

enum {
    KN_CONFIG_FILE_MAX = 1 << 20, /* bytes of a configuration file */
    KN_CONFIG_LINE_MAX = 198, /* characters on one line (inih's buffer is 200) */
    KN_CONFIG_COUNCILS_MAX = 64, /* [council NAME] sections in one file */
    KN_COUNCIL_NAME_MAX = 32, /* a-z, 0-9, '-', '_' */
    KN_WEB_PATH_MAX = 64,
    KN_CONFIG_ERR_MAX = 512, /* room for one error message */
    KN_HTTP_DEFAULT_PORT = 8470,
    KN_LISTEN_DEFAULT_PORT = 8471,
};

#define KN_LISTEN_DEFAULT "0.0.0.0:8471"
#define KN_HTTP_LISTEN_DEFAULT "127.0.0.1:8470"

/* One council: [node], or one [council NAME] section. */
typedef struct kn_council_config {
    char name[KN_COUNCIL_NAME_MAX + 1]; /* "" for [node] */
    int line; /* of the section header; 0 for the implicit default council */
    char data[KN_PATH_MAX]; /* "": not set (the default data directory) */
    char listen[KN_PEER_ADDR_MAX + 1]; /* "HOST:PORT" with an IP literal; "" = do not listen */
    bool announce_set; /* "announce" appeared (saved to the store at start) */
    kn_announce announce;
    int connections; /* -1: not set (the stored setting stays) */
    kn_peer_list peers; /* dialled in addition to `knoten peer add`; owned */
    char web_path[KN_WEB_PATH_MAX + 1]; /* URL path of this council's web UI, "/" or "/NAME" */
} kn_council_config;

typedef struct kn_config {
    /* [log] */
    kn_log_level log_level;
    bool log_timestamps;
    /* [http] */
    bool http_enabled;
    char http_listen[KN_PEER_ADDR_MAX + 1];
    /* [limits] */
    unsigned max_inbound; /* inbound connections at once, per council */
    unsigned max_handshakes; /* connections not yet established, per council */
    uint64_t max_pending; /* objects waiting for their dependencies, per council */
    uint64_t file_upload_rate; /* bytes/s of file chunks served, per council; 0: no limit */
    unsigned handshake_timeout; /* seconds a connection has to finish its handshake */
    unsigned idle_timeout; /* seconds without a complete message before a peer is dropped */
    unsigned ping_timeout; /* seconds a ping may stay unanswered (nothing else heard) */
    unsigned ban; /* seconds of a misbehaving peer's first ban (doubling, at most 60x) */
    /* [quota] */
    uint64_t store_max; /* bytes the store may grow to; 0: no limit */
    uint64_t max_file; /* largest document file stored (blobstore limit); 0: not set */
    bool files_quota_set; /* files_per_council appeared (0 in it means no limit) */
    uint64_t files_quota; /* bytes of files kept per council whose documents we hold */
    /* [node], or one entry per [council NAME] */
    kn_council_config *councils; /* owned */
    size_t ncouncils; /* >= 1 after a successful parse */
    bool multi; /* the file used [council NAME] sections */
} kn_config;

/* Defaults, with one council from [node]'s defaults. Free with kn_config_free. */
KN_MUST_USE int kn_config_defaults(kn_config *cfg);
void kn_config_free(kn_config *cfg);

/*
 * Parses len bytes of INI text (no NUL terminator needed; a NUL inside is an
 * error) named `source` in messages. On failure returns KN_ECONFIG (or
 * KN_ENOMEM) and writes "SOURCE:LINE: what is wrong; what is allowed" into
 * err (cap bytes, KN_CONFIG_ERR_MAX is enough); cfg is then freed and zeroed.
 * On success cfg holds the defaults overridden by the file.
 */
KN_MUST_USE int kn_config_parse(
    kn_config *cfg, const char *buf, size_t len, const char *source, char *err, size_t cap);

/* Reads the file at path and parses it; errors as above (also for an unreadable file). */
KN_MUST_USE int kn_config_load(kn_config *cfg, const char *path, char *err, size_t cap);

/*
 * Checks "HOST:PORT" with an IPv4 or a bracketed IPv6 literal, as a listener
 * needs (no name lookups when binding). 0 or KN_EINVAL.
 */
KN_MUST_USE int kn_config_check_listen(const char *s);

#endif
