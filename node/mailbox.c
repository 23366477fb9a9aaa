/*
 * Direct messages of one member of staff (mailbox.h).
 */
#include "mailbox.h"
#include "grow.h"

#include <stdlib.h>
#include <string.h>

typedef struct load_ctx {
    kn_mailbox *b;
    int err;
} load_ctx;

static int visit(void *arg, const kn_store_mail *sm)
{
    load_ctx *c = arg;
    kn_mailbox *b = c->b;
    if (b->n == KN_MAILBOX_MAX) {
        c->err = KN_ELIMIT;
        return 1;
    }
    if (b->n == b->cap) {
        kn_mail *nm = kn_grow(b->m, &b->cap, 64, sizeof *nm);
        if (!nm) {
            c->err = KN_ENOMEM;
            return 1;
        }
        b->m = nm;
    }
    kn_mail *m = &b->m[b->n++];
    memcpy(m->id, sm->id, KN_ID);
    memcpy(m->other, sm->other, 32);
    m->sent = sm->sent;
    m->created = sm->created;
    return 0;
}

/* The store's dm index lists exactly the user's messages, by time (store.h). */
int kn_mailbox_load(kn_store *s, const uint8_t me[32], kn_mailbox *b)
{
    memset(b, 0, sizeof *b);
    load_ctx c = { b, 0 };
    int rc = kn_store_mailbox(s, me, visit, &c);
    return rc < 0 ? rc : c.err;
}

void kn_mailbox_free(kn_mailbox *b)
{
    if (!b)
        return;
    free(b->m);
    memset(b, 0, sizeof *b);
}

int kn_mailbox_open(kn_store *s, const uint8_t me_pk[32], const uint8_t me_sk[64],
    const uint8_t id[KN_ID], kn_object *o, uint8_t **raw, uint8_t **plain, size_t *plen,
    kn_dm_message *m)
{
    size_t len;
    const uint8_t *to, *box;
    uint32_t tl, bl;
    *raw = NULL;
    *plain = NULL;
    *plen = 0;
    int rc = kn_store_get(s, id, raw, &len);
    if (rc < 0)
        return rc;
    if ((rc = kn_object_decode(o, *raw, len)) < 0)
        return rc;
    if (o->type != KN_T_DM || kn_object_bin(o, "to", &to, &tl) < 0 || tl != 32
        || kn_object_bin(o, "box", &box, &bl) < 0)
        return KN_EINVAL;
    const uint8_t *other;
    if (memcmp(to, me_pk, 32) == 0)
        other = o->author;
    else if (memcmp(o->author, me_pk, 32) == 0)
        other = to;
    else
        return KN_EPERM;
    return kn_dm_open(box, bl, me_sk, other, plain, plen, m);
}
