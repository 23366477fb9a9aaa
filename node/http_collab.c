/*
 * Polls and events in the web interface and the API (docs/api.md, "Polls"
 * and "Events"): lists, creating, voting with results per option and per
 * council, a calendar by month, RSVPs and iCalendar downloads.
 *
 * Nothing is counted here: the tallies are the store's (kn_store_poll_tally,
 * kn_store_rsvp_tally), computed the same on every node from the same
 * objects, and calendars come from node/ics.c, so a page shows what `knoten
 * poll show` and `knoten ics` print. This file turns them into JSON and
 * HTML, and turns forms into signed vote, rsvp, poll and event objects.
 *
 * Every action has one core function (poll_create, vote, event_create,
 * rsvp) that the JSON endpoint and the form handler both call; it answers
 * errors itself (http_error: JSON under /api/, a page otherwise).
 *
 * Callers: http_api.c (http_collab_api), http_pages.c (http_collab_pages).
 */
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "hex.h"
#include "http_impl.h"
#include "ics.h"
#include "render.h"
#include "tz.h"

static const char *tr(const hreq *r, enum kn_text t)
{
    return http_tr(r, t);
}

static const char *jstr(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A copy of o's string field key into buf ("" if absent). */
static void obj_str(const kn_object *o, const char *key, char *buf, size_t cap)
{
    const char *s;
    uint32_t len;
    if (kn_object_str(o, key, &s, &len) < 0)
        len = 0;
    snprintf(buf, cap, "%.*s", (int)len, len ? s : "");
}

/* The directory (names of staff and councils); false with an error answered. */
static bool dir_load(hreq *r, kn_directory *d)
{
    if (kn_directory_load(r->n->dd, d) == 0)
        return true;
    http_error(r, 500, "store", "cannot read the users and councils");
    return false;
}

static json_t *label_json(const kn_directory *d, const uint8_t key[32])
{
    char buf[300];
    return json_string(kn_directory_label(d, key, buf, sizeof buf));
}

/*
 * Parses "2026-12-03T10:00" (or a JSON integer of ms) in zone tz; false with
 * an error answered that names the field (what: its label).
 */
static bool time_of(
    hreq *r, json_t *v, const char *text, const char *tz, enum kn_text what, uint64_t *ms)
{
    bool exists;
    char msg[200];
    if (v && json_is_integer(v) && json_integer_value(v) >= 0) {
        *ms = (uint64_t)json_integer_value(v);
        return true;
    }
    if (v && json_is_string(v))
        text = json_string_value(v);
    int rc = text ? kn_tz_parse_local(text, tz, ms, &exists) : KN_EINVAL;
    if (rc == 0)
        return true;
    if (rc == KN_ECONFIG || rc == KN_ENOTFOUND)
        snprintf(msg, sizeof msg, "%s", tr(r, T_TZ_BAD));
    else
        snprintf(msg, sizeof msg, tr(r, T_TIME_BAD), tr(r, what));
    http_error(r, 400, "bad_time", msg);
    return false;
}

/* ---- polls ---- */

typedef struct poll_opts {
    const char *opt[KN_POLL_OPTIONS_MAX];
    uint32_t len[KN_POLL_OPTIONS_MAX];
    uint32_t n;
} poll_opts;

static void poll_read(const kn_object *o, poll_opts *p)
{
    kn_mp_in v;
    memset(p, 0, sizeof *p);
    if (kn_object_field(o, "options", &v) < 0 || kn_mp_read_array(&v, &p->n) < 0)
        return;
    if (p->n > KN_POLL_OPTIONS_MAX)
        p->n = KN_POLL_OPTIONS_MAX;
    for (uint32_t i = 0; i < p->n; i++)
        if (kn_mp_read_str(&v, &p->opt[i], &p->len[i]) < 0) {
            p->n = i;
            break;
        }
}

static json_t *choices_json(uint32_t bits, uint32_t n)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < n; i++)
        if (bits & (1u << i))
            json_array_append_new(a, json_integer(i));
    return a;
}

/*
 * A poll with its state: open, whether results show (after the deadline, or
 * at once with show_early), the options with their counts, the results per
 * council (for count "user": how many of its staff voted and for what; for
 * "council": its answer), and the signed-in person's ballot that counts.
 */
static json_t *poll_json(hreq *r, const kn_directory *dir, const kn_object *o, bool with_councils)
{
    kn_poll_tally t;
    poll_opts p;
    json_t *j = http_object_json(r, o);
    if (!j)
        return NULL;
    poll_read(o, &p);
    if (kn_store_poll_tally(r->n->dd->store, o->id, &t) < 0) {
        json_object_set_new(j, "error", json_string("cannot count the votes"));
        return j;
    }
    bool visible = t.show_early || r->now > t.deadline;
    json_object_set_new(j, "open", json_boolean(r->now <= t.deadline));
    json_object_set_new(j, "results_visible", json_boolean(visible));
    json_object_set_new(j, "ballots", json_integer((json_int_t)t.ballots));
    json_object_set_new(j, "voters", json_integer((json_int_t)t.nvoters));
    json_t *opts = json_array();
    for (uint32_t i = 0; i < p.n; i++) {
        json_t *x = json_pack("{s:i, s:s%}", "index", (int)i, "text", p.opt[i], (size_t)p.len[i]);
        if (visible)
            json_object_set_new(x, "count", json_integer((json_int_t)t.counts[i]));
        json_array_append_new(opts, x);
    }
    json_object_set_new(j, "options", opts);
    json_t *mine = json_null();
    for (size_t i = 0; i < t.nvoters; i++)
        if (memcmp(t.voters[i].user, r->acct.user, 32) == 0
            || (t.per_council && memcmp(t.voters[i].node, r->n->dd->identity_pk, 32) == 0)) {
            json_decref(mine);
            mine = json_pack("{s:o, s:o, s:I}", "choices", choices_json(t.voters[i].choices, p.n),
                "by", label_json(dir, t.voters[i].user), "created",
                (json_int_t)t.voters[i].created);
        }
    json_object_set_new(j, "mine", mine);
    if (visible && with_councils) {
        json_t *cs = json_array();
        for (size_t i = 0; i < t.nvoters;) { /* voters are sorted by (node, user) */
            size_t k = i;
            json_t *counts = json_array();
            uint64_t per[KN_POLL_OPTIONS_MAX] = { 0 };
            while (k < t.nvoters && memcmp(t.voters[k].node, t.voters[i].node, 32) == 0) {
                for (uint32_t c = 0; c < p.n; c++)
                    per[c] += (t.voters[k].choices >> c) & 1;
                k++;
            }
            for (uint32_t c = 0; c < p.n; c++)
                json_array_append_new(counts, json_integer((json_int_t)per[c]));
            char nodehex[65];
            kn_hex_encode(nodehex, t.voters[i].node, 32);
            json_t *c = json_pack("{s:s, s:o, s:i, s:o}", "council", nodehex, "name",
                label_json(dir, t.voters[i].node), "voters", (int)(k - i), "counts", counts);
            if (t.per_council) {
                json_object_set_new(c, "answer", choices_json(t.voters[i].choices, p.n));
                json_object_set_new(c, "answered_by", label_json(dir, t.voters[i].user));
            }
            json_array_append_new(cs, c);
            i = k;
        }
        json_object_set_new(j, "councils", cs);
    }
    kn_poll_tally_free(&t);
    return j;
}

typedef struct obj_lister {
    hreq *r;
    const kn_directory *dir;
    kn_otype type;
    json_t *arr;
    size_t limit, scanned;
    bool more;
    int err;
} obj_lister;

static int poll_visit(void *ctx, const kn_object *o)
{
    obj_lister *l = ctx;
    if (++l->scanned > 20000) {
        l->more = true;
        return 1;
    }
    if (o->type != KN_T_POLL)
        return 0;
    if (json_array_size(l->arr) == l->limit) {
        l->more = true;
        return 1;
    }
    json_t *j = poll_json(l->r, l->dir, o, false);
    if (!j) {
        l->err = KN_ENOMEM;
        return 1;
    }
    json_array_append_new(l->arr, j);
    return 0;
}

/*
 * Polls newest first (in one area, or all), 100 of them after the page
 * bounds before and skip (http_page_bounds; 0, 0: the newest); NULL with an
 * error answered.
 */
