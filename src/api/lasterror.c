/* The thread's last error: per thread, as on Windows. */
#include "api/api.h"
#include "core/meta.h"

static WVM_THREAD uint32_t last_error;

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

/* Every entry point that can fail links this file, so the exit-time report of
 * WINVMEM_SHOW_STATS (statsprint.c) is hooked here: static links pull it in too. */
__attribute__((destructor)) static void at_exit(void)
{
    wvm__stats_at_exit();
}
