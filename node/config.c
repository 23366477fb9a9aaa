/*
 * The configuration file parser; see config.h, and docs/config.md for the
 * keys.
 *
 * inih does the INI syntax; this file feeds it lines from a memory buffer
 * through its stream reader, which is also where line numbers, overlong
 * lines, NUL bytes and section headers are checked (inih does not call a
 * handler for a section without keys, so an empty unknown section would
 * otherwise pass unnoticed). Every line is handed over without its leading
 * blanks: indenting a key then never turns it into an inih continuation line.
 * The key handler checks each value against the table below and stops the
 * parse at the first error.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "hex.h"

typedef enum section {
    SEC_NONE = 0, /* before the first header: no key may stand there */
    SEC_NODE,
    SEC_COUNCIL,
    SEC_LOG,
    SEC_HTTP,
    SEC_LIMITS,
    SEC_QUOTA,
    SEC_COUNT
} section;

static const char *const section_names[SEC_COUNT]
    = { "", "node", "council", "log", "http", "limits", "quota" };

#define SECTIONS_ALLOWED "[node], [council NAME], [log], [http], [limits], [quota]"

typedef enum vkind {
    V_PATH, /* an absolute path */
    V_LISTEN, /* IP:PORT, or "off" */
    V_ANNOUNCE, /* HOST:PORT, repeatable */
    V_PEER, /* HOST:PORT [KEY], repeatable */
    V_UINT, /* a number in [min, max] */
    V_SIZE, /* bytes, with an optional unit; 0 or [min, max] */
    V_BOOL,
    V_LEVEL,
    V_WEBPATH,
    V_HTTP_LISTEN, /* IP:PORT */
} vkind;

typedef struct key_def {
    section sec; /* SEC_NODE also stands for SEC_COUNCIL */
    const char *name;
    vkind kind;
    uint64_t min, max;
} key_def;

static const key_def keys[] = {
    { SEC_NODE, "data", V_PATH, 0, 0 },
    { SEC_NODE, "listen", V_LISTEN, 0, 0 },
    { SEC_NODE, "announce", V_ANNOUNCE, 0, 0 },
    { SEC_NODE, "connections", V_UINT, 0, KN_CONNECTIONS_MAX },
    { SEC_NODE, "peer", V_PEER, 0, 0 },
    { SEC_NODE, "web_path", V_WEBPATH, 0, 0 },
    { SEC_LOG, "level", V_LEVEL, 0, 0 },
    { SEC_LOG, "timestamps", V_BOOL, 0, 0 },
    { SEC_HTTP, "enabled", V_BOOL, 0, 0 },
    { SEC_HTTP, "listen", V_HTTP_LISTEN, 0, 0 },
    { SEC_LIMITS, "max_inbound", V_UINT, 1, 65536 },
    { SEC_LIMITS, "max_handshakes", V_UINT, 1, 4096 },
    { SEC_LIMITS, "max_pending", V_UINT, 1000, 100000000 },
    { SEC_LIMITS, "file_upload_rate", V_SIZE, 1ull << 20, 1ull << 40 },
    { SEC_LIMITS, "handshake_timeout", V_UINT, 1, 10 },
    { SEC_LIMITS, "idle_timeout", V_UINT, 3, 3600 },
    { SEC_LIMITS, "ping_timeout", V_UINT, 2, 3600 },
    { SEC_LIMITS, "ban", V_UINT, 1, 86400 },
    { SEC_QUOTA, "store", V_SIZE, 16ull << 20, 1ull << 50 },
    { SEC_QUOTA, "max_file", V_SIZE, 1ull << 20, KN_BLOB_SIZE_MAX },
    { SEC_QUOTA, "files_per_council", V_SIZE, 1ull << 20, 1ull << 50 },
};
enum { NKEYS = sizeof keys / sizeof keys[0] };

typedef struct parse_state {
    kn_config *cfg;
    const char *source;
    const char *p, *end; /* the rest of the buffer */
    int line; /* of the line inih is working on */
    bool failed;
    char *err;
    size_t cap;
    section cur;
    kn_council_config *council; /* under [node] or [council NAME] */
    size_t council_idx;
    int section_line[SEC_COUNT]; /* first header of each (global) section */
    bool saw_node, saw_council;
    int seen[KN_CONFIG_COUNCILS_MAX + 1][NKEYS]; /* line of each key, per council / global */
} parse_state;

