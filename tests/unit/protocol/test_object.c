/*
 * Signed objects: strict decoding, signing, verification, validation and the
 * body schema of every type.
 *
 * Malformed encodings are assembled by hand from nine parts (header, the
 * eight elements, trailing bytes) so that each case breaks exactly one thing
 * and names the error it must produce. Bodies and parts are written in a
 * small notation (see nt_value) so that a case fits on one line:
 *   {k:v,...} map (keys written in the order given, so unsorted maps are
 *   possible), [v,...] array, 'text' str, 123 uint, -5 int, t/f bool, ~ nil,
 *   #N bin of N bytes, *N str of N 'x' bytes.
 * Keys come from fixed seeds, so every run signs the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"

#include "codec.h"
#include "crypto.h"
#include "error.h"
#include "object.h"

static const uint64_t NOW = 1700000000000ull;

static void keypair(uint8_t seedbyte, uint8_t pk[KN_KEY], uint8_t sk[64])
{
    uint8_t seed[KN_SIGN_SEED];
    memset(seed, seedbyte, sizeof seed);
    kn_sign_keypair_from_seed(pk, sk, seed);
}

/* ---- the notation ---- */

static void nt_skip_ws(const char **p)
{
    while (**p == ' ')
        (*p)++;
}

static void nt_value(const char **p, kn_mp_out *o);

static void nt_string(const char **p, kn_mp_out *o)
{
    const char *start = ++*p;
    while (**p && **p != '\'')
        (*p)++;
    kn_mp_write_str(o, start, (size_t)(*p - start));
    if (**p)
        (*p)++;
}

static void nt_key(const char **p, kn_mp_out *o)
{
    nt_skip_ws(p);
    if (**p == '\'') {
        nt_string(p, o);
        return;
    }
    if (**p == '#' || (**p >= '0' && **p <= '9')) {
        nt_value(p, o); /* a non-string key, to test that it is refused */
        return;
    }
    const char *start = *p;
    while ((**p >= 'a' && **p <= 'z') || **p == '_')
        (*p)++;
    kn_mp_write_str(o, start, (size_t)(*p - start));
}

static void nt_value(const char **p, kn_mp_out *o)
{
    nt_skip_ws(p);
    char c = **p;
    if (c == '{' || c == '[') {
        bool map = c == '{';
        char close = map ? '}' : ']';
        kn_mp_out tmp;
        uint32_t n = 0;
        kn_mp_out_init(&tmp, 0);
        (*p)++;
        nt_skip_ws(p);
        while (**p && **p != close) {
            if (map) {
                nt_key(p, &tmp);
                nt_skip_ws(p);
                assert_int_equal(**p, ':');
                (*p)++;
            }
            nt_value(p, &tmp);
            n++;
            nt_skip_ws(p);
            if (**p == ',')
                (*p)++;
            nt_skip_ws(p);
        }
        (*p)++;
        if (map)
            kn_mp_write_map(o, n);
        else
            kn_mp_write_array(o, n);
        kn_mp_write_raw(o, tmp.buf, tmp.len);
        kn_mp_out_free(&tmp);
    } else if (c == '\'') {
        nt_string(p, o);
    } else if (c == '#' || c == '*') {
        char *end;
        size_t n = strtoul(*p + 1, &end, 10);
        *p = end;
        uint8_t *b = malloc(n ? n : 1);
        memset(b, c == '#' ? 0x11 : 'x', n);
        if (c == '#')
            kn_mp_write_bin(o, b, n);
        else
            kn_mp_write_str(o, (const char *)b, n);
        free(b);
    } else if (c == 't' || c == 'f') {
        kn_mp_write_bool(o, c == 't');
        (*p)++;
    } else if (c == '~') {
        kn_mp_write_nil(o);
        (*p)++;
    } else if (c == '-') {
        char *end;
        kn_mp_write_int(o, strtoll(*p, &end, 10));
        *p = end;
    } else {
        char *end;
        kn_mp_write_uint(o, strtoull(*p, &end, 10));
        assert_true(end != *p);
        *p = end;
    }
}

static void nt_write(kn_mp_out *o, const char *notation)
{
    const char *p = notation;
    nt_value(&p, o);
    nt_skip_ws(&p);
    assert_int_equal(*p, '\0');
    assert_int_equal(kn_mp_out_error(o), 0);
}

/* ---- an independent signer (no schema check), to build objects the real one refuses ---- */

static uint8_t *raw_object(const char *tname, const uint8_t sk[64], uint64_t created,
    const char *space, uint32_t nrefs, const char *body, size_t *len)
{
    static const char domain[16] = "knoten/object/1";
    kn_mp_out m, w;
    uint8_t sig[KN_SIG];
    kn_mp_out_init(&m, 0);
    kn_mp_out_init(&w, 0);
    kn_mp_write_raw(&m, (const uint8_t *)domain, 16);
    kn_mp_write_array(&m, 7);
    kn_mp_write_uint(&m, 1);
    kn_mp_write_cstr(&m, tname);
    kn_mp_write_bin(&m, sk + 32, 32);
    kn_mp_write_uint(&m, created);
    kn_mp_write_cstr(&m, space);
    kn_mp_write_array(&m, nrefs);
    for (uint32_t i = 0; i < nrefs; i++) {
        uint8_t ref[KN_ID];
        memset(ref, 0xa0 + (int)i, sizeof ref);
        kn_mp_write_bin(&m, ref, KN_ID);
    }
    nt_write(&m, body);
    kn_sign_detached(sig, m.buf, m.len, sk);
    kn_mp_write_array(&w, 8);
    kn_mp_write_raw(&w, m.buf + 17, m.len - 17);
    kn_mp_write_bin(&w, sig, KN_SIG);
    assert_int_equal(kn_mp_out_error(&w), 0);
    kn_mp_out_free(&m);
    return kn_mp_out_take(&w, len);
}

