# Ten `knoten run` processes in a random connected graph (seeded: set
# KN_SEED to replay one) converge to the same set of objects: some the
# founder held before the others started (anti-entropy on connect), some it
# stored while running, one by one (`knoten thread`) and in bulk
# (`knoten import`), which travel by push.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"
GEN="$BUILD/tools/gen_objects"
SEED=${KN_SEED:-$(date +%s)}
RANDOM=$SEED
N=10
echo "seed $SEED (KN_SEED=$SEED replays this graph)"
fail_seed() { fail "$* (seed $SEED)"; }

init_founder n0
for ((i = 1; i < N; i++)); do init_admitted "n$i"; done
BASE=$(object_count n0) # the network object and the admits
for ((i = 0; i < N; i++)); do printf -v "P$i" '%s' "$(free_port)"; done
port() { local v="P$1"; echo "${!v}"; }

# A random tree (each node dials an earlier one) plus N/2 random extra links.
declare -A EDGE=()
add_edge() { # add_edge FROM TO: FROM dials TO
    local a=$1 b=$2
    [ "$a" != "$b" ] && [ -z "${EDGE[$a,$b]:-}" ] && [ -z "${EDGE[$b,$a]:-}" ] || return 0
    EDGE[$a,$b]=1
    "$KNOTEN" peer add "127.0.0.1:$(port "$b")" --data "$WORK/n$a" >/dev/null || fail_seed "peer add"
}
for ((i = 1; i < N; i++)); do add_edge "$i" $((RANDOM % i)); done
for ((k = 0; k < N / 2; k++)); do add_edge $((RANDOM % N)) $((RANDOM % N)); done
echo "links: ${!EDGE[*]}"

# Objects n0 holds before anyone runs.
"$GEN" --data "$WORK/n0" --count 200 --space Vorher >"$WORK/before.jsonl" 2>/dev/null || fail_seed "gen"
"$KNOTEN" import "$WORK/before.jsonl" --data "$WORK/n0" 2>/dev/null || fail_seed "import before"

for ((i = 0; i < N; i++)); do start_node "n$i" "$(port "$i")"; done
wait_for 30 "every node has the first $((200 + BASE)) objects" \
    bash -c "for i in \$(seq 0 $((N - 1))); do [ \"\$(\"$KNOTEN\" status --json --data \"$WORK/n\$i\" |
        \"$PY\" -c 'import json,sys; print(json.load(sys.stdin)[\"store\"][\"objects\"])')\" = $((200 + BASE)) ] || exit 1; done"

# Objects stored at n0 while everything runs.
for ((k = 0; k < 5; k++)); do
    "$KNOTEN" thread --data "$WORK/n0" --space Corona --title "Frage $k" >/dev/null ||
        fail_seed "knoten thread"
done
"$GEN" --data "$WORK/n0" --count 300 --space Nachher >"$WORK/after.jsonl" 2>/dev/null || fail_seed "gen"
"$KNOTEN" import "$WORK/after.jsonl" --data "$WORK/n0" 2>/dev/null || fail_seed "import while running"
total=$((505 + BASE))
t0=$SECONDS
for ((i = 0; i < N; i++)); do
    wait_for 30 "n$i has all $total objects (seed $SEED)" has_count "n$i" "$total"
done
echo "all $N nodes hold $total objects, $((SECONDS - t0)) s after the last import"
object_ids n0 >"$WORK/ids0"
for ((i = 1; i < N; i++)); do
    object_ids "n$i" | cmp -s - "$WORK/ids0" || fail_seed "n$i holds a different set of objects"
done
no_violations $(for ((i = 0; i < N; i++)); do echo "n$i"; done)
for ((i = 0; i < N; i++)); do stop_node "n$i"; done
echo "repl_mesh: ok"