static json_t *poll_list(
    hreq *r, const kn_directory *dir, const char *space, uint64_t before, size_t skip, bool *more)
{
    obj_lister l
        = { .r = r, .dir = dir, .type = KN_T_POLL, .arr = json_array(), .limit = 100 + skip };
    if (space && strlen(space) > KN_SPACE_MAX) {
        json_decref(l.arr);
        http_error(r, 400, "bad_space", "an area name is at most 64 bytes");
        return NULL;
    }
    /* space NULL: polls of every area, one seek per area (store.h) */
    kn_store_query q = { .index = KN_BY_SPACE_TYPE,
        .space = space && *space ? space : NULL,
        .type = KN_T_POLL,
        .until_ms = before ? before + 1 : 0,
        .reverse = true };
    int rc = kn_store_each(r->n->dd->store, &q, poll_visit, &l);
    if (rc < 0 || l.err < 0) {
        json_decref(l.arr);
        http_error(r, 500, "store", kn_strerror(rc < 0 ? rc : l.err));
        return NULL;
    }
    *more = l.more;
    http_page_drop_shown(l.arr, before, skip);
    return l.arr;
}

/* Publishes a poll; 0 and id, or an error answered. */
static int poll_create(hreq *r, const char *space, const char *question, json_t *options,
    bool multiple, bool per_council, bool show_early, uint64_t deadline, uint8_t id[KN_ID])
{
    if (!space || !*space || !question || !*question) {
        http_error(r, 400, "missing", tr(r, T_POLL_MISSING));
        return KN_EINVAL;
    }
    if (json_array_size(options) < 2 || json_array_size(options) > KN_POLL_OPTIONS_MAX) {
        http_error(r, 400, "bad_options", tr(r, T_POLL_OPTIONS_BAD));
        return KN_EINVAL;
    }
    if (deadline <= r->now) {
        http_error(r, 400, "bad_deadline", tr(r, T_POLL_DEADLINE_BAD));
        return KN_EINVAL;
    }
    http_field f[] = {
        { .key = "count", .kind = HF_STR, .s = per_council ? "council" : "user" },
        { .key = "deadline", .kind = HF_UINT, .u = deadline },
        { .key = "multiple", .kind = HF_BOOL, .b = multiple },
        { .key = "options", .kind = HF_STRS, .arr = options },
        { .key = "question", .kind = HF_STR, .s = question },
        { .key = "show_early", .kind = HF_BOOL, .b = show_early },
    };
    return http_publish_fields(r, KN_T_POLL, space, NULL, 0, f, sizeof f / sizeof f[0], id);
}

/* Casts the signed-in person's ballot (choices: option indexes, any order); 0 or answered. */
static int vote(hreq *r, const char *pollhex, const uint64_t *choices, size_t n, uint8_t id[KN_ID])
{
    uint8_t pid[1][KN_ID], *raw = NULL;
    kn_object o;
    poll_opts p;
    uint64_t deadline = 0;
    kn_mp_in v;
    bool multiple = false;
    int rc = KN_EINVAL;
    if (http_load(r, pollhex, KN_T_POLL, pid[0], &raw, &o) < 0)
        return KN_ENOTFOUND;
    poll_read(&o, &p);
    uint32_t bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (choices[i] >= p.n) {
            http_error(r, 400, "bad_choice", tr(r, T_VOTE_BAD_CHOICE));
            goto out;
        }
        bits |= 1u << choices[i];
    }
    if (kn_object_uint(&o, "deadline", &deadline) < 0 || kn_object_field(&o, "multiple", &v) < 0
        || kn_mp_read_bool(&v, &multiple) < 0) {
        http_error(r, 500, "corrupt", "cannot read the poll");
        goto out;
    }
    if (!bits) {
        http_error(r, 400, "no_choice", tr(r, T_VOTE_NONE));
        goto out;
    }
    if (!multiple && (bits & (bits - 1))) {
        http_error(r, 400, "one_choice", tr(r, T_VOTE_ONE));
        goto out;
    }
    if (r->now > deadline) {
        http_error(r, 409, "closed", tr(r, T_VOTE_CLOSED));
        goto out;
    }
    json_t *arr = choices_json(bits, p.n); /* ascending, no duplicates: as the schema wants */
    char space[KN_SPACE_MAX + 1];
    snprintf(space, sizeof space, "%.*s", (int)o.space_len, o.space);
    http_field f[] = { { .key = "choices", .kind = HF_UINTS, .arr = arr } };
    rc = http_publish_fields(r, KN_T_VOTE, space, (const uint8_t(*)[32])pid, 1, f, 1, id);
    json_decref(arr);
out:
    free(raw);
    return rc;
}

static void api_polls(hreq *r)
{
    kn_directory dir;
    bool more = false;
    if (!dir_load(r, &dir))
        return;
    json_t *items = poll_list(r, &dir, http_form_get(&r->query, "space"), 0, 0, &more);
    kn_directory_free(&dir);
    if (items)
        http_json(r, 200, json_pack("{s:o, s:b}", "items", items, "more", more));
}

static void api_poll(hreq *r, const char *idhex)
{
    uint8_t id[KN_ID], *raw;
    kn_object o;
    kn_directory dir;
    if (http_load(r, idhex, KN_T_POLL, id, &raw, &o) < 0)
        return;
    if (dir_load(r, &dir)) {
        http_json(r, 200, poll_json(r, &dir, &o, true));
        kn_directory_free(&dir);
    }
    free(raw);
}

static void created(hreq *r, const uint8_t id[KN_ID])
{
    char hex[65];
    kn_hex_encode(hex, id, KN_ID);
    http_json(r, 201, json_pack("{s:s}", "id", hex));
}

/* POST /api/polls {space, question, options, multiple, count, deadline, show_early} */
static void api_poll_create(hreq *r)
{
    json_t *j = http_body_json(r);
    uint8_t id[KN_ID];
    uint64_t deadline = 0;
    if (!j)
        return;
    const char *count = jstr(j, "count");
    json_t *opts = json_object_get(j, "options");
    if (count && strcmp(count, "user") && strcmp(count, "council"))
        http_error(r, 400, "bad_count", "count is \"user\" or \"council\"");
    else if (opts && !json_is_array(opts))
        http_error(r, 400, "bad_options", "options is a list of strings");
    else if (time_of(r, json_object_get(j, "deadline"), NULL,
                 jstr(j, "tz") ? jstr(j, "tz") : HTTP_PAGE_ZONE, T_DEADLINE, &deadline)
        && poll_create(r, jstr(j, "space"), jstr(j, "question"), opts,
               json_is_true(json_object_get(j, "multiple")), count && !strcmp(count, "council"),
               json_is_true(json_object_get(j, "show_early")), deadline, id)
            == 0)
        created(r, id);
    json_decref(j);
}

/* POST /api/polls/ID/vote {choices: [0-based option indexes]} */
static void api_vote(hreq *r, const char *pollhex)
{
    json_t *j = http_body_json(r);
    uint64_t ch[KN_POLL_OPTIONS_MAX];
    size_t n = 0, i;
    json_t *v;
    uint8_t id[KN_ID];
    if (!j)
        return;
    json_t *arr = json_object_get(j, "choices");
    bool ok = json_is_array(arr) && json_array_size(arr) <= KN_POLL_OPTIONS_MAX;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            ok = false;
        else if (n < KN_POLL_OPTIONS_MAX)
            ch[n++] = (uint64_t)json_integer_value(v);
    }
    if (!ok)
        http_error(r, 400, "bad_choices", "choices is a list of option numbers, counted from 0");
    else if (vote(r, pollhex, ch, n, id) == 0)
        created(r, id);
    json_decref(j);
}

/* ---- events ---- */

/* The newest version of each event chain, by start, from `from` on (ms). */
typedef struct ev_row {
    uint8_t id[KN_ID];
    uint64_t start, end;
} ev_row;

typedef struct ev_lister {
    hreq *r;
    ev_row *v;
    size_t n, cap, scanned;
    uint64_t from, until; /* end >= from, start < until (0: none) */
    int err;
} ev_lister;

static int ev_visit(void *ctx, const kn_object *o)
{
    ev_lister *l = ctx;
    uint64_t start, end;
    if (++l->scanned > 20000)
        return 1;
    if (o->type != KN_T_EVENT || kn_object_uint(o, "start", &start) < 0
        || kn_object_uint(o, "end", &end) < 0 || end < l->from || (l->until && start >= l->until))
        return 0;
    if (!http_is_newest(l->r, o))
        return 0;
    if (l->n == 2000)
        return 1;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        ev_row *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            l->err = KN_ENOMEM;
            return 1;
        }
        l->v = nv;
        l->cap = nc;
    }
    memcpy(l->v[l->n].id, o->id, KN_ID);
    l->v[l->n].start = start;
    l->v[l->n++].end = end;
    return 0;
}

