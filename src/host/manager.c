/* IHostMemoryManager: creation, configuration, COM identity, failure state and shutdown. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "host_internal.h"

WVM_API const IID wvm_IID_IUnknown = {
    0x00000000, 0x0000, 0x0000, {0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}};
WVM_API const IID wvm_IID_IHostMemoryManager = {
    0x7BC698D1, 0xF9E3, 0x4460, {0x9C, 0xDE, 0xD0, 0x42, 0x48, 0xE9, 0xFA, 0x25}};
WVM_API const IID wvm_IID_IHostMalloc = {
    0x1831991C, 0xCC53, 0x4A31, {0xB2, 0x18, 0x04, 0xE9, 0x10, 0x44, 0x64, 0x79}};
WVM_API const IID wvm_IID_ICLRMemoryNotificationCallback = {
    0x47EB8E57, 0x0846, 0x4546, {0xAF, 0x76, 0x6F, 0x42, 0xFC, 0xFC, 0x26, 0x49}};

#define MIB              (1024ull * 1024ull)
#define HEAP_SEGMENT_MIN MIB /* heap segments: 64 KiB slabs, at least 16 of them */

bool wvm__iid_eq(const IID *a, const IID *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

HRESULT wvm__host_hresult(uint32_t e)
{
    switch (e) {
    case WVM_ERROR_SUCCESS:
        return E_FAIL; /* a failure without an error code: should not happen */
    case WVM_ERROR_NOT_ENOUGH_MEMORY:
    case WVM_ERROR_OUTOFMEMORY:
    case WVM_ERROR_COMMITMENT_LIMIT:
    case WVM_ERROR_NO_SYSTEM_RESOURCES:
    case WVM_ERROR_WORKING_SET_QUOTA:
        return E_OUTOFMEMORY;
    case WVM_ERROR_INVALID_PARAMETER:
    case WVM_ERROR_INVALID_ADDRESS:
    case WVM_ERROR_BAD_LENGTH:
    case WVM_ERROR_NOACCESS:
        return E_INVALIDARG;
    default:
        return WVM_HRESULT_FROM_WIN32(e);
    }
}

_Atomic uint32_t wvm__hosts_dead;

bool wvm__host_mark_dead(wvm_host *h)
{
    int alive = WVM_HOST_ALIVE;
    if (!atomic_compare_exchange_strong(&h->state, &alive, WVM_HOST_DEAD))
        return false;
    atomic_fetch_add(&wvm__hosts_dead, 1);
    return true;
}

/* Shutdown and failure alike: waiters get HOST_E_ABANDONED, the host thread stops and the
 * callback is released (so a runtime that got E_FAIL need not unregister it). Once. */
static void host_stop(wvm_host *h)
{
    if (atomic_exchange(&h->shut, true))
        return;
    wvm__budget_abandon(&h->budget);
    wvm__notify_stop(h);
}

HRESULT wvm__host_fail(wvm_host *h)
{
    if (!wvm__host_mark_dead(h))
        return HOST_E_CLRNOTAVAILABLE;
    host_stop(h);
    return E_FAIL;
}

bool wvm__host_failure_injected(wvm_host *h)
{
    return atomic_load_explicit(&h->fail_next, memory_order_relaxed) &&
           atomic_exchange(&h->fail_next, false);
}

void wvm__host_inject_failure(IHostMemoryManager *host)
{
    atomic_store(&wvm__host_of(host)->fail_next, true);
}

void wvm_host_config_init(wvm_host_config *c)
{
    wvm_MEMORYSTATUSEX ms = {.dwLength = sizeof ms};
    uint64_t limit = wvm_GlobalMemoryStatusEx(&ms) ? ms.ullTotalPageFile : 0;
    wvm_SYSTEM_INFO si;
    wvm_GetSystemInfo(&si);
    *c = (wvm_host_config){
        .size = sizeof *c,
        .budget = limit,
        .emergency_reserve = 0, /* budget / 16, whatever the caller sets the budget to */
        .task_ceiling_pct = 75,
        .appdomain_ceiling_pct = 90,
        .wait_timeout_ms = 2000,
        .low_watermark_pct = 85,
        .high_watermark_pct = 50,
        .hysteresis_pct = 5,
        .poll_interval_ms = 100,
        .psi_stall_us = 200000,
        .psi_window_us = 2000000, /* unprivileged triggers need a multiple of 2 s */
        .psi_hold_ms = 1000,
        .address_space_budget = (uint64_t)((uintptr_t)si.lpMaximumApplicationAddress -
                                           (uintptr_t)si.lpMinimumApplicationAddress + 1),
        .heap_arena_size = 32 * MIB,
    };
}

/* Fills zero fields with defaults and checks the result. */
static bool config_resolve(const wvm_host_config *in, wvm_host_config *c)
{
    wvm_host_config d;
    wvm_host_config_init(&d);
    if (in && in->size != sizeof *in)
        return false;
    *c = in ? *in : d;
#define DEF(f)                                                                                     \
    if (!c->f)                                                                                     \
    c->f = d.f
    DEF(budget);
    if (!c->emergency_reserve)
        c->emergency_reserve = c->budget / 16;
    DEF(task_ceiling_pct);
    DEF(appdomain_ceiling_pct);
    DEF(wait_timeout_ms);
    DEF(low_watermark_pct);
    DEF(high_watermark_pct);
    DEF(hysteresis_pct);
    DEF(poll_interval_ms);
    DEF(psi_stall_us);
    DEF(psi_window_us);
    DEF(psi_hold_ms);
    DEF(address_space_budget);
    DEF(heap_arena_size);
#undef DEF
    return c->budget >= 100 && c->emergency_reserve < c->budget && c->task_ceiling_pct <= 100 &&
           c->appdomain_ceiling_pct <= 100 && c->high_watermark_pct <= c->low_watermark_pct &&
           c->low_watermark_pct <= 100 && c->hysteresis_pct <= c->low_watermark_pct &&
           c->high_watermark_pct + c->hysteresis_pct <= 100 &&
           c->heap_arena_size % (64 * 1024) == 0 && c->heap_arena_size >= HEAP_SEGMENT_MIN &&
           c->poll_interval_ms < INT32_MAX;
}

uint32_t wvm__host_addref(wvm_host *h)
{
    return atomic_fetch_add(&h->refs, 1) + 1;
}

static void destroy(wvm_host *h)
{
    wvm__fork_del_host(h);
    wvm_host_shutdown(&h->iface);
    wvm__notify_join(h);
    wvm__host_release_all(h);
    wvm__addrmap_free(&h->acquired);
    wvm__notify_destroy(h);
    pthread_mutex_destroy(&h->as_mu);
    wvm__budget_destroy(&h->budget);
    wvm__owned_credit_drop(h->credit);
    free(h);
}

uint32_t wvm__host_release(wvm_host *h)
{
    uint32_t left = atomic_fetch_sub(&h->refs, 1) - 1;
    if (left == 0)
        destroy(h);
    return left;
}

static HRESULT STDMETHODCALLTYPE QueryInterface(IHostMemoryManager *This, REFIID riid, void **ppv)
{
    if (!ppv)
        return E_POINTER;
    *ppv = NULL;
    if (!riid)
        return E_INVALIDARG;
    if (!wvm__iid_eq(riid, &wvm_IID_IUnknown) && !wvm__iid_eq(riid, &wvm_IID_IHostMemoryManager))
        return E_NOINTERFACE;
    wvm__host_addref(wvm__host_of(This));
    *ppv = This;
    return S_OK;
}

static uint32_t STDMETHODCALLTYPE AddRef(IHostMemoryManager *This)
{
    return wvm__host_addref(wvm__host_of(This));
}

static uint32_t STDMETHODCALLTYPE Release(IHostMemoryManager *This)
{
    return wvm__host_release(wvm__host_of(This));
}

static HRESULT STDMETHODCALLTYPE GetMemoryLoad(IHostMemoryManager *This, uint32_t *pLoad,
                                               size_t *pAvail)
{
    wvm_host *h = wvm__host_of(This);
    if (!pLoad || !pAvail)
        return E_POINTER;
    *pLoad = 0;
    *pAvail = 0;
    HRESULT hr = wvm__host_check(h);
    if (hr != S_OK)
        return hr;
    wvm__budget_reclaim(h);
    uint64_t used = atomic_load(&h->budget.used);
    uint64_t pct = used / (h->budget.total / 100);
    *pLoad = (uint32_t)(pct > 100 ? 100 : pct);
    *pAvail = (size_t)(used < h->budget.normal_limit ? h->budget.normal_limit - used : 0);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE Register(IHostMemoryManager *This,
                                          ICLRMemoryNotificationCallback *cb)
{
    wvm_host *h = wvm__host_of(This);
    HRESULT hr = wvm__host_check(h);
    if (hr != S_OK && cb)
        return hr;
    return wvm__notify_register(h, cb); /* unregistering works in any state */
}

static const IHostMemoryManagerVtbl vtbl = {
    QueryInterface,
    AddRef,
    Release,
    wvm__host_CreateMalloc,
    wvm__host_VirtualAlloc,
    wvm__host_VirtualFree,
    wvm__host_VirtualQuery,
    wvm__host_VirtualProtect,
    GetMemoryLoad,
    Register,
    wvm__host_Needs,
    wvm__host_Acquired,
    wvm__host_Released,
};

WVM_API HRESULT wvm_host_create(const wvm_host_config *config, IHostMemoryManager **out)
{
    if (!out)
        return E_POINTER;
    *out = NULL;
    wvm_host_config c;
    if (!config_resolve(config, &c))
        return E_INVALIDARG;
    wvm_host *h = calloc(1, sizeof *h);
    if (!h)
        return E_OUTOFMEMORY;
    h->iface.lpVtbl = &vtbl;
    atomic_init(&h->refs, 1);
    h->cfg = c;
    h->as_budget = c.address_space_budget;
    h->credit = wvm__owned_credit_new();
    if (!h->credit || wvm__budget_init(&h->budget, &c) || wvm__notify_init(h)) {
        wvm__owned_credit_drop(h->credit);
        free(h);
        return E_OUTOFMEMORY;
    }
    pthread_mutex_init(&h->as_mu, NULL);
    wvm__fork_add_host(h);
    if (wvm__notify_start(h)) {
        destroy(h);
        return E_OUTOFMEMORY;
    }
    *out = &h->iface;
    return S_OK;
}

WVM_API void wvm_host_shutdown(IHostMemoryManager *host)
{
    if (!host)
        return;
    wvm_host *h = wvm__host_of(host);
    wvm__host_mark_dead(h);
    host_stop(h);
}

WVM_API const char *wvm_host_pressure_source(IHostMemoryManager *host)
{
    const wvm_notifier *n = &wvm__host_of(host)->notify;
    return atomic_load(&n->psi_fd) < 0 ? "poll" : n->psi_cgroup ? "psi-cgroup" : "psi";
}

WVM_API void wvm_host_get_stats(IHostMemoryManager *host, wvm_host_stats *s)
{
    wvm_host *h = wvm__host_of(host);
    wvm_budget *b = &h->budget;
    memset(s, 0, sizeof *s);
    wvm__budget_reclaim(h);
    s->budget = b->total;
    s->used = atomic_load(&b->used);
    s->peak = atomic_load(&b->peak);
    s->address_space_used = atomic_load(&h->as_used);
    for (int l = 0; l < WVM_HOST_LEVELS; l++) {
        s->ceiling[l] = b->ceiling[l];
        s->granted[l] = atomic_load(&b->granted[l]);
        s->refused[l] = atomic_load(&b->refused[l]);
    }
    s->waits = atomic_load(&b->waits);
    s->timeouts = atomic_load(&b->timeouts);
    s->reserve_draws = atomic_load(&b->reserve_draws);
    for (int i = 1; i < 4; i++)
        s->notifications[i] = atomic_load(&h->notify.delivered[i]);
    s->psi_events = atomic_load(&h->notify.psi_events);
    s->level = atomic_load(&h->notify.level);
    s->heap_arenas = atomic_load(&h->heap_arenas);
}
