/* Hostile arguments to every exported function: NULL and wild out-pointers, base + size
 * overflowing, sizes near SIZE_MAX, every flag bit, every protection value 0..0xFFFF. Each row
 * names the expected result and error (doc/windows-semantics.md; ANY where no source gives the
 * error: then only the failure is asserted). After every row, a canary allocation (mixed states,
 * known contents) and the library's counters must be exactly as before. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>
#include "skip.h"

#include "hostile_rows.h"

TestSuite(hostile, .init = setup);

/* ---- VirtualAlloc ---------------------------------------------------------------------------- */

/* Windows' rule for a protection (doc/windows-semantics.md, NT MiMakeProtectionMask): exactly
 * one base value; GUARD, NOCACHE, WRITECOMBINE at most one of them and never with NOACCESS;
 * WRITECOPY values invalid for private memory; nothing else. */
static int prot_valid(unsigned p)
{
    unsigned base = p & 0xFF, mods = p & 0x700;
    if (p & ~0x7FFu)
        return 0;
    if (base != 1 && base != 2 && base != 4 && base != 0x10 && base != 0x20 && base != 0x40)
        return 0;
    if (mods && (base == 1 || (mods & (mods - 1))))
        return 0;
    return 1;
}

Test(hostile, alloc_every_protection)
{
    for (unsigned p = 0; p <= 0xFFFF; p++) {
        SetLastError(0xdead);
        void *r = VirtualAlloc(NULL, PG, MEM_RESERVE | MEM_COMMIT, p);
        DWORD e = GetLastError();
        if (r)
            VirtualFree(r, 0, MEM_RELEASE);
        char what[64];
        snprintf(what, sizeof what, "VirtualAlloc(NULL, 4K, RESERVE|COMMIT, 0x%x)", p);
        if (!!r != prot_valid(p) || (!r && e != ERROR_INVALID_PARAMETER))
            row(what, !!r, e, prot_valid(p), ERROR_INVALID_PARAMETER);
    }
    row("after the protection sweep", 1, 0, 1, 0);
}

Test(hostile, alloc_every_type_bit)
{
    static const DWORD ok_with_reserve =
        MEM_COMMIT | MEM_RESERVE | MEM_TOP_DOWN | MEM_WRITE_WATCH | MEM_PHYSICAL;
    for (int b = 0; b < 32; b++) {
        DWORD t = MEM_RESERVE | (1u << b);
        SetLastError(0xdead);
        void *r = VirtualAlloc(NULL, 16 * PG, t, PAGE_READWRITE);
        DWORD e = GetLastError();
        if (r)
            VirtualFree(r, 0, MEM_RELEASE);
        int want = !!(ok_with_reserve & (1u << b));
        /* PHYSICAL needs the kernel's UFFDIO_MOVE or a memfd; ERROR_NOT_SUPPORTED otherwise */
        if ((1u << b) == MEM_PHYSICAL && !r && e == ERROR_NOT_SUPPORTED)
            continue;
        char what[64];
        snprintf(what, sizeof what, "VirtualAlloc(NULL, 64K, RESERVE|0x%x, RW)", 1u << b);
        row(what, !!r, e, want, ERROR_INVALID_PARAMETER);
    }
}

