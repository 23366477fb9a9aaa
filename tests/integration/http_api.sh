#!/usr/bin/env bash
# The HTTP layer against a real node (issue 8): health, metrics, login with
# session cookie flags, CSRF refusal, login rate limiting, activation links,
# objects created over the API and the pages, escaping of script in titles
# and bodies, body size bound, paths that try to leave /static/. The checks
# are in http_check.py; this script starts the node.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/peers_lib.bash"

HP=$(free_port)
PP=$(free_port)
"$KNOTEN" init --data "$WORK/a" --found "Kommunen Test" >/dev/null 2>&1 || fail "init"
echo "geheim-passwort" | "$KNOTEN" user add --data "$WORK/a" --name "Erika Muster" \
    --role Personalamt --login erika --admin --password-stdin >/dev/null 2>"$WORK/add.err" ||
    fail "user add --login --password-stdin: $(cat "$WORK/add.err")"
"$KNOTEN" user add --data "$WORK/a" --name "Max Mustermann" --role Ordnungsamt \
    --login max --activate >/dev/null 2>"$WORK/add2.err" </dev/null || fail "user add --activate"
LINK=$(grep -o 'http://[^ ]*/activate?t=[0-9a-f]*' "$WORK/add2.err") || fail "no activation link printed"
"$KNOTEN" user logins --data "$WORK/a" | grep -q "^max .*activation pending" || fail "user logins"
# The link names where the node last served the web; before the first run that is the default.
[[ $LINK == http://127.0.0.1:8470/activate\?t=* ]] || fail "link $LINK"
TOKEN=${LINK##*t=}

"$KNOTEN" run --data "$WORK/a" --listen "127.0.0.1:$PP" --http "127.0.0.1:$HP" 2>"$WORK/a.log" &
PID_A=$!
PIDS+=("$PID_A")
wait_for 10 "web interface is up" grep -q "web interface on http://127.0.0.1:$HP/" "$WORK/a.log"

"$PY" "$(dirname "${BASH_SOURCE[0]}")/http_check.py" "http://127.0.0.1:$HP" "$TOKEN" ||
    fail "http_check.py failed"
# Revoking a member of staff ends their web sessions at once and removes the login
# (a session went on reading for its 12 hours).
echo "geheim-passwort" | "$KNOTEN" user add --data "$WORK/a" --name "Weg Gang" --role Amt \
    --login weg --password-stdin >/dev/null 2>&1 || fail "user add weg"
"$PY" - "$(dirname "${BASH_SOURCE[0]}")" "http://127.0.0.1:$HP" "$KNOTEN" "$WORK/a" <<'PY' ||
import subprocess, sys
sys.path.insert(0, sys.argv[1])
from http_lib import Client, check
c = Client(sys.argv[2], "weg")
st, _, _ = c.req("GET", "/api/session")
check(st == 200, "weg's session before the revocation: %d" % st)
out = subprocess.run([sys.argv[3], "user", "revoke", "Weg Gang", "--data", sys.argv[4]],
                     capture_output=True, text=True)
check(out.returncode == 0, "user revoke: " + out.stderr)
check('web login "weg" removed' in out.stderr, "revoke does not say the login went: " + out.stderr)
st, _, _ = c.req("GET", "/api/session")
check(st == 401, "weg's session after the revocation: %d" % st)
# Whatever takes the user's key away ends the session, not only the CLI's revoke.
out = subprocess.run([sys.argv[3], "user", "add", "--data", sys.argv[4], "--name", "Ohne Schluessel",
                      "--role", "Amt", "--login", "ohne", "--password-stdin"],
                     input="geheim-passwort\n", capture_output=True, text=True)
check(out.returncode == 0, "user add ohne: " + out.stderr)
c = Client(sys.argv[2], "ohne")
st, _, _ = c.req("GET", "/api/session")
check(st == 200, "ohne's session with the key: %d" % st)
import os
logins = subprocess.run([sys.argv[3], "user", "logins", "--data", sys.argv[4]],
                        capture_output=True, text=True).stdout
key = [l.split()[2] for l in logins.splitlines() if l.startswith("ohne ")][0]
path = os.path.join(sys.argv[4], "users", key + ".key")
os.rename(path, path + ".away")
st, _, _ = c.req("GET", "/api/session")
check(st == 401, "ohne's session without the key: %d" % st)
os.rename(path + ".away", path)
PY
    fail "a revoked user's web session"
"$KNOTEN" user logins --data "$WORK/a" | grep -q "^weg " && fail "the revoked user's login is still listed"
# A second node on the same web port: logged, and the node runs on.
"$KNOTEN" init --data "$WORK/b" --network-key-file "$WORK/a/network.key" >/dev/null 2>&1
"$KNOTEN" run --data "$WORK/b" --listen "127.0.0.1:$(free_port)" --http "127.0.0.1:$HP" 2>"$WORK/b.log" &
PIDS+=("$!")
wait_for 10 "b says the web port is taken" grep -q "web interface is off: cannot listen" "$WORK/b.log"
wait_for 10 "b runs on" grep -q "running, data in" "$WORK/b.log"
# SIGTERM with a keep-alive connection open: the node still stops cleanly, and at once.
"$PY" -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); s.recv(1000); time.sleep(8)' "$HP" &
PIDS+=("$!")
sleep 0.5
kill -TERM "$PID_A"
wait_for 5 "a stops with a web connection open" grep -q "stopped$" "$WORK/a.log"
wait "$PID_A" || fail "a exited with $?"
echo "http_api: ok"
