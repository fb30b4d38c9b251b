/* GetSystemInfo, GlobalMemoryStatusEx, GetCurrentProcess. */
#include "api/api.h"
#include "core/ledger.h"
#include "prim/linux/prim.h"

WVM_API void wvm_GetSystemInfo(wvm_SYSTEM_INFO *si)
{
    if (!si)
        return;
    const wvm_caps *c = wvm__caps();
    *si = (wvm_SYSTEM_INFO){0};
#if defined(__aarch64__)
    si->u.s.wProcessorArchitecture = WVM_PROCESSOR_ARCHITECTURE_ARM64;
#else
    si->u.s.wProcessorArchitecture = WVM_PROCESSOR_ARCHITECTURE_AMD64;
    si->dwProcessorType = WVM_PROCESSOR_AMD_X8664;
#endif
    si->dwPageSize = WVM_PAGE_SIZE;
    si->lpMinimumApplicationAddress = (void *)WVM_MIN_ADDR;
    si->lpMaximumApplicationAddress = (void *)wvm__max_app_address();
    unsigned n = c->ncpu > 64 ? 64 : c->ncpu;
    si->dwActiveProcessorMask = n == 64 ? ~(uintptr_t)0 : (((uintptr_t)1 << n) - 1);
    si->dwNumberOfProcessors = c->ncpu;
    si->dwAllocationGranularity = WVM_ALLOCATION_GRANULARITY;
    si->wProcessorLevel = 6;
}

WVM_API int wvm_GlobalMemoryStatusEx(wvm_MEMORYSTATUSEX *m)
{
    if (!m)
        return WVM_FAIL(WVM_ERROR_NOACCESS, 0);
    if (m->dwLength != sizeof *m)
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    const wvm_caps *c = wvm__caps();
    uint64_t avail = 0;
    wvm__prim_avail_ram(&avail);
    uint64_t limit = wvm__ledger_limit(), used = wvm__ledger_committed();
    wvm_space_stats ss;
    wvm__space_stats(&ss);
    uint64_t total_virtual = wvm__max_app_address() + 1 - WVM_MIN_ADDR;
    m->ullTotalPhys = c->total_ram;
    m->ullAvailPhys = avail;
    m->dwMemoryLoad = c->total_ram ? (uint32_t)(100 - avail * 100 / c->total_ram) : 0;
    m->ullTotalPageFile = limit;
    m->ullAvailPageFile = used < limit ? limit - used : 0;
    m->ullTotalVirtual = total_virtual;
    m->ullAvailVirtual = ss.reserved < total_virtual ? total_virtual - ss.reserved : 0;
    m->ullAvailExtendedVirtual = 0;
    return 1;
}

WVM_API void *wvm_GetCurrentProcess(void)
{
    return WVM_CURRENT_PROCESS;
}
