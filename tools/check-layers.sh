#!/bin/sh
# The layer rules of doc DESIGN.md ("Layers"), checked on the sources and, when given, on the
# compiled objects of the library (the symbols each file calls are the truth the includes only
# suggest):
#   syscall-headers  headers that declare system-call wrappers are included only under src/prim
#                    (src/fault may include <signal.h> and <ucontext.h> for the types of the
#                    handler it is; its signal system calls go through prim_signal.h)
#   syscall-symbols  objects outside src/prim call no system-call wrapper (mmap, open, ioctl,
#                    sigaction, dlopen, ... see DENY below)
#   core-up          src/core includes nothing from api/, host/ or fault/ and calls nothing
#                    defined there
#   host-public      src/host includes only public headers (<winvmem/...>), the C library, its
#                    own headers and the hook headers of src/hook/ (the narrow internal interface
#                    made for the host), and calls no wvm__ function defined outside src/host
#                    but those the hook headers declare
#   api-no-lock      src/api takes no core lock: no allocation lock, no wvm__space_acquire
#   prim-up          src/prim includes nothing from core/, api/, host/ or fault/ and calls
#                    nothing defined there
#   core-cycle       no cycle among the files of src/core: neither in their includes (x.c and
#                    x.h are one file x; "#include "core/y.h"" in either is an edge x -> y) nor
#                    in their calls (x.o calls a function y.o defines)
#   core-index       the index (src/core/index.[ch]: descriptors, placement, radix, births and
#                    deaths) stands only on the files below it (INDEX_BASE: no page operation,
#                    no lifecycle): it includes no other core header and calls nothing defined
#                    in another core file
# A violation listed in tools/layers-pending.txt ("rule path owner: reason") is reported as
# pending and does not fail; a pending entry that no longer matches a violation fails (remove
# it; entries of the rules objects decide, syscall-symbols and core-cycle, only with
# --objects). Exit 1 on any violation, 2 on bad usage.
#
# usage: tools/check-layers.sh [--root DIR] [--objects LIST] [--verbose]
#   --root     source tree (default: this script's repository)
#   --objects  a file listing the library's object files, one a line (the build writes
#              build/<preset>/src/winvmem_objects.txt); each path's part after
#              "winvmem_obj.dir/" (or "winvmem_host.dir/", src/host's own target) names its
#              source under src/
#   --verbose  list every line behind each pending entry
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
objs=
verbose=
while [ $# -gt 0 ]; do
    case "$1" in
    --root) root=$2; shift ;;
    --objects) objs=$2; shift ;;
    --verbose) verbose=1 ;;
    *) echo "usage: $0 [--root DIR] [--objects LIST] [--verbose]" >&2; exit 2 ;;
    esac
    shift
done
[ -d "$root/src" ] || { echo "check-layers: no src/ under $root" >&2; exit 2; }
[ -z "$objs" ] || [ -f "$objs" ] || { echo "check-layers: no object list $objs" >&2; exit 2; }
[ -z "$objs" ] || objs=$(cd "$(dirname "$objs")" && pwd)/$(basename "$objs")

# Headers that declare system calls (POSIX and Linux), and the wrappers themselves.
SYSCALL_HEADERS='sys/.*|linux/.*|asm/.*|asm-generic/.*|unistd\.h|fcntl\.h|poll\.h|dlfcn\.h|sched\.h|signal\.h|ucontext\.h|syscall\.h|dirent\.h|spawn\.h|termios\.h|mqueue\.h|link\.h'
DENY='mmap mmap64 munmap mprotect madvise mlock mlock2 munlock mlockall munlockall mremap msync
mincore ioctl open open64 openat openat64 creat close read write pread pread64 pwrite pwrite64
readv writev poll ppoll select epoll_create epoll_create1 epoll_ctl epoll_wait eventfd
memfd_create ftruncate fallocate fstat stat lstat fopen fopen64 fdopen freopen opendir readdir
syscall sigaction signal sigprocmask pthread_sigmask raise kill tgkill sigaltstack prctl
getrlimit setrlimit prlimit sysinfo process_vm_readv process_vm_writev dlopen dlsym dlclose
fork vfork execve clone'

# The core files the index (src/core/index.[ch]) may include and call.
INDEX_BASE='index alock arena ebr fork freespace meta radix slots snap'

pending="$root/tools/layers-pending.txt"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/violations"

# violation RULE PATH TEXT
violation() { printf '%s %s %s\n' "$1" "$2" "$3" >>"$tmp/violations"; }

