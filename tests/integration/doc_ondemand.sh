#!/usr/bin/env bash
# The on-demand policy: a node that keeps the documents but fetches a file
# only when someone asks for it.
#
# a founds the network, b is admitted and set to on-demand (`knoten doc
# policy on-demand`). A file published at a reaches b as a listed document
# without its contents. `knoten doc get` at b marks it as requested and
# signals the running node, which fetches it at once; a second `knoten doc
# get` writes it byte-identical. A second document's file stays unfetched.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/doc_lib.bash"

init_founder a
init_admitted b
"$KNOTEN" doc policy on-demand --data "$WORK/b" >/dev/null || fail "knoten doc policy at b"
PA=$(free_port)
PB=$(free_port)
"$KNOTEN" peer add "127.0.0.1:$PA" --data "$WORK/b" >/dev/null || fail "peer add on b"
start_node a "$PA"
start_node b "$PB"
wait_for 20 "b connects to a" peer_connected b "127.0.0.1:$PA"

make_file "$WORK/Satzung.pdf" 5
make_file "$WORK/Anlage.pdf" 1
D1=$(publish a "$WORK/Satzung.pdf" "Satzung")
D2=$(publish a "$WORK/Anlage.pdf" "Anlage")
listed() { doc_line b "$1" | grep -q "0 of [0-9]* chunks here"; }
wait_for 20 "b lists the first document without its file" listed "$D1"
wait_for 20 "b lists the second document without its file" listed "$D2"
sleep 1 # time enough to fetch, were b eager
[ "$(blob_field b chunks)" = 0 ] || fail "b fetched file contents nobody asked for"

! "$KNOTEN" doc get "$D1" -o "$WORK" --data "$WORK/b" >"$WORK/get1.out" 2>&1 ||
    fail "the first doc get at b claimed success without the file"
grep -q "it is asked to fetch this one now" "$WORK/get1.out" || fail "doc get did not say it asked"
wait_for 10 "b fetches the requested file" doc_complete b "$D1"
get_and_compare b "$D1" "$WORK/Satzung.pdf"
doc_line b "$D2" | grep -q "0 of [0-9]* chunks here" || fail "b fetched the file nobody asked for"

no_violations a b
stop_node a
stop_node b
echo "doc_ondemand: ok"
