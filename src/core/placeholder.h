/* Placeholders (VirtualAlloc2's MEM_RESERVE_PLACEHOLDER): reservations that a view
 * (MapViewOfFile3) or a private allocation (VirtualAlloc2 with MEM_REPLACE_PLACEHOLDER)
 * replaces in place, that VirtualFree splits (MEM_PRESERVE_PLACEHOLDER) and joins
 * (MEM_COALESCE_PLACEHOLDERS), and that a replaced range becomes again when it is freed or
 * unmapped with MEM_PRESERVE_PLACEHOLDER. VirtualQuery shows a placeholder as reserved private
 * memory with PAGE_NOACCESS. Splits are at pages, as Windows makes them: pieces may start and
 * end inside a 64 KiB granule (the index keeps page entries for such a granule, core/radix.h),
 * and a granule goes back to free space when the last piece in it is released. A placeholder
 * in a dedicated mapping (made at an address outside the arenas) splits the same way; the
 * pages a released piece leaves in a granule another piece lives in stay mapped (held,
 * core/index.c) until the last one goes, so that the kernel never hands them out. */
#ifndef WVM_PLACEHOLDER_H
#define WVM_PLACEHOLDER_H
#include <stdbool.h>
#include <stdint.h>

#include "core/space.h"

/* A placeholder of size bytes at want (0: anywhere; top_down as MEM_TOP_DOWN). */
uint32_t wvm__placeholder_reserve(uintptr_t want, size_t size, bool top_down, uintptr_t *out);
/* VirtualAlloc2(MEM_RESERVE | MEM_REPLACE_PLACEHOLDER [| MEM_COMMIT]): the placeholder that is
 * exactly [addr, addr+size) becomes a private allocation of type (allocation flags) and
 * protection prot with backend be. ERROR_INVALID_ADDRESS when there is no such placeholder. */
uint32_t wvm__placeholder_replace(uintptr_t addr, size_t size, uint32_t type, uint32_t prot,
                                  const wvm_backend *be);
/* Live placeholders (stats; walks the live allocations). */
uint64_t wvm__placeholder_count(void);
/* VirtualFree with MEM_RELEASE, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER or MEM_RELEASE |
 * MEM_COALESCE_PLACEHOLDERS (flags), Windows' errors. */
uint32_t wvm__virtual_release(uintptr_t addr, size_t size, uint32_t flags);
#endif
