/*
 * Text analysis for the search index (analysis.h): tokeniser, folding, stop
 * words, stemming with a small cache, query variants, fingerprint.
 */
#include <libstemmer.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"

enum {
    /* Stems of recent tokens, direct-mapped: words repeat (Zipf), and a stem costs ~0.2-0.4 us. */
    STEM_CACHE = 4096,
    STEM_CACHE_WORD = KN_TOKEN_MAX + 1, /* every token (a cut one too) can be cached */
};

typedef struct stem_slot {
    uint8_t klen, dlen, elen; /* klen 0: empty */
    bool stop; /* a stop word: no stems */
    char key[STEM_CACHE_WORD];
    char de[STEM_CACHE_WORD];
    char en[STEM_CACHE_WORD];
} stem_slot;

struct kn_analyzer {
    struct sb_stemmer *de, *en;
    stem_slot *cache; /* STEM_CACHE slots, allocated on first use */
};

/*
 * German and English function words, folded (no umlauts, ß as ss), sorted
 * bytewise for bsearch. Words that are also common content words in the
 * other language are left out ("war", "man", "bin", "will", "it" as in IT).
 */
static const char *const stopwords[] = {
    "aber",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "alle",
    "allem",
    "allen",
    "aller",
    "alles",
    "als",
    "also",
    "am",
    "an",
    "and",
    "ander",
    "andere",
    "anderem",
    "anderen",
    "anderer",
    "anderes",
    "anderm",
    "andern",
    "anders",
    "any",
    "are",
    "as",
    "at",
    "auch",
    "auf",
    "aus",
    "be",
    "because",
    "been",
    "before",
    "bei",
    "being",
    "below",
    "between",
    "bis",
    "bist",
    "both",
    "but",
    "by",
    "can",
    "could",
    "da",
    "damit",
    "dann",
    "das",
    "dass",
    "dasselbe",
    "dazu",
    "dein",
    "deine",
    "deinem",
    "deinen",
    "deiner",
    "dem",
    "demselben",
    "den",
    "denn",
    "denselben",
    "der",
    "derer",
    "derselbe",
    "derselben",
    "des",
    "desselben",
    "dessen",
    "dich",
    "did",
    "die",
    "dies",
    "diese",
    "dieselbe",
    "dieselben",
    "diesem",
    "diesen",
    "dieser",
    "dieses",
    "dir",
    "do",
    "doch",
    "does",
    "doing",
    "dort",
    "down",
    "du",
    "durch",
    "during",
    "each",
    "ein",
    "eine",
    "einem",
    "einen",
    "einer",
    "eines",
    "einig",
    "einige",
    "einigem",
    "einigen",
    "einiger",
    "einiges",
    "einmal",
    "er",
    "es",
    "etwas",
    "euch",
    "euer",
    "eure",
    "eurem",
    "euren",
    "eurer",
    "eures",
    "few",
    "for",
    "from",
    "fur",
    "further",
    "gegen",
    "gewesen",
    "hab",
    "habe",
    "haben",
    "had",
    "has",
    "hat",
    "hatte",
    "hatten",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "hier",
    "him",
    "himself",
    "hin",
    "hinter",
    "his",
    "how",
    "ich",
    "if",
    "ihm",
    "ihn",
    "ihnen",
    "ihr",
    "ihre",
    "ihrem",
    "ihren",
    "ihrer",
    "ihres",
    "im",
    "in",
    "indem",
    "ins",
    "into",
    "is",
    "ist",
    "its",
    "itself",
    "jede",
    "jedem",
    "jeden",
    "jeder",
    "jedes",
    "jene",
    "jenem",
    "jenen",
    "jener",
    "jenes",
    "jetzt",
    "just",
    "kann",
    "kein",
    "keine",
    "keinem",
    "keinen",
    "keiner",
    "keines",
    "konnen",
    "konnte",
    "manche",
    "manchem",
    "manchen",
    "mancher",
    "manches",
    "me",
    "mein",
    "meine",
    "meinem",
    "meinen",
    "meiner",
    "meines",
    "mich",
    "mir",
    "mit",
    "more",
    "most",
    "muss",
    "musste",
    "my",
    "myself",
    "nach",
    "nicht",
    "nichts",
    "no",
    "noch",
    "nor",
    "not",
    "now",
    "nun",
    "nur",
    "ob",
    "oder",
    "of",
    "off",
    "ohne",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "sehr",
    "sein",
    "seine",
    "seinem",
    "seinen",
    "seiner",
    "seines",
    "selbst",
    "she",
    "should",
    "sich",
    "sie",
    "sind",
    "so",
    "solche",
    "solchem",
    "solchen",
    "solcher",
    "solches",
    "soll",
    "sollte",
    "some",
    "sondern",
    "sonst",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "uber",
    "um",
    "und",
    "under",
    "uns",
    "unser",
    "unsere",
    "unserem",
    "unseren",
    "unseres",
    "unter",
    "until",
    "up",
    "very",
    "viel",
    "vom",
    "von",
    "vor",
    "wahrend",
    "waren",
    "warst",
    "was",
    "we",
    "weil",
    "welche",
    "welchem",
    "welchen",
    "welcher",
    "welches",
    "wenn",
    "werde",
    "werden",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "wie",
    "wieder",
    "wir",
    "wird",
    "wirst",
    "with",
    "wo",
    "wollen",
    "wollte",
    "would",
    "wurde",
    "wurden",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "zu",
    "zum",
    "zur",
    "zwar",
    "zwischen",
};

