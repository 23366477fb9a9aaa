/*
 * Signed objects: decode, sign, verify, validate and the body schemas.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "crypto.h"
#include "error.h"
#include "object.h"

#define assert_rc(expected, actual)                                                                \
    do {                                                                                           \
        int rc_ = (actual);                                                                        \
        if (rc_ != (expected))                                                                     \
            fail_msg("%s: expected %s, got %s (%d)", #actual, kn_errname(expected),                \
                kn_errname(rc_), rc_);                                                             \
    } while (0)

static const uint64_t NOW = 1700000000000ull;

static void keypair(uint8_t seedbyte, uint8_t pk[KN_KEY], uint8_t sk[64])
{
    uint8_t seed[KN_SIGN_SEED];
    memset(seed, seedbyte, sizeof seed);
    kn_sign_keypair_from_seed(pk, sk, seed);
}

static void post_body(kn_mp_out *b, const char *text)
{
    kn_mp_write_map(b, 1);
    kn_mp_write_cstr(b, "body");
    kn_mp_write_cstr(b, text);
}

static void test_sign_roundtrip(void **state)
{
    (void)state;
    uint8_t pk[KN_KEY], sk[64];
    keypair(1, pk, sk);
    kn_mp_out b;
    kn_mp_out_init(&b, 0);
    post_body(&b, "Hallo");
    kn_object_draft d = { .type = KN_T_POST, .created = NOW, .space = "Corona", .nrefs = 2 };
    memset(d.refs[0], 0xaa, KN_ID);
    memset(d.refs[1], 0xbb, KN_ID);
    d.body = b.buf;
    d.body_len = b.len;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_rc(0, kn_object_sign(&d, sk, &buf, &len));
    kn_object o;
    assert_rc(0, kn_object_validate(&o, buf, len, NOW));
    assert_int_equal(o.type, KN_T_POST);
    assert_memory_equal(o.author, pk, KN_KEY);
    assert_int_equal(o.nrefs, 2);
    const char *s;
    uint32_t sl;
    assert_rc(0, kn_object_str(&o, "body", &s, &sl));
    assert_int_equal(sl, 5);
    assert_memory_equal(s, "Hallo", 5);
    assert_rc(KN_ENOTFOUND, kn_object_str(&o, "nope", &s, &sl));
    free(buf);
    kn_mp_out_free(&b);
}

int main(void)
{
    if (kn_crypto_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
