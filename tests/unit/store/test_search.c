/*
 * The search index (store/search.c) through the store's public API: what is
 * found for inflected German words, compound parts, umlaut spellings; the
 * ranking order (title over tags over body, exact over compound part); the
 * AND rule and its fallback; the filters by area, type, council and date;
 * that retraction, revocation and edits keep the index in step with the
 * objects (postings removed, only the newest version shown); the build of
 * the index for an older store; and that bad queries are refused.
 */
#include "store_fixture.h"

#include "blob.h"
#include "blobstore.h"
#include "search.h"

/* A signed object with a body of string fields (and optional string arrays). */
typedef struct kv {
    const char *key;
    const char *val; /* a string, or NULL */
    const char *const *arr; /* a NULL-terminated array of strings, if val is NULL */
} kv;

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const kv *)a)->key, ((const kv *)b)->key);
}

static void mk(fx_obj *o, kn_otype type, const fx_key *k, uint64_t created, const char *space,
    const uint8_t *ref0, kv *fields, size_t n)
{
    kn_mp_out b;
    qsort(fields, n, sizeof *fields, cmp_kv);
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        kn_mp_write_cstr(&b, fields[i].key);
        if (fields[i].val) {
            kn_mp_write_cstr(&b, fields[i].val);
        } else {
            uint32_t m = 0;
            while (fields[i].arr[m])
                m++;
            kn_mp_write_array(&b, m);
            for (uint32_t j = 0; j < m; j++)
                kn_mp_write_cstr(&b, fields[i].arr[j]);
        }
    }
    fx_sign(o, type, k, created, space, ref0, NULL, &b);
}

static void thread(fx_obj *o, const fx_key *k, uint64_t created, const char *space,
    const char *title, const char *body)
{
    kv f[] = { { "title", title, NULL }, { "body", body, NULL } };
    mk(o, KN_T_THREAD, k, created, space, NULL, f, 2);
}

static void thread_tags(fx_obj *o, const fx_key *k, uint64_t created, const char *space,
    const char *title, const char *body, const char *const *tags)
{
    kv f[] = { { "title", title, NULL }, { "body", body, NULL }, { "tags", NULL, tags } };
    mk(o, KN_T_THREAD, k, created, space, NULL, f, 3);
}

/* An edit of prev: same type and author, prev as the previous version. */
static void thread_edit(fx_obj *o, const fx_key *k, uint64_t created, const char *space,
    const uint8_t prev[KN_ID], const char *title, const char *body)
{
    kv f[] = { { "title", title, NULL }, { "body", body, NULL } };
    mk(o, KN_T_THREAD, k, created, space, prev, f, 2);
}

static void link_obj(fx_obj *o, const fx_key *k, uint64_t created, const char *space,
    const char *title, const char *url)
{
    kv f[] = { { "title", title, NULL }, { "url", url, NULL } };
    mk(o, KN_T_LINK, k, created, space, NULL, f, 2);
}

/* A doc with one file and an optional language. */
static void doc(fx_obj *o, const fx_key *k, uint64_t created, const char *space, const char *title,
    const char *file, const char *lang)
{
    kn_mp_out b;
    uint8_t blob[KN_ID];
    memset(blob, 0x42, sizeof blob);
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, lang ? 4 : 3);
    kn_mp_write_cstr(&b, "files");
    kn_mp_write_array(&b, 1);
    kn_mp_write_map(&b, 4);
    kn_mp_write_cstr(&b, "blob");
    kn_mp_write_bin(&b, blob, KN_ID);
    kn_mp_write_cstr(&b, "mime");
    kn_mp_write_cstr(&b, "application/pdf");
    kn_mp_write_cstr(&b, "name");
    kn_mp_write_cstr(&b, file);
    kn_mp_write_cstr(&b, "size");
    kn_mp_write_uint(&b, 1234);
    kn_mp_write_cstr(&b, "kind");
    kn_mp_write_cstr(&b, "letter");
    if (lang) {
        kn_mp_write_cstr(&b, "lang");
        kn_mp_write_cstr(&b, lang);
    }
    kn_mp_write_cstr(&b, "title");
    kn_mp_write_cstr(&b, title);
    fx_sign(o, KN_T_DOC, k, created, space, NULL, NULL, &b);
}

typedef struct env {
    fx_store f;
    fx_key a, b;
    fx_obj net, adm;
} env;

/* A store with a network founded by a and a second member b. */
static void env_init(env *e)
{
    fx_init(&e->f, 0, 0);
    fx_keygen(&e->a, 1);
    fx_keygen(&e->b, 2);
    fx_found(&e->f, &e->net, &e->a, 1);
    fx_admit(&e->adm, &e->a, 1100, e->net.id, e->b.pk);
    assert_put(&e->f, &e->adm, KN_PUT_STORED);
}

/* kn_store_check, which covers the search index, finds nothing wrong. */
static void check_ok(env *e)
{
    kn_store_check_report r;
    int rc = kn_store_check(e->f.s, &r);
    if (rc != 0)
        fail_msg("kn_store_check: %s: %s", kn_errname(rc), r.first_problem);
}

static kn_search_result search_q(env *e, const kn_search_query *q)
{
    kn_search_result r;
    int rc = kn_store_search(e->f.s, q, &r);
    if (rc != 0)
        fail_msg("kn_store_search(\"%s\"): %s", q->text, kn_errname(rc));
    return r;
}

static kn_search_result search(env *e, const char *text)
{
    kn_search_query q = { .text = text };
    return search_q(e, &q);
}

