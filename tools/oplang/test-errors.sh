#!/bin/sh
# The op language's parser through `winvmem run`: every error names the file, line, column,
# token and reason, nothing runs after an error (--keep-going runs the rest), the older
# spellings ww/resetww still read and print as watch/resetwatch, trailing comments.
#   test-errors.sh WINVMEM_CLI
set -u
cli=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "test-errors: $1"; fails=$((fails + 1)); }
expect_err() { # expect_err SCRIPT-TEXT EXPECTED-STDERR-LINE
    printf '%s\n' "$1" > "$tmp/t.ops"
    "$cli" run "$tmp/t.ops" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    [ $rc = 1 ] || fail "exit $rc (want 1) for: $1"
    grep -qxF "$tmp/t.ops:$2" "$tmp/err" || { fail "for: $1"; echo "  want: $2"; sed 's/^/  got:  /' "$tmp/err"; }
    [ -s "$tmp/out" ] && fail "something ran although a line has an error: $1"
}
expect_err 'A = alloc 0 0x1000 BOGUS|COMMIT READWRITE' \
  "1:20: 'BOGUS|COMMIT': TYPE: 'BOGUS' is not a MEM_ flag (COMMIT RESERVE DECOMMIT RELEASE RESET TOP_DOWN WRITE_WATCH PHYSICAL RESET_UNDO LARGE_PAGES RESERVE_PLACEHOLDER REPLACE_PLACEHOLDER PRESERVE_PLACEHOLDER COALESCE_PLACEHOLDERS, with or without MEM_, or a number, joined by |)"
expect_err "$(printf 'A = alloc 0 0x10000 RESERVE READWRITE\nfree B 0 RELEASE')" \
  "2:6: 'B': unknown name (no 'B = ...' earlier in this sequence)"
expect_err "$(printf 'A = alloc 0 0x10000 RESERVE READWRITE\n---\nquery @A+0x10')" \
  "3:8: 'A': unknown name (no 'A = ...' earlier in this sequence)"
expect_err 'query 0x1g' "1:7: '0x1g': ADDR: not a number (decimal, or hexadecimal after 0x; no sign, no leading zeros)"
expect_err 'frob 0' "1:1: 'frob': unknown op (alloc allocapp hole free protect protectapp query scan write read access lock unlock watch resetwatch map stats section open close view view3 unmap flush alloc2 discard offer reclaim prefetch wsquery allocnuma ---)"
expect_err 'read 0x1000 65' "1:13: '65': N: a number of bytes from 1 to 64"
expect_err 'protect 0 0x1000 READONLY nold' "1:27: 'nold': expected the word 'noold' or the end of the line"
expect_err 'X = free 0 0 RELEASE' "1:1: 'X': only alloc allocapp hole section open view view3 alloc2 allocnuma define a NAME (usage: free ADDR SIZE TYPE)"
expect_err 'hole 0x1000' "1:1: 'hole': needs a NAME (usage: NAME = hole SIZE)"
expect_err 'alloc 0 0x1000 COMMIT' "1: alloc: missing PROT (usage: [NAME =] alloc ADDR SIZE TYPE PROT)"
expect_err 'scan 0 0' "1:8: '0': more arguments than scan takes (usage: scan ADDR)"
expect_err 'A =' "1: missing the op after 'A =' (alloc allocapp hole section open view view3 alloc2 allocnuma)"
expect_err 'offer 0 0x1000 HIGH' "1:16: 'HIGH': PRIORITY: VERYLOW LOW BELOWNORMAL NORMAL, or a number up to 0xffffffff"
expect_err 'allocnuma 0 0x1000 RESERVE READWRITE ANY' "1:38: 'ANY': NODE: NONE, or a number up to 0xffffffff"
expect_err 'discard 0' "1: discard: missing SIZE (usage: discard ADDR SIZE)"
expect_err 'write 0 0x100' "1:9: '0x100': BYTE: a number from 0 to 0xff"
expect_err 'protect 0 0x1000 READ' "1:18: 'READ': PROT: 'READ' is not a PAGE_ flag (NOACCESS READONLY READWRITE WRITECOPY EXECUTE EXECUTE_READ EXECUTE_READWRITE EXECUTE_WRITECOPY GUARD NOCACHE WRITECOMBINE TARGETS_INVALID, with or without PAGE_, or a number, joined by |)"
# sections, views, placeholders (exec_section.c)
expect_err 'view 0x10 WRITE 0 0' "1:6: '0x10': NAME: the name of a handle (a letter or _ then up to 14 letters, digits or _)"
expect_err 'view S WRITE 0 0' "1:6: 'S': unknown name (no 'S = ...' earlier in this sequence)"
expect_err "$(printf 'S = section 0x10000 READWRITE COMMIT\nview S WRIT 0 0')" \
  "2:8: 'WRIT': ACCESS: 'WRIT' is not a FILE_MAP_ flag (ALL_ACCESS WRITE READ COPY EXECUTE LARGE_PAGES TARGETS_INVALID, with or without FILE_MAP_, or a number, joined by |)"
