/*
 * kn_negentropy_harness: our Negentropy engine behind the line protocol of the
 * reference's cross-implementation suite (hoytech/negentropy, test/), so that
 * fuzz.pl, protoversion.pl and test.pl can drive it against the C++ reference.
 *
 * stdin, one command a line:
 *   item,<timestamp>,<64 hex>   add an item (before seal)
 *   seal                        sort the items and create the engine
 *   initiate                    become the client; prints msg,<hex>
 *   msg,<hex>                   a peer message (hex may be empty). As server:
 *                               prints msg,<hex>. As client: prints have,<id>
 *                               and need,<id> lines, then msg,<hex> or done.
 * FRAMESIZELIMIT in the environment sets the frame size limit (0: none).
 * Any error ends the process with a message on stderr and exit status 1, as
 * the reference harness does by throwing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "negentropy.h"

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kn_negentropy_harness: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes hex in place into out (which may alias hex); returns the byte count. */
static size_t from_hex(const char *hex, size_t len, uint8_t *out)
{
    if (len % 2)
        die("odd-length hex");
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            die("bad hex digit");
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return len / 2;
}

static void put_hex(const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char chunk[4096];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        chunk[n++] = digits[p[i] >> 4];
        chunk[n++] = digits[p[i] & 15];
        if (n == sizeof chunk) {
            fwrite(chunk, 1, n, stdout);
            n = 0;
        }
    }
    fwrite(chunk, 1, n, stdout);
}

static void put_msg(const uint8_t *p, size_t len, uint64_t limit, const char *who)
{
    if (limit && len > limit)
        die("%s frameSizeLimit exceeded: %zu > %llu", who, len, (unsigned long long)limit);
    fputs("msg,", stdout);
    put_hex(p, len);
    fputc('\n', stdout);
    fflush(stdout);
}

static void put_ids(const char *label, const kn_neg_ids *ids)
{
    for (size_t i = 0; i < ids->count; i++) {
        fputs(label, stdout);
        put_hex(ids->ids[i], KN_NEG_ID);
        fputc('\n', stdout);
    }
}

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        die("bad %s: %s", what, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        die("bad %s: %s", what, s);
    return v;
}

int main(void)
{
    uint64_t limit = 0;
    const char *env = getenv("FRAMESIZELIMIT");
    if (env && *env)
        limit = parse_u64(env, "FRAMESIZELIMIT");
    if (kn_crypto_init() < 0)
        die("crypto init failed");

    kn_neg_vector *vec;
    kn_neg *neg = NULL;
    bool initiator = false;
    int rc = kn_neg_vector_new(&vec);
    if (rc < 0)
        die("%s", kn_strerror(rc));

    char *line = NULL;
    size_t line_cap = 0;
    ssize_t got;
    while ((got = getline(&line, &line_cap, stdin)) >= 0) {
        size_t len = (size_t)got;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!len)
            continue;

        char *comma = strchr(line, ',');
        size_t cmd_len = comma ? (size_t)(comma - line) : len;
        const uint8_t *out;
        size_t out_len;

        if (cmd_len == 4 && !memcmp(line, "item", 4)) {
            char *ts = comma + 1, *hex = strchr(ts, ',');
            if (!hex || strchr(hex + 1, ','))
                die("wrong num of fields");
            *hex++ = '\0';
            uint8_t id[KN_NEG_ID];
            if (strlen(hex) != 2 * KN_NEG_ID)
                die("bad id size for added item");
            from_hex(hex, 2 * KN_NEG_ID, id);
            if ((rc = kn_neg_vector_insert(vec, parse_u64(ts, "timestamp"), id)) < 0)
                die("insert: %s", kn_strerror(rc));
        } else if (cmd_len == 4 && !memcmp(line, "seal", 4)) {
            if ((rc = kn_neg_vector_seal(vec)) < 0)
                die("seal: %s", kn_strerror(rc));
            kn_neg_storage st = kn_neg_vector_storage(vec);
            if ((rc = kn_neg_new(&neg, &st, limit)) < 0)
                die("new: %s", kn_strerror(rc));
        } else if (cmd_len == 8 && !memcmp(line, "initiate", 8)) {
            if (!neg)
                die("initiate before seal");
            if ((rc = kn_neg_initiate(neg, &out, &out_len)) < 0)
                die("initiate: %s", kn_strerror(rc));
            initiator = true;
            put_msg(out, out_len, limit, "initiate");
        } else if (cmd_len == 3 && !memcmp(line, "msg", 3)) {
            if (!neg)
                die("msg before seal");
            const char *hex = comma ? comma + 1 : "";
            const char *stop = strchr(hex, ',');
            size_t hex_len = stop ? (size_t)(stop - hex) : strlen(hex);
            uint8_t *in = (uint8_t *)line; /* decoded in place, behind the read position */
            size_t in_len = from_hex(hex, hex_len, in);
            if (initiator) {
                kn_neg_ids have = { 0 }, need = { 0 };
                rc = kn_neg_reconcile_client(neg, in, in_len, &out, &out_len, &have, &need);
                if (rc < 0)
                    die("reconcile (client): %s", kn_strerror(rc));
                put_ids("have,", &have);
                put_ids("need,", &need);
                kn_neg_ids_free(&have);
                kn_neg_ids_free(&need);
                if (rc == KN_NEG_DONE) {
                    fputs("done\n", stdout);
                    fflush(stdout);
                    continue;
                }
                put_msg(out, out_len, limit, "initiator");
            } else {
                if ((rc = kn_neg_reconcile_server(neg, in, in_len, &out, &out_len)) < 0)
                    die("reconcile (server): %s", kn_strerror(rc));
                put_msg(out, out_len, limit, "non-initiator");
            }
        } else {
            die("unknown cmd: %.*s", (int)cmd_len, line);
        }
    }
    free(line);
    kn_neg_free(neg);
    kn_neg_vector_free(vec);
    return 0;
}