/* Signs through kn_object_sign, failing the test on any error. */
static int sign_draft(kn_otype type, const uint8_t sk[64], uint64_t created, const char *space,
    uint32_t nrefs, const char *body, uint8_t **out, size_t *len)
{
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    nt_write(&b, body);
    kn_object_draft d = { .type = type, .created = created, .space = space, .nrefs = nrefs };
    for (uint32_t i = 0; i < nrefs && i < KN_MAX_REFS; i++)
        memset(d.refs[i], 0xa0 + (int)i, KN_ID);
    d.body = b.buf;
    d.body_len = b.len;
    int rc = kn_object_sign(&d, sk, out, len);
    kn_mp_out_free(&b);
    return rc;
}

/* ---- one valid example of every type ---- */

typedef struct example {
    kn_otype type;
    const char *space;
    uint32_t nrefs;
    const char *body;
} example;

static const example valid[] = {
    { KN_T_NETWORK, "", 0, "{admit:2, description:'Kommunen im Rheinland', name:'Rheinland'}" },
    { KN_T_NETWORK, "", 0, "{admit:255, name:'N'}" },
    { KN_T_ADMIT, "", 1, "{ags:'05315000', name:'Stadt Köln', node:#32}" },
    { KN_T_ADMIT, "", 1, "{ags:'053150000000', name:'Stadt Köln', node:#32}" },
    { KN_T_ADMIT, "", 1, "{name:'Zweckverband', node:#32}" },
    { KN_T_REVOKE, "", 1, "{key:#32, reason:'Schlüssel verloren'}" },
    { KN_T_USER, "", 0,
        "{expertise:['Vergaberecht','Personal'], key:#32, lang:['de','en'], "
        "name:'Erika Mustermann', role:'Personalamt'}" },
    { KN_T_USER, "", 0, "{key:#32, name:'E', role:'R'}" },
    { KN_T_ADDR, "", 0, "{addrs:['knoten.koeln.de:7411', '192.0.2.1:7411']}" },
    { KN_T_DOC, "Vergaberecht", 0,
        "{description:'Vorlage', files:[{blob:#32, mime:'application/pdf', name:'Brief.pdf', "
        "size:12345}], kind:'letter', lang:'de', licence:'CC0', tags:['vergabe'], "
        "title:'Musterbrief', valid_from:1000, valid_until:1000}" },
    { KN_T_DOC, "Corona", 1,
        "{files:[{blob:#32, mime:'text/plain', name:'.profile', size:0}], kind:'other', "
        "title:'T'}" },
    { KN_T_THREAD, "Corona", 0, "{body:'', title:'Frage zur Testpflicht'}" },
    { KN_T_THREAD, "Corona", 1, "{body:'**neu**', tags:['test'], title:'Frage'}" },
    { KN_T_POST, "Corona", 2, "{body:'Antwort'}" },
    { KN_T_POST, "Corona", 3, "{body:'Antwort, bearbeitet'}" },
    { KN_T_LINK, "Corona", 0, "{title:'Portal', url:'https://example.org/a?b=c#d'}" },
    { KN_T_LINK, "Corona", 1,
        "{description:'d', tags:['x'], title:'Portal', url:'HTTP://user@example.org:8080'}" },
    { KN_T_POLL, "Corona", 0,
        "{count:'council', deadline:1700000000001, multiple:f, options:['ja','nein'], "
        "question:'Homeoffice?', show_early:t}" },
    { KN_T_VOTE, "Corona", 1, "{choices:[0, 2, 31]}" },
    { KN_T_EVENT, "Corona", 0,
        "{end:1700003600000, place:'Rathaus, Saal 2', start:1700000000000, title:'Treffen', "
        "tz:'Europe/Berlin'}" },
    { KN_T_EVENT, "Corona", 1,
        "{capacity:100, contact:'a@b.de', description:'d', end:5, group:'AG', langs:['de'], "
        "link:'https://meet.example.org/x', place:'', start:5, title:'Webinar', tz:'UTC'}" },
    { KN_T_RSVP, "Corona", 1, "{status:'maybe'}" },
    { KN_T_DM, "", 0, "{box:#48, to:#32}" },
    { KN_T_DM, "", 1, "{box:#60000, to:#32}" },
    { KN_T_RETRACT, "", 1, "{reason:'enthielt personenbezogene Daten'}" },
    { KN_T_RETRACT, "", 1, "{}" },
};

static void test_valid_examples(void **state)
{
    (void)state;
    uint8_t pk[KN_KEY], sk[64];
    bool covered[KN_T_MAX] = { false };
    keypair(1, pk, sk);
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        const example *e = &valid[i];
        uint8_t *buf = NULL, *raw;
        size_t len = 0, rlen = 0;
        kn_object o, o2;
        int rc = sign_draft(e->type, sk, NOW, e->space, e->nrefs, e->body, &buf, &len);
        if (rc != 0)
            fail_msg("valid example %zu (%s): sign gives %s", i, kn_otype_name((int)e->type),
                kn_errname(rc));
        assert_rc(0, kn_object_validate(&o, buf, len, NOW));
        assert_int_equal(o.type, e->type);
        assert_memory_equal(o.author, pk, KN_KEY);
        assert_int_equal(o.created, NOW);
        assert_int_equal(o.nrefs, e->nrefs);
        assert_int_equal(o.space_len, strlen(e->space));
        assert_ptr_equal(o.raw, buf);
        /* The id is BLAKE2b-256 of the whole encoding and the same on every decode. */
        uint8_t id[KN_ID];
        kn_blake2b(id, KN_ID, buf, len);
        assert_memory_equal(o.id, id, KN_ID);
        assert_rc(0, kn_object_decode(&o2, buf, len));
        assert_memory_equal(o2.id, o.id, KN_ID);
        /* With the id known, the same view; the id is the one given, not recomputed. */
        kn_object o3;
        uint8_t other[KN_ID] = { 7 };
        assert_rc(0, kn_object_decode_known(&o3, buf, len, id));
        assert_memory_equal(&o3, &o2, sizeof o3);
        assert_rc(0, kn_object_decode_known(&o3, buf, len, other));
        assert_memory_equal(o3.id, other, KN_ID);
        /* ... and just as strict about the bytes. */
        uint8_t *longer = malloc(len + 1);
        assert_non_null(longer);
        memcpy(longer, buf, len);
        longer[len] = 0xc0;
        assert_rc(KN_ETRAILING, kn_object_decode_known(&o3, longer, len + 1, id));
        free(longer);
        assert_rc(KN_EINVAL, kn_object_decode_known(&o3, buf, len, NULL));
        /* An independent encoder produces the very same bytes (Ed25519 is deterministic). */
        raw = raw_object(kn_otype_name((int)e->type), sk, NOW, e->space, e->nrefs, e->body, &rlen);
        assert_int_equal(rlen, len);
        assert_memory_equal(raw, buf, len);
        covered[e->type] = true;
        free(raw);
        free(buf);
    }
    for (int t = 1; t < KN_T_MAX; t++)
        if (!covered[t])
            fail_msg("no valid example for type %s", kn_otype_name(t));
}

