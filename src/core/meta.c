/* The metadata allocator; see meta.h for the contract. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fork.h"
#include "core/meta.h"
#include "prim/linux/prim.h"

#if defined(__SANITIZE_ADDRESS__)
#define WVM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WVM_ASAN 1
#endif
#endif
#ifdef WVM_ASAN /* free blocks are poisoned but for their link word: use-after-free is caught */
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SEG_SIZE  ((size_t)4 << 20)
#define SLAB_SIZE ((size_t)64 << 10)
#define SEG_SLABS (SEG_SIZE / SLAB_SIZE)
#define SEG_HDR   128 /* keeps slab 0's blocks 64-byte aligned */
#define SEG_MAGIC 0x57564d4d45544121ull
#define PAGE      ((size_t)4096)
/* Freed large blocks kept for reuse (a snapshot of thousands of runs is rebuilt by every
 * write: mapping it afresh each time would add a system call and page faults per call). */
#define LARGE_KEEP    ((size_t)16 << 20)
#define LARGE_BUCKETS 160

typedef struct block {
    struct block *next;
} block;

typedef struct seg_hdr {
    uint64_t magic;
    uint8_t cls[SEG_SLABS]; /* each slab's class: checks sized frees in debug builds */
} seg_hdr;
_Static_assert(sizeof(seg_hdr) <= SEG_HDR, "segment header");

typedef struct cls {
    pthread_mutex_t lock;
    block *free;
    char *bump, *end; /* the slab being carved */
} __attribute__((aligned(64))) cls;

/* clang-format off */
#define CLS  {.lock = PTHREAD_MUTEX_INITIALIZER}
#define CLS4 CLS, CLS, CLS, CLS
static cls classes[WVM_META_CLASSES] = {CLS4, CLS4, CLS4, CLS4, CLS4, CLS4, CLS4, CLS4, CLS4};
_Static_assert(WVM_META_CLASSES == 36, "initialiser above");

#define CLASS_SIZES(X)                                                                             \
    X(16) X(32) X(48) X(64) X(80) X(96) X(112) X(128) X(160) X(192) X(224) X(256) X(320) X(384)   \
    X(448) X(512) X(640) X(768) X(896) X(1024) X(1280) X(1536) X(1792) X(2048) X(2560) X(3072)   \
    X(3584) X(4096) X(5120) X(6144) X(7168) X(8192) X(10240) X(12288) X(14336) X(16384)
/* A thread caches up to 16 KiB of a class: at least 2 blocks, at most 64. */
#define SIZE_OF(s)  s,
#define LIMIT_OF(s) ((s) <= 256 ? 64 : (s) > 8192 ? 2 : 16384 / (s)),
static const uint16_t class_bytes[WVM_META_CLASSES] = {CLASS_SIZES(SIZE_OF)};
static const uint16_t cache_limit[WVM_META_CLASSES] = {CLASS_SIZES(LIMIT_OF)};
/* clang-format on */

static pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;
static char *seg_cur;     /* segment slabs are taken from */
static unsigned seg_next; /* its next unused slab */

static pthread_mutex_t large_lock = PTHREAD_MUTEX_INITIALIZER;
static block *large_free[LARGE_BUCKETS];
static size_t large_kept;

typedef struct tcache {
    block *head[WVM_META_CLASSES];
    uint16_t count[WVM_META_CLASSES];
    _Atomic int64_t used; /* bytes handed out minus bytes taken back here; owner writes */
    struct tcache *all;   /* every cache ever made; immutable once published */
    struct tcache *spare; /* caches of exited threads (tc_lock) */
    bool live;
} tcache;

static WVM_THREAD tcache *tc;
static pthread_mutex_t tc_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(tcache *) all_caches;
static tcache *spare_caches;
static pthread_key_t tc_key;
static pthread_once_t tc_once = PTHREAD_ONCE_INIT;
static bool no_caches; /* no key could be made: everything goes through the shared lists */

static _Atomic int64_t shared_used; /* bytes of the shared path and of large blocks */
static _Atomic size_t held;

WVM_THREAD unsigned wvm__signal_depth;
static WVM_THREAD uintptr_t signal_frame[WVM_SIGNAL_FRAMES]; /* per recorded depth (meta.h) */

/* Drops the innermost records whose handler was left: the frame `at` (a check's, or a new
 * entry's; `or_equal` for an entry) is above the recorded frame. */
static void signal_drop_left(uintptr_t at, bool or_equal)
{
    unsigned d = wvm__signal_depth;
    while (d && d <= WVM_SIGNAL_FRAMES &&
           (at > signal_frame[d - 1] || (or_equal && at == signal_frame[d - 1])))
        d--;
    wvm__signal_depth = d;
}

