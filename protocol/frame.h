/*
 * Frames on the wire and the secure session the node drives.
 *
 * Every Noise message, handshake or transport, travels as a frame:
 *
 *     length (2 bytes, big-endian, 1..65535) || Noise message (length bytes)
 *
 * An application message (a msgpack array [kind, ...], DESIGN.md) may be
 * longer than one transport message can carry, so each transport plaintext
 * begins with one fragment byte:
 *
 *     0x00  final fragment: the message ends with this frame's bytes
 *     0x01  more follows: the next frame continues the same message
 *
 * followed by 0..65518 message bytes (65519 = the Noise plaintext limit, less
 * the fragment byte). A non-final fragment must carry at least one byte, any
 * other fragment byte is a protocol violation, and the reassembled message is
 * bounded (KN_FRAME_DEFAULT_MAX_MESSAGE unless configured). A sender fills
 * every fragment but the last.
 *
 * Three layers, each usable alone:
 *  - kn_frame_reader: bytes in arbitrary chunks (as libuv delivers them) ->
 *    complete frames, bounded by the frame limit;
 *  - kn_msg_assembler: transport plaintexts -> application messages;
 *  - kn_session: the whole sans-I/O connection: Noise handshake with the
 *    identity statements (identity.h), transport encryption, frames and
 *    fragments. The node feeds it received bytes with the current time and
 *    gets back bytes to send, decrypted messages and a state.
 * Nothing here reads a clock, a socket or the RNG.
 */
#ifndef KN_FRAME_H
#define KN_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "identity.h"
#include "noise.h"

enum {
    KN_FRAME_HEADER = 2,
    KN_FRAME_MAX = KN_NOISE_MAX_MESSAGE, /* 65535 */
    KN_FRAME_MAX_PLAINTEXT = KN_NOISE_MAX_PLAINTEXT, /* 65519 */
    KN_FRAME_MAX_CHUNK = KN_NOISE_MAX_PLAINTEXT - 1, /* 65518 message bytes per frame */
    KN_FRAME_FINAL = 0x00,
    KN_FRAME_MORE = 0x01,
    KN_FRAME_DEFAULT_MAX_MESSAGE = (1 << 20) + (64 << 10), /* 1 MiB + 64 KiB */
    KN_SESSION_HANDSHAKE_TIMEOUT_MS = 10000,
};

/* Writes the 2-byte big-endian length of a frame body of len (1..65535) bytes. */
void kn_frame_header(uint8_t hdr[static KN_FRAME_HEADER], size_t len);

/* ---- frame reader ---- */

typedef struct kn_frame_reader kn_frame_reader;

/*
 * max_frame: the largest body accepted, 1..65535 (0 means 65535). The reader
 * owns one buffer of that size for frames split across chunks. KN_EINVAL,
 * KN_ENOMEM.
 */
KN_MUST_USE int kn_frame_reader_new(kn_frame_reader **out, size_t max_frame);
void kn_frame_reader_free(kn_frame_reader *r);

/*
 * Consumes bytes of in up to the end of the next complete frame; *consumed
 * says how many. Returns 1 with the frame body in *frame / *frame_len, 0 when
 * all of in was consumed without completing a frame, or an error: KN_EPROTO
 * (a zero length), KN_ETOOBIG (longer than max_frame). Errors are final.
 * *frame points into in (when the whole frame lay there) or into the reader;
 * it is valid until the next call and as long as in is. Call in a loop:
 *
 *     while (len > 0) {
 *         rc = kn_frame_reader_next(r, in, len, &used, &f, &flen);
 *         in += used; len -= used;
 *         if (rc < 0) fail; if (rc == 0) break;
 *         ...use f[0..flen)...
 *     }
 */
KN_MUST_USE int kn_frame_reader_next(kn_frame_reader *r, const uint8_t *in, size_t len,
    size_t *consumed, const uint8_t **frame, size_t *frame_len);

/* Bytes of a partial frame held (header included); 0 between frames. */
size_t kn_frame_reader_buffered(const kn_frame_reader *r);

/* ---- message reassembly ---- */

typedef struct kn_msg_assembler kn_msg_assembler;

/* max_message: the largest reassembled message (0: KN_FRAME_DEFAULT_MAX_MESSAGE). */
KN_MUST_USE int kn_msg_assembler_new(kn_msg_assembler **out, size_t max_message);
void kn_msg_assembler_free(kn_msg_assembler *a);

/*
 * Takes one transport plaintext (fragment byte + bytes). Returns 1 with a
 * complete message in *msg / *msg_len (valid until the next push or free, and
 * as long as plain is: a message in one fragment is not copied, *msg points
 * into plain), 0 when the message continues, or a final error: KN_EPROTO
 * (empty plaintext, unknown fragment byte, empty non-final fragment),
 * KN_ELIMIT (the message outgrows max_message).
 */
KN_MUST_USE int kn_msg_assembler_push(
    kn_msg_assembler *a, const uint8_t *plain, size_t len, const uint8_t **msg, size_t *msg_len);

/* Frames needed to send a message of len bytes (at least 1). */
size_t kn_msg_fragments(size_t len);

/* ---- the secure session ---- */

typedef struct kn_session kn_session;

enum kn_session_state {
    KN_SESSION_HANDSHAKING = 0,
    KN_SESSION_ESTABLISHED,
    KN_SESSION_FAILED,
};

