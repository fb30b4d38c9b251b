/* The host's hook (src/hook/host_hook.h): allocations tagged with an owner, and what each call
 * changed in the commit. The owner check and the count are made under the allocation lock;
 * when the core's range operations take an accounting argument (issue 13.1), these functions
 * become thin wrappers over them (and a tagged reservation is tagged before it is indexed,
 * not right after). */
#include "api/api.h"
#include "core/meta.h"
#include "fault/fault.h"
#include "hook/host_hook.h"

#define PAGE_MASK ((uintptr_t)WVM_PAGE - 1)

static int count_uncommitted(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    (void)first;
    if (!wvm__attr_committed(attr))
        *(uint64_t *)ctx += count;
    return 0;
}

/* The allocation holding addr, locked, when it is tagged o->owner; else NULL, o->foreign. */
static wvm_alloc *acquire_owned(uintptr_t addr, wvm_owned *o)
{
    wvm_alloc *a = wvm__space_acquire(addr & ~PAGE_MASK);
    if (a && atomic_load_explicit(&a->owner, memory_order_relaxed) == o->owner)
        return a;
    if (a)
        wvm__space_unlock(a);
    o->foreign = true;
    return NULL;
}

static void *reserve(void *addr, size_t size, uint32_t type, uint32_t prot, wvm_owned *o)
{
    void *p = wvm_VirtualAlloc(addr, size, type, prot);
    wvm_alloc *a = p ? wvm__space_acquire((uintptr_t)p) : NULL;
    if (!a)
        return p; /* failed: the last error is set */
    wvm_snap *s = wvm__alloc_snap(a);
    atomic_store_explicit(&a->owner, o->owner, memory_order_relaxed);
    o->reserved = s->size;
    o->committed = s->committed * WVM_PAGE;
    wvm__space_unlock(a);
    return p;
}

static void *commit(void *addr, size_t size, uint32_t flprot, wvm_owned *o)
{
    uintptr_t start, end;
    uint32_t prot, err;
    if (!size || !wvm__valid_prot(flprot, false, &prot) ||
        !wvm__page_range((uintptr_t)addr, size, &start, &end))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    if ((prot & WVM_PAGE_GUARD) && (err = wvm__fault_need()))
        return WVM_FAIL(err, NULL);
    wvm_alloc *a = acquire_owned(start, o);
    if (!a)
        return WVM_FAIL(WVM_ERROR_INVALID_ADDRESS, NULL);
    wvm_snap *s = wvm__alloc_snap(a);
    err = WVM_ERROR_INVALID_ADDRESS;
    if (end - s->base <= s->size) {
        uint64_t first = (start - s->base) / WVM_PAGE, count = (end - start) / WVM_PAGE, fresh = 0;
        wvm__snap_each(s, first, count, count_uncommitted, &fresh);
        uint64_t before = s->committed;
        if (fresh * WVM_PAGE > o->max_commit) {
            o->committed = fresh * WVM_PAGE;
            err = WVM_ERROR_COMMITMENT_LIMIT;
        } else if (!(err = wvm__alloc_commit(a, first, count, prot))) {
            o->committed = (wvm__alloc_snap(a)->committed - before) * WVM_PAGE;
        }
    }
    wvm__space_unlock(a);
    wvm__after_call();
    return err ? WVM_FAIL(err, NULL) : (void *)start;
}

void *wvm__owned_alloc(void *addr, size_t size, uint32_t type, uint32_t prot, wvm_owned *o)
{
    o->committed = o->reserved = 0;
    o->foreign = false;
    if (!o->owner)
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    if (type & (WVM_MEM_RESET | WVM_MEM_RESET_UNDO)) {
        wvm_alloc *a = addr ? acquire_owned((uintptr_t)addr, o) : NULL;
        if (!a)
            return WVM_FAIL(addr ? WVM_ERROR_INVALID_ADDRESS : WVM_ERROR_INVALID_PARAMETER, NULL);
        wvm__space_unlock(a);
        return wvm_VirtualAlloc(addr, size, type, prot); /* commits nothing */
    }
    if ((type & WVM_MEM_RESERVE) || !addr)
        return reserve(addr, size, type, prot, o);
    if (type != WVM_MEM_COMMIT)
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    return commit(addr, size, prot, o);
}

