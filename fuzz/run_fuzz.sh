#!/bin/sh
# Runs the libFuzzer target fuzz/fuzz_ops.c (clang 14, ASan + UBSan + libFuzzer) for a bounded
# time, shared by the eight kernel-mechanism combinations (tools/mechanisms.sh), starting from
# the committed seed corpus fuzz/corpus (new inputs go to a scratch copy).
#   fuzz/run_fuzz.sh [SECONDS]        default 150; CI uses the default
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
# Operations replaced by queries while an open finding makes every run stop at once (each
# named in NOTES.md / tests/lin/README.md; drop a name with its fix): lock, unlock: a failed
# VirtualLock of free arena memory leaves it mlocked and VirtualUnlock of it succeeds (a, b);
# reset_undo: MEM_RESET_UNDO marks write-watched pages written / crashes on the fallback (e, f);
# write_watch (reservations without MEM_WRITE_WATCH) where userfaultfd is off: the mprotect
# fallback refuses MEM_WRITE_WATCH at a free address inside the arena with 487 (c).
skip=${WINVMEM_FUZZ_SKIP-lock,unlock,reset_undo}
start=$(date +%s)
# The time is shared by every mechanism combination (tools/mechanisms.sh), or by the ones in
# WINVMEM_FUZZ_COMBOS ("111 000" ...).
. "$root/tools/mechanisms.sh"
combos=${WINVMEM_FUZZ_COMBOS:-$WVM_COMBOS}
n=$(echo $combos | wc -w)
each=$(( (secs + n - 1) / n ))
for c in $combos; do
    rc=0
    sk=$skip
    [ "$(echo "$c" | cut -c2)" = 1 ] || sk="$sk${sk:+,}write_watch"
    [ "${WINVMEM_FUZZ_SKIP+set}" = set ] && sk=$skip
    mech_run "$c" env WINVMEM_FUZZ_SKIP="$sk" ASAN_OPTIONS=detect_leaks=0:handle_segv=0 \
        UBSAN_OPTIONS=print_stacktrace=1 \
        "$b/fuzz/fuzz_ops" -max_total_time="$each" -artifact_prefix="$b/artifacts/" \
        -print_final_stats=1 -detect_leaks=0 "$b/corpus" 2>"$b/fuzz.log" || rc=$?
    echo "run_fuzz: $(mech_env "$c") (ops replaced: ${sk:-none}):"
    grep -E "stat::number_of_executed_units|stat::peak_rss|MISMATCH|ERROR|SUMMARY" "$b/fuzz.log" || true
    if [ $rc -ne 0 ]; then
        tail -40 "$b/fuzz.log"
        echo "run_fuzz: FAILED after $(( $(date +%s) - start )) s (log: $b/fuzz.log)"
        exit $rc
    fi
done
echo "run_fuzz: ran clean for $(( $(date +%s) - start )) s ($n mechanism combinations)"
