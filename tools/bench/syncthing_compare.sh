#!/usr/bin/env bash
# syncthing_compare.sh (issue 6 item 6): the same two workloads as bench_docs,
# moved once by knoten and once by Syncthing, side by side on this machine.
#
#   tools/bench/syncthing_compare.sh [BUILD_DIR] [small|big|both] [RUNS]
#
# BUILD_DIR defaults to build/ (it must hold tools/knoten and
# tools/bench_docs). Workloads: "small", 1,000 files of 50 KiB; "big", 20
# files of 5 MiB, the very bytes bench_docs publishes (bench_docs --export).
#
# knoten: bench_docs runs two `knoten run` processes, a with the documents
# published, b dialling a; wall time from b's start until every file is
# complete in b's store (see tools/bench/bench_docs.c).
#
# Syncthing (Debian's package): two instances on 127.0.0.1 with their own
# homes, TCP listeners on free loopback ports, each knowing the other's
# device id and address; global discovery, local discovery, relays, NAT
# traversal, usage reporting, crash reporting and upgrades are off. a shares
# the workload's directory as a send-only folder, b receives it into an
# empty directory (receive-only). a is started first and left to finish its
# initial scan (hashing the files, as knoten's publish did before its
# timing starts); then b is started and its REST API (/rest/db/status,
# with the generated API key) is polled every 50 ms until it holds every
# file and needs nothing. Wall time = from b's start to that moment, as for
# knoten. CPU = user + system seconds of both processes over that span.
# Afterwards b's files are compared with the originals byte for byte.
#
# Each workload is run RUNS times (default 3), knoten and Syncthing taking
# turns so that both see the same changes in the machine's load; the medians
# are compared. Prints both median wall times, the CPU figures of the median
# runs and the ratio knoten / Syncthing per workload, against the target:
# knoten at most half of Syncthing's wall time (ratio <= 0.5), and every
# single run's figures before. The machine may be shared: wall times are
# noisy, CPU seconds less so. Everything lives under /tmp/knoten-stcmp.*,
# removed at the end.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$top/build}
WHICH=${2:-both}
RUNS=${3:-3}
BENCH=$BUILD/tools/bench_docs
PY=/usr/bin/python3
[ -x "$BENCH" ] || { echo "syncthing_compare: $BENCH not found; build first (cmake --build build)" >&2; exit 1; }
command -v syncthing >/dev/null || { echo "syncthing_compare: syncthing is not installed (apt-get install syncthing)" >&2; exit 1; }
case "$WHICH" in small | big | both) ;; *) echo "usage: $0 [BUILD_DIR] [small|big|both] [RUNS]" >&2; exit 2 ;; esac
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || { echo "syncthing_compare: RUNS must be 1 to 99" >&2; exit 2; }

