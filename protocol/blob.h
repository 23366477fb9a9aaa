/*
 * Blobs: the contents of the files a `doc` object lists, cut into chunks.
 *
 * The format (DESIGN.md, docs/blobs.md): a file of `size` bytes is cut into
 * KN_BLOB_CHUNK (256 KiB) chunks, the last one shorter (1..KN_BLOB_CHUNK bytes);
 * nchunks = ceil(size / KN_BLOB_CHUNK). Each chunk's hash is BLAKE2b-256 of its
 * bytes. The blob id is BLAKE2b-256 of the concatenation of the chunk hashes in
 * order, nothing else (no length prefix, no domain string). The empty file has
 * no chunks, so its id is BLAKE2b-256 of the empty string (KN_BLOB_EMPTY_ID
 * below) and it is complete everywhere without any transfer.
 *
 * The manifest of a blob is its size and its chunk hashes. Encoded (for the
 * store and for the wire) it is size as 8 bytes big-endian followed by the
 * nchunks hashes, 32 bytes each: exactly 8 + 32 * ceil(size / CHUNK) bytes.
 * A manifest is checked against a blob id before anything trusts it, and
 * every chunk against its manifest hash, so a peer can make us store nothing
 * that a doc's author did not sign for (the doc lists blob id and size).
 *
 * Pure code (libsodium through crypto.h only). Callers: store/blobstore.c (which
 * stores blobs), the command line (hashing a local file before it is
 * stored), the network side (checking manifests and chunks from peers).
 */
#ifndef KN_BLOB_H
#define KN_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "error.h"

enum {
    KN_BLOB_CHUNK = 262144, /* bytes per chunk; the last one of a file may be shorter */
    KN_BLOB_HASH = 32, /* BLAKE2b-256, of a chunk and of the list */
    KN_BLOB_ID = 32,
    KN_BLOB_MANIFEST_HDR = 8, /* size, big-endian, before the hashes */
};

/*
 * The largest file any node accepts: 16 GiB, so a manifest is at most
 * 65,536 hashes (2 MiB + 8 bytes) and a chunk index fits in 32 bits with room
 * to spare. The per-file limit a node enforces (store/blobstore.h) is at most this.
 */
#define KN_BLOB_SIZE_MAX ((uint64_t)16 << 30)
enum { KN_BLOB_CHUNKS_MAX = (int)(KN_BLOB_SIZE_MAX / KN_BLOB_CHUNK) };
#define KN_BLOB_MANIFEST_MAX                                                                       \
    ((size_t)KN_BLOB_MANIFEST_HDR + (size_t)KN_BLOB_CHUNKS_MAX * KN_BLOB_HASH)

/* BLAKE2b-256(""): the id of the empty file (0 chunks). */
extern const uint8_t KN_BLOB_EMPTY_ID[KN_BLOB_ID];

/* ceil(size / KN_BLOB_CHUNK); 0 for the empty file. size must be <= KN_BLOB_SIZE_MAX. */
static inline uint32_t kn_blob_nchunks(uint64_t size)
{
    return (uint32_t)((size + KN_BLOB_CHUNK - 1) / KN_BLOB_CHUNK);
}

/* Bytes of chunk index of a size-byte file; 0 if index >= kn_blob_nchunks(size). */
static inline uint32_t kn_blob_chunk_len(uint64_t size, uint32_t index)
{
    uint64_t off = (uint64_t)index * KN_BLOB_CHUNK;
    if (off >= size)
        return 0;
    return size - off >= KN_BLOB_CHUNK ? KN_BLOB_CHUNK : (uint32_t)(size - off);
}

/* BLAKE2b-256 of one chunk's bytes (len <= KN_BLOB_CHUNK is the caller's concern). */
void kn_blob_chunk_hash(uint8_t out[static KN_BLOB_HASH], const uint8_t *data, size_t len);

/* The blob id: BLAKE2b-256 over n hashes of KN_BLOB_HASH bytes, in order (n may be 0). */
void kn_blob_id_of(uint8_t id[static KN_BLOB_ID], const uint8_t *hashes, uint32_t n);

/*
 * Checks a manifest: size <= KN_BLOB_SIZE_MAX (else KN_ETOOBIG), n ==
 * kn_blob_nchunks(size) (else KN_EINVAL), and that the hashes give id (else
 * KN_EHASH). Returns 0 if it is consistent. hashes holds n * 32 bytes.
 */
KN_MUST_USE int kn_blob_manifest_check(
    uint64_t size, const uint8_t *hashes, uint32_t n, const uint8_t id[static KN_BLOB_ID]);

