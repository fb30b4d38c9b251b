/* Named sections between processes of one user (Wine's test_shared_memory, and the rules of
 * issue 15 item 4): another process opens the name and shares the pages; the name goes with the
 * last handle of the last process, even one that died without closing it; the objects are the
 * user's alone (a 0700 directory, 0600 files), and another user cannot reach them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mbi.h"
#include "skip.h"

#define PAGE ((SIZE_T)4096)

extern char **environ;

static int peer(const char *cmd, const char *name)
{
    char *argv[] = {(char *)SECTION_PEER, (char *)cmd, (char *)name, NULL};
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, SECTION_PEER, NULL, NULL, argv, environ), 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* The peer as another user. */
static int peer_as(unsigned uid, const char *cmd, const char *name)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)SECTION_PEER, (char *)cmd, (char *)name, NULL};
        if (setresgid(65534, 65534, 65534) || setresuid(uid, uid, uid))
            _exit(30);
        execv(SECTION_PEER, argv);
        _exit(31);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static const char *unique(const char *what)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "winvmem-ipc-%d-%s", (int)getpid(), what);
    return buf;
}

Test(sections_ipc, another_process_shares_the_pages)
{
    const char *name = unique("shared");
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, name);
    cr_assert_not_null(h);
    volatile unsigned *p = MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 4096);
    p[0] = 0x1a2b3c4d;
    cr_assert_eq(peer("open", name), 0);
    cr_assert_eq(p[0], 0xdeadbeef, "the other process's write");
    p[0] = 0x1a2b3c4d;
    cr_assert_eq(peer("create", name), 0, "CreateFileMapping finds it: ERROR_ALREADY_EXISTS");
    cr_assert_eq(p[0], 0xdeadbeef);
    UnmapViewOfFile((void *)p);
    CloseHandle(h);
    cr_assert_eq(peer("missing", name), 0, "gone with the last handle");
}

Test(sections_ipc, a_dead_process_holds_no_name)
{
    const char *name = unique("orphan");
    cr_assert_eq(peer("orphan", name), 0);
    expect_error(OpenFileMappingA(FILE_MAP_READ, FALSE, name), ERROR_FILE_NOT_FOUND);
    SetLastError(0xdead);
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, name);
    cr_assert_not_null(h);
    cr_assert_eq(GetLastError(), 0, "a new section, not the dead process's");
    CloseHandle(h);
}

Test(sections_ipc, objects_are_the_users_alone)
{
    const char *name = unique("mode");
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, name);
    cr_assert_not_null(h);
    char dir[64];
    snprintf(dir, sizeof dir, "/dev/shm/winvmem-%u", (unsigned)geteuid());
    struct stat st;
    cr_assert_eq(lstat(dir, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0700);
    cr_assert_eq(st.st_uid, geteuid());
    char cmd[128];
    snprintf(cmd, sizeof cmd, "find %s -type f ! -perm 600 | grep -c . >/dev/null", dir);
    cr_assert_neq(system(cmd), 0, "every file is mode 0600");
    if (geteuid() != 0)
        wvm_cannot_run("running the peer as another user needs root");
    /* another user (a fresh process: a fork would inherit our names) */
    cr_assert_eq(peer_as(65534, "missing", name), 0, "another user reached the section");
    CloseHandle(h);
}

Test(sections_ipc, a_directory_of_someone_else_is_refused)
{
    if (geteuid() != 0)
        wvm_cannot_run("making another user's directory needs root");
    char dir[64];
    snprintf(dir, sizeof dir, "/dev/shm/winvmem-%u", 65533u);
    rmdir(dir);
    cr_assert_eq(mkdir(dir, 0777), 0); /* made by root, open to all: user 65533 must refuse it */
    cr_assert_eq(chmod(dir, 0777), 0);
    cr_assert_eq(peer_as(65533, "refused", "x"), 0);
    rmdir(dir);
}

/* ---- named sections over files -------------------------------------------------------------- */

