/* winvmem — the Windows virtual-memory API on Linux.
 *
 * Every function here is the Windows function of the same name with a `wvm_` prefix, with the
 * same arguments, return value and thread-last-error behaviour; Microsoft's documentation of
 * the unprefixed name is the reference. Constants carry the Windows SDK's numeric values with a
 * `WVM_` prefix; `winvmem/win32.h` offers the unprefixed Windows names on top.
 *
 * How Windows concepts are simulated (see doc/porting.md for the full table):
 *   reserve    bookkeeping inside a PROT_NONE arena (no system call), or a dedicated
 *              PROT_NONE mapping when the caller names an address outside the arena;
 *   commit     MADV_GUARD_REMOVE (Linux >= 6.13) or mprotect, charged to winvmem's own
 *              commit ledger (Linux overcommit guarantees nothing);
 *   decommit   MADV_GUARD_INSTALL, or mprotect(PROT_NONE) + MADV_DONTNEED: data is dropped and
 *              re-commit reads zeros.
 * All functions are thread-safe. */
#ifndef WINVMEM_VM_H
#define WINVMEM_VM_H

#include <stddef.h>
#include <stdint.h>

#include <winvmem/version.h> /* WVM_VERSION_MAJOR, _MINOR, _PATCH, _STRING (generated) */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WVM_BUILDING) || defined(WVM_STATIC)
#define WVM_API __attribute__((visibility("default")))
#else
#define WVM_API
#endif

/* ---- version ------------------------------------------------------------------------------ */

/* The version of the library this program runs with: WVM_VERSION's number (MAJOR * 10000 +
 * MINOR * 100 + PATCH) and WVM_VERSION_STRING's text. While the major version is 0, a program
 * built against headers of another minor version may not work with this library (CHANGELOG.md). */
WVM_API unsigned wvm_version(void);
WVM_API const char *wvm_version_string(void);

/* ---- numeric values of the Windows SDK (winnt.h, winerror.h) ---------------------------- */

#define WVM_PAGE_NOACCESS          0x01u
#define WVM_PAGE_READONLY          0x02u
#define WVM_PAGE_READWRITE         0x04u
#define WVM_PAGE_WRITECOPY         0x08u
#define WVM_PAGE_EXECUTE           0x10u
#define WVM_PAGE_EXECUTE_READ      0x20u
#define WVM_PAGE_EXECUTE_READWRITE 0x40u
#define WVM_PAGE_EXECUTE_WRITECOPY 0x80u
#define WVM_PAGE_GUARD             0x100u
#define WVM_PAGE_NOCACHE           0x200u
#define WVM_PAGE_WRITECOMBINE      0x400u
#define WVM_PAGE_TARGETS_INVALID   0x40000000u
#define WVM_PAGE_TARGETS_NO_UPDATE 0x40000000u

#define WVM_MEM_COMMIT      0x00001000u
#define WVM_MEM_RESERVE     0x00002000u
#define WVM_MEM_DECOMMIT    0x00004000u
#define WVM_MEM_RELEASE     0x00008000u
#define WVM_MEM_FREE        0x00010000u
#define WVM_MEM_PRIVATE     0x00020000u
#define WVM_MEM_MAPPED      0x00040000u
#define WVM_MEM_RESET       0x00080000u
#define WVM_MEM_TOP_DOWN    0x00100000u
#define WVM_MEM_WRITE_WATCH 0x00200000u
#define WVM_MEM_PHYSICAL    0x00400000u
#define WVM_MEM_RESET_UNDO  0x01000000u
#define WVM_MEM_IMAGE       0x01000000u
#define WVM_MEM_LARGE_PAGES 0x20000000u

#define WVM_WRITE_WATCH_FLAG_RESET 0x01u

#define WVM_ERROR_SUCCESS             0u
#define WVM_ERROR_INVALID_HANDLE      6u
#define WVM_ERROR_NOT_SUPPORTED       50u
#define WVM_ERROR_NOT_ENOUGH_MEMORY   8u
#define WVM_ERROR_OUTOFMEMORY         14u
#define WVM_ERROR_BAD_LENGTH          24u
#define WVM_ERROR_INVALID_PARAMETER   87u
#define WVM_ERROR_NOT_LOCKED          158u
#define WVM_ERROR_BUSY                170u
#define WVM_ERROR_INVALID_ADDRESS     487u
#define WVM_ERROR_NOACCESS            998u
#define WVM_ERROR_PRIVILEGE_NOT_HELD  1314u
#define WVM_ERROR_NO_SYSTEM_RESOURCES 1450u
#define WVM_ERROR_WORKING_SET_QUOTA   1453u
#define WVM_ERROR_COMMITMENT_LIMIT    1455u

#define WVM_STATUS_GUARD_PAGE_VIOLATION 0x80000001u
#define WVM_STATUS_ACCESS_VIOLATION     0xC0000005u

