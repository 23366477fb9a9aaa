/*
 * The search index (search.h): its layout, its maintenance inside the write
 * transactions of ingest, the build for stores that do not have it yet, and
 * queries. docs/search.md explains the choices; the layout in short (all
 * integers big-endian):
 *
 *   search_terms  term -> docno(5) wtf(2) ...       (MDB_DUPSORT | MDB_DUPFIXED)
 *                 one posting per term and indexed object, in docno order;
 *                 wtf is the term's count in the object weighted by field
 *                 (title 10, tags 5, names 3, body 2, file text 1, saturating).
 *                 Filter pseudo-terms (never produced by text, which has no
 *                 control characters): 0x01 'a' area, 0x01 'c' council key;
 *                 their wtf is 0.
 *   search_parts  part 0x00 term -> ""
 *                 for every word term of >= 6 bytes, each of its suffixes that
 *                 starts at byte 2 or later (on a character boundary) and has
 *                 >= 4 bytes: a prefix scan for "steu" finds "gewerbesteu".
 *   search_docs   docno(5) -> id(32) created(8) type(1) newer(2) dl(4) council(32)
 *                 flags(1). newer: indexed later versions of this object (edits
 *                 by the same author of the same type naming it as previous);
 *                 dl: the object's weighted length; council: its filter term;
 *                 flags: 1 if search_fwd holds the terms of its files' text.
 *   search_fwd    docno(5) -> n x (len(1) term): the terms of a doc's file text,
 *                 which may be gone when the doc is removed. The terms of the
 *                 object's own fields are computed again from the object when
 *                 it is removed; the fingerprint below guarantees the same
 *                 analysis as when it was indexed.
 *   search_times  created(8) id(32) -> docno(5)
 *                 the by_time key of each indexed object (schema 6; schema 5 had
 *                 search_ids, keyed by the id alone). Objects mostly arrive in
 *                 created order, so an insert goes near the end of the table and
 *                 a transaction dirties a few of its pages, where a random id
 *                 dirtied one page per object once the table outgrew a commit.
 *   meta          "search_fp" -> u64, the text analysis fingerprint (analysis.h)
 *                 mixed with SEARCH_LAYOUT;
 *                 "search_stats" -> objects(8) total dl(8) next docno(8);
 *                 "search_fill" -> a by_time key created(8) id(32), present
 *                 while the index is being built: everything up to it is in.
 *
 * Docnos are handed out in increasing order and never reused, so a new
 * posting always goes at the end of its term's list (MDB_APPENDDUP), and the
 * newest postings are at the end, where a bounded query starts reading.
 * Postings of a write transaction are collected per term in memory and
 * written at its end in term order (kn_search_flush): a batch of objects
 * that share words touches each term's list once.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis.h"
#include "blob.h"
#include "search.h"
#include "store_impl.h"

enum {
    DOCNO_LEN = 5,
    POST_LEN = DOCNO_LEN + 2,
    /* search_docs: id(32) created(8) type(1) newer(2) dl(4) council(32) flags(1) */
    DOC_CREATED = KN_ID,
    DOC_TYPE = DOC_CREATED + 8,
    DOC_NEWER = DOC_TYPE + 1,
    DOC_DL = DOC_NEWER + 2,
    DOC_COUNCIL = DOC_DL + 4,
    DOC_FLAGS = DOC_COUNCIL + KN_KEY,
    DOC_REC = DOC_FLAGS + 1,
    DOC_FILE_TERMS = 1, /* flags: search_fwd holds the terms of its files' text */
    STATS_REC = 24,
    BLOB_STATE_REC = 4 + 4 + 8 + 8 + 8, /* blob_state, store_impl.h */
    FILL_KEY = 8 + KN_ID,
    TIMES_KEY = 8 + KN_ID, /* search_times: created(8) id(32) */
    /* The layout above; part of the stored fingerprint, so a change rebuilds the index. */
    SEARCH_LAYOUT = 2,
    PSEUDO = 0x01, /* first byte of a filter pseudo-term */
    PSEUDO_MAX = 2 + KN_SPACE_MAX, /* 0x01 'a' area; 0x01 'c' key is shorter */
    QTERM_MAX = PSEUDO_MAX > KN_TERM_MAX ? PSEUDO_MAX : KN_TERM_MAX,
    PART_MIN = 4, /* bytes of a compound part a word may match */
    PART_SKIP = 2, /* parts start at byte 2 or later */
    PART_KEY_MAX = KN_TERM_MAX + 1 + KN_TERM_MAX,
    DOC_TERMS_MAX = 50000, /* distinct terms of one object */
    FLUSH_POSTINGS = 1 << 18, /* buffered postings before an early flush */
    FILL_CHUNK = 1000, /* objects per transaction while building the index */
    NEWER_MAX = 64, /* later versions of one object looked at */
    EXPAND_SCAN = 2048, /* dictionary entries looked at per compound expansion */
    CANDS_MAX = 65536, /* objects a query keeps track of at once */
    WORDS_ALL = KN_SEARCH_WORDS_MAX + 2, /* with the area and council filters */
};

enum { W_TITLE = 10, W_TAGS = 5, W_NAME = 3, W_BODY = 2, W_FILE = 1 };

#define BM25_K1 1.2
#define BM25_B 0.75
#define PART_WEIGHT 0.5f

static const uint64_t DOCNO_LIMIT = (uint64_t)1 << (8 * DOCNO_LEN);

/* ---- a map of byte strings ---- */

typedef struct tm_entry {
    uint32_t off; /* the term's bytes in the arena */
    uint8_t len;
    uint32_t a, b; /* the user's: a weighted count, or the head and tail of a posting list */
} tm_entry;

typedef struct termmap {
    uint32_t *slot; /* entry index + 1; 0: empty */
    size_t nslot; /* a power of two */
    tm_entry *e;
    size_t n, cap;
    char *arena;
    size_t alen, acap;
} termmap;

static uint32_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    return h;
}

/*
 * Makes room for need elements of size elem in *arr (capacity *cap elements),
 * doubling from at least min. Returns 0 or KN_ENOMEM (then *arr is unchanged).
 */
static int reserve(void **arr, size_t *cap, size_t need, size_t elem, size_t min)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : min;
    while (ncap < need)
        ncap *= 2;
    void *na = realloc(*arr, ncap * elem);
    if (!na)
        return KN_ENOMEM;
    *arr = na;
    *cap = ncap;
    return 0;
}

static const char *tm_term(const termmap *m, const tm_entry *e)
{
    return m->arena + e->off;
}

static int tm_rehash(termmap *m, size_t nslot)
{
    uint32_t *slot = calloc(nslot, sizeof *slot);
    if (!slot)
        return KN_ENOMEM;
    for (size_t i = 0; i < m->n; i++) {
        size_t h = hash_bytes(tm_term(m, &m->e[i]), m->e[i].len) & (nslot - 1);
        while (slot[h])
            h = (h + 1) & (nslot - 1);
        slot[h] = (uint32_t)i + 1;
    }
    free(m->slot);
    m->slot = slot;
    m->nslot = nslot;
    return 0;
}

/*
 * The entry of term t; added (with a = b = 0) if absent and add is true.
 * *e is NULL if absent and not added. Returns 0 or KN_ENOMEM.
 */
static int tm_get(termmap *m, const char *t, size_t len, bool add, tm_entry **e)
{
    *e = NULL;
    if ((m->n + 1) * 4 > m->nslot * 3) {
        int rc = tm_rehash(m, m->nslot ? m->nslot * 2 : 64);
        if (rc < 0)
            return rc;
    }
    size_t h = hash_bytes(t, len) & (m->nslot - 1);
    while (m->slot[h]) {
        tm_entry *x = &m->e[m->slot[h] - 1];
        if (x->len == len && memcmp(tm_term(m, x), t, len) == 0) {
            *e = x;
            return 0;
        }
        h = (h + 1) & (m->nslot - 1);
    }
    if (!add)
        return 0;
    if (reserve((void **)&m->e, &m->cap, m->n + 1, sizeof *m->e, 64) < 0
        || reserve((void **)&m->arena, &m->acap, m->alen + len, 1, 4096) < 0)
        return KN_ENOMEM;
    memcpy(m->arena + m->alen, t, len);
    tm_entry *x = &m->e[m->n];
    x->off = (uint32_t)m->alen;
    x->len = (uint8_t)len;
    x->a = x->b = 0;
    m->alen += len;
    m->slot[h] = (uint32_t)++m->n;
    *e = x;
    return 0;
}

