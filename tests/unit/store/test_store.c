/*
 * The store's own mechanics: put/get, dedupe, persistence, batches, the four
 * query indexes, map growth, the schema version, stats, settings, and that
 * corrupt records on disk are refused rather than trusted. Authorisation,
 * pending, revocation and retraction are in test_store_roster.c.
 */
#include "store_fixture.h"

static void test_put_get(void **state)
{
    (void)state;
    fx_store f;
    fx_key a;
    fx_obj net, t;
    uint8_t *buf = NULL, id[KN_ID];
    size_t len = 0;

    fx_init(&f, 0, 0);
    fx_keygen(&a, 1);
    fx_found(&f, &net, &a, 1);
    fx_thread(&t, &a, 2000, "Corona", "Homeoffice");

    assert_int_equal(kn_store_has(f.s, t.id), 0);
    assert_int_equal(kn_store_put(f.s, t.buf, t.len, FX_NOW, id), KN_PUT_STORED);
    assert_memory_equal(id, t.id, KN_ID);
    assert_int_equal(kn_store_has(f.s, t.id), 1);
    assert_int_equal(kn_store_get(f.s, t.id, &buf, &len), 0);
    assert_int_equal(len, t.len);
    assert_memory_equal(buf, t.buf, len);
    free(buf);

    uint8_t unknown[KN_ID] = { 7 };
    assert_int_equal(kn_store_get(f.s, unknown, &buf, &len), KN_ENOTFOUND);
    assert_null(buf);

    /* kn_store_put validates: a flipped signature byte is refused before the store sees it. */
    fx_obj bad = t;
    bad.buf[bad.len - 1] ^= 1;
    assert_int_equal(kn_store_put(f.s, bad.buf, bad.len, FX_NOW, NULL), KN_ESIG);
    /* ... and so is an object from too far in the future. */
    fx_obj late;
    fx_thread(&late, &a, FX_NOW, "Corona", "Zukunft");
    assert_int_equal(
        kn_store_put(f.s, late.buf, late.len, FX_NOW - KN_FUTURE_SKEW_MS - 1, NULL), KN_EFUTURE);
    assert_int_equal(
        kn_store_put(f.s, late.buf, late.len, FX_NOW - KN_FUTURE_SKEW_MS, NULL), KN_PUT_STORED);
    fx_done(&f);
}

static void test_dedupe(void **state)
{
    (void)state;
    fx_store f;
    fx_key a;
    fx_obj net, t, p;

    fx_init(&f, 0, 0);
    fx_keygen(&a, 1);
    fx_found(&f, &net, &a, 1);
    assert_put(&f, &net, KN_PUT_DUPLICATE);
    fx_thread(&t, &a, 2000, "Corona", "Homeoffice");
    assert_put(&f, &t, KN_PUT_STORED);
    assert_put(&f, &t, KN_PUT_DUPLICATE);

    /* Pending objects dedupe too: the same orphan twice is held once. */
    uint8_t missing[KN_ID] = { 9 };
    fx_post(&p, &a, 3000, "Corona", missing, missing);
    assert_put(&f, &p, KN_PUT_PENDING);
    assert_put(&f, &p, KN_PUT_DUPLICATE);

    assert_int_equal(kn_store_has(f.s, p.id), 0); /* pending is not stored */

    /* The same object twice in one batch. */
    fx_obj t2;
    fx_thread(&t2, &a, 2500, "Corona", "Impfpflicht");
    kn_object two[2] = { t2.o, t2.o };
    int res[2];
    assert_int_equal(kn_store_ingest(f.s, two, 2, res, NULL), 0);
    assert_int_equal(res[0], KN_PUT_STORED);
    assert_int_equal(res[1], KN_PUT_DUPLICATE);

    kn_store_stats st;
    assert_int_equal(kn_store_stats_get(f.s, &st), 0);
    assert_int_equal(st.objects, 3);
    assert_int_equal(st.pending, 1);

    /* kn_store_known: stored or tombstoned is known; pending and absent are not. */
    fx_obj r;
    fx_retract(&r, &a, 4000, t2.id);
    assert_put(&f, &r, KN_PUT_STORED);
    assert_int_equal(kn_store_has(f.s, t2.id), 0);
    const uint8_t *ids[] = { net.id, t.id, p.id, missing, t2.id, r.id };
    const uint8_t want[] = { 1, 1, 0, 0, 1, 1 };
    uint8_t known[6];
    memset(known, 7, sizeof known);
    assert_int_equal(kn_store_known(f.s, ids, 6, known), 0);
    assert_memory_equal(known, want, 6);
    assert_int_equal(kn_store_known(f.s, ids, 0, NULL), 0);
    assert_int_equal(kn_store_known(f.s, NULL, 1, known), KN_EINVAL);
    assert_int_equal(kn_store_known(NULL, ids, 1, known), KN_EINVAL);
    /* kn_store_held: the same, and the pending post too (fetching it again brings nothing). */
    const uint8_t want_held[] = { 1, 1, 1, 0, 1, 1 };
    memset(known, 7, sizeof known);
    assert_int_equal(kn_store_held(f.s, ids, 6, known), 0);
    assert_memory_equal(known, want_held, 6);
    assert_int_equal(kn_store_held(f.s, NULL, 1, known), KN_EINVAL);
    fx_done(&f);
}

