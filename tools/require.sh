# Sourced (". tools/require.sh") by every script whose check needs an optional tool: wine,
# mingw-w64, clang, scdoc, ... A check that cannot run has checked nothing, so by default it
# FAILS. On a developer's machine WINVMEM_ALLOW_SKIP=1 turns that into a named skip (exit 77,
# which tools/test.sh counts and lists as skipped). CI (.ci/run) sets WINVMEM_ALLOW_SKIP=0.
#
#   require WHO WHAT CMD...   returns when every CMD is on PATH; otherwise reports WHO could not
#                             run because WHAT is missing, and exits (1, or 77 when allowed)
#   cannot_run WHO REASON     the same for any other missing precondition

cannot_run() {
    if [ "${WINVMEM_ALLOW_SKIP:-0}" = 1 ]; then
        echo "$1: SKIPPED (WINVMEM_ALLOW_SKIP=1): $2"
        exit 77
    fi
    echo "$1: FAILED: cannot run: $2" >&2
    echo "$1: tools/install-deps.sh installs what the checks need; WINVMEM_ALLOW_SKIP=1 skips" \
        "this on a developer's machine (never in CI)" >&2
    exit 1
}

require() {
    _who=$1 _what=$2
    shift 2
    for _cmd in "$@"; do
        command -v "$_cmd" >/dev/null 2>&1 || cannot_run "$_who" "$_what missing ($_cmd not on PATH)"
    done
}
