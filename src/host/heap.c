/* IHostMalloc: the COM object, the per-thread cache in front of the class lists, big blocks,
 * DebugAlloc, and the pool of heap descriptors. The engine: heap.h. */
#include <stdlib.h>
#include "heap.h"

#define CACHE_MAX 16 /* blocks per class in a thread cache */
#define BATCH     8  /* blocks moved between a thread cache and a class list at a time */

/* S_OK while the heap's host lives; one load of a global while no host of the process died. */
static inline HRESULT heap_check(const wvm_heap *hp)
{
    if (__builtin_expect(atomic_load_explicit(&wvm__hosts_dead, memory_order_acquire) == 0, 1))
        return S_OK;
    return wvm__host_check(hp->host);
}

static _Atomic uint64_t heap_serial;
WVM_HOST_HIDDEN pthread_mutex_t wvm__heap_pool_mu = PTHREAD_MUTEX_INITIALIZER;
static wvm_heap *pool;

/* The heap this thread allocates from now, and its cache of free blocks per small class, like
 * glibc's tcache: a block freed by any thread is reused by that thread without a lock. Switching
 * heaps or exiting returns the cached blocks to their class lists. Initial-exec TLS: see
 * doc/host.md for what this means for late dlopen. */
static __thread __attribute__((tls_model("initial-exec"))) struct {
    uint64_t serial;
    wvm_heap *hp;
    void *head[WVM_NSMALL];
    uint8_t n[WVM_NSMALL];
    uint8_t batch[WVM_NSMALL]; /* the next refill's size: grows from 2 to BATCH with use */
    bool registered;
} tl;
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static inline uint64_t serial_of(const wvm_heap *hp)
{
    return atomic_load_explicit(&hp->serial, memory_order_relaxed);
}

/* Returns the cached blocks to their heap, unless the heap was released meanwhile (its memory
 * is gone: the blocks are only forgotten). */
static void tl_flush(void)
{
    wvm_heap *hp = tl.hp;
    if (hp) {
        bool any = false;
        for (int c = 0; c < WVM_NSMALL && !any; c++)
            any = tl.n[c] != 0;
        if (any) {
            pthread_rwlock_rdlock(&hp->life);
            if (serial_of(hp) == tl.serial)
                for (int c = 0; c < WVM_NSMALL; c++)
                    if (tl.n[c])
                        wvm__class_give(hp, (uint32_t)c, tl.head[c], tl.n[c]);
            pthread_rwlock_unlock(&hp->life);
        }
    }
    for (int c = 0; c < WVM_NSMALL; c++) {
        tl.head[c] = NULL;
        tl.n[c] = 0;
        tl.batch[c] = 0;
    }
    tl.serial = 0;
    tl.hp = NULL;
}

static void tl_exit(void *unused)
{
    tl_flush();
}

static void tl_key_create(void)
{
    pthread_key_create(&tl_key, tl_exit);
}

/* Makes hp this thread's cached heap (returning the previous heap's blocks). */
static void tl_bind(wvm_heap *hp)
{
    tl_flush();
    if (!tl.registered) {
        pthread_once(&tl_once, tl_key_create);
        pthread_setspecific(tl_key, &tl);
        tl.registered = true;
    }
    tl.hp = hp;
    tl.serial = serial_of(hp);
}

static inline void cache_push(uint32_t c, void *b)
{
    *(void **)b = tl.head[c];
    tl.head[c] = b;
    tl.n[c]++;
}

