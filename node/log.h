/*
 * The node's log: one line per event on stderr, with a level (error, warn,
 * info, debug) and, when one process hosts several councils, the council's
 * name. Lines below the configured level are dropped.
 *
 *   knoten: info: node 1a2b3c4d… running, data in /var/lib/knoten, …
 *   knoten: warn: musterstadt: peer 192.0.2.7:8471: cannot connect …
 *
 * Under systemd (stderr is the journal, $JOURNAL_STREAM names it) each line
 * starts with the syslog priority instead, "<6>info: …", which journald
 * files as the entry's priority (`journalctl -p warning` then works).
 *
 * A line is formatted into one buffer and written with a single write(2),
 * so lines of several councils, or of worker threads, never interleave;
 * control characters in the message (a peer's bye reason, say) are replaced
 * by '?', so one event stays one line. Secrets never go to the log: no
 * caller passes key material, and tests/integration/ops_service.sh greps a
 * node's log for its keys.
 *
 * Owned by whoever holds the kn_log (the node, one per council); no globals.
 */
#ifndef KN_LOG_H
#define KN_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "env.h"
#include "error.h"

typedef enum kn_log_level {
    KN_LOG_ERROR = 0,
    KN_LOG_WARN = 1,
    KN_LOG_INFO = 2,
    KN_LOG_DEBUG = 3,
} kn_log_level;

enum { KN_LOG_LINE_MAX = 2048, KN_LOG_NAME_MAX = 32 };

/* "error", "warn", "info", "debug". */
const char *kn_log_level_name(kn_log_level l);
/* Parses one of those names; KN_EINVAL otherwise. */
KN_MUST_USE int kn_log_level_parse(const char *s, kn_log_level *out);

typedef struct kn_log {
    kn_log_level level; /* lines above it (less severe) are dropped */
    bool timestamps; /* prefix an ISO 8601 UTC time from env (not under the journal) */
    bool journal; /* syslog priority prefixes for journald (kn_log_stderr_is_journal) */
    int fd; /* where lines go: 2 (stderr) unless a test points it elsewhere */
    const kn_env *env; /* the clock for timestamps; may be NULL without them */
    char name[KN_LOG_NAME_MAX + 1]; /* the council's name, "" when the process hosts one */
} kn_log;

/* Level info, no name, no timestamps, stderr, journal prefixes if stderr is the journal. */
void kn_log_init(kn_log *l, const kn_env *env);
/* True if stderr is the systemd journal (fstat(2) matches $JOURNAL_STREAM "DEV:INODE"). */
bool kn_log_stderr_is_journal(void);

bool kn_log_enabled(const kn_log *l, kn_log_level level);
void kn_logv(const kn_log *l, kn_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void kn_logf(const kn_log *l, kn_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
