/*
 * The blob fetch engine (see blobfetch.h for the contract, docs/blobs.md for
 * the protocol).
 *
 * State, all bounded:
 *  - `wanted`: the blobs the store last said it wants (at most
 *    KN_BLOBFETCH_WANTED_MAX), each with its declared size and a time before
 *    which it is not started again (after nobody had it).
 *  - `blobs`: the active_max blobs being fetched. One fetches its manifest
 *    (B_MANIFEST: pages from one peer at a time into `hashes`) or its chunks
 *    (B_CHUNKS: one state byte per chunk, missing / asked of a peer / held
 *    in the inbox / present in the store, and the peer asked). `cursor` is
 *    the lowest index that may be missing, so assigning the next chunk is
 *    amortised O(1). Per peer slot: until when it is not asked for this blob
 *    (it said blob-none, or stalled), with a growing backoff; and a bit if it
 *    sent a corrupt chunk of it.
 *  - per peer: chunks asked of it, when it last answered, how many answers
 *    it may still send for requests we gave up on (`late_allow`: anything
 *    beyond is unsolicited, a protocol violation), its corrupt count, and a
 *    FIFO of its requests to serve.
 *  - `inbox`: verified chunks (copies) waiting for one store write.
 *  - `events`: a ring of things to log.
 */
#include "blobfetch.h"

#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "codec.h"
#include "repl_idmap.h"

enum {
    EVENTS_MAX = 256,
    MAN_PEER_MAX = 64, /* manifest pages asked of one peer at once */
    LACK_SHIFT_MAX = 5, /* the blob-none backoff grows to lack_ms * 32 */
    INBOX_WAIT_MS = 50, /* a held chunk waits at most this long for a larger store write */
    RETRY_NOBODY_MS = 5000, /* a blob nobody could give is not started again before */
    RETRY_STORE_MS = 30000, /* ... nor one the store refused */
    IDLE_MS = 2000, /* an active blob nobody can give us yields its slot after this */
    PEER_NONE = -1,
};

enum { C_MISSING = 0, C_ASKED, C_HELD, C_PRESENT };
enum { B_FREE = 0, B_MANIFEST, B_CHUNKS };

typedef struct sreq {
    uint8_t blob[KN_ID];
    uint32_t index; /* chunk index, or the first hash of a manifest page */
    bool manifest;
} sreq;

typedef struct bpeer {
    bool live;
    bool suspect; /* sent corrupt chunks on an earlier connection: asked only if nobody else can */
    unsigned man_out; /* manifest pages asked of it */
    bool faulted; /* reported by take_fault */
    bool fault_due;
    uint64_t id;
    unsigned inflight; /* chunks asked of it */
    uint64_t inflight_bytes; /* ... and their bytes */
    uint64_t wait_since; /* its last answer, or our first request while nothing was out */
    unsigned late_allow; /* answers it may still send to requests we gave up on */
    sreq *sq; /* KN_BLOBFETCH_SERVE_QUEUE entries once it asked for something */
    size_t sq_head, sq_n; /* a ring: sq_n entries from sq_head */
    kn_blobfetch_peer_stats st;
} bpeer;

typedef struct fblob {
    uint8_t state;
    uint8_t id[KN_ID];
    uint64_t size;
    uint32_t n; /* chunks */
    uint8_t (*hashes)[KN_ID];
    uint32_t man_have; /* B_MANIFEST: hashes received so far */
    int man_peer; /* slot asked for the next page, or PEER_NONE */
    uint64_t man_deadline;
    uint8_t *cst; /* B_CHUNKS: C_* per chunk */
    int8_t *cpeer; /* the slot a C_ASKED chunk was asked of */
    uint32_t cursor;
    uint32_t missing, asked, remaining; /* C_MISSING, C_ASKED, not C_PRESENT */
    uint64_t lack_until[KN_BLOBFETCH_PEERS_MAX];
    uint8_t lack_n[KN_BLOBFETCH_PEERS_MAX];
    uint64_t bad_mask;
    /*
     * Per chunk, the slots that said blob-none for it (allocated at the first
     * one), and the slots that gave a good chunk since their last blob-none:
     * a peer that holds part of a blob is asked for the rest of it, one that
     * gave nothing since its last blob-none is left alone for a while.
     */
    uint64_t *nonemask;
    uint64_t gave_mask;
    uint64_t started_ms, idle_since;
    uint32_t had, fetched;
    uint32_t inbox_n; /* its chunks in the inbox */
    bool man_unsaved; /* its manifest waits in the inbox too (put_batch) */
    uint32_t writing_n; /* its chunks in the write under way */
    bool man_writing; /* its manifest is in the write under way */
} fblob;

typedef struct wanted_rec {
    uint64_t size;
    uint64_t retry_at;
    uint8_t active;
    uint8_t seen; /* in the store's list at the rescan under way */
} wanted_rec;

typedef struct held {
    int blob; /* slot in f->blobs */
    uint32_t index;
    uint8_t *data;
    size_t len;
} held;

struct kn_blobfetch {
    kn_blobfetch_config cfg;
    bpeer peers[KN_BLOBFETCH_PEERS_MAX];
    fblob *blobs; /* cfg.active_max */
    kn_idmap wanted;
    bool rescan_now;
    uint64_t next_rescan;
    bool dirty; /* something changed that may let requests go out */
    held *inbox; /* inbox_cap */
    size_t ninbox, inbox_len; /* chunks held, their bytes */
    size_t inbox_cap; /* the larger of inbox_max and total_inflight */
    /*
     * The chunks of the store write under way (swapped with the inbox when it
     * starts): kept here, bytes and all, until kn_blobfetch_written(). A
     * `blob` of -1: that blob stopped meanwhile.
     */
    held *writing;
    size_t nwriting, writing_len;
    bool write_busy;
    unsigned nmbox; /* blobs whose manifest waits to be stored with the chunks */
    uint64_t inbox_since; /* when the oldest of them came */
    unsigned inflight;
    uint64_t inflight_bytes;
    unsigned rotate;
    kn_mp_out out;
    /* serving: "blob-none" answers gathered for one blob, encoded apart from `out` */
    kn_mp_out nout;
    uint8_t none_blob[KN_ID];
    uint32_t none_idx[KN_WIRE_CHUNK_IDX_MAX];
    size_t nnone;
    int64_t serve_tokens; /* bytes that may be served now (serve_rate) */
    unsigned serve_next; /* the slot served first at the next tick: round-robin */
    uint64_t serve_refill_ms;
    kn_blobfetch_event events[EVENTS_MAX];
    size_t ev_head, ev_n;
    kn_blobfetch_progress prog;
};

_Static_assert(KN_BLOBFETCH_SIZE_MAX == KN_BLOB_SIZE_MAX, "the format's largest file");

void kn_blobfetch_blob_id(const uint8_t (*hashes)[KN_ID], uint32_t n, uint8_t out[KN_ID])
{
    kn_blob_id_of(out, (const uint8_t *)hashes, n);
}

bool kn_blobfetch_handles(kn_wire_kind kind)
{
    return kind >= KN_WIRE_BLOB_HAVE && kind <= KN_WIRE_BLOB_NONE;
}

/* ---- small helpers ---- */

static int slot_of(const kn_blobfetch *f, uint64_t peer)
{
    for (int i = 0; i < KN_BLOBFETCH_PEERS_MAX; i++)
        if (f->peers[i].live && f->peers[i].id == peer)
            return i;
    return PEER_NONE;
}

