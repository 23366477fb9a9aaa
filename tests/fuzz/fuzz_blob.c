/*
 * Fuzz target for blob manifests (protocol/blob.h): kn_blob_manifest_parse
 * on arbitrary bytes, the form in which a manifest arrives from a peer.
 *
 * Beyond "does not crash": whatever parses re-encodes to the same bytes, its
 * hash list lies inside the input, and checking it against the id its own
 * hashes give succeeds, while the parse with a wrong id fails with KN_EHASH.
 * The first byte, if the input is long enough, also selects a check with
 * the id taken from the input's last 32 bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t sz;
    const uint8_t *h;
    uint32_t n;
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
