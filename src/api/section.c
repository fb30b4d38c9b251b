/* CreateFileMapping, OpenFileMapping, CloseHandle, DuplicateHandle, wvm_handle_from_fd.
 *
 * Argument order as Windows' kernelbase checks it (Wine's conformance tests): the page
 * protection first (exactly one of READONLY, READWRITE, WRITECOPY, EXECUTE_READ,
 * EXECUTE_READWRITE, EXECUTE_WRITECOPY), then a pagefile section's size, then the file handle,
 * then the SEC_* flags, then the name. A successful create sets the last error to 0, or to
 * ERROR_ALREADY_EXISTS when the name named an existing section (whose handle it returns). */
#include "api/api.h"
#include "core/section.h"

#define SEC_MASK                                                                                   \
    (WVM_SEC_FILE | WVM_SEC_IMAGE | WVM_SEC_RESERVE | WVM_SEC_COMMIT | WVM_SEC_NOCACHE |           \
     WVM_SEC_WRITECOMBINE | WVM_SEC_LARGE_PAGES)
#define GENERIC_READ    0x80000000u
#define GENERIC_WRITE   0x40000000u
#define GENERIC_EXECUTE 0x20000000u
#define GENERIC_ALL     0x10000000u
#define MAXIMUM_ALLOWED 0x02000000u

static bool section_prot(uint32_t prot)
{
    switch (prot) {
    case WVM_PAGE_READONLY:
    case WVM_PAGE_READWRITE:
    case WVM_PAGE_WRITECOPY:
    case WVM_PAGE_EXECUTE_READ:
    case WVM_PAGE_EXECUTE_READWRITE:
    case WVM_PAGE_EXECUTE_WRITECOPY:
        return true;
    default:
        return false;
    }
}

/* The SEC_* combinations NtCreateSection accepts (Wine's test table, run on Windows). */
static uint32_t check_sec(uint32_t sec)
{
    uint32_t kind = sec & (WVM_SEC_RESERVE | WVM_SEC_COMMIT | WVM_SEC_IMAGE | WVM_SEC_FILE);
    if (sec & WVM_SEC_FILE)
        return WVM_ERROR_INVALID_PARAMETER;
    if (sec & WVM_SEC_IMAGE) /* PE images are not loaded: no file is a valid one */
        return kind == WVM_SEC_IMAGE && !(sec & (WVM_SEC_LARGE_PAGES | WVM_SEC_WRITECOMBINE))
                   ? WVM_ERROR_BAD_EXE_FORMAT
                   : WVM_ERROR_INVALID_PARAMETER;
    if (kind != WVM_SEC_RESERVE && kind != WVM_SEC_COMMIT)
        return WVM_ERROR_INVALID_PARAMETER;
    if ((sec & WVM_SEC_NOCACHE) && (sec & WVM_SEC_WRITECOMBINE))
        return WVM_ERROR_INVALID_PARAMETER;
    if (sec & WVM_SEC_LARGE_PAGES) /* SEC_COMMIT only; not implemented (doc/porting.md) */
        return kind == WVM_SEC_COMMIT ? WVM_ERROR_NOT_SUPPORTED : WVM_ERROR_INVALID_PARAMETER;
    return 0;
}

/* The access a handle made by CreateFileMapping has (kernelbase's choice per protection). */
static uint32_t create_access(uint32_t prot)
{
    return WVM_STANDARD_RIGHTS_REQUIRED | WVM_SECTION_QUERY | wvm__prot_rights(prot);
}

