/*
 * `knoten backup PATH` and `knoten restore PATH`.
 *
 * A backup is a directory (0700):
 *
 *   PATH/knoten-backup      what it holds (text, below); written last, so a
 *                           backup without it is incomplete
 *   PATH/store/data.mdb     a compacted copy of the LMDB store, taken inside
 *                           one read transaction (kn_store_copy_compact): a
 *                           consistent snapshot even while the node runs
 *   PATH/identity.key       the node's keys, 0600 (not with --no-keys)
 *   PATH/network.key
 *   PATH/noise.key
 *   PATH/users/HEX.key      the staff keys this node holds
 *
 * With the keys, a backup is all a council needs to bring its node back on
 * a new machine, and it is exactly as secret as the node itself.
 *
 * Restoring checks everything before it touches the data directory: the
 * copy is staged in DIR/.restore-TIME, opened (an older store is migrated),
 * every object's signature and id re-verified, the store's indexes and every
 * blob chunk checked (kn_store_check), and the identity compared with the
 * backup's. Only then does the staged copy take the directory's place; what
 * was there before (--force) is kept in DIR/replaced-TIME until the
 * administrator deletes it. Run as root on a directory that belongs to
 * another user (the service's), the restored files are given to that user.
 *
 * Manifest (format 1), one "key value" per line:
 *   knoten-backup 1 / created_ms / knoten_version / identity / network /
 *   schema_version / objects / pending / tombstones / blobs / keys yes|no
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blobstore.h"
#include "cli.h"
#include "crypto.h"
#include "hex.h"
#include "peer_state.h"

#define MANIFEST "knoten-backup"
enum { BACKUP_FORMAT = 1, MANIFEST_MAX = 4096, PROGRESS_MS = 2000 };

static const char *const key_files[] = { "identity.key", "network.key", "noise.key" };

typedef struct manifest {
    unsigned format;
    uint64_t created_ms;
    char version[32];
    char identity[65];
    char network[65]; /* "-" when the node had no network yet */
    uint64_t schema, objects, pending, tombstones, blobs;
    bool keys;
} manifest;

/* ---- small file helpers ---- */

static int path_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? KN_ETOOBIG : 0;
}

/*
 * 1 if dir holds entries other than . and .. (and, with leftovers_too false,
 * other than what earlier restores left: replaced-*, .restore-*), 0 if it
 * holds none or does not exist, negative on error.
 */
static int dir_has_entries(const char *dir, bool leftovers_too)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : KN_EIO;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)))
        found = strcmp(e->d_name, ".") && strcmp(e->d_name, "..")
            && (leftovers_too
                || (strncmp(e->d_name, "replaced-", 9) && strncmp(e->d_name, ".restore-", 9)));
    closedir(d);
    return found;
}

/* rm -r; for a staging directory this command made. */
static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char sub[KN_PATH_MAX];
        while (d && (e = readdir(d))) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")
                && path_join(sub, sizeof sub, path, e->d_name) == 0)
                remove_tree(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* chown -R, for a restore run as root into a directory another user owns. */
static void give_tree(const char *path, uid_t uid, gid_t gid)
{
    struct stat st;
    if (lstat(path, &st) < 0 || lchown(path, uid, gid) < 0 || !S_ISDIR(st.st_mode))
        return;
    DIR *d = opendir(path);
    struct dirent *e;
    char sub[KN_PATH_MAX];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")
            && path_join(sub, sizeof sub, path, e->d_name) == 0)
            give_tree(sub, uid, gid);
    if (d)
        closedir(d);
}

