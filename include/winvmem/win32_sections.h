/* The Windows names of winvmem/sections.h (included by winvmem/win32.h, off Windows only):
 * file mappings, views, placeholders, VirtualAlloc2. Static inline functions over the wvm_
 * exports, so that each has an address. Wide strings are UTF-16 (WCHAR is 16 bits as on Windows; on Linux, L"" literals
 * are 32-bit wchar_t: use u"" or a conversion). */
#ifndef WINVMEM_WIN32_SECTIONS_H
#define WINVMEM_WIN32_SECTIONS_H

#include "sections.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint16_t WCHAR;
typedef const WCHAR *LPCWSTR;
typedef const WCHAR *PCWSTR;
typedef const char *LPCSTR;
typedef void **LPHANDLE;
typedef wvm_SECURITY_ATTRIBUTES SECURITY_ATTRIBUTES, *PSECURITY_ATTRIBUTES, *LPSECURITY_ATTRIBUTES;
typedef wvm_MEM_EXTENDED_PARAMETER MEM_EXTENDED_PARAMETER, *PMEM_EXTENDED_PARAMETER;
typedef wvm_MEM_ADDRESS_REQUIREMENTS MEM_ADDRESS_REQUIREMENTS, *PMEM_ADDRESS_REQUIREMENTS;
typedef enum wvm_MEM_EXTENDED_PARAMETER_TYPE MEM_EXTENDED_PARAMETER_TYPE;

#define MemExtendedParameterInvalidType         wvm_MemExtendedParameterInvalidType
#define MemExtendedParameterAddressRequirements wvm_MemExtendedParameterAddressRequirements
#define MemExtendedParameterNumaNode            wvm_MemExtendedParameterNumaNode
#define MemExtendedParameterPartitionHandle     wvm_MemExtendedParameterPartitionHandle
#define MemExtendedParameterUserPhysicalHandle  wvm_MemExtendedParameterUserPhysicalHandle
#define MemExtendedParameterAttributeFlags      wvm_MemExtendedParameterAttributeFlags
#define MemExtendedParameterImageMachine        wvm_MemExtendedParameterImageMachine
#define MemExtendedParameterMax                 wvm_MemExtendedParameterMax

#define SEC_FILE             WVM_SEC_FILE
#define SEC_IMAGE            WVM_SEC_IMAGE
#define SEC_RESERVE          WVM_SEC_RESERVE
#define SEC_COMMIT           WVM_SEC_COMMIT
#define SEC_NOCACHE          WVM_SEC_NOCACHE
#define SEC_WRITECOMBINE     WVM_SEC_WRITECOMBINE
#define SEC_LARGE_PAGES      WVM_SEC_LARGE_PAGES
#define SEC_IMAGE_NO_EXECUTE WVM_SEC_IMAGE_NO_EXECUTE

#define SECTION_QUERY                WVM_SECTION_QUERY
#define SECTION_MAP_WRITE            WVM_SECTION_MAP_WRITE
#define SECTION_MAP_READ             WVM_SECTION_MAP_READ
#define SECTION_MAP_EXECUTE          WVM_SECTION_MAP_EXECUTE
#define SECTION_EXTEND_SIZE          WVM_SECTION_EXTEND_SIZE
#define SECTION_MAP_EXECUTE_EXPLICIT WVM_SECTION_MAP_EXECUTE_EXPLICIT
#define SECTION_ALL_ACCESS           WVM_SECTION_ALL_ACCESS
#define STANDARD_RIGHTS_REQUIRED     WVM_STANDARD_RIGHTS_REQUIRED

#define FILE_MAP_COPY            WVM_FILE_MAP_COPY
#define FILE_MAP_WRITE           WVM_FILE_MAP_WRITE
#define FILE_MAP_READ            WVM_FILE_MAP_READ
#define FILE_MAP_EXECUTE         WVM_FILE_MAP_EXECUTE
#define FILE_MAP_ALL_ACCESS      WVM_FILE_MAP_ALL_ACCESS
#define FILE_MAP_LARGE_PAGES     WVM_FILE_MAP_LARGE_PAGES
#define FILE_MAP_TARGETS_INVALID WVM_FILE_MAP_TARGETS_INVALID
#define FILE_MAP_RESERVE         WVM_FILE_MAP_RESERVE

#define MEM_COALESCE_PLACEHOLDERS      WVM_MEM_COALESCE_PLACEHOLDERS
#define MEM_PRESERVE_PLACEHOLDER       WVM_MEM_PRESERVE_PLACEHOLDER
#define MEM_REPLACE_PLACEHOLDER        WVM_MEM_REPLACE_PLACEHOLDER
#define MEM_RESERVE_PLACEHOLDER        WVM_MEM_RESERVE_PLACEHOLDER
#define MEM_UNMAP_WITH_TRANSIENT_BOOST WVM_MEM_UNMAP_WITH_TRANSIENT_BOOST

#define DUPLICATE_CLOSE_SOURCE WVM_DUPLICATE_CLOSE_SOURCE
#define DUPLICATE_SAME_ACCESS  WVM_DUPLICATE_SAME_ACCESS