static bool has_hit(const kn_search_result *r, const fx_obj *o)
{
    for (size_t i = 0; i < r->n; i++)
        if (memcmp(r->hits[i].id, o->id, KN_ID) == 0)
            return true;
    return false;
}

static void assert_hit_at(const kn_search_result *r, size_t i, const fx_obj *o, const char *what)
{
    if (i >= r->n)
        fail_msg("%s: only %zu hits, wanted one at %zu", what, r->n, i);
    if (memcmp(r->hits[i].id, o->id, KN_ID) != 0)
        fail_msg("%s: hit %zu is \"%s\", not the expected object", what, i, r->hits[i].title);
}

/* Asserts that text finds exactly the given objects (in any order). */
static void assert_finds(env *e, const char *text, const fx_obj *const *want, size_t n)
{
    kn_search_result r = search(e, text);
    if (r.n != n)
        fail_msg("\"%s\": %zu hits, want %zu", text, r.n, n);
    for (size_t i = 0; i < n; i++)
        if (!has_hit(&r, want[i]))
            fail_msg("\"%s\": object %zu not found", text, i);
    kn_search_result_free(&r);
}

static void test_inflections_and_spellings(void **state)
{
    (void)state;
    env e;
    fx_obj t1, t2, t3, t4;
    env_init(&e);
    thread(&t1, &e.a, 2000, "Steuern", "Gewerbesteuer 2026",
        "Wie gehen Sie mit den Bescheiden um? Die Hebesätze steigen.");
    thread(&t2, &e.a, 2001, "Verkehr", "Sperrung der Hauptstraße", "Ab Montag gesperrt.");
    thread(&t3, &e.a, 2002, "Gesundheit", "Ärzte im Landkreis", "Die Hausärzte melden sich.");
    thread(&t4, &e.a, 2003, "Gesundheit", "Aerztliche Versorgung", "Transkribiert ohne Umlaute.");
    assert_put(&e.f, &t1, KN_PUT_STORED);
    assert_put(&e.f, &t2, KN_PUT_STORED);
    assert_put(&e.f, &t3, KN_PUT_STORED);
    assert_put(&e.f, &t4, KN_PUT_STORED);

    const fx_obj *w1[] = { &t1 };
    assert_finds(&e, "Gewerbesteuern", w1, 1);
    assert_finds(&e, "gewerbesteuer", w1, 1);
    assert_finds(&e, "GEWERBESTEUER", w1, 1);
    assert_finds(&e, "Bescheid", w1, 1);
    assert_finds(&e, "Bescheide", w1, 1);
    assert_finds(&e, "Hebesatz", w1, 1);
    const fx_obj *w2[] = { &t2 };
    assert_finds(&e, "Hauptstrasse", w2, 1);
    assert_finds(&e, "hauptstraße", w2, 1);
    /* "Arzt" finds "Ärzte" and, as a compound part, "Hausärzte" (same object). */
    const fx_obj *w3[] = { &t3 };
    assert_finds(&e, "Arzt", w3, 1);
    /* Written with umlauts or without, either spelling finds the other. */
    kn_search_result r = search(&e, "Aerzte");
    assert_true(has_hit(&r, &t3));
    kn_search_result_free(&r);
    r = search(&e, "Ärztliche");
    assert_true(has_hit(&r, &t4));
    kn_search_result_free(&r);
    /* Stop words alone do not make a query; with a real word they are ignored. */
    assert_finds(&e, "die Gewerbesteuer", w1, 1);
    check_ok(&e);
    fx_done(&e.f);
}

static void test_compound_parts(void **state)
{
    (void)state;
    env e;
    fx_obj exact, compound, infix, other;
    env_init(&e);
    thread(&exact, &e.a, 2000, "Steuern", "Steuer", "Allgemeine Fragen.");
    thread(&compound, &e.a, 2001, "Steuern", "Gewerbesteuer", "Hebesatz.");
    thread(&infix, &e.a, 2002, "Steuern", "Grundsteuerbescheid", "Fristen.");
    thread(&other, &e.a, 2003, "Steuern", "Hundehaltung", "Nichts davon.");
    assert_put(&e.f, &exact, KN_PUT_STORED);
    assert_put(&e.f, &compound, KN_PUT_STORED);
    assert_put(&e.f, &infix, KN_PUT_STORED);
    assert_put(&e.f, &other, KN_PUT_STORED);

    /* "Steuer" finds the word itself first, then the compounds that end in or contain it. */
    kn_search_result r = search(&e, "Steuer");
    assert_int_equal(r.n, 3);
    assert_hit_at(&r, 0, &exact, "Steuer");
    assert_true(has_hit(&r, &compound));
    assert_true(has_hit(&r, &infix));
    assert_false(r.fallback);
    kn_search_result_free(&r);
    /* A suffix: "Bescheid" in "Grundsteuerbescheid"; a prefix: "Grund". */
    const fx_obj *wi[] = { &infix };
    assert_finds(&e, "Bescheid", wi, 1);
    assert_finds(&e, "Grund", wi, 1);
    /* Short words (< 4 bytes) match only whole terms: "Hund" is 4, "Hun" is not searched by part.
     */
    const fx_obj *wo[] = { &other };
    assert_finds(&e, "Hund", wo, 1);
    assert_finds(&e, "Hun", wo, 0);
    /* After the retraction of the only object with a term, its parts go too. */
    fx_obj rt;
    fx_retract(&rt, &e.a, 3000, infix.id);
    assert_put(&e.f, &rt, KN_PUT_STORED);
    assert_finds(&e, "Bescheid", wi, 0);
    check_ok(&e);
    fx_done(&e.f);
}

