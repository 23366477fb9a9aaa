/*
 * Safe Markdown (node/markdown.c): what staff write renders as expected, and
 * nothing hostile survives: raw HTML, script-bearing link schemes however
 * they are spelled, data: URLs, remote images, attribute injection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "codec.h"
#include "markdown.h"
#include "test_support.h"
#include "text.h"

static char *render(const char *md)
{
    char *html = NULL;
    assert_rc(0, kn_markdown_to_html(md, strlen(md), &html));
    assert_non_null(html);
    return html;
}

/* Fails if needle occurs in hay, ignoring ASCII case. */
static void assert_lacks(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            fail_msg("found \"%s\" in:\n%s", needle, hay);
}

static void assert_has(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("no \"%s\" in:\n%s", needle, hay);
}

/*
 * Every tag in html (escaped text has no '<') is one cmark writes for
 * Markdown, carries no attribute but href and title, no event handler, no
 * style, and every href is safe by the module's own rule.
 */
static void assert_tags_safe(const char *html)
{
    static const char *const names[] = { "p", "a", "code", "pre", "em", "strong", "h1", "h2", "h3",
        "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "hr", "br", NULL };
    for (const char *p = strchr(html, '<'); p; p = strchr(p + 1, '<')) {
        const char *e = strchr(p, '>');
        assert_non_null(e);
        char tag[1024];
        size_t n = (size_t)(e - p - 1);
        assert_true(n < sizeof tag);
        memcpy(tag, p + 1, n);
        tag[n] = 0;
        const char *t = tag[0] == '/' ? tag + 1 : tag;
        size_t tl = strcspn(t, " />");
        bool known = false;
        for (size_t i = 0; names[i]; i++)
            if (strlen(names[i]) == tl && strncmp(t, names[i], tl) == 0)
                known = true;
        if (!known)
            fail_msg("unexpected tag <%s> in:\n%s", tag, html);
        /* Attributes: name="value" pairs; cmark always double-quotes and escapes '"'. */
        const char *q = t + tl;
        while (*q) {
            while (*q == ' ')
                q++;
            if (!*q || *q == '/')
                break;
            size_t al = strcspn(q, "= ");
            bool href = al == 4 && strncmp(q, "href", 4) == 0;
            if (!href && !(al == 5 && strncmp(q, "title", 5) == 0))
                fail_msg("attribute \"%.*s\" in <%s>", (int)al, q, tag);
            q += al;
            if (q[0] != '=' || q[1] != '"')
                fail_msg("unquoted attribute in <%s>", tag);
            q += 2;
            size_t vl = strcspn(q, "\"");
            if (!q[vl])
                fail_msg("unterminated attribute in <%s>", tag);
            if (href) {
                char url[1024];
                memcpy(url, q, vl);
                url[vl] = 0;
                if (!kn_markdown_url_safe(url))
                    fail_msg("unsafe href \"%s\" in:\n%s", url, html);
            }
            q += vl + 1;
        }
    }
}

static void test_ordinary(void **state)
{
    (void)state;
    char *h = render("# Vergabe\n\n**Wichtig:** siehe [Handbuch](https://example.org/hb?a=1&b=2) "
                     "und <https://example.org/x>.\n\n- eins\n- zwei\n\nMail an "
                     "[uns](mailto:vergabe@example.de), Abschnitt [2](#abschnitt-2).\n");
    assert_has(h, "<h1>Vergabe</h1>");
    assert_has(h, "<strong>Wichtig:</strong>");
    assert_has(h, "<a href=\"https://example.org/hb?a=1&amp;b=2\">Handbuch</a>");
    assert_has(h, "<a href=\"https://example.org/x\">");
    assert_has(h, "<li>zwei</li>");
    assert_has(h, "href=\"mailto:vergabe@example.de\"");
    assert_has(h, "href=\"#abschnitt-2\"");
    free(h);
    h = render("Umlaute: Größe, Maß, Übergabe – „Zitat“ & <3\n");
    assert_has(h, "Größe, Maß, Übergabe – „Zitat“ &amp; &lt;3");
    free(h);
}

static void test_raw_html(void **state)
{
    (void)state;
    char *h = render("<script>alert(1)</script>\n\nText <img src=x onerror=alert(1)> und "
                     "<a href=\"javascript:alert(1)\">klick</a>\n\n<div onclick=\"x()\">\nblock\n"
                     "</div>\n\n<iframe src=\"https://evil.example\"></iframe>\n");
    assert_lacks(h, "<script");
    assert_lacks(h, "<img");
    assert_lacks(h, "<a href=\"javascript");
    assert_lacks(h, "<div");
    assert_lacks(h, "<iframe");
    /* What was typed is shown as code, escaped. */
    assert_has(h, "&lt;script&gt;alert(1)&lt;/script&gt;");
    assert_has(h, "<code>&lt;img src=x onerror=alert(1)&gt;</code>");
    assert_tags_safe(h);
    free(h);
}

static void test_hostile_links(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "[a](javascript:alert(1))",
        "[a](JaVaScRiPt:alert(1))",
        "[a](  javascript:alert(1))",
        "[a](<javascript:alert(1)>)",
        "[a](java&#x73;cript:alert(1))",
        "[a](&#106;avascript:alert(1))",
        "[a](java&#9;script:alert(1))",
        "[a](java&#10;script:alert(1))",
        "[a](&#1;javascript:alert(1))",
        "[a](vbscript:msgbox(1))",
        "[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[a](DATA:text/html,<script>alert(1)</script>)",
        "[a](file:///etc/passwd)",
        "<javascript:alert(1)>",
        "<vbscript:alert(1)>",
        "[a][r]\n\n[r]: javascript:alert(1)",
        "[a][r]\n\n[r]: <data:text/html,x> \"t\"",
        "![x](javascript:alert(1))",
        "![x](data:image/png;base64,iVBORw0KGgo=)",
        "[![x](data:image/png;base64,AAAA)](javascript:alert(1))",
        "[a](http://x\" onmouseover=\"alert(1))",
        "[a](https://example.org \"t\\\" onmouseover=\\\"alert(1)\")",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *h = render(cases[i]);
        assert_lacks(h, "<img");
        assert_lacks(h, "<script");
        assert_tags_safe(h);
        free(h);
    }
    /* The text of a refused link stays. */
    char *h = render("[Handbuch](javascript:alert(1)) lesen");
    assert_has(h, "<p>Handbuch lesen</p>");
    free(h);
}

