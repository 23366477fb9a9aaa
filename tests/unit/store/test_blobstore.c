/*
 * Blob storage (store/blobstore.h): a local file staged and streamed in,
 * a remote doc's blob on the wanted list, its manifest and chunks checked
 * on the way in (a mismatch stores nothing), the missing list, resuming
 * after a reopen, per-file and quota refusals and their re-evaluation,
 * purge on retraction (also proven on the bytes of a compacted copy), shared
 * blobs, garbage collection of staged blobs, the empty file, and the schema
 * migration that rebuilds the references.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#include "store_fixture.h"
#include "test_support.h"

#include "blob.h"
#include "blobstore.h"

/* A file made of a marker pattern (recognisable in data.mdb) or the vector generator. */
typedef struct fx_file {
    uint8_t *data;
    uint64_t size;
    uint8_t id[KN_BLOB_ID];
    uint8_t *hashes;
    uint32_t n;
} fx_file;

static const char MARKER[] = "PERSONALDATA-Max-Mustermann-geb-1970-";

static void file_make(fx_file *f, uint64_t size, uint8_t salt, bool marker)
{
    kn_blob_hasher h;
    f->size = size;
    f->data = malloc(size ? size : 1);
    assert_non_null(f->data);
    for (uint64_t i = 0; i < size; i++)
        f->data[i] = marker ? (uint8_t)MARKER[i % (sizeof MARKER - 1)]
                            : (uint8_t)((uint32_t)((i + salt) * 2654435761u) >> 24);
    if (marker && size)
        f->data[0] = salt; /* two marker files differ */
    kn_blob_hasher_init(&h);
    assert_int_equal(kn_blob_hasher_update(&h, f->data, size), 0);
    assert_int_equal(kn_blob_hasher_final(&h, f->id), 0);
    f->n = h.nchunks;
    f->hashes = kn_blob_hasher_take(&h);
    kn_blob_hasher_free(&h);
}

static void file_free(fx_file *f)
{
    free(f->data);
    free(f->hashes);
}

static const char *fx_mime = "application/octet-stream"; /* of every file fx_doc lists */

/* A doc with the given files (name i.bin), optionally superseding prev. */
static void fx_doc(fx_obj *o, const fx_key *k, uint64_t created, const fx_file *files, int n,
    const uint64_t *sizes, const uint8_t *prev)
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 3);
    kn_mp_write_cstr(&b, "files");
    kn_mp_write_array(&b, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d.bin", i);
        kn_mp_write_map(&b, 4);
        kn_mp_write_cstr(&b, "blob");
        kn_mp_write_bin(&b, files[i].id, KN_BLOB_ID);
        kn_mp_write_cstr(&b, "mime");
        kn_mp_write_cstr(&b, fx_mime);
        kn_mp_write_cstr(&b, "name");
        kn_mp_write_cstr(&b, name);
        kn_mp_write_cstr(&b, "size");
        kn_mp_write_uint(&b, sizes ? sizes[i] : files[i].size);
    }
    kn_mp_write_cstr(&b, "kind");
    kn_mp_write_cstr(&b, "form");
    kn_mp_write_cstr(&b, "title");
    kn_mp_write_cstr(&b, "Antrag");
    fx_sign(o, KN_T_DOC, k, created, "Formulare", prev, NULL, &b);
}

/* A store whose network A founded and where B is admitted (B's docs count for council B). */
static void two_nodes(fx_store *fs, fx_key *a, fx_key *b, fx_obj *net)
{
    fx_obj adm;
    fx_init(fs, 0, 0);
    fx_keygen(a, 1);
    fx_keygen(b, 2);
    fx_found(fs, net, a, 1);
    fx_admit(&adm, a, 1500, net->id, b->pk);
    assert_put(fs, &adm, KN_PUT_STORED);
}

/* kn_store_check finds nothing wrong (the blob invariants included). */
static void check_ok(fx_store *fs)
{
    kn_store_check_report r;
    int rc = kn_store_check(fs->s, &r);
    if (rc != 0)
        fail_msg("kn_store_check: %s: %s", kn_errname(rc), r.first_problem);
}

/* Puts chunks [from, to) of f, asserting each result. */
static void put_range(fx_store *fs, const fx_file *f, uint32_t from, uint32_t to, int want)
{
    for (uint32_t i = from; i < to; i++) {
        uint32_t len = kn_blob_chunk_len(f->size, i);
        int rc = kn_blob_put_chunk(fs->s, f->id, i, f->data + (size_t)i * KN_BLOB_CHUNK, len);
        if (rc != want)
            fail_msg("chunk %u: got %s (%d), want %d", i, kn_errname(rc), rc, want);
    }
}

/* The local path: stage the manifest, stream chunks in batches, then the doc. */
static void stage_file(fx_store *fs, const fx_file *f)
{
    assert_int_equal(
        kn_blob_stage_manifest(fs->s, f->id, f->size, f->hashes, f->n, FX_NOW), KN_BLOB_STORED);
    kn_blob_chunk_in c[4];
    int res[4];
    for (uint32_t i = 0; i < f->n;) {
        size_t m = 0;
        for (; m < 4 && i < f->n; m++, i++)
            c[m] = (kn_blob_chunk_in) { f->id, i, f->data + (size_t)i * KN_BLOB_CHUNK,
                kn_blob_chunk_len(f->size, i), NULL };
        assert_int_equal(kn_blob_put_chunks(fs->s, c, m, res), 0);
        for (size_t j = 0; j < m; j++)
            assert_int_equal(res[j], KN_BLOB_STORED);
    }
}

static void assert_file_equal(fx_store *fs, const fx_file *f)
{
    uint8_t *buf = malloc(KN_BLOB_CHUNK);
    assert_non_null(buf);
    for (uint32_t i = 0; i < f->n; i++) {
        uint32_t len = 0;
        assert_int_equal(kn_blob_get_chunk(fs->s, f->id, i, buf, &len), 0);
        assert_int_equal(len, kn_blob_chunk_len(f->size, i));
        assert_memory_equal(buf, f->data + (size_t)i * KN_BLOB_CHUNK, len);
    }
    free(buf);
}

