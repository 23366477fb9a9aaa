/*
 * Fuzz target for wire messages: the strict decoder on arbitrary bytes.
 *
 * Beyond "does not crash", it checks the property the protocol relies on:
 * whatever decodes re-encodes to exactly the same bytes (one message, one
 * encoding), and every view the decoder returns lies inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "wire.h"

static int inside(const void *p, size_t n, const uint8_t *data, size_t size)
{
    const uint8_t *b = p;
    return b >= data && n <= size && b + n <= data + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kn_wire_msg m;
    if (kn_wire_decode(&m, data, size) < 0)
        return 0;

    kn_mp_out o;
    int rc = 0;
    kn_mp_out_init(&o, 0);
    switch (m.kind) {
    case KN_WIRE_HELLO:
        if (!inside(m.node_key, KN_KEY, data, size))
            abort();
        rc = kn_wire_write_hello(&o, m.version, m.node_key, m.flags);
        break;
    case KN_WIRE_HAVE:
    case KN_WIRE_WANT:
    case KN_WIRE_BLOB_HAVE: {
        if (m.nids > KN_WIRE_IDS_MAX)
            abort();
        uint8_t(*ids)[KN_ID] = malloc((size_t)m.nids * KN_ID + 1);
        if (!ids)
            abort();
        for (uint32_t i = 0; i < m.nids; i++) {
            if (!inside(kn_wire_id(&m, i), KN_ID, data, size))
                abort();
            memcpy(ids[i], kn_wire_id(&m, i), KN_ID);
        }
        rc = kn_wire_write_ids(&o, m.kind, (const uint8_t(*)[KN_ID])ids, m.nids);
        free(ids);
        break;
    }
    case KN_WIRE_OBJ:
        if (!inside(m.data, m.data_len, data, size) || m.data_len > KN_OBJECT_MAX)
            abort();
        rc = kn_wire_write_obj(&o, m.data, m.data_len);
        break;
    case KN_WIRE_NEG:
        if (!inside(m.data, m.data_len, data, size) || m.data_len > KN_WIRE_NEG_MAX)
            abort();
        rc = kn_wire_write_neg(&o, m.session, m.data, m.data_len);
        break;
    case KN_WIRE_PING:
        rc = kn_wire_write_ping(&o, m.nonce);
        break;
    case KN_WIRE_PONG:
        rc = kn_wire_write_pong(&o, m.nonce);
        break;
    case KN_WIRE_BYE:
        if (!inside(m.reason, m.reason_len, data, size) || m.reason_len > KN_WIRE_REASON_MAX)
            abort();
        rc = kn_wire_write_bye(&o, m.reason, m.reason_len);
        break;
    case KN_WIRE_JOIN:
        if (!inside(m.secret, m.secret_len, data, size) || !inside(m.name, m.name_len, data, size)
            || (m.ags_len && !inside(m.ags, m.ags_len, data, size))
            || m.secret_len < KN_WIRE_JOIN_SECRET_MIN || m.secret_len > KN_WIRE_JOIN_SECRET_MAX
            || m.name_len < 1 || m.name_len > KN_WIRE_JOIN_NAME_MAX)
            abort();
        rc = kn_wire_write_join(&o, m.secret, m.secret_len, m.name, m.name_len, m.ags, m.ags_len);
        break;
    case KN_WIRE_MANIFEST_WANT:
        if (!inside(m.blob, KN_ID, data, size))
            abort();
        rc = kn_wire_write_manifest_want(&o, m.blob, m.first);
        break;
    case KN_WIRE_MANIFEST: {
        if (!inside(m.blob, KN_ID, data, size) || m.nids > KN_WIRE_MANIFEST_PAGE)
            abort();
        uint8_t(*h)[KN_ID] = malloc((size_t)m.nids * KN_ID + 1);
        if (!h)
            abort();
        for (uint32_t i = 0; i < m.nids; i++) {
            if (!inside(kn_wire_id(&m, i), KN_ID, data, size))
                abort();
            memcpy(h[i], kn_wire_id(&m, i), KN_ID);
        }
        rc = kn_wire_write_manifest(
            &o, m.blob, m.size, m.first, (const uint8_t(*)[KN_ID])h, m.nids);
        free(h);
        break;
    }
    case KN_WIRE_BLOB_WANT:
    case KN_WIRE_BLOB_NONE:
        if (!inside(m.blob, KN_ID, data, size) || m.nidx > KN_WIRE_CHUNK_IDX_MAX
            || (m.kind == KN_WIRE_BLOB_WANT && m.nidx == 0))
            abort();
        rc = kn_wire_write_blob_idx(&o, m.kind, m.blob, m.idx, m.nidx);
        break;
    case KN_WIRE_BLOB_CHUNK:
        if (!inside(m.blob, KN_ID, data, size) || !inside(m.data, m.data_len, data, size)
            || m.data_len > KN_WIRE_CHUNK_MAX)
            abort();
        rc = kn_wire_write_blob_chunk(&o, m.blob, m.index, m.data, m.data_len);
        break;
    default:
        abort();
    }
    if (rc != 0 || o.len != size || memcmp(o.buf, data, size) != 0)
        abort();
    kn_mp_out_free(&o);
    return 0;
}
