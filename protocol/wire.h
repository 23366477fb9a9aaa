/*
 * Wire messages: the application messages two nodes exchange inside an
 * established session, after the Noise handshake and frame reassembly.
 *
 * Every message is one canonical msgpack array [kind str, ...] with a fixed
 * arity per kind:
 *
 *   ["hello", version uint, node_key bin32, flags uint]
 *   ["have",  [bin32, ...]]            ids the sender holds (<= KN_WIRE_IDS_MAX)
 *   ["want",  [bin32, ...]]            ids the sender asks for (<= KN_WIRE_IDS_MAX)
 *   ["obj",   bin]                     one signed object (<= KN_OBJECT_MAX bytes)
 *   ["neg",   session uint, bin]       one Negentropy V1 message (<= KN_WIRE_NEG_MAX)
 *   ["ping",  nonce uint]
 *   ["pong",  nonce uint]
 *   ["bye",   reason str]              (<= KN_WIRE_REASON_MAX bytes)
 *   ["join",  secret bin, name str, ags str]
 *                                      invite redemption (docs/federation.md): the
 *                                      one-time secret of an invite code (16..32
 *                                      bytes), the council's name (1..200 bytes)
 *                                      and its AGS ("" or 8 or 12 digits)
 *
 * File contents (blobs, docs/blobs.md "Wire") travel in their own messages,
 * so that a doc object stays small and its files can come from any peer:
 *
 *   ["blob-have", [blob bin32, ...]]   blobs the sender now holds complete
 *                                      (<= KN_WIRE_IDS_MAX): a hint to ask it
 *   ["blob-manifest-want", blob bin32, first uint]
 *                                      asks for the manifest page that starts
 *                                      at chunk index `first`
 *   ["blob-manifest", blob bin32, size uint, first uint, [hash bin32, ...]]
 *                                      the blob's size in bytes and the hashes
 *                                      of its chunks first, first+1, ...: a
 *                                      full page of KN_WIRE_MANIFEST_PAGE
 *                                      hashes, or the rest of the list
 *   ["blob-want", blob bin32, [index uint, ...]]
 *                                      asks for 1..KN_WIRE_CHUNK_IDX_MAX chunks
 *   ["blob-chunk", blob bin32, index uint, data bin]
 *                                      one chunk (<= KN_WIRE_CHUNK_MAX bytes)
 *   ["blob-none", blob bin32, [index uint, ...]]
 *                                      "I do not have these chunks"
 *                                      (<= KN_WIRE_CHUNK_IDX_MAX); an empty
 *                                      list: "I do not have this blob's
 *                                      manifest", the answer to a manifest want
 *
 * Indexes are chunk positions in the blob (0-based, < 2^32). A requester
 * verifies the manifest against the blob id and every chunk against its hash
 * in the manifest; nothing a peer sends is trusted before that. A blob-chunk
 * of 256 KiB is larger than one Noise frame: the session splits and
 * reassembles it (frame.h), within the node's message bound, which is above
 * KN_WIRE_MSG_MAX.
 *
 * A "join" is answered by the inviter with the signed admit as an ordinary
 * "obj", or with a "bye" that says why not. It is the only message besides
 * ping, pong and bye that a peer holding the network key but not admitted
 * may send (node/messages.c enforces that).
 * This module owns the encoders and the strict decoder: canonical form,
 * exact arity, bounded counts and sizes, no trailing bytes. It does not look
 * inside an "obj" (kn_object_validate does) or a "neg" payload (kn_neg_* does).
 *
 * Callers: the replication engine (node/repl.c), the blob fetch engine
 * (node/blobfetch.c), the libuv shell's message
 * dispatch (node/messages.c), the simulator, the fuzz target.
 */
#ifndef KN_WIRE_H
#define KN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "error.h"
#include "object.h"

