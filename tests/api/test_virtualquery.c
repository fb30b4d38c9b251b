#include <stdint.h>
#include <stdlib.h>

#include "mbi.h"

Test(virtualquery, free_memory)
{
    char *p = reserve(64 * KiB);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    MEMORY_BASIC_INFORMATION m = query(p + 5);
    cr_expect_eq(m.BaseAddress, p);
    cr_expect_null(m.AllocationBase);
    cr_expect_eq(m.AllocationProtect, 0);
    cr_expect_eq(m.State, MEM_FREE);
    cr_expect_eq(m.Protect, PAGE_NOACCESS);
    cr_expect_eq(m.Type, 0);
    cr_expect_geq(m.RegionSize, 64 * KiB);
}

Test(virtualquery, equal_neighbours_merge)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    DWORD old;
    cr_assert(VirtualProtect(p + 0x1000, 0x1000, PAGE_READONLY, &old));
    cr_assert(VirtualProtect(p + 0x1000, 0x1000, PAGE_READWRITE, &old));
    expect_region(p + 0x800, p, p, PAGE_READWRITE, 64 * KiB, MEM_COMMIT, PAGE_READWRITE,
                  MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualquery, bad_arguments)
{
    MEMORY_BASIC_INFORMATION m;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    expect_error(VirtualQuery((char *)si.lpMaximumApplicationAddress + 1, &m, sizeof m),
                 ERROR_INVALID_PARAMETER);
    expect_error(VirtualQuery(&m, &m, sizeof m - 1), ERROR_BAD_LENGTH);
    cr_expect_eq(VirtualQuery(&m, &m, sizeof m + 16), sizeof m);
}

Test(virtualquery, foreign_memory_is_reported_truthfully)
{
    int local = 0;
    MEMORY_BASIC_INFORMATION m = query(&local);
    cr_expect_eq(m.State, MEM_COMMIT);
    cr_expect_eq(m.Protect, PAGE_READWRITE);
    cr_expect_eq(m.Type, MEM_PRIVATE);
    m = query((void *)(uintptr_t)&query);
    cr_expect_eq(m.Type, MEM_IMAGE);
    cr_expect_eq(m.Protect, PAGE_EXECUTE_READ);
    void *heap = malloc(100);
    m = query(heap);
    cr_expect_eq(m.State, MEM_COMMIT);
    cr_expect(m.Protect == PAGE_READWRITE);
    free(heap);
}

Test(virtualquery, walk_is_contiguous_to_the_top)
{
    char *p = reserve(1 * MiB);
    cr_assert_not_null(VirtualAlloc(p, 4096, MEM_COMMIT, PAGE_READWRITE));
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    uintptr_t at = 0, max = (uintptr_t)si.lpMaximumApplicationAddress;
    int regions = 0, saw_ours = 0;
    MEMORY_BASIC_INFORMATION m, prev = {0};
    while (at <= max) {
        cr_assert_eq(VirtualQuery((void *)at, &m, sizeof m), sizeof m, "at %#lx",
                     (unsigned long)at);
        cr_assert_eq((uintptr_t)m.BaseAddress, at);
        cr_assert_gt(m.RegionSize, 0);
        if (regions && prev.State == MEM_FREE)
            cr_expect_neq(m.State, MEM_FREE, "two free regions in a row at %#lx",
                          (unsigned long)at);
        if (m.BaseAddress == p)
            saw_ours = 1;
        prev = m;
        at += m.RegionSize;
        regions++;
    }
    cr_expect_eq(at, max + 1);
    cr_expect(saw_ours);
    cr_expect_lt(regions, 10000);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}
