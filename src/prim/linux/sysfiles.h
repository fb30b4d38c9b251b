/* Reading figures from /proc and /sys (prim-internal). */
#ifndef WVM_SYSFILES_H
#define WVM_SYSFILES_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Total RAM and swap in bytes; the cgroup v2 limit memory.max + memory.swap.max, or
 * UINT64_MAX when unlimited or unknown. */
void wvm__sysfiles_memory(uint64_t *ram, uint64_t *swap, uint64_t *cgroup_limit);
int wvm__prim_procmap_probe(void); /* 0 or errno */
/* The directory of our cgroup v2 as this process sees it: /proc/self/cgroup's "0::" path
 * resolved against a cgroup2 mount of /proc/self/mountinfo whose root contains it (a hybrid
 * system's /sys/fs/cgroup/unified, or a container's own /sys/fs/cgroup, where a private cgroup
 * namespace makes the path "/"). ENOENT when no visible mount contains it (no cgroup v2, or a
 * namespace whose hierarchy is mounted from outside it: the root shows as "/.."). */
int wvm__sysfiles_cgroup2_dir(char *buf, size_t cap);
/* Calls f on each line of path (NUL-terminated, without its newline; lines longer than 4 KiB
 * + 512 bytes are skipped) until f returns true. No heap allocation: usable wherever a
 * VirtualQuery may run. Returns 0 or an errno. */
int wvm__sysfiles_each_line(const char *path, bool (*f)(char *line, void *ctx), void *ctx);
/* The /proc/meminfo field key ("Hugepagesize") in bytes; 0 when absent. */
uint64_t wvm__sysfiles_meminfo(const char *key);

/* A descriptor of a /proc/self file, kept open. It speaks for the process that opened it: a
 * child of fork opens its own (through the parent's, pagemap would describe and mem would
 * write the parent). Take `lock` in the fork handler. */
typedef struct wvm_self_fd {
    _Atomic int fd;
    _Atomic pid_t pid;
    pthread_mutex_t lock;
} wvm_self_fd;
#define WVM_SELF_FD_INIT                                                                           \
    {                                                                                              \
        -1, 0, PTHREAD_MUTEX_INITIALIZER                                                           \
    }
/* The descriptor of path (O_CLOEXEC added) for this process, or -1 (errno set). */
int wvm__sysfiles_self_fd(wvm_self_fd *c, const char *path, int flags);
#endif
