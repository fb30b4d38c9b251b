/* The core's byte-range operations (core/range.h) with accounting: owner tags, the commit
 * limit of one call, the bytes each call committed or released, and "foreign" (not this
 * owner's allocation) told apart from the owner's own range errors. */
#include <criterion/criterion.h>
#include <stdint.h>

#include <winvmem/vm.h>

#include "core/range.h"

#define PG  ((uintptr_t)WVM_PAGE)
#define MiB ((size_t)1 << 20)

static wvm_acct acct_of(uintptr_t owner)
{
    return (wvm_acct){.owner = owner, .max_commit = UINT64_MAX};
}

static uint64_t committed_at(uintptr_t base)
{
    wvm_alloc *a = wvm__space_acquire(base);
    cr_assert(a);
    uint64_t n = wvm__alloc_snap(a)->committed;
    wvm__space_unlock(a);
    return n;
}

Test(range, reserve_commit_decommit_release_count_bytes)
{
    uintptr_t base;
    wvm_acct acct = acct_of(0x1234);
    cr_assert_eq(
        wvm__range_reserve(0, MiB, WVM_MEM_RESERVE, WVM_PAGE_READWRITE, 0, NULL, &acct, &base), 0);
    cr_expect_eq(acct.reserved, MiB);
    cr_expect_eq(acct.committed, 0);
    cr_assert_eq(wvm__range_commit(base + 4 * PG, base + 8 * PG, WVM_PAGE_READWRITE, &acct), 0);
    cr_expect_eq(acct.committed, 4 * PG);
    /* half of it committed already: only the fresh pages count */
    cr_assert_eq(wvm__range_commit(base + 6 * PG, base + 10 * PG, WVM_PAGE_READONLY, &acct), 0);
    cr_expect_eq(acct.committed, 2 * PG);
    cr_assert_eq(wvm__range_decommit(base + 5 * PG, base + 7 * PG, &acct), 0);
    cr_expect_eq(acct.committed, 2 * PG);
    cr_expect_eq(committed_at(base), 4);
    cr_assert_eq(wvm__range_release(base, &acct), 0);
    cr_expect_eq(acct.reserved, MiB);
    cr_expect_eq(acct.committed, 4 * PG);
    cr_expect(!acct.foreign);
}

Test(range, commit_limit_of_one_call_changes_nothing)
{
    uintptr_t base;
    wvm_acct acct = acct_of(7);
    cr_assert_eq(
        wvm__range_reserve(0, MiB, WVM_MEM_RESERVE, WVM_PAGE_READWRITE, 0, NULL, &acct, &base), 0);
    acct.max_commit = 3 * PG;
    cr_expect_eq(wvm__range_commit(base, base + 4 * PG, WVM_PAGE_READWRITE, &acct),
                 WVM_ERROR_COMMITMENT_LIMIT);
    cr_expect_eq(acct.committed, 4 * PG, "the bytes the call would have committed");
    cr_expect_eq(committed_at(base), 0);
    cr_expect_eq(wvm__range_commit(base, base + 3 * PG, WVM_PAGE_READWRITE, &acct), 0);
    cr_expect_eq(committed_at(base), 3);
    /* reserve + commit over the limit: nothing is made */
    uintptr_t other = 0;
    cr_expect_eq(wvm__range_reserve(0, MiB, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE,
                                    WVM_PAGE_READWRITE, NULL, &acct, &other),
                 WVM_ERROR_COMMITMENT_LIMIT);
    cr_expect_eq(other, 0);
    acct.max_commit = UINT64_MAX;
    cr_expect_eq(wvm__range_release(base, &acct), 0);
}

