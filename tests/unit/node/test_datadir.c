/*
 * The data directory: key files are 0600 and refused when readable by others
 * or of the wrong size; base64 and hex round trips used by export/import.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto.h"
#include "datadir.h"
#include "hex.h"
#include "objjson.h"

static char *tmpdir(void)
{
    char *d = strdup("/tmp/knoten-test-datadir-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rmtree(const char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static void test_secret_file_modes(void **state)
{
    (void)state;
    char *d = tmpdir();
    char p[600];
    snprintf(p, sizeof p, "%s/k.key", d);
    uint8_t key[32], back[32];
    memset(key, 0xab, sizeof key);
    assert_int_equal(kn_secret_file_write(p, key, sizeof key), 0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(kn_secret_file_read(p, back, sizeof back), 0);
    assert_memory_equal(key, back, sizeof key);
    /* Wrong size: refused as corrupt. */
    assert_int_equal(kn_secret_file_read(p, back, 31), KN_ECORRUPT);
    /* Readable by others: refused. */
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(kn_secret_file_read(p, back, sizeof back), KN_EPERM);
    snprintf(p, sizeof p, "%s/missing.key", d);
    assert_int_equal(kn_secret_file_read(p, back, sizeof back), KN_ENOTFOUND);
    rmtree(d);
    free(d);
}

static void test_create_and_open(void **state)
{
    (void)state;
    char *d = tmpdir();
    char node[600];
    snprintf(node, sizeof node, "%s/sub/node", d);
    kn_env_seeded env;
    kn_env_seeded_init(&env, 7, 1000);
    uint8_t nk[32];
    memset(nk, 0x11, sizeof nk);
    assert_false(kn_datadir_exists(node));
    assert_int_equal(kn_datadir_create(node, &env.env, nk), 0);
    assert_true(kn_datadir_exists(node));
    assert_int_equal(kn_datadir_create(node, &env.env, nk), KN_EEXIST);
    struct stat st;
    assert_int_equal(stat(node, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    kn_datadir dd;
    assert_int_equal(kn_datadir_open(&dd, node, NULL), 0);
    assert_true(dd.has_network_key);
    assert_memory_equal(dd.network_key, nk, 32);
    uint8_t pk[32];
    memcpy(pk, dd.identity_pk, 32);
    kn_datadir_close(&dd);
    /* The identity is stable across opens. */
    assert_int_equal(kn_datadir_open(&dd, node, NULL), 0);
    assert_memory_equal(pk, dd.identity_pk, 32);
    kn_datadir_close(&dd);
    rmtree(d);
    free(d);
}

static void test_base64_hex(void **state)
{
    (void)state;
    uint8_t in[70], out[70];
    char b64[100], hex[141];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 1);
    for (size_t n = 0; n <= sizeof in; n++) {
        kn_base64_encode(b64, in, n);
        assert_int_equal(strlen(b64), 4 * ((n + 2) / 3));
        assert_int_equal(kn_base64_decode(out, sizeof out, b64, strlen(b64)), (int)n);
        assert_memory_equal(in, out, n);
    }
    assert_int_equal(kn_base64_decode(out, sizeof out, "QUJD=", 5), KN_EINVAL);
    assert_int_equal(kn_base64_decode(out, sizeof out, "Q=JD", 4), KN_EINVAL);
    assert_int_equal(kn_base64_decode(out, sizeof out, "QU!D", 4), KN_EINVAL);
    assert_int_equal(kn_base64_decode(out, 2, "QUJD", 4), KN_ETOOBIG);
    kn_hex_encode(hex, in, 32);
    assert_int_equal(kn_hex_decode(out, 32, hex, 64), 0);
    assert_memory_equal(in, out, 32);
    assert_int_equal(kn_hex_decode(out, 32, hex, 63), KN_EINVAL);
    hex[5] = 'g';
    assert_int_equal(kn_hex_decode(out, 32, hex, 64), KN_EINVAL);
}

int main(void)
{
    if (kn_crypto_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_file_modes),
        cmocka_unit_test(test_create_and_open),
        cmocka_unit_test(test_base64_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
