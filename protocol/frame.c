/*
 * Frames, message fragments and the secure session; see frame.h.
 *
 * The session is the Noise handshake of noise.h driven by frames: the
 * initiator sends message 1 (empty payload), the responder answers with
 * message 2 carrying its identity statement, the initiator checks it and
 * sends message 3 with its own, and both sides split into transport ciphers.
 * Each received byte goes through the frame reader exactly once; whole frames
 * are decrypted straight from the caller's buffer, and every transport frame
 * is decrypted into the place its message is read from (the arena or the
 * assembler's buffer, see struct kn_session), so a large message is not
 * copied after decryption.
 */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"

void kn_frame_header(uint8_t hdr[static KN_FRAME_HEADER], size_t len)
{
    hdr[0] = (uint8_t)(len >> 8);
    hdr[1] = (uint8_t)len;
}

/* ---- frame reader ---- */

struct kn_frame_reader {
    size_t max_frame;
    uint8_t hdr[KN_FRAME_HEADER];
    size_t hdr_have;
    size_t body_len; /* valid once hdr_have == 2 */
    size_t body_have;
    int error;
    uint8_t *body; /* max_frame bytes */
};

int kn_frame_reader_new(kn_frame_reader **out, size_t max_frame)
{
    *out = NULL;
    if (max_frame == 0)
        max_frame = KN_FRAME_MAX;
    if (max_frame > KN_FRAME_MAX)
        return KN_EINVAL;
    kn_frame_reader *r = calloc(1, sizeof *r);
    if (!r)
        return KN_ENOMEM;
    r->body = malloc(max_frame);
    if (!r->body) {
        free(r);
        return KN_ENOMEM;
    }
    r->max_frame = max_frame;
    *out = r;
    return 0;
}

void kn_frame_reader_free(kn_frame_reader *r)
{
    if (!r)
        return;
    free(r->body);
    free(r);
}

size_t kn_frame_reader_buffered(const kn_frame_reader *r)
{
    return r->hdr_have + r->body_have;
}

int kn_frame_reader_next(kn_frame_reader *r, const uint8_t *in, size_t len, size_t *consumed,
    const uint8_t **frame, size_t *frame_len)
{
    size_t pos = 0;
    *consumed = 0;
    *frame = NULL;
    *frame_len = 0;
    if (r->error)
        return r->error;

    while (r->hdr_have < KN_FRAME_HEADER && pos < len)
        r->hdr[r->hdr_have++] = in[pos++];
    if (r->hdr_have < KN_FRAME_HEADER) {
        *consumed = pos;
        return 0;
    }
    if (r->body_have == 0) {
        r->body_len = (size_t)r->hdr[0] << 8 | r->hdr[1];
        if (r->body_len == 0)
            r->error = KN_EPROTO;
        else if (r->body_len > r->max_frame)
            r->error = KN_ETOOBIG;
        if (r->error) {
            *consumed = pos;
            return r->error;
        }
        /* The whole body is in this chunk: hand it out without copying. */
        if (len - pos >= r->body_len) {
            *frame = in + pos;
            *frame_len = r->body_len;
            *consumed = pos + r->body_len;
            r->hdr_have = 0;
            return 1;
        }
    }
    size_t n = r->body_len - r->body_have;
    if (n > len - pos)
        n = len - pos;
    memcpy(r->body + r->body_have, in + pos, n);
    r->body_have += n;
    pos += n;
    *consumed = pos;
    if (r->body_have < r->body_len)
        return 0;
    *frame = r->body;
    *frame_len = r->body_len;
    r->hdr_have = 0;
    r->body_have = 0;
    return 1;
}

/* ---- message reassembly ---- */

/*
 * buf holds 1 + cap bytes and the message so far is buf[1 .. 1 + len). The
 * spare byte in front lets the session decrypt a fragment straight into place
 * (session_decrypt_to_assembler): the plaintext goes to buf + len, so its
 * fragment byte lands on the byte just before where its message bytes belong,
 * and that one byte is saved and put back.
 */
struct kn_msg_assembler {
    size_t max_message;
    uint8_t *buf;
    size_t len, cap;
    bool partial;
    int error;
};