static void *create(void *hFile, uint32_t flProtect, uint64_t size, const wvm_secname *name,
                    uint32_t name_err)
{
    uint32_t sec = flProtect & SEC_MASK, prot = flProtect & ~SEC_MASK, err;
    if (!sec)
        sec = WVM_SEC_COMMIT;
    if (!section_prot(prot))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    wvm_file *file = NULL;
    if (hFile != WVM_INVALID_HANDLE_VALUE) {
        file = (wvm_file *)wvm__handle_get(hFile, WVM_OBJ_FILE, NULL);
        if (!file)
            return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, NULL);
    } else if (!size) {
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    }
    if (!(err = check_sec(sec)))
        err = name_err;
    wvm_section *s = NULL;
    bool existed = false;
    if (!err)
        err = wvm__section_create(file, size, prot, sec, name, &s, &existed);
    if (file)
        wvm__object_unref(&file->obj);
    void *h = NULL;
    if (!err && (err = wvm__handle_new(&s->obj, create_access(prot), &h))) {
        s->obj.handle_closed(&s->obj); /* its handle count, then its reference */
        wvm__object_unref(&s->obj);
    }
    wvm__after_call();
    if (err)
        return WVM_FAIL(err, NULL);
    wvm__set_error(existed ? WVM_ERROR_ALREADY_EXISTS : WVM_ERROR_SUCCESS);
    return h;
}

WVM_API void *wvm_CreateFileMappingA(void *hFile, wvm_SECURITY_ATTRIBUTES *lpFileMappingAttributes,
                                     uint32_t flProtect, uint32_t dwMaximumSizeHigh,
                                     uint32_t dwMaximumSizeLow, const char *lpName)
{
    (void)lpFileMappingAttributes; /* objects are always the caller's alone (mode 0600) */
    wvm_secname name;
    uint32_t err = wvm__secname_a(lpName, &name);
    if (err == WVM_ERROR_FILENAME_EXCED_RANGE) /* kernel32 converts the name first */
        return WVM_FAIL(err, NULL);
    void *h =
        create(hFile, flProtect, (uint64_t)dwMaximumSizeHigh << 32 | dwMaximumSizeLow, &name, err);
    wvm__secname_free(&name);
    return h;
}

WVM_API void *wvm_CreateFileMappingW(void *hFile, wvm_SECURITY_ATTRIBUTES *lpFileMappingAttributes,
                                     uint32_t flProtect, uint32_t dwMaximumSizeHigh,
                                     uint32_t dwMaximumSizeLow, const uint16_t *lpName)
{
    (void)lpFileMappingAttributes;
    wvm_secname name;
    uint32_t err = wvm__secname_w(lpName, &name);
    void *h =
        create(hFile, flProtect, (uint64_t)dwMaximumSizeHigh << 32 | dwMaximumSizeLow, &name, err);
    wvm__secname_free(&name);
    return h;
}

WVM_API void *wvm_CreateFileMappingFromApp(void *hFile, wvm_SECURITY_ATTRIBUTES *SecurityAttributes,
                                           uint32_t PageProtection, uint64_t MaximumSize,
                                           const uint16_t *Name)
{
    return wvm_CreateFileMappingW(hFile, SecurityAttributes, PageProtection,
                                  (uint32_t)(MaximumSize >> 32), (uint32_t)MaximumSize, Name);
}

/* Generic rights as a section maps them. */
static uint32_t open_access(uint32_t access)
{
    if (access == WVM_FILE_MAP_COPY)
        access = WVM_SECTION_MAP_READ; /* kernelbase: a copy is made from a read mapping */
    if (access & GENERIC_READ)
        access |= WVM_SECTION_QUERY | WVM_SECTION_MAP_READ;
    if (access & GENERIC_WRITE)
        access |= WVM_SECTION_MAP_WRITE;
    if (access & GENERIC_EXECUTE)
        access |= WVM_SECTION_MAP_EXECUTE;
    if (access & (GENERIC_ALL | MAXIMUM_ALLOWED))
        access |= WVM_SECTION_ALL_ACCESS;
    return access & (WVM_SECTION_ALL_ACCESS | WVM_SECTION_MAP_EXECUTE_EXPLICIT);
}

static void *open_named(uint32_t access, const wvm_secname *name, uint32_t name_err, bool from_app)
{
    uint32_t err = name_err;
    wvm_section *s = NULL;
    if (from_app)
        access &= ~(WVM_SECTION_MAP_EXECUTE | WVM_SECTION_MAP_EXECUTE_EXPLICIT);
    if (!err && !name->units)
        err = WVM_ERROR_INVALID_HANDLE; /* "": the namespace itself, not a section */
    if (!err)
        err = wvm__section_open(name, &s);
    void *h = NULL;
    if (!err && (err = wvm__handle_new(&s->obj, open_access(access), &h))) {
        s->obj.handle_closed(&s->obj);
        wvm__object_unref(&s->obj);
    }
    wvm__after_call();
    return err ? WVM_FAIL(err, NULL) : h;
}