void wvm__signal_enter(uintptr_t frame)
{
    signal_drop_left(frame, true);
    if (wvm__signal_depth < WVM_SIGNAL_FRAMES)
        signal_frame[wvm__signal_depth] = frame;
    wvm__signal_depth++;
}

void wvm__signal_exit(void)
{
    if (wvm__signal_depth) /* (a check inside the handler never drops its own record) */
        wvm__signal_depth--;
}

bool wvm__signal_still(uintptr_t here)
{
    signal_drop_left(here, false);
    return wvm__signal_depth != 0;
}

unsigned wvm__meta_class(size_t n)
{
    if (n <= 128)
        return n ? (unsigned)((n - 1) >> 4) : 0;
    unsigned lg = 63u - (unsigned)__builtin_clzll(n - 1); /* 2^lg < n <= 2^(lg+1) */
    return 8 + (lg - 7) * 4 + (unsigned)((n - 1 - ((size_t)1 << lg)) >> (lg - 2));
}

size_t wvm__meta_class_size(unsigned c)
{
    return class_bytes[c];
}

/* Large blocks: rounded to four sizes per power of two (pages), the bucket they are kept in. */
static size_t large_round(size_t n, unsigned *bucket)
{
    unsigned lg = 63u - (unsigned)__builtin_clzll(n - 1);
    size_t step = (size_t)1 << (lg - 2);
    size_t sub = (n - 1 - ((size_t)1 << lg)) >> (lg - 2);
    *bucket = (lg - 14) * 4 + (unsigned)sub;
    return ((size_t)1 << lg) + (sub + 1) * step;
}

static void used_add(tcache *t, int64_t bytes)
{
    if (t)
        atomic_store_explicit(&t->used,
                              atomic_load_explicit(&t->used, memory_order_relaxed) + bytes,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&shared_used, bytes, memory_order_relaxed);
}

/* ---- slabs and the shared lists ---------------------------------------------------------- */

/* A fresh slab for class c; its usable bytes are [*start, end). seg_lock taken here. */
static char *slab_get(unsigned c, char **end)
{
    pthread_mutex_lock(&seg_lock);
    if (!seg_cur || seg_next == SEG_SLABS) {
        void *p;
        if (wvm__prim_map_meta(SEG_SIZE, SEG_SIZE, &p)) {
            pthread_mutex_unlock(&seg_lock);
            return NULL;
        }
        atomic_fetch_add_explicit(&held, SEG_SIZE, memory_order_relaxed);
        ((seg_hdr *)p)->magic = SEG_MAGIC;
        seg_cur = p;
        seg_next = 0;
    }
    unsigned i = seg_next++;
    ((seg_hdr *)seg_cur)->cls[i] = (uint8_t)c;
    char *slab = seg_cur + i * SLAB_SIZE;
    pthread_mutex_unlock(&seg_lock);
    *end = slab + SLAB_SIZE;
    return i ? slab : slab + SEG_HDR;
}

/* One block of class c from the shared list or a slab; class lock held. */
static block *shared_take(cls *k, unsigned c)
{
    block *b = k->free;
    if (b) {
        k->free = b->next;
        return b;
    }
    size_t size = class_bytes[c];
    if ((size_t)(k->end - k->bump) < size) {
        char *end, *s = slab_get(c, &end);
        if (!s)
            return NULL;
        k->bump = s;
        k->end = end;
    }
    b = (block *)k->bump;
    k->bump += size;
    return b;
}

/* Puts the list [first .. last] back on class c's shared list. */
static void shared_put(unsigned c, block *first, block *last)
{
    cls *k = &classes[c];
    pthread_mutex_lock(&k->lock);
    last->next = k->free;
    k->free = first;
    pthread_mutex_unlock(&k->lock);
}

/* Free blocks are poisoned but for their link; a block handed out is unpoisoned for n. */
static void *hand_out(block *b, unsigned c, size_t n)
{
    UNPOISON(b, n);
    POISON((char *)b + n, class_bytes[c] - n);
    return b;
}

static void take_back(block *b, unsigned c)
{
    UNPOISON(b, sizeof *b);
    POISON((char *)b + sizeof *b, class_bytes[c] - sizeof *b);
}

/* ---- thread caches -------------------------------------------------------------------- */

/* Moves every block of t's cache for class c, or all but `keep`, to the shared list. */
static void flush(tcache *t, unsigned c, unsigned keep)
{
    block *b = t->head[c], *cut = NULL;
    for (unsigned i = 0; b && i < keep; i++) {
        cut = b;
        b = b->next;
    }
    if (!b)
        return;
    if (cut)
        cut->next = NULL;
    else
        t->head[c] = NULL;
    t->count[c] = (uint16_t)keep;
    block *last = b;
    while (last->next)
        last = last->next;
    shared_put(c, b, last);
}

