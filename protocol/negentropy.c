/*
 * The Negentropy V1 engine: message encoding and the reconciliation rounds.
 *
 * The splitting and cut-off rules below are the protocol as the reference
 * implementation runs it, since its suite compares messages byte for byte:
 * see the comments at split_range() and reconcile() for the exact rules.
 */
#include "negentropy.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"

enum {
    MODE_SKIP = 0,
    MODE_FINGERPRINT = 1,
    MODE_IDLIST = 2,
    BUCKETS = 16,
    /* Ranges with fewer items than this are sent as id lists. */
    IDLIST_BELOW = 2 * BUCKETS,
    /* Room kept free under the frame size limit for the closing range. */
    FRAME_SLACK = 200,
    VERSION_LOWEST = 0x60,
    VERSION_HIGHEST = 0x6f,
};

/* ---- sums, fingerprints, varints ---- */

void kn_neg_sum_add(uint8_t acc[static KN_NEG_ID], const uint8_t id[static KN_NEG_ID])
{
    unsigned carry = 0;
    for (size_t i = 0; i < KN_NEG_ID; i++) {
        unsigned s = (unsigned)acc[i] + id[i] + carry;
        acc[i] = (uint8_t)s;
        carry = s >> 8;
    }
}

void kn_neg_sum_sub(uint8_t acc[static KN_NEG_ID], const uint8_t id[static KN_NEG_ID])
{
    unsigned borrow = 0;
    for (size_t i = 0; i < KN_NEG_ID; i++) {
        unsigned d = (unsigned)acc[i] - id[i] - borrow;
        acc[i] = (uint8_t)d;
        borrow = (d >> 8) & 1;
    }
}

size_t kn_neg_varint_encode(uint8_t out[static KN_NEG_VARINT_MAX], uint64_t v)
{
    uint8_t tmp[KN_NEG_VARINT_MAX];
    size_t n = 0;
    do {
        tmp[n++] = v & 0x7f;
        v >>= 7;
    } while (v);
    /* tmp holds the groups least significant first; the wire wants the reverse. */
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i] | (i + 1 < n ? 0x80 : 0);
    return n;
}

int kn_neg_varint_decode(const uint8_t *in, size_t len, uint64_t *v, size_t *used)
{
    uint64_t res = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = in[i];
        if (i == 0 && b == 0x80)
            return KN_ENONCANON;
        if (res > (UINT64_MAX >> 7))
            return KN_ETOOBIG;
        res = (res << 7) | (b & 0x7f);
        if (!(b & 0x80)) {
            *v = res;
            *used = i + 1;
            return 0;
        }
    }
    return KN_ETRUNC;
}

void kn_neg_fingerprint_of_sum(
    uint8_t out[static KN_NEG_FINGERPRINT], const uint8_t sum[static KN_NEG_ID], uint64_t count)
{
    uint8_t input[KN_NEG_ID + KN_NEG_VARINT_MAX];
    uint8_t hash[KN_SHA256];
    memcpy(input, sum, KN_NEG_ID);
    size_t n = kn_neg_varint_encode(input + KN_NEG_ID, count);
    kn_sha256(hash, input, KN_NEG_ID + n);
    memcpy(out, hash, KN_NEG_FINGERPRINT);
}

int kn_neg_item_cmp(const kn_neg_item *a, const kn_neg_item *b)
{
    if (a->timestamp != b->timestamp)
        return a->timestamp < b->timestamp ? -1 : 1;
    return memcmp(a->id, b->id, KN_NEG_ID);
}

void kn_neg_ids_free(kn_neg_ids *ids)
{
    if (!ids)
        return;
    free(ids->ids);
    ids->ids = NULL;
    ids->count = ids->cap = 0;
}

static int ids_push(kn_neg_ids *l, const uint8_t id[static KN_NEG_ID])
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        void *p = realloc(l->ids, cap * KN_NEG_ID);
        if (!p)
            return KN_ENOMEM;
        l->ids = p;
        l->cap = cap;
    }
    memcpy(l->ids[l->count++], id, KN_NEG_ID);
    return 0;
}

/* ---- growable output buffers ---- */

