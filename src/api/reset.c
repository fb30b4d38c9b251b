/* VirtualAlloc(MEM_RESET) and VirtualAlloc(MEM_RESET_UNDO). Either flag must stand alone; the
 * protection must be valid but is otherwise ignored; the range must lie inside one
 * allocation (else ERROR_INVALID_ADDRESS). Reserved pages in the range are left alone.
 *
 * A failed MEM_RESET_UNDO (some reset page lost its contents; those pages now read zero)
 * answers ERROR_INVALID_ADDRESS: Microsoft documents only that the call fails, and Wine does
 * not implement the flag, so the exact code could not be checked against Windows. */
#include "api/api.h"
#include "core/range.h"

void *wvm__virtual_reset(void *lpAddress, size_t dwSize, uint32_t type, uint32_t flProtect,
                         wvm_acct *acct)
{
    uintptr_t start, end;
    uint32_t prot;
    if ((type != WVM_MEM_RESET && type != WVM_MEM_RESET_UNDO) || !dwSize || !lpAddress ||
        !wvm__valid_prot(flProtect, false, &prot) ||
        !wvm__page_range((uintptr_t)lpAddress, dwSize, &start, &end))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    uint32_t err = wvm__range_reset(start, end, type == WVM_MEM_RESET_UNDO, acct);
    wvm__after_call();
    return err ? WVM_FAIL(err, NULL) : (void *)start;
}
