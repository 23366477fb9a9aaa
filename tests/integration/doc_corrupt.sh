#!/usr/bin/env bash
# A peer that serves corrupt chunks corrupts nothing: the chunks come from
# another peer, and the faulty one is scored down and disconnected.
#
# a founds the network and publishes a 6 MiB file; x fetches it from a (x
# checks every chunk, so it holds a good copy) but runs with
# KNOTEN_TEST_CORRUPT_CHUNKS=1, so every chunk it serves has one byte
# flipped. d first knows only x: every chunk it gets fails its hash, is
# dropped, and after three of them d disconnects x ("sent corrupt file
# chunks"), whose corrupt count shows in d's `knoten sync status`. Nothing
# of the file is stored at d meanwhile. Then d is told about a: the file
# comes from a, and `knoten doc get` at d writes it byte-identical.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/doc_lib.bash"

init_founder a
init_admitted x
init_admitted d
PA=$(free_port)
PX=$(free_port)
PD=$(free_port)
"$KNOTEN" peer add "127.0.0.1:$PA" --data "$WORK/x" >/dev/null || fail "peer add on x"
"$KNOTEN" peer add "127.0.0.1:$PX" --data "$WORK/d" >/dev/null || fail "peer add on d"
start_node a "$PA"
KNOTEN_TEST_CORRUPT_CHUNKS=1 start_node x "$PX"
wait_for 20 "x connects to a" peer_connected x "127.0.0.1:$PA"
log_has x "KNOTEN_TEST_CORRUPT_CHUNKS is set" || fail "x does not warn about the test setting"

make_file "$WORK/Dienstanweisung.pdf" 6
D=$(publish a "$WORK/Dienstanweisung.pdf" "Dienstanweisung Kasse")
wait_for 20 "x holds a good copy" doc_complete x "$D"
get_and_compare x "$D" "$WORK/Dienstanweisung.pdf"

start_node d "$PD"
wait_for 20 "d disconnects x for corrupt chunks" log_has d "disconnected: sent corrupt file chunks"
log_has d "sent chunk [0-9]+ of file [0-9a-f]{16}… corrupt \(it fails its hash\): dropped" ||
    fail "d did not log the corrupt chunk and who sent it"
# peers.state is rewritten at most once a second.
three_corrupt() { (($(sync_field d "127.0.0.1:$PX" file_chunks_corrupt) >= 3)); }
wait_for 5 "d counts at least 3 corrupt chunks from x" three_corrupt
[ "$(sync_field d "127.0.0.1:$PX" file_chunks_in)" = 0 ] || fail "d stored chunks from x"
[ "$(blob_field d chunks)" = 0 ] || fail "d stored chunks that came from x"
"$KNOTEN" sync status --data "$WORK/d" | grep -q "corrupt: it is not asked for those files again" ||
    fail "sync status at d does not show the corrupt chunks"

# Another peer: the chunks come from a.
"$KNOTEN" peer add "127.0.0.1:$PA" --data "$WORK/d" >/dev/null || fail "peer add a on d"
wait_for 25 "the file is complete at d" doc_complete d "$D"
get_and_compare d "$D" "$WORK/Dienstanweisung.pdf"
from_a() { (($(sync_field d "127.0.0.1:$PA" file_chunks_in) >= 1)); }
wait_for 5 "d books chunks from a" from_a

stop_node a
stop_node x
stop_node d
echo "doc_corrupt: ok"
