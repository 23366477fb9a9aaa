/*
 * The admission rule min(k, M) (issue 5, docs/federation.md "k-of-n"): a
 * council is a member once min(k, M) distinct members signed an admit for
 * it, M being the members at that admit's time. The roster is recomputed
 * from all roster objects, so it must not depend on their arrival order:
 * the tests feed the same objects in every order (or many seeded shuffles)
 * and compare a digest of the membership, the users and the stored and
 * pending ids.
 */
#include "store_fixture.h"

typedef struct kscene {
    fx_store f;
    fx_key a, b, c, d, u; /* founder A, councils B C D, user U (of C) */
    fx_obj net;
} kscene;

static void kscene_keys(kscene *sc)
{
    fx_keygen(&sc->a, 1);
    fx_keygen(&sc->b, 2);
    fx_keygen(&sc->c, 3);
    fx_keygen(&sc->d, 6);
    fx_keygen(&sc->u, 4);
    fx_network(&sc->net, &sc->a, 1000, 2);
}

static void member(kscene *sc, const fx_key *k, kn_roster_member *m)
{
    int rc = kn_store_member_get(sc->f.s, k->pk, m);
    if (rc != 0)
        fail_msg("kn_store_member_get: %s", kn_errname(rc));
}

static uint64_t since_of(kscene *sc, const fx_key *k)
{
    kn_roster_member m;
    member(sc, k, &m);
    return m.member_since;
}

static int hash_visit(void *ctx, const kn_object *o)
{
    kn_blake2b_update(ctx, o->id, KN_ID);
    return 0;
}

/* The roster part: every membership and user record, and where every roster object is. */
static void digest_roster(fx_store *f, kn_blake2b_state *h)
{
    kn_roster_member *m = NULL;
    kn_roster_user *u = NULL;
    size_t n = 0;

    assert_int_equal(kn_store_members_list(f->s, &m, &n), 0);
    for (size_t i = 0; i < n; i++) {
        uint64_t v[4] = { m[i].founder, m[i].member_since, m[i].revoked_at, m[i].nadmits };
        kn_blake2b_update(h, m[i].key, KN_KEY);
        kn_blake2b_update(h, (const uint8_t *)v, sizeof v);
        for (uint32_t j = 0; j < m[i].nadmits; j++) {
            kn_blake2b_update(h, m[i].admitter[j], KN_KEY);
            kn_blake2b_update(h, (const uint8_t *)&m[i].admitted_at[j], 8);
        }
    }
    free(m);
    assert_int_equal(kn_store_users_list(f->s, NULL, &u, &n), 0);
    for (size_t i = 0; i < n; i++) {
        kn_blake2b_update(h, u[i].key, KN_KEY);
        kn_blake2b_update(h, u[i].node, KN_KEY);
        kn_blake2b_update(h, u[i].cert, KN_ID);
        kn_blake2b_update(h, (const uint8_t *)&u[i].revoked_at, 8);
    }
    free(u);
    for (kn_otype t = KN_T_NETWORK; t <= KN_T_USER; t++) {
        kn_store_query q = { .index = KN_BY_SPACE_TYPE, .space = "", .type = t };
        assert_int_equal(kn_store_each(f->s, &q, hash_visit, h), 0);
    }
}

/* Everything: the roster part, every stored id in (created, id) order, every pending id. */
static void digest_all(fx_store *f, uint8_t out[32], uint8_t roster_out[32])
{
    kn_blake2b_state h;
    kn_blake2b_init(&h, 32);
    digest_roster(f, &h);
    if (roster_out) {
        kn_blake2b_state hr;
        kn_blake2b_init(&hr, 32);
        digest_roster(f, &hr);
        kn_blake2b_final(&hr, roster_out, 32);
    }
    kn_store_query q = { .index = KN_BY_TIME };
    uint8_t sep = 0xff;
    assert_int_equal(kn_store_each(f->s, &q, hash_visit, &h), 0);
    kn_blake2b_update(&h, &sep, 1);
    assert_int_equal(kn_store_each_pending(f->s, hash_visit, &h), 0);
    kn_blake2b_final(&h, out, 32);
}

static void put_any(fx_store *f, const fx_obj *o)
{
    int res = fx_put(f, o);
    if (res < 0 && res != KN_EUNAUTH)
        fail_msg("ingest: %s", kn_errname(res));
}

/* ---- one founder, k = 2 ---- */

