/*
 * File contents over HTTP: uploads in pieces into the blob store, and
 * downloads streamed out of it (docs/api.md, "Documents").
 *
 * Uploads. h2o 2.2.5 reads a request body whole before the handler runs, so
 * a file comes in pieces of at most HTTP_UPLOAD_PIECE bytes:
 *
 *   POST /api/uploads {name, size, mime}      -> {id}; checked against the
 *        schema's file name rule and this node's per-file limit and quota
 *   PUT  /api/uploads/ID?offset=N  (bytes)    -> {received, state}; pieces in
 *        order (a piece at the wrong offset gets 409 with what was received,
 *        so a client resumes there)
 *   GET  /api/uploads/ID                      -> {received, stored, state}
 *   DELETE /api/uploads/ID
 *
 * Each piece is appended to DATA/uploads/ID.part (0600) and fed to the blob
 * hasher (protocol/blob.h), so nothing holds the file in memory. After the
 * last piece the manifest is staged in the blob store and the chunks are
 * copied from the part file into the store by an idle handle,
 * HTTP_UPLOAD_BATCH chunks (one write transaction) per loop iteration, so a
 * large file never blocks the loop for long; the state goes "storing" ->
 * "ready", and the part file is removed. POST /api/docs (http_docs.c) then
 * takes ready uploads with http_upload_take() and signs the doc. An upload
 * untouched for HTTP_UPLOAD_IDLE_MS is dropped with its part file (a timer
 * looks once a minute); a staged blob that no doc references is removed by
 * kn_blob_gc() after KN_BLOB_STAGE_TTL_MS (the same timer calls it hourly).
 *
 * Restarts. An upload survives a restart of the node (a stop, a crash, an
 * upgrade): next to ID.part, ID.meta (0600, written whole and renamed into
 * place) holds its login, name, type, size and, once ready, its blob id, and
 * ID.hashes the hash of every full chunk received so far (32 bytes per 256
 * KiB, appended as chunks complete). At start the node takes every upload
 * back: one that was receiving continues at the end of its part file (the
 * client asks GET /api/uploads/ID for `received`, or gets it with the 409 of
 * a piece at the wrong offset), its hasher resumed from ID.hashes and the
 * bytes after the last full chunk hashed again; one that was ready is ready
 * again if its blob is still complete in the store. The store hashes every
 * chunk of a resumed upload itself when it copies it in and compares it with
 * the hash recorded when the chunk arrived, so bytes damaged on disk
 * meanwhile (a power failure) fail the upload with a clear message instead of
 * being stored; only the bytes after the last recorded chunk (less than two
 * chunks) are taken from the part file as they are. Files of an upload without a readable ID.meta
 * are removed. A restarted upload expires like any other, HTTP_UPLOAD_IDLE_MS after it was last
 * touched (the restart counts as a touch).
 *
 * Downloads. GET /api/docs/ID/files/N streams file N of doc ID: the path
 * names a doc and an index into its signed `files`, never a blob or a file
 * name, so it cannot reach another doc's contents or anything on disk. The
 * response goes out chunk by chunk (an h2o generator: the next chunk is read
 * from the store, into one buffer of KN_BLOB_CHUNK bytes, only when h2o has
 * written the previous one), with Content-Type from the doc's mime (if it is
 * a plain type/subtype, else application/octet-stream), nosniff, a sandbox
 * CSP, and Content-Disposition: attachment with the signed file name (RFC
 * 6266: an ASCII fallback and filename* in UTF-8). A doc retracted while its
 * file streams ends the response with an error (the client sees a short
 * download, never bytes of something else). A GET with one byte range
 * (http_range.h) gets 206 and just those bytes, read from the chunks that
 * hold them (a resumed or seeking download); an unsatisfiable one 416;
 * Accept-Ranges: bytes and an ETag (the blob id) say so, and If-Range with
 * that ETag is honoured.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobstore.h"
#include "hex.h"
#include "http_impl.h"
#include "http_range.h"

enum {
    UP_RECEIVING,
    UP_STORING,
    UP_READY,
    UP_FAILED,
};

struct http_upload {
    http_upload *next;
    node *n;
    char id[33];
    char login[KN_LOGIN_MAX + 1];
    char name[KN_FILE_NAME_MAX + 1];
    char mime[KN_MIME_MAX + 1];
    uint64_t size, received, stored;
    uint64_t touched_ms;
    int state;
    char error[200];
    int fd; /* the part file while receiving and storing; -1 after */
    int hfd; /* ID.hashes while receiving; -1 otherwise */
    char path[KN_PATH_MAX + 80]; /* ID.part, "" once removed */
    char base[KN_PATH_MAX + 64]; /* DATA/uploads/ID: the stem of its files */
    uint32_t hashes_saved; /* chunk hashes written to ID.hashes */
    bool resumed; /* taken back after a restart: the store re-hashes its chunks */
    kn_blob_hasher hasher;
    uint8_t blob[KN_BLOB_ID];
    uint8_t *hashes; /* after the last piece: nchunks hashes */
    uint32_t nchunks, next_chunk;
};

static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno == ENOSPC ? KN_ENOSPC : KN_EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static const char *state_name(int s)
{
    return s == UP_RECEIVING ? "receiving"
        : s == UP_STORING    ? "storing"
        : s == UP_READY      ? "ready"
                             : "failed";
}

