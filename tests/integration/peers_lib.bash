# Shared helpers for the peering integration tests (sourced, not a test itself:
# ctest registers only tests/integration/*.sh).
#
# Every test gets a scratch directory under /tmp, ports picked free on
# 127.0.0.1, bounded waits, and a trap that kills every process it started
# and removes the scratch directory.

KNOTEN=${1:?usage: bash TEST.sh PATH-TO-KNOTEN BUILD-DIR}
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/knoten-it.XXXXXX)
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ "${KEEP_WORK:-0}" = 1 ]; then
        echo "scratch kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    local f
    for f in "$WORK"/*.log; do
        [ -e "$f" ] || continue
        echo "---- $f" >&2
        cat "$f" >&2
    done
    exit 1
}

# A TCP port that is free on 127.0.0.1 right now, picked at random below the
# kernel's ephemeral range (32768-60999 by default on Linux), so that the
# outgoing connections of this and other tests cannot take it between this
# call and `knoten run` binding it. A port in use is skipped and another
# tried; ports already handed out in this test (listed in $WORK/ports, as
# $(free_port) runs in a subshell) are never handed out twice.
free_port() {
    "$PY" - "$WORK/ports" <<'EOF'
import errno, random, socket, sys
try:
    used = {int(l) for l in open(sys.argv[1])}
except FileNotFoundError:
    used = set()
for _ in range(1000):
    port = random.randint(20000, 32000)
    if port in used:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            continue
        raise
    finally:
        s.close()
    open(sys.argv[1], "a").write(f"{port}\n")
    print(port)
    break
else:
    sys.exit("free_port: no free port in 20000-32000 after 1000 tries")
EOF
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls every 0.2 s until COMMAND succeeds.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            fail "timed out after ${secs}s waiting for: $what"
        fi
        sleep 0.2
    done
}

# start_node NAME PORT: runs `knoten run` for $WORK/NAME in the background,
# logging to $WORK/NAME.log; the pid goes to PID_<NAME>.
start_node() {
    local name=$1 port=$2
    "$KNOTEN" run --data "$WORK/$name" --listen "127.0.0.1:$port" --http off \
        >>"$WORK/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    printf -v "PID_$name" '%s' "$pid"
}

# init_web NAME [USER-ADD-OPTIONS...]: $WORK/NAME founds a network and gets the
# web login erika / geheim-passwort (Erika Muster, Personalamt).
init_web() {
    local name=$1
    shift
    "$KNOTEN" init --data "$WORK/$name" --found "Kommunen Test" >/dev/null 2>&1 || fail "init $name"
    echo "geheim-passwort" | "$KNOTEN" user add --data "$WORK/$name" --name "Erika Muster" \
        --role Personalamt --login erika "$@" --password-stdin >/dev/null 2>&1 ||
        fail "user add erika on $name"
}

# start_web NAME HTTP-PORT: runs $WORK/NAME with its web interface on
# 127.0.0.1:HTTP-PORT (log $WORK/NAME.log, pid PID_<NAME>) and waits until it is up.
start_web() {
    local name=$1 hp=$2 from
    from=1 # a restart appends to the log: look at the new lines only
    [ ! -f "$WORK/$name.log" ] || from=$(($(wc -l <"$WORK/$name.log") + 1))
    "$KNOTEN" run --data "$WORK/$name" --listen "127.0.0.1:$(free_port)" \
        --http "127.0.0.1:$hp" >>"$WORK/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    printf -v "PID_$name" '%s' "$pid"
    wait_for 10 "the web interface of $name" log_from "$name" "$from" \
        "web interface on http://127.0.0.1:$hp/"
}

# log_from NAME LINE TEXT: $WORK/NAME.log has TEXT at or after line LINE.
log_from() {
    tail -n "+$2" "$WORK/$1.log" | grep -qF -- "$3"
}

# stop_node NAME: SIGTERM, wait at most 10 s, and require exit status 0.
stop_node() {
    local name=$1 var="PID_$1"
    local pid=${!var} i
    kill -TERM "$pid"
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && fail "node $name did not stop within 10 s of SIGTERM"
    local status=0
    wait "$pid" || status=$?
    [ "$status" = 0 ] || fail "node $name exited with status $status after SIGTERM"
}

log_has() { # log_has NAME PATTERN (extended regex)
    grep -Eq -- "$2" "$WORK/$1.log"
}

peer_state() { # peer_state NAME ADDR: the STATE column of `knoten peer ls`
    "$KNOTEN" peer ls --data "$WORK/$1" | awk -v a="$2" '$1 == a { $1 = ""; print }'
}

peer_connected() { # peer_connected NAME ADDR
    peer_state "$1" "$2" | grep -q '^ *connected'
}

# init_pair: node a founds a network, node b joins it with a's network key.
# Sets ID_a and ID_b (identity hex).
init_pair() {
    "$KNOTEN" init --data "$WORK/a" >"$WORK/init-a.out" || fail "knoten init (a) failed"
    "$KNOTEN" init --data "$WORK/b" --network-key-file "$WORK/a/network.key" >"$WORK/init-b.out" ||
        fail "knoten init --network-key-file (b) failed"
    ID_a=$(sed -n 's/^node identity: //p' "$WORK/init-a.out")
    ID_b=$(sed -n 's/^node identity: //p' "$WORK/init-b.out")
    [[ $ID_a =~ ^[0-9a-f]{64}$ && $ID_b =~ ^[0-9a-f]{64}$ ]] || fail "no identity in init output"
    cmp -s "$WORK/a/network.key" "$WORK/b/network.key" || fail "b did not take a's network key"
    # Only members sync; a holder of the network key alone is a guest.
    "$KNOTEN" admit "$ID_b" --name "Gemeinde b" --data "$WORK/a" >"$WORK/admit-b.out" ||
        fail "knoten admit b at a failed"
}

# init_pair_dialling: init_pair, two free ports PA and PB, and b's address in
# a's peer list, so that a dials b once both run.
init_pair_dialling() {
    init_pair
    PA=$(free_port)
    PB=$(free_port)
    "$KNOTEN" peer add "127.0.0.1:$PB" --data "$WORK/a" >/dev/null || fail "peer add on a"
}
