/*
 * Atom feeds (node/atom.c): one entry per object showing its newest
 * version under the first version's id, titles and content escaped (the
 * content's HTML once more, as Atom wants it), hostile Markdown inert, the
 * newest entries first, nothing that depends on the clock.
 */
#include "../store/store_fixture.h"
#include "atom.h"
#include "hex.h"
#include "test_support.h"

static void thread_obj(fx_obj *o, const fx_key *k, uint64_t created, const uint8_t *prev,
    const char *title, const char *body)
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 2);
    kn_mp_write_cstr(&b, "body");
    kn_mp_write_cstr(&b, body);
    kn_mp_write_cstr(&b, "title");
    kn_mp_write_cstr(&b, title);
    fx_sign(o, KN_T_THREAD, k, created, "Vergabe & Recht", prev, NULL, &b);
}

static void link_obj(fx_obj *o, const fx_key *k, uint64_t created, const char *url)
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 2);
    kn_mp_write_cstr(&b, "title");
    kn_mp_write_cstr(&b, "Handbuch");
    kn_mp_write_cstr(&b, "url");
    kn_mp_write_cstr(&b, url);
    fx_sign(o, KN_T_LINK, k, created, "Vergabe & Recht", NULL, NULL, &b);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void assert_has(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("no \"%s\" in:\n%s", needle, hay);
}

/* A store with a network founded by a, and u a user of a's council. */
static void setup(fx_store *f, fx_key *a, fx_key *u, fx_obj *net)
{
    fx_obj cert;
    fx_init(f, 0, 0);
    fx_keygen(a, 1);
    fx_keygen(u, 2);
    fx_found(f, net, a, 1);
    fx_user(&cert, a, 1100, u->pk);
    assert_put(f, &cert, KN_PUT_STORED);
}

