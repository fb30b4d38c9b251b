/* Hostile records in the per-user directory of named sections: files of the user's own, made
 * malformed (truncated, another version, huge sizes, a path longer than the record, random
 * bytes over real records). Opening or creating the name must never crash and never succeed on
 * something made up: it fails with a Windows error, or opens a section that works. The file is
 * kept alive by a shared flock of our own, as a live holder's would be (else the opener removes
 * it as an orphan). */
#define _GNU_SOURCE /* setresuid */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mbi.h"
#include "skip.h"

static char dir[64];

/* The file that stands for name in the directory (in file, 64 bytes), and its bytes (*len). */
static void record_of(const char *name, char *file, char *bytes, size_t *len)
{
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

/* A named section made over f (a file, or INVALID_HANDLE_VALUE), its record read into
 * real_bytes (record_of), and the section's handle closed again; the record's length. */
static char real_bytes[3 * 4096];

static size_t new_record(HANDLE f, DWORD prot, DWORD size, const char *name, char *file)
{
    HANDLE h = CreateFileMappingA(f, NULL, prot, 0, size, name);
    cr_assert_not_null(h, "%u", GetLastError());
    size_t len = 0;
    record_of(name, file, real_bytes, &len);
    CloseHandle(h);
    return len;
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

/* Puts bytes[0, len) under the name file and holds a shared lock on it (the descriptor). */
static int hold_record(const char *file, const void *bytes, size_t len)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, bytes, len), (ssize_t)len);
    cr_assert_eq(flock(fd, LOCK_SH), 0);
    return fd;
}

static void drop_record(const char *file, int fd)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    close(fd);
    unlink(path);
}

/* Puts bytes[0, len) under the name file, holds a shared lock, opens and creates the name:
 * neither may crash; a section that opens must map. Removes the file. */
static void try_record(const char *name, const char *file, const void *bytes, size_t len,
                       int must_fail)
{
    int fd = hold_record(file, bytes, len);
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
        volatile char *p =
            MapViewOfFile(h, FILE_MAP_READ, 0, 0, 4096); /* one page: sizes may be huge */
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
    drop_record(file, fd);
}

static char bytes[3 * 4096];

/* A real record of a named section over a file, then each malformation of it. */
Test(hostile_records, file_records)
{
    const char *name = "winvmem-hostile-record-file";
    char path[] = "/tmp/winvmem-hostile-XXXXXX", file[64];
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, 4096), 0);
    HANDLE f = wvm_handle_from_fd(fd);
    size_t len = new_record(f, PAGE_READWRITE, 0, name, file);
    cr_assert_eq(len, 4096, "a one-page record");
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
    size_t len =
        new_record(INVALID_HANDLE_VALUE, PAGE_READWRITE | SEC_RESERVE, 2 * 4096, name, file);
    cr_assert_eq(len, 3 * 4096, "a page of header, two of data");

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

/* A holder's slot whose pid now belongs to an unrelated process of ours (a dead holder's pid
 * reused) leads to whatever that process has at that descriptor: another file is refused by
 * the identity check (dev, ino), the same file is reached. */
