"""Independent checks of knoten's calendar and feed output (collab_three_nodes.sh).

    /usr/bin/python3 collab_check.py ics FILE EXPECT.json
    /usr/bin/python3 collab_check.py atom FILE EXPECT.json

The .ics file is parsed by python3-icalendar and the Atom feed by
python3-feedparser (Debian packages), and the values are compared with what
the test published: titles with umlauts, times with their zone (as local
time, as UTC, and as the VTIMEZONE itself says), places, links, RSVP counts,
escaped content. Exits 1 with the first difference.
"""
import datetime
import json
import sys

UTC = datetime.timezone.utc


def fail(msg):
    sys.exit("collab_check: " + msg)


def raw_lines(data):
    """RFC 5545 3.1: CRLF line ends, at most 75 octets, no line starting mid-character."""
    if not data.endswith(b"\r\n"):
        fail("the calendar does not end with CRLF")
    for n, line in enumerate(data[:-2].split(b"\r\n"), 1):
        if b"\n" in line or b"\r" in line:
            fail(f"line {n}: a bare CR or LF")
        if len(line) > 75:
            fail(f"line {n}: {len(line)} octets")
        body = line[1:] if line.startswith(b" ") else line
        if body and (body[0] & 0xC0) == 0x80:
            fail(f"line {n}: starts inside a UTF-8 sequence")


def check_ics(path, want):
    import icalendar

    data = open(path, "rb").read()
    raw_lines(data)
    cal = icalendar.Calendar.from_ical(data)
    zones = {str(tz["TZID"]): tz.to_tz() for tz in cal.walk("VTIMEZONE")}
    events = {str(e["SUMMARY"]): e for e in cal.walk("VEVENT")}
    if len(events) != len(want["events"]):
        fail(f"{len(events)} events, expected {len(want['events'])}: {sorted(events)}")
    for w in want["events"]:
        e = events.get(w["title"])
        if e is None:
            fail(f"no event titled {w['title']!r}; have {sorted(events)}")
        for key, field in (("start", "DTSTART"), ("end", "DTEND")):
            dt = e.decoded(field)
            tzid = e[field].params.get("TZID")
            if tzid != w["tz"]:
                fail(f"{w['title']}: {field} has TZID {tzid!r}, expected {w['tz']!r}")
            local = datetime.datetime.strptime(w[key], "%Y-%m-%d %H:%M")
            if dt.replace(tzinfo=None) != local:
                fail(f"{w['title']}: {field} is {dt}, expected local {local}")
            utc = datetime.datetime.strptime(w[key + "_utc"], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
            if dt.astimezone(UTC) != utc:
                fail(f"{w['title']}: {field} is {dt.astimezone(UTC)} UTC, expected {utc}")
            # The VTIMEZONE we wrote must say the same offset as the zone database.
            vz = zones.get(w["tz"])
            if vz is None:
                fail(f"no VTIMEZONE for {w['tz']}")
            if local - vz.utcoffset(local) != utc.replace(tzinfo=None):
                fail(f"{w['title']}: the VTIMEZONE puts {local} at offset {vz.utcoffset(local)}")
        for field, key in (("LOCATION", "location"), ("URL", "url")):
            if key in w and str(e.get(field)) != w[key]:
                fail(f"{w['title']}: {field} is {e.get(field)!r}, expected {w[key]!r}")
        desc = str(e.get("DESCRIPTION", ""))
        for part in w.get("description_has", []):
            if part not in desc:
                fail(f"{w['title']}: description lacks {part!r}: {desc!r}")
        uid = str(e["UID"])
        if uid != w["uid"] + "@knoten":
            fail(f"{w['title']}: UID {uid}, expected {w['uid']}@knoten")
        if int(e.get("SEQUENCE", 0)) != w.get("sequence", 0):
            fail(f"{w['title']}: SEQUENCE {e.get('SEQUENCE')}, expected {w.get('sequence', 0)}")


def check_atom(path, want):
    import feedparser

    f = feedparser.parse(path)
    if f.bozo:
        fail(f"the feed is not well-formed: {f.bozo_exception}")
    if f.version != "atom10":
        fail(f"feed version {f.version}")
    if f.feed.title != want["title"]:
        fail(f"feed title {f.feed.title!r}")
    entries = {e.title: e for e in f.entries}
    for w in want["entries"]:
        e = entries.get(w["title"])
        if e is None:
            fail(f"no entry titled {w['title']!r}; have {sorted(entries)}")
        if "author" in w and e.get("author") != w["author"]:
            fail(f"{w['title']}: author {e.get('author')!r}, expected {w['author']!r}")
        if "link" in w and e.get("link") != w["link"]:
            fail(f"{w['title']}: link {e.get('link')!r}, expected {w['link']!r}")
        if e.get("id") != "urn:knoten:object:" + w["id"]:
            fail(f"{w['title']}: id {e.get('id')!r}")
        if not e.get("updated_parsed"):
            fail(f"{w['title']}: no updated time")
        content = e.content[0]
        if content.type != "text/html":
            fail(f"{w['title']}: content type {content.type}")
        for part in w.get("content_has", []):
            if part not in content.value:
                fail(f"{w['title']}: content lacks {part!r}: {content.value!r}")
    for absent in want.get("absent", []):
        if absent in entries:
            fail(f"entry {absent!r} should not be in the feed")
    raw = open(path, encoding="utf-8").read()
    for bad in want.get("raw_lacks", []):
        if bad in raw:
            fail(f"the feed's XML contains {bad!r}")


if __name__ == "__main__":
    kind, path, expect = sys.argv[1:4]
    want = json.load(open(expect, encoding="utf-8"))
    {"ics": check_ics, "atom": check_atom}[kind](path, want)
