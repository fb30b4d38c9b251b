/* Address -> allocation index over 64 KiB granules: three levels (16 GiB, 32 MiB, 64 KiB
 * units; a granule entry is 4 bytes). A unit wholly inside one allocation is one entry at the
 * highest level that fits, so a 64 GiB reservation costs a few KiB, and a lookup is at most three
 * dependent loads. A granule shared by several allocations (pieces of a placeholder split at pages,
 * core/placeholder.h) gets a fourth level of 16 page entries: a fourth load, only there. Readers
 * are lock-free; writers are serialised by the caller (the placement lock). Nodes are never freed
 * while the library lives, so a racing reader never touches freed memory. */
#ifndef WVM_RADIX_H
#define WVM_RADIX_H
#include <stdint.h>

struct wvm_alloc;

/* Allocations named here are slots (core/slots.h): granule and page entries hold their 32-bit
 * offsets. [start, end) must be page aligned and below 2^47. Returns 0 or ENOMEM (then the index
 * is unchanged for this range: entries already written are cleared again). */
int wvm__radix_set(uintptr_t start, uintptr_t end, struct wvm_alloc *a);
void wvm__radix_clear(uintptr_t start, uintptr_t end);
/* [start, end), whose entries are all cur, gets the nodes a later wvm__radix_set of the same
 * range needs, so that it cannot fail. ENOMEM: nothing visible changed. */
int wvm__radix_prepare(uintptr_t start, uintptr_t end, struct wvm_alloc *cur);
struct wvm_alloc *wvm__radix_get(uintptr_t addr);
/* Lowest granule address >= addr, below limit, whose entry is non-empty; limit if none. */
uintptr_t wvm__radix_next(uintptr_t addr, uintptr_t limit);
/* The same, skipping entries of skip as if they were empty (skip NULL: radix_next). */
uintptr_t wvm__radix_next_other(uintptr_t addr, uintptr_t limit, const struct wvm_alloc *skip);
#endif
