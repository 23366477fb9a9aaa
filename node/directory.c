/*
 * Names for keys (see directory.h).
 */
#include "directory.h"
#include "grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

typedef struct admit_scan {
    kn_directory *d;
    size_t cap;
    int err;
} admit_scan;

/* Admits come in (created, id) order, so the last one seen for a node names it. */
static int admit_visit(void *arg, const kn_object *o)
{
    admit_scan *a = arg;
    kn_directory *d = a->d;
    const uint8_t *key;
    const char *s;
    uint32_t len;
    if (kn_object_bin(o, "node", &key, &len) < 0 || len != 32)
        return 0;
    kn_council *c = NULL;
    for (size_t i = 0; i < d->ncouncils; i++)
        if (memcmp(d->councils[i].key, key, 32) == 0)
            c = &d->councils[i];
    if (!c) {
        if (d->ncouncils == a->cap) {
            kn_council *nc = kn_grow(d->councils, &a->cap, 16, sizeof *nc);
            if (!nc) {
                a->err = KN_ENOMEM;
                return 1;
            }
            d->councils = nc;
        }
        c = &d->councils[d->ncouncils++];
        memset(c, 0, sizeof *c);
        memcpy(c->key, key, 32);
    }
    if (kn_object_str(o, "name", &s, &len) == 0 && len < sizeof c->name) {
        memcpy(c->name, s, len);
        c->name[len] = 0;
    }
    c->ags[0] = 0;
    if (kn_object_str(o, "ags", &s, &len) == 0 && len < sizeof c->ags) {
        memcpy(c->ags, s, len);
        c->ags[len] = 0;
    }
    return 0;
}

static int council_cmp(const void *a, const void *b)
{
    return memcmp(((const kn_council *)a)->key, ((const kn_council *)b)->key, 32);
}

int kn_directory_load(kn_datadir *dd, kn_directory *d)
{
    memset(d, 0, sizeof *d);
    int rc = kn_users_list(dd, true, &d->users, &d->nusers);
    if (rc < 0)
        return rc;
    admit_scan a = { .d = d };
    kn_store_query q = { .index = KN_BY_SPACE_TYPE, .space = "", .type = KN_T_ADMIT };
    rc = kn_store_each(dd->store, &q, admit_visit, &a);
    if (rc == 0)
        rc = a.err;
    if (rc < 0) {
        kn_directory_free(d);
        return rc;
    }
    if (d->ncouncils)
        qsort(d->councils, d->ncouncils, sizeof *d->councils, council_cmp);
    uint8_t net[KN_ID], *raw = NULL;
    size_t len;
    uint64_t k;
    kn_object o;
    if (kn_store_network_get(dd->store, net, &k) == 0
        && kn_store_get(dd->store, net, &raw, &len) == 0 && kn_object_decode(&o, raw, len) == 0) {
        memcpy(d->founder, o.author, 32);
        d->has_founder = true;
    }
    free(raw);
    return 0;
}

void kn_directory_free(kn_directory *d)
{
    if (!d)
        return;
    free(d->users);
    free(d->councils);
    memset(d, 0, sizeof *d);
}

const kn_user_entry *kn_directory_user(const kn_directory *d, const uint8_t key[32])
{
    for (size_t i = 0; i < d->nusers; i++)
        if (memcmp(d->users[i].r.key, key, 32) == 0)
            return &d->users[i];
    return NULL;
}

const kn_council *kn_directory_council(const kn_directory *d, const uint8_t key[32])
{
    kn_council k;
    memcpy(k.key, key, 32);
    return d->ncouncils ? bsearch(&k, d->councils, d->ncouncils, sizeof k, council_cmp) : NULL;
}

/* A council's name, or "founding council <hex8>" / "<hex16>" when no admit names it. */
static void council_label(const kn_directory *d, const uint8_t key[32], char *buf, size_t cap)
{
    const kn_council *c = kn_directory_council(d, key);
    char hex[65];
    if (c && c->name[0]) {
        snprintf(buf, cap, "%s", c->name);
        return;
    }
    kn_hex_encode(hex, key, 32);
    if (d->has_founder && memcmp(key, d->founder, 32) == 0)
        snprintf(buf, cap, "founding council %.8s", hex);
    else
        snprintf(buf, cap, "%.16s", hex);
}

const char *kn_directory_label(const kn_directory *d, const uint8_t key[32], char *buf, size_t cap)
{
    const kn_user_entry *u = kn_directory_user(d, key);
    if (u) {
        char council[220];
        council_label(d, u->r.node, council, sizeof council);
        snprintf(buf, cap, "%s (%s)", u->name[0] ? u->name : "?", council);
    } else {
        council_label(d, key, buf, cap);
    }
    return buf;
}

int kn_directory_find_user(
    const kn_directory *d, const char *key_or_name, const kn_user_entry **out)
{
    uint8_t key[32];
    size_t hits = 0;
    *out = NULL;
    if (strlen(key_or_name) == 64 && kn_hex_decode(key, 32, key_or_name, 64) == 0) {
        *out = kn_directory_user(d, key);
        return *out ? 0 : KN_ENOTFOUND;
    }
    for (size_t i = 0; i < d->nusers; i++)
        if (strcmp(d->users[i].name, key_or_name) == 0 && hits++ == 0)
            *out = &d->users[i];
    if (hits > 1)
        *out = NULL;
    return hits == 0 ? KN_ENOTFOUND : hits > 1 ? KN_EEXIST : 0;
}
