/* The state of one allocation, as an immutable snapshot: the allocation's fixed facts and the
 * attribute of every page. Writers build a new snapshot and publish it; readers use whichever
 * one they loaded (see ebr.h).
 *
 * Pages are kept as a persistent tree over page indices, so that a write costs the same in a
 * fragmented allocation as in an empty one:
 *   - a leaf covers WVM_LEAF_PAGES pages (2 MiB) as runs of equal attributes;
 *   - an internal node covers WVM_FANOUT children; an entry is a child node, or one attribute
 *     for the whole child ("uniform": untouched address space costs no node at all);
 *   - the root is embedded in the snapshot: runs while the allocation fits one leaf or has at
 *     most 64 runs (a "flat" root: most allocations, whatever their size, are one block as
 *     small as a plain run list, and a write copies that block), else entries. A flat root
 *     that fragments past 64 runs becomes a tree; a tree whose root entries are all uniform
 *     becomes flat again.
 * A write (wvm__snap_map) copies the root and the nodes on the paths to the pages it changes,
 * and shares every other node with the snapshot it started from: O(depth x fan-out + runs of
 * the leaves it touches + pieces it changes), never O(runs of the allocation) (a flat root's
 * runs are bounded like a leaf's). `committed` is
 * carried as a delta. A node whose children are all one attribute collapses into a uniform
 * entry, so regions spanning many leaves are found in O(depth x fan-out).
 *
 * Nodes are shared between snapshots and counted: refs is the number of entries (in nodes or
 * in roots) that point to a node. Counts change only with the allocation's lock held; readers
 * never touch them (they are protected by the epochs). Releasing a published snapshot hands the
 * nodes only it held to the epochs; freeing one that was never published frees them at once.
 * Only the current snapshot of an allocation (or one never published) may be the source of a
 * write: the nodes of a retired one may already wait to be freed. */
#ifndef WVM_SNAP_H
#define WVM_SNAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ebr.h"

/* The page the model counts in: x86-64's (prim's wvm__caps()->page_size is the same). */
#define WVM_PAGE       4096u
#define WVM_LEAF_PAGES 512u /* pages of one leaf: 2 MiB */
#define WVM_FANOUT_LOG 4
#define WVM_FANOUT     (1u << WVM_FANOUT_LOG) /* children of an internal node */

/* A page attribute: bits 0-10 the Windows protection (0 = not committed, i.e. reserved);
 * the bits above are page flags that later features own. */
#define WVM_ATTR_PROT_MASK 0x7FFu
#define WVM_ATTR_GUARD     0x100u   /* PAGE_GUARD, inside the protection bits */
#define WVM_ATTR_LOCKED    0x10000u /* VirtualLock */
#define WVM_ATTR_RESET     0x20000u /* MEM_RESET: contents may be discarded */
/* An uncommitted page (guard-marker mode) whose mapping under its marker may not be
 * read-write (a decommit could not widen it back): its next commit sets the protection. */
#define WVM_ATTR_UNDER   0x40000u
#define WVM_ATTR_OFFERED 0x80000u /* OfferVirtualMemory (core/offer.c) */
/* A PAGE_READONLY page kept read-only by userfaultfd write-protect in a read-write mapping
 * (core/wp.h), not by mprotect. */
#define WVM_ATTR_WP 0x100000u
/* A committed PAGE_NOACCESS page, or an armed PAGE_GUARD | PAGE_READWRITE one, kept
 * inaccessible by a guard marker over its read-write mapping (core/mark.h), not by mprotect;
 * its contents are zero. */
#define WVM_ATTR_MARK 0x200000u
/* A marked page (WVM_ATTR_MARK set too) whose data waits in the arena's stash (core/stash.h). */
#define WVM_ATTR_STASH 0x400000u

static inline bool wvm__attr_committed(uint32_t attr)
{
    return (attr & WVM_ATTR_PROT_MASK) != 0;
}

/* A node of the page tree (snap.c). */
typedef struct wvm_pnode wvm_pnode;

typedef struct wvm_snap {
    wvm_retired hdr;
    uintptr_t base;
    size_t size;         /* bytes, a multiple of the page size */
    uint32_t alloc_prot; /* protection given when the allocation was made */
    uint32_t type;       /* WVM_MEM_* allocation flags (WRITE_WATCH, PHYSICAL, LARGE_PAGES) */
    uint64_t committed;  /* committed pages */
    struct wvm_guardmap *guards; /* PAGE_GUARD pages consumed by faults (core/guard.h); shared
                                  * by every snapshot of the allocation; NULL until needed */
    uint8_t level;               /* of the root: 0 = runs, else entries of level-1 nodes */
    bool retired;                /* published and replaced: no longer a source for writes */
    uint16_t cap;                /* slots allocated */
    uint32_t n;                  /* slots used */
    uint64_t slot[];             /* level 0: runs, first page | attr << 32, ascending from page 0,
                                  * neighbours differ; else entries (snap.c) */
} wvm_snap;

