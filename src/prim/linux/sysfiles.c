/* /proc/meminfo and the cgroup v2 memory files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prim/linux/prim.h"
#include "prim/linux/sysfiles.h"

int wvm__sysfiles_self_fd(wvm_self_fd *c, const char *path, int flags)
{
    int fd = atomic_load_explicit(&c->fd, memory_order_acquire);
    pid_t pid = getpid();
    if (fd >= 0 && atomic_load_explicit(&c->pid, memory_order_relaxed) == pid)
        return fd;
    pthread_mutex_lock(&c->lock);
    fd = atomic_load(&c->fd);
    if (fd < 0 || atomic_load(&c->pid) != pid) {
        int nfd = open(path, flags | O_CLOEXEC);
        if (nfd >= 0) {
            atomic_store(&c->pid, pid);
            atomic_store_explicit(&c->fd, nfd, memory_order_release);
            /* the previous descriptor (the parent's) stays open: another thread of ours may be
             * using it this instant; one descriptor per fork is the cost */
        }
        fd = nfd;
    }
    pthread_mutex_unlock(&c->lock);
    return fd;
}

/* Reads a small file into buf (NUL-terminated); returns its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = 0;
    return (ssize_t)len;
}

/* Value of "Key:   N kB" in /proc/meminfo, in bytes; 0 when absent. */
static uint64_t meminfo_field(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    if (!p)
        return 0;
    p += strlen(key);
    while (*p == ' ' || *p == ':')
        p++;
    return strtoull(p, NULL, 10) * 1024;
}

/* Undoes mountinfo's octal escapes (\040 for a space, ...) in place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
}

/* If path lies at or below root (both absolute), the rest of path after root ("" or "/x");
 * else NULL. */
static const char *below(const char *path, const char *root)
{
    if (!strcmp(root, "/"))
        return !strcmp(path, "/") ? "" : path;
    size_t n = strlen(root);
    return !strncmp(path, root, n) && (path[n] == 0 || path[n] == '/') ? path + n : NULL;
}

int wvm__sysfiles_each_line(const char *path, bool (*f)(char *line, void *ctx), void *ctx)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    char buf[4096 + 512]; /* a /proc/self/maps line: a path of up to PATH_MAX and its fields */
    size_t len = 0;
    bool done = false, skipping = false;
    while (!done) {
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = 0;
        char *line = buf, *nl;
        while (!done && (nl = memchr(line, '\n', len - (size_t)(line - buf)))) {
            *nl = 0;
            if (!skipping)
                done = f(line, ctx);
            skipping = false;
            line = nl + 1;
        }
        len -= (size_t)(line - buf);
        memmove(buf, line, len);
        if (len == sizeof buf - 1) { /* a line longer than the buffer */
            len = 0;
            skipping = true;
        }
    }
    close(fd);
    return 0;
}

typedef struct {
    const char *path; /* our cgroup, as /proc/self/cgroup names it */
    char *buf;
    size_t cap;
    bool found;
} cg2_find;

static bool cg2_mount(char *mi, void *ctx)
{
    cg2_find *c = ctx;
    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
    char *sep = strstr(mi, " - ");
    if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
        return false;
    char *save, *tok = strtok_r(mi, " ", &save);
    for (int i = 0; i < 2 && tok; i++)
        tok = strtok_r(NULL, " ", &save);
    char *root = strtok_r(NULL, " ", &save), *mnt = strtok_r(NULL, " ", &save);
    if (!tok || !root || !mnt)
        return false;
    unescape(root);
    unescape(mnt);
    const char *rest = below(c->path, root);
    c->found = rest && snprintf(c->buf, c->cap, "%s%s", mnt, rest) < (int)c->cap;
    return c->found;
}

int wvm__sysfiles_cgroup2_dir(char *buf, size_t cap)
{
    char cg[4096];
    if (read_small("/proc/self/cgroup", cg, sizeof cg) <= 0)
        return ENOENT;
    char *line = strstr(cg, "0::");
    while (line && line != cg && line[-1] != '\n')
        line = strstr(line + 1, "0::");
    if (!line)
        return ENOENT; /* no cgroup v2 hierarchy */
    char *path = line + 3;
    path[strcspn(path, "\n")] = 0;
    cg2_find c = {.path = path, .buf = buf, .cap = cap};
    int err = wvm__sysfiles_each_line("/proc/self/mountinfo", cg2_mount, &c);
    return err ? err : c.found ? 0 : ENOENT;
}

/* A cgroup v2 limit file: a number, or "max" (= UINT64_MAX). */
static uint64_t cgroup_value(const char *dir, const char *name)
{
    char path[PATH_MAX + 32], buf[64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (read_small(path, buf, sizeof buf) <= 0 || !strncmp(buf, "max", 3))
        return UINT64_MAX;
    return strtoull(buf, NULL, 10);
}

void wvm__sysfiles_memory(uint64_t *ram, uint64_t *swap, uint64_t *cgroup_limit)
{
    static char text[8192];
    *ram = *swap = 0;
    *cgroup_limit = UINT64_MAX;
    if (read_small("/proc/meminfo", text, sizeof text) > 0) {
        *ram = meminfo_field(text, "MemTotal");
        *swap = meminfo_field(text, "SwapTotal");
    }
    char dir[PATH_MAX];
    if (wvm__sysfiles_cgroup2_dir(dir, sizeof dir))
        return;
    uint64_t mem = cgroup_value(dir, "memory.max");
    uint64_t sw = cgroup_value(dir, "memory.swap.max");
    if (mem == UINT64_MAX)
        return;
    *cgroup_limit = sw == UINT64_MAX || mem + sw < mem ? mem + *swap : mem + sw;
}

int wvm__prim_avail_ram(uint64_t *out)
{
    char text[8192];
    if (read_small("/proc/meminfo", text, sizeof text) <= 0)
        return EIO;
    *out = meminfo_field(text, "MemAvailable");
    return 0;
}

uint64_t wvm__sysfiles_meminfo(const char *key)
{
    char text[8192];
    return read_small("/proc/meminfo", text, sizeof text) > 0 ? meminfo_field(text, key) : 0;
}
