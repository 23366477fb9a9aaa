/*
 * gen_objects: signs N forum threads with a node's identity key and writes
 * them as `knoten export` JSON lines ({"raw": base64}), for `knoten import`.
 *
 * The replication tests and benchmarks need thousands of objects by the
 * network's founder quickly; `knoten thread` in a loop costs a process and a
 * store transaction per object. The node's own key is read from its data
 * directory (identity.key); the store is not opened, so the node may run.
 *
 *   gen_objects --data DIR --count N [--body-bytes B] [--space AREA] > FILE
 *
 * `created` runs from now upwards in steps of 1/8 ms (several objects share
 * a millisecond), so the objects are newer than anything the node has and a
 * running node publishes them when `knoten import` stores them. Prints the
 * number of objects and the sum of their encoded sizes to stderr.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "crypto.h"
#include "datadir.h"
#include "env_system.h"
#include "object.h"
#include "objjson.h"

static int usage(void)
{
    fprintf(stderr, "usage: gen_objects --data DIR --count N [--body-bytes B] [--space AREA]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = { { "data", required_argument, 0, 'd' },
        { "count", required_argument, 0, 'n' }, { "body-bytes", required_argument, 0, 'b' },
        { "space", required_argument, 0, 's' }, { 0, 0, 0, 0 } };
    const char *dir = NULL, *space = "Bench";
    long count = 0, body_bytes = 200;
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            dir = optarg;
            break;
        case 'n':
            count = strtol(optarg, NULL, 10);
            break;
        case 'b':
            body_bytes = strtol(optarg, NULL, 10);
            break;
        case 's':
            space = optarg;
            break;
        default:
            return usage();
        }
    }
    if (!dir || count <= 0 || body_bytes < 0 || body_bytes > 60000)
        return usage();
    if (kn_crypto_init() < 0)
        return 1;
    char path[KN_PATH_MAX + 32];
    uint8_t seed[32], pk[32], sk[64];
    snprintf(path, sizeof path, "%s/identity.key", dir);
    if (kn_secret_file_read(path, seed, sizeof seed) < 0) {
        fprintf(stderr, "gen_objects: cannot read %s\n", path);
        return 1;
    }
    kn_sign_keypair_from_seed(pk, sk, seed);
    kn_memzero(seed, sizeof seed);

    char *text = malloc((size_t)body_bytes + 1);
    char *b64 = malloc(4 * ((KN_OBJECT_MAX + 2) / 3) + 1);
    if (!text || !b64)
        return 1;
    for (long i = 0; i < body_bytes; i++)
        text[i] = "abcdefghijklmnopqrstuvwxyz ."[i % 28];
    text[body_bytes] = 0;
    uint64_t start = kn_env_now(kn_env_system());
    uint64_t total = 0;
    int rc = 0;
    for (long i = 0; i < count && rc == 0; i++) {
        char title[64];
        snprintf(title, sizeof title, "Bench thread %ld", i);
        kn_mp_out body;
        kn_mp_out_init(&body, KN_OBJECT_MAX);
        /* Keys in bytewise order: body, tags, title. */
        kn_mp_write_map(&body, 3);
        kn_mp_write_cstr(&body, "body");
        kn_mp_write_cstr(&body, text);
        kn_mp_write_cstr(&body, "tags");
        kn_mp_write_array(&body, 0);
        kn_mp_write_cstr(&body, "title");
        kn_mp_write_cstr(&body, title);
        kn_object_draft d = { .type = KN_T_THREAD,
            .created = start + (uint64_t)i / 8,
            .space = space,
            .body = body.buf,
            .body_len = body.len };
        uint8_t *raw = NULL;
        size_t len = 0;
        if ((rc = kn_mp_out_error(&body)) == 0 && (rc = kn_object_sign(&d, sk, &raw, &len)) == 0) {
            kn_base64_encode(b64, raw, len);
            printf("{\"raw\":\"%s\"}\n", b64);
            total += len;
        }
        free(raw);
        kn_mp_out_free(&body);
    }
    kn_memzero(sk, sizeof sk);
    free(text);
    free(b64);
    if (rc < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "gen_objects: %s\n", rc < 0 ? kn_strerror(rc) : "cannot write");
        return 1;
    }
    fprintf(
        stderr, "gen_objects: %ld objects, %llu bytes encoded\n", count, (unsigned long long)total);
    return 0;
}
