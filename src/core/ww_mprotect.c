/* The write-watch fallback for kernels without async userfaultfd write-protect (< 6.7), or
 * with WINVMEM_USERFAULTFD=0: unwritten writable pages are kept read-only in the kernel; the
 * first write faults, the fault dispatcher (src/fault/) calls write_fault, which records the
 * page and gives it its real protection. Costs and limits, against the userfaultfd backend:
 * a signal per first write; every written/unwritten boundary splits a kernel mapping, so
 * scattered writes over > ~32k pages hit vm.max_map_count and re-arming then fails with
 * ERROR_NOT_ENOUGH_MEMORY; the kernel's own writes (read(2) into an unwritten page) fail with
 * EFAULT instead of being recorded. The allocation is placed like any other (in an arena, at
 * any address a caller may pick); its protections differ from the model's only on committed
 * pages, and a decommit puts the mapping under its guard markers back to read-write (pages.c)
 * so that no later allocation there inherits them. The record is one bit per page, which
 * decommit keeps (as Windows does). */
#include <stdatomic.h>

#include "core/meta.h"
#include "core/ww.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_residency.h"
#include "prim/linux/prim_signal.h"

typedef struct wwp {
    uint64_t pages;
    _Atomic uint64_t bits[]; /* written pages */
} wwp;

static bool written(wwp *w, uint64_t p)
{
    return (atomic_load_explicit(&w->bits[p / 64], memory_order_relaxed) >> (p % 64)) & 1;
}

static void set_written(wwp *w, uint64_t p, bool on)
{
    uint64_t bit = 1ull << (p % 64);
    if (on)
        atomic_fetch_or_explicit(&w->bits[p / 64], bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&w->bits[p / 64], ~bit, memory_order_relaxed);
}

/* The kernel protection page p should have: its own, minus write while unwritten. */
static int want_prot(wwp *w, uint64_t p, uint32_t attr)
{
    int prot = wvm__linux_prot(attr);
    return written(w, p) ? prot : prot & ~WVM_P_WRITE;
}

static size_t wwp_bytes(uint64_t pages)
{
    return sizeof(wwp) + (pages + 63) / 64 * sizeof(uint64_t);
}

static uint32_t on_reserve(wvm_alloc *a)
{
    uint64_t pages = wvm__snap_pages(wvm__alloc_snap(a));
    wwp *w = wvm__meta_zalloc(wwp_bytes(pages));
    if (!w)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    w->pages = pages;
    wvm__alloc_set_ext(a, w);
    return 0;
}

static uint32_t on_release(wvm_alloc *a, const wvm_snap *s)
{
    (void)s;
    wwp *w = wvm__alloc_ext(a);
    if (w)
        wvm__meta_free(w, wwp_bytes(w->pages));
    wvm__alloc_set_ext(a, NULL);
    return 0;
}

/* What arm_range makes the kernel protection of each committed writable page. */
enum arm_mode {
    ARM_WANT, /* want_prot: read-only while unwritten */
    ARM_ALL,  /* read-only, written or not (a reset, before it forgets) */
};

/* Sets the kernel protection of every committed writable page of [first, first+count) as
 * mode says, one mprotect per run of equal protection. */
typedef struct arm_ctx {
    wwp *w;
    uintptr_t base;
    enum arm_mode mode;
    int err;
} arm_ctx;

static int prot_for(const arm_ctx *c, uint64_t p, uint32_t attr)
{
    return c->mode == ARM_WANT ? want_prot(c->w, p, attr) : wvm__linux_prot(attr) & ~WVM_P_WRITE;
}

static int arm_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    arm_ctx *c = ctx;
    if (!wvm__attr_committed(attr) || (attr & WVM_PAGE_GUARD) ||
        !(wvm__linux_prot(attr) & WVM_P_WRITE))
        return 0;
    for (uint64_t p = first, end = first + count; p < end;) {
        int prot = prot_for(c, p, attr);
        uint64_t q = p + 1;
        while (q < end && prot_for(c, q, attr) == prot)
            q++;
        int err = wvm__prim_protect((void *)(c->base + p * WVM_PAGE), (q - p) * WVM_PAGE, prot);
        if (err && !c->err)
            c->err = err;
        p = q;
    }
    return 0;
}

