/* PAGE_NOACCESS and PAGE_GUARD on committed pages at scale (issue 14 item 2): a page with no
 * data (never touched, or reading zero) is kept by a guard marker over the read-write mapping
 * (WVM_MECH_MARKER_NOACCESS, the default on Linux >= 6.13 with userfaultfd), a page with data
 * by a guard marker with its data kept in the arena's stash (WVM_MECH_MARKER_DATA), so any
 * pattern of such pages costs no kernel mapping; every page on the fallbacks
 * (WINVMEM_MARKER_NOACCESS=0, WINVMEM_USERFAULTFD=0, WINVMEM_GUARD_MARKERS=0), and a page with
 * data under WINVMEM_MARKER_DATA=0, is mprotect's, and the islands stop at vm.max_map_count
 * with ERROR_NOT_ENOUGH_MEMORY. Accesses fault with the same records either way; data and
 * guard semantics are Windows'. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prot_pages.h"

/* Whether this run must use markers: the kernel here has them (6.18), so only the switches
 * turn them off; a kernel without them fails this test rather than skip it. */
static int expect_mark(void)
{
    return !env_off("WINVMEM_MARKER_NOACCESS") && !env_off("WINVMEM_USERFAULTFD") &&
           !env_off("WINVMEM_GUARD_MARKERS");
}

/* An access that must fault with an access violation (write: 1, read: 0); the handler makes
 * the page fix_prot and the access completes. */
static void access_faults(char *at, int write, char value)
{
    int before = last.count;
    if (write)
        *(volatile char *)at = value;
    else
        value = *(volatile char *)at;
    cr_assert_eq(last.count, before + 1, "access to %p did not fault", (void *)at);
    cr_assert_eq(last.code, WVM_STATUS_ACCESS_VIOLATION);
    cr_assert_eq(last.nparams, 2);
    cr_assert_eq(last.info0, (uintptr_t)write, "access kind %lu", (unsigned long)last.info0);
    cr_assert_eq(last.info1, (uintptr_t)at);
    cr_assert_eq(*at, value);
}

/* A first touch of an armed guard page: one guard-page violation, then the access works. */
static void guard_fires(char *at, int write)
{
    int before = last.count;
    uint32_t fix = fix_prot;
    fix_prot = 0;
    if (write)
        *(volatile char *)at = 1;
    else
        (void)*(volatile char *)at;
    fix_prot = fix;
    cr_assert_eq(last.count, before + 1, "touch of guard page %p: %d faults", (void *)at,
                 last.count - before);
    cr_assert_eq(last.code, WVM_STATUS_GUARD_PAGE_VIOLATION);
    cr_assert_eq(last.nparams, 2);
    cr_assert_eq(last.info0, (uintptr_t)write);
    cr_assert_eq(last.info1, (uintptr_t)at);
}

/* Whether pages with data may be markers too (the default policy: while the process is far
 * from vm.max_map_count, mprotect's; beyond, markers). */
static int expect_data(void)
{
    return expect_mark() && !env_off("WINVMEM_MARKER_DATA");
}

/* Whether pages with data must be markers always (WINVMEM_MARKER_DATA=2). */
static int expect_stash(void)
{
    const char *v = getenv("WINVMEM_MARKER_DATA");
    return expect_data() && v && v[0] == '2';
}

TestSuite(noaccess, .init = prot_pages_setup);

/* ISLANDS one-page islands of protection `prot` alternating with read-write pages
 * (make_islands): markers keep the reservation's mappings; the fallback meets
 * vm.max_map_count. data: each island holds data (word i % 512 of island i is i + 1), which
 * needs marker-data; else the islands are untouched but for zeros written on a sample.
 * Returns the reservation and the islands made (*made). */
