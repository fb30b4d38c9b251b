#!/bin/sh
# Every kernel-mechanism combination a kernel can leave a user with (issue 11;
# tools/mechanisms.sh: guard markers x userfaultfd x PROCMAP_QUERY), and WINVMEM_MARKER_DATA under 11x: all ten, each with
#   - the differential test against Wine: the hand-written tests/diff/*.ops and
#     WINVMEM_MATRIX_DIFF_COUNT generated sequences, seeded by the combination's place;
#   - every stress_* program of the release build (ctest -R '^stress_'), except the _fallback
#     and _nouffd variants, which set the mechanisms themselves;
#   - the fuzzer (fuzz/run_fuzz.sh) for WINVMEM_MATRIX_FUZZ_SECONDS per combination.
#   tools/mechanisms-matrix.sh [ROOT]
# The long run by default (5000 sequences, 120 s of fuzzing per combination: an estimated
# 30-40 min on the 2-core machine); CI's cut-down run is tests/ci.d/mechanisms.sh. The linearizability
# checker on the ten: tests/ci.d/lin.sh, tests/lin/README.md ("Long runs").
# Any failure fails the run; so does a missing Wine, mingw-w64 or clang (tools/require.sh).
set -eu
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
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
    t0=$(date +%s)
    mech_show "$c" build/release/tools/winvmem/winvmem
    for f in tests/diff/*.ops; do
        mech_check mechanisms "$c: differential test of $f" \
            mech_run "$c" tests/diff/run_diff.sh "$bin" file "$f"
    done
    mech_check mechanisms "$c: differential test" mech_run "$c" tests/diff/run_diff.sh "$bin" \
        "${WINVMEM_MATRIX_DIFF_COUNT:-5000}" "$i"
    mech_check mechanisms "$c: stress tests" mech_run "$c" ctest --test-dir build/release -j2 \
        -R '^stress_' -E '_(fallback|nouffd)$' --no-tests=error --output-on-failure
    echo "$c: $(($(date +%s) - t0)) s"
done
# one build of the fuzzer (ASan + UBSan), then one run per combination
# shellcheck disable=SC2086
mech_check mechanisms "fuzzer" fuzz/run_fuzz.sh "${WINVMEM_MATRIX_FUZZ_SECONDS:-120}" $WVM_COMBOS
exit $mech_failed
