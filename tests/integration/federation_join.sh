#!/usr/bin/env bash
# Joining over the network (issue 5, phase 2), with real processes on 127.0.0.1:
#
#   a founds a network, publishes a thread and runs; `knoten invite` at a;
#   a mistyped code is refused before any connection (a's log shows none);
#   b joins with the code: admitted, a's library (the thread from before the
#   join) arrives in the initial sync, `knoten members` at a lists b; a
#   second join on b's directory is refused with advice; b runs, and b's new
#   thread reaches a, a's new thread reaches b;
#   reusing b's code from c is refused ("already used"); an expired code is
#   refused before connecting; a withdrawn and a forged code (right format,
#   a's real network key, unknown secret) are refused by a;
#   g holds the network key but was never admitted: it connects, is told it
#   is not a member, receives nothing (0 objects) and cannot push;
#   d joins too; after `knoten revoke b` at a, b is disconnected, its new
#   connection is refused with "revoked", and an object b signs afterwards is
#   refused by a and by d (which received the revocation by replication);
#   in a network with k = 2 a join ends as pending (1 of 2 signatures).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"

now_ms() { "$PY" -c 'import time; print(int(time.time() * 1000))'; }

# forge NETWORK-KEY-FILE INVITER-HEX ADDR: a well-formed code with a random secret.
forge() {
    "$PY" - "$@" <<'EOF'
import hashlib, os, struct, sys, time
def mp_bin(b): return bytes([0xc4, len(b)]) + b
def mp_str(s):
    b = s.encode(); return bytes([0xa0 | len(b)]) + b
nk = open(sys.argv[1], "rb").read()
expires = int(time.time() * 1000) + 3600 * 1000
payload = (b"\x96\x01" + mp_bin(nk) + mp_bin(bytes.fromhex(sys.argv[2]))
           + b"\x91" + mp_str(sys.argv[3]) + mp_bin(os.urandom(20))
           + b"\xcf" + struct.pack(">Q", expires))
data = payload + hashlib.blake2b(payload, digest_size=32).digest()[:4]
alpha = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
bits = "".join(f"{x:08b}" for x in data)
bits += "0" * (-len(bits) % 5)
syms = "".join(alpha[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))
print("knoten1-" + "-".join(syms[i:i + 4] for i in range(0, len(syms), 4)))
EOF
}

# signed_line SEED-FILE TITLE: a thread signed with that node key, as a line for `knoten import`.
signed_line() {
    "$PY" - "$1" "$(now_ms)" "$2" <<'EOF'
import base64, json, struct, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
sk = Ed25519PrivateKey.from_private_bytes(open(sys.argv[1], "rb").read())
pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
def s(x):
    b = x.encode(); return bytes([0xa0 | len(b)]) + b
body = b"\x82" + s("body") + s("") + s("title") + s(sys.argv[3])
seven = (b"\x01" + s("thread") + b"\xc4\x20" + pk + b"\xcf" + struct.pack(">Q", int(sys.argv[2]))
         + s("Vergaberecht") + b"\x90" + body)
sig = sk.sign(b"knoten/object/1\x00" + b"\x97" + seven)
print(json.dumps({"raw": base64.b64encode(b"\x98" + seven + b"\xc4\x40" + sig).decode()}))
EOF
}

# join NAME CODE [ARGS...]: `knoten join` into $WORK/NAME; output in $WORK/join-NAME.{out,log}.
join() {
    local name=$1 code=$2
    shift 2
    "$KNOTEN" join "$code" --name "Gemeinde $name" --data "$WORK/$name" "$@" \
        >"$WORK/join-$name.out" 2>"$WORK/join-$name.err"
}
join_err() { cat "$WORK/join-$1.out" "$WORK/join-$1.err"; }
identity_of() { sed -n 's/^node identity: //p' "$WORK/join-$1.out"; }

init_founder a
"$KNOTEN" members --data "$WORK/a" >/dev/null || fail "members at a"
T0=$("$KNOTEN" thread --data "$WORK/a" --space Vergaberecht --title "Vor dem Beitritt" \
    --body "Schon da, bevor b beitritt.") || fail "thread at a"
