/*
 * Direct messages in the web interface and the API (docs/api.md,
 * "Messages"): the signed-in person's conversations, one conversation
 * decrypted, and sending. Messages are encrypted end to end from user key to
 * user key (protocol/dm.h); this node holds the keys of its own staff
 * (node/users.h), so it opens the mailbox of whoever is signed in, and only
 * theirs (node/mailbox.h does the reading, the same as `knoten msg`). The
 * user's secret key is loaded for the request and wiped before it returns.
 *
 * What was read is remembered per login and conversation in the store's
 * local settings (web/dmread/LOGIN/KEY: the newest message seen, 8 bytes),
 * which never replicate; a conversation's "unread" are the messages received
 * after that.
 *
 * Callers: http_api.c (http_msg_api), http_pages.c (http_msg_pages).
 */
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "hex.h"
#include "http_impl.h"
#include "mailbox.h"
#include "users.h"

static const char *tr(const hreq *r, enum kn_text t)
{
    return http_tr(r, t);
}

/* ---- read markers ---- */

static void marker_key(hreq *r, const uint8_t other[32], char out[200])
{
    char hex[65];
    kn_hex_encode(hex, other, 32);
    snprintf(out, 200, "web/dmread/%s/%s", r->acct.login, hex);
}

static uint64_t marker_get(hreq *r, const uint8_t other[32])
{
    char key[200];
    uint8_t *v = NULL;
    size_t len = 0;
    uint64_t ms = 0;
    marker_key(r, other, key);
    if (kn_store_setting_get(r->n->dd->store, key, &v, &len) == 0 && len == 8)
        for (int i = 0; i < 8; i++)
            ms = ms << 8 | v[i];
    free(v);
    return ms;
}

static void marker_set(hreq *r, const uint8_t other[32], uint64_t ms)
{
    char key[200];
    uint8_t v[8];
    if (marker_get(r, other) >= ms)
        return;
    for (int i = 0; i < 8; i++)
        v[i] = (uint8_t)(ms >> (56 - 8 * i));
    marker_key(r, other, key);
    http_ignore(kn_store_setting_put(r->n->dd->store, key, v, sizeof v));
}

/* ---- reading ---- */

static bool load(hreq *r, kn_directory *dir, kn_mailbox *b)
{
    memset(b, 0, sizeof *b);
    if (kn_directory_load(r->n->dd, dir) < 0) {
        http_error(r, 500, "store", "cannot read the users");
        return false;
    }
    if (kn_mailbox_load(r->n->dd->store, r->acct.user, b) < 0) {
        kn_directory_free(dir);
        http_error(r, 500, "store", "cannot read the messages");
        return false;
    }
    return true;
}

/* Conversations, the latest first: {with, name, count, unread, last}. */
static json_t *conversations(hreq *r, const kn_directory *dir, const kn_mailbox *b)
{
    json_t *arr = json_array();
    bool *done = calloc(b->n ? b->n : 1, 1);
    if (!done)
        return arr;
    for (size_t i = b->n; i-- > 0;) {
        if (done[i])
            continue;
        size_t count = 0, unread = 0;
        uint64_t seen = marker_get(r, b->m[i].other);
        for (size_t k = 0; k <= i; k++)
            if (memcmp(b->m[k].other, b->m[i].other, 32) == 0) {
                done[k] = true;
                count++;
                unread += !b->m[k].sent && b->m[k].created > seen;
            }
        char hex[65], name[300];
        kn_hex_encode(hex, b->m[i].other, 32);
        json_array_append_new(arr,
            json_pack("{s:s, s:s, s:i, s:i, s:I}", "with", hex, "name",
                kn_directory_label(dir, b->m[i].other, name, sizeof name), "count", (int)count,
                "unread", (int)unread, "last", (json_int_t)b->m[i].created));
    }
    free(done);
    return arr;
}

/*
 * The conversation with other, oldest first, decrypted with the signed-in
 * person's key: {id, sent, created, subject?, body} (a message that does not
 * open says so in "error"). Marks it read. NULL with an error answered.
 */