static void tm_free(termmap *m)
{
    free(m->slot);
    free(m->e);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

/* Empties the map; one that grew large (a long file) gives its memory back. */
static void tm_clear(termmap *m)
{
    if (m->nslot > 8192) {
        tm_free(m);
        return;
    }
    if (m->slot)
        memset(m->slot, 0, m->nslot * sizeof *m->slot);
    m->n = 0;
    m->alen = 0;
}

/* ---- per-store state ---- */

typedef struct posting {
    uint64_t docno;
    uint16_t wtf;
    uint32_t next; /* index + 1 of the next posting of the same term; 0: last */
} posting;

struct kn_search_state {
    kn_analyzer *an;
    termmap doc; /* the object being indexed: term -> a = weighted count */
    termmap ftext; /* the terms of its files' text (a subset of doc), for search_fwd */
    termmap buf; /* this transaction's postings by term: a, b = head, tail (index + 1) */
    posting *post;
    size_t npost, cappost;
    uint8_t *vals; /* flush: one term's postings as LMDB values */
    size_t capvals;
    /* The statistics as this transaction sees them (loaded on first use). */
    bool loaded, dirty;
    uint64_t ndocs, total_dl, next;
    /* council_cached(): the last author's council in this transaction */
    bool council_ok;
    uint8_t council_author[KN_KEY], council[KN_KEY];
};

static int state_get(kn_store *s, kn_search_state **out)
{
    if (!s->search) {
        kn_search_state *st = calloc(1, sizeof *st);
        if (!st)
            return KN_ENOMEM;
        int rc = kn_analyzer_new(&st->an);
        if (rc < 0) {
            free(st);
            return rc;
        }
        s->search = st;
    }
    *out = s->search;
    return 0;
}

void kn_search_state_free(kn_search_state *st)
{
    if (!st)
        return;
    kn_analyzer_free(st->an);
    tm_free(&st->doc);
    tm_free(&st->ftext);
    tm_free(&st->buf);
    free(st->post);
    free(st->vals);
    free(st);
}

void kn_search_txn_reset(kn_store *s)
{
    kn_search_state *st = s->search;
    if (!st)
        return;
    tm_clear(&st->buf);
    st->npost = 0;
    st->loaded = st->dirty = false;
    st->council_ok = false;
}

/* ---- small helpers ---- */

static void docno_put(uint8_t *p, uint64_t d)
{
    for (int i = DOCNO_LEN - 1; i >= 0; i--) {
        p[i] = (uint8_t)d;
        d >>= 8;
    }
}

static uint64_t docno_get(const uint8_t *p)
{
    uint64_t d = 0;
    for (int i = 0; i < DOCNO_LEN; i++)
        d = (d << 8) | p[i];
    return d;
}

static int mget(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *v)
{
    MDB_val k = { klen, (void *)key };
    return kn_store_mdb_err(mdb_get(txn, dbi, &k, v));
}

static int mput(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
    size_t vlen, unsigned flags)
{
    MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
    return kn_store_mdb_err(mdb_put(txn, dbi, &k, &v, flags));
}

static int mdel(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
    MDB_val k = { klen, (void *)key };
    int rc = mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(rc);
}

static int meta_get_u64(MDB_txn *txn, kn_store *s, const char *key, uint64_t *v)
{
    MDB_val val;
    int rc = mget(txn, s->db.meta, key, strlen(key), &val);
    if (rc < 0)
        return rc;
    if (val.mv_size != 8)
        return KN_ECORRUPT;
    *v = kn_be64_get(val.mv_data);
    return 0;
}

static int stats_load(kn_store *s, MDB_txn *txn, kn_search_state *st)
{
    MDB_val v;
    if (st->loaded)
        return 0;
    int rc = mget(txn, s->db.meta, "search_stats", 12, &v);
    if (rc == KN_ENOTFOUND) {
        st->ndocs = st->total_dl = 0;
        st->next = 1;
    } else if (rc < 0) {
        return rc;
    } else {
        if (v.mv_size != STATS_REC)
            return KN_ECORRUPT;
        const uint8_t *p = v.mv_data;
        st->ndocs = kn_be64_get(p);
        st->total_dl = kn_be64_get(p + 8);
        st->next = kn_be64_get(p + 16);
        if (st->next == 0)
            return KN_ECORRUPT;
    }
    st->loaded = true;
    st->dirty = false;
    return 0;
}

static int stats_save(kn_store *s, MDB_txn *txn, kn_search_state *st)
{
    uint8_t rec[STATS_REC];
    if (!st->dirty)
        return 0;
    kn_be64_put(rec, st->ndocs);
    kn_be64_put(rec + 8, st->total_dl);
    kn_be64_put(rec + 16, st->next);
    st->dirty = false;
    return mput(txn, s->db.meta, "search_stats", 12, rec, sizeof rec, 0);
}

static bool all_digits(const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (t[i] < '0' || t[i] > '9')
            return false;
    return n > 0;
}

/* Word terms long enough to have compound parts get search_parts entries. */
static bool has_parts(const char *t, size_t n)
{
    return n >= PART_SKIP + PART_MIN && (uint8_t)t[0] != PSEUDO && !all_digits(t, n);
}

/* Adds (del false) or removes the search_parts entries of term t. */
static int parts_update(MDB_cursor *c, const char *t, size_t n, bool del)
{
    uint8_t key[PART_KEY_MAX];
    for (size_t i = PART_SKIP; i + PART_MIN <= n; i++) {
        if (((uint8_t)t[i] & 0xc0) == 0x80)
            continue; /* inside a character */
        size_t pl = n - i;
        memcpy(key, t + i, pl);
        key[pl] = 0;
        memcpy(key + pl + 1, t, n);
        MDB_val k = { pl + 1 + n, key }, v = { 0, (void *)"" };
        int rc;
        if (del) {
            rc = mdb_cursor_get(c, &k, &v, MDB_SET);
            if (rc == 0)
                rc = mdb_cursor_del(c, 0);
            else if (rc == MDB_NOTFOUND)
                rc = 0;
        } else {
            rc = mdb_cursor_put(c, &k, &v, 0);
        }
        if (rc)
            return kn_store_mdb_err(rc);
    }
    return 0;
}

/* ---- what is indexed ---- */

enum fkind { F_STR, F_STRS, F_FILES, F_URL };

typedef struct field {
    const char *key;
    enum fkind kind;
    uint8_t weight;
} field;

typedef struct type_fields {
    kn_otype type;
    field f[5];
} type_fields;

/* Per type, the body fields that are indexed and how much a word in each counts. */
static const type_fields indexed[] = {
    { KN_T_DOC,
        { { "title", F_STR, W_TITLE }, { "tags", F_STRS, W_TAGS }, { "files", F_FILES, W_NAME },
            { "description", F_STR, W_BODY } } },
    { KN_T_THREAD,
        { { "title", F_STR, W_TITLE }, { "tags", F_STRS, W_TAGS }, { "body", F_STR, W_BODY } } },
    { KN_T_POST, { { "body", F_STR, W_BODY } } },
    { KN_T_LINK,
        { { "title", F_STR, W_TITLE }, { "tags", F_STRS, W_TAGS }, { "url", F_URL, W_NAME },
            { "description", F_STR, W_BODY } } },
    { KN_T_POLL, { { "question", F_STR, W_TITLE }, { "options", F_STRS, W_NAME } } },
    { KN_T_EVENT,
        { { "title", F_STR, W_TITLE }, { "place", F_STR, W_NAME }, { "group", F_STR, W_NAME },
            { "description", F_STR, W_BODY } } },
    { KN_T_USER,
        { { "name", F_STR, W_TITLE }, { "expertise", F_STRS, W_TAGS },
            { "role", F_STR, W_NAME } } },
};

static const type_fields *fields_of(kn_otype t)
{
    for (size_t i = 0; i < sizeof indexed / sizeof indexed[0]; i++)
        if (indexed[i].type == t)
            return &indexed[i];
    return NULL;
}

static bool has_versions(kn_otype t)
{
    return t == KN_T_DOC || t == KN_T_THREAD || t == KN_T_LINK || t == KN_T_EVENT || t == KN_T_POST;
}

/* URL words that every link has. */
static bool url_noise(const kn_token *tok)
{
    static const char *const noise[] = { "http", "https", "www", "html", "htm", "php", "aspx" };
    for (size_t i = 0; i < sizeof noise / sizeof noise[0]; i++)
        if (strcmp(tok->text, noise[i]) == 0)
            return true;
    return false;
}

/* Counts a term of the object being indexed (st->doc), weight times. */
static int doc_term(kn_search_state *st, const char *t, size_t n, unsigned weight)
{
    tm_entry *e;
    int rc = tm_get(&st->doc, t, n, st->doc.n < DOC_TERMS_MAX, &e);
    if (rc < 0 || !e)
        return rc;
    e->a = e->a + weight > UINT16_MAX ? UINT16_MAX : e->a + weight;
    return 0;
}

/* Adds the words of text[0..len) to st->doc; *dl grows by weight per word. */
static int doc_text(kn_search_state *st, const char *text, size_t len, unsigned weight,
    unsigned langs, bool url, termmap *also, uint64_t *dl)
{
    kn_tokenizer tk;
    kn_token tok;
    kn_term terms[2];
    kn_tokenizer_init(&tk, text, len);
    while (kn_tokenizer_next(&tk, &tok)) {
        if (url && url_noise(&tok))
            continue;
        int n = kn_analyzer_terms(st->an, &tok, langs, terms);
        if (n < 0)
            return n;
        if (n == 0)
            continue;
        *dl += weight;
        for (int i = 0; i < n; i++) {
            tm_entry *e;
            int rc = doc_term(st, terms[i].s, terms[i].len, weight);
            if (rc == 0 && also)
                rc = tm_get(also, terms[i].s, terms[i].len, also->n < DOC_TERMS_MAX, &e);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* The words of one field value (at in) into st->doc. Values of the wrong shape are skipped. */
static int doc_field(
    kn_search_state *st, const field *f, kn_mp_in *in, unsigned langs, uint64_t *dl)
{
    const char *s;
    uint32_t n, cnt;
    int rc;

    switch (f->kind) {
    case F_STR:
    case F_URL:
        if (kn_mp_read_str(in, &s, &n) < 0)
            return 0;
        return doc_text(st, s, n, f->weight, langs, f->kind == F_URL, NULL, dl);
    case F_STRS:
        if (kn_mp_read_array(in, &cnt) < 0)
            return 0;
        for (uint32_t j = 0; j < cnt; j++) {
            if (kn_mp_read_str(in, &s, &n) < 0)
                return 0;
            if ((rc = doc_text(st, s, n, f->weight, langs, false, NULL, dl)) < 0)
                return rc;
        }
        return 0;
    case F_FILES:
        if (kn_mp_read_array(in, &cnt) < 0)
            return 0;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t nk;
            if (kn_mp_read_map(in, &nk) < 0)
                return 0;
            for (uint32_t k = 0; k < nk; k++) {
                const char *key;
                uint32_t kl;
                if (kn_mp_read_str(in, &key, &kl) < 0)
                    return 0;
                if (kl == 4 && memcmp(key, "name", 4) == 0) {
                    if (kn_mp_read_str(in, &s, &n) < 0)
                        return 0;
                    if ((rc = doc_text(st, s, n, f->weight, langs, false, NULL, dl)) < 0)
                        return rc;
                } else if (kn_mp_skip(in, 1, false) < 0) {
                    return 0;
                }
            }
        }
        return 0;
    }
    return 0;
}

/*
 * The indexed fields of o into st->doc, in one pass over the body map (the
 * schema was checked on the way in; what does not fit is skipped).
 */
static int doc_fields(kn_search_state *st, const kn_object *o, const type_fields *tf,
    unsigned *langs_out, uint64_t *dl)
{
    const char *s;
    uint32_t n, nk;
    unsigned langs = KN_LANG_ANY;
    kn_mp_in in;
    int rc;

    if (o->type == KN_T_DOC && kn_object_str(o, "lang", &s, &n) == 0)
        langs = kn_analysis_langs(s, n);
    *langs_out = langs;
    kn_mp_in_init(&in, o->body, o->body_len);
    if (kn_mp_read_map(&in, &nk) < 0)
        return 0;
    for (uint32_t i = 0; i < nk; i++) {
        const char *key;
        uint32_t kl;
        const field *f = NULL;
        if (kn_mp_read_str(&in, &key, &kl) < 0)
            return 0;
        for (size_t j = 0; j < sizeof tf->f / sizeof tf->f[0] && tf->f[j].key && !f; j++)
            if (strlen(tf->f[j].key) == kl && memcmp(tf->f[j].key, key, kl) == 0)
                f = &tf->f[j];
        kn_mp_in val = in;
        if (kn_mp_skip(&in, KN_BODY_DEPTH, false) < 0)
            return 0;
        if (f && (rc = doc_field(st, f, &val, langs, dl)) < 0)
            return rc;
    }
    return 0;
}

/* ---- the text of attached files ---- */

/* text/plain and text/markdown (or text/x-markdown), in any case, parameters ignored. */
static bool text_mime(const char *m, size_t n)
{
    static const char *const ok[] = { "text/plain", "text/markdown", "text/x-markdown" };
    size_t l = 0;
    while (l < n && m[l] != ';' && m[l] != ' ')
        l++;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strlen(ok[i]) == l && strncasecmp(m, ok[i], l) == 0)
            return true;
    return false;
}

/*
 * The first max bytes of a blob, if it is complete on this node: read from
 * blob_state and blob_chunks (layouts in store_impl.h) into a malloc'd
 * buffer. *buf stays NULL for a blob that is absent or still being fetched.
 */
static int blob_head(
    kn_store *s, MDB_txn *txn, const uint8_t id[KN_BLOB_ID], size_t max, uint8_t **buf, size_t *len)
{
    uint8_t key[KN_BLOB_ID + 4];
    MDB_val v;
    int rc;

    *buf = NULL;
    *len = 0;
    if ((rc = mget(txn, s->db.blob_state, id, KN_BLOB_ID, &v)) == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (v.mv_size != BLOB_STATE_REC)
        return KN_ECORRUPT;
    const uint8_t *p = v.mv_data; /* nchunks(4) present(4) size(8) ... */
    uint32_t nchunks = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    uint32_t present = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    uint64_t size = kn_be64_get(p + 8);
    if (present != nchunks || size == 0)
        return 0;
    size_t want = size < max ? (size_t)size : max;
    if (!(*buf = malloc(want)))
        return KN_ENOMEM;
    memcpy(key, id, KN_BLOB_ID);
    for (uint32_t i = 0; *len < want && i < nchunks; i++) {
        key[KN_BLOB_ID] = (uint8_t)(i >> 24);
        key[KN_BLOB_ID + 1] = (uint8_t)(i >> 16);
        key[KN_BLOB_ID + 2] = (uint8_t)(i >> 8);
        key[KN_BLOB_ID + 3] = (uint8_t)i;
        if ((rc = mget(txn, s->db.blob_chunks, key, sizeof key, &v)) < 0) {
            free(*buf);
            *buf = NULL;
            return rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
        }
        size_t n = v.mv_size < want - *len ? v.mv_size : want - *len;
        memcpy(*buf + *len, v.mv_data, n);
        *len += n;
    }
    return 0;
}

/*
 * The words of the doc's plain-text and Markdown files that are complete on
 * this node: the first KN_SEARCH_FILE_TEXT_MAX bytes of each, at most
 * KN_SEARCH_DOC_TEXT_MAX in all, at the file weight. A file that is still
 * being fetched is indexed when its last chunk arrives (kn_search_blob_complete).
 */
static int doc_files_text(kn_store *s, MDB_txn *txn, kn_search_state *st, const kn_object *o,
    unsigned langs, uint64_t *dl)
{
    kn_doc_file f[KN_DOC_FILES_MAX];
    uint32_t n;
    size_t budget = KN_SEARCH_DOC_TEXT_MAX;
    int rc = 0;

    if (o->type != KN_T_DOC || kn_doc_files(o, f, &n) < 0)
        return 0;
    for (uint32_t i = 0; i < n && budget > 0; i++) {
        uint8_t *raw = NULL;
        char *text = NULL;
        size_t rlen, tlen;
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++)
            seen = memcmp(f[j].blob, f[i].blob, KN_BLOB_ID) == 0
                && text_mime(f[j].mime, f[j].mime_len);
        if (seen || !text_mime(f[i].mime, f[i].mime_len))
            continue;
        size_t max = budget < KN_SEARCH_FILE_TEXT_MAX ? budget : KN_SEARCH_FILE_TEXT_MAX;
        if ((rc = blob_head(s, txn, f[i].blob, max, &raw, &rlen)) < 0 || !raw)
            goto next;
        budget -= rlen;
        if ((rc = kn_analysis_file_text(raw, rlen, &text, &tlen)) < 0)
            goto next;
        rc = doc_text(st, text, tlen, W_FILE, langs, false, &st->ftext, dl);
    next:
        free(raw);
        free(text);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The council of an author: the node that certified it if it is a user, else itself. */
static int council_of(kn_store *s, MDB_txn *txn, const uint8_t author[KN_KEY], uint8_t out[KN_KEY])
{
    MDB_val v;
    int rc = mget(txn, s->db.users, author, KN_KEY, &v);
    if (rc == KN_ENOTFOUND) {
        memcpy(out, author, KN_KEY);
        return 0;
    }
    if (rc < 0)
        return rc;
    if (v.mv_size < KN_KEY)
        return KN_ECORRUPT;
    memcpy(out, v.mv_data, KN_KEY); /* users: node(32) cert(32) revoked_at(8) */
    return 0;
}

/*
 * council_of() through a one-entry cache for the transaction: a batch is
 * mostly one author's. A user object being indexed may change an answer, so
 * it empties the cache.
 */
static int council_cached(kn_store *s, MDB_txn *txn, kn_search_state *st,
    const uint8_t author[KN_KEY], kn_otype type, uint8_t out[KN_KEY])
{
    if (type == KN_T_USER)
        st->council_ok = false;
    if (!st->council_ok || memcmp(st->council_author, author, KN_KEY) != 0) {
        int rc = council_of(s, txn, author, st->council);
        if (rc < 0)
            return rc;
        memcpy(st->council_author, author, KN_KEY);
        st->council_ok = type != KN_T_USER;
    }
    memcpy(out, st->council, KN_KEY);
    return 0;
}

static void times_key(uint8_t k[TIMES_KEY], uint64_t created, const uint8_t id[KN_ID])
{
    kn_be64_put(k, created);
    memcpy(k + 8, id, KN_ID);
}

/* The docno of the indexed object (created, id), or KN_ENOTFOUND. */
static int docno_of(
    kn_store *s, MDB_txn *txn, uint64_t created, const uint8_t id[KN_ID], uint64_t *docno)
{
    uint8_t key[TIMES_KEY];
    MDB_val v;
    times_key(key, created, id);
    int rc = mget(txn, s->db.search_times, key, TIMES_KEY, &v);
    if (rc < 0)
        return rc;
    if (v.mv_size != DOCNO_LEN)
        return KN_ECORRUPT;
    *docno = docno_get(v.mv_data);
    return 0;
}

/*
 * Whether the stored object later (by id) is an edit of earlier: same type,
 * same author, and its previous-version ref names earlier. 1, 0 or an error.
 */
static int supersedes(kn_store *s, MDB_txn *txn, const uint8_t later[KN_ID],
    const uint8_t earlier[KN_ID], kn_otype type, const uint8_t author[KN_KEY])
{
    kn_object o;
    int rc = kn_store_load(s, txn, s->db.objects, later, &o);
    if (rc == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    const uint8_t *p = kn_object_previous(&o);
    return p && o.type == type && memcmp(p, earlier, KN_ID) == 0
        && memcmp(o.author, author, KN_KEY) == 0;
}

/*
 * The docno of the indexed object that o is an edit of, or 0. The object o
 * names as previous must be indexed and of o's type and author.
 */
static int prev_docno(kn_store *s, MDB_txn *txn, const uint8_t *prev, kn_otype type,
    const uint8_t author[KN_KEY], uint64_t *out)
{
    uint64_t d;
    kn_object p;
    int rc;

    *out = 0;
    if (!prev)
        return 0;
    /* Its created time first: it is half of the search_times key. */
    if ((rc = kn_store_load(s, txn, s->db.objects, prev, &p)) == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (p.type != type || memcmp(p.author, author, KN_KEY) != 0)
        return 0;
    if ((rc = docno_of(s, txn, p.created, prev, &d)) == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    *out = d;
    return 0;
}

/*
 * How many indexed objects are edits of o already. Usually none: an edit
 * waits in pending until its previous version is stored. It happens when
 * the index is built over a store (created times out of order) or when o
 * comes back from pending after a revocation purge moved it there.
 */
static int count_newer(kn_store *s, MDB_txn *txn, const uint8_t id[KN_ID], kn_otype type,
    const uint8_t author[KN_KEY], uint16_t *newer)
{
    MDB_cursor *c = NULL;
    uint8_t prefix[KN_ID + 1], refs[NEWER_MAX][KN_ID];
    uint64_t created[NEWER_MAX];
    size_t n = 0;
    int rc;

    *newer = 0;
    memcpy(prefix, id, KN_ID);
    prefix[KN_ID] = (uint8_t)type;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_ref, &c))) < 0)
        return rc;
    MDB_val k = { sizeof prefix, prefix }, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && n < NEWER_MAX;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != KN_ID + 1 + 8 + KN_ID || memcmp(k.mv_data, prefix, sizeof prefix) != 0)
            break;
        /* by_ref: target(32) type(1) created(8) id(32) of the referring object */
        created[n] = kn_be64_get((const uint8_t *)k.mv_data + KN_ID + 1);
        memcpy(refs[n++], (const uint8_t *)k.mv_data + KN_ID + 1 + 8, KN_ID);
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return kn_store_mdb_err(rc);
    for (size_t i = 0; i < n; i++) {
        uint64_t d;
        if ((rc = docno_of(s, txn, created[i], refs[i], &d)) == KN_ENOTFOUND)
            continue;
        if (rc < 0 || (rc = supersedes(s, txn, refs[i], id, type, author)) < 0)
            return rc;
        *newer = (uint16_t)(*newer + rc);
    }
    return 0;
}

/* Adds delta to the newer count of the indexed object docno. */
static int bump_newer(kn_store *s, MDB_txn *txn, uint64_t docno, int delta)
{
    uint8_t key[DOCNO_LEN], rec[DOC_REC];
    MDB_val v;
    docno_put(key, docno);
    int rc = mget(txn, s->db.search_docs, key, DOCNO_LEN, &v);
    if (rc == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (v.mv_size != DOC_REC)
        return KN_ECORRUPT;
    memcpy(rec, v.mv_data, DOC_REC);
    uint8_t *p = rec + DOC_NEWER;
    int newer = (p[0] << 8 | p[1]) + delta;
    if (newer < 0)
        newer = 0;
    if (newer > UINT16_MAX)
        newer = UINT16_MAX;
    p[0] = (uint8_t)(newer >> 8);
    p[1] = (uint8_t)newer;
    return mput(txn, s->db.search_docs, key, DOCNO_LEN, rec, DOC_REC, 0);
}

/* Queues one posting for kn_search_flush. */
static int buffer_posting(
    kn_search_state *st, const char *t, size_t n, uint64_t docno, uint16_t wtf)
{
    tm_entry *e;
    int rc = tm_get(&st->buf, t, n, true, &e);
    if (rc < 0)
        return rc;
    if (reserve((void **)&st->post, &st->cappost, st->npost + 1, sizeof *st->post, 1024) < 0)
        return KN_ENOMEM;
    posting *p = &st->post[st->npost++];
    p->docno = docno;
    p->wtf = wtf;
    p->next = 0;
    if (e->b)
        st->post[e->b - 1].next = (uint32_t)st->npost;
    else
        e->a = (uint32_t)st->npost;
    e->b = (uint32_t)st->npost;
    return 0;
}

/*
 * The terms of o into st->doc (term -> weighted count) and its length into
 * *dl: its indexed fields, the filter pseudo-terms of its area and council,
 * and, if files, the text of its complete plain-text and Markdown files,
 * whose terms also go into st->ftext. A pure function of o, the council and
 * the files, so that a removal can compute the same terms again.
 */
static int doc_terms(kn_store *s, MDB_txn *txn, kn_search_state *st, const kn_object *o,
    const uint8_t council[KN_KEY], bool files, uint64_t *dl)
{
    uint8_t pseudo[PSEUDO_MAX];
    unsigned langs;
    int rc;

    tm_clear(&st->doc);
    tm_clear(&st->ftext);
    *dl = 0;
    if ((rc = doc_fields(st, o, fields_of(o->type), &langs, dl)) < 0
        || (files && (rc = doc_files_text(s, txn, st, o, langs, dl)) < 0))
        return rc;
    pseudo[0] = PSEUDO;
    if (o->space_len > 0) {
        pseudo[1] = 'a';
        memcpy(pseudo + 2, o->space, o->space_len);
        if ((rc = doc_term(st, (const char *)pseudo, 2 + o->space_len, 0)) < 0)
            return rc;
    }
    pseudo[1] = 'c';
    memcpy(pseudo + 2, council, KN_KEY);
    return doc_term(st, (const char *)pseudo, 2 + KN_KEY, 0);
}

int kn_search_add(kn_store *s, MDB_txn *txn, const kn_object *o)
{
    kn_search_state *st;
    uint8_t id[KN_ID], author[KN_KEY], council[KN_KEY], key[DOCNO_LEN], rec[DOC_REC];
    uint8_t tkey[TIMES_KEY], *fwd = NULL;
    uint64_t dl, docno, prev = 0, created = o->created;
    uint16_t newer = 0;
    kn_otype type = o->type;
    int rc;

    if (!fields_of(type))
        return 0;
    if ((rc = state_get(s, &st)) < 0 || (rc = stats_load(s, txn, st)) < 0)
        return rc;

    /* Everything is read from o before the first write: o may point into a page a write moves. */
    memcpy(id, o->id, KN_ID);
    memcpy(author, o->author, KN_KEY);
    if ((rc = council_cached(s, txn, st, author, type, council)) < 0
        || (rc = doc_terms(s, txn, st, o, council, true, &dl)) < 0)
        return rc;
    if ((rc = prev_docno(s, txn, kn_object_previous(o), type, author, &prev)) < 0)
        return rc;
    if (has_versions(type) && (rc = count_newer(s, txn, id, type, author, &newer)) < 0)
        return rc;

    /* Now the writes. */
    docno = st->next;
    if (docno >= DOCNO_LIMIT)
        return KN_ELIMIT;
    for (size_t i = 0; i < st->doc.n; i++) {
        const tm_entry *e = &st->doc.e[i];
        if ((rc = buffer_posting(st, tm_term(&st->doc, e), e->len, docno, (uint16_t)e->a)) < 0)
            return rc;
    }
    docno_put(key, docno);
    memcpy(rec, id, KN_ID);
    kn_be64_put(rec + DOC_CREATED, created);
    rec[DOC_TYPE] = (uint8_t)type;
    rec[DOC_NEWER] = (uint8_t)(newer >> 8);
    rec[DOC_NEWER + 1] = (uint8_t)newer;
    uint32_t dl32 = dl > UINT32_MAX ? UINT32_MAX : (uint32_t)dl;
    for (int i = 0; i < 4; i++)
        rec[DOC_DL + i] = (uint8_t)(dl32 >> (24 - 8 * i));
    memcpy(rec + DOC_COUNCIL, council, KN_KEY);
    rec[DOC_FLAGS] = st->ftext.n ? DOC_FILE_TERMS : 0;
    if (st->ftext.n) {
        /* File text may be gone when the doc is removed: its terms are kept. */
        size_t flen = 0;
        for (size_t i = 0; i < st->ftext.n; i++)
            flen += 1 + st->ftext.e[i].len;
        if (!(fwd = malloc(flen)))
            return KN_ENOMEM;
        flen = 0;
        for (size_t i = 0; i < st->ftext.n; i++) {
            fwd[flen++] = st->ftext.e[i].len;
            memcpy(fwd + flen, tm_term(&st->ftext, &st->ftext.e[i]), st->ftext.e[i].len);
            flen += st->ftext.e[i].len;
        }
        rc = mput(txn, s->db.search_fwd, key, DOCNO_LEN, fwd, flen, MDB_APPEND);
        free(fwd);
        if (rc < 0)
            return rc;
    }
    times_key(tkey, created, id);
    if ((rc = mput(txn, s->db.search_docs, key, DOCNO_LEN, rec, DOC_REC, MDB_APPEND)) < 0
        || (rc = mput(txn, s->db.search_times, tkey, TIMES_KEY, key, DOCNO_LEN, 0)) < 0)
        return rc;
    if (prev && (rc = bump_newer(s, txn, prev, 1)) < 0)
        return rc;
    st->next = docno + 1;
    st->ndocs++;
    st->total_dl += dl32;
    st->dirty = true;
    if (st->npost >= FLUSH_POSTINGS)
        rc = kn_search_flush(s, txn);
    return rc;
}

/* Sorts the buffered terms bytewise, as LMDB orders keys. */
typedef struct flush_item {
    const char *t;
    uint8_t len;
    uint32_t head;
} flush_item;

static int cmp_flush(const void *a, const void *b)
{
    const flush_item *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->t, y->t, n);
    return c ? c : (int)x->len - (int)y->len;
}

int kn_search_flush(kn_store *s, MDB_txn *txn)
{
    kn_search_state *st = s->search;
    MDB_cursor *c = NULL, *pc = NULL;
    flush_item *items = NULL;
    int rc = 0;

    if (!st || (st->buf.n == 0 && !st->dirty))
        return 0;
    if (st->buf.n) {
        if (!(items = malloc(st->buf.n * sizeof *items)))
            return KN_ENOMEM;
        for (size_t i = 0; i < st->buf.n; i++)
            items[i] = (flush_item) { tm_term(&st->buf, &st->buf.e[i]), st->buf.e[i].len,
                st->buf.e[i].a };
        qsort(items, st->buf.n, sizeof *items, cmp_flush);
        if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.search_terms, &c))) < 0
            || (rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.search_parts, &pc))) < 0)
            goto out;
        for (size_t i = 0; i < st->buf.n; i++) {
            MDB_val k = { items[i].len, (void *)items[i].t }, v;
            int mrc = mdb_cursor_get(c, &k, &v, MDB_SET);
            if (mrc != 0 && mrc != MDB_NOTFOUND) {
                rc = kn_store_mdb_err(mrc);
                goto out;
            }
            bool fresh = mrc == MDB_NOTFOUND;
            size_t n = 0;
            for (uint32_t p = items[i].head; p; p = st->post[p - 1].next) {
                if ((rc = reserve(
                         (void **)&st->vals, &st->capvals, (n + 1) * POST_LEN, 1, 4096 * POST_LEN))
                    < 0)
                    goto out;
                uint8_t *val = st->vals + n++ * POST_LEN;
                docno_put(val, st->post[p - 1].docno);
                val[DOCNO_LEN] = (uint8_t)(st->post[p - 1].wtf >> 8);
                val[DOCNO_LEN + 1] = (uint8_t)st->post[p - 1].wtf;
            }
            /*
             * All of the term's new postings in one call (MDB_MULTIPLE: one descent to
             * the key); docnos only grow, so they go at the end of its list (APPENDDUP).
             */
            MDB_val kv = { items[i].len, (void *)items[i].t };
            MDB_val dv[2] = { { POST_LEN, st->vals }, { n, NULL } };
            mrc = mdb_cursor_put(c, &kv, dv, MDB_MULTIPLE | MDB_APPENDDUP);
            if (mrc) {
                rc = mrc == MDB_KEYEXIST ? KN_ECORRUPT : kn_store_mdb_err(mrc);
                goto out;
            }
            if (dv[1].mv_size != n) {
                rc = KN_ESTORE;
                goto out;
            }
            if (fresh && has_parts(items[i].t, items[i].len)
                && (rc = parts_update(pc, items[i].t, items[i].len, false)) < 0)
                goto out;
        }
        tm_clear(&st->buf);
        st->npost = 0;
    }
    rc = stats_save(s, txn, st);
