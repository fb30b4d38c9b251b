/* Out-parameters, probed as Windows probes them: a pointer the caller may not write (or read)
 * gives ERROR_NOACCESS instead of a crash, also when another thread decommits or protects the
 * memory while winvmem writes it. The calling thread's stack is written plainly (no other
 * thread can take it away); a winvmem page the model says allows the access through the
 * fault-tolerant copy (prim/linux/usercopy.c: a fault ends the copy, not the process, and a
 * write-watch fallback page records the write as any store would); anything else through the
 * kernel (process_vm_readv/writev). */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "api/api.h"
#include "core/fork.h"
#include "core/meta.h"
#include "core/query.h"
#include "fault/fault.h"
#include "prim/linux/prim.h"

static WVM_THREAD uintptr_t stack_lo, stack_hi; /* 0, 0: not known yet */

static bool on_own_stack(uintptr_t p, size_t n)
{
    if (!stack_hi && wvm__in_signal())
        return false; /* pthread_getattr_np allocates: the kernel path answers this time */
    if (!stack_hi) {
        pthread_attr_t attr;
        void *addr;
        size_t size;
        stack_hi = 1; /* unknown for good if the query fails */
        if (!pthread_getattr_np(pthread_self(), &attr)) {
            if (!pthread_attr_getstack(&attr, &addr, &size)) {
                stack_lo = (uintptr_t)addr;
                stack_hi = (uintptr_t)addr + size;
            }
            pthread_attr_destroy(&attr);
        }
    }
    /* below the stack pointer is not ours to trust (guard gap, unmapped) */
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    return p >= stack_lo && p >= sp - 65536 && p + n <= stack_hi && p + n >= p;
}

/* The forking thread learns its stack bounds before the fork, so that its child never calls
 * pthread_getattr_np (it allocates; an allocator without fork handlers, such as ASan's, may be
 * locked by a parent thread that does not exist in the child). */
static void learn_stack_before_fork(enum wvm_fork_phase phase)
{
    if (phase == WVM_FORK_PREPARE)
        (void)on_own_stack(0, 0);
}

__attribute__((constructor)) static void register_stack_learning(void)
{
    wvm__fork_register(WVM_FORK_RANK_SECTIONS, learn_stack_before_fork);
}

/* Whether the model says page is committed and allows the access (winvmem's pages only). */
static bool model_allows(uintptr_t page, bool write)
{
    wvm_MEMORY_BASIC_INFORMATION m;
    if (!wvm__query_owned(page, &m) || m.State != WVM_MEM_COMMIT || (m.Protect & WVM_PAGE_GUARD))
        return false;
    uint32_t p = m.Protect & 0xFFu;
    if (write)
        return p == WVM_PAGE_READWRITE || p == WVM_PAGE_EXECUTE_READWRITE;
    return p != WVM_PAGE_NOACCESS;
}

/* [p, p+n) starts and ends in winvmem pages that allow the access (the pages between are
 * left to the copy, which fails on any it may not touch). */
static bool in_model(uintptr_t p, size_t n, bool write)
{
    uintptr_t first = p & ~(uintptr_t)(WVM_PAGE - 1),
              last = (p + n - 1) & ~(uintptr_t)(WVM_PAGE - 1);
    return p + n > p && model_allows(first, write) && (last == first || model_allows(last, write));
}

/* A copy in which a fault is an error. Without a tolerant copy on this machine, a plain one
 * (the page was accessible a moment ago; only a racing decommit can make it fault). */
static bool copy_tolerant(void *dst, const void *src, size_t n)
{
    if (wvm__prim_user_copy_available() && !wvm__fault_init())
        return !wvm__prim_user_copy(dst, src, n);
    memcpy(dst, src, n);
    return true;
}

static bool transfer(void *dst, const void *src, size_t n, bool write)
{
    uintptr_t user = (uintptr_t)(write ? dst : src);
    if (!n || on_own_stack(user, n)) {
        memcpy(dst, src, n);
        return true;
    }
    if (in_model(user, n, write))
        return copy_tolerant(dst, src, n);
    int err = write ? wvm__prim_self_write(dst, src, n) : wvm__prim_self_read(dst, src, n);
    if (err == ENOSYS || err == EPERM) { /* process_vm_* forbidden (seccomp): plainly */
        memcpy(dst, src, n);
        return true;
    }
    return err == 0;
}

bool wvm__user_write(void *dst, const void *src, size_t n)
{
    return transfer(dst, src, n, true);
}

bool wvm__user_read(void *dst, const void *src, size_t n)
{
    return transfer(dst, src, n, false);
}

bool wvm__user_probe(void *dst, size_t n)
{
    uintptr_t p = (uintptr_t)dst;
    if (p + n < p)
        return false;
    if (!n || on_own_stack(p, n) || (n <= WVM_PAGE && in_model(p, n, true)))
        return true;
    /* read a byte of each page and write it back: writable, and left as it was */
    int err = wvm__prim_self_touch(dst, n);
    return !err || err == ENOSYS || err == EPERM;
}