static json_t *conversation(hreq *r, const kn_mailbox *b, const uint8_t other[32])
{
    uint8_t sk[64];
    if (kn_users_load_secret(r->n->dd, r->acct.user, sk) < 0) {
        http_error(r, 403, "no_user_key", tr(r, T_LOGIN_NOKEY));
        return NULL;
    }
    json_t *arr = json_array();
    uint64_t newest = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (memcmp(b->m[i].other, other, 32) != 0)
            continue;
        kn_object o;
        uint8_t *raw = NULL, *plain = NULL;
        size_t plen = 0;
        kn_dm_message m;
        char hex[65];
        kn_hex_encode(hex, b->m[i].id, KN_ID);
        int rc = kn_mailbox_open(
            r->n->dd->store, r->acct.user, sk, b->m[i].id, &o, &raw, &plain, &plen, &m);
        json_t *x = json_pack("{s:s, s:b, s:I}", "id", hex, "sent", b->m[i].sent, "created",
            (json_int_t)b->m[i].created);
        if (rc < 0) {
            json_object_set_new(x, "error", json_string(kn_strerror(rc)));
        } else {
            json_object_set_new(x, "body", json_stringn(m.body, m.body_len));
            if (m.subject)
                json_object_set_new(x, "subject", json_stringn(m.subject, m.subject_len));
        }
        kn_dm_plain_free(plain, plen);
        free(raw);
        json_array_append_new(arr, x);
        if (b->m[i].created > newest)
            newest = b->m[i].created;
    }
    kn_memzero(sk, sizeof sk);
    if (newest)
        marker_set(r, other, newest);
    return arr;
}

/* ---- sending ---- */

/*
 * Seals body (and subject, may be NULL or "") for the user with key tohex
 * and publishes the dm; 0 and id, or an error answered.
 */
static int send_message(hreq *r, const char *tohex, const char *subject, const char *body,
    const char *reply_to, uint8_t id[KN_ID])
{
    uint8_t to[32], refs[1][KN_ID], sk[64], nonce[KN_BOX_NONCE], *box = NULL;
    size_t box_len = 0;
    kn_directory dir;
    int rc;
    if (!tohex || !http_parse_id(tohex, to)) {
        http_error(r, 400, "bad_to", tr(r, T_MSG_TO_BAD));
        return KN_EINVAL;
    }
    if (!body || !*body || strlen(body) > KN_DM_BODY_MAX
        || (subject && strlen(subject) > KN_DM_SUBJECT_MAX)) {
        http_error(r, 400, "bad_body", tr(r, T_MSG_BODY_BAD));
        return KN_EINVAL;
    }
    if (reply_to && *reply_to && !http_parse_id(reply_to, refs[0])) {
        http_error(r, 400, "bad_reply_to", "reply_to is a message id (64 hex digits)");
        return KN_EINVAL;
    }
    if (kn_directory_load(r->n->dd, &dir) < 0) {
        http_error(r, 500, "store", "cannot read the users");
        return KN_EIO;
    }
    const kn_user_entry *u = kn_directory_user(&dir, to);
    bool ok = u && u->r.revoked_at == KN_ROSTER_NEVER;
    kn_directory_free(&dir);
    if (!ok) {
        http_error(r, 404, "no_such_user", tr(r, T_MSG_TO_BAD));
        return KN_ENOTFOUND;
    }
    if (kn_users_load_secret(r->n->dd, r->acct.user, sk) < 0) {
        http_error(r, 403, "no_user_key", tr(r, T_LOGIN_NOKEY));
        return KN_EPERM;
    }
    kn_dm_message m = { subject && *subject ? subject : NULL,
        subject && *subject ? strlen(subject) : 0, body, strlen(body) };
    kn_env_random(r->n->env, nonce, sizeof nonce);
    rc = kn_dm_seal(&m, nonce, sk, to, &box, &box_len);
    kn_memzero(sk, sizeof sk);
    if (rc < 0) {
        http_error(r, 400, "cannot_seal", tr(r, T_MSG_BODY_BAD));
        return rc;
    }
    http_field f[] = {
        { .key = "box", .kind = HF_BIN, .raw = box, .raw_len = box_len },
        { .key = "to", .kind = HF_BIN, .raw = to, .raw_len = 32 },
    };
    rc = http_publish_fields(
        r, KN_T_DM, "", (const uint8_t(*)[32])refs, reply_to && *reply_to ? 1 : 0, f, 2, id);
    free(box);
    return rc;
}

/* ---- API ---- */

