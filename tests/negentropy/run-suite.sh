#!/usr/bin/env bash
# Runs the Negentropy cross-implementation suite of hoytech/negentropy against
# kn_negentropy_harness, the C++ reference on the other side.
#
#   tests/negentropy/run-suite.sh NEGENTROPY_CHECKOUT HARNESS [quick|full]
#
# NEGENTROPY_CHECKOUT is a scratch clone of hoytech/negentropy (outside this
# repository) with test/cpp/hoytech-cpp checked out; HARNESS is the path of
# kn_negentropy_harness. The script builds the C++ harness if it is missing and
# teaches the clone's test/Utils.pm the harness name "ext", which runs
# $NEG_HARNESS_CMD. "quick" (the default) runs the protocol-version check, the
# two 50,000-record cross runs and the frame-limit DELTATRACE comparisons;
# "full" runs the suite's own test.pl cpp,ext. docs/negentropy.md has details.
set -euo pipefail

ref=${1:?usage: $0 NEGENTROPY_CHECKOUT HARNESS [quick|full]}
harness=${2:?usage: $0 NEGENTROPY_CHECKOUT HARNESS [quick|full]}
what=${3:-quick}

harness=$(cd "$(dirname "$harness")" && pwd)/$(basename "$harness")
[ -x "$harness" ] || { echo "not an executable: $harness (build kn_negentropy_harness first)" >&2; exit 2; }
[ -f "$ref/test/Utils.pm" ] || { echo "no test/Utils.pm under $ref: is it a negentropy clone?" >&2; exit 2; }
[ -f "$ref/test/cpp/hoytech-cpp/hoytech/hex.h" ] || {
    echo "test/cpp/hoytech-cpp is missing: clone hoytech/hoytech-cpp there (see docs/negentropy.md)" >&2
    exit 2
}

cd "$ref/test"
[ -x cpp/harness ] || make -C cpp harness

if ! grep -q "NEG_HARNESS_CMD" Utils.pm; then
    perl -pi -e 's/^(\s*)if \(\$harnessType eq .cpp.\) \{/$1if (\$harnessType eq q{ext}) {\n$1    return \$ENV{NEG_HARNESS_CMD};\n$1} elsif (\$harnessType eq q{cpp}) {/' Utils.pm
    grep -q "NEG_HARNESS_CMD" Utils.pm || { echo "could not add the ext branch to Utils.pm" >&2; exit 2; }
fi
export NEG_HARNESS_CMD="$harness"

step() {
    echo "== $*"
    bash -c "$*" | tail -n 3
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "FAILED: $*" >&2; exit 1; }
}

delta() {
    local opts=$1
    echo "== DELTATRACE cpp/cpp vs ext/ext: $opts"
    if ! diff -u <(env $opts DELTATRACE=1 perl fuzz.pl cpp cpp | grep DELTATRACE) \
                 <(env $opts DELTATRACE=1 perl fuzz.pl ext ext | grep DELTATRACE) >/dev/null; then
        echo "FAILED: messages differ from the reference for $opts" >&2
        exit 1
    fi
    echo "identical"
}

case $what in
quick)
    step perl protoversion.pl ext
    step "RECS=50000 P1=2 P2=2 P3=7 NODUPS=1 perl fuzz.pl ext cpp"
    step "RECS=50000 P1=2 P2=2 P3=7 NODUPS=1 perl fuzz.pl cpp ext"
    step "RECS=100000 FRAMESIZELIMIT1=60000 FRAMESIZELIMIT2=500000 P1=1 P2=1 P3=5 perl fuzz.pl ext cpp"
    step "RECS=100000 FRAMESIZELIMIT1=60000 FRAMESIZELIMIT2=500000 P1=1 P2=1 P3=5 perl fuzz.pl cpp ext"
    delta "RECS=100000 FRAMESIZELIMIT1=60000 FRAMESIZELIMIT2=500000 P1=1 P2=1 P3=10"
    delta "RECS=200000 FRAMESIZELIMIT1=30000 FRAMESIZELIMIT2=200000 P1=1 P2=1 P3=10"
    delta "SEED=3 MAX_RECS=20000 FRAMESIZELIMIT1=4096 FRAMESIZELIMIT2=4096 P1=1 P2=1 P3=3"
    ;;
full)
    perl test.pl cpp,ext
    ;;
*)
    echo "unknown mode: $what (quick or full)" >&2
    exit 2
    ;;
esac
echo "ALL PASSED ($what)"
