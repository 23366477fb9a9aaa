"""Checks of polls, events and messages over HTTP against one running node
(called by http_collab.sh).

usage: http_collab_check.py BASE-URL
The node has the logins erika and max (password geheim-passwort), both staff
of the same council.
"""
import datetime
import json
import sys
import time
import urllib.parse

from icalendar import Calendar

from http_lib import Client, check, check_confirm_page, check_withdraw_refused, form

BASE = sys.argv[1]
erika = Client(BASE, "erika")
max_ = Client(BASE, "max")


# ---- polls ----
in2d = int(time.time() * 1000) + 2 * 86400 * 1000
P = {"space": "Umfragen", "question": "Wie führen Sie die E-Akte ein? <b>x</b>",
     "options": ["Schon eingeführt", "Im Projekt", "Noch nicht"], "count": "user",
     "multiple": False, "show_early": True, "deadline": in2d}
st, _, b = erika.req("POST", "/api/polls", P, csrf=False)
check(st == 403, "poll without CSRF: %d" % st)
st, _, b = erika.req("POST", "/api/polls", dict(P, options=["nur eine"]))
check(st == 400, "poll with one option: %d" % st)
st, _, b = erika.req("POST", "/api/polls", dict(P, deadline=1000))
check(st == 400, "poll with a past deadline: %d" % st)
st, _, b = erika.req("POST", "/api/polls", P)
check(st == 201, "poll: %d %s" % (st, b))
pu = json.loads(b)["id"]
st, _, b = erika.req("POST", "/api/polls", dict(P, question="Je Kommune?", count="council",
                                                 multiple=True, deadline="2099-12-31T18:00"))
check(st == 201, "council poll: %d %s" % (st, b))
pc = json.loads(b)["id"]

st, _, b = erika.req("POST", "/api/polls/%s/vote" % pu, {"choices": [1]}, csrf=False)
check(st == 403, "vote without CSRF: %d" % st)
st, _, b = erika.req("POST", "/api/polls/%s/vote" % pu, {"choices": [0, 1]})
check(st == 400, "two choices in a single-choice poll: %d" % st)
st, _, b = erika.req("POST", "/api/polls/%s/vote" % pu, {"choices": [3]})
check(st == 400, "choice out of range: %d" % st)
st, _, b = erika.req("POST", "/api/polls/%s/vote" % pu, {"choices": [1]})
check(st == 201, "vote: %d %s" % (st, b))
# max votes through the page form, then changes his mind
st, h, _ = form(max_, "/polls/%s/vote" % pu, [("choice", "2")], csrf=False)
check(st == 403, "form vote without CSRF: %d" % st)
st, h, _ = form(max_, "/polls/%s/vote" % pu, [("choice", "2")])
check(st == 303 and "/polls/%s" % pu in h.get("location", ""), "form vote: %d %s" % (st, h))
time.sleep(0.01)
st, h, _ = form(max_, "/polls/%s/vote" % pu, [("choice", "1")])
check(st == 303, "changed vote: %d" % st)
st, _, b = max_.req("GET", "/api/polls/" + pu)
j = json.loads(b)
check([o["count"] for o in j["options"]] == [0, 2, 0], "counts after a changed vote: %s" % j["options"])
check(j["mine"]["choices"] == [1] and j["open"] and j["results_visible"], "mine/open: %s" % j)
check(len(j["councils"]) == 1 and j["councils"][0]["voters"] == 2
      and j["councils"][0]["counts"] == [0, 2, 0], "per council: %s" % j["councils"])
# per council: the latest ballot of any of its staff counts
st, _, b = erika.req("POST", "/api/polls/%s/vote" % pc, {"choices": [0, 2]})
check(st == 201, "council vote: %d" % st)
time.sleep(0.01)
st, h, _ = form(max_, "/polls/%s/vote" % pc, [("choice", "1"), ("choice", "2")])
check(st == 303, "council vote by form: %d" % st)
st, _, b = erika.req("GET", "/api/polls/" + pc)
j = json.loads(b)
check([o["count"] for o in j["options"]] == [0, 1, 1], "council counts: %s" % j["options"])
check(j["councils"][0]["answer"] == [1, 2] and "Max" in j["councils"][0]["answered_by"],
      "the council's answer is max's: %s" % j["councils"])
