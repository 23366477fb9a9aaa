#include "datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"

static int errno_to_kn(int e)
{
    switch (e) {
    case ENOENT:
        return KN_ENOTFOUND;
    case EEXIST:
        return KN_EEXIST;
    case EACCES:
    case EPERM:
        return KN_EPERM;
    case ENOMEM:
        return KN_ENOMEM;
    default:
        return KN_EIO;
    }
}

static int join(char out[static KN_PATH_MAX], const char *dir, const char *name)
{
    int n = snprintf(out, KN_PATH_MAX, "%s/%s", dir, name);
    return n < 0 || n >= KN_PATH_MAX ? KN_ETOOBIG : 0;
}

int kn_datadir_default(char out[static KN_PATH_MAX])
{
    const char *env = getenv("KNOTEN_DATA");
    int n;
    if (env && *env)
        n = snprintf(out, KN_PATH_MAX, "%s", env);
    else if (geteuid() == 0)
        n = snprintf(out, KN_PATH_MAX, "/var/lib/knoten");
    else if ((env = getenv("XDG_DATA_HOME")) && *env)
        n = snprintf(out, KN_PATH_MAX, "%s/knoten", env);
    else if ((env = getenv("HOME")) && *env)
        n = snprintf(out, KN_PATH_MAX, "%s/.local/share/knoten", env);
    else
        return KN_ECONFIG;
    return n < 0 || n >= KN_PATH_MAX ? KN_ETOOBIG : 0;
}

bool kn_datadir_exists(const char *path)
{
    char p[KN_PATH_MAX];
    struct stat st;
    return join(p, path, "identity.key") == 0 && stat(p, &st) == 0;
}

int kn_datadir_mkdir(const char *path)
{
    char buf[KN_PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return KN_EINVAL;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return errno_to_kn(errno);
        *p = '/';
    }
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return errno_to_kn(errno);
    return chmod(buf, 0700) < 0 ? errno_to_kn(errno) : 0;
}

int kn_secret_file_write(const char *path, const uint8_t *data, size_t len)
{
    char tmp[KN_PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || n >= (int)sizeof tmp)
        return KN_ETOOBIG;
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno_to_kn(errno);
    int rc = 0;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = KN_EIO;
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) < 0)
        rc = KN_EIO;
    if (close(fd) < 0 && rc == 0)
        rc = KN_EIO;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = errno_to_kn(errno);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int kn_secret_file_read(const char *path, uint8_t *data, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno_to_kn(errno);
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        rc = KN_EIO;
        goto out;
    }
    if (st.st_mode & 077) {
        rc = KN_EPERM;
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size != (off_t)len) {
        rc = KN_ECORRUPT;
        goto out;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t r = read(fd, data + off, len - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = KN_EIO;
            goto out;
        }
        off += (size_t)r;
    }
out:
    close(fd);
    return rc;
}

int kn_datadir_create(const char *path, const kn_env *env, const uint8_t *network_key)
{
    char p[KN_PATH_MAX];
    uint8_t seed[32];
    int rc;
    if (kn_datadir_exists(path))
        return KN_EEXIST;
    if ((rc = kn_datadir_mkdir(path)) < 0)
        return rc;
    if ((rc = join(p, path, "store")) < 0 || (rc = kn_datadir_mkdir(p)) < 0)
        return rc;
    if (network_key) {
        if ((rc = join(p, path, "network.key")) < 0
            || (rc = kn_secret_file_write(p, network_key, 32)) < 0)
            goto out;
    }
    kn_env_random(env, seed, sizeof seed);
    /* The identity goes last: its presence is what marks the directory initialised. */
    if ((rc = join(p, path, "identity.key")) < 0 || (rc = kn_secret_file_write(p, seed, 32)) < 0)
        goto out;
out:
    kn_memzero(seed, sizeof seed);
    return rc;
}

/*
 * Progress of long work when the store opens (building the search index of
 * a store from an older knoten), for the administrator waiting on `knoten`:
 * a line every 10 percent, for stores large enough to take a while.
 */
static void open_progress(void *ctx, uint64_t done, uint64_t total)
{
    unsigned *next = ctx; /* the next percentage worth a line */
    if (total < KN_DATADIR_PROGRESS_MIN)
        return;
    unsigned pct = (unsigned)(done * 100 / total);
    if (pct < *next && done < total)
        return;
    fprintf(stderr, "knoten: building the search index: %llu of %llu objects (%u%%)\n",
        (unsigned long long)done, (unsigned long long)total, pct);
    *next = pct / 10 * 10 + 10;
}

int kn_datadir_open(kn_datadir *dd, const char *path, const kn_store_options *opt)
{
    kn_store_options with_progress = { 0 };
    unsigned next_pct = 0;
    char p[KN_PATH_MAX];
    uint8_t seed[32];
    int rc;
    memset(dd, 0, sizeof *dd);
    if (strlen(path) >= sizeof dd->path)
        return KN_ETOOBIG;
    strcpy(dd->path, path);
    if ((rc = join(p, path, "identity.key")) < 0 || (rc = kn_secret_file_read(p, seed, 32)) < 0)
        goto out;
    kn_sign_keypair_from_seed(dd->identity_pk, dd->identity_sk, seed);
    if ((rc = join(p, path, "network.key")) < 0)
        goto out;
    rc = kn_secret_file_read(p, dd->network_key, 32);
    if (rc == 0)
        dd->has_network_key = true;
    else if (rc != KN_ENOTFOUND)
        goto out;
    if ((rc = join(p, path, "store")) < 0 || (rc = kn_datadir_mkdir(p)) < 0)
        goto out;
    if (opt)
        with_progress = *opt;
    if (!with_progress.progress) {
        with_progress.progress = open_progress;
        with_progress.progress_ctx = &next_pct;
    }
    rc = kn_store_open(&dd->store, p, &with_progress);
out:
    kn_memzero(seed, sizeof seed);
    if (rc < 0)
        kn_datadir_close(dd);
    return rc;
}

void kn_datadir_close(kn_datadir *dd)
{
    if (!dd)
        return;
    kn_store_close(dd->store);
    dd->store = NULL;
    kn_memzero(dd->identity_sk, sizeof dd->identity_sk);
    kn_memzero(dd->network_key, sizeof dd->network_key);
    dd->has_network_key = false;
}

int kn_datadir_set_network_key(kn_datadir *dd, const uint8_t key[static 32])
{
    char p[KN_PATH_MAX];
    int rc = join(p, dd->path, "network.key");
    if (rc == 0)
        rc = kn_secret_file_write(p, key, 32);
    if (rc == 0) {
        memcpy(dd->network_key, key, 32);
        dd->has_network_key = true;
    }
    return rc;
}
