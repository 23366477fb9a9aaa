#!/usr/bin/env bash
# Federation on the command line (issue 5, phase 1): founding with an
# admission rule, invites (create, list, withdraw, check: mistyped, expired,
# withdrawn), admit and members, the k = 2 bootstrap warning, staff users
# (add, ls, revoke) with a revoked user's later objects refused, and node
# revocation. No network: `knoten join` is phase 2. User-signed objects and
# an expired code are made by an independent Python writer of the formats.
set -euo pipefail
knoten=$1
work=$(mktemp -d /tmp/knoten-fed-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
a="$work/a"
b="$work/b"
c="$work/c"

"$knoten" init --data "$a" --found "Kommunen Test" --admit 1 >"$work/init.out" 2>"$work/init.err"
A=$(awk '/^node identity:/ {print $3}' "$work/init.out")
[[ $A =~ ^[0-9a-f]{64}$ ]] || fail "no identity in init output"
# The founding council has no name until it admits itself with one: init says how.
grep -q "knoten admit $A --name" "$work/init.err" || fail "init does not say how to name the council: $(cat "$work/init.err")"
"$knoten" init --data "$b" --network-key-file "$a/network.key" >"$work/initb.out"
B=$(awk '/^node identity:/ {print $3}' "$work/initb.out")
"$knoten" init --data "$c" --network-key-file "$a/network.key" >"$work/initc.out"
C=$(awk '/^node identity:/ {print $3}' "$work/initc.out")

# ---- members: the founder alone ----
"$knoten" members --data "$a" >"$work/m0.out"
grep -q 'admitted by 1 member signature' "$work/m0.out" || fail "members header: $(cat "$work/m0.out")"
grep -q "^${A:0:16} founder" "$work/m0.out" || fail "founder missing: $(cat "$work/m0.out")"

# ---- invites ----
out=$("$knoten" invite --data "$a" 2>&1) && fail "invite without an address succeeded"
grep -q -- "--address HOST:PORT" <<<"$out" || fail "invite without address message: $out"
out=$("$knoten" invite --data "$a" --address nonsense 2>&1) && fail "bad address accepted"
grep -q "is not HOST:PORT" <<<"$out" || fail "bad address message: $out"
out=$("$knoten" invite --data "$a" --address 127.0.0.1:8471 --expires 100d 2>&1) && fail "100d accepted"
grep -q "at most 90 days" <<<"$out" || fail "expires message: $out"

"$knoten" invite --data "$a" --address 127.0.0.1:8471 --note "Gemeinde B" >"$work/inv1.out" 2>"$work/inv1.err"
# a is not running: the note says so, or the code would wait for a node nobody starts.
grep -q "it is NOT running now; start it" "$work/inv1.err" || fail "invite while stopped: $(cat "$work/inv1.err")"
code1=$(grep '^knoten1-' "$work/inv1.out")
[ -n "$code1" ] || fail "no code printed"
grep -q "knoten join CODE" "$work/inv1.out" || fail "no explanation for the e-mail"
# The network key never appears in clear, neither as hex nor anywhere in the output.
nk=$(od -An -tx1 "$a/network.key" | tr -d ' \n')
grep -qi "$nk" "$work/inv1.out" && fail "network key printed"
# The address is remembered for the next invite.
"$knoten" invite --data "$a" --expires 2h >"$work/inv2.out" 2>/dev/null
code2=$(grep '^knoten1-' "$work/inv2.out")
"$knoten" invite ls --data "$a" >"$work/ls.out"
grep -q "^1 *open .*Gemeinde B" "$work/ls.out" || fail "invite ls: $(cat "$work/ls.out")"
grep -q "^2 *open" "$work/ls.out" || fail "invite ls 2: $(cat "$work/ls.out")"

# check: a valid code, e-mail mangling tolerated
"$knoten" invite check --data "$a" "$code1" >"$work/check.out" || fail "valid code refused"
grep -q "inviting node: $A" "$work/check.out" || fail "check lacks the inviter"
grep -q "address: *127.0.0.1:8471" "$work/check.out" || fail "check lacks the address"
grep -q "invite 1, open" "$work/check.out" || fail "check lacks the local state"
grep -qi "$nk" "$work/check.out" && fail "check printed the network key"
mangled=$(tr 'A-Z' 'a-z' <<<"$code1" | fold -w 30 | sed 's/^/> /')
printf '%s\n' "$mangled" | "$knoten" invite check --data "$a" - >/dev/null \
    || fail "lower-case, wrapped, quoted code refused"

# mistyped: one character changed, one character impossible, truncated
i=20
ch=${code1:$i:1}
[ "$ch" = "-" ] && i=21 && ch=${code1:$i:1}
if [ "$ch" = "Z" ]; then sub=Y; else sub=Z; fi
typo="${code1:0:$i}${sub}${code1:$((i + 1))}"
out=$("$knoten" invite check --data "$a" "$typo" 2>&1) && fail "mistyped code accepted"
grep -q "mistyped" <<<"$out" || fail "mistyped message: $out"
out=$("$knoten" invite check --data "$a" "${code1:0:$i}U${code1:$((i + 1))}" 2>&1) && fail "U accepted"
grep -q "'U' (character $((i + 1)))" <<<"$out" || fail "bad character message: $out"
out=$("$knoten" invite check --data "$a" "${code1:0:60}" 2>&1) && fail "truncated code accepted"
grep -q "incomplete" <<<"$out" || fail "truncated message: $out"
out=$("$knoten" invite check --data "$a" "hello world" 2>&1) && fail "garbage accepted"
grep -q "not an invite code" <<<"$out" || fail "garbage message: $out"
grep -qi "$nk" <<<"$out" && fail "error printed the network key"

# expired: a code written by an independent encoder with an expiry in the past
expired=$(/usr/bin/python3 - "$A" <<'EOF'
import hashlib, struct, sys
def mp_bin(b): return bytes([0xc4, len(b)]) + b
def mp_str(s):
    b = s.encode(); return bytes([0xa0 | len(b)]) + b
def mp_uint(v):
    if v < 128: return bytes([v])
    return b"\xcf" + struct.pack(">Q", v)
payload = (b"\x96" + mp_uint(1) + mp_bin(bytes(32)) + mp_bin(bytes.fromhex(sys.argv[1]))
           + b"\x91" + mp_str("127.0.0.1:8471") + mp_bin(bytes(range(16)))
           + mp_uint(1600000000000))
data = payload + hashlib.blake2b(payload, digest_size=32).digest()[:4]
alpha = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
bits = "".join(f"{x:08b}" for x in data)
bits += "0" * (-len(bits) % 5)
syms = "".join(alpha[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))
print("knoten1-" + "-".join(syms[i:i + 4] for i in range(0, len(syms), 4)))
EOF
)
out=$("$knoten" invite check --data "$a" "$expired" 2>&1) && fail "expired code accepted"
grep -q "expired on 2020-09-13" <<<"$out" || fail "expired message: $out"

# withdraw an invite; its code is then refused by the node that made it
"$knoten" invite revoke --data "$a" 2 | grep -q "withdrawn" || fail "invite revoke"
out=$("$knoten" invite revoke --data "$a" 2 2>&1) && fail "second withdraw succeeded"
grep -q "already used or withdrawn" <<<"$out" || fail "second withdraw message: $out"
out=$("$knoten" invite revoke --data "$a" 99 2>&1) && fail "withdraw of unknown invite succeeded"
out=$("$knoten" invite check --data "$a" "$code2" 2>&1) && fail "withdrawn code accepted"
grep -q "withdrawn on this node" <<<"$out" || fail "withdrawn check message: $out"
grep -qi "valid" <<<"$out" && fail "a withdrawn code is called valid: $out"
"$knoten" invite ls --data "$a" | grep -q "^2 *withdrawn" || fail "ls after withdraw"
"$knoten" invite ls --data "$a" --json | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert [r["state"] for r in rows] == ["open", "withdrawn"], rows
assert rows[0]["note"] == "Gemeinde B"' || fail "invite ls --json"

# A node that is not a member cannot invite or admit.
out=$("$knoten" invite --data "$b" --address 127.0.0.1:1 2>&1) && fail "non-member invited"
grep -q "does not know its network\|not a member" <<<"$out" || fail "non-member invite message: $out"

# ---- admit, members ----
out=$("$knoten" admit --data "$a" "$B" 2>&1) && fail "admit without --name"
grep -q -- "--name is required" <<<"$out" || fail "admit --name message: $out"
out=$("$knoten" admit --data "$a" "$B" --name X --ags 123 2>&1) && fail "bad ags accepted"
"$knoten" admit --data "$a" "$B" --name "Gemeinde B" --ags 09162000 >"$work/admit.out"
grep -q "Gemeinde B is a member (1 of 1" "$work/admit.out" || fail "admit: $(cat "$work/admit.out")"
"$knoten" admit --data "$a" "$C" --name "Gemeinde C" >/dev/null
"$knoten" members --data "$a" >"$work/m1.out"
grep -q "^${B:0:16} member .*1 of 1 .*Gemeinde B (09162000)" "$work/m1.out" \
    || fail "members after admit: $(cat "$work/m1.out")"
"$knoten" members --data "$a" --json | /usr/bin/python3 -c '
import json, sys
rows = {r["name"]: r for r in map(json.loads, sys.stdin)}
assert rows["Gemeinde B"]["state"] == "member" and rows["Gemeinde B"]["ags"] == "09162000", rows
assert rows["(founder)"]["founder"] is True, rows' || fail "members --json"
"$knoten" admit --data "$a" "$A" --name "Stadt A" | grep -q "Stadt A is the founder; this names it" ||
    fail "admit of the founder itself"
"$knoten" members --data "$a" | grep -q "^${A:0:16} founder .* Stadt A$" || fail "the founder's name in members"

# ---- staff users ----
out=$("$knoten" user add --data "$a" --name "Erika Muster" 2>&1) && fail "user without role"
grep -q -- "--role is required" <<<"$out" || fail "user --role message: $out"
out=$("$knoten" user add --data "$a" --name "$(printf 'M\xfcller')" --role Amt 2>&1) && fail "Latin-1 user name"
grep -q "not valid UTF-8.*iconv" <<<"$out" || fail "Latin-1 user name message: $out"
U=$("$knoten" user add --data "$a" --name "Erika Muster" --role Personalamt \
    --expertise "vergabe, tvoed" --lang de,en 2>"$work/user-add.err")
[[ $U =~ ^[0-9a-f]{64}$ ]] || fail "user add printed $U"
# Made without --login: the hint names the command that gives this user one (not
# a second `user add`, which would make a second "Erika Muster"), and it works.
grep -q "knoten user login $U --login LOGIN" "$work/user-add.err" ||
    fail "user add hint: $(cat "$work/user-add.err")"
"$knoten" user login --data "$a" "Erika Muster" --login erika --password-stdin <<<"geheim-genug" \
    >/dev/null 2>&1 || fail "user login"
"$knoten" user logins --data "$a" | grep -q "^erika  *staff  *$U active" || fail "user logins after user login"
# A login whose user key is gone is not "active": it cannot sign in.
mv "$a/users/$U.key" "$work/U.key"
"$knoten" user logins --data "$a" | grep -q "^erika .* cannot sign in" || fail "logins without the user key"
mv "$work/U.key" "$a/users/$U.key"
out=$("$knoten" user login --data "$a" "$U" --login erika2 --activate 2>&1) && fail "second login for a user"
grep -q 'has the web login "erika" already' <<<"$out" || fail "second user login: $out"
out=$("$knoten" user login --data "$a" "Niemand" --login x --activate 2>&1) && fail "login for nobody"
[ "$("$knoten" user ls --data "$a" | grep -c "Erika Muster")" = 1 ] || fail "a second Erika Muster"
[ "$(stat -c %a "$a/users/$U.key")" = 600 ] || fail "user key is not 0600"
[ "$(stat -c %a "$a/users")" = 700 ] || fail "users directory is not 0700"
"$knoten" user ls --data "$a" >"$work/users.out"
grep -q "^${U:0:16} active *Erika Muster *Personalamt *vergabe,tvoed *de,en *yes" "$work/users.out" \
    || fail "user ls: $(cat "$work/users.out")"
cp "$a/users/$U.key" "$work/user.seed"

# Objects signed by the user, written by an independent encoder and imported.
sign() { # sign CREATED_MS TITLE -> a JSON line for `knoten import`
    /usr/bin/python3 - "$work/user.seed" "$1" "$2" <<'EOF'
import base64, json, struct, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
seed = open(sys.argv[1], "rb").read()
sk = Ed25519PrivateKey.from_private_bytes(seed)
pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
def s(x):
    b = x.encode(); return bytes([0xa0 | len(b)]) + b
body = b"\x82" + s("body") + s("") + s("title") + s(sys.argv[3])
seven = (b"\x01" + s("thread") + b"\xc4\x20" + pk + b"\xcf" + struct.pack(">Q", int(sys.argv[2]))
         + s("Vergaberecht") + b"\x90" + body)
sig = sk.sign(b"knoten/object/1\x00" + b"\x97" + seven)
raw = b"\x98" + seven + b"\xc4\x40" + sig
print(json.dumps({"raw": base64.b64encode(raw).decode()}))
EOF
}
now_ms() { /usr/bin/python3 -c 'import time; print(int(time.time() * 1000))'; }
before=$(now_ms)
sign "$before" "Vor dem Widerruf" | "$knoten" import --data "$a" >/dev/null 2>&1 \
    || fail "the user's object was refused while the certificate stands"
"$knoten" ls --data "$a" --author "$U" | grep -q . || fail "ls --author lacks the user's thread"
sleep 0.05
"$knoten" user revoke --data "$a" "Erika Muster" --reason "left the council" >/dev/null 2>&1 \
    || fail "user revoke"
[ -e "$a/users/$U.key" ] && fail "user key file kept after revoke"
"$knoten" user ls --data "$a" | grep -q "^${U:0:16} revoked .* no$" || fail "user ls after revoke"
sleep 0.05
out=$(sign "$(now_ms)" "Nach dem Widerruf" | "$knoten" import --data "$a" 2>&1) \
    && fail "a revoked user's later object was accepted"
grep -q "refused" <<<"$out" || fail "import message: $out"
"$knoten" ls --data "$a" --author "$U" | grep -q "Vor dem Widerruf" || fail "the earlier object should stay"
"$knoten" ls --data "$a" --author "$U" | grep -q "Nach dem Widerruf" && fail "the later object was stored"
out=$("$knoten" user revoke --data "$a" "Niemand" 2>&1) && fail "revoking an unknown user"
grep -q "no user \"Niemand\"" <<<"$out" || fail "unknown user message: $out"

# ---- revoking a node ----
out=$("$knoten" revoke --data "$a" "$C" 2>&1) && fail "revoke without reason"
grep -q -- "--reason is required" <<<"$out" || fail "revoke reason message: $out"
out=$("$knoten" revoke --data "$a" "$A" --reason x 2>&1) && fail "self-revoke without --force"
grep -q -- "--force" <<<"$out" || fail "self-revoke message: $out"
"$knoten" revoke --data "$a" "$C" --reason "Test beendet" >/dev/null
"$knoten" members --data "$a" | grep -q "^${C:0:16} revoked .*Gemeinde C" || fail "members after revoke"
out=$("$knoten" admit --data "$a" "$C" --name "Gemeinde C" 2>&1) && fail "admitted a revoked node"
n=$("$knoten" ls --data "$a" --type revoke --limit 0 | wc -l)
out=$("$knoten" revoke --data "$a" "$C" --reason "noch einmal" 2>&1) && fail "revoked a revoked node again"
grep -q "already revoked" <<<"$out" || fail "second revoke message: $out"
[ "$("$knoten" ls --data "$a" --type revoke --limit 0 | wc -l)" = "$n" ] || fail "second revoke published"
grep -q "revocation is final" <<<"$out" || fail "re-admit message: $out"

# ---- k = 2 with one founder: min(k, M) = 1, so the founder alone admits B ----
k2="$work/k2"
"$knoten" init --data "$k2" --found "Zwei" --admit 2 >/dev/null
"$knoten" admit --data "$k2" "$B" --name "Gemeinde B" >"$work/k2.out" 2>"$work/k2.err"
grep -q "is a member" "$work/k2.out" || fail "k=2 admit: $(cat "$work/k2.out")"
"$knoten" admit --data "$k2" "$C" --name "Gemeinde C" >"$work/k2c.out" 2>"$work/k2c.err"
grep -q "1 of 2 required signatures" "$work/k2c.out" || fail "k=2 admit C: $(cat "$work/k2c.out")"
"$knoten" members --data "$k2" | grep -q "^${C:0:16} pending .*1 of 2" || fail "k=2 members"

echo "federation_cli: ok"
