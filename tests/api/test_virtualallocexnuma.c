/* VirtualAllocExNuma: VirtualAlloc's results, plus the kernel's memory policy of the new
 * allocation (get_mempolicy: MPOL_PREFERRED on the node asked for) for its whole life, and the
 * default policy again once it is released. */
#include <sys/syscall.h>
#include <unistd.h>

#include "veh_record.h"
#include "skip.h"

#define SELF           wvm_GetCurrentProcess()
#define MPOL_DEFAULT   0
#define MPOL_PREFERRED 1
#define MPOL_F_NODE    1
#define MPOL_F_ADDR    2

/* The policy of the mapping at p: mode, and the preferred node (or -1). */
static int policy(const void *p, int *node)
{
    unsigned long mask[16] = {0};
    int mode = -1;
    if (syscall(SYS_get_mempolicy, &mode, mask, 16 * 64UL, p, MPOL_F_ADDR))
        wvm_cannot_run("get_mempolicy fails: the kernel has no NUMA support");
    *node = -1;
    for (int i = 0; i < 16 * 64; i++)
        if (mask[i / 64] >> (i % 64) & 1) {
            *node = i;
            break;
        }
    return mode;
}

static int frame_node(const void *p)
{
    int node = -1;
    cr_assert_eq(syscall(SYS_get_mempolicy, &node, NULL, 0UL, p, MPOL_F_NODE | MPOL_F_ADDR), 0);
    return node;
}

static void expect_mbi(const void *p, size_t size, uint32_t state, uint32_t prot)
{
    wvm_MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(wvm_VirtualQuery(p, &m, sizeof m), sizeof m);
    cr_assert_eq(m.BaseAddress, p);
    cr_assert_eq(m.AllocationBase, p);
    cr_assert_eq(m.AllocationProtect, WVM_PAGE_READWRITE);
    cr_assert_eq(m.PartitionId, 0);
    cr_assert_eq(m.RegionSize, size);
    cr_assert_eq(m.State, state);
    cr_assert_eq(m.Protect, prot);
    cr_assert_eq(m.Type, WVM_MEM_PRIVATE);
}