out:
    mdb_cursor_close(c);
    mdb_cursor_close(pc);
    free(items);
    return rc;
}

/* Adds the file-text terms kept in search_fwd for docno (flag DOC_FILE_TERMS) to st->doc. */
static int doc_file_terms(
    kn_store *s, MDB_txn *txn, kn_search_state *st, const uint8_t key[DOCNO_LEN])
{
    MDB_val v;
    int rc = mget(txn, s->db.search_fwd, key, DOCNO_LEN, &v);
    if (rc < 0)
        return rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
    const uint8_t *f = v.mv_data;
    for (size_t i = 0; i < v.mv_size;) {
        size_t tl = f[i++];
        if (tl == 0 || tl > v.mv_size - i)
            return KN_ECORRUPT;
        if ((rc = doc_term(st, (const char *)f + i, tl, 0)) < 0)
            return rc;
        i += tl;
    }
    return 0;
}

int kn_search_remove(kn_store *s, MDB_txn *txn, const kn_object *o)
{
    kn_search_state *st;
    uint8_t id[KN_ID], author[KN_KEY], prev_id[KN_ID], council[KN_KEY], key[DOCNO_LEN];
    uint8_t tkey[TIMES_KEY];
    const uint8_t *pr = kn_object_previous(o);
    kn_otype type = o->type;
    uint64_t docno, prev = 0, dl_now, created = o->created;
    uint32_t dl = 0;
    bool file_terms;
    MDB_cursor *c = NULL, *pc = NULL;
    MDB_val v;
    int rc;

    if (!fields_of(type))
        return 0;
    /* Copies first: o may point into a page that the first write moves. */
    memcpy(id, o->id, KN_ID);
    memcpy(author, o->author, KN_KEY);
    if (pr)
        memcpy(prev_id, pr, KN_ID);
    if ((rc = state_get(s, &st)) < 0)
        return rc;
    if ((rc = docno_of(s, txn, created, id, &docno)) < 0)
        return rc == KN_ENOTFOUND ? 0 : rc;
    if ((rc = prev_docno(s, txn, pr ? prev_id : NULL, type, author, &prev)) < 0)
        return rc;
    docno_put(key, docno);
    if ((rc = mget(txn, s->db.search_docs, key, DOCNO_LEN, &v)) < 0)
        return rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
    if (v.mv_size != DOC_REC)
        return KN_ECORRUPT;
    const uint8_t *d = v.mv_data;
    dl = (uint32_t)d[DOC_DL] << 24 | (uint32_t)d[DOC_DL + 1] << 16 | (uint32_t)d[DOC_DL + 2] << 8
        | d[DOC_DL + 3];
    memcpy(council, d + DOC_COUNCIL, KN_KEY);
    file_terms = d[DOC_FLAGS] & DOC_FILE_TERMS;
    /*
     * The terms the object was indexed under: its fields again (the analysis
     * fingerprint guarantees the same terms), its files' text from search_fwd.
     */
    if ((rc = doc_terms(s, txn, st, o, council, false, &dl_now)) < 0
        || (file_terms && (rc = doc_file_terms(s, txn, st, key)) < 0))
        return rc;
    /* Its postings may still be in the buffer (stored and retracted in one batch). */
    if ((rc = kn_search_flush(s, txn)) < 0 || (rc = stats_load(s, txn, st)) < 0)
        return rc;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.search_terms, &c))) < 0
        || (rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.search_parts, &pc))) < 0)
        goto out;
    for (size_t i = 0; i < st->doc.n; i++) {
        const char *t = tm_term(&st->doc, &st->doc.e[i]);
        size_t tl = st->doc.e[i].len;
        uint8_t val[POST_LEN] = { 0 };
        docno_put(val, docno);
        MDB_val k = { tl, (void *)t }, dv = { POST_LEN, val };
        int mrc = mdb_cursor_get(c, &k, &dv, MDB_GET_BOTH_RANGE);
        if (mrc == 0 && dv.mv_size == POST_LEN && docno_get(dv.mv_data) == docno) {
            size_t cnt = 0;
            if ((mrc = mdb_cursor_count(c, &cnt)) == 0 && cnt == 1 && has_parts(t, tl)
                && (rc = parts_update(pc, t, tl, true)) < 0)
                goto out;
            if (mrc == 0)
                mrc = mdb_cursor_del(c, 0);
        } else if (mrc == 0 || mrc == MDB_NOTFOUND) {
            mrc = 0; /* nothing to delete: tolerate, the rest must still go */
        }
        if (mrc) {
            rc = kn_store_mdb_err(mrc);
            goto out;
        }
    }
    times_key(tkey, created, id);
    if ((file_terms && (rc = mdel(txn, s->db.search_fwd, key, DOCNO_LEN)) < 0)
        || (rc = mdel(txn, s->db.search_docs, key, DOCNO_LEN)) < 0
        || (rc = mdel(txn, s->db.search_times, tkey, TIMES_KEY)) < 0)
        goto out;
    if (prev && (rc = bump_newer(s, txn, prev, -1)) < 0)
        goto out;
    st->ndocs = st->ndocs ? st->ndocs - 1 : 0;
    st->total_dl = st->total_dl >= dl ? st->total_dl - dl : 0;
    st->dirty = true;
