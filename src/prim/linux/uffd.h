/* userfaultfd and PAGEMAP_SCAN: the kernel side of write watch (and UFFDIO_MOVE for AWE).
 * Same contract as prim.h: 0 or a positive errno, no C heap.
 *
 * One userfaultfd per process, opened with UFFD_USER_MODE_ONLY (no privilege needed) and
 * UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED (Linux >= 6.7): a write to a
 * write-protected page clears the page's uffd-wp bit in the kernel itself, with no message and
 * no signal; PAGEMAP_SCAN on /proc/self/pagemap finds the pages whose bit is clear (written)
 * and, with PM_SCAN_WP_MATCHING, sets it again in the same pass. Writes made by the kernel on
 * the program's behalf (read(2) into the buffer) clear the bit too. */
#ifndef WVM_PRIM_UFFD_H
#define WVM_PRIM_UFFD_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether async write-protect + PAGEMAP_SCAN work here (probed once). */
bool wvm__prim_ww_available(void);
/* Whether UFFDIO_MOVE and UFFD_FEATURE_SIGBUS work here (Linux >= 6.8; probed once). */
bool wvm__prim_uffd_move_available(void);

/* Registers [addr, addr+len) for write-protect tracking / forgets it. */
int wvm__prim_ww_register(void *addr, size_t len);
int wvm__prim_ww_unregister(void *addr, size_t len);
/* Write-protects every page of [addr, addr+len) ("not written"), present or not. */
int wvm__prim_ww_protect(void *addr, size_t len);
/* Lifts the write protection of [addr, addr+len): a write there then neither faults nor is
 * told apart from earlier ones (every page reads "written"). */
int wvm__prim_ww_unprotect(void *addr, size_t len);

/* Written pages of [start, end) (page aligned, inside registered ranges), ascending, at most
 * max_pages (> 0). Each written page's address is passed to emit(ctx, page). With rearm, the
 * reported pages are write-protected again in the same pass (and only those). *stop receives
 * the address where the walk ended (end when it covered the range). */
typedef void (*wvm_page_fn)(void *ctx, uintptr_t page);
int wvm__prim_ww_scan(uintptr_t start, uintptr_t end, bool rearm, uint64_t max_pages,
                      wvm_page_fn emit, void *ctx, uintptr_t *stop);

/* Moves the pages of [src, src+len) to [dst, dst+len) (UFFDIO_MOVE): the page-table entries
 * move, the data does not get copied. Both ranges private anonymous, read-write, registered
 * with the process's userfaultfd; dst must be empty and src populated. */
int wvm__prim_uffd_move(void *dst, void *src, size_t len);
/* Registers [addr, addr+len) in MISSING mode: touching an empty page raises SIGBUS (and a
 * kernel access fails with EFAULT) instead of filling it with zeros. */
int wvm__prim_uffd_register_missing(void *addr, size_t len);

/* A new userfaultfd (O_CLOEXEC | O_NONBLOCK, UFFD_USER_MODE_ONLY) with exactly the features
 * `want` (never what UFFDIO_API reports back: see uffd.c), or -1. */
int wvm__prim_uffd_open(uint64_t want);
/* *fd (made with the features `want`) if this process opened it (*pid), else one opened now
 * in its place (a child of fork: the inherited one speaks for the parent's address space), or
 * -1. lock serialises the reopening (and is taken around fork). */
int wvm__prim_uffd_here(int *fd, _Atomic int *pid, pthread_mutex_t *lock, uint64_t want);
/* Unregisters [addr, addr+len) from userfaultfd fd (ENOSYS for fd < 0). */
int wvm__prim_uffd_unregister(int fd, void *addr, size_t len);

