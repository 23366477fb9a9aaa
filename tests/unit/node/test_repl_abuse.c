/*
 * The engine's per-peer limits and the faults it reports (repl.h,
 * kn_repl_take_fault): objects pushed unasked over the peer's rate are
 * dropped and, kept up, make the peer a fault (KN_ELIMIT); answers to our
 * own wants never count against the rate; the same objects sent again are a
 * fault (KN_EEXIST) while honest duplicates from different peers are not;
 * wants for ids never held are a fault (KN_ENOTFOUND) past their bound; want
 * ids over the rate are not even looked up. Each fault is reported once and
 * the peer's later messages are refused with it.
 */
#include "test_repl_fixture.h"
#include "test_support.h"

/* Engine 0 with a peer 1 that the test plays by hand. */
static kn_repl *solo(rf_net *net, const kn_repl_config *tmpl)
{
    rf_init(net, 1, tmpl);
    assert_rc(0, kn_repl_peer_up(net->nodes[0].repl, 1, false, net->now));
    return net->nodes[0].repl;
}

static int send_obj(kn_repl *r, uint64_t peer, const rf_obj *o, uint64_t now)
{
    kn_mp_out m;
    kn_mp_out_init(&m, 0);
    assert_rc(0, kn_wire_write_obj(&m, o->buf, o->len));
    int rc = kn_repl_receive(r, peer, m.buf, m.len, now);
    kn_mp_out_free(&m);
    return rc;
}

static void test_flood_over_rate(void **state)
{
    (void)state;
    rf_net net;
    kn_repl_config cfg = { .objs_in_per_sec = 50 };
    kn_repl *r = solo(&net, &cfg);
    uint8_t sk[64];
    rf_key(sk, 3);
    enum { N = 200 };
    static rf_obj objs[N];
    for (int i = 0; i < N; i++)
        rf_thread(&objs[i], sk, RF_NOW + (uint64_t)i, (unsigned)i);
    /* 50 go through at once (the burst), the next 50 are dropped without a fault... */
    for (int i = 0; i < 100; i++)
        assert_rc(0, send_obj(r, 1, &objs[i], net.now));
    (void)kn_repl_tick(r, net.now);
    kn_repl_stats st = rf_stats(&net, 0);
    assert_int_equal(st.objs_new, 50);
    assert_int_equal(st.objs_over_rate, 50);
    uint64_t peer;
    int code;
    assert_false(kn_repl_take_fault(r, &peer, &code));
    /* ... but more than a bucketful dropped within the window is a flood. */
    int first_refusal = -1;
    for (int i = 100; i < N && first_refusal < 0; i++)
        if (send_obj(r, 1, &objs[i], net.now) == KN_ELIMIT)
            first_refusal = i;
    assert_true(kn_repl_take_fault(r, &peer, &code));
    assert_int_equal(peer, 1);
    assert_rc(KN_ELIMIT, code);
    assert_true(first_refusal > 100);
    assert_false(kn_repl_take_fault(r, &peer, &code)); /* reported once */
    for (int i = 0; i < N; i++)
        rf_obj_free(&objs[i]);
    rf_done(&net, 1);
}

/* A peer sending at its rate, second after second, is never at fault. */
static void test_steady_rate_is_fine(void **state)
{
    (void)state;
    rf_net net;
    kn_repl_config cfg = { .objs_in_per_sec = 20 };
    kn_repl *r = solo(&net, &cfg);
    uint8_t sk[64];
    rf_key(sk, 4);
    for (int sec = 0; sec < 30; sec++) {
        for (int i = 0; i < 20; i++) {
            rf_obj o;
            rf_thread(&o, sk, RF_NOW + (uint64_t)(sec * 20 + i), (unsigned)(sec * 20 + i));
            assert_rc(0, send_obj(r, 1, &o, net.now));
            rf_obj_free(&o);
            net.now += 50;
        }
        (void)kn_repl_tick(r, net.now);
    }
    kn_repl_stats st = rf_stats(&net, 0);
    assert_int_equal(st.objs_new, 600);
    assert_int_equal(st.objs_over_rate, 0);
    uint64_t peer;
    int code;
    assert_false(kn_repl_take_fault(r, &peer, &code));
    rf_done(&net, 1);
}

