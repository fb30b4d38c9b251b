#!/bin/sh
# CI stage: the linearizability checker (tests/lin/README.md), bounded:
#   1. under ThreadSanitizer with the default mechanisms, WINVMEM_LIN_TSAN_SECONDS (60);
#   2. release build, on each of the eight kernel-mechanism combinations (tools/mechanisms.sh),
#      WINVMEM_LIN_SECONDS (20) each.
# Any violation, inconclusive search (exit 3), crash, hung fork child or sanitizer report fails
# the stage; the violating slot's whole history is kept in build/lin-histories/.
# The long run of every combination: tests/lin/README.md ("Long runs").
set -eu
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
. tools/mechanisms.sh
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target lin_check winvmem_cli >/dev/null
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j2 --target lin_check >/dev/null
export LIN_DUMP_DIR="$root/build/lin-histories"
mkdir -p "$LIN_DUMP_DIR"
seed=${WINVMEM_LIN_SEED:-$(date +%s)}
rc=0
echo "lin: ThreadSanitizer, default mechanisms, ${WINVMEM_LIN_TSAN_SECONDS:-60} s, seed $seed"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    build/tsan/tests/lin/lin_check --seconds "${WINVMEM_LIN_TSAN_SECONDS:-60}" --seed "$seed" \
    --ops 300 || rc=1
i=0
for c in $WVM_COMBOS; do
    i=$((i + 1))
    mech_show "$c" build/release/tools/winvmem/winvmem
    mech_run "$c" build/release/tests/lin/lin_check --seconds "${WINVMEM_LIN_SECONDS:-20}" \
        --seed $((seed + i)) || rc=1
done
exit $rc
