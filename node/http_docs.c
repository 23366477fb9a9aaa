/*
 * Documents in the web interface and the API (docs/api.md, "Documents"):
 * the list with filters, one document with its files and versions, the
 * upload form, publishing a doc from uploaded files, new versions and
 * retraction. File contents go in and out through http_blob.c.
 *
 * A version chain is what kn_store_versions() says: a doc and the docs of
 * the same author that name it as their previous version. Lists show each
 * chain once, as its newest version, with the number of versions; a page of
 * an older version says so and links the newest. Only the author of a doc
 * may publish a new version of it or retract it (the store refuses other
 * authors' versions anyway; the pages do not offer it).
 *
 * Callers: http_api.c (http_docs_api) and http_pages.c (http_docs_pages).
 */
#include <stdlib.h>
#include <string.h>

#include "blobstore.h"
#include "hex.h"
#include "http_impl.h"

static const char *tr(const hreq *r, enum kn_text t)
{
    return http_tr(r, t);
}

static const char *const kinds[]
    = { "letter", "checklist", "form", "instruction", "template", "other" };
enum { NKINDS = sizeof kinds / sizeof kinds[0] };

static enum kn_text kind_text(const char *k)
{
    static const enum kn_text t[NKINDS] = { T_KIND_letter, T_KIND_checklist, T_KIND_form,
        T_KIND_instruction, T_KIND_template, T_KIND_other };
    for (size_t i = 0; i < NKINDS; i++)
        if (!strcmp(k, kinds[i]))
            return t[i];
    return T_KIND_other;
}

static bool kind_ok(const char *k)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (!strcmp(k, kinds[i]))
            return true;
    return false;
}

/* ---- a doc as JSON ---- */

/* "complete", "fetching" or "refused" for one file, with the parts present. */
static json_t *file_json(hreq *r, const char *idhex, uint32_t i, const kn_doc_file *f)
{
    kn_blob_info in;
    const char *state = "fetching";
    uint32_t present = 0, nchunks = kn_blob_nchunks(f->size);
    const char *reason = NULL;
    if (kn_blob_info_get(r->n->dd->store, f->blob, NULL, &in) == 0) {
        present = in.present;
        if (in.complete) {
            state = "complete";
            present = nchunks;
        } else if (in.admission != KN_BLOB_ACCEPTED && in.admission != KN_BLOB_NOREF) {
            state = "refused";
            reason = kn_blob_admission_text(in.admission);
        }
    }
    char blob[65], href[120];
    kn_hex_encode(blob, f->blob, KN_BLOB_ID);
    snprintf(href, sizeof href, "api/docs/%s/files/%u", idhex, i);
    json_t *j = json_pack("{s:i, s:s%, s:s%, s:I, s:s, s:s, s:i, s:i, s:s}", "index", (int)i,
        "name", f->name, (size_t)f->name_len, "mime", f->mime, (size_t)f->mime_len, "size",
        (json_int_t)f->size, "blob", blob, "state", state, "present", (int)present, "chunks",
        (int)nchunks, "href", href);
    if (reason)
        json_object_set_new(j, "reason", json_string(reason));
    return j;
}

/* The object's JSON plus files (with their state here), total size and number of versions. */
static json_t *doc_json(hreq *r, const kn_object *o, size_t nversions)
{
    json_t *j = http_object_json(r, o);
    kn_doc_file f[KN_DOC_FILES_MAX];
    uint32_t nf = 0;
    char idhex[65];
    if (!j)
        return NULL;
    kn_hex_encode(idhex, o->id, KN_ID);
    json_t *files = json_array();
    uint64_t total = 0;
    if (kn_doc_files(o, f, &nf) == 0)
        for (uint32_t i = 0; i < nf; i++) {
            json_array_append_new(files, file_json(r, idhex, i, &f[i]));
            total += f[i].size;
        }
    json_object_set_new(j, "files", files);
    json_object_set_new(j, "size", json_integer((json_int_t)total));
    json_object_set_new(j, "versions", json_integer((json_int_t)nversions));
    return j;
}

/* ---- listing ---- */

typedef struct doc_lister {
    hreq *r;
    json_t *arr;
    const char *kind; /* NULL: any */
    bool all_versions;
    size_t limit, scanned, count;
    uint64_t last_created;
    bool more;
    int err;
} doc_lister;

static int doc_visit(void *ctx, const kn_object *o)
{
    doc_lister *l = ctx;
    if (++l->scanned > 20000) {
        l->more = true;
        return 1;
    }
    if (o->type != KN_T_DOC)
        return 0;
    if (l->kind) {
        const char *k;
        uint32_t kl;
        if (kn_object_str(o, "kind", &k, &kl) < 0 || kl != strlen(l->kind)
            || memcmp(k, l->kind, kl) != 0)
            return 0;
    }
    kn_versions vs;
    if (kn_store_versions(l->r->n->dd->store, o->id, &vs) < 0) {
        vs.n = 1; /* a chain that cannot be read shows the doc rather than hiding it */
        memcpy(vs.id[0], o->id, KN_ID);
    }
    if (!l->all_versions && memcmp(kn_versions_newest(&vs), o->id, KN_ID) != 0)
        return 0;
    if (l->count == l->limit) {
        l->more = true;
        return 1;
    }
    json_t *j = doc_json(l->r, o, vs.n);
    if (!j) {
        l->err = KN_ENOMEM;
        return 1;
    }
    json_array_append_new(l->arr, j);
    l->count++;
    l->last_created = o->created;
    return 0;
}