Test(hostile, alloc_sizes_and_addresses)
{
    ROW("VirtualAlloc size SIZE_MAX", VirtualAlloc(NULL, SIZE_MAX, MEM_RESERVE, 4) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc size SIZE_MAX-0xFFFF",
        VirtualAlloc(NULL, SIZE_MAX - 0xFFFF, MEM_RESERVE, 4) != NULL, 0, ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc size 1<<47", VirtualAlloc(NULL, (size_t)1 << 47, MEM_RESERVE, 4) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc size 0", VirtualAlloc(NULL, 0, MEM_RESERVE, 4) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc addr+size overflows",
        VirtualAlloc((void *)0x7FF000000000, (size_t)0 - 0x7FF000000000, MEM_RESERVE, 4) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc 0x10000 size SIZE_MAX",
        VirtualAlloc((void *)0x10000, SIZE_MAX, MEM_RESERVE, 4) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc addr 0x1000", VirtualAlloc(WILD, PG, MEM_RESERVE, 4) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc addr 0xFFFF", VirtualAlloc((void *)0xFFFF, PG, MEM_RESERVE, 4) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc addr above max",
        VirtualAlloc((void *)0x800000000000, PG, MEM_RESERVE, 4) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc addr kernel",
        VirtualAlloc((void *)0xFFFF800000000000, PG, MEM_RESERVE, 4) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc crosses max",
        VirtualAlloc((void *)(MAXU - 0xFFF), 0x2000, MEM_RESERVE, 4) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc commit canary size SIZE_MAX",
        VirtualAlloc(canary, SIZE_MAX, MEM_COMMIT, 4) != NULL, 0, ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc commit past canary end",
        VirtualAlloc(canary + 15 * PG, 2 * PG, MEM_COMMIT, 4) != NULL, 0, ERROR_INVALID_ADDRESS);
    ROW("VirtualAlloc reserve over canary", VirtualAlloc(canary, PG, MEM_RESERVE, 4) != NULL, 0,
        ERROR_INVALID_ADDRESS);
    ROW("VirtualAlloc type 0", VirtualAlloc(NULL, PG, 0, 4) != NULL, 0, ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc type all bits", VirtualAlloc(NULL, PG, 0xFFFFFFFF, 4) != NULL, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAllocFromApp size SIZE_MAX",
        VirtualAllocFromApp(NULL, SIZE_MAX, MEM_RESERVE, 4) != NULL, 0, ERROR_INVALID_PARAMETER);
    ROW("VirtualAllocFromApp prot 0", VirtualAllocFromApp(NULL, PG, MEM_RESERVE, 0) != NULL, 0,
        ERROR_INVALID_PARAMETER);
}

/* ---- VirtualFree ----------------------------------------------------------------------------- */

Test(hostile, free_every_type_bit)
{
    for (int b = 0; b < 32; b++) {
        DWORD bit = 1u << b;
        char what[64];
        if (bit != MEM_DECOMMIT) {
            snprintf(what, sizeof what, "VirtualFree(canary+6 pages, 4K, DECOMMIT|0x%x)", bit);
            ROW(what, VirtualFree(canary + 6 * PG, PG, MEM_DECOMMIT | bit), 0,
                ERROR_INVALID_PARAMETER);
        }
        if (bit != MEM_RELEASE) {
            snprintf(what, sizeof what, "VirtualFree(canary, 0, RELEASE|0x%x)", bit);
            ROW(what, VirtualFree(canary, 0, MEM_RELEASE | bit), 0, ERROR_INVALID_PARAMETER);
        }
        snprintf(what, sizeof what, "VirtualFree(canary, 0, 0x%x)", bit);
        if (bit != MEM_DECOMMIT && bit != MEM_RELEASE)
            ROW(what, VirtualFree(canary, 0, bit), 0, ERROR_INVALID_PARAMETER);
    }
}

Test(hostile, free_sizes_and_addresses)
{
    ROW("VirtualFree RELEASE size != 0", VirtualFree(canary, PG, MEM_RELEASE), 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualFree RELEASE size SIZE_MAX", VirtualFree(canary, SIZE_MAX, MEM_RELEASE), 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualFree RELEASE not at base", VirtualFree(canary + PG, 0, MEM_RELEASE), 0,
        ERROR_INVALID_ADDRESS);
    ROW("VirtualFree DECOMMIT size SIZE_MAX", VirtualFree(canary, SIZE_MAX, MEM_DECOMMIT), 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualFree DECOMMIT size SIZE_MAX-base",
        VirtualFree(canary + PG, (size_t)0 - (uintptr_t)canary, MEM_DECOMMIT), 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualFree DECOMMIT past the end", VirtualFree(canary + 8 * PG, 16 * PG, MEM_DECOMMIT), 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualFree DECOMMIT size 0 not at base", VirtualFree(canary + PG, 0, MEM_DECOMMIT), 0,
        ERROR_INVALID_ADDRESS);
    ROW("VirtualFree NULL RELEASE", VirtualFree(NULL, 0, MEM_RELEASE), 0, ERROR_INVALID_ADDRESS);
    ROW("VirtualFree addr above max", VirtualFree((void *)0x800000000000, 0, MEM_RELEASE), 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualFree kernel addr", VirtualFree((void *)0xFFFF800000000000, PG, MEM_DECOMMIT), 0,
        ERROR_INVALID_PARAMETER);
}

