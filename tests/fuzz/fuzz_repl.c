/*
 * Fuzz target for the replication engine (node/repl.h) as a hostile member
 * sees it: any sequence of application messages from two peers, interleaved
 * with valid signed objects (so the fuzzer gets past the signature check into
 * dedupe, pending and forwarding), ticks of the clock, peers leaving and
 * coming back, and local publishing. The store is the in-memory one the
 * simulator uses.
 *
 * Properties: nothing crashes or leaks; every message the engine sends
 * decodes strictly; a peer whose message the engine refused is disconnected,
 * as the shell does, and the engine goes on with the other.
 *
 * Input: a sequence of operations, each one byte (low 3 bits the operation,
 * the rest its argument) followed by the bytes it consumes; see run().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "crypto.h"
#include "object.h"
#include "repl.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { OPS_MAX = 256, IDS_KEPT = 16, RAW_MAX = 4096 };

static const uint64_t T0 = 1700000000000ull;

static void check(int cond)
{
    if (!cond)
        abort();
}

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

static uint8_t take(input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static size_t take_span(input *in, size_t want, const uint8_t **out)
{
    size_t n = want < in->n ? want : in->n;
    *out = in->p;
    in->p += n;
    in->n -= n;
    return n;
}

static int on_send(void *ctx, uint64_t peer, const uint8_t *msg, size_t len)
{
    (void)ctx;
    (void)peer;
    kn_wire_msg m;
    check(kn_wire_decode(&m, msg, len) == 0); /* the engine only ever sends valid messages */
    return 0;
}

typedef struct world {
    kn_repl_memstore *mem;
    kn_repl *r;
    uint64_t now;
    bool up[3]; /* peers 1 and 2 */
    uint8_t ids[IDS_KEPT][KN_ID]; /* ids of objects made so far, for refs, have and want */
    unsigned nids;
    uint8_t sk[4][64];
} world;

static void keep_id(world *w, const uint8_t id[KN_ID])
{
    memcpy(w->ids[w->nids % IDS_KEPT], id, KN_ID);
    w->nids++;
}

/* A signed thread, or a post whose refs point to a kept id (or the fuzzer's bytes). */
static int make_object(world *w, input *in, bool post, uint8_t **buf, size_t *len)
{
    kn_object_draft d;
    kn_mp_out b;
    char title[16];
    memset(&d, 0, sizeof d);
    uint8_t key = take(in) & 3, when = take(in), tag = take(in);
    d.created = w->now - 60000 + (uint64_t)when * 5000; /* up to ~19 min ahead: some too new */
    d.space = "corona";
    kn_mp_out_init(&b, 0);
    if (post) {
        d.type = KN_T_POST;
        d.nrefs = 2;
        if (w->nids && (tag & 1)) {
            memcpy(d.refs[0], w->ids[tag % (w->nids < IDS_KEPT ? w->nids : IDS_KEPT)], KN_ID);
        } else {
            const uint8_t *ref;
            size_t n = take_span(in, KN_ID, &ref);
            memset(d.refs[0], 0, KN_ID);
            memcpy(d.refs[0], ref, n);
        }
        memcpy(d.refs[1], d.refs[0], KN_ID);
        kn_mp_write_map(&b, 1);
        kn_mp_write_cstr(&b, "body");
        kn_mp_write_cstr(&b, "Antwort");
    } else {
        d.type = KN_T_THREAD;
        snprintf(title, sizeof title, "T%u", tag);
        kn_mp_write_map(&b, 2);
        kn_mp_write_cstr(&b, "body");
        kn_mp_write_cstr(&b, "Frage");
        kn_mp_write_cstr(&b, "title");
        kn_mp_write_cstr(&b, title);
    }
    int rc = kn_mp_out_error(&b);
    if (rc == 0) {
        d.body = b.buf;
        d.body_len = b.len;
        rc = kn_object_sign(&d, w->sk[key], buf, len);
    }
    kn_mp_out_free(&b);
    if (rc == 0) {
        kn_object o;
        check(kn_object_decode(&o, *buf, *len) == 0);
        keep_id(w, o.id);
    }
    return rc;
}

static void deliver(world *w, int peer, const uint8_t *msg, size_t len)
{
    if (!w->up[peer])
        return;
    if (kn_repl_receive(w->r, (uint64_t)peer, msg, len, w->now) < 0) {
        /* The shell disconnects a peer whose message was refused. */
        kn_repl_peer_down(w->r, (uint64_t)peer, w->now);
        w->up[peer] = false;
    }
}