enum { NSTOP = sizeof stopwords / sizeof stopwords[0] };

/* ---- UTF-8 ---- */

/*
 * Decodes one code point at p[0..n): returns its length and sets *cp, or
 * returns 1 with *cp = -1 for a byte that does not start a valid sequence
 * (overlong forms, surrogates and values above U+10FFFF included).
 */
static size_t utf8_decode(const uint8_t *p, size_t n, int32_t *cp)
{
    uint8_t b = p[0];
    size_t len;
    int32_t c, min;

    *cp = -1;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2;
        c = b & 0x1f;
        min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        c = b & 0x0f;
        min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        c = b & 0x07;
        min = 0x10000;
    } else {
        return 1;
    }
    if (n < len)
        return 1;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 1;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 1;
    *cp = c;
    return len;
}

static size_t utf8_encode(int32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

bool kn_analysis_utf8_valid(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < len;) {
        int32_t c;
        i += utf8_decode(p + i, len - i, &c);
        if (c < 0)
            return false;
    }
    return true;
}

/* Windows-1252 0x80..0x9F; 0 where the code page has no character (read as a space). */
static const uint16_t cp1252_high[32] = { 0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
    0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0, 0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178 };

int kn_analysis_file_text(const uint8_t *in, size_t len, char **out, size_t *outlen)
{
    char *o;
    size_t n = 0;

    *out = NULL;
    *outlen = 0;
    /* UTF-8, perhaps with the last character cut off by the caller's bound. */
    for (size_t cut = 0; cut < 4 && cut <= len; cut++) {
        if (!kn_analysis_utf8_valid((const char *)in, len - cut))
            continue;
        if (!(o = malloc(len - cut + 1)))
            return KN_ENOMEM;
        memcpy(o, in, len - cut);
        *out = o;
        *outlen = len - cut;
        return 0;
    }
    if (len > (SIZE_MAX - 1) / 3 || !(o = malloc(3 * len + 1)))
        return KN_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        int32_t c = in[i];
        if (c >= 0x80 && c < 0xa0)
            c = cp1252_high[c - 0x80] ? cp1252_high[c - 0x80] : ' ';
        n += utf8_encode(c, o + n);
    }
    *out = o;
    *outlen = n;
    return 0;
}

/* ---- classes and folding ---- */

enum cls { SEP, WORD, IGNORE };

/*
 * What a code point is to the tokeniser: part of a word, a separator, or
 * ignorable inside a word (combining marks, soft hyphen, joiners, variation
 * selectors). Coarse by block, exact where European text needs it.
 */