PA=$(free_port)
start_node a "$PA"
wait_for 10 "a listens" log_has a "listening on 127.0.0.1:$PA"
"$KNOTEN" invite --data "$WORK/a" --address "127.0.0.1:$PA" --note "Gemeinde b" \
    >"$WORK/invite-b.out" 2>/dev/null || fail "invite at a"
CODE=$(grep '^knoten1-' "$WORK/invite-b.out")
nk=$(od -An -tx1 "$WORK/a/network.key" | tr -d ' \n')

# ---- a mistyped code: refused before anything is created or connected ----
i=24
[ "${CODE:$i:1}" = "-" ] && i=25
typo="${CODE:0:$i}U${CODE:$((i + 1))}"
join x "$typo" && fail "a code with an impossible character was accepted"
grep -q "mistyped at character $((i + 1))" "$WORK/join-x.err" || fail "typo message: $(join_err x)"
grep -q "check it against the e-mail" "$WORK/join-x.err" || fail "typo advice: $(join_err x)"
ch=${CODE:$i:1}
if [ "$ch" = "Z" ]; then sub=Y; else sub=Z; fi
join x "${CODE:0:$i}${sub}${CODE:$((i + 1))}" && fail "a mistyped code was accepted"
grep -q "mistyped or incomplete" "$WORK/join-x.err" || fail "checksum message: $(join_err x)"
[ -e "$WORK/x" ] && fail "a data directory was created for a mistyped code"
"$KNOTEN" join "$CODE" --name "$(printf 'Gemeinde M\xfchle')" --data "$WORK/x" >/dev/null 2>"$WORK/join-x.err" &&
    fail "a Latin-1 council name was accepted"
grep -q "not valid UTF-8" "$WORK/join-x.err" || fail "Latin-1 name message: $(join_err x)"
[ -e "$WORK/x" ] && fail "a data directory was created for a Latin-1 name"
sleep 1
log_has a "connected" && fail "a saw a connection for a mistyped code"

# ---- b joins ----
join b "$CODE" --ags 09162000 || fail "join b: $(join_err b)"
ID_b=$(identity_of b)
[[ $ID_b =~ ^[0-9a-f]{64}$ ]] || fail "join printed no identity: $(join_err b)"
grep -q "^Joined" "$WORK/join-b.out" || fail "join b: $(join_err b)"
grep -q "Initial sync: [0-9]* objects" "$WORK/join-b.out" || fail "no sync summary: $(join_err b)"
grep -q "knoten run --data $WORK/b" "$WORK/join-b.out" || fail "no next step: $(join_err b)"
grep -q "initial sync from .* done" "$WORK/join-b.err" || fail "no progress log: $(join_err b)"
has_object b "$T0" || fail "a's thread from before the join is not at b"
"$KNOTEN" members --data "$WORK/a" | grep -q "^${ID_b:0:16} member .*1 of 1 .*Gemeinde b (09162000)" ||
    fail "members at a: $("$KNOTEN" members --data "$WORK/a")"
"$KNOTEN" members --data "$WORK/b" | grep -q "^${ID_b:0:16} member" || fail "members at b"
"$KNOTEN" invite ls --data "$WORK/a" | grep -q "^1 *used *.*${ID_b:0:16}" || fail "invite ls at a"
log_has a "admitted peer 127\.0\.0\.1:[0-9]+ \(${ID_b:0:8}…\) as \"Gemeinde b\" with invite 1" ||
    fail "a's log lacks the admission"
# Neither the network key nor the secret shows up anywhere.
secret_free() { ! grep -qi "$nk" "$@"; }
secret_free "$WORK/join-b.out" "$WORK/join-b.err" "$WORK/a.log" || fail "the network key was printed"

# A second join on an initialised node is refused with advice.
join b "$CODE" && fail "a second join on b's directory succeeded"
grep -q "already holds a knoten node" "$WORK/join-b.err" || fail "second join: $(join_err b)"
grep -q -- "--data NEWDIR" "$WORK/join-b.err" || fail "second join advice: $(join_err b)"

# ---- b runs: both directions replicate ----
PB=$(free_port)
start_node b "$PB"
wait_for 20 "b connects to a" peer_connected b "127.0.0.1:$PA"
TB=$("$KNOTEN" thread --data "$WORK/b" --space Vergaberecht --title "Neu von b" --body "Hallo") ||
    fail "thread at b"
