/* PAGE_GUARD pages whose guard a fault consumed, and the model's answer to "what does this
 * fault mean" for the signal dispatcher (src/fault/).
 *
 * The dispatcher runs in signal context: it must not allocate, so it cannot build and publish
 * a snapshot. Instead every allocation that ever had a guard page owns a guard map, one bit
 * per page, made in normal context (wvm__guard_prepare, before a snapshot with guard pages is
 * published). Consuming a guard = set the page's bit + mprotect the page to its protection
 * without the guard (or remove its guard marker: core/mark.h), done while holding the
 * allocation's lock. The lock is a pthread mutex:
 * the dispatcher takes it with trylock, yielding while another thread holds it (that thread
 * is in the middle of an operation and will release it without waiting for us). It cannot be
 * the faulting thread itself: winvmem touches pages of an allocation while holding its lock
 * only in MEM_RESET_UNDO, after making them accessible. (Output buffers written under a lock,
 * e.g. GetWriteWatch's, could fault on the caller's own memory: a thread holding allocation
 * locks stops waiting after a bounded time and leaves the fault unhandled.)
 *
 * The same wait makes widening operations linearizable (core/pages.c): they publish the new
 * state before the kernel grants the access, holding the lock until it does. A fault in that
 * window waits here, then finds the access allowed and retries it (WVM_FAULT_RETRY), never an
 * access violation; a narrowing operation forbids in the kernel first, and a fault meanwhile
 * waits and then sees the new state. No separate in-flight count is needed: the lock is held
 * across exactly that window, the wait is a trylock loop (never a blocking lock in signal
 * context), and fork's handler takes every allocation lock, so no widening is in flight in a
 * child.
 *
 * A snapshot page whose attribute has WVM_PAGE_GUARD and whose bit is set is no longer a
 * guard page; readers (VirtualQuery) combine both. The next writer of the allocation folds
 * the bits into a new snapshot (wvm__guard_fold, called by wvm__space_acquire). Bits of pages
 * without WVM_PAGE_GUARD mean nothing; wvm__guard_prepare clears a page's bit before a
 * snapshot that guards it again is published. */
#ifndef WVM_GUARD_H
#define WVM_GUARD_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/index.h"

/* Consumed guards the fold finds without walking the allocation's runs (up to this many). */
#define WVM_GUARD_RECENT 8

typedef struct wvm_guardmap {
    wvm_retired hdr;
    uint64_t npages;
    _Atomic uint64_t pending; /* bits set since the last fold */
    /* marks since the last fold, and their pages while there are at most WVM_GUARD_RECENT:
     * the fold then visits only those (O(marks x log runs), not O(runs)); lock holders only
     * (the dispatcher marks with the allocation lock held) */
    uint32_t nrecent;
    uint64_t recent[WVM_GUARD_RECENT];
    _Atomic uint64_t *held;  /* MEM_RESET (core/reset.c): pages that held data when reset;
                              * the second half of this allocation; lock holders only */
    _Atomic uint64_t bits[]; /* consumed guards */
} wvm_guardmap;

static inline bool wvm__guard_consumed(const wvm_snap *s, uint64_t page)
{
    const wvm_guardmap *g = s->guards;
    return g &&
           ((atomic_load_explicit(&g->bits[page / 64], memory_order_acquire) >> (page % 64)) & 1);
}

/* The attribute page really has: run_attr (the snapshot's) without a consumed guard. */
static inline uint32_t wvm__guard_attr(const wvm_snap *s, uint32_t run_attr, uint64_t page)
{
    if ((run_attr & WVM_PAGE_GUARD) && wvm__guard_consumed(s, page))
        /* consumed: the marker is gone, a stashed page's data back */
        return run_attr & ~(WVM_PAGE_GUARD | WVM_ATTR_MARK | WVM_ATTR_STASH);
    return run_attr;
}

/* One past the last page of the region (equal visible protection) that starts at page;
 * *visible receives the region's protection bits. Lock-free (readers); each page's consumed
 * bit is read once. While s is the allocation's visible snapshot its guard pages' bits only
 * go from armed to consumed (a writer folds consumed guards into a new snapshot before it
 * re-arms any), so two equal answers of two calls were both true between the calls. */
uint64_t wvm__guard_region_end(const wvm_snap *s, uint64_t page, uint32_t *visible);

/* Whether consumed guards wait to be folded (the kernel then differs from the snapshot). */
bool wvm__guard_pending(const wvm_snap *s);

/* Before `to` is published by an operation on [first, first+count): gives it a guard map if
 * it has guard pages there, and re-arms (clears the bits of) those pages. *created says the
 * map is new (on failure of the operation, wvm__guard_discard(to) frees it). Returns 0 or
 * ERROR_NOT_ENOUGH_MEMORY. Allocation locked. */
uint32_t wvm__guard_prepare(wvm_snap *to, uint64_t first, uint64_t count, bool *created);
void wvm__guard_discard(wvm_snap *to);
/* The allocation's page map, made for `to` (about to be published) when it has none yet;
 * *created as for wvm__guard_prepare. NULL on ENOMEM. */
wvm_guardmap *wvm__guard_map(wvm_snap *to, bool *created);

/* Folds consumed guards into a new published snapshot (allocation locked, normal context).
 * On ENOMEM nothing changes and the marks stay pending (readers still see the truth). */
void wvm__guard_fold(wvm_alloc *a);

/* Consumes the guard of an armed guard page in normal context (VirtualLock). Locked. */
void wvm__guard_consume_locked(wvm_alloc *a, uint64_t page);

/* Frees the guard map of a released allocation once readers are done with it. */
void wvm__guard_release(wvm_guardmap *g);

/* ---- signal context ---------------------------------------------------------------------- */

enum wvm_fault_kind {
    WVM_FAULT_NOT_OURS,  /* not in a winvmem allocation: chain to the previous handler */
    WVM_FAULT_RETRY,     /* the page allows the access now (a racing operation changed it) */
    WVM_FAULT_GUARD,     /* an armed guard page: the guard is consumed now */
    WVM_FAULT_VIOLATION, /* reserved, decommitted, or the protection forbids the access */
};

/* access: 0 read, 1 write, 8 execute (ExceptionInformation[0]). probe: the access was
 * winvmem's own copy of an out-parameter, which an armed guard page refuses without losing
 * its guard (WVM_FAULT_VIOLATION). *write_protected: the page is kept read-only by userfaultfd
 * write-protect (core/wp.h), whose write faults arrive as SIGBUS. *seen (WVM_FAULT_RETRY):
 * what the answer came from, the snapshot's address, with bit 0 set when something changed
 * the page meanwhile (another thread held the allocation's lock when the fault came, or the
 * write-watch fallback just recorded a first write): the dispatcher counts retries in a row
 * at one address only while *seen stays the same and even (a fault that recurs with nothing
 * changing means the kernel and the model disagree). Async-signal-safe. */
enum wvm_fault_kind wvm__guard_fault(uintptr_t addr, int access, bool probe, bool *write_protected,
                                     uintptr_t *seen);
#endif
