/* Fault injection after the publish of a widening over a stashed page (core/stash.h): a
 * NOACCESS page holding data (stashed: WINVMEM_MARKER_DATA=2) and a READONLY page holding data
 * (userfaultfd write-protect) both made read-write by one VirtualProtect. Its steps after the
 * publish are the stashed page's UFFDIO_COPY back, then the READONLY page's write-protect
 * cleared; when the kernel refuses the second, the first is undone: the page goes back to the
 * stash under a marker, with the transient PROT_NONE of the way there (without it a read
 * racing the marker's zap maps a zero page), i.e. exactly two mprotect calls in a call that
 * makes none otherwise. Every N-th call failed in turn; each failure leaves both pages as
 * they were, and the call that finally succeeds finds both pages' data. */
#include <criterion/criterion.h>
#include <errno.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#include "prim/options.h"

extern void wvm__prim_inject_after(uint64_t n, int err);

#define PG 4096

static uint64_t syscalls(enum wvm_syscall_kind k)
{
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    cr_assert_eq(wvm_stats_get(&st), 0);
    return st.syscalls[k];
}

static uint32_t in_use(void)
{
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    cr_assert_eq(wvm_stats_get(&st), 0);
    return st.mechanisms_in_use;
}

static void expect_prot(char *p, DWORD prot)
{
    MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(VirtualQuery(p, &m, sizeof m), sizeof m);
    cr_assert_eq(m.Protect, prot, "%p: protection %#lx, expected %#lx", (void *)p,
                 (unsigned long)m.Protect, (unsigned long)prot);
}

Test(stash_widen, failure_after_the_publish_restashes_under_prot_none)
{
    wvm__option_set(WVM_OPT_MARKER_DATA, 2);
    char *p = VirtualAlloc(NULL, 4 * PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    cr_assert_not_null(p);
    for (int i = 0; i < 2 * PG; i++)
        p[i] = (char)(i * 7 + 1);
    DWORD old;
    cr_assert(VirtualProtect(p, PG, PAGE_NOACCESS, &old));
    cr_assert(VirtualProtect(p + PG, PG, PAGE_READONLY, &old));
    /* without the stash (the suite's _mprotect / _ww_mprotect variants) there is no such step */
    if (!(in_use() & WVM_MECH_MARKER_DATA) || !(in_use() & WVM_MECH_UFFD_WP_SIGBUS))
        return;
    /* fault injection is there (a WVM_FAULT_INJECTION build: debug, asan-ubsan) */
    wvm__prim_inject_after(1, ENOMEM);
    int refused = !VirtualProtect(p + 2 * PG, PG, PAGE_READONLY, &old);
    wvm__prim_inject_after(0, 0);
    if (!refused)
        cr_skip_test("not a WVM_FAULT_INJECTION build");
    cr_assert(VirtualProtect(p + 2 * PG, PG, PAGE_READWRITE, &old));
    int failures = 0;
    uint64_t last_mprotects = 0;
    for (uint64_t n = 1;; n++) {
        cr_assert_lt(n, 64, "the widening never succeeded");
        uint64_t before = syscalls(WVM_SYS_MPROTECT);
        wvm__prim_inject_after(n, ENOMEM);
        BOOL ok = VirtualProtect(p, 2 * PG, PAGE_READWRITE, &old);
        wvm__prim_inject_after(0, 0);
        uint64_t mprotects = syscalls(WVM_SYS_MPROTECT) - before;
        if (ok)
            break;
        failures++;
        last_mprotects = mprotects;
        cr_assert_eq(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
        expect_prot(p, PAGE_NOACCESS);
        expect_prot(p + PG, PAGE_READONLY);
        cr_assert_eq(wvm_check_invariants(), 0);
    }
    cr_assert_geq(failures, 2, "%d failures", failures);
    /* the last failure is the last step's: the undo stashed the page again under PROT_NONE */
    cr_assert_eq(last_mprotects, 2, "the undo made %llu mprotect calls",
                 (unsigned long long)last_mprotects);
    expect_prot(p, PAGE_READWRITE);
    for (int i = 0; i < 2 * PG; i++)
        cr_assert_eq(p[i], (char)(i * 7 + 1), "byte %d", i);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
}
