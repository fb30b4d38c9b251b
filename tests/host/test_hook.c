/* The host's hook (src/hook/host_hook.h, src/api/owned.c): allocations tagged with an owner,
 * in-place operations refused for any other tag, and the commit delta of every call. */
#include "host_test.h"
#include "host_hook.h"
#include "winvmem/stats.h"

#define PAGE 4096u
#define A    ((uintptr_t)0x1234 << 4)
#define B    ((uintptr_t)0x5678 << 4)

Test(host_hook, tags_and_commit_deltas)
{
    /* a fresh reserve+commit is held to max_commit too: refused, nothing reserved */
    wvm_owned o = {.owner = A, .max_commit = 16 * PAGE - 1};
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    cr_assert_eq(wvm_stats_get(&st), 0);
    uint64_t live = st.live_allocations;
    cr_assert_null(wvm__owned_alloc(NULL, 16 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                                    WVM_PAGE_READWRITE, &o));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_COMMITMENT_LIMIT);
    cr_assert_eq(o.committed, 16 * PAGE, "what the call would commit");
    cr_assert_eq(wvm_stats_get(&st), 0);
    cr_assert_eq(st.live_allocations, live, "nothing reserved");
    o = (wvm_owned){.owner = A, .max_commit = 16 * PAGE};
    char *p =
        wvm__owned_alloc(NULL, 16 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE, &o);
    cr_assert_not_null(p);
    cr_assert_eq(o.reserved, 16 * PAGE);
    cr_assert_eq(o.committed, 16 * PAGE);
    cr_assert_eq(wvm__owned_free(p + PAGE, 2 * PAGE, WVM_MEM_DECOMMIT, &o), 1);
    cr_assert_eq(o.committed, 2 * PAGE, "decommitted bytes");
    cr_assert_eq(wvm__owned_free(p + PAGE, 2 * PAGE, WVM_MEM_DECOMMIT, &o), 1);
    cr_assert_eq(o.committed, 0, "nothing committed any more: nothing decommitted");

    /* commit over 1 decommitted + 1 committed page: 4096 new bytes, refused under that */
    o = (wvm_owned){.owner = A, .max_commit = 0};
    cr_assert_null(
        wvm__owned_alloc(p + 2 * PAGE, 2 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, &o));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_COMMITMENT_LIMIT);
    cr_assert_eq(o.committed, PAGE, "what the call would commit");
    wvm_MEMORY_BASIC_INFORMATION mbi;
    cr_assert(wvm_VirtualQuery(p + 2 * PAGE, &mbi, sizeof mbi));
    cr_assert_eq(mbi.State, WVM_MEM_RESERVE, "a refused commit changes nothing");
    o.max_commit = PAGE;
    cr_assert_eq(wvm__owned_alloc(p + 2 * PAGE, 2 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, &o),
                 p + 2 * PAGE);
    cr_assert_eq(o.committed, PAGE);
    o.max_commit = 0;
    cr_assert_null(wvm__owned_alloc(p, 15 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, &o));
    cr_assert_eq(o.committed, PAGE, "page 1 is still decommitted");
    o.max_commit = PAGE;
    cr_assert_not_null(wvm__owned_alloc(p, 16 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, &o));
    cr_assert_eq(o.committed, PAGE);
    o.max_commit = 0;
    cr_assert_eq(wvm__owned_alloc(p, 16 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, &o), p,
                 "re-commit of committed pages needs no budget");
    cr_assert_eq(o.committed, 0);

    /* another owner, a plain allocation, free space: foreign */
    wvm_owned ob = {.owner = B, .max_commit = UINT64_MAX};
    cr_assert_null(wvm__owned_alloc(p, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, &ob));
    cr_assert(ob.foreign);
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_ADDRESS);
    cr_assert_eq(wvm__owned_free(p, 0, WVM_MEM_RELEASE, &ob), 0);
    cr_assert(ob.foreign);
    cr_assert_eq(wvm__owned_free(p, PAGE, WVM_MEM_DECOMMIT, &ob), 0);
    cr_assert(ob.foreign);
    cr_assert_null(wvm__owned_alloc(p, PAGE, WVM_MEM_RESET, WVM_PAGE_READWRITE, &ob));
    cr_assert(ob.foreign);
    void *plain =
        wvm_VirtualAlloc(NULL, PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_eq(wvm__owned_free(plain, 0, WVM_MEM_RELEASE, &o), 0);
    cr_assert(o.foreign, "an allocation made without the hook has no owner");
    cr_assert(wvm_VirtualFree(plain, 0, WVM_MEM_RELEASE));

    /* the owner's own mistakes are not "foreign" */
    cr_assert_eq(wvm__owned_free(p + PAGE, 0, WVM_MEM_RELEASE, &o), 0);
    cr_assert(!o.foreign);
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER, "inside, not at the base");
    cr_assert_eq(wvm__owned_free(p, PAGE, WVM_MEM_RELEASE, &o), 0);
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER, "MEM_RELEASE with a size");

    cr_assert_eq(wvm__owned_free(p, 0, WVM_MEM_RELEASE, &o), 1);
    cr_assert_eq(o.committed, 16 * PAGE);
    cr_assert_eq(o.reserved, 16 * PAGE);
    cr_assert_eq(wvm__owned_free(p, 0, WVM_MEM_RELEASE, &o), 0);
    cr_assert(o.foreign, "released: no longer the owner's");
}

Test(host_hook, release_all_takes_only_the_owners)
{
    void *a[5], *b;
    for (int i = 0; i < 5; i++) {
        wvm_owned o = {.owner = A};
        a[i] =
            wvm__owned_alloc(NULL, (size_t)(i + 1) * 65536, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS, &o);
        cr_assert_not_null(a[i]);
        o.max_commit = PAGE;
        cr_assert_not_null(wvm__owned_alloc(a[i], PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, &o));
    }
    wvm_owned ob = {.owner = B, .max_commit = 65536};
    b = wvm__owned_alloc(NULL, 65536, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE, &ob);
    cr_assert_not_null(b);
    uint64_t committed = 0, reserved = 0;
    wvm__owned_release_all(A, &committed, &reserved);
    cr_assert_eq(committed, 5 * PAGE);
    cr_assert_eq(reserved, (1 + 2 + 3 + 4 + 5) * 65536);
    wvm_MEMORY_BASIC_INFORMATION mbi;
    for (int i = 0; i < 5; i++) {
        cr_assert(wvm_VirtualQuery(a[i], &mbi, sizeof mbi));
        cr_assert_eq(mbi.State, WVM_MEM_FREE);
    }
    cr_assert(wvm_VirtualQuery(b, &mbi, sizeof mbi));
    cr_assert_eq(mbi.State, WVM_MEM_COMMIT, "another owner's allocation stays");
    committed = reserved = 0;
    wvm__owned_release_all(B, &committed, &reserved);
    cr_assert_eq(committed, 65536);
}
