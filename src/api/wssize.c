/* GetProcessWorkingSetSize(Ex), SetProcessWorkingSetSize(Ex) for the current process
 * (core/wsquota.h: the minimum is VirtualLock's quota plus a small overhead).
 *
 * Windows' rules (Microsoft's documentation of SetProcessWorkingSetSizeEx): the minimum must be
 * greater than zero and at most the maximum; a minimum below 20 pages becomes 20 pages; the
 * maximum must be at least 13 pages and below the machine's pages minus 512; (SIZE_T)-1 for
 * both trims the working set and changes no limit. A flag word naming both ENABLE and DISABLE
 * of one limit, or an unknown bit, is ERROR_INVALID_PARAMETER. Limits the machine cannot hold:
 * ERROR_INVALID_PARAMETER (NT's STATUS_BAD_WORKING_SET_LIMIT). A minimum whose quota needs a
 * higher RLIMIT_MEMLOCK than the process may set: ERROR_PRIVILEGE_NOT_HELD (Windows:
 * SE_INC_WORKING_SET_NAME). The hard limits (QUOTA_LIMITS_HARDWS_MIN_ENABLE, _MAX_ENABLE)
 * cannot be enforced on Linux, which has no per-process resident floor or ceiling:
 * ERROR_NOT_SUPPORTED, nothing changed (doc/windows-semantics.md). */
#include "api/api.h"
#include "core/wsquota.h"
#include "prim/linux/prim.h"

#define ALL_FLAGS                                                                                  \
    (WVM_QUOTA_LIMITS_HARDWS_MIN_ENABLE | WVM_QUOTA_LIMITS_HARDWS_MIN_DISABLE |                    \
     WVM_QUOTA_LIMITS_HARDWS_MAX_ENABLE | WVM_QUOTA_LIMITS_HARDWS_MAX_DISABLE)

/* Every out-parameter is required (a NULL or unwritable one: ERROR_NOACCESS). */
static int get(void *hProcess, size_t *min_out, size_t *max_out, uint32_t *flags_out,
               bool with_flags)
{
    if (hProcess != WVM_CURRENT_PROCESS)
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, 0);
    uint64_t min, max;
    uint32_t flags;
    wvm__ws_get(&min, &max, &flags);
    size_t mn = (size_t)min, mx = (size_t)max;
    if (!wvm__user_write(min_out, &mn, sizeof mn) || !wvm__user_write(max_out, &mx, sizeof mx) ||
        (with_flags && !wvm__user_write(flags_out, &flags, sizeof flags)))
        return WVM_FAIL(WVM_ERROR_NOACCESS, 0);
    return 1;
}

WVM_API int wvm_GetProcessWorkingSetSizeEx(void *hProcess, size_t *lpMinimumWorkingSetSize,
                                           size_t *lpMaximumWorkingSetSize, uint32_t *Flags)
{
    return get(hProcess, lpMinimumWorkingSetSize, lpMaximumWorkingSetSize, Flags, true);
}

WVM_API int wvm_GetProcessWorkingSetSize(void *hProcess, size_t *lpMinimumWorkingSetSize,
                                         size_t *lpMaximumWorkingSetSize)
{
    return get(hProcess, lpMinimumWorkingSetSize, lpMaximumWorkingSetSize, NULL, false);
}

static bool conflicting(uint32_t flags)
{
    const uint32_t min_both =
        WVM_QUOTA_LIMITS_HARDWS_MIN_ENABLE | WVM_QUOTA_LIMITS_HARDWS_MIN_DISABLE;
    const uint32_t max_both =
        WVM_QUOTA_LIMITS_HARDWS_MAX_ENABLE | WVM_QUOTA_LIMITS_HARDWS_MAX_DISABLE;
    return (flags & ~ALL_FLAGS) || (flags & min_both) == min_both || (flags & max_both) == max_both;
}

WVM_API int wvm_SetProcessWorkingSetSizeEx(void *hProcess, size_t dwMinimumWorkingSetSize,
                                           size_t dwMaximumWorkingSetSize, uint32_t Flags)
{
    if (hProcess != WVM_CURRENT_PROCESS)
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, 0);
    if (conflicting(Flags))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    uint32_t err;
    if (dwMinimumWorkingSetSize == SIZE_MAX && dwMaximumWorkingSetSize == SIZE_MAX) {
        err = wvm__ws_trim();
        return err ? WVM_FAIL(err, 0) : 1;
    }
    uint64_t min = dwMinimumWorkingSetSize, max = dwMaximumWorkingSetSize;
    uint64_t machine = wvm__caps()->total_ram / WVM_PAGE;
    uint64_t ceiling = machine > 512 ? (machine - 512) * WVM_PAGE : 0;
    if (!min || min > max || max < (uint64_t)WVM_WS_MAX_FLOOR * WVM_PAGE || max >= ceiling)
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    if (Flags & (WVM_QUOTA_LIMITS_HARDWS_MIN_ENABLE | WVM_QUOTA_LIMITS_HARDWS_MAX_ENABLE))
        return WVM_FAIL(WVM_ERROR_NOT_SUPPORTED, 0);
    if (min < (uint64_t)WVM_WS_MIN_FLOOR * WVM_PAGE)
        min = (uint64_t)WVM_WS_MIN_FLOOR * WVM_PAGE;
    if (min > max)
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0); /* the floor passed the maximum */
    err = wvm__ws_set(min, max, Flags);
    return err ? WVM_FAIL(err, 0) : 1;
}

WVM_API int wvm_SetProcessWorkingSetSize(void *hProcess, size_t dwMinimumWorkingSetSize,
                                         size_t dwMaximumWorkingSetSize)
{
    return wvm_SetProcessWorkingSetSizeEx(hProcess, dwMinimumWorkingSetSize,
                                          dwMaximumWorkingSetSize, 0);
}
