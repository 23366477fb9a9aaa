"""Checks of the HTTP layer of one running node (called by http_api.sh).

usage: http_check.py BASE-URL ACTIVATION-TOKEN
The node has the admin login erika / geheim-passwort and a pending login max.
"""
import http.cookiejar
import json
import re
import socket
import sys
import urllib.parse
import urllib.error
import urllib.request

BASE, TOKEN = sys.argv[1], sys.argv[2]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def client():
    jar = http.cookiejar.CookieJar()
    op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    return op, jar


def req(op, method, path, body=None, headers=None, ctype=None):
    h = dict(headers or {})
    data = None
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        if ctype:
            h["Content-Type"] = ctype
    r = urllib.request.Request(BASE + path, data=data, method=method, headers=h)
    try:
        with op.open(r, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def check(cond, what):
    if not cond:
        sys.exit("FAILED: " + what)


op, jar = client()
st, h, b = req(op, "GET", "/healthz")
check(st == 200 and b == b"ok\n", "healthz")
check("default-src 'self'" in h.get("content-security-policy", ""), "CSP header")
check(h.get("x-content-type-options") == "nosniff", "nosniff")

st, _, b = req(op, "GET", "/api/objects")
check(st == 401 and json.loads(b)["error"] == "unauthenticated", "API without login: %d" % st)
st, h, _ = req(op, "GET", "/forum")
check(st == 303 and h["location"].startswith("/login"), "page without login redirects")

# wrong password, then the right one
st, _, _ = req(op, "POST", "/api/login", {"login": "erika", "password": "falsch"})
check(st == 401, "wrong password: %d" % st)
st, h, b = req(op, "POST", "/api/login", {"login": "erika", "password": "geheim-passwort"})
check(st == 200, "login: %d %s" % (st, b))
cookie = h.get("set-cookie", "")
check("HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie,
      "cookie flags: " + cookie)
check("Secure" not in cookie, "no Secure without TLS")
sess = json.loads(b)
csrf = sess["csrf"]
check(sess["role"] == "admin" and len(csrf) == 64, "session json")
# a login form posted as a form (not JSON) to the API is refused: only JSON logs in there
st, _, _ = req(op, "POST", "/api/login", "login=erika&password=geheim-passwort",
               ctype="application/x-www-form-urlencoded")
check(st == 415, "form-encoded API login refused: %d" % st)

# state change without / with a wrong CSRF token
T = {"space": "Vergaberecht", "title": "<script>alert('t')</script> Titel",
     "body": "<img src=x onerror=alert(1)> und [x](javascript:alert(2))"}
st, _, b = req(op, "POST", "/api/threads", T)
check(st == 403 and json.loads(b)["error"] == "csrf", "no CSRF token: %d" % st)
st, _, _ = req(op, "POST", "/api/threads", T, {"X-CSRF-Token": "0" * 64})
check(st == 403, "wrong CSRF token")
st, _, b = req(op, "POST", "/api/threads", T, {"X-CSRF-Token": csrf})
check(st == 201, "create thread: %d %s" % (st, b))
tid = json.loads(b)["id"]
st, _, b = req(op, "POST", "/api/threads/%s/posts" % tid, {"body": "Antwort <b>fett</b>"},
               {"X-CSRF-Token": csrf})
check(st == 201, "reply: %d %s" % (st, b))
st, _, b = req(op, "GET", "/api/threads/%s" % tid)
j = json.loads(b)
check(j["thread"]["body"]["title"] == T["title"] and len(j["posts"]) == 1, "thread json")
check(j["thread"]["author_name"] == "Erika Muster", "author name")

# the page escapes everything
for path in ("/forum", "/forum/" + tid, "/", "/areas/Vergaberecht"):
    st, _, b = req(op, "GET", path)
    page = b.decode()
    check(st == 200, "page %s: %d" % (path, st))
    check("<script>alert" not in page and "<img src=x" not in page and "<b>fett" not in page,
          "unescaped user text on " + path)
    check(re.search(r"<script[^>]*>[^<]", page) is None, "inline script on " + path)
st, _, b = req(op, "GET", "/forum/" + tid)
check("&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt; Titel" in b.decode(), "escaped title")

# Markdown renders through the safe renderer: emphasis yes, script and javascript: no
st, _, b = req(op, "GET", "/forum/" + tid)
page = b.decode()
check("javascript:" not in page, "javascript: link on the thread page")
st, _, b = req(op, "POST", "/api/markdown", {"text": "**fett** <script>alert(1)</script> [x](javascript:alert(2))"},
               {"X-CSRF-Token": csrf})
html = json.loads(b)["html"]
check(st == 200 and "<strong>fett</strong>" in html and "<script>" not in html
      and "javascript:" not in html, "markdown preview: %r" % html)
st, _, b = req(op, "POST", "/api/threads/%s/posts" % tid, {"body": "Ein **wichtiger** Punkt"},
               {"X-CSRF-Token": csrf})
st, _, b = req(op, "GET", "/forum/" + tid)
check("<strong>wichtiger</strong>" in b.decode(), "markdown rendered in a reply")

# a form post without the token is refused; with it, a thread is created
st, _, _ = req(op, "POST", "/forum", "space=A&title=Ohne+Token",
               ctype="application/x-www-form-urlencoded")
check(st == 403, "form without csrf: %d" % st)
st, h, _ = req(op, "POST", "/forum", "space=A&title=Mit+Token&body=&csrf=" + csrf,
               ctype="application/x-www-form-urlencoded")
check(st == 303 and h["location"].startswith("/forum/"), "form thread: %d" % st)

# links: only http(s) URLs
st, _, _ = req(op, "POST", "/api/links", {"space": "A", "title": "x", "url": "javascript:alert(1)"},
               {"X-CSRF-Token": csrf})
check(st == 400, "javascript: link refused: %d" % st)
st, _, b = req(op, "POST", "/api/links", {"space": "A", "title": "Handbuch",
                                          "url": "https://example.org/h"}, {"X-CSRF-Token": csrf})
check(st == 201, "link: %d %s" % (st, b))

# retract my own post
lid = json.loads(b)["id"]
st, _, b = req(op, "POST", "/api/objects/%s/retract" % lid, {}, {"X-CSRF-Token": csrf})
check(st == 201, "retract: %d %s" % (st, b))
st, _, _ = req(op, "GET", "/api/objects/" + lid)
check(st == 410, "retracted object is gone: %d" % st)

# bounded bodies and inputs
# h2o answers 413 from the headers alone, before the body is read
import socket
host, port = BASE[len("http://"):].split(":")
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall(("POST /api/threads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: %d\r\n\r\n" % (3 << 20)).encode())
resp = s.recv(4096)
s.close()
check(resp.startswith(b"HTTP/1.1 413"), "body over the limit: %r" % resp[:40])
st, _, _ = req(op, "POST", "/api/threads", "{not json", {"X-CSRF-Token": csrf},
               ctype="application/json")
check(st == 400, "bad json: %d" % st)
st, _, _ = req(op, "GET", "/api/objects?limit=100000")
check(st == 400, "limit bound: %d" % st)
st, _, _ = req(op, "GET", "/api/objects/zz")
check(st == 400, "bad id")
for p in ("/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/app.css/..",
          "/static/..%2fnode.c"):
    st, _, b = req(op, "GET", p)
    check(b"root:" not in b and st in (404, 303), "path escape %s: %d" % (p, st))
st, h, b = req(op, "GET", "/static/app.css")
check(st == 200 and h["content-type"].startswith("text/css"), "static css")

# admin endpoints
st, _, b = req(op, "GET", "/api/members")
check(st == 200 and json.loads(b)["members"][0]["state"] == "founder", "members")
st, _, b = req(op, "GET", "/api/peers")
check(st == 200 and "peers" in json.loads(b), "peers")

# metrics
st, h, b = req(op, "GET", "/metrics")
m = b.decode()
check(st == 200 and h["content-type"].startswith("text/plain"), "metrics type")
check(re.search(r"^knoten_objects [1-9]", m, re.M), "metrics objects")
check(re.search(r'^knoten_http_requests_total\{code="403"\} [1-9]', m, re.M), "metrics 403")
check(re.search(r'^knoten_http_csrf_refused_total [1-9]', m, re.M), "metrics csrf")

# activation: the pending login sets a password, then logs in
op2, _ = client()
st, _, b = req(op2, "GET", "/activate?t=" + TOKEN)
check(st == 200 and b'name="password2"' in b, "activation page")
st, _, _ = req(op2, "POST", "/activate", "t=%s&password=neues-passwort&password2=anders" % TOKEN,
               ctype="application/x-www-form-urlencoded")
check(st == 400, "mismatched passwords")
st, h, _ = req(op2, "POST", "/activate", "t=%s&password=neues-passwort&password2=neues-passwort"
               % TOKEN, ctype="application/x-www-form-urlencoded")
check(st == 303, "activation: %d" % st)
st, _, _ = req(op2, "POST", "/activate", "t=%s&password=x2345678&password2=x2345678" % TOKEN,
               ctype="application/x-www-form-urlencoded")
check(st == 404, "activation link works once: %d" % st)
op3, _ = client()
st, _, b = req(op3, "POST", "/api/login", {"login": "max", "password": "neues-passwort"})
check(st == 200 and json.loads(b)["role"] == "staff", "login after activation: %d" % st)
st, _, _ = req(op3, "GET", "/admin")
check(st == 403, "staff may not see admin: %d" % st)

# logout ends the session
st, _, _ = req(op3, "POST", "/api/logout", {}, {"X-CSRF-Token": json.loads(b)["csrf"]})
check(st == 200, "logout")
st, _, _ = req(op3, "GET", "/api/session")
check(st == 401, "session ended")

# found by fuzz_http_api: the login form's "next" must not lead off the site, however it is
# spelt (browsers drop tabs and newlines, so "/<TAB>/evil.example" is "//evil.example")
for nxt in ("/\t/evil.example", "/\r\nSet-Cookie: x=1", "//evil.example", "/\\evil.example"):
    op5, _ = client()
    st, _, b = req(op5, "GET", "/login?next=" + urllib.parse.quote(nxt, safe=""))
    pre = re.search(rb'name="pre" value="([0-9a-f]{64})"', b)
    check(st == 200 and pre and b'name="next" value="/"' in b, "login page keeps next %r" % nxt)
    form = urllib.parse.urlencode({"pre": pre.group(1).decode(), "login": "erika",
                                   "password": "geheim-passwort", "next": nxt})
    st, h, _ = req(op5, "POST", "/login", form, ctype="application/x-www-form-urlencoded")
    check(st == 303 and h.get("location") == "/", "redirect after login to %r: %d %r"
          % (nxt, st, h.get("location")))

# a path that is not UTF-8 (it would reach the pages as an area name) is refused
u = urllib.parse.urlsplit(BASE)
with socket.create_connection((u.hostname, u.port), timeout=10) as sk:
    sk.sendall(b"GET /areas/\xcaat HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = b""
    while True:
        chunk = sk.recv(65536)
        if not chunk:
            break
        got += chunk
check(got.startswith(b"HTTP/1.1 414") or got.startswith(b"HTTP/1.1 400"),
      "non-UTF-8 path: %r" % got[:40])

# rate limiting: 5 failures for one account, then 429 even with the right password
op4, _ = client()
for i in range(5):
    st, _, _ = req(op4, "POST", "/api/login", {"login": "max", "password": "falsch%d" % i})
    check(st == 401, "failure %d: %d" % (i, st))
st, h, _ = req(op4, "POST", "/api/login", {"login": "max", "password": "neues-passwort"})
check(st == 429 and h.get("retry-after"), "rate limited: %d" % st)
# other accounts from this address still work (the address limit is higher)
st, _, _ = req(op4, "POST", "/api/login", {"login": "erika", "password": "geheim-passwort"})
check(st == 200, "other account not limited: %d" % st)
print("http_check: all passed")
