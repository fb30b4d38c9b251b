/* VirtualQuery: lock-free; safe to call while other threads are suspended anywhere. */
#include "api/api.h"
#include "core/query.h"

WVM_API size_t wvm_VirtualQuery(const void *lpAddress, wvm_MEMORY_BASIC_INFORMATION *lpBuffer,
                                size_t dwLength)
{
    uintptr_t addr = (uintptr_t)lpAddress;
    if (addr > wvm__max_app_address())
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    if (dwLength < sizeof *lpBuffer)
        return WVM_FAIL(WVM_ERROR_BAD_LENGTH, 0);
    if (!lpBuffer)
        return WVM_FAIL(WVM_ERROR_NOACCESS, 0);
    wvm_MEMORY_BASIC_INFORMATION m;
    uint32_t err = wvm__query(addr, &m);
    if (err)
        return WVM_FAIL(err, 0);
    if (!wvm__user_write(lpBuffer, &m, sizeof m))
        return WVM_FAIL(WVM_ERROR_NOACCESS, 0);
    return sizeof m;
}
