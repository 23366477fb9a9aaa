/*
 * Text analysis for the search index (store/analysis.c): what the tokeniser
 * splits and folds, which words are stop words, and what the Snowball
 * stemmers of this libstemmer make of German inflections. The stems asserted
 * here are what Snowball really gives (German "Gewerbesteuer" is
 * "gewerbesteu"); the index relies only on inflected forms meeting in one
 * stem, which is what each test checks first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis.h"

/* The folded tokens of s, space-separated (stop words included). */
static void tokens(const char *s, char *out, size_t cap)
{
    kn_tokenizer tk;
    kn_token tok;
    size_t n = 0;
    out[0] = 0;
    kn_tokenizer_init(&tk, s, strlen(s));
    while (kn_tokenizer_next(&tk, &tok)) {
        int w = snprintf(out + n, cap - n, "%s%s", n ? " " : "", tok.text);
        assert_true(w > 0 && (size_t)w < cap - n);
        n += (size_t)w;
    }
}

#define assert_tokens(in, want)                                                                    \
    do {                                                                                           \
        char got_[512];                                                                            \
        tokens((in), got_, sizeof got_);                                                           \
        assert_string_equal(got_, (want));                                                         \
    } while (0)

/* The index terms of the one token in word, space-separated. */
static void terms_of(
    kn_analyzer *t, const char *word, unsigned langs, bool query, char *out, size_t cap)
{
    kn_tokenizer tk;
    kn_token tok;
    kn_term terms[KN_QUERY_TERMS];
    kn_tokenizer_init(&tk, word, strlen(word));
    assert_true(kn_tokenizer_next(&tk, &tok));
    int n = query ? kn_analyzer_query_terms(t, &tok, word, terms)
                  : kn_analyzer_terms(t, &tok, langs, terms);
    assert_true(n >= 0);
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        int w = snprintf(out + o, cap - o, "%s%s", i ? " " : "", terms[i].s);
        assert_true(w > 0 && (size_t)w < cap - o);
        o += (size_t)w;
    }
}

#define assert_terms(t, word, langs, want)                                                         \
    do {                                                                                           \
        char got_[256];                                                                            \
        terms_of((t), (word), (langs), false, got_, sizeof got_);                                  \
        assert_string_equal(got_, (want));                                                         \
    } while (0)

#define assert_query_terms(t, word, want)                                                          \
    do {                                                                                           \
        char got_[256];                                                                            \
        terms_of((t), (word), 0, true, got_, sizeof got_);                                         \
        assert_string_equal(got_, (want));                                                         \
    } while (0)

