/* Windows protections as Linux protection bits (the WVM_P_* of prim.h). */
#include <winvmem/vm.h>

#include "prim/linux/prim.h"

int wvm__linux_prot(uint32_t prot)
{
    if (prot & WVM_PAGE_GUARD)
        return WVM_P_NONE; /* the fault dispatcher turns the first access into the exception */
    switch (prot & 0xFFu) {
    case WVM_PAGE_READONLY:
        return WVM_P_READ;
    case WVM_PAGE_READWRITE:
    case WVM_PAGE_WRITECOPY:
        return WVM_P_RW;
    case WVM_PAGE_EXECUTE:
        /* x64 page tables cannot express execute-only, so Windows pages are readable;
         * Linux would make PROT_EXEC alone execute-only with a protection key (PKU). */
        return WVM_P_READ | WVM_P_EXEC;
    case WVM_PAGE_EXECUTE_READ:
        return WVM_P_READ | WVM_P_EXEC;
    case WVM_PAGE_EXECUTE_READWRITE:
    case WVM_PAGE_EXECUTE_WRITECOPY:
        return WVM_P_RW | WVM_P_EXEC;
    default:
        return WVM_P_NONE;
    }
}
