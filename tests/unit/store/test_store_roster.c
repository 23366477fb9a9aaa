/*
 * Who may write, and what waits: the roster (network, admit, user, revoke),
 * the pending table and its release, and retraction. Each test reads as a
 * small scenario: councils A (the founder), B and C, and staff users.
 */
#include "store_fixture.h"

typedef struct scene {
    fx_store f;
    fx_key a, b, c, u, v; /* nodes A, B, C; users U (of B) and V (of C) */
    fx_obj net;
} scene;

static void scene_init(scene *sc, uint64_t k, size_t pending_max)
{
    fx_init(&sc->f, 0, pending_max);
    fx_keygen(&sc->a, 1);
    fx_keygen(&sc->b, 2);
    fx_keygen(&sc->c, 3);
    fx_keygen(&sc->u, 4);
    fx_keygen(&sc->v, 5);
    fx_network(&sc->net, &sc->a, 1000, k);
}

static size_t pending_count(scene *sc)
{
    kn_store_stats st;
    assert_int_equal(kn_store_stats_get(sc->f.s, &st), 0);
    return (size_t)st.pending;
}

static void test_post_before_thread(void **state)
{
    (void)state;
    scene sc;
    fx_obj t, p, p2;
    size_t released = 0;

    scene_init(&sc, 1, 0);
    assert_put(&sc.f, &sc.net, KN_PUT_STORED);
    fx_thread(&t, &sc.a, 2000, "Corona", "Homeoffice");
    fx_post(&p, &sc.a, 3000, "Corona", t.id, t.id);
    fx_post(&p2, &sc.a, 4000, "Corona", t.id, p.id); /* a reply to the reply */

    assert_put(&sc.f, &p2, KN_PUT_PENDING);
    assert_put(&sc.f, &p, KN_PUT_PENDING);
    assert_int_equal(kn_store_has(sc.f.s, p.id), 0);
    assert_int_equal(pending_count(&sc), 2);

    /* The thread releases the post, which releases the reply, in one transaction. */
    assert_int_equal(fx_put_released(&sc.f, &t, &released), KN_PUT_STORED);
    assert_int_equal(released, 2);
    assert_int_equal(kn_store_has(sc.f.s, p.id), 1);
    assert_int_equal(kn_store_has(sc.f.s, p2.id), 1);
    assert_int_equal(pending_count(&sc), 0);

    /* The same within one batch: the result says pending, the count says released. */
    fx_obj t3, p3;
    fx_thread(&t3, &sc.a, 5000, "Corona", "Masken");
    fx_post(&p3, &sc.a, 5100, "Corona", t3.id, t3.id);
    kn_object batch[2] = { p3.o, t3.o };
    int res[2];
    assert_int_equal(kn_store_ingest(sc.f.s, batch, 2, res, &released), 0);
    assert_int_equal(res[0], KN_PUT_PENDING);
    assert_int_equal(res[1], KN_PUT_STORED);
    assert_int_equal(released, 1);
    assert_int_equal(kn_store_has(sc.f.s, p3.id), 1);
    fx_done(&sc.f);
}

static void test_user_before_certificate(void **state)
{
    (void)state;
    scene sc;
    fx_obj admit_b, cert_u, t;
    size_t released = 0;

    scene_init(&sc, 1, 0);
    assert_put(&sc.f, &sc.net, KN_PUT_STORED);
    fx_admit(&admit_b, &sc.a, 1500, sc.net.id, sc.b.pk);
    assert_put(&sc.f, &admit_b, KN_PUT_STORED);

    fx_thread(&t, &sc.u, 3000, "Corona", "Von einer Nutzerin");
    assert_put(&sc.f, &t, KN_PUT_PENDING);
    fx_user(&cert_u, &sc.b, 2000, sc.u.pk);
    assert_int_equal(fx_put_released(&sc.f, &cert_u, &released), KN_PUT_STORED);
    assert_int_equal(released, 1);
    assert_int_equal(kn_store_has(sc.f.s, t.id), 1);

    /* A user cannot certify, admit or revoke. */
    fx_obj cert_v;
    fx_user(&cert_v, &sc.u, 3000, sc.v.pk);
    assert_put(&sc.f, &cert_v, KN_EUNAUTH);
    fx_obj admit_c;
    fx_admit(&admit_c, &sc.u, 3000, sc.net.id, sc.c.pk);
    assert_put(&sc.f, &admit_c, KN_EUNAUTH);
    fx_done(&sc.f);
}

