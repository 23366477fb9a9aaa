/*
 * Fuzz target for blob manifests (protocol/blob.h): kn_blob_manifest_parse
 * on arbitrary bytes, the form in which a manifest arrives from a peer; and
 * kn_doc_files on whatever decodes as a doc object.
 *
 * Beyond "does not crash": whatever parses re-encodes to the same bytes, its
 * hash list lies inside the input, and checking it against the id its own
 * hashes give succeeds, while the parse with a wrong id fails with KN_EHASH.
 * Files read from a doc lie inside the input and are at most 64.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "object.h"

static void doc_files(const uint8_t *data, size_t size)
{
    kn_object o;
    kn_doc_file f[KN_DOC_FILES_MAX];
    uint32_t n = 0;
    if (kn_object_decode(&o, data, size) < 0 || o.type != KN_T_DOC)
        return;
    if (kn_doc_files(&o, f, &n) < 0)
        return;
    if (n == 0 || n > KN_DOC_FILES_MAX)
        abort();
    for (uint32_t i = 0; i < n; i++)
        if (f[i].blob < data || f[i].blob + KN_BLOB_ID > data + size
            || (const uint8_t *)f[i].name < data
            || (const uint8_t *)f[i].name + f[i].name_len > data + size)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t sz;
    const uint8_t *h;
    uint32_t n;
    doc_files(data, size);
    int rc = kn_blob_manifest_parse(data, size, NULL, &sz, &h, &n);
    if (rc < 0) {
        if (rc != KN_ETRUNC && rc != KN_ETRAILING && rc != KN_ETOOBIG && rc != KN_EINVAL)
            abort();
        return 0;
    }
    if (sz > KN_BLOB_SIZE_MAX || n != kn_blob_nchunks(sz) || size != kn_blob_manifest_len(sz))
        abort();
    if (h != data + KN_BLOB_MANIFEST_HDR)
        abort();
    uint8_t *again = malloc(size);
    if (!again)
        return 0;
    kn_blob_manifest_encode(again, sz, h, n);
    if (memcmp(again, data, size) != 0)
        abort();
    free(again);
    uint8_t id[KN_BLOB_ID];
    kn_blob_id_of(id, h, n);
    if (kn_blob_manifest_parse(data, size, id, &sz, &h, &n) != 0)
        abort();
    id[0] ^= 1;
    if (kn_blob_manifest_parse(data, size, id, &sz, &h, &n) != KN_EHASH)
        abort();
    return 0;
}
