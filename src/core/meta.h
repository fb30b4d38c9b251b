/* winvmem's own memory for its bookkeeping (snapshots, index and free-space nodes, descriptors,
 * guard maps, epoch records...). It never calls malloc: a vectored exception handler may call
 * VirtualAlloc/Protect/Free/Query while the faulting thread is inside malloc (fault.h), and
 * glibc's malloc is not reentrant.
 *
 * Size classes, 16-byte granular: 16..128 in steps of 16, then four per power of two up to
 * 16 KiB (160, 192, 224, 256, 320, ...). Blocks of a class are carved from 64 KiB slabs inside
 * 4 MiB segments mapped from the kernel (prim); their memory is never returned, so a racing
 * lock-free reader that still holds a stale pointer reads winvmem memory, never an unmapped
 * page. Requests above 16 KiB get their own mapping (page-aligned, zero-filled), unmapped on
 * free. Blocks are 16-byte aligned.
 *
 * Each thread keeps a small cache of free blocks per class (no lock, no atomic read-modify-
 * write: alloc and free are a few loads and stores); batches move between the caches and one
 * locked list per class. A thread's cache is set up on its first use in normal context and
 * flushed when the thread exits; in signal context a thread without a cache uses the shared
 * lists (setting one up would call pthread_setspecific, which may calloc).
 *
 * Free is sized: pass exactly the size that was asked for (the class is derived from it).
 *
 * Async-signal-safety: every function here may be called from the fault dispatcher's vectored
 * handlers, provided the signal did not interrupt this allocator on the same thread (the
 * dispatcher handles synchronous faults; winvmem never touches caller memory from in here).
 *
 * Fork (core/fork.h, WVM_FORK_RANK_META): the locks are leaves (nothing else is locked while
 * one is held), taken last before a fork and released first after it; the child also gives
 * the caches of the threads that did not survive the fork back to the shared lists. */
#ifndef WVM_META_H
#define WVM_META_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* NULL when the kernel refuses memory. */
void *wvm__meta_alloc(size_t bytes);
/* Zero-filled. */
void *wvm__meta_zalloc(size_t bytes);
/* p may be NULL. bytes: the size given to alloc/zalloc/realloc. */
void wvm__meta_free(void *p, size_t bytes);
/* Like realloc(3) with the old size given; NULL (p untouched) on failure. */
void *wvm__meta_realloc(void *p, size_t old_bytes, size_t bytes);

/* Bytes in blocks handed out (class sizes; pages for large blocks), and bytes mapped from the
 * kernel (segments, large blocks; free blocks and the thread caches' own records included).
 * Approximate while other threads allocate. */
size_t wvm__meta_bytes(void);
size_t wvm__meta_held(void);

/* Size class arithmetic, exposed for tests and for sizing structures to fit a class. */
#define WVM_META_CLASSES   36
#define WVM_META_MAX_SMALL 16384u
unsigned wvm__meta_class(size_t bytes); /* bytes <= WVM_META_MAX_SMALL */
size_t wvm__meta_class_size(unsigned cls);

/* winvmem's thread-local variables. Initial-exec: in a libwinvmem.so loaded with dlopen, the
 * default model would have glibc allocate a thread's block with malloc on its first access,
 * which may be inside the fault dispatcher. (Costs static TLS space: keep these few.) */
#define WVM_THREAD __thread __attribute__((tls_model("initial-exec")))

/* Whether the calling thread runs winvmem's fault handling (the dispatcher, and what the
 * vectored handlers and the handler it chains to call from it): code that would call a libc
 * function which may allocate (pthread_setspecific, pthread_getattr_np) takes another way.
 *
 * The dispatcher records each entry with its frame address (wvm__signal_enter, _exit). A
 * handler that leaves by siglongjmp (fault.h) skips the exit; its record is dropped once the
 * handler is certainly left, judged by stack addresses (stacks grow down, and a handler does
 * not move to a stack above its own frame):
 *   - code running inside a handler runs below the handler's frame: a check made above the
 *     innermost recorded frame comes after that handler was left;
 *   - a fault raised inside a handler is delivered below the handler's frames (on its stack,
 *     or further down the alternate stack it runs on): an entry whose frame is at or above
 *     the innermost recorded one is not nested in it, and that handler was left.
 * Until then (code below a left handler's frame: deeper calls after the jump, or a handler
 * that ran on an alternate stack above the thread's stack) the thread only takes the slow
 * way, never a wrong one. Records deeper than WVM_SIGNAL_FRAMES are only counted. */
enum { WVM_SIGNAL_FRAMES = 8 };
/* Whether the calling thread has its cache set up (tests: in_signal decides). */
bool wvm__meta_cached(void);
extern WVM_THREAD unsigned wvm__signal_depth;
void wvm__signal_enter(uintptr_t frame);
void wvm__signal_exit(void);
bool wvm__signal_still(uintptr_t here); /* for wvm__in_signal */
static inline bool wvm__in_signal(void)
{
    return wvm__signal_depth != 0 && wvm__signal_still((uintptr_t)__builtin_frame_address(0));
}
#endif
