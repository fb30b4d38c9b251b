/* AllocateUserPhysicalPages, MapUserPhysicalPages, FreeUserPhysicalPages (AWE). Wine stubs
 * these, so the rules come from Microsoft's documentation: the process handle must be the
 * current process; a failing MapUserPhysicalPages maps nothing, "partial or otherwise"; page
 * frame numbers are opaque. winvmem needs no SeLockMemoryPrivilege. */
#include "api/api.h"
#include "core/awe.h"

static bool own_process(void *h)
{
    return h == WVM_CURRENT_PROCESS;
}

WVM_API int wvm_AllocateUserPhysicalPages(void *hProcess, uintptr_t *NumberOfPages,
                                          uintptr_t *PageArray)
{
    if (!own_process(hProcess))
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, 0);
    if (!NumberOfPages || !PageArray)
        return WVM_FAIL(WVM_ERROR_NOACCESS, 0);
    if (!wvm__awe_backend())
        return WVM_FAIL(WVM_ERROR_NOT_SUPPORTED, 0);
    if (!*NumberOfPages)
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    uint64_t n = *NumberOfPages;
    uint32_t err = wvm__awe_allocate(&n, PageArray);
    wvm__after_call();
    if (err)
        return WVM_FAIL(err, 0);
    *NumberOfPages = (uintptr_t)n;
    return 1;
}

WVM_API int wvm_MapUserPhysicalPages(void *VirtualAddress, uintptr_t NumberOfPages,
                                     uintptr_t *PageArray)
{
    uintptr_t addr = (uintptr_t)VirtualAddress;
    if (addr % WVM_PAGE_SIZE || !NumberOfPages)
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    uint32_t err = wvm__awe_map(addr, NumberOfPages, PageArray);
    wvm__after_call();
    return err ? WVM_FAIL(err, 0) : 1;
}

WVM_API int wvm_FreeUserPhysicalPages(void *hProcess, uintptr_t *NumberOfPages,
                                      uintptr_t *PageArray)
{
    if (!own_process(hProcess))
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, 0);
    if (!NumberOfPages || !PageArray)
        return WVM_FAIL(WVM_ERROR_NOACCESS, 0);
    uint64_t n = *NumberOfPages;
    uint32_t err = wvm__awe_free(&n, PageArray);
    *NumberOfPages = (uintptr_t)n;
    wvm__after_call();
    return err ? WVM_FAIL(err, 0) : 1;
}
