/* Run-time options, read once from the environment (WINVMEM_*). See doc/options.md. */
#ifndef WVM_OPTIONS_H
#define WVM_OPTIONS_H
#include <stdbool.h>
#include <stdint.h>

enum wvm_option {
    WVM_OPT_COMMIT_LIMIT,    /* WINVMEM_COMMIT_LIMIT: bytes (suffixes K M G T); 0 = default */
    WVM_OPT_GUARD_MARKERS,   /* WINVMEM_GUARD_MARKERS: 0 forces the mprotect fallback */
    WVM_OPT_PROCMAP_QUERY,   /* WINVMEM_PROCMAP_QUERY: 0 forces parsing /proc/self/maps */
    WVM_OPT_SHOW_STATS,      /* WINVMEM_SHOW_STATS: 1 prints stats at exit */
    WVM_OPT_VERBOSE,         /* WINVMEM_VERBOSE: 1 explains mechanism choices on stderr */
    WVM_OPT_DYNAMIC_CODE,    /* WINVMEM_DYNAMIC_CODE: 1 lets *FromApp make executable pages */
    WVM_OPT_THP_FALLBACK,    /* WINVMEM_LARGE_PAGES_THP: 1 lets MEM_LARGE_PAGES use THP */
    WVM_OPT_USERFAULTFD,     /* WINVMEM_USERFAULTFD: 0 never uses userfaultfd (write watch, AWE) */
    WVM_OPT_UFFD_READONLY,   /* WINVMEM_UFFD_READONLY: 0 makes READONLY pages by mprotect */
    WVM_OPT_PROC_MEM,        /* WINVMEM_PROC_MEM: 0 never writes through /proc/self/mem */
    WVM_OPT_MARKER_NOACCESS, /* WINVMEM_MARKER_NOACCESS: 0 makes NOACCESS/GUARD pages by mprotect */
    WVM_OPT_MARKER_DATA,     /* WINVMEM_MARKER_DATA: 0 makes such pages with data by mprotect */
    WVM_OPT_STRICT_DECOMMIT, /* WINVMEM_STRICT_DECOMMIT: 1 brackets every decommit (finding h) */
    WVM_OPT_COUNT
};

typedef struct wvm_option_desc {
    const char *env;
    int64_t default_value;
    int is_size; /* accepts K/M/G/T suffixes */
    const char *help;
} wvm_option_desc;

/* The value of an option (thread-safe; parsed on first use; a bad value is reported once on
 * stderr and the default is used). */
int64_t wvm__option(enum wvm_option opt);
/* Overrides an option in-process (tests, wvm_host); returns the previous value. */
int64_t wvm__option_set(enum wvm_option opt, int64_t value);
/* Whether the options have been read, i.e. winvmem has been used in this process. */
bool wvm__options_loaded(void);

/* Where an option's value comes from (the public WVM_OPTION_* have the same numbers). */
enum wvm_option_source {
    WVM_OPT_SRC_DEFAULT,     /* not set in the environment */
    WVM_OPT_SRC_ENVIRONMENT, /* the environment's value is in force */
    WVM_OPT_SRC_REJECTED,    /* the environment's value was invalid: the default is in force */
    WVM_OPT_SRC_SET          /* changed in-process since (wvm_set_dynamic_code_allowed, ...) */
};
#define WVM_OPT_TEXT_MAX 64

/* How option i (an enum wvm_option) is in force: its description, value, source and the
 * environment's text ("" when unset, truncated to WVM_OPT_TEXT_MAX - 1 bytes). Returns 0, or -1
 * past the last option. */
int wvm__option_describe(unsigned i, const wvm_option_desc **desc, int64_t *value, int *source,
                         const char **text);
#endif
