/* Compiles the Windows names of winvmem/win32.h that porting code reaches for, with -Werror, as
 * C and as C++ on Linux and, with mingw-w64, as C against the real <windows.h> (ctest
 * api_win32_names_*): the same source must mean the same on both. The printf formats are the
 * portable ones doc/porting.md recommends. Running it checks a few values. */
#include <stdio.h>
#include <winvmem/win32.h>

#ifdef __cplusplus
#define STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/* the widths of Windows x64 (LLP64) */
STATIC_ASSERT(sizeof(BYTE) == 1 && sizeof(BOOLEAN) == 1 && sizeof(WORD) == 2, "8/16 bits");
STATIC_ASSERT(sizeof(DWORD) == 4 && sizeof(LONG) == 4 && sizeof(ULONG) == 4, "DWORD, LONG");
STATIC_ASSERT(sizeof(BOOL) == 4 && sizeof(UINT) == 4 && sizeof(INT) == 4, "BOOL, UINT");
STATIC_ASSERT(sizeof(ULONGLONG) == 8 && sizeof(DWORDLONG) == 8 && sizeof(LONGLONG) == 8, "64");
STATIC_ASSERT(sizeof(DWORD64) == 8 && sizeof(ULONG64) == 8, "DWORD64, ULONG64");
STATIC_ASSERT(sizeof(SIZE_T) == 8 && sizeof(ULONG_PTR) == 8 && sizeof(DWORD_PTR) == 8, "ptr");
STATIC_ASSERT(sizeof(INT_PTR) == 8 && sizeof(UINT_PTR) == 8 && sizeof(LONG_PTR) == 8, "ptr");
STATIC_ASSERT(sizeof(HANDLE) == 8 && sizeof(LPVOID) == 8, "pointers");
STATIC_ASSERT((INT_PTR)-1 < 0 && (LONG_PTR)-1 < 0 && (UINT_PTR)-1 > 0, "signedness");
STATIC_ASSERT((ULONGLONG)-1 > 0 && (LONGLONG)-1 < 0 && (DWORD)-1 > 0 && (LONG)-1 < 0, "sign");
/* the SDK's structures, byte for byte */
STATIC_ASSERT(sizeof(MEMORY_BASIC_INFORMATION) == 48, "MEMORY_BASIC_INFORMATION");
STATIC_ASSERT(sizeof(SYSTEM_INFO) == 48, "SYSTEM_INFO");
STATIC_ASSERT(sizeof(MEMORYSTATUSEX) == 64, "MEMORYSTATUSEX");
STATIC_ASSERT(offsetof(SYSTEM_INFO, dwPageSize) == 4, "SYSTEM_INFO.dwPageSize");
STATIC_ASSERT(offsetof(SYSTEM_INFO, dwAllocationGranularity) == 40, "dwAllocationGranularity");
STATIC_ASSERT(offsetof(MEMORYSTATUSEX, ullAvailExtendedVirtual) == 56, "ullAvailExtended...");
STATIC_ASSERT(offsetof(MEMORY_BASIC_INFORMATION, RegionSize) == 24, "RegionSize");
STATIC_ASSERT(sizeof(WIN32_MEMORY_RANGE_ENTRY) == 16, "WIN32_MEMORY_RANGE_ENTRY");
STATIC_ASSERT(sizeof(PSAPI_WORKING_SET_EX_BLOCK) == 8, "PSAPI_WORKING_SET_EX_BLOCK");
STATIC_ASSERT(sizeof(PSAPI_WORKING_SET_EX_INFORMATION) == 16, "PSAPI_WORKING_SET_EX_INFO...");
STATIC_ASSERT(offsetof(PSAPI_WORKING_SET_EX_INFORMATION, VirtualAttributes) == 8, "Attributes");
STATIC_ASSERT(sizeof(SECURITY_ATTRIBUTES) == 24, "SECURITY_ATTRIBUTES");
#ifndef _WIN32 /* mingw-w64's headers of Debian 12 may lack VirtualAlloc2's types */
STATIC_ASSERT(sizeof(MEM_EXTENDED_PARAMETER) == 16, "MEM_EXTENDED_PARAMETER");
STATIC_ASSERT(sizeof(MEM_ADDRESS_REQUIREMENTS) == 24, "MEM_ADDRESS_REQUIREMENTS");
#endif

