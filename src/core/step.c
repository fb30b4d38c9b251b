/* Kernel steps of page operations: see step.h. */
#include "core/step.h"

#include <errno.h>

#include "core/meta.h"
#include "core/stash.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_residency.h"
#include "prim/linux/uffd.h"

void wvm__steps_free_grown(wvm_steps *l)
{
    wvm__meta_free(l->s, l->cap * sizeof *l->s);
}

int wvm__steps_push_grow(wvm_steps *l, wvm_step s)
{
    wvm_step *grown = wvm__meta_alloc(2 * l->cap * sizeof *grown);
    if (!grown)
        return ENOMEM;
    for (size_t i = 0; i < l->n; i++)
        grown[i] = l->s[i];
    wvm__steps_free(l);
    l->s = grown;
    l->cap *= 2;
    l->s[l->n++] = s;
    return 0;
}

/* Guard install and MADV_DONTNEED refuse mlocked memory with EINVAL (step.h). */
static int drop_data(int (*drop)(void *, size_t), const wvm_step *s)
{
    int err = drop((void *)s->addr, s->len);
    if (err == EINVAL && !wvm__prim_munlock((void *)s->addr, s->len))
        err = drop((void *)s->addr, s->len);
    return err;
}

int wvm__step_run_other(const wvm_step *s)
{
    switch (s->kind) {
    case WVM_STEP_PROTECT:
    case WVM_STEP_GUARD_REMOVE: /* inline in step.h */
        return wvm__step_run(s);
    case WVM_STEP_GUARD_INSTALL:
        return drop_data(wvm__prim_guard_install, s);
    case WVM_STEP_DISCARD:
        return drop_data(wvm__prim_discard, s);
    case WVM_STEP_UNLOCK:
        return wvm__prim_munlock((void *)s->addr, s->len);
    case WVM_STEP_WP_SET:
    case WVM_STEP_WP_CLEAR:
        return wvm__prim_ro_protect((void *)s->addr, s->len, s->kind == WVM_STEP_WP_SET);
    case WVM_STEP_WW_ARM:
        return wvm__prim_ww_protect((void *)s->addr, s->len);
    case WVM_STEP_MARK:
        return wvm__prim_guard_install((void *)s->addr, s->len);
    case WVM_STEP_STASH:
        return wvm__stash_copy(s->addr, s->len);
    case WVM_STEP_STASH_MARK:
        return wvm__prim_guard_install((void *)s->addr, s->len);
    case WVM_STEP_UNSTASH:
        return wvm__stash_take(s->addr, s->len, s->prot != 0, s->undo_prot);
    case WVM_STEP_STASH_DROP:
        wvm__stash_drop(s->addr, s->len);
        return 0;
    }
    return EINVAL;
}

void wvm__step_undo(const wvm_step *s)
{
    if (s->kind == WVM_STEP_PROTECT)
        wvm__prim_protect((void *)s->addr, s->len, s->undo_prot);
    else if (s->kind == WVM_STEP_GUARD_REMOVE)
        wvm__prim_guard_install((void *)s->addr, s->len);
    else if (s->kind == WVM_STEP_UNLOCK) /* resident before: no write faults (the write watch) */
        wvm__prim_mlock_no_write((void *)s->addr, s->len);
    else if (s->kind == WVM_STEP_WP_SET || s->kind == WVM_STEP_WP_CLEAR)
        wvm__prim_ro_protect_back((void *)s->addr, s->len, s->kind == WVM_STEP_WP_CLEAR);
    else if (s->kind == WVM_STEP_MARK && !wvm__prim_guard_remove((void *)s->addr, s->len) &&
             s->undo_prot)
        wvm__prim_ro_protect_back((void *)s->addr, s->len, true);
    else if (s->kind == WVM_STEP_STASH)
        wvm__stash_drop(s->addr, s->len);
    else if (s->kind == WVM_STEP_STASH_MARK)
        wvm__stash_fill_back(s->addr, s->len, s->undo_prot != 0);
    else if (s->kind == WVM_STEP_UNSTASH)
        wvm__stash_put_back(s->addr, s->len, s->undo_prot);
}

int wvm__steps_run_undo(const wvm_step *s, size_t done, int err)
{
    while (done-- > 0)
        wvm__step_undo(&s[done]);
    return err;
}
