#!/usr/bin/env bash
# A file transfer interrupted by killing a node resumes where it stopped.
#
# a - b - c as in doc_chain.sh, but a serves files at 4 MiB/s at most
# ([limits] file_upload_rate in its configuration file), so that b's fetch
# of a 30 MiB file takes several seconds. When b holds between a quarter and
# three quarters of it, b is killed with SIGKILL (no clean shutdown, LMDB
# mid-write). After b restarts, it fetches only the chunks it lacked: its
# log says how many it fetched in this run and how many were there already,
# and those add up to the whole file while the fetched ones are fewer. b and
# c end with the file byte-identical.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/doc_lib.bash"

printf '[limits]\nfile_upload_rate = 4MiB\n' >"$WORK/a.conf"
A_CONF="$WORK/a.conf" start_chain

make_file "$WORK/Bebauungsplan.pdf" 30
D=$(publish a "$WORK/Bebauungsplan.pdf" "Bebauungsplan Nr. 12")
quarter() { local n; n=$(blob_field b chunks) && ((n >= 30)); }
wait_for 20 "b holds a quarter of the file" quarter
kill -KILL "$PID_b"
wait "$PID_b" 2>/dev/null || true
had=$(blob_field b chunks)
echo "b killed holding $had of 120 chunks"
((had >= 30 && had < 120)) || fail "b holds $had chunks when killed: not in the middle"

start_node b "$PB"
wait_for 25 "the file is complete at b after the restart" doc_complete b "$D"
line=$(grep -E "file [0-9a-f]{16}… complete: 30.0 MiB, 120 chunks" "$WORK/b.log") ||
    fail "b did not log the completed file"
echo "b: $line"
[[ $line =~ \(([0-9]+)\ fetched\ now,\ ([0-9]+)\ were\ here\ already\) ]] ||
    fail "no counts in b's line"
fetched=${BASH_REMATCH[1]}
here=${BASH_REMATCH[2]}
((fetched + here == 120)) || fail "fetched $fetched + here $here is not the whole file"
((here >= had)) || fail "b counts $here chunks as there already, but held $had when killed"
((fetched < 120)) || fail "b fetched the whole file again"
get_and_compare b "$D" "$WORK/Bebauungsplan.pdf"
wait_for 25 "the file is complete at c" doc_complete c "$D"
get_and_compare c "$D" "$WORK/Bebauungsplan.pdf"

no_violations a c
stop_node a
stop_node b
stop_node c
echo "doc_resume: ok"
