#!/bin/sh
# Fails when code outside src/host references the C heap (malloc, calloc, realloc, free, ...).
# A vectored exception handler may call VirtualAlloc & co. while the faulting thread is inside
# malloc (src/fault/fault.h): winvmem's own bookkeeping comes from src/core/meta.c instead.
# The host's heaps (IHostMalloc) are allowed, and the objects listed in tools/no-heap-pending.txt
# until their conversion lands. tests/fault/stress_signal_context.c checks the same at run time;
# this catches a new call on a path the test does not take.
# Usage: tools/check-no-heap.sh path/to/libwinvmem.a
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
lib=${1:?usage: check-no-heap.sh libwinvmem.a}
host=$(cd "$src/src/host" && ls *.c | sed 's/$/.o/' | tr '\n' ' ')
pending=$(grep -v '^#' "$src/tools/no-heap-pending.txt" | awk 'NF {print $1}' | tr '\n' ' ')
users=$(nm -A "$lib" 2>/dev/null |
      grep -E ' U (malloc|calloc|realloc|reallocarray|free|aligned_alloc|posix_memalign|memalign|valloc|pvalloc|strdup|strndup)$' |
      awk -v host=" $host" '{ split($1, f, ":"); if (index(host, " " f[2] " ") == 0) print f[2] ": " $NF }' || true)
bad=$(echo "$users" | awk -v ok=" $pending" 'NF && index(ok, " " substr($1, 1, length($1) - 1) " ") == 0' || true)
status=0
if [ -n "$bad" ]; then
    echo "check-no-heap: the C heap is used outside src/host (use core/meta.h):" >&2
    echo "$bad" | sort -u | sed 's/^/  /' >&2
    status=1
fi
for o in $pending; do
    if ! echo "$users" | grep -q "^$o:"; then
        echo "check-no-heap: $o no longer uses the C heap: remove it from tools/no-heap-pending.txt" >&2
        status=1
    fi
done
[ $status = 0 ] || exit 1
n=$(nm -A "$lib" 2>/dev/null | awk -F: '{print $2}' | sort -u | grep -c '\.o$' || true)
echo "check-no-heap: ok: $n objects, no C heap outside src/host but $(echo $pending | wc -w) pending (tools/no-heap-pending.txt)"
