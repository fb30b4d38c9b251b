/* VirtualProtect: change the protection of committed pages. A failure leaves
 * *lpflOldProtect alone, except for a range that runs past the allocation: PAGE_NOACCESS
 * (Wine's conformance test of VirtualProtectFromApp, run on Windows, checks it). */
#include "api/api.h"
#include "core/view.h"
#include "fault/fault.h"

/* The caching modifiers belong to the memory, not to the call: VirtualProtect keeps the page's
 * PAGE_NOCACHE / PAGE_WRITECOMBINE and ignores new ones (Windows 8 and later; Wine's
 * conformance tests check it). */
#define CACHING (WVM_PAGE_NOCACHE | WVM_PAGE_WRITECOMBINE)

static uint32_t keep_caching(uint32_t old, void *ctx)
{
    uint32_t prot = *(uint32_t *)ctx;
    return (old & ~WVM_ATTR_PROT_MASK) | (prot & ~CACHING) | (old & CACHING);
}

static int any_uncommitted(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    (void)first;
    (void)count;
    (void)ctx;
    return !wvm__attr_committed(attr);
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
    uint32_t ferr = (prot & WVM_PAGE_GUARD) ? wvm__fault_need() : 0;
    if (ferr)
        return WVM_FAIL(ferr, 0);
    wvm_alloc *a = wvm__space_acquire(start);
    if (!a)
        return WVM_FAIL(WVM_ERROR_INVALID_ADDRESS, 0);
    wvm_snap *s = wvm__alloc_snap(a);
    uint64_t first = (start - s->base) / WVM_PAGE, count = (end - start) / WVM_PAGE;
    uint32_t err = WVM_ERROR_INVALID_ADDRESS, old = 0;
    bool copy_on_write = prot & (WVM_PAGE_WRITECOPY | WVM_PAGE_EXECUTE_WRITECOPY);
    bool past = end - s->base > s->size;
    if (end - s->base <= s->size && wvm__alloc_is_view(a)) {
        err = wvm__view_protect(a, first, count, prot, &old); /* Windows' rules for views */
    } else if (end - s->base <= s->size && copy_on_write) {
        err = WVM_ERROR_INVALID_PARAMETER; /* private memory has no copy-on-write */
    } else if (end - s->base <= s->size &&
               !wvm__snap_each(s, first, count, any_uncommitted, NULL)) {
        old = wvm__snap_attr(s, first) & WVM_ATTR_PROT_MASK;
        err = wvm__alloc_protect_with(a, first, count, keep_caching, &prot);
    }
    wvm__space_unlock(a);
    wvm__after_call();
    if (err && past) { /* Windows answers PAGE_NOACCESS for a range past the allocation */
        old = WVM_PAGE_NOACCESS;
        wvm__user_write(lpflOldProtect, &old, sizeof old);
    }
    if (err)
        return WVM_FAIL(err, 0);
    if (!wvm__user_write(lpflOldProtect, &old, sizeof old))
        return WVM_FAIL(WVM_ERROR_NOACCESS, 0); /* made unwritable meanwhile: as Windows */
    return 1;
}