static void test_replay(void **state)
{
    (void)state;
    rf_net net;
    kn_repl *r = solo(&net, NULL);
    assert_rc(0, kn_repl_peer_up(r, 2, false, net.now));
    uint8_t sk[64];
    rf_key(sk, 5);
    rf_obj o[4];
    for (int i = 0; i < 4; i++)
        rf_thread(&o[i], sk, RF_NOW + (uint64_t)i, (unsigned)i);
    for (int i = 0; i < 4; i++)
        assert_rc(0, send_obj(r, 1, &o[i], net.now));
    (void)kn_repl_tick(r, net.now);
    /* The same objects from another peer: honest gossip duplicates, no fault. */
    for (int i = 0; i < 4; i++)
        assert_rc(0, send_obj(r, 2, &o[i], net.now));
    uint64_t peer;
    int code;
    assert_false(kn_repl_take_fault(r, &peer, &code));
    /* Peer 1 sends them again and again: replay. */
    int rc = 0;
    for (int round = 0; round < 100 && rc == 0; round++)
        for (int i = 0; i < 4 && rc == 0; i++)
            rc = send_obj(r, 1, &o[i], net.now + 1);
    assert_rc(KN_EEXIST, rc);
    assert_true(kn_repl_take_fault(r, &peer, &code));
    assert_int_equal(peer, 1);
    assert_rc(KN_EEXIST, code);
    kn_repl_stats st = rf_stats(&net, 0);
    assert_true(st.objs_repeated >= 256);
    for (int i = 0; i < 4; i++)
        rf_obj_free(&o[i]);
    rf_done(&net, 1);
}

static int send_wants(kn_repl *r, uint64_t peer, uint32_t n, uint8_t fill, uint64_t now)
{
    uint8_t(*ids)[KN_ID] = malloc((size_t)n * KN_ID);
    assert_non_null(ids);
    for (uint32_t i = 0; i < n; i++) {
        memset(ids[i], fill, KN_ID);
        memcpy(ids[i], &i, sizeof i);
    }
    kn_mp_out m;
    kn_mp_out_init(&m, 0);
    assert_rc(0, kn_wire_write_ids(&m, KN_WIRE_WANT, (const uint8_t(*)[KN_ID])ids, n));
    int rc = kn_repl_receive(r, peer, m.buf, m.len, now);
    kn_mp_out_free(&m);
    free(ids);
    return rc;
}

static void test_unknown_wants(void **state)
{
    (void)state;
    rf_net net;
    kn_repl *r = solo(&net, NULL);
    uint64_t peer;
    int code;
    assert_rc(0, send_wants(r, 1, 1000, 0x11, net.now)); /* under the bound */
    assert_false(kn_repl_take_fault(r, &peer, &code));
    /* A window later the count starts again. */
    net.now += 11000;
    assert_rc(0, send_wants(r, 1, 1000, 0x22, net.now));
    assert_false(kn_repl_take_fault(r, &peer, &code));
    assert_rc(0, send_wants(r, 1, 100, 0x33, net.now));
    assert_true(kn_repl_take_fault(r, &peer, &code));
    assert_rc(KN_ENOTFOUND, code);
    assert_rc(KN_ENOTFOUND, send_wants(r, 1, 1, 0x44, net.now)); /* refused from now on */
    rf_done(&net, 1);
}

static void test_wants_over_rate(void **state)
{
    (void)state;
    rf_net net;
    kn_repl_config cfg = { .wants_in_per_sec = 1000 };
    kn_repl *r = solo(&net, &cfg);
    /* Wants for ids it never had would be a fault at 1024; over the rate they are not read. */
    assert_rc(0, send_wants(r, 1, 1000, 0x55, net.now));
    assert_rc(0, send_wants(r, 1, 1000, 0x66, net.now));
    kn_repl_stats st = rf_stats(&net, 0);
    assert_int_equal(st.wants_over_rate, 1000);
    uint64_t peer;
    int code;
    assert_false(kn_repl_take_fault(r, &peer, &code));
    /* Twice the bucket dropped in one window: a flood, refused from the next message on. */
    assert_rc(0, send_wants(r, 1, 1000, 0x77, net.now));
    assert_true(kn_repl_take_fault(r, &peer, &code));
    assert_rc(KN_ELIMIT, code);
    assert_rc(KN_ELIMIT, send_wants(r, 1, 1, 0x88, net.now));
    rf_done(&net, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flood_over_rate),
        cmocka_unit_test(test_steady_rate_is_fine),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_unknown_wants),
        cmocka_unit_test(test_wants_over_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
