/*
 * `knoten doc`: documents with files (docs/blobs.md). publish, ls, get,
 * versions, retract, and the node's blob settings (limits, policy).
 *
 * publish runs in the command-line process, possibly while the node runs on
 * the same store: it hashes each file (first read), stages the manifest,
 * streams the chunks into the store in batches of PUT_BATCH per write
 * transaction (second read, every chunk checked against the manifest, so a
 * file that changes meanwhile is caught), and only then signs and stores the
 * doc object. The running node finds the doc by its by-author poll
 * (node/localpub.c) and can serve every chunk from the first moment.
 *
 * A version chain is a doc and the docs that supersede it (refs[0]) with
 * the same council; it is shown as one document, the newest version, with
 * the number of versions. A supersedes link from another council does not
 * count: nobody replaces another council's document.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "blobstore.h"
#include "cli.h"
#include "codec.h"
#include "hex.h"
#include "peer_state.h"

enum {
    PUT_BATCH = 16, /* chunks per write transaction when publishing: 4 MiB */
    MAX_FILES = KN_DOC_FILES_MAX,
    MAX_TAGS = 32,
    PROGRESS_MIN = 8 << 20, /* files from this size on show progress */
};

/* ---- small helpers ---- */

static void format_size(char *buf, size_t cap, uint64_t n)
{
    static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
    if (n < 1024) {
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
        return;
    }
    double v = (double)n / 1024;
    int u = 0;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, "%.1f %s", v, unit[u]);
}

/* "500M", "2G", "1048576", "64KiB", "1.5G": binary units, case-insensitive. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return KN_EINVAL;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return KN_EINVAL;
    double mul = 1;
    if (*end) {
        switch (*end | 0x20) {
        case 'k':
            mul = 1024.0;
            break;
        case 'm':
            mul = 1024.0 * 1024;
            break;
        case 'g':
            mul = 1024.0 * 1024 * 1024;
            break;
        case 't':
            mul = 1024.0 * 1024 * 1024 * 1024;
            break;
        case 'b':
            break;
        default:
            return KN_EINVAL;
        }
        if ((*end | 0x20) != 'b') {
            end++;
            if (strcasecmp(end, "ib") == 0 || strcasecmp(end, "b") == 0)
                end += strlen(end);
        } else {
            end++;
        }
        if (*end)
            return KN_EINVAL;
    }
    v *= mul;
    if (v >= 18446744073709551615.0)
        return KN_ETOOBIG;
    *out = (uint64_t)v;
    return 0;
}

/* "2026-03-01" (midnight UTC) or "2026-03-01T08:00[:00][Z]" as ms since the epoch. */
static int parse_date(const char *s, uint64_t *ms)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10)
        return KN_EINVAL;
    const char *p = s + used;
    if (*p == 'T' || *p == ' ') {
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &used) != 2 || used != 5)
            return KN_EINVAL;
        p += 1 + used;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &sec, &used) != 1 || used != 2)
                return KN_EINVAL;
            p += 1 + used;
        }
        if (*p == 'Z')
            p++;
    }
    if (*p || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59
        || sec > 60 || h < 0 || mi < 0 || sec < 0)
        return KN_EINVAL;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t < 0 || tm.tm_mday != d) /* 2026-02-30 rolls over into March */
        return KN_EINVAL;
    *ms = (uint64_t)t * 1000;
    return 0;
}

