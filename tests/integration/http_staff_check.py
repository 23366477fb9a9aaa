"""Checks of the pages as staff use them (called by http_collab.sh, after http_collab_check.py).

usage: http_staff_check.py BASE-URL
The node has the logins erika and max (password geheim-passwort).
"""
import html
import http.cookiejar
import json
import re
import sys
import urllib.parse
import urllib.request

from http_lib import Client, NoRedirect, check, form

BASE = sys.argv[1]
erika = Client(BASE, "erika")


class Anonymous(Client):
    """A browser that has not logged in (Client.req without a CSRF token)."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.op = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)


def error_of(body):
    """The text of the page's error notice, or None."""
    m = re.search(r'<p class="error" role="alert">(.*?)</p>', body.decode())
    return html.unescape(m.group(1)) if m else None


def field(body, name):
    """The value of input name, or the text of textarea name, as the page shows it."""
    s = body.decode()
    m = re.search(r'<input id="[^"]*" name="%s"[^>]* value="([^"]*)"' % name, s) or re.search(
        r'<textarea id="[^"]*" name="%s"[^>]*>(.*?)</textarea>' % name, s, re.S)
    return html.unescape(m.group(1)) if m else None


# ---- a refused thread, reply or link keeps what was typed and names the field ----
T = [("space", "Straßenreinigung"), ("title", "Räumpflicht „Gehweg“?"),
     ("body", "Wie regeln Sie die **Räumpflicht** <b>&amp;</b>?"), ("tags", "winter, räumen")]


def refused(path, fields, want_error, keep):
    st, _, b = form(erika, path, fields)
    e = error_of(b)
    check(st == 400 and e and want_error in e, "POST %s %s: %d %r" % (path, fields, st, e))
    for k, v in keep:
        check(field(b, k) == v, "POST %s keeps %s: %r, not %r" % (path, k, field(b, k), v))


long_area = "Ä" * 40  # 40 characters (the form's maxlength is 64) but 80 bytes
refused("/forum", [("space", long_area)] + T[1:], "Bereich an (höchstens 64 Bytes",
        [("space", long_area)] + T[1:])
refused("/forum", [T[0], ("title", "")] + T[2:], "Titel an", [T[0], ("title", "")] + T[2:])
refused("/forum", T[:3] + [("tags", ",".join("t%d" % i for i in range(33)))],
        "Höchstens 32 Schlagwörter", T[:3])
refused("/forum", T[:2] + [("body", "ä" * 16001)] + T[3:], "höchstens 32.000 Bytes", T[:2] + T[3:])
L = [("space", "Satzungen"), ("title", "Straßenreinigungssatzung"), ("url", "www.example.org/s"),
     ("description", "Die „neue“ Fassung"), ("tags", "satzung")]
refused("/links", L, "mit http:// oder https:// beginnen", L)
st, h, _ = form(erika, "/forum", T)
check(st == 303, "thread: %d" % st)
thread = h["location"]
refused(thread + "/reply", [("body", "")], "Text für Ihre Antwort", [])
refused(thread + "/reply", [("body", "ü" * 16001)], "höchstens 32.000 Bytes",
        [("body", "ü" * 16001)])
# in English
st, _, _ = erika.req("GET", "/lang?to=en")
refused("/links", L, "must start with http:// or https://", L)
refused("/forum", [T[0], ("title", "")] + T[2:], "Give a title", T[:1])
st, _, _ = erika.req("GET", "/lang?to=de")

# ---- polls, events, votes, answers and messages: the form again, with the message ----
P = [("space", "Straßen"), ("question", "Räumen Sie selbst?"), ("options", "Ja\nNein, „nie“"),
     ("count", "council"), ("deadline", "2020-01-01"), ("multiple", "1")]
st, _, b = form(erika, "/polls", P)
check(st == 400 and "in der Zukunft" in (error_of(b) or ""), "poll in the past: %d" % st)
for k, v in P[:2] + P[4:5]:
    check(field(b, k) == v.replace("\n", "\r\n") or field(b, k) == v, "poll form keeps %s" % k)