/* Everything arrives backwards: the network last. */
static void test_admit_chain(void **state)
{
    (void)state;
    scene sc;
    fx_obj admit_b, admit_c, cert_v, tc, tv;
    size_t released = 0;

    scene_init(&sc, 1, 0);
    fx_admit(&admit_b, &sc.a, 1100, sc.net.id, sc.b.pk);
    fx_admit(&admit_c, &sc.b, 1200, sc.net.id, sc.c.pk);
    fx_user(&cert_v, &sc.c, 1300, sc.v.pk);
    fx_thread(&tc, &sc.c, 2000, "Vergaberecht", "Schwellenwerte");
    fx_thread(&tv, &sc.v, 2100, "Vergaberecht", "Formulare");

    assert_put(&sc.f, &tv, KN_PUT_PENDING);
    assert_put(&sc.f, &tc, KN_PUT_PENDING);
    assert_put(&sc.f, &cert_v, KN_PUT_PENDING);
    assert_put(&sc.f, &admit_c, KN_PUT_PENDING);
    assert_put(&sc.f, &admit_b, KN_PUT_PENDING);
    assert_int_equal(pending_count(&sc), 5);

    assert_int_equal(fx_put_released(&sc.f, &sc.net, &released), KN_PUT_STORED);
    assert_int_equal(released, 5);
    assert_int_equal(pending_count(&sc), 0);
    assert_int_equal(kn_store_has(sc.f.s, tv.id), 1);
    assert_int_equal(kn_store_has(sc.f.s, tc.id), 1);

    /* A second, different network is refused: this store serves one. */
    fx_obj other;
    fx_network(&other, &sc.b, 1000, 1);
    assert_put(&sc.f, &other, KN_EUNAUTH);
    fx_done(&sc.f);
}

/*
 * With admit rule k = 2 and one founder, the effective rule is min(k, M):
 * B, the first council, is admitted by the founder alone (M = 1); C then
 * needs admits from two distinct members (M = 2). More in test_store_kofn.c.
 */
static void test_admit_threshold(void **state)
{
    (void)state;
    scene sc;
    fx_obj admit_b, admit_c1, admit_c2, admit_c_by_b, tb, tc;
    kn_roster_member m;

    scene_init(&sc, 2, 0);
    assert_put(&sc.f, &sc.net, KN_PUT_STORED);
    fx_admit(&admit_b, &sc.a, 1100, sc.net.id, sc.b.pk);
    assert_put(&sc.f, &admit_b, KN_PUT_STORED);
    fx_thread(&tb, &sc.b, 2000, "Corona", "Schon Mitglied");
    assert_put(&sc.f, &tb, KN_PUT_STORED);

    /* C is admitted by A twice over: one distinct member is not two. */
    fx_admit(&admit_c1, &sc.a, 1200, sc.net.id, sc.c.pk);
    fx_admit(&admit_c2, &sc.a, 1250, sc.net.id, sc.c.pk);
    assert_put(&sc.f, &admit_c1, KN_PUT_STORED);
    assert_put(&sc.f, &admit_c2, KN_PUT_STORED);
    assert_int_equal(kn_store_member_get(sc.f.s, sc.c.pk, &m), 0);
    assert_int_equal(m.nadmits, 1);
    assert_true(m.member_since == KN_ROSTER_NEVER);
    fx_thread(&tc, &sc.c, 2000, "Corona", "Noch nicht Mitglied");
    assert_put(&sc.f, &tc, KN_PUT_PENDING);

    /* B's signature is the second: C is a member from B's admit on. */
    fx_admit(&admit_c_by_b, &sc.b, 1300, sc.net.id, sc.c.pk);
    assert_put(&sc.f, &admit_c_by_b, KN_PUT_STORED);
    assert_int_equal(kn_store_member_get(sc.f.s, sc.c.pk, &m), 0);
    assert_int_equal(m.nadmits, 2);
    assert_int_equal(m.member_since, 1300);
    assert_int_equal(kn_store_has(sc.f.s, tc.id), 1);
    assert_int_equal(pending_count(&sc), 0);
    fx_done(&sc.f);
}

