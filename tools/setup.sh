#!/usr/bin/env bash
# Sets up a Debian 12 machine for knoten, builds it, and then either runs a
# node or runs the whole test suite.
#
#   tools/setup.sh run     install what is missing, build, run `knoten run`
#   tools/setup.sh test    install what is missing, build the normal and the
#                          ASan+UBSan configurations, run every test in both
#   tools/setup.sh build   install what is missing and build only
#
# Run it as root from the top of the checkout (or anywhere: it finds itself).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

# Every package knoten needs, from Debian 12 only. Nothing is downloaded from
# anywhere else at build or test time.
packages=(
    build-essential cmake pkg-config git
    libuv1-dev libsodium-dev libmsgpack-dev liblmdb-dev libjansson-dev
    libcmocka-dev
    clang libclang-rt-14-dev clang-format   # libFuzzer targets, sanitizers, formatting
    python3 python3-dissononce python3-cryptography  # independent Noise peer and signer for tests
    libstemmer-dev                            # Snowball stemmers for the search index
    lmdb-utils iproute2 procps
    libinih-dev                             # the configuration file (node/config.c)
    libcmark-dev                            # Markdown, rendered safely (forums, feeds)
    python3-icalendar python3-feedparser    # independent parsers for the .ics and Atom tests
    libh2o-dev libssl-dev                   # web interface (h2o, libuv flavour; its headers need OpenSSL's)
    nodejs npm chromium wrk                 # browser tests (Playwright drives Debian's chromium), HTTP benchmark
    systemd man-db                          # systemd-analyze verify/security of the unit, its man page
    debootstrap dpkg-dev                    # the .deb (cpack, dpkg-shlibdeps) and its clean-root test
    syncthing                               # tools/bench/syncthing_compare.sh (the file transfer baseline)
)

install_missing() {
    local missing=()
    for p in "${packages[@]}"; do
        # A nodejs build that bundles npm (and conflicts with Debian's npm) satisfies npm.
        [ "$p" = npm ] && command -v npm >/dev/null && continue
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    if ((${#missing[@]})); then
        if [ "$(id -u)" -ne 0 ]; then
            echo "setup: these Debian packages are missing: ${missing[*]}" >&2
            echo "setup: run this script as root, or install them with apt-get." >&2
            exit 1
        fi
        echo "setup: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y "${missing[@]}"
    fi
}

build() { # build DIR [cmake options...]
    local dir=$1
    shift
    cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
}

case "${1:-}" in
run)
    install_missing
    build "$top/build"
    shift
    exec "$top/build/tools/knoten" run "$@"
    ;;
test)
    install_missing
    build "$top/build"
    build "$top/build-asan" -DKN_SANITIZE=ON
    status=0
    echo "== tests: release build =="
    (cd "$top/build" && ctest --output-on-failure) || status=1
    echo "== tests: ASan+UBSan build =="
    (cd "$top/build-asan" &&
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
            ctest --output-on-failure) || status=1
    exit $status
    ;;
build)
    install_missing
    build "$top/build"
    ;;
*)
    echo "usage: tools/setup.sh run|test|build" >&2
    exit 2
    ;;
esac
