/* Commit, decommit and protect on one locked allocation: the new page states are built as a
 * snapshot, and the kernel is brought to match it in two halves around its publication, so
 * that every call takes effect at the publish (issue 11, finding (g)):
 *   - before it, every step that takes access away (narrowing protections, guard install,
 *     MADV_DONTNEED, munlock) and what no access can see (protections under guard markers):
 *     an access that faults meanwhile waits for the allocation lock (core/guard.c) and then
 *     sees the new state; one that gets through came before the publish;
 *   - after it, every step that grants access (guard remove, widening protections; a change
 *     that both grants and takes goes through the intersection first): an access that gets
 *     through came after the publish, one that faults in between waits for the lock and is
 *     retried.
 * Reversible calls come first and are undone on failure; the calls that drop data come last
 * of the first half. A widening step can fail only where the kernel must split a mapping and
 * cannot (ENOMEM: vm.max_map_count, kernel memory) or under fault injection; guard remove
 * never splits. Then the kernel is narrowed back and the old state published again: the call
 * fails, and a VirtualQuery that ran in between may have reported its new state (no access
 * could use it beyond the steps that ran). That window is the one known exception to "takes
 * effect atomically"; it needs the kernel to refuse a widening mprotect. */
#include <errno.h>

#include "core/arena.h"
#include "core/deferred.h"
#include "core/guard.h"
#include "core/ledger.h"
#include "core/pages.h"
#include "core/stash.h"
#include "core/step.h"
#include "core/wp.h"
#include "core/wsquota.h"
#include "prim/linux/prim.h"
#include "prim/options.h"

/* A plan: the kernel steps of one change, in the lists that run at different moments. */
typedef struct plan {
    wvm_steps steps;    /* reversible, before the publish */
    wvm_steps narrows;  /* guard mode: PROT_NONE over decommitted pages before their markers;
                         * prot: the segment's protection once plan_run is done */
    wvm_steps zaps;     /* irreversible, run after every reversible wvm_step */
    wvm_steps posts;    /* after the zaps: mappings under new markers back to read-write,
                         * the stash pages of decommitted pages dropped */
    wvm_steps wides;    /* after the publish: the steps that grant access */
    bool post_failed;   /* a post step failed: its pages keep WVM_ATTR_UNDER */
    bool narrow_failed; /* a narrowed segment could not be widened back (its prot stays NONE) */
    bool guard_mode;
    bool plain;      /* no backend (write watch, AWE): nothing reads the pages before a zap */
    bool own_prot;   /* the backend keeps kernel protections of its own (write-watch fallback) */
    bool ww_arm;     /* fresh pages start "not written" in the kernel (userfaultfd write watch) */
    bool under_lost; /* wvm_alloc.under_lost */
    uintptr_t base;
    const wvm_snap *from, *to;
    wvm_alloc *a;          /* for the backend's before_zap */
    uint64_t first, count; /* the range of the change */
} plan;

static void plan_init(plan *p, wvm_alloc *a, const wvm_snap *to)
{
    wvm__steps_init(&p->steps);
    wvm__steps_init(&p->narrows);
    wvm__steps_init(&p->zaps);
    wvm__steps_init(&p->posts);
    wvm__steps_init(&p->wides);
    p->post_failed = p->narrow_failed = false;
    p->guard_mode = a->guard_mode;
    const wvm_backend *be = wvm__alloc_backend(a);
    p->plain = !be;
    p->own_prot = be && be->write_fault;
    p->ww_arm = be && be->kernel_records;
    p->under_lost = a->under_lost;
    p->base = to->base;
    p->from = wvm__alloc_snap(a);
    p->to = to;
    p->a = a;
    p->first = p->count = 0;
}

static void plan_free(plan *p)
{
    wvm__steps_free(&p->steps);
    wvm__steps_free(&p->narrows);
    wvm__steps_free(&p->zaps);
    wvm__steps_free(&p->posts);
    wvm__steps_free(&p->wides);
}

static int add_step(plan *p, wvm_step s)
{
    return wvm__steps_push(&p->steps, s);
}

/* Guard markers: a data-dropping call may also cover a short gap of pages that end up
 * uncommitted (they are markers already, or PROT_NONE where a marker changes nothing), so
 * that one operation drops data in one call, which either happens whole or not at all. */
