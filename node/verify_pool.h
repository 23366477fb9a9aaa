/*
 * A small pool of threads that validates the replication engine's batches
 * of received objects (kn_repl_batch) off the loop thread, for node/sync.c.
 *
 * Why not uv_queue_work: libuv's pool has four threads whatever the cores
 * (and DNS lookups share it), and a batch would come back only when the
 * loop runs its completion, so while the loop is busy in an LMDB commit the
 * workers would idle. Here `threads` workers (one per core) take batches
 * from a queue of any depth, and finished batches wake the loop through a
 * pipe watched by a uv_poll_t; the loop hands them back to the engine in
 * `done`, on its own thread.
 *
 * Lifetime: created after the loop is initialised; the poll handle is
 * unreferenced (it never keeps the loop alive) and is closed with the
 * loop's other handles. verify_pool_free() stops and joins the workers and
 * closes the pipe; call it after the loop has ended, before the engine that
 * owns the batches is freed. Batches still queued or unfinished then are
 * not handed back (the engine frees them).
 */
#ifndef KN_VERIFY_POOL_H
#define KN_VERIFY_POOL_H

#include <uv.h>

#include "error.h"
#include "repl.h"

typedef struct verify_pool verify_pool;

/*
 * Starts `threads` workers (at least 1). done(ctx, b) is called on the loop
 * thread for every batch validated, in the order they finish.
 */
KN_MUST_USE int verify_pool_new(verify_pool **out, uv_loop_t *loop, unsigned threads,
    void (*done)(void *ctx, kn_repl_batch *b), void *ctx);
/* Queues b for a worker; 0, or KN_ENOMEM (b was not taken). */
KN_MUST_USE int verify_pool_submit(verify_pool *p, kn_repl_batch *b);
/* Stops and joins the workers; p may be NULL. After the loop has ended. */
void verify_pool_free(verify_pool *p);

#endif