/* ---- names and types ---- */

bool http_file_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > KN_FILE_NAME_MAX || !http_utf8_ok(s, len) || (len == 1 && s[0] == '.')
        || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
            return false;
    }
    return true;
}

/* RFC 7230 tchar without the few that make no sense in a media type. */
static bool mime_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || strchr("!#$&^_.+-", c) != NULL;
}

bool http_mime_ok(const char *s, size_t len)
{
    const char *slash = memchr(s, '/', len);
    if (!slash || slash == s || slash == s + len - 1 || len > KN_MIME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s + i != slash && (s[i] == 0 || !mime_char((unsigned char)s[i])))
            return false;
    return true;
}

/*
 * Content-Disposition for a (schema-valid) file name: attachment; an ASCII
 * fallback with every byte outside printable ASCII and every quote,
 * backslash, percent or semicolon as '_'; and filename* with the name
 * percent-encoded as UTF-8 (RFC 5987 attr-char kept).
 */
void http_content_disposition(hbuf *b, const char *name, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    hb_puts(b, "attachment; filename=\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        char o = c >= 0x20 && c < 0x7f && !strchr("\"\\%;", c) ? (char)c : '_';
        hb_put(b, &o, 1);
    }
    hb_puts(b, "\"; filename*=UTF-8''");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
            || (c && strchr("!#$&+-.^_`|~", c))) {
            hb_put(b, (const char *)&c, 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            hb_put(b, e, 3);
        }
    }
}

/* ---- the upload list ---- */

/* stem + ext into out (cap KN_PATH_MAX + 80). */
static void upload_file(const http_upload *u, const char *ext, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", u->base, ext);
}

/* The part file and the chunk hashes go (the upload is ready, failed or given up). */
static void upload_drop_file(http_upload *u)
{
    char p[KN_PATH_MAX + 80];
    if (u->fd >= 0) {
        close(u->fd);
        u->fd = -1;
    }
    if (u->hfd >= 0) {
        close(u->hfd);
        u->hfd = -1;
    }
    if (u->path[0]) {
        (void)unlink(u->path);
        u->path[0] = 0;
        upload_file(u, ".hashes", p, sizeof p);
        (void)unlink(p);
    }
}

/* ID.meta: what a restart needs to take the upload back (written whole, then renamed). */
static int upload_save_meta(http_upload *u)
{
    char p[KN_PATH_MAX + 80], tmp[KN_PATH_MAX + 80], blob[2 * KN_BLOB_ID + 1] = "";
    if (u->state == UP_READY)
        kn_hex_encode(blob, u->blob, KN_BLOB_ID);
    json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:s}", "v", 1, "login", u->login, "name",
        u->name, "mime", u->mime, "size", (json_int_t)u->size, "state",
        u->state == UP_READY ? "ready" : "receiving", "blob", blob);
    upload_file(u, ".meta", p, sizeof p);
    upload_file(u, ".meta.tmp", tmp, sizeof tmp);
    int fd = j ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    int rc = fd >= 0 && json_dumpfd(j, fd, JSON_COMPACT) == 0 && fsync(fd) == 0 ? 0 : KN_EIO;
    if (fd >= 0)
        close(fd);
    json_decref(j);
    if (rc == 0 && rename(tmp, p) < 0)
        rc = KN_EIO;
    if (rc < 0)
        (void)unlink(tmp);
    return rc;
}

/*
 * Forgets u. With its files (DELETE, expiry, publication, failure), or
 * keeping them for the next start (shutdown).
 */
static void upload_release(http *h, http_upload *u, bool keep_files)
{
    char p[KN_PATH_MAX + 80];
    for (http_upload **q = &h->uploads; *q; q = &(*q)->next)
        if (*q == u) {
            *q = u->next;
            h->nuploads--;
            break;
        }
    if (keep_files) {
        if (u->fd >= 0)
            close(u->fd);
        if (u->hfd >= 0)
            close(u->hfd);
    } else {
        upload_drop_file(u);
        upload_file(u, ".meta", p, sizeof p);
        (void)unlink(p);
    }
    kn_blob_hasher_free(&u->hasher);
    free(u->hashes);
    free(u);
}

static void upload_free(http *h, http_upload *u)
{
    upload_release(h, u, false);
}

static void upload_fail(http_upload *u, const char *msg)
{
    char p[KN_PATH_MAX + 80];
    u->state = UP_FAILED;
    snprintf(u->error, sizeof u->error, "%s", msg);
    upload_drop_file(u);
    upload_file(u, ".meta", p, sizeof p);
    (void)unlink(p); /* a failed upload is not taken back after a restart */
    node_logl(u->n, KN_LOG_WARN, "web upload of \"%s\" failed: %s", u->name, msg);
}

/* The upload idhex of r's council and login, or NULL. */
static http_upload *upload_find(hreq *r, const char *idhex)
{
    for (http_upload *u = r->h->uploads; u; u = u->next)
        if (u->n == r->n && strcmp(u->id, idhex) == 0 && strcmp(u->login, r->acct.login) == 0)
            return u;
    return NULL;
}

static void on_store_idle(uv_idle_t *idle);

