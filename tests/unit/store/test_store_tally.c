/*
 * Polls, RSVPs and versions (store/tally.c, store/versions.c and the vote
 * checks in ingest.c). Councils A (founder), B and C; staff U1, U2 of B, U3
 * of C and U4 of A. The central property: whatever order the same objects
 * arrive in, every store computes the same tally.
 */
#include "store_fixture.h"
#include "test_support.h"

enum { SCENE_OBJS = 64 };

typedef struct scene {
    fx_store f;
    fx_key a, b, c, u1, u2, u3, u4;
    fx_obj net, admit_b, admit_c, cert1, cert2, cert3, cert4;
} scene;

static void scene_init(scene *sc)
{
    fx_init(&sc->f, 0, 0);
    fx_keygen(&sc->a, 1);
    fx_keygen(&sc->b, 2);
    fx_keygen(&sc->c, 3);
    fx_keygen(&sc->u1, 11);
    fx_keygen(&sc->u2, 12);
    fx_keygen(&sc->u3, 13);
    fx_keygen(&sc->u4, 14);
    fx_network(&sc->net, &sc->a, 1000, 1);
    fx_admit(&sc->admit_b, &sc->a, 1100, sc->net.id, sc->b.pk);
    fx_admit(&sc->admit_c, &sc->a, 1200, sc->net.id, sc->c.pk);
    fx_user(&sc->cert1, &sc->b, 1300, sc->u1.pk);
    fx_user(&sc->cert2, &sc->b, 1310, sc->u2.pk);
    fx_user(&sc->cert3, &sc->c, 1320, sc->u3.pk);
    fx_user(&sc->cert4, &sc->a, 1330, sc->u4.pk);
}

static void scene_roster(scene *sc)
{
    const fx_obj *r[]
        = { &sc->net, &sc->admit_b, &sc->admit_c, &sc->cert1, &sc->cert2, &sc->cert3, &sc->cert4 };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        assert_put(&sc->f, r[i], KN_PUT_STORED);
}

static void poll_obj(fx_obj *o, const fx_key *k, uint64_t created, const char *space,
    const char *count, bool multiple, uint64_t deadline, unsigned noptions)
{
    static const char *const opts[] = { "Ja", "Nein", "Weiß nicht", "Später" };
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 6);
    kn_mp_write_cstr(&b, "count");
    kn_mp_write_cstr(&b, count);
    kn_mp_write_cstr(&b, "deadline");
    kn_mp_write_uint(&b, deadline);
    kn_mp_write_cstr(&b, "multiple");
    kn_mp_write_bool(&b, multiple);
    kn_mp_write_cstr(&b, "options");
    kn_mp_write_array(&b, noptions);
    for (unsigned i = 0; i < noptions; i++)
        kn_mp_write_cstr(&b, opts[i]);
    kn_mp_write_cstr(&b, "question");
    kn_mp_write_cstr(&b, "Nutzen Sie die E-Akte?");
    kn_mp_write_cstr(&b, "show_early");
    kn_mp_write_bool(&b, true);
    fx_sign(o, KN_T_POLL, k, created, space, NULL, NULL, &b);
}

/* choices: a bitmask of options 0..3. */
static void vote_obj(fx_obj *o, const fx_key *k, uint64_t created, const char *space,
    const uint8_t poll[KN_ID], unsigned choices)
{
    kn_mp_out b;
    unsigned n = 0;
    for (unsigned i = 0; i < 4; i++)
        n += (choices >> i) & 1;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 1);
    kn_mp_write_cstr(&b, "choices");
    kn_mp_write_array(&b, n);
    for (unsigned i = 0; i < 4; i++)
        if (choices & (1u << i))
            kn_mp_write_uint(&b, i);
    fx_sign(o, KN_T_VOTE, k, created, space, poll, NULL, &b);
}

