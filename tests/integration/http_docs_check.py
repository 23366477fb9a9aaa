"""Checks of documents over HTTP against one running node (called by http_docs.sh).

usage: http_docs_check.py BASE-URL IDENTITY-KEY-FILE OUT-FILE
The node has the logins erika and max (password geheim-passwort), both staff.
Uploads in pieces (order, bounds, CSRF), publishing, listing (newest version
per chain, filters), the detail with versions, downloads (byte-identical,
headers, paths that try to leave their blob, byte ranges), retraction.
"""
import hashlib
import json
import os
import sys

from http_lib import Client, check, check_confirm_page, check_withdraw_refused, form

BASE = sys.argv[1]


def pdf(text):
    """A small valid PDF with one page that shows text."""
    content = b"BT /F1 24 Tf 72 720 Td (" + text.encode() + b") Tj ET"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = b"%PDF-1.4\n"
    offs = []
    for i, o in enumerate(objs):
        offs.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
    x = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offs:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
    return out


erika = Client(BASE, "erika")
max_ = Client(BASE, "max")

# --- uploads: CSRF, bounds, order ---
st, _, b = erika.req("POST", "/api/uploads", {"name": "a.pdf", "size": 10}, csrf=False)
check(st == 403 and json.loads(b)["error"] == "csrf", "upload start without CSRF: %d" % st)
for bad in ("", ".", "..", "a/b.pdf", "a\\b", "x\x01y", "a" * 256):
    st, _, b = erika.req("POST", "/api/uploads", {"name": bad, "size": 10})
    check(st == 400, "bad name %r: %d" % (bad, st))
st, _, b = erika.req("POST", "/api/uploads", {"name": "a.pdf", "size": 10, "mime": "text/html\r\nX: y"})
check(st == 400, "bad mime: %d" % st)
st, _, b = erika.req("POST", "/api/uploads", {"name": "a.pdf", "size": -1})
check(st == 400, "negative size: %d" % st)
st, _, b = erika.req("POST", "/api/uploads", {"name": "a.pdf", "size": 17 << 30})
check(st == 400, "size over 16 GiB: %d" % st)

big = os.urandom(3 * (1 << 20) + 12345)  # 13 chunks, 4 pieces
st, _, b = erika.req("POST", "/api/uploads", {"name": "big.bin", "size": len(big), "mime": "application/octet-stream"})
check(st == 201, "start: %d" % st)
uid = json.loads(b)["id"]
st, _, b = erika.req("PUT", "/api/uploads/%s?offset=0" % uid, big[:100], csrf=False)
check(st == 403, "piece without CSRF: %d" % st)
st, _, b = erika.req("PUT", "/api/uploads/%s?offset=5" % uid, big[:100])
check(st == 409 and json.loads(b)["received"] == 0, "piece at the wrong offset: %d %s" % (st, b))
st, _, b = erika.req("PUT", "/api/uploads/%s?offset=0" % uid, big[:(1 << 20) + 1])
check(st == 413, "piece over 1 MiB: %d" % st)
st, _, b = max_.req("PUT", "/api/uploads/%s?offset=0" % uid, big[:100])
check(st == 404, "another login's upload: %d" % st)
st, _, b = erika.req("PUT", "/api/uploads/%s" % uid, big[:100])
check(st == 400, "piece without offset: %d" % st)
off = 0
while off < len(big):
    st, _, b = erika.req("PUT", "/api/uploads/%s?offset=%d" % (uid, off), big[off:off + (1 << 20)])
    check(st == 200, "piece: %d %s" % (st, b))
    off += 1 << 20
st, _, b = erika.req("PUT", "/api/uploads/%s?offset=%d" % (uid, len(big)), b"x")
check(st == 409, "piece after the end: %d" % st)
st, _, b = erika.req("DELETE", "/api/uploads/" + uid)
check(st == 200, "cancel: %d" % st)
st, _, b = erika.req("GET", "/api/uploads/" + uid)
check(st == 404, "cancelled upload gone: %d" % st)

