#!/bin/sh
# CI stage: tools/mechanisms-matrix.sh cut to CI's budget: on each of the ten kernel-mechanism
# combinations (tools/mechanisms.sh), the differential test against Wine (the tests/diff/*.ops
# scripts and WINVMEM_MECH_DIFF_COUNT (300) generated sequences), every stress_* program of the
# release build and the fuzzer for WINVMEM_MECH_FUZZ_SECONDS (6) s. Any failure fails the stage,
# and so does a missing Wine, mingw-w64 or clang. The linearizability checker on the ten:
# lin.sh.
set -eu
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
WINVMEM_MATRIX_DIFF_COUNT=${WINVMEM_MECH_DIFF_COUNT:-300} \
    WINVMEM_MATRIX_FUZZ_SECONDS=${WINVMEM_MECH_FUZZ_SECONDS:-6} \
    exec sh "$root/tools/mechanisms-matrix.sh" "$root"
