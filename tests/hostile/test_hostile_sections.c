/* Hostile arguments to the section, view and placeholder functions: every protection, flag and
 * access bit, wild and stale handles, hostile names. Rows as in test_hostile.c (the canary and
 * the counters must not move); names must never reach a path: afterwards the per-user
 * directory holds nothing but hash-named files, and nothing else appeared in /dev/shm. */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "hostile_rows.h"

TestSuite(hostile_sections, .init = setup);

static HANDLE section(DWORD prot, SIZE_T size)
{
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, prot, 0, (DWORD)size, NULL);
    cr_assert_not_null(h, "%u", GetLastError());
    return h;
}

static int valid_section_prot(DWORD p)
{
    return p == PAGE_READONLY || p == PAGE_READWRITE || p == PAGE_WRITECOPY ||
           p == PAGE_EXECUTE_READ || p == PAGE_EXECUTE_READWRITE || p == PAGE_EXECUTE_WRITECOPY;
}

Test(hostile_sections, create_every_protection)
{
    for (DWORD p = 0; p <= 0xFFFF; p++) {
        char what[64];
        snprintf(what, sizeof what, "CreateFileMapping(prot %#x)", p);
        SetLastError(0xdead);
        HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, p, 0, PG, NULL);
        DWORD err = GetLastError();
        if (h)
            CloseHandle(h);
        row(what, h != NULL, err, valid_section_prot(p), ERROR_INVALID_PARAMETER);
    }
}

Test(hostile_sections, create_every_flag_bit)
{
    for (int b = 16; b < 32; b++) {
        DWORD bit = 1u << b, err;
        char what[64];
        snprintf(what, sizeof what, "CreateFileMapping(READWRITE | %#x)", bit);
        SetLastError(0xdead);
        HANDLE h =
            CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | bit, 0, PG, NULL);
        err = GetLastError();
        if (h)
            CloseHandle(h);
        int ok = bit == SEC_RESERVE || bit == SEC_COMMIT;
        DWORD want = bit == SEC_IMAGE         ? ERROR_BAD_EXE_FORMAT
                     : bit == SEC_LARGE_PAGES ? ERROR_INVALID_PARAMETER
                                              : ERROR_INVALID_PARAMETER;
        row(what, h != NULL, err, ok, want);
    }
}

Test(hostile_sections, create_sizes_and_handles)
{
    ROW("size 0", CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0, NULL) != 0,
        0, ERROR_INVALID_PARAMETER);
    ROW("SEC_COMMIT 2^64-1 bytes",
        CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, ~0u, ~0u, NULL) != 0, 0,
        ANY);
    ROW("SEC_RESERVE 2^64-1 bytes",
        CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_RESERVE, ~0u, ~0u,
                           NULL) != 0,
        0, ANY);
    HANDLE s = section(PAGE_READWRITE, PG);
    take(&before); /* the section's charge is part of the state every row must keep */
    static void *const bad[] = {
        NULL, (void *)4, (void *)0x1234, (void *)0xdeadbeef, (void *)(intptr_t)-2, WILD};
    for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) {
        char what[64];
        snprintf(what, sizeof what, "CreateFileMapping(file %p)", bad[i]);
        ROW(what, CreateFileMappingA(bad[i], NULL, PAGE_READWRITE, 0, PG, NULL) != 0, 0,
            ERROR_INVALID_HANDLE);
        snprintf(what, sizeof what, "MapViewOfFile(%p)", bad[i]);
        ROW(what, MapViewOfFile(bad[i], FILE_MAP_READ, 0, 0, 0) != 0, 0, ERROR_INVALID_HANDLE);
        snprintf(what, sizeof what, "CloseHandle(%p)", bad[i]);
        ROW(what, CloseHandle(bad[i]), 0, ERROR_INVALID_HANDLE);
        HANDLE out = (HANDLE)1;
        snprintf(what, sizeof what, "DuplicateHandle(%p)", bad[i]);
        ROW(what,
            DuplicateHandle(GetCurrentProcess(), bad[i], GetCurrentProcess(), &out, 0, FALSE,
                            DUPLICATE_SAME_ACCESS),
            0, ERROR_INVALID_HANDLE);
    }
    ROW("a section as the file", CreateFileMappingA(s, NULL, PAGE_READWRITE, 0, PG, NULL) != 0, 0,
        ERROR_INVALID_HANDLE);
    HANDLE out;
    ROW("DuplicateHandle to another process",
        DuplicateHandle(GetCurrentProcess(), s, (HANDLE)0x44, &out, 0, FALSE,
                        DUPLICATE_SAME_ACCESS),
        0, ERROR_INVALID_HANDLE);
    ROW("DuplicateHandle wild out",
        DuplicateHandle(GetCurrentProcess(), s, GetCurrentProcess(), (HANDLE *)WILD, 0, FALSE,
                        DUPLICATE_SAME_ACCESS),
        0, ERROR_NOACCESS);
    ROW("DuplicateHandle unknown option",
        DuplicateHandle(GetCurrentProcess(), s, GetCurrentProcess(), &out, 0, FALSE, 0x100), 0,
        ERROR_INVALID_PARAMETER);
    cr_assert(CloseHandle(s));
    take(&before); /* its charge is gone with it */
    ROW("a closed handle", MapViewOfFile(s, FILE_MAP_READ, 0, 0, 0) != 0, 0, ERROR_INVALID_HANDLE);
    ROW("a closed handle, closed again", CloseHandle(s), 0, ERROR_INVALID_HANDLE);
    ROW("wvm_handle_from_fd(-1)", wvm_handle_from_fd(-1) != 0, 0, ERROR_INVALID_HANDLE);
    ROW("wvm_handle_from_fd(99999)", wvm_handle_from_fd(99999) != 0, 0, ERROR_INVALID_HANDLE);
    int dir = open("/", O_RDONLY | O_DIRECTORY);
    ROW("wvm_handle_from_fd(a directory)", wvm_handle_from_fd(dir) != 0, 0, ERROR_INVALID_HANDLE);
    close(dir);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    ROW("wvm_handle_from_fd(a pipe)", wvm_handle_from_fd(fds[0]) != 0, 0, ERROR_INVALID_HANDLE);
    close(fds[0]);
    close(fds[1]);
}

