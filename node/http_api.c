/*
 * The JSON API under /api/ (docs/api.md has every endpoint with an example)
 * and /metrics in Prometheus text format.
 *
 * Every endpoint but login and activation needs a session; admin endpoints
 * need the admin role; every state change (any method but GET and HEAD)
 * needs the session's CSRF token in X-CSRF-Token. Objects created here are
 * signed with the signed-in person's user key, stored, and handed to the
 * replication engine at once (sync_announce), like objects from peers.
 */
#define _GNU_SOURCE /* strcasestr */
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "http_impl.h"
#include "invites.h"
#include "markdown.h"
#include "objjson.h"
#include "peer_state.h"
#include "users.h"

/* ---- names of authors and councils, looked up once per request ---- */

typedef struct name_entry {
    uint8_t key[32];
    char name[KN_USER_NAME_MAX + 1];
    uint8_t node[32]; /* for users: the certifying node */
    bool is_user;
} name_entry;

/* Names as collected from the store: the mount's cache holds one (http_mount.names). */
struct http_names_cache {
    name_entry *v;
    size_t n;
    uint64_t at; /* when it was read (the request's clock) */
    uint64_t gen; /* kn_store_generation() before it was read */
};

/* A request's view of its council's names: valid until the request ends. */
typedef struct names {
    const name_entry *v;
    size_t n;
    uint64_t gen; /* the cache's */
    bool loaded;
} names;

static int collect_admit(void *ctx, const kn_object *o)
{
    struct http_names_cache *nm = ctx;
    const uint8_t *nk;
    uint32_t nl, sl;
    const char *s;
    if (kn_object_bin(o, "node", &nk, &nl) < 0 || nl != 32 || kn_object_str(o, "name", &s, &sl) < 0)
        return 0;
    for (size_t i = 0; i < nm->n; i++)
        if (!nm->v[i].is_user && memcmp(nm->v[i].key, nk, 32) == 0)
            return 0; /* the first admit names the council */
    name_entry *nv = realloc(nm->v, (nm->n + 1) * sizeof *nv);
    if (!nv)
        return KN_ENOMEM;
    nm->v = nv;
    name_entry *e = &nm->v[nm->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->key, nk, 32);
    snprintf(
        e->name, sizeof e->name, "%.*s", (int)(sl < KN_USER_NAME_MAX ? sl : KN_USER_NAME_MAX), s);
    return 0;
}

static int collect_user(void *ctx, const kn_object *o)
{
    struct http_names_cache *nm = ctx;
    const uint8_t *key;
    uint32_t kl, sl;
    const char *s;
    if (kn_object_bin(o, "key", &key, &kl) < 0 || kl != 32 || kn_object_str(o, "name", &s, &sl) < 0)
        return 0;
    name_entry *nv = realloc(nm->v, (nm->n + 1) * sizeof *nv);
    if (!nv)
        return KN_ENOMEM;
    nm->v = nv;
    name_entry *e = &nm->v[nm->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->key, key, 32);
    memcpy(e->node, o->author, 32);
    e->is_user = true;
    snprintf(
        e->name, sizeof e->name, "%.*s", (int)(sl < KN_USER_NAME_MAX ? sl : KN_USER_NAME_MAX), s);
    return 0;
}

void http_names_cache_free(struct http_names_cache *c)
{
    if (c) {
        free(c->v);
        free(c);
    }
}

/*
 * The names of the council's authors and councils (admit and user objects).
 * Every request of a listing needs them, and they change seldom, so the
 * mount keeps them for HTTP_NAMES_TTL_MS: a new user's name shows up that
 * much later at most. A request reads its view once (r->now is fixed for
 * the request, so the cache is not replaced under a view it handed out).
 */
static void names_load(hreq *r, names *nm)
{
    if (nm->loaded)
        return;
    nm->loaded = true;
    http_mount *m = r->mount;
    struct http_names_cache *c = m ? m->names : NULL;
    if (!c || r->now < c->at || r->now - c->at >= HTTP_NAMES_TTL_MS) {
        struct http_names_cache *fresh = calloc(1, sizeof *fresh);
        if (fresh) {
            fresh->gen = kn_store_generation(r->n->dd->store);
            kn_store_query q = { .index = KN_BY_SPACE_TYPE, .space = "", .type = KN_T_ADMIT };
            int rc = kn_store_each(r->n->dd->store, &q, collect_admit, fresh);
            q.type = KN_T_USER;
            if (rc >= 0)
                rc = kn_store_each(r->n->dd->store, &q, collect_user, fresh);
            fresh->at = r->now;
            if (rc < 0 || !m) {
                http_names_cache_free(fresh);
                fresh = NULL;
            }
        }
        if (fresh) {
            http_names_cache_free(m->names);
            c = m->names = fresh;
        }
    }
    if (c) {
        nm->v = c->v;
        nm->n = c->n;
        nm->gen = c->gen;
    }
}

static const name_entry *names_find(const names *nm, const uint8_t key[32])
{
    for (size_t i = 0; i < nm->n; i++)
        if (memcmp(nm->v[i].key, key, 32) == 0)
            return &nm->v[i];
    return NULL;
}

/* Views own nothing; this only forgets the view. */
static void names_free(names *nm)
{
    memset(nm, 0, sizeof *nm);
}

/* Adds author_name and council (name of the node, or of the user's node). */
static void add_names(hreq *r, names *nm, json_t *j, const uint8_t author[32])
{
    names_load(r, nm);
    const name_entry *e = names_find(nm, author);
    const name_entry *council = NULL;
    if (e && e->is_user) {
        json_object_set_new(j, "author_name", json_string(e->name));
        council = names_find(nm, e->node);
    } else {
        council = e;
    }
    if (council)
        json_object_set_new(j, "council", json_string(council->name));
}

json_t *http_object_json(hreq *r, const kn_object *o)
{
    json_t *j = kn_objjson_new(o, false);
    if (!r->names && (r->names = calloc(1, sizeof(names))) == NULL) {
        json_decref(j);
        return NULL;
    }
    if (j)
        add_names(r, r->names, j, o->author);
    return j;
}

void http_names_free(hreq *r)
{
    if (r->names) {
        names_free(r->names);
        free(r->names);
        r->names = NULL;
    }
}

/* ---- helpers ---- */

static bool need_admin(hreq *r)
{
    if (r->acct.role == KN_ROLE_ADMIN)
        return true;
    http_error(r, 403, "forbidden", "this needs the admin role");
    return false;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return KN_EINVAL;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v > max || s[0] == '-')
        return KN_EINVAL;
    *out = v;
    return 0;
}

static int bf_cmp(const void *a, const void *b)
{
    const http_field *x = a, *y = b;
    return kn_mp_key_cmp(x->key, (uint32_t)strlen(x->key), y->key, (uint32_t)strlen(y->key));
}

/* Encodes fields (those with kind HF_STR and s == NULL are left out) as a canonical map. */
static int body_encode(http_field *f, size_t n, kn_mp_out *o)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!(f[i].kind == HF_STR && !f[i].s)
            && !((f[i].kind == HF_STRS || f[i].kind == HF_UINTS) && !f[i].arr)
            && !((f[i].kind == HF_RAW || f[i].kind == HF_BIN) && !f[i].raw))
            f[m++] = f[i];
    qsort(f, m, sizeof *f, bf_cmp);
    kn_mp_write_map(o, (uint32_t)m);
    for (size_t i = 0; i < m; i++) {
        kn_mp_write_cstr(o, f[i].key);
        switch (f[i].kind) {
        case HF_STR:
            kn_mp_write_cstr(o, f[i].s);
            break;
        case HF_UINT:
            kn_mp_write_uint(o, f[i].u);
            break;
        case HF_BOOL:
            kn_mp_write_bool(o, f[i].b);
            break;
        case HF_RAW:
            kn_mp_write_raw(o, f[i].raw, f[i].raw_len);
            break;
        case HF_BIN:
            kn_mp_write_bin(o, f[i].raw, f[i].raw_len);
            break;
        case HF_STRS:
        case HF_UINTS: {
            size_t k;
            json_t *v;
            kn_mp_write_array(o, (uint32_t)json_array_size(f[i].arr));
            json_array_foreach(f[i].arr, k, v)
            {
                if (f[i].kind == HF_STRS && json_is_string(v))
                    kn_mp_write_str(o, json_string_value(v), json_string_length(v));
                else if (f[i].kind == HF_UINTS && json_is_integer(v) && json_integer_value(v) >= 0)
                    kn_mp_write_uint(o, (uint64_t)json_integer_value(v));
                else
                    return KN_ESCHEMA;
            }
            break;
        }
        }
    }
    return kn_mp_out_error(o);
}

