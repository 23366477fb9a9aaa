#!/usr/bin/env bash
# Writes the manual page knoten.1 from the template knoten.1.in: the version,
# the date, and a COMMANDS section made of every command's own --help text,
# so the page never falls behind the program. Called by the build
# (packaging/CMakeLists.txt):
#
#   gen_man.sh KNOTEN TEMPLATE OUT VERSION DATE
set -euo pipefail
knoten=$1 template=$2 out=$3 version=$4 date=$5
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# roff: a backslash is \e, a minus is \-, and a line may not start with . or '.
to_roff() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

commands=$("$knoten" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ -n "$commands" ] || { echo "gen_man.sh: $knoten --help lists no commands" >&2; exit 1; }
for c in $commands; do
    summary=$("$knoten" --help | awk -v c="$c" '$1 == c { $1 = ""; sub(/^ +/, ""); print; exit }')
    printf '.SS "knoten %s"\n' "$c"
    printf '%s\n' "$summary" | to_roff
    printf '.PP\n.nf\n'
    "$knoten" help "$c" | sed 's/^usage: //' | to_roff
    printf '.fi\n'
done >"$tmp"

awk -v cmds="$tmp" -v version="$version" -v date="$date" '
    /^@COMMANDS@$/ { while ((getline l < cmds) > 0) print l; next }
    { gsub(/@VERSION@/, version); gsub(/@DATE@/, date); print }
' "$template" >"$out.tmp"
mv "$out.tmp" "$out"
