/* PAGE_READONLY on committed pages at scale (issue 14 item 2): any pattern of read-only and
 * read-write pages costs no kernel mapping where userfaultfd write-protect is in use
 * (WVM_MECH_UFFD_WP_SIGBUS, the default on Linux >= 6.4 with guard markers); on the mprotect
 * fallback (WINVMEM_UFFD_READONLY=0, WINVMEM_USERFAULTFD=0, WINVMEM_GUARD_MARKERS=0) each
 * protection boundary splits the mapping, and the islands stop at vm.max_map_count with
 * ERROR_NOT_ENOUGH_MEMORY, the state unchanged. Writes to read-only pages are the same access
 * violation either way. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prot_pages.h"

/* Whether this run must use write-protect: the kernel here has it (6.18), so only the
 * switches turn it off; a kernel without it fails this test rather than skip it. */
static int expect_wp(void)
{
    return !env_off("WINVMEM_UFFD_READONLY") && !env_off("WINVMEM_USERFAULTFD") &&
           !env_off("WINVMEM_GUARD_MARKERS");
}

/* A write that must fault: the handler records it and makes the page read-write. */
static void write_faults(char *at, char value)
{
    int before = last.count;
    *(volatile char *)at = value;
    cr_assert_eq(last.count, before + 1, "write to %p did not fault", (void *)at);
    cr_assert_eq(last.code, WVM_STATUS_ACCESS_VIOLATION);
    cr_assert_eq(last.nparams, 2);
    cr_assert_eq(last.info0, 1, "access kind %lu, not a write", (unsigned long)last.info0);
    cr_assert_eq(last.info1, (uintptr_t)at);
    cr_assert_eq(*at, value);
}

TestSuite(readonly, .init = prot_pages_setup);

/* 131,072 read-only one-page islands alternating with read-write pages in one reservation. */
Test(readonly, alternating_islands_at_scale, .timeout = 240)
{
    char *r = commit_rw(ISLAND_PAGES); /* committed, untouched: no memory used */
    for (long i = 0; i < 64; i++) /* data on a sample of the islands, kept through the change */
        island(r, sample_island(ISLANDS, i))[0] = (char)(i + 1);
    /* with write-protect the process gains only winvmem's bookkeeping (one 4 MiB metadata
     * mapping here); the fallback as it always was: every island two more mappings */
    islands_t is = make_islands(r, WVM_PAGE_READONLY, expect_wp());
    if (expect_wp()) {
        check_mechanism(WVM_MECH_UFFD_WP_SIGBUS, 1, "uffd-wp-sigbus");
        printf("131,072 read-only islands: %ld mappings over the reservation, %ld in the process "
               "(%ld after the first island)\n",
               is.own1, is.maps1, is.maps0);
    }
    for (long i = 0; i < sampled(is.made); i++) {
        long k = sample_island(is.made, i);
        char *ro = island(r, k), *rw = ro + PAGE;
        if (k % (ISLANDS / 64) == 0) /* one of the sample: its data is still there */
            cr_assert_eq(*(volatile char *)ro, (char)(k / (ISLANDS / 64) + 1));
        write_succeeds(rw, 3);
        write_faults(ro + 100, 5); /* the handler makes it read-write */
        cr_assert_eq(prot_of(ro), WVM_PAGE_READWRITE);
    }
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_VirtualFree(r, 0, WVM_MEM_RELEASE), "release failed: %u", wvm_GetLastError());
}

