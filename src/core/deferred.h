/* Widening kernel steps kept for later: a change of a staged allocation (not visible to
 * readers yet: RESERVE | MEM_COMMIT, placeholder replacement) is published at once, and the
 * steps that grant access (core/pages.c: they run after the publish) wait for the moment
 * readers see the allocation, so that no access gets through before then (issue 11, finding
 * (g)). Lock holder only. */
#ifndef WVM_DEFERRED_H
#define WVM_DEFERRED_H
#include <stdbool.h>
#include <stdint.h>

#include "core/index.h"
#include "core/step.h"

/* Keeps the n steps s in a->deferred (a staged, no steps kept yet); false on ENOMEM. A
 * thread's first such change takes no allocation when n is small. */
bool wvm__deferred_keep(wvm_alloc *a, const wvm_step *s, size_t n);
/* The kept steps of a staged commit of [first, first+count) are followed by the backend's
 * after_commit (when fresh: it committed pages that were not) and after_change hooks, which
 * set kernel protections of their own that the widening must not undo. a->deferred set. */
void wvm__deferred_hooks(wvm_alloc *a, bool fresh, uint64_t first, uint64_t count);

/* Runs the widening kernel steps that a change of a made while staged left for the moment
 * readers see it (call it right after the staging ends, a still locked), then the backend's
 * hooks (wvm__deferred_hooks); 0 when none are kept. On failure returns the Windows error
 * (the widening undone; the caller then takes the change back). */
uint32_t wvm__alloc_widen_deferred(wvm_alloc *a);
/* Drops them instead: the staged change is given up (its pages stay as the kernel has them). */
void wvm__alloc_forget_deferred(wvm_alloc *a);
#endif