wait_for 15 "b's thread reaches a" has_object a "$TB"
TA=$("$KNOTEN" thread --data "$WORK/a" --space Vergaberecht --title "Nach dem Beitritt" --body "x") ||
    fail "thread at a"
wait_for 15 "a's new thread reaches b" has_object b "$TA"

# ---- the same code again, from c: already used ----
join c "$CODE" && fail "a used code was accepted again"
grep -q "already used" "$WORK/join-c.err" || fail "reuse message: $(join_err c)"
log_has a "refused a join from .*: invite already used" || fail "a's log lacks the reuse refusal"

# ---- an expired code: refused before connecting ----
"$KNOTEN" invite --data "$WORK/a" --expires 1s >"$WORK/invite-e.out" 2>/dev/null || fail "invite 1s"
CODE_E=$(grep '^knoten1-' "$WORK/invite-e.out")
sleep 1.5
join e "$CODE_E" && fail "an expired code was accepted"
grep -q "expired on 20" "$WORK/join-e.err" || fail "expiry message: $(join_err e)"
[ -e "$WORK/e" ] && fail "a data directory was created for an expired code"

# ---- a withdrawn code ----
"$KNOTEN" invite --data "$WORK/a" >"$WORK/invite-w.out" 2>/dev/null || fail "invite w"
CODE_W=$(grep '^knoten1-' "$WORK/invite-w.out")
ID_W=$(sed -n 's/^Invite \([0-9]*\).*/\1/p' "$WORK/invite-w.out")
"$KNOTEN" invite revoke "$ID_W" --data "$WORK/a" >/dev/null || fail "invite revoke"
join w "$CODE_W" && fail "a withdrawn code was accepted"
grep -q "withdrew this invite" "$WORK/join-w.err" || fail "withdrawn message: $(join_err w)"

# ---- a forged code: right format and network key, a secret a never made ----
FORGED=$(forge "$WORK/a/network.key" "$ID_a" "127.0.0.1:$PA")
"$KNOTEN" invite check "$FORGED" >/dev/null || fail "the forged code does not even decode"
join f "$FORGED" && fail "a forged code was accepted"
grep -q "invite unknown" "$WORK/join-f.err" || fail "forged message: $(join_err f)"
log_has a "refused a join from .*: invite unknown" || fail "a's log lacks the forgery refusal"
has_count f 0 || fail "the forger received objects"

# ---- g: the network key, never admitted ----
init_member g
"$KNOTEN" peer add "127.0.0.1:$PA" "$ID_a" --data "$WORK/g" >/dev/null || fail "peer add at g"
PG=$(free_port)
start_node g "$PG"
wait_for 20 "a refuses g's replication" \
    log_has a "\(${ID_g:0:8}…\) sent \"[a-z]+\" but is not a member: refused"
wait_for 10 "g is told why" log_has g "peer said bye: not a member: redeem an invite with \`knoten join\`"
# g does not know the network, so it cannot tell it is no member: it retries
# with the ordinary backoff for about a minute (repl_admit_late), then 5 min.
log_has g "reconnecting in [0-9] s" || fail "g does not retry with the ordinary backoff"
TG=$("$KNOTEN" thread --data "$WORK/g" --space Vergaberecht --title "Von g" --body "x" 2>/dev/null) ||
    fail "thread at g"
sleep 2
has_count g 0 || fail "g, never admitted, received objects"
has_object a "$TG" && fail "g's object reached a"
stop_node g

# ---- d joins (a second member, to see the revocation replicate) ----
"$KNOTEN" invite --data "$WORK/a" >"$WORK/invite-d.out" 2>/dev/null || fail "invite d"
join d "$(grep '^knoten1-' "$WORK/invite-d.out")" || fail "join d: $(join_err d)"
ID_d=$(identity_of d)
PD=$(free_port)
start_node d "$PD"
wait_for 20 "d connects to a" peer_connected d "127.0.0.1:$PA"

