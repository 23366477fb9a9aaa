/*
 * Full-text search over the objects a node holds: an inverted index in the
 * store's LMDB environment, kept in the same write transaction as the
 * objects themselves, and ranked queries over it.
 *
 * What is indexed (analysis.h does the words): titles, bodies, descriptions and
 * tags of threads, posts, links and documents, the file names of documents,
 * questions and options of polls, titles, descriptions, places and groups of
 * events, and the names, roles and expertise of users (the expert
 * directory); and the text of a document's plain-text and Markdown files
 * (the first KN_SEARCH_FILE_TEXT_MAX bytes of each) once they are complete
 * on this node. Never direct messages (ciphertext), nor the roster objects
 * network, admit and revoke, nor addresses, votes, RSVPs and retractions.
 * An object is indexed when it is stored and taken out when it leaves the
 * store for any reason (retraction, a revocation purge, a move back to
 * pending), inside the transaction that does it (ingest.c calls the two
 * hooks in store_impl.h). Several versions of an object all stay indexed;
 * queries show only the newest of each chain (docs/search.md).
 *
 * Queries: every word must match (AND) a term of the object, where a word
 * matches its German and English stems, its umlaut spellings, and, for
 * words of 4 or more letters, terms that begin with it or contain it
 * (compound parts: "Steuer" finds "Gewerbesteuer", ranked below an exact
 * match). Results are ranked by BM25 with field weights (title over tags over
 * body). When no object has every word, the objects with the most words are
 * shown instead, and the result says so. The work per query is bounded
 * (KN_SEARCH_SCAN_MAX, KN_SEARCH_WORK_MAX); a query that reaches a bound
 * says so too. docs/search.md describes the index format and the ranking.
 *
 * Callers: the command line (`knoten search`), later the HTTP API. The same
 * threading rule as for the rest of the store: one thread at a time.
 */
#ifndef KN_SEARCH_H
#define KN_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis.h"
#include "error.h"
#include "object.h"
#include "store.h"

enum {
    KN_SEARCH_QUERY_MAX = 1000, /* bytes of query text */
    KN_SEARCH_WORDS_MAX = 16, /* distinct words of a query (stop words do not count) */
    KN_SEARCH_LIMIT_DEFAULT = 20,
    KN_SEARCH_LIMIT_MAX = 1000,
    KN_SEARCH_SCAN_MAX = 50000, /* postings read per query word, newest first */
    KN_SEARCH_WORK_MAX = 500000, /* postings read and probed per query, in all */
    KN_SEARCH_EXPAND_MAX = 64, /* terms a word may match through compound parts */
    KN_SEARCH_TITLE_MAX = 320, /* bytes of a hit's title */
    KN_SEARCH_SNIPPET_MAX = 240, /* bytes of a hit's snippet */
    KN_SEARCH_FILE_TEXT_MAX = 1024 * 1024, /* bytes of one attached file's text indexed */
    KN_SEARCH_DOC_TEXT_MAX = 8 * 1024 * 1024, /* bytes of file text indexed per doc */
};

typedef struct kn_search_query {
    const char *text; /* NUL-terminated UTF-8, at most KN_SEARCH_QUERY_MAX bytes */
    const char *space; /* only this area; NULL: every area */
    kn_otype type; /* only this type; 0: every indexed type */
    const uint8_t *council; /* only objects of this node or its users; NULL: all */
    uint64_t since_ms; /* created >= since_ms */
    uint64_t until_ms; /* created < until_ms; 0: no bound */
    uint32_t limit; /* hits wanted; 0: KN_SEARCH_LIMIT_DEFAULT; at most KN_SEARCH_LIMIT_MAX */
} kn_search_query;

typedef struct kn_search_hit {
    uint8_t id[KN_ID];
    kn_otype type;
    uint64_t created;
    double score; /* higher is better; comparable within one result only */
    uint32_t matched; /* bit i set: query word i (kn_search_result.words) matched */
    uint8_t author[KN_KEY];
    uint8_t council[KN_KEY]; /* the author's node: itself, or the node that certified it */
    char space[KN_SPACE_MAX + 1];
    /* the title, question or name; for a post "Re: " and its thread's title */
    char title[KN_SEARCH_TITLE_MAX + 1];
    /* a piece of the body or description around the first match ("…" where cut), or "" */
    char snippet[KN_SEARCH_SNIPPET_MAX + 1];
} kn_search_hit;

typedef struct kn_search_result {
    kn_search_hit *hits; /* n of them, best first; owned, kn_search_result_free() */
    size_t n;
    uint64_t total; /* objects found, before the limit (a lower bound when truncated) */
    bool fallback; /* no object has every word; the hits have the most of them */
    bool truncated; /* a bound on the work was reached: there may be more or better hits */
    uint32_t nwords; /* the query's words, folded, in query order */
    char words[KN_SEARCH_WORDS_MAX][KN_TOKEN_MAX + 1];
} kn_search_result;

/*
 * Runs a query in one read transaction. r is filled (and must be freed with
 * kn_search_result_free) on success. Errors: KN_ETOOBIG (text over
 * KN_SEARCH_QUERY_MAX bytes or more than KN_SEARCH_WORDS_MAX words),
 * KN_EUTF8 (not UTF-8), KN_EINVAL (no word to search for: empty, or only
 * stop words and single letters; or a bad filter), store errors.
 */
KN_MUST_USE int kn_store_search(kn_store *s, const kn_search_query *q, kn_search_result *r);
void kn_search_result_free(kn_search_result *r);

typedef struct kn_search_stats {
    uint64_t docs; /* indexed objects (every version) */
    uint64_t postings;
    bool complete; /* false while the index of an older store is being built */
} kn_search_stats;

KN_MUST_USE int kn_store_search_stats(kn_store *s, kn_search_stats *st);

#endif
