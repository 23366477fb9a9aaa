# An independent peer (Python: dissononce for Noise, cryptography for
# Ed25519) completes the handshake with a node, exchanges identity
# statements and ping/pong, and is disconnected, with a bye naming the
# problem, for each kind of invalid message.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/peers_lib.bash"

PEER="$(dirname "${BASH_SOURCE[0]}")/noise_peer.py"
"$PY" -c 'import dissononce, cryptography' 2>/dev/null ||
    fail "python3-dissononce and python3-cryptography are needed"

"$KNOTEN" init --data "$WORK/a" >"$WORK/init-a.out" || fail "knoten init"
ID_a=$(sed -n 's/^node identity: //p' "$WORK/init-a.out")
PA=$(free_port)
start_node a "$PA"
wait_for 10 "a listens" log_has a "listening on 127\.0\.0\.1:$PA"

# name  message (hex)                     what the node must say
cases=(
    "unknown-kind    92a46e6f706501          unknown message kind"
    "trailing-bytes  92a470696e670100        malformed message"
    "not-an-array    a470696e67              malformed message"
    "noncanon-nonce  92a470696e67cc01        malformed message"
    "stray-pong      92a4706f6e67cd1234      pong without a matching ping"
)
for c in "${cases[@]}"; do
    read -r name hex reason <<<"$c"
    out=$("$PY" "$PEER" "$PA" "$WORK/a/network.key" "$hex" 2>"$WORK/peer-$name.err") ||
        fail "$name: the python peer failed: $(cat "$WORK/peer-$name.err")"
    grep -qx "established $ID_a" <<<"$out" || fail "$name: no handshake: $out"
    grep -qx "pong ok" <<<"$out" || fail "$name: no pong: $out"
    grep -qx "after bad message: bye protocol violation: $reason" <<<"$out" ||
        fail "$name: expected a bye naming \"$reason\", got: $out"
done

# The python peer holds the network key but was never admitted: content from
# it is refused with the guest's bye, not taken as an object.
out=$("$PY" "$PEER" "$PA" "$WORK/a/network.key" 92a36f626ac403010203 2>"$WORK/peer-obj.err") ||
    fail "guest object: the python peer failed: $(cat "$WORK/peer-obj.err")"
grep -qx 'after bad message: bye not a member: redeem an invite with `knoten join`' <<<"$out" ||
    fail "guest object: expected the not-a-member bye, got: $out"
wait_for 10 "a logs the violations" log_has a "disconnected: protocol violation: unknown message kind"
kill -0 "$PID_a" || fail "the node died"
stop_node a
echo "peer_interop: ok"
