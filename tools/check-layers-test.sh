#!/bin/sh
# Tests tools/check-layers.sh: it passes on this tree, and it fails, naming the rule, when one
# line of a copy of the tree (or one extra object) breaks a rule, or when a pending entry has
# become stale.
# usage: tools/check-layers-test.sh OBJECT_LIST   (build/<preset>/src/winvmem_objects.txt)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
objs=$1
check="$here/check-layers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

"$check" --root "$root" --objects "$objs" >"$tmp/out" 2>&1 ||
    { cat "$tmp/out"; echo "FAIL: the tree itself does not pass"; exit 1; }

# expect_fail NAME RULE_PATTERN [check args...]: the check must fail and print the pattern
expect_fail() {
    name=$1 pattern=$2
    shift 2
    if "$check" "$@" >"$tmp/out" 2>&1; then
        echo "FAIL: $name: the check passed"
        failures=$((failures + 1))
    elif ! grep -q "$pattern" "$tmp/out"; then
        cat "$tmp/out"
        echo "FAIL: $name: the check failed without '$pattern'"
        failures=$((failures + 1))
    else
        echo "ok: $name: $(grep -m1 "$pattern" "$tmp/out")"
    fi
}

# mutate FILE LINE: a fresh copy of the tree with LINE appended to FILE; prints the copy's root
mutate() {
    rm -rf "$tmp/tree"
    mkdir -p "$tmp/tree/tools"
    cp -r "$root/src" "$tmp/tree/src"
    cp "$root/tools/layers-pending.txt" "$tmp/tree/tools/"
    printf '%s\n' "$2" >>"$tmp/tree/$1"
    echo "$tmp/tree"
}

# file | line appended | the rule and file the check must name
while IFS='|' read -r file line pattern; do
    t=$(mutate "$file" "$line")
    expect_fail "$file: $line" "$pattern" --root "$t"
done <<'CASES'
src/core/query.c|#include <sys/mman.h>|VIOLATION syscall-headers: src/core/query.c
src/api/query.c|#include <unistd.h>|VIOLATION syscall-headers: src/api/query.c
src/fault/veh.c|#include <sys/syscall.h>|VIOLATION syscall-headers: src/fault/veh.c
src/core/snap.c|#include "api/api.h"|VIOLATION core-up: src/core/snap.c
src/core/ledger.c|#include "fault/fault.h"|VIOLATION core-up: src/core/ledger.c
src/host/budget.c|#include "core/space.h"|VIOLATION host-public: src/host/budget.c
src/prim/linux/mem.c|#include "core/snap.h"|VIOLATION prim-up: src/prim/linux/mem.c
src/api/query.c|    pthread_mutex_lock(&a->lock);|VIOLATION api-no-lock: src/api/query.c
src/api/sysinfo.c|    wvm_alloc *a = wvm__space_acquire(addr);|VIOLATION api-no-lock: src/api/sysinfo.c
src/core/pages.c|#include "core/space.h"|VIOLATION core-cycle: src/core/.*include cycle: .*pages -> space
src/core/index.c|#include "core/guard.h"|VIOLATION core-index: src/core/index.c: #include "core/guard.h"
src/core/index.h|#include "core/ledger.h"|VIOLATION core-index: src/core/index.c: #include "core/ledger.h"
tools/layers-pending.txt|core-up src/core/snap.c nobody: a rule that holds|STALE pending entry
CASES

# Objects: one extra object per layer that calls what its layer may not.
cc=${CC:-cc}
mkdir -p "$tmp/obj/winvmem_obj.dir/core" "$tmp/obj/winvmem_obj.dir/api" \
    "$tmp/obj/winvmem_obj.dir/host" "$tmp/obj/winvmem_obj.dir/prim"
