/* MEM_RESET and MEM_RESET_UNDO.
 *
 * MEM_RESET: committed pages get MADV_FREE (the kernel may drop their contents under memory
 * pressure, until they are written again) and the WVM_ATTR_RESET flag; their state and
 * protection do not change. Just before the MADV_FREE, the allocation's page map records
 * which of them held data the kernel could drop (core/guard.h `held`; pagemap: present and
 * exclusively ours, or swapped out). Pages that held none (never touched, the shared zero
 * page, pages shared copy-on-write with a child) read the same afterwards whatever happens:
 * MADV_FREE leaves them alone. Locked pages are left alone too (MADV_FREE refuses mlocked
 * ranges, and locked data stays in RAM anyway). Data written to a page *while* MEM_RESET runs
 * on it is indeterminate, as on Windows.
 *
 * MEM_RESET_UNDO must never report intact data that is not. The order that makes it
 * race-free: first *pin* every reset page that held data by writing to it, then ask whether
 * the pin found the old page. The write is an atomic add of 0 to the page's first word, so it
 * changes no data, even with another thread writing the same word. It dirties the page table
 * entry; the kernel discards a lazily freed page only if its entry is clean (it clears the
 * entry and checks the dirty bit in one step, and puts the page back when it is dirty), so
 * once our write has happened the page can no longer be dropped. If the kernel dropped the
 * page before our write, the entry was empty and the write took a page fault that mapped a
 * fresh zero page. So: count this thread's page faults around the writes; no fault = every
 * page was still there = every byte is intact. Checking residency first (mincore, pagemap)
 * and writing afterwards would leave a window in which the kernel could drop a page it had
 * just reported. Any other fault in between (NUMA hinting, a page migrated meanwhile) only
 * makes the answer a false failure, never a false success; lost pages read zero either way.
 * (A racing thread that writes a dropped page before our pin is the one case we cannot see:
 * that thread then owns the page's new contents.)
 *
 * Pages the program may not write (read-only, execute-read, no access, guard) are written by
 * the kernel instead, through /proc/self/mem (prim/linux/selfmem.c): it writes whatever the
 * protection, dirties the page the same way, and faults a dropped page in on this thread's
 * account. Their protection never changes: making them writable around our write, even for a
 * moment with the allocation locked, would let a racing write of the program succeed on a
 * page that every query shows read-only (finding (n), tests/lin/README.md). Where the kernel
 * refuses such writes (WVM_MECH_PROC_MEM missing, or WINVMEM_PROC_MEM=0), those pages stay
 * unpinned and the undo reports data lost: a false failure, never a false success.
 *
 * Write watch: the pin is winvmem's write, not the program's, and no store of the program may
 * go unrecorded while it runs (finding (r), tests/lin/README.md). Pages of a backend that
 * records writes (before_pin set: core/ww.c, core/ww_mprotect.c) are all pinned by forced
 * writes, each run of held pages bracketed by the backend's before_pin/after_pin (outside the
 * fault count: they may fault in nothing of ours, but system calls on the way could). Without
 * forced writes, such pages are pinned by an ordinary write where the program may write
 * (reported written afterwards, the safe side) and not at all elsewhere (data reported lost). */
#include <errno.h>
#include <stdatomic.h>

#include "core/guard.h"
#include "core/residency.h"
#include "core/wp.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_residency.h"

static uint32_t set_reset(uint32_t old, void *ctx)
{
    if (!wvm__attr_committed(old) || (old & WVM_ATTR_LOCKED))
        return old;
    return *(int *)ctx ? old | WVM_ATTR_RESET : old & ~WVM_ATTR_RESET;
}

/* The undo of a backend that records writes: its passes over the held runs. */
enum pin_pass { PIN, BEFORE, AFTER };
typedef struct bracket {
    wvm_alloc *a;
    const wvm_backend *be;
    enum pin_pass pass;
    bool forced;      /* forced writes available */
    uint64_t brought; /* BEFORE brought the runs below this page (AFTER stops there) */
    uint32_t err;
} bracket;