int http_publish(hreq *r, kn_object_draft *d, uint8_t id[KN_ID])
{
    uint8_t sk[64];
    uint8_t *raw = NULL;
    size_t len;
    int rc = http_auth_user_secret(r, sk);
    if (rc < 0) {
        http_error(r, 403, "no_user_key",
            "this node does not hold your user key; ask the administrator (knoten user ls)");
        return rc;
    }
    d->created = r->now;
    rc = kn_object_sign(d, sk, &raw, &len);
    kn_memzero(sk, sizeof sk);
    if (rc < 0) {
        http_error(r, 400, "invalid",
            rc == KN_ESCHEMA ? "a field is missing, too long or not allowed (see docs/objects.md)"
                             : kn_strerror(rc));
        return rc;
    }
    rc = kn_store_put(r->n->dd->store, raw, len, r->now, id);
    if (rc == KN_PUT_STORED) {
        (void)sync_announce(r->n, raw, len, id, r->now);
        /* Objects signed here must not be published again by localpub's poll. */
    }
    free(raw);
    if (rc == KN_PUT_DUPLICATE && !kn_store_has(r->n->dd->store, id))
        rc = KN_PUT_PENDING; /* the same object is pending already */
    if (rc == KN_PUT_PENDING || rc == KN_PUT_TOMBSTONED) {
        /* Stored where nobody sees it: say so rather than 201 (found by fuzz_http_api). */
        http_error(r, 409, rc == KN_PUT_PENDING ? "missing_ref" : "retracted",
            rc == KN_PUT_PENDING ? "it refers to an object this node does not have"
                                 : "the same object was published and retracted before");
        return KN_ESTATE;
    }
    if (rc < 0) {
        http_error(r, rc == KN_EUNAUTH ? 403 : 400, rc == KN_EUNAUTH ? "not_allowed" : "refused",
            rc == KN_EUNAUTH ? "your user certificate does not allow this (revoked, or the node "
                               "is not a member)"
                             : kn_strerror(rc));
        return rc;
    }
    return 0;
}

int http_publish_fields(hreq *r, kn_otype type, const char *space, const uint8_t (*refs)[32],
    uint32_t nrefs, http_field *f, size_t nf, uint8_t id[KN_ID])
{
    kn_mp_out o;
    kn_mp_out_init(&o, KN_OBJECT_MAX);
    int rc = body_encode(f, nf, &o);
    if (rc < 0) {
        kn_mp_out_free(&o);
        http_error(r, 400, "invalid", "a field has the wrong type");
        return rc;
    }
    kn_object_draft d = {
        .type = type, .space = space ? space : "", .nrefs = nrefs, .body = o.buf, .body_len = o.len
    };
    for (uint32_t i = 0; i < nrefs; i++)
        memcpy(d.refs[i], refs[i], 32);
    rc = http_publish(r, &d, id);
    kn_mp_out_free(&o);
    return rc;
}

/* Publishes a body built from fields with the given type, space and refs; answers 201 {id}. */
static void publish_fields(hreq *r, kn_otype type, const char *space, const uint8_t (*refs)[32],
    uint32_t nrefs, http_field *f, size_t nf)
{
    uint8_t id[KN_ID];
    if (http_publish_fields(r, type, space, refs, nrefs, f, nf, id) < 0)
        return;
    char hex[65];
    kn_hex_encode(hex, id, 32);
    http_json(r, 201, json_pack("{s:s}", "id", hex));
}

/* ---- objects as JSON text, written directly (listings: no jansson tree per object) ---- */

static void jw_str(hbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    hb_put(b, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&')
            continue;
        hb_put(b, s + start, i - start);
        char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
        hb_put(b, e, 6); /* also < > &: the text stays inert if a page ever embeds it */
        start = i + 1;
    }
    hb_put(b, s + start, n - start);
    hb_put(b, "\"", 1);
}

static void jw_hex(hbuf *b, const uint8_t *p, size_t n)
{
    char h[129];
    hb_put(b, "\"", 1);
    while (n) {
        size_t k = n > 64 ? 64 : n;
        kn_hex_encode(h, p, k);
        hb_put(b, h, 2 * k);
        p += k;
        n -= k;
    }
    hb_put(b, "\"", 1);
}

/* One msgpack value of a (validated) body as JSON; KN_E code on anything unexpected. */
static int jw_value(hbuf *b, kn_mp_in *in, int depth)
{
    if (depth > 16)
        return KN_EDEPTH;
    uint32_t n;
    switch (kn_mp_peek(in)) {
    case KN_MP_UINT: {
        uint64_t v;
        if (kn_mp_read_uint(in, &v) < 0)
            return KN_ETYPE;
        hb_u64(b, v);
        return 0;
    }
    case KN_MP_NINT: {
        int64_t v;
        if (kn_mp_read_int(in, &v) < 0)
            return KN_ETYPE;
        hb_printf(b, "%lld", (long long)v);
        return 0;
    }
    case KN_MP_BOOL: {
        bool v;
        if (kn_mp_read_bool(in, &v) < 0)
            return KN_ETYPE;
        hb_puts(b, v ? "true" : "false");
        return 0;
    }
    case KN_MP_NIL:
        hb_puts(b, "null");
        return kn_mp_read_nil(in);
    case KN_MP_STR: {
        const char *s;
        if (kn_mp_read_str(in, &s, &n) < 0)
            return KN_ETYPE;
        jw_str(b, s, n);
        return 0;
    }
    case KN_MP_BIN: {
        const uint8_t *p;
        if (kn_mp_read_bin(in, &p, &n) < 0)
            return KN_ETYPE;
        jw_hex(b, p, n);
        return 0;
    }
    case KN_MP_ARRAY:
        if (kn_mp_read_array(in, &n) < 0)
            return KN_ETYPE;
        hb_put(b, "[", 1);
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                hb_put(b, ",", 1);
            int rc = jw_value(b, in, depth + 1);
            if (rc < 0)
                return rc;
        }
        hb_put(b, "]", 1);
        return 0;
    case KN_MP_MAP:
        if (kn_mp_read_map(in, &n) < 0)
            return KN_ETYPE;
        hb_put(b, "{", 1);
        for (uint32_t i = 0; i < n; i++) {
            const char *k;
            uint32_t kl;
            if (kn_mp_read_str(in, &k, &kl) < 0)
                return KN_ETYPE;
            if (i)
                hb_put(b, ",", 1);
            jw_str(b, k, kl);
            hb_put(b, ":", 1);
            int rc = jw_value(b, in, depth + 1);
            if (rc < 0)
                return rc;
        }
        hb_put(b, "}", 1);
        return 0;
    default:
        return KN_ETYPE;
    }
}