/* ---- VirtualProtect ---------------------------------------------------------------------------
 */

Test(hostile, protect_every_protection)
{
    for (unsigned p = 0; p <= 0xFFFF; p++) {
        DWORD old = 0xdeadbeef;
        SetLastError(0xdead);
        BOOL r = VirtualProtect(canary, PG, p, &old);
        DWORD e = GetLastError();
        if (r && !VirtualProtect(canary, PG, PAGE_READWRITE, &old))
            cr_assert_fail("cannot restore the canary after protection 0x%x", p);
        char what[64];
        snprintf(what, sizeof what, "VirtualProtect(canary, 4K, 0x%x)", p);
        if (!!r != prot_valid(p) || (!r && e != ERROR_INVALID_PARAMETER))
            row(what, r, e, prot_valid(p), ERROR_INVALID_PARAMETER);
        else if (!r && old != 0xdeadbeef)
            cr_expect_fail("%s: failed but wrote *lpflOldProtect", what);
    }
    row("after the protection sweep", 1, 0, 1, 0);
}

Test(hostile, protect_pointers_and_sizes)
{
    DWORD old;
    ROW("VirtualProtect NULL old", VirtualProtect(canary, PG, PAGE_READONLY, NULL), 0,
        ERROR_NOACCESS);
    ROW("VirtualProtect size SIZE_MAX", VirtualProtect(canary, SIZE_MAX, PAGE_READONLY, &old), 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualProtect size 0", VirtualProtect(canary, 0, PAGE_READONLY, &old), 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualProtect reserved pages", VirtualProtect(canary + 6 * PG, PG, 4, &old), 0,
        ERROR_INVALID_ADDRESS);
    ROW("VirtualProtect committed + reserved", VirtualProtect(canary, 8 * PG, 4, &old), 0,
        ERROR_INVALID_ADDRESS);
    ROW("VirtualProtect past the end", VirtualProtect(canary, 32 * PG, 4, &old), 0,
        ERROR_INVALID_ADDRESS);
    ROW("VirtualProtect NULL address", VirtualProtect(NULL, PG, 4, &old), 0, ERROR_INVALID_ADDRESS);
    ROW("VirtualProtect above max", VirtualProtect((void *)0x800000000000, PG, 4, &old), 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualProtect WRITECOPY", VirtualProtect(canary, PG, PAGE_WRITECOPY, &old), 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualProtect EXECUTE_WRITECOPY",
        VirtualProtect(canary, PG, PAGE_EXECUTE_WRITECOPY, &old), 0, ERROR_INVALID_PARAMETER);
    ULONG oldu;
    ROW("VirtualProtectFromApp NULL old", VirtualProtectFromApp(canary, PG, 2, NULL), 0,
        ERROR_NOACCESS);
    ROW("VirtualProtectFromApp size SIZE_MAX", VirtualProtectFromApp(canary, SIZE_MAX, 2, &oldu), 0,
        ERROR_INVALID_PARAMETER);
}

/* Wild out-pointers: Windows probes them and fails with ERROR_NOACCESS; one test each, so that
 * a crash shows which. */
Test(hostile, protect_wild_old)
{
    ROW("VirtualProtect wild old", VirtualProtect(canary, PG, PAGE_READONLY, WILD), 0,
        ERROR_NOACCESS);
}

