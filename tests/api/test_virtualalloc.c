#include <stdint.h>
#include <string.h>

#include "mbi.h"

Test(virtualalloc, reserve_is_64k_aligned_and_reported)
{
    char *p = reserve(100 * KiB);
    cr_expect_eq((uintptr_t)p % 65536, 0);
    expect_region(p, p, p, PAGE_READWRITE, 100 * KiB, MEM_RESERVE, 0, MEM_PRIVATE);
    /* the rest of the last 64 KiB granule is free, not part of the allocation */
    expect_region(p + 100 * KiB, p + 100 * KiB, NULL, 0, query(p + 100 * KiB).RegionSize, MEM_FREE,
                  PAGE_NOACCESS, 0);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualalloc, reserve_size_rounds_to_pages)
{
    char *p = reserve(1);
    expect_region(p, p, p, PAGE_READWRITE, 4 * KiB, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualalloc, reserve_commit_is_zero_filled)
{
    char *p = reserve_commit(256 * KiB, PAGE_READWRITE);
    for (SIZE_T i = 0; i < 256 * KiB; i++)
        cr_assert_eq(p[i], 0);
    expect_region(p, p, p, PAGE_READWRITE, 256 * KiB, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualalloc, commit_alone_with_null_address_reserves_too)
{
    char *p = VirtualAlloc(NULL, 8 * KiB, MEM_COMMIT, PAGE_READWRITE);
    cr_assert_not_null(p);
    p[0] = 1;
    expect_region(p, p, p, PAGE_READWRITE, 8 * KiB, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualalloc, commit_rounds_to_touched_pages)
{
    char *p = reserve(1 * MiB);
    char *c = VirtualAlloc(p + 0x1234, 0x2000, MEM_COMMIT, PAGE_READWRITE);
    cr_expect_eq(c, p + 0x1000);
    /* [0x1234, 0x3234) touches pages 1, 2 and 3 */
    expect_region(p + 0x1000, p + 0x1000, p, PAGE_READWRITE, 0x3000, MEM_COMMIT, PAGE_READWRITE,
                  MEM_PRIVATE);
    expect_region(p, p, p, PAGE_READWRITE, 0x1000, MEM_RESERVE, 0, MEM_PRIVATE);
    expect_region(p + 0x4000, p + 0x4000, p, PAGE_READWRITE, 1 * MiB - 0x4000, MEM_RESERVE, 0,
                  MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualalloc, committing_committed_pages_keeps_contents)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    memset(p, 0x5a, 64 * KiB);
    cr_assert_not_null(VirtualAlloc(p, 64 * KiB, MEM_COMMIT, PAGE_READWRITE));
    for (SIZE_T i = 0; i < 64 * KiB; i++)
        cr_assert_eq((unsigned char)p[i], 0x5a);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualalloc, commit_spanning_committed_and_reserved)
{
    char *p = reserve(64 * KiB);
    cr_assert_not_null(VirtualAlloc(p + 0x2000, 0x1000, MEM_COMMIT, PAGE_READWRITE));
    p[0x2000] = 9;
    cr_assert_not_null(VirtualAlloc(p, 0x4000, MEM_COMMIT, PAGE_READWRITE));
    cr_expect_eq(p[0x2000], 9);
    cr_expect_eq(p[0x1000], 0);
    expect_region(p, p, p, PAGE_READWRITE, 0x4000, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualalloc, reserve_at_address_rounds_down_to_64k)
{
    char *p = reserve(1 * MiB);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    char *q = VirtualAlloc(p + 0x1234, 0x1000, MEM_RESERVE, PAGE_READWRITE);
    cr_expect_eq(q, p);
    /* the size runs from the rounded base to the end of the last touched page */
    expect_region(p, p, p, PAGE_READWRITE, 0x3000, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect(VirtualFree(q, 0, MEM_RELEASE));
}

Test(virtualalloc, release_then_rereserve_reads_zeros)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    memset(p, 0x77, 64 * KiB);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    char *q = VirtualAlloc(p, 64 * KiB, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    cr_assert_eq(q, p);
    for (SIZE_T i = 0; i < 64 * KiB; i++)
        cr_assert_eq(q[i], 0);
    cr_expect(VirtualFree(q, 0, MEM_RELEASE));
}

Test(virtualalloc, reserve_over_existing_fails)
{
    char *p = reserve(128 * KiB);
    expect_error(VirtualAlloc(p, 64 * KiB, MEM_RESERVE, PAGE_READWRITE), ERROR_INVALID_ADDRESS);
    expect_error(VirtualAlloc(p + 64 * KiB, 64 * KiB, MEM_RESERVE, PAGE_READWRITE),
                 ERROR_INVALID_ADDRESS);
    /* a 4 KiB reservation still occupies its whole granule */
    char *q = reserve(4 * KiB);
    expect_error(VirtualAlloc(q + 0x8000, 4 * KiB, MEM_RESERVE, PAGE_READWRITE),
                 ERROR_INVALID_ADDRESS);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
    cr_expect(VirtualFree(q, 0, MEM_RELEASE));
}

Test(virtualalloc, commit_of_free_memory_fails)
{
    char *p = reserve(64 * KiB);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    expect_error(VirtualAlloc(p, 4 * KiB, MEM_COMMIT, PAGE_READWRITE), ERROR_INVALID_ADDRESS);
    expect_region(p, p, NULL, 0, query(p).RegionSize, MEM_FREE, PAGE_NOACCESS, 0);
}

Test(virtualalloc, commit_beyond_reservation_fails_and_changes_nothing)
{
    char *p = reserve(64 * KiB);
    expect_error(VirtualAlloc(p + 60 * KiB, 8 * KiB, MEM_COMMIT, PAGE_READWRITE),
                 ERROR_INVALID_ADDRESS);
    expect_region(p, p, p, PAGE_READWRITE, 64 * KiB, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualalloc, commit_spanning_two_reservations_fails)
{
    char *a = VirtualAlloc(NULL, 64 * KiB, MEM_RESERVE, PAGE_READWRITE);
    char *b = VirtualAlloc(a + 64 * KiB, 64 * KiB, MEM_RESERVE, PAGE_READWRITE);
    if (!b) { /* the next granule was taken by someone else: find an adjacent pair */
        cr_assert(VirtualFree(a, 0, MEM_RELEASE));
        a = reserve(128 * KiB);
        cr_assert(VirtualFree(a, 0, MEM_RELEASE));
        cr_assert_eq(VirtualAlloc(a, 64 * KiB, MEM_RESERVE, PAGE_READWRITE), a);
        b = VirtualAlloc(a + 64 * KiB, 64 * KiB, MEM_RESERVE, PAGE_READWRITE);
    }
    cr_assert_eq(b, a + 64 * KiB);
    expect_error(VirtualAlloc(a + 60 * KiB, 8 * KiB, MEM_COMMIT, PAGE_READWRITE),
                 ERROR_INVALID_ADDRESS);
    expect_region(a, a, a, PAGE_READWRITE, 64 * KiB, MEM_RESERVE, 0, MEM_PRIVATE);
    expect_region(b, b, b, PAGE_READWRITE, 64 * KiB, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect(VirtualFree(a, 0, MEM_RELEASE));
    cr_expect(VirtualFree(b, 0, MEM_RELEASE));
}

Test(virtualalloc, bad_parameters)
{
    expect_error(VirtualAlloc(NULL, 0, MEM_RESERVE, PAGE_READWRITE), ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc(NULL, 4096, 0, PAGE_READWRITE), ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc(NULL, 4096, MEM_RESERVE | 0x10, PAGE_READWRITE),
                 ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc(NULL, 4096, MEM_TOP_DOWN, PAGE_READWRITE), ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc(NULL, 4096, MEM_DECOMMIT, PAGE_READWRITE), ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc(NULL, 4096, MEM_RESERVE, 0), ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc(NULL, 4096, MEM_RESERVE, PAGE_READWRITE | PAGE_READONLY),
                 ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc(NULL, 4096, MEM_RESERVE, PAGE_WRITECOPY), ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc(NULL, 4096, MEM_RESERVE, PAGE_EXECUTE_WRITECOPY),
                 ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc(NULL, 4096, MEM_COMMIT, PAGE_NOACCESS | PAGE_GUARD),
                 ERROR_INVALID_PARAMETER);
    expect_error(
        VirtualAlloc(NULL, 4096, MEM_COMMIT, PAGE_READWRITE | PAGE_NOCACHE | PAGE_WRITECOMBINE),
        ERROR_INVALID_PARAMETER);
}

Test(virtualalloc, address_out_of_range)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    char *max = si.lpMaximumApplicationAddress;
    expect_error(VirtualAlloc(max + 1, 4096, MEM_RESERVE, PAGE_READWRITE), ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc((void *)(UINTPTR_MAX - 0xFFFF), 4096, MEM_RESERVE, PAGE_READWRITE),
                 ERROR_INVALID_PARAMETER);
}

Test(virtualalloc, huge_sizes_fail_cleanly)
{
    expect_error(VirtualAlloc(NULL, SIZE_MAX, MEM_RESERVE, PAGE_READWRITE),
                 ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc(NULL, (SIZE_T)1 << 47, MEM_RESERVE, PAGE_READWRITE),
                 ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc((void *)0x1000, 4096, MEM_RESERVE, PAGE_READWRITE),
                 ERROR_INVALID_PARAMETER);
    char *p = reserve(64 * KiB);
    expect_error(VirtualAlloc(p, SIZE_MAX, MEM_COMMIT, PAGE_READWRITE), ERROR_INVALID_PARAMETER);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualalloc, top_down_is_above_bottom_up)
{
    char *lo = reserve(64 * KiB);
    char *hi = VirtualAlloc(NULL, 64 * KiB, MEM_RESERVE | MEM_TOP_DOWN, PAGE_READWRITE);
    cr_assert_not_null(hi);
    cr_expect_gt(hi, lo);
    cr_expect(VirtualFree(lo, 0, MEM_RELEASE));
    cr_expect(VirtualFree(hi, 0, MEM_RELEASE));
}

Test(virtualalloc, terabyte_of_reservations)
{
    char *p[16];
    for (int i = 0; i < 16; i++)
        p[i] = reserve(64 * GiB);
    for (int i = 0; i < 16; i++) {
        char *c = VirtualAlloc(p[i] + 63 * GiB, 4096, MEM_COMMIT, PAGE_READWRITE);
        cr_assert_not_null(c);
        c[0] = 1;
        expect_region(p[i], p[i], p[i], PAGE_READWRITE, 63 * GiB, MEM_RESERVE, 0, MEM_PRIVATE);
    }
    for (int i = 0; i < 16; i++)
        cr_expect(VirtualFree(p[i], 0, MEM_RELEASE));
}

Test(virtualalloc, success_keeps_last_error)
{
    SetLastError(1234);
    char *p = reserve(64 * KiB);
    cr_expect_eq(GetLastError(), 1234);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualalloc, sparse_reservation_over_space_small_ones_used)
{
    /* small reservations switch their chunks to guard markers; a sparse (>= 4 GiB)
     * reservation later placed there must still commit accessible, zeroed pages */
    enum { N = 64 };
    char *small[N];
    for (int i = 0; i < N; i++) {
        small[i] = reserve_commit(64 * KiB, PAGE_READWRITE);
        small[i][0] = 1;
    }
    for (int i = 0; i < N; i++)
        cr_assert(VirtualFree(small[i], 0, MEM_RELEASE));
    MEMORYSTATUSEX before = {.dwLength = sizeof before}, after = before;
    cr_assert(GlobalMemoryStatusEx(&before));
    char *big = reserve(8 * GiB);
    for (SIZE_T off = 0; off < 8 * GiB; off += 512 * MiB + 4 * KiB) {
        cr_assert_not_null(VirtualAlloc(big + off, 4096, MEM_COMMIT, PAGE_READWRITE));
        cr_assert_eq(big[off], 0);
        big[off] = 7;
    }
    cr_expect_eq(wvm_check_invariants(), 0);
    cr_assert(VirtualFree(big, 0, MEM_RELEASE));
    cr_assert(GlobalMemoryStatusEx(&after));
    cr_expect_eq(after.ullAvailPageFile, before.ullAvailPageFile);
    /* the same space again: zeros, and small reservations work there as before */
    char *again = VirtualAlloc(big, 64 * KiB, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    cr_assert_eq(again, big);
    cr_expect_eq(again[0], 0);
    again[0] = 1;
    cr_expect(VirtualFree(again, 0, MEM_RELEASE));
}