/* A temporary file of size bytes (its path in path, 64 bytes), opened read-write. */
static int temp_file(char *path, size_t size)
{
    snprintf(path, 64, "/tmp/winvmem-ipc-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, (off_t)size), 0);
    return fd;
}

static HANDLE file_section(int fd, DWORD prot, const char *name)
{
    HANDLE file = wvm_handle_from_fd(fd);
    cr_assert_not_null(file);
    SetLastError(0xdead);
    HANDLE h = CreateFileMappingA(file, NULL, prot, 0, 0, name);
    cr_assert_not_null(h, "%u", GetLastError());
    cr_assert_eq(GetLastError(), 0);
    CloseHandle(file); /* the section keeps the file */
    return h;
}

Test(sections_ipc, a_file_backed_section_is_shared_by_name)
{
    const char *name = unique("file");
    char path[64];
    int fd = temp_file(path, 8192);
    HANDLE h = file_section(fd, PAGE_READWRITE, name);
    volatile unsigned *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    cr_assert_not_null(p);
    p[0] = 0x1a2b3c4d;
    cr_assert_eq(peer("open", name), 0);
    cr_assert_eq(p[0], 0xdeadbeef, "the other process's write, in our view");
    unsigned word = 0;
    cr_assert_eq(pread(fd, &word, sizeof word, 0), (ssize_t)sizeof word);
    cr_assert_eq(word, 0xdeadbeef, "and in the file");
    p[0] = 0x1a2b3c4d;
    cr_assert_eq(peer("create", name), 0, "CreateFileMapping finds it: ERROR_ALREADY_EXISTS");
    cr_assert_eq(p[0], 0xdeadbeef);
    /* without its path the file is still reached, through our descriptor */
    cr_assert_eq(unlink(path), 0);
    p[0] = 0x1a2b3c4d;
    cr_assert_eq(peer("open", name), 0);
    cr_assert_eq(p[0], 0xdeadbeef);
    if (geteuid() == 0)
        cr_assert_eq(peer_as(65534, "missing", name), 0, "another user reached the section");
    UnmapViewOfFile((void *)p);
    CloseHandle(h);
    close(fd);
    cr_assert_eq(peer("missing", name), 0, "gone with the last handle");
    if (geteuid() != 0) /* the rest was checked; the other user was not */
        wvm_cannot_run("running the peer as another user needs root");
}

Test(sections_ipc, an_opener_outlives_the_creator)
{
    const char *name = unique("creator");
    char path[64];
    close(temp_file(path, 4096));
    int in[2], out[2];
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *argv[] = {(char *)SECTION_PEER, "fcreate", (char *)name, path, NULL};
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, SECTION_PEER, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    char c = 0;
    cr_assert_eq(read(out[0], &c, 1), 1, "the creator is ready");
    HANDLE h = OpenFileMappingA(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, name);
    cr_assert_not_null(h, "%u", GetLastError());
    volatile unsigned *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    cr_assert_not_null(p);
    cr_assert_eq(p[0], 0x1a2b3c4d, "the creator's write");
    p[0] = 0xdeadbeef;
    close(in[1]); /* the creator checks our write, closes everything and exits */
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "the creator saw our write");
    close(out[0]);
    /* our handle keeps the name and the file: a new view, and a third process through us */
    cr_assert_eq(unlink(path), 0);
    volatile unsigned *q = MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    cr_assert_not_null(q);
    cr_assert_eq(q[0], 0xdeadbeef);
    p[0] = 0x1a2b3c4d;
    cr_assert_eq(peer("open", name), 0, "a third process reaches the file");
    cr_assert_eq(q[0], 0xdeadbeef);
    UnmapViewOfFile((void *)q);
    UnmapViewOfFile((void *)p);
    CloseHandle(h);
    cr_assert_eq(peer("missing", name), 0);
}

/* Replaces every descriptor of this process open on (dev, ino) by one of with; their number. */
static int swap_descriptors(dev_t dev, ino_t ino, int with)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    int n = 0, self = dirfd(d);
    for (struct dirent *e; (e = readdir(d));) {
        int fd = atoi(e->d_name);
        struct stat st;
        if (e->d_name[0] == '.' || fd == self || fd == with || fstat(fd, &st))
            continue;
        if (st.st_dev == dev && st.st_ino == ino) {
            cr_assert_eq(dup2(with, fd), fd);
            n++;
        }
    }
    closedir(d);
    return n;
}