static void event_obj(
    fx_obj *o, const fx_key *k, uint64_t created, const uint8_t *prev, const char *title)
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 5);
    kn_mp_write_cstr(&b, "end");
    kn_mp_write_uint(&b, 90000);
    kn_mp_write_cstr(&b, "place");
    kn_mp_write_cstr(&b, "Rathaus, Saal 2");
    kn_mp_write_cstr(&b, "start");
    kn_mp_write_uint(&b, 80000);
    kn_mp_write_cstr(&b, "title");
    kn_mp_write_cstr(&b, title);
    kn_mp_write_cstr(&b, "tz");
    kn_mp_write_cstr(&b, "Europe/Berlin");
    fx_sign(o, KN_T_EVENT, k, created, "Digitalisierung", prev, NULL, &b);
}

static void thread_edit(
    fx_obj *o, const fx_key *k, uint64_t created, const uint8_t *prev, const char *title)
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 2);
    kn_mp_write_cstr(&b, "body");
    kn_mp_write_cstr(&b, "Neue Fassung.");
    kn_mp_write_cstr(&b, "title");
    kn_mp_write_cstr(&b, title);
    fx_sign(o, KN_T_THREAD, k, created, "Corona", prev, NULL, &b);
}

/* ---- ingest checks ---- */

static void test_vote_checks(void **state)
{
    (void)state;
    scene sc;
    fx_obj poll, multi, ok, late, range, two, by_node, thread, wrong_type, wrong_space;

    scene_init(&sc);
    scene_roster(&sc);
    poll_obj(&poll, &sc.u4, 2000, "Umfragen", "user", false, 10000, 3);
    poll_obj(&multi, &sc.a, 2000, "Umfragen", "council", true, 10000, 4);
    assert_put(&sc.f, &poll, KN_PUT_STORED);
    assert_put(&sc.f, &multi, KN_PUT_STORED);

    vote_obj(&ok, &sc.u1, 10000, "Umfragen", poll.id, 1u << 2); /* at the deadline: in time */
    assert_put(&sc.f, &ok, KN_PUT_STORED);
    vote_obj(&late, &sc.u2, 10001, "Umfragen", poll.id, 1);
    assert_put(&sc.f, &late, KN_EEXPIRED);
    vote_obj(&range, &sc.u2, 3000, "Umfragen", poll.id, 1u << 3); /* only 3 options */
    assert_put(&sc.f, &range, KN_ESCHEMA);
    vote_obj(&two, &sc.u2, 3000, "Umfragen", poll.id, 3); /* single choice */
    assert_put(&sc.f, &two, KN_ESCHEMA);
    vote_obj(&two, &sc.u2, 3000, "Umfragen", multi.id, 3 | 8); /* the multiple-choice poll */
    assert_put(&sc.f, &two, KN_PUT_STORED);
    vote_obj(&by_node, &sc.b, 3000, "Umfragen", poll.id, 1); /* staff vote, nodes do not */
    assert_put(&sc.f, &by_node, KN_EUNAUTH);

    fx_thread(&thread, &sc.u1, 2500, "Umfragen", "Kein Poll");
    assert_put(&sc.f, &thread, KN_PUT_STORED);
    vote_obj(&wrong_type, &sc.u1, 3000, "Umfragen", thread.id, 1);
    assert_put(&sc.f, &wrong_type, KN_ESCHEMA);
    vote_obj(&wrong_space, &sc.u3, 3000, "Anderswo", poll.id, 1);
    assert_put(&sc.f, &wrong_space, KN_ESCHEMA);

    /* A ballot before its poll waits for it, then is checked like any other. */
    fx_obj p2, early_vote, bad_vote;
    poll_obj(&p2, &sc.u4, 4000, "Umfragen", "user", false, 9000, 2);
    vote_obj(&early_vote, &sc.u1, 5000, "Umfragen", p2.id, 2);
    vote_obj(&bad_vote, &sc.u2, 5000, "Umfragen", p2.id, 4);
    assert_put(&sc.f, &early_vote, KN_PUT_PENDING);
    assert_put(&sc.f, &bad_vote, KN_PUT_PENDING);
    assert_put(&sc.f, &p2, KN_PUT_STORED);
    assert_int_equal(kn_store_has(sc.f.s, early_vote.id), 1);
    assert_int_equal(kn_store_has(sc.f.s, bad_vote.id), 0);
    kn_store_stats st;
    assert_int_equal(kn_store_stats_get(sc.f.s, &st), 0);
    assert_int_equal(st.pending, 0);
    fx_done(&sc.f);
}

