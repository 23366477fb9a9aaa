/*
 * The replication engine, two to four engines wired by hand over in-memory
 * stores: eager push, duplicates, have -> want -> obj, catch-up by
 * negentropy after being offline, a pending dependency fetched with want,
 * and the bound on wants in flight. Every message passes through the wire
 * decoder on its way (rf_send), so only well-formed messages are exchanged.
 */
#include "test_repl_fixture.h"

static uint8_t sk_a[64];

static void test_push_reaches_neighbour(void **state)
{
    (void)state;
    rf_net net;
    rf_obj t;
    rf_init(&net, 2, NULL);
    rf_link(&net, 0, 1);
    rf_run(&net, 2, 100);
    /* A reconciliation that finds nothing is finished too. */
    kn_repl_recon rc;
    assert_int_equal(kn_repl_peer_recon(net.nodes[0].repl, 1, &rc), 0);
    assert_true(rc.started_ms > 0 && rc.finished_ms >= rc.started_ms && rc.complete);
    assert_int_equal(rc.needs + rc.haves, 0);
    rf_thread(&t, sk_a, RF_NOW, 1);
    assert_int_equal(kn_repl_publish(net.nodes[0].repl, t.buf, t.len, net.now), KN_PUT_STORED);
    /* Pushed at once, before any tick. */
    assert_int_equal(net.sent[0][KN_WIRE_OBJ], 1);
    while (rf_step(&net, false))
        ;
    assert_true(kn_repl_memstore_has(net.nodes[1].mem, t.id));
    kn_repl_stats st = rf_stats(&net, 1);
    assert_int_equal(st.objs_in, 1);
    assert_int_equal(st.objs_new, 1);
    /* B does not echo it back: A is known to have it. */
    rf_run(&net, 2, 500);
    assert_int_equal(net.sent[1][KN_WIRE_OBJ], 0);
    assert_int_equal(net.sent[1][KN_WIRE_HAVE], 0);
    rf_obj_free(&t);
    rf_done(&net, 2);
}

static void test_duplicate_dropped(void **state)
{
    (void)state;
    rf_net net;
    rf_obj t;
    rf_init(&net, 3, NULL);
    rf_link(&net, 0, 1);
    rf_link(&net, 1, 2);
    rf_run(&net, 3, 100);
    rf_thread(&t, sk_a, RF_NOW, 2);
    assert_int_equal(kn_repl_publish(net.nodes[0].repl, t.buf, t.len, net.now), KN_PUT_STORED);
    /* Hand the same obj to B twice. */
    assert_int_equal(net.n - net.head, 1);
    rf_msg *m = &net.q[net.head];
    uint8_t *copy = malloc(m->len);
    size_t len = m->len;
    memcpy(copy, m->buf, len);
    while (rf_step(&net, false))
        ;
    size_t before = net.sent[1][KN_WIRE_OBJ];
    assert_int_equal(kn_repl_receive(net.nodes[1].repl, 0, copy, len, net.now), 0);
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    free(copy);
    kn_repl_stats st = rf_stats(&net, 1);
    assert_int_equal(st.objs_new, 1);
    assert_int_equal(st.objs_dup, 1);
    assert_int_equal(net.sent[1][KN_WIRE_OBJ], before); /* not forwarded again */
    rf_run(&net, 3, 200);
    assert_true(kn_repl_memstore_has(net.nodes[2].mem, t.id));
    assert_int_equal(kn_repl_memstore_count(net.nodes[2].mem), 1);
    rf_obj_free(&t);
    rf_done(&net, 3);
}