Test(sections_ipc, a_swapped_file_is_refused)
{
    const char *name = unique("swapped");
    char path[64], old[80];
    int fd = temp_file(path, 4096);
    HANDLE h = file_section(fd, PAGE_READWRITE, name);
    close(fd);
    volatile unsigned *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    cr_assert_not_null(p);
    p[0] = 0x1a2b3c4d;
    cr_assert_eq(peer("peek", name), 0, "before the swap");
    /* another file, with the same contents, under the path and behind the section's descriptor */
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    snprintf(old, sizeof old, "%s.old", path);
    cr_assert_eq(rename(path, old), 0);
    int other = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    cr_assert(other >= 0);
    cr_assert_eq(pwrite(other, (const void *)p, 4096, 0), 4096);
    cr_assert_eq(swap_descriptors(st.st_dev, st.st_ino, other), 1, "the section's descriptor");
    cr_assert_eq(peer("denied", name), 0, "a record leading to another file is refused");
    cr_assert_eq(p[0], 0x1a2b3c4d, "our view still maps the original");
    close(other);
    UnmapViewOfFile((void *)p);
    CloseHandle(h);
    unlink(path);
    unlink(old);
    cr_assert_eq(peer("missing", name), 0);
}

Test(sections_ipc, the_files_permissions_bound_the_opener)
{
    const char *name = unique("exec");
    char path[64];
    int fd = temp_file(path, 4096);
    unsigned word = 0x1a2b3c4d;
    cr_assert_eq(pwrite(fd, &word, sizeof word, 0), (ssize_t)sizeof word);
    cr_assert_eq(fchmod(fd, 0700), 0);
    HANDLE h = file_section(fd, PAGE_EXECUTE_READ, name);
    cr_assert_eq(peer("peek", name), 0, "an executable file: the opener gets it");
    /* no execute permission any more: an opener would get an executable section it may not
     * have made itself (root too: X_OK needs an execute bit) */
    cr_assert_eq(fchmod(fd, 0600), 0);
    cr_assert_eq(peer("denied", name), 0);
    CloseHandle(h);
    close(fd);
    unlink(path);
}

/* ---- SEC_RESERVE commits made by another process -------------------------------------------- */

static int spawn_committer(const char *name, unsigned n, pid_t *pid)
{
    char num[16];
    snprintf(num, sizeof num, "%u", n);
    char *argv[] = {(char *)SECTION_PEER, "commit", (char *)name, num, NULL};
    return posix_spawn(pid, SECTION_PEER, NULL, NULL, argv, environ);
}

static int wait_exit(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "status %#x", status);
    return WEXITSTATUS(status);
}

