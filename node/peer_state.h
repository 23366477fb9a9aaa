/*
 * DATA/peers.state: what the running node knows about each peer right now,
 * for `knoten peer ls` in another process.
 *
 * A small text file rather than store settings: the node rewrites it up to
 * once a second while bytes flow, and keeping that out of LMDB leaves the one
 * write lock to the command line and to replication. It is replaced
 * atomically (temporary file, rename), so a reader sees a whole version.
 *
 * Format (version 1), one record per line, fields separated by tabs:
 *
 *   knoten-peers-state  1  PID  RUNNING(0|1)  UPDATED_MS
 *   peer  ADDR  DIR(out|in|announced)  PHASE  IDENTITY-HEX|-  SINCE_MS  HANDSHAKE_MS
 *         RETRY_MS  BYTES_IN  BYTES_OUT  ERROR_MS  ERROR-TEXT|-
 *   sync  OBJS_IN  OBJS_OUT  RECON_MS  RECON_DURATION_MS  RECON_IN  RECON_OUT
 *         RECON_FOUND  RECON_BYTES_IN
 *   blobs CHUNKS_IN  CHUNKS_OUT  BYTES_IN  BYTES_OUT  CORRUPT
 *
 *   ban   KEY  KIND(addr|id)  SCORE  BANS  UNTIL_MS  LAST_MS  REASON
 *
 * A `ban` record is a peer that misbehaved (node/guard.h): an address (before
 * the handshake) or an identity (hex), its score, how often it was banned,
 * the end of its current ban (0: not banned now), its last offense and what
 * it was. Banned ones come first; at most KN_PEER_BANS_MAX are written.
 *
 * A `sync` record belongs to the `peer` record just before it (replication
 * counters of the current or last connection, and its last reconciliation;
 * see kn_peer_sync), and so does a `blobs` record (file chunks moved over
 * that connection, kn_peer_blobs). Readers skip record kinds they do not
 * know, so the `sync` and `blobs` records were added without changing the
 * version; the last two fields of `sync` came later and may be missing (read
 * as 0), and a missing `blobs` record reads as zeros.
 *
 * DIR is "out" for a configured peer (`knoten peer add`), "in" for a peer
 * that dialled us and no configured or announced address accounts for, and
 * "announced" for an address another member published in its `addr` object
 * (dialled to reach the target number of connections). "announced" came
 * later; a reader that does not know it takes it for "out".
 *
 * Writer: the node (node.c). Readers: `knoten peer ls`, `knoten sync status`,
 * tests.
 */
#ifndef KN_PEER_STATE_H
#define KN_PEER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "peer_config.h"

#define KN_PEER_STATE_FILE "peers.state"

typedef enum kn_peer_phase {
    KN_PHASE_IDLE = 0, /* nothing tried yet */
    KN_PHASE_CONNECTING, /* resolving or TCP connect in progress */
    KN_PHASE_HANDSHAKE, /* Noise handshake in progress */
    KN_PHASE_CONNECTED, /* session established */
    KN_PHASE_BACKOFF, /* waiting until retry_ms before the next attempt */
} kn_peer_phase;

const char *kn_peer_phase_name(kn_peer_phase p);

enum { KN_PEER_ERROR_MAX = 160 };

/*
 * Replication with one peer over the current (or the last) connection. A
 * reconciliation is one anti-entropy session (Negentropy) plus the objects
 * it moved. One this node started (outbound peers) is the engine's
 * (kn_repl_recon): from its first message until every object it found
 * missing has come (or was given up), with exact figures. One the peer
 * started is delimited by the node: until the link has been quiet for a
 * second, and recon_found is 0 (the peer knows what it lacked, we do not).
 */
typedef struct kn_peer_sync {
    uint64_t objs_in, objs_out; /* obj messages received and sent */
    uint64_t recon_ms; /* start of the last finished reconciliation, 0 if none */
    uint64_t recon_duration_ms;
    uint64_t recon_in, recon_out; /* objects it brought, and sent the peer */
    uint64_t recon_found; /* objects it found missing here */
    uint64_t recon_bytes_in; /* encoded size of the objects it brought */
} kn_peer_sync;

/*
 * File contents (blob chunks, node/blobfetch.h) moved over the current (or
 * the last) connection. `corrupt` counts chunks the peer sent that failed
 * their hash: a peer with corrupt chunks is not asked for that file again,
 * and after three it is disconnected.
 */
typedef struct kn_peer_blobs {
    uint64_t chunks_in, chunks_out;
    uint64_t bytes_in, bytes_out;
    uint64_t corrupt;
} kn_peer_blobs;

typedef struct kn_peer_status {
    char addr[KN_PEER_ADDR_MAX + 1];
    bool inbound;
    bool announced; /* from a member's addr object, not configured */
    kn_peer_phase phase;
    bool has_identity;
    uint8_t identity[32];
    uint64_t since_ms; /* connected since (CONNECTED), else 0 */
    uint64_t handshake_ms; /* last completed handshake, 0 if never */
    uint64_t retry_ms; /* next attempt (BACKOFF) */
    uint64_t bytes_in, bytes_out;
    uint64_t error_ms; /* when last_error happened, 0 if never */
    char last_error[KN_PEER_ERROR_MAX + 1];
    kn_peer_sync sync;
    kn_peer_blobs blobs;
} kn_peer_status;

enum { KN_PEER_BANS_MAX = 256, KN_PEER_BAN_KEY_MAX = 64 };

/* A misbehaving peer, as the node's abuse guard sees it (`ban` records). */
typedef struct kn_peer_ban {
    char key[KN_PEER_BAN_KEY_MAX + 1]; /* IP address, or identity in hex */
    bool is_id;
    unsigned score, bans;
    uint64_t until_ms; /* end of the current ban; 0: not banned */
    uint64_t last_ms; /* the last offense */
    char reason[KN_PEER_ERROR_MAX + 1]; /* what the last offense was */
} kn_peer_ban;

typedef struct kn_peer_state {
    long pid;
    bool running;
    uint64_t updated_ms;
    kn_peer_status *v; /* owned; kn_peer_state_free */
    size_t n;
    kn_peer_ban *bans; /* owned; kn_peer_state_free */
    size_t nbans;
} kn_peer_state;

void kn_peer_state_free(kn_peer_state *st);

/* Writes DIR/peers.state atomically. */
KN_MUST_USE int kn_peer_state_write(const char *datadir, const kn_peer_state *st);

/*
 * Reads DIR/peers.state (at most 2 * KN_PEERS_MAX + KN_ANNOUNCED_PEERS_MAX + 256 peer records);
 * KN_ENOTFOUND if the node never ran, KN_ECORRUPT if it is not ours.
 */
KN_MUST_USE int kn_peer_state_read(const char *datadir, kn_peer_state *st);

#endif
