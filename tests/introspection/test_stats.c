/* wvm_stats_get: figures follow the calls that change them; mechanisms are split into what the
 * kernel offers and what winvmem chose. */
#include <criterion/criterion.h>
#include <errno.h>
#include <winvmem.h>
#include <winvmem/win32.h>

#include "child.h"

static wvm_stats now(void)
{
    wvm_stats s = {.version = WVM_STATS_VERSION, .size = sizeof s};
    cr_assert_eq(wvm_stats_get(&s), 0);
    return s;
}

Test(stats, rejects_wrong_version_or_size)
{
    wvm_stats s = {.version = WVM_STATS_VERSION + 1, .size = sizeof s};
    cr_expect_eq(wvm_stats_get(&s), EINVAL);
    s = (wvm_stats){.version = WVM_STATS_VERSION, .size = sizeof s - 8};
    cr_expect_eq(wvm_stats_get(&s), EINVAL);
    cr_expect_eq(wvm_stats_get(NULL), EINVAL);
}

Test(stats, follows_reserve_commit_release)
{
    wvm_stats a = now();
    char *p = wvm_VirtualAlloc(NULL, 1 << 20, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS);
    cr_assert_not_null(p);
    cr_assert_not_null(wvm_VirtualAlloc(p, 3 << 16, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    wvm_stats b = now();
    cr_expect_eq(b.reserved_bytes - a.reserved_bytes, 1 << 20);
    cr_expect_eq(b.committed_bytes - a.committed_bytes, 3 << 16);
    cr_expect_eq(b.live_allocations - a.live_allocations, 1);
    cr_expect_geq(b.reserved_peak, b.reserved_bytes);
    cr_expect_geq(b.committed_peak, b.committed_bytes);
    cr_expect_gt(b.metadata_bytes, 0);
    cr_expect_geq(b.kernel_mappings_created, 1, "the arena or the allocation is a mapping");
    uint64_t calls_a = 0, calls_b = 0;
    for (int k = 0; k < WVM_SYS_KINDS; k++) {
        calls_a += a.syscalls[k];
        calls_b += b.syscalls[k];
    }
    cr_expect_gt(calls_b, calls_a, "commit makes at least one system call");
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
    wvm_stats c = now();
    cr_expect_eq(c.reserved_bytes, a.reserved_bytes);
    cr_expect_eq(c.committed_bytes, a.committed_bytes);
    cr_expect_eq(c.live_allocations, a.live_allocations);
    cr_expect_eq(c.committed_peak, b.committed_peak, "peaks stay");
}

Test(stats, in_use_is_a_subset_of_available)
{
    char why[7][320];
    const char *name[7];
    /* explaining probes what is probed lazily: the stats taken afterwards must agree */
    for (int i = 0; i < 7; i++)
        name[i] = wvm_mechanism_explain(1u << i, why[i], sizeof why[i]);
    wvm_stats s = now();
    cr_expect_eq(s.mechanisms_in_use & ~s.mechanisms_available, 0);
    for (int i = 0; i < 7; i++) {
        uint32_t m = 1u << i;
        cr_assert_not_null(name[i]);
        cr_expect_eq(strncmp(why[i], name[i], strlen(name[i])), 0, "%s", why[i]);
        if (s.mechanisms_in_use & m)
            cr_expect(strstr(why[i], ": in use"), "%s", why[i]);
        else if (s.mechanisms_available & m)
            cr_expect(strstr(why[i], ": available, not used: "), "%s", why[i]);
        else
            cr_expect(strstr(why[i], ": missing: ") || strstr(why[i], ": not probed"), "%s",
                      why[i]);
    }
    char buf[320];
    cr_expect_null(wvm_mechanism_explain(0x80000000u, buf, sizeof buf));
}

static int guard_markers_disabled(void)
{
    wvm_stats s = {.version = WVM_STATS_VERSION, .size = sizeof s};
    if (wvm_stats_get(&s))
        return 1;
    if (s.mechanisms_in_use & WVM_MECH_GUARD_MARKERS)
        return 2; /* the option must win */
    char why[320];
    wvm_mechanism_explain(WVM_MECH_GUARD_MARKERS, why, sizeof why);
    if ((s.mechanisms_available & WVM_MECH_GUARD_MARKERS) &&
        !strstr(why, "disabled by WINVMEM_GUARD_MARKERS=0"))
        return 3;
    return 0;
}

Test(stats, option_turns_a_mechanism_off_but_not_unavailable)
{
    int st;
    const char *env[] = {"WINVMEM_GUARD_MARKERS", "0", NULL};
    char *err = run_child(env, guard_markers_disabled, &st);
    cr_expect_eq(st, 0, "step %d: %s", st, err);
    free(err);
}

Test(stats, print_stats_table_and_json)
{
    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    wvm_print_stats(f, 0);
    wvm_print_stats(f, WVM_PRINT_JSON);
    fclose(f);
    cr_expect(strstr(buf, "winvmem statistics\n  version           " WVM_VERSION_STRING "\n"), "%s",
              buf);
    char head[96];
    snprintf(head, sizeof head, "{\"version\": %d, \"winvmem_version\": \"%s\", \"reserved_bytes\": ",
             WVM_STATS_VERSION, WVM_VERSION_STRING);
    cr_expect(strstr(buf, head), "%s", buf);
    cr_expect(strstr(buf, "\"mechanisms_in_use\": ["), "%s", buf);
    cr_expect(strstr(buf, "\"views_live\": "), "%s", buf);
    free(buf);
}

Test(stats, version_1_callers_still_served)
{
    wvm_stats s;
    memset(&s, 0xAB, sizeof s);
    s.version = 1;
    s.size = WVM_STATS_V1_SIZE;
    cr_assert_eq(wvm_stats_get(&s), 0);
    cr_expect_eq(s.version, 1);
    cr_expect_neq(s.commit_limit, 0);
    cr_expect_eq(s.sections_live, 0xABABABABABABABABull, "past a version-1 struct: untouched");
    s.size = sizeof s;
    cr_expect_eq(wvm_stats_get(&s), EINVAL);
}

Test(stats, sections_views_placeholders_counted)
{
    wvm_stats s = {.version = WVM_STATS_VERSION, .size = sizeof s};
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x20000, NULL);
    void *v = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    void *ph = VirtualAlloc2(NULL, NULL, 0x30000, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                             PAGE_NOACCESS, NULL, 0);
    cr_assert(h && v && ph);
    cr_assert_eq(wvm_stats_get(&s), 0);
    cr_expect_eq(s.sections_live, 1);
    cr_expect_eq(s.views_live, 1);
    cr_expect_eq(s.view_bytes, 0x20000);
    cr_expect_eq(s.placeholders_live, 1);
    cr_expect_eq(s.handles_open, 1);
    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    wvm_print_map_ex(f, WVM_PRINT_OWN);
    fclose(f);
    cr_expect(strstr(buf, "[winvmem view]"), "%s", buf);
    cr_expect(strstr(buf, "[winvmem placeholder]"), "%s", buf);
    free(buf);
    UnmapViewOfFile(v);
    CloseHandle(h);
    VirtualFree(ph, 0, MEM_RELEASE);
    cr_assert_eq(wvm_stats_get(&s), 0);
    cr_expect_eq(s.sections_live + s.views_live + s.placeholders_live + s.handles_open, 0);
}