static void test_k2_one_founder(void **state)
{
    (void)state;
    kscene sc;
    fx_obj ab, ac1, ac_dup, bc, cd, tb, tc, tc_early;
    kn_roster_member m;

    fx_init(&sc.f, 0, 0);
    kscene_keys(&sc);
    assert_put(&sc.f, &sc.net, KN_PUT_STORED);

    /* M = 1 at 1100: the founder's signature alone admits B. */
    fx_admit(&ab, &sc.a, 1100, sc.net.id, sc.b.pk);
    assert_put(&sc.f, &ab, KN_PUT_STORED);
    member(&sc, &sc.b, &m);
    assert_int_equal(m.member_since, 1100);
    assert_int_equal(m.nadmits, 1);
    fx_thread(&tb, &sc.b, 2000, "Corona", "B schreibt");
    assert_put(&sc.f, &tb, KN_PUT_STORED);

    /* M = 2 at 1200: C needs two distinct members; A twice is one. */
    fx_admit(&ac1, &sc.a, 1200, sc.net.id, sc.c.pk);
    fx_admit(&ac_dup, &sc.a, 1210, sc.net.id, sc.c.pk);
    assert_put(&sc.f, &ac1, KN_PUT_STORED);
    assert_put(&sc.f, &ac_dup, KN_PUT_STORED);
    member(&sc, &sc.c, &m);
    assert_int_equal(m.nadmits, 1);
    assert_true(m.member_since == KN_ROSTER_NEVER);
    assert_true(kn_roster_is_node(&m));
    fx_thread(&tc, &sc.c, 2000, "Corona", "C wartet");
    assert_put(&sc.f, &tc, KN_PUT_PENDING);

    /* An admit by a council that is not a member at its time does not count: it waits. */
    fx_admit(&cd, &sc.c, 1250, sc.net.id, sc.d.pk);
    assert_put(&sc.f, &cd, KN_PUT_PENDING);
    assert_int_equal(kn_store_member_get(sc.f.s, sc.d.pk, &m), KN_ENOTFOUND);

    /* B's admit is the second signature: C is a member from 1300, its thread is released. */
    fx_admit(&bc, &sc.b, 1300, sc.net.id, sc.c.pk);
    assert_put(&sc.f, &bc, KN_PUT_STORED);
    member(&sc, &sc.c, &m);
    assert_int_equal(m.member_since, 1300);
    assert_int_equal(m.nadmits, 2);
    assert_int_equal(kn_store_has(sc.f.s, tc.id), 1);
    /* C's admit of D (1250) is from before C was a member: it still does not count. */
    assert_int_equal(kn_store_has(sc.f.s, cd.id), 0);
    assert_int_equal(kn_store_member_get(sc.f.s, sc.d.pk, &m), KN_ENOTFOUND);
    /* What C signed before 1300 waits: an earlier admit could still come. */
    fx_thread(&tc_early, &sc.c, 1299, "Corona", "Zu frueh");
    assert_put(&sc.f, &tc_early, KN_PUT_PENDING);

    /* The roster survives a reopen. */
    fx_reopen(&sc.f);
    assert_int_equal(since_of(&sc, &sc.c), 1300);
    assert_int_equal(since_of(&sc, &sc.b), 1100);
    fx_done(&sc.f);
}

/* ---- arrival order ---- */

enum { SMALL = 6 };

static bool next_perm(int *p, int n)
{
    int i = n - 2;
    while (i >= 0 && p[i] >= p[i + 1])
        i--;
    if (i < 0)
        return false;
    int j = n - 1;
    while (p[j] <= p[i])
        j--;
    int t = p[i];
    p[i] = p[j];
    p[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) {
        t = p[l];
        p[l] = p[r];
        p[r] = t;
    }
    return true;
}

/* All 720 orders of six objects give one roster and one set of stored and pending ids. */
static void test_k2_every_order(void **state)
{
    (void)state;
    kscene sc;
    static fx_obj o[SMALL];
    uint8_t want[32], got[32];
    int p[SMALL];
    size_t orders = 0;

    kscene_keys(&sc);
    o[0] = sc.net;
    fx_admit(&o[1], &sc.a, 1100, sc.net.id, sc.b.pk);
    fx_admit(&o[2], &sc.a, 1200, sc.net.id, sc.c.pk);
    fx_admit(&o[3], &sc.b, 1300, sc.net.id, sc.c.pk);
    fx_thread(&o[4], &sc.c, 2000, "Corona", "C");
    fx_thread(&o[5], &sc.b, 1250, "Corona", "B");
    for (int i = 0; i < SMALL; i++)
        p[i] = i;
    do {
        fx_init(&sc.f, 0, 0);
        for (int i = 0; i < SMALL; i++)
            put_any(&sc.f, &o[p[i]]);
        digest_all(&sc.f, got, NULL);
        if (orders == 0) {
            memcpy(want, got, 32);
            assert_int_equal(since_of(&sc, &sc.b), 1100);
            assert_int_equal(since_of(&sc, &sc.c), 1300);
            for (int i = 0; i < SMALL; i++)
                assert_int_equal(kn_store_has(sc.f.s, o[i].id), 1);
        } else if (memcmp(want, got, 32) != 0) {
            fail_msg("order %zu (%d %d %d %d %d %d) differs", orders, p[0], p[1], p[2], p[3], p[4],
                p[5]);
        }
        orders++;
        fx_done(&sc.f);
    } while (next_perm(p, SMALL));
    assert_int_equal(orders, 720);
}

