/* Files behind sections, their mappings, and the per-user directory of named sections. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <winvmem/stats.h>

#include "prim/linux/prim.h"
#include "prim/linux/section.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1u
#endif

static int err_or(int ret)
{
    return ret < 0 ? errno : 0;
}

int wvm__prim_fd_info(int fd, wvm_fdinfo *out)
{
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fstat(fd, &st))
        return errno;
    out->regular = S_ISREG(st.st_mode);
    out->size = out->regular ? (uint64_t)st.st_size : 0;
    int mode = fl & O_ACCMODE;
    out->readable = mode == O_RDONLY || mode == O_RDWR;
    out->writable = mode == O_WRONLY || mode == O_RDWR;
    out->dev = (uint64_t)st.st_dev;
    out->ino = (uint64_t)st.st_ino;
    /* Windows asks for FILE_EXECUTE on the handle; Linux has no such open mode, so the file
     * must be executable by the caller (the x bit, checked through the descriptor itself)
     * and its mount must not be noexec (mmap PROT_EXEC fails there). */
    struct statvfs vfs;
    out->executable = out->regular && !faccessat(fd, "", X_OK, AT_EMPTY_PATH | AT_EACCESS) &&
                      !fstatvfs(fd, &vfs) && !(vfs.f_flag & ST_NOEXEC);
    return 0;
}

int wvm__prim_fd_dup(int fd, int *out)
{
    int err = wvm__prim_fallible(WVM_SYS_OTHER);
    if (err)
        return err;
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0)
        return errno;
    *out = d;
    return 0;
}

int wvm__prim_fd_grow(int fd, uint64_t size)
{
    struct stat st;
    int err = wvm__prim_fallible(WVM_SYS_OTHER);
    if (err)
        return err;
    if (fstat(fd, &st))
        return errno;
    if ((uint64_t)st.st_size >= size)
        return 0;
    return err_or(ftruncate(fd, (off_t)size));
}

/* A new file f (or -1 with errno) of size bytes into *fd; a size too large is ENOMEM. */
static int sized(int f, uint64_t size, int *fd)
{
    if (f < 0)
        return errno;
    if (ftruncate(f, (off_t)size)) {
        int err = errno;
        close(f);
        return err == EFBIG || err == EINVAL ? ENOMEM : err;
    }
    *fd = f;
    return 0;
}

int wvm__prim_memfd_section(uint64_t size, int *fd)
{
    int err = wvm__prim_fallible(WVM_SYS_OTHER);
    return err ? err : sized(memfd_create("winvmem-section", MFD_CLOEXEC), size, fd);
}

static int linux_mprot(int prot)
{
    return (prot & WVM_P_READ ? PROT_READ : 0) | (prot & WVM_P_WRITE ? PROT_WRITE : 0) |
           (prot & WVM_P_EXEC ? PROT_EXEC : 0);
}

int wvm__prim_map_fd(void *addr, size_t len, int prot, bool shared, int fd, uint64_t off)
{
    int err = wvm__prim_fallible(WVM_SYS_MMAP);
    if (err)
        return err;
    int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED;
    void *p = mmap(addr, len, linux_mprot(prot), flags, fd, (off_t)off);
    return p == MAP_FAILED ? errno : 0;
}

int wvm__prim_map_fd_any(size_t len, int fd, uint64_t off, void **out)
{
    int err = wvm__prim_fallible(WVM_SYS_MMAP);
    if (err)
        return err;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
    if (p == MAP_FAILED)
        return errno;
    *out = p;
    return 0;
}

int wvm__prim_msync(void *addr, size_t len)
{
    int err = wvm__prim_fallible(WVM_SYS_OTHER);
    if (err)
        return err;
    return err_or(msync(addr, len, MS_SYNC));
}

