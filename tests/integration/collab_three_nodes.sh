#!/usr/bin/env bash
# Forums, polls, events, messages and feeds across three real nodes (issue 7).
#
#   b - a - c    a founds the network and admits b and c; b and c dial a only,
#                so whatever goes between b and c is relayed by a.
#
# Staff: Anna at a, Bernd and Berta at b, Carla at c. Checked:
#   - votes cast at the same time on all three nodes (a replaced ballot among
#     them) give the same `knoten poll show` on all three, per user and per
#     council, with the counts expected;
#   - a direct message from Bernd (b) to Carla (c) is readable by Carla on c
#     and by Bernd on b, and is stored on a only as ciphertext: neither a's
#     export nor a's LMDB file contains the text, and Anna cannot open it;
#   - a reply retracted by its author disappears on all three nodes;
#   - an edited thread is listed once, as its newest version, everywhere;
#   - the .ics of an event and of the area, and the area's Atom feed, are the
#     same bytes on every node, and python3-icalendar and python3-feedparser
#     read back the titles (umlauts), times with their zone, places, links,
#     RSVP counts and safe content (tests/integration/collab_check.py).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"
CHECK="$(dirname "${BASH_SOURCE[0]}")/collab_check.py"
k() { local n=$1; shift; "$KNOTEN" "$@" --data "$WORK/$n"; }

init_founder a
init_admitted b
init_admitted c
PA=$(free_port)
k b peer add "127.0.0.1:$PA" >/dev/null || fail "peer add on b"
k c peer add "127.0.0.1:$PA" >/dev/null || fail "peer add on c"
start_node a "$PA"
start_node b "$(free_port)"
start_node c "$(free_port)"
BASE=$(object_count a)
at_base() { (($(object_count "$1") >= BASE)); }
for n in b c; do wait_for 20 "$n receives the network and the admits" at_base "$n"; done

# ---- staff ----
k a user add --name "Anna Amt" --role Hauptamt --expertise "Digitalisierung,E-Akte" --lang de,en >/dev/null 2>&1 ||
    fail "user add at a"
k b user add --name "Bernd Bau" --role Bauamt --expertise Vergaberecht --lang de >/dev/null 2>&1 || fail "user add Bernd"
k b user add --name "Berta Bürger" --role Bürgeramt --lang de,tr >/dev/null 2>&1 || fail "user add Berta"
CARLA=$(k c user add --name "Carla Chef" --role Kämmerei --expertise "Gewerbesteuer,Vergabe" --lang de,fr 2>/dev/null) ||
    fail "user add at c"
users_on() { [ "$(k "$1" user ls --all --json | grep -c '"state":"active"')" = 4 ]; }
for n in a b c; do wait_for 15 "$n knows all four users" users_on "$n"; done
k a experts --tag vergabe >"$WORK/experts.out" || fail "experts"
grep -q "Bernd Bau" "$WORK/experts.out" && grep -q "Carla Chef" "$WORK/experts.out" ||
    fail "experts --tag vergabe: $(cat "$WORK/experts.out")"
! grep -q "Anna Amt" "$WORK/experts.out" || fail "experts --tag vergabe lists Anna"
[ "$(k b experts --lang fr --json | wc -l)" = 1 ] || fail "experts --lang fr"

# ---- polls: concurrent votes on all three nodes ----
PC=$(k a poll --area Umfragen --question "Wie führen Sie die E-Akte ein?" --option "Schon eingeführt" \
    --option "Im Projekt" --option "Noch nicht" --count council --show-early --as "Anna Amt") || fail "poll (council)"
PU=$(k a poll --area Umfragen --question "Welche Themen für das nächste Treffen?" --option Vergabe \
    --option Personal --option Digitales --multiple --deadline 2d --show-early --as "Anna Amt") || fail "poll (user)"
has_polls() { k "$1" show "$PC" >/dev/null 2>&1 && k "$1" show "$PU" >/dev/null 2>&1; }
for n in b c; do wait_for 10 "the polls reach $n" has_polls "$n"; done

