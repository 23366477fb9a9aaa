"""Password checks off the node's loop (called by http_login_async.sh).

usage: http_login_check.py BASE-URL RELEASE-FILE ACTIVATION-TOKEN
The node holds every password check until RELEASE-FILE exists; it exists at the start.
Logins: erika / geheim-passwort, max (activation pending, token given).
"""
import json
import os
import re
import socket
import sys
import threading
import time

from http_lib import Client, check

BASE, RELEASE, TOKEN = sys.argv[1], sys.argv[2], sys.argv[3]
HOST, PORT = BASE[len("http://"):].split(":")


def metric(c, name):
    _, _, b = c.req("GET", "/metrics")
    m = re.search(r"^" + re.escape(name) + r" (\d+)$", b.decode(), re.M)
    check(m, "metric %s" % name)
    return int(m.group(1))


def checks(c, state):
    return metric(c, 'knoten_http_password_checks{state="%s"}' % state)


def wait_running(c, n, what):
    for _ in range(500):
        if checks(c, "running") == n:
            return
        time.sleep(0.01)
    check(False, "%s: %d password checks running, want %d" % (what, checks(c, "running"), n))


def hold():
    os.unlink(RELEASE)


def release():
    open(RELEASE, "w").close()


class Bg(threading.Thread):
    """A login in the background: its client, or None, and the answer's status."""

    def __init__(self, login, password):
        super().__init__(daemon=True)
        self.login, self.password, self.client, self.status = login, password, None, None

    def run(self):
        try:
            self.client = Client(BASE, self.login, self.password)
            self.status = 200
        except SystemExit as e:  # check() in Client: a refused login
            self.status = int(re.search(r"login \S+: (\d+)", str(e)).group(1))


# Released: a login works as before.
b = Client(BASE, "erika")
st, _, _ = b.req("GET", "/api/session")
check(st == 200, "session after login: %d" % st)

# Held: the login waits on the pool, and the node answers other requests meanwhile.
hold()
a = Bg("erika", "geheim-passwort")
a.start()
wait_running(b, 1, "a login being checked")
t0 = time.monotonic()
st, _, body = b.req("GET", "/api/threads?limit=5")
check(st == 200, "a listing while a password check runs: %d" % st)
st, _, body = b.req("GET", "/healthz")
check(st == 200 and body == b"ok\n", "healthz while a password check runs")
st, _, body = b.req("GET", "/forum")
check(st == 200, "a page while a password check runs: %d" % st)
check(a.is_alive() and a.status is None, "the held login has not been answered")
check(time.monotonic() - t0 < 5, "requests during the check took %.1f s" % (time.monotonic() - t0))
release()
a.join(20)
check(a.status == 200, "the held login completes once released: %s" % a.status)
st, _, _ = a.client.req("GET", "/api/session")
check(st == 200, "its session works: %d" % st)
wait_running(b, 0, "after the login")

# A client that leaves while its check runs: nothing is answered, nothing breaks.
hold()
s = socket.create_connection((HOST, int(PORT)), timeout=10)
body = json.dumps({"login": "erika", "password": "geheim-passwort"}).encode()
s.sendall(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % len(body) + body)
wait_running(b, 1, "a login whose client will leave")
s.close()
time.sleep(0.2)
release()
wait_running(b, 0, "after the client left")
st, _, _ = b.req("GET", "/api/session")
check(st == 200, "the node serves on after a client left during its check: %d" % st)

# Wrong passwords in parallel: the attempts in progress count, so the sixth is refused
# at once (rate limit: 5 per account), while the others are still being checked.
hold()
wrong = [Bg("erika", "falsch-%d" % i) for i in range(5)]
for w in wrong:
    w.start()
for _ in range(500):
    if checks(b, "running") + checks(b, "waiting") == 5:
        break
    time.sleep(0.01)
check(checks(b, "running") == 2 and checks(b, "waiting") == 3,
      "two checks run at once, the others wait: %d running, %d waiting"
      % (checks(b, "running"), checks(b, "waiting")))
sixth = Bg("erika", "falsch-6")
sixth.start()
sixth.join(10)
check(sixth.status == 429, "the sixth attempt in parallel is rate limited at once: %s"
      % sixth.status)
release()
right = Bg("erika", "geheim-passwort")
for w in wrong + [right]:
    if w is right:
        w.start()
    w.join(20)
    check(w.status == (429 if w is right else 401), "%s: %s" % (w.password, w.status))

# Activation hashes the new password on the pool too, and signs in.
hold()
done = {}


def activate():
    import urllib.request
    import urllib.error
    r = urllib.request.Request(BASE + "/activate", method="POST",
                               data=("t=%s&password=neues-passwort&password2=neues-passwort"
                                     % TOKEN).encode(),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    try:
        with urllib.request.build_opener(NoRedirect).open(r, timeout=20) as resp:
            done["status"] = resp.status
    except urllib.error.HTTPError as e:
        done["status"] = e.code
        done["cookie"] = e.headers.get("set-cookie", "")


t = threading.Thread(target=activate, daemon=True)
t.start()
wait_running(b, 1, "an activation being hashed")
st, _, _ = b.req("GET", "/healthz")
check(st == 200 and "status" not in done, "served while the activation hashes")
release()
t.join(20)
check(done.get("status") == 303 and "knoten_session=" in done.get("cookie", ""),
      "activation signs in: %s" % done)
m = Client(BASE, "max", "neues-passwort")
st, _, _ = m.req("GET", "/api/session")
check(st == 200, "the activated password works: %d" % st)
print("http_login_check: ok")
