#!/bin/sh
# CI stage: a release build installed into a temporary prefix; an out-of-tree consumer built
# against it with find_package(winvmem CONFIG) and with pkg-config, shared and static; only
# wvm_ symbols exported (tools/check-install.sh, tools/check-exports.sh).
set -eu
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
cmake --preset release >/dev/null
tools/check-install.sh "$root/build/release"