static void storing_wake(http *h)
{
    if (!h->upload_idle_on && h->upload_handles) {
        uv_idle_start(&h->upload_idle, on_store_idle);
        h->upload_idle_on = true;
    }
}

/*
 * The last piece is in: the blob id and manifest are known. Checks the
 * limits again (now with the id: a file this council already shares costs
 * nothing), stages the manifest and lets the idle handle copy the chunks.
 */
static void upload_complete(http *h, http_upload *u, uint64_t now)
{
    uint8_t council[KN_KEY];
    kn_account a;
    uint64_t usage = 0;
    kn_blob_limits lim;
    kn_store *s = u->n->dd->store;
    if (kn_blob_hasher_final(&u->hasher, u->blob) < 0) {
        upload_fail(u, "the file could not be hashed");
        return;
    }
    u->nchunks = u->hasher.nchunks;
    u->hashes = kn_blob_hasher_take(&u->hasher);
    int rc = kn_account_get(s, u->login, &a);
    if (rc == 0)
        rc = kn_blob_council_of(s, a.user, council);
    if (rc == 0)
        rc = kn_blob_admit_check(s, council, u->blob, u->size, &usage, &lim);
    if (rc == KN_ETOOBIG || rc == KN_EQUOTA) {
        upload_fail(u,
            rc == KN_ETOOBIG ? "the file is larger than this node's per-file limit"
                             : "the file would take your council over its storage quota");
        return;
    }
    if (rc == 0)
        rc = kn_blob_stage_manifest(s, u->blob, u->size, u->hashes, u->nchunks, now);
    if (rc < 0) {
        upload_fail(u, kn_strerror(rc));
        return;
    }
    if (kn_blob_is_complete(s, u->blob) == 1) { /* the same contents are here already */
        u->stored = u->size;
        u->state = UP_READY;
        upload_drop_file(u);
        http_ignore(upload_save_meta(u)); /* best effort: else lost at a restart, as before */
        return;
    }
    u->state = UP_STORING;
    storing_wake(h);
}

/* One batch of one storing upload per loop iteration. */
static void on_store_idle(uv_idle_t *idle)
{
    http *h = idle->data;
    http_upload *u = h->uploads;
    while (u && u->state != UP_STORING)
        u = u->next;
    if (!u) {
        uv_idle_stop(idle);
        h->upload_idle_on = false;
        return;
    }
    if (!h->upload_buf && !(h->upload_buf = malloc((size_t)HTTP_UPLOAD_BATCH * KN_BLOB_CHUNK))) {
        upload_fail(u, "out of memory");
        return;
    }
    kn_blob_chunk_in c[HTTP_UPLOAD_BATCH];
    int res[HTTP_UPLOAD_BATCH];
    size_t m = 0;
    for (; m < HTTP_UPLOAD_BATCH && u->next_chunk < u->nchunks; m++, u->next_chunk++) {
        uint32_t len = kn_blob_chunk_len(u->size, u->next_chunk);
        uint8_t *p = h->upload_buf + m * KN_BLOB_CHUNK;
        off_t off = (off_t)u->next_chunk * KN_BLOB_CHUNK;
        size_t got = 0;
        while (got < len) {
            ssize_t rd = pread(u->fd, p + got, len - got, off + (off_t)got);
            if (rd < 0 && errno == EINTR)
                continue;
            if (rd <= 0)
                break;
            got += (size_t)rd;
        }
        if (got != len) {
            upload_fail(u, "the staged file could not be read back");
            return;
        }
        /* Bytes kept over a restart are hashed again by the store (a damaged disk). */
        c[m] = (kn_blob_chunk_in) { u->blob, u->next_chunk, p, len,
            u->resumed ? NULL : u->hashes + (size_t)u->next_chunk * KN_BLOB_HASH };
    }
    int rc = kn_blob_put_chunks(u->n->dd->store, c, m, res);
    for (size_t i = 0; rc == 0 && i < m; i++)
        if (res[i] < 0)
            rc = res[i];
    if (rc == KN_EHASH) {
        upload_fail(u,
            "the part of the file received before the node restarted was damaged on disk; "
            "upload the file again");
        return;
    }
    if (rc < 0) {
        upload_fail(u,
            rc == KN_EMAPFULL || rc == KN_ENOSPC
                ? "the store is full; ask the administrator to free space or raise the limit"
                : kn_strerror(rc));
        return;
    }
    for (size_t i = 0; i < m; i++)
        u->stored += c[i].len;
    u->touched_ms = node_now(u->n);
    if (u->next_chunk == u->nchunks) {
        u->state = UP_READY;
        upload_drop_file(u);
        http_ignore(upload_save_meta(u));
    }
}

/* Drops idle uploads; runs kn_blob_gc for every council once an hour. */
static void on_upload_timer(uv_timer_t *t)
{
    http *h = t->data;
    for (http_upload *u = h->uploads, *next; u; u = next) {
        next = u->next;
        uint64_t now = node_now(u->n);
        if (u->state != UP_STORING && now - u->touched_ms >= HTTP_UPLOAD_IDLE_MS) {
            node_log(u->n, "web upload of \"%s\" by %s expired unfinished", u->name, u->login);
            upload_free(h, u);
        }
    }
    if (++h->upload_ticks % 60 == 0)
        for (size_t i = 0; i < h->nmounts; i++) {
            size_t purged = 0;
            node *n = h->mounts[i].n;
            if (kn_blob_gc(n->dd->store, node_now(n), KN_BLOB_STAGE_TTL_MS, &purged) == 0 && purged)
                node_log(n, "removed %zu uploaded file%s that no document used", purged,
                    purged == 1 ? "" : "s");
        }
}