static uint32_t arm_range(wvm_alloc *a, uint64_t first, uint64_t count, enum arm_mode mode)
{
    const wvm_snap *s = wvm__alloc_snap(a);
    arm_ctx c = {wvm__alloc_ext(a), s->base, mode, 0};
    wvm__snap_each(s, first, count, arm_piece, &c);
    return wvm__err_from_errno(c.err);
}

static uint32_t arm(wvm_alloc *a, uint64_t first, uint64_t count)
{
    return arm_range(a, first, count, ARM_WANT);
}

/* MEM_RESET_UNDO pins by the kernel's forced write (core/reset.c), which neither faults nor
 * needs the page writable: nothing changes here. Where the kernel refuses forced writes, the
 * pin writes as the program does, which needs the pages writable in the kernel: they count
 * as written first, before anything makes them writable (the record before the widening:
 * a racing store then finds itself recorded), over-reported for good. */
static uint32_t before_pin(wvm_alloc *a, uint64_t first, uint64_t count, uint32_t attr)
{
    if (wvm__prim_forced_available() || (attr & WVM_PAGE_GUARD) ||
        !(wvm__linux_prot(attr) & WVM_P_WRITE))
        return 0;
    for (uint64_t p = first; p < first + count; p++)
        set_written(wvm__alloc_ext(a), p, true);
    return arm(a, first, count);
}

static bool write_fault(wvm_alloc *a, uint64_t page, uint32_t attr)
{
    int prot = wvm__linux_prot(attr);
    if (!(prot & WVM_P_WRITE) || (attr & WVM_PAGE_GUARD))
        return false;
    const wvm_snap *s = wvm__alloc_snap(a);
    set_written(wvm__alloc_ext(a), page, true);
    return !wvm__prim_sig_protect((void *)(s->base + page * WVM_PAGE), WVM_PAGE, prot);
}

static int page_prot(wvm_alloc *a, uint64_t page, uint32_t attr)
{
    return want_prot(wvm__alloc_ext(a), page, attr);
}

static const wvm_backend wwp_backend = {
    .name = "write-watch-mprotect",
    .on_reserve = on_reserve,
    .on_release = on_release,
    .after_change = arm,
    .before_pin = before_pin,
    .write_fault = write_fault,
    .page_prot = page_prot,
};

const wvm_backend *wvm__wwp_backend(void)
{
    return &wwp_backend;
}

/* Resetting write-protects first and forgets after: a write in between faults and waits for
 * the allocation lock we hold, then records itself. */
uint32_t wvm__wwp_get(wvm_alloc *a, uint64_t first, uint64_t count, bool reset, void **out,
                      uint64_t *n)
{
    const wvm_snap *s = wvm__alloc_snap(a);
    wwp *w = wvm__alloc_ext(a);
    uint64_t got = 0, end = first + count;
    for (uint64_t p = first; p < end && got < *n; p++)
        if (written(w, p))
            out[got++] = (void *)(s->base + p * WVM_PAGE);
    *n = got;
    uint32_t err = 0;
    for (uint64_t i = 0; reset && i < got && !err; i++) {
        uint64_t p = ((uintptr_t)out[i] - s->base) / WVM_PAGE;
        if (!(err = arm_range(a, p, 1, ARM_ALL)))
            set_written(w, p, false);
    }
    return err;
}

uint32_t wvm__wwp_reset(wvm_alloc *a, uint64_t first, uint64_t count)
{
    uint32_t err = arm_range(a, first, count, ARM_ALL);
    if (err) { /* protections are partly armed: put the written pages back as they were */
        arm(a, first, count);
        return err;
    }
    for (uint64_t p = first; p < first + count; p++)
        set_written(wvm__alloc_ext(a), p, false);
    return 0;
}

void wvm__wwp_mark_written(wvm_alloc *a, void *const *pages, uint64_t n)
{
    const wvm_snap *s = wvm__alloc_snap(a);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t p = ((uintptr_t)pages[i] - s->base) / WVM_PAGE;
        set_written(wvm__alloc_ext(a), p, true);
        arm(a, p, 1); /* its own protection again: the next write is not a first one */
    }
}