/* Returns the older half of a full cache list to the class. */
static void cache_spill(wvm_heap *hp, uint32_t c)
{
    void *first = tl.head[c], *last = first;
    for (int i = 1; i < BATCH; i++)
        last = *(void **)last;
    tl.head[c] = *(void **)last;
    tl.n[c] -= BATCH;
    wvm__class_give(hp, c, first, BATCH);
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
    if (tl.hp == hp) { /* our own cache: forget it, the memory goes with the heap */
        for (int c = 0; c < WVM_NSMALL; c++) {
            tl.head[c] = NULL;
            tl.n[c] = 0;
        }
        tl.hp = NULL;
        tl.serial = 0;
    }
    pthread_rwlock_wrlock(&hp->life); /* waits for threads flushing their caches into it */
    atomic_store_explicit(&hp->serial, 0, memory_order_relaxed);
    pthread_rwlock_unlock(&hp->life);
    wvm__heap_release_segments(hp);
    wvm__addrmap_free(&hp->debug);
    atomic_store(&hp->ndebug, 0);
    for (int c = 0; c < WVM_NCLASS; c++)
        hp->cls[c].list = (wvm_slab_list){0};
    wvm_host *h = hp->host;
    hp->host = NULL;
    pthread_mutex_lock(&wvm__heap_pool_mu);
    hp->pool_next = pool;
    pool = hp;
    pthread_mutex_unlock(&wvm__heap_pool_mu);
    wvm__host_release(h);
    return 0;
}

/* A block with a span of its own. */
static HRESULT alloc_large(wvm_heap *hp, size_t size, int level, void **out)
{
    size_t slabs = (size + WVM_HDR + WVM_SLAB - 1) / WVM_SLAB;
    if (slabs > UINT32_MAX)
        return E_OUTOFMEMORY;
    wvm_slab *s;
    HRESULT hr = wvm__span_get(hp, (uint32_t)slabs, level, false, &s);
    if (hr != S_OK)
        return hr;
    wvm__span_label(s, WVM_CLS_LARGE, 0);
    *(wvm_blk_hdr *)(void *)s->start = (wvm_blk_hdr){.cls = WVM_CLS_LARGE};
    *out = s->start + WVM_HDR;
    return S_OK;
}

static HRESULT alloc_small(wvm_heap *hp, size_t size, int level, void **out)
{
    uint32_t c = wvm__heap_class_of(size);
    if (tl.hp != hp || tl.serial != serial_of(hp))
        tl_bind(hp);
    if (tl.head[c]) {
        void *b = tl.head[c];
        tl.head[c] = *(void **)b;
        tl.n[c]--;
        *out = b;
        return S_OK;
    }
    /* Slow start: a thread that uses a class a little holds few of its blocks (hundreds of
     * threads on one heap), one that uses it a lot takes BATCH at a time. */
    void *got[BATCH];
    uint32_t n, want = tl.batch[c] ? tl.batch[c] : 2;
    HRESULT hr = wvm__class_take(hp, c, level, got, want, &n);
    if (hr != S_OK)
        return hr;
    tl.batch[c] = (uint8_t)(want * 2 < BATCH ? want * 2 : BATCH);
    for (uint32_t i = 1; i < n; i++)
        cache_push(c, got[i]);
    *out = got[0];
    return S_OK;
}

