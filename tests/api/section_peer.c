/* The other process of tests/api/test_sections_ipc.c (a separate program, started with
 * posix_spawn: a fork would share the parent's registry of names).
 *   section_peer open NAME       opens NAME, checks the first word is 0x1a2b3c4d, writes 0xdeadbeef
 *   section_peer create NAME     creates NAME (ERROR_ALREADY_EXISTS expected), same check/write
 *   section_peer missing NAME    expects OpenFileMapping to fail with ERROR_FILE_NOT_FOUND
 *   section_peer orphan NAME     creates NAME and exits without closing anything
 *   section_peer refused NAME    expects CreateFileMapping to fail with ERROR_ACCESS_DENIED
 *   section_peer denied NAME     expects OpenFileMapping to fail with ERROR_ACCESS_DENIED
 *   section_peer peek NAME       opens NAME for reading, checks the first word is 0x1a2b3c4d
 *   section_peer commit NAME N   opens NAME (a SEC_RESERVE section) and commits its pages 1 ..
 *                                N-1 one by one through a view, writing each one's number
 *                                into it, checking that page 0 stays reserved in between
 *   section_peer fcreate NAME PATH  creates NAME over the file PATH, writes 0x1a2b3c4d, writes
 *                                "r" to stdout, waits for EOF on stdin, then checks that the
 *                                first word is 0xdeadbeef and closes everything
 * Exit status 0 when everything was as expected. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <winvmem/win32.h>

/* The creator of a named section over a file, living until its stdin closes. */
static int file_creator(const char *name, const char *path)
{
    int fd = open(path, O_RDWR);
    HANDLE file = fd >= 0 ? wvm_handle_from_fd(fd) : NULL;
    if (!file)
        return 10;
    HANDLE h = CreateFileMappingA(file, NULL, PAGE_READWRITE, 0, 0, name);
    if (!h || GetLastError() != 0)
        return 11;
    volatile unsigned *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    if (!p)
        return 12;
    p[0] = 0x1a2b3c4d;
    char c;
    if (write(1, "r", 1) != 1)
        return 13;
    while (read(0, &c, 1) > 0)
        ;
    int ok = p[0] == 0xdeadbeef;
    UnmapViewOfFile((void *)p);
    CloseHandle(h);
    CloseHandle(file);
    close(fd);
    return ok ? 0 : 14;
}

/* Commits pages 1 .. n-1 of the SEC_RESERVE section name one at a time. */
static int committer(const char *name, unsigned n)
{
    HANDLE h = OpenFileMappingA(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, name);
    volatile unsigned *p = h ? MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0) : NULL;
    if (!p)
        return 16;
    for (unsigned i = 1; i < n; i++) {
        volatile unsigned *q = p + i * 1024;
        if (!VirtualAlloc((void *)q, 4096, MEM_COMMIT, PAGE_READWRITE))
            return 17;
        *q = i;
        MEMORY_BASIC_INFORMATION m;
        if (!VirtualQuery((void *)p, &m, sizeof m) || m.State != MEM_RESERVE)
            return 18;
    }
    UnmapViewOfFile((void *)p);
    CloseHandle(h);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "fcreate"))
        return file_creator(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "commit"))
        return committer(argv[2], (unsigned)atoi(argv[3]));
    if (argc != 3)
        return 2;
    const char *cmd = argv[1], *name = argv[2];
    if (!strcmp(cmd, "denied")) {
        HANDLE h = OpenFileMappingA(FILE_MAP_READ, FALSE, name);
        return h || GetLastError() != ERROR_ACCESS_DENIED ? 9 : 0;
    }
    if (!strcmp(cmd, "refused")) {
        HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, name);
        return h || GetLastError() != ERROR_ACCESS_DENIED ? 8 : 0;
    }
    if (!strcmp(cmd, "missing")) {
        HANDLE h = OpenFileMappingA(FILE_MAP_READ, FALSE, name);
        return h || GetLastError() != ERROR_FILE_NOT_FOUND ? 3 : 0;
    }
    if (!strcmp(cmd, "peek")) {
        HANDLE h = OpenFileMappingA(FILE_MAP_READ, FALSE, name);
        volatile unsigned *p = h ? MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0) : NULL;
        return p && p[0] == 0x1a2b3c4d ? 0 : 15;
    }
    HANDLE h;
    if (!strcmp(cmd, "open")) {
        h = OpenFileMappingA(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, name);
    } else {
        h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, name);
        if (!strcmp(cmd, "orphan"))
            _exit(h && GetLastError() == 0 ? 0 : 4); /* dies holding its handle */
        if (GetLastError() != ERROR_ALREADY_EXISTS)
            return 5;
    }
    if (!h)
        return 6;
    volatile unsigned *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    if (!p || p[0] != 0x1a2b3c4d)
        return 7;
    p[0] = 0xdeadbeef;
    UnmapViewOfFile((void *)p);
    CloseHandle(h);
    return 0;
}
