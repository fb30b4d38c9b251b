/* Hostile records in the per-user directory of named sections: files of the user's own, made
 * malformed (truncated, another version, huge sizes, a path longer than the record, random
 * bytes over real records). Opening or creating the name must never crash and never succeed on
 * something made up: it fails with a Windows error, or opens a section that works. The file is
 * kept alive by a shared flock of our own, as a live holder's would be (else the opener removes
 * it as an orphan). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mbi.h"

static char dir[64];

/* The file that stands for name in the directory (in file, 64 bytes), and its bytes (*len). */
static void record_of(HANDLE h, const char *name, char *file, char *bytes, size_t *len)
{
    (void)h;
    snprintf(dir, sizeof dir, "/dev/shm/winvmem-%u", (unsigned)geteuid());
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    size_t n = strlen(name);
    int found = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[320], at[2 * 64];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t got = pread(fd, at, 2 * n, 64); /* the name, UTF-16, at offset 64 */
        int same = got == (ssize_t)(2 * n);
        for (size_t i = 0; same && i < n; i++)
            same = at[2 * i] == name[i] && !at[2 * i + 1];
        if (same) {
            *len = (size_t)pread(fd, bytes, 3 * 4096, 0);
            snprintf(file, 64, "%.40s", e->d_name);
            found = 1;
        }
        close(fd);
    }
    closedir(d);
    cr_assert(found, "the record of %s", name);
}

/* The header's fields (core/section.c): magic, version, prot, attrs, name_len, size, data_off,
 * bits_off; a file record at bits_off: dev, ino, path_len, reserved, 32 slots, path. */
#define OFF_VERSION  8
#define OFF_ATTRS    16
#define OFF_SIZE     24
#define OFF_DATA_OFF 32
#define OFF_BITS_OFF 40

static uint64_t get64(const char *b, size_t off)
{
    uint64_t v;
    memcpy(&v, b + off, sizeof v);
    return v;
}

static void put64(char *b, size_t off, uint64_t v)
{
    memcpy(b + off, &v, sizeof v);
}

static void put32(char *b, size_t off, uint32_t v)
{
    memcpy(b + off, &v, sizeof v);
}

/* Puts bytes[0, len) under the name file, holds a shared lock, opens and creates the name:
 * neither may crash; a section that opens must map. Removes the file. */
static void try_record(const char *name, const char *file, const void *bytes, size_t len,
                       int must_fail)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, bytes, len), (ssize_t)len);
    cr_assert_eq(flock(fd, LOCK_SH), 0);
    /* an inaccessible page where the kernel puts the next mapping's end: the opener's header
     * mapping lands just below it, so a read past the header faults instead of reading some
     * neighbour's memory */
    void *fence = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(fence, MAP_FAILED);
    SetLastError(0xdead);
    HANDLE h = OpenFileMappingA(FILE_MAP_READ, FALSE, name);
    DWORD err = GetLastError();
    munmap(fence, 4096);
    if (must_fail)
        cr_assert_null(h, "a malformed record opened");
    if (!h) {
        cr_assert(err == ERROR_INVALID_HANDLE || err == ERROR_ACCESS_DENIED ||
                      err == ERROR_FILE_NOT_FOUND || err == ERROR_NOT_ENOUGH_MEMORY ||
                      err == ERROR_INVALID_PARAMETER,
                  "error %u", err);
    } else {
        volatile char *p = MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
        MEMORY_BASIC_INFORMATION m;
        if (p && VirtualQuery((void *)p, &m, sizeof m) && m.State == MEM_COMMIT)
            (void)p[0]; /* a SEC_RESERVE section's pages are not, unless committed */
        if (p)
            UnmapViewOfFile((void *)p);
        CloseHandle(h);
    }
    h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, name);
    if (h)
        CloseHandle(h);
    close(fd);
    unlink(path);
}

static char real_bytes[3 * 4096], bytes[3 * 4096];

