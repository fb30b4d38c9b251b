/* memfd_create, fallocate and shared fixed mappings for the AWE memfd backend. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <winvmem/stats.h>

#include "prim/linux/memfd.h"
#include "prim/linux/prim.h"

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif

int wvm__prim_memfd_open(int *fd)
{
    int f = memfd_create("winvmem-awe", MFD_CLOEXEC);
    int err = f < 0 ? errno : 0;
    wvm__mech_record(WVM_MECH_MEMFD, err, NULL);
    if (!err)
        *fd = f;
    return err;
}

int wvm__prim_memfd_alloc(int fd, uint64_t off, size_t len)
{
    for (;;) {
        if (!fallocate(fd, 0, (off_t)off, (off_t)len))
            return 0;
        if (errno != EINTR)
            return errno == ENOSPC ? ENOMEM : errno;
    }
}

int wvm__prim_memfd_free(int fd, uint64_t off, size_t len)
{
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) ? errno
                                                                                             : 0;
}

int wvm__prim_map_shared_fixed(void *addr, size_t len, int fd, uint64_t off)
{
    void *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, (off_t)off);
    return p == MAP_FAILED ? errno : 0;
}