static const char *guess_mime(const char *name)
{
    static const char *const table[][2] = {
        { "pdf", "application/pdf" },
        { "odt", "application/vnd.oasis.opendocument.text" },
        { "ods", "application/vnd.oasis.opendocument.spreadsheet" },
        { "odp", "application/vnd.oasis.opendocument.presentation" },
        { "doc", "application/msword" },
        { "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
        { "xls", "application/vnd.ms-excel" },
        { "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
        { "ppt", "application/vnd.ms-powerpoint" },
        { "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation" },
        { "rtf", "application/rtf" },
        { "txt", "text/plain" },
        { "md", "text/markdown" },
        { "csv", "text/csv" },
        { "html", "text/html" },
        { "htm", "text/html" },
        { "xml", "application/xml" },
        { "json", "application/json" },
        { "png", "image/png" },
        { "jpg", "image/jpeg" },
        { "jpeg", "image/jpeg" },
        { "gif", "image/gif" },
        { "svg", "image/svg+xml" },
        { "tif", "image/tiff" },
        { "tiff", "image/tiff" },
        { "zip", "application/zip" },
        { "eml", "message/rfc822" },
        { "ics", "text/calendar" },
        { "mp4", "video/mp4" },
        { "mp3", "audio/mpeg" },
    };
    const char *dot = strrchr(name, '.');
    if (dot && dot != name)
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
            if (strcasecmp(dot + 1, table[i][0]) == 0)
                return table[i][1];
    return "application/octet-stream";
}

/* The schema's rule for file names (protocol/schema.c), checked again before writing one. */
static bool safe_name(const char *s, size_t len)
{
    if (len == 0 || len > 255 || (len == 1 && s[0] == '.')
        || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
            return false;
    }
    return true;
}

/* Progress on stderr: rewritten in place on a terminal, a line per quarter otherwise. */
typedef struct progress {
    const char *what, *name;
    uint64_t total, last;
    bool on, tty;
} progress;

static void progress_start(progress *p, const char *what, const char *name, uint64_t total)
{
    p->what = what;
    p->name = name;
    p->total = total;
    p->last = 0;
    p->on = total >= PROGRESS_MIN;
    p->tty = isatty(2);
}

static void progress_at(progress *p, uint64_t done)
{
    if (!p->on || !p->total)
        return;
    uint64_t pct = done * 100 / p->total;
    uint64_t step = p->tty ? 1 : 25;
    if (pct < p->last + step && done != p->total)
        return;
    p->last = pct;
    char a[32], b[32];
    format_size(a, sizeof a, done);
    format_size(b, sizeof b, p->total);
    if (p->tty)
        fprintf(stderr, "\r%s %s: %s of %s (%llu%%)%s", p->what, p->name, a, b,
            (unsigned long long)pct, done == p->total ? "\n" : "");
    else
        fprintf(
            stderr, "%s %s: %s of %s (%llu%%)\n", p->what, p->name, a, b, (unsigned long long)pct);
}

static int read_full(int fd, uint8_t *buf, size_t len, size_t *got)
{
    *got = 0;
    while (*got < len) {
        ssize_t r = read(fd, buf + *got, len - *got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return KN_EIO;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

/* ---- describing one doc ---- */

typedef struct docview {
    uint8_t *raw;
    size_t len;
    kn_object o;
    kn_doc_file f[MAX_FILES];
    uint32_t nf;
    uint8_t council[KN_KEY];
} docview;

static void docview_free(docview *v)
{
    free(v->raw);
    v->raw = NULL;
}

/* Fills v from a decoded doc that the caller keeps alive (v->raw stays NULL). */
static int docview_from(kn_store *s, const kn_object *o, docview *v)
{
    int rc;
    memset(v, 0, sizeof *v);
    v->o = *o;
    if ((rc = kn_doc_files(&v->o, v->f, &v->nf)) < 0
        || (rc = kn_blob_council_of(s, v->o.author, v->council)) < 0)
        return rc;
    return 0;
}

static int docview_load(kn_cli *cli, kn_store *s, const uint8_t id[KN_ID], docview *v)
{
    char hex[65];
    kn_hex_encode(hex, id, KN_ID);
    memset(v, 0, sizeof *v);
    int rc = kn_store_get(s, id, &v->raw, &v->len);
    if (rc == KN_ERETRACTED)
        return cli_fail("document %s was retracted; its files are gone from this node.", hex);
    if (rc == KN_ENOTFOUND)
        return cli_fail("there is no object %s on this node.\n"
                        "`knoten doc ls` lists the documents; a new one from another council "
                        "may still be on its way.",
            hex);
    if (rc < 0)
        return cli_fail("cannot read %s: %s", hex, kn_strerror(rc));
    if (kn_object_decode(&v->o, v->raw, v->len) < 0) {
        docview_free(v);
        return cli_fail("the stored object %s is corrupt", hex);
    }
    if (v->o.type != KN_T_DOC) {
        const char *t = kn_otype_name(v->o.type);
        docview_free(v);
        (void)cli;
        return cli_fail("%s is a %s, not a document; `knoten show %s` shows it.", hex, t, hex);
    }
    if ((rc = kn_doc_files(&v->o, v->f, &v->nf)) < 0
        || (rc = kn_blob_council_of(s, v->o.author, v->council)) < 0) {
        docview_free(v);
        return cli_fail("cannot read the files of %s: %s", hex, kn_strerror(rc));
    }
    return CLI_OK;
}

/* "complete", "2 of 13 chunks", "refused: larger than ..." for one file. */
static void file_state(kn_store *s, const docview *v, uint32_t i, char *buf, size_t cap, bool *ok)
{
    kn_blob_info in;
    *ok = false;
    int rc = kn_blob_info_get(s, v->f[i].blob, v->council, &in);
    if (rc < 0) {
        snprintf(buf, cap, "not known to the store (%s)", kn_strerror(rc));
    } else if (in.complete) {
        snprintf(buf, cap, "complete");
        *ok = true;
    } else if (in.admission != KN_BLOB_ACCEPTED && in.admission != KN_BLOB_NOREF) {
        snprintf(buf, cap, "refused: %s", kn_blob_admission_text(in.admission));
    } else {
        snprintf(buf, cap, "%u of %u chunks here", in.present, in.nchunks);
    }
}

/* One line per doc: id, date, area, kind, title, files, state, versions. */
static void print_doc_line(kn_store *s, const docview *v, size_t versions)
{
    char hex[65], when[40], size[32], state[160] = "complete";
    const char *title = "", *kind = "";
    uint32_t tl = 0, kl = 0;
    uint64_t total = 0;
    uint32_t ready = 0;
    bool first_bad = false;
    if (kn_object_str(&v->o, "title", &title, &tl) < 0)
        tl = 0;
    if (kn_object_str(&v->o, "kind", &kind, &kl) < 0)
        kl = 0;
    for (uint32_t i = 0; i < v->nf; i++) {
        char st[128];
        bool ok;
        total += v->f[i].size;
        file_state(s, v, i, st, sizeof st, &ok);
        if (ok)
            ready++;
        else if (!first_bad) /* the state line names the first file that is not ready */
            snprintf(state, sizeof state, "%s", st);
        first_bad = first_bad || !ok;
    }
    char part[48] = ""; /* "1 of 2 files complete; " before the first file's state */
    if (ready != v->nf && v->nf > 1)
        snprintf(part, sizeof part, "%u of %u files complete; ", ready, v->nf);
    kn_hex_encode(hex, v->o.id, KN_ID);
    cli_format_time(when, sizeof when, v->o.created);
    format_size(size, sizeof size, total);
    printf("%s  %.10s  %.*s  %.*s  %.*s  [%u file%s, %s, %s%s", hex, when, (int)v->o.space_len,
        v->o.space, (int)kl, kind, (int)tl, title, v->nf, v->nf == 1 ? "" : "s", size, part, state);
    if (versions > 1)
        printf(", %zu versions", versions);
    printf("]\n");
}

/* ---- doc publish ---- */

typedef struct pubfile {
    const char *path, *name, *mime;
    uint64_t size;
    uint8_t id[KN_BLOB_ID];
    uint8_t *hashes;
    uint32_t n;
} pubfile;

/* First read: the chunk hashes and the blob id. */
static int hash_file(pubfile *f)
{
    kn_blob_hasher h;
    progress p;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_fail("cannot read %s: %s", f->path, strerror(errno));
    uint8_t *buf = malloc(KN_BLOB_CHUNK);
    if (!buf) {
        close(fd);
        return cli_fail("out of memory");
    }
    kn_blob_hasher_init(&h);
    progress_start(&p, "hashing", f->name, f->size);
    int code = CLI_OK;
    for (;;) {
        size_t got;
        if (read_full(fd, buf, KN_BLOB_CHUNK, &got) < 0) {
            code = cli_fail("cannot read %s: %s", f->path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        int rc = kn_blob_hasher_update(&h, buf, got);
        if (rc < 0) {
            code = cli_fail("%s: %s (at most 16 GiB per file)", f->path, kn_strerror(rc));
            break;
        }
        progress_at(&p, h.size);
    }
    if (code == CLI_OK && h.size != f->size)
        code = cli_fail("%s changed while it was read (%llu bytes, then %llu); publish it again "
                        "once nothing writes to it.",
            f->path, (unsigned long long)f->size, (unsigned long long)h.size);
    if (code == CLI_OK && kn_blob_hasher_final(&h, f->id) < 0)
        code = cli_fail("cannot hash %s", f->path);
    if (code == CLI_OK) {
        f->n = h.nchunks;
        f->hashes = kn_blob_hasher_take(&h);
    }
    kn_blob_hasher_free(&h);
    free(buf);
    close(fd);
    return code;
}

/* Second read: the chunks into the store, PUT_BATCH per transaction, checked against the hashes. */
static int store_file(kn_store *s, pubfile *f)
{
    kn_blob_chunk_in c[PUT_BATCH];
    int res[PUT_BATCH];
    progress p;
    int code = CLI_OK;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_fail("cannot read %s: %s", f->path, strerror(errno));
    uint8_t *buf = malloc((size_t)PUT_BATCH * KN_BLOB_CHUNK);
    if (!buf) {
        close(fd);
        return cli_fail("out of memory");
    }
    progress_start(&p, "storing", f->name, f->size);
    uint64_t done = 0;
    for (uint32_t i = 0; i < f->n && code == CLI_OK;) {
        size_t m = 0;
        for (; m < PUT_BATCH && i < f->n; m++, i++) {
            uint32_t len = kn_blob_chunk_len(f->size, i);
            size_t got;
            uint8_t *p8 = buf + m * KN_BLOB_CHUNK;
            if (read_full(fd, p8, len, &got) < 0 || got != len) {
                code = cli_fail("%s changed or could not be read while it was stored; publish it "
                                "again once nothing writes to it.",
                    f->path);
                break;
            }
            c[m] = (kn_blob_chunk_in) { f->id, i, p8, len, NULL };
        }
        if (code != CLI_OK)
            break;
        int rc = kn_blob_put_chunks(s, c, m, res);
        if (rc < 0) {
            code = rc == KN_EMAPFULL
                ? cli_fail("the store is full (its configured maximum size is reached) while "
                           "storing %s; raise [quota] max_map_size or free space.",
                    f->path)
                : cli_fail("cannot store %s: %s", f->path, kn_strerror(rc));
            break;
        }
        for (size_t j = 0; j < m; j++) {
            if (res[j] == KN_EHASH) {
                code = cli_fail("%s changed while it was stored (chunk %u differs from the first "
                                "read); publish it again once nothing writes to it.",
                    f->path, c[j].index);
                break;
            }
            if (res[j] < 0) {
                code = cli_fail("cannot store %s: %s", f->path, kn_strerror(res[j]));
                break;
            }
            done += c[j].len;
        }
        progress_at(&p, done);
    }
    free(buf);
    close(fd);
    return code;
}

/* Refuses a file over this node's per-file limit: by its size, before hashing it. */
static int check_max_file(kn_store *s, const pubfile *f, int nf)
{
    kn_blob_limits l;
    int rc = kn_blob_limits_get(s, &l);
    if (rc < 0)
        return cli_fail("cannot read the limits: %s", kn_strerror(rc));
    char a[32], b[32];
    for (int i = 0; i < nf; i++) {
        if (f[i].size > l.max_file) {
            format_size(a, sizeof a, f[i].size);
            format_size(b, sizeof b, l.max_file);
            return cli_fail("%s is %s, larger than this node's per-file limit of %s.\n"
                            "Split the file, or raise the limit with `knoten doc limits "
                            "--max-file SIZE` (every node that should keep it needs a limit "
                            "that large).",
                f[i].path, a, b);
        }
    }
    return CLI_OK;
}

/* Refuses (with the numbers and what to do) what this council's quota would refuse. */
static int check_limits(kn_store *s, const uint8_t council[KN_KEY], pubfile *f, int nf)
{
    kn_blob_limits l;
    uint64_t used = 0, add = 0;
    int rc = kn_blob_limits_get(s, &l);
    if (rc < 0 || (rc = kn_blob_usage(s, council, &used)) < 0)
        return cli_fail("cannot read the limits: %s", kn_strerror(rc));
    char a[32], b[32], c[32];
    for (int i = 0; i < nf; i++) {
        kn_blob_info in;
        bool dup = false;
        for (int j = 0; j < i && !dup; j++)
            dup = memcmp(f[j].id, f[i].id, KN_BLOB_ID) == 0;
        if (dup
            || (kn_blob_info_get(s, f[i].id, council, &in) == 0
                && in.admission == KN_BLOB_ACCEPTED))
            continue; /* already counted for this council */
        add += f[i].size;
    }
    if (l.quota && (add > l.quota || used > l.quota - add)) {
        format_size(a, sizeof a, add);
        format_size(b, sizeof b, used);
        format_size(c, sizeof c, l.quota);
        return cli_fail("these files (%s) would take this council over its storage quota: it "
                        "uses %s of %s.\n"
                        "Retract documents that are no longer needed (`knoten doc retract ID`), "
                        "or raise the quota with `knoten doc limits --quota SIZE`.",
            a, b, c);
    }
    return CLI_OK;
}

/* Encodes the files array (a msgpack array of maps) for the body. */
static int encode_files(kn_mp_out *o, const pubfile *f, int nf)
{
    kn_mp_write_array(o, (uint32_t)nf);
    for (int i = 0; i < nf; i++) {
        kn_mp_write_map(o, 4);
        kn_mp_write_cstr(o, "blob");
        kn_mp_write_bin(o, f[i].id, KN_BLOB_ID);
        kn_mp_write_cstr(o, "mime");
        kn_mp_write_cstr(o, f[i].mime);
        kn_mp_write_cstr(o, "name");
        kn_mp_write_cstr(o, f[i].name);
        kn_mp_write_cstr(o, "size");
        kn_mp_write_uint(o, f[i].size);
    }
    return kn_mp_out_error(o);
}

/* Copies a string field of the previous version into a malloc'd C string (NULL if absent). */
static char *prev_str(const kn_object *o, const char *key)
{
    const char *s;
    uint32_t len;
    if (kn_object_str(o, key, &s, &len) < 0)
        return NULL;
    char *c = malloc((size_t)len + 1);
    if (c) {
        memcpy(c, s, len);
        c[len] = 0;
    }
    return c;
}

typedef struct pubopts {
    const char *title, *area, *kind, *description, *lang, *licence, *supersedes, *as;
    char *tags[MAX_TAGS];
    int ntags;
    const char *mimes[MAX_FILES];
    int nmimes;
    uint64_t valid_from, valid_until;
    bool has_from, has_until;
} pubopts;

static int publish_parse(kn_cli *cli, int argc, char **argv, pubopts *po)
{
    static const struct option opts[] = { { "title", required_argument, 0, 't' },
        { "area", required_argument, 0, 'a' }, { "kind", required_argument, 0, 'k' },
        { "description", required_argument, 0, 'd' }, { "tag", required_argument, 0, 'g' },
        { "lang", required_argument, 0, 'l' }, { "licence", required_argument, 0, 'L' },
        { "license", required_argument, 0, 'L' }, { "valid-from", required_argument, 0, 'f' },
        { "valid-until", required_argument, 0, 'u' }, { "supersedes", required_argument, 0, 's' },
        { "mime", required_argument, 0, 'm' }, { "as", required_argument, 0, 'U' },
        CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    int opt, code = -1;
    memset(po, 0, sizeof *po);
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "doc", &code)) >= 0) {
        switch (opt) {
        case 't':
            po->title = optarg;
            break;
        case 'a':
            po->area = optarg;
            break;
        case 'k':
            po->kind = optarg;
            break;
        case 'd':
            po->description = optarg;
            break;
        case 'g':
            if (po->ntags == MAX_TAGS)
                return cli_usage_error(cli, "at most %d tags", MAX_TAGS);
            po->tags[po->ntags++] = optarg;
            break;
        case 'l':
            po->lang = optarg;
            break;
        case 'L':
            po->licence = optarg;
            break;
        case 'f':
        case 'u': {
            uint64_t ms;
            if (parse_date(optarg, &ms) < 0)
                return cli_usage_error(cli,
                    "%s wants a date like 2026-03-01 or 2026-03-01T08:00Z (UTC), got \"%s\"",
                    opt == 'f' ? "--valid-from" : "--valid-until", optarg);
            if (opt == 'f') {
                po->valid_from = ms;
                po->has_from = true;
            } else {
                po->valid_until = ms;
                po->has_until = true;
            }
            break;
        }
        case 's':
            po->supersedes = optarg;
            break;
        case 'U':
            po->as = optarg;
            break;
        case 'm':
            if (po->nmimes == MAX_FILES)
                return cli_usage_error(cli, "at most %d --mime options", MAX_FILES);
            po->mimes[po->nmimes++] = optarg;
            break;
        }
    }
    if (opt == CLI_STOP)
        return code;
    return CLI_OK;
}

static const char *const kinds[]
    = { "letter", "checklist", "form", "instruction", "template", "other", NULL };

static int doc_publish(kn_cli *cli, int argc, char **argv)
{
    pubopts po;
    pubfile f[MAX_FILES];
    char *owned[6] = { 0 };
    int nf = 0, code;
    kn_datadir dd;
    cli_signer sg = { 0 };
    bool open_dd = false;

    if ((code = publish_parse(cli, argc, argv, &po)) != CLI_OK)
        return code;
    nf = argc - optind;
    if (nf < 1)
        return cli_usage_error(cli, "give at least one FILE");
    if (nf > MAX_FILES)
        return cli_usage_error(cli, "a document has at most %d files", MAX_FILES);
    if (po.nmimes > 1 && po.nmimes != nf)
        return cli_usage_error(cli, "give --mime once (for every file) or once per file (%d)", nf);
    if (po.kind) {
        bool ok = false;
        for (int i = 0; kinds[i] && !ok; i++)
            ok = strcmp(kinds[i], po.kind) == 0;
        if (!ok)
            return cli_usage_error(
                cli, "--kind must be letter, checklist, form, instruction, template or other");
    }
    if (po.has_from && po.has_until && po.valid_until < po.valid_from)
        return cli_usage_error(cli, "--valid-until is before --valid-from");
    if (po.area && (strlen(po.area) == 0 || strlen(po.area) > KN_SPACE_MAX))
        return cli_usage_error(cli, "--area must have 1 to %d bytes", KN_SPACE_MAX);
    kn_object_draft d = { .type = KN_T_DOC };
    if (po.supersedes) {
        if ((code = cli_parse_id(cli, "--supersedes", po.supersedes, d.refs[0])) != CLI_OK)
            return code;
        d.nrefs = 1;
    }
    memset(f, 0, sizeof f);
    for (int i = 0; i < nf; i++) {
        struct stat st;
        f[i].path = argv[optind + i];
        const char *slash = strrchr(f[i].path, '/');
        f[i].name = slash ? slash + 1 : f[i].path;
        if (!safe_name(f[i].name, strlen(f[i].name)))
            return cli_usage_error(cli,
                "\"%s\" cannot be a file name in a document (no control characters or \\, "
                "1-255 bytes); rename the file",
                f[i].path);
        for (int j = 0; j < i; j++)
            if (strcmp(f[j].name, f[i].name) == 0)
                return cli_usage_error(cli, "two files are named \"%s\"; rename one", f[i].name);
        if (stat(f[i].path, &st) < 0)
            return cli_fail("cannot read %s: %s", f[i].path, strerror(errno));
        if (!S_ISREG(st.st_mode))
            return cli_fail("%s is not a regular file", f[i].path);
        f[i].size = (uint64_t)st.st_size;
        f[i].mime = po.nmimes == 1 ? po.mimes[0] : po.nmimes ? po.mimes[i] : guess_mime(f[i].name);
        if (strlen(f[i].mime) == 0 || strlen(f[i].mime) > 127)
            return cli_usage_error(cli, "--mime must have 1 to 127 bytes");
    }
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    open_dd = true;
    if ((code = cli_signer_open(cli, &dd, po.as, &sg)) != CLI_OK)
        goto out;
    kn_store *s = dd.store;
    uint8_t council[KN_KEY];
    int rc = kn_blob_council_of(s, sg.pk, council);
    if (rc < 0) {
        code = cli_fail("cannot read the roster: %s", kn_strerror(rc));
        goto out;
    }

    /* A new version: what it does not say is taken over from the previous one. */
    if (d.nrefs) {
        docview pv;
        if ((code = docview_load(cli, s, d.refs[0], &pv)) != CLI_OK)
            goto out;
        /* Versions are by one author (store.h, kn_store_versions): the node signs here. */
        bool same = memcmp(pv.o.author, sg.pk, KN_KEY) == 0;
        if (same) {
            if (!po.title)
                po.title = owned[0] = prev_str(&pv.o, "title");
            if (!po.kind)
                po.kind = owned[1] = prev_str(&pv.o, "kind");
            if (!po.description)
                po.description = owned[2] = prev_str(&pv.o, "description");
            if (!po.lang)
                po.lang = owned[3] = prev_str(&pv.o, "lang");
            if (!po.licence)
                po.licence = owned[4] = prev_str(&pv.o, "licence");
            if (!po.area && (owned[5] = malloc(pv.o.space_len + 1))) {
                memcpy(owned[5], pv.o.space, pv.o.space_len);
                owned[5][pv.o.space_len] = 0;
                po.area = owned[5];
            }
        }
        docview_free(&pv);
        if (!same) {
            code = cli_fail("%s was published by another author; only its author can publish a new "
                            "version of it: --as USER for a member of staff of this node, "
                            "nothing for the node itself.",
                po.supersedes);
            goto out;
        }
    }
    if (!po.title) {
        code = cli_usage_error(cli, "--title is required");
        goto out;
    }
    if (!po.area)
        po.area = "Allgemein";
    if (!po.kind)
        po.kind = "other";
    d.space = po.area;

    /* Staged blobs of publishes that never finished. */
    size_t purged = 0;
    if (kn_blob_gc(s, kn_env_now(cli->env), KN_BLOB_STAGE_TTL_MS, &purged) == 0 && purged)
        fprintf(stderr, "knoten: removed %zu file%s left over from interrupted publishing.\n",
            purged, purged == 1 ? "" : "s");

    for (int i = 0; i < nf; i++)
        if (f[i].size > KN_BLOB_SIZE_MAX) {
            code = cli_fail(
                "%s is larger than 16 GiB, the most a document file can be; split it.", f[i].path);
            goto out;
        }
    if ((code = check_max_file(s, f, nf)) != CLI_OK)
        goto out;
    for (int i = 0; i < nf; i++)
        if ((code = hash_file(&f[i])) != CLI_OK)
            goto out;
    if ((code = check_limits(s, council, f, nf)) != CLI_OK)
        goto out;
    for (int i = 0; i < nf; i++) {
        rc = kn_blob_stage_manifest(
            s, f[i].id, f[i].size, f[i].hashes, f[i].n, kn_env_now(cli->env));
        if (rc < 0) {
            code = cli_fail("cannot store %s: %s", f[i].path, kn_strerror(rc));
            goto out;
        }
        if (kn_blob_is_complete(s, f[i].id))
            continue; /* the same contents are here already */
        if ((code = store_file(s, &f[i])) != CLI_OK)
            goto out;
    }

    /* Every chunk is committed; now the doc that references them. */
    kn_mp_out files;
    kn_mp_out_init(&files, KN_OBJECT_MAX);
    rc = encode_files(&files, f, nf);
    cli_field fields[12];
    int n = 0;
    fields[n++] = (cli_field) { .key = "title", .kind = F_STR, .s = po.title };
    fields[n++] = (cli_field) { .key = "kind", .kind = F_STR, .s = po.kind };
    fields[n++] = (cli_field) { .key = "description", .kind = F_STR, .s = po.description };
    fields[n++] = (cli_field) { .key = "lang", .kind = F_STR, .s = po.lang };
    fields[n++] = (cli_field) { .key = "licence", .kind = F_STR, .s = po.licence };
    fields[n++] = (cli_field) { .key = "tags", .kind = F_STRS, .strs = po.tags, .nstrs = po.ntags };
    fields[n++] = (cli_field) { .key = "files", .kind = F_RAW, .bin = files.buf, .len = files.len };
    if (po.has_from)
        fields[n++] = (cli_field) { .key = "valid_from", .kind = F_UINT, .u = po.valid_from };
    if (po.has_until)
        fields[n++] = (cli_field) { .key = "valid_until", .kind = F_UINT, .u = po.valid_until };
    if (rc < 0)
        code = cli_fail("the list of files is too large (%s); publish fewer files per document",
            kn_strerror(rc));
    else
        code = cli_publish_fields(cli, &dd, &d, fields, n, &sg, false, NULL);
    kn_mp_out_free(&files);
    if (code == CLI_OK) {
        uint64_t total = 0;
        char sz[32];
        for (int i = 0; i < nf; i++)
            total += f[i].size;
        format_size(sz, sizeof sz, total);
        fprintf(stderr, "knoten: published %d file%s (%s) in \"%s\".\n", nf, nf == 1 ? "" : "s", sz,
            po.area);
    }
out:
    for (int i = 0; i < nf; i++)
        free(f[i].hashes);
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        free(owned[i]);
    cli_signer_close(&sg);
    if (open_dd)
        kn_datadir_close(&dd);
    return code;
}

/*
 * What get, versions and retract do after their options: exactly one ID
 * left on the line, parsed, and the data directory opened.
 */
static int one_id_open(kn_cli *cli, int argc, char **argv, uint8_t id[KN_ID], kn_datadir *dd)
{
    int code;
    if (optind + 1 != argc)
        return cli_usage_error(cli, "give exactly one ID");
    if ((code = cli_parse_id(cli, "ID", argv[optind], id)) != CLI_OK)
        return code;
    return cli_open(cli, dd);
}

/* ---- doc ls / versions ---- */

typedef struct ls_ctx {
    kn_store *s;
    bool all;
    size_t shown;
    int err;
} ls_ctx;

/* One document per version chain: its newest version (kn_store_versions), unless --all-versions. */
static int ls_visit(void *arg, const kn_object *o)
{
    ls_ctx *c = arg;
    kn_versions vs;
    docview v;
    if (o->type != KN_T_DOC)
        return 0;
    int rc = kn_store_versions(c->s, o->id, &vs);
    if (rc < 0) {
        vs.n = 1; /* a chain that cannot be read shows the doc rather than hiding it */
        memcpy(vs.id[0], o->id, KN_ID);
    }
    if (!c->all && memcmp(kn_versions_newest(&vs), o->id, KN_ID) != 0)
        return 0;
    if ((rc = docview_from(c->s, o, &v)) < 0) {
        c->err = rc;
        return 1;
    }
    print_doc_line(c->s, &v, c->all ? 1 : vs.n);
    c->shown++;
    return 0;
}

static int doc_ls(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "area", required_argument, 0, 'a' },
        { "all-versions", no_argument, 0, 'A' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    /* Docs in every area: a skip scan of the area/type index, not a scan of every object. */
    kn_store_query q = { .index = KN_BY_SPACE_TYPE, .type = KN_T_DOC, .reverse = true };
    ls_ctx c = { 0 };
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "doc", &code)) >= 0) {
        if (opt == 'a') {
            if (strlen(optarg) > KN_SPACE_MAX)
                return cli_usage_error(cli, "area names have at most %d bytes", KN_SPACE_MAX);
            q = (kn_store_query) {
                .index = KN_BY_SPACE_TYPE, .space = optarg, .type = KN_T_DOC, .reverse = true
            };
        } else if (opt == 'A') {
            c.all = true;
        }
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    c.s = dd.store;
    int rc = kn_store_each(dd.store, &q, ls_visit, &c);
    if (rc == 0)
        rc = c.err;
    if (rc < 0)
        code = cli_fail("cannot read the documents: %s", kn_strerror(rc));
    else if (c.shown == 0)
        fprintf(stderr, "knoten: no documents%s%s.\n", q.space ? " in area " : "",
            q.space ? q.space : "");
    kn_datadir_close(&dd);
    return code;
}

static int doc_versions(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    int opt, code = -1;
    uint8_t id[KN_ID];
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "doc", &code)) >= 0) { }
    if (opt == CLI_STOP)
        return code;
    kn_datadir dd;
    if ((code = one_id_open(cli, argc, argv, id, &dd)) != CLI_OK)
        return code;
    docview v;
    kn_versions vs;
    if ((code = docview_load(cli, dd.store, id, &v)) != CLI_OK) /* says why: retracted, unknown */
        goto out;
    docview_free(&v);
    int rc = kn_store_versions(dd.store, id, &vs);
    if (rc < 0) {
        code = cli_fail("cannot read the versions: %s", kn_strerror(rc));
        goto out;
    }
    for (size_t k = vs.n; k-- > 0;) { /* newest first */
        if (docview_load(cli, dd.store, vs.id[k], &v) != CLI_OK)
            continue;
        printf("%s  ", k == vs.n - 1 ? "current" : "earlier");
        print_doc_line(dd.store, &v, 1);
        docview_free(&v);
    }
out:
    kn_datadir_close(&dd);
    return code;
}