static void test_persistence(void **state)
{
    (void)state;
    fx_store f;
    fx_key a;
    fx_obj net, t, p;
    fx_ids *c = malloc(sizeof *c);
    assert_non_null(c);

    fx_init(&f, 0, 0);
    fx_keygen(&a, 1);
    fx_found(&f, &net, &a, 1);
    fx_thread(&t, &a, 2000, "Corona", "Homeoffice");
    fx_post(&p, &a, 3000, "Corona", t.id, t.id);
    assert_put(&f, &t, KN_PUT_STORED);
    assert_put(&f, &p, KN_PUT_STORED);
    assert_int_equal(kn_store_setting_put(f.s, "node.name", (const uint8_t *)"Musterstadt", 11), 0);
    fx_reopen(&f);

    assert_int_equal(kn_store_has(f.s, net.id), 1);
    assert_int_equal(kn_store_has(f.s, t.id), 1);
    assert_int_equal(kn_store_has(f.s, p.id), 1);
    kn_store_query q = { .index = KN_BY_TIME };
    assert_int_equal(fx_query(&f, &q, c), 3);
    assert_memory_equal(c->ids[0], net.id, KN_ID);
    assert_memory_equal(c->ids[1], t.id, KN_ID);
    assert_memory_equal(c->ids[2], p.id, KN_ID);
    q = (kn_store_query) { .index = KN_BY_REF, .ref = t.id };
    assert_int_equal(fx_query(&f, &q, c), 1);
    assert_memory_equal(c->ids[0], p.id, KN_ID);
    /* The roster survives too: the founder may still write. */
    fx_obj t2;
    fx_thread(&t2, &a, 4000, "Corona", "Masken");
    assert_put(&f, &t2, KN_PUT_STORED);
    uint8_t *v = NULL;
    size_t vl = 0;
    assert_int_equal(kn_store_setting_get(f.s, "node.name", &v, &vl), 0);
    assert_int_equal(vl, 11);
    assert_memory_equal(v, "Musterstadt", 11);
    free(v);
    free(c);
    fx_done(&f);
}