static enum cls classify(int32_t c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ? WORD
                                                                                          : SEP;
    if (c < 0xc0)
        return c == 0xad ? IGNORE : SEP; /* Latin-1 punctuation, symbols, NBSP; soft hyphen */
    if (c < 0x250)
        return c == 0xd7 || c == 0xf7 ? SEP : WORD; /* × ÷ */
    if (c < 0x2b0)
        return WORD; /* IPA */
    if (c < 0x300)
        return SEP; /* spacing modifiers: ʼ ˆ ˜ ... */
    if (c < 0x370)
        return IGNORE; /* combining diacritical marks */
    if (c < 0x400)
        return c == 0x37e || c == 0x384 || c == 0x385 || c == 0x387 || c == 0x375 ? SEP : WORD;
    if (c < 0x530) {
        if (c >= 0x483 && c <= 0x489)
            return IGNORE;
        return c == 0x482 ? SEP : WORD;
    }
    if ((c >= 0x1ab0 && c <= 0x1aff) || (c >= 0x1dc0 && c <= 0x1dff))
        return IGNORE;
    if (c < 0x2000)
        return WORD;
    if (c == 0x200c || c == 0x200d || c == 0x2060)
        return IGNORE;
    if (c < 0x2c00)
        return SEP; /* general punctuation, symbols, arrows, maths, boxes ... */
    if (c < 0x2e00)
        return WORD;
    if (c < 0x2e80)
        return SEP;
    if (c < 0x3000)
        return WORD;
    if (c < 0x3040)
        return SEP; /* CJK punctuation */
    if (c < 0xd800)
        return WORD;
    if (c < 0xf900)
        return SEP; /* private use */
    if (c < 0xfb50)
        return WORD;
    if (c >= 0xfe00 && c <= 0xfe0f)
        return IGNORE;
    if (c >= 0xfe20 && c <= 0xfe2f)
        return IGNORE;
    if (c < 0xff00)
        return c >= 0xfe10 ? SEP : WORD;
    if (c < 0xfff0) /* full-width ASCII digits and letters are words, the rest punctuation */
        return (c >= 0xff10 && c <= 0xff19) || (c >= 0xff21 && c <= 0xff3a)
                || (c >= 0xff41 && c <= 0xff5a) || (c >= 0xff66 && c <= 0xffdc)
            ? WORD
            : SEP;
    if (c < 0x10000)
        return SEP;
    if (c >= 0x1f000 && c <= 0x1faff)
        return SEP; /* emoji and pictographs */
    if (c >= 0xe0000 && c <= 0xe01ef)
        return IGNORE; /* tags, variation selectors */
    if (c >= 0xf0000)
        return SEP; /* private use */
    return WORD;
}

/* Base letters of U+00C0..U+00FF; '*' marks the two separators (× ÷), handled before. */
static const char latin1[] = "aaaaaaeceeeeiiiidnooooo*ouuuuyts"
                             "aaaaaaeceeeeiiiidnooooo*ouuuuyty";

/* Base letters of U+0100..U+017F, as ranges. */
static const struct {
    uint16_t lo, hi;
    char base[3];
} latin_ext[] = {
    { 0x100, 0x105, "a" },
    { 0x106, 0x10d, "c" },
    { 0x10e, 0x111, "d" },
    { 0x112, 0x11b, "e" },
    { 0x11c, 0x123, "g" },
    { 0x124, 0x127, "h" },
    { 0x128, 0x131, "i" },
    { 0x132, 0x133, "ij" },
    { 0x134, 0x135, "j" },
    { 0x136, 0x138, "k" },
    { 0x139, 0x142, "l" },
    { 0x143, 0x14b, "n" },
    { 0x14c, 0x151, "o" },
    { 0x152, 0x153, "oe" },
    { 0x154, 0x159, "r" },
    { 0x15a, 0x161, "s" },
    { 0x162, 0x167, "t" },
    { 0x168, 0x173, "u" },
    { 0x174, 0x175, "w" },
    { 0x176, 0x178, "y" },
    { 0x179, 0x17e, "z" },
    { 0x17f, 0x17f, "s" },
    /* a few of Latin Extended-B: Romanian comma letters, pinyin tone letters */
    { 0x1cd, 0x1ce, "a" },
    { 0x1cf, 0x1d0, "i" },
    { 0x1d1, 0x1d2, "o" },
    { 0x1d3, 0x1dc, "u" },
    { 0x218, 0x219, "s" },
    { 0x21a, 0x21b, "t" },
};