Test(range, another_owner_is_foreign_own_errors_are_not)
{
    uintptr_t base;
    wvm_acct mine = acct_of(1), theirs = acct_of(2);
    cr_assert_eq(
        wvm__range_reserve(0, MiB, WVM_MEM_RESERVE, WVM_PAGE_READWRITE, 0, NULL, &mine, &base), 0);
    cr_expect_eq(wvm__range_commit(base, base + PG, WVM_PAGE_READWRITE, &theirs),
                 WVM_ERROR_INVALID_ADDRESS);
    cr_expect(theirs.foreign);
    cr_expect_eq(wvm__range_decommit(base, 0, &theirs), WVM_ERROR_INVALID_ADDRESS);
    cr_expect(theirs.foreign);
    cr_expect_eq(wvm__range_release(base, &theirs), WVM_ERROR_INVALID_ADDRESS);
    cr_expect(theirs.foreign);
    /* an untagged call acts on any allocation */
    cr_expect_eq(wvm__range_commit(base, base + PG, WVM_PAGE_READWRITE, NULL), 0);
    /* the owner's own errors: past the end, not the first page, not the base */
    cr_expect_eq(wvm__range_commit(base + MiB - PG, base + MiB + PG, WVM_PAGE_READWRITE, &mine),
                 WVM_ERROR_INVALID_ADDRESS);
    cr_expect(!mine.foreign);
    cr_expect_eq(wvm__range_decommit(base + PG, 0, &mine), WVM_ERROR_INVALID_ADDRESS);
    cr_expect(!mine.foreign);
    cr_expect_eq(wvm__range_decommit(base, base + MiB + PG, &mine), WVM_ERROR_INVALID_PARAMETER);
    cr_expect(!mine.foreign);
    cr_expect_eq(wvm__range_release(base + PG, &mine), WVM_ERROR_INVALID_ADDRESS);
    cr_expect(!mine.foreign);
    cr_expect_eq(wvm__range_release(base, &mine), 0);
}

Test(range, protect_and_lock_ranges)
{
    uintptr_t base;
    uint32_t old = 0;
    cr_assert_eq(
        wvm__range_reserve(0, MiB, WVM_MEM_RESERVE, WVM_PAGE_READWRITE, 0, NULL, NULL, &base), 0);
    cr_assert_eq(wvm__range_commit(base, base + 2 * PG, WVM_PAGE_READWRITE, NULL), 0);
    cr_expect_eq(wvm__range_protect(base, base + 3 * PG, WVM_PAGE_READONLY, &old),
                 WVM_ERROR_INVALID_ADDRESS, "an uncommitted page in the range");
    cr_expect_eq(wvm__range_protect(base, base + 2 * PG, WVM_PAGE_WRITECOPY, &old),
                 WVM_ERROR_INVALID_PARAMETER);
    cr_expect_eq(wvm__range_protect(base, base + 2 * PG, WVM_PAGE_READONLY, &old), 0);
    cr_expect_eq(old, WVM_PAGE_READWRITE);
    cr_expect_eq(wvm__range_lock(base + 2 * PG, base + 3 * PG, true), WVM_ERROR_NOACCESS);
    cr_expect_eq(wvm__range_lock(base + MiB - PG, base + MiB + PG, true),
                 WVM_ERROR_INVALID_ADDRESS);
    cr_expect_eq(wvm__range_release(base, NULL), 0);
    /* free space in winvmem's arena: free address space, as at NULL (nothing is locked
     * there: mlock's partial ENOMEM would leave VM_LOCKED behind; lin's findings a, b) */
    cr_expect_eq(wvm__range_lock(base, base + PG, true), WVM_ERROR_NOACCESS);
    cr_expect_eq(wvm__range_lock(base, base + PG, false), WVM_ERROR_NOACCESS);
}

Test(range, snapshot_predicates)
{
    uintptr_t base;
    cr_assert_eq(
        wvm__range_reserve(0, 4 * MiB, WVM_MEM_RESERVE, WVM_PAGE_READWRITE, 0, NULL, NULL, &base),
        0);
    cr_assert_eq(wvm__range_commit(base + 600 * PG, base + 700 * PG, WVM_PAGE_READWRITE, NULL), 0);
    wvm_alloc *a = wvm__space_acquire(base);
    const wvm_snap *s = wvm__alloc_snap(a);
    cr_expect_eq(wvm__snap_count(s, 0, 1024, WVM_COMMITTED), 100);
    cr_expect_eq(wvm__snap_count(s, 650, 100, WVM_UNCOMMITTED), 50);
    cr_expect(wvm__snap_any(s, 0, 601, WVM_COMMITTED));
    cr_expect(!wvm__snap_any(s, 0, 600, WVM_COMMITTED));
    cr_expect(!wvm__snap_any(s, 600, 100, WVM_UNCOMMITTED));
    cr_expect(!wvm__snap_any(s, 0, 1024, WVM_LOCKED));
    wvm__space_unlock(a);
    cr_expect_eq(wvm__range_release(base, NULL), 0);
}