#define WVM_PROCESSOR_ARCHITECTURE_AMD64 9u
#define WVM_PROCESSOR_ARCHITECTURE_ARM64 12u
#define WVM_PROCESSOR_AMD_X8664          8664u

/* Windows reports these fixed values on x64; winvmem reports the same. */
#define WVM_PAGE_SIZE              4096u
#define WVM_ALLOCATION_GRANULARITY 65536u

/* ---- structures, laid out exactly as the Windows x64 SDK lays them out --------------------- */

typedef struct wvm_MEMORY_BASIC_INFORMATION {
    void *BaseAddress;
    void *AllocationBase;
    uint32_t AllocationProtect;
    uint16_t PartitionId;
    size_t RegionSize;
    uint32_t State;
    uint32_t Protect;
    uint32_t Type;
} wvm_MEMORY_BASIC_INFORMATION;

typedef struct wvm_SYSTEM_INFO {
    union {
        uint32_t dwOemId;
        struct {
            uint16_t wProcessorArchitecture;
            uint16_t wReserved;
        } s;
    } u;
    uint32_t dwPageSize;
    void *lpMinimumApplicationAddress;
    void *lpMaximumApplicationAddress;
    uintptr_t dwActiveProcessorMask;
    uint32_t dwNumberOfProcessors;
    uint32_t dwProcessorType;
    uint32_t dwAllocationGranularity;
    uint16_t wProcessorLevel;
    uint16_t wProcessorRevision;
} wvm_SYSTEM_INFO;

typedef struct wvm_MEMORYSTATUSEX {
    uint32_t dwLength; /* must be sizeof(wvm_MEMORYSTATUSEX) on input */
    uint32_t dwMemoryLoad;
    uint64_t ullTotalPhys;
    uint64_t ullAvailPhys;
    uint64_t ullTotalPageFile; /* winvmem: the commit limit */
    uint64_t ullAvailPageFile; /* winvmem: commit limit minus committed bytes */
    uint64_t ullTotalVirtual;
    uint64_t ullAvailVirtual;
    uint64_t ullAvailExtendedVirtual;
} wvm_MEMORYSTATUSEX;

/* ---- core: reserve, commit, decommit, release, protect, query ------------------------------ */

WVM_API void *wvm_VirtualAlloc(void *lpAddress, size_t dwSize, uint32_t flAllocationType,
                               uint32_t flProtect);
WVM_API int wvm_VirtualFree(void *lpAddress, size_t dwSize, uint32_t dwFreeType);
WVM_API int wvm_VirtualProtect(void *lpAddress, size_t dwSize, uint32_t flNewProtect,
                               uint32_t *lpflOldProtect);
WVM_API size_t wvm_VirtualQuery(const void *lpAddress, wvm_MEMORY_BASIC_INFORMATION *lpBuffer,
                                size_t dwLength);
/* The Ex variants act on the calling process only: hProcess must be wvm_GetCurrentProcess()
 * (WVM_CURRENT_PROCESS); any other handle fails with ERROR_INVALID_HANDLE, checked before
 * the other arguments. */
WVM_API void *wvm_VirtualAllocEx(void *hProcess, void *lpAddress, size_t dwSize,
                                 uint32_t flAllocationType, uint32_t flProtect);
WVM_API int wvm_VirtualFreeEx(void *hProcess, void *lpAddress, size_t dwSize, uint32_t dwFreeType);
WVM_API int wvm_VirtualProtectEx(void *hProcess, void *lpAddress, size_t dwSize,
                                 uint32_t flNewProtect, uint32_t *lpflOldProtect);
WVM_API size_t wvm_VirtualQueryEx(void *hProcess, const void *lpAddress,
                                  wvm_MEMORY_BASIC_INFORMATION *lpBuffer, size_t dwLength);
WVM_API void wvm_GetSystemInfo(wvm_SYSTEM_INFO *lpSystemInfo);
WVM_API int wvm_GlobalMemoryStatusEx(wvm_MEMORYSTATUSEX *lpBuffer);
WVM_API uint32_t wvm_GetLastError(void);
WVM_API void wvm_SetLastError(uint32_t dwErrCode);
/* The SDK's name of a Windows error code ("ERROR_COMMITMENT_LIMIT" for 1455), for every code
 * winvmem sets; NULL for any other code. Not a Windows function. */
WVM_API const char *wvm_error_name(uint32_t dwErrCode);

/* ---- app-container variants: no executable pages (see doc/porting.md) ---------------------- */

WVM_API void *wvm_VirtualAllocFromApp(void *BaseAddress, size_t Size, uint32_t AllocationType,
                                      uint32_t Protection);