/* Copies a regular file to a new file (0600), fsynced, reporting progress for big ones. */
static int copy_file(const char *from, const char *to, const kn_env *env)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
    struct stat st;
    char *buf = NULL;
    if (in < 0)
        return errno == ENOENT ? KN_ENOTFOUND : KN_EIO;
    if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = KN_EIO;
        goto out;
    }
    if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0
        || !(buf = malloc(1 << 20))) {
        rc = out < 0 ? KN_EIO : KN_ENOMEM;
        goto out;
    }
    uint64_t done = 0, next = kn_env_now(env) + PROGRESS_MS;
    for (;;) {
        ssize_t r = read(in, buf, 1 << 20);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = KN_EIO;
            goto out;
        }
        if (r == 0)
            break;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = errno == ENOSPC ? KN_ETOOBIG : KN_EIO;
                goto out;
            }
            off += w;
        }
        done += (uint64_t)r;
        if (kn_env_now(env) >= next) {
            fprintf(stderr, "knoten: copied %.0f of %.0f MiB\n", (double)done / 1048576.0,
                (double)st.st_size / 1048576.0);
            next = kn_env_now(env) + PROGRESS_MS;
        }
    }
    if (fsync(out) < 0)
        rc = KN_EIO;
out:
    free(buf);
    if (out >= 0 && close(out) < 0 && rc == 0)
        rc = KN_EIO;
    close(in);
    return rc;
}

/* One 32-byte secret file from one directory to another (0600, wiped after). */
static int copy_secret(const char *from_dir, const char *to_dir, const char *name)
{
    char from[KN_PATH_MAX], to[KN_PATH_MAX];
    uint8_t key[32];
    int rc = path_join(from, sizeof from, from_dir, name);
    if (rc == 0)
        rc = path_join(to, sizeof to, to_dir, name);
    if (rc == 0)
        rc = kn_secret_file_read(from, key, sizeof key);
    if (rc == 0)
        rc = kn_secret_file_write(to, key, sizeof key);
    kn_memzero(key, sizeof key);
    return rc;
}

static bool user_key_name(const char *n)
{
    if (strlen(n) != 64 + 4 || strcmp(n + 64, ".key") != 0)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
            return false;
    return true;
}

/*
 * The node's keys from one directory to another: identity.key (required),
 * network.key and noise.key (if present), users/HEX.key. *n counts them.
 */
static int copy_keys(const char *from, const char *to, size_t *n, const char **failed)
{
    char fu[KN_PATH_MAX], tu[KN_PATH_MAX];
    int rc;
    *n = 0;
    for (size_t i = 0; i < sizeof key_files / sizeof key_files[0]; i++) {
        rc = copy_secret(from, to, key_files[i]);
        if (rc == KN_ENOTFOUND && i > 0)
            continue;
        if (rc < 0) {
            *failed = key_files[i];
            return rc;
        }
        ++*n;
    }
    if ((rc = path_join(fu, sizeof fu, from, "users")) < 0
        || (rc = path_join(tu, sizeof tu, to, "users")) < 0)
        return rc;
    DIR *d = opendir(fu);
    if (!d)
        return errno == ENOENT ? 0 : KN_EIO;
    if ((rc = kn_datadir_mkdir(tu)) == 0) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!user_key_name(e->d_name))
                continue;
            if ((rc = copy_secret(fu, tu, e->d_name)) < 0) {
                *failed = "a user key in users/";
                break;
            }
            ++*n;
        }
    }
    closedir(d);
    return rc;
}

/* ---- the manifest ---- */

static int manifest_write(const char *dir, const manifest *m)
{
    char path[KN_PATH_MAX], tmp[KN_PATH_MAX + 8];
    int rc = path_join(path, sizeof path, dir, MANIFEST);
    if (rc < 0)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return KN_EIO;
    }
    fprintf(f,
        "knoten-backup %u\ncreated_ms %llu\nknoten_version %s\nidentity %s\nnetwork %s\n"
        "schema_version %llu\nobjects %llu\npending %llu\ntombstones %llu\nblobs %llu\n"
        "keys %s\n",
        m->format, (unsigned long long)m->created_ms, m->version, m->identity, m->network,
        (unsigned long long)m->schema, (unsigned long long)m->objects,
        (unsigned long long)m->pending, (unsigned long long)m->tombstones,
        (unsigned long long)m->blobs, m->keys ? "yes" : "no");
    rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : KN_EIO;
    if (fclose(f) != 0)
        rc = KN_EIO;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = KN_EIO;
    return rc;
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!*s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}