/* ---- schema rejections ---- */

static const example invalid[] = {
    /* network */
    { KN_T_NETWORK, "", 0, "{admit:0, name:'N'}" },
    { KN_T_NETWORK, "", 0, "{admit:256, name:'N'}" },
    { KN_T_NETWORK, "", 0, "{admit:1}" },
    { KN_T_NETWORK, "", 0, "{admit:1, name:''}" },
    { KN_T_NETWORK, "", 0, "{admit:1, description:*4001, name:'N'}" },
    { KN_T_NETWORK, "", 0, "{admit:1, name:'N', zzz:1}" },
    { KN_T_NETWORK, "x", 0, "{admit:1, name:'N'}" },
    { KN_T_NETWORK, "", 1, "{admit:1, name:'N'}" },
    { KN_T_NETWORK, "", 0, "{admit:'1', name:'N'}" },
    /* admit */
    { KN_T_ADMIT, "", 1, "{ags:'0531500', name:'K', node:#32}" },
    { KN_T_ADMIT, "", 1, "{ags:'0531500a', name:'K', node:#32}" },
    { KN_T_ADMIT, "", 1, "{ags:'0531500000', name:'K', node:#32}" },
    { KN_T_ADMIT, "", 1, "{name:'K', node:#31}" },
    { KN_T_ADMIT, "", 0, "{name:'K', node:#32}" },
    { KN_T_ADMIT, "", 2, "{name:'K', node:#32}" },
    /* revoke */
    { KN_T_REVOKE, "", 1, "{key:#32, reason:''}" },
    { KN_T_REVOKE, "", 1, "{key:#32}" },
    { KN_T_REVOKE, "", 1, "{key:#32, reason:*1001}" },
    /* user */
    { KN_T_USER, "", 0, "{key:#32, lang:['d'], name:'E', role:'R'}" },
    { KN_T_USER, "", 0, "{expertise:[''], key:#32, name:'E', role:'R'}" },
    { KN_T_USER, "", 0, "{expertise:[*65], key:#32, name:'E', role:'R'}" },
    { KN_T_USER, "", 0,
        "{key:#32, lang:['de','de','de','de','de','de','de','de','de'], "
        "name:'E', role:'R'}" },
    { KN_T_USER, "", 0, "{key:#32, name:'E', role:*101}" },
    { KN_T_USER, "", 0, "{key:#32, name:'E'}" },
    /* addr */
    { KN_T_ADDR, "", 0, "{addrs:[]}" },
    { KN_T_ADDR, "", 0, "{addrs:['']}" },
    { KN_T_ADDR, "", 0, "{addrs:'a:1'}" },
    { KN_T_ADDR, "", 0,
        "{addrs:['a','a','a','a','a','a','a','a','a','a','a','a','a','a','a','a','a']}" },
    /* doc */
    { KN_T_DOC, "", 0, "{files:[{blob:#32, mime:'m', name:'n', size:1}], kind:'form', title:'T'}" },
    { KN_T_DOC, "V", 2,
        "{files:[{blob:#32, mime:'m', name:'n', size:1}], kind:'form', title:'T'}" },
    { KN_T_DOC, "V", 0,
        "{files:[{blob:#32, mime:'m', name:'n', size:1}], kind:'memo', title:'T'}" },
    { KN_T_DOC, "V", 0, "{files:[], kind:'form', title:'T'}" },
    { KN_T_DOC, "V", 0,
        "{files:[{blob:#32, mime:'m', name:'..', size:1}], kind:'form', title:'T'}" },
    { KN_T_DOC, "V", 0,
        "{files:[{blob:#32, mime:'m', name:'.', size:1}], kind:'form', title:'T'}" },
    { KN_T_DOC, "V", 0,
        "{files:[{blob:#32, mime:'m', name:'a/b', size:1}], kind:'form', title:'T'}" },
    { KN_T_DOC, "V", 0,
        "{files:[{blob:#32, mime:'m', name:'a\\b', size:1}], kind:'form', title:'T'}" },
    { KN_T_DOC, "V", 0, "{files:[{blob:#32, mime:'m', name:'n'}], kind:'form', title:'T'}" },
    { KN_T_DOC, "V", 0,
        "{files:[{blob:#32, mime:'m', name:'n', size:1, x:1}], kind:'form', title:'T'}" },
    { KN_T_DOC, "V", 0,
        "{files:[{blob:#32, mime:*128, name:'n', size:1}], kind:'form', title:'T'}" },
    { KN_T_DOC, "V", 0,
        "{files:[{blob:#32, mime:'m', name:'n', size:1}], kind:'form', title:*301}" },
    { KN_T_DOC, "V", 0,
        "{files:[{blob:#32, mime:'m', name:'n', size:1}], kind:'form', lang:'d', title:'T'}" },
    { KN_T_DOC, "V", 0,
        "{files:[{blob:#32, mime:'m', name:'n', size:1}], kind:'form', title:'T', "
        "valid_from:2, valid_until:1}" },
    /* thread */
    { KN_T_THREAD, "V", 0, "{body:*32001, title:'T'}" },
    { KN_T_THREAD, "V", 0, "{body:'b'}" },
    { KN_T_THREAD, "", 0, "{body:'b', title:'T'}" },
    { KN_T_THREAD, "V", 0, "{body:'b', tags:[*65], title:'T'}" },
    /* post */
    { KN_T_POST, "V", 2, "{body:''}" },
    { KN_T_POST, "V", 1, "{body:'b'}" },
    { KN_T_POST, "V", 4, "{body:'b'}" },
    { KN_T_POST, "V", 2, "{body:*32001}" },
    /* link */
    { KN_T_LINK, "V", 0, "{title:'T', url:'ftp://example.org'}" },
    { KN_T_LINK, "V", 0, "{title:'T', url:'https://'}" },
    { KN_T_LINK, "V", 0, "{title:'T', url:'https:///path'}" },
    { KN_T_LINK, "V", 0, "{title:'T', url:'https://user@/'}" },
    { KN_T_LINK, "V", 0, "{title:'T', url:'https://a b'}" },
    { KN_T_LINK, "V", 0, "{title:'T', url:'javascript:alert(1)'}" },
    { KN_T_LINK, "V", 0, "{title:'T', url:'https:/example.org'}" },
    { KN_T_LINK, "V", 0, "{title:'', url:'https://example.org'}" },
    { KN_T_LINK, "V", 0, "{title:'T', url:'https://example.org/\x7f'}" },
    { KN_T_LINK, "V", 0, "{title:'T', url:'https://example.org/\xc2\xa0'}" },
    /* poll */
    { KN_T_POLL, "V", 0,
        "{count:'user', deadline:1700000000000, multiple:f, options:['a','b'], "
        "question:'Q', show_early:f}" },
    { KN_T_POLL, "V", 0,
        "{count:'all', deadline:1800000000000, multiple:f, options:['a','b'], "
        "question:'Q', show_early:f}" },
    { KN_T_POLL, "V", 0,
        "{count:'user', deadline:1800000000000, multiple:f, options:['a'], "
        "question:'Q', show_early:f}" },
    { KN_T_POLL, "V", 0,
        "{count:'user', deadline:1800000000000, multiple:0, options:['a','b'], "
        "question:'Q', show_early:f}" },
    { KN_T_POLL, "V", 0,
        "{count:'user', deadline:1800000000000, multiple:f, options:['a','b'], "
        "question:'Q'}" },
    { KN_T_POLL, "V", 1,
        "{count:'user', deadline:1800000000000, multiple:f, options:['a','b'], "
        "question:'Q', show_early:f}" },
    /* vote */
    { KN_T_VOTE, "V", 1, "{choices:[2, 1]}" },
    { KN_T_VOTE, "V", 1, "{choices:[1, 1]}" },
    { KN_T_VOTE, "V", 1, "{choices:[32]}" },
    { KN_T_VOTE, "V", 1, "{choices:[]}" },
    { KN_T_VOTE, "V", 1, "{choices:[-1]}" },
    { KN_T_VOTE, "V", 0, "{choices:[1]}" },
    /* event */
    { KN_T_EVENT, "V", 0, "{end:1, place:'P', start:2, title:'T', tz:'UTC'}" },
    { KN_T_EVENT, "V", 0, "{end:2, start:1, title:'T', tz:'UTC'}" },
    { KN_T_EVENT, "V", 0, "{end:2, place:'', start:1, title:'T', tz:'UTC'}" },
    { KN_T_EVENT, "V", 0, "{end:2, link:'mailto:x@y', start:1, title:'T', tz:'UTC'}" },
    { KN_T_EVENT, "V", 0, "{end:2, place:'P', start:1, title:'T', tz:''}" },
    { KN_T_EVENT, "V", 0, "{end:2, place:'P', start:1, title:'T'}" },
    { KN_T_EVENT, "V", 0, "{end:2, langs:['x'], place:'P', start:1, title:'T', tz:'UTC'}" },
    /* rsvp */
    { KN_T_RSVP, "V", 1, "{status:'perhaps'}" },
    { KN_T_RSVP, "V", 0, "{status:'yes'}" },
    { KN_T_RSVP, "V", 1, "{}" },
    /* dm */
    { KN_T_DM, "", 0, "{box:#0, to:#32}" },
    { KN_T_DM, "", 0, "{box:#60001, to:#32}" },
    { KN_T_DM, "", 0, "{box:#4, to:#31}" },
    { KN_T_DM, "x", 0, "{box:#4, to:#32}" },
    { KN_T_DM, "", 2, "{box:#4, to:#32}" },
    { KN_T_DM, "", 0, "{box:'text', to:#32}" },
    /* retract */
    { KN_T_RETRACT, "", 0, "{}" },
    { KN_T_RETRACT, "", 1, "{reason:*1001}" },
    { KN_T_RETRACT, "V", 1, "{}" },
};

