/* VirtualFree: decommit pages, or release a whole allocation. Addresses are rounded down to
 * their page first: releasing at base + 0x10 releases the allocation at base, as on Windows. */
#include "api/api.h"
#include "core/range.h"
#include "core/placeholder.h"

uint32_t wvm__virtual_decommit(uintptr_t addr, size_t size, wvm_acct *acct)
{
    uintptr_t start = addr & ~(uintptr_t)(WVM_PAGE - 1), end = 0;
    if (size && !wvm__page_range(addr, size, &start, &end))
        return WVM_ERROR_INVALID_PARAMETER; /* the range is checked before the address space */
    return wvm__range_decommit(start, end, acct); /* size 0: the whole allocation */
}

WVM_API int wvm_VirtualFree(void *lpAddress, size_t dwSize, uint32_t dwFreeType)
{
    uintptr_t addr = (uintptr_t)lpAddress;
    uint32_t err;
    if (addr > wvm__max_app_address())
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    if (dwFreeType == WVM_MEM_RELEASE) {
        if (dwSize)
            return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
        err = wvm__virtual_release(addr, 0, WVM_MEM_RELEASE); /* views: ERROR_INVALID_PARAMETER */
    } else if (dwFreeType == (WVM_MEM_RELEASE | WVM_MEM_PRESERVE_PLACEHOLDER) ||
               dwFreeType == (WVM_MEM_RELEASE | WVM_MEM_COALESCE_PLACEHOLDERS)) {
        err = wvm__virtual_release(addr, dwSize, dwFreeType);
    } else if (dwFreeType == WVM_MEM_DECOMMIT) {
        err = wvm__virtual_decommit(addr, dwSize, NULL);
    } else {
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    }
    wvm__after_call();
    return err ? WVM_FAIL(err, 0) : 1;
}
