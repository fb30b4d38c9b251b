/* Views of sections that other processes commit too (core/xview.h): their registration, the
 * fault dispatcher's and the operations' catching up with the shared bits, and VirtualQuery's
 * combined state. */
#include <errno.h>

#include "core/guard.h"
#include "core/view.h"
#include "core/xview.h"
#include "prim/linux/prim.h"

/* A view of a shared SEC_RESERVE section at base joins the registry (before its first state
 * is published). 0 or ENOMEM. */
int wvm__view_xregister(const wvm_view *v, uintptr_t base)
{
    if (!wvm__section_shared(v->sec))
        return 0;
    wvm_xview x = {v->sec->bits, v->offset / WVM_PAGE, v->size / WVM_PAGE,
                   wvm__view_attr(v) & WVM_ATTR_PROT_MASK};
    return wvm__xview_add(base, &x) ? ENOMEM : 0;
}

void wvm__view_xunregister(const wvm_view *v, uintptr_t base)
{
    if (wvm__section_shared(v->sec) && base)
        wvm__xview_remove(base);
}

static bool allows(int prot, int access)
{
    return access == 1   ? prot & WVM_P_WRITE
           : access == 8 ? prot & WVM_P_EXEC
                         : prot & (WVM_P_READ | WVM_P_EXEC);
}

/* Signal context: a page committed through another process's view gets this view's protection
 * in the kernel, with the pages after it that are in the same case (up to 64: bounded work);
 * the model catches up at the next operation (view.c's sync hook). The bit is read after the fault:
 * a commit whose bit is set later is linearized after this access, which fails. */
bool wvm__view_reserved_fault(wvm_alloc *a, uint64_t page, int access)
{
    wvm_view *v = wvm__alloc_ext(a);
    if (!v || !wvm__section_shared(v->sec))
        return false;
    const wvm_snap *s = wvm__alloc_snap(a);
    uint64_t p0 = v->offset / WVM_PAGE, pages = wvm__snap_pages(s), end = page + 1;
    if (page >= pages || !wvm__xview_bit(v->sec->bits, p0 + page))
        return false;
    while (end < pages && end < page + 64 && wvm__xview_bit(v->sec->bits, p0 + end) &&
           !wvm__attr_committed(wvm__snap_attr(s, end)))
        end++;
    int prot = wvm__linux_prot(wvm__view_attr(v));
    if (wvm__prim_protect((void *)(s->base + page * WVM_PAGE), (end - page) * WVM_PAGE, prot))
        return false;
    return allows(prot, access);
}

/* The visible protection of page p (0: reserved) as the model and the bits make it together,
 * and in *next one past the run of pages in the same state. */
static uint32_t shared_state(const wvm_snap *s, const wvm_xview *x, uint64_t p, uint64_t *next)
{
    uint32_t visible;
    uint64_t e = wvm__guard_region_end(s, p, &visible);
    if (visible) {
        *next = e;
        return visible;
    }
    bool committed;
    *next = wvm__xview_run(x->bits, x->p0 + p, x->p0 + e, &committed) - x->p0;
    return committed ? x->attr : 0;
}

/* VirtualQuery of a view whose section other processes commit: regions of the combined state. */
void wvm__view_query_shared(const wvm_snap *s, uint64_t idx, wvm_MEMORY_BASIC_INFORMATION *m)
{
    wvm_xview x;
    uint64_t pages = wvm__snap_pages(s), p, next;
    if (!wvm__xview_find(s->base, &x) || x.pages != pages)
        return; /* being released: as its model shows it */
    uint32_t first = shared_state(s, &x, idx, &p);
    while (p < pages && shared_state(s, &x, p, &next) == first)
        p = next;
    m->State = first ? WVM_MEM_COMMIT : WVM_MEM_RESERVE;
    m->Protect = first;
    m->RegionSize = (p - idx) * WVM_PAGE;
}
