"""Shared pieces of the HTTP checks (http_docs_check.py, http_collab_check.py):
a client with a session and its CSRF token, and check()."""
import http.cookiejar
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def check(cond, what):
    if not cond:
        sys.exit("FAILED: " + what)


def headers_of(msg):
    """Lower-case names; repeated headers joined with ", "."""
    h = {}
    for k, v in msg.items():
        k = k.lower()
        h[k] = h[k] + ", " + v if k in h else v
    return h


class Client:
    def __init__(self, base, login, password="geheim-passwort"):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.op = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)
        st, _, b = self.req("POST", "/api/login", {"login": login, "password": password})
        check(st == 200, "login %s: %d %s" % (login, st, b))
        self.csrf = json.loads(b)["csrf"]

    def cookie_header(self):
        """The session as a Cookie header value, for clients outside this one."""
        return "; ".join("%s=%s" % (c.name, c.value) for c in self.jar)

    def req(self, method, path, body=None, headers=None, ctype=None, csrf=True):
        h = dict(headers or {})
        data = None
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif body is not None:
            data = body
            h.setdefault("Content-Type", ctype or "application/octet-stream")
        if csrf and method not in ("GET", "HEAD") and hasattr(self, "csrf"):
            h.setdefault("X-CSRF-Token", self.csrf)
        r = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with self.op.open(r, timeout=20) as resp:
                return resp.status, headers_of(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, headers_of(e.headers), e.read()

    def upload(self, name, data, mime="application/pdf", piece=1 << 20):
        st, _, b = self.req("POST", "/api/uploads", {"name": name, "size": len(data), "mime": mime})
        check(st == 201, "start upload %r: %d %s" % (name, st, b))
        u = json.loads(b)
        off = 0
        while off < len(data):
            chunk = data[off:off + piece]
            st, _, b = self.req("PUT", "/api/uploads/%s?offset=%d" % (u["id"], off), chunk)
            check(st == 200, "piece at %d: %d %s" % (off, st, b))
            off += len(chunk)
        for _ in range(200):
            st, _, b = self.req("GET", "/api/uploads/" + u["id"])
            j = json.loads(b)
            if j["state"] == "ready":
                break
            check(j["state"] == "storing", "upload state %s" % j)
            time.sleep(0.05)
        check(j["state"] == "ready" and j["stored"] == len(data), "upload stored: %s" % j)
        return u["id"]


def form(c, path, fields, csrf=True):
    """A page form POST (urlencoded) by client c, with its csrf field unless csrf=False."""
    f = list(fields) + ([("csrf", c.csrf)] if csrf else [])
    return c.req("POST", path, urllib.parse.urlencode(f).encode(), csrf=False,
                 ctype="application/x-www-form-urlencoded")


def check_confirm_page(p, action, c, cancel):
    """p is a withdrawal's confirmation page (German) for client c: its form posts to action
    with c's CSRF token and confirm=1, offers a labelled reason, warns that every version goes
    and that it cannot be undone, and its Withdraw button comes before Cancel (to cancel)."""
    check('<form method="post" action="%s"' % action in p
          and '<input type="hidden" name="csrf" value="%s">' % c.csrf in p
          and '<input type="hidden" name="confirm" value="1">' in p
          and '<label for="reason">' in p and 'id="reason" name="reason"' in p
          and "nicht rückgängig" in p and "jeder früheren Version" in p
          and '<a class="button secondary" href="%s">Abbrechen</a>' % cancel in p
          and p.index('type="submit"') < p.index(">Abbrechen</a>"), "confirmation page for " + action)


def check_withdraw_refused(owner, other, path):
    """A withdrawal POSTed to path (a page form) is refused: without confirm=1 with 400 and a link
    to the confirmation page (an old cached page, a stray form), without or with a wrong CSRF token
    and by someone else with 403. The caller checks that nothing went."""
    for extra in ([], [("confirm", "0")], [("confirm", "yes")]):
        st, _, b = form(owner, path, extra)
        check(st == 400 and 'href="%s"' % path[1:] in b.decode(), "POST %s %s: %d" % (path, extra, st))
    for fields in ([("confirm", "1")], [("confirm", "1"), ("csrf", "0" * 64)]):
        st, _, _ = form(owner, path, fields, csrf=False)
        check(st == 403, "POST %s without or with a wrong CSRF token %s: %d" % (path, fields, st))
    st, _, _ = form(other, path, [("confirm", "1")])
    check(st == 403, "POST %s by someone else: %d" % (path, st))
