/*
 * The node's data directory: where its keys and its store live on disk.
 *
 *   DIR/               0700
 *   DIR/identity.key   0600  the node's Ed25519 seed (32 bytes)
 *   DIR/network.key    0600  the federation's network key (Noise PSK, 32 bytes)
 *   DIR/store/         the LMDB environment (kn_store)
 *
 * kn_datadir owns the loaded secrets and wipes them in kn_datadir_close().
 * Callers: the command line (every subcommand) and `knoten run`.
 */
#ifndef KN_DATADIR_H
#define KN_DATADIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "error.h"
#include "store.h"

enum { KN_PATH_MAX = 4096 };

typedef struct kn_datadir {
    char path[KN_PATH_MAX];
    uint8_t identity_pk[32];
    uint8_t identity_sk[64]; /* secret: wiped on close */
    uint8_t network_key[32]; /* secret: wiped on close */
    bool has_network_key;
    kn_store *store;
} kn_datadir;

/*
 * The default data directory: $KNOTEN_DATA if set, else /var/lib/knoten for
 * root, else $XDG_DATA_HOME/knoten or ~/.local/share/knoten.
 */
KN_MUST_USE int kn_datadir_default(char out[static KN_PATH_MAX]);

/* True if path holds an initialised node (identity.key exists). */
bool kn_datadir_exists(const char *path);

/*
 * Creates the directory (and parents) with 0700, a fresh identity key and, if
 * network_key is not NULL, writes it as the network key. KN_EEXIST if the
 * directory already holds an identity.
 */
KN_MUST_USE int kn_datadir_create(const char *path, const kn_env *env, const uint8_t *network_key);

/*
 * Loads the keys and opens the store. dd is the caller's; close with
 * kn_datadir_close. Unless opt sets a progress callback, a store that needs
 * long work on open (building its search index) reports it on stderr once
 * it holds KN_DATADIR_PROGRESS_MIN objects or more.
 */
enum { KN_DATADIR_PROGRESS_MIN = 10000 };
KN_MUST_USE int kn_datadir_open(kn_datadir *dd, const char *path, const kn_store_options *opt);
void kn_datadir_close(kn_datadir *dd);

/*
 * mkdir -p: the last component 0700 (chmod'ed so even an existing one ends up
 * 0700), parents 0755. For data directories and backups.
 */
KN_MUST_USE int kn_datadir_mkdir(const char *path);

/* Writes the network key (0600) into an opened data directory. */
KN_MUST_USE int kn_datadir_set_network_key(kn_datadir *dd, const uint8_t key[static 32]);

/*
 * Secret files: written atomically (temporary file, fsync, rename) with mode
 * 0600; read back only if exactly `len` bytes long and not readable by group
 * or others (KN_EPERM then, with the fix in the message of the caller).
 */
KN_MUST_USE int kn_secret_file_write(const char *path, const uint8_t *data, size_t len);
KN_MUST_USE int kn_secret_file_read(const char *path, uint8_t *data, size_t len);

#endif
