/* DiscardVirtualMemory, OfferVirtualMemory, ReclaimVirtualMemory (core/offer.c says what they
 * do). They return the error instead of setting the thread's last error, as on Windows.
 *
 * Arguments: the address must be page-aligned and the size a non-zero multiple of the page
 * size (Microsoft documents both as requirements; winvmem refuses anything else with
 * ERROR_INVALID_PARAMETER rather than rounding); Offer's priority must be one of the four
 * OFFER_PRIORITY values. The range must lie inside one winvmem allocation, else
 * ERROR_INVALID_ADDRESS (memory winvmem did not allocate included). */
#include "api/api.h"
#include "core/offer.h"

typedef uint32_t (*range_op)(uintptr_t start, uintptr_t end);

static uint32_t run(const void *addr, size_t size, range_op op)
{
    uintptr_t start = (uintptr_t)addr, end;
    if (!size || start % WVM_PAGE || size % WVM_PAGE || !wvm__page_range(start, size, &start, &end))
        return WVM_ERROR_INVALID_PARAMETER;
    uint32_t err = op(start, end);
    wvm__after_call();
    return err;
}

WVM_API uint32_t wvm_DiscardVirtualMemory(void *VirtualAddress, size_t Size)
{
    return run(VirtualAddress, Size, wvm__range_discard);
}

WVM_API uint32_t wvm_OfferVirtualMemory(void *VirtualAddress, size_t Size, uint32_t Priority)
{
    if (Priority < WVM_VM_OFFER_PRIORITY_VERY_LOW || Priority > WVM_VM_OFFER_PRIORITY_NORMAL)
        return WVM_ERROR_INVALID_PARAMETER;
    return run(VirtualAddress, Size, wvm__range_offer);
}

WVM_API uint32_t wvm_ReclaimVirtualMemory(const void *VirtualAddress, size_t Size)
{
    return run(VirtualAddress, Size, wvm__range_reclaim);
}
