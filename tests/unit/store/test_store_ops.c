/*
 * The store's operations side: the quota (kn_store_options.max_map_size), so
 * a node never fills the disk beyond what its administrator allowed.
 */
#include "store_fixture.h"
#include "test_support.h"

static void test_quota(void **state)
{
    (void)state;
    enum { N = 4000, BATCH = 10 };
    fx_store f;
    fx_key a;
    fx_obj *objs = malloc(N * sizeof *objs);
    kn_object *views = malloc(N * sizeof *views);
    int res[BATCH];
    assert_true(objs && views);

    fx_init(&f, 64 * 1024, 0);
    f.opt.max_map_size = 1 << 20;
    fx_reopen(&f);
    fx_keygen(&a, 1);
    fx_network(&objs[0], &a, 1000, 1);
    for (int i = 1; i < N; i++) {
        char title[48];
        snprintf(title, sizeof title, "Frage Nummer %d mit etwas mehr Text", i);
        fx_thread(&objs[i], &a, 2000 + (uint64_t)i, "Corona", title);
    }
    for (int i = 0; i < N; i++)
        views[i] = objs[i].o;
    assert_rc(0, kn_store_ingest(f.s, views, 1, res, NULL));
    int stored = 1, rc = 0;
    for (int i = 1; i + BATCH <= N; i += BATCH) {
        if ((rc = kn_store_ingest(f.s, views + i, BATCH, res, NULL)) < 0)
            break;
        stored += BATCH;
    }
    /* 4,000 objects need more than 1 MiB: the quota stops the store, whole batches only. */
    assert_rc(KN_EMAPFULL, rc);
    kn_store_stats st;
    assert_rc(0, kn_store_stats_get(f.s, &st));
    assert_int_equal(st.objects, stored);
    assert_true(stored > 100);
    assert_true(st.map_size <= 1 << 20);
    assert_true(st.map_size > 512 * 1024); /* it did grow up to the quota */
    assert_int_equal(kn_store_has(f.s, objs[stored].id), 0);
    /* A larger quota lets the refused batch in. */
    f.opt.max_map_size = 64 << 20;
    fx_reopen(&f);
    assert_rc(0, kn_store_ingest(f.s, views + stored, BATCH, res, NULL));
    for (int j = 0; j < BATCH; j++)
        assert_int_equal(res[j], KN_PUT_STORED);
    /* An initial map above the quota is cut down to it. */
    kn_store_close(f.s);
    f.opt.initial_map_size = 256 << 20;
    f.opt.max_map_size = 128 << 20;
    fx_open(&f);
    assert_rc(0, kn_store_stats_get(f.s, &st));
    assert_true(st.map_size <= 128 << 20);
    free(objs);
    free(views);
    fx_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quota),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
