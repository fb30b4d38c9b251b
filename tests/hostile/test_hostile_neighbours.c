/* Hostile arguments to the neighbours of VirtualAlloc (Discard, Offer/Reclaim, Prefetch,
 * QueryWorkingSetEx, the working-set sizes, VirtualAllocExNuma): wild and read-only
 * pointers, sizes near SIZE_MAX, every flag and priority bit, every bad node and handle. Rows
 * as in test_hostile.c: the canary and the counters must not move. */
#include <sys/syscall.h>
#include <unistd.h>

#include "hostile_rows.h"

TestSuite(hostile_neighbours, .init = setup);

static const HANDLE wild_handles[] = {NULL, (HANDLE)(intptr_t)-2,         (HANDLE)(intptr_t)-3,
                                      WILD, (HANDLE)(intptr_t)0x7FFFFFFF, (HANDLE)(intptr_t)4};

/* A call that returns its error (Discard, Offer, Reclaim) and must not touch the last error. */
#define ROWC(what, call, want_err)                                                                 \
    do {                                                                                           \
        SetLastError(0xdead);                                                                      \
        DWORD r_ = (call);                                                                         \
        cr_expect_eq(GetLastError(), 0xdead, "%s: changed the last error", what);                  \
        row(what, r_ == ERROR_SUCCESS, r_, (want_err) == ERROR_SUCCESS, (want_err));               \
    } while (0)

static const struct range {
    const char *what;
    void *addr;
    SIZE_T size;
    DWORD err; /* Discard/Offer (Reclaim: the same but read-only pages are fine) */
} ranges[] = {
    {"size 0", NULL, 0, ERROR_INVALID_PARAMETER},
    {"size SIZE_MAX", NULL, SIZE_MAX, ERROR_INVALID_PARAMETER},
    {"size SIZE_MAX-PG+1", NULL, SIZE_MAX - PG + 1, ERROR_INVALID_PARAMETER},
    {"size 1", NULL, 1, ERROR_INVALID_PARAMETER},
    {"size PG+1", NULL, PG + 1, ERROR_INVALID_PARAMETER},
    {"unaligned", (void *)1, PG, ERROR_INVALID_PARAMETER},
    {"NULL", (void *)-1, PG, ERROR_INVALID_ADDRESS}, /* (void *)-1: the NULL row, see below */
    {"wild", WILD, PG, ERROR_INVALID_ADDRESS},
    {"above max", (void *)0x800000000000, PG, ERROR_INVALID_PARAMETER},
    {"kernel", (void *)0xFFFF800000000000, PG, ERROR_INVALID_PARAMETER},
    {"last user page", (void *)(MAXU - 0xFFF), PG, ERROR_INVALID_ADDRESS},
    {"crosses max", (void *)(MAXU - 0xFFF), 2 * PG, ERROR_INVALID_PARAMETER},
    {"overflows", (void *)0x7FF000000000, (SIZE_T)0 - 0x7FF000000000, ERROR_INVALID_PARAMETER},
};

/* The canary-relative rows: read-only pages, reserved pages, past the end. */
static void canary_rows(const char *fn, DWORD (*call)(void *, SIZE_T), DWORD readonly_err)
{
    char what[96];
    snprintf(what, sizeof what, "%s(canary read-only pages)", fn);
    ROWC(what, call(canary + 4 * PG, 2 * PG), readonly_err);
    snprintf(what, sizeof what, "%s(canary reserved pages)", fn);
    ROWC(what, call(canary + 6 * PG, PG), ERROR_INVALID_ADDRESS);
    snprintf(what, sizeof what, "%s(canary whole)", fn);
    ROWC(what, call(canary, 16 * PG),
         readonly_err == ERROR_SUCCESS ? ERROR_INVALID_ADDRESS : readonly_err);
    snprintf(what, sizeof what, "%s(canary past the end)", fn);
    ROWC(what, call(canary + 15 * PG, 2 * PG), ERROR_INVALID_ADDRESS);
    snprintf(what, sizeof what, "%s(canary, SIZE_MAX)", fn);
    ROWC(what, call(canary, SIZE_MAX - PG + 1), ERROR_INVALID_PARAMETER);
    for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) {
        void *addr = ranges[i].addr == (void *)-1 ? NULL : ranges[i].addr;
        if (!addr && ranges[i].addr != (void *)-1)
            addr = canary; /* the size rows use the canary */
        snprintf(what, sizeof what, "%s(%s)", fn, ranges[i].what);
        ROWC(what, call(addr, ranges[i].size), ranges[i].err);
    }
}