static const char *jstr(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool http_msg_api(hreq *r)
{
    if (r->nseg < 1 || strcmp(r->seg[0], "messages") != 0)
        return false;
    bool get = http_method_is(r, "GET") || http_method_is(r, "HEAD");
    kn_directory dir;
    kn_mailbox b;
    uint8_t other[32], id[KN_ID];
    if (r->nseg == 1 && http_method_is(r, "POST")) {
        json_t *j = http_body_json(r);
        if (!j)
            return true;
        if (send_message(
                r, jstr(j, "to"), jstr(j, "subject"), jstr(j, "body"), jstr(j, "reply_to"), id)
            == 0) {
            char hex[65];
            kn_hex_encode(hex, id, KN_ID);
            http_json(r, 201, json_pack("{s:s}", "id", hex));
        }
        json_decref(j);
    } else if (r->nseg == 1 && get) {
        if (!load(r, &dir, &b))
            return true;
        http_json(r, 200, json_pack("{s:o}", "conversations", conversations(r, &dir, &b)));
        kn_mailbox_free(&b);
        kn_directory_free(&dir);
    } else if (r->nseg == 2 && get) {
        if (!http_parse_id(r->seg[1], other)) {
            http_error(r, 400, "bad_key", "a user key is 64 hex digits");
            return true;
        }
        if (!load(r, &dir, &b))
            return true;
        char name[300];
        kn_directory_label(&dir, other, name, sizeof name);
        json_t *msgs = conversation(r, &b, other);
        if (msgs)
            http_json(r, 200,
                json_pack("{s:s, s:s, s:o}", "with", r->seg[1], "name", name, "messages", msgs));
        kn_mailbox_free(&b);
        kn_directory_free(&dir);
    } else {
        http_error(r, 404, "not_found", "no such endpoint (see docs/api.md)");
    }
    return true;
}

/* ---- pages ---- */

/* The form to write to a user: a choice of every user but oneself, or to one user (to). */
/*
 * The form for a new message, to the user whose key is to (or a choice of
 * everyone else); sent: after a refusal, filled with what was sent.
 */
static void compose_form(hreq *r, hbuf *b, const kn_directory *dir, const char *to, bool sent)
{
    const char *sent_to = http_sent_value(r, sent, "to");
    hb_puts(b, "<form method=\"post\" action=\"messages\" class=\"stack\">");
    http_csrf_field(r, b);
    if (to) {
        hb_printf(b, "<input type=\"hidden\" name=\"to\" value=\"%s\">", to);
    } else {
        hb_printf(b, "<label for=\"to\">%s</label><select id=\"to\" name=\"to\" required>",
            tr(r, T_MSG_TO));
        for (size_t i = 0; i < dir->nusers; i++) {
            const kn_user_entry *u = &dir->users[i];
            char hex[65], label[300];
            if (u->r.revoked_at != KN_ROSTER_NEVER || !memcmp(u->r.key, r->acct.user, 32))
                continue;
            kn_hex_encode(hex, u->r.key, 32);
            hb_printf(b, "<option value=\"%s\"%s>", hex, strcmp(hex, sent_to) ? "" : " selected");
            http_esc_label(r, b, kn_directory_label(dir, u->r.key, label, sizeof label));
            hb_puts(b, "</option>");
        }
        hb_puts(b, "</select>");
    }
    http_input(
        r, b, "subject", T_MSG_SUBJECT, "maxlength=\"200\"", http_sent_value(r, sent, "subject"));
    hb_printf(b,
        "<label for=\"msg-body\">%s</label><textarea id=\"msg-body\" name=\"body\" rows=\"5\" "
        "maxlength=\"32000\" required>",
        tr(r, T_MSG_BODY));
    hb_escs(b, http_sent_value(r, sent, "body"));
    hb_printf(b, "</textarea><p class=\"meta\">%s</p><button type=\"submit\">%s</button></form>",
        tr(r, T_MSG_E2E), tr(r, T_MSG_SEND));
}

/* The conversations and the form for a new one; error: a refused message, shown with it. */
static void messages_page(hreq *r, const char *error, int status)
{
    kn_directory dir;
    kn_mailbox b;
    if (!load(r, &dir, &b))
        return;
    json_t *cs = conversations(r, &dir, &b);
    hbuf h = { 0 };
    http_page_begin(r, &h, tr(r, T_MESSAGES));
    hb_printf(&h, "<h1>%s</h1>", tr(r, T_MESSAGES));
    if (!json_array_size(cs)) {
        hb_printf(&h, "<p>%s</p>", tr(r, T_MSG_NONE));
    } else {
        hb_printf(&h,
            "<table><thead><tr><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
            "<th scope=\"col\">%s</th></tr></thead><tbody>",
            tr(r, T_MSG_WITH), tr(r, T_MSG_COUNT), tr(r, T_MSG_LAST));
        size_t i;
        json_t *c;
        json_array_foreach(cs, i, c)
        {
            char when[40];
            http_fmt_time(
                when, sizeof when, (uint64_t)json_integer_value(json_object_get(c, "last")));
            long long unread = (long long)json_integer_value(json_object_get(c, "unread"));
            hb_printf(&h, "<tr><td><a href=\"messages/%s\">", http_jstr(c, "with"));
            http_esc_label(r, &h, http_jstr(c, "name"));
            hb_printf(&h, "</a></td><td>%lld",
                (long long)json_integer_value(json_object_get(c, "count")));
            if (unread)
                hb_printf(
                    &h, " <strong class=\"tag\">%lld %s</strong>", unread, tr(r, T_MSG_UNREAD));
            hb_printf(&h, "</td><td>%s</td></tr>", when);
        }
        hb_puts(&h, "</tbody></table>");
    }
    hb_printf(&h, "<h2 id=\"new-msg\">%s</h2>", tr(r, T_MSG_NEW));
    if (error)
        http_notice(&h, "error", error);
    compose_form(r, &h, &dir, NULL, error != NULL);
    json_decref(cs);
    kn_mailbox_free(&b);
    kn_directory_free(&dir);
    http_page_end(r, &h, status);
}

/* A conversation and the form to write in it; error: a refused message, shown with it. */
static void conversation_page(hreq *r, const char *keyhex, const char *error, int status)
{
    uint8_t other[32];
    kn_directory dir;
    kn_mailbox b;
    if (!http_parse_id(keyhex, other)) {
        http_error(r, 404, "not_found", tr(r, T_NOT_FOUND));
        return;
    }
    if (!load(r, &dir, &b))
        return;
    const kn_user_entry *u = kn_directory_user(&dir, other);
    json_t *msgs = u ? conversation(r, &b, other) : NULL;
    if (!u)
        http_error(r, 404, "not_found", tr(r, T_MSG_TO_BAD));
    if (!msgs) {
        kn_mailbox_free(&b);
        kn_directory_free(&dir);
        return;
    }
    char name[300];
    kn_directory_label(&dir, other, name, sizeof name);
    hbuf h = { 0 };
    char title[400];
    http_page_begin(r, &h, http_label_tr(r, name, title, sizeof title));
    if (http_form_get(&r->query, "sent"))
        http_notice(&h, "ok", tr(r, T_MSG_SENT));
    hb_printf(&h, "<h1>%s ", tr(r, T_MSG_WITH));
    http_esc_label(r, &h, name);
    hb_puts(&h, "</h1>");
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        char when[40];
        bool sent = json_is_true(json_object_get(m, "sent"));
        http_fmt_time(
            when, sizeof when, (uint64_t)json_integer_value(json_object_get(m, "created")));
        hb_printf(&h,
            "<article class=\"msg%s\" id=\"m%.16s\"><p class=\"meta\">%s, <time>%s</time></p>",
            sent ? " mine" : "", http_jstr(m, "id"),
            sent ? tr(r, T_MSG_FROM_ME) : tr(r, T_MSG_FROM_THEM), when);
        if (*http_jstr(m, "subject")) {
            hb_puts(&h, "<h2 class=\"subject\">");
            hb_escs(&h, http_jstr(m, "subject"));
            hb_puts(&h, "</h2>");
        }
        if (*http_jstr(m, "error"))
            http_notice(&h, "error", http_jstr(m, "error"));
        else
            http_markdown(&h, http_jstr(m, "body"));
        hb_puts(&h, "</article>");
    }
    if (!json_array_size(msgs))
        hb_printf(&h, "<p>%s</p>", tr(r, T_MSG_NONE_WITH));
    hb_printf(&h, "<h2 id=\"reply\">%s</h2>", tr(r, T_MSG_WRITE));
    if (error)
        http_notice(&h, "error", error);
    if (u->r.revoked_at == KN_ROSTER_NEVER)
        compose_form(r, &h, &dir, keyhex, error != NULL);
    json_decref(msgs);
    kn_mailbox_free(&b);
    kn_directory_free(&dir);
    http_page_end(r, &h, status);
}

