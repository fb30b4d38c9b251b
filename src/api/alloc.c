/* VirtualAlloc: reserve, commit, or both. */
#include "api/api.h"
#include "core/awe.h"
#include "core/numa.h"
#include "core/largepage.h"
#include "core/range.h"
#include "core/placeholder.h"
#include "core/view.h"
#include "core/ww.h"
#include "fault/fault.h"

#define KNOWN_TYPES                                                                                \
    (WVM_MEM_COMMIT | WVM_MEM_RESERVE | WVM_MEM_RESET | WVM_MEM_RESET_UNDO | WVM_MEM_TOP_DOWN |    \
     WVM_MEM_WRITE_WATCH | WVM_MEM_PHYSICAL | WVM_MEM_LARGE_PAGES)

/* Every allocation flag is implemented: MEM_RESET/RESET_UNDO (reset.c), MEM_WRITE_WATCH,
 * MEM_LARGE_PAGES and MEM_PHYSICAL (backends chosen below); each feature flag needs
 * MEM_RESERVE, a parameter check made before the address space is looked at. */
#define FEATURE_TYPES (WVM_MEM_WRITE_WATCH | WVM_MEM_PHYSICAL | WVM_MEM_LARGE_PAGES)

/* The backend an allocation type asks for (NULL: plain memory), or an error: the feature
 * flags need MEM_RESERVE and exclude each other; write watch uses userfaultfd (Linux >= 6.7)
 * or the mprotect fallback; AWE windows
 * are MEM_RESERVE | MEM_PHYSICAL with PAGE_READWRITE (Linux >= 6.8); large pages
 * need MEM_RESERVE | MEM_COMMIT and an address and size that are multiples of
 * GetLargePageMinimum(). */
static uint32_t backend_for(uintptr_t addr, size_t size, uint32_t type, uint32_t prot,
                            const wvm_backend **be)
{
    const uint32_t features = WVM_MEM_WRITE_WATCH | WVM_MEM_LARGE_PAGES | WVM_MEM_PHYSICAL;
    uint32_t f = type & features;
    *be = NULL;
    if (!f)
        return 0;
    if (!(type & WVM_MEM_RESERVE) || (f & (f - 1)))
        return WVM_ERROR_INVALID_PARAMETER;
    if (f == WVM_MEM_PHYSICAL) { /* an AWE window: MEM_RESERVE (| MEM_TOP_DOWN) only, RW */
        if (type & ~(WVM_MEM_RESERVE | WVM_MEM_PHYSICAL | WVM_MEM_TOP_DOWN) ||
            prot != WVM_PAGE_READWRITE)
            return WVM_ERROR_INVALID_PARAMETER;
        *be = wvm__awe_backend();
        return *be ? 0 : WVM_ERROR_NOT_SUPPORTED;
    }
    if (f == WVM_MEM_WRITE_WATCH) {
        *be = wvm__ww_backend();
        /* the mprotect fallback catches first writes in the fault dispatcher; on either
         * backend MEM_RESET_UNDO makes writable pages read-only for a moment (core/ww.c), and
         * a store meanwhile waits there */
        return wvm__fault_need();
    }
    size_t min = wvm_GetLargePageMinimum();
    if (!(type & WVM_MEM_COMMIT) || (min && (addr % min || size % min)))
        return WVM_ERROR_INVALID_PARAMETER;
    *be = wvm__largepage_backend();
    return *be ? 0 : WVM_ERROR_NOT_SUPPORTED;
}

/* node: VirtualAllocExNuma's preferred node for the new allocation, or -1 (core/numa.h); a
 * NUMA reservation is never an owned one (api/numa.c passes no accounting). */
static void *reserve(uintptr_t addr, size_t size, uint32_t type, uint32_t prot, int node,
                     wvm_acct *acct, uint32_t *err)
{
    const wvm_backend *be;
    if ((*err = backend_for(addr, size, type, prot, &be)))
        return NULL;
    uintptr_t base = addr & ~(uintptr_t)(WVM_GRAN - 1), start, end;
    if (addr && !wvm__page_range(addr, size, &start, &end)) {
        *err = WVM_ERROR_INVALID_PARAMETER;
        return NULL;
    }
    if (!addr) {
        if (size > wvm__max_app_address() + 1 - WVM_MIN_ADDR) {
            *err = WVM_ERROR_INVALID_PARAMETER; /* larger than the user address space */
            return NULL;
        }
        end = (size + WVM_PAGE - 1) & ~(size_t)(WVM_PAGE - 1);
    }
    uintptr_t got;
    uint32_t commit = (type & WVM_MEM_COMMIT) ? prot : 0;
    if (node >= 0) {
        wvm_reserve_req r = {.want = base,
                             .size = end - base,
                             .type = type | WVM_TYPE_NUMA,
                             .prot = prot,
                             .commit = commit,
                             .be = be,
                             .fill = wvm__numa_fill,
                             .ctx = wvm__numa_ctx((uint32_t)node)};
        *err = wvm__space_reserve_req(&r, &got);
    } else {
        *err = wvm__range_reserve(base, end - base, type, prot, commit, be, acct, &got);
    }
    if (*err)
        return NULL;
    return (void *)got;
}

void *wvm__virtual_alloc(void *lpAddress, size_t dwSize, uint32_t flAllocationType,
                         uint32_t flProtect, int node, wvm_acct *acct)
{
    uintptr_t addr = (uintptr_t)lpAddress;
    uint32_t type = flAllocationType, prot, err = 0;
    if (type & (WVM_MEM_RESET | WVM_MEM_RESET_UNDO))
        return wvm__virtual_reset(lpAddress, dwSize, type, flProtect, acct); /* api/reset.c */
    bool commit_only = !(type & WVM_MEM_RESERVE) && addr; /* a view may be copy-on-write */
    if (!dwSize || (type & ~KNOWN_TYPES) || !(type & (WVM_MEM_COMMIT | WVM_MEM_RESERVE)) ||
        !wvm__valid_prot(flProtect, commit_only, &prot) ||
        ((type & FEATURE_TYPES) && !(type & WVM_MEM_RESERVE)))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    if (addr && (addr < WVM_MIN_ADDR || addr > wvm__max_app_address()))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    if ((err = wvm__fault_need_for(prot)))
        return WVM_FAIL(err, NULL);
    void *result;
    if ((type & WVM_MEM_RESERVE) || !addr) {
        result = reserve(addr, dwSize, type, prot, node, acct, &err);
    } else {
        uintptr_t start, end;
        if (!wvm__page_range(addr, dwSize, &start, &end))
            return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
        err = wvm__range_commit(start, end, prot, acct);
        result = err ? NULL : (void *)start;
    }
    wvm__after_call();
    return err ? WVM_FAIL(err, NULL) : result;
}

WVM_API void *wvm_VirtualAlloc(void *lpAddress, size_t dwSize, uint32_t flAllocationType,
                               uint32_t flProtect)
{
    return wvm__virtual_alloc(lpAddress, dwSize, flAllocationType, flProtect, -1, NULL);
}