static void test_schema_rejects(void **state)
{
    (void)state;
    uint8_t pk[KN_KEY], sk[64];
    bool covered[KN_T_MAX] = { false };
    keypair(2, pk, sk);
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        const example *e = &invalid[i];
        size_t len = 0;
        kn_object o;
        uint8_t *buf
            = raw_object(kn_otype_name((int)e->type), sk, NOW, e->space, e->nrefs, e->body, &len);
        assert_rc(0, kn_object_decode(&o, buf, len));
        assert_rc(0, kn_object_verify(&o));
        int rc = kn_object_validate(&o, buf, len, NOW);
        if (rc != KN_ESCHEMA)
            fail_msg("invalid example %zu (%s %s): expected KN_ESCHEMA, got %s", i,
                kn_otype_name((int)e->type), e->body, kn_errname(rc));
        /* kn_object_sign refuses to produce it in the first place. */
        uint8_t *out = NULL;
        size_t olen = 0;
        assert_rc(
            KN_ESCHEMA, sign_draft(e->type, sk, NOW, e->space, e->nrefs, e->body, &out, &olen));
        assert_null(out);
        covered[e->type] = true;
        free(buf);
    }
    for (int t = 1; t < KN_T_MAX; t++)
        if (!covered[t])
            fail_msg("no invalid example for type %s", kn_otype_name(t));
}

/* ---- malformed and non-canonical encodings ---- */

enum { P_HDR, P_VER, P_TYPE, P_AUTHOR, P_CREATED, P_SPACE, P_REFS, P_BODY, P_SIG, P_TAIL, NPARTS };