static void test_have_want_obj(void **state)
{
    (void)state;
    rf_net net;
    rf_obj t;
    kn_repl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.fanout = 1; /* A pushes to one of B, C and announces to the other */
    rf_init(&net, 3, &cfg);
    rf_link(&net, 0, 1);
    rf_link(&net, 0, 2);
    rf_run(&net, 3, 100);
    rf_thread(&t, sk_a, RF_NOW, 3);
    assert_int_equal(kn_repl_publish(net.nodes[0].repl, t.buf, t.len, net.now), KN_PUT_STORED);
    assert_int_equal(net.sent[0][KN_WIRE_OBJ], 1);
    assert_int_equal(net.sent[0][KN_WIRE_HAVE], 0); /* announcements wait for the batch */
    rf_run(&net, 3, 500); /* the have waits graft_delay_ms for an eager copy, then wants */
    assert_int_equal(net.sent[0][KN_WIRE_HAVE], 1);
    assert_int_equal(net.sent[0][KN_WIRE_OBJ], 2);
    assert_int_equal(net.sent[1][KN_WIRE_WANT] + net.sent[2][KN_WIRE_WANT], 1);
    assert_true(kn_repl_memstore_has(net.nodes[1].mem, t.id));
    assert_true(kn_repl_memstore_has(net.nodes[2].mem, t.id));
    /* No duplicate anywhere: B and C are not linked, and A knew who had it. */
    assert_int_equal(rf_stats(&net, 1).objs_dup + rf_stats(&net, 2).objs_dup, 0);
    rf_obj_free(&t);
    rf_done(&net, 3);
}

static void test_offline_catch_up(void **state)
{
    (void)state;
    enum { MISSED = 300, OWN = 7 };
    rf_net net;
    static rf_obj a[MISSED], b[OWN];
    uint8_t sk_b[64];
    rf_key(sk_b, 0x42);
    rf_init(&net, 2, NULL);
    for (unsigned i = 0; i < MISSED; i++) {
        rf_thread(&a[i], sk_a, RF_NOW - 1000 * i, 100 + i);
        assert_int_equal(kn_repl_publish(net.nodes[0].repl, a[i].buf, a[i].len, net.now), 1);
    }
    for (unsigned i = 0; i < OWN; i++) {
        rf_thread(&b[i], sk_b, RF_NOW - 500 * i, 1000 + i);
        assert_int_equal(kn_repl_publish(net.nodes[1].repl, b[i].buf, b[i].len, net.now), 1);
    }
    assert_int_equal(net.n, 0); /* nobody to tell */
    /* B comes online and dials A: negentropy finds both differences. */
    rf_link(&net, 1, 0);
    rf_run(&net, 2, 1000);
    assert_int_equal(kn_repl_memstore_count(net.nodes[0].mem), MISSED + OWN);
    assert_int_equal(kn_repl_memstore_count(net.nodes[1].mem), MISSED + OWN);
    kn_repl_stats sb = rf_stats(&net, 1);
    assert_true(sb.neg_done >= 1);
    assert_int_equal(sb.objs_new, MISSED);
    assert_int_equal(sb.objs_dup, 0);
    assert_int_equal(rf_stats(&net, 0).objs_new, OWN);
    for (unsigned i = 0; i < MISSED; i++)
        rf_obj_free(&a[i]);
    for (unsigned i = 0; i < OWN; i++)
        rf_obj_free(&b[i]);
    rf_done(&net, 2);
}

/* A reply arrives before its thread: it waits as pending, B asks A for the thread, both land. */
static void test_pending_dependency(void **state)
{
    (void)state;
    rf_net net;
    rf_obj t, p;
    rf_init(&net, 2, NULL);
    rf_thread(&t, sk_a, RF_NOW, 4);
    rf_post(&p, sk_a, RF_NOW + 1, t.id);
    assert_int_equal(kn_repl_publish(net.nodes[0].repl, t.buf, t.len, net.now), KN_PUT_STORED);
    assert_int_equal(kn_repl_publish(net.nodes[0].repl, p.buf, p.len, net.now), KN_PUT_STORED);
    /* B accepts A, but A runs no anti-entropy; A's engine sees the link too. */
    assert_int_equal(kn_repl_peer_up(net.nodes[0].repl, 1, false, net.now), 0);
    assert_int_equal(kn_repl_peer_up(net.nodes[1].repl, 0, false, net.now), 0);
    while (rf_step(&net, false))
        ;
    assert_int_equal(rf_receive_obj(&net, 1, 0, p.buf, p.len), 0);
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_false(kn_repl_memstore_has(net.nodes[1].mem, p.id));
    assert_int_equal(rf_stats(&net, 1).objs_pending, 1);
    assert_int_equal(net.sent[1][KN_WIRE_WANT], 1);
    rf_run(&net, 2, 100);
    assert_true(kn_repl_memstore_has(net.nodes[1].mem, t.id));
    assert_true(kn_repl_memstore_has(net.nodes[1].mem, p.id));
    assert_int_equal(kn_repl_wants_open(net.nodes[1].repl), 0);
    rf_obj_free(&t);
    rf_obj_free(&p);
    rf_done(&net, 2);
}