static void fail(parse_state *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(parse_state *ps, int line, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    int n = snprintf(ps->err, ps->cap, "%s:%d: ", ps->source, line);
    if (n < 0 || (size_t)n >= ps->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->cap - (size_t)n, fmt, ap);
    va_end(ap);
}

/* ---- values ---- */

static int parse_uint(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return KN_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return KN_EINVAL;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* "64MiB", "10 GiB", "512k", "1048576": bytes (binary units; B optional). */
static int parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        unsigned shift;
    } units[] = { { "", 0 }, { "b", 0 }, { "k", 10 }, { "kib", 10 }, { "m", 20 }, { "mib", 20 },
        { "g", 30 }, { "gib", 30 }, { "t", 40 }, { "tib", 40 } };
    char digits[24];
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9' && i < sizeof digits - 1) {
        digits[i] = s[i];
        i++;
    }
    digits[i] = 0;
    uint64_t v;
    if (parse_uint(digits, &v) < 0)
        return KN_EINVAL;
    const char *u = s + i;
    while (*u == ' ')
        u++;
    char unit[4] = { 0 };
    for (size_t j = 0; u[j]; j++) {
        if (j >= sizeof unit - 1)
            return KN_EINVAL;
        unit[j] = (char)(u[j] >= 'A' && u[j] <= 'Z' ? u[j] - 'A' + 'a' : u[j]);
    }
    for (size_t j = 0; j < sizeof units / sizeof units[0]; j++) {
        if (strcmp(unit, units[j].unit) != 0)
            continue;
        if (units[j].shift && v > (UINT64_MAX >> units[j].shift))
            return KN_EINVAL;
        *out = v << units[j].shift;
        return 0;
    }
    return KN_EINVAL;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return KN_EINVAL;
}

int kn_config_check_listen(const char *s)
{
    char host[KN_HOST_MAX + 1];
    uint16_t port;
    unsigned char a[16];
    if (kn_hostport_parse(s, host, &port) < 0)
        return KN_EINVAL;
    if (s[0] == '[')
        return inet_pton(AF_INET6, host, a) == 1 ? 0 : KN_EINVAL;
    return inet_pton(AF_INET, host, a) == 1 ? 0 : KN_EINVAL;
}

static bool council_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > KN_COUNCIL_NAME_MAX || s[0] == '-' || s[0] == '_')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* "/" or "/seg/seg" with segments of A-Z a-z 0-9 . _ ~ -, none "." or "..". */
static bool web_path_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > KN_WEB_PATH_MAX || s[0] != '/')
        return false;
    if (n == 1)
        return true;
    if (s[n - 1] == '/')
        return false;
    const char *seg = s + 1;
    for (const char *p = s + 1;; p++) {
        if (*p == '/' || *p == 0) {
            size_t sl = (size_t)(p - seg);
            if (sl == 0 || (sl == 1 && seg[0] == '.')
                || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            if (*p == 0)
                return true;
            seg = p + 1;
            continue;
        }
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
                || c == '_' || c == '~' || c == '-'))
            return false;
    }
}

static const char *quote_hint(const char *v)
{
    return v[0] == '"' || v[0] == '\'' ? " (write values without quotes)" : "";
}

/* ---- sections ---- */

static void council_defaults(kn_council_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "%s", KN_LISTEN_DEFAULT);
    c->connections = -1;
}

static kn_council_config *add_council(parse_state *ps, const char *name, size_t nlen, int line)
{
    kn_config *cfg = ps->cfg;
    if (cfg->ncouncils >= KN_CONFIG_COUNCILS_MAX) {
        fail(ps, line, "more than %d [council NAME] sections; host the others in another process",
            KN_CONFIG_COUNCILS_MAX);
        return NULL;
    }
    kn_council_config *v = realloc(cfg->councils, (cfg->ncouncils + 1) * sizeof *v);
    if (!v) {
        fail(ps, line, "out of memory");
        return NULL;
    }
    cfg->councils = v;
    kn_council_config *c = &v[cfg->ncouncils++];
    council_defaults(c);
    memcpy(c->name, name, nlen);
    c->name[nlen] = 0;
    c->line = line;
    return c;
}

