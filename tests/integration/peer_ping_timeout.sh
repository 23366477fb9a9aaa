# A peer that stops answering pings is cut after ping_timeout, not scored,
# and redialled at once (issue 10: dead connections behind a lossy or
# partitioned network otherwise sit in TCP backoff until idle_timeout).
#
#   a dials b, with idle_timeout 12 s (pings every 4 s) and ping_timeout 2 s
#   from a config file. b is frozen with SIGSTOP: its kernel still holds the
#   TCP connection, but nothing answers a's ping. a must log "no pong for
#   2 s" within 4 + 2 s (10 s allowed on this shared machine), before the
#   12 s idle timeout, redial with the short first backoff, score b nowhere,
#   and, once b runs again (SIGCONT), be connected to it and get pongs again.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/peers_lib.bash"

init_pair_dialling
cat >"$WORK/a.conf" <<EOF
[node]
data = $WORK/a
listen = 127.0.0.1:$PA
[http]
enabled = no
[limits]
idle_timeout = 12
ping_timeout = 2
EOF
"$KNOTEN" run --config "$WORK/a.conf" >>"$WORK/a.log" 2>&1 &
PID_a=$!
PIDS+=("$PID_a")
start_node b "$PB"
short_b=${ID_b:0:8}
B="peer 127\.0\.0\.1:$PB \($short_b…\)"
wait_for 20 "a connects to b" log_has a "$B connected"
wait_for 20 "a's first pong from b" log_has a "$B answered ping"
"$KNOTEN" run --config "$WORK/a.conf" --check >"$WORK/check-a.out" || fail "knoten run --check on a"
grep -q "ping_timeout 2 s" "$WORK/check-a.out" ||
    fail "knoten run --check does not show ping_timeout 2 s"

kill -STOP "$PID_b"
stopped=$SECONDS
wait_for 12 "a gives up on the frozen b" log_has a "$B disconnected: no pong for 2 s; reconnecting in [12] s"
took=$((SECONDS - stopped))
echo "a cut the frozen b after ${took} s (ping every 4 s, ping_timeout 2 s, idle_timeout 12 s)"
((took <= 10)) || fail "a needed ${took} s to notice b stopped answering (expected <= 10 s)"
kill -CONT "$PID_b"
resumed=$SECONDS

wait_for 20 "a reconnects to b" \
    bash -c "[ \$(grep -Ec '$B connected' '$WORK/a.log') -ge 2 ]"
echo "reconnected $((SECONDS - resumed)) s after SIGCONT"
wait_for 10 "peer ls on a says connected again" peer_connected a "127.0.0.1:$PB"
wait_for 20 "a pong after the reconnect" \
    bash -c "[ \$(grep -c '$short_b…) answered ping' '$WORK/a.log') -ge 2 ]"

# The cut was the ping timeout, not the idle timeout, and nobody was scored.
log_has a "silent for|no complete message for" && fail "a used the idle timeout, not ping_timeout"
log_has a "scored down|banned" && fail "a scored b for not answering"
log_has b "scored down|banned" && fail "b scored a"
"$KNOTEN" peer ls --data "$WORK/a" >"$WORK/peers-a.out"
grep -q "Misbehaving peers" "$WORK/peers-a.out" && fail "peer ls on a lists misbehaving peers: $(cat "$WORK/peers-a.out")"
stop_node a
stop_node b
echo "peer_ping_timeout: ok"
