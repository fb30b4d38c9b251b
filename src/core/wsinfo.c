/* QueryWorkingSetEx (see wsinfo.h). Windows' rules, from its documentation and Wine's
 * conformance tests (psapi_main.c, ok() lines):
 *   Valid: the page is in the working set: committed, accessible (not PAGE_NOACCESS, not an
 *     armed guard page) and resident (pagemap: mapped to a frame). A committed page never
 *     touched is not valid; once read it is (Linux maps the shared zero page, Windows a
 *     demand-zero page).
 *   When Valid is 0, only Shared and Bad carry meaning; every other bit is 0.
 *   Win32Protection: the page's protection as VirtualQuery reports it.
 *   Shared: the page can be shared: images and views (MEM_IMAGE, MEM_MAPPED), also when not
 *     valid; private memory never. ShareCount (valid shared pages only): the frame's mappings
 *     (kpagecount) up to 7; unprivileged processes cannot read that count, and get 1 for a
 *     frame mapped once and 2 for one mapped more often (pagemap's exclusive bit).
 *   Node: the frame's NUMA node (move_pages), 0 when unknown; nodes above 63 read 63.
 *   Locked: VirtualLock (the model) on winvmem's pages; the frame's mlock flag (kpageflags,
 *     privileged only) on memory winvmem did not allocate.
 *   LargePage: a MEM_LARGE_PAGES allocation; elsewhere the frame's huge/THP flag (privileged).
 *   Bad: the frame is marked hardware-poisoned (privileged only).
 * Where Windows differs from what Linux can tell: a page made PAGE_NOACCESS and then
 * accessible again is valid here while it is resident; Windows trims it on the first change
 * and reports it invalid until the next access (doc/windows-semantics.md). */
#include "core/wsinfo.h"
#include "core/ebr.h"
#include "core/guard.h"
#include "core/query.h"
#include "core/space.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_ws.h"

typedef struct page_model {
    uint32_t state, protect, type;
    bool locked, large, owned;
} page_model;

static int first_attr(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    (void)first;
    (void)count;
    *(uint32_t *)ctx = attr;
    return 1;
}

/* The model's view of page, from one snapshot (winvmem's) or the kernel's mappings (others'). */
static void model_of(uintptr_t page, page_model *m)
{
    wvm_MEMORY_BASIC_INFORMATION mbi = {0};
    *m = (page_model){0};
    wvm__ebr_enter();
    const wvm_snap *s = wvm__space_lookup(page);
    if (s) {
        uint32_t attr = 0;
        wvm__snap_each(s, (page - s->base) / WVM_PAGE, 1, first_attr, &attr);
        wvm__query_snap(s, page, &mbi);
        m->owned = true;
        m->locked = (attr & WVM_ATTR_LOCKED) != 0;
        m->large = (s->type & WVM_MEM_LARGE_PAGES) != 0;
    }
    wvm__ebr_exit();
    if (!m->owned)
        wvm__query_foreign(page, &mbi);
    m->state = mbi.State;
    m->protect = mbi.Protect;
    m->type = mbi.Type;
}

#define BIT_VALID       0
#define BIT_SHARE_COUNT 1
#define BIT_PROTECTION  4
#define BIT_SHARED      15
#define BIT_NODE        16
#define BIT_LOCKED      22
#define BIT_LARGE_PAGE  23
#define BIT_BAD         31

static uint64_t block_of(const page_model *m, const wvm_kpage *k)
{
    bool shared = m->state == WVM_MEM_COMMIT && m->type != WVM_MEM_PRIVATE;
    bool bad = k->frame_known && k->hwpoison;
    bool accessible = m->state == WVM_MEM_COMMIT && (m->protect & 0xFFu) != WVM_PAGE_NOACCESS &&
                      !(m->protect & WVM_PAGE_GUARD);
    if (!accessible || !k->present)
        return (uint64_t)shared << BIT_SHARED | (uint64_t)bad << BIT_BAD;
    uint64_t count = 0;
    if (shared) {
        count = k->frame_known ? k->mapcount : (k->exclusive ? 1 : 2);
        count = count < 1 ? 1 : count > 7 ? 7 : count;
    }
    uint64_t node = k->node < 0 ? 0 : k->node > 63 ? 63 : (uint64_t)k->node;
    bool locked = m->owned ? m->locked : k->frame_known && k->mlocked;
    bool large = m->owned ? m->large : k->frame_known && k->huge;
    return 1ull << BIT_VALID | count << BIT_SHARE_COUNT |
           (uint64_t)(m->protect & 0x7FFu) << BIT_PROTECTION | (uint64_t)shared << BIT_SHARED |
           node << BIT_NODE | (uint64_t)locked << BIT_LOCKED | (uint64_t)large << BIT_LARGE_PAGE |
           (uint64_t)bad << BIT_BAD;
}

uint32_t wvm__working_set_ex(const uintptr_t *addrs, uint64_t *blocks, size_t n)
{
    uintptr_t pages[WVM_WS_BATCH];
    wvm_kpage k[WVM_WS_BATCH];
    size_t idx[WVM_WS_BATCH], m = 0;
    uintptr_t limit = wvm__caps()->user_limit;
    for (size_t i = 0; i < n; i++) {
        blocks[i] = 0; /* beyond the user address space: nothing */
        if (addrs[i] >= WVM_MIN_ADDR && addrs[i] < limit) {
            idx[m] = i;
            pages[m++] = addrs[i] & ~(uintptr_t)(WVM_PAGE - 1);
        }
    }
    int err = m ? wvm__prim_kpages(pages, m, k) : 0;
    if (err)
        return wvm__err_from_errno(err);
    for (size_t j = 0; j < m; j++) {
        page_model pm;
        model_of(pages[j], &pm);
        blocks[idx[j]] = block_of(&pm, &k[j]);
    }
    return 0;
}