check(field(b, "options") in ("Ja\nNein, „nie“", "Ja\r\nNein, „nie“"), "poll form keeps the options")
check('<option value="council" selected>' in b.decode() and
      re.search(r'name="multiple" value="1" checked', b.decode()) and
      not re.search(r'name="show_early" value="1" checked', b.decode()), "poll form keeps its choices")
E = [("space", "Straßen"), ("title", "Webinar Winterdienst „Glätte“"), ("start", "2026-12-10T10:00"),
     ("end", "2026-12-10T11:30"), ("tz", "Europe/Berlin"), ("place", ""),
     ("link", "https://meet.example.org/x"), ("description", "Für **alle**"), ("capacity", ""),
     ("contact", "erika@example.org")]
for i, v, want in [(3, "2026-12-10T09:00", "Ende liegt vor dem Beginn"),
                   (4, "Europe/Bärlin", "Diese Zeitzone gibt es nicht"),
                   (2, "morgen", "„Beginn“: bitte als Datum mit Uhrzeit"),
                   (8, "-3", "„Plätze“ ist eine Anzahl")]:
    sent = E[:i] + [(E[i][0], v)] + E[i + 1:]
    st, _, b = form(erika, "/events", sent)
    check(st == 400 and want in (error_of(b) or ""), "event with %s=%s: %d %r" % (E[i][0], v, st, error_of(b)))
    for k, v2 in sent:
        check(field(b, k) == v2, "event form keeps %s: %r" % (k, field(b, k)))
st, h, _ = form(erika, "/events", E)
check(st == 303, "event: %d" % st)
event = h["location"]
st, _, b = form(erika, event + "/edit", E[:3] + [("end", "2026-12-10T08:00")] + E[4:])
check(st == 400 and "Ende liegt vor dem Beginn" in (error_of(b) or "") and
      field(b, "end") == "2026-12-10T08:00" and 'action="events/' in b.decode(),
      "event edit refused: the edit form again: %d" % st)
st, _, b = form(erika, event + "/rsvp", [("status", "egal")])
check(st == 400 and "ja, nein oder vielleicht" in (error_of(b) or "") and 'name="status"' in b.decode(),
      "a bad answer: the event page again: %d" % st)
st, h, _ = form(erika, "/polls", P[:4] + [("deadline", "2099-12-31")])
check(st == 303, "poll: %d" % st)
st, _, b = form(erika, h["location"] + "/vote", [])
check(st == 400 and "Bitte wählen Sie eine Antwort" in (error_of(b) or "") and
      'name="choice"' in b.decode(), "a vote without a choice: the poll page again: %d" % st)
st, _, b = erika.req("GET", "/messages")
to = re.search(r'<option value="([0-9a-f]{64})">Max Mustermann', b.decode()).group(1)
st, _, b = form(erika, "/messages", [("to", to), ("subject", "Gebührensatzung"), ("body", "")])
check(st == 400 and "1 bis 32.000 Zeichen" in (error_of(b) or "") and
      field(b, "subject") == "Gebührensatzung" and "Max Mustermann" in b.decode() and
      'name="to" value="%s"' % to in b.decode(), "an empty message: the conversation again: %d" % st)
st, _, b = form(erika, "/messages", [("to", "zz"), ("subject", "Satzung"), ("body", "Hallo")])
check(st == 400 and field(b, "subject") == "Satzung" and field(b, "body") == "Hallo",
      "a message to nobody: the messages page again, with the text: %d" % st)

# ---- search: a refused query keeps the words and says what to change, in German ----
long_q = " ".join("wort%d" % i for i in range(20))
st, _, b = erika.req("GET", "/search?q=" + urllib.parse.quote(long_q))
check(st == 400 and "höchstens 16 Wörter" in (error_of(b) or "") and field(b, "q") == long_q,
      "a search of 20 words: the search page again: %d %r" % (st, error_of(b)))