/* The same members as kn_objjson_new() plus author_name and council. */
static int jw_object(hreq *r, names *nm, hbuf *b, const kn_object *o)
{
    hb_puts(b, "{\"id\":");
    jw_hex(b, o->id, KN_ID);
    hb_puts(b, ",\"type\":\"");
    hb_puts(b, kn_otype_name(o->type));
    hb_puts(b, "\",\"author\":");
    jw_hex(b, o->author, KN_KEY);
    hb_puts(b, ",\"created\":");
    hb_u64(b, o->created);
    hb_puts(b, ",\"space\":");
    jw_str(b, o->space, o->space_len);
    hb_puts(b, ",\"refs\":[");
    for (uint32_t i = 0; i < o->nrefs; i++) {
        if (i)
            hb_put(b, ",", 1);
        jw_hex(b, o->refs[i], KN_ID);
    }
    hb_puts(b, "],\"body\":");
    kn_mp_in in;
    kn_mp_in_init(&in, o->body, o->body_len);
    int rc = jw_value(b, &in, 0);
    if (rc < 0)
        return rc;
    names_load(r, nm);
    const name_entry *e = names_find(nm, o->author), *council = e;
    if (e && e->is_user) {
        hb_puts(b, ",\"author_name\":");
        jw_str(b, e->name, strlen(e->name));
        council = names_find(nm, e->node);
    }
    if (council) {
        hb_puts(b, ",\"council\":");
        jw_str(b, council->name, strlen(council->name));
    }
    hb_put(b, "}", 1);
    return 0;
}

/* ---- listings ---- */

static bool versions_has(const kn_versions *vs, const uint8_t id[KN_ID])
{
    for (size_t i = 0; i < vs->n; i++)
        if (memcmp(vs->id[i], id, KN_ID) == 0)
            return true;
    return false;
}

typedef struct lister {
    hreq *r;
    names nm;
    json_t *arr; /* jansson mode (pages), or NULL: text mode into out */
    hbuf *out;
    size_t count;
    size_t limit, scanned, scan_max;
    kn_otype type;
    const uint8_t *ref;
    uint64_t last_created;
    bool more;
    bool newest_only; /* versions an edit replaced are left out */
    const kn_versions *thread; /* replies: only posts whose thread is one of these */
} lister;

static int list_visit(void *ctx, const kn_object *o)
{
    lister *l = ctx;
    if (++l->scanned > l->scan_max) {
        l->more = true;
        return 1;
    }
    if (l->type && o->type != l->type)
        return 0;
    if (l->thread && !(o->nrefs >= 1 && versions_has(l->thread, o->refs[0])))
        return 0;
    if (l->newest_only && !http_is_newest(l->r, o))
        return 0;
    if (l->count == l->limit) {
        l->more = true;
        return 1;
    }
    l->count++;
    l->last_created = o->created;
    if (!l->arr) {
        if (l->count > 1)
            hb_put(l->out, ",", 1);
        return jw_object(l->r, &l->nm, l->out, o);
    }
    json_t *j = kn_objjson_new(o, false);
    if (!j)
        return KN_ENOMEM;
    add_names(l->r, &l->nm, j, o->author);
    json_array_append_new(l->arr, j);
    l->last_created = o->created;
    return 0;
}

json_t *http_list(hreq *r, const kn_store_query *sq, kn_otype type, size_t limit, bool *more)
{
    lister l = { .r = r, .scan_max = 20000, .limit = limit, .type = type, .newest_only = true };
    l.arr = json_array();
    int rc = kn_store_each(r->n->dd->store, sq, list_visit, &l);
    names_free(&l.nm);
    if (more)
        *more = l.more;
    if (rc < 0) {
        json_decref(l.arr);
        return NULL;
    }
    return l.arr;
}

/*
 * Rendered listings of a council, kept while the store is unchanged.
 *
 * A listing's answer depends only on its query, the route (threads, links:
 * a forced type) and the store: not on who asks (every signed-in person
 * sees the same objects), nor on the clock. So the answer is kept under
 * (route, query string) with kn_store_generation() read before it was
 * rendered; any committed write, by the node or by the CLI on the same data
 * directory, changes the generation and the next request renders afresh.
 * The authors' names come from the names cache (2 s): an answer is kept only
 * when those names were read at the same generation, else a new user's name
 * could be missing from it for as long as nothing else is written.
 *
 * A hit costs the session check and one send from shared memory that the
 * response references (h2o_mem_link_shared), so replacing an entry never
 * frees bytes still being sent. Bounded: HTTP_LIST_CACHE_SLOTS answers of at
 * most HTTP_LIST_CACHE_BODY bytes per council, least recently used replaced.
 */
typedef struct list_cached {
    char key[HTTP_LIST_CACHE_KEY + 16]; /* route type, '?', query; "" unused */
    uint64_t gen;
    uint64_t used; /* the cache's clock at the last hit */
    char *body; /* h2o shared memory; the cache holds one reference */
    size_t len;
} list_cached;

struct http_list_cache {
    list_cached slot[HTTP_LIST_CACHE_SLOTS];
    uint64_t clock;
};

static void list_slot_clear(list_cached *e)
{
    if (e->body)
        h2o_mem_release_shared(e->body);
    memset(e, 0, sizeof *e);
}

void http_list_cache_free(struct http_list_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < HTTP_LIST_CACHE_SLOTS; i++)
        list_slot_clear(&c->slot[i]);
    free(c);
}

/* The cache key of a listing request into key (cap bytes); false if it is not to be kept. */
static bool list_key(hreq *r, const char *force_type, char *key, size_t cap)
{
    const h2o_req_t *req = r->req;
    size_t ql = req->query_at == SIZE_MAX ? 0 : req->path.len - req->query_at - 1;
    if (ql > HTTP_LIST_CACHE_KEY)
        return false;
    const char *q = ql ? req->path.base + req->query_at + 1 : "";
    int n = snprintf(key, cap, "%s?%.*s", force_type ? force_type : "", (int)ql, q);
    return n > 0 && (size_t)n < cap;
}

/* Answers from the cache if it holds key at gen. */
static bool list_cache_send(hreq *r, const char *key, uint64_t gen)
{
    struct http_list_cache *c = r->mount ? r->mount->lists : NULL;
    for (size_t i = 0; c && gen && i < HTTP_LIST_CACHE_SLOTS; i++) {
        list_cached *e = &c->slot[i];
        if (e->body && e->gen == gen && strcmp(e->key, key) == 0) {
            e->used = ++c->clock;
            r->h->list_hits++;
            http_header(r, "cache-control", "no-store");
            http_send_shared(r, 200, "application/json; charset=utf-8", e->body, e->len);
            return true;
        }
    }
    r->h->list_misses++;
    return false;
}

/*
 * Keeps body as the answer to key at gen, in a copy in shared memory, and
 * returns that copy (the cache's reference), or NULL if it is not kept.
 */
static char *list_cache_put(hreq *r, const char *key, uint64_t gen, const char *body, size_t len)
{
    http_mount *m = r->mount;
    if (!m || !gen || len > HTTP_LIST_CACHE_BODY)
        return NULL;
    if (!m->lists && !(m->lists = calloc(1, sizeof *m->lists)))
        return NULL;
    struct http_list_cache *c = m->lists;
    list_cached *victim = &c->slot[0];
    for (size_t i = 0; i < HTTP_LIST_CACHE_SLOTS; i++) {
        list_cached *e = &c->slot[i];
        if (!e->body || strcmp(e->key, key) == 0 || e->gen != gen) {
            victim = e; /* free, the same query, or stale: no reason to keep it */
            break;
        }
        if (e->used < victim->used)
            victim = e;
    }
    list_slot_clear(victim);
    char *p = h2o_mem_alloc_shared(NULL, len, NULL);
    memcpy(p, body, len);
    snprintf(victim->key, sizeof victim->key, "%s", key);
    victim->gen = gen;
    victim->used = ++c->clock;
    victim->body = p;
    victim->len = len;
    return p;
}

/*
 * GET /api/objects?type=&space=&author=&ref=&limit=&before=
 * Newest first; `before` (ms, exclusive) pages backwards: pass the last
 * item's created. Without space, the time index is scanned and at most
 * 20,000 objects are looked at per call (then "more" is true).
 */
