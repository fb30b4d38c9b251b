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

#include "prim/options.h"
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

static int uffd = -1;
/* The features this descriptor enabled: what it asked for, not what UFFDIO_API reports (the
 * kernel answers with every feature it has; asking a fork child's descriptor for those enables
 * UFFD_FEATURE_EVENT_REMOVE / _UNMAP / _FORK, whose events block the thread that caused them
 * until a reader takes them: a child's madvise(MADV_DONTNEED) of a registered range then waits
 * forever; EVENT_FORK also needs CAP_SYS_PTRACE). */
static uint64_t features;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool ww_ok, move_ok, pagemap_ok;
static _Atomic int uffd_pid;
static pthread_mutex_t reopen_lock = PTHREAD_MUTEX_INITIALIZER;


static void open_uffd_once(void);

/* Probes once and records the verdicts (stats, WINVMEM_VERBOSE); WINVMEM_USERFAULTFD=0 turns
 * both features off after the probe (they then fail as on an older kernel). */
static void open_uffd(void)
{
    open_uffd_once();
    int no_uffd = uffd < 0 ? ENOSYS : 0;
    const char *off = wvm__option(WVM_OPT_USERFAULTFD) ? NULL : "WINVMEM_USERFAULTFD=0";
    int wp_err = no_uffd ? no_uffd : (features & UFFD_FEATURE_WP_ASYNC) ? 0 : ENOTSUP;
    wvm__mech_record(WVM_MECH_UFFD_WP_ASYNC, wp_err, off);
    wvm__mech_record(WVM_MECH_PAGEMAP_SCAN, pagemap_ok ? 0 : ENOTTY, off);
    wvm__mech_record(WVM_MECH_UFFDIO_MOVE, no_uffd ? no_uffd : move_ok ? 0 : ENOTSUP, off);
    if (off)
        ww_ok = move_ok = false;
}

/* A userfaultfd with exactly the features of want (no event features: nothing reads the
 * descriptor), or -1. */
int wvm__prim_uffd_open(uint64_t want)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0)
        return -1;
    struct uffdio_api api = {.api = UFFD_API, .features = want};
    if (ioctl(fd, UFFDIO_API, &api)) { /* refused: the descriptor cannot be asked again */
        close(fd);
        return -1;
    }
    return fd;
}

static void open_uffd_once(void)
{
    pagemap_ok = wvm__prim_pagemap_probe();
    /* Every feature we might use; a kernel that lacks one refuses the whole set, so fall back
     * to fewer. SIGBUS: a missing-page fault in a MISSING-mode range (an AWE window page with
     * nothing mapped) raises SIGBUS at once instead of waiting for a handler thread. */
    const uint64_t want[] = {
        UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_MOVE |
            UFFD_FEATURE_SIGBUS,
        UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
    };
    for (size_t i = 0; i < sizeof want / sizeof *want && uffd < 0; i++)
        if ((uffd = wvm__prim_uffd_open(want[i])) >= 0)
            features = want[i];
    if (uffd < 0)
        return;
    uffd_pid = getpid();
    ww_ok = (features & UFFD_FEATURE_WP_ASYNC) && pagemap_ok;
    move_ok = (features & UFFD_FEATURE_MOVE) && (features & UFFD_FEATURE_SIGBUS);
}

/* The process's userfaultfd. A descriptor inherited through fork still speaks for the parent's
 * address space: the child opens its own (the child's copies of registered ranges lost their
 * registration in the fork; see doc/porting.md). */
static int the_uffd(void)
{
    pthread_once(&once, open_uffd);
    return wvm__prim_uffd_here(&uffd, &uffd_pid, &reopen_lock, features);
}

