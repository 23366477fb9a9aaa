/*
 * Fuzz target for the session path a remote peer reaches first: Noise
 * messages into a kn_session, past the point random bytes can get.
 *
 * fuzz_frame feeds raw bytes to a responder, which a psk0 handshake refuses
 * at message 1 (the tag cannot verify). Here the other side is played by a
 * peer that holds the network key, built from the raw Noise handshake
 * (noise.h), so the fuzzer's bytes arrive where only a key holder's can:
 *
 *   mode 0  message 3's payload (the initiator's identity statement) into a
 *           responder session, correctly encrypted;
 *   mode 1  message 2's payload (the responder's statement) into an
 *           initiator session;
 *   mode 2  after a complete handshake, transport plaintexts (fragment byte
 *           and all) encrypted with the real keys into the responder, and
 *           every message that comes out through the strict wire decoder;
 *   mode 3  after a complete handshake, raw bytes (garbage frames).
 *
 * Input: byte 0 is mode (low 2 bits) and chunking (the rest: the sizes the
 * stream is cut into, as a socket would); the rest is the payload or stream.
 * In mode 2 the stream is records of a 2-byte big-endian length and that
 * many plaintext bytes. Nothing may crash; a failed session must have
 * nothing left to send; every message must respect the configured bound and
 * every decoded view must lie inside its message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "frame.h"
#include "identity.h"
#include "noise.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_MESSAGE = 200000 };

static const uint64_t NOW = 1700000000000ull;

static void check(int cond)
{
    if (!cond)
        abort();
}

/* Fixed keys: one seed for each side, so every run is the same run. */
typedef struct side {
    uint8_t id_pk[32], id_sk[64], x_priv[32], x_pub[32], eph[32];
    kn_identity_statement st;
    uint8_t st_bytes[KN_IDENTITY_STATEMENT_MAX];
    size_t st_len;
} side;

static uint8_t netkey[32];
static side node_side, peer_side;

static void side_init(side *s, uint8_t seed_byte)
{
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof seed);
    kn_sign_keypair_from_seed(s->id_pk, s->id_sk, seed);
    memset(s->x_priv, seed_byte + 1, sizeof s->x_priv);
    memset(s->eph, seed_byte + 2, sizeof s->eph);
    kn_x25519_base(s->x_pub, s->x_priv);
    kn_identity_sign(&s->st, s->id_pk, s->id_sk, s->x_pub, NOW + 3600000);
    check(kn_identity_encode(&s->st, s->st_bytes, sizeof s->st_bytes, &s->st_len) == 0);
}

static void setup_once(void)
{
    static int done;
    if (done)
        return;
    check(kn_crypto_init() == 0);
    memset(netkey, 0x42, sizeof netkey);
    side_init(&node_side, 1);
    side_init(&peer_side, 9);
    done = 1;
}

static kn_session *node_session(enum kn_noise_role role)
{
    kn_session *s = NULL;
    if (kn_session_new(&s, role, netkey, node_side.x_priv, &node_side.st, node_side.eph, NOW) < 0)
        return NULL;
    if (kn_session_set_max_message(s, MAX_MESSAGE) < 0 || kn_session_start(s) < 0) {
        kn_session_free(s);
        return NULL;
    }
    return s;
}

/* Takes the session's output, which must be exactly one frame, into body (without header). */
static int take_frame(kn_session *s, uint8_t *body, size_t cap, size_t *len)
{
    const uint8_t *out;
    size_t n;
    kn_session_pending_output(s, &out, &n);
    if (n < KN_FRAME_HEADER)
        return -1;
    size_t flen = (size_t)out[0] << 8 | out[1];
    if (flen + KN_FRAME_HEADER != n || flen > cap)
        return -1;
    memcpy(body, out + KN_FRAME_HEADER, flen);
    *len = flen;
    kn_session_consume_output(s, n);
    return 0;
}

