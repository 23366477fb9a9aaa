/*
 * The blob writer: one thread beside the libuv loop that stores the fetch
 * engine's verified chunks (blobfetch.h, put_batch_start), so that the
 * loop keeps reading the network while LMDB copies the chunks into the file
 * and waits for the disk to make the commit durable. Used by
 * node/blobsync.c, one per council.
 *
 * One write at a time: the engine starts one (kn_blobwriter_store's
 * put_batch_start copies the ids, hashes and manifests; the chunk bytes
 * stay the engine's, valid until the result is back), the thread runs
 * kn_blob_put_batch_bg, and the result comes back on the loop thread in
 * done(ctx, rc), which hands it to kn_blobfetch_written(). A chunk counts
 * as present only then, after the commit: a restart resumes from what is
 * durably stored. When the thread's write cannot run beside the loop (the
 * map must grow, or a text file completes and the search index must read
 * it: kn_blob_put_batch_bg says KN_EMAPFULL or KN_EBUSY), the loop thread
 * writes the same batch itself with kn_blob_put_batch before done().
 *
 * Wake-ups: the thread writes a byte to a pipe watched by an unreferenced
 * uv_poll_t (as node/verify_pool.c does), which the loop's close walk
 * closes. Lifetime: kn_blobwriter_free() after the loop has ended and
 * before the engine is freed; it waits for a write under way and drops its
 * result (what it committed is in the store; the rest is fetched again).
 */
#ifndef KN_BLOBWRITER_H
#define KN_BLOBWRITER_H

#include <stdbool.h>
#include <uv.h>

#include "blobfetch.h"

struct kn_store;
typedef struct kn_blobwriter kn_blobwriter;

/* Starts the thread. done(ctx, rc) is called on the loop thread for every write. */
KN_MUST_USE int kn_blobwriter_new(kn_blobwriter **out, uv_loop_t *loop, struct kn_store *s,
    void (*done)(void *ctx, int rc), void *ctx);
/* Stops and joins the thread; w may be NULL. After the loop has ended. */
void kn_blobwriter_free(kn_blobwriter *w);
/* kn_blobfetch_store_lmdb(s) with put_batch_start through w. */
kn_blobfetch_store kn_blobwriter_store(kn_blobwriter *w);

/*
 * node/blobfetch_lmdb.c: the engine's put_batch over kn_blob_put_batch, or
 * with bg over kn_blob_put_batch_bg (blobstore.h).
 */
KN_MUST_USE int kn_blobfetch_lmdb_batch(struct kn_store *s, const kn_blobfetch_manifest *m,
    size_t nm, const kn_blobfetch_chunk *c, size_t nc, bool bg);

#endif