static void test_local_publish(void **state)
{
    (void)state;
    fx_store fs;
    fx_key a;
    fx_obj net, d;
    fx_file f;
    kn_blob_info in;

    fx_init(&fs, 0, 0);
    fx_keygen(&a, 1);
    fx_found(&fs, &net, &a, 1);
    file_make(&f, 3 * 1024 * 1024 + 12345, 0, false);
    assert_int_equal(f.n, 13);
    stage_file(&fs, &f);
    assert_int_equal(kn_blob_is_complete(fs.s, f.id), 1);
    /* Staging again is harmless. */
    assert_int_equal(
        kn_blob_stage_manifest(fs.s, f.id, f.size, f.hashes, f.n, FX_NOW), KN_BLOB_DUPLICATE);
    put_range(&fs, &f, 0, 1, KN_BLOB_DUPLICATE);

    fx_doc(&d, &a, 2000, &f, 1, NULL, NULL);
    assert_put(&fs, &d, KN_PUT_STORED);
    assert_int_equal(kn_blob_info_get(fs.s, f.id, a.pk, &in), 0);
    assert_true(in.complete);
    assert_false(in.wanted);
    assert_int_equal(in.refs, 1);
    assert_int_equal(in.admission, KN_BLOB_ACCEPTED);
    assert_int_equal(in.present, 13);
    uint64_t used = 0;
    assert_int_equal(kn_blob_usage(fs.s, a.pk, &used), 0);
    assert_int_equal(used, f.size);
    assert_file_equal(&fs, &f);

    /* The zero-copy reader sees the same bytes. */
    kn_blob_reader *r;
    const uint8_t *p;
    uint32_t len;
    assert_int_equal(kn_blob_reader_open(fs.s, &r), 0);
    assert_int_equal(kn_blob_reader_chunk(r, f.id, 12, &p, &len), 0);
    assert_int_equal(len, 12345);
    assert_memory_equal(p, f.data + 12 * KN_BLOB_CHUNK, len);
    assert_rc(KN_ENOTFOUND, kn_blob_reader_chunk(r, f.id, 13, &p, &len));
    kn_blob_reader_close(r);

    uint64_t size;
    uint8_t *hashes;
    uint32_t n;
    assert_int_equal(kn_blob_get_manifest(fs.s, f.id, &size, &hashes, &n), 0);
    assert_int_equal(size, f.size);
    assert_int_equal(n, 13);
    assert_memory_equal(hashes, f.hashes, 13 * KN_BLOB_HASH);
    free(hashes);

    kn_blob_stats st;
    assert_int_equal(kn_blob_stats_get(fs.s, &st), 0);
    assert_int_equal(st.blobs, 1);
    assert_int_equal(st.complete, 1);
    assert_int_equal(st.chunks, 13);
    assert_int_equal(st.chunk_bytes, f.size);
    assert_int_equal(st.wanted, 0);
    check_ok(&fs);
    /* A chunk changed on disk is found by the check (and by every reader that hashes). */
    uint8_t key[KN_BLOB_ID + 4] = { 0 };
    memcpy(key, f.id, KN_BLOB_ID);
    key[KN_BLOB_ID + 3] = 4;
    uint8_t *bad = malloc(KN_BLOB_CHUNK);
    memcpy(bad, f.data + 4 * KN_BLOB_CHUNK, KN_BLOB_CHUNK);
    bad[100] ^= 1;
    assert_int_equal(
        kn_store_debug_put_raw(fs.s, "blob_chunks", key, sizeof key, bad, KN_BLOB_CHUNK), 0);
    free(bad);
    kn_store_check_report rep;
    assert_rc(KN_ECORRUPT, kn_store_check(fs.s, &rep));
    assert_non_null(strstr(rep.first_problem, "does not match its manifest hash"));
    file_free(&f);
    fx_done(&fs);
}