static void test_revocation(void **state)
{
    (void)state;
    scene sc;
    fx_obj admit_b, cert_u, t_early, t_late_stored, u_early, u_late_stored, rev_b, t_after;

    scene_init(&sc, 1, 0);
    assert_put(&sc.f, &sc.net, KN_PUT_STORED);
    fx_admit(&admit_b, &sc.a, 1100, sc.net.id, sc.b.pk);
    fx_user(&cert_u, &sc.b, 1200, sc.u.pk);
    assert_put(&sc.f, &admit_b, KN_PUT_STORED);
    assert_put(&sc.f, &cert_u, KN_PUT_STORED);

    fx_thread(&t_early, &sc.b, 2000, "Corona", "Vorher");
    fx_thread(&t_late_stored, &sc.b, 3500, "Corona", "Nachher, aber frueher angekommen");
    fx_thread(&u_early, &sc.u, 2100, "Corona", "Nutzerin vorher");
    fx_thread(&u_late_stored, &sc.u, 3600, "Corona", "Nutzerin nachher");
    assert_put(&sc.f, &t_early, KN_PUT_STORED);
    assert_put(&sc.f, &t_late_stored, KN_PUT_STORED);
    assert_put(&sc.f, &u_early, KN_PUT_STORED);
    assert_put(&sc.f, &u_late_stored, KN_PUT_STORED);

    /* A revokes B at 3000. */
    fx_revoke(&rev_b, &sc.a, 3000, sc.net.id, sc.b.pk);
    assert_put(&sc.f, &rev_b, KN_PUT_STORED);

    /* Earlier objects stay; what B and its users signed from 3000 on goes ... */
    assert_int_equal(kn_store_has(sc.f.s, t_early.id), 1);
    assert_int_equal(kn_store_has(sc.f.s, u_early.id), 1);
    assert_int_equal(kn_store_has(sc.f.s, t_late_stored.id), 0);
    assert_int_equal(kn_store_has(sc.f.s, u_late_stored.id), 0);
    fx_ids *c = malloc(sizeof *c);
    assert_non_null(c);
    kn_store_query q = { .index = KN_BY_AUTHOR, .author = sc.b.pk };
    fx_query(&sc.f, &q, c);
    assert_false(fx_ids_has(c, t_late_stored.id));
    free(c);

    /* ... and is refused from now on, also at exactly the revocation time. */
    fx_thread(&t_after, &sc.b, 3000, "Corona", "Genau dann");
    assert_put(&sc.f, &t_after, KN_EUNAUTH);
    assert_put(&sc.f, &t_late_stored, KN_EUNAUTH);
    assert_put(&sc.f, &u_late_stored, KN_EUNAUTH);
    /* A late-arriving object B signed before the revocation is still fine. */
    fx_obj t_mid;
    fx_thread(&t_mid, &sc.b, 2900, "Corona", "Knapp davor");
    assert_put(&sc.f, &t_mid, KN_PUT_STORED);
    /* A revoked node cannot admit. */
    fx_obj admit_c;
    fx_admit(&admit_c, &sc.b, 3100, sc.net.id, sc.c.pk);
    assert_put(&sc.f, &admit_c, KN_EUNAUTH);
    /* The roster survives a reopen. */
    fx_reopen(&sc.f);
    fx_obj t_after2;
    fx_thread(&t_after2, &sc.b, 5000, "Corona", "Immer noch nicht");
    assert_put(&sc.f, &t_after2, KN_EUNAUTH);
    fx_done(&sc.f);
}

static void test_user_revocation(void **state)
{
    (void)state;
    scene sc;
    fx_obj admit_b, cert_u, rev_u, before, after, pend;

    scene_init(&sc, 1, 0);
    assert_put(&sc.f, &sc.net, KN_PUT_STORED);
    fx_admit(&admit_b, &sc.a, 1100, sc.net.id, sc.b.pk);
    assert_put(&sc.f, &admit_b, KN_PUT_STORED);

    /* U's object waits for U's certificate ... */
    fx_thread(&pend, &sc.u, 4500, "Corona", "Wartet");
    assert_put(&sc.f, &pend, KN_PUT_PENDING);
    /* ... but the revocation arrives first. It applies to a key not known yet, */
    fx_revoke(&rev_u, &sc.b, 4000, sc.net.id, sc.u.pk);
    assert_put(&sc.f, &rev_u, KN_PUT_STORED);
    /* and the waiting object was re-checked and refused, so it left the table. */
    assert_int_equal(pending_count(&sc), 0);
    assert_int_equal(kn_store_has(sc.f.s, pend.id), 0);
    assert_put(&sc.f, &pend, KN_EUNAUTH);
    fx_user(&cert_u, &sc.b, 1200, sc.u.pk);
    assert_put(&sc.f, &cert_u, KN_PUT_STORED);

    fx_thread(&before, &sc.u, 3999, "Corona", "Vorher");
    fx_thread(&after, &sc.u, 4000, "Corona", "Nachher");
    assert_put(&sc.f, &before, KN_PUT_STORED);
    assert_put(&sc.f, &after, KN_EUNAUTH);
    /* The node itself is unaffected. */
    fx_obj tb;
    fx_thread(&tb, &sc.b, 5000, "Corona", "Knoten");
    assert_put(&sc.f, &tb, KN_PUT_STORED);
    fx_done(&sc.f);
}

