/* The allocation lifecycle: reserve (placement, the kernel part, the backend's setup and the
 * first commit, seen by readers at one instant), acquire (find and lock the allocation holding
 * an address, folding the guards faults consumed) and release (decommit, the backend's
 * teardown, death). It stands on the index (core/index.h: descriptors, placement, lookups) and
 * on the page operations (core/pages.h, guard.h); nothing below it includes this header.
 *
 * Errors: 0 or a Windows ERROR_* code. */
#ifndef WVM_SPACE_H
#define WVM_SPACE_H
#include <stdbool.h>
#include <stdint.h>

#include "core/index.h"
#include "core/pages.h"

/* Reserves [want, want+size) (want 64 KiB aligned), or anywhere when want == 0, and commits
 * it whole with protection commit unless commit is 0: readers see the allocation appear
 * reserved and committed at one instant. size is a multiple of the page size. type:
 * WVM_MEM_TOP_DOWN and the allocation flags to record. be: the backend (NULL: plain memory);
 * its on_reserve has run when this returns 0. *base receives the allocation's base. */
uint32_t wvm__space_reserve_with(uintptr_t want, size_t size, uint32_t type, uint32_t prot,
                                 uint32_t commit, const wvm_backend *be, uintptr_t *base);
/* A reservation whose kernel part and first state its caller makes (views, placeholders):
 * wvm__space_reserve_with's parameters and those of wvm_reserve_req (core/index.h). */
uint32_t wvm__space_reserve_req(const wvm_reserve_req *r, uintptr_t *base);

/* Releases the whole allocation whose base is base; readers see it whole until it is gone. */
uint32_t wvm__space_release(uintptr_t base);
/* The same for the locked allocation a (found by wvm__space_acquire); unlocks it either way. */
uint32_t wvm__alloc_release(wvm_alloc *a);

/* Finds the allocation holding addr and locks it; NULL when addr is in none. Folds the guards
 * faults consumed since its last operation into its state. Unlock: wvm__space_unlock. */
wvm_alloc *wvm__space_acquire(uintptr_t addr);
/* Like wvm__space_acquire, but never waits: NULL with *busy set when another thread holds the
 * allocation's lock (a second lock may not be waited for: see fork.c). */
wvm_alloc *wvm__space_try_acquire(uintptr_t addr, bool *busy);
#endif
