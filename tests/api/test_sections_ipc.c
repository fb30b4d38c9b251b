/* Named sections between processes of one user (Wine's test_shared_memory, and the rules of
 * issue 15 item 4): another process opens the name and shares the pages; the name goes with the
 * last handle of the last process, even one that died without closing it; the objects are the
 * user's alone (a 0700 directory, 0600 files), and another user cannot reach them. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mbi.h"
#include "skip.h"

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
