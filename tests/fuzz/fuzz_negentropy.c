/*
 * Fuzz target for Negentropy messages: every input is fed to a server engine
 * without a frame limit, to one with the smallest limit, and to an initiated
 * client, all over the same 300 items. Any return code is fine; a crash, a
 * sanitizer report or a message over the frame limit is a bug.
 *
 * The corpus holds real messages for these items: a client's opening message,
 * a server's reply of id lists and fingerprints, the empty id list and a
 * version-2 message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "negentropy.h"

enum { ITEMS = 300 };

/* The items of the known-answer tests in test_negentropy.c, extended. */
static kn_neg_vector *make_storage(void)
{
    kn_neg_vector *v;
    if (kn_neg_vector_new(&v) < 0)
        abort();
    for (int i = 0; i < ITEMS; i++) {
        uint8_t id[KN_NEG_ID];
        if (i % 5 == 1)
            continue;
        id[0] = (uint8_t)(i / 8);
        for (int j = 1; j < KN_NEG_ID; j++)
            id[j] = (uint8_t)((i * 31 + j * 7) & 0xff);
        if (kn_neg_vector_insert(v, 1000 + (uint64_t)(i / 4), id) < 0)
            abort();
    }
    if (kn_neg_vector_seal(v) < 0)
        abort();
    return v;
}

static void as_server(const kn_neg_storage *st, uint64_t limit, const uint8_t *data, size_t size)
{
    kn_neg *n;
    const uint8_t *out;
    size_t out_len;
    if (kn_neg_new(&n, st, limit) < 0)
        abort();
    int rc = kn_neg_reconcile_server(n, data, size, &out, &out_len);
    if (rc == 0 && (out_len == 0 || out[0] != KN_NEG_VERSION || (limit && out_len > limit)))
        abort();
    if (rc < 0 && out)
        abort();
    kn_neg_free(n);
}

static void as_client(const kn_neg_storage *st, const uint8_t *data, size_t size)
{
    kn_neg *n;
    const uint8_t *out;
    size_t out_len;
    kn_neg_ids have = { 0 }, need = { 0 };
    if (kn_neg_new(&n, st, KN_NEG_MIN_FRAME) < 0 || kn_neg_initiate(n, &out, &out_len) < 0)
        abort();
    int rc = kn_neg_reconcile_client(n, data, size, &out, &out_len, &have, &need);
    if (rc == 0 && out_len > KN_NEG_MIN_FRAME)
        abort();
    if (rc == KN_NEG_DONE && (out || out_len))
        abort();
    kn_neg_ids_free(&have);
    kn_neg_ids_free(&need);
    kn_neg_free(n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (kn_crypto_init() < 0)
        abort();
    kn_neg_vector *v = make_storage();
    kn_neg_storage st = kn_neg_vector_storage(v);
    as_server(&st, 0, data, size);
    as_server(&st, KN_NEG_MIN_FRAME, data, size);
    as_client(&st, data, size);
    kn_neg_vector_free(v);
    return 0;
}
