/*
 * iCalendar export (see ics.h for the choices).
 */
#include "ics.h"
#include "grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "tz.h"

enum { ZONE_TRANSITIONS_MAX = 400, DAY = 86400 };

void kn_ics_text_escape(kn_text *out, const char *s, size_t len)
{
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e;
        if (c == '\\')
            e = "\\\\";
        else if (c == ';')
            e = "\\;";
        else if (c == ',')
            e = "\\,";
        else if (c == '\n')
            e = "\\n";
        else if ((c < 0x20 && c != '\t') || c == 0x7f)
            e = ""; /* CR and other controls are not allowed in TEXT */
        else
            continue;
        kn_text_put(out, s + run, i - run);
        kn_text_puts(out, e);
        run = i + 1;
    }
    kn_text_put(out, s + run, len - run);
}

/* Folds one logical line: at most 75 octets per physical line, never inside a UTF-8 sequence. */
static void fold(kn_text *out, const char *l, size_t len)
{
    size_t pos = 0, max = 75;
    while (len - pos > max) {
        size_t e = pos + max;
        while (e > pos + 1 && ((unsigned char)l[e] & 0xc0) == 0x80)
            e--; /* l[e] would start the next line: it must not be a continuation byte */
        kn_text_put(out, l + pos, e - pos);
        kn_text_puts(out, "\r\n ");
        pos = e;
        max = 74; /* the leading space counts */
    }
    kn_text_put(out, l + pos, len - pos);
    kn_text_puts(out, "\r\n");
}

void kn_ics_line(kn_text *out, const char *name, const char *value, size_t vlen)
{
    kn_text l;
    kn_text_init(&l, 0);
    kn_text_puts(&l, name);
    kn_text_puts(&l, ":");
    kn_text_put(&l, value, vlen);
    if (l.err) {
        if (!out->err)
            out->err = l.err;
    } else {
        fold(out, l.s, l.len);
    }
    kn_text_free(&l);
}

/* A TEXT property from raw text. */
static void text_prop(kn_text *out, const char *name, const char *s, size_t len)
{
    kn_text v;
    kn_text_init(&v, 0);
    kn_ics_text_escape(&v, s, len);
    if (v.err) {
        if (!out->err)
            out->err = v.err;
    } else {
        kn_ics_line(out, name, v.s ? v.s : "", v.len);
    }
    kn_text_free(&v);
}

/* "20261203T100000" (+ "Z" when utc) for UTC seconds t shown at offset utoff. */
static void fmt_dt(char buf[20], int64_t t, int32_t utoff, bool utc)
{
    int64_t local = t + utoff, days = local >= 0 ? local / DAY : (local - DAY + 1) / DAY;
    int64_t sod = local - days * DAY, y;
    unsigned m, d;
    kn_civil_from_days(days, &y, &m, &d);
    snprintf(buf, 20, "%04d%02u%02uT%02u%02u%02u%s", (int)(y % 10000), m, d, (unsigned)(sod / 3600),
        (unsigned)(sod % 3600 / 60), (unsigned)(sod % 60), utc ? "Z" : "");
}

static void fmt_offset(char buf[16], int32_t off)
{
    char sign = off < 0 ? '-' : '+';
    int32_t a = off < 0 ? -off : off;
    if (a % 60)
        snprintf(buf, 16, "%c%02d%02d%02d", sign, a / 3600, a % 3600 / 60, a % 60);
    else
        snprintf(buf, 16, "%c%02d%02d", sign, a / 3600, a % 3600 / 60);
}

/* ---- the events ---- */

typedef struct item {
    uint8_t *raw; /* the newest version's bytes (owned) */
    kn_object ev;
    uint8_t uid[KN_ID]; /* the first version's id */
    uint64_t first_created;
    uint32_t sequence;
    uint64_t start, end;
    char tz[KN_TZ_NAME_MAX + 1];
    kn_tz *zone; /* borrowed from the zone list; NULL: written in UTC */
    uint64_t rsvp[3];
} item;

typedef struct zone {
    char name[KN_TZ_NAME_MAX + 1];
    kn_tz *z;
    int64_t from, to; /* the span its VTIMEZONE must cover */
} zone;

typedef struct calendar {
    item *it;
    size_t n, cap;
    zone *zones;
    size_t nzones;
} calendar;