static char *islands(uint32_t prot, int data, long *made)
{
    char *r = commit_rw(ISLAND_PAGES); /* committed, untouched: no memory used */
    for (long i = 0; data && i < ISLANDS; i++)
        *(volatile uint64_t *)(island(r, i) + 8 * (i % 512)) = (uint64_t)i + 1;
    for (long i = 0; !data && i < 64; i++) /* zeros written on a sample: a page, reading zero */
        island(r, sample_island(ISLANDS, i))[8] = 0;
    int per_page = data ? expect_data() : expect_mark();
    /* the default policy sends pages with data mprotect's way up to 1/16 of the limit */
    islands_t is = make_islands(r, prot, per_page && data && !expect_stash() ? 2 : per_page);
    if (per_page) {
        check_mechanism(WVM_MECH_MARKER_NOACCESS, 1, "marker-noaccess");
        if (data)
            check_mechanism(WVM_MECH_MARKER_DATA, 1, "marker-data");
        printf("131,072 islands of %#x%s: %ld mappings over the reservation, %ld in the process\n",
               prot, data ? " with data" : "", is.own1, is.maps1);
    } else if (data && expect_mark()) {
        check_mechanism(WVM_MECH_MARKER_DATA, 0, "marker-data");
    }
    *made = is.made;
    return r;
}

Test(noaccess, alternating_islands_at_scale, .timeout = 300)
{
    long made;
    char *r = islands(WVM_PAGE_NOACCESS, 0, &made);
    for (long i = 0; i < sampled(made); i++) {
        char *na = island(r, sample_island(made, i));
        write_succeeds(na + PAGE, 3);
        access_faults(na + 100, i & 1, 0); /* the handler makes it read-write: zeros */
        cr_assert_eq(prot_of(na), WVM_PAGE_READWRITE);
        cr_assert_eq(na[8], 0);
        write_succeeds(na + 8, 4);
    }
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_VirtualFree(r, 0, WVM_MEM_RELEASE), "release failed: %u", wvm_GetLastError());
}

Test(noaccess, guard_islands_at_scale, .timeout = 300)
{
    long made;
    char *r = islands(WVM_PAGE_READWRITE | WVM_PAGE_GUARD, 0, &made);
    long own = maps_over(r, r + ISLAND_PAGES * PAGE);
    for (long i = 0; i < sampled(made); i++) {
        char *g = island(r, sample_island(made, i));
        guard_fires(g + 100, i & 1);
        cr_assert_eq(prot_of(g), WVM_PAGE_READWRITE);
        cr_assert_eq(g[8], 0);
        write_succeeds(g + 8, 5); /* disarmed: plain read-write */
        cr_assert_eq(prot_of(g + 2 * PAGE), WVM_PAGE_READWRITE | WVM_PAGE_GUARD);
    }
    if (expect_mark()) /* consuming a guard splits nothing either */
        cr_assert_eq(maps_over(r, r + ISLAND_PAGES * PAGE), own);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_VirtualFree(r, 0, WVM_MEM_RELEASE), "release failed: %u", wvm_GetLastError());
}

