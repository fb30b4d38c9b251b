/* COM identity: QueryInterface, reference counts, IIDs, the factory's argument checks. */
#include <string.h>
#include "host_test.h"

Test(host_com, iids_have_mscoree_values)
{
    const uint8_t hmm[] = {0x9C, 0xDE, 0xD0, 0x42, 0x48, 0xE9, 0xFA, 0x25};
    cr_assert_eq(IID_IHostMemoryManager.Data1, 0x7BC698D1u);
    cr_assert_eq(IID_IHostMemoryManager.Data2, 0xF9E3u);
    cr_assert_eq(IID_IHostMemoryManager.Data3, 0x4460u);
    cr_assert_arr_eq(IID_IHostMemoryManager.Data4, hmm, 8);
    cr_assert_eq(IID_IHostMalloc.Data1, 0x1831991Cu);
    cr_assert_eq(IID_IHostMalloc.Data4[7], 0x79);
    cr_assert_eq(IID_ICLRMemoryNotificationCallback.Data1, 0x47EB8E57u);
    cr_assert_eq(IID_ICLRMemoryNotificationCallback.Data4[7], 0x49);
    cr_assert_eq(sizeof(IID), 16);
}

Test(host_com, hresult_values)
{
    cr_assert_eq((uint32_t)E_FAIL, 0x80004005u);
    cr_assert_eq((uint32_t)E_OUTOFMEMORY, 0x8007000Eu);
    cr_assert_eq((uint32_t)E_INVALIDARG, 0x80070057u);
    cr_assert_eq((uint32_t)E_POINTER, 0x80004003u);
    cr_assert_eq((uint32_t)E_NOINTERFACE, 0x80004002u);
    cr_assert_eq((uint32_t)HOST_E_INVALIDOPERATION, 0x80131022u);
    cr_assert_eq((uint32_t)HOST_E_CLRNOTAVAILABLE, 0x80131023u);
    cr_assert_eq((uint32_t)HOST_E_TIMEOUT, 0x80131024u);
    cr_assert_eq((uint32_t)HOST_E_NOT_OWNER, 0x80131025u);
    cr_assert_eq((uint32_t)HOST_E_ABANDONED, 0x80131026u);
    cr_assert_eq((uint32_t)WVM_HRESULT_FROM_WIN32(8u), 0x80070008u);
    cr_assert_eq(eTaskCritical, 0);
    cr_assert_eq(eProcessCritical, 2);
    cr_assert_eq(eMemoryAvailableLow, 1);
    cr_assert_eq(eMemoryAvailableHigh, 3);
    cr_assert_eq(MALLOC_EXECUTABLE, 2);
}

Test(host_com, vtable_order_matches_idl)
{
    /* The slots a C++ caller indexes: IUnknown 0-2, then CreateMalloc at 3 ... Released at 12. */
    cr_assert_eq(offsetof(IHostMemoryManagerVtbl, CreateMalloc), 3 * sizeof(void *));
    cr_assert_eq(offsetof(IHostMemoryManagerVtbl, VirtualAlloc), 4 * sizeof(void *));
    cr_assert_eq(offsetof(IHostMemoryManagerVtbl, GetMemoryLoad), 8 * sizeof(void *));
    cr_assert_eq(offsetof(IHostMemoryManagerVtbl, ReleasedVirtualAddressSpace),
                 12 * sizeof(void *));
    cr_assert_eq(offsetof(IHostMallocVtbl, Free), 5 * sizeof(void *));
    cr_assert_eq(offsetof(ICLRMemoryNotificationCallbackVtbl, OnMemoryNotification),
                 3 * sizeof(void *));
}

