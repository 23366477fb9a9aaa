#!/usr/bin/env bash
# The README section "A federation of councils", command by command, with real
# processes on 127.0.0.1 (issue 5, "Done when"): a founds a network, invites a
# second node on the same machine, which joins with its initial sync; a adds a
# member of staff; a third node joins and is revoked. After every step its
# effect is checked in `knoten members` and `knoten ls` on both nodes.
#
# Keep this in step with README.md: the commands below are the README's, in
# its order, with only these substitutions: /tmp/fed is $D (the scratch
# directory), the ports 9481/9482 are free ports $PA/$PB, `knoten` is
# $KNOTEN, output the README leaves on the terminal goes to files here, and
# the README's `kill %1 %2` is stop_node. Lines marked "check" are not in the
# README: they are the test's assertions.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"

D=$WORK
PA=$(free_port)
PB=$(free_port)

members() { "$KNOTEN" members --data "$D/$1"; }
# ls_has NAME TYPE [PATTERN]: `knoten ls` at NAME lists an object of TYPE (matching PATTERN).
ls_has() { "$KNOTEN" ls --limit 0 --data "$D/$1" | grep -E "^[0-9a-f]{16}  $2 " | grep -q -- "${3:-}"; }
ls_count() { "$KNOTEN" ls --limit 0 --type "$2" --data "$D/$1" | grep -cE "^[0-9a-f]{16}  $2 " || true; }
members_has() { members "$1" | grep -Eq -- "$2"; }
# background NAME COMMAND...: a `knoten run` of the README, tracked for stop_node.
background() {
    local name=$1
    shift
    "$@" &
    PIDS+=("$!")
    printf -v "PID_$name" '%s' "$!"
}

# ---- mkdir; init --found ----
mkdir -p "$D"
"$KNOTEN" init --data "$D/a" --found "Kommunen Südwest" >"$D/init-a.out" || fail "init --found"
A=$(sed -n 's/^node identity: //p' "$D/init-a.out")
members_has a "^${A:0:16} founder " || fail "check: members at a: $(members a)"
ls_has a network "Kommunen Südwest" || fail "check: ls at a lacks the network object"

# ---- thread ----
"$KNOTEN" thread --data "$D/a" --space Vergaberecht --title "Nachweise bei Vergaben?" --body "Wie handhaben Sie das?" >/dev/null ||
    fail "thread at a"
ls_has a thread "Nachweise bei Vergaben" || fail "check: ls at a lacks the thread"

# ---- run a ----
# Tests run side by side, so no node of a test takes the fixed web port 127.0.0.1:8470.
background a "$KNOTEN" run --data "$D/a" --listen "127.0.0.1:$PA" --announce "127.0.0.1:$PA" --http off 2>"$D/a.log"
wait_for 10 "check: a listens" log_has a "listening on 127\.0\.0\.1:$PA"
wait_for 10 "check: a publishes its address" \
    log_has a "published this node's addresses \(127\.0\.0\.1:$PA\)"
ls_has a addr || fail "check: ls at a lacks a's addr object"

# ---- members ----
members a >"$D/members-a.out" || fail "members at a"
grep -q "^${A:0:16} founder " "$D/members-a.out" || fail "check: members at a"

# ---- invite b; join b ----
"$KNOTEN" invite --data "$D/a" --address "127.0.0.1:$PA" --note "Gemeinde B" >"$D/invite-b.txt" 2>/dev/null ||
    fail "invite b"
grep -q '^knoten1-' "$D/invite-b.txt" || fail "check: no code in invite-b.txt"
"$KNOTEN" join "$(grep '^knoten1-' "$D/invite-b.txt")" --data "$D/b" --name "Gemeinde B" --ags 08115003 \
    >"$D/join-b.out" 2>"$D/join-b.err" || fail "join b: $(cat "$D/join-b.out" "$D/join-b.err")"
B=$(sed -n 's/^node identity: //p' "$D/join-b.out")
grep -q "^Joined" "$D/join-b.out" || fail "check: join b: $(cat "$D/join-b.out")"
grep -Eq "Initial sync: [0-9]+ objects" "$D/join-b.out" || fail "check: no sync summary at b"
grep -q "initial sync from .* done" "$D/join-b.err" || fail "check: no sync progress: $(cat "$D/join-b.err")"
# join runs a node without listeners: no web interface on the default 127.0.0.1:8470.
! grep -q "web interface" "$D/join-b.err" || fail "check: join started a web interface: $(cat "$D/join-b.err")"
for n in a b; do
    members_has "$n" "^${B:0:16} member .*1 of 1 .*Gemeinde B \(08115003\)" ||
        fail "check: members at $n: $(members "$n")"
    members_has "$n" "^${A:0:16} founder " || fail "check: members at $n lacks a"
    ls_has "$n" admit || fail "check: ls at $n lacks b's admit"
