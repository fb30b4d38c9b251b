/* Page operations on one locked allocation (core/pages.c): commit, decommit and protection
 * changes of [first, first+count), which lies inside it. They change the kernel and publish
 * the new state (wvm__alloc_publish); they neither find nor lock the allocation (core/space.h)
 * nor place it (core/index.h). Return 0 or a Windows error code. */
#ifndef WVM_PAGES_H
#define WVM_PAGES_H
#include <stdbool.h>
#include <stdint.h>

#include "core/index.h"

uint32_t wvm__alloc_commit(wvm_alloc *a, uint64_t first, uint64_t count, uint32_t prot);
uint32_t wvm__alloc_decommit(wvm_alloc *a, uint64_t first, uint64_t count);
/* Before a released allocation's span goes back to free space (guard-marker mode): widens
 * the mappings of its UNDER pages to read-write; false when one stays otherwise (the span is
 * then kept out of free space: a new allocation must inherit nothing of it). */
bool wvm__alloc_widen_under(wvm_alloc *a);
/* Moves the write-protected pages of [first, first+count) to mprotect (core/wp.h), same
 * Windows state; before mlock, which refuses them. Locked. */
uint32_t wvm__alloc_wp_strip(wvm_alloc *a, uint64_t first, uint64_t count);
/* Sets every page's attribute to f(old, ctx) (pages stay committed or not as f says; the
 * kernel follows). The general form behind protect, used by guard pages and locking too. */
uint32_t wvm__alloc_protect_with(wvm_alloc *a, uint64_t first, uint64_t count, wvm_attr_fn f,
                                 void *ctx);
#endif
