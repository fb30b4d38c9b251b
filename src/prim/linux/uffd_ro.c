/* READONLY by userfaultfd write-protect: the second, synchronous userfaultfd (uffd.h). */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <winvmem/stats.h>

#include "prim/options.h"
#include "prim/linux/prim.h"
#include "prim/linux/section.h"
#include "prim/linux/uffd.h"

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#define RO_FEATURES (UFFD_FEATURE_SIGBUS | UFFD_FEATURE_WP_UNPOPULATED)

static int ro_fd = -1;
static bool fd_ok; /* the descriptor works and userfaultfd is allowed */
static bool ro_ok; /* ...and PAGE_READONLY uses it */
static _Atomic int ro_pid;
static pthread_once_t ro_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t ro_reopen = PTHREAD_MUTEX_INITIALIZER;

/* 0 when a page of scratch memory can be registered and write-protected, else the errno. */
static int probe(int fd)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return errno;
    struct uffdio_register r = {.range = {(uintptr_t)p, 4096}, .mode = UFFDIO_REGISTER_MODE_WP};
    struct uffdio_writeprotect wp = {.range = r.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
    int err = ioctl(fd, UFFDIO_REGISTER, &r) || ioctl(fd, UFFDIO_WRITEPROTECT, &wp) ? errno : 0;
    munmap(p, 4096);
    return err;
}

static void open_ro(void)
{
    int fd = wvm__prim_uffd_open(RO_FEATURES);
    int err = fd < 0 ? ENOSYS : probe(fd);
    const char *off = !wvm__option(WVM_OPT_USERFAULTFD)     ? "WINVMEM_USERFAULTFD=0"
                      : !wvm__option(WVM_OPT_UFFD_READONLY) ? "WINVMEM_UFFD_READONLY=0"
                                                            : NULL;
    wvm__mech_record(WVM_MECH_UFFD_WP_SIGBUS, err, off);
    if (err || !wvm__option(WVM_OPT_USERFAULTFD)) {
        if (fd >= 0)
            close(fd);
        return;
    }
    ro_fd = fd;
    ro_pid = getpid();
    fd_ok = true;
    ro_ok = !off;
}

bool wvm__prim_ro_available(void)
{
    pthread_once(&ro_once, open_ro);
    return ro_ok;
}

bool wvm__prim_wp_available(void)
{
    pthread_once(&ro_once, open_ro);
    return fd_ok;
}

/* The process's READONLY userfaultfd (a child of fork opens its own). */
static int the_fd(void)
{
    return wvm__prim_wp_available() ? wvm__prim_uffd_here(&ro_fd, &ro_pid, &ro_reopen, RO_FEATURES)
                                    : -1;
}

void wvm__prim_ro_fork(int phase)
{
    wvm__prim_fork_lock(&ro_reopen, phase);
}

int wvm__prim_ro_register(void *addr, size_t len)
{
    int fd = the_fd();
    if (fd < 0)
        return ENOSYS;
    struct uffdio_register r = {.range = {(uintptr_t)addr, len}, .mode = UFFDIO_REGISTER_MODE_WP};
    return ioctl(fd, UFFDIO_REGISTER, &r) ? errno : 0;
}

int wvm__prim_ro_unregister(void *addr, size_t len)
{
    return wvm__prim_uffd_unregister(the_fd(), addr, len);
}

int wvm__prim_ro_protect(void *addr, size_t len, bool on)
{
    int err = wvm__prim_fallible(WVM_SYS_OTHER);
    return err ? err : wvm__prim_ro_protect_back(addr, len, on);
}

int wvm__prim_ro_protect_back(void *addr, size_t len, bool on)
{
    int fd = the_fd();
    if (fd < 0)
        return ENOSYS;
    struct uffdio_writeprotect wp = {.range = {(uintptr_t)addr, len},
                                     .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0};
    for (;;) {
        if (!ioctl(fd, UFFDIO_WRITEPROTECT, &wp))
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            return errno;
    }
}

static bool mark_ok;
static pthread_once_t mark_once = PTHREAD_ONCE_INIT;

static void probe_mark(void)
{
    bool pagemap = wvm__prim_pagemap_readable();
    int err = !wvm__caps()->guard_markers ? ENOTSUP
              : !wvm__prim_wp_available() ? ENOSYS
              : !pagemap                  ? ENOTTY
                                          : 0;
    const char *off = !wvm__option(WVM_OPT_MARKER_NOACCESS) ? "WINVMEM_MARKER_NOACCESS=0" : NULL;
    wvm__mech_record(WVM_MECH_MARKER_NOACCESS, err, off);
    mark_ok = !err && !off;
}

bool wvm__prim_mark_available(void)
{
    pthread_once(&mark_once, probe_mark);
    return mark_ok;
}