static void test_ranking(void **state)
{
    (void)state;
    env e;
    fx_obj in_title, in_tags, in_body, in_body_long, newer_tie;
    static const char *const tags[] = { "Vergabe", NULL };
    env_init(&e);
    thread(&in_body, &e.a, 2000, "V", "Frage", "Es geht um die Vergabe von Aufträgen.");
    thread_tags(&in_tags, &e.a, 2001, "V", "Frage", "Es geht um Aufträge.", tags);
    thread(&in_title, &e.a, 2002, "V", "Vergabe", "Es geht um Aufträge.");
    thread(&in_body_long, &e.a, 2003, "V", "Frage",
        "Ein sehr langer Text über Beschaffung, Ausschreibung, Fristen, Nachweise, Eignung, "
        "Zuschlag, Losbildung, Bieterfragen, Rügen und am Ende auch die Vergabe selbst.");
    thread(&newer_tie, &e.a, 2004, "V", "Frage", "Es geht um die Vergabe von Aufträgen!");
    assert_put(&e.f, &in_body, KN_PUT_STORED);
    assert_put(&e.f, &in_tags, KN_PUT_STORED);
    assert_put(&e.f, &in_title, KN_PUT_STORED);
    assert_put(&e.f, &in_body_long, KN_PUT_STORED);
    assert_put(&e.f, &newer_tie, KN_PUT_STORED);

    kn_search_result r = search(&e, "Vergabe");
    assert_int_equal(r.n, 5);
    assert_hit_at(&r, 0, &in_title, "title first");
    assert_hit_at(&r, 1, &in_tags, "tags second");
    assert_hit_at(&r, 2, &newer_tie, "equal scores: the newer first");
    assert_hit_at(&r, 3, &in_body, "body");
    assert_hit_at(&r, 4, &in_body_long, "the longer body last");
    assert_true(r.hits[0].score > r.hits[1].score);
    assert_true(r.hits[1].score > r.hits[2].score);
    assert_true(r.hits[3].score > r.hits[4].score);
    assert_int_equal(r.total, 5);
    /* The hit carries what a listing needs. */
    assert_string_equal(r.hits[0].title, "Vergabe");
    assert_string_equal(r.hits[0].space, "V");
    assert_int_equal(r.hits[0].type, KN_T_THREAD);
    assert_int_equal(r.hits[0].created, 2002);
    assert_memory_equal(r.hits[0].author, e.a.pk, KN_KEY);
    assert_memory_equal(r.hits[0].council, e.a.pk, KN_KEY);
    assert_int_equal(r.nwords, 1);
    assert_string_equal(r.words[0], "vergabe");
    assert_int_equal(r.hits[0].matched, 1);
    kn_search_result_free(&r);

    /* limit */
    kn_search_query q = { .text = "Vergabe", .limit = 2 };
    r = search_q(&e, &q);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.total, 5);
    kn_search_result_free(&r);
    check_ok(&e);
    fx_done(&e.f);
}

static void test_and_and_fallback(void **state)
{
    (void)state;
    env e;
    fx_obj both, one, two;
    env_init(&e);
    thread(&both, &e.a, 2000, "S", "Gewerbesteuer und Hundesteuer", "Beides.");
    thread(&one, &e.a, 2001, "S", "Gewerbesteuer", "Nur eine.");
    thread(&two, &e.a, 2002, "S", "Hundesteuer", "Die andere.");
    assert_put(&e.f, &both, KN_PUT_STORED);
    assert_put(&e.f, &one, KN_PUT_STORED);
    assert_put(&e.f, &two, KN_PUT_STORED);

    kn_search_result r = search(&e, "Gewerbesteuer Hundesteuer");
    assert_int_equal(r.n, 1);
    assert_hit_at(&r, 0, &both, "AND");
    assert_false(r.fallback);
    assert_int_equal(r.hits[0].matched, 3);
    kn_search_result_free(&r);

    /* No object has all three words: those with the most of them come first. */
    r = search(&e, "Gewerbesteuer Hundesteuer Zebrastreifen");
    assert_true(r.fallback);
    assert_int_equal(r.n, 3);
    assert_hit_at(&r, 0, &both, "fallback: two of three words first");
    assert_int_equal(r.hits[0].matched, 3);
    assert_true(r.hits[1].matched == 1 || r.hits[1].matched == 2);
    assert_int_equal(r.nwords, 3);
    assert_string_equal(r.words[2], "zebrastreifen");
    kn_search_result_free(&r);

    /* One word that matches nothing: no fallback to show. */
    r = search(&e, "Zebrastreifen");
    assert_int_equal(r.n, 0);
    assert_false(r.fallback);
    kn_search_result_free(&r);
    check_ok(&e);
    fx_done(&e.f);
}

