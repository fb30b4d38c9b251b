/* Kernel mechanisms: what each probe found and whether winvmem uses it. Read by stats, by
 * `winvmem info` (through wvm_mechanism_explain) and reported once on stderr under
 * WINVMEM_VERBOSE=1. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <winvmem/stats.h>

#include "prim/options.h"
#include "prim/linux/prim.h"

#define NMECH 11

static const struct {
    const char *name;     /* short name, as `winvmem info` prints it */
    const char *what;     /* the kernel interface */
    const char *needs;    /* what provides it */
    const char *fallback; /* what winvmem does without it; NULL: the feature reports why */
} mech[NMECH] = {
    {"guard-markers", "madvise(MADV_GUARD_INSTALL)", "Linux >= 6.13",
     "uncommitted pages are PROT_NONE via mprotect (more kernel mappings)"},
    {"procmap-query", "ioctl(PROCMAP_QUERY) on /proc/self/maps", "Linux >= 6.11",
     "VirtualQuery of foreign memory parses /proc/self/maps"},
    {"uffd-wp-async", "userfaultfd with UFFD_FEATURE_WP_ASYNC", "Linux >= 6.7", NULL},
    {"pagemap-scan", "ioctl(PAGEMAP_SCAN) on /proc/self/pagemap", "Linux >= 6.7", NULL},
    {"hugetlb", "MAP_HUGETLB from the hugetlb pool", "vm.nr_hugepages > 0", NULL},
    {"memfd", "memfd_create", "Linux >= 3.17", NULL},
    {"uffdio-move", "ioctl(UFFDIO_MOVE)", "Linux >= 6.8", NULL},
    {"uffd-wp-sigbus", "userfaultfd write-protect with UFFD_FEATURE_SIGBUS | WP_UNPOPULATED",
     "Linux >= 6.4", "PAGE_READONLY on committed pages is mprotect (one kernel mapping per run)"},
    {"proc-mem", "forced writes through /proc/self/mem",
     "/proc mounted; Linux >= 6.12: proc_mem.force_override other than never",
     "MEM_RESET_UNDO reports reset pages it cannot write as lost"},
    {"marker-noaccess",
     "madvise(MADV_GUARD_INSTALL) over committed untouched pages (uffd-wp, /proc/self/pagemap)",
     "Linux >= 6.13",
     "PAGE_NOACCESS and PAGE_GUARD on committed pages are mprotect (one kernel mapping per run)"},
    {"marker-data",
     "madvise(MADV_GUARD_INSTALL) over committed pages with data, kept aside and put back by "
     "ioctl(UFFDIO_COPY) over the marker",
     "Linux >= 6.13 (UFFDIO_COPY replacing a guard marker)",
     "PAGE_NOACCESS and PAGE_GUARD on committed pages holding data are mprotect (one kernel "
     "mapping per run)"},
};

/* Verdicts that read better in words than as "call failed with errno". */
static const struct {
    uint32_t mech;
    int err;
    const char *text;
} said[] = {
    {WVM_MECH_HUGETLB, ENOMEM, "the hugetlb pool is empty (vm.nr_hugepages is 0)"},
    {WVM_MECH_HUGETLB, ENOSYS, "the kernel reports no huge page size (no hugetlbfs)"},
};

static struct {
    int err;                /* 0: the probe found it working; else the probe's errno */
    const char *why_unused; /* NULL: in use when available */
    _Atomic bool probed;
} state[NMECH];

static int index_of(uint32_t m)
{
    for (int i = 0; i < NMECH; i++)
        if (m == 1u << i)
            return i;
    return -1;
}

void wvm__mech_record(uint32_t m, int probe_err, const char *why_unused)
{
    int i = index_of(m);
    if (i < 0 || atomic_load(&state[i].probed))
        return;
    state[i].err = probe_err;
    state[i].why_unused = why_unused;
    atomic_store_explicit(&state[i].probed, true, memory_order_release);
    if (wvm__option(WVM_OPT_VERBOSE)) {
        char line[320];
        wvm__mech_explain(m, line, sizeof line);
        wvm__prim_say(line);
    }
}

void wvm__prim_say(const char *line)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "winvmem: %s\n", line);
    if (n > (int)sizeof buf - 1)
        n = (int)sizeof buf - 1;
    for (int off = 0; off < n;) {
        ssize_t w = write(2, buf + off, (size_t)(n - off));
        if (w <= 0)
            break;
        off += (int)w;
    }
}

static uint32_t collect(bool want_used)
{
    uint32_t set = 0;
    for (int i = 0; i < NMECH; i++)
        if (atomic_load_explicit(&state[i].probed, memory_order_acquire) && !state[i].err &&
            (!want_used || !state[i].why_unused))
            set |= 1u << i;
    return set;
}

uint32_t wvm__mech_available(void)
{
    return collect(false);
}

uint32_t wvm__mech_in_use(void)
{
    return collect(true);
}

static const char *special(uint32_t m, int err)
{
    for (size_t k = 0; k < sizeof said / sizeof said[0]; k++)
        if (said[k].mech == m && said[k].err == err)
            return said[k].text;
    return NULL;
}

const char *wvm__mech_explain(uint32_t m, char *buf, size_t cap)
{
    int i = index_of(m);
    if (i < 0) {
        snprintf(buf, cap, "unknown mechanism 0x%x", m);
        return NULL;
    }
    if (!atomic_load_explicit(&state[i].probed, memory_order_acquire)) {
        snprintf(buf, cap, "%s: not probed: no feature of this build has needed %s so far",
                 mech[i].name, mech[i].what);
    } else if (state[i].err && special(m, state[i].err)) {
        snprintf(buf, cap, "%s: missing: %s%s%s", mech[i].name, special(m, state[i].err),
                 mech[i].fallback ? "; " : "", mech[i].fallback ? mech[i].fallback : "");
    } else if (state[i].err) {
        const char *e = strerrorname_np(state[i].err);
        snprintf(buf, cap, "%s: missing: %s failed with %s (needs %s)%s%s", mech[i].name,
                 mech[i].what, e ? e : "an error", mech[i].needs, mech[i].fallback ? "; " : "",
                 mech[i].fallback ? mech[i].fallback : "");
    } else if (state[i].why_unused) {
        snprintf(buf, cap, "%s: available, not used: %s%s%s", mech[i].name, state[i].why_unused,
                 mech[i].fallback ? "; " : "", mech[i].fallback ? mech[i].fallback : "");
    } else {
        snprintf(buf, cap, "%s: in use (%s)", mech[i].name, mech[i].what);
    }
    return mech[i].name;
}