Test(host_com, query_interface_and_refcount)
{
    IHostMemoryManager *h = test_host(NULL);
    void *p = (void *)1;
    cr_assert_eq(h->lpVtbl->QueryInterface(h, &IID_IHostMalloc, &p), E_NOINTERFACE);
    cr_assert_null(p);
    cr_assert_eq(h->lpVtbl->QueryInterface(h, &IID_IHostMemoryManager, NULL), E_POINTER);
    cr_assert_eq(h->lpVtbl->QueryInterface(h, &IID_IHostMemoryManager, &p), S_OK);
    cr_assert_eq(p, h);
    cr_assert_eq(h->lpVtbl->QueryInterface(h, &IID_IUnknown, &p), S_OK);
    cr_assert_eq(h->lpVtbl->AddRef(h), 4u);
    cr_assert_eq(h->lpVtbl->Release(h), 3u);
    cr_assert_eq(h->lpVtbl->Release(h), 2u);
    cr_assert_eq(h->lpVtbl->Release(h), 1u);
    cr_assert_eq(h->lpVtbl->Release(h), 0u);
}

Test(host_com, heap_keeps_host_alive)
{
    IHostMemoryManager *h = test_host(NULL);
    IHostMalloc *m = NULL;
    cr_assert_eq(h->lpVtbl->CreateMalloc(h, MALLOC_THREADSAFE, &m), S_OK);
    void *q = NULL;
    cr_assert_eq(m->lpVtbl->QueryInterface(m, &IID_IHostMemoryManager, &q), E_NOINTERFACE);
    cr_assert_eq(m->lpVtbl->QueryInterface(m, &IID_IHostMalloc, &q), S_OK);
    cr_assert_eq(q, m);
    cr_assert_eq(m->lpVtbl->Release(m), 1u);
    cr_assert_eq(h->lpVtbl->Release(h), 1u); /* the heap holds a reference */
    void *b = NULL;
    cr_assert_eq(m->lpVtbl->Alloc(m, 100, eTaskCritical, &b), S_OK);
    cr_assert_eq(m->lpVtbl->Free(m, b), S_OK);
    cr_assert_eq(m->lpVtbl->Release(m), 0u); /* and the host goes with it */
}

Test(host_com, factory_arguments)
{
    IHostMemoryManager *h = (IHostMemoryManager *)1;
    cr_assert_eq(wvm_host_create(NULL, NULL), E_POINTER);
    wvm_host_config c = test_config(64 * MIB, 100);
    c.size = 12;
    cr_assert_eq(wvm_host_create(&c, &h), E_INVALIDARG);
    cr_assert_null(h);
    c = test_config(64 * MIB, 100);
    c.emergency_reserve = 64 * MIB;
    cr_assert_eq(wvm_host_create(&c, &h), E_INVALIDARG);
    c = test_config(64 * MIB, 100);
    c.high_watermark_pct = 90; /* above the low watermark */
    cr_assert_eq(wvm_host_create(&c, &h), E_INVALIDARG);
    c = test_config(64 * MIB, 100);
    c.heap_arena_size = 40 * MIB + 4096; /* not a multiple of the 64 KiB slab */
    cr_assert_eq(wvm_host_create(&c, &h), E_INVALIDARG);
    c = test_config(64 * MIB, 100);
    c.heap_arena_size = 512 * 1024; /* below the 1 MiB minimum */
    cr_assert_eq(wvm_host_create(&c, &h), E_INVALIDARG);
    c = test_config(64 * MIB, 100);
    cr_assert_eq(wvm_host_create(&c, &h), S_OK);
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.budget, 64 * MIB);
    cr_assert_eq(s.ceiling[eProcessCritical], 64 * MIB);
    cr_assert_lt(s.ceiling[eTaskCritical], s.ceiling[eAppDomainCritical]);
    cr_assert_leq(s.ceiling[eAppDomainCritical], 60 * MIB);
    h->lpVtbl->Release(h);
}

Test(host_com, defaults_use_the_commit_limit)
{
    wvm_MEMORYSTATUSEX ms = {.dwLength = sizeof ms};
    cr_assert(wvm_GlobalMemoryStatusEx(&ms));
    IHostMemoryManager *h = test_host(NULL);
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.budget, ms.ullTotalPageFile);
    h->lpVtbl->Release(h);
}
