/* Writes to out-parameters, probed as Windows probes them: a pointer the caller may not write
 * gives ERROR_NOACCESS instead of a crash. The common cases (the calling thread's stack, a
 * committed writable winvmem page) are plain stores; anything else goes through the kernel. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "api/api.h"
#include "core/meta.h"
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

static bool writable_page(uintptr_t page)
{
    wvm_MEMORY_BASIC_INFORMATION m;
    if (!wvm__space_query_quick(page, &m) || m.State != WVM_MEM_COMMIT)
        return false;
    uint32_t p = m.Protect & 0xFFu;
    return !(m.Protect & WVM_PAGE_GUARD) &&
           (p == WVM_PAGE_READWRITE || p == WVM_PAGE_EXECUTE_READWRITE);
}

static bool plainly_writable(void *dst, size_t n)
{
    uintptr_t p = (uintptr_t)dst;
    if (!n || on_own_stack(p, n))
        return true;
    uintptr_t first = p & ~(uintptr_t)(WVM_PAGE - 1),
              last = (p + n - 1) & ~(uintptr_t)(WVM_PAGE - 1);
    return p + n > p && writable_page(first) && (last == first || writable_page(last));
}

bool wvm__user_write(void *dst, const void *src, size_t n)
{
    if (plainly_writable(dst, n)) {
        memcpy(dst, src, n);
        return true;
    }
    int err = wvm__prim_self_write(dst, src, n);
    if (err == ENOSYS || err == EPERM) { /* process_vm_* forbidden (seccomp): store plainly */
        memcpy(dst, src, n);
        return true;
    }
    return err == 0;
}

bool wvm__user_probe(void *dst, size_t n)
{
    if ((uintptr_t)dst + n < (uintptr_t)dst)
        return false;
    if (n <= WVM_PAGE && plainly_writable(dst, n))
        return true;
    /* read a byte of each page and write it back: writable, and left as it was */
    int err = wvm__prim_self_touch(dst, n);
    return !err || err == ENOSYS || err == EPERM;
}
