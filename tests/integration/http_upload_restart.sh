#!/usr/bin/env bash
# Uploads survive a restart of the node (node/http_blob.c, "Restarts"): one
# half sent when the node is killed (SIGKILL) continues where the part file
# ends and is published and downloaded byte-identical; one that was ready is
# still ready; one whose part file was damaged while the node was stopped
# fails with a clear message instead of storing other bytes; files without a
# description are removed. The checks are in http_upload_restart_check.py.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/peers_lib.bash"

HP=$(free_port)
CHECK="$(dirname "${BASH_SOURCE[0]}")/http_upload_restart_check.py"
init_web a
start_web a "$HP"
"$PY" "$CHECK" before "http://127.0.0.1:$HP" "$WORK/state" || fail "before the restart"
kill -KILL "$PID_a"
wait "$PID_a" 2>/dev/null || true
# What a crash leaves: the files of three uploads, and a stray part file of nobody's.
[ "$(ls "$WORK/a/uploads"/*.meta | wc -l)" = 3 ] || fail "descriptions: $(ls "$WORK/a/uploads")"
echo x >"$WORK/a/uploads/00112233445566778899aabbccddeeff.part"
# The third upload's first chunk is damaged on disk meanwhile.
BAD=$(sed -n 3p "$WORK/state")
printf 'X' | dd of="$WORK/a/uploads/$BAD.part" bs=1 seek=1000 conv=notrunc status=none
start_web a "$HP"
grep -q "taken back (receiving, 1572864 of" "$WORK/a.log" || fail "the half upload was not taken back"
[ ! -e "$WORK/a/uploads/00112233445566778899aabbccddeeff.part" ] || fail "a stray part file was kept"
"$PY" "$CHECK" after "http://127.0.0.1:$HP" "$WORK/state" || fail "after the restart"
# A clean stop keeps nothing of finished uploads: the published ones are gone, the failed one too.
stop_node a
[ -z "$(ls -A "$WORK/a/uploads")" ] || fail "files left: $(ls "$WORK/a/uploads")"
echo "http_upload_restart: ok"
