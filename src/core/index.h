/* The address index: allocation descriptors, their placement in the address space (arenas or
 * dedicated mappings), the radix index from address to descriptor, births and deaths, and the
 * lock-free lookups of readers. No page operation lives here (core/pages.h, guard.h,
 * residency.h are above it); the allocation lifecycle (core/space.h) combines both.
 *
 * Concurrency: an allocation's writers hold its lock (across the system calls of one
 * operation; different allocations never contend). Placement and the index are under one
 * short placement lock that is never held across a system call except to grow an arena.
 * VirtualQuery takes no lock at all (snapshots + epochs).
 * Lock order: allocation lock, then placement lock, then chunk lock.
 *
 * What readers see: an allocation exists from the store of its first visible snapshot to the
 * store of NULL (its birth and death), both made in a placement section that ends by
 * advancing the index generation (wvm__space_gen). Index entries may point to a descriptor
 * before its birth and after its death ("pending"): readers treat them as free. A reader that
 * combines several index entries (free space) checks that the generation did not move.
 *
 * Errors: these functions return 0 or a Windows ERROR_* code; system errors from prim/ are
 * converted by wvm__err_from_errno and nowhere else. (The functions keep the wvm__space_
 * names they had before the index and the lifecycle were two files.) */
#ifndef WVM_INDEX_H
#define WVM_INDEX_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <winvmem/vm.h>

#include "core/alock.h"
#include "core/arena.h"
#include "core/meta.h"
#include "core/snap.h"

#define WVM_GRAN       65536u
#define WVM_SPARSE_MIN ((size_t)4 << 30)
#define WVM_MIN_ADDR   ((uintptr_t)0x10000)

struct wvm_backend;

/* What VirtualQuery needs of a small allocation, copied into its descriptor at every publish
 * under a sequence counter, so that a query costs one memory access after the index instead
 * of two (descriptor, then snapshot): on this project's VMs a dependent cache miss costs
 * 400 ns. Readers never wait: an odd or changed counter sends them to the snapshot path.
 * Written by index.c (wvm__alloc_publish, births, deaths), read by query.c. */
#define WVM_QUICK_RUNS 4
/* Allocations whose page tree is at most this deep (<= 32 MiB: 8,192 pages) keep a quick copy:
 * finding out whether a larger one has few regions would walk its tree at every write. */
#define WVM_QUICK_LEVEL 1
/* shape: regions (0: not usable: too many runs, guard pages, or free) | allocation protection
 * (PAGE_* and modifiers, < 0x800) | pages of the allocation (<= 8,192). */
#define WVM_QUICK_NRUNS(shape) ((shape)&7u)
#define WVM_QUICK_APROT(shape) ((shape) >> 3 & 0x7FFu)
#define WVM_QUICK_PAGES(shape) ((shape) >> 14)
/* A region: its first page << 16 | its visible protection (< 0x800). */
#define WVM_QUICK_FIRST(run) ((run) >> 16)
#define WVM_QUICK_PROT(run)  ((run)&0xFFFFu)
typedef struct wvm_quick {
    _Atomic uint32_t seq;
    _Atomic uint32_t shape;
    _Atomic uint64_t base;
    _Atomic uint32_t runs[WVM_QUICK_RUNS];
} wvm_quick;

/* What few allocations need (a backend, a host owner, a sparse placement, READONLY by
 * write-protect): out of line, so that a plain allocation's descriptor is one
 * cache line. Made on first need (wvm__alloc_cold_get) and kept with the descriptor for good
 * (type-stable like it, cleared when the descriptor is reused). */
typedef struct wvm_alloc_cold {
    const struct wvm_backend *backend;
    void *ext; /* backend data (write watch, AWE, large pages) */
    /* The tag of the host memory manager (or heap) that made the allocation through the host
     * hook (api/owned.c), 0 for every other allocation. Set under the lock, reset on reuse. */
    _Atomic uintptr_t owner;
    /* READONLY by write-protect (core/wp.h): 1 + the fork generation in which the range was
     * registered with the READONLY userfaultfd, or in which registering it failed. */
    uint32_t wp_registered, wp_refused;
    /* Sparse reservations (>= WVM_SPARSE_MIN, placed anywhere) use PROT_NONE: their commits
     * are scattered, and switching a fresh 2 MiB chunk per commit costs more than the
     * mprotect it saves. They own whole chunks, so release replaces their span at once. */
    bool sparse;
} wvm_alloc_cold;

