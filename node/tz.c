/*
 * TZif (RFC 8536) and POSIX TZ rules, see tz.h.
 */
#include "tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    TZ_TRANS_MAX = 100000, /* transitions in one file at most */
    TZ_TYPES_MAX = 256,
    TZ_CHARS_MAX = 1024,
    DAY = 86400,
};

typedef struct ttype {
    int32_t utoff;
    bool dst;
    uint8_t abbr; /* index into chars */
} ttype;

/* One end of a POSIX DST rule: Mm.w.d, Jn or n, and the local time of day it happens at. */
typedef struct rule_date {
    char kind; /* 'M', 'J' or 'N' */
    int m, w, d, n;
    int32_t time;
} rule_date;

typedef struct posix_rule {
    char std_abbr[KN_TZ_ABBR_MAX + 1], dst_abbr[KN_TZ_ABBR_MAX + 1];
    int32_t std_utoff, dst_utoff; /* east of UTC */
    bool has_dst;
    rule_date start, end;
} posix_rule;

struct kn_tz {
    size_t ntrans;
    int64_t *trans;
    uint8_t *idx;
    size_t ntypes;
    ttype types[TZ_TYPES_MAX];
    char chars[TZ_CHARS_MAX + 1];
    size_t nchars;
    bool has_rule;
    posix_rule rule;
};

/* ---- civil dates (Howard Hinnant's algorithms) ---- */

int64_t kn_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void kn_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---- POSIX TZ strings ("CET-1CEST,M3.5.0,M10.5.0/3") ---- */

static bool is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A zone abbreviation: three or more letters, or <...> of letters, digits, '+' and '-'. */
static const char *parse_abbr(const char *p, char out[KN_TZ_ABBR_MAX + 1])
{
    size_t n = 0;
    if (*p == '<') {
        p++;
        while (*p && *p != '>') {
            if (!is_alpha(*p) && !is_digit(*p) && *p != '+' && *p != '-')
                return NULL;
            if (n == KN_TZ_ABBR_MAX)
                return NULL;
            out[n++] = *p++;
        }
        if (*p != '>')
            return NULL;
        p++;
    } else {
        while (is_alpha(*p)) {
            if (n == KN_TZ_ABBR_MAX)
                return NULL;
            out[n++] = *p++;
        }
    }
    out[n] = 0;
    return n >= 3 ? p : NULL;
}

static const char *parse_num(const char *p, int lo, int hi, int *v)
{
    int n = 0, digits = 0;
    while (is_digit(*p) && digits < 4) {
        n = n * 10 + (*p++ - '0');
        digits++;
    }
    if (!digits || n < lo || n > hi)
        return NULL;
    *v = n;
    return p;
}

/* [+-]hh[:mm[:ss]], hours up to max_h (24 for offsets, 167 for rule times). */
static const char *parse_hms(const char *p, int max_h, int32_t *secs)
{
    int sign = 1, h, m = 0, s = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!(p = parse_num(p, 0, max_h, &h)))
        return NULL;
    if (*p == ':' && !(p = parse_num(p + 1, 0, 59, &m)))
        return NULL;
    if (p && *p == ':' && !(p = parse_num(p + 1, 0, 59, &s)))
        return NULL;
    *secs = sign * (h * 3600 + m * 60 + s);
    return p;
}

static const char *parse_date(const char *p, rule_date *r)
{
    r->time = 2 * 3600;
    if (*p == 'M') {
        r->kind = 'M';
        if (!(p = parse_num(p + 1, 1, 12, &r->m)) || *p != '.'
            || !(p = parse_num(p + 1, 1, 5, &r->w)) || *p != '.'
            || !(p = parse_num(p + 1, 0, 6, &r->d)))
            return NULL;
    } else if (*p == 'J') {
        r->kind = 'J';
        if (!(p = parse_num(p + 1, 1, 365, &r->n)))
            return NULL;
    } else {
        r->kind = 'N';
        if (!(p = parse_num(p, 0, 365, &r->n)))
            return NULL;
    }
    if (*p == '/' && !(p = parse_hms(p + 1, 167, &r->time)))
        return NULL;
    return p;
}

