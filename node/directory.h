/*
 * Who is who, for display: the staff users of every council (from their
 * `user` certificates) and the councils (from the `admit` objects), read
 * once from the store into memory, so that listings, poll results, feeds and
 * the expert directory can put names to keys. Everything here is derived
 * from replicated objects, so every node shows the same names.
 *
 * A council's name is the one in the latest admit for it by (created, id);
 * the founding node has no admit and is shown as "founding council" with its key.
 *
 * Callers: `knoten poll|event|msg|experts|feed|show`, later the web UI.
 */
#ifndef KN_DIRECTORY_H
#define KN_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datadir.h"
#include "error.h"
#include "users.h"

typedef struct kn_council {
    uint8_t key[32];
    char name[201];
    char ags[13];
} kn_council;

typedef struct kn_directory {
    kn_user_entry *users; /* every certified user, in key order */
    size_t nusers;
    kn_council *councils; /* every admitted node, in key order */
    size_t ncouncils;
    uint8_t founder[32]; /* the author of the network object */
    bool has_founder;
} kn_directory;

/* Reads users and councils from dd's store. Free with kn_directory_free. */
KN_MUST_USE int kn_directory_load(kn_datadir *dd, kn_directory *d);
void kn_directory_free(kn_directory *d);

/* The user with key, or NULL. Valid until kn_directory_free. */
const kn_user_entry *kn_directory_user(const kn_directory *d, const uint8_t key[32]);
/* The council with node key, or NULL. */
const kn_council *kn_directory_council(const kn_directory *d, const uint8_t key[32]);

/*
 * A label for any key: "Erika Muster (Gemeinde B)" for a user, "Gemeinde B"
 * for a council, "founding council 1a2b3c4d" for the founder (no admit names
 * it), else the first 16 hex digits. buf
 * gets at most cap bytes, NUL-terminated; returns buf.
 */
const char *kn_directory_label(const kn_directory *d, const uint8_t key[32], char *buf, size_t cap);

/*
 * Finds users by exact name or 64-hex key among all councils' users.
 * KN_ENOTFOUND, KN_EEXIST if the name is ambiguous (give the key).
 */
KN_MUST_USE int kn_directory_find_user(
    const kn_directory *d, const char *key_or_name, const kn_user_entry **out);

#endif
