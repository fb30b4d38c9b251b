/* The invariant checker: the model agrees with itself and with the kernel.
 *   - every snapshot's page tree is well formed (wvm__snap_check: runs ascend and differ from
 *     their neighbours, nodes collapsed) and its committed count matches its pages; the
 *     ledger equals the sum over allocations;
 *   - allocations do not overlap and the index finds each at its base;
 *   - the kernel's protection of every committed run matches (mprotect fallback mode, and
 *     for pages whose protection is not read-write in guard-marker mode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/guard.h"
#include "core/ledger.h"
#include "core/query.h"
#include "core/radix.h"
#include "core/section.h"
#include "core/space.h"
#include "core/view.h"
#include "core/wp.h"
#include "prim/linux/prim.h"

typedef struct check_ctx {
    bool kernel; /* compare with the kernel (only when no other thread is mid-operation) */
    uint64_t committed_pages;
    int failed;
    uint64_t visited;
} check_ctx;

static void fail(check_ctx *c, const char *what, uintptr_t at)
{
    if (!c->failed)
        fprintf(stderr, "winvmem: invariant violated: %s at %#lx\n", what, (unsigned long)at);
    c->failed = 1;
}

/* The kernel must give every page of [start, end) protection prot. */
static void check_kernel(check_ctx *c, uintptr_t start, uintptr_t end, int prot)
{
    wvm_vma v;
    for (uintptr_t at = start; at < end; at = v.end) {
        if (wvm__prim_vma_next(at, &v) || v.start > at) {
            fail(c, "committed page without a mapping", at);
            return;
        }
        if (v.prot != prot) {
            if (!c->failed)
                fprintf(stderr, "winvmem: kernel %d, model %d over [%#lx, %#lx)\n", v.prot, prot,
                        (unsigned long)start, (unsigned long)end);
            fail(c, "kernel protection differs from the model", at);
            return;
        }
    }
}

typedef struct piece_ctx {
    check_ctx *c;
    wvm_alloc *a;
    const wvm_snap *s;
} piece_ctx;

/* One piece of equal attribute: the kernel agrees, and the quick copy answers like the
 * snapshot at its first page. */
static int check_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    piece_ctx *p = ctx;
    check_ctx *c = p->c;
    const wvm_snap *s = p->s;
    const wvm_backend *be = wvm__alloc_backend(p->a);
    bool own_prot = be && be->write_fault; /* the backend's protections */
    if (wvm__attr_committed(attr)) {
        int prot = wvm__attr_kprot(attr);
        bool unfolded = (attr & WVM_PAGE_GUARD) && wvm__guard_pending(s);
        if (c->kernel && !unfolded && !own_prot && (!p->a->guard_mode || prot != WVM_P_RW))
            check_kernel(c, s->base + first * WVM_PAGE, s->base + (first + count) * WVM_PAGE, prot);
    }
    uintptr_t page = s->base + first * WVM_PAGE;
    wvm_MEMORY_BASIC_INFORMATION quick, slow;
    memset(&quick, 0, sizeof quick); /* padding too: compared with memcmp */
    memset(&slow, 0, sizeof slow);
    if (c->kernel && wvm__query_quick(page, &quick)) {
        wvm__query_snap(s, page, &slow);
        if (memcmp(&quick, &slow, sizeof quick))
            fail(c, "quick query copy differs from the snapshot", page);
    }
    return 0;
}

static void check_snap(check_ctx *c, wvm_alloc *a, const wvm_snap *s, wvm_refs_seen refs)
{
    const char *bad = wvm__snap_check(s, refs);
    if (bad)
        fail(c, bad, s->base);
    /* (pieces of a placeholder split at pages start at pages) */
    if ((s->base % WVM_GRAN &&
         (s->base % WVM_PAGE || !(s->type & (WVM_TYPE_PLACEHOLDER | WVM_TYPE_REPLACED)))) ||
        s->size % WVM_PAGE || !s->size)
        fail(c, "malformed allocation", s->base);
    if (wvm__radix_get(s->base) != a || wvm__radix_get(s->base + s->size - 1) != a)
        fail(c, "index does not find the allocation", s->base);
    piece_ctx p = {c, a, s};
    wvm__snap_each(s, 0, wvm__snap_pages(s), check_piece, &p);
    const wvm_backend *be = wvm__alloc_backend(a);
    if (!(be && be->mapped)) /* a view's pages are its section's */
        c->committed_pages += s->committed;
}

/* After a call, allocations above this size are left to wvm_check_invariants: a fragmented
 * one (131,072 read-only islands in tests/api/test_readonly_pages.c) would make every call
 * cost O(its runs). */
#define AFTER_CALL_MAX_BYTES ((size_t)256 << 20)

static void check_alloc(wvm_alloc *a, void *ctx)
{
    check_ctx *c = ctx;
    /* The tree's reference counts are the writers' (snap.h): a published snapshot may be
     * retired while we read it (its own nodes drop to no reference, waiting for our epoch).
     * They are checked only with the allocation's lock, taken without waiting (placement is
     * held, and writers take it after their allocation's lock); else the shape alone. */
    c->visited++;
    const wvm_snap *v = wvm__alloc_visible(a);
    if (!c->kernel && v && v->size > AFTER_CALL_MAX_BYTES)
        return;
    bool locked = wvm__alloc_trylock(a);
    const wvm_snap *s = wvm__alloc_visible(a);
    if (!s) {
        fail(c, "live allocation without state", 0);
    } else {
        bool sole = locked && !a->staged && s == wvm__alloc_snap(a);
        check_snap(c, a, s, sole ? WVM_REFS_SOLE : WVM_REFS_UNSEEN);
    }
    if (locked)
        wvm__space_unlock(a);
}

int wvm__check(bool after_call)
{
    check_ctx c = {!after_call, 0, 0, 0};
    wvm_space_stats ss;
    wvm__space_stats(&ss);
    if (after_call && ss.live > 512)
        return 0;     /* too costly after every call; wvm_check_invariants checks everything */
    wvm__ebr_enter(); /* snapshots stay valid while we read them */
    wvm__space_each(check_alloc, &c);
    wvm__ebr_exit();
    if (!after_call && c.visited != ss.live)
        fail(&c, "allocations in the index and the live count differ", 0);
    uint64_t elsewhere = wvm__section_charged() + wvm__view_charged();
    if (!after_call && c.committed_pages * WVM_PAGE + elsewhere != wvm__ledger_committed())
        fail(&c, "ledger differs from the sum of committed pages", 0);
    return c.failed ? -1 : 0;
}
