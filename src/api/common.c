#include "api/api.h"
#include "prim/linux/prim.h"

/* Windows x64's value. Linux could hand out up to 0x7FFFFFFFEFFF, but following Windows keeps
 * programs' address arithmetic and the differential test identical; the 60 KiB above it are
 * never used by winvmem and VirtualQuery there fails as on Windows. */
uintptr_t wvm__max_app_address(void)
{
    uintptr_t linux_max = wvm__caps()->user_limit - 1;
    return linux_max < 0x7FFFFFFEFFFFu ? linux_max : 0x7FFFFFFEFFFFu;
}

bool wvm__valid_prot(uint32_t prot, bool for_protect, uint32_t *clean)
{
    const uint32_t modifiers = WVM_PAGE_GUARD | WVM_PAGE_NOCACHE | WVM_PAGE_WRITECOMBINE;
    uint32_t base = prot & 0xFFu, mods = prot & modifiers;
    uint32_t extra = prot & ~(0xFFu | modifiers);
    if (!base || (base & (base - 1)))
        return false; /* none, or two base protections */
    if (extra & ~WVM_PAGE_TARGETS_INVALID)
        return false;
    if (extra && !(base & (WVM_PAGE_EXECUTE | WVM_PAGE_EXECUTE_READ | WVM_PAGE_EXECUTE_READWRITE |
                           WVM_PAGE_EXECUTE_WRITECOPY)))
        return false; /* CFG target flags only make sense on executable pages */
    if (!for_protect && (base & (WVM_PAGE_WRITECOPY | WVM_PAGE_EXECUTE_WRITECOPY)))
        return false; /* copy-on-write needs a file mapping */
    if ((mods & WVM_PAGE_NOCACHE) && (mods & (WVM_PAGE_GUARD | WVM_PAGE_WRITECOMBINE)))
        return false;
    if ((mods & WVM_PAGE_WRITECOMBINE) && (mods & WVM_PAGE_GUARD))
        return false;
    if (mods && base == WVM_PAGE_NOACCESS)
        return false;
    *clean = base | mods;
    return true;
}

bool wvm__page_range(uintptr_t addr, size_t size, uintptr_t *start, uintptr_t *end)
{
    uintptr_t last = addr + size - 1;
    if (last < addr || last > wvm__max_app_address())
        return false;
    *start = addr & ~(uintptr_t)(WVM_PAGE - 1);
    *end = (last | (WVM_PAGE - 1)) + 1;
    return true;
}