out:
    mdb_cursor_close(c);
    mdb_cursor_close(pc);
    return rc;
}

static int blob_complete(kn_store *s, MDB_txn *txn, const uint8_t blob[KN_BLOB_ID], bool dry);

/*
 * A blob became complete (its last chunk was stored, blobstore.c): the live
 * docs that list it as a plain-text or Markdown file are indexed again, now
 * with the file's text. Runs in the transaction that stored the chunk.
 */
int kn_search_blob_complete(kn_store *s, MDB_txn *txn, const uint8_t blob[KN_BLOB_ID])
{
    return blob_complete(s, txn, blob, false);
}

int kn_search_blob_wants_text(kn_store *s, MDB_txn *txn, const uint8_t blob[KN_BLOB_ID])
{
    return blob_complete(s, txn, blob, true);
}

/* Both of the above; `dry`: only say (1) whether some doc would be indexed again. */
static int blob_complete(kn_store *s, MDB_txn *txn, const uint8_t blob[KN_BLOB_ID], bool dry)
{
    MDB_cursor *c = NULL;
    uint8_t(*docs)[KN_ID] = NULL, *copy = NULL;
    size_t n = 0, cap = 0;
    MDB_val k = { KN_BLOB_ID, (void *)blob }, v;
    int rc, mrc;

    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.blob_refs, &c))) < 0)
        return rc;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) { /* blob_refs: blob(32) doc(32) */
        if (k.mv_size != KN_BLOB_ID + KN_ID || memcmp(k.mv_data, blob, KN_BLOB_ID) != 0)
            break;
        if ((rc = reserve((void **)&docs, &cap, n + 1, KN_ID, 8)) < 0)
            goto out;
        memcpy(docs[n++], (const uint8_t *)k.mv_data + KN_BLOB_ID, KN_ID);
    }
    mdb_cursor_close(c);
    c = NULL;
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(mrc);
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < n; i++) {
        kn_doc_file f[KN_DOC_FILES_MAX];
        uint32_t nf;
        uint64_t d;
        kn_object o;
        bool text = false;
        if ((rc = kn_store_load(s, txn, s->db.objects, docs[i], &o)) < 0)
            goto out;
        if ((rc = docno_of(s, txn, o.created, docs[i], &d)) == KN_ENOTFOUND)
            continue; /* not indexed (yet): the build will read the file */
        if (rc < 0)
            goto out;
        if (kn_doc_files(&o, f, &nf) < 0)
            continue;
        for (uint32_t j = 0; j < nf && !text; j++)
            text = memcmp(f[j].blob, blob, KN_BLOB_ID) == 0 && text_mime(f[j].mime, f[j].mime_len);
        if (!text)
            continue;
        if (dry) {
            rc = 1;
            goto out;
        }
        /* remove and add both write: they work on a copy, not on the page */
        free(copy);
        copy = NULL;
        if ((rc = kn_store_detach(&o, &copy)) < 0 || (rc = kn_search_remove(s, txn, &o)) < 0
            || (rc = kn_search_add(s, txn, &o)) < 0)
            goto out;
    }
out:
    mdb_cursor_close(c);
    free(docs);
    free(copy);
    /* The caller takes these for its own per-chunk results: anything failing here is fatal. */
    return rc == KN_ENOTFOUND || rc == KN_EINVAL ? KN_ECORRUPT : rc;
}

/* ---- building the index for a store that lacks it ---- */

