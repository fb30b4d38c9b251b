/* Free address space inside winvmem's arenas, as extents ordered by address and augmented
 * with the largest extent of each subtree (a treap), so that lowest-fit (bottom-up), highest-fit
 * (MEM_TOP_DOWN) and take-at-address are O(log n). Caller serialises (placement lock).
 * All addresses and lengths are multiples of the allocation granularity. */
#ifndef WVM_FREESPACE_H
#define WVM_FREESPACE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Adds [start, start+len), merging with neighbours. Returns 0 or ENOMEM. */
int wvm__free_add(uintptr_t start, size_t len);
/* Takes len bytes from the lowest (or highest) extent that fits. ENOMEM when none. */
int wvm__free_take_low(size_t len, uintptr_t *out);
int wvm__free_take_high(size_t len, uintptr_t *out);
/* Takes exactly [start, start+len); ENOENT when not wholly free, ENOMEM on split failure. */
int wvm__free_take_at(uintptr_t start, size_t len);
/* Finds (does not take) the lowest, or with top_down the highest, start s that is a multiple of
 * align (a power of two >= 64 KiB) such that [s, s+len) is free and inside [lo, hi).
 * ENOMEM when there is none. */
int wvm__free_find(uintptr_t lo, uintptr_t hi, size_t len, size_t align, bool top_down,
                   uintptr_t *out);
/* Number of extents (stats, invariant checker) and the free bytes they hold. */
size_t wvm__free_extents(size_t *bytes);
#endif