enum {
    KN_WIRE_VERSION = 1, /* the version a node sends in hello */
    KN_WIRE_IDS_MAX = 1024, /* ids in one have or want */
    KN_WIRE_REASON_MAX = 255, /* bytes of a bye reason */
    KN_WIRE_NEG_MAX = 65536, /* bytes of one negentropy message */
    KN_WIRE_CHUNK_MAX = 256 << 10, /* bytes of one blob chunk (KN_BLOB_CHUNK, protocol/blob.h) */
    KN_WIRE_CHUNK_IDX_MAX = 64, /* chunk indexes in one blob-want or blob-none */
    KN_WIRE_MANIFEST_PAGE = 1024, /* chunk hashes in one blob-manifest (256 MiB of file) */
    /*
     * The largest encoded message: a blob-chunk of KN_WIRE_CHUNK_MAX bytes plus
     * its headers (an obj, a neg or a full manifest page are all smaller).
     */
    KN_WIRE_MSG_MAX = KN_WIRE_CHUNK_MAX + 128,
    /* The encoded size of one id in a have/want list (bin8 header + 32 bytes). */
    KN_WIRE_ID_ENCODED = 2 + KN_ID,
    KN_WIRE_JOIN_SECRET_MIN = 16, /* bytes of an invite secret (KN_INVITE_SECRET_MIN) */
    KN_WIRE_JOIN_SECRET_MAX = 32,
    KN_WIRE_JOIN_NAME_MAX = 200, /* bytes of a council's name, as the admit schema allows */
};

typedef enum kn_wire_kind {
    KN_WIRE_HELLO = 1,
    KN_WIRE_HAVE,
    KN_WIRE_WANT,
    KN_WIRE_OBJ,
    KN_WIRE_NEG,
    KN_WIRE_PING,
    KN_WIRE_PONG,
    KN_WIRE_BYE,
    KN_WIRE_JOIN,
    KN_WIRE_BLOB_HAVE,
    KN_WIRE_MANIFEST_WANT,
    KN_WIRE_MANIFEST,
    KN_WIRE_BLOB_WANT,
    KN_WIRE_BLOB_CHUNK,
    KN_WIRE_BLOB_NONE,
} kn_wire_kind;

/* "have" for KN_WIRE_HAVE; NULL for anything else. */
const char *kn_wire_kind_name(int kind);

/*
 * A decoded message: a view into the input bytes, which the caller keeps alive
 * and unchanged while the view is used. Only the fields of `kind` are set.
 */
typedef struct kn_wire_msg {
    kn_wire_kind kind;
    uint64_t version; /* hello */
    const uint8_t *node_key; /* hello: KN_KEY bytes */
    uint64_t flags; /* hello */
    uint32_t nids; /* have, want, blob-have; blob-manifest: hashes */
    /* Those ids (or chunk hashes), KN_WIRE_ID_ENCODED bytes apart; see kn_wire_id(). */
    const uint8_t *ids;
    uint64_t session; /* neg */
    /* obj: the object bytes; neg: the negentropy message; blob-chunk: the chunk bytes */
    const uint8_t *data;
    uint32_t data_len;
    uint64_t nonce; /* ping, pong */
    const char *reason; /* bye: valid UTF-8, not NUL-terminated */
    uint32_t reason_len;
    const uint8_t *secret; /* join: secret_len bytes (a secret: wipe the input after use) */
    uint32_t secret_len;
    const char *name; /* join: 1..KN_WIRE_JOIN_NAME_MAX bytes of UTF-8, not NUL-terminated */
    uint32_t name_len;
    const char *ags; /* join: 0, 8 or 12 ASCII digits, not NUL-terminated */
    uint32_t ags_len;
    const uint8_t *blob; /* blob-*: the blob id, KN_ID bytes */
    uint64_t size; /* blob-manifest: the blob's size in bytes */
    uint32_t first; /* blob-manifest(-want): index of the first hash */
    uint32_t index; /* blob-chunk */
    uint32_t nidx; /* blob-want, blob-none: indexes in idx */
    uint32_t idx[KN_WIRE_CHUNK_IDX_MAX];
} kn_wire_msg;

/* The i-th id (i < m->nids) of a have or want, KN_ID bytes inside the input. */
static inline const uint8_t *kn_wire_id(const kn_wire_msg *m, uint32_t i)
{
    return m->ids + (size_t)i * KN_WIRE_ID_ENCODED + 2;
}

