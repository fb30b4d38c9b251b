/* Opt-in Windows names for winvmem: types, constants and functions spelled as in the Windows
 * SDK, so that code written for windows.h / memoryapi.h compiles unchanged. Everything here is
 * a typedef, a macro or a static inline wrapper over the wvm_ functions of winvmem/vm.h; the
 * library exports no unprefixed symbol. Include it in translation units that want the Windows
 * spelling, and nowhere else (the names are short and may clash with other code).
 *
 * Built for Windows (_WIN32, e.g. mingw-w64), this header is <windows.h>: the same source then
 * calls the real API, which is how the differential tests run one program on both.
 *
 * Layout, one section per SDK header, so that new functions go where Windows keeps them:
 *   1. types (windef.h, basetsd.h, winnt.h)       4. errors (winerror.h)
 *   2. memory constants (winnt.h)                 5. functions: memoryapi.h, then psapi.h,
 *   3. structures (winnt.h, sysinfoapi.h,            sysinfoapi.h, errhandlingapi.h,
 *      memoryapi.h, psapi.h)                          processthreadsapi.h
 * Integer types have the SDK's widths; DWORD is 32 bits (unsigned int here, unsigned long on
 * Windows): doc/porting.md says how to print them portably. */
#ifndef WINVMEM_WIN32_H
#define WINVMEM_WIN32_H

#ifdef _WIN32
#include <windows.h>
#include <psapi.h> /* QueryWorkingSetEx */
#else

#include <string.h>

#include "vm.h"

