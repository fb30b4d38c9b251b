/* winvmem statistics and introspection (not part of the Windows API). */
#ifndef WINVMEM_STATS_H
#define WINVMEM_STATS_H

#include <stddef.h>
#include <stdio.h>
#include "vm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WVM_STATS_VERSION 3

/* Kernel mechanisms winvmem can use; `mechanisms` in wvm_stats is a set of these bits. */
#define WVM_MECH_GUARD_MARKERS   0x01u  /* MADV_GUARD_INSTALL for uncommitted pages (>= 6.13) */
#define WVM_MECH_PROCMAP_QUERY   0x02u  /* PROCMAP_QUERY ioctl for foreign memory (>= 6.11)   */
#define WVM_MECH_UFFD_WP_ASYNC   0x04u  /* userfaultfd async write-protect (write watch)       */
#define WVM_MECH_PAGEMAP_SCAN    0x08u  /* PAGEMAP_SCAN ioctl (>= 6.7)                         */
#define WVM_MECH_HUGETLB         0x10u  /* a non-empty hugetlb pool                            */
#define WVM_MECH_MEMFD           0x20u  /* memfd_create for AWE physical pages                 */
#define WVM_MECH_UFFDIO_MOVE     0x40u  /* UFFDIO_MOVE (>= 6.8)                                */
#define WVM_MECH_UFFD_WP_SIGBUS  0x80u  /* userfaultfd write-protect: READONLY (>= 6.4)       */
#define WVM_MECH_MARKER_NOACCESS 0x200u /* guard markers: NOACCESS/GUARD pages (>= 6.13)    */
#define WVM_MECH_MARKER_DATA     0x400u /* ...holding data: kept aside, UFFDIO_COPY back       */

#define WVM_MECH_PROC_MEM 0x100u /* forced writes through /proc/self/mem (MEM_RESET_UNDO) */

/* Kinds of system call counted in `syscalls`. */
enum wvm_syscall_kind {
    WVM_SYS_MMAP,
    WVM_SYS_MUNMAP,
    WVM_SYS_MPROTECT,
    WVM_SYS_MADVISE,
    WVM_SYS_MLOCK,
    WVM_SYS_OTHER,
    WVM_SYS_KINDS
};

typedef struct wvm_stats {
    uint32_t version; /* set to WVM_STATS_VERSION by the caller */
    uint32_t size;    /* set to sizeof(wvm_stats) by the caller */
    uint64_t reserved_bytes, reserved_peak;
    uint64_t committed_bytes, committed_peak;
    uint64_t commit_limit;
    uint64_t commit_refusals; /* commits refused with ERROR_COMMITMENT_LIMIT */
    uint64_t live_allocations;
    uint64_t kernel_mappings_created; /* mmap calls that made a new mapping */
    uint64_t metadata_bytes;          /* memory in use by winvmem's own bookkeeping */
    uint64_t syscalls[WVM_SYS_KINDS];
    uint32_t mechanisms_available; /* WVM_MECH_* the kernel offers */
    uint32_t mechanisms_in_use;    /* WVM_MECH_* winvmem chose    */
    /* version 2 (a version-1 caller gets the fields above) */
    uint64_t sections_live;     /* section objects alive in this process */
    uint64_t views_live;        /* mapped views */
    uint64_t view_bytes;        /* bytes the views map */
    uint64_t placeholders_live; /* placeholders */
    uint64_t handles_open;      /* winvmem handles (sections, files) */
    /* version 3 */
    uint64_t metadata_held_bytes; /* memory mapped for the bookkeeping: metadata_bytes plus free
                                   * blocks kept for reuse and the allocator's own records */
    uint32_t fault_handler;       /* WVM_FAULT_HANDLER_*: winvmem's SIGSEGV/SIGBUS handler */
    uint32_t reserved3;
    uint64_t faults_handled;   /* faults on winvmem's memory handled (the access ran again) */
    uint64_t faults_via_entry; /* of those, through wvm_handle_fault (winvmem/fault.h) */
} wvm_stats;