int kn_msg_assembler_new(kn_msg_assembler **out, size_t max_message)
{
    *out = NULL;
    kn_msg_assembler *a = calloc(1, sizeof *a);
    if (!a)
        return KN_ENOMEM;
    a->max_message = max_message ? max_message : KN_FRAME_DEFAULT_MAX_MESSAGE;
    *out = a;
    return 0;
}

void kn_msg_assembler_free(kn_msg_assembler *a)
{
    if (!a)
        return;
    if (a->buf)
        kn_memzero(a->buf, 1 + a->cap);
    free(a->buf);
    free(a);
}

/*
 * Makes room for n more message bytes (the caller has checked n against
 * max_message). Capacity at least doubles, so a message that arrives in many
 * fragments is moved by realloc a bounded number of times, and never grows
 * past max_message.
 */
static int assembler_reserve(kn_msg_assembler *a, size_t n)
{
    if (n <= a->cap - a->len)
        return 0;
    size_t cap = 2 * KN_FRAME_MAX_CHUNK;
    if (cap < 2 * a->cap)
        cap = 2 * a->cap;
    if (cap < a->len + n)
        cap = a->len + n;
    if (cap > a->max_message)
        cap = a->max_message;
    uint8_t *nb = realloc(a->buf, 1 + cap);
    if (!nb)
        return KN_ENOMEM;
    a->buf = nb;
    a->cap = cap;
    return 0;
}

static int assembler_append(kn_msg_assembler *a, const uint8_t *b, size_t n)
{
    if (n > a->max_message - a->len)
        return KN_ELIMIT;
    int rc = assembler_reserve(a, n);
    if (rc < 0)
        return rc;
    memcpy(a->buf + 1 + a->len, b, n);
    a->len += n;
    return 0;
}

int kn_msg_assembler_push(
    kn_msg_assembler *a, const uint8_t *plain, size_t len, const uint8_t **msg, size_t *msg_len)
{
    int rc = 0;
    *msg = NULL;
    *msg_len = 0;
    if (a->error)
        return a->error;
    if (!a->partial)
        a->len = 0;
    if (len == 0 || (plain[0] != KN_FRAME_FINAL && plain[0] != KN_FRAME_MORE)
        || (plain[0] == KN_FRAME_MORE && len == 1)) {
        rc = KN_EPROTO;
        goto out;
    }
    const uint8_t *chunk = plain + 1;
    size_t n = len - 1;
    if (plain[0] == KN_FRAME_FINAL && !a->partial) {
        /* A message in one frame: no copy. */
        if (n > a->max_message) {
            rc = KN_ELIMIT;
            goto out;
        }
        *msg = chunk;
        *msg_len = n;
        return 1;
    }
    rc = assembler_append(a, chunk, n);
    if (rc < 0)
        goto out;
    if (plain[0] == KN_FRAME_MORE) {
        a->partial = true;
        return 0;
    }
    a->partial = false;
    *msg = a->buf + 1;
    *msg_len = a->len;
    return 1;
out:
    a->error = rc;
    return rc;
}

size_t kn_msg_fragments(size_t len)
{
    return len == 0 ? 1 : (len + KN_FRAME_MAX_CHUNK - 1) / KN_FRAME_MAX_CHUNK;
}

/* ---- byte buffers ---- */

struct buf {
    uint8_t *b;
    size_t len, cap, off;
};

/*
 * Makes room for n more bytes at the end, dropping the consumed front first.
 * An empty buffer gets exactly what is asked for (kn_session_take_output hands
 * the whole buffer away, so each send after it starts from nothing); a buffer
 * that has to grow at least doubles.
 */
static int buf_reserve(struct buf *q, size_t n)
{
    if (q->off > 0) {
        memmove(q->b, q->b + q->off, q->len - q->off);
        q->len -= q->off;
        q->off = 0;
    }
    if (n <= q->cap - q->len)
        return 0;
    if (n > SIZE_MAX / 2 - q->len)
        return KN_ENOMEM;
    size_t cap = q->len + n;
    if (q->cap > 0 && cap < 2 * q->cap)
        cap = 2 * q->cap;
    if (cap < 4096)
        cap = 4096;
    uint8_t *nb = realloc(q->b, cap);
    if (!nb)
        return KN_ENOMEM;
    q->b = nb;
    q->cap = cap;
    return 0;
}