static void test_retraction(void **state)
{
    (void)state;
    scene sc;
    fx_obj admit_b, admit_c, cert_u, t, p, r_by_c, r;
    uint8_t *buf = NULL;
    size_t len = 0;
    fx_ids *c = malloc(sizeof *c);
    assert_non_null(c);

    scene_init(&sc, 1, 0);
    assert_put(&sc.f, &sc.net, KN_PUT_STORED);
    fx_admit(&admit_b, &sc.a, 1100, sc.net.id, sc.b.pk);
    fx_admit(&admit_c, &sc.a, 1100, sc.net.id, sc.c.pk);
    fx_user(&cert_u, &sc.b, 1200, sc.u.pk);
    assert_put(&sc.f, &admit_b, KN_PUT_STORED);
    assert_put(&sc.f, &admit_c, KN_PUT_STORED);
    assert_put(&sc.f, &cert_u, KN_PUT_STORED);
    fx_thread(&t, &sc.u, 2000, "Corona", "Mit personenbezogenen Daten");
    fx_post(&p, &sc.a, 2100, "Corona", t.id, t.id);
    assert_put(&sc.f, &t, KN_PUT_STORED);
    assert_put(&sc.f, &p, KN_PUT_STORED);

    /* Another council cannot retract U's thread. */
    fx_retract(&r_by_c, &sc.c, 3000, t.id);
    assert_put(&sc.f, &r_by_c, KN_EUNAUTH);
    /* U's node can. */
    fx_retract(&r, &sc.b, 3000, t.id);
    assert_put(&sc.f, &r, KN_PUT_STORED);

    assert_int_equal(kn_store_has(sc.f.s, t.id), 0);
    assert_int_equal(kn_store_is_tombstoned(sc.f.s, t.id), 1);
    assert_int_equal(kn_store_get(sc.f.s, t.id, &buf, &len), KN_ERETRACTED);
    assert_int_equal(kn_store_has(sc.f.s, r.id), 1);
    kn_store_query q = { .index = KN_BY_TIME };
    fx_query(&sc.f, &q, c);
    assert_false(fx_ids_has(c, t.id));
    q = (kn_store_query) { .index = KN_BY_AUTHOR, .author = sc.u.pk };
    assert_int_equal(fx_query(&sc.f, &q, c), 0);
    q = (kn_store_query) { .index = KN_BY_SPACE_TYPE, .space = "Corona", .type = KN_T_THREAD };
    assert_int_equal(fx_query(&sc.f, &q, c), 0);
    /* The reply stays, and the retract is found among the thread's referrers. */
    q = (kn_store_query) { .index = KN_BY_REF, .ref = t.id };
    assert_int_equal(fx_query(&sc.f, &q, c), 2);
    assert_true(fx_ids_has(c, p.id));
    assert_true(fx_ids_has(c, r.id));

    /* The content never comes back. */
    assert_put(&sc.f, &t, KN_PUT_TOMBSTONED);
    assert_int_equal(kn_store_put(sc.f.s, t.buf, t.len, FX_NOW, NULL), KN_PUT_TOMBSTONED);
    /* A reply to the retracted thread still finds its ref (tombstones count as present). */
    fx_obj p2;
    fx_post(&p2, &sc.a, 3100, "Corona", t.id, p.id);
    assert_put(&sc.f, &p2, KN_PUT_STORED);
    /* A second retract of the same target is harmless. */
    fx_obj r2;
    fx_retract(&r2, &sc.u, 3200, t.id);
    assert_put(&sc.f, &r2, KN_PUT_STORED);

    /* Roster objects are revoked, not retracted. */
    fx_obj r_admit;
    fx_retract(&r_admit, &sc.a, 3300, admit_b.id);
    assert_put(&sc.f, &r_admit, KN_EUNAUTH);

    kn_store_stats st;
    assert_int_equal(kn_store_stats_get(sc.f.s, &st), 0);
    assert_int_equal(st.tombstones, 1);
    fx_reopen(&sc.f);
    assert_int_equal(kn_store_is_tombstoned(sc.f.s, t.id), 1);
    assert_put(&sc.f, &t, KN_PUT_TOMBSTONED);
    free(c);
    fx_done(&sc.f);
}

