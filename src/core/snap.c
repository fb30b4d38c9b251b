#include <string.h>

#include "core/meta.h"
#include "core/snap.h"

static size_t bytes_for(uint32_t nruns)
{
    return sizeof(wvm_snap) + nruns * sizeof(wvm_run);
}

static wvm_snap *alloc_snap(uint32_t nruns)
{
    wvm_snap *s = wvm__meta_alloc(bytes_for(nruns));
    if (s)
        s->cap = nruns;
    return s;
}

wvm_snap *wvm__snap_new(uintptr_t base, size_t size, uint32_t alloc_prot, uint32_t type)
{
    wvm_snap *s = alloc_snap(1);
    if (!s)
        return NULL;
    memset(s, 0, offsetof(wvm_snap, cap));
    s->base = base;
    s->size = size;
    s->alloc_prot = alloc_prot;
    s->type = type;
    s->nruns = 1;
    s->runs[0] = (wvm_run){0, 0, 0};
    return s;
}

void wvm__snap_free(wvm_snap *s)
{
    if (s)
        wvm__meta_free(s, bytes_for(s->cap));
}

void wvm__snap_retire(wvm_snap *s)
{
    if (s)
        wvm__ebr_retire(&s->hdr, bytes_for(s->cap));
}

uint32_t wvm__snap_find(const wvm_snap *s, uint64_t page)
{
    uint32_t lo = 0, hi = s->nruns; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->runs[mid].first <= page)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Appends a run unless it continues the previous one. */
static void push(wvm_snap *d, uint64_t first, uint32_t attr)
{
    if (d->nruns && d->runs[d->nruns - 1].attr == attr)
        return;
    d->runs[d->nruns++] = (wvm_run){first, attr, 0};
}

/* Snapshots of up to this many runs are built on the stack and copied into a block of
 * their exact size (metadata stays the size of the state, without a realloc). */
enum { STACK_RUNS = 32 };

/* Fills d (room for s->nruns + 2 runs) with s mapped over [first, first+count). */
static void map_into(wvm_snap *d, const wvm_snap *s, uint64_t first, uint64_t count, wvm_attr_fn f,
                     void *ctx)
{
    uint64_t end = first + count;
    uint32_t a = wvm__snap_find(s, first), b = wvm__snap_find(s, end - 1);
    memcpy(d, s, offsetof(wvm_snap, cap));
    d->nruns = 0;
    for (uint32_t i = 0; i < a; i++)
        push(d, s->runs[i].first, s->runs[i].attr);
    if (s->runs[a].first < first)
        push(d, s->runs[a].first, s->runs[a].attr);
    for (uint32_t i = a; i <= b; i++) {
        uint64_t from = s->runs[i].first > first ? s->runs[i].first : first;
        push(d, from, f(s->runs[i].attr, ctx));
    }
    if (end < wvm__snap_run_end(s, b))
        push(d, end, s->runs[b].attr);
    for (uint32_t i = b + 1; i < s->nruns; i++)
        push(d, s->runs[i].first, s->runs[i].attr);
    uint64_t committed = 0;
    for (uint32_t i = 0; i < d->nruns; i++)
        if (wvm__attr_committed(d->runs[i].attr))
            committed += wvm__snap_run_end(d, i) - d->runs[i].first;
    d->committed = committed;
}

wvm_snap *wvm__snap_map(const wvm_snap *s, uint64_t first, uint64_t count, wvm_attr_fn f, void *ctx)
{
    /* at most: runs before the range, a split head, the mapped runs, a split tail, the rest */
    uint32_t cap = s->nruns + 2;
    if (cap > STACK_RUNS) {
        wvm_snap *d = alloc_snap(cap);
        if (d)
            map_into(d, s, first, count, f, ctx);
        return d;
    }
    union {
        wvm_snap snap;
        char bytes[sizeof(wvm_snap) + STACK_RUNS * sizeof(wvm_run)];
    } local;
    map_into(&local.snap, s, first, count, f, ctx);
    wvm_snap *fit = alloc_snap(local.snap.nruns);
    if (fit) {
        memcpy(fit, &local.snap, offsetof(wvm_snap, cap));
        memcpy(fit->runs, local.snap.runs, local.snap.nruns * sizeof(wvm_run));
    }
    return fit;
}

int wvm__snap_each(const wvm_snap *s, uint64_t first, uint64_t count, wvm_piece_fn f, void *ctx)
{
    uint64_t end = first + count;
    for (uint32_t i = wvm__snap_find(s, first); i < s->nruns && s->runs[i].first < end; i++) {
        uint64_t from = s->runs[i].first > first ? s->runs[i].first : first;
        uint64_t to = wvm__snap_run_end(s, i);
        if (to > end)
            to = end;
        int r = f(from, to - from, s->runs[i].attr, ctx);
        if (r)
            return r;
    }
    return 0;
}