st, _, b = erika.req("GET", "/search?q=Erika")
s = b.decode()
check("Gründungskommune" in s and "founding council" not in s,
      "the founding council's name in German in the hits")
check('<option value="post">Antworten</option>' in s, "the reply filter is plural like the others")
st, _, b = erika.req("GET", "/messages")
check("Gründungskommune" in b.decode() and "founding council" not in b.decode(),
      "the founding council's name in German among the addressees")
st, _, b = erika.req("GET", "/areas")
check(re.search(r"<span class=\"count\">1 Eintrag</span>", b.decode()) and
      re.search(r"<span class=\"count\">[2-9]\d* Einträge</span>", b.decode()),
      "areas count 1 Eintrag, n Einträge")

# ---- documents: what the upload page shows from the API is in the page's language ----
st, _, b = erika.req("POST", "/api/uploads", {"name": "Haushaltsplan 2027.pdf", "size": 3 << 30,
                                              "mime": "application/pdf"})
m = json.loads(b).get("message", "")
check(st == 413 and "„Haushaltsplan 2027.pdf“ (3.0 GiB) ist größer als die Grenze" in m,
      "a file over the limit: %d %s" % (st, m))
u1 = erika.upload("Gebührenbescheid ä.odt", b"PK\x03\x04 eins", "application/vnd.oasis.opendocument.text")
u2 = erika.upload("Gebührenbescheid ä.odt", b"PK\x03\x04 zwei", "application/vnd.oasis.opendocument.text")
st, _, b = erika.req("POST", "/api/docs", {"title": "Bescheide", "space": "Gebühren", "files": [u1, u2]})
m = json.loads(b).get("message", "")
check(st == 400 and "Zwei Dateien heißen „Gebührenbescheid ä.odt“" in m, "same names: %d %s" % (st, m))
st, _, b = erika.req("POST", "/api/docs", {"title": "", "space": "Gebühren", "files": [u1]})
check(st == 400 and "Titel und einen Bereich" in json.loads(b).get("message", ""), "no title: %d" % st)

# ---- long listings: every thread and link can be reached through "Ältere Einträge" ----
made = {"thread": set(), "link": set()}
for i in range(110):
    st, _, b = erika.req("POST", "/api/threads", {"space": "Archiv", "title": "Alte Frage %d" % i})
    check(st == 201, "thread %d: %d" % (i, st))
    made["thread"].add(json.loads(b)["id"])
    st, _, b = erika.req("POST", "/api/links", {"space": "Archiv", "title": "Link %d" % i,
                                                "url": "https://example.org/%d" % i})
    check(st == 201, "link %d: %d" % (i, st))
    made["link"].add(json.loads(b)["id"][:16])


def walk(path, pattern):
    """Every id matching pattern on path and the pages its "older entries" links lead to."""
    seen, pages = set(), 0
    while path and pages < 10:
        st, _, b = erika.req("GET", path)
        check(st == 200, "GET %s: %d" % (path, st))
        pages += 1
        seen.update(re.findall(pattern, b.decode()))
        m = re.search(r'<a href="([^"]*before=\d+&amp;skip=\d+)">Ältere Einträge</a>', b.decode())
        path = "/" + html.unescape(m.group(1)) if m else None
    return seen, pages


polls = set()
for i in range(105):
    st, _, b = erika.req("POST", "/api/polls", {"space": "Archiv", "question": "Alte Umfrage %d?" % i,
                                                "options": ["Ja", "Nein"], "deadline": "2099-12-31T18:00"})
    check(st == 201, "poll %d: %d %s" % (i, st, b))
    polls.add(json.loads(b)["id"])
