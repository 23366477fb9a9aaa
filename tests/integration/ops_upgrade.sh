#!/usr/bin/env bash
# Upgrades: a store written in an older layout is migrated forward when it
# is opened, and one from a newer knoten is refused with a clear message.
#
# The fixture is made here, with LMDB's own tools (mdb_dump, mdb_load from
# lmdb-utils) rather than with knoten's code: a node a with a network, an
# admitted member, a staff user, threads, a reply, a retraction and a
# document is written by this knoten, then its store is rebuilt in the
# layout of schema 1 (store/store.c): only the databases schema 1 had (no
# Negentropy tree, no roster log, no blob databases), membership records
# without the member-since field schema 3 added, and schema_version 1.
# Opening it must run every migration (1 -> 2 -> 3 -> 4 ...): the result
# passes `knoten check`, holds the same objects, members and retractions as
# before, counts the document's file as wanted again, and syncs both ways
# with a node that never left the current layout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"
for tool in mdb_dump mdb_load mdb_stat; do
    command -v "$tool" >/dev/null || fail "$tool is missing (Debian package lmdb-utils)"
done
SCHEMA=$("$KNOTEN" --version | sed -n 's/.*(store schema \([0-9]*\))$/\1/p')
[ -n "$SCHEMA" ] && ((SCHEMA >= 4)) || fail "knoten --version names no store schema >= 4"

init_founder a
init_admitted b
ERIKA=$("$KNOTEN" user add --data "$WORK/a" --name "Erika Muster" --role Bauamt 2>/dev/null) || fail "user add"
OTTO=$("$KNOTEN" user add --data "$WORK/a" --name "Otto Ordnung" --role Ordnungsamt 2>/dev/null) || fail "user add 2"
"$KNOTEN" msg send --data "$WORK/a" --as "Erika Muster" --to "$OTTO" --subject "Stellplätze" "Haben Sie eine Satzung?" \
    >/dev/null 2>&1 || fail "msg send"
"$KNOTEN" msg send --data "$WORK/a" --as "Otto Ordnung" --to "$ERIKA" --subject "Re: Stellplätze" "Ja, seit 2019." \
    >/dev/null 2>&1 || fail "msg send 2"
T=$("$KNOTEN" thread --data "$WORK/a" --space Bauamt --title "Stellplatzsatzung" --body "Wer hat eine?") ||
    fail "thread"
"$KNOTEN" post "$T" --data "$WORK/a" --body "Wir, seit 2019." >/dev/null || fail "post"
X=$("$KNOTEN" thread --data "$WORK/a" --space Bauamt --title "Versehentlich" --body "weg damit") || fail "thread 2"
"$KNOTEN" retract "$X" --data "$WORK/a" --reason "Versehen" >/dev/null || fail "retract"
head -c 300000 /dev/urandom >"$WORK/plan.pdf"
"$KNOTEN" doc publish "$WORK/plan.pdf" --title "Bebauungsplan" --data "$WORK/a" >/dev/null 2>&1 || fail "doc publish"

snapshot() { # snapshot NAME FILE: what must survive the migration
    {
        object_ids "$1"
        "$KNOTEN" members --json --data "$WORK/$1"
        "$KNOTEN" user ls --all --data "$WORK/$1"
        "$KNOTEN" msg ls --as "Erika Muster" --data "$WORK/$1"
        "$KNOTEN" msg ls --as "Otto Ordnung" --data "$WORK/$1"
        "$KNOTEN" status --json --data "$WORK/$1" |
            "$PY" -c 'import json,sys; s=json.load(sys.stdin)["store"]; print(s["objects"], s["pending"], s["tombstones"])'
    } >"$2"
}
snapshot a "$WORK/before"
grep -q "Erika Muster" "$WORK/before" && grep -q "^[0-9]* 0 1$" "$WORK/before" || fail "fixture: $(cat "$WORK/before")"
[ "$(grep -c " 2 (1 in) " "$WORK/before")" = 2 ] || fail "fixture: both mailboxes list both messages: $(cat "$WORK/before")"