vote() { k "$1" vote "$2" "${@:4}" --as "$3" >/dev/null || fail "vote by $3 on $1"; }
# Bernd votes first, then Berta (same council, later): B's answer is Berta's.
(vote b "$PC" "Bernd Bau" --choice 3; vote b "$PC" "Berta Bürger" --choice 2
    vote b "$PU" "Bernd Bau" --choice 1; vote b "$PU" "Berta Bürger" --choice 2 --choice 3
    vote b "$PU" "Bernd Bau" --choice 1 --choice 3) &
B_JOB=$!
(vote c "$PC" "Carla Chef" --choice 1; vote c "$PU" "Carla Chef" --choice 3) &
C_JOB=$!
(vote a "$PC" "Anna Amt" --choice 1; vote a "$PU" "Anna Amt" --choice 2 --choice 3) &
A_JOB=$!
wait "$B_JOB" "$C_JOB" "$A_JOB" || fail "a vote failed"
NVOTES=9
votes_on() { [ "$(k "$1" ls --type vote --limit 0 --json | wc -l)" = $NVOTES ]; }
for n in a b c; do wait_for 15 "$n holds all $NVOTES ballots" votes_on "$n"; done
for p in "$PC" "$PU"; do
    for n in a b c; do k "$n" poll show "$p" >"$WORK/poll-$n.out" || fail "poll show on $n"; done
    cmp -s "$WORK/poll-a.out" "$WORK/poll-b.out" && cmp -s "$WORK/poll-a.out" "$WORK/poll-c.out" ||
        fail "poll show differs between nodes: $(diff "$WORK/poll-a.out" "$WORK/poll-b.out"; diff "$WORK/poll-a.out" "$WORK/poll-c.out")"
    for n in a b c; do k "$n" poll show "$p" --json >"$WORK/pollj-$n.out"; done
    cmp -s "$WORK/pollj-a.out" "$WORK/pollj-b.out" && cmp -s "$WORK/pollj-a.out" "$WORK/pollj-c.out" ||
        fail "poll show --json differs between nodes"
    cp "$WORK/pollj-a.out" "$WORK/poll-$p.json"
done
counts() { "$PY" -c 'import json,sys; print(" ".join(str(o["count"]) for o in json.load(open(sys.argv[1]))["options"]))' "$1"; }
# Per council: a and c chose 1, b's latest (Berta) chose 2.
[ "$(counts "$WORK/poll-$PC.json")" = "2 1 0" ] || fail "council poll counts: $(counts "$WORK/poll-$PC.json")"
# Per user: Bernd's second ballot (1,3) replaced his first; Berta 2,3; Carla 3; Anna 2,3.
[ "$(counts "$WORK/poll-$PU.json")" = "1 2 4" ] || fail "user poll counts: $(counts "$WORK/poll-$PU.json")"
k c poll show "$PC" | grep -q "answered by Berta Bürger" || fail "B's answer is not Berta's"

# ---- a direct message, relayed by a ----
SECRET="Vertraulich-$RANDOM$RANDOM: die Nachweise liegen im Ordner Süd"
M=$(k b msg send --as "Bernd Bau" --to "$CARLA" --subject "Frage zur Vergabe" "$SECRET" 2>/dev/null) ||
    fail "msg send"
wait_for 10 "the message reaches c" has_object c "$M"
has_object a "$M" || fail "a does not store the message it relayed"
k c msg read "$M" --as "Carla Chef" >"$WORK/read-c.out" || fail "Carla cannot read the message"
grep -qF "$SECRET" "$WORK/read-c.out" || fail "Carla reads something else: $(cat "$WORK/read-c.out")"
grep -q "^from *Bernd Bau (Gemeinde b)" "$WORK/read-c.out" || fail "sender: $(cat "$WORK/read-c.out")"
k b msg read "$M" --as "Bernd Bau" | grep -qF "$SECRET" || fail "Bernd cannot read his sent message"
k c msg ls --as "Carla Chef" | grep -q "Bernd Bau" || fail "msg ls at c"
! k a msg read "$M" --as "Anna Amt" >/dev/null 2>&1 || fail "Anna read a message not for her"
k a export -o "$WORK/a-export.jsonl" 2>/dev/null || fail "export at a"
grep -q "$M" "$WORK/a-export.jsonl" || fail "the message is not in a's export"
! grep -qF "Vertraulich" "$WORK/a-export.jsonl" || fail "plaintext in a's export"
! grep -qaF "Vertraulich" "$WORK/a/store/data.mdb" || fail "plaintext in a's LMDB file"
! grep -qaF "Frage zur Vergabe" "$WORK/a/store/data.mdb" || fail "the subject in a's LMDB file"