static void bridge_gap(plan *p, wvm_step *s)
{
    if (!p->guard_mode || !p->zaps.n || s->kind != WVM_STEP_GUARD_INSTALL)
        return;
    wvm_step *prev = &p->zaps.s[p->zaps.n - 1];
    uintptr_t gap = prev->addr + prev->len;
    if (prev->kind != WVM_STEP_GUARD_INSTALL || s->addr <= gap || s->addr - gap > WVM_CHUNK)
        return;
    uint64_t first = (gap - p->base) / WVM_PAGE, count = (s->addr - gap) / WVM_PAGE;
    if (wvm__snap_any(p->to, first, count, WVM_COMMITTED))
        return;
    s->len += s->addr - gap;
    s->addr = gap;
}

static int add_zap(plan *p, wvm_step s)
{
    bridge_gap(p, &s);
    return wvm__steps_push(&p->zaps, s);
}

static int add_post(plan *p, wvm_step s)
{
    return wvm__steps_push(&p->posts, s);
}

static int add_wide(plan *p, wvm_step s)
{
    return wvm__steps_push(&p->wides, s);
}

/* The protection change old_prot -> new_prot of a piece whose pages are accessible by it:
 * what it takes away before the publish, what it grants after (through old & new when it
 * does both, e.g. read-write to read-execute). */
static int add_protect(plan *p, uintptr_t addr, size_t len, int old_prot, int new_prot)
{
    int both = old_prot & new_prot, err = 0;
    if (both != old_prot)
        err = add_step(p, (wvm_step){addr, len, WVM_STEP_PROTECT, both, old_prot});
    if (!err && both != new_prot)
        err = add_wide(p, (wvm_step){addr, len, WVM_STEP_PROTECT, new_prot, both});
    return err;
}

/* Gaps up to this long between decommitted pieces are narrowed with them: one mprotect pair
 * per operation instead of one per piece, and a bounded number of segments (each can split a
 * kernel mapping in three until it is widened back): at most one per NARROW_BRIDGE of the
 * range, or per run of guard-marker chunks. */
#define NARROW_BRIDGE ((uintptr_t)32 * WVM_CHUNK)

/* Guard mode, decommit: [addr, addr+len) goes PROT_NONE before its marker (plan_piece). The
 * segment being built takes the piece in when the gap between them ends up uncommitted (a
 * marker, or about to be one) and lies in guard-marker chunks (whose mapping is read-write,
 * so that widening the whole segment back to read-write is right for the gap too; a chunk not
 * yet converted is plain PROT_NONE, and must stay so). */
static int add_narrow(plan *p, uintptr_t addr, size_t len)
{
    if (p->narrows.n) {
        wvm_step *prev = &p->narrows.s[p->narrows.n - 1];
        uintptr_t gap = prev->addr + prev->len;
        if (addr == gap || (addr - gap <= NARROW_BRIDGE &&
                            !wvm__snap_any(p->to, (gap - p->base) / WVM_PAGE,
                                           (addr - gap) / WVM_PAGE, WVM_COMMITTED) &&
                            wvm__arena_guarded(gap, addr))) {
            prev->len = addr + len - prev->addr;
            return 0;
        }
    }
    return wvm__steps_push(&p->narrows, (wvm_step){addr, len, WVM_STEP_PROTECT, WVM_P_NONE, 0});
}

/* Guard mode, decommit of a committed piece: whether it goes PROT_NONE before its marker
 * (finding h: MADV_GUARD_INSTALL zaps the page, then installs the marker, and a read faulting
 * in between maps the zero page). Always for a page the program may not write (READONLY by
 * write-protect, whose bit the zap drops: a racing write would succeed, finding d; mprotect'd
 * READONLY, EXECUTE_*, NOACCESS, GUARD: a racing read would see a zero, or read a page it may
 * not) and on a backend's allocation (write watch reads the records before the zap and no store
 * may land after that, finding q). A plain read-write page skips it unless
 * WINVMEM_STRICT_DECOMMIT=1: a read racing with the decommit or release of its own page may
 * return 0 there, a documented deviation (doc/windows-semantics.md); it saves two mprotect
 * calls and a transient mapping split per call. */
static bool needs_narrow(const plan *p, uint32_t from)
{
    if (!p->plain || (from & (WVM_ATTR_WP | WVM_ATTR_GUARD)) || wvm__attr_kprot(from) != WVM_P_RW)
        return true;
    return wvm__option(WVM_OPT_STRICT_DECOMMIT) != 0;
}

