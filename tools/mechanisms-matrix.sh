#!/bin/sh
# NOT a CI stage yet (tests/ci.d/ runs every script there): about 20 min here.
# The differential test and the stress programs on every kernel-mechanism
# combination other than the default one (tools/mechanisms.sh; the default one is covered by
# diff.sh and the debug/ASan/TSan stages):
#   - the hand-written tests/diff/*.ops and WINVMEM_MATRIX_DIFF_COUNT (400) generated sequences
#     against Wine per combination (a missing Wine or mingw-w64 fails the stage, see
#     tools/require.sh);
#   - every stress_* test of the release build per combination.
#   tools/mechanisms-matrix.sh [ROOT]
# The long run of every combination: tests/lin/README.md ("Long runs").
set -eu
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
. tools/require.sh
require mechanisms "Wine and mingw-w64 (the differential test)" wine x86_64-w64-mingw32-gcc
. tools/mechanisms.sh
cmake --preset release >/dev/null
cmake --build --preset release -j2 >/dev/null
bin=build/release/tests/diff
i=0
for c in $WVM_COMBOS; do
    i=$((i + 1))
    [ "$c" = 111 ] && continue
    mech_show "$c" build/release/tools/winvmem/winvmem
    for f in tests/diff/*.ops; do
        mech_check mechanisms "$c: differential test of $f" \
            mech_run "$c" tests/diff/run_diff.sh "$bin" file "$f"
    done
    mech_check mechanisms "$c: differential test" mech_run "$c" tests/diff/run_diff.sh "$bin" \
        "${WINVMEM_MATRIX_DIFF_COUNT:-400}" "$i"
    mech_check mechanisms "$c: stress tests" \
        mech_run "$c" ctest --test-dir build/release -R '^stress_' --output-on-failure
done
exit $mech_failed