/* every pointer typedef names the type it points to */
static void pointer_types(void)
{
    BYTE b = 0;
    DWORD d = 0;
    SIZE_T s = 0;
    BOOLEAN flag = 0;
    ULONG_PTR up = 0;
    ULONGLONG ull = 0;
    HANDLE h = NULL;
    MEMORYSTATUSEX ms;
    PBYTE pb = &b;
    LPBYTE lpb = pb;
    LPDWORD lpd = &d;
    PDWORD pd = lpd;
    PSIZE_T ps = &s;
    PBOOLEAN pf = &flag;
    PULONG_PTR pup = &up;
    PULONGLONG pull = &ull;
    PHANDLE ph = &h;
    LPMEMORYSTATUSEX lpms = &ms;
#ifndef _WIN32
    PMEMORYSTATUSEX pms = lpms; /* winvmem's addition: the SDK has only LPMEMORYSTATUSEX */
    (void)pms;
#endif
    (void)lpb, (void)pd, (void)ps, (void)pf, (void)pup, (void)pull, (void)ph, (void)lpms;
}

/* The neighbours of VirtualAlloc that Wine 8 implements: run on both sides. */
static int working_set(char *p)
{
    p[0] = 1;
    PSAPI_WORKING_SET_EX_INFORMATION wi[2];
    ZeroMemory(wi, sizeof wi);
    wi[0].VirtualAddress = p;
    wi[1].VirtualAddress = p + 0x1000;
    BOOL q = QueryWorkingSetEx(GetCurrentProcess(), wi, sizeof wi);
    PSAPI_WORKING_SET_EX_BLOCK b = wi[0].VirtualAttributes;
    WIN32_MEMORY_RANGE_ENTRY r;
    r.VirtualAddress = p;
    r.NumberOfBytes = 0x1000;
    BOOL pf = PrefetchVirtualMemory(GetCurrentProcess(), 1, &r, 0);
    SIZE_T mn = 0, mx = 0;
    DWORD fl = 0;
    BOOL ws = GetProcessWorkingSetSizeEx(GetCurrentProcess(), &mn, &mx, &fl) &&
              GetProcessWorkingSetSize(GetCurrentProcess(), &mn, &mx);
    void *numa = VirtualAllocExNuma(GetCurrentProcess(), NULL, 0x10000, MEM_RESERVE | MEM_COMMIT,
                                    PAGE_READWRITE, NUMA_NO_PREFERRED_NODE);
    printf("working set: valid %u protection %#x shared %u/%u, prefetch %d, sizes %llu..%llu "
           "flags %#lx, numa %p\n",
           (unsigned)b.Valid, (unsigned)b.Win32Protection, (unsigned)b.Shared,
           (unsigned)wi[1].VirtualAttributes.Invalid.Shared, pf, (unsigned long long)mn,
           (unsigned long long)mx, (unsigned long)fl, numa);
    int good = q && b.Valid && b.Win32Protection == PAGE_READWRITE && !b.Shared &&
               !wi[1].VirtualAttributes.Valid && pf && ws && mn > 0 && mx >= mn && numa &&
               (fl & (QUOTA_LIMITS_HARDWS_MIN_ENABLE | QUOTA_LIMITS_HARDWS_MIN_DISABLE)) &&
               VirtualFree(numa, 0, MEM_RELEASE);
    return good;
}

/* The ones Wine 8 lacks (its stubs abort): compiled on both sides, run by winvmem only. */
static int offer_and_discard(char *p)
{
    DWORD d = DiscardVirtualMemory(p, 0x1000);
    DWORD o = OfferVirtualMemory(p, 0x1000, VmOfferPriorityNormal);
    DWORD r = ReclaimVirtualMemory(p, 0x1000);
    BOOL trim = SetProcessWorkingSetSize(GetCurrentProcess(), (SIZE_T)-1, (SIZE_T)-1);
    BOOL hard = SetProcessWorkingSetSizeEx(GetCurrentProcess(), 1 << 20, 2 << 20,
                                           QUOTA_LIMITS_HARDWS_MAX_ENABLE);
    printf("discard %lu offer %lu reclaim %lu (busy is %lu), trim %d, hard limit %d\n",
           (unsigned long)d, (unsigned long)o, (unsigned long)r, (unsigned long)ERROR_BUSY, trim,
           hard);
    return d == ERROR_SUCCESS && o == ERROR_SUCCESS && (r == ERROR_SUCCESS || r == ERROR_BUSY) &&
           trim;
}

