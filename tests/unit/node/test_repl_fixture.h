/*
 * Helpers shared by the replication tests: signed test objects and a tiny
 * hand-driven network of engines over in-memory stores, whose messages wait
 * in one FIFO until the test delivers them (or drops them). Header-only
 * (static functions) because every tests/unit/<module>/test_*.c is its own binary.
 */
#ifndef KN_TEST_REPL_FIXTURE_H
#define KN_TEST_REPL_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "crypto.h"
#include "object.h"
#include "repl.h"
#include "store.h"
#include "wire.h"

#define RF_NOW 1700000000000ull

typedef struct rf_obj {
    uint8_t *buf;
    size_t len;
    uint8_t id[KN_ID];
} rf_obj;

static inline void rf_key(uint8_t sk[64], uint8_t seed_byte)
{
    uint8_t pk[KN_SIGN_PUBLIC], seed[KN_SIGN_SEED];
    memset(seed, seed_byte, sizeof seed);
    kn_sign_keypair_from_seed(pk, sk, seed);
}

static inline void rf_sign(rf_obj *o, kn_object_draft *d, const uint8_t sk[64], kn_mp_out *body)
{
    assert_int_equal(kn_mp_out_error(body), 0);
    d->body = body->buf;
    d->body_len = body->len;
    int rc = kn_object_sign(d, sk, &o->buf, &o->len);
    if (rc != 0)
        fail_msg("kn_object_sign: %s", kn_errname(rc));
    kn_object v;
    assert_int_equal(kn_object_decode(&v, o->buf, o->len), 0);
    memcpy(o->id, v.id, KN_ID);
    kn_mp_out_free(body);
}

/* A thread whose title is made unique by n. */
static inline void rf_thread(rf_obj *o, const uint8_t sk[64], uint64_t created, unsigned n)
{
    char title[32];
    kn_object_draft d;
    kn_mp_out b;
    memset(&d, 0, sizeof d);
    snprintf(title, sizeof title, "Frage %u", n);
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 2);
    kn_mp_write_cstr(&b, "body");
    kn_mp_write_cstr(&b, "Wie handhaben Sie das?");
    kn_mp_write_cstr(&b, "title");
    kn_mp_write_cstr(&b, title);
    d.type = KN_T_THREAD;
    d.created = created;
    d.space = "corona";
    rf_sign(o, &d, sk, &b);
}

/* A reply to thread: refs [thread, thread]. */
static inline void rf_post(
    rf_obj *o, const uint8_t sk[64], uint64_t created, const uint8_t thread[KN_ID])
{
    kn_object_draft d;
    kn_mp_out b;
    memset(&d, 0, sizeof d);
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 1);
    kn_mp_write_cstr(&b, "body");
    kn_mp_write_cstr(&b, "So machen wir es.");
    d.type = KN_T_POST;
    d.created = created;
    d.space = "corona";
    d.nrefs = 2;
    memcpy(d.refs[0], thread, KN_ID);
    memcpy(d.refs[1], thread, KN_ID);
    rf_sign(o, &d, sk, &b);
}

static inline void rf_obj_free(rf_obj *o)
{
    free(o->buf);
    o->buf = NULL;
}

/* ---- a hand-driven network ---- */

enum { RF_NODES = 4, RF_QUEUE = 4096 };

typedef struct rf_msg {
    int from, to;
    uint8_t *buf;
    size_t len;
} rf_msg;

typedef struct rf_net rf_net;

typedef struct rf_node {
    rf_net *net;
    int index;
    kn_repl_memstore *mem;
    kn_repl *repl;
} rf_node;

struct rf_net {
    rf_node nodes[RF_NODES];
    rf_msg q[RF_QUEUE];
    size_t head, n;
    uint64_t now;
    size_t sent[RF_NODES][KN_WIRE_BYE + 1]; /* messages sent by node, per kind */
    bool tick_after_receive; /* rf_step ticks the receiver (rf_init sets it) */
};

static inline int rf_send(void *ctx, uint64_t peer, const uint8_t *msg, size_t len)
{
    rf_node *nd = ctx;
    rf_net *net = nd->net;
    assert_true(net->n < RF_QUEUE);
    rf_msg *m = &net->q[net->n++];
    m->from = nd->index;
    m->to = (int)peer;
    m->buf = malloc(len);
    memcpy(m->buf, msg, len);
    m->len = len;
    kn_wire_msg w;
    assert_int_equal(kn_wire_decode(&w, msg, len), 0);
    net->sent[nd->index][w.kind]++;
    return 0;
}

