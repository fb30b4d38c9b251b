/* Forced writes through /proc/self/mem: the kernel writes with FOLL_FORCE, as a debugger
 * setting a breakpoint does, so a private page the program may not write (read-only, PROT_NONE)
 * is written while its protection stays what it is for every thread. MEM_RESET_UNDO pins pages
 * this way (core/reset.c); making them writable around a write of its own would let a racing
 * write of the program through.
 *
 * What the kernel does (read in mm/gup.c, mm/memory.c, fs/proc/base.c; checked on 6.18 by
 * tests/api/test_reset.c):
 * - a forced write to a private anonymous page that is present and mapped only by this process
 *   takes no page fault (GUP follows the read-only entry: can_follow_write_pte) and marks the
 *   folio dirty, so reclaim no longer drops it after MADV_FREE;
 * - a page the kernel dropped is faulted in again, and GUP's faults count in the calling
 *   thread's fault counters (mm_account_fault) like its own;
 * - Linux >= 6.12 can refuse forced writes (proc_mem.force_override=never,
 *   CONFIG_PROC_MEM_NO_FORCE): the write then fails (EIO), and so does the probe here.
 * The descriptor speaks for the process that opened it (wvm_self_fd). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <winvmem/stats.h>

#include "prim/options.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_residency.h"
#include "prim/linux/sysfiles.h"

static wvm_self_fd mem = WVM_SELF_FD_INIT;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool forced_ok;

/* This process's /proc/self/mem, or -1 (errno set). */
static int self_mem(void)
{
    return wvm__sysfiles_self_fd(&mem, "/proc/self/mem", O_RDWR);
}

void wvm__prim_selfmem_fork(int phase)
{
    wvm__prim_fork_lock(&mem.lock, phase);
}

static int transfer(int fd, void *buf, size_t n, uintptr_t at, bool write)
{
    while (n) {
        /* syscall(): a sanitizer's interceptor would look at its shadow of the range first,
         * and the page fault of a first look would count as a page the kernel dropped */
        long got = syscall(write ? SYS_pwrite64 : SYS_pread64, fd, buf, n, (off_t)at);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? errno : EIO;
        buf = (char *)buf + got;
        at += (uintptr_t)got;
        n -= (size_t)got;
    }
    return 0;
}

/* A forced write through /proc/self/mem into a read-only page. */
static int write_read_only(char *p, void *unused)
{
    (void)unused;
    p[0] = 1;
    int fd = self_mem();
    if (fd < 0 || mprotect(p, 4096, PROT_READ))
        return errno;
    return transfer(fd, p, 1, (uintptr_t)p, true);
}

static void probe(void)
{
    int err = wvm__prim_probe_scratch(4096, write_read_only, NULL);
    forced_ok = !err && wvm__option(WVM_OPT_PROC_MEM);
    wvm__mech_record(WVM_MECH_PROC_MEM, err, err || forced_ok ? NULL : "WINVMEM_PROC_MEM=0");
}

bool wvm__prim_forced_available(void)
{
    pthread_once(&once, probe);
    return forced_ok;
}

int wvm__prim_forced_rewrite(void *addr, size_t len, bool readable)
{
    if (!wvm__prim_forced_available())
        return ENOSYS;
    int fd = self_mem();
    if (fd < 0)
        return errno;
    if (readable) /* the kernel reads the source as the program would: the pages themselves */
        return transfer(fd, addr, len, (uintptr_t)addr, true);
    for (uintptr_t p = (uintptr_t)addr, end = p + len; p < end; p += 4096) {
        unsigned char b;
        int err = transfer(fd, &b, 1, p, false);
        if (err || (err = transfer(fd, &b, 1, p, true)))
            return err;
    }
    return 0;
}
