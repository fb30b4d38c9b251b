#!/bin/sh
# Instructions per operation of winvmem's own code, counted by callgrind: repeatable figures for
# regression tracking (timings on shared machines drift; instruction counts do not).
# Runs bench_cg (bench/cg_driver.c) under valgrind --tool=callgrind and divides the inclusive
# instruction count of each op_* function by its number of calls. User-space instructions only
# (the library, plus the few of each libc system-call wrapper); the kernel's work is not in them.
#
# usage: bench/callgrind.sh [--build-dir DIR] [--top N]
#   --top N   also list the N functions with the most instructions of their own (profile)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/bench-release"
top=0
while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build=$2; shift ;;
    --top) top=$2; shift ;;
    *) echo "usage: $0 [--build-dir DIR] [--top N]" >&2; exit 2 ;;
    esac
    shift
done
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }

log="$build.log"
mkdir -p "$(dirname "$build")"
{ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWVM_BUILD_TESTS=OFF \
      -DWVM_CHECK_INVARIANTS=OFF -DWVM_FAULT_INJECTION=OFF -DWVM_SANITIZE= &&
  cmake --build "$build" --target bench_cg -j 2; } >"$log" 2>&1 ||
    { cat "$log" >&2; echo "build failed (log: $log)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
valgrind --tool=callgrind --toggle-collect='op_*' --callgrind-out-file="$tmp/cg.out" "$build/bench/bench_cg" \
    >"$tmp/calls" 2>"$tmp/valgrind.log" || {
    grep -v '^==' "$tmp/valgrind.log" >&2
    echo "callgrind.sh: the driver failed under valgrind. (valgrind 3.19 refuses a single" \
        "mapping of 64 GiB; a library that cannot reserve its arena fails every VirtualAlloc.)" >&2
    exit 1; }
callgrind_annotate --inclusive=yes --threshold=100 "$tmp/cg.out" >"$tmp/incl" 2>/dev/null

echo "winvmem instructions per operation (callgrind, release build, $(date -u '+%Y-%m-%d'))"
echo
echo "| operation | instructions/op |"
echo "|---|---:|"
awk '
function label(op) {
    if (op == "op_reserve") return "VirtualAlloc MEM_RESERVE 1 MiB"
    if (op == "op_reserve_commit") return "VirtualAlloc MEM_RESERVE + MEM_COMMIT 64 KiB"
    if (op == "op_commit") return "VirtualAlloc MEM_COMMIT 1 page (in 1 GiB)"
    if (op == "op_decommit") return "VirtualFree MEM_DECOMMIT 1 page"
    if (op == "op_release") return "VirtualFree MEM_RELEASE"
    if (op == "op_protect") return "VirtualProtect 1 page (in 64 MiB)"
    if (op == "op_query") return "VirtualQuery, 10,000 regions"
    if (op == "op_query_foreign") return "VirtualQuery of memory winvmem did not allocate"
    if (op == "op_isl_few") return "commit + decommit 1 page between 256 alternating islands"
    if (op == "op_isl_many") return "commit + decommit 1 page between 16,384 alternating islands"
    if (op == "op_reset") return "VirtualAlloc MEM_RESET 1 page (holding data)"
    if (op == "op_reset_undo") return "VirtualAlloc MEM_RESET_UNDO 1 page"
    if (op == "op_reset_undo_ro") return "VirtualAlloc MEM_RESET_UNDO 1 PAGE_READONLY page"
    if (op == "op_reset_undo_ww") return "VirtualAlloc MEM_RESET_UNDO 1 page of a MEM_WRITE_WATCH allocation"
    if (op == "op_map_view") return "MapViewOfFile 64 KiB of a committed section"
    if (op == "op_unmap_view") return "UnmapViewOfFile 64 KiB (touched)"
    if (op == "op_ring") return "placeholder ring buffer 2 x 64 KiB made and undone (8 calls)"
    return op
}
FNR == NR { if ($1 == "C") { calls[$2] = $3; order[++n] = $2 } next }
{
    # a line: "  1,234,567 (12.34%)  file:function [object]" (the percentage is optional)
    for (i = 2; i <= NF; i++)
        if (match($i, /:op_[a-z_]+$/) || match($i, /^op_[a-z_]+$/)) {
            f = $i; sub(/^.*:/, "", f)
            v = $1; gsub(/,/, "", v)
            if (!(f in ir) || v + 0 > ir[f] + 0) ir[f] = v
        }
}
END {
    for (i = 1; i <= n; i++) {
        op = order[i]
        if (op in ir) printf "| %s | %.0f |\n", label(op), ir[op] / calls[op]
        else printf "| %s | not found in the profile |\n", label(op)
    }
}' "$tmp/calls" "$tmp/incl"

if [ "$top" -gt 0 ]; then
    echo
    echo "Top $top functions by own instructions inside the op_* calls (all operations together):"
    echo
    callgrind_annotate --threshold=100 "$tmp/cg.out" 2>/dev/null |
        awk '/^-+$/ { dash++ ; next } dash >= 3 && NF && /[0-9]/ { print }' | head -n "$top"
fi