/* Guard mode: a marked page (core/mark.h) is, to the kernel, an uncommitted page of zeros. */
static int plan_mark(plan *p, uintptr_t addr, size_t len, uint32_t from, uint32_t to)
{
    if (wvm__mark_installs(from, to) && !(to & WVM_ATTR_STASH)) /* (prepare took the writes) */
        return add_step(p, (wvm_step){addr, len, WVM_STEP_MARK, 0, (from & WVM_ATTR_WP) != 0});
    if (wvm__mark_installs(from, to)) {
        /* data (core/stash.h): copied aside (no write reaches it since wvm__mark_prepare),
         * then PROT_NONE so that no read fills the entry MADV_GUARD_INSTALL empties before
         * its marker with a zero page (as decommit, finding h), the marker, and read-write
         * again under it: each step undone by the opposite one, the marker by putting the
         * data back over it. */
        wvm_step st[] = {{addr, len, WVM_STEP_STASH, 0, 0},
                         {addr, len, WVM_STEP_PROTECT, WVM_P_NONE, WVM_P_RW},
                         {addr, len, WVM_STEP_STASH_MARK, 0, (from & WVM_ATTR_WP) != 0},
                         {addr, len, WVM_STEP_PROTECT, WVM_P_RW, WVM_P_NONE}};
        int err = 0;
        for (size_t i = 0; !err && i < sizeof st / sizeof *st; i++)
            err = add_step(p, st[i]);
        return err;
    }
    if (!wvm__attr_committed(from) && ((from & WVM_ATTR_UNDER) || p->under_lost))
        return add_step(p, (wvm_step){addr, len, WVM_STEP_PROTECT, WVM_P_RW, WVM_P_NONE});
    return 0; /* from a mark or an uncommitted page: the marker is there */
}

/* A stashed page (core/stash.h) leaving its mark: decommitted, its stash page is dropped once
 * nothing can fail (the marker stays); committed, the mapping under the marker gets the new
 * protection (nothing can see it), and after the publish the data goes back over the marker,
 * write-protected as it arrives when the page is to be. */
__attribute__((noinline)) static int plan_unstash(plan *p, uintptr_t addr, size_t len, uint32_t to,
                                                  int grant)
{
    if (!wvm__attr_committed(to)) /* after every zap: a zap that fails is undone */
        return add_post(p, (wvm_step){addr, len, WVM_STEP_STASH_DROP, 0, 0});
    /* (a fork child may not have it yet; where it fails, wvm__stash_take places a copy) */
    (void)wvm__wp_register(p->a);
    int err = 0;
    if (grant != WVM_P_RW)
        err = add_step(p, (wvm_step){addr, len, WVM_STEP_PROTECT, grant, WVM_P_RW});
    if (!err)
        err = add_wide(p, (wvm_step){addr, len, WVM_STEP_UNSTASH, (to & WVM_ATTR_WP) != 0, grant});
    return err;
}

/* The kernel calls that take one piece from attribute `from` to attribute `to`.
 * Guard mode keeps uncommitted pages as guard markers in a read-write mapping; the fallback
 * keeps them PROT_NONE with their pages discarded. */