/*
 * Strict decode of one whole message. Errors: the codec's (KN_ETRUNC,
 * KN_ETYPE, KN_ENONCANON, ...), KN_EARITY (wrong number of fields for the
 * kind), KN_EPROTO (unknown kind), KN_EKEYLEN (an id or key not 32 bytes),
 * KN_ELIMIT (too many ids, hashes or indexes; an index or first >= 2^32),
 * KN_ETOOBIG (object, negentropy message, chunk, reason or join name too
 * long), KN_ESCHEMA (a join secret of the wrong length, an empty name or an
 * AGS that is not "" or 8 or 12 digits; a blob-want without indexes),
 * KN_ETRAILING (bytes after the message). That a manifest page fits its
 * size, and a chunk its hash, is the receiver's to check.
 */
KN_MUST_USE int kn_wire_decode(kn_wire_msg *m, const uint8_t *buf, size_t len);

/*
 * Encoders append one message to o and return 0 or o's error; out-of-bounds
 * arguments (too many ids, a too-long reason or payload) give KN_EINVAL /
 * KN_ETOOBIG and write nothing. ids are n consecutive KN_ID-byte ids.
 */
KN_MUST_USE int kn_wire_write_hello(
    kn_mp_out *o, uint64_t version, const uint8_t node_key[static KN_KEY], uint64_t flags);
KN_MUST_USE int kn_wire_write_ids(
    kn_mp_out *o, kn_wire_kind kind, const uint8_t (*ids)[KN_ID], size_t n);
KN_MUST_USE int kn_wire_write_obj(kn_mp_out *o, const uint8_t *obj, size_t len);
KN_MUST_USE int kn_wire_write_neg(kn_mp_out *o, uint64_t session, const uint8_t *msg, size_t len);
KN_MUST_USE int kn_wire_write_ping(kn_mp_out *o, uint64_t nonce);
KN_MUST_USE int kn_wire_write_pong(kn_mp_out *o, uint64_t nonce);
KN_MUST_USE int kn_wire_write_bye(kn_mp_out *o, const char *reason, size_t len);
/*
 * ["join", secret, name, ags]: the same bounds as the decoder (KN_ESCHEMA,
 * KN_ETOOBIG, KN_EUTF8); ags may be NULL for "". o then holds the secret:
 * the caller wipes o.buf before freeing it.
 */
KN_MUST_USE int kn_wire_write_join(kn_mp_out *o, const uint8_t *secret, size_t secret_len,
    const char *name, size_t name_len, const char *ags, size_t ags_len);

/* ---- blobs (kn_wire_write_ids also writes blob-have) ---- */

KN_MUST_USE int kn_wire_write_manifest_want(
    kn_mp_out *o, const uint8_t blob[static KN_ID], uint32_t first);
/* n <= KN_WIRE_MANIFEST_PAGE hashes of KN_ID bytes each (KN_ELIMIT beyond). */
KN_MUST_USE int kn_wire_write_manifest(kn_mp_out *o, const uint8_t blob[static KN_ID],
    uint64_t size, uint32_t first, const uint8_t (*hashes)[KN_ID], size_t n);
/*
 * blob-want (1..KN_WIRE_CHUNK_IDX_MAX indexes) or blob-none
 * (0..KN_WIRE_CHUNK_IDX_MAX); KN_EINVAL for another kind, KN_ESCHEMA for an
 * empty want, KN_ELIMIT for too many.
 */
KN_MUST_USE int kn_wire_write_blob_idx(kn_mp_out *o, kn_wire_kind kind,
    const uint8_t blob[static KN_ID], const uint32_t *idx, size_t n);
KN_MUST_USE int kn_wire_write_blob_chunk(kn_mp_out *o, const uint8_t blob[static KN_ID],
    uint32_t index, const uint8_t *data, size_t len);
/*
 * A blob-chunk up to (and including) the bin header of its data: the caller
 * appends exactly len bytes of chunk data right after (to a buffer of its
 * own, so the chunk is copied once, e.g. straight from the store into the
 * session). KN_ETOOBIG above KN_WIRE_CHUNK_MAX.
 */
KN_MUST_USE int kn_wire_write_blob_chunk_head(
    kn_mp_out *o, const uint8_t blob[static KN_ID], uint32_t index, size_t len);

#endif
