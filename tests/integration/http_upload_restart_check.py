"""Uploads across a restart (called by http_upload_restart.sh).

usage: http_upload_restart_check.py before|after BASE-URL STATE-FILE
before: starts three uploads (half sent; complete and ready; 1 MiB sent) and writes their ids
to STATE-FILE. after: the node was killed and started again; checks each.
"""
import json
import sys
import time

from http_lib import Client, check

PHASE, BASE, STATE = sys.argv[1], sys.argv[2], sys.argv[3]
MIB = 1 << 20


def data(n, seed):
    return bytes((i * 31 + seed + (i >> 12)) & 0xff for i in range(n))


A = data(3 * MIB + 1000, 1)
B = data(700000, 2)
C = data(2 * MIB + 5, 3)
c = Client(BASE, "erika")


def start(name, size):
    st, _, b = c.req("POST", "/api/uploads", {"name": name, "size": size,
                                               "mime": "application/octet-stream"})
    check(st == 201, "start %s: %d %s" % (name, st, b))
    return json.loads(b)["id"]


def put(uid, off, piece):
    return c.req("PUT", "/api/uploads/%s?offset=%d" % (uid, off), piece)


def state(uid):
    st, _, b = c.req("GET", "/api/uploads/" + uid)
    check(st == 200, "upload %s: %d %s" % (uid, st, b))
    return json.loads(b)


def until_settled(uid):
    for _ in range(400):
        u = state(uid)
        if u["state"] in ("ready", "failed"):
            return u
        time.sleep(0.05)
    check(False, "upload %s did not settle: %s" % (uid, u))


if PHASE == "before":
    a = start("a.bin", len(A))
    check(put(a, 0, A[:MIB])[0] == 200, "a piece 1")
    check(put(a, MIB, A[MIB:MIB + MIB // 2])[0] == 200, "a piece 2")
    b = start("b.bin", len(B))
    check(put(b, 0, B)[0] == 200, "b")
    check(until_settled(b)["state"] == "ready", "b ready")
    bad = start("c.bin", len(C))
    check(put(bad, 0, C[:MIB])[0] == 200, "c piece 1")
    open(STATE, "w").write("%s\n%s\n%s\n" % (a, b, bad))
    print("before: ok")
    sys.exit(0)

a, b, bad = open(STATE).read().split()
# The half upload continues where its part file ends.
u = state(a)
check(u["state"] == "receiving" and u["received"] == MIB + MIB // 2, "a after restart: %s" % u)
st, _, body = put(a, 0, A[:MIB])
check(st == 409 and json.loads(body)["received"] == MIB + MIB // 2, "wrong offset: %d %s" % (st, body))
off = u["received"]
while off < len(A):
    st, _, body = put(a, off, A[off:off + MIB])
    check(st == 200, "a at %d: %d %s" % (off, st, body))
    off = min(off + MIB, len(A))
check(until_settled(a)["state"] == "ready", "a ready: %s" % state(a))
check(state(b)["state"] == "ready", "b still ready: %s" % state(b))
st, _, body = c.req("POST", "/api/docs", {"title": "Nach dem Neustart", "space": "Vergaberecht",
                                           "files": [a, b]})
check(st == 201, "publish: %d %s" % (st, body))
doc = json.loads(body)["id"]
for i, want in enumerate((A, B)):
    st, _, got = c.req("GET", "/api/docs/%s/files/%d" % (doc, i))
    check(st == 200 and got == want, "file %d byte-identical: %d, %d bytes" % (i, st, len(got)))
# The damaged one: the rest arrives, then the store finds the damage.
u = state(bad)
check(u["state"] == "receiving" and u["received"] == MIB, "c after restart: %s" % u)
check(put(bad, MIB, C[MIB:2 * MIB])[0] == 200, "c piece 2")
check(put(bad, 2 * MIB, C[2 * MIB:])[0] == 200, "c piece 3")
u = until_settled(bad)
check(u["state"] == "failed" and "damaged" in u.get("message", ""), "c fails: %s" % u)
st, _, _ = c.req("DELETE", "/api/uploads/" + bad)
print("after: ok")
