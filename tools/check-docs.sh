#!/bin/sh
# Fails when an exported function has no manual page, or a WINVMEM_* option read by the library
# is missing from doc/options.md or winvmem(7).
# Usage: tools/check-docs.sh LIBWINVMEM_SO MAN_BUILD_DIR   (exit 77: scdoc absent, skipped)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
lib=$1
man=$2
status=0
if [ ! -d "$man/man3" ]; then
    echo "check-docs: no manual pages built (scdoc missing?); skipped"
    exit 77
fi
n=0
for f in $(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sed 's/@.*//'); do
    n=$((n + 1))
    if [ ! -e "$man/man3/$f.3" ]; then
        echo "check-docs: exported function $f has no manual page (doc/man/*.scd NAME line)"
        status=1
    fi
done
opts=$(grep -o '"WINVMEM_[A-Z_]*"' "$src/src/prim/options.c" | tr -d '"' | sort -u)
for o in $opts; do
    for doc in doc/options.md doc/man/winvmem.7.scd; do
        grep -q "$o" "$src/$doc" || { echo "check-docs: $o is not documented in $doc"; status=1; }
    done
done
[ $status = 0 ] && echo "check-docs: ok: $n functions have pages, $(echo $opts | wc -w) options documented"
exit $status