seen, pages = walk("/polls", r'href="polls/([0-9a-f]{64})"')
check(polls <= seen and pages >= 2, "all 105 polls through the polls' pages (%d)" % pages)
seen, pages = walk("/forum", r'href="forum/([0-9a-f]{64})"')
check(made["thread"] <= seen and pages >= 2, "all 110 threads through the forum's pages (%d)" % pages)
seen, pages = walk("/links", r'<li id="l([0-9a-f]{16})"')
check(made["link"] <= seen and pages >= 2, "all 110 links through the links' pages (%d)" % pages)
seen, pages = walk("/areas/Archiv", r'href="(?:forum/|links#l)([0-9a-f]{16})')
check({t[:16] for t in made["thread"]} | made["link"] <= seen and pages >= 3,
      "all 220 entries through the area's pages (%d)" % pages)

# ---- times are shown as the forms read them: Europe/Berlin, with the zone's abbreviation ----
st, h, _ = form(erika, "/polls", P[:4] + [("deadline", "2099-07-15")])
check(st == 303, "summer poll: %d" % st)
st, _, b = erika.req("GET", h["location"])
check("2099-07-15 23:59 CEST" in b.decode() and " UTC" not in b.decode(),
      "a deadline typed as 2099-07-15 is shown as its last minute in Berlin")
st, _, b = erika.req("GET", event)
check("2026-12-10 10:00" in b.decode() and re.search(r"<time>\d{4}-\d\d-\d\d \d\d:\d\d CES?T</time>",
                                                       b.decode()), "bylines in Berlin time")

# ---- a withdrawn, unknown or cut-off link says so in German; the API keeps its words ----
st, h, _ = form(erika, "/forum", [("space", "Straßen"), ("title", "Weg damit"), ("body", "x")])
gone = h["location"]
st, _, _ = form(erika, "/objects/%s/retract" % gone.split("/")[-1], [("confirm", "1")])
check(st == 303, "withdraw: %d" % st)
for path, code, want in ((gone, 410, "zurückgezogen"), ("/forum/" + "ab" * 32, 404, "noch nicht"),
                         ("/forum/abc", 400, "Link ist unvollständig")):
    st, _, b = erika.req("GET", path)
    check(st == code and want in (error_of(b) or ""), "GET %s: %d %r" % (path, st, error_of(b)))
st, _, b = erika.req("GET", "/api/objects/" + "ab" * 32)
check(st == 404 and json.loads(b)["message"] == "no such object here (yet)", "API 404 text kept")

# ---- the footer's Prometheus link is for administrators (erika is staff here) ----
st, _, b = erika.req("GET", "/forum")
check(st == 200 and 'href="metrics"' not in b.decode() and "<footer>" in b.decode(),
      "no metrics link for staff")

# ---- an edited thread or reply says so next to its date ----
st, h, _ = form(erika, "/forum", [("space", "Straßen"), ("title", "Streupflicht"), ("body", "Frage")])
t = h["location"]
st, h, _ = form(erika, t + "/reply", [("body", "Erste Fassung")])
check(st == 303, "reply: %d" % st)
st, _, b = erika.req("GET", t)
check("(bearbeitet)" not in b.decode(), "nothing edited yet")
pid = re.search(r'href="objects/([0-9a-f]{64})/edit"', b.decode().split('id="replies"')[1]).group(1)
st, h, _ = form(erika, "/objects/%s/edit" % pid, [("body", "Zweite Fassung")])
check(st == 303, "edit reply: %d" % st)
st, _, b = erika.req("GET", t)
check(b.decode().count("(bearbeitet)") == 1 and "Zweite Fassung" in b.decode(),
      "the edited reply is marked, the thread is not")

# ---- the directory's search box says it also finds councils ----
st, _, b = erika.req("GET", "/people")
check('<label for="q">Name, Kommune, Funktion oder Fachgebiet</label>' in b.decode(), "people label")

# ---- the start page greets the person by name, as colleagues see it ----
st, _, b = erika.req("GET", "/")
check("<h1>Willkommen, Erika Muster</h1>" in b.decode(), "greeting by name")