static bool hex64_or_dash(const char *s, bool dash_ok)
{
    uint8_t b[32];
    return (dash_ok && strcmp(s, "-") == 0)
        || (strlen(s) == 64 && kn_hex_decode(b, 32, s, 64) == 0);
}

/* Reads and checks PATH/knoten-backup; on failure *why says what is wrong. */
static int manifest_read(const char *dir, manifest *m, const char **why)
{
    char path[KN_PATH_MAX], line[256];
    unsigned seen = 0;
    memset(m, 0, sizeof *m);
    if (path_join(path, sizeof path, dir, MANIFEST) < 0) {
        *why = "the path is too long";
        return KN_ETOOBIG;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        *why = errno == ENOENT ? "there is no " MANIFEST " file in it (an unfinished backup?)"
                               : "its " MANIFEST " file cannot be read";
        return errno == ENOENT ? KN_ENOTFOUND : KN_EIO;
    }
    struct stat st;
    int rc = fstat(fileno(f), &st) == 0 && st.st_size <= MANIFEST_MAX ? 0 : KN_ETOOBIG;
    *why = "its " MANIFEST " file is not one knoten wrote";
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char *nl = strchr(line, '\n'), *sp = strchr(line, ' ');
        if (!nl || !sp) {
            rc = KN_ECORRUPT;
            break;
        }
        *nl = *sp = 0;
        const char *k = line, *v = sp + 1;
        static const char *const names[]
            = { "knoten-backup", "created_ms", "knoten_version", "identity", "network",
                  "schema_version", "objects", "pending", "tombstones", "blobs", "keys" };
        uint64_t *const nums[] = { NULL, &m->created_ms, NULL, NULL, NULL, &m->schema, &m->objects,
            &m->pending, &m->tombstones, &m->blobs, NULL };
        size_t i = 0;
        while (i < sizeof names / sizeof names[0] && strcmp(k, names[i]) != 0)
            i++;
        if (i == sizeof names / sizeof names[0])
            continue; /* a later format's addition */
        seen |= 1u << i;
        uint64_t u = 0;
        bool ok;
        if (nums[i])
            ok = parse_u64(v, nums[i]);
        else if (i == 0)
            ok = parse_u64(v, &u) && u < 1000 && ((m->format = (unsigned)u), true);
        else if (i == 2)
            ok = strlen(v) < sizeof m->version;
        else if (i == 3 || i == 4)
            ok = hex64_or_dash(v, i == 4);
        else
            ok = (m->keys = strcmp(v, "yes") == 0) || strcmp(v, "no") == 0;
        if (ok && i == 2)
            snprintf(m->version, sizeof m->version, "%s", v);
        if (ok && (i == 3 || i == 4))
            snprintf(i == 3 ? m->identity : m->network, 65, "%s", v);
        if (!ok)
            rc = KN_ECORRUPT;
    }
    fclose(f);
    if (rc == 0 && seen != 2047)
        rc = KN_ECORRUPT;
    if (rc == 0 && m->format != BACKUP_FORMAT) {
        *why = "it was written in a newer backup format; restore it with that knoten";
        rc = KN_EVERSION;
    }
    return rc;
}

/* ---- verification ---- */

typedef struct verify_ctx {
    const kn_env *env;
    uint64_t now, total, n, bad, next_progress_ms;
    char first[160];
} verify_ctx;

static int verify_visit(void *arg, const kn_object *o)
{
    verify_ctx *v = arg;
    kn_object check;
    int rc = kn_object_validate(&check, o->raw, o->raw_len, v->now);
    if (rc == 0 && memcmp(check.id, o->id, KN_ID) != 0)
        rc = KN_ECORRUPT;
    if (rc < 0 && v->bad++ == 0) {
        char hex[2 * KN_ID + 1];
        kn_hex_encode(hex, o->id, KN_ID);
        snprintf(v->first, sizeof v->first, "object %.16s\u2026: %s", hex, kn_strerror(rc));
    }
    v->n++;
    uint64_t t = kn_env_now(v->env);
    if (t >= v->next_progress_ms) {
        fprintf(stderr, "knoten: verified %llu of %llu objects\n", (unsigned long long)v->n,
            (unsigned long long)v->total);
        v->next_progress_ms = t + PROGRESS_MS;
    }
    return 0;
}

