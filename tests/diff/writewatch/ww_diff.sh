#!/bin/sh
# Usage: ww_diff.sh NATIVE_BINARY WINE_TRANSCRIPT
# Runs the native write-watch probe and compares its transcript with Wine's. Known differences
# (winvmem follows Microsoft's documentation, Wine does not):
#   "ww commit", "ww commit existing": MEM_COMMIT|MEM_WRITE_WATCH without MEM_RESERVE.
#     Microsoft: "If you specify this value, you must also specify MEM_RESERVE" -> NULL, 87.
#     Wine 8 succeeds (and ignores the flag on an existing region).
set -eu
native=$(mktemp)
expected=$(mktemp)
trap 'rm -f "$native" "$expected"' EXIT
"$1" > "$native"
sed -e 's/^ww commit 1 err=57005$/ww commit 0 err=87/' \
    -e 's/^ww commit existing 1 err=57005$/ww commit existing 0 err=87/' "$2" > "$expected"
if ! diff -u "$expected" "$native"; then
    echo "ww_diff: winvmem differs from Wine beyond the documented differences"
    exit 1
fi
echo "ww_diff: $(wc -l < "$native") results agree with Wine (2 documented differences)"