/* wvm_stats.fault_handler */
#define WVM_FAULT_HANDLER_NONE      0u /* not installed: no feature has needed it yet */
#define WVM_FAULT_HANDLER_INSTALLED 1u /* installed, and still the handler of both signals */
#define WVM_FAULT_HANDLER_DISPLACED                                                                \
    2u /* another handler replaced it: guard pages, vectored                                       \
        * handlers and the write-watch fallback work only through                                  \
        * wvm_handle_fault */

/* The sizes of earlier versions of wvm_stats (callers built against them). */
#define WVM_STATS_V1_SIZE ((uint32_t)offsetof(wvm_stats, sections_live))
#define WVM_STATS_V2_SIZE ((uint32_t)offsetof(wvm_stats, metadata_held_bytes))

/* Fills *out; returns 0, or EINVAL when version/size do not match this library (versions 1 and
 * 2 with WVM_STATS_V1_SIZE / WVM_STATS_V2_SIZE are still accepted: the fields they have are
 * filled). */
WVM_API int wvm_stats_get(wvm_stats *out);

/* Prints the address space around every winvmem allocation like Sysinternals VMMap:
 * address, size, state, protection, type, allocation base. */
WVM_API void wvm_print_map(FILE *out);

/* Flags of wvm_print_map_ex and wvm_print_stats. */
#define WVM_PRINT_JSON 0x1u /* machine-readable JSON instead of the table */
#define WVM_PRINT_OWN  0x2u /* map: only winvmem's own allocations, nothing foreign */

/* wvm_print_map with flags (WVM_PRINT_*). The JSON form is one array of region objects:
 * base, size, state, protect, type, allocation_base, allocation_protect, winvmem. */
WVM_API void wvm_print_map_ex(FILE *out, unsigned flags);

/* Prints wvm_stats_get's figures, with the mechanisms by name (WVM_PRINT_JSON: one object).
 * WINVMEM_SHOW_STATS=1 prints this on stderr at exit. */
WVM_API void wvm_print_stats(FILE *out, unsigned flags);

/* Explains one mechanism (a single WVM_MECH_* bit) in words: in use, available but not used
 * and why, missing and what fails (with the errno name) and what replaces it, or not probed
 * yet (a mechanism no feature in this build probes). Probes the mechanism first if needed. Writes
 * one NUL-terminated line into buf; returns the mechanism's short name, or NULL for an unknown bit.
 */
WVM_API const char *wvm_mechanism_explain(uint32_t mech, char *buf, size_t cap);

/* Prints the regions VirtualQuery reports for [from, to), one line each. */
WVM_API void wvm_print_range(FILE *out, const void *from, const void *to);

/* How a WINVMEM_* option is in force (wvm_option_get). */
#define WVM_OPTION_DEFAULT     0 /* not set in the environment: the default */
#define WVM_OPTION_ENVIRONMENT 1 /* the environment's value */
#define WVM_OPTION_REJECTED    2 /* the environment's value was invalid: the default */
#define WVM_OPTION_SET_IN_PROCESS                                                                  \
    3 /* changed by the program since (wvm_set_dynamic_code_allowed) */

typedef struct wvm_option_info {
    const char *name;      /* "WINVMEM_COMMIT_LIMIT" */
    const char *help;      /* what the values mean */
    int64_t value;         /* the value in force */
    int64_t default_value; /* (WINVMEM_COMMIT_LIMIT: 0 = the computed default) */
    int source;            /* WVM_OPTION_* */
    char text[64];         /* the environment's value as read, truncated; "" when unset */
} wvm_option_info;

/* Describes option number index (0, 1, ... up to the last; the order is fixed within a
 * version). Reads the environment first if winvmem has not yet. Returns 0, or -1 when index is
 * past the last option or out is NULL. */
WVM_API int wvm_option_get(unsigned index, wvm_option_info *out);

/* Runs the internal invariant checker; returns 0 when consistent, else prints the first
 * violation to stderr and returns -1. Debug builds run it after every public call. */
WVM_API int wvm_check_invariants(void);

#ifdef __cplusplus
}
#endif
#endif
