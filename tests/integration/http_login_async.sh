#!/usr/bin/env bash
# Password checks (Argon2id) run on the thread pool, not on the node's loop
# (node/http_auth.c): while a login's check is held (KNOTEN_TEST_LOGIN_HOLD:
# checks wait until a file exists), the node answers other requests; the
# login completes once released; attempts in parallel cannot get around the
# rate limit; a client that leaves during its check harms nothing. The checks
# are in http_login_check.py.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/peers_lib.bash"

HP=$(free_port)
init_web a
"$KNOTEN" user add --data "$WORK/a" --name "Max Mustermann" --role Ordnungsamt \
    --login max --activate >/dev/null 2>"$WORK/add2.err" </dev/null || fail "user add --activate"
LINK=$(grep -o 'http://[^ ]*/activate?t=[0-9a-f]*' "$WORK/add2.err") || fail "no activation link"
touch "$WORK/release"
KNOTEN_TEST_LOGIN_HOLD="$WORK/release" start_web a "$HP"
grep -q "KNOTEN_TEST_LOGIN_HOLD is set" "$WORK/a.log" || fail "the test hold is not announced"
"$PY" "$(dirname "${BASH_SOURCE[0]}")/http_login_check.py" "http://127.0.0.1:$HP" \
    "$WORK/release" "${LINK##*t=}" || fail "http_login_check.py failed"
echo "http_login_async: ok"