/* a section and a view, with the names of memoryapi.h and handleapi.h that Wine 8 has too */
static int sections(void)
{
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    LPCSTR name = NULL;
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE | SEC_COMMIT, 0,
                                  0x10000, name);
    char *v = h ? (char *)MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0) : NULL;
    MEMORY_BASIC_INFORMATION m;
    SIZE_T n = v ? VirtualQuery(v, &m, sizeof m) : 0;
    int good = v && n == sizeof m && m.Type == MEM_MAPPED && m.State == MEM_COMMIT &&
               m.AllocationProtect == PAGE_READWRITE;
    if (v) {
        v[0] = 1;
        good = good && FlushViewOfFile(v, 0) && UnmapViewOfFile(v);
    }
    HANDLE d = NULL;
    good =
        good &&
        DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &d, FILE_MAP_READ, FALSE, 0) &&
        CloseHandle(d) && CloseHandle(h);
    printf("section %p, view %p: type %#lx, %s\n", h, (void *)v, (unsigned long)m.Type,
           good ? "ok" : "WRONG");
    return good;
}

/* Every function of the issue-15 families under its SDK signature: assigning it to a pointer of
 * the SDK's type fails to compile (-Werror) when a parameter or result type differs, and a
 * macro or a missing function fails too (its address is taken). The SDK's signatures from
 * Microsoft's pages (memoryapi.h, handleapi.h, winbase.h, psapi.h); the Windows 10 ones are
 * checked on Linux only (Debian 12's mingw-w64 headers may lack them). */
static int sdk_signatures(void)
{
    HANDLE(WINAPI * cfa)
    (HANDLE, LPSECURITY_ATTRIBUTES, DWORD, DWORD, DWORD, LPCSTR) = CreateFileMappingA;
    HANDLE(WINAPI * cfw)
    (HANDLE, LPSECURITY_ATTRIBUTES, DWORD, DWORD, DWORD, LPCWSTR) = CreateFileMappingW;
    HANDLE(WINAPI * ofa)(DWORD, BOOL, LPCSTR) = OpenFileMappingA;
    HANDLE(WINAPI * ofw)(DWORD, BOOL, LPCWSTR) = OpenFileMappingW;
    BOOL(WINAPI * ch)(HANDLE) = CloseHandle;
    BOOL(WINAPI * dh)(HANDLE, HANDLE, HANDLE, LPHANDLE, DWORD, BOOL, DWORD) = DuplicateHandle;
    LPVOID(WINAPI * mv)(HANDLE, DWORD, DWORD, DWORD, SIZE_T) = MapViewOfFile;
    LPVOID(WINAPI * mvx)(HANDLE, DWORD, DWORD, DWORD, SIZE_T, LPVOID) = MapViewOfFileEx;
    BOOL(WINAPI * uv)(LPCVOID) = UnmapViewOfFile;
    BOOL(WINAPI * fv)(LPCVOID, SIZE_T) = FlushViewOfFile;
    LPVOID(WINAPI * numa)(HANDLE, LPVOID, SIZE_T, DWORD, DWORD, DWORD) = VirtualAllocExNuma;
    BOOL(WINAPI * qws)(HANDLE, PVOID, DWORD) = QueryWorkingSetEx;
    BOOL(WINAPI * gws)(HANDLE, PSIZE_T, PSIZE_T) = GetProcessWorkingSetSize;
    BOOL(WINAPI * gwsx)(HANDLE, PSIZE_T, PSIZE_T, PDWORD) = GetProcessWorkingSetSizeEx;
    BOOL(WINAPI * sws)(HANDLE, SIZE_T, SIZE_T) = SetProcessWorkingSetSize;
    BOOL(WINAPI * swsx)(HANDLE, SIZE_T, SIZE_T, DWORD) = SetProcessWorkingSetSizeEx;
    BOOL(WINAPI * pf)(HANDLE, ULONG_PTR, PWIN32_MEMORY_RANGE_ENTRY, ULONG) = PrefetchVirtualMemory;
    int n = !cfa + !cfw + !ofa + !ofw + !ch + !dh + !mv + !mvx + !uv + !fv + !numa + !qws + !gws +
            !gwsx + !sws + !swsx + !pf;
#ifndef _WIN32
    HANDLE (*cfapp)
    (HANDLE, PSECURITY_ATTRIBUTES, ULONG, ULONG64, PCWSTR) = CreateFileMappingFromApp;
    HANDLE (*ofapp)(ULONG, BOOL, PCWSTR) = OpenFileMappingFromApp;
    PVOID (*mvapp)(HANDLE, ULONG, ULONG64, SIZE_T) = MapViewOfFileFromApp;
    PVOID (*mv3)
    (HANDLE, HANDLE, PVOID, ULONG64, SIZE_T, ULONG, ULONG, MEM_EXTENDED_PARAMETER *, ULONG) =
        MapViewOfFile3;
    PVOID (*mv3app)
    (HANDLE, HANDLE, PVOID, ULONG64, SIZE_T, ULONG, ULONG, MEM_EXTENDED_PARAMETER *, ULONG) =
        MapViewOfFile3FromApp;
    BOOL (*uvx)(PVOID, ULONG) = UnmapViewOfFileEx;
    BOOL (*uv2)(HANDLE, PVOID, ULONG) = UnmapViewOfFile2;
    PVOID (*va2)
    (HANDLE, PVOID, SIZE_T, ULONG, ULONG, MEM_EXTENDED_PARAMETER *, ULONG) = VirtualAlloc2;
    PVOID (*va2app)
    (HANDLE, PVOID, SIZE_T, ULONG, ULONG, MEM_EXTENDED_PARAMETER *, ULONG) = VirtualAlloc2FromApp;
    DWORD (*dvm)(PVOID, SIZE_T) = DiscardVirtualMemory;
    DWORD (*ovm)(PVOID, SIZE_T, OFFER_PRIORITY) = OfferVirtualMemory;
    DWORD (*rvm)(void const *, SIZE_T) = ReclaimVirtualMemory;
    n += !cfapp + !ofapp + !mvapp + !mv3 + !mv3app + !uvx + !uv2 + !va2 + !va2app + !dvm + !ovm +
         !rvm;
#endif
    return n;
}

