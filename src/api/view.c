/* MapViewOfFile and its relatives, UnmapViewOfFile*, FlushViewOfFile.
 *
 * Windows' rules (kernelbase and NtMapViewOfSection, as Wine's conformance tests show them on
 * Windows): the desired access becomes a page protection (FILE_MAP_COPY alone: WRITECOPY,
 * with FILE_MAP_WRITE: READWRITE, with FILE_MAP_READ: READONLY, else NOACCESS; FILE_MAP_EXECUTE
 * adds execute); the rights that protection needs (a NOACCESS view needs read) must be granted
 * to the handle and allowed by the section's protection (ERROR_ACCESS_DENIED); the offset and
 * address are multiples of 64 KiB (ERROR_MAPPED_ALIGNMENT; page multiples when replacing a
 * placeholder); a view may not reach past the section (ERROR_ACCESS_DENIED). */
#include "api/api.h"
#include "core/view.h"
#include "fault/fault.h"

#define EXEC_PROTS                                                                                 \
    (WVM_PAGE_EXECUTE | WVM_PAGE_EXECUTE_READ | WVM_PAGE_EXECUTE_READWRITE |                       \
     WVM_PAGE_EXECUTE_WRITECOPY)

static uint32_t prot_of_access(uint32_t access)
{
    bool exec = access & WVM_FILE_MAP_EXECUTE;
    uint32_t a = access & ~(WVM_FILE_MAP_EXECUTE | WVM_FILE_MAP_LARGE_PAGES |
                            WVM_FILE_MAP_TARGETS_INVALID | WVM_FILE_MAP_RESERVE);
    if (a == WVM_FILE_MAP_COPY)
        return exec ? WVM_PAGE_EXECUTE_WRITECOPY : WVM_PAGE_WRITECOPY;
    if (a & WVM_FILE_MAP_WRITE)
        return exec ? WVM_PAGE_EXECUTE_READWRITE : WVM_PAGE_READWRITE;
    if (a & WVM_FILE_MAP_READ)
        return exec ? WVM_PAGE_EXECUTE_READ : WVM_PAGE_READONLY;
    return WVM_PAGE_NOACCESS;
}

/* The access a handle needs for a view of protection prot (NT's table: a read-write view needs
 * SECTION_MAP_WRITE alone, a NOACCESS one SECTION_MAP_READ). */
static uint32_t handle_need(uint32_t prot)
{
    switch (prot & 0xFFu) {
    case WVM_PAGE_READWRITE:
        return WVM_SECTION_MAP_WRITE;
    case WVM_PAGE_EXECUTE_READWRITE:
        return WVM_SECTION_MAP_WRITE | WVM_SECTION_MAP_EXECUTE;
    case WVM_PAGE_EXECUTE:
        return WVM_SECTION_MAP_EXECUTE;
    case WVM_PAGE_EXECUTE_READ:
    case WVM_PAGE_EXECUTE_WRITECOPY:
        return WVM_SECTION_MAP_EXECUTE | WVM_SECTION_MAP_READ;
    default:
        return WVM_SECTION_MAP_READ;
    }
}

static bool view_prot(uint32_t prot)
{
    uint32_t base = prot & 0xFFu;
    return prot == base && base && !(base & (base - 1));
}

typedef struct map_args {
    void *h;
    uint32_t prot;
    uint64_t offset;
    size_t size;
    uintptr_t want;
    bool replace;
    uintptr_t lo, hi; /* address requirements (hi 0: none) */
} map_args;