int wvm__prim_restore_idle(void *addr, size_t len, bool guarded)
{
    int err = wvm__prim_fallible(WVM_SYS_MMAP);
    if (err)
        return err;
    const int anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (mmap(addr, len, PROT_NONE, anon | MAP_FIXED, -1, 0) == MAP_FAILED)
        return errno;
    if (!guarded)
        return 0;
    /* The arena's read-write with guard markers, made in place and inaccessible at every
     * step, so that the kernel merges it back into the arena's mapping around it (a mapping
     * moved in by mremap keeps its own offset and anon_vma and never merges: one kernel
     * mapping more for every address a view ever had). */
    if (!(err = wvm__prim_fallible(WVM_SYS_MADVISE)) &&
        !(err = err_or(madvise(addr, len, MADV_GUARD_INSTALL))) &&
        !(err = wvm__prim_fallible(WVM_SYS_MPROTECT)) &&
        !(err = err_or(mprotect(addr, len, PROT_READ | PROT_WRITE))))
        return 0;
    /* Else the range is still inaccessible (PROT_NONE, perhaps some markers): the whole of it
     * replaced at once by a mapping of its own. Guard markers are page-table entries that
     * mremap carries along (checked on 6.18). */
    if ((err = wvm__prim_fallible(WVM_SYS_MMAP)))
        return err;
    void *scratch = mmap(NULL, len, PROT_READ | PROT_WRITE, anon, -1, 0);
    if (scratch == MAP_FAILED)
        return errno;
    if ((err = wvm__prim_fallible(WVM_SYS_MADVISE)) ||
        (err = err_or(madvise(scratch, len, MADV_GUARD_INSTALL))) ||
        (err = wvm__prim_fallible(WVM_SYS_MMAP))) {
        munmap(scratch, len);
        return err;
    }
    if (mremap(scratch, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, addr) == MAP_FAILED) {
        err = errno;
        munmap(scratch, len);
        return err;
    }
    return 0;
}

int wvm__prim_pages_copied(uintptr_t start, uint64_t npages, uint64_t *out)
{
    enum { BATCH = 512 };
    uint64_t e[BATCH];
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    for (uint64_t i = 0; i < (npages + 63) / 64; i++)
        out[i] = 0;
    for (uint64_t done = 0; done < npages;) {
        uint64_t n = npages - done < BATCH ? npages - done : BATCH;
        off_t at = (off_t)((start / 4096 + done) * sizeof e[0]);
        ssize_t got = pread(fd, e, n * sizeof e[0], at);
        if (got <= 0) {
            int err = got < 0 ? errno : EIO;
            close(fd);
            return err;
        }
        n = (uint64_t)got / sizeof e[0];
        for (uint64_t i = 0; i < n; i++) {
            bool present = e[i] >> 63 & 1, swapped = e[i] >> 62 & 1, file = e[i] >> 61 & 1;
            if ((present && !file) || swapped)
                out[(done + i) / 64] |= (uint64_t)1 << ((done + i) % 64);
        }
        done += n;
    }
    close(fd);
    return 0;
}

/* ---- named sections ----------------------------------------------------------------------- */

/* prefix followed by v in decimal, NUL-terminated: no stdio, so that a vectored handler may
 * create a named section (fault.h). */
