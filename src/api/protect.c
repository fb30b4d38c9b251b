/* VirtualProtect: change the protection of committed pages. A failure leaves
 * *lpflOldProtect alone, except for a range that runs past the allocation: PAGE_NOACCESS
 * (Wine's conformance test of VirtualProtectFromApp, run on Windows, checks it). */
#include "api/api.h"
#include "core/range.h"
#include "fault/fault.h"

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
    if (err && old) /* a range past the allocation: PAGE_NOACCESS (range.h) */
        wvm__user_write(lpflOldProtect, &old, sizeof old);
    if (err)
        return WVM_FAIL(err, 0);
    if (!wvm__user_write(lpflOldProtect, &old, sizeof old))
        return WVM_FAIL(WVM_ERROR_NOACCESS, 0); /* made unwritable meanwhile: as Windows */
    return 1;
}
