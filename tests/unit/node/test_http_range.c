/*
 * Range header values (node/http_range.h): the three forms, clamping,
 * unsatisfiable ranges, and hostile values — overflowing, negative, huge,
 * garbage, several ranges, bytes after the range, an empty file — which are
 * all ignored (the whole file) or unsatisfiable, never out of bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http_range.h"

static kn_http_range_result parse(const char *v, uint64_t size, uint64_t *a, uint64_t *b)
{
    return kn_http_range_parse(v, strlen(v), size, a, b);
}

static void expect(
    const char *v, uint64_t size, kn_http_range_result want, uint64_t wa, uint64_t wb)
{
    uint64_t a = 77, b = 77;
    kn_http_range_result got = parse(v, size, &a, &b);
    if (got != want || a != wa || b != wb)
        fail_msg("\"%s\" of %llu: got %d %llu-%llu, want %d %llu-%llu", v, (unsigned long long)size,
            got, (unsigned long long)a, (unsigned long long)b, want, (unsigned long long)wa,
            (unsigned long long)wb);
    if (got == KN_RANGE_PARTIAL && !(a <= b && b < size))
        fail_msg("\"%s\": range out of the file", v);
}

static void test_forms(void **state)
{
    (void)state;
    expect("bytes=0-99", 1000, KN_RANGE_PARTIAL, 0, 99);
    expect("bytes=10-10", 1000, KN_RANGE_PARTIAL, 10, 10);
    expect("bytes=500-", 1000, KN_RANGE_PARTIAL, 500, 999);
    expect("bytes=-100", 1000, KN_RANGE_PARTIAL, 900, 999);
    expect("bytes=999-999", 1000, KN_RANGE_PARTIAL, 999, 999);
    expect("BYTES=1-2", 1000, KN_RANGE_PARTIAL, 1, 2);
    expect("Bytes=1-2", 1000, KN_RANGE_PARTIAL, 1, 2);
    expect("  bytes=1-2\t", 1000, KN_RANGE_PARTIAL, 1, 2);
    expect("bytes=00000000000000000000000000000001-2", 1000, KN_RANGE_PARTIAL, 1, 2);
    /* past the end: clamped, or the whole file for a long suffix */
    expect("bytes=900-5000", 1000, KN_RANGE_PARTIAL, 900, 999);
    expect("bytes=-5000", 1000, KN_RANGE_PARTIAL, 0, 999);
    expect("bytes=0-", 1, KN_RANGE_PARTIAL, 0, 0);
    /* unsatisfiable */
    expect("bytes=1000-", 1000, KN_RANGE_UNSATISFIABLE, 0, 0);
    expect("bytes=1000-2000", 1000, KN_RANGE_UNSATISFIABLE, 0, 0);
    expect("bytes=-0", 1000, KN_RANGE_UNSATISFIABLE, 0, 0);
}

static void test_hostile(void **state)
{
    (void)state;
    /* 2^64 and far beyond: saturated, so past any file */
    expect("bytes=18446744073709551616-", 1000, KN_RANGE_UNSATISFIABLE, 0, 0);
    expect("bytes=99999999999999999999999999999999999999-", 1000, KN_RANGE_UNSATISFIABLE, 0, 0);
    expect("bytes=0-18446744073709551615", 1000, KN_RANGE_PARTIAL, 0, 999);
    expect("bytes=0-99999999999999999999999999999999999999", 1000, KN_RANGE_PARTIAL, 0, 999);
    expect("bytes=-99999999999999999999999999999999999999", 1000, KN_RANGE_PARTIAL, 0, 999);
    expect("bytes=18446744073709551615-18446744073709551615", UINT64_MAX, KN_RANGE_UNSATISFIABLE, 0,
        0);
    expect("bytes=18446744073709551614-", UINT64_MAX, KN_RANGE_PARTIAL, UINT64_MAX - 1,
        UINT64_MAX - 1);
    /* ignored: the whole file */
    const char *ignored[] = { "", "bytes", "bytes=", "bytes=-", "bytes=--1", "bytes=1--2",
        "bytes=-1-2", "bytes=+1-2", "bytes=1-+2", "bytes= 1-2", "bytes=1 -2", "bytes=1- 2",
        "bytes=1-2 ,", "bytes=1-2,3-4", "bytes=0-0,-1", "bytes=1-2,", "bytes=5-4", "bytes=1.5-2",
        "bytes=0x10-20", "bytes=1e3-", "bytes=1-2x", "bytes =1-2", "byte=1-2", "bytesx=1-2",
        "items=1-2", "=1-2", "1-2", "bytes=１-2", "bytes=\xff-2", "bytes=1-2\r\n", "bytes=1-2;",
        "bytes=a-b", "bytes=-a", "bytes=18446744073709551616-1" };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        expect(ignored[i], 1000, KN_RANGE_IGNORE, 0, 0);
    /* a NUL inside: bytes, not a C string */
    uint64_t a, b;
    assert_int_equal(kn_http_range_parse("bytes=1\0-2", 10, 1000, &a, &b), KN_RANGE_IGNORE);
    assert_int_equal(kn_http_range_parse("bytes=1-2\0", 10, 1000, &a, &b), KN_RANGE_IGNORE);
    assert_int_equal(kn_http_range_parse(NULL, 5, 1000, &a, &b), KN_RANGE_IGNORE);
    /* an empty file: nothing to cut */
    expect("bytes=0-", 0, KN_RANGE_IGNORE, 0, 0);
    expect("bytes=-1", 0, KN_RANGE_IGNORE, 0, 0);
    /* over-long values are not read at all */
    char longv[KN_HTTP_RANGE_MAX + 2];
    memset(longv, '0', sizeof longv - 1);
    memcpy(longv, "bytes=", 6);
    longv[sizeof longv - 2] = '-';
    longv[sizeof longv - 1] = 0;
    expect(longv, 1000, KN_RANGE_IGNORE, 0, 0);
    longv[sizeof longv - 3] = '-';
    longv[sizeof longv - 2] = 0; /* exactly KN_HTTP_RANGE_MAX bytes: read */
    expect(longv, 1000, KN_RANGE_PARTIAL, 0, 999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