static void calendar_free(calendar *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->it[i].raw);
    for (size_t i = 0; i < c->nzones; i++)
        kn_tz_free(c->zones[i].z);
    free(c->it);
    free(c->zones);
}

/* Adds the event id names (its newest version), unless the same event is in already. */
static int add_event(kn_store *s, calendar *c, const uint8_t id[KN_ID])
{
    kn_versions v;
    uint8_t *raw = NULL;
    size_t len;
    kn_object o;
    int rc = kn_store_versions(s, id, &v);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < c->n; i++)
        if (memcmp(c->it[i].uid, v.id[0], KN_ID) == 0)
            return 0;
    if (c->n == KN_ICS_EVENTS_MAX)
        return KN_ELIMIT;
    if ((rc = kn_store_get(s, kn_versions_newest(&v), &raw, &len)) < 0)
        return rc;
    if ((rc = kn_object_decode(&o, raw, len)) < 0 || o.type != KN_T_EVENT) {
        free(raw);
        return rc < 0 ? rc : KN_EINVAL;
    }
    if (c->n == c->cap) {
        item *ni = kn_grow(c->it, &c->cap, 16, sizeof *ni);
        if (!ni) {
            free(raw);
            return KN_ENOMEM;
        }
        c->it = ni;
    }
    item *it = &c->it[c->n];
    memset(it, 0, sizeof *it);
    it->raw = raw;
    it->ev = o;
    memcpy(it->uid, v.id[0], KN_ID);
    it->first_created = v.created[0];
    it->sequence = (uint32_t)(v.n - 1);
    const char *tz;
    uint32_t tzlen;
    if (kn_object_uint(&o, "start", &it->start) < 0 || kn_object_uint(&o, "end", &it->end) < 0
        || kn_object_str(&o, "tz", &tz, &tzlen) < 0 || tzlen > KN_TZ_NAME_MAX) {
        free(raw);
        return KN_ECORRUPT;
    }
    memcpy(it->tz, tz, tzlen);
    it->tz[tzlen] = 0;
    kn_rsvp_tally t;
    if ((rc = kn_store_rsvp_tally(s, (const uint8_t(*)[KN_ID])v.id, v.n, &t)) < 0) {
        free(raw);
        return rc;
    }
    memcpy(it->rsvp, t.counts, sizeof it->rsvp);
    kn_rsvp_tally_free(&t);
    c->n++;
    return 0;
}

/* Loads each zone once and records the span it must cover; unknown zones leave zone NULL. */
static int load_zones(calendar *c)
{
    if (c->n && !(c->zones = calloc(c->n, sizeof *c->zones)))
        return KN_ENOMEM;
    for (size_t i = 0; i < c->n; i++) {
        item *it = &c->it[i];
        int64_t from = (int64_t)(it->start / 1000) - DAY, to = (int64_t)(it->end / 1000) + DAY;
        zone *z = NULL;
        for (size_t j = 0; j < c->nzones; j++)
            if (strcmp(c->zones[j].name, it->tz) == 0)
                z = &c->zones[j];
        if (!z) {
            z = &c->zones[c->nzones++];
            snprintf(z->name, sizeof z->name, "%s", it->tz);
            int rc = kn_tz_load(it->tz, &z->z);
            if (rc == KN_ENOMEM)
                return rc;
            z->from = from;
            z->to = to;
        }
        if (from < z->from)
            z->from = from;
        if (to > z->to)
            z->to = to;
    }
    for (size_t j = 0; j < c->nzones; j++) {
        zone *z = &c->zones[j];
        /* A span with too many transitions to list: write its events in UTC instead. */
        if (z->z && kn_tz_transitions(z->z, z->from, z->to, NULL, 0) > ZONE_TRANSITIONS_MAX) {
            kn_tz_free(z->z);
            z->z = NULL;
        }
        for (size_t i = 0; i < c->n; i++)
            if (strcmp(c->it[i].tz, z->name) == 0)
                c->it[i].zone = z->z;
    }
    return 0;
}

static void observance(
    kn_text *out, bool dst, int64_t at, int32_t from, int32_t to, const char *abbr)
{
    char dt[20], f[16], t[16];
    fmt_dt(dt, at, from, false); /* the onset in the local time before it */
    fmt_offset(f, from);
    fmt_offset(t, to);
    kn_text_puts(out, dst ? "BEGIN:DAYLIGHT\r\n" : "BEGIN:STANDARD\r\n");
    kn_ics_line(out, "DTSTART", dt, strlen(dt));
    kn_ics_line(out, "TZOFFSETFROM", f, strlen(f));
    kn_ics_line(out, "TZOFFSETTO", t, strlen(t));
    text_prop(out, "TZNAME", abbr, strlen(abbr));
    kn_text_puts(out, dst ? "END:DAYLIGHT\r\n" : "END:STANDARD\r\n");
}

