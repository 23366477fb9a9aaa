#!/usr/bin/python3
"""Runs the Noise interop scenarios: knoten's noise_peer against dissononce_peer.py.

    run_interop.py /path/to/noise_peer

Each scenario runs in both roles (knoten responder / dissononce initiator, then
the reverse) over 127.0.0.1. The listener prints "PORT <n>"; the other side
connects. Both processes must exit 0 within the time limit.
"""
import os
import select
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
PEER = os.path.join(HERE, "dissononce_peer.py")
NETKEY = "6b6e6f74656e2d696e7465726f702d6e6574776f726b2d6b65792d3332627974"
WRONG_KEY = NETKEY[:-2] + "75"
LIMIT = 90

# (name, scenario, dissononce netkey, dissononce prologue, expectation)
CASES = [
    ("success", "basic", NETKEY, "knoten/1", "ok"),
    ("max-size message", "max", NETKEY, "knoten/1", "ok"),
    ("rekey", "rekey", NETKEY, "knoten/1", "ok"),
    ("wrong network key", "basic", WRONG_KEY, "knoten/1", "reject"),
    ("wrong prologue", "basic", NETKEY, "knoten/2", "reject"),
]


def read_port(proc, deadline):
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
            raise RuntimeError("listener printed no port")
        ch = os.read(proc.stdout.fileno(), 1)  # unbuffered: select() sees the rest
        if not ch:
            raise RuntimeError("listener exited before printing its port")
        line += ch
    if not line.startswith(b"PORT "):
        raise RuntimeError("unexpected listener output %r" % line)
    return line.split()[1].decode()


def run_case(noise_peer, name, scenario, key, prologue, expect, knoten_listens):
    ours = lambda mode, port: [noise_peer, mode, port, scenario, NETKEY, expect]
    theirs = lambda mode, port: [PY, PEER, mode, port, scenario, key, prologue, expect]
    first = ours if knoten_listens else theirs
    second = theirs if knoten_listens else ours
    deadline = time.monotonic() + LIMIT
    a = subprocess.Popen(first("listen", "0"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    b = None
    try:
        port = read_port(a, deadline)
        b = subprocess.Popen(second("connect", port), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        outs = []
        for p in (a, b):
            out, err = p.communicate(timeout=max(1, deadline - time.monotonic()))
            outs.append((p.returncode, out.decode(errors="replace"), err.decode(errors="replace")))
    except (subprocess.TimeoutExpired, RuntimeError) as e:
        for p in (a, b):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        return False, "timeout or no port: %s" % e
    ok = all(rc == 0 for rc, _, _ in outs)
    labels = ("knoten", "dissononce") if knoten_listens else ("dissononce", "knoten")
    detail = "; ".join("%s rc=%d %s%s" % (lab, rc, out.strip().replace("\n", " "),
                                           (" [stderr: %s]" % err.strip()) if err.strip() else "")
                       for lab, (rc, out, err) in zip(labels, outs))
    return ok, detail


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: run_interop.py /path/to/noise_peer")
    noise_peer = sys.argv[1]
    failures = 0
    for name, scenario, key, prologue, expect in CASES:
        for knoten_listens in (True, False):
            role = "knoten responder" if knoten_listens else "knoten initiator"
            t0 = time.monotonic()
            ok, detail = run_case(noise_peer, name, scenario, key, prologue, expect,
                                  knoten_listens)
            print("%s %-18s %-17s %5.2fs  %s" % ("PASS" if ok else "FAIL", name, role,
                                               time.monotonic() - t0, detail), flush=True)
            failures += not ok
    print("%d failure(s)" % failures)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
