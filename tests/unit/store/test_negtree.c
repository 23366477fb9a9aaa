/*
 * The store's Negentropy tree (store/negtree.c) against the in-memory
 * kn_neg_vector, which is the specification: for seeded random item sets of
 * several shapes (huge time ranges, thousands of items in one millisecond,
 * items that even share the first id bytes) the LMDB storage must answer
 * size, get, lower_bound and fingerprint exactly as the vector does, after
 * incremental inserts, deletions, a bulk rebuild, a reopen and a migration
 * from schema 1; whole reconciliations against a vector must find exactly the
 * seeded differences; and real ingests, retractions and revocations must keep
 * the tree in step with by_time.
 */
#include "store_fixture.h"

#include "negtree.h"

/* ---- seeded randomness ---- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return n ? rng_next(s) % n : 0;
}

static void rng_id(uint64_t *s, uint8_t id[KN_NEG_ID])
{
    for (size_t i = 0; i < KN_NEG_ID; i += 8) {
        uint64_t v = rng_next(s);
        memcpy(id + i, &v, 8);
    }
}

/* ---- item sets ---- */

enum shape {
    SHAPE_HUGE_RANGE, /* timestamps anywhere in 0 .. 2^64 - 2 */
    SHAPE_REALISTIC, /* one year of milliseconds around 2024 */
    SHAPE_SAME_MS, /* a handful of milliseconds, hundreds of items in each */
    SHAPE_SAME_PREFIX, /* same millisecond and same id[0..1]: the depth-20 worst case */
    SHAPE_MIXED,
};

static const char *shape_name(enum shape sh)
{
    static const char *names[] = { "huge-range", "realistic", "same-ms", "same-prefix", "mixed" };
    return names[sh];
}

static void make_item(uint64_t *r, enum shape sh, kn_neg_item *it)
{
    rng_id(r, it->id);
    switch (sh) {
    case SHAPE_HUGE_RANGE:
        it->timestamp = rng_next(r) % (UINT64_MAX - 1);
        break;
    case SHAPE_REALISTIC:
        it->timestamp = 1704067200000ull + rng_below(r, 31536000000ull);
        break;
    case SHAPE_SAME_MS:
        it->timestamp = 1704067200000ull + rng_below(r, 4);
        break;
    case SHAPE_SAME_PREFIX:
        it->timestamp = 1704067200000ull + rng_below(r, 2);
        it->id[0] = 0xab;
        it->id[1] = (uint8_t)rng_below(r, 2);
        break;
    case SHAPE_MIXED:
        make_item(r, (enum shape)rng_below(r, SHAPE_MIXED), it);
        break;
    }
}

/* Items are unique by construction only with overwhelming probability; the tests dedupe. */
static size_t gen_items(uint64_t *r, enum shape sh, size_t n, kn_neg_item *out)
{
    for (size_t i = 0; i < n; i++)
        make_item(r, sh, &out[i]);
    return n;
}

static kn_neg_vector *vector_of(const kn_neg_item *items, size_t n, const bool *skip)
{
    kn_neg_vector *v;
    assert_int_equal(kn_neg_vector_new(&v), 0);
    for (size_t i = 0; i < n; i++)
        if (!skip || !skip[i])
            assert_int_equal(kn_neg_vector_insert(v, items[i].timestamp, items[i].id), 0);
    assert_int_equal(kn_neg_vector_seal(v), 0);
    return v;
}

/* ---- the equivalence check ---- */

static void item_near(uint64_t *r, const kn_neg_item *base, kn_neg_item *out)
{
    *out = *base;
    switch (rng_below(r, 6)) {
    case 0: /* the item itself */
        break;
    case 1: /* a zero-padded id prefix, as bounds arrive on the wire */
    {
        size_t keep = (size_t)rng_below(r, KN_NEG_ID + 1);
        memset(out->id + keep, 0, KN_NEG_ID - keep);
        break;
    }
    case 2: /* just after */
        for (int i = KN_NEG_ID - 1; i >= 0 && ++out->id[i] == 0; i--)
            ;
        break;
    case 3: /* same time, id all zero or all 0xff */
        memset(out->id, rng_below(r, 2) ? 0xff : 0, KN_NEG_ID);
        break;
    case 4: /* a neighbouring millisecond */
        out->timestamp += rng_below(r, 2) ? 1 : (uint64_t)-1;
        if (out->timestamp == KN_NEG_TS_MAX)
            out->timestamp = 0;
        memset(out->id, 0, KN_NEG_ID);
        break;
    default:
        rng_id(r, out->id);
        break;
    }
}

