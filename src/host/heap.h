/* The IHostMalloc engine (heap.c, heap_class.c, heap_seg.c).
 *
 * A heap reserves segments of address space (charged to the host's address-space budget) and
 * carves them into 64 KiB slabs, each committed and charged to the host's budget when a size
 * class or a big block first needs it, at the critical level of the Alloc that needs it. Every
 * thread of a heap shares its slabs: a size class keeps its slabs with free blocks in one list
 * under one lock, and each thread keeps a small cache of free blocks in front of it (thread
 * caches exchange blocks with the class lists in batches). So a heap's commit grows with the
 * memory in use, not with the number of threads that use it.
 *
 * Locks, in order: heap->life (read: a thread flushing its cache into the heap; write: the
 * final Release), class lock, heap->mu (segments, spans, commit state). No lock is held while
 * waiting for budget. heap->dbg_mu guards the DebugAlloc table alone.
 *
 * Heap descriptors are never freed (a released heap's descriptor goes to a pool and is reused
 * with a new serial), so that a thread whose cache still names a released heap can check the
 * serial safely and drop its stale blocks. */
#ifndef WVM_HOST_HEAP_H
#define WVM_HOST_HEAP_H

#include "host_internal.h"

#define WVM_SLAB      ((size_t)64 << 10) /* commit unit; segments are 64 KiB aligned */
#define WVM_HDR       16                 /* block header; also the blocks' alignment */
#define WVM_NSMALL    64                 /* 16-byte classes up to 1 KiB (thread-cached) */
#define WVM_NCLASS    (WVM_NSMALL + 24)  /* + 4 classes per doubling up to 64 KiB */
#define WVM_CLS_LARGE WVM_NCLASS         /* a block with a span of its own */
#define WVM_SMALL_MAX ((size_t)WVM_NSMALL * 16)
#define WVM_MED_MAX   ((size_t)64 << 10)

/* Every block starts WVM_HDR bytes after its header. tag is tag_of(heap, block) while the block
 * is handed out and 0 while it is free, which rejects double frees and pointers the heap did not
 * hand out before the engine acts on them. */
typedef struct wvm_blk_hdr {
    uint32_t cls; /* size class, or WVM_CLS_LARGE */
    uint32_t tag;
    uint64_t unused;
} wvm_blk_hdr;

#define WVM_CLS_NONE (WVM_NCLASS + 1) /* a free slab, or a span being set up */

/* One per 64 KiB of a segment. The first slab of a span describes the span; what Free reads is
 * copied into every slab of a used span (one load after the granule map). */
typedef struct wvm_slab {
    /* read by Free (written under heap->mu or before the span's first block is handed out) */
    struct wvm_heap *heap; /* the owner (fixed for the segment's life) */
    char *start;           /* the span's memory */
    uint32_t cls;          /* class, WVM_CLS_LARGE, or WVM_CLS_NONE */
    uint32_t raw, recip;   /* wvm__class_info[cls] */
    uint32_t limit;        /* bytes of the span's blocks (cap * raw) */
    struct wvm_slab *head; /* the span's first slab */
    /* the rest */
    struct wvm_seg *seg;          /* the segment it lies in */
    struct wvm_slab *next, *prev; /* class list (class lock) or retained list (heap->mu) */
    void *free;                   /* freed blocks of the span (head, class lock) */
    uint32_t nslabs;              /* span length (head) */
    uint32_t nfree;               /* free blocks, carved or not (head, class lock) */
    uint32_t carved;              /* blocks cut from the span so far (head, class lock) */
    bool used;                    /* heap->mu */
    bool committed;               /* heap->mu while free; the span's user while used */
    bool listed;                  /* in its class's list (class lock) */
    bool retained;                /* free, committed, in the heap's retained list */
} wvm_slab;

/* The lists of slabs (a class's spans with free blocks; a heap's retained slabs): doubly
 * linked through next/prev, with a count. The caller holds the list's lock. */
typedef struct wvm_slab_list {
    wvm_slab *first;
    uint32_t n;
} wvm_slab_list;

static inline void wvm__slab_list_add(wvm_slab_list *l, wvm_slab *s)
{
    s->prev = NULL;
    s->next = l->first;
    if (l->first)
        l->first->prev = s;
    l->first = s;
    l->n++;
}

static inline void wvm__slab_list_del(wvm_slab_list *l, wvm_slab *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        l->first = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    l->n--;
}

typedef struct wvm_seg {
    struct wvm_seg *next;
    char *base;
    size_t size;
    uint32_t nslabs;
    uint32_t hint; /* no free slab below this index (heap->mu) */
    bool huge;     /* made for one big block; released with it */
    wvm_slab slabs[];
} wvm_seg;

typedef struct wvm_class {
    pthread_mutex_t mu;
    wvm_slab_list list; /* spans of this class with free blocks */
} __attribute__((aligned(64))) wvm_class;

typedef struct wvm_heap {
    IHostMalloc iface;
    /* read on every Alloc/Free: together at the start */
    _Atomic uint64_t serial; /* unique per incarnation; 0 while pooled */
    wvm_host *host;
    _Atomic size_t ndebug;
    uint32_t type;
    uintptr_t tag; /* owner tag of its segments */
    _Atomic uint32_t nfast;
    struct {
        char *base;
        size_t size;
        wvm_slab *slabs;
    } fast[4]; /* the first shared segments: Free finds their slabs without the granule map */
    _Atomic uint32_t refs;
    pthread_rwlock_t life;
    pthread_mutex_t mu;
    wvm_seg *segs;
    wvm_slab_list retained; /* free committed slabs kept for reuse */
    uint64_t committed;     /* bytes of slabs committed (heap->mu) */
    uint64_t reserved;      /* bytes of segments (heap->mu) */
    pthread_mutex_t dbg_mu;
    wvm_addrmap debug; /* block -> (file, line, size) */
    struct wvm_heap *pool_next;
    struct wvm_heap *all_next; /* every descriptor ever made (fork.c) */
    wvm_class cls[WVM_NCLASS];
} wvm_heap;

