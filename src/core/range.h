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

#include "core/space.h"

/* Accounting for the host's hook (src/hook/host_hook.h); NULL for a plain call.
 *   owner       in: 0, or the tag the operation requires: in-place operations act only on an
 *               allocation made with this owner, a reservation is made with it (tagged before
 *               readers see it).
 *   max_commit  in: refuse with ERROR_COMMITMENT_LIMIT, before anything changes, when the call
 *               would newly commit more bytes (UINT64_MAX: no limit).
 *   committed   out: bytes the call newly committed (reserve, commit) or decommitted
 *               (decommit, release); on ERROR_COMMITMENT_LIMIT the bytes it would have committed.
 *   credit      in: NULL, or the owner's credit record (core/credit.h): a commit may then act
 *               on a view of a SEC_RESERVE section (no allocation of the owner), charging the
 *               section pages it newly commits, which the record gets back when the section dies;
 *               a section another owner committed through is foreign.
 *   reserved    out: the allocation's size (reserve, release).
 *   foreign     out: owner was set and the address lies in no allocation of that owner (the
 *               error is ERROR_INVALID_ADDRESS, as for memory that is not allocated). */
typedef struct wvm_acct {
    uintptr_t owner;
    uint64_t max_commit;
    uint64_t committed;
    uint64_t reserved;
    bool foreign;
    struct wvm_credit *credit;
} wvm_acct;

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
