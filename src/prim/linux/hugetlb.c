/* hugetlb and THP mappings for MEM_LARGE_PAGES. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <winvmem/stats.h>

#include "prim/linux/hugetlb.h"
#include "prim/linux/prim.h"
#include "prim/linux/sysfiles.h"

#ifndef MADV_POPULATE_WRITE /* Linux 5.14 */
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static size_t huge_size;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void probe(void)
{
    huge_size = (size_t)wvm__sysfiles_meminfo("Hugepagesize");
    /* a count, read with the kB parser: non-zero is all that matters here */
    uint64_t total = wvm__sysfiles_meminfo("HugePages_Total");
    wvm__mech_record(WVM_MECH_HUGETLB, !huge_size ? ENOSYS : total ? 0 : ENOMEM, NULL);
}

size_t wvm__prim_huge_size(void)
{
    pthread_once(&once, probe);
    return huge_size;
}

/* Faults every page in; a failure (pool exhausted, cgroup limit) is reported, not SIGBUS. */
static int populate(void *p, size_t size)
{
    for (;;) {
        if (!madvise(p, size, MADV_POPULATE_WRITE))
            return 0;
        if (errno != EINTR && errno != EAGAIN)
            return errno;
    }
}

static int map_rw(void *want, size_t size, int extra, void **out)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | extra | (want ? MAP_FIXED_NOREPLACE : 0);
    void *p = mmap(want, size, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return errno;
    if (want && p != want) {
        munmap(p, size);
        return EEXIST;
    }
    *out = p;
    return 0;
}

int wvm__prim_map_huge(void *want, size_t size, void **out)
{
    if (!wvm__prim_huge_size())
        return ENOSYS;
    void *p;
    /* Without MAP_NORESERVE the kernel reserves the pool pages at mmap time (ENOMEM when it
     * cannot); populating then takes them from that reservation. */
    int err = map_rw(want, size, MAP_HUGETLB, &p);
    if (err)
        return err == ENOMEM ? ENOSPC : err;
    if ((err = populate(p, size))) {
        munmap(p, size);
        return err == ENOMEM || err == EFAULT ? ENOSPC : err;
    }
    *out = p;
    return 0;
}

int wvm__prim_map_thp(void *want, size_t size, size_t align, void **out)
{
    void *p;
    int err;
    if (want) {
        err = map_rw(want, size, 0, &p);
    } else {
        err = map_rw(NULL, size + align, MAP_NORESERVE, &p);
        if (!err) { /* trim to the alignment */
            uintptr_t raw = (uintptr_t)p, start = (raw + align - 1) & ~(uintptr_t)(align - 1);
            if (start > raw)
                munmap(p, start - raw);
            if (raw + size + align > start + size)
                munmap((void *)(start + size), raw + size + align - start - size);
            p = (void *)start;
        }
    }
    if (err)
        return err;
    madvise(p, size, MADV_HUGEPAGE);
    if ((err = populate(p, size))) {
        munmap(p, size);
        return err;
    }
    *out = p;
    return 0;
}