/* An allocation's descriptor: 64 bytes, one cache line (the VAD of Windows is 64 bytes too). */
typedef struct wvm_alloc {
    wvm_quick quick;          /* first: the only line a query of a small allocation touches */
    _Atomic(wvm_snap *) snap; /* what readers see: NULL while free, being made or released */
    union {
        wvm_snap *cur;               /* the writers' state (lock held): snap, except staged */
        struct wvm_alloc *free_next; /* a free descriptor's (placement lock) */
    };
    _Atomic(wvm_alloc_cold *) cold; /* NULL: every cold field 0 */
    wvm_alock lock;
    bool staged;   /* publishes stay private until the allocation's birth (or death) */
    bool in_arena; /* else a dedicated kernel mapping of exactly the allocation */
    /* Uncommitted pages are guard markers in a read-write mapping (arena.c), else PROT_NONE
     * (sparse reservations, dedicated mappings, views). */
    bool guard_mode;
    /* Guard mode: a decommitted range stayed PROT_NONE under its markers and could not be
     * marked UNDER (pages.c): every uncommitted page is treated as UNDER from then on. */
    bool under_lost;
} __attribute__((aligned(64))) wvm_alloc;
_Static_assert(sizeof(wvm_alloc) == 64, "a descriptor is one cache line");

static inline wvm_alloc_cold *wvm__alloc_cold(const wvm_alloc *a)
{
    return atomic_load_explicit(&((wvm_alloc *)a)->cold, memory_order_acquire);
}
/* a's cold part, made if needed (a locked, or not yet reachable): 0 or
 * ERROR_NOT_ENOUGH_MEMORY. The setters below need it when they set something non-zero. */
uint32_t wvm__alloc_cold_get(wvm_alloc *a);
static inline const struct wvm_backend *wvm__alloc_backend(const wvm_alloc *a)
{
    wvm_alloc_cold *c = wvm__alloc_cold(a);
    return c ? c->backend : NULL;
}
static inline void *wvm__alloc_ext(const wvm_alloc *a)
{
    wvm_alloc_cold *c = wvm__alloc_cold(a);
    return c ? c->ext : NULL;
}
static inline uintptr_t wvm__alloc_owner(const wvm_alloc *a)
{
    wvm_alloc_cold *c = wvm__alloc_cold(a);
    return c ? atomic_load_explicit(&c->owner, memory_order_relaxed) : 0;
}
static inline bool wvm__alloc_sparse(const wvm_alloc *a)
{
    wvm_alloc_cold *c = wvm__alloc_cold(a);
    return c && c->sparse;
}
/* Setters (a locked): a NULL value needs no cold part; any other one needs it made. */
void wvm__alloc_set_backend(wvm_alloc *a, const struct wvm_backend *be);
void wvm__alloc_set_ext(wvm_alloc *a, void *ext);
/* Address space taken from the arena (or the dedicated mapping): whole granules, whole
 * 2 MiB chunks for a sparse reservation. */
uintptr_t wvm__alloc_footprint(const wvm_alloc *a);

/* Kernel-side behaviour of an allocation kind. Default (NULL): anonymous private memory with
 * guard markers or mprotect. Write watch, large pages and AWE supply their own (core/ww.c,
 * core/largepage.c, core/awe.c). Every hook may be NULL; all return 0 or a Windows error. */