/* A "[...]" line (leading blanks gone): checks the name and makes it current. */
static void section_header(parse_state *ps, const char *l, size_t len)
{
    const char *close = memchr(l, ']', len);
    if (!close) {
        fail(ps, ps->line, "a section header needs a closing ']'; sections: " SECTIONS_ALLOWED);
        return;
    }
    for (const char *q = close + 1; q < l + len; q++) {
        if (*q == ';' || *q == '#')
            break;
        if (*q != ' ' && *q != '\t') {
            fail(ps, ps->line, "only a comment may follow a section header");
            return;
        }
    }
    const char *name = l + 1;
    size_t nlen = (size_t)(close - name);
    section sec = SEC_NONE;
    for (int i = 1; i < SEC_COUNT; i++)
        if (i != SEC_COUNCIL && strlen(section_names[i]) == nlen
            && memcmp(section_names[i], name, nlen) == 0)
            sec = (section)i;
    if (sec == SEC_NONE && nlen >= 8 && memcmp(name, "council ", 8) == 0) {
        if (!council_name_ok(name + 8, nlen - 8)) {
            fail(ps, ps->line,
                "\"%.*s\" is not a council name: 1 to %d characters of a-z, 0-9, '-' and '_', "
                "starting with a letter or digit, as in [council musterstadt]",
                (int)(nlen - 8 > 64 ? 64 : nlen - 8), name + 8, KN_COUNCIL_NAME_MAX);
            return;
        }
        sec = SEC_COUNCIL;
    }
    if (sec == SEC_NONE) {
        fail(ps, ps->line, "unknown section [%.*s]; sections: " SECTIONS_ALLOWED,
            (int)(nlen > 64 ? 64 : nlen), name);
        return;
    }
    ps->cur = sec;
    ps->council = NULL;
    if (sec == SEC_COUNCIL) {
        if (ps->saw_node) {
            fail(ps, ps->line,
                "[council NAME] sections cannot be mixed with [node] (line %d): describe every "
                "council in its own [council NAME] section",
                ps->section_line[SEC_NODE]);
            return;
        }
        for (size_t i = 0; i < ps->cfg->ncouncils; i++) {
            kn_council_config *c = &ps->cfg->councils[i];
            if (strlen(c->name) == nlen - 8 && memcmp(c->name, name + 8, nlen - 8) == 0) {
                fail(ps, ps->line, "[council %s] appears twice (first on line %d)", c->name,
                    c->line);
                return;
            }
        }
        if (!ps->saw_council) {
            /* The implicit default council gives way to the named ones. */
            for (size_t i = 0; i < ps->cfg->ncouncils; i++)
                kn_peer_list_free(&ps->cfg->councils[i].peers);
            ps->cfg->ncouncils = 0;
        }
        ps->saw_council = true;
        ps->cfg->multi = true;
        ps->council = add_council(ps, name + 8, nlen - 8, ps->line);
        ps->council_idx = ps->cfg->ncouncils;
        return;
    }
    if (ps->section_line[sec]) {
        fail(ps, ps->line, "[%s] appears twice (first on line %d); give each key once, there",
            section_names[sec], ps->section_line[sec]);
        return;
    }
    ps->section_line[sec] = ps->line;
    if (sec == SEC_NODE) {
        if (ps->saw_council) {
            fail(ps, ps->line,
                "[node] cannot be mixed with [council NAME] sections: describe every council in "
                "its own [council NAME] section");
            return;
        }
        ps->saw_node = true;
        ps->council = &ps->cfg->councils[0];
        ps->council->line = ps->line;
        ps->council_idx = 1;
    }
}

/* ---- the reader: one line at a time from the buffer ---- */