static fblob *find_blob(kn_blobfetch *f, const uint8_t id[KN_ID])
{
    for (unsigned i = 0; i < f->cfg.active_max; i++)
        if (f->blobs[i].state != B_FREE && memcmp(f->blobs[i].id, id, KN_ID) == 0)
            return &f->blobs[i];
    return NULL;
}

static void event(kn_blobfetch *f, const kn_blobfetch_event *ev)
{
    if (f->ev_n == EVENTS_MAX) {
        f->ev_head = (f->ev_head + 1) % EVENTS_MAX; /* the oldest gives way */
        f->ev_n--;
    }
    f->events[(f->ev_head + f->ev_n++) % EVENTS_MAX] = *ev;
}

static void event_blob(kn_blobfetch *f, kn_blobfetch_event_kind kind, const fblob *b, int slot,
    uint32_t index, int code)
{
    kn_blobfetch_event ev = { .kind = kind, .index = index, .code = code };
    memcpy(ev.blob, b->id, KN_ID);
    if (slot >= 0)
        ev.peer = f->peers[slot].id;
    event(f, &ev);
}

static void send_msg(kn_blobfetch *f, int slot)
{
    if (kn_mp_out_error(&f->out) == 0)
        (void)f->cfg.send(f->cfg.send_ctx, f->peers[slot].id, f->out.buf, f->out.len);
    kn_mp_out_reset(&f->out);
}

static size_t queued(const kn_blobfetch *f, int slot)
{
    return f->cfg.queued ? f->cfg.queued(f->cfg.send_ctx, f->peers[slot].id) : 0;
}

static uint64_t chunk_len(const fblob *b, uint32_t i)
{
    return i + 1 < b->n ? KN_BLOBFETCH_CHUNK : b->size - (uint64_t)(b->n - 1) * KN_BLOBFETCH_CHUNK;
}

/* Not asking `slot` for b before now + a backoff that doubles with every refusal in a row. */
static void forget_nones(fblob *b, int slot)
{
    for (uint32_t i = 0; b->nonemask && i < b->n; i++)
        b->nonemask[i] &= ~(1ull << slot);
    b->gave_mask &= ~(1ull << slot);
}

/*
 * Not asking `slot` for b before now + a backoff that doubles with every
 * refusal in a row; when that time comes, it is asked from the first
 * missing chunk on again.
 */
static void lack(kn_blobfetch *f, fblob *b, int slot, uint64_t now)
{
    forget_nones(b, slot);
    unsigned sh = b->lack_n[slot] < LACK_SHIFT_MAX ? b->lack_n[slot] : LACK_SHIFT_MAX;
    b->lack_until[slot] = now + (f->cfg.lack_ms << sh);
    if (b->lack_n[slot] < 255)
        b->lack_n[slot]++;
}

static bool askable_any(const kn_blobfetch *f, const fblob *b, int slot, uint64_t now)
{
    return f->peers[slot].live && b->lack_until[slot] <= now && !(b->bad_mask >> slot & 1);
}

/* Whether slot may be asked for b now: a suspect peer only if no trusted one may. */
static bool askable(const kn_blobfetch *f, const fblob *b, int slot, uint64_t now)
{
    if (!askable_any(f, b, slot, now))
        return false;
    if (!f->peers[slot].suspect)
        return true;
    for (int s = 0; s < KN_BLOBFETCH_PEERS_MAX; s++)
        if (!f->peers[s].suspect && askable_any(f, b, s, now))
            return false;
    return true;
}

/* ---- chunk states ---- */

static void chunk_set(fblob *b, uint32_t i, uint8_t st)
{
    uint8_t old = b->cst[i];
    if (old == st)
        return;
    if (old == C_MISSING)
        b->missing--;
    else if (old == C_ASKED)
        b->asked--;
    else if (old == C_PRESENT)
        b->remaining++;
    if (st == C_MISSING) {
        b->missing++;
        if (i < b->cursor)
            b->cursor = i;
    } else if (st == C_ASKED) {
        b->asked++;
    } else if (st == C_PRESENT) {
        b->remaining--;
    }
    b->cst[i] = st;
}

/* A chunk asked of slot goes back to missing; if the answer may still come, it is allowed. */
static void unask(kn_blobfetch *f, fblob *b, uint32_t i, bool late_ok)
{
    bpeer *p = &f->peers[b->cpeer[i]];
    uint64_t len = chunk_len(b, i);
    if (p->inflight)
        p->inflight--;
    if (f->inflight)
        f->inflight--;
    p->inflight_bytes -= p->inflight_bytes < len ? p->inflight_bytes : len;
    f->inflight_bytes -= f->inflight_bytes < len ? f->inflight_bytes : len;
    if (late_ok)
        p->late_allow++;
    b->cpeer[i] = PEER_NONE;
    chunk_set(b, i, C_MISSING);
    f->dirty = true;
}

/* Every request of b to slot (or to anyone, slot PEER_NONE) is given up. */
static void unask_all(kn_blobfetch *f, fblob *b, int slot, bool late_ok)
{
    if (b->state == B_MANIFEST && b->man_peer != PEER_NONE
        && (slot == PEER_NONE || b->man_peer == slot)) {
        if (late_ok)
            f->peers[b->man_peer].late_allow++;
        if (f->peers[b->man_peer].man_out)
            f->peers[b->man_peer].man_out--;
        b->man_peer = PEER_NONE;
        f->dirty = true;
    }
    if (b->state != B_CHUNKS || b->asked == 0)
        return;
    for (uint32_t i = 0; i < b->n && b->asked; i++)
        if (b->cst[i] == C_ASKED && (slot == PEER_NONE || b->cpeer[i] == slot))
            unask(f, b, i, late_ok);
}

/* ---- the wanted list and the active blobs ---- */

static void inbox_drop_blob(kn_blobfetch *f, int bslot)
{
    size_t k = 0;
    for (size_t i = 0; i < f->ninbox; i++) {
        if (f->inbox[i].blob == bslot) {
            f->inbox_len -= f->inbox[i].len;
            free(f->inbox[i].data);
        } else {
            f->inbox[k++] = f->inbox[i];
        }
    }
    f->ninbox = k;
    f->blobs[bslot].inbox_n = 0;
    /* Its chunks being written stay with the write (the store may hold them after it). */
    for (size_t i = 0; i < f->nwriting; i++)
        if (f->writing[i].blob == bslot)
            f->writing[i].blob = -1;
}

/* Stops fetching b (what is stored stays); it may start again at retry_at. */
static void deactivate(kn_blobfetch *f, fblob *b, uint64_t retry_at)
{
    unask_all(f, b, PEER_NONE, true);
    inbox_drop_blob(f, (int)(b - f->blobs));
    if (b->man_unsaved)
        f->nmbox--;
    wanted_rec *w = kn_idmap_get(&f->wanted, b->id);
    if (w) {
        w->active = 0;
        w->retry_at = retry_at;
    }
    free(b->hashes);
    free(b->cst);
    free(b->cpeer);
    free(b->nonemask);
    memset(b, 0, sizeof *b);
    f->dirty = true;
}

static void announce_have(kn_blobfetch *f, const uint8_t id[KN_ID])
{
    for (int s = 0; s < KN_BLOBFETCH_PEERS_MAX; s++) {
        if (!f->peers[s].live)
            continue;
        if (kn_wire_write_ids(&f->out, KN_WIRE_BLOB_HAVE, (const uint8_t(*)[KN_ID])id, 1) == 0)
            send_msg(f, s);
        kn_mp_out_reset(&f->out);
    }
}