struct buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
    if (more <= b->cap - b->len)
        return 0;
    if (more > SIZE_MAX / 2 - b->len)
        return KN_ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < more)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return KN_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_put(struct buf *b, const void *data, size_t len)
{
    int rc = buf_reserve(b, len);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

static int buf_put_varint(struct buf *b, uint64_t v)
{
    uint8_t tmp[KN_NEG_VARINT_MAX];
    return buf_put(b, tmp, kn_neg_varint_encode(tmp, v));
}

/* ---- the engine ---- */

/* A range's upper bound: the item with its id cut to id_len bytes (rest zero). */
struct bound {
    kn_neg_item item;
    size_t id_len;
};

struct kn_neg {
    kn_neg_storage st;
    uint64_t frame_size_limit;
    bool initiator;
    /* Timestamps are delta-coded within one message; these reset per message. */
    uint64_t last_ts_in;
    uint64_t last_ts_out;
    struct buf out; /* the message being written; handed to the caller */
    struct buf o; /* the part for the current range, not yet committed */
    struct buf ids; /* id payload of a server id list being gathered */
    /* Scratch for the client's id-list comparison. */
    uint8_t (*theirs)[KN_NEG_ID];
    bool *matched;
    size_t theirs_cap;
};

int kn_neg_new(kn_neg **out, const kn_neg_storage *storage, uint64_t frame_size_limit)
{
    *out = NULL;
    if (!storage || !storage->size || !storage->get || !storage->lower_bound
        || !storage->fingerprint)
        return KN_EINVAL;
    if (frame_size_limit != 0 && frame_size_limit < KN_NEG_MIN_FRAME)
        return KN_EINVAL;
    kn_neg *n = calloc(1, sizeof *n);
    if (!n)
        return KN_ENOMEM;
    n->st = *storage;
    n->frame_size_limit = frame_size_limit;
    *out = n;
    return 0;
}

void kn_neg_free(kn_neg *n)
{
    if (!n)
        return;
    free(n->out.p);
    free(n->o.p);
    free(n->ids.p);
    free(n->theirs);
    free(n->matched);
    free(n);
}

static bool exceeded_frame_limit(const kn_neg *n, size_t len)
{
    return n->frame_size_limit && len > n->frame_size_limit - FRAME_SLACK;
}

static int encode_timestamp_out(kn_neg *n, struct buf *b, uint64_t ts)
{
    if (ts == KN_NEG_TS_MAX) {
        n->last_ts_out = KN_NEG_TS_MAX;
        return buf_put_varint(b, 0);
    }
    /*
     * Bounds within a message ascend, so ts >= last_ts_out except after an
     * infinity bound, which is always the last one written.
     */
    uint64_t delta = ts - n->last_ts_out;
    n->last_ts_out = ts;
    return buf_put_varint(b, delta + 1);
}

static int encode_bound(kn_neg *n, struct buf *b, const struct bound *bd)
{
    int rc = encode_timestamp_out(n, b, bd->item.timestamp);
    if (rc == 0)
        rc = buf_put_varint(b, bd->id_len);
    if (rc == 0)
        rc = buf_put(b, bd->item.id, bd->id_len);
    return rc;
}

static struct bound bound_infinity(void)
{
    struct bound b = { .item = { .timestamp = KN_NEG_TS_MAX }, .id_len = 0 };
    return b;
}

/*
 * The shortest bound that separates prev from curr (prev < curr): the bare
 * timestamp if they differ there, else curr's id up to and including the
 * first byte that differs.
 */
static struct bound minimal_bound(const kn_neg_item *prev, const kn_neg_item *curr)
{
    struct bound b = { .item = { .timestamp = curr->timestamp } };
    if (curr->timestamp == prev->timestamp) {
        size_t shared = 0;
        while (shared < KN_NEG_ID && curr->id[shared] == prev->id[shared])
            shared++;
        b.id_len = shared < KN_NEG_ID ? shared + 1 : KN_NEG_ID;
        memcpy(b.item.id, curr->id, b.id_len);
    }
    return b;
}

/* A reader over the incoming message. */
struct reader {
    const uint8_t *p;
    size_t len;
};

static int read_varint(struct reader *r, uint64_t *v)
{
    size_t used;
    int rc = kn_neg_varint_decode(r->p, r->len, v, &used);
    if (rc < 0)
        return rc;
    r->p += used;
    r->len -= used;
    return 0;
}

static int read_bytes(struct reader *r, size_t n, const uint8_t **p)
{
    if (r->len < n)
        return KN_ETRUNC;
    *p = r->p;
    r->p += n;
    r->len -= n;
    return 0;
}

static int decode_bound(kn_neg *n, struct reader *r, struct bound *bd)
{
    uint64_t ts, len;
    const uint8_t *id;
    int rc = read_varint(r, &ts);
    if (rc < 0)
        return rc;
    ts = ts == 0 ? KN_NEG_TS_MAX : ts - 1;
    ts += n->last_ts_in;
    if (ts < n->last_ts_in)
        ts = KN_NEG_TS_MAX; /* saturate: anything past infinity is infinity */
    n->last_ts_in = ts;
    if ((rc = read_varint(r, &len)) < 0)
        return rc;
    if (len > KN_NEG_ID)
        return KN_EPROTO;
    if ((rc = read_bytes(r, (size_t)len, &id)) < 0)
        return rc;
    memset(bd, 0, sizeof *bd);
    bd->item.timestamp = ts;
    bd->id_len = (size_t)len;
    memcpy(bd->item.id, id, (size_t)len);
    return 0;
}

static int put_fingerprint(kn_neg *n, struct buf *b, size_t begin, size_t end)
{
    uint8_t fp[KN_NEG_FINGERPRINT];
    int rc = n->st.fingerprint(n->st.ctx, begin, end, fp);
    if (rc == 0)
        rc = buf_put(b, fp, sizeof fp);
    return rc;
}

/*
 * Describes the items [lower, upper) of our storage, which end at upper_bound.
 * Below 2 * 16 items the range goes out as one id list. Otherwise it is cut
 * into 16 buckets of nearly equal count, the first (count % 16) buckets one
 * item larger, each sent as a fingerprint up to the minimal bound between its
 * last item and the next bucket's first; the last bucket ends at upper_bound.
 */
static int split_range(
    kn_neg *n, struct buf *b, size_t lower, size_t upper, const struct bound *upper_bound)
{
    size_t count = upper - lower;
    kn_neg_item item;
    int rc;

    if (count < IDLIST_BELOW) {
        if ((rc = encode_bound(n, b, upper_bound)) < 0 || (rc = buf_put_varint(b, MODE_IDLIST)) < 0
            || (rc = buf_put_varint(b, count)) < 0)
            return rc;
        for (size_t i = lower; i < upper; i++) {
            if ((rc = n->st.get(n->st.ctx, i, &item)) < 0)
                return rc;
            if ((rc = buf_put(b, item.id, KN_NEG_ID)) < 0)
                return rc;
        }
        return 0;
    }

    size_t per_bucket = count / BUCKETS, with_extra = count % BUCKETS;
    size_t curr = lower;
    for (size_t i = 0; i < BUCKETS; i++) {
        size_t bucket = per_bucket + (i < with_extra ? 1 : 0);
        uint8_t fp[KN_NEG_FINGERPRINT];
        if ((rc = n->st.fingerprint(n->st.ctx, curr, curr + bucket, fp)) < 0)
            return rc;
        curr += bucket;

        struct bound next;
        if (curr == upper) {
            next = *upper_bound;
        } else {
            kn_neg_item prev;
            if ((rc = n->st.get(n->st.ctx, curr - 1, &prev)) < 0
                || (rc = n->st.get(n->st.ctx, curr, &item)) < 0)
                return rc;
            next = minimal_bound(&prev, &item);
        }
        if ((rc = encode_bound(n, b, &next)) < 0 || (rc = buf_put_varint(b, MODE_FINGERPRINT)) < 0
            || (rc = buf_put(b, fp, sizeof fp)) < 0)
            return rc;
    }
    return 0;
}

int kn_neg_initiate(kn_neg *n, const uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (n->initiator)
        return KN_ESTATE;
    size_t size;
    int rc = n->st.size(n->st.ctx, &size);
    if (rc < 0)
        return rc;
    n->initiator = true;
    n->last_ts_out = 0;
    n->out.len = 0;
    uint8_t version = KN_NEG_VERSION;
    struct bound inf = bound_infinity();
    if ((rc = buf_put(&n->out, &version, 1)) < 0
        || (rc = split_range(n, &n->out, 0, size, &inf)) < 0)
        return rc;
    *out = n->out.p;
    *out_len = n->out.len;
    return 0;
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, KN_NEG_ID);
}

