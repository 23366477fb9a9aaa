#!/usr/bin/env bash
# The listing API answers from a cache of rendered listings (node/http_api.c)
# and must answer exactly what a fresh rendering would: the same bytes as an
# uncached request, and every write to the store shows at once, whether the
# node made it (API) or another process on the same data directory (CLI),
# including a new person's name. The checks are in http_listing_check.py.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/peers_lib.bash"

HP=$(free_port)
init_web a
for i in 1 2 3; do
    "$KNOTEN" thread --data "$WORK/a" --space Vergaberecht --title "Frage $i" --body "Text $i" \
        >/dev/null 2>&1 || fail "thread $i"
done
start_web a "$HP"
"$PY" "$(dirname "${BASH_SOURCE[0]}")/http_listing_check.py" "http://127.0.0.1:$HP" "$KNOTEN" \
    "$WORK/a" || fail "http_listing_check.py failed"
echo "http_listing: ok"
