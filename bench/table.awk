# Turns the result lines of the three variants into the markdown table (POSIX awk).
# Input: "<variant> R <case> <value> <unit>" | "<variant> F <case> <n>" | "<variant> N <case> ..."
# with variant one of floor, winvmem, wine, fallback (winvmem with WINVMEM_GUARD_MARKERS=0);
# a case may appear once per round (median taken).

function median(list,    v, n, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
            t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
        }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}

function human(x, unit) {
    if (unit == "B") {
        if (x >= 1048576) return sprintf("%.1f MiB", x / 1048576)
        if (x >= 1024) return sprintf("%.1f KiB", x / 1024)
        return sprintf("%d B", x)
    }
    if (x >= 1e6) return sprintf("%.1f ms", x / 1e6)
    if (x >= 1e4) return sprintf("%.1f µs", x / 1e3)
    if (x >= 1e3) return sprintf("%.2f µs", x / 1e3)
    return sprintf("%.0f ns", x)
}

function cell(variant, key) {
    if ((variant, key) in vals) return human(med[variant, key], unit[key])
    if ((variant, key) in failed)
        return failed[variant, key] == "unsupported" ? "unsupported" : "failed at " failed[variant, key]
    return "—"
}

function ratio(a, b, key,    r) {
    # the floor has no library: its resident-set growth is page-granular noise, not a base
    if (key == "tib_mem" && b == "floor") return "—"
    if (!((a, key) in vals) || !((b, key) in vals) || med[b, key] == 0) return "—"
    r = med[a, key] / med[b, key]
    return sprintf(r < 0.1 ? "%.2g×" : "%.2f×", r)
}

# target: "floor:R" = winvmem/floor <= R; "max:V" = winvmem <= V (in the case's unit);
# "wine:R" = winvmem/Wine <= R (met when Wine fails the case); "rel:KEY:R" = winvmem <= R x
# winvmem's figure for case KEY
function verdict(key, target,    t, w) {
    if (target == "") return ""
    if (!(("winvmem", key) in vals)) return "no data"
    split(target, t, ":")
    w = med["winvmem", key]
    if (t[1] == "floor") {
        if (!(("floor", key) in vals)) return "no floor"
        return w <= t[2] * med["floor", key] ? "yes" : "**NO**"
    }
    if (t[1] == "wine") {
        if (("wine", key) in failed) return "yes (Wine fails)"
        if (!(("wine", key) in vals)) return "no Wine"
        return w <= t[2] * med["wine", key] ? "yes" : "**NO**"
    }
    if (t[1] == "rel") {
        if (!(("winvmem", t[2]) in vals)) return "no data"
        return w <= t[3] * med["winvmem", t[2]] ? "yes" : "**NO**"
    }
    return w <= t[2] + 0 ? "yes" : "**NO**"
}

function target_text(target, unit_,    t) {
    if (target == "") return ""
    split(target, t, ":")
    if (t[1] == "floor") return "≤ " t[2] "× floor"
    if (t[1] == "wine") return "≤ " t[2] "× Wine"
    if (t[1] == "rel") return "≤ " t[3] "× " t[2]
    return "≤ " human(t[2], unit_)
}

function row(key, label, target) {
    if (!(("floor", key) in vals || ("winvmem", key) in vals || ("wine", key) in vals ||
          ("floor", key) in failed || ("winvmem", key) in failed || ("wine", key) in failed))
        return
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |", label, cell("floor", key),
        cell("winvmem", key), cell("wine", key), ratio("winvmem", "floor", key),
        ratio("winvmem", "wine", key), target_text(target, unit[key]), verdict(key, target)
    if (fallback)
        printf " %s | %s |", cell("fallback", key), ratio("fallback", "floor", key)
    printf "\n"
}

{ sub(/\r$/, "") } # Wine's C runtime writes CR LF

$2 == "R" {
    k = $1 SUBSEP $3
    vals[k] = vals[k] " " $4
    unit[$3] = $5
}
$2 == "F" { failed[$1, $3] = $4 }
$2 == "N" {
    text = $0
    sub(/^[^ ]+ N [^ ]+ /, "", text)
    notes[$1, $3] = text
    if (!(($1, $3) in noted)) { noted[$1, $3] = 1; order[++nnotes] = $1 SUBSEP $3 }
}

