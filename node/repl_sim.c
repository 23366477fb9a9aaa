/*
 * The deterministic simulator (see repl_sim.h).
 *
 * One event heap ordered by (virtual time, sequence number) drives
 * everything: message deliveries, engine ticks, publications, partition,
 * heal and restarts. Engines send through sim_send(), which charges the
 * bytes, rolls loss and latency from the seeded environment and schedules a
 * delivery stamped with the link's epoch; a delivery over a link that went
 * down since (partition, restart) is dropped, as a TCP connection would be.
 */
#include "repl_sim.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "crypto.h"
#include "env.h"
#include "object.h"
#include "repl.h"
#include "repl_idmap.h"
#include "store.h"
#include "wire.h"

enum { EV_DELIVER = 1, EV_TICK, EV_PUBLISH, EV_PARTITION, EV_HEAL, EV_DOWN, EV_UP };

static const uint64_t SIM_START = 1700000000000ull;
static const uint64_t ANNOUNCE_DELAY = 50;

typedef struct event {
    uint64_t time, seq;
    uint32_t type, a, b, epoch;
    uint8_t *buf;
    size_t len;
} event;

typedef struct link {
    uint32_t a, b; /* a dials */
    uint32_t epoch;
    uint64_t busy_us[2]; /* a->b, b->a: when the link has sent what it was given */
    bool up;
    bool cut; /* crosses the partition */
} link;

typedef struct sim_obj {
    uint8_t *buf;
    size_t len;
    uint8_t id[KN_ID];
    uint32_t origin;
    int32_t parent; /* index of the thread a reply points to, or -1 */
    uint64_t at; /* publish time, ms after SIM_START */
    uint64_t copies;
} sim_obj;

typedef struct sim {
    const kn_sim_config *cfg;
    kn_sim_report *rep;
    kn_env_seeded env;
    event *heap;
    size_t nheap, capheap;
    uint64_t seq, now;
    struct sim_node *nodes;
    link *links;
    size_t nlinks, caplinks;
    sim_obj *objs;
    kn_idmap obj_index; /* id -> uint32 index into objs */
    /* per (node, object): first delivery time + 1 (0: not yet) and hops */
    uint64_t *got_at;
    uint16_t *hops;
    uint64_t delivered;
    bool partitioned;
    uint32_t normal; /* objects [0, normal) are the normal authors', the rest the flood */
    int err;
} sim;

struct sim_node {
    sim *s;
    uint32_t index;
    kn_repl_memstore *mem;
    kn_repl *repl; /* NULL while down */
    uint32_t *links; /* indices into s->links */
    uint32_t nlinks, caplinks;
    uint64_t tick_at; /* 0: none scheduled */
    kn_repl_stats gone; /* stats of engines freed by restarts */
    /* Objects that arrived since the last tick, with their hop count: the engine
     * stores them at its next tick, and they count as delivered from then. */
    struct arrival {
        uint32_t obj;
        uint16_t hops;
    } * arrived;
    uint32_t narrived, caparrived;
};

/* ---- randomness and the heap ---- */

static uint64_t rnd64(sim *s)
{
    uint8_t b[8];
    uint64_t v = 0;
    kn_env_random(&s->env.env, b, sizeof b);
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static uint64_t rnd_below(sim *s, uint64_t n)
{
    return n ? rnd64(s) % n : 0;
}

static double rnd_unit(sim *s)
{
    return (double)(rnd64(s) >> 11) / 9007199254740992.0;
}

static bool ev_less(const event *x, const event *y)
{
    return x->time < y->time || (x->time == y->time && x->seq < y->seq);
}

static void push_event(sim *s, event e)
{
    if (s->nheap == s->capheap) {
        size_t ncap = s->capheap ? s->capheap * 2 : 1024;
        event *h = realloc(s->heap, ncap * sizeof *h);
        if (!h) {
            s->err = KN_ENOMEM;
            free(e.buf);
            return;
        }
        s->heap = h;
        s->capheap = ncap;
    }
    e.seq = s->seq++;
    size_t i = s->nheap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!ev_less(&e, &s->heap[up]))
            break;
        s->heap[i] = s->heap[up];
        i = up;
    }
    s->heap[i] = e;
}