/* B is told of 40 objects at once but never has more than 4 wants in flight to A. */
/*
 * Two engines linked without anti-entropy: A publishes n threads (titles
 * from `first`), then B hears a "have" of all of them from A and nothing
 * else yet (the eager copies never went: the link was made after).
 */
static void announced(rf_net *net, const kn_repl_config *cfg, rf_obj *objs, uint8_t (*ids)[KN_ID],
    unsigned n, unsigned first)
{
    rf_init(net, 2, cfg);
    for (unsigned i = 0; i < n; i++) {
        rf_thread(&objs[i], sk_a, RF_NOW, first + i);
        memcpy(ids[i], objs[i].id, KN_ID);
        assert_int_equal(
            kn_repl_publish(net->nodes[0].repl, objs[i].buf, objs[i].len, net->now), 1);
    }
    assert_int_equal(kn_repl_peer_up(net->nodes[0].repl, 1, false, net->now), 0);
    assert_int_equal(kn_repl_peer_up(net->nodes[1].repl, 0, false, net->now), 0);
    while (rf_step(net, false))
        ;
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    assert_int_equal(kn_wire_write_ids(&o, KN_WIRE_HAVE, (const uint8_t(*)[KN_ID])ids, n), 0);
    assert_int_equal(kn_repl_receive(net->nodes[1].repl, 0, o.buf, o.len, net->now), 0);
    kn_mp_out_free(&o);
}

static void test_inflight_bound(void **state)
{
    (void)state;
    enum { N = 40, BOUND = 4 };
    rf_net net;
    static rf_obj objs[N];
    static uint8_t ids[N][KN_ID];
    kn_repl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.wants_max = BOUND;
    announced(&net, &cfg, objs, ids, N, 200);
    assert_int_equal(net.sent[1][KN_WIRE_WANT], 0); /* waiting for eager copies */
    net.now += 200;
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    size_t rounds = 0;
    while (net.head < net.n) {
        rf_msg *m = &net.q[net.head];
        kn_wire_msg w;
        assert_int_equal(kn_wire_decode(&w, m->buf, m->len), 0);
        if (w.kind == KN_WIRE_WANT) {
            assert_true(w.nids <= BOUND);
            rounds++;
        }
        assert_true(kn_repl_peer_inflight(net.nodes[1].repl, 0) <= BOUND);
        assert_true(rf_step(&net, false));
    }
    assert_int_equal(kn_repl_memstore_count(net.nodes[1].mem), N);
    assert_true(rounds >= N / BOUND);
    assert_int_equal(kn_repl_peer_inflight(net.nodes[1].repl, 0), 0);
    for (unsigned i = 0; i < N; i++)
        rf_obj_free(&objs[i]);
    rf_done(&net, 2);
}

/* A want lost on the way is retried after the timeout, from another announcer if there is one. */
static void test_want_timeout_retry(void **state)
{
    (void)state;
    rf_net net;
    rf_obj t;
    kn_repl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.want_timeout_ms = 1000;
    rf_init(&net, 3, &cfg);
    rf_thread(&t, sk_a, RF_NOW, 5);
    assert_int_equal(kn_repl_publish(net.nodes[0].repl, t.buf, t.len, net.now), 1);
    assert_int_equal(kn_repl_publish(net.nodes[2].repl, t.buf, t.len, net.now), 1);
    rf_link(&net, 0, 1);
    rf_link(&net, 2, 1);
    /* Drop everything of the handshake, including anti-entropy, so only haves teach B. */
    while (rf_step(&net, true))
        ;
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    assert_int_equal(kn_wire_write_ids(&o, KN_WIRE_HAVE, (const uint8_t(*)[KN_ID])t.id, 1), 0);
    assert_int_equal(kn_repl_receive(net.nodes[1].repl, 0, o.buf, o.len, net.now), 0);
    assert_int_equal(kn_repl_receive(net.nodes[1].repl, 2, o.buf, o.len, net.now), 0);
    kn_mp_out_free(&o);
    net.now += 200;
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_int_equal(net.sent[1][KN_WIRE_WANT], 1);
    while (rf_step(&net, true)) /* the want is lost */
        ;
    net.now += 1000;
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_int_equal(net.sent[1][KN_WIRE_WANT], 2);
    assert_int_equal(rf_stats(&net, 1).want_timeouts, 1);
    while (rf_step(&net, false))
        ;
    assert_true(kn_repl_memstore_has(net.nodes[1].mem, t.id));
    rf_obj_free(&t);
    rf_done(&net, 3);
}