/* A real record of a named section over a file, then each malformation of it. */
Test(hostile_records, file_records)
{
    const char *name = "winvmem-hostile-record-file";
    char path[] = "/tmp/winvmem-hostile-XXXXXX", file[64];
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, 4096), 0);
    HANDLE f = wvm_handle_from_fd(fd);
    HANDLE h = CreateFileMappingA(f, NULL, PAGE_READWRITE, 0, 0, name);
    cr_assert_not_null(h, "%u", GetLastError());
    size_t len = 0;
    record_of(h, name, file, real_bytes, &len);
    cr_assert_eq(len, 4096, "a one-page record");
    CloseHandle(h);
    uint64_t at = get64(real_bytes, OFF_BITS_OFF);
    cr_assert(at > 0 && at < 4096);

    try_record(name, file, real_bytes, len, 0); /* as it was: our own descriptor is a holder */
    static const size_t cuts[] = {0, 1, 8, 63, 64, 100, 2048, 4095};
    for (unsigned i = 0; i < sizeof cuts / sizeof *cuts; i++)
        try_record(name, file, real_bytes, cuts[i], 1);
    memcpy(bytes, real_bytes, len);
    put32(bytes, OFF_VERSION, 1);
    try_record(name, file, bytes, len, 1);
    /* a path longer than the record: its end lies beyond the one page mapped */
    static const uint32_t plens[] = {4000, 4095, 4096, 0xFFFFFFFFu};
    for (unsigned i = 0; i < sizeof plens / sizeof *plens; i++) {
        memcpy(bytes, real_bytes, len);
        put32(bytes, (size_t)at + 16, plens[i]);
        try_record(name, file, bytes, len, 1);
    }
    /* a record claiming to be longer than the file */
    memcpy(bytes, real_bytes, len);
    put64(bytes, OFF_DATA_OFF, 2 * 4096);
    try_record(name, file, bytes, len, 1);
    memcpy(bytes, real_bytes, len);
    put64(bytes, OFF_SIZE, ~(uint64_t)0);
    try_record(name, file, bytes, len, 0);
    /* random bytes over it (a fixed seed: reproducible) */
    srand(15);
    for (int k = 0; k < 800; k++) {
        memcpy(bytes, real_bytes, len);
        int flips = 1 + rand() % 8;
        for (int j = 0; j < flips; j++) {
            size_t pos = (size_t)rand() % (at + 16 + 8 * 34 + 64);
            bytes[pos] = (char)rand();
        }
        try_record(name, file, bytes, len, 0);
    }
    CloseHandle(f);
    close(fd);
    unlink(path);
}

/* A real pagefile-backed SEC_RESERVE record, then each malformation of it. */
Test(hostile_records, pagefile_records)
{
    const char *name = "winvmem-hostile-record-reserve";
    char file[64];
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_RESERVE, 0,
                                  2 * 4096, name);
    cr_assert_not_null(h, "%u", GetLastError());
    size_t len = 0;
    record_of(h, name, file, real_bytes, &len);
    cr_assert_eq(len, 3 * 4096, "a page of header, two of data");
    CloseHandle(h);

    try_record(name, file, real_bytes, len, 0);
    static const size_t cuts[] = {0, 40, 4096, 2 * 4096, 3 * 4096 - 1};
    for (unsigned i = 0; i < sizeof cuts / sizeof *cuts; i++)
        try_record(name, file, real_bytes, cuts[i], 1);
    static const uint64_t sizes[] = {
        0, 1, 4097, (uint64_t)1 << 47, (uint64_t)1 << 62, ~(uint64_t)0 << 12, ~(uint64_t)0};
    for (unsigned i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        memcpy(bytes, real_bytes, len);
        put64(bytes, OFF_SIZE, sizes[i]);
        try_record(name, file, bytes, len, 1);
    }
    memcpy(bytes, real_bytes, len);
    put64(bytes, OFF_DATA_OFF, ~(uint64_t)0 << 12);
    try_record(name, file, bytes, len, 1);
    memcpy(bytes, real_bytes, len);
    put32(bytes, OFF_ATTRS, 0x08000000 /* SEC_COMMIT */ | 0x00800000 /* SEC_FILE */);
    try_record(name, file, bytes, len, 1);
    srand(16);
    for (int k = 0; k < 800; k++) {
        memcpy(bytes, real_bytes, len);
        int flips = 1 + rand() % 8;
        for (int j = 0; j < flips; j++)
            bytes[(size_t)rand() % 128] = (char)rand();
        try_record(name, file, bytes, len, 0);
    }
}
