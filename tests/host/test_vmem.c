/* Every HRESULT path of VirtualAlloc / VirtualFree / VirtualQuery / VirtualProtect, foreign
 * frees, the address-space calls and the failure state. */
#include <stdlib.h>
#include "host_test.h"

static IHostMemoryManager *small_host(void)
{
    wvm_host_config c = test_config(64 * MIB, 50);
    return test_host(&c);
}

Test(host_vmem, alloc_argument_errors)
{
    IHostMemoryManager *h = small_host();
    void *p = (void *)1;
    cr_assert_eq(halloc(h, 4096, eTaskCritical, NULL), E_POINTER);
    cr_assert_eq(halloc(h, 4096, 3, &p), E_INVALIDARG);
    cr_assert_null(p);
    cr_assert_eq(halloc(h, 0, eTaskCritical, &p), E_INVALIDARG);
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, NULL, 4096, WVM_MEM_RESERVE | WVM_MEM_COMMIT, 0x12345,
                                         eTaskCritical, &p),
                 E_INVALIDARG, "bad protection from the wvm_ layer");
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, NULL, 4096, 0, WVM_PAGE_READWRITE, eTaskCritical, &p),
                 E_INVALIDARG);
    cr_assert_eq(host_used(h), 0, "failed calls leave the budget as it was");
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.address_space_used, 0);
    h->lpVtbl->Release(h);
}

Test(host_vmem, foreign_memory_is_refused)
{
    IHostMemoryManager *h = small_host();
    void *direct =
        wvm_VirtualAlloc(NULL, 65536, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_not_null(direct);
    char *heap = malloc(100);
    int stack;
    void *ptrs[] = {direct, heap, &stack, (void *)0x10000};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(h->lpVtbl->VirtualFree(h, ptrs[i], 0, WVM_MEM_RELEASE),
                     HOST_E_INVALIDOPERATION);
        cr_assert_eq(h->lpVtbl->VirtualFree(h, ptrs[i], 4096, WVM_MEM_DECOMMIT),
                     HOST_E_INVALIDOPERATION);
        void *q;
        cr_assert_eq(h->lpVtbl->VirtualAlloc(h, ptrs[i], 4096, WVM_MEM_COMMIT, WVM_PAGE_READWRITE,
                                             eTaskCritical, &q),
                     HOST_E_INVALIDOPERATION);
    }
    /* another host's memory is foreign too */
    IHostMemoryManager *h2 = small_host();
    void *other;
    cr_assert_eq(halloc(h2, 8192, eTaskCritical, &other), S_OK);
    cr_assert_eq(hfree(h, other), HOST_E_INVALIDOPERATION);
    cr_assert_eq(hfree(h2, other), S_OK);
    cr_assert(wvm_VirtualFree(direct, 0, WVM_MEM_RELEASE));
    free(heap);
    h2->lpVtbl->Release(h2);
    h->lpVtbl->Release(h);
}

Test(host_vmem, free_argument_errors)
{
    IHostMemoryManager *h = small_host();
    char *p;
    cr_assert_eq(halloc(h, 65536, eTaskCritical, (void **)&p), S_OK);
    cr_assert_eq(h->lpVtbl->VirtualFree(h, p, 4096, WVM_MEM_RELEASE), E_INVALIDARG);
    cr_assert_eq(h->lpVtbl->VirtualFree(h, p + 4096, 0, WVM_MEM_RELEASE), E_INVALIDARG);
    cr_assert_eq(h->lpVtbl->VirtualFree(h, p, 0, WVM_MEM_RELEASE | WVM_MEM_DECOMMIT), E_INVALIDARG);
    cr_assert_eq(h->lpVtbl->VirtualFree(h, NULL, 0, WVM_MEM_RELEASE), E_INVALIDARG);
    cr_assert_eq(host_used(h), 65536);
    cr_assert_eq(hfree(h, p), S_OK);
    cr_assert_eq(hfree(h, p), HOST_E_INVALIDOPERATION, "double release");
    cr_assert_eq(host_used(h), 0);
    h->lpVtbl->Release(h);
}