/*
 * Compares every answer of a against v: size, each get (in order, backwards
 * and at random, so the sequential shortcut and full descents both run), all
 * prefix and suffix fingerprints, random ranges and random lower bounds.
 */
static void assert_same(
    const kn_neg_storage *a, const kn_neg_storage *v, uint64_t seed, const char *what)
{
    size_t na, nv;
    uint64_t r = seed;
    kn_neg_item ia, iv;
    uint8_t fa[KN_NEG_FINGERPRINT], fv[KN_NEG_FINGERPRINT];

    assert_int_equal(a->size(a->ctx, &na), 0);
    assert_int_equal(v->size(v->ctx, &nv), 0);
    if (na != nv)
        fail_msg("%s: size %zu, want %zu", what, na, nv);
    for (size_t k = 0; k < 3 * nv; k++) {
        size_t i = k < nv ? k : k < 2 * nv ? 2 * nv - 1 - k : (size_t)rng_below(&r, nv);
        assert_int_equal(a->get(a->ctx, i, &ia), 0);
        assert_int_equal(v->get(v->ctx, i, &iv), 0);
        if (kn_neg_item_cmp(&ia, &iv) != 0)
            fail_msg("%s: get(%zu) differs (ts %llu vs %llu)", what, i,
                (unsigned long long)ia.timestamp, (unsigned long long)iv.timestamp);
    }
    assert_int_equal(a->get(a->ctx, nv, &ia), KN_EINVAL);
    for (size_t i = 0; i <= nv; i++) {
        size_t ranges[2][2] = { { 0, i }, { i, nv } };
        for (int j = 0; j < 2; j++) {
            assert_int_equal(a->fingerprint(a->ctx, ranges[j][0], ranges[j][1], fa), 0);
            assert_int_equal(v->fingerprint(v->ctx, ranges[j][0], ranges[j][1], fv), 0);
            if (memcmp(fa, fv, sizeof fa) != 0)
                fail_msg("%s: fingerprint [%zu, %zu) differs", what, ranges[j][0], ranges[j][1]);
        }
    }
    for (int k = 0; k < 2000; k++) {
        size_t b = (size_t)rng_below(&r, nv + 1), e = (size_t)rng_below(&r, nv + 1);
        if (b > e) {
            size_t t = b;
            b = e;
            e = t;
        }
        assert_int_equal(a->fingerprint(a->ctx, b, e, fa), 0);
        assert_int_equal(v->fingerprint(v->ctx, b, e, fv), 0);
        if (memcmp(fa, fv, sizeof fa) != 0)
            fail_msg("%s: fingerprint [%zu, %zu) differs", what, b, e);

        kn_neg_item bound;
        if (nv && rng_below(&r, 8)) {
            assert_int_equal(v->get(v->ctx, (size_t)rng_below(&r, nv), &iv), 0);
            item_near(&r, &iv, &bound);
        } else if (rng_below(&r, 2)) {
            bound.timestamp = KN_NEG_TS_MAX;
            memset(bound.id, 0, KN_NEG_ID);
        } else {
            bound.timestamp = rng_next(&r) % KN_NEG_TS_MAX;
            rng_id(&r, bound.id);
        }
        size_t la, lv;
        assert_int_equal(a->lower_bound(a->ctx, b, e, &bound, &la), 0);
        assert_int_equal(v->lower_bound(v->ctx, b, e, &bound, &lv), 0);
        if (la != lv)
            fail_msg("%s: lower_bound in [%zu, %zu) = %zu, want %zu", what, b, e, la, lv);
    }
    assert_int_equal(a->fingerprint(a->ctx, 0, nv + 1, fa), KN_EINVAL);
}

