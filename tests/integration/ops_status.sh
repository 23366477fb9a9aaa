#!/usr/bin/env bash
# `knoten status` and `knoten status --json` while two nodes run and after
# they stop: identity, network and membership, the node running or not, each
# peer's state, the last reconciliation, object counts, the store's size on
# disk and its map usage.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"

init_founder a
init_admitted b
init_member g # holds the network key, never admitted: a guest
PA=$(free_port)
PB=$(free_port)
T=$("$KNOTEN" thread --data "$WORK/a" --space Kaemmerei --title "Grundsteuer C?" --body "?") ||
    fail "knoten thread on a"
N=$(object_count a)
"$KNOTEN" peer add "127.0.0.1:$PA" "$ID_a" --data "$WORK/b" >/dev/null || fail "peer add on b"

# Never run: the status says so, and still shows identity and counts.
"$KNOTEN" status --data "$WORK/b" >"$WORK/st0.out" || fail "status before the first run"
grep -q "^node  *never run here" "$WORK/st0.out" || fail "no 'never run' in: $(cat "$WORK/st0.out")"
grep -q "^identity  *$ID_b\$" "$WORK/st0.out" || fail "identity missing"
grep -q "^last sync  *none yet" "$WORK/st0.out" || fail "last sync before any run"

start_node a "$PA"
start_node b "$PB"
wait_for 20 "b catches up" has_count b "$N"
js() { # js NAME EXPR: a Python expression over the status JSON of NAME (as j)
    "$KNOTEN" status --json --data "$WORK/$1" | "$PY" -c "import json, sys; j = json.load(sys.stdin); print($2)"
}
synced() { [ "$(js b 'j["last_sync"] is not None and j["peers_connected"] == 1')" = True ]; }
wait_for 15 "b's status shows the connection and the reconciliation" synced

[ "$(js b 'j["identity"]')" = "$ID_b" ] || fail "identity in JSON"
[ "$(js b 'j["node"]["running"]')" = True ] || fail "b not running in JSON"
[ "$(js b 'j["node"]["pid"]')" = "$PID_b" ] || fail "pid in JSON"
[ "$(js b 'j["network"]["membership"]')" = member ] || fail "b is not a member in JSON"
[ "$(js a 'j["network"]["membership"]')" = founder ] || fail "a is not the founder in JSON"
[ "$(js b 'j["network"]["members"]')" = 2 ] || fail "b does not count 2 members"
[ "$(js b 'j["network"]["name"]')" = knoten ] || fail "network name"
[ "$(js b 'j["peers"][0]["addr"]')" = "127.0.0.1:$PA" ] || fail "peer address"
[ "$(js b 'j["peers"][0]["identity"]')" = "$ID_a" ] || fail "peer identity"
[ "$(js b 'j["peers"][0]["state"]')" = connected ] || fail "peer state"
[ "$(js b 'j["peers"][0]["direction"]')" = out ] || fail "peer direction"
[ "$(js b 'j["last_sync"]["peer"]')" = "127.0.0.1:$PA" ] || fail "last sync peer"
[ "$(js b 'j["last_sync"]["objects_in"] >= 1')" = True ] || fail "last sync brought nothing"
[ "$(js b 'j["store"]["objects"]')" = "$N" ] || fail "object count"
SCHEMA=$("$KNOTEN" --version | sed -n 's/.*(store schema \([0-9]*\))$/\1/p')
[ -n "$SCHEMA" ] || fail "knoten --version names no store schema"
[ "$(js b 'j["store"]["schema_version"]')" = "$SCHEMA" ] || fail "schema version"
[ "$(js b '0 < j["store"]["map_used"] <= j["store"]["map_size"]')" = True ] || fail "map usage"
[ "$(js b 'j["store"]["file_bytes"] >= j["store"]["map_used"] // 2 > 0')" = True ] || fail "file size"
# a sees b as an inbound peer.
[ "$(js a '[p["direction"] for p in j["peers"]]')" = "['in']" ] || fail "a's inbound peer"

"$KNOTEN" status --data "$WORK/b" >"$WORK/st1.out" || fail "status while running"
cat "$WORK/st1.out"
grep -q "^membership  *member since .* (2 members)" "$WORK/st1.out" || fail "membership line"
grep -q "^node  *running (pid $PID_b)" "$WORK/st1.out" || fail "running line"
grep -q "^peers  *1 connected, 1 known" "$WORK/st1.out" || fail "peers line"
grep -Eq "^  127\.0\.0\.1:$PA +out +${ID_a:0:16}… +connected since" "$WORK/st1.out" || fail "peer line"
grep -Eq "^last sync  *[0-9]+ s ago with 127\.0\.0\.1:$PA: [0-9]+ objects in" "$WORK/st1.out" || fail "last sync line"
grep -q "^objects  *$N stored, 0 pending, 0 retracted" "$WORK/st1.out" || fail "objects line"
grep -Eq "^store  *schema $SCHEMA, [0-9.]+ (B|KiB|MiB) on disk" "$WORK/st1.out" || fail "store line"
grep -Eq "^store map  *[0-9.]+ of 64\.0 MiB used" "$WORK/st1.out" || fail "map line"
"$KNOTEN" status --data "$WORK/g" | grep -q "^membership  *not admitted: a member runs \`knoten admit $ID_g\`" ||
    fail "g is not shown as not admitted"

stop_node b
[ "$(js b 'j["node"]["running"]')" = False ] || fail "b still running after stop"
[ "$(js b 'j["peers"][0]["state"]')" = stopped ] || fail "peer state after stop"
"$KNOTEN" status --data "$WORK/b" | grep -q "^node  *not running" || fail "not running line"
stop_node a
echo "ops_status: ok"
