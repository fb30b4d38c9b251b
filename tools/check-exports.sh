#!/bin/sh
# Fails when the shared library exports a symbol whose name does not start with wvm_.
# Usage: tools/check-exports.sh [path/to/libwinvmem.so]   (default: build/release, else debug)
set -eu
lib=${1:-}
if [ -z "$lib" ]; then
    for d in build/release build/debug; do
        [ -e "$d/src/libwinvmem.so" ] && { lib=$d/src/libwinvmem.so; break; }
    done
fi
[ -n "$lib" ] && [ -e "$lib" ] || { echo "check-exports: no libwinvmem.so found" >&2; exit 2; }
# Defined dynamic symbols, minus the loader's own markers (_init, _fini, version nodes) and
# AddressSanitizer's ODR indicators for exported wvm_ variables (__odr_asan.wvm_*).
syms=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' |
       grep -Ev '^(_init|_fini|_edata|_end|__bss_start|__odr_asan\.wvm_.*)$' || true)
bad=$(printf '%s\n' "$syms" | grep -v '^wvm_' | grep -v '^$' || true)
n=$(printf '%s\n' "$syms" | grep -c '^wvm_' || true)
if [ -n "$bad" ]; then
    echo "check-exports: $lib exports symbols outside the wvm_ namespace:" >&2
    printf '  %s\n' $bad >&2
    exit 1
fi
if printf '%s\n' "$syms" | grep -q '^wvm__'; then
    echo "check-exports: internal wvm__ symbols are exported:" >&2
    printf '%s\n' "$syms" | grep '^wvm__' | sed 's/^/  /' >&2
    exit 1
fi
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
case "$soname" in
libwinvmem.so.[0-9]*) ;;
*) echo "check-exports: soname '$soname' does not carry the major version" >&2; exit 1 ;;
esac
echo "check-exports: ok: $n wvm_ symbols, soname $soname"
