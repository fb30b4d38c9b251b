/* A vectored handler that calls VirtualAlloc (reserve, commit, both), VirtualProtect, file
 * mappings, VirtualFree and VirtualQuery runs while the faulting thread is inside malloc. fault.h
 * promises that this works: winvmem must not call the malloc family on those paths (glibc's
 * malloc is not reentrant: the interrupted call holds its arena lock).
 *
 * The program interposes malloc, calloc, realloc, free and the aligned variants (forwarding to
 * the next definition: libc's, or a sanitizer's) with its own lock, and touches a PAGE_GUARD,
 * a PAGE_NOACCESS or a reserved page of winvmem's while holding it. Any call of the malloc
 * family made on a thread that is inside the wrapper already, or inside the vectored handler,
 * is a violation: recorded with a backtrace, and the program fails. Meanwhile other threads
 * allocate and free with winvmem and malloc, and some faults happen on fresh threads whose
 * first winvmem code is the handler (epoch record, caches, stack bounds set up in signal
 * context). A plain program (named stress_*): it runs under TSan too. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <winvmem/stats.h>
#include <winvmem/vm.h>

#define PAGE   4096u
#define KiB    ((size_t)1024)
#define GRAN   (64 * KiB)
#define ROUNDS 400 /* faults per faulting thread */
#define FRESH  60  /* faults on fresh threads */

/* ---- the interposed allocator ------------------------------------------------------------ */

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int in_wrapper, in_handler;
static __thread volatile char *armed; /* touched inside the next wrapped call */
static __thread int armed_write;

static _Atomic int violations;
static void *violation_trace[32];
static int violation_depth;
static _Atomic int tracing;

/* dlsym may itself call calloc before the real one is known */
static char boot[1 << 14];
static _Atomic size_t boot_used;
static __thread int resolving;

static void *boot_alloc(size_t n)
{
    size_t off = atomic_fetch_add(&boot_used, (n + 15) & ~(size_t)15);
    return off + n <= sizeof boot ? boot + off : NULL;
}

static void resolve(void)
{
    if (real_free)
        return;
    resolving = 1;
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    resolving = 0;
}

static _Atomic int ready; /* main has started: sanitizer runtimes and the loader are done */

/* Entering the wrapper: a call from inside the wrapper or the handler is a violation (with a
 * real allocator it would deadlock or corrupt the heap). Returns what leave() must undo:
 * 0 nothing (before main), 1 the nesting count, 2 the count and the lock. */
static int enter(void)
{
    if (!ready)
        return 0;
    in_wrapper++;
    if (in_wrapper > 1 || in_handler) {
        if (atomic_fetch_add(&violations, 1) == 0 && !atomic_exchange(&tracing, 1))
            violation_depth = backtrace(violation_trace, 32);
        return 1;
    }
    pthread_mutex_lock(&heap_lock);
    volatile char *a = armed;
    if (a) { /* fault now, inside "malloc", holding its lock */
        armed = NULL;
        if (armed_write)
            *a = 1;
        else
            (void)*a;
    }
    return 2;
}

static void leave(int how)
{
    if (how == 2)
        pthread_mutex_unlock(&heap_lock);
    if (how)
        in_wrapper--;
}

void *malloc(size_t n)
{
    if (!real_malloc) {
        if (resolving)
            return boot_alloc(n);
        resolve();
    }
    int l = enter();
    void *p = real_malloc(n);
    leave(l);
    return p;
}

void *calloc(size_t n, size_t s)
{
    if (!real_calloc) {
        if (resolving)
            return boot_alloc(n * s); /* zero: static storage */
        resolve();
    }
    int l = enter();
    void *p = real_calloc(n, s);
    leave(l);
    return p;
}

void *realloc(void *old, size_t n)
{
    resolve();
    int l = enter();
    void *p = real_realloc(old, n);
    leave(l);
    return p;
}

