/*
 * Text analysis for the search index: UTF-8 tokenisation, case and accent
 * folding, stop words and Snowball stemming (libstemmer) for German and
 * English. Pure code apart from libstemmer: no LMDB, no files, no clock. The
 * index (search.c) turns object fields into terms with it, and a query into
 * the terms it looks up, so both sides always agree.
 *
 * A token is a run of letters and digits (Latin with every accent, Greek,
 * Cyrillic and the other scripts' letters; everything that Unicode calls
 * punctuation, symbols or spaces separates tokens). Folding lowers the case,
 * removes accents and umlauts (Ä -> a, é -> e), and writes ß and ẞ as "ss",
 * æ as "ae" and œ as "oe", so "Straße" and "STRASSE" are the same token
 * "strasse". Combining marks (a decomposed "a" + U+0308), soft hyphens and
 * zero-width joiners inside a word are dropped without splitting it. Bytes
 * that are not valid UTF-8 separate tokens. A folded token longer than
 * KN_TOKEN_MAX bytes is cut at a character boundary; tokens shorter than
 * 2 bytes and stop words (German and English function words) are not indexed.
 *
 * A term is what the index stores: the Snowball stem of a token, German
 * and/or English depending on the object's language (both when it is not
 * known), or the token itself when it is made of digits only. German stems
 * carry no umlauts (Snowball removes them), so "Ärzte" and "Arzt" meet in
 * "arzt"; "Gewerbesteuern" and "Gewerbesteuer" in "gewerbesteu".
 *
 * Query words get more variants than indexed words: besides the plain fold,
 * "Ärzte" is also looked up as "aerzte" and "Aerzte" as "arzte", so text
 * written with transliterated umlauts and text written with umlauts find
 * each other from either side (kn_analyzer_query_terms).
 *
 * Callers: store/search.c, the unit tests. One kn_analyzer is used by one thread
 * at a time (libstemmer's stemmers keep state); it caches recent stems.
 */
#ifndef KN_ANALYSIS_H
#define KN_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
    KN_TOKEN_MAX = 64, /* bytes of a folded token */
    KN_TERM_MAX = KN_TOKEN_MAX, /* a stem is never longer than its token */
    KN_QUERY_TERMS = 6, /* 3 fold variants x 2 stemmers, at most */
    /*
     * Changes whenever tokenising, folding, the stop words or the choice of
     * terms change, so that stores indexed by an older knoten re-index.
     */
    KN_ANALYSIS_VERSION = 1,
};

/* Languages to stem for (a bit set). */
enum { KN_LANG_DE = 1, KN_LANG_EN = 2, KN_LANG_ANY = KN_LANG_DE | KN_LANG_EN };

typedef struct kn_analyzer kn_analyzer;

/* KN_ENOMEM, or KN_ECONFIG if libstemmer lacks the German or English stemmer. */
KN_MUST_USE int kn_analyzer_new(kn_analyzer **out);
void kn_analyzer_free(kn_analyzer *t);

/* One token of a text. */
typedef struct kn_token {
    char text[KN_TOKEN_MAX + 1]; /* folded, NUL-terminated */
    size_t len; /* bytes in text */
    size_t start, end; /* the token's bytes in the input: [start, end) */
    bool digits; /* only ASCII digits */
} kn_token;

/* Walks the tokens of a UTF-8 text; the text is borrowed for the walk. */
typedef struct kn_tokenizer {
    const uint8_t *p;
    size_t len, pos;
} kn_tokenizer;

void kn_tokenizer_init(kn_tokenizer *tk, const char *s, size_t len);
/* The next token (of any length, stop words included); false at the end. */
bool kn_tokenizer_next(kn_tokenizer *tk, kn_token *tok);

/* True if the folded token is a German or English stop word. */
bool kn_analysis_is_stopword(const char *folded, size_t len);

/* True if a token of this folded text goes into the index (>= 2 bytes, not a stop word). */
bool kn_analysis_indexable(const kn_token *tok);

/* The languages to stem an object in, from its `lang` tag ("de", "de-AT", "en-GB" ...). */
unsigned kn_analysis_langs(const char *tag, size_t len);

/* A term: NUL-terminated, len bytes. */
typedef struct kn_term {
    char s[KN_TERM_MAX + 1];
    uint8_t len;
} kn_term;

/*
 * The index terms of a token for the languages langs (a KN_LANG_ set): one
 * or two distinct terms written to out. Returns the count (0 for a token that
 * is not indexed), or KN_ENOMEM if libstemmer ran out of memory.
 */
KN_MUST_USE int kn_analyzer_terms(
    kn_analyzer *t, const kn_token *tok, unsigned langs, kn_term out[2]);

/*
 * The terms a query token is looked up under: the index terms of its plain
 * fold for both languages, and of the umlaut variants described above, all
 * distinct. raw is the token's text in the query (tok->start .. tok->end).
 * Returns the count (0 for a stop word or a too short token) or KN_ENOMEM.
 */
KN_MUST_USE int kn_analyzer_query_terms(
    kn_analyzer *t, const kn_token *tok, const char *raw, kn_term out[KN_QUERY_TERMS]);

/*
 * A fingerprint of everything that decides which terms a text gives:
 * KN_ANALYSIS_VERSION, the stop words, and what this libstemmer makes of a fixed
 * list of probe words. The index stores it; a different value on open (a new
 * knoten, or a Debian update of libstemmer that stems differently) means the
 * index must be rebuilt. Returns 0 or KN_ENOMEM.
 */
KN_MUST_USE int kn_analyzer_fingerprint(kn_analyzer *t, uint64_t *out);

/* True if s[0..len) is valid UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
bool kn_analysis_utf8_valid(const char *s, size_t len);

/*
 * The text of a file for indexing: UTF-8 as it is (a sequence cut off at the
 * end is dropped), anything else read as Windows-1252, which is what older
 * Windows programs write (ISO 8859-1 plus € „ “ – ... in 0x80-0x9F), and
 * converted to UTF-8. *out is malloc'd (the caller frees it), *outlen its
 * length. KN_ENOMEM.
 */
KN_MUST_USE int kn_analysis_file_text(const uint8_t *in, size_t len, char **out, size_t *outlen);

#endif
