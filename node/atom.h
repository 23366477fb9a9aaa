/*
 * An Atom feed (RFC 4287) per area: the newest threads, replies, links,
 * events, polls and documents of one area, so that staff can follow an area
 * in any feed reader or mail client.
 *
 *   - One entry per object, showing its newest version: <id> is the first
 *     version's id (urn:knoten:object:HEX), so a reader updates an edited
 *     entry instead of adding a second; <published> is the first version's
 *     time, <updated> the newest's.
 *   - <content type="html"> holds the content rendered by node/render.c
 *     (Markdown made safe by node/markdown.c), then XML-escaped once more as
 *     the Atom text construct requires; titles are type="text".
 *   - <author> is the user and council, from the directory.
 *   - Links: a shared link's own URL, an event's online link; otherwise,
 *     if the node has a web address (base_url), BASE/o/HEX.
 *   - The feed's id is urn:knoten:NETWORK-ID:area:AREA (percent-encoded),
 *     its <updated> the newest entry's; nothing depends on the exporting
 *     node's clock, so every node writes the same feed.
 *
 * Callers: `knoten feed`, later the web UI.
 */
#ifndef KN_ATOM_H
#define KN_ATOM_H

#include <stddef.h>

#include "directory.h"
#include "error.h"
#include "store.h"
#include "text.h"

enum { KN_ATOM_DEFAULT_ENTRIES = 50, KN_ATOM_MAX_ENTRIES = 1000 };

typedef struct kn_atom_options {
    const char *area; /* required, 1..KN_SPACE_MAX bytes */
    const char *base_url; /* e.g. "https://knoten.example.de"; NULL: none */
    size_t max_entries; /* 0: KN_ATOM_DEFAULT_ENTRIES; at most KN_ATOM_MAX_ENTRIES */
} kn_atom_options;

/* Writes the feed into out. KN_EINVAL for a bad area or base_url. */
KN_MUST_USE int kn_atom_area(
    kn_store *s, const kn_directory *dir, const kn_atom_options *opt, kn_text *out);

/* "2026-11-22T14:03:05Z" (RFC 3339, UTC) for ms since the epoch; buf >= 21 bytes. */
void kn_atom_time(char *buf, size_t cap, uint64_t ms);

#endif
