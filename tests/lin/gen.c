/* Random operations for the checker's workers (gen.h). Every operation stays inside one slot;
 * the mix leans towards what races: queries, reservations and releases of the same granules,
 * guard pages, writes beside write-watch scans. */
#include "gen.h"

#include <winvmem/vm.h>

uint64_t lin_rand(uint64_t *s)
{
    uint64_t x = (*s += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint32_t below(uint64_t *s, uint32_t n)
{
    return n ? (uint32_t)(lin_rand(s) % n) : 0;
}

/* Mostly valid protections; a few that every call must refuse (87). */
static const uint32_t prots[] = {WVM_PAGE_NOACCESS,
                                 WVM_PAGE_READONLY,
                                 WVM_PAGE_READWRITE,
                                 WVM_PAGE_READWRITE,
                                 WVM_PAGE_READWRITE,
                                 WVM_PAGE_EXECUTE_READ,
                                 WVM_PAGE_EXECUTE_READWRITE,
                                 WVM_PAGE_EXECUTE,
                                 WVM_PAGE_READWRITE | WVM_PAGE_GUARD,
                                 WVM_PAGE_READONLY | WVM_PAGE_GUARD,
                                 WVM_PAGE_EXECUTE_READ | WVM_PAGE_GUARD,
                                 WVM_PAGE_READWRITE | WVM_PAGE_GUARD,
                                 0,
                                 WVM_PAGE_READONLY | WVM_PAGE_READWRITE,
                                 WVM_PAGE_WRITECOPY,
                                 WVM_PAGE_GUARD | WVM_PAGE_NOACCESS};

static uint32_t prot_for(const lin_gen *g, uint64_t *s, uint32_t page, uint32_t n)
{
    static const uint32_t guarded[] = {WVM_PAGE_READWRITE | WVM_PAGE_GUARD,
                                       WVM_PAGE_READONLY | WVM_PAGE_GUARD,
                                       WVM_PAGE_EXECUTE_READ | WVM_PAGE_GUARD};
    uint32_t p = g->guard_prots ? guarded[below(s, 3)]
                 : below(s, 2)  ? WVM_PAGE_READWRITE
                                : prots[below(s, sizeof prots / sizeof *prots)];
    /* no guard pages over the buffer page (README: out-parameters) */
    if ((p & WVM_PAGE_GUARD) && page + n > g->slot_pages - 1)
        p &= ~WVM_PAGE_GUARD;
    return p;
}

/* 1..max pages, small ones likelier */
static uint32_t count(uint64_t *s, uint32_t max)
{
    if (!max)
        return 0;
    uint32_t r = below(s, 4);
    uint32_t lim = r == 0 ? 1 : r == 1 ? 4 : r == 2 ? 16 : max;
    return 1 + below(s, lim < max ? lim : max);
}

static uint32_t pick_slot(const lin_gen *g, uint64_t *s)
{
    if (g->nhot && below(s, 100) < 80)
        return g->hot[below(s, g->nhot)];
    return below(s, g->slots);
}

void lin_gen_learn(const lin_gen *g, lin_hint *hints, const lin_call *c, const rm_res *r)
{
    lin_hint *h = &hints[c->slot];
    if (c->fork || !r->ok)
        return;
    if (c->op.kind == RM_RESERVE) {
        h->base = (uint16_t)(r->ret / RM_PAGE);
        h->end = (uint16_t)(c->op.page + c->op.npages);
    } else if (c->op.kind == RM_RELEASE && c->op.page == h->base) {
        h->end = 0;
    } else if (c->op.kind == RM_QUERY && !r->unknown && r->mbi.state != WVM_MEM_FREE &&
               r->mbi.alloc_base >= 0 && r->mbi.base >= r->mbi.alloc_base &&
               r->mbi.base + (int64_t)r->mbi.size <= (int64_t)g->slot_pages * RM_PAGE) {
        h->base = (uint16_t)(r->mbi.alloc_base / RM_PAGE);
        h->end = (uint16_t)((r->mbi.base + (int64_t)r->mbi.size) / RM_PAGE);
    }
}

void lin_gen_op(const lin_gen *g, uint64_t *s, const lin_hint *hints, lin_call *c)
{
    uint32_t sp = g->slot_pages;
    rm_op *o = &c->op;
    *o = (rm_op){0};
    c->slot = pick_slot(g, s);
    c->buf_slot = -1;
    c->fork = 0;
    uint32_t w = below(s, 1000);
    uint32_t p = below(s, sp);
    const lin_hint *h = &hints[c->slot];
    if (h->end > h->base && below(s, 10) < 7) { /* inside the allocation last seen there */
        p = h->base + below(s, (uint32_t)(h->end - h->base));
        sp = h->end;
    }
    if (g->fork_permille && w < g->fork_permille) {
        c->fork = 1;
        return;
    }
    /* cumulative weights out of 1000 */
    if (w < 100) {
        o->kind = RM_RESERVE;
        sp = g->slot_pages;
        p = below(s, sp);
        if (below(s, 5))
            p = p / RM_GRAN * RM_GRAN;
        o->npages = below(s, 2) ? count(s, sp - p) : sp - p - below(s, sp - p);
        o->type = WVM_MEM_RESERVE | (below(s, 2) ? WVM_MEM_COMMIT : 0) |
                  (below(s, 10) < 4 ? WVM_MEM_WRITE_WATCH : 0);
        o->prot = prot_for(g, s, p / RM_GRAN * RM_GRAN, p + o->npages - p / RM_GRAN * RM_GRAN);
    } else if (w < 220) {
        o->kind = RM_COMMIT;
        o->npages = count(s, sp - p);
        o->prot = prot_for(g, s, p, o->npages);
    } else if (w < 300) {
        o->kind = RM_DECOMMIT;
        if (below(s, 5) == 0) {
            p = p / RM_GRAN * RM_GRAN;
            o->npages = 0; /* the whole allocation */
        } else
            o->npages = count(s, sp - p);
    } else if (w < 340) {
        o->kind = RM_RELEASE;
        if (h->end > h->base && below(s, 10) < 7)
            p = h->base;
        else if (below(s, 10))
            p = p / RM_GRAN * RM_GRAN;
    } else if (w < 480) {
        o->kind = RM_PROTECT;
        o->npages = count(s, sp - p);
        o->prot = prot_for(g, s, p, o->npages);
    } else if (w < 680) {
        o->kind = RM_QUERY;
        o->val = (uint8_t)below(s, 256);
        /* granule starts are where reservations land: a query there races with them */
        if (below(s, 10) < 4)
            p = p / RM_GRAN * RM_GRAN;
    } else if (w < 710) {
        o->kind = below(s, 2) ? RM_RESET : RM_RESET_UNDO;
        o->npages = count(s, sp - p);
        o->prot = below(s, 10) ? WVM_PAGE_READWRITE : WVM_PAGE_NOACCESS;
    } else if (w < 750 && g->lock_pages) {
        o->kind = below(s, 2) ? RM_LOCK : RM_UNLOCK;
        p = below(s, g->lock_pages);
        o->npages = count(s, g->lock_pages - p);
    } else if (w < 750) {
        o->kind = RM_QUERY;
    } else if (w < 800) {
        o->kind = below(s, 4) ? RM_WW_GET : RM_WW_RESET;
        o->npages = count(s, sp - p < 64 ? sp - p : 64);
        o->type = below(s, 2);
        o->cap = 1 + below(s, o->npages + 2);
    } else if (w < 900) {
        o->kind = RM_READ;
    } else {
        o->kind = RM_WRITE;
        o->val = (uint8_t)(1 + below(s, 255));
    }
    o->page = p;
    if ((g->skip >> o->kind) & 1)
        *o = (rm_op){.kind = RM_QUERY, .page = p};
    /* out-parameters in memory other threads decommit and protect */
    if ((o->kind == RM_QUERY || o->kind == RM_PROTECT || o->kind == RM_WW_GET) &&
        below(s, 1000) < g->extbuf_permille) {
        c->buf_slot = (int32_t)(below(s, 2) ? c->slot : pick_slot(g, s));
        if (o->kind == RM_WW_GET && o->cap > 32)
            o->cap = 32;
    }
}
