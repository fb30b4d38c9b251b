/* Size classes and their shared lists of spans with free blocks. Blocks are cut from a span
 * lazily (a bump index), so a fresh span costs nothing but its commit. */
#include "heap.h"

/* 64 classes of 16 bytes up to 1 KiB, then 4 per doubling up to 64 KiB. */
static size_t class_size(uint32_t cls)
{
    if (cls < WVM_NSMALL)
        return ((size_t)cls + 1) * 16;
    uint32_t m = cls - WVM_NSMALL, d = m / 4, k = m % 4;
    size_t base = (size_t)1024 << d;
    return base + base / 4 * (k + 1);
}

uint32_t wvm__heap_class_of(size_t size)
{
    if (size <= WVM_SMALL_MAX)
        return (uint32_t)((size - 1) >> 4);
    size_t s = size - 1;
    uint32_t b = 63u - (uint32_t)__builtin_clzll((unsigned long long)s); /* >= 10 */
    size_t base = (size_t)1 << b;
    return WVM_NSMALL + (b - 10) * 4 + (uint32_t)((s - base) / (base / 4));
}

WVM_HOST_HIDDEN wvm_class_info wvm__class_info[WVM_NCLASS];

static void classes_fill(void)
{
    for (uint32_t c = 0; c < WVM_NCLASS; c++) {
        uint32_t raw = (uint32_t)(class_size(c) + WVM_HDR);
        /* a span holds at least 7 blocks: waste <= 1/8 of a block per span */
        uint32_t slabs = raw <= 8192 + WVM_HDR ? 1 : raw <= 32768 + WVM_HDR ? 4 : 8;
        wvm__class_info[c] = (wvm_class_info){
            .raw = raw,
            .cap = (uint32_t)(slabs * WVM_SLAB / raw),
            .nslabs = slabs,
            .recip = (uint32_t)(((uint64_t)1 << 32) / raw + 1),
        };
    }
}

void wvm__heap_classes_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, classes_fill);
}

static void list_add(wvm_class *c, wvm_slab *s)
{
    wvm__slab_list_add(&c->list, s);
    s->listed = true;
}

static void list_del(wvm_class *c, wvm_slab *s)
{
    wvm__slab_list_del(&c->list, s);
    s->listed = false;
}

/* Takes up to want blocks from the class's spans (class lock held). */
static uint32_t take_listed(wvm_class *c, uint32_t cls, void **out, uint32_t want)
{
    uint32_t n = 0, raw = wvm__class_info[cls].raw, cap = wvm__class_info[cls].cap;
    while (n < want && c->list.first) {
        wvm_slab *s = c->list.first;
        uint32_t before = n;
        while (n < want && s->free) {
            void *b = s->free;
            s->free = *(void **)b;
            out[n++] = b;
        }
        while (n < want && s->carved < cap) {
            char *raw_blk = s->start + (size_t)s->carved++ * raw;
            *(wvm_blk_hdr *)(void *)raw_blk = (wvm_blk_hdr){.cls = cls};
            out[n++] = raw_blk + WVM_HDR;
        }
        s->nfree -= n - before;
        if (s->nfree == 0)
            list_del(c, s);
    }
    return n;
}

/* Makes s a fresh span of class cls and lists it (class lock held). */
static void span_start(wvm_class *c, wvm_slab *s, uint32_t cls)
{
    wvm__span_label(s, cls, 0);
    s->free = NULL;
    s->carved = 0;
    s->nfree = wvm__class_info[cls].cap;
    list_add(c, s);
}

HRESULT wvm__class_take(wvm_heap *hp, uint32_t cls, int level, void **out, uint32_t want,
                        uint32_t *got)
{
    wvm_class *c = &hp->cls[cls];
    uint32_t nslabs = wvm__class_info[cls].nslabs;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        uint32_t n = take_listed(c, cls, out, want);
        if (n) {
            pthread_mutex_unlock(&c->mu);
            *got = n;
            return S_OK;
        }
        /* No free block. While budget is at hand, grow under the class lock: the threads that
         * find the class empty at the same time then share one new span instead of committing
         * one each. Waiting for budget happens with no lock held (a task-critical caller of the
         * same class must be refused at once, not wait behind the waiter). */
        wvm_slab *s;
        HRESULT hr = wvm__span_get(hp, nslabs, level, true, &s);
        if (hr == S_OK) {
            span_start(c, s, cls);
            continue;
        }
        pthread_mutex_unlock(&c->mu);
        if (hr != S_FALSE || (hr = wvm__span_get(hp, nslabs, level, false, &s)) != S_OK)
            return hr;
        pthread_mutex_lock(&c->mu);
        span_start(c, s, cls);
    }
}

void wvm__class_give(wvm_heap *hp, uint32_t cls, void *chain, uint32_t n)
{
    wvm_class *c = &hp->cls[cls];
    uint32_t cap = wvm__class_info[cls].cap;
    wvm_slab *empty = NULL;
    pthread_mutex_lock(&c->mu);
    for (uint32_t i = 0; i < n; i++) {
        void *b = chain;
        chain = *(void **)b;
        wvm_slab *s = wvm__slab_of(b)->head;
        *(void **)b = s->free;
        s->free = b;
        if (!s->listed)
            list_add(c, s);
        if (++s->nfree == cap && c->list.n > 1) { /* empty: back to the heap, keep one */
            list_del(c, s);
            s->next = empty;
            empty = s;
        }
    }
    pthread_mutex_unlock(&c->mu);
    while (empty) {
        wvm_slab *s = empty;
        empty = s->next;
        s->next = NULL;
        wvm__span_put(hp, s);
    }
}