static int release(uintptr_t addr, size_t size, wvm_owned *o)
{
    wvm_alloc *a = acquire_owned(addr, o);
    if (!a)
        return WVM_FAIL(WVM_ERROR_INVALID_ADDRESS, 0);
    wvm_snap *s = wvm__alloc_snap(a);
    bool at_base = s->base == (addr & ~PAGE_MASK);
    uint64_t committed = s->committed * WVM_PAGE, reserved = s->size;
    wvm__space_unlock(a);
    if (!at_base || size)
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    if (!wvm_VirtualFree((void *)addr, 0, WVM_MEM_RELEASE))
        return 0;
    o->committed = committed;
    o->reserved = reserved;
    return 1;
}

static int decommit(uintptr_t addr, size_t size, wvm_owned *o)
{
    uintptr_t start, end;
    if (size && !wvm__page_range(addr, size, &start, &end))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    wvm_alloc *a = acquire_owned(addr, o);
    if (!a)
        return WVM_FAIL(WVM_ERROR_INVALID_ADDRESS, 0);
    wvm_snap *s = wvm__alloc_snap(a);
    uint32_t err = 0;
    if (!size) { /* the whole allocation, and only when addr is in its first page */
        start = s->base;
        end = s->base + s->size;
        if ((addr & ~PAGE_MASK) != s->base)
            err = WVM_ERROR_INVALID_ADDRESS;
    } else if (end - s->base > s->size) {
        err = WVM_ERROR_INVALID_PARAMETER;
    }
    uint64_t before = s->committed;
    if (!err &&
        !(err = wvm__alloc_decommit(a, (start - s->base) / WVM_PAGE, (end - start) / WVM_PAGE)))
        o->committed = (before - wvm__alloc_snap(a)->committed) * WVM_PAGE;
    wvm__space_unlock(a);
    wvm__after_call();
    return err ? WVM_FAIL(err, 0) : 1;
}

int wvm__owned_free(void *addr, size_t size, uint32_t type, wvm_owned *o)
{
    o->committed = o->reserved = 0;
    o->foreign = false;
    uintptr_t a = (uintptr_t)addr;
    if (!o->owner || !a || a > wvm__max_app_address())
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    if (type == WVM_MEM_RELEASE)
        return release(a, size, o);
    if (type == WVM_MEM_DECOMMIT)
        return decommit(a, size, o);
    return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
}

typedef struct {
    uintptr_t owner, *bases;
    size_t n, cap;
    bool short_of_memory;
} owned_list;

static void collect(wvm_alloc *a, void *ctx)
{
    owned_list *l = ctx;
    if (atomic_load_explicit(&a->owner, memory_order_relaxed) != l->owner)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        uintptr_t *b = wvm__meta_realloc(l->bases, l->cap * sizeof *b, cap * sizeof *b);
        if (!b) {
            l->short_of_memory = true;
            return;
        }
        l->bases = b;
        l->cap = cap;
    }
    wvm__ebr_enter(); /* the snapshot read here stays valid */
    const wvm_snap *s = wvm__alloc_visible(a);
    if (s)
        l->bases[l->n++] = s->base;
    wvm__ebr_exit();
}

void wvm__owned_release_all(uintptr_t owner, uint64_t *committed, uint64_t *reserved)
{
    bool again = true;
    while (again) { /* a list cut short by memory: release what it holds, then look again */
        owned_list l = {.owner = owner};
        wvm__space_each(collect, &l);
        for (size_t i = 0; i < l.n; i++) {
            wvm_owned o = {.owner = owner};
            if (wvm__owned_free((void *)l.bases[i], 0, WVM_MEM_RELEASE, &o)) {
                *committed += o.committed;
                *reserved += o.reserved;
            }
        }
        again = l.short_of_memory && l.n > 0;
        wvm__meta_free(l.bases, l.cap * sizeof *l.bases);
    }
}
