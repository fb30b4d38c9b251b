/* The kernel's list of mappings: PROCMAP_QUERY ioctl (Linux >= 6.11, one call per mapping, no
 * text parsing), else a scan of /proc/self/maps. Used only for memory winvmem did not map. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "prim/linux/prim.h"
#include "prim/linux/sysfiles.h"

#ifndef PROCMAP_QUERY /* <linux/fs.h> of Linux 6.11; Debian 12's headers are 6.1 */
struct procmap_query {
    uint64_t size;
    uint64_t query_flags;
    uint64_t query_addr;
    uint64_t vma_start;
    uint64_t vma_end;
    uint64_t vma_flags;
    uint64_t vma_page_size;
    uint64_t vma_offset;
    uint64_t inode;
    uint32_t dev_major;
    uint32_t dev_minor;
    uint32_t vma_name_size;
    uint32_t build_id_size;
    uint64_t vma_name_addr;
    uint64_t build_id_addr;
};
#define PROCMAP_QUERY                      _IOWR('f', 17, struct procmap_query)
#define PROCMAP_QUERY_VMA_READABLE         0x01
#define PROCMAP_QUERY_VMA_WRITABLE         0x02
#define PROCMAP_QUERY_VMA_EXECUTABLE       0x04
#define PROCMAP_QUERY_VMA_SHARED           0x08
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
#endif

static _Atomic int maps_fd = -1;

static int open_maps(void)
{
    int fd = atomic_load(&maps_fd);
    if (fd >= 0)
        return fd;
    fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int expected = -1;
    if (!atomic_compare_exchange_strong(&maps_fd, &expected, fd)) {
        close(fd);
        fd = expected;
    }
    return fd;
}

void wvm__prim_fork_lock(pthread_mutex_t *lock, int phase)
{
    if (phase == WVM_PRIM_FORK_PREPARE)
        pthread_mutex_lock(lock);
    else
        pthread_mutex_unlock(lock);
}

void wvm__prim_maps_fork(int phase)
{
    int fd = atomic_load(&maps_fd);
    if (phase == WVM_PRIM_FORK_CHILD && fd >= 0) { /* it names the parent's address space */
        atomic_store(&maps_fd, -1);
        close(fd);
    }
}

static int query_ioctl(uintptr_t addr, wvm_vma *out)
{
    int fd = open_maps();
    if (fd < 0)
        return errno;
    struct procmap_query q;
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA;
    q.query_addr = addr;
    if (ioctl(fd, PROCMAP_QUERY, &q) < 0)
        return errno;
    out->start = q.vma_start;
    out->end = q.vma_end;
    out->prot = (q.vma_flags & PROCMAP_QUERY_VMA_READABLE ? WVM_P_READ : 0) |
                (q.vma_flags & PROCMAP_QUERY_VMA_WRITABLE ? WVM_P_WRITE : 0) |
                (q.vma_flags & PROCMAP_QUERY_VMA_EXECUTABLE ? WVM_P_EXEC : 0);
    out->flags = (q.vma_flags & PROCMAP_QUERY_VMA_SHARED ? WVM_VMA_SHARED : 0) |
                 (q.inode ? WVM_VMA_FILE : 0);
    out->inode = q.inode;
    out->dev = ((uint64_t)q.dev_major << 32) | q.dev_minor;
    out->pgoff = q.vma_offset;
    return 0;
}

int wvm__prim_procmap_probe(void)
{
    wvm_vma v;
    return query_ioctl(0, &v);
}

/* Parses one line of /proc/self/maps: "start-end perms offset major:minor inode path". */
static bool parse_line(const char *line, wvm_vma *out)
{
    char *p;
    out->start = strtoull(line, &p, 16);
    if (*p != '-')
        return false;
    out->end = strtoull(p + 1, &p, 16);
    while (*p == ' ')
        p++;
    out->prot = (p[0] == 'r' ? WVM_P_READ : 0) | (p[1] == 'w' ? WVM_P_WRITE : 0) |
                (p[2] == 'x' ? WVM_P_EXEC : 0);
    out->flags = p[3] == 's' ? WVM_VMA_SHARED : 0;
    p += 4;
    out->pgoff = strtoull(p, &p, 16);
    unsigned long major = strtoul(p, &p, 16);
    unsigned long minor = strtoul(p + 1, &p, 16);
    out->dev = ((uint64_t)major << 32) | minor;
    out->inode = strtoull(p, &p, 10);
    if (out->inode)
        out->flags |= WVM_VMA_FILE;
    return true;
}

typedef struct {
    uintptr_t addr;
    wvm_vma *out;
    bool found;
} text_query;

static bool first_ending_above(char *line, void *ctx)
{
    text_query *q = ctx;
    return q->found = parse_line(line, q->out) && q->out->end > q->addr;
}

/* Fallback: the first line of /proc/self/maps that ends above addr, without the C heap. */
static int query_text(uintptr_t addr, wvm_vma *out)
{
    text_query q = {addr, out, false};
    int err = wvm__sysfiles_each_line("/proc/self/maps", first_ending_above, &q);
    return err ? err : q.found ? 0 : ENOENT;
}

int wvm__prim_vma_next(uintptr_t addr, wvm_vma *out)
{
    if (wvm__caps()->procmap_query)
        return query_ioctl(addr, out);
    return query_text(addr, out);
}
