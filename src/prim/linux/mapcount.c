/* The process's kernel mappings against vm.max_map_count (core/stash_policy.c). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prim/linux/prim.h"

static long limit = 65530; /* the kernel's default, where the file cannot be read */
static pthread_once_t limit_once = PTHREAD_ONCE_INIT;

static void read_limit(void)
{
    char buf[32];
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = 0;
    long v = strtol(buf, NULL, 10);
    if (v > 0)
        limit = v;
}

long wvm__prim_max_map_count(void)
{
    pthread_once(&limit_once, read_limit);
    return limit;
}

long wvm__prim_map_count(void)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[16384];
    long lines = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            lines = -1;
            break;
        }
        for (const char *p = buf, *end = buf + n; (p = memchr(p, '\n', (size_t)(end - p))); p++)
            lines++;
    }
    close(fd);
    return lines;
}
