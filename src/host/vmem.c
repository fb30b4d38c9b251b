/* IHostMemoryManager::VirtualAlloc / VirtualFree / VirtualQuery / VirtualProtect over the wvm_
 * API, with the host's own account of the bytes each allocation has committed. */
#include <errno.h>
#include "host_internal.h"

#define PAGE ((uintptr_t)WVM_PAGE_SIZE)
#define GRAN ((uintptr_t)WVM_ALLOCATION_GRANULARITY)

static uintptr_t down(uintptr_t a, uintptr_t g)
{
    return a & ~(g - 1);
}

static unsigned shard_of(uintptr_t base)
{
    return (unsigned)((base >> 16) % WVM_HOST_STRIPES);
}

static void lock_shard(wvm_host *h, uintptr_t base)
{
    pthread_mutex_lock(&h->shard[shard_of(base)].mu);
}

static void unlock_shard(wvm_host *h, uintptr_t base)
{
    pthread_mutex_unlock(&h->shard[shard_of(base)].mu);
}

/* The entry of the allocation at base; the caller holds its shard. */
static wvm_addrmap_entry *entry(wvm_host *h, uintptr_t base)
{
    return wvm__addrmap_get(&h->shard[shard_of(base)].allocs, base);
}

/* Committed bytes in [start, end) (page-aligned). */
static uint64_t committed_in(uintptr_t start, uintptr_t end)
{
    uint64_t n = 0;
    while (start < end) {
        wvm_MEMORY_BASIC_INFORMATION mbi;
        if (!wvm_VirtualQuery((void *)start, &mbi, sizeof mbi))
            break;
        uintptr_t rend = (uintptr_t)mbi.BaseAddress + mbi.RegionSize;
        if (rend > end || rend <= start)
            rend = end;
        if (mbi.State == WVM_MEM_COMMIT)
            n += rend - start;
        start = rend;
    }
    return n;
}

/* Reserved and committed bytes of the allocation at base. */
static void measure(uintptr_t base, uint64_t *reserved, uint64_t *committed)
{
    uintptr_t a = base;
    *reserved = *committed = 0;
    for (;;) {
        wvm_MEMORY_BASIC_INFORMATION mbi;
        if (!wvm_VirtualQuery((void *)a, &mbi, sizeof mbi) ||
            (uintptr_t)mbi.AllocationBase != base || mbi.State == WVM_MEM_FREE)
            return;
        *reserved += mbi.RegionSize;
        if (mbi.State == WVM_MEM_COMMIT)
            *committed += mbi.RegionSize;
        a = (uintptr_t)mbi.BaseAddress + mbi.RegionSize;
    }
}

/* The base of the host allocation containing addr, or 0. */
static uintptr_t owner_of(const void *addr)
{
    wvm_MEMORY_BASIC_INFORMATION mbi;
    if (!wvm_VirtualQuery(addr, &mbi, sizeof mbi) || mbi.State == WVM_MEM_FREE)
        return 0;
    return (uintptr_t)mbi.AllocationBase;
}

/* The caller holds base's shard. */
static bool tracked(wvm_host *h, uintptr_t base, uint64_t *reserved)
{
    wvm_addrmap_entry *e = entry(h, base);
    if (e && reserved)
        *reserved = e->a;
    return e != NULL;
}

static void add_committed(wvm_host *h, uintptr_t base, int64_t delta)
{
    wvm_addrmap_entry *e = entry(h, base);
    if (e)
        e->b = (uintptr_t)((int64_t)e->b + delta);
}

/* Takes base's shard to look it up. */
static bool tracked_unlocked(wvm_host *h, uintptr_t base)
{
    lock_shard(h, base);
    bool r = entry(h, base) != NULL;
    unlock_shard(h, base);
    return r;
}

static HRESULT last_error(void)
{
    return wvm__host_hresult(wvm_GetLastError());
}

static HRESULT alloc_fresh(wvm_host *h, void *addr, size_t size, uint32_t type, uint32_t prot,
                           int level, void **out)
{
    uintptr_t a = (uintptr_t)addr;
    if (size > UINTPTR_MAX - a - 2 * GRAN)
        return E_INVALIDARG;
    uintptr_t start = a ? down(a, GRAN) : 0;
    uint64_t span = a ? down(a + size + PAGE - 1, PAGE) - start : down(size + PAGE - 1, PAGE);
    uint64_t commit = (type & WVM_MEM_COMMIT) ? span : 0;
    if (!wvm__aspace_charge(h, span))
        return E_OUTOFMEMORY;
    HRESULT hr = wvm__budget_charge(h, commit, level);
    if (hr != S_OK) {
        wvm__aspace_uncharge(h, span);
        return hr;
    }
    void *p = wvm_VirtualAlloc(addr, size, type, prot);
    if (!p) {
        hr = last_error();
        wvm__budget_uncharge(h, commit);
        wvm__aspace_uncharge(h, span);
        return hr;
    }
    uint64_t reserved = span, committed = commit;
    if (a) { /* the rounding rules of a placed reservation: measure instead of predicting */
        measure((uintptr_t)p, &reserved, &committed);
        wvm__aspace_uncharge(h, span - reserved);
        wvm__budget_uncharge(h, commit - committed);
    }
    lock_shard(h, (uintptr_t)p);
    int err = wvm__addrmap_put(&h->shard[shard_of((uintptr_t)p)].allocs, (uintptr_t)p, reserved,
                               committed, 0);
    unlock_shard(h, (uintptr_t)p);
    if (err) {
        wvm_VirtualFree(p, 0, WVM_MEM_RELEASE);
        wvm__budget_uncharge(h, committed);
        wvm__aspace_uncharge(h, reserved);
        return E_OUTOFMEMORY;
    }
    *out = p;
    return S_OK;
}

