/*
 * The configured peer list and DATA/peers.state: address parsing, the
 * stored encoding (round trip, and strict refusal of anything else), the
 * add/remove edits, and the state file written by the node for `peer ls`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec.h"
#include "peer_config.h"
#include "peer_state.h"

static void test_hostport(void **state)
{
    (void)state;
    char host[KN_HOST_MAX + 1];
    uint16_t port;
    static const struct {
        const char *s, *host;
        unsigned port;
    } good[] = {
        { "knoten.example.de:8471", "knoten.example.de", 8471 },
        { "127.0.0.1:1", "127.0.0.1", 1 },
        { "[::1]:65535", "::1", 65535 },
        { "[fe80::1%eth0]:8471", "fe80::1%eth0", 8471 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(kn_hostport_parse(good[i].s, host, &port), 0);
        assert_string_equal(host, good[i].host);
        assert_int_equal(port, good[i].port);
    }
    static const char *const bad[]
        = { "", "host", "host:", ":80", "host:0", "host:65536", "host:08471", "host:80x", "::1:80",
              "[host]:80", "[::1]80", "[::1]:", "a b:1", "host:123456" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kn_hostport_parse(bad[i], host, &port), KN_EINVAL);
}

static void test_list_edit_and_round_trip(void **state)
{
    (void)state;
    kn_peer_list l = { 0 };
    uint8_t key[32];
    memset(key, 0xab, sizeof key);
    assert_int_equal(kn_peer_list_add(&l, "a.example:1", NULL), 0);
    assert_int_equal(kn_peer_list_add(&l, "[::1]:2", key), 0);
    assert_int_equal(kn_peer_list_add(&l, "bad", NULL), KN_EINVAL);
    assert_int_equal(kn_peer_list_add(&l, "a.example:1", key), 0); /* updates the key */
    assert_int_equal(l.n, 2);
    assert_true(l.v[0].has_key);

    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    assert_int_equal(kn_peer_list_encode(&l, &o), 0);
    kn_peer_list d;
    assert_int_equal(kn_peer_list_decode(&d, o.buf, o.len), 0);
    assert_int_equal(d.n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(d.v[i].addr, l.v[i].addr);
        assert_int_equal(d.v[i].has_key, l.v[i].has_key);
        assert_memory_equal(d.v[i].key, l.v[i].key, 32);
    }
    kn_peer_list_free(&d);

    assert_int_equal(kn_peer_list_remove(&l, "a.example:1"), 0);
    assert_int_equal(kn_peer_list_remove(&l, "a.example:1"), KN_ENOTFOUND);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].addr, "[::1]:2");
    kn_mp_out_free(&o);
    kn_peer_list_free(&l);
}

/* Encodes [[addr, key(keylen)]] plus `extra` trailing bytes. */
static void encode_one(kn_mp_out *o, const char *addr, size_t keylen, int arity, int extra)
{
    uint8_t key[40] = { 0 };
    kn_mp_out_reset(o);
    kn_mp_write_array(o, 1);
    kn_mp_write_array(o, (uint32_t)arity);
    kn_mp_write_cstr(o, addr);
    if (arity > 1)
        kn_mp_write_bin(o, key, keylen);
    if (arity > 2)
        kn_mp_write_uint(o, 7);
    for (int i = 0; i < extra; i++)
        kn_mp_write_uint(o, 0);
}

static void test_decode_is_strict(void **state)
{
    (void)state;
    kn_mp_out o;
    kn_peer_list d;
    kn_mp_out_init(&o, 0);
    encode_one(&o, "h:1", 32, 2, 0);
    assert_int_equal(kn_peer_list_decode(&d, o.buf, o.len), 0);
    kn_peer_list_free(&d);
    encode_one(&o, "h:1", 0, 2, 0);
    assert_int_equal(kn_peer_list_decode(&d, o.buf, o.len), 0);
    assert_false(d.v[0].has_key);
    kn_peer_list_free(&d);

    encode_one(&o, "h:1", 31, 2, 0);
    assert_int_equal(kn_peer_list_decode(&d, o.buf, o.len), KN_EKEYLEN);
    encode_one(&o, "h:1", 32, 3, 0);
    assert_int_equal(kn_peer_list_decode(&d, o.buf, o.len), KN_EARITY);
    encode_one(&o, "h:1", 32, 2, 1);
    assert_int_equal(kn_peer_list_decode(&d, o.buf, o.len), KN_ETRAILING);
    encode_one(&o, "no-port", 32, 2, 0);
    assert_int_equal(kn_peer_list_decode(&d, o.buf, o.len), KN_ECORRUPT);
    assert_null(d.v);
    /* Truncated at every length. */
    encode_one(&o, "h:1", 32, 2, 0);
    for (size_t n = 0; n < o.len; n++)
        assert_true(kn_peer_list_decode(&d, o.buf, n) < 0);
    /* A non-canonical array header (array16 for one element). */
    const uint8_t noncanon[] = { 0xdc, 0x00, 0x00 };
    assert_int_equal(kn_peer_list_decode(&d, noncanon, sizeof noncanon), KN_ENONCANON);
    /* More peers than a list may hold. */
    kn_mp_out_reset(&o);
    kn_mp_write_array(&o, KN_PEERS_MAX + 1);
    for (int i = 0; i < KN_PEERS_MAX + 1; i++)
        kn_mp_write_nil(&o); /* the count is refused before any element is read */
    assert_int_equal(kn_peer_list_decode(&d, o.buf, o.len), KN_ELIMIT);
    kn_mp_out_free(&o);
}

