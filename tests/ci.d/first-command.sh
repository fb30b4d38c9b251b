#!/usr/bin/env bash
# CI stage: the README's first command (configure, build and run the demo) on a machine without
# the optional packages. A copy of the working tree is built in a private mount namespace whose
# /usr is an overlay that whites out every file of the packages below (`unshare -m`; nothing
# outside this process sees it). Checked: the optional tools and libraries are really out of
# reach there; the command succeeds; CMake prints no warning or error, only one "winvmem: ..."
# line for each part it leaves out; the demo runs to its end.
#   tests/ci.d/first-command.sh [ROOT]     (root, or a kernel that allows user namespaces)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$root/tools/require.sh"
require first-command "unshare (Debian: util-linux)" unshare
require first-command git git

# Packages the first command must not need (README: "a C11 compiler and CMake, nothing else":
# no C++ compiler, no pkg-config either). Add new optional dependencies here.
optional=(libcriterion-dev libcriterion3 libmimalloc-dev libmimalloc2.0
          wine wine64 libwine gcc-mingw-w64-x86-64 gcc-mingw-w64-x86-64-win32
          gcc-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 mingw-w64-x86-64-dev
          scdoc clang clang-14 libclang-rt-14-dev chromium
          g++ g++-12 pkg-config pkgconf clang-format clang-format-14 valgrind)
# What must then be out of reach (commands, files; the loader must not find mimalloc).
gone_cmds=(wine wine64 wineserver x86_64-w64-mingw32-gcc clang clang-14 scdoc g++ c++ pkg-config)
gone_files=(/usr/include/criterion/criterion.h /usr/include/mimalloc.h)
gone_libs=(libcriterion.so libmimalloc.so)
# Parts CMake leaves out, each announced by one status line.
left_out=("Criterion not found" "scdoc not found")

tmp=$(mktemp -d /tmp/winvmem-first.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# the files to hide: every non-directory of the installed optional packages, under /usr
# (/bin, /lib, /sbin are links into /usr on Debian 12)
for p in "${optional[@]}"; do
    dpkg -L "$p" 2>/dev/null || true
done | sed -E 's#^/(bin|lib|lib64|sbin)/#/usr/\1/#' | sort -u |
    while read -r f; do
        case "$f" in /usr/*) ;; *) continue ;; esac
        [ -e "$f" ] || [ -L "$f" ] || continue
        [ -d "$f" ] && [ ! -L "$f" ] && continue
        echo "$f"
    done >"$tmp/hide"
echo "first-command: hiding $(wc -l <"$tmp/hide") files of the optional packages"

# a copy of the working tree (tracked and untracked files, without build output)
mkdir "$tmp/src"
git -C "$root" ls-files -z --cached --others --exclude-standard |
    tar -C "$root" --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$tmp/src" -xf -
# the README's first command: the first line of its first ```sh block
cmd=$(awk '/^```sh/ {f = 1; next} f {print; exit}' "$root/README.md")
echo "first-command: $cmd"
case "$cmd" in *demo*) ;; *) echo "first-command: README's first command does not run the demo"; exit 1 ;; esac

cat >"$tmp/inner.sh" <<'EOF'
set -euo pipefail
tmp=$1 cmd=$2
shift 2
mount --make-rprivate /
mount -t tmpfs tmpfs "$tmp/ovl"
mkdir -p "$tmp/ovl/upper" "$tmp/ovl/work"
# an overlay whiteout (a 0:0 character device) makes the lower file vanish
python3 - "$tmp/ovl/upper" "$tmp/hide" <<'PY'
import os, stat, sys
upper, hide = sys.argv[1], sys.argv[2]
for line in open(hide):
    path = os.path.join(upper, os.path.relpath(line.rstrip("\n"), "/usr"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))
PY
mount -t overlay overlay -o "lowerdir=/usr,upperdir=$tmp/ovl/upper,workdir=$tmp/ovl/work" /usr
hash -r
status=0
for c in $GONE_CMDS; do
    if command -v "$c" >/dev/null 2>&1; then echo "first-command: $c still reachable"; status=1; fi
done
for f in $GONE_FILES; do
    if [ -e "$f" ]; then echo "first-command: $f still present"; status=1; fi
done
for l in $GONE_LIBS; do
    if ls /usr/lib/*/"$l"* /usr/lib/"$l"* >/dev/null 2>&1; then
        echo "first-command: $l still present"; status=1
    fi
done
if python3 -c 'import ctypes; ctypes.CDLL("libmimalloc.so.2")' 2>/dev/null; then
    echo "first-command: the loader still finds libmimalloc.so.2"; status=1
fi
[ $status = 0 ] || exit 3
echo "first-command: the optional packages are out of reach ($SECONDS s)"
cd "$tmp/src"
timeout 900 bash -c "$cmd"
echo "first-command: the command took $SECONDS s in all"
EOF
mkdir "$tmp/ovl"
ns=(unshare -m)
[ "$(id -u)" = 0 ] || ns=(unshare -rm) # a user namespace maps us to root inside
rc=0
GONE_CMDS="${gone_cmds[*]}" GONE_FILES="${gone_files[*]}" GONE_LIBS="${gone_libs[*]}" \
    "${ns[@]}" bash "$tmp/inner.sh" "$tmp" "$cmd" >"$tmp/log" 2>&1 || rc=$?
status=0
if [ $rc = 3 ]; then
    cat "$tmp/log"
    echo "first-command: FAILED: could not hide the optional packages"
    exit 1
elif [ $rc != 0 ]; then
    tail -60 "$tmp/log"
    echo "first-command: FAILED: the command exited with $rc"
    exit 1
fi
grep '^first-command:' "$tmp/log"
if grep -E 'CMake (Warning|Error|Deprecation)' "$tmp/log"; then
    echo "first-command: CMake warned or failed (above)"; status=1
fi
for what in "${left_out[@]}"; do
    n=$(grep -c "^-- winvmem: $what" "$tmp/log" || true)
    [ "$n" = 1 ] || { echo "first-command: want one line 'winvmem: $what', got $n"; status=1; }
done
grep '^-- winvmem: ' "$tmp/log" || true
grep -q '^== released' "$tmp/log" ||
    { echo "first-command: the demo did not reach its last step"; tail -30 "$tmp/log"; status=1; }
[ $status = 0 ] && echo "first-command: ok: configured, built and ran the demo without the optional packages"
exit $status