/* ---- tallies ---- */

static void test_tally_per_user_and_council(void **state)
{
    (void)state;
    scene sc;
    fx_obj pu, pc, v[8];
    kn_poll_tally t;

    scene_init(&sc);
    scene_roster(&sc);
    poll_obj(&pu, &sc.u4, 2000, "Umfragen", "user", false, 10000, 3);
    poll_obj(&pc, &sc.u4, 2001, "Umfragen", "council", false, 10000, 3);
    assert_put(&sc.f, &pu, KN_PUT_STORED);
    assert_put(&sc.f, &pc, KN_PUT_STORED);
    /* Per user: U1 changes its mind (the later ballot counts), U2 and U3 vote once. */
    vote_obj(&v[0], &sc.u1, 3000, "Umfragen", pu.id, 1u << 0);
    vote_obj(&v[1], &sc.u1, 4000, "Umfragen", pu.id, 1u << 1);
    vote_obj(&v[2], &sc.u2, 3500, "Umfragen", pu.id, 1u << 1);
    vote_obj(&v[3], &sc.u3, 3600, "Umfragen", pu.id, 1u << 2);
    /* Per council: U1 then U2 (both of B): B's answer is U2's; C answers through U3. */
    vote_obj(&v[4], &sc.u1, 3000, "Umfragen", pc.id, 1u << 0);
    vote_obj(&v[5], &sc.u2, 3100, "Umfragen", pc.id, 1u << 2);
    vote_obj(&v[6], &sc.u3, 3200, "Umfragen", pc.id, 1u << 0);
    for (int i = 0; i < 7; i++)
        assert_put(&sc.f, &v[i], KN_PUT_STORED);

    assert_int_equal(kn_store_poll_tally(sc.f.s, pu.id, &t), 0);
    assert_false(t.per_council);
    assert_int_equal(t.noptions, 3);
    assert_int_equal(t.ballots, 4);
    assert_int_equal(t.nvoters, 3);
    assert_int_equal(t.counts[0], 0);
    assert_int_equal(t.counts[1], 2);
    assert_int_equal(t.counts[2], 1);
    for (size_t i = 0; i < t.nvoters; i++)
        if (memcmp(t.voters[i].user, sc.u1.pk, KN_KEY) == 0) {
            assert_memory_equal(t.voters[i].ballot, v[1].id, KN_ID);
            assert_memory_equal(t.voters[i].node, sc.b.pk, KN_KEY);
        }
    kn_poll_tally_free(&t);

    assert_int_equal(kn_store_poll_tally(sc.f.s, pc.id, &t), 0);
    assert_true(t.per_council);
    assert_int_equal(t.nvoters, 2); /* B and C */
    assert_int_equal(t.counts[0], 1); /* C */
    assert_int_equal(t.counts[1], 0);
    assert_int_equal(t.counts[2], 1); /* B, through U2's later ballot */
    for (size_t i = 0; i < t.nvoters; i++)
        if (memcmp(t.voters[i].node, sc.b.pk, KN_KEY) == 0)
            assert_memory_equal(t.voters[i].user, sc.u2.pk, KN_KEY);
    kn_poll_tally_free(&t);

    /* Equal created times: the greater id decides, on every node alike. */
    fx_obj tie_a, tie_b;
    vote_obj(&tie_a, &sc.u3, 5000, "Umfragen", pu.id, 1u << 0);
    vote_obj(&tie_b, &sc.u3, 5000, "Umfragen", pu.id, 1u << 1);
    assert_put(&sc.f, &tie_a, KN_PUT_STORED);
    assert_put(&sc.f, &tie_b, KN_PUT_STORED);
    const fx_obj *winner = memcmp(tie_a.id, tie_b.id, KN_ID) > 0 ? &tie_a : &tie_b;
    assert_int_equal(kn_store_poll_tally(sc.f.s, pu.id, &t), 0);
    for (size_t i = 0; i < t.nvoters; i++)
        if (memcmp(t.voters[i].user, sc.u3.pk, KN_KEY) == 0)
            assert_memory_equal(t.voters[i].ballot, winner->id, KN_ID);
    kn_poll_tally_free(&t);

    /* Not a poll, or gone. */
    assert_rc(KN_EINVAL, kn_store_poll_tally(sc.f.s, v[0].id, &t));
    uint8_t nothing[KN_ID] = { 0 };
    assert_rc(KN_ENOTFOUND, kn_store_poll_tally(sc.f.s, nothing, &t));
    fx_done(&sc.f);
}

