/*
 * Validation workers for the engine's batches (see verify_pool.h).
 *
 * One mutex guards both queues: `todo` (batches waiting for a worker) and
 * `done` (validated, waiting for the loop). A worker that finishes a batch
 * writes one byte to the pipe unless a wake-up is already pending, so a
 * burst of finished batches costs the loop one read.
 */
#define _GNU_SOURCE
#include "verify_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { POOL_THREADS_MAX = 64 };

typedef struct bq {
    kn_repl_batch **v;
    size_t head, n, cap; /* live entries are [head, n) */
} bq;

struct verify_pool {
    uv_poll_t poll; /* poll.data == this; watches wake[0] */
    bool poll_started;
    int wake[2]; /* workers write, the loop reads */
    pthread_mutex_t mu;
    pthread_cond_t work;
    bq todo, done;
    size_t owned; /* batches submitted and not handed back: done has room for all */
    bool woken; /* a byte is in the pipe and not yet read */
    bool stop;
    pthread_t th[POOL_THREADS_MAX];
    unsigned nthreads;
    void (*done_fn)(void *ctx, kn_repl_batch *b);
    void *ctx;
};

static int bq_push(bq *q, kn_repl_batch *b)
{
    if (q->n == q->cap) {
        if (q->head > 0) {
            memmove(q->v, q->v + q->head, (q->n - q->head) * sizeof *q->v);
            q->n -= q->head;
            q->head = 0;
        } else {
            size_t ncap = q->cap ? q->cap * 2 : 16;
            kn_repl_batch **v = realloc(q->v, ncap * sizeof *v);
            if (!v)
                return KN_ENOMEM;
            q->v = v;
            q->cap = ncap;
        }
    }
    q->v[q->n++] = b;
    return 0;
}

static kn_repl_batch *bq_pop(bq *q)
{
    if (q->head == q->n)
        return NULL;
    kn_repl_batch *b = q->v[q->head++];
    if (q->head == q->n)
        q->head = q->n = 0;
    return b;
}

static void *worker(void *arg)
{
    verify_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        kn_repl_batch *b;
        while (!p->stop && !(b = bq_pop(&p->todo)))
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->mu);
        kn_repl_batch_run(b); /* touches nothing but b */
        pthread_mutex_lock(&p->mu);
        /* The done queue had room reserved at submit: this cannot fail. */
        (void)bq_push(&p->done, b);
        if (!p->woken) {
            p->woken = true;
            ssize_t w;
            do
                w = write(p->wake[1], "", 1);
            while (w < 0 && errno == EINTR);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* The loop thread: hands every finished batch back, outside the lock. */
static void on_wake(uv_poll_t *h, int status, int events)
{
    verify_pool *p = h->data;
    (void)status;
    (void)events;
    char buf[64];
    while (read(p->wake[0], buf, sizeof buf) > 0)
        ;
    pthread_mutex_lock(&p->mu);
    p->woken = false;
    bq done = p->done;
    memset(&p->done, 0, sizeof p->done);
    p->owned -= done.n - done.head;
    pthread_mutex_unlock(&p->mu);
    for (size_t i = done.head; i < done.n; i++)
        p->done_fn(p->ctx, done.v[i]);
    free(done.v);
}

static void stop_workers(verify_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->th[i], NULL);
    p->nthreads = 0;
}

static void pool_release(verify_pool *p)
{
    stop_workers(p);
    for (int i = 0; i < 2; i++)
        if (p->wake[i] >= 0)
            close(p->wake[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    free(p->todo.v);
    free(p->done.v);
    free(p);
}

int verify_pool_new(verify_pool **out, uv_loop_t *loop, unsigned threads,
    void (*done)(void *ctx, kn_repl_batch *b), void *ctx)
{
    *out = NULL;
    verify_pool *p = calloc(1, sizeof *p);
    if (!p)
        return KN_ENOMEM;
    p->wake[0] = p->wake[1] = -1;
    p->done_fn = done;
    p->ctx = ctx;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    if (pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        pool_release(p);
        return KN_ENOMEM;
    }
    if (threads < 1)
        threads = 1;
    if (threads > POOL_THREADS_MAX)
        threads = POOL_THREADS_MAX;
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&p->th[i], NULL, worker, p) != 0) {
            pool_release(p);
            return KN_ENOMEM;
        }
        p->nthreads++;
    }
    /* Last: once the handle is on the loop, only the loop's close may end it. */
    if (uv_poll_init(loop, &p->poll, p->wake[0]) < 0) {
        pool_release(p);
        return KN_ENOMEM;
    }
    p->poll.data = p;
    p->poll_started = uv_poll_start(&p->poll, UV_READABLE, on_wake) == 0;
    uv_unref((uv_handle_t *)&p->poll);
    /*
     * The handle is on the loop now, so p lives until verify_pool_free. If
     * it cannot watch the pipe, no worker is used: submit refuses and the
     * engine validates inline.
     */
    if (!p->poll_started)
        stop_workers(p);
    *out = p;
    return 0;
}

int verify_pool_submit(verify_pool *p, kn_repl_batch *b)
{
    int rc = KN_ECLOSED;
    pthread_mutex_lock(&p->mu);
    if (p->nthreads && !p->stop) {
        /* Reserve the batch's place in `done` now, so a worker never fails to hand it back. */
        rc = 0;
        if (p->done.cap < p->owned + 1) {
            size_t ncap = p->done.cap ? p->done.cap : 16;
            while (ncap < p->owned + 1)
                ncap *= 2;
            kn_repl_batch **v = realloc(p->done.v, ncap * sizeof *v);
            if (v) {
                p->done.v = v;
                p->done.cap = ncap;
            } else {
                rc = KN_ENOMEM;
            }
        }
        if (rc == 0 && (rc = bq_push(&p->todo, b)) == 0) {
            p->owned++;
            pthread_cond_signal(&p->work);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void verify_pool_free(verify_pool *p)
{
    if (p)
        pool_release(p);
}
