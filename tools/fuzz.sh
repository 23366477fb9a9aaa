#!/usr/bin/env bash
# Runs every libFuzzer target (or the ones named) for a chosen time under
# ASan+UBSan, each over a scratch copy of its checked-in corpus, so new
# corpus entries do not land in the tree unasked.
#
#   tools/fuzz.sh [SECONDS] [TARGET...]     default: 60 seconds, every target
#
# A crash leaves its input in build-fuzz/crashes/; add it to
# tests/fuzz/corpus/<target>/ so ctest replays it from then on.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
shift || true
build="$top/build-fuzz"
CC=clang cmake -S "$top" -B "$build" -DKN_FUZZ=ON -DKN_SANITIZE=ON >/dev/null
targets=("$@")
if ((${#targets[@]} == 0)); then
    for src in "$top"/tests/fuzz/fuzz_*.c; do
        targets+=("$(basename "$src" .c)")
    done
fi
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"
mkdir -p "$build/crashes"
status=0
for t in "${targets[@]}"; do
    scratch=$(mktemp -d)
    cp -r "$top/tests/fuzz/corpus/$t/." "$scratch/" 2>/dev/null || true
    echo "== $t for ${seconds}s =="
    "$build/tests/$t" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$build/crashes/$t-" "$scratch" || status=1
    rm -rf "$scratch"
done
exit $status