static void complete(kn_blobfetch *f, fblob *b, uint64_t now)
{
    kn_blobfetch_event ev = { .kind = KN_BLOBFETCH_DONE,
        .size = b->size,
        .chunks = b->n,
        .fetched = b->fetched,
        .had = b->had,
        .started_ms = b->started_ms };
    (void)now;
    memcpy(ev.blob, b->id, KN_ID);
    event(f, &ev);
    f->prog.completed++;
    announce_have(f, b->id);
    uint8_t id[KN_ID];
    memcpy(id, b->id, KN_ID);
    deactivate(f, b, 0);
    kn_idmap_del(&f->wanted, id);
}

/*
 * b has its manifest (hashes, n, size): from now on chunks; the store says
 * which it holds, unless the manifest is fresh (then it holds none).
 */
static int to_chunks(kn_blobfetch *f, fblob *b, bool fresh, uint64_t now)
{
    uint8_t *bits = calloc((size_t)b->n / 8 + 1, 1);
    b->cst = calloc((size_t)b->n + 1, 1);
    b->cpeer = malloc((size_t)b->n + 1);
    if (!bits || !b->cst || !b->cpeer) {
        free(bits);
        return KN_ENOMEM;
    }
    int rc = fresh ? 0 : f->cfg.store.present(f->cfg.store.ctx, b->id, bits, b->n);
    if (rc < 0) {
        free(bits);
        return rc;
    }
    memset(b->cpeer, PEER_NONE, (size_t)b->n + 1);
    b->state = B_CHUNKS;
    b->missing = b->remaining = b->n;
    b->cursor = 0;
    for (uint32_t i = 0; i < b->n; i++)
        if (bits[i / 8] >> (i % 8) & 1) {
            chunk_set(b, i, C_PRESENT);
            b->had++;
        }
    free(bits);
    if (b->remaining == 0)
        complete(f, b, now);
    f->dirty = true;
    return 0;
}

/* Starts fetching a wanted blob in the free slot b. */
static void activate(
    kn_blobfetch *f, fblob *b, const uint8_t id[KN_ID], wanted_rec *w, uint64_t now)
{
    memset(b, 0, sizeof *b);
    memcpy(b->id, id, KN_ID);
    b->man_peer = PEER_NONE;
    b->started_ms = now;
    b->state = B_MANIFEST;
    w->active = 1;
    uint64_t size;
    uint32_t n;
    uint8_t(*h)[KN_ID] = NULL;
    int rc = f->cfg.store.manifest_get(f->cfg.store.ctx, id, &size, &h, &n);
    if (rc == 0) {
        b->hashes = h;
        b->size = size;
        b->n = n;
    } else if (rc == KN_ENOTFOUND) {
        b->size = w->size;
        b->n = (uint32_t)kn_blobfetch_chunks(w->size);
        rc = (b->hashes = malloc((size_t)b->n * KN_ID + 1)) ? 0 : KN_ENOMEM;
        if (rc == 0 && b->n == 0) {
            /* An empty file needs nobody: its manifest is the empty list. */
            uint8_t empty[KN_ID];
            kn_blobfetch_blob_id(NULL, 0, empty);
            rc = memcmp(empty, id, KN_ID) != 0
                ? KN_ECORRUPT
                : f->cfg.store.manifest_put(f->cfg.store.ctx, id, 0, NULL, 0);
            if (rc == 0)
                rc = 1; /* have the manifest */
        }
        if (rc == 0) {
            f->dirty = true;
            return; /* fetch it */
        }
        if (rc == 1)
            rc = 0;
    }
    if (rc == 0)
        rc = to_chunks(f, b, false, now);
    if (rc < 0) {
        event_blob(f, KN_BLOBFETCH_STORE_FAILED, b, PEER_NONE, 0, rc);
        deactivate(f, b, now + RETRY_STORE_MS);
    }
}

typedef struct rescan_ctx {
    kn_blobfetch *f;
    size_t count;
} rescan_ctx;

static int rescan_visit(void *ctx, const uint8_t blob[KN_ID], uint64_t size)
{
    rescan_ctx *r = ctx;
    if (r->count >= KN_BLOBFETCH_WANTED_MAX)
        return 0; /* the rest waits for a later rescan */
    int created;
    wanted_rec *w = kn_idmap_put(&r->f->wanted, blob, &created);
    if (!w)
        return KN_ENOMEM;
    if (created || !w->active)
        w->size = size;
    w->seen = 1;
    r->count++;
    return 0;
}

static void rescan(kn_blobfetch *f, uint64_t now)
{
    f->rescan_now = false;
    f->next_rescan = now + f->cfg.rescan_ms;
    for (size_t i = 0; i < f->wanted.cap; i++) {
        wanted_rec *w = kn_idmap_slot(&f->wanted, i, NULL);
        if (w)
            w->seen = 0;
    }
    rescan_ctx r = { f, 0 };
    int rc = f->cfg.store.each_wanted(f->cfg.store.ctx, rescan_visit, &r);
    if (rc < 0)
        return; /* keep what we had; the next rescan tries again */
    /* Active blobs no longer wanted (retracted, or got by another way) stop. */
    for (unsigned i = 0; i < f->cfg.active_max; i++) {
        fblob *b = &f->blobs[i];
        wanted_rec *w = b->state != B_FREE ? kn_idmap_get(&f->wanted, b->id) : NULL;
        if (b->state != B_FREE && (!w || !w->seen))
            deactivate(f, b, 0);
    }
    for (size_t i = 0; i < f->wanted.cap;) {
        const uint8_t *id;
        wanted_rec *w = kn_idmap_slot(&f->wanted, i, &id);
        if (w && !w->seen) {
            uint8_t gone[KN_ID];
            memcpy(gone, id, KN_ID);
            kn_idmap_del(&f->wanted, gone); /* moves entries: look at slot i again */
            continue;
        }
        i++;
    }
    f->prog.wanted = f->wanted.count;
    f->dirty = true;
}

/*
 * Fills free blob slots from the wanted list, as long as the active blobs'
 * chunks stay within active_chunks (one blob may always be active, however
 * large: its state is a few bytes per chunk).
 */
static void fill_active(kn_blobfetch *f, uint64_t now)
{
    uint64_t chunks = 0;
    unsigned active = 0, slot = 0;
    for (unsigned i = 0; i < f->cfg.active_max; i++)
        if (f->blobs[i].state != B_FREE) {
            chunks += f->blobs[i].n;
            active++;
        }
    if (active == f->cfg.active_max || f->wanted.count <= active)
        return;
    for (size_t k = 0; k < f->wanted.cap; k++) {
        const uint8_t *id;
        wanted_rec *w = kn_idmap_slot(&f->wanted, k, &id);
        if (!w || w->active || w->retry_at > now)
            continue;
        if (w->size > KN_BLOBFETCH_SIZE_MAX) {
            w->retry_at = UINT64_MAX; /* never: far beyond any file we would hold */
            continue;
        }
        if (active && chunks + kn_blobfetch_chunks(w->size) > f->cfg.active_chunks)
            continue;
        while (slot < f->cfg.active_max && f->blobs[slot].state != B_FREE)
            slot++;
        if (slot == f->cfg.active_max)
            return;
        uint8_t bid[KN_ID];
        memcpy(bid, id, KN_ID);
        chunks += kn_blobfetch_chunks(w->size);
        active++;
        /* activate() may complete the blob at once, which deletes from the map: stop then. */
        size_t count = f->wanted.count;
        activate(f, &f->blobs[slot], bid, w, now);
        if (f->wanted.count != count)
            return;
    }
}

/* ---- writing what came ---- */

/* Something waits to be written: the time of the oldest, for the deadline. */
static bool inbox_waiting(const kn_blobfetch *f)
{
    return f->ninbox || f->nmbox;
}

