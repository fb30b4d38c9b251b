/* Reading figures from /proc and /sys (prim-internal). */
#ifndef WVM_SYSFILES_H
#define WVM_SYSFILES_H
#include <stdbool.h>
#include <stdint.h>

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
/* The /proc/meminfo field key ("Hugepagesize") in bytes; 0 when absent. */
uint64_t wvm__sysfiles_meminfo(const char *key);
#endif
