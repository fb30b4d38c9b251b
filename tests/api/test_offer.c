/* OfferVirtualMemory and ReclaimVirtualMemory. The kernel is made to drop offered pages with
 * MADV_PAGEOUT (Linux >= 5.4, as tests/api/test_reset.c does), so ERROR_BUSY is tested for
 * real, not only ERROR_SUCCESS. */
#include <sys/mman.h>

#include "neighbours.h"
#include "veh_record.h"
#include "skip.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static void force_drop(char *p, size_t len)
{
    if (madvise(p, len, MADV_PAGEOUT))
        wvm_cannot_run("MADV_PAGEOUT unavailable: cannot make the kernel drop pages");
}

static void expect_region(const void *p, size_t size, uint32_t state, uint32_t prot,
                          const void *base)
{
    wvm_MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(wvm_VirtualQuery(p, &m, sizeof m), sizeof m);
    cr_assert_eq(m.BaseAddress, p);
    cr_assert_eq(m.AllocationBase, base);
    cr_assert_eq(m.AllocationProtect, WVM_PAGE_READWRITE);
    cr_assert_eq(m.RegionSize, size, "region size %zu", m.RegionSize);
    cr_assert_eq(m.State, state);
    cr_assert_eq(m.Protect, prot, "protect %#x", m.Protect);
    cr_assert_eq(m.Type, WVM_MEM_PRIVATE);
}

Test(offer, offered_pages_are_inaccessible_until_reclaimed_intact)
{
    char *p = filled(4);
    wvm_SetLastError(1234);
    cr_assert_eq(wvm_OfferVirtualMemory(p, 2 * PAGE, WVM_VM_OFFER_PRIORITY_NORMAL), 0);
    cr_assert_eq(wvm_GetLastError(), 1234, "the last error is left alone");
    expect_region(p, 2 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_NOACCESS, p);
    expect_region(p + 2 * PAGE, 2 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, p);
    cr_assert_eq(ws_flags(p), 0, "offered pages leave the working set");
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert_eq(wvm_ReclaimVirtualMemory(p, 2 * PAGE), WVM_ERROR_SUCCESS);
    cr_assert_eq(wvm_GetLastError(), 1234);
    expect_region(p, 4 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, p);
    for (size_t i = 0; i < 4 * PAGE; i += 512)
        cr_assert_eq(p[i], 0x5A, "reclaimed intact: byte %zu", i);
    p[0] = 1;
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}

Test(offer, every_priority_is_accepted)
{
    char *p = filled(4);
    for (uint32_t prio = WVM_VM_OFFER_PRIORITY_VERY_LOW; prio <= WVM_VM_OFFER_PRIORITY_NORMAL;
         prio++)
        cr_assert_eq(wvm_OfferVirtualMemory(p + (prio - 1) * PAGE, PAGE, prio), 0, "priority %u",
                     prio);
    expect_region(p, 4 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_NOACCESS, p);
    cr_assert_eq(wvm_ReclaimVirtualMemory(p, 4 * PAGE), 0);
    cr_assert_eq(p[3 * PAGE + 5], 0x5A);
}

