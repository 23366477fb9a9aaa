/*
 * Fuzz target for signed objects: the strict decoder, the schemas, the
 * signature check and the body field readers, on arbitrary bytes.
 *
 * Beyond "does not crash", it checks what the rest of knoten relies on: a
 * decoded object's views stay inside the input, its id is the BLAKE2b-256 of
 * exactly those bytes, and validate never accepts what decode refuses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "object.h"

/* Every body key any schema knows, plus one none does. */
static const char *const keys[] = {
    "addrs",
    "admit",
    "ags",
    "blob",
    "body",
    "box",
    "capacity",
    "choices",
    "contact",
    "count",
    "deadline",
    "description",
    "end",
    "expertise",
    "files",
    "group",
    "key",
    "kind",
    "lang",
    "langs",
    "licence",
    "link",
    "mime",
    "multiple",
    "name",
    "node",
    "options",
    "place",
    "question",
    "reason",
    "role",
    "show_early",
    "size",
    "start",
    "status",
    "tags",
    "title",
    "to",
    "tz",
    "url",
    "valid_from",
    "valid_until",
    "zzz",
    "",
};

static bool inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    return p >= data && n <= size && p + n <= data + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kn_object o;
    int rc;
    if (kn_crypto_init() < 0)
        abort();

    /* A fixed clock: created times after it are KN_EFUTURE, which is fine to reach. */
    const uint64_t now = 1700000000000ull;
    int valid = kn_object_validate(&o, data, size, now);
    rc = kn_object_decode(&o, data, size);
    if (rc < 0) {
        if (valid == 0)
            abort();
        return 0;
    }

    if (o.raw != data || o.raw_len != size || size > KN_OBJECT_MAX)
        abort();
    if (!inside(o.author, KN_KEY, data, size) || !inside(o.sig, KN_SIG, data, size)
        || !inside((const uint8_t *)o.space, o.space_len, data, size)
        || !inside(o.body, o.body_len, data, size) || o.space_len > KN_SPACE_MAX
        || o.nrefs > KN_MAX_REFS || !kn_otype_name((int)o.type))
        abort();
    for (uint32_t i = 0; i < o.nrefs; i++)
        if (!inside(o.refs[i], KN_ID, data, size))
            abort();
    uint8_t id[KN_ID];
    kn_blake2b(id, KN_ID, data, size);
    if (memcmp(id, o.id, KN_ID) != 0)
        abort();

    int schema = kn_object_check_schema(&o);
    int sig = kn_object_verify(&o);
    if (schema != 0 && schema != KN_ESCHEMA)
        abort();
    if (sig != 0 && sig != KN_ESIG)
        abort();
    if (valid == 0 && (schema != 0 || sig != 0))
        abort();

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        kn_mp_in v;
        const char *s;
        const uint8_t *b;
        uint32_t len;
        uint64_t u;
        if (kn_object_field(&o, keys[i], &v) == 0 && !inside(v.p, 0, data, size))
            abort();
        if (kn_object_str(&o, keys[i], &s, &len) == 0
            && !inside((const uint8_t *)s, len, o.body, o.body_len))
            abort();
        if (kn_object_bin(&o, keys[i], &b, &len) == 0 && !inside(b, len, o.body, o.body_len))
            abort();
        rc = kn_object_uint(&o, keys[i], &u);
        (void)rc;
    }
    return 0;
}
