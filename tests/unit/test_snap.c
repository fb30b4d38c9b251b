#include <criterion/criterion.h>

#include "core/snap.h"

static uint32_t set_to(uint32_t old, void *ctx)
{
    (void)old;
    return *(uint32_t *)ctx;
}

Test(snap, map_splits_and_merges)
{
    wvm_snap *s = wvm__snap_new(0x10000, 16 * 4096, 4, 0);
    uint32_t rw = 4, ro = 2, none = 0;
    wvm_snap *t = wvm__snap_map(s, 2, 3, set_to, &rw);
    cr_assert_eq(t->nruns, 3);
    cr_expect_eq(t->committed, 3);
    wvm_snap *u = wvm__snap_map(t, 3, 1, set_to, &ro);
    cr_assert_eq(u->nruns, 5);
    wvm_snap *v = wvm__snap_map(u, 3, 1, set_to, &rw);
    cr_expect_eq(v->nruns, 3);
    wvm_snap *w = wvm__snap_map(v, 0, 16, set_to, &none);
    cr_expect_eq(w->nruns, 1);
    cr_expect_eq(w->committed, 0);
    cr_expect_eq(wvm__snap_find(u, 3), 2);
    cr_expect_eq(wvm__snap_run_end(u, 2), 4);
    wvm__snap_free(s);
    wvm__snap_free(t);
    wvm__snap_free(u);
    wvm__snap_free(v);
    wvm__snap_free(w);
}