#define ERROR_FILE_NOT_FOUND       WVM_ERROR_FILE_NOT_FOUND
#define ERROR_PATH_NOT_FOUND       WVM_ERROR_PATH_NOT_FOUND
#define ERROR_ACCESS_DENIED        WVM_ERROR_ACCESS_DENIED
#define ERROR_DISK_FULL            WVM_ERROR_DISK_FULL
#define ERROR_INVALID_NAME         WVM_ERROR_INVALID_NAME
#define ERROR_BAD_PATHNAME         WVM_ERROR_BAD_PATHNAME
#define ERROR_ALREADY_EXISTS       WVM_ERROR_ALREADY_EXISTS
#define ERROR_BAD_EXE_FORMAT       WVM_ERROR_BAD_EXE_FORMAT
#define ERROR_FILENAME_EXCED_RANGE WVM_ERROR_FILENAME_EXCED_RANGE
#define ERROR_FILE_INVALID         WVM_ERROR_FILE_INVALID
#define ERROR_MAPPED_ALIGNMENT     WVM_ERROR_MAPPED_ALIGNMENT

static inline HANDLE CreateFileMappingA(HANDLE f, LPSECURITY_ATTRIBUTES sa, DWORD prot, DWORD hi,
                                        DWORD lo, LPCSTR name)
{
    return wvm_CreateFileMappingA(f, sa, prot, hi, lo, name);
}
static inline HANDLE CreateFileMappingW(HANDLE f, LPSECURITY_ATTRIBUTES sa, DWORD prot, DWORD hi,
                                        DWORD lo, LPCWSTR name)
{
    return wvm_CreateFileMappingW(f, sa, prot, hi, lo, name);
}
static inline HANDLE CreateFileMappingFromApp(HANDLE f, PSECURITY_ATTRIBUTES sa, ULONG prot,
                                              ULONG64 size, PCWSTR name)
{
    return wvm_CreateFileMappingFromApp(f, sa, prot, size, name);
}
static inline HANDLE OpenFileMappingA(DWORD access, BOOL inherit, LPCSTR name)
{
    return wvm_OpenFileMappingA(access, inherit, name);
}
static inline HANDLE OpenFileMappingW(DWORD access, BOOL inherit, LPCWSTR name)
{
    return wvm_OpenFileMappingW(access, inherit, name);
}
static inline HANDLE OpenFileMappingFromApp(ULONG access, BOOL inherit, PCWSTR name)
{
    return wvm_OpenFileMappingFromApp(access, inherit, name);
}
static inline BOOL CloseHandle(HANDLE h)
{
    return wvm_CloseHandle(h);
}
static inline BOOL DuplicateHandle(HANDLE sp, HANDLE h, HANDLE tp, LPHANDLE out, DWORD access,
                                   BOOL inherit, DWORD options)
{
    return wvm_DuplicateHandle(sp, h, tp, out, access, inherit, options);
}
static inline LPVOID MapViewOfFile(HANDLE h, DWORD access, DWORD hi, DWORD lo, SIZE_T n)
{
    return wvm_MapViewOfFile(h, access, hi, lo, n);
}
static inline LPVOID MapViewOfFileEx(HANDLE h, DWORD access, DWORD hi, DWORD lo, SIZE_T n,
                                     LPVOID base)
{
    return wvm_MapViewOfFileEx(h, access, hi, lo, n, base);
}
static inline PVOID MapViewOfFileFromApp(HANDLE h, ULONG access, ULONG64 offset, SIZE_T n)
{
    return wvm_MapViewOfFileFromApp(h, access, offset, n);
}
static inline PVOID MapViewOfFile3(HANDLE h, HANDLE process, PVOID base, ULONG64 offset,
                                   SIZE_T size, ULONG type, ULONG prot, MEM_EXTENDED_PARAMETER *ext,
                                   ULONG count)
{
    return wvm_MapViewOfFile3(h, process, base, offset, size, type, prot, ext, count);
}
static inline PVOID MapViewOfFile3FromApp(HANDLE h, HANDLE process, PVOID base, ULONG64 offset,
                                          SIZE_T size, ULONG type, ULONG prot,
                                          MEM_EXTENDED_PARAMETER *ext, ULONG count)
{
    return wvm_MapViewOfFile3FromApp(h, process, base, offset, size, type, prot, ext, count);
}
static inline BOOL UnmapViewOfFile(LPCVOID base)
{
    return wvm_UnmapViewOfFile(base);
}
static inline BOOL UnmapViewOfFileEx(PVOID base, ULONG flags)
{
    return wvm_UnmapViewOfFileEx(base, flags);
}
static inline BOOL UnmapViewOfFile2(HANDLE process, PVOID base, ULONG flags)
{
    return wvm_UnmapViewOfFile2(process, base, flags);
}
static inline BOOL FlushViewOfFile(LPCVOID base, SIZE_T n)
{
    return wvm_FlushViewOfFile(base, n);
}
static inline PVOID VirtualAlloc2(HANDLE process, PVOID base, SIZE_T size, ULONG type, ULONG prot,
                                  MEM_EXTENDED_PARAMETER *ext, ULONG count)
{
    return wvm_VirtualAlloc2(process, base, size, type, prot, ext, count);
}
static inline PVOID VirtualAlloc2FromApp(HANDLE process, PVOID base, SIZE_T size, ULONG type,
                                         ULONG prot, MEM_EXTENDED_PARAMETER *ext, ULONG count)
{
    return wvm_VirtualAlloc2FromApp(process, base, size, type, prot, ext, count);
}

#ifdef __cplusplus
}
#endif
#endif
