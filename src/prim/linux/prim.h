/* The platform contract: the only code in winvmem that makes system calls or reads /proc and
 * /sys lives behind these functions (src/prim/linux/). Every function returns 0 on success or
 * a positive errno value; none sets errno for its caller, none allocates from the C heap.
 *
 * Fault injection (WVM_FAULT_INJECTION builds): wvm__prim_inject_after(n, err) makes the n-th
 * next fallible call fail with err (n = 1: the very next call). Calls that cannot fail on a
 * real kernel (munmap of our own range, MADV_DONTNEED) are not counted. */
#ifndef WVM_PRIM_H
#define WVM_PRIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Linux protection bits, as for mprotect(2). */
#define WVM_P_NONE  0
#define WVM_P_READ  1
#define WVM_P_WRITE 2
#define WVM_P_EXEC  4
#define WVM_P_RW    (WVM_P_READ | WVM_P_WRITE)

/* The Linux protection of a committed page whose Windows protection is prot (PAGE_* with
 * modifiers; other bits are ignored). PAGE_GUARD pages are PROT_NONE until the fault
 * dispatcher consumes the guard. */
int wvm__linux_prot(uint32_t prot);

typedef struct wvm_caps {
    size_t page_size;      /* the kernel's page size: 4096 on x86-64 */
    bool guard_markers;    /* MADV_GUARD_INSTALL works (Linux >= 6.13), and not disabled */
    bool procmap_query;    /* PROCMAP_QUERY ioctl on /proc/self/maps (Linux >= 6.11) */
    uintptr_t user_limit;  /* one past the highest address mmap can hand out */
    uint64_t total_ram;    /* bytes */
    uint64_t total_swap;   /* bytes */
    uint64_t cgroup_limit; /* memory.max + memory.swap.max of our cgroup, or UINT64_MAX */
    unsigned ncpu;
} wvm_caps;

/* Probed once (thread-safe, idempotent); the result never changes afterwards. */
const wvm_caps *wvm__caps(void);

/* --- mappings ---------------------------------------------------------------------------- */

/* Maps size bytes of PROT_NONE, MAP_NORESERVE private anonymous memory. With fixed, exactly at
 * hint or fail with EEXIST (MAP_FIXED_NOREPLACE); otherwise anywhere (hint is a hint). */
int wvm__prim_map_none(void *hint, size_t size, bool fixed, void **out);
/* Maps size bytes aligned to align (a power of two), trimming the excess. */
int wvm__prim_map_none_aligned(size_t size, size_t align, void **out);
int wvm__prim_unmap(void *addr, size_t size);
/* Replaces [addr, addr+size) of our own memory with fresh PROT_NONE, MAP_NORESERVE memory:
 * contents dropped, one mapping, locks gone (mmap MAP_FIXED). */
int wvm__prim_replace_none(void *addr, size_t size);
int wvm__prim_protect(void *addr, size_t size, int prot);
/* Installs / removes guard markers (MADV_GUARD_*); installing drops the pages' contents. */
int wvm__prim_guard_install(void *addr, size_t size);
int wvm__prim_guard_remove(void *addr, size_t size);
/* A copy of [src, src+len) placed at dst with protection prot in one step (mremap of a fresh
 * private mapping over it: whatever was at dst, a guard marker included, is replaced; dst's
 * range becomes a kernel mapping of its own). For pages whose range userfaultfd cannot fill
 * (a fork child whose registration failed). Async-signal-safe; no fault injection (a
 * fallback). 0 or an errno (nothing changed then). */
int wvm__prim_place_copy(void *dst, const void *src, size_t len, int prot);
/* vm.max_map_count (read once; the kernel's default 65,530 where unreadable), and the kernel
 * mappings of the process now (a read of /proc/self/maps: O(mappings); -1 on error). */
long wvm__prim_max_map_count(void);
long wvm__prim_map_count(void);
/* Drops the contents of private anonymous pages: the next read sees zeros (MADV_DONTNEED). */
int wvm__prim_discard(void *addr, size_t size);
/* winvmem's own bookkeeping memory (core/meta.c): size bytes of private anonymous read-write
 * memory aligned to align (a power of two, at least the page size), zero-filled. Counted in
 * the stats; never failed by fault injection (the C heap it replaces was not either).
 * Async-signal-safe. */
int wvm__prim_map_meta(size_t size, size_t align, void **out);
int wvm__prim_unmap_meta(void *addr, size_t size);
/* The same for a range that grows in place (core/slots.c): size bytes of PROT_NONE address
 * space, then parts of it made read-write (zero-filled). Not failed by fault injection either;
 * async-signal-safe. */
int wvm__prim_reserve_meta(size_t size, void **out);
int wvm__prim_grow_meta(void *addr, size_t size);