static int plan_piece(plan *p, uintptr_t addr, size_t len, uint32_t from, uint32_t to)
{
    if (to & WVM_ATTR_MARK)
        return plan_mark(p, addr, len, from, to);
    bool was = wvm__attr_committed(from) && !(from & WVM_ATTR_MARK), is = wvm__attr_committed(to);
    int old_prot = was ? wvm__attr_kprot(from) : WVM_P_NONE;
    int new_prot = is ? wvm__attr_kprot(to) : WVM_P_NONE;
    /* Write watch (finding q): no step may make a page writable before its first write can be
     * recorded, or a racing store lands unrecorded. The fallback's widening stops short of
     * write (its after_change hook then gives write to the pages already written, after the
     * publish: the others fault and are recorded); a fresh page of the userfaultfd backend is
     * write-protected before it becomes writable (ww_arm below). */
    int grant = p->own_prot ? new_prot & ~WVM_P_WRITE : new_prot;
    bool arm = p->ww_arm && !was && is;
    bool wp_was = was && (from & WVM_ATTR_WP), wp_is = is && (to & WVM_ATTR_WP);
    int err = 0;
    if (__builtin_expect(from & WVM_ATTR_STASH, 0)) /* (guard mode) */
        return plan_unstash(p, addr, len, to, grant);
    /* decommit drops VirtualLock; guard install and MADV_DONTNEED refuse mlocked ranges */
    if ((from & WVM_ATTR_LOCKED) && !(to & WVM_ATTR_LOCKED) &&
        (err = add_step(p, (wvm_step){addr, len, WVM_STEP_UNLOCK, 0, 0})))
        return err;
    if (p->guard_mode) {
        int rest = WVM_P_RW; /* mapping protection under a guard marker */
        if (!was && is) {
            /* the undo protection does not matter: under a marker, and UNDER stays set. A
             * write-protected page is read-only from the marker's removal until its bit is
             * set (the bit cannot be set under a guard marker), so that not even a racing
             * write gets through: a transient mapping of its own. */
            /* The same for a fresh write-watch page: without write from the marker's removal
             * until it is armed (a userfaultfd bit cannot be set under a guard marker either,
             * and the marker's removal drops one). */
            int first_prot = wp_is ? WVM_P_READ : arm ? grant & ~WVM_P_WRITE : grant;
            if (first_prot != rest || (from & WVM_ATTR_UNDER) || p->under_lost)
                err = add_step(p, (wvm_step){addr, len, WVM_STEP_PROTECT, first_prot, rest});
            if (!err)
                err = add_wide(p, (wvm_step){addr, len, WVM_STEP_GUARD_REMOVE, 0, 0});
            if (!err && wp_is)
                err = add_wide(p, (wvm_step){addr, len, WVM_STEP_WP_SET, 0, 0});
            if (!err && arm)
                err = add_wide(p, (wvm_step){addr, len, WVM_STEP_WW_ARM, 0, 0});
            if (!err && grant != first_prot)
                err = add_wide(p, (wvm_step){addr, len, WVM_STEP_PROTECT, grant, first_prot});
        } else if (was && is) {
            /* the bit is set before the publish (it takes write access away), cleared after
             * it, once the mapping is what the new protection allows */
            if (wp_is && !wp_was)
                err = add_step(p, (wvm_step){addr, len, WVM_STEP_WP_SET, 0, 0});
            if (!err && old_prot != new_prot)
                err = add_protect(p, addr, len, old_prot, grant);
            if (!err && wp_was && !wp_is)
                err = add_wide(p, (wvm_step){addr, len, WVM_STEP_WP_CLEAR, 0, 0});
        } else if (was && !is) {
            /* Where needs_narrow says so: PROT_NONE first (reversible), then the marker,
             * then the mapping back to read-write under the marker (plan_run). A page that
             * was never writable (or readable) never becomes so while it is decommitted, not
             * even for a racing access (lin's finding d); and a racing read cannot see a zero
             * the page never held (finding h): MADV_GUARD_INSTALL zaps the page, then
             * installs the marker (retrying while racing faults populate it), and a read
             * faulting in between would map the zero page. It faults instead, and the
             * dispatcher decides once the decommit has published. One PROT_NONE covers
             * neighbouring pieces and the markers between them (add_narrow), so the
             * narrowing does not split a kernel mapping per piece (a60081f did: a release of
             * 32k one-page islands met vm.max_map_count). The zap drops a write-protect bit
             * with the page. A read-write page's mapping is read-write already: the marker
             * alone (a racing store lands before the zap, or after it and is zapped again:
             * stored before the decommit). */
            if (needs_narrow(p, from))
                err = add_narrow(p, addr, len);
            if (!err)
                err = add_zap(p, (wvm_step){addr, len, WVM_STEP_GUARD_INSTALL, 0, 0});
        } else if (!was && !is && (from & WVM_ATTR_UNDER)) {
            err = add_post(
                p, (wvm_step){addr, len, WVM_STEP_PROTECT, rest, 0}); /* a chance to repair */
        }
        return err;
    }
    if (arm) /* still PROT_NONE, its data discarded: armed before anything grants access */
        err = add_step(p, (wvm_step){addr, len, WVM_STEP_WW_ARM, 0, 0});
    if (!err && old_prot != new_prot)
        err = add_protect(p, addr, len, old_prot, grant);
    if (!err && was && !is)
        err = add_zap(p, (wvm_step){addr, len, WVM_STEP_DISCARD, 0, 0});
    return err;
}

/* The protection a narrowed page had: its own if committed (a backend with protections of its
 * own gets it without write: the next write faults and is recorded), else read-write (under a
 * marker; a page marked UNDER is repaired by this, which does no harm). */
static int unnarrow_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    const plan *p = ctx;
    int prot = WVM_P_RW;
    if (wvm__attr_committed(attr)) {
        prot = wvm__attr_kprot(attr);
        if (p->own_prot)
            prot &= ~WVM_P_WRITE;
    }
    wvm__prim_protect((void *)(p->base + first * WVM_PAGE), count * WVM_PAGE, prot);
    return 0;
}