/* Every kind of change into and out of PAGE_NOACCESS keeps data and faults as Windows does. */
Test(noaccess, transitions)
{
    char *p = commit_rw(12);
    p[PAGE] = 5;          /* data: mprotect's way */
    p[2 * PAGE + 64] = 0; /* touched, zero: a marker */
    cr_assert(set_prot(p + 3 * PAGE, 1, WVM_PAGE_READONLY));
    long maps = map_count(); /* after the registration */
    cr_assert(set_prot(p, 3, WVM_PAGE_NOACCESS));
    cr_assert_eq(prot_of(p), WVM_PAGE_NOACCESS);
    wvm_MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(wvm_VirtualQuery(p, &m, sizeof m), sizeof m);
    cr_assert_eq(m.RegionSize, 3 * PAGE);
    access_faults(p, 0, 0);                 /* untouched: zeros, then read-write */
    access_faults(p + PAGE + 1, 0, 0);      /* the handler made it read-write */
    cr_assert_eq(p[PAGE], 5);               /* the data survived */
    access_faults(p + 2 * PAGE + 64, 1, 7); /* a write: kind 1 */
    /* READONLY (write-protected) -> NOACCESS -> READONLY */
    cr_assert(set_prot(p + 3 * PAGE, 1, WVM_PAGE_NOACCESS));
    fix_prot = WVM_PAGE_READONLY;
    access_faults(p + 3 * PAGE, 0, 0);
    fix_prot = WVM_PAGE_READWRITE;
    access_faults(p + 3 * PAGE, 1, 8); /* read-only now: the write faults */
    /* MEM_COMMIT with PAGE_NOACCESS over decommitted pages, and decommit of NOACCESS pages */
    cr_assert(wvm_VirtualFree(p + 4 * PAGE, 2 * PAGE, WVM_MEM_DECOMMIT));
    cr_assert_not_null(wvm_VirtualAlloc(p + 4 * PAGE, 3 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_NOACCESS));
    cr_assert_eq(prot_of(p + 4 * PAGE), WVM_PAGE_NOACCESS);
    cr_assert_eq(wvm_VirtualQuery(p + 4 * PAGE, &m, sizeof m), sizeof m);
    cr_assert_eq(m.RegionSize, 3 * PAGE);
    cr_assert_eq(m.State, WVM_MEM_COMMIT);
    cr_assert(wvm_VirtualFree(p + 5 * PAGE, PAGE, WVM_MEM_DECOMMIT));
    cr_assert_eq(wvm_VirtualQuery(p + 5 * PAGE, &m, sizeof m), sizeof m);
    cr_assert_eq(m.State, WVM_MEM_RESERVE);
    cr_assert_not_null(wvm_VirtualAlloc(p + 5 * PAGE, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    cr_assert_eq(*(volatile char *)(p + 5 * PAGE), 0);
    access_faults(p + 4 * PAGE, 1, 9);
    access_faults(p + 6 * PAGE, 0, 0);
    /* NOACCESS -> EXECUTE_READ and back (executable pages keep a mapping of their own) */
    cr_assert(set_prot(p + 7 * PAGE, 1, WVM_PAGE_NOACCESS));
    cr_assert(set_prot(p + 7 * PAGE, 1, WVM_PAGE_EXECUTE_READ));
    cr_assert_eq(*(volatile char *)(p + 7 * PAGE), 0);
    cr_assert(set_prot(p + 7 * PAGE, 1, WVM_PAGE_READWRITE));
    write_succeeds(p + 7 * PAGE, 10);
    write_succeeds(p + 11 * PAGE, 11);
    if (expect_mark())
        cr_assert_eq(map_count(), maps, "mappings %ld, were %ld", map_count(), maps);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}

/* PAGE_GUARD | PAGE_READWRITE from the start (a thread stack's guard page): each guard fires
 * once, VirtualLock consumes one (STATUS_GUARD_PAGE_VIOLATION), re-arming works. */
Test(noaccess, guard_pages)
{
    char *g = wvm_VirtualAlloc(NULL, 8 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                               WVM_PAGE_READWRITE | WVM_PAGE_GUARD);
    cr_assert_not_null(g);
    long maps = map_count();
    guard_fires(g, 0);
    cr_assert_eq(prot_of(g), WVM_PAGE_READWRITE);
    cr_assert_eq(prot_of(g + PAGE), WVM_PAGE_READWRITE | WVM_PAGE_GUARD);
    write_succeeds(g, 1);
    guard_fires(g + PAGE + 5, 1);
    cr_assert_eq(g[PAGE + 5], 1);
    cr_assert(!wvm_VirtualLock(g + 2 * PAGE, PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_STATUS_GUARD_PAGE_VIOLATION);
    cr_assert_eq(prot_of(g + 2 * PAGE), WVM_PAGE_READWRITE);
    write_succeeds(g + 2 * PAGE, 2);
    /* re-arm a page with data: mprotect's way; its data stays */
    cr_assert(set_prot(g, 1, WVM_PAGE_READWRITE | WVM_PAGE_GUARD));
    guard_fires(g, 0);
    cr_assert_eq(g[0], 1);
    /* re-arm an untouched page, and the whole range */
    cr_assert(set_prot(g + 3 * PAGE, 5, WVM_PAGE_READWRITE | WVM_PAGE_GUARD));
    guard_fires(g + 7 * PAGE, 1);
    guard_fires(g + 3 * PAGE, 0);
    cr_assert_eq(prot_of(g + 4 * PAGE), WVM_PAGE_READWRITE | WVM_PAGE_GUARD);
    if (expect_mark())
        cr_assert_eq(map_count(), maps, "mappings %ld, were %ld", map_count(), maps);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_VirtualFree(g, 0, WVM_MEM_RELEASE));
}

/* A kernel write into a NOACCESS page (read(2) into it) fails with EFAULT. */
Test(noaccess, kernel_write_fails)
{
    char *p = commit_rw(1);
    cr_assert(set_prot(p, 1, WVM_PAGE_NOACCESS));
    kernel_write_fails(p);
    cr_assert(set_prot(p, 1, WVM_PAGE_READWRITE));
    cr_assert_eq(*(volatile char *)p, 0);
}

/* MEM_RESET and MEM_RESET_UNDO over NOACCESS pages with and without data. */
Test(noaccess, reset)
{
    char *p = commit_rw(4);
    p[0] = 40;
    cr_assert(set_prot(p, 4, WVM_PAGE_NOACCESS));
    cr_assert_not_null(wvm_VirtualAlloc(p, 4 * PAGE, WVM_MEM_RESET, WVM_PAGE_NOACCESS));
    cr_assert_not_null(wvm_VirtualAlloc(p, 4 * PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_NOACCESS));
    cr_assert(set_prot(p, 4, WVM_PAGE_READWRITE));
    cr_assert_eq(*(volatile char *)p, 40);
    cr_assert_eq(*(volatile char *)(p + PAGE), 0);
    write_succeeds(p + 3 * PAGE, 1);
    cr_assert_eq(wvm_check_invariants(), 0);
}

/* fork(): markers are copied; the child's NOACCESS pages fault, its guard pages fire once,
 * and the parent's stay armed. */
Test(noaccess, fork_child)
{
    char *p = commit_rw(3);
    cr_assert(set_prot(p, 1, WVM_PAGE_NOACCESS));
    cr_assert(set_prot(p + PAGE, 1, WVM_PAGE_READWRITE | WVM_PAGE_GUARD));
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int before = last.count;
        (void)*(volatile char *)p; /* AV, the handler makes it read-write */
        int ok = last.count == before + 1 && last.code == WVM_STATUS_ACCESS_VIOLATION;
        fix_prot = 0;
        *(volatile char *)(p + PAGE) = 3; /* the guard fires once */
        ok = ok && last.count == before + 2 && last.code == WVM_STATUS_GUARD_PAGE_VIOLATION;
        *(volatile char *)(p + PAGE) = 4;
        ok = ok && last.count == before + 2 && p[PAGE] == 4;
        _exit(ok && wvm_check_invariants() == 0 ? 0 : 1);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    cr_assert_eq(prot_of(p), WVM_PAGE_NOACCESS);
    guard_fires(p + PAGE, 0);
    cr_assert_eq(p[PAGE], 0);
    access_faults(p, 1, 6);
}

/* A page's worth of a pattern no zero-fill gives: page i of a test, seed k. */
static void fill_page(char *pg, unsigned k)
{
    for (size_t i = 0; i < PAGE; i += 8)
        *(volatile uint64_t *)(pg + i) = (uint64_t)(uintptr_t)pg * 31 + i + k;
}

static void page_holds(const char *pg, unsigned k)
{
    for (size_t i = 0; i < PAGE; i += 8)
        cr_assert_eq(*(const volatile uint64_t *)(pg + i), (uint64_t)(uintptr_t)pg * 31 + i + k,
                     "page %p, offset %zu", (const void *)pg, i);
}

/* 131,072 NOACCESS islands holding data between read-write pages: the same kernel mappings
 * as without data (the stash is one mapping per arena, made by the suite's setup); each
 * island's data is there when it becomes accessible again, by VirtualProtect or by the access
 * violation handler. Without markers for data the islands meet vm.max_map_count. */
Test(noaccess, data_islands_at_scale, .timeout = 600)
{
    long made;
    char *r = islands(WVM_PAGE_NOACCESS, 1, &made);
    long own0 = maps_over(r, r + ISLAND_PAGES * PAGE);
    for (long k = 0; k < sampled(made); k++) {
        long i = sample_island(made, k);
        char *na = island(r, i);
        uint64_t *word = (uint64_t *)(na + 8 * (i % 512));
        cr_assert_eq(prot_of(na), WVM_PAGE_NOACCESS);
        if (k & 1) {
            access_faults(na + 8 * (i % 512), 0, (char)(i + 1)); /* the handler's VirtualProtect */
        } else {
            cr_assert(set_prot(na, 1, WVM_PAGE_READWRITE));
        }
        cr_assert_eq(*word, (uint64_t)i + 1, "island %ld", i);
        write_succeeds(na + 8 * ((i + 1) % 512), 7);
    }
    if (expect_stash())
        cr_assert_eq(maps_over(r, r + ISLAND_PAGES * PAGE), own0);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_VirtualFree(r, 0, WVM_MEM_RELEASE), "release failed: %u", wvm_GetLastError());
}

/* Pages with data through every change into and out of NOACCESS and PAGE_GUARD: the data
 * stays, a decommit drops it (a re-commit reads zeros), faults are Windows'. */
Test(noaccess, data_transitions)
{
    char *p = commit_rw(10);
    for (unsigned i = 0; i < 10; i++)
        fill_page(p + i * PAGE, i);
    long maps = map_count();
    cr_assert(set_prot(p, 10, WVM_PAGE_NOACCESS));
    cr_assert_eq(prot_of(p), WVM_PAGE_NOACCESS);
    wvm_MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(wvm_VirtualQuery(p, &m, sizeof m), sizeof m);
    cr_assert_eq(m.RegionSize, 10 * PAGE);
    cr_assert_eq(m.Protect, WVM_PAGE_NOACCESS);
    access_faults(p + 3 * PAGE + 16, 0, 0); /* read: AV, the handler makes it read-write */
    page_holds(p + 3 * PAGE, 3);
    access_faults(p + 4 * PAGE, 1, 0); /* write: AV, then the write lands */
    cr_assert_eq(p[4 * PAGE], 0);
    p[4 * PAGE] = (char)((uintptr_t)(p + 4 * PAGE) * 31 + 4);
    page_holds(p + 4 * PAGE, 4);
    /* NOACCESS -> READONLY: write-protected as the data comes back */
    cr_assert(set_prot(p, 1, WVM_PAGE_READONLY));
    page_holds(p, 0);
    fix_prot = WVM_PAGE_READWRITE;
    access_faults(p + 8, 1, 0);
    cr_assert_eq(p[8], 0);
    /* NOACCESS -> PAGE_GUARD | READWRITE -> fires: the data is there */
    cr_assert(set_prot(p + PAGE, 1, WVM_PAGE_READWRITE | WVM_PAGE_GUARD));
    cr_assert_eq(prot_of(p + PAGE), WVM_PAGE_READWRITE | WVM_PAGE_GUARD);
    guard_fires(p + PAGE + 40, 0);
    page_holds(p + PAGE, 1);
    /* READWRITE with data -> PAGE_GUARD, fired by a write */
    cr_assert(set_prot(p + PAGE, 1, WVM_PAGE_READWRITE | WVM_PAGE_GUARD));
    guard_fires(p + PAGE + 48, 1);
    cr_assert_eq(p[PAGE + 48], 1);
    p[PAGE + 48] = (char)((uintptr_t)(p + PAGE) * 31 + 48 + 1);
    page_holds(p + PAGE, 1);
    /* VirtualLock consumes a guard over data */
    cr_assert(set_prot(p + PAGE, 1, WVM_PAGE_READWRITE | WVM_PAGE_GUARD));
    cr_assert(!wvm_VirtualLock(p + PAGE, PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_STATUS_GUARD_PAGE_VIOLATION);
    page_holds(p + PAGE, 1);
    /* VirtualLock of NOACCESS fails, the data stays */
    cr_assert(!wvm_VirtualLock(p + 2 * PAGE, PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    /* NOACCESS -> EXECUTE_READ (a mapping of its own) and back to read-write */
    cr_assert(set_prot(p + 2 * PAGE, 1, WVM_PAGE_EXECUTE_READ));
    page_holds(p + 2 * PAGE, 2);
    cr_assert(set_prot(p + 2 * PAGE, 1, WVM_PAGE_READWRITE));
    /* decommit of stashed pages: a re-commit reads zeros */
    cr_assert(wvm_VirtualFree(p + 5 * PAGE, 2 * PAGE, WVM_MEM_DECOMMIT));
    cr_assert_not_null(
        wvm_VirtualAlloc(p + 5 * PAGE, 2 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    for (size_t i = 0; i < 2 * PAGE; i += 512)
        cr_assert_eq(*(volatile char *)(p + 5 * PAGE + i), 0);
    /* re-commit over stashed pages keeps their data; MEM_RESET leaves it */
    cr_assert_not_null(wvm_VirtualAlloc(p + 7 * PAGE, PAGE, WVM_MEM_COMMIT, WVM_PAGE_NOACCESS));
    cr_assert_not_null(wvm_VirtualAlloc(p + 7 * PAGE, 2 * PAGE, WVM_MEM_RESET, WVM_PAGE_NOACCESS));
    cr_assert_not_null(wvm_VirtualAlloc(p + 7 * PAGE, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    page_holds(p + 7 * PAGE, 7);
    cr_assert_not_null(
        wvm_VirtualAlloc(p + 8 * PAGE, 2 * PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_NOACCESS));
    cr_assert(set_prot(p + 8 * PAGE, 2, WVM_PAGE_READWRITE));
    page_holds(p + 8 * PAGE, 8);
    page_holds(p + 9 * PAGE, 9);
    if (expect_stash())
        cr_assert_eq(map_count(), maps, "mappings %ld, were %ld", map_count(), maps);
    cr_assert_eq(wvm_check_invariants(), 0);
    /* release with stashed pages */
    cr_assert(set_prot(p, 10, WVM_PAGE_NOACCESS));
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}

/* The fork tests' parent side: the child exited 0, and the parent's three pages (the first
 * NOACCESS, the second a guard page; holding data 0, 1 and 2) still hold the parent's data. */
static void parent_after_fork(pid_t pid, char *p)
{
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    cr_assert_eq(prot_of(p), WVM_PAGE_NOACCESS);
    cr_assert(set_prot(p, 1, WVM_PAGE_READWRITE));
    page_holds(p, 0);
    guard_fires(p + PAGE, 0);
    page_holds(p + PAGE, 1);
    cr_assert(set_prot(p + 2 * PAGE, 1, WVM_PAGE_READWRITE));
    page_holds(p + 2 * PAGE, 2);
    cr_assert_eq(wvm_check_invariants(), 0);
}

/* fork() with NOACCESS and guard pages holding data: the child sees the parent's data (its
 * copy of the stash), by VirtualProtect and by a guard violation; the parent's stay so. */
Test(noaccess, data_fork_child)
{
    char *p = commit_rw(3);
    for (unsigned i = 0; i < 3; i++)
        fill_page(p + i * PAGE, i);
    cr_assert(set_prot(p, 1, WVM_PAGE_NOACCESS));
    cr_assert(set_prot(p + PAGE, 1, WVM_PAGE_READWRITE | WVM_PAGE_GUARD));
    cr_assert(set_prot(p + 2 * PAGE, 1, WVM_PAGE_NOACCESS));
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        uint32_t old;
        int before = last.count;
        int ok = wvm_VirtualProtect(p, PAGE, WVM_PAGE_READWRITE, &old) && old == WVM_PAGE_NOACCESS;
        for (size_t i = 0; ok && i < PAGE; i += 8)
            ok = *(uint64_t *)(p + i) == (uint64_t)(uintptr_t)p * 31 + i;
        fix_prot = 0;
        (void)*(volatile char *)(p + PAGE); /* the guard fires once, the data is there */
        ok = ok && last.count == before + 1 && last.code == WVM_STATUS_GUARD_PAGE_VIOLATION;
        for (size_t i = 0; ok && i < PAGE; i += 8)
            ok = *(uint64_t *)(p + PAGE + i) == (uint64_t)(uintptr_t)(p + PAGE) * 31 + i + 1;
        p[0] = 9; /* the child's own copy */
        _exit(ok && wvm_check_invariants() == 0 ? 0 : 1);
    }
    parent_after_fork(pid, p);
}

/* Neighbouring pages holding data, of different pieces (a write-protected READONLY page, then
 * read-write ones), made NOACCESS in one call and read-write again: every page is writable.
 * Where data keeps mprotect (WINVMEM_MARKER_DATA=0), a page whose range of "lost the mark"
 * continued its left neighbour's kept the write-protect of the data check, and every store
 * to it raised SIGBUS (reset's report on c324f72, lin_check with reset/protect/write). */
Test(noaccess, neighbours_with_data_are_writable_again)
{
    char *p = commit_rw(4);
    for (unsigned i = 0; i < 4; i++)
        p[i * PAGE + 5] = (char)(i + 1);
    cr_assert(set_prot(p, 1, WVM_PAGE_READONLY));
    cr_assert(set_prot(p, 3, WVM_PAGE_NOACCESS));
    cr_assert(set_prot(p, 4, WVM_PAGE_READWRITE));
    for (unsigned i = 0; i < 4; i++) {
        cr_assert_eq(p[i * PAGE + 5], (char)(i + 1));
        write_succeeds(p + i * PAGE + 6, (char)(i + 9));
    }
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}

/* The same with a child that cannot open a userfaultfd of its own (RLIMIT_NOFILE: its fork
 * handler's registration fails, as do the later ones): UFFDIO_COPY cannot bring
 * its stashed pages back, so winvmem places a copy over each marker instead (a mapping of its
 * own); VirtualProtect and the guard page work as in any child. */
Test(noaccess, data_fork_child_without_userfaultfd, .timeout = 60)
{
    char *p = commit_rw(3);
    for (unsigned i = 0; i < 3; i++)
        fill_page(p + i * PAGE, i);
    cr_assert(set_prot(p, 1, WVM_PAGE_NOACCESS));
    cr_assert(set_prot(p + PAGE, 1, WVM_PAGE_READWRITE | WVM_PAGE_GUARD));
    cr_assert(set_prot(p + 2 * PAGE, 1, WVM_PAGE_NOACCESS));
    /* no descriptor above 2 for anyone (those open stay open): the child's fork handler closes
     * its copies of the parent's userfaultfds and cannot open its own */
    struct rlimit lim, low;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &lim), 0);
    low = lim;
    low.rlim_cur = 3;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        alarm(30); /* a guard that could not be consumed would fault forever */
        uint32_t old;
        int before = last.count;
        int ok = wvm_VirtualProtect(p, PAGE, WVM_PAGE_READWRITE, &old) && old == WVM_PAGE_NOACCESS;
        for (size_t i = 0; ok && i < PAGE; i += 8)
            ok = *(uint64_t *)(p + i) == (uint64_t)(uintptr_t)p * 31 + i;
        fix_prot = 0;
        (void)*(volatile char *)(p + PAGE); /* the guard fires once, the data is there */
        ok = ok && last.count == before + 1 && last.code == WVM_STATUS_GUARD_PAGE_VIOLATION;
        for (size_t i = 0; ok && i < PAGE; i += 8)
            ok = *(uint64_t *)(p + PAGE + i) == (uint64_t)(uintptr_t)(p + PAGE) * 31 + i + 1;
        ok = ok && wvm_VirtualProtect(p + 2 * PAGE, PAGE, WVM_PAGE_READONLY, &old);
        for (size_t i = 0; ok && i < PAGE; i += 8)
            ok =
                *(uint64_t *)(p + 2 * PAGE + i) == (uint64_t)(uintptr_t)(p + 2 * PAGE) * 31 + i + 2;
        p[0] = 9;                       /* the child's own copy */
        setrlimit(RLIMIT_NOFILE, &lim); /* the checker reads /proc/self/maps */
        _exit(ok && wvm_check_invariants() == 0 ? 0 : 1);
    }
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
    parent_after_fork(pid, p);
}

/* The default policy (mprotect while far from vm.max_map_count) counted the mappings when
 * the process had few; then the process itself fills the limit behind the policy's back, but
 * for two. NOACCESS over pages 1-3 of which 1 and 3 hold data needs four mappings more by
 * mprotect: the kernel refuses (ENOMEM), and the call is done with the stash instead, whose
 * transient PROT_NONE needs two at a time (Windows would not fail); the data is there when the
 * pages become read-write again. */
Test(noaccess, data_policy_meets_the_limit_unawares, .timeout = 300)
{
    if (!expect_data() || expect_stash())
        return; /* the policy decides only by default */
    char *p = commit_rw(8);
    for (unsigned i = 0; i < 8; i++)
        if (i != 2) /* page 2 stays untouched: a plain marker */
            fill_page(p + i * PAGE, i);
    cr_assert(set_prot(p + 6 * PAGE, 1, WVM_PAGE_NOACCESS)); /* the policy counts: mprotect */
    cr_assert_gt(maps_over(p, p + 8 * PAGE), 1, "a small process: the policy uses mprotect");
    long limit = max_map_count();
    /* alternating one-page protections of a plain mapping until the kernel refuses */
    size_t pages = 2 * (size_t)limit + 8;
    char *f =
        mmap(NULL, pages * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    cr_assert_neq(f, MAP_FAILED);
    size_t n = 0;
    while (2 * n + 1 < pages && !mprotect(f + (2 * n + 1) * PAGE, PAGE, PROT_NONE))
        n++;
    cr_assert_eq(errno, ENOMEM, "mprotect %zu stopped with %d", n, errno);
    cr_assert_gt(n, 0);
    cr_assert_eq(mprotect(f + (2 * n - 1) * PAGE, PAGE, PROT_READ), 0); /* two mappings free */
    long full = map_count();
    cr_assert_geq(full, limit - 4, "%ld mappings, limit %ld", full, limit);
    cr_assert(set_prot(p + PAGE, 3, WVM_PAGE_NOACCESS), "NOACCESS near the limit failed: %u",
              wvm_GetLastError());
    cr_assert_eq(map_count(), full, "the pages took mappings");
    cr_assert_eq(prot_of(p + PAGE), WVM_PAGE_NOACCESS);
    cr_assert_eq(prot_of(p + 3 * PAGE), WVM_PAGE_NOACCESS);
    cr_assert(set_prot(p + 5 * PAGE, 1, WVM_PAGE_READWRITE | WVM_PAGE_GUARD));
    cr_assert(set_prot(p + PAGE, 3, WVM_PAGE_READWRITE));
    page_holds(p + PAGE, 1);
    page_holds(p + 3 * PAGE, 3);
    cr_assert_eq(*(volatile char *)(p + 2 * PAGE), 0);
    guard_fires(p + 5 * PAGE + 8, 0);
    page_holds(p + 5 * PAGE, 5);
    cr_assert_eq(munmap(f, pages * PAGE), 0);
    cr_assert(set_prot(p + 6 * PAGE, 1, WVM_PAGE_READWRITE));
    page_holds(p + 6 * PAGE, 6);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}

/* The address ranges of the process's kernel mappings, adjacent ones joined; returns how many
 * (at most cap). */
static size_t joined_ranges(uintptr_t (*r)[2], size_t cap)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    size_t n = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx", &s, &e) != 2)
            continue;
        if (n && r[n - 1][1] == s)
            r[n - 1][1] = e;
        else if (n < cap)
            r[n][0] = s, r[n++][1] = e;
    }
    fclose(f);
    return n;
}

/* The stash's address space is taken when the arena is made, not at the first page with data
 * (where it could land on an address the program is about to use at a fixed address): making
 * the first stashed page claims no address space the process did not have. Its own process:
 * no suite setup (which stashes a page). */
Test(stash_space, reserved_with_the_arena)
{
    if (!expect_stash())
        return; /* the _stash variant: every page with data goes to the stash */
    static uintptr_t before[4096][2];
    char *p = commit_rw(3); /* winvmem's first allocation: the arena, and the stash's space */
    size_t n = joined_ranges(before, 4096);
    cr_assert_lt(n, 4096);
    p[PAGE] = 5;
    cr_assert(set_prot(p + PAGE, 1, WVM_PAGE_NOACCESS));
    check_mechanism(WVM_MECH_MARKER_DATA, 1, "marker-data");
    uintptr_t after[4096][2];
    size_t m = joined_ranges(after, 4096);
    for (size_t i = 0; i < m; i++) {
        size_t j = 0;
        while (j < n && !(before[j][0] <= after[i][0] && after[i][1] <= before[j][1]))
            j++;
        cr_assert_lt(j, n, "the first stashed page claimed %#lx-%#lx", (unsigned long)after[i][0],
                     (unsigned long)after[i][1]);
    }
    cr_assert(set_prot(p + PAGE, 1, WVM_PAGE_READWRITE));
    cr_assert_eq(p[PAGE], 5);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}
