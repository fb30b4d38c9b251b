/* Heap segments and spans: address space reserved per heap, committed 64 KiB at a time and
 * charged to the host's budget for exactly what is committed; a process-wide map from each
 * 64 KiB granule to its slab descriptor, so that Free can tell a heap's block from any other
 * pointer without touching the pointed-to memory. */
#include <stdlib.h>
#include "heap.h"

/* Free committed slabs a heap keeps for reuse (1 MiB); the rest is decommitted at once. */
#define RETAIN_MAX 16

/* ---- the granule map (heap.h) ----------------------------------------------------------- */

#define LEAFBITS WVM_MAP_LEAFBITS
#define TOPBITS  WVM_MAP_TOPBITS
#define GBITS    16

WVM_HOST_HIDDEN _Atomic(_Atomic(wvm_slab *) *) wvm__slab_map[1u << TOPBITS];
WVM_HOST_HIDDEN pthread_mutex_t wvm__heap_map_mu = PTHREAD_MUTEX_INITIALIZER;

/* Points the granules of seg at its slabs (or at NULL). Leaves are never freed. */
static bool map_set(wvm_seg *seg, bool on)
{
    for (uint32_t i = 0; i < seg->nslabs; i++) {
        uintptr_t g = ((uintptr_t)seg->base >> GBITS) + i;
        if (g >> (TOPBITS + LEAFBITS))
            return false;
        _Atomic(_Atomic(wvm_slab *) *) *top = &wvm__slab_map[g >> LEAFBITS];
        _Atomic(wvm_slab *) *leaf = atomic_load_explicit(top, memory_order_acquire);
        if (!leaf) {
            pthread_mutex_lock(&wvm__heap_map_mu);
            leaf = atomic_load_explicit(top, memory_order_acquire);
            if (!leaf && (leaf = calloc((size_t)1 << LEAFBITS, sizeof *leaf)))
                atomic_store_explicit(top, leaf, memory_order_release);
            pthread_mutex_unlock(&wvm__heap_map_mu);
            if (!leaf)
                return false;
        }
        atomic_store_explicit(&leaf[g & ((1u << LEAFBITS) - 1)], on ? &seg->slabs[i] : NULL,
                              memory_order_release);
    }
    return true;
}

/* ---- the memory of a heap: the only calls into the wvm_ layer ------------------------------ */

static uint32_t commit_prot(const wvm_heap *hp)
{
    return (hp->type & MALLOC_EXECUTABLE) ? WVM_PAGE_EXECUTE_READWRITE : WVM_PAGE_READWRITE;
}

/* Segments are allocations tagged with the heap's tag: the host's VirtualFree cannot touch
 * them, and the host's final release leaves them to the heap. */
static char *mem_reserve(const wvm_heap *hp, size_t size)
{
    wvm_owned o = {.owner = hp->tag};
    return wvm__owned_alloc(NULL, size, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS, &o);
}

/* Commits [p, p+size), of which `fresh` bytes were not committed (the heap's own count, which
 * the core confirms: it refuses to commit more than that). */
static bool mem_commit(const wvm_heap *hp, char *p, size_t size, uint64_t fresh)
{
    wvm_owned o = {.owner = hp->tag, .max_commit = fresh};
    return wvm__owned_alloc(p, size, WVM_MEM_COMMIT, commit_prot(hp), &o) != NULL;
}

static bool mem_decommit(const wvm_heap *hp, char *p, size_t size)
{
    wvm_owned o = {.owner = hp->tag};
    return wvm__owned_free(p, size, WVM_MEM_DECOMMIT, &o) != 0;
}

static void mem_release(const wvm_heap *hp, char *p)
{
    wvm_owned o = {.owner = hp->tag};
    wvm__owned_free(p, 0, WVM_MEM_RELEASE, &o);
}

/* ---- segments (heap->mu) ------------------------------------------------------------------ */

uint32_t wvm__span_max_shared(const wvm_heap *hp)
{
    uint32_t quarter = (uint32_t)(hp->host->cfg.heap_arena_size / WVM_SLAB / 4);
    return quarter < 8 ? 8 : quarter; /* class spans (<= 8 slabs) always share */
}

/* A new segment of size bytes; a shared segment may be smaller (halved down to min bytes) when
 * the address-space budget cannot hold size. */
