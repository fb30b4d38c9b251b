/* The core's operations for src/api: byte ranges in, ERROR_* out. Each finds the allocation,
 * takes and gives back its lock, checks the range against it and runs the page operation;
 * the caller validates arguments (flags, protections, address limits, rounding) and sets the
 * thread's last error, and never sees a lock.
 *
 * Ranges are page aligned, [start, end), below the user limit; a range must lie inside one
 * allocation (else ERROR_INVALID_ADDRESS, or the error named below). */
#ifndef WVM_RANGE_H
#define WVM_RANGE_H
#include <stdbool.h>
#include <stdint.h>

#include "core/acct.h"
#include "core/space.h"

/* VirtualAlloc(MEM_RESERVE [| MEM_COMMIT]): see wvm__space_reserve_with. */
uint32_t wvm__range_reserve(uintptr_t want, size_t size, uint32_t type, uint32_t prot,
                            uint32_t commit, const wvm_backend *be, wvm_acct *acct,
                            uintptr_t *base);
/* VirtualAlloc(MEM_COMMIT) of [start, end). */
uint32_t wvm__range_commit(uintptr_t start, uintptr_t end, uint32_t prot, wvm_acct *acct);
/* VirtualFree(MEM_DECOMMIT) of [start, end); end == 0: the whole allocation, whose first page
 * must be start (else ERROR_INVALID_ADDRESS). Past the allocation's end:
 * ERROR_INVALID_PARAMETER (NT: STATUS_UNABLE_TO_FREE_VM). */
uint32_t wvm__range_decommit(uintptr_t start, uintptr_t end, wvm_acct *acct);
/* VirtualFree(MEM_RELEASE) of the allocation whose base is start (the page of the address):
 * ERROR_INVALID_ADDRESS inside an allocation but not at its base, as for no allocation. */
uint32_t wvm__range_release(uintptr_t start, wvm_acct *acct);
/* VirtualProtect of [start, end) to prot; *old receives the first page's protection. Every
 * page must be committed (ERROR_INVALID_ADDRESS); copy-on-write protections are refused for
 * private memory (ERROR_INVALID_PARAMETER). On failure *old is left alone, except for a range
 * that runs past the allocation: PAGE_NOACCESS (Windows writes it to *lpflOldProtect). */
uint32_t wvm__range_protect(uintptr_t start, uintptr_t end, uint32_t prot, uint32_t *old);
/* VirtualLock (lock) / VirtualUnlock of [start, end) (core/residency.h for the errors).
 * WVM_NOT_OURS: no winvmem allocation holds any page of the range. */
#define WVM_NOT_OURS 0xFFFFFFFFu
uint32_t wvm__range_lock(uintptr_t start, uintptr_t end, bool lock);
/* VirtualAlloc(MEM_RESET) / (MEM_RESET_UNDO: undo) of [start, end). */
uint32_t wvm__range_reset(uintptr_t start, uintptr_t end, bool undo, wvm_acct *acct);
#endif