# --- publish a doc from two uploads, one with a hostile name ---
p1 = pdf("Checkliste Vergabe")
evil = '<img src=x onerror=alert(1)>"; filename=evil.exe; Ärger.pdf'
u1 = erika.upload("checkliste.pdf", p1)
u2 = erika.upload(evil, big, "application/octet-stream")
st, _, b = erika.req("POST", "/api/docs", {"title": "Checkliste", "space": "Vergaberecht",
                                          "kind": "checklist", "files": [u1, u2]}, csrf=False)
check(st == 403, "publish without CSRF: %d" % st)
st, _, b = max_.req("POST", "/api/docs", {"title": "X", "space": "V", "files": [u1]})
check(st == 404, "publishing another login's upload: %d" % st)
st, _, b = erika.req("POST", "/api/docs", {"title": "Checkliste", "space": "Vergaberecht",
                                          "kind": "checklist", "description": "Vor **jeder** Vergabe",
                                          "tags": "Vergabe, Checkliste", "files": [u1, u2]})
check(st == 201, "publish: %d %s" % (st, b))
doc1 = json.loads(b)["id"]
st, _, b = erika.req("GET", "/api/uploads/" + u1)
check(st == 404, "an upload is gone once published: %d" % st)

# --- downloads ---
st, h, b = max_.req("GET", "/api/docs/%s/files/0" % doc1)
check(st == 200 and b == p1, "download is byte-identical: %d %d bytes" % (st, len(b)))
check(h.get("content-type") == "application/pdf", "content type: %s" % h.get("content-type"))
check(h.get("x-content-type-options") == "nosniff", "nosniff on a download")
check("attachment" in h.get("content-disposition", ""), "attachment")
check("sandbox" in h.get("content-security-policy", ""), "sandbox CSP on a download")
st, h, b = max_.req("GET", "/api/docs/%s/files/1" % doc1)
check(st == 200 and hashlib.sha256(b).digest() == hashlib.sha256(big).digest(), "big download")
cd = h.get("content-disposition", "")
check(cd.startswith('attachment; filename="') and "filename*=UTF-8''" in cd, "disposition: " + cd)
fallback = cd.split('filename="', 1)[1].split('"', 1)[0]
check('"' not in fallback and "\\" not in fallback and ";" not in fallback and "<" in fallback,
      "fallback name escaped: " + cd)
check("%C3%84rger.pdf" in cd and "%3Cimg" in cd and "%22" in cd, "filename* encoded: " + cd)
check("\r" not in cd and "\n" not in cd, "no line breaks in the header")
st, h, b = max_.req("HEAD", "/api/docs/%s/files/0" % doc1)
check(st == 200 and b == b"" and h.get("content-length") == str(len(p1)), "HEAD: %d %s" % (st, h))

# --- ranges (docs/api.md): slices byte-identical, across chunks, streamed from the store ---
fpath = "/api/docs/%s/files/1" % doc1
st, h, b = max_.req("GET", fpath)
check(h.get("accept-ranges") == "bytes", "Accept-Ranges on a download: %s" % h)
etag = h.get("etag", "")
check(len(etag) == 66 and etag[0] == etag[-1] == '"', "ETag: %r" % etag)
C, N = 262144, len(big)
for spec, lo, hi in (("0-0", 0, 0), ("0-99", 0, 99), ("%d-%d" % (C - 1, C), C - 1, C),
                     ("%d-%d" % (3 * C + 5, 5 * C + 17), 3 * C + 5, 5 * C + 17),
                     ("%d-" % (N - 10), N - 10, N - 1), ("%d-%d" % (N - 3, N + 1000), N - 3, N - 1),
                     ("-1", N - 1, N - 1), ("-12345", N - 12345, N - 1), ("-%d" % (N + 10), 0, N - 1),
                     ("0-", 0, N - 1), ("7-99999999999999999999999", 7, N - 1)):
    st, h, b = max_.req("GET", fpath, headers={"Range": "bytes=" + spec})
    check(st == 206 and b == big[lo:hi + 1], "range %s: %d, %d bytes" % (spec, st, len(b)))
    check(h.get("content-range") == "bytes %d-%d/%d" % (lo, hi, N), "Content-Range of %s: %s"
          % (spec, h.get("content-range")))
    check(h.get("content-length") == str(hi - lo + 1), "Content-Length of %s" % spec)
