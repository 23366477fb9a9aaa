/*
 * Shared helpers of the store tests: a fresh store in its own temporary
 * directory, deterministic keys, and signed test objects of the types the
 * roster and the indexes care about. Header-only (static functions) because
 * every tests/unit/<module>/test_*.c is its own binary.
 */
#ifndef KN_STORE_FIXTURE_H
#define KN_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec.h"
#include "crypto.h"
#include "object.h"
#include "store.h"

/* Far enough ahead of every created time the tests use that nothing is "in the future". */
#define FX_NOW 4000000000000ull

typedef struct fx_key {
    uint8_t pk[KN_SIGN_PUBLIC];
    uint8_t sk[KN_SIGN_SECRET];
} fx_key;

/* A signed object with its bytes owned by the struct, so kn_object views stay valid. */
typedef struct fx_obj {
    uint8_t buf[4096];
    size_t len;
    uint8_t id[KN_ID];
    kn_object o;
} fx_obj;

typedef struct fx_store {
    char dir[64];
    kn_store *s;
    kn_store_options opt;
} fx_store;

static inline void fx_keygen(fx_key *k, uint8_t seed_byte)
{
    uint8_t seed[KN_SIGN_SEED];
    memset(seed, seed_byte, sizeof seed);
    kn_sign_keypair_from_seed(k->pk, k->sk, seed);
}

static inline void fx_open(fx_store *f)
{
    assert_int_equal(kn_store_open(&f->s, f->dir, &f->opt), 0);
}

static inline void fx_init(fx_store *f, size_t map, size_t pending_max)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(kn_crypto_init(), 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/kn-store-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->opt.initial_map_size = map;
    f->opt.no_sync = true;
    f->opt.pending_max = pending_max;
    fx_open(f);
}

static inline void fx_reopen(fx_store *f)
{
    kn_store_close(f->s);
    f->s = NULL;
    fx_open(f);
}

static inline void fx_done(fx_store *f)
{
    char path[128];
    kn_store_close(f->s);
    f->s = NULL;
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", f->dir);
    unlink(path);
    assert_int_equal(rmdir(f->dir), 0);
}

/* Signs a draft into o; refs are up to three ids (NULL-terminated list). */
static inline void fx_sign(fx_obj *o, kn_otype type, const fx_key *k, uint64_t created,
    const char *space, const uint8_t *ref0, const uint8_t *ref1, kn_mp_out *body)
{
    kn_object_draft d;
    uint8_t *out = NULL;
    size_t len = 0;

    memset(&d, 0, sizeof d);
    d.type = type;
    d.created = created;
    d.space = space;
    if (ref0)
        memcpy(d.refs[d.nrefs++], ref0, KN_ID);
    if (ref1)
        memcpy(d.refs[d.nrefs++], ref1, KN_ID);
    assert_int_equal(kn_mp_out_error(body), 0);
    d.body = body->buf;
    d.body_len = body->len;
    int rc = kn_object_sign(&d, k->sk, &out, &len);
    if (rc != 0)
        fail_msg("kn_object_sign(%s): %s", kn_otype_name((int)type), kn_errname(rc));
    assert_true(len <= sizeof o->buf);
    memcpy(o->buf, out, len);
    o->len = len;
    free(out);
    kn_mp_out_free(body);
    assert_int_equal(kn_object_decode(&o->o, o->buf, o->len), 0);
    memcpy(o->id, o->o.id, KN_ID);
}

static inline void fx_network(fx_obj *o, const fx_key *founder, uint64_t created, uint64_t admit)
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 2);
    kn_mp_write_cstr(&b, "admit");
    kn_mp_write_uint(&b, admit);
    kn_mp_write_cstr(&b, "name");
    kn_mp_write_cstr(&b, "Testnetz");
    fx_sign(o, KN_T_NETWORK, founder, created, "", NULL, NULL, &b);
}

static inline void fx_admit(fx_obj *o, const fx_key *by, uint64_t created, const uint8_t net[KN_ID],
    const uint8_t node[KN_KEY])
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 2);
    kn_mp_write_cstr(&b, "name");
    kn_mp_write_cstr(&b, "Gemeinde");
    kn_mp_write_cstr(&b, "node");
    kn_mp_write_bin(&b, node, KN_KEY);
    fx_sign(o, KN_T_ADMIT, by, created, "", net, NULL, &b);
}

static inline void fx_user(
    fx_obj *o, const fx_key *node, uint64_t created, const uint8_t user[KN_KEY])
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 3);
    kn_mp_write_cstr(&b, "key");
    kn_mp_write_bin(&b, user, KN_KEY);
    kn_mp_write_cstr(&b, "name");
    kn_mp_write_cstr(&b, "Erika Mustermann");
    kn_mp_write_cstr(&b, "role");
    kn_mp_write_cstr(&b, "Personalamt");
    fx_sign(o, KN_T_USER, node, created, "", NULL, NULL, &b);
}

