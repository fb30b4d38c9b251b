/* IHostMalloc: heaps whose memory is charged to the host's budget arena by arena, with the
 * same critical-level rules as VirtualAlloc. Blocks come from mimalloc (mi.c). */
#include <stdlib.h>
#include "host_internal.h"

#define HEAP_MAX_ARENAS 16
#define UNIT            ((uint64_t)32 << 20)

#if defined(__SANITIZE_THREAD__)
#define WVM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WVM_TSAN 1
#endif
#endif
#ifdef WVM_TSAN
/* mimalloc is not instrumented: tell TSan that a Free happens before the Alloc that reuses
 * the block. */
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_ACQUIRE(p) __tsan_acquire(p)
#define TSAN_RELEASE(p) __tsan_release(p)
#else
#define TSAN_ACQUIRE(p) ((void)0)
#define TSAN_RELEASE(p) ((void)0)
#endif

typedef struct wvm_heap {
    IHostMalloc iface;
    /* read on every Alloc/Free: together at the start */
    _Atomic int narenas;
    uint64_t serial; /* unique per heap in the process: keys the per-thread cache */
    wvm_host *host;
    _Atomic size_t ndebug;
    struct {
        const char *lo, *hi;
    } range[HEAP_MAX_ARENAS]; /* copies of the arenas' bounds, for Free */
    /* the rest */
    _Atomic uint32_t refs;
    uint32_t type;
    pthread_mutex_t mu; /* growth and the DebugAlloc table */
    wvm_mi_arena *arenas[HEAP_MAX_ARENAS];
    wvm_addrmap debug; /* block -> (file, line, size) */
} wvm_heap;

/* S_OK while the heap's host lives; one load of a global while no host of the process died. */
static inline HRESULT heap_check(const wvm_heap *hp)
{
    if (__builtin_expect(atomic_load_explicit(&wvm__hosts_dead, memory_order_acquire) == 0, 1))
        return S_OK;
    return wvm__host_check(hp->host);
}

static _Atomic uint64_t heap_serial;

/* Every block carries a 16-byte header (the alignment Windows heaps give): its size class and a
 * tag made of the heap's serial and the block's address. The tag rejects pointers the heap did
 * not hand out (interior pointers, other heaps' blocks, double frees) before mimalloc sees them.
 *
 * In front of mimalloc each thread keeps a small cache of freed blocks per size class (16-byte
 * classes up to 1 KiB, CACHE_MAX blocks each) for one heap at a time, like glibc's tcache: a
 * block freed by any thread is reused by that thread without an atomic operation. Switching
 * heaps or exiting flushes the cache back to mimalloc. */
#define HDR       16
#define NCLASS    64
#define SMALL_MAX (NCLASS * 16)
#define CACHE_MAX 32

typedef struct {
    uint32_t cls; /* < NCLASS: cached size class; NCLASS: a big block */
    uint32_t tag; /* tag_of(heap, block); 0 while the block sits in a thread cache */
    uint64_t unused;
} blk_hdr;

static uint32_t tag_of(const wvm_heap *hp, const void *user)
{
    uint32_t t = (uint32_t)(hp->serial * 0x9E3779B1u) ^ (uint32_t)((uintptr_t)user >> 4);
    return t ? t : 1;
}

static blk_hdr *hdr_of(void *user)
{
    return (blk_hdr *)((char *)user - HDR);
}

/* The heap this thread allocates from now: its mimalloc heap and its cache of freed blocks. */
static __thread __attribute__((tls_model("initial-exec"))) struct {
    uint64_t serial;
    void *mh;
    void *head[NCLASS];
    uint8_t n[NCLASS];
    bool registered;
} tl;
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static void tl_flush(void)
{
    for (int c = 0; c < NCLASS; c++) {
        while (tl.head[c]) {
            void *b = tl.head[c];
            tl.head[c] = *(void **)b;
            TSAN_RELEASE(b);
            wvm__mi_free(hdr_of(b));
        }
        tl.n[c] = 0;
    }
}

static void tl_exit(void *unused)
{
    tl_flush();
    tl.serial = 0;
}

static void tl_key_create(void)
{
    pthread_key_create(&tl_key, tl_exit);
}

