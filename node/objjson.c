#include "objjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "hex.h"

/* Converts one msgpack value at *in to JSON; NULL on malformed input or no memory. */
static json_t *value_to_json(kn_mp_in *in, int depth)
{
    if (depth > 16)
        return NULL;
    switch (kn_mp_peek(in)) {
    case KN_MP_UINT: {
        uint64_t v;
        if (kn_mp_read_uint(in, &v) < 0)
            return NULL;
        /* JSON integers are signed 64-bit in jansson; larger values go as strings. */
        return v <= INT64_MAX ? json_integer((json_int_t)v) : NULL;
    }
    case KN_MP_NINT: {
        int64_t v;
        return kn_mp_read_int(in, &v) < 0 ? NULL : json_integer(v);
    }
    case KN_MP_BOOL: {
        bool v;
        return kn_mp_read_bool(in, &v) < 0 ? NULL : json_boolean(v);
    }
    case KN_MP_NIL:
        return kn_mp_read_nil(in) < 0 ? NULL : json_null();
    case KN_MP_STR: {
        const char *s;
        uint32_t n;
        return kn_mp_read_str(in, &s, &n) < 0 ? NULL : json_stringn(s, n);
    }
    case KN_MP_BIN: {
        const uint8_t *b;
        uint32_t n;
        if (kn_mp_read_bin(in, &b, &n) < 0)
            return NULL;
        char *hex = malloc(2 * (size_t)n + 1);
        if (!hex)
            return NULL;
        kn_hex_encode(hex, b, n);
        json_t *j = json_string(hex);
        free(hex);
        return j;
    }
    case KN_MP_ARRAY: {
        uint32_t n;
        json_t *a = json_array();
        if (!a || kn_mp_read_array(in, &n) < 0)
            goto fail_array;
        for (uint32_t i = 0; i < n; i++) {
            json_t *v = value_to_json(in, depth + 1);
            if (!v || json_array_append_new(a, v) < 0)
                goto fail_array;
        }
        return a;
    fail_array:
        json_decref(a);
        return NULL;
    }
    case KN_MP_MAP: {
        uint32_t n;
        json_t *m = json_object();
        if (!m || kn_mp_read_map(in, &n) < 0)
            goto fail_map;
        for (uint32_t i = 0; i < n; i++) {
            const char *k;
            uint32_t klen;
            if (kn_mp_read_str(in, &k, &klen) < 0)
                goto fail_map;
            json_t *v = value_to_json(in, depth + 1);
            if (!v || json_object_setn_new(m, k, klen, v) < 0)
                goto fail_map;
        }
        return m;
    fail_map:
        json_decref(m);
        return NULL;
    }
    default:
        return NULL;
    }
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char buf[2 * 64 + 1];
    if (n > 64)
        return NULL;
    kn_hex_encode(buf, b, n);
    return json_string(buf);
}

json_t *kn_objjson_new(const kn_object *o, bool with_raw)
{
    json_t *j = json_object();
    json_t *refs = json_array();
    kn_mp_in in;
    kn_mp_in_init(&in, o->body, o->body_len);
    json_t *body = value_to_json(&in, 0);
    if (!j || !refs || !body)
        goto fail;
    for (uint32_t i = 0; i < o->nrefs; i++)
        if (json_array_append_new(refs, hex_json(o->refs[i], KN_ID)) < 0)
            goto fail;
    if (json_object_set_new(j, "id", hex_json(o->id, KN_ID)) < 0
        || json_object_set_new(j, "type", json_string(kn_otype_name(o->type))) < 0
        || json_object_set_new(j, "author", hex_json(o->author, KN_KEY)) < 0
        || json_object_set_new(j, "created", json_integer((json_int_t)o->created)) < 0
        || json_object_set_new(j, "space", json_stringn(o->space, o->space_len)) < 0
        || json_object_set(j, "refs", refs) < 0 || json_object_set(j, "body", body) < 0)
        goto fail;
    if (with_raw) {
        char *b64 = malloc(4 * ((o->raw_len + 2) / 3) + 1);
        if (!b64)
            goto fail;
        kn_base64_encode(b64, o->raw, o->raw_len);
        int rc = json_object_set_new(j, "raw", json_string(b64));
        free(b64);
        if (rc < 0)
            goto fail;
    }
    json_decref(refs);
    json_decref(body);
    return j;
fail:
    json_decref(j);
    json_decref(refs);
    json_decref(body);
    return NULL;
}

static const char b64_alphabet[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void kn_base64_encode(char *out, const uint8_t *in, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    out[o] = 0;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;
    return p ? (int)(p - b64_alphabet) : -1;
}

int kn_base64_decode(uint8_t *out, size_t cap, const char *in, size_t len)
{
    if (len % 4)
        return KN_EINVAL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int pad = 0;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            char c = in[i + k];
            int d;
            if (c == '=' && i + 4 == len && k >= 2) {
                pad++;
                d = 0;
            } else if (pad || (d = b64_value(c)) < 0) {
                return KN_EINVAL;
            }
            v = v << 6 | (uint32_t)d;
        }
        size_t n = 3 - (size_t)pad;
        if (o + n > cap)
            return KN_ETOOBIG;
        out[o++] = (uint8_t)(v >> 16);
        if (n > 1)
            out[o++] = (uint8_t)(v >> 8);
        if (n > 2)
            out[o++] = (uint8_t)v;
    }
    return (int)o;
}

int kn_objjson_import_line(
    const char *line, size_t len, uint8_t *out, size_t cap, char *why, size_t whycap)
{
    json_error_t jerr;
    json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *raw = j ? json_object_get(j, "raw") : NULL;
    int n;
    if (!j) {
        /* jansson quotes the bad bytes: keep the reason one line of text (fuzz_objjson). */
        snprintf(why, whycap, "not JSON (%s)", jerr.text);
        for (char *p = why; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
        return KN_EINVAL;
    }
    if (!json_is_string(raw)) {
        snprintf(why, whycap, "no \"raw\" member with the object's bytes");
        n = KN_EINVAL;
    } else {
        n = kn_base64_decode(out, cap, json_string_value(raw), json_string_length(raw));
        if (n == KN_ETOOBIG)
            snprintf(why, whycap, "object larger than %zu KiB", cap / 1024);
        else if (n < 0)
            snprintf(why, whycap, "\"raw\" is not base64");
    }
    json_decref(j);
    return n;
}