Test(host_vmem, query_and_protect)
{
    IHostMemoryManager *h = small_host();
    char *p;
    cr_assert_eq(halloc(h, 3 * 4096, eTaskCritical, (void **)&p), S_OK);
    wvm_MEMORY_BASIC_INFORMATION mbi;
    size_t n = 0;
    cr_assert_eq(h->lpVtbl->VirtualQuery(h, p + 5000, &mbi, sizeof mbi, &n), S_OK);
    cr_assert_eq(n, sizeof mbi);
    cr_assert_eq(mbi.AllocationBase, p);
    cr_assert_eq(mbi.State, WVM_MEM_COMMIT);
    cr_assert_eq(h->lpVtbl->VirtualQuery(h, p, &mbi, sizeof mbi, NULL), E_POINTER);
    cr_assert_eq(h->lpVtbl->VirtualQuery(h, p, &mbi, 3, &n), E_INVALIDARG);
    cr_assert_eq(n, 0);
    uint32_t old = 0;
    cr_assert_eq(h->lpVtbl->VirtualProtect(h, p, 4096, WVM_PAGE_READONLY, &old), S_OK);
    cr_assert_eq(old, WVM_PAGE_READWRITE);
    cr_assert_eq(h->lpVtbl->VirtualProtect(h, p, 4096, WVM_PAGE_READWRITE, NULL), E_POINTER);
    cr_assert_eq(h->lpVtbl->VirtualProtect(h, p, 4096, 0x12345, &old), E_INVALIDARG);
    cr_assert_eq(hfree(h, p), S_OK);
    h->lpVtbl->Release(h);
}

Test(host_vmem, placed_reservation)
{
    IHostMemoryManager *h = small_host();
    /* find a free spot, then ask the host for it */
    void *probe = wvm_VirtualAlloc(NULL, 4 * 65536, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS);
    cr_assert_not_null(probe);
    cr_assert(wvm_VirtualFree(probe, 0, WVM_MEM_RELEASE));
    char *want = (char *)probe + 65536 + 100, *p = NULL;
    HRESULT hr = h->lpVtbl->VirtualAlloc(h, want, 8192, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                                         WVM_PAGE_READWRITE, eTaskCritical, (void **)&p);
    cr_assert_eq(hr, S_OK);
    cr_assert_eq(p, (char *)probe + 65536, "rounded down to the allocation granularity");
    wvm_MEMORY_BASIC_INFORMATION mbi;
    size_t n;
    cr_assert_eq(h->lpVtbl->VirtualQuery(h, p, &mbi, sizeof mbi, &n), S_OK);
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.used, mbi.State == WVM_MEM_COMMIT ? mbi.RegionSize : 0,
                 "the host charges what the core committed");
    cr_assert_eq(hfree(h, p), S_OK);
    cr_assert_eq(host_used(h), 0);
    h->lpVtbl->Release(h);
}

Test(host_vmem, address_space_accounting)
{
    wvm_host_config c = test_config(64 * MIB, 50);
    c.address_space_budget = 16 * MIB;
    IHostMemoryManager *h = test_host(&c);
    char *base = (char *)0x200000000000ull;
    cr_assert_eq(h->lpVtbl->NeedsVirtualAddressSpace(h, base, 8 * MIB), S_OK);
    cr_assert_eq(h->lpVtbl->AcquiredVirtualAddressSpace(h, base, 8 * MIB), S_OK);
    cr_assert_eq(h->lpVtbl->AcquiredVirtualAddressSpace(h, base, 8 * MIB), E_INVALIDARG);
    cr_assert_eq(h->lpVtbl->AcquiredVirtualAddressSpace(h, NULL, 8 * MIB), E_INVALIDARG);
    cr_assert_eq(h->lpVtbl->NeedsVirtualAddressSpace(h, base, 9 * MIB), E_OUTOFMEMORY);
    void *p;
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, NULL, 9 * MIB, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS,
                                         eTaskCritical, &p),
                 E_OUTOFMEMORY, "reservations count against the address-space budget");
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, NULL, 4 * MIB, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS,
                                         eTaskCritical, &p),
                 S_OK);
    cr_assert_eq(h->lpVtbl->NeedsVirtualAddressSpace(h, base, 4 * MIB), S_OK);
    cr_assert_eq(h->lpVtbl->NeedsVirtualAddressSpace(h, base, 5 * MIB), E_OUTOFMEMORY);
    cr_assert_eq(h->lpVtbl->ReleasedVirtualAddressSpace(h, base), S_OK);
    cr_assert_eq(h->lpVtbl->ReleasedVirtualAddressSpace(h, base), HOST_E_INVALIDOPERATION);
    cr_assert_eq(h->lpVtbl->NeedsVirtualAddressSpace(h, base, 12 * MIB), S_OK);
    cr_assert_eq(hfree(h, p), S_OK);
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.address_space_used, 0);
    h->lpVtbl->Release(h);
}

