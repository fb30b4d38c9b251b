#!/bin/sh
# CI stage: the benchmark in quick mode (bench/run.sh --quick): every variant builds and runs and
# answers every case. Timings are printed but never asserted (a shared CI machine is noisy).
set -eu
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
exec "$root/bench/run.sh" --quick
