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

/* Pages winvmem holds locked, charged against the quota the working-set minimum gives
 * (core/wsquota.h: RLIMIT_MEMLOCK until SetProcessWorkingSetSize sets one; also for root, as
 * Windows limits every process by its working-set quota). Decommit uncharges. */
uint32_t wvm__lock_charge(uint64_t pages);
void wvm__lock_uncharge(uint64_t pages);
#endif
