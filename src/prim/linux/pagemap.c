/* PAGEMAP_SCAN (Linux >= 6.7) on /proc/self/pagemap: written pages of async write-protected
 * ranges, optionally write-protecting them again in the same walk. */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prim/linux/prim.h"
#include "prim/linux/sysfiles.h"
#include "prim/linux/uffd.h"

#ifndef PAGEMAP_SCAN
struct page_region {
    uint64_t start, end, categories;
};
struct pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN          _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING   (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#define PAGE_IS_WRITTEN       (1 << 1)
#endif
#ifndef PAGE_IS_PRESENT
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#endif

static wvm_self_fd pagemap = WVM_SELF_FD_INIT;

static int pagemap_fd(void)
{
    return wvm__sysfiles_self_fd(&pagemap, "/proc/self/pagemap", O_RDONLY);
}

void wvm__prim_pagemap_fork(int phase)
{
    wvm__prim_fork_lock(&pagemap.lock, phase);
}

static int scan_once(int fd, struct pm_scan_arg *arg)
{
    for (;;) {
        long n = ioctl(fd, PAGEMAP_SCAN, arg);
        if (n >= 0)
            return (int)-n - 1; /* -1 - regions: negative means success */
        if (errno != EINTR && errno != EAGAIN)
            return errno;
    }
}

bool wvm__prim_pagemap_readable(void)
{
    uint64_t e;
    int fd = pagemap_fd();
    return fd >= 0 && pread(fd, &e, sizeof e, (off_t)((uintptr_t)&e / 4096 * sizeof e)) == sizeof e;
}

static int scan_written(char *p, void *fd)
{
    struct page_region v[1];
    struct pm_scan_arg arg = {.size = sizeof arg,
                              .start = (uintptr_t)p,
                              .end = (uintptr_t)p + 4096,
                              .vec = (uintptr_t)v,
                              .vec_len = 1,
                              .category_mask = PAGE_IS_WRITTEN,
                              .return_mask = PAGE_IS_WRITTEN};
    int err = scan_once(*(int *)fd, &arg);
    return err < 0 ? 0 : err ? err : EIO;
}

bool wvm__prim_pagemap_probe(void)
{
    int fd = pagemap_fd();
    return fd >= 0 && !wvm__prim_probe_scratch(4096, scan_written, &fd);
}

int wvm__prim_ww_scan(uintptr_t start, uintptr_t end, bool rearm, uint64_t max_pages,
                      wvm_page_fn emit, void *ctx, uintptr_t *stop)
{
    int fd = pagemap_fd();
    if (fd < 0)
        return EIO;
    enum { VEC = 64 };
    struct page_region v[VEC];
    uintptr_t at = start;
    while (at < end && max_pages) {
        struct pm_scan_arg arg = {
            .size = sizeof arg,
            .flags = PM_SCAN_CHECK_WPASYNC | (rearm ? PM_SCAN_WP_MATCHING : 0),
            .start = at,
            .end = end,
            .vec = (uintptr_t)v,
            .vec_len = VEC,
            .max_pages = max_pages,
            .category_mask = PAGE_IS_WRITTEN,
            .return_mask = PAGE_IS_WRITTEN,
        };
        int r = scan_once(fd, &arg);
        if (r >= 0)
            return r;
        for (int i = 0; i < -r - 1; i++)
            for (uintptr_t pg = v[i].start; pg < v[i].end; pg += 4096, max_pages--)
                emit(ctx, pg);
        if (arg.walk_end <= at)
            return EIO; /* no progress: never seen, but never loop forever */
        at = arg.walk_end;
    }
    if (stop)
        *stop = at;
    return 0;
}

/* pagemap entries: bit 63 present, bit 62 swap-type entry, bits 0-4 then its swap type. The
 * kernel reports its page-table markers (userfaultfd write-protect of an empty entry, guard
 * markers) as swap entries of the last type, SWP_PTE_MARKER = 31 (Linux >= 5.19): they hold
 * no data. Every other swap-type entry (swapped out, under migration, poisoned) does. */
#define PM_PRESENT     (1ull << 63)
#define PM_SWAP        (1ull << 62)
#define PM_SWAP_TYPE   31ull
#define SWP_PTE_MARKER 31ull

static bool holds_data(uint64_t e)
{
    return (e & PM_PRESENT) || ((e & PM_SWAP) && (e & PM_SWAP_TYPE) != SWP_PTE_MARKER);
}

int wvm__prim_pages_holding(uintptr_t start, uintptr_t end,
                            void (*fn)(void *ctx, uintptr_t from, uintptr_t to), void *ctx)
{
    int fd = pagemap_fd();
    if (fd < 0)
        return EIO;
    enum { BATCH = 256 };
    uint64_t e[BATCH];
    uintptr_t run = 0; /* start of the run of pages with data being built, or 0 */
    for (uintptr_t at = start; at < end;) {
        size_t n = (end - at) / 4096 < BATCH ? (end - at) / 4096 : BATCH;
        ssize_t got = pread(fd, e, n * sizeof *e, (off_t)(at / 4096 * sizeof *e));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0 || got % (ssize_t)sizeof *e)
            return got < 0 ? errno : EIO;
        for (size_t i = 0; i < (size_t)got / sizeof *e; i++, at += 4096) {
            bool data = holds_data(e[i]);
            if (data && !run)
                run = at;
            if (!data && run) {
                fn(ctx, run, at);
                run = 0;
            }
        }
    }
    if (run)
        fn(ctx, run, end);
    return 0;
}
