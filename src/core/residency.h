/* VirtualLock / VirtualUnlock and MEM_RESET / MEM_RESET_UNDO on one locked allocation;
 * [first, first+count) lies inside it. Return 0 or a Windows error code (for VirtualLock on
 * an armed guard page: STATUS_GUARD_PAGE_VIOLATION, the guard then consumed). */
#ifndef WVM_RESIDENCY_H
#define WVM_RESIDENCY_H
#include <stdint.h>

#include "core/index.h"

uint32_t wvm__alloc_lock(wvm_alloc *a, uint64_t first, uint64_t count);
uint32_t wvm__alloc_unlock(wvm_alloc *a, uint64_t first, uint64_t count);
uint32_t wvm__alloc_reset(wvm_alloc *a, uint64_t first, uint64_t count);
uint32_t wvm__alloc_reset_undo(wvm_alloc *a, uint64_t first, uint64_t count);
#endif
