#!/usr/bin/env bash
# The Debian package: `cpack -G DEB` builds it from this build directory, and
# it is installed with dpkg into a clean Debian 12 root made by this test
# (debootstrap --variant=minbase bookworm, from the machine's configured
# Debian mirror, plus exactly the libraries the package's Depends names).
# There, `knoten --version` runs, `dpkg -s knoten` says installed, postinst
# made the user knoten and /var/lib/knoten (0700), the default configuration
# passes `knoten run --check`, and the service user can create a node.
# Removing keeps the conffile and the data; purging drops the conffile.
#
# Making the root downloads ~45 MB and installs ~90 packages (about two
# minutes): debootstrap's own package tarball (--make-tarball) is cached
# under the build directory, and so is the clean root with the libraries
# (deb-root-cache/, keyed by the mirror and the package list), so a rerun
# unpacks a fresh copy of it in seconds instead.
set -euo pipefail
KNOTEN=$(realpath "${1:?usage: bash ops_deb.sh PATH-TO-KNOTEN BUILD-DIR}")
BUILD=$(realpath "${2:?usage: bash ops_deb.sh PATH-TO-KNOTEN BUILD-DIR}")
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/knoten-deb.XXXXXX)
ROOT=$WORK/root
# Shared by the release and the sanitizer build of one checkout (.cache/ is git-ignored),
# so `tools/setup.sh test` makes the clean root once.
CACHE=$(realpath "$(dirname "$0")/../..")/.cache/deb-root-cache

cleanup() {
    if mountpoint -q "$ROOT/proc" 2>/dev/null; then umount -l "$ROOT/proc" || true; fi
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "scratch kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
# Every command in the root is bounded (a hung apt-get or dpkg must not stall the suite).
in_root() { timeout 300 chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    ASAN_OPTIONS=detect_leaks=0 LANG=C.UTF-8 "$@"; }

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot)"
for tool in cpack debootstrap dpkg-deb dpkg-shlibdeps chroot; do
    command -v "$tool" >/dev/null || fail "$tool is missing; tools/setup.sh installs it"
done

# ---- the package ----
(cd "$BUILD" && timeout 300 cpack -G DEB -B "$WORK/pkg" >"$WORK/cpack.log" 2>&1) ||
    fail "cpack -G DEB failed: $(tail -20 "$WORK/cpack.log")"
DEB=$(ls "$WORK"/pkg/knoten_*.deb)
dpkg-deb -c "$DEB" >"$WORK/contents"
for f in ./usr/bin/knoten ./usr/lib/systemd/system/knoten.service ./usr/share/man/man1/knoten.1.gz \
    ./etc/knoten/knoten.conf ./usr/share/doc/knoten/config.md; do
    grep -q " $f\$" "$WORK/contents" || fail "the package lacks $f"
done
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles | grep -qx /etc/knoten/knoten.conf ||
    fail "/etc/knoten/knoten.conf is not a conffile"
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
for lib in libuv1 libsodium23 liblmdb0 libjansson4 libinih1 passwd; do
    [[ $DEPENDS == *"$lib"* ]] || fail "Depends lacks $lib: $DEPENDS"
done
# Package names only, sorted: the libraries the clean root gets besides minbase.
INCLUDE=$(printf '%s\n' "$DEPENDS" | tr ',' '\n' | sed 's/^ *//; s/[ (|].*//' | sed '/^$/d' | sort -u | paste -sd,)

# ---- the machine's Debian mirror ----
MIRROR=$("$PY" - <<'PYEOF'
import glob, re, sys
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) \
    + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
for path in files:
    try:
        text = open(path).read()
    except OSError:
        continue
    if path.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            f = {}
            for line in stanza.splitlines():
                m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                if m:
                    f[m.group(1).lower()] = m.group(2).split()
            if "deb" in f.get("types", []) and "bookworm" in f.get("suites", []) \
                    and "main" in f.get("components", []) and f.get("enabled", ["yes"])[0] != "no":
                print(f["uris"][0]); sys.exit(0)
    else:
        for line in text.splitlines():
            w = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
            if len(w) >= 4 and w[0] == "deb" and w[2] == "bookworm" and "main" in w[3:]:
                print(w[1]); sys.exit(0)
sys.exit("no 'deb ... bookworm main' source in /etc/apt/sources.list*")
PYEOF
) || fail "cannot find the Debian mirror"
echo "mirror $MIRROR, extra packages $INCLUDE"