/*
 * A slow link: the peer answers one want every 600 ms, in the order asked,
 * so most of a window of 12 is overdue long before its answer comes. While
 * answers to earlier wants keep coming, a want waits (no timeout, nothing
 * asked twice). Object 0, which the peer skips, gets no such grace: once a
 * later want is answered, it times out at its first deadline and is asked
 * again (now the latest asked, so it waits in turn). Then a window of 24:
 * after WANT_WAITS (7) more periods every want still unanswered times out,
 * answers or not.
 */
static void slow_answers(unsigned n, unsigned *timeouts_seen, size_t *wants_sent)
{
    enum { STEP = 600, TIMEOUT = 1000, WAITS = 7 };
    rf_net net;
    static rf_obj objs[24];
    static uint8_t ids[24][KN_ID];
    kn_repl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.want_timeout_ms = TIMEOUT;
    announced(&net, &cfg, objs, ids, n, 700);
    net.now += 200;
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_int_equal(net.sent[1][KN_WIRE_WANT], 1);
    assert_int_equal(kn_repl_peer_inflight(net.nodes[1].repl, 0), n);
    while (rf_step(&net, true)) /* A answers by hand below */
        ;
    uint64_t asked = net.now, cap = (1 + WAITS) * TIMEOUT;
    for (unsigned i = 1; i < n; i++) {
        for (int t = 0; t < STEP / 10; t++) {
            net.now += 10;
            (void)kn_repl_tick(net.nodes[1].repl, net.now);
            while (rf_step(&net, true)) /* retried wants do not reach A */
                ;
            uint64_t since = net.now - asked, timeouts = rf_stats(&net, 1).want_timeouts;
            if (since < TIMEOUT) /* object 0 is skipped once object 1 is answered, at 600 ms */
                assert_int_equal(timeouts, 0);
            else if (since >= TIMEOUT + 20 && since < cap)
                assert_int_equal(timeouts, 1);
        }
        assert_int_equal(rf_receive_obj(&net, 1, 0, objs[i].buf, objs[i].len), 0);
        (void)kn_repl_tick(net.nodes[1].repl, net.now);
        assert_true(kn_repl_memstore_has(net.nodes[1].mem, ids[i]));
    }
    assert_false(kn_repl_memstore_has(net.nodes[1].mem, ids[0]));
    *timeouts_seen = (unsigned)rf_stats(&net, 1).want_timeouts;
    *wants_sent = net.sent[1][KN_WIRE_WANT];
    for (unsigned i = 0; i < n; i++)
        rf_obj_free(&objs[i]);
    rf_done(&net, 2);
}

static void test_want_waits_behind_answers(void **state)
{
    (void)state;
    unsigned timeouts;
    size_t wants;
    slow_answers(12, &timeouts, &wants); /* answers end at 6.6 s, inside the cap */
    assert_int_equal(timeouts, 1); /* object 0 only */
    assert_true(wants >= 2); /* object 0 asked again (A never sends it) */
    /*
     * Past the cap (8 s; answers go on to 13.8 s): the 10 originals still
     * unanswered at 8 s time out, and object 0's second want at its own cap.
     */
    slow_answers(24, &timeouts, &wants);
    assert_int_equal(timeouts, 1 + 10 + 1);
}

/* True if the next message to be delivered is a want from node `from` that names id. */
static bool next_wants(const rf_net *net, int from, const uint8_t id[KN_ID])
{
    kn_wire_msg w;
    const rf_msg *m = &net->q[net->head];
    if (net->head == net->n || m->from != from || kn_wire_decode(&w, m->buf, m->len) != 0
        || w.kind != KN_WIRE_WANT)
        return false;
    for (uint32_t j = 0; j < w.nids; j++)
        if (memcmp(kn_wire_id(&w, j), id, KN_ID) == 0)
            return true;
    return false;
}