static void buf_free(struct buf *q)
{
    free(q->b);
    memset(q, 0, sizeof *q);
}

/* ---- the session ---- */

/* One queued message: owned[off ..] (owned is 1 + cap bytes) or arena.b[off ..]. */
struct inmsg {
    uint8_t *owned;
    size_t cap, off, len;
};

struct kn_session {
    enum kn_noise_role role;
    enum kn_session_state state;
    int error;
    bool started;
    uint64_t deadline;
    size_t max_message;

    kn_noise_handshake *hs;
    kn_noise_cipher *tx, *rx;
    kn_frame_reader *reader;
    kn_msg_assembler *assembler;

    uint8_t self[KN_IDENTITY_STATEMENT_MAX];
    size_t self_len;
    kn_identity_statement remote;
    bool has_remote;
    uint8_t remote_static[KN_NOISE_KEY];
    bool has_remote_static;
    uint8_t h[KN_NOISE_HASH];

    struct buf out; /* frames to send */

    /*
     * Received messages, in order, each decrypted once into where it is
     * handed out from. A message in one frame that is not full-size is
     * decrypted into the arena (its fragment byte first, then the message).
     * A message whose first frame is full-size, or that has more fragments,
     * is decrypted into the assembler's buffer, which then moves to the
     * queue whole (owned); when its reader is done with it, it goes back to
     * the assembler for the next such message.
     */
    struct buf arena;
    struct inmsg *q;
    size_t q_head, q_len, q_cap;
    uint8_t *lent; /* the owned buffer of the message last returned, or NULL */
    size_t lent_cap;
    uint8_t *scratch; /* KN_FRAME_MAX: handshake payloads, unusual transport frames */
};

int kn_session_new(kn_session **out, enum kn_noise_role role,
    const uint8_t network_key[static KN_NOISE_KEY], const uint8_t static_priv[static KN_NOISE_KEY],
    const kn_identity_statement *self, const uint8_t ephemeral_priv[static KN_NOISE_KEY],
    uint64_t now_ms)
{
    int rc;
    uint8_t s_pub[KN_NOISE_KEY];
    kn_session *s = NULL;
    *out = NULL;
    if (!self || (role != KN_NOISE_INITIATOR && role != KN_NOISE_RESPONDER))
        return KN_EINVAL;
    /* Refuse to start with a statement that does not vouch for our own key. */
    kn_x25519_base(s_pub, static_priv);
    rc = kn_identity_verify(self, s_pub, now_ms);
    if (rc < 0)
        goto out;
    s = calloc(1, sizeof *s);
    if (!s) {
        rc = KN_ENOMEM;
        goto out;
    }
    s->role = role;
    s->state = KN_SESSION_HANDSHAKING;
    s->deadline = now_ms + KN_SESSION_HANDSHAKE_TIMEOUT_MS;
    s->max_message = KN_FRAME_DEFAULT_MAX_MESSAGE;
    rc = kn_identity_encode(self, s->self, sizeof s->self, &s->self_len);
    if (rc < 0)
        goto out;
    s->scratch = malloc(KN_FRAME_MAX);
    if (!s->scratch) {
        rc = KN_ENOMEM;
        goto out;
    }
    rc = kn_frame_reader_new(&s->reader, KN_FRAME_MAX);
    if (rc < 0)
        goto out;
    rc = kn_noise_handshake_new_knoten(&s->hs, role, network_key, static_priv, ephemeral_priv);
    if (rc < 0)
        goto out;
    *out = s;
    s = NULL;
out:
    kn_session_free(s);
    kn_memzero(s_pub, sizeof s_pub);
    return rc;
}

/* Frees a message buffer of 1 + cap bytes, wiping it first; NULL is fine. */
static void wipe_free(uint8_t *b, size_t cap)
{
    if (!b)
        return;
    kn_memzero(b, 1 + cap);
    free(b);
}

