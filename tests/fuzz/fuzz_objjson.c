/*
 * Fuzz target for the JSON that `knoten import` reads (node/objjson.c:
 * kn_objjson_import_line, kn_base64_decode) and the JSON view of objects
 * (kn_objjson_new), the only JSON the node takes from a file.
 *
 * The oracle:
 *   - a refused line says why, and the reason is one line of text without
 *     control characters (jansson quotes the input's bytes in its errors);
 *   - an accepted line's bytes, if they are a valid signed object, shown by
 *     kn_objjson_new(with_raw) and dumped, import again to the same bytes;
 *   - base64: whatever kn_base64_decode accepts, encoded again, decodes to
 *     the same bytes, and any bytes encoded decode back to themselves.
 *
 * Seeds are export lines of valid objects (tests/fuzz/corpus/fuzz_objjson).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "object.h"
#include "objjson.h"

static void check_base64(const uint8_t *data, size_t size)
{
    static uint8_t out[KN_OBJECT_MAX], again[KN_OBJECT_MAX];
    static char enc[4 * (KN_OBJECT_MAX / 3 + 1) + 1];
    int n = kn_base64_decode(out, sizeof out, (const char *)data, size);
    if (n >= 0) {
        if ((size_t)n > size)
            abort();
        kn_base64_encode(enc, out, (size_t)n);
        if (kn_base64_decode(again, sizeof again, enc, strlen(enc)) != n
            || memcmp(again, out, (size_t)n) != 0)
            abort();
    } else if (n != KN_EINVAL && n != KN_ETOOBIG) {
        abort();
    }
    size_t m = size < KN_OBJECT_MAX ? size : KN_OBJECT_MAX;
    kn_base64_encode(enc, data, m);
    if (strlen(enc) != (m + 2) / 3 * 4
        || kn_base64_decode(again, sizeof again, enc, strlen(enc)) != (int)m
        || memcmp(again, data, m) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t raw[KN_OBJECT_MAX], back[KN_OBJECT_MAX];
    char why[256] = "";
    if (size > 1 << 18)
        return 0;
    check_base64(data, size);
    int n = kn_objjson_import_line((const char *)data, size, raw, sizeof raw, why, sizeof why);
    if (n < 0) {
        if ((n != KN_EINVAL && n != KN_ETOOBIG) || !why[0])
            abort();
        for (const char *p = why; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                abort(); /* printed after "line N: refused:", it must stay one line */
        return 0;
    }
    kn_object o;
    /* A fixed "now" far in the future: created times are never too new. */
    if (kn_object_validate(&o, raw, (size_t)n, UINT64_C(4102444800000)) < 0)
        return 0;
    json_t *j = kn_objjson_new(&o, true);
    if (!j)
        abort(); /* every valid object has a JSON view */
    char *line = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!line)
        abort();
    int m = kn_objjson_import_line(line, strlen(line), back, sizeof back, why, sizeof why);
    if (m != n || memcmp(back, raw, (size_t)n) != 0)
        abort();
    free(line);
    return 0;
}
