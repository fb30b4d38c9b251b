/* mlock/munlock, MADV_FREE and the thread's fault counter. */
#include <errno.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <winvmem/stats.h>

#include "prim/linux/prim.h"
#include "prim/linux/prim_residency.h"

#ifndef MADV_FREE
#define MADV_FREE 8
#endif

int wvm__prim_mlock(void *addr, size_t size)
{
    return mlock(addr, size) ? errno : 0;
}

int wvm__prim_munlock(void *addr, size_t size)
{
    return munlock(addr, size) ? errno : 0;
}

uint64_t wvm__prim_memlock_limit(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_MEMLOCK, &r) || r.rlim_cur == RLIM_INFINITY)
        return UINT64_MAX;
    return r.rlim_cur;
}

int wvm__prim_free_lazy(void *addr, size_t size)
{
    return madvise(addr, size, MADV_FREE) ? errno : 0;
}

uint64_t wvm__prim_thread_faults(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru))
        return UINT64_MAX; /* callers treat a changed count as "something was dropped" */
    return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}