/*
 * Everything a restored store must satisfy: the store's own consistency
 * check (indexes, fingerprint tree, every blob chunk against its hash), and
 * every stored and pending object's signature, schema and id verified again.
 * 0, or KN_ECORRUPT with the first problem in why.
 */
static int verify_store(
    kn_store *s, const kn_env *env, kn_store_stats *st, kn_blob_stats *bs, char *why, size_t cap)
{
    kn_store_check_report r;
    int rc = kn_store_stats_get(s, st);
    if (rc == 0)
        rc = kn_blob_stats_get(s, bs);
    if (rc < 0) {
        snprintf(why, cap, "cannot read it: %s", kn_strerror(rc));
        return rc;
    }
    fprintf(stderr, "knoten: checking the store's indexes and %llu blobs\n",
        (unsigned long long)bs->blobs);
    rc = kn_store_check(s, &r);
    if (rc == KN_ECORRUPT) {
        snprintf(why, cap, "%llu problem(s) in the store, the first: %s",
            (unsigned long long)r.problems, r.first_problem);
        return rc;
    }
    if (rc < 0) {
        snprintf(why, cap, "cannot check the store: %s", kn_strerror(rc));
        return rc;
    }
    verify_ctx v = { .env = env, .now = kn_env_now(env), .total = st->objects + st->pending };
    v.next_progress_ms = v.now + PROGRESS_MS;
    kn_store_query q = { .index = KN_BY_TIME };
    if ((rc = kn_store_each(s, &q, verify_visit, &v)) == 0)
        rc = kn_store_each_pending(s, verify_visit, &v);
    if (rc < 0) {
        snprintf(why, cap, "cannot read the objects: %s", kn_strerror(rc));
        return rc;
    }
    if (v.bad) {
        snprintf(why, cap, "%llu object(s) fail verification, the first: %s",
            (unsigned long long)v.bad, v.first);
        return KN_ECORRUPT;
    }
    if (v.n != v.total) {
        snprintf(why, cap, "%llu objects were read but the store counts %llu",
            (unsigned long long)v.n, (unsigned long long)v.total);
        return KN_ECORRUPT;
    }
    fprintf(
        stderr, "knoten: verified %llu objects: every signature and id\n", (unsigned long long)v.n);
    return 0;
}

static void identity_of(const char *dir, char hex[65])
{
    char path[KN_PATH_MAX];
    uint8_t seed[32], pk[32], sk[64];
    hex[0] = 0;
    if (path_join(path, sizeof path, dir, "identity.key") == 0
        && kn_secret_file_read(path, seed, sizeof seed) == 0) {
        kn_sign_keypair_from_seed(pk, sk, seed);
        kn_hex_encode(hex, pk, 32);
    }
    kn_memzero(seed, sizeof seed);
    kn_memzero(sk, sizeof sk);
}

/* ---- knoten backup ---- */

/*
 * The copy runs on a thread of its own while this one reports how far it
 * got (the size of the file being written), every PROGRESS_MS: a large
 * store takes minutes, and kn_store_copy_compact has no progress callback.
 * The store is touched by the copying thread only until it is joined.
 */
typedef struct copy_job {
    kn_store *s;
    const char *dir;
    int rc; /* read after the join */
    atomic_bool done;
} copy_job;

static void *copy_thread(void *arg)
{
    copy_job *j = arg;
    j->rc = kn_store_copy_compact(j->s, j->dir);
    atomic_store(&j->done, true);
    return NULL;
}

