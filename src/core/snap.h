/* The state of one allocation, as an immutable snapshot: the allocation's fixed facts and its
 * pages as runs of equal attributes. Writers build a new snapshot and publish it; readers use
 * whichever one they loaded (see ebr.h). A snapshot's size is proportional to the number of
 * runs, never to the size of the allocation. */
#ifndef WVM_SNAP_H
#define WVM_SNAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ebr.h"

/* The page the model counts in: x86-64's (prim's wvm__caps()->page_size is the same). */
#define WVM_PAGE 4096u

/* A page attribute: bits 0-10 the Windows protection (0 = not committed, i.e. reserved);
 * the bits above are page flags that later features own. */
#define WVM_ATTR_PROT_MASK 0x7FFu
#define WVM_ATTR_LOCKED    0x10000u /* VirtualLock */
#define WVM_ATTR_RESET     0x20000u /* MEM_RESET: contents may be discarded */
/* An uncommitted page (guard-marker mode) whose mapping under its marker may not be
 * read-write (a decommit could not widen it back): its next commit sets the protection. */
#define WVM_ATTR_UNDER 0x40000u

static inline bool wvm__attr_committed(uint32_t attr)
{
    return (attr & WVM_ATTR_PROT_MASK) != 0;
}

typedef struct wvm_run {
    uint64_t first; /* first page index of the run */
    uint32_t attr;
    uint32_t pad;
} wvm_run;

typedef struct wvm_snap {
    wvm_retired hdr;
    uintptr_t base;
    size_t size;         /* bytes, a multiple of the page size */
    uint32_t alloc_prot; /* protection given when the allocation was made */
    uint32_t type;       /* WVM_MEM_* allocation flags (WRITE_WATCH, PHYSICAL, LARGE_PAGES) */
    uint64_t committed;  /* committed pages */
    struct wvm_guardmap *guards; /* PAGE_GUARD pages consumed by faults (core/guard.h); shared
                                  * by every snapshot of the allocation; NULL until needed */
    uint32_t nruns;
    wvm_run runs[]; /* runs[0].first == 0; ascending; neighbours differ */
} wvm_snap;

wvm_snap *wvm__snap_new(uintptr_t base, size_t size, uint32_t alloc_prot, uint32_t type);
void wvm__snap_free(wvm_snap *s);   /* never published */
void wvm__snap_retire(wvm_snap *s); /* was published */

static inline uint64_t wvm__snap_pages(const wvm_snap *s)
{
    return s->size / WVM_PAGE;
}
/* Index of the run holding page. */
uint32_t wvm__snap_find(const wvm_snap *s, uint64_t page);
/* One past the last page of run i. */
static inline uint64_t wvm__snap_run_end(const wvm_snap *s, uint32_t i)
{
    return i + 1 < s->nruns ? s->runs[i + 1].first : wvm__snap_pages(s);
}

/* A new snapshot equal to s except that every page in [first, first+count) has attribute
 * f(old, ctx). NULL on ENOMEM. */
typedef uint32_t (*wvm_attr_fn)(uint32_t old, void *ctx);
wvm_snap *wvm__snap_map(const wvm_snap *s, uint64_t first, uint64_t count, wvm_attr_fn f,
                        void *ctx);

/* Calls f for each maximal piece of [first, first+count) with one attribute. Stops and
 * returns f's result when non-zero. */
typedef int (*wvm_piece_fn)(uint64_t first, uint64_t count, uint32_t attr, void *ctx);
int wvm__snap_each(const wvm_snap *s, uint64_t first, uint64_t count, wvm_piece_fn f, void *ctx);
#endif
