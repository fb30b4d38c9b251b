#!/bin/sh
# Fails when an exported function has no manual page (a doc/man/*.3.scd whose NAME line lists
# it), when a manual page names a file of the source tree instead of an installed one (write
# @DOCDIR@/..., @INCLUDEDIR@/...: CMake fills in the installed paths), or when a WINVMEM_* option
# read by the library is missing from doc/options.md or winvmem(7). With a man build directory
# that holds pages (scdoc installed), every function also has its built page there.
# Usage: tools/check-docs.sh LIBWINVMEM_SO [MAN_BUILD_DIR]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
lib=$1
man=${2:-}
status=0
# the names of every NAME line: "wvm_a, wvm_b - what they do" (may wrap)
names=$(for f in "$src"/doc/man/*.3.scd; do
    awk '/^# NAME/ {n = 1; next}
         n && NF {t = t " " $0; if (index($0, " - ")) {sub(/ - .*/, "", t); print t; exit}}' "$f"
done | tr ', ' '\n\n' | grep -v '^$' | sort -u)
n=0
for f in $(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sed 's/@.*//'); do
    n=$((n + 1))
    if ! printf '%s\n' "$names" | grep -qx "$f"; then
        echo "check-docs: exported function $f has no manual page (doc/man/*.3.scd NAME line)"
        status=1
    elif [ -d "$man/man3" ] && [ ! -e "$man/man3/$f.3" ]; then
        echo "check-docs: $f is on a NAME line but $man/man3/$f.3 was not built"
        status=1
    fi
done
# source-tree paths in italics or bold: _examples/x.c_, *doc/porting.md*
bad=$(grep -nE '[_*](\./)?(doc|examples|tests|tools|include|src|bench|fuzz|cmake)/' \
      "$src"/doc/man/*.scd || true)
if [ -n "$bad" ]; then
    echo "check-docs: manual pages name files of the source tree (use @DOCDIR@/ or @INCLUDEDIR@/):"
    printf '%s\n' "$bad" | sed "s|^$src/||; s/^/  /"
    status=1
fi
# the option table (src/*/options.c, wherever the layers put it)
opts=$(find "$src/src" -name options.c -exec grep -ho '"WINVMEM_[A-Z_]*"' {} + | tr -d '"' | sort -u)
for o in $opts; do
    for doc in doc/options.md doc/man/winvmem.7.scd; do
        grep -q "$o" "$src/$doc" || { echo "check-docs: $o is not documented in $doc"; status=1; }
    done
done
[ $status = 0 ] && echo "check-docs: ok: $n functions have pages, $(echo $opts | wc -w) options documented"
exit $status
