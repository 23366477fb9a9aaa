/*
 * The direct-message index (store/dmindex.c, kn_store_mailbox): each
 * member of staff's mailbox lists exactly the dms they wrote or received,
 * oldest first, a message to oneself once; a retracted message leaves both
 * mailboxes; kn_store_check finds the index consistent throughout.
 */
#include "store_fixture.h"

static void fx_dm(fx_obj *o, const fx_key *from, uint64_t created, const uint8_t to[KN_KEY])
{
    kn_mp_out b;
    uint8_t box[48];
    memset(box, 0x5a, sizeof box); /* the store does not open boxes */
    kn_mp_out_init(&b, 0);
    kn_mp_write_map(&b, 2);
    kn_mp_write_cstr(&b, "box");
    kn_mp_write_bin(&b, box, sizeof box);
    kn_mp_write_cstr(&b, "to");
    kn_mp_write_bin(&b, to, KN_KEY);
    fx_sign(o, KN_T_DM, from, created, "", NULL, NULL, &b);
}

typedef struct mail_list {
    size_t n, stop_after;
    uint8_t id[8][KN_ID], other[8][KN_KEY];
    uint64_t created[8];
    bool sent[8];
} mail_list;

static int collect(void *ctx, const kn_store_mail *m)
{
    mail_list *l = ctx;
    assert_true(l->n < 8);
    memcpy(l->id[l->n], m->id, KN_ID);
    memcpy(l->other[l->n], m->other, KN_KEY);
    l->created[l->n] = m->created;
    l->sent[l->n] = m->sent;
    l->n++;
    return l->stop_after && l->n == l->stop_after ? 1 : 0;
}

static void mailbox(fx_store *f, const fx_key *k, mail_list *l, size_t stop_after)
{
    memset(l, 0, sizeof *l);
    l->stop_after = stop_after;
    assert_int_equal(kn_store_mailbox(f->s, k->pk, collect, l), 0);
}

static void expect(const mail_list *l, size_t i, const fx_obj *o, bool sent, const fx_key *other)
{
    assert_true(i < l->n);
    assert_memory_equal(l->id[i], o->id, KN_ID);
    assert_int_equal(l->created[i], o->o.created);
    assert_int_equal(l->sent[i], sent);
    assert_memory_equal(l->other[i], other->pk, KN_KEY);
}

static void check_clean(fx_store *f)
{
    kn_store_check_report rep;
    assert_int_equal(kn_store_check(f->s, &rep), 0);
    assert_int_equal(rep.problems, 0);
}

static void test_mailboxes(void **state)
{
    (void)state;
    fx_store f;
    fx_key a, u1, u2, u3;
    fx_obj net, c1, c2, c3, dm1, dm2, self, dm4, thread, rt;
    mail_list l;

    fx_init(&f, 0, 0);
    fx_keygen(&a, 1);
    fx_keygen(&u1, 2);
    fx_keygen(&u2, 3);
    fx_keygen(&u3, 4);
    fx_found(&f, &net, &a, 1);
    fx_user(&c1, &a, 1100, u1.pk);
    fx_user(&c2, &a, 1101, u2.pk);
    fx_user(&c3, &a, 1102, u3.pk);
    assert_put(&f, &c1, KN_PUT_STORED);
    assert_put(&f, &c2, KN_PUT_STORED);
    assert_put(&f, &c3, KN_PUT_STORED);

    fx_dm(&dm2, &u2, 3000, u1.pk); /* stored before dm1, listed after it */
    fx_dm(&dm1, &u1, 2000, u2.pk);
    fx_dm(&self, &u1, 2500, u1.pk);
    fx_dm(&dm4, &u2, 4000, u3.pk);
    fx_thread(&thread, &u1, 2600, "Bauamt", "kein dm");
    assert_put(&f, &dm2, KN_PUT_STORED);
    assert_put(&f, &dm1, KN_PUT_STORED);
    assert_put(&f, &self, KN_PUT_STORED);
    assert_put(&f, &dm4, KN_PUT_STORED);
    assert_put(&f, &thread, KN_PUT_STORED);
    check_clean(&f);

    mailbox(&f, &u1, &l, 0);
    assert_int_equal(l.n, 3);
    expect(&l, 0, &dm1, true, &u2);
    expect(&l, 1, &self, true, &u1); /* to oneself: once, as sent */
    expect(&l, 2, &dm2, false, &u2);
    mailbox(&f, &u2, &l, 0);
    assert_int_equal(l.n, 3);
    expect(&l, 0, &dm1, false, &u1);
    expect(&l, 1, &dm2, true, &u1);
    expect(&l, 2, &dm4, true, &u3);
    mailbox(&f, &u3, &l, 0);
    assert_int_equal(l.n, 1);
    expect(&l, 0, &dm4, false, &u2);
    mailbox(&f, &a, &l, 0); /* the node itself wrote none and got none */
    assert_int_equal(l.n, 0);
    mailbox(&f, &u1, &l, 2); /* fn's nonzero return stops the walk */
    assert_int_equal(l.n, 2);

    /* Retracted by its author: gone from both mailboxes, and from the index. */
    fx_retract(&rt, &u1, 5000, dm1.id);
    assert_put(&f, &rt, KN_PUT_STORED);
    check_clean(&f);
    mailbox(&f, &u1, &l, 0);
    assert_int_equal(l.n, 2);
    expect(&l, 0, &self, true, &u1);
    expect(&l, 1, &dm2, false, &u2);
    mailbox(&f, &u2, &l, 0);
    assert_int_equal(l.n, 2);
    expect(&l, 0, &dm2, true, &u1);
    expect(&l, 1, &dm4, true, &u3);

    /* The index is on disk: the same after a reopen. */
    fx_reopen(&f);
    mailbox(&f, &u2, &l, 0);
    assert_int_equal(l.n, 2);
    check_clean(&f);
    assert_int_equal(kn_store_mailbox(f.s, NULL, collect, &l), KN_EINVAL);
    fx_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mailboxes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
