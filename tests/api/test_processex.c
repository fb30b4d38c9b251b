/* VirtualAllocEx, VirtualFreeEx, VirtualProtectEx, VirtualQueryEx: with GetCurrentProcess()
 * (and INVALID_HANDLE_VALUE, the same value on Windows) they are the plain calls; any other
 * handle fails with ERROR_INVALID_HANDLE and changes nothing. */
#include "mbi.h"

#define PG ((SIZE_T)4096)

/* values that name no handle of this process: NULL, a small number, the current-thread
 * pseudo-handle (HANDLE)-2, an address */
static HANDLE other_handles[] = {NULL, (HANDLE)(ULONG_PTR)4, (HANDLE)(LONG_PTR)-2,
                                 (HANDLE)other_handles};

Test(processex, current_process_is_the_plain_call)
{
    HANDLE me = GetCurrentProcess();
    cr_assert_eq(me, INVALID_HANDLE_VALUE);
    char *p = VirtualAllocEx(me, NULL, 16 * PG, MEM_RESERVE, PAGE_NOACCESS);
    cr_assert_not_null(p, "VirtualAllocEx: %u", GetLastError());
    expect_region(p, p, p, PAGE_NOACCESS, 16 * PG, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect_eq(VirtualAllocEx(me, p + PG, 2 * PG, MEM_COMMIT, PAGE_READWRITE), p + PG);
    expect_region(p + PG, p + PG, p, PAGE_NOACCESS, 2 * PG, MEM_COMMIT, PAGE_READWRITE,
                  MEM_PRIVATE);
    DWORD old = 0;
    cr_expect(VirtualProtectEx(me, p + PG, PG, PAGE_READONLY, &old));
    cr_expect_eq(old, PAGE_READWRITE);
    MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(VirtualQueryEx(me, p + PG, &m, sizeof m), sizeof m);
    cr_expect_eq(m.BaseAddress, p + PG);
    cr_expect_eq(m.AllocationBase, p);
    cr_expect_eq(m.AllocationProtect, PAGE_NOACCESS);
    cr_expect_eq(m.RegionSize, PG);
    cr_expect_eq(m.State, MEM_COMMIT);
    cr_expect_eq(m.Protect, PAGE_READONLY);
    cr_expect_eq(m.Type, MEM_PRIVATE);
    /* the plain call's errors come through unchanged */
    expect_error(VirtualProtectEx(me, p + 8 * PG, PG, PAGE_READONLY, &old), ERROR_INVALID_ADDRESS);
    expect_error(VirtualFreeEx(me, p + PG, PG, MEM_RELEASE), ERROR_INVALID_PARAMETER);
    cr_expect(VirtualFreeEx(me, p + PG, 2 * PG, MEM_DECOMMIT));
    expect_region(p, p, p, PAGE_NOACCESS, 16 * PG, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect(VirtualFreeEx(me, p, 0, MEM_RELEASE));
    cr_assert_eq(VirtualQueryEx(me, p, &m, sizeof m), sizeof m);
    cr_expect_eq(m.State, MEM_FREE);
}

Test(processex, another_handle_is_invalid_and_changes_nothing)
{
    char *p = reserve(16 * PG);
    cr_assert_not_null(VirtualAlloc(p, PG, MEM_COMMIT, PAGE_READWRITE));
    p[0] = 42;
    for (size_t i = 0; i < sizeof other_handles / sizeof *other_handles; i++) {
        HANDLE h = other_handles[i];
        MEMORY_BASIC_INFORMATION m;
        DWORD old = 0xdeadbeef;
        memset(&m, 0x5a, sizeof m);
        expect_error(VirtualAllocEx(h, NULL, 16 * PG, MEM_RESERVE, PAGE_READWRITE),
                     ERROR_INVALID_HANDLE);
        expect_error(VirtualAllocEx(h, p + PG, PG, MEM_COMMIT, PAGE_READWRITE),
                     ERROR_INVALID_HANDLE);
        /* the handle is checked before the other arguments */
        expect_error(VirtualAllocEx(h, NULL, 0, 0, 0), ERROR_INVALID_HANDLE);
        expect_error(VirtualProtectEx(h, p, PG, PAGE_READONLY, &old), ERROR_INVALID_HANDLE);
        cr_expect_eq(old, 0xdeadbeef, "old protection written");
        expect_error(VirtualFreeEx(h, p, PG, MEM_DECOMMIT), ERROR_INVALID_HANDLE);
        expect_error(VirtualFreeEx(h, p, 0, MEM_RELEASE), ERROR_INVALID_HANDLE);
        SetLastError(0xdeadbeef);
        cr_expect_eq(VirtualQueryEx(h, p, &m, sizeof m), 0);
        cr_expect_eq(GetLastError(), ERROR_INVALID_HANDLE);
        cr_expect_eq(m.RegionSize, (SIZE_T)0x5a5a5a5a5a5a5a5aull, "buffer written");
    }
    expect_region(p, p, p, PAGE_READWRITE, PG, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    expect_region(p + PG, p + PG, p, PAGE_READWRITE, 15 * PG, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect_eq(p[0], 42);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}
