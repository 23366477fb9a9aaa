# Helpers for the document transfer tests (sourced, not a test itself: ctest
# registers only tests/integration/*.sh). Builds on repl_lib.bash: a founds
# the network, the other nodes take its network key and a admits them, so
# a's documents replicate to every node and their files follow.

source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"

# make_file PATH MIB [MARKER]: MIB MiB of pseudo-random bytes (no two chunks alike), or, with
# MARKER, a file made of that marker line repeated (recognisable in a copy of the store).
make_file() {
    "$PY" - "$1" "$2" "${3:-}" <<'PYEOF'
import os, sys
path, mib, marker = sys.argv[1], float(sys.argv[2]), sys.argv[3]
n = int(mib * 1024 * 1024)
with open(path, "wb") as f:
    if marker:
        line = (marker + "\n").encode()
        f.write((line * (n // len(line) + 1))[:n])
    else:
        f.write(os.urandom(n))
PYEOF
}

# publish NAME FILE TITLE [ARGS...]: `knoten doc publish` at NAME; prints the document id.
publish() {
    local name=$1 file=$2 title=$3
    shift 3
    "$KNOTEN" doc publish "$file" --title "$title" --area Test --data "$WORK/$name" "$@" \
        2>>"$WORK/publish.err" || fail "knoten doc publish at $name failed: $(cat "$WORK/publish.err")"
}

doc_line() { # doc_line NAME ID: NAME's `knoten doc ls` line for ID (empty if not listed)
    "$KNOTEN" doc ls --data "$WORK/$1" | grep "^$2 " || true
}

doc_complete() { # doc_complete NAME ID: the document is listed at NAME and its files are all here
    doc_line "$1" "$2" | grep -q ", complete"
}

# blob_field NAME FIELD: one figure of the "blobs" part of `knoten status --json` at NAME
# (stored, complete, chunks, bytes, wanted).
blob_field() {
    "$KNOTEN" status --json --data "$WORK/$1" |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["blobs"][sys.argv[1]])' "$2"
}

# get_and_compare NAME ID ORIGINAL: `knoten doc get` at NAME writes the file byte-identical.
get_and_compare() {
    local out="$WORK/get-$1-$RANDOM"
    mkdir -p "$out"
    "$KNOTEN" doc get "$2" -o "$out" --data "$WORK/$1" >"$out.list" ||
        fail "knoten doc get $2 at $1 failed"
    cmp "$3" "$out/$(basename "$3")" || fail "the file at $1 differs from the original"
}

# start_chain: the chain a - b - c (a founds and admits b and c; a dials b and
# c dials b, so a and c never talk to each other), running, with a and c
# connected to b. Ports in PA, PB, PC. With A_CONF set, a runs with
# `--config "$A_CONF"` (and no web interface).
start_chain() {
    init_founder a
    init_admitted b
    init_admitted c
    PA=$(free_port)
    PB=$(free_port)
    PC=$(free_port)
    "$KNOTEN" peer add "127.0.0.1:$PB" --data "$WORK/a" >/dev/null || fail "peer add on a"
    "$KNOTEN" peer add "127.0.0.1:$PB" --data "$WORK/c" >/dev/null || fail "peer add on c"
    if [ -n "${A_CONF:-}" ]; then
        "$KNOTEN" run --config "$A_CONF" --data "$WORK/a" --listen "127.0.0.1:$PA" \
            --http off >>"$WORK/a.log" 2>&1 &
        PID_a=$!
        PIDS+=("$PID_a")
    else
        start_node a "$PA"
    fi
    start_node b "$PB"
    start_node c "$PC"
    wait_for 20 "a connects to b" peer_connected a "127.0.0.1:$PB"
    wait_for 20 "c connects to b" peer_connected c "127.0.0.1:$PB"
}
