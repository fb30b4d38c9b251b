/* AWE: MEM_PHYSICAL windows and user physical pages (AllocateUserPhysicalPages,
 * MapUserPhysicalPages, FreeUserPhysicalPages).
 *
 * Simulation: a physical page is a page of winvmem's page store (awe_store.h); its page frame
 * number is its slot there (+1). Mapping moves it into the window, unmapping moves it back:
 * the data stays with the page wherever it goes, and a page lives in exactly one place.
 * Linux >= 6.8: the store is one private mapping and UFFDIO_MOVE moves page-table entries;
 * a window is one private mapping registered with userfaultfd (MISSING mode, SIGBUS feature),
 * so touching an empty window page faults and the kernel's own accesses fail with EFAULT, and
 * scattered pages never split mappings. Otherwise (or WINVMEM_USERFAULTFD=0) the store is a
 * memfd mapped MAP_SHARED|MAP_FIXED page run by page run into a PROT_NONE window: the same
 * semantics, about 2.5x the cost per scattered map/unmap plus a fault on first touch, and a
 * kernel mapping per scattered page (vm.max_map_count). bench/awe_bench.c measures both. */
#ifndef WVM_AWE_H
#define WVM_AWE_H
#include <stdbool.h>
#include <stdint.h>

#include "core/space.h"

/* The backend of MEM_PHYSICAL windows; NULL when this kernel cannot provide it. */
const wvm_backend *wvm__awe_backend(void);

/* VirtualQuery of window page idx (in an epoch): a mapped page is MEM_COMMIT, PAGE_READWRITE,
 * an empty one MEM_RESERVE (Windows reads the state from the page table entry, valid or
 * zero, in a reserved private region). Sets RegionSize, State, Protect; false: not known. */
bool wvm__awe_query(const wvm_snap *s, uint64_t idx, wvm_MEMORY_BASIC_INFORMATION *m);

/* *n pages into pfns (fewer when the commit limit or memory runs short; 0 is an error). */
uint32_t wvm__awe_allocate(uint64_t *n, uintptr_t *pfns);
/* Maps pfns[0..n) at [addr, addr + n pages) of one window; pfns NULL: unmaps the range. */
uint32_t wvm__awe_map(uintptr_t addr, uint64_t n, const uintptr_t *pfns);
/* Frees pages (unmapping them first); *n receives how many were freed before an error. */
uint32_t wvm__awe_free(uint64_t *n, const uintptr_t *pfns);
#endif
