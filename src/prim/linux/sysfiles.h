/* Reading figures from /proc and /sys (prim-internal). */
#ifndef WVM_SYSFILES_H
#define WVM_SYSFILES_H
#include <stdbool.h>
#include <stdint.h>

/* Total RAM and swap in bytes; the cgroup v2 limit memory.max + memory.swap.max, or
 * UINT64_MAX when unlimited or unknown. */
void wvm__sysfiles_memory(uint64_t *ram, uint64_t *swap, uint64_t *cgroup_limit);
int wvm__prim_procmap_probe(void); /* 0 or errno */
/* The /proc/meminfo field key ("Hugepagesize") in bytes; 0 when absent. */
uint64_t wvm__sysfiles_meminfo(const char *key);
#endif