static void test_filters(void **state)
{
    (void)state;
    env e;
    fx_obj ta, tb, tu, lk, cert, d;
    fx_key u;
    env_init(&e);
    fx_keygen(&u, 3);
    fx_user(&cert, &e.b, 1200, u.pk); /* u is staff of b's council */
    assert_put(&e.f, &cert, KN_PUT_STORED);
    thread(&ta, &e.a, 2000, "Corona", "Homeoffice Regelung", "Bei a.");
    thread(&tb, &e.b, 3000, "Personal", "Homeoffice Antrag", "Bei b.");
    thread(&tu, &u, 4000, "Personal", "Homeoffice Erfahrungen", "Von einer Mitarbeiterin bei b.");
    link_obj(&lk, &e.a, 5000, "Corona", "Homeoffice Leitfaden", "https://example.org/homeoffice");
    doc(&d, &e.b, 6000, "Personal", "Dienstvereinbarung", "homeoffice-dv.pdf", "de");
    assert_put(&e.f, &ta, KN_PUT_STORED);
    assert_put(&e.f, &tb, KN_PUT_STORED);
    assert_put(&e.f, &tu, KN_PUT_STORED);
    assert_put(&e.f, &lk, KN_PUT_STORED);
    assert_put(&e.f, &d, KN_PUT_STORED);

    kn_search_result r = search(&e, "Homeoffice");
    assert_int_equal(r.n, 5); /* the doc through its file name */
    kn_search_result_free(&r);

    kn_search_query q = { .text = "Homeoffice", .space = "Corona" };
    r = search_q(&e, &q);
    assert_int_equal(r.n, 2);
    assert_true(has_hit(&r, &ta) && has_hit(&r, &lk));
    kn_search_result_free(&r);

    q = (kn_search_query) { .text = "Homeoffice", .type = KN_T_LINK };
    r = search_q(&e, &q);
    assert_int_equal(r.n, 1);
    assert_hit_at(&r, 0, &lk, "type");
    kn_search_result_free(&r);

    /* The council of a user's object is the node that certified the user. */
    q = (kn_search_query) { .text = "Homeoffice", .council = e.b.pk };
    r = search_q(&e, &q);
    assert_int_equal(r.n, 3);
    assert_true(has_hit(&r, &tb) && has_hit(&r, &tu) && has_hit(&r, &d));
    for (size_t i = 0; i < r.n; i++)
        assert_memory_equal(r.hits[i].council, e.b.pk, KN_KEY);
    kn_search_result_free(&r);

    q = (kn_search_query) { .text = "Homeoffice", .since_ms = 3000, .until_ms = 5000 };
    r = search_q(&e, &q);
    assert_int_equal(r.n, 2);
    assert_true(has_hit(&r, &tb) && has_hit(&r, &tu));
    kn_search_result_free(&r);

    q = (kn_search_query) { .text = "Homeoffice",
        .space = "Personal",
        .council = e.b.pk,
        .type = KN_T_THREAD,
        .since_ms = 3500 };
    r = search_q(&e, &q);
    assert_int_equal(r.n, 1);
    assert_hit_at(&r, 0, &tu, "all filters");
    kn_search_result_free(&r);

    q = (kn_search_query) { .text = "Homeoffice", .space = "Nirgendwo" };
    r = search_q(&e, &q);
    assert_int_equal(r.n, 0);
    kn_search_result_free(&r);
    check_ok(&e);
    fx_done(&e.f);
}

static void test_retract_and_revoke_remove_postings(void **state)
{
    (void)state;
    env e;
    fx_obj t1, t2, rt, rv, tb;
    kn_search_stats st0, st1, st;
    env_init(&e);
    assert_int_equal(kn_store_search_stats(e.f.s, &st0), 0);
    assert_true(st0.complete);
    thread(&t1, &e.a, 2000, "A", "Datenschutz Folgenabschätzung", "Ein Muster.");
    thread(&t2, &e.a, 2001, "A", "Datenschutz Schulung", "Termine.");
    assert_put(&e.f, &t1, KN_PUT_STORED);
    assert_int_equal(kn_store_search_stats(e.f.s, &st1), 0);
    assert_put(&e.f, &t2, KN_PUT_STORED);
    assert_int_equal(kn_store_search_stats(e.f.s, &st), 0);
    assert_int_equal(st.docs, st0.docs + 2);

    fx_retract(&rt, &e.a, 3000, t2.id);
    assert_put(&e.f, &rt, KN_PUT_STORED);
    const fx_obj *w[] = { &t1 };
    assert_finds(&e, "Datenschutz", w, 1);
    assert_finds(&e, "Schulung", w, 0);
    assert_int_equal(kn_store_search_stats(e.f.s, &st), 0);
    assert_int_equal(st.docs, st1.docs);
    assert_int_equal(st.postings, st1.postings); /* every posting of t2 is gone */

    /* A revocation purges b's objects from its time on, and their postings with them. */
    thread(&tb, &e.b, 5000, "A", "Datenschutz bei b", "Auch hier.");
    assert_put(&e.f, &tb, KN_PUT_STORED);
    kn_search_result r = search(&e, "Datenschutz");
    assert_int_equal(r.n, 2);
    kn_search_result_free(&r);
    fx_revoke(&rv, &e.a, 4000, e.net.id, e.b.pk);
    assert_put(&e.f, &rv, KN_PUT_STORED);
    assert_int_equal(kn_store_has(e.f.s, tb.id), 0);
    assert_finds(&e, "Datenschutz", w, 1);
    assert_int_equal(kn_store_search_stats(e.f.s, &st), 0);
    assert_int_equal(st.postings, st1.postings);
    check_ok(&e);
    fx_done(&e.f);
}

/* Stored and retracted in one batch: the postings still in the buffer go too. */
static void test_one_batch(void **state)
{
    (void)state;
    env e;
    fx_obj t1, t2, rt;
    kn_search_stats before, after;
    env_init(&e);
    assert_int_equal(kn_store_search_stats(e.f.s, &before), 0);
    thread(&t1, &e.a, 2000, "A", "Winterdienst Streupflicht", "Räumen und streuen.");
    thread(&t2, &e.a, 2001, "A", "Winterdienst Fahrzeuge", "Bestand.");
    fx_retract(&rt, &e.a, 2002, t1.id);
    kn_object objs[3] = { t1.o, t2.o, rt.o };
    int res[3];
    assert_int_equal(kn_store_ingest(e.f.s, objs, 3, res, NULL), 0);
    assert_int_equal(res[0], KN_PUT_STORED);
    assert_int_equal(res[2], KN_PUT_STORED);
    const fx_obj *w[] = { &t2 };
    assert_finds(&e, "Winterdienst", w, 1);
    assert_finds(&e, "Streupflicht", w, 0);
    assert_int_equal(kn_store_search_stats(e.f.s, &after), 0);
    assert_int_equal(after.docs, before.docs + 1);
    check_ok(&e);
    fx_done(&e.f);
}

