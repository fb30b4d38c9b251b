/* Partitioning a round's history by slot (split.h).
 *
 * Every operation but three kinds stays inside its slot, and Windows decides its result from
 * that slot's pages alone, so the slots are independent objects and the history is
 * linearizable iff each slot's sub-history is (P-compositionality). The three kinds that reach
 * further are split into parts with the call's own interval, each part checked in its slot:
 *   - a query of free memory whose region runs past its slot: "free from here to the slot's
 *     end" in its slot, "free" / "free up to page k, allocated at k" in each following slot
 *     (RM_FREECHECK); past the last slot the region must end exactly at the high fence;
 *   - a call whose out-parameter lies in a (possibly other) slot's buffer page: the call in
 *     its slot, and "the page was writable" / "was not" in the buffer's slot (RM_BUFCHECK);
 *   - fork(): the child's view of each slot (RM_VIEW).
 * A part is placed at its own instant. That is sound (a history with a linearization gives
 * every part a place at the call's instant, so a violation found is real) but weaker than one
 * instant for all parts: a query that stitched two slots' states from different moments is
 * caught only if some part is impossible on its own. */
#include "split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <winvmem/win32.h>

#include "exec.h"
#include "fork.h"

#define GRAN_BYTES ((size_t)RM_GRAN * RM_PAGE)

void lin_window_init(lin_window *w, uint32_t slots, uint32_t slot_pages)
{
    size_t total = (size_t)slots * slot_pages * RM_PAGE + 2 * GRAN_BYTES;
    char *p = VirtualAlloc(NULL, total, MEM_RESERVE, PAGE_NOACCESS);
    if (!p || !VirtualFree(p, 0, MEM_RELEASE) ||
        VirtualAlloc(p, GRAN_BYTES, MEM_RESERVE, PAGE_NOACCESS) != p ||
        VirtualAlloc(p + total - GRAN_BYTES, GRAN_BYTES, MEM_RESERVE, PAGE_NOACCESS) !=
            p + total - GRAN_BYTES) {
        fprintf(stderr, "lin: cannot place the window (%u)\n", GetLastError());
        exit(2);
    }
    w->lo_fence = p;
    w->base = p + GRAN_BYTES;
    w->hi_fence = p + total - GRAN_BYTES;
    w->slots = slots;
    w->slot_pages = slot_pages;
    struct rlimit rl;
    uint64_t limit = getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY
                         ? UINT64_MAX
                         : rl.rlim_cur / RM_PAGE;
    uint64_t per = limit / 2 / slots;
    w->lock_pages = per > 16 ? 16 : (uint32_t)per;
}

char *lin_slot_base(const lin_window *w, uint32_t slot)
{
    return w->base + (size_t)slot * w->slot_pages * RM_PAGE;
}

void *lin_buffer(const lin_window *w, uint32_t slot, uint32_t thread)
{
    /* threads share offsets past 11: the values written there are never read back */
    return lin_slot_base(w, slot) + (size_t)(w->slot_pages - 1) * RM_PAGE + 256 +
           (thread % 11) * LIN_BUF_BYTES;
}

/* ---- building the slots' histories ----------------------------------------------------------- */

typedef struct part {
    lin_pop *ops;
    uint32_t n, cap;
} part;

static lin_pop *add(part *p, const lin_rec *r, uint32_t thread, uint32_t seq)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->ops = realloc(p->ops, p->cap * sizeof *p->ops);
        if (!p->ops) {
            fprintf(stderr, "lin: out of memory\n");
            abort();
        }
    }
    lin_pop *o = &p->ops[p->n++];
    o->inv = r->inv;
    o->resp = r->resp;
    o->op = r->op;
    o->res = r->res;
    o->thread = thread;
    o->seq = seq;
    return o;
}

static int fail_now(const lin_rec *r, uint32_t thread, uint32_t seq, const char *what)
{
    char b[600] = "";
    rm_describe(b, sizeof b, &r->op, &r->res);
    fprintf(stderr, "lin: slot %u: VIOLATION: [t%u #%u] %s: %s\n", r->slot, thread, seq, b, what);
    return WGL_VIOLATION;
}

