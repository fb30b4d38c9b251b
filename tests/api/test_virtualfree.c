#include <string.h>

#include "mbi.h"

Test(virtualfree, decommit_then_recommit_reads_zeros)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    memset(p, 0x33, 64 * KiB);
    cr_assert(VirtualFree(p + 0x1000, 0x2000, MEM_DECOMMIT));
    expect_region(p, p, p, PAGE_READWRITE, 0x1000, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    expect_region(p + 0x1000, p + 0x1000, p, PAGE_READWRITE, 0x2000, MEM_RESERVE, 0, MEM_PRIVATE);
    expect_region(p + 0x3000, p + 0x3000, p, PAGE_READWRITE, 0xD000, MEM_COMMIT, PAGE_READWRITE,
                  MEM_PRIVATE);
    cr_assert_not_null(VirtualAlloc(p + 0x1000, 0x2000, MEM_COMMIT, PAGE_READWRITE));
    cr_expect_eq(p[0x1000], 0);
    cr_expect_eq(p[0x2fff], 0);
    cr_expect_eq(p[0x0fff], 0x33);
    cr_expect_eq(p[0x3000], 0x33);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualfree, decommit_of_readonly_pages_then_recommit)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    memset(p, 1, 64 * KiB);
    DWORD old;
    cr_assert(VirtualProtect(p, 0x4000, PAGE_READONLY, &old));
    cr_assert(VirtualFree(p, 0x4000, MEM_DECOMMIT));
    cr_assert_not_null(VirtualAlloc(p, 0x4000, MEM_COMMIT, PAGE_READWRITE));
    p[0] = 5; /* writable again, and zero before the write */
    cr_expect_eq(p[1], 0);
    cr_expect_eq(wvm_check_invariants(), 0);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualfree, decommit_of_reserved_pages_succeeds)
{
    char *p = reserve(64 * KiB);
    cr_expect(VirtualFree(p, 0x4000, MEM_DECOMMIT));
    expect_region(p, p, p, PAGE_READWRITE, 64 * KiB, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualfree, decommit_size_zero_at_base_decommits_everything)
{
    char *p = reserve_commit(128 * KiB, PAGE_READWRITE);
    cr_expect(VirtualFree(p, 0, MEM_DECOMMIT));
    expect_region(p, p, p, PAGE_READWRITE, 128 * KiB, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualfree, decommit_past_the_end_fails)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    expect_error(VirtualFree(p + 60 * KiB, 8 * KiB, MEM_DECOMMIT), ERROR_INVALID_PARAMETER);
    expect_error(VirtualFree(p, SIZE_MAX, MEM_DECOMMIT), ERROR_INVALID_PARAMETER);
    expect_error(VirtualFree(p + 0x1000, 0, MEM_DECOMMIT), ERROR_INVALID_ADDRESS);
    expect_region(p, p, p, PAGE_READWRITE, 64 * KiB, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualfree, release_needs_size_zero)
{
    char *p = reserve(64 * KiB);
    expect_error(VirtualFree(p, 64 * KiB, MEM_RELEASE), ERROR_INVALID_PARAMETER);
    expect_region(p, p, p, PAGE_READWRITE, 64 * KiB, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualfree, release_needs_the_base_page)
{
    char *p = reserve(128 * KiB);
    expect_error(VirtualFree(p + 0x1000, 0, MEM_RELEASE), ERROR_INVALID_ADDRESS);
    expect_error(VirtualFree(p + 0x10000, 0, MEM_RELEASE), ERROR_INVALID_ADDRESS);
    expect_region(p, p, p, PAGE_READWRITE, 128 * KiB, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect(VirtualFree(p + 0x10, 0, MEM_RELEASE)); /* same page as the base */
    expect_region(p, p, NULL, 0, query(p).RegionSize, MEM_FREE, PAGE_NOACCESS, 0);
}

Test(virtualfree, decommit_size_zero_inside_first_page)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    cr_expect(VirtualFree(p + 0x10, 0, MEM_DECOMMIT));
    expect_region(p, p, p, PAGE_READWRITE, 64 * KiB, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualfree, bad_free_types)
{
    char *p = reserve(64 * KiB);
    expect_error(VirtualFree(p, 0, 0), ERROR_INVALID_PARAMETER);
    expect_error(VirtualFree(p, 0, MEM_DECOMMIT | MEM_RELEASE), ERROR_INVALID_PARAMETER);
    expect_error(VirtualFree(p, 0, MEM_RELEASE | 0x1000000), ERROR_INVALID_PARAMETER);
    expect_region(p, p, p, PAGE_READWRITE, 64 * KiB, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualfree, free_memory_fails)
{
    char *p = reserve(64 * KiB);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    /* a range past the user address space is a parameter error, checked first */
    expect_error(VirtualFree(p, SIZE_MAX, MEM_DECOMMIT), ERROR_INVALID_PARAMETER);
    expect_error(VirtualFree(p, 0, MEM_RELEASE), ERROR_INVALID_ADDRESS);
    expect_error(VirtualFree(p, 4096, MEM_DECOMMIT), ERROR_INVALID_ADDRESS);
}

Test(virtualfree, release_returns_commit_charge)
{
    MEMORYSTATUSEX before = {.dwLength = sizeof before}, during = before, after = before;
    cr_assert(GlobalMemoryStatusEx(&before));
    char *p = reserve_commit(1 * MiB, PAGE_READWRITE);
    cr_assert(GlobalMemoryStatusEx(&during));
    cr_expect_eq(before.ullAvailPageFile - during.ullAvailPageFile, 1 * MiB);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    cr_assert(GlobalMemoryStatusEx(&after));
    cr_expect_eq(after.ullAvailPageFile, before.ullAvailPageFile);
}