Test(hostile, protect_readonly_old)
{
    ROW("VirtualProtect old in a read-only page",
        VirtualProtect(canary, PG, PAGE_READONLY, (DWORD *)(canary + 4 * PG)), 0, ERROR_NOACCESS);
}

Test(hostile, query_wild_buffer)
{
    ROW("VirtualQuery wild buffer", VirtualQuery(canary, WILD, 48) != 0, 0, ERROR_NOACCESS);
}

Test(hostile, query_readonly_buffer)
{
    ROW("VirtualQuery read-only buffer",
        VirtualQuery(canary, (MEMORY_BASIC_INFORMATION *)(canary + 4 * PG), 48) != 0, 0,
        ERROR_NOACCESS);
}

/* ---- VirtualQuery, system information ------------------------------------------------------- */

Test(hostile, query)
{
    MEMORY_BASIC_INFORMATION m;
    ROW("VirtualQuery NULL buffer", VirtualQuery(canary, NULL, sizeof m) != 0, 0, ERROR_NOACCESS);
    ROW("VirtualQuery length 0", VirtualQuery(canary, &m, 0) != 0, 0, ERROR_BAD_LENGTH);
    ROW("VirtualQuery length 47", VirtualQuery(canary, &m, sizeof m - 1) != 0, 0, ERROR_BAD_LENGTH);
    ROW("VirtualQuery above max", VirtualQuery((void *)0x800000000000, &m, sizeof m) != 0, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualQuery SIZE_MAX address", VirtualQuery((void *)UINTPTR_MAX, &m, sizeof m) != 0, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualQuery length SIZE_MAX", VirtualQuery(canary, &m, SIZE_MAX) == sizeof m, 1, 0);
}

Test(hostile, system_information)
{
    MEMORYSTATUSEX ms;
    unsigned lens[] = {0, 1, 56, 63, 65, 0xFFFFFFFF};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memset(&ms, 0, sizeof ms);
        ms.dwLength = lens[i];
        char what[64];
        snprintf(what, sizeof what, "GlobalMemoryStatusEx dwLength %u", lens[i]);
        ROW(what, GlobalMemoryStatusEx(&ms), 0, ERROR_INVALID_PARAMETER);
    }
}

/* ---- locking, instruction cache, write watch, AWE, exception handlers ------------------------ */

