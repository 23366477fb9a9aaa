"""Checks of the listing cache of one running node (called by http_listing.sh).

usage: http_listing_check.py BASE-URL KNOTEN DATA-DIR
The node has the login erika / geheim-passwort and three threads.
"""
import json
import re
import subprocess
import sys
import time

from http_lib import Client, check

BASE, KNOTEN, DATA = sys.argv[1], sys.argv[2], sys.argv[3]


def cache_counts(c):
    _, _, b = c.req("GET", "/metrics")
    m = b.decode()
    hit = re.search(r'^knoten_http_listing_cache_total\{result="hit"\} (\d+)', m, re.M)
    miss = re.search(r'^knoten_http_listing_cache_total\{result="miss"\} (\d+)', m, re.M)
    check(hit and miss, "listing cache counters in /metrics")
    return int(hit.group(1)), int(miss.group(1))


def titles(b):
    return [o["body"]["title"] for o in json.loads(b)["items"]]


c = Client(BASE, "erika")

# Twice the same listing: the second answer comes from the cache and is the same.
h0, m0 = cache_counts(c)
st, h1, b1 = c.req("GET", "/api/threads?limit=2")
st2, h2, b2 = c.req("GET", "/api/threads?limit=2")
h1c, m1c = cache_counts(c)
check(st == 200 and st2 == 200 and b1 == b2, "the same listing twice: %d %d" % (st, st2))
check(m1c == m0 + 1 and h1c == h0 + 1, "one miss then one hit: %d/%d -> %d/%d"
      % (h0, m0, h1c, m1c))
for k in ("content-type", "cache-control", "content-security-policy", "x-content-type-options"):
    check(h1.get(k) == h2.get(k) and h1.get(k), "header %s cached as rendered" % k)
check(titles(b1) == ["Frage 3", "Frage 2"], "listing: %s" % titles(b1))
j = json.loads(b1)
check(j["more"] is True and j["next_before"] > 0, "more/next_before kept")
# An uncached rendering (another query string, same meaning) has the very same bytes.
st, _, b3 = c.req("GET", "/api/threads?limit=2&x=1")
check(st == 200 and b3 == b1, "cached bytes equal a fresh rendering")
# A HEAD of a cached listing has no body.
st, hh, bh = c.req("HEAD", "/api/threads?limit=2")
st2, hh2, _ = c.req("HEAD", "/api/threads?limit=2&x=2")
check(st == 200 and st2 == 200 and bh == b"" and hh.get("content-length") == hh2.get("content-length"),
      "HEAD from the cache as rendered: %d %s" % (st, hh))

# A thread written by another process (the CLI) on the same data directory shows at once.
subprocess.run([KNOTEN, "thread", "--data", DATA, "--space", "Vergaberecht", "--title",
                "Vom Terminal", "--body", "x"], check=True, stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL)
st, _, b = c.req("GET", "/api/threads?limit=2")
check(titles(b) == ["Vom Terminal", "Frage 3"], "CLI write visible: %s" % titles(b))

# A thread created over the API shows at once too.
st, _, b = c.req("POST", "/api/threads", {"space": "Vergaberecht", "title": "Aus dem Web",
                                             "body": "y"})
check(st == 201, "create: %d %s" % (st, b))
st, _, b = c.req("GET", "/api/threads?limit=2")
check(titles(b) == ["Aus dem Web", "Vom Terminal"], "API write visible: %s" % titles(b))

# A retraction removes it from the listing.
tid = json.loads(c.req("GET", "/api/threads?limit=1")[2])["items"][0]["id"]
st, _, _ = c.req("POST", "/api/objects/%s/retract" % tid, {})
check(st == 201, "retract: %d" % st)
st, _, b = c.req("GET", "/api/threads?limit=2")
check(titles(b) == ["Vom Terminal", "Frage 3"], "retraction visible: %s" % titles(b))

# A new person: the names of authors were read (listing above) before the person existed.
# Their thread is listed with their name once the names are re-read (within 2 s), and a
# listing rendered with the old names in the meantime is not kept for later.
p = subprocess.run([KNOTEN, "user", "add", "--data", DATA, "--name", "Jonas Neu", "--role",
                    "Kämmerei", "--login", "jonas", "--password-stdin"], input=b"jonas-passwort\n",
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
check(p.returncode == 0, "user add: %s" % p.stderr)
cj = Client(BASE, "jonas", "jonas-passwort")
st, _, b = cj.req("POST", "/api/threads", {"space": "Vergaberecht", "title": "Von Jonas",
                                           "body": "z"})
check(st == 201, "jonas creates: %d" % st)
c.req("GET", "/api/threads?limit=1")  # possibly rendered with the old names
time.sleep(2.5)
for _ in range(3):
    st, _, b = c.req("GET", "/api/threads?limit=1")
    item = json.loads(b)["items"][0]
    check(item["body"]["title"] == "Von Jonas" and item.get("author_name") == "Jonas Neu",
          "new person's name in the listing: %r" % item)
print("http_listing_check: ok")
