#!/bin/sh
# CI stage: differential test against Wine (tests/diff): the hand-written sequences of
# tests/diff/*.ops, then WINVMEM_DIFF_COUNT (default 3000) generated sequences, natively (release
# build) and under Wine; any divergence not documented in tests/diff/known_wine_differences.md
# fails. Without wine or mingw-w64 the stage fails (tools/require.sh: WINVMEM_ALLOW_SKIP=1 makes
# it a named skip on a developer's machine).
set -eu
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
. tools/require.sh
require diff "mingw-w64 (Debian: gcc-mingw-w64-x86-64)" x86_64-w64-mingw32-gcc
require diff "Wine (Debian: wine)" wine
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target wvm_interp wvm_interp_exe >/dev/null
bin=build/release/tests/diff
rc=0
for f in tests/diff/*.ops; do
    tests/diff/run_diff.sh "$bin" file "$f" || rc=1
done
tests/diff/run_diff.sh "$bin" "${WINVMEM_DIFF_COUNT:-3000}" 1 || rc=1
# winvmem/win32.h's porting names: the program that runs natively as api_win32_names_c, built
# against the real <windows.h> and run under Wine, must reach the same verdict
x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -Wpedantic -Wformat=2 -Werror -Iinclude \
    tests/api/win32_names.c -o "$bin/win32_names.exe"
# (a Windows program's console lines end in CR LF: the CR is not part of the verdict)
out=$(WINEDEBUG=-all wine "$bin/win32_names.exe" 2>&1 | tr -d '\r') || true
verdict=$(echo "$out" | tail -1)
echo "win32_names.exe under Wine: $verdict"
[ "$verdict" = ok ] || { echo "$out"; rc=1; }
exit $rc