/* Makes hp this thread's current heap (flushing the previous heap's cache). */
static void tl_bind(wvm_heap *hp, void *mh)
{
    if (tl.serial != hp->serial) {
        tl_flush();
        tl.serial = hp->serial;
        if (!tl.registered) {
            pthread_once(&tl_once, tl_key_create);
            pthread_setspecific(tl_key, &tl);
            tl.registered = true;
        }
    }
    tl.mh = mh;
}

static void *finish_block(wvm_heap *hp, void *raw, size_t size)
{
    blk_hdr *h = raw;
    void *user = (char *)raw + HDR;
    h->cls = size <= SMALL_MAX ? (uint32_t)((size - 1) >> 4) : NCLASS;
    h->tag = tag_of(hp, user);
    TSAN_ACQUIRE(user);
    return user;
}

/* Bytes to ask mimalloc for: the header plus the whole size class. */
static size_t raw_size(size_t size)
{
    return HDR + (size <= SMALL_MAX ? ((size + 15) & ~(size_t)15) : size);
}

static wvm_heap *heap_of(IHostMalloc *i)
{
    return (wvm_heap *)(void *)i;
}

static HRESULT STDMETHODCALLTYPE QueryInterface(IHostMalloc *This, REFIID riid, void **ppv)
{
    if (!ppv)
        return E_POINTER;
    *ppv = NULL;
    if (!riid)
        return E_INVALIDARG;
    if (!wvm__iid_eq(riid, &wvm_IID_IUnknown) && !wvm__iid_eq(riid, &wvm_IID_IHostMalloc))
        return E_NOINTERFACE;
    atomic_fetch_add(&heap_of(This)->refs, 1);
    *ppv = This;
    return S_OK;
}

static uint32_t STDMETHODCALLTYPE AddRef(IHostMalloc *This)
{
    return atomic_fetch_add(&heap_of(This)->refs, 1) + 1;
}

static uint32_t STDMETHODCALLTYPE Release(IHostMalloc *This)
{
    wvm_heap *hp = heap_of(This);
    uint32_t left = atomic_fetch_sub(&hp->refs, 1) - 1;
    if (left)
        return left;
    int n = atomic_load(&hp->narenas);
    for (int i = 0; i < n; i++) {
        wvm__budget_uncharge(hp->host, hp->arenas[i]->size);
        wvm__mi_arena_put(hp->arenas[i]);
    }
    atomic_fetch_sub(&hp->host->heap_arenas, (uint32_t)n);
    wvm__addrmap_free(&hp->debug);
    pthread_mutex_destroy(&hp->mu);
    wvm__host_release(hp->host);
    free(hp);
    return 0;
}

/* Adds an arena big enough for size; the caller saw `seen` arenas. */
static HRESULT grow(wvm_heap *hp, int seen, size_t size, int level)
{
    HRESULT hr = S_OK;
    pthread_mutex_lock(&hp->mu);
    if (atomic_load(&hp->narenas) != seen)
        goto out; /* another thread grew the heap: retry */
    if (seen == HEAP_MAX_ARENAS) {
        hr = E_OUTOFMEMORY;
        goto out;
    }
    uint64_t want = hp->host->cfg.heap_arena_size;
    if (size > want / 2)
        want = ((uint64_t)size + UNIT + UNIT - 1) / UNIT * UNIT;
    wvm_mi_arena *a = wvm__mi_arena_get(want, hp->type & MALLOC_EXECUTABLE);
    if (!a) {
        hr = E_OUTOFMEMORY;
        goto out;
    }
    hr = wvm__budget_charge(hp->host, a->size, level);
    if (hr != S_OK) {
        wvm__mi_arena_put(a);
        goto out;
    }
    hp->arenas[seen] = a;
    hp->range[seen].lo = a->base;
    hp->range[seen].hi = a->base + a->size;
    atomic_fetch_add(&hp->host->heap_arenas, 1);
    atomic_store_explicit(&hp->narenas, seen + 1, memory_order_release);
out:
    pthread_mutex_unlock(&hp->mu);
    return hr;
}

