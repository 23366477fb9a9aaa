/*
 * The blob fetch engine (node/blobfetch.h) on a hand-driven network of
 * engines over in-memory blob stores: whole files arrive byte-identical
 * (empty, one chunk, many, a manifest of several pages), through a relay,
 * from several peers at once; a corrupt peer is dropped for that blob and
 * reported; a restart or a lost peer costs only what was in flight; a peer
 * that stalls loses its requests; serving waits for the transport; requests
 * beyond the bounds and answers nobody asked for are refused. With a store
 * that writes beside the engine (put_batch_start, as the node's writer
 * thread does), chunks count only once written, requests go on meanwhile,
 * and memory stays bounded while the store is slow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "blobfetch.h"
#include "codec.h"
#include "crypto.h"
#include "wire.h"

#define NOW0 1700000000000ull
#define CH KN_BLOBFETCH_CHUNK

enum { NODES = 4 };

typedef struct msg {
    int from, to;
    uint8_t *buf;
    size_t len;
} msg;

typedef struct net net;

/* A store write under way (put_batch_start): copies of everything but the chunk bytes. */
typedef struct wjob {
    kn_blobfetch_manifest m[KN_BLOBFETCH_BATCH_MAX];
    kn_blobfetch_chunk c[KN_BLOBFETCH_BATCH_MAX];
    uint8_t ids[2 * KN_BLOBFETCH_BATCH_MAX][KN_ID], hashes[KN_BLOBFETCH_BATCH_MAX][KN_ID];
    uint8_t *mh[KN_BLOBFETCH_BATCH_MAX];
    size_t nm, nc;
    uint64_t due; /* when it finishes (virtual time); UINT64_MAX: not before it is let go */
} wjob;

typedef struct node {
    net *nt;
    int index;
    kn_blobfetch_memstore *mem;
    kn_blobfetch *f;
    kn_blobfetch_config cfg;
    size_t queued; /* what the fake transport reports as held for every peer */
    bool no_batch; /* the store has no put_batch: manifests are written on their own */
    uint64_t async_ms; /* not 0: writes run beside the engine and take this long */
    wjob *job; /* the write under way */
    unsigned writes; /* writes started */
    size_t sent[KN_WIRE_BLOB_NONE + 1];
} node;

struct net {
    node nodes[NODES];
    msg *q;
    size_t head, n, cap;
    uint64_t now;
    bool cut[NODES][NODES]; /* messages from a to b are dropped */
};

static int t_send(void *ctx, uint64_t peer, const uint8_t *m, size_t len)
{
    node *nd = ctx;
    net *nt = nd->nt;
    kn_wire_msg w;
    assert_int_equal(kn_wire_decode(&w, m, len), 0);
    nd->sent[w.kind]++;
    if (nt->cut[nd->index][peer])
        return 0;
    if (nt->n == nt->cap) {
        nt->cap = nt->cap ? nt->cap * 2 : 64;
        nt->q = realloc(nt->q, nt->cap * sizeof *nt->q);
        assert_non_null(nt->q);
    }
    msg *q = &nt->q[nt->n++];
    q->from = nd->index;
    q->to = (int)peer;
    q->buf = malloc(len);
    memcpy(q->buf, m, len);
    q->len = len;
    return 0;
}

static size_t t_queued(void *ctx, uint64_t peer)
{
    (void)peer;
    return ((node *)ctx)->queued;
}

static int t_start(
    void *ctx, const kn_blobfetch_manifest *m, size_t nm, const kn_blobfetch_chunk *c, size_t nc)
{
    node *nd = ctx;
    assert_null(nd->job); /* one write at a time */
    assert_true(nc <= KN_BLOBFETCH_BATCH_MAX && nm <= KN_BLOBFETCH_BATCH_MAX);
    wjob *j = calloc(1, sizeof *j);
    assert_non_null(j);
    for (size_t i = 0; i < nm; i++) {
        memcpy(j->ids[i], m[i].blob, KN_ID);
        j->mh[i] = malloc((size_t)m[i].n * KN_ID + 1);
        memcpy(j->mh[i], m[i].hashes, (size_t)m[i].n * KN_ID);
        j->m[i] = (kn_blobfetch_manifest) { j->ids[i], m[i].size, (const uint8_t(*)[KN_ID])j->mh[i],
            m[i].n };
    }
    for (size_t i = 0; i < nc; i++) {
        memcpy(j->ids[KN_BLOBFETCH_BATCH_MAX + i], c[i].blob, KN_ID);
        memcpy(j->hashes[i], c[i].hash, KN_ID);
        j->c[i] = c[i];
        j->c[i].blob = j->ids[KN_BLOBFETCH_BATCH_MAX + i];
        j->c[i].hash = j->hashes[i];
    }
    j->nm = nm;
    j->nc = nc;
    j->due = nd->nt->now + nd->async_ms;
    nd->job = j;
    nd->writes++;
    return 0;
}

static void job_free(wjob *j)
{
    for (size_t i = 0; j && i < j->nm; i++)
        free(j->mh[i]);
    free(j);
}

/* Finishes node i's write under way if it is due: stored now, and the engine told. */
static void write_finish(net *nt, int i)
{
    node *nd = &nt->nodes[i];
    wjob *j = nd->job;
    if (!j || nt->now < j->due)
        return;
    kn_blobfetch_store st = kn_blobfetch_memstore_iface(nd->mem);
    int rc = st.put_batch(st.ctx, j->m, j->nm, j->c, j->nc);
    nd->job = NULL;
    job_free(j);
    kn_blobfetch_written(nd->f, rc, nt->now);
}

