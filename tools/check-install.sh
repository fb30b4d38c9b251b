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
         include/winvmem/version.h \
         lib/libwinvmem.a lib/pkgconfig/winvmem.pc lib/cmake/winvmem/winvmemConfig.cmake; do
    [ -e "$prefix/$f" ] || { echo "check-install: $f not installed" >&2; exit 1; }
done
ls "$prefix"/lib/libwinvmem.so.*.*.* >/dev/null
# documentation under share/doc/winvmem
doc=$prefix/share/doc/winvmem
for f in README.md CHANGELOG.md LICENSE doc/porting.md doc/options.md doc/host.md oplang.md \
         bench/RESULTS.md examples/demo.c scripts/reserve-commit.ops scripts/regress.ops; do
    [ -e "$doc/$f" ] || { echo "check-install: share/doc/winvmem/$f not installed" >&2; exit 1; }
done
for f in "$src"/examples/*.c "$src"/doc/*.md; do
    [ -e "$doc/${f#"$src"/}" ] ||
        { echo "check-install: $f not installed under share/doc/winvmem" >&2; exit 1; }
done
# every relative link of an installed Markdown file ([text](path) or (path#anchor)) resolves
# among the installed files: the README read from share/doc/winvmem leads nowhere dead
nlinks=0
for md in $(find "$doc" -name '*.md'); do
    for t in $(grep -oE '\]\([^) ]*\)' "$md" | sed 's/^](//; s/)$//; s/#.*//'); do
        case "$t" in '' | http://* | https://* | mailto:*) continue ;; esac
        nlinks=$((nlinks + 1))
        [ -e "$(dirname "$md")/$t" ] || {
            echo "check-install: share/doc/winvmem/${md#"$doc"/} links to $t, not installed" >&2
            exit 1
        }
    done
done
[ $nlinks -gt 0 ] || { echo "check-install: no relative link found in the installed docs" >&2; exit 1; }
echo "check-install: $nlinks relative links of the installed docs resolve"
# manual pages (scdoc: tools/require.sh fails without it, unless WINVMEM_ALLOW_SKIP=1)
man=0
if command -v scdoc >/dev/null; then
    man=1
    for f in man7/winvmem.7 man1/winvmem.1 man3/wvm_VirtualAlloc.3 man3/wvm_VirtualFree.3 \
             man3/wvm_version.3; do
        [ -e "$prefix/share/man/$f" ] || { echo "check-install: $f not installed" >&2; exit 1; }
    done
    # every file a page names under the configured prefix is installed
    configured=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
    refs=$(sed -e 's/\\&//g' -e 's/\\-/-/g' -e 's/\\f[BIRP]/ /g' "$prefix"/share/man/man*/* |
           grep -o "$configured/[^ ]*" | sed 's/[.,;:)]*$//' | sort -u)
    [ -n "$refs" ] || { echo "check-install: no installed path found in the manual pages" >&2; exit 1; }
    for r in $refs; do
        [ -e "$prefix/${r#"$configured"/}" ] ||
            { echo "check-install: a manual page names $r, which is not installed" >&2; exit 1; }
    done
    echo "check-install: the manual pages name $(echo $refs | wc -w) installed paths, all present"
fi
# one version everywhere: project(), version.h, the library, the tool, winvmem.pc
v=$(sed -n 's/^#define WVM_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/winvmem/version.h")
[ -n "$v" ] || { echo "check-install: no WVM_VERSION_STRING in version.h" >&2; exit 1; }
[ "$("$prefix/bin/winvmem" --version)" = "winvmem $v" ] || # its RPATH finds the installed library
    { echo "check-install: winvmem --version says '$("$prefix/bin/winvmem" --version)', want $v" >&2; exit 1; }
[ "$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --modversion winvmem)" = "$v" ] ||
    { echo "check-install: winvmem.pc's version differs from $v" >&2; exit 1; }
"$prefix/bin/winvmem" info >/dev/null
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
echo "check-install: ok (version $v, docs$( [ $man = 1 ] && echo ', manual pages'))"
[ $man = 1 ] || { . "$src/tools/require.sh"; require check-install "scdoc (Debian: scdoc)" scdoc; }