static int ev_cmp(const void *a, const void *b)
{
    const ev_row *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start ? 1 : memcmp(x->id, y->id, KN_ID);
}

/* Events overlapping [from, until) in start order; *v malloc'd. */
static int ev_list(hreq *r, const char *space, uint64_t from, uint64_t until, ev_row **v, size_t *n)
{
    ev_lister l = { .r = r, .from = from, .until = until };
    kn_store_query q = {
        .index = KN_BY_SPACE_TYPE, .space = space && *space ? space : NULL, .type = KN_T_EVENT
    };
    int rc = kn_store_each(r->n->dd->store, &q, ev_visit, &l);
    if (rc < 0 || l.err < 0) {
        free(l.v);
        return rc < 0 ? rc : l.err;
    }
    if (l.n) /* with no events l.v is NULL, which qsort must not get */
        qsort(l.v, l.n, sizeof *l.v, ev_cmp);
    *v = l.v;
    *n = l.n;
    return 0;
}

static const char *const rsvp_names[3] = { "yes", "no", "maybe" };

/* An event with its time in words, versions, RSVP counts and the signed-in person's answer. */
static json_t *event_json(hreq *r, const kn_object *o, bool with_people, const kn_directory *dir)
{
    kn_versions vs;
    kn_rsvp_tally t = { 0 };
    char when[200], hex[65];
    json_t *j = http_object_json(r, o);
    if (!j)
        return NULL;
    kn_render_event_when(o, when, sizeof when);
    json_object_set_new(j, "when", json_string(when));
    if (kn_store_versions(r->n->dd->store, o->id, &vs) < 0) {
        vs.n = 1;
        memcpy(vs.id[0], o->id, KN_ID);
    }
    kn_hex_encode(hex, kn_versions_newest(&vs), KN_ID);
    json_object_set_new(j, "versions", json_integer((json_int_t)vs.n));
    json_object_set_new(j, "newest", json_string(hex));
    kn_hex_encode(hex, o->id, KN_ID);
    char ics[120];
    snprintf(ics, sizeof ics, "api/events/%s/ics", hex);
    json_object_set_new(j, "ics", json_string(ics));
    if (kn_store_rsvp_tally(r->n->dd->store, (const uint8_t(*)[KN_ID])vs.id, vs.n, &t) == 0) {
        json_object_set_new(j, "rsvp",
            json_pack("{s:I, s:I, s:I}", "yes", (json_int_t)t.counts[KN_RSVP_YES], "no",
                (json_int_t)t.counts[KN_RSVP_NO], "maybe", (json_int_t)t.counts[KN_RSVP_MAYBE]));
        json_t *mine = json_null(), *people = json_array();
        for (size_t i = 0; i < t.n; i++) {
            int st = t.e[i].status >= 0 && t.e[i].status < 3 ? t.e[i].status : 0;
            if (memcmp(t.e[i].user, r->acct.user, 32) == 0) {
                json_decref(mine);
                mine = json_string(rsvp_names[st]);
            }
            if (with_people && dir)
                json_array_append_new(people,
                    json_pack("{s:o, s:s}", "name", label_json(dir, t.e[i].user), "status",
                        rsvp_names[st]));
        }
        json_object_set_new(j, "mine", mine);
        if (with_people)
            json_object_set_new(j, "people", people);
        else
            json_decref(people);
        kn_rsvp_tally_free(&t);
    }
    return j;
}

/* Fields of an event from JSON or a form (strings), as the schema has them. */
typedef struct event_in {
    const char *space, *title, *tz, *place, *link, *description, *contact, *group, *capacity;
    json_t *start, *end; /* JSON: ms or a local time string */
    const char *start_text, *end_text; /* forms: local times */
    json_t *langs;
    const char *supersedes; /* an edit: the id of the version it replaces, or NULL */
} event_in;

static int event_create(hreq *r, const event_in *e, uint8_t id[KN_ID])
{
    uint64_t start, end, capacity = 0;
    const char *tz = e->tz && *e->tz ? e->tz : HTTP_PAGE_ZONE;
    uint8_t prev[1][KN_ID], *raw;
    char prev_space[KN_SPACE_MAX + 1];
    const char *space = e->space;
    kn_object o;
    if (e->supersedes) {
        if (http_edit_base(r, e->supersedes, KN_T_EVENT, e->space, &raw, &o) < 0)
            return KN_EINVAL;
        memcpy(prev[0], o.id, KN_ID);
        snprintf(prev_space, sizeof prev_space, "%.*s", (int)o.space_len, o.space);
        free(raw);
        space = prev_space;
    }
    if (!space || !*space || !e->title || !*e->title) {
        http_error(r, 400, "missing", tr(r, T_EVENT_MISSING));
        return KN_EINVAL;
    }
    if (!time_of(r, e->start, e->start_text, tz, T_START_TIME, &start)
        || !time_of(r, e->end, e->end_text, tz, T_END_TIME, &end))
        return KN_EINVAL;
    if (end < start) {
        http_error(r, 400, "bad_end", tr(r, T_EVENT_END_BAD));
        return KN_EINVAL;
    }
    bool has_place = e->place && *e->place, has_link = e->link && *e->link;
    if (!has_place && !has_link) {
        http_error(r, 400, "no_place", tr(r, T_EVENT_WHERE));
        return KN_EINVAL;
    }
    if (e->capacity && *e->capacity) {
        char *endp;
        capacity = strtoull(e->capacity, &endp, 10);
        if (*endp || e->capacity[0] == '-') {
            http_error(r, 400, "bad_capacity", tr(r, T_CAPACITY_BAD));
            return KN_EINVAL;
        }
    }
    http_field f[] = {
        { .key = "title", .kind = HF_STR, .s = e->title },
        { .key = "start", .kind = HF_UINT, .u = start },
        { .key = "end", .kind = HF_UINT, .u = end },
        { .key = "tz", .kind = HF_STR, .s = tz },
        { .key = "place", .kind = HF_STR, .s = has_place ? e->place : NULL },
        { .key = "link", .kind = HF_STR, .s = has_link ? e->link : NULL },
        { .key = "description",
            .kind = HF_STR,
            .s = e->description && *e->description ? e->description : NULL },
        { .key = "contact", .kind = HF_STR, .s = e->contact && *e->contact ? e->contact : NULL },
        { .key = "group", .kind = HF_STR, .s = e->group && *e->group ? e->group : NULL },
        { .key = "langs", .kind = HF_STRS, .arr = e->langs },
        { .key = "capacity",
            .kind = e->capacity && *e->capacity ? HF_UINT : HF_STR,
            .u = capacity },
    };
    return http_publish_fields(r, KN_T_EVENT, space,
        e->supersedes ? (const uint8_t(*)[32])prev : NULL, e->supersedes ? 1 : 0, f,
        sizeof f / sizeof f[0], id);
}

/* The signed-in person's answer to an event (yes, no, maybe); 0 or answered. */
static int rsvp(hreq *r, const char *eventhex, const char *status, uint8_t id[KN_ID])
{
    uint8_t eid[1][KN_ID], *raw = NULL;
    kn_object o;
    if (!status || (strcmp(status, "yes") && strcmp(status, "no") && strcmp(status, "maybe"))) {
        http_error(r, 400, "bad_status", tr(r, T_RSVP_BAD));
        return KN_EINVAL;
    }
    if (http_load(r, eventhex, KN_T_EVENT, eid[0], &raw, &o) < 0)
        return KN_ENOTFOUND;
    char space[KN_SPACE_MAX + 1];
    snprintf(space, sizeof space, "%.*s", (int)o.space_len, o.space);
    free(raw);
    http_field f[] = { { .key = "status", .kind = HF_STR, .s = status } };
    return http_publish_fields(r, KN_T_RSVP, space, (const uint8_t(*)[32])eid, 1, f, 1, id);
}

/* from/until query values (ms); defaults: from now (minus a day), no end. */
static bool ev_range(hreq *r, uint64_t *from, uint64_t *until)
{
    const char *f = http_form_get(&r->query, "from"), *u = http_form_get(&r->query, "until");
    char *end;
    *from = r->now > 86400000 ? r->now - 86400000 : 0;
    *until = 0;
    if ((f && *f && (f[0] == '-' || (*from = strtoull(f, &end, 10), *end)))
        || (u && *u && (u[0] == '-' || (*until = strtoull(u, &end, 10), *end)))) {
        http_error(r, 400, "bad_range", "from and until are times in ms since 1970");
        return false;
    }
    return true;
}

