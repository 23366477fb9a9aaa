# Search across two real nodes: a thread published at a reaches b, where
# `knoten search` finds it with inflected German words (Gewerbesteuern,
# Bescheiden, Hauptstrasse for Hauptstraße), with the area and council
# filters, and as a compound part (Steuer); a thread b publishes itself is told
# apart by --council "Gemeinde b"; a Markdown document published at a is found
# on both nodes by the words of its file. When a retracts its thread, b's search stops
# finding it, while b's own thread is still found.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/repl_lib.bash"

init_founder a
init_admitted b
BASE=$(object_count a) # the network object and b's admit
PA=$(free_port)
PB=$(free_port)
"$KNOTEN" peer add "127.0.0.1:$PB" --data "$WORK/a" >/dev/null || fail "peer add on a"
start_node a "$PA"
start_node b "$PB"
wait_for 20 "a connects to b" peer_connected a "127.0.0.1:$PB"
wait_for 20 "b receives the network object and its admit" has_count b "$BASE"

# search_ids NAME ARGS...: the ids `knoten search --json` finds at NAME, one a line.
search_ids() {
    local name=$1
    shift
    "$KNOTEN" search --json --data "$WORK/$name" "$@" 2>>"$WORK/search-$name.err" |
        "$PY" -c 'import json, sys
for l in sys.stdin:
    if l.strip():
        print(json.loads(l)["id"])'
}
finds() { # finds NAME ID ARGS...: the search at NAME lists ID
    local name=$1 id=$2
    shift 2
    search_ids "$name" "$@" | grep -qx "$id"
}
finds_nothing() { # finds_nothing NAME ARGS...
    [ -z "$(search_ids "$@")" ]
}

T=$("$KNOTEN" thread --data "$WORK/a" --space Steuern \
    --title "Gewerbesteuer: Bescheide für 2026" \
    --body "Wie verschicken Sie die Bescheide zur Gewerbesteuer? Bei uns ändern sich die Hebesätze, und die Kasse sitzt jetzt in der Hauptstraße.") ||
    fail "knoten thread on a"
wait_for 10 "the thread reaches b" has_object b "$T"

finds b "$T" Gewerbesteuern || fail "b does not find the thread for \"Gewerbesteuern\""
finds b "$T" bescheiden hauptstrasse || fail "b does not find it for \"bescheiden hauptstrasse\""
finds b "$T" HEBESATZ || fail "b does not find it for \"HEBESATZ\""
finds b "$T" Gewerbesteuern --area Steuern || fail "--area Steuern loses the thread"
finds_nothing b Gewerbesteuern --area Vergaberecht || fail "--area Vergaberecht finds something"
finds b "$T" Gewerbesteuern --council "$ID_a" || fail "--council with a's key loses the thread"
finds_nothing b Gewerbesteuern --council "Gemeinde b" || fail "--council \"Gemeinde b\" finds a's thread"
finds_nothing b Gewerbesteuern --type link || fail "--type link finds a thread"

# The text output names the hit and the snippet shows the matching words.
"$KNOTEN" search --data "$WORK/b" gewerbesteuern >"$WORK/search.out" || fail "knoten search (text)"
grep -q "Gewerbesteuer: Bescheide für 2026" "$WORK/search.out" || fail "text output lacks the title"
grep -q "$T" "$WORK/search.out" || fail "text output lacks the id"

# b's own thread: a compound with "Steuer" as its last part.
U=$("$KNOTEN" thread --data "$WORK/b" --space Steuern --title "Grundsteuerreform" \
    --body "Wer hat die neuen Messbeträge schon?") || fail "knoten thread on b"
wait_for 10 "b's thread reaches a" has_object a "$U"
search_ids b Steuer >"$WORK/steuer.ids"
grep -qx "$T" "$WORK/steuer.ids" && grep -qx "$U" "$WORK/steuer.ids" ||
    fail "\"Steuer\" does not find both compounds at b: $(cat "$WORK/steuer.ids")"
[ "$(search_ids b Steuer --council "Gemeinde b")" = "$U" ] || fail "--council \"Gemeinde b\""

# A Markdown file published at a: a finds the doc by the words in the file at once,
# b by its title and file name, and by the words in the file once it has fetched it.
printf '# Winterdienst\n\nDie Räumpflicht beginnt um 7 Uhr; Streusalz liegt im Bauhof.\n' \
    >"$WORK/winterdienst.md"
D=$("$KNOTEN" doc publish "$WORK/winterdienst.md" --data "$WORK/a" --title "Merkblatt Glätte" \
    --area Ordnung 2>"$WORK/publish.err") || fail "knoten doc publish on a: $(cat "$WORK/publish.err")"
finds a "$D" Räumpflichten Bauhof || fail "a does not find its doc by the words of its file"
wait_for 10 "the doc reaches b" has_object b "$D"
finds b "$D" Glätte winterdienst --type doc || fail "b does not find the doc by title and file name"
file_text_at_b() { finds b "$D" Räumpflichten Bauhof; }
wait_for 20 "b finds the doc by the words of its file, once fetched" file_text_at_b

# Retraction at a takes the thread out of b's results; b's own thread stays.
"$KNOTEN" retract "$T" --data "$WORK/a" --reason "Entwurf" >/dev/null || fail "knoten retract on a"
retracted_at_b() { ! has_object b "$T"; }
wait_for 10 "the retraction reaches b" retracted_at_b
finds_nothing b Gewerbesteuern || fail "b still finds the retracted thread"
finds_nothing b bescheiden hauptstrasse || fail "b still finds the retracted thread by its body"
[ "$(search_ids b Steuer)" = "$U" ] || fail "after the retraction \"Steuer\" should find only b's thread"
"$KNOTEN" search --data "$WORK/b" Gewerbesteuern >/dev/null 2>"$WORK/none.err" ||
    fail "a search without results must still succeed"
grep -q "nothing found" "$WORK/none.err" || fail "no \"nothing found\" message"

no_violations a b
stop_node a
stop_node b
echo "search_two_nodes: ok"