/* Every kind of change into and out of PAGE_READONLY keeps data and faults as Windows does. */
Test(readonly, transitions)
{
    char *p = commit_rw(8);
    for (int i = 0; i < 8; i++)
        p[i * PAGE] = (char)(10 + i);
    cr_assert(set_prot(p + PAGE, 2, WVM_PAGE_READONLY));
    long maps = map_count();                        /* after the registration */
    cr_assert_eq(*(volatile char *)(p + PAGE), 11); /* reads work */
    write_faults(p + PAGE, 21);
    cr_assert(set_prot(p + 2 * PAGE, 1, WVM_PAGE_NOACCESS)); /* READONLY -> NOACCESS */
    fix_prot = WVM_PAGE_READONLY;
    cr_assert_eq(*(volatile char *)(p + 2 * PAGE), 12); /* AV, then read-only */
    cr_assert_eq(last.info0, 0);
    fix_prot = WVM_PAGE_READWRITE;
    write_faults(p + 2 * PAGE, 22);
    /* MEM_COMMIT with PAGE_READONLY over fresh and over committed pages */
    cr_assert(wvm_VirtualFree(p + 3 * PAGE, PAGE, WVM_MEM_DECOMMIT));
    cr_assert_not_null(wvm_VirtualAlloc(p + 3 * PAGE, 2 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READONLY));
    cr_assert_eq(*(volatile char *)(p + 3 * PAGE), 0);
    cr_assert_eq(*(volatile char *)(p + 4 * PAGE), 14);
    write_faults(p + 3 * PAGE, 23);
    write_faults(p + 4 * PAGE, 24);
    /* decommit of a read-only page, then commit read-write: zeros, writable */
    cr_assert(set_prot(p + 5 * PAGE, 1, WVM_PAGE_READONLY));
    cr_assert(wvm_VirtualFree(p + 5 * PAGE, PAGE, WVM_MEM_DECOMMIT));
    cr_assert_not_null(wvm_VirtualAlloc(p + 5 * PAGE, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    cr_assert_eq(*(volatile char *)(p + 5 * PAGE), 0);
    write_succeeds(p + 5 * PAGE, 25);
    /* PAGE_READONLY | PAGE_GUARD: one guard violation, then read-only */
    cr_assert(set_prot(p + 6 * PAGE, 1, WVM_PAGE_READONLY | WVM_PAGE_GUARD));
    fix_prot = 0;
    cr_assert_eq(*(volatile char *)(p + 6 * PAGE), 16);
    cr_assert_eq(last.code, WVM_STATUS_GUARD_PAGE_VIOLATION);
    fix_prot = WVM_PAGE_READWRITE;
    write_faults(p + 6 * PAGE, 26);
    cr_assert(set_prot(p + 6 * PAGE, 1, WVM_PAGE_READONLY)); /* and back to read-only */
    write_faults(p + 6 * PAGE, 27);
    write_succeeds(p + 7 * PAGE, 28);
    if (expect_wp())
        cr_assert_eq(map_count(), maps + 0, "mappings %ld, were %ld", map_count(), maps);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}

/* A kernel write into a read-only page (read(2) into it) fails with EFAULT. */
Test(readonly, kernel_write_fails)
{
    char *p = commit_rw(1);
    cr_assert(set_prot(p, 1, WVM_PAGE_READONLY));
    kernel_write_fails(p);
    cr_assert_eq(*(volatile char *)p, 0);
}

/* VirtualLock and MEM_RESET / MEM_RESET_UNDO on read-only pages. */
Test(readonly, lock_and_reset)
{
    char *p = commit_rw(4);
    for (int i = 0; i < 4; i++)
        p[i * PAGE] = (char)(40 + i);
    cr_assert(set_prot(p, 4, WVM_PAGE_READONLY));
    cr_assert(wvm_VirtualLock(p, 2 * PAGE), "VirtualLock: %u", wvm_GetLastError());
    cr_assert_eq(*(volatile char *)p, 40);
    cr_assert(wvm_VirtualUnlock(p, 2 * PAGE));
    cr_assert_not_null(wvm_VirtualAlloc(p + 2 * PAGE, 2 * PAGE, WVM_MEM_RESET, WVM_PAGE_NOACCESS));
    cr_assert_not_null(
        wvm_VirtualAlloc(p + 2 * PAGE, 2 * PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_NOACCESS));
    cr_assert_eq(*(volatile char *)(p + 2 * PAGE), 42);
    cr_assert_eq(prot_of(p + 3 * PAGE), WVM_PAGE_READONLY);
    write_faults(p + 3 * PAGE, 53);
    write_faults(p + PAGE, 51);
    cr_assert_eq(wvm_check_invariants(), 0);
}

/* fork(): the child's read-only pages are read-only (its page tables lost the parent's bits,
 * winvmem's fork handler sets them again). */
Test(readonly, fork_child_keeps_read_only)
{
    char *p = commit_rw(3);
    p[PAGE] = 7;
    cr_assert(set_prot(p + PAGE, 1, WVM_PAGE_READONLY));
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int before = last.count;
        *(volatile char *)(p + PAGE) = 8; /* the handler records it, makes it read-write */
        int ok = last.count == before + 1 && last.info0 == 1 && p[PAGE] == 8;
        *(volatile char *)p = 9; /* read-write: no fault */
        ok = ok && last.count == before + 1;
        _exit(ok && wvm_check_invariants() == 0 ? 0 : 1);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    cr_assert_eq(*(volatile char *)(p + PAGE), 7);
    write_faults(p + PAGE, 10);
}

/* The range of a released allocation keeps its write-protect registration; a write-watch
 * allocation made there later gets its own (prim takes the range back). */
Test(readonly, write_watch_after_read_only_at_same_address)
{
    char *p = commit_rw(16);
    cr_assert(set_prot(p + PAGE, 1, WVM_PAGE_READONLY));
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
    char *w = wvm_VirtualAlloc(p, 16 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT | WVM_MEM_WRITE_WATCH,
                               WVM_PAGE_READWRITE);
    cr_assert_eq(w, p, "write watch at %p: %p, error %u", (void *)p, (void *)w, wvm_GetLastError());
    w[3 * PAGE] = 1;
    void *hits[16];
    uintptr_t count = 16;
    uint32_t gran;
    cr_assert_eq(wvm_GetWriteWatch(0, w, 16 * PAGE, hits, &count, &gran), 0);
    cr_assert_eq(count, 1);
    cr_assert_eq(hits[0], w + 3 * PAGE);
    /* and read-only pages there still fault (write watch keeps mprotect for them) */
    cr_assert(set_prot(w + 5 * PAGE, 1, WVM_PAGE_READONLY));
    write_faults(w + 5 * PAGE, 1);
    cr_assert(wvm_VirtualFree(w, 0, WVM_MEM_RELEASE));
}