static void test_batch_1000(void **state)
{
    (void)state;
    enum { N = 1000 };
    fx_store f;
    fx_key a;
    fx_obj *objs = malloc(N * sizeof *objs);
    kn_object *views = malloc(N * sizeof *views);
    int *res = malloc(N * sizeof *res);
    fx_ids *c = malloc(sizeof *c);
    assert_true(objs && views && res && c);

    fx_init(&f, 0, 0);
    fx_keygen(&a, 1);
    fx_network(&objs[0], &a, 1000, 1);
    for (int i = 1; i < N; i++) {
        char title[32];
        snprintf(title, sizeof title, "Frage %d", i);
        /* created times out of order, to see the index sort them */
        fx_thread(&objs[i], &a, 2000 + (uint64_t)((i * 7919) % N), i % 2 ? "Corona" : "Bau", title);
    }
    for (int i = 0; i < N; i++)
        views[i] = objs[i].o;
    size_t released = 99;
    assert_int_equal(kn_store_ingest(f.s, views, N, res, &released), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(res[i], KN_PUT_STORED);
    assert_int_equal(released, 0);

    kn_store_stats st;
    assert_int_equal(kn_store_stats_get(f.s, &st), 0);
    assert_int_equal(st.objects, N);
    kn_store_query q = { .index = KN_BY_TIME };
    assert_int_equal(fx_query(&f, &q, c), N);
    for (size_t i = 1; i < c->n; i++) {
        assert_true(c->created[i - 1] <= c->created[i]);
        if (c->created[i - 1] == c->created[i])
            assert_true(memcmp(c->ids[i - 1], c->ids[i], KN_ID) < 0);
    }
    q = (kn_store_query) { .index = KN_BY_SPACE_TYPE, .space = "Corona", .type = KN_T_THREAD };
    assert_int_equal(fx_query(&f, &q, c), N / 2);
    free(objs);
    free(views);
    free(res);
    free(c);
    fx_done(&f);
}

/* A small fixed world for the index tests. */
typedef struct world {
    fx_key a, b;
    fx_obj net, admit_b, t1, t2, t3, p1, p2, p3, vote_like;
} world;

static void world_build(fx_store *f, world *w)
{
    fx_keygen(&w->a, 1);
    fx_keygen(&w->b, 2);
    fx_found(f, &w->net, &w->a, 1);
    fx_admit(&w->admit_b, &w->a, 1500, w->net.id, w->b.pk);
    assert_put(f, &w->admit_b, KN_PUT_STORED);
    fx_thread(&w->t1, &w->a, 2000, "Corona", "Eins");
    fx_thread(&w->t2, &w->b, 3000, "Corona", "Zwei");
    fx_thread(&w->t3, &w->b, 4000, "Bau", "Drei");
    fx_post(&w->p1, &w->b, 2500, "Corona", w->t1.id, w->t1.id);
    fx_post(&w->p2, &w->a, 3500, "Corona", w->t1.id, w->p1.id);
    fx_post(&w->p3, &w->b, 5000, "Corona", w->t2.id, w->t2.id);
    /* a second Corona thread between t1 and p1, so any-type scans must merge types by time */
    fx_thread(&w->vote_like, &w->a, 2200, "Corona", "Vier");
    const fx_obj *all[] = { &w->t1, &w->t2, &w->t3, &w->p1, &w->p2, &w->p3, &w->vote_like };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        assert_put(f, all[i], KN_PUT_STORED);
}

static void expect_order(const fx_ids *c, const fx_obj *const *want, size_t n)
{
    if (c->n != n)
        fail_msg("query returned %zu objects, want %zu", c->n, n);
    for (size_t i = 0; i < n; i++)
        if (memcmp(c->ids[i], want[i]->id, KN_ID) != 0)
            fail_msg("result %zu: created %llu, want created %llu", i,
                (unsigned long long)c->created[i], (unsigned long long)want[i]->o.created);
}

static void test_query_indexes(void **state)
{
    (void)state;
    fx_store f;
    world *w = malloc(sizeof *w);
    fx_ids *c = malloc(sizeof *c);
    assert_true(w && c);
    fx_init(&f, 0, 0);
    world_build(&f, w);
    kn_store_query q;

    /* by time: everything, bounds, reverse */
    q = (kn_store_query) { .index = KN_BY_TIME };
    assert_int_equal(fx_query(&f, &q, c), 9);
    q = (kn_store_query) { .index = KN_BY_TIME, .since_ms = 2200, .until_ms = 3500 };
    {
        const fx_obj *want[] = { &w->vote_like, &w->p1, &w->t2 };
        fx_query(&f, &q, c);
        expect_order(c, want, 3);
    }
    q.reverse = true;
    {
        const fx_obj *want[] = { &w->t2, &w->p1, &w->vote_like };
        fx_query(&f, &q, c);
        expect_order(c, want, 3);
    }
    q = (kn_store_query) { .index = KN_BY_TIME, .since_ms = 4000, .reverse = true };
    {
        const fx_obj *want[] = { &w->p3, &w->t3 };
        fx_query(&f, &q, c);
        expect_order(c, want, 2);
    }
    q = (kn_store_query) { .index = KN_BY_TIME, .since_ms = 6000 };
    assert_int_equal(fx_query(&f, &q, c), 0);

    /* by author */
    q = (kn_store_query) { .index = KN_BY_AUTHOR, .author = w->b.pk };
    {
        const fx_obj *want[] = { &w->p1, &w->t2, &w->t3, &w->p3 };
        fx_query(&f, &q, c);
        expect_order(c, want, 4);
    }
    q = (kn_store_query) {
        .index = KN_BY_AUTHOR, .author = w->b.pk, .until_ms = 4000, .reverse = true
    };
    {
        const fx_obj *want[] = { &w->t2, &w->p1 };
        fx_query(&f, &q, c);
        expect_order(c, want, 2);
    }

    /* by space and type; type 0 merges the types in time order */
    q = (kn_store_query) { .index = KN_BY_SPACE_TYPE, .space = "Corona", .type = KN_T_THREAD };
    {
        const fx_obj *want[] = { &w->t1, &w->vote_like, &w->t2 };
        fx_query(&f, &q, c);
        expect_order(c, want, 3);
    }
    q = (kn_store_query) { .index = KN_BY_SPACE_TYPE, .space = "Corona" };
    {
        const fx_obj *want[] = { &w->t1, &w->vote_like, &w->p1, &w->t2, &w->p2, &w->p3 };
        fx_query(&f, &q, c);
        expect_order(c, want, 6);
    }
    q.reverse = true;
    q.since_ms = 2500;
    q.until_ms = 5000;
    {
        const fx_obj *want[] = { &w->p2, &w->t2, &w->p1 };
        fx_query(&f, &q, c);
        expect_order(c, want, 3);
    }
    q = (kn_store_query) { .index = KN_BY_SPACE_TYPE, .space = "Bau" };
    {
        const fx_obj *want[] = { &w->t3 };
        fx_query(&f, &q, c);
        expect_order(c, want, 1);
    }
    /* "Cor" is a prefix of "Corona" but a different space */
    q = (kn_store_query) { .index = KN_BY_SPACE_TYPE, .space = "Cor" };
    assert_int_equal(fx_query(&f, &q, c), 0);
    /* the empty space holds the network and the admit */
    q = (kn_store_query) { .index = KN_BY_SPACE_TYPE, .space = "", .type = KN_T_ADMIT };
    {
        const fx_obj *want[] = { &w->admit_b };
        fx_query(&f, &q, c);
        expect_order(c, want, 1);
    }

    /* by ref: the replies of a thread, and the admits of the network */
    q = (kn_store_query) { .index = KN_BY_REF, .ref = w->t1.id, .type = KN_T_POST };
    {
        const fx_obj *want[] = { &w->p1, &w->p2 };
        fx_query(&f, &q, c);
        expect_order(c, want, 2);
    }
    q.reverse = true;
    {
        const fx_obj *want[] = { &w->p2, &w->p1 };
        fx_query(&f, &q, c);
        expect_order(c, want, 2);
    }
    q = (kn_store_query) { .index = KN_BY_REF, .ref = w->p1.id };
    {
        const fx_obj *want[] = { &w->p2 };
        fx_query(&f, &q, c);
        expect_order(c, want, 1);
    }
    q = (kn_store_query) { .index = KN_BY_REF, .ref = w->net.id };
    {
        const fx_obj *want[] = { &w->admit_b };
        fx_query(&f, &q, c);
        expect_order(c, want, 1);
    }
    q = (kn_store_query) { .index = KN_BY_REF, .ref = w->t1.id, .type = KN_T_VOTE };
    assert_int_equal(fx_query(&f, &q, c), 0);

    /* a visitor that stops after the first */
    q = (kn_store_query) { .index = KN_BY_TIME };
    c->n = 4095;
    assert_int_equal(kn_store_each(f.s, &q, fx_collect, c), 0);
    assert_int_equal(c->n, 4096);

    /* bad queries */
    q = (kn_store_query) { .index = KN_BY_AUTHOR };
    assert_int_equal(kn_store_each(f.s, &q, fx_collect, c), KN_EINVAL);
    q = (kn_store_query) { .index = KN_BY_TIME, .type = KN_T_MAX };
    assert_int_equal(kn_store_each(f.s, &q, fx_collect, c), KN_EINVAL);
    assert_int_equal(kn_store_each_id(f.s, &q, fx_collect_id, c), KN_EINVAL);
    q = (kn_store_query) { .index = KN_BY_TIME };
    assert_int_equal(kn_store_each_id(f.s, &q, NULL, c), KN_EINVAL);
    free(w);
    free(c);
    fx_done(&f);
}

/*
 * A 64 KiB map holds a few dozen objects; a few thousand need it to double
 * many times, both within one big batch and across many small ones.
 */
typedef struct nested {
    kn_store *s;
    size_t seen;
} nested;

/* Reads the store from inside an iteration, and fails on the second object. */
static int visit_nested(void *ctx, const kn_object *o)
{
    nested *n = ctx;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (kn_store_get(n->s, o->id, &buf, &len) != 0 || len != o->raw_len
        || memcmp(buf, o->raw, len) != 0) {
        free(buf);
        return KN_EIO;
    }
    free(buf);
    return ++n->seen == 2 ? KN_EAGAIN : 0;
}

static void test_visitor_reads_and_errors(void **state)
{
    (void)state;
    fx_store f;
    fx_key a;
    fx_obj net, t1, t2;

    fx_init(&f, 0, 0);
    fx_keygen(&a, 1);
    fx_found(&f, &net, &a, 1);
    fx_thread(&t1, &a, 2000, "Corona", "Eins");
    fx_thread(&t2, &a, 3000, "Corona", "Zwei");
    assert_put(&f, &t1, KN_PUT_STORED);
    assert_put(&f, &t2, KN_PUT_STORED);
    nested n = { f.s, 0 };
    kn_store_query q = { .index = KN_BY_TIME };
    assert_int_equal(kn_store_each(f.s, &q, visit_nested, &n), KN_EAGAIN);
    assert_int_equal(n.seen, 2);
    fx_done(&f);
}

static void test_map_growth(void **state)
{
    (void)state;
    enum { N = 3000 };
    fx_store f;
    fx_key a;
    fx_obj *objs = malloc(N * sizeof *objs);
    kn_object *views = malloc(N * sizeof *views);
    int *res = malloc(N * sizeof *res);
    assert_true(objs && views && res);

    fx_init(&f, 64 * 1024, 0);
    kn_store_stats st;
    assert_int_equal(kn_store_stats_get(f.s, &st), 0);
    uint64_t initial = st.map_size;
    fx_keygen(&a, 1);
    fx_network(&objs[0], &a, 1000, 1);
    for (int i = 1; i < N; i++) {
        char title[32];
        snprintf(title, sizeof title, "Frage Nummer %d", i);
        fx_thread(&objs[i], &a, 2000 + (uint64_t)i, "Corona", title);
    }
    for (int i = 0; i < N; i++)
        views[i] = objs[i].o;
    /* one big batch of 2000 ... */
    assert_int_equal(kn_store_ingest(f.s, views, 2000, res, NULL), 0);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(res[i], KN_PUT_STORED);
    /* ... then batches of 10 */
    for (int i = 2000; i < N; i += 10) {
        assert_int_equal(kn_store_ingest(f.s, views + i, 10, res, NULL), 0);
        for (int j = 0; j < 10; j++)
            assert_int_equal(res[j], KN_PUT_STORED);
    }
    assert_int_equal(kn_store_stats_get(f.s, &st), 0);
    assert_int_equal(st.objects, N);
    assert_true(st.map_size > initial);
    assert_true(st.map_used <= st.map_size);
    fx_reopen(&f);
    for (int i = 0; i < N; i += 97)
        assert_int_equal(kn_store_has(f.s, objs[i].id), 1);
    free(objs);
    free(views);
    free(res);
    fx_done(&f);
}

static void test_schema_version(void **state)
{
    (void)state;
    fx_store f;
    kn_store_stats st;

    fx_init(&f, 0, 0);
    assert_int_equal(kn_store_stats_get(f.s, &st), 0);
    assert_int_equal(st.schema_version, KN_STORE_SCHEMA_VERSION);
    fx_reopen(&f); /* the same version opens */

    const uint8_t newer[4] = { 0, 0, 0, KN_STORE_SCHEMA_VERSION + 1 };
    assert_int_equal(kn_store_debug_put_raw(
                         f.s, "meta", (const uint8_t *)"schema_version", 14, newer, sizeof newer),
        0);
    kn_store_close(f.s);
    f.s = NULL;
    kn_store *s2 = NULL;
    assert_int_equal(kn_store_open(&s2, f.dir, &f.opt), KN_ESCHEMAVER);
    assert_null(s2);

    fx_done(&f);

    /* A version record of the wrong length is corruption, not a version. */

    fx_init(&f, 0, 0);
    const uint8_t odd[3] = { 0, 0, 1 };
    assert_int_equal(
        kn_store_debug_put_raw(f.s, "meta", (const uint8_t *)"schema_version", 14, odd, sizeof odd),
        0);
    kn_store_close(f.s);
    f.s = NULL;
    assert_int_equal(kn_store_open(&s2, f.dir, &f.opt), KN_ECORRUPT);
    fx_done(&f);

    /* A directory that does not exist. */
    assert_int_equal(kn_store_open(&s2, "/tmp/kn-store-test-does-not-exist/x", NULL), KN_ENOTFOUND);
}

static void test_stats(void **state)
{
    (void)state;
    fx_store f;
    fx_key a;
    fx_obj net, t1, t2, r, p;
    kn_store_stats st;

    fx_init(&f, 0, 0);
    assert_int_equal(kn_store_stats_get(f.s, &st), 0);
    assert_int_equal(st.objects, 0);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.tombstones, 0);
    assert_true(st.map_size >= 64u * 1024 * 1024);
    assert_true(st.map_used > 0 && st.map_used <= st.map_size);

    fx_keygen(&a, 1);
    fx_found(&f, &net, &a, 1);
    fx_thread(&t1, &a, 2000, "Corona", "Eins");
    fx_thread(&t2, &a, 2100, "Corona", "Zwei");
    fx_retract(&r, &a, 3000, t2.id);
    uint8_t missing[KN_ID] = { 1, 2, 3 };
    fx_post(&p, &a, 3100, "Corona", missing, missing);
    assert_put(&f, &t1, KN_PUT_STORED);
    assert_put(&f, &t2, KN_PUT_STORED);
    assert_put(&f, &r, KN_PUT_STORED);
    assert_put(&f, &p, KN_PUT_PENDING);
    assert_int_equal(kn_store_stats_get(f.s, &st), 0);
    assert_int_equal(st.objects, 3); /* network, t1, the retract; t2 is gone */
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.tombstones, 1);
    fx_done(&f);
}

