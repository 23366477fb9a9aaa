/*
 * The engine with a validate hook (validation off the caller's thread, as
 * node/sync.c runs it): batches handed out after decode and dedupe, given
 * back in any order and stored in arrival order; replies whose thread comes
 * in a later batch; a bad signature found late makes its sender a fault;
 * the wants window pauses while the validation backlog is over its bound;
 * a hook that refuses makes the engine validate inline. The hook here only
 * queues batches; the test runs them (kn_repl_batch_run) when it chooses.
 */
#include "test_repl_fixture.h"

static uint8_t sk_a[64];

enum { VQ_MAX = 1024 };

typedef struct vq {
    kn_repl *r;
    kn_repl_batch *b[VQ_MAX];
    size_t n;
    size_t taken;
    bool refuse;
} vq;

static int vq_hook(void *ctx, kn_repl_batch *b)
{
    vq *q = ctx;
    if (q->refuse)
        return KN_ENOMEM;
    assert_true(q->n < VQ_MAX);
    q->b[q->n++] = b;
    q->taken++;
    return 0;
}

/* Validates and gives back every queued batch, newest first if reverse. */
static void vq_complete(vq *q, uint64_t now, bool reverse)
{
    while (q->n) {
        size_t i = reverse ? q->n - 1 : 0;
        kn_repl_batch *b = q->b[i];
        memmove(q->b + i, q->b + i + 1, (q->n - i - 1) * sizeof *q->b);
        q->n--;
        kn_repl_batch_run(b);
        kn_repl_validated(q->r, b, now);
    }
}

/* Node 1 gets the hook (cfg as given, plus the hook). */
static void vq_attach(rf_net *net, vq *q, kn_repl_config *cfg)
{
    memset(q, 0, sizeof *q);
    cfg->validate = vq_hook;
    cfg->validate_ctx = q;
    kn_repl_free(net->nodes[1].repl);
    rf_engine(net, 1, cfg);
    q->r = net->nodes[1].repl;
}

/* rf_run, with the queued batches given back (in reverse order) whenever the wire is quiet. */
static void vq_run(rf_net *net, vq *q, int nodes, uint64_t ms)
{
    uint64_t end = net->now + ms;
    for (;;) {
        while (rf_step(net, false))
            ;
        vq_complete(q, net->now, true);
        if (net->now >= end)
            break;
        net->now += 10;
        for (int i = 0; i < nodes; i++)
            (void)kn_repl_tick(net->nodes[i].repl, net->now);
    }
}

static void test_catch_up_through_hook(void **state)
{
    (void)state;
    enum { THREADS = 200, REPLIES = 100 };
    rf_net net;
    vq q;
    static rf_obj t[THREADS], p[REPLIES];
    kn_repl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.validate_batch = 16; /* many batches, so replies and threads land in different ones */
    rf_init(&net, 2, NULL);
    vq_attach(&net, &q, &cfg);
    for (unsigned i = 0; i < THREADS; i++) {
        rf_thread(&t[i], sk_a, RF_NOW - 1000 * i, 300 + i);
        assert_int_equal(kn_repl_publish(net.nodes[0].repl, t[i].buf, t[i].len, net.now), 1);
    }
    for (unsigned i = 0; i < REPLIES; i++) {
        rf_post(&p[i], sk_a, RF_NOW - 1000 * (THREADS - 1) - 500 + i, t[THREADS - 1 - i].id);
        assert_int_equal(kn_repl_publish(net.nodes[0].repl, p[i].buf, p[i].len, net.now), 1);
    }
    rf_link(&net, 1, 0);
    vq_run(&net, &q, 2, 3000);
    /* Counted by has(): every thread and every reply, the replies released from pending. */
    unsigned got = 0;
    for (unsigned i = 0; i < THREADS; i++)
        got += kn_repl_memstore_has(net.nodes[1].mem, t[i].id) == 1;
    for (unsigned i = 0; i < REPLIES; i++)
        got += kn_repl_memstore_has(net.nodes[1].mem, p[i].id) == 1;
    assert_int_equal(got, THREADS + REPLIES);
    assert_int_equal(kn_repl_memstore_count(net.nodes[1].mem), THREADS + REPLIES);
    kn_repl_stats st = rf_stats(&net, 1);
    assert_int_equal(st.objs_new + st.objs_pending, THREADS + REPLIES);
    assert_true(st.objs_pending > 0); /* some replies came before their thread */
    assert_int_equal(st.objs_refused, 0);
    assert_true(st.validate_batches >= (THREADS + REPLIES) / 16);
    assert_int_equal(q.taken, st.validate_batches);
    assert_int_equal(kn_repl_validating(net.nodes[1].repl), 0);
    assert_int_equal(kn_repl_batches_out(net.nodes[1].repl), 0);
    uint64_t peer;
    int code;
    assert_false(kn_repl_take_fault(net.nodes[1].repl, &peer, &code));
    for (unsigned i = 0; i < THREADS; i++)
        rf_obj_free(&t[i]);
    for (unsigned i = 0; i < REPLIES; i++)
        rf_obj_free(&p[i]);
    rf_done(&net, 2);
}

