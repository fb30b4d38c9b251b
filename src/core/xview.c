/* The registry of views of shared SEC_RESERVE sections (xview.h). */
#include <pthread.h>

#include <winvmem/vm.h>

#include "core/fork.h"
#include "core/meta.h"
#include "core/xview.h"

#define PER_CHUNK 64u

/* seq is odd while the entry is written; base 0: free. */
typedef struct entry {
    _Atomic uint32_t seq;
    _Atomic uintptr_t base;
    _Atomic(const _Atomic uint64_t *) bits;
    _Atomic uint64_t p0, pages;
    _Atomic uint32_t attr;
} entry;

typedef struct chunk {
    entry e[PER_CHUNK];
    struct chunk *_Atomic next;
} chunk;

static chunk first;
static pthread_mutex_t writers = PTHREAD_MUTEX_INITIALIZER; /* adds and removals */

__attribute__((constructor)) static void register_fork(void)
{
    wvm__fork_register_lock(WVM_FORK_RANK_XVIEWS, &writers);
}

static void write_entry(entry *e, uintptr_t base, const wvm_xview *x)
{
    uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);
    atomic_store_explicit(&e->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&e->bits, x ? x->bits : NULL, memory_order_relaxed);
    atomic_store_explicit(&e->p0, x ? x->p0 : 0, memory_order_relaxed);
    atomic_store_explicit(&e->pages, x ? x->pages : 0, memory_order_relaxed);
    atomic_store_explicit(&e->attr, x ? x->attr : 0, memory_order_relaxed);
    atomic_store_explicit(&e->base, base, memory_order_relaxed);
    atomic_store_explicit(&e->seq, s + 2, memory_order_release);
}

uint32_t wvm__xview_add(uintptr_t base, const wvm_xview *x)
{
    uint32_t err = WVM_ERROR_NOT_ENOUGH_MEMORY;
    pthread_mutex_lock(&writers);
    for (chunk *c = &first; c; c = atomic_load(&c->next)) {
        for (unsigned i = 0; i < PER_CHUNK; i++)
            if (!atomic_load_explicit(&c->e[i].base, memory_order_relaxed)) {
                write_entry(&c->e[i], base, x);
                err = 0;
                goto out;
            }
        if (!atomic_load(&c->next)) {
            chunk *n = wvm__meta_zalloc(sizeof *n); /* never freed: readers may be in it */
            if (!n)
                goto out;
            atomic_store(&c->next, n);
        }
    }
out:
    pthread_mutex_unlock(&writers);
    return err;
}

void wvm__xview_remove(uintptr_t base)
{
    pthread_mutex_lock(&writers);
    for (chunk *c = &first; c; c = atomic_load(&c->next))
        for (unsigned i = 0; i < PER_CHUNK; i++)
            if (atomic_load_explicit(&c->e[i].base, memory_order_relaxed) == base) {
                write_entry(&c->e[i], 0, NULL);
                goto out;
            }
out:
    pthread_mutex_unlock(&writers);
}

bool wvm__xview_find(uintptr_t base, wvm_xview *out)
{
    for (chunk *c = &first; c; c = atomic_load_explicit(&c->next, memory_order_acquire))
        for (unsigned i = 0; i < PER_CHUNK; i++) {
            entry *e = &c->e[i];
            if (atomic_load_explicit(&e->base, memory_order_relaxed) != base)
                continue;
            for (;;) {
                uint32_t s = atomic_load_explicit(&e->seq, memory_order_acquire);
                if (s & 1) /* being added (before its view is published) or removed (its
                            * view is being released): never waited for */
                    break;
                uintptr_t b = atomic_load_explicit(&e->base, memory_order_relaxed);
                out->bits = atomic_load_explicit(&e->bits, memory_order_relaxed);
                out->p0 = atomic_load_explicit(&e->p0, memory_order_relaxed);
                out->pages = atomic_load_explicit(&e->pages, memory_order_relaxed);
                out->attr = atomic_load_explicit(&e->attr, memory_order_relaxed);
                atomic_thread_fence(memory_order_acquire);
                if (atomic_load_explicit(&e->seq, memory_order_relaxed) != s)
                    continue;
                if (b == base && out->bits)
                    return true;
                break;
            }
        }
    return false;
}

/* One past the last page of the run of pages of bits equal to bit p, at most end (whole words
 * of equal bits at a time). */
uint64_t wvm__xview_run(const _Atomic uint64_t *bits, uint64_t p, uint64_t end, bool *committed)
{
    *committed = wvm__xview_bit(bits, p);
    uint64_t same = *committed ? ~(uint64_t)0 : 0;
    for (p++; p < end;) {
        if (!(p % 64) && p + 64 <= end &&
            atomic_load_explicit(&bits[p / 64], memory_order_acquire) == same)
            p += 64;
        else if (wvm__xview_bit(bits, p) == *committed)
            p++;
        else
            break;
    }
    return p;
}
