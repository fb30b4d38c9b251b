/* The pressure source in a container (issue 16 #4 and #5), with the real kernel objects: a child
 * cgroup v2 of ours, a private cgroup namespace (unshare) with its own cgroup2 mount, as a
 * container runtime makes them, and the trigger's cgroup removed under the host (PSI's error
 * state). Needs root and a writable cgroup2 hierarchy (CI has both); elsewhere the tests fail
 * with the reason, unless WINVMEM_ALLOW_SKIP=1.
 *
 * Each case runs in a forked child (unshare(CLONE_NEWNS) needs a single-threaded process) and
 * reports its first failed check through a pipe. */
#define _GNU_SOURCE /* unshare, CLONE_NEWCGROUP */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "host_test.h"
#include "skip.h"

#define NEED 77 /* the child's exit status when the system cannot run the case */

static int report_fd = -1;

/* Child side: write why, exit with status (NEED: the system cannot run the case). */
_Noreturn static void child_exit(int status, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0 && write(report_fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0)
        status = 99;
    _exit(status);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            child_exit(1, __VA_ARGS__);                                                            \
    } while (0)

/* Our cgroup v2 directory as the test sees it: /proc/self/cgroup's path under a cgroup2 mount
 * whose root is "/". */
static bool own_cgroup_dir(char *out, size_t cap)
{
    char cg[PATH_MAX] = {0}, line[1024];
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return false;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = 0;
            snprintf(cg, sizeof cg, "%s", line + 3);
        }
    fclose(f);
    if (!cg[0] || !(f = fopen("/proc/self/mountinfo", "r")))
        return false;
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char root[PATH_MAX], mnt[PATH_MAX];
        const char *sep = strstr(line, " - cgroup2 ");
        found = sep && sscanf(line, "%*s %*s %*s %s %s", root, mnt) == 2 && !strcmp(root, "/") &&
                snprintf(out, cap, "%s%s", mnt, strcmp(cg, "/") ? cg : "") < (int)cap;
    }
    fclose(f);
    return found;
}

/* The inode of the pressure file the host's trigger is open on, or 0. */
static ino_t trigger_inode(void)
{
    DIR *d = opendir("/proc/self/fd");
    ino_t ino = 0;
    struct dirent *e;
    while (d && !ino && (e = readdir(d))) {
        char link[300], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        struct stat st;
        if ((strstr(target, "memory.pressure") || !strcmp(target, "/proc/pressure/memory")) &&
            !stat(link, &st))
            ino = st.st_ino;
    }
    if (d)
        closedir(d);
    return ino;
}

/* A child cgroup of the test's own, made by the test process; the case runs in a forked child
 * inside it. A process in a cgroup namespace cannot move itself out of it: the test process
 * (outside) moves the child back and removes the cgroup when the case asks (midway). */
typedef struct {
    char parent[PATH_MAX]; /* our cgroup */
    char dir[PATH_MAX + 64];
    ino_t pressure_ino; /* dir's memory.pressure */
    int sync_w, go_r;   /* child -> test: "ready for the removal"; test -> child: "done" */
} cgroup_case;

static void write_pid(const char *procs, pid_t pid, char *err, size_t cap)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%d\n", (int)pid);
    int fd = open(procs, O_WRONLY);
    if (fd < 0 || write(fd, buf, (size_t)n) != n)
        snprintf(err, cap, "moving %d into %.100s: %s", (int)pid, procs, strerror(errno));
    if (fd >= 0)
        close(fd);
}

/* Child side: the test process may now move us out of our cgroup and remove it. */
static void midway(cgroup_case *c)
{
    char b = 'R';
    CHECK(write(c->sync_w, &b, 1) == 1, "sync");
    CHECK(read(c->go_r, &b, 1) == 1 && b == 'G', "the test could not remove the cgroup");
}

