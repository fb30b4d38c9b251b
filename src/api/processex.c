/* VirtualAllocEx, VirtualFreeEx, VirtualProtectEx, VirtualQueryEx: the calling process only.
 * winvmem has no handles to other processes, so any handle but the current-process
 * pseudo-handle is not a handle here: ERROR_INVALID_HANDLE, as Windows reports for a value that
 * names no open handle. The check comes before any other argument's. */
#include "api/api.h"

static bool current(const void *hProcess)
{
    return hProcess == WVM_CURRENT_PROCESS;
}

WVM_API void *wvm_VirtualAllocEx(void *hProcess, void *lpAddress, size_t dwSize,
                                 uint32_t flAllocationType, uint32_t flProtect)
{
    if (!current(hProcess))
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, NULL);
    return wvm_VirtualAlloc(lpAddress, dwSize, flAllocationType, flProtect);
}

WVM_API int wvm_VirtualFreeEx(void *hProcess, void *lpAddress, size_t dwSize, uint32_t dwFreeType)
{
    if (!current(hProcess))
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, 0);
    return wvm_VirtualFree(lpAddress, dwSize, dwFreeType);
}

WVM_API int wvm_VirtualProtectEx(void *hProcess, void *lpAddress, size_t dwSize,
                                 uint32_t flNewProtect, uint32_t *lpflOldProtect)
{
    if (!current(hProcess))
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, 0);
    return wvm_VirtualProtect(lpAddress, dwSize, flNewProtect, lpflOldProtect);
}

WVM_API size_t wvm_VirtualQueryEx(void *hProcess, const void *lpAddress,
                                  wvm_MEMORY_BASIC_INFORMATION *lpBuffer, size_t dwLength)
{
    if (!current(hProcess))
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, 0);
    return wvm_VirtualQuery(lpAddress, lpBuffer, dwLength);
}