static void assert_store_same(
    kn_store *s, const kn_neg_vector *vec, uint64_t seed, const char *what)
{
    kn_store_neg *h;
    assert_int_equal(kn_store_neg_open(s, &h), 0);
    kn_neg_storage a = kn_store_neg_storage(h);
    kn_neg_storage v = kn_neg_vector_storage((kn_neg_vector *)vec);
    assert_same(&a, &v, seed, what);
    kn_store_neg_close(h);
}

/* Dedupes items in place (sorting them), so vector and store see one copy each. */
static int item_qcmp(const void *a, const void *b)
{
    return kn_neg_item_cmp(a, b);
}

static size_t dedupe(kn_neg_item *items, size_t n)
{
    qsort(items, n, sizeof *items, item_qcmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || kn_neg_item_cmp(&items[m - 1], &items[i]) != 0)
            items[m++] = items[i];
    return m;
}

static void shuffle(uint64_t *r, kn_neg_item *items, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        kn_neg_item t = items[i - 1];
        items[i - 1] = items[j];
        items[j] = t;
    }
}

/*
 * One seeded scenario: insert in random order and in batches (the tree
 * maintained per item), compare; delete a random part, compare; rebuild in
 * bulk, compare; reopen, compare; add the deleted items back, compare.
 */
static void run_equivalence(enum shape sh, size_t n, uint64_t seed)
{
    fx_store f;
    uint64_t r = seed;
    char what[96];
    kn_neg_item *items = calloc(n ? n : 1, sizeof *items);
    bool *gone = calloc(n ? n : 1, sizeof *gone);
    kn_neg_item *del = calloc(n ? n : 1, sizeof *del);
    assert_non_null(items);
    assert_non_null(gone);
    assert_non_null(del);

    fx_init(&f, 0, 0);
    n = dedupe(items, gen_items(&r, sh, n, items));
    kn_neg_item *order = calloc(n ? n : 1, sizeof *order);
    assert_non_null(order);
    memcpy(order, items, n * sizeof *items);
    shuffle(&r, order, n);
    for (size_t at = 0; at < n;) {
        size_t batch = 1 + (size_t)rng_below(&r, 500);
        if (batch > n - at)
            batch = n - at;
        assert_int_equal(kn_store_debug_neg_insert(f.s, order + at, batch, true), 0);
        at += batch;
    }
    /* Inserting an item twice changes nothing. */
    if (n)
        assert_int_equal(kn_store_debug_neg_insert(f.s, order, 1, true), 0);

    kn_neg_vector *v = vector_of(items, n, NULL);
    snprintf(what, sizeof what, "%s n=%zu seed=%llu inserted", shape_name(sh), n,
        (unsigned long long)seed);
    assert_store_same(f.s, v, seed, what);
    kn_neg_vector_free(v);

    /* Delete about a third, as retractions and revocation purges do. */
    size_t nd = 0;
    for (size_t i = 0; i < n; i++)
        if (rng_below(&r, 3) == 0) {
            gone[i] = true;
            del[nd++] = items[i];
        }
    shuffle(&r, del, nd);
    assert_int_equal(kn_store_debug_neg_delete(f.s, del, nd), 0);
    if (nd)
        assert_int_equal(kn_store_debug_neg_delete(f.s, del, 1), KN_ENOTFOUND);
    v = vector_of(items, n, gone);
    snprintf(what, sizeof what, "%s n=%zu seed=%llu after %zu deletions", shape_name(sh), n,
        (unsigned long long)seed, nd);
    assert_store_same(f.s, v, seed + 1, what);

    assert_int_equal(kn_store_neg_rebuild(f.s), 0);
    snprintf(what, sizeof what, "%s n=%zu seed=%llu rebuilt", shape_name(sh), n,
        (unsigned long long)seed);
    assert_store_same(f.s, v, seed + 2, what);

    fx_reopen(&f);
    snprintf(what, sizeof what, "%s n=%zu seed=%llu reopened", shape_name(sh), n,
        (unsigned long long)seed);
    assert_store_same(f.s, v, seed + 3, what);
    kn_neg_vector_free(v);

    /* The rebuilt tree takes incremental inserts too. */
    assert_int_equal(kn_store_debug_neg_insert(f.s, del, nd, true), 0);
    v = vector_of(items, n, NULL);
    snprintf(what, sizeof what, "%s n=%zu seed=%llu re-inserted", shape_name(sh), n,
        (unsigned long long)seed);
    assert_store_same(f.s, v, seed + 4, what);
    kn_neg_vector_free(v);

    fx_done(&f);
    free(order);
    free(del);
    free(gone);
    free(items);
}

