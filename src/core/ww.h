/* Write watch (MEM_WRITE_WATCH): which pages of an allocation were written since the last
 * reset. The kernel keeps the record (userfaultfd async write-protect, read by PAGEMAP_SCAN);
 * winvmem adds one bit per page only for pages whose record a decommit would erase (the
 * kernel forgets written-ness when it drops a private page; Windows keeps it). */
#ifndef WVM_WW_H
#define WVM_WW_H
#include <stdbool.h>
#include <stdint.h>

#include "core/index.h"

/* The backend of MEM_WRITE_WATCH allocations: userfaultfd when this kernel has async
 * write-protect and PAGEMAP_SCAN (Linux >= 6.7), else the mprotect fallback. */
const wvm_backend *wvm__ww_backend(void);
/* Whether the kernel keeps a's write records (the userfaultfd backend): nothing may write to
 * its pages or fault them in for writing on the program's behalf (a write fault is a record). */
static inline bool wvm__ww_kernel_records(const wvm_alloc *a)
{
    const wvm_backend *be = wvm__alloc_backend(a);
    return be && be->kernel_records;
}

/* The mprotect fallback (ww_mprotect.c): its backend and its halves of the two calls, on a
 * locked allocation of that backend. */
const wvm_backend *wvm__wwp_backend(void);
uint32_t wvm__wwp_get(wvm_alloc *a, uint64_t first, uint64_t count, bool reset, void **out,
                      uint64_t *n);
uint32_t wvm__wwp_reset(wvm_alloc *a, uint64_t first, uint64_t count);

/* GetWriteWatch over [start, end) (page aligned, inside one allocation): up to *count page
 * addresses in ascending order into out, *count receives the number found. reset: the pages
 * returned (only those) are no longer "written". Errors as Windows: ERROR_INVALID_PARAMETER
 * when the range is not inside one write-watch allocation. */
uint32_t wvm__ww_get(uintptr_t start, uintptr_t end, bool reset, void **out, uint64_t *count);
/* ResetWriteWatch over [start, end). */
uint32_t wvm__ww_reset(uintptr_t start, uintptr_t end);
/* Marks pages[0..n) (addresses inside [start, end)) written again, as if GetWriteWatch had not
 * reset them (it reset them but could not hand them to the caller). Best effort: nothing when
 * the allocation is gone or memory is short. */
void wvm__ww_mark_written(uintptr_t start, uintptr_t end, void *const *pages, uint64_t n);
/* The fallback's half of it (a locked, of that backend). */
void wvm__wwp_mark_written(wvm_alloc *a, void *const *pages, uint64_t n);
#endif