/* Whether reading p faults (in a child: the fault is not ours to survive). */
static bool read_faults(volatile const unsigned *p)
{
    pid_t pid = fork();
    if (pid == 0) {
        (void)*p;
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

Test(sections_ipc, another_processs_commit_reaches_our_view)
{
    const char *name = unique("reserve");
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_RESERVE, 0,
                                  4 * PAGE, name);
    cr_assert_not_null(h);
    volatile unsigned *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    cr_assert_not_null(p);
    expect_region((void *)p, (void *)p, (void *)p, PAGE_READWRITE, 4 * PAGE, MEM_RESERVE, 0,
                  MEM_MAPPED);
    pid_t pid;
    cr_assert_eq(spawn_committer(name, 2, &pid), 0); /* commits page 1 only */
    cr_assert_eq(wait_exit(pid), 0);
    /* the section's state, not our view's old one */
    expect_region((void *)p, (void *)p, (void *)p, PAGE_READWRITE, PAGE, MEM_RESERVE, 0,
                  MEM_MAPPED);
    expect_region((void *)(p + 1024), (void *)(p + 1024), (void *)p, PAGE_READWRITE, PAGE,
                  MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    expect_region((void *)(p + 2048), (void *)(p + 2048), (void *)p, PAGE_READWRITE, 2 * PAGE,
                  MEM_RESERVE, 0, MEM_MAPPED);
    /* an access succeeds (the fault handler widens the page), page 0 still faults */
    cr_assert_eq(p[1024], 1u, "the other process's write");
    p[1025] = 7;
    cr_assert(read_faults(p), "a page nobody committed");
    /* our operations see it committed too */
    DWORD old = 0;
    cr_assert(VirtualProtect((void *)(p + 1024), PAGE, PAGE_READONLY, &old), "%u", GetLastError());
    cr_assert_eq(old, PAGE_READWRITE);
    expect_region((void *)(p + 1024), (void *)(p + 1024), (void *)p, PAGE_READWRITE, PAGE,
                  MEM_COMMIT, PAGE_READONLY, MEM_MAPPED);
    /* a commit here of pages the other process committed charges nothing twice, and works */
    cr_assert_not_null(VirtualAlloc((void *)p, 2 * PAGE, MEM_COMMIT, PAGE_READWRITE));
    cr_assert_eq(p[1024], 1u);
    p[0] = 5;
    cr_assert(UnmapViewOfFile((void *)p));
    CloseHandle(h);
}

/* The other process commits page after page while we query and read: a page shown committed
 * is readable at once and holds 0 or its number; nothing goes back to reserved. */
Test(sections_ipc, commits_race_with_queries_and_reads)
{
    enum { N = 512 };
    const char *name = unique("race");
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_RESERVE, 0,
                                  N * PAGE, name);
    cr_assert_not_null(h);
    volatile unsigned *p = MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    cr_assert_not_null(p);
    static bool seen[N];
    memset(seen, 0, sizeof seen);
    pid_t pid;
    cr_assert_eq(spawn_committer(name, N, &pid), 0);
    unsigned committed = 0;
    time_t deadline = time(NULL) + 60;
    while (committed < N - 1) {
        cr_assert(time(NULL) < deadline, "only %u pages seen committed", committed);
        for (unsigned i = 1; i < N; i++) {
            MEMORY_BASIC_INFORMATION m;
            cr_assert_eq(VirtualQuery((void *)(p + i * 1024), &m, sizeof m), sizeof m);
            bool c = m.State == MEM_COMMIT;
            cr_assert(c || !seen[i], "page %u went back to reserved", i);
            cr_assert(!c || m.Protect == PAGE_READONLY, "page %u: %#x", i, m.Protect);
            if (c) {
                unsigned v = p[i * 1024];
                cr_assert(v == 0 || v == i, "page %u holds %u", i, v);
                committed += !seen[i];
                seen[i] = true;
            }
        }
    }
    cr_assert_eq(wait_exit(pid), 0);
    MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(VirtualQuery((void *)(p + 1024), &m, sizeof m), sizeof m);
    cr_assert_eq(m.State, MEM_COMMIT);
    cr_assert_eq(m.RegionSize, (N - 1) * PAGE, "one region of the combined state");
    cr_assert(read_faults(p));
    UnmapViewOfFile((void *)p);
    CloseHandle(h);
}

/* A forked child holds the parent's names as a process of its own: after the parent closed its
 * handles, the names live on with the child, and a file-backed one is reached through the
 * child's descriptor (its path is gone). */
Test(sections_ipc, a_forked_child_holds_the_names)
{
    char name[128], fn[128], path[64]; /* (unique's buffer is one) */
    snprintf(name, sizeof name, "%s", unique("forked"));
    snprintf(fn, sizeof fn, "%s", unique("forked-file"));
    int fd = temp_file(path, 4096);
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, name);
    cr_assert_not_null(h);
    HANDLE f = file_section(fd, PAGE_READWRITE, fn);
    cr_assert_eq(unlink(path), 0);
    close(fd);
    volatile unsigned *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0),
                      *q = MapViewOfFile(f, FILE_MAP_WRITE, 0, 0, 0);
    cr_assert(p && q);
    p[0] = q[0] = 0x1a2b3c4d;
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t child = fork();
    if (child == 0) {
        char c;
        close(go[1]);
        while (read(go[0], &c, 1) > 0) /* holds both names until the parent is done */
            ;
        _exit(0);
    }
    close(go[0]);
    UnmapViewOfFile((void *)p);
    UnmapViewOfFile((void *)q);
    CloseHandle(h);
    CloseHandle(f);
    cr_assert_eq(peer("open", name), 0, "the child keeps the pagefile-backed name");
    cr_assert_eq(peer("open", fn), 0, "and the file-backed one, reached through the child");
    close(go[1]);
    cr_assert_eq(wait_exit(child), 0);
    cr_assert_eq(peer("missing", name), 0);
    cr_assert_eq(peer("missing", fn), 0);
}