/* ---- doc get ---- */

/*
 * Writes one complete blob to dirfd/name through a temporary file, chunk by
 * chunk, each checked against the manifest, the whole against the blob id.
 */
static int write_file(kn_cli *cli, kn_store *s, int dirfd, const char *dir, const kn_doc_file *df,
    const char *name, bool force)
{
    uint64_t size;
    uint8_t *hashes = NULL, id[KN_BLOB_ID];
    uint32_t n;
    char tmp[300];
    struct stat st;
    progress p;
    kn_blob_hasher h;
    int fd = -1, code = CLI_OK;
    (void)cli;

    if (!force && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return cli_fail(
            "%s/%s exists; give --force to overwrite it, or -o another directory.", dir, name);
    int rc = kn_blob_get_manifest(s, df->blob, &size, &hashes, &n);
    if (rc < 0)
        return cli_fail("cannot read the manifest of %s: %s", name, kn_strerror(rc));
    if (size != df->size) {
        free(hashes);
        return cli_fail("%s: the stored file has %llu bytes, the document says %llu", name,
            (unsigned long long)size, (unsigned long long)df->size);
    }
    snprintf(tmp, sizeof tmp, ".%.200s.knoten-%ld", name, (long)getpid());
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(hashes);
        return cli_fail("cannot write in %s: %s", dir, strerror(errno));
    }
    kn_blob_hasher_init(&h);
    progress_start(&p, "writing", name, size);
    for (uint32_t i = 0; i < n && code == CLI_OK; i++) {
        kn_blob_reader *r = NULL;
        const uint8_t *data;
        uint32_t len;
        uint8_t hash[KN_BLOB_HASH];
        /* One short read transaction per chunk: a long one would keep the writer from reusing
         * pages. */
        if ((rc = kn_blob_reader_open(s, &r)) < 0
            || (rc = kn_blob_reader_chunk(r, df->blob, i, &data, &len)) < 0) {
            kn_blob_reader_close(r);
            code = cli_fail("%s: chunk %u cannot be read (%s); it may have been retracted "
                            "meanwhile.",
                name, i, kn_strerror(rc));
            break;
        }
        kn_blob_chunk_hash(hash, data, len);
        if (len != kn_blob_chunk_len(size, i)
            || kn_memcmp_ct(hash, hashes + (size_t)i * KN_BLOB_HASH, KN_BLOB_HASH) != 0) {
            kn_blob_reader_close(r);
            code = cli_fail("%s: chunk %u in the store does not match its hash; the store is "
                            "damaged. Nothing was written.",
                name, i);
            break;
        }
        if (kn_blob_hasher_update(&h, data, len) < 0) {
            kn_blob_reader_close(r);
            code = cli_fail("%s: cannot hash", name);
            break;
        }
        const uint8_t *q = data;
        size_t left = len;
        while (left) {
            ssize_t w = write(fd, q, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                code = cli_fail("cannot write %s/%s: %s", dir, name, strerror(errno));
                break;
            }
            q += w;
            left -= (size_t)w;
        }
        kn_blob_reader_close(r);
        progress_at(&p, (uint64_t)i * KN_BLOB_CHUNK + len);
    }
    if (code == CLI_OK
        && (kn_blob_hasher_final(&h, id) < 0 || memcmp(id, df->blob, KN_BLOB_ID) != 0
            || h.size != size))
        code = cli_fail("%s: the stored chunks do not give the document's blob id; the store is "
                        "damaged. Nothing was written.",
            name);
    if (code == CLI_OK && fsync(fd) < 0)
        code = cli_fail("cannot write %s/%s: %s", dir, name, strerror(errno));
    if (close(fd) < 0 && code == CLI_OK)
        code = cli_fail("cannot write %s/%s: %s", dir, name, strerror(errno));
    if (code == CLI_OK && renameat(dirfd, tmp, dirfd, name) < 0)
        code = cli_fail("cannot write %s/%s: %s", dir, name, strerror(errno));
    if (code != CLI_OK)
        (void)unlinkat(dirfd, tmp, 0);
    kn_blob_hasher_free(&h);
    free(hashes);
    return code;
}