int posix_memalign(void **out, size_t align, size_t n)
{
    resolve();
    int l = enter();
    int r = real_posix_memalign(out, align, n);
    leave(l);
    return r;
}

void *aligned_alloc(size_t align, size_t n)
{
    resolve();
    int l = enter();
    void *p = real_aligned_alloc(align, n);
    leave(l);
    return p;
}

void *memalign(size_t align, size_t n)
{
    resolve();
    int l = enter();
    void *p = real_memalign(align, n);
    leave(l);
    return p;
}

void free(void *p)
{
    if ((char *)p >= boot && (char *)p < boot + sizeof boot)
        return;
    if (!p)
        return;
    resolve();
    int l = enter();
    real_free(p);
    leave(l);
}

/* ---- the vectored handler --------------------------------------------------------------- */

static _Atomic int handler_calls, handler_outside_malloc, op_failures;
static _Atomic int first_failure_op = -1;
static _Atomic uint32_t first_failure_error;
static _Atomic int big_reserves;

static void failed(int op)
{
    int none = -1;
    if (atomic_compare_exchange_strong(&first_failure_op, &none, op))
        first_failure_error = wvm_GetLastError();
    op_failures++;
}

#define CHECK(op, cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            failed(op);                                                                            \
    } while (0)

/* Every call the promise names, on paths that allocate metadata: new reservations (index and
 * free-space nodes, snapshots), commits, a protection change over many runs (a plan of more
 * steps than fit inline, a snapshot larger than the stack buffer), a new guard map, releases
 * (snapshots retired and freed through the epochs), queries of winvmem's and foreign memory,
 * an out-parameter on this stack. */
static void exercise_types(void);
static void exercise_sections(void);

