/* QueryWorkingSetEx (psapi.h) for the current process. Windows' argument rules (Wine's
 * conformance tests, psapi_main.c): a buffer shorter than one entry is ERROR_BAD_LENGTH; a
 * length that is not a multiple of the entry size is accepted and the partial entry ignored;
 * each entry's VirtualAddress names the page holding it (any alignment) and is left as it
 * was. A buffer the caller cannot read or write: ERROR_NOACCESS
 * (entries before the fault may have been answered). Addresses outside the user address space
 * are answered "not valid", as free memory is. */
#include "api/api.h"
#include "core/wsinfo.h"

WVM_API int wvm_QueryWorkingSetEx(void *hProcess, void *pv, uint32_t cb)
{
    wvm_PSAPI_WORKING_SET_EX_INFORMATION e[WVM_WS_BATCH];
    uintptr_t addrs[WVM_WS_BATCH];
    uint64_t blocks[WVM_WS_BATCH];
    if (hProcess != WVM_CURRENT_PROCESS)
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, 0);
    size_t n = cb / sizeof *e;
    if (!n)
        return WVM_FAIL(WVM_ERROR_BAD_LENGTH, 0);
    wvm_PSAPI_WORKING_SET_EX_INFORMATION *user = pv;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < WVM_WS_BATCH ? n - done : WVM_WS_BATCH;
        if (!wvm__user_read(e, user + done, k * sizeof *e))
            return WVM_FAIL(WVM_ERROR_NOACCESS, 0);
        for (size_t i = 0; i < k; i++)
            addrs[i] = (uintptr_t)e[i].VirtualAddress;
        uint32_t err = wvm__working_set_ex(addrs, blocks, k);
        if (err)
            return WVM_FAIL(err, 0);
        for (size_t i = 0; i < k; i++)
            e[i].VirtualAttributes.Flags = blocks[i];
        /* one copy per batch (a copy may be a system call); the addresses go back unchanged */
        if (!wvm__user_write(user + done, e, k * sizeof *e))
            return WVM_FAIL(WVM_ERROR_NOACCESS, 0);
        done += k;
    }
    return 1;
}
