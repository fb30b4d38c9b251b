/* GetProcessWorkingSetSize(Ex) / SetProcessWorkingSetSize(Ex): the limits, Windows' argument
 * rules, the minimum as VirtualLock's quota (minimum minus 8 pages of overhead), trimming with
 * (SIZE_T)-1 twice. Each test runs in its own process (Criterion), so limits set here do not
 * leak into other tests. */
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "neighbours.h"
#include "veh_record.h"
#include "skip.h"

#define OVERHEAD (8 * PAGE)
#define SELF     wvm_GetCurrentProcess()
#define DISABLED (WVM_QUOTA_LIMITS_HARDWS_MIN_DISABLE | WVM_QUOTA_LIMITS_HARDWS_MAX_DISABLE)

static void limits(size_t *min, size_t *max, uint32_t *flags)
{
    wvm_SetLastError(0x77);
    cr_assert(wvm_GetProcessWorkingSetSizeEx(SELF, min, max, flags));
    cr_assert_eq(wvm_GetLastError(), 0x77);
    size_t min2 = 0, max2 = 0;
    cr_assert(wvm_GetProcessWorkingSetSize(SELF, &min2, &max2));
    cr_assert_eq(min2, *min, "both forms agree");
    cr_assert_eq(max2, *max);
}

static uint64_t memlock_soft(void)
{
    struct rlimit r;
    cr_assert_eq(getrlimit(RLIMIT_MEMLOCK, &r), 0);
    return r.rlim_cur;
}

static uint64_t ram(void)
{
    return (uint64_t)sysconf(_SC_PHYS_PAGES) * PAGE;
}

Test(workingsetsize, defaults_follow_rlimit_memlock)
{
    size_t min, max;
    uint32_t flags;
    limits(&min, &max, &flags);
    uint64_t soft = memlock_soft(), quota = soft < ram() ? soft : ram();
    cr_assert_eq(min, quota + OVERHEAD, "min %zu, RLIMIT_MEMLOCK %llu", min,
                 (unsigned long long)soft);
    cr_assert_eq(max, min > 345 * PAGE ? min : 345 * PAGE);
    cr_assert_eq(flags, DISABLED);
}

Test(workingsetsize, set_then_get)
{
    wvm_SetLastError(0x55);
    cr_assert(wvm_SetProcessWorkingSetSize(SELF, 1 << 20, 4 << 20));
    cr_assert_eq(wvm_GetLastError(), 0x55);
    size_t min, max;
    uint32_t flags;
    limits(&min, &max, &flags);
    cr_assert_eq(min, 1 << 20);
    cr_assert_eq(max, 4 << 20);
    cr_assert_eq(flags, DISABLED);
    cr_assert(wvm_SetProcessWorkingSetSizeEx(SELF, PAGE, 13 * PAGE + 20 * PAGE,
                                             WVM_QUOTA_LIMITS_HARDWS_MAX_DISABLE));
    limits(&min, &max, &flags);
    cr_assert_eq(min, 20 * PAGE, "a minimum under 20 pages becomes 20 pages");
    cr_assert_eq(max, 33 * PAGE);
    cr_assert_eq(flags, DISABLED);
}

/* Locks pages one at a time until the quota refuses; returns how many were locked. */
static size_t lock_until_refused(char *p, size_t pages)
{
    size_t n = 0;
    while (n < pages && wvm_VirtualLock(p + n * PAGE, PAGE))
        n++;
    if (n < pages)
        cr_assert_eq(wvm_GetLastError(), WVM_ERROR_WORKING_SET_QUOTA);
    return n;
}