WVM_API void *wvm_OpenFileMappingA(uint32_t dwDesiredAccess, int bInheritHandle, const char *lpName)
{
    (void)bInheritHandle; /* no child process inherits winvmem's handles */
    if (!lpName)
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    wvm_secname name;
    uint32_t err = wvm__secname_a(lpName, &name);
    void *h = open_named(dwDesiredAccess, &name, err, false);
    wvm__secname_free(&name);
    return h;
}

static void *open_w(uint32_t access, const uint16_t *lpName, bool from_app)
{
    if (!lpName)
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    wvm_secname name;
    uint32_t err = wvm__secname_w(lpName, &name);
    void *h = open_named(access, &name, err, from_app);
    wvm__secname_free(&name);
    return h;
}

WVM_API void *wvm_OpenFileMappingW(uint32_t dwDesiredAccess, int bInheritHandle,
                                   const uint16_t *lpName)
{
    (void)bInheritHandle;
    return open_w(dwDesiredAccess, lpName, false);
}

WVM_API void *wvm_OpenFileMappingFromApp(uint32_t DesiredAccess, int InheritHandle,
                                         const uint16_t *Name)
{
    (void)InheritHandle;
    return open_w(DesiredAccess, Name, true);
}

WVM_API int wvm_CloseHandle(void *hObject)
{
    if (hObject == WVM_CURRENT_PROCESS)
        return 1; /* closing a pseudo-handle does nothing, as on Windows */
    uint32_t err = wvm__handle_close(hObject);
    wvm__after_call();
    return err ? WVM_FAIL(err, 0) : 1;
}

WVM_API int wvm_DuplicateHandle(void *hSourceProcessHandle, void *hSourceHandle,
                                void *hTargetProcessHandle, void **lpTargetHandle,
                                uint32_t dwDesiredAccess, int bInheritHandle, uint32_t dwOptions)
{
    (void)bInheritHandle;
    if (hSourceProcessHandle != WVM_CURRENT_PROCESS || hTargetProcessHandle != WVM_CURRENT_PROCESS)
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, 0);
    if (dwOptions & ~(WVM_DUPLICATE_CLOSE_SOURCE | WVM_DUPLICATE_SAME_ACCESS))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    uint32_t access;
    wvm_object *o = wvm__handle_get(hSourceHandle, 0, &access);
    if (!o)
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, 0);
    if (!(dwOptions & WVM_DUPLICATE_SAME_ACCESS))
        access = o->kind == WVM_OBJ_SECTION ? open_access(dwDesiredAccess) : access;
    void *h = NULL;
    uint32_t err = 0;
    if (lpTargetHandle) {
        if (o->kind == WVM_OBJ_SECTION)
            wvm__section_handle_opened((wvm_section *)o);
        if ((err = wvm__handle_new(o, access, &h))) {
            if (o->handle_closed)
                o->handle_closed(o);
            wvm__object_unref(o);
        } else if (!wvm__user_write(lpTargetHandle, &h, sizeof h)) {
            wvm__handle_close(h);
            err = WVM_ERROR_NOACCESS;
        }
    } else {
        wvm__object_unref(o);
    }
    if (dwOptions & WVM_DUPLICATE_CLOSE_SOURCE)
        wvm__handle_close(hSourceHandle);
    return err ? WVM_FAIL(err, 0) : 1;
}

WVM_API void *wvm_handle_from_fd(int fd)
{
    wvm_file *f;
    uint32_t err = wvm__file_new(fd, &f);
    uint32_t access = 0;
    void *h = NULL;
    if (!err) {
        access = (f->info.readable ? GENERIC_READ : 0) | (f->info.writable ? GENERIC_WRITE : 0) |
                 (f->info.executable ? GENERIC_EXECUTE : 0);
        if ((err = wvm__handle_new(&f->obj, access, &h)))
            wvm__object_unref(&f->obj);
    }
    return err ? WVM_FAIL(err, NULL) : h;
}
