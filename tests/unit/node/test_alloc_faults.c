/*
 * Allocation failures, injected by countdown (SQLite's method): for n = 1, 2,
 * ... the n-th allocation of an operation fails (once, or from then on),
 * until an n is reached that the operation never gets to. Over
 *
 *   - object ingest into LMDB, straight (kn_store_ingest) and through the
 *     replication engine (obj messages, pending objects and their release);
 *   - session handling: a Noise handshake between two kn_sessions and
 *     messages of one to many fragments both ways;
 *   - reconciliation: two engines over LMDB stores with different sets
 *     running Negentropy, fetching and pushing;
 *
 * every run must end without a crash, with the store consistent when opened
 * again (kn_store_check), a batch stored whole or not at all, a session
 * either failed or delivering exactly what was sent, and, once allocations
 * work again, the engines converging. Leaks show in the ASan build, whose
 * leak check runs at exit.
 *
 * How: this binary is linked with -Wl,--wrap=malloc,--wrap=calloc,
 * --wrap=realloc (tests/CMakeLists.txt, for test_*alloc*), so every call our
 * static libraries make goes through __wrap_malloc below. LMDB, libsodium
 * and msgpack-c are shared libraries and allocate unhindered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../store/store_fixture.h"
#include "codec.h"
#include "crypto.h"
#include "frame.h"
#include "identity.h"
#include "object.h"
#include "repl.h"
#include "store.h"
#include "test_support.h"
#include "wire.h"

/* ---- the injector ---- */