typedef struct wvm_backend {
    const char *name;
    /* Set: the allocation gets a dedicated kernel mapping made by this hook instead of arena
     * space: exactly at want when want != 0 (EEXIST when taken), else anywhere 64 KiB aligned.
     * Returns 0 or an errno; no lock held. The mapping is unmapped by munmap on release. */
    int (*map)(uintptr_t want, size_t size, void **out);
    /* Right after placement, a locked, before the caller sees it: sets up a->ext. On failure
     * the allocation is released again (on_release must cope with a partial setup). */
    uint32_t (*on_reserve)(wvm_alloc *a);
    /* Called with the allocation locked, after every page was decommitted. */
    uint32_t (*on_release)(wvm_alloc *a, const wvm_snap *s);
    /* Before [first, first+count) is decommitted: the pages still hold their data. */
    uint32_t (*before_decommit)(wvm_alloc *a, uint64_t first, uint64_t count);
    /* During a decommit of [first, first+count), once no access can reach its pages any more
     * (a racing one faults and waits for the lock) and before their data is dropped: what
     * the backend keeps of them is read here, so that no store is missed (core/pages.c,
     * plan_run). 0 or an errno; a failure undoes the decommit. a locked. */
    int (*before_zap)(wvm_alloc *a, uint64_t first, uint64_t count);
    /* After a commit of [first, first+count) was published; old is the state before it
     * (valid until the hook returns), NULL when every page of the range was uncommitted (a
     * staged commit, whose hooks run after its birth). A failure is reported, the commit
     * stays. */
    uint32_t (*after_commit)(wvm_alloc *a, const wvm_snap *old, uint64_t first, uint64_t count);
    /* After a commit or VirtualProtect of [first, first+count) succeeded (published): the
     * backend may adjust the kernel's protections (the write-watch fallback keeps unwritten
     * pages read-only). A failure is reported, the change stays. */
    uint32_t (*after_change)(wvm_alloc *a, uint64_t first, uint64_t count);
    /* Signal context, a locked (trylock), async-signal-safe: a write fault on committed page
     * `page` whose attribute attr allows writing. true: the backend made the page writable
     * (the access is retried); false: an ordinary fault. Set: the backend keeps the kernel's
     * protection of committed pages different from the model (the checker skips them). */
    bool (*write_fault)(wvm_alloc *a, uint64_t page, uint32_t attr);
    /* Signal context, a locked (trylock), async-signal-safe: a fault of access (0 read, 1
     * write, 8 execute) on page `page`, uncommitted in the model. true: the page is committed
     * after all (another process committed it: core/xview.h) and its kernel protection now
     * allows the access (retried); false: an access violation. */
    bool (*reserved_fault)(wvm_alloc *a, uint64_t page, int access);
    /* a locked, normal context, before every operation on the allocation: the backend brings
     * the model up to what changed outside this process (core/xview.h). Best effort. */
    void (*sync)(wvm_alloc *a);
    /* Set with write_fault. Signal context too, a locked, async-signal-safe: the kernel
     * protection committed page `page` with attribute attr (no guard) is to have (a consumed
     * guard leaves the page to the backend, not read-write). */
    int (*page_prot)(wvm_alloc *a, uint64_t page, uint32_t attr);
    /* MEM_RESET_UNDO pins each run of reset pages that held data by a write (core/reset.c). A
     * backend whose pages record writes brackets the pin of each run [first, first+count)
     * (attribute attr) so that the pin records nothing and no store of the program goes
     * unrecorded: before_pin, then the pin, then after_pin (may be NULL); both outside the
     * window in which reset.c counts this thread's page faults. reset.c pins such a backend's
     * pages by the kernel's forced write (wvm__prim_forced_available); where the kernel
     * refuses those, by an ordinary write where attr allows writing, which the backend counts
     * as the program's (over-reporting, the safe side), and not at all elsewhere (the undo
     * reports the data lost). 0 or a Windows error; after a failed before_pin the run is not
     * pinned and after_pin is not called for it. a locked. */
    uint32_t (*before_pin)(wvm_alloc *a, uint64_t first, uint64_t count, uint32_t attr);
    uint32_t (*after_pin)(wvm_alloc *a, uint64_t first, uint64_t count, uint32_t attr);
    /* Whether an operation on [first, first+count) is allowed (op: WVM_MEM_COMMIT,
     * WVM_MEM_DECOMMIT, or 0 for VirtualProtect); 0 or the Windows error. */
    uint32_t (*allow)(wvm_alloc *a, uint32_t op, uint64_t first, uint64_t count);
    /* Set: the kernel keeps the allocation's write records (core/ww.c, userfaultfd): nothing
     * may write to its pages or fault them in for writing on the program's behalf. */
    bool kernel_records;
    /* Set for views (core/view.c): the pages belong to a section (MEM_MAPPED), whose commit
     * the section charged; VirtualFree refuses the allocation. */
    bool mapped;
    /* Set: the kernel part of a release, instead of decommit: [base, base+size) back the way
     * unused address space of its kind is (in_arena: idle arena space, which then goes back to
     * free space; else PROT_NONE private memory, which the death unmaps or keeps as held
     * pages). 0 or an errno (nothing changed); allocation locked. */
    int (*release_span)(uintptr_t base, size_t size, uintptr_t footprint, bool in_arena);
} wvm_backend;