Test(workingsetsize, minimum_is_the_lock_quota)
{
    char *p =
        wvm_VirtualAlloc(NULL, 64 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_not_null(p);
    cr_assert(wvm_SetProcessWorkingSetSize(SELF, OVERHEAD + 24 * PAGE, 1 << 20));
    cr_assert_eq(lock_until_refused(p, 64), 24, "minimum minus the overhead");
    cr_assert(wvm_SetProcessWorkingSetSize(SELF, OVERHEAD + 40 * PAGE, 1 << 20));
    cr_assert_eq(lock_until_refused(p + 24 * PAGE, 40), 16, "a higher minimum, more locks");
    /* a minimum below what is locked now: accepted; locks wait for unlocks */
    cr_assert(wvm_SetProcessWorkingSetSize(SELF, OVERHEAD + 20 * PAGE, 1 << 20));
    cr_assert_not(wvm_VirtualLock(p + 40 * PAGE, PAGE));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_WORKING_SET_QUOTA);
    cr_assert(wvm_VirtualUnlock(p, 21 * PAGE));
    cr_assert(wvm_VirtualLock(p + 40 * PAGE, PAGE), "19 + 1 locked of a quota of 20");
    cr_assert_not(wvm_VirtualLock(p + 41 * PAGE, PAGE));
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(workingsetsize, a_higher_minimum_raises_rlimit_memlock)
{
    struct rlimit r;
    cr_assert_eq(getrlimit(RLIMIT_MEMLOCK, &r), 0);
    if (r.rlim_max == RLIM_INFINITY || r.rlim_max < (2 << 20))
        wvm_cannot_run("RLIMIT_MEMLOCK's hard limit is unlimited or below 2 MiB");
    r.rlim_cur = 1 << 20; /* the soft limit lowered, the hard one kept */
    cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &r), 0);
    size_t want = (size_t)r.rlim_max;
    cr_assert(wvm_SetProcessWorkingSetSize(SELF, want + OVERHEAD, want + OVERHEAD), "error %u",
              wvm_GetLastError());
    cr_assert_eq(memlock_soft(), want, "the kernel's mlock limit follows the quota");
}

static bool drop_sys_resource(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d))
        return false;
    d[CAP_SYS_RESOURCE / 32].effective &= ~(1u << (CAP_SYS_RESOURCE % 32));
    return syscall(SYS_capset, &h, d) == 0;
}

Test(workingsetsize, a_minimum_beyond_the_hard_limit_needs_privilege)
{
    struct rlimit r;
    cr_assert_eq(getrlimit(RLIMIT_MEMLOCK, &r), 0);
    if (r.rlim_max == RLIM_INFINITY || r.rlim_max > (16 << 20))
        r.rlim_max = 16 << 20; /* lowering is always allowed */
    if (r.rlim_max < (2 << 20))
        wvm_cannot_run("RLIMIT_MEMLOCK's hard limit is below 2 MiB");
    r.rlim_cur = r.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &r), 0);
    cr_assert(drop_sys_resource());
    size_t hard = (size_t)r.rlim_max;
    size_t min0, max0;
    uint32_t f0;
    limits(&min0, &max0, &f0);
    cr_assert_not(wvm_SetProcessWorkingSetSize(SELF, 2 * hard + OVERHEAD, 4 * hard));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_PRIVILEGE_NOT_HELD);
    size_t min, max;
    uint32_t f;
    limits(&min, &max, &f);
    cr_assert_eq(min, min0, "nothing changed");
    cr_assert_eq(max, max0);
    cr_assert_eq(memlock_soft(), hard);
    cr_assert(wvm_SetProcessWorkingSetSize(SELF, hard / 2 + OVERHEAD, 4 * hard),
              "within the hard limit: no privilege needed");
}

