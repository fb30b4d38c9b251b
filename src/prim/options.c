/* The option table: every WINVMEM_* variable winvmem reads, in one place. */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "prim/options.h"

static const wvm_option_desc table[WVM_OPT_COUNT] = {
    [WVM_OPT_COMMIT_LIMIT] = {"WINVMEM_COMMIT_LIMIT", 0, 1,
                              "commit limit in bytes (K/M/G/T suffixes); default RAM + swap, or "
                              "the cgroup's memory.max + memory.swap.max when lower"},
    [WVM_OPT_GUARD_MARKERS] = {"WINVMEM_GUARD_MARKERS", 1, 0,
                               "0: never use MADV_GUARD_INSTALL, use the mprotect fallback"},
    [WVM_OPT_PROCMAP_QUERY] = {"WINVMEM_PROCMAP_QUERY", 1, 0,
                               "0: read /proc/self/maps as text instead of PROCMAP_QUERY"},
    [WVM_OPT_SHOW_STATS] = {"WINVMEM_SHOW_STATS", 0, 0, "1: print statistics at exit"},
    [WVM_OPT_VERBOSE] = {"WINVMEM_VERBOSE", 0, 0, "1: explain mechanism choices on stderr"},
    [WVM_OPT_DYNAMIC_CODE] = {"WINVMEM_DYNAMIC_CODE", 0, 0,
                              "1: VirtualProtectFromApp may make pages executable (the "
                              "codeGeneration capability)"},
    [WVM_OPT_THP_FALLBACK] = {"WINVMEM_LARGE_PAGES_THP", 0, 0,
                              "1: MEM_LARGE_PAGES falls back to transparent huge pages"},
    [WVM_OPT_USERFAULTFD] = {"WINVMEM_USERFAULTFD", 1, 0,
                             "0: never use userfaultfd, as on kernels before 6.7 / 6.8: write "
                             "watch uses mprotect, AWE a memfd page pool"},
    [WVM_OPT_UFFD_READONLY] = {"WINVMEM_UFFD_READONLY", 1, 0,
                               "0: PAGE_READONLY on committed pages uses mprotect (one kernel "
                               "mapping per run) instead of userfaultfd write-protect"},
    [WVM_OPT_PROC_MEM] = {"WINVMEM_PROC_MEM", 1, 0,
                          "0: never write through /proc/self/mem, as where the kernel refuses "
                          "it: MEM_RESET_UNDO then reports pages it cannot pin as lost"},
    [WVM_OPT_MARKER_NOACCESS] = {"WINVMEM_MARKER_NOACCESS", 1, 0,
                                 "0: PAGE_NOACCESS and PAGE_GUARD on committed untouched pages "
                                 "use mprotect instead of a guard marker"},
    [WVM_OPT_MARKER_DATA] = {"WINVMEM_MARKER_DATA", 1, 0,
                             "0: PAGE_NOACCESS and PAGE_GUARD on committed pages holding data "
                             "use mprotect, 2: a guard marker with the data kept aside, 1: "
                             "mprotect up to 1/16 of vm.max_map_count mappings, then 2's"},
    [WVM_OPT_STRICT_DECOMMIT] = {"WINVMEM_STRICT_DECOMMIT", 0, 0,
                                 "1: a read racing with the decommit or release of its read-write "
                                 "page faults or reads the old data, never 0 (two mprotect calls "
                                 "per decommit)"},
};

static _Atomic int64_t values[WVM_OPT_COUNT];
/* how each value came to be (WVM_OPTION_*) and the environment's text, as read at load */
static _Atomic int sources[WVM_OPT_COUNT];
static char texts[WVM_OPT_COUNT][WVM_OPT_TEXT_MAX];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic bool loaded;

static int size_shift(int c)
{
    switch (toupper(c)) {
    case 'K':
        return 10;
    case 'M':
        return 20;
    case 'G':
        return 30;
    case 'T':
        return 40;
    default:
        return 0;
    }
}

static int parse(const wvm_option_desc *d, const char *s, int64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *s == '-')
        return -1;
    int shift = d->is_size ? size_shift((unsigned char)*end) : 0;
    if (shift) {
        end++;
        if (toupper((unsigned char)*end) == 'I')
            end++;
        if (toupper((unsigned char)*end) == 'B')
            end++;
        if (v > ((uint64_t)INT64_MAX >> shift))
            return -1;
        v <<= shift;
    }
    if (*end || v > INT64_MAX)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static void load(void)
{
    for (int i = 0; i < WVM_OPT_COUNT; i++) {
        const wvm_option_desc *d = &table[i];
        int64_t v = d->default_value;
        const char *s = getenv(d->env);
        int source = s && *s ? WVM_OPT_SRC_ENVIRONMENT : WVM_OPT_SRC_DEFAULT;
        if (s && *s && parse(d, s, &v)) {
            fprintf(stderr, "winvmem: ignoring %s=%s (%s)\n", d->env, s, d->help);
            v = d->default_value;
            source = WVM_OPT_SRC_REJECTED;
        }
        if (s)
            snprintf(texts[i], sizeof texts[i], "%s", s);
        atomic_store(&values[i], v);
        atomic_store(&sources[i], source);
    }
    atomic_store(&loaded, true);
}

bool wvm__options_loaded(void)
{
    return atomic_load(&loaded);
}

int64_t wvm__option(enum wvm_option opt)
{
    pthread_once(&once, load);
    return atomic_load_explicit(&values[opt], memory_order_relaxed);
}

int64_t wvm__option_set(enum wvm_option opt, int64_t value)
{
    pthread_once(&once, load);
    int64_t old = atomic_exchange(&values[opt], value);
    if (old != value)
        atomic_store(&sources[opt], WVM_OPT_SRC_SET);
    return old;
}

int wvm__option_describe(unsigned i, const wvm_option_desc **desc, int64_t *value, int *source,
                         const char **text)
{
    if (i >= WVM_OPT_COUNT)
        return -1;
    pthread_once(&once, load);
    *desc = &table[i];
    *value = atomic_load(&values[i]);
    *source = atomic_load(&sources[i]);
    *text = texts[i];
    return 0;
}