static void unnarrow(const plan *p, const wvm_step *s)
{
    wvm__snap_each(p->from, (s->addr - p->base) / WVM_PAGE, s->len / WVM_PAGE, unnarrow_piece,
                   (void *)p);
}

/* Runs the plan; on failure undoes what ran and returns the errno. Only when a data-dropping
 * call after the first one fails is the damage partial (never seen outside fault injection:
 * adjacent pieces are merged into one call). */
static int plan_run(plan *p)
{
    size_t done = 0, narrowed = 0;
    int err = 0;
    for (; done < p->steps.n; done++)
        if ((err = wvm__step_run(&p->steps.s[done])))
            break;
    for (; !err && narrowed < p->narrows.n; narrowed++)
        if ((err = wvm__step_run(&p->narrows.s[narrowed])))
            break;
    /* the decommitted pages are out of reach now, their data still there: a store that got
     * in before is in what the backend reads, a later one faults (finding q) */
    const wvm_backend *be = wvm__alloc_backend(p->a);
    if (!err && p->zaps.n && be && be->before_zap)
        err = be->before_zap(p->a, p->first, p->count);
    if (!err && p->zaps.n)
        err = wvm__step_run(&p->zaps.s[0]);
    if (err) {
        while (narrowed-- > 0)
            unnarrow(p, &p->narrows.s[narrowed]);
        while (done-- > 0)
            wvm__step_undo(&p->steps.s[done]);
        return err;
    }
    for (size_t z = 1; z < p->zaps.n; z++)
        if ((err = wvm__step_run(&p->zaps.s[z])))
            return err;
    for (size_t i = 0; i < p->posts.n; i++) /* a failure is recorded in the snapshot (UNDER) */
        if (wvm__step_run(&p->posts.s[i]))
            p->post_failed = true;
    for (size_t i = 0; i < p->narrows.n; i++) { /* the same (apply) */
        wvm_step *s = &p->narrows.s[i];
        if (wvm__prim_protect((void *)s->addr, s->len, WVM_P_RW))
            p->narrow_failed = true;
        else
            s->prot = WVM_P_RW;
    }
    return 0;
}

typedef struct diff_ctx {
    plan *p;
    const wvm_snap *to;
    uint32_t from; /* the old attribute of the piece being split by the target */
} diff_ctx;

static int diff_to(uint64_t first, uint64_t count, uint32_t to, void *ctx)
{
    diff_ctx *d = ctx;
    return plan_piece(d->p, d->p->base + first * WVM_PAGE, count * WVM_PAGE, d->from, to);
}

static int diff_piece(uint64_t first, uint64_t count, uint32_t from, void *ctx)
{
    diff_ctx *d = ctx;
    d->from = from; /* the target snapshot may split this piece further */
    return wvm__snap_each(d->to, first, count, diff_to, d);
}

static uint32_t clear_under(uint32_t old, void *ctx)
{
    (void)ctx;
    return old & ~WVM_ATTR_UNDER;
}

static uint32_t set_under(uint32_t old, void *ctx)
{
    (void)ctx;
    return wvm__attr_committed(old) ? old : old | WVM_ATTR_UNDER;
}

/* Segments left PROT_NONE under their markers are marked UNDER in `to` (the next commit sets
 * the protection); when even that fails the allocation stops trusting UNDER (under_lost). */
static wvm_snap *mark_unwidened(wvm_alloc *a, const plan *p, wvm_snap *to)
{
    for (size_t i = 0; i < p->narrows.n; i++) {
        const wvm_step *s = &p->narrows.s[i];
        if (s->prot != WVM_P_NONE)
            continue;
        wvm_snap *m =
            wvm__snap_map(to, (s->addr - p->base) / WVM_PAGE, s->len / WVM_PAGE, set_under, NULL);
        if (!m) {
            a->under_lost = true;
            return to;
        }
        wvm__snap_free(to);
        to = m;
    }
    return to;
}

/* Moves the kernel from a's current state to `to` over [first, first+count) and publishes
 * (the order: see the top of this file). */
