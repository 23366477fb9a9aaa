/*
 * Staff users and invite records held by the node (node/users.c,
 * node/invites.c) over a real data directory and store: a user key file is
 * 0600 and its certificate replicates-ready; the user's objects are accepted
 * until the revocation and refused after it; an invite secret redeems once,
 * not after expiry or withdrawal, and never when guessed; the stored list is
 * strict.
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

#include "codec.h"
#include "crypto.h"
#include "datadir.h"
#include "invites.h"
#include "users.h"

#define T0 1800000000000ull

typedef struct fx {
    char dir[64];
    kn_env_seeded env;
    kn_datadir dd;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(kn_crypto_init(), 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/kn-users-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    strcat(f->dir, "/n");
    kn_env_seeded_init(&f->env, 42, T0);
    uint8_t nk[32];
    memset(nk, 0x77, sizeof nk);
    assert_int_equal(kn_datadir_create(f->dir, &f->env.env, nk), 0);
    kn_store_options opt = { .no_sync = true };
    assert_int_equal(kn_datadir_open(&f->dd, f->dir, &opt), 0);

    /* Found the network: this node is its member from T0. */
    kn_mp_out body;
    kn_mp_out_init(&body, 0);
    kn_mp_write_map(&body, 2);
    kn_mp_write_cstr(&body, "admit");
    kn_mp_write_uint(&body, 1);
    kn_mp_write_cstr(&body, "name");
    kn_mp_write_cstr(&body, "Testnetz");
    kn_object_draft d = { .type = KN_T_NETWORK, .created = T0, .space = "" };
    d.body = body.buf;
    d.body_len = body.len;
    uint8_t *raw;
    size_t len;
    assert_int_equal(kn_object_sign(&d, f->dd.identity_sk, &raw, &len), 0);
    assert_int_equal(kn_store_put(f->dd.store, raw, len, T0, NULL), KN_PUT_STORED);
    free(raw);
    kn_mp_out_free(&body);
    f->env.now_ms = T0 + 1000;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    char cmd[160];
    kn_datadir_close(&f->dd);
    f->dir[strlen(f->dir) - 2] = 0; /* the mkdtemp directory */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* A thread signed by sk at created; returns what the store says. */
static int put_thread(fx *f, const uint8_t sk[64], uint64_t created)
{
    kn_mp_out body;
    kn_mp_out_init(&body, 0);
    kn_mp_write_map(&body, 2);
    kn_mp_write_cstr(&body, "body");
    kn_mp_write_cstr(&body, "");
    kn_mp_write_cstr(&body, "title");
    kn_mp_write_cstr(&body, "Frage");
    kn_object_draft d = { .type = KN_T_THREAD, .created = created, .space = "Vergaberecht" };
    d.body = body.buf;
    d.body_len = body.len;
    uint8_t *raw;
    size_t len;
    assert_int_equal(kn_object_sign(&d, sk, &raw, &len), 0);
    int rc = kn_store_put(f->dd.store, raw, len, f->env.now_ms, NULL);
    free(raw);
    kn_mp_out_free(&body);
    return rc;
}