/*
 * A late admit with an earlier time changes history: A's admit of D at 1050
 * makes M = 2 at 1100, so A's admit of B alone no longer admits B; D's admit
 * of B at 1150 does. Objects:
 *
 *   net (A, k = 2) 1000   A admits D 1050   A admits B 1100   D admits B 1150
 *   A admits C 1200       B admits C 1300   C certifies U 1400
 *   B thread 1120 (before B's final since: ends pending)   B thread 2000
 *   C thread 2100   U thread 2200   D thread 2500   A revokes D 3000
 *   D thread 3500 (after the revocation: never kept)
 */
enum { LATE = 13 };

static void late_objects(kscene *sc, fx_obj *o)
{
    kscene_keys(sc);
    o[0] = sc->net;
    fx_admit(&o[1], &sc->a, 1050, sc->net.id, sc->d.pk);
    fx_admit(&o[2], &sc->a, 1100, sc->net.id, sc->b.pk);
    fx_admit(&o[3], &sc->d, 1150, sc->net.id, sc->b.pk);
    fx_admit(&o[4], &sc->a, 1200, sc->net.id, sc->c.pk);
    fx_admit(&o[5], &sc->b, 1300, sc->net.id, sc->c.pk);
    fx_user(&o[6], &sc->c, 1400, sc->u.pk);
    fx_thread(&o[7], &sc->b, 1120, "Corona", "B zu frueh");
    fx_thread(&o[8], &sc->b, 2000, "Corona", "B");
    fx_thread(&o[9], &sc->c, 2100, "Corona", "C");
    fx_thread(&o[10], &sc->u, 2200, "Corona", "U");
    fx_thread(&o[11], &sc->d, 2500, "Corona", "D vorher");
    fx_revoke(&o[12], &sc->a, 3000, sc->net.id, sc->d.pk);
}

static void check_late_outcome(kscene *sc, const fx_obj *o)
{
    kn_roster_member m;
    member(sc, &sc->d, &m);
    assert_int_equal(m.member_since, 1050);
    assert_int_equal(m.revoked_at, 3000);
    member(sc, &sc->b, &m);
    assert_int_equal(m.member_since, 1150);
    assert_int_equal(m.nadmits, 2);
    assert_int_equal(since_of(sc, &sc->c), 1300);
    for (int i = 0; i < LATE; i++)
        if (kn_store_has(sc->f.s, o[i].id) != (i != 7))
            fail_msg("object %d: stored %d", i, kn_store_has(sc->f.s, o[i].id));
    kn_store_stats st;
    assert_int_equal(kn_store_stats_get(sc->f.s, &st), 0);
    assert_int_equal(st.pending, 1); /* B's thread of 1120 */
}

/*
 * 200 seeded shuffles: one delivery of each object gives the same roster and
 * the same stored and pending ids. (An object that came while its author's
 * membership was, for want of a late admit, shorter waited in pending rather
 * than being refused, so it is back once the admit arrives.) Delivering
 * everything again, as anti-entropy might, changes nothing.
 */
