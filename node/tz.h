/*
 * Time zones from the system's zoneinfo (TZif files, RFC 8536), for events:
 * an event is stored as UTC milliseconds plus an IANA zone name, staff type
 * and read local times, and iCalendar wants the zone's rules spelt out
 * (VTIMEZONE). The module reads the TZif transitions and the POSIX TZ rule
 * in the file's footer, which gives the transitions after the last listed
 * one (so slim TZif files and events after 2037 work too).
 *
 * No process-wide state is touched (no setenv("TZ"), no tzset()), so it is
 * safe in the node and in several threads on separate kn_tz values.
 *
 * Times here are seconds since the epoch (int64). Callers: `knoten event`,
 * `knoten ics`, node/ics.c, later the web UI.
 */
#ifndef KN_TZ_H
#define KN_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
    KN_TZ_NAME_MAX = 64, /* bytes, as the event schema allows */
    KN_TZ_FILE_MAX = 1 << 20, /* a TZif file larger than this is refused */
    KN_TZ_ABBR_MAX = 15,
};

typedef struct kn_tz kn_tz;

/* What is in effect at an instant. */
typedef struct kn_tz_info {
    int32_t utoff; /* seconds east of UTC */
    bool dst;
    char abbr[KN_TZ_ABBR_MAX + 1]; /* "CET"; "+03" style where the zone has no letters */
} kn_tz_info;

/* A change of offset at `at` (UTC): from the old state to the new. */
typedef struct kn_tz_transition {
    int64_t at;
    int32_t from_utoff;
    kn_tz_info to;
} kn_tz_transition;

/*
 * True for a name that can be a zone: 1..KN_TZ_NAME_MAX bytes of
 * [A-Za-z0-9/_+-], not starting with '/' or '-', no "." path component. It
 * becomes part of a path, so this is checked before any file is opened.
 */
bool kn_tz_name_valid(const char *name);

/*
 * Loads zone `name` from $TZDIR or /usr/share/zoneinfo. KN_EINVAL for an
 * invalid name, KN_ENOTFOUND if there is no such zone, KN_ECORRUPT for a
 * file that is not TZif.
 */
KN_MUST_USE int kn_tz_load(const char *name, kn_tz **out);

/* Parses a TZif file held in memory (borrowed for the call). KN_ECORRUPT if malformed. */
KN_MUST_USE int kn_tz_parse(const uint8_t *buf, size_t len, kn_tz **out);
void kn_tz_free(kn_tz *z);

/* The offset, DST flag and abbreviation in effect at UTC time t. */
void kn_tz_at(const kn_tz *z, int64_t t, kn_tz_info *info);

/*
 * The UTC time of a local wall-clock time (given as seconds since the epoch
 * as if it were UTC). A time that occurs twice (clocks go back) is the first
 * occurrence; a time that does not exist (clocks go forward) is taken with
 * the offset before the gap, as RFC 5545 does. *exists says which case.
 */
int64_t kn_tz_local_to_utc(const kn_tz *z, int64_t local, bool *exists);

/*
 * The transitions with from <= at < to, in order, at most max of them;
 * returns how many there are in the range (which may exceed max).
 */
size_t kn_tz_transitions(
    const kn_tz *z, int64_t from, int64_t to, kn_tz_transition *out, size_t max);

/*
 * "2026-12-03 10:00", "2026-12-03T10:00", with optional ":SS", or a date
 * alone (the start of that day), as a wall-clock time in zone tzname, to
 * UTC milliseconds. KN_EINVAL if the text is no such time (or no real date,
 * or before 1970), KN_ECONFIG if tzname is not a valid zone name,
 * KN_ENOTFOUND if there is no such zone here. *exists is false for a time
 * in the gap when the clocks go forward (taken with the offset before it).
 * Callers: `knoten event|poll` and the web forms.
 */
KN_MUST_USE int kn_tz_parse_local(const char *text, const char *tzname, uint64_t *ms, bool *exists);

/*
 * The wall-clock time of UTC ms in zone tzname as "2026-12-03<sep>10:00"
 * (":SS" added when the seconds are not 0; UTC if the zone cannot be
 * loaded): what kn_tz_parse_local reads back, and with sep 'T' the value of
 * an HTML datetime-local input. Callers: `knoten event --edit` and the web's
 * event edit form (defaults from the version being replaced).
 */
void kn_tz_format_local(const char *tzname, uint64_t ms, char sep, char *buf, size_t cap);

/* Days since 1970-01-01 of a civil date, and back (proleptic Gregorian). */
int64_t kn_days_from_civil(int64_t y, unsigned m, unsigned d);
void kn_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
