/* QueryWorkingSetEx: the PSAPI_WORKING_SET_EX_BLOCK of pages, from the model (committed or not,
 * the protection VirtualQuery shows, VirtualLock, MEM_LARGE_PAGES, views and images) and from
 * the kernel (resident or not, how many map the frame, on which NUMA node). */
#ifndef WVM_WSINFO_H
#define WVM_WSINFO_H
#include <stddef.h>
#include <stdint.h>

#define WVM_WS_BATCH 64 /* addresses per call */

/* blocks[i] receives the block of the page holding addrs[i] (n <= WVM_WS_BATCH); addresses
 * outside the user address space get 0. Lock-free: a page another thread changes meanwhile is
 * described as before or after the change (the kernel is read first, the model second).
 * Returns 0 or a Windows error (the kernel's page map could not be read). */
uint32_t wvm__working_set_ex(const uintptr_t *addrs, uint64_t *blocks, size_t n);
#endif