/* Commits inside an allocation of this host: charges only the pages not yet committed. */
static HRESULT commit_in_place(wvm_host *h, void *addr, size_t size, uint32_t type, uint32_t prot,
                               int level, void **out)
{
    uintptr_t a = (uintptr_t)addr, base = owner_of(addr);
    if (!base)
        return HOST_E_INVALIDOPERATION;
    if (size == 0 || size > UINTPTR_MAX - a - PAGE)
        return E_INVALIDARG;
    uintptr_t start = down(a, PAGE), end = down(a + size + PAGE - 1, PAGE);
    lock_shard(h, base);
    uint64_t reserved;
    HRESULT hr = S_OK;
    if (!tracked(h, base, &reserved)) {
        hr = HOST_E_INVALIDOPERATION;
        goto out;
    }
    if (end > base + reserved) {
        hr = E_INVALIDARG;
        goto out;
    }
    uint64_t need = (end - start) - committed_in(start, end);
    if (!wvm__budget_try(h, need, level)) {
        /* Wait without holding the shard, then count again: others may have committed or
         * decommitted pages of the range meanwhile. */
        unlock_shard(h, base);
        hr = wvm__budget_charge(h, need, level);
        if (hr != S_OK)
            return hr;
        lock_shard(h, base);
        if (!tracked(h, base, NULL)) {
            wvm__budget_uncharge(h, need);
            hr = HOST_E_INVALIDOPERATION;
            goto out;
        }
        uint64_t now = (end - start) - committed_in(start, end);
        if (now < need) {
            wvm__budget_uncharge(h, need - now);
        } else if (now > need && !wvm__budget_try(h, now - need, level)) {
            wvm__budget_uncharge(h, need);
            hr = E_OUTOFMEMORY;
            goto out;
        }
        need = now;
    }
    void *p = wvm_VirtualAlloc(addr, size, type, prot);
    if (!p) {
        hr = last_error();
        wvm__budget_uncharge(h, need);
        goto out;
    }
    add_committed(h, base, (int64_t)need);
    *out = p;
out:
    unlock_shard(h, base);
    return hr;
}

HRESULT STDMETHODCALLTYPE wvm__host_VirtualAlloc(IHostMemoryManager *This, void *pAddress,
                                                 size_t dwSize, uint32_t flAllocationType,
                                                 uint32_t flProtect,
                                                 EMemoryCriticalLevel eCriticalLevel, void **ppMem)
{
    wvm_host *h = wvm__host_of(This);
    if (!ppMem)
        return E_POINTER;
    *ppMem = NULL; /* [out]: NULL whenever the request is not satisfied */
    HRESULT hr = wvm__host_check(h);
    if (hr != S_OK)
        return hr;
    if ((unsigned)eCriticalLevel > eProcessCritical || dwSize == 0)
        return E_INVALIDARG;
    if (wvm__host_failure_injected(h))
        return wvm__host_fail(h);
    const uint32_t reset = WVM_MEM_RESET | WVM_MEM_RESET_UNDO;
    if (flAllocationType & reset) {
        if (!pAddress)
            return E_INVALIDARG;
        uintptr_t base = owner_of(pAddress);
        if (!base || !tracked_unlocked(h, base))
            return HOST_E_INVALIDOPERATION;
        void *p = wvm_VirtualAlloc(pAddress, dwSize, flAllocationType, flProtect);
        if (!p)
            return last_error();
        *ppMem = p;
        return S_OK;
    }
    if (!(flAllocationType & (WVM_MEM_COMMIT | WVM_MEM_RESERVE)))
        return E_INVALIDARG;
    if (!pAddress || (flAllocationType & WVM_MEM_RESERVE))
        return alloc_fresh(h, pAddress, dwSize, flAllocationType, flProtect, eCriticalLevel, ppMem);
    return commit_in_place(h, pAddress, dwSize, flAllocationType, flProtect, eCriticalLevel, ppMem);
}