/* The retract arrives first; the target is stored, then removed, in one transaction. */
static void test_retract_before_target(void **state)
{
    (void)state;
    scene sc;
    fx_obj t, r;
    size_t released = 0;

    scene_init(&sc, 1, 0);
    assert_put(&sc.f, &sc.net, KN_PUT_STORED);
    fx_thread(&t, &sc.a, 2000, "Corona", "Versehentlich");
    fx_retract(&r, &sc.a, 2500, t.id);
    assert_put(&sc.f, &r, KN_PUT_PENDING);
    assert_int_equal(fx_put_released(&sc.f, &t, &released), KN_PUT_STORED);
    assert_int_equal(released, 1);
    assert_int_equal(kn_store_has(sc.f.s, t.id), 0);
    assert_int_equal(kn_store_is_tombstoned(sc.f.s, t.id), 1);
    assert_int_equal(kn_store_has(sc.f.s, r.id), 1);
    assert_put(&sc.f, &t, KN_PUT_TOMBSTONED);
    fx_done(&sc.f);
}

static void test_pending_limit(void **state)
{
    (void)state;
    scene sc;
    fx_obj p[4], t;
    uint8_t missing[KN_ID] = { 0xee };

    scene_init(&sc, 1, 3);
    assert_put(&sc.f, &sc.net, KN_PUT_STORED);
    for (int i = 0; i < 4; i++)
        fx_post(&p[i], &sc.a, 2000 + (uint64_t)i, "Corona", missing, missing);
    for (int i = 0; i < 3; i++)
        assert_put(&sc.f, &p[i], KN_PUT_PENDING);
    assert_put(&sc.f, &p[3], KN_ELIMIT);
    assert_int_equal(pending_count(&sc), 3);

    /* Objects that need no waiting are unaffected by a full pending table. */
    fx_thread(&t, &sc.a, 2100, "Corona", "Geht");
    assert_put(&sc.f, &t, KN_PUT_STORED);

    /* kn_store_each_pending shows what waits. */
    fx_ids *c = malloc(sizeof *c);
    assert_non_null(c);
    c->n = 0;
    assert_int_equal(kn_store_each_pending(sc.f.s, fx_collect, c), 0);
    assert_int_equal(c->n, 3);
    for (int i = 0; i < 3; i++)
        assert_true(fx_ids_has(c, p[i].id));
    free(c);
    fx_done(&sc.f);
}

/* Objects of an author nobody knows wait; they do not get refused. */
static void test_unknown_author_waits(void **state)
{
    (void)state;
    scene sc;
    fx_obj t, admit_c;
    size_t released = 0;

    scene_init(&sc, 1, 0);
    assert_put(&sc.f, &sc.net, KN_PUT_STORED);
    fx_thread(&t, &sc.c, 2000, "Corona", "Neu hier");
    assert_put(&sc.f, &t, KN_PUT_PENDING);
    fx_admit(&admit_c, &sc.a, 1500, sc.net.id, sc.c.pk);
    assert_int_equal(fx_put_released(&sc.f, &admit_c, &released), KN_PUT_STORED);
    assert_int_equal(released, 1);
    assert_int_equal(kn_store_has(sc.f.s, t.id), 1);

    /*
     * Once C is known, something it signed before its admission waits: an
     * admit with an earlier time may still arrive (test_store_kofn.c).
     */
    fx_obj early, admit_c_early;
    fx_thread(&early, &sc.c, 1400, "Corona", "Zu frueh");
    assert_put(&sc.f, &early, KN_PUT_PENDING);
    fx_admit(&admit_c_early, &sc.a, 1300, sc.net.id, sc.c.pk);
    assert_int_equal(fx_put_released(&sc.f, &admit_c_early, &released), KN_PUT_STORED);
    assert_int_equal(released, 1);
    assert_int_equal(kn_store_has(sc.f.s, early.id), 1);
    fx_done(&sc.f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_before_thread),
        cmocka_unit_test(test_user_before_certificate),
        cmocka_unit_test(test_admit_chain),
        cmocka_unit_test(test_admit_threshold),
        cmocka_unit_test(test_revocation),
        cmocka_unit_test(test_user_revocation),
        cmocka_unit_test(test_retraction),
        cmocka_unit_test(test_retract_before_target),
        cmocka_unit_test(test_pending_limit),
        cmocka_unit_test(test_unknown_author_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