static void test_versions(void **state)
{
    (void)state;
    env e;
    fx_obj v1, v2, v3, other, rt;
    env_init(&e);
    thread(&v1, &e.a, 2000, "A", "Satzung Entwurf", "Erste Fassung mit Tippfehlr.");
    assert_put(&e.f, &v1, KN_PUT_STORED);
    thread_edit(&v2, &e.a, 2100, "A", v1.id, "Satzung Entwurf", "Zweite Fassung.");
    assert_put(&e.f, &v2, KN_PUT_STORED);
    /* Someone else's "edit" is no version of v1: both stay. */
    thread_edit(&other, &e.b, 2200, "A", v1.id, "Satzung Gegenentwurf", "Andere Fassung.");
    assert_put(&e.f, &other, KN_PUT_STORED);

    kn_search_result r = search(&e, "Satzung");
    assert_int_equal(r.n, 2);
    assert_true(has_hit(&r, &v2) && has_hit(&r, &other));
    kn_search_result_free(&r);
    /* The old version's own words no longer find the chain. */
    const fx_obj *none[] = { NULL };
    assert_finds(&e, "Tippfehlr", none, 0);

    thread_edit(&v3, &e.a, 2300, "A", v2.id, "Satzung Beschluss", "Dritte Fassung.");
    assert_put(&e.f, &v3, KN_PUT_STORED);
    const fx_obj *w3[] = { &v3 };
    assert_finds(&e, "Fassung Beschluss", w3, 1);
    r = search(&e, "Fassung");
    assert_int_equal(r.n, 2); /* v3 and the other author's */
    assert_false(has_hit(&r, &v2));
    kn_search_result_free(&r);

    /* Retracting the newest version shows the one before it again. */
    fx_retract(&rt, &e.a, 3000, v3.id);
    assert_put(&e.f, &rt, KN_PUT_STORED);
    r = search(&e, "Fassung");
    assert_int_equal(r.n, 2);
    assert_true(has_hit(&r, &v2) && has_hit(&r, &other));
    kn_search_result_free(&r);
    check_ok(&e);
    fx_done(&e.f);
}

static void test_users_and_unindexed_types(void **state)
{
    (void)state;
    env e;
    fx_obj cert, rv;
    fx_key u;
    env_init(&e);
    fx_keygen(&u, 9);
    fx_user(&cert, &e.a, 1300, u.pk); /* "Erika Mustermann", "Personalamt" */
    assert_put(&e.f, &cert, KN_PUT_STORED);

    const fx_obj *w[] = { &cert };
    assert_finds(&e, "Mustermann", w, 1);
    assert_finds(&e, "Personalamt", w, 1);
    /* The network and admit objects carry names but are not indexed. */
    assert_finds(&e, "Testnetz", w, 0);
    assert_finds(&e, "Gemeinde", w, 0);
    /* A revoked user leaves the expert directory. */
    fx_revoke(&rv, &e.a, 5000, e.net.id, u.pk);
    assert_put(&e.f, &rv, KN_PUT_STORED);
    assert_finds(&e, "Mustermann", w, 0);
    check_ok(&e);
    fx_done(&e.f);
}

static void test_doc_language(void **state)
{
    (void)state;
    env e;
    fx_obj de, en, any;
    env_init(&e);
    doc(&de, &e.a, 2000, "A", "Meldungen an das Amt", "meldungen.pdf", "de");
    doc(&en, &e.a, 2001, "A", "Reporting duties", "reports.pdf", "en");
    doc(&any, &e.a, 2002, "A", "Reporting und Meldungen", "mix.pdf", NULL);
    assert_put(&e.f, &de, KN_PUT_STORED);
    assert_put(&e.f, &en, KN_PUT_STORED);
    assert_put(&e.f, &any, KN_PUT_STORED);
    /* English stems: "report" meets "reporting" and "reports" in the English doc. */
    kn_search_result r = search(&e, "report");
    assert_true(has_hit(&r, &en));
    assert_true(has_hit(&r, &any));
    kn_search_result_free(&r);
    r = search(&e, "Meldung");
    assert_true(has_hit(&r, &de));
    assert_true(has_hit(&r, &any));
    assert_false(has_hit(&r, &en));
    kn_search_result_free(&r);
    check_ok(&e);
    fx_done(&e.f);
}

static void test_snippet(void **state)
{
    (void)state;
    env e;
    fx_obj t, p;
    env_init(&e);
    thread(&t, &e.a, 2000, "A", "Frage zur Beschaffung",
        "Wir haben lange überlegt, wie wir die vielen Anfragen aus den Ortsteilen bündeln. "
        "Am Ende hat sich ein Rahmenvertrag für Streusalz bewährt, den alle nutzen können. "
        "Details gern auf Nachfrage.");
    assert_put(&e.f, &t, KN_PUT_STORED);
    fx_post(&p, &e.a, 2100, "A", t.id, t.id); /* "So machen wir es." */
    assert_put(&e.f, &p, KN_PUT_STORED);

    kn_search_result r = search(&e, "Streusalz");
    assert_int_equal(r.n, 1);
    const char *sn = r.hits[0].snippet;
    assert_non_null(strstr(sn, "Streusalz"));
    assert_true(strncmp(sn, "\xe2\x80\xa6", 3) == 0); /* cut at the front */
    assert_true(strlen(sn) <= KN_SEARCH_SNIPPET_MAX);
    assert_string_equal(r.hits[0].title, "Frage zur Beschaffung");
    kn_search_result_free(&r);

    r = search(&e, "machen");
    assert_int_equal(r.n, 1);
    assert_string_equal(r.hits[0].title, "Re: Frage zur Beschaffung");
    assert_string_equal(r.hits[0].snippet, "So machen wir es.");
    kn_search_result_free(&r);
    check_ok(&e);
    fx_done(&e.f);
}

