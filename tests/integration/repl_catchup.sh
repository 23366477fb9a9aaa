# A node that was offline catches up at a cost in proportion to what it
# missed: chain a - b - c (a dials b, c dials b), c stopped while a stores
# 5,000 new objects (`knoten import` while a runs), then restarted. c must
# end with every object, log its catch-up progress, and have received over
# its link to b not much more than the encoded size of what it missed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"
GEN="$BUILD/tools/gen_objects"
[ -x "$GEN" ] || fail "no $GEN (build the gen_objects target)"
N=5000

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
wait_for 20 "c receives the network object and the admits" has_count c "$BASE"
stop_node c

"$GEN" --data "$WORK/a" --count "$N" >"$WORK/batch.jsonl" 2>"$WORK/gen.err" || fail "gen_objects"
missed=$("$PY" -c 'import base64, json, sys
print(sum(len(base64.b64decode(json.loads(l)["raw"])) for l in open(sys.argv[1])))' "$WORK/batch.jsonl")
t0=$SECONDS
"$KNOTEN" import "$WORK/batch.jsonl" --data "$WORK/a" 2>"$WORK/import.err" || fail "import on a"
wait_for 40 "b receives the $N objects from a" has_count b $((N + BASE))
echo "a -> b: $N objects in about $((SECONDS - t0)) s"

start=$(date +%s%N)
start_node c "$PC"
wait_for 40 "c catches up" has_count c $((N + BASE))
ms=$((($(date +%s%N) - start) / 1000000))
[ "$(object_ids a)" = "$(object_ids c)" ] || fail "a and c hold different objects"

# The figures of c's connection to b, once peers.state has them (<= 1 s).
all_in() { (($(sync_field c "127.0.0.1:$PB" objects_in) >= N)); }
wait_for 5 "c's sync status counts the objects" all_in
booked() { (($(sync_field c "127.0.0.1:$PB" last_reconciliation_objects_in) >= N)); }
wait_for 10 "c books the catch-up as one reconciliation" booked
got=$(sync_field c "127.0.0.1:$PB" bytes_in)
objs=$(sync_field c "127.0.0.1:$PB" objects_in)
limit=$((missed * 3 / 2 + 65536))
echo "c caught up with $N objects in ${ms} ms (process start included;" \
    "before the linear want assignment and batched wants: 11,101 ms at 5bd6414)"
echo "c's reconciliation with b: $(sync_field c "127.0.0.1:$PB" last_reconciliation_duration_ms) ms," \
    "$(sync_field c "127.0.0.1:$PB" last_reconciliation_found) objects found missing"
echo "bytes c received from b: $got; encoded size of what it missed: $missed" \
    "(ratio $("$PY" -c "print(round($got / $missed, 3))")); limit 1.5x + 64 KiB = $limit"
echo "obj messages c received: $objs (missed: $N)"
((got <= limit)) || fail "c received $got bytes for $missed bytes of objects"
((objs <= N + N / 10)) || fail "c received $objs objects for $N missed"
"$KNOTEN" sync status --data "$WORK/c"
log_has c "caught up from peer 127\.0\.0\.1:$PB .*: $N objects" || fail "no catch-up summary in c's log"
grep -E "catching up from" "$WORK/c.log" | head -3 || true

no_violations a b c
stop_node a
stop_node b
stop_node c
echo "repl_catchup: ok"