void kn_session_free(kn_session *s)
{
    if (!s)
        return;
    kn_noise_handshake_free(s->hs);
    kn_noise_cipher_free(s->tx);
    kn_noise_cipher_free(s->rx);
    kn_frame_reader_free(s->reader);
    kn_msg_assembler_free(s->assembler);
    if (s->out.b)
        kn_memzero(s->out.b, s->out.cap);
    buf_free(&s->out);
    if (s->arena.b)
        kn_memzero(s->arena.b, s->arena.cap);
    buf_free(&s->arena);
    for (size_t i = 0; i < s->q_len; i++)
        wipe_free(s->q[i].owned, s->q[i].cap);
    free(s->q);
    wipe_free(s->lent, s->lent_cap);
    if (s->scratch)
        kn_memzero(s->scratch, KN_FRAME_MAX);
    free(s->scratch);
    kn_memzero(s, sizeof *s);
    free(s);
}

/* Makes a failure final: every key is wiped and nothing more is sent. */
static int session_fail(kn_session *s, int rc)
{
    if (s->state == KN_SESSION_FAILED)
        return s->error;
    s->state = KN_SESSION_FAILED;
    s->error = rc;
    kn_noise_handshake_free(s->hs);
    kn_noise_cipher_free(s->tx);
    kn_noise_cipher_free(s->rx);
    s->hs = NULL;
    s->tx = s->rx = NULL;
    if (s->out.b)
        kn_memzero(s->out.b, s->out.cap);
    s->out.len = s->out.off = 0;
    return rc;
}

int kn_session_set_max_message(kn_session *s, size_t max_message)
{
    if (s->state != KN_SESSION_HANDSHAKING || max_message == 0)
        return KN_ESTATE;
    s->max_message = max_message;
    return 0;
}

/* Writes the next handshake message, with payload, as one frame of pending output. */
static int session_write_handshake(kn_session *s, const uint8_t *payload, size_t payload_len)
{
    size_t n;
    int rc = buf_reserve(&s->out, KN_FRAME_HEADER + KN_FRAME_MAX);
    if (rc < 0)
        return rc;
    uint8_t *p = s->out.b + s->out.len;
    rc = kn_noise_handshake_write(
        s->hs, payload, payload_len, p + KN_FRAME_HEADER, KN_FRAME_MAX, &n);
    if (rc < 0)
        return rc;
    kn_frame_header(p, n);
    s->out.len += KN_FRAME_HEADER + n;
    return 0;
}

static int session_establish(kn_session *s)
{
    int rc = kn_noise_handshake_hash(s->hs, s->h);
    if (rc < 0)
        return rc;
    rc = kn_noise_handshake_split(s->hs, &s->tx, &s->rx);
    if (rc < 0)
        return rc;
    rc = kn_msg_assembler_new(&s->assembler, s->max_message);
    if (rc < 0)
        return rc;
    kn_noise_handshake_free(s->hs);
    s->hs = NULL;
    s->state = KN_SESSION_ESTABLISHED;
    s->deadline = UINT64_MAX;
    return 0;
}

/* Checks the peer's statement against the static key the handshake proved. */
static int session_check_peer(kn_session *s, const uint8_t *payload, size_t len, uint64_t now_ms)
{
    int rc = kn_noise_handshake_remote_static(s->hs, s->remote_static);
    if (rc < 0)
        return rc == KN_ENOTFOUND ? KN_EPROTO : rc;
    s->has_remote_static = true;
    rc = kn_identity_decode(&s->remote, payload, len);
    if (rc < 0)
        return rc;
    rc = kn_identity_verify(&s->remote, s->remote_static, now_ms);
    if (rc < 0)
        return rc;
    s->has_remote = true;
    return 0;
}

static int session_handshake_frame(kn_session *s, const uint8_t *frame, size_t len, uint64_t now_ms)
{
    size_t pn;
    int rc = kn_noise_handshake_read(s->hs, frame, len, s->scratch, KN_FRAME_MAX, &pn);
    if (rc < 0)
        return rc;
    if (s->role == KN_NOISE_RESPONDER) {
        if (!kn_noise_handshake_done(s->hs)) {
            /* Message 1 carries nothing; answer with message 2 and our statement. */
            if (pn != 0)
                return KN_EPROTO;
            return session_write_handshake(s, s->self, s->self_len);
        }
        /* Message 3: the initiator's statement. */
        rc = session_check_peer(s, s->scratch, pn, now_ms);
        if (rc < 0)
            return rc;
        return session_establish(s);
    }
    /* Initiator, message 2: check the responder, then send message 3. */
    rc = session_check_peer(s, s->scratch, pn, now_ms);
    if (rc < 0)
        return rc;
    rc = session_write_handshake(s, s->self, s->self_len);
    if (rc < 0)
        return rc;
    return session_establish(s);
}