static uint32_t map(const map_args *m, void **out)
{
    /* NtMapViewOfSection checks the alignment of offset and address before it looks at the
     * handle (Wine's order too; the differential test found ours the other way round) */
    uint64_t align = m->replace ? WVM_PAGE : WVM_GRAN;
    if ((m->offset % align) || (m->want % align))
        return WVM_ERROR_MAPPED_ALIGNMENT;
    uint32_t access;
    wvm_section *s = (wvm_section *)wvm__handle_get(m->h, WVM_OBJ_SECTION, &access);
    if (!s)
        return WVM_ERROR_INVALID_HANDLE;
    /* the section's protection must allow the view's (read for NOACCESS) */
    uint32_t need = wvm__prot_rights(m->prot), hneed = handle_need(m->prot);
    if (!need)
        need = WVM_SECTION_MAP_READ;
    uint32_t err = 0;
    uint64_t size = m->size;
    if ((hneed & access) != hneed || (need & wvm__prot_rights(s->prot)) != need)
        err = WVM_ERROR_ACCESS_DENIED;
    else if (m->offset >= s->size || (size && size > s->size - m->offset))
        err = WVM_ERROR_ACCESS_DENIED; /* NT: STATUS_INVALID_VIEW_SIZE */
    /* other processes commit it: their pages become accessible here in the fault dispatcher */
    if (!err && wvm__section_shared(s))
        err = wvm__fault_need();
    if (!err && !size)
        size = s->size - m->offset;
    size = (size + WVM_PAGE - 1) & ~(uint64_t)(WVM_PAGE - 1);
    if (!err && m->want && (m->want < WVM_MIN_ADDR || m->want + size - 1 > wvm__max_app_address()))
        err = WVM_ERROR_INVALID_ADDRESS;
    wvm_view_req r = {s,
                      m->offset,
                      size,
                      m->prot,
                      (m->prot & 0xFFu) == WVM_PAGE_WRITECOPY ||
                          (m->prot & 0xFFu) == WVM_PAGE_EXECUTE_WRITECOPY,
                      m->want,
                      m->replace};
    uintptr_t base = 0;
    for (int tries = 0; !err && tries < 16; tries++) {
        if (m->hi && (err = wvm__space_find(m->lo, m->hi, size, WVM_GRAN, false, &r.want)))
            break;
        err = wvm__view_map(&r, &base);
        if (!m->hi || err != WVM_ERROR_INVALID_ADDRESS)
            break; /* else the candidate was taken meanwhile: look again */
    }
    wvm__object_unref(&s->obj);
    if (!err)
        *out = (void *)base;
    return err;
}

static void *map_view(const map_args *m)
{
    void *p = NULL;
    uint32_t err = map(m, &p);
    wvm__after_call();
    return err ? WVM_FAIL(err, NULL) : p;
}

WVM_API void *wvm_MapViewOfFileEx(void *hFileMappingObject, uint32_t dwDesiredAccess,
                                  uint32_t dwFileOffsetHigh, uint32_t dwFileOffsetLow,
                                  size_t dwNumberOfBytesToMap, void *lpBaseAddress)
{
    map_args m = {hFileMappingObject,
                  prot_of_access(dwDesiredAccess),
                  (uint64_t)dwFileOffsetHigh << 32 | dwFileOffsetLow,
                  dwNumberOfBytesToMap,
                  (uintptr_t)lpBaseAddress,
                  false,
                  0,
                  0};
    return map_view(&m);
}

WVM_API void *wvm_MapViewOfFile(void *hFileMappingObject, uint32_t dwDesiredAccess,
                                uint32_t dwFileOffsetHigh, uint32_t dwFileOffsetLow,
                                size_t dwNumberOfBytesToMap)
{
    return wvm_MapViewOfFileEx(hFileMappingObject, dwDesiredAccess, dwFileOffsetHigh,
                               dwFileOffsetLow, dwNumberOfBytesToMap, NULL);
}

WVM_API void *wvm_MapViewOfFileFromApp(void *hFileMappingObject, uint32_t DesiredAccess,
                                       uint64_t FileOffset, size_t NumberOfBytesToMap)
{
    if (DesiredAccess & WVM_FILE_MAP_EXECUTE) /* app containers get no executable views */
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    return wvm_MapViewOfFileEx(hFileMappingObject, DesiredAccess, (uint32_t)(FileOffset >> 32),
                               (uint32_t)FileOffset, NumberOfBytesToMap, NULL);
}