static void test_bad_queries(void **state)
{
    (void)state;
    env e;
    kn_search_result r;
    char big[KN_SEARCH_QUERY_MAX + 2];
    env_init(&e);

    kn_search_query q = { .text = "" };
    assert_int_equal(kn_store_search(e.f.s, &q, &r), KN_EINVAL);
    q.text = "die der und the";
    assert_int_equal(kn_store_search(e.f.s, &q, &r), KN_EINVAL);
    q.text = "a b c";
    assert_int_equal(kn_store_search(e.f.s, &q, &r), KN_EINVAL);
    q.text = "Stra\xff"
             "e";
    assert_int_equal(kn_store_search(e.f.s, &q, &r), KN_EUTF8);
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    q.text = big;
    assert_int_equal(kn_store_search(e.f.s, &q, &r), KN_ETOOBIG);
    q.text = "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16 w17";
    assert_int_equal(kn_store_search(e.f.s, &q, &r), KN_ETOOBIG);
    q.text = "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16 w16 w1"; /* repeats: 16 */
    assert_int_equal(kn_store_search(e.f.s, &q, &r), 0);
    kn_search_result_free(&r);
    q = (kn_search_query) { .text = "Vergabe", .type = KN_T_VOTE };
    assert_int_equal(kn_store_search(e.f.s, &q, &r), KN_EINVAL);
    q = (kn_search_query) { .text = "Vergabe", .limit = KN_SEARCH_LIMIT_MAX + 1 };
    assert_int_equal(kn_store_search(e.f.s, &q, &r), KN_EINVAL);
    q = (kn_search_query) { .text = "Vergabe", .space = "" };
    assert_int_equal(kn_store_search(e.f.s, &q, &r), KN_EINVAL);
    assert_int_equal(kn_store_search(NULL, &q, &r), KN_EINVAL);
    check_ok(&e);
    fx_done(&e.f);
}

/* ---- attached files ---- */

typedef struct tfile {
    const uint8_t *data;
    size_t size;
    uint8_t id[KN_BLOB_ID];
    uint8_t *hashes;
    uint32_t n;
    const char *mime, *name;
} tfile;

static void tfile_make(tfile *f, const void *data, size_t size, const char *mime, const char *name)
{
    kn_blob_hasher h;
    f->data = data;
    f->size = size;
    f->mime = mime;
    f->name = name;
    kn_blob_hasher_init(&h);
    assert_int_equal(kn_blob_hasher_update(&h, f->data, size), 0);
    assert_int_equal(kn_blob_hasher_final(&h, f->id), 0);
    f->n = h.nchunks;
    f->hashes = kn_blob_hasher_take(&h);
    kn_blob_hasher_free(&h);
}

/* Stores every chunk of f (its manifest must be there). */
static void tfile_chunks(env *e, const tfile *f)
{
    for (uint32_t i = 0; i < f->n; i++) {
        int rc = kn_blob_put_chunk(
            e->f.s, f->id, i, f->data + (size_t)i * KN_BLOB_CHUNK, kn_blob_chunk_len(f->size, i));
        if (rc != KN_BLOB_STORED)
            fail_msg("chunk %u: %s", i, kn_errname(rc));
    }
}

/* A doc titled title with the files f[0..n). */
static void doc_with(
    fx_obj *o, const fx_key *k, uint64_t created, const char *title, const tfile *f, int n)
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 3);
    kn_mp_write_cstr(&b, "files");
    kn_mp_write_array(&b, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        kn_mp_write_map(&b, 4);
        kn_mp_write_cstr(&b, "blob");
        kn_mp_write_bin(&b, f[i].id, KN_BLOB_ID);
        kn_mp_write_cstr(&b, "mime");
        kn_mp_write_cstr(&b, f[i].mime);
        kn_mp_write_cstr(&b, "name");
        kn_mp_write_cstr(&b, f[i].name);
        kn_mp_write_cstr(&b, "size");
        kn_mp_write_uint(&b, f[i].size);
    }
    kn_mp_write_cstr(&b, "kind");
    kn_mp_write_cstr(&b, "instruction");
    kn_mp_write_cstr(&b, "title");
    kn_mp_write_cstr(&b, title);
    fx_sign(o, KN_T_DOC, k, created, "Ordnung", NULL, NULL, &b);
}

/*
 * The text of plain-text and Markdown files: indexed when the doc is stored
 * with its file complete (a local publish), or when the last chunk of a file
 * arrives after the doc (from a peer); UTF-8 or Windows-1252; the first
 * KN_SEARCH_FILE_TEXT_MAX bytes only; never other types; gone on retraction.
 */
