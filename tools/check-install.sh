#!/bin/sh
# Installs winvmem into a temporary prefix, then builds tools/consumer/ against the installed
# copy four ways (CMake package shared/static, pkg-config shared/static) and runs each.
# Usage: tools/check-install.sh [build-dir]   (default build/release; configured if missing)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build/release}
tmp=$(mktemp -d /tmp/winvmem-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ ! -e "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWVM_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j2 >/dev/null
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
prefix=$tmp/prefix
for f in include/winvmem.h include/winvmem/vm.h include/winvmem/stats.h include/winvmem/win32.h \
         lib/libwinvmem.a lib/pkgconfig/winvmem.pc lib/cmake/winvmem/winvmemConfig.cmake; do
    [ -e "$prefix/$f" ] || { echo "check-install: $f not installed" >&2; exit 1; }
done
ls "$prefix"/lib/libwinvmem.so.*.*.* >/dev/null
if command -v scdoc >/dev/null; then
    for f in man7/winvmem.7 man1/winvmem.1 man3/wvm_VirtualAlloc.3 man3/wvm_VirtualFree.3; do
        [ -e "$prefix/share/man/$f" ] || { echo "check-install: $f not installed" >&2; exit 1; }
    done
fi
"$prefix/bin/winvmem" info >/dev/null # its RPATH finds the installed library
"$src/tools/check-exports.sh" "$prefix/lib/libwinvmem.so"

# links BINARY WANT: WANT 1 = must load libwinvmem.so, 0 = must not.
links() {
    n=$(LD_LIBRARY_PATH=$prefix/lib ldd "$1" | grep -c 'libwinvmem\.so' || true)
    [ "$n" = "$2" ] || { echo "check-install: $1: libwinvmem.so linked $n times, want $2" >&2; exit 1; }
}

for link in shared static; do
    cmake -S "$src/tools/consumer" -B "$tmp/cm-$link" -DCMAKE_PREFIX_PATH="$prefix" \
        -DWVM_LINK=$link >/dev/null
    cmake --build "$tmp/cm-$link" >/dev/null
    echo "check-install: cmake/$link: $(LD_LIBRARY_PATH=$prefix/lib "$tmp/cm-$link/consumer")"
done
links "$tmp/cm-shared/consumer" 1
links "$tmp/cm-static/consumer" 0

mkdir "$tmp/pc"
cp "$src/tools/consumer/consumer.c" "$src/tools/consumer/Makefile" "$tmp/pc/"
PKG_CONFIG_PATH=$prefix/lib/pkgconfig make -s -C "$tmp/pc" >/dev/null
for bin in consumer-shared consumer-static; do
    echo "check-install: pkg-config/$bin: $("$tmp/pc/$bin")"
done
links "$tmp/pc/consumer-shared" 1
links "$tmp/pc/consumer-static" 0
echo "check-install: ok"