/*
 * The newest version of each chain, newest first: in one area (space) or
 * all, of one kind or all, created before `before` (ms; 0: now). NULL on
 * error (answered).
 */
static json_t *doc_list(hreq *r, const char *space, const char *kind, uint64_t before, size_t limit,
    bool all_versions, bool *more, uint64_t *next_before)
{
    doc_lister l = {
        .r = r, .kind = kind && *kind ? kind : NULL, .all_versions = all_versions, .limit = limit
    };
    /* space NULL: docs of every area, one seek per area (store.h) */
    kn_store_query q = { .index = KN_BY_SPACE_TYPE,
        .space = space && *space ? space : NULL,
        .type = KN_T_DOC,
        .reverse = true,
        .until_ms = before };
    l.arr = json_array();
    int rc = kn_store_each(r->n->dd->store, &q, doc_visit, &l);
    if (rc < 0 || l.err < 0 || !l.arr) {
        json_decref(l.arr);
        http_error(r, 500, "store", kn_strerror(rc < 0 ? rc : l.err));
        return NULL;
    }
    *more = l.more;
    *next_before = l.more ? l.last_created : 0;
    return l.arr;
}

/* Reads space, kind, before, limit of the query; false (answered) if one is malformed. */
static bool list_params(
    hreq *r, const char **space, const char **kind, uint64_t *before, uint64_t *limit)
{
    const http_form *q = &r->query;
    char *end;
    *space = http_form_get(q, "space");
    *kind = http_form_get(q, "kind");
    const char *b = http_form_get(q, "before"), *lim = http_form_get(q, "limit");
    *before = 0;
    *limit = 50;
    if (*space && strlen(*space) > KN_SPACE_MAX) {
        http_error(r, 400, "bad_space", "an area name is at most 64 bytes");
        return false;
    }
    if (*kind && **kind && !kind_ok(*kind)) {
        http_error(r, 400, "bad_kind",
            "kind is one of letter, checklist, form, instruction, template, other");
        return false;
    }
    if (b && *b && (b[0] == '-' || (*before = strtoull(b, &end, 10), *end))) {
        http_error(r, 400, "bad_before", "before is a time in ms since 1970");
        return false;
    }
    if (lim && *lim
        && (lim[0] == '-' || (*limit = strtoull(lim, &end, 10), *end) || *limit < 1
            || *limit > HTTP_LIST_MAX)) {
        http_error(r, 400, "bad_limit", "limit is a number from 1 to 200");
        return false;
    }
    return true;
}

/* GET /api/docs?space=&kind=&before=&limit=&all_versions=1 */
static void api_docs(hreq *r)
{
    const char *space, *kind, *av = http_form_get(&r->query, "all_versions");
    uint64_t before, limit, next = 0;
    bool more = false;
    if (!list_params(r, &space, &kind, &before, &limit))
        return;
    json_t *items = doc_list(r, space, kind, before, limit, av && !strcmp(av, "1"), &more, &next);
    if (!items)
        return;
    json_t *j = json_pack("{s:o, s:b}", "items", items, "more", more);
    if (next)
        json_object_set_new(j, "next_before", json_integer((json_int_t)next));
    http_json(r, 200, j);
}

/* ---- one doc ---- */

typedef struct docpage {
    uint8_t id[KN_ID];
    uint8_t *raw;
    kn_object o;
    kn_versions vs;
} docpage;

/* Loads the doc idhex and its versions; < 0 with the answer sent. */
static int doc_load(hreq *r, const char *idhex, docpage *d)
{
    memset(d, 0, sizeof *d);
    if (http_load(r, idhex, KN_T_DOC, d->id, &d->raw, &d->o) < 0)
        return KN_ENOTFOUND;
    if (kn_store_versions(r->n->dd->store, d->id, &d->vs) < 0) {
        d->vs.n = 1;
        d->vs.self = 0;
        memcpy(d->vs.id[0], d->id, KN_ID);
        d->vs.created[0] = d->o.created;
    }
    return 0;
}

/* The versions as [{id, created, title}], oldest first. */
static json_t *versions_json(hreq *r, const kn_versions *vs)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < vs->n; i++) {
        char hex[65], title[301] = "";
        uint8_t *raw = NULL;
        size_t len;
        kn_object o;
        kn_hex_encode(hex, vs->id[i], KN_ID);
        if (kn_store_get(r->n->dd->store, vs->id[i], &raw, &len) == 0
            && kn_object_decode(&o, raw, len) == 0) {
            const char *t;
            uint32_t tl;
            if (kn_object_str(&o, "title", &t, &tl) == 0)
                snprintf(title, sizeof title, "%.*s", (int)tl, t);
        }
        free(raw);
        json_array_append_new(arr,
            json_pack("{s:s, s:I, s:s}", "id", hex, "created", (json_int_t)vs->created[i], "title",
                title));
    }
    return arr;
}