# ---- rebuild a's store in the schema 1 layout ----
V1_DBS="objects by_time by_author by_space_type by_ref tombstones pending pending_by_dep membership users meta settings"
mkdir "$WORK/v1"
for db in $V1_DBS; do
    mdb_dump -s "$db" "$WORK/a/store" >"$WORK/dump.$db" || fail "mdb_dump $db"
done
"$PY" - "$WORK/dump.membership" "$WORK/dump.meta" <<'PYEOF' || fail "rewriting the dumps"
import sys
def rewrite(path, fn):
    lines = open(path).read().split("\n")
    body = lines.index("HEADER=END") + 1
    end = lines.index("DATA=END")
    pairs = lines[body:end]
    assert len(pairs) % 2 == 0
    for i in range(0, len(pairs), 2):
        k, v = bytes.fromhex(pairs[i].strip()), bytes.fromhex(pairs[i + 1].strip())
        v = fn(k, v)
        pairs[i + 1] = " " + v.hex()
    open(path, "w").write("\n".join(lines[:body] + pairs + lines[end:]))
def membership(k, v):
    # schema 3: flags(1) founder_since(8) since(8) revoked_at(8) n(1) entries; schema 1 has no since
    assert len(v) >= 26 and (len(v) - 26) % 40 == 0, len(v)
    return v[:9] + v[17:]
def meta(k, v):
    return b"\x00\x00\x00\x01" if k == b"schema_version" else v
rewrite(sys.argv[1], membership)
rewrite(sys.argv[2], meta)
PYEOF
for db in $V1_DBS; do
    mdb_load -s "$db" -f "$WORK/dump.$db" "$WORK/v1" || fail "mdb_load $db"
done
rm -r "$WORK/a/store"
mv "$WORK/v1" "$WORK/a/store"
mdb_stat -a "$WORK/a/store" >"$WORK/v1.stat"
grep -q "Status of negtree\|Status of roster\|Status of blob_" "$WORK/v1.stat" && fail "the fixture has newer databases"
mdb_dump -s meta "$WORK/a/store" | grep -qx " 00000001" || fail "the fixture is not schema 1"

# ---- open it: every migration runs ----
"$KNOTEN" status --data "$WORK/a" >"$WORK/status-a.out" || fail "status on the old store: $(cat "$WORK/status-a.out")"
grep -q "^store  *schema $SCHEMA," "$WORK/status-a.out" || fail "not migrated to $SCHEMA: $(cat "$WORK/status-a.out")"
mdb_stat -a "$WORK/a/store" | grep >/dev/null "Status of negtree" || fail "no Negentropy tree after the migration"
mdb_stat -a "$WORK/a/store" | grep >/dev/null "Status of roster" || fail "no roster log after the migration"
"$KNOTEN" check --data "$WORK/a" >"$WORK/check.out" || fail "knoten check after the migration: $(cat "$WORK/check.out")"
snapshot a "$WORK/after"
diff "$WORK/before" "$WORK/after" >"$WORK/diff" || fail "the migration changed what the node holds: $(cat "$WORK/diff")"
[ "$("$KNOTEN" status --json --data "$WORK/a" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["blobs"]["wanted"])')" = 1 ] ||
    fail "the document's file is not wanted again after the migration"

# ---- the migrated node syncs both ways with a current one ----
PA=$(free_port)
PB=$(free_port)
"$KNOTEN" peer add "127.0.0.1:$PA" "$ID_a" --data "$WORK/b" >/dev/null || fail "peer add on b"
start_node a "$PA"
start_node b "$PB"
# (A retract whose target b never had stays pending there; so b's count includes pending.)
held() { "$KNOTEN" status --json --data "$WORK/$1" | "$PY" -c 'import json,sys; s=json.load(sys.stdin)["store"]; print(s["objects"] + s["pending"])'; }
caught_up() { [ "$(held b)" = "$(held a)" ]; }
wait_for 20 "b catches up with the migrated a" caught_up
N=$("$KNOTEN" thread --data "$WORK/b" --space Bauamt --title "Neu auf b" --body "z") || fail "thread on b"
wait_for 15 "b's new thread reaches the migrated a" has_object a "$N"
M=$("$KNOTEN" thread --data "$WORK/a" --space Bauamt --title "Neu auf a" --body "z") || fail "thread on a"
wait_for 15 "a's new thread reaches b" has_object b "$M"
comm -23 <(object_ids b) <(object_ids a) | grep -q . && fail "b holds objects a lacks after syncing"
stop_node a
stop_node b

