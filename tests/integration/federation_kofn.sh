#!/usr/bin/env bash
# The admission rule min(k, M) on the command line (issue 5, docs/federation.md
# "k-of-n"): in a network founded with --admit 2 the founder alone admits the
# first council (M = 1); the next one needs two signatures and shows as
# pending (1 of 2) until the second member co-signs on its own node. Objects
# travel between the data directories with `knoten export` / `knoten import`,
# so no network is needed.
set -euo pipefail
knoten=$1
work=$(mktemp -d /tmp/knoten-kofn-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
a="$work/a"
b="$work/b"
c="$work/c"
ident() { awk '/^node identity:/ {print $3}' "$1"; }
state_of() { # DATA KEY: the STATE column of `knoten members`
    "$knoten" members --data "$1" | awk -v k="${2:0:16}" '$1 == k { print $2 }'
}
# Copies every object of one data directory into another, as replication would.
sync_to() {
    "$knoten" export --data "$1" -o "$work/x.jsonl" 2>/dev/null
    "$knoten" import --data "$2" "$work/x.jsonl" >/dev/null 2>&1 || fail "import into $2"
}

"$knoten" init --data "$a" --found "Zwei Unterschriften" --admit 2 >"$work/init-a.out"
A=$(ident "$work/init-a.out")
"$knoten" init --data "$b" --network-key-file "$a/network.key" >"$work/init-b.out"
B=$(ident "$work/init-b.out")
"$knoten" init --data "$c" --network-key-file "$a/network.key" >"$work/init-c.out"
C=$(ident "$work/init-c.out")
[[ $A =~ ^[0-9a-f]{64}$ && $B =~ ^[0-9a-f]{64}$ && $C =~ ^[0-9a-f]{64}$ ]] || fail "identities"

"$knoten" members --data "$a" | grep -q "admitted by 2 member signatures" ||
    fail "members header: $("$knoten" members --data "$a")"

# ---- B: the founder is the only member (M = 1), so its signature suffices ----
"$knoten" admit --data "$a" "$B" --name "Gemeinde B" >"$work/admit-b.out" 2>"$work/admit-b.err" ||
    fail "admit B: $(cat "$work/admit-b.err")"
grep -q "is a member" "$work/admit-b.out" || fail "admit B output: $(cat "$work/admit-b.out")"
[ "$(state_of "$a" "$B")" = member ] || fail "B at a: $("$knoten" members --data "$a")"

# ---- C: now M = 2, one signature leaves it pending (1 of 2) ----
"$knoten" admit --data "$a" "$C" --name "Gemeinde C" >"$work/admit-c.out" 2>"$work/admit-c.err" ||
    fail "admit C: $(cat "$work/admit-c.err")"
grep -q "1 of 2 required signatures" "$work/admit-c.out" ||
    fail "admit C output: $(cat "$work/admit-c.out")"
grep -q "nobody can be admitted" "$work/admit-c.err" && fail "bootstrap warning with 2 members"
"$knoten" members --data "$a" | grep -q "^${C:0:16} pending .*1 of 2" ||
    fail "C at a: $("$knoten" members --data "$a")"
[ "$(state_of "$a" "$C")" = pending ] || fail "C state at a"

# C's own node knows it is not a member yet: it cannot admit anyone.
sync_to "$a" "$c"
out=$("$knoten" admit --data "$c" "$B" --name "Gemeinde B" 2>&1) && fail "pending C admitted: $out"

# ---- B's node learns the roster and co-signs: C is a member everywhere ----
sync_to "$a" "$b"
[ "$(state_of "$b" "$B")" = member ] || fail "B at b: $("$knoten" members --data "$b")"
[ "$(state_of "$b" "$C")" = pending ] || fail "C at b before co-signing"
"$knoten" admit --data "$b" "$C" --name "Gemeinde C" >"$work/admit-c2.out" 2>"$work/admit-c2.err" ||
    fail "admit C at b: $(cat "$work/admit-c2.err")"
grep -q "is a member (2 of 2" "$work/admit-c2.out" ||
    fail "admit C at b output: $(cat "$work/admit-c2.out")"
sync_to "$b" "$a"
sync_to "$b" "$c"
for d in "$a" "$b" "$c"; do
    [ "$(state_of "$d" "$C")" = member ] || fail "C at $d: $("$knoten" members --data "$d")"
    [ "$(state_of "$d" "$B")" = member ] || fail "B at $d"
    "$knoten" members --data "$d" | grep -q "^${C:0:16} member .*2 of 2" || fail "C signatures at $d"
done

# C's own node now sees itself as a member and can publish; the others accept it.
"$knoten" thread --data "$c" --space Corona --title "Von C" --body "Jetzt dabei" >/dev/null 2>&1 ||
    fail "thread at c"
sync_to "$c" "$a"
"$knoten" ls --data "$a" | grep -q "Von C" || fail "C's thread not at a"

echo "federation_kofn: ok"