static inline void rf_engine(rf_net *net, int i, const kn_repl_config *tmpl)
{
    rf_node *nd = &net->nodes[i];
    kn_repl_config cfg;
    if (tmpl)
        cfg = *tmpl;
    else
        memset(&cfg, 0, sizeof cfg);
    cfg.store = kn_repl_memstore_iface(nd->mem);
    cfg.send = rf_send;
    cfg.send_ctx = nd;
    memset(cfg.node_key, i + 1, KN_KEY);
    assert_int_equal(kn_repl_new(&nd->repl, &cfg), 0);
}

static inline void rf_init(rf_net *net, int nodes, const kn_repl_config *tmpl)
{
    memset(net, 0, sizeof *net);
    assert_int_equal(kn_crypto_init(), 0);
    net->now = RF_NOW;
    net->tick_after_receive = true;
    for (int i = 0; i < nodes; i++) {
        net->nodes[i].net = net;
        net->nodes[i].index = i;
        assert_int_equal(kn_repl_memstore_new(&net->nodes[i].mem), 0);
        rf_engine(net, i, tmpl);
    }
}

/* Connects a and b; a dials (and so runs anti-entropy). */
static inline void rf_link(rf_net *net, int a, int b)
{
    assert_int_equal(kn_repl_peer_up(net->nodes[a].repl, (uint64_t)b, true, net->now), 0);
    assert_int_equal(kn_repl_peer_up(net->nodes[b].repl, (uint64_t)a, false, net->now), 0);
}

static inline void rf_unlink(rf_net *net, int a, int b)
{
    kn_repl_peer_down(net->nodes[a].repl, (uint64_t)b, net->now);
    kn_repl_peer_down(net->nodes[b].repl, (uint64_t)a, net->now);
}

/* Delivers the oldest message; returns false when the queue is empty. */
static inline bool rf_step(rf_net *net, bool drop)
{
    if (net->head == net->n) {
        net->head = net->n = 0;
        return false;
    }
    rf_msg *m = &net->q[net->head++];
    if (!drop) {
        int rc
            = kn_repl_receive(net->nodes[m->to].repl, (uint64_t)m->from, m->buf, m->len, net->now);
        if (rc != 0)
            fail_msg("node %d refused a message from %d: %s", m->to, m->from, kn_errname(rc));
        /* As the shell does after each read: store (and forward) what arrived. */
        if (net->tick_after_receive)
            (void)kn_repl_tick(net->nodes[m->to].repl, net->now);
    }
    free(m->buf);
    return true;
}

/* Delivers until quiet, ticking every engine whenever the queue runs dry, for `ms` of virtual time.
 */
static inline void rf_run(rf_net *net, int nodes, uint64_t ms)
{
    uint64_t end = net->now + ms;
    for (;;) {
        while (rf_step(net, false))
            ;
        if (net->now >= end)
            break;
        net->now += 10;
        for (int i = 0; i < nodes; i++)
            (void)kn_repl_tick(net->nodes[i].repl, net->now);
    }
}

static inline void rf_done(rf_net *net, int nodes)
{
    while (rf_step(net, true))
        ;
    for (int i = 0; i < nodes; i++) {
        kn_repl_free(net->nodes[i].repl);
        kn_repl_memstore_free(net->nodes[i].mem);
    }
}

static inline kn_repl_stats rf_stats(rf_net *net, int i)
{
    kn_repl_stats st;
    kn_repl_get_stats(net->nodes[i].repl, &st);
    return st;
}

/* Node `to` receives one `obj` message carrying buf from peer `from`; kn_repl_receive's result. */
static inline int rf_receive_obj(rf_net *net, int to, uint64_t from, const uint8_t *buf, size_t len)
{
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    assert_int_equal(kn_wire_write_obj(&o, buf, len), 0);
    int rc = kn_repl_receive(net->nodes[to].repl, from, o.buf, o.len, net->now);
    kn_mp_out_free(&o);
    return rc;
}

#endif
