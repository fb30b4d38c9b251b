#!/bin/sh
# CI stage: the example programs' ctests (api_example_*, fault_example_*) in the release build:
# the optimiser's view of the code, which the debug and sanitizer stages do not see
# (ring_buffer's check of its two views once failed at -O2 only).
set -eu
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
cmake --preset release >/dev/null
cmake --build --preset release -j2 >/dev/null
ctest --preset release -R '_example_' -j2
