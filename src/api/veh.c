/* AddVectoredExceptionHandler, RemoveVectoredExceptionHandler (see src/fault/fault.h for what
 * a handler may do: it runs in signal context). */
#include "api/api.h"
#include "fault/fault.h"

WVM_API void *wvm_AddVectoredExceptionHandler(uint32_t First,
                                              wvm_PVECTORED_EXCEPTION_HANDLER Handler)
{
    if (!Handler || wvm__fault_init())
        return NULL;
    return wvm__veh_add(First != 0, Handler);
}

WVM_API uint32_t wvm_RemoveVectoredExceptionHandler(void *Handle)
{
    return Handle ? (uint32_t)wvm__veh_remove(Handle) : 0;
}
