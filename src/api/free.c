/* VirtualFree: decommit pages, or release a whole allocation. */
#include "api/api.h"

static uint32_t decommit(uintptr_t addr, size_t size)
{
    wvm_alloc *a = wvm__space_acquire(addr & ~(uintptr_t)(WVM_PAGE - 1));
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    wvm_snap *s = wvm__alloc_snap(a);
    uintptr_t start, end;
    uint32_t err = 0;
    if (!size) { /* size 0: from lpAddress to the end of the allocation, only at its base */
        start = addr;
        end = s->base + s->size;
        if (addr != s->base)
            err = WVM_ERROR_INVALID_ADDRESS;
    } else if (!wvm__page_range(addr, size, &start, &end)) {
        err = WVM_ERROR_INVALID_PARAMETER;
    } else if (end - s->base > s->size) {
        err = WVM_ERROR_INVALID_ADDRESS;
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
    if (dwFreeType == WVM_MEM_RELEASE) {
        if (dwSize)
            return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
        err = wvm__space_release(addr);
        if (err == WVM_ERROR_INVALID_PARAMETER) /* inside an allocation, not at its base */
            err = WVM_ERROR_INVALID_ADDRESS;
    } else if (dwFreeType == WVM_MEM_DECOMMIT) {
        err = decommit(addr, dwSize);
    } else {
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    }
    wvm__after_call();
    return err ? WVM_FAIL(err, 0) : 1;
}