static void test_images_become_links(void **state)
{
    (void)state;
    char *h = render("![Plan](https://example.org/plan.png \"Lageplan\")");
    assert_has(h, "<a href=\"https://example.org/plan.png\" title=\"Lageplan\">Plan</a>");
    assert_lacks(h, "<img");
    assert_tags_safe(h);
    free(h);
}

static void test_url_rule(void **state)
{
    (void)state;
    assert_true(kn_markdown_url_safe("https://example.org"));
    assert_true(kn_markdown_url_safe("HTTP://example.org"));
    assert_true(kn_markdown_url_safe("mailto:a@example.org"));
    assert_true(kn_markdown_url_safe("/relativ/pfad"));
    assert_true(kn_markdown_url_safe("datei.pdf"));
    assert_true(kn_markdown_url_safe("#anker"));
    assert_true(kn_markdown_url_safe("?q=1:2"));
    assert_true(kn_markdown_url_safe("javascript%3Aalert(1)")); /* a relative path */
    assert_false(kn_markdown_url_safe("javascript:alert(1)"));
    assert_false(kn_markdown_url_safe(" \x01javascript:alert(1)"));
    assert_false(kn_markdown_url_safe("java\tscript:alert(1)"));
    assert_false(kn_markdown_url_safe("ftp://example.org"));
    assert_false(kn_markdown_url_safe("https\x0b://example.org")); /* VT is no tab */
    assert_false(kn_markdown_url_safe(NULL));
}

static void test_bounds(void **state)
{
    (void)state;
    char *h = NULL;
    assert_rc(0, kn_markdown_to_html("", 0, &h));
    assert_string_equal(h, "");
    free(h);
    size_t n = KN_MARKDOWN_MAX + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, '>', n); /* deeply nested block quotes */
    assert_rc(KN_ETOOBIG, kn_markdown_to_html(big, n, &h));
    assert_rc(0, kn_markdown_to_html(big, KN_MARKDOWN_MAX, &h));
    free(h);
    /* Invalid UTF-8 is replaced, not passed on. */
    assert_rc(0, kn_markdown_to_html("a\xff\xfe b", 5, &h));
    assert_lacks(h, "\xff");
    free(h);
    /*
     * Nor do the references to the noncharacters U+FFFE and U+FFFF, which
     * cmark itself decodes into the bytes 0xFE and 0xFF (found by
     * fuzz_markdown), in text and in a link title alike.
     */
    const char *nonchar = "x &#xFFFF; &#xfffe; &#65535; [l](/p \"&#xFFFF;\") &#x10FFFF;";
    assert_rc(0, kn_markdown_to_html(nonchar, strlen(nonchar), &h));
    assert_true(kn_utf8_valid(h, strlen(h)));
    assert_has(h, "x \xEF\xBF\xBD \xEF\xBF\xBD \xEF\xBF\xBD ");
    assert_has(h, "title=\"\xEF\xBF\xBD\"");
    assert_has(h, "\xF4\x8F\xBF\xBF"); /* U+10FFFF is a character: kept */
    free(h);
    free(big);

    kn_text t;
    kn_text_init(&t, 0);
    kn_text_escape(&t, "<a href='x'>&\"</a>", 18);
    assert_int_equal(t.err, 0);
    assert_string_equal(t.s, "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    kn_text_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordinary),
        cmocka_unit_test(test_raw_html),
        cmocka_unit_test(test_hostile_links),
        cmocka_unit_test(test_images_become_links),
        cmocka_unit_test(test_url_rule),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
