#!/usr/bin/env bash
# Installs what building and testing winvmem needs on Debian 12 (root, or sudo). One package a
# line, grouped by what needs it: add yours to its group (or a new one) to keep merges easy.
set -euo pipefail
pkgs=(
  # build
  cmake gcc g++ make pkg-config binutils file
  # tests (Criterion), scripts, formatting
  libcriterion-dev python3 clang-format
  # fuzzing: clang + libFuzzer
  clang libclang-rt-14-dev
  # benchmarks
  valgrind
  # differential test and benchmark against Wine: wine puts `wine` on PATH (wine64 alone does
  # not on Debian 12), mingw-w64 builds the Windows side
  wine wine64 gcc-mingw-w64-x86-64
  # manual pages
  scdoc
  # the host benchmark's mimalloc column (bench/host_bench.c; the library does not use it)
  libmimalloc-dev
  # the HTML map: tests/ci.d/map_html.sh renders winvmem map --html
  chromium
  # the README's first command on a machine without the optional packages (tests/ci.d)
  util-linux
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
