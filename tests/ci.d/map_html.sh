#!/bin/sh
# CI stage: the address-space page (`winvmem map --html`, issue 12 item 7) rendered once in
# headless Chromium; the screenshot must show the page: many colours, ink on at least 5% of it,
# and the bar's colours for committed and reserved private memory (png-check.py decodes the
# PNG with Python's zlib). The page's content is checked against its JSON by ctest
# (cli_map_html); this stage checks that a browser draws it. Without chromium the stage FAILS
# (tools/require.sh; tools/install-deps.sh installs Debian's `chromium`).
set -eu
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
. tools/require.sh
require map_html "Chromium (Debian: chromium)" chromium
browser=$(command -v chromium)
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target winvmem_cli demo >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build/release/examples/demo --json > "$tmp/demo.json"
build/release/tools/winvmem/winvmem map --html --from "$tmp/demo.json" > "$tmp/demo.html"
mkdir "$tmp/profile"
# flags: no sandbox (root in a container), no GPU, nothing that reaches the network
if ! timeout 300 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$tmp/profile" --window-size=1280,1000 \
        --screenshot="$tmp/shot.png" "file://$tmp/demo.html" > "$tmp/browser.log" 2>&1 ||
   [ ! -s "$tmp/shot.png" ]; then
    echo "map_html: FAILED: $browser made no screenshot"
    tail -20 "$tmp/browser.log"
    exit 1
fi
python3 tools/winvmem/png-check.py "$tmp/shot.png" --min-colours 8 --min-ink 0.05 \
    --colour '#f2c230:1000' --colour '#f7e7a6:10000'
echo "map_html: $("$browser" --version 2>/dev/null) drew the page"