int wvm__prim_uffd_here(int *fd, _Atomic int *pid, pthread_mutex_t *lock, uint64_t want)
{
    if (*fd < 0 || atomic_load_explicit(pid, memory_order_acquire) == getpid())
        return *fd;
    pthread_mutex_lock(lock);
    if (atomic_load(pid) != getpid()) {
        int nfd = wvm__prim_uffd_open(want);
        if (nfd >= 0) {
            close(*fd);
            *fd = nfd;
            atomic_store_explicit(pid, getpid(), memory_order_release);
        }
    }
    pthread_mutex_unlock(lock);
    /* never the parent's: its ioctls would act on the parent's address space */
    return atomic_load(pid) == getpid() ? *fd : -1;
}

void wvm__prim_uffd_fork(int phase)
{
    wvm__prim_fork_lock(&reopen_lock, phase);
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
    int fd = the_uffd();
    if (fd < 0)
        return ENOSYS;
    struct uffdio_register r = {.range = {(uintptr_t)addr, len}, .mode = mode};
    if (!ioctl(fd, UFFDIO_REGISTER, &r))
        return 0;
    /* A range keeps its READONLY registration (uffd_ro.c) after its allocation is gone:
     * taken back here, for the new owner. */
    int err = errno;
    if (err != EBUSY || wvm__prim_ro_unregister(addr, len))
        return err;
    return ioctl(fd, UFFDIO_REGISTER, &r) ? errno : 0;
}

int wvm__prim_ww_register(void *addr, size_t len)
{
    return do_register(addr, len, UFFDIO_REGISTER_MODE_WP);
}

int wvm__prim_uffd_register_missing(void *addr, size_t len)
{
    return do_register(addr, len, UFFDIO_REGISTER_MODE_MISSING);
}

int wvm__prim_uffd_unregister(int fd, void *addr, size_t len)
{
    if (fd < 0)
        return ENOSYS;
    struct uffdio_range r = {(uintptr_t)addr, len};
    return ioctl(fd, UFFDIO_UNREGISTER, &r) ? errno : 0;
}

int wvm__prim_ww_unregister(void *addr, size_t len)
{
    return wvm__prim_uffd_unregister(the_uffd(), addr, len);
}

static int writeprotect(void *addr, size_t len, uint64_t mode)
{
    int fd = the_uffd();
    if (fd < 0)
        return ENOSYS;
    struct uffdio_writeprotect wp = {.range = {(uintptr_t)addr, len}, .mode = mode};
    for (;;) {
        if (!ioctl(fd, UFFDIO_WRITEPROTECT, &wp))
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            return errno;
    }
}

int wvm__prim_ww_protect(void *addr, size_t len)
{
    return writeprotect(addr, len, UFFDIO_WRITEPROTECT_MODE_WP);
}

int wvm__prim_ww_unprotect(void *addr, size_t len)
{
    return writeprotect(addr, len, 0);
}

/* A no-op write to each page: breaks copy-on-write sharing (left by fork) so that the page is
 * this process's own again, without changing a byte. */
static void own_pages(char *p, size_t len)
{
    for (size_t off = 0; off < len; off += 4096)
        __atomic_fetch_add(p + off, 0, __ATOMIC_RELAXED);
}

int wvm__prim_uffd_move(void *dst, void *src, size_t len)
{
    int fd = the_uffd();
    if (fd < 0)
        return ENOSYS;
    struct uffdio_move m = {(uintptr_t)dst, (uintptr_t)src, len, 0, 0};
    bool owned = false;
    while (ioctl(fd, UFFDIO_MOVE, &m)) {
        int err = errno;
        if (m.move > 0) { /* partial move: continue after what was moved */
            m.dst += (uint64_t)m.move;
            m.src += (uint64_t)m.move;
            m.len -= (uint64_t)m.move;
        } else if (err == EBUSY && !owned) { /* pages still shared with a forked child */
            own_pages((char *)(uintptr_t)m.src, m.len);
            owned = true;
        } else if (err != EAGAIN) {
            return err;
        }
        m.move = 0;
    }
    return 0;
}
