#!/usr/bin/env bash
# Retraction purges a document's file on every node that replicated it.
#
# a - b - c as in doc_chain.sh. a publishes a file full of a marker (think of
# a list with personal data sent by mistake); it reaches c. A compacted copy
# of c's store (mdb_copy -c, which leaves free pages out) holds the marker.
# a retracts the document; once the retract has reached c, c's store holds
# no chunk of it any more (`knoten status`), the document is gone from `knoten
# doc ls` and `knoten doc get` refuses it, and a new compacted copy of c's
# store no longer contains a single byte of the marker, and neither does the
# store file itself (data.mdb, as it is on disk while c runs): the pages that
# held the chunks are overwritten, not only freed. The same holds at b and a.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/doc_lib.bash"

start_chain

marker="PERSONALDATA-Erika-Mustermann-geb-1970"
make_file "$WORK/Personalliste.txt" 3 "$marker"
D=$(publish a "$WORK/Personalliste.txt" "Personalliste (versehentlich)")
wait_for 20 "the file is complete at c" doc_complete c "$D"
get_and_compare c "$D" "$WORK/Personalliste.txt"
[ "$(blob_field c chunks)" = 12 ] || fail "c does not count the 12 chunks"

# store_has_marker NAME: a compacted copy of NAME's store (taken while it runs) holds the marker.
store_has_marker() {
    local copy="$WORK/copy-$1-$RANDOM"
    mkdir "$copy"
    mdb_copy -c "$WORK/$1/store" "$copy" || fail "mdb_copy of $1's store failed"
    local found=1
    grep -qa "$marker" "$copy/data.mdb" && found=0
    rm -rf "$copy"
    return $found
}
store_has_marker c || fail "the marker is not in c's store before the retraction (test broken)"

"$KNOTEN" doc retract "$D" --reason "personenbezogene Daten" --data "$WORK/a" >/dev/null ||
    fail "knoten doc retract at a failed"
no_chunks() { [ "$(blob_field "$1" chunks)" = 0 ] && [ "$(blob_field "$1" bytes)" = 0 ]; }
wait_for 20 "the file's chunks are gone from c" no_chunks c
wait_for 5 "the file's chunks are gone from b" no_chunks b
no_chunks a || fail "a still holds the chunks"
[ -z "$(doc_line c "$D")" ] || fail "c still lists the retracted document"
! "$KNOTEN" doc get "$D" -o "$WORK" --data "$WORK/c" >/dev/null 2>&1 ||
    fail "knoten doc get of a retracted document succeeded at c"
! store_has_marker c || fail "the marker is still in c's store after the retraction"
! store_has_marker b || fail "the marker is still in b's store after the retraction"
# The live store files too: the freed pages that held the chunks are overwritten
# (kn_blob_scrub; the nodes look once a second, `knoten doc retract` at once at a).
live_clean() { ! grep -qa "$marker" "$WORK/$1/store/data.mdb"; }
wait_for 10 "the marker is gone from c's store file" live_clean c
wait_for 5 "the marker is gone from b's store file" live_clean b
wait_for 5 "the marker is gone from a's store file" live_clean a
grep -q "freed pages .* of purged files" "$WORK/c.log" || fail "c did not log the overwrite"
# Nothing asks for it again: the id stays as a tombstone and nothing is wanted.
sleep 1
[ "$(blob_field c wanted)" = 0 ] || fail "c still wants the retracted file"

no_violations a b c
stop_node a
stop_node b
stop_node c
echo "doc_retract: ok"
