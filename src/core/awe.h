/* AWE: MEM_PHYSICAL windows and user physical pages (AllocateUserPhysicalPages,
 * MapUserPhysicalPages, FreeUserPhysicalPages).
 *
 * Simulation (Linux >= 6.8): a physical page is an anonymous page of winvmem's page store, a
 * private mapping reserved once; its page frame number is its slot there (+1). Mapping it into
 * a window moves the page-table entry there with UFFDIO_MOVE, unmapping moves it back: the
 * data never gets copied and stays with the page wherever it goes; a page lives in exactly
 * one place. A window is one private mapping registered with userfaultfd in MISSING mode with
 * UFFD_FEATURE_SIGBUS: touching a window page with nothing mapped faults (SIGBUS, delivered
 * as an access violation by the fault dispatcher), and the kernel's own accesses fail with
 * EFAULT. Scattered pages do not split mappings: a window and the store stay one mapping each.
 * Measured against the alternative (a memfd pool mapped page by page with MAP_SHARED|
 * MAP_FIXED, which also makes one kernel mapping per scattered page and hits
 * vm.max_map_count at ~65k): see bench/awe_bench.c. */
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