WORK=$(mktemp -d /tmp/knoten-stcmp.XXXXXX)
cleanup() {
    pkill -TERM -f "syncthing serve --home $WORK/" 2>/dev/null || true
    sleep 0.5
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BENCH" --export "$WORK/files"

# run_syncthing WORKLOAD RUN: prints "wall_s cpu_a_s cpu_b_s" for Syncthing moving WORK/files/WORKLOAD.
run_syncthing() {
    "$PY" - "$WORK" "$1" "$2" <<'PYEOF'
import json, os, shutil, socket, subprocess, sys, time, urllib.request
import xml.etree.ElementTree as ET

work, wl, run = sys.argv[1], sys.argv[2], sys.argv[3]
src = os.path.join(work, "files", wl)
nfiles = len([f for f in os.listdir(src) if not f.startswith(".")])  # not Syncthing's .stfolder
env = dict(os.environ, STNOUPGRADE="1", STNODEFAULTFOLDER="1", STNORESTART="1")

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p

def device_id(home):
    return subprocess.check_output(["syncthing", "serve", "--home", home, "--device-id"],
                                   env=env, text=True).strip()

def setopt(opts, name, value):
    for e in opts.findall(name):
        opts.remove(e)
    ET.SubElement(opts, name).text = value

def configure(home, me, other, other_port, gui_port, listen_port, path, ftype, key):
    t = ET.parse(os.path.join(home, "config.xml"))
    r = t.getroot()
    gui = r.find("gui")
    gui.find("address").text = "127.0.0.1:%d" % gui_port
    gui.find("apikey").text = key
    o = r.find("options")
    setopt(o, "listenAddress", "tcp://127.0.0.1:%d" % listen_port)
    for name, value in (("globalAnnounceEnabled", "false"), ("localAnnounceEnabled", "false"),
                        ("relaysEnabled", "false"), ("natEnabled", "false"),
                        ("startBrowser", "false"), ("urAccepted", "-1"),
                        ("autoUpgradeIntervalH", "0"), ("crashReportingEnabled", "false"),
                        ("setLowPriority", "false")):
        setopt(o, name, value)
    d = ET.SubElement(r, "device", id=other, name="peer", compression="metadata",
                      introducer="false")
    ET.SubElement(d, "address").text = "tcp://127.0.0.1:%d" % other_port
    f = ET.SubElement(r, "folder", id="bench", label="bench", path=path, type=ftype,
                      rescanIntervalS="3600", fsWatcherEnabled="false")
    ET.SubElement(f, "device", id=me)
    ET.SubElement(f, "device", id=other)
    t.write(os.path.join(home, "config.xml"))

def status(port, key):
    req = urllib.request.Request("http://127.0.0.1:%d/rest/db/status?folder=bench" % port,
                                 headers={"X-API-Key": key})
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return json.load(r)
    except Exception:
        return None

def cpu(pid):
    """CPU seconds of pid and its descendants (syncthing serve runs a monitor and a child)."""
    total = 0.0
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                total += sum(cpu(int(c)) for c in f.read().split())
    except OSError:
        pass
    return total

homes = [os.path.join(work, "st-%s-%s-%s" % (wl, run, n)) for n in "ab"]
dst = os.path.join(work, "recv-%s-%s" % (wl, run))
os.makedirs(dst)
for h in homes:
    subprocess.check_call(["syncthing", "generate", "--home", h, "--no-default-folder",
                           "--skip-port-probing"], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
ids = [device_id(h) for h in homes]
gui = [free_port(), free_port()]
lis = [free_port(), free_port()]
key = "knoten-bench-" + wl
configure(homes[0], ids[0], ids[1], lis[1], gui[0], lis[0], src, "sendonly", key)
configure(homes[1], ids[1], ids[0], lis[0], gui[1], lis[1], dst, "receiveonly", key)

def start(h):
    return subprocess.Popen(["syncthing", "serve", "--home", h, "--no-browser", "--no-restart",
                             "--logfile=" + h + ".log"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

pa = start(homes[0])
deadline = time.time() + 300
while True:  # a has scanned every file
    st = status(gui[0], key)
    if st and st.get("state") == "idle" and st.get("localFiles") == nfiles:
        break
    if time.time() > deadline:
        sys.exit("syncthing a did not finish scanning")
    time.sleep(0.05)
a0 = cpu(pa.pid)
t0 = time.monotonic()
pb = start(homes[1])
deadline = time.time() + 600
while True:
    st = status(gui[1], key)
    if st and st.get("localFiles") == nfiles and st.get("needFiles") == 0 \
            and st.get("state") == "idle":
        wall = time.monotonic() - t0
        ca, cb = cpu(pa.pid) - a0, cpu(pb.pid)
        break
    if time.time() > deadline:
        sys.exit("syncthing b did not receive every file")
    time.sleep(0.05)
for p in (pa, pb):
    p.terminate()
for p in (pa, pb):
    p.wait(timeout=30)
if subprocess.call(["diff", "-rq", src, dst], stdout=subprocess.DEVNULL) != 0:
    sys.exit("syncthing b's files differ from the originals")
for d in homes + [dst]:
    shutil.rmtree(d, ignore_errors=True)
print("%.3f %.3f %.3f" % (wall, ca, cb))
PYEOF
}

# median FILE: the line of FILE ("wall cpu_a cpu_b" per line) with the median wall time.
median() {
    sort -n "$1" | sed -n "$(((RUNS + 1) / 2))p"
}

fail=0
for wl in small big; do
    [ "$WHICH" = both ] || [ "$WHICH" = "$wl" ] || continue
    : >"$WORK/k-$wl" >"$WORK/s-$wl"
    for run in $(seq "$RUNS"); do
        kline=$("$BENCH" --workload "$wl" | tee "$WORK/knoten-$wl.out" | sed -n "s/^RESULT $wl //p")
        [ -n "$kline" ] || { cat "$WORK/knoten-$wl.out" >&2; echo "syncthing_compare: bench_docs failed" >&2; exit 1; }
        sed -n 's/.*wall_s=\([0-9.]*\) cpu_a_s=\([0-9.]*\) cpu_b_s=\([0-9.]*\).*/\1 \2 \3/p' <<<"$kline" >>"$WORK/k-$wl"
        run_syncthing "$wl" "$run" >>"$WORK/s-$wl"
        echo "run $run, $wl: knoten $(tail -1 "$WORK/k-$wl"), Syncthing $(tail -1 "$WORK/s-$wl") (wall s, CPU a s, CPU b s)"
    done
done
echo
printf '%-6s %10s %14s %11s %14s %8s  %s\n' workload "knoten s" "knoten CPU a/b" "Syncthing s" "Syncthing CPU" ratio "target <= 0.50"
for wl in small big; do
    [ -s "$WORK/k-$wl" ] || continue
    read -r kwall kca kcb < <(median "$WORK/k-$wl")
    read -r swall sca scb < <(median "$WORK/s-$wl")
    ratio=$("$PY" -c "print('%.2f' % ($kwall / $swall))")
    ok=$("$PY" -c "print('met' if $kwall <= 0.5 * $swall else 'NOT met')")
    [ "$ok" = met ] || fail=1
    printf '%-6s %10s %14s %11s %14s %8s  %s\n' "$wl" "$kwall" "$kca/$kcb" "$swall" "$sca/$scb" "$ratio" "$ok"
done
echo "(medians of $RUNS runs each)"
grep -h "^raw rates" "$WORK"/knoten-*.out | head -1
echo "(wall times on a shared machine are noisy; CPU seconds less so)"
exit $fail