static int copy_with_progress(kn_store *s, const char *dir, const kn_env *env, uint64_t used)
{
    copy_job j = { .s = s, .dir = dir };
    atomic_init(&j.done, false);
    pthread_t t;
    char file[KN_PATH_MAX + 16];
    snprintf(file, sizeof file, "%s/data.mdb", dir);
    if (pthread_create(&t, NULL, copy_thread, &j) != 0)
        return kn_store_copy_compact(s, dir); /* no thread: copy without progress */
    uint64_t next = kn_env_now(env) + PROGRESS_MS;
    struct stat st;
    while (!atomic_load(&j.done)) {
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        if (kn_env_now(env) >= next && stat(file, &st) == 0) {
            fprintf(stderr, "knoten: copied %.1f of at most %.1f MiB\n",
                (double)st.st_size / 1048576.0, (double)used / 1048576.0);
            next = kn_env_now(env) + PROGRESS_MS;
        }
    }
    pthread_join(t, NULL);
    return j.rc;
}

int cmd_backup(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "no-keys", no_argument, 0, 'n' },
        { "verify", no_argument, 0, 'V' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    bool keys = true, verify = false;
    int opt, code = -1, rc;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "backup", &code)) >= 0) {
        if (opt == 'n')
            keys = false;
        else if (opt == 'V')
            verify = true;
    }
    if (opt == CLI_STOP)
        return code;
    if (optind != argc - 1)
        return cli_usage_error(cli, "give one PATH: the directory to write the backup to");
    const char *dest = argv[optind];
    char store_dir[KN_PATH_MAX], why[512];
    if (strlen(dest) > KN_PATH_MAX - 128)
        return cli_usage_error(cli, "the backup path is too long");
    if ((rc = dir_has_entries(dest, true)) != 0)
        return rc > 0
            ? cli_fail("%s is not empty; give a new or empty directory for the backup", dest)
            : cli_fail("cannot read %s: %s", dest, strerror(errno));
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    manifest m = { .format = BACKUP_FORMAT, .keys = keys };
    kn_store *copy = NULL;
    kn_store_stats st;
    kn_blob_stats bs;
    size_t nkeys = 0;
    const char *failed = "";
    snprintf(m.version, sizeof m.version, "%s", KN_VERSION);
    kn_hex_encode(m.identity, dd.identity_pk, 32);
    if ((rc = kn_datadir_mkdir(dest)) < 0 || chmod(dest, 0700) < 0) {
        code = cli_fail("cannot create %s: %s", dest, rc < 0 ? kn_strerror(rc) : strerror(errno));
        goto out;
    }
    snprintf(store_dir, sizeof store_dir, "%s/store", dest);
    if ((rc = kn_datadir_mkdir(store_dir)) < 0) {
        code = cli_fail("cannot create %s: %s", store_dir, kn_strerror(rc));
        goto out;
    }
    if ((rc = kn_store_stats_get(dd.store, &st)) == 0)
        fprintf(stderr, "knoten: copying the store of %s (%.1f MiB used) to %s\n", cli->data_dir,
            (double)st.map_used / 1048576.0, store_dir);
    uint64_t t0 = kn_env_now(cli->env);
    if (rc < 0 || (rc = copy_with_progress(dd.store, store_dir, cli->env, st.map_used)) < 0) {
        code = cli_fail("cannot copy the store: %s", kn_strerror(rc));
        goto out;
    }
    char data_mdb[KN_PATH_MAX + 16];
    snprintf(data_mdb, sizeof data_mdb, "%s/data.mdb", store_dir);
    chmod(data_mdb, 0600);
    if (keys && (rc = copy_keys(cli->data_dir, dest, &nkeys, &failed)) < 0) {
        code = cli_fail("cannot copy %s into the backup: %s", failed, kn_strerror(rc));
        goto out;
    }
    /* The manifest describes the copy, not the store that has moved on meanwhile. */
    if ((rc = kn_store_open(&copy, store_dir, NULL)) == 0
        && (rc = kn_store_stats_get(copy, &st)) == 0)
        rc = kn_blob_stats_get(copy, &bs);
    if (rc < 0) {
        code = cli_fail("the copy in %s cannot be read: %s", store_dir, kn_strerror(rc));
        goto out;
    }
    if (verify && (rc = verify_store(copy, cli->env, &st, &bs, why, sizeof why)) < 0) {
        code = cli_fail("the copy does not verify: %s", why);
        goto out;
    }
    uint8_t net[KN_ID];
    uint64_t k;
    if (kn_store_network_get(copy, net, &k) == 0)
        kn_hex_encode(m.network, net, KN_ID);
    else
        snprintf(m.network, sizeof m.network, "-");
    kn_store_close(copy);
    copy = NULL;
    char lock[KN_PATH_MAX + 16];
    snprintf(lock, sizeof lock, "%s/lock.mdb", store_dir);
    unlink(lock); /* made by opening the copy; a restore makes its own */
    m.created_ms = kn_env_now(cli->env);
    m.schema = st.schema_version;
    m.objects = st.objects;
    m.pending = st.pending;
    m.tombstones = st.tombstones;
    m.blobs = bs.blobs;
    if ((rc = manifest_write(dest, &m)) < 0) {
        code = cli_fail("cannot write %s/%s: %s", dest, MANIFEST, kn_strerror(rc));
        goto out;
    }
    struct stat fs;
    char size[24];
    cli_format_bytes(size, sizeof size, stat(data_mdb, &fs) == 0 ? (uint64_t)fs.st_size : 0);
    printf("backup of node %.16s\u2026 in %s: %llu objects, %llu pending, %llu blobs, %s, "
           "schema %llu, in %.1f s\n",
        m.identity, dest, (unsigned long long)m.objects, (unsigned long long)m.pending,
        (unsigned long long)m.blobs, size, (unsigned long long)m.schema,
        (double)(kn_env_now(cli->env) - t0) / 1000.0);
    if (keys)
        printf("It holds the node's %zu secret key file(s) (0600): keep it as safe as the node "
               "itself. `knoten backup --no-keys` leaves them out.\n",
            nkeys);
    else
        printf("It holds no keys: keep DATA/*.key and DATA/users/ safe separately, or the node "
               "cannot be restored with its identity.\n");
    code = CLI_OK;