static int doc_get(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "output", required_argument, 0, 'o' },
        { "force", no_argument, 0, 'f' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *dir = ".";
    bool force = false;
    uint8_t id[KN_ID];
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "ho:", opts, "doc", &code)) >= 0) {
        if (opt == 'o')
            dir = optarg;
        else if (opt == 'f')
            force = true;
    }
    if (opt == CLI_STOP)
        return code;
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return cli_fail("cannot use %s as the output directory: %s", dir, strerror(errno));
    kn_datadir dd;
    if ((code = one_id_open(cli, argc, argv, id, &dd)) != CLI_OK) {
        close(dirfd);
        return code;
    }
    docview v;
    if ((code = docview_load(cli, dd.store, id, &v)) != CLI_OK)
        goto out;
    kn_peer_state ps;
    bool alive = kn_peer_state_read(cli->data_dir, &ps) == 0 && cli_node_alive(&ps);
    kn_peer_state_free(&ps); /* read zeroes it first, so this is safe on every path */
    kn_blob_policy policy = KN_BLOB_EAGER;
    if (kn_blob_policy_get(dd.store, &policy) < 0)
        policy = KN_BLOB_EAGER;
    uint32_t written = 0;
    for (uint32_t i = 0; i < v.nf; i++) {
        char name[256];
        const kn_doc_file *df = &v.f[i];
        if (!safe_name(df->name, df->name_len)) {
            fprintf(stderr, "knoten: skipped a file with an unsafe name in this document.\n");
            continue;
        }
        memcpy(name, df->name, df->name_len);
        name[df->name_len] = 0;
        kn_blob_info in;
        int rc = kn_blob_info_get(dd.store, df->blob, v.council, &in);
        if (rc == 0 && in.complete) {
            if (write_file(cli, dd.store, dirfd, dir, df, name, force) == CLI_OK) {
                written++;
                printf("%s/%s\n", dir, name);
            }
            continue;
        }
        if (rc == 0 && in.admission != KN_BLOB_ACCEPTED && in.admission != KN_BLOB_NOREF) {
            char sz[32];
            format_size(sz, sizeof sz, df->size);
            fprintf(stderr,
                "knoten: %s (%s) is not stored on this node: %s.\n"
                "        `knoten doc limits` shows the limits and how to raise them.\n",
                name, sz, kn_blob_admission_text(in.admission));
            continue;
        }
        uint32_t present = rc == 0 ? in.present : 0;
        uint32_t total = rc == 0 ? in.nchunks : kn_blob_nchunks(df->size);
        const char *who;
        bool asked = false;
        if (policy == KN_BLOB_ON_DEMAND && rc == 0 && in.wanted && !in.requested_ms
            && !(asked = kn_blob_request(dd.store, df->blob, kn_env_now(cli->env)) == 0))
            who = "This node fetches files on demand, but the request could not be stored.";
        else if (!alive)
            who = "The node is not running: start it (`knoten run`) and it fetches them from its "
                  "peers.";
        else if (policy == KN_BLOB_ON_DEMAND)
            who = "This node fetches files on demand; it is asked to fetch this one now.";
        else
            who = "The running node is fetching them from its peers.";
        fprintf(stderr,
            "knoten: %s is not complete here yet: %u of %u chunks are present%s.\n"
            "        %s Run this command again later (`knoten doc ls` shows the progress).\n",
            name, present, total,
            rc == 0 && in.have_manifest ? "" : " (its list of chunks has not arrived yet)", who);
        /* The running node reads its wanted list at once on SIGUSR1 (node/blobsync.c). */
        if (asked && alive && ps.pid > 0)
            kill((pid_t)ps.pid, SIGUSR1);
    }
    if (written != v.nf) {
        code = cli_fail("%u of %u files written to %s.", written, v.nf, dir);
    } else {
        code = CLI_OK;
    }
    docview_free(&v);