int kn_search_open(kn_store *s, MDB_txn *txn, bool rebuild)
{
    kn_search_state *st;
    uint64_t fp, stored;
    MDB_stat ms;
    uint8_t b[8];
    int rc;

    if ((rc = state_get(s, &st)) < 0 || (rc = kn_analyzer_fingerprint(st->an, &fp)) < 0)
        return rc;
    fp = (fp ^ SEARCH_LAYOUT) * 0x100000001b3ull;
    rc = meta_get_u64(txn, s, "search_fp", &stored);
    if (rc < 0 && rc != KN_ENOTFOUND)
        return rc;
    if (rc == 0 && stored == fp && !rebuild)
        return 0;
    /* A new store, one from before the index, or one indexed by other text rules: rebuild. */
    MDB_dbi dbs[] = { s->db.search_terms, s->db.search_parts, s->db.search_docs, s->db.search_fwd,
        s->db.search_times };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++)
        if ((rc = kn_store_mdb_err(mdb_drop(txn, dbs[i], 0))) < 0)
            return rc;
    kn_be64_put(b, fp);
    if ((rc = mdel(txn, s->db.meta, "search_stats", 12)) < 0
        || (rc = mput(txn, s->db.meta, "search_fp", 9, b, 8, 0)) < 0)
        return rc;
    kn_search_txn_reset(s);
    if ((rc = kn_store_mdb_err(mdb_stat(txn, s->db.by_time, &ms))) < 0)
        return rc;
    if (ms.ms_entries == 0)
        return mdel(txn, s->db.meta, "search_fill", 11);
    uint8_t start[FILL_KEY] = { 0 };
    return mput(txn, s->db.meta, "search_fill", 11, start, FILL_KEY, 0);
}

/*
 * Schema 5 -> 6, in open's transaction: search_times (created, id -> docno)
 * replaces search_ids (id -> docno). It is filled from search_docs, whose
 * records hold each indexed object's id and created time, in docno order
 * (mostly created order, so the puts land near the end of the table), and
 * search_ids is deleted. Docnos, postings and statistics stay as they are:
 * the index is not built again.
 */
int kn_search_migrate_times(kn_store *s, MDB_txn *txn)
{
    MDB_dbi old;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc, mrc = mdb_dbi_open(txn, "search_ids", 0, &old);

    if (mrc == MDB_NOTFOUND)
        return 0; /* a store from before schema 5: kn_search_open builds the index */
    if (mrc)
        return kn_store_mdb_err(mrc);
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.search_docs, &c))) < 0)
        return rc;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint8_t tkey[TIMES_KEY], docno[DOCNO_LEN];
        if (k.mv_size != DOCNO_LEN || v.mv_size != DOC_REC)
            continue; /* kn_store_check reports it */
        memcpy(docno, k.mv_data, DOCNO_LEN);
        times_key(tkey, kn_be64_get((const uint8_t *)v.mv_data + DOC_CREATED), v.mv_data);
        if ((rc = mput(txn, s->db.search_times, tkey, TIMES_KEY, docno, DOCNO_LEN, 0)) < 0)
            goto out;
    }
    if (mrc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(mrc);
        goto out;
    }
    rc = kn_store_mdb_err(mdb_drop(txn, old, 1));
out:
    mdb_cursor_close(c);
    return rc;
}

typedef struct fill_ctx {
    size_t did; /* objects looked at by the last transaction */
    bool finished;
} fill_ctx;

/* Indexes the next FILL_CHUNK objects after the "search_fill" mark, in one transaction. */
static int fill_txn(kn_store *s, MDB_txn *txn, void *arg)
{
    fill_ctx *f = arg;
    uint8_t mark[FILL_KEY], (*keys)[FILL_KEY] = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    size_t n = 0;
    int rc, mrc;

    f->did = 0;
    f->finished = false;
    if ((rc = mget(txn, s->db.meta, "search_fill", 11, &v)) == KN_ENOTFOUND) {
        f->finished = true;
        return 0;
    }
    if (rc < 0)
        return rc;
    if (v.mv_size != FILL_KEY)
        return KN_ECORRUPT;
    memcpy(mark, v.mv_data, FILL_KEY);
    if (!(keys = malloc(FILL_CHUNK * sizeof *keys)))
        return KN_ENOMEM;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.by_time, &c))) < 0)
        goto out;
    k = (MDB_val) { FILL_KEY, mark };
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0 && n < FILL_CHUNK;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != FILL_KEY) {
            rc = KN_ECORRUPT;
            goto out;
        }
        if (memcmp(k.mv_data, mark, FILL_KEY) == 0)
            continue; /* done in the previous chunk */
        memcpy(keys[n++], k.mv_data, FILL_KEY);
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(mrc);
        goto out;
    }
    mdb_cursor_close(c);
    c = NULL;
    for (size_t i = 0; i < n; i++) {
        kn_object o;
        /* A by_time entry without its object is kn_store_check's to report, not open's. */
        if ((rc = kn_store_load(s, txn, s->db.objects, keys[i] + 8, &o)) == KN_ENOTFOUND
            || rc == KN_ECORRUPT)
            continue;
        if (rc < 0)
            goto out;
        uint64_t d;
        if ((rc = docno_of(s, txn, o.created, o.id, &d)) == 0)
            continue; /* indexed already: stored while the build was under way */
        if (rc != KN_ENOTFOUND || (rc = kn_search_add(s, txn, &o)) < 0)
            goto out;
    }
    rc = 0;
    f->did = n;
    if (n < FILL_CHUNK) {
        f->finished = true;
        rc = mdel(txn, s->db.meta, "search_fill", 11);
    } else {
        rc = mput(txn, s->db.meta, "search_fill", 11, keys[n - 1], FILL_KEY, 0);
    }
out:
    mdb_cursor_close(c);
    free(keys);
    return rc;
}

int kn_search_build(kn_store *s, const kn_store_options *opt)
{
    MDB_txn *txn;
    MDB_stat ms;
    MDB_val v;
    uint64_t total, done = 0;
    fill_ctx f = { 0, false };
    int rc;

    if ((rc = kn_store_read_begin(s, &txn)) < 0)
        return rc;
    rc = mget(txn, s->db.meta, "search_fill", 11, &v);
    if (rc == 0)
        rc = kn_store_mdb_err(mdb_stat(txn, s->db.by_time, &ms));
    mdb_txn_abort(txn);
    if (rc == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    total = ms.ms_entries;
    while (!f.finished) {
        if ((rc = kn_store_write(s, fill_txn, &f)) < 0)
            return rc;
        done += f.did;
        if (opt && opt->progress)
            opt->progress(opt->progress_ctx, done > total ? total : done, total);
    }
    return 0;
}

/* ---- consistency (kn_store_check) ---- */

static int term_df(MDB_cursor *c, const char *t, size_t len, uint64_t *df);

/*
 * The search databases' part of kn_store_check: every index record names a
 * stored object of an indexed type with the same created time and type, and
 * back through search_times; each object has a posting for every term it gives
 * (fields again, files' text from search_fwd) and there are no others; every
 * stored object of an indexed type is indexed (unless a build is under way);
 * the statistics match; each count of newer versions is what the edits give;
 * every compound-part entry names a term.
 */
int kn_search_check(kn_store *s, MDB_txn *txn, kn_blob_problem_fn problem, void *ctx)
{
    kn_search_state *st;
    MDB_cursor *c = NULL, *tc = NULL;
    MDB_val k, v;
    uint64_t ndocs = 0, total = 0, expected = 0, maxdoc = 0, next = 1, nfwd = 0;
    bool building;
    int rc, mrc;

    if ((rc = state_get(s, &st)) < 0)
        return rc;
    rc = mget(txn, s->db.meta, "search_fill", 11, &v);
    if (rc < 0 && rc != KN_ENOTFOUND)
        return rc;
    building = rc == 0;
    if ((rc = mget(txn, s->db.meta, "search_stats", 12, &v)) == 0 && v.mv_size == STATS_REC)
        next = kn_be64_get((const uint8_t *)v.mv_data + 16);
    else if (rc == 0)
        problem(ctx, "search: the statistics record has the wrong size", NULL);
    else if (rc != KN_ENOTFOUND)
        return rc;

    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.search_terms, &tc))) < 0
        || (rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.search_docs, &c))) < 0)
        goto out;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        MDB_val iv;
        kn_object o;
        uint8_t rec[DOC_REC], key[DOCNO_LEN];
        uint64_t dl_now;
        if (k.mv_size != DOCNO_LEN || v.mv_size != DOC_REC) {
            problem(ctx, "search: a record of search_docs has the wrong size", NULL);
            continue;
        }
        memcpy(key, k.mv_data, DOCNO_LEN);
        memcpy(rec, v.mv_data, DOC_REC);
        uint64_t d = docno_get(key);
        const uint8_t *p = rec, *dl = p + DOC_DL;
        uint32_t dl32
            = (uint32_t)dl[0] << 24 | (uint32_t)dl[1] << 16 | (uint32_t)dl[2] << 8 | dl[3];
        ndocs++;
        total += dl32;
        if (d > maxdoc)
            maxdoc = d;
        uint8_t tkey[TIMES_KEY];
        times_key(tkey, kn_be64_get(p + DOC_CREATED), p);
        if (mget(txn, s->db.search_times, tkey, TIMES_KEY, &iv) != 0 || iv.mv_size != DOCNO_LEN
            || docno_get(iv.mv_data) != d)
            problem(ctx, "search: an indexed object is not in search_times under its number", p);
        rc = kn_store_load(s, txn, s->db.objects, p, &o);
        if (rc == KN_ENOTFOUND) {
            problem(ctx, "search: the index lists an object that is not stored", p);
            continue;
        }
        if (rc < 0)
            goto out;
        if (o.created != kn_be64_get(p + DOC_CREATED) || (int)o.type != p[DOC_TYPE]
            || !fields_of(o.type)) {
            problem(ctx, "search: an index record does not match its object", p);
            continue;
        }
        uint16_t newer = 0;
        unsigned have = (unsigned)p[DOC_NEWER] << 8 | p[DOC_NEWER + 1];
        if (has_versions(o.type) && (rc = count_newer(s, txn, o.id, o.type, o.author, &newer)) < 0)
            goto out;
        if (has_versions(o.type) && newer != have)
            problem(ctx, "search: the count of newer versions is wrong", p);
        /* The postings the object must have. */
        if ((rc = doc_terms(s, txn, st, &o, p + DOC_COUNCIL, false, &dl_now)) < 0)
            goto out;
        if (p[DOC_FLAGS] & DOC_FILE_TERMS) {
            nfwd++;
            if ((rc = doc_file_terms(s, txn, st, key)) == KN_ECORRUPT) {
                problem(ctx, "search: the file terms of an object are missing or malformed", p);
                continue;
            }
            if (rc < 0)
                goto out;
        }
        for (size_t i = 0; i < st->doc.n; i++) {
            uint8_t val[POST_LEN] = { 0 };
            docno_put(val, d);
            MDB_val tk = { st->doc.e[i].len, (void *)tm_term(&st->doc, &st->doc.e[i]) },
                    tv = { POST_LEN, val };
            mrc = mdb_cursor_get(tc, &tk, &tv, MDB_GET_BOTH_RANGE);
            if (mrc == 0 && tv.mv_size == POST_LEN && docno_get(tv.mv_data) == d)
                continue;
            if (mrc != 0 && mrc != MDB_NOTFOUND) {
                rc = kn_store_mdb_err(mrc);
                goto out;
            }
            problem(ctx, "search: an indexed object lacks the posting of one of its terms", p);
            break;
        }
        expected += st->doc.n;
    }
    if (mrc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(mrc);
        goto out;
    }
    mdb_cursor_close(c);
    c = NULL;
    {
        MDB_stat ms;
        if ((rc = kn_store_mdb_err(mdb_stat(txn, s->db.search_times, &ms))) < 0)
            goto out;
        if (ms.ms_entries != ndocs)
            problem(ctx, "search: search_times and search_docs differ in size", NULL);
        if ((rc = kn_store_mdb_err(mdb_stat(txn, s->db.search_fwd, &ms))) < 0)
            goto out;
        if (ms.ms_entries != nfwd)
            problem(ctx, "search: search_fwd holds term lists of objects not indexed", NULL);
        /* Every required posting is there; as many as that means there are no others. */
        if ((rc = kn_store_mdb_err(mdb_stat(txn, s->db.search_terms, &ms))) < 0)
            goto out;
        if (ms.ms_entries != expected)
            problem(ctx, "search: there are postings for objects or terms not indexed", NULL);
    }
    if ((rc = mget(txn, s->db.meta, "search_stats", 12, &v)) == 0 && v.mv_size == STATS_REC) {
        if (kn_be64_get(v.mv_data) != ndocs || kn_be64_get((const uint8_t *)v.mv_data + 8) != total
            || maxdoc >= next)
            problem(ctx, "search: the statistics do not match the index", NULL);
    } else if (ndocs) {
        problem(ctx, "search: objects are indexed but there are no statistics", NULL);
    }

    /* every stored object of an indexed type is indexed, unless a build is under way */
    if (!building) {
        if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.objects, &c))) < 0)
            goto out;
        for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
             mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            kn_object o;
            MDB_val iv;
            uint8_t tkey[TIMES_KEY];
            if (kn_object_decode(&o, v.mv_data, v.mv_size) < 0 || !fields_of(o.type))
                continue; /* check.c reports objects that do not decode */
            times_key(tkey, o.created, o.id);
            if (mget(txn, s->db.search_times, tkey, TIMES_KEY, &iv) != 0)
                problem(ctx, "search: a stored object is not indexed", o.id);
        }
        if (mrc != MDB_NOTFOUND) {
            rc = kn_store_mdb_err(mrc);
            goto out;
        }
        mdb_cursor_close(c);
        c = NULL;
    }

    /* compound parts: the term after the 0x00 exists */
    if ((rc = kn_store_mdb_err(mdb_cursor_open(txn, s->db.search_parts, &c))) < 0)
        goto out;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *z = memchr(k.mv_data, 0, k.mv_size);
        uint64_t df = 0;
        size_t tl = z ? k.mv_size - (size_t)(z - (const uint8_t *)k.mv_data) - 1 : 0;
        if (!z || tl == 0 || (rc = term_df(tc, (const char *)z + 1, tl, &df)) < 0 || df == 0) {
            if (rc < 0)
                goto out;
            problem(ctx, "search: a compound-part entry names no term", NULL);
        }
    }
    rc = mrc == MDB_NOTFOUND ? 0 : kn_store_mdb_err(mrc);
