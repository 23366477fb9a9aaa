/* HTTP Range header values (see http_range.h). */
#include "http_range.h"

#include <stdbool.h>

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * Digits from *p up to end into *v, saturating at UINT64_MAX. False if there
 * is no digit; *p is left on the first byte that is not one.
 */
static bool digits(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
        s++;
    }
    if (s == *p)
        return false;
    *p = s;
    *v = x;
    return true;
}

static bool unit_bytes(const char *p)
{
    static const char want[] = "bytes=";
    for (int i = 0; i < 6; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != want[i])
            return false;
    }
    return true;
}

kn_http_range_result kn_http_range_parse(
    const char *value, size_t len, uint64_t size, uint64_t *first, uint64_t *last)
{
    *first = *last = 0;
    if (!value || len == 0 || len > KN_HTTP_RANGE_MAX)
        return KN_RANGE_IGNORE;
    const char *p = value, *end = value + len;
    while (p < end && ows(*p))
        p++;
    while (end > p && ows(end[-1]))
        end--;
    if (end - p < 7 || !unit_bytes(p))
        return KN_RANGE_IGNORE;
    p += 6;
    uint64_t a = 0, b = 0;
    bool has_a = digits(&p, end, &a);
    if (p == end || *p != '-')
        return KN_RANGE_IGNORE;
    p++;
    bool has_b = digits(&p, end, &b);
    if (p != end || (!has_a && !has_b) || (has_a && has_b && b < a))
        return KN_RANGE_IGNORE; /* trailing bytes (a second range too), "-", or LAST < FIRST */
    if (size == 0)
        return KN_RANGE_IGNORE; /* nothing to cut: the (empty) whole */
    if (!has_a) { /* the last b bytes */
        if (b == 0)
            return KN_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return KN_RANGE_PARTIAL;
    }
    if (a >= size)
        return KN_RANGE_UNSATISFIABLE;
    *first = a;
    *last = has_b && b < size ? b : size - 1;
    return KN_RANGE_PARTIAL;
}
