/*
 * Signed objects as JSON, for people and programs: `knoten ls --json`,
 * `knoten show`, `knoten export` and the HTTP API.
 *
 * The JSON view is for reading: binary values (keys, ids, blob hashes) become
 * lower-case hex strings, so it cannot be turned back into the same bytes.
 * Lossless transport uses the "raw" member (base64 of the exact encoding),
 * which kn_objjson_new() includes when asked.
 */
#ifndef KN_OBJJSON_H
#define KN_OBJJSON_H

#include <jansson.h>
#include <stdbool.h>

#include "object.h"

/* A new JSON object (caller owns the reference) or NULL when out of memory. */
json_t *kn_objjson_new(const kn_object *o, bool with_raw);

/* Standard base64 (RFC 4648, with padding). out holds 4*ceil(len/3)+1 bytes. */
void kn_base64_encode(char *out, const uint8_t *in, size_t len);
/* Decodes into out (capacity cap); returns the length or KN_EINVAL / KN_ETOOBIG. */
KN_MUST_USE int kn_base64_decode(uint8_t *out, size_t cap, const char *in, size_t len);

/*
 * One line of `knoten export` (a JSON object whose "raw" member is the
 * object's bytes in base64), as `knoten import` reads it: decodes "raw" into
 * out (cap bytes) and returns its length, or KN_EINVAL (not JSON, no "raw",
 * not base64) / KN_ETOOBIG (more than cap bytes) / KN_ENOMEM with the reason
 * for the person importing in why. The object itself is not checked.
 */
KN_MUST_USE int kn_objjson_import_line(
    const char *line, size_t len, uint8_t *out, size_t cap, char *why, size_t whycap);

#endif
