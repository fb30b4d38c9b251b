/* mlock/munlock, MADV_FREE and the thread's fault counter. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <winvmem/stats.h>

#include "prim/linux/prim.h"
#include "prim/linux/prim_residency.h"

#ifndef MADV_FREE
#define MADV_FREE 8
#endif
#ifndef MADV_POPULATE_READ /* Linux 5.14 */
#define MADV_POPULATE_READ 22
#endif

/* mlock, mlock2 and munlock as system calls: AddressSanitizer intercepts mlock and munlock
 * as no-ops but not mlock2, which would leave pages locked that munlock cannot unlock (guard
 * install and MADV_DONTNEED then refuse them). */
static int sys_lock(long nr, void *addr, size_t size, long flags)
{
    return syscall(nr, addr, size, flags) ? errno : 0;
}

int wvm__prim_mlock(void *addr, size_t size)
{
    return sys_lock(SYS_mlock, addr, size, 0);
}

/* mlock populates a private writable mapping with write faults (to break copy-on-write), and
 * userfaultfd's async write protection takes those for writes. Locking on fault and then
 * populating with read faults makes the same pages resident and locked without one: present
 * pages are locked as they are, absent ones get the zero page (or their swapped-out data). A
 * program's write racing the lock faults by itself and is recorded. Kernels without
 * MLOCK_ONFAULT (4.4) or MADV_POPULATE_READ (5.14) have no userfaultfd write watch either:
 * they get plain mlock. */
int wvm__prim_mlock_no_write(void *addr, size_t size)
{
    int err = sys_lock(SYS_mlock2, addr, size, MLOCK_ONFAULT);
    if (err)
        return err == EINVAL || err == ENOSYS ? wvm__prim_mlock(addr, size) : err;
    if (madvise(addr, size, MADV_POPULATE_READ))
        return errno == EINVAL ? wvm__prim_mlock(addr, size) : errno;
    return 0;
}

int wvm__prim_munlock(void *addr, size_t size)
{
    return sys_lock(SYS_munlock, addr, size, 0);
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

int wvm__prim_pages_holding_data(uintptr_t start, uint64_t npages,
                                 void (*fn)(void *ctx, uint64_t i), void *ctx)
{
    const uint64_t present = 1ull << 63, swapped = 1ull << 62, exclusive = 1ull << 56;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    uint64_t buf[512];
    int err = 0;
    for (uint64_t done = 0; done < npages && !err;) {
        uint64_t n = npages - done < 512 ? npages - done : 512;
        off_t off = (off_t)((start / 4096 + done) * sizeof(uint64_t));
        ssize_t got = pread(fd, buf, n * sizeof(uint64_t), off);
        if (got <= 0) {
            err = got < 0 ? errno : EIO;
            break;
        }
        n = (uint64_t)got / sizeof(uint64_t);
        for (uint64_t i = 0; i < n; i++)
            if ((buf[i] & swapped) || ((buf[i] & present) && (buf[i] & exclusive)))
                fn(ctx, done + i);
        done += n;
    }
    close(fd);
    return err;
}