wvm_snap *wvm__snap_new(uintptr_t base, size_t size, uint32_t alloc_prot, uint32_t type);
void wvm__snap_free(wvm_snap *s);   /* never published: its own nodes are freed now */
void wvm__snap_retire(wvm_snap *s); /* was published: its own nodes go to the epochs */

static inline uint64_t wvm__snap_pages(const wvm_snap *s)
{
    return s->size / WVM_PAGE;
}

/* The attribute of page. Lock-free and async-signal-safe (the fault dispatcher calls it). */
uint32_t wvm__snap_attr(const wvm_snap *s, uint64_t page);

/* A new snapshot equal to s except that every page in [first, first+count) has attribute
 * f(old, ctx). NULL on ENOMEM. s must be current or never published. */
typedef uint32_t (*wvm_attr_fn)(uint32_t old, void *ctx);
wvm_snap *wvm__snap_map(const wvm_snap *s, uint64_t first, uint64_t count, wvm_attr_fn f,
                        void *ctx);

/* Calls f for each maximal piece of [first, first+count) with one attribute, in ascending
 * order. Stops and returns f's result when non-zero. */
typedef int (*wvm_piece_fn)(uint64_t first, uint64_t count, uint32_t attr, void *ctx);
int wvm__snap_each(const wvm_snap *s, uint64_t first, uint64_t count, wvm_piece_fn f, void *ctx);

/* Whether every page of [first, first+count) (false when count is 0) has one attribute, found by
 * the descent alone (one entry or one run holds the range); *attr is it then. A range of one
 * attribute split across leaves gives false: a quick path for the callers of wvm__snap_each. */
bool wvm__snap_one(const wvm_snap *s, uint64_t first, uint64_t count, uint32_t *attr);

/* A page predicate: (attr & mask) == want, or != want when !equal. */
typedef struct wvm_pred {
    uint32_t mask, want;
    bool equal;
} wvm_pred;
#define WVM_UNCOMMITTED     ((wvm_pred){WVM_ATTR_PROT_MASK, 0, true})
#define WVM_COMMITTED       ((wvm_pred){WVM_ATTR_PROT_MASK, 0, false})
#define WVM_LOCKED          ((wvm_pred){WVM_ATTR_LOCKED, WVM_ATTR_LOCKED, true})
#define WVM_WRITE_PROTECTED ((wvm_pred){WVM_ATTR_WP, WVM_ATTR_WP, true})
#define WVM_GUARDED         ((wvm_pred){WVM_ATTR_GUARD, WVM_ATTR_GUARD, true})
#define WVM_MARKED          ((wvm_pred){WVM_ATTR_MARK, WVM_ATTR_MARK, true})
#define WVM_STASHED         ((wvm_pred){WVM_ATTR_STASH, WVM_ATTR_STASH, true})
/* Pages of [first, first+count) for which p holds. */
uint64_t wvm__snap_count(const wvm_snap *s, uint64_t first, uint64_t count, wvm_pred p);
/* Whether p holds for some page of [first, first+count) (stops at the first). */
bool wvm__snap_any(const wvm_snap *s, uint64_t first, uint64_t count, wvm_pred p);

/* What wvm__snap_check may assume about the nodes' reference counts, which belong to the
 * allocation's writers: a reader without the allocation's lock must not look at them (a writer
 * may retire the snapshot it is reading, taking the nodes only it held to 0 while they still
 * wait for the epochs, or share them with its new snapshot meanwhile). */
typedef enum wvm_refs_seen {
    WVM_REFS_UNSEEN, /* not examined: the caller may race with the writers */
    WVM_REFS_SHARED, /* at least 1: other unretired snapshots may share nodes with s */
    WVM_REFS_SOLE,   /* exactly 1: s is the only unretired snapshot of its tree (an
                      * allocation's current one, its lock held, no write under way) */
} wvm_refs_seen;
/* Checks the tree's shape (runs ascending and distinct, nodes collapsed, the committed count)
 * and the reference counts as refs says; returns NULL or what is wrong. For the invariant
 * checker and tests. */
const char *wvm__snap_check(const wvm_snap *s, wvm_refs_seen refs);
/* Nodes and bytes of s's tree outside the snapshot itself (tests, stats). */
void wvm__snap_tree_size(const wvm_snap *s, uint64_t *nodes, uint64_t *bytes);
#endif