/*
 * Writes what waits: the manifests fetched since the last write (with
 * put_batch) and the verified chunks, in one store call. With
 * put_batch_start the write runs beside the engine: the inbox becomes the
 * write under way and new chunks fill the other buffer; otherwise it is
 * written here and kn_blobfetch_written() follows at once. Nothing starts
 * while a write is under way.
 */
static void flush_inbox(kn_blobfetch *f, uint64_t now)
{
    if (f->write_busy || !inbox_waiting(f))
        return;
    held *spare = f->writing;
    f->writing = f->inbox;
    f->inbox = spare;
    f->nwriting = f->ninbox;
    f->writing_len = f->inbox_len;
    f->ninbox = 0;
    f->inbox_len = 0;
    f->nmbox = 0;
    f->write_busy = true;
    size_t n = f->nwriting, nm = 0;
    for (unsigned i = 0; i < f->cfg.active_max; i++) {
        fblob *b = &f->blobs[i];
        b->writing_n = b->inbox_n;
        b->inbox_n = 0;
        b->man_writing = b->state != B_FREE && b->man_unsaved;
        b->man_unsaved = false;
        nm += b->man_writing;
    }
    kn_blobfetch_chunk *c = malloc(n * sizeof *c + 1);
    kn_blobfetch_manifest *m = malloc(nm * sizeof *m + 1);
    int rc = c && m ? 0 : KN_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const held *h = &f->writing[i];
        fblob *b = &f->blobs[h->blob];
        c[i] = (kn_blobfetch_chunk) { .blob = b->id,
            .index = h->index,
            .hash = b->hashes[h->index],
            .data = h->data,
            .len = h->len };
    }
    for (unsigned i = 0, k = 0; rc == 0 && i < f->cfg.active_max; i++) {
        fblob *b = &f->blobs[i];
        if (b->man_writing)
            m[k++] = (kn_blobfetch_manifest) { b->id, b->size, (const uint8_t(*)[KN_ID])b->hashes,
                b->n };
    }
    bool started = false;
    if (rc == 0 && f->cfg.store.put_batch_start)
        started = f->cfg.store.put_batch_start(f->cfg.store.start_ctx, m, nm, c, n) == 0;
    if (rc == 0 && !started)
        rc = f->cfg.store.put_batch ? f->cfg.store.put_batch(f->cfg.store.ctx, m, nm, c, n)
                                    : f->cfg.store.put_chunks(f->cfg.store.ctx, c, n);
    free(c);
    free(m);
    if (!started)
        kn_blobfetch_written(f, rc, now);
}

void kn_blobfetch_written(kn_blobfetch *f, int rc, uint64_t now)
{
    if (!f->write_busy)
        return;
    for (size_t i = 0; i < f->nwriting; i++) {
        const held *h = &f->writing[i];
        if (h->blob >= 0)
            chunk_set(&f->blobs[h->blob], h->index, rc == 0 ? C_PRESENT : C_MISSING);
        free(h->data);
    }
    f->nwriting = 0;
    f->writing_len = 0;
    f->write_busy = false;
    f->dirty = true;
    for (unsigned i = 0; i < f->cfg.active_max; i++) {
        fblob *b = &f->blobs[i];
        bool involved = b->writing_n || b->man_writing;
        b->writing_n = 0;
        b->man_writing = false;
        if (!involved || b->state != B_CHUNKS)
            continue;
        if (rc < 0) {
            event_blob(f, KN_BLOBFETCH_STORE_FAILED, b, PEER_NONE, 0, rc);
            deactivate(f, b, now + RETRY_STORE_MS);
        } else if (b->remaining == 0) {
            complete(f, b, now);
        }
    }
    /* What came meanwhile goes next, if it is enough for a write already. */
    if (f->ninbox >= f->cfg.inbox_max || f->inbox_len >= f->cfg.inbox_bytes)
        flush_inbox(f, now);
}

/* Chunks held in memory (inbox and write under way), and their bytes: they count against
 * total_inflight and total_bytes, so memory stays bounded however slow the store. */
static size_t held_n(const kn_blobfetch *f)
{
    return f->ninbox + f->nwriting;
}

static uint64_t held_bytes(const kn_blobfetch *f)
{
    return f->inbox_len + f->writing_len;
}

/* ---- asking ---- */

static void send_want(kn_blobfetch *f, int slot, const fblob *b, const uint32_t *idx, size_t n)
{
    if (n && kn_wire_write_blob_idx(&f->out, KN_WIRE_BLOB_WANT, b->id, idx, n) == 0)
        send_msg(f, slot);
    kn_mp_out_reset(&f->out);
}

static void ask_manifest(kn_blobfetch *f, fblob *b, int slot, uint64_t now)
{
    b->man_peer = slot;
    b->man_deadline = now + f->cfg.stall_ms;
    f->peers[slot].man_out++;
    if (kn_wire_write_manifest_want(&f->out, b->id, b->man_have) == 0)
        send_msg(f, slot);
    kn_mp_out_reset(&f->out);
}

/* The live slot that may be asked for b and has the fewest chunks out; PEER_NONE if none. */
static int pick_peer(const kn_blobfetch *f, const fblob *b, uint64_t now)
{
    int best = PEER_NONE;
    for (int k = 0; k < KN_BLOBFETCH_PEERS_MAX; k++) {
        int s = (int)((f->rotate + (unsigned)k) % KN_BLOBFETCH_PEERS_MAX);
        if (askable(f, b, s, now)
            && (best == PEER_NONE || f->peers[s].inflight < f->peers[best].inflight))
            best = s;
    }
    return best;
}

/* The first chunk of b from `from` on that is missing and slot has not said it lacks; or b->n. */
static uint32_t next_for(const fblob *b, int slot, uint32_t from)
{
    uint64_t bit = 1ull << slot;
    for (uint32_t i = from; i < b->n; i++)
        if (b->cst[i] == C_MISSING && !(b->nonemask && b->nonemask[i] & bit))
            return i;
    return b->n;
}

/* Asks slot for up to `quota` missing chunks, blob by blob. Returns how many it asked. */
static unsigned ask_chunks(kn_blobfetch *f, int slot, unsigned quota, uint64_t now)
{
    bpeer *p = &f->peers[slot];
    unsigned asked = 0;
    for (unsigned k = 0; k < f->cfg.active_max && asked < quota; k++) {
        fblob *b = &f->blobs[(f->rotate + k) % f->cfg.active_max];
        if (b->state != B_CHUNKS || b->missing == 0 || !askable(f, b, slot, now))
            continue;
        while (b->cursor < b->n && b->cst[b->cursor] != C_MISSING)
            b->cursor++;
        uint32_t idx[KN_WIRE_CHUNK_IDX_MAX];
        size_t n = 0;
        uint32_t i = next_for(b, slot, b->cursor);
        if (i == b->n) {
            lack(f, b, slot, now); /* it lacks every missing chunk: try it again later */
            continue;
        }
        for (; i < b->n && asked < quota && p->inflight_bytes < f->cfg.peer_bytes
             && f->inflight_bytes + held_bytes(f) < f->cfg.total_bytes;
             i = next_for(b, slot, i + 1)) {
            chunk_set(b, i, C_ASKED);
            b->cpeer[i] = (int8_t)slot;
            if (p->inflight++ == 0)
                p->wait_since = now;
            f->inflight++;
            p->inflight_bytes += chunk_len(b, i);
            f->inflight_bytes += chunk_len(b, i);
            asked++;
            idx[n++] = i;
            if (n == KN_WIRE_CHUNK_IDX_MAX) {
                send_want(f, slot, b, idx, n);
                n = 0;
            }
        }
        send_want(f, slot, b, idx, n);
    }
    return asked;
}

