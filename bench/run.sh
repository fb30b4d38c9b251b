#!/bin/sh
# Builds and runs the three benchmark variants side by side and prints a markdown table:
#   floor    bench/floor.c, the bare Linux system calls of each case
#   winvmem  bench/bench.c against winvmem (release build, static library)
#   Wine     bench/bench.c built with x86_64-w64-mingw32-gcc, run under wine
# then the host memory manager's own table (bench/host_bench.c: IHostMalloc against glibc and
# mimalloc at 1 to 256 threads, memory per thread; the host's VirtualAlloc against the bare one).
# The variants run in turns, for several rounds, so that the machine's background load falls
# on all three alike; each figure is the median over rounds of per-round medians.
#
# usage: bench/run.sh [--quick] [--rounds N] [--no-wine] [--fallback] [--build-dir DIR] [--raw FILE]
#   --quick      a few seconds, small counts: checks that everything runs (CI); no timings
#                should be read from it
#   --rounds N   rounds of the three variants (default 3; quick: 1)
#   --no-wine    leave out the Wine variant; without this option a missing wine or mingw-w64
#                fails the run (WINVMEM_ALLOW_SKIP=1: the column is left out, with a note)
#   --fallback   add a column: winvmem on its mprotect fallback (WINVMEM_GUARD_MARKERS=0), what
#                kernels older than 6.13 get
#   --raw FILE   keep the raw result lines
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/bench-release"
quick=""
rounds=""
wine_wanted=1
fallback=0
raw=""
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=--quick ;;
    --rounds) rounds=$2; shift ;;
    --no-wine) wine_wanted=0 ;;
    --fallback) fallback=1 ;;
    --build-dir) build=$2; shift ;;
    --raw) raw=$2; shift ;;
    *) echo "usage: $0 [--quick] [--rounds N] [--no-wine] [--fallback] [--build-dir DIR]" \
           "[--raw FILE]" >&2
       exit 2 ;;
    esac
    shift
done
[ -n "$rounds" ] || { [ -n "$quick" ] && rounds=1 || rounds=3; }

echo "building (release) in $build ..." >&2
log="$build.log"
mkdir -p "$(dirname "$build")"
{ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWVM_BUILD_TESTS=OFF \
      -DWVM_CHECK_INVARIANTS=OFF -DWVM_FAULT_INJECTION=OFF -DWVM_SANITIZE= &&
  cmake --build "$build" --target bench_winvmem bench_floor bench_host -j 2; } >"$log" 2>&1 ||
    { cat "$log" >&2; echo "build failed (log: $log)" >&2; exit 1; }

wine_note=""
if [ $wine_wanted = 1 ]; then
    if command -v x86_64-w64-mingw32-gcc >/dev/null && command -v wine >/dev/null; then
        x86_64-w64-mingw32-gcc -O2 -static -o "$build/bench/bench.exe" "$root/bench/bench.c" \
            -lpsapi
    else
        # a missing oracle fails (tools/require.sh); with WINVMEM_ALLOW_SKIP=1 the column is left
        # out and the run ends with exit 77 (skipped) when everything else passed
        rc=0
        (. "$root/tools/require.sh"
         require bench "mingw-w64 (Debian: gcc-mingw-w64-x86-64)" x86_64-w64-mingw32-gcc
         require bench "Wine (Debian: wine)" wine) >&2 || rc=$?
        [ $rc = 77 ] || exit 1
        wine_wanted=0
        wine_note="Wine column left out (WINVMEM_ALLOW_SKIP=1): wine or x86_64-w64-mingw32-gcc not installed"
    fi
fi

out=$(mktemp)
trap 'rm -f "$out" "$out.one" "$out.err"' EXIT
status=0
run() { # variant command...: a variant that fails keeps what it printed, and the run goes on
    v=$1; shift
    rc=0
    "$@" $quick >"$out.one" 2>"$out.err" || rc=$?
    sed "s/^/$v /" "$out.one" >>"$out"
    if [ $rc != 0 ]; then
        status=1
        echo "$v FAILED (exit $rc) in round $r:" >&2
        grep -v -e wine32 -e multiarch -e 'execute "dpkg' -e 'apt-get install' "$out.err" >&2 || :
        echo "$v N run FAILED (exit $rc) in round $r: $(grep -m1 -e 'bench' -e 'floor' "$out.err" || :)" >>"$out"
    fi
}
variants="floor, winvmem"
[ $wine_wanted = 0 ] || variants="$variants, wine"
[ $fallback = 0 ] || variants="$variants, winvmem on the mprotect fallback"
r=1
while [ $r -le "$rounds" ]; do
    echo "round $r of $rounds: $variants" >&2
    run floor "$build/bench/bench_floor"
    run winvmem "$build/bench/bench_winvmem"
    [ $wine_wanted = 0 ] || WINEDEBUG=-all run wine wine "$build/bench/bench.exe"
    [ $fallback = 0 ] || WINVMEM_GUARD_MARKERS=0 run fallback "$build/bench/bench_winvmem"
    r=$((r + 1))
done
[ -z "$raw" ] || cp "$out" "$raw"

# every variant must have answered every case (a figure, or "failed at N")
keys="alloc64k reserve1m commitpage protect create_10k query_10k walk_10k create_100k query_100k
      walk_100k tib_time tib_mem threads2 isl_256 isl_16k isl_128k islalt_256 islalt_16k
      islalt_128k islna_256 islna_16k islna_128k islnaprot_256 islnaprot_16k islnaprot_128k
      islguard_256 islguard_16k islguard_128k isldna_256 isldna_16k isldna_128k isldnaprot_256
      isldnaprot_16k isldnaprot_128k isldguard_256 isldguard_16k isldguard_128k view64k ring"
[ -n "$quick" ] || keys="$keys create_1m query_1m walk_1m"
for v in floor winvmem $( [ $wine_wanted = 0 ] || echo wine ) $( [ $fallback = 0 ] || echo fallback ); do
    for k in $keys; do
        grep -q "^$v [RF] $k " "$out" || { echo "$v gave no result for $k" >&2; status=1; }
    done
done

echo "winvmem benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -srm)," \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs," \
    "$rounds round(s)${quick:+, QUICK MODE: counts reduced, timings meaningless}"
echo
echo "winvmem $(git -C "$root" describe --always --dirty 2>/dev/null || echo '(not a git checkout)')" \
    "release build; $( [ $wine_wanted = 0 ] && echo 'Wine not run' || wine --version 2>/dev/null)"
echo
awk -f "$root/bench/table.awk" "$out"
[ -z "$wine_note" ] || echo "- $wine_note"

# The host memory manager: its own table (IHostMalloc against glibc and mimalloc, 1-256 threads).
# bench_host fails (1) when mimalloc is missing, or says 77 (skipped) with WINVMEM_ALLOW_SKIP=1.
echo
host_rc=0
"$build/bench/bench_host" $quick || host_rc=$?
case $host_rc in
0 | 2) ;;
77) wine_note="${wine_note:+$wine_note; }mimalloc column left out (WINVMEM_ALLOW_SKIP=1)" ;;
*) echo "bench_host FAILED (exit $host_rc)" >&2; status=1 ;;
esac
[ $status != 0 ] || [ -z "$wine_note" ] || exit 77
exit $status
