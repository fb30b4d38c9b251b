/* VirtualAllocFromApp / VirtualProtectFromApp: no writable-and-executable pages, executable
 * ones only with the dynamic-code opt-in. */
#include "veh_record.h"

static const uint32_t exec_prots[] = {WVM_PAGE_EXECUTE, WVM_PAGE_EXECUTE_READ,
                                      WVM_PAGE_EXECUTE_READWRITE, WVM_PAGE_EXECUTE_WRITECOPY};

Test(fromapp, alloc_refuses_every_executable_protection)
{
    wvm_set_dynamic_code_allowed(1); /* the opt-in does not matter for allocation */
    for (unsigned i = 0; i < 4; i++) {
        wvm_SetLastError(0);
        cr_assert_null(
            wvm_VirtualAllocFromApp(NULL, PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, exec_prots[i]));
        cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER, "prot %#x", exec_prots[i]);
    }
}

Test(fromapp, alloc_success_leaves_last_error)
{
    wvm_SetLastError(4242);
    char *p =
        wvm_VirtualAllocFromApp(NULL, PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_not_null(p);
    cr_assert_eq(wvm_GetLastError(), 4242);
    p[0] = 1;
    cr_assert_eq(prot_of(p), WVM_PAGE_READWRITE);
    wvm_SetLastError(0);
    cr_assert_null(wvm_VirtualAllocFromApp(NULL, PAGE, WVM_MEM_COMMIT | WVM_MEM_RESERVE, 0));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
}

Test(fromapp, protect_without_opt_in_refuses_execute)
{
    char *p =
        wvm_VirtualAllocFromApp(NULL, PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    uint32_t old = 0xdead;
    for (unsigned i = 0; i < 4; i++) {
        cr_assert_not(wvm_VirtualProtectFromApp(p, PAGE, exec_prots[i], &old));
        cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    }
    cr_assert_eq(old, 0xdead);
    cr_assert_eq(prot_of(p), WVM_PAGE_READWRITE);
    wvm_SetLastError(31);
    cr_assert(wvm_VirtualProtectFromApp(p, PAGE, WVM_PAGE_READONLY, &old));
    cr_assert_eq(old, WVM_PAGE_READWRITE);
    cr_assert_eq(wvm_GetLastError(), 31);
}

Test(fromapp, protect_with_opt_in_allows_execute_read_never_rwx)
{
    cr_assert_eq(wvm_set_dynamic_code_allowed(1), 0, "off by default");
    unsigned char *p =
        wvm_VirtualAllocFromApp(NULL, PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    emit_return(p, 42);
    uint32_t old;
    cr_assert_not(wvm_VirtualProtectFromApp(p, PAGE, WVM_PAGE_EXECUTE_READWRITE, &old));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_not(wvm_VirtualProtectFromApp(p, PAGE, WVM_PAGE_EXECUTE_WRITECOPY, &old));
    cr_assert(wvm_VirtualProtectFromApp(p, PAGE, WVM_PAGE_EXECUTE_READ, &old));
    cr_assert_eq(old, WVM_PAGE_READWRITE);
    cr_assert(wvm_FlushInstructionCache(wvm_GetCurrentProcess(), p, 6));
    int (*volatile fn)(void) = (int (*)(void))(void *)p;
    cr_assert_eq(fn(), 42);
    cr_assert(wvm_VirtualProtectFromApp(p, PAGE, WVM_PAGE_EXECUTE, &old));
    cr_assert_eq(old, WVM_PAGE_EXECUTE_READ);
    cr_assert_eq(wvm_set_dynamic_code_allowed(0), 1);
    cr_assert_not(wvm_VirtualProtectFromApp(p, PAGE, WVM_PAGE_EXECUTE_READ, &old));
}

/* kernel32/tests/virtual.c (test_VirtualProtectFromApp), checked on Windows: a range past the
 * allocation fails and reports PAGE_NOACCESS as the old protection. */
Test(fromapp, protect_past_the_allocation_reports_noaccess)
{
    char *p = wvm_VirtualAlloc(NULL, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_not_null(p);
    uint32_t old = 0xdead;
    cr_assert(wvm_VirtualProtectFromApp(p, PAGE, WVM_PAGE_READONLY, &old));
    cr_assert_eq(old, WVM_PAGE_READWRITE);
    old = 0xdead;
    cr_assert_not(wvm_VirtualProtectFromApp(p, 0x100000, WVM_PAGE_READWRITE, &old));
    cr_assert_eq(old, WVM_PAGE_NOACCESS);
    cr_assert_eq(prot_of(p), WVM_PAGE_READONLY);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}