/*
 * A VTIMEZONE for the span: the state in effect at its start as the first
 * observance, then one observance per transition inside it.
 */
static int vtimezone(kn_text *out, const zone *z)
{
    kn_tz_transition tr[ZONE_TRANSITIONS_MAX];
    kn_tz_info first;
    size_t n = kn_tz_transitions(z->z, z->from, z->to, tr, ZONE_TRANSITIONS_MAX);
    kn_tz_at(z->z, z->from, &first);
    kn_text_puts(out, "BEGIN:VTIMEZONE\r\n");
    kn_ics_line(out, "TZID", z->name, strlen(z->name));
    observance(out, first.dst, z->from, first.utoff, first.utoff, first.abbr);
    for (size_t i = 0; i < n && i < ZONE_TRANSITIONS_MAX; i++)
        observance(out, tr[i].to.dst, tr[i].at, tr[i].from_utoff, tr[i].to.utoff, tr[i].to.abbr);
    kn_text_puts(out, "END:VTIMEZONE\r\n");
    return out->err;
}

static void dt_prop(kn_text *out, const char *name, const item *it, uint64_t ms)
{
    char dt[20], prop[128];
    if (it->zone) {
        kn_tz_info info;
        kn_tz_at(it->zone, (int64_t)(ms / 1000), &info);
        fmt_dt(dt, (int64_t)(ms / 1000), info.utoff, false);
        snprintf(prop, sizeof prop, "%s;TZID=%s", name, it->tz);
        kn_ics_line(out, prop, dt, strlen(dt));
    } else {
        fmt_dt(dt, (int64_t)(ms / 1000), 0, true);
        kn_ics_line(out, name, dt, strlen(dt));
    }
}

static void utc_prop(kn_text *out, const char *name, uint64_t ms)
{
    char dt[20];
    fmt_dt(dt, (int64_t)(ms / 1000), 0, true);
    kn_ics_line(out, name, dt, strlen(dt));
}

/* The description: the text, then the facts a calendar has no field for. */
static void description(kn_text *d, const item *it, const kn_directory *dir)
{
    const kn_object *o = &it->ev;
    const char *s;
    uint32_t len;
    kn_mp_in v;
    uint32_t n;
    uint64_t cap;
    if (kn_object_str(o, "description", &s, &len) == 0 && len) {
        kn_text_put(d, s, len);
        kn_text_puts(d, "\n\n");
    }
    if (kn_object_str(o, "link", &s, &len) == 0) {
        kn_text_puts(d, "Online: ");
        kn_text_put(d, s, len);
        kn_text_puts(d, "\n");
    }
    if (kn_object_str(o, "group", &s, &len) == 0 && len) {
        kn_text_puts(d, "Group: ");
        kn_text_put(d, s, len);
        kn_text_puts(d, "\n");
    }
    if (kn_object_field(o, "langs", &v) == 0 && kn_mp_read_array(&v, &n) == 0 && n) {
        kn_text_puts(d, "Languages: ");
        for (uint32_t i = 0; i < n && kn_mp_read_str(&v, &s, &len) == 0; i++) {
            kn_text_puts(d, i ? ", " : "");
            kn_text_put(d, s, len);
        }
        kn_text_puts(d, "\n");
    }
    if (kn_object_str(o, "contact", &s, &len) == 0 && len) {
        kn_text_puts(d, "Registration: ");
        kn_text_put(d, s, len);
        kn_text_puts(d, "\n");
    }
    if (kn_object_uint(o, "capacity", &cap) == 0)
        kn_text_printf(d, "Places: %llu\n", (unsigned long long)cap);
    kn_text_printf(d, "RSVP: %llu yes, %llu maybe, %llu no\n", (unsigned long long)it->rsvp[0],
        (unsigned long long)it->rsvp[2], (unsigned long long)it->rsvp[1]);
    if (dir) {
        char who[300];
        kn_directory_label(dir, o->author, who, sizeof who);
        kn_text_printf(d, "Organised by: %s\n", who);
    }
}

