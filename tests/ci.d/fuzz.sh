#!/bin/sh
# CI stage: the libFuzzer target fuzz/fuzz_ops.c (reference model + kernel checks) for a bounded
# time (WINVMEM_FUZZ_SECONDS, default 150) from the committed seed corpus.
set -eu
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
exec "$root/fuzz/run_fuzz.sh" "${WINVMEM_FUZZ_SECONDS:-150}"
