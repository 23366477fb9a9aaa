#!/usr/bin/env bash
# Finding each other (issue 5, item 6), with real processes on 127.0.0.1:
#
#   a founds a network and runs with --announce; b, c, d and e are each
#   invited by a (`knoten invite --address` at a, `knoten join` at the new
#   node) and run with --announce 127.0.0.1:PORT, so each publishes a signed
#   addr object that replicates through a; f is invited too but announces
#   nothing (a council behind a firewall: nobody can dial it).
#   Every node knows only a as a configured peer, and fills its target number
#   of connections from the members' addr objects.
#
#   Then a stops: b..e stay connected to each other (each has live
#   connections to at least 2 of the others within a bounded time), f keeps
#   taking part through the connections it dials, `knoten peer ls` marks the
#   announced peers, and a thread created at b still reaches c, d, e and f.
#
#   Pinning: f restarts announcing d's address (a mistake, or a lie). Once f
#   is gone, the others dial that address pinned to f's key, reach d, and
#   refuse it at the handshake; d refuses to dial itself.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"

MESH=(b c d e)

# run_node NAME PORT [ARGS...]: `knoten run` with extra options, like start_node.
run_node() {
    local name=$1 port=$2
    shift 2
    "$KNOTEN" run --data "$WORK/$name" --listen "127.0.0.1:$port" --http off "$@" \
        >>"$WORK/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    printf -v "PID_$name" '%s' "$pid"
}

# invite_join NAME: a invites NAME, NAME joins; ID_<NAME> gets its identity.
invite_join() {
    local name=$1
    "$KNOTEN" invite --data "$WORK/a" --address "127.0.0.1:$PA" --note "Gemeinde $name" \
        >"$WORK/invite-$name.out" 2>/dev/null || fail "invite $name at a"
    "$KNOTEN" join "$(grep '^knoten1-' "$WORK/invite-$name.out")" --name "Gemeinde $name" \
        --data "$WORK/$name" >"$WORK/join-$name.out" 2>"$WORK/join-$name.err" ||
        fail "join $name: $(cat "$WORK/join-$name.out" "$WORK/join-$name.err")"
    printf -v "ID_$name" '%s' "$(sed -n 's/^node identity: //p' "$WORK/join-$name.out")"
}

# live_among NAME N OTHER...: `knoten peer ls` at NAME shows live connections
# to at least N of the OTHER nodes (by identity, whichever side dialled).
live_among() {
    local name=$1 want=$2 out other var got=0
    shift 2
    out=$("$KNOTEN" peer ls --data "$WORK/$name") || return 1
    for other in "$@"; do
        [ "$other" = "$name" ] && continue
        var="ID_$other"
        grep -Eq "^[^ ]+ +connected.* ${!var:0:16} " <<<"$out" && got=$((got + 1))
    done
    ((got >= want))
}

# addr_by NAME AUTHOR: NAME stores an addr object by AUTHOR's key.
addr_by() {
    local var="ID_$2"
    "$KNOTEN" ls --type addr --limit 0 --json --data "$WORK/$1" | grep -q "\"type\":\"addr\",\"author\":\"${!var}\""
}

init_founder a
PA=$(free_port)
run_node a "$PA" --announce "127.0.0.1:$PA"
wait_for 30 "a listens" log_has a "listening on 127.0.0.1:$PA"
wait_for 30 "a publishes its address" log_has a "published this node's addresses \(127\.0\.0\.1:$PA\)"

for n in "${MESH[@]}" f; do
    invite_join "$n"
    [[ $(eval echo "\$ID_$n") =~ ^[0-9a-f]{64}$ ]] || fail "join $n printed no identity"
done
for n in "${MESH[@]}"; do
    port=$(free_port)
    printf -v "P$n" '%s' "$port"
    run_node "$n" "$port" --announce "127.0.0.1:$port"
done
PF=$(free_port)
run_node f "$PF" # behind a firewall: announces nothing
for n in "${MESH[@]}"; do
    wait_for 15 "$n publishes its address" log_has "$n" "published this node's addresses"
done
wait_for 30 "f says it announces nothing" log_has f "announcing no address"
log_has f "published this node's addresses" && fail "f announced an address"

# Every member's address reaches every other member (through a, at first).
for n in "${MESH[@]}" f; do
    for m in "${MESH[@]}"; do
        [ "$n" = "$m" ] || wait_for 20 "$m's addr object reaches $n" addr_by "$n" "$m"
    done
done
for n in "${MESH[@]}"; do
    wait_for 30 "$n connects to the others" live_among "$n" 3 "${MESH[@]}"
done

# ---- a stops: the others stay connected and keep replicating ----
stop_node a
for n in "${MESH[@]}"; do
    wait_for 30 "$n keeps >= 2 connections among b..e without a" live_among "$n" 2 "${MESH[@]}"
done
wait_for 30 "f keeps taking part through its outbound connections" live_among f 1 "${MESH[@]}"
"$KNOTEN" peer ls --data "$WORK/c" | grep -q "connected (announced)" ||
    fail "peer ls at c marks no announced peer: $("$KNOTEN" peer ls --data "$WORK/c")"
"$KNOTEN" peer ls --data "$WORK/c" | grep -q "127.0.0.1:$PF" &&
    fail "c lists f's unannounced listen address"

T=$("$KNOTEN" thread --data "$WORK/b" --space Vergaberecht --title "Ohne a" \
    --body "Erreicht c, d, e und f auch ohne a.") || fail "thread at b"
for n in c d e f; do
    wait_for 30 "b's thread reaches $n without a" has_object "$n" "$T"
done
F=$("$KNOTEN" thread --data "$WORK/f" --space Vergaberecht --title "Von f" --body "x") ||
    fail "thread at f"
for n in "${MESH[@]}"; do
    wait_for 30 "f's thread reaches $n" has_object "$n" "$F"
done

# ---- pinning: a member announcing another node's address ----
stop_node f
run_node f "$PF" --announce "127.0.0.1:$Pd"
wait_for 15 "f publishes the wrong address" log_has f "published this node's addresses \(127\.0\.0\.1:$Pd\)"
addr_id=$("$KNOTEN" ls --author "$ID_f" --limit 0 --json --data "$WORK/f" |
    "$PY" -c 'import json, sys
print(next(o["id"] for o in map(json.loads, sys.stdin) if o["type"] == "addr"))') ||
    fail "no addr object at f"
for n in b c e; do
    wait_for 20 "f's new addr object reaches $n" has_object "$n" "$addr_id"
done
stop_node f
wait_for 30 "a node dialling f's announced address refuses d there" \
    grep -Eq "\(${ID_d:0:8}…\).*its identity is not the key of the member that announced this address" \
    "$WORK/b.log" "$WORK/c.log" "$WORK/e.log"
# ... and d has never been taken for f.
for n in b c e; do
    ! log_has "$n" "127\.0\.0\.1:$Pd \(${ID_f:0:8}…\) connected" || fail "$n took d for f"
done

no_violations "${MESH[@]}"
for n in "${MESH[@]}"; do
    stop_node "$n"
done
echo "federation_mesh: ok"