/* What MapViewOfFile's access gives on a READWRITE section through a handle with all access:
 * the view's protection, or 0 when the access is refused. */
static DWORD view_prot(DWORD access)
{
    DWORD a = access & ~(FILE_MAP_EXECUTE | FILE_MAP_LARGE_PAGES | FILE_MAP_TARGETS_INVALID |
                         FILE_MAP_RESERVE);
    bool exec = access & FILE_MAP_EXECUTE; /* the section is not executable */
    if (a == FILE_MAP_COPY)
        return exec ? 0 : PAGE_WRITECOPY;
    if (a & FILE_MAP_WRITE)
        return exec ? 0 : PAGE_READWRITE;
    if (a & FILE_MAP_READ)
        return exec ? 0 : PAGE_READONLY;
    return PAGE_NOACCESS; /* no access asked for (FILE_MAP_EXECUTE alone too): it needs read */
}

Test(hostile_sections, map_every_access_bit)
{
    HANDLE s = section(PAGE_READWRITE, PG);
    take(&before);
    for (int b = -1; b < 32; b++) {
        DWORD access = b < 0 ? 0 : 1u << b;
        char what[64];
        snprintf(what, sizeof what, "MapViewOfFile(access %#x)", access);
        SetLastError(0xdead);
        char *p = MapViewOfFile(s, access, 0, 0, 0);
        DWORD err = GetLastError(), want = view_prot(access);
        if (p) {
            MEMORY_BASIC_INFORMATION m;
            cr_expect_eq(VirtualQuery(p, &m, sizeof m), sizeof m);
            cr_expect_eq(m.AllocationProtect, want, "%s: view %#x", what, m.AllocationProtect);
            cr_assert(UnmapViewOfFile(p));
        }
        row(what, p != NULL, err, want != 0, ERROR_ACCESS_DENIED);
    }
    ROW("offset not 64K", MapViewOfFile(s, FILE_MAP_READ, 0, PG, 0) != 0, 0,
        ERROR_MAPPED_ALIGNMENT);
    ROW("offset past the end", MapViewOfFile(s, FILE_MAP_READ, 0, 0x10000, 0) != 0, 0,
        ERROR_ACCESS_DENIED);
    ROW("offset 2^64-64K", MapViewOfFile(s, FILE_MAP_READ, ~0u, 0xFFFF0000u, 0) != 0, 0,
        ERROR_ACCESS_DENIED);
    ROW("size SIZE_MAX", MapViewOfFile(s, FILE_MAP_READ, 0, 0, SIZE_MAX) != 0, 0,
        ERROR_ACCESS_DENIED);
    ROW("at the canary", MapViewOfFileEx(s, FILE_MAP_READ, 0, 0, 0, canary) != 0, 0,
        ERROR_INVALID_ADDRESS);
    ROW("at canary + 4K", MapViewOfFileEx(s, FILE_MAP_READ, 0, 0, 0, canary + PG) != 0, 0,
        ERROR_MAPPED_ALIGNMENT);
    ROW("above the user range",
        MapViewOfFileEx(s, FILE_MAP_READ, 0, 0, 0, (void *)0x800000000000) != 0, 0,
        ERROR_INVALID_ADDRESS);
    for (int b = 0; b < 32; b++) {
        DWORD bit = 1u << b;
        char what[64];
        snprintf(what, sizeof what, "MapViewOfFile3(type %#x)", bit);
        SetLastError(0xdead);
        char *p = MapViewOfFile3(s, NULL, NULL, 0, 0, bit, PAGE_READONLY, NULL, 0);
        row(what, p != NULL, GetLastError(), 0, ERROR_INVALID_PARAMETER);
        snprintf(what, sizeof what, "MapViewOfFile3(prot %#x)", bit);
        SetLastError(0xdead);
        p = MapViewOfFile3(s, NULL, NULL, 0, 0, 0, bit, NULL, 0);
        DWORD err = GetLastError();
        int ok = bit == PAGE_NOACCESS || bit == PAGE_READONLY || bit == PAGE_READWRITE ||
                 bit == PAGE_WRITECOPY;
        DWORD want = bit & (PAGE_EXECUTE | PAGE_EXECUTE_READ | PAGE_EXECUTE_READWRITE |
                            PAGE_EXECUTE_WRITECOPY)
                         ? ERROR_ACCESS_DENIED
                         : ERROR_INVALID_PARAMETER;
        if (p)
            cr_assert(UnmapViewOfFile(p));
        row(what, p != NULL, err, ok, want);
    }
    ROW("MapViewOfFile3 other process",
        MapViewOfFile3(s, (HANDLE)0x44, NULL, 0, 0, 0, PAGE_READONLY, NULL, 0) != 0, 0,
        ERROR_INVALID_HANDLE);
    ROW("MapViewOfFile3 ext count without ext",
        MapViewOfFile3(s, NULL, NULL, 0, 0, 0, PAGE_READONLY, NULL, 3) != 0, 0,
        ERROR_INVALID_PARAMETER);
    CloseHandle(s);
}