/* DATA/uploads, created 0700. */
enum { UPLOADS_DIR_MAX = KN_PATH_MAX + 16 };

static void uploads_dir(node *n, char out[UPLOADS_DIR_MAX])
{
    snprintf(out, UPLOADS_DIR_MAX, "%s/uploads", n->dd->path);
    if (mkdir(out, 0700) < 0 && errno != EEXIST)
        return;
}

static bool read_all_at(int fd, uint8_t *p, size_t len, off_t off)
{
    while (len) {
        ssize_t rd = pread(fd, p, len, off);
        if (rd < 0 && errno == EINTR)
            continue;
        if (rd <= 0)
            return false;
        p += rd;
        off += rd;
        len -= (size_t)rd;
    }
    return true;
}

/*
 * Takes a receiving upload back after a restart: its hasher resumed from the
 * chunk hashes in ID.hashes that its part file has the bytes for, the bytes
 * after them hashed again. 0, or a negative code (the upload is then given up).
 */
static int upload_resume_receiving(http *h, http_upload *u)
{
    char hp[KN_PATH_MAX + 80];
    struct stat st;
    uint8_t *hashes = NULL, *buf = NULL;
    int rc = KN_EIO;
    upload_file(u, ".hashes", hp, sizeof hp);
    upload_file(u, ".part", u->path, sizeof u->path);
    if ((u->fd = open(u->path, O_RDWR | O_CLOEXEC)) < 0 || fstat(u->fd, &st) < 0
        || (uint64_t)st.st_size > u->size)
        goto out;
    uint64_t part = (uint64_t)st.st_size;
    if ((u->hfd = open(hp, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0
        || fstat(u->hfd, &st) < 0)
        goto out;
    uint64_t k = (uint64_t)st.st_size / KN_BLOB_HASH;
    if (k > part / KN_BLOB_CHUNK)
        k = part / KN_BLOB_CHUNK;
    if (k > 0 && part == k * KN_BLOB_CHUNK)
        k--; /* the hasher keeps the last full chunk open until more bytes follow */
    if (ftruncate(u->hfd, (off_t)(k * KN_BLOB_HASH)) < 0)
        goto out;
    if (k
        && (!(hashes = malloc(k * KN_BLOB_HASH))
            || !read_all_at(u->hfd, hashes, k * KN_BLOB_HASH, 0)))
        goto out;
    if ((rc = kn_blob_hasher_resume(&u->hasher, hashes, (uint32_t)k)) < 0)
        goto out;
    rc = KN_EIO;
    if (!(buf = malloc(KN_BLOB_CHUNK)))
        goto out;
    for (uint64_t off = k * KN_BLOB_CHUNK; off < part;) {
        size_t len = part - off < KN_BLOB_CHUNK ? (size_t)(part - off) : KN_BLOB_CHUNK;
        if (!read_all_at(u->fd, buf, len, (off_t)off)
            || kn_blob_hasher_update(&u->hasher, buf, len) < 0)
            goto out;
        off += len;
    }
    u->hashes_saved = (uint32_t)k;
    if (u->hasher.nchunks > k
        && write_all(u->hfd, (const char *)u->hasher.hashes + k * KN_BLOB_HASH,
               (size_t)(u->hasher.nchunks - k) * KN_BLOB_HASH)
            < 0)
        goto out;
    u->hashes_saved = u->hasher.nchunks;
    if (lseek(u->fd, 0, SEEK_END) < 0)
        goto out;
    u->received = part;
    u->resumed = true;
    rc = 0;
    if (part == u->size)
        upload_complete(h, u, node_now(u->n)); /* all there: it was storing */
out:
    free(hashes);
    free(buf);
    return rc;
}

/* One upload back from DIR/ID.meta, or its files removed. */
static void upload_take_back(http *h, node *n, const char *dir, const char *id)
{
    char p[KN_PATH_MAX + 80];
    json_error_t err;
    http_upload *u = calloc(1, sizeof *u);
    if (!u)
        return;
    u->fd = u->hfd = -1;
    u->n = n;
    snprintf(u->id, sizeof u->id, "%s", id);
    snprintf(u->base, sizeof u->base, "%s/%s", dir, id);
    u->touched_ms = node_now(n);
    kn_blob_hasher_init(&u->hasher);
    u->next = h->uploads;
    h->uploads = u;
    h->nuploads++;
    upload_file(u, ".meta", p, sizeof p);
    json_t *j = json_load_file(p, 0, &err);
    const char *login = json_string_value(json_object_get(j, "login")),
               *name = json_string_value(json_object_get(j, "name")),
               *mime = json_string_value(json_object_get(j, "mime")),
               *state = json_string_value(json_object_get(j, "state")),
               *blob = json_string_value(json_object_get(j, "blob"));
    json_t *size = json_object_get(j, "size");
    bool ok = login && kn_login_valid(login) && name && http_file_name_ok(name, strlen(name))
        && mime && http_mime_ok(mime, strlen(mime)) && json_is_integer(size)
        && json_integer_value(size) >= 0 && (uint64_t)json_integer_value(size) <= KN_BLOB_SIZE_MAX
        && state && blob && h->nuploads <= HTTP_UPLOADS_MAX;
    if (ok) {
        snprintf(u->login, sizeof u->login, "%s", login);
        snprintf(u->name, sizeof u->name, "%s", name);
        snprintf(u->mime, sizeof u->mime, "%s", mime);
        u->size = (uint64_t)json_integer_value(size);
        if (strcmp(state, "ready") == 0) {
            ok = strlen(blob) == 2 * KN_BLOB_ID
                && kn_hex_decode(u->blob, KN_BLOB_ID, blob, strlen(blob)) == 0
                && kn_blob_is_complete(n->dd->store, u->blob) == 1;
            u->state = UP_READY;
            u->received = u->stored = u->size;
        } else {
            u->state = UP_RECEIVING;
            ok = strcmp(state, "receiving") == 0 && upload_resume_receiving(h, u) == 0;
        }
    }
    json_decref(j);
    if (!ok) {
        node_logl(
            n, KN_LOG_WARN, "an unfinished web upload (%s) could not be taken back: removed", id);
        upload_free(h, u);
        return;
    }
    node_log(n, "web upload of \"%s\" by %s taken back (%s, %llu of %llu bytes)", u->name, u->login,
        state_name(u->state), (unsigned long long)u->received, (unsigned long long)u->size);
}

/* Every upload of the last run back (uploads_dir); stray files removed. */
static void uploads_take_back(http *h, node *n)
{
    char dir[UPLOADS_DIR_MAX], p[UPLOADS_DIR_MAX + 260];
    uploads_dir(n, dir);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    /* First the uploads with a description, then whatever else is left. */
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l == 32 + 5 && strcmp(e->d_name + 32, ".meta") == 0) {
            char id[33];
            memcpy(id, e->d_name, 32);
            id[32] = 0;
            uint8_t raw[16];
            if (kn_hex_decode(raw, sizeof raw, id, 32) == 0)
                upload_take_back(h, n, dir, id);
        }
    }
    rewinddir(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char id[33];
        snprintf(id, sizeof id, "%.32s", e->d_name);
        bool known = false;
        for (http_upload *u = h->uploads; u && !known; u = u->next)
            known = u->n == n && strlen(e->d_name) > 32 && strcmp(u->id, id) == 0
                && !strstr(e->d_name, ".tmp");
        if (!known) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            (void)unlink(p);
        }
    }
    closedir(d);
}