# ---- forum: an edit everywhere, a retracted reply gone everywhere ----
T=$(k b thread --area Umfragen --title "Erfahrungen mit der E-Akte" --body "Erste Fassung" --as "Berta Bürger") ||
    fail "thread"
T2=$(k b thread --edit "$T" --body "Wie **läuft** es bei Ihnen? <script>alert(1)</script>" --as "Berta Bürger") ||
    fail "thread --edit"
wait_for 10 "the thread reaches c" has_object c "$T"
R=$(k c post "$T" --body "Bei uns gut." --as "Carla Chef") || fail "post at c"
for n in a b; do wait_for 10 "the reply reaches $n" has_object "$n" "$R"; done
for n in a b c; do
    wait_for 10 "the edit reaches $n" has_object "$n" "$T2"
    threads=$(k "$n" ls --area Umfragen --type thread --json | grep -c '"type":"thread"')
    [ "$threads" = 1 ] || fail "$n lists $threads threads for one edited thread"
    k "$n" ls --area Umfragen --type thread | grep -q "^${T2:0:16}" || fail "$n does not list the newest version"
done
k a retract "$R" --as "Anna Amt" >/dev/null 2>&1 && fail "Anna retracted Carla's reply"
k c retract "$R" --as "Carla Chef" --reason "doppelt" >/dev/null 2>&1 || fail "retract at c"
retracted_on() {
    local out
    out=$(k "$1" show "$R" 2>&1) && return 1
    grep -q "was retracted" <<<"$out"
}
for n in a b c; do wait_for 10 "the retraction reaches $n" retracted_on "$n"; done
for n in a b c; do
    ! k "$n" ls --limit 0 | grep -q "^${R:0:16}" || fail "$n still lists the retracted reply"
    k "$n" show "$T" >/dev/null || fail "the thread went with the reply on $n"
done

# ---- events, iCalendar and Atom, the same on every node ----
E=$(k a event --area Umfragen --title "Webinar: Übergabe der Größenordnungen – Teil 1" \
    --start "2026-12-03 10:00" --end "2026-12-03 12:30" --tz Europe/Berlin \
    --link https://meet.example.org/e-akte --place "Rathaus Süd, Saal 2" --group "Hauptämter" \
    --lang de --lang en --contact "anmeldung@example.de" --capacity 30 \
    --description "Erfahrungen; Fragen, Antworten." --as "Anna Amt") || fail "event"
E2=$(k a event --area Umfragen --title "Sommerfest der Kämmereien" --start "2027-07-01 18:00" \
    --end "2027-07-01 23:00" --tz Europe/Berlin --place "Biergarten am Fluss" --as "Anna Amt") || fail "event 2"
E3=$(k a event --area Umfragen --title "Studienreise New York" --start "2027-03-10 09:00" \
    --end "2027-03-10 17:00" --tz America/New_York --place "City Hall" --as "Anna Amt") || fail "event 3"
L=$(k a link --area Umfragen --url "https://example.org/leitfaden?teil=1&format=pdf" \
    --title "Leitfaden E-Akte (Länderübersicht)" --description "Der **Leitfaden**" --as "Anna Amt") || fail "link"
has_events() { for id in "$E" "$E2" "$E3" "$L"; do k "$1" show "$id" >/dev/null 2>&1 || return 1; done; }
for n in b c; do wait_for 10 "the events reach $n" has_events "$n"; done
k b rsvp "$E" yes --as "Bernd Bau" >/dev/null || fail "rsvp Bernd"
k c rsvp "$E" maybe --as "Carla Chef" >/dev/null || fail "rsvp Carla"
k c rsvp "$E" yes --as "Carla Chef" >/dev/null || fail "rsvp Carla again"
rsvps_on() { [ "$(k "$1" ls --type rsvp --limit 0 --json | wc -l)" = 3 ]; }
for n in a b c; do wait_for 10 "the RSVPs reach $n" rsvps_on "$n"; done
k b event show "$E" | grep -q "^rsvp *2 yes, 0 maybe, 0 no" || fail "event show: $(k b event show "$E")"