done
ls_has b thread "Nachweise bei Vergaben" || fail "check: a's thread did not reach b"

# ---- run b ----
background b "$KNOTEN" run --data "$D/b" --listen "127.0.0.1:$PB" --announce "127.0.0.1:$PB" --http off 2>"$D/b.log"
wait_for 20 "check: b connects to a" peer_connected b "127.0.0.1:$PA"
wait_for 10 "check: b publishes its address" log_has b "published this node's addresses"
# a has no configured peers, yet b is connected: peer ls at a lists b and does not
# claim there are no peers.
wait_for 10 "check: peer ls at a lists b" eval '"$KNOTEN" peer ls --data "$D/a" | grep -q "^127.0.0.1:[0-9]* *connected"'
"$KNOTEN" peer ls --data "$D/a" | grep -q "add one with" &&
    fail "check: peer ls at a says no peers while b is connected: $("$KNOTEN" peer ls --data "$D/a")"

# ---- members at b; ls at b ----
members b >"$D/members-b.out" || fail "members at b"
grep -q "^${B:0:16} member " "$D/members-b.out" || fail "check: members at b"
"$KNOTEN" ls --data "$D/b" >"$D/ls-b.out" || fail "ls at b"
grep -q "Nachweise bei Vergaben" "$D/ls-b.out" || fail "check: ls at b"
for n in a b; do
    wait_for 15 "check: both addr objects at $n" test "$(ls_count "$n" addr)" = 2
done

# ---- user add at a; user ls --all at b ----
U=$("$KNOTEN" user add --data "$D/a" --name "Erika Muster" --role Personalamt --expertise vergabe --lang de,en 2>/dev/null) ||
    fail "user add at a"
[[ $U =~ ^[0-9a-f]{64}$ ]] || fail "check: user add printed $U"
wait_for 15 "check: the user certificate reaches b" ls_has b user "Erika Muster"
"$KNOTEN" user ls --all --data "$D/b" >"$D/users-b.out" || fail "user ls at b"
grep -q "^${U:0:16} active .*Erika Muster .*Personalamt" "$D/users-b.out" ||
    fail "check: user ls at b: $(cat "$D/users-b.out")"
ls_has a user "Erika Muster" || fail "check: ls at a lacks the user"
for n in a b; do
    members_has "$n" "^${U:0:16}" && fail "check: members at $n lists the staff user as a council"
done

# ---- invite c (the announced address); join c ----
"$KNOTEN" invite --data "$D/a" --note "Gemeinde C" >"$D/invite-c.txt" 2>/dev/null || fail "invite c"
"$KNOTEN" join "$(grep '^knoten1-' "$D/invite-c.txt")" --data "$D/c" --name "Gemeinde C" \
    >"$D/join-c.out" 2>"$D/join-c.err" || fail "join c: $(cat "$D/join-c.out" "$D/join-c.err")"
for n in a b; do
    wait_for 15 "check: c is a member at $n" members_has "$n" " member .*Gemeinde C"
done

# ---- status at c; revoke c at a ----
C=$("$KNOTEN" status --data "$D/c" | awk '$1 == "identity" { print $2 }')
[[ $C =~ ^[0-9a-f]{64}$ ]] || fail "check: status at c gave identity '$C'"
members_has a "^${C:0:16} member .*Gemeinde C" || fail "check: members at a: $(members a)"
"$KNOTEN" revoke "$C" --data "$D/a" --reason "Testknoten abgebaut" >"$D/revoke-c.out" 2>&1 ||
    fail "revoke c: $(cat "$D/revoke-c.out")"

# ---- members at b; ls --type revoke at b ----
for n in a b; do
    wait_for 15 "check: c is revoked at $n" members_has "$n" "^${C:0:16} revoked .*Gemeinde C"
    wait_for 15 "check: ls --type revoke at $n" test "$(ls_count "$n" revoke)" = 1
    members_has "$n" "^${B:0:16} member " || fail "check: b is no longer a member at $n"
done
"$KNOTEN" ls --type revoke --data "$D/b" >/dev/null || fail "ls --type revoke at b"

# ---- kill %1 %2 ----
no_violations a b
stop_node b
stop_node a
echo "federation_walkthrough: ok"