out:
    kn_store_close(copy);
    kn_datadir_close(&dd);
    return code;
}

/* ---- knoten restore ---- */

/* Moves every entry of from (but skip) into to; both in the same file system. */
static int move_entries(const char *from, const char *to, const char *skip)
{
    DIR *d = opendir(from);
    struct dirent *e;
    char a[KN_PATH_MAX], b[KN_PATH_MAX];
    int rc = d ? 0 : KN_EIO;
    while (rc == 0 && d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")
            || (skip && !strcmp(e->d_name, skip)))
            continue;
        if ((rc = path_join(a, sizeof a, from, e->d_name)) == 0
            && (rc = path_join(b, sizeof b, to, e->d_name)) == 0 && rename(a, b) < 0)
            rc = KN_EIO;
    }
    if (d)
        closedir(d);
    return rc;
}

int cmd_restore(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "force", no_argument, 0, 'f' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    bool force = false;
    int opt, code = -1, rc;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "restore", &code)) >= 0) {
        if (opt == 'f')
            force = true;
    }
    if (opt == CLI_STOP)
        return code;
    if (optind != argc - 1)
        return cli_usage_error(cli, "give one PATH: a directory `knoten backup` wrote");
    const char *src = argv[optind], *target = cli->data_dir;
    const char *why_m = "";
    manifest m;
    if ((rc = manifest_read(src, &m, &why_m)) < 0) {
        struct stat st;
        if (rc == KN_ENOTFOUND && stat(src, &st) < 0)
            return cli_fail("there is no backup %s: %s", src, strerror(errno));
        if (rc == KN_ENOTFOUND && kn_datadir_exists(src))
            return cli_fail("%s is a node's data directory, not a backup: make a backup of it "
                            "with `knoten backup PATH --data %s`, then restore PATH",
                src, src);
        return cli_fail("%s is not a complete knoten backup: %s", src, why_m);
    }
    if (m.schema > KN_STORE_SCHEMA_VERSION)
        return cli_fail("the backup's store was written by a newer knoten (store schema %llu; "
                        "this knoten %s reads up to %d): install knoten %s or newer to restore it",
            (unsigned long long)m.schema, KN_VERSION, KN_STORE_SCHEMA_VERSION, m.version);
    kn_peer_state ps;
    if (kn_peer_state_read(target, &ps) == 0) {
        bool alive = cli_node_alive(&ps);
        long pid = ps.pid;
        kn_peer_state_free(&ps);
        if (alive)
            return cli_fail("a node is running on %s (pid %ld); stop it first (`systemctl stop "
                            "knoten`, or Ctrl-C), then restore",
                target, pid);
    }
    if ((rc = dir_has_entries(target, false)) < 0)
        return cli_fail("cannot read %s: %s", target, strerror(errno));
    bool replace = rc > 0;
    if (replace && !force) {
        char id[65];
        identity_of(target, id);
        return cli_fail("%s is not empty%s%s%s; restoring would replace it. Give another --data "
                        "DIR, or add --force to replace it (what is there now is kept in "
                        "%s/replaced-TIME)",
            target, id[0] ? " (it holds node " : "", id[0] ? id : "", id[0] ? ")" : "", target);
    }
    char old_id[65];
    identity_of(target, old_id);
    if ((rc = kn_datadir_mkdir(target)) < 0)
        return cli_fail("cannot create %s: %s", target, kn_strerror(rc));
    uint64_t t0 = kn_env_now(cli->env);
    char stage[KN_PATH_MAX], path[KN_PATH_MAX + 32], from[KN_PATH_MAX + 32], why[512];
    snprintf(path, sizeof path, ".restore-%llu", (unsigned long long)t0);
    if (path_join(stage, sizeof stage, target, path) < 0 || strlen(stage) > KN_PATH_MAX - 128)
        return cli_fail("the data directory path is too long");
    kn_store *s = NULL;
    size_t nkeys = 0;
    const char *failed = "";
    if ((rc = kn_datadir_mkdir(stage)) < 0) {
        code = cli_fail("cannot create %s: %s", stage, kn_strerror(rc));
        goto fail;
    }
    snprintf(path, sizeof path, "%s/store", stage);
    snprintf(from, sizeof from, "%s/store/data.mdb", src);
    if ((rc = kn_datadir_mkdir(path)) < 0) {
        code = cli_fail("cannot create %s: %s", path, kn_strerror(rc));
        goto fail;
    }
    snprintf(path, sizeof path, "%s/store/data.mdb", stage);
    fprintf(stderr, "knoten: copying %s\n", from);
    if ((rc = copy_file(from, path, cli->env)) < 0) {
        code = cli_fail(
            "cannot copy %s: %s", from, rc == KN_ETOOBIG ? "the disk is full" : kn_strerror(rc));
        goto fail;
    }
    if (m.keys) {
        if ((rc = copy_keys(src, stage, &nkeys, &failed)) < 0) {
            code = cli_fail("cannot take %s from the backup: %s%s", failed, kn_strerror(rc),
                rc == KN_EPERM ? " (the key files must be 0600 and yours: chmod 600)" : "");
            goto fail;
        }
    } else if (old_id[0]) {
        /* A backup without keys restores the library into the node that is here. */
        if ((rc = copy_keys(target, stage, &nkeys, &failed)) < 0) {
            code = cli_fail("cannot keep this node's %s: %s", failed, kn_strerror(rc));
            goto fail;
        }
    }
    snprintf(path, sizeof path, "%s/store", stage);
    rc = kn_store_open(&s, path, NULL);
    if (rc == KN_ESCHEMAVER) {
        code = cli_fail("the backup's store was written by a newer knoten than %s; install "
                        "knoten %s or newer to restore it",
            KN_VERSION, m.version);
        goto fail;
    }
    if (rc < 0) {
        code = cli_fail("the backup's store cannot be opened: %s", kn_strerror(rc));
        goto fail;
    }
    kn_store_stats st;
    kn_blob_stats bs;
    if ((rc = verify_store(s, cli->env, &st, &bs, why, sizeof why)) < 0) {
        code = cli_fail("the backup is damaged: %s. Nothing in %s was changed.", why, target);
        goto fail;
    }
    if (st.objects != m.objects || st.pending != m.pending) {
        code = cli_fail("the backup's store holds %llu objects and %llu pending, its %s file says "
                        "%llu and %llu: not the store this backup was made with. Nothing in %s "
                        "was changed.",
            (unsigned long long)st.objects, (unsigned long long)st.pending, MANIFEST,
            (unsigned long long)m.objects, (unsigned long long)m.pending, target);
        goto fail;
    }
    kn_store_close(s);
    s = NULL;
    char new_id[65];
    identity_of(stage, new_id);
    if (m.keys && strcmp(new_id, m.identity) != 0) {
        code = cli_fail("the identity.key in the backup is not the key of node %.16s\u2026 its %s "
                        "names. Nothing in %s was changed.",
            m.identity, MANIFEST, target);
        goto fail;
    }
    /* Checked: the staged copy takes the directory's place. */
    char replaced[KN_PATH_MAX] = "";
    if (replace) {
        char when[32], name[64];
        time_t t = (time_t)(t0 / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y%m%d-%H%M%S", &tm);
        snprintf(name, sizeof name, "replaced-%s", when);
        if (path_join(replaced, sizeof replaced, target, name) < 0
            || kn_datadir_mkdir(replaced) < 0) {
            code = cli_fail("cannot create %s/%s", target, name);
            goto fail;
        }
        const char *stage_name = strrchr(stage, '/') + 1;
        DIR *d = opendir(target);
        struct dirent *e;
        char a[KN_PATH_MAX], b[KN_PATH_MAX];
        rc = d ? 0 : KN_EIO;
        while (rc == 0 && d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")
                || !strcmp(e->d_name, stage_name) || !strncmp(e->d_name, "replaced-", 9)
                || !strncmp(e->d_name, ".restore-", 9))
                continue;
            if ((rc = path_join(a, sizeof a, target, e->d_name)) == 0
                && (rc = path_join(b, sizeof b, replaced, e->d_name)) == 0 && rename(a, b) < 0)
                rc = KN_EIO;
        }
        if (d)
            closedir(d);
        if (rc < 0) {
            code = cli_fail("cannot move the old contents of %s to %s: %s; the restored copy is "
                            "in %s",
                target, replaced, strerror(errno), stage);
            return code;
        }
    }
    if ((rc = move_entries(stage, target, NULL)) < 0) {
        code = cli_fail(
            "cannot move the restored copy from %s into %s: %s", stage, target, strerror(errno));
        return code;
    }
    rmdir(stage);
    struct stat ts;
    if (geteuid() == 0 && stat(target, &ts) == 0 && ts.st_uid != 0)
        give_tree(target, ts.st_uid, ts.st_gid); /* the service's files stay the service's */
    printf("restored node %.16s\u2026 into %s: %llu objects, %llu pending, %llu blobs, every "
           "signature, id and chunk verified, in %.1f s\n",
        m.identity, target, (unsigned long long)st.objects, (unsigned long long)st.pending,
        (unsigned long long)bs.blobs, (double)(kn_env_now(cli->env) - t0) / 1000.0);
    if (replace)
        printf(
            "The previous contents are in %s; delete it once the restored node runs.\n", replaced);
    if (!m.keys && !old_id[0])
        printf("The backup holds no keys: put identity.key and network.key (0600) back into %s "
               "before `knoten run`, or the node starts with a new identity.\n",
            target);
    else if (!m.keys)
        printf("The backup holds no keys: the node keeps the identity %.16s\u2026 it had here.\n",
            old_id);
    printf("Start the node with `knoten run` (or `systemctl start knoten`); it fetches what "
           "its peers published since %s.\n",
        "the backup");
    return CLI_OK;
fail:
    kn_store_close(s);
    remove_tree(stage);
    return code;
}