static void api_events(hreq *r)
{
    uint64_t from, until;
    ev_row *v = NULL;
    size_t n = 0;
    const char *space = http_form_get(&r->query, "space");
    if (!ev_range(r, &from, &until))
        return;
    if (space && strlen(space) > KN_SPACE_MAX) {
        http_error(r, 400, "bad_space", "an area name is at most 64 bytes");
        return;
    }
    int rc = ev_list(r, space, from, until, &v, &n);
    if (rc < 0) {
        http_error(r, 500, "store", kn_strerror(rc));
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < HTTP_LIST_MAX; i++) {
        uint8_t *raw = NULL;
        size_t len;
        kn_object o;
        if (kn_store_get(r->n->dd->store, v[i].id, &raw, &len) == 0
            && kn_object_decode(&o, raw, len) == 0)
            json_array_append_new(arr, event_json(r, &o, false, NULL));
        free(raw);
    }
    free(v);
    http_json(r, 200, json_pack("{s:o, s:b}", "items", arr, "more", n > HTTP_LIST_MAX));
}

static void api_event(hreq *r, const char *idhex)
{
    uint8_t id[KN_ID], *raw;
    kn_object o;
    kn_directory dir;
    if (http_load(r, idhex, KN_T_EVENT, id, &raw, &o) < 0)
        return;
    if (dir_load(r, &dir)) {
        http_json(r, 200, event_json(r, &o, true, &dir));
        kn_directory_free(&dir);
    }
    free(raw);
}

/* text/calendar of one event (idhex) or of every event of an area (space). */
static void send_ics(hreq *r, const char *idhex, const char *space)
{
    kn_directory dir;
    kn_text t;
    uint8_t id[1][KN_ID];
    if (idhex && !http_parse_id(idhex, id[0])) {
        http_error(r, 400, "bad_id", r->api ? "an id is 64 hex digits" : http_tr(r, T_BAD_ID));
        return;
    }
    if (space && (!*space || strlen(space) > KN_SPACE_MAX)) {
        http_error(r, 400, "bad_space", "give ?space=AREA (at most 64 bytes)");
        return;
    }
    if (!dir_load(r, &dir))
        return;
    kn_text_init(&t, 16 << 20);
    int rc = idhex ? kn_ics_export(r->n->dd->store, &dir, (const uint8_t(*)[KN_ID])id, 1, NULL, &t)
                   : kn_ics_export_area(r->n->dd->store, &dir, space, &t);
    kn_directory_free(&dir);
    if (rc == 0 && t.err == 0) {
        char cd[120];
        snprintf(cd, sizeof cd, "attachment; filename=\"%s.ics\"", idhex ? "termin" : "termine");
        http_header(r, "content-disposition", cd);
        http_header(r, "cache-control", "no-store");
        http_send(r, 200, "text/calendar; charset=utf-8", t.s, t.len);
    } else {
        http_error(r,
            rc == KN_ERETRACTED                         ? 410
                : rc == KN_ENOTFOUND || rc == KN_EINVAL ? 404
                                                        : 500,
            "not_found", rc == KN_ERETRACTED ? "the event was retracted" : "no such event here");
    }
    kn_text_free(&t);
}

static void api_event_create(hreq *r)
{
    json_t *j = http_body_json(r);
    uint8_t id[KN_ID];
    if (!j)
        return;
    json_t *cap = json_object_get(j, "capacity");
    char capbuf[24] = "";
    if (json_is_integer(cap) && json_integer_value(cap) >= 0)
        snprintf(capbuf, sizeof capbuf, "%lld", (long long)json_integer_value(cap));
    else if (cap && !json_is_null(cap))
        snprintf(capbuf, sizeof capbuf, "x");
    json_t *langs = json_object_get(j, "langs");
    event_in e = { .space = jstr(j, "space"),
        .title = jstr(j, "title"),
        .tz = jstr(j, "tz"),
        .place = jstr(j, "place"),
        .link = jstr(j, "link"),
        .description = jstr(j, "description"),
        .contact = jstr(j, "contact"),
        .group = jstr(j, "group"),
        .capacity = capbuf,
        .start = json_object_get(j, "start"),
        .end = json_object_get(j, "end"),
        .langs = json_is_array(langs) ? langs : NULL,
        .supersedes = jstr(j, "supersedes") };
    if (event_create(r, &e, id) == 0)
        created(r, id);
    json_decref(j);
}

static void api_rsvp(hreq *r, const char *eventhex)
{
    json_t *j = http_body_json(r);
    uint8_t id[KN_ID];
    if (!j)
        return;
    if (rsvp(r, eventhex, jstr(j, "status"), id) == 0)
        created(r, id);
    json_decref(j);
}

bool http_collab_api(hreq *r)
{
    bool get = http_method_is(r, "GET") || http_method_is(r, "HEAD");
    bool post = http_method_is(r, "POST");
    if (r->nseg < 1)
        return false;
    if (!strcmp(r->seg[0], "polls")) {
        if (r->nseg == 1 && get)
            api_polls(r);
        else if (r->nseg == 1 && post)
            api_poll_create(r);
        else if (r->nseg == 2 && get)
            api_poll(r, r->seg[1]);
        else if (r->nseg == 3 && post && !strcmp(r->seg[2], "vote"))
            api_vote(r, r->seg[1]);
        else
            http_error(r, 404, "not_found", "no such endpoint (see docs/api.md)");
        return true;
    }
    if (!strcmp(r->seg[0], "events")) {
        if (r->nseg == 1 && get)
            api_events(r);
        else if (r->nseg == 1 && post)
            api_event_create(r);
        else if (r->nseg == 2 && get && !strcmp(r->seg[1], "ics"))
            send_ics(r, NULL, http_form_get(&r->query, "space"));
        else if (r->nseg == 2 && get)
            api_event(r, r->seg[1]);
        else if (r->nseg == 3 && get && !strcmp(r->seg[2], "ics"))
            send_ics(r, r->seg[1], NULL);
        else if (r->nseg == 3 && post && !strcmp(r->seg[2], "rsvp"))
            api_rsvp(r, r->seg[1]);
        else
            http_error(r, 404, "not_found", "no such endpoint (see docs/api.md)");
        return true;
    }
    return false;
}

/* ---- pages: polls ---- */

static void polls_page(hreq *r)
{
    kn_directory dir;
    bool more = false;
    if (!dir_load(r, &dir))
        return;
    const char *space = http_form_get(&r->query, "space");
    uint64_t before;
    size_t skip;
    http_page_bounds(r, &before, &skip);
    json_t *items = poll_list(r, &dir, space, before, skip, &more);
    kn_directory_free(&dir);
    if (!items)
        return;
    hbuf b = { 0 };
    http_page_begin(r, &b, tr(r, T_POLLS));
    hb_printf(&b, "<h1>%s</h1><p><a class=\"button\" href=\"polls/new\">%s</a></p>", tr(r, T_POLLS),
        tr(r, T_POLL_NEW));
    hb_puts(&b, "<ul class=\"entries\">");
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        char when[40];
        json_t *body = json_object_get(o, "body");
        http_fmt_time(
            when, sizeof when, (uint64_t)json_integer_value(json_object_get(body, "deadline")));
        hb_printf(&b, "<li><a href=\"polls/%s\">", http_jstr(o, "id"));
        hb_escs(&b, http_jbody(o, "question"));
        hb_printf(&b,
            "</a> <span class=\"tag\">%s</span> <span class=\"count\">%s %s \xc2\xb7 %lld "
            "%s</span>",
            json_is_true(json_object_get(o, "open")) ? tr(r, T_POLL_OPEN) : tr(r, T_POLL_CLOSED),
            json_is_true(json_object_get(o, "open")) ? tr(r, T_UNTIL) : tr(r, T_SINCE), when,
            (long long)json_integer_value(json_object_get(o, "voters")),
            tr(r, !strcmp(http_jbody(o, "count"), "council") ? T_COUNCILS : T_VOTERS));
        http_byline(r, &b, o);
        hb_puts(&b, "</li>");
    }
    hb_puts(&b, "</ul>");
    hbuf path = { 0 };
    hb_puts(&path, "polls");
    if (space && *space) {
        hb_puts(&path, "?space=");
        hb_urlenc(&path, space);
    }
    http_older_link(r, &b, path.p ? path.p : "polls", items, more);
    hb_free(&path);
    if (!json_array_size(items))
        hb_printf(&b, "<p>%s</p>", tr(r, T_NO_POLLS));
    json_decref(items);
    http_page_end(r, &b, 200);
}