WVM_API int wvm_VirtualProtectFromApp(void *Address, size_t Size, uint32_t NewProtection,
                                      uint32_t *OldProtection);
/* The analogue of the codeGeneration capability (default off; also WINVMEM_DYNAMIC_CODE=1):
 * lets VirtualProtectFromApp make pages PAGE_EXECUTE / PAGE_EXECUTE_READ, never writable and
 * executable at once. Returns the previous setting. */
WVM_API int wvm_set_dynamic_code_allowed(int allowed);

/* ---- locking and instruction cache ------------------------------------------------------- */

WVM_API int wvm_VirtualLock(void *lpAddress, size_t dwSize);
WVM_API int wvm_VirtualUnlock(void *lpAddress, size_t dwSize);
/* hProcess must be wvm_GetCurrentProcess(). */
WVM_API int wvm_FlushInstructionCache(void *hProcess, const void *lpBaseAddress, size_t dwSize);

/* The pseudo-handle of the current process, as on Windows ((HANDLE)-1). */
#define WVM_CURRENT_PROCESS ((void *)(intptr_t)-1)
WVM_API void *wvm_GetCurrentProcess(void);

/* ---- write watch -------------------------------------------------------------------------- */

WVM_API uint32_t wvm_GetWriteWatch(uint32_t dwFlags, void *lpBaseAddress, size_t dwRegionSize,
                                   void **lpAddresses, uintptr_t *lpdwCount,
                                   uint32_t *lpdwGranularity);
WVM_API uint32_t wvm_ResetWriteWatch(void *lpBaseAddress, size_t dwRegionSize);

/* ---- large pages and AWE ------------------------------------------------------------------ */

WVM_API size_t wvm_GetLargePageMinimum(void);
WVM_API int wvm_AllocateUserPhysicalPages(void *hProcess, uintptr_t *NumberOfPages,
                                          uintptr_t *PageArray);
WVM_API int wvm_MapUserPhysicalPages(void *VirtualAddress, uintptr_t NumberOfPages,
                                     uintptr_t *PageArray);
WVM_API int wvm_FreeUserPhysicalPages(void *hProcess, uintptr_t *NumberOfPages,
                                      uintptr_t *PageArray);

/* ---- offer, discard, prefetch, working set, NUMA ------------------------------------------- */

/* OFFER_PRIORITY (memoryapi.h). */
#define WVM_VM_OFFER_PRIORITY_VERY_LOW     1u
#define WVM_VM_OFFER_PRIORITY_LOW          2u
#define WVM_VM_OFFER_PRIORITY_BELOW_NORMAL 3u
#define WVM_VM_OFFER_PRIORITY_NORMAL       4u

/* SetProcessWorkingSetSizeEx / GetProcessWorkingSetSizeEx (winnt.h). */
#define WVM_QUOTA_LIMITS_HARDWS_MIN_ENABLE  0x1u
#define WVM_QUOTA_LIMITS_HARDWS_MIN_DISABLE 0x2u
#define WVM_QUOTA_LIMITS_HARDWS_MAX_ENABLE  0x4u
#define WVM_QUOTA_LIMITS_HARDWS_MAX_DISABLE 0x8u

#define WVM_NUMA_NO_PREFERRED_NODE 0xFFFFFFFFu

typedef struct wvm_WIN32_MEMORY_RANGE_ENTRY {
    void *VirtualAddress;
    size_t NumberOfBytes;
} wvm_WIN32_MEMORY_RANGE_ENTRY;

/* PSAPI_WORKING_SET_EX_BLOCK: one 64-bit word. When v.Valid is 0 only Invalid.Shared and
 * Invalid.Bad mean anything (winvmem writes every other bit 0). win32.h offers the SDK's
 * spelling (info.VirtualAttributes.Valid) with the same two field lists:
 *   ShareCount       processes sharing the page, at most 7
 *   Win32Protection  PAGE_*
 *   Shared           the page can be shared (a view, an image)
 *   Node             NUMA node of the physical page */
#define WVM_WSEX_VALID_BITS                                                                        \
    unsigned Valid : 1;                                                                            \
    unsigned ShareCount : 3;                                                                       \
    unsigned Win32Protection : 11;                                                                 \
    unsigned Shared : 1;                                                                           \
    unsigned Node : 6;                                                                             \
    unsigned Locked : 1;                                                                           \
    unsigned LargePage : 1;                                                                        \
    unsigned Reserved : 7;                                                                         \
    unsigned Bad : 1;                                                                              \
    unsigned ReservedUlong : 32;
#define WVM_WSEX_INVALID_BITS                                                                      \
    unsigned Valid : 1;                                                                            \
    unsigned Reserved0 : 14;                                                                       \
    unsigned Shared : 1;                                                                           \
    unsigned Reserved1 : 15;                                                                       \
    unsigned Bad : 1;                                                                              \
    unsigned ReservedUlong : 32;
