/* GetWriteWatch and ResetWriteWatch. Argument errors follow Windows (checked against Wine's
 * conformance tests, kernel32/tests/virtual.c): a missing count or granularity pointer, or a
 * missing address array when one is needed, is ERROR_NOACCESS; a zero count or size, unknown
 * flags, or a range not inside one write-watch allocation is ERROR_INVALID_PARAMETER. Both
 * return 0 on success and (UINT)-1 on failure. */
#include "api/api.h"
#include "core/meta.h"
#include "core/ww.h"

#define WW_FAIL(err) WVM_FAIL(err, ~0u)

/* The pages are collected under the allocation's lock into memory of ours and copied out
 * after: the caller's array may lie in memory another thread decommits (ERROR_NOACCESS, not a
 * crash), or in a write-watch allocation whose first write needs that lock. A copy that fails
 * after a reset marks the pages written again: the failed call changed nothing. */
WVM_API uint32_t wvm_GetWriteWatch(uint32_t dwFlags, void *lpBaseAddress, size_t dwRegionSize,
                                   void **lpAddresses, uintptr_t *lpdwCount,
                                   uint32_t *lpdwGranularity)
{
    uintptr_t start, end, n;
    if (!lpdwCount || !lpdwGranularity || !wvm__user_probe(lpdwCount, sizeof *lpdwCount) ||
        !wvm__user_probe(lpdwGranularity, sizeof *lpdwGranularity) ||
        !wvm__user_read(&n, lpdwCount, sizeof n))
        return WW_FAIL(WVM_ERROR_NOACCESS);
    if (!n || !dwRegionSize || (dwFlags & ~WVM_WRITE_WATCH_FLAG_RESET))
        return WW_FAIL(WVM_ERROR_INVALID_PARAMETER);
    if (!lpAddresses)
        return WW_FAIL(WVM_ERROR_NOACCESS);
    if (!wvm__page_range((uintptr_t)lpBaseAddress, dwRegionSize, &start, &end))
        return WW_FAIL(WVM_ERROR_INVALID_PARAMETER);
    uint64_t pages = (end - start) / WVM_PAGE, cap = n < pages ? n : pages;
    /* Windows probes the array it may fill; at most one entry per page of the range */
    if (!wvm__user_probe(lpAddresses, cap * sizeof *lpAddresses))
        return WW_FAIL(WVM_ERROR_NOACCESS);
    void *inline_buf[256], **buf = inline_buf;
    if (cap > sizeof inline_buf / sizeof *inline_buf &&
        !(buf = wvm__meta_alloc(cap * sizeof *buf))) /* not the C heap: fault.h */
        return WW_FAIL(WVM_ERROR_NOT_ENOUGH_MEMORY);
    bool reset = dwFlags & WVM_WRITE_WATCH_FLAG_RESET;
    uint64_t got = cap;
    uint32_t err = wvm__ww_get(start, end, reset, buf, &got);
    uintptr_t count = (uintptr_t)got;
    uint32_t granularity = WVM_PAGE_SIZE;
    if (!err && !(wvm__user_write(lpAddresses, buf, got * sizeof *buf) &&
                  wvm__user_write(lpdwCount, &count, sizeof count) &&
                  wvm__user_write(lpdwGranularity, &granularity, sizeof granularity))) {
        if (reset)
            wvm__ww_mark_written(start, end, buf, got);
        err = WVM_ERROR_NOACCESS;
    }
    if (buf != inline_buf)
        wvm__meta_free(buf, cap * sizeof *buf);
    wvm__after_call();
    return err ? WW_FAIL(err) : 0;
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
