# Replication over a chain of real processes: a - b - c.
#
# a founds the network, b and c take its network key and a admits them; a dials b and
# c dials b, so a and c never talk to each other. A thread published at a
# (by `knoten thread` in another process, while a runs) and a reply to it
# reach c through b; `knoten sync status` at c shows what came from b.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"

init_founder a
init_admitted b
init_admitted c
BASE=$(object_count a) # the network object and the two admits
PA=$(free_port)
PB=$(free_port)
PC=$(free_port)
"$KNOTEN" peer add "127.0.0.1:$PB" --data "$WORK/a" >/dev/null || fail "peer add on a"
"$KNOTEN" peer add "127.0.0.1:$PB" --data "$WORK/c" >/dev/null || fail "peer add on c"

start_node a "$PA"
start_node b "$PB"
start_node c "$PC"
wait_for 20 "a connects to b" peer_connected a "127.0.0.1:$PB"
wait_for 20 "c connects to b" peer_connected c "127.0.0.1:$PB"
# a's network object and admits reach c by anti-entropy on connect.
wait_for 20 "c receives the network object and the admits" has_count c "$BASE"

start=$(date +%s%N)
T=$("$KNOTEN" thread --data "$WORK/a" --space Vergaberecht \
    --title "Schwellenwerte 2026: wer hat schon umgestellt?" --body "Bitte um Erfahrungen.") ||
    fail "knoten thread on a"
wait_for 10 "the thread reaches c" has_object c "$T"
ms=$((($(date +%s%N) - start) / 1000000))
echo "thread from a to c in ${ms} ms (includes a's local poll, at most 250 ms)"
"$KNOTEN" ls --data "$WORK/c" | grep -q "Schwellenwerte 2026" || fail "knoten ls on c lacks the thread"

P=$("$KNOTEN" post "$T" --data "$WORK/a" --body "Wir seit Januar.") || fail "knoten post on a"
wait_for 10 "the reply reaches c" has_object c "$P"
has_object b "$P" || fail "b relayed the reply but does not store it"
[ "$(object_ids a)" = "$(object_ids c)" ] || fail "a and c hold different objects"

# c's view of its link to b: objects came in, a reconciliation happened.
"$KNOTEN" sync status --data "$WORK/c" >"$WORK/sync-c.out" || fail "knoten sync status"
cat "$WORK/sync-c.out"
grep -q "127.0.0.1:$PB" "$WORK/sync-c.out" || fail "sync status lacks b"
# peers.state is rewritten at most once a second.
three_in() { (($(sync_field c "127.0.0.1:$PB" objects_in) >= 3)); }
wait_for 5 "c counts 3 objects from b" three_in
recon_booked() { [ "$(sync_field c "127.0.0.1:$PB" last_reconciliation_ms)" -gt 0 ]; }
wait_for 5 "c books the reconciliation with b" recon_booked

no_violations a b c
stop_node a
stop_node b
stop_node c
echo "repl_chain: ok"