/* A doc from another node: the blob is wanted, checked piece by piece, resumable. */
static void test_remote_fetch(void **state)
{
    (void)state;
    fx_store fs;
    fx_key a, b;
    fx_obj net, d;
    fx_file f, other;
    kn_blob_want w[4];
    size_t n;
    uint32_t miss[32];

    two_nodes(&fs, &a, &b, &net);
    file_make(&f, 5 * KN_BLOB_CHUNK + 100, 1, false);
    file_make(&other, 1000, 2, false);

    /* Before the doc: nobody asked for this blob. */
    assert_rc(KN_ENOTFOUND, kn_blob_put_manifest(fs.s, f.id, f.size, f.hashes, f.n));
    assert_rc(KN_ENOTFOUND, kn_blob_put_chunk(fs.s, f.id, 0, f.data, KN_BLOB_CHUNK));

    fx_doc(&d, &b, 2000, &f, 1, NULL, NULL);
    assert_put(&fs, &d, KN_PUT_STORED);
    assert_int_equal(kn_blob_wanted(fs.s, NULL, w, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(w[0].id, f.id, KN_BLOB_ID);
    assert_int_equal(w[0].size, f.size);
    assert_false(w[0].have_manifest);
    assert_int_equal(w[0].nchunks, 6);
    assert_int_equal(w[0].present, 0);
    assert_rc(KN_ENOTFOUND, kn_blob_missing(fs.s, f.id, 0, miss, 32, &n));
    /* Chunks before the manifest have nothing to be checked against. */
    assert_rc(KN_ENOTFOUND, kn_blob_put_chunk(fs.s, f.id, 0, f.data, KN_BLOB_CHUNK));

    /* A manifest that is not this blob's, or not the doc's size. */
    assert_rc(KN_EHASH, kn_blob_put_manifest(fs.s, f.id, other.size, other.hashes, other.n));
    uint8_t *bad = malloc((size_t)f.n * KN_BLOB_HASH);
    memcpy(bad, f.hashes, (size_t)f.n * KN_BLOB_HASH);
    bad[3 * KN_BLOB_HASH] ^= 0x80;
    assert_rc(KN_EHASH, kn_blob_put_manifest(fs.s, f.id, f.size, bad, f.n));
    free(bad);
    assert_rc(KN_EINVAL, kn_blob_put_manifest(fs.s, f.id, f.size - 1, f.hashes, f.n));
    assert_rc(KN_EINVAL, kn_blob_put_manifest(fs.s, f.id, f.size, f.hashes, f.n - 1));
    assert_int_equal(kn_blob_put_manifest(fs.s, f.id, f.size, f.hashes, f.n), KN_BLOB_STORED);
    assert_int_equal(kn_blob_put_manifest(fs.s, f.id, f.size, f.hashes, f.n), KN_BLOB_DUPLICATE);

    /* A corrupted chunk, a chunk in the wrong place, a wrong length: nothing is stored. */
    uint8_t *chunk = malloc(KN_BLOB_CHUNK);
    memcpy(chunk, f.data + KN_BLOB_CHUNK, KN_BLOB_CHUNK);
    chunk[777] ^= 1;
    assert_rc(KN_EHASH, kn_blob_put_chunk(fs.s, f.id, 1, chunk, KN_BLOB_CHUNK));
    assert_rc(KN_EHASH, kn_blob_put_chunk(fs.s, f.id, 2, f.data + KN_BLOB_CHUNK, KN_BLOB_CHUNK));
    assert_rc(KN_EINVAL, kn_blob_put_chunk(fs.s, f.id, 5, f.data + 5 * KN_BLOB_CHUNK, 99));
    assert_rc(KN_EINVAL, kn_blob_put_chunk(fs.s, f.id, 6, f.data, 100));
    /* A caller-supplied hash is compared with the manifest too. */
    kn_blob_chunk_in lie = { f.id, 1, chunk, KN_BLOB_CHUNK, f.hashes + KN_BLOB_HASH };
    int res;
    assert_int_equal(kn_blob_put_chunks(fs.s, &lie, 1, &res), 0);
    assert_int_equal(res, KN_BLOB_STORED); /* trusted: the caller vouched for the hash */
    assert_int_equal(kn_blob_purge(fs.s, f.id), 0); /* undo that: back to wanted, no manifest */
    assert_int_equal(kn_blob_put_manifest(fs.s, f.id, f.size, f.hashes, f.n), KN_BLOB_STORED);
    free(chunk);
    kn_blob_stats st;
    assert_int_equal(kn_blob_stats_get(fs.s, &st), 0);
    assert_int_equal(st.chunks, 0);
    assert_int_equal(st.chunk_bytes, 0);
    assert_int_equal(kn_blob_missing(fs.s, f.id, 0, miss, 32, &n), 0);
    assert_int_equal(n, 6);

    /* Chunks 0, 2 and 5 arrive; then the node restarts. */
    put_range(&fs, &f, 0, 1, KN_BLOB_STORED);
    put_range(&fs, &f, 2, 3, KN_BLOB_STORED);
    put_range(&fs, &f, 5, 6, KN_BLOB_STORED);
    put_range(&fs, &f, 5, 6, KN_BLOB_DUPLICATE);
    fx_reopen(&fs);
    assert_int_equal(kn_blob_wanted(fs.s, NULL, w, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_true(w[0].have_manifest);
    assert_int_equal(w[0].present, 3);
    assert_int_equal(kn_blob_missing(fs.s, f.id, 0, miss, 32, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(miss[0], 1);
    assert_int_equal(miss[1], 3);
    assert_int_equal(miss[2], 4);
    uint8_t bits[1] = { 0xff };
    assert_int_equal(kn_blob_present(fs.s, f.id, bits, 6), 0);
    assert_int_equal(bits[0], 0x25); /* chunks 0, 2, 5 */
    /* Bounded output, and starting further on. */
    assert_int_equal(kn_blob_missing(fs.s, f.id, 0, miss, 2, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(kn_blob_missing(fs.s, f.id, 4, miss, 32, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(miss[0], 4);
    put_range(&fs, &f, 1, 2, KN_BLOB_STORED);
    put_range(&fs, &f, 3, 5, KN_BLOB_STORED);
    assert_int_equal(kn_blob_missing(fs.s, f.id, 0, miss, 32, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kn_blob_wanted(fs.s, NULL, w, 4, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kn_blob_is_complete(fs.s, f.id), 1);
    assert_file_equal(&fs, &f);
    file_free(&f);
    file_free(&other);
    check_ok(&fs);
    fx_done(&fs);
}

/*
 * kn_blob_put_batch: manifests and chunks of several remote files in one
 * transaction, each refused or stored as the single calls would do it.
 */
static void test_put_batch(void **state)
{
    (void)state;
    fx_store fs;
    fx_key a, b;
    fx_obj net, d1, d2;
    fx_file f1, f2, other;
    two_nodes(&fs, &a, &b, &net);
    file_make(&f1, 1000, 1, false);
    file_make(&f2, 2 * KN_BLOB_CHUNK + 7, 2, false);
    file_make(&other, 500, 3, false); /* no doc references it */
    fx_doc(&d1, &b, 2000, &f1, 1, NULL, NULL);
    fx_doc(&d2, &b, 2001, &f2, 1, NULL, NULL);
    assert_put(&fs, &d1, KN_PUT_STORED);
    assert_put(&fs, &d2, KN_PUT_STORED);

    kn_blob_manifest_in m[3] = { { f1.id, f1.size, f1.hashes, f1.n },
        { f2.id, f2.size, f2.hashes, f2.n }, { other.id, other.size, other.hashes, other.n } };
    kn_blob_chunk_in c[4]
        = { { f1.id, 0, f1.data, 1000, NULL }, { f2.id, 0, f2.data, KN_BLOB_CHUNK, NULL },
              { f2.id, 2, f2.data + 2 * KN_BLOB_CHUNK, 7, NULL },
              { other.id, 0, other.data, 500, NULL } };
    int mres[3], cres[4];
    assert_int_equal(kn_blob_put_batch(fs.s, m, 3, mres, c, 4, cres), 0);
    assert_int_equal(mres[0], KN_BLOB_STORED);
    assert_int_equal(mres[1], KN_BLOB_STORED);
    assert_rc(KN_ENOTFOUND, mres[2]); /* nobody asked for it */
    assert_int_equal(cres[0], KN_BLOB_STORED);
    assert_int_equal(cres[1], KN_BLOB_STORED);
    assert_int_equal(cres[2], KN_BLOB_STORED);
    assert_rc(KN_ENOTFOUND, cres[3]);
    assert_int_equal(kn_blob_is_complete(fs.s, f1.id), 1);
    assert_int_equal(kn_blob_is_complete(fs.s, f2.id), 0);

    /* A manifest that fails its checks, and a duplicate; the last chunk completes f2. */
    uint8_t *bad = malloc((size_t)f2.n * KN_BLOB_HASH);
    memcpy(bad, f2.hashes, (size_t)f2.n * KN_BLOB_HASH);
    bad[0] ^= 1;
    kn_blob_manifest_in m2[2]
        = { { f2.id, f2.size, bad, f2.n }, { f1.id, f1.size, f1.hashes, f1.n } };
    kn_blob_chunk_in c2[1]
        = { { f2.id, 1, f2.data + KN_BLOB_CHUNK, KN_BLOB_CHUNK, f2.hashes + KN_BLOB_HASH } };
    assert_int_equal(kn_blob_put_batch(fs.s, m2, 2, mres, c2, 1, cres), 0);
    assert_rc(KN_EHASH, mres[0]);
    assert_int_equal(mres[1], KN_BLOB_DUPLICATE);
    assert_int_equal(cres[0], KN_BLOB_STORED);
    assert_int_equal(kn_blob_is_complete(fs.s, f2.id), 1);
    assert_file_equal(&fs, &f1);
    assert_file_equal(&fs, &f2);
    assert_rc(KN_EINVAL, kn_blob_put_batch(fs.s, m2, KN_BLOB_BATCH_MAX + 1, mres, c2, 1, cres));
    assert_int_equal(kn_blob_put_batch(fs.s, NULL, 0, NULL, NULL, 0, NULL), 0);
    free(bad);
    file_free(&f1);
    file_free(&f2);
    file_free(&other);
    fx_done(&fs);
}

/* The chunks of f from `from` on as kn_blob_chunk_in, n of them. */
static void chunks_of(const fx_file *f, uint32_t from, uint32_t n, kn_blob_chunk_in *c)
{
    for (uint32_t i = 0; i < n; i++)
        c[i] = (kn_blob_chunk_in) { f->id, from + i, f->data + (size_t)(from + i) * KN_BLOB_CHUNK,
            kn_blob_chunk_len(f->size, from + i), NULL };
}

typedef struct bg_ctx {
    kn_store *s;
    const fx_file *f;
    uint32_t stored; /* chunks the thread stored */
    unsigned mapfull; /* its writes that needed the map to grow */
} bg_ctx;

/* The writer thread: f's chunks one batch of two at a time, as far as the map lets it. */
static void *bg_writer(void *arg)
{
    bg_ctx *b = arg;
    while (b->stored < b->f->n) {
        kn_blob_chunk_in c[2];
        int res[2];
        uint32_t n = b->f->n - b->stored < 2 ? b->f->n - b->stored : 2;
        chunks_of(b->f, b->stored, n, c);
        int rc = kn_blob_put_batch_bg(b->s, NULL, 0, NULL, c, n, res);
        if (rc == KN_EMAPFULL) {
            if (++b->mapfull > 10000)
                break; /* the owner stores the rest */
            continue;
        }
        if (rc != 0 || res[0] != KN_BLOB_STORED)
            break;
        b->stored += n;
    }
    return NULL;
}

/*
 * kn_blob_put_batch_bg: the same results as kn_blob_put_batch; KN_EMAPFULL
 * (nothing stored) when the map would have to grow, KN_EBUSY when a text file
 * completes (the search index reads it on the owner's thread); and one
 * thread writing with it while the owner writes, grows the map and reads.
 */
static void test_put_batch_bg(void **state)
{
    (void)state;
    fx_store fs;
    fx_key a, b;
    fx_obj net, d1, d2, d3;
    fx_file f1, f2, f3;
    fx_init(&fs, 1 << 20, 0); /* a small map: the writes below make it grow */
    fx_keygen(&a, 1);
    fx_keygen(&b, 2);
    fx_found(&fs, &net, &a, 1);
    fx_obj adm;
    fx_admit(&adm, &a, 1500, net.id, b.pk);
    assert_put(&fs, &adm, KN_PUT_STORED);
    file_make(&f1, 24 * KN_BLOB_CHUNK + 5, 1, false);
    file_make(&f2, 40 * KN_BLOB_CHUNK, 2, false);
    file_make(&f3, 3000, 3, false);
    fx_doc(&d1, &b, 2000, &f1, 1, NULL, NULL);
    fx_doc(&d2, &b, 2001, &f2, 1, NULL, NULL);
    fx_mime = "text/plain";
    fx_doc(&d3, &b, 2002, &f3, 1, NULL, NULL);
    fx_mime = "application/octet-stream";
    assert_put(&fs, &d1, KN_PUT_STORED);
    assert_put(&fs, &d2, KN_PUT_STORED);
    assert_put(&fs, &d3, KN_PUT_STORED);
    kn_blob_manifest_in m[3] = { { f1.id, f1.size, f1.hashes, f1.n },
        { f2.id, f2.size, f2.hashes, f2.n }, { f3.id, f3.size, f3.hashes, f3.n } };
    int mres[3], cres[KN_BLOB_BATCH_MAX];
    kn_blob_chunk_in c[KN_BLOB_BATCH_MAX];

    /* 6 MiB do not fit the map of 1 MiB: nothing is stored, the owner grows it. */
    chunks_of(&f1, 0, f1.n, c);
    assert_rc(KN_EMAPFULL, kn_blob_put_batch_bg(fs.s, m, 3, mres, c, f1.n, cres));
    uint64_t size;
    uint8_t *h;
    uint32_t n;
    assert_rc(KN_ENOTFOUND, kn_blob_get_manifest(fs.s, f1.id, &size, &h, &n));
    assert_int_equal(kn_blob_put_batch(fs.s, m, 2, mres, c, 4, cres), 0);
    assert_int_equal(mres[0], KN_BLOB_STORED);
    assert_int_equal(cres[3], KN_BLOB_STORED);

    /* The text file completing: KN_EBUSY and nothing stored; the owner stores it. */
    chunks_of(&f3, 0, 1, c);
    assert_rc(KN_EBUSY, kn_blob_put_batch_bg(fs.s, &m[2], 1, mres, c, 1, cres));
    assert_rc(KN_ENOTFOUND, kn_blob_get_manifest(fs.s, f3.id, &size, &h, &n));
    assert_int_equal(kn_blob_put_batch(fs.s, &m[2], 1, mres, c, 1, cres), 0);
    assert_int_equal(kn_blob_is_complete(fs.s, f3.id), 1);

    /* A thread stores the rest of f1 while this one stores f2 (growing the map) and reads. */
    bg_ctx bc = { fs.s, &f1, 4, 0 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bg_writer, &bc), 0);
    for (uint32_t i = 0; i < f2.n; i += 4) {
        chunks_of(&f2, i, 4, c);
        assert_int_equal(kn_blob_put_batch(fs.s, &m[1], i == 0, mres, c, 4, cres), 0);
        assert_int_equal(cres[0], KN_BLOB_STORED);
        const uint8_t *data;
        uint32_t len;
        kn_blob_reader *r;
        assert_int_equal(kn_blob_reader_open(fs.s, &r), 0);
        assert_int_equal(kn_blob_reader_chunk(r, f2.id, i, &data, &len), 0);
        assert_memory_equal(data, f2.data + (size_t)i * KN_BLOB_CHUNK, len);
        kn_blob_reader_close(r);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    if (bc.stored < f1.n) { /* the thread gave up on a full map: the owner takes over */
        chunks_of(&f1, bc.stored, f1.n - bc.stored, c);
        assert_int_equal(kn_blob_put_batch(fs.s, NULL, 0, NULL, c, f1.n - bc.stored, cres), 0);
    }
    assert_int_equal(kn_blob_is_complete(fs.s, f1.id), 1);
    assert_int_equal(kn_blob_is_complete(fs.s, f2.id), 1);
    assert_file_equal(&fs, &f1);
    assert_file_equal(&fs, &f2);
    check_ok(&fs);
    file_free(&f1);
    file_free(&f2);
    file_free(&f3);
    fx_done(&fs);
}

/* Does the file data.mdb in dir contain the marker? */
static bool file_has_marker(const char *dir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static uint8_t buf[1 << 20];
    size_t keep = 0, got;
    bool found = false;
    const size_t ml = sizeof MARKER - 1;
    while (!found && (got = fread(buf + keep, 1, sizeof buf - keep, fp)) > 0) {
        size_t len = keep + got;
        for (size_t i = 0; i + ml <= len && !found; i++)
            found = memcmp(buf + i, MARKER, ml) == 0;
        keep = len < ml ? len : ml - 1;
        memmove(buf, buf + len - keep, keep);
    }
    fclose(fp);
    return found;
}

static void rm_copy(const char *dir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

static void test_retract_purges(void **state)
{
    (void)state;
    fx_store fs;
    fx_key a;
    fx_obj net, d1, d2, r1, r2;
    fx_file secret, shared;
    kn_blob_info in;
    kn_blob_stats st;

    fx_init(&fs, 0, 0);
    fx_keygen(&a, 1);
    fx_found(&fs, &net, &a, 1);
    /* 2 chunks in pages of their own, the last (500 bytes) in a leaf page shared with others */
    file_make(&secret, 2 * KN_BLOB_CHUNK + 500, 1, true);
    file_make(&shared, KN_BLOB_CHUNK + 1, 9, false);
    stage_file(&fs, &secret);
    stage_file(&fs, &shared);
    /* d1 has the secret and the shared file, d2 (a later version) only the shared one. */
    fx_file both[2] = { secret, shared };
    fx_doc(&d1, &a, 2000, both, 2, NULL, NULL);
    fx_doc(&d2, &a, 3000, &shared, 1, NULL, d1.id);
    assert_put(&fs, &d1, KN_PUT_STORED);
    assert_put(&fs, &d2, KN_PUT_STORED);
    assert_int_equal(kn_blob_info_get(fs.s, shared.id, NULL, &in), 0);
    assert_int_equal(in.refs, 2);
    uint64_t used;
    assert_int_equal(kn_blob_usage(fs.s, a.pk, &used), 0);
    assert_int_equal(used, secret.size + shared.size); /* the shared blob counts once */

    char copy[64];
    snprintf(copy, sizeof copy, "/tmp/kn-blob-copy-XXXXXX");
    assert_non_null(mkdtemp(copy));
    assert_int_equal(kn_store_copy_compact(fs.s, copy), 0);
    assert_true(file_has_marker(copy)); /* the scan can see it while it is there */
    rm_copy(copy);

    fx_retract(&r1, &a, 4000, d1.id);
    assert_put(&fs, &r1, KN_PUT_STORED);
    assert_rc(KN_ENOTFOUND, kn_blob_info_get(fs.s, secret.id, NULL, &in));
    uint8_t buf[64];
    uint32_t len;
    (void)buf;
    uint8_t *chunk = malloc(KN_BLOB_CHUNK);
    assert_rc(KN_ENOTFOUND, kn_blob_get_chunk(fs.s, secret.id, 0, chunk, &len));
    /* The shared blob stays: d2 still references it. */
    assert_int_equal(kn_blob_info_get(fs.s, shared.id, NULL, &in), 0);
    assert_int_equal(in.refs, 1);
    assert_true(in.complete);
    assert_file_equal(&fs, &shared);
    assert_int_equal(kn_blob_usage(fs.s, a.pk, &used), 0);
    assert_int_equal(used, shared.size);
    assert_int_equal(kn_blob_stats_get(fs.s, &st), 0);
    assert_int_equal(st.blobs, 1);
    assert_int_equal(st.chunks, 2);

    /* The bytes are in no database: a compacted copy of the file does not contain them. */
    snprintf(copy, sizeof copy, "/tmp/kn-blob-copy-XXXXXX");
    assert_non_null(mkdtemp(copy));
    assert_int_equal(kn_store_copy_compact(fs.s, copy), 0);
    assert_false(file_has_marker(copy));
    rm_copy(copy);
    /* The store file itself still holds them, in freed pages, until kn_blob_scrub. */
    assert_true(file_has_marker(fs.dir));
    uint64_t pages = 0;
    assert_int_equal(kn_blob_scrub(fs.s, UINT64_MAX, &pages), 0);
    assert_true(pages >= secret.n);
    assert_false(file_has_marker(fs.dir));
    assert_int_equal(kn_blob_scrub(fs.s, UINT64_MAX, &pages), 0);
    assert_int_equal(pages, 0); /* nothing marked any more */

    /* The retracted doc is never stored again, and its blob is not wanted again. */
    assert_put(&fs, &d1, KN_PUT_TOMBSTONED);
    assert_rc(
        KN_ENOTFOUND, kn_blob_put_manifest(fs.s, secret.id, secret.size, secret.hashes, secret.n));
    assert_int_equal(kn_blob_stats_get(fs.s, &st), 0);
    assert_int_equal(st.wanted, 0);

    /* Retracting the last reference purges the shared blob as well. */
    fx_retract(&r2, &a, 5000, d2.id);
    assert_put(&fs, &r2, KN_PUT_STORED);
    assert_int_equal(kn_blob_stats_get(fs.s, &st), 0);
    assert_int_equal(st.blobs, 0);
    assert_int_equal(st.chunks, 0);
    assert_int_equal(st.refs, 0);
    assert_int_equal(kn_blob_usage(fs.s, a.pk, &used), 0);
    assert_int_equal(used, 0);
    free(chunk);
    file_free(&secret);
    file_free(&shared);
    check_ok(&fs);
    fx_done(&fs);
}

/* A revoked node's docs leave the store, and with them their blobs. */
static void test_revoke_purges(void **state)
{
    (void)state;
    fx_store fs;
    fx_key a, b;
    fx_obj net, d, rev;
    fx_file f;
    kn_blob_stats st;

    two_nodes(&fs, &a, &b, &net);
    file_make(&f, 1000, 3, false);
    fx_doc(&d, &b, 3000, &f, 1, NULL, NULL);
    assert_put(&fs, &d, KN_PUT_STORED);
    assert_int_equal(kn_blob_put_manifest(fs.s, f.id, f.size, f.hashes, f.n), KN_BLOB_STORED);
    put_range(&fs, &f, 0, 1, KN_BLOB_STORED);
    fx_revoke(&rev, &a, 2500, net.id, b.pk); /* revoked before the doc was made */
    assert_put(&fs, &rev, KN_PUT_STORED);
    assert_int_equal(kn_store_has(fs.s, d.id), 0);
    assert_int_equal(kn_blob_stats_get(fs.s, &st), 0);
    assert_int_equal(st.blobs, 0);
    assert_int_equal(st.chunks, 0);
    assert_int_equal(st.refs, 0);
    file_free(&f);
    check_ok(&fs);
    fx_done(&fs);
}

static void test_limits(void **state)
{
    (void)state;
    fx_store fs;
    fx_key a, b, c;
    fx_obj net, adm1, adm2, big, d1, d2, d3, r1;
    fx_file fbig, f1, f2, f3;
    kn_blob_limits l;
    kn_blob_info in;
    uint64_t used;

    fx_init(&fs, 0, 0);
    fx_keygen(&a, 1);
    fx_keygen(&b, 2);
    fx_keygen(&c, 3);
    fx_found(&fs, &net, &a, 1);
    fx_admit(&adm1, &a, 1500, net.id, b.pk);
    fx_admit(&adm2, &a, 1500, net.id, c.pk);
    assert_put(&fs, &adm1, KN_PUT_STORED);
    assert_put(&fs, &adm2, KN_PUT_STORED);
    assert_int_equal(kn_blob_limits_get(fs.s, &l), 0);
    assert_int_equal(l.max_file, KN_BLOB_DEFAULT_MAX_FILE);
    assert_int_equal(l.quota, KN_BLOB_DEFAULT_QUOTA);
    l = (kn_blob_limits) { 1 << 20, 1 << 20 }; /* 1 MiB per file, 1 MiB per council */
    assert_int_equal(kn_blob_limits_set(fs.s, &l, NULL), 0);
    l.max_file = 0;
    assert_rc(KN_EINVAL, kn_blob_limits_set(fs.s, &l, NULL));
    l.max_file = KN_BLOB_SIZE_MAX + 1;
    assert_rc(KN_EINVAL, kn_blob_limits_set(fs.s, &l, NULL));

    file_make(&fbig, 2 << 20, 1, false);
    file_make(&f1, 600 << 10, 2, false);
    file_make(&f2, 600 << 10, 3, false);
    file_make(&f3, 600 << 10, 4, false);

    /* Over the per-file limit: the doc is stored, its file is refused and not wanted. */
    fx_doc(&big, &b, 2000, &fbig, 1, NULL, NULL);
    assert_put(&fs, &big, KN_PUT_STORED);
    assert_int_equal(kn_store_has(fs.s, big.id), 1);
    assert_int_equal(kn_blob_info_get(fs.s, fbig.id, b.pk, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_REFUSED_SIZE);
    assert_false(in.wanted);
    assert_rc(KN_EQUOTA, kn_blob_put_manifest(fs.s, fbig.id, fbig.size, fbig.hashes, fbig.n));
    assert_int_equal(kn_blob_usage(fs.s, b.pk, &used), 0);
    assert_int_equal(used, 0);
    /* The pre-check the command line makes says the same. */
    assert_rc(KN_ETOOBIG, kn_blob_admit_check(fs.s, a.pk, fbig.id, fbig.size, NULL, NULL));

    /* Quota: the first 600 KiB fit, the second does not; another council is unaffected. */
    fx_doc(&d1, &b, 3000, &f1, 1, NULL, NULL);
    fx_doc(&d2, &b, 4000, &f2, 1, NULL, NULL);
    fx_doc(&d3, &c, 4500, &f3, 1, NULL, NULL);
    assert_put(&fs, &d1, KN_PUT_STORED);
    assert_put(&fs, &d2, KN_PUT_STORED);
    assert_put(&fs, &d3, KN_PUT_STORED);
    assert_int_equal(kn_blob_info_get(fs.s, f1.id, b.pk, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_ACCEPTED);
    assert_true(in.wanted);
    assert_int_equal(kn_blob_info_get(fs.s, f2.id, b.pk, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_REFUSED_QUOTA);
    assert_false(in.wanted);
    assert_int_equal(kn_blob_info_get(fs.s, f3.id, NULL, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_ACCEPTED);
    assert_int_equal(kn_blob_usage(fs.s, b.pk, &used), 0);
    assert_int_equal(used, 600 << 10);
    uint64_t u2 = 0;
    kn_blob_limits l2;
    assert_rc(KN_EQUOTA, kn_blob_admit_check(fs.s, b.pk, f2.id, f2.size, &u2, &l2));
    assert_int_equal(u2, 600 << 10);
    assert_int_equal(l2.quota, 1 << 20);
    assert_int_equal(kn_blob_admit_check(fs.s, b.pk, f1.id, f1.size, NULL, NULL), 0);

    /* d1 retracted: its space is free, and d2's file is accepted at once. */
    fx_retract(&r1, &b, 5000, d1.id);
    assert_put(&fs, &r1, KN_PUT_STORED);
    assert_int_equal(kn_blob_info_get(fs.s, f2.id, b.pk, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_ACCEPTED);
    assert_true(in.wanted);
    assert_int_equal(kn_blob_usage(fs.s, b.pk, &used), 0);
    assert_int_equal(used, 600 << 10);

    /* Raising the limits accepts the big file; it becomes wanted. */
    size_t acc = 0;
    l = (kn_blob_limits) { 4 << 20, 0 };
    assert_int_equal(kn_blob_limits_set(fs.s, &l, &acc), 0);
    assert_int_equal(acc, 1);
    assert_int_equal(kn_blob_info_get(fs.s, fbig.id, b.pk, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_ACCEPTED);
    assert_true(in.wanted);
    assert_int_equal(kn_blob_usage(fs.s, b.pk, &used), 0);
    assert_int_equal(used, (2 << 20) + (600 << 10));
    /* Lowering them refuses it again (in created order: the older big file first) ... */
    l = (kn_blob_limits) { 4 << 20, 1 << 20 };
    assert_int_equal(kn_blob_limits_set(fs.s, &l, NULL), 0);
    assert_int_equal(kn_blob_info_get(fs.s, fbig.id, b.pk, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_REFUSED_QUOTA);
    assert_false(in.wanted);
    assert_int_equal(kn_blob_info_get(fs.s, f2.id, b.pk, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_ACCEPTED);
    /* ... but never deletes what is stored: a complete file stays accepted and counted. */
    assert_int_equal(kn_blob_put_manifest(fs.s, f2.id, f2.size, f2.hashes, f2.n), KN_BLOB_STORED);
    put_range(&fs, &f2, 0, f2.n, KN_BLOB_STORED);
    l = (kn_blob_limits) { 100 << 10, 100 << 10 };
    assert_int_equal(kn_blob_limits_set(fs.s, &l, NULL), 0);
    assert_int_equal(kn_blob_info_get(fs.s, f2.id, b.pk, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_ACCEPTED);
    assert_true(in.complete);
    assert_file_equal(&fs, &f2);
    assert_int_equal(kn_blob_usage(fs.s, b.pk, &used), 0);
    assert_int_equal(used, 600 << 10);
    /* An accepted file not yet complete is refused under the new limit and no longer wanted. */
    assert_int_equal(kn_blob_info_get(fs.s, f3.id, c.pk, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_REFUSED_SIZE);
    assert_false(in.wanted);

    /* A doc that gives a size its blob cannot have is refused as invalid. */
    fx_obj lie;
    uint64_t zero = 0;
    fx_doc(&lie, &c, 6000, &f1, 1, &zero, NULL);
    assert_put(&fs, &lie, KN_PUT_STORED);
    assert_int_equal(kn_blob_info_get(fs.s, f1.id, c.pk, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_REFUSED_INVALID);

    /* The policy switch. */
    kn_blob_policy p;
    assert_int_equal(kn_blob_policy_get(fs.s, &p), 0);
    assert_int_equal(p, KN_BLOB_EAGER);
    assert_int_equal(kn_blob_policy_set(fs.s, KN_BLOB_ON_DEMAND), 0);
    assert_int_equal(kn_blob_policy_get(fs.s, &p), 0);
    assert_int_equal(p, KN_BLOB_ON_DEMAND);
    assert_string_equal(kn_blob_policy_name(p), "on-demand");
    assert_rc(KN_EINVAL, kn_blob_policy_set(fs.s, (kn_blob_policy)7));

    file_free(&fbig);
    file_free(&f1);
    file_free(&f2);
    file_free(&f3);
    check_ok(&fs);
    fx_done(&fs);
}

static void test_request_and_empty(void **state)
{
    (void)state;
    fx_store fs;
    fx_key a, b;
    fx_obj net, d, e;
    fx_file f, empty;
    kn_blob_want w[2];
    kn_blob_info in;
    size_t n;
    uint64_t wanted, requested;

    two_nodes(&fs, &a, &b, &net);
    file_make(&f, 1000, 5, false);
    file_make(&empty, 0, 0, false);
    assert_memory_equal(empty.id, KN_BLOB_EMPTY_ID, KN_BLOB_ID);

    fx_doc(&e, &b, 1800, &empty, 1, NULL, NULL);
    assert_put(&fs, &e, KN_PUT_STORED);
    assert_int_equal(kn_blob_info_get(fs.s, empty.id, NULL, &in), 0);
    assert_true(in.complete);
    assert_false(in.wanted);
    assert_int_equal(in.nchunks, 0);

    fx_doc(&d, &b, 2000, &f, 1, NULL, NULL);
    assert_put(&fs, &d, KN_PUT_STORED);
    assert_int_equal(kn_blob_wanted_count(fs.s, &wanted, &requested), 0);
    assert_int_equal(wanted, 1);
    assert_int_equal(requested, 0);
    assert_int_equal(kn_blob_request(fs.s, f.id, 12345), 0);
    assert_int_equal(kn_blob_wanted(fs.s, NULL, w, 2, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(w[0].requested_ms, 12345);
    assert_int_equal(kn_blob_wanted_count(fs.s, &wanted, &requested), 0);
    assert_int_equal(requested, 1);
    /* Paging: after the only entry there is nothing. */
    assert_int_equal(kn_blob_wanted(fs.s, f.id, w, 2, &n), 0);
    assert_int_equal(n, 0);
    assert_rc(KN_ENOTFOUND, kn_blob_request(fs.s, empty.id, 1));
    file_free(&f);
    file_free(&empty);
    check_ok(&fs);
    fx_done(&fs);
}

static void test_gc(void **state)
{
    (void)state;
    fx_store fs;
    fx_key a;
    fx_obj net;
    fx_file old, fresh;
    size_t purged = 9;

    fx_init(&fs, 0, 0);
    fx_keygen(&a, 1);
    fx_found(&fs, &net, &a, 1);
    file_make(&old, 3000, 1, false);
    file_make(&fresh, 3000, 2, false);
    assert_int_equal(
        kn_blob_stage_manifest(fs.s, old.id, old.size, old.hashes, old.n, 1000), KN_BLOB_STORED);
    put_range(&fs, &old, 0, 1, KN_BLOB_STORED);
    assert_int_equal(kn_blob_stage_manifest(fs.s, fresh.id, fresh.size, fresh.hashes, fresh.n,
                         1000 + KN_BLOB_STAGE_TTL_MS),
        KN_BLOB_STORED);
    assert_int_equal(
        kn_blob_gc(fs.s, 1000 + KN_BLOB_STAGE_TTL_MS, KN_BLOB_STAGE_TTL_MS, &purged), 0);
    assert_int_equal(purged, 1);
    assert_int_equal(kn_blob_is_complete(fs.s, old.id), 0);
    assert_int_equal(kn_blob_is_complete(fs.s, fresh.id), 0); /* staged, chunk missing */
    kn_blob_info in;
    assert_rc(KN_ENOTFOUND, kn_blob_info_get(fs.s, old.id, NULL, &in));
    assert_int_equal(kn_blob_info_get(fs.s, fresh.id, NULL, &in), 0);
    assert_true(in.have_manifest);
    kn_blob_stats st;
    assert_int_equal(kn_blob_stats_get(fs.s, &st), 0);
    assert_int_equal(st.chunks, 0);
    file_free(&old);
    file_free(&fresh);
    check_ok(&fs);
    fx_done(&fs);
}

/* A store written before blobs existed (schema 3) gets its references on open. */
static void test_migration(void **state)
{
    (void)state;
    fx_store fs;
    fx_key a, b;
    fx_obj net, d;
    fx_file f;
    kn_blob_want w[2];
    size_t n;

    two_nodes(&fs, &a, &b, &net);
    file_make(&f, 5000, 1, false);
    fx_doc(&d, &b, 2000, &f, 1, NULL, NULL);
    assert_put(&fs, &d, KN_PUT_STORED);
    /*
     * Pretend schema 3: the version says so, and a stray reference that the
     * rebuild must drop (blob_refs is rebuilt from the stored docs alone).
     */
    uint8_t key[KN_BLOB_ID + KN_ID], val[KN_KEY + 16] = { 0 }, stray[KN_BLOB_ID];
    memset(stray, 0x5a, sizeof stray);
    memcpy(key, stray, KN_BLOB_ID);
    memcpy(key + KN_BLOB_ID, d.id, KN_ID);
    assert_int_equal(
        kn_store_debug_put_raw(fs.s, "blob_refs", key, sizeof key, val, sizeof val), 0);
    kn_blob_info in;
    assert_int_equal(kn_blob_info_get(fs.s, stray, NULL, &in), KN_ECORRUPT); /* no council entry */
    const uint8_t v3[4] = { 0, 0, 0, 3 };
    assert_int_equal(
        kn_store_debug_put_raw(fs.s, "meta", (const uint8_t *)"schema_version", 14, v3, sizeof v3),
        0);
    fx_reopen(&fs);
    kn_store_stats st;
    assert_int_equal(kn_store_stats_get(fs.s, &st), 0);
    assert_int_equal(st.schema_version, KN_STORE_SCHEMA_VERSION);
    assert_int_equal(kn_blob_wanted(fs.s, NULL, w, 2, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(w[0].id, f.id, KN_BLOB_ID);
    assert_rc(KN_ENOTFOUND, kn_blob_info_get(fs.s, stray, NULL, &in));
    assert_int_equal(kn_blob_info_get(fs.s, f.id, NULL, &in), 0);
    assert_int_equal(in.refs, 1);
    uint64_t used;
    assert_int_equal(kn_blob_usage(fs.s, b.pk, &used), 0);
    assert_int_equal(used, 5000);
    file_free(&f);
    check_ok(&fs);
    fx_done(&fs);
}

/* A doc whose size does not fit its blob: proven wrong by a hash-checked manifest, not fetched. */
static void test_wrong_sizes(void **state)
{
    (void)state;
    fx_store fs;
    fx_key a, b;
    fx_obj net, d1, d2, d3;
    fx_file f, empty;
    kn_blob_info in;
    uint64_t used;

    two_nodes(&fs, &a, &b, &net);
    file_make(&f, 3 * KN_BLOB_CHUNK + 10, 4, false);
    file_make(&empty, 0, 0, false);
    /* Three more chunks than the blob has: the peer's (true) manifest proves the doc wrong. */
    uint64_t more = f.size + 3 * KN_BLOB_CHUNK;
    fx_doc(&d1, &b, 2000, &f, 1, &more, NULL);
    assert_put(&fs, &d1, KN_PUT_STORED);
    assert_int_equal(kn_blob_info_get(fs.s, f.id, b.pk, &in), 0);
    assert_true(in.wanted);
    assert_rc(KN_EINVAL, kn_blob_put_manifest(fs.s, f.id, f.size, f.hashes, f.n));
    assert_int_equal(kn_blob_info_get(fs.s, f.id, b.pk, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_REFUSED_INVALID);
    assert_false(in.wanted);
    assert_false(in.have_manifest);
    assert_int_equal(kn_blob_usage(fs.s, b.pk, &used), 0);
    assert_int_equal(used, 0);
    /* One byte less: the same number of chunks, so nothing can be judged; still wanted. */
    uint64_t less = f.size - 1;
    fx_doc(&d2, &a, 2100, &f, 1, &less, NULL);
    assert_put(&fs, &d2, KN_PUT_STORED);
    assert_rc(KN_EINVAL, kn_blob_put_manifest(fs.s, f.id, f.size, f.hashes, f.n));
    assert_int_equal(kn_blob_info_get(fs.s, f.id, a.pk, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_ACCEPTED);
    assert_true(in.wanted);
    /* The empty file's id with a size: refused at once. */
    uint64_t five = 5;
    fx_doc(&d3, &b, 2200, &empty, 1, &five, NULL);
    assert_put(&fs, &d3, KN_PUT_STORED);
    assert_int_equal(kn_blob_info_get(fs.s, empty.id, b.pk, &in), 0);
    assert_int_equal(in.admission, KN_BLOB_REFUSED_INVALID);
    assert_false(in.wanted);
    check_ok(&fs);
    file_free(&f);
    file_free(&empty);
    fx_done(&fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_publish),
        cmocka_unit_test(test_remote_fetch),
        cmocka_unit_test(test_put_batch),
        cmocka_unit_test(test_put_batch_bg),
        cmocka_unit_test(test_retract_purges),
        cmocka_unit_test(test_revoke_purges),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_request_and_empty),
        cmocka_unit_test(test_gc),
        cmocka_unit_test(test_migration),
        cmocka_unit_test(test_wrong_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