/* Whether slot could take a chunk request for some active blob now. */
static bool wants_from(const kn_blobfetch *f, int slot, uint64_t now)
{
    for (unsigned i = 0; i < f->cfg.active_max; i++) {
        const fblob *b = &f->blobs[i];
        if (b->state == B_CHUNKS && b->missing && askable(f, b, slot, now))
            return true;
    }
    return false;
}

/*
 * Hands out requests: a manifest page for each blob that waits for one, then
 * the free chunk slots, spread round-robin over the peers that can take
 * them (a peer's share it cannot use goes to the others in the next pass).
 */
static void schedule(kn_blobfetch *f, uint64_t now)
{
    f->dirty = false;
    for (unsigned i = 0; i < f->cfg.active_max; i++) {
        fblob *b = &f->blobs[i];
        if (b->state == B_MANIFEST && b->man_peer == PEER_NONE) {
            int s = pick_peer(f, b, now);
            if (s != PEER_NONE && f->peers[s].man_out < MAN_PEER_MAX)
                ask_manifest(f, b, s, now);
        }
    }
    for (int pass = 0; pass < 4 && f->inflight + held_n(f) < f->cfg.total_inflight
         && f->inflight_bytes + held_bytes(f) < f->cfg.total_bytes;
         pass++) {
        unsigned quota[KN_BLOBFETCH_PEERS_MAX] = { 0 };
        unsigned free_total = f->cfg.total_inflight - f->inflight - (unsigned)held_n(f);
        bool any = false;
        for (int s = 0; s < KN_BLOBFETCH_PEERS_MAX; s++)
            if (f->peers[s].live && f->peers[s].inflight < f->cfg.peer_inflight
                && f->peers[s].inflight_bytes < f->cfg.peer_bytes && wants_from(f, s, now)) {
                quota[s] = f->cfg.peer_inflight - f->peers[s].inflight;
                any = true;
            }
        if (!any)
            break;
        /* Round-robin one slot at a time, from a rotating start, until the total is shared. */
        unsigned share[KN_BLOBFETCH_PEERS_MAX] = { 0 };
        for (bool more = true; more && free_total;) {
            more = false;
            for (int k = 0; k < KN_BLOBFETCH_PEERS_MAX && free_total; k++) {
                int s = (int)((f->rotate + (unsigned)k) % KN_BLOBFETCH_PEERS_MAX);
                if (share[s] < quota[s]) {
                    share[s]++;
                    free_total--;
                    more = true;
                }
            }
        }
        unsigned got = 0;
        for (int s = 0; s < KN_BLOBFETCH_PEERS_MAX; s++)
            if (share[s])
                got += ask_chunks(f, s, share[s], now);
        if (got == 0)
            break;
    }
    f->rotate++;
}

/* ---- timers ---- */

static void check_timeouts(kn_blobfetch *f, uint64_t now)
{
    for (int s = 0; s < KN_BLOBFETCH_PEERS_MAX; s++) {
        bpeer *p = &f->peers[s];
        if (!p->live || p->inflight == 0 || now - p->wait_since < f->cfg.stall_ms)
            continue;
        for (unsigned i = 0; i < f->cfg.active_max; i++) {
            fblob *b = &f->blobs[i];
            if (b->state != B_CHUNKS)
                continue;
            uint32_t before = b->asked;
            unask_all(f, b, s, true);
            if (b->asked != before) {
                lack(f, b, s, now);
                event_blob(f, KN_BLOBFETCH_STALLED, b, s, 0, 0);
            }
        }
        p->inflight = 0;
        p->inflight_bytes = 0;
    }
    for (unsigned i = 0; i < f->cfg.active_max; i++) {
        fblob *b = &f->blobs[i];
        if (b->state == B_MANIFEST && b->man_peer != PEER_NONE && now >= b->man_deadline) {
            int s = b->man_peer;
            unask_all(f, b, s, true);
            lack(f, b, s, now);
            event_blob(f, KN_BLOBFETCH_STALLED, b, s, 0, 0);
        }
    }
}

/*
 * An active blob that nobody can give us now (every live peer said it lacks
 * it, or none is connected) yields its slot after IDLE_MS if other blobs
 * wait, and is tried again later.
 */
static void check_idle(kn_blobfetch *f, uint64_t now)
{
    bool others_wait = f->wanted.count > f->prog.active;
    for (unsigned i = 0; i < f->cfg.active_max; i++) {
        fblob *b = &f->blobs[i];
        if (b->state == B_FREE)
            continue;
        bool busy = b->asked || b->man_peer != PEER_NONE;
        bool anyone = false;
        for (int s = 0; s < KN_BLOBFETCH_PEERS_MAX && !busy && !anyone; s++)
            anyone = askable(f, b, s, now);
        bool holding = b->state == B_CHUNKS && b->missing < b->remaining;
        if (busy || anyone || holding) {
            b->idle_since = 0;
            continue;
        }
        if (!b->idle_since)
            b->idle_since = now;
        else if (others_wait && now - b->idle_since >= IDLE_MS)
            deactivate(f, b, now + RETRY_NOBODY_MS);
    }
}

static uint64_t next_deadline(const kn_blobfetch *f, uint64_t now)
{
    uint64_t next = f->next_rescan;
    if (f->dirty)
        return now;
    if (inbox_waiting(f) && !f->write_busy && f->inbox_since + INBOX_WAIT_MS < next)
        next = f->inbox_since + INBOX_WAIT_MS;
    for (int s = 0; s < KN_BLOBFETCH_PEERS_MAX; s++) {
        const bpeer *p = &f->peers[s];
        if (p->live && p->inflight && p->wait_since + f->cfg.stall_ms < next)
            next = p->wait_since + f->cfg.stall_ms;
    }
    for (unsigned i = 0; i < f->cfg.active_max; i++) {
        const fblob *b = &f->blobs[i];
        if (b->state == B_FREE)
            continue;
        if (b->state == B_MANIFEST && b->man_peer != PEER_NONE && b->man_deadline < next)
            next = b->man_deadline;
        if (b->idle_since && b->idle_since + IDLE_MS < next)
            next = b->idle_since + IDLE_MS;
        for (int s = 0; s < KN_BLOBFETCH_PEERS_MAX; s++)
            if (f->peers[s].live && b->lack_until[s] > now && b->lack_until[s] < next)
                next = b->lack_until[s];
    }
    /* Blobs waiting for their retry time. */
    if (f->wanted.count > f->prog.active)
        for (size_t k = 0; k < f->wanted.cap; k++) {
            const wanted_rec *w = kn_idmap_slot(&f->wanted, k, NULL);
            if (w && !w->active && w->retry_at > now && w->retry_at < next)
                next = w->retry_at;
        }
    return next > now ? next : now;
}

/* ---- serving ---- */

/*
 * Sends the gathered blob-none. It has its own buffer: serve() calls it with
 * a chunk message already built in `out`, which must leave after it.
 */
static void flush_none(kn_blobfetch *f, int slot)
{
    if (!f->nnone)
        return;
    if (kn_wire_write_blob_idx(&f->nout, KN_WIRE_BLOB_NONE, f->none_blob, f->none_idx, f->nnone)
            == 0
        && f->peers[slot].live)
        (void)f->cfg.send(f->cfg.send_ctx, f->peers[slot].id, f->nout.buf, f->nout.len);
    kn_mp_out_reset(&f->nout);
    f->nnone = 0;
}

