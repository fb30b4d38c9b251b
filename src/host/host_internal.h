/* Internals of the host memory manager (src/host/), built on the public wvm_ API and the
 * narrow hooks of src/hook/host_hook.h only (its own CMake target sees nothing else).
 *
 * Concurrency: the budget is an atomic counter (fast path: one CAS); waiters sleep on a condition
 * variable under `budget.mu`, holding no other lock. The host keeps no table of its
 * allocations (the core tags them, see host_hook.h). VirtualQuery takes no lock of the host
 * (the core's query is lock-free). Callbacks run on the notification thread with no host lock
 * held. */
#ifndef WVM_HOST_INTERNAL_H
#define WVM_HOST_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "winvmem/host.h"
#include "host_hook.h"

/* Hot globals read on the heap's fast path: hidden, so PIC code addresses them directly. */
#define WVM_HOST_HIDDEN __attribute__((visibility("hidden")))

#define WVM_HOST_LEVELS 3

/* ---- addrmap.c: open-addressing map, address -> the caller's value ------------------------ */

typedef struct wvm_addrmap_val {
    uintptr_t size;   /* AcquiredVirtualAddressSpace's size; a DebugAlloc block's size */
    const char *file; /* DebugAlloc's file and line */
    int line;
} wvm_addrmap_val;

typedef struct wvm_addrmap_entry {
    uintptr_t key; /* 0 = empty, 1 = deleted */
    wvm_addrmap_val val;
} wvm_addrmap_entry;

typedef struct wvm_addrmap {
    wvm_addrmap_entry *slots;
    size_t cap, count, used; /* used = count + tombstones */
} wvm_addrmap;

/* The caller serialises access. Keys must be >= 2. put: 0 or ENOMEM. */
int wvm__addrmap_put(wvm_addrmap *m, uintptr_t key, wvm_addrmap_val val);
wvm_addrmap_entry *wvm__addrmap_get(wvm_addrmap *m, uintptr_t key);
bool wvm__addrmap_del(wvm_addrmap *m, uintptr_t key, wvm_addrmap_val *val);
void wvm__addrmap_free(wvm_addrmap *m);
/* Iterates live entries: *pos starts at 0. NULL at the end. */
wvm_addrmap_entry *wvm__addrmap_next(wvm_addrmap *m, size_t *pos);

/* ---- budget.c ---------------------------------------------------------------------------- */

typedef struct wvm_budget {
    _Atomic uint64_t used;
    _Atomic uint64_t peak;
    uint64_t total;
    uint64_t ceiling[WVM_HOST_LEVELS];
    uint64_t normal_limit;                               /* total - emergency reserve */
    uint64_t low_enter, low_exit, high_enter, high_exit; /* watermarks in bytes */
    uint32_t timeout_ms;
    _Atomic uint32_t waiters;
    _Atomic bool abandoned;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint64_t granted[WVM_HOST_LEVELS], refused[WVM_HOST_LEVELS];
    _Atomic uint64_t waits, timeouts, reserve_draws;
} wvm_budget;

struct wvm_host;
int wvm__budget_init(wvm_budget *b, const wvm_host_config *c);
void wvm__budget_destroy(wvm_budget *b);
/* Charges n bytes at level. S_OK, E_OUTOFMEMORY, HOST_E_TIMEOUT or HOST_E_ABANDONED. May
 * ask the notification thread for a Low notification and wait (levels above eTaskCritical). */
HRESULT wvm__budget_charge(struct wvm_host *h, uint64_t n, int level);
/* Charges without waiting; false when over the level's ceiling. */
bool wvm__budget_try(struct wvm_host *h, uint64_t n, int level);
void wvm__budget_uncharge(struct wvm_host *h, uint64_t n);
/* Credits what sections the host committed through (views) gave back when they died. Called
 * before a charge is refused or waits, and wherever the budget's use is reported. */
void wvm__budget_reclaim(struct wvm_host *h);
void wvm__budget_abandon(wvm_budget *b);

/* ---- notify.c ---------------------------------------------------------------------------- */

typedef struct wvm_notifier {
    pthread_t thread;
    bool started;
    int wake_fd;           /* eventfd: kicks from allocating threads and shutdown */
    _Atomic int psi_fd;    /* -1 when polling (or once the trigger was lost) */
    bool psi_cgroup;       /* psi_fd watches our cgroup v2, not the whole system */
    _Atomic bool psi_lost; /* the PSI descriptor went into an error state and was closed */
    _Atomic bool stop;
    _Atomic bool low_requested;
    _Atomic bool kick_pending;
    _Atomic uint32_t level; /* EMemoryAvailable reported, 0 = not yet evaluated */
    uint32_t load_level;    /* the level the budget's use alone gives (host thread only) */
    pthread_mutex_t cb_mu;  /* guards cb, cb_fresh, closed; never held across a callback */
    ICLRMemoryNotificationCallback *cb;
    bool cb_fresh;           /* a newly registered callback gets the current level */
    bool closed;             /* stopped: no callback may be registered any more */
    pthread_mutex_t eval_mu; /* evaluations: a count and a condition, for wvm__host_settle */
    pthread_cond_t eval_cv;
    uint64_t evaluations;
    _Atomic uint64_t delivered[4];
    _Atomic uint64_t psi_events;
} wvm_notifier;

