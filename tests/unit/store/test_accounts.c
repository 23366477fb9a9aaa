/*
 * Web accounts and sessions (store/accounts.h): round trips, listing,
 * activation lookup, purging by expiry and by login, login name rules, and
 * refusal of records the store did not write.
 */
#include "store_fixture.h"

#include "accounts.h"

static kn_account account(const char *login, uint8_t role)
{
    kn_account a;
    memset(&a, 0, sizeof a);
    snprintf(a.login, sizeof a.login, "%s", login);
    memset(a.user, login[0], 32);
    a.role = role;
    a.created_ms = 1000;
    return a;
}

static void test_login_names(void **state)
{
    (void)state;
    assert_true(kn_login_valid("erika"));
    assert_true(kn_login_valid("erika.muster-2_x"));
    assert_true(kn_login_valid("7"));
    assert_false(kn_login_valid(""));
    assert_false(kn_login_valid(".erika"));
    assert_false(kn_login_valid("Erika"));
    assert_false(kn_login_valid("er ika"));
    assert_false(kn_login_valid("erika/../x"));
    char long_name[KN_LOGIN_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[KN_LOGIN_MAX + 1] = 0;
    assert_false(kn_login_valid(long_name));
    long_name[KN_LOGIN_MAX] = 0;
    assert_true(kn_login_valid(long_name));
}

static void test_account_round_trip(void **state)
{
    (void)state;
    fx_store f;
    fx_init(&f, 0, 0);
    kn_account a = account("erika", KN_ROLE_ADMIN), b;
    a.has_password = true;
    assert_int_equal(kn_pwhash_str(a.pwhash, "geheim-passwort", 15), 0);
    a.last_visit_ms = 5;
    a.prev_visit_ms = 4;
    snprintf(a.lang, sizeof a.lang, "en");
    assert_int_equal(kn_account_put(f.s, &a), 0);
    assert_int_equal(kn_account_get(f.s, "max", &b), KN_ENOTFOUND);
    fx_reopen(&f);
    assert_int_equal(kn_account_get(f.s, "erika", &b), 0);
    assert_string_equal(b.login, "erika");
    assert_memory_equal(b.user, a.user, 32);
    assert_int_equal(b.role, KN_ROLE_ADMIN);
    assert_true(b.has_password);
    assert_false(b.has_activation);
    assert_int_equal(kn_pwhash_verify(b.pwhash, "geheim-passwort", 15), 0);
    assert_int_not_equal(kn_pwhash_verify(b.pwhash, "falsch", 6), 0);
    assert_int_equal(b.last_visit_ms, 5);
    assert_int_equal(b.prev_visit_ms, 4);
    assert_string_equal(b.lang, "en");

    /* activation tokens are found by hash */
    kn_account c = account("max", KN_ROLE_STAFF);
    c.has_activation = true;
    memset(c.activation, 0x5a, 32);
    c.activation_expires_ms = 99;
    assert_int_equal(kn_account_put(f.s, &c), 0);
    uint8_t h[32];
    memset(h, 0x5a, 32);
    assert_int_equal(kn_account_by_activation(f.s, h, &b), 0);
    assert_string_equal(b.login, "max");
    assert_int_equal(b.activation_expires_ms, 99);
    h[0] ^= 1;
    assert_int_equal(kn_account_by_activation(f.s, h, &b), KN_ENOTFOUND);

    kn_account *v = NULL;
    size_t n = 0;
    assert_int_equal(kn_accounts_list(f.s, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].login, "erika");
    assert_string_equal(v[1].login, "max");
    free(v);

    /* bad input is refused, not stored */
    kn_account bad = account("Bad Name", KN_ROLE_STAFF);
    assert_int_equal(kn_account_put(f.s, &bad), KN_EINVAL);
    bad = account("ok", 7);
    assert_int_equal(kn_account_put(f.s, &bad), KN_EINVAL);

    /* a record we did not write is corrupt, never trusted */
    const char *key = "web/account/evil";
    assert_int_equal(kn_store_debug_put_raw(f.s, "settings", (const uint8_t *)key, strlen(key),
                         (const uint8_t *)"\x91\x01", 2),
        0);
    assert_int_equal(kn_account_get(f.s, "evil", &b), KN_ECORRUPT);

    assert_int_equal(kn_account_del(f.s, "max"), 0);
    assert_int_equal(kn_account_get(f.s, "max", &b), KN_ENOTFOUND);
    fx_done(&f);
}

static void test_sessions(void **state)
{
    (void)state;
    fx_store f;
    fx_init(&f, 0, 0);
    uint8_t k1[32], k2[32], k3[32];
    memset(k1, 1, 32);
    memset(k2, 2, 32);
    memset(k3, 3, 32);
    kn_session_rec r = { "erika", 100, 200 }, g;
    assert_int_equal(kn_session_put(f.s, k1, &r), 0);
    r.expires_ms = 500;
    assert_int_equal(kn_session_put(f.s, k2, &r), 0);
    snprintf(r.login, sizeof r.login, "max");
    assert_int_equal(kn_session_put(f.s, k3, &r), 0);
    assert_int_equal(kn_session_get(f.s, k1, &g), 0);
    assert_string_equal(g.login, "erika");
    assert_int_equal(g.created_ms, 100);
    assert_int_equal(g.expires_ms, 200);

    size_t removed;
    assert_int_equal(kn_sessions_purge(f.s, 300, NULL, &removed), 0);
    assert_int_equal(removed, 1); /* k1 expired */
    assert_int_equal(kn_session_get(f.s, k1, &g), KN_ENOTFOUND);
    assert_int_equal(kn_session_get(f.s, k2, &g), 0);
    assert_int_equal(kn_sessions_purge(f.s, 0, "max", &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(kn_session_get(f.s, k3, &g), KN_ENOTFOUND);
    assert_int_equal(kn_session_del(f.s, k2), 0);
    assert_int_equal(kn_session_del(f.s, k2), 0); /* absent is fine */
    assert_int_equal(kn_session_get(f.s, k2, &g), KN_ENOTFOUND);

    /* deleting an account ends its sessions */
    kn_account a = account("erika", KN_ROLE_STAFF);
    assert_int_equal(kn_account_put(f.s, &a), 0);
    snprintf(r.login, sizeof r.login, "erika");
    assert_int_equal(kn_session_put(f.s, k1, &r), 0);
    assert_int_equal(kn_account_del(f.s, "erika"), 0);
    assert_int_equal(kn_session_get(f.s, k1, &g), KN_ENOTFOUND);
    fx_done(&f);
}

/* The session and its account in one read: both, or KN_ENOTFOUND if either is missing. */
static void test_session_account(void **state)
{
    (void)state;
    fx_store f;
    fx_init(&f, 0, 0);
    uint8_t k[32], other[32];
    memset(k, 7, 32);
    memset(other, 8, 32);
    kn_session_rec r = { "erika", 100, 900 }, g;
    kn_account a = account("erika", KN_ROLE_ADMIN), b;
    assert_int_equal(kn_session_put(f.s, k, &r), 0);
    assert_int_equal(kn_session_account_get(f.s, k, &g, &b), KN_ENOTFOUND); /* no account yet */
    assert_int_equal(kn_account_put(f.s, &a), 0);
    assert_int_equal(kn_session_account_get(f.s, k, &g, &b), 0);
    assert_string_equal(g.login, "erika");
    assert_int_equal(g.expires_ms, 900);
    assert_string_equal(b.login, "erika");
    assert_int_equal(b.role, KN_ROLE_ADMIN);
    assert_memory_equal(b.user, a.user, 32);
    assert_int_equal(kn_session_account_get(f.s, other, &g, &b), KN_ENOTFOUND);
    fx_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_account),
        cmocka_unit_test(test_login_names),
        cmocka_unit_test(test_account_round_trip),
        cmocka_unit_test(test_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
