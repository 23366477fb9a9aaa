# A peer that dies and comes back is reconnected within the backoff window.
#
#   a dials b; b is killed with SIGKILL (a crash: no bye), a retries with
#   growing, capped delays; b is restarted on the same port and a reconnects
#   on its own (b has no peers configured, so the new session must be a's).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/peers_lib.bash"

init_pair_dialling
start_node a "$PA"
start_node b "$PB"
short_b=${ID_b:0:8}
wait_for 20 "a connects to b" log_has a "peer 127\.0\.0\.1:$PB \($short_b…\) connected"
wait_for 10 "peer ls on a says connected" peer_connected a "127.0.0.1:$PB"

kill -KILL "$PID_b"
wait "$PID_b" 2>/dev/null || true
wait_for 10 "a notices b is gone" log_has a "peer 127\.0\.0\.1:$PB \($short_b…\) disconnected"
wait_for 10 "a retries" log_has a "peer 127\.0\.0\.1:$PB \($short_b…\): cannot connect"
wait_for 10 "peer ls on a shows the backoff" \
    bash -c "'$KNOTEN' peer ls --data '$WORK/a' | grep -q 'backing off (retry in'"
sleep 4 # several failed attempts: the delay must grow

# The delays a announced never shrink while b stays away, and stay under the cap.
mapfile -t delays < <(grep -Eo "cannot connect: [^;]*; retrying in [0-9]+ s" "$WORK/a.log" |
    grep -Eo "[0-9]+ s$" | grep -Eo "[0-9]+")
((${#delays[@]} >= 2)) || fail "expected at least two retries, saw ${#delays[@]}"
prev=0
for d in "${delays[@]}"; do
    ((d >= prev && d <= 60)) || fail "retry delays not growing within the cap: ${delays[*]}"
    prev=$d
done

restarted=$SECONDS
start_node b "$PB"
wait_for 40 "a reconnects to the restarted b" \
    bash -c "[ \$(grep -Ec 'peer 127\.0\.0\.1:$PB \($short_b…\) connected' '$WORK/a.log') -ge 2 ]"
echo "reconnected $((SECONDS - restarted)) s after the restart (delays seen: ${delays[*]} s)"
wait_for 10 "peer ls on a says connected again" peer_connected a "127.0.0.1:$PB"
# The refused connects before this connection are history: peer ls does not put them
# next to "connected" as if it had trouble now.
"$KNOTEN" peer ls --data "$WORK/a" | grep "^127.0.0.1:$PB " | grep -q "cannot connect" &&
    fail "peer ls shows an old error beside a live connection: $("$KNOTEN" peer ls --data "$WORK/a")"
wait_for 20 "pong after the reconnect" \
    bash -c "[ \$(grep -c 'answered ping' '$WORK/a.log') -ge 2 ]"
# A configured address that leads back to the node itself: the error says what to do.
"$KNOTEN" peer add "127.0.0.1:$PA" --data "$WORK/a" >/dev/null
wait_for 10 "peer ls says how to remove a's own address" \
    bash -c "'$KNOTEN' peer ls --data '$WORK/a' | grep '^127.0.0.1:$PA ' | grep -q 'leads back to this node itself: remove it with \`knoten peer rm\`'"
stop_node a
stop_node b
echo "peer_reconnect: ok"