void http_blob_start(http *h, uv_loop_t *loop)
{
    uv_idle_init(loop, &h->upload_idle);
    h->upload_idle.data = h;
    uv_timer_init(loop, &h->upload_timer);
    h->upload_timer.data = h;
    uv_timer_start(&h->upload_timer, on_upload_timer, 60000, 60000);
    uv_unref((uv_handle_t *)&h->upload_timer);
    h->upload_handles = true;
    for (size_t i = 0; i < h->nmounts; i++)
        uploads_take_back(h, h->mounts[i].n);
}

void http_blob_finish(http *h)
{
    if (!h->upload_handles)
        return;
    h->upload_handles = false;
    h->upload_idle_on = false;
    uv_close((uv_handle_t *)&h->upload_idle, NULL);
    uv_close((uv_handle_t *)&h->upload_timer, NULL);
}

void http_blob_free(http *h)
{
    /* Unfinished uploads keep their files: the next start takes them back. */
    while (h->uploads)
        upload_release(h, h->uploads, h->uploads->state != UP_FAILED);
    free(h->upload_buf);
    h->upload_buf = NULL;
}

/* ---- the upload API ---- */

static json_t *upload_json(const http_upload *u)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:i}", "id", u->id, "name", u->name,
        "mime", u->mime, "size", (json_int_t)u->size, "received", (json_int_t)u->received, "stored",
        (json_int_t)u->stored, "state", state_name(u->state), "piece_max", HTTP_UPLOAD_PIECE);
    if (u->state == UP_FAILED)
        json_object_set_new(j, "message", json_string(u->error));
    return j;
}