/* A reply whose thread is validated in a later batch waits as pending and is released. */
static void test_pending_across_batches(void **state)
{
    (void)state;
    rf_net net;
    vq q;
    rf_obj t, p;
    kn_repl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.no_fast_gossip = true; /* pushes through the batches, as this test is about their order */
    rf_init(&net, 2, NULL);
    vq_attach(&net, &q, &cfg);
    rf_thread(&t, sk_a, RF_NOW, 7);
    rf_post(&p, sk_a, RF_NOW + 1, t.id);
    assert_int_equal(kn_repl_peer_up(net.nodes[1].repl, 0, false, net.now), 0);
    /* The reply first, in its own batch (given to the hook at the tick) ... */
    assert_int_equal(rf_receive_obj(&net, 1, 0, p.buf, p.len), 0);
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_int_equal(q.n, 1);
    /* ... then the thread in a second one. */
    assert_int_equal(rf_receive_obj(&net, 1, 0, t.buf, t.len), 0);
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_int_equal(q.n, 2);
    assert_int_equal(kn_repl_validating(net.nodes[1].repl), 2);
    /* The thread's batch comes back first; nothing is stored before the reply's. */
    kn_repl_batch *second = q.b[1];
    q.n = 1;
    kn_repl_batch_run(second);
    kn_repl_validated(net.nodes[1].repl, second, net.now);
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_false(kn_repl_memstore_has(net.nodes[1].mem, t.id));
    vq_complete(&q, net.now, false);
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_true(kn_repl_memstore_has(net.nodes[1].mem, t.id));
    assert_true(kn_repl_memstore_has(net.nodes[1].mem, p.id));
    assert_int_equal(rf_stats(&net, 1).objs_pending, 1);
    rf_obj_free(&t);
    rf_obj_free(&p);
    rf_done(&net, 2);
}

static void test_bad_signature_is_a_fault(void **state)
{
    (void)state;
    rf_net net;
    vq q;
    rf_obj t;
    kn_repl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    rf_init(&net, 3, NULL);
    cfg.no_fast_gossip = true; /* the bad object goes through the hook, as this test is about */
    vq_attach(&net, &q, &cfg);
    rf_thread(&t, sk_a, RF_NOW, 8);
    assert_int_equal(kn_repl_peer_up(net.nodes[1].repl, 0, false, net.now), 0);
    assert_int_equal(kn_repl_peer_up(net.nodes[1].repl, 2, false, net.now), 0);
    uint8_t *bad = malloc(t.len);
    memcpy(bad, t.buf, t.len);
    bad[t.len - 1] ^= 1; /* the last byte of the signature */
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    assert_int_equal(kn_wire_write_obj(&o, bad, t.len), 0);
    /* Decodes, so it is accepted for now and handed to the hook. */
    assert_int_equal(kn_repl_receive(net.nodes[1].repl, 0, o.buf, o.len, net.now), 0);
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_int_equal(q.n, 1);
    uint64_t peer = 99;
    int code = 0;
    assert_false(kn_repl_take_fault(net.nodes[1].repl, &peer, &code));
    vq_complete(&q, net.now, false);
    assert_true(kn_repl_take_fault(net.nodes[1].repl, &peer, &code));
    assert_int_equal(peer, 0);
    assert_true(code < 0);
    assert_false(kn_repl_take_fault(net.nodes[1].repl, &peer, &code)); /* reported once */
    /* Whatever it sends next is refused with that code, until the shell drops it. */
    assert_int_equal(kn_repl_receive(net.nodes[1].repl, 0, o.buf, o.len, net.now), code);
    kn_mp_out_free(&o);
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_int_equal(kn_repl_memstore_count(net.nodes[1].mem), 0);
    assert_int_equal(rf_stats(&net, 1).objs_refused, 1);
    /* The genuine object from an honest peer is still taken. */
    assert_int_equal(rf_receive_obj(&net, 1, 2, t.buf, t.len), 0);
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    vq_complete(&q, net.now, false);
    (void)kn_repl_tick(net.nodes[1].repl, net.now);
    assert_true(kn_repl_memstore_has(net.nodes[1].mem, t.id));
    kn_repl_peer_down(net.nodes[1].repl, 0, net.now);
    free(bad);
    rf_obj_free(&t);
    rf_done(&net, 3);
}

