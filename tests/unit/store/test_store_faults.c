/*
 * The store when writes fail, and its consistency check.
 *
 * - kn_store_check passes on a healthy store and names each kind of damage
 *   planted with the raw debug writer.
 * - A map capped by max_map_size fills up: the batch that does not fit
 *   fails with KN_EMAPFULL and leaves nothing of itself behind, the store
 *   checks clean, reopens, and takes the batch once the cap is lifted.
 * - Commits made to fail (kn_store_debug_fail_writes) with ENOSPC or a map
 *   that cannot grow: the same, and the next write works.
 * - A real full disk: a 1 MiB tmpfs the test mounts (as root, which CI is):
 *   writes fail with KN_ENOSPC, nothing half-written, the store opens on the
 *   full file system and reads back what was committed.
 */
#include "store_fixture.h"

#include <errno.h>
#include <sys/mount.h>

#include "negtree.h"
#include "test_support.h"

enum { BATCH = 100 };

typedef struct corpus {
    fx_key founder;
    fx_obj net;
    fx_obj *threads;
    size_t n;
} corpus;

static void corpus_make(corpus *c, size_t n)
{
    fx_keygen(&c->founder, 1);
    fx_network(&c->net, &c->founder, 1000, 1);
    c->threads = calloc(n, sizeof *c->threads);
    assert_non_null(c->threads);
    c->n = n;
    for (size_t i = 0; i < n; i++) {
        char title[64];
        snprintf(title, sizeof title, "Frage %zu mit etwas mehr Text", i);
        fx_thread(&c->threads[i], &c->founder, 2000 + i, "vergabe", title);
    }
}

static void corpus_free(corpus *c)
{
    free(c->threads);
}

/* Ingests threads [from, from + n) in one transaction; the transaction's result. */
static int put_batch(fx_store *f, const corpus *c, size_t from, size_t n)
{
    kn_object objs[BATCH];
    int res[BATCH];
    assert_true(n <= BATCH);
    for (size_t i = 0; i < n; i++)
        objs[i] = c->threads[from + i].o;
    int rc = kn_store_ingest(f->s, objs, n, res, NULL);
    for (size_t i = 0; rc == 0 && i < n; i++)
        assert_int_equal(res[i], KN_PUT_STORED);
    return rc;
}

static void assert_range(fx_store *f, const corpus *c, size_t from, size_t n, int want)
{
    for (size_t i = from; i < from + n; i++)
        if (kn_store_has(f->s, c->threads[i].id) != want)
            fail_msg("thread %zu: has %d, want %d", i, kn_store_has(f->s, c->threads[i].id), want);
}

static void assert_clean(fx_store *f, uint64_t objects)
{
    kn_store_check_report r;
    int rc = kn_store_check(f->s, &r);
    if (rc != 0)
        fail_msg("kn_store_check: %s, %llu problems, first: %s", kn_errname(rc),
            (unsigned long long)r.problems, r.first_problem);
    assert_int_equal(r.objects, objects);
    assert_int_equal(r.by_time, objects);
}

/*
 * Stores the network object, then batches until one fails with want; the
 * threads stored before it. The failed batch must have left nothing behind.
 */
static size_t fill(fx_store *f, const corpus *c, int want)
{
    assert_put(f, &c->net, KN_PUT_STORED);
    size_t done = 0;
    int rc = 0;
    while (done + BATCH <= c->n && (rc = put_batch(f, c, done, BATCH)) == 0)
        done += BATCH;
    assert_rc(want, rc);
    assert_true(done >= BATCH); /* some fitted */
    assert_range(f, c, 0, done, 1);
    assert_range(f, c, done, BATCH, 0); /* nothing half-written */
    return done;
}

static void test_check_finds_damage(void **state)
{
    (void)state;
    fx_store f;
    corpus c;
    kn_store_check_report r;
    fx_init(&f, 0, 0);
    corpus_make(&c, 10);
    assert_put(&f, &c.net, KN_PUT_STORED);
    assert_rc(0, put_batch(&f, &c, 0, 10));
    assert_clean(&f, 11);

    /* An index entry for an object that is not there. */
    uint8_t key[8 + KN_ID];
    memset(key, 0, 8);
    memset(key + 8, 0xab, KN_ID);
    assert_rc(0, kn_store_debug_put_raw(f.s, "by_author", key, sizeof key, NULL, 0));
    assert_rc(KN_ECORRUPT, kn_store_check(f.s, &r));
    assert_int_equal(r.problems, 1);
    assert_non_null(strstr(r.first_problem, "not stored"));
    fx_done(&f);

    /* An object record whose bytes are not its id's. */
    fx_init(&f, 0, 0);
    assert_put(&f, &c.net, KN_PUT_STORED);
    assert_rc(0, put_batch(&f, &c, 0, 10));
    assert_rc(0,
        kn_store_debug_put_raw(
            f.s, "objects", c.threads[3].id, KN_ID, c.threads[4].buf, c.threads[4].len));
    assert_rc(KN_ECORRUPT, kn_store_check(f.s, &r));
    assert_non_null(strstr(r.first_problem, "not its key"));
    fx_done(&f);

    /* by_time items the fingerprint tree was not told about (and no objects behind them). */
    fx_init(&f, 0, 0);
    assert_put(&f, &c.net, KN_PUT_STORED);
    kn_neg_item it = { .timestamp = 5 };
    memset(it.id, 0x11, sizeof it.id);
    assert_rc(0, kn_store_debug_neg_insert(f.s, &it, 1, false));
    assert_rc(KN_ECORRUPT, kn_store_check(f.s, &r));
    if (r.problems < 2)
        fail_msg("%llu problems (%s), want the missing object and the tree",
            (unsigned long long)r.problems, r.first_problem);
    fx_done(&f);
    corpus_free(&c);
}

