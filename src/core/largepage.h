/* MEM_LARGE_PAGES: allocations backed by the hugetlb pool, reserved, committed and faulted in
 * by one call, so that a pool shortage fails VirtualAlloc (ERROR_NO_SYSTEM_RESOURCES) instead
 * of raising SIGBUS at a later first touch. With WINVMEM_LARGE_PAGES_THP=1 a shortage falls
 * back to transparent huge pages (faulted in up front as well). */
#ifndef WVM_LARGEPAGE_H
#define WVM_LARGEPAGE_H
#include "core/space.h"

const wvm_backend *wvm__largepage_backend(void);
#endif