static int queue_push(kn_session *s, uint8_t *owned, size_t cap, size_t off, size_t len)
{
    if (s->q_len == s->q_cap) {
        size_t ncap = s->q_cap ? 2 * s->q_cap : 16;
        struct inmsg *nq = realloc(s->q, ncap * sizeof *nq);
        if (!nq)
            return KN_ENOMEM;
        s->q = nq;
        s->q_cap = ncap;
    }
    s->q[s->q_len++] = (struct inmsg) { owned, cap, off, len };
    return 0;
}

/*
 * The end of a message's life: its buffer goes back to the assembler if that
 * has none (the common case, so a stream of large messages reuses one
 * buffer), else it is wiped and freed.
 */
static void session_release_lent(kn_session *s)
{
    kn_msg_assembler *a = s->assembler;
    if (!s->lent)
        return;
    if (a && !a->buf) {
        a->buf = s->lent;
        a->cap = s->lent_cap;
        a->len = 0;
    } else {
        wipe_free(s->lent, s->lent_cap);
    }
    s->lent = NULL;
    s->lent_cap = 0;
}

/*
 * Called at the start of each feed: every pointer handed out dies here.
 * Messages not yet read (the node drains after each feed, so normally none)
 * move to the front.
 */
static void session_compact_queue(kn_session *s)
{
    session_release_lent(s);
    if (s->q_head == s->q_len) {
        s->q_head = s->q_len = 0;
        s->arena.len = s->arena.off = 0;
        return;
    }
    size_t from = s->arena.len;
    for (size_t i = s->q_head; i < s->q_len; i++)
        if (!s->q[i].owned && s->q[i].off - 1 < from)
            from = s->q[i].off - 1;
    if (from > 0) {
        memmove(s->arena.b, s->arena.b + from, s->arena.len - from);
        s->arena.len -= from;
        for (size_t i = s->q_head; i < s->q_len; i++)
            if (!s->q[i].owned)
                s->q[i].off -= from;
    }
    memmove(s->q, s->q + s->q_head, (s->q_len - s->q_head) * sizeof *s->q);
    s->q_len -= s->q_head;
    s->q_head = 0;
}

/*
 * A frame that is the whole of a message, or not (a short non-final fragment
 * the sender chose to send): decrypted into the arena, where it stays and is
 * read from; only in the second case are its bytes copied to the assembler.
 */
static int session_decrypt_to_arena(kn_session *s, const uint8_t *frame, size_t len)
{
    size_t plen = len - KN_NOISE_TAG;
    int rc = buf_reserve(&s->arena, plen);
    if (rc < 0)
        return rc;
    uint8_t *p = s->arena.b + s->arena.len;
    rc = kn_noise_cipher_decrypt(s->rx, NULL, 0, frame, len, p);
    if (rc < 0)
        return rc;
    if (p[0] == KN_FRAME_FINAL) {
        rc = queue_push(s, NULL, 0, s->arena.len + 1, plen - 1);
        if (rc == 0)
            s->arena.len += plen;
        return rc;
    }
    const uint8_t *msg;
    size_t mlen;
    rc = kn_msg_assembler_push(s->assembler, p, plen, &msg, &mlen);
    return rc < 0 ? rc : 0; /* not 1: the fragment byte was not final */
}

/*
 * A fragment of a message being reassembled, or a full-size frame (which
 * usually begins one): decrypted straight to its place in the assembler's
 * buffer, whose spare byte in front takes the fragment byte. A complete
 * message's buffer moves to the queue instead of being copied.
 */
