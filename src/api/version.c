/* The library's version, as compiled from winvmem/version.h (generated from CMake's project()). */
#include "api/api.h"

WVM_API unsigned wvm_version(void)
{
    return WVM_VERSION;
}

WVM_API const char *wvm_version_string(void)
{
    return WVM_VERSION_STRING;
}