for n in a b c; do
    k "$n" ics "$E" -o "$WORK/event-$n.ics" || fail "ics on $n"
    k "$n" ics --area Umfragen -o "$WORK/area-$n.ics" || fail "ics --area on $n"
    k "$n" feed Umfragen --base-url https://knoten.example.de -o "$WORK/feed-$n.xml" || fail "feed on $n"
done
for f in event area feed; do
    ext=ics; [ $f = feed ] && ext=xml
    cmp -s "$WORK/$f-a.$ext" "$WORK/$f-b.$ext" && cmp -s "$WORK/$f-a.$ext" "$WORK/$f-c.$ext" ||
        fail "$f differs between nodes"
done
cat >"$WORK/want-event.json" <<JSON
{"events": [{"title": "Webinar: Übergabe der Größenordnungen – Teil 1", "uid": "$E", "tz": "Europe/Berlin",
  "start": "2026-12-03 10:00", "start_utc": "2026-12-03 09:00", "end": "2026-12-03 12:30", "end_utc": "2026-12-03 11:30",
  "location": "Rathaus Süd, Saal 2", "url": "https://meet.example.org/e-akte",
  "description_has": ["Erfahrungen; Fragen, Antworten.", "Languages: de, en", "Group: Hauptämter",
                      "Registration: anmeldung@example.de", "Places: 30", "RSVP: 2 yes, 0 maybe, 0 no",
                      "Organised by: Anna Amt"]}]}
JSON
"$PY" "$CHECK" ics "$WORK/event-c.ics" "$WORK/want-event.json" || fail "the event's .ics"
cat >"$WORK/want-area.json" <<JSON
{"events": [
 {"title": "Webinar: Übergabe der Größenordnungen – Teil 1", "uid": "$E", "tz": "Europe/Berlin",
  "start": "2026-12-03 10:00", "start_utc": "2026-12-03 09:00", "end": "2026-12-03 12:30", "end_utc": "2026-12-03 11:30"},
 {"title": "Sommerfest der Kämmereien", "uid": "$E2", "tz": "Europe/Berlin", "location": "Biergarten am Fluss",
  "start": "2027-07-01 18:00", "start_utc": "2027-07-01 16:00", "end": "2027-07-01 23:00", "end_utc": "2027-07-01 21:00"},
 {"title": "Studienreise New York", "uid": "$E3", "tz": "America/New_York",
  "start": "2027-03-10 09:00", "start_utc": "2027-03-10 14:00", "end": "2027-03-10 17:00", "end_utc": "2027-03-10 22:00"}]}
JSON
"$PY" "$CHECK" ics "$WORK/area-c.ics" "$WORK/want-area.json" || fail "the area's .ics"
cat >"$WORK/want-feed.json" <<JSON
{"title": "Umfragen",
 "entries": [
  {"title": "Erfahrungen mit der E-Akte", "id": "$T", "author": "Berta Bürger (Gemeinde b)",
   "link": "https://knoten.example.de/o/$T2", "content_has": ["<strong>läuft</strong>"]},
  {"title": "Leitfaden E-Akte (Länderübersicht)", "id": "$L", "author": "Anna Amt (founding council ${ID_a:0:8})",
   "link": "https://example.org/leitfaden?teil=1&format=pdf", "content_has": ["<strong>Leitfaden</strong>"]},
  {"title": "Webinar: Übergabe der Größenordnungen – Teil 1", "id": "$E", "link": "https://meet.example.org/e-akte",
   "content_has": ["2026-12-03 10:00 - 12:30 Europe/Berlin (CET)", "Rathaus Süd, Saal 2"]},
  {"title": "Poll: Wie führen Sie die E-Akte ein?", "id": "$PC", "content_has": ["Schon eingeführt"]}],
 "absent": ["Re: Erfahrungen mit der E-Akte"],
 "raw_lacks": ["<script", "&lt;script&gt;alert"]}
JSON
"$PY" "$CHECK" atom "$WORK/feed-c.xml" "$WORK/want-feed.json" || fail "the Atom feed"

no_violations a b c
stop_node a
stop_node b
stop_node c
echo "collab_three_nodes: ok"