/* The encoded length of the manifest of a size-byte file (size <= KN_BLOB_SIZE_MAX). */
static inline size_t kn_blob_manifest_len(uint64_t size)
{
    return KN_BLOB_MANIFEST_HDR + (size_t)kn_blob_nchunks(size) * KN_BLOB_HASH;
}

/*
 * Writes the encoding of a manifest (size(8) hashes) into out, which holds
 * kn_blob_manifest_len(size) bytes; n must be kn_blob_nchunks(size).
 */
void kn_blob_manifest_encode(uint8_t *out, uint64_t size, const uint8_t *hashes, uint32_t n);

/*
 * Parses an encoded manifest from untrusted bytes: at least the 8-byte
 * header, size <= KN_BLOB_SIZE_MAX (KN_ETOOBIG), and exactly the hashes that
 * size calls for (KN_ETRUNC if fewer, KN_ETRAILING if more). *hashes points
 * into buf (borrowed). If id is not NULL the manifest is also checked
 * against it (KN_EHASH). Fuzzed by tests/fuzz/fuzz_blob.c.
 */
KN_MUST_USE int kn_blob_manifest_parse(const uint8_t *buf, size_t len, const uint8_t *id,
    uint64_t *size, const uint8_t **hashes, uint32_t *n);

/*
 * Streaming hasher: feed a file's bytes in pieces of any length and get its
 * chunk hashes and blob id, holding one chunk's hash state and the list of
 * hashes (32 bytes per 256 KiB), never the file.
 *
 * Fields are read-only for the caller: after kn_blob_hasher_final(), hashes
 * holds nchunks hashes and size the bytes fed. hashes is owned by the hasher
 * (kn_blob_hasher_free releases it) or taken with kn_blob_hasher_take().
 */
typedef struct kn_blob_hasher {
    kn_blake2b_state chunk; /* the chunk being fed */
    uint32_t fill; /* bytes in the current chunk */
    uint32_t nchunks; /* completed chunks */
    uint32_t cap; /* hashes allocated */
    uint64_t size; /* bytes fed so far */
    uint8_t *hashes; /* nchunks * KN_BLOB_HASH bytes */
    bool final;
} kn_blob_hasher;

void kn_blob_hasher_init(kn_blob_hasher *h);
/* KN_ETOOBIG once more than KN_BLOB_SIZE_MAX bytes were fed, KN_ENOMEM, KN_ESTATE after final. */
KN_MUST_USE int kn_blob_hasher_update(kn_blob_hasher *h, const uint8_t *data, size_t len);
/* Completes the last (short) chunk and writes the blob id. */
KN_MUST_USE int kn_blob_hasher_final(kn_blob_hasher *h, uint8_t id[static KN_BLOB_ID]);
/*
 * A hasher in the state of one that was fed n full chunks whose hashes are
 * hashes[0..n) (copied), with more bytes to follow: for an upload resumed
 * after a restart from the chunk hashes it kept. At least one more byte must
 * be fed before kn_blob_hasher_final() (a file of exactly n chunks is resumed
 * from n - 1 and its last chunk fed again).
 */
KN_MUST_USE int kn_blob_hasher_resume(kn_blob_hasher *h, const uint8_t *hashes, uint32_t n);
/* Hands the hash list over (malloc'd, caller frees; NULL for the empty file). */
uint8_t *kn_blob_hasher_take(kn_blob_hasher *h);
void kn_blob_hasher_free(kn_blob_hasher *h);

/* ---- the files of a doc object ---- */

enum { KN_DOC_FILES_MAX = 64 }; /* the schema's bound on `files` */

/* One entry of a doc's `files`: views into the object's bytes (valid while they are). */
typedef struct kn_doc_file {
    const uint8_t *blob; /* KN_BLOB_ID bytes */
    uint64_t size;
    const char *name; /* not NUL-terminated */
    uint32_t name_len;
    const char *mime; /* not NUL-terminated */
    uint32_t mime_len;
} kn_doc_file;

struct kn_object;
/*
 * Reads the `files` array of a doc object into out (KN_DOC_FILES_MAX
 * entries). Every entry must have blob (bin 32), mime, name (str) and size
 * (uint); other keys are skipped. KN_ESCHEMA if the body does not have that
 * shape, KN_ETYPE if o is not a doc.
 */
KN_MUST_USE int kn_doc_files(
    const struct kn_object *o, kn_doc_file out[KN_DOC_FILES_MAX], uint32_t *n);

#endif