static void engine(net *nt, int i)
{
    node *nd = &nt->nodes[i];
    kn_blobfetch_config cfg = nd->cfg;
    cfg.store = kn_blobfetch_memstore_iface(nd->mem);
    if (nd->no_batch)
        cfg.store.put_batch = NULL;
    if (nd->async_ms) {
        cfg.store.put_batch_start = t_start;
        cfg.store.start_ctx = nd;
    }
    cfg.send = t_send;
    cfg.send_ctx = nd;
    cfg.queued = t_queued;
    assert_int_equal(kn_blobfetch_new(&nd->f, &cfg), 0);
}

static void net_init(net *nt, int nodes)
{
    memset(nt, 0, sizeof *nt);
    assert_int_equal(kn_crypto_init(), 0);
    nt->now = NOW0;
    for (int i = 0; i < nodes; i++) {
        nt->nodes[i].nt = nt;
        nt->nodes[i].index = i;
        assert_int_equal(kn_blobfetch_memstore_new(&nt->nodes[i].mem), 0);
    }
}

static void net_start(net *nt, int nodes)
{
    for (int i = 0; i < nodes; i++)
        engine(nt, i);
}

static void link_up(net *nt, int a, int b)
{
    assert_int_equal(kn_blobfetch_peer_up(nt->nodes[a].f, (uint64_t)b, nt->now), 0);
    assert_int_equal(kn_blobfetch_peer_up(nt->nodes[b].f, (uint64_t)a, nt->now), 0);
}

static void link_down(net *nt, int a, int b)
{
    kn_blobfetch_peer_down(nt->nodes[a].f, (uint64_t)b, nt->now);
    kn_blobfetch_peer_down(nt->nodes[b].f, (uint64_t)a, nt->now);
}

/* Delivers the oldest message (returning what the receiver said), or KN_ENOTFOUND if none. */
static int step(net *nt, bool drop)
{
    if (nt->head == nt->n) {
        nt->head = nt->n = 0;
        return KN_ENOTFOUND;
    }
    msg *m = &nt->q[nt->head++];
    int rc = 0;
    if (!drop && !nt->cut[m->from][m->to] && nt->nodes[m->to].f) {
        kn_wire_msg w;
        assert_int_equal(kn_wire_decode(&w, m->buf, m->len), 0);
        rc = kn_blobfetch_receive(nt->nodes[m->to].f, (uint64_t)m->from, &w, nt->now);
    }
    free(m->buf);
    return rc;
}

/* Delivers everything (every refusal fails the test), ticking each engine, for ms of time. */
static void run(net *nt, int nodes, uint64_t ms)
{
    uint64_t end = nt->now + ms;
    for (;;) {
        int rc;
        while ((rc = step(nt, false)) != KN_ENOTFOUND)
            if (rc != 0)
                fail_msg("a message was refused: %s", kn_errname(rc));
        for (int i = 0; i < nodes; i++)
            if (nt->nodes[i].f) {
                write_finish(nt, i);
                (void)kn_blobfetch_tick(nt->nodes[i].f, nt->now);
            }
        if (nt->head == nt->n && nt->now >= end)
            break;
        if (nt->head == nt->n)
            nt->now += 10;
    }
}

static void net_done(net *nt, int nodes)
{
    while (step(nt, true) != KN_ENOTFOUND)
        ;
    for (int i = 0; i < nodes; i++) {
        job_free(nt->nodes[i].job); /* first, as the node's writer is stopped first */
        kn_blobfetch_free(nt->nodes[i].f);
        kn_blobfetch_memstore_free(nt->nodes[i].mem);
    }
    free(nt->q);
}

static uint8_t *make_data(size_t len, uint32_t seed)
{
    uint8_t *d = malloc(len + 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        d[i] = (uint8_t)x;
    }
    return d;
}

/* A file of len bytes (from seed) that the nodes in `holders` hold and those in `wanters` want. */
static uint8_t *share(
    net *nt, size_t len, uint32_t seed, unsigned holders, unsigned wanters, uint8_t blob[KN_ID])
{
    uint8_t *data = make_data(len, seed);
    for (int i = 0; i < NODES; i++)
        if (holders >> i & 1)
            assert_int_equal(kn_blobfetch_memstore_add(nt->nodes[i].mem, data, len, blob), 0);
    for (int i = 0; i < NODES; i++)
        if (wanters >> i & 1)
            assert_int_equal(kn_blobfetch_memstore_want(nt->nodes[i].mem, blob, len), 0);
    return data;
}

/* Checks that node i holds blob complete with exactly data. */
static void assert_holds(net *nt, int i, const uint8_t blob[KN_ID], const uint8_t *data, size_t len)
{
    uint8_t *buf = malloc(len + 1);
    int64_t got = kn_blobfetch_memstore_read(nt->nodes[i].mem, blob, buf, len + 1);
    if (got != (int64_t)len)
        fail_msg("node %d: read gives %lld, expected %zu bytes", i, (long long)got, len);
    if (len)
        assert_memory_equal(buf, data, len);
    free(buf);
}

static bool done_event(kn_blobfetch *f, kn_blobfetch_event *ev)
{
    while (kn_blobfetch_take_event(f, ev))
        if (ev->kind == KN_BLOBFETCH_DONE)
            return true;
    return false;
}