static wvm_seg *seg_new(wvm_heap *hp, size_t size, size_t min, bool huge)
{
    while (!wvm__aspace_charge(hp->host, size)) {
        if (huge || size / 2 < min || size / 2 < ((size_t)1 << 20))
            return NULL;
        size /= 2;
    }
    uint32_t n = (uint32_t)(size / WVM_SLAB);
    wvm_seg *seg = calloc(1, sizeof *seg + (size_t)n * sizeof(wvm_slab));
    char *base = seg ? mem_reserve(hp, size) : NULL;
    if (!base) {
        free(seg);
        wvm__aspace_uncharge(hp->host, size);
        return NULL;
    }
    *seg = (wvm_seg){.base = base, .size = size, .nslabs = n, .huge = huge};
    for (uint32_t i = 0; i < n; i++) {
        wvm_slab *s = &seg->slabs[i];
        s->head = s;
        s->heap = hp;
        s->seg = seg;
        s->cls = WVM_CLS_NONE;
        s->start = base + (size_t)i * WVM_SLAB;
    }
    if (!map_set(seg, true)) {
        map_set(seg, false);
        mem_release(hp, base);
        free(seg);
        wvm__aspace_uncharge(hp->host, size);
        return NULL;
    }
    seg->next = hp->segs;
    hp->segs = seg;
    uint32_t nf = atomic_load_explicit(&hp->nfast, memory_order_relaxed);
    if (!huge && nf < sizeof hp->fast / sizeof *hp->fast) {
        hp->fast[nf].base = base;
        hp->fast[nf].size = size;
        hp->fast[nf].slabs = seg->slabs;
        atomic_store_explicit(&hp->nfast, nf + 1, memory_order_release);
    }
    hp->reserved += size;
    atomic_fetch_add(&hp->host->heap_arenas, 1);
    return seg;
}

/* Unmaps, releases and uncharges seg (already unlinked); committed = its committed bytes. */
static void seg_free(wvm_heap *hp, wvm_seg *seg, uint64_t committed)
{
    map_set(seg, false);
    mem_release(hp, seg->base);
    wvm__budget_uncharge(hp->host, committed);
    wvm__aspace_uncharge(hp->host, seg->size);
    atomic_fetch_sub(&hp->host->heap_arenas, 1);
    free(seg);
}

/* ---- spans (heap->mu) --------------------------------------------------------------------- */

static void retained_unlink(wvm_heap *hp, wvm_slab *s)
{
    wvm__slab_list_del(&hp->retained, s);
    s->retained = false;
}

static void retained_push(wvm_heap *hp, wvm_slab *s)
{
    wvm__slab_list_add(&hp->retained, s);
    s->retained = true;
}

/* The first run of n free slabs in a shared segment, or NULL. */
static wvm_slab *find_run(wvm_heap *hp, uint32_t n)
{
    for (wvm_seg *seg = hp->segs; seg; seg = seg->next) {
        if (seg->huge)
            continue;
        uint32_t run = 0;
        bool first_free_seen = false;
        for (uint32_t i = seg->hint; i < seg->nslabs; i++) {
            if (seg->slabs[i].used) {
                run = 0;
                continue;
            }
            if (!first_free_seen) {
                seg->hint = i;
                first_free_seen = true;
            }
            if (++run == n)
                return &seg->slabs[i + 1 - n];
        }
        if (!first_free_seen)
            seg->hint = seg->nslabs;
    }
    return NULL;
}

void wvm__span_label(wvm_slab *head, uint32_t cls, uint32_t limit)
{
    const wvm_class_info *ci = cls < WVM_NCLASS ? &wvm__class_info[cls] : NULL;
    for (uint32_t i = 0; i < head->nslabs; i++) {
        wvm_slab *s = head + i;
        s->start = head->start;
        s->raw = ci ? ci->raw : 0;
        s->recip = ci ? ci->recip : 0;
        s->limit = ci ? ci->cap * ci->raw : limit;
        s->cls = cls;
    }
}

/* Marks [head, head+n) used; returns how many of its slabs are not committed. */
static uint32_t take(wvm_heap *hp, wvm_slab *head, uint32_t n)
{
    uint32_t fresh = 0;
    for (uint32_t i = 0; i < n; i++) {
        wvm_slab *s = head + i;
        if (s->retained)
            retained_unlink(hp, s);
        s->used = true;
        s->head = head;
        fresh += !s->committed;
    }
    head->nslabs = n;
    return fresh;
}

/* Marks [head, head+n) free again, committed or not as they are. */
static void untake(wvm_slab *head, uint32_t n)
{
    wvm_seg *seg = head->seg;
    for (uint32_t i = 0; i < n; i++) {
        head[i].used = false;
        head[i].cls = WVM_CLS_NONE;
        head[i].start = head[i].seg->base + (size_t)(&head[i] - head[i].seg->slabs) * WVM_SLAB;
        head[i].head = &head[i];
    }
    uint32_t idx = (uint32_t)(head - seg->slabs);
    if (idx < seg->hint)
        seg->hint = idx;
}