/* A tally as bytes, to compare stores: counts, then each voter. */
static size_t tally_bytes(fx_store *f, const uint8_t poll[KN_ID], uint8_t *out, size_t cap)
{
    kn_poll_tally t;
    size_t n = 0;
    assert_int_equal(kn_store_poll_tally(f->s, poll, &t), 0);
    assert_true(sizeof t.counts + t.nvoters * sizeof(kn_tally_voter) <= cap);
    memcpy(out, t.counts, sizeof t.counts);
    n += sizeof t.counts;
    for (size_t i = 0; i < t.nvoters; i++) {
        kn_tally_voter w;
        memset(&w, 0, sizeof w);
        memcpy(w.user, t.voters[i].user, KN_KEY);
        memcpy(w.node, t.voters[i].node, KN_KEY);
        memcpy(w.ballot, t.voters[i].ballot, KN_ID);
        w.created = t.voters[i].created;
        w.choices = t.voters[i].choices;
        memcpy(out + n, &w, sizeof w);
        n += sizeof w;
    }
    kn_poll_tally_free(&t);
    return n;
}

/* Every stored id in (created, id) order, to compare stores. */
static size_t stored_ids(fx_store *f, fx_ids *ids)
{
    kn_store_query q = { .index = KN_BY_TIME };
    return fx_query(f, &q, ids);
}

/* A small deterministic generator (xorshift), so a failing order can be replayed from its seed. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/*
 * The same roster, two polls and many ballots (replacements, ties, a late
 * one, an invalid one, a retracted one) ingested in 40 shuffled orders and
 * random batch sizes: the stored set and both tallies are the same in every
 * store.
 */