Test(offer, discarded_contents_answer_busy)
{
    char *p = filled(4);
    cr_assert_eq(wvm_OfferVirtualMemory(p, 4 * PAGE, WVM_VM_OFFER_PRIORITY_VERY_LOW), 0);
    force_drop(p + 2 * PAGE, PAGE); /* the kernel discards page 2 only */
    cr_assert_eq(wvm_ReclaimVirtualMemory(p, 4 * PAGE), WVM_ERROR_BUSY);
    expect_region(p, 4 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, p);
    cr_assert_eq(p[0], 0x5A, "pages the kernel kept are intact");
    cr_assert_eq(p[3 * PAGE], 0x5A);
    cr_assert(p[2 * PAGE] == 0x5A || p[2 * PAGE] == 0, "a discarded page reads anything");
    p[2 * PAGE] = 7; /* and is writable again */
    /* once reclaimed, the pages are ordinary again: a second reclaim finds nothing lost */
    cr_assert_eq(wvm_ReclaimVirtualMemory(p, 4 * PAGE), 0);
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(offer, reclaiming_only_the_intact_part_succeeds)
{
    char *p = filled(4);
    cr_assert_eq(wvm_OfferVirtualMemory(p, 4 * PAGE, WVM_VM_OFFER_PRIORITY_LOW), 0);
    force_drop(p + 3 * PAGE, PAGE);
    cr_assert_eq(wvm_ReclaimVirtualMemory(p, 2 * PAGE), 0);
    expect_region(p, 2 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, p);
    expect_region(p + 2 * PAGE, 2 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_NOACCESS, p);
    cr_assert_eq(wvm_ReclaimVirtualMemory(p + 2 * PAGE, 2 * PAGE), WVM_ERROR_BUSY);
}

Test(offer, never_written_pages_are_reclaimed_intact)
{
    char *p =
        wvm_VirtualAlloc(NULL, 8 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_eq(wvm_OfferVirtualMemory(p, 8 * PAGE, WVM_VM_OFFER_PRIORITY_NORMAL), 0);
    force_drop(p, 8 * PAGE);
    cr_assert_eq(wvm_ReclaimVirtualMemory(p, 8 * PAGE), 0, "zero pages lose nothing");
    cr_assert_eq(p[5 * PAGE], 0);
}

Test(offer, offer_unlocks_locked_pages)
{
    char *p = filled(2);
    cr_assert(wvm_VirtualLock(p, 2 * PAGE));
    cr_assert_eq(ws_flags(p) >> 22 & 1, 1, "locked");
    cr_assert_eq(wvm_OfferVirtualMemory(p, PAGE, WVM_VM_OFFER_PRIORITY_NORMAL), 0);
    cr_assert_eq(wvm_ReclaimVirtualMemory(p, PAGE), 0, "a locked page was never discardable");
    cr_assert_eq(p[100], 0x5A);
    cr_assert_not(wvm_VirtualUnlock(p, PAGE), "offering unlocked the page");
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOT_LOCKED);
    cr_assert(wvm_VirtualUnlock(p + PAGE, PAGE), "the page not offered stays locked");
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(offer, reclaim_of_pages_never_offered_changes_nothing)
{
    char *p = filled(2);
    cr_assert_eq(wvm_ReclaimVirtualMemory(p, 2 * PAGE), 0);
    expect_region(p, 2 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, p);
    cr_assert_eq(p[PAGE], 0x5A);
}

Test(offer, reclaim_also_undoes_mem_reset)
{
    char *p = filled(2);
    cr_assert_eq(wvm_VirtualAlloc(p, PAGE, WVM_MEM_RESET, WVM_PAGE_NOACCESS), p);
    force_drop(p, PAGE);
    cr_assert_eq(wvm_ReclaimVirtualMemory(p, 2 * PAGE), WVM_ERROR_BUSY);
    cr_assert_eq(wvm_VirtualAlloc(p, PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_NOACCESS), p,
                 "nothing is reset any more: the undo has nothing to lose");
}

Test(offer, argument_rules)
{
    char *p = wvm_VirtualAlloc(NULL, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert_not_null(wvm_VirtualAlloc(p, 2 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    cr_assert_not_null(wvm_VirtualAlloc(p + 2 * PAGE, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READONLY));
    wvm_SetLastError(55);
    const uint32_t normal = WVM_VM_OFFER_PRIORITY_NORMAL;
    cr_assert_eq(wvm_OfferVirtualMemory(p, PAGE, 0), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_eq(wvm_OfferVirtualMemory(p, PAGE, 5), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_eq(wvm_OfferVirtualMemory(p + 1, PAGE, normal), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_eq(wvm_OfferVirtualMemory(p, 0, normal), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_eq(wvm_OfferVirtualMemory(p, PAGE + 1, normal), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_eq(wvm_OfferVirtualMemory(p, SIZE_MAX - PAGE + 1, normal),
                 WVM_ERROR_INVALID_PARAMETER, "wraps");
    cr_assert_eq(wvm_OfferVirtualMemory(p + 2 * PAGE, PAGE, normal), WVM_ERROR_INVALID_PARAMETER,
                 "read-only");
    cr_assert_eq(wvm_OfferVirtualMemory(p + 3 * PAGE, 2 * PAGE, normal), WVM_ERROR_INVALID_ADDRESS,
                 "reserved pages");
    cr_assert_eq(wvm_OfferVirtualMemory(p, 4 * PAGE, normal), WVM_ERROR_INVALID_PARAMETER,
                 "the first offending page decides: read-only before reserved");
    cr_assert_eq(wvm_OfferVirtualMemory(p, 0x11000, normal), WVM_ERROR_INVALID_ADDRESS,
                 "past the allocation");
    cr_assert_eq(wvm_OfferVirtualMemory((void *)0x10000, PAGE, normal), WVM_ERROR_INVALID_ADDRESS);
    cr_assert_eq(wvm_ReclaimVirtualMemory(p + 3 * PAGE, PAGE), WVM_ERROR_INVALID_ADDRESS);
    cr_assert_eq(wvm_ReclaimVirtualMemory(p + 8, PAGE), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_eq(wvm_OfferVirtualMemory(p, PAGE, normal), 0);
    cr_assert_eq(wvm_OfferVirtualMemory(p, PAGE, normal), WVM_ERROR_INVALID_PARAMETER,
                 "offered pages are no-access: not offered again");
    cr_assert_eq(wvm_GetLastError(), 55, "failures leave the last error alone too");
    expect_region(p, PAGE, WVM_MEM_COMMIT, WVM_PAGE_NOACCESS, p);
    expect_region(p + PAGE, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, p);
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(offer, awe_windows_are_refused)
{
    char *w =
        wvm_VirtualAlloc(NULL, 0x10000, WVM_MEM_RESERVE | WVM_MEM_PHYSICAL, WVM_PAGE_READWRITE);
    if (!w)
        wvm_cannot_run("no AWE window on this kernel");
    cr_assert_eq(wvm_OfferVirtualMemory(w, PAGE, WVM_VM_OFFER_PRIORITY_NORMAL),
                 WVM_ERROR_INVALID_PARAMETER);
    cr_assert_eq(wvm_DiscardVirtualMemory(w, PAGE), WVM_ERROR_INVALID_PARAMETER);
}

/* A read-write view of a section (winvmem's choice, doc/windows-semantics.md): offered pages
 * are inaccessible until reclaimed; the section's pages are shared, never dropped by the
 * offer, so Reclaim answers ERROR_SUCCESS with the data intact. Copy-on-write views are
 * refused like read-only ones. */
Test(offer, views_of_a_section)
{
    void *h = wvm_CreateFileMappingA(WVM_INVALID_HANDLE_VALUE, NULL, WVM_PAGE_READWRITE, 0, 0x10000,
                                     NULL);
    cr_assert_not_null(h);
    char *rw = wvm_MapViewOfFile(h, WVM_FILE_MAP_WRITE, 0, 0, 0x10000);
    char *cow = wvm_MapViewOfFile(h, WVM_FILE_MAP_COPY, 0, 0, 0x10000);
    cr_assert(rw && cow);
    memset(rw, 0x6B, 2 * PAGE);
    cr_assert_eq(wvm_OfferVirtualMemory(rw, 2 * PAGE, WVM_VM_OFFER_PRIORITY_LOW), 0);
    wvm_MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(wvm_VirtualQuery(rw, &m, sizeof m), sizeof m);
    cr_assert_eq(m.Protect, WVM_PAGE_NOACCESS);
    cr_assert_eq(m.RegionSize, 2 * PAGE);
    cr_assert_eq(m.Type, WVM_MEM_MAPPED);
    cr_assert_eq(cow[0], 0x6B, "the section's data is still there");
    cr_assert_eq(wvm_ReclaimVirtualMemory(rw, 2 * PAGE), WVM_ERROR_SUCCESS);
    cr_assert_eq(wvm_VirtualQuery(rw, &m, sizeof m), sizeof m);
    cr_assert_eq(m.Protect, WVM_PAGE_READWRITE);
    cr_assert_eq(m.RegionSize, 0x10000);
    for (size_t i = 0; i < 2 * PAGE; i += 512)
        cr_assert_eq(rw[i], 0x6B, "reclaimed intact: byte %zu", i);
    cr_assert_eq(wvm_OfferVirtualMemory(cow, PAGE, WVM_VM_OFFER_PRIORITY_LOW),
                 WVM_ERROR_INVALID_PARAMETER);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_UnmapViewOfFile(cow) && wvm_UnmapViewOfFile(rw));
    cr_assert(wvm_CloseHandle(h));
}
