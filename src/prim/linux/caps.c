/* Capabilities of this kernel, probed once. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <winvmem/stats.h>

#include "prim/options.h"
#include "prim/linux/prim.h"
#include "prim/linux/sysfiles.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

static wvm_caps caps;
static pthread_once_t caps_once = PTHREAD_ONCE_INIT;

int wvm__prim_probe_scratch(size_t len, int (*fn)(char *p, void *ctx), void *ctx)
{
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return errno;
    int err = fn(p, ctx);
    munmap(p, len);
    return err;
}

/* Guard markers exist from Linux 6.13; some distribution kernels lack them. A marker must make
 * a readable page fault: check with mincore-free means — the marker shows in pagemap only, so
 * rely on the call's own verdict plus the zapping it promises. */
static int install_marker(char *p, void *unused)
{
    (void)unused;
    p[0] = 7;
    return madvise(p, 4096, MADV_GUARD_INSTALL) ? errno : 0;
}

/* Probes a mechanism even when an option turns it off, so that stats and `winvmem info` can
 * tell "missing" from "disabled". Returns whether winvmem uses it. */
static bool choose(uint32_t mech, int probe_err, enum wvm_option opt, const char *disabled)
{
    bool on = wvm__option(opt) != 0;
    wvm__mech_record(mech, probe_err, on ? NULL : disabled);
    return !probe_err && on;
}

static void probe(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    caps.page_size = ps > 0 ? (size_t)ps : 4096;
    caps.user_limit = ((uintptr_t)1 << 47) - caps.page_size;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    caps.ncpu = n > 0 ? (unsigned)n : 1;
    caps.guard_markers =
        choose(WVM_MECH_GUARD_MARKERS, wvm__prim_probe_scratch(2 * 4096, install_marker, NULL),
               WVM_OPT_GUARD_MARKERS, "disabled by WINVMEM_GUARD_MARKERS=0");
    caps.procmap_query = choose(WVM_MECH_PROCMAP_QUERY, wvm__prim_procmap_probe(),
                                WVM_OPT_PROCMAP_QUERY, "disabled by WINVMEM_PROCMAP_QUERY=0");
    wvm__sysfiles_memory(&caps.total_ram, &caps.total_swap, &caps.cgroup_limit);
}

long wvm__prim_pid(void)
{
    return (long)getpid();
}

const wvm_caps *wvm__caps(void)
{
    pthread_once(&caps_once, probe);
    return &caps;
}