static __attribute__((noinline)) HRESULT heap_alloc(wvm_heap *hp, size_t size, int level,
                                                    void **out)
{
    if (!out)
        return E_POINTER;
    *out = NULL;
    HRESULT hr = heap_check(hp);
    if (hr != S_OK)
        return hr;
    if ((unsigned)level > eProcessCritical)
        return E_INVALIDARG;
    if (size == 0)
        size = 1;
    /* A size no budget can hold is "not enough memory" (the documented result), not an
     * invalid argument. */
    if (size > hp->host->cfg.budget || size > hp->host->cfg.address_space_budget)
        return E_OUTOFMEMORY;
    void *b;
    if (size <= WVM_SMALL_MAX) {
        hr = alloc_small(hp, size, level, &b);
    } else if (size <= WVM_MED_MAX) {
        uint32_t got;
        hr = wvm__class_take(hp, wvm__heap_class_of(size), level, &b, 1, &got);
    } else {
        hr = alloc_large(hp, size, level, &b);
    }
    if (hr != S_OK)
        return hr;
    wvm__hdr_of(b)->tag = wvm__tag_of(serial_of(hp), b);
    *out = b;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE Alloc(IHostMalloc *This, size_t cbSize,
                                       EMemoryCriticalLevel eCriticalLevel, void **ppMem)
{
    wvm_heap *hp = heap_of(This);
    /* Fast path: a small block from this thread's cache of this heap. */
    if (__builtin_expect(atomic_load_explicit(&wvm__hosts_dead, memory_order_acquire) == 0 &&
                             ppMem && (unsigned)eCriticalLevel <= eProcessCritical &&
                             tl.serial == serial_of(hp) && cbSize - 1 < WVM_SMALL_MAX,
                         1)) {
        unsigned c = (unsigned)((cbSize - 1) >> 4);
        void *b = tl.head[c];
        if (b) {
            tl.head[c] = *(void **)b;
            tl.n[c]--;
            wvm__hdr_of(b)->tag = wvm__tag_of(tl.serial, b);
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
    pthread_mutex_lock(&hp->dbg_mu);
    int err =
        wvm__addrmap_put(&hp->debug, (uintptr_t)*ppMem,
                         (wvm_addrmap_val){.size = cbSize, .file = pszFileName, .line = iLineNo});
    if (!err)
        atomic_fetch_add(&hp->ndebug, 1);
    pthread_mutex_unlock(&hp->dbg_mu);
    if (err) {
        This->lpVtbl->Free(This, *ppMem);
        *ppMem = NULL;
        return E_OUTOFMEMORY;
    }
    return S_OK;
}

static __attribute__((noinline)) void forget_debug(wvm_heap *hp, void *p)
{
    pthread_mutex_lock(&hp->dbg_mu);
    if (wvm__addrmap_del(&hp->debug, (uintptr_t)p, NULL))
        atomic_fetch_sub(&hp->ndebug, 1);
    pthread_mutex_unlock(&hp->dbg_mu);
}

/* The slab of a live block of hp at p, or NULL (not a block this heap handed out: another
 * heap's, a freed one, an interior pointer, memory of no heap). Reads nothing at p before the
 * granule map says p lies in one of hp's segments. */
static inline wvm_slab *live_block(const wvm_heap *hp, void *p)
{
    wvm_slab *s = wvm__heap_slab_of(hp, p);
    if (!s || s->heap != hp)
        return NULL;
    uintptr_t off = (uintptr_t)p - WVM_HDR - (uintptr_t)s->start;
    if (s->cls < WVM_NCLASS) {
        if (off >= s->limit || (((uint64_t)off * s->recip) >> 32) * s->raw != off)
            return NULL;
    } else if (s->cls != WVM_CLS_LARGE || off != 0) {
        return NULL;
    }
    return wvm__hdr_of(p)->tag == wvm__tag_of(serial_of(hp), p) ? s : NULL;
}

static __attribute__((noinline)) HRESULT heap_free(wvm_heap *hp, void *p)
{
    HRESULT hr = heap_check(hp);
    if (hr != S_OK)
        return hr;
    if (!p)
        return S_OK;
    wvm_slab *s = live_block(hp, p);
    if (!s)
        return HOST_E_INVALIDOPERATION;
    if (atomic_load_explicit(&hp->ndebug, memory_order_relaxed) != 0)
        forget_debug(hp, p);
    uint32_t c = s->cls;
    wvm__hdr_of(p)->tag = 0;
    if (c == WVM_CLS_LARGE) {
        wvm__span_put(hp, s->head);
    } else if (c < WVM_NSMALL && tl.hp == hp && tl.serial == serial_of(hp)) {
        if (tl.n[c] >= CACHE_MAX)
            cache_spill(hp, c);
        cache_push(c, p);
    } else {
        wvm__class_give(hp, c, p, 1);
    }
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE Free(IHostMalloc *This, void *pMem)
{
    wvm_heap *hp = heap_of(This);
    /* Fast path: a live small block of this thread's cached heap, room in the cache. */
    if (__builtin_expect(atomic_load_explicit(&wvm__hosts_dead, memory_order_acquire) == 0 &&
                             tl.serial == serial_of(hp) && pMem &&
                             atomic_load_explicit(&hp->ndebug, memory_order_relaxed) == 0,
                         1)) {
        wvm_slab *s = live_block(hp, pMem);
        if (s) {
            uint32_t c = s->cls;
            if (c < WVM_NSMALL && tl.n[c] < CACHE_MAX) {
                wvm__hdr_of(pMem)->tag = 0;
                cache_push(c, pMem);
                return S_OK;
            }
        }
    }
    return heap_free(hp, pMem);
}

static const IHostMallocVtbl heap_vtbl = {
    QueryInterface, AddRef, Release, Alloc, DebugAlloc, Free,
};

/* A descriptor from the pool, or a new one with its locks made. */
static wvm_heap *heap_new(void)
{
    pthread_mutex_lock(&wvm__heap_pool_mu);
    wvm_heap *hp = pool;
    if (hp)
        pool = hp->pool_next;
    pthread_mutex_unlock(&wvm__heap_pool_mu);
    if (hp)
        return hp;
    wvm__heap_classes_init();
    if (posix_memalign((void **)&hp, 64, sizeof *hp))
        return NULL;
    *hp = (wvm_heap){0};
    pthread_rwlock_init(&hp->life, NULL);
    pthread_mutex_init(&hp->mu, NULL);
    pthread_mutex_init(&hp->dbg_mu, NULL);
    for (int c = 0; c < WVM_NCLASS; c++)
        pthread_mutex_init(&hp->cls[c].mu, NULL);
    wvm__fork_add_heap(hp);
    return hp;
}

HRESULT STDMETHODCALLTYPE wvm__host_CreateMalloc(IHostMemoryManager *This, uint32_t dwMallocType,
                                                 IHostMalloc **ppMalloc)
{
    wvm_host *h = wvm__host_of(This);
    if (!ppMalloc)
        return E_POINTER;
    *ppMalloc = NULL;
    HRESULT hr = wvm__host_check(h);
    if (hr != S_OK)
        return hr;
    if (dwMallocType & ~(uint32_t)(MALLOC_THREADSAFE | MALLOC_EXECUTABLE))
        return E_INVALIDARG;
    wvm_heap *hp = heap_new();
    if (!hp)
        return E_OUTOFMEMORY;
    hp->iface.lpVtbl = &heap_vtbl;
    atomic_init(&hp->refs, 1);
    hp->type = dwMallocType;
    hp->host = h;
    pthread_rwlock_wrlock(&hp->life); /* stale caches that name this descriptor see the change */
    atomic_store_explicit(&hp->serial, atomic_fetch_add(&heap_serial, 1) + 1, memory_order_relaxed);
    pthread_rwlock_unlock(&hp->life);
    hp->tag = (uintptr_t)serial_of(hp) << 1 | 1;
    wvm__host_addref(h);
    *ppMalloc = &hp->iface;
    return S_OK;
}

WVM_API size_t wvm_host_heap_leak_report(IHostMalloc *heap, FILE *out)
{
    wvm_heap *hp = heap_of(heap);
    pthread_mutex_lock(&hp->dbg_mu);
    size_t pos = 0, n = 0;
    wvm_addrmap_entry *e;
    while ((e = wvm__addrmap_next(&hp->debug, &pos))) {
        n++;
        if (out)
            fprintf(out, "%s:%d: %zu bytes at %p not freed\n", e->val.file ? e->val.file : "?",
                    e->val.line, (size_t)e->val.size, (void *)e->key);
    }
    pthread_mutex_unlock(&hp->dbg_mu);
    return n;
}