static void api_objects(hreq *r, const char *force_type)
{
    const http_form *q = &r->query;
    const char *type = force_type ? force_type : http_form_get(q, "type");
    const char *space = http_form_get(q, "space");
    const char *author = http_form_get(q, "author");
    const char *ref = http_form_get(q, "ref");
    uint64_t limit = 50, before = 0;
    uint8_t akey[32], rkey[32];
    /* /api/threads and /api/links show the newest version of each, as the pages do. */
    const char *av = http_form_get(q, "all_versions");
    lister l
        = { .r = r, .scan_max = 20000, .newest_only = force_type && !(av && !strcmp(av, "1")) };
    /* Read before anything is rendered: an answer is never older than its generation. */
    uint64_t gen = kn_store_generation(r->n->dd->store);
    char key[HTTP_LIST_CACHE_KEY + 16];
    bool keep = list_key(r, force_type, key, sizeof key);
    if (keep && list_cache_send(r, key, gen))
        return;
    if (http_form_get(q, "limit")
        && parse_uint(http_form_get(q, "limit"), HTTP_LIST_MAX, &limit) < 0) {
        http_error(r, 400, "bad_limit", "limit is a number from 1 to 200");
        return;
    }
    if (http_form_get(q, "before")
        && parse_uint(http_form_get(q, "before"), UINT64_MAX, &before) < 0) {
        http_error(r, 400, "bad_before", "before is a time in ms since 1970");
        return;
    }
    if (type && *type) {
        int t = kn_otype_from_name(type, strlen(type));
        if (t < 0) {
            http_error(r, 400, "bad_type", "unknown object type");
            return;
        }
        l.type = (kn_otype)t;
    }
    kn_store_query sq = { .index = KN_BY_TIME, .reverse = true, .until_ms = before };
    if (space && *space) {
        if (strlen(space) > KN_SPACE_MAX) {
            http_error(r, 400, "bad_space", "an area name is at most 64 bytes");
            return;
        }
        sq.index = KN_BY_SPACE_TYPE;
        sq.space = space;
        sq.type = l.type;
    } else if (author && *author) {
        if (!http_parse_id(author, akey)) {
            http_error(r, 400, "bad_author", "author is 64 hex digits");
            return;
        }
        sq.index = KN_BY_AUTHOR;
        sq.author = akey;
    } else if (ref && *ref) {
        if (!http_parse_id(ref, rkey)) {
            http_error(r, 400, "bad_ref", "ref is 64 hex digits");
            return;
        }
        sq.index = KN_BY_REF;
        sq.ref = rkey;
        sq.type = l.type;
    }
    l.limit = limit ? limit : 50;
    hbuf out = { 0 };
    l.out = &out;
    hb_puts(&out, "{\"items\":[");
    int rc = kn_store_each(r->n->dd->store, &sq, list_visit, &l);
    /* Names read at another generation may lack a name this one has: not kept. */
    keep = keep && (!l.nm.loaded || l.nm.gen == gen);
    names_free(&l.nm);
    if (rc < 0 || out.oom) {
        hb_free(&out);
        http_error(r, 500, "store", rc < 0 ? kn_strerror(rc) : "out of memory");
        return;
    }
    hb_printf(&out, "],\"more\":%s", l.more ? "true" : "false");
    if (l.more && l.last_created)
        hb_printf(&out, ",\"next_before\":%llu", (unsigned long long)l.last_created);
    hb_puts(&out, "}");
    char *kept = keep && !out.oom ? list_cache_put(r, key, gen, out.p, out.len) : NULL;
    http_header(r, "cache-control", "no-store");
    if (kept)
        http_send_shared(r, 200, "application/json; charset=utf-8", kept, out.len);
    else
        http_send(r, 200, "application/json; charset=utf-8", out.p, out.len);
    hb_free(&out);
}

int http_load(
    hreq *r, const char *idhex, kn_otype type, uint8_t id[32], uint8_t **raw, kn_object *o)
{
    size_t len;
    *raw = NULL;
    if (!http_parse_id(idhex, id)) {
        http_error(r, 400, "bad_id", r->api ? "an id is 64 hex digits" : http_tr(r, T_BAD_ID));
        return KN_EINVAL;
    }
    int rc = kn_store_get(r->n->dd->store, id, raw, &len);
    if (rc == KN_ERETRACTED) {
        http_error(
            r, 410, "retracted", r->api ? "this was retracted by its author" : http_tr(r, T_GONE));
        return rc;
    }
    if (rc < 0 || kn_object_decode(o, *raw, len) < 0 || (type && o->type != type)) {
        free(*raw);
        *raw = NULL;
        http_error(
            r, 404, "not_found", r->api ? "no such object here (yet)" : http_tr(r, T_NO_OBJECT));
        return KN_ENOTFOUND;
    }
    return 0;
}

bool http_is_newest(hreq *r, const kn_object *o)
{
    kn_versions vs;
    bool versioned = o->type == KN_T_DOC || o->type == KN_T_THREAD || o->type == KN_T_POST
        || o->type == KN_T_LINK || o->type == KN_T_EVENT;
    if (!versioned || kn_store_versions(r->n->dd->store, o->id, &vs) < 0)
        return true; /* a chain that cannot be read shows the object rather than hiding it */
    return memcmp(kn_versions_newest(&vs), o->id, KN_ID) == 0;
}

bool http_is_version_of(hreq *r, const uint8_t id[KN_ID], const uint8_t of[KN_ID])
{
    kn_versions vs;
    return memcmp(id, of, KN_ID) == 0
        || (kn_store_versions(r->n->dd->store, of, &vs) == 0 && versions_has(&vs, id));
}

int http_edit_base(
    hreq *r, const char *supersedes, kn_otype type, const char *space, uint8_t **raw, kn_object *o)
{
    uint8_t id[KN_ID];
    kn_versions vs;
    if (http_load(r, supersedes, type, id, raw, o) < 0)
        return KN_ENOTFOUND;
    int rc = 0;
    if (memcmp(o->author, r->acct.user, KN_KEY) != 0) {
        http_error(r, 403, "not_author", http_tr(r, T_EDIT_NOT_AUTHOR));
        rc = KN_EPERM;
    } else if (kn_store_versions(r->n->dd->store, id, &vs) < 0
        || memcmp(kn_versions_newest(&vs), id, KN_ID) != 0) {
        http_error(r, 409, "stale", http_tr(r, T_EDIT_STALE));
        rc = KN_ESTATE;
    } else if (space && *space
        && (strlen(space) != o->space_len || memcmp(space, o->space, o->space_len) != 0)) {
        http_error(r, 400, "bad_space", http_tr(r, T_EDIT_SAME_AREA));
        rc = KN_EINVAL;
    }
    if (rc < 0) {
        free(*raw);
        *raw = NULL;
    } else if (r->now <= o->created) {
        /* Versions are ordered by created: the new one must come after (a clock set back). */
        r->now = o->created + 1;
    }
    return rc;
}

int http_retract_versions(hreq *r, const char *idhex, kn_otype type, const char *reason,
    bool only_this, uint8_t retract_id[KN_ID])
{
    uint8_t id[KN_ID], *raw;
    kn_object o;
    kn_versions vs;
    if (http_load(r, idhex, type, id, &raw, &o) < 0)
        return KN_ENOTFOUND;
    bool mine = memcmp(o.author, r->acct.user, KN_KEY) == 0;
    free(raw);
    if (!mine) {
        http_error(r, 403, "not_author", http_tr(r, T_EDIT_NOT_AUTHOR));
        return KN_EPERM;
    }
    if (only_this || kn_store_versions(r->n->dd->store, id, &vs) < 0) {
        vs.n = 1; /* an unreadable chain: at least the one asked for goes */
        vs.self = 0;
        memcpy(vs.id[0], id, KN_ID);
    }
    int count = 0;
    for (size_t i = vs.n; i-- > 0;) {
        uint8_t ref[1][KN_ID], rid[KN_ID];
        memcpy(ref[0], vs.id[i], KN_ID);
        http_field f[]
            = { { .key = "reason", .kind = HF_STR, .s = reason && *reason ? reason : NULL } };
        if (http_publish_fields(r, KN_T_RETRACT, "", (const uint8_t(*)[32])ref, 1, f, 1, rid) < 0)
            return KN_EIO;
        if (i == vs.self && retract_id)
            memcpy(retract_id, rid, KN_ID);
        count++;
    }
    return count;
}