typedef struct part {
    uint8_t *b;
    size_t len;
} part;

/* A valid signed post, kept as its parts. */
static void base_parts(part parts[NPARTS])
{
    static const char *const nt[NPARTS] = {
        [P_VER] = "1",
        [P_TYPE] = "'post'",
        [P_SPACE] = "'Corona'",
        [P_REFS] = "[#32,#32]",
        [P_BODY] = "{body:'Hallo'}",
    };
    uint8_t pk[KN_KEY], sk[64];
    keypair(3, pk, sk);
    for (int i = 0; i < NPARTS; i++) {
        kn_mp_out o;
        kn_mp_out_init(&o, 0);
        if (nt[i])
            nt_write(&o, nt[i]);
        else if (i == P_HDR)
            kn_mp_write_array(&o, 8);
        else if (i == P_AUTHOR)
            kn_mp_write_bin(&o, pk, KN_KEY);
        else if (i == P_CREATED)
            kn_mp_write_uint(&o, NOW);
        parts[i].b = kn_mp_out_take(&o, &parts[i].len);
    }
    /* The signature over the real parts. */
    kn_mp_out m;
    uint8_t sig[KN_SIG];
    kn_mp_out_init(&m, 0);
    kn_mp_write_raw(&m, (const uint8_t *)"knoten/object/1", 16);
    kn_mp_write_array(&m, 7);
    for (int i = P_VER; i <= P_BODY; i++)
        kn_mp_write_raw(&m, parts[i].b, parts[i].len);
    kn_sign_detached(sig, m.buf, m.len, sk);
    kn_mp_out_free(&m);
    kn_mp_out_init(&m, 0);
    kn_mp_write_bin(&m, sig, KN_SIG);
    parts[P_SIG].b = kn_mp_out_take(&m, &parts[P_SIG].len);
}

static uint8_t *assemble(part parts[NPARTS], size_t *len)
{
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    for (int i = 0; i < NPARTS; i++)
        kn_mp_write_raw(&o, parts[i].b, parts[i].len);
    return kn_mp_out_take(&o, len);
}

static void free_parts(part parts[NPARTS])
{
    for (int i = 0; i < NPARTS; i++)
        free(parts[i].b);
}

typedef struct malformed {
    const char *what;
    int part;
    const char *nt; /* replacement in notation, or */
    const char *raw; /* replacement as raw bytes (rawlen of them) */
    size_t rawlen;
    int expect;
} malformed;

#define RAW(s) NULL, s, sizeof(s) - 1
#define NT(s) s, NULL, 0

#define REFS17 "[#32,#32,#32,#32,#32,#32,#32,#32,#32,#32,#32,#32,#32,#32,#32,#32,#32]"