static inline void fx_revoke(fx_obj *o, const fx_key *by, uint64_t created,
    const uint8_t net[KN_ID], const uint8_t key[KN_KEY])
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 2);
    kn_mp_write_cstr(&b, "key");
    kn_mp_write_bin(&b, key, KN_KEY);
    kn_mp_write_cstr(&b, "reason");
    kn_mp_write_cstr(&b, "left the network");
    fx_sign(o, KN_T_REVOKE, by, created, "", net, NULL, &b);
}

static inline void fx_thread(
    fx_obj *o, const fx_key *k, uint64_t created, const char *space, const char *title)
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 2);
    kn_mp_write_cstr(&b, "body");
    kn_mp_write_cstr(&b, "Wie handhaben Sie das?");
    kn_mp_write_cstr(&b, "title");
    kn_mp_write_cstr(&b, title);
    fx_sign(o, KN_T_THREAD, k, created, space, NULL, NULL, &b);
}

static inline void fx_post(fx_obj *o, const fx_key *k, uint64_t created, const char *space,
    const uint8_t thread[KN_ID], const uint8_t parent[KN_ID])
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 1);
    kn_mp_write_cstr(&b, "body");
    kn_mp_write_cstr(&b, "So machen wir es.");
    fx_sign(o, KN_T_POST, k, created, space, thread, parent, &b);
}

static inline void fx_retract(
    fx_obj *o, const fx_key *k, uint64_t created, const uint8_t target[KN_ID])
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 0);
    fx_sign(o, KN_T_RETRACT, k, created, "", target, NULL, &b);
}

static inline void fx_rsvp(fx_obj *o, const fx_key *k, uint64_t created, const char *space,
    const uint8_t event[KN_ID], const char *status)
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 1);
    kn_mp_write_cstr(&b, "status");
    kn_mp_write_cstr(&b, status);
    fx_sign(o, KN_T_RSVP, k, created, space, event, NULL, &b);
}

/* Ingests one object and returns its result (asserting the transaction itself worked). */
static inline int fx_put(fx_store *f, const fx_obj *o)
{
    int res = 0;
    int rc = kn_store_ingest(f->s, &o->o, 1, &res, NULL);
    if (rc != 0)
        fail_msg("kn_store_ingest: %s", kn_errname(rc));
    return res;
}

/* Like fx_put, and also reports how many pending objects the ingest released. */
static inline int fx_put_released(fx_store *f, const fx_obj *o, size_t *released)
{
    int res = 0;
    int rc = kn_store_ingest(f->s, &o->o, 1, &res, released);
    if (rc != 0)
        fail_msg("kn_store_ingest: %s", kn_errname(rc));
    return res;
}

#define assert_put(f, o, want)                                                                     \
    do {                                                                                           \
        int got_ = fx_put((f), (o));                                                               \
        if (got_ != (want))                                                                        \
            fail_msg("ingest: got %d (%s), want %d", got_, got_ < 0 ? kn_errname(got_) : "",       \
                (int)(want));                                                                      \
    } while (0)

/* Collects the ids a query visits, in order. */
typedef struct fx_ids {
    uint8_t ids[4096][KN_ID];
    uint64_t created[4096];
    size_t n;
} fx_ids;

static inline int fx_collect(void *ctx, const kn_object *o)
{
    fx_ids *c = ctx;
    if (c->n >= 4096)
        return 1;
    memcpy(c->ids[c->n], o->id, KN_ID);
    c->created[c->n] = o->created;
    c->n++;
    return 0;
}

static inline int fx_collect_id(void *ctx, uint64_t created, const uint8_t id[KN_ID])
{
    fx_ids *c = ctx;
    if (c->n >= 4096)
        return 1;
    memcpy(c->ids[c->n], id, KN_ID);
    c->created[c->n] = created;
    c->n++;
    return 0;
}

/* Runs q with kn_store_each, and checks that kn_store_each_id names the same objects in order. */
static inline size_t fx_query(fx_store *f, const kn_store_query *q, fx_ids *out)
{
    out->n = 0;
    int rc = kn_store_each(f->s, q, fx_collect, out);
    if (rc != 0)
        fail_msg("kn_store_each: %s", kn_errname(rc));
    fx_ids *ids = malloc(sizeof *ids);
    assert_non_null(ids);
    ids->n = 0;
    if ((rc = kn_store_each_id(f->s, q, fx_collect_id, ids)) != 0)
        fail_msg("kn_store_each_id: %s", kn_errname(rc));
    assert_int_equal(ids->n, out->n);
    for (size_t i = 0; i < out->n; i++) {
        assert_int_equal(ids->created[i], out->created[i]);
        assert_memory_equal(ids->ids[i], out->ids[i], KN_ID);
    }
    free(ids);
    return out->n;
}

static inline bool fx_ids_has(const fx_ids *c, const uint8_t id[KN_ID])
{
    for (size_t i = 0; i < c->n; i++)
        if (memcmp(c->ids[i], id, KN_ID) == 0)
            return true;
    return false;
}

/* A network with founder A (admit rule k) stored at created 1000. */
static inline void fx_found(fx_store *f, fx_obj *net, const fx_key *founder, uint64_t k)
{
    fx_network(net, founder, 1000, k);
    assert_put(f, net, KN_PUT_STORED);
}

#endif