/*
 * An object the store holds as pending (a reply whose thread is missing) is
 * not fetched again when a reconciliation finds it missing: its thread is
 * asked for instead, from the peer that has both. (Before held_many, every
 * periodic reconciliation fetched and verified every pending object again.)
 */
static void test_pending_not_fetched_again(void **state)
{
    (void)state;
    rf_net net;
    rf_obj t, p;
    rf_init(&net, 2, NULL);
    rf_thread(&t, sk_a, RF_NOW, 1);
    rf_post(&p, sk_a, RF_NOW + 1, t.id);
    assert_int_equal(kn_repl_publish(net.nodes[0].repl, t.buf, t.len, net.now), 1);
    assert_int_equal(kn_repl_publish(net.nodes[0].repl, p.buf, p.len, net.now), 1);
    assert_int_equal(kn_repl_peer_up(net.nodes[0].repl, 1, false, net.now), 0);
    assert_int_equal(kn_repl_peer_up(net.nodes[1].repl, 0, false, net.now), 0);
    while (rf_step(&net, false))
        ;
    /* B gets the reply alone: pending; its want for the thread is lost, and so is the link. */
    assert_int_equal(rf_receive_obj(&net, 1, 0, p.buf, p.len), 0);
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_int_equal(rf_stats(&net, 1).objs_pending, 1);
    while (rf_step(&net, true))
        ;
    rf_unlink(&net, 0, 1);
    /* B dials A again: the reconciliation finds both missing; B asks for the thread only. */
    rf_link(&net, 1, 0);
    bool thread_wanted = false;
    for (int round = 0; round < 20; round++) {
        while (net.head < net.n) {
            assert_false(next_wants(&net, 1, p.id));
            thread_wanted |= next_wants(&net, 1, t.id);
            assert_true(rf_step(&net, false));
        }
        net.head = net.n = 0;
        net.now += 10;
        (void)kn_repl_tick(net.nodes[0].repl, net.now);
        (void)kn_repl_tick(net.nodes[1].repl, net.now);
    }
    assert_true(thread_wanted);
    assert_true(kn_repl_memstore_has(net.nodes[1].mem, t.id));
    assert_true(kn_repl_memstore_has(net.nodes[1].mem, p.id)); /* released from pending */
    assert_int_equal(rf_stats(&net, 1).objs_dup, 0);
    rf_obj_free(&t);
    rf_obj_free(&p);
    rf_done(&net, 2);
}

/* A duplicate push makes the link lazy: the next object crosses it as a have, not in full. */
static void test_prune(void **state)
{
    (void)state;
    rf_net net;
    rf_obj t1, t2;
    rf_init(&net, 3, NULL);
    rf_link(&net, 0, 1);
    rf_link(&net, 0, 2);
    rf_link(&net, 1, 2);
    rf_run(&net, 3, 100);
    rf_thread(&t1, sk_a, RF_NOW, 6);
    assert_int_equal(kn_repl_publish(net.nodes[0].repl, t1.buf, t1.len, net.now), 1);
    rf_run(&net, 3, 500);
    /* A pushed to B and C, and B and C pushed to each other: one of them saw a duplicate. */
    size_t dups = rf_stats(&net, 1).objs_dup + rf_stats(&net, 2).objs_dup;
    assert_true(dups >= 1);
    size_t objs_bc = net.sent[1][KN_WIRE_OBJ] + net.sent[2][KN_WIRE_OBJ];
    rf_thread(&t2, sk_a, RF_NOW, 7);
    assert_int_equal(kn_repl_publish(net.nodes[0].repl, t2.buf, t2.len, net.now), 1);
    rf_run(&net, 3, 500);
    for (int i = 1; i < 3; i++)
        assert_true(kn_repl_memstore_has(net.nodes[i].mem, t2.id));
    /* Between B and C the second object travels as a have at most, never in full. */
    assert_int_equal(net.sent[1][KN_WIRE_OBJ] + net.sent[2][KN_WIRE_OBJ], objs_bc);
    rf_obj_free(&t1);
    rf_obj_free(&t2);
    rf_done(&net, 3);
}