static const malformed cases[] = {
    { "array of 7", P_HDR, RAW("\x97"), KN_EARITY },
    { "array of 9", P_HDR, RAW("\x99"), KN_EARITY },
    { "array16 header for 8", P_HDR, RAW("\xdc\x00\x08"), KN_ENONCANON },
    { "array32 header for 8", P_HDR, RAW("\xdd\x00\x00\x00\x08"), KN_ENONCANON },
    { "map instead of array", P_HDR, RAW("\x84"), KN_ETYPE },
    { "version 2", P_VER, RAW("\x02"), KN_EVERSION },
    { "version 0", P_VER, RAW("\x00"), KN_EVERSION },
    { "version as uint8", P_VER, RAW("\xcc\x01"), KN_ENONCANON },
    { "version as uint64", P_VER, RAW("\xcf\x00\x00\x00\x00\x00\x00\x00\x01"), KN_ENONCANON },
    { "version as int8", P_VER, RAW("\xd0\x01"), KN_ENONCANON },
    { "version -1", P_VER, RAW("\xff"), KN_ETYPE },
    { "version nil", P_VER, RAW("\xc0"), KN_ENIL },
    { "version float32", P_VER, RAW("\xca\x3f\x80\x00\x00"), KN_EFLOAT },
    { "version float64", P_VER, RAW("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"), KN_EFLOAT },
    { "version fixext1", P_VER, RAW("\xd4\x01\x01"), KN_EEXT },
    { "version 0xc1", P_VER, RAW("\xc1"), KN_ETYPE },
    { "unknown type", P_TYPE, NT("'chair'"), KN_EOBJTYPE },
    { "empty type", P_TYPE, NT("''"), KN_EOBJTYPE },
    { "type with NUL", P_TYPE, RAW("\xa5post\x00"), KN_EOBJTYPE },
    { "type as str8", P_TYPE, RAW("\xd9\x04post"), KN_ENONCANON },
    { "type as str16", P_TYPE, RAW("\xda\x00\x04post"), KN_ENONCANON },
    { "type as bin", P_TYPE, RAW("\xc4\x04post"), KN_ETYPE },
    { "type overlong UTF-8", P_TYPE, RAW("\xa4po\xc0\xaf"), KN_EUTF8 },
    { "type surrogate", P_TYPE, RAW("\xa3\xed\xa0\x80"), KN_EUTF8 },
    { "author 31 bytes", P_AUTHOR, NT("#31"), KN_EKEYLEN },
    { "author 33 bytes", P_AUTHOR, NT("#33"), KN_EKEYLEN },
    { "author as str", P_AUTHOR, NT("*32"), KN_ETYPE },
    { "author as bin16", P_AUTHOR,
        RAW("\xc5\x00\x20"
            "0123456789abcdef0123456789abcdef"),
        KN_ENONCANON },
    { "created uint64 for small value", P_CREATED, RAW("\xcf\x00\x00\x00\x00\x00\x00\x00\x05"),
        KN_ENONCANON },
    { "created uint32 for 255", P_CREATED, RAW("\xce\x00\x00\x00\xff"), KN_ENONCANON },
    { "created negative", P_CREATED, NT("-1"), KN_ETYPE },
    { "created int64 positive", P_CREATED, RAW("\xd3\x00\x00\x01\x8b\xcf\xe5\x68\x00"),
        KN_ENONCANON },
    { "created ext8", P_CREATED, RAW("\xc7\x01\x01\x00"), KN_EEXT },
    { "space 65 bytes", P_SPACE, NT("*65"), KN_ETOOBIG },
    { "space with newline", P_SPACE,
        RAW("\xa3"
            "a\nb"),
        KN_ESCHEMA },
    { "space with NUL", P_SPACE,
        RAW("\xa3"
            "a\0b"),
        KN_ESCHEMA },
    { "space with DEL", P_SPACE,
        RAW("\xa3"
            "a\x7f"
            "b"),
        KN_ESCHEMA },
    { "space bad UTF-8", P_SPACE, RAW("\xa2\xc3\x28"), KN_EUTF8 },
    { "space nil", P_SPACE, RAW("\xc0"), KN_ENIL },
    { "17 refs", P_REFS, NT(REFS17), KN_ETOOBIG },
    { "ref 31 bytes", P_REFS, NT("[#32,#31]"), KN_EKEYLEN },
    { "ref as str", P_REFS, NT("[#32,*32]"), KN_ETYPE },
    { "refs array16 for 2", P_REFS, RAW("\xdc\x00\x02"), KN_ENONCANON },
    { "refs not an array", P_REFS, NT("#32"), KN_ETYPE },
    { "body unsorted keys", P_BODY, NT("{body:'x', abc:1}"), KN_EMAPORDER },
    { "body longer key first", P_BODY, NT("{ab:1, a:1}"), KN_EMAPORDER },
    { "body duplicate keys", P_BODY, NT("{body:'x', body:'y'}"), KN_EMAPORDER },
    { "body nested unsorted", P_BODY, NT("{a:[{y:1, x:1}]}"), KN_EMAPORDER },
    { "body key not a string", P_BODY, NT("{1:1}"), KN_ETYPE },
    { "body key bin", P_BODY, NT("{#1:1}"), KN_ETYPE },
    { "body an array", P_BODY, NT("['body']"), KN_ETYPE },
    { "body nil", P_BODY, RAW("\xc0"), KN_ENIL },
    { "body float", P_BODY, RAW("\x81\xa1x\xca\x00\x00\x00\x00"), KN_EFLOAT },
    { "body nil value", P_BODY, NT("{body:~}"), KN_ENIL },
    { "body ext value", P_BODY, RAW("\x81\xa1x\xd5\x01\x00\x00"), KN_EEXT },
    { "body map16 for 1", P_BODY, RAW("\xde\x00\x01\xa1x\x01"), KN_ENONCANON },
    { "body str8 for 3 bytes", P_BODY,
        RAW("\x81\xa1x\xd9\x03"
            "abc"),
        KN_ENONCANON },
    { "body negative int8 fits fixint", P_BODY, RAW("\x81\xa1x\xd0\xf0"), KN_ENONCANON },
    { "body int16 fits int8", P_BODY, RAW("\x81\xa1x\xd1\xff\x80"), KN_ENONCANON },
    { "body 0xc1", P_BODY, RAW("\x81\xa1x\xc1"), KN_ETYPE },
    { "body arrays 5 deep", P_BODY, NT("{a:[[[[[1]]]]]}"), KN_EDEPTH },
    { "body maps 5 deep", P_BODY, NT("{a:{b:{c:{d:{e:{f:1}}}}}}"), KN_EDEPTH },
    { "body arrays 4 deep", P_BODY, NT("{a:[[[[1]]]]}"), 0 },
    { "body maps 4 deep", P_BODY, NT("{a:{b:{c:{d:{e:1}}}}}"), 0 },
    { "body bad UTF-8 value", P_BODY, RAW("\x81\xa1x\xa4\xf4\x90\x80\x80"), KN_EUTF8 },
    { "body truncated UTF-8", P_BODY, RAW("\x81\xa1x\xa2\xe2\x82"), KN_EUTF8 },
    { "body claims more entries (sig read as key)", P_BODY, RAW("\x83\xa1x\x01"), KN_ETYPE },
    { "sig 63 bytes", P_SIG, NT("#63"), KN_EKEYLEN },
    { "sig 65 bytes", P_SIG, NT("#65"), KN_EKEYLEN },
    { "sig as str", P_SIG, NT("*64"), KN_ETYPE },
    { "sig missing", P_SIG, RAW(""), KN_ETRUNC },
    { "one trailing byte", P_TAIL, RAW("\x00"), KN_ETRAILING },
    { "a second object's header trailing", P_TAIL, RAW("\x98"), KN_ETRAILING },
};

static void test_malformed(void **state)
{
    (void)state;
    size_t n = sizeof cases / sizeof cases[0];
    assert_true(n >= 25);
    for (size_t i = 0; i < n; i++) {
        const malformed *c = &cases[i];
        part parts[NPARTS];
        base_parts(parts);
        free(parts[c->part].b);
        kn_mp_out o;
        kn_mp_out_init(&o, 0);
        if (c->nt)
            nt_write(&o, c->nt);
        else
            kn_mp_write_raw(&o, (const uint8_t *)c->raw, c->rawlen);
        parts[c->part].b = kn_mp_out_take(&o, &parts[c->part].len);
        size_t len;
        uint8_t *buf = assemble(parts, &len);
        kn_object obj;
        int rc = kn_object_decode(&obj, buf, len);
        if (rc != c->expect)
            fail_msg("case %zu \"%s\": expected %s, got %s", i, c->what, kn_errname(c->expect),
                kn_errname(rc));
        /* validate never accepts what decode refused. */
        if (c->expect != 0)
            assert_rc(c->expect, kn_object_validate(&obj, buf, len, NOW));
        free(buf);
        free_parts(parts);
    }
}

static void test_base_and_truncation(void **state)
{
    (void)state;
    part parts[NPARTS];
    base_parts(parts);
    size_t len;
    uint8_t *buf = assemble(parts, &len);
    kn_object o;
    assert_rc(0, kn_object_validate(&o, buf, len, NOW));
    /* Every proper prefix is truncated, including the empty one. */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *prefix = malloc(cut ? cut : 1);
        memcpy(prefix, buf, cut);
        int rc = kn_object_decode(&o, prefix, cut);
        if (rc != KN_ETRUNC)
            fail_msg(
                "prefix of %zu/%zu bytes: expected KN_ETRUNC, got %s", cut, len, kn_errname(rc));
        free(prefix);
    }
    assert_rc(KN_ETRUNC, kn_object_decode(&o, NULL, 0));
    free(buf);
    free_parts(parts);
}