/* Internal kinds in wvm_snap.type, above every MEM_* allocation flag stored there. */
#define WVM_TYPE_VIEW        0x80000000u /* a mapped view: MEM_MAPPED */
#define WVM_TYPE_PLACEHOLDER 0x40000000u /* a placeholder (MEM_RESERVE_PLACEHOLDER) */
#define WVM_TYPE_REPLACED    0x10000000u /* replaced a placeholder: may become one again */
#define WVM_TYPE_XSHARED     0x08000000u /* a view whose commits other processes share (xview.h) */
#define WVM_TYPE_KINDS       (WVM_TYPE_VIEW | WVM_TYPE_PLACEHOLDER | WVM_TYPE_REPLACED)

static inline bool wvm__snap_is_placeholder(const wvm_snap *s)
{
    return s->type & WVM_TYPE_PLACEHOLDER;
}

uint32_t wvm__err_from_errno(int err);

/* A reservation (core/space.h: wvm__space_reserve_req). The index uses its placement fields:
 * want, size, type, prot, be, no_sparse, first, ctx, ext, owner. */
typedef struct wvm_reserve_req {
    uintptr_t want; /* exactly there (64 KiB aligned), or 0: anywhere */
    size_t size;    /* a multiple of the page size */
    uint32_t type, prot, commit;
    const wvm_backend *be;
    bool no_sparse; /* placed like a small reservation even when huge (placeholders: pieces
                     * of one may be released on their own, so it cannot own whole chunks) */
    /* Runs before the birth (staged, index entries pending: readers see free space, writers
     * wait for the new allocation's lock; no other lock held): maps what the kind needs over
     * [base, base+size), arena space (in_arena) or a dedicated PROT_NONE mapping. On failure
     * (an errno) the range must be as it was; it is given back. */
    int (*fill)(void *ctx, uintptr_t base, size_t size, bool in_arena);
    /* The first state (NULL: ENOMEM) instead of all pages reserved; placement held. */
    wvm_snap *(*first)(void *ctx, uintptr_t base, size_t size);
    void *ctx;
    void *ext;       /* the allocation's backend data, set before anyone can find it */
    uintptr_t owner; /* the host hook's owner tag (0: none), set before anyone can find it */
} wvm_reserve_req;

/* ---- for the lifecycle (core/space.c) ------------------------------------------------------ */

/* Places r's allocation: a descriptor, locked (not counted in wvm__alloc_locks_held), its
 * range in an arena or a dedicated mapping (be->map), its first state (r->first, or every page
 * reserved) as a->cur, its index entries. born_now: the allocation is born in the same
 * placement section (nothing to set up), else it stays staged (its entries pending) until
 * wvm__index_birth or wvm__index_unstage. 0 with *out, or a Windows error (nothing placed). */
uint32_t wvm__index_stage(const wvm_reserve_req *r, bool born_now, wvm_alloc **out);
/* The birth of the staged allocation a (locked; stays locked) in state a->cur. */
void wvm__index_birth(wvm_alloc *a);
/* Gives back the staged allocation a that was never born: its index entries, its arena space
 * (a dedicated mapping is the caller's to unmap first), its descriptor; unlocks a. a->cur is
 * the caller's to free. */
void wvm__index_unstage(wvm_alloc *a);
/* The death of a (locked through wvm__space_acquire; every page decommitted, the backend's
 * on_release run): readers stop seeing it, its index entries go, its span goes back to free
 * space when in an arena and reusable (else it is kept out: its next owner would inherit the
 * mappings under its markers), a dedicated mapping is unmapped, except its pages in a granule
 * another piece of its placeholder still lives in (held until the last one dies); unlocks a.
 * The snapshot's guard map is the caller's to release. */
void wvm__index_death(wvm_alloc *a, bool reusable);

/* ---- for everyone ---------------------------------------------------------------------------- */

/* A free range for a reservation of size bytes with address requirements: base a multiple of
 * align (a power of two >= 64 KiB), [base, base+size) inside [lo, hi). Looks in the arenas
 * first, then between the kernel's mappings. Only a candidate: reserving it may lose a race
 * (ERROR_INVALID_ADDRESS), and the caller then asks again. ERROR_NOT_ENOUGH_MEMORY: none. */
uint32_t wvm__space_find(uintptr_t lo, uintptr_t hi, size_t size, size_t align, bool top_down,
                         uintptr_t *out);

/* Placeholders (core/placeholder.c): a (locked, nothing committed, no backend) is split at
 * at, a page boundary strictly inside it: a keeps [base, at), a new allocation (not locked)
 * takes [at, end). Such pieces share their granule's index entries page by page; the granule
 * goes back to free space (an arena's) or is unmapped (a dedicated mapping's pages, held
 * until then) with the death of the last allocation in it. 0 or ERROR_NOT_ENOUGH_MEMORY
 * (nothing changed). */
