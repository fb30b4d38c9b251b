#include <string.h>

#include "core/guard.h"
#include "core/awe.h"
#include "core/query.h"
#include "core/radix.h"
#include "core/space.h"
#include "core/view.h"

/* The answer for page of a private allocation [base, base+size) made with protection
 * alloc_prot, in a region of equal visible protection up to page index end. */
static void fill(wvm_MEMORY_BASIC_INFORMATION *m, uintptr_t page, uintptr_t base,
                 uint32_t alloc_prot, uint64_t idx, uint64_t end, uint32_t visible)
{
    m->BaseAddress = (void *)page;
    m->AllocationBase = (void *)base;
    m->AllocationProtect = alloc_prot;
    m->PartitionId = 0;
    m->RegionSize = (end - idx) * WVM_PAGE;
    m->State = visible ? WVM_MEM_COMMIT : WVM_MEM_RESERVE;
    m->Protect = visible;
    m->Type = WVM_MEM_PRIVATE;
}

bool wvm__query_quick(uintptr_t page, wvm_MEMORY_BASIC_INFORMATION *m)
{
    wvm_alloc *a = wvm__radix_get(page);
    if (!a)
        return false;
    wvm_quick *q = &a->quick;
    uint32_t seq = atomic_load_explicit(&q->seq, memory_order_acquire);
    if (seq & 1)
        return false;
    uint32_t shape = atomic_load_explicit(&q->shape, memory_order_relaxed);
    uint64_t base = atomic_load_explicit(&q->base, memory_order_relaxed);
    uint32_t runs[WVM_QUICK_RUNS];
    for (int i = 0; i < WVM_QUICK_RUNS; i++)
        runs[i] = atomic_load_explicit(&q->runs[i], memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    uint32_t n = WVM_QUICK_NRUNS(shape);
    uint64_t pages = WVM_QUICK_PAGES(shape);
    if (atomic_load_explicit(&q->seq, memory_order_relaxed) != seq || !n || n > WVM_QUICK_RUNS ||
        page < base || (page - base) / WVM_PAGE >= pages)
        return false;
    uint64_t idx = (page - base) / WVM_PAGE;
    uint32_t i = 0;
    while (i + 1 < n && WVM_QUICK_FIRST(runs[i + 1]) <= idx)
        i++;
    uint64_t end = i + 1 < n ? WVM_QUICK_FIRST(runs[i + 1]) : pages;
    fill(m, page, base, WVM_QUICK_APROT(shape), idx, end, WVM_QUICK_PROT(runs[i]));
    return true;
}

void wvm__query_snap(const wvm_snap *s, uintptr_t page, wvm_MEMORY_BASIC_INFORMATION *m)
{
    uint64_t idx = (page - s->base) / WVM_PAGE;
    uint32_t visible;
    /* page flags Windows does not show (locked, reset) must not split a region; a guard
     * consumed by a fault (not yet folded into the snapshot) is gone */
    uint64_t end = wvm__guard_region_end(s, idx, &visible);
    fill(m, page, s->base, s->alloc_prot, idx, end, visible);
    if (s->type & WVM_MEM_PHYSICAL) /* an AWE window: its state is which pages are mapped */
        wvm__awe_query(s, idx, m);
    if (s->type & WVM_TYPE_VIEW)
        wvm__view_query(s, idx, m);
}

uint32_t wvm__query(uintptr_t addr, wvm_MEMORY_BASIC_INFORMATION *out)
{
    uintptr_t page = addr & ~(uintptr_t)(WVM_PAGE - 1);
    if (wvm__query_quick(page, out))
        return 0;
    for (;;) {
        uint64_t gen = wvm__space_gen();
        wvm__ebr_enter();
        const wvm_snap *s = wvm__space_lookup(page);
        bool settled = true;
        if (s)
            wvm__query_snap(s, page, out);
        if (s && (s->guards || (s->type & WVM_TYPE_XSHARED))) {
            /* consumed guards are read page by page while faults consume more, and another
             * process's commit bits word by word (xview.h): the answer holds if a second
             * reading agrees and s is still the allocation's state */
            wvm_MEMORY_BASIC_INFORMATION again;
            wvm__query_snap(s, page, &again);
            settled = again.RegionSize == out->RegionSize && again.State == out->State &&
                      again.Protect == out->Protect && wvm__space_lookup(page) == s;
        }
        wvm__ebr_exit();
        if (s && settled)
            return 0;
        if (s)
            continue;
        /* Free space (or others' memory): "free" is decided from the index at one moment and
         * the region measured from it at later ones; the answer is one state only if no
         * allocation was born or died in between (else another thread may just have taken
         * the page's granule: a free region of size 0). Lock-free: a retry means some other
         * thread's reserve or release completed. */
        uint32_t err = wvm__query_foreign(page, out);
        /* A free region of size 0: an allocation starting at page was born after the lookup
         * found the page free, and the generation check cannot see it yet (born() publishes
         * the snapshot before it advances the generation). It is visible now: read again.
         * This is the only answer no state explains: the check leaves at most one placement
         * section half seen, and any other mix of before and after its one store (a birth
         * covering page from below or starting past it, a death) is some state's answer. A
         * dedicated mapping the kernel made before its pending index entries exist gives the
         * same symptom, which no generation could show. A generation odd while a section is
         * open would close the window, but readers would then wait for the writer (measured:
         * tests/lin/README.md, finding (o)). */
        if (!err && out->State == WVM_MEM_FREE && out->RegionSize == 0)
            continue;
        if (err || wvm__space_gen_is(gen))
            return err;
    }
}

bool wvm__query_owned(uintptr_t addr, wvm_MEMORY_BASIC_INFORMATION *out)
{
    uintptr_t page = addr & ~(uintptr_t)(WVM_PAGE - 1);
    if (wvm__query_quick(page, out))
        return true;
    wvm__ebr_enter();
    const wvm_snap *s = wvm__space_lookup(page);
    if (s)
        wvm__query_snap(s, page, out);
    wvm__ebr_exit();
    return s != NULL;
}

uint32_t wvm__query_kind(uintptr_t addr, bool *ours)
{
    wvm__ebr_enter();
    const wvm_snap *s = wvm__space_lookup(addr & ~(uintptr_t)(WVM_PAGE - 1));
    uint32_t kind = s ? s->type & WVM_TYPE_KINDS : 0;
    *ours = s != NULL;
    wvm__ebr_exit();
    return kind;
}