static uint32_t apply(wvm_alloc *a, wvm_snap *to, uint64_t first, uint64_t count)
{
    /* one walk when no new page is write-protected, marked or guarded (most changes) */
    const uint32_t SPECIAL = WVM_ATTR_WP | WVM_ATTR_MARK | WVM_ATTR_GUARD;
    uint32_t one_to, one_from;
    const wvm_snap *to0 = to; /* (wvm__wp_prepare may replace to) */
    bool one = wvm__snap_one(to, first, count, &one_to);
    bool special = one ? (one_to & SPECIAL) != 0
                       : wvm__snap_any(to, first, count, (wvm_pred){SPECIAL, 0, false});
    uint32_t werr = special ? wvm__wp_prepare(a, &to, first, count) : 0;
    if (werr) {
        wvm__snap_free(to);
        return werr;
    }
    plan p;
    plan_init(&p, a, to);
    p.first = first;
    p.count = count;
    diff_ctx d = {&p, to, 0};
    bool new_map;
    /* consumed guards must be folded before any is re-armed: readers of the visible snapshot
     * rely on its guard bits only going from armed to consumed (guard.h); widening steps a
     * staged change left are taken first (only after a hook refused that change) */
    uint32_t gerr = wvm__guard_pending(wvm__alloc_snap(a)) ? WVM_ERROR_NOT_ENOUGH_MEMORY
                    : wvm__deferred_pending(a)             ? wvm__alloc_widen_deferred(a)
                                                           : 0;
    new_map = false;
    if (!gerr && special)
        gerr = wvm__guard_prepare(to, first, count, &new_map);
    if (gerr) {
        wvm__mark_undo(wvm__alloc_snap(a), to, first, count);
        plan_free(&p);
        wvm__snap_free(to);
        return gerr;
    }
    const wvm_snap *from = wvm__alloc_snap(a);
    int err;
    if (one && to == to0 && wvm__snap_one(from, first, count, &one_from)) /* one piece */
        err = plan_piece(&p, p.base + first * WVM_PAGE, count * WVM_PAGE, one_from, one_to);
    else
        err = wvm__snap_each(from, first, count, diff_piece, &d);
    if (!err)
        err = plan_run(&p);
    if (!err && p.posts.n && !p.post_failed) { /* every mapping under a new marker is read-write */
        wvm_snap *clean = wvm__snap_map(to, first, count, clear_under, NULL);
        if (clean) { /* else UNDER stays: the next commit protects once more, no harm */
            wvm__snap_free(to);
            to = clean;
        }
    }
    if (!err && p.narrow_failed)
        to = mark_unwidened(a, &p, to);
    if (err) {
        wvm__mark_undo(wvm__alloc_snap(a), to, first, count);
        plan_free(&p);
        if (new_map)
            wvm__guard_discard(to);
        wvm__snap_free(to);
        return wvm__err_from_errno(err);
    }
    if (!p.wides.n || (a->staged && wvm__deferred_keep(a, p.wides.s, p.wides.n))) {
        wvm__alloc_publish(a, to); /* staged: readers see it, and the deferred steps, later */
    } else if (a->staged) {        /* no memory to defer: the kernel first, as readers cannot see */
        if (!(err = wvm__steps_run(p.wides.s, p.wides.n)))
            wvm__alloc_publish(a, to);
    } else {
        wvm_snap *before = wvm__alloc_publish_keep(a, to);
        if (!(err = wvm__steps_run(p.wides.s, p.wides.n))) {
            wvm__alloc_settle(a, before);
        } else {
            wvm__alloc_unpublish(a, before); /* to is retired: readers may still hold it */
            if (new_map)
                wvm__guard_release(to->guards);
            to = NULL;
        }
    }
    if (err) { /* back to before: the kernel undoes the first half, widening after the publish */
        for (size_t i = p.steps.n; i-- > 0;)
            wvm__step_undo(&p.steps.s[i]);
        if (to && new_map)
            wvm__guard_discard(to);
        if (to)
            wvm__snap_free(to);
    }
    plan_free(&p);
    return wvm__err_from_errno(err);
}

typedef struct commit_ctx {
    const wvm_alloc *a;
    uint32_t prot;
} commit_ctx;

static uint32_t set_committed(uint32_t old, void *ctx)
{
    const commit_ctx *c = ctx;
    if (!wvm__attr_committed(old))
        return wvm__wp_fix(c->a, c->prot);
    return wvm__wp_fix(c->a, (old & ~(WVM_ATTR_PROT_MASK | WVM_ATTR_RESET)) | c->prot);
}

/* An uncommitted page keeps UNDER; a decommitted one is widened back to read-write under its
 * marker by apply(), which marks it UNDER only if that fails (mark_unwidened). */
static uint32_t set_decommitted(uint32_t old, void *ctx)
{
    (void)ctx;
    return wvm__attr_committed(old) ? 0 : old & WVM_ATTR_UNDER;
}

