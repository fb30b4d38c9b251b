/* The kernel steps of a page operation (core/pages.c plans them, core/deferred.c keeps some
 * for later): one system call over [addr, addr+len) each, with the call that undoes it.
 * Which steps run before a change is published and which after is the planner's business;
 * a step only knows how to run and how to take itself back. */
#ifndef WVM_STEP_H
#define WVM_STEP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prim/linux/prim.h"

enum wvm_step_kind {
    WVM_STEP_PROTECT,       /* mprotect to prot; undone by mprotect to undo_prot */
    WVM_STEP_GUARD_REMOVE,  /* guard markers off; undone by installing them again */
    WVM_STEP_GUARD_INSTALL, /* guard markers on: drops the pages' data (no undo) */
    WVM_STEP_DISCARD,       /* MADV_DONTNEED: drops the pages' data (no undo) */
    WVM_STEP_UNLOCK,        /* munlock; undone by a lock that writes nothing */
    /* userfaultfd write-protect on / off (core/wp.h): the pages stay in their read-write
     * mapping; undone by the opposite call. Set takes write access away, clear grants it. */
    WVM_STEP_WP_SET,
    WVM_STEP_WP_CLEAR,
    /* write watch on userfaultfd (core/ww.h): fresh pages start "not written" (their record
     * is the kernel's write-protect bit); no undo (the pages go back to uncommitted, whose
     * record nothing reads) */
    WVM_STEP_WW_ARM,
    /* a guard marker over pages that hold zeros (core/mark.h): undone by removing it, and
     * write-protecting the pages again when undo_prot is non-zero */
    WVM_STEP_MARK,
    /* the data of pages about to be marked copied aside (core/stash.h); undone by dropping
     * the copy */
    WVM_STEP_STASH,
    /* guard markers over pages whose data was copied aside; undone by putting the data back
     * over them (write-protected when undo_prot is non-zero) */
    WVM_STEP_STASH_MARK,
    /* stashed pages back over their markers (write-protected when prot is non-zero) in a
     * mapping of protection undo_prot; undone by stashing them again (wvm__stash_put_back) */
    WVM_STEP_UNSTASH,
    /* the stash pages of decommitted pages dropped (no undo; never fails) */
    WVM_STEP_STASH_DROP
};

typedef struct wvm_step {
    uintptr_t addr;
    size_t len;
    enum wvm_step_kind kind;
    int prot;      /* WVM_STEP_PROTECT: the new protection */
    int undo_prot; /* WVM_STEP_PROTECT: the protection to restore; WVM_STEP_MARK: see there */
} wvm_step;

/* A growing list of steps: the first WVM_STEPS_INLINE in place, more from core/meta. */
enum { WVM_STEPS_INLINE = 4 };
typedef struct wvm_steps {
    wvm_step *s;
    size_t n, cap;
    wvm_step inline_s[WVM_STEPS_INLINE];
} wvm_steps;

/* The list and the common steps are inline: a page operation plans and runs a few steps, and
 * a call per step and per list showed in callgrind (about 1 % of a one-page commit). */
static inline void wvm__steps_init(wvm_steps *l)
{
    l->s = l->inline_s;
    l->n = 0;
    l->cap = WVM_STEPS_INLINE;
}

void wvm__steps_free_grown(wvm_steps *l);
static inline void wvm__steps_free(wvm_steps *l)
{
    if (l->s != l->inline_s)
        wvm__steps_free_grown(l);
}

int wvm__steps_push_grow(wvm_steps *l, wvm_step s);
/* Appends s, or extends the last step when s continues it (same kind and protections,
 * adjacent: one system call). 0 or ENOMEM. */
static inline int wvm__steps_push(wvm_steps *l, wvm_step s)
{
    if (l->n) {
        wvm_step *last = &l->s[l->n - 1];
        if (last->kind == s.kind && last->prot == s.prot && last->undo_prot == s.undo_prot &&
            last->addr + last->len == s.addr) {
            last->len += s.len;
            return 0;
        }
    }
    if (l->n == l->cap)
        return wvm__steps_push_grow(l, s);
    l->s[l->n++] = s;
    return 0;
}

int wvm__step_run_other(const wvm_step *s);
/* Runs one step: 0 or the errno of its system call. A data-dropping step refused with
 * EINVAL (mlocked pages the model holds unlocked: an mlock undone half way) is retried once
 * after munlock. */
static inline int wvm__step_run(const wvm_step *s)
{
    if (s->kind == WVM_STEP_PROTECT)
        return wvm__prim_protect((void *)s->addr, s->len, s->prot);
    if (s->kind == WVM_STEP_GUARD_REMOVE)
        return wvm__prim_guard_remove((void *)s->addr, s->len);
    return wvm__step_run_other(s);
}

/* Takes a step that ran back (best effort; a data-dropping step cannot be). */
void wvm__step_undo(const wvm_step *s);
/* Undoes s[0..done), last first; returns err (step done failed with it). */
int wvm__steps_run_undo(const wvm_step *s, size_t done, int err);
/* Runs the n steps in order; when one fails, undoes those that ran, last first, and returns
 * its errno. */
static inline int wvm__steps_run(const wvm_step *s, size_t n)
{
    for (size_t done = 0; done < n; done++) {
        int err = wvm__step_run(&s[done]);
        if (err)
            return wvm__steps_run_undo(s, done, err);
    }
    return 0;
}
#endif
