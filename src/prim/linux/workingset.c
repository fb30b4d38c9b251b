/* Residency (pagemap, kpagecount, kpageflags, move_pages), read-ahead, trimming, the lock
 * limit and NUMA policy. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "prim/linux/prim.h"
#include "prim/linux/prim_ws.h"

#ifndef MADV_PAGEOUT /* Linux 5.4 */
#define MADV_PAGEOUT 21
#endif

#define PM_PRESENT   (1ull << 63)
#define PM_SWAPPED   (1ull << 62)
#define PM_EXCLUSIVE (1ull << 56)
#define PM_PFN       ((1ull << 55) - 1)

#define KPF_HUGE     (1ull << 17)
#define KPF_HWPOISON (1ull << 19)
#define KPF_THP      (1ull << 22)
#define KPF_MLOCKED  (1ull << 33)

enum { MPOL_DEFAULT_ = 0, MPOL_PREFERRED_ = 1 };
#define MPOL_F_ADDR_         (1u << 1)
#define MPOL_F_MEMS_ALLOWED_ (1u << 2)
#define MPOL_MF_MOVE_        (1u << 1)

static int read_word(int fd, uint64_t index, uint64_t *out)
{
    ssize_t got = pread(fd, out, sizeof *out, (off_t)(index * sizeof *out));
    if (got == (ssize_t)sizeof *out)
        return 0;
    *out = 0;
    return got < 0 ? errno : EIO;
}

/* Reads the pagemap words of pages[0..n), one read per run of consecutive pages. */
static int read_pagemap(int fd, const uintptr_t *pages, size_t n, uint64_t *words)
{
    for (size_t i = 0; i < n;) {
        size_t run = 1;
        while (i + run < n && run < 512 && pages[i + run] == pages[i] + run * 4096)
            run++;
        ssize_t want = (ssize_t)(run * sizeof *words);
        ssize_t got = pread(fd, words + i, (size_t)want, (off_t)(pages[i] / 4096 * sizeof *words));
        if (got < 0)
            return errno;
        for (size_t k = (size_t)got / sizeof *words; k < run; k++)
            words[i + k] = 0; /* past the end of what the kernel reports: not mapped */
        i += run;
    }
    return 0;
}

/* The node of each present page, without faulting anything in (move_pages with no target). */
static void frame_nodes(const uintptr_t *pages, size_t n, wvm_kpage *out)
{
    void *addr[64];
    int status[64];
    size_t idx[64], k = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && out[i].present) {
            idx[k] = i;
            addr[k++] = (void *)pages[i];
        }
        if (k == 64 || (i == n && k)) {
            if (syscall(SYS_move_pages, 0, (unsigned long)k, addr, NULL, status, 0) == 0)
                for (size_t j = 0; j < k; j++)
                    out[idx[j]].node = status[j] >= 0 ? status[j] : -1;
            k = 0;
        }
    }
}

int wvm__prim_kpages(const uintptr_t *pages, size_t n, wvm_kpage *out)
{
    uint64_t words[64];
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pm < 0)
        return errno;
    int counts = -1, flags = -1, err = 0;
    for (size_t done = 0; done < n && !err; done += 64) {
        size_t k = n - done < 64 ? n - done : 64;
        if ((err = read_pagemap(pm, pages + done, k, words)))
            break;
        for (size_t i = 0; i < k; i++) {
            wvm_kpage *o = &out[done + i];
            uint64_t w = words[i], pfn = w & PM_PFN;
            *o = (wvm_kpage){.present = (w & PM_PRESENT) != 0,
                             .swapped = !(w & PM_PRESENT) && (w & PM_SWAPPED),
                             .exclusive = (w & PM_PRESENT) && (w & PM_EXCLUSIVE),
                             .node = -1};
            if (!o->present || !pfn)
                continue; /* no frame, or its number is hidden from us (no CAP_SYS_ADMIN) */
            if (counts == -1 && (counts = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC)) < 0)
                counts = -2; /* -1: not tried yet, -2: not readable (not root) */
            if (flags == -1 && (flags = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC)) < 0)
                flags = -2;
            uint64_t c, f;
            if (counts >= 0 && flags >= 0 && !read_word(counts, pfn, &c) &&
                !read_word(flags, pfn, &f)) {
                o->frame_known = true;
                o->mapcount = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
                o->mlocked = (f & KPF_MLOCKED) != 0;
                o->huge = (f & (KPF_HUGE | KPF_THP)) != 0;
                o->hwpoison = (f & KPF_HWPOISON) != 0;
            }
        }
        frame_nodes(pages + done, k, out + done);
    }
    if (counts >= 0)
        close(counts);
    if (flags >= 0)
        close(flags);
    close(pm);
    return err;
}