static void test_tally_arrival_order(void **state)
{
    (void)state;
    static fx_obj objs[SCENE_OBJS];
    static uint8_t ref_u[8192], ref_c[8192], got[8192];
    static fx_ids ref_ids, ids;
    size_t n = 0, ref_u_len, ref_c_len;
    scene sc;
    const fx_key *staff[4];
    fx_obj *pu, *pc;

    scene_init(&sc);
    staff[0] = &sc.u1;
    staff[1] = &sc.u2;
    staff[2] = &sc.u3;
    staff[3] = &sc.u4;
    objs[n++] = sc.net;
    objs[n++] = sc.admit_b;
    objs[n++] = sc.admit_c;
    objs[n++] = sc.cert1;
    objs[n++] = sc.cert2;
    objs[n++] = sc.cert3;
    objs[n++] = sc.cert4;
    pu = &objs[n++];
    poll_obj(pu, &sc.u4, 2000, "Umfragen", "user", true, 20000, 4);
    pc = &objs[n++];
    poll_obj(pc, &sc.a, 2001, "Umfragen", "council", false, 20000, 3);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 40; i++) {
        const fx_key *k = staff[rng_next(&seed) % 4];
        uint64_t created = 3000 + rng_next(&seed) % 8 * 100; /* many equal times: ties */
        if (i % 2 == 0)
            vote_obj(&objs[n++], k, created, "Umfragen", pu->id, 1 + rng_next(&seed) % 15);
        else
            vote_obj(&objs[n++], k, created, "Umfragen", pc->id, 1u << (rng_next(&seed) % 3));
    }
    vote_obj(&objs[n++], &sc.u1, 25000, "Umfragen", pc->id, 1); /* late: refused */
    vote_obj(&objs[n++], &sc.u2, 3000, "Umfragen", pc->id, 3); /* two choices: refused */
    fx_obj *latest = &objs[n++];
    vote_obj(latest, &sc.u3, 9000, "Umfragen", pu->id, 8); /* U3's latest, then retracted */
    fx_retract(&objs[n++], &sc.u3, 9500, latest->id);
    assert_true(n <= SCENE_OBJS);

    /* The reference: everything in creation order. */
    for (size_t i = 0; i < n; i++)
        (void)fx_put(&sc.f, &objs[i]);
    ref_u_len = tally_bytes(&sc.f, pu->id, ref_u, sizeof ref_u);
    ref_c_len = tally_bytes(&sc.f, pc->id, ref_c, sizeof ref_c);
    stored_ids(&sc.f, &ref_ids);
    assert_int_equal(kn_store_has(sc.f.s, latest->id), 0);
    fx_done(&sc.f);

    for (int round = 0; round < 40; round++) {
        fx_store f;
        kn_object batch[SCENE_OBJS];
        int res[SCENE_OBJS];
        size_t order[SCENE_OBJS];
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = rng_next(&seed) % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        fx_init(&f, 0, 0);
        for (size_t i = 0; i < n;) {
            size_t m = 1 + rng_next(&seed) % 8;
            if (m > n - i)
                m = n - i;
            for (size_t j = 0; j < m; j++)
                batch[j] = objs[order[i + j]].o;
            assert_int_equal(kn_store_ingest(f.s, batch, m, res, NULL), 0);
            i += m;
        }
        if (tally_bytes(&f, pu->id, got, sizeof got) != ref_u_len || memcmp(got, ref_u, ref_u_len))
            fail_msg("round %d: the per-user tally differs from creation order", round);
        if (tally_bytes(&f, pc->id, got, sizeof got) != ref_c_len || memcmp(got, ref_c, ref_c_len))
            fail_msg("round %d: the per-council tally differs from creation order", round);
        stored_ids(&f, &ids);
        if (ids.n != ref_ids.n || memcmp(ids.ids, ref_ids.ids, ids.n * KN_ID) != 0)
            fail_msg(
                "round %d: %zu objects stored, %zu in creation order", round, ids.n, ref_ids.n);
        fx_done(&f);
    }
}

/* Retracting a poll takes its ballots along; a ballot arriving after that is refused. */
static void test_poll_retraction(void **state)
{
    (void)state;
    scene sc;
    fx_obj poll, v1, v2, r;

    scene_init(&sc);
    scene_roster(&sc);
    poll_obj(&poll, &sc.u4, 2000, "Umfragen", "user", false, 10000, 2);
    vote_obj(&v1, &sc.u1, 3000, "Umfragen", poll.id, 1);
    vote_obj(&v2, &sc.u2, 3000, "Umfragen", poll.id, 2);
    fx_retract(&r, &sc.u4, 4000, poll.id);
    assert_put(&sc.f, &poll, KN_PUT_STORED);
    assert_put(&sc.f, &v1, KN_PUT_STORED);
    assert_put(&sc.f, &r, KN_PUT_STORED);
    assert_int_equal(kn_store_has(sc.f.s, v1.id), 0);
    assert_put(&sc.f, &v2, KN_ERETRACTED);
    kn_poll_tally t;
    assert_rc(KN_ERETRACTED, kn_store_poll_tally(sc.f.s, poll.id, &t));
    kn_store_query q = { .index = KN_BY_REF, .ref = poll.id, .type = KN_T_VOTE };
    fx_ids ids;
    assert_int_equal(fx_query(&sc.f, &q, &ids), 0);
    fx_done(&sc.f);
}

/* ---- RSVPs and versions ---- */