int main(void)
{
    pointer_types();
    int missing = sdk_signatures();
    int sections_ok = sections();
    SYSTEM_INFO si;
    ZeroMemory(&si, sizeof si);
    GetSystemInfo(&si);
    DWORD oem = si.dwOemId; /* the anonymous union of the SDK */
    WORD arch = si.wProcessorArchitecture;
    MEMORYSTATUSEX ms;
    ZeroMemory(&ms, sizeof ms);
    ms.dwLength = sizeof ms;
    BOOL ok = GlobalMemoryStatusEx(&ms);
    HANDLE me = GetCurrentProcess();
    char *p = (char *)VirtualAllocEx(me, NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    MEMORY_BASIC_INFORMATION mbi;
    SIZE_T n = p ? VirtualQueryEx(me, p, &mbi, sizeof mbi) : 0;
    DWORD old = 0;
    BOOL prot = p && VirtualProtectEx(me, p, 0x1000, PAGE_READONLY, &old);
    DWORD back = 0;
    int neighbours = p && VirtualProtectEx(me, p, 0x1000, PAGE_READWRITE, &back) &&
                     back == PAGE_READONLY && working_set(p);
#ifndef _WIN32
    neighbours = neighbours && offer_and_discard(p);
#else
    (void)&offer_and_discard;
#endif
    BOOL freed = p && VirtualFreeEx(me, p, 0, MEM_RELEASE);
    SetLastError(ERROR_COMMITMENT_LIMIT);
    DWORD err = GetLastError();

    /* the portable formats (doc/porting.md): DWORD as unsigned long, ULONGLONG as %llu, SIZE_T
     * and ULONG_PTR cast to unsigned long long, pointers and handles as %p */
    printf("oem %#lx arch %u page %lu granularity %lu\n", (unsigned long)oem, (unsigned)arch,
           (unsigned long)si.dwPageSize, (unsigned long)si.dwAllocationGranularity);
    printf("total physical %llu, commit limit %llu, ok %d\n", ms.ullTotalPhys, ms.ullTotalPageFile,
           ok);
    printf("allocated %p, queried %llu bytes, region %llu, old protection %#lx, freed %d/%d\n",
           (void *)p, (unsigned long long)n, (unsigned long long)mbi.RegionSize, (unsigned long)old,
           prot, freed);
    printf("last error %lu, process %p, invalid %p\n", (unsigned long)err, me,
           INVALID_HANDLE_VALUE);
    int good = si.dwPageSize == 4096 && si.dwAllocationGranularity == 65536 && oem == (DWORD)arch &&
               ok && ms.ullTotalPhys > 0 && p && n == sizeof mbi && mbi.RegionSize == 0x10000 &&
               prot && old == PAGE_READWRITE && freed && err == ERROR_COMMITMENT_LIMIT &&
               me == INVALID_HANDLE_VALUE && neighbours && sections_ok && !missing;
    printf("%s\n", good ? "ok" : "WRONG");
    return good ? 0 : 1;
}
