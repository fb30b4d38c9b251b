/* Assertions on every MEMORY_BASIC_INFORMATION field, for the api tier. */
#ifndef WVM_TEST_MBI_H
#define WVM_TEST_MBI_H
#include <criterion/criterion.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#define KiB ((SIZE_T)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

static inline MEMORY_BASIC_INFORMATION query(const void *p)
{
    MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(VirtualQuery(p, &m, sizeof m), sizeof m, "VirtualQuery(%p) failed: %u", p,
                 GetLastError());
    return m;
}

/* Asserts the region at p: base, allocation base, allocation protection, size, state,
 * protection, type. */
#define expect_region(p, base, abase, aprot, size, state, prot, type)                              \
    do {                                                                                           \
        MEMORY_BASIC_INFORMATION m_ = query(p);                                                    \
        cr_expect_eq(m_.BaseAddress, (void *)(base), "BaseAddress %p", m_.BaseAddress);            \
        cr_expect_eq(m_.AllocationBase, (void *)(abase), "AllocationBase %p", m_.AllocationBase);  \
        cr_expect_eq(m_.AllocationProtect, (DWORD)(aprot), "AllocationProtect %#x",                \
                     m_.AllocationProtect);                                                        \
        cr_expect_eq(m_.RegionSize, (SIZE_T)(size), "RegionSize %#zx", m_.RegionSize);             \
        cr_expect_eq(m_.State, (DWORD)(state), "State %#x", m_.State);                             \
        cr_expect_eq(m_.Protect, (DWORD)(prot), "Protect %#x", m_.Protect);                        \
        cr_expect_eq(m_.Type, (DWORD)(type), "Type %#x", m_.Type);                                 \
        cr_expect_eq(m_.PartitionId, 0);                                                           \
    } while (0)

/* Asserts a call failed with the given last error. */
#define expect_error(expr, err)                                                                    \
    do {                                                                                           \
        SetLastError(0xdeadbeef);                                                                  \
        cr_expect(!(expr), #expr " should fail");                                                  \
        cr_expect_eq(GetLastError(), (DWORD)(err), #expr ": last error %u, want %u",               \
                     GetLastError(), (unsigned)(err));                                             \
    } while (0)

static inline char *reserve(SIZE_T size)
{
    char *p = VirtualAlloc(NULL, size, MEM_RESERVE, PAGE_READWRITE);
    cr_assert_not_null(p, "reserve failed: %u", GetLastError());
    return p;
}

static inline char *reserve_commit(SIZE_T size, DWORD prot)
{
    char *p = VirtualAlloc(NULL, size, MEM_RESERVE | MEM_COMMIT, prot);
    cr_assert_not_null(p, "reserve+commit failed: %u", GetLastError());
    return p;
}
#endif
