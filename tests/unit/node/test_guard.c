/*
 * Token buckets (node/bucket.h) and the abuse guard (node/guard.h) on
 * injected time: rates and bursts hold exactly, a clock that goes back adds
 * nothing, scores add up to a ban whose length doubles and whose end lets
 * the key back in, scores decay, addresses and identities are separate keys,
 * and the table stays bounded under a flood of keys without forgetting a ban.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bucket.h"
#include "crypto.h"
#include "guard.h"

static void test_bucket_rate_and_burst(void **state)
{
    (void)state;
    kn_bucket b;
    kn_bucket_init(&b, 20, 40, 1000);
    for (int i = 0; i < 40; i++)
        assert_true(kn_bucket_take(&b, 1000, 1)); /* the burst */
    assert_false(kn_bucket_take(&b, 1000, 1));
    assert_int_equal(kn_bucket_wait(&b, 1000, 1), 50); /* 20/s: one token per 50 ms */
    assert_false(kn_bucket_take(&b, 1049, 1));
    assert_true(kn_bucket_take(&b, 1050, 1));
    /* A second later: 20 more, not more. */
    int got = 0;
    while (kn_bucket_take(&b, 2050, 1))
        got++;
    assert_int_equal(got, 20);
    /* Long idle: full, never above the burst. */
    assert_int_equal(kn_bucket_level(&b, 1000000000), 40);
    /* A clock that goes back adds nothing and takes nothing back. */
    assert_int_equal(kn_bucket_level(&b, 2000), 0);
    assert_false(kn_bucket_take(&b, 2000, 1));
    /* Several tokens at once, all or none. */
    kn_bucket_init(&b, 1000, 10, 0);
    assert_false(kn_bucket_take(&b, 0, 11));
    assert_true(kn_bucket_take(&b, 0, 10));
    assert_int_equal(kn_bucket_wait(&b, 0, 10), 10);
}

static void test_bucket_slow_rate(void **state)
{
    (void)state;
    kn_bucket b;
    /* One per second: thousandths of a token add up exactly over many small steps. */
    kn_bucket_init(&b, 1, 1, 0);
    assert_true(kn_bucket_take(&b, 0, 1));
    uint64_t t = 0;
    while (!kn_bucket_take(&b, t, 1))
        t += 7;
    assert_in_range(t, 1000, 1006);
}

static void test_guard_ban_and_expiry(void **state)
{
    (void)state;
    kn_guard *g;
    kn_guard_key a, b;
    kn_guard_config cfg = { .ban_ms = 1000, .ban_max_ms = 3000 };
    assert_int_equal(kn_guard_new(&g, &cfg), 0);
    kn_guard_key_addr(&a, "192.0.2.7");
    kn_guard_key_addr(&b, "192.0.2.8");
    /* Four failed handshakes earn a ban; the neighbour address is untouched. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(kn_guard_offend(g, &a, KN_OFFENSE_HANDSHAKE, 100), 0);
    assert_int_equal(kn_guard_offend(g, &a, KN_OFFENSE_HANDSHAKE, 100), 1100);
    assert_int_equal(kn_guard_banned(g, &a, 500), 1100);
    assert_int_equal(kn_guard_banned(g, &b, 500), 0);
    /* Offenses while banned do not lengthen the ban. */
    assert_int_equal(kn_guard_offend(g, &a, KN_OFFENSE_HANDSHAKE, 600), 0);
    assert_int_equal(kn_guard_banned(g, &a, 1099), 1100);
    assert_int_equal(kn_guard_banned(g, &a, 1100), 0); /* over: let back in */
    /* The next ban lasts twice as long, the one after is capped. */
    assert_int_equal(kn_guard_offend(g, &a, KN_OFFENSE_GARBAGE, 2000), 4000);
    assert_int_equal(kn_guard_offend(g, &a, KN_OFFENSE_GARBAGE, 5000), 8000);
    assert_int_equal(kn_guard_offend(g, &a, KN_OFFENSE_GARBAGE, 9000), 12000);
    kn_guard_entry e[4];
    assert_int_equal(kn_guard_list(g, 9500, e, 4), 1);
    assert_string_equal(e[0].label, "192.0.2.7");
    assert_int_equal(e[0].bans, 4);
    assert_int_equal(e[0].banned_until, 12000);
    assert_string_equal(kn_offense_text(e[0].last), kn_offense_text(KN_OFFENSE_GARBAGE));
    kn_guard_free(g);
}

static void test_guard_decay_and_forget(void **state)
{
    (void)state;
    kn_guard *g;
    kn_guard_key k;
    uint8_t id[32];
    memset(id, 5, sizeof id);
    assert_int_equal(kn_guard_new(&g, NULL), 0); /* defaults: 100 points decay in 10 min */
    kn_guard_key_id(&k, id);
    assert_true(k.is_id);
    assert_int_equal(kn_guard_offend(g, &k, KN_OFFENSE_STALL, 0), 0); /* 50 */
    /* Five minutes later half has decayed: another 50 is not enough. */
    assert_int_equal(kn_guard_offend(g, &k, KN_OFFENSE_STALL, 300000), 0);
    kn_guard_entry e;
    assert_int_equal(kn_guard_list(g, 300000, &e, 1), 1);
    assert_int_equal(e.score, 50);
    assert_int_equal(e.banned_until, 0);
    /* Quickly again: 100, banned for a minute. */
    assert_int_equal(kn_guard_offend(g, &k, KN_OFFENSE_STALL, 300001), 360001);
    /* A day without offenses: the ban count is forgotten, the next ban is a minute again. */
    uint64_t day = 86400000ull + 400000;
    assert_int_equal(kn_guard_offend(g, &k, KN_OFFENSE_PROTOCOL, day), day + 60000);
    /* The same bytes as an address are another key. */
    kn_guard_key a;
    kn_guard_key_addr(&a, k.label);
    assert_int_equal(kn_guard_banned(g, &a, day), 0);
    kn_guard_free(g);
}

/* A flood of addresses: the table stays at keys_max and keeps its bans. */
static void test_guard_bounded(void **state)
{
    (void)state;
    kn_guard *g;
    kn_guard_config cfg = { .keys_max = 64 };
    assert_int_equal(kn_guard_new(&g, &cfg), 0);
    kn_guard_key bad;
    kn_guard_key_addr(&bad, "203.0.113.1");
    assert_true(kn_guard_offend(g, &bad, KN_OFFENSE_GARBAGE, 10) > 0);
    for (int i = 0; i < 10000; i++) {
        char ip[32];
        kn_guard_key k;
        snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
        kn_guard_key_addr(&k, ip);
        (void)kn_guard_offend(g, &k, KN_OFFENSE_CROWD, 20);
    }
    kn_guard_entry e[128];
    assert_true(kn_guard_list(g, 20, e, 128) <= 64);
    assert_true(kn_guard_banned(g, &bad, 20) > 0);
    kn_guard_free(g);
}

int main(void)
{
    assert_int_equal(kn_crypto_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_rate_and_burst),
        cmocka_unit_test(test_bucket_slow_rate),
        cmocka_unit_test(test_guard_ban_and_expiry),
        cmocka_unit_test(test_guard_decay_and_forget),
        cmocka_unit_test(test_guard_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
