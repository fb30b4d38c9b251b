/* VirtualFree: decommit pages, or release a whole allocation. Addresses are rounded down to
 * their page first: releasing at base + 0x10 releases the allocation at base, as on Windows. */
#include "api/api.h"
#include "core/placeholder.h"

static uint32_t decommit(uintptr_t addr, size_t size)
{
    uintptr_t start, end;
    if (size && !wvm__page_range(addr, size, &start, &end))
        return WVM_ERROR_INVALID_PARAMETER; /* the range is checked before the address space */
    wvm_alloc *a = wvm__space_acquire(addr & ~(uintptr_t)(WVM_PAGE - 1));
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    wvm_snap *s = wvm__alloc_snap(a);
    uint32_t err = 0;
    if (wvm__snap_is_placeholder(s)) {
        err = WVM_ERROR_INVALID_ADDRESS; /* nothing to decommit: it is replaced or freed */
    } else if (!size) { /* size 0: the whole allocation, only when addr is in its first page */
        start = s->base;
        end = s->base + s->size;
        if ((addr & ~(uintptr_t)(WVM_PAGE - 1)) != s->base)
            err = WVM_ERROR_INVALID_ADDRESS;
    } else if (end - s->base > s->size) {
        err = WVM_ERROR_INVALID_PARAMETER; /* NT: STATUS_UNABLE_TO_FREE_VM */
    }
    if (!err)
        err = wvm__alloc_decommit(a, (start - s->base) / WVM_PAGE, (end - start) / WVM_PAGE);
    wvm__space_unlock(a);
    return err;
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
        err = decommit(addr, dwSize);
    } else {
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    }
    wvm__after_call();
    return err ? WVM_FAIL(err, 0) : 1;
}
