/*
 * The configured peers: the addresses this node dials, each with the identity
 * it must present if the administrator pinned one.
 *
 * The list lives in the store settings under the key "peers" as one canonical
 * msgpack array of [addr str, key bin] pairs, where key is 32 bytes (the
 * expected Ed25519 identity) or empty (any member of the network). One value
 * rather than one setting per peer because the settings API has neither
 * deletion nor iteration, and a whole-list rewrite is one LMDB transaction.
 *
 * Writers: `knoten peer add|rm` (read-modify-write; LMDB serialises the
 * writes, two administrators racing each other can lose one edit). Reader:
 * the running node, which re-reads the list every few seconds and on SIGHUP.
 *
 * Two more settings say how the node takes part in finding each other
 * (docs/federation.md, "Addresses"), both written by `knoten run` and re-read
 * by the running node with the peer list:
 *
 *   "announce"     canonical msgpack array of 0..16 "HOST:PORT" strings: where
 *                  other members can reach this node (`--announce`). The node
 *                  publishes them in a signed `addr` object.
 *   "connections"  a msgpack uint: the target number of live connections
 *                  (`--connections`, default 8), filled from members' `addr`
 *                  objects once the configured peers are dialled.
 */
#ifndef KN_PEER_CONFIG_H
#define KN_PEER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

enum {
    KN_HOST_MAX = 253, /* a DNS name or an IP literal, without brackets */
    KN_PEER_ADDR_MAX = KN_HOST_MAX + 8, /* "[" host "]:" port */
    KN_PEERS_MAX = 256,
};

#define KN_PEERS_SETTING "peers"
#define KN_ANNOUNCE_SETTING "announce"
#define KN_CONNECTIONS_SETTING "connections"

enum {
    KN_ANNOUNCE_MAX = 16, /* addresses in one addr object (docs/objects.md) */
    KN_ANNOUNCE_ADDR_MAX = 255, /* bytes of one of them */
    KN_CONNECTIONS_DEFAULT = 8,
    KN_CONNECTIONS_MAX = 256,
    KN_ANNOUNCED_PEERS_MAX = 1024, /* announced addresses a node considers dialling */
};

typedef struct kn_peer_entry {
    char addr[KN_PEER_ADDR_MAX + 1]; /* "HOST:PORT" or "[V6]:PORT" as the administrator wrote it */
    bool has_key;
    uint8_t key[32]; /* expected identity when has_key */
} kn_peer_entry;

/* Owns v (malloc'd); kn_peer_list_free releases it. A zeroed struct is an empty list. */
typedef struct kn_peer_list {
    kn_peer_entry *v;
    size_t n;
} kn_peer_list;

void kn_peer_list_free(kn_peer_list *l);

/*
 * Splits "HOST:PORT" or "[V6]:PORT" into host (NUL-terminated, at most
 * KN_HOST_MAX characters, without brackets) and a port 1-65535. An IPv6
 * literal must be bracketed. KN_EINVAL otherwise.
 */
KN_MUST_USE int kn_hostport_parse(const char *s, char host[static KN_HOST_MAX + 1], uint16_t *port);

/* Strict decode of a stored list (canonical msgpack, bounded count). */
KN_MUST_USE int kn_peer_list_decode(kn_peer_list *l, const uint8_t *buf, size_t len);
/* Appends the canonical encoding; returns kn_mp_out_error. */
struct kn_mp_out;
KN_MUST_USE int kn_peer_list_encode(const kn_peer_list *l, struct kn_mp_out *o);

/* Loads the list from the store; an absent setting is an empty list. */
KN_MUST_USE int kn_peer_list_load(kn_store *s, kn_peer_list *l);
KN_MUST_USE int kn_peer_list_save(kn_store *s, const kn_peer_list *l);

/* Index of addr in the list, or -1. Addresses compare exactly. */
int kn_peer_list_find(const kn_peer_list *l, const char *addr);

/*
 * Adds addr (validated with kn_hostport_parse), or updates its key if it is
 * already listed. key may be NULL (any identity). KN_ELIMIT beyond KN_PEERS_MAX.
 */
KN_MUST_USE int kn_peer_list_add(kn_peer_list *l, const char *addr, const uint8_t *key);
/* KN_ENOTFOUND if addr is not listed. */
KN_MUST_USE int kn_peer_list_remove(kn_peer_list *l, const char *addr);

/*
 * A set of announced addresses, in the order given: this node's own (the
 * "announce" setting) or another member's (its newest addr object). Plain
 * value, no allocation.
 */
typedef struct kn_announce {
    size_t n;
    char addr[KN_ANNOUNCE_MAX][KN_ANNOUNCE_ADDR_MAX + 1];
} kn_announce;

/*
 * Adds addr unless it is listed already. KN_EINVAL if it is not HOST:PORT
 * (kn_hostport_parse) or longer than KN_ANNOUNCE_ADDR_MAX, KN_ELIMIT beyond
 * KN_ANNOUNCE_MAX.
 */
KN_MUST_USE int kn_announce_add(kn_announce *a, const char *addr);
/* True if both list the same addresses in the same order. */
bool kn_announce_equal(const kn_announce *a, const kn_announce *b);
/* Strict decode of the stored setting; encode appends it (returns kn_mp_out_error). */
KN_MUST_USE int kn_announce_decode(kn_announce *a, const uint8_t *buf, size_t len);
KN_MUST_USE int kn_announce_encode(const kn_announce *a, struct kn_mp_out *o);
/* The "announce" setting; absent is an empty set. save with a->n == 0 clears it. */
KN_MUST_USE int kn_announce_load(kn_store *s, kn_announce *a);
KN_MUST_USE int kn_announce_save(kn_store *s, const kn_announce *a);

/*
 * The addresses of an addr object's body (the object is checked already:
 * 1..16 strings of 1..255 bytes). Entries that are not HOST:PORT are
 * skipped, since another node wrote them; 0 with a->n == 0 if none is usable.
 */
struct kn_object;
KN_MUST_USE int kn_announce_from_object(kn_announce *a, const struct kn_object *o);

/* The "connections" setting; absent reads as KN_CONNECTIONS_DEFAULT. */
KN_MUST_USE int kn_connections_load(kn_store *s, unsigned *n);
KN_MUST_USE int kn_connections_save(kn_store *s, unsigned n);

#endif