static void test_equivalence_small(void **state)
{
    (void)state;
    static const size_t sizes[] = { 0, 1, 2, 31, 32, 33, 34, 100 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int sh = 0; sh <= SHAPE_MIXED; sh++)
            run_equivalence((enum shape)sh, sizes[i], 1000 + i * 10 + (uint64_t)sh);
}

static void test_equivalence_random(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++)
        for (int sh = 0; sh <= SHAPE_MIXED; sh++)
            run_equivalence(
                (enum shape)sh, 1500 + (size_t)(seed * 700), seed * 7919 + (uint64_t)sh);
}

/* ---- whole reconciliations ---- */

static int id_qcmp(const void *a, const void *b)
{
    return memcmp(a, b, KN_NEG_ID);
}

static void assert_ids(kn_neg_ids *got, uint8_t (*want)[KN_NEG_ID], size_t nwant, const char *what)
{
    if (got->count != nwant)
        fail_msg("%s: %zu ids, want %zu", what, got->count, nwant);
    if (nwant == 0)
        return;
    qsort(got->ids, got->count, KN_NEG_ID, id_qcmp);
    qsort(want, nwant, KN_NEG_ID, id_qcmp);
    for (size_t i = 0; i < nwant; i++)
        if (memcmp(got->ids[i], want[i], KN_NEG_ID) != 0)
            fail_msg("%s: id %zu differs", what, i);
}

/*
 * Runs client against server until the client is done; returns the rounds.
 * Both engines exist for the whole run, as over one connection.
 */
static int reconcile(const kn_neg_storage *cs, const kn_neg_storage *ss, uint64_t frame,
    kn_neg_ids *have, kn_neg_ids *need)
{
    kn_neg *c, *srv;
    const uint8_t *msg, *reply;
    size_t msg_len, reply_len;
    uint8_t *copy = NULL;
    int rounds = 0, rc;

    assert_int_equal(kn_neg_new(&c, cs, frame), 0);
    assert_int_equal(kn_neg_new(&srv, ss, frame), 0);
    assert_int_equal(kn_neg_initiate(c, &msg, &msg_len), 0);
    for (;;) {
        rounds++;
        assert_true(rounds < 1000);
        copy = realloc(copy, msg_len);
        memcpy(copy, msg, msg_len);
        assert_int_equal(kn_neg_reconcile_server(srv, copy, msg_len, &reply, &reply_len), 0);
        copy = realloc(copy, reply_len);
        memcpy(copy, reply, reply_len);
        rc = kn_neg_reconcile_client(c, copy, reply_len, &msg, &msg_len, have, need);
        assert_true(rc == 0 || rc == KN_NEG_DONE);
        if (rc == KN_NEG_DONE)
            break;
    }
    free(copy);
    kn_neg_free(c);
    kn_neg_free(srv);
    return rounds;
}

/*
 * A store and a vector share a common set; each also has items of its own.
 * With the store as server and as client, and with and without a frame
 * limit, the client must report exactly the seeded differences.
 */
static void run_reconcile(
    enum shape sh, size_t common, size_t only_store, size_t only_vec, uint64_t seed)
{
    fx_store f;
    uint64_t r = seed;
    size_t n = common + only_store + only_vec;
    kn_neg_item *items = calloc(n ? n : 1, sizeof *items);
    uint8_t(*want_s)[KN_NEG_ID] = calloc(only_store + 1, KN_NEG_ID);
    uint8_t(*want_v)[KN_NEG_ID] = calloc(only_vec + 1, KN_NEG_ID);
    char what[128];
    assert_non_null(items);