static int parse_rule(const char *s, posix_rule *r)
{
    const char *p = s;
    int32_t off;
    memset(r, 0, sizeof *r);
    if (!(p = parse_abbr(p, r->std_abbr)) || !(p = parse_hms(p, 24, &off)))
        return KN_ECORRUPT;
    r->std_utoff = -off; /* POSIX counts west of Greenwich */
    if (!*p)
        return 0;
    if (!(p = parse_abbr(p, r->dst_abbr)))
        return KN_ECORRUPT;
    r->has_dst = true;
    r->dst_utoff = r->std_utoff + 3600;
    if (*p && *p != ',') {
        if (!(p = parse_hms(p, 24, &off)))
            return KN_ECORRUPT;
        r->dst_utoff = -off;
    }
    if (!*p) { /* no dates: the US rule POSIX implies */
        r->start = (rule_date) { 'M', 3, 2, 0, 0, 7200 };
        r->end = (rule_date) { 'M', 11, 1, 0, 0, 7200 };
        return 0;
    }
    if (*p != ',' || !(p = parse_date(p + 1, &r->start)) || *p != ','
        || !(p = parse_date(p + 1, &r->end)) || *p)
        return KN_ECORRUPT;
    return 0;
}

/* Days since the epoch of a rule date in year y. */
static int64_t rule_day(const rule_date *r, int64_t y)
{
    if (r->kind == 'J') { /* 1..365, February 29 never counted */
        int n = r->n;
        if (leap(y) && n >= 60)
            n++;
        return kn_days_from_civil(y, 1, 1) + n - 1;
    }
    if (r->kind == 'N')
        return kn_days_from_civil(y, 1, 1) + r->n;
    static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    unsigned len = mdays[r->m - 1] + (r->m == 2 && leap(y));
    int64_t first = kn_days_from_civil(y, (unsigned)r->m, 1);
    int dow = (int)((first % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    int day = 1 + (r->d - dow + 7) % 7 + (r->w - 1) * 7;
    while ((unsigned)day > len)
        day -= 7;
    return first + day - 1;
}

/* The UTC instants at which DST starts and ends in year y. */
static void rule_year(const posix_rule *r, int64_t y, int64_t *start, int64_t *end)
{
    *start = rule_day(&r->start, y) * DAY + r->start.time - r->std_utoff;
    *end = rule_day(&r->end, y) * DAY + r->end.time - r->dst_utoff;
}

static int64_t year_of(int64_t t)
{
    int64_t y;
    unsigned m, d;
    kn_civil_from_days(floor_div(t, DAY), &y, &m, &d);
    return y;
}

static void rule_at(const posix_rule *r, int64_t t, kn_tz_info *info)
{
    bool dst = false;
    if (r->has_dst) {
        int64_t s, e;
        rule_year(r, year_of(t), &s, &e);
        dst = s < e ? (t >= s && t < e) : !(t >= e && t < s);
    }
    info->dst = dst;
    info->utoff = dst ? r->dst_utoff : r->std_utoff;
    snprintf(info->abbr, sizeof info->abbr, "%s", dst ? r->dst_abbr : r->std_abbr);
}

/* ---- TZif ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64s(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzhead {
    uint32_t isut, isstd, leap, time, type, chars;
} tzhead;

static int read_head(const uint8_t *p, size_t left, tzhead *h, int *version)
{
    if (left < 44 || memcmp(p, "TZif", 4) != 0)
        return KN_ECORRUPT;
    *version = p[4] == 0 ? 1 : p[4] >= '2' && p[4] <= '9' ? p[4] - '0' : -1;
    if (*version < 0)
        return KN_ECORRUPT;
    h->isut = be32(p + 20);
    h->isstd = be32(p + 24);
    h->leap = be32(p + 28);
    h->time = be32(p + 32);
    h->type = be32(p + 36);
    h->chars = be32(p + 40);
    if (h->time > TZ_TRANS_MAX || h->type < 1 || h->type > TZ_TYPES_MAX || h->chars < 1
        || h->chars > TZ_CHARS_MAX || h->leap > TZ_TRANS_MAX || (h->isut && h->isut != h->type)
        || (h->isstd && h->isstd != h->type))
        return KN_ECORRUPT;
    return 0;
}

static size_t block_len(const tzhead *h, size_t tsize)
{
    return (size_t)h->time * tsize + h->time + (size_t)h->type * 6 + h->chars
        + (size_t)h->leap * (tsize + 4) + h->isstd + h->isut;
}

int kn_tz_parse(const uint8_t *buf, size_t len, kn_tz **out)
{
    tzhead h;
    int version, rc;
    size_t tsize = 4;
    const uint8_t *p = buf, *end = buf + len;

    *out = NULL;
    if (!buf || (rc = read_head(p, len, &h, &version)) < 0)
        return KN_ECORRUPT;
    if (version >= 2) { /* skip the 32-bit block: the 64-bit one follows */
        size_t skip = 44 + block_len(&h, 4);
        if (skip > len || (rc = read_head(p + skip, len - skip, &h, &version)) < 0)
            return KN_ECORRUPT;
        p += skip;
        tsize = 8;
    }
    p += 44;
    if (block_len(&h, tsize) > (size_t)(end - p))
        return KN_ECORRUPT;
    kn_tz *z = calloc(1, sizeof *z);
    if (!z)
        return KN_ENOMEM;
    z->ntrans = h.time;
    z->ntypes = h.type;
    z->trans = calloc(h.time ? h.time : 1, sizeof *z->trans);
    z->idx = calloc(h.time ? h.time : 1, 1);
    if (!z->trans || !z->idx) {
        kn_tz_free(z);
        return KN_ENOMEM;
    }
    for (size_t i = 0; i < h.time; i++, p += tsize) {
        z->trans[i] = tsize == 8 ? be64s(p) : (int64_t)(int32_t)be32(p);
        if (i && z->trans[i] <= z->trans[i - 1])
            goto bad;
    }
    for (size_t i = 0; i < h.time; i++, p++) {
        if (*p >= h.type)
            goto bad;
        z->idx[i] = *p;
    }
    for (size_t i = 0; i < h.type; i++, p += 6) {
        int32_t off = (int32_t)be32(p);
        if (off < -25 * 3600 || off > 26 * 3600 || p[4] > 1 || p[5] >= h.chars)
            goto bad;
        z->types[i] = (ttype) { off, p[4] == 1, p[5] };
    }
    memcpy(z->chars, p, h.chars);
    z->chars[h.chars] = 0;
    z->chars[h.chars - 1] = 0; /* the last abbreviation is NUL-terminated in the file */
    z->nchars = h.chars;
    p += h.chars + (size_t)h.leap * (tsize + 4) + h.isstd + h.isut;
    if (version >= 2 && p < end && *p == '\n') {
        const uint8_t *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
        char rule[256];
        size_t rl = nl ? (size_t)(nl - p - 1) : 0;
        if (!nl || rl >= sizeof rule)
            goto bad;
        memcpy(rule, p + 1, rl);
        rule[rl] = 0;
        if (rl) {
            if (parse_rule(rule, &z->rule) < 0)
                goto bad;
            z->has_rule = true;
        }
    }
    *out = z;
    return 0;
bad:
    kn_tz_free(z);
    return KN_ECORRUPT;
}