/* Objects at and just over the 64 KiB limit (decoding only: the dm box limit is lower). */
static void test_size_limit(void **state)
{
    (void)state;
    uint8_t pk[KN_KEY], sk[64];
    keypair(4, pk, sk);
    size_t len;
    kn_object o;
    uint8_t *probe = raw_object("dm", sk, NOW, "", 0, "{box:#65000, to:#32}", &len);
    free(probe);
    size_t box = 65000 + (KN_OBJECT_MAX - len);
    char body[64];
    snprintf(body, sizeof body, "{box:#%zu, to:#32}", box);
    uint8_t *at = raw_object("dm", sk, NOW, "", 0, body, &len);
    assert_int_equal(len, KN_OBJECT_MAX);
    assert_rc(0, kn_object_decode(&o, at, len));
    assert_rc(0, kn_object_verify(&o));
    assert_rc(KN_ESCHEMA, kn_object_check_schema(&o)); /* box > 60000 */
    free(at);
    snprintf(body, sizeof body, "{box:#%zu, to:#32}", box + 1);
    uint8_t *over = raw_object("dm", sk, NOW, "", 0, body, &len);
    assert_int_equal(len, KN_OBJECT_MAX + 1);
    assert_rc(KN_ETOOBIG, kn_object_decode(&o, over, len));
    assert_rc(KN_ETOOBIG, kn_object_validate(&o, over, len, NOW));
    free(over);
    /* The signer refuses to build an object over the limit. */
    uint8_t *out = NULL;
    size_t olen = 0;
    assert_rc(KN_ETOOBIG, sign_draft(KN_T_DM, sk, NOW, "", 0, "{box:#70000, to:#32}", &out, &olen));
    assert_null(out);
}

/* Every single-bit flip of a valid signed object is refused. */
static void test_bit_flips(void **state)
{
    (void)state;
    uint8_t pk[KN_KEY], sk[64];
    keypair(5, pk, sk);
    const char *bodies[] = {
        "{body:'Antwort'}",
        "{files:[{blob:#32, mime:'application/pdf', name:'a.pdf', size:300}], kind:'form', "
        "title:'T', valid_from:1, valid_until:2}",
    };
    const kn_otype types[] = { KN_T_POST, KN_T_DOC };
    const uint32_t nrefs[] = { 2, 1 };
    for (size_t k = 0; k < 2; k++) {
        uint8_t *buf;
        size_t len;
        kn_object o, orig;
        assert_rc(0, sign_draft(types[k], sk, NOW, "Raum", nrefs[k], bodies[k], &buf, &len));
        assert_rc(0, kn_object_validate(&orig, buf, len, NOW));
        uint8_t id[KN_ID];
        memcpy(id, orig.id, KN_ID);
        for (size_t i = 0; i < len; i++) {
            for (int bit = 0; bit < 8; bit++) {
                buf[i] ^= (uint8_t)(1u << bit);
                int rc = kn_object_validate(&o, buf, len, NOW);
                if (rc == 0)
                    fail_msg("flip of byte %zu bit %d still validates", i, bit);
                if (kn_object_decode(&o, buf, len) == 0 && memcmp(o.id, id, KN_ID) == 0)
                    fail_msg("flip of byte %zu bit %d keeps the id", i, bit);
                buf[i] ^= (uint8_t)(1u << bit);
            }
        }
        assert_rc(0, kn_object_validate(&o, buf, len, NOW));
        free(buf);
    }
}

static void test_signature(void **state)
{
    (void)state;
    uint8_t pk[KN_KEY], sk[64], pk2[KN_KEY], sk2[64];
    keypair(6, pk, sk);
    keypair(7, pk2, sk2);
    uint8_t *buf;
    size_t len;
    kn_object o;
    assert_rc(0, sign_draft(KN_T_RSVP, sk, NOW, "Raum", 1, "{status:'yes'}", &buf, &len));
    assert_rc(0, kn_object_decode(&o, buf, len));
    /* Another author's key in place of the signer's. */
    memcpy((uint8_t *)o.author, pk2, KN_KEY);
    assert_rc(0, kn_object_decode(&o, buf, len));
    assert_rc(KN_ESIG, kn_object_verify(&o));
    assert_rc(KN_ESIG, kn_object_validate(&o, buf, len, NOW));
    memcpy((uint8_t *)o.author, pk, KN_KEY);
    assert_rc(0, kn_object_validate(&o, buf, len, NOW));
    /* An all-zero signature. */
    memset((uint8_t *)o.sig, 0, KN_SIG);
    assert_rc(KN_ESIG, kn_object_validate(&o, buf, len, NOW));
    free(buf);
    /* A signature without the domain string does not verify. */
    uint8_t *good;
    assert_rc(0, sign_draft(KN_T_RSVP, sk, NOW, "Raum", 1, "{status:'no'}", &good, &len));
    assert_rc(0, kn_object_decode(&o, good, len));
    uint8_t sig[KN_SIG];
    uint8_t *msg = malloc(len);
    msg[0] = 0x97;
    memcpy(msg + 1, good + 1, (size_t)(o.sig - good) - 3);
    kn_sign_detached(sig, msg, (size_t)(o.sig - good) - 2, sk);
    memcpy((uint8_t *)o.sig, sig, KN_SIG);
    assert_rc(KN_ESIG, kn_object_validate(&o, good, len, NOW));
    free(msg);
    free(good);
}