/* The parts of a free region [abs_base, abs_base + abs_size) past the call's slot. */
static int split_free(const lin_window *w, part *parts, const lin_rec *r, uint32_t thread,
                      uint32_t seq)
{
    uintptr_t slot_end = (uintptr_t)lin_slot_base(w, r->slot) + (uintptr_t)w->slot_pages * RM_PAGE;
    uintptr_t e = (uintptr_t)(r->abs_base + r->abs_size);
    if (e < r->abs_base || e < slot_end || (r->abs_size % RM_PAGE))
        return 0; /* inside its slot (or malformed): the model checks the size exactly */
    if (e > (uintptr_t)w->hi_fence)
        return fail_now(r, thread, seq, "free region runs into the high fence (allocated)");
    for (uint32_t y = r->slot + 1; y < w->slots; y++) {
        uintptr_t yb = (uintptr_t)lin_slot_base(w, y), ye = yb + (uintptr_t)w->slot_pages * RM_PAGE;
        if (yb > e)
            break;
        lin_pop *o = add(&parts[y], r, thread, seq);
        o->op = (rm_op){.kind = RM_FREECHECK,
                        .page = 0,
                        .npages = (uint32_t)(((e < ye ? e : ye) - yb) / RM_PAGE),
                        .type = e < ye};
        if (e < ye)
            break;
    }
    return 0;
}

static int overlap(const lin_pop *a, const lin_pop *b)
{
    return a->inv < b->resp && b->inv < a->resp;
}

/* Whether o is a successful call that may take write access away from page (a commit or
 * protect to a narrower protection, a decommit, a release): a store that faulted while o ran
 * may have had its page recorded written. */
static int narrows_page(const lin_pop *o, uint32_t page)
{
    switch (o->op.kind) {
    case RM_COMMIT:
    case RM_DECOMMIT:
    case RM_RELEASE:
    case RM_PROTECT:
        break;
    default:
        return 0;
    }
    /* npages 0: the whole allocation from page on (decommit, release) */
    return o->res.ok && page >= o->op.page && (!o->op.npages || page < o->op.page + o->op.npages);
}

/* Finding (m), a documented deviation of winvmem (doc/porting.md): a store that faulted may
 * still have left its page recorded written when a call narrowing that page ran during it
 * (the record is made when the store's fault is resolved, the store itself when the
 * instruction runs again; a narrowing in between makes the retry fault). Marks such stores
 * (rm_op.contested = 1); every other record stays exact. */
static void mark_racing_stores(part *p)
{
    for (uint32_t i = 0; i < p->n; i++) {
        lin_pop *w = &p->ops[i];
        int failed = (w->op.kind == RM_WRITE && w->res.fault != RM_NOFAULT) ||
                     (w->op.kind == RM_BUFCHECK && !w->res.ok);
        if (!failed)
            continue;
        for (uint32_t j = 0; j < p->n && !w->op.contested; j++)
            if (j != i && overlap(w, &p->ops[j]) && narrows_page(&p->ops[j], w->op.page))
                w->op.contested = 1;
    }
}

/* A read that ran while a successful decommit or release covered its page (rm_op.contested
 * of RM_READ, the deviation RM_DEV_DECOMMIT_READ_ZERO): bit 0 when a decommit of a range
 * holding the page ran, bit 1 + g when a call on the whole allocation based at granule g did
 * (the model knows which allocation the page is in; the call's own range does not say). */
static void mark_racing_reads(part *p)
{
    for (uint32_t i = 0; i < p->n; i++) {
        lin_pop *r = &p->ops[i];
        if (r->op.kind != RM_READ)
            continue;
        for (uint32_t j = 0; j < p->n; j++) {
            const lin_pop *o = &p->ops[j];
            if ((o->op.kind != RM_DECOMMIT && o->op.kind != RM_RELEASE) || !o->res.ok ||
                !overlap(r, o) || r->op.page < o->op.page)
                continue;
            if (o->op.kind == RM_DECOMMIT && o->op.npages) {
                if (r->op.page < o->op.page + o->op.npages)
                    r->op.contested |= 1;
            } else if (o->op.page % RM_GRAN == 0 && o->op.page / RM_GRAN < 63) {
                r->op.contested |= 2ull << (o->op.page / RM_GRAN);
            }
        }
    }
}

static uint64_t contested(const part *p, const lin_pop *g)
{
    uint64_t m = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        const lin_pop *w = &p->ops[i];
        /* stores that were made, may have been made (a failed VirtualProtect's), or may have
         * left a record behind (mark_racing_stores) */
        int writes =
            (w->op.kind == RM_WRITE && (w->res.fault == RM_NOFAULT || w->op.contested)) ||
            (w->op.kind == RM_BUFCHECK && (w->res.ok || (w->op.type & 1) || w->op.contested));
        if (writes && overlap(w, g) && w->op.page >= g->op.page &&
            w->op.page < g->op.page + g->op.npages)
            m |= 1ull << (w->op.page - g->op.page);
    }
    return m;
}

