#!/usr/bin/env bash
# `knoten run --config FILE` (docs/config.md): a node started from a file
# dials the peers listed there, command-line options override the file, the
# log level filters lines, [quota]'s file limits reach the store, and a bad
# file is refused with its line number before anything starts.
set -euo pipefail
source "$(dirname "$0")/peers_lib.bash"

init_pair
PA=$(free_port)
PA2=$(free_port)
PB=$(free_port)

# ---- a bad file: nothing starts, the message names the line and what is allowed ----
printf '[node]\ndata = %s\n\nlistn = 127.0.0.1:%s\n' "$WORK/a" "$PA" >"$WORK/bad.conf"
status=0
"$KNOTEN" run --config "$WORK/bad.conf" >"$WORK/bad.out" 2>&1 || status=$?
[ "$status" = 1 ] || fail "a bad configuration file gave exit status $status, not 1"
grep -q "bad.conf:4: unknown key \"listn\" in \[node\]; allowed: data, listen, announce" "$WORK/bad.out" ||
    fail "no line number and allowed keys in: $(cat "$WORK/bad.out")"
[ ! -e "$WORK/a/peers.state" ] || fail "the node ran despite the bad file"
printf '[log]\nlevel = loud\n' >"$WORK/bad2.conf"
status=0
"$KNOTEN" run --config "$WORK/bad2.conf" >"$WORK/bad2.out" 2>&1 || status=$?
[ "$status" = 1 ] && grep -q 'bad2.conf:2: level = "loud": give one of error, warn, info, debug' "$WORK/bad2.out" ||
    fail "bad level not refused: $(cat "$WORK/bad2.out")"
status=0
"$KNOTEN" run --config "$WORK/missing.conf" >"$WORK/missing.out" 2>&1 || status=$?
[ "$status" = 1 ] && grep -q "cannot read the configuration file $WORK/missing.conf" "$WORK/missing.out" ||
    fail "a missing file not reported: $(cat "$WORK/missing.out")"

# ---- a runs from its file: data, listen, a peer that is in no store ----
cat >"$WORK/a.conf" <<CONF
; node a of the test
[node]
    data = $WORK/a
    listen = 127.0.0.1:$PA      ; overridden below
    peer = 127.0.0.1:$PB $ID_b
    connections = 3
[log]
level = debug
CONF
start_node b "$PB"
"$KNOTEN" run --config "$WORK/a.conf" --listen "127.0.0.1:$PA2" --http off >>"$WORK/a.log" 2>&1 &
PIDS+=($!)
PID_a=$!
wait_for 10 "a listening on the --listen address" log_has a "listening on 127\.0\.0\.1:$PA2"
log_has a "listening on 127\.0\.0\.1:$PA\b" && fail "the file's listen address won over --listen"
wait_for 15 "a dials b from the file's peer line" log_has a "peer 127\.0\.0\.1:$PB \(${ID_b:0:8}…\) connected"
wait_for 10 "b sees a" log_has b "\(${ID_a:0:8}…\) connected"
log_has a "keeping 3 connections" || fail "connections = 3 from the file not applied"
log_has a "^knoten: info: " || fail "a's lines carry no level"
b_lists_a() { "$KNOTEN" peer ls --data "$WORK/b" | grep -q "connected"; }
wait_for 10 "b lists a as connected" b_lists_a
stop_node a

# ---- the log level filters: at warn, no info lines ----
printf '[node]\ndata = %s\nlisten = 127.0.0.1:%s\n[log]\nlevel = warn\n[quota]\nmax_file = 3MiB\nfiles_per_council = 10GiB\n' \
    "$WORK/a" "$PA" >"$WORK/quiet.conf"
: >"$WORK/quiet.log"
"$KNOTEN" run --config "$WORK/quiet.conf" --http off >>"$WORK/quiet.log" 2>&1 &
PIDS+=($!)
PID_quiet=$!
wait_for 10 "the quiet node writes its state" test -s "$WORK/a/peers.state"
sleep 1
stop_node quiet
! grep -q "info:" "$WORK/quiet.log" || fail "info lines at level warn: $(cat "$WORK/quiet.log")"
# [quota]'s file limits are the store settings `knoten doc limits` shows.
"$KNOTEN" doc limits --data "$WORK/a" >"$WORK/limits.out" || fail "doc limits"
grep -q "^max-file  3.0 MiB" "$WORK/limits.out" && grep -q "^quota     10.0 GiB per council" "$WORK/limits.out" ||
    fail "[quota] max_file/files_per_council not applied: $(cat "$WORK/limits.out")"
# --log-level overrides the file.
: >"$WORK/loud.log"
"$KNOTEN" run --config "$WORK/quiet.conf" --log-level info --http off >>"$WORK/loud.log" 2>&1 &
PIDS+=($!)
PID_loud=$!
wait_for 10 "--log-level info overrides level = warn" grep -q "info: node .* running" "$WORK/loud.log"
stop_node loud
stop_node b
echo "ok: ops_config"