/* ---- READONLY by write-protect (uffd_ro.c) ------------------------------------------------
 * A second userfaultfd, synchronous, with UFFD_FEATURE_SIGBUS | UFFD_FEATURE_WP_UNPOPULATED
 * (Linux >= 6.4): a write to a write-protected page raises SIGBUS (BUS_ADRERR, the faulting
 * address) at once, with no handler thread; a kernel write into it (read(2)) fails with
 * EFAULT. The protection is a bit in each page-table entry (a marker for an empty one), so
 * any pattern of read-only pages lives in one kernel mapping. What drops the bit: a zap
 * (MADV_DONTNEED, guard install: the data goes too), reclaim of a lazily freed (MADV_FREE)
 * page, fork (the child's copy of a registration without UFFD_FEATURE_EVENT_FORK is gone and
 * its entries lose the bit), unregistering. mlock refuses write-protected pages of a writable
 * mapping (populating them is a write: ENOMEM); a PROT_READ one is fine. Checked on 6.18. */

/* Whether it works here and is wanted (WINVMEM_UFFD_READONLY, WINVMEM_USERFAULTFD); probed
 * once with a real registration. */
bool wvm__prim_ro_available(void);
/* Whether the READONLY userfaultfd works here and userfaultfd is allowed (WINVMEM_USERFAULTFD),
 * whatever WINVMEM_UFFD_READONLY says: NOACCESS by guard marker write-protects too. */
bool wvm__prim_wp_available(void);
/* Whether committed NOACCESS/PAGE_GUARD pages may be guard markers (core/mark.h): guard
 * markers, the READONLY userfaultfd and /proc/self/pagemap work and WINVMEM_MARKER_NOACCESS is
 * not 0 (mechanism marker-noaccess; probed once). */
bool wvm__prim_mark_available(void);
/* Whether PAGEMAP_SCAN works on /proc/self/pagemap (pagemap.c; probes each call). */
bool wvm__prim_pagemap_probe(void);
/* Whether /proc/self/pagemap can be read (pagemap.c). */
bool wvm__prim_pagemap_readable(void);
/* Calls fn(ctx, from, to) for the runs of pages of [start, end) that may hold data (present,
 * swapped out or under migration; not an empty entry, a userfaultfd write-protect marker or a
 * guard marker), from /proc/self/pagemap, in ascending order. 0 or an errno. */
int wvm__prim_pages_holding(uintptr_t start, uintptr_t end,
                            void (*fn)(void *ctx, uintptr_t from, uintptr_t to), void *ctx);
/* Registers [addr, addr+len) (private anonymous) for write-protect with the READONLY
 * userfaultfd; registering again is a no-op. Adjacent registered ranges merge in the kernel. */
int wvm__prim_ro_register(void *addr, size_t len);
/* Forgets the registration of [addr, addr+len) (pages lose their bits). */
int wvm__prim_ro_unregister(void *addr, size_t len);
/* Sets (on) or clears the write-protect bit of every page of [addr, addr+len), registered,
 * present or not. */
int wvm__prim_ro_protect(void *addr, size_t len, bool on);
/* The same, not counted by fault injection: undoing a change that succeeded (the page tables
 * it needs exist by then). */
int wvm__prim_ro_protect_back(void *addr, size_t len, bool on);
/* Puts a copy of [src, src+len) at dst (registered; every page an empty entry, a userfaultfd
 * marker or a guard marker: UFFDIO_COPY replaces each with its new page in one step, so no
 * access sees the page between the marker and the data; checked on 6.18, probed by
 * wvm__prim_mark_data_available); wp: the pages arrive write-protected. A present page at
 * dst: EEXIST. _back: not counted by fault injection (undo); _sig: also async-signal-safe
 * (a fork child's descriptor must have been reopened by then). 0 or an errno. */
int wvm__prim_ro_fill(void *dst, const void *src, size_t len, bool wp);
int wvm__prim_ro_fill_back(void *dst, const void *src, size_t len, bool wp);
int wvm__prim_sig_ro_fill(void *dst, const void *src, size_t len, bool wp);
/* Whether committed NOACCESS/PAGE_GUARD pages holding data may be guard markers with their
 * data kept aside (core/stash.h): wvm__prim_mark_available, UFFDIO_COPY replaces a guard
 * marker, and WINVMEM_MARKER_DATA is not 0 (mechanism marker-data; probed once). */
bool wvm__prim_mark_data_available(void);
#endif