out:
    kn_datadir_close(&dd);
    close(dirfd);
    return code;
}

/* ---- doc retract ---- */

static int doc_retract(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "reason", required_argument, 0, 'r' }, { "this-version-only", no_argument, 0, 'o' },
              { "as", required_argument, 0, 'U' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *reason = NULL, *as = NULL;
    bool only = false;
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "doc", &code)) >= 0) {
        if (opt == 'r')
            reason = optarg;
        else if (opt == 'o')
            only = true;
        else if (opt == 'U')
            as = optarg;
    }
    if (opt == CLI_STOP)
        return code;
    uint8_t id[KN_ID];
    kn_datadir dd;
    if ((code = one_id_open(cli, argc, argv, id, &dd)) != CLI_OK)
        return code;
    docview v;
    kn_versions vs;
    cli_signer sg = { 0 };
    if ((code = cli_signer_open(cli, &dd, as, &sg)) != CLI_OK
        || (code = docview_load(cli, dd.store, id, &v)) != CLI_OK)
        goto out;
    /* The store allows the author, or the node that certified the author (store.h). */
    bool allowed = memcmp(v.o.author, sg.pk, KN_KEY) == 0
        || (!sg.user && memcmp(v.council, dd.identity_pk, KN_KEY) == 0);
    docview_free(&v);
    if (!allowed) {
        code = cli_fail("this document was published by %s; only its author or the node that "
                        "certified the author can retract it.",
            as ? "someone else" : "another council");
        goto out;
    }
    int rc = kn_store_versions(dd.store, id, &vs);
    if (rc < 0) {
        code = cli_fail("cannot read the versions: %s", kn_strerror(rc));
        goto out;
    }
    if (only) {
        vs.n = 1;
        memcpy(vs.id[0], id, KN_ID);
    } else if (vs.n > 1) {
        fprintf(stderr,
            "knoten: retracting all %zu versions (--this-version-only retracts just "
            "this one)\n",
            vs.n);
    }
    /* Newest first, so that no listing ever shows an older version as the current one. */
    for (size_t k = vs.n; k-- > 0 && code == CLI_OK;) {
        kn_object_draft d = { .type = KN_T_RETRACT, .space = "", .nrefs = 1 };
        memcpy(d.refs[0], vs.id[k], KN_ID);
        cli_field f[] = { { .key = "reason", .kind = F_STR, .s = reason } };
        code = cli_publish_fields(cli, &dd, &d, f, 1, &sg, false, NULL);
    }
    /* The freed pages of the file still hold its bytes: overwrite them (docs/blobs.md). */
    uint64_t pages = 0, done;
    int src = 0;
    for (int k = 0; code == CLI_OK && k < 64; k++) { /* all in one call: no loop to hold up */
        src = kn_blob_scrub(dd.store, UINT64_MAX >> 1, &done);
        pages += done;
        if (src != KN_EAGAIN)
            break;
    }
    if (code == CLI_OK && src < 0)
        fprintf(stderr,
            "knoten: warning: could not yet overwrite the freed space of the file in the store "
            "(%s); the running node (or the next `knoten doc retract`) does it\n",
            kn_strerror(src));
    if (code == CLI_OK)
        fprintf(stderr,
            "knoten: retracted. The document%s and %s files are removed from this node's store "
            "(%llu freed pages overwritten), and from every node the retraction reaches; a file "
            "another document still uses stays.\n",
            vs.n > 1 ? "'s versions" : "", vs.n > 1 ? "their" : "its", (unsigned long long)pages);