#ifdef __cplusplus
extern "C" {
#define WVM_WIN32_ASSERT static_assert
#else
#define WVM_WIN32_ASSERT _Static_assert
#endif

/* ---- 1. types (windef.h, basetsd.h, winnt.h) ---------------------------------------------- */

typedef uint8_t BYTE, *PBYTE, *LPBYTE;
typedef uint16_t WORD, *PWORD, *LPWORD;
typedef uint32_t DWORD, *PDWORD, *LPDWORD;
typedef unsigned long long ULONGLONG, DWORDLONG, ULONG64, DWORD64, *PULONGLONG, *PDWORDLONG;
typedef long long LONGLONG, LONG64, *PLONGLONG;
typedef char CHAR;
typedef unsigned char UCHAR;
typedef short SHORT;
typedef unsigned short USHORT;
typedef int INT, BOOL, *PBOOL, *LPBOOL;
typedef unsigned int UINT;
typedef int32_t LONG, *PLONG;
typedef uint32_t ULONG, *PULONG;
typedef BYTE BOOLEAN, *PBOOLEAN;
typedef size_t SIZE_T, *PSIZE_T;
typedef intptr_t SSIZE_T, INT_PTR, LONG_PTR, *PINT_PTR, *PLONG_PTR;
typedef uintptr_t UINT_PTR, ULONG_PTR, DWORD_PTR, *PUINT_PTR, *PULONG_PTR, *PDWORD_PTR;
#ifndef VOID
#define VOID void
#endif
typedef void *PVOID, *LPVOID;
typedef const void *LPCVOID;
typedef void *HANDLE, **PHANDLE;

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#define WINAPI
#define NTAPI
#define INVALID_HANDLE_VALUE ((HANDLE)(LONG_PTR)-1)

#define ZeroMemory(dst, len)      ((void)memset((dst), 0, (len)))
#define FillMemory(dst, len, val) ((void)memset((dst), (val), (len)))
#define CopyMemory(dst, src, len) ((void)memcpy((dst), (src), (len)))
#define MoveMemory(dst, src, len) ((void)memmove((dst), (src), (len)))

/* ---- 2. memory constants (winnt.h) ---------------------------------------------------------- */

#define PAGE_NOACCESS          WVM_PAGE_NOACCESS
#define PAGE_READONLY          WVM_PAGE_READONLY
#define PAGE_READWRITE         WVM_PAGE_READWRITE
#define PAGE_WRITECOPY         WVM_PAGE_WRITECOPY
#define PAGE_EXECUTE           WVM_PAGE_EXECUTE
#define PAGE_EXECUTE_READ      WVM_PAGE_EXECUTE_READ
#define PAGE_EXECUTE_READWRITE WVM_PAGE_EXECUTE_READWRITE
#define PAGE_EXECUTE_WRITECOPY WVM_PAGE_EXECUTE_WRITECOPY
#define PAGE_GUARD             WVM_PAGE_GUARD
#define PAGE_NOCACHE           WVM_PAGE_NOCACHE
#define PAGE_WRITECOMBINE      WVM_PAGE_WRITECOMBINE
#define PAGE_TARGETS_INVALID   WVM_PAGE_TARGETS_INVALID
#define PAGE_TARGETS_NO_UPDATE WVM_PAGE_TARGETS_NO_UPDATE

#define MEM_COMMIT      WVM_MEM_COMMIT
#define MEM_RESERVE     WVM_MEM_RESERVE
#define MEM_DECOMMIT    WVM_MEM_DECOMMIT
#define MEM_RELEASE     WVM_MEM_RELEASE
#define MEM_FREE        WVM_MEM_FREE
#define MEM_PRIVATE     WVM_MEM_PRIVATE
#define MEM_MAPPED      WVM_MEM_MAPPED
#define MEM_RESET       WVM_MEM_RESET
#define MEM_TOP_DOWN    WVM_MEM_TOP_DOWN
#define MEM_WRITE_WATCH WVM_MEM_WRITE_WATCH
#define MEM_PHYSICAL    WVM_MEM_PHYSICAL
#define MEM_RESET_UNDO  WVM_MEM_RESET_UNDO
#define MEM_IMAGE       WVM_MEM_IMAGE
#define MEM_LARGE_PAGES WVM_MEM_LARGE_PAGES

#define WRITE_WATCH_FLAG_RESET WVM_WRITE_WATCH_FLAG_RESET

#define QUOTA_LIMITS_HARDWS_MIN_ENABLE  WVM_QUOTA_LIMITS_HARDWS_MIN_ENABLE
#define QUOTA_LIMITS_HARDWS_MIN_DISABLE WVM_QUOTA_LIMITS_HARDWS_MIN_DISABLE
#define QUOTA_LIMITS_HARDWS_MAX_ENABLE  WVM_QUOTA_LIMITS_HARDWS_MAX_ENABLE
#define QUOTA_LIMITS_HARDWS_MAX_DISABLE WVM_QUOTA_LIMITS_HARDWS_MAX_DISABLE
#define NUMA_NO_PREFERRED_NODE          ((DWORD)WVM_NUMA_NO_PREFERRED_NODE)

#define STATUS_GUARD_PAGE_VIOLATION WVM_STATUS_GUARD_PAGE_VIOLATION
#define STATUS_ACCESS_VIOLATION     WVM_STATUS_ACCESS_VIOLATION
#define EXCEPTION_GUARD_PAGE        WVM_STATUS_GUARD_PAGE_VIOLATION
#define EXCEPTION_ACCESS_VIOLATION  WVM_STATUS_ACCESS_VIOLATION

#define EXCEPTION_MAXIMUM_PARAMETERS WVM_EXCEPTION_MAXIMUM_PARAMETERS
#define EXCEPTION_CONTINUE_EXECUTION WVM_EXCEPTION_CONTINUE_EXECUTION
#define EXCEPTION_CONTINUE_SEARCH    WVM_EXCEPTION_CONTINUE_SEARCH

#define PROCESSOR_ARCHITECTURE_AMD64 WVM_PROCESSOR_ARCHITECTURE_AMD64
#define PROCESSOR_ARCHITECTURE_ARM64 WVM_PROCESSOR_ARCHITECTURE_ARM64
#define PROCESSOR_AMD_X8664          WVM_PROCESSOR_AMD_X8664

/* ---- 3. structures (winnt.h, sysinfoapi.h) ----------------------------------------------------
 */

typedef wvm_MEMORY_BASIC_INFORMATION MEMORY_BASIC_INFORMATION, *PMEMORY_BASIC_INFORMATION;
typedef wvm_EXCEPTION_RECORD EXCEPTION_RECORD, *PEXCEPTION_RECORD;
typedef wvm_EXCEPTION_POINTERS EXCEPTION_POINTERS, *PEXCEPTION_POINTERS;
typedef wvm_PVECTORED_EXCEPTION_HANDLER PVECTORED_EXCEPTION_HANDLER;

/* SYSTEM_INFO and MEMORYSTATUSEX as the SDK declares them: an anonymous union (si.dwOemId,
 * si.wProcessorArchitecture) and DWORDLONG fields. Laid out exactly like wvm_SYSTEM_INFO and
 * wvm_MEMORYSTATUSEX (checked below), which the wrappers hand them to. */
typedef struct _SYSTEM_INFO {
    union {
        DWORD dwOemId;
        __extension__ struct {
            WORD wProcessorArchitecture;
            WORD wReserved;
        };
    };
    DWORD dwPageSize;
    LPVOID lpMinimumApplicationAddress;
    LPVOID lpMaximumApplicationAddress;
    DWORD_PTR dwActiveProcessorMask;
    DWORD dwNumberOfProcessors;
    DWORD dwProcessorType;
    DWORD dwAllocationGranularity;
    WORD wProcessorLevel;
    WORD wProcessorRevision;
} SYSTEM_INFO, *LPSYSTEM_INFO;

typedef struct _MEMORYSTATUSEX {
    DWORD dwLength;
    DWORD dwMemoryLoad;
    DWORDLONG ullTotalPhys;
    DWORDLONG ullAvailPhys;
    DWORDLONG ullTotalPageFile;
    DWORDLONG ullAvailPageFile;
    DWORDLONG ullTotalVirtual;
    DWORDLONG ullAvailVirtual;
    DWORDLONG ullAvailExtendedVirtual;
} MEMORYSTATUSEX, *LPMEMORYSTATUSEX, *PMEMORYSTATUSEX;

#define WVM_WIN32_SAME(t, w, f)                                                                    \
    WVM_WIN32_ASSERT(offsetof(t, f) == offsetof(w, f) &&                                           \
                         sizeof(((t *)0)->f) == sizeof(((w *)0)->f),                               \
                     #t "." #f " is laid out as in " #w)
WVM_WIN32_ASSERT(sizeof(SYSTEM_INFO) == sizeof(wvm_SYSTEM_INFO), "SYSTEM_INFO's size");
WVM_WIN32_ASSERT(offsetof(SYSTEM_INFO, wProcessorArchitecture) ==
                     offsetof(wvm_SYSTEM_INFO, u.s.wProcessorArchitecture),
                 "SYSTEM_INFO.wProcessorArchitecture");
WVM_WIN32_SAME(SYSTEM_INFO, wvm_SYSTEM_INFO, dwPageSize);
WVM_WIN32_SAME(SYSTEM_INFO, wvm_SYSTEM_INFO, lpMaximumApplicationAddress);
WVM_WIN32_SAME(SYSTEM_INFO, wvm_SYSTEM_INFO, dwActiveProcessorMask);
WVM_WIN32_SAME(SYSTEM_INFO, wvm_SYSTEM_INFO, dwAllocationGranularity);
WVM_WIN32_SAME(SYSTEM_INFO, wvm_SYSTEM_INFO, wProcessorRevision);
WVM_WIN32_ASSERT(sizeof(MEMORYSTATUSEX) == sizeof(wvm_MEMORYSTATUSEX), "MEMORYSTATUSEX's size");
WVM_WIN32_SAME(MEMORYSTATUSEX, wvm_MEMORYSTATUSEX, ullTotalPhys);
WVM_WIN32_SAME(MEMORYSTATUSEX, wvm_MEMORYSTATUSEX, ullAvailExtendedVirtual);

/* memoryapi.h: OFFER_PRIORITY, WIN32_MEMORY_RANGE_ENTRY */
typedef enum OFFER_PRIORITY {
    VmOfferPriorityVeryLow = WVM_VM_OFFER_PRIORITY_VERY_LOW,
    VmOfferPriorityLow = WVM_VM_OFFER_PRIORITY_LOW,
    VmOfferPriorityBelowNormal = WVM_VM_OFFER_PRIORITY_BELOW_NORMAL,
    VmOfferPriorityNormal = WVM_VM_OFFER_PRIORITY_NORMAL
} OFFER_PRIORITY;
typedef wvm_WIN32_MEMORY_RANGE_ENTRY WIN32_MEMORY_RANGE_ENTRY, *PWIN32_MEMORY_RANGE_ENTRY;

/* psapi.h: PSAPI_WORKING_SET_EX_BLOCK as the SDK declares it (info.VirtualAttributes.Valid,
 * info.VirtualAttributes.Invalid.Shared); laid out exactly like wvm_PSAPI_WORKING_SET_EX_BLOCK
 * (the same field lists of vm.h; the size checked below). The SDK's ULONG_PTR bit-fields are
 * unsigned here: the same bits, and ISO C allows no other bit-field type. */
typedef union _PSAPI_WORKING_SET_EX_BLOCK {
    ULONG_PTR Flags;
    union {
        __extension__ struct {
            WVM_WSEX_VALID_BITS
        };
        struct {
            WVM_WSEX_INVALID_BITS
        } Invalid;
    };
} PSAPI_WORKING_SET_EX_BLOCK, *PPSAPI_WORKING_SET_EX_BLOCK;

typedef struct _PSAPI_WORKING_SET_EX_INFORMATION {
    PVOID VirtualAddress;
    PSAPI_WORKING_SET_EX_BLOCK VirtualAttributes;
} PSAPI_WORKING_SET_EX_INFORMATION, *PPSAPI_WORKING_SET_EX_INFORMATION;

WVM_WIN32_ASSERT(sizeof(PSAPI_WORKING_SET_EX_BLOCK) == sizeof(wvm_PSAPI_WORKING_SET_EX_BLOCK),
                 "PSAPI_WORKING_SET_EX_BLOCK's size");
WVM_WIN32_SAME(PSAPI_WORKING_SET_EX_INFORMATION, wvm_PSAPI_WORKING_SET_EX_INFORMATION,
               VirtualAddress);
WVM_WIN32_SAME(PSAPI_WORKING_SET_EX_INFORMATION, wvm_PSAPI_WORKING_SET_EX_INFORMATION,
               VirtualAttributes);
#undef WVM_WIN32_SAME

/* ---- 4. errors (winerror.h); wvm_error_name(code) gives the name ------------------------------
 */

#define ERROR_SUCCESS             WVM_ERROR_SUCCESS
#define ERROR_INVALID_HANDLE      WVM_ERROR_INVALID_HANDLE
#define ERROR_NOT_SUPPORTED       WVM_ERROR_NOT_SUPPORTED
#define ERROR_NOT_ENOUGH_MEMORY   WVM_ERROR_NOT_ENOUGH_MEMORY
#define ERROR_OUTOFMEMORY         WVM_ERROR_OUTOFMEMORY
#define ERROR_BAD_LENGTH          WVM_ERROR_BAD_LENGTH
#define ERROR_INVALID_PARAMETER   WVM_ERROR_INVALID_PARAMETER
#define ERROR_NOT_LOCKED          WVM_ERROR_NOT_LOCKED
#define ERROR_BUSY                WVM_ERROR_BUSY
#define ERROR_INVALID_ADDRESS     WVM_ERROR_INVALID_ADDRESS
#define ERROR_NOACCESS            WVM_ERROR_NOACCESS
#define ERROR_PRIVILEGE_NOT_HELD  WVM_ERROR_PRIVILEGE_NOT_HELD
#define ERROR_NO_SYSTEM_RESOURCES WVM_ERROR_NO_SYSTEM_RESOURCES
#define ERROR_WORKING_SET_QUOTA   WVM_ERROR_WORKING_SET_QUOTA
#define ERROR_COMMITMENT_LIMIT    WVM_ERROR_COMMITMENT_LIMIT

/* ---- 5. functions --------------------------------------------------------------------------- */

/* memoryapi.h: allocation, protection, query */
static inline LPVOID VirtualAlloc(LPVOID a, SIZE_T s, DWORD t, DWORD p)
{
    return wvm_VirtualAlloc(a, s, t, p);
}
static inline BOOL VirtualFree(LPVOID a, SIZE_T s, DWORD t)
{
    return wvm_VirtualFree(a, s, t);
}
static inline BOOL VirtualProtect(LPVOID a, SIZE_T s, DWORD p, PDWORD old)
{
    return wvm_VirtualProtect(a, s, p, old);
}
static inline SIZE_T VirtualQuery(LPCVOID a, PMEMORY_BASIC_INFORMATION b, SIZE_T n)
{
    return wvm_VirtualQuery(a, b, n);
}
/* The Ex variants act on the calling process only: hProcess is GetCurrentProcess(); any other
 * handle fails with ERROR_INVALID_HANDLE. */
static inline LPVOID VirtualAllocEx(HANDLE h, LPVOID a, SIZE_T s, DWORD t, DWORD p)
{
    return wvm_VirtualAllocEx(h, a, s, t, p);
}
static inline BOOL VirtualFreeEx(HANDLE h, LPVOID a, SIZE_T s, DWORD t)
{
    return wvm_VirtualFreeEx(h, a, s, t);
}
static inline BOOL VirtualProtectEx(HANDLE h, LPVOID a, SIZE_T s, DWORD p, PDWORD old)
{
    return wvm_VirtualProtectEx(h, a, s, p, old);
}
static inline SIZE_T VirtualQueryEx(HANDLE h, LPCVOID a, PMEMORY_BASIC_INFORMATION b, SIZE_T n)
{
    return wvm_VirtualQueryEx(h, a, b, n);
}
static inline PVOID VirtualAllocFromApp(PVOID a, SIZE_T s, ULONG t, ULONG p)
{
    return wvm_VirtualAllocFromApp(a, s, t, p);
}
static inline BOOL VirtualProtectFromApp(PVOID a, SIZE_T s, ULONG p, PULONG old)
{
    return wvm_VirtualProtectFromApp(a, s, p, old);
}

/* memoryapi.h: locking, write watch, large pages, AWE */
static inline BOOL VirtualLock(LPVOID a, SIZE_T s)
{
    return wvm_VirtualLock(a, s);
}
static inline BOOL VirtualUnlock(LPVOID a, SIZE_T s)
{
    return wvm_VirtualUnlock(a, s);
}
static inline UINT GetWriteWatch(DWORD f, PVOID a, SIZE_T s, PVOID *addrs, ULONG_PTR *count,
                                 ULONG *gran)
{
    return wvm_GetWriteWatch(f, a, s, addrs, count, gran);
}
static inline UINT ResetWriteWatch(LPVOID a, SIZE_T s)
{
    return wvm_ResetWriteWatch(a, s);
}
static inline SIZE_T GetLargePageMinimum(void)
{
    return wvm_GetLargePageMinimum();
}
static inline BOOL AllocateUserPhysicalPages(HANDLE h, PULONG_PTR n, PULONG_PTR pfns)
{
    return wvm_AllocateUserPhysicalPages(h, n, pfns);
}
static inline BOOL MapUserPhysicalPages(PVOID a, ULONG_PTR n, PULONG_PTR pfns)
{
    return wvm_MapUserPhysicalPages(a, n, pfns);
}
static inline BOOL FreeUserPhysicalPages(HANDLE h, PULONG_PTR n, PULONG_PTR pfns)
{
    return wvm_FreeUserPhysicalPages(h, n, pfns);
}

/* memoryapi.h: offer, discard, prefetch, working-set sizes, NUMA (GetProcessWorkingSetSize and
 * SetProcessWorkingSetSize are winbase.h's) */
static inline DWORD DiscardVirtualMemory(PVOID a, SIZE_T s)
{
    return wvm_DiscardVirtualMemory(a, s);
}
static inline DWORD OfferVirtualMemory(PVOID a, SIZE_T s, OFFER_PRIORITY p)
{
    return wvm_OfferVirtualMemory(a, s, (DWORD)p);
}
static inline DWORD ReclaimVirtualMemory(void const *a, SIZE_T s)
{
    return wvm_ReclaimVirtualMemory(a, s);
}
static inline BOOL PrefetchVirtualMemory(HANDLE h, ULONG_PTR n, PWIN32_MEMORY_RANGE_ENTRY r,
                                         ULONG f)
{
    return wvm_PrefetchVirtualMemory(h, n, r, f);
}
static inline BOOL GetProcessWorkingSetSize(HANDLE h, PSIZE_T mn, PSIZE_T mx)
{
    return wvm_GetProcessWorkingSetSize(h, mn, mx);
}
static inline BOOL GetProcessWorkingSetSizeEx(HANDLE h, PSIZE_T mn, PSIZE_T mx, PDWORD f)
{
    return wvm_GetProcessWorkingSetSizeEx(h, mn, mx, f);
}
static inline BOOL SetProcessWorkingSetSize(HANDLE h, SIZE_T mn, SIZE_T mx)
{
    return wvm_SetProcessWorkingSetSize(h, mn, mx);
}
static inline BOOL SetProcessWorkingSetSizeEx(HANDLE h, SIZE_T mn, SIZE_T mx, DWORD f)
{
    return wvm_SetProcessWorkingSetSizeEx(h, mn, mx, f);
}
static inline LPVOID VirtualAllocExNuma(HANDLE h, LPVOID a, SIZE_T s, DWORD t, DWORD p, DWORD n)
{
    return wvm_VirtualAllocExNuma(h, a, s, t, p, n);
}

/* psapi.h (PSAPI_VERSION 2: kernel32's K32 name too) */
static inline BOOL QueryWorkingSetEx(HANDLE h, PVOID pv, DWORD cb)
{
    return wvm_QueryWorkingSetEx(h, pv, cb);
}
static inline BOOL K32QueryWorkingSetEx(HANDLE h, PVOID pv, DWORD cb)
{
    return wvm_QueryWorkingSetEx(h, pv, cb);
}

/* sysinfoapi.h */
static inline void GetSystemInfo(LPSYSTEM_INFO i)
{
    wvm_GetSystemInfo((wvm_SYSTEM_INFO *)(void *)i);
}
static inline void GetNativeSystemInfo(LPSYSTEM_INFO i)
{
    wvm_GetSystemInfo((wvm_SYSTEM_INFO *)(void *)i);
}
static inline BOOL GlobalMemoryStatusEx(LPMEMORYSTATUSEX m)
{
    return wvm_GlobalMemoryStatusEx((wvm_MEMORYSTATUSEX *)(void *)m);
}

/* errhandlingapi.h */
static inline DWORD GetLastError(void)
{
    return wvm_GetLastError();
}
static inline void SetLastError(DWORD e)
{
    wvm_SetLastError(e);
}
static inline PVOID AddVectoredExceptionHandler(ULONG first, PVECTORED_EXCEPTION_HANDLER h)
{
    return wvm_AddVectoredExceptionHandler(first, h);
}
static inline ULONG RemoveVectoredExceptionHandler(PVOID h)
{
    return wvm_RemoveVectoredExceptionHandler(h);
}

/* processthreadsapi.h */
static inline HANDLE GetCurrentProcess(void)
{
    return wvm_GetCurrentProcess();
}
static inline BOOL FlushInstructionCache(HANDLE h, LPCVOID a, SIZE_T s)
{
    return wvm_FlushInstructionCache(h, a, s);
}

#undef WVM_WIN32_ASSERT
#ifdef __cplusplus
}
#endif

/* memoryapi.h, handleapi.h, winbase.h: file mappings, views, placeholders, VirtualAlloc2 */
#include "win32_sections.h"
#endif /* !_WIN32 */
#endif