static void test_late_admit_any_order(void **state)
{
    (void)state;
    kscene sc;
    static fx_obj o[LATE];
    uint8_t want[32], want_roster[32], got[32], got_roster[32];
    uint64_t seed = 0x6b6f666eu;

    late_objects(&sc, o);
    for (int round = 0; round < 200; round++) {
        int p[LATE];
        for (int i = 0; i < LATE; i++)
            p[i] = i;
        if (round > 0)
            for (int i = LATE - 1; i > 0; i--) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                int j = (int)((seed >> 33) % (uint64_t)(i + 1));
                int t = p[i];
                p[i] = p[j];
                p[j] = t;
            }
        fx_init(&sc.f, 0, 0);
        for (int i = 0; i < LATE; i++)
            put_any(&sc.f, &o[p[i]]);
        digest_all(&sc.f, got, got_roster);
        if (round == 0) {
            memcpy(want_roster, got_roster, 32);
            memcpy(want, got, 32);
            check_late_outcome(&sc, o);
        } else if (memcmp(want_roster, got_roster, 32) != 0) {
            fail_msg("round %d: the roster depends on the order", round);
        } else if (memcmp(want, got, 32) != 0) {
            check_late_outcome(&sc, o);
            fail_msg("round %d: the stored or pending set depends on the order", round);
        }
        for (int i = 0; i < LATE; i++) /* anti-entropy delivers again */
            put_any(&sc.f, &o[p[i]]);
        digest_all(&sc.f, got, got_roster);
        assert_memory_equal(want, got, 32);
        fx_done(&sc.f);
    }
}

/* The same history step by step: B's membership moves later, and what it signed follows. */
static void test_late_admit_rewrites(void **state)
{
    (void)state;
    kscene sc;
    fx_obj o[LATE], d_after, d_admit;
    kn_roster_member m;
    size_t released = 0;

    late_objects(&sc, o);
    fx_init(&sc.f, 0, 0);
    assert_put(&sc.f, &o[0], KN_PUT_STORED);
    assert_put(&sc.f, &o[2], KN_PUT_STORED); /* A admits B alone: M = 1 */
    assert_int_equal(since_of(&sc, &sc.b), 1100);
    assert_put(&sc.f, &o[7], KN_PUT_STORED); /* B at 1120 */
    assert_put(&sc.f, &o[8], KN_PUT_STORED); /* B at 2000 */
    assert_put(&sc.f, &o[4], KN_PUT_STORED); /* A admits C */
    assert_put(&sc.f, &o[5], KN_PUT_STORED); /* B admits C: 2 of 2 */
    assert_int_equal(since_of(&sc, &sc.c), 1300);
    assert_put(&sc.f, &o[9], KN_PUT_STORED); /* C at 2100 */

    /* The late admit of D at 1050: at 1100 M = 2, so B is not a member after all. */
    assert_put(&sc.f, &o[1], KN_PUT_STORED);
    member(&sc, &sc.b, &m);
    assert_true(m.member_since == KN_ROSTER_NEVER);
    assert_int_equal(m.nadmits, 1);
    /* B's threads are taken out and wait for B (a later admit may yet make it a member). */
    assert_int_equal(kn_store_has(sc.f.s, o[7].id), 0);
    assert_int_equal(kn_store_has(sc.f.s, o[8].id), 0);
    /* B's admit of C no longer counts: it waits for B, and C is pending again with C's thread. */
    assert_int_equal(kn_store_has(sc.f.s, o[5].id), 0);
    assert_true(since_of(&sc, &sc.c) == KN_ROSTER_NEVER);
    assert_int_equal(kn_store_has(sc.f.s, o[9].id), 0);

    /*
     * D's admit of B at 1150 admits B from then on; B's admit of C counts
     * again, and B's and C's threads come back out of pending. B's thread
     * of 1120, before B's new start, keeps waiting.
     */
    assert_int_equal(fx_put_released(&sc.f, &o[3], &released), KN_PUT_STORED);
    assert_int_equal(released, 3);
    assert_int_equal(since_of(&sc, &sc.b), 1150);
    assert_int_equal(since_of(&sc, &sc.c), 1300);
    assert_int_equal(kn_store_has(sc.f.s, o[5].id), 1);
    assert_int_equal(kn_store_has(sc.f.s, o[8].id), 1);
    assert_int_equal(kn_store_has(sc.f.s, o[9].id), 1);
    assert_int_equal(kn_store_has(sc.f.s, o[7].id), 0);
    assert_put(&sc.f, &o[7], KN_PUT_DUPLICATE); /* already waiting */

    /* Revocation still refuses D's later objects and removes them. */
    fx_thread(&d_after, &sc.d, 3500, "Corona", "D nachher");
    assert_put(&sc.f, &d_after, KN_PUT_STORED);
    assert_put(&sc.f, &o[11], KN_PUT_STORED);
    assert_put(&sc.f, &o[12], KN_PUT_STORED);
    assert_int_equal(kn_store_has(sc.f.s, d_after.id), 0);
    assert_int_equal(kn_store_has(sc.f.s, o[11].id), 1);
    assert_put(&sc.f, &d_after, KN_EUNAUTH);
    fx_admit(&d_admit, &sc.d, 3100, sc.net.id, sc.c.pk);
    assert_put(&sc.f, &d_admit, KN_EUNAUTH);
    /* B was admitted with D's signature, given while D was a member: B stays. */
    assert_int_equal(since_of(&sc, &sc.b), 1150);
    fx_done(&sc.f);
}

