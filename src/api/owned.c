/* The host's hook (src/hook/host_hook.h): the public calls' argument rules (api/alloc.c,
 * free.c, reset.c) with the core's accounting (core/range.h wvm_acct): the owner check, the tag
 * of a new reservation (set before anyone can find it) and the commit delta are the core's,
 * made under the allocation lock of the operation itself. */
#include "api/api.h"
#include "core/credit.h"
#include "core/meta.h"
#include "core/range.h"
#include "hook/host_hook.h"

#define PAGE_MASK ((uintptr_t)WVM_PAGE - 1)

static void report(wvm_owned *o, const wvm_acct *acct)
{
    o->committed = acct->committed;
    o->reserved = acct->reserved;
    o->foreign = acct->foreign;
}

void *wvm__owned_alloc(void *addr, size_t size, uint32_t type, uint32_t prot, wvm_owned *o)
{
    wvm_acct acct = {.owner = o->owner, .max_commit = o->max_commit, .credit = o->credit};
    report(o, &acct);
    bool in_place = addr && !(type & (WVM_MEM_RESERVE | WVM_MEM_RESET | WVM_MEM_RESET_UNDO));
    if (!o->owner || (in_place && type != WVM_MEM_COMMIT))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    void *p = wvm__virtual_alloc(addr, size, type, prot, -1, &acct);
    report(o, &acct);
    return p;
}

int wvm__owned_free(void *addr, size_t size, uint32_t type, wvm_owned *o)
{
    wvm_acct acct = {.owner = o->owner};
    report(o, &acct);
    uintptr_t a = (uintptr_t)addr;
    uint32_t err;
    if (!o->owner || !a || a > wvm__max_app_address())
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    if (type == WVM_MEM_RELEASE && !size) {
        err = wvm__range_release(a & ~PAGE_MASK, &acct);
        if (err == WVM_ERROR_INVALID_ADDRESS && !acct.foreign)
            err = WVM_ERROR_INVALID_PARAMETER; /* inside an owned allocation, not at its base */
    } else if (type == WVM_MEM_DECOMMIT) {
        err = wvm__virtual_decommit(a, size, &acct);
    } else {
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    }
    wvm__after_call();
    report(o, &acct);
    return err ? WVM_FAIL(err, 0) : 1;
}

typedef struct {
    uintptr_t owner, *bases;
    size_t n, cap;
    bool short_of_memory;
} owned_list;

static void collect(wvm_alloc *a, void *ctx)
{
    owned_list *l = ctx;
    if (wvm__alloc_owner(a) != l->owner)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        uintptr_t *b = wvm__meta_realloc(l->bases, l->cap * sizeof *b, cap * sizeof *b);
        if (!b) {
            l->short_of_memory = true;
            return;
        }
        l->bases = b;
        l->cap = cap;
    }
    wvm__ebr_enter(); /* the snapshot read here stays valid */
    const wvm_snap *s = wvm__alloc_visible(a);
    if (s)
        l->bases[l->n++] = s->base;
    wvm__ebr_exit();
}

void wvm__owned_release_all(uintptr_t owner, uint64_t *committed, uint64_t *reserved)
{
    bool again = true;
    while (again) { /* a list cut short by memory: release what it holds, then look again */
        owned_list l = {.owner = owner};
        wvm__space_each(collect, &l);
        for (size_t i = 0; i < l.n; i++) {
            wvm_owned o = {.owner = owner};
            if (wvm__owned_free((void *)l.bases[i], 0, WVM_MEM_RELEASE, &o)) {
                *committed += o.committed;
                *reserved += o.reserved;
            }
        }
        again = l.short_of_memory && l.n > 0;
        wvm__meta_free(l.bases, l.cap * sizeof *l.bases);
    }
}

struct wvm_credit *wvm__owned_credit_new(void)
{
    return wvm__credit_new();
}

uint64_t wvm__owned_credit_take(struct wvm_credit *c)
{
    return c ? wvm__credit_take(c) : 0;
}

void wvm__owned_credit_drop(struct wvm_credit *c)
{
    if (c)
        wvm__credit_unref(c);
}