/* Objects that arrive within one loop iteration are stored by one ingest call at the tick. */
static void test_ingest_batched_per_tick(void **state)
{
    (void)state;
    enum { N = 5 };
    rf_net net;
    rf_obj t[N];
    rf_init(&net, 2, NULL);
    rf_link(&net, 0, 1);
    rf_run(&net, 2, 100);
    net.tick_after_receive = false;
    uint64_t calls = rf_stats(&net, 1).ingest_calls;
    for (unsigned i = 0; i < N; i++) {
        rf_thread(&t[i], sk_a, RF_NOW, 300 + i);
        assert_int_equal(kn_repl_publish(net.nodes[0].repl, t[i].buf, t[i].len, net.now), 1);
    }
    while (rf_step(&net, false))
        ;
    assert_int_equal(kn_repl_memstore_count(net.nodes[1].mem), 0); /* validated, not stored */
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_int_equal(kn_repl_memstore_count(net.nodes[1].mem), N);
    assert_int_equal(rf_stats(&net, 1).ingest_calls - calls, 1);
    assert_int_equal(rf_stats(&net, 1).objs_new, N);
    for (unsigned i = 0; i < N; i++)
        rf_obj_free(&t[i]);
    rf_done(&net, 2);
}

/* A want from anti-entropy or for a pending ref is no graft: a lazy link stays lazy. */
static void test_pending_want_does_not_graft(void **state)
{
    (void)state;
    rf_net net;
    rf_obj t, p;
    rf_init(&net, 2, NULL);
    rf_thread(&t, sk_a, RF_NOW, 8);
    rf_post(&p, sk_a, RF_NOW + 1, t.id);
    assert_int_equal(kn_repl_publish(net.nodes[0].repl, t.buf, t.len, net.now), KN_PUT_STORED);
    assert_int_equal(kn_repl_publish(net.nodes[0].repl, p.buf, p.len, net.now), KN_PUT_STORED);
    assert_int_equal(kn_repl_peer_up(net.nodes[0].repl, 1, false, net.now), 0);
    assert_int_equal(kn_repl_peer_up(net.nodes[1].repl, 0, false, net.now), 0);
    while (rf_step(&net, false))
        ;
    assert_int_equal(rf_receive_obj(&net, 1, 0, p.buf, p.len), 0);
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    rf_run(&net, 2, 100);
    assert_true(kn_repl_memstore_has(net.nodes[1].mem, p.id));
    assert_int_equal(rf_stats(&net, 0).grafts + rf_stats(&net, 1).grafts, 0);
    rf_obj_free(&t);
    rf_obj_free(&p);
    rf_done(&net, 2);
}

/* The memstore with its has() calls counted: a store lookup is an LMDB read in the node. */
typedef struct counting {
    kn_repl_store inner;
    size_t has_calls;
    size_t many_calls, many_ids; /* has_many(): calls, ids asked */
} counting;

static int counting_has(void *ctx, const uint8_t id[KN_ID])
{
    counting *c = ctx;
    c->has_calls++;
    return c->inner.has(c->inner.ctx, id);
}

/* The memstore has no has_many: answer from its has(), as a store with a batched lookup would. */
static int counting_has_many(void *ctx, const uint8_t *const *ids, size_t n, uint8_t *out)
{
    counting *c = ctx;
    c->many_calls++;
    c->many_ids += n;
    for (size_t i = 0; i < n; i++)
        out[i] = c->inner.has(c->inner.ctx, ids[i]) == 1;
    return 0;
}

static int counting_get(void *ctx, const uint8_t id[KN_ID], uint8_t **buf, size_t *len)
{
    counting *c = ctx;
    return c->inner.get(c->inner.ctx, id, buf, len);
}

static int counting_ingest(void *ctx, const kn_object *objs, size_t n, int *results)
{
    counting *c = ctx;
    return c->inner.ingest(c->inner.ctx, objs, n, results);
}

static int counting_each(
    void *ctx, int (*fn)(void *fctx, uint64_t created, const uint8_t id[KN_ID]), void *fctx)
{
    counting *c = ctx;
    return c->inner.each_item(c->inner.ctx, fn, fctx);
}

