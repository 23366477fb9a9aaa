#!/usr/bin/env bash
# Backup while the node runs, and restore.
#
# b runs and receives a's objects while a publishes a thread every few
# milliseconds; b holds a document with a 700 KiB file (3 chunks) it fetched
# from a and one with a file of its own. `knoten backup` copies b meanwhile. The copy is restored into a
# fresh directory: `knoten restore` verifies every signature, id and chunk,
# and this test checks again, independently: every exported object's
# BLAKE2b id and Ed25519 signature (Python hashlib and cryptography), the
# set of ids against b's before and after the backup, the file fetched out
# of the restored node byte for byte, the keys, and that the restored node
# runs and syncs. Also: restore refuses a directory that holds a node (and
# --force keeps what was there), a backup with --no-keys has no keys, and a
# backup whose copy was damaged is refused without changing anything.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"

init_founder a
init_admitted b
PA=$(free_port)
PB=$(free_port)
"$KNOTEN" peer add "127.0.0.1:$PA" "$ID_a" --data "$WORK/b" >/dev/null || fail "peer add on b"
start_node a "$PA"
start_node b "$PB"
wait_for 20 "b connects to a" peer_connected b "127.0.0.1:$PA"

# A file b fetches from a over the network, and one b publishes itself.
head -c 716800 /dev/urandom >"$WORK/Haushaltsplan.pdf"
head -c 300000 /dev/urandom >"$WORK/Satzung.pdf"
DOC=$("$KNOTEN" doc publish "$WORK/Haushaltsplan.pdf" --title "Haushaltsplan 2027" --data "$WORK/a" 2>/dev/null |
    tail -1) || fail "doc publish on a"
OWN=$("$KNOTEN" doc publish "$WORK/Satzung.pdf" --title "Satzung" --data "$WORK/b" 2>/dev/null |
    tail -1) || fail "doc publish on b"
blob_complete() { "$KNOTEN" doc ls --data "$WORK/$1" | grep "^$2 .*complete" >/dev/null; }
wait_for 20 "b fetches a's file" blob_complete b "$DOC"
blob_complete b "$OWN" || fail "b does not hold its own file"

# Objects keep arriving at b while it is backed up.
(
    i=0
    while :; do
        i=$((i + 1))
        "$KNOTEN" thread --data "$WORK/a" --space Last --title "Last $i" --body "x" >/dev/null 2>&1 || true
        sleep 0.02
    done
) &
LOAD=$!
PIDS+=("$LOAD")
some_load() { (($(object_count b) >= 20)); }
wait_for 20 "b receives the load" some_load
object_ids b >"$WORK/ids-before"
"$KNOTEN" backup "$WORK/backup" --data "$WORK/b" >"$WORK/backup.out" 2>"$WORK/backup.err" ||
    fail "backup: $(cat "$WORK/backup.out" "$WORK/backup.err")"
# Objects were still arriving after the backup, so they arrived throughout it.
more_than_before() { (($(object_count b) > $(wc -l <"$WORK/ids-before"))); }
wait_for 10 "objects still arriving at b after the backup" more_than_before
kill "$LOAD"
wait "$LOAD" 2>/dev/null || true
object_ids b >"$WORK/ids-after-backup"
cat "$WORK/backup.out"
grep -q "^It holds the node's [0-9]* secret key file(s) (0600): keep it as safe as the node itself" \
    "$WORK/backup.out" || fail "the backup does not say it holds secrets"
for f in identity.key network.key noise.key store/data.mdb knoten-backup; do
    [ "$(stat -c %a "$WORK/backup/$f")" = 600 ] || fail "backup/$f is not 0600"
done
[ "$(stat -c %a "$WORK/backup")" = 700 ] || fail "the backup directory is not 0700"
grep -qx "identity $ID_b" "$WORK/backup/knoten-backup" || fail "the manifest names another node"

# ---- restore into a fresh directory ----
"$KNOTEN" restore "$WORK/backup" --data "$WORK/r" >"$WORK/restore.out" 2>"$WORK/restore.err" ||
    fail "restore: $(cat "$WORK/restore.out" "$WORK/restore.err")"
cat "$WORK/restore.out"
grep -q "every signature, id and chunk verified" "$WORK/restore.out" || fail "restore did not verify"
cmp -s "$WORK/b/identity.key" "$WORK/r/identity.key" || fail "identity.key differs"
cmp -s "$WORK/b/network.key" "$WORK/r/network.key" || fail "network.key differs"
[ "$(stat -c %a "$WORK/r/identity.key")" = 600 ] || fail "restored identity.key not 0600"
"$KNOTEN" check --data "$WORK/r" >/dev/null || fail "knoten check on the restored node"
object_ids r >"$WORK/ids-restored"
comm -23 "$WORK/ids-before" "$WORK/ids-restored" | grep -q . && fail "the restore lacks objects b had before the backup"
comm -13 "$WORK/ids-after-backup" "$WORK/ids-restored" | grep -q . && fail "the restore has objects b never had"
n=$(wc -l <"$WORK/ids-restored")
grep -qx "objects $n" "$WORK/backup/knoten-backup" || fail "the manifest does not count $n objects"
# Every object again, with tools that share no code with knoten.
"$KNOTEN" export --data "$WORK/r" -o "$WORK/r.jsonl" 2>/dev/null || fail "export from r"
"$PY" - "$WORK/r.jsonl" "$WORK/ids-restored" <<'PYEOF' || fail "independent verification failed"
import base64, hashlib, json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
ids = set()
for line in open(sys.argv[1]):
    o = json.loads(line)
    raw = base64.b64decode(o["raw"])
    assert hashlib.blake2b(raw, digest_size=32).hexdigest() == o["id"], o["id"]
    assert raw[0] == 0x98 and raw[1] == 0x01 and raw[2] & 0xE0 == 0xA0, o["id"]
    p = 3 + (raw[2] & 0x1F)
    assert raw[p:p + 2] == b"\xc4\x20" and raw[-66:-64] == b"\xc4\x40", o["id"]
    author, sig = raw[p + 2:p + 34], raw[-64:]
    Ed25519PublicKey.from_public_bytes(author).verify(sig, b"knoten/object/1\x00\x97" + raw[1:-66])
    ids.add(o["id"])
