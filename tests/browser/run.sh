#!/usr/bin/env bash
# Browser tests of the web interface (issue 8): `knoten demo` starts three
# councils on 127.0.0.1, then web.mjs drives Debian's chromium (headless,
# through playwright-core from the npm registry, pinned in package-lock.json)
# against two of them: forum, documents (upload with progress, download),
# polls, events with RSVP, direct messages, and the security checks. Called by ctest as: bash run.sh PATH-TO-KNOTEN
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KNOTEN=${1:?usage: run.sh PATH-TO-KNOTEN}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "browser tests: $CHROMIUM is missing (apt-get install chromium)" >&2; exit 1; }
command -v npm >/dev/null || { echo "browser tests: npm is missing (apt-get install nodejs npm)" >&2; exit 1; }
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
    (cd "$HERE" && npm ci --no-audit --no-fund >/dev/null) ||
        { echo "browser tests: npm ci failed (is the npm registry reachable?)" >&2; exit 1; }
fi
W=$(mktemp -d /tmp/knoten-browser.XXXXXX)
DEMO=
cleanup() {
    if [ -n "$DEMO" ]; then kill -TERM "$DEMO" 2>/dev/null || true; wait "$DEMO" 2>/dev/null || true; fi
    rm -rf "$W"
}
trap cleanup EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Three free ports in a row for the peers and three for the web.
pick3() {
    /usr/bin/python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 32000)
    try:
        socks = []
        for p in range(base, base + 3):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
PY
}
PP=$(pick3)
WP=$(pick3)
"$KNOTEN" demo --dir "$W/demo" --port "$PP" --web-port "$WP" >"$W/demo.out" 2>"$W/demo.err" &
DEMO=$!
for _ in $(seq 600); do
    grep -q "Stop with Ctrl-C" "$W/demo.out" 2>/dev/null && break
    kill -0 "$DEMO" 2>/dev/null || { cat "$W/demo.err" >&2; echo "browser tests: knoten demo failed" >&2; exit 1; }
    sleep 0.1
done
grep -q "Stop with Ctrl-C" "$W/demo.out" || { cat "$W/demo.err" >&2; echo "browser tests: demo did not start in 60 s" >&2; exit 1; }
cd "$HERE"
CHROMIUM="$CHROMIUM" timeout 150 node web.mjs "http://127.0.0.1:$WP/" "http://127.0.0.1:$((WP + 1))/" "$W"
