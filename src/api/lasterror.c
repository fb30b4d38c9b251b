/* The thread's last error: per thread, as on Windows. */
#include "api/api.h"

static __thread uint32_t last_error;

void wvm__set_error(uint32_t err)
{
    last_error = err;
}

WVM_API uint32_t wvm_GetLastError(void)
{
    return last_error;
}

WVM_API void wvm_SetLastError(uint32_t dwErrCode)
{
    last_error = dwErrCode;
}