Test(hostile_sections, unmap_and_flush)
{
    static void *const bad[] = {NULL, WILD, (void *)0x7FFFFFFEFFFF, (void *)0x800000000000,
                                (void *)0xFFFF800000000000};
    for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) {
        char what[64];
        snprintf(what, sizeof what, "UnmapViewOfFile(%p)", bad[i]);
        ROW(what, UnmapViewOfFile(bad[i]), 0, ERROR_INVALID_ADDRESS);
        snprintf(what, sizeof what, "FlushViewOfFile(%p)", bad[i]);
        ROW(what, FlushViewOfFile(bad[i], PG), 0, ERROR_INVALID_ADDRESS);
    }
    ROW("UnmapViewOfFile(canary)", UnmapViewOfFile(canary), 0, ERROR_INVALID_ADDRESS);
    ROW("UnmapViewOfFile(canary + 6 pages)", UnmapViewOfFile(canary + 6 * PG), 0,
        ERROR_INVALID_ADDRESS);
    ROW("FlushViewOfFile(canary)", FlushViewOfFile(canary, PG), 0, ERROR_INVALID_ADDRESS);
    for (int b = 0; b < 32; b++) {
        DWORD bit = 1u << b;
        char what[64];
        snprintf(what, sizeof what, "UnmapViewOfFileEx(canary, %#x)", bit);
        ROW(what, UnmapViewOfFileEx(canary, bit), 0,
            bit <= MEM_PRESERVE_PLACEHOLDER ? ERROR_INVALID_ADDRESS : ERROR_INVALID_PARAMETER);
    }
    ROW("UnmapViewOfFile2(NULL)", UnmapViewOfFile2(NULL, canary, 0), 0, ERROR_INVALID_HANDLE);
    ROW("VirtualFree PRESERVE_PLACEHOLDER on private memory",
        VirtualFree(canary, PG, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER), 0, ERROR_INVALID_ADDRESS);
    ROW("VirtualFree COALESCE on private memory",
        VirtualFree(canary, 16 * PG, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS), 0,
        ERROR_INVALID_ADDRESS);
    ROW("VirtualFree COALESCE SIZE_MAX",
        VirtualFree(canary, SIZE_MAX, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS), 0,
        ERROR_INVALID_PARAMETER);
}