# ---- revoke b ----
REV=$("$KNOTEN" revoke "$ID_b" --reason "Test beendet" --data "$WORK/a" | head -1)
[[ $REV =~ ^[0-9a-f]{64}$ ]] || fail "revoke printed $REV"
wait_for 10 "a disconnects b" log_has a "\(${ID_b:0:8}…\) was revoked: disconnecting"
wait_for 10 "b hears it is revoked" log_has b "peer said bye: revoked \(this node's membership was revoked, for good: the council needs a new node, joined with a new invite\); reconnecting in [0-9]{4} s"
wait_for 15 "the revocation reaches d" has_object d "$REV"
"$KNOTEN" members --data "$WORK/d" | grep -q "^${ID_b:0:16} revoked" || fail "members at d"
# A fresh b process dials at once and is refused at the handshake.
stop_node b
start_node b "$PB"
wait_for 20 "a refuses b's new connection" log_has a "\(${ID_b:0:8}…\) refused: revoked"
# What b signs from now on is refused by every node that knows the revocation.
sleep 0.05
signed_line "$WORK/b/identity.key" "Nach dem Widerruf" >"$WORK/late.jsonl"
for n in a d; do
    out=$("$KNOTEN" import "$WORK/late.jsonl" --data "$WORK/$n" 2>&1) &&
        fail "$n accepted b's object signed after the revocation"
    grep -q "refused" <<<"$out" || fail "import at $n: $out"
    "$KNOTEN" ls --data "$WORK/$n" | grep -q "Nach dem Widerruf" && fail "$n stores b's late object"
done
"$KNOTEN" ls --data "$WORK/a" | grep -q "Neu von b" || fail "b's earlier thread should stay at a"

# ---- k = 2 with one founder: min(k, M) = 1, so the founder alone admits the first joiner ----
"$KNOTEN" init --data "$WORK/k2" --found "Zwei" --admit 2 >/dev/null || fail "init k2"
PK=$(free_port)
start_node k2 "$PK"
wait_for 10 "k2 listens" log_has k2 "listening on 127.0.0.1:$PK"
"$KNOTEN" invite --data "$WORK/k2" --address "127.0.0.1:$PK" >"$WORK/invite-p.out" 2>/dev/null ||
    fail "invite at k2"
join p "$(grep '^knoten1-' "$WORK/invite-p.out")" || fail "first join at k = 2: $(join_err p)"
"$KNOTEN" members --data "$WORK/k2" | grep -q " member .*1 of 2" ||
    fail "members at k2: $("$KNOTEN" members --data "$WORK/k2")"
# the second joiner needs two signatures (M = 2): pending (1 of 2)
"$KNOTEN" invite --data "$WORK/k2" --address "127.0.0.1:$PK" >"$WORK/invite-q.out" 2>/dev/null ||
    fail "invite 2 at k2"
join q "$(grep '^knoten1-' "$WORK/invite-q.out")" && fail "a second join with 1 of 2 signatures succeeded"
grep -q "admitted by 1 of 2 signatures" "$WORK/join-q.err" || fail "pending reason: $(join_err q)"
ID_q=$(awk 'prev ~ /identity to other member councils/ { print $1 } { prev = $0 }' "$WORK/join-q.err")
"$KNOTEN" members --data "$WORK/k2" | grep -q "^${ID_q:0:16} pending .*1 of 2" ||
    fail "members at k2: $("$KNOTEN" members --data "$WORK/k2")"

# ---- an unfinished join to another network, continued with a code of a's ----
# The first inviter's address (k2's network, nobody listening) must not stay a peer.
DEAD=$(free_port)
"$KNOTEN" invite --data "$WORK/k2" --address "127.0.0.1:$DEAD" >"$WORK/invite-r1.out" 2>/dev/null ||
    fail "invite r1 at k2"
join r "$(grep '^knoten1-' "$WORK/invite-r1.out")" --timeout 2 && fail "join to a dead inviter succeeded"
"$KNOTEN" invite --data "$WORK/a" --address "127.0.0.1:$PA" >"$WORK/invite-r2.out" 2>/dev/null ||
    fail "invite r2 at a"
join r "$(grep '^knoten1-' "$WORK/invite-r2.out")" || fail "continued join: $(join_err r)"
"$KNOTEN" peer ls --data "$WORK/r" | grep -q "127.0.0.1:$DEAD" &&
    fail "the other network's inviter stayed a peer: $("$KNOTEN" peer ls --data "$WORK/r")"

no_violations a d
stop_node k2
stop_node b
stop_node d
stop_node a
echo "federation_join: ok"