for spec in ("bytes=%d-" % N, "bytes=%d-%d" % (N, N + 5), "bytes=-0",
             "bytes=99999999999999999999999-"):
    st, h, b = max_.req("GET", fpath, headers={"Range": spec})
    check(st == 416 and h.get("content-range") == "bytes */%d" % N, "unsatisfiable %s: %d %s"
          % (spec, st, h.get("content-range")))
# Ignored (the whole file, 200): several ranges, garbage, negative, another unit, a stale If-Range.
for hdrs in ({"Range": "bytes=0-1,5-6"}, {"Range": "bytes=abc"}, {"Range": "bytes=--5"},
             {"Range": "bytes=9-3"}, {"Range": "items=0-5"},
             {"Range": "bytes=0-5", "If-Range": '"' + "0" * 64 + '"'},
             {"Range": "bytes=0-5", "If-Range": "Sun, 22 Nov 2026 08:00:00 GMT"}):
    st, h, b = max_.req("GET", fpath, headers=hdrs)
    check(st == 200 and b == big and "content-range" not in h, "ignored %r: %d" % (hdrs, st))
st, h, b = max_.req("GET", fpath, headers={"Range": "bytes=10-19", "If-Range": etag})
check(st == 206 and b == big[10:20], "If-Range with the ETag: %d" % st)
st, h, b = max_.req("HEAD", fpath, headers={"Range": "bytes=10-19"})
check(st == 200 and h.get("content-length") == str(N), "HEAD ignores Range: %d %s" % (st, h))
key = open(sys.argv[2], "rb").read() if len(sys.argv) > 2 else b"\0" * 32


def no_escape(path, st, h, b):
    """A path that tries to leave its blob: refused, or (normalised by the
    server to a page of this site, e.g. "files/.." to the doc) never a file."""
    check(400 <= st < 500 or (st == 200 and "json" in h.get("content-type", "")
                               and "content-disposition" not in h),
          "path %s: %d %s" % (path, st, h.get("content-type")))
    check(p1[:8] not in b and key not in b and b"PRIVATE" not in b, "no file bytes for %s" % path)


for bad in ("2", "-1", "1x", "99999999999999999999", "%2e%2e", "..%2f..%2fidentity.key"):
    path = "/api/docs/%s/files/%s" % (doc1, bad)
    st, h, b = max_.req("GET", path)
    no_escape(path, st, h, b)
for path in ("/api/docs/%s/files/0/../../../../identity.key" % doc1,
             "/api/docs/../../identity.key", "/api/docs/%2e%2e/files/0",
             "/api/docs/" + "0" * 64 + "/files/0", "/api/docs/%s/files/0" % doc1[:-2],
             "/api/docs/%s/files/0" % u1, "/api/docs/%s/files/0%%00" % doc1,
             "/api/docs/%s/files/0/x" % doc1):
    st, h, b = max_.req("GET", path)
    no_escape(path, st, h, b)
# a thread's id is not a doc
st, _, b = erika.req("POST", "/api/threads", {"space": "Vergaberecht", "title": "Frage"})
tid = json.loads(b)["id"]
st, _, b = max_.req("GET", "/api/docs/%s/files/0" % tid)
check(st == 404, "a thread is no doc: %d" % st)

# --- a second doc, and a new version of the first ---
u3 = max_.upload("formular.pdf", pdf("Formular"))
st, _, b = max_.req("POST", "/api/docs", {"title": "Formular Gewerbe", "space": "Gewerbe",
                                         "kind": "form", "files": [u3]})
check(st == 201, "second doc: %d %s" % (st, b))
doc2 = json.loads(b)["id"]
st, _, b = max_.req("GET", "/api/docs/%s/files/1" % doc2)
check(st == 404, "doc2 has no file 1 (doc1 has): %d" % st)
st, _, b = max_.req("POST", "/api/docs", {"supersedes": doc1, "files": [], "keep": [0]})
check(st == 403, "a new version of another's doc: %d" % st)
p1b = pdf("Checkliste Vergabe, Stand 2")
u4 = erika.upload("checkliste-2.pdf", p1b)
st, _, b = erika.req("POST", "/api/docs", {"supersedes": doc1, "files": [u4], "keep": [1]})
check(st == 201, "new version: %d %s" % (st, b))
doc1b = json.loads(b)["id"]
st, _, b = erika.req("GET", "/api/docs/" + doc1b)
j = json.loads(b)
check(j["doc"]["body"]["title"] == "Checkliste" and j["doc"]["space"] == "Vergaberecht",
      "the new version takes over title and area")
