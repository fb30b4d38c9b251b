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
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#define RO_FEATURES (UFFD_FEATURE_SIGBUS | UFFD_FEATURE_WP_UNPOPULATED)

static int ro_fd = -1;
static bool fd_ok; /* the descriptor works and userfaultfd is allowed */
static bool ro_ok; /* ...and PAGE_READONLY uses it */
static _Atomic int ro_pid;
static pthread_once_t ro_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t ro_reopen = PTHREAD_MUTEX_INITIALIZER;

/* 0 when a page of scratch memory can be registered and write-protected, else the errno. */
static int write_protect(char *p, void *fd)
{
    struct uffdio_register r = {.range = {(uintptr_t)p, 4096}, .mode = UFFDIO_REGISTER_MODE_WP};
    struct uffdio_writeprotect wp = {.range = r.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
    int u = *(int *)fd;
    return ioctl(u, UFFDIO_REGISTER, &r) || ioctl(u, UFFDIO_WRITEPROTECT, &wp) ? errno : 0;
}

static void open_ro(void)
{
    int fd = wvm__prim_uffd_open(RO_FEATURES);
    int err = fd < 0 ? ENOSYS : wvm__prim_probe_scratch(4096, write_protect, &fd);
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

/* UFFDIO_COPY into [dst, dst+len); in_signal: no fault injection, no reopening in a fork
 * child (its fork handler reopened the descriptor already). */
static int fill(void *dst, const void *src, size_t len, bool wp, bool in_signal)
{
    int fd = in_signal ? (ro_pid == getpid() ? ro_fd : -1) : the_fd();
    if (fd < 0)
        return ENOSYS;
    struct uffdio_copy c = {.dst = (uintptr_t)dst,
                            .src = (uintptr_t)src,
                            .len = len,
                            .mode = wp ? UFFDIO_COPY_MODE_WP : 0};
    while (c.len) {
        c.copy = 0;
        if (!ioctl(fd, UFFDIO_COPY, &c))
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            return errno;
        if (c.copy > 0) { /* a part went in */
            c.dst += (uint64_t)c.copy;
            c.src += (uint64_t)c.copy;
            c.len -= (uint64_t)c.copy;
        }
    }
    return 0;
}

int wvm__prim_ro_fill(void *dst, const void *src, size_t len, bool wp)
{
    int err = wvm__prim_fallible(WVM_SYS_OTHER);
    return err ? err : fill(dst, src, len, wp, false);
}

int wvm__prim_ro_fill_back(void *dst, const void *src, size_t len, bool wp)
{
    return fill(dst, src, len, wp, false);
}

int wvm__prim_sig_ro_fill(void *dst, const void *src, size_t len, bool wp)
{
    return fill(dst, src, len, wp, true);
}

static bool data_ok;
static pthread_once_t data_once = PTHREAD_ONCE_INIT;

/* 0 when UFFDIO_COPY replaces a guard marker with the page it brings (6.18 does: the marker
 * counts as an empty entry there), else the errno or EEXIST. */
static int fill_marker(char *p, void *unused)
{
    (void)unused;
    int err = wvm__prim_ro_register(p, 4096);
    p[4096] = 0x5a;
    if (!err)
        err = madvise(p, 4096, MADV_GUARD_INSTALL) ? errno : 0;
    if (!err)
        err = fill(p, p + 4096, 4096, false, false);
    if (!err && p[0] != 0x5a)
        err = EIO;
    if (!err)
        err = wvm__prim_ro_unregister(p, 4096);
    return err;
}

static void probe_data(void)
{
    int err = !wvm__prim_mark_available() ? ENOTSUP
                                          : wvm__prim_probe_scratch(2 * 4096, fill_marker, NULL);
    const char *off = !wvm__option(WVM_OPT_MARKER_DATA) ? "WINVMEM_MARKER_DATA=0" : NULL;
    wvm__mech_record(WVM_MECH_MARKER_DATA, err, off);
    data_ok = !err && !off;
}

bool wvm__prim_mark_data_available(void)
{
    pthread_once(&data_once, probe_data);
    return data_ok;
}