st, _, b = erika.req("GET", "/polls/" + pu)
page = b.decode()
check(st == 200 and "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page, "poll page escapes")
check('type="radio"' in page and "Nach Kommunen" in page, "poll page: vote form and per council")
st, _, b = erika.req("GET", "/polls")
check(st == 200 and "E-Akte" in b.decode(), "polls page")
st, _, b = erika.req("GET", "/api/polls?space=Umfragen")
check({i["id"] for i in json.loads(b)["items"]} == {pu, pc}, "poll list")

# ---- events ----
E = {"space": "Termine", "title": "Webinar E-Akte <script>alert(1)</script>",
     "start": "2030-03-05T10:00", "end": "2030-03-05T12:00", "tz": "Europe/Berlin",
     "link": "https://example.org/webinar", "description": "Mit **Übungen**", "capacity": 30}
st, _, b = erika.req("POST", "/api/events", dict(E, link=None))
check(st == 400, "event without place or link: %d" % st)
st, _, b = erika.req("POST", "/api/events", dict(E, end="2030-03-05T09:00"))
check(st == 400, "end before start: %d" % st)
st, _, b = erika.req("POST", "/api/events", dict(E, tz="Mars/Olympus"))
check(st == 400, "unknown zone: %d" % st)
st, _, b = erika.req("POST", "/api/events", dict(E, link="javascript:alert(1)"))
check(st == 400, "javascript: link: %d" % st)
st, _, b = erika.req("POST", "/api/events", E)
check(st == 201, "event: %d %s" % (st, b))
ev = json.loads(b)["id"]
st, h, _ = form(max_, "/events", [("space", "Termine"), ("title", "Treffen Kämmerei"),
                                  ("start", "2030-03-20T14:00"), ("end", "2030-03-20T16:30"),
                                  ("tz", "Europe/Berlin"), ("place", "Rathaus, Saal 2")])
check(st == 303 and "/events/" in h.get("location", ""), "event by form: %d" % st)
ev2 = h["location"].rsplit("/", 1)[1]
st, _, b = erika.req("GET", "/api/events/" + ev)
j = json.loads(b)
utc9 = int(datetime.datetime(2030, 3, 5, 9, 0, tzinfo=datetime.timezone.utc).timestamp() * 1000)
check(j["body"]["start"] == utc9, "10:00 Berlin in March is 09:00 UTC: %s" % j["body"]["start"])
check("2030-03-05 10:00 - 12:00 Europe/Berlin" in j["when"], "when: " + j["when"])
# RSVPs: API and form, a changed answer counts once
st, _, b = erika.req("POST", "/api/events/%s/rsvp" % ev, {"status": "perhaps"})
check(st == 400, "bad rsvp: %d" % st)
st, _, b = erika.req("POST", "/api/events/%s/rsvp" % ev, {"status": "yes"}, csrf=False)
check(st == 403, "rsvp without CSRF: %d" % st)
st, _, b = erika.req("POST", "/api/events/%s/rsvp" % ev, {"status": "maybe"})
check(st == 201, "rsvp: %d" % st)
time.sleep(0.01)
st, _, b = erika.req("POST", "/api/events/%s/rsvp" % ev, {"status": "yes"})
st, h, _ = form(max_, "/events/%s/rsvp" % ev, [("status", "no")])
check(st == 303, "rsvp by form: %d" % st)
st, _, b = max_.req("GET", "/api/events/" + ev)
j = json.loads(b)
check(j["rsvp"] == {"yes": 1, "no": 1, "maybe": 0} and j["mine"] == "no", "rsvp counts: %s" % j)
st, _, b = erika.req("GET", "/events/" + ev)
page = b.decode()
check("<script>alert" not in page and "<strong>Übungen</strong>" in page, "event page")
check('id="rsvp-yes"' in page and "checked" in page, "rsvp form with my answer")
# list, calendar, iCalendar
st, _, b = erika.req("GET", "/api/events?space=Termine")
check([i["id"] for i in json.loads(b)["items"]] == [ev, ev2], "events by start: %s" % b[:200])
st, _, b = erika.req("GET", "/events?month=2030-03")
page = b.decode()
check(st == 200 and page.count('class="ev"') == 2 and "Treffen K\u00e4mmerei" in page,
      "calendar of March 2030")
st, _, b = erika.req("GET", "/events?month=2030-13")
check(st == 400, "bad month: %d" % st)
st, h, b = erika.req("GET", "/api/events/%s/ics" % ev)
check(st == 200 and h["content-type"].startswith("text/calendar"), "ics: %d" % st)
cal = Calendar.from_ical(b)
vev = [c for c in cal.walk() if c.name == "VEVENT"]
check(len(vev) == 1 and "Webinar E-Akte" in str(vev[0]["SUMMARY"]), "ics summary")
check(str(vev[0]["DTSTART"].dt.tzinfo) in ("Europe/Berlin", "CET") or vev[0]["DTSTART"].params.get("TZID") == "Europe/Berlin",
      "ics keeps the zone")
st, h, b = erika.req("GET", "/api/events/ics?space=Termine")
check(st == 200 and len([c for c in Calendar.from_ical(b).walk() if c.name == "VEVENT"]) == 2,
      "area calendar")
st, _, b = erika.req("GET", "/events/%s/ics" % ev)
check(st == 200 and b.startswith(b"BEGIN:VCALENDAR"), "ics from the page")

# editing: a new version by the same author (as `knoten event --edit`), never a fork
E2 = {"title": "Treffen Kämmerei (verschoben)", "start": "2030-03-21T09:00",
      "end": "2030-03-21T11:00", "tz": "Europe/Berlin", "place": "Rathaus, Saal 3"}
st, _, b = erika.req("POST", "/api/events", dict(E2, supersedes=ev2))
check(st == 403 and json.loads(b)["error"] == "not_author", "edit by another person: %d" % st)
st, _, b = max_.req("POST", "/api/events", dict(E2, supersedes=ev2, space="Anderswo"))
check(st == 400, "an edit moved to another area: %d" % st)
st, _, b = max_.req("POST", "/api/events", dict(E2, supersedes=ev2))
check(st == 201, "edit: %d %s" % (st, b))
ev3 = json.loads(b)["id"]
st, _, b = max_.req("GET", "/api/events/" + ev3)
j = json.loads(b)
check(j["refs"] == [ev2] and j["space"] == "Termine" and j["versions"] == 2 and j["newest"] == ev3
      and j["body"]["place"] == "Rathaus, Saal 3", "the new version: %s" % j)
st, _, b = max_.req("POST", "/api/events", dict(E2, supersedes=ev2))
check(st == 409 and json.loads(b)["error"] == "stale", "editing an old version: %d" % st)
st, _, b = erika.req("GET", "/api/events?space=Termine")
check([i["id"] for i in json.loads(b)["items"]] == [ev, ev3], "only the newest version listed")
st, _, b = max_.req("GET", "/events/%s/edit" % ev3)
page = b.decode()
check(st == 200 and 'value="2030-03-21T09:00"' in page and "Saal 3" in page, "edit form filled")
st, h, _ = form(max_, "/events/%s/edit" % ev3, [("title", "Treffen Kämmerei"),
                                               ("start", "2030-03-21T10:00"),
                                               ("end", "2030-03-21T11:00"), ("tz", "Europe/Berlin"),
                                               ("place", "Rathaus, Saal 3")])
check(st == 303 and "/events/" in h.get("location", ""), "edit by form: %d" % st)
st, _, _ = erika.req("GET", "/events/%s/edit" % ev3)
check(st == 403, "someone else's edit form: %d" % st)

# ---- editing and retracting one's own threads, replies and links ----
# An edit is a new version by the same author (as `knoten thread|post|link --edit`);
# listings and pages show only the newest; a retract takes back every version.
def created(c, path, body):
    st, _, b = c.req("POST", path, body)
    check(st == 201, "POST %s %s: %d %s" % (path, body, st, b))
    return json.loads(b)["id"]


def page(c, path, status=200):
    st, _, b = c.req("GET", path)
    check(st == status, "GET %s: %d (expected %d)" % (path, st, status))
    return b.decode()


def listed(c, path):
    st, _, b = c.req("GET", path)
    check(st == 200, "GET %s: %d" % (path, st))
    return [i["id"] for i in json.loads(b)["items"]]


def obj(c, oid):
    st, _, b = c.req("GET", "/api/objects/" + oid)
    check(st == 200, "GET object %s: %d" % (oid, st))
    return json.loads(b)


t1 = created(max_, "/api/threads", {"space": "Forum", "title": "Aktenplan Tippfehlr",
                                    "body": "Alter Text", "tags": "akten, plan"})
tx = created(erika, "/api/threads", {"space": "Forum", "title": "Erikas Frage", "body": "?"})
# API: a thread edit keeps what it leaves out
T2 = {"supersedes": t1, "title": "Aktenplan Tippfehler"}
st, _, b = max_.req("POST", "/api/threads", T2, csrf=False)
check(st == 403 and json.loads(b)["error"] == "csrf", "thread edit without CSRF: %d" % st)
st, _, b = max_.req("POST", "/api/threads", T2, headers={"X-CSRF-Token": "0" * 64}, csrf=False)
check(st == 403, "thread edit with a wrong CSRF token: %d" % st)
st, _, b = erika.req("POST", "/api/threads", T2)
check(st == 403 and json.loads(b)["error"] == "not_author", "someone else's thread: %d %s" % (st, b))
st, _, b = max_.req("POST", "/api/threads", dict(T2, space="Anderswo"))
check(st == 400 and json.loads(b)["error"] == "bad_space", "thread moved: %d %s" % (st, b))
st, _, b = max_.req("POST", "/api/threads", dict(T2, supersedes="zz"))
check(st == 400, "supersedes that is no id: %d" % st)
t2 = created(max_, "/api/threads", T2)
j = obj(max_, t2)
check(j["refs"] == [t1] and j["space"] == "Forum" and j["body"] == {
    "title": "Aktenplan Tippfehler", "body": "Alter Text", "tags": ["akten", "plan"]},
    "the new thread version: %s" % j)
st, _, b = max_.req("POST", "/api/threads", T2)
check(st == 409 and json.loads(b)["error"] == "stale", "editing an old thread version: %d" % st)
check(t2 in listed(erika, "/api/threads?space=Forum") and t1 not in listed(erika, "/api/threads?space=Forum"),
      "thread listing: only the newest version")
check({t1, t2} <= set(listed(erika, "/api/threads?space=Forum&all_versions=1")), "all_versions=1")
p = page(erika, "/forum")
check("Aktenplan Tippfehler" in p and "Tippfehlr" not in p, "forum page shows only the new title")

# API: replies (one on each version of the thread) and an edit of one
p1 = created(max_, "/api/threads/%s/posts" % t2, {"body": "Antwort mit Tipfehler"})
e1 = created(erika, "/api/threads/%s/posts" % t1, {"body": "Erika antwortet"})
P2 = {"supersedes": p1, "body": "Antwort korrigiert"}
st, _, b = erika.req("POST", "/api/threads/%s/posts" % t2, P2)
check(st == 403 and json.loads(b)["error"] == "not_author", "someone else's reply: %d" % st)
st, _, b = max_.req("POST", "/api/threads/%s/posts" % tx, P2)
check(st == 400 and json.loads(b)["error"] == "bad_thread", "reply moved to another thread: %d" % st)
st, _, b = max_.req("POST", "/api/threads/%s/posts" % t2, dict(P2, parent=e1))
check(st == 400, "reply moved to another parent: %d" % st)
st, _, b = max_.req("POST", "/api/threads/%s/posts" % t2, P2, csrf=False)
check(st == 403, "reply edit without CSRF: %d" % st)
p2 = created(max_, "/api/threads/%s/posts" % t1, P2)  # any version of the thread names it
check(obj(max_, p2)["refs"] == [t2, t2, p1], "reply version refs: %s" % obj(max_, p2)["refs"])
st, _, b = max_.req("POST", "/api/threads/%s/posts" % t2, P2)
check(st == 409 and json.loads(b)["error"] == "stale", "editing an old reply version: %d" % st)
for t in (t1, t2):  # replies on every version, oldest first, the newest version of each
    st, _, b = erika.req("GET", "/api/threads/" + t)
    check([x["id"] for x in json.loads(b)["posts"]] == [e1, p2], "replies of %s: %s" % (t, b[:300]))

# pages: the edit link only for the author, on the newest version
p = page(max_, "/forum/" + t2)
check('href="objects/%s/edit"' % t2 in p and 'href="objects/%s/edit"' % p2 in p
      and 'href="objects/%s/edit"' % e1 not in p, "max's edit links")
check("Antwort korrigiert" in p and "Tipfehler" not in p and "Erika antwortet" in p, "thread page replies")
p = page(erika, "/forum/" + t2)
check("objects/%s/edit" % t2 not in p and 'href="objects/%s/edit"' % e1 in p, "erika's edit links")
p = page(max_, "/forum/" + t1)
check('href="forum/%s"' % t2 in p and "objects/%s/edit" % t1 not in p, "an old version links the newest")
page(erika, "/objects/%s/edit" % t2, 403)
page(max_, "/objects/%s/edit" % t1, 409)
page(max_, "/objects/%s/edit" % ev, 403)  # erika's event: not max's
st, h, _ = erika.req("GET", "/objects/%s/edit" % ev)
check(st == 303 and h["location"] == "/events/%s/edit" % ev, "an event's own edit form: %d" % st)
page(max_, "/objects/%s/edit" % pu, 403)  # a poll has no edit form, and is not his
page(erika, "/objects/%s/edit" % pu, 404)
p = page(max_, "/objects/%s/edit" % t2)
check('value="Aktenplan Tippfehler"' in p and ">Alter Text</textarea>" in p
      and 'value="akten, plan"' in p and 'name="csrf"' in p, "thread edit form filled")
TF = [("title", "Aktenplan (neu)"), ("body", "Neuer **Text** <script>alert(1)</script>"),
      ("tags", "akten")]
st, _, _ = form(max_, "/objects/%s/edit" % t2, TF, csrf=False)
check(st == 403, "form edit without CSRF: %d" % st)
st, _, _ = form(max_, "/objects/%s/edit" % t2, TF + [("csrf", "0" * 64)], csrf=False)
check(st == 403, "form edit with a wrong CSRF token: %d" % st)
st, _, _ = form(erika, "/objects/%s/edit" % t2, TF)
check(st == 403, "form edit of someone else's thread: %d" % st)
st, _, _ = form(max_, "/objects/%s/edit" % t2, TF + [("space", "Anderswo")])
check(st == 400, "form edit moving the thread: %d" % st)
st, _, b = form(max_, "/objects/%s/edit" % t2, [("title", ""), ("body", "x")])
check(st == 400 and 'action="objects/%s/edit"' % t2 in b.decode(), "form edit without a title: %d" % st)
st, h, _ = form(max_, "/objects/%s/edit" % t2, TF)
check(st == 303 and h["location"].startswith("/forum/"), "form edit: %d %s" % (st, h))
t3 = h["location"].rsplit("/", 1)[1]
st, _, _ = form(max_, "/objects/%s/edit" % t2, TF)
check(st == 409, "form edit of an old version: %d" % st)
j = obj(max_, t3)
check(j["refs"] == [t2] and j["body"]["tags"] == ["akten"], "form thread version: %s" % j)
# a reply on the newest version to a reply made on the first one: the same thread
e2 = created(erika, "/api/threads/%s/posts" % t3, {"body": "Nachfrage", "parent": e1})
check(obj(erika, e2)["refs"] == [t3, e1], "reply across versions: %s" % obj(erika, e2))
p = page(erika, "/forum/" + t3)
check("<strong>Text</strong>" in p and "<script>alert" not in p and "Alter Text" not in p
      and "Antwort korrigiert" in p and "Nachfrage" in p, "edited thread page")
p = page(erika, "/forum")
check("Aktenplan (neu)" in p and "Aktenplan Tippfehler" not in p, "forum lists the newest title")
# a reply by form, and moving it is refused
p = page(max_, "/objects/%s/edit" % p2)
check(">Antwort korrigiert</textarea>" in p, "reply edit form filled")
st, _, _ = form(max_, "/objects/%s/edit" % p2, [("body", "x"), ("thread", tx)])
check(st == 400, "form edit moving a reply: %d" % st)
st, h, _ = form(max_, "/objects/%s/edit" % p2, [("body", "Antwort **final**"), ("thread", t3)])
check(st == 303 and h["location"].startswith("/forum/%s#p" % t3), "reply form edit: %d %s" % (st, h))
p = page(erika, "/forum/" + t3)
check("Antwort <strong>final</strong>" in p and "Antwort korrigiert" not in p, "edited reply shown")

# links: API edit keeps what it leaves out, the form edit replaces it
l1 = created(max_, "/api/links", {"space": "Forum", "title": "Handbch", "url": "https://example.org/a",
                                   "description": "Beschreibung", "tags": ["akten"]})
st, _, b = erika.req("POST", "/api/links", {"supersedes": l1, "title": "x"})
check(st == 403, "someone else's link: %d" % st)
st, _, b = max_.req("POST", "/api/links", {"supersedes": l1, "title": "x", "space": "Anderswo"})
check(st == 400, "link moved: %d" % st)
l2 = created(max_, "/api/links", {"supersedes": l1, "title": "Handbuch"})
j = obj(max_, l2)
check(j["refs"] == [l1] and j["body"] == {"title": "Handbuch", "url": "https://example.org/a",
      "description": "Beschreibung", "tags": ["akten"]}, "link version: %s" % j)
st, _, b = max_.req("POST", "/api/links", {"supersedes": l1, "title": "y"})
check(st == 409, "old link version: %d" % st)
p = page(max_, "/objects/%s/edit" % l2)
check('value="Handbuch"' in p and 'value="https://example.org/a"' in p and ">Beschreibung</textarea>" in p,
      "link edit form filled")
page(erika, "/objects/%s/edit" % l2, 403)
LF = [("title", "Handbuch neu"), ("url", "https://example.org/b"), ("description", ""), ("tags", "")]
st, _, _ = form(max_, "/objects/%s/edit" % l2, LF, csrf=False)
check(st == 403, "link form edit without CSRF: %d" % st)
st, _, _ = form(max_, "/objects/%s/edit" % l2, [("title", "x"), ("url", "javascript:alert(1)")])
check(st == 400, "link form edit to a javascript: URL: %d" % st)
st, h, _ = form(max_, "/objects/%s/edit" % l2, LF)
check(st == 303 and h["location"].startswith("/links#l"), "link form edit: %d %s" % (st, h))
l3 = [i for i in listed(erika, "/api/links?space=Forum") if obj(erika, i)["refs"] == [l2]]
check(len(l3) == 1 and l1 not in listed(erika, "/api/links") and l2 not in listed(erika, "/api/links"),
      "link listing: only the newest")
l3 = l3[0]
check(obj(erika, l3)["body"] == {"title": "Handbuch neu", "url": "https://example.org/b"},
      "emptied fields are gone: %s" % obj(erika, l3))
p = page(erika, "/links")
check("Handbuch neu" in p and "Handbch" not in p and "example.org/a" not in p
      and "objects/%s/edit" % l3 not in p, "links page (erika)")
check('href="objects/%s/edit"' % l3 in page(max_, "/links"), "links page: max's edit link")

# withdrawing: the Withdraw control is a link to a confirmation page (no JavaScript needed),
# for the author only, on the newest version only; the page's form withdraws every version.
def retract_page(c, oid, status=200, where="objects"):
    return page(c, "/%s/%s/retract" % (where, oid), status)


st, _, b = max_.req("GET", "/api/threads/" + t3)
p3 = [x["id"] for x in json.loads(b)["posts"] if x["body"]["body"] == "Antwort **final**"][0]
p = page(max_, "/links")
check('href="objects/%s/retract"' % l3 in p and "action=\"objects/%s/retract\"" % l3 not in p,
      "links page: max's withdraw link is a link, not a one-click form")
check("objects/%s/retract" % l3 not in page(erika, "/links"), "no withdraw link on someone else's link")
p = page(max_, "/forum/" + t3)
check('href="objects/%s/retract"' % t3 in p and 'href="objects/%s/retract"' % p3 in p
      and "objects/%s/retract" % e1 not in p, "thread page: max's withdraw links")
check("objects/%s/retract" % t1 not in page(max_, "/forum/" + t1), "no withdraw link on an old version")
p = page(erika, "/forum/" + t3)
check("objects/%s/retract" % t3 not in p and 'href="objects/%s/retract"' % e1 in p,
      "thread page: erika's withdraw links")
# the confirmation page names what goes, where it lives, and how many versions
p = retract_page(max_, l3)
check_confirm_page(p, "objects/%s/retract" % l3, max_, "links#l" + l3[:16])
check("<h1>Zurückziehen bestätigen</h1>" in p and "<dd>Link</dd>" in p and "<dd>Handbuch neu</dd>" in p
      and "<dd>Forum</dd>" in p and "<dt>Versionen</dt><dd>3</dd>" in p, "link confirmation page")
p = retract_page(max_, p3)  # Cancel: to the reply on its thread's newest version
check_confirm_page(p, "objects/%s/retract" % p3, max_, "forum/%s#p%s" % (t3, p3[:16]))
check("<dd>Antwort</dd>" in p and "<dd>Antwort **final**</dd>" in p, "reply confirmation page")
p = retract_page(max_, t3)
check_confirm_page(p, "objects/%s/retract" % t3, max_, "forum/" + t3)
check("<dd>Diskussion</dd>" in p and "<dd>Aktenplan (neu)</dd>" in p, "thread confirmation page")
st, h, _ = max_.req("GET", "/objects/%s/retract" % t1)
check(st == 303 and h["location"] == "/objects/%s/retract" % t3, "an old version confirms on the newest: %d" % st)
for oid in (l3, p3, t3, t1):
    retract_page(erika, oid, 403)
retract_page(max_, e1, 403)
retract_page(max_, "0" * 64, 404)
retract_page(max_, "zz", 400)
check('href="polls/%s">Abbrechen' % pu in retract_page(erika, pu), "poll: Cancel")
# Cancel leads back to where the object is shown, still there
check("Handbuch neu" in page(max_, "/links") and "Antwort <strong>final</strong>" in page(max_, "/forum/" + t3),
      "after Cancel the objects are still shown")
# the POST refuses a form without confirm=1 (an old cached page, a stray form): 400, nothing withdrawn
check_withdraw_refused(max_, erika, "/objects/%s/retract" % l3)
for i in (l1, l2, l3):
    check(obj(erika, i)["id"] == i, "link version %s still there" % i)
st, h, _ = form(max_, "/objects/%s/retract" % l3, [("confirm", "1"), ("reason", "veraltet")])
check(st == 303 and h["location"] == "/links", "retract link: %d %s" % (st, h))
for i in (l1, l2, l3):
    st, _, _ = erika.req("GET", "/api/objects/" + i)
    check(st == 410, "link version %s after the retract: %d" % (i, st))
retract_page(max_, l3, 410)
check("Handbuch" not in page(erika, "/links"), "the links page no longer shows it")
st, h, _ = form(max_, "/objects/%s/retract" % p3, [("confirm", "1")])
check(st == 303 and h["location"] == "/forum/" + t3, "retract reply: %d %s" % (st, h))
for i in (p1, p2, p3):
    st, _, _ = erika.req("GET", "/api/objects/" + i)
    check(st == 410, "reply version %s after the retract: %d" % (i, st))
p = page(erika, "/forum/" + t3)
check("final" not in p and "Erika antwortet" in p and "objects/%s/edit" % p3 not in p,
      "the retracted reply is gone, the other stays")
# events: the same page and form (an event of erika's, edited once)
ew1 = created(erika, "/api/events", dict(E, title="Zum Zurückziehen", link=None, place="Saal 1"))
ew2 = created(erika, "/api/events", {"supersedes": ew1, "title": "Zum Zurückziehen (neu)",
                                     "start": E["start"], "end": E["end"], "tz": E["tz"], "place": "Saal 2"})
check('href="objects/%s/retract"' % ew2 in page(erika, "/events/" + ew2), "event page: the withdraw link")
check("/retract" not in page(max_, "/events/" + ew2), "no withdraw link on someone else's event")
check("/retract" not in page(erika, "/events/" + ew1), "no withdraw link on an old event version")
p = retract_page(erika, ew2)
check_confirm_page(p, "objects/%s/retract" % ew2, erika, "events/" + ew2)
check("<dd>Termin</dd>" in p and "<dd>Zum Zurückziehen (neu)</dd>" in p and "<dd>Termine</dd>" in p
      and "<dt>Versionen</dt><dd>2</dd>" in p, "event confirmation page")
p = page(erika, "/objects/%s/retract?lang=en" % ew2)
check("<h1>Confirm the withdrawal</h1>" in p and "<dd>Event</dd>" in p and "including every earlier version" in p
      and "cannot be undone" in p and ">Withdraw</button>" in p and ">Cancel</a>" in p, "the page in English")
retract_page(max_, ew2, 403)
check_withdraw_refused(erika, max_, "/objects/%s/retract" % ew2)
check(obj(erika, ew2)["id"] == ew2, "event: still there after the refused posts")
st, h, _ = form(erika, "/objects/%s/retract" % ew2, [("confirm", "1")])
check(st == 303 and h["location"] == "/events", "retract event, back to the events: %d %s" % (st, h))
for i in (ew1, ew2):
    st, _, _ = erika.req("GET", "/api/events/" + i)
    check(st == 410, "event version %s after the retract: %d" % (i, st))
st, _, b = erika.req("POST", "/api/polls", dict(P, question="Wird zurückgezogen?"))
check(st == 201, "a poll to withdraw: %d %s" % (st, b))
pw = json.loads(b)["id"]
st, h, _ = form(erika, "/objects/%s/retract" % pw, [("confirm", "1")])
check(st == 303 and h["location"] == "/polls", "retract poll, back to the polls: %d %s" % (st, h))
st, _, _ = erika.req("GET", "/api/polls/" + pw)
check(st == 410, "poll after the retract: %d" % st)
# the JSON API needs no confirm=1: API clients confirm on their side (docs/api.md)
st, _, b = max_.req("POST", "/api/objects/%s/retract" % t3, {})
check(st == 201 and json.loads(b)["retracted"] == 3, "API retract of every version: %d %s" % (st, b))
for i in (t1, t2, t3):
    st, _, _ = erika.req("GET", "/api/objects/" + i)
    check(st == 410, "thread version %s after the retract: %d" % (i, st))
check("Aktenplan" not in page(erika, "/forum"), "the forum no longer lists it")
check(not set(listed(erika, "/api/threads?all_versions=1")) & {t1, t2, t3}, "no version listed")

# ---- direct messages ----
jana = Client(BASE, "jana")
st, _, b = erika.req("GET", "/api/users")
keys = {u["name"]: u["key"] for u in json.loads(b)["users"]}
kmax, kerika = keys["Max Mustermann"], keys["Erika Muster"]
secret = "Vertraulich: Stellenplan 2027 <script>alert(1)</script>"
st, _, b = erika.req("POST", "/api/messages", {"to": kmax, "subject": "Stellenplan", "body": secret},
                     csrf=False)
check(st == 403, "message without CSRF: %d" % st)
st, _, b = erika.req("POST", "/api/messages", {"to": "0" * 64, "body": "x"})
check(st == 404, "message to nobody: %d" % st)
st, _, b = erika.req("POST", "/api/messages", {"to": kmax, "body": ""})
check(st == 400, "empty message: %d" % st)
st, _, b = erika.req("POST", "/api/messages", {"to": kmax, "subject": "Stellenplan", "body": secret})
check(st == 201, "message: %d %s" % (st, b))
mid = json.loads(b)["id"]
st, _, b = erika.req("GET", "/api/objects/" + mid)
check(secret.encode() not in b and b"Stellenplan" not in b, "the stored dm is ciphertext")
st, _, b = max_.req("GET", "/api/messages")
c = json.loads(b)["conversations"]
check(len(c) == 1 and c[0]["with"] == kerika and c[0]["unread"] == 1, "max's conversations: %s" % c)
st, _, b = max_.req("GET", "/api/messages/" + kerika)
m = json.loads(b)["messages"]
check(len(m) == 1 and m[0]["body"] == secret and m[0]["subject"] == "Stellenplan" and not m[0]["sent"],
      "max reads it: %s" % m)
st, _, b = max_.req("GET", "/api/messages")
check(json.loads(b)["conversations"][0]["unread"] == 0, "read once opened")
st, h, _ = form(max_, "/messages", [("to", kerika), ("body", "Danke, **erhalten**.")], csrf=False)
check(st == 403, "form message without CSRF: %d" % st)
st, h, _ = form(max_, "/messages", [("to", kerika), ("body", "Danke, **erhalten**.")])
check(st == 303 and kerika in h.get("location", ""), "reply by form: %d" % st)
st, _, b = erika.req("GET", "/messages/" + kmax)
page = b.decode()
check(st == 200 and "<strong>erhalten</strong>" in page and "&lt;script&gt;" in page
      and "<script>alert" not in page, "erika's conversation page")
st, _, b = jana.req("GET", "/api/messages")
check(json.loads(b)["conversations"] == [], "jana has no messages")
st, _, b = jana.req("GET", "/api/messages/" + kerika)
check(json.loads(b)["messages"] == [], "jana cannot read erika's conversation with max")
st, _, b = erika.req("GET", "/people")
check("messages/%s" % kmax in b.decode(), "the directory links to a conversation")

# ---- search ----
st, _, b = max_.req("GET", "/api/search?q=Webinar")
j = json.loads(b)
check(st == 200 and [h["id"] for h in j["hits"]] == [ev] and j["hits"][0]["href"] == "events/" + ev,
      "search finds the event: %s" % b[:300])
st, _, b = max_.req("GET", "/api/search?q=" + urllib.parse.quote("E-Akte") + "&type=poll")
check({h["id"] for h in json.loads(b)["hits"]} == {pu}, "search by type: %s" % b[:300])
st, _, b = max_.req("GET", "/api/search?q=Stellenplan")
check(st == 200 and json.loads(b)["hits"] == [], "direct messages are not searchable")
st, _, b = max_.req("GET", "/api/search")
check(st == 400, "search without words: %d" % st)
st, _, b = max_.req("GET", "/api/search?q=x&type=nonsense")
check(st == 400, "search with a bad type: %d" % st)
st, _, b = max_.req("GET", "/search?q=Webinar&space=Termine")
page = b.decode()
check(st == 200 and 'href="events/%s"' % ev in page and "<script>alert" not in page,
      "search page: %d" % st)
st, _, b = max_.req("GET", "/search")
check(st == 200 and 'id="search-q"' in b.decode(), "empty search page")
print("http_collab_check: polls, events, edits of threads, replies and links, messages and search ok")
