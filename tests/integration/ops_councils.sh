#!/usr/bin/env bash
# Many councils, one process: `knoten run --config FILE` with two [council
# NAME] sections hosts h1 and h2 on one event loop, each with its own keys,
# store, listen address and peers. h1 dials h2, h2 dials the outside node o,
# and o dials h1, so every pair talks. A thread published at o reaches both
# hosted councils, and one published at h1 reaches h2 and o. One SIGTERM
# stops both councils; the log names the council on each line.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"

init_founder o
init_admitted h1
init_admitted h2
[ "$ID_h1" != "$ID_h2" ] || fail "the hosted councils share an identity"
BASE=$(object_count o) # the network object and the two admits
PO=$(free_port)
P1=$(free_port)
P2=$(free_port)
"$KNOTEN" peer add "127.0.0.1:$P1" "$ID_h1" --data "$WORK/o" >/dev/null || fail "peer add on o"
cat >"$WORK/hosted.conf" <<CONF
[log]
level = info

[council h1]
data = $WORK/h1
listen = 127.0.0.1:$P1
peer = 127.0.0.1:$P2 $ID_h2

[council h2]
data = $WORK/h2
listen = 127.0.0.1:$P2
peer = 127.0.0.1:$PO $ID_o
connections = 4
CONF

# Options that name one council are refused with such a file.
status=0
"$KNOTEN" run --config "$WORK/hosted.conf" --listen "127.0.0.1:$P1" >"$WORK/flag.out" 2>&1 || status=$?
[ "$status" = 2 ] && grep -q "hosts several councils" "$WORK/flag.out" ||
    fail "--listen with several councils not refused (status $status): $(cat "$WORK/flag.out")"

start_node o "$PO"
"$KNOTEN" run --config "$WORK/hosted.conf" --http off >>"$WORK/hosted.log" 2>&1 &
PID_hosted=$!
PIDS+=("$PID_hosted")
wait_for 10 "h1 listens" log_has hosted "info: h1: node ${ID_h1:0:16}… running, data in $WORK/h1, listening on 127\.0\.0\.1:$P1"
wait_for 10 "h2 listens" log_has hosted "info: h2: node ${ID_h2:0:16}… running, data in $WORK/h2, listening on 127\.0\.0\.1:$P2"
wait_for 20 "h1 connects to h2" log_has hosted "h1: peer 127\.0\.0\.1:$P2 \(${ID_h2:0:8}…\) connected \(outbound\)"
wait_for 20 "h2 connects to o" log_has hosted "h2: peer 127\.0\.0\.1:$PO \(${ID_o:0:8}…\) connected \(outbound\)"
wait_for 20 "o connects to h1" peer_connected o "127.0.0.1:$P1"
log_has hosted "h2: keeping 4 connections" || fail "h2's connections setting not applied"
log_has hosted "h1: keeping 8 connections" || fail "h1 did not keep the default"
wait_for 20 "h1 has the network" has_count h1 "$BASE"
wait_for 20 "h2 has the network" has_count h2 "$BASE"

# From the outside in.
T=$("$KNOTEN" thread --data "$WORK/o" --space Bauamt --title "Solarpflicht auf Schulen?" \
    --body "Wie setzen Sie das um?") || fail "knoten thread on o"
wait_for 10 "o's thread reaches h1" has_object h1 "$T"
wait_for 10 "o's thread reaches h2" has_object h2 "$T"
# From a hosted council out, and to its neighbour in the same process.
P=$("$KNOTEN" post "$T" --data "$WORK/h1" --body "Mit dem Landesprogramm.") || fail "knoten post on h1"
wait_for 10 "h1's reply reaches o" has_object o "$P"
wait_for 10 "h1's reply reaches h2" has_object h2 "$P"
Q=$("$KNOTEN" link --data "$WORK/h2" --space Bauamt --url https://example.org/solar \
    --title "Leitfaden Solar") || fail "knoten link on h2"
wait_for 10 "h2's link reaches o" has_object o "$Q"
wait_for 10 "h2's link reaches h1" has_object h1 "$Q"
[ "$(object_ids o)" = "$(object_ids h1)" ] || fail "o and h1 hold different objects"
[ "$(object_ids o)" = "$(object_ids h2)" ] || fail "o and h2 hold different objects"
"$KNOTEN" status --data "$WORK/h1" | grep -q "identity *$ID_h1" || fail "status of h1"
"$KNOTEN" status --data "$WORK/h2" | grep -q "identity *$ID_h2" || fail "status of h2"

no_violations o hosted
stop_node hosted
log_has hosted "h1: stopped" || fail "h1 did not stop cleanly"
log_has hosted "h2: stopped" || fail "h2 did not stop cleanly"
stop_node o
echo "ops_councils: ok"
