# Hostile peers: a node under attack keeps serving its honest peers, stays
# small, and scores down, disconnects and refuses the attackers for a while.
#
# v (the victim) dials two honest members h1 and h2; an object h1 publishes
# reaches h2 through v. kn_attack (tests/tools) attacks v's listener from
# 127.0.0.1, in four steps:
#  1. after a handshake, as admitted members m1-m6, once each: garbage
#     frames, a 1.5 MiB message, replayed objects, wants for unknown ids, a
#     message one byte a second, objects with bad signatures;
#  2. the same all at once and over and over, as m7-m12;
#  3. by address only, once each: a 65535-byte frame header and silence, one
#     byte a second, random bytes;
#  4. the same and 1,000 half-open connections, all at once and over and over.
# v runs with short limits from a config file (handshake_timeout 2 s,
# idle_timeout 3 s, ban 2 s) so that every cut and ban expiry happens within
# the test.
#
# Checked:
#  - in 1 and 3, each attacker is disconnected (a stalled one within its
#    timeout) with a bye that names the reason where it can still get one,
#    logged as banned or scored down, listed by `knoten peer ls`; while
#    banned it is refused (an identity at the handshake with a bye saying
#    so, an address at once, before any cryptography), and once the ban is
#    over it gets in again;
#  - in 2 and 4, h1 -> v -> h2 latency (commit at h1 to visible at h2),
#    median of 12 objects, is at most 2x the median with the attackers
#    paused (SIGSTOP), sampled in turn with it so that both see the same
#    load of this shared machine (taken as at least 5 ms: below that the
#    figure is the machine's scheduling); an address that keeps bringing a
#    banned identity back is banned itself;
#  - v's resident memory (VmRSS, sampled every 100 ms) stays under 64 MiB
#    (512 MiB in the ASan build, whose quarantine holds freed memory);
#  - the honest peers were never scored and stay connected.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"
ATTACK="$BUILD/tests/kn_attack"
PROBE="$BUILD/tests/kn_probe"
[ -x "$ATTACK" ] && [ -x "$PROBE" ] || fail "build kn_attack and kn_probe first"

init_founder v
for x in h1 h2 m1 m2 m3 m4 m5 m6 m7 m8 m9 m10 m11 m12; do init_admitted "$x"; done
PV=$(free_port)
P1=$(free_port)
P2=$(free_port)
V="127.0.0.1:$PV"
cat >"$WORK/v.conf" <<EOF
[node]
data = $WORK/v
listen = $V
[http]
enabled = no
[limits]
handshake_timeout = 2
idle_timeout = 3
ban = 2
EOF
for p in "$P1" "$P2"; do
    "$KNOTEN" peer add "127.0.0.1:$p" --data "$WORK/v" >/dev/null || fail "peer add on v"
done
start_node h1 "$P1"
start_node h2 "$P2"
"$KNOTEN" run --config "$WORK/v.conf" >>"$WORK/v.log" 2>&1 &
PID_v=$!
PIDS+=("$PID_v")
both_connected() {
    peer_connected v "127.0.0.1:$P1" && peer_connected v "127.0.0.1:$P2"
}
wait_for 20 "v connected to h1 and h2" both_connected
wait_for 20 "h2 has the roster" has_count h2 "$(object_count v)"

# RSS of v, the largest seen, every 100 ms until the test ends.
( while kill -0 "$PID_v" 2>/dev/null; do
    awk '/^VmRSS/ { print $2 }' "/proc/$PID_v/status" 2>/dev/null
    sleep 0.1
done ) >"$WORK/rss.txt" &
PIDS+=("$!")

# One sample: a thread stored at h1 (kn_probe signals h1 to pick it up at once);
# ms from its commit at h1 until h2 holds it.
sample() {
    "$PROBE" latency "$WORK/h1" "$PID_h1" "$WORK/h2" 10000 || fail "a thread did not reach h2"
}
check_ratio() { # check_ratio PHASE NAME: after measure NAME
    echo "latency h1 -> v -> h2 during $1: median $MED_ON ms, $MED_OFF ms with the attackers" \
        "paused; samples $(sort -n "$WORK/lat-$2-on" | tr '\n' ' ')/ $(sort -n "$WORK/lat-$2-off" | tr '\n' ' ')"
    "$PY" -c "import sys; b, m = max($MED_OFF, $FLOOR), $MED_ON; sys.exit(0 if m <= 2 * b else 1)" ||
        fail "honest latency during $1 is $MED_ON ms, more than 2x the $MED_OFF ms without"
}