Test(host_vmem, failure_then_clr_not_available)
{
    IHostMemoryManager *h = small_host();
    IHostMalloc *m = NULL;
    cr_assert_eq(h->lpVtbl->CreateMalloc(h, MALLOC_THREADSAFE, &m), S_OK);
    void *p = NULL, *q = NULL;
    cr_assert_eq(halloc(h, 4096, eTaskCritical, &p), S_OK);
    wvm__host_inject_failure(h);
    cr_assert_eq(halloc(h, 4096, eTaskCritical, &q), E_FAIL);
    cr_assert_eq(halloc(h, 4096, eTaskCritical, &q), HOST_E_CLRNOTAVAILABLE);
    cr_assert_eq(hfree(h, p), HOST_E_CLRNOTAVAILABLE);
    uint32_t load;
    size_t avail;
    cr_assert_eq(h->lpVtbl->GetMemoryLoad(h, &load, &avail), HOST_E_CLRNOTAVAILABLE);
    IHostMalloc *m2 = (IHostMalloc *)1;
    cr_assert_eq(h->lpVtbl->CreateMalloc(h, 0, &m2), HOST_E_CLRNOTAVAILABLE);
    cr_assert_null(m2, "[out] is NULL when the call fails");
    cr_assert_eq(h->lpVtbl->NeedsVirtualAddressSpace(h, p, 1), HOST_E_CLRNOTAVAILABLE);
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, NULL), S_OK,
                 "unregistering works in any state");
    q = (void *)1;
    cr_assert_eq(m->lpVtbl->Alloc(m, 10, eTaskCritical, &q), HOST_E_CLRNOTAVAILABLE);
    cr_assert_null(q);
    void *same;
    cr_assert_eq(h->lpVtbl->QueryInterface(h, &IID_IHostMemoryManager, &same), S_OK,
                 "IUnknown keeps working");
    h->lpVtbl->Release(h);
    m->lpVtbl->Release(m);
    h->lpVtbl->Release(h);
}

Test(host_vmem, failure_found_on_release)
{
    IHostMemoryManager *h = small_host();
    void *p = NULL;
    cr_assert_eq(halloc(h, 4096, eTaskCritical, &p), S_OK);
    wvm__host_inject_failure(h);
    cr_assert_eq(hfree(h, p), E_FAIL);
    cr_assert_eq(hfree(h, p), HOST_E_CLRNOTAVAILABLE);
    h->lpVtbl->Release(h);
}

Test(host_vmem, reset_keeps_the_budget)
{
    IHostMemoryManager *h = small_host();
    char *p, *q;
    cr_assert_eq(halloc(h, 65536, eTaskCritical, (void **)&p), S_OK);
    p[0] = 1;
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, p, 65536, WVM_MEM_RESET, WVM_PAGE_NOACCESS,
                                         eTaskCritical, (void **)&q),
                 S_OK);
    cr_assert_eq(q, p);
    cr_assert_eq(host_used(h), 65536, "MEM_RESET keeps the pages committed");
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, NULL, 65536, WVM_MEM_RESET, WVM_PAGE_NOACCESS,
                                         eTaskCritical, (void **)&q),
                 E_INVALIDARG);
    char *libc = malloc(64);
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, libc, 64, WVM_MEM_RESET, WVM_PAGE_NOACCESS,
                                         eTaskCritical, (void **)&q),
                 HOST_E_INVALIDOPERATION);
    free(libc);
    cr_assert_eq(hfree(h, p), S_OK);
    cr_assert_eq(host_used(h), 0);
    h->lpVtbl->Release(h);
}
