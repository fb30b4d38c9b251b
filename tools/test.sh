#!/usr/bin/env bash
# The whole test suite, as CI runs it (README's second command).
#   1. debug build (invariant checker after every call, fault injection) + every ctest test;
#   2. ASan+UBSan build + every ctest test but the scale tests;
#   3. TSan build + the multi-threaded stress tests (plain programs named stress_*: Criterion
#      cannot start under TSan);
#   4. every stage script in tests/ci.d/*.sh, in name order (differential test against Wine,
#      fuzzing, benchmark quick mode, install check, the README's first command on a machine
#      without the optional packages, ...), each given the repository root.
# Every test counts the first time: no retries. A check that cannot run (wine, mingw-w64, clang,
# scdoc, a kernel feature, root missing) FAILS, unless WINVMEM_ALLOW_SKIP=1 (a developer's
# machine; never in CI: .ci/run sets it to 0), which makes it a skip listed by name at the end.
# Ends with the line "stages: N passed, N failed, N skipped"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools/install-deps.sh || { echo "dependency installation failed"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 TSAN_OPTIONS=halt_on_error=1
# Criterion logs each skipped test ("[SKIP] suite::test: reason") at this level; ctest keeps the
# lines in its log, from which skipped() lists them.
export CRITERION_VERBOSITY_LEVEL=1
allow_skip=${WINVMEM_ALLOW_SKIP:-0}
passed=0 failed=0 skipped=0 failures=() skips=()
# CPU seconds (user + system) of every finished child so far: with the wall time it tells what a
# stage costs on a quieter machine (CI's budget is ~45 min on 2 cores).
# cpu sets CPU; it must run in this shell (a subshell's `times` starts from zero).
cpu_file=$(mktemp)
trap 'rm -f "$cpu_file"' EXIT
cpu() {
  local u s um us sm ss
  times >"$cpu_file"
  { read -r _; read -r u s; } <"$cpu_file"
  um=${u%%m*} us=${u#*m} sm=${s%%m*} ss=${s#*m}
  CPU=$((um * 60 + 10#${us%%.*} + sm * 60 + 10#${ss%%.*}))
}

stage() { # stage NAME COMMAND...: exit 0 passed, 77 skipped (only when allowed), else failed
  local name=$1 rc=0 verdict; shift
  local t0=$SECONDS c0; cpu; c0=$CPU
  echo "::: stage $name"
  "$@" || rc=$?
  if [ $rc -eq 77 ] && [ "$allow_skip" = 1 ]; then
    skipped=$((skipped + 1)); skips+=("$name"); verdict=SKIPPED
  elif [ $rc -eq 0 ]; then
    passed=$((passed + 1)); verdict=passed
  else
    failed=$((failed + 1)); failures+=("$name"); verdict=FAILED
  fi
  cpu; echo "::: stage $name $verdict ($((SECONDS - t0)) s, $((CPU - c0)) s CPU)"
}
build() { cmake --preset "$1" >/dev/null && cmake --build --preset "$1" -j2 >/dev/null; }
# ctest_preset PRESET ARGS...: the preset's tests; then the tests and Criterion cases that
# skipped themselves, by name (skips by design, such as a case that runs only in its
# fallback variant, and, with WINVMEM_ALLOW_SKIP=1, what this machine cannot check).
ctest_preset() {
  local out rc=0 log="build/$1/Testing/Temporary/LastTest.log"
  out=$(mktemp)
  ctest --preset "$1" -j2 "${@:2}" 2>&1 | tee "$out" || rc=$?
  local notrun cases
  notrun=$(sed -n '/tests did not run:/,/^$/p' "$out" | grep -o '[A-Za-z0-9_]* (Skipped)' || true)
  cases=$(grep -h '\[SKIP\]' "$log" 2>/dev/null | sed 's/^.*\[SKIP\] //' | sort | uniq -c || true)
  rm -f "$out"
  [ -z "$notrun$cases" ] || echo "::: skipped in $1 (tests, then Criterion cases with their count):"
  [ -z "$notrun" ] || echo "$notrun"
  [ -z "$cases" ] || echo "$cases"
  # a skipped ctest test (SKIP_RETURN_CODE) is a check that did not run
  if [ -n "$notrun" ] && [ "$allow_skip" != 1 ]; then return 1; fi
  return $rc
}

stage debug-build build debug
stage debug-tests ctest_preset debug
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
[ $skipped -eq 0 ] || echo "skipped stages (WINVMEM_ALLOW_SKIP=1): ${skips[*]}"
cpu; echo "stages: $passed passed, $failed failed, $skipped skipped; $SECONDS s, $CPU s CPU"
[ $failed -eq 0 ]