/* A page with a heading and the start of a form to action: csrf and area fields. */
/* The head of a new poll's or event's form; error (a refusal) shows it with what was sent. */
static void form_page_begin(
    hreq *r, hbuf *b, enum kn_text title, const char *action, const char *error)
{
    http_page_begin(r, b, tr(r, title));
    hb_printf(b, "<h1>%s</h1>", tr(r, title));
    if (error)
        http_notice(b, "error", error);
    hb_printf(b, "<form method=\"post\" action=\"%s\" class=\"stack\">", action);
    http_csrf_field(r, b);
    http_area_field(
        r, b, error ? http_sent_value(r, true, "space") : http_form_get(&r->query, "space"));
}

static void poll_new_page(hreq *r, const char *error, int status)
{
    hbuf b = { 0 };
    bool sent = error != NULL;
    const char *count = http_sent_value(r, sent, "count");
    form_page_begin(r, &b, T_POLL_NEW, "polls", error);
    http_input(r, &b, "question", T_QUESTION, "required maxlength=\"1000\"",
        http_sent_value(r, sent, "question"));
    hb_printf(&b,
        "<label for=\"options\">%s</label><textarea id=\"options\" name=\"options\" rows=\"5\" "
        "required>",
        tr(r, T_OPTIONS_LINES));
    hb_escs(&b, http_sent_value(r, sent, "options"));
    hb_printf(&b,
        "</textarea>"
        "<div><input type=\"checkbox\" id=\"multiple\" name=\"multiple\" value=\"1\"%s> "
        "<label for=\"multiple\">%s</label></div>"
        "<label for=\"count\">%s</label><select id=\"count\" name=\"count\">"
        "<option value=\"user\">%s</option><option value=\"council\"%s>%s</option></select>",
        sent && *http_sent_value(r, sent, "multiple") ? " checked" : "", tr(r, T_MULTIPLE),
        tr(r, T_COUNTING), tr(r, T_COUNT_USER), !strcmp(count, "council") ? " selected" : "",
        tr(r, T_COUNT_COUNCIL));
    http_input(r, &b, "deadline", T_DEADLINE_DATE, "type=\"date\" required",
        http_sent_value(r, sent, "deadline"));
    hb_printf(&b,
        "<div><input type=\"checkbox\" id=\"show_early\" name=\"show_early\" value=\"1\"%s> "
        "<label for=\"show_early\">%s</label></div>"
        "<button type=\"submit\">%s</button></form>",
        !sent || *http_sent_value(r, sent, "show_early") ? " checked" : "", tr(r, T_SHOW_EARLY),
        tr(r, T_PUBLISH));
    http_page_end(r, &b, status);
}

/* A refused new poll: its form again, with the message and what was sent. */
static void poll_again(hreq *r, int status, const char *msg)
{
    poll_new_page(r, msg, status);
}

static void poll_create_post(hreq *r)
{
    const char *opts = http_param(r, "options"), *dl = http_param(r, "deadline");
    const char *count = http_param(r, "count");
    json_t *arr = json_array();
    for (const char *s = opts ? opts : ""; *s;) { /* one option per line */
        const char *e = s;
        while (*e && *e != '\n' && *e != '\r')
            e++;
        const char *a = s, *z = e;
        while (a < z && (*a == ' ' || *a == '\t'))
            a++;
        while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
            z--;
        if (z > a)
            json_array_append_new(arr, json_stringn(a, (size_t)(z - a)));
        s = *e ? e + 1 : e;
    }
    uint64_t deadline = 0;
    char end_of_day[40];
    uint8_t id[KN_ID];
    snprintf(end_of_day, sizeof end_of_day, "%.10s 23:59:59", dl ? dl : "");
    r->form_again = poll_again;
    if (time_of(r, NULL, dl && strlen(dl) == 10 ? end_of_day : dl, HTTP_PAGE_ZONE, T_DEADLINE,
            &deadline)
        && poll_create(r, http_param(r, "space"), http_param(r, "question"), arr,
               http_param(r, "multiple") != NULL, count && !strcmp(count, "council"),
               http_param(r, "show_early") != NULL, deadline, id)
            == 0) {
        char loc[100], hex[65];
        kn_hex_encode(hex, id, KN_ID);
        snprintf(loc, sizeof loc, "/polls/%s", hex);
        http_redirect(r, loc);
    }
    json_decref(arr);
}

/* A poll with its results and the vote form; error: a refused vote, shown above the form. */
static void poll_page(hreq *r, const char *idhex, const char *error, int status)
{
    uint8_t id[KN_ID], *raw;
    kn_object o;
    kn_directory dir;
    if (http_load(r, idhex, KN_T_POLL, id, &raw, &o) < 0)
        return;
    if (!dir_load(r, &dir)) {
        free(raw);
        return;
    }
    json_t *j = poll_json(r, &dir, &o, true);
    kn_directory_free(&dir);
    free(raw);
    if (!j) {
        http_error(r, 500, "oom", "out of memory");
        return;
    }
    bool open = json_is_true(json_object_get(j, "open"));
    bool visible = json_is_true(json_object_get(j, "results_visible"));
    bool multiple = json_is_true(json_object_get(json_object_get(j, "body"), "multiple"));
    bool per_council = !strcmp(http_jbody(j, "count"), "council");
    json_t *opts = json_object_get(j, "options"), *mine = json_object_get(j, "mine");
    char when[40];
    http_fmt_time(when, sizeof when,
        (uint64_t)json_integer_value(json_object_get(json_object_get(j, "body"), "deadline")));
    hbuf b = { 0 };
    http_page_begin(r, &b, http_jbody(j, "question"));
    if (http_form_get(&r->query, "voted"))
        http_notice(&b, "ok", tr(r, T_VOTED));
    if (error)
        http_notice(&b, "error", error);
    hb_puts(&b, "<article class=\"poll\"><h1>");
    hb_escs(&b, http_jbody(j, "question"));
    hb_puts(&b, "</h1>");
    http_byline(r, &b, j);
    hb_printf(&b, "<p class=\"meta\">%s: %s \xc2\xb7 %s %s (%s)</p>", tr(r, T_COUNTING),
        tr(r, per_council ? T_COUNT_COUNCIL : T_COUNT_USER), tr(r, T_DEADLINE), when,
        open ? tr(r, T_POLL_OPEN) : tr(r, T_POLL_CLOSED));
    size_t i;
    json_t *x;
    if (json_is_object(mine)) {
        hb_printf(&b, "<p id=\"my-vote\">%s: ", tr(r, per_council ? T_COUNCIL_VOTE : T_YOUR_VOTE));
        json_array_foreach(json_object_get(mine, "choices"), i, x)
        {
            json_t *opt = json_array_get(opts, (size_t)json_integer_value(x));
            if (i)
                hb_puts(&b, ", ");
            hb_escs(&b, http_jstr(opt, "text"));
        }
        hb_puts(&b, "</p>");
    }
    if (open) {
        hb_printf(&b, "<form method=\"post\" action=\"polls/%s/vote\" class=\"stack\">", idhex);
        http_csrf_field(r, &b);
        hb_printf(
            &b, "<fieldset><legend>%s</legend>", tr(r, multiple ? T_CHOOSE_SEVERAL : T_CHOOSE_ONE));
        json_array_foreach(opts, i, x)
        {
            hb_printf(&b,
                "<div><input type=\"%s\" id=\"choice%zu\" name=\"choice\" value=\"%zu\"> "
                "<label for=\"choice%zu\">",
                multiple ? "checkbox" : "radio", i, i, i);
            hb_escs(&b, http_jstr(x, "text"));
            hb_puts(&b, "</label></div>");
        }
        hb_printf(&b, "</fieldset><button type=\"submit\">%s</button></form>",
            tr(r, json_is_object(mine) ? T_VOTE_CHANGE : T_VOTE));
    }
    hb_printf(&b, "<h2 id=\"results\">%s</h2>", tr(r, T_RESULTS));
    if (!visible) {
        hb_printf(&b, "<p>%s %s.</p>", tr(r, T_RESULTS_LATER), when);
    } else {
        uint64_t total = 0;
        json_array_foreach(opts, i, x) total
            += (uint64_t)json_integer_value(json_object_get(x, "count"));
        hb_printf(&b,
            "<table aria-labelledby=\"results\" class=\"results\"><thead><tr><th "
            "scope=\"col\">%s</th>"
            "<th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead><tbody>",
            tr(r, T_OPTION), tr(r, per_council ? T_COUNCILS : T_VOTERS), tr(r, T_SHARE));
        json_array_foreach(opts, i, x)
        {
            uint64_t c = (uint64_t)json_integer_value(json_object_get(x, "count"));
            unsigned pct = total ? (unsigned)(c * 100 / total) : 0;
            hb_puts(&b, "<tr><th scope=\"row\">");
            hb_escs(&b, http_jstr(x, "text"));
            hb_printf(&b,
                "</th><td class=\"num\">%llu</td><td><meter min=\"0\" max=\"100\" value=\"%u\">"
                "%u %%</meter> %u %%</td></tr>",
                (unsigned long long)c, pct, pct, pct);
        }
        hb_puts(&b, "</tbody></table>");
        json_t *cs = json_object_get(j, "councils");
        hb_printf(&b, "<h2 id=\"per-council\">%s</h2>", tr(r, T_PER_COUNCIL));
        if (!json_array_size(cs)) {
            hb_printf(&b, "<p>%s</p>", tr(r, T_NO_VOTES));
        } else {
            hb_printf(&b,
                "<table aria-labelledby=\"per-council\"><thead><tr><th scope=\"col\">%s</th>",
                tr(r, T_COUNCIL));
            if (per_council) {
                hb_printf(&b, "<th scope=\"col\">%s</th><th scope=\"col\">%s</th>", tr(r, T_ANSWER),
                    tr(r, T_ANSWERED_BY));
            } else {
                hb_printf(&b, "<th scope=\"col\">%s</th>", tr(r, T_VOTERS));
                json_array_foreach(opts, i, x)
                {
                    hb_puts(&b, "<th scope=\"col\">");
                    hb_escs(&b, http_jstr(x, "text"));
                    hb_puts(&b, "</th>");
                }
            }
            hb_puts(&b, "</tr></thead><tbody>");
            size_t k;
            json_t *c;
            json_array_foreach(cs, k, c)
            {
                hb_puts(&b, "<tr><th scope=\"row\">");
                http_esc_label(r, &b, http_jstr(c, "name"));
                hb_puts(&b, "</th>");
                if (per_council) {
                    hb_puts(&b, "<td>");
                    json_array_foreach(json_object_get(c, "answer"), i, x)
                    {
                        if (i)
                            hb_puts(&b, ", ");
                        hb_escs(&b,
                            http_jstr(json_array_get(opts, (size_t)json_integer_value(x)), "text"));
                    }
                    hb_puts(&b, "</td><td>");
                    http_esc_label(r, &b, http_jstr(c, "answered_by"));
                    hb_puts(&b, "</td>");
                } else {
                    hb_printf(&b, "<td class=\"num\">%lld</td>",
                        (long long)json_integer_value(json_object_get(c, "voters")));
                    json_array_foreach(json_object_get(c, "counts"), i, x) hb_printf(
                        &b, "<td class=\"num\">%lld</td>", (long long)json_integer_value(x));
                }
                hb_puts(&b, "</tr>");
            }
            hb_puts(&b, "</tbody></table>");
        }
    }
    http_retract_link(r, &b, j);
    hb_puts(&b, "</article>");
    json_decref(j);
    http_page_end(r, &b, status);
}

