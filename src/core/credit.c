/* Credit records (credit.h): a reference count and an atomic sum. */
#include "core/credit.h"
#include "core/meta.h"

wvm_credit *wvm__credit_new(void)
{
    wvm_credit *c = wvm__meta_zalloc(sizeof *c);
    if (c)
        atomic_init(&c->refs, 1);
    return c;
}

void wvm__credit_ref(wvm_credit *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void wvm__credit_unref(wvm_credit *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        wvm__meta_free(c, sizeof *c);
}

void wvm__credit_give(wvm_credit *c, uint64_t bytes)
{
    atomic_fetch_add_explicit(&c->bytes, bytes, memory_order_release);
}

uint64_t wvm__credit_take(wvm_credit *c)
{
    if (!atomic_load_explicit(&c->bytes, memory_order_relaxed))
        return 0;
    return atomic_exchange_explicit(&c->bytes, 0, memory_order_acquire);
}
