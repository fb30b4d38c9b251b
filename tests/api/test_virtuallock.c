/* VirtualLock / VirtualUnlock and FlushInstructionCache. */
#include <sys/resource.h>

#include "veh_record.h"

static char *committed(size_t pages, uint32_t prot)
{
    char *p = wvm_VirtualAlloc(NULL, pages * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, prot);
    cr_assert_not_null(p);
    return p;
}

Test(lock, lock_unlock_committed)
{
    char *p = committed(4, WVM_PAGE_READWRITE);
    wvm_SetLastError(77);
    cr_assert(wvm_VirtualLock(p + 10, 2 * PAGE));
    cr_assert_eq(wvm_GetLastError(), 77, "success changed the last error");
    wvm_MEMORY_BASIC_INFORMATION m;
    wvm_VirtualQuery(p, &m, sizeof m);
    cr_assert_eq(m.RegionSize, 4 * PAGE, "the lock flag must not split regions");
    cr_assert(wvm_VirtualUnlock(p, 3 * PAGE));
    cr_assert_not(wvm_VirtualUnlock(p, PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOT_LOCKED);
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(lock, unlock_partly_locked_fails_and_keeps_locks)
{
    char *p = committed(2, WVM_PAGE_READWRITE);
    cr_assert(wvm_VirtualLock(p, PAGE));
    cr_assert_not(wvm_VirtualUnlock(p, 2 * PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOT_LOCKED);
    cr_assert(wvm_VirtualUnlock(p, PAGE), "the first page must still be locked");
}

Test(lock, uncommitted_or_noaccess_fails)
{
    char *p = wvm_VirtualAlloc(NULL, 4 * PAGE, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert_not(wvm_VirtualLock(p, PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    cr_assert_not_null(wvm_VirtualAlloc(p, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    cr_assert_not(wvm_VirtualLock(p, 2 * PAGE), "second page is reserved only");
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    cr_assert_not(wvm_VirtualUnlock(p, PAGE), "nothing was locked by the failures");
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOT_LOCKED);
    cr_assert_not_null(wvm_VirtualAlloc(p + PAGE, PAGE, WVM_MEM_COMMIT, WVM_PAGE_NOACCESS));
    cr_assert_not(wvm_VirtualLock(p + PAGE, PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    cr_assert_not(wvm_VirtualUnlock(p + 2 * PAGE, PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
}

Test(lock, past_allocation_end_is_invalid_address)
{
    char *p = committed(1, WVM_PAGE_READWRITE);
    cr_assert_not(wvm_VirtualLock(p, 2 * PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_ADDRESS);
}

Test(lock, guard_page_fails_once_and_consumes_guard)
{
    char *p = wvm_VirtualAlloc(NULL, 2 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                               WVM_PAGE_READWRITE | WVM_PAGE_GUARD);
    cr_assert_not(wvm_VirtualLock(p, 2 * PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_STATUS_GUARD_PAGE_VIOLATION);
    cr_assert_eq(prot_of(p), WVM_PAGE_READWRITE);
    cr_assert_eq(prot_of(p + PAGE), WVM_PAGE_READWRITE | WVM_PAGE_GUARD);
    cr_assert_not(wvm_VirtualLock(p, 2 * PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_STATUS_GUARD_PAGE_VIOLATION);
    cr_assert(wvm_VirtualLock(p, 2 * PAGE));
    p[PAGE] = 1; /* no guard left: no exception, no dispatcher needed */
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(lock, quota_is_rlimit_memlock)
{
    struct rlimit r = {8 * PAGE, 8 * PAGE};
    cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &r), 0);
    char *p = committed(16, WVM_PAGE_READWRITE);
    cr_assert(wvm_VirtualLock(p, 6 * PAGE));
    cr_assert_not(wvm_VirtualLock(p + 6 * PAGE, 4 * PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_WORKING_SET_QUOTA);
    cr_assert(wvm_VirtualLock(p, 8 * PAGE), "relocking locked pages costs nothing");
    cr_assert(wvm_VirtualUnlock(p, 8 * PAGE));
    cr_assert(wvm_VirtualLock(p + 8 * PAGE, 8 * PAGE));
}

Test(lock, decommit_and_release_drop_locks)
{
    struct rlimit r = {4 * PAGE, 4 * PAGE};
    cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &r), 0);
    char *p = committed(4, WVM_PAGE_READWRITE);
    cr_assert(wvm_VirtualLock(p, 4 * PAGE));
    p[0] = 9;
    cr_assert(wvm_VirtualFree(p, 2 * PAGE, WVM_MEM_DECOMMIT), "%u", wvm_GetLastError());
    cr_assert_not_null(wvm_VirtualAlloc(p, 2 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    cr_assert_eq(p[0], 0, "decommit must drop data even when locked");
    cr_assert_not(wvm_VirtualUnlock(p, PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOT_LOCKED);
    cr_assert(wvm_VirtualUnlock(p + 2 * PAGE, 2 * PAGE), "the rest stays locked");
    cr_assert(wvm_VirtualLock(p, 4 * PAGE));
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE), "%u", wvm_GetLastError());
    char *q = committed(4, WVM_PAGE_READWRITE);
    cr_assert(wvm_VirtualLock(q, 4 * PAGE), "release returned the quota");
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(lock, null_and_low_addresses_fail)
{
    cr_assert_not(wvm_VirtualLock(NULL, PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    cr_assert_not(wvm_VirtualUnlock((void *)0x1000, PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
}

/* Free address space inside winvmem's arena is free address space, as at NULL: neither call
 * locks or unlocks anything there, and a failure leaves no trace for the next allocation at
 * those addresses (mlock would leave the range VM_LOCKED after its ENOMEM: a write-watch
 * reservation there then failed, and commits there were locked). */
Test(lock, free_address_space_fails_and_leaves_no_trace)
{
    char *p = wvm_VirtualAlloc(NULL, 64 * PAGE, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert_not_null(p);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
    wvm_SetLastError(0);
    cr_assert_not(wvm_VirtualLock(p + 12 * PAGE, 2 * PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    wvm_SetLastError(0);
    cr_assert_not(wvm_VirtualUnlock(p + 12 * PAGE, 2 * PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    char *w =
        wvm_VirtualAlloc(p + 12 * PAGE, PAGE,
                         WVM_MEM_RESERVE | WVM_MEM_COMMIT | WVM_MEM_WRITE_WATCH, WVM_PAGE_READONLY);
    cr_assert_not_null(w, "error %u", wvm_GetLastError());
    char *q = wvm_VirtualAlloc(w + 16 * PAGE, 2 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                               WVM_PAGE_READWRITE);
    cr_assert_not_null(q, "error %u", wvm_GetLastError());
    cr_assert(wvm_VirtualUnlock(q, PAGE) == 0 && wvm_GetLastError() == WVM_ERROR_NOT_LOCKED,
              "nothing of the failed lock is left: %u", wvm_GetLastError());
    cr_assert(wvm_VirtualFree(w, 0, WVM_MEM_RELEASE));
    cr_assert(wvm_VirtualFree(q, 0, WVM_MEM_RELEASE));
}

Test(lock, foreign_memory_uses_mlock)
{
    static char buf[3 * PAGE];
    cr_assert(wvm_VirtualLock(buf + PAGE, 100));
    cr_assert(wvm_VirtualUnlock(buf + PAGE, 100));
}

Test(flush, current_process_only)
{
    char code[16] = {0};
    wvm_SetLastError(5);
    cr_assert(wvm_FlushInstructionCache(wvm_GetCurrentProcess(), code, sizeof code));
    cr_assert(wvm_FlushInstructionCache(WVM_CURRENT_PROCESS, NULL, 0));
    cr_assert_eq(wvm_GetLastError(), 5);
    cr_assert_not(wvm_FlushInstructionCache((void *)(intptr_t)1234, code, sizeof code));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_HANDLE);
    cr_assert_not(wvm_FlushInstructionCache(NULL, code, sizeof code));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_HANDLE);
}