static void add_none(kn_blobfetch *f, int slot, const uint8_t blob[KN_ID], uint32_t index)
{
    if (f->nnone && (memcmp(f->none_blob, blob, KN_ID) != 0 || f->nnone == KN_WIRE_CHUNK_IDX_MAX))
        flush_none(f, slot);
    memcpy(f->none_blob, blob, KN_ID);
    f->none_idx[f->nnone++] = index;
}

typedef struct serve_ctx {
    kn_blobfetch *f;
    const sreq *r;
} serve_ctx;

static int serve_chunk_bytes(void *ctx, const uint8_t *data, size_t len)
{
    serve_ctx *sc = ctx;
    kn_mp_out *o = &sc->f->out;
    int rc = kn_wire_write_blob_chunk_head(o, sc->r->blob, sc->r->index, len);
    if (rc < 0)
        return rc;
    kn_mp_write_raw(o, data, len);
    if (sc->f->cfg.test_corrupt_served && len && kn_mp_out_error(o) == 0)
        o->buf[o->len - 1 - len / 2] ^= 0x01; /* tests only: a faulty peer */
    return kn_mp_out_error(o);
}

static void serve_manifest(kn_blobfetch *f, int slot, const sreq *r)
{
    uint64_t size;
    uint32_t n;
    uint8_t(*h)[KN_ID] = NULL;
    int rc = f->cfg.store.manifest_get(f->cfg.store.ctx, r->blob, &size, &h, &n);
    if (rc == 0 && (r->index < n || (n == 0 && r->index == 0))) {
        uint32_t count
            = n - r->index < KN_WIRE_MANIFEST_PAGE ? n - r->index : KN_WIRE_MANIFEST_PAGE;
        if (kn_wire_write_manifest(
                &f->out, r->blob, size, r->index, (const uint8_t(*)[KN_ID])(h + r->index), count)
            == 0)
            send_msg(f, slot);
    } else {
        uint32_t none = 0;
        if (kn_wire_write_blob_idx(&f->out, KN_WIRE_BLOB_NONE, r->blob, &none, 0) == 0)
            send_msg(f, slot);
    }
    kn_mp_out_reset(&f->out);
    free(h);
}

/* The serve_rate bucket: true if a chunk may be served now. */
static bool serve_allowed(kn_blobfetch *f, uint64_t now)
{
    if (!f->cfg.serve_rate)
        return true;
    if (now > f->serve_refill_ms) {
        int64_t burst = (int64_t)(f->cfg.serve_rate / 4 > KN_BLOBFETCH_CHUNK ? f->cfg.serve_rate / 4
                                                                             : KN_BLOBFETCH_CHUNK);
        uint64_t add = f->cfg.serve_rate * (now - f->serve_refill_ms) / 1000;
        f->serve_tokens
            = f->serve_tokens + (int64_t)add > burst ? burst : f->serve_tokens + (int64_t)add;
        f->serve_refill_ms = now;
    }
    return f->serve_tokens > 0;
}

/* When the serve_rate bucket allows the next chunk (now if it does or there is no limit). */
static uint64_t serve_due(const kn_blobfetch *f, uint64_t now)
{
    if (!f->cfg.serve_rate || f->serve_tokens > 0)
        return now;
    return now + (uint64_t)(1 - f->serve_tokens) * 1000 / f->cfg.serve_rate + 1;
}

/*
 * Answers slot's requests in order while its transport holds less than
 * serve_bytes and the serve_rate bucket allows.
 */
static void serve(kn_blobfetch *f, int slot, uint64_t now)
{
    bpeer *p = &f->peers[slot];
    while (p->live && p->sq_n && queued(f, slot) < f->cfg.serve_bytes && serve_allowed(f, now)) {
        sreq r = p->sq[p->sq_head];
        p->sq_head = (p->sq_head + 1) % KN_BLOBFETCH_SERVE_QUEUE;
        p->sq_n--;
        if (r.manifest) {
            flush_none(f, slot);
            serve_manifest(f, slot, &r);
            continue;
        }
        serve_ctx sc = { f, &r };
        kn_mp_out_reset(&f->out);
        int rc = f->cfg.store.read_chunk(f->cfg.store.ctx, r.blob, r.index, serve_chunk_bytes, &sc);
        if (rc == 0) {
            flush_none(f, slot);
            size_t len = f->out.len;
            send_msg(f, slot);
            p->st.chunks_out++;
            p->st.bytes_out += len;
            f->serve_tokens -= (int64_t)len;
        } else {
            kn_mp_out_reset(&f->out);
            add_none(f, slot, r.blob, r.index);
        }
    }
    if (p->live)
        flush_none(f, slot);
    else
        f->nnone = 0;
}

static int enqueue(kn_blobfetch *f, int slot, const uint8_t blob[KN_ID], uint32_t index, bool man)
{
    bpeer *p = &f->peers[slot];
    if (p->sq_n == KN_BLOBFETCH_SERVE_QUEUE)
        return KN_ELIMIT;
    if (!p->sq && !(p->sq = malloc(KN_BLOBFETCH_SERVE_QUEUE * sizeof *p->sq)))
        return KN_ENOMEM;
    sreq *r = &p->sq[(p->sq_head + p->sq_n++) % KN_BLOBFETCH_SERVE_QUEUE];
    memcpy(r->blob, blob, KN_ID);
    r->index = index;
    r->manifest = man;
    return 0;
}

/* ---- receiving ---- */

/* An answer nothing is waiting for: allowed only as a late answer to a request we gave up. */
static int unsolicited(bpeer *p)
{
    if (p->late_allow == 0)
        return KN_EPROTO;
    p->late_allow--;
    return 0;
}

static void corrupt(kn_blobfetch *f, fblob *b, int slot, uint32_t index)
{
    bpeer *p = &f->peers[slot];
    p->st.corrupt++;
    f->prog.corrupt++;
    b->bad_mask |= 1ull << slot;
    event_blob(f, KN_BLOBFETCH_CORRUPT, b, slot, index, 0);
    /* What else it was asked for this blob goes elsewhere too; its answers are still allowed. */
    unask_all(f, b, slot, true);
    if (p->st.corrupt >= f->cfg.bad_max && !p->faulted)
        p->fault_due = true;
}

static int on_chunk(kn_blobfetch *f, int slot, const kn_wire_msg *m, uint64_t now)
{
    bpeer *p = &f->peers[slot];
    fblob *b = find_blob(f, m->blob);
    if (!b || b->state != B_CHUNKS || m->index >= b->n)
        return unsolicited(p);
    uint32_t i = m->index;
    if (b->cst[i] == C_ASKED && b->cpeer[i] == slot) {
        unask(f, b, i, false);
    } else {
        int rc = unsolicited(p);
        if (rc < 0)
            return rc;
        if (b->cst[i] != C_MISSING)
            return 0; /* came by another way meanwhile */
    }
    p->wait_since = now;
    f->dirty = true;
    uint8_t h[KN_ID];
    if (m->data_len != chunk_len(b, i)) {
        corrupt(f, b, slot, i);
        return 0;
    }
    kn_blob_chunk_hash(h, m->data, m->data_len);
    if (memcmp(h, b->hashes[i], KN_ID) != 0) {
        corrupt(f, b, slot, i);
        return 0;
    }
    if (f->ninbox == f->inbox_cap)
        return 0; /* a late answer beyond the inbox while the store writes: asked again */
    uint8_t *copy = malloc(m->data_len + 1);
    if (!copy)
        return 0; /* stays missing: asked again */
    memcpy(copy, m->data, m->data_len);
    if (!inbox_waiting(f))
        f->inbox_since = now;
    f->inbox[f->ninbox++] = (held) { (int)(b - f->blobs), i, copy, m->data_len };
    f->inbox_len += m->data_len;
    b->inbox_n++;
    chunk_set(b, i, C_HELD);
    b->fetched++;
    b->lack_n[slot] = 0;
    b->gave_mask |= 1ull << slot;
    p->st.chunks_in++;
    p->st.bytes_in += m->data_len;
    f->prog.fetched_chunks++;
    f->prog.fetched_bytes += m->data_len;
    /* Written at once when the inbox is full, else within INBOX_WAIT_MS (tick). */
    if (f->ninbox >= f->cfg.inbox_max || f->inbox_len >= f->cfg.inbox_bytes)
        flush_inbox(f, now);
    return 0;
}