const char *http_member_state(const kn_roster_member *m)
{
    return m->revoked_at != KN_ROSTER_NEVER  ? "revoked"
        : m->founder                         ? "founder"
        : m->member_since != KN_ROSTER_NEVER ? "member"
                                             : "pending";
}

static void api_object(hreq *r, const char *idhex)
{
    uint8_t id[32], *raw;
    kn_object o;
    if (http_load(r, idhex, 0, id, &raw, &o) < 0)
        return;
    json_t *j = http_object_json(r, &o);
    free(raw);
    http_json(r, 200, j);
}

static int post_cmp(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t cx = json_integer_value(json_object_get(x, "created")),
               cy = json_integer_value(json_object_get(y, "created"));
    return cx < cy ? -1
        : cx > cy  ? 1
                   : strcmp(json_string_value(json_object_get(x, "id")),
                       json_string_value(json_object_get(y, "id")));
}

json_t *http_thread_posts(hreq *r, const uint8_t thread[KN_ID], size_t limit)
{
    kn_versions vs;
    if (kn_store_versions(r->n->dd->store, thread, &vs) < 0) {
        vs.n = 1;
        memcpy(vs.id[0], thread, KN_ID);
    }
    lister l = { .r = r,
        .scan_max = 100000,
        .limit = limit,
        .type = KN_T_POST,
        .newest_only = true,
        .thread = &vs,
        .arr = json_array() };
    int rc = 0;
    for (size_t i = 0; i < vs.n && rc >= 0; i++) {
        kn_store_query sq = { .index = KN_BY_REF, .ref = vs.id[i], .type = KN_T_POST };
        rc = kn_store_each(r->n->dd->store, &sq, list_visit, &l);
    }
    names_free(&l.nm);
    size_t n = json_array_size(l.arr);
    json_t **v = n ? malloc(n * sizeof *v) : NULL;
    if (rc < 0 || (n && !v)) {
        free(v);
        json_decref(l.arr);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(l.arr, i));
    json_array_clear(l.arr);
    if (n)
        qsort(v, n, sizeof *v, post_cmp);
    for (size_t i = 0; i < n; i++) {
        /* a post whose refs name two versions of the thread was seen twice */
        if (i == 0 || post_cmp(&v[i - 1], &v[i]) != 0)
            json_array_append(l.arr, v[i]);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(v[i]);
    free(v);
    return l.arr;
}

/* GET /api/threads/ID: the thread and its replies (over all its versions), oldest first. */
static void api_thread(hreq *r, const char *idhex)
{
    uint8_t id[32], *raw;
    kn_object o;
    if (http_load(r, idhex, KN_T_THREAD, id, &raw, &o) < 0)
        return;
    json_t *t = http_object_json(r, &o);
    free(raw);
    json_t *posts = http_thread_posts(r, id, 10000);
    if (!t || !posts) {
        json_decref(t);
        json_decref(posts);
        http_error(r, 500, "store", "cannot read the replies");
        return;
    }
    http_json(r, 200, json_pack("{s:o, s:o}", "thread", t, "posts", posts));
}

/* ---- creating objects ---- */

static const char *jstr(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* "a, b,c" or ["a","b"] → a new JSON array of trimmed non-empty strings (NULL if absent). */
json_t *http_tags_of(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    if (json_is_array(v))
        return json_incref(v);
    if (!json_is_string(v) || !json_string_length(v))
        return NULL;
    json_t *a = json_array();
    const char *s = json_string_value(v);
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && t[-1] == ' ')
            t--;
        if (t > s)
            json_array_append_new(a, json_stringn(s, (size_t)(t - s)));
        s = e;
    }
    if (!json_array_size(a)) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/*
 * The fields of a new object from the request j, or of an edit when j has
 * "supersedes": the version it replaces (http_edit_base, into *braw and
 * base; *braw stays NULL for a new object) gives each of keys the request
 * leaves out (what is left out stays, as with `knoten thread|post|link
 * --edit`) and the area. A new reference; NULL once an error is answered.
 */
static json_t *create_input(hreq *r, json_t *j, kn_otype type, const char *const *keys,
    size_t nkeys, uint8_t **braw, kn_object *base)
{
    json_t *sup = json_object_get(j, "supersedes");
    *braw = NULL;
    if (!sup || json_is_null(sup))
        return json_incref(j);
    if (!json_is_string(sup)) {
        http_error(r, 400, "bad_id", "supersedes is the id of the version an edit replaces");
        return NULL;
    }
    if (http_edit_base(r, json_string_value(sup), type, jstr(j, "space"), braw, base) < 0)
        return NULL;
    json_t *old = kn_objjson_new(base, false), *in = json_object();
    for (size_t i = 0; i < nkeys; i++) {
        json_t *v = json_object_get(j, keys[i]);
        if (!v)
            v = json_object_get(json_object_get(old, "body"), keys[i]);
        if (v)
            json_object_set(in, keys[i], v);
    }
    json_object_set_new(in, "space", json_stringn(base->space, base->space_len));
    json_decref(old);
    return in;
}

/* POST /api/threads {space, title, body, tags[, supersedes]} */
static void api_create_thread(hreq *r)
{
    static const char *const keys[] = { "title", "body", "tags" };
    uint8_t *braw, prev[1][KN_ID];
    kn_object base;
    json_t *j = http_body_json(r), *in;
    if (!j)
        return;
    if (!(in = create_input(r, j, KN_T_THREAD, keys, 3, &braw, &base))) {
        json_decref(j);
        return;
    }
    if (braw)
        memcpy(prev[0], base.id, KN_ID);
    json_t *tags = http_tags_of(in, "tags");
    http_field f[] = { { .key = "title", .kind = HF_STR, .s = jstr(in, "title") },
        { .key = "body", .kind = HF_STR, .s = jstr(in, "body") ? jstr(in, "body") : "" },
        { .key = "tags", .kind = HF_STRS, .arr = tags } };
    if (!jstr(in, "title") || !jstr(in, "space"))
        http_error(r, 400, "missing", "space and title are required");
    else
        publish_fields(r, KN_T_THREAD, jstr(in, "space"), braw ? (const uint8_t(*)[32])prev : NULL,
            braw ? 1 : 0, f, 3);
    free(braw);
    json_decref(tags);
    json_decref(in);
    json_decref(j);
}

/* True if post is a stored post whose thread is thread (any version of it: edits keep replies). */
static bool parent_in_thread(hreq *r, const uint8_t thread[32], const uint8_t post[32])
{
    uint8_t *raw = NULL;
    size_t len;
    kn_object o;
    bool ok = kn_store_get(r->n->dd->store, post, &raw, &len) == 0
        && kn_object_decode(&o, raw, len) == 0 && o.type == KN_T_POST && o.nrefs >= 1
        && http_is_version_of(r, thread, o.refs[0]);
    free(raw);
    return ok;
}

bool http_post_edit_refs(
    hreq *r, const char *thread_hex, const char *parent, const kn_object *base, uint8_t refs[3][32])
{
    uint8_t tid[KN_ID], pid[KN_ID];
    if ((thread_hex && *thread_hex
            && (!http_parse_id(thread_hex, tid) || !http_is_version_of(r, tid, base->refs[0])))
        || (parent && *parent
            && (!http_parse_id(parent, pid) || memcmp(pid, base->refs[1], KN_ID) != 0))) {
        http_error(r, 400, "bad_thread", http_tr(r, T_EDIT_SAME_THREAD));
        return false;
    }
    memcpy(refs[0], base->refs[0], KN_ID);
    memcpy(refs[1], base->refs[1], KN_ID);
    memcpy(refs[2], base->id, KN_ID);
    return true;
}

/* POST /api/threads/ID/posts {body[, parent][, supersedes]} */
static void api_create_post(hreq *r, const char *thread_hex)
{
    static const char *const keys[] = { "body" };
    uint8_t refs[3][32], *raw = NULL, *braw = NULL;
    size_t len;
    kn_object t, base;
    json_t *j = http_body_json(r), *in = NULL;
    if (!j)
        return;
    char space[KN_SPACE_MAX + 1];
    const char *parent = jstr(j, "parent");
    uint32_t nrefs = 2;
    if (!(in = create_input(r, j, KN_T_POST, keys, 1, &braw, &base)))
        goto out;
    if (braw) {
        if (!http_post_edit_refs(r, thread_hex, parent, &base, refs))
            goto out;
        snprintf(space, sizeof space, "%.*s", (int)base.space_len, base.space);
        nrefs = 3;
    } else {
        if (!http_parse_id(thread_hex, refs[0])
            || kn_store_get(r->n->dd->store, refs[0], &raw, &len) < 0
            || kn_object_decode(&t, raw, len) < 0 || t.type != KN_T_THREAD) {
            http_error(r, 404, "not_found", "no such thread here");
            goto out;
        }
        snprintf(space, sizeof space, "%.*s", (int)t.space_len, t.space);
        memcpy(refs[1], refs[0], 32);
        if (parent && *parent && !http_parse_id(parent, refs[1])) {
            http_error(r, 400, "bad_parent", "parent is the id of a post (64 hex digits)");
            goto out;
        }
        /* A parent this node does not hold would leave the reply pending, unseen (fuzz_http_api).
         */
        if (memcmp(refs[1], refs[0], 32) != 0 && !parent_in_thread(r, refs[0], refs[1])) {
            http_error(r, 400, "bad_parent", "parent is not a post of this thread here");
            goto out;
        }
    }
    http_field f[] = { { .key = "body", .kind = HF_STR, .s = jstr(in, "body") } };
    if (!jstr(in, "body") || !*jstr(in, "body"))
        http_error(r, 400, "missing", "body is required");
    else
        publish_fields(r, KN_T_POST, space, (const uint8_t(*)[32])refs, nrefs, f, 1);
out:
    free(raw);
    free(braw);
    json_decref(in);
    json_decref(j);
}

/* POST /api/links {space, title, url, description, tags[, supersedes]} */
static void api_create_link(hreq *r)
{
    static const char *const keys[] = { "title", "url", "description", "tags" };
    uint8_t *braw, prev[1][KN_ID];
    kn_object base;
    json_t *j = http_body_json(r), *in;
    if (!j)
        return;
    if (!(in = create_input(r, j, KN_T_LINK, keys, 4, &braw, &base))) {
        json_decref(j);
        return;
    }
    if (braw)
        memcpy(prev[0], base.id, KN_ID);
    json_t *tags = http_tags_of(in, "tags");
    const char *desc = jstr(in, "description");
    http_field f[] = { { .key = "title", .kind = HF_STR, .s = jstr(in, "title") },
        { .key = "url", .kind = HF_STR, .s = jstr(in, "url") },
        { .key = "description", .kind = HF_STR, .s = desc && *desc ? desc : NULL },
        { .key = "tags", .kind = HF_STRS, .arr = tags } };
    if (!jstr(in, "title") || !jstr(in, "url") || !jstr(in, "space"))
        http_error(r, 400, "missing", "space, title and url are required");
    else
        publish_fields(r, KN_T_LINK, jstr(in, "space"), braw ? (const uint8_t(*)[32])prev : NULL,
            braw ? 1 : 0, f, 4);
    free(braw);
    json_decref(tags);
    json_decref(in);
    json_decref(j);
}

/* POST /api/objects/ID/retract {reason, this_version_only}: every version unless asked. */
static void api_retract(hreq *r, const char *idhex)
{
    uint8_t rid[KN_ID];
    json_t *j = http_body_json(r);
    if (!j)
        return;
    int n = http_retract_versions(
        r, idhex, 0, jstr(j, "reason"), json_is_true(json_object_get(j, "this_version_only")), rid);
    json_decref(j);
    if (n < 0)
        return;
    char hex[65];
    kn_hex_encode(hex, rid, KN_ID);
    http_json(r, 201, json_pack("{s:s, s:i}", "id", hex, "retracted", n));
}

/* ---- areas ---- */

typedef struct area_acc {
    json_t *counts; /* space -> count */
    size_t scanned;
} area_acc;

static int area_visit(void *ctx, const kn_object *o)
{
    area_acc *a = ctx;
    if (++a->scanned > 200000)
        return 1;
    if (!o->space_len)
        return 0;
    char sp[KN_SPACE_MAX + 1];
    snprintf(sp, sizeof sp, "%.*s", (int)o->space_len, o->space);
    json_t *c = json_object_get(a->counts, sp);
    json_object_set_new(a->counts, sp, json_integer(c ? json_integer_value(c) + 1 : 1));
    return 0;
}

/* GET /api/areas: every area with its number of objects (a scan, bounded). */
static void api_areas(hreq *r)
{
    area_acc a = { json_object(), 0 };
    kn_store_query sq = { .index = KN_BY_TIME, .reverse = true };
    int rc = kn_store_each(r->n->dd->store, &sq, area_visit, &a);
    if (rc < 0) {
        json_decref(a.counts);
        http_error(r, 500, "store", kn_strerror(rc));
        return;
    }
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(a.counts, k, v)
    {
        json_array_append_new(arr, json_pack("{s:s, s:O}", "name", k, "objects", v));
    }
    json_decref(a.counts);
    http_json(r, 200, json_pack("{s:o}", "areas", arr));
}

/* ---- people, councils, peers, invites ---- */

static void api_users(hreq *r)
{
    kn_user_entry *v = NULL;
    size_t n = 0;
    names nm = { 0 };
    int rc = kn_users_list(r->n->dd, true, &v, &n);
    if (rc < 0) {
        http_error(r, 500, "store", kn_strerror(rc));
        return;
    }
    const char *q = http_form_get(&r->query, "q");
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (v[i].r.revoked_at != KN_ROSTER_NEVER)
            continue;
        if (q && *q && !strcasestr(v[i].name, q) && !strcasestr(v[i].expertise, q)
            && !strcasestr(v[i].role, q))
            continue;
        char key[65];
        kn_hex_encode(key, v[i].r.key, 32);
        json_t *u = json_pack("{s:s, s:s, s:s, s:s, s:s}", "key", key, "name", v[i].name, "role",
            v[i].role, "expertise", v[i].expertise, "lang", v[i].lang);
        names_load(r, &nm);
        const name_entry *c = names_find(&nm, v[i].r.node);
        if (c)
            json_object_set_new(u, "council", json_string(c->name));
        json_array_append_new(arr, u);
    }
    names_free(&nm);
    free(v);
    http_json(r, 200, json_pack("{s:o}", "users", arr));
}