static void with_number(char *buf, const char *prefix, unsigned long v)
{
    size_t n = strlen(prefix);
    char digits[24];
    int k = 0;
    memcpy(buf, prefix, n);
    do
        digits[k++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (k)
        buf[n++] = digits[--k];
    buf[n] = 0;
}

static pthread_once_t dir_once = PTHREAD_ONCE_INIT;
static int dir_fd = -1, dir_err;

static void open_dir(void)
{
    char path[64];
    uid_t uid = geteuid();
    with_number(path, "/dev/shm/winvmem-", (unsigned long)uid);
    if (mkdir(path, 0700) && errno != EEXIST) {
        dir_err = errno;
        return;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        dir_err = errno == ELOOP || errno == ENOTDIR ? EACCES : errno;
        return;
    }
    /* someone else's directory, or one others can enter, is refused rather than repaired; one
     * of ours that only we may enter gets mode 0700 (a umask like 0277 at its making left it
     * 0500, which would keep every process of the user from making files there for good) */
    if (fstat(fd, &st) || st.st_uid != uid || (st.st_mode & 077) ||
        ((st.st_mode & 0777) != 0700 && fchmod(fd, 0700))) {
        dir_err = EACCES;
        close(fd);
        return;
    }
    dir_fd = fd;
}

int wvm__prim_shm_dir(int *dirfd)
{
    pthread_once(&dir_once, open_dir);
    if (dir_fd < 0)
        return dir_err ? dir_err : EACCES;
    *dirfd = dir_fd;
    return 0;
}

int wvm__prim_shm_tmp(int dirfd, uint64_t size, int *fd)
{
    int err = wvm__prim_fallible(WVM_SYS_OTHER);
    if (err)
        return err;
    int f = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    /* 0600 whatever the umask: the user's other processes open it read-write */
    if (f >= 0 && fchmod(f, 0600)) {
        err = errno;
        close(f);
        return err;
    }
    return sized(f, size, fd);
}

int wvm__prim_shm_link(int dirfd, int fd, const char *name)
{
    char self[48];
    int err = wvm__prim_fallible(WVM_SYS_OTHER);
    if (err)
        return err;
    /* linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc path does not */
    with_number(self, "/proc/self/fd/", (unsigned long)fd);
    return err_or(linkat(AT_FDCWD, self, dirfd, name, AT_SYMLINK_FOLLOW));
}

int wvm__prim_shm_open(int dirfd, const char *name, int *fd)
{
    int err = wvm__prim_fallible(WVM_SYS_OTHER);
    if (err)
        return err;
    int f = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (f < 0)
        return errno == ELOOP ? EACCES : errno;
    if (fstat(f, &st) || st.st_uid != geteuid() || !S_ISREG(st.st_mode)) {
        close(f);
        return EACCES;
    }
    *fd = f;
    return 0;
}

int wvm__prim_shm_unlink(int dirfd, const char *name)
{
    return err_or(unlinkat(dirfd, name, 0));
}

int wvm__prim_flock(int fd, bool excl, bool wait)
{
    int op = (excl ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
    for (;;) {
        if (!flock(fd, op))
            return 0;
        if (errno != EINTR)
            return errno;
    }
}

int wvm__prim_funlock(int fd)
{
    return err_or(flock(fd, LOCK_UN));
}

int wvm__prim_fd_path(int fd, char *buf, size_t cap)
{
    char self[48];
    with_number(self, "/proc/self/fd/", (unsigned long)fd);
    ssize_t n = readlink(self, buf, cap);
    if (n < 0)
        return errno;
    if ((size_t)n >= cap)
        return ENAMETOOLONG;
    buf[n] = 0;
    return 0;
}

/* Opens path (a /proc magic link or a path) as the file (dev, ino) only: first an O_PATH
 * descriptor, which opens nothing (no open of a device or a FIFO with its side effects, no
 * inotify IN_OPEN, no lease broken), checked to be that regular file; then that very inode
 * reopened through /proc/self/fd with the mode asked, the kernel checking the file's
 * permissions for this process. EACCES when it is another file. */
static int open_checked(const char *path, bool write, uint64_t dev, uint64_t ino, int *out)
{
    char self[48];
    struct stat st;
    int err = wvm__prim_fallible(WVM_SYS_OTHER);
    if (err)
        return err;
    int p = open(path, O_PATH | O_CLOEXEC);
    if (p < 0)
        return errno;
    if (fstat(p, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_dev != dev ||
        (uint64_t)st.st_ino != ino) {
        close(p);
        return EACCES;
    }
    with_number(self, "/proc/self/fd/", (unsigned long)p);
    /* O_NONBLOCK: a lease another process holds fails the open rather than waiting on it */
    int f = open(self, (write ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    err = f < 0 ? errno : 0;
    close(p);
    if (err)
        return err == EWOULDBLOCK ? EACCES : err;
    int fl = fcntl(f, F_GETFL);
    if (fl >= 0)
        fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
    *out = f;
    return 0;
}

int wvm__prim_open_held(long pid, int fd, bool write, uint64_t dev, uint64_t ino, int *out)
{
    char path[64], prefix[32];
    with_number(prefix, "/proc/", (unsigned long)pid);
    size_t n = strlen(prefix);
    memcpy(prefix + n, "/fd/", 5);
    with_number(path, prefix, (unsigned long)fd);
    return open_checked(path, write, dev, ino, out);
}

int wvm__prim_open_path(const char *path, bool write, uint64_t dev, uint64_t ino, int *out)
{
    return open_checked(path, write, dev, ino, out);
}

int wvm__prim_fd_reopen(int fd, int *out)
{
    char self[48];
    with_number(self, "/proc/self/fd/", (unsigned long)fd);
    int f = open(self, O_RDWR | O_CLOEXEC);
    if (f < 0)
        return errno;
    *out = f;
    return 0;
}

int wvm__prim_fd_move(int from, int to)
{
    int err = dup3(from, to, O_CLOEXEC) < 0 ? errno : 0;
    close(from);
    return err;
}

bool wvm__prim_pid_alive(long pid)
{
    return pid > 0 && (!kill((pid_t)pid, 0) || errno == EPERM);
}

int wvm__prim_fd_linked(int fd, bool *linked)
{
    struct stat st;
    if (fstat(fd, &st))
        return errno;
    *linked = st.st_nlink > 0;
    return 0;
}
