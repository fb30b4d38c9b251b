/* Opt-in Windows names for winvmem: types, constants and functions spelled as in the Windows
 * SDK, so that code written for memoryapi.h compiles unchanged. Everything here is a typedef,
 * a macro or a static inline wrapper over the wvm_ functions of winvmem/vm.h; the library
 * exports no unprefixed symbol. Include it in translation units that want the Windows
 * spelling, and nowhere else (the names are short and may clash with other code). */
#ifndef WINVMEM_WIN32_H
#define WINVMEM_WIN32_H

#include "vm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t DWORD;
typedef uint16_t WORD;
typedef uint8_t BYTE;
typedef int BOOL;
typedef unsigned int UINT;
typedef uint64_t DWORDLONG;
typedef uint64_t ULONG64;
typedef size_t SIZE_T;
typedef uintptr_t ULONG_PTR;
typedef uintptr_t DWORD_PTR;
typedef intptr_t LONG_PTR;
typedef int32_t LONG;
typedef uint32_t ULONG;
typedef ULONG *PULONG;
typedef void *PVOID;
typedef void *LPVOID;
typedef const void *LPCVOID;
typedef void *HANDLE;
typedef DWORD *PDWORD;
typedef ULONG_PTR *PULONG_PTR;

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#define WINAPI
#define NTAPI

typedef wvm_MEMORY_BASIC_INFORMATION MEMORY_BASIC_INFORMATION, *PMEMORY_BASIC_INFORMATION;
typedef wvm_SYSTEM_INFO SYSTEM_INFO, *LPSYSTEM_INFO;
typedef wvm_MEMORYSTATUSEX MEMORYSTATUSEX, *LPMEMORYSTATUSEX;
typedef wvm_EXCEPTION_RECORD EXCEPTION_RECORD, *PEXCEPTION_RECORD;
typedef wvm_EXCEPTION_POINTERS EXCEPTION_POINTERS, *PEXCEPTION_POINTERS;
typedef wvm_PVECTORED_EXCEPTION_HANDLER PVECTORED_EXCEPTION_HANDLER;

/* Field names of SYSTEM_INFO's anonymous union, as the SDK spells them. */
#define wProcessorArchitecture u.s.wProcessorArchitecture

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

#define ERROR_SUCCESS             WVM_ERROR_SUCCESS
#define ERROR_INVALID_HANDLE      WVM_ERROR_INVALID_HANDLE
#define ERROR_NOT_SUPPORTED       WVM_ERROR_NOT_SUPPORTED
#define ERROR_NOT_ENOUGH_MEMORY   WVM_ERROR_NOT_ENOUGH_MEMORY
#define ERROR_OUTOFMEMORY         WVM_ERROR_OUTOFMEMORY
#define ERROR_BAD_LENGTH          WVM_ERROR_BAD_LENGTH
#define ERROR_INVALID_PARAMETER   WVM_ERROR_INVALID_PARAMETER
#define ERROR_NOT_LOCKED          WVM_ERROR_NOT_LOCKED
#define ERROR_INVALID_ADDRESS     WVM_ERROR_INVALID_ADDRESS
#define ERROR_NOACCESS            WVM_ERROR_NOACCESS
#define ERROR_PRIVILEGE_NOT_HELD  WVM_ERROR_PRIVILEGE_NOT_HELD
#define ERROR_NO_SYSTEM_RESOURCES WVM_ERROR_NO_SYSTEM_RESOURCES
#define ERROR_WORKING_SET_QUOTA   WVM_ERROR_WORKING_SET_QUOTA
#define ERROR_COMMITMENT_LIMIT    WVM_ERROR_COMMITMENT_LIMIT

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
static inline void GetSystemInfo(LPSYSTEM_INFO i)
{
    wvm_GetSystemInfo(i);
}
static inline void GetNativeSystemInfo(LPSYSTEM_INFO i)
{
    wvm_GetSystemInfo(i);
}
static inline BOOL GlobalMemoryStatusEx(LPMEMORYSTATUSEX m)
{
    return wvm_GlobalMemoryStatusEx(m);
}
static inline DWORD GetLastError(void)
{
    return wvm_GetLastError();
}
static inline void SetLastError(DWORD e)
{
    wvm_SetLastError(e);
}
static inline PVOID VirtualAllocFromApp(PVOID a, SIZE_T s, ULONG t, ULONG p)
{
    return wvm_VirtualAllocFromApp(a, s, t, p);
}
static inline BOOL VirtualProtectFromApp(PVOID a, SIZE_T s, ULONG p, PULONG old)
{
    return wvm_VirtualProtectFromApp(a, s, p, old);
}
static inline BOOL VirtualLock(LPVOID a, SIZE_T s)
{
    return wvm_VirtualLock(a, s);
}
static inline BOOL VirtualUnlock(LPVOID a, SIZE_T s)
{
    return wvm_VirtualUnlock(a, s);
}
static inline HANDLE GetCurrentProcess(void)
{
    return wvm_GetCurrentProcess();
}
static inline BOOL FlushInstructionCache(HANDLE h, LPCVOID a, SIZE_T s)
{
    return wvm_FlushInstructionCache(h, a, s);
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
static inline PVOID AddVectoredExceptionHandler(ULONG first, PVECTORED_EXCEPTION_HANDLER h)
{
    return wvm_AddVectoredExceptionHandler(first, h);
}
static inline ULONG RemoveVectoredExceptionHandler(PVOID h)
{
    return wvm_RemoveVectoredExceptionHandler(h);
}

#ifdef __cplusplus
}
#endif

#include "win32_sections.h" /* file mappings, views, placeholders, VirtualAlloc2 */
#endif