# One pass of awk over every source file: its #include lines and the api's lock calls.
cd "$root"
find src -name '*.c' -o -name '*.h' | sort >"$tmp/sources"
find src/host -name '*.h' | sed 's|^src/host/||' >"$tmp/host_headers"
# the hook headers, as "name.h" and "hook/name.h", and the wvm__ functions they declare
: >"$tmp/hooks"
: >"$tmp/hook_syms"
if [ -d src/hook ]; then
    for h in src/hook/*.h; do
        [ -e "$h" ] || continue
        echo "$(basename "$h")" >>"$tmp/hook_headers"
        echo "hook/$(basename "$h")" >>"$tmp/hook_headers"
        grep -o 'wvm__[A-Za-z0-9_]*[[:space:]]*(' "$h" | sed 's/[[:space:]]*($//' >>"$tmp/hook_syms"
    done
fi
cat "$tmp/host_headers" "$tmp/hook_headers" 2>/dev/null >"$tmp/host_may_include" || true
# shellcheck disable=SC2046
awk -v hdrs="^($SYSCALL_HEADERS)\$" -v own="$tmp/host_may_include" '
BEGIN { while ((getline h < own) > 0) host_own[h] = 1 }
FNR == 1 { split(FILENAME, part, "/"); layer = part[2] }
/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]/ {
    line = $0
    sub(/^[[:space:]]*#[[:space:]]*include[[:space:]]*/, "", line)
    kind = substr(line, 1, 1)
    name = substr(line, 2)
    sub(/[>"].*/, "", name)
    if (kind == "<" && layer != "prim" && name ~ hdrs &&
        !(layer == "fault" && (name == "signal.h" || name == "ucontext.h")))
        print "syscall-headers", FILENAME, "#include <" name ">"
    if (layer == "core" && kind == "\"" && name ~ /^(api|host|fault)\/|host_internal\.h/)
        print "core-up", FILENAME, "#include \"" name "\""
    if (layer == "prim" && kind == "\"" && name ~ /^(core|api|host|fault)\/|host_internal\.h/)
        print "prim-up", FILENAME, "#include \"" name "\""
    if (layer == "host" && kind == "\"" && !(name in host_own) && name !~ /^winvmem\//)
        print "host-public", FILENAME, "#include \"" name "\""
}
layer == "api" && /wvm__space_acquire|wvm__space_unlock|pthread_mutex_(lock|trylock)|->lock([^a-z_]|$)|wvm__alloc_locks_held/ {
    print "api-no-lock", FILENAME, "line " FNR
}' $(cat "$tmp/sources") >>"$tmp/violations"

# cycle RULE EDGES PATH_PREFIX PATH_SUFFIX WHAT: one violation per cycle among "x y" edges
# (depth-first; each cycle reported once, at the file where it was entered)
cycles() {
    awk -v rule="$1" -v pre="$3" -v suf="$4" -v what="$5" '
    { if (!($1 in n)) { n[$1] = 0; order[++k] = $1 } out[$1, ++n[$1]] = $2 }
    function visit(x,   i, y, j, path) {
        color[x] = 1; stack[++depth] = x
        for (i = 1; i <= n[x]; i++) {
            y = out[x, i]
            if (color[y] == 1) {
                path = y
                for (j = depth; stack[j] != y; j--) path = stack[j] " -> " path
                path = y " -> " path
                print rule, pre y suf, what ": " path
            } else if (!color[y])
                visit(y)
        }
        depth--; color[x] = 2
    }
    END { for (i = 1; i <= k; i++) if (!color[order[i]]) visit(order[i]) }' "$2"
}

# The include graph of src/core, and what the index includes.
# shellcheck disable=SC2046
awk 'FNR == 1 { m = FILENAME; sub(/^.*\//, "", m); sub(/\.[ch]$/, "", m) }
/^[[:space:]]*#[[:space:]]*include[[:space:]]*"core\/[A-Za-z0-9_]*\.h"/ {
    x = $0; sub(/^[^"]*"core\//, "", x); sub(/\.h".*$/, "", x)
    if (x != m) print m, x
}' $(grep '^src/core/[^/]*\.[ch]$' "$tmp/sources") /dev/null | sort -u >"$tmp/core_includes"
cycles core-cycle "$tmp/core_includes" src/core/ .c "include cycle" >>"$tmp/violations"
awk -v base=" $INDEX_BASE " '$1 == "index" && index(base, " " $2 " ") == 0 {
    print "core-index", "src/core/index.c", "#include \"core/" $2 ".h\""
}' "$tmp/core_includes" >>"$tmp/violations"

if [ -n "$objs" ]; then
    grep -v '^[[:space:]]*$' "$objs" >"$tmp/objects" || true
    [ -s "$tmp/objects" ] || { echo "check-layers: empty object list $objs" >&2; exit 2; }
    # "object: symbol" for what each object defines and what it calls, in two nm runs
    # shellcheck disable=SC2046
    nm -A --defined-only $(cat "$tmp/objects") | awk '$(NF-1) ~ /^[TDBRC]$/ {print $1, $NF}' \
        >"$tmp/defined"
    # shellcheck disable=SC2046
    nm -A -u $(cat "$tmp/objects") | awk '{print $1, $NF}' >"$tmp/undefined"
    awk -v deny="$DENY" -v hf="$tmp/hook_syms" -v df="$tmp/defined" '
    function rel(o) { sub(/:$/, "", o); sub(/^.*winvmem_(obj|host)\.dir\//, "", o); return o }
    function layer_of(r) { split(r, p, "/"); return p[1] }
    function src_of(r) { sub(/\.o$/, "", r); return "src/" r }
    BEGIN { n = split(deny, d, /[ \n]+/); for (i = 1; i <= n; i++) if (d[i] != "") denied[d[i]] = 1 }
    FILENAME == hf { hook[$1] = 1; next }
    FILENAME == df { r = rel($1); if ($2 ~ /^wvm__/) def[$2] = layer_of(r); next }
    {
        r = rel($1); l = layer_of(r); s = $2; sub(/@.*/, "", s)
        if (l != "prim" && (s in denied))
            print "syscall-symbols", src_of(r), "calls " s
        if (l == "core" && (s in def) && def[s] ~ /^(api|host|fault)$/)
            print "core-up", src_of(r), "calls " s
        if (l == "prim" && (s in def) && def[s] ~ /^(core|api|host|fault)$/)
            print "prim-up", src_of(r), "calls " s
        if (l == "host" && s ~ /^wvm__/ && def[s] != "host" && !(s in hook))
            print "host-public", src_of(r), "calls " s
        if (l == "api" && s ~ /^(pthread_mutex_(lock|trylock)|wvm__space_acquire|wvm__space_unlock)$/)
            print "api-no-lock", src_of(r), "calls " s
    }' "$tmp/hook_syms" "$tmp/defined" "$tmp/undefined" >>"$tmp/violations"
    # the call graph of src/core: "x y" when x.o calls a function y.o defines
    awk -v df="$tmp/defined" '
    function core_file(o) {
        sub(/:.*$/, "", o)
        if (o !~ /winvmem_(obj|host)\.dir\/core\//) return ""
        sub(/^.*\/core\//, "", o); sub(/\.c\.o$/, "", o); sub(/\.o$/, "", o); return o
    }
    FILENAME == df { f = core_file($1); if (f != "") def[$2] = f; next }
    { f = core_file($1); s = $2; sub(/@.*/, "", s)
      if (f != "" && (s in def) && def[s] != f) print f, def[s] }' "$tmp/defined" "$tmp/undefined" |
        sort -u >"$tmp/core_calls"
    cycles core-cycle "$tmp/core_calls" src/core/ .c "call cycle" >>"$tmp/violations"
    awk -v base=" $INDEX_BASE " '$1 == "index" && index(base, " " $2 " ") == 0 {
        print "core-index", "src/core/index.c", "calls into core/" $2 ".c"
    }' "$tmp/core_calls" >>"$tmp/violations"
fi

# Compare with the pending list: entries "rule path owner: reason", # comments.
: >"$tmp/pending"
[ -e "$pending" ] && grep -v '^[[:space:]]*\(#\|$\)' "$pending" >"$tmp/pending" || true
status=0
sort -u "$tmp/violations" >"$tmp/sorted"
# violations without a pending entry fail
awk 'FILENAME == ARGV[1] { pend[$1 " " $2] = 1; next } !(($1 " " $2) in pend)' "$tmp/pending" "$tmp/sorted" |
    sed 's/^\([^ ]*\) \([^ ]*\) /check-layers: VIOLATION \1: \2: /' >"$tmp/failed"
cat "$tmp/failed"
[ -s "$tmp/failed" ] && status=1
# each pending entry: still needed (how many lines), or stale
while IFS= read -r entry; do
    rule=$(echo "$entry" | cut -d' ' -f1)
    path=$(echo "$entry" | cut -d' ' -f2)
    k=$(awk -v r="$rule" -v p="$path" '$1 == r && $2 == p' "$tmp/sorted" | wc -l)
    if [ "$k" -gt 0 ]; then
        [ -z "$verbose" ] || awk -v r="$rule" -v p="$path" '$1 == r && $2 == p' "$tmp/sorted" |
            sed 's/^/check-layers: pending: /'
        echo "check-layers: pending ($k lines): $entry"
    elif [ -n "$objs" ] || { [ "$rule" != syscall-symbols ] && [ "$rule" != core-cycle ]; }; then
        echo "check-layers: STALE pending entry (the rule holds now: remove it): $entry"
        status=1
    fi
done <"$tmp/pending"
n=$(sort -u "$tmp/violations" | wc -l)
np=$(wc -l <"$tmp/pending")
files=$(find src -name '*.c' -o -name '*.h' | wc -l)
if [ $status = 0 ]; then
    echo "check-layers: ok: $files files${objs:+ and their objects}; $np pending entries ($n lines)"
fi
exit $status
