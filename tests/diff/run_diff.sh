#!/bin/sh
# Differential test: winvmem (native) against Wine, same op sequences.
#   tests/diff/run_diff.sh BUILD_DIR [COUNT [SEED]]      generated sequences (default 3000, seed 1)
#   tests/diff/run_diff.sh BUILD_DIR file FILE.ops        the sequences of a file
# BUILD_DIR holds wvm_interp and interp.exe (build/<preset>/tests/diff). Without wine or
# interp.exe (mingw-w64) it fails; exit 77 (skipped) only with WINVMEM_ALLOW_SKIP=1 (tools/require.sh).
# Local long run:  tests/diff/run_diff.sh build/release/tests/diff 100000 7
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=$1
shift
. "$here/../../tools/require.sh"
require run_diff "Wine (Debian: wine)" wine wineserver python3
[ -f "$bin/interp.exe" ] ||
    cannot_run run_diff "$bin/interp.exe missing (x86_64-w64-mingw32-gcc, Debian: gcc-mingw-w64-x86-64)"
export WINEDEBUG=-all
if [ "${1:-}" = file ]; then
    exec python3 "$here/run_diff.py" --native "$bin/wvm_interp" --wine "$bin/interp.exe" \
        --file "$2" --out "$bin/divergences.md"
fi
exec python3 "$here/run_diff.py" --native "$bin/wvm_interp" --wine "$bin/interp.exe" \
    --count "${1:-3000}" --seed "${2:-1}" --batch 1000 --out "$bin/divergences.md"
