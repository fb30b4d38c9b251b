/* Sections (CreateFileMapping): the files behind them and their mappings. Same contract as
 * prim.h: 0 or a positive errno, nothing from the C heap. Fallible calls are counted and can be
 * failed by fault injection like those of mem.c.
 *
 * Named sections live as files in a per-user directory of /dev/shm ("winvmem-<uid>", mode
 * 0700, owned by the caller, never a symlink): each file is created mode 0600, and its name is
 * a fixed-length hash (core/secname.c), never text from the caller, so no name can reach
 * outside that directory. Liveness across processes uses flock(2): every process holding a
 * handle to a named section holds a shared lock on its file; the last one out (an exclusive
 * lock granted without waiting) unlinks it. Locks die with their process, so a crashed
 * process never keeps a name alive. */
#ifndef WVM_PRIM_SECTION_H
#define WVM_PRIM_SECTION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What winvmem may do with a file descriptor, from its open mode and the file itself. */
typedef struct wvm_fdinfo {
    uint64_t size;     /* bytes (regular files), else 0 */
    bool regular;      /* a regular file (sections need one) */
    bool readable;     /* opened O_RDONLY or O_RDWR */
    bool writable;     /* opened O_WRONLY or O_RDWR */
    bool executable;   /* the caller may execute it and its mount allows PROT_EXEC */
    uint64_t dev, ino; /* the file's identity */
} wvm_fdinfo;

int wvm__prim_fd_info(int fd, wvm_fdinfo *out);
/* A close-on-exec duplicate of fd. */
int wvm__prim_fd_dup(int fd, int *out);
void wvm__prim_fd_close(int fd); /* (defined in pressure.c, shared with the host's hook) */
/* Grows a regular file to size bytes (never shrinks it). */
int wvm__prim_fd_grow(int fd, uint64_t size);

/* An anonymous shared-memory file of size bytes (memfd_create, close-on-exec). */
int wvm__prim_memfd_section(uint64_t size, int *fd);

/* Maps [off, off+len) of fd at addr exactly, replacing what was there (MAP_FIXED), shared or
 * private (copy-on-write). prot: WVM_P_*. */
int wvm__prim_map_fd(void *addr, size_t len, int prot, bool shared, int fd, uint64_t off);
/* Maps [off, off+len) of fd shared and read-write anywhere (a named section's header). */
int wvm__prim_map_fd_any(size_t len, int fd, uint64_t off, void **out);
/* Writes dirty pages of a shared file mapping back (msync MS_SYNC). */
int wvm__prim_msync(void *addr, size_t len);

/* Puts [addr, addr+len) of an arena back to its idle state, replacing a view: guarded
 * (read-write with every page a guard marker, Linux >= 6.13) or PROT_NONE. The range is
 * inaccessible from the first step on: PROT_NONE in place (a failure there leaves the view
 * intact), then, guarded, markers and read-write in place, so that the kernel merges it with
 * the arena's mapping around it; should either fail, a range prepared aside is moved over it
 * with mremap (a mapping of its own). Only when that fails too is the range left PROT_NONE
 * (an error). */
int wvm__prim_restore_idle(void *addr, size_t len, bool guarded);

/* For each of the npages pages at start, whether it is a private copy (a written page of a
 * MAP_PRIVATE file mapping: present and anonymous, or swapped out): bit i of out[i / 64].
 * Pages never written read the file and are not copies. */
int wvm__prim_pages_copied(uintptr_t start, uint64_t npages, uint64_t *out);

/* ---- named sections ----------------------------------------------------------------------- */

/* The per-user directory, opened once (O_PATH-like, close-on-exec) and verified: a directory
 * owned by the caller that only it may enter, made mode 0700 (EACCES otherwise, e.g. another
 * user made it first). */
int wvm__prim_shm_dir(int *dirfd);
/* An unnamed file in the directory (O_TMPFILE, mode 0600) of size bytes. */
int wvm__prim_shm_tmp(int dirfd, uint64_t size, int *fd);
/* Gives the unnamed file fd the name (EEXIST when taken: the caller opens that one). */
int wvm__prim_shm_link(int dirfd, int fd, const char *name);
/* Opens the named file read-write (ENOENT when absent; never follows a symlink; EACCES when
 * another user owns it). */
int wvm__prim_shm_open(int dirfd, const char *name, int *fd);
int wvm__prim_shm_unlink(int dirfd, const char *name);
/* flock: shared or exclusive, waiting or not (EWOULDBLOCK), or unlock (excl ignored). */
int wvm__prim_flock(int fd, bool excl, bool wait);
int wvm__prim_funlock(int fd);
/* Whether the file still has a name (st_nlink > 0). */
int wvm__prim_fd_linked(int fd, bool *linked);

/* Reaching a file another process holds (named file-backed sections, core/section.c): its
 * path as this process sees it (readlink of /proc/self/fd: for an unlinked file the kernel
 * appends " (deleted)"), NUL-terminated in buf of cap bytes (ENAMETOOLONG when it does not fit);
 * a fresh open of another process's descriptor through /proc/<pid>/fd/<fd> (the kernel checks
 * that this process may read that one's state, PTRACE_MODE_READ, and then the file's own
 * permissions for the mode asked, as for any open), or of a path. Both open read-write or
 * read-only the regular file (dev, ino) only: anything else there (another file, a device, a
 * FIFO: a pid reused, a path replaced) is never opened, only looked at (O_PATH), and is EACCES;
 * they never block on a lease. */
int wvm__prim_fd_path(int fd, char *buf, size_t cap);
int wvm__prim_open_held(long pid, int fd, bool write, uint64_t dev, uint64_t ino, int *out);
int wvm__prim_open_path(const char *path, bool write, uint64_t dev, uint64_t ino, int *out);
/* A new open file description of fd's file (a fresh open through /proc/self/fd, read-write,
 * close-on-exec): a flock on it is its own. */
int wvm__prim_fd_reopen(int fd, int *out);
/* Puts descriptor from in to's place (close-on-exec) and closes from. */
int wvm__prim_fd_move(int from, int to);
/* Whether process pid exists (kill(pid, 0): EPERM counts as existing). */
bool wvm__prim_pid_alive(long pid);

/* Fault injection and counting for the calls above (mem.c keeps the counters). */
int wvm__prim_fallible(int kind);
#endif