static HRESULT release(wvm_host *h, void *addr, size_t size)
{
    uintptr_t base = (uintptr_t)addr;
    lock_shard(h, base);
    uintptr_t reserved = 0, committed = 0;
    wvm_addrmap *m = &h->shard[shard_of(base)].allocs;
    bool found = size == 0 && wvm__addrmap_del(m, base, &reserved, &committed);
    bool exists = found || (size != 0 && wvm__addrmap_get(m, base));
    unlock_shard(h, base); /* off the books: nobody else can reach the allocation now */
    if (found) {
        if (!wvm_VirtualFree(addr, 0, WVM_MEM_RELEASE) || wvm__host_failure_injected(h))
            return wvm__host_fail(h); /* our books and the address space disagree */
        wvm__budget_uncharge(h, committed);
        wvm__aspace_uncharge(h, reserved);
        return S_OK;
    }
    if (exists)
        return E_INVALIDARG; /* MEM_RELEASE needs dwSize 0 */
    uintptr_t owner = owner_of(addr);
    return owner && owner != base && tracked_unlocked(h, owner) ? E_INVALIDARG
                                                                : HOST_E_INVALIDOPERATION;
}

static HRESULT decommit(wvm_host *h, void *addr, size_t size)
{
    uintptr_t a = (uintptr_t)addr, base = owner_of(addr);
    if (!base)
        return HOST_E_INVALIDOPERATION;
    if (size > UINTPTR_MAX - a - PAGE)
        return E_INVALIDARG;
    lock_shard(h, base);
    uint64_t reserved;
    HRESULT hr = S_OK;
    if (!tracked(h, base, &reserved)) {
        hr = HOST_E_INVALIDOPERATION;
        goto out;
    }
    uintptr_t start = size ? down(a, PAGE) : base;
    uintptr_t end = size ? down(a + size + PAGE - 1, PAGE) : base + reserved;
    if (end > base + reserved)
        end = base + reserved;
    uint64_t before = committed_in(start, end);
    if (!wvm_VirtualFree(addr, size, WVM_MEM_DECOMMIT)) {
        hr = last_error();
        goto out;
    }
    uint64_t freed = before - committed_in(start, end);
    add_committed(h, base, -(int64_t)freed);
    wvm__budget_uncharge(h, freed);
out:
    unlock_shard(h, base);
    return hr;
}

HRESULT STDMETHODCALLTYPE wvm__host_VirtualFree(IHostMemoryManager *This, void *lpAddress,
                                                size_t dwSize, uint32_t dwFreeType)
{
    wvm_host *h = wvm__host_of(This);
    HRESULT hr = wvm__host_check(h);
    if (hr != S_OK)
        return hr;
    if (!lpAddress)
        return E_INVALIDARG;
    if (dwFreeType == WVM_MEM_RELEASE)
        return release(h, lpAddress, dwSize);
    if (dwFreeType == WVM_MEM_DECOMMIT)
        return decommit(h, lpAddress, dwSize);
    return E_INVALIDARG;
}

/* No lock of the host here: the CLR calls this while other threads are suspended anywhere. */
HRESULT STDMETHODCALLTYPE wvm__host_VirtualQuery(IHostMemoryManager *This, void *lpAddress,
                                                 void *lpBuffer, size_t dwLength, size_t *pResult)
{
    wvm_host *h = wvm__host_of(This);
    if (!pResult || !lpBuffer)
        return E_POINTER;
    *pResult = 0;
    HRESULT hr = wvm__host_check(h);
    if (hr != S_OK)
        return hr;
    *pResult = wvm_VirtualQuery(lpAddress, lpBuffer, dwLength);
    return *pResult ? S_OK : last_error();
}

HRESULT STDMETHODCALLTYPE wvm__host_VirtualProtect(IHostMemoryManager *This, void *lpAddress,
                                                   size_t dwSize, uint32_t flNewProtect,
                                                   uint32_t *pflOldProtect)
{
    wvm_host *h = wvm__host_of(This);
    HRESULT hr = wvm__host_check(h);
    if (hr != S_OK)
        return hr;
    if (!pflOldProtect)
        return E_POINTER;
    return wvm_VirtualProtect(lpAddress, dwSize, flNewProtect, pflOldProtect) ? S_OK : last_error();
}

void wvm__host_release_all(wvm_host *h)
{
    for (int i = 0; i < WVM_HOST_STRIPES; i++) {
        pthread_mutex_lock(&h->shard[i].mu);
        size_t pos = 0;
        wvm_addrmap_entry *e;
        while ((e = wvm__addrmap_next(&h->shard[i].allocs, &pos))) {
            wvm_VirtualFree((void *)e->key, 0, WVM_MEM_RELEASE);
            wvm__budget_uncharge(h, e->b);
            wvm__aspace_uncharge(h, e->a);
        }
        wvm__addrmap_free(&h->shard[i].allocs);
        pthread_mutex_unlock(&h->shard[i].mu);
    }
}
