/* Access violations on winvmem's memory reach vectored handlers, which may fix and continue;
 * faults elsewhere and unhandled ones go on to the previous handler / the default action. */
#include <sys/mman.h>

#include "veh_record.h"

static char *reserve(size_t pages)
{
    char *p = wvm_VirtualAlloc(NULL, pages * PAGE, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS);
    cr_assert_not_null(p);
    return p;
}

Test(av, write_to_reserved_fixed_by_commit)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    fix_commit = 1;
    fix_prot = WVM_PAGE_READWRITE;
    char *p = reserve(4);
    *(volatile char *)(p + PAGE + 7) = 9;
    cr_assert_eq(last.count, 1);
    cr_assert_eq(last.code, WVM_STATUS_ACCESS_VIOLATION);
    cr_assert_eq(last.nparams, 2);
    cr_assert_eq(last.info0, 1);
    cr_assert_eq(last.info1, (uintptr_t)(p + PAGE + 7));
    cr_assert_eq(p[PAGE + 7], 9);
    cr_assert_eq(prot_of(p + PAGE), WVM_PAGE_READWRITE);
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(av, read_noaccess_fixed_by_protect)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    fix_prot = WVM_PAGE_READONLY;
    char *p = wvm_VirtualAlloc(NULL, PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_NOACCESS);
    cr_assert_not_null(p);
    cr_assert_eq(*(volatile char *)(p + 1), 0);
    cr_assert_eq(last.count, 1);
    cr_assert_eq(last.info0, 0);
    cr_assert_eq(last.info1, (uintptr_t)(p + 1));
}

Test(av, write_readonly_reports_write)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    fix_prot = WVM_PAGE_READWRITE;
    char *p = wvm_VirtualAlloc(NULL, PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READONLY);
    *(volatile char *)(p + 10) = 1;
    cr_assert_eq(last.count, 1);
    cr_assert_eq(last.code, WVM_STATUS_ACCESS_VIOLATION);
    cr_assert_eq(last.info0, 1);
    cr_assert_eq(p[10], 1);
}

Test(av, decommitted_page_faults_and_reads_zero_after_fix)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    fix_commit = 1;
    fix_prot = WVM_PAGE_READWRITE;
    char *p = wvm_VirtualAlloc(NULL, PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    *(volatile char *)p = 42;
    cr_assert(wvm_VirtualFree(p, PAGE, WVM_MEM_DECOMMIT));
    cr_assert_eq(*(volatile char *)p, 0);
    cr_assert_eq(last.count, 1);
    cr_assert_eq(last.info0, 0);
}

Test(av, execute_on_readwrite_reports_8)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    fix_prot = WVM_PAGE_EXECUTE_READ;
    unsigned char *p =
        wvm_VirtualAlloc(NULL, PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    emit_return(p, 7);
    int (*volatile fn)(void) = (int (*)(void))(void *)p;
    cr_assert_eq(fn(), 7);
    cr_assert_eq(last.count, 1);
    cr_assert_eq(last.info0, 8);
    cr_assert_eq(last.info1, (uintptr_t)p);
}

Test(av, unhandled_kills, .signal = SIGSEGV)
{
    char *p = reserve(1);
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    verdict = WVM_EXCEPTION_CONTINUE_SEARCH;
    *(volatile char *)p = 1;
}

Test(av, removed_handler_not_called, .signal = SIGSEGV)
{
    void *h = wvm_AddVectoredExceptionHandler(1, record);
    fix_commit = 1;
    fix_prot = WVM_PAGE_READWRITE;
    cr_assert_eq(wvm_RemoveVectoredExceptionHandler(h), 1);
    cr_assert_eq(wvm_RemoveVectoredExceptionHandler(h), 0);
    char *p = reserve(1);
    *(volatile char *)p = 1;
}

static volatile int order[4], norder;
static int32_t h_a(wvm_EXCEPTION_POINTERS *ep)
{
    (void)ep;
    order[norder++] = 'a';
    return WVM_EXCEPTION_CONTINUE_SEARCH;
}
static int32_t h_b(wvm_EXCEPTION_POINTERS *ep)
{
    (void)ep;
    order[norder++] = 'b';
    return WVM_EXCEPTION_CONTINUE_SEARCH;
}

Test(av, first_flag_orders_handlers)
{
    fix_commit = 1;
    fix_prot = WVM_PAGE_READWRITE;
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(0, h_b));
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(0, record)); /* last: fixes */
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, h_a));
    char *p = reserve(1);
    *(volatile char *)p = 1;
    cr_assert_eq(norder, 2);
    cr_assert_eq(order[0], 'a');
    cr_assert_eq(order[1], 'b');
    cr_assert_eq(last.count, 1);
}

static char *volatile foreign;
static volatile int prev_calls;
static void prev_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    prev_calls++;
    if ((char *)si->si_addr == foreign)
        mprotect(foreign, PAGE, PROT_READ | PROT_WRITE);
}

Test(av, foreign_fault_goes_to_previous_handler_only)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = prev_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    foreign = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *(volatile char *)foreign = 1;
    cr_assert_eq(prev_calls, 1);
    cr_assert_eq(last.count, 0, "a fault outside winvmem reached a vectored handler");
}

static volatile int plain_calls;
static void plain_handler(int sig)
{
    (void)sig;
    plain_calls++;
    wvm_VirtualAlloc((void *)foreign, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
}

Test(av, unhandled_goes_to_previous_plain_handler)
{
    signal(SIGSEGV, plain_handler);
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    verdict = WVM_EXCEPTION_CONTINUE_SEARCH;
    foreign = reserve(1); /* winvmem's memory; nobody handles the exception */
    *(volatile char *)foreign = 4;
    cr_assert_eq(last.count, 1);
    cr_assert_eq(plain_calls, 1, "the previous (non-SA_SIGINFO) handler was not called");
    cr_assert_eq(*(volatile char *)foreign, 4);
}

/* Needed by: PAGE_GUARD, and PAGE_READONLY where userfaultfd write-protect keeps it (its
 * writes raise SIGBUS, which the dispatcher passes on as mprotect's SIGSEGV). */
Test(av, dispatcher_not_installed_without_need)
{
    struct sigaction before, after;
    sigaction(SIGSEGV, NULL, &before);
    char *p = wvm_VirtualAlloc(NULL, PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    uint32_t old;
    cr_assert(wvm_VirtualProtect(p, PAGE, WVM_PAGE_NOACCESS, &old));
    sigaction(SIGSEGV, NULL, &after);
    cr_assert_eq((void *)after.sa_sigaction, (void *)before.sa_sigaction);
    cr_assert(wvm_VirtualProtect(p, PAGE, WVM_PAGE_READONLY, &old));
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    cr_assert_eq(wvm_stats_get(&st), 0);
    const uint32_t wp = WVM_MECH_UFFD_WP_SIGBUS | WVM_MECH_GUARD_MARKERS;
    sigaction(SIGSEGV, NULL, &after);
    if ((st.mechanisms_in_use & wp) == wp) {
        cr_assert_neq((void *)after.sa_sigaction, (void *)before.sa_sigaction);
        return;
    }
    cr_assert_eq((void *)after.sa_sigaction, (void *)before.sa_sigaction);
    cr_assert(wvm_VirtualProtect(p, PAGE, WVM_PAGE_READONLY | WVM_PAGE_GUARD, &old));
    sigaction(SIGSEGV, NULL, &after);
    cr_assert_neq((void *)after.sa_sigaction, (void *)before.sa_sigaction);
}
