# Helpers for the replication integration tests (sourced, not a test itself:
# ctest registers only tests/integration/*.sh). Builds on peers_lib.bash:
# scratch directory, free ports, bounded waits, a trap that kills every node.
#
# The network: one node (a) founds it (`knoten init`), every other node is created
# with `knoten init --network-key-file a/network.key`, which founds nothing,
# so the only network object is a's and a is the only member. The objects
# these tests replicate are therefore a's; the other nodes relay and store
# them (an object by a non-member would stay pending everywhere).

source "$(dirname "${BASH_SOURCE[0]}")/peers_lib.bash"
BUILD=${2:?usage: bash TEST.sh PATH-TO-KNOTEN BUILD-DIR}

# init_founder NAME / init_member NAME: create $WORK/NAME; ID_<NAME> gets its identity.
# Members take the network key of the last founder.
init_founder() {
    FOUNDER=$1
    "$KNOTEN" init --data "$WORK/$1" >"$WORK/init-$1.out" || fail "knoten init ($1) failed"
    printf -v "ID_$1" '%s' "$(sed -n 's/^node identity: //p' "$WORK/init-$1.out")"
}
init_member() {
    "$KNOTEN" init --data "$WORK/$1" --network-key-file "$WORK/$FOUNDER/network.key" \
        >"$WORK/init-$1.out" || fail "knoten init --network-key-file ($1) failed"
    printf -v "ID_$1" '%s' "$(sed -n 's/^node identity: //p' "$WORK/init-$1.out")"
}

# init_admitted NAME: init_member NAME, and the founder admits it (`knoten admit`,
# with the founder stopped), so that members accept it as a peer. Every admit
# is one more object that replicates: take the founder's object_count as the
# base the others must reach.
init_admitted() {
    init_member "$1"
    local var="ID_$1"
    "$KNOTEN" admit "${!var}" --name "Gemeinde $1" --data "$WORK/$FOUNDER" \
        >"$WORK/admit-$1.out" 2>&1 || fail "knoten admit $1 at $FOUNDER failed"
}

# object_count NAME: objects stored at NAME (not pending).
object_count() {
    "$KNOTEN" status --json --data "$WORK/$1" |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["store"]["objects"])'
}

has_count() { # has_count NAME N: NAME stores exactly N objects
    [ "$(object_count "$1")" = "$2" ]
}

has_object() { # has_object NAME ID
    "$KNOTEN" show "$2" --data "$WORK/$1" >/dev/null 2>&1
}

# object_ids NAME: every stored id, sorted, one a line.
object_ids() {
    "$KNOTEN" ls --limit 0 --json --data "$WORK/$1" |
        "$PY" -c 'import json, sys; print("\n".join(sorted(json.loads(l)["id"] for l in sys.stdin if l.strip())))'
}

# sync_field NAME ADDR FIELD: one figure of `knoten sync status --json` for the peer at ADDR.
sync_field() {
    "$KNOTEN" sync status --json --data "$WORK/$1" |
        "$PY" -c 'import json, sys
for l in sys.stdin:
    p = json.loads(l)
    if p.get("addr") == sys.argv[1]:
        print(p[sys.argv[2]]); break
else:
    sys.exit(1)' "$2" "$3"
}

no_violations() { # no_violations NAME...: nothing refused, nothing timed out
    local name
    for name in "$@"; do
        ! log_has "$name" "protocol violation|timed out|cannot send" ||
            fail "errors in $name's log"
    done
}

# work_on_tmpfs NAME: the scratch directory moves to a tmpfs (/dev/shm), where
# fsync is free (tests that measure the engine, not this machine's disk);
# GEN and PROBE name gen_objects and kn_probe, which such tests use.
work_on_tmpfs() {
    rm -rf "$WORK"
    WORK=$(mktemp -d "/dev/shm/knoten-$1.XXXXXX")
    GEN="$BUILD/tools/gen_objects"
    PROBE="$BUILD/tests/kn_probe"
    [ -x "$GEN" ] && [ -x "$PROBE" ] || fail "build gen_objects and kn_probe first"
}
