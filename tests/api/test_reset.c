/* MEM_RESET and MEM_RESET_UNDO. The kernel is made to drop lazily freed pages with
 * MADV_PAGEOUT (Linux >= 5.4), so the "data lost" path is tested for real.
 *
 * Every test stays on one CPU. MADV_FREE leaves a page in a per-CPU batch (lru_lazyfree) until
 * that CPU drains it, and MADV_PAGEOUT drains only the batches of the CPU it runs on: a page
 * freed on one CPU and paged out from another is often still an ordinary anonymous page then,
 * and is kept (measured here: 45 of 100 pages kept after a migration, 0 of 100 without). A test
 * that the scheduler moved between the two calls (likelier under ctest -j2) saw a "false
 * success" of MEM_RESET_UNDO that was a page the kernel had not dropped at all. */
#define _GNU_SOURCE /* sched_setaffinity */
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "veh_record.h"
#include "skip.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static char *filled(size_t pages, uint32_t prot)
{
    char *p =
        wvm_VirtualAlloc(NULL, pages * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_not_null(p);
    memset(p, 0x5A, pages * PAGE);
    uint32_t old;
    if (prot != WVM_PAGE_READWRITE)
        cr_assert(wvm_VirtualProtect(p, pages * PAGE, prot, &old));
    return p;
}

static void stay_on_one_cpu(void)
{
    cpu_set_t set;
    int cpu = sched_getcpu();
    CPU_ZERO(&set);
    CPU_SET(cpu < 0 ? 0 : cpu, &set);
    cr_assert_eq(sched_setaffinity(0, sizeof set, &set), 0, "sched_setaffinity");
}

TestSuite(reset, .init = stay_on_one_cpu);

/* Drops the lazily freed pages of [p, p+len); skips the test when the kernel cannot. */
static void force_drop(char *p, size_t len)
{
    if (madvise(p, len, MADV_PAGEOUT))
        wvm_cannot_run("MADV_PAGEOUT unavailable: cannot make the kernel drop pages");
}

Test(reset, keeps_state_and_protection_ignores_prot_argument)
{
    char *p = filled(4, WVM_PAGE_READONLY);
    wvm_SetLastError(99);
    cr_assert_eq(wvm_VirtualAlloc(p + PAGE + 16, PAGE, WVM_MEM_RESET, WVM_PAGE_NOACCESS), p + PAGE,
                 "page-rounded start");
    cr_assert_eq(wvm_GetLastError(), 99);
    wvm_MEMORY_BASIC_INFORMATION m;
    wvm_VirtualQuery(p, &m, sizeof m);
    cr_assert_eq(m.State, WVM_MEM_COMMIT);
    cr_assert_eq(m.Protect, WVM_PAGE_READONLY);
    cr_assert_eq(m.RegionSize, 4 * PAGE, "the reset flag must not split regions");
    char c = p[PAGE];
    cr_assert(c == 0x5A || c == 0, "reset data reads old or zero, got %d", c);
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(reset, argument_rules)
{
    char *p = filled(2, WVM_PAGE_READWRITE);
    const uint32_t bad_types[] = {WVM_MEM_RESET | WVM_MEM_COMMIT, WVM_MEM_RESET | WVM_MEM_RESERVE,
                                  WVM_MEM_RESET | WVM_MEM_RESET_UNDO,
                                  WVM_MEM_RESET_UNDO | WVM_MEM_COMMIT,
                                  WVM_MEM_RESET | WVM_MEM_TOP_DOWN};
    for (unsigned i = 0; i < sizeof bad_types / sizeof *bad_types; i++) {
        cr_assert_null(wvm_VirtualAlloc(p, PAGE, bad_types[i], WVM_PAGE_READWRITE));
        cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER, "type %#x", bad_types[i]);
    }
    cr_assert_null(wvm_VirtualAlloc(p, PAGE, WVM_MEM_RESET, 0), "protection is validated");
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_null(wvm_VirtualAlloc(NULL, PAGE, WVM_MEM_RESET, WVM_PAGE_READWRITE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_null(wvm_VirtualAlloc(NULL, PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_READWRITE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_null(wvm_VirtualAlloc(p, 0, WVM_MEM_RESET, WVM_PAGE_READWRITE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
}

Test(reset, range_past_reservation_is_invalid_address)
{
    char *p = wvm_VirtualAlloc(NULL, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert_not_null(wvm_VirtualAlloc(p, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    /* reserved-only pages: success, they stay reserved */
    cr_assert_eq(wvm_VirtualAlloc(p + PAGE, PAGE, WVM_MEM_RESET, WVM_PAGE_NOACCESS), p + PAGE);
    wvm_MEMORY_BASIC_INFORMATION m;
    wvm_VirtualQuery(p + PAGE, &m, sizeof m);
    cr_assert_eq(m.State, WVM_MEM_RESERVE);
    cr_assert_eq(m.Protect, 0);
    cr_assert_null(wvm_VirtualAlloc(p + 0xf000, 0x2000, WVM_MEM_RESET, WVM_PAGE_NOACCESS));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_ADDRESS);
    cr_assert_null(wvm_VirtualAlloc(p + 0xf000, 0x2000, WVM_MEM_RESET_UNDO, WVM_PAGE_NOACCESS));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_ADDRESS);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
    cr_assert_null(wvm_VirtualAlloc(p, PAGE, WVM_MEM_RESET, WVM_PAGE_NOACCESS), "free memory");
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_ADDRESS);
}

Test(reset, undo_right_away_keeps_data)
{
    char *p = filled(8, WVM_PAGE_READWRITE);
    cr_assert_eq(wvm_VirtualAlloc(p, 8 * PAGE, WVM_MEM_RESET, WVM_PAGE_READWRITE), p);
    wvm_SetLastError(7);
    cr_assert_eq(wvm_VirtualAlloc(p, 8 * PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_READWRITE), p,
                 "undo failed: %u", wvm_GetLastError());
    cr_assert_eq(wvm_GetLastError(), 7);
    for (size_t i = 0; i < 8 * PAGE; i++)
        cr_assert_eq(p[i], 0x5A);
    /* pinned: even a forced page-out cannot drop them any more */
    madvise(p, 8 * PAGE, MADV_PAGEOUT);
    cr_assert_eq(p[3 * PAGE], 0x5A);
}

Test(reset, undo_after_drop_fails_and_lost_pages_read_zero)
{
    char *p = filled(4, WVM_PAGE_READWRITE);
    cr_assert_eq(wvm_VirtualAlloc(p + PAGE, PAGE, WVM_MEM_RESET, WVM_PAGE_READWRITE), p + PAGE);
    force_drop(p, 4 * PAGE);
    cr_assert_null(wvm_VirtualAlloc(p, 4 * PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_READWRITE),
                   "false success: the page was dropped");
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_ADDRESS);
    cr_assert_eq(p[PAGE], 0);
    cr_assert_eq(p[2 * PAGE - 1], 0);
    cr_assert_eq(p[0], 0x5A, "pages never reset keep their data");
    cr_assert_eq(p[2 * PAGE], 0x5A);
    /* the pages are no longer reset: a second undo succeeds */
    cr_assert_eq(wvm_VirtualAlloc(p, 4 * PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_READWRITE), p);
    cr_assert_eq(wvm_check_invariants(), 0);
}

static uint32_t mechanisms_in_use(void)
{
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    cr_assert_eq(wvm_stats_get(&st), 0);
    return st.mechanisms_in_use;
}

/* Whether NOACCESS pages holding data are guard markers with their data stashed
 * (core/stash.h): marker-data in use and WINVMEM_MARKER_DATA=2 (the ctest variant
 * api_reset_stash); by default such pages of a process with few mappings are mprotect's. */
static bool stashes_data(void)
{
    const char *v = getenv("WINVMEM_MARKER_DATA");
    return (mechanisms_in_use() & WVM_MECH_MARKER_DATA) && v && v[0] == '2';
}

/* Whether MEM_RESET_UNDO writes pages the program may not write through /proc/self/mem
 * (WVM_MECH_PROC_MEM): yes unless WINVMEM_PROC_MEM=0 (the ctest variant api_reset_noprocmem,
 * what a kernel that refuses forced writes gives). */
static bool forced_writes(void)
{
    const char *v = getenv("WINVMEM_PROC_MEM");
    bool want = !(v && !strcmp(v, "0"));
    char why[320];
    wvm_mechanism_explain(WVM_MECH_PROC_MEM, why, sizeof why);
    bool in_use = (mechanisms_in_use() & WVM_MECH_PROC_MEM) != 0;
    if (want && !in_use)
        wvm_cannot_run("forced writes through /proc/self/mem are refused here");
    cr_assert_eq(in_use, want, "%s", why);
    return in_use;
}

/* Pages the program may not write are pinned without being made writable (finding (n) of
 * tests/lin/README.md: a write racing the undo went through): the undo keeps their data for
 * good, their protection is what it was, and with no forced writes it reports them lost. */
Test(reset, undo_pins_pages_the_program_cannot_write)
{
    const uint32_t prots[] = {WVM_PAGE_READONLY, WVM_PAGE_EXECUTE_READ, WVM_PAGE_NOACCESS,
                              WVM_PAGE_READONLY | WVM_PAGE_GUARD, WVM_PAGE_EXECUTE};
    bool forced = forced_writes();
    for (unsigned i = 0; i < sizeof prots / sizeof *prots; i++) {
        char *p = filled(4, prots[i]);
        cr_assert_eq(wvm_VirtualAlloc(p, 4 * PAGE, WVM_MEM_RESET, WVM_PAGE_READWRITE), p);
        /* READONLY by userfaultfd write-protect is never reset (core/wp.h), nor NOACCESS as a
         * guard marker with its data stashed (core/stash.h): nothing to pin */
        bool kept_whole =
            (prots[i] == WVM_PAGE_READONLY && (mechanisms_in_use() & WVM_MECH_UFFD_WP_SIGBUS)) ||
            (prots[i] == WVM_PAGE_NOACCESS && stashes_data());
        void *undone = wvm_VirtualAlloc(p, 4 * PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_READWRITE);
        if (forced || kept_whole) {
            cr_assert_eq(undone, p, "prot %#x: undo failed: %u", prots[i], wvm_GetLastError());
        } else {
            cr_assert_null(undone, "prot %#x: not pinned, yet reported intact", prots[i]);
            cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_ADDRESS);
        }
        cr_assert_eq(prot_of(p), prots[i]);
        force_drop(p, 4 * PAGE);
        uint32_t old;
        cr_assert(wvm_VirtualProtect(p, 4 * PAGE, WVM_PAGE_READWRITE, &old));
        cr_assert_eq(old, prots[i]);
        if (forced || kept_whole)
            for (size_t b = 0; b < 4 * PAGE; b += 511)
                cr_assert_eq(p[b], 0x5A, "prot %#x: byte %zu lost after a pinning undo", prots[i],
                             b);
        cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
    }
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(reset, undo_of_dropped_pages_the_program_cannot_write_fails)
{
    const uint32_t prots[] = {WVM_PAGE_EXECUTE_READ, WVM_PAGE_NOACCESS,
                              WVM_PAGE_READONLY | WVM_PAGE_GUARD};
    for (unsigned i = 0; i < sizeof prots / sizeof *prots; i++) {
        char *p = filled(4, prots[i]);
        cr_assert_eq(wvm_VirtualAlloc(p + PAGE, 2 * PAGE, WVM_MEM_RESET, WVM_PAGE_READWRITE),
                     p + PAGE);
        force_drop(p + 2 * PAGE, PAGE);
        if (prots[i] == WVM_PAGE_NOACCESS && stashes_data()) {
            /* a guard marker with its data stashed (core/stash.h): MEM_RESET leaves it, the
             * kernel cannot drop it, the undo finds every page whole */
            cr_assert_eq(wvm_VirtualAlloc(p, 4 * PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_READWRITE), p);
            uint32_t old;
            cr_assert(wvm_VirtualProtect(p, 4 * PAGE, WVM_PAGE_READONLY, &old));
            for (size_t b = 0; b < 4 * PAGE; b += 511)
                cr_assert_eq(p[b], 0x5A, "byte %zu of a stashed page lost", b);
            cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
            continue;
        }
        cr_assert_null(wvm_VirtualAlloc(p, 4 * PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_READWRITE),
                       "prot %#x: false success: a page was dropped", prots[i]);
        cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_ADDRESS);
        cr_assert_eq(prot_of(p + PAGE), prots[i]);
        uint32_t old;
        cr_assert(wvm_VirtualProtect(p, 4 * PAGE, WVM_PAGE_READONLY, &old));
        cr_assert_eq(p[2 * PAGE], 0, "prot %#x: the dropped page reads zero", prots[i]);
        cr_assert_eq(p[0], 0x5A);
        cr_assert_eq(p[3 * PAGE + 7], 0x5A);
        cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
    }
}

Test(reset, undo_detects_every_dropped_page_repeatedly)
{
    for (int round = 0; round < 10; round++) {
        char *p = filled(16, WVM_PAGE_READWRITE);
        cr_assert_eq(wvm_VirtualAlloc(p, 16 * PAGE, WVM_MEM_RESET, WVM_PAGE_READWRITE), p);
        force_drop(p + (round % 16) * PAGE, PAGE);
        cr_assert_null(wvm_VirtualAlloc(p, 16 * PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_READWRITE),
                       "round %d: false success", round);
        cr_assert_eq(p[(round % 16) * PAGE], 0);
        cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
    }
}

/* Whether the read-faulted page at p is the kernel's shared zero page (pagemap: present and
 * not exclusively ours). Some kernels (6.18 on this project's VMs) give a read fault on private
 * anonymous memory a private zero-filled page instead; MEM_RESET_UNDO then counts it as a page
 * that held data, and reports its loss, as it must for any page it cannot tell apart. */
static bool on_shared_zero_page(const char *p)
{
    uint64_t e = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, &e, sizeof e, (off_t)((uintptr_t)p / PAGE * sizeof e)), sizeof e);
    close(fd);
    return (e >> 63 & 1) && !(e >> 56 & 1);
}

Test(reset, untouched_and_zero_page_pages_are_intact)
{
    char *p =
        wvm_VirtualAlloc(NULL, 64 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_not_null(p);
    p[5 * PAGE] = 3;                                   /* one page with data */
    cr_assert_eq(*(volatile char *)(p + 9 * PAGE), 0); /* read fault: zero page, or a private one */
    bool zero_page = on_shared_zero_page(p + 9 * PAGE);
    cr_assert_eq(wvm_VirtualAlloc(p, 64 * PAGE, WVM_MEM_RESET, WVM_PAGE_READWRITE), p);
    cr_assert_eq(wvm_VirtualAlloc(p, 64 * PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_READWRITE), p,
                 "pages that never held data cannot have lost it: %u", wvm_GetLastError());
    cr_assert_eq(p[5 * PAGE], 3);
    cr_assert_eq(p[9 * PAGE], 0);
    /* the same after the kernel was told to page out all but the data page: untouched pages
     * and the shared zero page cannot have lost anything; a private page read as zero was
     * dropped, and undo cannot tell its zeros from data */
    cr_assert_eq(wvm_VirtualAlloc(p, 64 * PAGE, WVM_MEM_RESET, WVM_PAGE_READWRITE), p);
    force_drop(p + 9 * PAGE, 55 * PAGE);
    void *undone = wvm_VirtualAlloc(p, 64 * PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_READWRITE);
    if (zero_page)
        cr_assert_eq(undone, p, "%u", wvm_GetLastError());
    else
        cr_assert_null(undone, "a dropped private page must count as lost");
    cr_assert_eq(p[5 * PAGE], 3);
    cr_assert_eq(wvm_VirtualAlloc(p, 64 * PAGE, WVM_MEM_RESET, WVM_PAGE_READWRITE), p);
    force_drop(p, 64 * PAGE);
    cr_assert_null(wvm_VirtualAlloc(p, 64 * PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_READWRITE));
    cr_assert_eq(p[5 * PAGE], 0);
}

Test(reset, written_after_reset_is_intact)
{
    char *p = filled(4, WVM_PAGE_READWRITE);
    cr_assert_eq(wvm_VirtualAlloc(p, 4 * PAGE, WVM_MEM_RESET, WVM_PAGE_READWRITE), p);
    p[PAGE] = 9; /* re-dirtied: the kernel keeps it */
    force_drop(p + PAGE, PAGE);
    cr_assert_eq(p[PAGE], 9);
    cr_assert_eq(p[PAGE + 1], 0x5A);
}
