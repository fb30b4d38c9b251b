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

/* The default mix (per mille): what races most often gets the most calls. */
const uint32_t lin_default_mix[RM_NKINDS] = {
    [RM_RESERVE] = 100, [RM_COMMIT] = 120, [RM_DECOMMIT] = 80, [RM_RELEASE] = 40,
    [RM_PROTECT] = 140, [RM_QUERY] = 200,  [RM_RESET] = 15,    [RM_RESET_UNDO] = 15,
    [RM_LOCK] = 20,     [RM_UNLOCK] = 20,  [RM_WW_GET] = 37,   [RM_WW_RESET] = 13,
    [RM_READ] = 100,    [RM_WRITE] = 100};

static unsigned pick_kind(const lin_gen *g, uint64_t *s)
{
    uint32_t total = 0;
    for (unsigned k = 0; k < RM_FREECHECK; k++)
        total += g->mix[k];
    uint32_t w = below(s, total);
    unsigned k = 0;
    while (w >= g->mix[k])
        w -= g->mix[k++];
    return k;
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
    uint32_t p = below(s, sp);
    const lin_hint *h = &hints[c->slot];
    if (h->end > h->base && below(s, 10) < 7) { /* inside the allocation last seen there */
        p = h->base + below(s, (uint32_t)(h->end - h->base));
        sp = h->end;
    }
    if (g->fork_permille && below(s, 1000) < g->fork_permille) {
        c->fork = 1;
        return;
    }
    o->kind = (uint8_t)pick_kind(g, s);
    switch (o->kind) {
    case RM_RESERVE:
        sp = g->slot_pages;
        p = below(s, sp);
        if (below(s, 5))
            p = p / RM_GRAN * RM_GRAN;
        o->npages = below(s, 2) ? count(s, sp - p) : sp - p - below(s, sp - p);
        o->type = WVM_MEM_RESERVE | (below(s, 2) ? WVM_MEM_COMMIT : 0);
        if (below(s, 10) < 4 && !g->no_write_watch) /* drawn either way: same stream */
            o->type |= WVM_MEM_WRITE_WATCH;
        o->prot = prot_for(g, s, p / RM_GRAN * RM_GRAN, p + o->npages - p / RM_GRAN * RM_GRAN);
        break;
    case RM_COMMIT:
    case RM_PROTECT:
        o->npages = count(s, sp - p);
        o->prot = prot_for(g, s, p, o->npages);
        break;
    case RM_DECOMMIT:
        if (below(s, 5) == 0) {
            p = p / RM_GRAN * RM_GRAN;
            o->npages = 0; /* the whole allocation */
        } else
            o->npages = count(s, sp - p);
        break;
    case RM_RELEASE:
        if (h->end > h->base && below(s, 10) < 7)
            p = h->base;
        else if (below(s, 10))
            p = p / RM_GRAN * RM_GRAN;
        break;
    case RM_QUERY:
        o->val = (uint8_t)below(s, 256);
        /* granule starts are where reservations land: a query there races with them */
        if (below(s, 10) < 4)
            p = p / RM_GRAN * RM_GRAN;
        break;
    case RM_RESET:
    case RM_RESET_UNDO:
        o->npages = count(s, sp - p);
        o->prot = below(s, 10) ? WVM_PAGE_READWRITE : WVM_PAGE_NOACCESS;
        break;
    case RM_LOCK:
    case RM_UNLOCK:
        if (!g->lock_pages) {
            o->kind = RM_QUERY;
            break;
        }
        p = below(s, g->lock_pages);
        o->npages = count(s, g->lock_pages - p);
        break;
    case RM_WW_GET:
    case RM_WW_RESET:
        o->npages = count(s, sp - p < 64 ? sp - p : 64);
        o->type = below(s, 2);
        o->cap = 1 + below(s, o->npages + 2);
        break;
    case RM_WRITE:
        o->val = (uint8_t)(1 + below(s, 255));
        break;
    default: /* RM_READ */
        break;
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