expect_err 'S = section 0x10000 READWRITE BASED' \
  "1:31: 'BASED': ATTRS: 'BASED' is not a SEC_ flag (COMMIT RESERVE IMAGE_NO_EXECUTE IMAGE NOCACHE WRITECOMBINE LARGE_PAGES FILE, with or without SEC_, or a number, joined by |)"
expect_err 'alloc2 0 0x10000 RESERVE READWRITE L' "1:36: 'L': unknown name (no 'L = ...' earlier in this sequence)"
expect_err 'close' "1: close: missing NAME (usage: close NAME)"
expect_err 'unmap 0 RELEASE 1' "1:17: '1': more arguments than unmap takes (usage: unmap ADDR [TYPE])"

# --keep-going: the good lines run, the exit status still reports the bad one
printf 'A = alloc 0 0x10000 RESERVE|COMMIT READWRITE\nquery A BAD\nquery A\n' > "$tmp/k.ops"
"$cli" run --keep-going "$tmp/k.ops" > "$tmp/out" 2> "$tmp/err"
[ $? = 1 ] || fail "--keep-going: exit status"
grep -q "state=MEM_COMMIT" "$tmp/out" || fail "--keep-going: the good lines did not run"
grep -q "k.ops:2:9: 'BAD'" "$tmp/err" || fail "--keep-going: the error is not reported"

# older spellings, trailing comments, MEM_/PAGE_ prefixes: one language
printf 'W = alloc 0 0x10000 RESERVE|COMMIT|WRITE_WATCH PAGE_READWRITE # a comment\nwrite W+0x1000 1\nww W 0x10000 reset\nresetww W 0x10000\nwatch W 0x10000  # none\n' > "$tmp/w.ops"
"$cli" run --transcript "$tmp/w.ops" > "$tmp/out" 2> "$tmp/err" || fail "aliases: exit status"
printf '1 alloc -> W\n2 write -> ok c\n3 watch -> 0 count=1 gran=0x1000 W+0x1000\n4 resetwatch -> 0\n5 watch -> 0 count=0 gran=0x1000\n' > "$tmp/want"
cmp -s "$tmp/out" "$tmp/want" || { fail "aliases: transcript"; diff "$tmp/want" "$tmp/out"; }

# --json: one document, the map op lists the allocation's regions
printf 'A = alloc 0 0x10000 RESERVE READWRITE\nalloc A+0x1000 0x1000 COMMIT READONLY\nmap\n' > "$tmp/m.ops"
"$cli" run --json "$tmp/m.ops" | python3 -c '
import json, sys
d = json.load(sys.stdin)
m = d["sequences"][0]["ops"][2]
assert m["op"] == "map" and [r["state"] for r in m["regions"]] == ["MEM_RESERVE", "MEM_COMMIT", "MEM_RESERVE"], m
' || fail "--json map"

[ $fails = 0 ] && echo "test-errors: ok"
exit $fails