uint32_t wvm__space_split(wvm_alloc *a, uintptr_t at);
/* Joins b, the allocation right after a (both locked, both like a above), into a; b dies
 * (its lock released). 0 or ERROR_NOT_ENOUGH_MEMORY (nothing changed). */
uint32_t wvm__space_join(wvm_alloc *a, wvm_alloc *b);

void wvm__space_unlock(wvm_alloc *a);
/* For a thread that found a at addr's index entry without a lock (a may have died and its
 * descriptor be reused since: placement writes a free descriptor's fields without its lock),
 * and has locked it since: whether the entry still names a. false: a is unlocked again, and
 * none of its fields may be read. true: a owns addr's entry and cannot lose it while locked;
 * its fields were written before the entry or under its lock. Async-signal-safe. */
bool wvm__alloc_indexed(wvm_alloc *a, uintptr_t addr);
/* Locks a (a live allocation found otherwise, e.g. by wvm__space_each) if that needs no wait;
 * unlock with wvm__space_unlock. Unlike wvm__space_acquire it changes nothing (consumed guards
 * stay unfolded): for the invariant checker, which holds placement and so may not wait. */
bool wvm__alloc_trylock(wvm_alloc *a);
/* Allocation locks the calling thread holds through wvm__space_acquire (the fault dispatcher
 * must not wait for a lock its own thread holds). */
extern WVM_THREAD int wvm__alloc_locks_held;
/* The allocation's state for its writers (a locked). */
static inline wvm_snap *wvm__alloc_snap(wvm_alloc *a)
{
    return a->cur;
}
/* The state readers see (NULL: the descriptor holds no live allocation). Lock-free. */
static inline wvm_snap *wvm__alloc_visible(wvm_alloc *a)
{
    return atomic_load_explicit(&a->snap, memory_order_acquire);
}
/* Makes s a's state (a locked): for readers too unless a is staged. A replaced snapshot is
 * retired once no reader can see it. */
void wvm__alloc_publish(wvm_alloc *a, wvm_snap *s);
/* The same for a that is not staged, in two steps: the replaced state is returned unretired,
 * then either retired (settle) or made a's state again, s retired (unpublish). Nothing else
 * may happen to a's state in between (core/pages.c: the kernel widens in between). */
wvm_snap *wvm__alloc_publish_keep(wvm_alloc *a, wvm_snap *s);
void wvm__alloc_settle(wvm_alloc *a, wvm_snap *before);
void wvm__alloc_unpublish(wvm_alloc *a, wvm_snap *before);

/* The index generation: advanced at the end of every placement section that makes an
 * allocation be born or die. A reader that saw g before and after reading several index
 * entries saw at most one such section half done (see index.c). */
uint64_t wvm__space_gen(void);
bool wvm__space_gen_is(uint64_t g);

/* Lock-free lookup for readers: must be called between wvm__ebr_enter/exit. Returns the
 * snapshot of the allocation holding addr, or NULL. */
const wvm_snap *wvm__space_lookup(uintptr_t addr);
/* Whether addr's index entry belongs to an allocation being made or released (readers take
 * it for free space, and its kernel mapping, if any, for none of someone else's). */
bool wvm__space_pending(uintptr_t addr);
/* Whether addr lies in a winvmem allocation (takes care of the epoch itself). */
bool wvm__space_owns(uintptr_t addr);
/* Lowest base >= addr and < limit of a live allocation (born, not dead), or limit.
 * Lock-free. Every descriptor it reads is checked against the entry it was found at (a
 * descriptor may have died and been born again elsewhere meanwhile). One instant's answer
 * only if the index generation did not move meanwhile (wvm__space_gen). */
uintptr_t wvm__space_next(uintptr_t addr, uintptr_t limit);

/* Iterates live allocations (by address, from the index) under the placement lock (introspection
 * only: f must not call back into winvmem's writers). */
void wvm__space_each(void (*f)(wvm_alloc *a, void *ctx), void *ctx);

typedef struct wvm_space_stats {
    uint64_t reserved, reserved_peak, live;
    uint64_t arenas, arena_bytes, chunks_guarded;
} wvm_space_stats;
void wvm__space_stats(wvm_space_stats *out);
#endif
