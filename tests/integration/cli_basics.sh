#!/usr/bin/env bash
# The command line as a new user meets it (issue 2): init, thread, post, link,
# ls, show, status, export and import into a fresh directory with identical
# ids, --help on every command, and clear errors for common mistakes.
set -euo pipefail
knoten=$1
work=$(mktemp -d /tmp/knoten-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
a="$work/a"
b="$work/b"

# Every command has --help, and it exits 0.
# --help (and a bad option) creates nothing, not even in the default data directory
# (`knoten import --help` made a node in /var/lib/knoten as root).
for cmd in $("$knoten" --help | awk '/^commands:/{on=1;next} on && !NF {exit} on {print $1}'); do
    KNOTEN_DATA="$work/default" "$knoten" "$cmd" --help | grep -q "^usage: knoten $cmd" || fail "$cmd --help"
    KNOTEN_DATA="$work/default" "$knoten" "$cmd" --no-such-option >/dev/null 2>&1 && fail "$cmd --no-such-option"
    [ ! -e "$work/default" ] || fail "$cmd --help or a bad option created $work/default"
done
# The help names every option and subcommand the README uses.
for word in --login --admin --password-stdin --activate "user passwd" "user logins"; do
    "$knoten" user --help | grep -q -- "$word" || fail "user --help does not mention $word"
done
"$knoten" --version | grep -q '^knoten ' || fail "--version"

# A typo gets the nearest command, an option before the command says where it goes,
# each in a line or two (not the whole overview), exit 2.
out=$("$knoten" stauts 2>&1) && fail "typo accepted"
grep -q 'unknown command "stauts"; did you mean `knoten status`?' <<<"$out" || fail "typo message: $out"
[ "$(wc -l <<<"$out")" -le 2 ] || fail "typo message is $(wc -l <<<"$out") lines"
out=$("$knoten" --data "$a" status 2>&1) && fail "--data before the command accepted"
grep -q "options come after the command" <<<"$out" || fail "--data first: $out"
rc=0
"$knoten" "$(printf 'st\xffus')" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "non-UTF-8 command: exit $rc"

# Commands before init say what to do.
out=$("$knoten" ls --data "$a" 2>&1) && fail "ls without a node succeeded"
grep -q "knoten init" <<<"$out" || fail "ls without a node does not point to init: $out"

# A network name the schema refuses leaves nothing behind, so the corrected command works.
for bad in "" "$(printf 'S\xfcdwest')" "$(head -c 201 /dev/zero | tr '\0' x)"; do
    out=$("$knoten" init --data "$a" --found "$bad" 2>&1) && fail "init --found \"$bad\" succeeded"
    grep -q "nothing was created" <<<"$out" || fail "init with a bad name: $out"
    [ ! -e "$a" ] || fail "init with a bad name left $a behind"
done
"$knoten" init --data "$a" --found "Kommunen Test" >"$work/init.out"
[ "$(stat -c %a "$a/identity.key")" = 600 ] || fail "identity.key is not 0600"
[ "$(stat -c %a "$a/network.key")" = 600 ] || fail "network.key is not 0600"
[ "$(stat -c %a "$a")" = 700 ] || fail "data directory is not 0700"
out=$("$knoten" init --data "$a" 2>&1) && fail "second init succeeded"
grep -q "already holds" <<<"$out" || fail "second init message: $out"

t=$("$knoten" thread --data "$a" --space Vergaberecht --title "Nachweise?" --body "Wie?" --tag vergabe)
[[ $t =~ ^[0-9a-f]{64}$ ]] || fail "thread id: $t"
p=$("$knoten" post --data "$a" "$t" --body "So.")
p2=$("$knoten" post --data "$a" "$t" --reply-to "$p" --body "Danke.")
l=$("$knoten" link --data "$a" --space Vergaberecht --url https://example.org/x --title Handbuch)

# Bad input is refused with a reason, and nothing is stored.
out=$("$knoten" link --data "$a" --space X --url ftp://x --title T 2>&1) && fail "ftp link accepted"
grep -q "http" <<<"$out" || fail "ftp link message: $out"
out=$("$knoten" post --data "$a" 0123 --body x 2>&1) && fail "short id accepted"
grep -q "64 hexadecimal" <<<"$out" || fail "short id message: $out"
out=$("$knoten" thread --data "$a" --space "" --title T 2>&1) && fail "empty area accepted"
# Too large, too long an area, not UTF-8: each says what and how much.
big=$(head -c 70000 /dev/zero | tr '\0' x)
out=$("$knoten" thread --data "$a" --area X --title T --body "$big" 2>&1) && fail "70 KB thread accepted"
grep -q "at most 64 KiB" <<<"$out" || fail "too large message: $out"
out=$("$knoten" thread --data "$a" --area "${big:0:65}" --title T 2>&1) && fail "65-byte area accepted"
grep -q "area name is 65 bytes long; it may have at most 64" <<<"$out" || fail "long area message: $out"
out=$("$knoten" thread --data "$a" --area "$(printf 'Stra\xdfe')" --title T 2>&1) && fail "Latin-1 area accepted"
grep -q "not valid UTF-8.*iconv" <<<"$out" || fail "Latin-1 area message: $out"
out=$("$knoten" post --data "$a" "$t" --body "$(printf 'Gr\xfc\xdfe')" 2>&1) && fail "Latin-1 post accepted"
grep -q "not valid UTF-8.*iconv" <<<"$out" || fail "Latin-1 post message: $out"

"$knoten" ls --data "$a" >"$work/ls.out"
for id in "$t" "$p" "$p2" "$l"; do
    grep -q "^${id:0:16}" "$work/ls.out" || fail "ls misses $id"
done
[ "$("$knoten" ls --data "$a" --type post | wc -l)" = 3 ] || fail "ls --type post"
[ "$("$knoten" ls --data "$a" --space Vergaberecht --type thread | wc -l)" = 2 ] || fail "ls --space"
"$knoten" ls --data "$a" --json | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert len(rows) == 5, len(rows)           # network, thread, 2 posts, link
assert {r["type"] for r in rows} == {"network", "thread", "post", "link"}
' || fail "ls --json"

"$knoten" show --data "$a" "$t" >"$work/show.out"
grep -q "Nachweise?" "$work/show.out" || fail "show lacks the title"
grep -q "pointing here" "$work/show.out" || fail "show lacks the replies"
"$knoten" show --data "$a" "$t" --json | /usr/bin/python3 -c '
import json, sys; o = json.load(sys.stdin); assert o["body"]["tags"] == ["vergabe"], o' \
    || fail "show --json"
"$knoten" status --data "$a" --json | /usr/bin/python3 -c '
import json, sys; s = json.load(sys.stdin)
assert s["store"]["objects"] == 5, s
assert s["network"]["name"] == "Kommunen Test", s' || fail "status --json"

# The 16-digit ids `knoten ls` prints work for show and retract; too short, not
# hex, or matching nothing is refused with a reason.
"$knoten" show --data "$a" "${t:0:16}" | grep -q "^id  *$t" || fail "show with the id prefix from ls"
"$knoten" show --data "$a" "${t:0:8}" --json | grep -q "\"$t\"" || fail "show with an 8-digit prefix"
out=$("$knoten" show --data "$a" "${t:0:7}" 2>&1) && fail "show with a 7-digit prefix"
grep -q "first 8 or more" <<<"$out" || fail "short prefix message: $out"
out=$("$knoten" show --data "$a" "zz${t:0:14}" 2>&1) && fail "show with a non-hex id"
out=$("$knoten" show --data "$a" "ffffffffffff" 2>&1) && [ "${t:0:12}" != ffffffffffff ] && fail "show of nothing"
grep -q "no object here has an id starting with ffffffffffff" <<<"$out" || fail "no match message: $out"

# Export, import into a fresh directory: the same ids, all verified.
"$knoten" export --data "$a" -o "$work/export.jsonl"
[ "$(wc -l <"$work/export.jsonl")" = 5 ] || fail "export line count"
"$knoten" import --data "$b" "$work/export.jsonl" 2>"$work/import.err" || {
    cat "$work/import.err"
    fail "import"
}
grep -q "imported 5 new" "$work/import.err" || fail "import summary: $(cat "$work/import.err")"
diff <("$knoten" ls --data "$a" --json --limit 0 | /usr/bin/python3 -c 'import json,sys; print("\n".join(sorted(json.loads(l)["id"] for l in sys.stdin)))') \
     <("$knoten" ls --data "$b" --json --limit 0 | /usr/bin/python3 -c 'import json,sys; print("\n".join(sorted(json.loads(l)["id"] for l in sys.stdin)))') \
    || fail "ids differ after export/import"

# A second import changes nothing; a tampered line is refused with its reason.
"$knoten" import --data "$b" "$work/export.jsonl" 2>"$work/import2.err"
grep -q "5 already present" "$work/import2.err" || fail "re-import: $(cat "$work/import2.err")"
# A long import shows its progress (every 2 s, counted at each batch of 1024 lines):
# 1025 lines, a pause, 1025 more.
{
    for _ in $(seq 205); do cat "$work/export.jsonl"; done
    sleep 2.2
    for _ in $(seq 205); do cat "$work/export.jsonl"; done
} | "$knoten" import --data "$work/slow" - 2>"$work/slow.err"
grep -q "^knoten: importing: 2048 lines read; so far 5 new" "$work/slow.err" ||
    fail "no import progress: $(cat "$work/slow.err")"
# Reading standard input at a terminal says what it waits for and how to end (it
# looked like a hang): `knoten import` without FILE, and `invite check -`, in a pty.
/usr/bin/python3 - "$knoten" "$work/tty" <<'PY' || fail "no prompt when reading a terminal"
import os, pty, select, sys, time
for args in (["import", "--data", sys.argv[2]], ["invite", "check", "-"]):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.argv[1], [sys.argv[1]] + args)
    seen, deadline = b"", time.time() + 5
    while b"Ctrl-D" not in seen and time.time() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    os.write(fd, b"\x04")
    time.sleep(0.2)
    os.kill(pid, 9) if os.waitpid(pid, os.WNOHANG) == (0, 0) else None
    if b"from the terminal" not in seen:
        sys.exit("%s: no prompt, got %r" % (args[0], seen))
PY
/usr/bin/python3 - "$work/export.jsonl" >"$work/bad.jsonl" <<'PY'
import base64, json, sys
lines = open(sys.argv[1]).read().splitlines()
o = json.loads(lines[1]); raw = bytearray(base64.b64decode(o["raw"])); raw[-1] ^= 1
o["raw"] = base64.b64encode(bytes(raw)).decode(); print(json.dumps(o)); print("not json")
PY
out=$("$knoten" import --data "$b" "$work/bad.jsonl" 2>&1) && fail "tampered import succeeded"
grep -q "line 1: refused: signature does not verify" <<<"$out" || fail "tampered: $out"
grep -q "line 2: refused: not JSON" <<<"$out" || fail "not json: $out"

# Retraction removes the content and keeps the id refused (by the prefix `ls` shows).
"$knoten" retract --data "$a" "${l:0:16}" --reason "Tippfehler" >/dev/null
out=$("$knoten" show --data "$a" "$l" 2>&1) && fail "retracted link still shown"
grep -q "retracted" <<<"$out" || fail "retracted message: $out"

# A store without identity.key (a backup made with --no-keys, restored) is not
# an empty directory: status says to put the keys back, and run, init, import
# refuse rather than give it a new identity.
"$knoten" backup --data "$a" --no-keys "$work/bk" >/dev/null 2>&1 || fail "backup --no-keys"
"$knoten" restore "$work/bk" --data "$work/r" >/dev/null 2>&1 || fail "restore of a keyless backup"
# Restoring from a data directory instead of a backup, or from nothing, says which.
out=$("$knoten" restore "$a" --data "$work/r2" 2>&1) && fail "restore from a data directory"
grep -q "is a node's data directory, not a backup" <<<"$out" || fail "restore from a node: $out"
out=$("$knoten" restore "$work/nothing" --data "$work/r2" 2>&1) && fail "restore from nothing"
grep -q "there is no backup $work/nothing" <<<"$out" || fail "restore from nothing: $out"
for cmd in "status" "init" "import /dev/null" "run --listen off --http off"; do
    # shellcheck disable=SC2086
    out=$(timeout 5 "$knoten" $cmd --data "$work/r" 2>&1) && fail "$cmd on a keyless store succeeded"
    grep -q "no identity.key" <<<"$out" || fail "$cmd on a keyless store: $out"
    [ ! -e "$work/r/identity.key" ] || fail "$cmd on a keyless store made a new identity"
done

# A directory that is not readable (another user's) is not "no node": say so,
# and never try to create one there. --data naming a file says that too.
if [ "$(id -u)" = 0 ]; then
    as_other() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    cp "$knoten" "$work/knoten-copy" && chmod 755 "$work" "$work/knoten-copy"
    kn=$work/knoten-copy
else
    as_other() { "$@"; }
    chmod 000 "$a"
    kn=$knoten
fi
for cmd in "status" "init" "run --listen off --http off"; do
    # shellcheck disable=SC2086
    out=$(as_other timeout 5 "$kn" $cmd --data "$a" 2>&1) && fail "$cmd on an unreadable directory succeeded"
    grep -q "cannot read $a: permission denied" <<<"$out" || fail "$cmd on an unreadable dir: $out"
done
chmod 700 "$a"
out=$("$knoten" status --data "$work/export.jsonl" 2>&1) && fail "status on a file succeeded"
grep -q "is not a directory" <<<"$out" || fail "status --data FILE: $out"

# Every key the configuration file takes (from the refusal of an unknown one)
# is in docs/config.md and in the manual page.
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
for section in node log http limits quota; do
    printf '[%s]\nno_such_key = 1\n' "$section" >"$work/keys.conf"
    keys=$("$knoten" run --config "$work/keys.conf" --check 2>&1 | sed -n "s/.*; allowed: //p" || true)
    [ -n "$keys" ] || fail "no allowed keys for [$section]"
    for key in ${keys//,/ }; do
        grep -q "\`$key\`" "$src/docs/config.md" || fail "docs/config.md lacks [$section] $key"
        grep -Eq "^\.BR? $key( |$)" "$src/packaging/knoten.1.in" || fail "the man page lacks [$section] $key"
    done
done

# `run --check` warns when the data directory holds no node (a typo in data =
# would found a network of its own), and creates nothing.
"$knoten" run --data "$work/typo" --check | grep -q "holds no node yet" || fail "run --check on an empty dir"
[ ! -e "$work/typo" ] || fail "run --check created the data directory"
"$knoten" run --data "$a" --check | grep -q "holds no node" && fail "run --check on a node warns"

# --trusted-proxy is an IP address (compared with the client's as the web server writes
# it, so written the same way); anything else is refused, not silently never matched.
out=$("$knoten" run --data "$a" --trusted-proxy 127.0.0.1:8080 --check 2>&1) && fail "proxy with a port accepted"
grep -q "trusted-proxy takes the reverse proxy's IP address" <<<"$out" || fail "proxy message: $out"
"$knoten" run --data "$a" --trusted-proxy 0:0:0:0:0:0:0:1 --check | grep -q "trusted proxy ::1 " ||
    fail "proxy address not normalised"

# `knoten run` founds a node only in a new or empty directory ("if it is empty", as its
# help says), not in a directory of other files given by mistake.
mkdir -p "$work/other" && echo x >"$work/other/notes.txt"
out=$(timeout 5 "$knoten" run --data "$work/other" --listen off --http off 2>&1) && fail "run in a non-empty dir"
grep -q "holds files but no knoten node" <<<"$out" || fail "run in a non-empty dir: $out"
[ ! -e "$work/other/identity.key" ] || fail "run made a node among other files"
"$knoten" run --data "$work/other" --check | grep -q "holds files but no node" || fail "--check on a non-empty dir"

# One node per data directory: a second `knoten run` is refused while the first runs.
"$knoten" run --data "$a" --listen off --http off 2>"$work/run1.err" &
run1=$!
for _ in $(seq 50); do
    "$knoten" status --data "$a" | grep -q "^node  *running" && break
    sleep 0.1
done
out=$(timeout 5 "$knoten" run --data "$a" --listen off --http off 2>&1) && fail "second run succeeded"
grep -q "a node is already running on $a (pid $run1)" <<<"$out" || fail "second run: $out"
kill -0 "$run1" || fail "the first node stopped"
kill "$run1" && wait "$run1" || true
echo "cli_basics: all checks passed"
