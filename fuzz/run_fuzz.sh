#!/bin/sh
# Runs the libFuzzer target fuzz/fuzz_ops.c (clang 14, ASan + UBSan + libFuzzer) for a bounded
# time (half with guard markers, half on the mprotect fallback), starting from the committed
# seed corpus fuzz/corpus (new inputs go to a scratch copy).
#   fuzz/run_fuzz.sh [SECONDS]        default 150; CI's fuzz stage uses the default
#   fuzz/run_fuzz.sh SECONDS COMBO... SECONDS on each kernel-mechanism combination instead
#                                     (tools/mechanisms.sh, e.g. 010; CI's mechanisms stage)
# Exit 0: ran clean for SECONDS; non-zero: a mismatch or sanitizer report (crash-* file kept in
# build/fuzz/artifacts). Without clang and libFuzzer (Debian: clang, libclang-rt-14-dev) it
# fails; exit 77 (skipped) only with WINVMEM_ALLOW_SKIP=1 (tools/require.sh).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-150}
. "$root/tools/require.sh"
cc=$(command -v clang-14 || command -v clang || true)
[ -n "$cc" ] || cannot_run run_fuzz "clang missing (Debian: clang, libclang-rt-14-dev)"
# libFuzzer's runtime is a separate package: a missing one is named, not a link error
# (-print-file-name prints the bare name when the file is not found).
[ -e "$("$cc" -print-file-name=libclang_rt.fuzzer-x86_64.a)" ] ||
    cannot_run run_fuzz "libFuzzer missing (Debian: libclang-rt-14-dev)"
b=$root/build/fuzz
CC=$cc cmake -S "$root" -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWVM_FUZZ=ON \
    -DWVM_SANITIZE=address,undefined -DWVM_BUILD_TESTS=OFF >/dev/null
cmake --build "$b" -j2 --target fuzz_ops >/dev/null
mkdir -p "$b/corpus" "$b/artifacts"
cp "$root"/fuzz/corpus/* "$b/corpus/" 2>/dev/null || true
start=$(date +%s)
. "$root/tools/mechanisms.sh"
if [ $# -gt 1 ]; then
    shift
    runs=$* each=$secs
else # half the time on the default mechanisms, half on the mprotect fallback (no guard markers)
    runs="markers1 markers0" each=$(( (secs + 1) / 2 ))
fi
for run in $runs; do
    case $run in
    markers*) run_env="WINVMEM_GUARD_MARKERS=${run#markers}" ;;
    *) run_env=$(mech_env "$run") ;;
    esac
    rc=0
    # shellcheck disable=SC2086
    env $run_env ASAN_OPTIONS=detect_leaks=0:handle_segv=0 UBSAN_OPTIONS=print_stacktrace=1 \
        "$b/fuzz/fuzz_ops" -max_total_time="$each" -artifact_prefix="$b/artifacts/" \
        -print_final_stats=1 -detect_leaks=0 "$b/corpus" 2>"$b/fuzz.log" || rc=$?
    echo "run_fuzz: $run_env:"
    grep -E "stat::number_of_executed_units|stat::peak_rss|MISMATCH|ERROR|SUMMARY" "$b/fuzz.log" || true
    if [ $rc -ne 0 ]; then
        tail -40 "$b/fuzz.log"
        echo "run_fuzz: FAILED after $(( $(date +%s) - start )) s (log: $b/fuzz.log)"
        exit $rc
    fi
done
echo "run_fuzz: ran clean for $(( $(date +%s) - start )) s"