    fx_init(&f, 0, 0);
    n = dedupe(items, gen_items(&r, sh, n, items));
    shuffle(&r, items, n);
    if (n < common + only_store + only_vec) /* a rare duplicate: shrink the common part */
        common -= common + only_store + only_vec - n;
    kn_neg_vector *vec;
    assert_int_equal(kn_neg_vector_new(&vec), 0);
    for (size_t i = 0; i < n; i++) {
        bool in_store = i < common + only_store, in_vec = i < common || i >= common + only_store;
        if (in_store)
            assert_int_equal(kn_store_debug_neg_insert(f.s, &items[i], 1, true), 0);
        if (in_vec)
            assert_int_equal(kn_neg_vector_insert(vec, items[i].timestamp, items[i].id), 0);
        if (in_store && !in_vec)
            memcpy(want_s[i - common], items[i].id, KN_NEG_ID);
        if (in_vec && !in_store)
            memcpy(want_v[i - common - only_store], items[i].id, KN_NEG_ID);
    }
    assert_int_equal(kn_neg_vector_seal(vec), 0);

    kn_store_neg *h;
    assert_int_equal(kn_store_neg_open(f.s, &h), 0);
    kn_neg_storage ls = kn_store_neg_storage(h), vs = kn_neg_vector_storage(vec);
    static const uint64_t frames[] = { 0, KN_NEG_MIN_FRAME };
    for (int fi = 0; fi < 2; fi++) {
        for (int store_client = 0; store_client < 2; store_client++) {
            kn_neg_ids have = { 0 }, need = { 0 };
            int rounds = store_client ? reconcile(&ls, &vs, frames[fi], &have, &need)
                                      : reconcile(&vs, &ls, frames[fi], &have, &need);
            snprintf(what, sizeof what, "%s common=%zu store+%zu vec+%zu frame=%llu %s (%d rounds)",
                shape_name(sh), common, only_store, only_vec, (unsigned long long)frames[fi],
                store_client ? "store client" : "store server", rounds);
            assert_ids(
                &have, store_client ? want_s : want_v, store_client ? only_store : only_vec, what);
            assert_ids(
                &need, store_client ? want_v : want_s, store_client ? only_vec : only_store, what);
            kn_neg_ids_free(&have);
            kn_neg_ids_free(&need);
        }
    }
    kn_store_neg_close(h);
    kn_neg_vector_free(vec);
    fx_done(&f);
    free(want_v);
    free(want_s);
    free(items);
}

static void test_reconcile(void **state)
{
    (void)state;
    run_reconcile(SHAPE_REALISTIC, 3000, 0, 0, 11);
    run_reconcile(SHAPE_REALISTIC, 3000, 1, 0, 12);
    run_reconcile(SHAPE_REALISTIC, 3000, 0, 1, 13);
    run_reconcile(SHAPE_REALISTIC, 2000, 150, 170, 14);
    run_reconcile(SHAPE_HUGE_RANGE, 2000, 40, 3, 15);
    run_reconcile(SHAPE_SAME_MS, 2000, 300, 300, 16);
    run_reconcile(SHAPE_SAME_PREFIX, 500, 20, 30, 17);
    run_reconcile(SHAPE_MIXED, 2500, 400, 1, 18);
    run_reconcile(SHAPE_MIXED, 0, 100, 100, 19);
}

/* ---- real objects: ingest, retraction, revocation, migration ---- */

typedef struct collect {
    kn_neg_vector *v;
} collect;

static int collect_item(void *ctx, const kn_object *o)
{
    collect *c = ctx;
    assert_int_equal(kn_neg_vector_insert(c->v, o->created, o->id), 0);
    return 0;
}

/* The vector of what by_time holds, read through the store's query API. */
static kn_neg_vector *vector_of_store(fx_store *f)
{
    collect c;
    kn_store_query q = { .index = KN_BY_TIME };
    assert_int_equal(kn_neg_vector_new(&c.v), 0);
    assert_int_equal(kn_store_each(f->s, &q, collect_item, &c), 0);
    assert_int_equal(kn_neg_vector_seal(c.v), 0);
    return c.v;
}

static void assert_tree_matches_store(fx_store *f, uint64_t seed, const char *what)
{
    kn_neg_vector *v = vector_of_store(f);
    assert_store_same(f->s, v, seed, what);
    kn_neg_vector_free(v);
}