/* GET /api/docs/ID: {doc, versions, newest} */
static void api_doc(hreq *r, const char *idhex)
{
    docpage d;
    if (doc_load(r, idhex, &d) < 0)
        return;
    char newest[65];
    kn_hex_encode(newest, kn_versions_newest(&d.vs), KN_ID);
    json_t *j = json_pack("{s:o, s:o, s:s}", "doc", doc_json(r, &d.o, d.vs.n), "versions",
        versions_json(r, &d.vs), "newest", newest);
    free(d.raw);
    http_json(r, 200, j);
}

/* ---- publishing ---- */

/* One file of the new doc: from an upload, or kept from the previous version. */
typedef struct newfile {
    uint8_t blob[KN_BLOB_ID];
    uint64_t size;
    char name[KN_FILE_NAME_MAX + 1];
    char mime[KN_MIME_MAX + 1];
    const char *upload; /* the upload id, or NULL */
} newfile;

static const char *jstr(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* An optional uint field of j: false (answered) if present but not a non-negative integer. */
static bool juint(hreq *r, json_t *j, const char *k, bool *has, uint64_t *v)
{
    json_t *x = json_object_get(j, k);
    *has = x && !json_is_null(x);
    if (!*has)
        return true;
    if (!json_is_integer(x) || json_integer_value(x) < 0) {
        char msg[120];
        snprintf(msg, sizeof msg, "%s is a time in ms since 1970", k);
        http_error(r, 400, "bad_field", msg);
        return false;
    }
    *v = (uint64_t)json_integer_value(x);
    return true;
}

/*
 * POST /api/docs {title, space, kind, description, tags, lang, licence,
 * valid_from, valid_until, files: [upload ids], supersedes, keep: [indexes
 * of the previous version's files]}: signs the doc as the signed-in person.
 */
static void api_doc_create(hreq *r)
{
    json_t *j = http_body_json(r);
    if (!j)
        return;
    newfile *nf = calloc(KN_DOC_FILES_MAX, sizeof *nf);
    size_t n = 0;
    docpage prev = { 0 };
    bool has_prev = false, has_from, has_until;
    uint64_t from = 0, until = 0;
    json_t *tags = http_tags_of(j, "tags");
    json_t *files = json_object_get(j, "files"), *keep = json_object_get(j, "keep");
    const char *sup = jstr(j, "supersedes");
    char space[KN_SPACE_MAX + 1] = "";
    const char *title = jstr(j, "title"), *kind = jstr(j, "kind");
    char prev_title[301] = "", prev_kind[32] = "";
    kn_mp_out fo;
    kn_mp_out_init(&fo, KN_OBJECT_MAX);
    if (!nf) {
        http_error(r, 500, "oom", "out of memory");
        goto out;
    }
    if (!juint(r, j, "valid_from", &has_from, &from)
        || !juint(r, j, "valid_until", &has_until, &until))
        goto out;
    if ((files && !json_is_array(files)) || (keep && !json_is_array(keep))) {
        http_error(r, 400, "bad_files", "files is a list of upload ids, keep a list of numbers");
        goto out;
    }
    if (jstr(j, "space"))
        snprintf(space, sizeof space, "%s", jstr(j, "space"));
    if (jstr(j, "space") && strlen(jstr(j, "space")) > KN_SPACE_MAX) {
        http_error(r, 400, "bad_space", "an area name is at most 64 bytes");
        goto out;
    }
    if (sup && *sup) {
        if (doc_load(r, sup, &prev) < 0)
            goto out;
        has_prev = true;
        if (memcmp(prev.o.author, r->acct.user, KN_KEY) != 0) {
            http_error(r, 403, "not_author",
                "only the author of a document can publish a new version of it; publish a "
                "document of your own instead");
            goto out;
        }
        const char *s;
        uint32_t sl;
        if (!*space)
            snprintf(space, sizeof space, "%.*s", (int)prev.o.space_len, prev.o.space);
        if (!title && kn_object_str(&prev.o, "title", &s, &sl) == 0)
            title = (snprintf(prev_title, sizeof prev_title, "%.*s", (int)sl, s), prev_title);
        if (!kind && kn_object_str(&prev.o, "kind", &s, &sl) == 0)
            kind = (snprintf(prev_kind, sizeof prev_kind, "%.*s", (int)sl, s), prev_kind);
        kn_doc_file pf[KN_DOC_FILES_MAX];
        uint32_t npf = 0;
        size_t k;
        json_t *v;
        if (kn_doc_files(&prev.o, pf, &npf) < 0)
            npf = 0;
        json_array_foreach(keep, k, v)
        {
            json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
            if (x < 0 || x >= (json_int_t)npf || n == KN_DOC_FILES_MAX) {
                http_error(r, 400, "bad_keep", "keep lists file numbers of the previous version");
                goto out;
            }
            newfile *f = &nf[n++];
            memcpy(f->blob, pf[x].blob, KN_BLOB_ID);
            f->size = pf[x].size;
            snprintf(f->name, sizeof f->name, "%.*s", (int)pf[x].name_len, pf[x].name);
            snprintf(f->mime, sizeof f->mime, "%.*s", (int)pf[x].mime_len, pf[x].mime);
        }
    } else if (keep && json_array_size(keep)) {
        http_error(r, 400, "bad_keep", "keep needs supersedes (the previous version)");
        goto out;
    }
    size_t k;
    json_t *v;
    json_array_foreach(files, k, v)
    {
        http_upload_view uv;
        const char *uid = json_string_value(v);
        if (n == KN_DOC_FILES_MAX) {
            http_error(r, 400, "too_many_files", "a document has at most 64 files");
            goto out;
        }
        int rc = http_upload_take(r, uid, &uv);
        if (rc < 0) {
            http_error(r,
                rc == KN_EAGAIN    ? 409
                    : rc == KN_EIO ? 422
                                   : 404,
                "bad_upload",
                rc == KN_EAGAIN    ? "an upload is not finished yet (GET /api/uploads/ID says when)"
                    : rc == KN_EIO ? "an upload failed; upload that file again"
                                   : "no such upload (it may have expired: upload again)");
            goto out;
        }
        newfile *f = &nf[n++];
        memcpy(f->blob, uv.blob, KN_BLOB_ID);
        f->size = uv.size;
        snprintf(f->name, sizeof f->name, "%s", uv.name);
        snprintf(f->mime, sizeof f->mime, "%s", uv.mime);
        f->upload = uid;
    }
    if (!title || !*title || !*space) {
        http_error(r, 400, "missing", tr(r, T_DOC_MISSING));
        goto out;
    }
    if (!n) {
        http_error(r, 400, "no_files", tr(r, T_DOC_NO_FILES));
        goto out;
    }
    if (kind && !kind_ok(kind)) {
        http_error(r, 400, "bad_kind",
            "kind is one of letter, checklist, form, instruction, template, other");
        goto out;
    }
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            if (!strcmp(nf[a].name, nf[b].name)) {
                char msg[400];
                snprintf(msg, sizeof msg, tr(r, T_DOC_SAME_NAME), nf[a].name);
                http_error(r, 400, "duplicate_name", msg);
                goto out;
            }
    kn_mp_write_array(&fo, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        kn_mp_write_map(&fo, 4);
        kn_mp_write_cstr(&fo, "blob");
        kn_mp_write_bin(&fo, nf[i].blob, KN_BLOB_ID);
        kn_mp_write_cstr(&fo, "mime");
        kn_mp_write_cstr(&fo, nf[i].mime);
        kn_mp_write_cstr(&fo, "name");
        kn_mp_write_cstr(&fo, nf[i].name);
        kn_mp_write_cstr(&fo, "size");
        kn_mp_write_uint(&fo, nf[i].size);
    }
    if (kn_mp_out_error(&fo) < 0) {
        http_error(r, 400, "too_large", "the list of files is too long");
        goto out;
    }
    const char *desc = jstr(j, "description"), *lang = jstr(j, "lang"),
               *licence = jstr(j, "licence");
    /* A new version takes over what the request does not mention. */
    char *owned[3] = { NULL, NULL, NULL };
    if (has_prev) {
        static const char *const keys[3] = { "description", "lang", "licence" };
        const char **dst[3] = { &desc, &lang, &licence };
        for (int i = 0; i < 3; i++) {
            const char *ps;
            uint32_t pl;
            if (!json_object_get(j, keys[i]) && kn_object_str(&prev.o, keys[i], &ps, &pl) == 0
                && (owned[i] = strndup(ps, pl)) != NULL)
                *dst[i] = owned[i];
        }
        kn_mp_in tin;
        uint32_t nt;
        if (!json_object_get(j, "tags") && kn_object_field(&prev.o, "tags", &tin) == 0
            && kn_mp_read_array(&tin, &nt) == 0) {
            tags = json_array();
            for (uint32_t i = 0; i < nt; i++) {
                const char *ts;
                uint32_t tl;
                if (kn_mp_read_str(&tin, &ts, &tl) == 0)
                    json_array_append_new(tags, json_stringn(ts, tl));
            }
        }
    }
    http_field f[] = {
        { .key = "title", .kind = HF_STR, .s = title },
        { .key = "kind", .kind = HF_STR, .s = kind ? kind : "other" },
        { .key = "description", .kind = HF_STR, .s = desc && *desc ? desc : NULL },
        { .key = "lang", .kind = HF_STR, .s = lang && *lang ? lang : NULL },
        { .key = "licence", .kind = HF_STR, .s = licence && *licence ? licence : NULL },
        { .key = "tags", .kind = HF_STRS, .arr = tags },
        { .key = "files", .kind = HF_RAW, .raw = fo.buf, .raw_len = fo.len },
        { .key = "valid_from", .kind = has_from ? HF_UINT : HF_STR, .u = from },
        { .key = "valid_until", .kind = has_until ? HF_UINT : HF_STR, .u = until },
    };
    uint8_t refs[1][KN_ID], id[KN_ID];
    if (has_prev)
        memcpy(refs[0], prev.id, KN_ID);
    int prc = http_publish_fields(r, KN_T_DOC, space, (const uint8_t(*)[32])refs, has_prev ? 1 : 0,
        f, sizeof f / sizeof f[0], id);
    for (int i = 0; i < 3; i++)
        free(owned[i]);
    if (prc < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (nf[i].upload)
            http_upload_done(r, nf[i].upload);
    char hex[65];
    kn_hex_encode(hex, id, KN_ID);
    http_json(r, 201, json_pack("{s:s}", "id", hex));
out:
    kn_mp_out_free(&fo);
    free(prev.raw);
    free(nf);
    json_decref(tags);
    json_decref(j);
}

/* The doc and, unless only_this, every version of it: how many, or < 0 answered. */
static int doc_retract(hreq *r, const char *idhex, const char *reason, bool only_this)
{
    return http_retract_versions(r, idhex, KN_T_DOC, reason, only_this, NULL);
}

/* POST /api/docs/ID/retract {reason, this_version_only} */
static void api_doc_retract(hreq *r, const char *idhex)
{
    json_t *j = http_body_json(r);
    if (!j)
        return;
    int n = doc_retract(
        r, idhex, jstr(j, "reason"), json_is_true(json_object_get(j, "this_version_only")));
    json_decref(j);
    if (n >= 0)
        http_json(r, 200, json_pack("{s:i}", "retracted", n));
}

bool http_docs_api(hreq *r)
{
    if (r->nseg < 1 || strcmp(r->seg[0], "docs") != 0)
        return false;
    bool get = http_method_is(r, "GET") || http_method_is(r, "HEAD");
    bool post = http_method_is(r, "POST");
    if (r->nseg == 1 && get)
        api_docs(r);
    else if (r->nseg == 1 && post)
        api_doc_create(r);
    else if (r->nseg == 2 && get)
        api_doc(r, r->seg[1]);
    else if (r->nseg == 3 && post && !strcmp(r->seg[2], "retract"))
        api_doc_retract(r, r->seg[1]);
    else if (r->nseg == 4 && get && !strcmp(r->seg[2], "files"))
        http_download(r, r->seg[1], r->seg[3]);
    else
        http_error(r, 404, "not_found", "no such endpoint (see docs/api.md)");
    return true;
}

/* ---- pages ---- */

static void file_state_text(hreq *r, hbuf *b, json_t *f)
{
    const char *st = http_jstr(f, "state");
    if (!strcmp(st, "complete"))
        hb_puts(b, tr(r, T_FILE_HERE));
    else if (!strcmp(st, "refused"))
        hb_printf(b, "%s", tr(r, T_FILE_REFUSED));
    else
        hb_printf(b, "%s %d/%d", tr(r, T_FILE_FETCHING),
            (int)json_integer_value(json_object_get(f, "present")),
            (int)json_integer_value(json_object_get(f, "chunks")));
}

static void kind_select(hreq *r, hbuf *b, const char *current, bool any)
{
    hb_printf(b, "<label for=\"kind\">%s</label><select id=\"kind\" name=\"kind\">", tr(r, T_KIND));
    if (any)
        hb_printf(b, "<option value=\"\">%s</option>", tr(r, T_ALL));
    for (size_t i = 0; i < NKINDS; i++)
        hb_printf(b, "<option value=\"%s\"%s>%s</option>", kinds[i],
            current && !strcmp(current, kinds[i]) ? " selected" : "", tr(r, kind_text(kinds[i])));
    hb_puts(b, "</select>");
}

static void docs_page(hreq *r)
{
    const char *space, *kind;
    uint64_t before, limit, next = 0;
    bool more = false;
    if (!list_params(r, &space, &kind, &before, &limit))
        return;
    json_t *items = doc_list(r, space, kind, before, limit, false, &more, &next);
    if (!items)
        return;
    hbuf b = { 0 };
    http_page_begin(r, &b, tr(r, T_DOCS));
    hb_printf(&b, "<h1>%s</h1>", tr(r, T_DOCS));
    if (http_form_get(&r->query, "retracted"))
        http_notice(&b, "ok", tr(r, T_DOC_RETRACTED));
    hb_printf(&b, "<p><a class=\"button\" href=\"docs/new\">%s</a></p>", tr(r, T_DOC_UPLOAD));
    hb_printf(&b,
        "<form method=\"get\" action=\"docs\" class=\"row\" role=\"search\" aria-label=\"%s\">",
        tr(r, T_FILTER));
    hb_printf(&b,
        "<label for=\"space\">%s</label><input id=\"space\" name=\"space\" maxlength=\"64\" "
        "value=\"",
        tr(r, T_AREA));
    hb_escs(&b, space ? space : "");
    hb_puts(&b, "\">");
    kind_select(r, &b, kind, true);
    hb_printf(&b, "<button type=\"submit\">%s</button></form>", tr(r, T_FILTER));
    if (!json_array_size(items)) {
        hb_printf(&b, "<p>%s</p>", tr(r, T_NO_DOCS));
    } else {
        hb_printf(&b,
            "<table class=\"docs\"><thead><tr><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
            "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr>"
            "</thead><tbody>",
            tr(r, T_TITLE), tr(r, T_KIND), tr(r, T_AREA), tr(r, T_FILES), tr(r, T_BY));
        size_t i;
        json_t *o;
        json_array_foreach(items, i, o)
        {
            char size[32], when[40];
            http_fmt_size(
                size, sizeof size, (uint64_t)json_integer_value(json_object_get(o, "size")));
            http_fmt_time(
                when, sizeof when, (uint64_t)json_integer_value(json_object_get(o, "created")));
            hb_printf(&b, "<tr><td><a href=\"docs/%s\">", http_jstr(o, "id"));
            hb_escs(&b, http_jbody(o, "title"));
            hb_puts(&b, "</a>");
            json_int_t nv = json_integer_value(json_object_get(o, "versions"));
            if (nv > 1)
                hb_printf(&b, " <span class=\"count\">(%lld %s)</span>", (long long)nv,
                    tr(r, T_VERSIONS));
            hb_printf(&b, "</td><td>%s</td><td>", tr(r, kind_text(http_jbody(o, "kind"))));
            hb_escs(&b, http_jstr(o, "space"));
            json_t *files = json_object_get(o, "files");
            hb_printf(&b, "</td><td>%zu \xc2\xb7 %s</td><td>", json_array_size(files), size);
            hb_escs(&b, *http_jstr(o, "author_name") ? http_jstr(o, "author_name") : "?");
            if (*http_jstr(o, "council")) {
                hb_puts(&b, " (");
                hb_escs(&b, http_jstr(o, "council"));
                hb_puts(&b, ")");
            }
            hb_printf(&b, "<br><small>%s</small></td></tr>", when);
        }
        hb_puts(&b, "</tbody></table>");
    }
    if (more && next) {
        hb_printf(&b, "<p><a href=\"docs?before=%llu", (unsigned long long)next);
        if (space && *space) {
            hb_puts(&b, "&amp;space=");
            hb_urlenc(&b, space);
        }
        if (kind && *kind)
            hb_printf(&b, "&amp;kind=%s", kind);
        hb_printf(&b, "\">%s</a></p>", tr(r, T_MORE));
    }
    json_decref(items);
    http_page_end(r, &b, 200);
}

static void meta_row(hbuf *b, const char *label, const char *value)
{
    if (!value || !*value)
        return;
    hb_puts(b, "<dt>");
    hb_escs(b, label);
    hb_puts(b, "</dt><dd>");
    hb_escs(b, value);
    hb_puts(b, "</dd>");
}

static void doc_page(hreq *r, const char *idhex)
{
    docpage d;
    if (doc_load(r, idhex, &d) < 0)
        return;
    json_t *j = doc_json(r, &d.o, d.vs.n);
    json_t *vers = versions_json(r, &d.vs);
    bool mine = memcmp(d.o.author, r->acct.user, KN_KEY) == 0;
    free(d.raw);
    hbuf b = { 0 };
    const char *notice = http_form_get(&r->query, "published");
    http_page_begin(r, &b, http_jbody(j, "title"));
    if (notice)
        http_notice(&b, "ok", tr(r, T_DOC_PUBLISHED));
    char newest[65];
    kn_hex_encode(newest, kn_versions_newest(&d.vs), KN_ID);
    hb_puts(&b, "<article class=\"doc\"><h1>");
    hb_escs(&b, http_jbody(j, "title"));
    hb_puts(&b, "</h1>");
    http_byline(r, &b, j);
    if (strcmp(newest, idhex) != 0)
        hb_printf(&b, "<p class=\"error\" role=\"status\">%s <a href=\"docs/%s\">%s</a></p>",
            tr(r, T_OLD_VERSION), newest, tr(r, T_NEWEST_VERSION));
    hb_puts(&b, "<dl class=\"meta\">");
    meta_row(&b, tr(r, T_KIND), tr(r, kind_text(http_jbody(j, "kind"))));
    meta_row(&b, tr(r, T_LANGUAGE), http_jbody(j, "lang"));
    meta_row(&b, tr(r, T_LICENCE), http_jbody(j, "licence"));
    json_t *body = json_object_get(j, "body");
    for (int k = 0; k < 2; k++) {
        json_t *t = json_object_get(body, k ? "valid_until" : "valid_from");
        if (json_is_integer(t)) {
            char when[40];
            http_fmt_time(when, sizeof when, (uint64_t)json_integer_value(t));
            when[10] = 0; /* the date */
            meta_row(&b, tr(r, k ? T_VALID_UNTIL : T_VALID_FROM), when);
        }
    }
    json_t *tags = json_object_get(body, "tags");
    if (json_array_size(tags)) {
        hb_printf(&b, "<dt>%s</dt><dd>", tr(r, T_TAGS_SHORT));
        size_t i;
        json_t *t;
        json_array_foreach(tags, i, t)
        {
            hb_puts(&b, "<span class=\"tag\">");
            hb_escs(&b, json_string_value(t) ? json_string_value(t) : "");
            hb_puts(&b, "</span> ");
        }
        hb_puts(&b, "</dd>");
    }
    hb_puts(&b, "</dl>");
    if (*http_jbody(j, "description"))
        http_markdown(&b, http_jbody(j, "description"));
    hb_printf(&b,
        "<h2 id=\"files\">%s</h2><table aria-labelledby=\"files\"><thead><tr><th "
        "scope=\"col\">%s</th>"
        "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th "
        "scope=\"col\">%s</th></tr></thead><tbody>",
        tr(r, T_FILES), tr(r, T_NAME), tr(r, T_SIZE), tr(r, T_TYPE), tr(r, T_STATE));
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(j, "files"), i, f)
    {
        char size[32];
        http_fmt_size(size, sizeof size, (uint64_t)json_integer_value(json_object_get(f, "size")));
        hb_puts(&b, "<tr><td>");
        if (!strcmp(http_jstr(f, "state"), "complete")) {
            hb_printf(&b, "<a href=\"%s\" download>", http_jstr(f, "href"));
            hb_escs(&b, http_jstr(f, "name"));
            hb_puts(&b, "</a>");
        } else {
            hb_escs(&b, http_jstr(f, "name"));
        }
        hb_printf(&b, "</td><td>%s</td><td>", size);
        hb_escs(&b, http_jstr(f, "mime"));
        hb_puts(&b, "</td><td>");
        file_state_text(r, &b, f);
        hb_puts(&b, "</td></tr>");
    }
    hb_puts(&b, "</tbody></table>");
    hb_printf(&b, "<h2 id=\"versions\">%s</h2><ol class=\"versions\">", tr(r, T_VERSIONS));
    json_t *v;
    json_array_foreach(vers, i, v)
    {
        char when[40];
        http_fmt_time(
            when, sizeof when, (uint64_t)json_integer_value(json_object_get(v, "created")));
        bool self = !strcmp(http_jstr(v, "id"), idhex);
        hb_printf(&b, "<li>%s<a href=\"docs/%s\"%s>%s</a> \xe2\x80\x93 ", self ? "<strong>" : "",
            http_jstr(v, "id"), self ? " aria-current=\"page\"" : "", when);
        hb_escs(&b, http_jstr(v, "title"));
        if (self)
            hb_printf(&b, " (%s)</strong>", tr(r, T_THIS_VERSION));
        hb_puts(&b, "</li>");
    }
    hb_puts(&b, "</ol>");
    if (mine) {
        hb_printf(&b, "<p class=\"row\"><a class=\"button\" href=\"docs/new?supersedes=%s\">%s</a>",
            newest, tr(r, T_NEW_VERSION));
        if (!strcmp(newest, idhex)) /* withdrawing goes from the newest version (all of them go) */
            hb_printf(&b, " <a class=\"button danger\" href=\"docs/%s/retract\">%s</a>", idhex,
                tr(r, T_RETRACT_ALL));
        hb_puts(&b, "</p>");
    }
    hb_puts(&b, "</article>");
    json_decref(vers);
    json_decref(j);
    http_page_end(r, &b, 200);
}

static void input_row(hreq *r, hbuf *b, const char *id, enum kn_text label, const char *type,
    const char *extra, const char *value)
{
    hb_printf(b, "<label for=\"%s\">%s</label><input id=\"%s\" name=\"%s\" type=\"%s\" %s value=\"",
        id, tr(r, label), id, id, type, extra);
    hb_escs(b, value ? value : "");
    hb_puts(b, "\">");
}

/* The upload form; with ?supersedes=ID a new version of the signed-in person's doc ID. */
static void doc_new_page(hreq *r)
{
    const char *sup = http_form_get(&r->query, "supersedes");
    docpage d;
    json_t *j = NULL;
    if (sup && *sup) {
        if (doc_load(r, sup, &d) < 0)
            return;
        if (memcmp(d.o.author, r->acct.user, KN_KEY) != 0) {
            free(d.raw);
            http_error(r, 403, "not_author", tr(r, T_FORBIDDEN));
            return;
        }
        j = doc_json(r, &d.o, d.vs.n);
        free(d.raw);
    }
    hbuf b = { 0 };
    http_page_begin(r, &b, tr(r, j ? T_NEW_VERSION : T_DOC_UPLOAD));
    hb_printf(&b, "<h1>%s</h1>", tr(r, j ? T_NEW_VERSION : T_DOC_UPLOAD));
    hb_printf(&b, "<noscript><p class=\"error\">%s</p></noscript>", tr(r, T_NEEDS_SCRIPT));
    hb_printf(&b,
        "<form id=\"doc-upload\" class=\"stack\" method=\"post\" action=\"docs/new\" "
        "data-piece=\"%d\" data-t-sending=\"%s\" data-t-storing=\"%s\" data-t-publishing=\"%s\" "
        "data-t-failed=\"%s\" data-t-reconnecting=\"%s\" data-t-lost=\"%s\" "
        "data-t-empty=\"%s\">",
        HTTP_UPLOAD_PIECE, tr(r, T_UP_SENDING), tr(r, T_UP_STORING), tr(r, T_UP_PUBLISHING),
        tr(r, T_UP_FAILED), tr(r, T_UP_RECONNECTING), tr(r, T_UP_LOST), tr(r, T_UP_EMPTY));
    http_csrf_field(r, &b);
    if (j) {
        hb_printf(
            &b, "<input type=\"hidden\" name=\"supersedes\" value=\"%s\">", http_jstr(j, "id"));
        hb_printf(&b, "<fieldset><legend>%s</legend>", tr(r, T_KEEP_FILES));
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(j, "files"), i, f)
        {
            hb_printf(&b,
                "<div><input type=\"checkbox\" id=\"keep%zu\" name=\"keep\" value=\"%zu\" checked> "
                "<label for=\"keep%zu\">",
                i, i, i);
            hb_escs(&b, http_jstr(f, "name"));
            hb_puts(&b, "</label></div>");
        }
        hb_puts(&b, "</fieldset>");
    }
    hb_printf(&b,
        "<label for=\"file\">%s</label><input id=\"file\" name=\"file\" type=\"file\" multiple%s>",
        tr(r, j ? T_FILES_MORE : T_FILES), j ? "" : " required");
    input_row(r, &b, "title", T_TITLE, "text", "required maxlength=\"300\"",
        j ? http_jbody(j, "title") : NULL);
    http_area_field(r, &b, j ? http_jstr(j, "space") : http_form_get(&r->query, "space"));
    kind_select(r, &b, j ? http_jbody(j, "kind") : "other", false);
    hb_printf(&b,
        "<label for=\"description\">%s</label><textarea id=\"description\" name=\"description\" "
        "rows=\"5\" maxlength=\"8000\">",
        tr(r, T_DESCRIPTION_MD));
    if (j)
        hb_escs(&b, http_jbody(j, "description"));
    hb_puts(&b, "</textarea>");
    hbuf tags = { 0 };
    if (j) {
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(json_object_get(j, "body"), "tags"), i, t)
        {
            if (i)
                hb_puts(&tags, ", ");
            hb_puts(&tags, json_string_value(t) ? json_string_value(t) : "");
        }
    }
    hb_put(&tags, "", 1);
    input_row(r, &b, "tags", T_TAGS, "text", "maxlength=\"2000\"", tags.p);
    hb_free(&tags);
    input_row(r, &b, "lang", T_LANGUAGE, "text", "maxlength=\"8\" placeholder=\"de\"",
        j ? http_jbody(j, "lang") : NULL);
    input_row(r, &b, "licence", T_LICENCE, "text", "maxlength=\"100\"",
        j ? http_jbody(j, "licence") : NULL);
    input_row(r, &b, "valid_from", T_VALID_FROM, "date", "", NULL);
    input_row(r, &b, "valid_until", T_VALID_UNTIL, "date", "", NULL);
    hb_printf(&b,
        "<label for=\"upload-progress\">%s</label><progress id=\"upload-progress\" max=\"100\" "
        "value=\"0\"></progress><p id=\"upload-status\" role=\"status\" aria-live=\"polite\"></p>"
        "<p id=\"upload-error\" class=\"error\" role=\"alert\" hidden></p>"
        "<button type=\"submit\">%s</button></form>",
        tr(r, T_PROGRESS), tr(r, T_PUBLISH));
    json_decref(j);
    http_page_end(r, &b, 200);
}