/* A capped map: the batch that does not fit fails whole, and the store stays usable. */
static void test_map_cap(void **state)
{
    (void)state;
    fx_store f;
    corpus c;
    corpus_make(&c, 4000);
    fx_init(&f, 128 << 10, 0);
    kn_store_close(f.s);
    f.opt.max_map_size = 512 << 10;
    fx_open(&f);
    size_t done = fill(&f, &c, KN_EMAPFULL);
    kn_store_stats st;
    assert_rc(0, kn_store_stats_get(f.s, &st));
    assert_true(st.map_size <= (512 << 10));
    assert_clean(&f, done + 1);
    fx_reopen(&f);
    assert_clean(&f, done + 1);
    assert_rc(KN_EMAPFULL, put_batch(&f, &c, done, BATCH));
    /* Lift the cap: the same batch goes in. */
    kn_store_close(f.s);
    f.opt.max_map_size = 0;
    fx_open(&f);
    assert_rc(0, put_batch(&f, &c, done, BATCH));
    assert_clean(&f, done + BATCH + 1);
    fx_done(&f);
    corpus_free(&c);
}

static void test_injected_failures(void **state)
{
    (void)state;
    fx_store f;
    corpus c;
    corpus_make(&c, 3 * BATCH);
    fx_init(&f, 0, 0);
    assert_put(&f, &c.net, KN_PUT_STORED);
    assert_rc(0, put_batch(&f, &c, 0, BATCH));

    /* Disk full at commit. */
    kn_store_debug_fail_writes(f.s, KN_ENOSPC, 1);
    assert_rc(KN_ENOSPC, put_batch(&f, &c, BATCH, BATCH));
    assert_range(&f, &c, BATCH, BATCH, 0);
    assert_clean(&f, BATCH + 1);
    assert_rc(0, put_batch(&f, &c, BATCH, BATCH));

    /*
     * The map full twice: the transaction is run again from the start on a
     * doubled map each time, and the third attempt stores the batch once.
     */
    kn_store_stats before, after;
    assert_rc(0, kn_store_stats_get(f.s, &before));
    kn_store_debug_fail_writes(f.s, KN_EMAPFULL, 2);
    assert_rc(0, put_batch(&f, &c, 2 * BATCH, BATCH));
    assert_rc(0, kn_store_stats_get(f.s, &after));
    assert_int_equal(after.map_size, 4 * before.map_size);
    assert_clean(&f, 3 * BATCH + 1);
    fx_reopen(&f);
    assert_clean(&f, 3 * BATCH + 1);

    /* A settings write fails the same way, and the old value stays. */
    assert_rc(0, kn_store_setting_put(f.s, "k", (const uint8_t *)"old", 3));
    kn_store_debug_fail_writes(f.s, KN_ENOSPC, 1);
    assert_rc(KN_ENOSPC, kn_store_setting_put(f.s, "k", (const uint8_t *)"new", 3));
    uint8_t *v = NULL;
    size_t vl = 0;
    assert_rc(0, kn_store_setting_get(f.s, "k", &v, &vl));
    assert_memory_equal(v, "old", 3);
    free(v);
    fx_done(&f);
    corpus_free(&c);
}

/* The tmpfs of test_full_disk, unmounted by the teardown even when the test fails. */
static char full_dir[64];

static int full_disk_teardown(void **state)
{
    (void)state;
    if (full_dir[0]) {
        umount2(full_dir, MNT_DETACH);
        rmdir(full_dir);
        full_dir[0] = 0;
    }
    return 0;
}

/* A real full disk: a small tmpfs (needs root, as CI runs). */
static void test_full_disk(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("not root: the tmpfs case is left to CI; the injected ENOSPC case ran\n");
        return;
    }
    fx_store f;
    corpus c;
    corpus_make(&c, 4000);
    memset(&f, 0, sizeof f);
    assert_int_equal(kn_crypto_init(), 0);
    snprintf(f.dir, sizeof f.dir, "/tmp/kn-store-full-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    if (mount("tmpfs", f.dir, "tmpfs", 0, "size=1m,mode=0700") != 0) {
        int e = errno;
        rmdir(f.dir);
        fail_msg("mount tmpfs on %s: %s", f.dir, strerror(e));
    }
    snprintf(full_dir, sizeof full_dir, "%s", f.dir);
    f.opt.no_sync = true;
    fx_open(&f);
    size_t done = fill(&f, &c, KN_ENOSPC);
    int rc;
    assert_clean(&f, done + 1);
    /* Single objects may still fit in freed pages; whatever fails, fails whole. */
    for (size_t i = done; i < done + 20; i++) {
        int res = 0;
        rc = kn_store_ingest(f.s, &c.threads[i].o, 1, &res, NULL);
        assert_true(rc == 0 || rc == KN_ENOSPC);
        assert_int_equal(kn_store_has(f.s, c.threads[i].id), rc == 0);
    }
    kn_store_check_report r;
    assert_rc(0, kn_store_check(f.s, &r));
    uint64_t held = r.objects;
    /* Reopen on the still-full file system: opening needs no space. */
    fx_reopen(&f);
    assert_clean(&f, held);
    kn_store_close(f.s);
    f.s = NULL;
    corpus_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_finds_damage),
        cmocka_unit_test(test_map_cap),
        cmocka_unit_test(test_injected_failures),
        cmocka_unit_test_teardown(test_full_disk, full_disk_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
