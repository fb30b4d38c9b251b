/* Anonymous read-write mappings: AWE windows, the physical-page store, the THP fallback. */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#include "prim/linux/awe.h"
#include "prim/linux/prim.h"

#ifndef MADV_POPULATE_WRITE /* Linux 5.14 */
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

int wvm__prim_map_anon_rw(void *want, size_t size, size_t align, bool huge, void **out)
{
    const int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    void *p;
    if (want) {
        p = mmap(want, size, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != MAP_FAILED && p != want) {
            munmap(p, size);
            return EEXIST;
        }
    } else {
        p = mmap(NULL, size + align, prot, flags, -1, 0);
        if (p != MAP_FAILED) {
            uintptr_t raw = (uintptr_t)p, start = (raw + align - 1) & ~(uintptr_t)(align - 1);
            if (start > raw)
                munmap(p, start - raw);
            if (raw + align > start)
                munmap((void *)(start + size), raw + align - start);
            p = (void *)start;
        }
    }
    if (p == MAP_FAILED)
        return errno;
    madvise(p, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    *out = p;
    return 0;
}

int wvm__prim_populate(void *addr, size_t len)
{
    for (;;) {
        if (!madvise(addr, len, MADV_POPULATE_WRITE))
            return 0;
        if (errno != EINTR && errno != EAGAIN)
            return errno == EFAULT ? ENOMEM : errno;
    }
}
