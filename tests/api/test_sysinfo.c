#include "mbi.h"

Test(sysinfo, windows_values)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    cr_expect_eq(si.dwPageSize, 4096);
    cr_expect_eq(si.dwAllocationGranularity, 65536);
    cr_expect_eq(si.lpMinimumApplicationAddress, (void *)0x10000);
    cr_expect_eq((uintptr_t)si.lpMaximumApplicationAddress, (uintptr_t)0x7FFFFFFEFFFF);
    cr_expect_geq(si.dwNumberOfProcessors, 1);
    cr_expect_eq(si.wProcessorArchitecture, PROCESSOR_ARCHITECTURE_AMD64);
}

Test(sysinfo, memory_status)
{
    MEMORYSTATUSEX m = {.dwLength = sizeof m};
    cr_assert(GlobalMemoryStatusEx(&m));
    cr_expect_gt(m.ullTotalPhys, 0);
    cr_expect_leq(m.ullAvailPhys, m.ullTotalPhys);
    cr_expect_gt(m.ullTotalPageFile, 0);
    cr_expect_leq(m.ullAvailPageFile, m.ullTotalPageFile);
    cr_expect_leq(m.dwMemoryLoad, 100);
    cr_expect_eq(m.ullTotalVirtual, 0x7FFFFFFE0000ull);
    cr_expect_eq(m.ullAvailExtendedVirtual, 0);
    m.dwLength = 12;
    expect_error(GlobalMemoryStatusEx(&m), ERROR_INVALID_PARAMETER);
}

Test(sysinfo, commit_limit_refuses_before_anything_changes, .init = NULL)
{
    MEMORYSTATUSEX m = {.dwLength = sizeof m};
    cr_assert(GlobalMemoryStatusEx(&m));
    SIZE_T too_much = (SIZE_T)m.ullAvailPageFile + 64 * KiB;
    expect_error(VirtualAlloc(NULL, too_much, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE),
                 ERROR_COMMITMENT_LIMIT);
    char *p = reserve(too_much);
    expect_error(VirtualAlloc(p, too_much, MEM_COMMIT, PAGE_READWRITE), ERROR_COMMITMENT_LIMIT);
    expect_region(p, p, p, PAGE_READWRITE, too_much, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}
