/* FlushInstructionCache for the current process. x86-64 keeps instruction fetch coherent
 * with stores (a jump to the new code suffices), so only a full barrier is needed; other
 * architectures clean the data cache and invalidate the instruction cache for the range. */
#include <stdatomic.h>

#include "api/api.h"

WVM_API int wvm_FlushInstructionCache(void *hProcess, const void *lpBaseAddress, size_t dwSize)
{
    if (hProcess != WVM_CURRENT_PROCESS)
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, 0);
#if !defined(__x86_64__) && !defined(__i386__)
    if (lpBaseAddress && dwSize)
        __builtin___clear_cache((char *)lpBaseAddress, (char *)lpBaseAddress + dwSize);
#else
    (void)lpBaseAddress;
    (void)dwSize;
#endif
    atomic_thread_fence(memory_order_seq_cst);
    return 1;
}