/* POST /docs/ID/retract from the confirmation page (http_retract_page): every version goes. */
static void doc_retract_post(hreq *r, const char *idhex)
{
    if (!http_retract_confirmed(r, idhex, KN_T_DOC)
        || doc_retract(r, idhex, http_param(r, "reason"), false) < 0)
        return;
    http_redirect(r, "/docs?retracted=1");
}

bool http_docs_pages(hreq *r)
{
    if (r->nseg < 1 || strcmp(r->seg[0], "docs") != 0)
        return false;
    bool get = http_method_is(r, "GET") || http_method_is(r, "HEAD");
    bool post = http_method_is(r, "POST");
    if (r->nseg == 1 && get)
        docs_page(r);
    else if (r->nseg == 2 && get && !strcmp(r->seg[1], "new"))
        doc_new_page(r);
    else if (r->nseg == 2 && post && !strcmp(r->seg[1], "new"))
        http_error(r, 400, "needs_script", tr(r, T_NEEDS_SCRIPT));
    else if (r->nseg == 2 && get)
        doc_page(r, r->seg[1]);
    else if (r->nseg == 3 && get && !strcmp(r->seg[2], "retract"))
        http_retract_page(r, r->seg[1], KN_T_DOC);
    else if (r->nseg == 3 && post && !strcmp(r->seg[2], "retract"))
        doc_retract_post(r, r->seg[1]);
    else if (r->nseg == 4 && get && !strcmp(r->seg[2], "files"))
        http_download(r, r->seg[1], r->seg[3]);
    else
        http_error(r, 404, "not_found", tr(r, T_NOT_FOUND));
    return true;
}