/* A block from this thread's cache, or NULL. */
static inline void *cache_pop(wvm_heap *hp, size_t size)
{
    if (tl.serial != hp->serial || size - 1 >= SMALL_MAX)
        return NULL;
    unsigned c = (unsigned)((size - 1) >> 4);
    void *b = tl.head[c];
    if (b) {
        tl.head[c] = *(void **)b;
        tl.n[c]--;
        hdr_of(b)->tag = tag_of(hp, b);
    }
    return b;
}

static HRESULT heap_alloc_slow(wvm_heap *hp, size_t size, int level, void **out)
{
    for (;;) {
        int n = atomic_load_explicit(&hp->narenas, memory_order_acquire);
        for (int i = n - 1; i >= 0; i--) { /* newest first: older arenas filled up */
            void *mh = wvm__mi_thread_heap(hp->arenas[i]);
            void *raw = mh ? wvm__mi_heap_malloc(mh, raw_size(size)) : NULL;
            if (raw) {
                tl_bind(hp, mh);
                *out = finish_block(hp, raw, size);
                return S_OK;
            }
        }
        HRESULT hr = grow(hp, n, raw_size(size), level);
        if (hr != S_OK)
            return hr;
    }
}

static __attribute__((noinline)) HRESULT heap_alloc(wvm_heap *hp, size_t size, int level,
                                                    void **out)
{
    HRESULT hr = heap_check(hp);
    if (hr != S_OK)
        return hr;
    if (!out)
        return E_POINTER;
    *out = NULL;
    if ((unsigned)level > eProcessCritical || size > (SIZE_MAX >> 2))
        return E_INVALIDARG;
    if (size == 0)
        size = 1;
    if (__builtin_expect(tl.serial == hp->serial, 1)) {
        void *b = cache_pop(hp, size);
        if (b) {
            *out = b;
            return S_OK;
        }
        size_t rs = raw_size(size);
        void *raw = rs <= WVM_MI_SMALL_MAX ? wvm__mi_heap_malloc_small(tl.mh, rs)
                                           : wvm__mi_heap_malloc(tl.mh, rs);
        if (raw) {
            *out = finish_block(hp, raw, size);
            return S_OK;
        }
    }
    return heap_alloc_slow(hp, size, level, out);
}

static HRESULT STDMETHODCALLTYPE Alloc(IHostMalloc *This, size_t cbSize,
                                       EMemoryCriticalLevel eCriticalLevel, void **ppMem)
{
    wvm_heap *hp = heap_of(This);
    if (__builtin_expect(atomic_load_explicit(&wvm__hosts_dead, memory_order_acquire) == 0 &&
                             ppMem && (unsigned)eCriticalLevel <= eProcessCritical,
                         1)) {
        void *b = cache_pop(hp, cbSize);
        if (b) {
            *ppMem = b;
            return S_OK;
        }
    }
    return heap_alloc(hp, cbSize, eCriticalLevel, ppMem);
}

static HRESULT STDMETHODCALLTYPE DebugAlloc(IHostMalloc *This, size_t cbSize,
                                            EMemoryCriticalLevel eCriticalLevel, char *pszFileName,
                                            int iLineNo, void **ppMem)
{
    wvm_heap *hp = heap_of(This);
    HRESULT hr = heap_alloc(hp, cbSize, eCriticalLevel, ppMem);
    if (hr != S_OK)
        return hr;
    pthread_mutex_lock(&hp->mu);
    int err = wvm__addrmap_put(&hp->debug, (uintptr_t)*ppMem, (uintptr_t)pszFileName,
                               (uintptr_t)(intptr_t)iLineNo, cbSize);
    if (!err)
        atomic_fetch_add(&hp->ndebug, 1);
    pthread_mutex_unlock(&hp->mu);
    if (err) {
        TSAN_RELEASE(*ppMem);
        wvm__mi_free(hdr_of(*ppMem));
        *ppMem = NULL;
        return E_OUTOFMEMORY;
    }
    return S_OK;
}

static __attribute__((noinline)) void forget_debug(wvm_heap *hp, void *p)
{
    pthread_mutex_lock(&hp->mu);
    if (wvm__addrmap_del(&hp->debug, (uintptr_t)p, NULL, NULL))
        atomic_fetch_sub(&hp->ndebug, 1);
    pthread_mutex_unlock(&hp->mu);
}