static void test_objects_retract_revoke_migrate(void **state)
{
    (void)state;
    fx_store f;
    fx_key a, b, u;
    fx_obj net, adm, cert, rv, rt;
    static fx_obj t[120];
    kn_store_stats st;

    fx_init(&f, 0, 0);
    fx_keygen(&a, 1);
    fx_keygen(&b, 2);
    fx_keygen(&u, 3);
    fx_found(&f, &net, &a, 1);
    fx_admit(&adm, &a, 1100, net.id, b.pk);
    assert_put(&f, &adm, KN_PUT_STORED);
    fx_user(&cert, &b, 1200, u.pk);
    assert_put(&f, &cert, KN_PUT_STORED);

    /* Threads by three authors, many in the same millisecond, so leaves split. */
    for (size_t i = 0; i < 120; i++) {
        const fx_key *k = i % 3 == 0 ? &a : i % 3 == 1 ? &b : &u;
        char title[32];
        snprintf(title, sizeof title, "Thema %zu", i);
        fx_thread(&t[i], k, 5000 + (i % 4) * (i < 60 ? 1 : 100000), "Corona", title);
        assert_put(&f, &t[i], KN_PUT_STORED);
    }
    /* A post whose thread arrives later is released from pending into the tree. */
    fx_obj late, reply;
    fx_thread(&late, &a, 7000, "Vergaberecht", "spät");
    fx_post(&reply, &b, 7001, "Vergaberecht", late.id, late.id);
    assert_put(&f, &reply, KN_PUT_PENDING);
    assert_tree_matches_store(&f, 1, "objects ingested, one pending");
    assert_put(&f, &late, KN_PUT_STORED);
    assert_int_equal(kn_store_has(f.s, reply.id), 1);
    assert_tree_matches_store(&f, 2, "pending released");

    /* Retraction takes the target out of by_time and out of the tree. */
    fx_retract(&rt, &a, 9000, t[0].id);
    assert_put(&f, &rt, KN_PUT_STORED);
    assert_int_equal(kn_store_has(f.s, t[0].id), 0);
    assert_tree_matches_store(&f, 3, "after a retraction");

    /* Revoking b purges what b and its user signed from the revoke's time on. */
    fx_revoke(&rv, &a, 5002, net.id, b.pk);
    assert_put(&f, &rv, KN_PUT_STORED);
    assert_int_equal(kn_store_has(f.s, t[1].id), 1); /* created 5001: before */
    assert_int_equal(kn_store_has(f.s, t[61].id), 0); /* created 105001: after */
    assert_tree_matches_store(&f, 4, "after a revocation");

    /* A schema-1 store (no tree) is migrated on open: the tree is built from by_time. */
    assert_int_equal(kn_store_debug_neg_drop(f.s), 0);
    fx_reopen(&f);
    assert_int_equal(kn_store_stats_get(f.s, &st), 0);
    assert_int_equal(st.schema_version, KN_STORE_SCHEMA_VERSION);
    assert_tree_matches_store(&f, 5, "migrated from schema 1");

    /* ... and keeps being maintained after the migration. */
    fx_retract(&rt, &a, 9100, t[3].id);
    assert_put(&f, &rt, KN_PUT_STORED);
    assert_tree_matches_store(&f, 6, "retraction after migration");
    fx_reopen(&f);
    assert_tree_matches_store(&f, 7, "reopened");
    fx_done(&f);
}

/*
 * Tree updates are cached per write transaction and written at the commit
 * (negtree.c). One batch here adds items until a leaf splits, empties that
 * split node again by retraction, adds new items under the emptied prefix,
 * and purges by revocation: the committed tree must answer as by_time does.
 */
