/* winvmem — sections (file mappings), views and placeholders: CreateFileMapping, MapViewOfFile,
 * VirtualAlloc2 and their relatives, with the wvm_ prefix (included by winvmem/vm.h; the
 * Windows spellings are in winvmem/win32.h).
 *
 * How they are simulated (see doc/porting.md and doc/windows-semantics.md):
 *   section      a memfd (INVALID_HANDLE_VALUE), the caller's file (wvm_handle_from_fd), or,
 *                when named, a mode-0600 file in /dev/shm/winvmem-<uid>/ that other processes
 *                of the same user open by name;
 *   view         MAP_SHARED (FILE_MAP_COPY: MAP_PRIVATE) of that file over winvmem's address
 *                space, 64 KiB aligned, MEM_MAPPED in VirtualQuery;
 *   placeholder  a reservation that views and private allocations replace in place.
 * Handles are winvmem's own (small integers, not descriptors); CloseHandle closes them. */
#ifndef WINVMEM_SECTIONS_H
#define WINVMEM_SECTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "vm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- numeric values of the Windows SDK ---------------------------------------------------- */

#define WVM_INVALID_HANDLE_VALUE ((void *)(intptr_t)-1)

#define WVM_SEC_FILE             0x00800000u
#define WVM_SEC_IMAGE            0x01000000u
#define WVM_SEC_RESERVE          0x04000000u
#define WVM_SEC_COMMIT           0x08000000u
#define WVM_SEC_NOCACHE          0x10000000u
#define WVM_SEC_WRITECOMBINE     0x40000000u
#define WVM_SEC_LARGE_PAGES      0x80000000u
#define WVM_SEC_IMAGE_NO_EXECUTE 0x11000000u

#define WVM_SECTION_QUERY                0x0001u
#define WVM_SECTION_MAP_WRITE            0x0002u
#define WVM_SECTION_MAP_READ             0x0004u
#define WVM_SECTION_MAP_EXECUTE          0x0008u
#define WVM_SECTION_EXTEND_SIZE          0x0010u
#define WVM_SECTION_MAP_EXECUTE_EXPLICIT 0x0020u
#define WVM_STANDARD_RIGHTS_REQUIRED     0x000F0000u
#define WVM_SECTION_ALL_ACCESS           0x000F001Fu

#define WVM_FILE_MAP_COPY            0x00000001u
#define WVM_FILE_MAP_WRITE           0x00000002u
#define WVM_FILE_MAP_READ            0x00000004u
#define WVM_FILE_MAP_EXECUTE         0x00000020u
#define WVM_FILE_MAP_ALL_ACCESS      WVM_SECTION_ALL_ACCESS
#define WVM_FILE_MAP_LARGE_PAGES     0x20000000u
#define WVM_FILE_MAP_TARGETS_INVALID 0x40000000u
#define WVM_FILE_MAP_RESERVE         0x80000000u

#define WVM_MEM_COALESCE_PLACEHOLDERS      0x00000001u
#define WVM_MEM_PRESERVE_PLACEHOLDER       0x00000002u
#define WVM_MEM_REPLACE_PLACEHOLDER        0x00004000u
#define WVM_MEM_RESERVE_PLACEHOLDER        0x00040000u
#define WVM_MEM_UNMAP_WITH_TRANSIENT_BOOST 0x00000001u

#define WVM_DUPLICATE_CLOSE_SOURCE 0x00000001u
#define WVM_DUPLICATE_SAME_ACCESS  0x00000002u

#define WVM_ERROR_FILE_NOT_FOUND       2u
#define WVM_ERROR_PATH_NOT_FOUND       3u
#define WVM_ERROR_ACCESS_DENIED        5u
#define WVM_ERROR_INVALID_NAME         123u
#define WVM_ERROR_BAD_PATHNAME         161u
#define WVM_ERROR_DISK_FULL            112u
#define WVM_ERROR_ALREADY_EXISTS       183u
#define WVM_ERROR_BAD_EXE_FORMAT       193u
#define WVM_ERROR_FILENAME_EXCED_RANGE 206u
#define WVM_ERROR_FILE_INVALID         1006u
#define WVM_ERROR_MAPPED_ALIGNMENT     1132u

/* ---- structures (Windows x64 layout) ------------------------------------------------------ */

typedef struct wvm_SECURITY_ATTRIBUTES {
    uint32_t nLength;
    void *lpSecurityDescriptor;
    int bInheritHandle;
} wvm_SECURITY_ATTRIBUTES;

enum wvm_MEM_EXTENDED_PARAMETER_TYPE {
    wvm_MemExtendedParameterInvalidType = 0,
    wvm_MemExtendedParameterAddressRequirements,
    wvm_MemExtendedParameterNumaNode,
    wvm_MemExtendedParameterPartitionHandle,
    wvm_MemExtendedParameterUserPhysicalHandle,
    wvm_MemExtendedParameterAttributeFlags,
    wvm_MemExtendedParameterImageMachine,
    wvm_MemExtendedParameterMax
};

/* The SDK wraps Type and Reserved in an anonymous struct; as plain bit-fields they have the
 * same layout and names, and stay ISO C++ (which has anonymous unions, not structs). */
typedef struct __attribute__((aligned(8))) wvm_MEM_EXTENDED_PARAMETER {
    uint64_t Type : 8;
    uint64_t Reserved : 56;
    union {
        uint64_t ULong64;
        void *Pointer;
        size_t Size;
        void *Handle;
        uint32_t ULong;
    };
} wvm_MEM_EXTENDED_PARAMETER;