/* How ä ö ü (either case) are written: as a, o, u, or as ae, oe, ue (a query variant). */
enum fold_mode { FOLD_PLAIN, FOLD_DIGRAPH };

/*
 * Writes the folded form of word character c to out (at most 4 bytes):
 * lower case, accents removed, ß as "ss". Returns its length.
 */
static size_t fold_char(int32_t c, enum fold_mode mode, char out[4])
{
    if (c < 0x80) {
        out[0] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        return 1;
    }
    if (c >= 0xc0 && c <= 0xff) {
        int lc = c | 0x20; /* the lower-case twin of an upper-case letter */
        if (c == 0xdf) {
            memcpy(out, "ss", 2);
            return 2;
        }
        if (c == 0xc6 || c == 0xe6) {
            memcpy(out, "ae", 2);
            return 2;
        }
        if (c == 0xde || c == 0xfe) {
            memcpy(out, "th", 2);
            return 2;
        }
        if (mode == FOLD_DIGRAPH && (lc == 0xe4 || lc == 0xf6 || lc == 0xfc)) {
            out[0] = lc == 0xe4 ? 'a' : lc == 0xf6 ? 'o' : 'u';
            out[1] = 'e';
            return 2;
        }
        out[0] = latin1[c - 0xc0];
        return 1;
    }
    if (c >= 0x100 && c <= 0x21b) {
        for (size_t i = 0; i < sizeof latin_ext / sizeof latin_ext[0]; i++)
            if (c >= latin_ext[i].lo && c <= latin_ext[i].hi) {
                size_t n = strlen(latin_ext[i].base);
                memcpy(out, latin_ext[i].base, n);
                return n;
            }
        return utf8_encode(c, out);
    }
    if (c == 0x1e9e) { /* capital sharp s */
        memcpy(out, "ss", 2);
        return 2;
    }
    /* Greek */
    if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2)
        return utf8_encode(c + 0x20, out);
    if (c == 0x3c2) /* final sigma */
        return utf8_encode(0x3c3, out);
    if (c == 0x386)
        return utf8_encode(0x3ac, out);
    if (c >= 0x388 && c <= 0x38a)
        return utf8_encode(c + 0x25, out);
    if (c == 0x38c)
        return utf8_encode(0x3cc, out);
    if (c == 0x38e || c == 0x38f)
        return utf8_encode(c + 0x3f, out);
    /* Cyrillic */
    if (c >= 0x410 && c <= 0x42f)
        return utf8_encode(c + 0x20, out);
    if (c >= 0x400 && c <= 0x40f)
        return utf8_encode(c + 0x50, out);
    /* full-width ASCII */
    if (c >= 0xff10 && c <= 0xff19)
        return fold_char(c - 0xff10 + '0', mode, out);
    if (c >= 0xff21 && c <= 0xff3a)
        return fold_char(c - 0xff21 + 'a', mode, out);
    if (c >= 0xff41 && c <= 0xff5a)
        return fold_char(c - 0xff41 + 'a', mode, out);
    return utf8_encode(c, out);
}

/* ---- tokeniser ---- */

void kn_tokenizer_init(kn_tokenizer *tk, const char *s, size_t len)
{
    tk->p = (const uint8_t *)s;
    tk->len = s ? len : 0;
    tk->pos = 0;
}

/* classify(b) == WORD for an ASCII byte b. */
static inline bool ascii_word(uint8_t b)
{
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
}

/*
 * Reads one token starting at tk->pos (which is at a word character) and
 * folds it with mode into tok. Shared by the tokeniser and the query
 * variants, which fold the same characters differently.
 */
