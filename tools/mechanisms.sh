# shellcheck shell=sh disable=SC2034
# Kernel-mechanism combinations a user can be left with (issue 11), for the test scripts that
# run a tier on each (sourced: tests/ci.d/lin.sh, tools/mechanisms-matrix.sh).
#
# A combination is three digits, each 1 (use the mechanism when the kernel has it) or 0 (never):
#   1st  WINVMEM_GUARD_MARKERS   guard markers for uncommitted pages (Linux >= 6.13), else mprotect
#   2nd  WINVMEM_USERFAULTFD     userfaultfd write watch / AWE moves / READONLY write-protect
#                                (>= 6.7 / 6.8 / 6.4), else mprotect write watch, memfd AWE and
#                                mprotect READONLY (WINVMEM_UFFD_READONLY=0 alone: the last)
#                                NOACCESS/GUARD pages without data as guard markers need both the
#                                1st and the 2nd (marker-noaccess: on in 11x, off in the others;
#                                WINVMEM_MARKER_NOACCESS=0 alone switches it off)
#   3rd  WINVMEM_PROCMAP_QUERY   PROCMAP_QUERY ioctl for foreign memory (>= 6.11), else parsing
#                                /proc/self/maps
# and an optional 4th digit, WINVMEM_MARKER_DATA (NOACCESS/GUARD pages holding data under
# marker-noaccess, so it matters in 11x only): 0 mprotect, 2 the stash always (marker-data),
# absent: the default, 1, mprotect while the process is far from vm.max_map_count, the stash
# beyond (core/stash_policy.c).
# 111 is what this kernel gives by default, 000 what a kernel older than 6.7 gives.
WVM_COMBOS="111 011 101 110 001 010 100 000 1112 1110"

# mech_env COMBO: the environment assignments of COMBO
mech_env() {
    printf 'WINVMEM_GUARD_MARKERS=%s WINVMEM_USERFAULTFD=%s WINVMEM_PROCMAP_QUERY=%s' \
        "$(echo "$1" | cut -c1)" "$(echo "$1" | cut -c2)" "$(echo "$1" | cut -c3)"
    _d=$(echo "$1" | cut -c4)
    if [ -n "$_d" ]; then printf ' WINVMEM_MARKER_DATA=%s' "$_d"; fi
}

# mech_run COMBO CMD...: CMD with COMBO's environment
mech_run() {
    _c=$1
    shift
    # shellcheck disable=SC2046
    env $(mech_env "$_c") "$@"
}

# mech_show COMBO WINVMEM_CLI: one line saying which mechanisms are really in use under COMBO
# (a mechanism this kernel lacks runs its fallback in every combination: said here, so a
# combination that could not be tested as named is visible in the log)
mech_show() {
    _line=$(mech_run "$1" "$2" info 2>/dev/null |
        awk '/guard-markers:|uffd-wp-async:|uffd-wp-sigbus:|marker-noaccess:|marker-data:|procmap-query:/ {
                 n = $1; sub(":", "", n); s = ($2 == "in") ? "on" : "off"; printf "%s %s=%s", sep, n, s; sep = "," }')
    echo "mechanisms $1 ($(mech_env "$1")):${_line:- (winvmem info failed)}"
}

# mech_check WHO WHAT CMD...: runs CMD with its output kept; prints "WHAT: " and its last line,
# or on failure its whole output and "WHO: WHAT FAILED (exit N)", and sets mech_failed=1
mech_failed=0
mech_check() {
    _who=$1 _what=$2
    shift 2
    _log=$(mktemp)
    _st=0
    "$@" >"$_log" 2>&1 || _st=$?
    if [ $_st -eq 0 ]; then
        echo "$_what: $(tail -1 "$_log")"
    else
        cat "$_log"
        echo "$_who: $_what FAILED (exit $_st)"
        mech_failed=1
    fi
    rm -f "$_log"
}