static char *read_line(char *str, int num, void *stream)
{
    parse_state *ps = stream;
    if (ps->failed || ps->p >= ps->end)
        return NULL;
    const char *l = ps->p;
    const char *nl = memchr(l, '\n', (size_t)(ps->end - l));
    size_t len = nl ? (size_t)(nl - l) : (size_t)(ps->end - l);
    ps->p = nl ? nl + 1 : ps->end;
    ps->line++;
    if (len && l[len - 1] == '\r')
        len--;
    if (memchr(l, 0, len)) {
        fail(ps, ps->line, "the line contains a NUL byte; is this a text file?");
        return NULL;
    }
    if (ps->line == 1 && len >= 3 && memcmp(l, "\xEF\xBB\xBF", 3) == 0) {
        l += 3; /* a UTF-8 byte order mark */
        len -= 3;
    }
    while (len && (*l == ' ' || *l == '\t')) {
        l++;
        len--;
    }
    if (len > KN_CONFIG_LINE_MAX || len + 2 > (size_t)num) {
        fail(ps, ps->line, "the line is longer than %d characters", KN_CONFIG_LINE_MAX);
        return NULL;
    }
    if (len && l[0] == '[') {
        section_header(ps, l, len);
        if (ps->failed)
            return NULL;
    }
    memcpy(str, l, len);
    str[len] = '\n';
    str[len + 1] = 0;
    return str;
}

/* ---- the key handler ---- */

static const char *allowed_keys(section sec, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].sec != sec)
            continue;
        int k = snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", keys[i].name);
        if (k < 0 || (size_t)k >= cap - n)
            break;
        n += (size_t)k;
    }
    return buf;
}

static const char *section_label(parse_state *ps, char *buf, size_t cap)
{
    if (ps->cur == SEC_COUNCIL && ps->council)
        snprintf(buf, cap, "[council %s]", ps->council->name);
    else
        snprintf(buf, cap, "[%s]", section_names[ps->cur]);
    return buf;
}

/* A number in [k->min, k->max]; false (and the error) otherwise. */
static bool get_uint(parse_state *ps, const key_def *k, const char *v, uint64_t *u)
{
    if (parse_uint(v, u) == 0 && *u >= k->min && *u <= k->max)
        return true;
    fail(ps, ps->line, "%s = \"%s\": give a number from %llu to %llu", k->name, v,
        (unsigned long long)k->min, (unsigned long long)k->max);
    return false;
}

/* An IP:PORT a listener can bind into dst; examples end the error message. */
static void set_listen(parse_state *ps, char *dst, size_t cap, const char *v, const char *examples)
{
    if (kn_config_check_listen(v) < 0) {
        fail(ps, ps->line, "listen = \"%s\" is not an IP address and port such as %s%s", v,
            examples, quote_hint(v));
        return;
    }
    snprintf(dst, cap, "%s", v);
}