/* The arena holding the block and its header, or false. */
static inline bool owns_block(const wvm_heap *hp, const void *p)
{
    int n = atomic_load_explicit(&hp->narenas, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if ((const char *)p - HDR >= hp->range[i].lo && (const char *)p < hp->range[i].hi)
            return true;
    return false;
}

static __attribute__((noinline)) HRESULT heap_free(wvm_heap *hp, void *pMem)
{
    HRESULT hr = heap_check(hp);
    if (hr != S_OK)
        return hr;
    if (!pMem)
        return S_OK;
    blk_hdr *h = hdr_of(pMem);
    if (!owns_block(hp, pMem) || h->tag != tag_of(hp, pMem))
        return HOST_E_INVALIDOPERATION; /* not a live block of this heap */
    if (atomic_load_explicit(&hp->ndebug, memory_order_relaxed) != 0)
        forget_debug(hp, pMem);
    uint32_t c = h->cls;
    h->tag = 0;
    if (c < NCLASS && tl.serial == hp->serial && tl.n[c] < CACHE_MAX) {
        *(void **)pMem = tl.head[c];
        tl.head[c] = pMem;
        tl.n[c]++;
        return S_OK;
    }
    TSAN_RELEASE(pMem);
    wvm__mi_free(h);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE Free(IHostMalloc *This, void *pMem)
{
    wvm_heap *hp = heap_of(This);
    /* Fast path: a live small block of this thread's current heap, room in the cache. */
    if (__builtin_expect(atomic_load_explicit(&wvm__hosts_dead, memory_order_acquire) == 0 &&
                             tl.serial == hp->serial && pMem &&
                             atomic_load_explicit(&hp->ndebug, memory_order_relaxed) == 0 &&
                             owns_block(hp, pMem),
                         1)) {
        blk_hdr *h = hdr_of(pMem);
        uint32_t c = h->cls;
        if (h->tag == tag_of(hp, pMem) && c < NCLASS && tl.n[c] < CACHE_MAX) {
            h->tag = 0;
            *(void **)pMem = tl.head[c];
            tl.head[c] = pMem;
            tl.n[c]++;
            return S_OK;
        }
    }
    return heap_free(hp, pMem);
}

static const IHostMallocVtbl heap_vtbl = {
    QueryInterface, AddRef, Release, Alloc, DebugAlloc, Free,
};

HRESULT STDMETHODCALLTYPE wvm__host_CreateMalloc(IHostMemoryManager *This, uint32_t dwMallocType,
                                                 IHostMalloc **ppMalloc)
{
    wvm_host *h = wvm__host_of(This);
    HRESULT hr = wvm__host_check(h);
    if (hr != S_OK)
        return hr;
    if (!ppMalloc)
        return E_POINTER;
    *ppMalloc = NULL;
    if (dwMallocType & ~(uint32_t)(MALLOC_THREADSAFE | MALLOC_EXECUTABLE))
        return E_INVALIDARG;
    if (!wvm__mi_available())
        return WVM_HRESULT_FROM_WIN32(126u); /* ERROR_MOD_NOT_FOUND: no libmimalloc.so.2 */
    wvm_heap *hp = calloc(1, sizeof *hp);
    if (!hp)
        return E_OUTOFMEMORY;
    hp->iface.lpVtbl = &heap_vtbl;
    atomic_init(&hp->refs, 1);
    hp->type = dwMallocType;
    hp->serial = atomic_fetch_add(&heap_serial, 1) + 1;
    pthread_mutex_init(&hp->mu, NULL);
    hp->host = h;
    wvm__host_addref(h);
    *ppMalloc = &hp->iface;
    return S_OK;
}

WVM_API size_t wvm_host_heap_leak_report(IHostMalloc *heap, FILE *out)
{
    wvm_heap *hp = heap_of(heap);
    pthread_mutex_lock(&hp->mu);
    size_t pos = 0, n = 0;
    wvm_addrmap_entry *e;
    while ((e = wvm__addrmap_next(&hp->debug, &pos))) {
        n++;
        if (out)
            fprintf(out, "%s:%d: %zu bytes at %p not freed\n", e->a ? (const char *)e->a : "?",
                    (int)(intptr_t)e->b, (size_t)e->c, (void *)e->key);
    }
    pthread_mutex_unlock(&hp->mu);
    return n;
}
