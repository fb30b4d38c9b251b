#!/usr/bin/env bash
# Installs what building and testing winvmem needs on Debian 12 (root, or sudo).
set -euo pipefail
pkgs=(cmake gcc g++ make pkg-config libcriterion-dev clang libclang-rt-14-dev clang-format
      valgrind wine64 gcc-mingw-w64-x86-64 scdoc libmimalloc-dev python3 file binutils
      chromium) # chromium: tests/ci.d/map_html.sh renders winvmem map --html
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
