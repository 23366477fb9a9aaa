/*
 * Staff identities held by the node: each user (a member of staff at this
 * council) has an Ed25519 key of their own, kept by the node in
 *
 *   DATA/users/           0700
 *   DATA/users/<hex>.key  0600  the user's Ed25519 seed (32 bytes)
 *
 * and a `user` certificate signed by the node (name, role, expertise,
 * languages) that replicates, so every node can check that user's objects.
 * The store enforces the rule: a user's objects are valid while the
 * certificate is not revoked and the node is a member. Revoking publishes a
 * `revoke` of the user key and deletes the key file, so nothing new can be
 * signed with it here.
 *
 * Callers: `knoten user add|ls|revoke`, and later the HTTP API (a signed-in
 * staff member posts with their own key; kn_users_load_secret).
 */
#ifndef KN_USERS_H
#define KN_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datadir.h"
#include "env.h"
#include "error.h"
#include "store.h"

enum {
    KN_USER_NAME_MAX = 200, /* bytes, as the user schema allows */
    KN_USER_ROLE_MAX = 100,
    KN_USER_TAGS_MAX = 32, /* expertise tags, 1..64 bytes each */
    KN_USER_TAG_MAX = 64,
    KN_USER_LANGS_MAX = 8, /* language tags, 2..8 bytes each */
    KN_USER_LANG_MAX = 8,
};

/* What a new certificate says; all strings borrowed for the call. */
typedef struct kn_user_info {
    const char *name;
    const char *role;
    const char *const *expertise;
    size_t nexpertise;
    const char *const *lang;
    size_t nlang;
} kn_user_info;

/*
 * Creates a user key, writes it to DATA/users/<hex>.key (0600) and publishes
 * the certificate signed by the node at now. pk and cert_id (may be NULL)
 * receive the user's key and the certificate's id. KN_ESCHEMA if info breaks
 * the user schema (docs/objects.md); then no key file is left behind.
 * The result of storing the certificate (KN_PUT_STORED, or KN_PUT_PENDING if
 * this node is not a member yet) is returned on success.
 */
KN_MUST_USE int kn_users_create(kn_datadir *dd, const kn_env *env, const kn_user_info *info,
    uint8_t pk[static 32], uint8_t *cert_id);

/* DATA/users/<hex>.key for pk. */
KN_MUST_USE int kn_users_key_path(
    const kn_datadir *dd, const uint8_t pk[static 32], char out[static KN_PATH_MAX]);

/* True if the node holds the secret key of pk. */
bool kn_users_holds_key(const kn_datadir *dd, const uint8_t pk[static 32]);

/*
 * Loads a user's secret key (libsodium layout) for signing; the caller wipes
 * sk. KN_ENOTFOUND if the node does not hold it, KN_EPERM if the file is
 * readable by others, KN_ECORRUPT if it does not belong to pk.
 */
KN_MUST_USE int kn_users_load_secret(
    const kn_datadir *dd, const uint8_t pk[static 32], uint8_t sk[static 64]);

/*
 * Publishes a `revoke` of user key pk signed by the node (reason 1..1000
 * bytes) and deletes the key file. KN_ENOTFOUND if pk is not a user this
 * node certified, KN_ESTATE if the store has no network object.
 */
KN_MUST_USE int kn_users_revoke(kn_datadir *dd, const kn_env *env, const uint8_t pk[static 32],
    const char *reason, uint8_t *revoke_id);

/* One user as `knoten user ls` shows it, read from the certificate. */
typedef struct kn_user_entry {
    kn_roster_user r;
    uint64_t certified_ms; /* the certificate's created time */
    char name[KN_USER_NAME_MAX + 1];
    char role[KN_USER_ROLE_MAX + 1];
    char expertise[KN_USER_TAGS_MAX * (KN_USER_TAG_MAX + 1) + 1]; /* "a,b,c" */
    char lang[KN_USER_LANGS_MAX * (KN_USER_LANG_MAX + 1) + 1];
    bool key_held; /* this node has the secret key */
} kn_user_entry;

/*
 * The users certified by this node (or by every node, if all), in key order.
 * *out is malloc'd; free() it.
 */
KN_MUST_USE int kn_users_list(kn_datadir *dd, bool all, kn_user_entry **out, size_t *n);

/*
 * Finds a user of this node by 64-hex key or by exact name. KN_ENOTFOUND, or
 * KN_EEXIST if the name belongs to several users (give the key then).
 */
KN_MUST_USE int kn_users_find(kn_datadir *dd, const char *key_or_name, uint8_t pk[static 32]);

#endif
