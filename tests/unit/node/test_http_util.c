/*
 * The small parsers of node/http_util.c and http_blob.c that the web
 * fuzzers (tests/fuzz/fuzz_http_form.c, fuzz_http_api.c) found wanting:
 * redirect targets, the trusted proxy's X-Forwarded-For, cookies,
 * Content-Disposition for any file name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http_impl.h"

static void test_local_path(void **state)
{
    (void)state;
    assert_true(http_local_path_ok("/"));
    assert_true(http_local_path_ok("/forum/abc#p1?x=1"));
    assert_false(http_local_path_ok(NULL));
    assert_false(http_local_path_ok(""));
    assert_false(http_local_path_ok("forum"));
    assert_false(http_local_path_ok("https://evil.example/"));
    assert_false(http_local_path_ok("//evil.example/"));
    assert_false(http_local_path_ok("/\\evil.example/"));
    /* Browsers drop tabs and newlines: these are "//evil.example" to them. */
    assert_false(http_local_path_ok("/\t/evil.example/"));
    assert_false(http_local_path_ok("/\n/evil.example/"));
    /* CR LF would end the Location header and start another. */
    assert_false(http_local_path_ok("/x\r\nSet-Cookie: a=b"));
    assert_false(http_local_path_ok("/x\\y"));
}

static void test_forwarded(void **state)
{
    (void)state;
    char ip[64];
    const char *v = "203.0.113.7, 10.0.0.1,  192.0.2.44  ";
    assert_true(http_forwarded_last(v, strlen(v), ip, sizeof ip));
    assert_string_equal(ip, "192.0.2.44");
    v = "2001:db8::1";
    assert_true(http_forwarded_last(v, strlen(v), ip, sizeof ip));
    assert_string_equal(ip, "2001:db8::1");
    v = "1.2.3.4, ";
    assert_false(http_forwarded_last(v, strlen(v), ip, sizeof ip));
    v = "1.2.3.4, evil<script>";
    assert_false(http_forwarded_last(v, strlen(v), ip, sizeof ip));
    static const char nul[] = { '1', '.', 0, '2' };
    assert_false(http_forwarded_last(nul, sizeof nul, ip, sizeof ip));
    v = "1111:2222:3333:4444:5555:6666:7777:8888";
    assert_false(http_forwarded_last(v, strlen(v), ip, 8)); /* does not fit */
}

static void test_cookie(void **state)
{
    (void)state;
    char out[65];
    const char *v = "xlang=fr; lang_=it;  lang=en; knoten_session=abc";
    assert_true(http_cookie_find(v, strlen(v), "lang", out, 4));
    assert_string_equal(out, "en");
    assert_true(http_cookie_find(v, strlen(v), "knoten_session", out, sizeof out));
    assert_string_equal(out, "abc");
    assert_false(http_cookie_find(v, strlen(v), "knoten_pre", out, sizeof out));
    v = "lang=english";
    assert_false(http_cookie_find(v, strlen(v), "lang", out, 4)); /* too long */
    static const char nul[] = { 'l', 'a', 'n', 'g', '=', 'd', 0, 'e' };
    assert_false(http_cookie_find(nul, sizeof nul, "lang", out, sizeof out));
}

static void test_disposition(void **state)
{
    (void)state;
    static const char name[] = { 'a', 0, 'b', '"', ';', '\r', '\n', (char)0xc3, (char)0xa4 };
    hbuf b = { 0 };
    http_content_disposition(&b, name, sizeof name);
    assert_false(b.oom);
    for (size_t i = 0; i < b.len; i++)
        assert_true(b.p[i] >= 0x20 && b.p[i] < 0x7f);
    assert_string_equal(
        b.p, "attachment; filename=\"a_b______\"; filename*=UTF-8''a%00b%22%3B%0D%0A%C3%A4");
    hb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_path),
        cmocka_unit_test(test_forwarded),
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_disposition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