# set_schema DUMP VERSION: the meta dump DUMP (mdb_dump -s meta) says schema VERSION
set_schema() {
    "$PY" - "$1" "$2" <<'PYEOF' || fail "rewriting $1 as schema $2"
import sys
meta = open(sys.argv[1]).read().split("\n")
i = meta.index(" " + b"schema_version".hex())
meta[i + 1] = " %08x" % int(sys.argv[2])
open(sys.argv[1], "w").write("\n".join(meta))
PYEOF
}

# migrated_from N: a's store, written as schema N, opens as the current schema and checks clean
migrated_from() {
    "$KNOTEN" status --data "$WORK/a" >"$WORK/status$1.out" ||
        fail "status on the schema $1 store: $(cat "$WORK/status$1.out")"
    grep -q "^store  *schema $SCHEMA," "$WORK/status$1.out" ||
        fail "not migrated from $1 to $SCHEMA: $(cat "$WORK/status$1.out")"
    "$KNOTEN" check --data "$WORK/a" >"$WORK/check$1.out" ||
        fail "knoten check after $1 -> $SCHEMA: $(cat "$WORK/check$1.out")"
}

# replace_store N: a's store becomes the one loaded from the dumps $WORK/dumpN.DB
replace_store() {
    mkdir "$WORK/v$1"
    for f in "$WORK"/dump"$1".*; do
        mdb_load -s "${f##*/dump"$1".}" -f "$f" "$WORK/v$1" || fail "mdb_load ${f##*/dump"$1".}"
    done
    rm -r "$WORK/a/store"
    mv "$WORK/v$1" "$WORK/a/store"
}

# ---- schema 5: the search index mapped ids to its numbers in search_ids ----
# a's store rewritten as schema 5 wrote it: search_ids (id -> number) instead
# of search_times (created, id -> number), schema_version 5. Opening it must
# move the map over without building the index again (the same numbers: a
# build would number Z again without the gap M's retraction left) and find
# the same.
Z=$("$KNOTEN" thread --data "$WORK/a" --space Bauamt --title "Stellplatzsatzung, Nachtrag" --body "z") ||
    fail "thread Z"
"$KNOTEN" retract "$M" --data "$WORK/a" --reason "Versehen" >/dev/null || fail "retract M"
"$KNOTEN" search Stellplatzsatzung --json --data "$WORK/a" >"$WORK/hits.before" || fail "search before"
grep -q "$T" "$WORK/hits.before" && grep -q "$Z" "$WORK/hits.before" ||
    fail "search does not find the threads: $(cat "$WORK/hits.before")"
mdb_dump -s search_times "$WORK/a/store" >"$WORK/times.before" || fail "mdb_dump search_times"
ALL_DBS=$(mdb_stat -a "$WORK/a/store" | sed -n 's/^Status of //p' | grep -vx "Main DB")
for db in $ALL_DBS; do
    [ "$db" = search_times ] || mdb_dump -s "$db" "$WORK/a/store" >"$WORK/dump5.$db" || fail "mdb_dump $db"
done
"$PY" - "$WORK/times.before" "$WORK/dump5.search_ids" <<'PYEOF' || fail "rewriting the dumps as schema 5"
import sys
lines = open(sys.argv[1]).read().split("\n")
body, end = lines.index("HEADER=END") + 1, lines.index("DATA=END")
pairs = lines[body:end]
assert pairs and len(pairs) % 2 == 0
ids = []
for i in range(0, len(pairs), 2):
    k = bytes.fromhex(pairs[i].strip())
    assert len(k) == 40, len(k)
    ids.append((k[8:], pairs[i + 1]))  # search_ids: id(32) -> number(5)