void kn_tz_free(kn_tz *z)
{
    if (!z)
        return;
    free(z->trans);
    free(z->idx);
    free(z);
}

bool kn_tz_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > KN_TZ_NAME_MAX || name[0] == '/' || name[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!is_alpha(c) && !is_digit(c) && c != '/' && c != '_' && c != '+' && c != '-'
            && c != '.')
            return false;
        /* no "." or ".." component, no empty component */
        if ((i == 0 || name[i - 1] == '/') && (c == '.' || c == '/'))
            return false;
    }
    return name[n - 1] != '/';
}

int kn_tz_load(const char *name, kn_tz **out)
{
    char path[512];
    const char *dir = getenv("TZDIR");
    *out = NULL;
    if (!kn_tz_name_valid(name))
        return KN_EINVAL;
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return KN_EINVAL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT || errno == ENOTDIR || errno == EISDIR ? KN_ENOTFOUND : KN_EIO;
    uint8_t *buf = malloc(KN_TZ_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, KN_TZ_FILE_MAX + 1, f) : 0;
    int err = ferror(f);
    fclose(f);
    int rc;
    if (!buf)
        rc = KN_ENOMEM;
    else if (err)
        rc = n == 0 ? KN_ENOTFOUND : KN_EIO; /* reading a directory fails here */
    else if (n > KN_TZ_FILE_MAX)
        rc = KN_ECORRUPT;
    else
        rc = kn_tz_parse(buf, n, out);
    free(buf);
    return rc;
}

static void type_info(const kn_tz *z, size_t t, kn_tz_info *info)
{
    info->utoff = z->types[t].utoff;
    info->dst = z->types[t].dst;
    snprintf(info->abbr, sizeof info->abbr, "%s", z->chars + z->types[t].abbr);
}

void kn_tz_at(const kn_tz *z, int64_t t, kn_tz_info *info)
{
    if (z->ntrans == 0 || t >= z->trans[z->ntrans - 1]) {
        if (z->has_rule) {
            rule_at(&z->rule, t, info);
            return;
        }
        type_info(z, z->ntrans ? z->idx[z->ntrans - 1] : 0, info);
        return;
    }
    if (t < z->trans[0]) {
        type_info(z, 0, info);
        return;
    }
    size_t lo = 0, hi = z->ntrans - 1; /* trans[lo] <= t < trans[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    type_info(z, z->idx[lo], info);
}

int64_t kn_tz_local_to_utc(const kn_tz *z, int64_t local, bool *exists)
{
    /* The offsets around this day are the candidates; a valid one maps back onto itself. */
    kn_tz_info a, b, c;
    kn_tz_at(z, local - DAY, &a);
    kn_tz_at(z, local + DAY, &b);
    int32_t cand[2]
        = { a.utoff > b.utoff ? a.utoff : b.utoff, a.utoff > b.utoff ? b.utoff : a.utoff };
    for (int i = 0; i < 2; i++) { /* the larger offset first: the earlier instant */
        kn_tz_at(z, local - cand[i], &c);
        if (c.utoff == cand[i]) {
            if (exists)
                *exists = true;
            return local - cand[i];
        }
    }
    if (exists)
        *exists = false;
    return local - a.utoff; /* in a gap: the offset before it */
}

