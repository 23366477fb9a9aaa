/*
 * The body schema of every object type, as data.
 *
 * Each type is one row of `schemas`: whether it lives in a space, how many
 * refs it carries, the fields of its body map and, where a rule spans two
 * fields, a small extra check. kn_object_check_schema() interprets the
 * table; docs/objects.md describes the same facts for people.
 *
 * Everything here fails with KN_ESCHEMA: by the time a body reaches the
 * schema it has decoded as canonical msgpack, so any mismatch left is a
 * mismatch with the type's rules, not with the encoding.
 */
#include <string.h>
#include <strings.h>

#include "object.h"

typedef enum field_kind {
    K_UINT, /* uint, value in min..max */
    K_BOOL, /* true or false */
    K_STR, /* str, bytes in min..max */
    K_BIN, /* bin, bytes in min..max */
    K_STRS, /* array of str: items in min..max, bytes of each in item_min..item_max */
    K_UINTS, /* array of uint: items in min..max, each value in item_min..item_max */
    K_MAPS, /* array of maps: items in min..max, each map checked against sub */
} field_kind;

typedef enum str_format {
    FMT_TEXT, /* any UTF-8 (the codec has checked it) */
    FMT_URL, /* http(s) URL, see check_url() */
    FMT_AGS, /* Amtlicher Gemeindeschlüssel or Regionalschlüssel */
    FMT_FILENAME, /* a file name to save a download under, see check_filename() */
} str_format;

typedef struct field_rule {
    const char *name;
    field_kind kind;
    bool required;
    uint64_t min, max;
    uint64_t item_min, item_max;
    str_format fmt;
    const char *const *oneof; /* NULL-terminated set of allowed strings, or NULL */
    const struct field_rule *sub;
    size_t nsub;
} field_rule;

typedef struct type_schema {
    bool space_required; /* false: the space must be "" */
    uint32_t refs_min, refs_max;
    const char *refs_doc; /* what the refs are, in order, for the documentation */
    const field_rule *fields;
    size_t nfields;
    int (*extra)(const kn_object *o); /* rules spanning fields; NULL if none */
    const char *extra_doc;
} type_schema;

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define FIELDS(a) a, COUNT(a)

/* Field constructors, so each table row reads like the documentation. */
#define UINT(n, req, lo, hi)                                                                       \
    {                                                                                              \
        .name = n, .kind = K_UINT, .required = req, .min = lo, .max = hi                           \
    }
#define BOOL(n, req)                                                                               \
    {                                                                                              \
        .name = n, .kind = K_BOOL, .required = req                                                 \
    }
#define STR(n, req, lo, hi)                                                                        \
    {                                                                                              \
        .name = n, .kind = K_STR, .required = req, .min = lo, .max = hi                            \
    }
#define STRF(n, req, lo, hi, f)                                                                    \
    {                                                                                              \
        .name = n, .kind = K_STR, .required = req, .min = lo, .max = hi, .fmt = f                  \
    }
#define ONEOF(n, req, set)                                                                         \
    {                                                                                              \
        .name = n, .kind = K_STR, .required = req, .min = 1, .max = 64, .oneof = set               \
    }
#define BIN(n, req, lo, hi)                                                                        \
    {                                                                                              \
        .name = n, .kind = K_BIN, .required = req, .min = lo, .max = hi                            \
    }
#define STRS(n, req, lo, hi, ilo, ihi)                                                             \
    {                                                                                              \
        .name = n, .kind = K_STRS, .required = req, .min = lo, .max = hi, .item_min = ilo,         \
        .item_max = ihi                                                                            \
    }
#define UINTS(n, req, lo, hi, ilo, ihi)                                                            \
    {                                                                                              \
        .name = n, .kind = K_UINTS, .required = req, .min = lo, .max = hi, .item_min = ilo,        \
        .item_max = ihi                                                                            \
    }
#define MAPS(n, req, lo, hi, s)                                                                    \
    {                                                                                              \
        .name = n, .kind = K_MAPS, .required = req, .min = lo, .max = hi, .sub = s,                \
        .nsub = COUNT(s)                                                                           \
    }

#define ANY UINT64_MAX
#define TAGS(req) STRS("tags", req, 0, 32, 1, 64)

/* ---- string formats ---- */

static bool is_space_or_control(uint8_t c)
{
    return c <= 0x20 || c == 0x7f;
}

/*
 * A link staff can click: http or https (scheme in any case), a non-empty
 * host, and no whitespace or control characters anywhere, so that the URL
 * cannot smuggle a second line into a header or hide part of itself in the
 * web UI. C1 controls (U+0080..U+009F, encoded C2 80..C2 9F) count as controls.
 */
