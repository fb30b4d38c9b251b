/* NOACCESS and PAGE_GUARD pages that hold data, without a kernel mapping of their own
 * (issue 14; the pages without data: core/mark.h).
 *
 * Such a page (WVM_ATTR_STASH, with WVM_ATTR_MARK) is a guard marker like an uncommitted page,
 * and its contents wait in the arena's stash (wvm__arena_stash: one mapping as large as the
 * arena, reserved with it and read-write from its first use, the page at the same offset, so
 * finding it needs no table and no lock).
 * The way there: the page is write-protected (userfaultfd, wvm__mark_prepare), copied to its
 * stash page, made PROT_NONE, then the marker goes in (MADV_GUARD_INSTALL zaps the page first:
 * a read faulting between the zap and the marker would map a zero page, so the transient
 * PROT_NONE, as decommit's, finding (h) of tests/lin/README.md), and the mapping goes back to
 * read-write under the marker: a store meanwhile faults and waits for the allocation lock, a
 * load reads the data it had or faults and waits. The PROT_NONE splits the kernel mapping for
 * the moment of the call only. The way back: UFFDIO_COPY
 * from the stash over the marker, which replaces the marker with the page in one step (a
 * racing access sees the marker, faults and waits, or the data; never an empty entry that a
 * read would fill with zeros, which MADV_GUARD_REMOVE first would allow), write-protected
 * as it arrives when the page becomes PAGE_READONLY; then the stash page is dropped. Decommit
 * and release drop it too (the marker stays: a re-commit reads zeros).
 *
 * The stash is the page's own memory, moved: the commit ledger and host budgets count the
 * page as committed either way, and the process's resident memory holds one copy of it (two
 * between the copy and the marker's zap). Fork: the child's markers and stash are copies of
 * the parent's (the stash is a private mapping), so its pages hold the same data; the child
 * registers the ranges with its own userfaultfd in its fork handler (core/wp.c). MEM_RESET
 * leaves stashed pages alone (their contents may stay). Not used (mprotect's way) when the
 * kernel cannot replace a marker by UFFDIO_COPY, the stash cannot be mapped, or
 * WINVMEM_MARKER_DATA=0 (prim: wvm__prim_mark_data_available). */
#ifndef WVM_CORE_STASH_H
#define WVM_CORE_STASH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether the pages of the allocation at base may be kept in a stash (maps it if needed). */
bool wvm__stash_ready(uintptr_t base);
/* [addr, addr+len) (no write can reach it) copied to the stash. 0 or ENOMEM (no stash). */
int wvm__stash_copy(uintptr_t addr, size_t len);
/* The way back over the markers (wp: write-protected), then the stash pages dropped.
 * 0 or an errno (nothing changed then). _sig: async-signal-safe. Where this process has no
 * userfaultfd registration for the range (a fork child whose registration failed), a copy
 * of the data placed over the marker in one step instead (wvm__prim_place_copy: a kernel
 * mapping of its own, of protection prot; _sig: read-write) unless wp (which needs the
 * registration: such a child keeps READONLY pages mprotect's, core/wp.c). */
int wvm__stash_take(uintptr_t addr, size_t len, bool wp, int prot);
int wvm__stash_sig_take(uintptr_t addr, size_t len);
/* Undoes a way back after the publish (wvm__stash_take; the pages accessible meanwhile, in a
 * mapping of protection prot): writes taken away (userfaultfd write-protect: a store faults
 * and waits for the allocation lock), the data copied to the stash, PROT_NONE so that no read
 * fills the entry MADV_GUARD_INSTALL empties with a zero page before its marker (as the way
 * there), the marker, prot again under it. Never fails (fault injection spares an undo); a
 * PROT_NONE the kernel refuses (no mapping left to split) leaves that read window open. */
void wvm__stash_put_back(uintptr_t addr, size_t len, int prot);
/* The way back without dropping the stash pages, not failed by fault injection (undo). */
int wvm__stash_fill_back(uintptr_t addr, size_t len, bool wp);
/* Drops the stash pages of [addr, addr+len) (their data goes). */
void wvm__stash_drop(uintptr_t addr, size_t len);

/* The policy (core/stash_policy.c; WINVMEM_MARKER_DATA=1, the default): pages with data go
 * mprotect's way (cheaper) while the process is far from vm.max_map_count, to the stash beyond
 * it; WINVMEM_MARKER_DATA=2 always stashes. wants: whether pages with data that an operation
 * narrows now go to the stash (asked once per operation that finds such pages); split: that
 * operation sent `runs` runs mprotect's way instead; refused: the operation failed with
 * ERROR_NOT_ENOUGH_MEMORY after this thread chose mprotect: the policy turns to the stash and
 * true says the operation should be tried once more (its state is unchanged). */
bool wvm__stash_policy_wants(void);
void wvm__stash_policy_split(unsigned long runs);
bool wvm__stash_policy_refused(void);
#endif