/* Adds a transition at `at` if it is in range and changes something. */
static size_t add_transition(const kn_tz *z, int64_t at, int64_t from, int64_t to,
    kn_tz_transition *out, size_t max, size_t n)
{
    kn_tz_info before, after;
    if (at < from || at >= to)
        return n;
    kn_tz_at(z, at - 1, &before);
    kn_tz_at(z, at, &after);
    if (before.utoff == after.utoff && before.dst == after.dst
        && strcmp(before.abbr, after.abbr) == 0)
        return n;
    if (n < max)
        out[n] = (kn_tz_transition) { at, before.utoff, after };
    return n + 1;
}

size_t kn_tz_transitions(
    const kn_tz *z, int64_t from, int64_t to, kn_tz_transition *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < z->ntrans; i++)
        n = add_transition(z, z->trans[i], from, to, out, max, n);
    if (z->has_rule && z->rule.has_dst) {
        int64_t last = z->ntrans ? z->trans[z->ntrans - 1] : INT64_MIN;
        int64_t y0 = year_of(from > last ? from : last) - 1, y1 = year_of(to) + 1;
        for (int64_t y = y0; y <= y1; y++) {
            int64_t s, e;
            rule_year(&z->rule, y, &s, &e);
            int64_t first = s < e ? s : e, second = s < e ? e : s;
            if (first > last)
                n = add_transition(z, first, from, to, out, max, n);
            if (second > last)
                n = add_transition(z, second, from, to, out, max, n);
        }
    }
    return n;
}

int kn_tz_parse_local(const char *s, const char *tzname, uint64_t *ms, bool *exists)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    kn_tz *z = NULL;
    *exists = true;
    if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return KN_EINVAL;
    if (s[n]) {
        int m = 0;
        if ((s[n] != ' ' && s[n] != 'T') || sscanf(s + n + 1, "%2d:%2d%n", &h, &mi, &m) != 2
            || m != 5)
            return KN_EINVAL;
        n += 1 + m;
        if (s[n] == ':') {
            if (sscanf(s + n + 1, "%2d%n", &sec, &m) != 1 || m != 2)
                return KN_EINVAL;
            n += 3;
        }
        if (s[n])
            return KN_EINVAL;
    }
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0
        || mi > 59 || sec < 0 || sec > 59)
        return KN_EINVAL;
    int64_t days = kn_days_from_civil(y, (unsigned)mo, (unsigned)d), ny;
    unsigned nm, nd;
    kn_civil_from_days(days, &ny, &nm, &nd);
    if (nm != (unsigned)mo || nd != (unsigned)d)
        return KN_EINVAL; /* 2026-02-30 */
    if (!kn_tz_name_valid(tzname))
        return KN_ECONFIG;
    int rc = kn_tz_load(tzname, &z);
    if (rc < 0)
        return rc == KN_EINVAL ? KN_ECONFIG : rc;
    int64_t utc = kn_tz_local_to_utc(z, days * 86400 + h * 3600 + mi * 60 + sec, exists);
    kn_tz_free(z);
    if (utc < 0)
        return KN_EINVAL;
    *ms = (uint64_t)utc * 1000;
    return 0;
}

void kn_tz_format_local(const char *tzname, uint64_t ms, char sep, char *buf, size_t cap)
{
    kn_tz *z = NULL;
    kn_tz_info info = { 0, false, "UTC" };
    if (tzname && kn_tz_load(tzname, &z) == 0)
        kn_tz_at(z, (int64_t)(ms / 1000), &info);
    kn_tz_free(z);
    int64_t local = (int64_t)(ms / 1000) + info.utoff, days = local / 86400, y;
    if (local % 86400 < 0)
        days--;
    unsigned m, d;
    kn_civil_from_days(days, &y, &m, &d);
    int64_t sod = local - days * 86400;
    int n = snprintf(buf, cap, "%04d-%02u-%02u%c%02u:%02u", (int)y, m, d, sep,
        (unsigned)(sod / 3600), (unsigned)(sod % 3600 / 60));
    if (sod % 60 && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, ":%02u", (unsigned)(sod % 60));
}
