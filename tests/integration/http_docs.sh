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
# A part file left by an earlier run is removed at start.
mkdir -p "$WORK/a/uploads" && echo x >"$WORK/a/uploads/0123.part"
"$KNOTEN" run --data "$WORK/a" --listen "127.0.0.1:$(free_port)" --http "127.0.0.1:$HP" \
    2>"$WORK/a.log" &
PIDS+=("$!")
wait_for 10 "web interface is up" grep -q "web interface on http://127.0.0.1:$HP/" "$WORK/a.log"
[ ! -e "$WORK/a/uploads/0123.part" ] || fail "a leftover part file was not removed"

"$PY" "$(dirname "${BASH_SOURCE[0]}")/http_docs_check.py" "http://127.0.0.1:$HP" "$WORK/a/identity.key" ||
    fail "http_docs_check.py failed"
# Nothing is left staged on disk once every upload was published or cancelled.
[ -z "$(ls -A "$WORK/a/uploads")" ] || fail "part files left: $(ls "$WORK/a/uploads")"
echo "http_docs: ok"