static int session_decrypt_to_assembler(kn_session *s, const uint8_t *frame, size_t len)
{
    kn_msg_assembler *a = s->assembler;
    size_t n = len - KN_NOISE_TAG - 1;
    if (!a->partial)
        a->len = 0;
    int rc = assembler_reserve(a, n);
    if (rc < 0)
        return rc;
    uint8_t *at = a->buf + a->len;
    uint8_t saved = *at;
    rc = kn_noise_cipher_decrypt(s->rx, NULL, 0, frame, len, at);
    if (rc < 0)
        return rc;
    uint8_t frag = *at;
    *at = saved;
    if (frag == KN_FRAME_MORE && n > 0) {
        a->len += n;
        a->partial = true;
        return 0;
    }
    if (frag != KN_FRAME_FINAL)
        return KN_EPROTO;
    a->len += n;
    a->partial = false;
    rc = queue_push(s, a->buf, a->cap, 1, a->len);
    if (rc < 0)
        return rc;
    a->buf = NULL;
    a->cap = a->len = 0;
    return 0;
}

/*
 * What the fast paths leave out: frames too short to hold a fragment byte and
 * fragments that break the size bound. They take the plain route (decrypt to
 * scratch, then the assembler) so they fail exactly as the assembler says.
 */
static int session_transport_frame_slow(kn_session *s, const uint8_t *frame, size_t len)
{
    const uint8_t *msg;
    size_t mlen;
    int rc = kn_noise_cipher_decrypt(s->rx, NULL, 0, frame, len, s->scratch);
    if (rc < 0)
        return rc;
    rc = kn_msg_assembler_push(s->assembler, s->scratch, len - KN_NOISE_TAG, &msg, &mlen);
    if (rc <= 0)
        return rc;
    rc = buf_reserve(&s->arena, 1 + mlen);
    if (rc < 0)
        return rc;
    if (mlen > 0)
        memcpy(s->arena.b + s->arena.len + 1, msg, mlen);
    rc = queue_push(s, NULL, 0, s->arena.len + 1, mlen);
    if (rc == 0)
        s->arena.len += 1 + mlen;
    return rc;
}

/*
 * One transport frame, decrypted exactly once, into the place its message
 * will be read from; no plaintext byte is copied on the way unless a peer
 * sends short non-final fragments.
 */
static int session_transport_frame(kn_session *s, const uint8_t *frame, size_t len)
{
    kn_msg_assembler *a = s->assembler;
    if (len <= KN_NOISE_TAG || a->error)
        return session_transport_frame_slow(s, frame, len);
    size_t n = len - KN_NOISE_TAG - 1;
    size_t room = a->max_message - (a->partial ? a->len : 0);
    if (n > room)
        return session_transport_frame_slow(s, frame, len);
    if (a->partial || len == KN_FRAME_MAX)
        return session_decrypt_to_assembler(s, frame, len);
    return session_decrypt_to_arena(s, frame, len);
}

int kn_session_start(kn_session *s)
{
    if (s->state == KN_SESSION_FAILED)
        return KN_ESTATE;
    if (s->role == KN_NOISE_RESPONDER)
        return 0;
    if (s->started)
        return KN_ESTATE;
    s->started = true;
    int rc = session_write_handshake(s, NULL, 0); /* -> psk, e */
    return rc < 0 ? session_fail(s, rc) : 0;
}

int kn_session_tick(kn_session *s, uint64_t now_ms)
{
    if (s->state == KN_SESSION_FAILED)
        return s->error;
    if (s->state == KN_SESSION_HANDSHAKING && now_ms >= s->deadline)
        return session_fail(s, KN_ETIMEOUT);
    return 0;
}

uint64_t kn_session_deadline(const kn_session *s)
{
    return s->state == KN_SESSION_HANDSHAKING ? s->deadline : UINT64_MAX;
}

int kn_session_feed(kn_session *s, const uint8_t *in, size_t len, uint64_t now_ms)
{
    int rc = kn_session_tick(s, now_ms);
    if (rc < 0)
        return rc;
    if (s->role == KN_NOISE_INITIATOR && !s->started)
        return KN_ESTATE;
    /* Pointers from next_message die here: drop what was read. */
    session_compact_queue(s);
    while (len > 0) {
        const uint8_t *frame;
        size_t used, flen;
        rc = kn_frame_reader_next(s->reader, in, len, &used, &frame, &flen);
        in += used;
        len -= used;
        if (rc < 0)
            return session_fail(s, rc);
        if (rc == 0)
            break;
        if (s->state == KN_SESSION_HANDSHAKING)
            rc = session_handshake_frame(s, frame, flen, now_ms);
        else
            rc = session_transport_frame(s, frame, flen);
        if (rc < 0)
            return session_fail(s, rc);
    }
    return 0;
}