check([f["name"] for f in j["doc"]["files"]] == [evil, "checkliste-2.pdf"], "kept + new files")
check(len(j["versions"]) == 2 and j["newest"] == doc1b and j["versions"][0]["id"] == doc1,
      "versions: %s" % j["versions"])
st, _, b = erika.req("GET", "/api/docs/" + doc1)
check(json.loads(b)["newest"] == doc1b, "the old version knows the newest")

# --- listing: one entry per chain, filters ---
st, _, b = max_.req("GET", "/api/docs")
items = json.loads(b)["items"]
ids = [i["id"] for i in items]
check(doc1b in ids and doc1 not in ids and doc2 in ids, "newest per chain: %s" % ids)
check([i for i in items if i["id"] == doc1b][0]["versions"] == 2, "versions count")
st, _, b = max_.req("GET", "/api/docs?all_versions=1")
check(doc1 in [i["id"] for i in json.loads(b)["items"]], "all versions")
st, _, b = max_.req("GET", "/api/docs?space=Gewerbe")
check([i["id"] for i in json.loads(b)["items"]] == [doc2], "filter by area")
st, _, b = max_.req("GET", "/api/docs?kind=checklist")
check([i["id"] for i in json.loads(b)["items"]] == [doc1b], "filter by kind")
st, _, b = max_.req("GET", "/api/docs?kind=nonsense")
check(st == 400, "bad kind: %d" % st)
st, _, b = max_.req("GET", "/api/docs?limit=1")
j = json.loads(b)
check(len(j["items"]) == 1 and j["more"] and "next_before" in j, "paging")

# --- pages escape the file name; the list and detail show the doc ---
st, _, b = max_.req("GET", "/docs")
page = b.decode()
check(st == 200 and "Checkliste" in page and "Formular Gewerbe" in page, "docs page")
st, _, b = max_.req("GET", "/docs/" + doc1b)
page = b.decode()
check(st == 200 and "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page,
      "file name escaped on the page")
check("Vor <strong>jeder</strong> Vergabe" in page, "the description (taken over) in Markdown")
check("Vergabe</span>" in page, "the tags (taken over)")
st, _, b = max_.req("GET", "/docs/" + doc1)
check("docs/" + doc1b in b.decode(), "an old version links the newest")
st, _, b = erika.req("GET", "/docs/new")
check(st == 200 and 'id="doc-upload"' in b.decode(), "upload form")

# --- retraction ---
st, _, b = max_.req("POST", "/api/docs/%s/retract" % doc1b, {})
check(st == 403, "retracting another's doc: %d" % st)
st, _, b = erika.req("POST", "/api/docs/%s/retract" % doc1b, {}, csrf=False)
check(st == 403, "retract without CSRF: %d" % st)
st, _, b = erika.req("POST", "/api/docs/%s/retract" % doc1b, {"reason": "veraltet"})
check(st == 200 and json.loads(b)["retracted"] == 2, "retract every version: %d %s" % (st, b))
for d in (doc1, doc1b):
    st, _, b = max_.req("GET", "/api/docs/%s/files/0" % d)
    check(st == 410, "download of a retracted doc: %d" % st)
    check(p1[:8] not in b, "no bytes of a retracted doc")
st, _, b = max_.req("GET", "/api/docs")
check(doc1b not in [i["id"] for i in json.loads(b)["items"]], "retracted doc not listed")
st, _, b = max_.req("GET", "/api/docs/%s/files/0" % doc2)
check(st == 200 and b.startswith(b"%PDF"), "the other doc is unaffected")

# --- withdrawing on the pages: a confirmation page first (no JavaScript), then every version goes ---
def page(c, path, status=200):
    st, _, b = c.req("GET", path)
    check(st == status, "GET %s: %d (expected %d)" % (path, st, status))
    return b.decode()


