/* Copies between this process and memory the caller named, through the kernel: an address
 * that is unmapped, read-only, PROT_NONE or a guard marker gives EFAULT instead of a fault.
 * Windows probes out-parameters the same way (ERROR_NOACCESS, no exception). */
#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#include "prim/linux/prim.h"

static int transfer(void *local, void *remote, size_t n, bool write)
{
    struct iovec l = {local, n}, r = {remote, n};
    for (;;) {
        ssize_t got = write ? process_vm_writev(getpid(), &l, 1, &r, 1, 0)
                            : process_vm_readv(getpid(), &l, 1, &r, 1, 0);
        if (got == (ssize_t)n)
            return 0;
        if (got < 0 && errno == EINTR)
            continue;
        return got < 0 ? errno : EFAULT; /* a short copy: the rest is not accessible */
    }
}

int wvm__prim_self_write(void *dst, const void *src, size_t n)
{
    return transfer((void *)src, dst, n, true);
}

int wvm__prim_self_read(void *dst, const void *src, size_t n)
{
    return transfer(dst, (void *)src, n, false);
}

/* Reads one byte of every page of [dst, dst+n) and writes it back, up to 512 pages a call:
 * the range is readable and writable, and unchanged (short of a racing writer). */
int wvm__prim_self_touch(void *dst, size_t n)
{
    enum { BATCH = 512 };
    unsigned char keep[BATCH];
    struct iovec local = {keep, 0}, remote[BATCH];
    uintptr_t p = (uintptr_t)dst, end = p + n;
    while (p < end) {
        size_t k = 0;
        for (; k < BATCH && p < end; k++) {
            remote[k] = (struct iovec){(void *)p, 1};
            p = (p | 4095) + 1;
        }
        local.iov_len = k;
        ssize_t got = process_vm_readv(getpid(), &local, 1, remote, k, 0);
        if (got == (ssize_t)k)
            got = process_vm_writev(getpid(), &local, 1, remote, k, 0);
        if (got != (ssize_t)k)
            return got < 0 ? errno : EFAULT;
    }
    return 0;
}