/* --- foreign memory: the kernel's view of mappings winvmem did not make ------------------- */

#define WVM_VMA_FILE      0x1u /* backed by a file (path known) */
#define WVM_VMA_SHARED    0x2u /* MAP_SHARED */
#define WVM_VMA_EXEC_FILE 0x4u /* some mapping of the same file is executable: an image */

typedef struct wvm_vma {
    uintptr_t start, end;
    int prot;       /* WVM_P_* */
    unsigned flags; /* WVM_VMA_* */
    uint64_t inode; /* 0 for anonymous */
    uint64_t dev;
    uint64_t pgoff; /* file offset in bytes */
} wvm_vma;

/* The first mapping that ends above addr (it may start above addr). ENOENT when none. */
int wvm__prim_vma_next(uintptr_t addr, wvm_vma *out);

/* --- the caller's memory ------------------------------------------------------------------ */

/* Copies n bytes from src (ours) to dst (named by the caller) or the other way, failing with
 * EFAULT (or ENOSYS/EPERM where process_vm_* is not allowed) instead of faulting. */
int wvm__prim_self_write(void *dst, const void *src, size_t n);
int wvm__prim_self_read(void *dst, const void *src, size_t n);
/* Checks that every page of [dst, dst+n) can be read and written, leaving it unchanged. */
int wvm__prim_self_touch(void *dst, size_t n);
/* The same without a system call (usercopy.c): a fault in the copy (or in the touch, an
 * atomic no-op write to each page of [p, p+n), n > 0) returns EFAULT instead of crashing,
 * provided winvmem's fault dispatcher is installed and gets the signal first; it asks
 * wvm__prim_user_copy_fault. ENOSYS where the machine has no such copy (then
 * wvm__prim_user_copy_available is false). Never counted by fault injection. */
int wvm__prim_user_copy(void *dst, const void *src, size_t n);
int wvm__prim_user_touch(void *p, size_t n);
bool wvm__prim_user_copy_available(void);

/* --- fork --------------------------------------------------------------------------------- */

/* Called by core/fork.c around fork(): prepare takes prim's locks, parent and child release
 * them; the child also forgets descriptors that name the parent (/proc/<pid>/maps). */
enum { WVM_PRIM_FORK_PREPARE, WVM_PRIM_FORK_PARENT, WVM_PRIM_FORK_CHILD };
void wvm__prim_fork_lock(pthread_mutex_t *lock, int phase); /* the lock-only case */
void wvm__prim_uffd_fork(int phase);
void wvm__prim_ro_fork(int phase);
void wvm__prim_pagemap_fork(int phase);
void wvm__prim_maps_fork(int phase);
void wvm__prim_selfmem_fork(int phase);

/* --- system figures ------------------------------------------------------------------------ */

/* This process's id. */
long wvm__prim_pid(void);
/* Available physical memory in bytes (MemAvailable). */
int wvm__prim_avail_ram(uint64_t *out);

/* --- kernel mechanisms (WVM_MECH_* of winvmem/stats.h) ---------------------------------------- */

/* Records a probe's verdict, once per mechanism (later calls are ignored): probe_err 0 = the
 * kernel offers it, else the errno that showed it does not; why_unused NULL = winvmem uses it,
 * else a static phrase saying why not ("disabled by WINVMEM_GUARD_MARKERS=0"). Prints the
 * verdict on stderr under WINVMEM_VERBOSE=1. Every probe of a mechanism calls this. */
void wvm__mech_record(uint32_t mech, int probe_err, const char *why_unused);
uint32_t wvm__mech_available(void); /* WVM_MECH_* probed and working */
/* For a probe: runs fn(p, ctx) on a fresh private read-write anonymous mapping p of len bytes,
 * unmaps it, and returns fn's result (0 or an errno), or mmap's errno. */
int wvm__prim_probe_scratch(size_t len, int (*fn)(char *p, void *ctx), void *ctx);
uint32_t wvm__mech_in_use(void); /* WVM_MECH_* winvmem chose */
/* Writes "winvmem: <line>" and a newline on stderr with write(2), not stdio: usable in signal
 * context (snprintf of plain %s/%d conversions does not allocate). */
void wvm__prim_say(const char *line);
/* One line explaining mech's state into buf; returns its short name (NULL: unknown bit). */
const char *wvm__mech_explain(uint32_t mech, char *buf, size_t cap);

/* --- fault injection ------------------------------------------------------------------------ */

void wvm__prim_inject_after(uint64_t n, int err); /* n = 0: off */
uint64_t wvm__prim_calls(void);                   /* fallible calls made so far */

/* --- system-call counters (stats) ----------------------------------------------------------- */

void wvm__prim_syscall_counts(uint64_t out[], int kinds);
uint64_t wvm__prim_mappings_created(void);

#endif