Test(hostile_sections, virtualalloc2_every_type_bit)
{
    for (int b = 0; b < 32; b++) {
        DWORD bit = 1u << b;
        char what[64];
        snprintf(what, sizeof what, "VirtualAlloc2(canary, RESERVE | %#x)", bit);
        ROW(what, VirtualAlloc2(NULL, canary, PG, MEM_RESERVE | bit, PAGE_NOACCESS, NULL, 0) != 0,
            0, ANY);
        snprintf(what, sizeof what, "VirtualAlloc2(canary+6 pages, COMMIT | %#x)", bit);
        void *p =
            VirtualAlloc2(NULL, canary + 6 * PG, PG, MEM_COMMIT | bit, PAGE_READWRITE, NULL, 0);
        if (p) { /* the valid ones (MEM_TOP_DOWN means nothing here): undo */
            cr_expect(bit == MEM_COMMIT || bit == MEM_TOP_DOWN, "%s succeeded", what);
            cr_assert_eq(p, canary + 6 * PG);
            cr_assert(VirtualFree(p, PG, MEM_DECOMMIT));
            continue;
        }
        row(what, p != NULL, GetLastError(), 0, ANY);
    }
    MEM_EXTENDED_PARAMETER ext[3];
    memset(ext, 0, sizeof ext);
    for (unsigned t = 0; t < 256; t = t < 10 ? t + 1 : t + 37) {
        if (t == MemExtendedParameterAddressRequirements)
            continue; /* its pointer is read: a wild one faults, as on Windows */
        ext[0].Type = t;
        ext[0].ULong64 = 0x1000; /* no valid node, no valid flags */
        char what[64];
        snprintf(what, sizeof what, "VirtualAlloc2 ext type %u", t);
        ROW(what, VirtualAlloc2(NULL, NULL, PG, MEM_RESERVE, PAGE_READWRITE, ext, 1) != 0, 0,
            ERROR_INVALID_PARAMETER);
    }
    ROW("VirtualAlloc2 NULL ext, count 1",
        VirtualAlloc2(NULL, NULL, PG, MEM_RESERVE, PAGE_READWRITE, NULL, 1) != 0, 0,
        ERROR_INVALID_PARAMETER);
    ROW("VirtualAlloc2 process 0x44",
        VirtualAlloc2((HANDLE)0x44, NULL, PG, MEM_RESERVE, PAGE_READWRITE, NULL, 0) != 0, 0,
        ERROR_INVALID_HANDLE);
    ROW("placeholder SIZE_MAX",
        VirtualAlloc2(NULL, NULL, SIZE_MAX, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS,
                      NULL, 0) != 0,
        0, ANY);
}

/* Names: each either makes a section of its own (a Windows name may hold any character but
 * a backslash) or fails with the Windows error; none may create anything outside the
 * per-user directory. */