static void test_settings(void **state)
{
    (void)state;
    fx_store f;
    uint8_t *v = NULL;
    size_t len = 0;

    fx_init(&f, 0, 0);
    assert_int_equal(kn_store_setting_get(f.s, "http.port", &v, &len), KN_ENOTFOUND);
    assert_int_equal(kn_store_setting_put(f.s, "http.port", (const uint8_t *)"8080", 4), 0);
    assert_int_equal(kn_store_setting_put(f.s, "http.port", (const uint8_t *)"8443", 4), 0);
    assert_int_equal(kn_store_setting_get(f.s, "http.port", &v, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(v, "8443", 4);
    free(v);
    assert_int_equal(kn_store_setting_put(f.s, "empty", NULL, 0), 0);
    assert_int_equal(kn_store_setting_get(f.s, "empty", &v, &len), 0);
    assert_int_equal(len, 0);
    free(v);
    assert_int_equal(kn_store_setting_put(f.s, "", (const uint8_t *)"x", 1), KN_EINVAL);
    fx_done(&f);
}

static void test_corrupt_records(void **state)
{
    (void)state;
    fx_store f;
    fx_key a, b;
    fx_obj net, t, t2;
    uint8_t *buf = NULL;
    size_t len = 0;
    fx_ids *c = malloc(sizeof *c);
    assert_non_null(c);

    fx_init(&f, 0, 0);
    fx_keygen(&a, 1);
    fx_keygen(&b, 2);
    fx_found(&f, &net, &a, 1);
    fx_thread(&t, &a, 2000, "Corona", "Eins");
    assert_put(&f, &t, KN_PUT_STORED);

    /* An object record that is not an object. */
    const uint8_t junk[] = { 0x98, 0x01, 0xc1 };
    assert_int_equal(kn_store_debug_put_raw(f.s, "objects", t.id, KN_ID, junk, sizeof junk), 0);
    assert_int_equal(kn_store_get(f.s, t.id, &buf, &len), KN_ECORRUPT);
    kn_store_query q = { .index = KN_BY_TIME };
    assert_int_equal(kn_store_each(f.s, &q, fx_collect, c), KN_ECORRUPT);
    /* A valid object stored under another id. */
    assert_int_equal(kn_store_debug_put_raw(f.s, "objects", t.id, KN_ID, net.buf, net.len), 0);
    assert_int_equal(kn_store_get(f.s, t.id, &buf, &len), KN_ECORRUPT);
    /* Reads inside the store take the key as the id (it was hashed before it was written) ... */
    c->n = 0;
    assert_int_equal(kn_store_each(f.s, &q, fx_collect, c), 0);
    assert_true(c->n >= 1);
    bool under_key = false;
    for (size_t i = 0; i < c->n; i++)
        under_key |= memcmp(c->ids[i], t.id, KN_ID) == 0;
    assert_true(under_key);
    /* ... and `knoten check` re-hashes every record, so it finds the swap. */
    kn_store_check_report rep;
    assert_int_equal(kn_store_check(f.s, &rep), KN_ECORRUPT);

    /* An index key of the wrong length under a scanned prefix. */
    uint8_t bad_key[KN_KEY + 8 + 3]; /* inside the scanned range: created 0, then 3 bytes */
    memcpy(bad_key, a.pk, KN_KEY);
    memset(bad_key + KN_KEY, 0, 8 + 3);
    assert_int_equal(kn_store_debug_put_raw(f.s, "by_author", bad_key, sizeof bad_key, NULL, 0), 0);
    q = (kn_store_query) { .index = KN_BY_AUTHOR, .author = a.pk };
    assert_int_equal(kn_store_each(f.s, &q, fx_collect, c), KN_ECORRUPT);

    /* A membership record of the wrong length fails the batch, not the process. */
    const uint8_t short_rec[5] = { 0 };
    assert_int_equal(
        kn_store_debug_put_raw(f.s, "membership", a.pk, KN_KEY, short_rec, sizeof short_rec), 0);
    fx_thread(&t2, &a, 3000, "Corona", "Zwei");
    int res = 0;
    assert_int_equal(kn_store_ingest(f.s, &t2.o, 1, &res, NULL), KN_ECORRUPT);
    assert_int_equal(kn_store_has(f.s, t2.id), 0);
    /* A network record of the wrong length. */
    assert_int_equal(
        kn_store_debug_put_raw(f.s, "meta", (const uint8_t *)"network", 7, short_rec, 5), 0);
    assert_int_equal(kn_store_ingest(f.s, &t2.o, 1, &res, NULL), KN_ECORRUPT);
    free(c);
    fx_done(&f);
}

/* One type in every area (space NULL): a skip scan that must equal a filtered time scan. */
static void test_type_every_space(void **state)
{
    (void)state;
    fx_store f;
    fx_key a;
    fx_obj net, o;
    static const char *const spaces[] = { "Corona", "A", "Corona2", "Z", "Corona" };
    fx_ids *got = malloc(sizeof *got), *want = malloc(sizeof *want);
    assert_non_null(got);
    assert_non_null(want);

    fx_init(&f, 0, 0);
    fx_keygen(&a, 1);
    fx_found(&f, &net, &a, 1);
    for (int i = 0; i < 20; i++) {
        const char *sp = spaces[i % 5];
        fx_thread(&o, &a, 2000 + (uint64_t)(i * 7919 % 20) * 10, sp, "T");
        assert_put(&f, &o, KN_PUT_STORED);
        if (i % 3 == 0) { /* posts between the threads, in the same areas */
            fx_obj p;
            fx_post(&p, &a, 3000 + (uint64_t)i, sp, o.id, o.id);
            assert_put(&f, &p, KN_PUT_STORED);
        }
    }
    for (int rev = 0; rev < 2; rev++) {
        kn_store_query all = { .index = KN_BY_TIME, .reverse = rev };
        fx_ids *every = malloc(sizeof *every);
        assert_non_null(every);
        fx_query(&f, &all, every);
        want->n = 0;
        for (size_t i = 0; i < every->n; i++) {
            uint8_t *raw;
            size_t len;
            kn_object x;
            assert_int_equal(kn_store_get(f.s, every->ids[i], &raw, &len), 0);
            assert_int_equal(kn_object_decode(&x, raw, len), 0);
            if (x.type == KN_T_THREAD && x.created >= 2050 && x.created < 2150) {
                memcpy(want->ids[want->n], every->ids[i], KN_ID);
                want->n++;
            }
            free(raw);
        }
        free(every);
        kn_store_query q = { .index = KN_BY_SPACE_TYPE,
            .type = KN_T_THREAD,
            .since_ms = 2050,
            .until_ms = 2150,
            .reverse = rev };
        fx_query(&f, &q, got);
        assert_int_equal(got->n, want->n);
        assert_true(want->n > 5);
        for (size_t i = 0; i < got->n; i++)
            assert_memory_equal(got->ids[i], want->ids[i], KN_ID);
    }
    kn_store_query bad = { .index = KN_BY_SPACE_TYPE };
    assert_int_equal(kn_store_each(f.s, &bad, fx_collect, got), KN_EINVAL);
    free(got);
    free(want);
    fx_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_dedupe),
        cmocka_unit_test(test_persistence),
        cmocka_unit_test(test_batch_1000),
        cmocka_unit_test(test_query_indexes),
        cmocka_unit_test(test_visitor_reads_and_errors),
        cmocka_unit_test(test_map_growth),
        cmocka_unit_test(test_schema_version),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_corrupt_records),
        cmocka_unit_test(test_type_every_space),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
