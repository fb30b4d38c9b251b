/* Views of sections (MapViewOfFile and relatives): allocations whose pages belong to a section.
 *
 * A view is an allocation of winvmem's address space (64 KiB aligned, found by the index like
 * any other, MEM_MAPPED to VirtualQuery) with the view backend: its kernel mapping is the
 * section's file mapped MAP_SHARED (FILE_MAP_COPY: MAP_PRIVATE) over the allocation's range. In
 * an arena with guard markers the 2 MiB chunks under a view are switched to guard mode first,
 * so that no later switch ever runs over the view; unmapping puts the range back as idle arena
 * space (read-write with guard markers, or PROT_NONE).
 *
 * Page states: a committed page has the view's protection or what VirtualProtect made of it
 * (PAGE_WRITECOPY: that page is remapped MAP_PRIVATE, so a write copies it); a page of a
 * SEC_RESERVE section not yet committed is reserved, PROT_NONE in the kernel. Committing
 * (VirtualAlloc on a view of a pagefile-backed section) commits the section's pages, so every
 * view of them in this process sees them committed (with its own protection); views in other
 * processes of a named section follow the shared bits (core/xview.h).
 *
 * Rules of access (Windows', checked by Wine's conformance tests on Windows): a view's
 * protection needs the handle's access and the section's protection to allow its
 * SECTION_MAP_* rights; VirtualProtect and VirtualAlloc(MEM_COMMIT) on a view may only ask for
 * what the view's own protection allows (PAGE_WRITECOPY counts as read); VirtualFree refuses
 * views; views of the caller's files cannot be committed (ERROR_ACCESS_DENIED). */
#ifndef WVM_VIEW_H
#define WVM_VIEW_H
#include <stdbool.h>
#include <stdint.h>

#include <winvmem/vm.h>

#include "core/section.h"
#include "core/space.h"

typedef struct wvm_view {
    wvm_section *sec;      /* one reference */
    uint64_t offset;       /* bytes into the section */
    uint32_t prot;         /* the view's protection (AllocationProtect) */
    bool copy;             /* FILE_MAP_COPY: the whole view is MAP_PRIVATE */
    uintptr_t base;        /* where it is mapped */
    uint64_t size;         /* bytes (page multiple) */
    uint64_t charged;      /* ledger bytes (copy-on-write views are charged whole) */
    struct wvm_view *next; /* the section's views (views lock) */
} wvm_view;

typedef struct wvm_view_req {
    wvm_section *sec; /* the caller's reference is not taken over */
    uint64_t offset, size;
    uint32_t prot; /* PAGE_*: checked against the rights by the caller */
    bool copy;
    uintptr_t want; /* 0: anywhere */
    bool replace;   /* want is a placeholder of exactly size bytes (MEM_REPLACE_PLACEHOLDER) */
} wvm_view_req;

bool wvm__alloc_is_view(const wvm_alloc *a);

/* Maps a view; *out receives its base. 0 or ERROR_INVALID_ADDRESS (want taken, or not a
 * placeholder of that size), ERROR_COMMITMENT_LIMIT, ERROR_NOT_ENOUGH_MEMORY. */
uint32_t wvm__view_map(const wvm_view_req *r, uintptr_t *out);
/* Unmaps the view holding addr; preserve: it becomes a placeholder again (it must have
 * replaced one, else ERROR_INVALID_ADDRESS). ERROR_INVALID_ADDRESS when no view holds addr. */
uint32_t wvm__view_unmap(uintptr_t addr, bool preserve);
/* FlushViewOfFile over [start, end) of the view holding start (size 0: to the view's end). */
uint32_t wvm__view_flush(uintptr_t addr, size_t size);

/* VirtualAlloc(MEM_COMMIT) of [first, first+count) of the view a (locked by the caller; this
 * function unlocks it, since a SEC_RESERVE commit takes the section's lock before it). acct
 * (NULL for a plain call; core/range.h): its max_commit, committed and foreign count the
 * section pages this call newly commits in this process; with acct->owner, a section another
 * credit record committed through is foreign (ERROR_INVALID_ADDRESS). */
struct wvm_acct;
uint32_t wvm__view_commit(wvm_alloc *a, uint64_t first, uint64_t count, uint32_t prot,
                          struct wvm_acct *acct);
/* VirtualProtect of [first, first+count) of the locked view a; *old receives the first page's
 * protection. */
uint32_t wvm__view_protect(wvm_alloc *a, uint64_t first, uint64_t count, uint32_t prot,
                           uint32_t *old);

/* VirtualQuery's answer for page idx of view s (in an epoch): Type, and copy-on-write pages
 * that were written shown as private read-write ones (the kernel knows which). */
void wvm__view_query(const wvm_snap *s, uint64_t idx, wvm_MEMORY_BASIC_INFORMATION *m);

/* ---- between view.c and view_shared.c ---- */
/* The attribute of a committed page of v: its protection with the section's caching ones. */
static inline uint32_t wvm__view_attr(const wvm_view *v)
{
    uint32_t a = v->prot;
    if (a != WVM_PAGE_NOACCESS && (v->sec->attrs & WVM_SEC_NOCACHE))
        a |= WVM_PAGE_NOCACHE;
    if (a != WVM_PAGE_NOACCESS && (v->sec->attrs & WVM_SEC_WRITECOMBINE))
        a |= WVM_PAGE_WRITECOMBINE;
    return a;
}
/* Views of sections other processes commit (view_shared.c, core/xview.h): joining and leaving
 * the registry (0 or ENOMEM), the backend's fault hook, and VirtualQuery's combined state. */
int wvm__view_xregister(const wvm_view *v, uintptr_t base);
void wvm__view_xunregister(const wvm_view *v, uintptr_t base);
bool wvm__view_reserved_fault(wvm_alloc *a, uint64_t page, int access);
void wvm__view_query_shared(const wvm_snap *s, uint64_t idx, wvm_MEMORY_BASIC_INFORMATION *m);

/* Live views and the bytes they map (stats). */
uint64_t wvm__view_live(void);
uint64_t wvm__view_bytes(void);
/* Ledger bytes copy-on-write views hold (invariant checker). */
uint64_t wvm__view_charged(void);
#endif