static void cache_release(tcache *t)
{
    for (unsigned c = 0; c < WVM_META_CLASSES; c++) {
        flush(t, c, 0);
        t->head[c] = NULL;
        t->count[c] = 0;
    }
    t->live = false;
    pthread_mutex_lock(&tc_lock);
    t->spare = spare_caches;
    spare_caches = t;
    pthread_mutex_unlock(&tc_lock);
}

static void thread_exit(void *arg)
{
    tc = NULL; /* a later call in this thread's exit makes (and keys) a new one */
    cache_release(arg);
}

static void make_key(void)
{
    no_caches = pthread_key_create(&tc_key, thread_exit) != 0;
}

static void *shared_alloc(unsigned c, size_t n);

/* The calling thread's cache, set up on first use; NULL in signal context (see meta.h). */
static tcache *cache_get(void)
{
    if (wvm__in_signal())
        return NULL;
    pthread_once(&tc_once, make_key);
    if (no_caches)
        return NULL;
    pthread_mutex_lock(&tc_lock);
    tcache *t = spare_caches;
    if (t)
        spare_caches = t->spare;
    pthread_mutex_unlock(&tc_lock);
    if (!t) {
        unsigned c = wvm__meta_class(sizeof *t);
        if (!(t = shared_alloc(c, sizeof *t)))
            return NULL;
        used_add(NULL, -(int64_t)class_bytes[c]); /* the allocator's own: counted as held */
        memset(t, 0, sizeof *t);
        pthread_mutex_lock(&tc_lock);
        t->all = atomic_load_explicit(&all_caches, memory_order_relaxed);
        atomic_store_explicit(&all_caches, t, memory_order_release);
        pthread_mutex_unlock(&tc_lock);
    }
    if (pthread_setspecific(tc_key, t)) {
        pthread_mutex_lock(&tc_lock);
        t->spare = spare_caches;
        spare_caches = t;
        pthread_mutex_unlock(&tc_lock);
        return NULL;
    }
    t->live = true;
    return tc = t;
}

bool wvm__meta_cached(void)
{
    return tc != NULL;
}

/* Refills t's empty cache of class c with a batch; returns one more block for the caller. */
static block *refill(tcache *t, unsigned c)
{
    unsigned want = (cache_limit[c] + 1) / 2;
    block *list = NULL;
    unsigned got = 0;
    cls *k = &classes[c];
    pthread_mutex_lock(&k->lock);
    for (block *b; got <= want && (b = shared_take(k, c)); got++) {
        b->next = list;
        list = b;
    }
    pthread_mutex_unlock(&k->lock);
    if (!list)
        return NULL;
    t->head[c] = list->next;
    t->count[c] = (uint16_t)(got - 1);
    return list;
}

/* ---- the entry points ----------------------------------------------------------------- */

static void *shared_alloc(unsigned c, size_t n)
{
    cls *k = &classes[c];
    pthread_mutex_lock(&k->lock);
    block *b = shared_take(k, c);
    pthread_mutex_unlock(&k->lock);
    if (!b)
        return NULL;
    used_add(NULL, class_bytes[c]);
    return hand_out(b, c, n);
}

static void *large_alloc(size_t n, bool zero)
{
    unsigned bucket;
    size_t size = large_round(n, &bucket);
    block *b = NULL;
    if (!zero &&
        bucket < LARGE_BUCKETS) { /* zeroed ones come fresh: untouched pages stay virtual */
        pthread_mutex_lock(&large_lock);
        if ((b = large_free[bucket])) {
            large_free[bucket] = b->next;
            large_kept -= size;
        }
        pthread_mutex_unlock(&large_lock);
    }
    if (!b) {
        void *p;
        if (wvm__prim_map_meta(size, PAGE, &p))
            return NULL;
        atomic_fetch_add_explicit(&held, size, memory_order_relaxed);
        b = p;
    }
    used_add(NULL, (int64_t)size);
    UNPOISON(b, n);
    return b;
}

static void large_free_block(void *p, size_t n)
{
    unsigned bucket;
    size_t size = large_round(n, &bucket);
    used_add(NULL, -(int64_t)size);
    if (bucket < LARGE_BUCKETS) {
        pthread_mutex_lock(&large_lock);
        bool keep = large_kept + size <= LARGE_KEEP;
        if (keep) {
            block *b = p;
            b->next = large_free[bucket];
            large_free[bucket] = b;
            large_kept += size;
        }
        pthread_mutex_unlock(&large_lock);
        if (keep)
            return;
    }
    wvm__prim_unmap_meta(p, size);
    atomic_fetch_sub_explicit(&held, size, memory_order_relaxed);
}