/* The backend's veto, if it has one. */
static uint32_t allowed(wvm_alloc *a, uint32_t op, uint64_t first, uint64_t count)
{
    const wvm_backend *be = wvm__alloc_backend(a);
    return be && be->allow ? be->allow(a, op, first, count) : 0;
}

static uint32_t set_attr(uint32_t old, void *ctx)
{
    (void)old;
    return *(uint32_t *)ctx;
}

typedef struct rebuild {
    const wvm_snap *now; /* the published state */
    wvm_snap *cur;       /* it with the pieces of the old state put back (unpublished) */
} rebuild;

static int rebuild_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    rebuild *r = ctx;
    wvm_snap *next = wvm__snap_map(r->cur, first, count, set_attr, &attr);
    if (!next)
        return 1;
    if (r->cur != r->now)
        wvm__snap_free(r->cur);
    r->cur = next;
    return 0;
}

/* Puts [first, first+count) back as `before` had it, after a backend hook refused a change
 * that was already published. before is retired but still readable (the caller is inside an
 * epoch section); the new state is built from the published one, which alone may be a
 * source of writes (snap.h). Returns 0 when the kernel and the snapshot are back. */
static uint32_t restore(wvm_alloc *a, const wvm_snap *before, uint64_t first, uint64_t count)
{
    wvm_snap *now = wvm__alloc_snap(a);
    rebuild r = {now, now};
    if (wvm__snap_each(before, first, count, rebuild_piece, &r)) {
        if (r.cur != now)
            wvm__snap_free(r.cur);
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    }
    return r.cur == now ? 0 : apply(a, r.cur, first, count);
}

static inline __attribute__((always_inline)) uint32_t commit_once(wvm_alloc *a, uint64_t first,
                                                                  uint64_t count, uint32_t prot)
{
    wvm_snap *s = wvm__alloc_snap(a);
    uint32_t err = allowed(a, WVM_MEM_COMMIT, first, count);
    if (err)
        return err;
    uint32_t attr;
    uint64_t fresh = wvm__snap_one(s, first, count, &attr)
                         ? (wvm__attr_committed(attr) ? 0 : count)
                         : wvm__snap_count(s, first, count, WVM_UNCOMMITTED);
    err = wvm__ledger_charge(fresh * WVM_PAGE);
    if (err)
        return err;
    uintptr_t start = s->base + first * WVM_PAGE;
    if (fresh && a->guard_mode) {
        int e = wvm__arena_guard_chunks(start, start + count * WVM_PAGE);
        if (e) {
            wvm__ledger_uncharge(fresh * WVM_PAGE);
            return wvm__err_from_errno(e);
        }
    }
    const wvm_backend *be = wvm__alloc_backend(a);
    wvm__ebr_enter(); /* keeps the old snapshot alive for the hooks and for undo */
    commit_ctx cc = {a, prot};
    wvm_snap *to = wvm__snap_map(s, first, count, set_committed, &cc);
    err = to ? apply(a, to, first, count) : WVM_ERROR_NOT_ENOUGH_MEMORY;
    if (!err && be && wvm__deferred_pending(a)) {
        /* staged: the hooks set kernel protections of their own on the committed pages (write
         * watch: write-protected until written), which the widening must not undo (guard
         * remove drops a userfaultfd write protection set on a marker): they follow it, after
         * the birth (wvm__alloc_widen_deferred) */
        wvm__deferred_hooks(a, fresh != 0, first, count);
        be = NULL;
    }
    if (err) {
        wvm__ledger_uncharge(fresh * WVM_PAGE);
    } else if ((be && be->after_commit && fresh && (err = be->after_commit(a, s, first, count))) ||
               (be && be->after_change && (err = be->after_change(a, first, count)))) {
        if (!restore(a, s, first, count)) /* a hook refused: back to before */
            wvm__ledger_uncharge(fresh * WVM_PAGE);
    }
    wvm__ebr_exit();
    return err;
}

/* ERROR_NOT_ENOUGH_MEMORY: the stash policy (core/stash.h) may have chosen mprotect for
 * pages with data where the kernel had no mapping left. The commit changed nothing; it is made
 * once more then (the policy now stashes). Cold: point operations pay nothing for it. */
__attribute__((noinline, cold)) static uint32_t commit_again(wvm_alloc *a, uint64_t first,
                                                             uint64_t count, uint32_t prot)
{
    return wvm__stash_policy_refused() ? commit_once(a, first, count, prot)
                                       : WVM_ERROR_NOT_ENOUGH_MEMORY;
}

