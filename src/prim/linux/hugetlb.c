/* hugetlb and THP mappings for MEM_LARGE_PAGES. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <winvmem/stats.h>

#include "prim/linux/awe.h"
#include "prim/linux/hugetlb.h"
#include "prim/linux/prim.h"
#include "prim/linux/sysfiles.h"

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
    void *p = NULL;
    /* Without MAP_NORESERVE the kernel reserves the pool pages at mmap time (ENOMEM when it
     * cannot); populating then takes them from that reservation. */
    int err = map_rw(want, size, MAP_HUGETLB, &p);
    if (err)
        return err == ENOMEM ? ENOSPC : err;
    if ((err = wvm__prim_populate(p, size))) { /* reported, where a touch would SIGBUS */
        munmap(p, size);
        return err == ENOMEM ? ENOSPC : err;
    }
    *out = p;
    return 0;
}

int wvm__prim_map_thp(void *want, size_t size, size_t align, void **out)
{
    void *p;
    int err = wvm__prim_map_anon_rw(want, size, align, true, &p);
    if (!err && (err = wvm__prim_populate(p, size)))
        munmap(p, size);
    if (!err)
        *out = p;
    return err;
}