out:
    cli_signer_close(&sg);
    kn_datadir_close(&dd);
    return code;
}

/* ---- doc limits / policy ---- */

enum { LIMIT_MIN = 1 << 20 }; /* the least --max-file and --quota (other than 0) */

static int doc_limits(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { { "max-file", required_argument, 0, 'm' },
        { "quota", required_argument, 0, 'q' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *max_file = NULL, *quota = NULL;
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "doc", &code)) >= 0) {
        if (opt == 'm')
            max_file = optarg;
        else if (opt == 'q')
            quota = optarg;
    }
    if (opt == CLI_STOP)
        return code;
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    uint64_t mf = 0, qv = 0;
    /* The ranges of [quota] max_file and files_per_council (docs/config.md): a bare
     * "2" is 2 bytes, which would refuse every file, so less than 1M is refused. */
    if (max_file && (parse_size(max_file, &mf) < 0 || mf < LIMIT_MIN || mf > KN_BLOB_SIZE_MAX))
        return cli_usage_error(cli,
            "--max-file wants a size from 1M to 16G, like 500M or 2G (a number without a unit "
            "is bytes); got \"%s\"",
            max_file);
    if (quota && strcmp(quota, "unlimited") != 0
        && (parse_size(quota, &qv) < 0 || (qv > 0 && qv < LIMIT_MIN)))
        return cli_usage_error(cli,
            "--quota wants a size like 20G (at least 1M; a number without a unit is bytes), "
            "or 0 or \"unlimited\" for no quota; got \"%s\"",
            quota);
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    kn_blob_limits l;
    int rc = kn_blob_limits_get(dd.store, &l);
    if (rc == 0 && (max_file || quota)) {
        size_t accepted = 0;
        if (max_file)
            l.max_file = mf;
        if (quota)
            l.quota = qv;
        if ((rc = kn_blob_limits_set(dd.store, &l, &accepted)) == 0 && accepted)
            fprintf(stderr,
                "knoten: %zu file%s refused before %s accepted now; the running node fetches what "
                "is missing.\n",
                accepted, accepted == 1 ? "" : "s", accepted == 1 ? "is" : "are");
    }
    if (rc < 0) {
        code = cli_fail("cannot read or change the limits: %s", kn_strerror(rc));
        goto out;
    }
    char a[32], b[32];
    uint8_t council[KN_KEY];
    uint64_t used = 0;
    format_size(a, sizeof a, l.max_file);
    printf("max-file  %s\n", a);
    if (l.quota) {
        format_size(b, sizeof b, l.quota);
        printf("quota     %s per council\n", b);
    } else {
        printf("quota     unlimited\n");
    }
    if (kn_blob_council_of(dd.store, dd.identity_pk, council) == 0
        && kn_blob_usage(dd.store, council, &used) == 0) {
        format_size(a, sizeof a, used);
        printf("this council uses %s\n", a);
    }
    code = CLI_OK;