static bool check_url(const char *s, uint32_t len)
{
    size_t skip;
    if (len >= 7 && strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (len >= 8 && strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    for (uint32_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        if (is_space_or_control(c))
            return false;
        if (c == 0xc2 && i + 1 < len && (uint8_t)s[i + 1] >= 0x80 && (uint8_t)s[i + 1] <= 0xa0)
            return false; /* C1 controls and U+00A0 NO-BREAK SPACE */
    }
    /* The authority ends at the first '/', '?' or '#'; the host follows any userinfo@. */
    size_t end = skip;
    while (end < len && s[end] != '/' && s[end] != '?' && s[end] != '#')
        end++;
    size_t host = skip;
    for (size_t i = skip; i < end; i++)
        if (s[i] == '@')
            host = i + 1;
    return host < end && s[host] != ':';
}

/* 8 (Gemeindeschlüssel) or 12 (Regionalschlüssel) ASCII digits. */
static bool check_ags(const char *s, uint32_t len)
{
    if (len != 8 && len != 12)
        return false;
    for (uint32_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/*
 * A name a browser or file manager saves a download under: no path
 * separators ('/' and, for the many Windows desktops in town halls, '\'),
 * no NUL or other control characters, and not "." or "..".
 */
static bool check_filename(const char *s, uint32_t len)
{
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (uint32_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
            return false;
    }
    return true;
}

static bool check_format(str_format f, const char *s, uint32_t len)
{
    switch (f) {
    case FMT_URL:
        return check_url(s, len);
    case FMT_AGS:
        return check_ags(s, len);
    case FMT_FILENAME:
        return check_filename(s, len);
    case FMT_TEXT:
    default:
        return true;
    }
}

static bool in_set(const char *const *set, const char *s, uint32_t len)
{
    for (; *set; set++)
        if (strlen(*set) == len && memcmp(*set, s, len) == 0)
            return true;
    return false;
}

/* ---- the interpreter ---- */

static int check_map(kn_mp_in *in, const field_rule *rules, size_t nrules);

static int check_str(kn_mp_in *in, uint64_t min, uint64_t max, const field_rule *r)
{
    const char *s;
    uint32_t len;
    if (kn_mp_read_str(in, &s, &len) < 0 || len < min || len > max)
        return KN_ESCHEMA;
    if (!check_format(r->fmt, s, len))
        return KN_ESCHEMA;
    if (r->oneof && !in_set(r->oneof, s, len))
        return KN_ESCHEMA;
    return 0;
}

static int check_value(kn_mp_in *in, const field_rule *r)
{
    uint64_t u;
    bool b;
    uint32_t n, len;
    const uint8_t *bin;

    switch (r->kind) {
    case K_UINT:
        if (kn_mp_read_uint(in, &u) < 0 || u < r->min || u > r->max)
            return KN_ESCHEMA;
        return 0;
    case K_BOOL:
        return kn_mp_read_bool(in, &b) < 0 ? KN_ESCHEMA : 0;
    case K_STR:
        return check_str(in, r->min, r->max, r);
    case K_BIN:
        if (kn_mp_read_bin(in, &bin, &len) < 0 || len < r->min || len > r->max)
            return KN_ESCHEMA;
        return 0;
    case K_STRS:
    case K_UINTS:
    case K_MAPS:
        if (kn_mp_read_array(in, &n) < 0 || n < r->min || n > r->max)
            return KN_ESCHEMA;
        for (uint32_t i = 0; i < n; i++) {
            int rc = 0;
            if (r->kind == K_STRS) {
                rc = check_str(in, r->item_min, r->item_max, r);
            } else if (r->kind == K_UINTS) {
                if (kn_mp_read_uint(in, &u) < 0 || u < r->item_min || u > r->item_max)
                    rc = KN_ESCHEMA;
            } else {
                rc = check_map(in, r->sub, r->nsub);
            }
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    return KN_ESCHEMA;
}

/*
 * Checks one map against its rules: every key known, every value fitting,
 * every required key present. Keys are already unique (the decoder saw to
 * it), so a bit per rule is enough to know what was present.
 */
static int check_map(kn_mp_in *in, const field_rule *rules, size_t nrules)
{
    uint32_t n;
    uint32_t seen = 0;
    if (nrules > 32)
        return KN_EINVAL; /* one bit of `seen` per rule */
    if (kn_mp_read_map(in, &n) < 0)
        return KN_ESCHEMA;
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t klen;
        size_t j;
        if (kn_mp_read_str(in, &k, &klen) < 0)
            return KN_ESCHEMA;
        for (j = 0; j < nrules; j++)
            if (strlen(rules[j].name) == klen && memcmp(rules[j].name, k, klen) == 0)
                break;
        if (j == nrules)
            return KN_ESCHEMA; /* unknown keys are refused: no silent side channels */
        if (check_value(in, &rules[j]) < 0)
            return KN_ESCHEMA;
        seen |= 1u << j;
    }
    for (size_t j = 0; j < nrules; j++)
        if (rules[j].required && !(seen & (1u << j)))
            return KN_ESCHEMA;
    return 0;
}

/* ---- extra checks: rules that span fields ---- */

/* An optional uint field: 0 if absent or present, KN_ESCHEMA if broken. */
static int opt_uint(const kn_object *o, const char *key, bool *present, uint64_t *v)
{
    int rc = kn_object_uint(o, key, v);
    *present = rc == 0;
    return rc == 0 || rc == KN_ENOTFOUND ? 0 : KN_ESCHEMA;
}

static int extra_doc(const kn_object *o)
{
    bool has_from, has_until;
    uint64_t from = 0, until = 0;
    if (opt_uint(o, "valid_from", &has_from, &from) < 0
        || opt_uint(o, "valid_until", &has_until, &until) < 0)
        return KN_ESCHEMA;
    return has_from && has_until && until < from ? KN_ESCHEMA : 0;
}

static int extra_poll(const kn_object *o)
{
    uint64_t deadline;
    if (kn_object_uint(o, "deadline", &deadline) < 0 || deadline <= o->created)
        return KN_ESCHEMA;
    return 0;
}

static int extra_vote(const kn_object *o)
{
    kn_mp_in in;
    uint32_t n;
    uint64_t prev = 0, v;
    if (kn_object_field(o, "choices", &in) < 0 || kn_mp_read_array(&in, &n) < 0)
        return KN_ESCHEMA;
    for (uint32_t i = 0; i < n; i++) {
        if (kn_mp_read_uint(&in, &v) < 0 || (i > 0 && v <= prev))
            return KN_ESCHEMA;
        prev = v;
    }
    return 0;
}

static int extra_event(const kn_object *o)
{
    uint64_t start, end;
    const char *s;
    uint32_t len = 0;
    kn_mp_in v;
    if (kn_object_uint(o, "start", &start) < 0 || kn_object_uint(o, "end", &end) < 0 || end < start)
        return KN_ESCHEMA;
    bool has_link = kn_object_field(o, "link", &v) == 0;
    bool has_place = kn_object_str(o, "place", &s, &len) == 0 && len > 0;
    return has_link || has_place ? 0 : KN_ESCHEMA;
}

/* ---- the tables ---- */

static const field_rule network_fields[] = {
    UINT("admit", true, 1, 255),
    STR("description", false, 0, 4000),
    STR("name", true, 1, 200),
};

static const field_rule admit_fields[] = {
    STRF("ags", false, 8, 12, FMT_AGS),
    STR("name", true, 1, 200),
    BIN("node", true, 32, 32),
};

static const field_rule revoke_fields[] = {
    BIN("key", true, 32, 32),
    STR("reason", true, 1, 1000),
};

static const field_rule user_fields[] = {
    STRS("expertise", false, 0, 32, 1, 64),
    BIN("key", true, 32, 32),
    STRS("lang", false, 0, 8, 2, 8),
    STR("name", true, 1, 200),
    STR("role", true, 1, 100),
};

static const field_rule addr_fields[] = {
    STRS("addrs", true, 1, 16, 1, 255),
};

static const field_rule file_fields[] = {
    BIN("blob", true, 32, 32),
    STR("mime", true, 1, 127),
    STRF("name", true, 1, 255, FMT_FILENAME),
    UINT("size", true, 0, ANY),
};

static const char *const doc_kinds[] = {
    "letter",
    "checklist",
    "form",
    "instruction",
    "template",
    "other",
    NULL,
};

static const field_rule doc_fields[] = {
    STR("description", false, 0, 8000),
    MAPS("files", true, 1, 64, file_fields),
    ONEOF("kind", true, doc_kinds),
    STR("lang", false, 2, 8),
    STR("licence", false, 0, 100),
    TAGS(false),
    STR("title", true, 1, 300),
    UINT("valid_from", false, 0, ANY),
    UINT("valid_until", false, 0, ANY),
};

static const field_rule thread_fields[] = {
    STR("body", true, 0, 32000),
    TAGS(false),
    STR("title", true, 1, 300),
};

static const field_rule post_fields[] = {
    STR("body", true, 1, 32000),
};

static const field_rule link_fields[] = {
    STR("description", false, 0, 4000),
    TAGS(false),
    STR("title", true, 1, 300),
    STRF("url", true, 1, 2048, FMT_URL),
};

static const char *const poll_counts[] = { "user", "council", NULL };

static const field_rule poll_fields[] = {
    ONEOF("count", true, poll_counts),
    UINT("deadline", true, 0, ANY),
    BOOL("multiple", true),
    STRS("options", true, 2, 32, 1, 200),
    STR("question", true, 1, 1000),
    BOOL("show_early", true),
};

static const field_rule vote_fields[] = {
    UINTS("choices", true, 1, 32, 0, 31),
};

static const field_rule event_fields[] = {
    UINT("capacity", false, 0, ANY),
    STR("contact", false, 0, 300),
    STR("description", false, 0, 8000),
    UINT("end", true, 0, ANY),
    STR("group", false, 0, 200),
    STRS("langs", false, 0, 8, 2, 8),
    STRF("link", false, 1, 2048, FMT_URL),
    STR("place", false, 0, 300),
    UINT("start", true, 0, ANY),
    STR("title", true, 1, 300),
    STR("tz", true, 1, 64),
};

static const char *const rsvp_statuses[] = { "yes", "no", "maybe", NULL };

static const field_rule rsvp_fields[] = {
    ONEOF("status", true, rsvp_statuses),
};

static const field_rule dm_fields[] = {
    BIN("box", true, 1, 60000),
    BIN("to", true, 32, 32),
};

static const field_rule retract_fields[] = {
    STR("reason", false, 0, 1000),
};

static const type_schema schemas[KN_T_MAX] = {
    [KN_T_NETWORK] = { false, 0, 0, "none", FIELDS(network_fields), NULL, NULL },
    [KN_T_ADMIT] = { false, 1, 1, "the network object", FIELDS(admit_fields), NULL, NULL },
    [KN_T_REVOKE] = { false, 1, 1, "the network object", FIELDS(revoke_fields), NULL, NULL },
    [KN_T_USER] = { false, 0, 0, "none", FIELDS(user_fields), NULL, NULL },
    [KN_T_ADDR] = { false, 0, 0, "none", FIELDS(addr_fields), NULL, NULL },
    [KN_T_DOC] = { true, 0, 1, "optional: the previous version", FIELDS(doc_fields), extra_doc,
        "valid_until >= valid_from when both are present" },
    [KN_T_THREAD]
    = { true, 0, 1, "optional: the previous version", FIELDS(thread_fields), NULL, NULL },
    [KN_T_POST] = { true, 2, 3,
        "the thread; the parent (the thread itself or the post replied to); "
        "optional: the previous version (edits)",
        FIELDS(post_fields), NULL, NULL },
    [KN_T_LINK] = { true, 0, 1, "optional: the previous version", FIELDS(link_fields), NULL, NULL },
    [KN_T_POLL] = { true, 0, 0, "none", FIELDS(poll_fields), extra_poll, "deadline > created" },
    [KN_T_VOTE] = { true, 1, 1, "the poll", FIELDS(vote_fields), extra_vote,
        "choices strictly ascending (no duplicates)" },
    [KN_T_EVENT] = { true, 0, 1, "optional: the previous version", FIELDS(event_fields),
        extra_event, "end >= start; at least one of link or a non-empty place" },
    [KN_T_RSVP] = { true, 1, 1, "the event", FIELDS(rsvp_fields), NULL, NULL },
    [KN_T_DM] = { false, 0, 1, "optional: the dm replied to", FIELDS(dm_fields), NULL, NULL },
    [KN_T_RETRACT] = { false, 1, 1, "the retracted object", FIELDS(retract_fields), NULL, NULL },
};

int kn_object_check_schema(const kn_object *o)
{
    if (!o || o->type <= 0 || o->type >= KN_T_MAX || !o->body)
        return KN_EINVAL;
    const type_schema *t = &schemas[o->type];
    if (!t->fields)
        return KN_EOBJTYPE;
    if (t->space_required ? o->space_len == 0 : o->space_len != 0)
        return KN_ESCHEMA;
    if (o->nrefs < t->refs_min || o->nrefs > t->refs_max)
        return KN_ESCHEMA;
    kn_mp_in in;
    kn_mp_in_init(&in, o->body, o->body_len);
    int rc = check_map(&in, t->fields, t->nfields);
    if (rc < 0)
        return rc;
    if (kn_mp_in_left(&in) != 0)
        return KN_ESCHEMA;
    return t->extra ? t->extra(o) : 0;
}

const uint8_t *kn_object_previous(const kn_object *o)
{
    switch (o->type) {
    case KN_T_DOC:
    case KN_T_THREAD:
    case KN_T_LINK:
    case KN_T_EVENT:
        return o->nrefs == 1 ? o->refs[0] : NULL;
    case KN_T_POST:
        return o->nrefs == 3 ? o->refs[2] : NULL;
    default:
        return NULL;
    }
}