/* The pool of heap descriptors (heap.c) and the granule map's leaves (heap_seg.c); fork.c takes
 * them across fork(). */
extern WVM_HOST_HIDDEN pthread_mutex_t wvm__heap_pool_mu, wvm__heap_map_mu;
void wvm__fork_add_heap(wvm_heap *hp);

/* ---- sizes (heap_class.c) ---------------------------------------------------------------- */

/* Per class: block size with the header, blocks and slabs per span, and a reciprocal of raw
 * (floor(2^32 / raw) + 1: exact for the offsets inside one span, which stay below 2^20). */
typedef struct wvm_class_info {
    uint32_t raw, cap, nslabs, recip;
} wvm_class_info;
extern WVM_HOST_HIDDEN wvm_class_info wvm__class_info[WVM_NCLASS];
/* Fills wvm__class_info (once; before the first heap exists). */
void wvm__heap_classes_init(void);
/* The class of a user size (<= WVM_MED_MAX). */
uint32_t wvm__heap_class_of(size_t size);

/* Labels every slab of a used span for Free: class cls (or WVM_CLS_LARGE with limit bytes). */
void wvm__span_label(wvm_slab *head, uint32_t cls, uint32_t limit);

static inline wvm_blk_hdr *wvm__hdr_of(void *user)
{
    return (wvm_blk_hdr *)((char *)user - WVM_HDR);
}

static inline uint32_t wvm__tag_of(uint64_t serial, const void *user)
{
    uint32_t t = (uint32_t)(serial * 0x9E3779B1u) ^ (uint32_t)((uintptr_t)user >> 4);
    return t ? t : 1;
}

/* ---- class lists (heap_class.c) -------------------------------------------------------- */

/* Takes up to want free blocks of class cls (< WVM_NCLASS) into out[] (their headers say cls,
 * tag 0), committing a new span when the class has none (the budget is charged at level, and
 * may be waited for with no lock held). *got = blocks taken (>= 1 on S_OK). */
HRESULT wvm__class_take(wvm_heap *hp, uint32_t cls, int level, void **out, uint32_t want,
                        uint32_t *got);
/* Gives back n free blocks of class cls, chained through their first word (the list of a
 * thread cache) or a single block with n = 1. Spans that become empty go back to the heap. */
void wvm__class_give(wvm_heap *hp, uint32_t cls, void *chain, uint32_t n);

/* ---- segments and spans (heap_seg.c) ----------------------------------------------------- */

/* A committed span of n slabs marked used (its memory: head->start). Charges the budget for
 * the slabs that were not committed, at level, waiting for budget with no heap lock held; with
 * nowait, S_FALSE instead of a wait or a refusal (nothing changed). S_OK, E_OUTOFMEMORY,
 * HOST_E_TIMEOUT or HOST_E_ABANDONED. */
HRESULT wvm__span_get(wvm_heap *hp, uint32_t n, int level, bool nowait, wvm_slab **head);
/* Returns a used span: kept committed for reuse up to a bound, else decommitted and credited;
 * a huge segment is released with its block. */
void wvm__span_put(wvm_heap *hp, wvm_slab *head);
/* Releases every segment of hp and credits the budgets (final Release). */
void wvm__heap_release_segments(wvm_heap *hp);
/* The granule map: 47-bit user addresses, 64 KiB granules, two levels; leaves are never
 * freed. */
#define WVM_MAP_LEAFBITS 16
#define WVM_MAP_TOPBITS  (47 - 16 - WVM_MAP_LEAFBITS)
extern WVM_HOST_HIDDEN _Atomic(_Atomic(wvm_slab *) *) wvm__slab_map[1u << WVM_MAP_TOPBITS];

/* The slab holding p (any address), or NULL when p lies in no heap segment of the process.
 * Lock-free; the descriptor stays valid while the segment lives. */
static inline wvm_slab *wvm__slab_of(const void *p)
{
    uintptr_t g = (uintptr_t)p >> 16;
    if (g >> (WVM_MAP_TOPBITS + WVM_MAP_LEAFBITS))
        return NULL;
    _Atomic(wvm_slab *) *leaf =
        atomic_load_explicit(&wvm__slab_map[g >> WVM_MAP_LEAFBITS], memory_order_acquire);
    if (!leaf)
        return NULL;
    return atomic_load_explicit(&leaf[g & ((1u << WVM_MAP_LEAFBITS) - 1)], memory_order_acquire);
}

/* The slab of p when p lies in one of hp's first shared segments (no map lookup), else the
 * map's answer. */
static inline wvm_slab *wvm__heap_slab_of(const struct wvm_heap *hp, const void *p);
/* Spans no longer than this come from shared segments; longer ones get a segment each. */
uint32_t wvm__span_max_shared(const wvm_heap *hp);

static inline wvm_slab *wvm__heap_slab_of(const wvm_heap *hp, const void *p)
{
    uint32_t n = atomic_load_explicit(&hp->nfast, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++)
        if ((uintptr_t)p - (uintptr_t)hp->fast[i].base < hp->fast[i].size)
            return &hp->fast[i].slabs[((uintptr_t)p - (uintptr_t)hp->fast[i].base) >> 16];
    return wvm__slab_of(p);
}

#endif
