/* The preferred NUMA node of an allocation (numa.h). mbind(MPOL_PREFERRED) splits the kernel
 * mapping around the allocation (up to two more mappings per NUMA allocation in an arena);
 * the default policy on release lets the kernel merge them again. With MPOL_MF_MOVE, pages
 * that exist already (large pages are populated when mapped) move to the node when they can:
 * the preference, like Windows', is not a guarantee. */
#include <errno.h>

#include "core/numa.h"
#include "prim/linux/prim_ws.h"

#define MASK_WORDS 16 /* nodes 0..1023 */

bool wvm__numa_valid(uint32_t node)
{
    uint64_t mask[MASK_WORDS];
    int err = wvm__prim_numa_nodes(mask, MASK_WORDS);
    if (err)
        return node == 0; /* no NUMA in this kernel: one node */
    return node < MASK_WORDS * 64 && (mask[node / 64] >> (node % 64) & 1);
}

void *wvm__numa_ctx(uint32_t node)
{
    return (void *)(uintptr_t)node;
}

int wvm__numa_fill(void *ctx, uintptr_t base, size_t size, bool in_arena)
{
    (void)in_arena;
    int err = wvm__prim_numa_prefer((void *)base, size, (int)(uintptr_t)ctx);
    if (err == ENOSYS)
        return 0; /* no NUMA in this kernel: node 0 is all there is */
    if (err)
        wvm__prim_numa_prefer((void *)base, size, -1); /* as it was, if half done */
    return err;
}

void wvm__numa_forget(const wvm_snap *s, bool in_arena)
{
    if (in_arena && (s->type & WVM_TYPE_NUMA))
        wvm__prim_numa_prefer((void *)s->base, s->size, -1);
}
