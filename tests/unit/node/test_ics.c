/*
 * iCalendar export (node/ics.c): content lines folded at 75 octets without
 * splitting UTF-8, TEXT escaping, and a calendar from a real store: the UID
 * of the first version, SEQUENCE, times in their zone with a VTIMEZONE that
 * holds the transitions, UTC for a zone this machine does not know, RSVPs,
 * and the same bytes whichever version is asked for.
 */
#include "../store/store_fixture.h"
#include "hex.h"
#include "ics.h"
#include "test_support.h"

/* Checks the physical lines of text: CRLF only, <= 75 octets, no line starting mid-character. */
static void check_lines(const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n')
            fail_msg("bare LF at %zu", i);
        if (s[i] != '\r')
            continue;
        if (i + 1 >= len || s[i + 1] != '\n')
            fail_msg("CR without LF at %zu", i);
        if (i - start > 75)
            fail_msg("a line of %zu octets: %.*s", i - start, (int)(i - start), s + start);
        size_t first = start < len && s[start] == ' ' ? start + 1 : start;
        if (first < i && ((unsigned char)s[first] & 0xc0) == 0x80)
            fail_msg("a line starts inside a UTF-8 sequence at %zu", first);
        start = i + 2;
        i++;
    }
    assert_int_equal(start, len); /* ends with CRLF */
}

/* Undoes folding: removes every CRLF followed by a space. */
static char *unfold(const char *s, size_t len)
{
    char *o = malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\r' && i + 2 < len && s[i + 1] == '\n' && s[i + 2] == ' ') {
            i += 2;
            continue;
        }
        o[n++] = s[i];
    }
    o[n] = 0;
    return o;
}

static void test_folding(void **state)
{
    (void)state;
    /* Every alignment of two- and three-byte characters against the fold points. */
    for (int shift = 0; shift < 6; shift++) {
        char value[1200];
        size_t n = 0;
        for (int i = 0; i < shift; i++)
            value[n++] = 'x';
        while (n < 1000) {
            memcpy(value + n, "Größe €", 10);
            n += 10;
        }
        value[n] = 0;
        kn_text t;
        kn_text_init(&t, 0);
        kn_ics_line(&t, "SUMMARY", value, n);
        assert_int_equal(t.err, 0);
        check_lines(t.s, t.len);
        char *u = unfold(t.s, t.len);
        assert_int_equal(strncmp(u, "SUMMARY:", 8), 0);
        assert_int_equal(strlen(u), 8 + n + 2);
        assert_memory_equal(u + 8, value, n);
        free(u);
        kn_text_free(&t);
    }
}

static void test_escaping(void **state)
{
    (void)state;
    kn_text t;
    kn_text_init(&t, 0);
    const char *in = "a,b;c\\d\ne\r\nf\x01g\th";
    kn_ics_text_escape(&t, in, strlen(in));
    assert_string_equal(t.s, "a\\,b\\;c\\\\d\\ne\\nfg\th");
    kn_text_free(&t);
}

typedef struct scene {
    fx_store f;
    fx_key a, u, v;
    fx_obj net, cert_u, cert_v;
} scene;

static void event_obj(fx_obj *o, const fx_key *k, uint64_t created, const uint8_t *prev,
    const char *title, const char *tz, uint64_t start, uint64_t end)
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 8);
    kn_mp_write_cstr(&b, "capacity");
    kn_mp_write_uint(&b, 25);
    kn_mp_write_cstr(&b, "description");
    kn_mp_write_cstr(&b, "Erfahrungsaustausch; bitte Fragen vorab, per Mail.");
    kn_mp_write_cstr(&b, "end");
    kn_mp_write_uint(&b, end);
    kn_mp_write_cstr(&b, "link");
    kn_mp_write_cstr(&b, "https://meet.example.org/x?a=1,2");
    kn_mp_write_cstr(&b, "place");
    kn_mp_write_cstr(&b, "Rathaus Süd, Saal 2");
    kn_mp_write_cstr(&b, "start");
    kn_mp_write_uint(&b, start);
    kn_mp_write_cstr(&b, "title");
    kn_mp_write_cstr(&b, title);
    kn_mp_write_cstr(&b, "tz");
    kn_mp_write_cstr(&b, tz);
    fx_sign(o, KN_T_EVENT, k, created, "Digitalisierung", prev, NULL, &b);
}

static char *export(fx_store *f, const uint8_t id[KN_ID])
{
    kn_text t;
    kn_text_init(&t, 0);
    assert_rc(0, kn_ics_export(f->s, NULL, (const uint8_t(*)[KN_ID])id, 1, NULL, &t));
    check_lines(t.s, t.len);
    char *u = unfold(t.s, t.len);
    kn_text_free(&t);
    return u;
}

static void assert_has(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("no \"%s\" in:\n%s", needle, hay);
}