static void test_state_file_round_trip(void **state)
{
    (void)state;
    char dir[] = "/tmp/knoten-test-peerstate-XXXXXX";
    assert_non_null(mkdtemp(dir));
    kn_peer_state st = { .pid = 4242, .running = true, .updated_ms = 1795000000000ull, .n = 2 };
    st.v = calloc(2, sizeof *st.v);
    assert_non_null(st.v);
    snprintf(st.v[0].addr, sizeof st.v[0].addr, "[::1]:8471");
    st.v[0].phase = KN_PHASE_BACKOFF;
    st.v[0].retry_ms = 1795000012000ull;
    st.v[0].error_ms = 1795000000001ull;
    /* Control characters from a peer's bye reason must not break the line format. */
    snprintf(st.v[0].last_error, sizeof st.v[0].last_error, "peer said bye:\tgone\nnow");
    snprintf(st.v[1].addr, sizeof st.v[1].addr, "192.0.2.7:40000");
    st.v[1].inbound = true;
    st.v[1].phase = KN_PHASE_CONNECTED;
    st.v[1].has_identity = true;
    memset(st.v[1].identity, 0x5a, 32);
    st.v[1].since_ms = st.v[1].handshake_ms = 1795000000500ull;
    st.v[1].bytes_in = 12345;
    st.v[1].bytes_out = UINT64_MAX;
    st.v[1].blobs = (kn_peer_blobs) { 120, 3, 120ull << 18, 3ull << 18, 2 };
    assert_int_equal(kn_peer_state_write(dir, &st), 0);

    kn_peer_state r;
    assert_int_equal(kn_peer_state_read(dir, &r), 0);
    assert_int_equal(r.pid, 4242);
    assert_true(r.running);
    assert_int_equal(r.updated_ms, st.updated_ms);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.v[0].addr, "[::1]:8471");
    assert_int_equal(r.v[0].phase, KN_PHASE_BACKOFF);
    assert_int_equal(r.v[0].retry_ms, st.v[0].retry_ms);
    assert_string_equal(r.v[0].last_error, "peer said bye: gone now");
    assert_false(r.v[0].has_identity);
    assert_true(r.v[1].inbound);
    assert_int_equal(r.v[1].phase, KN_PHASE_CONNECTED);
    assert_memory_equal(r.v[1].identity, st.v[1].identity, 32);
    assert_int_equal(r.v[1].bytes_out, UINT64_MAX);
    assert_string_equal(r.v[1].last_error, "");
    /* File chunks: a `blobs` record only where something moved; none reads as zeros. */
    assert_memory_equal(&r.v[1].blobs, &st.v[1].blobs, sizeof st.v[1].blobs);
    assert_int_equal(r.v[0].blobs.chunks_in, 0);
    assert_int_equal(r.v[0].blobs.corrupt, 0);
    kn_peer_state_free(&r);
    kn_peer_state_free(&st);

    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, KN_PEER_STATE_FILE);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("something else\n", f);
    fclose(f);
    assert_int_equal(kn_peer_state_read(dir, &r), KN_ECORRUPT);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("knoten-peers-state\t1\t1\t1\t1\npeer\tx\tout\tbogus\t-\t0\t0\t0\t0\t0\t0\t-\n", f);
    fclose(f);
    assert_int_equal(kn_peer_state_read(dir, &r), KN_ECORRUPT);
    /* A blobs record with a field missing, or before any peer. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("knoten-peers-state\t1\t1\t1\t1\nblobs\t1\t2\t3\t4\t5\n", f);
    fclose(f);
    assert_int_equal(kn_peer_state_read(dir, &r), KN_ECORRUPT);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("knoten-peers-state\t1\t1\t1\t1\npeer\tx:1\tout\tidle\t-\t0\t0\t0\t0\t0\t0\t-\n"
          "blobs\t1\t2\t3\t4\n",
        f);
    fclose(f);
    assert_int_equal(kn_peer_state_read(dir, &r), KN_ECORRUPT);
    unlink(path);
    assert_int_equal(kn_peer_state_read(dir, &r), KN_ENOTFOUND);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_list_edit_and_round_trip),
        cmocka_unit_test(test_decode_is_strict),
        cmocka_unit_test(test_state_file_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
