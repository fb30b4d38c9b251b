/* The working set and NUMA placement as the kernel sees them: residency of pages
 * (QueryWorkingSetEx), read-ahead (PrefetchVirtualMemory), trimming and the lock limit
 * (SetProcessWorkingSetSize), memory policy (VirtualAllocExNuma). Every function returns 0 or
 * an errno, as everywhere in prim. */
#ifndef WVM_PRIM_WS_H
#define WVM_PRIM_WS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the kernel knows of one page of this process. */
typedef struct wvm_kpage {
    bool present;   /* mapped to a page frame (pagemap bit 63): in the working set */
    bool swapped;   /* in swap (bit 62) */
    bool exclusive; /* the frame is mapped once, by us (bit 56) */
    /* The page frame number is visible (CAP_SYS_ADMIN) and /proc/kpagecount and
     * /proc/kpageflags could be read: the next four are the kernel's. Else they are 0. */
    bool frame_known;
    uint32_t mapcount; /* mappings of the frame, all processes (kpagecount) */
    bool mlocked;      /* kpageflags MLOCKED */
    bool huge;         /* kpageflags HUGE or THP: mapped as part of a large page */
    bool hwpoison;     /* kpageflags HWPOISON: the frame was reported bad */
    int node;          /* NUMA node of the frame (move_pages), -1 when unknown */
} wvm_kpage;

/* Fills out[i] for the page holding pages[i] (each below the user limit). Pages the process
 * does not map come back all false. Never faults a page in. */
int wvm__prim_kpages(const uintptr_t *pages, size_t n, wvm_kpage *out);

/* MADV_WILLNEED: start reading in [addr, addr+size) (file pages into the page cache, swapped
 * pages into the swap cache) without mapping anything. ENOMEM: part of it is not mapped. */
int wvm__prim_prefetch(void *addr, size_t size);

/* MADV_PAGEOUT (Linux >= 5.4) over every mapping of the process that can give up pages: their
 * pages leave the working set (file pages are dropped from it, anonymous pages are swapped out
 * when there is swap). Locked and hugetlb mappings are left alone. */
int wvm__prim_trim_all(void);

/* RLIMIT_MEMLOCK's soft limit raised to at least bytes (the hard limit too when it is lower,
 * which needs CAP_SYS_RESOURCE: EPERM otherwise). Never lowers it. */
int wvm__prim_memlock_raise(uint64_t bytes);

/* The NUMA nodes this process may allocate from (get_mempolicy MPOL_F_MEMS_ALLOWED), one bit
 * per node in mask[0..words); ENOSYS on kernels without NUMA (then node 0 is all there is). */
int wvm__prim_numa_nodes(uint64_t *mask, size_t words);
/* mbind(MPOL_PREFERRED, node) on [addr, addr+size), moving pages already there (MPOL_MF_MOVE)
 * when the kernel can; node -1: back to the default policy (MPOL_DEFAULT). */
int wvm__prim_numa_prefer(void *addr, size_t size, int node);
/* The memory policy of the mapping holding addr: *mode MPOL_* (0 default, 1 preferred), *node
 * the preferred node or -1. */
int wvm__prim_numa_policy(void *addr, int *mode, int *node);
#endif