ids.sort()
head = [l.replace("search_times", "search_ids") for l in lines[:body]]
out = [x for k, v in ids for x in (" " + k.hex(), v)]
open(sys.argv[2], "w").write("\n".join(head + out + lines[end:]))
PYEOF
set_schema "$WORK/dump5.meta" 5
replace_store 5
mdb_stat -a "$WORK/a/store" | grep -qx "Status of search_times" && fail "the schema 5 fixture has search_times"
migrated_from 5
mdb_stat -a "$WORK/a/store" | grep -qx "Status of search_ids" && fail "search_ids is still there after the migration"
mdb_dump -s search_times "$WORK/a/store" | diff - "$WORK/times.before" >"$WORK/diff5" ||
    fail "search_times differs from the one the index had (was it built again?): $(cat "$WORK/diff5")"
"$KNOTEN" search Stellplatzsatzung --json --data "$WORK/a" | diff - "$WORK/hits.before" >"$WORK/diff5" ||
    fail "search finds something else after 5 -> $SCHEMA: $(cat "$WORK/diff5")"

# ---- schema 6: no direct-message index ----
# a's store without dm_index, schema_version 6. Opening it must build the
# index from the stored messages: the same entries, byte for byte, and the
# same mailboxes.
mdb_dump -s dm_index "$WORK/a/store" >"$WORK/dm.before" || fail "mdb_dump dm_index"
[ "$(sed -n '/^HEADER=END$/,/^DATA=END$/p' "$WORK/dm.before" | grep -c '^ ')" = 8 ] ||
    fail "dm_index does not hold 2 entries for each of the 2 messages: $(cat "$WORK/dm.before")"
"$KNOTEN" msg ls --as "Otto Ordnung" --data "$WORK/a" >"$WORK/mail.before" || fail "msg ls before"
for db in $(mdb_stat -a "$WORK/a/store" | sed -n 's/^Status of //p' | grep -vx "Main DB" | grep -vx dm_index); do
    mdb_dump -s "$db" "$WORK/a/store" >"$WORK/dump6.$db" || fail "mdb_dump $db"
done
set_schema "$WORK/dump6.meta" 6
replace_store 6
mdb_stat -a "$WORK/a/store" | grep -qx "Status of dm_index" && fail "the schema 6 fixture has dm_index"
migrated_from 6
mdb_dump -s dm_index "$WORK/a/store" | diff - "$WORK/dm.before" >"$WORK/diff6" ||
    fail "dm_index differs from the one ingest wrote: $(cat "$WORK/diff6")"
"$KNOTEN" msg ls --as "Otto Ordnung" --data "$WORK/a" | diff - "$WORK/mail.before" >"$WORK/diff6" ||
    fail "Otto's mailbox differs after 6 -> $SCHEMA: $(cat "$WORK/diff6")"

# ---- a store from a newer knoten is refused, and left alone ----
mdb_dump -s meta "$WORK/a/store" >"$WORK/meta.dump"
set_schema "$WORK/meta.dump" 99
mdb_load -s meta -f "$WORK/meta.dump" "$WORK/a/store" || fail "mdb_load meta"
for cmd in status "run --listen 127.0.0.1:$PA" ls; do
    status=0
    "$KNOTEN" $cmd --data "$WORK/a" >"$WORK/newer.out" 2>&1 || status=$?
    [ "$status" = 1 ] || fail "knoten $cmd on a newer store: status $status"
    grep -q "the store in $WORK/a was written by a newer knoten (this knoten .* reads store schema up to $SCHEMA); install that version or a later one" "$WORK/newer.out" ||
        fail "knoten $cmd on a newer store says: $(cat "$WORK/newer.out")"
done
mdb_dump -s meta "$WORK/a/store" | grep -qx " 00000063" || fail "the newer store was changed"
echo "ops_upgrade: ok"