out:
    mdb_cursor_close(c);
    mdb_cursor_close(tc);
    return rc;
}

/* ---- queries ---- */

typedef struct qterm {
    char s[QTERM_MAX];
    uint8_t len;
    float weight; /* 1 for the word's own terms, PART_WEIGHT for compounds, 0 for filters */
    uint64_t df;
    double idf;
} qterm;

typedef struct qword {
    qterm *t;
    int n;
    size_t cap;
    uint64_t df; /* sum over the terms */
    bool filter;
} qword;

typedef struct cands {
    uint64_t *docno;
    uint32_t *mask;
    uint32_t *best; /* n x nw: (term index + 1) << 16 | wtf of the best term of each word */
    size_t n, nw;
    uint32_t *slot; /* docno hash -> index + 1 */
    size_t nslot;
    bool full; /* CANDS_MAX reached: more were not added */
} cands;

typedef struct hit_rank {
    uint64_t docno, created;
    uint8_t id[KN_ID];
    kn_otype type;
    double score;
    uint32_t mask;
    int nmatched;
} hit_rank;

typedef struct qctx {
    kn_store *s;
    kn_search_state *st;
    MDB_txn *txn;
    MDB_cursor *terms;
    qword w[WORDS_ALL];
    int nw, nreal; /* all words; real words are w[0 .. nreal) */
    uint64_t ndocs;
    double avgdl;
    uint64_t work;
    bool truncated;
    cands c;
    const char **snip; /* sorted query terms of the real words, for snippets */
    size_t nsnip;
} qctx;

static int qword_add(qword *w, const char *t, size_t len, float weight)
{
    for (int i = 0; i < w->n; i++)
        if (w->t[i].len == len && memcmp(w->t[i].s, t, len) == 0) {
            if (weight > w->t[i].weight)
                w->t[i].weight = weight;
            return 0;
        }
    if (reserve((void **)&w->t, &w->cap, (size_t)w->n + 1, sizeof *w->t, 8) < 0)
        return KN_ENOMEM;
    qterm *q = &w->t[w->n++];
    memset(q, 0, sizeof *q);
    memcpy(q->s, t, len);
    q->len = (uint8_t)len;
    q->weight = weight;
    return 0;
}

/* The number of postings of a term (0 if absent). */
static int term_df(MDB_cursor *c, const char *t, size_t len, uint64_t *df)
{
    MDB_val k = { len, (void *)t }, v;
    size_t n = 0;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET);
    *df = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc || (rc = mdb_cursor_count(c, &n)))
        return kn_store_mdb_err(rc);
    *df = n;
    return 0;
}

typedef struct expansion {
    char t[KN_TERM_MAX];
    uint8_t len;
    uint64_t df;
} expansion;

static int cmp_expansion(const void *a, const void *b)
{
    const expansion *x = a, *y = b;
    if (x->df != y->df)
        return x->df > y->df ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->t, y->t, n);
    return c ? c : (int)x->len - (int)y->len;
}

static int expansion_add(expansion *ex, size_t *n, const char *t, size_t len)
{
    if (len > KN_TERM_MAX)
        return 0;
    for (size_t i = 0; i < *n; i++)
        if (ex[i].len == len && memcmp(ex[i].t, t, len) == 0)
            return 0;
    if (*n >= 2 * EXPAND_SCAN)
        return 0;
    memcpy(ex[*n].t, t, len);
    ex[*n].len = (uint8_t)len;
    ex[*n].df = 0;
    (*n)++;
    return 0;
}

/*
 * Compound parts: the terms that begin with word term a (from search_terms)
 * or contain it after their first two bytes (from search_parts), at most
 * EXPAND_SCAN of each; the KN_SEARCH_EXPAND_MAX with the most postings join
 * the word with PART_WEIGHT.
 */
static int expand(qctx *q, qword *w, const qterm *a)
{
    expansion *ex = NULL;
    size_t n = 0, seen;
    MDB_cursor *pc = NULL;
    MDB_val k, v;
    int rc = 0, mrc;

    if (a->len < PART_MIN || all_digits(a->s, a->len))
        return 0;
    if (!(ex = malloc(2 * EXPAND_SCAN * sizeof *ex)))
        return KN_ENOMEM;
    k = (MDB_val) { a->len, (void *)a->s };
    seen = 0;
    for (mrc = mdb_cursor_get(q->terms, &k, &v, MDB_SET_RANGE); mrc == 0 && seen < EXPAND_SCAN;
         mrc = mdb_cursor_get(q->terms, &k, &v, MDB_NEXT_NODUP), seen++) {
        if (k.mv_size < a->len || memcmp(k.mv_data, a->s, a->len) != 0)
            break;
        if (k.mv_size > a->len)
            expansion_add(ex, &n, k.mv_data, k.mv_size);
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(mrc);
        goto out;
    }
    if ((rc = kn_store_mdb_err(mdb_cursor_open(q->txn, q->s->db.search_parts, &pc))) < 0)
        goto out;
    k = (MDB_val) { a->len, (void *)a->s };
    seen = 0;
    for (mrc = mdb_cursor_get(pc, &k, &v, MDB_SET_RANGE); mrc == 0 && seen < EXPAND_SCAN;
         mrc = mdb_cursor_get(pc, &k, &v, MDB_NEXT), seen++) {
        if (k.mv_size < a->len || memcmp(k.mv_data, a->s, a->len) != 0)
            break;
        const uint8_t *p = k.mv_data, *z = memchr(p, 0, k.mv_size);
        if (!z) {
            rc = KN_ECORRUPT;
            goto out;
        }
        size_t tl = k.mv_size - (size_t)(z - p) - 1;
        if (tl > 0)
            expansion_add(ex, &n, (const char *)z + 1, tl);
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = kn_store_mdb_err(mrc);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = term_df(q->terms, ex[i].t, ex[i].len, &ex[i].df)) < 0)
            goto out;
    qsort(ex, n, sizeof *ex, cmp_expansion);
    for (size_t i = 0; i < n && i < KN_SEARCH_EXPAND_MAX; i++)
        if (ex[i].df && (rc = qword_add(w, ex[i].t, ex[i].len, PART_WEIGHT)) < 0)
            goto out;
out:
    mdb_cursor_close(pc);
    free(ex);
    return rc;
}

/* Splits the query text into words and looks up their terms, expansions and counts. */
static int parse_query(qctx *q, const kn_search_query *sq, kn_search_result *r)
{
    kn_tokenizer tk;
    kn_token tok;
    size_t len = strlen(sq->text);
    int rc;

    if (len > KN_SEARCH_QUERY_MAX)
        return KN_ETOOBIG;
    if (!kn_analysis_utf8_valid(sq->text, len))
        return KN_EUTF8;
    kn_tokenizer_init(&tk, sq->text, len);
    while (kn_tokenizer_next(&tk, &tok)) {
        kn_term terms[KN_QUERY_TERMS];
        bool dup = false;
        for (uint32_t i = 0; i < r->nwords; i++)
            dup = dup || strcmp(r->words[i], tok.text) == 0;
        if (dup)
            continue;
        int n = kn_analyzer_query_terms(q->st->an, &tok, sq->text, terms);
        if (n < 0)
            return n;
        if (n == 0)
            continue; /* a stop word or a single letter */
        if (r->nwords >= KN_SEARCH_WORDS_MAX)
            return KN_ETOOBIG;
        qword *w = &q->w[q->nw++];
        memcpy(r->words[r->nwords++], tok.text, tok.len + 1);
        for (int i = 0; i < n; i++)
            if ((rc = qword_add(w, terms[i].s, terms[i].len, 1.0f)) < 0)
                return rc;
        int exact = w->n;
        for (int i = 0; i < exact; i++) {
            qterm a = w->t[i]; /* a copy: expand() may move w->t */
            if ((rc = expand(q, w, &a)) < 0)
                return rc;
        }
    }
    if (q->nw == 0)
        return KN_EINVAL;
    q->nreal = q->nw;
    /* The area and council filters are words too, that match without counting. */
    if (sq->space) {
        size_t sl = strlen(sq->space);
        char t[PSEUDO_MAX];
        if (sl == 0 || sl > KN_SPACE_MAX)
            return KN_EINVAL;
        t[0] = PSEUDO;
        t[1] = 'a';
        memcpy(t + 2, sq->space, sl);
        q->w[q->nw].filter = true;
        if ((rc = qword_add(&q->w[q->nw++], t, 2 + sl, 0.0f)) < 0)
            return rc;
    }
    if (sq->council) {
        char t[2 + KN_KEY];
        t[0] = PSEUDO;
        t[1] = 'c';
        memcpy(t + 2, sq->council, KN_KEY);
        q->w[q->nw].filter = true;
        if ((rc = qword_add(&q->w[q->nw++], t, sizeof t, 0.0f)) < 0)
            return rc;
    }
    for (int i = 0; i < q->nw; i++) {
        qword *w = &q->w[i];
        w->df = 0;
        for (int j = 0; j < w->n; j++) {
            qterm *t = &w->t[j];
            if ((rc = term_df(q->terms, t->s, t->len, &t->df)) < 0)
                return rc;
            double N = (double)q->ndocs, df = (double)t->df;
            t->idf = log(1.0 + (N - df + 0.5) / (df + 0.5));
            w->df += t->df;
        }
    }
    return 0;
}

static int cands_init(cands *c, size_t nw)
{
    memset(c, 0, sizeof *c);
    c->nw = nw;
    c->nslot = 1;
    while (c->nslot < 2 * CANDS_MAX)
        c->nslot *= 2;
    c->docno = malloc(CANDS_MAX * sizeof *c->docno);
    c->mask = malloc(CANDS_MAX * sizeof *c->mask);
    c->best = malloc(CANDS_MAX * nw * sizeof *c->best);
    c->slot = calloc(c->nslot, sizeof *c->slot);
    return c->docno && c->mask && c->best && c->slot ? 0 : KN_ENOMEM;
}

static void cands_free(cands *c)
{
    free(c->docno);
    free(c->mask);
    free(c->best);
    free(c->slot);
}

static void cands_reset(cands *c)
{
    memset(c->slot, 0, c->nslot * sizeof *c->slot);
    c->n = 0;
    c->full = false;
}

static size_t cand_hash(const cands *c, uint64_t d)
{
    return (size_t)((d * 0x9e3779b97f4a7c15ull) >> 17) & (c->nslot - 1);
}

