/* PAGE_READONLY without a kernel mapping of its own (issue 14).
 *
 * In an allocation of plain private memory in guard-marker mode (no backend: not write watch,
 * AWE, a view or large pages), a committed PAGE_READONLY page is kept read-only by
 * userfaultfd write-protect (prim/linux/uffd.h, "READONLY by write-protect") in the chunk's
 * read-write mapping: a bit in the page-table entry, so read-only and read-write pages in any
 * pattern share one kernel mapping, where mprotect would split it at every change (131,072
 * alternating one-page islands need 131,073 mappings, twice the default vm.max_map_count). A
 * write raises SIGBUS (BUS_ADRERR) instead of SIGSEGV; the fault dispatcher turns both into
 * the same access violation. The snapshot records which pages are kept this way
 * (WVM_ATTR_WP), so that the kernel's state of every page follows from its attribute alone.
 *
 * Pages stay with mprotect (their attribute has no WVM_ATTR_WP) while they are PAGE_GUARD
 * (the dispatcher consumes a guard with mprotect, in signal context), locked (mlock of a
 * write-protected page of a writable mapping fails), reset or offered (a lazily freed page the
 * kernel drops loses its bit), and when the kernel lacks the feature or it is switched off
 * (WINVMEM_UFFD_READONLY=0, WINVMEM_USERFAULTFD=0). The allocation's whole range is registered
 * at its first such page (adjacent registered ranges merge into one mapping); the
 * registration outlives the allocation (nothing is left protected: its release zapped every
 * page), and a write-watch or AWE registration takes the range back (prim). After fork() the
 * child's pages have lost their bits: the child re-registers and re-protects them (fork
 * handler) before it runs on. */
#ifndef WVM_CORE_WP_H
#define WVM_CORE_WP_H
#include <stdbool.h>
#include <stdint.h>

#include "core/index.h"
#include "core/mark.h"
#include "prim/linux/prim.h"

/* attr (a new committed attribute of a page of a) with WVM_ATTR_WP set when the page is to
 * be kept read-only by write-protect, WVM_ATTR_MARK when it may be kept inaccessible by a
 * guard marker (core/mark.h; wvm__wp_prepare decides), both cleared otherwise. */
uint32_t wvm__wp_fix(const wvm_alloc *a, uint32_t attr);

/* Before `to` is applied over [first, first+count): registers a's range when `to` has
 * write-protected or marked pages there and the range is not registered in this process. If
 * that fails, *to is replaced by a copy without WVM_ATTR_WP and WVM_ATTR_MARK there (the
 * mprotect fallback) and a keeps to mprotect in this process. Then wvm__mark_prepare. 0, or
 * an error (to unchanged). Locked. */
uint32_t wvm__wp_prepare(wvm_alloc *a, wvm_snap **to, uint64_t first, uint64_t count);

/* Registers a's range with the READONLY userfaultfd in this process if it is not yet (a fork
 * child's stashed pages come back by UFFDIO_COPY, which needs it: core/stash.h). 0 or an
 * errno. Locked. */
int wvm__wp_register(wvm_alloc *a);
#endif