/*
 * A refused message: the conversation with its addressee (a user this node
 * knows) or the messages page, either with the message and what was typed.
 */
static void send_again(hreq *r, int status, const char *msg)
{
    const char *to = http_param(r, "to");
    uint8_t key[32];
    kn_directory dir;
    bool known = false;
    if (to && http_parse_id(to, key) && kn_directory_load(r->n->dd, &dir) == 0) {
        const kn_user_entry *u = kn_directory_user(&dir, key);
        known = u && u->r.revoked_at == KN_ROSTER_NEVER;
        kn_directory_free(&dir);
    }
    if (known)
        conversation_page(r, to, msg, status);
    else
        messages_page(r, msg, status);
}

static void send_post(hreq *r)
{
    uint8_t id[KN_ID];
    const char *to = http_param(r, "to");
    r->form_again = send_again;
    if (send_message(r, to, http_param(r, "subject"), http_param(r, "body"), NULL, id) < 0)
        return;
    char loc[140];
    snprintf(loc, sizeof loc, "/messages/%.64s?sent=1#reply", to);
    http_redirect(r, loc);
}

bool http_msg_pages(hreq *r)
{
    if (r->nseg < 1 || strcmp(r->seg[0], "messages") != 0)
        return false;
    bool get = http_method_is(r, "GET") || http_method_is(r, "HEAD");
    if (r->nseg == 1 && get)
        messages_page(r, NULL, 200);
    else if (r->nseg == 1 && http_method_is(r, "POST"))
        send_post(r);
    else if (r->nseg == 2 && get)
        conversation_page(r, r->seg[1], NULL, 200);
    else
        http_error(r, 404, "not_found", tr(r, T_NOT_FOUND));
    return true;
}
