/*
 * Joining a network with an invite code, over the network (issue 5, phase 2).
 *
 * `knoten join` decodes the code, creates the data directory with the
 * network key from it and pins the inviter's addresses to the inviter's
 * identity; then it runs the node in join mode (kn_node_join_run): no
 * listener, dial the inviter, send ["join", secret, name, ags], wait for the
 * signed admit (an ordinary "obj"), then run the first reconciliation with
 * the inviter and stop. The outcome and the figures of that first sync come
 * back in kn_node_join for the command to print.
 *
 * The other half, the inviter redeeming a join inside `knoten run`, lives in
 * node/join.c too (join_on_message, node_impl.h); docs/federation.md
 * describes both.
 */
#ifndef KN_JOIN_H
#define KN_JOIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datadir.h"
#include "env.h"
#include "error.h"

enum {
    KN_JOIN_REASON_MAX = 255, /* bytes of the inviter's refusal */
    KN_JOIN_ADMIT_TIMEOUT_MS = 60000, /* default wait for the admit */
    KN_JOIN_LOST_MS = 120000, /* no connection to the inviter this long during the sync: stop */
};

typedef enum kn_join_outcome {
    KN_JOIN_RUNNING = 0,
    KN_JOIN_DONE, /* admitted, and the first reconciliation finished */
    KN_JOIN_PENDING, /* admitted by 1 of k signatures: others must co-sign */
    KN_JOIN_REFUSED, /* the inviter said bye: reason */
    KN_JOIN_NO_ADMIT, /* no admit within admit_timeout_ms */
    KN_JOIN_LOST, /* admitted, then the inviter stayed unreachable (sync unfinished) */
    KN_JOIN_STOPPED, /* SIGINT / SIGTERM */
} kn_join_outcome;

/*
 * What to ask for and what came of it. The caller fills the request fields;
 * secret is borrowed for the run (the caller wipes it afterwards), name and
 * ags too. The node fills the result fields.
 */
typedef struct kn_node_join {
    /* request */
    uint8_t inviter[32]; /* the identity the code pins */
    const uint8_t *secret;
    size_t secret_len;
    const char *name; /* 1..200 bytes */
    const char *ags; /* NULL, or 8 or 12 digits */
    uint64_t admit_timeout_ms; /* 0: KN_JOIN_ADMIT_TIMEOUT_MS, counted from the start */
    /* result */
    kn_join_outcome outcome;
    char reason[KN_JOIN_REASON_MAX + 1]; /* REFUSED: the inviter's words; PENDING: i of k */
    bool admitted;
    uint64_t admitted_ms;
    uint64_t objects, bytes, sync_ms; /* the first reconciliation with the inviter */
} kn_node_join;

/*
 * Runs the node in join mode until the outcome is known (see above) or a
 * signal stops it. Returns 0 when the loop ended normally (whatever the
 * outcome), or a KN_E code if the node could not start.
 */
KN_MUST_USE int kn_node_join_run(kn_datadir *dd, const kn_env *env, kn_node_join *join);

#endif