static void set_council_value(parse_state *ps, const key_def *k, const char *v)
{
    kn_council_config *c = ps->council;
    char host[KN_HOST_MAX + 1];
    uint16_t port;
    uint64_t u;
    int rc;
    switch (k->kind) {
    case V_PATH:
        if (v[0] != '/' || strlen(v) > KN_PATH_MAX - 64) {
            fail(ps, ps->line, "data = \"%s\" is not an absolute path (starting with '/')%s", v,
                quote_hint(v));
            return;
        }
        snprintf(c->data, sizeof c->data, "%s", v);
        return;
    case V_LISTEN:
        if (strcmp(v, "off") == 0)
            c->listen[0] = 0;
        else
            set_listen(ps, c->listen, sizeof c->listen, v,
                "0.0.0.0:8471, 192.0.2.7:8471 or [::]:8471, nor \"off\"");
        return;
    case V_ANNOUNCE:
        c->announce_set = true;
        rc = kn_announce_add(&c->announce, v);
        if (rc == KN_ELIMIT)
            fail(ps, ps->line, "more than %d announce lines", KN_ANNOUNCE_MAX);
        else if (rc < 0)
            fail(ps, ps->line,
                "announce = \"%s\" is not HOST:PORT (e.g. knoten.musterstadt.de:8471, "
                "192.0.2.7:8471 or [2001:db8::7]:8471)%s",
                v, quote_hint(v));
        return;
    case V_PEER: {
        char addr[KN_PEER_ADDR_MAX + 1];
        uint8_t key[32];
        const char *sp = strpbrk(v, " \t");
        size_t al = sp ? (size_t)(sp - v) : strlen(v);
        const char *ks = sp;
        while (ks && (*ks == ' ' || *ks == '\t'))
            ks++;
        if (al <= KN_PEER_ADDR_MAX) {
            memcpy(addr, v, al);
            addr[al] = 0;
        }
        if (al > KN_PEER_ADDR_MAX || kn_hostport_parse(addr, host, &port) < 0) {
            fail(ps, ps->line,
                "peer = \"%s\": \"%.*s\" is not HOST:PORT (e.g. knoten.nachbarort.de:8471 or "
                "192.0.2.9:8471), optionally followed by the peer's key (64 hex digits)%s",
                v, (int)(al > 64 ? 64 : al), v, quote_hint(v));
            return;
        }
        if (ks && *ks && (strlen(ks) != 64 || kn_hex_decode(key, 32, ks, 64) < 0)) {
            fail(ps, ps->line,
                "peer = \"%s\": after the address only the peer's key may follow, 64 hex "
                "digits (`knoten status` on that node shows it)",
                v);
            return;
        }
        if (kn_peer_list_find(&c->peers, addr) >= 0) {
            fail(ps, ps->line, "peer %s is listed twice in this section", addr);
            return;
        }
        rc = kn_peer_list_add(&c->peers, addr, ks && *ks ? key : NULL);
        if (rc == KN_ELIMIT)
            fail(ps, ps->line, "more than %d peer lines", KN_PEERS_MAX);
        else if (rc < 0)
            fail(ps, ps->line, "cannot add peer %s: %s", addr, kn_strerror(rc));
        return;
    }
    case V_UINT:
        if (get_uint(ps, k, v, &u))
            c->connections = (int)u;
        return;
    case V_WEBPATH:
        if (!web_path_ok(v)) {
            fail(ps, ps->line,
                "web_path = \"%s\": give a URL path such as / or /musterstadt (segments of "
                "letters, digits, '.', '_', '~', '-'; at most %d characters)",
                v, KN_WEB_PATH_MAX);
            return;
        }
        snprintf(c->web_path, sizeof c->web_path, "%s", v);
        return;
    default:
        fail(ps, ps->line, "internal error: key %s has no parser", k->name);
    }
}

static void set_global_value(parse_state *ps, const key_def *k, const char *v)
{
    kn_config *cfg = ps->cfg;
    uint64_t u;
    bool b;
    switch (k->kind) {
    case V_LEVEL:
        if (kn_log_level_parse(v, &cfg->log_level) < 0)
            fail(ps, ps->line, "level = \"%s\": give one of error, warn, info, debug", v);
        return;
    case V_BOOL:
        if (parse_bool(v, &b) < 0) {
            fail(ps, ps->line, "%s = \"%s\": give yes or no (also true/false, on/off, 1/0)",
                k->name, v);
            return;
        }
        if (ps->cur == SEC_LOG)
            cfg->log_timestamps = b;
        else
            cfg->http_enabled = b;
        return;
    case V_HTTP_LISTEN:
        set_listen(
            ps, cfg->http_listen, sizeof cfg->http_listen, v, "127.0.0.1:8470 or [::1]:8470");
        return;
    case V_UINT:
        if (!get_uint(ps, k, v, &u))
            return;
        if (strcmp(k->name, "max_inbound") == 0)
            cfg->max_inbound = (unsigned)u;
        else if (strcmp(k->name, "max_handshakes") == 0)
            cfg->max_handshakes = (unsigned)u;
        else if (strcmp(k->name, "handshake_timeout") == 0)
            cfg->handshake_timeout = (unsigned)u;
        else if (strcmp(k->name, "idle_timeout") == 0)
            cfg->idle_timeout = (unsigned)u;
        else if (strcmp(k->name, "ping_timeout") == 0)
            cfg->ping_timeout = (unsigned)u;
        else if (strcmp(k->name, "ban") == 0)
            cfg->ban = (unsigned)u;
        else
            cfg->max_pending = u;
        return;
    case V_SIZE: {
        bool zero_ok = strcmp(k->name, "max_file") != 0; /* 0: no limit */
        if (parse_size(v, &u) < 0 || (u == 0 && !zero_ok)
            || (u != 0 && (u < k->min || u > k->max))) {
            fail(ps, ps->line,
                "%s = \"%s\": give a size such as 512MiB, 2GiB or 20GiB, from %llu MiB to "
                "%llu GiB%s",
                k->name, v, (unsigned long long)(k->min >> 20), (unsigned long long)(k->max >> 30),
                zero_ok ? ", or 0 for no limit" : "");
            return;
        }
        if (strcmp(k->name, "store") == 0) {
            cfg->store_max = u;
        } else if (strcmp(k->name, "file_upload_rate") == 0) {
            cfg->file_upload_rate = u;
        } else if (zero_ok) {
            cfg->files_quota_set = true;
            cfg->files_quota = u;
        } else {
            cfg->max_file = u;
        }
        return;
    }
    default:
        fail(ps, ps->line, "internal error: key %s has no parser", k->name);
    }
}

