/* The thread's last error: per thread, as on Windows; and the names of the error codes. */
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

/* One entry per WVM_ERROR_* of winvmem/vm.h and winvmem/sections.h (tests/api/test_lasterror.c
 * reads the headers and checks that every one is here). */
static const struct {
    uint32_t code;
    const char *name;
} error_names[] = {
#define E(n)                                                                                       \
    {                                                                                              \
        WVM_##n, #n                                                                                \
    }
    E(ERROR_SUCCESS),
    E(ERROR_INVALID_HANDLE),
    E(ERROR_NOT_ENOUGH_MEMORY),
    E(ERROR_OUTOFMEMORY),
    E(ERROR_BAD_LENGTH),
    E(ERROR_NOT_SUPPORTED),
    E(ERROR_INVALID_PARAMETER),
    E(ERROR_NOT_LOCKED),
    E(ERROR_INVALID_ADDRESS),
    E(ERROR_NOACCESS),
    E(ERROR_PRIVILEGE_NOT_HELD),
    E(ERROR_NO_SYSTEM_RESOURCES),
    E(ERROR_WORKING_SET_QUOTA),
    E(ERROR_COMMITMENT_LIMIT),
    E(ERROR_BUSY),
    /* winvmem/sections.h */
    E(ERROR_FILE_NOT_FOUND),
    E(ERROR_PATH_NOT_FOUND),
    E(ERROR_ACCESS_DENIED),
    E(ERROR_DISK_FULL),
    E(ERROR_INVALID_NAME),
    E(ERROR_BAD_PATHNAME),
    E(ERROR_ALREADY_EXISTS),
    E(ERROR_BAD_EXE_FORMAT),
    E(ERROR_FILENAME_EXCED_RANGE),
    E(ERROR_FILE_INVALID),
    E(ERROR_MAPPED_ALIGNMENT),
#undef E
};

WVM_API const char *wvm_error_name(uint32_t dwErrCode)
{
    for (size_t i = 0; i < sizeof error_names / sizeof *error_names; i++)
        if (error_names[i].code == dwErrCode)
            return error_names[i].name;
    return NULL;
}