Test(workingsetsize, argument_rules)
{
    size_t min0, max0;
    uint32_t f0;
    limits(&min0, &max0, &f0);
    size_t m, x;
    uint32_t f;
    cr_assert_not(wvm_SetProcessWorkingSetSize((void *)(intptr_t)-2, 1 << 20, 2 << 20));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_HANDLE);
    cr_assert_not(wvm_GetProcessWorkingSetSize(NULL, &m, &x));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_HANDLE);
    cr_assert_not(wvm_GetProcessWorkingSetSizeEx((void *)(intptr_t)-2, &m, &x, &f));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_HANDLE);
    const struct {
        size_t min, max;
        uint32_t flags, err;
    } rows[] = {
        {0, 2 << 20, 0, WVM_ERROR_INVALID_PARAMETER},
        {4 << 20, 2 << 20, 0, WVM_ERROR_INVALID_PARAMETER},
        {PAGE, 12 * PAGE, 0, WVM_ERROR_INVALID_PARAMETER},
        {PAGE, 19 * PAGE, 0, WVM_ERROR_INVALID_PARAMETER}, /* the 20-page minimum passes it */
        {1 << 20, SIZE_MAX, 0, WVM_ERROR_INVALID_PARAMETER},
        {SIZE_MAX, 2 << 20, 0, WVM_ERROR_INVALID_PARAMETER},
        {1 << 20, 2 << 20, 3, WVM_ERROR_INVALID_PARAMETER},
        {1 << 20, 2 << 20, 0xC, WVM_ERROR_INVALID_PARAMETER},
        {1 << 20, 2 << 20, 0x10, WVM_ERROR_INVALID_PARAMETER},
        {SIZE_MAX, SIZE_MAX, 0xF, WVM_ERROR_INVALID_PARAMETER},
        {1 << 20, 2 << 20, WVM_QUOTA_LIMITS_HARDWS_MIN_ENABLE, WVM_ERROR_NOT_SUPPORTED},
        {1 << 20, 2 << 20, WVM_QUOTA_LIMITS_HARDWS_MAX_ENABLE, WVM_ERROR_NOT_SUPPORTED},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        cr_assert_not(wvm_SetProcessWorkingSetSizeEx(SELF, rows[i].min, rows[i].max, rows[i].flags),
                      "row %zu", i);
        cr_assert_eq(wvm_GetLastError(), rows[i].err, "row %zu: %u", i, wvm_GetLastError());
    }
    cr_assert_not(wvm_SetProcessWorkingSetSize(SELF, 1 << 20, (size_t)ram()));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER, "as large as the machine");
    limits(&m, &x, &f);
    cr_assert_eq(m, min0, "failures change nothing");
    cr_assert_eq(x, max0);
    cr_assert_eq(f, f0);
    /* out-parameters */
    cr_assert_not(wvm_GetProcessWorkingSetSize(SELF, NULL, &x));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    cr_assert_not(wvm_GetProcessWorkingSetSize(SELF, &m, NULL));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    cr_assert_not(wvm_GetProcessWorkingSetSizeEx(SELF, &m, &x, NULL));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    char *ro = wvm_VirtualAlloc(NULL, PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READONLY);
    cr_assert_not(wvm_GetProcessWorkingSetSizeEx(SELF, &m, &x, (uint32_t *)ro));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
}

Test(workingsetsize, minus_one_twice_trims_the_working_set)
{
    /* clean file pages can always leave the working set (anonymous ones need swap) */
    int fd = clean_file(4, 0x21);
    volatile char *f = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert_neq((void *)f, MAP_FAILED);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(f[i * PAGE], 0x21);
    cr_assert_eq(ws_flags((char *)f) & 1, 1, "in the working set before");
    char *p =
        wvm_VirtualAlloc(NULL, 2 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    memset(p, 0x44, 2 * PAGE);
    cr_assert(wvm_VirtualLock(p, PAGE));
    size_t min0, max0, min, max;
    uint32_t f0, fl;
    limits(&min0, &max0, &f0);
    wvm_SetLastError(0x99);
    cr_assert(wvm_SetProcessWorkingSetSize(SELF, SIZE_MAX, SIZE_MAX));
    cr_assert_eq(wvm_GetLastError(), 0x99);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ws_flags((char *)f + i * PAGE), 1ull << 15, "file page %d trimmed", i);
    cr_assert_eq(ws_flags(p) & (1 | 1ull << 22), 1 | 1ull << 22, "locked pages stay");
    cr_assert_eq(p[PAGE], 0x44, "trimming loses no data");
    cr_assert_eq(f[3 * PAGE], 0x21);
    limits(&min, &max, &fl);
    cr_assert_eq(min, min0, "trimming changes no limit");
    cr_assert_eq(max, max0);
    cr_assert(wvm_SetProcessWorkingSetSizeEx(SELF, SIZE_MAX, SIZE_MAX, DISABLED));
    munmap((char *)f, 4 * PAGE);
    close(fd);
}