static event pop_event(sim *s)
{
    event top = s->heap[0];
    event last = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->nheap)
            break;
        if (c + 1 < s->nheap && ev_less(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!ev_less(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->nheap)
        s->heap[i] = last;
    return top;
}

static void schedule_tick(sim *s, struct sim_node *nd, uint64_t t)
{
    if (nd->tick_at && nd->tick_at <= t)
        return;
    nd->tick_at = t;
    event e = { .time = t, .type = EV_TICK, .a = nd->index };
    push_event(s, e);
}

/* ---- links ---- */

static link *find_link(sim *s, uint32_t x, uint32_t y)
{
    struct sim_node *nd = &s->nodes[x];
    for (uint32_t i = 0; i < nd->nlinks; i++) {
        link *l = &s->links[nd->links[i]];
        if ((l->a == x && l->b == y) || (l->a == y && l->b == x))
            return l;
    }
    return NULL;
}

static int node_add_link(struct sim_node *nd, uint32_t li)
{
    if (nd->nlinks == nd->caplinks) {
        uint32_t ncap = nd->caplinks ? nd->caplinks * 2 : 8;
        uint32_t *p = realloc(nd->links, ncap * sizeof *p);
        if (!p)
            return KN_ENOMEM;
        nd->links = p;
        nd->caplinks = ncap;
    }
    nd->links[nd->nlinks++] = li;
    return 0;
}

static int add_link(sim *s, uint32_t a, uint32_t b)
{
    if (a == b || find_link(s, a, b) || s->nodes[a].nlinks >= KN_REPL_PEERS_MAX
        || s->nodes[b].nlinks >= KN_REPL_PEERS_MAX)
        return 0;
    if (s->nlinks == s->caplinks) {
        size_t ncap = s->caplinks ? s->caplinks * 2 : 64;
        link *p = realloc(s->links, ncap * sizeof *p);
        if (!p)
            return KN_ENOMEM;
        s->links = p;
        s->caplinks = ncap;
    }
    link l = { .a = a, .b = b };
    s->links[s->nlinks] = l;
    int rc;
    if ((rc = node_add_link(&s->nodes[a], (uint32_t)s->nlinks)) < 0
        || (rc = node_add_link(&s->nodes[b], (uint32_t)s->nlinks)) < 0)
        return rc;
    s->nlinks++;
    return 1;
}

static uint64_t sim_now_abs(const sim *s)
{
    return SIM_START + s->now;
}

/* Brings a link to the state the nodes and the partition call for. */
static void sync_link(sim *s, link *l)
{
    bool want = s->nodes[l->a].repl && s->nodes[l->b].repl && !(s->partitioned && l->cut);
    if (want == l->up)
        return;
    l->up = want;
    l->epoch++;
    l->busy_us[0] = l->busy_us[1] = 0; /* a new connection starts empty */
    if (want) {
        if (kn_repl_peer_up(s->nodes[l->a].repl, l->b, true, sim_now_abs(s)) < 0
            || kn_repl_peer_up(s->nodes[l->b].repl, l->a, false, sim_now_abs(s)) < 0)
            s->err = KN_ESTATE;
    } else {
        if (s->nodes[l->a].repl)
            kn_repl_peer_down(s->nodes[l->a].repl, l->b, sim_now_abs(s));
        if (s->nodes[l->b].repl)
            kn_repl_peer_down(s->nodes[l->b].repl, l->a, sim_now_abs(s));
    }
    schedule_tick(s, &s->nodes[l->a], s->now + 1);
    schedule_tick(s, &s->nodes[l->b], s->now + 1);
}

/* ---- the engine's world ---- */

static int sim_send(void *ctx, uint64_t peer, const uint8_t *msg, size_t len)
{
    struct sim_node *nd = ctx;
    sim *s = nd->s;
    kn_sim_report *rep = s->rep;
    kn_wire_msg m;
    rep->msgs++;
    rep->bytes += len;
    if (kn_wire_decode(&m, msg, len) < 0) {
        s->err = KN_EPROTO; /* the engine wrote something it would refuse */
        return 0;
    }
    switch (m.kind) {
    case KN_WIRE_OBJ:
        rep->bytes_obj += len;
        break;
    case KN_WIRE_HAVE:
        rep->bytes_have += len;
        break;
    case KN_WIRE_WANT:
        rep->bytes_want += len;
        break;
    case KN_WIRE_NEG:
        rep->bytes_neg += len;
        break;
    default:
        rep->bytes_other += len;
        break;
    }
    link *l = find_link(s, nd->index, (uint32_t)peer);
    if (!l || !l->up) {
        rep->msgs_lost++;
        return 0;
    }
    uint64_t sent_at = s->now;
    if (s->cfg->link_bytes_per_s) {
        uint64_t *busy = &l->busy_us[l->a == nd->index ? 0 : 1];
        uint64_t start = *busy > s->now * 1000 ? *busy : s->now * 1000;
        *busy = start + (uint64_t)len * 1000000 / s->cfg->link_bytes_per_s;
        sent_at = (*busy + 999) / 1000;
    }
    if (rnd_unit(s) < s->cfg->loss) {
        rep->msgs_lost++;
        return 0;
    }
    uint64_t lat = s->cfg->lat_min_ms + rnd_below(s, s->cfg->lat_max_ms - s->cfg->lat_min_ms + 1);
    event e = { .time = sent_at + lat,
        .type = EV_DELIVER,
        .a = nd->index,
        .b = (uint32_t)peer,
        .epoch = l->epoch,
        .len = len };
    e.buf = malloc(len);
    if (!e.buf) {
        s->err = KN_ENOMEM;
        return 0;
    }
    memcpy(e.buf, msg, len);
    push_event(s, e);
    return 0;
}

/* Bytes the link towards peer has been given and not sent yet. */
static size_t sim_queued(void *ctx, uint64_t peer)
{
    struct sim_node *nd = ctx;
    sim *s = nd->s;
    link *l = find_link(s, nd->index, (uint32_t)peer);
    if (!l)
        return 0;
    uint64_t busy = l->busy_us[l->a == nd->index ? 0 : 1], now_us = s->now * 1000;
    return busy > now_us ? (size_t)((busy - now_us) * s->cfg->link_bytes_per_s / 1000000) : 0;
}

static int start_engine(sim *s, struct sim_node *nd)
{
    kn_repl_config rc;
    memset(&rc, 0, sizeof rc);
    rc.store = kn_repl_memstore_iface(nd->mem);
    rc.send = sim_send;
    rc.send_ctx = nd;
    rc.env = &s->env.env;
    rc.fanout = s->cfg->fanout;
    rc.no_prune = s->cfg->no_prune;
    rc.graft_delay_ms = s->cfg->graft_delay_ms;
    rc.neg_interval_ms = s->cfg->neg_interval_ms;
    rc.announce_delay_ms = ANNOUNCE_DELAY;
    rc.queued = s->cfg->link_bytes_per_s ? sim_queued : NULL;
    rc.no_author_limit = s->cfg->no_author_limit;
    rc.author_objs_per_sec = s->cfg->author_objs_per_sec;
    rc.queue_bytes_idle = s->cfg->queue_bytes_idle;
    for (int i = 0; i < 4; i++)
        rc.node_key[i] = (uint8_t)(nd->index >> (8 * i));
    return kn_repl_new(&nd->repl, &rc);
}

static void stop_engine(struct sim_node *nd)
{
    kn_repl_stats st;
    if (!nd->repl)
        return;
    kn_repl_get_stats(nd->repl, &st);
    nd->gone.want_timeouts += st.want_timeouts;
    nd->gone.neg_sessions += st.neg_sessions;
    nd->gone.grafts += st.grafts;
    nd->gone.prunes += st.prunes;
    nd->gone.objs_new += st.objs_new;
    nd->gone.ingest_calls += st.ingest_calls;
    nd->gone.objs_deferred += st.objs_deferred;
    kn_repl_free(nd->repl);
    nd->repl = NULL;
    nd->narrived = 0; /* what it had not stored yet is lost with it */
}

/* ---- bookkeeping of deliveries ---- */

static void mark(sim *s, uint32_t node, uint32_t obj, uint16_t hops)
{
    size_t k = (size_t)node * s->cfg->objects + obj;
    if (s->got_at[k])
        return;
    s->got_at[k] = s->now + 1;
    s->hops[k] = hops;
    s->delivered++;
}

/* After node received something: mark objects it now holds that were not marked yet. */
static void note_obj(sim *s, uint32_t node, uint32_t obj, uint16_t hops)
{
    if (!kn_repl_memstore_has(s->nodes[node].mem, s->objs[obj].id))
        return;
    mark(s, node, obj, hops);
    /* Replies released from pending by this object. */
    for (uint32_t j = 0; j < s->cfg->objects; j++)
        if (s->objs[j].parent == (int32_t)obj)
            note_obj(s, node, j, hops);
}

static void deliver(sim *s, event *e)
{
    struct sim_node *to = &s->nodes[e->b];
    link *l = find_link(s, e->a, e->b);
    if (!to->repl || !l || !l->up || l->epoch != e->epoch) {
        s->rep->msgs_lost++;
        return;
    }
    int32_t obj = -1;
    kn_wire_msg m;
    if (kn_wire_decode(&m, e->buf, e->len) == 0 && m.kind == KN_WIRE_OBJ) {
        uint8_t id[KN_ID];
        kn_blake2b(id, KN_ID, m.data, m.data_len);
        uint32_t *ix = kn_idmap_get(&s->obj_index, id);
        if (ix) {
            obj = (int32_t)*ix;
            s->objs[obj].copies++;
        }
    }
    int rc = kn_repl_receive(to->repl, e->a, e->buf, e->len, sim_now_abs(s));
    if (rc < 0) {
        s->err = rc; /* engines never send each other anything refusable */
        return;
    }
    if (obj >= 0) {
        size_t k = (size_t)e->a * s->cfg->objects + (uint32_t)obj;
        if (to->narrived == to->caparrived) {
            uint32_t ncap = to->caparrived ? 2 * to->caparrived : 8;
            struct arrival *a = realloc(to->arrived, ncap * sizeof *a);
            if (!a) {
                s->err = KN_ENOMEM;
                return;
            }
            to->arrived = a;
            to->caparrived = ncap;
        }
        to->arrived[to->narrived].obj = (uint32_t)obj;
        to->arrived[to->narrived].hops = (uint16_t)(s->hops[k] + 1);
        to->narrived++;
    }
    /* The engine stores what arrived at its next tick: at once, after this ms's other events. */
    schedule_tick(s, to, s->now);
}

/* ---- setup ---- */

static int make_objects(sim *s)
{
    const kn_sim_config *c = s->cfg;
    enum { AUTHORS = 8 };
    uint8_t sk[AUTHORS + 1][64]; /* the last one floods */
    uint32_t flood_origin = (uint32_t)rnd_below(s, c->nodes);
    for (int i = 0; i < AUTHORS + 1; i++) {
        uint8_t pk[32], seed[32];
        kn_env_random(&s->env.env, seed, sizeof seed);
        kn_sign_keypair_from_seed(pk, sk[i], seed);
    }
    int rc = 0;
    for (uint32_t i = 0; i < c->objects; i++) {
        sim_obj *o = &s->objs[i];
        kn_object_draft d;
        kn_mp_out b;
        memset(&d, 0, sizeof d);
        kn_mp_out_init(&b, 0);
        o->parent = -1;
        int author = (int)rnd_below(s, AUTHORS);
        /* One in four is a reply to an earlier thread, published where it started, later. */
        if (i >= s->normal) {
            char title[32];
            snprintf(title, sizeof title, "Massenmail %u", i);
            o->origin = flood_origin;
            o->at = 1000
                + (uint64_t)(i - s->normal) * c->publish_window_ms / (c->objects - s->normal);
            author = AUTHORS;
            kn_mp_write_map(&b, 2);
            kn_mp_write_cstr(&b, "body");
            kn_mp_write_cstr(&b, "Bitte beachten Sie das Rundschreiben.");
            kn_mp_write_cstr(&b, "title");
            kn_mp_write_cstr(&b, title);
            d.type = KN_T_THREAD;
        } else if (i >= 4 && rnd_below(s, 4) == 0) {
            uint32_t p;
            do
                p = (uint32_t)rnd_below(s, i);
            while (s->objs[p].parent >= 0);
            o->parent = (int32_t)p;
            o->origin = s->objs[p].origin;
            o->at = s->objs[p].at + 1 + rnd_below(s, 2000);
            kn_mp_write_map(&b, 1);
            kn_mp_write_cstr(&b, "body");
            kn_mp_write_cstr(&b, "So machen wir es.");
            d.type = KN_T_POST;
            d.nrefs = 2;
            memcpy(d.refs[0], s->objs[p].id, KN_ID);
            memcpy(d.refs[1], s->objs[p].id, KN_ID);
        } else {
            char title[32];
            snprintf(title, sizeof title, "Frage %u", i);
            o->origin = (uint32_t)rnd_below(s, c->nodes);
            o->at = 1000 + rnd_below(s, c->publish_window_ms);
            kn_mp_write_map(&b, 2);
            kn_mp_write_cstr(&b, "body");
            kn_mp_write_cstr(&b, "Wie handhaben Sie das?");
            kn_mp_write_cstr(&b, "title");
            kn_mp_write_cstr(&b, title);
            d.type = KN_T_THREAD;
        }
        d.created = SIM_START + o->at;
        d.space = "sim";
        d.body = b.buf;
        d.body_len = b.len;
        rc = kn_mp_out_error(&b);
        if (rc == 0)
            rc = kn_object_sign(&d, sk[author], &o->buf, &o->len);
        kn_mp_out_free(&b);
        if (rc < 0)
            return rc;
        kn_object v;
        if ((rc = kn_object_decode(&v, o->buf, o->len)) < 0)
            return rc;
        memcpy(o->id, v.id, KN_ID);
        uint32_t *ix = kn_idmap_put(&s->obj_index, o->id, NULL);
        if (!ix)
            return KN_ENOMEM;
        *ix = i;
        event e = { .time = o->at, .type = EV_PUBLISH, .a = i };
        push_event(s, e);
    }
    return 0;
}

/* A random connected graph: a random tree first, then random links until every node has `degree`.
 */
static int make_graph(sim *s)
{
    uint32_t n = s->cfg->nodes;
    int rc;
    for (uint32_t i = 1; i < n; i++)
        if ((rc = add_link(s, i, (uint32_t)rnd_below(s, i))) < 0)
            return rc;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t tries = 0;
        while (s->nodes[i].nlinks < s->cfg->degree && tries++ < 16 * s->cfg->degree)
            if ((rc = add_link(s, i, (uint32_t)rnd_below(s, n))) < 0)
                return rc;
    }
    return 0;
}