static int vevent(kn_text *out, const item *it, const kn_directory *dir)
{
    const kn_object *o = &it->ev;
    char hex[65], uid[80];
    const char *s;
    uint32_t len;
    kn_text d;

    kn_hex_encode(hex, it->uid, KN_ID);
    snprintf(uid, sizeof uid, "%s@knoten", hex);
    kn_text_puts(out, "BEGIN:VEVENT\r\n");
    kn_ics_line(out, "UID", uid, strlen(uid));
    utc_prop(out, "DTSTAMP", o->created);
    utc_prop(out, "CREATED", it->first_created);
    utc_prop(out, "LAST-MODIFIED", o->created);
    kn_text_printf(out, "SEQUENCE:%u\r\n", it->sequence);
    dt_prop(out, "DTSTART", it, it->start);
    dt_prop(out, "DTEND", it, it->end);
    if (kn_object_str(o, "title", &s, &len) == 0)
        text_prop(out, "SUMMARY", s, len);
    if (kn_object_str(o, "place", &s, &len) == 0 && len)
        text_prop(out, "LOCATION", s, len);
    else if (kn_object_str(o, "link", &s, &len) == 0)
        text_prop(out, "LOCATION", s, len);
    if (kn_object_str(o, "link", &s, &len) == 0)
        kn_ics_line(out, "URL", s, len); /* a URI: the schema allows no space or control */
    if (kn_object_str(o, "contact", &s, &len) == 0 && len)
        text_prop(out, "CONTACT", s, len);
    text_prop(out, "CATEGORIES", o->space, o->space_len);
    kn_text_init(&d, 0);
    description(&d, it, dir);
    if (d.err && !out->err)
        out->err = d.err;
    else if (d.len)
        text_prop(out, "DESCRIPTION", d.s, d.len);
    kn_text_free(&d);
    kn_text_puts(out, "END:VEVENT\r\n");
    return out->err;
}

static int item_cmp(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return memcmp(x->uid, y->uid, KN_ID);
}

static int write_calendar(calendar *c, const kn_directory *dir, const char *calname, kn_text *out)
{
    int rc;
    if (c->n)
        qsort(c->it, c->n, sizeof *c->it, item_cmp);
    if ((rc = load_zones(c)) < 0)
        return rc;
    kn_text_puts(out, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
    kn_ics_line(out, "PRODID", "-//knoten//knoten events//EN", 28);
    kn_text_puts(out, "CALSCALE:GREGORIAN\r\n");
    if (calname)
        text_prop(out, "X-WR-CALNAME", calname, strlen(calname));
    for (size_t i = 0; i < c->nzones; i++)
        if (c->zones[i].z && (rc = vtimezone(out, &c->zones[i])) < 0)
            return rc;
    for (size_t i = 0; i < c->n; i++)
        if ((rc = vevent(out, &c->it[i], dir)) < 0)
            return rc;
    kn_text_puts(out, "END:VCALENDAR\r\n");
    return out->err;
}

int kn_ics_export(kn_store *s, const kn_directory *dir, const uint8_t (*ids)[KN_ID], size_t n,
    const char *calname, kn_text *out)
{
    calendar c = { 0 };
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = add_event(s, &c, ids[i]);
    if (rc == 0)
        rc = write_calendar(&c, dir, calname, out);
    calendar_free(&c);
    return rc;
}

typedef struct area_scan {
    kn_store *s;
    calendar *c;
    int err;
} area_scan;

static int area_visit(void *arg, const kn_object *o)
{
    area_scan *a = arg;
    uint8_t id[KN_ID];
    memcpy(id, o->id, KN_ID); /* o points into the read transaction */
    int rc = add_event(a->s, a->c, id);
    if (rc < 0) {
        a->err = rc;
        return 1;
    }
    return 0;
}

int kn_ics_export_area(kn_store *s, const kn_directory *dir, const char *area, kn_text *out)
{
    calendar c = { 0 };
    area_scan a = { s, &c, 0 };
    kn_store_query q = { .index = KN_BY_SPACE_TYPE, .space = area, .type = KN_T_EVENT };
    int rc = kn_store_each(s, &q, area_visit, &a);
    if (rc == 0)
        rc = a.err;
    if (rc == 0)
        rc = write_calendar(&c, dir, area, out);
    calendar_free(&c);
    return rc;
}
