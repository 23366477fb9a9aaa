/*
 * Time zones (node/tz.c) against the system's zoneinfo, and against a slim
 * TZif built here that holds only the POSIX rule: both must agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"
#include "tz.h"

static int64_t civil(int y, unsigned m, unsigned d, int h, int mi)
{
    return kn_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60;
}

static kn_tz *load(const char *name)
{
    kn_tz *z = NULL;
    assert_rc(0, kn_tz_load(name, &z));
    return z;
}

static void test_names(void **state)
{
    (void)state;
    assert_true(kn_tz_name_valid("Europe/Berlin"));
    assert_true(kn_tz_name_valid("America/Argentina/Buenos_Aires"));
    assert_true(kn_tz_name_valid("Etc/GMT+1"));
    assert_true(kn_tz_name_valid("UTC"));
    assert_false(kn_tz_name_valid(""));
    assert_false(kn_tz_name_valid("/etc/passwd"));
    assert_false(kn_tz_name_valid("../../etc/passwd"));
    assert_false(kn_tz_name_valid("Europe/../../etc/passwd"));
    assert_false(kn_tz_name_valid("Europe/.hidden"));
    assert_false(kn_tz_name_valid("Europe//Berlin"));
    assert_false(kn_tz_name_valid("Europe/Berlin/"));
    assert_false(kn_tz_name_valid("Europe/Ber lin"));
    assert_false(kn_tz_name_valid("-rf"));
    kn_tz *z = NULL;
    assert_rc(KN_EINVAL, kn_tz_load("../../etc/passwd", &z));
    assert_rc(KN_ENOTFOUND, kn_tz_load("Mars/Olympus_Mons", &z));
    assert_rc(KN_ENOTFOUND, kn_tz_load("Europe", &z)); /* a directory */
    assert_null(z);
}

static void test_berlin(void **state)
{
    (void)state;
    kn_tz *z = load("Europe/Berlin");
    kn_tz_info i;
    bool exists;

    kn_tz_at(z, civil(2026, 12, 3, 9, 0), &i);
    assert_int_equal(i.utoff, 3600);
    assert_false(i.dst);
    assert_string_equal(i.abbr, "CET");
    kn_tz_at(z, civil(2026, 7, 1, 10, 0), &i);
    assert_int_equal(i.utoff, 7200);
    assert_true(i.dst);
    assert_string_equal(i.abbr, "CEST");

    assert_int_equal(
        kn_tz_local_to_utc(z, civil(2026, 12, 3, 10, 0), &exists), civil(2026, 12, 3, 9, 0));
    assert_true(exists);
    assert_int_equal(
        kn_tz_local_to_utc(z, civil(2026, 7, 1, 12, 0), &exists), civil(2026, 7, 1, 10, 0));
    /* 02:30 on 25 October 2026 happens twice: the first (CEST) is meant. */
    assert_int_equal(
        kn_tz_local_to_utc(z, civil(2026, 10, 25, 2, 30), &exists), civil(2026, 10, 25, 0, 30));
    assert_true(exists);
    /* 02:30 on 29 March 2026 does not exist: taken with the offset before the gap. */
    assert_int_equal(
        kn_tz_local_to_utc(z, civil(2026, 3, 29, 2, 30), &exists), civil(2026, 3, 29, 1, 30));
    assert_false(exists);

    kn_tz_transition tr[8];
    size_t n = kn_tz_transitions(z, civil(2026, 1, 1, 0, 0), civil(2027, 1, 1, 0, 0), tr, 8);
    assert_int_equal(n, 2);
    assert_int_equal(tr[0].at, civil(2026, 3, 29, 1, 0));
    assert_int_equal(tr[0].from_utoff, 3600);
    assert_int_equal(tr[0].to.utoff, 7200);
    assert_true(tr[0].to.dst);
    assert_int_equal(tr[1].at, civil(2026, 10, 25, 1, 0));
    assert_string_equal(tr[1].to.abbr, "CET");

    /* After the file's table (2037): the POSIX rule in its footer. */
    n = kn_tz_transitions(z, civil(2040, 1, 1, 0, 0), civil(2041, 1, 1, 0, 0), tr, 8);
    assert_int_equal(n, 2);
    assert_int_equal(tr[0].at, civil(2040, 3, 25, 1, 0));
    assert_int_equal(tr[1].at, civil(2040, 10, 28, 1, 0));
    kn_tz_at(z, civil(2040, 7, 1, 0, 0), &i);
    assert_int_equal(i.utoff, 7200);
    /* Before 1893 Berlin kept local mean time. */
    kn_tz_at(z, civil(1850, 1, 1, 0, 0), &i);
    assert_int_equal(i.utoff, 3208);
    kn_tz_free(z);
}

static void test_other_zones(void **state)
{
    (void)state;
    kn_tz *z = load("Australia/Sydney"); /* southern: DST across the new year */
    kn_tz_info i;
    kn_tz_at(z, civil(2026, 1, 15, 0, 0), &i);
    assert_int_equal(i.utoff, 11 * 3600);
    assert_true(i.dst);
    kn_tz_at(z, civil(2026, 7, 15, 0, 0), &i);
    assert_int_equal(i.utoff, 10 * 3600);
    kn_tz_at(z, civil(2045, 1, 15, 0, 0), &i); /* from the rule */
    assert_int_equal(i.utoff, 11 * 3600);
    kn_tz_free(z);

    z = load("Asia/Kolkata");
    kn_tz_at(z, civil(2026, 5, 1, 0, 0), &i);
    assert_int_equal(i.utoff, 5 * 3600 + 1800);
    assert_int_equal(
        kn_tz_transitions(z, civil(2026, 1, 1, 0, 0), civil(2030, 1, 1, 0, 0), NULL, 0), 0);
    kn_tz_free(z);

    z = load("America/New_York");
    bool exists;
    assert_int_equal(
        kn_tz_local_to_utc(z, civil(2026, 11, 26, 12, 0), &exists), civil(2026, 11, 26, 17, 0));
    kn_tz_free(z);
}