# Below 5 ms a median says more about the scheduler of this shared 2-core
# machine than about the node: the ratio is taken against at least that.
FLOOR=5
for i in 1 2 3; do sample >/dev/null; done # warm up: the first objects open every cache

# ---- Phase A: attackers that complete the handshake (booked by identity) ----
# An attacker keeps attacking (again as soon as one attempt ends) until the
# phase is over; what each attempt saw goes to $WORK/NAME.out, the first line
# first. It runs in a process group of its own, at the lowest CPU priority
# (an attacker on another machine would not take this machine's CPU from
# the nodes), so that the phase can pause and resume it as a whole.
ATTACKERS=()
attack() { # attack NAME ARGS...
    local name=$1
    shift
    rm -f "$WORK/stop"
    setsid bash -c 'while [ ! -e "$1/stop" ]; do nice -n 19 "${@:2}"; sleep 0.1; done' _ \
        "$WORK" "$ATTACK" "$@" \
        >"$WORK/$name.out" 2>&1 &
    ATTACKERS+=("$!")
    PIDS+=("-$!") # the cleanup kills the whole group
}
signal_attackers() {
    local p
    for p in "${ATTACKERS[@]}"; do kill "-$1" -- "-$p" 2>/dev/null || true; done
}
wait_attackers() {
    local p
    touch "$WORK/stop"
    signal_attackers CONT
    for p in "${ATTACKERS[@]}"; do wait "$p" 2>/dev/null || true; done
    ATTACKERS=()
}
# The phase's measurement: the attackers paused and resumed in turn, one
# sample under attack and one without, 12 times; so that both sets see the
# same load of this shared machine. Medians in MED_ON and MED_OFF.
measure() { # measure NAME
    local i
    : >"$WORK/lat-$1-on"
    : >"$WORK/lat-$1-off"
    for i in $(seq 12); do
        signal_attackers CONT
        sleep 0.1
        sample >>"$WORK/lat-$1-on"
        signal_attackers STOP
        sleep 0.1
        sample >>"$WORK/lat-$1-off"
    done
    signal_attackers CONT
    MED_ON=$(sort -n "$WORK/lat-$1-on" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    MED_OFF=$(sort -n "$WORK/lat-$1-off" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
}
one() { # one NAME ARGS...: a single attack, its report in $WORK/NAME.out and on stdout
    local name=$1
    shift
    nice -n 19 "$ATTACK" "$@" >"$WORK/$name.out" 2>&1 || true
    echo "  $(cat "$WORK/$name.out")"
}
cut_within() { # cut_within NAME MS: the node closed the attacker within MS ms
    local ms
    ms=$(sed -n 's/.*closed by the node after \([0-9]*\) ms.*/\1/p' "$WORK/$1.out")
    [ -n "$ms" ] || fail "$1: the node did not close the connection: $(cat "$WORK/$1.out")"
    ((ms <= $2)) || fail "$1: the node took $ms ms to close it (limit $2 ms)"
}

# ---- 1. Each attack after a handshake, once: what the node does ----
one a-garbage garbage "$WORK/m1" "$V"
cut_within a-garbage 2000
one a-huge huge "$WORK/m2" "$V"
cut_within a-huge 2000
one a-replay replay "$WORK/m4" "$V" 5000
cut_within a-replay 2000
grep -q "replay" "$WORK/a-replay.out" || fail "replay: no bye naming the replay"
one a-wants wants "$WORK/m5" "$V" 100000
cut_within a-wants 2000
grep -q "never had" "$WORK/a-wants.out" || fail "wants: no bye naming the unknown ids"
one a-trickle trickle "$WORK/m6" "$V"
cut_within a-trickle 5000 # idle timeout 3 s after its last complete message
one a-badsig badsig "$WORK/m3" "$V" 300
cut_within a-badsig 3000
grep -q "invalid object)" "$WORK/a-badsig.out" || fail "badsig: no bye naming the invalid object"
# While banned, refused at the handshake with a bye that says so; listed by peer ls.
out=$("$ATTACK" hello "$WORK/m3" "$V")
echo "  m3 while banned: $out"
[[ $out == *"refused: banned for another"* ]] || fail "banned m3 was not refused: $out"
sleep 1.1 # peers.state is rewritten at most once a second
"$KNOTEN" peer ls --data "$WORK/v" >"$WORK/peer-ls-a.out"
grep -A20 "Misbehaving peers" "$WORK/peer-ls-a.out"
grep -Eq "id ${ID_m3:0:16}.*banned \([0-9]+ s left\) +0 +1 +sent an invalid object" \
    "$WORK/peer-ls-a.out" || fail "peer ls does not list m3 as banned"
for m in m1 m2 m3 m4 m5; do
    var="ID_$m"
    log_has v "\(${!var:0:8}.*banned for [0-9]+ s: it " || fail "no ban of $m in v's log"
done
log_has v "\(${ID_m6:0:8}.*scored down: it sent no complete message" || fail "m6 not scored down"

# ---- 2. The same, all at once and again and again, with fresh identities ----
attack a-garbage-storm garbage "$WORK/m7" "$V"
attack a-huge-storm huge "$WORK/m8" "$V"
attack a-badsig-storm badsig "$WORK/m9" "$V" 300
attack a-replay-storm replay "$WORK/m10" "$V" 5000
attack a-wants-storm wants "$WORK/m11" "$V" 100000
attack a-trickle-storm trickle "$WORK/m12" "$V"
measure a
wait_attackers
for x in garbage huge badsig replay wants trickle; do
    f="$WORK/a-$x-storm.out"
    echo "  $x: $(wc -l <"$f") attempts, $(grep -c "banned for another" "$f" || true) refused" \
        "as banned at the handshake, $(grep -c "refused: handshake failed" "$f" || true) at accept"
done
check_ratio "attacks after the handshake" a
log_has v "address 127\.0\.0\.1 banned for [0-9]+ s: it kept coming back with a banned identity" ||
    fail "the address that kept bringing banned identities back was not banned"

# The bans run out: m3 gets in again.
m3_in() { [ "$("$ATTACK" hello "$WORK/m3" "$V")" = "hello: ok" ]; }
wait_for 40 "the bans of m3 and of the address run out" m3_in

# ---- 3. Attacks before any handshake, once: known only by the address ----
nice -n 19 "$ATTACK" prefix "$V" >"$WORK/b-prefix.out" 2>&1 &
nice -n 19 "$ATTACK" slow "$V" >"$WORK/b-slow.out" 2>&1
wait $!
for x in prefix slow; do
    echo "  $(cat "$WORK/b-$x.out")"
    cut_within "b-$x" 4000 # handshake timeout 2 s
done
one b-random random "$V" 8
grep -q "8 of 8 connections closed" "$WORK/b-random.out" || fail "random: not every connection closed"
log_has v "address 127\.0\.0\.1 banned for [0-9]+ s: it (sent bytes that are no handshake|did not finish)" ||
    fail "no address ban for the handshake failures in v's log"
out=$("$ATTACK" probe "$V")
[ "$out" = "probe: refused" ] || fail "a banned address was not refused at once: $out"
sleep 1.1
"$KNOTEN" peer ls --data "$WORK/v" >"$WORK/peer-ls-b.out"
grep -A20 "Misbehaving peers" "$WORK/peer-ls-b.out"
grep -Eq "^127\.0\.0\.1 +banned" "$WORK/peer-ls-b.out" || fail "peer ls does not list the banned address"
open_again() { [ "$("$ATTACK" probe "$V")" = "probe: open" ]; }
wait_for 40 "the address ban runs out" open_again

# ---- 4. The same and 1,000 half-open connections, all at once and again ----
attack b-random-storm random "$V" 8
attack b-prefix-storm prefix "$V"
attack b-slow-storm slow "$V"
attack b-halfopen-storm halfopen "$V" 1000 2
measure b
wait_attackers
for x in random prefix slow halfopen; do
    echo "  $x: $(head -1 "$WORK/b-$x-storm.out"); $(wc -l <"$WORK/b-$x-storm.out") attempts"
done
grep -Eq "1000 of 1000 connections opened, 1000 of them closed" "$WORK/b-halfopen-storm.out" ||
    fail "half-open: $(head -1 "$WORK/b-halfopen-storm.out")"
check_ratio "attacks before the handshake" b

# The honest peers: never scored, still connected, and v stayed small.
for x in h1 h2; do
    var="ID_$x"
    ! grep -q "${!var:0:16}" <(grep -A50 "Misbehaving" "$WORK/peer-ls-b.out") ||
        fail "honest $x was scored"
done
both_connected || fail "v lost an honest peer"
rss=$(sort -n "$WORK/rss.txt" | tail -1)
# Under ASan, freed memory waits in a 256 MiB quarantine and every byte has a
# shadow: the resident size there says little about the node's own.
limit=64
if grep -q '^KN_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then limit=512; fi
echo "v's resident memory: at most $((rss / 1024)) MiB during the attacks (limit $limit MiB)"
((rss < limit * 1024)) || fail "v grew to $rss KiB"
stop_node h1
stop_node h2
kill -TERM "$PID_v"
echo "hostile_peers: ok"