/* The index of candidate d, or -1; adds it if add and there is room. */
static long cands_find(cands *c, uint64_t d, bool add)
{
    size_t h = cand_hash(c, d);
    while (c->slot[h]) {
        if (c->docno[c->slot[h] - 1] == d)
            return (long)c->slot[h] - 1;
        h = (h + 1) & (c->nslot - 1);
    }
    if (!add)
        return -1;
    if (c->n >= CANDS_MAX) {
        c->full = true;
        return -1;
    }
    size_t i = c->n++;
    c->docno[i] = d;
    c->mask[i] = 0;
    memset(c->best + i * c->nw, 0, c->nw * sizeof *c->best);
    c->slot[h] = (uint32_t)i + 1;
    return (long)i;
}

/* Keeps the candidates that have every bit of need. */
static void cands_keep(cands *c, uint32_t need)
{
    size_t o = 0;
    for (size_t i = 0; i < c->n; i++) {
        if ((c->mask[i] & need) != need)
            continue;
        c->docno[o] = c->docno[i];
        c->mask[o] = c->mask[i];
        memmove(c->best + o * c->nw, c->best + i * c->nw, c->nw * sizeof *c->best);
        o++;
    }
    c->n = o;
    memset(c->slot, 0, c->nslot * sizeof *c->slot);
    for (size_t i = 0; i < c->n; i++) {
        size_t h = cand_hash(c, c->docno[i]);
        while (c->slot[h])
            h = (h + 1) & (c->nslot - 1);
        c->slot[h] = (uint32_t)i + 1;
    }
}

/* An estimate of a term's contribution at average length, to pick a word's best term. */
static double estimate(const qterm *t, uint32_t wtf)
{
    double tf = wtf / 2.0;
    return t->weight * t->idf * tf / (tf + BM25_K1);
}

/* Records that candidate i has term ti of word wi with weighted count wtf. */
static void cand_mark(qctx *q, long i, int wi, int ti, uint16_t wtf)
{
    uint32_t *b = &q->c.best[(size_t)i * q->c.nw + (size_t)wi];
    const qword *w = &q->w[wi];
    if (!*b || estimate(&w->t[ti], wtf) > estimate(&w->t[(*b >> 16) - 1], *b & 0xffff))
        *b = (uint32_t)(ti + 1) << 16 | wtf;
    q->c.mask[i] |= 1u << wi;
}

static void posting_parse(const MDB_val *v, uint64_t *docno, uint16_t *wtf)
{
    const uint8_t *p = v->mv_data;
    *docno = docno_get(p);
    *wtf = (uint16_t)(p[DOCNO_LEN] << 8 | p[DOCNO_LEN + 1]);
}

/*
 * Reads the postings of word wi, newest first, at most max of each term
 * and KN_SEARCH_WORK_MAX in all, marking the candidates they name (adding
 * new ones if add).
 */
/* One posting of word wi's term ti; false once a bound is reached. */
static bool scan_one(
    qctx *q, int wi, int ti, bool add, const uint8_t *p, uint64_t *read, uint64_t max)
{
    if (*read >= max || q->work >= KN_SEARCH_WORK_MAX) {
        q->truncated = true;
        return false;
    }
    (*read)++;
    q->work++;
    MDB_val one = { POST_LEN, (void *)p };
    uint64_t d;
    uint16_t wtf;
    posting_parse(&one, &d, &wtf);
    long i = cands_find(&q->c, d, add);
    if (i >= 0)
        cand_mark(q, i, wi, ti, wtf);
    return true;
}

static int scan_word(qctx *q, int wi, bool add, uint64_t max)
{
    qword *w = &q->w[wi];
    for (int ti = 0; ti < w->n; ti++) {
        qterm *t = &w->t[ti];
        MDB_val k = { t->len, t->s }, v;
        uint8_t last[POST_LEN];
        uint64_t read = 0;
        bool go = true;
        if (t->df == 0)
            continue;
        /*
         * Newest first, a page of postings at a time (DUPFIXED). LMDB returns
         * a whole page for MDB_GET_MULTIPLE only once the cursor has stepped
         * back from the last posting, so that one is taken on its own unless
         * the page holds it.
         */
        int rc = mdb_cursor_get(q->terms, &k, &v, MDB_SET);
        if (rc == 0)
            rc = mdb_cursor_get(q->terms, &k, &v, MDB_LAST_DUP);
        if (rc == 0) {
            if (v.mv_size != POST_LEN)
                return KN_ECORRUPT;
            memcpy(last, v.mv_data, POST_LEN);
            rc = mdb_cursor_get(q->terms, &k, &v, MDB_PREV_DUP);
            if (rc == MDB_NOTFOUND) { /* a single posting */
                scan_one(q, wi, ti, add, last, &read, max);
                continue;
            }
            if (rc == 0)
                rc = mdb_cursor_get(q->terms, &k, &v, MDB_GET_MULTIPLE);
            if (rc == 0 && (v.mv_size < POST_LEN || v.mv_size % POST_LEN))
                return KN_ECORRUPT;
            if (rc == 0
                && memcmp((const uint8_t *)v.mv_data + v.mv_size - POST_LEN, last, POST_LEN) != 0)
                go = scan_one(q, wi, ti, add, last, &read, max); /* it is on the next page */
        }
        for (; rc == 0 && go; rc = mdb_cursor_get(q->terms, &k, &v, MDB_PREV_MULTIPLE)) {
            if (v.mv_size % POST_LEN)
                return KN_ECORRUPT;
            for (size_t j = v.mv_size / POST_LEN; j-- > 0 && go;)
                go = scan_one(
                    q, wi, ti, add, (const uint8_t *)v.mv_data + j * POST_LEN, &read, max);
        }
        if (rc != 0 && rc != MDB_NOTFOUND)
            return kn_store_mdb_err(rc);
    }
    if (q->c.full)
        q->truncated = true;
    return 0;
}

/* Looks up word wi's terms for each candidate (one B-tree lookup each). */
static int probe_word(qctx *q, int wi)
{
    qword *w = &q->w[wi];
    for (size_t i = 0; i < q->c.n; i++) {
        for (int ti = 0; ti < w->n; ti++) {
            qterm *t = &w->t[ti];
            uint8_t val[POST_LEN] = { 0 };
            if (t->df == 0)
                continue;
            if (q->work >= KN_SEARCH_WORK_MAX) {
                q->truncated = true;
                return 0;
            }
            q->work++;
            docno_put(val, q->c.docno[i]);
            MDB_val k = { t->len, t->s }, v = { POST_LEN, val };
            int rc = mdb_cursor_get(q->terms, &k, &v, MDB_GET_BOTH_RANGE);
            if (rc == MDB_NOTFOUND)
                continue;
            if (rc)
                return kn_store_mdb_err(rc);
            uint64_t d;
            uint16_t wtf;
            if (v.mv_size != POST_LEN)
                return KN_ECORRUPT;
            posting_parse(&v, &d, &wtf);
            if (d == q->c.docno[i])
                cand_mark(q, (long)i, wi, ti, wtf);
        }
    }
    return 0;
}

static int cmp_word_df(const void *a, const void *b, const qctx *q)
{
    uint64_t x = q->w[*(const int *)a].df, y = q->w[*(const int *)b].df;
    return x < y ? -1 : x > y;
}

/* The word indexes in order of increasing postings (insertion sort: at most 18). */
static void order_words(const qctx *q, int order[WORDS_ALL])
{
    for (int i = 0; i < q->nw; i++) {
        int j = i;
        order[i] = i;
        while (j > 0 && cmp_word_df(&order[j - 1], &order[j], q) > 0) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
            j--;
        }
    }
}

/*
 * Every word (AND): the rarest word's postings give the candidates; each
 * further word, rarest first, keeps those that have it, by reading its
 * postings or by looking each candidate up, whichever reads less.
 */
static int match_all(qctx *q)
{
    int order[WORDS_ALL], rc;
    order_words(q, order);
    if (q->w[order[0]].df == 0)
        return 0;
    if ((rc = scan_word(q, order[0], true, KN_SEARCH_SCAN_MAX)) < 0)
        return rc;
    for (int k = 1; k < q->nw && q->c.n > 0; k++) {
        int wi = order[k];
        qword *w = &q->w[wi];
        if (w->df == 0) {
            q->c.n = 0;
            break;
        }
        if ((uint64_t)q->c.n * (uint64_t)w->n <= w->df)
            rc = probe_word(q, wi);
        else
            rc = scan_word(q, wi, false, UINT64_MAX);
        if (rc < 0)
            return rc;
        cands_keep(&q->c, 1u << wi);
    }
    return 0;
}

/*
 * The fallback when no object has every word: any word counts (OR), each
 * word's newest postings shared out under KN_SEARCH_SCAN_MAX; the filters
 * still must match.
 */
static int match_any(qctx *q)
{
    int rc;
    uint64_t per_word = KN_SEARCH_SCAN_MAX / (uint64_t)q->nreal;
    for (int wi = 0; wi < q->nreal; wi++)
        if ((rc = scan_word(q, wi, true, per_word)) < 0)
            return rc;
    for (int wi = q->nreal; wi < q->nw; wi++) {
        if ((rc = probe_word(q, wi)) < 0)
            return rc;
        cands_keep(&q->c, 1u << wi);
    }
    return 0;
}

/* Whether a user object's certificate is revoked (revoked users leave the expert directory). */
static int user_revoked(qctx *q, const uint8_t id[KN_ID], bool *revoked)
{
    kn_object o;
    const uint8_t *key;
    uint32_t kl;
    MDB_val v;
    *revoked = false;
    int rc = kn_store_load(q->s, q->txn, q->s->db.objects, id, &o);
    if (rc < 0)
        return rc == KN_ENOTFOUND ? 0 : rc;
    if (kn_object_bin(&o, "key", &key, &kl) < 0 || kl != KN_KEY)
        return 0;
    if ((rc = mget(q->txn, q->s->db.users, key, KN_KEY, &v)) < 0)
        return rc == KN_ENOTFOUND ? 0 : rc;
    if (v.mv_size >= KN_KEY + KN_ID + 8)
        *revoked = kn_be64_get((const uint8_t *)v.mv_data + KN_KEY + KN_ID) != KN_NEVER;
    return 0;
}

/* Scores the candidates that pass the filters and the version rule into *out. */
static int rank(qctx *q, const kn_search_query *sq, uint32_t need, hit_rank **out, size_t *nout)
{
    MDB_cursor *dc = NULL;
    hit_rank *h = NULL;
    size_t n = 0;
    int rc = 0;

    *out = NULL;
    *nout = 0;
    if (q->c.n == 0)
        return 0;
    if (!(h = malloc(q->c.n * sizeof *h)))
        return KN_ENOMEM;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(q->txn, q->s->db.search_docs, &dc))) < 0)
        goto out;
    /*
     * Backwards: candidates were found newest first, so this visits docnos in
     * rising order, and the cursor finds most of them on the page it is on.
     */
    for (size_t ii = q->c.n; ii-- > 0;) {
        size_t i = ii;
        uint8_t key[DOCNO_LEN];
        if ((q->c.mask[i] & need) != need)
            continue;
        docno_put(key, q->c.docno[i]);
        MDB_val k = { DOCNO_LEN, key }, v;
        if ((rc = kn_store_mdb_err(mdb_cursor_get(dc, &k, &v, MDB_SET_KEY))) < 0) {
            rc = rc == KN_ENOTFOUND ? KN_ECORRUPT : rc;
            goto out;
        }
        if (v.mv_size != DOC_REC) {
            rc = KN_ECORRUPT;
            goto out;
        }
        const uint8_t *p = v.mv_data;
        uint64_t created = kn_be64_get(p + DOC_CREATED);
        kn_otype type = (kn_otype)p[DOC_TYPE];
        unsigned newer = (unsigned)p[DOC_NEWER] << 8 | p[DOC_NEWER + 1];
        const uint8_t *d = p + DOC_DL;
        double dl
            = (double)((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3]);
        if (newer > 0 || (sq->type && type != sq->type) || created < sq->since_ms
            || (sq->until_ms && created >= sq->until_ms))
            continue;
        if (type == KN_T_USER) {
            bool revoked;
            uint8_t id[KN_ID];
            memcpy(id, p, KN_ID);
            if ((rc = user_revoked(q, id, &revoked)) < 0)
                goto out;
            if (revoked)
                continue;
        }
        hit_rank *x = &h[n++];
        x->docno = q->c.docno[i];
        x->created = created;
        x->type = type;
        memcpy(x->id, p, KN_ID);
        x->mask = q->c.mask[i];
        x->nmatched = 0;
        x->score = 0;
        double norm = BM25_K1 * (1.0 - BM25_B + BM25_B * (q->avgdl > 0 ? dl / q->avgdl : 1.0));
        for (int wi = 0; wi < q->nreal; wi++) {
            uint32_t b = q->c.best[i * q->c.nw + (size_t)wi];
            if (!b)
                continue;
            const qterm *t = &q->w[wi].t[(b >> 16) - 1];
            double tf = (b & 0xffff) / 2.0;
            x->score += t->weight * t->idf * tf * (BM25_K1 + 1.0) / (tf + norm);
            x->nmatched++;
        }
    }
    *out = h;
    *nout = n;
    h = NULL;