want = {l.strip() for l in open(sys.argv[2]) if l.strip()}
assert want <= ids, f"{len(want - ids)} stored ids not exported"
print(f"independently verified {len(ids)} objects")
PYEOF
mkdir "$WORK/out"
"$KNOTEN" doc get "$DOC" -o "$WORK/out" --data "$WORK/r" >/dev/null 2>&1 || fail "doc get $DOC from the restored node"
"$KNOTEN" doc get "$OWN" -o "$WORK/out" --data "$WORK/r" >/dev/null 2>&1 || fail "doc get $OWN from the restored node"
cmp -s "$WORK/Haushaltsplan.pdf" "$WORK/out/Haushaltsplan.pdf" || fail "the fetched file differs after the restore"
cmp -s "$WORK/Satzung.pdf" "$WORK/out/Satzung.pdf" || fail "b's own file differs after the restore"
[ "$("$KNOTEN" status --json --data "$WORK/r" | "$PY" -c 'import json,sys; b=json.load(sys.stdin)["blobs"]; print(b["complete"], b["wanted"])')" = "2 0" ] ||
    fail "the restored node does not count its two complete files"

# ---- the restored node runs in b's place and syncs ----
stop_node b
"$KNOTEN" run --data "$WORK/r" --listen "127.0.0.1:$PB" --http off >>"$WORK/r.log" 2>&1 &
PIDS+=($!)
PID_r=$!
T=$("$KNOTEN" thread --data "$WORK/a" --space Nachher --title "Nach der Wiederherstellung" --body y) ||
    fail "thread on a"
wait_for 20 "the restored node receives a's new thread" has_object r "$T"
caught_up() { [ "$(object_ids a)" = "$(object_ids r)" ]; }
wait_for 20 "the restored node catches up with everything a published" caught_up
stop_node r

# ---- refusals ----
status=0
"$KNOTEN" restore "$WORK/backup" --data "$WORK/r" >"$WORK/refuse.out" 2>&1 || status=$?
[ "$status" = 1 ] && grep -q "is not empty (it holds node $ID_b); restoring would replace it" "$WORK/refuse.out" ||
    fail "restore into a node's directory not refused (status $status): $(cat "$WORK/refuse.out")"
"$KNOTEN" restore "$WORK/backup" --data "$WORK/r" --force >"$WORK/force.out" 2>&1 ||
    fail "restore --force: $(cat "$WORK/force.out")"
ls -d "$WORK"/r/replaced-*/store >/dev/null || fail "--force did not keep the old contents"
"$KNOTEN" backup "$WORK/nokeys" --no-keys --data "$WORK/a" >"$WORK/nokeys.out" 2>&1 || fail "backup --no-keys"
! ls "$WORK"/nokeys/*.key >/dev/null 2>&1 || fail "--no-keys backup holds keys"
grep -qx "keys no" "$WORK/nokeys/knoten-backup" || fail "--no-keys manifest"
"$KNOTEN" restore "$WORK/nokeys" --data "$WORK/r2" >"$WORK/r2.out" 2>&1 || fail "restore of --no-keys: $(cat "$WORK/r2.out")"
grep -q "holds no keys: put identity.key and network.key" "$WORK/r2.out" || fail "no hint about the keys"
status=0
"$KNOTEN" backup "$WORK/backup" --data "$WORK/a" >"$WORK/again.out" 2>&1 || status=$?
[ "$status" = 1 ] && grep -q "is not empty" "$WORK/again.out" || fail "backup over an existing backup"

# A copy with one bit of one object flipped (its id no longer matches): refused, nothing changed.
cp -r "$WORK/backup" "$WORK/bad"
"$PY" - "$WORK/r.jsonl" "$WORK/bad/store/data.mdb" <<'PYEOF' || fail "could not plant the damage"
import base64, json, sys
data = bytearray(open(sys.argv[2], "rb").read())
for line in open(sys.argv[1]):
    raw = base64.b64decode(json.loads(line)["raw"])
    at = data.find(raw)
    if at >= 0:
        data[at + len(raw) - 1] ^= 0x01  # the signature's last byte
        open(sys.argv[2], "wb").write(data)
        sys.exit(0)
sys.exit("no object found in data.mdb")
PYEOF
status=0
"$KNOTEN" restore "$WORK/bad" --data "$WORK/r3" >"$WORK/bad.out" 2>&1 || status=$?
[ "$status" = 1 ] && grep -q "the backup is damaged: .* Nothing in $WORK/r3 was changed" "$WORK/bad.out" ||
    fail "a damaged backup was not refused (status $status): $(cat "$WORK/bad.out")"
[ -z "$(ls -A "$WORK/r3")" ] || fail "the refused restore left files in $WORK/r3: $(ls -A "$WORK/r3")"
stop_node a
echo "ops_backup: ok"