/* True if the German index terms of a and b share one. */
static bool meet(kn_analyzer *t, const char *a, const char *b, unsigned langs)
{
    char ta[256], tb[256];
    terms_of(t, a, langs, false, ta, sizeof ta);
    terms_of(t, b, langs, false, tb, sizeof tb);
    char *save, *w;
    for (w = strtok_r(ta, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char *save2, copy[256], *x;
        strcpy(copy, tb);
        for (x = strtok_r(copy, " ", &save2); x; x = strtok_r(NULL, " ", &save2))
            if (strcmp(w, x) == 0)
                return true;
    }
    return false;
}

static int setup(void **state)
{
    kn_analyzer *t = NULL;
    assert_int_equal(kn_analyzer_new(&t), 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    kn_analyzer_free(*state);
    return 0;
}

static void test_tokenise_and_fold(void **state)
{
    (void)state;
    assert_tokens("", "");
    assert_tokens("  ,;  ", "");
    assert_tokens("Straße STRASSE Strasse", "strasse strasse strasse");
    assert_tokens("Ärzte, Öl; Übung! äöü ÄÖÜ", "arzte ol ubung aou aou");
    assert_tokens("ẞ", "ss"); /* capital sharp s */
    assert_tokens(
        "Café naïve Œuvre Ærø Łódź Ştefan Ţara", "cafe naive oeuvre aero lodz stefan tara");
    assert_tokens("COVID-19: 2026er §3 (Art. 5 Abs. 2)", "covid 19 2026er 3 art 5 abs 2");
    assert_tokens("e-mail_adresse@amt.de", "e mail adresse amt de");
    assert_tokens("ΑΘΉΝΑ Москва ЁЛКА", "αθήνα москва ёлка");
    assert_tokens("ｆｕｌｌ１２ Ｗｉｄｔｈ", "full12 width");
    /* A decomposed umlaut (a + U+0308), a soft hyphen and a zero-width joiner stay in the word. */
    assert_tokens("A\xcc\x88rzte Ge\xc2\xadwerbe\xe2\x80\x8dsteuer", "arzte gewerbesteuer");
    /* Dashes, quotes, NBSP and emoji separate. */
    assert_tokens("Amt\xe2\x80\x93Haus \xe2\x80\x9eZitat\xe2\x80\x9c a\xc2\xa0"
                  "b \xf0\x9f\x98\x80x",
        "amt haus zitat a b x");
    /* Bytes that are not UTF-8 separate tokens and are never copied. */
    assert_tokens("ab\xff"
                  "cd\xc3"
                  "ef\xed\xa0\x80gh\xc0\xafij",
        "ab cd ef gh ij");
}

static void test_token_offsets_and_length(void **state)
{
    (void)state;
    const char *s = "  Die Äpfel";
    kn_tokenizer tk;
    kn_token tok;
    kn_tokenizer_init(&tk, s, strlen(s));
    assert_true(kn_tokenizer_next(&tk, &tok));
    assert_int_equal(tok.start, 2);
    assert_int_equal(tok.end, 5);
    assert_true(kn_tokenizer_next(&tk, &tok));
    assert_string_equal(tok.text, "apfel");
    assert_int_equal(tok.start, 6);
    assert_int_equal(tok.end, strlen(s));
    assert_false(tok.digits);
    assert_false(kn_tokenizer_next(&tk, &tok));

    /* A long token is cut at KN_TOKEN_MAX bytes, on a character boundary. */
    char longw[400];
    memset(longw, 'x', 63);
    strcpy(longw + 63, "\xc3\xa4\xc3\xa4zzz end"); /* 63 x, ä (folds to 1 byte), ä, zzz */
    kn_tokenizer_init(&tk, longw, strlen(longw));
    assert_true(kn_tokenizer_next(&tk, &tok));
    assert_int_equal(tok.len, KN_TOKEN_MAX);
    assert_int_equal(tok.text[63], 'a');
    assert_int_equal(tok.end, 63 + 4 + 3); /* the whole word was consumed */
    assert_true(kn_tokenizer_next(&tk, &tok));
    assert_string_equal(tok.text, "end");

    /* Cyrillic folds to 2-byte characters: the cut never splits one. */
    char cyr[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(cyr, "\xd0\x96"); /* Ж, folds to ж */
    kn_tokenizer_init(&tk, cyr, strlen(cyr));
    assert_true(kn_tokenizer_next(&tk, &tok));
    assert_int_equal(tok.len, 64);
    assert_true(kn_analysis_utf8_valid(tok.text, tok.len));

    kn_tokenizer_init(&tk, "2026 19a", 8);
    assert_true(kn_tokenizer_next(&tk, &tok));
    assert_true(tok.digits);
    assert_true(kn_tokenizer_next(&tk, &tok));
    assert_false(tok.digits);
}

static void test_stopwords(void **state)
{
    (void)state;
    static const char *stop[] = { "die", "der", "und", "fur", "uber", "the", "and", "of", "with" };
    static const char *kept[] = { "it", "war", "man", "bin", "amt", "steuer", "x" };
    for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++)
        if (!kn_analysis_is_stopword(stop[i], strlen(stop[i])))
            fail_msg("\"%s\" should be a stop word", stop[i]);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        if (kn_analysis_is_stopword(kept[i], strlen(kept[i])))
            fail_msg("\"%s\" should not be a stop word", kept[i]);
    kn_token tok = { .text = "a", .len = 1 };
    assert_false(kn_analysis_indexable(&tok)); /* one byte: too short */
    strcpy(tok.text, "für");
    tok.len = 4;
    assert_true(kn_analysis_indexable(&tok)); /* unfolded text is not a stop word */
}

static void test_langs(void **state)
{
    (void)state;
    assert_int_equal(kn_analysis_langs("de", 2), KN_LANG_DE);
    assert_int_equal(kn_analysis_langs("DE-at", 5), KN_LANG_DE);
    assert_int_equal(kn_analysis_langs("en-GB", 5), KN_LANG_EN);
    assert_int_equal(kn_analysis_langs("en_US", 5), KN_LANG_EN);
    assert_int_equal(kn_analysis_langs("fr", 2), KN_LANG_ANY);
    assert_int_equal(kn_analysis_langs("den", 3), KN_LANG_ANY);
    assert_int_equal(kn_analysis_langs(NULL, 0), KN_LANG_ANY);
}

/* The inflections the issue names: each pair must meet in a German term. */
static void test_german_inflections(void **state)
{
    kn_analyzer *t = *state;
    assert_true(meet(t, "Gewerbesteuern", "Gewerbesteuer", KN_LANG_DE));
    assert_true(meet(t, "Bescheide", "Bescheid", KN_LANG_DE));
    assert_true(meet(t, "Straße", "Strasse", KN_LANG_DE));
    assert_true(meet(t, "Straße", "Strasse", KN_LANG_EN)); /* folding, not the stemmer */
    assert_true(meet(t, "Ärzte", "Arzt", KN_LANG_DE));
    assert_true(meet(t, "Kommunen", "Kommune", KN_LANG_DE));
    assert_true(meet(t, "Ämter", "Amt", KN_LANG_DE));
    assert_true(meet(t, "öffentlichen", "Öffentliche", KN_LANG_DE));
    assert_false(meet(t, "Gewerbesteuer", "Grundsteuer", KN_LANG_DE));

    /* What Snowball actually gives (the compound search in search.c builds on these). */
    assert_terms(t, "Gewerbesteuern", KN_LANG_DE, "gewerbesteu");
    assert_terms(t, "Gewerbesteuer", KN_LANG_DE, "gewerbesteu");
    assert_terms(t, "Steuer", KN_LANG_DE, "steu");
    assert_terms(t, "Bescheide", KN_LANG_DE, "bescheid");
    assert_terms(t, "Straße", KN_LANG_DE, "strass");
    assert_terms(t, "Ärzte", KN_LANG_DE, "arzt");
    assert_terms(t, "Hausärzte", KN_LANG_DE, "hausarzt");
    /* Without a known language both stems are indexed (distinct ones only). */
    assert_terms(t, "Gewerbesteuern", KN_LANG_ANY, "gewerbesteu gewerbesteuern");
    assert_terms(t, "Bescheide", KN_LANG_ANY, "bescheid");
    assert_terms(t, "councils", KN_LANG_EN, "council");
    assert_terms(t, "reporting", KN_LANG_ANY, "reporting report");
    /* Digits are kept as they are; stop words give nothing. */
    assert_terms(t, "2026", KN_LANG_ANY, "2026");
    assert_terms(t, "Die", KN_LANG_ANY, "");
}

static void test_query_variants(void **state)
{
    kn_analyzer *t = *state;
    /* Umlauts and their transliterations find each other from either side. */
    assert_query_terms(t, "Ärzte", "arzt aerzt");
    assert_query_terms(t, "Aerzte", "aerzt arzt");
    assert_query_terms(t, "Strasse", "strass");
    /* "ue" after a vowel or q is no umlaut: Steuer, Quelle stay as they are. */
    assert_query_terms(t, "Steuer", "steu steuer");
    assert_query_terms(t, "Quelle", "quell");
    assert_query_terms(t, "und", "");
    assert_query_terms(t, "42", "42");
    /* Every query term of an inflected form includes the indexed term of the base form. */
    char q[256], d[256];
    terms_of(t, "Gewerbesteuern", 0, true, q, sizeof q);
    terms_of(t, "Gewerbesteuer", KN_LANG_DE, false, d, sizeof d);
    assert_non_null(strstr(q, d));
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(kn_analysis_utf8_valid("", 0));
    assert_true(kn_analysis_utf8_valid("Straße \xf0\x9f\x98\x80", 12));
    assert_false(kn_analysis_utf8_valid("\xc0\xaf", 2)); /* overlong */
    assert_false(kn_analysis_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(kn_analysis_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(kn_analysis_utf8_valid("\xe2\x82", 2)); /* truncated */
}

static void test_file_text(void **state)
{
    (void)state;
    char *out = NULL;
    size_t n = 0;
    /* UTF-8 stays as it is; a character cut off at the end is dropped. */
    static const uint8_t utf8[] = "Stra\xc3\x9f"
                                  "e \xe2\x82\xac";
    assert_int_equal(kn_analysis_file_text(utf8, sizeof utf8 - 1, &out, &n), 0);
    assert_int_equal(n, sizeof utf8 - 1);
    assert_memory_equal(out, utf8, n);
    free(out);
    assert_int_equal(kn_analysis_file_text(utf8, sizeof utf8 - 2, &out, &n), 0);
    assert_int_equal(n, sizeof utf8 - 4); /* "Straße " without the cut euro sign */
    free(out);
    /* Anything else is Windows-1252: ß, €, „ “, and 0x81 (unassigned) as a space. */
    static const uint8_t cp[] = "Stra\xdf"
                                "e \x80 \x84z\x93 a\x81"
                                "b";
    assert_int_equal(kn_analysis_file_text(cp, sizeof cp - 1, &out, &n), 0);
    static const char want[] = "Stra\xc3\x9f"
                               "e \xe2\x82\xac \xe2\x80\x9ez\xe2\x80\x9c a b";
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(out, want, n);
    assert_true(kn_analysis_utf8_valid(out, n));
    free(out);
    assert_int_equal(kn_analysis_file_text((const uint8_t *)"", 0, &out, &n), 0);
    assert_int_equal(n, 0);
    free(out);
}

static void test_fingerprint(void **state)
{
    kn_analyzer *t = *state, *t2 = NULL;
    uint64_t a, b;
    assert_int_equal(kn_analyzer_fingerprint(t, &a), 0);
    assert_int_equal(kn_analyzer_new(&t2), 0);
    assert_int_equal(kn_analyzer_fingerprint(t2, &b), 0);
    assert_true(a == b); /* a pure function of the code and libstemmer */
    assert_true(a != 0);
    kn_analyzer_free(t2);
}

/*
 * The stem cache must give the same answers as stemming afresh, also after
 * collisions, and for long tokens (up to KN_TOKEN_MAX, and cut ones) too.
 */
static void test_cache_consistency(void **state)
{
    kn_analyzer *t = *state, *fresh = NULL;
    char word[128];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 6000; i++) {
            if (i % 4 == 3) /* 40 to 90 bytes: some are cut at KN_TOKEN_MAX */
                snprintf(word, sizeof word, "%.*sverordnungen%d", 28 + i % 50,
                    "grundstuecksverkehrsgenehmigungszustaendigkeitsuebertragungs", i);
            else
                snprintf(word, sizeof word, "verordnungen%d%s", i, i % 3 ? "x" : "en");
            kn_tokenizer tk;
            kn_token tok;
            kn_term a[2], b[2];
            kn_tokenizer_init(&tk, word, strlen(word));
            assert_true(kn_tokenizer_next(&tk, &tok));
            assert_int_equal(kn_analyzer_new(&fresh), 0);
            int na = kn_analyzer_terms(t, &tok, KN_LANG_ANY, a);
            int nb = kn_analyzer_terms(fresh, &tok, KN_LANG_ANY, b);
            kn_analyzer_free(fresh);
            assert_int_equal(na, nb);
            for (int j = 0; j < na; j++)
                assert_string_equal(a[j].s, b[j].s);
            if (i > 200)
                i += 37; /* keep it quick: a fresh stemmer per word is slow */
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenise_and_fold),
        cmocka_unit_test(test_token_offsets_and_length),
        cmocka_unit_test(test_stopwords),
        cmocka_unit_test(test_langs),
        cmocka_unit_test_setup_teardown(test_german_inflections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_variants, setup, teardown),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_file_text),
        cmocka_unit_test_setup_teardown(test_fingerprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_consistency, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