typedef struct reset_ctx {
    uintptr_t base;
    wvm_guardmap *map;
    uint64_t first; /* of the piece being scanned */
    int err;
    bool count_faults; /* measure this thread's page faults tightly around the pieces */
    bool unpinned;     /* a held page could not be pinned (the kernel refused a forced write) */
    uint64_t faults_before, faults_after;
    bracket *br; /* NULL: the pages record no writes */
} reset_ctx;

static bool held(const wvm_guardmap *g, uint64_t p)
{
    return (atomic_load_explicit(&g->held[p / 64], memory_order_relaxed) >> (p % 64)) & 1;
}

static void set_held(void *ctx, uint64_t i)
{
    reset_ctx *r = ctx;
    uint64_t p = r->first + i;
    atomic_fetch_or_explicit(&r->map->held[p / 64], 1ull << (p % 64), memory_order_relaxed);
}

static void clear_held(wvm_guardmap *g, uint64_t first, uint64_t count)
{
    for (uint64_t p = first; p < first + count; p++)
        atomic_fetch_and_explicit(&g->held[p / 64], ~(1ull << (p % 64)), memory_order_relaxed);
}

static int free_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    reset_ctx *r = ctx;
    if (!wvm__attr_committed(attr) || (attr & WVM_ATTR_LOCKED))
        return 0;
    clear_held(r->map, first, count);
    /* kept: a dropped page would lose its bit (core/wp.h); a marked page holds nothing, and
     * its cleared held bits keep MEM_RESET_UNDO's pin away from its marker */
    if (attr & (WVM_ATTR_WP | WVM_ATTR_MARK))
        return 0;
    void *addr = (void *)(r->base + first * WVM_PAGE);
    r->first = first;
    r->err = wvm__prim_pages_holding_data((uintptr_t)addr, count, set_held, r);
    if (!r->err)
        r->err = wvm__prim_free_lazy(addr, count * WVM_PAGE);
    if (r->err == EINVAL) { /* memory the kernel cannot free lazily (hugetlb, a view's shared
                             * pages): contents stay, nothing to pin */
        clear_held(r->map, first, count);
        r->err = 0;
    }
    return r->err != 0;
}

/* Not instrumented: a sanitizer's first look at its shadow of these pages would itself take a
 * page fault and turn every answer into a (safe but false) failure. */
__attribute__((no_sanitize("address", "thread", "undefined"))) static void
pin(const wvm_guardmap *g, uintptr_t base, uint64_t first, uint64_t count)
{
    for (uint64_t p = first; p < first + count; p++)
        if (held(g, p))
            atomic_fetch_add_explicit((_Atomic uint64_t *)(base + p * WVM_PAGE), 0,
                                      memory_order_relaxed);
}

/* Pins [first, first+count), held pages of one attribute: by an ordinary write, else by the
 * kernel's forced write (refused: not pinned). */
static void pin_run(reset_ctx *r, uint64_t first, uint64_t count, int prot, bool ordinary)
{
    if (ordinary)
        pin(r->map, r->base, first, count);
    else if (wvm__prim_forced_rewrite((void *)(r->base + first * WVM_PAGE), count * WVM_PAGE,
                                      (prot & WVM_P_READ) != 0))
        r->unpinned = true;
}

/* One pass of the undo of a backend that records writes over a run of held pages. */
static int bracket_run(reset_ctx *r, uint64_t first, uint64_t count, uint32_t attr, int prot)
{
    bracket *b = r->br;
    uint32_t err = 0;
    switch (b->pass) {
    case BEFORE:
        if ((err = b->be->before_pin(b->a, first, count, attr)))
            b->brought = first;
        break;
    case PIN:
        pin_run(r, first, count, prot, (prot & WVM_P_WRITE) && !b->forced);
        break;
    case AFTER:
        if (first >= b->brought)
            return 1;
        if (b->be->after_pin && (err = b->be->after_pin(b->a, first, count, attr)) && !b->err)
            b->err = err;
        return 0;
    }
    if (err)
        b->err = err;
    return err != 0;
}

/* The held runs of a reset piece that an ordinary write of its own cannot pin: not written
 * by the program, or of a backend that records writes. Out of line: the common piece (plain,
 * writable) stays a short call. */
