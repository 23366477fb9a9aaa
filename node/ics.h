/*
 * iCalendar export of events (RFC 5545): one event, or every event of an
 * area, as a VCALENDAR that calendar programs import.
 *
 * Choices:
 *   - Times keep their zone: DTSTART;TZID=Europe/Berlin:20261203T100000,
 *     with a VTIMEZONE per zone, generated from the system's zoneinfo
 *     (node/tz.c) and covering the events' dates (one observance per
 *     transition). A calendar program shows the event at 10:00 Berlin time
 *     even if the zone's rules change later, and a reader in another zone
 *     sees it converted correctly. A zone this machine does not know is
 *     written as UTC times (DTSTART:...Z) instead.
 *   - UID is the id of the event's first version (@knoten), so an edited
 *     event replaces the old entry on import; SEQUENCE counts the edits;
 *     DTSTAMP and LAST-MODIFIED are the newest version's created time,
 *     CREATED the first version's. Nothing depends on the clock of the
 *     exporting node: every node exports the same bytes.
 *   - RSVPs are counted into the description ("RSVP: 3 yes, 1 maybe, 0 no")
 *     rather than listed as ATTENDEEs: staff have no e-mail addresses here,
 *     and who answered is not the calendar's business.
 *   - Lines end in CRLF and are folded at 75 octets, never inside a UTF-8
 *     sequence; TEXT values escape backslash, ';', ',' and newlines, and
 *     drop other control characters.
 *
 * Callers: `knoten ics`, later the web UI.
 */
#ifndef KN_ICS_H
#define KN_ICS_H

#include <stddef.h>
#include <stdint.h>

#include "directory.h"
#include "error.h"
#include "store.h"
#include "text.h"

enum { KN_ICS_EVENTS_MAX = 10000 }; /* events in one calendar at most */

/*
 * Writes a calendar holding the events ids[0..n) (any version of each: the
 * newest is exported, and the same event named twice once) to out. dir, if
 * not NULL, names the organiser. KN_ENOTFOUND / KN_ERETRACTED for an id that
 * is not a stored event (KN_EINVAL: another type).
 */
KN_MUST_USE int kn_ics_export(kn_store *s, const kn_directory *dir, const uint8_t (*ids)[KN_ID],
    size_t n, const char *calname, kn_text *out);

/* Every event of the area (newest versions, in start order), as one calendar. */
KN_MUST_USE int kn_ics_export_area(
    kn_store *s, const kn_directory *dir, const char *area, kn_text *out);

/* Appends one content line "name:value" folded at 75 octets, with CRLF (exposed for tests). */
void kn_ics_line(kn_text *out, const char *name, const char *value, size_t vlen);
/* Appends a TEXT value escaped as RFC 5545 3.3.11 says (exposed for tests). */
void kn_ics_text_escape(kn_text *out, const char *s, size_t len);

#endif