static void test_one_file(void **state)
{
    (void)state;
    const size_t sizes[] = { 0, 1, CH - 1, CH, CH + 1, 21 * CH + 123, 70 * CH + 1 };
    enum { NSIZES = sizeof sizes / sizeof sizes[0] };
    for (size_t k = 0; k < 2 * NSIZES; k++) {
        net nt;
        net_init(&nt, 2);
        nt.nodes[1].no_batch = k >= NSIZES; /* the second round without put_batch */
        uint8_t blob[KN_ID];
        size_t size = sizes[k % NSIZES];
        uint8_t *data = share(&nt, size, (uint32_t)k, 1u << 0, 1u << 1, blob);
        net_start(&nt, 2);
        link_up(&nt, 0, 1);
        run(&nt, 2, 100);
        assert_holds(&nt, 1, blob, data, size);
        kn_blobfetch_event ev;
        assert_true(done_event(nt.nodes[1].f, &ev));
        assert_memory_equal(ev.blob, blob, KN_ID);
        assert_int_equal(ev.chunks, kn_blobfetch_chunks(size));
        assert_int_equal(ev.fetched, ev.chunks);
        assert_int_equal(ev.had, 0);
        /* Chunks are written in batches, not one store write each. */
        uint64_t calls, chunks;
        kn_blobfetch_memstore_counts(nt.nodes[1].mem, &calls, &chunks);
        assert_int_equal(chunks, ev.chunks);
        if (ev.chunks > 16)
            assert_true(calls <= ev.chunks / 4);
        /* The sender told the receiver nothing it did not ask for, and served every chunk once. */
        kn_blobfetch_peer_stats st;
        assert_int_equal(kn_blobfetch_peer_get_stats(nt.nodes[0].f, 1, &st), 0);
        assert_int_equal(st.chunks_out, ev.chunks);
        assert_int_equal(st.corrupt, 0);
        /* Complete: nothing is wanted any more, and the receiver announced it. */
        kn_blobfetch_progress pr;
        kn_blobfetch_get_progress(nt.nodes[1].f, &pr);
        assert_int_equal(pr.wanted, 0);
        assert_int_equal(pr.completed, 1);
        assert_int_equal(nt.nodes[1].sent[KN_WIRE_BLOB_HAVE], 1);
        if (size == 0)
            assert_int_equal(nt.nodes[1].sent[KN_WIRE_MANIFEST_WANT], 0);
        free(data);
        net_done(&nt, 2);
    }
}

/*
 * A manifest of 1,500 chunks comes in two pages; the sender holds only the
 * first few chunks (as a peer still fetching it would), and is asked for the
 * rest again only after a pause.
 */
static void test_manifest_pages(void **state)
{
    (void)state;
    enum { N = 1500, HAVE = 5 };
    net nt;
    net_init(&nt, 2);
    uint64_t size = (uint64_t)N * CH - 7;
    uint8_t *zero = calloc(1, CH);
    uint8_t(*h)[KN_ID] = malloc((size_t)N * KN_ID);
    kn_blake2b(h[0], KN_ID, zero, CH);
    for (int i = 1; i < N - 1; i++)
        memcpy(h[i], h[0], KN_ID);
    kn_blake2b(h[N - 1], KN_ID, zero, CH - 7);
    uint8_t blob[KN_ID];
    kn_blobfetch_blob_id((const uint8_t(*)[KN_ID])h, N, blob);
    kn_blobfetch_store s0 = kn_blobfetch_memstore_iface(nt.nodes[0].mem);
    assert_int_equal(s0.manifest_put(s0.ctx, blob, size, (const uint8_t(*)[KN_ID])h, N), 0);
    kn_blobfetch_chunk c[HAVE];
    for (int i = 0; i < HAVE; i++)
        c[i] = (kn_blobfetch_chunk) { blob, (uint32_t)i, h[0], zero, CH };
    assert_int_equal(s0.put_chunks(s0.ctx, c, HAVE), 0);
    assert_int_equal(kn_blobfetch_memstore_want(nt.nodes[1].mem, blob, size), 0);
    net_start(&nt, 2);
    link_up(&nt, 0, 1);
    run(&nt, 2, 500);
    assert_int_equal(nt.nodes[1].sent[KN_WIRE_MANIFEST_WANT], 2);
    kn_blobfetch_store s1 = kn_blobfetch_memstore_iface(nt.nodes[1].mem);
    uint64_t got_size;
    uint32_t got_n;
    uint8_t(*got)[KN_ID] = NULL;
    assert_int_equal(s1.manifest_get(s1.ctx, blob, &got_size, &got, &got_n), 0);
    assert_int_equal(got_n, N);
    assert_true(got_size == size);
    assert_memory_equal(got, h, (size_t)N * KN_ID);
    /* The sender's chunks came; for the rest it said blob-none and is asked again later. */
    assert_int_equal(kn_blobfetch_memstore_chunks(nt.nodes[1].mem, blob), HAVE);
    assert_true(nt.nodes[0].sent[KN_WIRE_BLOB_NONE] >= 1);
    size_t wants = nt.nodes[1].sent[KN_WIRE_BLOB_WANT];
    run(&nt, 2, 200);
    assert_int_equal(nt.nodes[1].sent[KN_WIRE_BLOB_WANT], wants); /* backing off */
    run(&nt, 2, 1500);
    assert_true(nt.nodes[1].sent[KN_WIRE_BLOB_WANT] > wants); /* asked again */
    free(got);
    free(h);
    free(zero);
    net_done(&nt, 2);
}

/*
 * A holder with holes (every other chunk, as a peer that fetched out of order
 * may have): its answers interleave chunks and blob-none, each a message of
 * its own (t_send decodes every message), and another holder fills the holes.
 */
