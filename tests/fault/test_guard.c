/* PAGE_GUARD: one STATUS_GUARD_PAGE_VIOLATION per arming, the guard gone afterwards. */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "veh_record.h"

static char *guarded(size_t pages, uint32_t prot)
{
    char *p = wvm_VirtualAlloc(NULL, pages * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                               prot | WVM_PAGE_GUARD);
    cr_assert_not_null(p, "VirtualAlloc: %u", wvm_GetLastError());
    return p;
}

Test(guard, first_read_raises_once_then_succeeds)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    char *p = guarded(2, WVM_PAGE_READWRITE);
    cr_assert_eq(prot_of(p), WVM_PAGE_READWRITE | WVM_PAGE_GUARD);
    volatile char *v = p + 100;
    cr_assert_eq(*v, 0);
    cr_assert_eq(last.count, 1);
    cr_assert_eq(last.code, WVM_STATUS_GUARD_PAGE_VIOLATION);
    cr_assert_eq(last.nparams, 2);
    cr_assert_eq(last.info0, 0);
    cr_assert_eq(last.info1, (uintptr_t)(p + 100));
    cr_assert_eq(*v, 0);
    cr_assert_eq(last.count, 1, "second access raised again");
    cr_assert_eq(prot_of(p), WVM_PAGE_READWRITE);
    /* the second page still has its own guard */
    cr_assert_eq(prot_of(p + PAGE), WVM_PAGE_READWRITE | WVM_PAGE_GUARD);
    wvm_MEMORY_BASIC_INFORMATION m;
    wvm_VirtualQuery(p, &m, sizeof m);
    cr_assert_eq(m.RegionSize, PAGE);
    *(volatile char *)(p + PAGE) = 5;
    cr_assert_eq(last.count, 2);
    cr_assert_eq(last.info0, 1, "a write reports 1");
    cr_assert_eq(p[PAGE], 5);
    wvm_VirtualQuery(p, &m, sizeof m);
    cr_assert_eq(m.RegionSize, 2 * PAGE, "both pages now one read-write region");
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(guard, rearm_reports_old_protection)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(0, record));
    char *p = guarded(1, WVM_PAGE_READONLY);
    uint32_t old = 0;
    (void)*(volatile char *)p;
    cr_assert_eq(last.count, 1);
    cr_assert(wvm_VirtualProtect(p, PAGE, WVM_PAGE_READWRITE | WVM_PAGE_GUARD, &old));
    cr_assert_eq(old, WVM_PAGE_READONLY, "old protection %#x", old);
    cr_assert(wvm_VirtualProtect(p, PAGE, WVM_PAGE_READWRITE | WVM_PAGE_GUARD, &old));
    cr_assert_eq(old, WVM_PAGE_READWRITE | WVM_PAGE_GUARD);
    *(volatile char *)(p + 1) = 1;
    cr_assert_eq(last.count, 2, "re-armed guard fires again");
    cr_assert_eq(p[1], 1);
    cr_assert_eq(prot_of(p), WVM_PAGE_READWRITE);
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(guard, consumed_guard_seen_by_check_before_fold)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(0, record));
    char *p = guarded(4, WVM_PAGE_READWRITE);
    *(volatile char *)(p + PAGE * 2) =
        1; /* consumed, not folded: checker compares the kernel with the truth */
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}

Test(guard, unhandled_guard_kills, .signal = SIGSEGV)
{
    char *p = guarded(1, WVM_PAGE_READWRITE);
    *(volatile char *)p = 1;
}

static volatile int prev_calls;
static void prev_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    prev_calls++;
}

Test(guard, continue_search_reaches_previous_handler)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = prev_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    verdict = WVM_EXCEPTION_CONTINUE_SEARCH;
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    char *p = guarded(1, WVM_PAGE_READWRITE);
    *(volatile char *)p =
        3; /* guard consumed, nobody here handles it, the previous handler returns */
    cr_assert_eq(last.count, 1);
    cr_assert_eq(prev_calls, 1);
    cr_assert_eq(p[0], 3);
}

static char *volatile race_page;
static void *toucher(void *arg)
{
    (void)arg;
    (void)*(volatile char *)race_page;
    return NULL;
}

Test(guard, concurrent_first_touch_raises_once)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    for (int round = 0; round < 20; round++) {
        race_page = guarded(1, WVM_PAGE_READWRITE);
        last.count = 0;
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, toucher, NULL);
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
        cr_assert_eq(last.count, 1, "round %d: %d exceptions", round, last.count);
        cr_assert(wvm_VirtualFree(race_page, 0, WVM_MEM_RELEASE));
    }
}

Test(guard, kernel_access_gets_efault_and_keeps_guard)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    char *p = guarded(1, WVM_PAGE_READWRITE);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(write(fds[1], "x", 1), 1);
    errno = 0;
    cr_assert_eq(read(fds[0], p, 1), -1);
    cr_assert_eq(errno, EFAULT);
    cr_assert_eq(last.count, 0);
    cr_assert_eq(prot_of(p), WVM_PAGE_READWRITE | WVM_PAGE_GUARD);
}

Test(guard, success_leaves_last_error)
{
    wvm_SetLastError(1234);
    char *p = guarded(1, WVM_PAGE_READWRITE);
    uint32_t old;
    cr_assert(wvm_VirtualProtect(p, PAGE, WVM_PAGE_READONLY | WVM_PAGE_GUARD, &old));
    cr_assert_eq(wvm_GetLastError(), 1234);
    cr_assert_eq(old, WVM_PAGE_READWRITE | WVM_PAGE_GUARD);
}

/* A guard page of a write-watch allocation: the guard's fault is not a write. A write after
 * a read consumed the guard is reported, and a read alone is not (on the mprotect fallback,
 * the guard's fault once left the page read-write: no later write was reported). */
Test(guard, write_watch_page_after_its_guard_fired)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    char *p = wvm_VirtualAlloc(NULL, 4 * PAGE,
                               WVM_MEM_RESERVE | WVM_MEM_COMMIT | WVM_MEM_WRITE_WATCH,
                               WVM_PAGE_READWRITE);
    cr_assert_not_null(p, "VirtualAlloc: %u", wvm_GetLastError());
    uint32_t old;
    cr_assert(wvm_VirtualProtect(p, 2 * PAGE, WVM_PAGE_READWRITE | WVM_PAGE_GUARD, &old));
    cr_assert_eq(*(volatile char *)p, 0); /* the guard fires on a read */
    cr_assert_eq(*(volatile char *)(p + PAGE), 0);
    cr_assert_eq(last.count, 2);
    void *res[4];
    uintptr_t n = 4;
    uint32_t g;
    cr_assert_eq(wvm_GetWriteWatch(0, p, 4 * PAGE, res, &n, &g), 0);
    cr_assert_eq(n, 0, "a read is not a write: %lu pages", (unsigned long)n);
    p[PAGE + 1] = 3;
    n = 4;
    cr_assert_eq(wvm_GetWriteWatch(0, p, 4 * PAGE, res, &n, &g), 0);
    cr_assert_eq(n, 1, "the write after the guard: %lu pages", (unsigned long)n);
    cr_assert_eq(res[0], p + PAGE);
    cr_assert_eq(last.count, 2);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
    cr_assert_eq(wvm_check_invariants(), 0);
}