int wvm__notify_init(struct wvm_host *h); /* 0 or errno; before start */
void wvm__notify_destroy(struct wvm_host *h);
int wvm__notify_start(struct wvm_host *h); /* 0 or errno */
/* Stops the thread (joined unless called from it) and releases the callback; registering is
 * refused from then on. */
void wvm__notify_stop(struct wvm_host *h);
/* Joins a thread that was stopped from inside its own callback (final Release). */
void wvm__notify_join(struct wvm_host *h);
/* From any thread, never blocks: ask for a Low notification / a re-evaluation. */
void wvm__notify_request_low(struct wvm_host *h);
void wvm__notify_kick(struct wvm_host *h);
HRESULT wvm__notify_register(struct wvm_host *h, ICLRMemoryNotificationCallback *cb);
/* Test hook: returns once the host thread has finished an evaluation that began after the
 * call (or the thread stopped). */
void wvm__host_settle(IHostMemoryManager *host);

/* ---- the manager ------------------------------------------------------------------------ */

enum { WVM_HOST_ALIVE = 0, WVM_HOST_DEAD = 1 };

typedef struct wvm_host {
    IHostMemoryManager iface; /* first: the COM pointer is the object pointer */
    _Atomic uint32_t refs;
    _Atomic int state;
    _Atomic bool fail_next; /* test hook: the next fallible step reports an internal failure */
    _Atomic bool shut;
    wvm_host_config cfg;
    wvm_budget budget;
    wvm_notifier notify;
    pthread_mutex_t as_mu; /* guards `acquired` */
    wvm_addrmap acquired;  /* AcquiredVirtualAddressSpace: start -> size */
    _Atomic uint64_t as_used;
    uint64_t as_budget;
    struct wvm_credit *credit; /* commit in views, given back by dead sections (host_hook.h) */
    _Atomic uint32_t heap_arenas;
    struct wvm_host *fork_next; /* fork.c's list of live hosts */
} wvm_host;

static inline wvm_host *wvm__host_of(IHostMemoryManager *i)
{
    return (wvm_host *)(void *)i;
}

/* S_OK while alive; HOST_E_CLRNOTAVAILABLE after a failure or shutdown. */
static inline HRESULT wvm__host_check(wvm_host *h)
{
    return atomic_load_explicit(&h->state, memory_order_acquire) == WVM_HOST_ALIVE
               ? S_OK
               : HOST_E_CLRNOTAVAILABLE;
}
/* How many hosts of the process have died: while 0, no host needs checking (heap fast path). */
extern WVM_HOST_HIDDEN _Atomic uint32_t wvm__hosts_dead;
/* Marks h dead (idempotent); true for the call that did it. */
bool wvm__host_mark_dead(wvm_host *h);
/* Marks the host unusable; returns E_FAIL for the call that found the failure. */
HRESULT wvm__host_fail(wvm_host *h);
/* Test hook: true once after wvm__host_inject_failure(). */
bool wvm__host_failure_injected(wvm_host *h);
void wvm__host_inject_failure(IHostMemoryManager *host);
uint32_t wvm__host_addref(wvm_host *h);
uint32_t wvm__host_release(wvm_host *h);
HRESULT wvm__host_hresult(uint32_t win32_error);
bool wvm__iid_eq(const IID *a, const IID *b);

/* vmem.c: IHostMemoryManager's VirtualAlloc family and address-space accounting. */
HRESULT STDMETHODCALLTYPE wvm__host_VirtualAlloc(IHostMemoryManager *This, void *pAddress,
                                                 size_t dwSize, uint32_t flAllocationType,
                                                 uint32_t flProtect,
                                                 EMemoryCriticalLevel eCriticalLevel, void **ppMem);
HRESULT STDMETHODCALLTYPE wvm__host_VirtualFree(IHostMemoryManager *This, void *lpAddress,
                                                size_t dwSize, uint32_t dwFreeType);
HRESULT STDMETHODCALLTYPE wvm__host_VirtualQuery(IHostMemoryManager *This, void *lpAddress,
                                                 void *lpBuffer, size_t dwLength, size_t *pResult);
HRESULT STDMETHODCALLTYPE wvm__host_VirtualProtect(IHostMemoryManager *This, void *lpAddress,
                                                   size_t dwSize, uint32_t flNewProtect,
                                                   uint32_t *pflOldProtect);
/* Releases every allocation the host still has (final Release). */
void wvm__host_release_all(wvm_host *h);

/* aspace.c */
HRESULT STDMETHODCALLTYPE wvm__host_Needs(IHostMemoryManager *This, void *start, size_t size);
HRESULT STDMETHODCALLTYPE wvm__host_Acquired(IHostMemoryManager *This, void *start, size_t size);
HRESULT STDMETHODCALLTYPE wvm__host_Released(IHostMemoryManager *This, void *start);
bool wvm__aspace_charge(wvm_host *h, uint64_t n);
void wvm__aspace_uncharge(wvm_host *h, uint64_t n);

/* fork.c: every lock of every host and heap across fork() (pthread_atfork) */
void wvm__fork_add_host(wvm_host *h);
void wvm__fork_del_host(wvm_host *h);

/* heap.c */
HRESULT STDMETHODCALLTYPE wvm__host_CreateMalloc(IHostMemoryManager *This, uint32_t dwMallocType,
                                                 IHostMalloc **ppMalloc);

#endif