static void test_holes(void **state)
{
    (void)state;
    net nt;
    net_init(&nt, 3);
    size_t len = 20 * CH;
    uint8_t blob[KN_ID];
    uint8_t *data = share(&nt, len, 13, 1u << 2, 1u << 1, blob);
    kn_blobfetch_store s0 = kn_blobfetch_memstore_iface(nt.nodes[0].mem);
    kn_blobfetch_store s2 = kn_blobfetch_memstore_iface(nt.nodes[2].mem);
    uint64_t size;
    uint32_t n;
    uint8_t(*h)[KN_ID] = NULL;
    assert_int_equal(s2.manifest_get(s2.ctx, blob, &size, &h, &n), 0);
    assert_int_equal(s0.manifest_put(s0.ctx, blob, size, (const uint8_t(*)[KN_ID])h, n), 0);
    for (uint32_t i = 0; i < n; i += 2) {
        kn_blobfetch_chunk c = { blob, i, h[i], data + (size_t)i * CH, CH };
        assert_int_equal(s0.put_chunks(s0.ctx, &c, 1), 0);
    }
    net_start(&nt, 3);
    link_up(&nt, 1, 0); /* only the holder with holes at first */
    run(&nt, 3, 500);
    assert_int_equal(kn_blobfetch_memstore_chunks(nt.nodes[1].mem, blob), 10);
    assert_true(nt.nodes[0].sent[KN_WIRE_BLOB_NONE] >= 1);
    link_up(&nt, 1, 2);
    run(&nt, 3, 2000);
    assert_holds(&nt, 1, blob, data, len);
    free(h);
    free(data);
    net_done(&nt, 3);
}

/* a - b - c: c gets a's file through b, which fetches it too; both serve what they hold. */
static void test_chain_and_spread(void **state)
{
    (void)state;
    net nt;
    net_init(&nt, 4);
    size_t len = 40 * CH + 5;
    uint8_t blob[KN_ID];
    uint8_t *data = share(&nt, len, 7, 1u << 0, 0xeu, blob);
    net_start(&nt, 4);
    link_up(&nt, 0, 1);
    link_up(&nt, 1, 2);
    run(&nt, 4, 5000);
    assert_holds(&nt, 1, blob, data, len);
    assert_holds(&nt, 2, blob, data, len);
    /* d joins with two holders: its requests are spread over both. */
    link_up(&nt, 3, 0);
    link_up(&nt, 3, 2);
    run(&nt, 4, 100);
    assert_holds(&nt, 3, blob, data, len);
    kn_blobfetch_peer_stats s30, s32;
    assert_int_equal(kn_blobfetch_peer_get_stats(nt.nodes[3].f, 0, &s30), 0);
    assert_int_equal(kn_blobfetch_peer_get_stats(nt.nodes[3].f, 2, &s32), 0);
    assert_int_equal(s30.chunks_in + s32.chunks_in, 41);
    assert_true(s30.chunks_in >= 10 && s32.chunks_in >= 10);
    free(data);
    net_done(&nt, 4);
}

/* A peer that corrupts every chunk: nothing bad is stored, a good peer gives all, it is reported.
 */
static void test_corrupt_peer(void **state)
{
    (void)state;
    net nt;
    net_init(&nt, 3);
    size_t len = 30 * CH;
    uint8_t blob[KN_ID];
    uint8_t *data = share(&nt, len, 3, 1u << 0 | 1u << 2, 1u << 1, blob);
    nt.nodes[0].cfg.test_corrupt_served = true;
    net_start(&nt, 3);
    link_up(&nt, 1, 0);
    link_up(&nt, 1, 2);
    run(&nt, 3, 100);
    assert_holds(&nt, 1, blob, data, len);
    kn_blobfetch_peer_stats bad, good;
    assert_int_equal(kn_blobfetch_peer_get_stats(nt.nodes[1].f, 0, &bad), 0);
    assert_int_equal(kn_blobfetch_peer_get_stats(nt.nodes[1].f, 2, &good), 0);
    assert_true(bad.corrupt >= 1);
    assert_int_equal(bad.chunks_in, 0);
    assert_int_equal(good.chunks_in, 30);
    kn_blobfetch_event ev;
    bool seen = false;
    while (kn_blobfetch_take_event(nt.nodes[1].f, &ev))
        seen |= ev.kind == KN_BLOBFETCH_CORRUPT && ev.peer == 0;
    assert_true(seen);
    /* With the default of 3, it sent enough corrupt chunks (all it was asked) to be a fault. */
    uint64_t peer;
    if (bad.corrupt >= 3) {
        assert_true(kn_blobfetch_take_fault(nt.nodes[1].f, &peer));
        assert_int_equal(peer, 0);
    }
    assert_false(kn_blobfetch_take_fault(nt.nodes[1].f, &peer));
    free(data);
    net_done(&nt, 3);
}

/* A distrusted peer (corrupt before) is asked only when no other peer can give the file. */
static void test_distrust(void **state)
{
    (void)state;
    net nt;
    net_init(&nt, 3);
    size_t len = 12 * CH;
    uint8_t blob[KN_ID];
    uint8_t *data = share(&nt, len, 14, 1u << 0 | 1u << 2, 1u << 1, blob);
    net_start(&nt, 3);
    link_up(&nt, 1, 0);
    link_up(&nt, 1, 2);
    assert_int_equal(kn_blobfetch_peer_distrust(nt.nodes[1].f, 0), 0);
    assert_int_equal(kn_blobfetch_peer_distrust(nt.nodes[1].f, 7), KN_ENOTFOUND);
    run(&nt, 3, 100);
    assert_holds(&nt, 1, blob, data, len);
    kn_blobfetch_peer_stats s0, s2;
    assert_int_equal(kn_blobfetch_peer_get_stats(nt.nodes[1].f, 0, &s0), 0);
    assert_int_equal(kn_blobfetch_peer_get_stats(nt.nodes[1].f, 2, &s2), 0);
    assert_int_equal(s0.chunks_in, 0);
    assert_int_equal(s2.chunks_in, 12);
    /* Alone, it is asked after all. */
    uint8_t blob2[KN_ID];
    uint8_t *data2 = share(&nt, 3 * CH, 15, 1u << 0, 1u << 1, blob2);
    kn_blobfetch_rescan(nt.nodes[1].f);
    link_down(&nt, 1, 2);
    run(&nt, 3, 100);
    assert_holds(&nt, 1, blob2, data2, 3 * CH);
    free(data);
    free(data2);
    net_done(&nt, 3);
}