static void test_file_text(void **state)
{
    (void)state;
    env e;
    fx_obj local, remote, rt;
    tfile lf[2], rf;
    env_init(&e);

    /* Local: the file is complete before the doc is stored. */
    static const char md[] = "# Winterdienst\n\nDie **Räumpflicht** gilt ab 7 Uhr.\n";
    static const char pdf[] = "%PDF-1.4 Streusalzlager Geheimwort";
    tfile_make(&lf[0], md, sizeof md - 1, "text/markdown; charset=utf-8", "winter.md");
    tfile_make(&lf[1], pdf, sizeof pdf - 1, "application/pdf", "winter.pdf");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(
            kn_blob_stage_manifest(e.f.s, lf[i].id, lf[i].size, lf[i].hashes, lf[i].n, FX_NOW),
            KN_BLOB_STORED);
        tfile_chunks(&e, &lf[i]);
    }
    doc_with(&local, &e.a, 2000, "Merkblatt", lf, 2);
    assert_put(&e.f, &local, KN_PUT_STORED);
    const fx_obj *wl[] = { &local };
    assert_finds(&e, "Räumpflichten", wl, 1);
    assert_finds(&e, "Geheimwort", wl, 0); /* a PDF's bytes are not text */
    assert_finds(&e, "winter", wl, 1); /* the file names */

    /* From a peer: the doc first, the file later; Windows-1252 text over two chunks. */
    size_t big = KN_BLOB_CHUNK + 5000;
    char *text = malloc(KN_SEARCH_FILE_TEXT_MAX + 100000);
    assert_non_null(text);
    for (size_t i = 0; i < big; i++)
        text[i] = "lorem ipsum dolor "[i % 18];
    static const char w1[] = " Stra\xdf"
                             "enreinigung "; /* ß in Windows-1252 */
    static const char w2[] = " Laubbl\xe4ser "; /* ä, in the second chunk */
    memcpy(text + 10, w1, sizeof w1 - 1);
    memcpy(text + big - 30, w2, sizeof w2 - 1);
    tfile_make(&rf, text, big, "text/plain", "satzung.txt");
    doc_with(&remote, &e.b, 3000, "Satzung", &rf, 1);
    assert_put(&e.f, &remote, KN_PUT_STORED);
    const fx_obj *wr[] = { &remote };
    assert_finds(&e, "Strassenreinigung", wr, 0);
    assert_int_equal(kn_blob_put_manifest(e.f.s, rf.id, rf.size, rf.hashes, rf.n), KN_BLOB_STORED);
    assert_int_equal(kn_blob_put_chunk(e.f.s, rf.id, 0, rf.data, KN_BLOB_CHUNK), KN_BLOB_STORED);
    assert_finds(&e, "Strassenreinigung", wr, 0); /* not complete yet */
    assert_int_equal(
        kn_blob_put_chunk(e.f.s, rf.id, 1, rf.data + KN_BLOB_CHUNK, kn_blob_chunk_len(rf.size, 1)),
        KN_BLOB_STORED);
    assert_finds(&e, "Straßenreinigung", wr, 1);
    assert_finds(&e, "Laubbläser", wr, 1);
    kn_search_result r = search(&e, "Strassenreinigung");
    assert_string_equal(r.hits[0].title, "Satzung");
    kn_search_result_free(&r);

    /* Only the first KN_SEARCH_FILE_TEXT_MAX bytes of a file count. */
    tfile cut;
    size_t huge = KN_SEARCH_FILE_TEXT_MAX + 100000;
    for (size_t i = 0; i < huge; i++)
        text[i] = "lorem ipsum dolor "[i % 18];
    memcpy(text + 100, " Anfangswort ", 13);
    memcpy(text + KN_SEARCH_FILE_TEXT_MAX + 50000, " Schlusswort ", 13);
    tfile_make(&cut, text, huge, "text/plain", "lang.txt");
    assert_int_equal(
        kn_blob_stage_manifest(e.f.s, cut.id, cut.size, cut.hashes, cut.n, FX_NOW), KN_BLOB_STORED);
    tfile_chunks(&e, &cut);
    fx_obj longdoc;
    doc_with(&longdoc, &e.a, 4000, "Lang", &cut, 1);
    assert_put(&e.f, &longdoc, KN_PUT_STORED);
    const fx_obj *wc[] = { &longdoc };
    assert_finds(&e, "Anfangswort", wc, 1);
    assert_finds(&e, "Schlusswort", wc, 0);

    /* Retraction takes the file text out with the doc. */
    fx_retract(&rt, &e.b, 5000, remote.id);
    assert_put(&e.f, &rt, KN_PUT_STORED);
    assert_finds(&e, "Strassenreinigung", wr, 0);

    free(text);
    free(lf[0].hashes);
    free(lf[1].hashes);
    free(rf.hashes);
    free(cut.hashes);
    check_ok(&e);
    fx_done(&e.f);
}

typedef struct progress {
    uint64_t calls, last_done, total;
    bool monotonic;
} progress;

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress *p = ctx;
    if (done < p->last_done)
        p->monotonic = false;
    p->calls++;
    p->last_done = done;
    p->total = total;
}

/*
 * A store whose index is missing or was made by other text rules (here: a
 * fingerprint that does not match, and schema 4) gets it rebuilt on open,
 * in steps with progress, and finds the same as before.
 */