/* A slim TZif: no transitions, one type, and the rule in the footer. */
static size_t slim(uint8_t *buf, const char *rule, int32_t utoff, const char *abbr)
{
    size_t n = 0, al = strlen(abbr) + 1;
    for (int part = 0; part < 2; part++) {
        uint8_t h[44] = { 'T', 'Z', 'i', 'f', '2' };
        h[39] = 1; /* typecnt */
        h[43] = (uint8_t)al; /* charcnt */
        memcpy(buf + n, h, 44);
        n += 44;
        buf[n++] = (uint8_t)((uint32_t)utoff >> 24);
        buf[n++] = (uint8_t)((uint32_t)utoff >> 16);
        buf[n++] = (uint8_t)((uint32_t)utoff >> 8);
        buf[n++] = (uint8_t)utoff;
        buf[n++] = 0;
        buf[n++] = 0;
        memcpy(buf + n, abbr, al);
        n += al;
    }
    buf[n++] = '\n';
    memcpy(buf + n, rule, strlen(rule));
    n += strlen(rule);
    buf[n++] = '\n';
    return n;
}

static void test_rule_only(void **state)
{
    (void)state;
    uint8_t buf[256];
    kn_tz *r = NULL, *z = load("Europe/Berlin");
    size_t n = slim(buf, "CET-1CEST,M3.5.0,M10.5.0/3", 3600, "CET");
    assert_rc(0, kn_tz_parse(buf, n, &r));
    /* Every six hours over 2020..2036: the rule gives what the table says. */
    for (int64_t t = civil(2020, 1, 1, 0, 0); t < civil(2037, 1, 1, 0, 0); t += 6 * 3600) {
        kn_tz_info a, b;
        kn_tz_at(z, t, &a);
        kn_tz_at(r, t, &b);
        if (a.utoff != b.utoff || a.dst != b.dst || strcmp(a.abbr, b.abbr) != 0)
            fail_msg(
                "at %lld: table %d %s, rule %d %s", (long long)t, a.utoff, a.abbr, b.utoff, b.abbr);
    }
    kn_tz_transition ta[64], tb[64];
    size_t na = kn_tz_transitions(z, civil(2021, 1, 1, 0, 0), civil(2031, 1, 1, 0, 0), ta, 64);
    size_t nb = kn_tz_transitions(r, civil(2021, 1, 1, 0, 0), civil(2031, 1, 1, 0, 0), tb, 64);
    assert_int_equal(na, 20);
    assert_int_equal(nb, 20);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(ta[i].at, tb[i].at);
        assert_int_equal(ta[i].from_utoff, tb[i].from_utoff);
        assert_int_equal(ta[i].to.utoff, tb[i].to.utoff);
    }
    kn_tz_free(r);
    kn_tz_free(z);

    /* Julian days and explicit offsets and times in the rule. */
    n = slim(buf, "<+03>-3<+04>-4:30,J60/1:30,J300", 3 * 3600, "+03");
    assert_rc(0, kn_tz_parse(buf, n, &r));
    kn_tz_info i;
    kn_tz_at(r, civil(2027, 2, 28, 22, 29), &i); /* J60 is 1 March; 01:30 local = 22:30Z */
    assert_int_equal(i.utoff, 3 * 3600);
    kn_tz_at(r, civil(2027, 2, 28, 22, 30), &i);
    assert_int_equal(i.utoff, 4 * 3600 + 1800);
    assert_string_equal(i.abbr, "+04");
    kn_tz_free(r);
}

static void test_corrupt(void **state)
{
    (void)state;
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    assert_non_null(f);
    uint8_t buf[8192];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    kn_tz *z = NULL;
    /* Every truncation is refused (the footer alone may go: a v1 reader would not miss it). */
    for (size_t n = 0; n < len - 30; n++) {
        int rc = kn_tz_parse(buf, n, &z);
        if (rc == 0) {
            kn_tz_free(z);
            z = NULL;
            if (n < len - 40)
                fail_msg("a TZif cut to %zu of %zu bytes was accepted", n, len);
        }
    }
    /* Garbage in every byte position of the header and types: no crash, and a clean answer. */
    for (size_t i = 0; i < 200; i++) {
        uint8_t copy[8192];
        memcpy(copy, buf, len);
        copy[i] ^= 0xff;
        if (kn_tz_parse(copy, len, &z) == 0) {
            kn_tz_info info;
            kn_tz_at(z, 0, &info);
            kn_tz_free(z);
            z = NULL;
        }
    }
    uint8_t bad[256];
    size_t n = slim(bad, "CET-1CEST,M13.5.0,M10.5.0/3", 3600, "CET");
    assert_rc(KN_ECORRUPT, kn_tz_parse(bad, n, &z));
    n = slim(bad, "C-1", 3600, "CET"); /* an abbreviation needs three letters */
    assert_rc(KN_ECORRUPT, kn_tz_parse(bad, n, &z));
}

static void test_civil(void **state)
{
    (void)state;
    assert_int_equal(kn_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(kn_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(kn_days_from_civil(1969, 12, 31), -1);
    for (int64_t d = -800000; d < 800000; d += 97) {
        int64_t y;
        unsigned m, dd;
        kn_civil_from_days(d, &y, &m, &dd);
        assert_int_equal(kn_days_from_civil(y, m, dd), d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_berlin),
        cmocka_unit_test(test_other_zones),
        cmocka_unit_test(test_rule_only),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_civil),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