static DWORD discard(void *a, SIZE_T s)
{
    return DiscardVirtualMemory(a, s);
}

static DWORD offer(void *a, SIZE_T s)
{
    return OfferVirtualMemory(a, s, VmOfferPriorityNormal);
}

static DWORD reclaim(void *a, SIZE_T s)
{
    return ReclaimVirtualMemory(a, s);
}

Test(hostile_neighbours, discard_offer_reclaim_ranges)
{
    canary_rows("DiscardVirtualMemory", discard, ERROR_INVALID_PARAMETER);
    canary_rows("OfferVirtualMemory", offer, ERROR_INVALID_PARAMETER);
    canary_rows("ReclaimVirtualMemory", reclaim, ERROR_SUCCESS);
}

Test(hostile_neighbours, offer_every_priority)
{
    for (int b = -1; b < 32; b++) {
        DWORD prio = b < 0 ? 0 : 1u << b;
        for (DWORD v = prio; v <= prio + 4 && v >= prio; v++) {
            char what[64];
            snprintf(what, sizeof what, "OfferVirtualMemory(read-only pages, priority %#x)", v);
            /* valid priorities reach the range check: read-only pages are refused */
            ROWC(what, OfferVirtualMemory(canary + 4 * PG, PG, (OFFER_PRIORITY)v),
                 ERROR_INVALID_PARAMETER);
            snprintf(what, sizeof what, "OfferVirtualMemory(reserved, priority %#x)", v);
            ROWC(what, OfferVirtualMemory(canary + 6 * PG, PG, (OFFER_PRIORITY)v),
                 v >= 1 && v <= 4 ? ERROR_INVALID_ADDRESS : ERROR_INVALID_PARAMETER);
        }
    }
}