static void test_rsvp_tally(void **state)
{
    (void)state;
    scene sc;
    fx_obj ev, ev2, r[5], by_node;
    kn_versions v;
    kn_rsvp_tally t;

    scene_init(&sc);
    scene_roster(&sc);
    event_obj(&ev, &sc.u4, 2000, NULL, "Webinar E-Akte");
    event_obj(&ev2, &sc.u4, 2500, ev.id, "Webinar E-Akte (neuer Termin)");
    assert_put(&sc.f, &ev, KN_PUT_STORED);
    assert_put(&sc.f, &ev2, KN_PUT_STORED);
    fx_rsvp(&r[0], &sc.u1, 3000, "Digitalisierung", ev.id, "yes");
    fx_rsvp(&r[1], &sc.u1, 4000, "Digitalisierung", ev2.id,
        "no"); /* to the new version: replaces the yes */
    fx_rsvp(&r[2], &sc.u2, 3000, "Digitalisierung", ev.id, "maybe");
    fx_rsvp(&r[3], &sc.u3, 3000, "Digitalisierung", ev2.id, "yes");
    for (int i = 0; i < 4; i++)
        assert_put(&sc.f, &r[i], KN_PUT_STORED);
    fx_rsvp(&by_node, &sc.b, 3000, "Digitalisierung", ev.id, "yes");
    assert_put(&sc.f, &by_node, KN_EUNAUTH);

    assert_int_equal(kn_store_versions(sc.f.s, ev.id, &v), 0);
    assert_int_equal(v.n, 2);
    assert_int_equal(kn_store_rsvp_tally(sc.f.s, (const uint8_t(*)[KN_ID])v.id, v.n, &t), 0);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.counts[KN_RSVP_YES], 1);
    assert_int_equal(t.counts[KN_RSVP_NO], 1);
    assert_int_equal(t.counts[KN_RSVP_MAYBE], 1);
    kn_rsvp_tally_free(&t);
    fx_done(&sc.f);
}

static void test_versions(void **state)
{
    (void)state;
    scene sc;
    fx_obj v1, v2, v3, other, fork;
    kn_versions v;

    scene_init(&sc);
    scene_roster(&sc);
    fx_thread(&v1, &sc.u1, 2000, "Corona", "Homeoffice");
    thread_edit(&v2, &sc.u1, 3000, v1.id, "Homeoffice (ergänzt)");
    thread_edit(&v3, &sc.u1, 4000, v2.id, "Homeoffice (Stand Mai)");
    thread_edit(&other, &sc.u2, 5000, v3.id, "Fremde Bearbeitung");
    /* Edits arrive before what they edit: pending, then released. */
    assert_put(&sc.f, &v3, KN_PUT_PENDING);
    assert_put(&sc.f, &v2, KN_PUT_PENDING);
    assert_put(&sc.f, &v1, KN_PUT_STORED);
    assert_put(&sc.f, &other, KN_PUT_STORED); /* stored, but no version of v1 */

    const fx_obj *all[] = { &v1, &v2, &v3 };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kn_store_versions(sc.f.s, all[i]->id, &v), 0);
        assert_int_equal(v.n, 3);
        assert_int_equal(v.self, i);
        assert_memory_equal(kn_versions_newest(&v), v3.id, KN_ID);
    }
    assert_int_equal(kn_store_versions(sc.f.s, other.id, &v), 0);
    assert_int_equal(v.n, 1);

    /* Two edits of one version: the later one is the newest of all. */
    thread_edit(&fork, &sc.u1, 4500, v2.id, "Homeoffice (andere Fassung)");
    assert_put(&sc.f, &fork, KN_PUT_STORED);
    assert_int_equal(kn_store_versions(sc.f.s, v1.id, &v), 0);
    assert_int_equal(v.n, 4);
    assert_memory_equal(kn_versions_newest(&v), fork.id, KN_ID);

    /* A retracted version cuts the chain: v1 stands alone, v3 and the fork each. */
    fx_obj r;
    fx_retract(&r, &sc.u1, 6000, v2.id);
    assert_put(&sc.f, &r, KN_PUT_STORED);
    assert_int_equal(kn_store_versions(sc.f.s, v1.id, &v), 0);
    assert_int_equal(v.n, 1);
    assert_int_equal(kn_store_versions(sc.f.s, v3.id, &v), 0);
    assert_int_equal(v.n, 1);
    assert_rc(KN_ERETRACTED, kn_store_versions(sc.f.s, v2.id, &v));
    fx_done(&sc.f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vote_checks),
        cmocka_unit_test(test_tally_per_user_and_council),
        cmocka_unit_test(test_tally_arrival_order),
        cmocka_unit_test(test_poll_retraction),
        cmocka_unit_test(test_rsvp_tally),
        cmocka_unit_test(test_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
