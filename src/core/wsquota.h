/* The process's working-set limits (Get/SetProcessWorkingSetSize(Ex)) and the VirtualLock
 * quota that follows from them: as on Windows, a process can lock at most its minimum working
 * set minus a small overhead (WVM_WS_OVERHEAD pages). Until a minimum is set, the quota is
 * RLIMIT_MEMLOCK's soft limit, read at each use, and the minimum reported is that plus the
 * overhead. */
#ifndef WVM_WSQUOTA_H
#define WVM_WSQUOTA_H
#include <stdint.h>

#define WVM_WS_OVERHEAD    8u   /* pages of the minimum VirtualLock cannot have */
#define WVM_WS_MIN_FLOOR   20u  /* a smaller minimum is raised to this (pages) */
#define WVM_WS_MAX_FLOOR   13u  /* the smallest maximum accepted (pages) */
#define WVM_WS_MAX_DEFAULT 345u /* Windows' default maximum (pages) */

/* Bytes VirtualLock may hold locked (UINT64_MAX: no limit). Lock-free. */
uint64_t wvm__ws_lock_quota(void);
/* Pages winvmem holds locked (core/residency.h), charged against that quota (also for root,
 * as Windows limits every process by its working-set quota): ERROR_WORKING_SET_QUOTA when
 * they would not fit. Decommit, release and VirtualUnlock uncharge. Lock-free. */
uint32_t wvm__lock_charge(uint64_t pages);
void wvm__lock_uncharge(uint64_t pages);
void wvm__ws_get(uint64_t *min, uint64_t *max, uint32_t *flags);
/* Sets both limits (bytes, already validated; min >= the floor); flags (QUOTA_LIMITS_HARDWS_*)
 * replace the enforcement of the limits they name, the others keep theirs. Raises RLIMIT_MEMLOCK
 * when the new quota needs it (ERROR_PRIVILEGE_NOT_HELD when that takes a privilege we lack).
 * Returns 0 or a Windows error; nothing changes on error. */
uint32_t wvm__ws_set(uint64_t min, uint64_t max, uint32_t flags);
/* Removes as many pages as the kernel allows from the working set (SetProcessWorkingSetSize
 * with (SIZE_T)-1 twice). */
uint32_t wvm__ws_trim(void);
#endif
