/* VirtualAllocExNuma's preferred node: the kernel's MPOL_PREFERRED policy on the allocation's
 * range, set before the allocation is born (so no page of it is ever placed without it) and
 * kept for its life (pages committed later follow it, as Windows documents); when the
 * allocation dies, its arena range goes back to the default policy. */
#ifndef WVM_NUMA_H
#define WVM_NUMA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/snap.h"

/* In wvm_snap.type: the allocation has a preferred node (above every MEM_* flag kept there,
 * below the kinds of index.h). */
#define WVM_TYPE_NUMA 0x02000000u

/* Whether node is one this process may allocate from (kernels without NUMA have node 0). */
bool wvm__numa_valid(uint32_t node);
/* A wvm_reserve_req fill: ctx is the node (wvm__numa_ctx). */
int wvm__numa_fill(void *ctx, uintptr_t base, size_t size, bool in_arena);
void *wvm__numa_ctx(uint32_t node);
/* An allocation with WVM_TYPE_NUMA is released or given back: its arena range returns to the
 * default policy (a dedicated mapping takes its policy with it when unmapped). */
void wvm__numa_forget(const wvm_snap *s, bool in_arena);
#endif