__attribute__((noinline)) static int pin_runs(reset_ctx *r, uint64_t first, uint64_t count,
                                              uint32_t attr, int prot)
{
    for (uint64_t p = first, end = first + count, q; p < end; p = q) {
        for (q = p; q < end && held(r->map, q);)
            q++;
        if (q == p) { /* never written by anyone: a forced write would fault it in */
            q++;
            continue;
        }
        if (!r->br)
            pin_run(r, p, q - p, prot, false);
        else if (bracket_run(r, p, q - p, attr, prot))
            return 1;
    }
    return 0;
}

static int pin_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    reset_ctx *r = ctx;
    if (!(attr & WVM_ATTR_RESET))
        return 0;
    int prot = wvm__attr_kprot(attr); /* write-protected pages are never held */
    if (prot & WVM_P_WRITE) {
        pin(r->map, r->base, first, count);
        return 0;
    }
    return pin_runs(r, first, count, attr, prot);
}

/* The same for a backend that records writes: every run goes through its bracket. */
static int bracket_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    return (attr & WVM_ATTR_RESET) && pin_runs(ctx, first, count, attr, wvm__attr_kprot(attr));
}

/* The undo of a backend that records writes: the runs are brought into a pinnable state
 * first, pinned inside the fault count, and brought back after (as far as they were brought
 * when the first pass failed). Returns whether it failed (r->br->err). */
__attribute__((noinline)) static int bracketed(const wvm_snap *s, uint64_t first, uint64_t count,
                                               reset_ctx *r)
{
    r->br->pass = BEFORE;
    int failed = wvm__snap_each(s, first, count, bracket_piece, r);
    if (!failed) {
        r->br->pass = PIN;
        if (r->count_faults)
            r->faults_before = wvm__prim_thread_faults();
        wvm__snap_each(s, first, count, bracket_piece, r);
        if (r->count_faults)
            r->faults_after = wvm__prim_thread_faults();
    }
    r->br->pass = AFTER;
    wvm__snap_each(s, first, count, bracket_piece, r);
    return r->br->err != 0;
}

/* Runs f over the pieces of [first, first+count) and publishes the snapshot with the reset
 * flag set to `on`. Nothing f does changes what the model shows, so there is no rollback. */
static uint32_t run(wvm_alloc *a, uint64_t first, uint64_t count, int on, wvm_piece_fn f,
                    reset_ctx *r)
{
    wvm_snap *s = wvm__alloc_snap(a);
    wvm_snap *to = wvm__snap_map(s, first, count, set_reset, &on);
    bool created = false;
    if (!to || !(r->map = wvm__guard_map(to, &created))) {
        wvm__snap_free(to);
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    }
    r->base = s->base;
    int failed;
    if (r->br) {
        failed = bracketed(s, first, count, r);
    } else {
        if (r->count_faults)
            r->faults_before = wvm__prim_thread_faults();
        failed = wvm__snap_each(s, first, count, f, r);
        if (r->count_faults)
            r->faults_after = wvm__prim_thread_faults();
    }
    if (failed) {
        if (created)
            wvm__guard_discard(to);
        wvm__snap_free(to);
        return r->br && r->br->err ? r->br->err : wvm__err_from_errno(r->err);
    }
    wvm__alloc_publish(a, to);
    return 0;
}

uint32_t wvm__alloc_reset(wvm_alloc *a, uint64_t first, uint64_t count)
{
    reset_ctx r = {0};
    return run(a, first, count, 1, free_piece, &r);
}

uint32_t wvm__alloc_reset_undo(wvm_alloc *a, uint64_t first, uint64_t count)
{
    reset_ctx r = {.count_faults = true};
    bool forced = wvm__prim_forced_available(); /* its first call probes: not to be counted */
    const wvm_backend *be = wvm__alloc_backend(a);
    bracket br;
    if (be && be->before_pin) {
        br = (bracket){a, be, PIN, forced, UINT64_MAX, 0};
        r.br = &br;
    }
    /* once pinned no page is "reset" any more, intact or not */
    uint32_t err = run(a, first, count, 0, pin_piece, &r);
    if (err)
        return err;
    bool intact = !r.unpinned && r.faults_before != UINT64_MAX && r.faults_after == r.faults_before;
    return intact ? 0 : WVM_ERROR_INVALID_ADDRESS;
}