static void api_members(hreq *r)
{
    kn_roster_member *m = NULL;
    size_t n = 0;
    names nm = { 0 };
    int rc = kn_store_members_list(r->n->dd->store, &m, &n);
    if (rc < 0) {
        http_error(r, 500, "store", kn_strerror(rc));
        return;
    }
    names_load(r, &nm);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!kn_roster_is_node(&m[i]))
            continue;
        char key[65];
        kn_hex_encode(key, m[i].key, 32);
        const char *state = http_member_state(&m[i]);
        const name_entry *e = names_find(&nm, m[i].key);
        json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:b}", "key", key, "name", e ? e->name : "",
            "state", state, "signatures", (int)m[i].nadmits, "self",
            memcmp(m[i].key, r->n->dd->identity_pk, 32) == 0);
        if (m[i].member_since != KN_ROSTER_NEVER)
            json_object_set_new(o, "since", json_integer((json_int_t)m[i].member_since));
        if (m[i].revoked_at != KN_ROSTER_NEVER)
            json_object_set_new(o, "revoked_at", json_integer((json_int_t)m[i].revoked_at));
        json_array_append_new(arr, o);
    }
    names_free(&nm);
    free(m);
    http_json(r, 200, json_pack("{s:o}", "members", arr));
}

json_t *http_peers_json(hreq *r)
{
    kn_peer_state st = { 0 };
    json_t *arr = json_array();
    if (node_peer_state(r->n, true, r->now, &st) < 0)
        return arr;
    for (size_t i = 0; i < st.n; i++) {
        kn_peer_status *p = &st.v[i];
        char id[65] = "";
        if (p->has_identity)
            kn_hex_encode(id, p->identity, 32);
        json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:s}", "addr", p->addr,
            "identity", id, "phase", kn_peer_phase_name(p->phase), "inbound", p->inbound,
            "announced", p->announced, "bytes_in", (json_int_t)p->bytes_in, "bytes_out",
            (json_int_t)p->bytes_out, "last_error", p->last_error);
        json_object_set_new(o, "since", json_integer((json_int_t)p->since_ms));
        json_object_set_new(o, "sync",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "objs_in", (json_int_t)p->sync.objs_in,
                "objs_out", (json_int_t)p->sync.objs_out, "last_reconciliation",
                (json_int_t)p->sync.recon_ms, "duration_ms", (json_int_t)p->sync.recon_duration_ms,
                "recon_in", (json_int_t)p->sync.recon_in, "recon_out",
                (json_int_t)p->sync.recon_out));
        json_array_append_new(arr, o);
    }
    kn_peer_state_free(&st);
    return arr;
}