/* Only corrupt peers: nothing is stored, and each is reported once it reaches bad_max. */
static void test_corrupt_only(void **state)
{
    (void)state;
    net nt;
    net_init(&nt, 2);
    size_t len = 8 * CH;
    uint8_t blob[KN_ID];
    uint8_t *data = share(&nt, len, 4, 1u << 0, 1u << 1, blob);
    nt.nodes[0].cfg.test_corrupt_served = true;
    net_start(&nt, 2);
    link_up(&nt, 1, 0);
    run(&nt, 2, 100);
    assert_int_equal(kn_blobfetch_memstore_chunks(nt.nodes[1].mem, blob), 0);
    uint64_t peer;
    assert_true(kn_blobfetch_take_fault(nt.nodes[1].f, &peer));
    assert_int_equal(peer, 0);
    /* It is not asked for this blob again on this connection. */
    size_t wants = nt.nodes[1].sent[KN_WIRE_BLOB_WANT];
    run(&nt, 2, 5000);
    assert_int_equal(nt.nodes[1].sent[KN_WIRE_BLOB_WANT], wants);
    free(data);
    net_done(&nt, 2);
}

/*
 * The transfer is cut half-way (the link drops), the fetching engine is
 * restarted over the same store, and the rest comes: chunks are fetched
 * once, whatever was in flight excepted.
 */
static void test_resume(void **state)
{
    (void)state;
    net nt;
    net_init(&nt, 2);
    size_t len = 64 * CH;
    uint8_t blob[KN_ID];
    uint8_t *data = share(&nt, len, 5, 1u << 0, 1u << 1, blob);
    nt.nodes[1].cfg.peer_inflight = 4;
    nt.nodes[1].cfg.inbox_max = 4;
    net_start(&nt, 2);
    link_up(&nt, 0, 1);
    /* Deliver messages one at a time until a third is stored. */
    for (int guard = 0; guard < 100000; guard++) {
        if (kn_blobfetch_memstore_chunks(nt.nodes[1].mem, blob) >= 20)
            break;
        if (step(&nt, false) == KN_ENOTFOUND) {
            (void)kn_blobfetch_tick(nt.nodes[0].f, nt.now);
            (void)kn_blobfetch_tick(nt.nodes[1].f, nt.now);
        }
    }
    uint32_t before = kn_blobfetch_memstore_chunks(nt.nodes[1].mem, blob);
    assert_true(before >= 20 && before < 64);
    /* The connection and the process die: what is in flight is lost. */
    link_down(&nt, 0, 1);
    while (step(&nt, true) != KN_ENOTFOUND)
        ;
    kn_blobfetch_free(nt.nodes[1].f);
    nt.nodes[1].f = NULL;
    engine(&nt, 1);
    link_up(&nt, 0, 1);
    run(&nt, 2, 100);
    assert_holds(&nt, 1, blob, data, len);
    kn_blobfetch_event ev;
    assert_true(done_event(nt.nodes[1].f, &ev));
    assert_int_equal(ev.had, before);
    assert_int_equal(ev.fetched, 64 - before);
    uint64_t calls, chunks;
    kn_blobfetch_memstore_counts(nt.nodes[1].mem, &calls, &chunks);
    assert_int_equal(chunks, 64);
    free(data);
    net_done(&nt, 2);
}

/* A peer that stops answering loses its requests to another after stall_ms. */
static void test_stall(void **state)
{
    (void)state;
    net nt;
    net_init(&nt, 3);
    size_t len = 10 * CH;
    uint8_t blob[KN_ID];
    uint8_t *data = share(&nt, len, 6, 1u << 0 | 1u << 2, 1u << 1, blob);
    nt.nodes[1].cfg.stall_ms = 3000;
    net_start(&nt, 3);
    link_up(&nt, 1, 0);
    link_up(&nt, 1, 2);
    nt.cut[0][1] = true; /* 0 hears us but its answers are lost */
    run(&nt, 3, 1000);
    uint32_t early = kn_blobfetch_memstore_chunks(nt.nodes[1].mem, blob);
    assert_true(early < 10); /* part of it was asked of 0 */
    run(&nt, 3, 3000);
    assert_holds(&nt, 1, blob, data, len);
    kn_blobfetch_event ev;
    bool stalled = false;
    while (kn_blobfetch_take_event(nt.nodes[1].f, &ev))
        stalled |= ev.kind == KN_BLOBFETCH_STALLED && ev.peer == 0;
    assert_true(stalled);
    /* 0's late answers, should they come after all, are accepted and ignored. */
    nt.cut[0][1] = false;
    kn_wire_msg w;
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    assert_int_equal(kn_wire_write_blob_chunk(&o, blob, 0, data, CH), 0);
    assert_int_equal(kn_wire_decode(&w, o.buf, o.len), 0);
    assert_int_equal(kn_blobfetch_receive(nt.nodes[1].f, 0, &w, nt.now), 0);
    kn_mp_out_free(&o);
    free(data);
    net_done(&nt, 3);
}