void *wvm__meta_alloc(size_t n)
{
    if (n > WVM_META_MAX_SMALL)
        return large_alloc(n, false);
    unsigned c = wvm__meta_class(n);
    tcache *t = tc;
    if (__builtin_expect(!t, 0) && !(t = cache_get()))
        return shared_alloc(c, n);
    block *b = t->head[c];
    if (__builtin_expect(b != NULL, 1)) {
        t->head[c] = b->next;
        t->count[c]--;
    } else if (!(b = refill(t, c))) {
        return NULL;
    }
    used_add(t, class_bytes[c]);
    return hand_out(b, c, n);
}

void *wvm__meta_zalloc(size_t n)
{
    if (n > WVM_META_MAX_SMALL)
        return large_alloc(n, true);
    void *p = wvm__meta_alloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

#ifdef WVM_CHECK_INVARIANTS
/* A sized free with the wrong size would put the block on another class's list. */
static void check_class(void *p, unsigned c)
{
    const seg_hdr *h = (const seg_hdr *)((uintptr_t)p & ~(uintptr_t)(SEG_SIZE - 1));
    if (h->magic != SEG_MAGIC || h->cls[((uintptr_t)p - (uintptr_t)h) / SLAB_SIZE] != c) {
        fprintf(stderr, "winvmem: metadata block %p freed with the size of class %u\n", p, c);
        abort();
    }
}
#else
static inline void check_class(void *p, unsigned c)
{
    (void)p;
    (void)c;
}
#endif

void wvm__meta_free(void *p, size_t n)
{
    if (!p)
        return;
    if (n > WVM_META_MAX_SMALL) {
        large_free_block(p, n);
        return;
    }
    unsigned c = wvm__meta_class(n);
    check_class(p, c);
    block *b = p;
    take_back(b, c);
    tcache *t = tc;
    if (__builtin_expect(!t, 0) && !(t = cache_get())) {
        used_add(NULL, -(int64_t)class_bytes[c]);
        shared_put(c, b, b);
        return;
    }
    b->next = t->head[c];
    t->head[c] = b;
    used_add(t, -(int64_t)class_bytes[c]);
    if (++t->count[c] > cache_limit[c])
        flush(t, c, (cache_limit[c] + 1) / 2);
}

void *wvm__meta_realloc(void *p, size_t old, size_t n)
{
    unsigned b0, b1;
    if (p && old <= WVM_META_MAX_SMALL && n <= WVM_META_MAX_SMALL && n &&
        wvm__meta_class(old) == wvm__meta_class(n))
        return hand_out(p, wvm__meta_class(n), n);
    if (p && old > WVM_META_MAX_SMALL && n > WVM_META_MAX_SMALL &&
        large_round(old, &b0) == large_round(n, &b1))
        return p;
    void *q = wvm__meta_alloc(n);
    if (q && p) {
        memcpy(q, p, old < n ? old : n);
        wvm__meta_free(p, old);
    }
    return q;
}

size_t wvm__meta_bytes(void)
{
    int64_t sum = atomic_load_explicit(&shared_used, memory_order_relaxed);
    for (tcache *t = atomic_load_explicit(&all_caches, memory_order_acquire); t; t = t->all)
        sum += atomic_load_explicit(&t->used, memory_order_relaxed);
    return sum > 0 ? (size_t)sum : 0;
}

size_t wvm__meta_held(void)
{
    return atomic_load_explicit(&held, memory_order_relaxed);
}

/* ---- fork ------------------------------------------------------------------------------ */

static void fork_prepare(void)
{
    pthread_mutex_lock(&tc_lock);
    for (unsigned c = 0; c < WVM_META_CLASSES; c++)
        pthread_mutex_lock(&classes[c].lock);
    pthread_mutex_lock(&large_lock);
    pthread_mutex_lock(&seg_lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&seg_lock);
    pthread_mutex_unlock(&large_lock);
    for (unsigned c = WVM_META_CLASSES; c-- > 0;)
        pthread_mutex_unlock(&classes[c].lock);
    pthread_mutex_unlock(&tc_lock);
}

/* Only the forking thread lives on: the caches of the others go back to the shared lists. A
 * thread stopped half way through a cache operation leaves its lists well-formed (a block it
 * was moving is lost, not shared). */
static void fork_child(void)
{
    fork_parent();
    for (tcache *t = atomic_load(&all_caches); t; t = t->all)
        if (t != tc && t->live)
            cache_release(t);
}

static void fork_meta(enum wvm_fork_phase phase)
{
    if (phase == WVM_FORK_PREPARE)
        fork_prepare();
    else if (phase == WVM_FORK_PARENT)
        fork_parent();
    else
        fork_child();
}

__attribute__((constructor)) static void register_fork(void)
{
    wvm__fork_register(WVM_FORK_RANK_META, fork_meta);
}
