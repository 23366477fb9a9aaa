/* The tiny JSON reader; see json_mini.h. Recursive descent, depth-bounded. */
#include "json_mini.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 64 };

struct json_value {
    json_type type;
    bool b;
    double num;
    char *str;
    size_t n;
    char **keys;
    json_value **items;
};

struct parser {
    const char *p;
    const char *end;
};

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static json_value *new_value(json_type t)
{
    json_value *v = calloc(1, sizeof *v);
    if (v)
        v->type = t;
    return v;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Parses a string at ps->p (which is at '"'); returns a malloc'd NUL-terminated copy. */
static char *parse_string(struct parser *ps)
{
    if (ps->p >= ps->end || *ps->p != '"')
        return NULL;
    ps->p++;
    /* The decoded string is never longer than its escaped form. */
    const char *start = ps->p;
    size_t cap = 1;
    for (const char *q = start; q < ps->end && *q != '"'; q++) {
        cap++;
        if (*q == '\\' && q + 1 < ps->end)
            q++, cap++;
    }
    char *out = malloc(cap + 4);
    if (!out)
        return NULL;
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p++;
        if (c < 0x20)
            goto fail;
        if (c != '\\') {
            out[n++] = (char)c;
            continue;
        }
        if (ps->p >= ps->end)
            goto fail;
        char e = *ps->p++;
        switch (e) {
        case '"':
            out[n++] = '"';
            break;
        case '\\':
            out[n++] = '\\';
            break;
        case '/':
            out[n++] = '/';
            break;
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (ps->end - ps->p < 4 || hex4(ps->p, &cp) < 0)
                goto fail;
            ps->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                unsigned lo;
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u'
                    || hex4(ps->p + 2, &lo) < 0 || lo < 0xdc00 || lo >= 0xe000)
                    goto fail;
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                goto fail;
            }
            n += put_utf8(out + n, cp);
            break;
        }
        default:
            goto fail;
        }
    }
    if (ps->p >= ps->end)
        goto fail;
    ps->p++; /* closing quote */
    out[n] = 0;
    return out;
fail:
    free(out);
    return NULL;
}

static json_value *parse_value(struct parser *ps, int depth);

static int append(json_value *v, char *key, json_value *item)
{
    char **nk = NULL;
    json_value **ni = realloc(v->items, (v->n + 1) * sizeof *ni);
    if (!ni)
        return -1;
    v->items = ni;
    if (v->type == JSON_OBJECT) {
        nk = realloc(v->keys, (v->n + 1) * sizeof *nk);
        if (!nk)
            return -1;
        v->keys = nk;
        v->keys[v->n] = key;
    }
    v->items[v->n++] = item;
    return 0;
}

static json_value *parse_container(struct parser *ps, int depth, bool object)
{
    json_value *v = new_value(object ? JSON_OBJECT : JSON_ARRAY);
    if (!v)
        return NULL;
    char close = object ? '}' : ']';
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(ps);
        if (object) {
            key = parse_string(ps);
            if (!key)
                goto fail;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                goto fail;
            }
            ps->p++;
        }
        json_value *item = parse_value(ps, depth + 1);
        if (!item || append(v, key, item) < 0) {
            free(key);
            json_free(item);
            goto fail;
        }
        skip_ws(ps);
        if (ps->p >= ps->end)
            goto fail;
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return v;
        }
        goto fail;
    }
fail:
    json_free(v);
    return NULL;
}

static bool literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static json_value *parse_value(struct parser *ps, int depth)
{
    if (depth > MAX_DEPTH)
        return NULL;
    skip_ws(ps);
    if (ps->p >= ps->end)
        return NULL;
    char c = *ps->p;
    if (c == '{' || c == '[')
        return parse_container(ps, depth, c == '{');
    if (c == '"') {
        char *s = parse_string(ps);
        if (!s)
            return NULL;
        json_value *v = new_value(JSON_STRING);
        if (!v) {
            free(s);
            return NULL;
        }
        v->str = s;
        return v;
    }
    if (literal(ps, "true") || literal(ps, "false")) {
        json_value *v = new_value(JSON_BOOL);
        if (v)
            v->b = ps->p[-1] == 'e' && ps->p[-2] == 'u';
        return v;
    }
    if (literal(ps, "null"))
        return new_value(JSON_NULL);
    if (c == '-' || (c >= '0' && c <= '9')) {
        char buf[64];
        size_t n = 0;
        while (ps->p < ps->end && n < sizeof buf - 1 && strchr("+-0123456789.eE", *ps->p))
            buf[n++] = *ps->p++;
        buf[n] = 0;
        char *endp;
        double d = strtod(buf, &endp);
        if (endp != buf + n)
            return NULL;
        json_value *v = new_value(JSON_NUMBER);
        if (v)
            v->num = d;
        return v;
    }
    return NULL;
}

json_value *json_parse(const char *text, size_t len)
{
    struct parser ps = { text, text + len };
    json_value *v = parse_value(&ps, 0);
    if (!v)
        return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        json_free(v);
        return NULL;
    }
    return v;
}

json_value *json_parse_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (!buf)
        return NULL;
    json_value *v = json_parse(buf, len);
    free(buf);
    return v;
}

void json_free(json_value *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        json_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

json_type json_kind(const json_value *v)
{
    return v ? v->type : JSON_NULL;
}

const json_value *json_get(const json_value *v, const char *key)
{
    if (!v || v->type != JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0)
            return v->items[i];
    return NULL;
}

size_t json_len(const json_value *v)
{
    return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->n : 0;
}

const json_value *json_at(const json_value *v, size_t i)
{
    return i < json_len(v) ? v->items[i] : NULL;
}

const char *json_str(const json_value *v)
{
    return v && v->type == JSON_STRING ? v->str : NULL;
}

double json_num(const json_value *v)
{
    return v && v->type == JSON_NUMBER ? v->num : 0;
}

bool json_bool(const json_value *v)
{
    return v && v->type == JSON_BOOL && v->b;
}
