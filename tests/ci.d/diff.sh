#!/bin/sh
# CI stage: differential test against Wine (tests/diff): 3000 generated op sequences plus the
# regression file, natively (release build) and under Wine; any divergence not documented in
# tests/diff/known_wine_differences.md fails. Skipped (exit 0, with a message) without wine.
set -eu
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
cmake --preset release >/dev/null && cmake --build --preset release -j2 --target wvm_interp wvm_interp_exe >/dev/null
rc=0
tests/diff/run_diff.sh build/release/tests/diff "${WINVMEM_DIFF_COUNT:-3000}" 1 || rc=$?
[ $rc -eq 77 ] && exit 0
exit $rc