static int on_key(void *user, const char *sec_name, const char *name, const char *value)
{
    parse_state *ps = user;
    char label[KN_COUNCIL_NAME_MAX + 16], allowed[256];
    (void)sec_name; /* the reader tracked the section already */
    if (ps->failed)
        return 0;
    if (ps->cur == SEC_NONE) {
        fail(ps, ps->line,
            "\"%s\" stands before any section; put it under one of " SECTIONS_ALLOWED, name);
        return 0;
    }
    section keysec = ps->cur == SEC_COUNCIL ? SEC_NODE : ps->cur;
    size_t ki = NKEYS;
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].sec == keysec && strcmp(keys[i].name, name) == 0)
            ki = i;
    if (ki == NKEYS) {
        fail(ps, ps->line, "unknown key \"%.64s\" in %s; allowed: %s", name,
            section_label(ps, label, sizeof label), allowed_keys(keysec, allowed, sizeof allowed));
        return 0;
    }
    const key_def *k = &keys[ki];
    if (!*value) {
        fail(ps, ps->line, "%s needs a value", name);
        return 0;
    }
    size_t slot = ps->council ? ps->council_idx : 0;
    bool repeatable = k->kind == V_ANNOUNCE || k->kind == V_PEER;
    if (ps->seen[slot][ki] && !repeatable) {
        fail(ps, ps->line, "%s is given twice in %s (first on line %d)", name,
            section_label(ps, label, sizeof label), ps->seen[slot][ki]);
        return 0;
    }
    if (!ps->seen[slot][ki])
        ps->seen[slot][ki] = ps->line;
    if (keysec == SEC_NODE)
        set_council_value(ps, k, value);
    else
        set_global_value(ps, k, value);
    return ps->failed ? 0 : 1;
}

/* ---- whole-file checks ---- */

static void check_councils(parse_state *ps)
{
    kn_config *cfg = ps->cfg;
    for (size_t i = 0; i < cfg->ncouncils && !ps->failed; i++) {
        kn_council_config *c = &cfg->councils[i];
        if (cfg->multi && !c->data[0]) {
            fail(ps, c->line,
                "[council %s] needs its own data directory: data = /var/lib/knoten/%s", c->name,
                c->name);
            return;
        }
        if (!c->web_path[0]) {
            if (cfg->multi)
                snprintf(c->web_path, sizeof c->web_path, "/%s", c->name);
            else
                snprintf(c->web_path, sizeof c->web_path, "/");
        }
        if (c->listen[0] && cfg->http_enabled && strcmp(c->listen, cfg->http_listen) == 0) {
            fail(ps, c->line,
                "the council listens on %s, where [http] listens too; give one "
                "of them another port",
                c->listen);
            return;
        }
        for (size_t j = 0; j < i; j++) {
            kn_council_config *o = &cfg->councils[j];
            if (strcmp(c->data, o->data) == 0) {
                fail(ps, c->line,
                    "[council %s] uses the data directory of [council %s] (%s); every council "
                    "needs its own",
                    c->name, o->name, c->data);
                return;
            }
            if (c->listen[0] && strcmp(c->listen, o->listen) == 0) {
                fail(ps, c->line,
                    "[council %s] listens on %s like [council %s]; give each its own port", c->name,
                    c->listen, o->name);
                return;
            }
            if (strcmp(c->web_path, o->web_path) == 0) {
                fail(ps, c->line, "[council %s] has the web_path %s of [council %s]", c->name,
                    c->web_path, o->name);
                return;
            }
        }
    }
}