/*
 * While the validation backlog from a peer is over verify_backlog_max, no new
 * wants go to it; it never holds more than 4x that; once the batches come
 * back, the catch-up finishes.
 */
/*
 * The backlog bound in objects (verify_backlog_max) or, with by_bytes, in
 * bytes (verify_backlog_bytes, BOUND objects' worth: the objects are all of
 * one size), the other bound out of the way.
 */
static void backlog_pauses_wants(bool by_bytes)
{
    enum { N = 120, BOUND = 8, WINDOW = 16 };
    rf_net net;
    vq q;
    static rf_obj objs[N];
    for (unsigned i = 0; i < N; i++) {
        rf_thread(&objs[i], sk_a, RF_NOW - 1000 * i, 600 + i);
        assert_int_equal(objs[i].len, objs[0].len);
    }
    kn_repl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.verify_backlog_max = by_bytes ? 100000 : BOUND;
    cfg.verify_backlog_bytes = by_bytes ? BOUND * objs[0].len : SIZE_MAX / 8;
    cfg.validate_batch = 4;
    cfg.validate_max_out = 1000;
    cfg.wants_max = WINDOW;
    rf_init(&net, 2, &cfg);
    vq_attach(&net, &q, &cfg);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(kn_repl_publish(net.nodes[0].repl, objs[i].buf, objs[i].len, net.now), 1);
    rf_link(&net, 1, 0);
    /* Deliver and tick for a while without giving any batch back. */
    for (int round = 0; round < 50; round++) {
        while (rf_step(&net, false))
            assert_true(kn_repl_validating(net.nodes[1].repl) <= 4 * BOUND);
        net.now += 10;
        (void)kn_repl_tick(net.nodes[0].repl, net.now);
        (void)kn_repl_tick(net.nodes[1].repl, net.now);
    }
    size_t held = kn_repl_validating(net.nodes[1].repl);
    assert_true(held >= BOUND && held < BOUND + WINDOW + 1);
    size_t wants = rf_stats(&net, 1).wants_out;
    assert_true(wants <= held + WINDOW);
    assert_int_equal(kn_repl_memstore_count(net.nodes[1].mem), 0);
    /* Give the batches back: the window opens again and everything comes. */
    vq_run(&net, &q, 2, 20000);
    assert_int_equal(kn_repl_memstore_count(net.nodes[1].mem), N);
    assert_int_equal(kn_repl_validating(net.nodes[1].repl), 0);
    for (unsigned i = 0; i < N; i++)
        rf_obj_free(&objs[i]);
    rf_done(&net, 2);
}

static void test_backlog_pauses_wants(void **state)
{
    (void)state;
    backlog_pauses_wants(false);
}

/* Big objects: the bound in bytes holds the window before the count does. */
static void test_backlog_bytes_pause_wants(void **state)
{
    (void)state;
    backlog_pauses_wants(true);
}

/* A hook that cannot take a batch: the engine validates it itself at once. */
static void test_refusing_hook_validates_inline(void **state)
{
    (void)state;
    rf_net net;
    vq q;
    rf_obj t;
    kn_repl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    rf_init(&net, 2, NULL);
    vq_attach(&net, &q, &cfg);
    q.refuse = true;
    rf_link(&net, 0, 1);
    rf_run(&net, 2, 100);
    rf_thread(&t, sk_a, RF_NOW, 9);
    assert_int_equal(kn_repl_publish(net.nodes[0].repl, t.buf, t.len, net.now), KN_PUT_STORED);
    rf_run(&net, 2, 100);
    assert_true(kn_repl_memstore_has(net.nodes[1].mem, t.id));
    assert_int_equal(q.taken, 0);
    assert_int_equal(kn_repl_validating(net.nodes[1].repl), 0);
    rf_obj_free(&t);
    rf_done(&net, 2);
}

int main(void)
{
    if (kn_crypto_init() < 0)
        return 1;
    rf_key(sk_a, 0x11);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catch_up_through_hook),
        cmocka_unit_test(test_pending_across_batches),
        cmocka_unit_test(test_bad_signature_is_a_fault),
        cmocka_unit_test(test_backlog_pauses_wants),
        cmocka_unit_test(test_backlog_bytes_pause_wants),
        cmocka_unit_test(test_refusing_hook_validates_inline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