/* Serving waits while the transport holds serve_bytes or more for the peer. */
static void test_backpressure(void **state)
{
    (void)state;
    net nt;
    net_init(&nt, 2);
    size_t len = 8 * CH;
    uint8_t blob[KN_ID];
    uint8_t *data = share(&nt, len, 8, 1u << 0, 1u << 1, blob);
    nt.nodes[0].queued = 4u << 20; /* the socket is full */
    net_start(&nt, 2);
    link_up(&nt, 0, 1);
    run(&nt, 2, 1000);
    assert_int_equal(nt.nodes[0].sent[KN_WIRE_BLOB_CHUNK], 0);
    assert_true(kn_blobfetch_busy(nt.nodes[0].f));
    nt.nodes[0].queued = 0; /* drained */
    run(&nt, 2, 100);
    assert_holds(&nt, 1, blob, data, len);
    assert_false(kn_blobfetch_busy(nt.nodes[0].f));
    free(data);
    net_done(&nt, 2);
}

/* serve_rate bounds what a node serves per second, to all peers together. */
static void test_serve_rate(void **state)
{
    (void)state;
    net nt;
    net_init(&nt, 3);
    size_t len = 16 * CH; /* 4 MiB */
    uint8_t blob[KN_ID];
    uint8_t *data = share(&nt, len, 12, 1u << 0, 1u << 1 | 1u << 2, blob);
    nt.nodes[0].cfg.serve_rate = 1u << 20; /* 1 MiB/s: four chunks a second */
    net_start(&nt, 3);
    link_up(&nt, 0, 1);
    link_up(&nt, 0, 2);
    run(&nt, 3, 1000);
    /* A burst of a quarter second (one chunk) and a second's worth, over both peers. */
    size_t served = nt.nodes[0].sent[KN_WIRE_BLOB_CHUNK];
    assert_true(served >= 4 && served <= 6);
    assert_true(kn_blobfetch_memstore_chunks(nt.nodes[1].mem, blob) >= 1);
    assert_true(kn_blobfetch_memstore_chunks(nt.nodes[2].mem, blob) >= 1);
    run(&nt, 3, 8000); /* 2 x 16 chunks at 4 a second, less what was served */
    assert_holds(&nt, 1, blob, data, len);
    assert_holds(&nt, 2, blob, data, len);
    assert_true(nt.nodes[0].sent[KN_WIRE_BLOB_CHUNK] >= 32);
    free(data);
    net_done(&nt, 3);
}

static int receive_raw(kn_blobfetch *f, uint64_t peer, kn_mp_out *o, uint64_t now)
{
    kn_wire_msg w;
    assert_int_equal(kn_mp_out_error(o), 0);
    assert_int_equal(kn_wire_decode(&w, o->buf, o->len), 0);
    int rc = kn_blobfetch_receive(f, peer, &w, now);
    kn_mp_out_reset(o);
    return rc;
}

/* Requests beyond the serve queue, and answers nobody asked for, are the peer's fault. */
static void test_bounds(void **state)
{
    (void)state;
    net nt;
    net_init(&nt, 2);
    uint8_t blob[KN_ID];
    uint8_t *data = make_data(CH, 9);
    assert_int_equal(kn_blobfetch_memstore_add(nt.nodes[0].mem, data, CH, blob), 0);
    nt.nodes[0].queued = 4u << 20; /* nothing is served: requests pile up */
    net_start(&nt, 2);
    link_up(&nt, 0, 1);
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    uint32_t idx[KN_WIRE_CHUNK_IDX_MAX] = { 0 };
    for (int i = 0; i < KN_BLOBFETCH_SERVE_QUEUE / KN_WIRE_CHUNK_IDX_MAX; i++) {
        assert_int_equal(
            kn_wire_write_blob_idx(&o, KN_WIRE_BLOB_WANT, blob, idx, KN_WIRE_CHUNK_IDX_MAX), 0);
        assert_int_equal(receive_raw(nt.nodes[0].f, 1, &o, nt.now), 0);
    }
    assert_int_equal(kn_wire_write_blob_idx(&o, KN_WIRE_BLOB_WANT, blob, idx, 1), 0);
    assert_int_equal(receive_raw(nt.nodes[0].f, 1, &o, nt.now), KN_ELIMIT);
    assert_int_equal(kn_wire_write_manifest_want(&o, blob, 0), 0);
    assert_int_equal(receive_raw(nt.nodes[0].f, 1, &o, nt.now), KN_ELIMIT);
    /* A chunk, a manifest page and a blob-none nobody asked for. */
    assert_int_equal(kn_wire_write_blob_chunk(&o, blob, 0, data, CH), 0);
    assert_int_equal(receive_raw(nt.nodes[1].f, 0, &o, nt.now), KN_EPROTO);
    uint8_t h[1][KN_ID] = { { 0 } };
    assert_int_equal(kn_wire_write_manifest(&o, blob, CH, 0, (const uint8_t(*)[KN_ID])h, 1), 0);
    assert_int_equal(receive_raw(nt.nodes[1].f, 0, &o, nt.now), KN_EPROTO);
    assert_int_equal(kn_wire_write_blob_idx(&o, KN_WIRE_BLOB_NONE, blob, idx, 1), 0);
    assert_int_equal(receive_raw(nt.nodes[1].f, 0, &o, nt.now), KN_EPROTO);
    /* A blob-have of something unknown is only a hint. */
    assert_int_equal(kn_wire_write_ids(&o, KN_WIRE_BLOB_HAVE, (const uint8_t(*)[KN_ID])blob, 1), 0);
    assert_int_equal(receive_raw(nt.nodes[1].f, 0, &o, nt.now), 0);
    /* An unknown peer and a kind that is not ours. */
    assert_int_equal(kn_wire_write_blob_idx(&o, KN_WIRE_BLOB_WANT, blob, idx, 1), 0);
    assert_int_equal(receive_raw(nt.nodes[0].f, 99, &o, nt.now), KN_ENOTFOUND);
    assert_int_equal(kn_wire_write_ping(&o, 1), 0);
    assert_int_equal(receive_raw(nt.nodes[0].f, 1, &o, nt.now), KN_EINVAL);
    assert_true(kn_blobfetch_handles(KN_WIRE_BLOB_CHUNK));
    assert_false(kn_blobfetch_handles(KN_WIRE_OBJ));
    kn_mp_out_free(&o);
    free(data);
    net_done(&nt, 2);
}

