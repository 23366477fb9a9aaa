/*
 * The blob writer thread (see blobwriter.h).
 *
 * One mutex guards the hand-over: `todo` (the write given to the thread),
 * `done` (its result, waiting for the loop) and the wake-up flag. The
 * thread touches the store only through kn_blob_put_batch_bg, and the
 * engine's memory only by reading the chunk bytes of the write under way.
 */
#define _GNU_SOURCE
#include "blobwriter.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One write: copies of the ids, hashes and manifests; the chunk bytes are the engine's. */
typedef struct job {
    kn_blobfetch_manifest *m;
    kn_blobfetch_chunk *c;
    size_t nm, nc;
    int rc;
} job;

struct kn_blobwriter {
    uv_poll_t poll; /* poll.data == this; watches wake[0] */
    bool poll_started;
    int wake[2]; /* the thread writes, the loop reads */
    pthread_mutex_t mu;
    pthread_cond_t work;
    pthread_t th;
    bool th_started;
    struct kn_store *s;
    job *todo, *done;
    bool busy; /* loop thread only: a write was started and its result is not back */
    bool woken, stop;
    void (*done_fn)(void *ctx, int rc);
    void *ctx;
};

static void job_free(job *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->nm; i++) {
        free((void *)j->m[i].blob);
        free((void *)j->m[i].hashes);
    }
    free(j->m);
    free(j->c);
    free(j);
}

/* Copies m and c except the chunk bytes; NULL without memory. */
static job *job_new(
    const kn_blobfetch_manifest *m, size_t nm, const kn_blobfetch_chunk *c, size_t nc)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->m = calloc(nm + 1, sizeof *j->m);
    /* Each chunk's blob id and hash live right after the array: 64 bytes a chunk. */
    j->c = malloc((nc + 1) * (sizeof *j->c + 2 * KN_ID));
    if (!j->m || !j->c) {
        job_free(j);
        return NULL;
    }
    for (; j->nm < nm; j->nm++) {
        size_t hl = (size_t)m[j->nm].n * KN_ID;
        uint8_t *id = malloc(KN_ID), *h = malloc(hl + 1);
        j->m[j->nm]
            = (kn_blobfetch_manifest) { id, m[j->nm].size, (const uint8_t(*)[KN_ID])h, m[j->nm].n };
        if (!id || !h) {
            j->nm++;
            job_free(j);
            return NULL;
        }
        memcpy(id, m[j->nm].blob, KN_ID);
        if (hl)
            memcpy(h, m[j->nm].hashes, hl);
    }
    uint8_t *ids = (uint8_t *)(j->c + nc + 1);
    for (size_t i = 0; i < nc; i++) {
        uint8_t *id = ids + i * 2 * KN_ID, *h = id + KN_ID;
        memcpy(id, c[i].blob, KN_ID);
        memcpy(h, c[i].hash, KN_ID);
        j->c[i] = (kn_blobfetch_chunk) {
            .blob = id, .index = c[i].index, .hash = h, .data = c[i].data, .len = c[i].len
        };
    }
    j->nc = nc;
    return j;
}

static void *writer_main(void *arg)
{
    kn_blobwriter *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && !w->todo)
            pthread_cond_wait(&w->work, &w->mu);
        if (w->stop)
            break;
        job *j = w->todo;
        w->todo = NULL;
        pthread_mutex_unlock(&w->mu);
        j->rc = kn_blobfetch_lmdb_batch(w->s, j->m, j->nm, j->c, j->nc, true);
        pthread_mutex_lock(&w->mu);
        w->done = j;
        if (!w->woken) {
            w->woken = true;
            ssize_t n;
            do
                n = write(w->wake[1], "", 1);
            while (n < 0 && errno == EINTR);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* The loop thread: the result of the write, handed to done() outside the lock. */
static void on_wake(uv_poll_t *h, int status, int events)
{
    kn_blobwriter *w = h->data;
    (void)status;
    (void)events;
    char buf[16];
    while (read(w->wake[0], buf, sizeof buf) > 0)
        ;
    pthread_mutex_lock(&w->mu);
    w->woken = false;
    job *j = w->done;
    w->done = NULL;
    pthread_mutex_unlock(&w->mu);
    if (!j)
        return;
    int rc = j->rc;
    if (rc == KN_EMAPFULL || rc == KN_EBUSY) /* not beside the loop: here, growing the map */
        rc = kn_blobfetch_lmdb_batch(w->s, j->m, j->nm, j->c, j->nc, false);
    job_free(j);
    w->busy = false;
    w->done_fn(w->ctx, rc);
}

static int put_batch_start(void *start_ctx, const kn_blobfetch_manifest *m, size_t nm,
    const kn_blobfetch_chunk *c, size_t nc)
{
    kn_blobwriter *w = start_ctx;
    if (!w->th_started || !w->poll_started)
        return KN_ECLOSED;
    if (w->busy || nc > KN_BLOBFETCH_BATCH_MAX)
        return KN_EBUSY;
    job *j = job_new(m, nm, c, nc);
    if (!j)
        return KN_ENOMEM;
    w->busy = true;
    pthread_mutex_lock(&w->mu);
    w->todo = j;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

static void stop_thread(kn_blobwriter *w)
{
    if (!w->th_started)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    w->th_started = false;
}

static void release(kn_blobwriter *w)
{
    stop_thread(w);
    for (int i = 0; i < 2; i++)
        if (w->wake[i] >= 0)
            close(w->wake[i]);
    job_free(w->todo);
    job_free(w->done);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    free(w);
}

int kn_blobwriter_new(kn_blobwriter **out, uv_loop_t *loop, struct kn_store *s,
    void (*done)(void *ctx, int rc), void *ctx)
{
    *out = NULL;
    kn_blobwriter *w = calloc(1, sizeof *w);
    if (!w)
        return KN_ENOMEM;
    w->wake[0] = w->wake[1] = -1;
    w->s = s;
    w->done_fn = done;
    w->ctx = ctx;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    if (pipe2(w->wake, O_NONBLOCK | O_CLOEXEC) < 0
        || pthread_create(&w->th, NULL, writer_main, w) != 0) {
        release(w);
        return KN_ENOMEM;
    }
    w->th_started = true;
    /* Last: once the handle is on the loop, only the loop's close may end it. */
    if (uv_poll_init(loop, &w->poll, w->wake[0]) < 0) {
        release(w);
        return KN_ENOMEM;
    }
    w->poll.data = w;
    w->poll_started = uv_poll_start(&w->poll, UV_READABLE, on_wake) == 0;
    uv_unref((uv_handle_t *)&w->poll);
    /* Without the watch no write is started here: the engine writes on the loop thread. */
    if (!w->poll_started)
        stop_thread(w);
    *out = w;
    return 0;
}

void kn_blobwriter_free(kn_blobwriter *w)
{
    if (w)
        release(w);
}

kn_blobfetch_store kn_blobwriter_store(kn_blobwriter *w)
{
    kn_blobfetch_store st = kn_blobfetch_store_lmdb(w->s);
    st.put_batch_start = put_batch_start;
    st.start_ctx = w;
    return st;
}
