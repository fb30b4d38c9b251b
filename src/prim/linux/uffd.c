/* userfaultfd: registration, async write-protect, UFFDIO_MOVE. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <winvmem/stats.h>

#include "prim/linux/prim.h"
#include "prim/linux/uffd.h"

/* Debian 12's headers are 6.1: constants of Linux 6.7 / 6.8. */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif
#ifndef UFFDIO_MOVE
struct uffdio_move {
    __u64 dst, src, len, mode;
    __s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct uffdio_move)
#endif
#ifndef UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES (1 << 1)
#endif

static int uffd = -1;
static uint64_t features;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool ww_ok, move_ok, pagemap_ok;

bool wvm__prim_pagemap_probe(void); /* pagemap.c */

static void open_uffd_once(void);

/* Probes once and records the verdicts (stats, WINVMEM_VERBOSE). */
static void open_uffd(void)
{
    open_uffd_once();
    int no_uffd = uffd < 0 ? ENOSYS : 0;
    wvm__mech_record(WVM_MECH_UFFD_WP_ASYNC,
                     no_uffd                              ? no_uffd
                     : (features & UFFD_FEATURE_WP_ASYNC) ? 0
                                                          : ENOTSUP,
                     NULL);
    wvm__mech_record(WVM_MECH_PAGEMAP_SCAN, pagemap_ok ? 0 : ENOTTY, NULL);
    wvm__mech_record(WVM_MECH_UFFDIO_MOVE,
                     no_uffd   ? no_uffd
                     : move_ok ? 0
                               : ENOTSUP,
                     move_ok ? "AWE maps memfd pages (measured faster)" : NULL);
}

static void open_uffd_once(void)
{
    pagemap_ok = wvm__prim_pagemap_probe();
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0)
        return;
    /* Ask for every feature we might use; a kernel that lacks one refuses the whole set, so
     * fall back to asking for fewer. */
    const uint64_t want[] = {
        UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_MOVE,
        UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        struct uffdio_api api = {.api = UFFD_API, .features = want[i]};
        if (!ioctl(fd, UFFDIO_API, &api)) {
            uffd = fd;
            features = api.features;
            ww_ok = (features & UFFD_FEATURE_WP_ASYNC) && pagemap_ok;
            move_ok = (features & UFFD_FEATURE_MOVE) != 0;
            return;
        }
        /* UFFDIO_API may be issued only once per descriptor, even when it fails. */
        close(fd);
        fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
        if (fd < 0)
            return;
    }
    close(fd);
}

bool wvm__prim_ww_available(void)
{
    pthread_once(&once, open_uffd);
    return ww_ok;
}

bool wvm__prim_uffd_move_available(void)
{
    pthread_once(&once, open_uffd);
    return move_ok;
}

static int do_register(void *addr, size_t len, uint64_t mode)
{
    pthread_once(&once, open_uffd);
    if (uffd < 0)
        return ENOSYS;
    struct uffdio_register r = {.range = {(uintptr_t)addr, len}, .mode = mode};
    return ioctl(uffd, UFFDIO_REGISTER, &r) ? errno : 0;
}

int wvm__prim_ww_register(void *addr, size_t len)
{
    return do_register(addr, len, UFFDIO_REGISTER_MODE_WP);
}

int wvm__prim_uffd_register_missing(void *addr, size_t len)
{
    return do_register(addr, len, UFFDIO_REGISTER_MODE_MISSING);
}

int wvm__prim_ww_unregister(void *addr, size_t len)
{
    if (uffd < 0)
        return ENOSYS;
    struct uffdio_range r = {(uintptr_t)addr, len};
    return ioctl(uffd, UFFDIO_UNREGISTER, &r) ? errno : 0;
}

int wvm__prim_ww_protect(void *addr, size_t len)
{
    if (uffd < 0)
        return ENOSYS;
    struct uffdio_writeprotect wp = {.range = {(uintptr_t)addr, len},
                                     .mode = UFFDIO_WRITEPROTECT_MODE_WP};
    for (;;) {
        if (!ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            return errno;
    }
}

int wvm__prim_uffd_move(void *dst, void *src, size_t len)
{
    if (uffd < 0)
        return ENOSYS;
    struct uffdio_move m = {(uintptr_t)dst, (uintptr_t)src, len, UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES,
                            0};
    while (ioctl(uffd, UFFDIO_MOVE, &m)) {
        if (errno != EAGAIN || m.move <= 0)
            return errno;
        m.dst += (uint64_t)m.move; /* partial move: continue after what was moved */
        m.src += (uint64_t)m.move;
        m.len -= (uint64_t)m.move;
        m.move = 0;
    }
    return 0;
}