static void test_user_lifecycle(void **state)
{
    fx *f = *state;
    const char *tags[] = { "vergabe", "tvoed" }, *langs[] = { "de", "en" };
    kn_user_info info = { "Erika Muster", "Personalamt", tags, 2, langs, 2 };
    uint8_t pk[32], cert[32], sk[64], other[32];

    assert_int_equal(kn_users_create(&f->dd, &f->env.env, &info, pk, cert), KN_PUT_STORED);
    char path[KN_PATH_MAX];
    struct stat st;
    assert_int_equal(kn_users_key_path(&f->dd, pk, path), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(kn_users_holds_key(&f->dd, pk));

    /* The roster knows the certificate; the list reads it back. */
    kn_roster_user u;
    assert_int_equal(kn_store_user_get(f->dd.store, pk, &u), 0);
    assert_memory_equal(u.node, f->dd.identity_pk, 32);
    assert_memory_equal(u.cert, cert, 32);
    assert_int_equal(u.revoked_at, KN_ROSTER_NEVER);
    kn_user_entry *v;
    size_t n;
    assert_int_equal(kn_users_list(&f->dd, false, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].name, "Erika Muster");
    assert_string_equal(v[0].role, "Personalamt");
    assert_string_equal(v[0].expertise, "vergabe,tvoed");
    assert_string_equal(v[0].lang, "de,en");
    assert_true(v[0].key_held);
    free(v);
    assert_int_equal(kn_users_find(&f->dd, "Erika Muster", other), 0);
    assert_memory_equal(other, pk, 32);
    assert_int_equal(kn_users_find(&f->dd, "Max", other), KN_ENOTFOUND);

    /* The user signs; the store accepts while the certificate stands. */
    assert_int_equal(kn_users_load_secret(&f->dd, pk, sk), 0);
    f->env.now_ms = T0 + 5000;
    assert_int_equal(put_thread(f, sk, T0 + 4000), KN_PUT_STORED);

    /* Revoked at T0 + 6000: later objects refused, earlier ones stay valid. */
    f->env.now_ms = T0 + 6000;
    uint8_t rid[32];
    assert_int_equal(
        kn_users_revoke(&f->dd, &f->env.env, pk, "left the council", rid), KN_PUT_STORED);
    assert_false(kn_users_holds_key(&f->dd, pk));
    assert_int_equal(kn_users_load_secret(&f->dd, pk, sk), KN_ENOTFOUND);
    f->env.now_ms = T0 + 8000;
    assert_int_equal(put_thread(f, sk, T0 + 7000), KN_EUNAUTH);
    assert_int_equal(put_thread(f, sk, T0 + 3000), KN_PUT_STORED);
    assert_int_equal(kn_store_user_get(f->dd.store, pk, &u), 0);
    assert_int_equal(u.revoked_at, T0 + 6000);
    kn_memzero(sk, sizeof sk);

    /* Revoking a key this node did not certify is refused. */
    memset(other, 9, sizeof other);
    assert_int_equal(kn_users_revoke(&f->dd, &f->env.env, other, "x", NULL), KN_ENOTFOUND);
}

static void test_user_schema_refusal_leaves_no_key(void **state)
{
    fx *f = *state;
    const char *langs[] = { "d" }; /* language tags are 2..8 bytes */
    kn_user_info info = { "Name", "Rolle", NULL, 0, langs, 1 };
    uint8_t pk[32];
    assert_int_equal(kn_users_create(&f->dd, &f->env.env, &info, pk, NULL), KN_ESCHEMA);
    assert_false(kn_users_holds_key(&f->dd, pk));
}

static void test_roster_members(void **state)
{
    fx *f = *state;
    kn_roster_member m;
    assert_int_equal(kn_store_member_get(f->dd.store, f->dd.identity_pk, &m), 0);
    assert_true(m.founder);
    assert_int_equal(m.member_since, T0);
    assert_true(kn_roster_member_at(&m, T0));
    assert_false(kn_roster_member_at(&m, T0 - 1));
    uint8_t id[32];
    uint64_t k;
    assert_int_equal(kn_store_network_get(f->dd.store, id, &k), 0);
    assert_int_equal(k, 1);
    kn_roster_member *v;
    size_t n;
    assert_int_equal(kn_store_members_list(f->dd.store, &v, &n), 0);
    assert_int_equal(n, 1);
    free(v);
}

static void test_invite_redeem_once(void **state)
{
    fx *f = *state;
    const char *addrs[] = { "127.0.0.1:8471" };
    kn_invite inv;
    uint32_t id;
    uint8_t joiner[32], secret[KN_INVITE_SECRET_MAX];
    kn_invite_record r;
    memset(joiner, 0x11, sizeof joiner);

    assert_int_equal(
        kn_invites_create(&f->dd, &f->env.env, addrs, 1, 3600000, "Gemeinde B", &inv, &id), 0);
    assert_int_equal(id, 1);
    assert_memory_equal(inv.network_key, f->dd.network_key, 32);
    assert_memory_equal(inv.inviter, f->dd.identity_pk, 32);
    assert_int_equal(inv.expires_ms, f->env.now_ms + 3600000);
    uint32_t slen = inv.secret_len;
    memcpy(secret, inv.secret, slen);

    /* The stored record holds the hash, not the secret. */
    uint8_t *raw;
    size_t len;
    assert_int_equal(kn_store_setting_get(f->dd.store, KN_INVITES_SETTING, &raw, &len), 0);
    for (size_t i = 0; i + slen <= len; i++)
        assert_true(memcmp(raw + i, secret, slen) != 0);
    free(raw);

    /* A guess is unknown; the secret redeems once. */
    uint8_t guess[KN_INVITE_SECRET_MAX];
    memcpy(guess, secret, slen);
    guess[0] ^= 1;
    assert_int_equal(
        kn_invites_redeem(&f->dd, guess, slen, joiner, f->env.now_ms, NULL), KN_ENOTFOUND);
    assert_int_equal(
        kn_invites_redeem(&f->dd, secret, 3, joiner, f->env.now_ms, NULL), KN_ENOTFOUND);
    assert_int_equal(kn_invites_redeem(&f->dd, secret, slen, joiner, f->env.now_ms, &r), 0);
    assert_int_equal(r.id, 1);
    assert_int_equal(kn_invites_redeem(&f->dd, secret, slen, joiner, f->env.now_ms, &r), KN_EEXIST);
    assert_true(r.has_used_by);
    assert_memory_equal(r.used_by, joiner, 32);
    assert_int_equal(kn_invites_withdraw(&f->dd, 1, f->env.now_ms), KN_ESTATE);
    kn_invite_wipe(&inv);

    /* Expired: refused, and the record stays open (shown as expired). */
    assert_int_equal(kn_invites_create(&f->dd, &f->env.env, addrs, 1, 60000, NULL, &inv, &id), 0);
    assert_int_equal(id, 2);
    assert_int_equal(
        kn_invites_redeem(&f->dd, inv.secret, inv.secret_len, joiner, f->env.now_ms + 60000, &r),
        KN_EEXPIRED);
    assert_string_equal(kn_invite_record_state(&r, f->env.now_ms + 60000), "expired");
    assert_string_equal(kn_invite_record_state(&r, f->env.now_ms), "open");
    kn_invite_wipe(&inv);

    /* Withdrawn: refused. */
    assert_int_equal(kn_invites_create(&f->dd, &f->env.env, addrs, 1, 60000, NULL, &inv, &id), 0);
    assert_int_equal(kn_invites_withdraw(&f->dd, id, f->env.now_ms), 0);
    assert_int_equal(kn_invites_withdraw(&f->dd, id, f->env.now_ms), KN_ESTATE);
    assert_int_equal(kn_invites_withdraw(&f->dd, 99, f->env.now_ms), KN_ENOTFOUND);
    assert_int_equal(
        kn_invites_redeem(&f->dd, inv.secret, inv.secret_len, joiner, f->env.now_ms, NULL),
        KN_EPERM);
    kn_invite_wipe(&inv);

    kn_invite_list l;
    assert_int_equal(kn_invites_load(f->dd.store, &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0].note, "Gemeinde B");
    assert_int_equal(l.v[0].state, KN_INVITE_USED);
    assert_int_equal(l.v[2].state, KN_INVITE_WITHDRAWN);

    /* The list round-trips, and the decoder refuses what the encoder never writes. */
    kn_mp_out o;
    kn_mp_out_init(&o, 0);
    assert_int_equal(kn_invite_list_encode(&l, &o), 0);
    kn_invite_list d;
    assert_int_equal(kn_invite_list_decode(&d, o.buf, o.len), 0);
    assert_int_equal(d.n, 3);
    assert_memory_equal(d.v, l.v, 3 * sizeof l.v[0]);
    kn_invite_list_free(&d);
    for (size_t cut = 0; cut < o.len; cut++)
        assert_true(kn_invite_list_decode(&d, o.buf, cut) < 0);
    o.buf[o.len++] = 0;
    assert_int_equal(kn_invite_list_decode(&d, o.buf, o.len), KN_ETRAILING);
    kn_mp_out_free(&o);
    kn_invite_list_free(&l);
}

static void test_invite_bad_input(void **state)
{
    fx *f = *state;
    kn_invite inv;
    uint32_t id;
    const char *bad[] = { "no-port" }, *five[] = { "a:1", "b:1", "c:1", "d:1", "e:1" };
    assert_int_equal(
        kn_invites_create(&f->dd, &f->env.env, bad, 1, 1000, NULL, &inv, &id), KN_EINVAL);
    assert_int_equal(
        kn_invites_create(&f->dd, &f->env.env, five, 5, 1000, NULL, &inv, &id), KN_EINVAL);
    assert_int_equal(
        kn_invites_create(&f->dd, &f->env.env, five, 0, 1000, NULL, &inv, &id), KN_EINVAL);

    uint64_t ms;
    assert_int_equal(kn_invites_parse_ttl("7d", &ms), 0);
    assert_int_equal(ms, 7 * 86400000ull);
    assert_int_equal(kn_invites_parse_ttl("30m", &ms), 0);
    assert_int_equal(ms, 30 * 60000ull);
    assert_int_equal(kn_invites_parse_ttl("2w", &ms), 0);
    assert_int_equal(kn_invites_parse_ttl("90d", &ms), 0);
    const char *badttl[] = { "", "d", "0d", "91d", "7", "7x", "7dd", "-1d", "13w" };
    for (size_t i = 0; i < sizeof badttl / sizeof badttl[0]; i++)
        assert_int_equal(kn_invites_parse_ttl(badttl[i], &ms), KN_EINVAL);
}

static void test_default_addresses(void **state)
{
    fx *f = *state;
    char addrs[KN_INVITE_ADDRS_MAX][KN_INVITE_ADDR_MAX + 1];
    size_t n;
    assert_int_equal(kn_invites_default_addrs(&f->dd, addrs, &n), 0);
    assert_int_equal(n, 0);
    const char *mine[] = { "knoten.example.de:8471", "[2001:db8::1]:8471" };
    assert_int_equal(kn_invites_remember_addrs(f->dd.store, mine, 2), 0);
    assert_int_equal(kn_invites_default_addrs(&f->dd, addrs, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(addrs[1], "[2001:db8::1]:8471");

    /* This node's own `addr` announcement wins over the remembered list. */
    kn_mp_out body;
    kn_mp_out_init(&body, 0);
    kn_mp_write_map(&body, 1);
    kn_mp_write_cstr(&body, "addrs");
    kn_mp_write_array(&body, 1);
    kn_mp_write_cstr(&body, "announced.example.de:8471");
    kn_object_draft d = { .type = KN_T_ADDR, .created = f->env.now_ms, .space = "" };
    d.body = body.buf;
    d.body_len = body.len;
    uint8_t *raw;
    size_t len;
    assert_int_equal(kn_object_sign(&d, f->dd.identity_sk, &raw, &len), 0);
    assert_int_equal(kn_store_put(f->dd.store, raw, len, f->env.now_ms, NULL), KN_PUT_STORED);
    free(raw);
    kn_mp_out_free(&body);
    assert_int_equal(kn_invites_default_addrs(&f->dd, addrs, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(addrs[0], "announced.example.de:8471");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_user_lifecycle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(
            test_user_schema_refusal_leaves_no_key, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_roster_members, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invite_redeem_once, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invite_bad_input, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_default_addresses, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