typedef struct wvm_MEM_ADDRESS_REQUIREMENTS {
    void *LowestStartingAddress;
    void *HighestEndingAddress;
    size_t Alignment;
} wvm_MEM_ADDRESS_REQUIREMENTS;

/* ---- sections and handles ----------------------------------------------------------------- */

/* Whether wvm_handle_from_fd exists (file-backed sections). */
#define WVM_HAVE_FD_HANDLES 1

/* A file HANDLE for CreateFileMapping over the descriptor fd (a regular file). winvmem keeps its
 * own duplicate of fd, so the caller may close fd at once; CloseHandle closes the duplicate.
 * The handle's access is fixed now, from fd's open mode (O_RDONLY: GENERIC_READ, O_RDWR: read
 * and write) and, for execute, whether the caller may execute the file on a mount that allows
 * it. NULL with ERROR_INVALID_HANDLE when fd is not an open regular file. */
WVM_API void *wvm_handle_from_fd(int fd);

WVM_API void *wvm_CreateFileMappingA(void *hFile, wvm_SECURITY_ATTRIBUTES *lpFileMappingAttributes,
                                     uint32_t flProtect, uint32_t dwMaximumSizeHigh,
                                     uint32_t dwMaximumSizeLow, const char *lpName);
WVM_API void *wvm_CreateFileMappingW(void *hFile, wvm_SECURITY_ATTRIBUTES *lpFileMappingAttributes,
                                     uint32_t flProtect, uint32_t dwMaximumSizeHigh,
                                     uint32_t dwMaximumSizeLow, const uint16_t *lpName);
WVM_API void *wvm_CreateFileMappingFromApp(void *hFile, wvm_SECURITY_ATTRIBUTES *SecurityAttributes,
                                           uint32_t PageProtection, uint64_t MaximumSize,
                                           const uint16_t *Name);
WVM_API void *wvm_OpenFileMappingA(uint32_t dwDesiredAccess, int bInheritHandle,
                                   const char *lpName);
WVM_API void *wvm_OpenFileMappingW(uint32_t dwDesiredAccess, int bInheritHandle,
                                   const uint16_t *lpName);
WVM_API void *wvm_OpenFileMappingFromApp(uint32_t DesiredAccess, int InheritHandle,
                                         const uint16_t *Name);
WVM_API int wvm_CloseHandle(void *hObject);
/* Same process only: both process handles must be wvm_GetCurrentProcess(). */
WVM_API int wvm_DuplicateHandle(void *hSourceProcessHandle, void *hSourceHandle,
                                void *hTargetProcessHandle, void **lpTargetHandle,
                                uint32_t dwDesiredAccess, int bInheritHandle, uint32_t dwOptions);

/* ---- views -------------------------------------------------------------------------------- */

WVM_API void *wvm_MapViewOfFile(void *hFileMappingObject, uint32_t dwDesiredAccess,
                                uint32_t dwFileOffsetHigh, uint32_t dwFileOffsetLow,
                                size_t dwNumberOfBytesToMap);
WVM_API void *wvm_MapViewOfFileEx(void *hFileMappingObject, uint32_t dwDesiredAccess,
                                  uint32_t dwFileOffsetHigh, uint32_t dwFileOffsetLow,
                                  size_t dwNumberOfBytesToMap, void *lpBaseAddress);
WVM_API void *wvm_MapViewOfFileFromApp(void *hFileMappingObject, uint32_t DesiredAccess,
                                       uint64_t FileOffset, size_t NumberOfBytesToMap);
WVM_API void *wvm_MapViewOfFile3(void *FileMapping, void *Process, void *BaseAddress,
                                 uint64_t Offset, size_t ViewSize, uint32_t AllocationType,
                                 uint32_t PageProtection,
                                 wvm_MEM_EXTENDED_PARAMETER *ExtendedParameters,
                                 uint32_t ParameterCount);
WVM_API void *wvm_MapViewOfFile3FromApp(void *FileMapping, void *Process, void *BaseAddress,
                                        uint64_t Offset, size_t ViewSize, uint32_t AllocationType,
                                        uint32_t PageProtection,
                                        wvm_MEM_EXTENDED_PARAMETER *ExtendedParameters,
                                        uint32_t ParameterCount);
WVM_API int wvm_UnmapViewOfFile(const void *lpBaseAddress);
WVM_API int wvm_UnmapViewOfFileEx(void *BaseAddress, uint32_t UnmapFlags);
WVM_API int wvm_UnmapViewOfFile2(void *Process, void *BaseAddress, uint32_t UnmapFlags);
WVM_API int wvm_FlushViewOfFile(const void *lpBaseAddress, size_t dwNumberOfBytesToFlush);

/* ---- VirtualAlloc2 and placeholders ------------------------------------------------------- */

/* Process: NULL or wvm_GetCurrentProcess(). */
WVM_API void *wvm_VirtualAlloc2(void *Process, void *BaseAddress, size_t Size,
                                uint32_t AllocationType, uint32_t PageProtection,
                                wvm_MEM_EXTENDED_PARAMETER *ExtendedParameters,
                                uint32_t ParameterCount);
WVM_API void *wvm_VirtualAlloc2FromApp(void *Process, void *BaseAddress, size_t Size,
                                       uint32_t AllocationType, uint32_t PageProtection,
                                       wvm_MEM_EXTENDED_PARAMETER *ExtendedParameters,
                                       uint32_t ParameterCount);

#ifdef __cplusplus
}
#endif
#endif
