#!/usr/bin/env bash
# Documents on one node (issue 6): `knoten doc publish` of a multi-chunk file,
# ls, get -o DIR byte-identical, a new version with --supersedes (one line in
# ls, both in versions), the per-file and quota refusals with their messages,
# the fetch policy, documents by staff (--as), and retraction: the retracted
# document's file is gone from the store (a compacted copy made with mdb_copy -c
# no longer contains it) while a file the newer version shares stays. Then progress
# lines for a large file, and another council's document that arrives without its
# file (export/import, no network): what ls and get say, and the per-file limit.
set -euo pipefail
knoten=$1
work=$(mktemp -d /tmp/knoten-doc-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
a="$work/a"

"$knoten" init --data "$a" --found "Kommunen Test" >/dev/null

# A file of 3 MiB + 12,345 bytes (13 chunks) from the generator of tests/data/blob_vectors.py,
# and a small file full of a marker that must not survive the retraction.
/usr/bin/python3 - "$work" <<'EOF'
import sys
d = sys.argv[1]
n = 3 * 1024 * 1024 + 12345
with open(d + "/Antrag.pdf", "wb") as f:
    f.write(bytes(((i * 2654435761) & 0xFFFFFFFF) >> 24 for i in range(n)))
with open(d + "/Personalliste.txt", "wb") as f:
    f.write(b"PERSONALDATA-Erika-Mustermann-geb-1970\n" * 2000)
EOF
marker="PERSONALDATA-Erika-Mustermann"

v1=$("$knoten" doc publish --data "$a" "$work/Antrag.pdf" "$work/Personalliste.txt" \
    --title "Antrag auf Heizkostenzuschuss" --area Formulare --kind form --tag heizung \
    --lang de --valid-from 2026-01-01 --valid-until 2026-12-31 2>"$work/pub.err")
[[ $v1 =~ ^[0-9a-f]{64}$ ]] || fail "publish printed no id: $v1"
grep -q 'published 2 files (3.1 MiB) in "Formulare"' "$work/pub.err" || fail "publish message: $(cat "$work/pub.err")"

"$knoten" doc ls --data "$a" >"$work/ls.out"
grep -q "^$v1  .*  Formulare  form  Antrag auf Heizkostenzuschuss  \[2 files, 3.1 MiB, complete\]" \
    "$work/ls.out" || fail "ls: $(cat "$work/ls.out")"
"$knoten" show --data "$a" "$v1" --json | /usr/bin/python3 -c '
import json, sys
o = json.load(sys.stdin)
b = o["body"]
assert o["type"] == "doc" and o["space"] == "Formulare", o
assert b["kind"] == "form" and b["lang"] == "de" and b["tags"] == ["heizung"], b
assert b["valid_from"] == 1767225600000 and b["valid_until"] == 1798675200000, b
f = {x["name"]: x for x in b["files"]}
assert f["Antrag.pdf"]["size"] == 3158073 and f["Antrag.pdf"]["mime"] == "application/pdf", f
assert f["Personalliste.txt"]["mime"] == "text/plain", f
' || fail "the doc object"

"$knoten" check --data "$a" >/dev/null || fail "knoten check after publishing"

# get: byte-identical files, no overwriting without --force.
mkdir "$work/out"
"$knoten" doc get --data "$a" "$v1" -o "$work/out" >/dev/null
cmp "$work/Antrag.pdf" "$work/out/Antrag.pdf" || fail "Antrag.pdf differs"
cmp "$work/Personalliste.txt" "$work/out/Personalliste.txt" || fail "Personalliste.txt differs"
echo changed >"$work/out/Antrag.pdf"
out=$("$knoten" doc get --data "$a" "$v1" -o "$work/out" 2>&1) && fail "get overwrote files"
grep -q "exists; give --force" <<<"$out" || fail "get overwrite message: $out"
grep -q "^changed$" "$work/out/Antrag.pdf" || fail "get touched an existing file"
"$knoten" doc get --data "$a" "$v1" -o "$work/out" --force >/dev/null
cmp "$work/Antrag.pdf" "$work/out/Antrag.pdf" || fail "get --force"
out=$("$knoten" doc get --data "$a" "$v1" -o "$work/nowhere" 2>&1) && fail "get into a missing dir"
grep -q "output directory" <<<"$out" || fail "missing dir message: $out"

# A new version: one line in ls (the newest, 2 versions), both in versions.
v2=$("$knoten" doc publish --data "$a" "$work/Antrag.pdf" --supersedes "$v1" --description "Neu" 2>/dev/null)
[[ $v2 =~ ^[0-9a-f]{64}$ ]] || fail "v2 id: $v2"
"$knoten" doc ls --data "$a" >"$work/ls.out"
[ "$(wc -l <"$work/ls.out")" = 1 ] || fail "ls shows more than the newest version: $(cat "$work/ls.out")"
grep -q "^$v2  .*Antrag auf Heizkostenzuschuss  \[1 file, 3.0 MiB, complete, 2 versions\]" \
    "$work/ls.out" || fail "ls v2: $(cat "$work/ls.out")"
"$knoten" doc versions --data "$a" "$v1" >"$work/versions.out"
[ "$(sed -n 1p "$work/versions.out" | cut -c1-73)" = "current  $v2" ] || fail "versions: $(cat "$work/versions.out")"
[ "$(sed -n 2p "$work/versions.out" | cut -c1-73)" = "earlier  $v1" ] || fail "versions: $(cat "$work/versions.out")"
[ "$("$knoten" doc ls --data "$a" --all-versions | wc -l)" = 2 ] || fail "ls --all-versions"
[ "$("$knoten" doc ls --data "$a" --area Formulare | wc -l)" = 1 ] || fail "ls --area"
[ "$("$knoten" doc ls --data "$a" --area Corona 2>/dev/null | wc -l)" = 0 ] || fail "ls --area Corona"

# Limits: the per-file maximum and the council's quota refuse with the numbers and what to do.
"$knoten" doc limits --data "$a" | grep -q "^max-file  2.0 GiB" || fail "default max-file"
"$knoten" doc limits --data "$a" --max-file 1M | grep -q "^max-file  1.0 MiB" || fail "set max-file"
out=$("$knoten" doc publish --data "$a" "$work/Antrag.pdf" --title Gross 2>&1) && fail "over max-file published"
grep -q "larger than this node's per-file limit of 1.0 MiB" <<<"$out" || fail "max-file message: $out"
grep -q "knoten doc limits --max-file" <<<"$out" || fail "max-file message says nothing to do: $out"
# ... by its size, before reading it: a 64 MiB file (sparse) is refused without hashing.
truncate -s 64M "$work/Gross.bin"
out=$("$knoten" doc publish --data "$a" "$work/Gross.bin" --title Gross 2>&1) && fail "64 MiB over max-file published"
grep -q "larger than this node's per-file limit" <<<"$out" || fail "max-file message (64 MiB): $out"
grep -q "hashing" <<<"$out" && fail "the file was hashed before the size was checked: $out"
rm -f "$work/Gross.bin"
cp "$work/Antrag.pdf" "$work/Kopie.pdf" && echo x >>"$work/Kopie.pdf"
"$knoten" doc limits --data "$a" --max-file 2G --quota 4M >/dev/null
out=$("$knoten" doc publish --data "$a" "$work/Kopie.pdf" --title Kopie 2>&1) && fail "over quota published"
grep -q "over its storage quota: it uses 3.1 MiB of 4.0 MiB" <<<"$out" || fail "quota message: $out"
grep -q "knoten doc limits --quota" <<<"$out" || fail "quota message says nothing to do: $out"
out=$("$knoten" doc limits --data "$a" --quota lots 2>&1) && fail "bad quota accepted"
# A bare number is bytes: "2" (meant as 2G?) would refuse every file, so below 1M is refused,
# as [quota] max_file and files_per_council are in the configuration file.
out=$("$knoten" doc limits --data "$a" --max-file 2 2>&1) && fail "--max-file 2 (bytes) accepted"
grep -q "from 1M to 16G.*without a unit is bytes" <<<"$out" || fail "--max-file 2 message: $out"
out=$("$knoten" doc limits --data "$a" --quota 5 2>&1) && fail "--quota 5 (bytes) accepted"
grep -q "^quota     4.0 MiB per council" <("$knoten" doc limits --data "$a") || fail "refused --quota changed it"
grep -q "wants a size like 20G" <<<"$out" || fail "bad quota message: $out"
"$knoten" doc limits --data "$a" --quota unlimited | grep -q "^quota     unlimited" || fail "unlimited"
[ "$("$knoten" doc ls --data "$a" | wc -l)" = 1 ] || fail "a refused publish left a document"

# Policy.
[ "$("$knoten" doc policy --data "$a")" = eager ] || fail "default policy"
[ "$("$knoten" doc policy --data "$a" on-demand)" = on-demand ] || fail "set policy"
[ "$("$knoten" doc policy --data "$a")" = on-demand ] || fail "policy not kept"
out=$("$knoten" doc policy --data "$a" lazy 2>&1) && fail "bad policy accepted"
grep -q "eager or on-demand" <<<"$out" || fail "bad policy message: $out"

# Usage errors.
out=$("$knoten" doc publish --data "$a" "$work/Antrag.pdf" 2>&1) && fail "publish without a title"
grep -q -- "--title is required" <<<"$out" || fail "no title message: $out"
out=$("$knoten" doc publish --data "$a" "$work/nope.pdf" --title X 2>&1) && fail "missing file"
grep -q "cannot read .*nope.pdf" <<<"$out" || fail "missing file message: $out"
out=$("$knoten" doc publish --data "$a" "$work" --title X 2>&1) && fail "a directory published"
grep -q "not a regular file" <<<"$out" || fail "directory message: $out"
out=$("$knoten" doc publish --data "$a" "$work/Antrag.pdf" --title X --kind memo 2>&1) && fail "bad kind"
grep -q -- "--kind must be" <<<"$out" || fail "bad kind message: $out"
out=$("$knoten" doc publish --data "$a" "$work/Antrag.pdf" --title X --valid-from 2026-02-30 2>&1) \
    && fail "bad date"
grep -q "wants a date" <<<"$out" || fail "bad date message: $out"
t=$("$knoten" thread --data "$a" --space X --title T --body B)
out=$("$knoten" doc get --data "$a" "$t" 2>&1) && fail "get of a thread"
grep -q "is a thread, not a document" <<<"$out" || fail "not a doc message: $out"

# A member of staff publishes (--as): the node's council pays for it, and only its author
# may publish a new version; the node that certified her may retract it.
"$knoten" user add --data "$a" --name "Erika Muster" --role Personalamt >/dev/null 2>&1
echo "Merkblatt" >"$work/Merkblatt.txt"
u1=$("$knoten" doc publish --data "$a" "$work/Merkblatt.txt" --title Merkblatt --as "Erika Muster" 2>/dev/null)
"$knoten" doc limits --data "$a" | grep -q "this council uses 3.1 MiB" || fail "usage with staff doc"
out=$("$knoten" doc publish --data "$a" "$work/Merkblatt.txt" --supersedes "$u1" 2>&1) \
    && fail "the node published a new version of a staff document"
grep -q -- "--as USER" <<<"$out" || fail "supersedes message: $out"
u2=$("$knoten" doc publish --data "$a" "$work/Merkblatt.txt" --supersedes "$u1" --as "Erika Muster" \
    --description "Zweite Fassung" 2>/dev/null)
"$knoten" doc retract --data "$a" "$u2" >/dev/null 2>&1 || fail "the node cannot retract its staff's document"
[ "$("$knoten" doc ls --data "$a" | wc -l)" = 1 ] || fail "ls after retracting the staff document"

# Retraction: v1's own file goes from the store; the file it shares with v2 stays.
mkdir "$work/before" "$work/after"
mdb_copy -c "$a/store" "$work/before"
grep -q "$marker" "$work/before/data.mdb" || fail "the marker is not in the store before the retraction"
"$knoten" doc retract --data "$a" "$v1" --this-version-only --reason "Personenbezogene Daten" \
    >/dev/null 2>"$work/retract.err"
grep -q "removed from this node's store" "$work/retract.err" || fail "retract message: $(cat "$work/retract.err")"
mdb_copy -c "$a/store" "$work/after"
if grep -q "$marker" "$work/after/data.mdb"; then fail "the retracted file's bytes are still in the store"; fi
chunks=$(mdb_stat -s blob_chunks "$a/store" | awk '/Entries:/ {print $2}')
[ "$chunks" = 13 ] || fail "blob_chunks holds $chunks entries, want the 13 of the shared file"
out=$("$knoten" doc get --data "$a" "$v1" -o "$work/out" 2>&1) && fail "get of a retracted doc"
grep -q "was retracted" <<<"$out" || fail "retracted get message: $out"
mkdir "$work/out2"
"$knoten" doc get --data "$a" "$v2" -o "$work/out2" >/dev/null
cmp "$work/Antrag.pdf" "$work/out2/Antrag.pdf" || fail "the shared file after the retraction"
# Without --this-version-only every version goes: a two-version chain, retracted from its first.
echo "Fassung 1" >"$work/Dienstanweisung.txt"
w1=$("$knoten" doc publish --data "$a" "$work/Dienstanweisung.txt" --title Dienstanweisung \
    --kind instruction 2>/dev/null)
echo "Fassung 2" >"$work/Dienstanweisung.txt"
w2=$("$knoten" doc publish --data "$a" "$work/Dienstanweisung.txt" --supersedes "$w1" 2>/dev/null)
[ "$("$knoten" doc ls --data "$a" | wc -l)" = 2 ] || fail "ls with two documents"
out=$("$knoten" doc retract --data "$a" "$w1" 2>&1 >/dev/null)
grep -q "retracting all 2 versions" <<<"$out" || fail "retract of a chain: $out"
out=$("$knoten" doc get --data "$a" "$w2" -o "$work/out" 2>&1) && fail "get of the retracted newer version"
grep -q "was retracted" <<<"$out" || fail "retracted chain message: $out"
# The last reference goes: the store holds no chunk any more.
"$knoten" doc retract --data "$a" "$v2" >/dev/null 2>&1
chunks=$(mdb_stat -s blob_chunks "$a/store" | awk '/Entries:/ {print $2}')
[ "$chunks" = 0 ] || fail "blob_chunks holds $chunks entries after the last retraction"
[ "$("$knoten" doc ls --data "$a" 2>/dev/null | wc -l)" = 0 ] || fail "ls after retracting everything"
"$knoten" check --data "$a" >/dev/null || fail "knoten check after the retractions"
# Progress on stderr for a large file (8 MiB and more).
head -c $((9 * 1024 * 1024)) /dev/zero >"$work/gross.bin"
"$knoten" doc publish --data "$a" "$work/gross.bin" --title Gross >/dev/null 2>"$work/big.err"
grep -q "^hashing gross.bin: 9.0 MiB of 9.0 MiB (100%)" "$work/big.err" || fail "hash progress: $(cat "$work/big.err")"
grep -q "^storing gross.bin: 9.0 MiB of 9.0 MiB (100%)" "$work/big.err" || fail "store progress: $(cat "$work/big.err")"

# Another council's document arrives without its file (here by export and import, as a peer
# would send the signed object): ls and get say how far it is, and the limits refuse it.
b="$work/b"
bkey=$("$knoten" init --data "$b" --network-key-file "$a/network.key" | grep -o '[0-9a-f]\{64\}' | head -1)
"$knoten" admit --data "$a" "$bkey" --name "Gemeinde B" >/dev/null
"$knoten" export --data "$a" -o "$work/a.jsonl" 2>/dev/null
"$knoten" import --data "$b" "$work/a.jsonl" 2>/dev/null
fb=$("$knoten" doc publish --data "$b" "$work/Antrag.pdf" --title "Fremdes Formular" 2>/dev/null)
"$knoten" export --data "$b" -o "$work/b.jsonl" 2>/dev/null
"$knoten" import --data "$a" "$work/b.jsonl" 2>/dev/null
"$knoten" doc ls --data "$a" | grep -q "^$fb .*Fremdes Formular  \[1 file, 3.0 MiB, 0 of 13 chunks here\]" \
    || fail "ls of a remote doc: $("$knoten" doc ls --data "$a")"
out=$("$knoten" doc get --data "$a" "$fb" -o "$work/out2" 2>&1) && fail "get of a file that is not here"
grep -q "0 of 13 chunks are present" <<<"$out" || fail "get of a remote doc: $out"
grep -q "The node is not running" <<<"$out" || fail "get does not say the node is not running: $out"
"$knoten" doc limits --data "$a" --max-file 1M >/dev/null
"$knoten" doc ls --data "$a" | grep -q "^$fb .*refused: larger than this node's per-file limit" \
    || fail "ls of a refused remote doc: $("$knoten" doc ls --data "$a")"
out=$("$knoten" doc get --data "$a" "$fb" -o "$work/out2" 2>&1) && fail "get of a refused file"
grep -q "is not stored on this node: larger than this node's per-file limit" <<<"$out" \
    || fail "get of a refused file: $out"
out=$("$knoten" doc limits --data "$a" --max-file 2G 2>&1)
grep -q "1 file refused before is accepted now" <<<"$out" || fail "raising the limit: $out"
"$knoten" doc ls --data "$a" | grep -q "^$fb .*0 of 13 chunks here" || fail "accepted again"
out=$("$knoten" doc retract --data "$a" "$fb" 2>&1) && fail "retracted another council's document"
grep -q "only its author or the node that certified the author" <<<"$out" || fail "foreign retract: $out"
"$knoten" check --data "$a" >/dev/null || fail "knoten check with a remote doc"
echo "doc_local: ok"