static void test_feed(void **state)
{
    (void)state;
    fx_store f;
    fx_key a, u;
    fx_obj net, t1, t2, p, l, other;
    setup(&f, &a, &u, &net);
    thread_obj(&t1, &u, 2000, NULL, "Erste Fassung", "alt");
    thread_obj(&t2, &u, 5000, t1.id, "Größe <b>&</b> \"Maß\"",
        "**fett** <script>alert(1)</script> [x](javascript:alert(1))");
    fx_post(&p, &a, 3000, "Vergabe & Recht", t1.id, t1.id);
    link_obj(&l, &u, 4000, "https://example.org/a?b=1&c=2");
    fx_thread(&other, &u, 6000, "Anderswo", "Nicht in diesem Bereich");
    const fx_obj *all[] = { &t1, &t2, &p, &l, &other };
    for (size_t i = 0; i < 5; i++)
        assert_put(&f, all[i], KN_PUT_STORED);

    kn_directory dir = { 0 };
    kn_text t;
    kn_text_init(&t, 0);
    kn_atom_options o = { .area = "Vergabe & Recht", .base_url = "https://k.example.de" };
    assert_rc(0, kn_atom_area(f.s, &dir, &o, &t));
    const char *x = t.s;
    char hex[65], want[200];

    assert_has(x,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">");
    kn_hex_encode(hex, net.id, KN_ID);
    snprintf(want, sizeof want, "<id>urn:knoten:%s:area:Vergabe%%20%%26%%20Recht</id>", hex);
    assert_has(x, want);
    assert_has(x, "<title type=\"text\">Vergabe &amp; Recht</title>");
    assert_has(x, "<updated>1970-01-01T00:00:05Z</updated>\n<generator>");
    assert_int_equal(count(x, "<entry>"), 3); /* the thread once, the reply, the link */
    /* The thread under its first id, with the new title and times of both versions. */
    kn_hex_encode(hex, t1.id, KN_ID);
    snprintf(want, sizeof want, "<id>urn:knoten:object:%s</id>", hex);
    assert_has(x, want);
    assert_has(x, "<title type=\"text\">Größe &lt;b&gt;&amp;&lt;/b&gt; &quot;Maß&quot;</title>");
    assert_has(x,
        "<updated>1970-01-01T00:00:05Z</updated>\n<published>1970-01-01T00:00:02Z"
        "</published>");
    assert_null(strstr(x, "Erste Fassung"));
    /* Rendered Markdown, escaped once more: no tag of the body is live in the XML. */
    assert_has(x, "&lt;strong&gt;fett&lt;/strong&gt;");
    assert_has(x, "&lt;code&gt;&amp;lt;script&amp;gt;&lt;/code&gt;");
    assert_null(strstr(x, "<script"));
    assert_null(strstr(x, "javascript:"));
    /* The reply is titled after the thread's newest version; links. */
    assert_has(x, "<title type=\"text\">Re: Größe &lt;b&gt;");
    assert_has(x, "<link rel=\"alternate\" href=\"https://example.org/a?b=1&amp;c=2\"/>");
    kn_hex_encode(hex, p.id, KN_ID);
    snprintf(want, sizeof want, "href=\"https://k.example.de/o/%s\"", hex);
    assert_has(x, want);
    assert_has(
        x, "<link rel=\"self\" href=\"https://k.example.de/feeds/Vergabe%20%26%20Recht.atom\"/>");
    /* Newest first: the thread (5000), the link (4000), the reply (3000). */
    assert_true(strstr(x, "urn:knoten:object:") < strstr(x, "example.org/a"));
    assert_true(strstr(x, "example.org/a") < strstr(x, "Re: "));
    kn_text_free(&t);

    /* --limit, and the refusals. */
    kn_text_init(&t, 0);
    o.max_entries = 1;
    assert_rc(0, kn_atom_area(f.s, &dir, &o, &t));
    assert_int_equal(count(t.s, "<entry>"), 1);
    kn_text_free(&t);
    kn_text_init(&t, 0);
    o.base_url = "javascript:alert(1)";
    assert_rc(KN_EINVAL, kn_atom_area(f.s, &dir, &o, &t));
    o.base_url = "https://x.example/\" onload=\"x";
    assert_rc(KN_EINVAL, kn_atom_area(f.s, &dir, &o, &t));
    o.base_url = NULL;
    o.area = "";
    assert_rc(KN_EINVAL, kn_atom_area(f.s, &dir, &o, &t));
    /* An area without entries is still a valid feed, updated at the network's time. */
    o.area = "Leer";
    assert_rc(0, kn_atom_area(f.s, &dir, &o, &t));
    assert_has(t.s, "<updated>1970-01-01T00:00:01Z</updated>");
    assert_int_equal(count(t.s, "<entry>"), 0);
    kn_text_free(&t);
    fx_done(&f);
}

/*
 * Found by fuzz_textfmt: a title or body with a control character or U+FFFF
 * (valid UTF-8, so the schema lets it through) made the whole feed
 * ill-formed XML, which feed readers refuse. They are left out now.
 */
static void test_feed_xml_chars(void **state)
{
    (void)state;
    fx_store f;
    fx_key a, u;
    fx_obj net, t1;
    setup(&f, &a, &u, &net);
    thread_obj(&t1, &u, 2000, NULL, "Bell\x07 and vt\x0b \xef\xbf\xbf end",
        "esc\x1b[31m red \x01 \xef\xbf\xbe ok\ttab");
    assert_put(&f, &t1, KN_PUT_STORED);
    kn_directory dir = { 0 };
    kn_text t;
    kn_text_init(&t, 0);
    kn_atom_options o = { .area = "Vergabe & Recht" };
    assert_rc(0, kn_atom_area(f.s, &dir, &o, &t));
    for (size_t i = 0; i < t.len; i++) {
        unsigned char c = (unsigned char)t.s[i];
        assert_false(c < 0x20 && c != '\t' && c != '\n' && c != '\r');
    }
    assert_null(strstr(t.s, "\xef\xbf\xbf"));
    assert_null(strstr(t.s, "\xef\xbf\xbe"));
    assert_has(t.s, "<title type=\"text\">Bell and vt  end</title>");
    assert_has(t.s, "[31m red");
    kn_text_free(&t);
    fx_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feed),
        cmocka_unit_test(test_feed_xml_chars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
