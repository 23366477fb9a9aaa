#!/usr/bin/env bash
# Documents over HTTP against a real node (issue 8): uploads in pieces with
# their bounds and CSRF, publishing, versions, listing with filters,
# downloads byte-identical with safe headers, download paths that try to
# leave their blob, retraction. The checks are in http_docs_check.py.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/peers_lib.bash"

HP=$(free_port)
"$KNOTEN" init --data "$WORK/a" --found "Kommunen Test" >/dev/null 2>&1 || fail "init"
for who in "Erika Muster:erika" "Max Mustermann:max"; do
    echo "geheim-passwort" | "$KNOTEN" user add --data "$WORK/a" --name "${who%%:*}" \
        --role Personalamt --login "${who##*:}" --password-stdin >/dev/null 2>"$WORK/add.err" ||
        fail "user add: $(cat "$WORK/add.err")"
done
# A part file without the description of its upload (ID.meta) is removed at start.
mkdir -p "$WORK/a/uploads" && echo x >"$WORK/a/uploads/0123.part"
"$KNOTEN" run --data "$WORK/a" --listen "127.0.0.1:$(free_port)" --http "127.0.0.1:$HP" \
    2>"$WORK/a.log" &
PID_A=$!
PIDS+=("$PID_A")
wait_for 10 "web interface is up" grep -q "web interface on http://127.0.0.1:$HP/" "$WORK/a.log"
[ ! -e "$WORK/a/uploads/0123.part" ] || fail "a leftover part file was not removed"

"$PY" "$(dirname "${BASH_SOURCE[0]}")/http_docs_check.py" "http://127.0.0.1:$HP" "$WORK/a/identity.key" \
    "$WORK/left" || fail "http_docs_check.py failed"
# The check left one unfinished upload: its part file, description and chunk hashes are
# the only files staged.
[ "$(ls "$WORK/a/uploads" | sed 's/^[0-9a-f]\{32\}\.//' | sort | tr '\n' ' ')" = "hashes meta part " ] ||
    fail "upload files: $(ls "$WORK/a/uploads")"
# SIGTERM while a download streams to a client that reads slowly: the node
# stops cleanly (under ASan: no leak, no use after free) and keeps the unfinished upload's
# files for the next start (http_upload_restart.sh takes them back).
"$PY" - "$HP" "$WORK/left" <<'PY' &
import socket, sys, time
path, cookie = open(sys.argv[2]).read().split("\n")[:2]
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n\r\n" % (path, cookie)).encode())
s.recv(100)
time.sleep(8)
PY
PIDS+=("$!")
sleep 1
kill -TERM "$PID_A"
wait_for 10 "a stops with a download open" grep -q "stopped$" "$WORK/a.log"
wait "$PID_A" || fail "a exited with $? after SIGTERM during a download"
[ "$(ls "$WORK/a/uploads" | wc -l)" = 3 ] || fail "upload files after shutdown: $(ls "$WORK/a/uploads")"
echo "http_docs: ok"