/* A revoke that arrives before the admit it ends: both orders agree. */
static void test_revoke_then_admit(void **state)
{
    (void)state;
    kscene sc;
    fx_obj ab, rb, tb1, tb2;
    uint8_t d1[32], d2[32];

    kscene_keys(&sc);
    fx_admit(&ab, &sc.a, 1100, sc.net.id, sc.b.pk);
    fx_revoke(&rb, &sc.a, 3000, sc.net.id, sc.b.pk);
    fx_thread(&tb1, &sc.b, 2000, "Corona", "vorher");
    fx_thread(&tb2, &sc.b, 3000, "Corona", "nachher");
    const fx_obj *order1[] = { &sc.net, &ab, &tb1, &tb2, &rb };
    const fx_obj *order2[] = { &rb, &tb2, &tb1, &ab, &sc.net };
    fx_init(&sc.f, 0, 0);
    for (int i = 0; i < 5; i++)
        put_any(&sc.f, order1[i]);
    digest_all(&sc.f, d1, NULL);
    assert_int_equal(kn_store_has(sc.f.s, tb1.id), 1);
    assert_int_equal(kn_store_has(sc.f.s, tb2.id), 0);
    fx_done(&sc.f);
    fx_init(&sc.f, 0, 0);
    for (int i = 0; i < 5; i++)
        put_any(&sc.f, order2[i]);
    digest_all(&sc.f, d2, NULL);
    fx_done(&sc.f);
    assert_memory_equal(d1, d2, 32);
}

/*
 * A schema-2 store (membership records without member-since, the old rule)
 * is migrated on open: the records are recomputed under min(k, M), and an
 * object that waited under the old rule is released.
 */
static void test_migration_from_schema2(void **state)
{
    (void)state;
    kscene sc;
    fx_obj ab, tb;
    kn_store_stats st;
    uint8_t old[18 + 40], pkey[64];
    const uint8_t ver2[4] = { 0, 0, 0, 2 };

    fx_init(&sc.f, 0, 0);
    kscene_keys(&sc);
    assert_put(&sc.f, &sc.net, KN_PUT_STORED);
    fx_admit(&ab, &sc.a, 1100, sc.net.id, sc.b.pk);
    assert_put(&sc.f, &ab, KN_PUT_STORED);
    fx_thread(&tb, &sc.b, 2000, "Corona", "wartet seit Schema 2");

    /* What schema 2 held: B with one of two signatures, its thread pending on B. */
    memset(old, 0, sizeof old);
    memset(old + 1, 0xff, 16); /* founder_since, revoked_at: never */
    old[17] = 1;
    memcpy(old + 18, sc.a.pk, 32);
    old[18 + 32 + 6] = 1100 >> 8;
    old[18 + 32 + 7] = 1100 & 0xff;
    assert_int_equal(kn_store_debug_put_raw(sc.f.s, "membership", sc.b.pk, 32, old, sizeof old), 0);
    assert_int_equal(kn_store_debug_put_raw(sc.f.s, "pending", tb.id, 32, tb.buf, tb.len), 0);
    memcpy(pkey, sc.b.pk, 32);
    memcpy(pkey + 32, tb.id, 32);
    assert_int_equal(
        kn_store_debug_put_raw(sc.f.s, "pending_by_dep", pkey, sizeof pkey, (const uint8_t *)"", 0),
        0);
    assert_int_equal(kn_store_debug_put_raw(
                         sc.f.s, "meta", (const uint8_t *)"schema_version", 14, ver2, sizeof ver2),
        0);

    fx_reopen(&sc.f);
    assert_int_equal(kn_store_stats_get(sc.f.s, &st), 0);
    assert_int_equal(st.schema_version, KN_STORE_SCHEMA_VERSION);
    assert_int_equal(since_of(&sc, &sc.b), 1100);
    assert_int_equal(since_of(&sc, &sc.a), 1000);
    assert_int_equal(kn_store_has(sc.f.s, tb.id), 1);
    assert_int_equal(st.pending, 0);
    fx_done(&sc.f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_k2_one_founder),
        cmocka_unit_test(test_k2_every_order),
        cmocka_unit_test(test_late_admit_any_order),
        cmocka_unit_test(test_late_admit_rewrites),
        cmocka_unit_test(test_revoke_then_admit),
        cmocka_unit_test(test_migration_from_schema2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
