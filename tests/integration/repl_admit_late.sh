# A member refused as "not a member" by a peer that has not yet received its
# admit tries again soon, and gets in once that peer has learnt the admit from
# another link (the race repl_mesh once lost: the refused node waited 5 min).
#
# a founds the network and admits b; b learns the roster from a, a stops.
# a then admits c (offline). c dials only b: b knows the network but not c's
# admit, so it refuses c. a comes back, b dials it and learns c's admit; c's
# next attempt gets in and c catches up, long before 5 minutes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"

init_founder a
init_admitted b
PA=$(free_port)
PB=$(free_port)
PC=$(free_port)
"$KNOTEN" peer add "127.0.0.1:$PA" --data "$WORK/b" >/dev/null || fail "peer add on b"
start_node a "$PA"
start_node b "$PB"
wait_for 20 "b receives the network object and its admit" has_count b "$(object_count a)"
stop_node a

init_member c
"$KNOTEN" admit "$ID_c" --name "Gemeinde c" --data "$WORK/a" >"$WORK/admit-c.out" 2>&1 ||
    fail "knoten admit c at a failed"
T=$("$KNOTEN" thread --data "$WORK/a" --space Test --title "Nach der Aufnahme") ||
    fail "knoten thread on a"
"$KNOTEN" peer add "127.0.0.1:$PB" --data "$WORK/c" >/dev/null || fail "peer add on c"
start_node c "$PC"
wait_for 20 "b refuses c as not a member" log_has c "peer said bye: not a member"
log_has b "is not a member: refused" || fail "b did not log the refusal"

start_node a "$PA" # b dials a again (backoff) and learns c's admit
wait_for 40 "c gets in at b and receives the thread" has_object c "$T"
grep "not a member" "$WORK/c.log" | head -3
if grep -q "reconnecting in 300 s" "$WORK/c.log"; then
    fail "c, a member by its own roster, waited 5 minutes after the refusal"
fi
stop_node c
stop_node b
stop_node a
echo "repl_admit_late: ok"
