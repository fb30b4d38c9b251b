/* AddVectoredExceptionHandler, RemoveVectoredExceptionHandler (see src/fault/fault.h for what
 * a handler may do: it runs in signal context), and wvm_handle_fault for another runtime's
 * signal handler (winvmem/fault.h). */
#include <winvmem/fault.h>

#include "api/api.h"
#include "fault/fault.h"

WVM_API void *wvm_AddVectoredExceptionHandler(uint32_t First,
                                              wvm_PVECTORED_EXCEPTION_HANDLER Handler)
{
    if (!Handler || wvm__fault_need())
        return NULL;
    return wvm__veh_add(First != 0, Handler);
}

WVM_API uint32_t wvm_RemoveVectoredExceptionHandler(void *Handle)
{
    return Handle ? (uint32_t)wvm__veh_remove(Handle) : 0;
}

WVM_API int wvm_handle_fault(int sig, siginfo_t *info, void *ucontext)
{
    return wvm__fault_entry(sig, info, ucontext);
}