static void test_export(void **state)
{
    (void)state;
    scene sc;
    fx_obj e1, e2, mars, r1, r2;
    fx_init(&sc.f, 0, 0);
    fx_keygen(&sc.a, 1);
    fx_keygen(&sc.u, 2);
    fx_keygen(&sc.v, 3);
    fx_found(&sc.f, &sc.net, &sc.a, 1);
    fx_user(&sc.cert_u, &sc.a, 1100, sc.u.pk);
    fx_user(&sc.cert_v, &sc.a, 1200, sc.v.pk);
    assert_put(&sc.f, &sc.cert_u, KN_PUT_STORED);
    assert_put(&sc.f, &sc.cert_v, KN_PUT_STORED);
    /* 2026-07-01 10:00 CEST (08:00Z) until 2026-11-02 12:00 CET (11:00Z): across the change. */
    const uint64_t start = 1782892800000ull, end = 1793617200000ull;
    event_obj(&e1, &sc.u, 2000, NULL, "Webinar", "Europe/Berlin", start, end);
    event_obj(&e2, &sc.u, 3000, e1.id, "Webinar: E-Akte, Teil 1; neu", "Europe/Berlin", start, end);
    event_obj(&mars, &sc.u, 3500, NULL, "Anderswo", "Mars/Olympus_Mons", start, start + 3600000);
    fx_rsvp(&r1, &sc.v, 4000, "Digitalisierung", e1.id, "yes");
    fx_rsvp(&r2, &sc.u, 4100, "Digitalisierung", e2.id, "maybe");
    assert_put(&sc.f, &e1, KN_PUT_STORED);
    assert_put(&sc.f, &e2, KN_PUT_STORED);
    assert_put(&sc.f, &mars, KN_PUT_STORED);
    assert_put(&sc.f, &r1, KN_PUT_STORED);
    assert_put(&sc.f, &r2, KN_PUT_STORED);

    char uid[80], hex[65];
    kn_hex_encode(hex, e1.id, KN_ID);
    snprintf(uid, sizeof uid, "UID:%s@knoten\r\n", hex);
    char *a = export(&sc.f, e1.id), *b = export(&sc.f, e2.id);
    assert_string_equal(a, b); /* any version: the same calendar */
    assert_has(a, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
    assert_has(a, uid);
    assert_has(a, "SEQUENCE:1\r\n");
    assert_has(a, "SUMMARY:Webinar: E-Akte\\, Teil 1\\; neu\r\n");
    assert_has(a, "DTSTART;TZID=Europe/Berlin:20260701T100000\r\n");
    assert_has(a, "DTEND;TZID=Europe/Berlin:20261102T120000\r\n");
    assert_has(a, "DTSTAMP:19700101T000003Z\r\n"); /* the newest version's created time */
    assert_has(a, "CREATED:19700101T000002Z\r\n");
    assert_has(a, "LOCATION:Rathaus Süd\\, Saal 2\r\n");
    assert_has(a, "URL:https://meet.example.org/x?a=1,2\r\n");
    assert_has(a, "RSVP: 1 yes\\, 1 maybe\\, 0 no");
    /* The zone: summer time at the start, and the change back to CET on 25 October. */
    assert_has(a,
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\n"
        "DTSTART:20260630T100000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0200\r\n"
        "TZNAME:CEST\r\nEND:DAYLIGHT\r\n");
    assert_has(a,
        "BEGIN:STANDARD\r\nDTSTART:20261025T030000\r\nTZOFFSETFROM:+0200\r\n"
        "TZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n");
    free(a);
    free(b);

    /* A zone this machine does not know: UTC times, no VTIMEZONE for it. */
    a = export(&sc.f, mars.id);
    assert_has(a, "DTSTART:20260701T080000Z\r\n");
    assert_has(a, "DTEND:20260701T090000Z\r\n");
    assert_null(strstr(a, "VTIMEZONE"));
    free(a);

    /* The area: both events, one VTIMEZONE, in start order; deterministic. */
    kn_text t1, t2;
    kn_text_init(&t1, 0);
    kn_text_init(&t2, 0);
    assert_rc(0, kn_ics_export_area(sc.f.s, NULL, "Digitalisierung", &t1));
    assert_rc(0, kn_ics_export_area(sc.f.s, NULL, "Digitalisierung", &t2));
    assert_int_equal(t1.len, t2.len);
    assert_memory_equal(t1.s, t2.s, t1.len);
    size_t events = 0;
    for (const char *p = t1.s; (p = strstr(p, "BEGIN:VEVENT")); p++)
        events++;
    assert_int_equal(events, 2);
    kn_text_free(&t1);
    kn_text_free(&t2);

    /* Not an event. */
    kn_text t;
    kn_text_init(&t, 0);
    assert_rc(KN_EINVAL, kn_ics_export(sc.f.s, NULL, (const uint8_t(*)[KN_ID])r1.id, 1, NULL, &t));
    kn_text_free(&t);
    fx_done(&sc.f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folding),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