# ---- where am I: the section of the page is marked in the navigation ----
for path, section in (("/", "./"), ("/forum/new", "forum"), ("/docs?kind=form", "docs"),
                      ("/areas/Archiv", "areas"), ("/people", "people")):
    st, _, b = erika.req("GET", path)
    marked = re.findall(r'<a href="([^"]*)" aria-current="page">', b.decode())
    check(marked == [section], "navigation on %s marks %s: %s" % (path, section, marked))
st, _, b = erika.req("GET", "/gibt-es-nicht")
check(st == 404 and '<a href="./">Zur Startseite</a>' in b.decode(),
      "an error page's link says where it goes")

# ---- the language switch comes back to the page it was clicked on ----
st, _, b = erika.req("GET", "/docs?kind=form&space=Stra%C3%9Fen")
m = re.search(r'<a href="(lang\?to=en[^"]*)" lang="en">English</a>', b.decode())
check(m is not None, "language switch link on /docs")
st, h, _ = erika.req("GET", "/" + html.unescape(m.group(1)))
check(st == 303 and h.get("location") == "/docs?kind=form&space=Stra%C3%9Fen",
      "switch to English goes back to the page: %d %s" % (st, h.get("location")))
st, _, b = erika.req("GET", "/docs")
check('<html lang="en">' in b.decode(), "the page is English after the switch")
for bad in ("https://example.org/", "//example.org/", "/\\example.org"):
    st, h, _ = erika.req("GET", "/lang?to=de&next=" + urllib.parse.quote(bad, safe=""))
    check(st == 303 and h.get("location") == "/", "switch with next=%s stays here: %s" % (bad, h))

# ---- login: a wrong password keeps the name; an ended session says so ----
anon = Anonymous(BASE)
st, _, b = anon.req("GET", "/login")
pre = re.search(r'name="pre" value="([0-9a-f]{64})"', b.decode()).group(1)
st, _, b = form(anon, "/login", [("pre", pre), ("next", "/"), ("login", "erika"),
                                 ("password", "falsch")], csrf=False)
check(st == 401 and "Benutzername oder Passwort ist falsch" in (error_of(b) or ""),
      "wrong password: %d" % st)
check(field(b, "login") == "erika", "the login name stays after a wrong password: %r" % field(b, "login"))
check(re.search(r'name="password"[^>]*autofocus', b.decode()), "the password field has the focus")

gone = {"Cookie": "knoten_session=" + "ab" * 32}
st, h, _ = anon.req("GET", "/forum/new", headers=gone)
check(st == 303 and h.get("location") == "/login?expired=1&next=%2Fforum%2Fnew",
      "an ended session goes to the login with expired=1: %d %s" % (st, h.get("location")))
st, _, b = anon.req("GET", h["location"])
check("Ihre Sitzung ist abgelaufen" in b.decode() and 'value="/forum/new"' in b.decode(),
      "the login page says the session ended")
st, _, b = anon.req("GET", "/login?next=%2F")
check("abgelaufen" not in b.decode(), "no session-ended notice on a plain login")
st, _, b = anon.req("POST", "/forum", urllib.parse.urlencode(T + [("csrf", "0" * 64)]).encode(),
                    headers=gone, ctype="application/x-www-form-urlencoded")
check(st == 401 and "im Browser zurück" in (error_of(b) or "") and 'name="password"' in b.decode(),
      "a form sent after the session ended: the login form and what to do: %d %r" % (st, error_of(b)))
st, _, b = anon.req("POST", "/forum", urllib.parse.urlencode(T).encode(),
                    ctype="application/x-www-form-urlencoded")
check(st == 401 and "zuerst an" in (error_of(b) or ""), "a form sent without a session: %d" % st)
# logging out clears the cookie on the path it was set with
st, h, _ = form(erika, "/logout", [])
check(st == 303 and "knoten_session=; Path=/;" in h.get("set-cookie", ""), "logout cookie %s" % h)

print("http_staff_check: ok")