static void read_token(kn_tokenizer *tk, enum fold_mode mode, kn_token *tok)
{
    size_t n = 0;
    bool digits = true, full = false;

    tok->start = tk->pos;
    tok->end = tk->pos;
    while (tk->pos < tk->len) {
        uint8_t b = tk->p[tk->pos];
        if (b < 0x80) {
            /*
             * ASCII, most of most text: what the general path below gives
             * (a letter or digit is WORD and folds to lower case, any other
             * byte is SEP), without decoding, classifying and folding it.
             */
            if (!ascii_word(b))
                break;
            bool digit = b >= '0' && b <= '9', upper = b >= 'A' && b <= 'Z';
            tk->pos++;
            tok->end = tk->pos;
            if (full || n + 1 > KN_TOKEN_MAX) {
                full = true;
                continue;
            }
            digits = digits && digit;
            tok->text[n++] = (char)(upper ? b + 32 : b);
            continue;
        }
        int32_t c;
        size_t l = utf8_decode(tk->p + tk->pos, tk->len - tk->pos, &c);
        enum cls k = c < 0 ? SEP : classify(c);
        if (k == SEP)
            break;
        tk->pos += l;
        if (k == IGNORE)
            continue;
        tok->end = tk->pos;
        char f[4];
        size_t fl = fold_char(c, mode, f);
        if (full || n + fl > KN_TOKEN_MAX) {
            full = true; /* cut at a character boundary; the rest of the word is skipped */
            continue;
        }
        for (size_t i = 0; i < fl; i++)
            if (f[i] < '0' || f[i] > '9')
                digits = false;
        memcpy(tok->text + n, f, fl);
        n += fl;
    }
    tok->text[n] = 0;
    tok->len = n;
    tok->digits = digits && n > 0;
}

bool kn_tokenizer_next(kn_tokenizer *tk, kn_token *tok)
{
    while (tk->pos < tk->len) {
        uint8_t b = tk->p[tk->pos];
        if (b < 0x80 && !ascii_word(b)) { /* an ASCII separator: classify() says so too */
            tk->pos++;
            continue;
        }
        int32_t c;
        size_t l = utf8_decode(tk->p + tk->pos, tk->len - tk->pos, &c);
        if (c >= 0 && classify(c) == WORD) {
            read_token(tk, FOLD_PLAIN, tok);
            if (tok->len > 0)
                return true;
            continue;
        }
        tk->pos += l;
    }
    return false;
}

/* ---- stop words, languages ---- */