/* A refused vote: the poll again, with the message. */
static void vote_again(hreq *r, int status, const char *msg)
{
    poll_page(r, r->seg[1], msg, status);
}

static void vote_post(hreq *r, const char *idhex)
{
    const http_form *f;
    const char *vals[KN_POLL_OPTIONS_MAX];
    uint64_t ch[KN_POLL_OPTIONS_MAX];
    uint8_t id[KN_ID];
    size_t n = 0;
    r->form_again = vote_again;
    if (http_body_form(r, &f) < 0) {
        http_error(r, 400, "bad_form", tr(r, T_VOTE_NONE));
        return;
    }
    size_t all = http_form_all(f, "choice", vals, KN_POLL_OPTIONS_MAX);
    for (size_t i = 0; i < all && i < KN_POLL_OPTIONS_MAX; i++) {
        char *end;
        unsigned long v = strtoul(vals[i], &end, 10);
        if (!*vals[i] || *end || v >= KN_POLL_OPTIONS_MAX) {
            http_error(r, 400, "bad_choice", tr(r, T_VOTE_BAD_CHOICE));
            return;
        }
        ch[n++] = v;
    }
    if (vote(r, idhex, ch, n, id) < 0)
        return;
    char loc[120];
    snprintf(loc, sizeof loc, "/polls/%s?voted=1#results", idhex);
    http_redirect(r, loc);
}

/* ---- pages: events ---- */