static void on_manifest(kn_blobfetch *f, int slot, const kn_wire_msg *m, uint64_t now, int *rc)
{
    bpeer *p = &f->peers[slot];
    fblob *b = find_blob(f, m->blob);
    if (!b || b->state != B_MANIFEST || b->man_peer != slot || m->first != b->man_have) {
        *rc = unsolicited(p);
        return;
    }
    p->wait_since = now;
    b->man_peer = PEER_NONE;
    if (p->man_out)
        p->man_out--;
    f->dirty = true;
    uint32_t expect
        = b->n - b->man_have < KN_WIRE_MANIFEST_PAGE ? b->n - b->man_have : KN_WIRE_MANIFEST_PAGE;
    if (m->size != b->size || m->nids != expect) {
        b->man_have = 0;
        corrupt(f, b, slot, UINT32_MAX);
        return;
    }
    for (uint32_t i = 0; i < m->nids; i++)
        memcpy(b->hashes[b->man_have + i], kn_wire_id(m, i), KN_ID);
    b->man_have += m->nids;
    if (b->man_have < b->n) {
        ask_manifest(f, b, slot, now);
        return;
    }
    uint8_t id[KN_ID];
    kn_blobfetch_blob_id((const uint8_t(*)[KN_ID])b->hashes, b->n, id);
    if (memcmp(id, b->id, KN_ID) != 0) {
        b->man_have = 0;
        corrupt(f, b, slot, UINT32_MAX);
        return;
    }
    int src = 0;
    if (f->cfg.store.put_batch) {
        /* Stored with the first chunks, in one transaction. */
        if (!inbox_waiting(f))
            f->inbox_since = now;
        b->man_unsaved = true;
        f->nmbox++;
    } else {
        src = f->cfg.store.manifest_put(
            f->cfg.store.ctx, b->id, b->size, (const uint8_t(*)[KN_ID])b->hashes, b->n);
    }
    if (src == 0)
        src = to_chunks(f, b, f->cfg.store.put_batch != NULL, now);
    if (src < 0) {
        event_blob(f, KN_BLOBFETCH_STORE_FAILED, b, PEER_NONE, 0, src);
        deactivate(f, b, now + RETRY_STORE_MS);
    }
}

static void on_none(kn_blobfetch *f, int slot, const kn_wire_msg *m, uint64_t now, int *rc)
{
    bpeer *p = &f->peers[slot];
    fblob *b = find_blob(f, m->blob);
    p->wait_since = now;
    if (!b) {
        *rc = unsolicited(p);
        return;
    }
    if (m->nidx == 0) {
        if (b->state == B_MANIFEST && b->man_peer == slot) {
            b->man_peer = PEER_NONE;
            if (p->man_out)
                p->man_out--;
        } else
            *rc = unsolicited(p);
        lack(f, b, slot, now);
        f->dirty = true;
        return;
    }
    if (b->state == B_CHUNKS && !b->nonemask
        && !(b->nonemask = calloc((size_t)b->n + 1, sizeof *b->nonemask))) {
        unask_all(f, b, slot, true);
        lack(f, b, slot, now);
        return;
    }
    for (uint32_t k = 0; k < m->nidx && *rc == 0; k++) {
        uint32_t i = m->idx[k];
        if (b->state == B_CHUNKS && i < b->n && b->cst[i] == C_ASKED && b->cpeer[i] == slot) {
            unask(f, b, i, false);
            b->nonemask[i] |= 1ull << slot;
        } else {
            *rc = unsolicited(p);
        }
    }
    /* A peer that gave nothing since its last blob-none probably has nothing more for now. */
    if (b->gave_mask >> slot & 1)
        b->gave_mask &= ~(1ull << slot);
    else
        lack(f, b, slot, now);
    f->dirty = true;
}

static void on_have(kn_blobfetch *f, int slot, const kn_wire_msg *m)
{
    for (uint32_t k = 0; k < m->nids; k++) {
        const uint8_t *id = kn_wire_id(m, k);
        fblob *b = find_blob(f, id);
        if (b) {
            b->lack_until[slot] = 0;
            b->lack_n[slot] = 0;
            forget_nones(b, slot);
            f->dirty = true;
        }
        wanted_rec *w = kn_idmap_get(&f->wanted, id);
        if (w && !w->active && w->retry_at) {
            w->retry_at = 0;
            f->dirty = true;
        }
    }
}

int kn_blobfetch_receive(kn_blobfetch *f, uint64_t peer, const kn_wire_msg *m, uint64_t now)
{
    int slot = slot_of(f, peer);
    if (slot == PEER_NONE)
        return KN_ENOTFOUND;
    int rc = 0;
    switch (m->kind) {
    case KN_WIRE_BLOB_HAVE:
        on_have(f, slot, m);
        break;
    case KN_WIRE_MANIFEST_WANT:
        if ((rc = enqueue(f, slot, m->blob, m->first, true)) == 0)
            serve(f, slot, now);
        break;
    case KN_WIRE_BLOB_WANT:
        if (f->peers[slot].sq_n + m->nidx > KN_BLOBFETCH_SERVE_QUEUE)
            return KN_ELIMIT;
        for (uint32_t k = 0; k < m->nidx && rc == 0; k++)
            rc = enqueue(f, slot, m->blob, m->idx[k], false);
        if (rc == 0)
            serve(f, slot, now);
        break;
    case KN_WIRE_MANIFEST:
        on_manifest(f, slot, m, now, &rc);
        break;
    case KN_WIRE_BLOB_CHUNK:
        rc = on_chunk(f, slot, m, now);
        break;
    case KN_WIRE_BLOB_NONE:
        on_none(f, slot, m, now, &rc);
        break;
    default:
        return KN_EINVAL;
    }
    return rc;
}

/* ---- lifecycle ---- */