# compile LAYER NAME SOURCE: an object as if it were src/LAYER/NAME.c
compile() {
    printf '%s\n' "$3" >"$tmp/$2.c"
    "$cc" -c -o "$tmp/obj/winvmem_obj.dir/$1/$2.c.o" "$tmp/$2.c"
}
compile core evil_mmap '#include <stddef.h>
void *mmap(void *, size_t, int, int, int, long);
void *f(void) { return mmap(NULL, 4096, 0, 0x22, -1, 0); }'
compile api evil_lock 'void *wvm__space_acquire(unsigned long);
void *f(unsigned long a) { return wvm__space_acquire(a); }'
compile host evil_core 'void *wvm__radix_get(unsigned long);
void *f(unsigned long a) { return wvm__radix_get(a); }'
compile core evil_up 'int wvm__veh_dispatch(void *);
int f(void *p) { return wvm__veh_dispatch(p); }'
compile prim evil_up2 'void *wvm__space_lookup(unsigned long);
void *f(unsigned long a) { return wvm__space_lookup(a); }'
compile core evil_ping 'void wvm__test_pong(void);
void wvm__test_ping(void) { wvm__test_pong(); }'
compile core evil_pong 'void wvm__test_ping(void);
void wvm__test_pong(void) { wvm__test_ping(); }'
mkdir -p "$tmp/obj2/winvmem_obj.dir/core"
printf '%s\n' 'unsigned wvm__alloc_commit(void *, unsigned long, unsigned long, unsigned);
unsigned f(void *a) { return wvm__alloc_commit(a, 0, 1, 4); }' >"$tmp/index.c"
"$cc" -c -o "$tmp/obj2/winvmem_obj.dir/core/index.c.o" "$tmp/index.c"
{ cat "$objs"; echo "$tmp/obj/winvmem_obj.dir/core/evil_ping.c.o"
  echo "$tmp/obj/winvmem_obj.dir/core/evil_pong.c.o"; } >"$tmp/list"
expect_fail "objects core/evil_ping, core/evil_pong" \
    "VIOLATION core-cycle: src/core/evil_p.ng.c: call cycle: evil_p.ng -> evil_p.ng -> evil_p.ng" \
    --root "$root" --objects "$tmp/list"
{ cat "$objs"; echo "$tmp/obj2/winvmem_obj.dir/core/index.c.o"; } >"$tmp/list"
expect_fail "a second object core/index calling a page operation" \
    "VIOLATION core-index: src/core/index.c: calls into core/pages.c" \
    --root "$root" --objects "$tmp/list"
for o in evil_mmap:core evil_lock:api evil_core:host evil_up:core evil_up2:prim; do
    name=${o%%:*} layer=${o#*:}
    { cat "$objs"; echo "$tmp/obj/winvmem_obj.dir/$layer/$name.c.o"; } >"$tmp/list"
    case $name in
    evil_mmap) pattern="VIOLATION syscall-symbols: src/core/evil_mmap.c: calls mmap" ;;
    evil_lock) pattern="VIOLATION api-no-lock: src/api/evil_lock.c: calls wvm__space_acquire" ;;
    evil_core) pattern="VIOLATION host-public: src/host/evil_core.c: calls wvm__radix_get" ;;
    evil_up) pattern="VIOLATION core-up: src/core/evil_up.c: calls wvm__veh_dispatch" ;;
    evil_up2) pattern="VIOLATION prim-up: src/prim/evil_up2.c: calls wvm__space_lookup" ;;
    esac
    expect_fail "object $layer/$name" "$pattern" --root "$root" --objects "$tmp/list"
done

# A hook header makes its functions callable from the host, and only those.
rm -rf "$tmp/tree"
mkdir -p "$tmp/tree/tools" "$tmp/tree/src/hook"
cp -r "$root/src/." "$tmp/tree/src/"
cp "$root/tools/layers-pending.txt" "$tmp/tree/tools/"
printf '%s\n' 'void *wvm__radix_get(unsigned long addr);' >"$tmp/tree/src/hook/test_hook.h"
printf '%s\n' '#include "test_hook.h"' >>"$tmp/tree/src/host/budget.c"
{ cat "$objs"; echo "$tmp/obj/winvmem_obj.dir/host/evil_core.c.o"; } >"$tmp/list"
if "$check" --root "$tmp/tree" --objects "$tmp/list" >"$tmp/out" 2>&1; then
    echo "ok: the host may include a hook header and call what it declares"
else
    cat "$tmp/out"
    echo "FAIL: a hook header's function is refused"
    failures=$((failures + 1))
fi
printf '%s\n' '#include "core/radix.h"' >>"$tmp/tree/src/host/budget.c"
expect_fail "host includes core beside a hook" 'VIOLATION host-public: src/host/budget.c' \
    --root "$tmp/tree" --objects "$tmp/list"

[ $failures = 0 ] && echo "check-layers-test: ok" || echo "check-layers-test: $failures failures"
[ $failures = 0 ]
