/* VirtualLock, VirtualUnlock.
 *
 * Every page must be committed and accessible: the first page that is not fails the call
 * with ERROR_NOACCESS (Windows probes the pages and gets STATUS_ACCESS_VIOLATION; the docs:
 * "All pages in the specified region must be committed. Memory protected with PAGE_NOACCESS
 * cannot be locked."), the first armed guard page with STATUS_GUARD_PAGE_VIOLATION as the
 * last error, and that page's guard is consumed. Unlocking pages that are not all locked:
 * ERROR_NOT_LOCKED. Locks beyond RLIMIT_MEMLOCK: ERROR_WORKING_SET_QUOTA. The range must lie
 * in one winvmem allocation (else ERROR_INVALID_ADDRESS); memory winvmem did not allocate is
 * locked with plain mlock/munlock (no ERROR_NOT_LOCKED check: the kernel keeps no per-page
 * answer we could ask cheaply). Decommit and release drop the locks of their pages. */
#include <errno.h>

#include "api/api.h"
#include "core/range.h"
#include "prim/linux/prim_residency.h"

static int foreign(uintptr_t start, uintptr_t end, bool lock)
{
    int e = lock ? wvm__prim_mlock((void *)start, end - start)
                 : wvm__prim_munlock((void *)start, end - start);
    if (!e)
        return 1;
    if (e == ENOMEM && !lock)
        return WVM_FAIL(WVM_ERROR_NOACCESS, 0);
    return WVM_FAIL(e == ENOMEM || e == EAGAIN || e == EPERM ? WVM_ERROR_WORKING_SET_QUOTA
                                                             : WVM_ERROR_NOACCESS,
                    0);
}

static int run(void *lpAddress, size_t dwSize, bool lock)
{
    uintptr_t start, end;
    if (!dwSize)
        dwSize = 1; /* a zero size still names the page holding the address */
    if (!wvm__page_range((uintptr_t)lpAddress, dwSize, &start, &end))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    if (start < WVM_MIN_ADDR) /* the first 64 KiB are never mapped on Windows */
        return WVM_FAIL(WVM_ERROR_NOACCESS, 0);
    uint32_t err = wvm__range_lock(start, end, lock);
    if (err == WVM_NOT_OURS)
        return foreign(start, end, lock);
    wvm__after_call();
    return err ? WVM_FAIL(err, 0) : 1;
}

WVM_API int wvm_VirtualLock(void *lpAddress, size_t dwSize)
{
    return run(lpAddress, dwSize, true);
}

WVM_API int wvm_VirtualUnlock(void *lpAddress, size_t dwSize)
{
    return run(lpAddress, dwSize, false);
}