void kn_sim_config_defaults(kn_sim_config *c)
{
    if (!c->degree)
        c->degree = 4;
    if (!c->objects)
        c->objects = 10;
    if (!c->lat_min_ms && !c->lat_max_ms) {
        c->lat_min_ms = 10;
        c->lat_max_ms = 100;
    }
    if (c->lat_max_ms < c->lat_min_ms)
        c->lat_max_ms = c->lat_min_ms;
    if (!c->publish_window_ms)
        c->publish_window_ms = 10000;
    if (!c->restart_down_ms)
        c->restart_down_ms = 20000;
    if (!c->max_ms) {
        uint64_t end = c->publish_window_ms + 1000;
        if (c->heal_at_ms > end)
            end = c->heal_at_ms;
        c->max_ms = end + 600000;
    }
}

/* splitmix64: a fault mix that depends on the seed alone, not on the simulation's RNG. */
static uint64_t mix_next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void kn_sim_config_chaos(kn_sim_config *c, uint64_t seed)
{
    uint64_t x = seed ^ 0x6b6e6f74656e2d63ull; /* "knoten-c" */
    memset(c, 0, sizeof *c);
    c->seed = seed;
    c->nodes = 10 + (uint32_t)(mix_next(&x) % 71);
    c->degree = 2 + (uint32_t)(mix_next(&x) % 5);
    c->objects = 5 + (uint32_t)(mix_next(&x) % 36);
    c->loss = (double)(mix_next(&x) % 31) / 100.0;
    c->lat_min_ms = 1 + (uint32_t)(mix_next(&x) % 30);
    c->lat_max_ms = c->lat_min_ms + (uint32_t)(mix_next(&x) % 400);
    c->publish_window_ms = 2000 + mix_next(&x) % 20000;
    if (mix_next(&x) % 4 != 0) {
        c->partition_at_ms = 500 + mix_next(&x) % c->publish_window_ms;
        c->heal_at_ms = c->partition_at_ms + 2000 + mix_next(&x) % 58000;
    }
    c->restarts = (uint32_t)(mix_next(&x) % (c->nodes / 4 + 1));
    c->restart_down_ms = 1000 + mix_next(&x) % 29000;
    /*
     * Converged means within 30 virtual minutes of the last fault: with 30%
     * of messages lost on a sparse graph, anti-entropy (one round per link a
     * minute, itself lossy) can need ten minutes to cross 20 hops.
     */
    uint64_t last = c->publish_window_ms + 1000 + c->restart_down_ms;
    if (c->heal_at_ms > last)
        last = c->heal_at_ms;
    c->max_ms = last + 1800000;
}

