/* VirtualAlloc(MEM_RESET) and VirtualAlloc(MEM_RESET_UNDO). Either flag must stand alone; the
 * protection must be valid but is otherwise ignored; the range must lie inside one
 * allocation (else ERROR_INVALID_ADDRESS). Reserved pages in the range are left alone.
 *
 * A failed MEM_RESET_UNDO (some reset page lost its contents; those pages now read zero)
 * answers ERROR_INVALID_ADDRESS: Microsoft documents only that the call fails, and Wine does
 * not implement the flag, so the exact code could not be checked against Windows. */
#include "api/api.h"
#include "core/residency.h"
#include "core/view.h"

void *wvm__virtual_reset(void *lpAddress, size_t dwSize, uint32_t type, uint32_t flProtect)
{
    uintptr_t start, end;
    uint32_t prot;
    if ((type != WVM_MEM_RESET && type != WVM_MEM_RESET_UNDO) || !dwSize || !lpAddress ||
        !wvm__valid_prot(flProtect, false, &prot) ||
        !wvm__page_range((uintptr_t)lpAddress, dwSize, &start, &end))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    wvm_alloc *a = wvm__space_acquire(start);
    if (!a)
        return WVM_FAIL(WVM_ERROR_INVALID_ADDRESS, NULL);
    wvm_snap *s = wvm__alloc_snap(a);
    uint32_t err = WVM_ERROR_INVALID_ADDRESS;
    uint64_t first = (start - s->base) / WVM_PAGE, count = (end - start) / WVM_PAGE;
    if (end - s->base <= s->size && wvm__alloc_is_view(a))
        err = 0; /* a section's pages are shared: nothing to drop (Windows succeeds too) */
    else if (end - s->base <= s->size)
        err = type == WVM_MEM_RESET ? wvm__alloc_reset(a, first, count)
                                    : wvm__alloc_reset_undo(a, first, count);
    wvm__space_unlock(a);
    wvm__after_call();
    return err ? WVM_FAIL(err, NULL) : (void *)start;
}