uint32_t wvm__alloc_commit(wvm_alloc *a, uint64_t first, uint64_t count, uint32_t prot)
{
    uint32_t err = commit_once(a, first, count, prot);
    return __builtin_expect(err == WVM_ERROR_NOT_ENOUGH_MEMORY, 0)
               ? commit_again(a, first, count, prot)
               : err;
}

typedef struct tally {
    uint64_t uncommitted, locked;
} tally;

static int tally_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    (void)first;
    tally *t = ctx;
    if (!wvm__attr_committed(attr))
        t->uncommitted += count;
    if (attr & WVM_ATTR_LOCKED)
        t->locked += count;
    return 0;
}

uint32_t wvm__alloc_decommit(wvm_alloc *a, uint64_t first, uint64_t count)
{
    wvm_snap *s = wvm__alloc_snap(a);
    uint32_t veto = allowed(a, WVM_MEM_DECOMMIT, first, count);
    if (veto)
        return veto;
    tally t = {0, 0}; /* one walk for both counts */
    wvm__snap_each(s, first, count, tally_piece, &t);
    if (t.uncommitted == count)
        return 0; /* nothing committed: no system call, no new snapshot */
    const wvm_backend *be = wvm__alloc_backend(a);
    if (be && be->before_decommit) {
        uint32_t e = be->before_decommit(a, first, count);
        if (e)
            return e;
        s = wvm__alloc_snap(a); /* the hook may have published */
        t.locked = wvm__snap_count(s, first, count, WVM_LOCKED);
    }
    wvm_snap *to = wvm__snap_map(s, first, count, set_decommitted, NULL);
    uint32_t err = to ? apply(a, to, first, count) : WVM_ERROR_NOT_ENOUGH_MEMORY;
    if (!err) {
        wvm__ledger_uncharge((count - t.uncommitted) * WVM_PAGE);
        wvm__lock_uncharge(t.locked);
    }
    return err;
}

typedef struct protect_ctx {
    const wvm_alloc *a;
    wvm_attr_fn f;
    void *ctx;
} protect_ctx;

static uint32_t protect_fixed(uint32_t old, void *ctx)
{
    const protect_ctx *c = ctx;
    uint32_t attr = c->f(old, c->ctx);
    return wvm__attr_committed(attr) ? wvm__wp_fix(c->a, attr) : attr;
}

uint32_t wvm__alloc_protect_with(wvm_alloc *a, uint64_t first, uint64_t count, wvm_attr_fn f,
                                 void *ctx)
{
    wvm__ebr_enter(); /* keeps the old snapshot alive for undo */
    wvm_snap *before = wvm__alloc_snap(a);
    protect_ctx pc = {a, f, ctx};
    wvm_snap *to = wvm__snap_map(before, first, count, protect_fixed, &pc);
    uint32_t err = to ? apply(a, to, first, count) : WVM_ERROR_NOT_ENOUGH_MEMORY;
    const wvm_backend *be = wvm__alloc_backend(a);
    if (!err && be && be->after_change && (err = be->after_change(a, first, count)))
        restore(a, before, first, count); /* the hook refused: back to before */
    wvm__ebr_exit();
    return err;
}

static uint32_t strip_wp(uint32_t old, void *ctx)
{
    (void)ctx;
    return old & ~WVM_ATTR_WP;
}

uint32_t wvm__alloc_wp_strip(wvm_alloc *a, uint64_t first, uint64_t count)
{
    wvm_snap *s = wvm__alloc_snap(a);
    if (!wvm__snap_any(s, first, count, WVM_WRITE_PROTECTED))
        return 0;
    wvm_snap *to = wvm__snap_map(s, first, count, strip_wp, NULL);
    return to ? apply(a, to, first, count) : WVM_ERROR_NOT_ENOUGH_MEMORY;
}

static int widen_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    const wvm_alloc *a = ctx;
    const wvm_snap *s = wvm__alloc_snap((wvm_alloc *)a);
    bool under = (attr & WVM_ATTR_UNDER) || (a->under_lost && !wvm__attr_committed(attr));
    if (under &&
        wvm__prim_protect((void *)(s->base + first * WVM_PAGE), count * WVM_PAGE, WVM_P_RW))
        return 1;
    return 0;
}

bool wvm__alloc_widen_under(wvm_alloc *a)
{
    const wvm_snap *s = wvm__alloc_snap(a);
    return !wvm__snap_each(s, 0, wvm__snap_pages(s), widen_piece, a);
}