/* A blob that stops being wanted (its doc retracted) is dropped, late answers included. */
static void test_unwanted_midway(void **state)
{
    (void)state;
    net nt;
    net_init(&nt, 2);
    size_t len = 32 * CH;
    uint8_t blob[KN_ID];
    uint8_t *data = share(&nt, len, 10, 1u << 0, 1u << 1, blob);
    net_start(&nt, 2);
    link_up(&nt, 0, 1);
    /* The manifest comes, the first chunk requests are answered, but not delivered yet. */
    while (nt.nodes[1].sent[KN_WIRE_BLOB_WANT] == 0) {
        while (step(&nt, false) != KN_ENOTFOUND)
            ;
        (void)kn_blobfetch_tick(nt.nodes[0].f, nt.now);
        (void)kn_blobfetch_tick(nt.nodes[1].f, nt.now);
    }
    assert_int_equal(step(&nt, false), 0); /* the blob-want reaches 0, which answers */
    assert_true(nt.nodes[0].sent[KN_WIRE_BLOB_CHUNK] > 0);
    kn_blobfetch_memstore_purge(nt.nodes[1].mem, blob);
    kn_blobfetch_rescan(nt.nodes[1].f);
    (void)kn_blobfetch_tick(nt.nodes[1].f, nt.now);
    size_t wants = nt.nodes[1].sent[KN_WIRE_BLOB_WANT] + nt.nodes[1].sent[KN_WIRE_MANIFEST_WANT];
    run(&nt, 2, 3000); /* the answers in flight arrive: accepted, ignored */
    assert_int_equal(kn_blobfetch_memstore_chunks(nt.nodes[1].mem, blob), 0);
    assert_int_equal(
        nt.nodes[1].sent[KN_WIRE_BLOB_WANT] + nt.nodes[1].sent[KN_WIRE_MANIFEST_WANT], wants);
    kn_blobfetch_progress pr;
    kn_blobfetch_get_progress(nt.nodes[1].f, &pr);
    assert_int_equal(pr.wanted, 0);
    assert_int_equal(pr.active, 0);
    free(data);
    net_done(&nt, 2);
}

/* The store refuses chunks (e.g. disk full): the blob waits and is fetched later. */
static void test_store_failure(void **state)
{
    (void)state;
    net nt;
    net_init(&nt, 2);
    size_t len = 4 * CH;
    uint8_t blob[KN_ID];
    uint8_t *data = share(&nt, len, 11, 1u << 0, 1u << 1, blob);
    kn_blobfetch_memstore_fail_puts(nt.nodes[1].mem, KN_EMAPFULL);
    net_start(&nt, 2);
    link_up(&nt, 0, 1);
    run(&nt, 2, 100);
    assert_int_equal(kn_blobfetch_memstore_chunks(nt.nodes[1].mem, blob), 0);
    kn_blobfetch_event ev;
    bool failed = false;
    while (kn_blobfetch_take_event(nt.nodes[1].f, &ev))
        failed |= ev.kind == KN_BLOBFETCH_STORE_FAILED && ev.code == KN_EMAPFULL;
    assert_true(failed);
    kn_blobfetch_memstore_fail_puts(nt.nodes[1].mem, 0);
    run(&nt, 2, 31000);
    assert_holds(&nt, 1, blob, data, len);
    free(data);
    net_done(&nt, 2);
}

/* Many wanted blobs, few active at a time; one nobody has does not block the others. */
static void test_many_blobs(void **state)
{
    (void)state;
    enum { FILES = 12 };
    net nt;
    net_init(&nt, 2);
    uint8_t *data[FILES];
    uint8_t blob[FILES][KN_ID];
    for (int i = 0; i < FILES; i++) {
        size_t len = (size_t)(i + 1) * 10000;
        data[i] = share(&nt, len, 100 + (uint32_t)i, 1u << 0, 1u << 1, blob[i]);
    }
    uint8_t nobody[KN_ID];
    memset(nobody, 0xab, sizeof nobody);
    assert_int_equal(kn_blobfetch_memstore_want(nt.nodes[1].mem, nobody, 5 * CH), 0);
    nt.nodes[1].cfg.active_max = 2;
    net_start(&nt, 2);
    link_up(&nt, 0, 1);
    run(&nt, 2, 20000);
    for (int i = 0; i < FILES; i++) {
        assert_holds(&nt, 1, blob[i], data[i], (size_t)(i + 1) * 10000);
        free(data[i]);
    }
    kn_blobfetch_progress pr;
    kn_blobfetch_get_progress(nt.nodes[1].f, &pr);
    assert_int_equal(pr.completed, FILES);
    assert_int_equal(pr.wanted, 1);
    /* Small files share store writes: manifests and chunks of several in one. */
    uint64_t calls, chunks;
    kn_blobfetch_memstore_counts(nt.nodes[1].mem, &calls, &chunks);
    assert_int_equal(chunks, FILES);
    assert_true(calls < FILES);
    net_done(&nt, 2);
}