static void exercise(const void *fault_page)
{
    wvm_MEMORY_BASIC_INFORMATION m;
    uint32_t old = 0;
    CHECK(1, wvm_VirtualQuery(fault_page, &m, sizeof m) == sizeof m);
    CHECK(2, wvm_VirtualQuery(&m, &m, sizeof m) == sizeof m && m.Type == WVM_MEM_PRIVATE);
    char *r = wvm_VirtualAlloc(NULL, 4 * GRAN, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS);
    CHECK(3, r != NULL);
    if (!r)
        return;
    CHECK(4, wvm_VirtualAlloc(r, 4 * GRAN, WVM_MEM_COMMIT, WVM_PAGE_READWRITE) == r);
    r[5] = 5;
    for (int i = 0; i < 30; i++) /* 61 runs */
        CHECK(5, wvm_VirtualProtect(r + (size_t)(2 * i + 1) * PAGE, PAGE, WVM_PAGE_READONLY, &old));
    CHECK(6,
          wvm_VirtualProtect(r, 4 * GRAN, WVM_PAGE_READWRITE, &old) && old == WVM_PAGE_READWRITE);
    CHECK(7, wvm_VirtualQuery(r, &m, sizeof m) == sizeof m && m.RegionSize == 4 * GRAN);
    CHECK(8, wvm_VirtualProtect(r + GRAN, PAGE, WVM_PAGE_READWRITE | WVM_PAGE_GUARD, &old));
    CHECK(9, wvm_VirtualQuery(r + GRAN, &m, sizeof m) == sizeof m &&
                 m.Protect == (WVM_PAGE_READWRITE | WVM_PAGE_GUARD) && m.RegionSize == PAGE);
    char *c = wvm_VirtualAlloc(NULL, GRAN, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    CHECK(10, c != NULL);
    if (c) {
        c[GRAN - 1] = 1;
        CHECK(14, wvm_VirtualLock(c, PAGE) && wvm_VirtualUnlock(c, PAGE));
    }
    CHECK(11, wvm_VirtualFree(r, GRAN, WVM_MEM_DECOMMIT));
    CHECK(12, wvm_VirtualFree(r, 0, WVM_MEM_RELEASE));
    CHECK(13, !c || wvm_VirtualFree(c, 0, WVM_MEM_RELEASE));
    if (atomic_fetch_add(&big_reserves, 1) < 4) { /* grows the arenas: new index nodes */
        char *big = wvm_VirtualAlloc(NULL, (size_t)48 << 30, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS);
        CHECK(15, big != NULL);
        CHECK(16, !big || wvm_VirtualFree(big, 0, WVM_MEM_RELEASE));
    }
    exercise_types();
    exercise_sections();
}

static int uffd_write_watch;

static int32_t nobody(wvm_EXCEPTION_POINTERS *ep)
{
    (void)ep;
    return WVM_EXCEPTION_CONTINUE_SEARCH;
}

/* The other allocation types and their calls: write watch (either backend), an AWE window,
 * large pages (the pool may be empty: then only the refusal), a handler added and removed. */
static void exercise_types(void)
{
    char *w = wvm_VirtualAlloc(
        NULL, 4 * GRAN, WVM_MEM_RESERVE | WVM_MEM_COMMIT | WVM_MEM_WRITE_WATCH, WVM_PAGE_READWRITE);
    CHECK(30, w != NULL);
    if (w) {
        void *hits[8];
        uintptr_t n = 8;
        uint32_t gran;
        /* on the mprotect fallback this write would fault inside the handler: fatal */
        if (uffd_write_watch)
            w[PAGE] = 1;
        CHECK(31,
              wvm_GetWriteWatch(WVM_WRITE_WATCH_FLAG_RESET, w, 4 * GRAN, hits, &n, &gran) == 0 &&
                  n == (uffd_write_watch ? 1u : 0u) && (!n || hits[0] == w + PAGE));
        CHECK(32, wvm_VirtualFree(w, 2 * GRAN, WVM_MEM_DECOMMIT));
        CHECK(33, wvm_ResetWriteWatch(w, 4 * GRAN) == 0);
        CHECK(34, wvm_VirtualFree(w, 0, WVM_MEM_RELEASE));
    }
    char *a = wvm_VirtualAlloc(NULL, GRAN, WVM_MEM_RESERVE | WVM_MEM_PHYSICAL, WVM_PAGE_READWRITE);
    CHECK(35, a != NULL || wvm_GetLastError() == WVM_ERROR_NOT_SUPPORTED);
    CHECK(36, !a || wvm_VirtualFree(a, 0, WVM_MEM_RELEASE));
    size_t large = wvm_GetLargePageMinimum();
    char *l = large ? wvm_VirtualAlloc(NULL, large,
                                       WVM_MEM_RESERVE | WVM_MEM_COMMIT | WVM_MEM_LARGE_PAGES,
                                       WVM_PAGE_READWRITE)
                    : NULL;
    CHECK(37, l != NULL || !large || wvm_GetLastError() == WVM_ERROR_NO_SYSTEM_RESOURCES);
    CHECK(38, !l || wvm_VirtualFree(l, 0, WVM_MEM_RELEASE));
    void *h = wvm_AddVectoredExceptionHandler(0, nobody);
    CHECK(39, h && wvm_RemoveVectoredExceptionHandler(h));
}

static int32_t veh(wvm_EXCEPTION_POINTERS *ep)
{
    in_handler++;
    handler_calls++;
    if (!in_wrapper)
        handler_outside_malloc++;
    wvm_EXCEPTION_RECORD *rec = ep->ExceptionRecord;
    char *page = (char *)(rec->ExceptionInformation[1] & ~(uintptr_t)(PAGE - 1));
    exercise(page);
    wvm_MEMORY_BASIC_INFORMATION m;
    uint32_t old;
    if (wvm_VirtualQuery(page, &m, sizeof m) != sizeof m)
        failed(20);
    else if (rec->ExceptionCode == WVM_STATUS_GUARD_PAGE_VIOLATION)
        CHECK(21, m.Protect == WVM_PAGE_READWRITE); /* the guard is gone */
    else if (m.State == WVM_MEM_RESERVE)
        CHECK(22, wvm_VirtualAlloc(page, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE) == page);
    else
        CHECK(23,
              wvm_VirtualProtect(page, PAGE, WVM_PAGE_READWRITE, &old) && old == WVM_PAGE_NOACCESS);
    in_handler--;
    return WVM_EXCEPTION_CONTINUE_EXECUTION;
}

/* "wvm-sigctx-PID-N": a name of this thread's own (formatted by hand: no stdio here). */
static void section_name(char *buf, unsigned long pid, unsigned long n)
{
    static const char pre[] = "wvm-sigctx-";
    char digits[24];
    size_t len = 0;
    memcpy(buf, pre, sizeof pre - 1);
    len = sizeof pre - 1;
    for (int part = 0; part < 2; part++) {
        unsigned long v = part ? n : pid;
        int d = 0;
        do
            digits[d++] = (char)('0' + v % 10);
        while ((v /= 10));
        while (d)
            buf[len++] = digits[--d];
        buf[len++] = part ? 0 : '-';
    }
}

static _Atomic unsigned long section_names;

/* File mappings (fault.h: covered since their records come from core/meta.c): a SEC_RESERVE
 * section with two views (a commit through one reaches the other), a view's protection over
 * many runs (a plan that grows), a copy-on-write view with private copies, a placeholder split
 * and replaced by two views, then coalesced; a named section created and opened. */
static void exercise_sections(void)
{
    void *proc = wvm_GetCurrentProcess();
    void *h = wvm_CreateFileMappingA(WVM_INVALID_HANDLE_VALUE, NULL,
                                     WVM_PAGE_READWRITE | WVM_SEC_RESERVE, 0, 4 * GRAN, NULL);
    CHECK(40, h != NULL);
    if (!h)
        return;
    char *v = wvm_MapViewOfFile(h, WVM_FILE_MAP_WRITE, 0, 0, 4 * GRAN);
    char *w = wvm_MapViewOfFile(h, WVM_FILE_MAP_READ, 0, 0, 2 * GRAN);
    CHECK(41, v && w);
    wvm_MEMORY_BASIC_INFORMATION m;
    uint32_t old;
    if (v && w) {
        CHECK(42, wvm_VirtualAlloc(v, GRAN, WVM_MEM_COMMIT, WVM_PAGE_READWRITE) == v);
        v[1] = 7;
        CHECK(43, w[1] == 7 && wvm_VirtualQuery(w, &m, sizeof m) == sizeof m &&
                      m.State == WVM_MEM_COMMIT && m.Type == WVM_MEM_MAPPED);
        for (int i = 0; i < 7; i++) /* 15 runs, then one change over all (a plan that grows) */
            CHECK(44, wvm_VirtualProtect(v + (size_t)(2 * i + 1) * PAGE, PAGE, WVM_PAGE_READONLY,
                                         &old));
        CHECK(44, wvm_VirtualProtect(v, GRAN, WVM_PAGE_READWRITE, &old));
        char *c = wvm_MapViewOfFile(h, WVM_FILE_MAP_COPY, 0, 0, GRAN);
        CHECK(45, c != NULL);
        if (c) {
            c[1] = 8; /* a private copy (the kernel's copy-on-write: no signal) */
            CHECK(46, wvm_VirtualProtect(c, 2 * PAGE, WVM_PAGE_READONLY, &old) && v[1] == 7);
            CHECK(47, wvm_UnmapViewOfFile(c));
        }
    }
    CHECK(48, (!v || wvm_UnmapViewOfFile(v)) && (!w || wvm_UnmapViewOfFile(w)));
    char *p = wvm_VirtualAlloc2(NULL, NULL, 2 * GRAN, WVM_MEM_RESERVE | WVM_MEM_RESERVE_PLACEHOLDER,
                                WVM_PAGE_NOACCESS, NULL, 0);
    CHECK(49, p != NULL);
    if (p) {
        CHECK(50, wvm_VirtualFree(p, GRAN, WVM_MEM_RELEASE | WVM_MEM_PRESERVE_PLACEHOLDER));
        char *a = wvm_MapViewOfFile3(h, proc, p, 0, GRAN, WVM_MEM_REPLACE_PLACEHOLDER,
                                     WVM_PAGE_READWRITE, NULL, 0);
        char *b = wvm_MapViewOfFile3(h, proc, p + GRAN, 0, GRAN, WVM_MEM_REPLACE_PLACEHOLDER,
                                     WVM_PAGE_READONLY, NULL, 0);
        CHECK(51, a == p && b == p + GRAN && b[1] == 7);
        CHECK(52, (!a || wvm_UnmapViewOfFile2(proc, a, WVM_MEM_PRESERVE_PLACEHOLDER)) &&
                      (!b || wvm_UnmapViewOfFile2(proc, b, WVM_MEM_PRESERVE_PLACEHOLDER)));
        CHECK(53, wvm_VirtualFree(p, 2 * GRAN, WVM_MEM_RELEASE | WVM_MEM_COALESCE_PLACEHOLDERS));
        CHECK(54, wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
    }
    CHECK(55, wvm_CloseHandle(h));
    char name[64];
    section_name(name, (unsigned long)getpid(), atomic_fetch_add(&section_names, 1));
    void *n =
        wvm_CreateFileMappingA(WVM_INVALID_HANDLE_VALUE, NULL, WVM_PAGE_READWRITE, 0, GRAN, name);
    void *o = n ? wvm_OpenFileMappingA(WVM_FILE_MAP_READ, 0, name) : NULL;
    CHECK(56, n && o);
    CHECK(57, (!o || wvm_CloseHandle(o)) && (!n || wvm_CloseHandle(n)));
}

/* ---- threads ----------------------------------------------------------------------------- */

/* A target: page 0 guard, page 1 no access, page 2 reserved. */
static char *target(void)
{
    char *t = wvm_VirtualAlloc(NULL, GRAN, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS);
    if (!t || !wvm_VirtualAlloc(t, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE | WVM_PAGE_GUARD) ||
        !wvm_VirtualAlloc(t + PAGE, PAGE, WVM_MEM_COMMIT, WVM_PAGE_NOACCESS)) {
        fprintf(stderr, "stress_signal_context: target setup failed: %u\n", wvm_GetLastError());
        exit(1);
    }
    return t;
}

static _Atomic int faults_missed;
static void *(*volatile call_malloc)(size_t) = malloc;

/* Faults on page `which` of t from inside malloc; the handler must have run and fixed it. */
static void fault_in_malloc(char *t, int which, int write)
{
    int before = handler_calls;
    armed_write = write;
    armed = t + (size_t)which * PAGE;
    void *p = call_malloc(24); /* a call the compiler cannot drop */
    if (armed || handler_calls == before)
        faults_missed++;
    armed = NULL;
    free(p);
    t[(size_t)which * PAGE + 8] = 3; /* accessible now */
}

static void *faulter(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        char *t = target();
        fault_in_malloc(t, i % 3, i & 1);
        if (!wvm_VirtualFree(t, 0, WVM_MEM_RELEASE))
            return (void *)1;
    }
    return NULL;
}

/* The first winvmem code this thread runs is the vectored handler. */
static void *fresh(void *arg)
{
    fault_in_malloc(arg, (int)((uintptr_t)arg / GRAN % 3), 1);
    return NULL;
}

static _Atomic int stop;
static _Atomic long churn_rounds;

/* With a real allocator, winvmem calling malloc under one of its locks deadlocks against the
 * handler that needs the lock while the faulting thread holds the heap's: a hang is reported
 * as such (no progress for a minute), not left to the test timeout. */
static void *watchdog(void *arg)
{
    (void)arg;
    long last = -1;
    for (int idle = 0; !stop; sleep(1)) {
        long now = handler_calls + churn_rounds;
        idle = now == last ? idle + 1 : 0;
        last = now;
        if (idle == 60) {
            fprintf(stderr,
                    "stress_signal_context: no progress for 60 s: deadlock between "
                    "the handler and a thread that called malloc holding a winvmem lock "
                    "(%d violations so far)\n",
                    (int)violations);
            _exit(1);
        }
    }
    return NULL;
}

static void *churn(void *arg)
{
    (void)arg;
    for (; !stop; churn_rounds++) {
        char *p =
            wvm_VirtualAlloc(NULL, 3 * GRAN, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
        char *q = malloc(100);
        uint32_t old;
        if (!p || !q || !wvm_VirtualProtect(p + PAGE, PAGE, WVM_PAGE_READONLY, &old) ||
            !wvm_VirtualFree(p, PAGE, WVM_MEM_DECOMMIT) || !wvm_VirtualFree(p, 0, WVM_MEM_RELEASE))
            return (void *)1;
        free(q);
    }
    return NULL;
}

int main(void)
{
    void *warm[1];
    backtrace(warm, 1); /* loads the unwinder now, not inside a violation */
    ready = 1;
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    void *probe =
        wvm_VirtualAlloc(NULL, GRAN, WVM_MEM_RESERVE | WVM_MEM_WRITE_WATCH, WVM_PAGE_READWRITE);
    wvm_VirtualFree(probe, 0, WVM_MEM_RELEASE);
    uffd_write_watch = !wvm_stats_get(&st) && (st.mechanisms_in_use & WVM_MECH_UFFD_WP_ASYNC);
    if (!wvm_AddVectoredExceptionHandler(1, veh)) {
        fprintf(stderr, "stress_signal_context: no vectored handler\n");
        return 1;
    }
    pthread_t f[2], c[2], w;
    pthread_create(&w, NULL, watchdog, NULL);
    for (int i = 0; i < 2; i++) {
        pthread_create(&c[i], NULL, churn, NULL);
        pthread_create(&f[i], NULL, faulter, NULL);
    }
    for (int i = 0; i < FRESH; i++) {
        pthread_t t;
        char *tg = target();
        pthread_create(&t, NULL, fresh, tg);
        pthread_join(t, NULL);
        wvm_VirtualFree(tg, 0, WVM_MEM_RELEASE);
    }
    int bad_threads = 0;
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(f[i], &r);
        bad_threads += r != NULL;
    }
    stop = 1;
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(c[i], &r);
        bad_threads += r != NULL;
    }
    pthread_join(w, NULL);
    int expected = 2 * ROUNDS + FRESH, fails = 0;
#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (cond) {                                                                                \
            printf("pass: %s\n", #cond);                                                           \
        } else {                                                                                   \
            printf("FAIL: %s: ", #cond);                                                           \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            fails++;                                                                               \
        }                                                                                          \
    } while (0)
    EXPECT(violations == 0, "%d calls of the malloc family inside the handler or malloc",
           (int)violations);
    EXPECT(handler_calls == expected, "%d handler calls for %d faults", (int)handler_calls,
           expected);
    EXPECT(faults_missed == 0, "%d faults did not reach the handler", (int)faults_missed);
    EXPECT(handler_outside_malloc == 0, "%d", (int)handler_outside_malloc);
    EXPECT(op_failures == 0, "%d calls failed in the handler; first: op %d, error %u",
           (int)op_failures, (int)first_failure_op, (unsigned)first_failure_error);
    EXPECT(bad_threads == 0, "%d threads failed a call", bad_threads);
    EXPECT(wvm_check_invariants() == 0, "invariants");
    if (violations) {
        fflush(stdout);
        fprintf(stderr, "first violation:\n");
        backtrace_symbols_fd(violation_trace, violation_depth, 2);
    }
    printf("%d passed, %d failed\n", 7 - fails, fails);
    return fails != 0;
}