static void run(world *w, input *in)
{
    for (int ops = 0; ops < OPS_MAX && in->n; ops++) {
        uint8_t op = take(in);
        int peer = 1 + ((op >> 3) & 1);
        switch (op & 7) {
        case 0: { /* a raw message */
            const uint8_t *p;
            size_t want = ((size_t)take(in) << 8 | take(in)) % RAW_MAX;
            size_t n = take_span(in, want, &p);
            uint8_t *copy = malloc(n ? n : 1); /* exact size, so ASan sees overreads */
            if (!copy)
                return;
            memcpy(copy, p, n);
            deliver(w, peer, copy, n);
            free(copy);
            break;
        }
        case 1: /* a valid thread in an obj message */
        case 2: { /* a post (its thread may be missing: pending) */
            uint8_t *obj = NULL;
            size_t len = 0;
            kn_mp_out o;
            if (make_object(w, in, (op & 7) == 2, &obj, &len) < 0)
                break;
            if (op & 0x10) {
                /* published locally instead of received */
                int rc = kn_repl_publish(w->r, obj, len, w->now);
                (void)rc; /* refused (too far ahead) or pending: both fine */
            } else {
                kn_mp_out_init(&o, 0);
                if (kn_wire_write_obj(&o, obj, len) == 0)
                    deliver(w, peer, o.buf, o.len);
                kn_mp_out_free(&o);
            }
            free(obj);
            break;
        }
        case 3: /* time passes */
            w->now += (uint64_t)take(in) * 37;
            (void)kn_repl_tick(w->r, w->now);
            break;
        case 4: /* a peer goes, or comes back */
            if (w->up[peer]) {
                kn_repl_peer_down(w->r, (uint64_t)peer, w->now);
                w->up[peer] = false;
            } else if (kn_repl_peer_up(w->r, (uint64_t)peer, (op & 0x10) != 0, w->now) == 0) {
                w->up[peer] = true;
            }
            break;
        case 5: { /* have or want of kept ids */
            uint8_t ids[8][KN_ID];
            unsigned n = 1 + (take(in) & 7), kept = w->nids < IDS_KEPT ? w->nids : IDS_KEPT;
            for (unsigned i = 0; i < n; i++) {
                uint8_t sel = take(in);
                if (kept && !(sel & 0x80))
                    memcpy(ids[i], w->ids[sel % kept], KN_ID);
                else
                    memset(ids[i], sel, KN_ID); /* an id nobody has */
            }
            kn_mp_out o;
            kn_mp_out_init(&o, 0);
            if (kn_wire_write_ids(
                    &o, (op & 0x10) ? KN_WIRE_WANT : KN_WIRE_HAVE, (const uint8_t(*)[KN_ID])ids, n)
                == 0)
                deliver(w, peer, o.buf, o.len);
            kn_mp_out_free(&o);
            break;
        }
        case 6: { /* a neg message with the fuzzer's payload */
            const uint8_t *p;
            uint64_t session = take(in);
            size_t n = take_span(in, ((size_t)take(in) << 8 | take(in)) % RAW_MAX, &p);
            kn_mp_out o;
            kn_mp_out_init(&o, 0);
            if (kn_wire_write_neg(&o, session, p, n) == 0)
                deliver(w, peer, o.buf, o.len);
            kn_mp_out_free(&o);
            break;
        }
        default: { /* hello, with any version */
            kn_mp_out o;
            uint8_t key[KN_KEY];
            memset(key, op, sizeof key);
            kn_mp_out_init(&o, 0);
            if (kn_wire_write_hello(&o, take(in) & 3, key, 0) == 0)
                deliver(w, peer, o.buf, o.len);
            kn_mp_out_free(&o);
            break;
        }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        check(kn_crypto_init() == 0);
        init = 1;
    }
    world w;
    memset(&w, 0, sizeof w);
    w.now = T0;
    for (int i = 0; i < 4; i++) {
        uint8_t pk[32], seed[32];
        memset(seed, 0x30 + i, sizeof seed);
        kn_sign_keypair_from_seed(pk, w.sk[i], seed);
    }
    check(kn_repl_memstore_new(&w.mem) == 0);
    kn_repl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.store = kn_repl_memstore_iface(w.mem);
    cfg.send = on_send;
    cfg.author_objs_per_sec = 5; /* so that the bound and the held queue are reached */
    memset(cfg.node_key, 7, KN_KEY);
    check(kn_repl_new(&w.r, &cfg) == 0);
    w.up[1] = kn_repl_peer_up(w.r, 1, true, w.now) == 0;
    w.up[2] = kn_repl_peer_up(w.r, 2, false, w.now) == 0;
    check(w.up[1] && w.up[2]);
    input in = { data, size };
    run(&w, &in);
    w.now += 100000;
    (void)kn_repl_tick(w.r, w.now);
    kn_repl_free(w.r);
    kn_repl_memstore_free(w.mem);
    return 0;
}