static void api_invites(hreq *r)
{
    kn_invite_list l = { 0 };
    if (kn_invites_load(r->n->dd->store, &l) < 0) {
        http_error(r, 500, "store", "cannot read the invites");
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++) {
        kn_invite_record *v = &l.v[i];
        json_array_append_new(arr,
            json_pack("{s:i, s:s, s:s, s:I, s:I}", "id", (int)v->id, "note", v->note, "state",
                kn_invite_record_state(v, r->now), "created", (json_int_t)v->created_ms, "expires",
                (json_int_t)v->expires_ms));
    }
    kn_invite_list_free(&l);
    http_json(r, 200, json_pack("{s:o}", "invites", arr));
}

static void api_invite_create(hreq *r)
{
    json_t *j = http_body_json(r);
    if (!j)
        return;
    const char *note = jstr(j, "note");
    const char *exp = jstr(j, "expires");
    uint64_t ttl = 7ull * 24 * 3600 * 1000;
    char *code = NULL;
    if (exp && kn_invites_parse_ttl(exp, &ttl) < 0) {
        http_error(r, 400, "bad_expires", "expires is like 30m, 12h, 7d or 2w (at most 90d)");
    } else if (http_invite_create(r, note ? note : "", ttl, &code) == 0) {
        http_json(r, 201, json_pack("{s:s}", "code", code));
        kn_memzero(code, strlen(code));
    }
    free(code);
    json_decref(j);
}

