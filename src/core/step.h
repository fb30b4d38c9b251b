/* The kernel steps of a page operation (core/pages.c plans them, core/deferred.c keeps some
 * for later): one system call over [addr, addr+len) each, with the call that undoes it.
 * Which steps run before a change is published and which after is the planner's business;
 * a step only knows how to run and how to take itself back. */
#ifndef WVM_STEP_H
#define WVM_STEP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    /* stashed pages back over their markers (write-protected when prot is non-zero); undone by
     * stashing them again */
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

void wvm__steps_init(wvm_steps *l);
void wvm__steps_free(wvm_steps *l);
/* Appends s, or extends the last step when s continues it (same kind and protections,
 * adjacent: one system call). 0 or ENOMEM. */
int wvm__steps_push(wvm_steps *l, wvm_step s);

/* Runs one step: 0 or the errno of its system call. A data-dropping step refused with
 * EINVAL (mlocked pages the model holds unlocked: an mlock undone half way) is retried once
 * after munlock. */
int wvm__step_run(const wvm_step *s);
/* Takes a step that ran back (best effort; a data-dropping step cannot be). */
void wvm__step_undo(const wvm_step *s);
/* Runs the n steps in order; when one fails, undoes those that ran, last first, and returns
 * its errno. */
int wvm__steps_run(const wvm_step *s, size_t n);
#endif
