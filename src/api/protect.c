/* VirtualProtect: change the protection of committed pages. A failure leaves
 * *lpflOldProtect alone, except for a range that runs past the allocation: PAGE_NOACCESS
 * (Wine's conformance test of VirtualProtectFromApp, run on Windows, checks it). */
#include "api/api.h"
#include "core/range.h"
#include "core/stash.h"
#include "fault/fault.h"

/* wvm__range_protect failed with err. ERROR_NOT_ENOUGH_MEMORY may come from the stash
 * policy's choice of mprotect for pages with data where the kernel had no mapping left
 * (core/stash.h): the call changed nothing and is made once more (the policy now stashes).
 * Cold: the successful calls pay nothing for it (bench/callgrind.sh). */
__attribute__((noinline, cold)) static int failed(uint32_t err, uint32_t old, uint32_t *out,
                                                  uintptr_t start, uintptr_t end, uint32_t prot)
{
    if (err == WVM_ERROR_NOT_ENOUGH_MEMORY && wvm__stash_policy_refused()) {
        old = 0;
        err = wvm__range_protect(start, end, prot, &old);
        wvm__after_call();
        if (!err && !wvm__user_write(out, &old, sizeof old))
            return WVM_FAIL(WVM_ERROR_NOACCESS, 0);
        if (!err)
            return 1;
    }
    if (old) /* a range past the allocation: PAGE_NOACCESS (range.h) */
        wvm__user_write(out, &old, sizeof old);
    return WVM_FAIL(err, 0);
}

WVM_API int wvm_VirtualProtect(void *lpAddress, size_t dwSize, uint32_t flNewProtect,
                               uint32_t *lpflOldProtect)
{
    uintptr_t start, end;
    uint32_t prot;
    if (!wvm__valid_prot(flNewProtect, true, &prot))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    /* NT's order: protection, the old-protection pointer, then the range (size 0 names no
     * page: rejected; Wine accepts it), then the address space (doc/windows-semantics.md) */
    if (!lpflOldProtect || !wvm__user_probe(lpflOldProtect, sizeof *lpflOldProtect))
        return WVM_FAIL(WVM_ERROR_NOACCESS, 0);
    if (!dwSize || !wvm__page_range((uintptr_t)lpAddress, dwSize, &start, &end))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    uint32_t ferr = wvm__fault_need_for(prot);
    if (ferr)
        return WVM_FAIL(ferr, 0);
    uint32_t old = 0, err = wvm__range_protect(start, end, prot, &old);
    wvm__after_call();
    if (err)
        return failed(err, old, lpflOldProtect, start, end, prot);
    if (!wvm__user_write(lpflOldProtect, &old, sizeof old))
        return WVM_FAIL(WVM_ERROR_NOACCESS, 0); /* made unwritable meanwhile: as Windows */
    return 1;
}
