/* The budget across views of sections: a host's VirtualAlloc(MEM_COMMIT) on a view commits the
 * section's pages and is charged like any commit (what it newly commits, waiting or refused by
 * level); the charge comes back when the section dies (its last handle and view gone), not
 * before: VirtualFree refuses views and unmapping leaves the section committed. */
#include "host_test.h"

#define KIB ((size_t)1024)

static HRESULT hcommit(IHostMemoryManager *h, void *at, size_t size, int level)
{
    void *p = NULL;
    HRESULT hr = h->lpVtbl->VirtualAlloc(h, at, size, WVM_MEM_COMMIT, WVM_PAGE_READWRITE,
                                         (EMemoryCriticalLevel)level, &p);
    if (hr == S_OK)
        cr_assert_eq((uintptr_t)p, (uintptr_t)at & ~(uintptr_t)4095);
    else
        cr_assert_null(p);
    return hr;
}

static void *section(uint32_t sec, size_t size)
{
    void *s = wvm_CreateFileMappingA(WVM_INVALID_HANDLE_VALUE, NULL, WVM_PAGE_READWRITE | sec, 0,
                                     (uint32_t)size, NULL);
    cr_assert_not_null(s);
    return s;
}

static char *view(void *s)
{
    char *v = wvm_MapViewOfFile(s, WVM_FILE_MAP_WRITE, 0, 0, 0);
    cr_assert_not_null(v);
    return v;
}

static uint32_t state_of(const void *p)
{
    wvm_MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(wvm_VirtualQuery(p, &m, sizeof m), sizeof m);
    return m.State;
}

Test(host_views, commit_charged_until_the_section_dies)
{
    wvm_host_config c = test_config(64 * MIB, 100);
    IHostMemoryManager *h = test_host(&c);
    void *s = section(WVM_SEC_RESERVE, MIB);
    char *v1 = view(s), *v2 = view(s);
    cr_assert_eq(hcommit(h, v1, 128 * KIB, eTaskCritical), S_OK);
    cr_assert_eq(host_used(h), 128 * KIB);
    v1[0] = 7;
    cr_assert_eq(v2[0], 7, "the section's page, seen through the other view");
    cr_assert_eq(hcommit(h, v1 + 64 * KIB + 5, 192 * KIB - 5, eTaskCritical), S_OK);
    cr_assert_eq(host_used(h), 256 * KIB, "only the pages the call newly commits");
    void *p = wvm_VirtualAlloc(v2 + 256 * KIB, 64 * KIB, WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_eq(p, v2 + 256 * KIB, "a plain commit: not the host's");
    cr_assert_eq(host_used(h), 256 * KIB);
    cr_assert_eq(hcommit(h, v2, 320 * KIB, eTaskCritical), S_OK);
    cr_assert_eq(host_used(h), 256 * KIB, "committed already, through either view");
    cr_assert_eq(state_of(v1 + 300 * KIB), WVM_MEM_COMMIT);
    cr_assert_eq(state_of(v1 + 320 * KIB), WVM_MEM_RESERVE);
    cr_assert_eq(h->lpVtbl->VirtualFree(h, v1, 64 * KIB, WVM_MEM_DECOMMIT), HOST_E_INVALIDOPERATION,
                 "a view is never the host's to free");
    cr_assert_eq(h->lpVtbl->VirtualFree(h, v1, 0, WVM_MEM_RELEASE), HOST_E_INVALIDOPERATION);
    cr_assert(wvm_UnmapViewOfFile(v1));
    cr_assert(wvm_UnmapViewOfFile(v2));
    cr_assert_eq(host_used(h), 256 * KIB, "the handle keeps the section and its commit");
    v1 = view(s);
    cr_assert_eq(v1[0], 7);
    cr_assert(wvm_CloseHandle(s));
    cr_assert_eq(host_used(h), 256 * KIB, "the view keeps it");
    cr_assert(wvm_UnmapViewOfFile(v1));
    cr_assert_eq(host_used(h), 0, "the section died: its commit is the budget's again");
    h->lpVtbl->Release(h);
}

Test(host_views, over_the_ceiling_commits_nothing)
{
    wvm_host_config c = test_config(4 * MIB, 100);
    IHostMemoryManager *h = test_host(&c);
    void *s = section(WVM_SEC_RESERVE, 8 * MIB);
    char *v = view(s);
    cr_assert_eq(hcommit(h, v, 4 * MIB, eTaskCritical), E_OUTOFMEMORY);
    cr_assert_eq(host_used(h), 0);
    cr_assert_eq(state_of(v), WVM_MEM_RESERVE, "a refused charge changes nothing");
    cr_assert_eq(hcommit(h, v, 2 * MIB, eTaskCritical), S_OK); /* 75 % of 4 MiB: 3 MiB */
    cr_assert_eq(hcommit(h, v + 2 * MIB, 2 * MIB, eTaskCritical), E_OUTOFMEMORY);
    cr_assert_eq(state_of(v + 2 * MIB), WVM_MEM_RESERVE);
    void *a = NULL;
    cr_assert_eq(halloc(h, 2 * MIB, eTaskCritical, &a), E_OUTOFMEMORY,
                 "view commit and private commit share one budget");
    cr_assert(wvm_UnmapViewOfFile(v));
    cr_assert(wvm_CloseHandle(s));
    cr_assert_eq(halloc(h, 2 * MIB, eTaskCritical, &a), S_OK,
                 "a charge that did not fit takes back what dead sections gave");
    cr_assert_eq(host_used(h), 2 * MIB);
    cr_assert_eq(hfree(h, a), S_OK);
    h->lpVtbl->Release(h);
}

Test(host_views, one_host_per_section_and_sec_commit_costs_nothing)
{
    wvm_host_config c = test_config(64 * MIB, 100);
    IHostMemoryManager *h1 = test_host(&c), *h2 = test_host(&c);
    void *s = section(WVM_SEC_RESERVE, MIB);
    char *v = view(s);
    cr_assert_eq(hcommit(h1, v, 64 * KIB, eTaskCritical), S_OK);
    cr_assert_eq(hcommit(h2, v + 64 * KIB, 64 * KIB, eTaskCritical), HOST_E_INVALIDOPERATION,
                 "h1 holds the section's charge: h2 could not account for it");
    cr_assert_eq(state_of(v + 64 * KIB), WVM_MEM_RESERVE);
    cr_assert_eq(host_used(h2), 0);
    void *sc = section(0, MIB); /* SEC_COMMIT: charged to the ledger when it was created */
    char *vc = view(sc);
    cr_assert_eq(hcommit(h2, vc, MIB, eTaskCritical), S_OK);
    cr_assert_eq(host_used(h2), 0);
    cr_assert(wvm_UnmapViewOfFile(vc));
    cr_assert(wvm_CloseHandle(sc));
    h1->lpVtbl->Release(h1);
    cr_assert(wvm_UnmapViewOfFile(v));
    cr_assert(wvm_CloseHandle(s), "a section outliving its host gives back to no one");
    h2->lpVtbl->Release(h2);
}
