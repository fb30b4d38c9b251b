/* Address-space accounting: the host's own reservations plus what the runtime reports with
 * Acquired/ReleasedVirtualAddressSpace, against config.address_space_budget. */
#include "host_internal.h"

bool wvm__aspace_charge(wvm_host *h, uint64_t n)
{
    uint64_t cur = atomic_load_explicit(&h->as_used, memory_order_relaxed);
    do {
        if (n > h->as_budget || cur > h->as_budget - n)
            return false;
    } while (!atomic_compare_exchange_weak(&h->as_used, &cur, cur + n));
    return true;
}

void wvm__aspace_uncharge(wvm_host *h, uint64_t n)
{
    atomic_fetch_sub(&h->as_used, n);
}

HRESULT STDMETHODCALLTYPE wvm__host_Needs(IHostMemoryManager *This, void *start, size_t size)
{
    wvm_host *h = wvm__host_of(This);
    HRESULT hr = wvm__host_check(h);
    if (hr != S_OK)
        return hr;
    uint64_t cur = atomic_load(&h->as_used);
    return size <= h->as_budget && cur <= h->as_budget - size ? S_OK : E_OUTOFMEMORY;
}

HRESULT STDMETHODCALLTYPE wvm__host_Acquired(IHostMemoryManager *This, void *start, size_t size)
{
    wvm_host *h = wvm__host_of(This);
    HRESULT hr = wvm__host_check(h);
    if (hr != S_OK)
        return hr;
    if (!start || !size)
        return E_INVALIDARG;
    pthread_mutex_lock(&h->as_mu);
    if (wvm__addrmap_get(&h->acquired, (uintptr_t)start))
        hr = E_INVALIDARG; /* already reported and not released */
    else if (wvm__addrmap_put(&h->acquired, (uintptr_t)start, (wvm_addrmap_val){.size = size}))
        hr = E_OUTOFMEMORY;
    else /* a report of a fact: counted even past the budget */
        atomic_fetch_add(&h->as_used, size);
    pthread_mutex_unlock(&h->as_mu);
    return hr;
}

HRESULT STDMETHODCALLTYPE wvm__host_Released(IHostMemoryManager *This, void *start)
{
    wvm_host *h = wvm__host_of(This);
    HRESULT hr = wvm__host_check(h);
    if (hr != S_OK)
        return hr;
    wvm_addrmap_val v;
    pthread_mutex_lock(&h->as_mu);
    bool found = wvm__addrmap_del(&h->acquired, (uintptr_t)start, &v);
    pthread_mutex_unlock(&h->as_mu);
    if (!found)
        return HOST_E_INVALIDOPERATION;
    wvm__aspace_uncharge(h, v.size);
    return S_OK;
}
