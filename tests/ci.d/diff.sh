#!/bin/sh
# CI stage: differential test against Wine (tests/diff): the hand-written sequences of
# tests/diff/*.ops, then WINVMEM_DIFF_COUNT (default 3000) generated sequences, natively (release
# build) and under Wine; any divergence not documented in tests/diff/known_wine_differences.md
# fails. Skipped (exit 0, with a message) without wine or mingw-w64.
set -eu
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target wvm_interp wvm_interp_exe >/dev/null
bin=build/release/tests/diff
rc=0
for f in tests/diff/*.ops; do
    tests/diff/run_diff.sh "$bin" file "$f" || rc=$?
    [ $rc -eq 77 ] && exit 0
done
tests/diff/run_diff.sh "$bin" "${WINVMEM_DIFF_COUNT:-3000}" 1 || rc=$?
[ $rc -eq 77 ] && exit 0
exit $rc