Test(hostile_neighbours, prefetch)
{
    WIN32_MEMORY_RANGE_ENTRY ok = {canary, 16 * PG};
    for (size_t i = 0; i < sizeof wild_handles / sizeof *wild_handles; i++)
        ROW("PrefetchVirtualMemory(wild handle)", PrefetchVirtualMemory(wild_handles[i], 1, &ok, 0),
            0, ERROR_INVALID_HANDLE);
    for (int b = 0; b < 32; b++) {
        char what[64];
        snprintf(what, sizeof what, "PrefetchVirtualMemory(flags %#x)", 1u << b);
        ROW(what, PrefetchVirtualMemory(GetCurrentProcess(), 1, &ok, 1u << b), 0,
            ERROR_INVALID_PARAMETER);
    }
    ROW("PrefetchVirtualMemory(0 entries)", PrefetchVirtualMemory(GetCurrentProcess(), 0, &ok, 0),
        0, ERROR_INVALID_PARAMETER);
    ROW("PrefetchVirtualMemory(NULL array)", PrefetchVirtualMemory(GetCurrentProcess(), 1, NULL, 0),
        0, ERROR_NOACCESS);
    ROW("PrefetchVirtualMemory(wild array)",
        PrefetchVirtualMemory(GetCurrentProcess(), 1, (PWIN32_MEMORY_RANGE_ENTRY)WILD, 0), 0,
        ERROR_NOACCESS);
    ROW("PrefetchVirtualMemory(array in reserved pages)",
        PrefetchVirtualMemory(GetCurrentProcess(), 1,
                              (PWIN32_MEMORY_RANGE_ENTRY)(void *)(canary + 6 * PG), 0),
        0, ERROR_NOACCESS);
    /* the last entry of the canary's readable pages, reserved pages after it */
    PWIN32_MEMORY_RANGE_ENTRY last = (PWIN32_MEMORY_RANGE_ENTRY)(void *)(canary + 6 * PG) - 1;
    ROW("PrefetchVirtualMemory(ULONG_PTR_MAX entries)",
        PrefetchVirtualMemory(GetCurrentProcess(), (ULONG_PTR)-1, last, 0), 0, ANY);
    WIN32_MEMORY_RANGE_ENTRY bad[] = {{(void *)(MAXU - 0xFFF), 2 * PG},
                                      {(void *)0x800000000000, PG},
                                      {(void *)0xFFFF800000000000, PG},
                                      {canary, SIZE_MAX},
                                      {(void *)UINTPTR_MAX, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ROW("PrefetchVirtualMemory(range past the user address space)",
            PrefetchVirtualMemory(GetCurrentProcess(), 1, &bad[i], 0), 0, ERROR_INVALID_PARAMETER);
    WIN32_MEMORY_RANGE_ENTRY empty[] = {{canary, 16 * PG}, {WILD, 0}};
    ROW("PrefetchVirtualMemory(an entry of zero bytes)",
        PrefetchVirtualMemory(GetCurrentProcess(), 2, empty, 0), 0, ERROR_INVALID_PARAMETER);
    WIN32_MEMORY_RANGE_ENTRY fine[] = {{canary, 16 * PG}, {NULL, PG}, {NULL, 0x10000}};
    ROW("PrefetchVirtualMemory(canary, page 0, the null granule)",
        PrefetchVirtualMemory(GetCurrentProcess(), 3, fine, 0), 1, 0);
}

Test(hostile_neighbours, query_working_set_ex)
{
    PSAPI_WORKING_SET_EX_INFORMATION e[4] = {
        {canary, {0}}, {(void *)0xFFFF800000000000, {0}}, {(void *)UINTPTR_MAX, {0}}, {NULL, {0}}};
    for (size_t i = 0; i < sizeof wild_handles / sizeof *wild_handles; i++)
        ROW("QueryWorkingSetEx(wild handle)", QueryWorkingSetEx(wild_handles[i], e, sizeof e), 0,
            ERROR_INVALID_HANDLE);
    for (DWORD cb = 0; cb < sizeof *e; cb++)
        ROW("QueryWorkingSetEx(cb < one entry)", QueryWorkingSetEx(GetCurrentProcess(), e, cb), 0,
            ERROR_BAD_LENGTH);
    ROW("QueryWorkingSetEx(NULL)", QueryWorkingSetEx(GetCurrentProcess(), NULL, sizeof *e), 0,
        ERROR_NOACCESS);
    ROW("QueryWorkingSetEx(wild)", QueryWorkingSetEx(GetCurrentProcess(), WILD, sizeof *e), 0,
        ERROR_NOACCESS);
    ROW("QueryWorkingSetEx(read-only buffer)",
        QueryWorkingSetEx(GetCurrentProcess(), canary + 4 * PG, sizeof *e), 0, ERROR_NOACCESS);
    ROW("QueryWorkingSetEx(reserved buffer)",
        QueryWorkingSetEx(GetCurrentProcess(), canary + 6 * PG, sizeof *e), 0, ERROR_NOACCESS);
    /* a cb larger than the buffer: the entries past the committed page cannot be read */
    char *page = VirtualAlloc(NULL, 2 * PG, MEM_RESERVE, PAGE_READWRITE);
    cr_assert(VirtualAlloc(page, PG, MEM_COMMIT, PAGE_READWRITE));
    PSAPI_WORKING_SET_EX_INFORMATION *tail = (PSAPI_WORKING_SET_EX_INFORMATION *)(page + PG) - 4;
    memcpy(tail, e, sizeof e);
    take(&before); /* the counters now include that page */
    ROW("QueryWorkingSetEx(cb DWORD_MAX)",
        QueryWorkingSetEx(GetCurrentProcess(), tail, 0xFFFFFFFFu), 0, ERROR_NOACCESS);
    cr_expect_eq(tail[0].VirtualAttributes.Flags, 0, "nothing written when the read failed");
    VirtualFree(page, 0, MEM_RELEASE);
    take(&before);
    ROW("QueryWorkingSetEx(wild addresses)", QueryWorkingSetEx(GetCurrentProcess(), e, sizeof e), 1,
        0);
    cr_expect_eq(e[1].VirtualAttributes.Flags | e[2].VirtualAttributes.Flags |
                     e[3].VirtualAttributes.Flags,
                 0, "addresses outside the user address space are nothing");
}

Test(hostile_neighbours, working_set_sizes)
{
    SIZE_T mn, mx;
    DWORD fl;
    for (size_t i = 0; i < sizeof wild_handles / sizeof *wild_handles; i++) {
        ROW("GetProcessWorkingSetSize(wild handle)",
            GetProcessWorkingSetSize(wild_handles[i], &mn, &mx), 0, ERROR_INVALID_HANDLE);
        ROW("SetProcessWorkingSetSize(wild handle)",
            SetProcessWorkingSetSize(wild_handles[i], 1 << 20, 2 << 20), 0, ERROR_INVALID_HANDLE);
    }
    ROW("GetProcessWorkingSetSize(wild min)",
        GetProcessWorkingSetSize(GetCurrentProcess(), (PSIZE_T)WILD, &mx), 0, ERROR_NOACCESS);
    ROW("GetProcessWorkingSetSizeEx(read-only flags)",
        GetProcessWorkingSetSizeEx(GetCurrentProcess(), &mn, &mx,
                                   (PDWORD)(void *)(canary + 4 * PG)),
        0, ERROR_NOACCESS);
    const SIZE_T sizes[][2] = {{0, 0},
                               {1, SIZE_MAX},
                               {SIZE_MAX, 0},
                               {SIZE_MAX - 1, SIZE_MAX},
                               {SIZE_MAX, SIZE_MAX - 1},
                               {0, SIZE_MAX},
                               {1 << 20, 12 * PG},
                               {(SIZE_T)1 << 62, (SIZE_T)1 << 63}};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        ROW("SetProcessWorkingSetSize(hostile sizes)",
            SetProcessWorkingSetSize(GetCurrentProcess(), sizes[i][0], sizes[i][1]), 0,
            ERROR_INVALID_PARAMETER);
    for (int b = 4; b < 32; b++)
        ROW("SetProcessWorkingSetSizeEx(unknown flag)",
            SetProcessWorkingSetSizeEx(GetCurrentProcess(), 1 << 20, 2 << 20, 1u << b), 0,
            ERROR_INVALID_PARAMETER);
    ROW("GetProcessWorkingSetSizeEx",
        GetProcessWorkingSetSizeEx(GetCurrentProcess(), &mn, &mx, &fl), 1, 0);
}

static long highest_node(void)
{
    unsigned long mask[16] = {0};
    if (syscall(SYS_get_mempolicy, NULL, mask, 16 * 64UL, NULL, 4 /* MEMS_ALLOWED */))
        return 0;
    long high = 0;
    for (long i = 0; i < 16 * 64; i++)
        if (mask[i / 64] >> (i % 64) & 1)
            high = i;
    return high;
}

Test(hostile_neighbours, virtual_alloc_ex_numa)
{
    for (size_t i = 0; i < sizeof wild_handles / sizeof *wild_handles; i++)
        ROW("VirtualAllocExNuma(wild handle)",
            VirtualAllocExNuma(wild_handles[i], NULL, PG, MEM_RESERVE, 4, 0) != NULL, 0,
            ERROR_INVALID_HANDLE);
    const DWORD nodes[] = {(DWORD)highest_node() + 1, 64, 1024, 0x80000000u, 0xFFFFFFFEu};
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++)
        ROW("VirtualAllocExNuma(bad node)",
            VirtualAllocExNuma(GetCurrentProcess(), NULL, PG, MEM_RESERVE, 4, nodes[i]) != NULL, 0,
            ERROR_INVALID_PARAMETER);
    ROW("VirtualAllocExNuma(size SIZE_MAX)",
        VirtualAllocExNuma(GetCurrentProcess(), NULL, SIZE_MAX, MEM_RESERVE, 4, 0) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAllocExNuma(prot 0)",
        VirtualAllocExNuma(GetCurrentProcess(), NULL, PG, MEM_RESERVE, 0, 0) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAllocExNuma(type all bits)",
        VirtualAllocExNuma(GetCurrentProcess(), NULL, PG, 0xFFFFFFFF, 4, 0) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAllocExNuma(over the canary)",
        VirtualAllocExNuma(GetCurrentProcess(), canary, PG, MEM_RESERVE, 4, 0) != NULL, 0,
        ERROR_INVALID_ADDRESS);
    ROW("VirtualAllocExNuma(past the canary's end)",
        VirtualAllocExNuma(GetCurrentProcess(), canary + 15 * PG, 2 * PG, MEM_COMMIT, 4, 0) != NULL,
        0, ERROR_INVALID_ADDRESS);
    ROW("VirtualAllocExNuma(above max)",
        VirtualAllocExNuma(GetCurrentProcess(), (void *)0x800000000000, PG, MEM_RESERVE, 4, 0) !=
            NULL,
        0, ERROR_INVALID_PARAMETER);
}