static void test_future(void **state)
{
    (void)state;
    uint8_t pk[KN_KEY], sk[64];
    keypair(8, pk, sk);
    uint8_t *buf;
    size_t len;
    kn_object o;
    const uint64_t created = NOW + KN_FUTURE_SKEW_MS;
    assert_rc(0, sign_draft(KN_T_RSVP, sk, created, "R", 1, "{status:'yes'}", &buf, &len));
    assert_rc(0, kn_object_validate(&o, buf, len, NOW));
    assert_rc(KN_EFUTURE, kn_object_validate(&o, buf, len, NOW - 1));
    assert_rc(0, kn_object_validate(&o, buf, len, UINT64_MAX));
    free(buf);
    assert_rc(0, sign_draft(KN_T_RSVP, sk, UINT64_MAX, "R", 1, "{status:'yes'}", &buf, &len));
    assert_rc(KN_EFUTURE, kn_object_validate(&o, buf, len, NOW));
    assert_rc(KN_EFUTURE, kn_object_validate(&o, buf, len, 0));
    assert_rc(0, kn_object_validate(&o, buf, len, UINT64_MAX - KN_FUTURE_SKEW_MS));
    free(buf);
}

static void test_otype_names(void **state)
{
    (void)state;
    for (int t = 1; t < KN_T_MAX; t++) {
        const char *n = kn_otype_name(t);
        assert_non_null(n);
        assert_int_equal(kn_otype_from_name(n, strlen(n)), t);
    }
    assert_null(kn_otype_name(0));
    assert_null(kn_otype_name(KN_T_MAX));
    assert_null(kn_otype_name(-1));
    assert_string_equal(kn_otype_name(KN_T_THREAD), "thread");
    assert_rc(KN_EOBJTYPE, kn_otype_from_name("threads", 7));
    assert_rc(KN_EOBJTYPE, kn_otype_from_name("threa", 5));
    assert_rc(KN_EOBJTYPE, kn_otype_from_name("Thread", 6));
    assert_rc(KN_EOBJTYPE, kn_otype_from_name("", 0));
}

static void test_field_reads(void **state)
{
    (void)state;
    uint8_t pk[KN_KEY], sk[64];
    keypair(9, pk, sk);
    uint8_t *buf;
    size_t len;
    kn_object o;
    assert_rc(0,
        sign_draft(KN_T_ADMIT, sk, NOW, "", 1, "{ags:'05315000', name:'Stadt Köln', node:#32}",
            &buf, &len));
    assert_rc(0, kn_object_validate(&o, buf, len, NOW));
    const char *s;
    uint32_t sl;
    const uint8_t *b;
    uint64_t u;
    kn_mp_in v;
    assert_rc(0, kn_object_str(&o, "name", &s, &sl));
    assert_int_equal(sl, strlen("Stadt Köln"));
    assert_memory_equal(s, "Stadt Köln", sl);
    assert_rc(0, kn_object_str(&o, "ags", &s, &sl));
    assert_int_equal(sl, 8);
    assert_rc(0, kn_object_bin(&o, "node", &b, &sl));
    assert_int_equal(sl, 32);
    assert_int_equal(b[0], 0x11);
    assert_rc(KN_ETYPE, kn_object_uint(&o, "name", &u));
    assert_rc(KN_ETYPE, kn_object_str(&o, "node", &s, &sl));
    assert_rc(KN_ENOTFOUND, kn_object_str(&o, "a", &s, &sl));
    assert_rc(KN_ENOTFOUND, kn_object_str(&o, "nam", &s, &sl));
    assert_rc(KN_ENOTFOUND, kn_object_str(&o, "zzz", &s, &sl));
    assert_rc(KN_ENOTFOUND, kn_object_field(&o, "", &v));
    assert_rc(0, kn_object_field(&o, "node", &v));
    assert_int_equal(kn_mp_peek(&v), KN_MP_BIN);
    free(buf);
    assert_rc(0,
        sign_draft(KN_T_POLL, sk, NOW, "R", 0,
            "{count:'user', deadline:1800000000000, multiple:t, "
            "options:['a','b'], question:'Q', show_early:f}",
            &buf, &len));
    assert_rc(0, kn_object_validate(&o, buf, len, NOW));
    assert_rc(0, kn_object_uint(&o, "deadline", &u));
    assert_int_equal(u, 1800000000000ull);
    assert_rc(0, kn_object_field(&o, "show_early", &v));
    bool flag = true;
    assert_rc(0, kn_mp_read_bool(&v, &flag));
    assert_false(flag);
    free(buf);
}

static void test_sign_arguments(void **state)
{
    (void)state;
    uint8_t pk[KN_KEY], sk[64];
    keypair(10, pk, sk);
    uint8_t *out = (uint8_t *)1;
    size_t len = 1;
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    nt_write(&b, "{status:'yes'}");
    kn_object_draft d = { .type = KN_T_RSVP,
        .created = NOW,
        .space = "R",
        .nrefs = 1,
        .body = b.buf,
        .body_len = b.len };
    d.type = (kn_otype)0;
    assert_rc(KN_EINVAL, kn_object_sign(&d, sk, &out, &len));
    assert_null(out);
    d.type = KN_T_MAX;
    assert_rc(KN_EINVAL, kn_object_sign(&d, sk, &out, &len));
    d.type = KN_T_RSVP;
    d.nrefs = KN_MAX_REFS + 1;
    assert_rc(KN_EINVAL, kn_object_sign(&d, sk, &out, &len));
    d.nrefs = 1;
    d.space = NULL;
    assert_rc(KN_EINVAL, kn_object_sign(&d, sk, &out, &len));
    d.space = "R";
    /* A body that is not canonical is refused by the decode inside sign. */
    const uint8_t unsorted[] = { 0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0x01 };
    d.body = unsorted;
    d.body_len = sizeof unsorted;
    assert_rc(KN_EMAPORDER, kn_object_sign(&d, sk, &out, &len));
    assert_null(out);
    d.body = b.buf;
    d.body_len = b.len;
    assert_rc(0, kn_object_sign(&d, sk, &out, &len));
    free(out);
    kn_mp_out_free(&b);
}

int main(void)
{
    if (kn_crypto_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_otype_names),
        cmocka_unit_test(test_valid_examples),
        cmocka_unit_test(test_schema_rejects),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_base_and_truncation),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_future),
        cmocka_unit_test(test_field_reads),
        cmocka_unit_test(test_sign_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
