/* VirtualAllocFromApp, VirtualProtectFromApp: the app-container variants. They never create
 * writable-and-executable pages: VirtualAllocFromApp refuses every executable protection,
 * VirtualProtectFromApp refuses PAGE_EXECUTE_READWRITE / PAGE_EXECUTE_WRITECOPY always and
 * PAGE_EXECUTE / PAGE_EXECUTE_READ unless the process opted into dynamic code (the
 * codeGeneration capability: WINVMEM_DYNAMIC_CODE=1 or wvm_set_dynamic_code_allowed(1)).
 * Refusals answer ERROR_INVALID_PARAMETER; success leaves the last error alone. */
#include "api/api.h"
#include "prim/options.h"

#define EXEC_RW (WVM_PAGE_EXECUTE_READWRITE | WVM_PAGE_EXECUTE_WRITECOPY)
#define EXEC_RO (WVM_PAGE_EXECUTE | WVM_PAGE_EXECUTE_READ)

WVM_API void *wvm_VirtualAllocFromApp(void *BaseAddress, size_t Size, uint32_t AllocationType,
                                      uint32_t Protection)
{
    if (Protection & (EXEC_RW | EXEC_RO))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    return wvm_VirtualAlloc(BaseAddress, Size, AllocationType, Protection);
}

WVM_API int wvm_VirtualProtectFromApp(void *Address, size_t Size, uint32_t NewProtection,
                                      uint32_t *OldProtection)
{
    if ((NewProtection & EXEC_RW) ||
        ((NewProtection & EXEC_RO) && !wvm__option(WVM_OPT_DYNAMIC_CODE)))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    return wvm_VirtualProtect(Address, Size, NewProtection, OldProtection);
}

WVM_API int wvm_set_dynamic_code_allowed(int allowed)
{
    return wvm__option_set(WVM_OPT_DYNAMIC_CODE, allowed != 0) != 0;
}