void kn_session_pending_output(const kn_session *s, const uint8_t **buf, size_t *len)
{
    *buf = s->out.b ? s->out.b + s->out.off : NULL;
    *len = s->out.len - s->out.off;
}

void kn_session_consume_output(kn_session *s, size_t n)
{
    size_t have = s->out.len - s->out.off;
    s->out.off += n < have ? n : have;
    if (s->out.off == s->out.len)
        s->out.off = s->out.len = 0;
}

uint8_t *kn_session_take_output(kn_session *s, size_t *len)
{
    *len = s->out.len - s->out.off;
    if (*len == 0)
        return NULL;
    uint8_t *b;
    if (s->out.off == 0) {
        b = s->out.b;
        memset(&s->out, 0, sizeof s->out);
        return b;
    }
    b = malloc(*len);
    if (!b) {
        *len = 0;
        return NULL;
    }
    memcpy(b, s->out.b + s->out.off, *len);
    s->out.off = s->out.len = 0;
    return b;
}

int kn_session_next_message(kn_session *s, const uint8_t **msg, size_t *len)
{
    *msg = NULL;
    *len = 0;
    session_release_lent(s);
    if (s->q_head == s->q_len)
        return 0;
    struct inmsg *m = &s->q[s->q_head++];
    if (m->owned) {
        s->lent = m->owned;
        s->lent_cap = m->cap;
        m->owned = NULL;
        *msg = s->lent + m->off;
    } else {
        *msg = s->arena.b + m->off;
    }
    *len = m->len;
    return 1;
}

int kn_session_send(kn_session *s, const uint8_t *msg, size_t len)
{
    if (s->state != KN_SESSION_ESTABLISHED)
        return KN_ESTATE;
    if (len > s->max_message)
        return KN_ETOOBIG;
    if (len > 0 && !msg)
        return KN_EINVAL;
    size_t frames = kn_msg_fragments(len);
    int rc = buf_reserve(&s->out, len + frames * (KN_FRAME_HEADER + 1 + KN_NOISE_TAG));
    if (rc < 0)
        return rc;
    size_t off = 0;
    for (size_t i = 0; i < frames; i++) {
        size_t n = len - off < KN_FRAME_MAX_CHUNK ? len - off : KN_FRAME_MAX_CHUNK;
        uint8_t *p = s->out.b + s->out.len;
        uint8_t *plain = p + KN_FRAME_HEADER;
        plain[0] = i + 1 == frames ? KN_FRAME_FINAL : KN_FRAME_MORE;
        if (n > 0)
            memcpy(plain + 1, msg + off, n);
        rc = kn_noise_cipher_encrypt(s->tx, NULL, 0, plain, 1 + n, plain);
        if (rc < 0)
            return session_fail(s, rc);
        kn_frame_header(p, 1 + n + KN_NOISE_TAG);
        s->out.len += KN_FRAME_HEADER + 1 + n + KN_NOISE_TAG;
        off += n;
    }
    return 0;
}

int kn_session_rekey(kn_session *s)
{
    if (s->state != KN_SESSION_ESTABLISHED)
        return KN_ESTATE;
    int rc = kn_noise_cipher_rekey(s->tx);
    if (rc == 0)
        rc = kn_noise_cipher_rekey(s->rx);
    return rc < 0 ? session_fail(s, rc) : 0;
}

enum kn_session_state kn_session_state(const kn_session *s)
{
    return s->state;
}

int kn_session_error(const kn_session *s)
{
    return s->error;
}

const kn_identity_statement *kn_session_remote_identity(const kn_session *s)
{
    return s->has_remote ? &s->remote : NULL;
}

int kn_session_remote_static(const kn_session *s, uint8_t rs[static KN_NOISE_KEY])
{
    if (!s->has_remote_static)
        return KN_ESTATE;
    memcpy(rs, s->remote_static, KN_NOISE_KEY);
    return 0;
}

int kn_session_handshake_hash(const kn_session *s, uint8_t h[static KN_NOISE_HASH])
{
    if (s->state != KN_SESSION_ESTABLISHED)
        return KN_ESTATE;
    memcpy(h, s->h, KN_NOISE_HASH);
    return 0;
}