static void test_build_for_older_store(void **state)
{
    (void)state;
    env e;
    enum { N = 2500 };
    static fx_obj t[N];
    kn_search_stats before, after;
    char title[64];
    env_init(&e);
    for (int i = 0; i < N; i++) {
        snprintf(title, sizeof title, "Anfrage %d zur Gewerbesteuer", i);
        thread(&t[i], &e.a, 10000 + (uint64_t)i, i % 2 ? "Steuern" : "Finanzen", title,
            i % 10 ? "Text." : "Mit Bescheiden.");
    }
    kn_object *objs = malloc(N * sizeof *objs);
    int *res = malloc(N * sizeof *res);
    for (int i = 0; i < N; i++)
        objs[i] = t[i].o;
    assert_int_equal(kn_store_ingest(e.f.s, objs, N, res, NULL), 0);
    free(objs);
    free(res);
    assert_int_equal(kn_store_search_stats(e.f.s, &before), 0);
    kn_search_query q = { .text = "Gewerbesteuern Bescheid", .limit = 1000 };
    kn_search_result r1 = search_q(&e, &q);
    assert_int_equal(r1.n, N / 10);

    const uint8_t ver4[4] = { 0, 0, 0, 4 }, oldfp[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    assert_int_equal(kn_store_debug_put_raw(
                         e.f.s, "meta", (const uint8_t *)"schema_version", 14, ver4, sizeof ver4),
        0);
    assert_int_equal(
        kn_store_debug_put_raw(e.f.s, "meta", (const uint8_t *)"search_fp", 9, oldfp, 8), 0);
    progress p = { 0, 0, 0, true };
    e.f.opt.progress = on_progress;
    e.f.opt.progress_ctx = &p;
    fx_reopen(&e.f);
    assert_true(p.calls >= 3); /* 2,502 objects in steps of 1,000 */
    assert_true(p.monotonic);
    assert_int_equal(p.last_done, p.total);
    assert_int_equal(p.total, N + 2);

    kn_store_stats ss;
    assert_int_equal(kn_store_stats_get(e.f.s, &ss), 0);
    assert_int_equal(ss.schema_version, KN_STORE_SCHEMA_VERSION);
    assert_int_equal(kn_store_search_stats(e.f.s, &after), 0);
    assert_true(after.complete);
    assert_int_equal(after.docs, before.docs);
    assert_int_equal(after.postings, before.postings);
    kn_search_result r2 = search_q(&e, &q);
    assert_int_equal(r2.n, r1.n);
    for (size_t i = 0; i < r1.n; i++)
        assert_memory_equal(r1.hits[i].id, r2.hits[i].id, KN_ID);
    kn_search_result_free(&r1);
    kn_search_result_free(&r2);

    /* A word in every title: its postings span several LMDB pages, all read, newest first. */
    q = (kn_search_query) { .text = "Gewerbesteuer", .limit = 1000 };
    r2 = search_q(&e, &q);
    assert_int_equal(r2.total, N);
    assert_int_equal(r2.n, 1000);
    assert_false(r2.truncated);
    kn_search_result_free(&r2);
    q = (kn_search_query) { .text = "Gewerbesteuer", .space = "Steuern", .limit = 1000 };
    r2 = search_q(&e, &q);
    assert_int_equal(r2.total, N / 2);
    kn_search_result_free(&r2);
    q = (kn_search_query) { .text = "Gewerbesteuern Bescheid", .limit = 1000 };

    /* A second open builds nothing. */
    p = (progress) { 0, 0, 0, true };
    fx_reopen(&e.f);
    assert_int_equal(p.calls, 0);
    /* ... and the index keeps being maintained. */
    fx_obj rt;
    fx_retract(&rt, &e.a, 20000, t[0].id);
    assert_put(&e.f, &rt, KN_PUT_STORED);
    r2 = search_q(&e, &q);
    assert_int_equal(r2.n, N / 10 - 1);
    kn_search_result_free(&r2);
    check_ok(&e);
    fx_done(&e.f);
}

/* kn_store_check notices a posting, an id entry or a part that the index should not have. */
static void test_check_finds_damage(void **state)
{
    (void)state;
    kn_store_check_report r;
    const uint8_t posting[7] = { 0, 0, 0, 0x7f, 0xff, 0, 2 };
    const uint8_t docno[5] = { 0, 0, 0, 0, 9 };
    uint8_t fake_id[8 + KN_ID];
    static const char *const damage[] = { "posting", "id", "part" };
    for (size_t i = 0; i < 3; i++) {
        env e;
        fx_obj t;
        env_init(&e);
        thread(&t, &e.a, 2000, "A", "Kanalsanierung", "Bauabschnitte.");
        assert_put(&e.f, &t, KN_PUT_STORED);
        check_ok(&e);
        if (i == 0)
            assert_int_equal(kn_store_debug_put_raw(e.f.s, "search_terms", (const uint8_t *)"kanal",
                                 5, posting, sizeof posting),
                0);
        if (i == 1) {
            memset(fake_id, 0x33, sizeof fake_id); /* search_times: created(8) id(32) */
            assert_int_equal(kn_store_debug_put_raw(
                                 e.f.s, "search_times", fake_id, KN_ID + 8, docno, sizeof docno),
                0);
        }
        if (i == 2)
            assert_int_equal(
                kn_store_debug_put_raw(e.f.s, "search_parts",
                    (const uint8_t *)"ierung\0zebrasanierung", 21, (const uint8_t *)"", 0),
                0);
        if (kn_store_check(e.f.s, &r) != KN_ECORRUPT)
            fail_msg("a bad %s went unnoticed", damage[i]);
        if (!strstr(r.first_problem, "search"))
            fail_msg("a bad %s: \"%s\"", damage[i], r.first_problem);
        fx_done(&e.f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inflections_and_spellings),
        cmocka_unit_test(test_compound_parts),
        cmocka_unit_test(test_ranking),
        cmocka_unit_test(test_and_and_fallback),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_retract_and_revoke_remove_postings),
        cmocka_unit_test(test_one_batch),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_users_and_unindexed_types),
        cmocka_unit_test(test_doc_language),
        cmocka_unit_test(test_snippet),
        cmocka_unit_test(test_bad_queries),
        cmocka_unit_test(test_build_for_older_store),
        cmocka_unit_test(test_file_text),
        cmocka_unit_test(test_check_finds_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