HRESULT wvm__span_get(wvm_heap *hp, uint32_t n, int level, bool nowait, wvm_slab **out)
{
    wvm_slab *head = NULL;
    pthread_mutex_lock(&hp->mu);
    if (n == 1 && hp->retained.first)
        head = hp->retained.first;
    else if (n <= wvm__span_max_shared(hp))
        head = find_run(hp, n);
    if (!head) {
        bool huge = n > wvm__span_max_shared(hp);
        size_t need = (size_t)n * WVM_SLAB;
        wvm_seg *seg = seg_new(hp, huge ? need : hp->host->cfg.heap_arena_size, need, huge);
        head = seg ? seg->slabs : NULL;
    }
    if (!head) {
        pthread_mutex_unlock(&hp->mu);
        return E_OUTOFMEMORY;
    }
    uint64_t fresh = (uint64_t)take(hp, head, n) * WVM_SLAB;
    pthread_mutex_unlock(&hp->mu);
    /* The span is ours: charge (wait for budget unless nowait), then commit, with no heap
     * lock held. */
    HRESULT hr = nowait ? (wvm__budget_try(hp->host, fresh, level) ? S_OK : S_FALSE)
                        : wvm__budget_charge(hp->host, fresh, level);
    if (hr == S_OK && fresh && !mem_commit(hp, head->start, (size_t)n * WVM_SLAB, fresh)) {
        wvm__budget_uncharge(hp->host, fresh);
        hr = E_OUTOFMEMORY;
    }
    pthread_mutex_lock(&hp->mu);
    if (hr == S_OK) {
        for (uint32_t i = 0; i < n; i++)
            head[i].committed = true;
        hp->committed += fresh;
    } else if (head->seg->huge) {
        wvm_seg **pp = &hp->segs;
        while (*pp != head->seg)
            pp = &(*pp)->next;
        *pp = head->seg->next;
        hp->reserved -= head->seg->size;
        pthread_mutex_unlock(&hp->mu);
        seg_free(hp, head->seg, 0);
        return hr;
    } else {
        untake(head, n);
        for (uint32_t i = 0; i < n; i++)
            if (head[i].committed)
                retained_push(hp, &head[i]);
    }
    pthread_mutex_unlock(&hp->mu);
    if (hr == S_OK)
        *out = head;
    return hr;
}

void wvm__span_put(wvm_heap *hp, wvm_slab *head)
{
    uint32_t n = head->nslabs;
    wvm_seg *seg = head->seg;
    pthread_mutex_lock(&hp->mu);
    if (seg->huge) {
        wvm_seg **pp = &hp->segs;
        while (*pp != seg)
            pp = &(*pp)->next;
        *pp = seg->next;
        hp->reserved -= seg->size;
        hp->committed -= seg->size;
        pthread_mutex_unlock(&hp->mu);
        seg_free(hp, seg, seg->size);
        return;
    }
    untake(head, n);
    /* Keep up to RETAIN_MAX committed slabs; decommit the rest (under the lock: a slab marked
     * free and uncommitted must not be committed by another thread before this decommit). */
    uint32_t keep = 0;
    while (keep < n && hp->retained.n < RETAIN_MAX)
        retained_push(hp, &head[keep++]);
    uint64_t freed = 0;
    if (keep < n) {
        size_t len = (size_t)(n - keep) * WVM_SLAB;
        if (mem_decommit(hp, head[keep].start, len)) {
            for (uint32_t i = keep; i < n; i++)
                head[i].committed = false;
            freed = len;
            hp->committed -= len;
        } else {
            for (uint32_t i = keep; i < n; i++) /* the kernel refused: keep them committed */
                retained_push(hp, &head[i]);
        }
    }
    pthread_mutex_unlock(&hp->mu);
    wvm__budget_uncharge(hp->host, freed);
}

void wvm__heap_release_segments(wvm_heap *hp)
{
    pthread_mutex_lock(&hp->mu);
    wvm_seg *seg = hp->segs;
    hp->segs = NULL;
    atomic_store_explicit(&hp->nfast, 0, memory_order_relaxed);
    hp->retained = (wvm_slab_list){0};
    uint64_t committed = hp->committed;
    hp->committed = hp->reserved = 0;
    pthread_mutex_unlock(&hp->mu);
    while (seg) {
        wvm_seg *next = seg->next;
        seg_free(hp, seg, 0);
        seg = next;
    }
    wvm__budget_uncharge(hp->host, committed);
}
