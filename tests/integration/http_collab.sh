#!/usr/bin/env bash
# Polls, events and messages over HTTP against a real node (issue 8): votes
# through the API and the page forms, results per option and per council,
# events with zones, the calendar by month, RSVPs, iCalendar read back with
# python3-icalendar, direct messages; CSRF refused on every state change.
# The checks are in http_collab_check.py.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/peers_lib.bash"

HP=$(free_port)
"$KNOTEN" init --data "$WORK/a" --found "Kommunen Test" >/dev/null 2>&1 || fail "init"
for who in "Erika Muster:erika" "Max Mustermann:max" "Jana Jung:jana"; do
    echo "geheim-passwort" | "$KNOTEN" user add --data "$WORK/a" --name "${who%%:*}" \
        --role Personalamt --login "${who##*:}" --password-stdin >/dev/null 2>"$WORK/add.err" ||
        fail "user add: $(cat "$WORK/add.err")"
done
"$KNOTEN" run --data "$WORK/a" --listen "127.0.0.1:$(free_port)" --http "127.0.0.1:$HP" \
    2>"$WORK/a.log" &
PID_A=$!
PIDS+=("$PID_A")
wait_for 10 "web interface is up" grep -q "web interface on http://127.0.0.1:$HP/" "$WORK/a.log"

"$PY" "$(dirname "${BASH_SOURCE[0]}")/http_collab_check.py" "http://127.0.0.1:$HP" ||
    fail "http_collab_check.py failed"
# The pages as staff meet them: refused forms keep what was typed, login and session notices.
"$PY" "$(dirname "${BASH_SOURCE[0]}")/http_staff_check.py" "http://127.0.0.1:$HP" ||
    fail "http_staff_check.py failed"
# A clean stop (under ASan: nothing leaked by the pages and endpoints above).
kill -TERM "$PID_A"
wait "$PID_A" || fail "a exited with $? after SIGTERM"
echo "http_collab: ok"
