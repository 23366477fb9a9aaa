/*
 * Signed objects: the one format everything that replicates is written in.
 *
 *   [ 1, type, author, created, space, refs, body, sig ]     (DESIGN.md)
 *
 * This module owns the encoding (canonical msgpack, <= 64 KiB), the strict
 * decoder that rejects every non-canonical form so that one content has one
 * id, the id (BLAKE2b-256 of the whole encoding), Ed25519 signing under the
 * domain string "knoten/object/1\0", and the schema of every type
 * (docs/objects.md). It knows nothing of membership or storage: whether an
 * author is authorised and whether refs are present is the store's question.
 *
 * Callers: store/ on ingest, the command line and the node when creating
 * objects, wire code carrying object bytes.
 */
#ifndef KN_OBJECT_H
#define KN_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "error.h"

enum {
    KN_FORMAT_VERSION = 1,
    KN_OBJECT_MAX = 65536, /* encoded bytes, signature included */
    KN_ID = 32,
    KN_KEY = 32,
    KN_SIG = 64,
    KN_MAX_REFS = 16,
    KN_SPACE_MAX = 64, /* bytes of the area name */
    KN_FUTURE_SKEW_MS = 600000, /* created may be at most 10 minutes ahead */
    KN_BODY_DEPTH = 4, /* nesting below the body map */
};

/* Object types; the wire name of each is in kn_otype_name(). 0 is never a type. */
#define KN_OTYPES(X)                                                                               \
    X(KN_T_NETWORK, 1, "network")                                                                  \
    X(KN_T_ADMIT, 2, "admit")                                                                      \
    X(KN_T_REVOKE, 3, "revoke")                                                                    \
    X(KN_T_USER, 4, "user")                                                                        \
    X(KN_T_ADDR, 5, "addr")                                                                        \
    X(KN_T_DOC, 6, "doc")                                                                          \
    X(KN_T_THREAD, 7, "thread")                                                                    \
    X(KN_T_POST, 8, "post")                                                                        \
    X(KN_T_LINK, 9, "link")                                                                        \
    X(KN_T_POLL, 10, "poll")                                                                       \
    X(KN_T_VOTE, 11, "vote")                                                                       \
    X(KN_T_EVENT, 12, "event")                                                                     \
    X(KN_T_RSVP, 13, "rsvp")                                                                       \
    X(KN_T_DM, 14, "dm")                                                                           \
    X(KN_T_RETRACT, 15, "retract")

typedef enum kn_otype {
#define KN_OTYPE_ENUM(name, value, str) name = value,
    KN_OTYPES(KN_OTYPE_ENUM)
#undef KN_OTYPE_ENUM
        KN_T_MAX
} kn_otype;

/* "thread" for KN_T_THREAD; NULL for anything else. */
const char *kn_otype_name(int type);
/* The type named by s[0..len), or KN_EOBJTYPE. */
int kn_otype_from_name(const char *s, size_t len);

/*
 * A decoded object: a view into the encoded bytes, which the caller keeps
 * alive and unchanged for as long as the view is used.
 */
typedef struct kn_object {
    const uint8_t *raw; /* the whole encoding */
    size_t raw_len;
    uint8_t id[KN_ID];
    kn_otype type;
    const uint8_t *author; /* KN_KEY bytes */
    uint64_t created; /* ms since the epoch */
    const char *space; /* not NUL-terminated */
    uint32_t space_len;
    uint32_t nrefs;
    const uint8_t *refs[KN_MAX_REFS]; /* KN_ID bytes each */
    const uint8_t *body; /* the encoded body map */
    size_t body_len;
    const uint8_t *sig; /* KN_SIG bytes */
} kn_object;

/*
 * Strict decode: canonical msgpack, exact arity 8, version 1, a known type,
 * field types and lengths, refs <= KN_MAX_REFS, body a canonical map, no
 * trailing bytes, <= KN_OBJECT_MAX. Computes the id. Does not check the
 * signature or the schema of the body; see kn_object_validate().
 */
KN_MUST_USE int kn_object_decode(kn_object *o, const uint8_t *buf, size_t len);

/*
 * kn_object_decode for bytes whose id is already known to be id: the same
 * strict checks, but id is copied instead of computed (BLAKE2b over the whole
 * encoding). Only for bytes this node hashed itself before it kept them
 * under that id (the store's own records); anything from outside is decoded
 * with kn_object_decode.
 */
KN_MUST_USE int kn_object_decode_known(
    kn_object *o, const uint8_t *buf, size_t len, const uint8_t id[KN_ID]);

/* The body schema of o's type (docs/objects.md): KN_ESCHEMA if it does not fit. */
KN_MUST_USE int kn_object_check_schema(const kn_object *o);

/*
 * The ref that names the previous version of o, for the types that have
 * versions (edits): doc, thread, link and event with one ref, post with three
 * (docs/objects.md). NULL when o is no edit. That it really is an edit (same
 * type, same author) needs the previous object; see kn_store_versions().
 */
const uint8_t *kn_object_previous(const kn_object *o);

/* The Ed25519 signature by o->author over the domain string and the first seven fields. */
KN_MUST_USE int kn_object_verify(const kn_object *o);

/*
 * Everything that can be checked from the bytes alone, cheapest first:
 * decode, schema, created <= now + 10 minutes (KN_EFUTURE), signature.
 */
KN_MUST_USE int kn_object_validate(kn_object *o, const uint8_t *buf, size_t len, uint64_t now_ms);

/*
 * What a new object says before it is signed. body is an encoded canonical
 * map (write it with kn_mp_out, keys in bytewise order), borrowed.
 */
typedef struct kn_object_draft {
    kn_otype type;
    uint64_t created;
    const char *space; /* NUL-terminated; "" for none */
    uint32_t nrefs;
    uint8_t refs[KN_MAX_REFS][KN_ID];
    const uint8_t *body;
    size_t body_len;
} kn_object_draft;

/*
 * Encodes and signs a draft with an Ed25519 secret key (libsodium layout: the
 * public key is its last 32 bytes, and becomes the author). The result is
 * decoded and schema-checked before it is returned, so this never produces an
 * object that a peer would refuse. *out is malloc'd; the caller frees it.
 */
KN_MUST_USE int kn_object_sign(
    const kn_object_draft *d, const uint8_t sk[static 64], uint8_t **out, size_t *out_len);

/* ---- reading body fields ---- */

/* Positions *val at the value of key in o's body map; KN_ENOTFOUND if absent. */
KN_MUST_USE int kn_object_field(const kn_object *o, const char *key, kn_mp_in *val);
KN_MUST_USE int kn_object_str(const kn_object *o, const char *key, const char **s, uint32_t *len);
KN_MUST_USE int kn_object_uint(const kn_object *o, const char *key, uint64_t *v);
KN_MUST_USE int kn_object_bin(
    const kn_object *o, const char *key, const uint8_t **b, uint32_t *len);

#endif