out:
    mdb_cursor_close(dc);
    free(h);
    return rc;
}

static int cmp_hits(const void *a, const void *b)
{
    const hit_rank *x = a, *y = b;
    if (x->nmatched != y->nmatched)
        return x->nmatched > y->nmatched ? -1 : 1;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->created != y->created)
        return x->created > y->created ? -1 : 1;
    return memcmp(x->id, y->id, KN_ID);
}

static void hit_swap(hit_rank *a, hit_rank *b)
{
    hit_rank t = *a;
    *a = *b;
    *b = t;
}

/* Restores the heap below i: every parent ranks after (is worse than) its children. */
static void heap_down(hit_rank *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && cmp_hits(&h[l], &h[w]) > 0)
            w = l;
        if (r < n && cmp_hits(&h[r], &h[w]) > 0)
            w = r;
        if (w == i)
            return;
        hit_swap(&h[i], &h[w]);
        i = w;
    }
}

/*
 * Moves the k best of h[0..n) to the front, best first, in O(n log k): only
 * the page of hits shown needs an order, and a common word has tens of
 * thousands. Returns how many there are (min(n, k)).
 */
static size_t top_hits(hit_rank *h, size_t n, size_t k)
{
    if (k > n)
        k = n;
    for (size_t i = k / 2; i-- > 0;) /* a heap of the first k, worst at the root */
        heap_down(h, k, i);
    for (size_t i = k; i < n; i++)
        if (k && cmp_hits(&h[i], &h[0]) < 0) {
            hit_swap(&h[i], &h[0]);
            heap_down(h, k, 0);
        }
    if (k > 1)
        qsort(h, k, sizeof *h, cmp_hits);
    return k;
}

/* Copies text into out (cap bytes with the NUL), control characters as spaces, cut whole. */
static void clean_copy(char *out, size_t cap, const char *text, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap;) {
        uint8_t c = (uint8_t)text[i];
        size_t l = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (i + l > len || o + l + 1 > cap)
            break;
        if (c < 0x20 || c == 0x7f) {
            if (o == 0 || out[o - 1] != ' ')
                out[o++] = ' ';
        } else {
            memcpy(out + o, text + i, l);
            o += l;
        }
        i += l;
    }
    out[o] = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether a token of the hit's text is one the query looked for. */
static int token_matches(qctx *q, const kn_token *tok, bool *match)
{
    kn_term terms[2];
    *match = false;
    int n = kn_analyzer_terms(q->st->an, tok, KN_LANG_ANY, terms);
    if (n < 0)
        return n;
    for (int i = 0; i < n && !*match; i++) {
        const char *key = terms[i].s;
        *match = bsearch(&key, q->snip, q->nsnip, sizeof *q->snip, cmp_str) != NULL;
    }
    return 0;
}

/* Back to the start of the character that contains byte i. */
static size_t char_start(const char *s, size_t i)
{
    while (i > 0 && ((uint8_t)s[i] & 0xc0) == 0x80)
        i--;
    return i;
}

/*
 * A snippet of the first of body, description, place and role that has a
 * query word, around that word; else the start of the first that exists.
 */
static int make_snippet(qctx *q, const kn_object *o, char *out, size_t cap)
{
    static const char *const fields[] = { "body", "description", "place", "role" };
    const char *first = NULL, *s;
    uint32_t firstlen = 0, n;
    enum { BEFORE = 60, TOKENS_MAX = 5000 };

    out[0] = 0;
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        if (kn_object_str(o, fields[f], &s, &n) < 0 || n == 0)
            continue;
        if (!first) {
            first = s;
            firstlen = n;
        }
        kn_tokenizer tk;
        kn_token tok;
        kn_tokenizer_init(&tk, s, n);
        for (int seen = 0; seen < TOKENS_MAX && kn_tokenizer_next(&tk, &tok); seen++) {
            bool m;
            int rc = token_matches(q, &tok, &m);
            if (rc < 0)
                return rc;
            if (!m)
                continue;
            size_t start = tok.start > BEFORE ? char_start(s, tok.start - BEFORE) : 0;
            if (start > 0) { /* begin at a word if one starts close by */
                for (size_t j = start; j < tok.start && j < start + 20; j++)
                    if (s[j] == ' ' || s[j] == '\n') {
                        start = j + 1;
                        break;
                    }
            }
            size_t o2 = 0;
            if (start > 0) {
                memcpy(out, "\xe2\x80\xa6", 3);
                o2 = 3;
            }
            size_t room = cap - o2 - 4; /* the closing ellipsis and the NUL */
            clean_copy(out + o2, room + 1, s + start, n - start);
            if (start + strlen(out + o2) < n)
                strcat(out, "\xe2\x80\xa6");
            return 0;
        }
    }
    if (first) {
        clean_copy(out, cap - 3, first, firstlen);
        if (strlen(out) < firstlen)
            strcat(out, "\xe2\x80\xa6");
    }
    return 0;
}

/* The title of a hit: title, question or name; for a post its thread's title after "Re: ". */
static void make_title(qctx *q, const kn_object *o, char *out, size_t cap)
{
    const char *s;
    uint32_t n;
    out[0] = 0;
    if (kn_object_str(o, "title", &s, &n) == 0 || kn_object_str(o, "question", &s, &n) == 0
        || kn_object_str(o, "name", &s, &n) == 0) {
        clean_copy(out, cap, s, n);
        return;
    }
    if (o->type == KN_T_POST && o->nrefs >= 1) {
        kn_object t;
        if (kn_store_load(q->s, q->txn, q->s->db.objects, o->refs[0], &t) == 0
            && kn_object_str(&t, "title", &s, &n) == 0) {
            memcpy(out, "Re: ", 4);
            clean_copy(out + 4, cap - 4, s, n);
        }
    }
}

static int fill_hit(qctx *q, const hit_rank *h, kn_search_hit *hit)
{
    kn_object o;
    int rc = kn_store_load(q->s, q->txn, q->s->db.objects, h->id, &o);
    if (rc < 0)
        return rc == KN_ENOTFOUND ? KN_ECORRUPT : rc; /* the index names an object not stored */
    memset(hit, 0, sizeof *hit);
    memcpy(hit->id, h->id, KN_ID);
    hit->type = h->type;
    hit->created = h->created;
    hit->score = h->score;
    hit->matched = h->mask & ((1u << q->nreal) - 1);
    memcpy(hit->author, o.author, KN_KEY);
    memcpy(hit->space, o.space, o.space_len);
    hit->space[o.space_len] = 0;
    make_title(q, &o, hit->title, sizeof hit->title);
    if ((rc = make_snippet(q, &o, hit->snippet, sizeof hit->snippet)) < 0)
        return rc;
    return council_of(q->s, q->txn, hit->author, hit->council);
}

static int snip_terms(qctx *q)
{
    size_t n = 0;
    for (int i = 0; i < q->nreal; i++)
        n += (size_t)q->w[i].n;
    if (!(q->snip = malloc((n ? n : 1) * sizeof *q->snip)))
        return KN_ENOMEM;
    for (int i = 0; i < q->nreal; i++)
        for (int j = 0; j < q->w[i].n; j++)
            q->snip[q->nsnip++] = q->w[i].t[j].s; /* NUL-terminated: qterms are zeroed */
    qsort(q->snip, q->nsnip, sizeof *q->snip, cmp_str);
    return 0;
}

int kn_store_search(kn_store *s, const kn_search_query *sq, kn_search_result *r)
{
    qctx q;
    hit_rank *hits = NULL;
    size_t nhits = 0;
    uint32_t limit;
    int rc;

    if (r)
        memset(r, 0, sizeof *r);
    if (!s || !sq || !r || !sq->text)
        return KN_EINVAL;
    if ((unsigned)sq->type >= KN_T_MAX || (sq->type && !fields_of(sq->type)))
        return KN_EINVAL;
    limit = sq->limit ? sq->limit : KN_SEARCH_LIMIT_DEFAULT;
    if (limit > KN_SEARCH_LIMIT_MAX)
        return KN_EINVAL;
    memset(&q, 0, sizeof q);
    q.s = s;
    if ((rc = state_get(s, &q.st)) < 0)
        return rc;
    if ((rc = kn_store_read_begin(s, &q.txn)) < 0)
        return rc;
    if ((rc = kn_store_mdb_err(mdb_cursor_open(q.txn, s->db.search_terms, &q.terms))) < 0)
        goto out;
    {
        MDB_val v;
        rc = mget(q.txn, s->db.meta, "search_stats", 12, &v);
        if (rc == 0 && v.mv_size == STATS_REC) {
            q.ndocs = kn_be64_get(v.mv_data);
            uint64_t total = kn_be64_get((const uint8_t *)v.mv_data + 8);
            q.avgdl = q.ndocs ? (double)total / (double)q.ndocs : 0;
        } else if (rc < 0 && rc != KN_ENOTFOUND) {
            goto out;
        }
    }
    if ((rc = parse_query(&q, sq, r)) < 0)
        goto out;
    if ((rc = cands_init(&q.c, (size_t)q.nw)) < 0)
        goto out;
    uint32_t all = (1u << q.nw) - 1;
    if ((rc = match_all(&q)) < 0 || (rc = rank(&q, sq, all, &hits, &nhits)) < 0)
        goto out;
    if (nhits == 0 && q.nreal > 1) {
        uint32_t filters = all & ~((1u << q.nreal) - 1);
        cands_reset(&q.c);
        free(hits);
        hits = NULL;
        if ((rc = match_any(&q)) < 0 || (rc = rank(&q, sq, filters, &hits, &nhits)) < 0)
            goto out;
        r->fallback = nhits > 0;
    }
    size_t n = top_hits(hits, nhits, limit);
    r->total = nhits;
    r->truncated = q.truncated;
    if (n > 0) {
        if (!(r->hits = calloc(n, sizeof *r->hits))) {
            rc = KN_ENOMEM;
            goto out;
        }
        if ((rc = snip_terms(&q)) < 0)
            goto out;
        for (size_t i = 0; i < n; i++) {
            if ((rc = fill_hit(&q, &hits[i], &r->hits[i])) < 0)
                goto out;
            r->n++;
        }
    }
    rc = 0;
out:
    mdb_cursor_close(q.terms);
    mdb_txn_abort(q.txn);
    for (int i = 0; i < WORDS_ALL; i++)
        free(q.w[i].t);
    cands_free(&q.c);
    free(q.snip);
    free(hits);
    if (rc < 0)
        kn_search_result_free(r);
    return rc;
}

void kn_search_result_free(kn_search_result *r)
{
    if (!r)
        return;
    free(r->hits);
    r->hits = NULL;
    r->n = 0;
}

int kn_store_search_stats(kn_store *s, kn_search_stats *st)
{
    MDB_txn *txn;
    MDB_stat ms;
    MDB_val v;
    int rc;

    if (!s || !st)
        return KN_EINVAL;
    memset(st, 0, sizeof *st);
    if ((rc = kn_store_read_begin(s, &txn)) < 0)
        return rc;
    if ((rc = kn_store_mdb_err(mdb_stat(txn, s->db.search_docs, &ms))) < 0)
        goto out;
    st->docs = ms.ms_entries;
    if ((rc = kn_store_mdb_err(mdb_stat(txn, s->db.search_terms, &ms))) < 0)
        goto out;
    st->postings = ms.ms_entries;
    rc = mget(txn, s->db.meta, "search_fill", 11, &v);
    st->complete = rc == KN_ENOTFOUND;
    rc = rc == KN_ENOTFOUND || rc == 0 ? 0 : rc;
out:
    mdb_txn_abort(txn);
    return rc;
}
