#!/usr/bin/env bash
# bench_mailbox.sh: what `knoten msg ls` costs a person with one message
# while the store carries N direct messages between two others.
#
#   tools/bench/bench_mailbox.sh [KNOTEN] [N] [OLD_KNOTEN]
#
# KNOTEN defaults to build/tools/knoten, N to 3000. A node is made, three
# staff accounts, N messages from the first to the second and one to the
# third; then the third's `msg ls` is run 10 times and the mean printed, next
# to `knoten status` (the process start and store open, no mailbox) as the
# floor. With OLD_KNOTEN (a knoten from before store schema 7, which read a
# mailbox by looking at every dm), the store is made and timed with it
# first, then opened with KNOTEN (which migrates it) and timed again. Since
# schema 7 the mailbox is a range of its own index entries, so its cost no
# longer grows with N. Everything lives in a temporary directory, removed at
# the end.
set -euo pipefail
NEW=${1:-build/tools/knoten}
N=${2:-3000}
OLD=${3:-}
MAKER=${OLD:-$NEW}
W=$(mktemp -d /tmp/bench_mailbox.XXXXXX)
trap 'rm -rf "$W"' EXIT

"$MAKER" init --data "$W/a" >/dev/null
"$MAKER" user add --data "$W/a" --name "Xaver X" --role A >/dev/null 2>&1
Y=$("$MAKER" user add --data "$W/a" --name "Yvonne Y" --role B 2>/dev/null)
Z=$("$MAKER" user add --data "$W/a" --name "Zora Z" --role C 2>/dev/null)
for i in $(seq 1 "$N"); do
    "$MAKER" msg send --data "$W/a" --as "Xaver X" --to "$Y" --subject "s$i" "Nachricht $i" \
        >/dev/null 2>&1
    if ((i % 500 == 0)); then echo "  $i of $N messages sent" >&2; fi
done
"$MAKER" msg send --data "$W/a" --as "Xaver X" --to "$Z" --subject "an Zora" "eine" >/dev/null 2>&1

mean_us() { # the mean wall time of 10 runs of the command, in microseconds
    local t0 t1
    t0=$(date +%s%N)
    for _ in 1 2 3 4 5 6 7 8 9 10; do "$@" >/dev/null; done
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 10000))
}

echo "bench_mailbox: $((N + 1)) direct messages in the store; msg ls for a person with 1, mean of 10"
if [ -n "$OLD" ]; then
    echo "  $OLD: msg ls $(mean_us "$OLD" msg ls --data "$W/a" --as "Zora Z") us," \
        "status $(mean_us "$OLD" status --data "$W/a") us"
    "$NEW" status --data "$W/a" >/dev/null # migrates the store
fi
echo "  $NEW: msg ls $(mean_us "$NEW" msg ls --data "$W/a" --as "Zora Z") us," \
    "status $(mean_us "$NEW" status --data "$W/a") us"