/* Adds one call (and its parts) to the slots' histories; non-zero: a violation found here. */
static int place(const lin_window *w, part *parts, const lin_rec *r, uint32_t thread, uint32_t seq)
{
    if (r->op.kind == RM_VIEW) {
        if (!r->res.ok)
            return fail_now(r, thread, seq, lin_fork_failure(r));
        for (uint32_t s = 0; s < w->slots; s++) {
            lin_pop *o = add(&parts[s], r, thread, seq);
            lin_fork_view(r->view, s, &o->res.view, &o->res.nview);
        }
        return 0;
    }
    /* answers no state can give, named as such (the search would find them too, but its
     * explanation is less direct) */
    if (r->op.kind == RM_QUERY && r->buf_slot < 0 && r->res.ok && !r->abs_size)
        return fail_now(r, thread, seq, "RegionSize 0");
    if (r->op.kind == RM_RESERVE && r->res.ok &&
        r->res.ret != (int64_t)(r->op.page / RM_GRAN * RM_GRAN) * RM_PAGE)
        return fail_now(r, thread, seq, "VirtualAlloc at an address returned another address");
    add(&parts[r->slot], r, thread, seq);
    /* a VirtualProtect refused with 487 stored PAGE_NOACCESS in *lpflOldProtect if its range
     * ran past the allocation (range.h), which its slot's model knows and the buffer's does
     * not: the buffer's slot is told "maybe stored" (type 1) */
    int maybe = r->op.kind == RM_PROTECT && !r->res.ok && r->res.err == ERROR_INVALID_ADDRESS;
    if (r->buf_slot >= 0 && (r->res.ok || r->res.err == ERROR_NOACCESS || maybe)) {
        lin_pop *b = add(&parts[r->buf_slot], r, thread, seq);
        b->op = (rm_op){.kind = RM_BUFCHECK, .page = w->slot_pages - 1, .type = (uint32_t)maybe};
    }
    if (r->op.kind == RM_QUERY && r->buf_slot < 0 && r->res.ok && r->res.mbi.state == MEM_FREE)
        return split_free(w, parts, r, thread, seq);
    return 0;
}

static int check_slot(part *p, uint32_t slot, uint32_t npages, uint64_t budget, const char *label,
                      lin_round_result *rr)
{
    mark_racing_stores(p);
    mark_racing_reads(p);
    for (uint32_t i = 0; i < p->n; i++)
        if (p->ops[i].op.kind == RM_WW_GET && !p->ops[i].res.unknown)
            p->ops[i].op.contested = contested(p, &p->ops[i]);
    rm_state *init = malloc(rm_state_size(npages));
    rm_init(init, npages);
    char tag[96];
    snprintf(tag, sizeof tag, "%s-slot%u", label, slot);
    wgl_stats st;
    int v = wgl_check(p->ops, p->n, init, budget, tag, &st);
    free(init);
    rr->steps += st.steps;
    if (p->n > rr->max_part)
        rr->max_part = p->n;
    if (v == WGL_BUDGET)
        fprintf(stderr,
                "lin: slot %u: INCONCLUSIVE: %u operations, the search stopped after %llu "
                "steps (%llu states; longest explained prefix %u): nothing is proven for this "
                "slot. Use fewer operations per round (--ops) or a larger --budget.\n",
                slot, p->n, (unsigned long long)st.steps, (unsigned long long)st.cache, st.best);
    return v;
}

/* The worse of two verdicts (a violation outranks an inconclusive search). */
static int worse(int a, int b)
{
    return a == WGL_VIOLATION || b == WGL_VIOLATION ? WGL_VIOLATION : a ? a : b;
}

int lin_check_round(const lin_window *w, const lin_history *h, uint64_t budget, int keep_going,
                    const char *label, lin_round_result *rr)
{
    memset(rr, 0, sizeof *rr);
    part *parts = calloc(w->slots, sizeof *parts);
    int v = 0;
    for (uint32_t t = 0; t < h->nthreads && (!v || keep_going); t++)
        for (uint32_t i = 0; i < h->lens[t] && (!v || keep_going); i++) {
            int x = place(w, parts, &h->recs[t][i], t, i);
            rr->violations += x == WGL_VIOLATION;
            v = worse(v, x);
        }
    for (uint32_t i = 0; i < h->naudit && (!v || keep_going); i++) {
        int x = place(w, parts, &h->audit[i], h->nthreads, i);
        rr->violations += x == WGL_VIOLATION;
        v = worse(v, x);
    }
    for (uint32_t s = 0; s < w->slots && (!v || keep_going); s++) {
        int x = check_slot(&parts[s], s, w->slot_pages, budget, label, rr);
        rr->violations += x == WGL_VIOLATION;
        v = worse(v, x);
    }
    for (uint32_t s = 0; s < w->slots; s++)
        free(parts[s].ops);
    free(parts);
    return v;
}
