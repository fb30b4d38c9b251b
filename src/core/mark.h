/* PAGE_NOACCESS and PAGE_GUARD without a kernel mapping of their own (issue 14).
 *
 * In an allocation of plain private memory in guard-marker mode (as core/wp.h), a committed
 * page that is PAGE_NOACCESS, or an armed PAGE_GUARD | PAGE_READWRITE, and holds no data is
 * kept inaccessible by a guard marker (MADV_GUARD_INSTALL) over its read-write mapping,
 * exactly like an uncommitted page, instead of mprotect(PROT_NONE): any pattern of such pages
 * shares one kernel mapping. The snapshot says which pages are kept this way (WVM_ATTR_MARK),
 * so that the kernel's state of every page follows from its attribute. A marker keeps no data,
 * so a page is a plain marker only when its contents are zero: a page coming from
 * "uncommitted" or from another marked state always, a committed accessible page when the
 * kernel has no page for it (never touched since its commit: /proc/self/pagemap shows an empty
 * entry or a marker) or its page reads all zero (checked for up to 64 pages per operation),
 * checked while no write can reach it (userfaultfd write-protect). The way back is
 * MADV_GUARD_REMOVE: the next touch maps a zero page, which is what the page held. A page with
 * data keeps its mark with its data stashed (WVM_ATTR_STASH, core/stash.h), or, where the
 * stash is not available (WINVMEM_MARKER_DATA=0, kernels whose UFFDIO_COPY cannot replace a
 * marker), stays with mprotect.
 *
 * An access faults as on an uncommitted page (SIGSEGV, SEGV_MAPERR); the dispatcher makes the
 * same access violation of it, and consumes an armed guard by removing the marker (signal
 * context: one madvise, no allocation). Pages stay with mprotect while locked, reset or offered
 * (wvm__wp_fix decides both bits), on kernels without guard markers, the READONLY userfaultfd
 * or a readable /proc/self/pagemap, and with WINVMEM_MARKER_NOACCESS=0 (prim:
 * wvm__prim_mark_available). Fork copies the markers; MEM_RESET leaves marked pages alone (nothing
 * to free). */
#ifndef WVM_CORE_MARK_H
#define WVM_CORE_MARK_H
#include <stdbool.h>
#include <stdint.h>

#include "core/index.h"
#include "prim/linux/prim.h"

/* The Linux protection of the mapping under committed page attribute attr (write-protected
 * and marked pages live in read-write mappings). */
static inline int wvm__attr_kprot(uint32_t attr)
{
    return (attr & (WVM_ATTR_WP | WVM_ATTR_MARK)) ? WVM_P_RW : wvm__linux_prot(attr);
}

/* Whether committed attribute attr (without WVM_ATTR_MARK) may be kept by a marker in a. */
bool wvm__mark_wanted(const wvm_alloc *a, uint32_t attr);

/* Before `to` is applied over [first, first+count) (a locked, `to` not published): each page
 * that `to` marks and the current state has committed and unmarked keeps a plain mark only if
 * the kernel holds no page for it or the page reads zero. Writes are taken away first
 * (userfaultfd write-protect, which the marker's zap drops again: the plan installs the marker
 * under a transient PROT_NONE, pages.c add_bracketed_mark), then the kernel is asked; a
 * page with data gets WVM_ATTR_STASH in *to when the stash is available (its writes stay taken
 * away: the plan copies it aside), else it loses the mark (mprotect's way) and gets its write
 * access back, as do pages whose mapping is not read-write, and all of them when !registered
 * (a's range is not registered for write-protect in this process). 0, or
 * ERROR_NOT_ENOUGH_MEMORY / an error of the scan (nothing changed then). */
uint32_t wvm__mark_prepare(wvm_alloc *a, wvm_snap **to, uint64_t first, uint64_t count,
                           bool registered);

/* The apply of `to` failed before its markers went in: gives back the write access that
 * wvm__mark_prepare took (from: the state that stays published). */
void wvm__mark_undo(const wvm_snap *from, const wvm_snap *to, uint64_t first, uint64_t count);

/* Whether moving a page from attribute `from` to `to` puts a marker over a page that holds
 * (zero) contents: a committed accessible page becoming marked. */
static inline bool wvm__mark_installs(uint32_t from, uint32_t to)
{
    return (to & WVM_ATTR_MARK) && (from & WVM_ATTR_PROT_MASK) && !(from & WVM_ATTR_MARK);
}
#endif
