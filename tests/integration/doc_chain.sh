#!/usr/bin/env bash
# Documents and their files over a chain of real processes: a - b - c.
#
# a founds the network and admits b and c; a dials b and c dials b, so a and
# c never talk to each other. A 30 MiB file published at a (by `knoten doc
# publish` in another process while a runs) reaches c through b, which
# fetches it too; `knoten doc get` at c writes it byte-identical. Then a new
# version (--supersedes) replaces the old one in `knoten doc ls` on all three
# nodes, while `knoten doc versions` still lists both, and its file comes too.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/doc_lib.bash"

start_chain

make_file "$WORK/Haushaltsplan-2026.pdf" 30
start=$(date +%s%N)
D1=$(publish a "$WORK/Haushaltsplan-2026.pdf" "Haushaltsplan 2026" --kind instruction)
wait_for 25 "the 30 MiB file is complete at c" doc_complete c "$D1"
ms=$((($(date +%s%N) - start) / 1000000))
echo "30 MiB from a to c through b in ${ms} ms (publish included)"
doc_complete b "$D1" || fail "b relayed the file but does not hold it complete"
get_and_compare c "$D1" "$WORK/Haushaltsplan-2026.pdf"
get_and_compare b "$D1" "$WORK/Haushaltsplan-2026.pdf"
log_has c "file [0-9a-f]{16}… complete: 30.0 MiB, 120 chunks \(120 fetched now, 0 were here already\)" ||
    fail "c did not log the completed file"
# c's link to b moved the chunks; peers.state books them.
chunks_in() { (($(sync_field c "127.0.0.1:$PB" file_chunks_in) >= 120)); }
wait_for 5 "c books 120 chunks from b" chunks_in
[ "$(sync_field c "127.0.0.1:$PB" file_chunks_corrupt)" = 0 ] || fail "corrupt chunks counted"

# A new version: the old one leaves the listings everywhere, the history stays.
make_file "$WORK/Haushaltsplan-2026-v2.pdf" 2
D2=$(publish a "$WORK/Haushaltsplan-2026-v2.pdf" "Haushaltsplan 2026 (2. Fassung)" --supersedes "$D1")
for n in a b c; do
    wait_for 20 "the new version is complete at $n" doc_complete "$n" "$D2"
    "$KNOTEN" doc ls --data "$WORK/$n" >"$WORK/ls-$n.out"
    grep -q "^$D2 .*2. Fassung.*2 versions" "$WORK/ls-$n.out" || fail "ls at $n lacks the new version"
    ! grep -q "^$D1 " "$WORK/ls-$n.out" || fail "ls at $n still shows the old version"
    "$KNOTEN" doc versions "$D2" --data "$WORK/$n" >"$WORK/versions-$n.out" ||
        fail "knoten doc versions at $n"
    grep -q "$D1" "$WORK/versions-$n.out" && grep -q "$D2" "$WORK/versions-$n.out" ||
        fail "doc versions at $n does not list both versions"
done
get_and_compare c "$D2" "$WORK/Haushaltsplan-2026-v2.pdf"
# The old version's file is still reachable through its id.
get_and_compare c "$D1" "$WORK/Haushaltsplan-2026.pdf"

no_violations a b c
stop_node a
stop_node b
stop_node c
echo "doc_chain: ok"
