/* The invariant checker: the model agrees with itself and with the kernel.
 *   - every snapshot's runs start at 0, ascend, differ from their neighbours, lie inside;
 *   - its committed count matches its runs; the ledger equals the sum over allocations;
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
#include "core/space.h"
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

static void check_alloc(wvm_alloc *a, void *ctx)
{
    check_ctx *c = ctx;
    const wvm_snap *s = wvm__alloc_visible(a);
    c->visited++;
    if (!s) {
        fail(c, "live allocation without state", 0);
        return;
    }
    if (s->base % WVM_GRAN || s->size % WVM_PAGE || !s->size || s->nruns == 0 ||
        s->runs[0].first != 0)
        fail(c, "malformed allocation", s->base);
    if (wvm__radix_get(s->base) != a || wvm__radix_get(s->base + s->size - 1) != a)
        fail(c, "index does not find the allocation", s->base);
    uint64_t committed = 0;
    bool guard_mode = a->guard_mode;
    bool own_prot = a->backend && a->backend->write_fault; /* the backend's protections */
    for (uint32_t i = 0; i < s->nruns; i++) {
        uint64_t end = wvm__snap_run_end(s, i);
        if (end <= s->runs[i].first)
            fail(c, "empty or descending run", s->base + s->runs[i].first * WVM_PAGE);
        if (i && s->runs[i].attr == s->runs[i - 1].attr)
            fail(c, "equal neighbouring runs", s->base + s->runs[i].first * WVM_PAGE);
        if (!wvm__attr_committed(s->runs[i].attr))
            continue;
        committed += end - s->runs[i].first;
        int prot = wvm__linux_prot(s->runs[i].attr);
        bool unfolded = (s->runs[i].attr & WVM_PAGE_GUARD) && wvm__guard_pending(s);
        if (c->kernel && !unfolded && !own_prot && (!guard_mode || prot != WVM_P_RW))
            check_kernel(c, s->base + s->runs[i].first * WVM_PAGE, s->base + end * WVM_PAGE, prot);
    }
    for (uint32_t i = 0; i < s->nruns; i++) { /* the quick copy answers like the snapshot */
        uintptr_t page = s->base + s->runs[i].first * WVM_PAGE;
        wvm_MEMORY_BASIC_INFORMATION quick, slow;
        memset(&quick, 0, sizeof quick); /* padding too: compared with memcmp */
        memset(&slow, 0, sizeof slow);
        if (c->kernel && wvm__space_query_quick(page, &quick)) {
            wvm__query_snap(s, page, &slow);
            if (memcmp(&quick, &slow, sizeof quick))
                fail(c, "quick query copy differs from the snapshot", page);
        }
    }
    if (committed != s->committed)
        fail(c, "committed count differs from runs", s->base);
    c->committed_pages += committed;
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
        fail(&c, "live list and count differ", 0);
    if (!after_call && c.committed_pages * WVM_PAGE != wvm__ledger_committed())
        fail(&c, "ledger differs from the sum of committed pages", 0);
    return c.failed ? -1 : 0;
}