out:
    kn_datadir_close(&dd);
    return code;
}

static int doc_policy(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = { CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "doc", &code)) >= 0) { }
    if (opt == CLI_STOP)
        return code;
    if (argc - optind > 1)
        return cli_usage_error(cli, "give eager or on-demand, or nothing to show the policy");
    kn_blob_policy p = KN_BLOB_EAGER;
    bool set = argc - optind == 1;
    if (set) {
        if (strcmp(argv[optind], "eager") == 0)
            p = KN_BLOB_EAGER;
        else if (strcmp(argv[optind], "on-demand") == 0)
            p = KN_BLOB_ON_DEMAND;
        else
            return cli_usage_error(
                cli, "the policy is eager or on-demand, not \"%s\"", argv[optind]);
    }
    kn_datadir dd;
    if ((code = cli_open(cli, &dd)) != CLI_OK)
        return code;
    int rc = set ? kn_blob_policy_set(dd.store, p) : kn_blob_policy_get(dd.store, &p);
    if (rc < 0)
        code = cli_fail("cannot %s the policy: %s", set ? "change" : "read", kn_strerror(rc));
    else
        printf("%s\n", kn_blob_policy_name(p));
    kn_datadir_close(&dd);
    return code;
}

int cmd_doc(kn_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(
            cli, "give a subcommand: publish, ls, get, versions, retract, limits or policy");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return cli_help("doc");
    static const struct {
        const char *name;
        int (*run)(kn_cli *, int, char **);
    } subs[] = {
        { "publish", doc_publish },
        { "ls", doc_ls },
        { "get", doc_get },
        { "versions", doc_versions },
        { "retract", doc_retract },
        { "limits", doc_limits },
        { "policy", doc_policy },
    };
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(sub, subs[i].name) != 0)
            continue;
        char prog[64];
        snprintf(prog, sizeof prog, "knoten doc %s", sub);
        kn_cli sub_cli = *cli;
        sub_cli.prog = prog;
        argv[1] = prog;
        return subs[i].run(&sub_cli, argc - 1, argv + 1);
    }
    return cli_usage_error(cli,
        "unknown subcommand \"%s\"; use publish, ls, get, versions, retract, limits or policy",
        sub);
}
