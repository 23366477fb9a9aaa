/*
 * A member of staff's direct messages (protocol/dm.h) as the store holds
 * them: every `dm` object they wrote or that is addressed to them, and
 * opening one with their key. The node holds its users' keys
 * (node/users.h), so the command line (`knoten msg --as USER`) and the web
 * pages (the signed-in person) read the same mailbox the same way; other
 * nodes only carry the ciphertext.
 *
 * Callers: tools/cli/cmd_msg.c, node/http_msg.c.
 */
#ifndef KN_MAILBOX_H
#define KN_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dm.h"
#include "error.h"
#include "store.h"

enum { KN_MAILBOX_MAX = 100000 }; /* messages of one mailbox read at most */

/* One message of the mailbox (not decrypted). */
typedef struct kn_mail {
    uint8_t id[KN_ID];
    uint8_t other[32]; /* the other party: the recipient if sent, else the author */
    bool sent; /* written by the mailbox's owner */
    uint64_t created;
} kn_mail;

typedef struct kn_mailbox {
    kn_mail *m; /* n of them, oldest first; owned (kn_mailbox_free) */
    size_t n, cap;
} kn_mailbox;

/* Every message to or from user me, oldest first. KN_ELIMIT beyond KN_MAILBOX_MAX. */
KN_MUST_USE int kn_mailbox_load(kn_store *s, const uint8_t me[32], kn_mailbox *b);
void kn_mailbox_free(kn_mailbox *b);

/*
 * Opens message id for the user (me_pk, me_sk): with the author's key if it
 * was sent to me, the recipient's if I wrote it. *raw (the object's bytes,
 * free()) and *plain (kn_dm_plain_free) are the caller's; o and m point into
 * them. KN_ENOTFOUND / KN_ERETRACTED, KN_EINVAL if id is no dm, KN_EPERM if
 * it is neither to nor from me, KN_ECRYPTO if it does not open.
 */
KN_MUST_USE int kn_mailbox_open(kn_store *s, const uint8_t me_pk[32], const uint8_t me_sk[64],
    const uint8_t id[KN_ID], kn_object *o, uint8_t **raw, uint8_t **plain, size_t *plen,
    kn_dm_message *m);

#endif
