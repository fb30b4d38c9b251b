/* /proc/meminfo and the cgroup v2 memory files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prim/linux/prim.h"
#include "prim/linux/sysfiles.h"

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

/* A cgroup v2 limit file: a number, or "max" (= UINT64_MAX). */
static uint64_t cgroup_value(const char *dir, const char *name)
{
    char path[640], buf[64];
    snprintf(path, sizeof path, "/sys/fs/cgroup%s/%s", dir, name);
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
    char cg[512];
    if (read_small("/proc/self/cgroup", cg, sizeof cg) <= 0 || strncmp(cg, "0::", 3))
        return;
    char *dir = cg + 3;
    dir[strcspn(dir, "\n")] = 0;
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