/*
 * Writes beside the engine, each taking 30 ms: the file arrives whole; a
 * chunk is in the store only after its write, and the file completes only
 * then; requests go on while a write is under way; the chunks held in memory
 * and asked for stay within total_bytes however long a write takes; a blob
 * dropped during a write, and a write that fails, lose nothing.
 */
static void test_async_writes(void **state)
{
    (void)state;
    net nt;
    net_init(&nt, 2);
    size_t len = 90 * CH + 77; /* 22.5 MiB: more than total_bytes */
    uint8_t blob[KN_ID];
    uint8_t *data = share(&nt, len, 12, 1u << 0, 1u << 1, blob);
    nt.nodes[1].async_ms = 30;
    net_start(&nt, 2);
    link_up(&nt, 0, 1);
    /* Until the first write starts: nothing is in the store yet. */
    while (!nt.nodes[1].job) {
        while (step(&nt, false) != KN_ENOTFOUND)
            ;
        (void)kn_blobfetch_tick(nt.nodes[0].f, nt.now);
        (void)kn_blobfetch_tick(nt.nodes[1].f, nt.now);
        nt.now += 1;
    }
    assert_int_equal(kn_blobfetch_memstore_chunks(nt.nodes[1].mem, blob), 0);
    /* The write never ends: the engine goes on fetching, but only up to its memory bound. */
    nt.nodes[1].job->due = UINT64_MAX;
    size_t wants = nt.nodes[1].sent[KN_WIRE_BLOB_WANT];
    run(&nt, 2, 2000);
    assert_true(nt.nodes[1].sent[KN_WIRE_BLOB_WANT] > wants); /* pipelined beside the write */
    kn_blobfetch_progress pr;
    kn_blobfetch_get_progress(nt.nodes[1].f, &pr);
    assert_true(pr.fetched_bytes > 2u << 20);
    assert_true(pr.fetched_bytes <= 16u << 20); /* total_bytes: held and asked together */
    assert_int_equal(pr.completed, 0);
    assert_int_equal(kn_blobfetch_memstore_chunks(nt.nodes[1].mem, blob), 0);
    kn_blobfetch_event ev;
    assert_false(done_event(nt.nodes[1].f, &ev));
    /* Let it go: every later write takes 30 ms, and the file completes after the last. */
    nt.nodes[1].job->due = nt.now;
    run(&nt, 2, 3000);
    assert_holds(&nt, 1, blob, data, len);
    assert_true(done_event(nt.nodes[1].f, &ev));
    assert_int_equal(ev.fetched, 91);
    assert_true(nt.nodes[1].writes >= 2);
    uint64_t calls, chunks;
    kn_blobfetch_memstore_counts(nt.nodes[1].mem, &calls, &chunks);
    assert_int_equal(chunks, 91);
    free(data);

    /* A write that fails: its chunks are missing again and come again. */
    data = share(&nt, 8 * CH, 13, 1u << 0, 1u << 1, blob);
    kn_blobfetch_rescan(nt.nodes[1].f);
    kn_blobfetch_memstore_fail_puts(nt.nodes[1].mem, KN_EIO);
    run(&nt, 2, 200);
    assert_int_equal(kn_blobfetch_memstore_chunks(nt.nodes[1].mem, blob), 0);
    kn_blobfetch_memstore_fail_puts(nt.nodes[1].mem, 0);
    run(&nt, 2, 31000);
    assert_holds(&nt, 1, blob, data, 8 * CH);
    free(data);

    /* A blob purged while its chunks are being written: the write ends, nothing breaks. */
    data = share(&nt, 8 * CH, 14, 1u << 0, 1u << 1, blob);
    kn_blobfetch_rescan(nt.nodes[1].f);
    while (!nt.nodes[1].job) {
        while (step(&nt, false) != KN_ENOTFOUND)
            ;
        (void)kn_blobfetch_tick(nt.nodes[0].f, nt.now);
        (void)kn_blobfetch_tick(nt.nodes[1].f, nt.now);
        nt.now += 1;
    }
    nt.nodes[1].job->due = UINT64_MAX;
    kn_blobfetch_memstore_purge(nt.nodes[1].mem, blob);
    kn_blobfetch_rescan(nt.nodes[1].f);
    run(&nt, 2, 100);
    kn_blobfetch_get_progress(nt.nodes[1].f, &pr);
    assert_int_equal(pr.active, 0);
    nt.nodes[1].job->due = nt.now;
    run(&nt, 2, 100); /* its result concerns no active blob: nothing starts again */
    assert_null(nt.nodes[1].job);
    kn_blobfetch_get_progress(nt.nodes[1].f, &pr);
    assert_int_equal(pr.active, 0);
    assert_int_equal(pr.wanted, 0);
    assert_int_equal(pr.completed, 2);
    free(data);
    net_done(&nt, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_file),
        cmocka_unit_test(test_manifest_pages),
        cmocka_unit_test(test_holes),
        cmocka_unit_test(test_chain_and_spread),
        cmocka_unit_test(test_corrupt_peer),
        cmocka_unit_test(test_corrupt_only),
        cmocka_unit_test(test_distrust),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_stall),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_serve_rate),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_unwanted_midway),
        cmocka_unit_test(test_store_failure),
        cmocka_unit_test(test_many_blobs),
        cmocka_unit_test(test_async_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
