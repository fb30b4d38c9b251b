/* VirtualAlloc2 / VirtualAlloc2FromApp, placeholders (MEM_RESERVE_PLACEHOLDER,
 * MEM_REPLACE_PLACEHOLDER, MEM_PRESERVE_PLACEHOLDER, MEM_COALESCE_PLACEHOLDERS), MapViewOfFile3,
 * UnmapViewOfFile2 and address requirements. Debian 12's Wine 8 has none of these: the
 * expected values are the ok() lines of Wine 9's kernelbase/tests/process.c and
 * ntdll/tests/virtual.c (which hold on Windows), NT statuses turned into Win32 errors
 * (STATUS_CONFLICTING_ADDRESSES and STATUS_MEMORY_NOT_ALLOCATED: ERROR_INVALID_ADDRESS;
 * STATUS_INVALID_PARAMETER_n and STATUS_UNABLE_TO_FREE_VM: ERROR_INVALID_PARAMETER;
 * STATUS_NO_MEMORY: ERROR_NOT_ENOUGH_MEMORY). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "mbi.h"

#define SIZE ((SIZE_T)0x80000)

#define check_region_size(p, s) cr_expect_eq(query(p).RegionSize, (SIZE_T)(s), "at %p", (void *)(p))

static char *placeholder(SIZE_T size)
{
    char *p = VirtualAlloc2(NULL, NULL, size, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS,
                            NULL, 0);
    cr_assert_not_null(p, "placeholder: %u", GetLastError());
    return p;
}

Test(virtualalloc2, plain_allocations)
{
    char *p = VirtualAlloc2(NULL, NULL, SIZE, MEM_COMMIT, PAGE_EXECUTE_READWRITE, NULL, 0);
    cr_assert_not_null(p);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    p = VirtualAlloc2(GetCurrentProcess(), NULL, 0x1000, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE,
                      NULL, 0);
    cr_assert_not_null(p);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    expect_error(
        VirtualAlloc2((HANDLE)(uintptr_t)0x1234, NULL, 0x1000, MEM_COMMIT, PAGE_READWRITE, NULL, 0),
        ERROR_INVALID_HANDLE);
    expect_error(VirtualAlloc2(NULL, NULL, 0x1000, MEM_COMMIT, PAGE_READWRITE, NULL, 1),
                 ERROR_INVALID_PARAMETER);
}

Test(virtualalloc2, placeholder_rules)
{
    expect_error(VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS),
                 ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc2(NULL, NULL, 0x10000, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                               PAGE_READWRITE, NULL, 0),
                 ERROR_INVALID_PARAMETER);
    char *p = placeholder(0x10000);
    expect_region(p, p, p, PAGE_NOACCESS, 0x10000, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert_eq(VirtualAlloc2(NULL, p, 0x10000, MEM_RESERVE | MEM_COMMIT | MEM_REPLACE_PLACEHOLDER,
                               PAGE_READWRITE, NULL, 0),
                 p, "%u", GetLastError());
    memset(p, 0xcc, 0x10000);
    cr_assert(VirtualFree(p, 0x10000, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER), "%u",
              GetLastError());
    expect_region(p, p, p, PAGE_NOACCESS, 0x10000, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert_eq(VirtualAlloc2(NULL, p, 0x10000, MEM_RESERVE | MEM_COMMIT | MEM_REPLACE_PLACEHOLDER,
                               PAGE_READONLY, NULL, 0),
                 p);
    cr_assert_eq(*(unsigned *)p, 0, "a placeholder keeps no data");
    expect_region(p, p, p, PAGE_READONLY, 0x10000, MEM_COMMIT, PAGE_READONLY, MEM_PRIVATE);
    cr_assert(VirtualFree(p, 0x10000, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    /* a placeholder is replaced, not reserved or committed over */
    expect_error(VirtualAlloc2(NULL, p, 0x10000, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                               PAGE_NOACCESS, NULL, 0),
                 ERROR_INVALID_ADDRESS);
    expect_error(VirtualAlloc2(NULL, p, 0x10000, MEM_RESERVE, PAGE_NOACCESS, NULL, 0),
                 ERROR_INVALID_ADDRESS);
    expect_error(VirtualAlloc2(NULL, p, 0x1000, MEM_RESERVE | MEM_REPLACE_PLACEHOLDER,
                               PAGE_NOACCESS, NULL, 0),
                 ERROR_INVALID_ADDRESS);
    expect_error(VirtualAlloc2(NULL, p, 0x10000, MEM_COMMIT, PAGE_READWRITE, NULL, 0),
                 ERROR_INVALID_ADDRESS);
    expect_error(VirtualAlloc2(NULL, p, 0x10000, MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE, NULL, 0),
                 ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc2(NULL, p, 0x10000, MEM_COMMIT | MEM_REPLACE_PLACEHOLDER,
                               PAGE_READWRITE, NULL, 0),
                 ERROR_INVALID_PARAMETER);
    /* write watch on a replaced placeholder */
    cr_assert_eq(VirtualAlloc2(NULL, p, 0x10000,
                               MEM_WRITE_WATCH | MEM_RESERVE | MEM_REPLACE_PLACEHOLDER,
                               PAGE_READONLY, NULL, 0),
                 p, "%u", GetLastError());
    cr_assert_eq(VirtualAlloc2(NULL, p, 0x10000, MEM_COMMIT, PAGE_READWRITE, NULL, 0), p);
    expect_region(p, p, p, PAGE_READONLY, 0x10000, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    void *addrs[16];
    ULONG_PTR count = 16;
    ULONG gran;
    cr_assert_eq(GetWriteWatch(WRITE_WATCH_FLAG_RESET, p, 0x10000, addrs, &count, &gran), 0);
    cr_assert_eq(count, 0);
    p[0x1000] = 1;
    count = 16;
    cr_assert_eq(GetWriteWatch(WRITE_WATCH_FLAG_RESET, p, 0x10000, addrs, &count, &gran), 0);
    cr_assert_eq(count, 1);
    cr_assert_eq(addrs[0], p + 0x1000);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(virtualalloc2, split_and_release)
{
    char *p = VirtualAlloc2(NULL, NULL, 2 * SIZE, MEM_RESERVE, PAGE_NOACCESS, NULL, 0);
    expect_error(VirtualFree(p, SIZE, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER),
                 ERROR_INVALID_ADDRESS);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));

    p = placeholder(2 * SIZE);
    expect_region(p, p, p, PAGE_NOACCESS, 2 * SIZE, MEM_RESERVE, 0, MEM_PRIVATE);
    expect_error(VirtualFree(p, 2 * SIZE, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER),
                 ERROR_INVALID_ADDRESS);
    expect_error(VirtualFree(p, 0, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER),
                 ERROR_INVALID_PARAMETER);
    cr_assert(VirtualFree(p, SIZE, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    expect_region(p, p, p, PAGE_NOACCESS, SIZE, MEM_RESERVE, 0, MEM_PRIVATE);
    expect_region(p + SIZE, p + SIZE, p + SIZE, PAGE_NOACCESS, SIZE, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    cr_assert(VirtualFree(p + SIZE, 0, MEM_RELEASE));

    /* three pieces */
    p = placeholder(2 * SIZE);
    char *p1 = p + SIZE / 2, *p2 = p1 + SIZE / 4;
    cr_assert(VirtualFree(p1, SIZE / 4, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    check_region_size(p, SIZE / 2);
    check_region_size(p1, SIZE / 4);
    check_region_size(p2, 2 * SIZE - SIZE / 2 - SIZE / 4);
    cr_assert_eq(query(p2).AllocationBase, p2);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    cr_assert(VirtualFree(p1, 0, MEM_RELEASE));
    cr_assert(VirtualFree(p2, 0, MEM_RELEASE));

    /* the second half */
    p = placeholder(2 * SIZE);
    cr_assert(VirtualFree(p + SIZE, SIZE, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    check_region_size(p, SIZE);
    check_region_size(p + SIZE, SIZE);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    cr_assert(VirtualFree(p + SIZE, 0, MEM_RELEASE));
    expect_error(VirtualFree(p + SIZE + 0x10000, 0, MEM_RELEASE), ERROR_INVALID_ADDRESS);
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(virtualalloc2, coalesce)
{
    const SIZE_T size = 0x40000;
    char *p1 = placeholder(size), *p2 = p1 + size / 4, *p3 = p2 + size / 4;
    cr_assert(VirtualFree(p1, size / 4, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    cr_assert(VirtualFree(p2, size / 4, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    check_region_size(p1, size / 4);
    check_region_size(p2, size / 4);
    check_region_size(p3, size / 2);
    expect_error(VirtualFree(p1, size / 4, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS),
                 ERROR_INVALID_ADDRESS);
    expect_error(VirtualFree(p1, size, MEM_COALESCE_PLACEHOLDERS), ERROR_INVALID_PARAMETER);
    expect_error(VirtualFree(p1, size + 0x10000, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS),
                 ERROR_INVALID_ADDRESS);
    expect_error(VirtualFree(p1, size - 0x10000, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS),
                 ERROR_INVALID_ADDRESS);
    expect_error(VirtualFree(p1 + 0x1000, size - 0x1000, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS),
                 ERROR_INVALID_ADDRESS);
    expect_error(VirtualFree(p1, 0, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS),
                 ERROR_INVALID_PARAMETER);
    cr_assert(VirtualFree(p1, size, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS), "%u", GetLastError());
    check_region_size(p1, size);
    expect_region(p3, p3, p1, PAGE_NOACCESS, size / 2, MEM_RESERVE, 0, MEM_PRIVATE);

    /* a replaced piece is not a placeholder: no coalescing over it */
    cr_assert(VirtualFree(p1, size / 4, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    cr_assert_eq(VirtualAlloc2(NULL, p2, size - size / 4, MEM_RESERVE | MEM_REPLACE_PLACEHOLDER,
                               PAGE_READWRITE, NULL, 0),
                 p2);
    expect_error(VirtualFree(p1, size, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS),
                 ERROR_INVALID_ADDRESS);
    cr_assert(VirtualFree(p2, 0, MEM_RELEASE));
    expect_error(VirtualFree(p1, size, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS),
                 ERROR_INVALID_ADDRESS);
    cr_assert(VirtualFree(p1, 0, MEM_RELEASE));
    cr_assert_eq(wvm_check_invariants(), 0);
}

/* Splits at pages (Wine 9's ntdll/tests/virtual.c test_NtAllocateVirtualMemoryEx: a 64 KiB
 * placeholder split into 32, 16 and 16 KiB pieces, and into 16 + 48 KiB with the 48 KiB piece
 * replaced; ok() lines without todo_wine). */
Test(virtualalloc2, split_at_pages)
{
    const SIZE_T size = 0x10000;
    char *p = placeholder(size), *p1 = p + size / 2, *p2 = p1 + size / 4;
    cr_assert(VirtualFree(p1, size / 4, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER), "%u",
              GetLastError());
    check_region_size(p, size / 2);
    check_region_size(p1, size / 4);
    check_region_size(p2, size - size / 2 - size / 4);
    expect_region(p1, p1, p1, PAGE_NOACCESS, size / 4, MEM_RESERVE, 0, MEM_PRIVATE);
    expect_region(p2 + 0x1000, p2 + 0x1000, p2, PAGE_NOACCESS, 0x3000, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert_eq(wvm_check_invariants(), 0);
    /* Free pages in front of a live piece in its granule: no reservation there (winvmem's
     * choice; Windows' answer is unknown: doc/windows-semantics.md) */
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    expect_region(p, p, NULL, 0, size / 2, MEM_FREE, PAGE_NOACCESS, 0);
    expect_error(VirtualAlloc(p, 0x1000, MEM_RESERVE, PAGE_READWRITE), ERROR_INVALID_ADDRESS);
    expect_error(VirtualFree(p, 0, MEM_RELEASE), ERROR_INVALID_ADDRESS);
    cr_assert(VirtualFree(p1, 0, MEM_RELEASE));
    expect_region(p, p, NULL, 0, size / 2 + size / 4, MEM_FREE, PAGE_NOACCESS, 0);
    expect_error(VirtualAlloc(p, 0x1000, MEM_RESERVE, PAGE_READWRITE), ERROR_INVALID_ADDRESS);
    cr_assert(VirtualFree(p2, 0, MEM_RELEASE));
    cr_assert_eq(wvm_check_invariants(), 0);
    /* the last piece gave the granule back */
    char *again = VirtualAlloc(p, size, MEM_RESERVE, PAGE_READWRITE);
    cr_assert_eq(again, p, "%u", GetLastError());
    cr_assert(VirtualFree(again, 0, MEM_RELEASE));

    /* 16 + 16 + 32 KiB, coalesced at pages, then 16 + 48 KiB with the 48 KiB piece replaced */
    p = placeholder(size);
    p1 = p + size / 4;
    p2 = p1 + size / 4;
    cr_assert(VirtualFree(p, size / 4, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    cr_assert(VirtualFree(p1, size / 4, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    check_region_size(p, size / 4);
    check_region_size(p1, size / 4);
    check_region_size(p2, size / 2);
    expect_error(VirtualFree(p, size - 0x1000, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS),
                 ERROR_INVALID_ADDRESS);
    cr_assert(VirtualFree(p, size, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS), "%u", GetLastError());
    check_region_size(p, size);
    cr_assert(VirtualFree(p, size / 4, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    cr_assert_eq(VirtualAlloc2(NULL, p1, size - size / 4, MEM_RESERVE | MEM_REPLACE_PLACEHOLDER,
                               PAGE_READWRITE, NULL, 0),
                 p1, "%u", GetLastError());
    expect_region(p1, p1, p1, PAGE_READWRITE, size - size / 4, MEM_RESERVE, 0, MEM_PRIVATE);
    expect_error(VirtualFree(p, size, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS),
                 ERROR_INVALID_ADDRESS);
    /* an ordinary commit inside the replacement, write, read */
    cr_assert_eq(VirtualAlloc(p1 + 0x2000, 0x2000, MEM_COMMIT, PAGE_READWRITE), p1 + 0x2000);
    expect_region(p1 + 0x2000, p1 + 0x2000, p1, PAGE_READWRITE, 0x2000, MEM_COMMIT, PAGE_READWRITE,
                  MEM_PRIVATE);
    memset(p1 + 0x2000, 0xcc, 0x2000);
    expect_region(p, p, p, PAGE_NOACCESS, size / 4, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert_eq(wvm_check_invariants(), 0);
    /* back to a placeholder, replaced with a commit: zeros */
    cr_assert(VirtualFree(p1, size - size / 4, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    cr_assert_eq(VirtualAlloc2(NULL, p1, size - size / 4,
                               MEM_RESERVE | MEM_COMMIT | MEM_REPLACE_PLACEHOLDER, PAGE_READONLY,
                               NULL, 0),
                 p1);
    cr_assert_eq(p1[0x2000], 0);
    expect_region(p1, p1, p1, PAGE_READONLY, size - size / 4, MEM_COMMIT, PAGE_READONLY,
                  MEM_PRIVATE);
    cr_assert(VirtualFree(p1, 0, MEM_RELEASE));
    expect_error(VirtualFree(p1 + 0x4000, 0, MEM_RELEASE), ERROR_INVALID_ADDRESS);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    cr_assert_eq(wvm_check_invariants(), 0);
}

/* Windows rounds a reservation's address down to the allocation granularity (VirtualAlloc's
 * page) and refuses a range that overlaps an allocation (test_NtAllocateVirtualMemory: a
 * reservation one page after a one-page allocation, STATUS_CONFLICTING_ADDRESSES): so the free
 * pages behind a live piece in its granule take no reservation, whatever the size. A piece of
 * any page multiple is replaced at exactly its address and size (test_NtAllocateVirtualMemoryEx:
 * the 48 KiB piece at +16 KiB; a one-page replacement of a 64 KiB placeholder conflicts). */
Test(virtualalloc2, reserve_behind_and_replace_a_page_piece)
{
    const SIZE_T size = 0x10000;
    char *p = placeholder(size), *one = p + 0x3000, *rest = one + 0x1000;
    cr_assert(VirtualFree(p, 0x3000, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    cr_assert(VirtualFree(one, 0x1000, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    cr_assert(VirtualFree(rest, 0, MEM_RELEASE));
    expect_region(rest, rest, NULL, 0, query(rest).RegionSize, MEM_FREE, PAGE_NOACCESS, 0);
    /* behind the live pieces: rounded down onto the first one */
    expect_error(VirtualAlloc(rest, 0x1000, MEM_RESERVE, PAGE_READWRITE), ERROR_INVALID_ADDRESS);
    expect_error(VirtualAlloc(p + size - 0x1000, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE),
                 ERROR_INVALID_ADDRESS);
    expect_error(VirtualAlloc2(NULL, rest, 0x1000, MEM_RESERVE, PAGE_READWRITE, NULL, 0),
                 ERROR_INVALID_ADDRESS);
    /* the one-page piece: replaced at its address and size only */
    expect_error(VirtualAlloc2(NULL, one, 0x2000, MEM_RESERVE | MEM_REPLACE_PLACEHOLDER,
                               PAGE_READWRITE, NULL, 0),
                 ERROR_INVALID_ADDRESS);
    expect_error(VirtualAlloc2(NULL, p, 0x1000, MEM_RESERVE | MEM_REPLACE_PLACEHOLDER,
                               PAGE_READWRITE, NULL, 0),
                 ERROR_INVALID_ADDRESS);
    cr_assert_eq(VirtualAlloc2(NULL, one, 0x1000,
                               MEM_RESERVE | MEM_COMMIT | MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE,
                               NULL, 0),
                 one, "%u", GetLastError());
    expect_region(one, one, one, PAGE_READWRITE, 0x1000, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    one[0xfff] = 7;
    expect_region(p, p, p, PAGE_NOACCESS, 0x3000, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert(VirtualFree(one, 0x1000, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    expect_region(one, one, one, PAGE_NOACCESS, 0x1000, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert(VirtualFree(p, 0x4000, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS), "%u",
              GetLastError());
    expect_region(p, p, p, PAGE_NOACCESS, 0x4000, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    cr_assert_eq(wvm_check_invariants(), 0);
}

/* Free address space outside winvmem's arenas (where the kernel puts a fresh mapping). */
static char *outside_the_arenas(SIZE_T size)
{
    char *m = mmap(NULL, size + 0x10000, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    cr_assert_eq(munmap(m, size + 0x10000), 0);
    return (char *)(((uintptr_t)m + 0xffff) & ~(uintptr_t)0xffff);
}

/* Whether the kernel has a mapping over any page of [p, p+len): a fixed mapping that may not
 * replace one is refused (EEXIST). */
static bool kernel_maps(char *p, SIZE_T len)
{
    void *m = mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (m == MAP_FAILED) {
        cr_assert_eq(errno, EEXIST, "mmap: %d", errno);
        return true;
    }
    cr_assert_eq(m, (void *)p, "an old kernel ignores MAP_FIXED_NOREPLACE");
    munmap(m, len);
    return false;
}

/* The same splits in a placeholder made at an address outside the arenas (a mapping of its
 * own): pieces at pages, and the pages of a released piece stay out of the kernel's hands
 * (still mapped) while another piece lives in their granule, VirtualQuery showing them free;
 * the last piece takes every page of the granule with it. */
Test(virtualalloc2, split_at_pages_outside_the_arenas)
{
    const SIZE_T size = 0x10000;
    char *x = outside_the_arenas(4 * size);
    char *p =
        VirtualAlloc2(NULL, x, size, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS, NULL, 0);
    cr_assert_eq(p, x, "%u", GetLastError());
    char *p1 = p + size / 2, *p2 = p1 + size / 4;
    cr_assert(VirtualFree(p1, size / 4, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER), "%u",
              GetLastError());
    check_region_size(p, size / 2);
    check_region_size(p1, size / 4);
    expect_region(p2 + 0x1000, p2 + 0x1000, p2, PAGE_NOACCESS, 0x3000, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    expect_region(p, p, NULL, 0, size / 2, MEM_FREE, PAGE_NOACCESS, 0);
    cr_assert(kernel_maps(p, 0x1000), "a released piece's page was handed back to the kernel");
    expect_error(VirtualAlloc(p, 0x1000, MEM_RESERVE, PAGE_READWRITE), ERROR_INVALID_ADDRESS);
    expect_error(VirtualFree(p, 0, MEM_RELEASE), ERROR_INVALID_ADDRESS);
    /* the last piece first, then the middle one: nothing of the granule stays mapped */
    cr_assert(VirtualFree(p2, 0, MEM_RELEASE));
    /* (free up to whatever follows the granule) */
    expect_region(p2, p2, NULL, 0, query(p2).RegionSize, MEM_FREE, PAGE_NOACCESS, 0);
    cr_assert_geq(query(p2).RegionSize, size / 4);
    cr_assert(kernel_maps(p2, 0x1000));
    expect_region(p1, p1, p1, PAGE_NOACCESS, size / 4, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(VirtualFree(p1, 0, MEM_RELEASE));
    cr_assert(!kernel_maps(p, size), "pages of a released granule stay mapped");
    expect_region(p, p, NULL, 0, query(p).RegionSize, MEM_FREE, PAGE_NOACCESS, 0);
    cr_assert_geq(query(p).RegionSize, size);

    /* two granules, pieces across the boundary; a piece replaced by a committed allocation
     * and one by a view, released while their neighbours live */
    p = VirtualAlloc2(NULL, x, 2 * size, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS, NULL,
                      0);
    cr_assert_eq(p, x, "%u", GetLastError());
    char *a = p + 0x3000, *b = p + size - 0x2000, *c = p + size + 0x5000;
    cr_assert(VirtualFree(a, b - a, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER), "%u", GetLastError());
    cr_assert(VirtualFree(b, c - b, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER), "%u", GetLastError());
    check_region_size(p, a - p);
    check_region_size(a, b - a);
    check_region_size(b, c - b);
    check_region_size(c, p + 2 * size - c);
    cr_assert_eq(VirtualAlloc2(NULL, a, b - a, MEM_RESERVE | MEM_COMMIT | MEM_REPLACE_PLACEHOLDER,
                               PAGE_READWRITE, NULL, 0),
                 a, "%u", GetLastError());
    memset(a, 0x5a, b - a);
    HANDLE m = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x10000, NULL);
    cr_assert_not_null(m);
    char *v =
        MapViewOfFile3(m, NULL, b, 0, c - b, MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE, NULL, 0);
    cr_assert_eq(v, b, "%u", GetLastError());
    strcpy(v, "view");
    expect_region(b, b, b, PAGE_READWRITE, c - b, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    /* back to the piece, and a view again: the section kept its data */
    cr_assert(UnmapViewOfFile2(GetCurrentProcess(), v, MEM_PRESERVE_PLACEHOLDER));
    expect_region(b, b, b, PAGE_NOACCESS, c - b, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert_eq(
        MapViewOfFile3(m, NULL, b, 0, c - b, MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE, NULL, 0), v,
        "%u", GetLastError());
    cr_assert_str_eq(v, "view");
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(VirtualFree(a, 0, MEM_RELEASE));
    cr_assert(UnmapViewOfFile(v));
    expect_region(a, a, NULL, 0, c - a, MEM_FREE, PAGE_NOACCESS, 0);
    cr_assert(kernel_maps(a, 0x1000) && kernel_maps(p + size, 0x1000) && kernel_maps(b, 0x1000));
    expect_region(p, p, p, PAGE_NOACCESS, a - p, MEM_RESERVE, 0, MEM_PRIVATE);
    expect_region(c, c, c, PAGE_NOACCESS, p + 2 * size - c, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(VirtualFree(c, 0, MEM_RELEASE));
    cr_assert(!kernel_maps(p + size, size), "the second granule stays mapped");
    cr_assert(kernel_maps(a, 0x1000));
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    cr_assert(!kernel_maps(p, 2 * size), "the first granule stays mapped");
    cr_assert(CloseHandle(m));
    cr_assert_eq(wvm_check_invariants(), 0);
}

/* A page-sized piece replaced by a view of a section (MapViewOfFile3 takes page multiples with
 * MEM_REPLACE_PLACEHOLDER), and a ring of 4 KiB built from such pieces. */
Test(virtualalloc2, views_in_page_pieces)
{
    HANDLE m = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x1000, NULL);
    cr_assert_not_null(m);
    char *p = placeholder(0x10000), *q = p + 0x1000;
    cr_assert(VirtualFree(p, 0x1000, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    cr_assert(VirtualFree(q, 0x1000, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    char *v1 =
        MapViewOfFile3(m, NULL, p, 0, 0x1000, MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE, NULL, 0);
    cr_assert_eq(v1, p, "%u", GetLastError());
    char *v2 =
        MapViewOfFile3(m, NULL, q, 0, 0x1000, MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE, NULL, 0);
    cr_assert_eq(v2, q, "%u", GetLastError());
    expect_region(q, q, q, PAGE_READWRITE, 0x1000, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    strcpy(v1, "ring");
    cr_assert_str_eq(v2, "ring");
    expect_region(q + 0x1000, q + 0x1000, q + 0x1000, PAGE_NOACCESS, 0xe000, MEM_RESERVE, 0,
                  MEM_PRIVATE);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(UnmapViewOfFile2(GetCurrentProcess(), v2, MEM_PRESERVE_PLACEHOLDER));
    expect_region(q, q, q, PAGE_NOACCESS, 0x1000, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert(UnmapViewOfFile(v1));
    expect_region(p, p, NULL, 0, 0x1000, MEM_FREE, PAGE_NOACCESS, 0);
    cr_assert(VirtualFree(q + 0x1000, 0, MEM_RELEASE));
    expect_error(VirtualFree(q, 0x1000, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS),
                 ERROR_INVALID_ADDRESS);
    cr_assert(VirtualFree(q, 0, MEM_RELEASE));
    cr_assert(CloseHandle(m));
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(virtualalloc2, views_replace_placeholders)
{
    char *ph1 = placeholder(2 * SIZE), *ph2 = ph1 + SIZE;
    cr_assert(VirtualFree(ph1, SIZE, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER));
    HANDLE section = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, SIZE, NULL);
    cr_assert_not_null(section);

    char *v = MapViewOfFile3(section, NULL, NULL, 0, SIZE, 0, PAGE_READWRITE, NULL, 0);
    cr_assert_not_null(v);
    expect_error(VirtualFree(v, SIZE, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER),
                 ERROR_INVALID_PARAMETER);
    expect_error(UnmapViewOfFile2(GetCurrentProcess(), v, MEM_PRESERVE_PLACEHOLDER),
                 ERROR_INVALID_ADDRESS);
    cr_assert(UnmapViewOfFile2(GetCurrentProcess(), v, 0));

    char *v1 = MapViewOfFile3(section, NULL, ph1, 0, SIZE, MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE,
                              NULL, 0);
    cr_assert_eq(v1, ph1, "%u", GetLastError());
    char *v2 = MapViewOfFile3(section, NULL, ph2, 0, SIZE, MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE,
                              NULL, 0);
    cr_assert_eq(v2, ph2);
    expect_region(ph1, ph1, ph1, PAGE_READWRITE, SIZE, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    expect_region(ph2, ph2, ph2, PAGE_READWRITE, SIZE, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    strcpy(v1, "ring");
    cr_assert_str_eq(v2, "ring", "both halves show the same section");

    expect_error(UnmapViewOfFile2(NULL, v1, MEM_PRESERVE_PLACEHOLDER), ERROR_INVALID_HANDLE);
    expect_error(VirtualFree(ph1, SIZE, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER),
                 ERROR_INVALID_PARAMETER);
    expect_error(UnmapViewOfFile2(GetCurrentProcess(), v1, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER),
                 ERROR_INVALID_PARAMETER);
    cr_assert(UnmapViewOfFile2(GetCurrentProcess(), v1, MEM_PRESERVE_PLACEHOLDER));
    expect_region(ph1, ph1, ph1, PAGE_NOACCESS, SIZE, MEM_RESERVE, 0, MEM_PRIVATE);
    expect_error(UnmapViewOfFile2(GetCurrentProcess(), v1, MEM_PRESERVE_PLACEHOLDER),
                 ERROR_INVALID_ADDRESS);
    expect_error(UnmapViewOfFile(v1), ERROR_INVALID_ADDRESS);

    v1 = MapViewOfFile3(section, NULL, ph1, 0, SIZE, MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE, NULL,
                        0);
    cr_assert_eq(v1, ph1);
    cr_assert(CloseHandle(section));
    cr_assert(UnmapViewOfFile2(GetCurrentProcess(), v1,
                               MEM_UNMAP_WITH_TRANSIENT_BOOST | MEM_PRESERVE_PLACEHOLDER));
    expect_error(VirtualFree(ph1, SIZE, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER),
                 ERROR_INVALID_ADDRESS);
    cr_assert(VirtualFree(ph1, 0, MEM_RELEASE));
    cr_assert(UnmapViewOfFile(v2));
    expect_region(ph2, ph2, NULL, 0, query(ph2).RegionSize, MEM_FREE, PAGE_NOACCESS, 0);
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(virtualalloc2, map_view3_alignment)
{
    HANDLE m = CreateFileMappingA(NULL, NULL, PAGE_READWRITE, 0, 0x100000, NULL);
    /* NULL is not INVALID_HANDLE_VALUE: no file, no section */
    cr_assert_null(m);
    m = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x100000, NULL);
    char *a = placeholder(0x100000);
    cr_assert(VirtualFree(a, 0, MEM_RELEASE));
    expect_error(MapViewOfFile3(m, GetCurrentProcess(), a + 0x1000, 0x1000, 0x1000, 0,
                                PAGE_READWRITE, NULL, 0),
                 ERROR_MAPPED_ALIGNMENT);
    expect_error(
        MapViewOfFile3(m, GetCurrentProcess(), a, 0x1000, 0x1000, 0, PAGE_READWRITE, NULL, 0),
        ERROR_MAPPED_ALIGNMENT);
    expect_error(MapViewOfFile3(m, GetCurrentProcess(), a + 0xfff, 0x1000, 0x1000,
                                MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE, NULL, 0),
                 ERROR_MAPPED_ALIGNMENT);
    char *v = MapViewOfFile3(m, GetCurrentProcess(), a, 0, 0x1000, 0, PAGE_READWRITE, NULL, 0);
    cr_assert_eq(v, a, "%u", GetLastError());
    cr_assert(UnmapViewOfFile(v));
    v = MapViewOfFile3(m, GetCurrentProcess(), a, 0x40000, 0x1000, 0, PAGE_READWRITE, NULL, 0);
    cr_assert_eq(v, a);
    cr_assert(UnmapViewOfFile(v));
    cr_assert(CloseHandle(m));
}

Test(virtualalloc2, address_requirements)
{
    MEM_EXTENDED_PARAMETER ext[2];
    MEM_ADDRESS_REQUIREMENTS a;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    memset(ext, 0, sizeof ext);
    expect_error(
        VirtualAlloc2(NULL, NULL, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, ext, 1),
        ERROR_INVALID_PARAMETER);
    ext[0].Type = MemExtendedParameterMax;
    expect_error(
        VirtualAlloc2(NULL, NULL, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, ext, 1),
        ERROR_INVALID_PARAMETER);
    memset(&a, 0, sizeof a);
    ext[0].Type = MemExtendedParameterAddressRequirements;
    ext[0].Pointer = &a;
    char *p = VirtualAlloc2(NULL, NULL, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, ext, 1);
    cr_assert_not_null(p);
    VirtualFree(p, 0, MEM_RELEASE);
    ext[1] = ext[0];
    expect_error(
        VirtualAlloc2(NULL, NULL, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, ext, 2),
        ERROR_INVALID_PARAMETER);
    a.HighestEndingAddress = (void *)(0x20001000 + 1);
    expect_error(VirtualAlloc2(NULL, NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE, ext, 1),
                 ERROR_INVALID_PARAMETER);
    a.HighestEndingAddress = (void *)(0x20001000 - 2);
    expect_error(VirtualAlloc2(NULL, NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE, ext, 1),
                 ERROR_INVALID_PARAMETER);
    a.HighestEndingAddress = (char *)si.lpMaximumApplicationAddress + 0x1000;
    expect_error(VirtualAlloc2(NULL, NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE, ext, 1),
                 ERROR_INVALID_PARAMETER);
    a.HighestEndingAddress = si.lpMaximumApplicationAddress;
    p = VirtualAlloc2(NULL, NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE, ext, 1);
    cr_assert_not_null(p, "%u", GetLastError());
    VirtualFree(p, 0, MEM_RELEASE);
    a.HighestEndingAddress = (void *)(0x20001000 - 1);
    p = VirtualAlloc2(NULL, NULL, 0x40000, MEM_RESERVE, PAGE_READWRITE, ext, 1);
    cr_assert_not_null(p, "%u", GetLastError());
    cr_assert_eq((uintptr_t)p & 0xffff, 0);
    cr_assert((uintptr_t)p + 0x40000 <= 0x20001000, "%p", (void *)p);
    expect_region(p, p, p, PAGE_READWRITE, 0x40000, MEM_RESERVE, 0, MEM_PRIVATE);
    expect_error(VirtualAlloc2(NULL, p, 0x40000, MEM_COMMIT, PAGE_READWRITE, ext, 1),
                 ERROR_INVALID_PARAMETER);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    expect_error(VirtualAlloc2(NULL, p, 0x40000, MEM_RESERVE, PAGE_READWRITE, ext, 1),
                 ERROR_INVALID_PARAMETER);
    a.Alignment = 0x20000000;
    expect_error(VirtualAlloc2(NULL, NULL, 0x2000, MEM_RESERVE, PAGE_READWRITE, ext, 1),
                 ERROR_NOT_ENOUGH_MEMORY);
    a.HighestEndingAddress = NULL;
    a.Alignment = 0x8000;
    expect_error(VirtualAlloc2(NULL, NULL, 0x1000, MEM_RESERVE, PAGE_READWRITE, ext, 1),
                 ERROR_INVALID_PARAMETER);
    a.Alignment = 0x30000;
    expect_error(VirtualAlloc2(NULL, NULL, 0x1000, MEM_RESERVE, PAGE_READWRITE, ext, 1),
                 ERROR_INVALID_PARAMETER);
    a.Alignment = 0x40000;
    p = VirtualAlloc2(NULL, NULL, 0x1000, MEM_RESERVE, PAGE_READWRITE, ext, 1);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p & 0x3ffff, 0);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    a.Alignment = 0;
    a.LowestStartingAddress = (void *)0x20001000;
    expect_error(VirtualAlloc2(NULL, NULL, 0x1000, MEM_RESERVE, PAGE_READWRITE, ext, 1),
                 ERROR_INVALID_PARAMETER);
    a.LowestStartingAddress = (void *)0x30000000;
    a.HighestEndingAddress = (void *)0x20000000;
    expect_error(VirtualAlloc2(NULL, NULL, 0x1000, MEM_RESERVE, PAGE_READWRITE, ext, 1),
                 ERROR_INVALID_PARAMETER);
    a.LowestStartingAddress = (void *)0x20000000;
    a.HighestEndingAddress = (void *)0x2fffffff;
    p = VirtualAlloc2(NULL, NULL, 0x1000, MEM_RESERVE, PAGE_READWRITE, ext, 1);
    cr_assert(p >= (char *)0x20000000 && p < (char *)0x30000000, "%p", (void *)p);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    a.LowestStartingAddress = (char *)si.lpMaximumApplicationAddress + 1;
    a.HighestEndingAddress = NULL;
    expect_error(VirtualAlloc2(NULL, NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE, ext, 1),
                 ERROR_INVALID_PARAMETER);
    /* in the arena's range too: the lowest free place at or above the bound */
    char *probe = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_NOACCESS);
    a.LowestStartingAddress = probe + 0x100000;
    p = VirtualAlloc2(NULL, NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, ext, 1);
    cr_assert(p >= probe + 0x100000, "%p < %p", (void *)p, (void *)(probe + 0x100000));
    p[0] = 1;
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    cr_assert(VirtualFree(probe, 0, MEM_RELEASE));
    /* views: an alignment is refused */
    HANDLE m = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x10000, NULL);
    a.LowestStartingAddress = NULL;
    a.HighestEndingAddress = (void *)(0x20001000 - 1);
    a.Alignment = 0;
    char *v = MapViewOfFile3(m, NULL, NULL, 0, 0x10000, 0, PAGE_READWRITE, ext, 1);
    cr_assert_not_null(v, "%u", GetLastError());
    cr_assert((uintptr_t)v + 0x10000 <= 0x20001000);
    cr_assert(UnmapViewOfFile(v));
    a.Alignment = 0x40000;
    expect_error(MapViewOfFile3(m, NULL, NULL, 0, 0x10000, 0, PAGE_READWRITE, ext, 1),
                 ERROR_INVALID_PARAMETER);
    CloseHandle(m);
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(virtualalloc2, from_app)
{
    static const DWORD prot[] = {PAGE_EXECUTE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE,
                                 PAGE_EXECUTE_WRITECOPY};
    char *p = VirtualAlloc2FromApp(NULL, NULL, 0x1000, MEM_COMMIT, PAGE_READWRITE, NULL, 0);
    cr_assert_not_null(p);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    for (unsigned i = 0; i < 4; i++)
        expect_error(VirtualAlloc2FromApp(NULL, NULL, 0x1000, MEM_COMMIT, prot[i], NULL, 0),
                     ERROR_INVALID_PARAMETER);
}