u8 = erika.upload("rundschreiben.pdf", pdf("Rundschreiben"))
st, _, b = erika.req("POST", "/api/docs", {"title": "Rundschreiben 2026", "space": "Test", "files": [u8]})
check(st == 201, "doc to withdraw: %d %s" % (st, b))
doc3 = json.loads(b)["id"]
st, _, b = erika.req("POST", "/api/docs", {"supersedes": doc3, "title": "Rundschreiben 2026 (neu)",
                                           "files": [], "keep": [0]})
check(st == 201, "its new version: %d %s" % (st, b))
doc3b = json.loads(b)["id"]
p = page(erika, "/docs/" + doc3b)
check('href="docs/%s/retract"' % doc3b in p and 'action="docs/%s/retract"' % doc3b not in p,
      "the doc page: withdrawing is a link to the confirmation page, not a one-click form")
check("/retract" not in page(erika, "/docs/" + doc3), "no withdraw link on an old version")
check("/retract" not in page(max_, "/docs/" + doc3b), "no withdraw link on someone else's doc")
for path in ("/docs/%s/retract" % doc3b, "/objects/%s/retract" % doc3b):
    p = page(erika, path)
    check_confirm_page(p, "docs/%s/retract" % doc3b, erika, "docs/" + doc3b)
    check("<dd>Dokument</dd>" in p and "<dd>Rundschreiben 2026 (neu)</dd>" in p and "<dd>Test</dd>" in p
          and "<dt>Versionen</dt><dd>2</dd>" in p, "the doc's confirmation page at %s" % path)
st, h, _ = erika.req("GET", "/docs/%s/retract" % doc3)
check(st == 303 and h["location"] == "/docs/%s/retract" % doc3b, "an old version confirms on the newest: %d" % st)
page(max_, "/docs/%s/retract" % doc3b, 403)
page(erika, "/docs/%s/retract" % doc2, 403)
page(erika, "/docs/%s/retract" % ("0" * 64), 404)
check("Rundschreiben 2026 (neu)" in page(erika, "/docs/" + doc3b), "Cancel leads back to the doc")
check_withdraw_refused(erika, max_, "/docs/%s/retract" % doc3b)
for d in (doc3, doc3b):
    st, _, _ = max_.req("GET", "/api/docs/" + d)
    check(st == 200, "doc %s still there after the refused posts: %d" % (d, st))
st, h, _ = form(erika, "/docs/%s/retract" % doc3b, [("confirm", "1"), ("reason", "ersetzt")])
check(st == 303 and h["location"] == "/docs?retracted=1", "withdraw by the page form: %d %s" % (st, h))
for d in (doc3, doc3b):
    st, _, _ = max_.req("GET", "/api/docs/" + d)
    check(st == 410, "doc version %s after the withdrawal: %d" % (d, st))
page(erika, "/docs/%s/retract" % doc3b, 410)

# --- an empty file ---
u5 = erika.upload("leer.txt", b"", "text/plain")
st, _, b = erika.req("POST", "/api/docs", {"title": "Leer", "space": "Test", "files": [u5]})
check(st == 201, "doc with an empty file: %d %s" % (st, b))
st, _, b = erika.req("GET", "/api/docs/%s/files/0" % json.loads(b)["id"])
check(st == 200 and b == b"", "empty download: %d" % st)

# Left for the shell script: an unfinished upload (its part file must go at
# shutdown) and a published doc with a big file to download slowly.
u6 = erika.req("POST", "/api/uploads", {"name": "halb.bin", "size": 3 << 20})
check(u6[0] == 201, "unfinished upload")
st, _, _ = erika.req("PUT", "/api/uploads/%s?offset=0" % json.loads(u6[2])["id"], big[:1 << 20])
check(st == 200, "first piece of the unfinished upload")
u7 = erika.upload("gross.bin", big, "application/octet-stream")
st, _, b = erika.req("POST", "/api/docs", {"title": "Groß", "space": "Test", "files": [u7]})
check(st == 201, "doc with a big file: %d" % st)
open(sys.argv[3], "w").write("/api/docs/%s/files/0\n%s\n" % (json.loads(b)["id"], erika.cookie_header()))
print("http_docs_check: ok")
