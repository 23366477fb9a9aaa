# psk0 in practice: a client that lacks the network key sends a well-formed
# Noise message 1 and gets nothing back, not one byte, and the connection is
# closed; the node goes on serving. The same client with the right key gets
# a message 2 that an independent Noise implementation (dissononce) accepts,
# so the refusal is about the key, not about a malformed message.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/peers_lib.bash"

CLIENT="$(dirname "${BASH_SOURCE[0]}")/noise_client.py"
"$PY" -c 'import dissononce' 2>/dev/null || fail "python3-dissononce is missing (apt-get install python3-dissononce)"

"$KNOTEN" init --data "$WORK/a" >/dev/null || fail "knoten init"
PA=$(free_port)
start_node a "$PA"
wait_for 10 "a listens" log_has a "listening on 127\.0\.0\.1:$PA"

out=$("$PY" "$CLIENT" "$PA" random) || fail "client (wrong key) failed"
[ "$out" = "received 0 closed" ] || fail "with a wrong network key the node answered: $out"

out=$("$PY" "$CLIENT" "$PA" "$WORK/a/network.key" knoten/2) || fail "client (wrong prologue) failed"
[ "$out" = "received 0 closed" ] || fail "with a wrong prologue the node answered: $out"

out=$("$PY" "$CLIENT" "$PA" "$WORK/a/network.key") || fail "client (right key) failed"
[[ $out =~ ^received\ ([0-9]+)\ (open|closed)$ ]] && ((BASH_REMATCH[1] > 2)) ||
    fail "with the right network key the node sent no message 2: $out"

wait_for 10 "a logs the refusals" log_has a "handshake failed: the peer does not have our network key"
[ "$(grep -c 'does not have our network key' "$WORK/a.log")" -ge 2 ] || fail "both refusals logged"
kill -0 "$PID_a" || fail "the node died"
stop_node a
echo "wrong_network_key: ok"