static void test_one_batch_adds_and_removes(void **state)
{
    (void)state;
    enum { N = 40, M = 10 };
    fx_store f;
    fx_key a, b;
    fx_obj net, adm, rv;
    static fx_obj t[N], r[N], again[M], late[M];
    kn_object batch[2 * N + 2 * M + 1];
    int res[2 * N + 2 * M + 1];
    size_t n = 0;

    fx_init(&f, 0, 0);
    fx_keygen(&a, 1);
    fx_keygen(&b, 2);
    fx_found(&f, &net, &a, 1);
    fx_admit(&adm, &a, 1100, net.id, b.pk);
    assert_put(&f, &adm, KN_PUT_STORED);
    assert_tree_matches_store(&f, 30, "founded");

    /* N threads in one millisecond: more than a leaf holds, so it splits mid-batch. */
    for (size_t i = 0; i < N; i++) {
        char title[32];
        snprintf(title, sizeof title, "Thema %zu", i);
        fx_thread(&t[i], &a, 5000, "Corona", title);
        batch[n++] = t[i].o;
    }
    /* ... all retracted in the same batch: the split node and its children empty. */
    for (size_t i = 0; i < N; i++) {
        fx_retract(&r[i], &a, 6000 + i, t[i].id);
        batch[n++] = r[i].o;
    }
    /* New items under the emptied prefix, and some by b that b's revocation purges. */
    for (size_t i = 0; i < M; i++) {
        char title[32];
        snprintf(title, sizeof title, "Neu %zu", i);
        fx_thread(&again[i], &a, 5000, "Corona", title);
        batch[n++] = again[i].o;
        fx_thread(&late[i], &b, 8000 + i, "Corona", title);
        batch[n++] = late[i].o;
    }
    fx_revoke(&rv, &a, 8005, net.id, b.pk);
    batch[n++] = rv.o;
    assert_int_equal(kn_store_ingest(f.s, batch, n, res, NULL), 0);
    for (size_t i = 0; i < n; i++)
        if (res[i] != KN_PUT_STORED)
            fail_msg("object %zu: got %d, want %d", i, res[i], KN_PUT_STORED);
    assert_int_equal(kn_store_has(f.s, t[0].id), 0);
    assert_int_equal(kn_store_has(f.s, again[0].id), 1);
    assert_int_equal(kn_store_has(f.s, late[4].id), 1); /* created 8004: before the revoke */
    assert_int_equal(kn_store_has(f.s, late[5].id), 0);
    assert_tree_matches_store(&f, 31, "one batch of adds, retractions and a purge");

    /* The same objects one transaction each give the very same tree records. */
    fx_store g;
    uint8_t dg[32], df[32];
    fx_init(&g, 0, 0);
    fx_found(&g, &net, &a, 1);
    assert_put(&g, &adm, KN_PUT_STORED);
    for (size_t i = 0; i < n; i++) {
        int rc = kn_store_ingest(g.s, &batch[i], 1, &res[i], NULL);
        assert_int_equal(rc, 0);
        assert_int_equal(res[i], KN_PUT_STORED);
    }
    assert_int_equal(kn_store_debug_neg_digest(f.s, df), 0);
    assert_int_equal(kn_store_debug_neg_digest(g.s, dg), 0);
    assert_memory_equal(df, dg, 32);
    fx_done(&g);
    fx_reopen(&f);
    assert_tree_matches_store(&f, 32, "reopened");

    /* A refused object (a second network) next to a stored one. */
    fx_obj bad, fine;
    fx_thread(&fine, &a, 9000, "Corona", "kommt dazu");
    fx_network(&bad, &a, 1001, 1);
    batch[0] = fine.o;
    batch[1] = bad.o;
    assert_int_equal(kn_store_ingest(f.s, batch, 2, res, NULL), 0);
    assert_int_equal(res[0], KN_PUT_STORED);
    assert_int_equal(res[1], KN_EUNAUTH);
    assert_tree_matches_store(&f, 33, "after a refusal");
    fx_done(&f);
}

/*
 * Big transactions (more tree nodes than the write cache keeps, so it is
 * flushed mid-transaction) against one transaction per item: same records.
 */