/*
 * One side of one connection, speaking the knoten protocol:
 * Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b, prologue "knoten/1".
 *
 * network_key: the 32-byte network key (the PSK). static_priv: this node's
 * X25519 static private key. self: this node's statement for that key
 * (kn_identity_sign), checked here against the key and now_ms (KN_EIDENTITY,
 * KN_EEXPIRED). ephemeral_priv: 32 fresh bytes from the node's kn_env.
 * Everything is copied. The handshake must finish within
 * KN_SESSION_HANDSHAKE_TIMEOUT_MS of now_ms (see kn_session_deadline).
 */
KN_MUST_USE int kn_session_new(kn_session **out, enum kn_noise_role role,
    const uint8_t network_key[static KN_NOISE_KEY], const uint8_t static_priv[static KN_NOISE_KEY],
    const kn_identity_statement *self, const uint8_t ephemeral_priv[static KN_NOISE_KEY],
    uint64_t now_ms);
/* Wipes and frees; NULL is fine. */
void kn_session_free(kn_session *s);

/* Bounds the size of a received (and sent) application message; before the handshake ends. */
KN_MUST_USE int kn_session_set_max_message(kn_session *s, size_t max_message);

/*
 * The initiator writes handshake message 1 to the pending output; for a
 * responder this does nothing (it waits for message 1). KN_ESTATE if called
 * twice.
 */
KN_MUST_USE int kn_session_start(kn_session *s);

/*
 * Feeds received bytes (any chunking) at time now_ms. Handshake messages are
 * answered into the pending output; transport messages are decrypted and
 * reassembled into the message queue (kn_session_next_message). Each
 * message's bytes are written once, by the decryption, into the buffer they
 * are read from; only frames that arrive split across feeds are copied
 * first (into the frame reader), and only short non-final fragments are
 * copied after. in is only read, and may be reused as soon as this returns.
 * Every pointer kn_session_next_message handed out before this call dies
 * here. Any error is
 * final and is also kept in kn_session_error(): the state becomes FAILED,
 * keys are wiped, pending output is dropped, and the node should close the
 * connection. A responder that gets a message 1 made with another network
 * key or prologue fails with KN_ECRYPTO and has written nothing. A peer whose
 * identity statement is bad gives KN_EIDENTITY (or KN_EEXPIRED, or a codec
 * error for a malformed one); a peer statement's roster check is the node's.
 *
 * Messages are queued, not bounded here: drain kn_session_next_message()
 * after each feed, and feed at most one read buffer (e.g. 64 KiB) at a time;
 * the queue then never holds more than that plus one message.
 */
KN_MUST_USE int kn_session_feed(kn_session *s, const uint8_t *in, size_t len, uint64_t now_ms);

/* Fails the session with KN_ETIMEOUT if the handshake deadline has passed. */
KN_MUST_USE int kn_session_tick(kn_session *s, uint64_t now_ms);

/* When the node should call kn_session_tick; UINT64_MAX once established or failed. */
uint64_t kn_session_deadline(const kn_session *s);

/*
 * Bytes waiting to be sent: *buf is valid until the next call that produces
 * output (start, feed, send, rekey) or frees. Each message is encrypted
 * straight into this buffer, which grows geometrically. Mark sent bytes with
 * kn_session_consume_output(). Or take the whole buffer with
 * kn_session_take_output(): the caller then owns it (free()) and can keep it
 * alive until an asynchronous write completes; NULL and 0 when empty.
 */
void kn_session_pending_output(const kn_session *s, const uint8_t **buf, size_t *len);
void kn_session_consume_output(kn_session *s, size_t n);
uint8_t *kn_session_take_output(kn_session *s, size_t *len);

/*
 * The next received application message: returns 1 and sets *msg / *len, 0
 * when none is queued. *msg points into the session (the message is not
 * copied for the caller) and is valid until the next call to
 * kn_session_next_message, kn_session_feed or kn_session_free, whichever
 * comes first; copy what must outlive that.
 */
int kn_session_next_message(kn_session *s, const uint8_t **msg, size_t *len);

/*
 * Encrypts an application message (split into frames as needed) into the
 * pending output. KN_ESTATE unless established, KN_ETOOBIG above the max
 * message size, KN_ENONCE (final) when the nonce space is exhausted.
 */
KN_MUST_USE int kn_session_send(kn_session *s, const uint8_t *msg, size_t len);

/*
 * Rekeys both directions now (spec Rekey()). Both peers must do it at the same
 * point of both message streams, so it needs an agreement the knoten protocol
 * does not define yet; the automatic rekey every 65,536 messages per direction
 * needs none. KN_ESTATE unless established.
 */
KN_MUST_USE int kn_session_rekey(kn_session *s);

enum kn_session_state kn_session_state(const kn_session *s);
/* The error that failed the session, or 0. */
int kn_session_error(const kn_session *s);

/*
 * The peer's verified identity statement once its handshake payload has been
 * checked (initiator: after message 2; responder: once established); NULL
 * before. Valid until kn_session_free.
 */
const kn_identity_statement *kn_session_remote_identity(const kn_session *s);
/* The peer's Noise static key; KN_ESTATE before it is known. */
KN_MUST_USE int kn_session_remote_static(const kn_session *s, uint8_t rs[static KN_NOISE_KEY]);
/* The Noise handshake hash (channel binding); KN_ESTATE unless established. */
KN_MUST_USE int kn_session_handshake_hash(const kn_session *s, uint8_t h[static KN_NOISE_HASH]);

#endif