static bool current_process(void *p)
{
    return !p || p == WVM_CURRENT_PROCESS;
}

WVM_API void *wvm_MapViewOfFile3(void *FileMapping, void *Process, void *BaseAddress,
                                 uint64_t Offset, size_t ViewSize, uint32_t AllocationType,
                                 uint32_t PageProtection,
                                 wvm_MEM_EXTENDED_PARAMETER *ExtendedParameters,
                                 uint32_t ParameterCount)
{
    if (!current_process(Process))
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, NULL);
    if ((AllocationType & ~WVM_MEM_REPLACE_PLACEHOLDER) || !view_prot(PageProtection))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    wvm_addr_req q;
    uint32_t err = wvm__ext_params(ExtendedParameters, ParameterCount, true, &q);
    if (!err && q.set && (BaseAddress || q.align))
        err = WVM_ERROR_INVALID_PARAMETER; /* views take no alignment requirement */
    if (err)
        return WVM_FAIL(err, NULL);
    bool replace = AllocationType & WVM_MEM_REPLACE_PLACEHOLDER;
    if (replace && !BaseAddress)
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    map_args m = {FileMapping, PageProtection,   Offset,          ViewSize, (uintptr_t)BaseAddress,
                  replace,     q.set ? q.lo : 0, q.set ? q.hi : 0};
    return map_view(&m);
}

WVM_API void *wvm_MapViewOfFile3FromApp(void *FileMapping, void *Process, void *BaseAddress,
                                        uint64_t Offset, size_t ViewSize, uint32_t AllocationType,
                                        uint32_t PageProtection,
                                        wvm_MEM_EXTENDED_PARAMETER *ExtendedParameters,
                                        uint32_t ParameterCount)
{
    if (PageProtection & EXEC_PROTS) /* app containers get no executable views */
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    return wvm_MapViewOfFile3(FileMapping, Process, BaseAddress, Offset, ViewSize, AllocationType,
                              PageProtection, ExtendedParameters, ParameterCount);
}

static int unmap(const void *addr, uint32_t flags)
{
    if (flags & ~(WVM_MEM_UNMAP_WITH_TRANSIENT_BOOST | WVM_MEM_PRESERVE_PLACEHOLDER))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    uint32_t err = (uintptr_t)addr > wvm__max_app_address()
                       ? WVM_ERROR_INVALID_ADDRESS
                       : wvm__view_unmap((uintptr_t)addr, flags & WVM_MEM_PRESERVE_PLACEHOLDER);
    wvm__after_call();
    return err ? WVM_FAIL(err, 0) : 1;
}

WVM_API int wvm_UnmapViewOfFile(const void *lpBaseAddress)
{
    return unmap(lpBaseAddress, 0);
}

WVM_API int wvm_UnmapViewOfFileEx(void *BaseAddress, uint32_t UnmapFlags)
{
    return unmap(BaseAddress, UnmapFlags);
}

WVM_API int wvm_UnmapViewOfFile2(void *Process, void *BaseAddress, uint32_t UnmapFlags)
{
    if (Process != WVM_CURRENT_PROCESS) /* NULL too: NtUnmapViewOfSectionEx wants a handle */
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, 0);
    return unmap(BaseAddress, UnmapFlags);
}

WVM_API int wvm_FlushViewOfFile(const void *lpBaseAddress, size_t dwNumberOfBytesToFlush)
{
    uintptr_t addr = (uintptr_t)lpBaseAddress;
    uint32_t err = addr > wvm__max_app_address() ? WVM_ERROR_INVALID_ADDRESS
                                                 : wvm__view_flush(addr, dwNumberOfBytesToFlush);
    return err ? WVM_FAIL(err, 0) : 1;
}