/*
 * Client side of an id list: compares the server's ids with ours in
 * [lower, upper). Ours that the server did not list are "have"; the server's
 * that we do not hold, counted once each, are "need". An id of ours matches
 * at most one listed id, as a set difference would.
 */
static int client_idlist(kn_neg *n, const uint8_t *their_ids, size_t count, size_t lower,
    size_t upper, kn_neg_ids *have, kn_neg_ids *need)
{
    int rc;
    if (count > n->theirs_cap) {
        void *t = realloc(n->theirs, count * KN_NEG_ID);
        if (!t)
            return KN_ENOMEM;
        n->theirs = t;
        void *m = realloc(n->matched, count * sizeof *n->matched);
        if (!m)
            return KN_ENOMEM;
        n->matched = m;
        n->theirs_cap = count;
    }
    if (count) {
        memcpy(n->theirs, their_ids, count * KN_NEG_ID);
        qsort(n->theirs, count, KN_NEG_ID, id_cmp);
    }
    /* Drop repeated ids so each is needed at most once. */
    size_t uniq = 0;
    for (size_t i = 0; i < count; i++) {
        if (uniq == 0 || memcmp(n->theirs[uniq - 1], n->theirs[i], KN_NEG_ID) != 0) {
            if (uniq != i)
                memcpy(n->theirs[uniq], n->theirs[i], KN_NEG_ID);
            uniq++;
        }
    }
    if (uniq)
        memset(n->matched, 0, uniq * sizeof *n->matched);

    for (size_t i = lower; i < upper; i++) {
        kn_neg_item item;
        if ((rc = n->st.get(n->st.ctx, i, &item)) < 0)
            return rc;
        uint8_t(*hit)[KN_NEG_ID]
            = uniq ? bsearch(item.id, n->theirs, uniq, KN_NEG_ID, id_cmp) : NULL;
        if (hit && !n->matched[hit - n->theirs]) {
            n->matched[hit - n->theirs] = true;
        } else if ((rc = ids_push(have, item.id)) < 0) {
            return rc;
        }
    }
    for (size_t i = 0; i < uniq; i++)
        if (!n->matched[i] && (rc = ids_push(need, n->theirs[i])) < 0)
            return rc;
    return 0;
}