bool kn_sim_converged(const kn_sim_report *r)
{
    return r->delivered == r->expected && r->stores_complete == r->nodes;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void finish_report(sim *s)
{
    const kn_sim_config *c = s->cfg;
    kn_sim_report *r = s->rep;
    uint64_t digest = 0xcbf29ce484222325ull;
    double copies = 0, hops_sum = 0;
    uint64_t *last = calloc(c->objects ? c->objects : 1, sizeof *last);
    for (uint32_t o = 0; o < c->objects; o++) {
        uint64_t lt = 0;
        uint16_t lh = 0;
        for (uint32_t n = 0; n < c->nodes; n++) {
            size_t k = (size_t)n * c->objects + o;
            uint64_t v[2] = { s->got_at[k], s->hops[k] };
            for (int i = 0; i < 2; i++)
                for (int b = 0; b < 8; b++) {
                    digest ^= (v[i] >> (8 * b)) & 0xff;
                    digest *= 0x100000001b3ull;
                }
            if (s->got_at[k] > lt) {
                lt = s->got_at[k];
                lh = s->hops[k];
            }
        }
        copies += (double)s->objs[o].copies / (double)(c->nodes - 1);
        hops_sum += lh;
        if (lh > r->hops_last_max)
            r->hops_last_max = lh;
        uint64_t dt = lt ? lt - 1 - s->objs[o].at : 0;
        if (last) {
            /* insertion into sorted order for the median */
            uint32_t j = o;
            while (j > 0 && last[j - 1] > dt) {
                last[j] = last[j - 1];
                j--;
            }
            last[j] = dt;
        }
    }
    if (c->objects) {
        r->copies_per_node = copies / c->objects;
        r->rmr = r->copies_per_node - 1;
        r->hops_last_mean = hops_sum / c->objects;
        if (last) {
            r->last_ms_p50 = last[(c->objects - 1) / 2];
            r->last_ms_max = last[c->objects - 1];
        }
    }
    free(last);
    /* Publish to delivery for every (node, normal object) pair, origins excepted. */
    size_t nl = 0, cap = (size_t)c->nodes * s->normal;
    uint64_t *lat = malloc((cap ? cap : 1) * sizeof *lat);
    if (lat) {
        for (uint32_t o = 0; o < s->normal; o++)
            for (uint32_t n = 0; n < c->nodes; n++) {
                uint64_t g = s->got_at[(size_t)n * c->objects + o];
                if (g && n != s->objs[o].origin)
                    lat[nl++] = g - 1 - s->objs[o].at;
            }
        qsort(lat, nl, sizeof *lat, cmp_u64);
        if (nl) {
            r->lat_ms_p50 = lat[(nl - 1) / 2];
            r->lat_ms_p99 = lat[(nl - 1) * 99 / 100];
            r->lat_ms_max = lat[nl - 1];
        }
        free(lat);
    }
    r->delivered = s->delivered;
    r->expected = (uint64_t)c->nodes * c->objects;
    r->delivery_pct = r->expected ? 100.0 * (double)r->delivered / (double)r->expected : 100.0;
    for (uint32_t n = 0; n < c->nodes; n++) {
        kn_repl_stats st = { 0 };
        if (s->nodes[n].repl)
            kn_repl_get_stats(s->nodes[n].repl, &st);
        r->want_timeouts += st.want_timeouts + s->nodes[n].gone.want_timeouts;
        r->neg_sessions += st.neg_sessions + s->nodes[n].gone.neg_sessions;
        r->grafts += st.grafts + s->nodes[n].gone.grafts;
        r->prunes += st.prunes + s->nodes[n].gone.prunes;
        r->objs_stored += st.objs_new + s->nodes[n].gone.objs_new;
        r->ingest_calls += st.ingest_calls + s->nodes[n].gone.ingest_calls;
        r->objs_deferred += st.objs_deferred + s->nodes[n].gone.objs_deferred;
    }
    /* Converged means every store holds every object, not only that each arrived once. */
    for (uint32_t n = 0; n < c->nodes; n++)
        if (kn_repl_memstore_count(s->nodes[n].mem) == c->objects)
            r->stores_complete++;
    digest ^= r->msgs * 0x9e3779b97f4a7c15ull ^ r->bytes;
    r->digest = digest;
}

int kn_sim_run(const kn_sim_config *cfg_in, kn_sim_report *rep)
{
    kn_sim_config cfgv = *cfg_in;
    kn_sim_config *cfg = &cfgv;
    kn_sim_config_defaults(cfg);
    memset(rep, 0, sizeof *rep);
    if (cfg->nodes < 2 || cfg->loss < 0 || cfg->loss >= 1 || cfg->objects > 1000000)
        return KN_EINVAL;
    if (kn_crypto_init() < 0)
        return KN_EINVAL;

    sim S;
    sim *s = &S;
    memset(s, 0, sizeof *s);
    s->normal = cfg->objects;
    if (cfg->flood) {
        uint64_t extra = (uint64_t)cfg->flood * cfg->objects / 8;
        if (extra < 1)
            extra = 1;
        if (extra > 1000000)
            return KN_EINVAL;
        cfg->objects += (uint32_t)extra;
    }
    s->cfg = cfg;
    s->rep = rep;
    kn_env_seeded_init(&s->env, cfg->seed, SIM_START);
    kn_idmap_init(&s->obj_index, sizeof(uint32_t));
    s->nodes = calloc(cfg->nodes, sizeof *s->nodes);
    s->objs = calloc(cfg->objects ? cfg->objects : 1, sizeof *s->objs);
    s->got_at = calloc((size_t)cfg->nodes * cfg->objects + 1, sizeof *s->got_at);
    s->hops = calloc((size_t)cfg->nodes * cfg->objects + 1, sizeof *s->hops);
    int rc = KN_ENOMEM;
    if (!s->nodes || !s->objs || !s->got_at || !s->hops)
        goto out;
    for (uint32_t i = 0; i < cfg->nodes; i++) {
        s->nodes[i].s = s;
        s->nodes[i].index = i;
        if ((rc = kn_repl_memstore_new(&s->nodes[i].mem)) < 0)
            goto out;
    }
    if ((rc = make_graph(s)) < 0 || (rc = make_objects(s)) < 0)
        goto out;
    rep->nodes = cfg->nodes;
    rep->edges = (uint32_t)s->nlinks;
    rep->objects = cfg->objects;
    rep->flood_objects = cfg->objects - s->normal;

    if (cfg->partition_at_ms && cfg->heal_at_ms > cfg->partition_at_ms) {
        uint8_t *side = calloc(cfg->nodes, 1);
        if (!side)
            goto out;
        for (uint32_t i = 0; i < cfg->nodes; i++)
            side[i] = (uint8_t)rnd_below(s, 2);
        for (size_t i = 0; i < s->nlinks; i++)
            s->links[i].cut = side[s->links[i].a] != side[s->links[i].b];
        free(side);
        event p = { .time = cfg->partition_at_ms, .type = EV_PARTITION };
        event h = { .time = cfg->heal_at_ms, .type = EV_HEAL };
        push_event(s, p);
        push_event(s, h);
    }
    for (uint32_t i = 0; i < cfg->restarts; i++) {
        uint32_t n = (uint32_t)rnd_below(s, cfg->nodes);
        uint64_t t = 1000 + rnd_below(s, cfg->publish_window_ms);
        event d = { .time = t, .type = EV_DOWN, .a = n };
        event u = { .time = t + cfg->restart_down_ms, .type = EV_UP, .a = n };
        push_event(s, d);
        push_event(s, u);
    }

    for (uint32_t i = 0; i < cfg->nodes; i++)
        if ((rc = start_engine(s, &s->nodes[i])) < 0)
            goto out;
    for (size_t i = 0; i < s->nlinks; i++)
        sync_link(s, &s->links[i]);

    uint64_t last_publish = 0;
    for (uint32_t i = 0; i < cfg->objects; i++)
        if (s->objs[i].at > last_publish)
            last_publish = s->objs[i].at;

    rc = 0;
    while (s->nheap && !s->err) {
        event e = pop_event(s);
        if (e.time > cfg->max_ms) {
            free(e.buf);
            break;
        }
        s->now = e.time;
        struct sim_node *nd = &s->nodes[e.a];
        switch (e.type) {
        case EV_DELIVER:
            deliver(s, &e);
            break;
        case EV_TICK:
            if (nd->tick_at != e.time)
                break; /* superseded by an earlier tick */
            nd->tick_at = 0;
            if (!nd->repl)
                break;
            schedule_tick(s, nd, kn_repl_tick(nd->repl, sim_now_abs(s)) - SIM_START);
            for (uint32_t i = 0; i < nd->narrived; i++)
                note_obj(s, e.a, nd->arrived[i].obj, nd->arrived[i].hops);
            nd->narrived = 0;
            break;
        case EV_PUBLISH: {
            sim_obj *o = &s->objs[e.a];
            struct sim_node *at = &s->nodes[o->origin];
            if (!at->repl) {
                /* The origin is restarting: publish a little later. */
                e.time = s->now + 1000;
                push_event(s, e);
                break;
            }
            int pr = kn_repl_publish(at->repl, o->buf, o->len, sim_now_abs(s));
            if (pr < 0) {
                s->err = pr;
                break;
            }
            note_obj(s, o->origin, e.a, 0);
            schedule_tick(s, at, s->now + ANNOUNCE_DELAY);
            break;
        }
        case EV_PARTITION:
        case EV_HEAL:
            s->partitioned = e.type == EV_PARTITION;
            for (size_t i = 0; i < s->nlinks; i++)
                if (s->links[i].cut)
                    sync_link(s, &s->links[i]);
            break;
        case EV_DOWN:
        case EV_UP:
            if (e.type == EV_DOWN)
                stop_engine(nd);
            else if (!nd->repl && (rc = start_engine(s, nd)) < 0)
                s->err = rc;
            for (uint32_t i = 0; i < nd->nlinks; i++)
                sync_link(s, &s->links[nd->links[i]]);
            break;
        }
        free(e.buf);
        if (s->delivered == (uint64_t)cfg->nodes * cfg->objects && s->now >= last_publish
            && (!s->partitioned) && s->now >= cfg->heal_at_ms)
            break;
    }
    rc = s->err;
    rep->end_ms = s->now;
    finish_report(s);

out:
    while (s->nheap) {
        event e = pop_event(s);
        free(e.buf);
    }
    free(s->heap);
    if (s->nodes)
        for (uint32_t i = 0; i < cfg->nodes; i++) {
            kn_repl_free(s->nodes[i].repl);
            kn_repl_memstore_free(s->nodes[i].mem);
            free(s->nodes[i].links);
            free(s->nodes[i].arrived);
        }
    free(s->nodes);
    free(s->links);
    if (s->objs)
        for (uint32_t i = 0; i < cfg->objects; i++)
            free(s->objs[i].buf);
    free(s->objs);
    free(s->got_at);
    free(s->hops);
    kn_idmap_free(&s->obj_index);
    return rc;
}

void kn_sim_report_print(FILE *f, const kn_sim_config *c, const kn_sim_report *r)
{
    fprintf(f, "knoten-sim seed=%llu nodes=%u edges=%u degree>=%u objects=%u loss=%.3f fanout=%u",
        (unsigned long long)c->seed, r->nodes, r->edges, c->degree, r->objects, c->loss,
        c->fanout ? c->fanout : 3);
    if (c->partition_at_ms)
        fprintf(f, " partition=%llu-%llu", (unsigned long long)c->partition_at_ms,
            (unsigned long long)c->heal_at_ms);
    if (c->restarts)
        fprintf(f, " restarts=%u", c->restarts);
    if (c->restarts && c->restart_down_ms)
        fprintf(f, " down=%llums", (unsigned long long)c->restart_down_ms);
    if (c->lat_min_ms || c->lat_max_ms)
        fprintf(f, " latency=%u-%ums", c->lat_min_ms, c->lat_max_ms);
    if (c->no_prune)
        fprintf(f, " no-prune");
    if (c->link_bytes_per_s)
        fprintf(f, " link=%lluB/s", (unsigned long long)c->link_bytes_per_s);
    if (c->flood)
        fprintf(f, " flood=%ux (%u objects)", c->flood, r->flood_objects);
    if (c->no_author_limit)
        fprintf(f, " no-author-limit");
    fprintf(f, "\n");
    fprintf(f, "delivery   %.2f%% (%llu of %llu); %u of %u stores complete\n", r->delivery_pct,
        (unsigned long long)r->delivered, (unsigned long long)r->expected, r->stores_complete,
        r->nodes);
    fprintf(f, "copies     %.3f per node per object, RMR %.3f\n", r->copies_per_node, r->rmr);
    fprintf(
        f, "hops       last delivery: mean %.2f, max %u\n", r->hops_last_mean, r->hops_last_max);
    fprintf(f, "latency    publish to last delivery: p50 %llu ms, max %llu ms\n",
        (unsigned long long)r->last_ms_p50, (unsigned long long)r->last_ms_max);
    fprintf(f, "           publish to each delivery%s: p50 %llu ms, p99 %llu ms, max %llu ms\n",
        r->flood_objects ? " (normal authors)" : "", (unsigned long long)r->lat_ms_p50,
        (unsigned long long)r->lat_ms_p99, (unsigned long long)r->lat_ms_max);
    fprintf(f,
        "bytes      %llu total, %.0f per node (obj %llu, have %llu, want %llu, neg %llu, other "
        "%llu)\n",
        (unsigned long long)r->bytes, (double)r->bytes / r->nodes, (unsigned long long)r->bytes_obj,
        (unsigned long long)r->bytes_have, (unsigned long long)r->bytes_want,
        (unsigned long long)r->bytes_neg, (unsigned long long)r->bytes_other);
    fprintf(f, "messages   %llu sent, %llu lost; want timeouts %llu; negentropy sessions %llu\n",
        (unsigned long long)r->msgs, (unsigned long long)r->msgs_lost,
        (unsigned long long)r->want_timeouts, (unsigned long long)r->neg_sessions);
    fprintf(f, "tree       %llu grafts, %llu prunes; %llu objects stored in %llu ingest calls",
        (unsigned long long)r->grafts, (unsigned long long)r->prunes,
        (unsigned long long)r->objs_stored, (unsigned long long)r->ingest_calls);
    if (r->objs_deferred)
        fprintf(f, "; %llu held by the author bound", (unsigned long long)r->objs_deferred);
    fprintf(f, "\n");
    fprintf(f, "end        %llu ms virtual; digest %016llx\n", (unsigned long long)r->end_ms,
        (unsigned long long)r->digest);
}