static int cmp_stop(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

bool kn_analysis_is_stopword(const char *folded, size_t len)
{
    char w[16];
    if (len < 2 || len >= sizeof w)
        return false;
    memcpy(w, folded, len);
    w[len] = 0;
    return bsearch(w, stopwords, NSTOP, sizeof stopwords[0], cmp_stop) != NULL;
}

bool kn_analysis_indexable(const kn_token *tok)
{
    return tok->len >= 2 && !kn_analysis_is_stopword(tok->text, tok->len);
}

unsigned kn_analysis_langs(const char *tag, size_t len)
{
    if (tag && len >= 2 && (len == 2 || tag[2] == '-' || tag[2] == '_')) {
        char a = (char)(tag[0] | 0x20), b = (char)(tag[1] | 0x20);
        if (a == 'd' && b == 'e')
            return KN_LANG_DE;
        if (a == 'e' && b == 'n')
            return KN_LANG_EN;
    }
    return KN_LANG_ANY;
}

/* ---- stemming ---- */

int kn_analyzer_new(kn_analyzer **out)
{
    kn_analyzer *t = calloc(1, sizeof *t);
    if (!t)
        return KN_ENOMEM;
    t->de = sb_stemmer_new("german", NULL);
    t->en = sb_stemmer_new("english", NULL);
    if (!t->de || !t->en) {
        kn_analyzer_free(t);
        return KN_ECONFIG;
    }
    *out = t;
    return 0;
}

void kn_analyzer_free(kn_analyzer *t)
{
    if (!t)
        return;
    sb_stemmer_delete(t->de);
    sb_stemmer_delete(t->en);
    free(t->cache);
    free(t);
}

/* Stems w with st into out; the stem of a folded token never outgrows the token. */
static int stem_one(struct sb_stemmer *st, const char *w, size_t n, char *out, size_t *outlen)
{
    const sb_symbol *s = sb_stemmer_stem(st, (const sb_symbol *)w, (int)n);
    if (!s)
        return KN_ENOMEM;
    int sl = sb_stemmer_length(st);
    if (sl <= 0 || (size_t)sl > n) { /* never seen; keep the token rather than trust it */
        memcpy(out, w, n);
        *outlen = n;
        return 0;
    }
    memcpy(out, s, (size_t)sl);
    *outlen = (size_t)sl;
    return 0;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/*
 * Both stems of a folded word, through the cache, which also remembers
 * whether it is a stop word (*stop; then de and en are not set).
 */
static int stems(kn_analyzer *t, const char *w, size_t n, bool *stop, kn_term *de, kn_term *en)
{
    stem_slot *slot = NULL;
    size_t dl, el;
    int rc;

    if (n < STEM_CACHE_WORD) {
        if (!t->cache && !(t->cache = calloc(STEM_CACHE, sizeof *t->cache)))
            return KN_ENOMEM;
        slot = &t->cache[fnv1a(0xcbf29ce484222325ull, w, n) % STEM_CACHE];
        if (slot->klen == n && memcmp(slot->key, w, n) == 0) {
            *stop = slot->stop;
            if (slot->stop)
                return 0;
            memcpy(de->s, slot->de, slot->dlen);
            de->s[slot->dlen] = 0;
            de->len = slot->dlen;
            memcpy(en->s, slot->en, slot->elen);
            en->s[slot->elen] = 0;
            en->len = slot->elen;
            return 0;
        }
    }
    *stop = kn_analysis_is_stopword(w, n);
    if (*stop) {
        if (slot) {
            slot->klen = (uint8_t)n;
            memcpy(slot->key, w, n);
            slot->stop = true;
        }
        return 0;
    }
    if ((rc = stem_one(t->de, w, n, de->s, &dl)) < 0
        || (rc = stem_one(t->en, w, n, en->s, &el)) < 0)
        return rc;
    de->s[dl] = 0;
    de->len = (uint8_t)dl;
    en->s[el] = 0;
    en->len = (uint8_t)el;
    if (slot) {
        slot->klen = (uint8_t)n;
        memcpy(slot->key, w, n);
        slot->stop = false;
        slot->dlen = (uint8_t)dl;
        memcpy(slot->de, de->s, dl);
        slot->elen = (uint8_t)el;
        memcpy(slot->en, en->s, el);
    }
    return 0;
}

static bool term_eq(const kn_term *a, const kn_term *b)
{
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* Appends term to out[*n] unless it is there already. */
static void add_term(kn_term *out, int *n, const kn_term *term)
{
    for (int i = 0; i < *n; i++)
        if (term_eq(&out[i], term))
            return;
    out[(*n)++] = *term;
}

/* The terms of a folded word of >= 2 bytes for langs; none for a stop word. */
static int word_terms(
    kn_analyzer *t, const char *w, size_t n, bool digits, unsigned langs, kn_term *out, int *count)
{
    kn_term de, en;
    bool stop;
    int rc;

    if (digits) {
        memcpy(de.s, w, n);
        de.s[n] = 0;
        de.len = (uint8_t)n;
        add_term(out, count, &de);
        return 0;
    }
    if ((rc = stems(t, w, n, &stop, &de, &en)) < 0 || stop)
        return rc;
    if (langs & KN_LANG_DE)
        add_term(out, count, &de);
    if (langs & KN_LANG_EN)
        add_term(out, count, &en);
    return 0;
}

int kn_analyzer_terms(kn_analyzer *t, const kn_token *tok, unsigned langs, kn_term out[2])
{
    int n = 0, rc;
    if (tok->len < 2) /* stop words: word_terms, through the stem cache */
        return 0;
    if (!(langs & KN_LANG_ANY))
        langs = KN_LANG_ANY;
    if ((rc = word_terms(t, tok->text, tok->len, tok->digits, langs, out, &n)) < 0)
        return rc;
    return n;
}

/*
 * The plain fold with "ae", "oe" and "ue" read as transliterated umlauts
 * (a, o, u, as the plain fold writes ä, ö, ü) unless they follow a vowel or
 * q, where they rarely are ("Steuer", "Bauer", "Quelle"). Returns false if
 * nothing changed.
 */
static bool undigraph(const char *in, size_t n, char *out, size_t *outlen)
{
    size_t o = 0;
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if ((c == 'a' || c == 'o' || c == 'u') && i + 1 < n && in[i + 1] == 'e'
            && !(i > 0 && strchr("aeiouq", in[i - 1]))) {
            out[o++] = c;
            i++;
            changed = true;
            continue;
        }
        out[o++] = c;
    }
    out[o] = 0;
    *outlen = o;
    return changed;
}

int kn_analyzer_query_terms(
    kn_analyzer *t, const kn_token *tok, const char *raw, kn_term out[KN_QUERY_TERMS])
{
    char alt[KN_TOKEN_MAX + 1];
    size_t alen;
    int n = 0, rc;

    if (!kn_analysis_indexable(tok))
        return 0;
    if ((rc = word_terms(t, tok->text, tok->len, tok->digits, KN_LANG_ANY, out, &n)) < 0)
        return rc;
    if (tok->digits)
        return n;
    /* "Ärzte" as "aerzte", for text that writes umlauts as digraphs. */
    kn_tokenizer tk;
    kn_token dg;
    kn_tokenizer_init(&tk, raw + tok->start, tok->end - tok->start);
    read_token(&tk, FOLD_DIGRAPH, &dg);
    if (dg.len != tok->len || memcmp(dg.text, tok->text, tok->len) != 0)
        if ((rc = word_terms(t, dg.text, dg.len, false, KN_LANG_ANY, out, &n)) < 0)
            return rc;
    /* "Aerzte" as "arzte", for text that has the umlauts. */
    if (undigraph(tok->text, tok->len, alt, &alen) && alen >= 2
        && !kn_analysis_is_stopword(alt, alen))
        if ((rc = word_terms(t, alt, alen, false, KN_LANG_ANY, out, &n)) < 0)
            return rc;
    return n;
}

/* Words whose stems pin down the stemmers' behaviour for kn_analyzer_fingerprint. */
static const char *const probes[] = { "gewerbesteuern", "bescheide", "strasse", "arzte", "hauser",
    "verordnungen", "kommunen", "gemeinden", "offentlichen", "vergabe", "beschlusse", "satzungen",
    "anderungen", "zustandigkeit", "ausschreibungen", "kindergarten", "meldungen", "reports",
    "councils", "running", "happily", "generalization", "communities", "procurement", "regulations",
    "agreed", "hopefully", "studies", "meeting", "conditional" };

int kn_analyzer_fingerprint(kn_analyzer *t, uint64_t *out)
{
    uint64_t h = 0xcbf29ce484222325ull;
    uint32_t v = KN_ANALYSIS_VERSION;
    h = fnv1a(h, &v, sizeof v);
    for (size_t i = 0; i < NSTOP; i++)
        h = fnv1a(h, stopwords[i], strlen(stopwords[i]) + 1);
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        /* Straight to the stemmers: every store open asks, and the cache is allocated on use. */
        char de[KN_TERM_MAX], en[KN_TERM_MAX];
        size_t n = strlen(probes[i]), dl, el;
        int rc = stem_one(t->de, probes[i], n, de, &dl);
        if (rc < 0 || (rc = stem_one(t->en, probes[i], n, en, &el)) < 0)
            return rc;
        h = fnv1a(h, de, dl);
        h = fnv1a(h, "", 1);
        h = fnv1a(h, en, el);
        h = fnv1a(h, "", 1);
    }
    *out = h;
    return 0;
}