/*
 * One round, either side. Each incoming range [previous bound, bound) is
 * matched against our items in that span:
 *   skip         nothing to do;
 *   fingerprint  equal: nothing to do; different: split our side of it;
 *   id list      client: work out have/need, then nothing more to say;
 *                server: answer with our full id list for the range.
 * Ranges with nothing to say are merged into one skip, written only when a
 * later range has something to say (a trailing skip is implicit).
 *
 * The frame size limit: after each range, if the message would exceed the
 * limit minus 200 bytes, that range's output is dropped and the message ends
 * with one fingerprint over everything from the range's start to the end of
 * storage, bounded by infinity. A server's id list stops early once the
 * message plus the ids gathered so far exceed it, and ends at the first item
 * not sent (a full 32-byte bound); the closing fingerprint then starts there.
 */
static int reconcile(kn_neg *n, const uint8_t *in, size_t len, kn_neg_ids *have, kn_neg_ids *need)
{
    struct reader r = { in, len };
    const uint8_t *p;
    uint8_t version = KN_NEG_VERSION;
    size_t size;
    int rc;

    n->last_ts_in = n->last_ts_out = 0;
    n->out.len = 0;
    if ((rc = buf_put(&n->out, &version, 1)) < 0)
        return rc;
    if ((rc = read_bytes(&r, 1, &p)) < 0)
        return rc;
    if (p[0] < VERSION_LOWEST || p[0] > VERSION_HIGHEST)
        return KN_EPROTO;
    if (p[0] != KN_NEG_VERSION) {
        /* The server names the version it speaks; the client cannot go lower. */
        return n->initiator ? KN_EVERSION : 0;
    }
    if ((rc = n->st.size(n->st.ctx, &size)) < 0)
        return rc;

    struct bound prev_bound = { 0 };
    size_t prev_index = 0;
    bool skip = false;

    while (r.len) {
        struct bound curr;
        uint64_t mode;
        size_t lower = prev_index, upper;
        struct buf *o = &n->o;
        o->len = 0;

        if ((rc = decode_bound(n, &r, &curr)) < 0 || (rc = read_varint(&r, &mode)) < 0)
            return rc;
        if (kn_neg_item_cmp(&curr.item, &prev_bound.item) < 0)
            return KN_EPROTO;
        if ((rc = n->st.lower_bound(n->st.ctx, prev_index, size, &curr.item, &upper)) < 0)
            return rc;
        if (upper < lower || upper > size)
            return KN_ECORRUPT;

/* Writes the pending merged skip, ending at the previous range's bound. */
#define FLUSH_SKIP()                                                                               \
    do {                                                                                           \
        if (skip) {                                                                                \
            skip = false;                                                                          \
            if ((rc = encode_bound(n, o, &prev_bound)) < 0                                         \
                || (rc = buf_put_varint(o, MODE_SKIP)) < 0)                                        \
                return rc;                                                                         \
        }                                                                                          \
    } while (0)

        if (mode == MODE_SKIP) {
            skip = true;
        } else if (mode == MODE_FINGERPRINT) {
            uint8_t ours[KN_NEG_FINGERPRINT];
            if ((rc = read_bytes(&r, KN_NEG_FINGERPRINT, &p)) < 0)
                return rc;
            if ((rc = n->st.fingerprint(n->st.ctx, lower, upper, ours)) < 0)
                return rc;
            if (memcmp(p, ours, KN_NEG_FINGERPRINT) != 0) {
                FLUSH_SKIP();
                if ((rc = split_range(n, o, lower, upper, &curr)) < 0)
                    return rc;
            } else {
                skip = true;
            }
        } else if (mode == MODE_IDLIST) {
            uint64_t count;
            if ((rc = read_varint(&r, &count)) < 0)
                return rc;
            if (count > r.len / KN_NEG_ID)
                return KN_ETRUNC;
            if ((rc = read_bytes(&r, (size_t)count * KN_NEG_ID, &p)) < 0)
                return rc;

            if (n->initiator) {
                skip = true;
                if ((rc = client_idlist(n, p, (size_t)count, lower, upper, have, need)) < 0)
                    return rc;
            } else {
                FLUSH_SKIP();
                struct bound end_bound = curr;
                uint64_t sent = 0;
                n->ids.len = 0;
                for (size_t i = lower; i < upper; i++) {
                    kn_neg_item item;
                    if ((rc = n->st.get(n->st.ctx, i, &item)) < 0)
                        return rc;
                    if (exceeded_frame_limit(n, n->out.len + n->ids.len)) {
                        end_bound.item = item;
                        end_bound.id_len = KN_NEG_ID;
                        upper = i; /* the closing fingerprint covers the rest */
                        break;
                    }
                    if ((rc = buf_put(&n->ids, item.id, KN_NEG_ID)) < 0)
                        return rc;
                    sent++;
                }
                if ((rc = encode_bound(n, o, &end_bound)) < 0
                    || (rc = buf_put_varint(o, MODE_IDLIST)) < 0
                    || (rc = buf_put_varint(o, sent)) < 0
                    || (rc = buf_put(o, n->ids.p, n->ids.len)) < 0
                    || (rc = buf_put(&n->out, o->p, o->len)) < 0)
                    return rc;
                o->len = 0;
            }
        } else {
            return KN_EPROTO;
        }
#undef FLUSH_SKIP

        if (exceeded_frame_limit(n, n->out.len + o->len)) {
            struct bound inf = bound_infinity();
            if ((rc = encode_bound(n, &n->out, &inf)) < 0
                || (rc = buf_put_varint(&n->out, MODE_FINGERPRINT)) < 0
                || (rc = put_fingerprint(n, &n->out, upper, size)) < 0)
                return rc;
            break;
        }
        if ((rc = buf_put(&n->out, o->p, o->len)) < 0)
            return rc;
        prev_index = upper;
        prev_bound = curr;
    }
    return 0;
}

int kn_neg_reconcile_server(
    kn_neg *n, const uint8_t *in, size_t len, const uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (n->initiator)
        return KN_ESTATE;
    int rc = reconcile(n, in, len, NULL, NULL);
    if (rc < 0)
        return rc;
    *out = n->out.p;
    *out_len = n->out.len;
    return 0;
}

int kn_neg_reconcile_client(kn_neg *n, const uint8_t *in, size_t len, const uint8_t **out,
    size_t *out_len, kn_neg_ids *have, kn_neg_ids *need)
{
    *out = NULL;
    *out_len = 0;
    if (!n->initiator)
        return KN_ESTATE;
    if (!have || !need)
        return KN_EINVAL;
    int rc = reconcile(n, in, len, have, need);
    if (rc < 0)
        return rc;
    if (n->out.len == 1)
        return KN_NEG_DONE;
    *out = n->out.p;
    *out_len = n->out.len;
    return 0;
}