/* ---- entry points ---- */

int kn_config_defaults(kn_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->log_level = KN_LOG_INFO;
    cfg->http_enabled = true; /* issue 8: the web UI listens on 127.0.0.1:8470 by default */
    snprintf(cfg->http_listen, sizeof cfg->http_listen, "%s", KN_HTTP_LISTEN_DEFAULT);
    cfg->max_inbound = 256;
    cfg->max_handshakes = 64;
    cfg->max_pending = 100000;
    cfg->handshake_timeout = 10;
    cfg->idle_timeout = 45;
    cfg->ping_timeout = 15;
    cfg->ban = 60;
    if (!(cfg->councils = calloc(1, sizeof *cfg->councils)))
        return KN_ENOMEM;
    council_defaults(&cfg->councils[0]);
    snprintf(cfg->councils[0].web_path, sizeof cfg->councils[0].web_path, "/");
    cfg->ncouncils = 1;
    return 0;
}

void kn_config_free(kn_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->ncouncils; i++)
        kn_peer_list_free(&cfg->councils[i].peers);
    free(cfg->councils);
    cfg->councils = NULL;
    cfg->ncouncils = 0;
}

int kn_config_parse(
    kn_config *cfg, const char *buf, size_t len, const char *source, char *err, size_t cap)
{
    static char spare[1];
    if (!err || !cap) {
        err = spare;
        cap = sizeof spare;
    }
    err[0] = 0;
    if (!cfg || (!buf && len))
        return KN_EINVAL;
    int rc = kn_config_defaults(cfg);
    if (rc < 0) {
        snprintf(err, cap, "%s: out of memory", source);
        return rc;
    }
    /* The default council's web_path is decided after the parse (check_councils). */
    cfg->councils[0].web_path[0] = 0;
    parse_state *ps = calloc(1, sizeof *ps);
    if (!ps) {
        kn_config_free(cfg);
        snprintf(err, cap, "%s: out of memory", source);
        return KN_ENOMEM;
    }
    ps->cfg = cfg;
    ps->source = source ? source : "config";
    ps->p = buf;
    ps->end = buf + len;
    ps->err = err;
    ps->cap = cap;
    int line = ini_parse_stream(read_line, ps, on_key, ps);
    if (!ps->failed && line > 0)
        fail(ps, line,
            "not a \"key = value\" line nor a [section] header (comments start with ';' or '#')");
    else if (!ps->failed && line < 0)
        fail(ps, ps->line, "out of memory");
    if (!ps->failed)
        check_councils(ps);
    rc = ps->failed ? (line == -2 ? KN_ENOMEM : KN_ECONFIG) : 0;
    free(ps);
    if (rc < 0)
        kn_config_free(cfg);
    return rc;
}

int kn_config_load(kn_config *cfg, const char *path, char *err, size_t cap)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = KN_EIO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    memset(cfg, 0, sizeof *cfg);
    if (fd < 0) {
        snprintf(err, cap, "cannot read the configuration file %s: %s", path, strerror(errno));
        return errno == ENOENT ? KN_ENOTFOUND : KN_EIO;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, cap, "%s is not a regular file", path);
        goto out;
    }
    if (st.st_size > KN_CONFIG_FILE_MAX) {
        snprintf(err, cap, "%s is larger than %d bytes; is it the right file?", path,
            KN_CONFIG_FILE_MAX);
        rc = KN_ETOOBIG;
        goto out;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        rc = KN_ENOMEM;
        snprintf(err, cap, "out of memory reading %s", path);
        goto out;
    }
    while (len < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, cap, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break; /* the file shrank meanwhile: parse what was there */
        len += (size_t)r;
    }
    rc = kn_config_parse(cfg, buf, len, path, err, cap);
out:
    free(buf);
    close(fd);
    return rc;
}