/* Feeds a stream in chunks of step bytes; afterwards the invariants of a session. */
static void feed(kn_session *s, const uint8_t *in, size_t len, size_t step, int decode)
{
    while (len > 0 && kn_session_state(s) != KN_SESSION_FAILED) {
        size_t n = step < len ? step : len;
        int rc = kn_session_feed(s, in, n, NOW + 1);
        in += n;
        len -= n;
        if (rc < 0) {
            const uint8_t *out;
            size_t olen;
            check(kn_session_state(s) == KN_SESSION_FAILED);
            check(kn_session_error(s) == rc);
            kn_session_pending_output(s, &out, &olen);
            check(olen == 0);
            return;
        }
        const uint8_t *msg;
        size_t mlen;
        while (kn_session_next_message(s, &msg, &mlen) == 1) {
            check(mlen <= MAX_MESSAGE);
            kn_wire_msg m;
            if (decode && kn_wire_decode(&m, msg, mlen) == 0 && m.kind == KN_WIRE_OBJ)
                check(m.data >= msg && m.data + m.data_len <= msg + mlen);
        }
    }
}

/*
 * The peer as initiator against a responder session, up to and including
 * message 3 carrying payload. On success *tx is the peer's sending cipher
 * (when the handshake completed on the peer's side).
 */
static kn_session *handshake_as_initiator(
    const uint8_t *payload, size_t plen, size_t step, kn_noise_cipher **tx)
{
    kn_noise_handshake *hs = NULL;
    kn_noise_cipher *rx = NULL;
    kn_session *s = node_session(KN_NOISE_RESPONDER);
    uint8_t *buf = malloc(KN_FRAME_HEADER + KN_FRAME_MAX);
    size_t n;
    *tx = NULL;
    if (!s || !buf
        || kn_noise_handshake_new_knoten(
               &hs, KN_NOISE_INITIATOR, netkey, peer_side.x_priv, peer_side.eph)
            < 0)
        goto fail;
    /* -> psk, e */
    check(kn_noise_handshake_write(hs, NULL, 0, buf + KN_FRAME_HEADER, KN_FRAME_MAX, &n) == 0);
    kn_frame_header(buf, n);
    check(kn_session_feed(s, buf, KN_FRAME_HEADER + n, NOW) == 0);
    /* <- e, ee, s, es + the node's statement */
    check(take_frame(s, buf, KN_FRAME_MAX, &n) == 0);
    uint8_t pl[KN_FRAME_MAX];
    size_t pn;
    check(kn_noise_handshake_read(hs, buf, n, pl, sizeof pl, &pn) == 0);
    check(pn == node_side.st_len && memcmp(pl, node_side.st_bytes, pn) == 0);
    /* -> s, se + payload */
    if (kn_noise_handshake_write(hs, payload, plen, buf + KN_FRAME_HEADER, KN_FRAME_MAX, &n) < 0)
        goto fail; /* a payload too long for one message */
    kn_frame_header(buf, n);
    check(kn_noise_handshake_split(hs, tx, &rx) == 0);
    feed(s, buf, KN_FRAME_HEADER + n, step, 0);
    kn_noise_cipher_free(rx);
    kn_noise_handshake_free(hs);
    free(buf);
    return s;
fail:
    kn_noise_handshake_free(hs);
    kn_session_free(s);
    free(buf);
    return NULL;
}