int kn_blobfetch_new(kn_blobfetch **out, const kn_blobfetch_config *cfg)
{
    const kn_blobfetch_store *s = &cfg->store;
    if (!cfg->send || !s->each_wanted || !s->manifest_get || !s->manifest_put || !s->present
        || !s->put_chunks || !s->read_chunk)
        return KN_EINVAL;
    kn_blobfetch *f = calloc(1, sizeof *f);
    if (!f)
        return KN_ENOMEM;
    f->cfg = *cfg;
    kn_blobfetch_config *c = &f->cfg;
    if (!c->peer_inflight || c->peer_inflight > KN_BLOBFETCH_SERVE_QUEUE / 4)
        c->peer_inflight = KN_BLOBFETCH_SERVE_QUEUE / 4; /* well within what a server queues */
    if (!c->total_inflight || c->total_inflight > KN_BLOBFETCH_BATCH_MAX)
        c->total_inflight = KN_BLOBFETCH_BATCH_MAX;
    if (!c->peer_bytes)
        c->peer_bytes = 4u << 20;
    if (!c->total_bytes)
        c->total_bytes = 16u << 20;
    if (!c->active_max)
        c->active_max = 128;
    if (c->active_max > 1024)
        c->active_max = 1024;
    if (!c->active_chunks)
        c->active_chunks = 16384;
    if (!c->inbox_max || c->inbox_max > 64)
        c->inbox_max = 64;
    if (!c->inbox_bytes)
        c->inbox_bytes = 2u << 20;
    if (!c->stall_ms)
        c->stall_ms = 15000;
    if (!c->lack_ms)
        c->lack_ms = 1000;
    if (!c->rescan_ms)
        c->rescan_ms = 10000;
    if (!c->serve_bytes)
        c->serve_bytes = 2u << 20;
    if (!c->bad_max)
        c->bad_max = 3;
    f->blobs = calloc(c->active_max, sizeof *f->blobs);
    f->inbox_cap = c->total_inflight > c->inbox_max ? c->total_inflight : c->inbox_max;
    f->inbox = calloc(f->inbox_cap, sizeof *f->inbox);
    f->writing = calloc(f->inbox_cap, sizeof *f->writing);
    if (!f->blobs || !f->inbox || !f->writing) {
        free(f->blobs);
        free(f->inbox);
        free(f->writing);
        free(f);
        return KN_ENOMEM;
    }
    kn_idmap_init(&f->wanted, sizeof(wanted_rec));
    kn_mp_out_init(&f->out, KN_WIRE_MSG_MAX);
    kn_mp_out_init(&f->nout, KN_WIRE_MSG_MAX);
    f->rescan_now = true;
    f->dirty = true;
    *out = f;
    return 0;
}

void kn_blobfetch_free(kn_blobfetch *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->ninbox; i++)
        free(f->inbox[i].data);
    for (size_t i = 0; i < f->nwriting; i++)
        free(f->writing[i].data);
    for (unsigned i = 0; i < f->cfg.active_max; i++) {
        free(f->blobs[i].hashes);
        free(f->blobs[i].cst);
        free(f->blobs[i].cpeer);
        free(f->blobs[i].nonemask);
    }
    for (int s = 0; s < KN_BLOBFETCH_PEERS_MAX; s++)
        free(f->peers[s].sq);
    free(f->blobs);
    free(f->inbox);
    free(f->writing);
    kn_idmap_free(&f->wanted);
    kn_mp_out_free(&f->out);
    kn_mp_out_free(&f->nout);
    free(f);
}

int kn_blobfetch_peer_up(kn_blobfetch *f, uint64_t peer, uint64_t now)
{
    (void)now;
    if (slot_of(f, peer) != PEER_NONE)
        return KN_EEXIST;
    for (int s = 0; s < KN_BLOBFETCH_PEERS_MAX; s++) {
        bpeer *p = &f->peers[s];
        if (p->live)
            continue;
        sreq *sq = p->sq;
        memset(p, 0, sizeof *p);
        p->sq = sq;
        p->live = true;
        p->id = peer;
        for (unsigned i = 0; i < f->cfg.active_max; i++) {
            f->blobs[i].lack_until[s] = 0;
            f->blobs[i].lack_n[s] = 0;
            f->blobs[i].bad_mask &= ~(1ull << s);
            forget_nones(&f->blobs[i], s);
        }
        f->dirty = true;
        return 0;
    }
    return KN_ELIMIT;
}

int kn_blobfetch_peer_distrust(kn_blobfetch *f, uint64_t peer)
{
    int s = slot_of(f, peer);
    if (s == PEER_NONE)
        return KN_ENOTFOUND;
    f->peers[s].suspect = true;
    f->dirty = true;
    return 0;
}

void kn_blobfetch_peer_down(kn_blobfetch *f, uint64_t peer, uint64_t now)
{
    (void)now;
    int s = slot_of(f, peer);
    if (s == PEER_NONE)
        return;
    for (unsigned i = 0; i < f->cfg.active_max; i++)
        if (f->blobs[i].state != B_FREE)
            unask_all(f, &f->blobs[i], s, false);
    bpeer *p = &f->peers[s];
    p->live = false;
    p->sq_n = p->sq_head = 0;
    p->inflight = 0;
    p->inflight_bytes = 0;
    f->dirty = true;
}

void kn_blobfetch_rescan(kn_blobfetch *f)
{
    f->rescan_now = true;
    f->dirty = true;
}

uint64_t kn_blobfetch_tick(kn_blobfetch *f, uint64_t now)
{
    if (inbox_waiting(f) && (now >= f->inbox_since + INBOX_WAIT_MS || f->rescan_now))
        flush_inbox(f, now);
    if (f->rescan_now || now >= f->next_rescan)
        rescan(f, now);
    check_timeouts(f, now);
    fill_active(f, now);
    f->prog.active = 0;
    for (unsigned i = 0; i < f->cfg.active_max; i++)
        f->prog.active += f->blobs[i].state != B_FREE;
    check_idle(f, now);
    fill_active(f, now);
    schedule(f, now);
    /*
     * Round-robin: the peer after the last one served comes first, so that
     * under serve_rate every peer waiting gets its turn.
     */
    for (unsigned k = 0, start = f->serve_next; k < KN_BLOBFETCH_PEERS_MAX; k++) {
        int s = (int)((start + k) % KN_BLOBFETCH_PEERS_MAX);
        if (!f->peers[s].live || !f->peers[s].sq_n)
            continue;
        uint64_t before = f->peers[s].st.chunks_out;
        serve(f, s, now);
        if (f->peers[s].st.chunks_out != before)
            f->serve_next = (unsigned)s + 1;
    }
    uint64_t next = next_deadline(f, now);
    if (kn_blobfetch_busy(f) && serve_due(f, now) < next)
        next = serve_due(f, now);
    return next;
}

bool kn_blobfetch_busy(const kn_blobfetch *f)
{
    for (int s = 0; s < KN_BLOBFETCH_PEERS_MAX; s++)
        if (f->peers[s].live && f->peers[s].sq_n)
            return true;
    return false;
}

bool kn_blobfetch_take_fault(kn_blobfetch *f, uint64_t *peer)
{
    for (int s = 0; s < KN_BLOBFETCH_PEERS_MAX; s++) {
        bpeer *p = &f->peers[s];
        if (p->live && p->fault_due && !p->faulted) {
            p->faulted = true;
            p->fault_due = false;
            *peer = p->id;
            return true;
        }
    }
    return false;
}

bool kn_blobfetch_take_event(kn_blobfetch *f, kn_blobfetch_event *ev)
{
    if (!f->ev_n)
        return false;
    *ev = f->events[f->ev_head];
    f->ev_head = (f->ev_head + 1) % EVENTS_MAX;
    f->ev_n--;
    return true;
}

int kn_blobfetch_peer_get_stats(const kn_blobfetch *f, uint64_t peer, kn_blobfetch_peer_stats *st)
{
    int s = slot_of(f, peer);
    if (s == PEER_NONE)
        return KN_ENOTFOUND;
    *st = f->peers[s].st;
    st->inflight = f->peers[s].inflight;
    return 0;
}

void kn_blobfetch_get_progress(const kn_blobfetch *f, kn_blobfetch_progress *p)
{
    *p = f->prog;
    p->wanted = f->wanted.count;
    p->active = 0;
    p->active_bytes = p->active_missing_bytes = 0;
    for (unsigned i = 0; i < f->cfg.active_max; i++) {
        const fblob *b = &f->blobs[i];
        if (b->state == B_FREE)
            continue;
        p->active++;
        p->active_bytes += b->size;
        if (b->state == B_MANIFEST)
            p->active_missing_bytes += b->size;
        else if (b->n)
            p->active_missing_bytes += b->size / b->n * b->remaining;
    }
    p->inflight = f->inflight;
}
