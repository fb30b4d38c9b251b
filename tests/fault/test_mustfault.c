/* Accesses that must fault, each in its own process (Criterion forks per test). */
#include <signal.h>
#include <string.h>

#include "mbi.h"

static volatile char sink;

Test(mustfault, read_reserved, .signal = SIGSEGV)
{
    char *p = reserve(64 * KiB);
    sink = p[0];
}

Test(mustfault, write_reserved_next_to_committed, .signal = SIGSEGV)
{
    char *p = reserve(64 * KiB);
    cr_assert_not_null(VirtualAlloc(p, 4096, MEM_COMMIT, PAGE_READWRITE));
    p[0] = 1;
    p[4096] = 1;
}

Test(mustfault, read_decommitted, .signal = SIGSEGV)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    p[8192] = 1;
    cr_assert(VirtualFree(p + 8192, 4096, MEM_DECOMMIT));
    sink = p[8192];
}

Test(mustfault, read_released, .signal = SIGSEGV)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    p[0] = 1;
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    sink = p[0];
}

Test(mustfault, read_noaccess, .signal = SIGSEGV)
{
    char *p = reserve_commit(64 * KiB, PAGE_NOACCESS);
    sink = p[100];
}

Test(mustfault, write_readonly, .signal = SIGSEGV)
{
    char *p = reserve_commit(64 * KiB, PAGE_READONLY);
    sink = p[0]; /* reading is fine */
    p[0] = 1;
}

Test(mustfault, write_after_protect_readonly, .signal = SIGSEGV)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    p[0] = 1;
    DWORD old;
    cr_assert(VirtualProtect(p, 4096, PAGE_READONLY, &old));
    cr_assert_eq(p[0], 1);
    p[0] = 2;
}

Test(mustfault, read_guard_page_without_handler, .signal = SIGSEGV)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE | PAGE_GUARD);
    sink = p[0];
}

Test(mustfault, read_free_granule_tail, .signal = SIGSEGV)
{
    char *p = reserve_commit(4096, PAGE_READWRITE);
    p[0] = 1;
    sink = p[4096];
}

Test(mustfault, accessible_pages_do_not_fault)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    memset(p, 1, 64 * KiB);
    DWORD old;
    cr_assert(VirtualProtect(p, 4096, PAGE_READONLY, &old));
    cr_expect_eq(p[0], 1);
    cr_assert(VirtualProtect(p, 4096, PAGE_EXECUTE_READWRITE, &old));
    p[0] = 2;
    cr_expect_eq(p[0], 2);
}

/* views */

static char *view(DWORD sprot, DWORD access, SIZE_T size)
{
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, sprot, 0, (DWORD)size, NULL);
    cr_assert_not_null(h);
    char *p = MapViewOfFile(h, access, 0, 0, 0);
    cr_assert_not_null(p, "%u", GetLastError());
    return p;
}

Test(mustfault, write_readonly_view, .signal = SIGSEGV)
{
    char *p = view(PAGE_READWRITE, FILE_MAP_READ, 64 * KiB);
    sink = p[0];
    p[0] = 1;
}

Test(mustfault, read_noaccess_view, .signal = SIGSEGV)
{
    char *p = view(PAGE_READWRITE, 0, 64 * KiB);
    sink = p[0];
}

Test(mustfault, read_reserved_page_of_sec_reserve_view, .signal = SIGSEGV)
{
    char *p = view(PAGE_READWRITE | SEC_RESERVE, FILE_MAP_WRITE, 128 * KiB);
    cr_assert_eq(VirtualAlloc(p, 64 * KiB, MEM_COMMIT, PAGE_READWRITE), p);
    p[0] = 1;
    sink = p[64 * KiB];
}

Test(mustfault, write_after_protect_readonly_view, .signal = SIGSEGV)
{
    char *p = view(PAGE_READWRITE, FILE_MAP_WRITE, 64 * KiB);
    DWORD old;
    p[0] = 1;
    cr_assert(VirtualProtect(p, 4096, PAGE_READONLY, &old));
    cr_assert_eq(p[0], 1);
    p[0] = 2;
}

Test(mustfault, read_unmapped_view, .signal = SIGSEGV)
{
    char *p = view(PAGE_READWRITE, FILE_MAP_WRITE, 64 * KiB);
    p[0] = 1;
    cr_assert(UnmapViewOfFile(p));
    sink = p[0];
}

Test(mustfault, read_placeholder, .signal = SIGSEGV)
{
    char *p = VirtualAlloc2(NULL, NULL, 64 * KiB, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                            PAGE_NOACCESS, NULL, 0);
    cr_assert_not_null(p);
    sink = p[0];
}

Test(mustfault, read_view_unmapped_to_placeholder, .signal = SIGSEGV)
{
    char *ph = VirtualAlloc2(NULL, NULL, 64 * KiB, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                             PAGE_NOACCESS, NULL, 0);
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 64 * KiB, NULL);
    char *v =
        MapViewOfFile3(h, NULL, ph, 0, 64 * KiB, MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE, NULL, 0);
    cr_assert_eq(v, ph);
    v[0] = 1;
    cr_assert(UnmapViewOfFileEx(v, MEM_PRESERVE_PLACEHOLDER));
    sink = ph[0];
}