static void api_invite_withdraw(hreq *r, const char *id)
{
    uint64_t v;
    if (parse_uint(id, UINT32_MAX, &v) < 0) {
        http_error(r, 400, "bad_id", "an invite id is a number");
        return;
    }
    int rc = kn_invites_withdraw(r->n->dd, (uint32_t)v, r->now);
    if (rc < 0) {
        http_error(r, rc == KN_ENOTFOUND ? 404 : 409, "refused",
            rc == KN_ENOTFOUND ? "no such invite" : "the invite is not open any more");
        return;
    }
    http_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void api_status(hreq *r)
{
    kn_store_stats st;
    char id[65];
    kn_hex_encode(id, r->n->dd->identity_pk, 32);
    if (kn_store_stats_get(r->n->dd->store, &st) < 0) {
        http_error(r, 500, "store", "cannot read the store");
        return;
    }
    http_json(r, 200,
        json_pack("{s:s, s:I, s:I, s:I, s:I}", "identity", id, "objects", (json_int_t)st.objects,
            "pending", (json_int_t)st.pending, "tombstones", (json_int_t)st.tombstones,
            "store_bytes", (json_int_t)st.map_used));
}

/* POST /api/markdown {"text": "..."}: the HTML the pages would show (the preview). */
static void api_markdown(hreq *r)
{
    json_t *j = http_body_json(r);
    if (!j)
        return;
    const char *t = jstr(j, "text");
    char *html = NULL;
    int rc = t ? kn_markdown_to_html(t, strlen(t), &html) : KN_EINVAL;
    json_decref(j);
    if (rc < 0) {
        http_error(r, rc == KN_ETOOBIG ? 413 : 400, "bad_text",
            rc == KN_ETOOBIG ? "the text is too long" : "give {\"text\": \"...\"}");
        return;
    }
    http_json(r, 200, json_pack("{s:s}", "html", html));
    free(html);
}

/* ---- routing ---- */

static bool is(hreq *r, size_t n, const char *s0, const char *s1)
{
    return r->nseg == n && (!s0 || strcmp(r->seg[0], s0) == 0)
        && (!s1 || (n > 1 && strcmp(r->seg[1], s1) == 0));
}

void http_api_route(hreq *r, const char *path)
{
    (void)path;
    bool get = http_method_is(r, "GET") || http_method_is(r, "HEAD");
    bool post = http_method_is(r, "POST");
    if (is(r, 1, "login", NULL) && post) {
        http_auth_api_login(r);
        return;
    }
    if (!r->authed) {
        http_error(r, 401, "unauthenticated", "log in first (POST /api/login)");
        return;
    }
    if (!get && !http_auth_csrf_ok(r)) {
        http_error(r, 403, "csrf", "missing or wrong X-CSRF-Token (see GET /api/session)");
        return;
    }
    if (http_blob_api(r) || http_docs_api(r) || http_collab_api(r) || http_msg_api(r)
        || http_search_api(r))
        return;
    if (is(r, 1, "logout", NULL) && post)
        http_auth_api_logout(r);
    else if (is(r, 1, "session", NULL) && get)
        http_auth_api_session(r);
    else if (is(r, 1, "status", NULL) && get)
        api_status(r);
    else if (is(r, 1, "objects", NULL) && get)
        api_objects(r, NULL);
    else if (is(r, 2, "objects", NULL) && get)
        api_object(r, r->seg[1]);
    else if (is(r, 3, "objects", NULL) && post && !strcmp(r->seg[2], "retract"))
        api_retract(r, r->seg[1]);
    else if (is(r, 1, "threads", NULL) && get)
        api_objects(r, "thread");
    else if (is(r, 1, "threads", NULL) && post)
        api_create_thread(r);
    else if (is(r, 2, "threads", NULL) && get)
        api_thread(r, r->seg[1]);
    else if (is(r, 3, "threads", NULL) && post && !strcmp(r->seg[2], "posts"))
        api_create_post(r, r->seg[1]);
    else if (is(r, 1, "links", NULL) && get)
        api_objects(r, "link");
    else if (is(r, 1, "links", NULL) && post)
        api_create_link(r);
    else if (is(r, 1, "markdown", NULL) && post)
        api_markdown(r);
    else if (is(r, 1, "areas", NULL) && get)
        api_areas(r);
    else if (is(r, 1, "users", NULL) && get)
        api_users(r);
    else if (is(r, 1, "members", NULL) && get)
        api_members(r);
    else if (is(r, 1, "peers", NULL) && get) {
        if (need_admin(r))
            http_json(r, 200, json_pack("{s:o}", "peers", http_peers_json(r)));
    } else if (is(r, 1, "invites", NULL) && get) {
        if (need_admin(r))
            api_invites(r);
    } else if (is(r, 1, "invites", NULL) && post) {
        if (need_admin(r))
            api_invite_create(r);
    } else if (is(r, 3, "invites", NULL) && post && !strcmp(r->seg[2], "withdraw")) {
        if (need_admin(r))
            api_invite_withdraw(r, r->seg[1]);
    } else
        http_error(r, 404, "not_found", "no such endpoint (see docs/api.md)");
}

/* ---- /metrics ---- */

void http_api_metrics(hreq *r)
{
    http *h = r->h;
    hbuf b = { 0 };
    kn_store_stats st;
    if (kn_store_stats_get(r->n->dd->store, &st) == 0) {
        hb_printf(&b,
            "# HELP knoten_objects Signed objects stored.\n# TYPE knoten_objects gauge\n"
            "knoten_objects %llu\n"
            "# HELP knoten_pending Objects waiting for a dependency.\n# TYPE knoten_pending gauge\n"
            "knoten_pending %llu\n"
            "# HELP knoten_tombstones Retracted ids.\n# TYPE knoten_tombstones gauge\n"
            "knoten_tombstones %llu\n"
            "# HELP knoten_store_bytes Bytes used in the LMDB map.\n# TYPE knoten_store_bytes "
            "gauge\n"
            "knoten_store_bytes %llu\n"
            "# HELP knoten_store_map_bytes Size of the LMDB map.\n# TYPE knoten_store_map_bytes "
            "gauge\n"
            "knoten_store_map_bytes %llu\n",
            (unsigned long long)st.objects, (unsigned long long)st.pending,
            (unsigned long long)st.tombstones, (unsigned long long)st.map_used,
            (unsigned long long)st.map_size);
    }
    kn_peer_state ps = { 0 };
    uint64_t connected = 0, objs_in = 0, objs_out = 0, bin = 0, bout = 0, rounds_last = 0;
    if (node_peer_state(r->n, true, r->now, &ps) == 0) {
        for (size_t i = 0; i < ps.n; i++) {
            connected += ps.v[i].phase == KN_PHASE_CONNECTED;
            objs_in += ps.v[i].sync.objs_in;
            objs_out += ps.v[i].sync.objs_out;
            bin += ps.v[i].bytes_in;
            bout += ps.v[i].bytes_out;
            if (ps.v[i].sync.recon_ms > rounds_last)
                rounds_last = ps.v[i].sync.recon_ms;
        }
    }
    hb_printf(&b,
        "# HELP knoten_peers Peers known to the node (configured, announced, inbound).\n"
        "# TYPE knoten_peers gauge\nknoten_peers %zu\n"
        "# HELP knoten_peers_connected Peers with an established session.\n"
        "# TYPE knoten_peers_connected gauge\nknoten_peers_connected %llu\n"
        "# HELP knoten_sync_objects_received Objects received from the current peers' sessions.\n"
        "# TYPE knoten_sync_objects_received gauge\nknoten_sync_objects_received %llu\n"
        "# HELP knoten_sync_objects_sent Objects sent in the current peers' sessions.\n"
        "# TYPE knoten_sync_objects_sent gauge\nknoten_sync_objects_sent %llu\n"
        "# HELP knoten_peer_bytes_received Bytes received from the current peers.\n"
        "# TYPE knoten_peer_bytes_received gauge\nknoten_peer_bytes_received %llu\n"
        "# HELP knoten_peer_bytes_sent Bytes sent to the current peers.\n"
        "# TYPE knoten_peer_bytes_sent gauge\nknoten_peer_bytes_sent %llu\n"
        "# HELP knoten_sync_last_reconciliation_ms When the last reconciliation started (ms "
        "since 1970).\n# TYPE knoten_sync_last_reconciliation_ms gauge\n"
        "knoten_sync_last_reconciliation_ms %llu\n",
        ps.n, (unsigned long long)connected, (unsigned long long)objs_in,
        (unsigned long long)objs_out, (unsigned long long)bin, (unsigned long long)bout,
        (unsigned long long)rounds_last);
    kn_peer_state_free(&ps);
    hb_puts(&b,
        "# HELP knoten_http_requests_total HTTP responses by status code.\n"
        "# TYPE knoten_http_requests_total counter\n");
    h->status_counts[200]++; /* this response */
    for (int s = 100; s < 600; s++)
        if (h->status_counts[s])
            hb_printf(&b, "knoten_http_requests_total{code=\"%d\"} %llu\n", s,
                (unsigned long long)h->status_counts[s]);
    h->status_counts[200]--;
    hb_printf(&b,
        "# HELP knoten_http_connections Open HTTP connections.\n"
        "# TYPE knoten_http_connections gauge\nknoten_http_connections %u\n"
        "# HELP knoten_http_logins_total Web logins by outcome.\n"
        "# TYPE knoten_http_logins_total counter\n"
        "knoten_http_logins_total{outcome=\"ok\"} %llu\n"
        "knoten_http_logins_total{outcome=\"failed\"} %llu\n"
        "knoten_http_logins_total{outcome=\"rate_limited\"} %llu\n"
        "# HELP knoten_http_csrf_refused_total State changes refused for a missing or wrong CSRF "
        "token.\n# TYPE knoten_http_csrf_refused_total counter\nknoten_http_csrf_refused_total "
        "%llu\n"
        "# HELP knoten_http_listing_cache_total Listings answered from the cache of rendered "
        "listings (hit) or rendered (miss).\n# TYPE knoten_http_listing_cache_total counter\n"
        "knoten_http_listing_cache_total{result=\"hit\"} %llu\n"
        "knoten_http_listing_cache_total{result=\"miss\"} %llu\n"
        "# HELP knoten_http_password_checks Argon2id password checks of logins on the thread "
        "pool.\n# TYPE knoten_http_password_checks gauge\n"
        "knoten_http_password_checks{state=\"running\"} %u\n"
        "knoten_http_password_checks{state=\"waiting\"} %u\n",
        h->nconns, (unsigned long long)h->logins_ok, (unsigned long long)h->logins_failed,
        (unsigned long long)h->logins_limited, (unsigned long long)h->csrf_refused,
        (unsigned long long)h->list_hits, (unsigned long long)h->list_misses, h->auth_running,
        h->auth_queued);
    if (b.oom) {
        hb_free(&b);
        http_error(r, 500, "oom", "out of memory");
        return;
    }
    http_header(r, "cache-control", "no-store");
    http_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
    hb_free(&b);
}

int http_invite_create(hreq *r, const char *note, uint64_t ttl_ms, char **code_out)
{
    char defaults[KN_INVITE_ADDRS_MAX][KN_INVITE_ADDR_MAX + 1];
    const char *use[KN_INVITE_ADDRS_MAX];
    size_t nuse = 0;
    kn_invite inv;
    uint32_t id;
    memset(&inv, 0, sizeof inv);
    *code_out = NULL;
    if (kn_invites_default_addrs(r->n->dd, defaults, &nuse) < 0 || nuse == 0) {
        http_error(r, 409, "no_address",
            "this node announces no address yet: start it with `knoten run --announce HOST:PORT` "
            "or create the first invite with `knoten invite --address HOST:PORT`");
        return KN_ESTATE;
    }
    for (size_t i = 0; i < nuse; i++)
        use[i] = defaults[i];
    int rc = kn_invites_create(r->n->dd, r->n->env, use, nuse, ttl_ms, note, &inv, &id);
    if (rc < 0) {
        http_error(r, rc == KN_ELIMIT ? 409 : 400, "refused",
            rc == KN_ELIMIT ? "too many open invites; withdraw some" : kn_strerror(rc));
        return rc;
    }
    char *text = malloc(KN_INVITE_TEXT_MAX + 1);
    if (!text || kn_invite_encode(&inv, text, KN_INVITE_TEXT_MAX + 1, NULL) < 0) {
        free(text);
        kn_invite_wipe(&inv);
        http_error(r, 500, "internal", "cannot write the invite code");
        return KN_ENOMEM;
    }
    kn_invite_wipe(&inv);
    *code_out = text;
    return 0;
}