# ---- a clean Debian 12 root ----
KEY=$(printf '%s %s' "$MIRROR" "$INCLUDE" | sha256sum | cut -c1-16)
mkdir -p "$CACHE" "$ROOT"
if [ ! -s "$CACHE/root-$KEY.tar" ]; then
    start=$SECONDS
    # The minbase download depends on the mirror only; the libraries come from apt inside.
    MKEY=$(printf '%s' "$MIRROR" | sha256sum | cut -c1-16)
    if [ ! -s "$CACHE/minbase-$MKEY.tgz" ]; then
        timeout 300 debootstrap --make-tarball="$CACHE/minbase-$MKEY.tgz.part" --variant=minbase \
            bookworm "$WORK/download" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
            fail "debootstrap --make-tarball failed: $(tail -20 "$WORK/debootstrap.log")"
        mv "$CACHE/minbase-$MKEY.tgz.part" "$CACHE/minbase-$MKEY.tgz"
    fi
    timeout 400 debootstrap --unpack-tarball="$CACHE/minbase-$MKEY.tgz" --variant=minbase \
        bookworm "$ROOT" "$MIRROR" >>"$WORK/debootstrap.log" 2>&1 ||
        fail "debootstrap failed: $(tail -20 "$WORK/debootstrap.log")"
    # Exactly the packages the .deb depends on, as `apt-get install ./knoten.deb` would add.
    mount -t proc proc "$ROOT/proc"
    (in_root apt-get update && in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends ${INCLUDE//,/ } && in_root apt-get clean) >"$WORK/apt.log" 2>&1 ||
        fail "apt-get in the clean root failed: $(tail -20 "$WORK/apt.log")"
    umount "$ROOT/proc"
    tar -C "$ROOT" -cf "$CACHE/root-$KEY.tar.part" . && mv "$CACHE/root-$KEY.tar.part" "$CACHE/root-$KEY.tar"
    echo "made the clean root in $((SECONDS - start)) s (cached as $CACHE/root-$KEY.tar)"
else
    tar -C "$ROOT" -xf "$CACHE/root-$KEY.tar"
    echo "unpacked the cached clean root"
fi
grep -q '^VERSION_CODENAME=bookworm' "$ROOT/etc/os-release" || fail "the root is not Debian 12"
! in_root dpkg -s knoten >/dev/null 2>&1 || fail "the clean root already has knoten"
[ ! -e "$ROOT/usr/bin/knoten" ] || fail "the clean root already has /usr/bin/knoten"
! in_root getent passwd knoten >/dev/null || fail "the clean root already has the user knoten"

# ---- install ----
mount -t proc proc "$ROOT/proc" # ASan builds read /proc/self/maps; nothing else needs it
cp "$DEB" "$ROOT/tmp/knoten.deb"
in_root dpkg -i /tmp/knoten.deb >"$WORK/dpkg.log" 2>&1 || fail "dpkg -i failed: $(cat "$WORK/dpkg.log")"
in_root dpkg -s knoten | grep -qx "Status: install ok installed" || fail "dpkg -s knoten: not installed"
want=$("$KNOTEN" --version)
got=$(in_root knoten --version) || fail "knoten --version does not run in the clean root"
[ "$got" = "$want" ] || fail "knoten --version in the root says \"$got\", the build says \"$want\""
echo "in the clean root: $got"
in_root getent passwd knoten | grep -q ':/var/lib/knoten:/usr/sbin/nologin$' || fail "user knoten: $(in_root getent passwd knoten)"
mode() { in_root stat -c '%a %U %G' "$1"; } # names as the root knows them
[ "$(mode /var/lib/knoten)" = "700 knoten knoten" ] || fail "/var/lib/knoten is $(mode /var/lib/knoten)"
[ "$(mode /etc/knoten/knoten.conf)" = "640 root knoten" ] ||
    fail "/etc/knoten/knoten.conf is $(mode /etc/knoten/knoten.conf)"
cmp -s "$ROOT/usr/lib/systemd/system/knoten.service" "$(dirname "$0")/../../packaging/knoten.service" ||
    fail "the installed unit differs from packaging/knoten.service"
zcat "$ROOT/usr/share/man/man1/knoten.1.gz" | grep >/dev/null '^\.TH KNOTEN 1' || fail "no manual page"
in_root knoten run --config /etc/knoten/knoten.conf --check >"$WORK/check.out" 2>&1 ||
    fail "the default configuration does not pass --check: $(cat "$WORK/check.out")"
grep -q "data         /var/lib/knoten" "$WORK/check.out" || fail "--check: $(cat "$WORK/check.out")"
# The service user can make a node in its data directory, with 0600 keys.
in_root /usr/sbin/runuser -u knoten -- knoten init --data /var/lib/knoten --found "Testnetz" >"$WORK/init.out" 2>&1 ||
    fail "knoten init as user knoten: $(cat "$WORK/init.out")"
[ "$(mode /var/lib/knoten/identity.key)" = "600 knoten knoten" ] || fail "identity.key mode"
in_root /usr/sbin/runuser -u knoten -- knoten status --data /var/lib/knoten | grep -q "^network  *Testnetz" ||
    fail "knoten status as user knoten"
# A second install (an upgrade to the same version) keeps everything.
in_root dpkg -i /tmp/knoten.deb >>"$WORK/dpkg.log" 2>&1 || fail "reinstalling failed"
[ -e "$ROOT/var/lib/knoten/identity.key" ] || fail "reinstalling lost the node"

# ---- remove, purge ----
in_root dpkg -r knoten >>"$WORK/dpkg.log" 2>&1 || fail "dpkg -r failed"
[ ! -e "$ROOT/usr/bin/knoten" ] || fail "dpkg -r left the binary"
[ -e "$ROOT/etc/knoten/knoten.conf" ] || fail "dpkg -r removed the conffile"
[ -e "$ROOT/var/lib/knoten/identity.key" ] || fail "dpkg -r removed the node's keys"
in_root dpkg --purge knoten >>"$WORK/dpkg.log" 2>&1 || fail "dpkg --purge failed"
[ ! -e "$ROOT/etc/knoten/knoten.conf" ] || fail "purge left the conffile"
[ -e "$ROOT/var/lib/knoten/identity.key" ] || fail "purge removed the node's keys"
echo "ops_deb: ok"
