/*
 * HTTP Range requests for file downloads (RFC 9110, section 14): reads one
 * Range header value against a file of `size` bytes. Pure and strict: no
 * allocation, no locale, no libc number parsing, every byte looked at once;
 * anything that is not exactly one well-formed byte range is ignored (the
 * whole file is sent, as RFC 9110 allows a server to do). Called by
 * node/http_blob.c (GET /api/docs/ID/files/N); fuzz targets may call
 * kn_http_range_parse() on any bytes.
 *
 * Accepted: `bytes=FIRST-LAST`, `bytes=FIRST-`, `bytes=-SUFFIX` ("bytes"
 * in any case, optional spaces or tabs around the whole value). Numbers are
 * decimal digits only (no sign, no spaces inside); one too large for 64 bits
 * is taken as "beyond any file", which is what it is: a FIRST past the end
 * is unsatisfiable, a LAST or SUFFIX past the end means "to the end".
 * Ignored: another unit, LAST < FIRST, more than one range (a comma), empty
 * or over-long values (more than KN_HTTP_RANGE_MAX bytes), any other byte,
 * and every Range on an empty file.
 */
#ifndef KN_HTTP_RANGE_H
#define KN_HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>

enum { KN_HTTP_RANGE_MAX = 256 };

typedef enum kn_http_range_result {
    KN_RANGE_IGNORE = 0, /* send the whole file: 200 */
    KN_RANGE_PARTIAL, /* send bytes *first..*last (inclusive): 206 */
    KN_RANGE_UNSATISFIABLE, /* 416 with Content-Range: bytes * / size */
} kn_http_range_result;

/*
 * value: the header's bytes (len of them, not NUL-terminated, may contain
 * anything). On KN_RANGE_PARTIAL, *first <= *last < size; otherwise both 0.
 */
kn_http_range_result kn_http_range_parse(
    const char *value, size_t len, uint64_t size, uint64_t *first, uint64_t *last);

#endif
