#!/usr/bin/env bash
# The whole test suite, as CI runs it (README's second command).
#   1. debug build (invariant checker after every call, fault injection) + every ctest test;
#   2. ASan+UBSan build + every ctest test but the scale tests;
#   3. TSan build + the multi-threaded stress tests (plain programs named stress_*: Criterion
#      cannot start under TSan);
#   4. every stage script in tests/ci.d/*.sh, in name order (differential test against Wine,
#      fuzzing, benchmark quick mode, install check, ...), each given the repository root.
# Ends with the line "stages: N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools/install-deps.sh || { echo "dependency installation failed"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 TSAN_OPTIONS=halt_on_error=1
passed=0 failed=0 failures=()
stage() { # stage NAME COMMAND...
  local name=$1; shift
  local t0=$SECONDS
  echo "::: stage $name"
  if "$@"; then
    passed=$((passed + 1)); echo "::: stage $name passed ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "::: stage $name FAILED ($((SECONDS - t0)) s)"
  fi
}
build() { cmake --preset "$1" >/dev/null && cmake --build --preset "$1" -j2 >/dev/null; }
# Tests labelled known_failing are open findings (named in README): listed, not run here.
# A test that fails is run once more before it counts: a few tests wait on timing (host budget
# waits, notification thread) or share the hugetlb pool, and this machine is shared and noisy.
# A second failure fails the stage; ctest's log still shows the first.
ctest_preset() { ctest --preset "$1" -j2 -LE known_failing --repeat until-pass:2 "${@:2}"; }
known_failing() {
  local names
  names=$(ctest --test-dir build/debug -N -L known_failing | grep -o 'Test *#[0-9]*: [^ ]*' | sed 's/.*: //' | tr '\n' ' ')
  [ -z "$names" ] || echo "::: known failing (open findings, not run): $names"
}

stage debug-build build debug
stage debug-tests ctest_preset debug
known_failing
stage asan-ubsan-build build asan-ubsan
stage asan-ubsan-tests ctest_preset asan-ubsan -E 'scale_'
stage tsan-build build tsan
stage tsan-stress ctest_preset tsan -R '^stress_'
for s in tests/ci.d/*.sh; do
  [ -e "$s" ] || continue
  stage "$(basename "$s" .sh)" bash "$s" "$root"
done

echo
[ $failed -eq 0 ] || echo "failed stages: ${failures[*]}"
echo "stages: $passed passed, $failed failed"
[ $failed -eq 0 ]