Test(hostile_records, a_reused_holder_pid_leads_nowhere)
{
    const char *name = "winvmem-hostile-record-reused";
    char a_path[] = "/tmp/winvmem-hostile-XXXXXX", b_path[] = "/tmp/winvmem-hostile-XXXXXX";
    char file[64];
    unsigned word = 0x1a2b3c4d;
    int a = mkstemp(a_path), b = mkstemp(b_path);
    cr_assert(a >= 0 && b >= 0);
    cr_assert_eq(pwrite(a, &word, sizeof word, 0), (ssize_t)sizeof word);
    cr_assert_eq(pwrite(b, &word, sizeof word, 0), (ssize_t)sizeof word);
    cr_assert_eq(ftruncate(a, 4096), 0);
    cr_assert_eq(ftruncate(b, 4096), 0);
    HANDLE f = wvm_handle_from_fd(a);
    size_t len = new_record(f, PAGE_READONLY, 0, name, file);
    CloseHandle(f);
    /* a's path goes (a stays open: its inode cannot be reused by b or anything else) */
    cr_assert_eq(unlink(a_path), 0);
    /* the unrelated process: b at descriptor 200, a at 201 */
    int ready[2], hold[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(hold), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(hold[1]);
        if (dup2(b, 200) != 200 || dup2(a, 201) != 201 || write(ready[1], "r", 1) != 1)
            _exit(1);
        char c;
        while (read(hold[0], &c, 1) > 0) /* until the test closes its end */
            ;
        _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "the other process is ready");
    uint64_t at = get64(real_bytes, OFF_BITS_OFF);
    for (int n = 200; n <= 201; n++) {
        memcpy(bytes, real_bytes, len);
        memset(bytes + at + 24, 0, 32 * 8);
        put64(bytes, (size_t)at + 24, (uint64_t)pid << 32 | (uint32_t)n);
        int fd = hold_record(file, bytes, len);
        /* the other file is not even opened (a device there would feel it): no IN_OPEN */
        int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        cr_assert(watch >= 0);
        cr_assert(inotify_add_watch(watch, b_path, IN_OPEN) >= 0);
        SetLastError(0xdead);
        HANDLE o = OpenFileMappingA(FILE_MAP_READ, FALSE, name);
        char ev[256];
        ssize_t opened = read(watch, ev, sizeof ev);
        close(watch);
        if (n == 200) {
            cr_expect_null(o, "another file behind a reused pid's descriptor was mapped");
            cr_expect_eq(GetLastError(), ERROR_ACCESS_DENIED, "%u", GetLastError());
            cr_expect_leq(opened, 0, "the other file was opened");
        } else {
            cr_assert_not_null(o, "the same file through that process: %u", GetLastError());
            volatile unsigned *p = MapViewOfFile(o, FILE_MAP_READ, 0, 0, 0);
            cr_assert_not_null(p);
            cr_expect_eq(p[0], 0x1a2b3c4d);
            UnmapViewOfFile((void *)p);
        }
        if (o)
            CloseHandle(o);
        drop_record(file, fd);
    }
    close(hold[1]);
    close(ready[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(a);
    close(b);
    unlink(b_path);
}

/* Whether descriptor fd is open (bit fd of set, fds below 1024). */
static void open_fds(uint64_t set[16])
{
    memset(set, 0, 16 * sizeof *set);
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            set[fd / 64] |= (uint64_t)1 << (fd % 64);
}

/* Handles are never inherited across exec: every descriptor that sections, their names, their
 * records, files and the per-user directory opened is close-on-exec. */
Test(hostile_records, no_descriptor_survives_exec)
{
    uint64_t before[16], after[16];
    open_fds(before);
    char path[] = "/tmp/winvmem-hostile-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, 4096), 0);
    before[fd / 64] |= (uint64_t)1 << (fd % 64);
    HANDLE f = wvm_handle_from_fd(fd);
    cr_assert_not_null(f);
    HANDLE h[] = {
        CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, NULL),
        CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096,
                           "winvmem-hostile-exec-commit"),
        CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_RESERVE, 0, 4096,
                           "winvmem-hostile-exec-reserve"),
        CreateFileMappingA(f, NULL, PAGE_READWRITE, 0, 0, NULL),
        CreateFileMappingA(f, NULL, PAGE_READWRITE, 0, 0, "winvmem-hostile-exec-file"),
    };
    void *v[sizeof h / sizeof *h];
    for (unsigned i = 0; i < sizeof h / sizeof *h; i++) {
        cr_assert_not_null(h[i], "section %u: %u", i, GetLastError());
        v[i] = MapViewOfFile(h[i], FILE_MAP_WRITE, 0, 0, 0);
        cr_assert_not_null(v[i]);
    }
    open_fds(after);
    int fresh = 0;
    for (int d = 0; d < 1024; d++) {
        if (!(after[d / 64] >> (d % 64) & 1) || (before[d / 64] >> (d % 64) & 1))
            continue;
        fresh++;
        cr_expect(fcntl(d, F_GETFD) & FD_CLOEXEC, "descriptor %d survives exec", d);
    }
    cr_expect_geq(fresh, 5, "the sections' descriptors were found");
    for (unsigned i = 0; i < sizeof h / sizeof *h; i++) {
        UnmapViewOfFile(v[i]);
        CloseHandle(h[i]);
    }
    CloseHandle(f);
    close(fd);
    unlink(path);
}

/* As user uid with umask mask, in a fresh process of this one (no named section used yet):
 * creates the name and writes to it, then holds it until EOF on pipe (both ends given), or
 * opens it and checks the write; its pid. */
static pid_t as_user(unsigned uid, mode_t mask, const char *name, const int *pipe_, int ready)
{
    int create = pipe_ != NULL;
    pid_t pid = fork();
    if (pid == 0) {
        if (pipe_)
            close(pipe_[1]);
        if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
            _exit(30);
        umask(mask);
        HANDLE h =
            create ? CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, name)
                   : OpenFileMappingA(FILE_MAP_WRITE, FALSE, name);
        if (!h)
            _exit(10 + (GetLastError() & 15));
        volatile char *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
        if (!p)
            _exit(40);
        if (create) {
            p[0] = 'w';
            char c = 'r';
            if (write(ready, &c, 1) != 1)
                _exit(42);
            while (read(pipe_[0], &c, 1) > 0) /* keeps the name until the test says */
                ;
        }
        _exit(create || p[0] == 'w' ? 0 : 41);
    }
    return pid;
}

static int exit_status(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* A umask that takes the owner's own bits away at the directory's making (0277: the directory
 * 0500, the files 0400) does not keep the user's processes from sharing named sections. */
Test(hostile_records, a_strict_umask_at_first_use)
{
    if (geteuid() != 0)
        wvm_cannot_run("running as a fresh user needs root");
    const unsigned uid = 65530;
    char d[64];
    snprintf(d, sizeof d, "/dev/shm/winvmem-%u", uid);
    cr_assert_eq(system("rm -rf /dev/shm/winvmem-65530"), 0);
    int in[2], ready[2];
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(ready), 0);
    pid_t creator = as_user(uid, 0277, "winvmem-hostile-umask", in, ready[1]);
    close(in[0]);
    close(ready[1]);
    char c;
    if (read(ready[0], &c, 1) == 1) /* else the creator failed: its status says how */
        cr_expect_eq(exit_status(as_user(uid, 0, "winvmem-hostile-umask", NULL, -1)), 0,
                     "another process of the user shares it");
    close(ready[0]);
    close(in[1]);
    cr_expect_eq(exit_status(creator), 0, "the creator under umask 0277");
    struct stat st;
    cr_assert_eq(stat(d, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0700);
    cr_assert_eq(system("rm -rf /dev/shm/winvmem-65530"), 0);
}
