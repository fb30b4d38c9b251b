/* DiscardVirtualMemory: the pages stay committed read-write, their contents go (the RAM is
 * given back at once: the pages leave the working set). */
#include "neighbours.h"
#include "veh_record.h"

Test(discard, contents_go_pages_stay_committed)
{
    char *p = filled(4);
    cr_assert_eq(ws_flags(p + PAGE) & 1, 1, "resident before");
    wvm_SetLastError(4321);
    cr_assert_eq(wvm_DiscardVirtualMemory(p + PAGE, 2 * PAGE), WVM_ERROR_SUCCESS);
    cr_assert_eq(wvm_GetLastError(), 4321, "the last error is left alone");
    cr_assert_eq(ws_flags(p + PAGE), 0, "discarded pages left the working set");
    cr_assert_eq(ws_flags(p + 2 * PAGE), 0);
    cr_assert_eq(ws_flags(p) & 1, 1, "the neighbours did not");
    wvm_MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(wvm_VirtualQuery(p, &m, sizeof m), sizeof m);
    cr_assert_eq(m.RegionSize, 4 * PAGE, "nothing in the model changed");
    cr_assert_eq(m.State, WVM_MEM_COMMIT);
    cr_assert_eq(m.Protect, WVM_PAGE_READWRITE);
    cr_assert_eq(p[0], 0x5A);
    cr_assert_eq(p[3 * PAGE], 0x5A);
    cr_assert_eq(p[PAGE], 0, "discarded pages come back as zero pages here");
    p[2 * PAGE] = 9;
    cr_assert_eq(p[2 * PAGE], 9, "and are writable");
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(discard, a_discarded_reset_page_cannot_be_undone)
{
    char *p = filled(1);
    cr_assert_eq(wvm_VirtualAlloc(p, PAGE, WVM_MEM_RESET, WVM_PAGE_NOACCESS), p);
    cr_assert_eq(wvm_DiscardVirtualMemory(p, PAGE), 0);
    cr_assert_null(wvm_VirtualAlloc(p, PAGE, WVM_MEM_RESET_UNDO, WVM_PAGE_NOACCESS),
                   "MEM_RESET_UNDO must see that the contents are gone");
}

Test(discard, locked_pages_keep_their_contents)
{
    char *p = filled(2);
    cr_assert(wvm_VirtualLock(p, PAGE));
    cr_assert_eq(wvm_DiscardVirtualMemory(p, 2 * PAGE), 0);
    cr_assert_eq(p[10], 0x5A, "the kernel does not drop locked pages");
    cr_assert_eq(p[PAGE + 10], 0);
    cr_assert(wvm_VirtualUnlock(p, PAGE), "still locked");
}

Test(discard, argument_rules)
{
    char *p = wvm_VirtualAlloc(NULL, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert_not_null(wvm_VirtualAlloc(p, 2 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    cr_assert_not_null(wvm_VirtualAlloc(p + 2 * PAGE, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READONLY));
    cr_assert_not_null(
        wvm_VirtualAlloc(p + 3 * PAGE, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE | WVM_PAGE_GUARD));
    p[0] = 3;
    wvm_SetLastError(66);
    cr_assert_eq(wvm_DiscardVirtualMemory(p + 16, PAGE), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_eq(wvm_DiscardVirtualMemory(p, 0), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_eq(wvm_DiscardVirtualMemory(p, 100), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_eq(wvm_DiscardVirtualMemory(p, 3 * PAGE), WVM_ERROR_INVALID_PARAMETER,
                 "a read-only page in the range");
    cr_assert_eq(wvm_DiscardVirtualMemory(p + 3 * PAGE, PAGE), WVM_ERROR_INVALID_PARAMETER,
                 "a guard page");
    cr_assert_eq(wvm_DiscardVirtualMemory(p + 4 * PAGE, PAGE), WVM_ERROR_INVALID_ADDRESS,
                 "reserved");
    cr_assert_eq(wvm_DiscardVirtualMemory(p, 0x20000), WVM_ERROR_INVALID_ADDRESS, "past the end");
    cr_assert_eq(wvm_DiscardVirtualMemory(NULL, PAGE), WVM_ERROR_INVALID_ADDRESS);
    cr_assert_eq(wvm_DiscardVirtualMemory((void *)(uintptr_t)0xFFFFFFFFFFFFF000u, PAGE),
                 WVM_ERROR_INVALID_PARAMETER, "beyond the user address space");
    cr_assert_eq(wvm_GetLastError(), 66);
    cr_assert_eq(p[0], 3, "failures change nothing");
}

Test(discard, is_not_a_write_to_write_watch)
{
    char *p = wvm_VirtualAlloc(
        NULL, 4 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT | WVM_MEM_WRITE_WATCH, WVM_PAGE_READWRITE);
    cr_assert_not_null(p);
    memset(p, 1, 4 * PAGE);
    cr_assert_eq(wvm_ResetWriteWatch(p, 4 * PAGE), 0);
    cr_assert_eq(wvm_DiscardVirtualMemory(p, 2 * PAGE), 0);
    void *addrs[4];
    uintptr_t count = 4;
    uint32_t gran;
    cr_assert_eq(wvm_GetWriteWatch(0, p, 4 * PAGE, addrs, &count, &gran), 0);
    cr_assert_eq(count, 0, "discarding wrote nothing, got %zu pages", (size_t)count);
    p[PAGE] = 2;
    count = 4;
    cr_assert_eq(wvm_GetWriteWatch(0, p, 4 * PAGE, addrs, &count, &gran), 0);
    cr_assert_eq(count, 1);
    cr_assert_eq(addrs[0], p + PAGE);
}

/* Views of a section (winvmem's choice, doc/windows-semantics.md: Microsoft is silent): a
 * read-write view's pages are discarded from this mapping only (the section keeps its data, so
 * the contents stay: "undefined" includes unchanged); read-only and copy-on-write views are
 * refused (not PAGE_READWRITE in the model). */
Test(discard, views_of_a_section)
{
    void *h = wvm_CreateFileMappingA(WVM_INVALID_HANDLE_VALUE, NULL, WVM_PAGE_READWRITE, 0, 0x10000,
                                     NULL);
    cr_assert_not_null(h);
    char *rw = wvm_MapViewOfFile(h, WVM_FILE_MAP_WRITE, 0, 0, 0x10000);
    char *ro = wvm_MapViewOfFile(h, WVM_FILE_MAP_READ, 0, 0, 0x10000);
    char *cow = wvm_MapViewOfFile(h, WVM_FILE_MAP_COPY, 0, 0, 0x10000);
    cr_assert(rw && ro && cow);
    rw[0] = 5;
    cr_assert_eq(wvm_DiscardVirtualMemory(rw, PAGE), WVM_ERROR_SUCCESS);
    cr_assert_eq(ws_flags(rw), (uint64_t)1 << 15, "out of the working set, shared");
    cr_assert_eq(rw[0], 5, "the section keeps its data");
    cr_assert_eq(ro[0], 5);
    cr_assert_eq(wvm_DiscardVirtualMemory(ro, PAGE), WVM_ERROR_INVALID_PARAMETER);
    cow[0] = 9;
    cr_assert_eq(wvm_DiscardVirtualMemory(cow, PAGE), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_eq(cow[0], 9, "a refused discard changes nothing");
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_UnmapViewOfFile(cow) && wvm_UnmapViewOfFile(ro) && wvm_UnmapViewOfFile(rw));
    cr_assert(wvm_CloseHandle(h));
}
