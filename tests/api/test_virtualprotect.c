#include "mbi.h"

Test(virtualprotect, changes_and_reports_old)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    DWORD old = 0;
    cr_assert(VirtualProtect(p + 0x1000, 0x1000, PAGE_READONLY, &old));
    cr_expect_eq(old, PAGE_READWRITE);
    expect_region(p + 0x1000, p + 0x1000, p, PAGE_READWRITE, 0x1000, MEM_COMMIT, PAGE_READONLY,
                  MEM_PRIVATE);
    cr_assert(VirtualProtect(p + 0x1000, 0x1000, PAGE_READWRITE, &old));
    cr_expect_eq(old, PAGE_READONLY);
    expect_region(p, p, p, PAGE_READWRITE, 64 * KiB, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    cr_expect_eq(wvm_check_invariants(), 0);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualprotect, mixed_range_reports_first_page)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    DWORD old;
    cr_assert(VirtualProtect(p, 0x1000, PAGE_EXECUTE_READ, &old));
    cr_assert(VirtualProtect(p, 0x3000, PAGE_NOACCESS, &old));
    cr_expect_eq(old, PAGE_EXECUTE_READ);
    expect_region(p, p, p, PAGE_READWRITE, 0x3000, MEM_COMMIT, PAGE_NOACCESS, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualprotect, uncommitted_pages_fail)
{
    char *p = reserve(64 * KiB);
    cr_assert_not_null(VirtualAlloc(p, 0x1000, MEM_COMMIT, PAGE_READWRITE));
    DWORD old = 77;
    expect_error(VirtualProtect(p, 0x2000, PAGE_READONLY, &old), ERROR_INVALID_ADDRESS);
    cr_expect_eq(old, 77);
    expect_region(p, p, p, PAGE_READWRITE, 0x1000, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

/* A range that runs past the allocation fails and reports PAGE_NOACCESS as the old protection
 * (kernel32/tests/virtual.c, test_VirtualProtectFromApp, on Windows); pages in the range that
 * are only uncommitted leave it alone (uncommitted_pages_fail). */
Test(virtualprotect, range_past_the_allocation_reports_noaccess)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    DWORD old = 77;
    expect_error(VirtualProtect(p, 0x100000, PAGE_READONLY, &old), ERROR_INVALID_ADDRESS);
    cr_expect_eq(old, PAGE_NOACCESS);
    expect_region(p, p, p, PAGE_READWRITE, 64 * KiB, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualprotect, null_old_protect_fails_with_noaccess)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    expect_error(VirtualProtect(p, 0x1000, PAGE_READONLY, NULL), ERROR_NOACCESS);
    expect_region(p, p, p, PAGE_READWRITE, 64 * KiB, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualprotect, guard_is_recorded_caching_modifiers_are_sticky)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    DWORD old;
    /* NOCACHE / WRITECOMBINE come from the allocation; VirtualProtect neither adds them... */
    cr_assert(VirtualProtect(p, 0x1000, PAGE_READWRITE | PAGE_NOCACHE, &old));
    cr_assert(VirtualProtect(p + 0x2000, 0x1000, PAGE_READWRITE | PAGE_GUARD, &old));
    expect_region(p, p, p, PAGE_READWRITE, 0x2000, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    expect_region(p + 0x2000, p + 0x2000, p, PAGE_READWRITE, 0x1000, MEM_COMMIT,
                  PAGE_READWRITE | PAGE_GUARD, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
    /* ...nor removes them */
    char *q = reserve_commit(64 * KiB, PAGE_READWRITE | PAGE_NOCACHE);
    expect_region(q, q, q, PAGE_READWRITE | PAGE_NOCACHE, 64 * KiB, MEM_COMMIT,
                  PAGE_READWRITE | PAGE_NOCACHE, MEM_PRIVATE);
    cr_assert(VirtualProtect(q, 0x1000, PAGE_READONLY, &old));
    cr_expect_eq(old, PAGE_READWRITE | PAGE_NOCACHE);
    expect_region(q, q, q, PAGE_READWRITE | PAGE_NOCACHE, 0x1000, MEM_COMMIT,
                  PAGE_READONLY | PAGE_NOCACHE, MEM_PRIVATE);
    char *w = reserve_commit(64 * KiB, PAGE_READWRITE | PAGE_WRITECOMBINE);
    expect_region(w, w, w, PAGE_READWRITE | PAGE_WRITECOMBINE, 64 * KiB, MEM_COMMIT,
                  PAGE_READWRITE | PAGE_WRITECOMBINE, MEM_PRIVATE);
    cr_expect(VirtualFree(q, 0, MEM_RELEASE));
    cr_expect(VirtualFree(w, 0, MEM_RELEASE));
}

Test(virtualprotect, size_zero_is_invalid)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    DWORD old = 5;
    expect_error(VirtualProtect(p, 0, PAGE_READONLY, &old), ERROR_INVALID_PARAMETER);
    expect_error(VirtualProtect(p + 0x10, 0, PAGE_READONLY, &old), ERROR_INVALID_PARAMETER);
    cr_expect_eq(old, 5);
    expect_region(p, p, p, PAGE_READWRITE, 64 * KiB, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualprotect, pages_of_a_large_allocation)
{
    char *p = reserve(64 * MiB);
    cr_assert_not_null(VirtualAlloc(p + 0x1FF000, 0x2000, MEM_COMMIT, PAGE_READWRITE));
    p[0x1FF000] = 1;
    p[0x200FFF] = 2;
    DWORD old;
    cr_assert(VirtualProtect(p + 0x200000, 0x1000, PAGE_READONLY, &old));
    cr_expect_eq(p[0x200FFF], 2);
    cr_assert(VirtualFree(p + 0x1FF000, 0x1000, MEM_DECOMMIT));
    cr_assert_not_null(VirtualAlloc(p + 0x1FE000, 0x2000, MEM_COMMIT, PAGE_READWRITE));
    cr_expect_eq(p[0x1FF000], 0);
    expect_region(p + 0x1FE000, p + 0x1FE000, p, PAGE_READWRITE, 0x2000, MEM_COMMIT, PAGE_READWRITE,
                  MEM_PRIVATE);
    expect_region(p + 0x200000, p + 0x200000, p, PAGE_READWRITE, 0x1000, MEM_COMMIT, PAGE_READONLY,
                  MEM_PRIVATE);
    cr_expect_eq(wvm_check_invariants(), 0);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualprotect, invalid_protections)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    DWORD old;
    expect_error(VirtualProtect(p, 0x1000, 0, &old), ERROR_INVALID_PARAMETER);
    expect_error(VirtualProtect(p, 0x1000, PAGE_READONLY | PAGE_READWRITE, &old),
                 ERROR_INVALID_PARAMETER);
    expect_error(VirtualProtect(p, 0x1000, PAGE_NOACCESS | PAGE_GUARD, &old),
                 ERROR_INVALID_PARAMETER);
    expect_error(VirtualProtect(p, 0x1000, 0x800, &old), ERROR_INVALID_PARAMETER);
    expect_region(p, p, p, PAGE_READWRITE, 64 * KiB, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualprotect, free_memory_fails)
{
    char *p = reserve(64 * KiB);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    DWORD old;
    expect_error(VirtualProtect(p, 0x1000, PAGE_READONLY, &old), ERROR_INVALID_ADDRESS);
}

Test(virtualprotect, order_of_checks_and_copy_on_write)
{
    char *p = reserve_commit(64 * KiB, PAGE_EXECUTE_READWRITE);
    DWORD old;
    /* WRITECOPY is refused on private memory, after the address space was looked at */
    expect_error(VirtualProtect(p, 0x1000, PAGE_EXECUTE_WRITECOPY, &old), ERROR_INVALID_PARAMETER);
    expect_error(VirtualProtect(p, 0x1000, PAGE_WRITECOPY, &old), ERROR_INVALID_PARAMETER);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    expect_error(VirtualProtect(p, 0x1000, PAGE_WRITECOPY, &old), ERROR_INVALID_ADDRESS);
    /* the old-protection pointer is probed before the range */
    expect_error(VirtualProtect(p, (SIZE_T)1 << 63, PAGE_READWRITE, NULL), ERROR_NOACCESS);
}

Test(virtualprotect, execute_pages_are_readable)
{
    char *p = reserve_commit(64 * KiB, PAGE_EXECUTE);
    cr_expect_eq(p[0], 0); /* x64 cannot express execute-only */
    DWORD old;
    cr_assert(VirtualProtect(p, 0x1000, PAGE_EXECUTE, &old));
    cr_expect_eq(p[0x10], 0);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}
