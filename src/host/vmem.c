/* IHostMemoryManager::VirtualAlloc / VirtualFree / VirtualQuery / VirtualProtect over the wvm_
 * API. The host keeps no table of its allocations: they carry its owner tag in the core, and
 * each call reports what it changed in the commit (src/hook/host_hook.h), which is what the
 * budget is charged or credited. */
#include "host_internal.h"

#define PAGE ((uintptr_t)WVM_PAGE_SIZE)
#define GRAN ((uintptr_t)WVM_ALLOCATION_GRANULARITY)

static uintptr_t down(uintptr_t a, uintptr_t g)
{
    return a & ~(g - 1);
}

static uintptr_t tag_of(const wvm_host *h)
{
    return (uintptr_t)h; /* even; heaps use odd tags */
}

/* The HRESULT of a failed owned call: HOST_E_INVALIDOPERATION for memory that is not the
 * host's, else the wvm_ error's. */
static HRESULT failed(const wvm_owned *o)
{
    return o->foreign ? HOST_E_INVALIDOPERATION : wvm__host_hresult(wvm_GetLastError());
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
    wvm_owned o = {.owner = tag_of(h), .max_commit = commit};
    void *p = wvm__owned_alloc(addr, size, type, prot, &o);
    if (!p) {
        wvm__budget_uncharge(h, commit);
        wvm__aspace_uncharge(h, span);
        return failed(&o);
    }
    /* A placed reservation's rounding is the core's to decide: charge what it did. */
    wvm__aspace_uncharge(h, span - o.reserved);
    wvm__budget_uncharge(h, commit - o.committed);
    *out = p;
    return S_OK;
}

/* Commits inside an allocation of this host: charges exactly the pages the call commits. The
 * core refuses a commit that would need more than we charged (nothing changes) and says how
 * much it needs; we charge that, waiting for budget with no lock held, and ask again. */
static HRESULT commit_in_place(wvm_host *h, void *addr, size_t size, uint32_t type, uint32_t prot,
                               int level, void **out)
{
    uint64_t charged = 0;
    for (;;) {
        wvm_owned o = {.owner = tag_of(h), .max_commit = charged, .credit = h->credit};
        void *p = wvm__owned_alloc(addr, size, type, prot, &o);
        if (p) {
            wvm__budget_uncharge(h, charged - o.committed);
            *out = p;
            return S_OK;
        }
        if (wvm_GetLastError() != WVM_ERROR_COMMITMENT_LIMIT || o.committed <= charged) {
            wvm__budget_uncharge(h, charged);
            return failed(&o);
        }
        HRESULT hr = wvm__budget_charge(h, o.committed - charged, level);
        if (hr != S_OK) {
            wvm__budget_uncharge(h, charged);
            return hr;
        }
        charged = o.committed;
    }
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
    if (flAllocationType & (WVM_MEM_RESET | WVM_MEM_RESET_UNDO)) {
        if (!pAddress)
            return E_INVALIDARG;
        wvm_owned o = {.owner = tag_of(h)};
        void *p = wvm__owned_alloc(pAddress, dwSize, flAllocationType, flProtect, &o);
        if (!p)
            return failed(&o);
        *ppMem = p;
        return S_OK;
    }
    if (!(flAllocationType & (WVM_MEM_COMMIT | WVM_MEM_RESERVE)))
        return E_INVALIDARG;
    if (!pAddress || (flAllocationType & WVM_MEM_RESERVE))
        return alloc_fresh(h, pAddress, dwSize, flAllocationType, flProtect, eCriticalLevel, ppMem);
    if (dwSize > UINTPTR_MAX - (uintptr_t)pAddress - PAGE)
        return E_INVALIDARG;
    return commit_in_place(h, pAddress, dwSize, flAllocationType, flProtect, eCriticalLevel, ppMem);
}

HRESULT STDMETHODCALLTYPE wvm__host_VirtualFree(IHostMemoryManager *This, void *lpAddress,
                                                size_t dwSize, uint32_t dwFreeType)
{
    wvm_host *h = wvm__host_of(This);
    HRESULT hr = wvm__host_check(h);
    if (hr != S_OK)
        return hr;
    if (!lpAddress || (dwFreeType != WVM_MEM_RELEASE && dwFreeType != WVM_MEM_DECOMMIT))
        return E_INVALIDARG;
    wvm_owned o = {.owner = tag_of(h)};
    if (!wvm__owned_free(lpAddress, dwSize, dwFreeType, &o)) {
        /* A release the core refuses for an allocation of ours: our books and the address
         * space disagree (only the failure-injection hook gets here today). */
        if (dwFreeType == WVM_MEM_RELEASE && !o.foreign &&
            wvm_GetLastError() != WVM_ERROR_INVALID_PARAMETER)
            return wvm__host_fail(h);
        return failed(&o);
    }
    wvm__budget_uncharge(h, o.committed);
    wvm__aspace_uncharge(h, o.reserved);
    if (dwFreeType == WVM_MEM_RELEASE && wvm__host_failure_injected(h))
        return wvm__host_fail(h);
    return S_OK;
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
    return *pResult ? S_OK : wvm__host_hresult(wvm_GetLastError());
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
    return wvm_VirtualProtect(lpAddress, dwSize, flNewProtect, pflOldProtect)
               ? S_OK
               : wvm__host_hresult(wvm_GetLastError());
}

void wvm__host_release_all(wvm_host *h)
{
    uint64_t committed = 0, reserved = 0;
    wvm__owned_release_all(tag_of(h), &committed, &reserved);
    wvm__budget_uncharge(h, committed);
    wvm__aspace_uncharge(h, reserved);
}