END {
    for (k in vals) med[k] = median(vals[k])
    fallback = 0
    for (k in vals) { split(k, p, SUBSEP); if (p[1] == "fallback") fallback = 1 }
    for (k in failed) { split(k, p, SUBSEP); if (p[1] == "fallback") fallback = 1 }
    printf "| case | floor | winvmem | Wine | winvmem/floor | winvmem/Wine | target | met |"
    if (fallback) printf " winvmem, mprotect fallback | fallback/floor |"
    printf "\n|---|---:|---:|---:|---:|---:|---|---|"
    if (fallback) printf "---:|---:|"
    printf "\n"
    row("alloc64k", "reserve+commit 64 KiB, touch 1 byte, release", "floor:1.10")
    row("reserve1m", "reserve 1 MiB + release (untouched)", "floor:0.25")
    row("commitpage", "commit 1 random page of 1 GiB, touch, decommit", "floor:0.8")
    row("protect", "protection toggle (2 calls), 1 random page of 64 MiB", "floor:1.10")
    split("10k 100k 1m", tags, " ")
    split("10,000 100,000 1,000,000", names, " ")
    split(" max:100 max:150", qtarget, " ")
    for (i = 1; i <= 3; i++) {
        row("create_" tags[i], "create a region (reserve 64 KiB + commit 1st page), " names[i] " live", "")
        row("query_" tags[i], "VirtualQuery, random address among " names[i] " regions",
            i == 1 ? "" : qtarget[i - 1])
        row("walk_" tags[i], "walk 0 … lpMaximumApplicationAddress, " names[i] " regions", "")
        row("rss_" tags[i], "… resident memory per region (" names[i] ")", i == 1 ? "" : "max:64")
        row("meta_" tags[i], "… winvmem's own metadata count per region (" names[i] ")", "")
        row("pte_" tags[i], "… page-table bytes per region (" names[i] ")", "")
    }
    row("tib_time", "reserve 16 × 64 GiB, commit+touch 1,000 pages, query, release: time", "max:20000000")
    row("tib_mem", "… library memory at the peak", "max:1048576")
    row("threads2", "2 threads × 64 KiB cycle, wall time per op", "floor:1.0")
    split("256 16k 128k", itags, " ")
    split("256 16,384 131,072", inames, " ")
    split("isl_ islalt_ islna_ isldna_", iprefix, " ")
    split("read-write|alternating read-only/read-write|alternating NOACCESS (untouched)/read-write|alternating NOACCESS (with data)/read-write",
          ikind, "|")
    for (a = 1; a <= 4; a++)
        for (i = 1; i <= 3; i++) {
            k = iprefix[a] itags[i]
            row(k, "commit+touch+decommit 1 page between " inames[i] " " ikind[a] \
                " islands of 2 GiB",
                i == 1 ? "" : i == 2 ? "wine:1.0" : "rel:" iprefix[a] "256:1.5")
        }
    for (i = 1; i <= 3; i++)
        row("islprot_" itags[i], "read-only island of " inames[i] " alternating ones made " \
            "read-write and read-only again (2 calls)", "")
    for (i = 1; i <= 3; i++)
        row("islnaprot_" itags[i], "NOACCESS island of " inames[i] " alternating ones made " \
            "read-write and NOACCESS again (2 calls)", "")
    for (i = 1; i <= 3; i++)
        row("islguard_" itags[i], "NOACCESS island of " inames[i] " made PAGE_GUARD, " \
            "touched (1 guard violation), NOACCESS again", "")
    for (i = 1; i <= 3; i++)
        row("isldnaprot_" itags[i], "NOACCESS island with data of " inames[i] " alternating " \
            "ones made read-write and NOACCESS again (2 calls)", "")
    for (i = 1; i <= 3; i++)
        row("isldguard_" itags[i], "NOACCESS island with data of " inames[i] " made " \
            "PAGE_GUARD, touched (1 guard violation), NOACCESS again", "")
    row("view64k", "map a 64 KiB view of a section, touch 1 byte, unmap", "")
    row("ring", "64 KiB magic ring buffer from placeholders: made, written, undone", "")
    print ""
    printf "Reference floors (cheaper kernel sequences for the page cycle): "
    printf "mprotect + mmap(MAP_FIXED, PROT_NONE) %s; MADV_GUARD_REMOVE + MADV_GUARD_INSTALL %s.\n",
        cell("floor", "commitpage_mmap"), cell("floor", "commitpage_guard")
    print ""
    print "Notes:"
    for (i = 1; i <= nnotes; i++) {
        split(order[i], p, SUBSEP)
        printf "- %s %s: %s\n", p[1], p[2], notes[order[i]]
    }
}