Test(hostile, lock_flush_writewatch)
{
    ROW("VirtualLock NULL", VirtualLock(NULL, PG), 0, ANY);
    ROW("VirtualLock SIZE_MAX", VirtualLock(canary, SIZE_MAX), 0, ANY);
    ROW("VirtualLock reserved pages", VirtualLock(canary + 6 * PG, PG), 0, ANY);
    ROW("VirtualUnlock not locked", VirtualUnlock(canary, PG), 0, ERROR_NOT_LOCKED);
    ROW("VirtualUnlock SIZE_MAX", VirtualUnlock(canary, SIZE_MAX), 0, ANY);
    ROW("FlushInstructionCache bad handle", FlushInstructionCache(WILD, canary, PG), 0, ANY);
    ROW("FlushInstructionCache current, NULL 0",
        FlushInstructionCache(GetCurrentProcess(), NULL, 0), 1, 0);

    void *addrs[4];
    ULONG_PTR count = 4;
    ULONG gran;
    /* canary was not reserved with MEM_WRITE_WATCH: GetWriteWatch fails (non-zero) */
    ROW("GetWriteWatch on a plain allocation",
        GetWriteWatch(0, canary, PG, addrs, &count, &gran) == 0, 0, ANY);
    ROW("GetWriteWatch NULL arrays", GetWriteWatch(0, canary, PG, NULL, NULL, NULL) == 0, 0, ANY);
    ROW("GetWriteWatch bad flags", GetWriteWatch(0xFFFF, canary, PG, addrs, &count, &gran) == 0, 0,
        ANY);
    ROW("ResetWriteWatch on a plain allocation", ResetWriteWatch(canary, PG) == 0, 0, ANY);
    ROW("ResetWriteWatch SIZE_MAX", ResetWriteWatch(canary, SIZE_MAX) == 0, 0, ANY);

    char *ww =
        VirtualAlloc(NULL, 16 * PG, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    if (ww) {
        ww[0] = 1;
        take(&before);
        count = 4;
        ROW("GetWriteWatch NULL count", GetWriteWatch(0, ww, 16 * PG, addrs, NULL, &gran) == 0, 0,
            ANY);
        count = 4;
        ROW("GetWriteWatch size SIZE_MAX",
            GetWriteWatch(0, ww, SIZE_MAX, addrs, &count, &gran) == 0, 0, ANY);
        VirtualFree(ww, 0, MEM_RELEASE);
        take(&before);
        row("after write watch", 1, 0, 1, 0);
    }
}

Test(hostile, writewatch_wild_array)
{
    void *addrs[4];
    ULONG_PTR count = 4;
    ULONG gran;
    char *ww =
        VirtualAlloc(NULL, 16 * PG, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    if (!ww)
        wvm_cannot_run("MEM_WRITE_WATCH not supported here (error %lu)",
                     (unsigned long)GetLastError());
    ww[0] = 1;
    take(&before);
    ROW("GetWriteWatch wild address array", GetWriteWatch(0, ww, 16 * PG, WILD, &count, &gran) == 0,
        0, ANY);
    ROW("GetWriteWatch wild count", GetWriteWatch(0, ww, 16 * PG, addrs, WILD, &gran) == 0, 0, ANY);
    VirtualFree(ww, 0, MEM_RELEASE);
}

Test(hostile, awe_and_handlers)
{
    ULONG_PTR n = 1, pfn[2];
    ROW("AllocateUserPhysicalPages bad handle", AllocateUserPhysicalPages(WILD, &n, pfn), 0, ANY);
    ROW("AllocateUserPhysicalPages NULL count",
        AllocateUserPhysicalPages(GetCurrentProcess(), NULL, pfn), 0, ANY);
    n = 1;
    ROW("AllocateUserPhysicalPages NULL array",
        AllocateUserPhysicalPages(GetCurrentProcess(), &n, NULL), 0, ANY);
    n = (ULONG_PTR)1 << 60;
    ROW("AllocateUserPhysicalPages 2^60 pages",
        AllocateUserPhysicalPages(GetCurrentProcess(), &n, pfn), 0, ANY);
    ROW("MapUserPhysicalPages on a plain allocation", MapUserPhysicalPages(canary, 1, pfn), 0, ANY);
    ROW("MapUserPhysicalPages NULL", MapUserPhysicalPages(NULL, 1, NULL), 0, ANY);
    n = 1;
    pfn[0] = 0x123456;
    ROW("FreeUserPhysicalPages unknown frame", FreeUserPhysicalPages(GetCurrentProcess(), &n, pfn),
        0, ANY);
    ROW("FreeUserPhysicalPages NULL count", FreeUserPhysicalPages(GetCurrentProcess(), NULL, pfn),
        0, ANY);
    ROW("RemoveVectoredExceptionHandler NULL", RemoveVectoredExceptionHandler(NULL) != 0, 0, ANY);
    ROW("RemoveVectoredExceptionHandler wild", RemoveVectoredExceptionHandler(WILD) != 0, 0, ANY);
}

Test(hostile, stats)
{
    wvm_stats st;
    memset(&st, 0, sizeof st);
    st.version = 999;
    st.size = sizeof st;
    cr_expect_eq(wvm_stats_get(&st), EINVAL, "wvm_stats_get with a wrong version");
    st.version = WVM_STATS_VERSION;
    st.size = 3;
    cr_expect_eq(wvm_stats_get(&st), EINVAL, "wvm_stats_get with a wrong size");
    char buf[8];
    wvm_mechanism_explain(0xFFFFFFFF, buf, sizeof buf); /* must not crash */
    wvm_mechanism_explain(WVM_MECH_GUARD_MARKERS, buf, 0);
    row("after stats", 1, 0, 1, 0);
}