static bool fi_armed, fi_persist;
static long fi_count, fi_fail_at, fi_failed;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static bool fi_fail(void)
{
    if (!fi_armed)
        return false;
    long n = ++fi_count;
    if (n == fi_fail_at || (fi_persist && fi_fail_at && n > fi_fail_at)) {
        fi_failed++;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t n)
{
    return fi_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fi_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fi_fail() ? NULL : __real_realloc(p, n);
}

static void fi_arm(long fail_at, bool persist)
{
    fi_count = 0;
    fi_failed = 0;
    fi_fail_at = fail_at;
    fi_persist = persist;
    fi_armed = true;
}

static void fi_disarm(void)
{
    fi_armed = false;
}

/*
 * Runs op(n, persist) for n = 1, 2, ... until a run in which nothing failed
 * (n beyond the operation's allocations); returns how many runs that took.
 * A sanity bound keeps a runaway loop from hanging ctest.
 */
static long countdown(const char *what, void (*op)(long n, bool persist), bool persist)
{
    for (long n = 1;; n++) {
        op(n, persist);
        if (!fi_failed) {
            print_message("%s: %ld allocations, every one failed %s\n", what, n - 1,
                persist ? "from there on" : "once");
            assert_true(n > 1); /* the operation allocates: the injector reached it */
            return n;
        }
        if (n > 200000)
            fail_msg("%s: still failing allocations after %ld runs", what, n);
    }
}

/* ---- fixtures: keys, objects, stores ---- */

enum { NOBJ = 24 };

static uint8_t founder_pk[32], founder_sk[64];
static uint8_t *objs[NOBJ + 1]; /* [0] the network object, then threads and posts */
static size_t lens[NOBJ + 1];
static kn_object views[NOBJ + 1];

static void sign_obj(int i, kn_otype type, const char *title, const uint8_t *ref)
{
    kn_object_draft d;
    kn_mp_out b;
    memset(&d, 0, sizeof d);
    kn_mp_out_init(&b, 0);
    d.type = type;
    d.created = 1700000000000ull + (uint64_t)i * 1000;
    d.space = type == KN_T_NETWORK ? "" : "corona";
    if (type == KN_T_NETWORK) {
        kn_mp_write_map(&b, 2);
        kn_mp_write_cstr(&b, "admit");
        kn_mp_write_uint(&b, 1);
        kn_mp_write_cstr(&b, "name");
        kn_mp_write_cstr(&b, "Testnetz");
    } else if (type == KN_T_THREAD) {
        kn_mp_write_map(&b, 2);
        kn_mp_write_cstr(&b, "body");
        kn_mp_write_cstr(&b, "Wie handhaben Sie das?");
        kn_mp_write_cstr(&b, "title");
        kn_mp_write_cstr(&b, title);
    } else {
        kn_mp_write_map(&b, 1);
        kn_mp_write_cstr(&b, "body");
        kn_mp_write_cstr(&b, "So machen wir es.");
        d.nrefs = 2;
        memcpy(d.refs[0], ref, KN_ID);
        memcpy(d.refs[1], ref, KN_ID);
    }
    assert_int_equal(kn_mp_out_error(&b), 0);
    d.body = b.buf;
    d.body_len = b.len;
    assert_rc(0, kn_object_sign(&d, founder_sk, &objs[i], &lens[i]));
    assert_rc(0, kn_object_decode(&views[i], objs[i], lens[i]));
    kn_mp_out_free(&b);
}

/* The network, then threads; every third object after the first few a post to an earlier thread. */
static int setup_objects(void **state)
{
    (void)state;
    uint8_t seed[32];
    assert_int_equal(kn_crypto_init(), 0);
    memset(seed, 1, sizeof seed);
    kn_sign_keypair_from_seed(founder_pk, founder_sk, seed);
    sign_obj(0, KN_T_NETWORK, NULL, NULL);
    for (int i = 1; i <= NOBJ; i++) {
        char title[32];
        snprintf(title, sizeof title, "Frage %d", i);
        if (i > 3 && i % 3 == 0)
            sign_obj(i, KN_T_POST, NULL, views[i - 2].id);
        else
            sign_obj(i, KN_T_THREAD, title, NULL);
    }
    return 0;
}

static int teardown_objects(void **state)
{
    (void)state;
    for (int i = 0; i <= NOBJ; i++)
        free(objs[i]);
    return 0;
}

/* A fresh store (store_fixture.h) holding the network object. */
static void ts_new(fx_store *t)
{
    fx_init(t, 1 << 20, 0);
    int res = 0;
    assert_rc(0, kn_store_ingest(t->s, &views[0], 1, &res, NULL));
    assert_int_equal(res, KN_PUT_STORED);
}

/* Closes, reopens and checks the store; returns how many objects it holds. */
static uint64_t ts_reopen_check(fx_store *t)
{
    kn_store_check_report r;
    fx_reopen(t);
    int rc = kn_store_check(t->s, &r);
    if (rc != 0)
        fail_msg("store inconsistent after a failed allocation (fail_at %ld): %s, %s", fi_fail_at,
            kn_errname(rc), r.first_problem);
    return r.objects;
}

/* ---- 1. kn_store_ingest: one batch, stored whole or not at all ---- */

static void op_store_ingest(long n, bool persist)
{
    fx_store t;
    int res[NOBJ];
    ts_new(&t);
    /* Posts first, so that some wait as pending and are released within the batch. */
    kn_object batch[NOBJ];
    size_t k = 0;
    for (int i = NOBJ; i >= 1; i--)
        batch[k++] = views[i];
    fi_arm(n, persist);
    int rc = kn_store_ingest(t.s, batch, NOBJ, res, NULL);
    fi_disarm();
    uint64_t held = ts_reopen_check(&t);
    if (rc == 0) {
        assert_int_equal(held, NOBJ + 1);
    } else {
        assert_rc(KN_ENOMEM, rc);
        assert_int_equal(held, 1); /* only the network object: nothing half-written */
    }
    fx_done(&t);
}

static void test_store_ingest(void **state)
{
    (void)state;
    countdown("kn_store_ingest", op_store_ingest, false);
    countdown("kn_store_ingest", op_store_ingest, true);
}

/* ---- 2. the engine: obj messages into LMDB ---- */

static int sink(void *ctx, uint64_t peer, const uint8_t *msg, size_t len)
{
    (void)ctx;
    (void)peer;
    kn_wire_msg m;
    assert_rc(0, kn_wire_decode(&m, msg, len));
    return 0;
}

static kn_repl *engine(kn_store *s, int (*send)(void *, uint64_t, const uint8_t *, size_t),
    void *ctx, uint8_t key_byte)
{
    kn_repl_config cfg;
    kn_repl *r = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.store = kn_repl_store_lmdb(s);
    cfg.send = send;
    cfg.send_ctx = ctx;
    memset(cfg.node_key, key_byte, KN_KEY);
    int rc = kn_repl_new(&r, &cfg);
    return rc == 0 ? r : NULL;
}

static void deliver_all(kn_repl *r, uint64_t now)
{
    for (int i = 1; i <= NOBJ; i++) {
        kn_mp_out o;
        kn_mp_out_init(&o, 0);
        if (kn_wire_write_obj(&o, objs[i], lens[i]) == 0) {
            /* Refused is allowed only as ENOMEM: the peer's object was valid. */
            int rc = kn_repl_receive(r, 1, o.buf, o.len, now);
            assert_true(rc == 0 || rc == KN_ENOMEM);
        }
        kn_mp_out_free(&o);
        if (i % 8 == 0)
            (void)kn_repl_tick(r, now);
    }
    (void)kn_repl_tick(r, now);
}

static void op_engine_ingest(long n, bool persist)
{
    fx_store t;
    uint64_t now = 1700000100000ull;
    ts_new(&t);
    fi_arm(n, persist);
    kn_repl *r = engine(t.s, sink, NULL, 7);
    if (r && kn_repl_peer_up(r, 1, false, now) == 0)
        deliver_all(r, now);
    fi_disarm();
    /* Whatever was lost comes again (as a want or anti-entropy would bring it). */
    if (!r)
        r = engine(t.s, sink, NULL, 7);
    assert_non_null(r);
    if (kn_repl_peer_count(r) == 0)
        assert_rc(0, kn_repl_peer_up(r, 1, false, now));
    deliver_all(r, now + 1000);
    deliver_all(r, now + 2000); /* a post refused once as pending is released now */
    kn_repl_free(r);
    assert_int_equal(ts_reopen_check(&t), NOBJ + 1);
    fx_done(&t);
}

static void test_engine_ingest(void **state)
{
    (void)state;
    countdown("engine ingest", op_engine_ingest, false);
}

/* ---- 3. sessions: handshake and messages ---- */

static const uint64_t NOW = 1700000000000ull;

typedef struct party {
    uint8_t x_priv[32], eph[32];
    kn_identity_statement st;
    kn_session *s;
} party;

static void party_init(party *p, uint8_t seed_byte)
{
    uint8_t seed[32], pk[32], sk[64], x_pub[32];
    memset(seed, seed_byte, sizeof seed);
    kn_sign_keypair_from_seed(pk, sk, seed);
    memset(p->x_priv, seed_byte + 1, 32);
    memset(p->eph, seed_byte + 2, 32);
    kn_x25519_base(x_pub, p->x_priv);
    kn_identity_sign(&p->st, pk, sk, x_pub, NOW + 3600000);
    p->s = NULL;
}

/* Moves b's pending output into a; 0, or the feed's error. */
static int pump(party *from, party *to)
{
    const uint8_t *out;
    size_t len;
    kn_session_pending_output(from->s, &out, &len);
    if (!len)
        return 0;
    uint8_t *copy = __real_malloc(len); /* the wire: not our code's allocation */
    assert_non_null(copy);
    memcpy(copy, out, len);
    kn_session_consume_output(from->s, len);
    int rc = kn_session_feed(to->s, copy, len, NOW + 1);
    free(copy);
    return rc;
}

static uint8_t *big; /* a message of many fragments */
enum { BIG = 200000 };

static void op_session(long n, bool persist)
{
    party a, b;
    uint8_t netkey[32];
    memset(netkey, 0x42, sizeof netkey);
    party_init(&a, 1);
    party_init(&b, 9);
    fi_arm(n, persist);
    int rc = kn_session_new(&a.s, KN_NOISE_INITIATOR, netkey, a.x_priv, &a.st, a.eph, NOW);
    if (rc == 0)
        rc = kn_session_new(&b.s, KN_NOISE_RESPONDER, netkey, b.x_priv, &b.st, b.eph, NOW);
    if (rc == 0)
        rc = kn_session_start(a.s);
    for (int i = 0; rc == 0 && i < 3; i++)
        if ((rc = pump(&a, &b)) == 0)
            rc = pump(&b, &a);
    if (rc == 0) {
        assert_int_equal(kn_session_state(a.s), KN_SESSION_ESTABLISHED);
        assert_int_equal(kn_session_state(b.s), KN_SESSION_ESTABLISHED);
    }
    /* Messages both ways; whatever arrives is exactly what was sent, in order. */
    static const char *small[] = { "eins", "zwei", "drei" };
    for (int i = 0; rc == 0 && i < 4; i++) {
        const uint8_t *m = i < 3 ? (const uint8_t *)small[i] : big;
        size_t len = i < 3 ? strlen(small[i]) : BIG;
        party *from = i % 2 ? &b : &a, *to = i % 2 ? &a : &b;
        if ((rc = kn_session_send(from->s, m, len)) < 0 || (rc = pump(from, to)) < 0)
            break;
        const uint8_t *got;
        size_t glen;
        if (kn_session_next_message(to->s, &got, &glen) != 1)
            fail_msg("fail_at %ld: message %d sent without error but not received", n, i);
        assert_int_equal(glen, len);
        assert_memory_equal(got, m, len);
    }
    fi_disarm();
    if (rc < 0)
        assert_true(rc == KN_ENOMEM || (a.s && kn_session_state(a.s) == KN_SESSION_FAILED)
            || (b.s && kn_session_state(b.s) == KN_SESSION_FAILED));
    kn_session_free(a.s);
    kn_session_free(b.s);
}

static void test_session(void **state)
{
    (void)state;
    big = __real_malloc(BIG);
    assert_non_null(big);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (uint8_t)(i * 131 + 7);
    countdown("session", op_session, false);
    countdown("session", op_session, true);
    free(big);
}

/* ---- 4. reconciliation between two engines over LMDB ---- */

typedef struct qmsg {
    int to;
    uint8_t *buf;
    size_t len;
} qmsg;

typedef struct pair pair;

typedef struct side_ctx {
    pair *p;
    int i;
} side_ctx;

struct pair {
    fx_store st[2];
    kn_repl *r[2];
    qmsg q[4096];
    size_t head, n;
    side_ctx side[2];
};

static int pair_send(void *ctx, uint64_t peer, const uint8_t *msg, size_t len)
{
    pair *p = ((side_ctx *)ctx)->p;
    if (p->n == sizeof p->q / sizeof p->q[0])
        return KN_ELIMIT; /* the link is saturated: as a closing connection */
    uint8_t *copy = __real_malloc(len ? len : 1); /* in flight on the wire */
    assert_non_null(copy);
    memcpy(copy, msg, len);
    p->q[p->n++] = (qmsg) { (int)peer, copy, len };
    return 0;
}

/* Delivers queued messages; a refused one ends the link as the shell would. */
static void pair_run(pair *p, uint64_t *now, int rounds)
{
    for (int round = 0; round < rounds; round++) {
        while (p->head < p->n) {
            qmsg m = p->q[p->head++];
            kn_repl *to = p->r[m.to];
            if (to && kn_repl_peer_count(to) > 0) {
                /* A refusal here is an injected ENOMEM; the periodic round repairs it. */
                int rc = kn_repl_receive(to, (uint64_t)(1 - m.to), m.buf, m.len, *now);
                assert_true(rc == 0 || rc == KN_ENOMEM);
            }
            free(m.buf);
        }
        p->head = p->n = 0;
        *now += 250;
        for (int i = 0; i < 2; i++)
            if (p->r[i])
                (void)kn_repl_tick(p->r[i], *now);
    }
}

static void pair_link(pair *p, uint64_t now)
{
    for (int i = 0; i < 2; i++) {
        if (!p->r[i])
            p->r[i] = engine(p->st[i].s, pair_send, &p->side[i], (uint8_t)(i + 1));
        if (p->r[i] && kn_repl_peer_count(p->r[i]) == 0) {
            int rc = kn_repl_peer_up(p->r[i], (uint64_t)(1 - i), i == 0, now);
            assert_true(rc == 0 || rc == KN_ENOMEM);
        }
    }
}

static void op_reconcile(long n, bool persist)
{
    pair *p = __real_calloc(1, sizeof *p);
    uint64_t now = 1700000100000ull;
    assert_non_null(p);
    for (int i = 0; i < 2; i++)
        p->side[i] = (side_ctx) { p, i };
    /* a holds threads 1..16, b holds 9..24: each lacks 8 the other has. */
    for (int i = 0; i < 2; i++) {
        ts_new(&p->st[i]);
        kn_object batch[NOBJ];
        int res[NOBJ];
        size_t k = 0;
        for (int j = i ? 9 : 1; j <= (i ? NOBJ : 16); j++)
            batch[k++] = views[j];
        assert_rc(0, kn_store_ingest(p->st[i].s, batch, k, res, NULL));
    }
    fi_arm(n, persist);
    pair_link(p, now);
    pair_run(p, &now, 12);
    fi_disarm();
    /*
     * Allocations work again. A link whose engine failed to start, or whose
     * session stalled, is set up again (a reconnect); the next periodic
     * round (60 s) repairs what is still missing.
     */
    pair_link(p, now);
    pair_run(p, &now, 8);
    now += 61000;
    pair_run(p, &now, 12);
    for (int i = 0; i < 2; i++) {
        kn_repl_free(p->r[i]);
        p->r[i] = NULL;
    }
    for (size_t i = p->head; i < p->n; i++)
        free(p->q[i].buf);
    for (int i = 0; i < 2; i++) {
        uint64_t held = ts_reopen_check(&p->st[i]);
        if (held != NOBJ + 1)
            fail_msg("fail_at %ld: store %d holds %llu objects after recovery, want %d", n, i,
                (unsigned long long)held, NOBJ + 1);
        fx_done(&p->st[i]);
    }
    free(p);
}

static void test_reconcile(void **state)
{
    (void)state;
    countdown("reconciliation", op_reconcile, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_ingest),
        cmocka_unit_test(test_engine_ingest),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_reconcile),
    };
    return cmocka_run_group_tests(tests, setup_objects, teardown_objects);
}