static const char *const weekdays[2][7] = {
    { "Mo", "Di", "Mi", "Do", "Fr", "Sa", "So" },
    { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" },
};

/* The local date (days since 1970) of ms in the event's zone (UTC if unknown). */
static int64_t local_day(const kn_object *o, uint64_t ms)
{
    char zone[KN_TZ_NAME_MAX + 1];
    kn_tz *z = NULL;
    kn_tz_info in = { 0, false, "" };
    obj_str(o, "tz", zone, sizeof zone);
    if (kn_tz_load(zone, &z) == 0)
        kn_tz_at(z, (int64_t)(ms / 1000), &in);
    kn_tz_free(z);
    int64_t s = (int64_t)(ms / 1000) + in.utoff;
    return s >= 0 ? s / 86400 : (s - 86399) / 86400;
}

static void event_line(hreq *r, hbuf *b, const kn_object *o)
{
    char when[200], hex[65], title[301];
    kn_render_event_when(o, when, sizeof when);
    kn_hex_encode(hex, o->id, KN_ID);
    obj_str(o, "title", title, sizeof title);
    hb_printf(b, "<li><a href=\"events/%s\">", hex);
    hb_escs(b, title);
    hb_puts(b, "</a> <span class=\"meta\">");
    hb_escs(b, when);
    char place[301];
    obj_str(o, "place", place, sizeof place);
    if (*place) {
        hb_puts(b, " \xc2\xb7 ");
        hb_escs(b, place);
    }
    if (o->space_len) {
        hb_puts(b, " \xc2\xb7 ");
        hb_esc(b, o->space, o->space_len);
    }
    (void)r;
    hb_puts(b, "</span></li>");
}

/*
 * /events?month=YYYY-MM: the month as a calendar (weeks from Monday, each
 * event on its local start day), then the events from now on as a list.
 */
static void events_page(hreq *r)
{
    const char *month = http_form_get(&r->query, "month");
    const char *space = http_form_get(&r->query, "space");
    int64_t y;
    unsigned m, d;
    kn_civil_from_days((int64_t)(r->now / 86400000), &y, &m, &d);
    if (month && *month) {
        int yy, mm, used = 0;
        if (sscanf(month, "%4d-%2d%n", &yy, &mm, &used) != 2 || used != 7 || month[7] || yy < 1970
            || yy > 9999 || mm < 1 || mm > 12) {
            http_error(r, 400, "bad_month", "month is like 2026-12");
            return;
        }
        y = yy;
        m = (unsigned)mm;
    }
    if (space && strlen(space) > KN_SPACE_MAX) {
        http_error(r, 400, "bad_space", "an area name is at most 64 bytes");
        return;
    }
    int64_t first = kn_days_from_civil(y, m, 1);
    int64_t next = m == 12 ? kn_days_from_civil(y + 1, 1, 1) : kn_days_from_civil(y, m + 1, 1);
    ev_row *v = NULL;
    size_t n = 0;
    /* a day of margin on both sides for zones east and west of UTC */
    uint64_t from = (uint64_t)(first > 0 ? first - 1 : 0) * 86400000;
    uint64_t until = (uint64_t)(next + 1) * 86400000;
    int rc = ev_list(r, space, from, until, &v, &n);
    if (rc < 0) {
        http_error(r, 500, "store", kn_strerror(rc));
        return;
    }
    hbuf b = { 0 };
    int en = !strcmp(r->lang, "en");
    http_page_begin(r, &b, tr(r, T_EVENTS));
    hb_printf(&b, "<h1>%s</h1><p class=\"row\"><a class=\"button\" href=\"events/new\">%s</a>",
        tr(r, T_EVENTS), tr(r, T_EVENT_NEW));
    if (space && *space) {
        hb_puts(&b, " <a href=\"api/events/ics?space=");
        hb_urlenc(&b, space);
        hb_printf(&b, "\">%s</a>", tr(r, T_ICS_AREA));
    }
    hb_puts(&b, "</p>");
    unsigned pm = m == 1 ? 12 : m - 1, nm = m == 12 ? 1 : m + 1;
    long long py = m == 1 ? (long long)y - 1 : (long long)y,
              ny = m == 12 ? (long long)y + 1 : (long long)y;
    hb_printf(&b,
        "<nav class=\"row\" aria-label=\"%s\"><a href=\"events?month=%04lld-%02u\">\xe2\x86\x90 "
        "%04lld-%02u</a> <strong id=\"cal-title\">%04lld-%02u</strong> <a "
        "href=\"events?month=%04lld-%02u\">%04lld-%02u \xe2\x86\x92</a></nav>",
        tr(r, T_MONTH), py, pm, py, pm, (long long)y, m, ny, nm, ny, nm);
    hb_puts(&b, "<table class=\"cal\" aria-labelledby=\"cal-title\"><thead><tr>");
    for (int i = 0; i < 7; i++)
        hb_printf(&b, "<th scope=\"col\">%s</th>", weekdays[en][i]);
    hb_puts(&b, "</tr></thead><tbody>");
    int wd = (int)(((first % 7) + 7 + 3) % 7); /* 1970-01-01 was a Thursday: Monday = 0 */
    int64_t day = first - wd;
    while (day < next) {
        hb_puts(&b, "<tr>");
        for (int i = 0; i < 7; i++, day++) {
            int64_t yy;
            unsigned mm, dd;
            kn_civil_from_days(day, &yy, &mm, &dd);
            if (day < first || day >= next) {
                hb_puts(&b, "<td class=\"other\"></td>");
                continue;
            }
            hb_printf(&b, "<td><span class=\"day\">%u</span>", dd);
            for (size_t k = 0; k < n; k++) {
                uint8_t *raw = NULL;
                size_t len;
                kn_object o;
                if (kn_store_get(r->n->dd->store, v[k].id, &raw, &len) == 0
                    && kn_object_decode(&o, raw, len) == 0 && local_day(&o, v[k].start) == day) {
                    char title[301], hex[65];
                    obj_str(&o, "title", title, sizeof title);
                    kn_hex_encode(hex, o.id, KN_ID);
                    hb_printf(&b, "<a class=\"ev\" href=\"events/%s\">", hex);
                    hb_escs(&b, title);
                    hb_puts(&b, "</a>");
                }
                free(raw);
            }
            hb_puts(&b, "</td>");
        }
        hb_puts(&b, "</tr>");
    }
    hb_puts(&b, "</tbody></table>");
    free(v);
    v = NULL;
    n = 0;
    hb_printf(&b, "<h2 id=\"upcoming\">%s</h2><ul class=\"entries\">", tr(r, T_UPCOMING));
    if (ev_list(r, space, r->now, 0, &v, &n) == 0)
        for (size_t k = 0; k < n && k < 100; k++) {
            uint8_t *raw = NULL;
            size_t len;
            kn_object o;
            if (kn_store_get(r->n->dd->store, v[k].id, &raw, &len) == 0
                && kn_object_decode(&o, raw, len) == 0)
                event_line(r, &b, &o);
            free(raw);
        }
    hb_puts(&b, "</ul>");
    if (!n)
        hb_printf(&b, "<p>%s</p>", tr(r, T_NO_EVENTS));
    free(v);
    http_page_end(r, &b, 200);
}

/*
 * The event form: empty for a new event (ev NULL), or filled with version ev
 * for an edit, which posts to events/ID/edit and keeps the area.
 */
/*
 * The form of a new event, or (ev) of a new version of ev; after a refusal
 * (error) with the message and what was sent.
 */
static void event_form(hreq *r, json_t *ev, const char *error, int status)
{
    hbuf b = { 0 };
    char start[40] = "", end[40] = "", tz[KN_TZ_NAME_MAX + 1] = HTTP_PAGE_ZONE, cap[24] = "";
    if (ev) {
        json_t *body = json_object_get(ev, "body");
        snprintf(tz, sizeof tz, "%s", http_jbody(ev, "tz"));
        kn_tz_format_local(tz, (uint64_t)json_integer_value(json_object_get(body, "start")), 'T',
            start, sizeof start);
        kn_tz_format_local(
            tz, (uint64_t)json_integer_value(json_object_get(body, "end")), 'T', end, sizeof end);
        if (json_is_integer(json_object_get(body, "capacity")))
            snprintf(cap, sizeof cap, "%lld",
                (long long)json_integer_value(json_object_get(body, "capacity")));
        char action[100];
        snprintf(action, sizeof action, "events/%s/edit", http_jstr(ev, "id"));
        http_page_begin(r, &b, tr(r, T_EVENT_EDIT));
        hb_printf(&b, "<h1>%s</h1>", tr(r, T_EVENT_EDIT));
        if (error)
            http_notice(&b, "error", error);
        hb_printf(&b, "<form method=\"post\" action=\"%s\" class=\"stack\">", action);
        http_csrf_field(r, &b);
        hb_printf(&b, "<p>%s: ", tr(r, T_AREA));
        hb_escs(&b, http_jstr(ev, "space"));
        hb_puts(&b, "</p>");
    } else {
        form_page_begin(r, &b, T_EVENT_NEW, "events", error);
    }
    const char *none = "";
    if (error) { /* what was sent, not what the event holds */
        snprintf(start, sizeof start, "%s", http_sent_value(r, true, "start"));
        snprintf(end, sizeof end, "%s", http_sent_value(r, true, "end"));
        snprintf(tz, sizeof tz, "%s", http_sent_value(r, true, "tz"));
        snprintf(cap, sizeof cap, "%s", http_sent_value(r, true, "capacity"));
    }
#define BODY(key) (error ? http_sent_value(r, true, key) : ev ? http_jbody(ev, key) : none)
    http_input(r, &b, "title", T_TITLE, "required maxlength=\"300\"", BODY("title"));
    http_input(r, &b, "start", T_START_TIME, "type=\"datetime-local\" required", start);
    http_input(r, &b, "end", T_END_TIME, "type=\"datetime-local\" required", end);
    http_input(r, &b, "tz", T_TIMEZONE, "maxlength=\"64\"", tz);
    http_input(r, &b, "place", T_PLACE, "maxlength=\"300\"", BODY("place"));
    http_input(r, &b, "link", T_ONLINE_LINK, "type=\"url\" maxlength=\"2048\"", BODY("link"));
    hb_printf(&b,
        "<label for=\"description\">%s</label><textarea id=\"description\" "
        "name=\"description\" rows=\"4\" maxlength=\"8000\">",
        tr(r, T_DESCRIPTION_MD));
    hb_escs(&b, BODY("description"));
    hb_puts(&b, "</textarea>");
    http_input(r, &b, "capacity", T_CAPACITY, "type=\"number\" min=\"0\"", cap);
    http_input(r, &b, "contact", T_CONTACT, "maxlength=\"300\"", BODY("contact"));
#undef BODY
    hb_printf(
        &b, "<button type=\"submit\">%s</button></form>", tr(r, ev ? T_EVENT_SAVE : T_PUBLISH));
    http_page_end(r, &b, status);
}

static void event_new_page(hreq *r)
{
    event_form(r, NULL, NULL, 200);
}

/* GET /events/ID/edit: the form for a new version of the signed-in person's event. */
static void event_edit_form(hreq *r, const char *idhex, const char *error, int status)
{
    uint8_t *raw;
    kn_object o;
    if (http_edit_base(r, idhex, KN_T_EVENT, NULL, &raw, &o) < 0)
        return;
    json_t *j = event_json(r, &o, false, NULL);
    free(raw);
    if (!j) {
        http_error(r, 500, "oom", "out of memory");
        return;
    }
    event_form(r, j, error, status);
    json_decref(j);
}

static void event_edit_page(hreq *r, const char *idhex)
{
    event_edit_form(r, idhex, NULL, 200);
}

/* A refused event (new, or a new version: /events/ID/edit): its form again with what was sent. */
static void event_again(hreq *r, int status, const char *msg)
{
    if (r->nseg == 3)
        event_edit_form(r, r->seg[1], msg, status);
    else
        event_form(r, NULL, msg, status);
}

/* POST /events (new) and /events/ID/edit (a new version of ID). */
static void event_create_post(hreq *r, const char *supersedes)
{
    uint8_t id[KN_ID];
    event_in e = { .space = http_param(r, "space"),
        .title = http_param(r, "title"),
        .tz = http_param(r, "tz"),
        .place = http_param(r, "place"),
        .link = http_param(r, "link"),
        .description = http_param(r, "description"),
        .contact = http_param(r, "contact"),
        .capacity = http_param(r, "capacity"),
        .start_text = http_param(r, "start"),
        .end_text = http_param(r, "end"),
        .supersedes = supersedes };
    r->form_again = event_again;
    if (event_create(r, &e, id) < 0)
        return;
    char loc[100], hex[65];
    kn_hex_encode(hex, id, KN_ID);
    snprintf(loc, sizeof loc, "/events/%s", hex);
    http_redirect(r, loc);
}

/* An event with the RSVP form; error: a refused answer, shown above the form. */
static void event_page(hreq *r, const char *idhex, const char *error, int status)
{
    uint8_t id[KN_ID], *raw;
    kn_object o;
    kn_directory dir;
    if (http_load(r, idhex, KN_T_EVENT, id, &raw, &o) < 0)
        return;
    if (!dir_load(r, &dir)) {
        free(raw);
        return;
    }
    json_t *j = event_json(r, &o, true, &dir);
    kn_directory_free(&dir);
    free(raw);
    if (!j) {
        http_error(r, 500, "oom", "out of memory");
        return;
    }
    hbuf b = { 0 };
    http_page_begin(r, &b, http_jbody(j, "title"));
    if (http_form_get(&r->query, "answered"))
        http_notice(&b, "ok", tr(r, T_RSVP_SAVED));
    if (error)
        http_notice(&b, "error", error);
    hb_puts(&b, "<article class=\"event\"><h1>");
    hb_escs(&b, http_jbody(j, "title"));
    hb_puts(&b, "</h1>");
    http_byline(r, &b, j);
    if (strcmp(http_jstr(j, "newest"), idhex) != 0)
        hb_printf(&b, "<p class=\"error\" role=\"status\">%s <a href=\"events/%s\">%s</a></p>",
            tr(r, T_OLD_VERSION), http_jstr(j, "newest"), tr(r, T_NEWEST_VERSION));
    hb_printf(&b, "<dl class=\"meta\"><dt>%s</dt><dd>", tr(r, T_WHEN));
    hb_escs(&b, http_jstr(j, "when"));
    hb_puts(&b, "</dd>");
    if (*http_jbody(j, "place")) {
        hb_printf(&b, "<dt>%s</dt><dd>", tr(r, T_PLACE));
        hb_escs(&b, http_jbody(j, "place"));
        hb_puts(&b, "</dd>");
    }
    if (*http_jbody(j, "link")) { /* the schema allows only http(s) addresses */
        hb_printf(&b, "<dt>%s</dt><dd><a href=\"", tr(r, T_ONLINE_LINK));
        hb_escs(&b, http_jbody(j, "link"));
        hb_puts(&b, "\" rel=\"noopener noreferrer\" target=\"_blank\">");
        hb_escs(&b, http_jbody(j, "link"));
        hb_puts(&b, "</a></dd>");
    }
    if (*http_jbody(j, "contact")) {
        hb_printf(&b, "<dt>%s</dt><dd>", tr(r, T_CONTACT));
        hb_escs(&b, http_jbody(j, "contact"));
        hb_puts(&b, "</dd>");
    }
    json_t *cap = json_object_get(json_object_get(j, "body"), "capacity");
    if (json_is_integer(cap))
        hb_printf(
            &b, "<dt>%s</dt><dd>%lld</dd>", tr(r, T_CAPACITY), (long long)json_integer_value(cap));
    hb_puts(&b, "</dl>");
    if (*http_jbody(j, "description"))
        http_markdown(&b, http_jbody(j, "description"));
    hb_printf(&b, "<p><a class=\"button\" href=\"%s\" download>%s</a></p>", http_jstr(j, "ics"),
        tr(r, T_ICS));
    json_t *rs = json_object_get(j, "rsvp");
    hb_printf(&b,
        "<h2 id=\"rsvp\">%s</h2><p id=\"rsvp-counts\">%s: %lld \xc2\xb7 %s: %lld \xc2\xb7 %s: "
        "%lld</p>",
        tr(r, T_RSVP), tr(r, T_RSVP_YES), (long long)json_integer_value(json_object_get(rs, "yes")),
        tr(r, T_RSVP_MAYBE), (long long)json_integer_value(json_object_get(rs, "maybe")),
        tr(r, T_RSVP_NO), (long long)json_integer_value(json_object_get(rs, "no")));
    const char *mine = json_string_value(json_object_get(j, "mine"));
    hb_printf(&b, "<form method=\"post\" action=\"events/%s/rsvp\" class=\"stack\">", idhex);
    http_csrf_field(r, &b);
    hb_printf(&b, "<fieldset><legend>%s</legend>", tr(r, T_RSVP_YOURS));
    static const enum kn_text labels[3] = { T_RSVP_YES, T_RSVP_NO, T_RSVP_MAYBE };
    for (int k = 0; k < 3; k++)
        hb_printf(&b,
            "<div><input type=\"radio\" id=\"rsvp-%s\" name=\"status\" value=\"%s\"%s required> "
            "<label for=\"rsvp-%s\">%s</label></div>",
            rsvp_names[k], rsvp_names[k], mine && !strcmp(mine, rsvp_names[k]) ? " checked" : "",
            rsvp_names[k], tr(r, labels[k]));
    hb_printf(&b, "</fieldset><button type=\"submit\">%s</button></form>", tr(r, T_RSVP_SEND));
    json_t *people = json_object_get(j, "people");
    if (json_array_size(people)) {
        hb_puts(&b, "<ul class=\"people\">");
        size_t i;
        json_t *p;
        json_array_foreach(people, i, p)
        {
            const char *st = http_jstr(p, "status");
            hb_puts(&b, "<li>");
            http_esc_label(r, &b, http_jstr(p, "name"));
            hb_printf(&b, ": %s</li>",
                tr(r,
                    !strcmp(st, "yes")      ? T_RSVP_YES
                        : !strcmp(st, "no") ? T_RSVP_NO
                                            : T_RSVP_MAYBE));
        }
        hb_puts(&b, "</ul>");
    }
    char me[65];
    kn_hex_encode(me, r->acct.user, 32);
    if (!strcmp(me, http_jstr(j, "author")) && !strcmp(http_jstr(j, "newest"), idhex)) {
        hb_printf(&b, "<p class=\"row\"><a class=\"button\" href=\"events/%s/edit\">%s</a> ", idhex,
            tr(r, T_EVENT_EDIT));
        http_retract_link(r, &b, j);
        hb_puts(&b, "</p>");
    }
    hb_puts(&b, "</article>");
    json_decref(j);
    http_page_end(r, &b, status);
}

/* A refused answer: the event again, with the message. */
static void rsvp_again(hreq *r, int status, const char *msg)
{
    event_page(r, r->seg[1], msg, status);
}

static void rsvp_post(hreq *r, const char *idhex)
{
    uint8_t id[KN_ID];
    r->form_again = rsvp_again;
    if (rsvp(r, idhex, http_param(r, "status"), id) < 0)
        return;
    char loc[120];
    snprintf(loc, sizeof loc, "/events/%s?answered=1#rsvp", idhex);
    http_redirect(r, loc);
}

bool http_collab_pages(hreq *r)
{
    bool get = http_method_is(r, "GET") || http_method_is(r, "HEAD");
    bool post = http_method_is(r, "POST");
    if (r->nseg < 1)
        return false;
    if (!strcmp(r->seg[0], "polls")) {
        if (r->nseg == 1 && get)
            polls_page(r);
        else if (r->nseg == 1 && post)
            poll_create_post(r);
        else if (r->nseg == 2 && get && !strcmp(r->seg[1], "new"))
            poll_new_page(r, NULL, 200);
        else if (r->nseg == 2 && get)
            poll_page(r, r->seg[1], NULL, 200);
        else if (r->nseg == 3 && post && !strcmp(r->seg[2], "vote"))
            vote_post(r, r->seg[1]);
        else
            http_error(r, 404, "not_found", tr(r, T_NOT_FOUND));
        return true;
    }
    if (!strcmp(r->seg[0], "events")) {
        if (r->nseg == 1 && get)
            events_page(r);
        else if (r->nseg == 1 && post)
            event_create_post(r, NULL);
        else if (r->nseg == 2 && get && !strcmp(r->seg[1], "new"))
            event_new_page(r);
        else if (r->nseg == 2 && get)
            event_page(r, r->seg[1], NULL, 200);
        else if (r->nseg == 3 && get && !strcmp(r->seg[2], "ics"))
            send_ics(r, r->seg[1], NULL);
        else if (r->nseg == 3 && post && !strcmp(r->seg[2], "rsvp"))
            rsvp_post(r, r->seg[1]);
        else if (r->nseg == 3 && get && !strcmp(r->seg[2], "edit"))
            event_edit_page(r, r->seg[1]);
        else if (r->nseg == 3 && post && !strcmp(r->seg[2], "edit"))
            event_create_post(r, r->seg[1]);
        else
            http_error(r, 404, "not_found", tr(r, T_NOT_FOUND));
        return true;
    }
    return false;
}