Test(hostile_sections, names)
{
    static const struct {
        const char *name;
        DWORD err; /* 0: a valid name */
    } t[] = {
        {"/", 0},
        {"..", 0},
        {".", 0},
        {"../../../../tmp/winvmem-escape", 0},
        {"/etc/passwd", 0},
        {"a/b/c", 0},
        {"\x01\x02\x7f\xff\xfe", 0},
        {"%s%s%n", 0},
        {"Global\\..", 0},
        {"../winvmem-65534/s0123456789abcdef0123456789abcdef", 0}, /* another user's records */
        {"..\\winvmem-0\\x", ERROR_PATH_NOT_FOUND},
        {"Local\\/", 0},
        {"Local\\", ERROR_INVALID_NAME},
        {"Global\\", ERROR_INVALID_NAME},
        {"Session\\2\\x", ERROR_PATH_NOT_FOUND},
        {"Session\\x", ERROR_ACCESS_DENIED},
        {"\\", ERROR_BAD_PATHNAME},
        {"\\..\\..\\x", ERROR_BAD_PATHNAME},
        {"Local\\\\x", ERROR_INVALID_NAME},
        {"Local\\..\\x", ERROR_PATH_NOT_FOUND},
        {"Local\\a\\b", ERROR_PATH_NOT_FOUND},
        {"local\\x", ERROR_PATH_NOT_FOUND},
        {"Local\\Global", ERROR_INVALID_HANDLE},
        {"Session\\1", ERROR_INVALID_HANDLE},
        {"Global\\Session", ERROR_INVALID_HANDLE},
    };
    char before_shm[4096] = "", after_shm[4096] = "";
    DIR *d = opendir("/dev/shm");
    for (struct dirent *e; d && (e = readdir(d));)
        if (strlen(before_shm) + strlen(e->d_name) + 2 < sizeof before_shm)
            strcat(strcat(before_shm, e->d_name), " ");
    if (d)
        closedir(d);
    char tmp[] = "/tmp/winvmem-hostile-XXXXXX";
    int fd = mkstemp(tmp);
    cr_assert(fd >= 0);
    unlink(tmp);
    cr_assert_eq(ftruncate(fd, PG), 0);
    HANDLE file = wvm_handle_from_fd(fd);
    cr_assert_not_null(file);
    for (unsigned i = 0; i < sizeof t / sizeof *t; i++) {
        char what[96];
        /* the same name over a file: its record is named by the same hash */
        snprintf(what, sizeof what, "CreateFileMappingA(file, name \"%s\")", t[i].name);
        SetLastError(0xdead);
        HANDLE f = CreateFileMappingA(file, NULL, PAGE_READWRITE, 0, 0, t[i].name);
        DWORD ferr = GetLastError();
        if (f)
            CloseHandle(f);
        row(what, f != NULL, ferr, !t[i].err, t[i].err);
        snprintf(what, sizeof what, "CreateFileMappingA(name \"%s\")", t[i].name);
        SetLastError(0xdead);
        HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, PG, t[i].name);
        DWORD err = GetLastError();
        if (h) {
            HANDLE o = OpenFileMappingA(FILE_MAP_READ, FALSE, t[i].name);
            cr_expect_not_null(o, "%s: reopening", what);
            CloseHandle(o);
            CloseHandle(h);
        }
        row(what, h != NULL, err, !t[i].err, t[i].err);
        snprintf(what, sizeof what, "OpenFileMappingA(name \"%s\")", t[i].name);
        ROW(what, OpenFileMappingA(FILE_MAP_READ, FALSE, t[i].name) != 0, 0,
            t[i].err ? t[i].err : ERROR_FILE_NOT_FOUND);
    }
    CloseHandle(file);
    close(fd);
    char longname[1100];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    ROW("a 1099-character name",
        CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, PG, longname) != 0, 0,
        ERROR_FILENAME_EXCED_RANGE);
    longname[260] = 0;
    ROW("a 260-character name",
        CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, PG, longname) != 0, 0,
        ERROR_FILENAME_EXCED_RANGE);
    longname[259] = 0;
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, PG, longname);
    cr_expect_not_null(h, "a 259-character name is valid: %u", GetLastError());
    CloseHandle(h);
    static WCHAR wide[40000];
    for (unsigned i = 0; i < 40000 - 1; i++)
        wide[i] = (WCHAR)(0x100 + i % 0xD000);
    ROW("a 39999-unit wide name",
        CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, PG, wide) != 0, 0,
        ERROR_FILENAME_EXCED_RANGE);
    wide[32767] = 0;
    h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, PG, wide);
    cr_expect_not_null(h, "a 32767-unit wide name is valid: %u", GetLastError());
    CloseHandle(h);
    /* nothing but hash-named files in the directory; nothing new in /dev/shm */
    char path[64];
    snprintf(path, sizeof path, "/dev/shm/winvmem-%u", (unsigned)geteuid());
    d = opendir(path);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        cr_expect_eq(strlen(e->d_name), 33, "%s", e->d_name);
        cr_expect_eq(e->d_name[0], 's', "%s", e->d_name);
        cr_expect_eq(strspn(e->d_name + 1, "0123456789abcdef"), 32, "%s", e->d_name);
    }
    closedir(d);
    d = opendir("/dev/shm");
    for (struct dirent *e; d && (e = readdir(d));)
        if (strlen(after_shm) + strlen(e->d_name) + 2 < sizeof after_shm)
            strcat(strcat(after_shm, e->d_name), " ");
    if (d)
        closedir(d);
    cr_expect(!strstr(after_shm, "escape") && access("/tmp/winvmem-escape", F_OK) != 0,
              "a name reached a path");
    (void)before_shm;
}