static void api_upload_start(hreq *r)
{
    http *h = r->h;
    json_t *j = http_body_json(r);
    if (!j)
        return;
    json_t *jn = json_object_get(j, "name"), *jm = json_object_get(j, "mime"),
           *js = json_object_get(j, "size");
    const char *name = json_string_value(jn), *mime = json_string_value(jm);
    size_t per_login = 0;
    for (http_upload *u = h->uploads; u; u = u->next)
        per_login += strcmp(u->login, r->acct.login) == 0;
    kn_blob_limits lim;
    uint8_t council[KN_KEY];
    uint64_t usage = 0;
    http_upload *u = NULL;
    char msg[800], a[32], b[32];
    if (!name || !http_file_name_ok(name, json_string_length(jn))
        || strlen(name) != json_string_length(jn)) {
        http_error(r, 400, "bad_name",
            "name is the file name: 1-255 bytes, no control characters, no / or \\");
        goto out;
    }
    if (mime && *mime && !http_mime_ok(mime, json_string_length(jm))) {
        http_error(r, 400, "bad_mime", "mime is a media type such as application/pdf");
        goto out;
    }
    if (!json_is_integer(js) || json_integer_value(js) < 0
        || (uint64_t)json_integer_value(js) > KN_BLOB_SIZE_MAX) {
        http_error(r, 400, "bad_size", "size is the file's length in bytes (at most 16 GiB)");
        goto out;
    }
    uint64_t size = (uint64_t)json_integer_value(js);
    if (kn_blob_limits_get(r->n->dd->store, &lim) < 0
        || kn_blob_council_of(r->n->dd->store, r->acct.user, council) < 0
        || kn_blob_usage(r->n->dd->store, council, &usage) < 0) {
        http_error(r, 500, "store", "cannot read this node's limits");
        goto out;
    }
    if (size > lim.max_file) {
        http_fmt_size(a, sizeof a, size);
        http_fmt_size(b, sizeof b, lim.max_file);
        snprintf(msg, sizeof msg, http_tr(r, T_UP_TOO_LARGE), name, a, b);
        http_error(r, 413, "too_large", msg);
        goto out;
    }
    if (lim.quota && (size > lim.quota || usage > lim.quota - size)) {
        http_fmt_size(a, sizeof a, usage);
        http_fmt_size(b, sizeof b, lim.quota);
        snprintf(msg, sizeof msg, http_tr(r, T_UP_QUOTA), name, a, b);
        http_error(r, 507, "quota", msg);
        goto out;
    }
    if (h->nuploads >= HTTP_UPLOADS_MAX || per_login >= HTTP_UPLOADS_PER_LOGIN) {
        http_error(r, 429, "too_many_uploads", http_tr(r, T_UP_TOO_MANY));
        goto out;
    }
    if (!(u = calloc(1, sizeof *u))) {
        http_error(r, 500, "oom", "out of memory");
        goto out;
    }
    u->fd = u->hfd = -1;
    u->n = r->n;
    uint8_t rnd[16];
    kn_env_random(r->n->env, rnd, sizeof rnd);
    kn_hex_encode(u->id, rnd, sizeof rnd);
    snprintf(u->login, sizeof u->login, "%s", r->acct.login);
    snprintf(u->name, sizeof u->name, "%s", name);
    snprintf(u->mime, sizeof u->mime, "%s", mime && *mime ? mime : "application/octet-stream");
    u->size = size;
    u->touched_ms = r->now;
    kn_blob_hasher_init(&u->hasher);
    char dir[UPLOADS_DIR_MAX], hp[KN_PATH_MAX + 80];
    uploads_dir(r->n, dir);
    snprintf(u->base, sizeof u->base, "%s/%s", dir, u->id);
    upload_file(u, ".hashes", hp, sizeof hp);
    upload_file(u, ".part", u->path, sizeof u->path);
    if ((u->fd = open(u->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0
        || (u->hfd = open(hp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600)) < 0) {
        if (u->fd >= 0) {
            close(u->fd);
            (void)unlink(u->path);
        }
        kn_blob_hasher_free(&u->hasher);
        free(u);
        http_error(r, 500, "io", "cannot create the upload's file in the data directory");
        goto out;
    }
    u->next = h->uploads;
    h->uploads = u;
    h->nuploads++;
    if (upload_save_meta(u) < 0) {
        upload_free(h, u);
        http_error(r, 500, "io", "cannot write the upload's description in the data directory");
        goto out;
    }
    if (size == 0)
        upload_complete(h, u, r->now);
    http_json(r, 201, upload_json(u));
out:
    json_decref(j);
}

static void api_upload_piece(hreq *r, http_upload *u)
{
    uint64_t offset;
    const char *os = http_form_get(&r->query, "offset");
    char *end;
    h2o_iovec_t e = r->req->entity;
    size_t len = e.base ? e.len : 0;
    if (!os || !*os || os[0] == '-' || (offset = strtoull(os, &end, 10), *end)) {
        http_error(r, 400, "bad_offset", "give ?offset=N, the byte position of this piece");
        return;
    }
    if (u->state != UP_RECEIVING) {
        http_json(r, 409, upload_json(u));
        return;
    }
    if (offset != u->received) {
        json_t *j = upload_json(u);
        json_object_set_new(j, "error", json_string("offset"));
        json_object_set_new(
            j, "message", json_string("pieces go in order: continue at the offset `received`"));
        http_json(r, 409, j);
        return;
    }
    if (len > HTTP_UPLOAD_PIECE) {
        http_error(r, 413, "piece_too_large", "a piece has at most 1 MiB (1048576 bytes)");
        return;
    }
    if (len == 0 || len > u->size - u->received) {
        http_error(r, 400, "bad_piece", "the piece is empty or goes past the announced size");
        return;
    }
    int rc = write_all(u->fd, e.base, len);
    if (rc == 0)
        rc = kn_blob_hasher_update(&u->hasher, (const uint8_t *)e.base, len);
    /* The hashes of chunks just completed, for a restart (ID.hashes). */
    if (rc == 0 && u->hasher.nchunks > u->hashes_saved) {
        rc = write_all(u->hfd,
            (const char *)u->hasher.hashes + (size_t)u->hashes_saved * KN_BLOB_HASH,
            (size_t)(u->hasher.nchunks - u->hashes_saved) * KN_BLOB_HASH);
        u->hashes_saved = u->hasher.nchunks;
    }
    if (rc < 0) {
        upload_fail(u,
            rc == KN_ENOSPC ? "the disk of the node is full; ask the administrator"
                            : "the piece could not be written");
        http_error(r, rc == KN_ENOSPC ? 507 : 500, "io", u->error);
        return;
    }
    u->received += len;
    u->touched_ms = r->now;
    if (u->received == u->size)
        upload_complete(r->h, u, r->now);
    http_json(r, 200, upload_json(u));
}

bool http_blob_api(hreq *r)
{
    if (r->nseg < 1 || strcmp(r->seg[0], "uploads") != 0)
        return false;
    if (r->nseg == 1) {
        if (http_method_is(r, "POST"))
            api_upload_start(r);
        else
            http_error(r, 405, "method", "POST /api/uploads starts an upload");
        return true;
    }
    http_upload *u = r->nseg == 2 ? upload_find(r, r->seg[1]) : NULL;
    if (!u) {
        http_error(r, 404, "not_found", "no such upload (it may have expired: start again)");
        return true;
    }
    if (http_method_is(r, "PUT")) {
        api_upload_piece(r, u);
    } else if (http_method_is(r, "GET") || http_method_is(r, "HEAD")) {
        http_json(r, 200, upload_json(u));
    } else if (http_method_is(r, "DELETE")) {
        upload_free(r->h, u);
        http_json(r, 200, json_pack("{s:b}", "ok", 1));
    } else {
        http_error(r, 405, "method", "GET, PUT or DELETE");
    }
    return true;
}

int http_upload_take(hreq *r, const char *idhex, http_upload_view *v)
{
    http_upload *u = idhex ? upload_find(r, idhex) : NULL;
    if (!u)
        return KN_ENOTFOUND;
    if (u->state != UP_READY)
        return u->state == UP_FAILED ? KN_EIO : KN_EAGAIN;
    memcpy(v->blob, u->blob, KN_BLOB_ID);
    v->size = u->size;
    v->name = u->name;
    v->mime = u->mime;
    u->touched_ms = r->now;
    return 0;
}

void http_upload_done(hreq *r, const char *idhex)
{
    http_upload *u = upload_find(r, idhex);
    if (u)
        upload_free(r->h, u);
}

/* ---- downloads ---- */

typedef struct download {
    h2o_generator_t super;
    http *h;
    node *n;
    uint8_t blob[KN_BLOB_ID];
    uint64_t size;
    uint64_t pos, end; /* the bytes still to send: [pos, end) of the file */
    uint8_t *buf;
    bool counted;
} download;

static void download_end(download *d)
{
    if (d->counted) {
        d->counted = false;
        d->h->downloads--;
    }
}

/* The next piece: the rest of the chunk that holds byte `pos`, up to `end`. */
static void download_send(download *d, h2o_req_t *req)
{
    if (d->pos >= d->end) {
        download_end(d);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    uint32_t idx = (uint32_t)(d->pos / KN_BLOB_CHUNK), off = (uint32_t)(d->pos % KN_BLOB_CHUNK);
    uint32_t len = 0;
    int rc = kn_blob_get_chunk(d->n->dd->store, d->blob, idx, d->buf, &len);
    if (rc < 0 || len != kn_blob_chunk_len(d->size, idx) || off >= len) {
        /* retracted (purged) meanwhile, or the store failed: end short, never other bytes */
        node_logl(d->n, KN_LOG_WARN, "a download stopped at chunk %u: %s", idx,
            rc < 0 ? kn_strerror(rc) : "wrong chunk length");
        download_end(d);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    uint64_t n = len - off < d->end - d->pos ? len - off : d->end - d->pos;
    d->pos += n;
    d->h->download_bytes += n;
    h2o_iovec_t iov = h2o_iovec_init(d->buf + off, (size_t)n);
    bool last = d->pos == d->end;
    if (last)
        download_end(d);
    h2o_send(req, &iov, 1, last ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void download_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    download_send((download *)g, req);
}

static void download_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    download_end((download *)g);
}

/*
 * The Range of a GET (http_range.h): ignored when there are two Range
 * headers, or when If-Range names anything but this file's ETag (a date
 * included: these responses carry no Last-Modified).
 */
static kn_http_range_result download_range(
    hreq *r, const kn_doc_file *f, uint64_t *first, uint64_t *last)
{
    h2o_headers_t *hs = &r->req->headers;
    ssize_t i = h2o_find_header(hs, H2O_TOKEN_RANGE, -1);
    *first = *last = 0;
    if (i < 0 || h2o_find_header(hs, H2O_TOKEN_RANGE, i) >= 0)
        return KN_RANGE_IGNORE;
    ssize_t k = h2o_find_header(hs, H2O_TOKEN_IF_RANGE, -1);
    if (k >= 0) {
        const h2o_iovec_t *v = &hs->entries[k].value;
        char hex[2 * KN_BLOB_ID + 1];
        kn_hex_encode(hex, f->blob, KN_BLOB_ID);
        if (v->len != 2 * KN_BLOB_ID + 2 || v->base[0] != '"' || v->base[v->len - 1] != '"'
            || memcmp(v->base + 1, hex, 2 * KN_BLOB_ID) != 0)
            return KN_RANGE_IGNORE;
    }
    const h2o_iovec_t *v = &hs->entries[i].value;
    return kn_http_range_parse(v->base, v->len, f->size, first, last);
}

void http_download(hreq *r, const char *idhex, const char *index)
{
    uint8_t id[KN_ID], *raw = NULL;
    kn_object o;
    kn_doc_file f[KN_DOC_FILES_MAX];
    uint32_t nf = 0;
    char *end;
    if (http_load(r, idhex, KN_T_DOC, id, &raw, &o) < 0)
        return;
    unsigned long i = index && *index && *index != '-' ? strtoul(index, &end, 10) : ULONG_MAX;
    if (kn_doc_files(&o, f, &nf) < 0 || i == ULONG_MAX || *end || i >= nf) {
        http_error(r, 404, "not_found", "this document has no file with that number");
        goto out;
    }
    kn_blob_info info;
    int irc = kn_blob_info_get(r->n->dd->store, f[i].blob, NULL, &info);
    if (irc < 0 || !info.complete) {
        char msg[200];
        if (irc == 0 && info.admission != KN_BLOB_ACCEPTED && info.admission != KN_BLOB_NOREF) {
            snprintf(msg, sizeof msg, "this node does not keep the file: %s",
                kn_blob_admission_text(info.admission));
            http_error(r, 409, "refused", msg);
            goto out;
        }
        http_ignore(kn_blob_request(r->n->dd->store, f[i].blob, r->now));
        snprintf(msg, sizeof msg,
            "the file is still being fetched from the other councils (%u of %u parts here); "
            "try again in a moment",
            irc == 0 ? info.present : 0, kn_blob_nchunks(f[i].size));
        http_header(r, "retry-after", "5");
        http_error(r, 503, "not_here_yet", msg);
        goto out;
    }
    if (r->h->downloads >= HTTP_DOWNLOADS_MAX) {
        http_header(r, "retry-after", "5");
        http_error(r, 503, "busy", "too many downloads at once; try again in a moment");
        goto out;
    }
    bool head = http_method_is(r, "HEAD");
    uint64_t first = 0, last = 0;
    kn_http_range_result range = head ? KN_RANGE_IGNORE : download_range(r, &f[i], &first, &last);
    http_header(r, "accept-ranges", "bytes");
    char etag[2 * KN_BLOB_ID + 3] = "\"";
    kn_hex_encode(etag + 1, f[i].blob, KN_BLOB_ID);
    memcpy(etag + 1 + 2 * KN_BLOB_ID, "\"", 2);
    http_header(r, "etag", etag); /* the blob id: these bytes never change */
    if (range == KN_RANGE_UNSATISFIABLE) {
        char cr[48];
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)f[i].size);
        http_header(r, "content-range", cr);
        http_error(r, 416, "range",
            "the requested range starts beyond the end of the file (see Content-Range)");
        goto out;
    }
    download *d = h2o_mem_alloc_pool(&r->req->pool, sizeof *d);
    memset(d, 0, sizeof *d);
    d->super.proceed = download_proceed;
    d->super.stop = download_stop;
    d->h = r->h;
    d->n = r->n;
    memcpy(d->blob, f[i].blob, KN_BLOB_ID);
    d->size = f[i].size;
    d->pos = range == KN_RANGE_PARTIAL ? first : 0;
    d->end = range == KN_RANGE_PARTIAL ? last + 1 : f[i].size;
    if (d->end > d->pos && !head)
        d->buf = h2o_mem_alloc_shared(&r->req->pool, KN_BLOB_CHUNK, NULL);
    char ctype[KN_MIME_MAX + 1];
    snprintf(ctype, sizeof ctype, "%.*s", (int)f[i].mime_len, f[i].mime);
    if (!http_mime_ok(f[i].mime, f[i].mime_len))
        snprintf(ctype, sizeof ctype, "application/octet-stream");
    hbuf cd = { 0 };
    http_content_disposition(&cd, f[i].name, f[i].name_len);
    if (cd.oom) {
        hb_free(&cd);
        http_error(r, 500, "oom", "out of memory");
        goto out;
    }
    hb_put(&cd, "", 1);
    http_header(r, "content-disposition", cd.p);
    hb_free(&cd);
    http_header(r, "content-security-policy", "sandbox");
    http_header(r, "cache-control", "private, no-store");
    r->h->downloads++;
    d->counted = true;
    if (range == KN_RANGE_PARTIAL) {
        char cr[80];
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)first,
            (unsigned long long)last, (unsigned long long)f[i].size);
        http_header(r, "content-range", cr);
    }
    http_start_stream(r, range == KN_RANGE_PARTIAL ? 206 : 200, ctype, d->end - d->pos, &d->super);
    if (head) {
        download_end(d);
        h2o_send(r->req, NULL, 0, H2O_SEND_STATE_FINAL);
    } else {
        download_send(d, r->req);
    }
out:
    free(raw);
}