/* Runs fn in a child inside a new child cgroup; fails the test with the child's reason. */
static void run_case(void (*fn)(cgroup_case *), bool removal)
{
    cgroup_case c = {0};
    bool may_skip = wvm_skip_allowed(); /* skip.h; the reasons here are not literals */
    char why[512] = {0};
    if (!own_cgroup_dir(c.parent, sizeof c.parent))
        snprintf(why, sizeof why, "no cgroup2 mount holds this process's cgroup");
    snprintf(c.dir, sizeof c.dir, "%s/wvm-test-%d", c.parent, (int)getpid());
    if (!why[0] && mkdir(c.dir, 0755))
        snprintf(why, sizeof why, "cannot make %.300s: %s", c.dir, strerror(errno));
    if (why[0]) {
        if (may_skip)
            cr_skip_test("SKIPPED (WINVMEM_ALLOW_SKIP=1): %s", why);
        cr_assert_fail("%s (root and a writable cgroup2 hierarchy are needed; WINVMEM_ALLOW_SKIP=1 "
                       "skips on a developer machine)",
                       why);
        return;
    }
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/memory.pressure", c.dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "no %s", path);
    c.pressure_ino = st.st_ino;
    int rep[2], sync[2], go[2];
    cr_assert(!pipe(rep) && !pipe(sync) && !pipe(go));
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(rep[0]);
        close(sync[0]);
        close(go[1]);
        report_fd = rep[1];
        c.sync_w = sync[1];
        c.go_r = go[0];
        char err[256] = {0};
        snprintf(path, sizeof path, "%s/cgroup.procs", c.dir);
        write_pid(path, getpid(), err, sizeof err);
        CHECK(!err[0], "%s", err);
        fn(&c);
        _exit(0);
    }
    close(rep[1]);
    close(sync[1]);
    close(go[0]);
    char b, err[256] = {0};
    if (removal && read(sync[0], &b, 1) == 1) {
        snprintf(path, sizeof path, "%s/cgroup.procs", c.parent);
        write_pid(path, pid, err, sizeof err);
        if (!err[0] && rmdir(c.dir))
            snprintf(err, sizeof err, "rmdir %.200s: %s", c.dir, strerror(errno));
        b = 'G';
        if (!err[0] && write(go[1], &b, 1) != 1)
            snprintf(err, sizeof err, "go: %s", strerror(errno));
    }
    close(go[1]);
    ssize_t n = 0, r;
    while ((r = read(rep[0], why + n, sizeof why - 1 - (size_t)n)) > 0)
        n += r;
    close(rep[0]);
    close(sync[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    rmdir(c.dir); /* when the case did not remove it (the child has exited: it is empty) */
    cr_assert(!err[0], "%s", err);
    cr_assert(WIFEXITED(status), "the child died (signal %d)", WTERMSIG(status));
    if (WEXITSTATUS(status) == NEED && may_skip)
        cr_skip_test("SKIPPED (WINVMEM_ALLOW_SKIP=1): %s", why);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s", why);
}

static void private_namespace(void)
{
    if (unshare(CLONE_NEWCGROUP | CLONE_NEWNS))
        child_exit(NEED, "unshare(CLONE_NEWCGROUP | CLONE_NEWNS): %s", strerror(errno));
    CHECK(!mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "private mounts: %s",
          strerror(errno));
    char line[256] = {0};
    FILE *f = fopen("/proc/self/cgroup", "r");
    while (f && fgets(line, sizeof line, f) && strncmp(line, "0::", 3))
        ;
    if (f)
        fclose(f);
    CHECK(!strcmp(line, "0::/\n"), "in the namespace /proc/self/cgroup says %s", line);
}

static IHostMemoryManager *psi_host(void)
{
    wvm_host_config c;
    wvm_host_config_init(&c);
    c.budget = 64 * MIB;
    c.poll_interval_ms = 20;
    IHostMemoryManager *h = NULL;
    CHECK(wvm_host_create(&c, &h) == S_OK, "wvm_host_create");
    return h;
}

/* A container: our own cgroup, a private cgroup namespace, and cgroup2 mounted inside it, where
 * /proc/self/cgroup reads "0::/". The host must watch the container's memory.pressure (not the
 * machine's); then, when that cgroup is removed, drop the trigger (POLLERR forever after) and
 * poll instead of spinning. */
static void container_case(cgroup_case *c)
{
    private_namespace();
    char mnt[] = "/tmp/wvm-cgroup2-XXXXXX";
    CHECK(mkdtemp(mnt), "mkdtemp: %s", strerror(errno));
    CHECK(!mount("cgroup2", mnt, "cgroup2", 0, NULL), "mount cgroup2: %s", strerror(errno));
    IHostMemoryManager *h = psi_host();
    const char *src = wvm_host_pressure_source(h);
    CHECK(!strcmp(src, "psi-cgroup"), "in a container the source is %s, not psi-cgroup", src);
    ino_t ino = trigger_inode();
    CHECK(ino == c->pressure_ino, "the trigger is on inode %lu, the container's is %lu",
          (unsigned long)ino, (unsigned long)c->pressure_ino);

    midway(c); /* the cgroup is removed: the trigger reports POLLERR | POLLPRI from now on */
    wvm__host_settle(h);
    wvm__host_settle(h);
    src = wvm_host_pressure_source(h);
    CHECK(!strcmp(src, "poll"), "after the cgroup went, the source is %s, not poll", src);
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    CHECK(s.psi_events == 0, "the error state counted as %llu pressure events",
          (unsigned long long)s.psi_events);
    CHECK(s.notifications[eMemoryAvailableLow] == 0, "the error state gave Low notifications");
    h->lpVtbl->Release(h);
    umount(mnt);
    rmdir(mnt);
}

Test(host_pressure, container_cgroup_then_its_removal)
{
    run_case(container_case, true);
}

/* A cgroup namespace whose hierarchy is mounted from outside it (mountinfo's root reads "/.."):
 * the host cannot name its cgroup's file and must say so by watching the whole system ("psi"),
 * not some other cgroup's file. */
static void outside_mount_case(cgroup_case *c)
{
    (void)c;
    if (unshare(CLONE_NEWCGROUP))
        child_exit(NEED, "unshare(CLONE_NEWCGROUP): %s", strerror(errno));
    IHostMemoryManager *h = psi_host();
    const char *src = wvm_host_pressure_source(h);
    CHECK(!strcmp(src, "psi"), "the source is %s, not psi (the system's)", src);
    struct stat sys;
    CHECK(!stat("/proc/pressure/memory", &sys) && trigger_inode() == sys.st_ino,
          "the trigger is not on /proc/pressure/memory");
    h->lpVtbl->Release(h);
}

Test(host_pressure, namespace_without_its_own_mount_watches_the_system)
{
    run_case(outside_mount_case, false);
}
