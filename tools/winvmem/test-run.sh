#!/bin/sh
# Checks `winvmem run` on scripts/reserve-commit.ops: results in text and in JSON.
set -eu
cli=$1
dir=$2
out=$("$cli" run "$dir/scripts/reserve-commit.ops")
fail() { echo "test-run: $1"; echo "$out"; exit 1; }
echo "$out" | grep -q 'read A+0x10000 2' || fail "source line not echoed"
echo "$out" | grep -q 'bytes=41 00' || fail "write/read through committed memory"
echo "$out" | grep -q 'old=PAGE_READWRITE' || fail "VirtualProtect old protection"
echo "$out" | grep -q 'result=48  base=0x' || fail "VirtualQuery's byte count"
echo "$out" | grep -q 'pages=-wr-' || fail "access map of reserve/commit/read-only"
echo "$out" | grep -q 'result=FALSE  error=ERROR_INVALID_PARAMETER' || fail "bad MEM_RELEASE"
echo "$out" | grep -q 'result=NULL  error=ERROR_INVALID_ADDRESS' || fail "commit outside"
echo "$out" | grep -q 'map of winvmem' || fail "map after the sequence"
echo "$out" | grep -q 'Commit   READONLY' || fail "map rows"
"$cli" run --json "$dir/scripts/reserve-commit.ops" | python3 -c '
import json, sys
d = json.load(sys.stdin)
s = d["sequences"]
assert len(s) == 2, len(s)
ops = s[0]["ops"]
assert ops[0]["op"] == "alloc" and ops[0]["result_name"] == "A", ops[0]
q = [o for o in ops if o["op"] == "query"][0]
assert q["state"] == "MEM_COMMIT" and q["protect"] == "PAGE_READONLY", q
assert any(r["state"] == "Commit" for r in s[0]["map"]), s[0]["map"]
print("test-run: json ok")'
out=$("$cli" run "$dir/scripts/write-watch.ops")
echo "$out" | grep -q 'count=2  written=H+0x1000 H+0x3000' || fail "GetWriteWatch with reset"
echo "$out" | grep -q 'count=1  written=H+0x3000' || fail "GetWriteWatch after the reset"
echo "$out" | grep -q 'count=0  written=$' || fail "ResetWriteWatch"
echo "$out" | grep -q 'result=0xffffffff  error=ERROR_INVALID_PARAMETER' || fail "unwatched"
out=$("$cli" run "$dir/scripts/guard-lock-app.ops")
echo "$out" | grep -q 'fault=guard page violation' || fail "guard page read"
echo "$out" | grep -q 'error=ERROR_NOT_LOCKED' || fail "VirtualUnlock of unlocked pages"
echo "$out" | grep -q 'error=STATUS_GUARD_PAGE_VIOLATION' || fail "VirtualLock on a guard page"
[ "$(echo "$out" | grep -c 'error=ERROR_INVALID_PARAMETER')" = 3 ] || fail "RESET|COMMIT, FromApp W+X"
printf 'alloc 0 0x1000 BOGUS READWRITE\n' | { "$cli" run - >/dev/null 2>&1 && exit 1 || true; }
echo "test-run: ok"
