/* GetWriteWatch and ResetWriteWatch. Argument errors follow Windows (checked against Wine's
 * conformance tests, kernel32/tests/virtual.c): a missing count or granularity pointer, or a
 * missing address array when one is needed, is ERROR_NOACCESS; a zero count or size, unknown
 * flags, or a range not inside one write-watch allocation is ERROR_INVALID_PARAMETER. Both
 * return 0 on success and (UINT)-1 on failure. */
#include "api/api.h"
#include "core/ww.h"

#define WW_FAIL(err) WVM_FAIL(err, ~0u)

WVM_API uint32_t wvm_GetWriteWatch(uint32_t dwFlags, void *lpBaseAddress, size_t dwRegionSize,
                                   void **lpAddresses, uintptr_t *lpdwCount,
                                   uint32_t *lpdwGranularity)
{
    uintptr_t start, end;
    if (!lpdwCount || !lpdwGranularity || !wvm__user_probe(lpdwCount, sizeof *lpdwCount) ||
        !wvm__user_probe(lpdwGranularity, sizeof *lpdwGranularity))
        return WW_FAIL(WVM_ERROR_NOACCESS);
    if (!*lpdwCount || !dwRegionSize || (dwFlags & ~WVM_WRITE_WATCH_FLAG_RESET))
        return WW_FAIL(WVM_ERROR_INVALID_PARAMETER);
    if (!lpAddresses)
        return WW_FAIL(WVM_ERROR_NOACCESS);
    if (!wvm__page_range((uintptr_t)lpBaseAddress, dwRegionSize, &start, &end))
        return WW_FAIL(WVM_ERROR_INVALID_PARAMETER);
    uint64_t n = *lpdwCount, pages = (end - start) / WVM_PAGE;
    /* Windows probes the array it may fill; at most one entry per page of the range */
    if (!wvm__user_probe(lpAddresses, (n < pages ? n : pages) * sizeof *lpAddresses))
        return WW_FAIL(WVM_ERROR_NOACCESS);
    uint32_t err = wvm__ww_get(start, end, dwFlags & WVM_WRITE_WATCH_FLAG_RESET, lpAddresses, &n);
    wvm__after_call();
    if (err)
        return WW_FAIL(err);
    *lpdwCount = (uintptr_t)n;
    *lpdwGranularity = WVM_PAGE_SIZE;
    return 0;
}

WVM_API uint32_t wvm_ResetWriteWatch(void *lpBaseAddress, size_t dwRegionSize)
{
    uintptr_t start, end;
    if (!dwRegionSize || !wvm__page_range((uintptr_t)lpBaseAddress, dwRegionSize, &start, &end))
        return WW_FAIL(WVM_ERROR_INVALID_PARAMETER);
    uint32_t err = wvm__ww_reset(start, end);
    wvm__after_call();
    return err ? WW_FAIL(err) : 0;
}