/*
 * A catch-up of N objects through a window of 64 wants: each want costs O(1)
 * (no walk of the waiting ids and no store lookup per waiting id when a slot
 * frees), wants leave many ids per message, and the engine reports the
 * reconciliation's figures: N found missing, N fetched with their bytes,
 * finished. Before the fix: ~N^2/128 store lookups and one want per message.
 */
static void catch_up_cost_and_figures(bool many)
{
    enum { N = 3000, WINDOW = 64 };
    rf_net net;
    static rf_obj objs[N];
    kn_repl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.wants_max = WINDOW;
    rf_init(&net, 2, &cfg);
    size_t bytes = 0;
    for (unsigned i = 0; i < N; i++) {
        rf_thread(&objs[i], sk_a, RF_NOW - 10 * i, 5000 + i);
        assert_int_equal(kn_repl_publish(net.nodes[0].repl, objs[i].buf, objs[i].len, net.now), 1);
        bytes += objs[i].len;
    }
    /* Node 1 again, over a store that counts lookups. */
    counting cs = { .inner = kn_repl_memstore_iface(net.nodes[1].mem) };
    kn_repl_free(net.nodes[1].repl);
    cfg.store = (kn_repl_store) { .ctx = &cs,
        .has = counting_has,
        .has_many = many ? counting_has_many : NULL,
        .get = counting_get,
        .ingest = counting_ingest,
        .each_item = counting_each };
    cfg.send = rf_send;
    cfg.send_ctx = &net.nodes[1];
    assert_int_equal(kn_repl_new(&net.nodes[1].repl, &cfg), 0);

    /* As the shell does: what one read brought is stored at one tick (here: when all is read). */
    net.tick_after_receive = false;
    rf_link(&net, 1, 0);
    rf_run(&net, 2, 2000);
    assert_int_equal(kn_repl_memstore_count(net.nodes[1].mem), N);
    kn_repl_stats st = rf_stats(&net, 1);
    printf("catch-up of %d objects: %zu store lookups, %zu batched (%zu ids), %zu want messages "
           "for %llu ids\n",
        N, cs.has_calls, cs.many_calls, cs.many_ids, net.sent[1][KN_WIRE_WANT],
        (unsigned long long)st.wants_out);
    assert_int_equal(st.wants_out, N);
    assert_true(cs.has_calls + cs.many_ids <= 2 * N);
    if (many) /* the ids a reconciliation found are looked up HAS_CHUNK (256) at a time */
        assert_true(cs.has_calls + cs.many_calls <= N / 64);
    /* The ids freed by one tick's answers go in one message, not one each. */
    assert_true(net.sent[1][KN_WIRE_WANT] <= N / 8);
    kn_repl_recon rc;
    assert_int_equal(kn_repl_peer_recon(net.nodes[1].repl, 0, &rc), 0);
    assert_int_equal(rc.needs, N);
    assert_int_equal(rc.fetched, N);
    assert_int_equal(rc.fetched_bytes, bytes);
    assert_int_equal(rc.had + rc.dropped, 0);
    assert_true(rc.complete);
    assert_true(rc.started_ms == RF_NOW);
    assert_true(rc.finished_ms > rc.started_ms);
    assert_int_equal(kn_repl_peer_recon(net.nodes[1].repl, 99, &rc), KN_ENOTFOUND);
    for (unsigned i = 0; i < N; i++)
        rf_obj_free(&objs[i]);
    rf_done(&net, 2);
}

static void test_catch_up_cost_and_figures(void **state)
{
    (void)state;
    catch_up_cost_and_figures(false);
}

/* The same with a store that answers many ids in one call (has_many, as LMDB's does). */
static void test_catch_up_batched_lookups(void **state)
{
    (void)state;
    catch_up_cost_and_figures(true);
}