static void test_batched_tree_records(void **state)
{
    (void)state;
    enum { N = 3000 };
    uint64_t r = 99;
    kn_neg_item *items = calloc(N, sizeof *items);
    uint8_t d1[32], d2[32];
    fx_store f, g;
    assert_non_null(items);

    for (int sh = 0; sh <= SHAPE_MIXED; sh++) {
        size_t n = dedupe(items, gen_items(&r, (enum shape)sh, N, items));
        shuffle(&r, items, n);
        fx_init(&f, 0, 0);
        fx_init(&g, 0, 0);
        assert_int_equal(kn_store_debug_neg_insert(f.s, items, n, true), 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(kn_store_debug_neg_insert(g.s, &items[i], 1, true), 0);
        assert_int_equal(kn_store_debug_neg_digest(f.s, d1), 0);
        assert_int_equal(kn_store_debug_neg_digest(g.s, d2), 0);
        assert_memory_equal(d1, d2, 32);
        /* Delete half of them, in one transaction and one by one. */
        assert_int_equal(kn_store_debug_neg_delete(f.s, items, n / 2), 0);
        for (size_t i = 0; i < n / 2; i++)
            assert_int_equal(kn_store_debug_neg_delete(g.s, &items[i], 1), 0);
        assert_int_equal(kn_store_debug_neg_digest(f.s, d1), 0);
        assert_int_equal(kn_store_debug_neg_digest(g.s, d2), 0);
        assert_memory_equal(d1, d2, 32);
        fx_done(&f);
        fx_done(&g);
    }
    free(items);
}

/* A migration of a larger debug-loaded store, and that the tree really comes from disk. */
static void test_migration_bulk(void **state)
{
    (void)state;
    fx_store f;
    uint64_t r = 77;
    enum { N = 5000 };
    kn_neg_item *items = calloc(N, sizeof *items);
    assert_non_null(items);

    fx_init(&f, 0, 0);
    size_t n = dedupe(items, gen_items(&r, SHAPE_MIXED, N, items));
    assert_int_equal(kn_store_debug_neg_insert(f.s, items, n, true), 0);
    assert_int_equal(kn_store_debug_neg_drop(f.s), 0);
    fx_reopen(&f);
    kn_neg_vector *v = vector_of(items, n, NULL);
    assert_store_same(f.s, v, 78, "bulk store migrated");

    kn_store_neg *h;
    kn_neg_storage st;
    size_t size;

    /*
     * A sorted bulk load without the tree, then a rebuild, as the benchmark
     * does. Before the rebuild the storage sees nothing: the answers come from
     * the tree, not from by_time.
     */
    fx_done(&f);
    fx_init(&f, 0, 0);
    assert_int_equal(kn_store_debug_neg_insert(f.s, items, n, false), 0);
    assert_int_equal(kn_store_neg_open(f.s, &h), 0);
    st = kn_store_neg_storage(h);
    assert_int_equal(st.size(st.ctx, &size), 0);
    assert_int_equal(size, 0); /* stale until rebuilt */
    kn_store_neg_close(h);
    assert_int_equal(kn_store_neg_rebuild(f.s), 0);
    assert_store_same(f.s, v, 79, "bulk loaded and rebuilt");
    kn_neg_vector_free(v);
    fx_done(&f);
    free(items);
}

/* A snapshot keeps its view while later writes commit. */
static void test_snapshot_isolation(void **state)
{
    (void)state;
    fx_store f;
    uint64_t r = 5;
    kn_neg_item items[200];
    kn_store_neg *h;
    size_t size;

    fx_init(&f, 64 * 1024 * 1024, 0);
    size_t n = dedupe(items, gen_items(&r, SHAPE_REALISTIC, 200, items));
    assert_int_equal(kn_store_debug_neg_insert(f.s, items, 100, true), 0);
    kn_neg_vector *v = vector_of(items, 100, NULL);
    assert_int_equal(kn_store_neg_open(f.s, &h), 0);
    assert_int_equal(kn_store_debug_neg_insert(f.s, items + 100, n - 100, true), 0);
    kn_neg_storage a = kn_store_neg_storage(h), vs = kn_neg_vector_storage(v);
    assert_same(&a, &vs, 6, "snapshot taken before a write");
    kn_store_neg_close(h);
    assert_int_equal(kn_store_neg_open(f.s, &h), 0);
    a = kn_store_neg_storage(h);
    assert_int_equal(a.size(a.ctx, &size), 0);
    assert_int_equal(size, n);
    kn_store_neg_close(h);
    kn_store_neg_close(NULL);
    kn_neg_vector_free(v);
    fx_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equivalence_small),
        cmocka_unit_test(test_equivalence_random),
        cmocka_unit_test(test_reconcile),
        cmocka_unit_test(test_objects_retract_revoke_migrate),
        cmocka_unit_test(test_one_batch_adds_and_removes),
        cmocka_unit_test(test_batched_tree_records),
        cmocka_unit_test(test_migration_bulk),
        cmocka_unit_test(test_snapshot_isolation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
