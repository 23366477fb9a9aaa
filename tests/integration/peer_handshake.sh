# Two `knoten run` processes that share one network key find each other,
# complete the Noise handshake and exchange pings.
#
#   a dials b with b's identity pinned; b learns of a only while running,
#   through `knoten peer add` in another process (picked up within 2 s), so
#   both dial and one connection is closed as a duplicate. Both end with one
#   live session, a pong each, "connected" in `knoten peer ls`, and a clean
#   shutdown on SIGTERM in which b hears a's bye.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/peers_lib.bash"

init_pair
PA=$(free_port)
PB=$(free_port)
"$KNOTEN" peer add "127.0.0.1:$PB" "$ID_b" --data "$WORK/a" >/dev/null || fail "peer add on a"

# Usage errors say what to do and exit 2; unknown peers exit 1.
status=0
"$KNOTEN" peer add not-an-address --data "$WORK/a" 2>"$WORK/err.out" || status=$?
[ "$status" = 2 ] && grep -q "is not HOST:PORT" "$WORK/err.out" || fail "bad address accepted"
status=0
"$KNOTEN" peer rm 127.0.0.1:1 --data "$WORK/a" 2>"$WORK/err.out" || status=$?
[ "$status" = 1 ] && grep -q "knoten peer ls" "$WORK/err.out" || fail "rm of an unknown peer"
"$KNOTEN" peer --help | grep -q "knoten peer add HOST:PORT" || fail "peer --help"
peer_state a "127.0.0.1:$PB" | grep -q "never connected" || fail "state before the first run"

start_node a "$PA"
start_node b "$PB"

short_b=${ID_b:0:8}
short_a=${ID_a:0:8}
wait_for 20 "a connects to b" log_has a "peer 127\.0\.0\.1:$PB \($short_b…\) connected"
wait_for 20 "b accepts a" log_has b "peer 127\.0\.0\.1:[0-9]+ \($short_a…\) connected"
wait_for 20 "a receives a pong from b" log_has a "\($short_b…\) answered ping \(pong received"
wait_for 20 "b receives a pong from a" log_has b "\($short_a…\) answered ping \(pong received"
wait_for 10 "peer ls on a says connected" peer_connected a "127.0.0.1:$PB"

# A peer added while b runs is picked up without a restart.
"$KNOTEN" peer add "127.0.0.1:$PA" --data "$WORK/b" >/dev/null || fail "peer add on b while running"
wait_for 10 "b picks up the new peer" log_has b "peer 127\.0\.0\.1:$PA added to the configuration"
wait_for 15 "peer ls on b says connected" peer_connected b "127.0.0.1:$PA"
"$KNOTEN" peers --data "$WORK/b" | grep -q "$short_a" || fail "b's peer list lacks a's identity"
sleep 3 # let a duplicate connection, if any, settle
peer_connected a "127.0.0.1:$PB" || fail "a lost b after b dialled it too: $(peer_state a "127.0.0.1:$PB")"
peer_connected b "127.0.0.1:$PA" || fail "b lost a: $(peer_state b "127.0.0.1:$PA")"

# Nothing a peer sent was refused, nothing timed out.
! log_has a "protocol violation|timed out|does not have our network key" || fail "errors in a's log"
! log_has b "protocol violation|timed out|does not have our network key" || fail "errors in b's log"

stop_node a
wait_for 10 "b hears a's bye" log_has b "peer said bye: shutting down"
log_has a "received SIGTERM, shutting down" && log_has a "stopped" || fail "a's shutdown log"
stop_node b
"$KNOTEN" peer ls --data "$WORK/a" | grep -q "node is not running" || fail "peer ls after stop"
echo "peer_handshake: ok"
