#!/bin/sh
# winvmem's command line: --help says what the tool and each command are, an unknown command
# or option is named (exit 2), and `info` never reports a rejected WINVMEM_* value as in force.
#   test-usage.sh WINVMEM_CLI
set -u
cli=$1
fails=0
fail() { echo "test-usage: $1"; fails=$((fails + 1)); }
out=$("$cli" --help) || fail "--help exits non-zero"
for w in "winvmem info" "winvmem run" "winvmem map" "winvmem stats" "Windows virtual-memory API" \
         "--transcript" "--keep-going" "--all"; do
    echo "$out" | grep -qF -- "$w" || fail "--help does not mention '$w'"
done
check() { # check WANT-STATUS WANT-STDERR-TEXT ARGS...
    want=$1 text=$2
    shift 2
    err=$("$cli" "$@" 2>&1 >/dev/null)
    rc=$?
    [ $rc = "$want" ] || fail "winvmem $*: exit $rc, want $want"
    echo "$err" | grep -qF -- "$text" || { fail "winvmem $*: stderr lacks '$text'"; echo "$err"; }
}
check 2 "unknown command 'frob' (commands: info, run, map, stats)" frob
check 2 "'--all' is not an option of 'info'" info --all
check 2 "'--bogus' is not an option of 'map'" map --bogus
check 2 "unexpected argument 'x' to 'stats'" stats x
check 2 "run: missing FILE" run
check 2 "no command given"
check 2 "run: choose one of --json, --transcript and --html" run --json --transcript -
check 2 "map: --from draws a saved map: it needs --html" map --from x.json
check 2 "--from needs a FILE" map --html --from
check 2 "/nonexistent.ops" run /nonexistent.ops

# a rejected value is shown as rejected, never as in force
out=$(WINVMEM_COMMIT_LIMIT=12Q "$cli" info 2>/dev/null)
echo "$out" | grep -q "(WINVMEM_COMMIT_LIMIT)" && fail "info reports a rejected WINVMEM_COMMIT_LIMIT as in force"
echo "$out" | grep -q "WINVMEM_COMMIT_LIMIT=12Q  rejected, the default is in force" ||
    fail "info does not say WINVMEM_COMMIT_LIMIT=12Q was rejected"
out=$(WINVMEM_COMMIT_LIMIT=1G "$cli" info)
echo "$out" | grep -q "^commit limit  *1024 MiB (WINVMEM_COMMIT_LIMIT)" || fail "an accepted limit is not shown"
echo "$out" | grep -q "WINVMEM_COMMIT_LIMIT=1G  in force" || fail "an accepted value is not listed"
WINVMEM_COMMIT_LIMIT=12Q WINVMEM_GUARD_MARKERS=0 "$cli" info --json 2>/dev/null | python3 -c '
import json, sys
o = {x["name"]: x for x in json.load(sys.stdin)["options"]}
assert o["WINVMEM_COMMIT_LIMIT"]["source"] == "rejected" and o["WINVMEM_COMMIT_LIMIT"]["text"] == "12Q", o
assert o["WINVMEM_GUARD_MARKERS"]["source"] == "environment" and o["WINVMEM_GUARD_MARKERS"]["value"] == 0, o
assert o["WINVMEM_VERBOSE"]["source"] == "default", o
' || fail "info --json options"
[ $fails = 0 ] && echo "test-usage: ok"
exit $fails
