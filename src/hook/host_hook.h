/* The narrow hooks the host memory manager (src/host/) stands on besides the public headers:
 * allocations tagged with an owner that report their commit delta (no shadow table in the
 * host), and the host thread's system calls (behind prim). Not installed; src/host may
 * include this header and <winvmem/...> only (tools/check-layers.sh). Everything here is
 * defined in the library with a wvm__ name (hidden visibility), below src/host. */
#ifndef WVM_HOST_HOOK_H
#define WVM_HOST_HOOK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- owned allocations (src/api/owned.c over core/range.h's wvm_acct) ----------------------
 * The host keeps no table of its allocations: the core tags each allocation the host makes
 * with the host's owner tag (before anyone can find it), refuses in-place operations on
 * allocations with another tag, and reports what each call changed in the commit, which is what
 * the host charges to its budget; all of it under the allocation lock of the operation itself.
 *
 * Arguments, results and the thread's last error are those of wvm_VirtualAlloc/wvm_VirtualFree
 * (Microsoft's documentation), with these differences:
 *   - in-place operations (MEM_COMMIT, MEM_RESET, MEM_RESET_UNDO into an existing allocation;
 *     MEM_DECOMMIT; MEM_RELEASE) act only inside an allocation tagged o->owner: any other
 *     address fails with ERROR_INVALID_ADDRESS and sets o->foreign;
 *   - a MEM_COMMIT (in place, or with MEM_RESERVE) that would newly commit more than
 *     o->max_commit bytes changes nothing and fails with ERROR_COMMITMENT_LIMIT,
 *     o->committed = the bytes it would commit
 *     (> max_commit): the host charges that much (waiting for budget if it must, with no lock
 *     held) and calls again; ERROR_COMMITMENT_LIMIT with o->committed <= max_commit is the
 *     commit limit of the process itself;
 *   - a MEM_RELEASE of an address inside (not at the base of) an owned allocation, or with a
 *     size, fails with ERROR_INVALID_PARAMETER (the public call's ERROR_INVALID_ADDRESS for
 *     the former cannot be told from a foreign address);
 *   - with o->credit (from wvm__owned_credit_new), a MEM_COMMIT in place may also act on a
 *     view of a section (MapViewOfFile, no owner): what counts in o->committed and against
 *     o->max_commit is the section pages it newly commits (a SEC_RESERVE section's; a
 *     SEC_COMMIT section was charged when created, a file's view cannot be committed). That
 *     commit belongs to the section and cannot be decommitted (VirtualFree refuses views): it
 *     comes back, in wvm__owned_credit_take, once the section has died in this process (last
 *     handle closed and last view unmapped). A section that another credit record committed
 *     through is foreign.
 * Thread-safe; not for signal handlers (the C heap may be used). */
typedef struct wvm_owned {
    uintptr_t owner;           /* in: the tag, never 0 */
    uint64_t max_commit;       /* in: any MEM_COMMIT, see above */
    uint64_t committed;        /* out: bytes newly committed (alloc) or decommitted (free) */
    uint64_t reserved;         /* out: the allocation's size (new reservation, release) */
    bool foreign;              /* out: the address lies in no allocation tagged owner */
    struct wvm_credit *credit; /* in: NULL, or the owner's record (views, see above) */
} wvm_owned;

/* The owner's credit record: NULL when out of memory. take returns the bytes given back since
 * the last take (lock-free); drop gives up the owner's reference (sections may keep theirs). */
struct wvm_credit *wvm__owned_credit_new(void);
uint64_t wvm__owned_credit_take(struct wvm_credit *c);
void wvm__owned_credit_drop(struct wvm_credit *c);

void *wvm__owned_alloc(void *addr, size_t size, uint32_t type, uint32_t prot, wvm_owned *o);
int wvm__owned_free(void *addr, size_t size, uint32_t type, wvm_owned *o);
/* Releases every allocation tagged owner; adds their committed and reserved bytes. */
void wvm__owned_release_all(uintptr_t owner, uint64_t *committed, uint64_t *reserved);

/* ---- the pressure source and the wake-up (src/prim/linux/pressure.c) ----------------------
 * Return 0 or an errno, as every prim function. */

/* A PSI trigger ("some stall_us window_us") on our cgroup v2's memory.pressure (*cgroup = true:
 * the container's own pressure) or else on /proc/pressure/memory. ENOENT: no PSI in this
 * kernel; EOPNOTSUPP/EINVAL/EACCES: triggers refused (unprivileged windows must be multiples of
 * 2 s). *fd = -1 on failure. */
int wvm__prim_pressure_open(uint32_t stall_us, uint32_t window_us, int *fd, bool *cgroup);
/* A non-blocking eventfd; signalling never blocks, and wvm__prim_pressure_wait drains it. */
int wvm__prim_event_open(int *fd);
void wvm__prim_event_signal(int fd);

#define WVM_PRESSURE_WOKEN 0x1u /* wake_fd was signalled */
#define WVM_PRESSURE_EVENT 0x2u /* the PSI trigger fired */
#define WVM_PRESSURE_LOST                                                                          \
    0x4u /* the PSI descriptor is in an error state (its cgroup was                                \
            removed, ...): close it, it will never fire again */
/* Waits up to timeout_ms for wake_fd or psi_fd (-1: none); *events says what happened (0: the
 * timeout, or a signal interrupted the wait). */
int wvm__prim_pressure_wait(int wake_fd, int psi_fd, uint32_t timeout_ms, unsigned *events);
void wvm__prim_fd_close(int fd);
/* pthread_create with every signal blocked in the new thread (it takes no process signal). */
int wvm__prim_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