Test(numa, node_zero_is_preferred_for_the_allocations_life)
{
    wvm_SetLastError(0x31);
    char *p = wvm_VirtualAllocExNuma(SELF, NULL, 0x20000, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                                     WVM_PAGE_READWRITE, 0);
    cr_assert_not_null(p, "error %u", wvm_GetLastError());
    cr_assert_eq(wvm_GetLastError(), 0x31);
    expect_mbi(p, 0x20000, WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    int node;
    cr_assert_eq(policy(p, &node), MPOL_PREFERRED);
    cr_assert_eq(node, 0);
    cr_assert_eq(policy(p + 0x1F000, &node), MPOL_PREFERRED, "the whole allocation");
    p[0] = 1;
    cr_assert_eq(frame_node(p), 0, "the page was placed on the node");
    wvm_PSAPI_WORKING_SET_EX_INFORMATION e = {p, {0}};
    cr_assert(wvm_QueryWorkingSetEx(SELF, &e, sizeof e));
    cr_assert_eq(e.VirtualAttributes.v.Valid, 1);
    cr_assert_eq(e.VirtualAttributes.v.Node, 0);
    /* decommitted and committed again: the policy stays */
    cr_assert(wvm_VirtualFree(p, 0x10000, WVM_MEM_DECOMMIT));
    cr_assert_not_null(wvm_VirtualAlloc(p, 0x10000, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    cr_assert_eq(policy(p, &node), MPOL_PREFERRED);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
    /* the arena range is plain again: an allocation made there later has no policy */
    char *q = wvm_VirtualAlloc(p, 0x20000, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_eq(q, p, "the same range");
    cr_assert_eq(policy(q, &node), MPOL_DEFAULT);
    cr_assert_eq(node, -1);
}

Test(numa, a_reservation_keeps_its_node_for_later_commits)
{
    char *p = wvm_VirtualAllocExNuma(SELF, NULL, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE, 0);
    cr_assert_not_null(p);
    expect_mbi(p, 0x10000, WVM_MEM_RESERVE, 0);
    int node;
    cr_assert_eq(policy(p, &node), MPOL_PREFERRED);
    cr_assert_not_null(wvm_VirtualAlloc(p + 0x3000, 0x1000, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    p[0x3000] = 1;
    cr_assert_eq(policy(p + 0x3000, &node), MPOL_PREFERRED);
    cr_assert_eq(node, 0);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}

Test(numa, committing_in_an_existing_allocation_ignores_the_node)
{
    char *p = wvm_VirtualAlloc(NULL, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert_eq(wvm_VirtualAllocExNuma(SELF, p, 0x1000, WVM_MEM_COMMIT, WVM_PAGE_READWRITE, 0), p);
    int node;
    cr_assert_eq(policy(p, &node), MPOL_DEFAULT);
    expect_mbi(p, 0x1000, WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
}

Test(numa, no_preferred_node_is_virtualallocex)
{
    char *p = wvm_VirtualAllocExNuma(SELF, NULL, 0x10000, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                                     WVM_PAGE_READWRITE, WVM_NUMA_NO_PREFERRED_NODE);
    cr_assert_not_null(p);
    int node;
    cr_assert_eq(policy(p, &node), MPOL_DEFAULT);
    expect_mbi(p, 0x10000, WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
}

/* The highest node this process may use, from the kernel (get_mempolicy MEMS_ALLOWED). */
static int highest_node(void)
{
    unsigned long mask[16] = {0};
    cr_assert_eq(syscall(SYS_get_mempolicy, NULL, mask, 16 * 64UL, NULL, 4 /* MEMS_ALLOWED */), 0);
    int high = -1;
    for (int i = 0; i < 16 * 64; i++)
        if (mask[i / 64] >> (i % 64) & 1)
            high = i;
    return high;
}

Test(numa, argument_rules)
{
    cr_assert_null(wvm_VirtualAllocExNuma((void *)(intptr_t)-2, NULL, 0x10000, WVM_MEM_RESERVE,
                                          WVM_PAGE_READWRITE, 0));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_HANDLE);
    cr_assert_null(
        wvm_VirtualAllocExNuma(NULL, NULL, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE, 0));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_HANDLE);
    const uint32_t bad[] = {(uint32_t)highest_node() + 1, 64, 1023, 1024, 0x7FFFFFFF, 0xFFFFFFFE};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_null(wvm_VirtualAllocExNuma(SELF, NULL, 0x10000, WVM_MEM_RESERVE,
                                              WVM_PAGE_READWRITE, bad[i]),
                       "node %u", bad[i]);
        cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    }
    /* VirtualAlloc's own rules, with a valid node */
    cr_assert_null(wvm_VirtualAllocExNuma(SELF, NULL, 0, WVM_MEM_RESERVE, WVM_PAGE_READWRITE, 0));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_null(wvm_VirtualAllocExNuma(SELF, NULL, 0x10000, WVM_MEM_RESERVE, 0, 0));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    char *p = wvm_VirtualAlloc(NULL, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert_null(wvm_VirtualAllocExNuma(SELF, p, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE, 0),
                   "reserving a reserved range");
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_ADDRESS);
    int node;
    cr_assert_eq(policy(p, &node), MPOL_DEFAULT, "a failed call leaves no policy behind");
}

Test(numa, a_failed_reservation_leaves_no_policy)
{
    /* reserve+commit at a fixed address fails once the commit does (more than the machine) */
    char *p = wvm_VirtualAlloc(NULL, 0x100000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
    wvm_MEMORYSTATUSEX ms = {sizeof ms, 0, 0, 0, 0, 0, 0, 0, 0};
    cr_assert(wvm_GlobalMemoryStatusEx(&ms));
    size_t too_much = (size_t)ms.ullTotalPageFile + ((size_t)1 << 30);
    cr_assert_null(wvm_VirtualAllocExNuma(SELF, p, too_much, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                                          WVM_PAGE_READWRITE, 0));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_COMMITMENT_LIMIT);
    char *q = wvm_VirtualAlloc(p, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert_eq(q, p);
    int node;
    cr_assert_eq(policy(q, &node), MPOL_DEFAULT);
}

/* VirtualAlloc2 with MemExtendedParameterNumaNode: every node this process may allocate from
 * is the new allocation's preferred node (as VirtualAllocExNuma's), with address requirements
 * too; a node it cannot use is ERROR_INVALID_PARAMETER and leaves nothing behind. */
static void *alloc2_node(void *at, size_t size, uint32_t type, uint64_t node, bool req)
{
    wvm_MEM_ADDRESS_REQUIREMENTS a = {0};
    wvm_MEM_EXTENDED_PARAMETER ext[2];
    memset(ext, 0, sizeof ext);
    ext[0].Type = wvm_MemExtendedParameterNumaNode;
    ext[0].ULong64 = node;
    ext[1].Type = wvm_MemExtendedParameterAddressRequirements;
    ext[1].Pointer = &a;
    return wvm_VirtualAlloc2(NULL, at, size, type, WVM_PAGE_READWRITE, ext, req ? 2 : 1);
}

Test(numa, virtualalloc2_numa_node)
{
    unsigned long allowed[16] = {0};
    cr_assert_eq(syscall(SYS_get_mempolicy, NULL, allowed, 16 * 64UL, NULL, 4 /* MEMS_ALLOWED */),
                 0);
    int high = highest_node(), tried = 0;
    for (int n = 0; n <= high; n++) {
        if (!(allowed[n / 64] >> (n % 64) & 1))
            continue;
        for (int req = 0; req < 2; req++) {
            char *p =
                alloc2_node(NULL, 0x20000, WVM_MEM_RESERVE | WVM_MEM_COMMIT, (uint64_t)n, req);
            cr_assert_not_null(p, "node %d: error %u", n, wvm_GetLastError());
            expect_mbi(p, 0x20000, WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
            int node;
            cr_assert_eq(policy(p + 0x1F000, &node), MPOL_PREFERRED);
            cr_assert_eq(node, n);
            p[0] = 1;
            cr_assert_eq(frame_node(p), n, "the page was placed on node %d", n);
            cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
            tried++;
        }
    }
    cr_assert_geq(tried, 2, "no node to allocate from");
    /* committing in an existing allocation ignores the node */
    char *r = wvm_VirtualAlloc(NULL, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert_eq(alloc2_node(r, 0x1000, WVM_MEM_COMMIT, 0, false), r);
    int node;
    cr_assert_eq(policy(r, &node), MPOL_DEFAULT);
    cr_assert_eq(alloc2_node(NULL, 0x10000, WVM_MEM_RESERVE, WVM_NUMA_NO_PREFERRED_NODE, false) !=
                     NULL,
                 true, "NUMA_NO_PREFERRED_NODE: no preference");
    const uint64_t bad[] = {(uint64_t)high + 1, 64, 1024, 0xFFFFFFFE, (uint64_t)1 << 32};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        wvm_SetLastError(0);
        cr_assert_null(alloc2_node(NULL, 0x10000, WVM_MEM_RESERVE, bad[i], false));
        cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER, "node 0x%llx",
                     (unsigned long long)bad[i]);
        cr_assert_null(alloc2_node(NULL, 0x10000, WVM_MEM_RESERVE, bad[i], true));
        cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    }
    cr_assert_null(
        alloc2_node(r + 0x10000 * 64, 0x10000, WVM_MEM_RESERVE, (uint64_t)high + 1, false),
        "the node is checked before the address");
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    cr_assert(wvm_VirtualFree(r, 0, WVM_MEM_RELEASE));
    cr_assert_eq(wvm_check_invariants(), 0);
}