typedef union wvm_PSAPI_WORKING_SET_EX_BLOCK {
    uintptr_t Flags;
    struct {
        WVM_WSEX_VALID_BITS
    } v;
    struct {
        WVM_WSEX_INVALID_BITS
    } Invalid;
} wvm_PSAPI_WORKING_SET_EX_BLOCK;

typedef struct wvm_PSAPI_WORKING_SET_EX_INFORMATION {
    void *VirtualAddress;
    wvm_PSAPI_WORKING_SET_EX_BLOCK VirtualAttributes;
} wvm_PSAPI_WORKING_SET_EX_INFORMATION;

/* These return a Windows error code (ERROR_SUCCESS, or ERROR_BUSY from Reclaim when the
 * contents were discarded) and leave the thread's last error alone, as Windows does. */
WVM_API uint32_t wvm_DiscardVirtualMemory(void *VirtualAddress, size_t Size);
WVM_API uint32_t wvm_OfferVirtualMemory(void *VirtualAddress, size_t Size, uint32_t Priority);
WVM_API uint32_t wvm_ReclaimVirtualMemory(const void *VirtualAddress, size_t Size);
/* hProcess must be wvm_GetCurrentProcess() in all of these (else ERROR_INVALID_HANDLE). */
WVM_API int wvm_PrefetchVirtualMemory(void *hProcess, uintptr_t NumberOfEntries,
                                      wvm_WIN32_MEMORY_RANGE_ENTRY *VirtualAddresses,
                                      uint32_t Flags);
/* pv: an array of wvm_PSAPI_WORKING_SET_EX_INFORMATION, cb its size in bytes. */
WVM_API int wvm_QueryWorkingSetEx(void *hProcess, void *pv, uint32_t cb);
WVM_API int wvm_GetProcessWorkingSetSize(void *hProcess, size_t *lpMinimumWorkingSetSize,
                                         size_t *lpMaximumWorkingSetSize);
WVM_API int wvm_GetProcessWorkingSetSizeEx(void *hProcess, size_t *lpMinimumWorkingSetSize,
                                           size_t *lpMaximumWorkingSetSize, uint32_t *Flags);
/* The minimum working set bounds what VirtualLock can lock (the minimum minus a small
 * overhead, as on Windows); (SIZE_T)-1 for both trims the working set (doc/windows-semantics.md).
 */
WVM_API int wvm_SetProcessWorkingSetSize(void *hProcess, size_t dwMinimumWorkingSetSize,
                                         size_t dwMaximumWorkingSetSize);
WVM_API int wvm_SetProcessWorkingSetSizeEx(void *hProcess, size_t dwMinimumWorkingSetSize,
                                           size_t dwMaximumWorkingSetSize, uint32_t Flags);
/* VirtualAllocEx with a preferred NUMA node for the pages of a new allocation (the kernel's
 * MPOL_PREFERRED policy); nndPreferred WVM_NUMA_NO_PREFERRED_NODE for none. */
WVM_API void *wvm_VirtualAllocExNuma(void *hProcess, void *lpAddress, size_t dwSize,
                                     uint32_t flAllocationType, uint32_t flProtect,
                                     uint32_t nndPreferred);

/* ---- structured exceptions (vectored handlers only) --------------------------------------- */

#define WVM_EXCEPTION_MAXIMUM_PARAMETERS 15
#define WVM_EXCEPTION_CONTINUE_EXECUTION (-1)
#define WVM_EXCEPTION_CONTINUE_SEARCH    0

typedef struct wvm_EXCEPTION_RECORD {
    uint32_t ExceptionCode;
    uint32_t ExceptionFlags;
    struct wvm_EXCEPTION_RECORD *ExceptionRecord;
    void *ExceptionAddress;
    uint32_t NumberParameters;
    uintptr_t ExceptionInformation[WVM_EXCEPTION_MAXIMUM_PARAMETERS];
} wvm_EXCEPTION_RECORD;

/* ContextRecord points to the ucontext_t the kernel delivered with the signal. */
typedef struct wvm_EXCEPTION_POINTERS {
    wvm_EXCEPTION_RECORD *ExceptionRecord;
    void *ContextRecord;
} wvm_EXCEPTION_POINTERS;

typedef int32_t (*wvm_PVECTORED_EXCEPTION_HANDLER)(wvm_EXCEPTION_POINTERS *ExceptionInfo);

WVM_API void *wvm_AddVectoredExceptionHandler(uint32_t First,
                                              wvm_PVECTORED_EXCEPTION_HANDLER Handler);
WVM_API uint32_t wvm_RemoveVectoredExceptionHandler(void *Handle);

#ifdef __cplusplus
}
#endif

#include "sections.h" /* sections, views, placeholders, VirtualAlloc2 */
#endif