/* Mode 1: the fuzzer's bytes as the responder's statement, into an initiator session. */
static void run_msg2(const uint8_t *payload, size_t plen, size_t step)
{
    kn_noise_handshake *hs = NULL;
    kn_session *s = node_session(KN_NOISE_INITIATOR);
    uint8_t *buf = malloc(KN_FRAME_HEADER + KN_FRAME_MAX);
    size_t n, pn;
    uint8_t pl[64];
    if (!s || !buf
        || kn_noise_handshake_new_knoten(
               &hs, KN_NOISE_RESPONDER, netkey, peer_side.x_priv, peer_side.eph)
            < 0)
        goto out;
    check(take_frame(s, buf, KN_FRAME_MAX, &n) == 0);
    check(kn_noise_handshake_read(hs, buf, n, pl, sizeof pl, &pn) == 0 && pn == 0);
    if (kn_noise_handshake_write(hs, payload, plen, buf + KN_FRAME_HEADER, KN_FRAME_MAX, &n) < 0)
        goto out;
    kn_frame_header(buf, n);
    feed(s, buf, KN_FRAME_HEADER + n, step, 0);
    if (kn_session_state(s) == KN_SESSION_ESTABLISHED) {
        /* Only a valid statement gets this far; it must be the one we would accept. */
        const kn_identity_statement *id = kn_session_remote_identity(s);
        check(id && kn_identity_verify(id, peer_side.x_pub, NOW + 1) == 0);
    }
out:
    kn_noise_handshake_free(hs);
    kn_session_free(s);
    free(buf);
}

/* Mode 2: records of (length, plaintext), encrypted and framed as the peer would. */
static void run_transport(const uint8_t *in, size_t len, size_t step)
{
    kn_noise_cipher *tx = NULL;
    kn_session *s = handshake_as_initiator(peer_side.st_bytes, peer_side.st_len, step, &tx);
    uint8_t *stream = NULL;
    size_t slen = 0;
    if (!s || !tx)
        goto out;
    check(kn_session_state(s) == KN_SESSION_ESTABLISHED);
    /* At most 2 + KN_NOISE_TAG bytes of overhead per record of at least 2 input bytes. */
    stream = malloc(len * (1 + KN_FRAME_HEADER + KN_NOISE_TAG) + 1);
    if (!stream)
        goto out;
    while (len >= 2) {
        size_t plen = ((size_t)in[0] << 8 | in[1]) % (KN_NOISE_MAX_PLAINTEXT + 1);
        in += 2;
        len -= 2;
        if (plen > len)
            plen = len;
        if (kn_noise_cipher_encrypt(tx, NULL, 0, in, plen, stream + slen + KN_FRAME_HEADER) < 0)
            break;
        kn_frame_header(stream + slen, plen + KN_NOISE_TAG);
        slen += KN_FRAME_HEADER + plen + KN_NOISE_TAG;
        in += plen;
        len -= plen;
    }
    feed(s, stream, slen, step, 1);
out:
    free(stream);
    kn_noise_cipher_free(tx);
    kn_session_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    if (size < 1)
        return 0;
    int mode = data[0] & 3;
    size_t step = 1 + (size_t)(data[0] >> 2) * 97u;
    data++;
    size--;
    kn_noise_cipher *tx = NULL;
    kn_session *s = NULL;
    switch (mode) {
    case 0:
        if (size > KN_NOISE_MAX_PLAINTEXT - 64)
            size = KN_NOISE_MAX_PLAINTEXT - 64;
        s = handshake_as_initiator(data, size, step, &tx);
        if (s && kn_session_state(s) == KN_SESSION_ESTABLISHED) {
            const kn_identity_statement *id = kn_session_remote_identity(s);
            check(id && kn_identity_verify(id, peer_side.x_pub, NOW + 1) == 0);
        }
        break;
    case 1:
        if (size > KN_NOISE_MAX_PLAINTEXT - 64)
            size = KN_NOISE_MAX_PLAINTEXT - 64;
        run_msg2(data, size, step);
        break;
    case 2:
        run_transport(data, size, step);
        break;
    default:
        s = handshake_as_initiator(peer_side.st_bytes, peer_side.st_len, step, &tx);
        if (s) {
            check(kn_session_state(s) == KN_SESSION_ESTABLISHED);
            feed(s, data, size, step, 1);
        }
        break;
    }
    kn_noise_cipher_free(tx);
    kn_session_free(s);
    return 0;
}