int wvm__prim_prefetch(void *addr, size_t size)
{
    return madvise(addr, size, MADV_WILLNEED) ? errno : 0;
}

int wvm__prim_trim_all(void)
{
    uintptr_t limit = wvm__caps()->user_limit;
    wvm_vma v;
    for (uintptr_t at = 0; at < limit && !wvm__prim_vma_next(at, &v) && v.start < limit;
         at = v.end) {
        if (!v.prot)
            continue; /* nothing resident can be reached through it */
        uintptr_t end = v.end < limit ? v.end : limit;
        /* EINVAL: locked, hugetlb or special mappings, which keep their pages (as locked
         * pages stay in a Windows working set); ENOMEM: unmapped meanwhile */
        if (madvise((void *)v.start, end - v.start, MADV_PAGEOUT) && errno != EINVAL &&
            errno != ENOMEM && errno != EAGAIN)
            return errno;
    }
    return 0;
}

int wvm__prim_memlock_raise(uint64_t bytes)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_MEMLOCK, &r))
        return errno;
    if (r.rlim_cur == RLIM_INFINITY || r.rlim_cur >= bytes)
        return 0;
    r.rlim_cur = bytes;
    if (r.rlim_max != RLIM_INFINITY && r.rlim_max < bytes)
        r.rlim_max = bytes;
    return setrlimit(RLIMIT_MEMLOCK, &r) ? errno : 0;
}

int wvm__prim_numa_nodes(uint64_t *mask, size_t words)
{
    for (size_t i = 0; i < words; i++)
        mask[i] = 0;
    if (syscall(SYS_get_mempolicy, NULL, mask, (unsigned long)(words * 64), NULL,
                MPOL_F_MEMS_ALLOWED_))
        return errno;
    return 0;
}

int wvm__prim_numa_prefer(void *addr, size_t size, int node)
{
    uint64_t mask[16] = {0};
    if (node >= (int)(sizeof mask * 8))
        return EINVAL;
    long r;
    if (node < 0) {
        r = syscall(SYS_mbind, addr, size, MPOL_DEFAULT_, NULL, 0UL, 0U);
    } else {
        mask[node / 64] = 1ull << (node % 64);
        r = syscall(SYS_mbind, addr, size, MPOL_PREFERRED_, mask, (unsigned long)(sizeof mask * 8),
                    MPOL_MF_MOVE_);
        if (r && errno == EIO) /* some pages could not move: they stay, the policy holds */
            r = 0;
    }
    return r ? errno : 0;
}

int wvm__prim_numa_policy(void *addr, int *mode, int *node)
{
    uint64_t mask[16] = {0};
    int m = 0;
    if (syscall(SYS_get_mempolicy, &m, mask, (unsigned long)(sizeof mask * 8), addr, MPOL_F_ADDR_))
        return errno;
    *mode = m;
    *node = -1;
    for (int i = 0; i < (int)(sizeof mask * 8); i++)
        if (mask[i / 64] >> (i % 64) & 1) {
            *node = i;
            break;
        }
    return 0;
}