/* Wants to a peer that goes away are asked of another announcer; the window holds meanwhile. */
static void test_wants_move_when_peer_leaves(void **state)
{
    (void)state;
    enum { N = 30, BOUND = 4 };
    rf_net net;
    static rf_obj objs[N];
    static uint8_t ids[N][KN_ID];
    kn_repl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.wants_max = BOUND;
    rf_init(&net, 3, &cfg);
    for (unsigned i = 0; i < N; i++) {
        rf_thread(&objs[i], sk_a, RF_NOW, 700 + i);
        memcpy(ids[i], objs[i].id, KN_ID);
        assert_int_equal(kn_repl_publish(net.nodes[0].repl, objs[i].buf, objs[i].len, net.now), 1);
        assert_int_equal(kn_repl_publish(net.nodes[2].repl, objs[i].buf, objs[i].len, net.now), 1);
    }
    for (int a = 0; a < 3; a += 2) {
        assert_int_equal(kn_repl_peer_up(net.nodes[a].repl, 1, false, net.now), 0);
        assert_int_equal(kn_repl_peer_up(net.nodes[1].repl, (uint64_t)a, false, net.now), 0);
    }
    while (rf_step(&net, false))
        ;
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    assert_int_equal(kn_wire_write_ids(&o, KN_WIRE_HAVE, (const uint8_t(*)[KN_ID])ids, N), 0);
    assert_int_equal(kn_repl_receive(net.nodes[1].repl, 0, o.buf, o.len, net.now), 0);
    assert_int_equal(kn_repl_receive(net.nodes[1].repl, 2, o.buf, o.len, net.now), 0);
    kn_mp_out_free(&o);
    net.now += 3000;
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_int_equal(kn_repl_peer_inflight(net.nodes[1].repl, 0), BOUND);
    assert_int_equal(kn_repl_peer_inflight(net.nodes[1].repl, 2), BOUND);
    while (rf_step(&net, true)) /* the wants are lost with node 0 */
        ;
    kn_repl_peer_down(net.nodes[1].repl, 0, net.now);
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_int_equal(kn_repl_peer_inflight(net.nodes[1].repl, 2), BOUND);
    kn_repl_peer_down(net.nodes[0].repl, 1, net.now);
    rf_run(&net, 3, 5000);
    assert_int_equal(kn_repl_memstore_count(net.nodes[1].mem), N);
    assert_int_equal(kn_repl_wants_open(net.nodes[1].repl), 0);
    for (unsigned i = 0; i < N; i++)
        rf_obj_free(&objs[i]);
    rf_done(&net, 3);
}

/* An object another process stored goes out through kn_repl_announce like a published one. */
static void test_announce_stored(void **state)
{
    (void)state;
    rf_net net;
    rf_obj t;
    rf_init(&net, 2, NULL);
    rf_link(&net, 0, 1);
    rf_run(&net, 2, 100);
    rf_thread(&t, sk_a, RF_NOW, 900);
    uint8_t missing[KN_ID] = { 1 };
    assert_int_equal(kn_repl_announce(net.nodes[0].repl, missing, net.now), KN_ENOTFOUND);
    /* Written into the store behind the engine's back, as the command line does. */
    kn_object o;
    int res = 0;
    assert_int_equal(kn_object_validate(&o, t.buf, t.len, net.now), 0);
    kn_repl_store st = kn_repl_memstore_iface(net.nodes[0].mem);
    assert_int_equal(st.ingest(st.ctx, &o, 1, &res), 0);
    assert_int_equal(res, KN_PUT_STORED);
    assert_int_equal(kn_repl_announce(net.nodes[0].repl, t.id, net.now), 0);
    assert_int_equal(net.sent[0][KN_WIRE_OBJ], 1);
    rf_run(&net, 2, 100);
    assert_true(kn_repl_memstore_has(net.nodes[1].mem, t.id));
    rf_obj_free(&t);
    rf_done(&net, 2);
}

int main(void)
{
    if (kn_crypto_init() < 0)
        return 1;
    rf_key(sk_a, 0x11);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_reaches_neighbour),
        cmocka_unit_test(test_duplicate_dropped),
        cmocka_unit_test(test_have_want_obj),
        cmocka_unit_test(test_offline_catch_up),
        cmocka_unit_test(test_pending_dependency),
        cmocka_unit_test(test_inflight_bound),
        cmocka_unit_test(test_want_timeout_retry),
        cmocka_unit_test(test_want_waits_behind_answers),
        cmocka_unit_test(test_pending_not_fetched_again),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_ingest_batched_per_tick),
        cmocka_unit_test(test_pending_want_does_not_graft),
        cmocka_unit_test(test_catch_up_cost_and_figures),
        cmocka_unit_test(test_catch_up_batched_lookups),
        cmocka_unit_test(test_wants_move_when_peer_leaves),
        cmocka_unit_test(test_announce_stored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
