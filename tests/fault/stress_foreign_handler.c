/* A runtime's own SIGSEGV/SIGBUS handler beside winvmem's (winvmem/fault.h):
 *   - installed after winvmem's (displacing it): the stats say so, and through
 *     wvm_handle_fault guard pages and vectored handlers keep their Windows behaviour, from
 *     several threads at once; the runtime's own faults stay the runtime's;
 *   - installed before winvmem's (winvmem on top, chaining to it): the same;
 *   - either way, a fault no vectored handler takes is offered to them exactly once, though
 *     it passes through both handlers, and then kills the process as it would without the
 *     runtime (a consumed guard page included);
 *   - WINVMEM_VERBOSE=1 says once that winvmem's handler was replaced.
 * A plain program (run under TSan too); the second order and the deaths run in children. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <winvmem/fault.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#define PG      4096
#define THREADS 4
#define ROUNDS  2000

enum veh_mode { V_HANDLE, V_COMMIT, V_DECLINE };

static struct sigaction below_segv, below_bus; /* what the runtime found installed */
static char *own;                              /* the runtime's own page, PROT_NONE until used */
static _Atomic unsigned long own_fixed, veh_guard, veh_av;
static _Atomic unsigned long *shared_calls; /* vectored calls, seen by the parent of a child */
static _Atomic int mode;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL (pid %d) line %d: %s\n", (int)getpid(), __LINE__, #cond);                 \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static LONG WINAPI veh(EXCEPTION_POINTERS *ep)
{
    const EXCEPTION_RECORD *r = ep->ExceptionRecord;
    atomic_fetch_add(shared_calls, 1);
    if (r->ExceptionCode == STATUS_GUARD_PAGE_VIOLATION)
        atomic_fetch_add(&veh_guard, 1);
    else
        atomic_fetch_add(&veh_av, 1);
    switch (atomic_load(&mode)) {
    case V_HANDLE:
        return r->ExceptionCode == STATUS_GUARD_PAGE_VIOLATION ? EXCEPTION_CONTINUE_EXECUTION
                                                               : EXCEPTION_CONTINUE_SEARCH;
    case V_COMMIT: {
        void *at = (void *)(r->ExceptionInformation[1] & ~(uintptr_t)(PG - 1));
        return VirtualAlloc(at, PG, MEM_COMMIT, PAGE_READWRITE) ? EXCEPTION_CONTINUE_EXECUTION
                                                                : EXCEPTION_CONTINUE_SEARCH;
    }
    default:
        return EXCEPTION_CONTINUE_SEARCH;
    }
}

/* The runtime's handler, as doc/porting.md tells it: winvmem first, then its own faults, then
 * whatever it replaced. */
static void runtime_handler(int sig, siginfo_t *si, void *uc)
{
    if (wvm_handle_fault(sig, si, uc))
        return;
    char *a = si->si_addr;
    if (a >= own && a < own + PG) {
        mprotect(own, PG, PROT_READ | PROT_WRITE);
        atomic_fetch_add(&own_fixed, 1);
        return;
    }
    struct sigaction *below = sig == SIGBUS ? &below_bus : &below_segv;
    if (below->sa_flags & SA_SIGINFO) {
        below->sa_sigaction(sig, si, uc);
    } else if (below->sa_handler != SIG_DFL && below->sa_handler != SIG_IGN) {
        below->sa_handler(sig);
    } else {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

static void install_runtime(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = runtime_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &below_segv);
    sigaction(SIGBUS, &sa, &below_bus);
}

static wvm_stats stats(void)
{
    wvm_stats s = {.version = WVM_STATS_VERSION, .size = sizeof s};
    wvm_stats_get(&s);
    return s;
}

static void *guard_loop(void *arg)
{
    char *p = arg;
    DWORD old;
    for (int i = 0; i < ROUNDS; i++) {
        if (!VirtualProtect(p, PG, PAGE_READWRITE | PAGE_GUARD, &old))
            return (void *)1;
        if (*(volatile char *)(p + i % PG) != 0)
            return (void *)2;
    }
    return NULL;
}

/* Guard pages, access violations fixed by a vectored handler, the runtime's own page, and
 * THREADS threads consuming guard pages at once. */
static int common(void)
{
    uint64_t via0 = stats().faults_via_entry, handled0 = stats().faults_handled;
    unsigned long g0 = atomic_load(&veh_guard), calls0 = atomic_load(shared_calls);
    DWORD old;
    char *p = VirtualAlloc(NULL, THREADS * PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    CHECK(p);
    atomic_store(&mode, V_HANDLE);
    CHECK(VirtualProtect(p, PG, PAGE_READWRITE | PAGE_GUARD, &old));
    CHECK(*(volatile char *)p == 0);
    CHECK(atomic_load(&veh_guard) == g0 + 1);
    MEMORY_BASIC_INFORMATION m;
    CHECK(VirtualQuery(p, &m, sizeof m) && m.Protect == PAGE_READWRITE);

    atomic_store(&mode, V_COMMIT);
    char *r = VirtualAlloc(NULL, 16 * PG, MEM_RESERVE, PAGE_READWRITE);
    CHECK(r);
    unsigned long av0 = atomic_load(&veh_av);
    r[3 * PG + 10] = 5;
    CHECK(r[3 * PG + 10] == 5 && atomic_load(&veh_av) == av0 + 1);
    CHECK(VirtualQuery(r + 3 * PG, &m, sizeof m) && m.State == MEM_COMMIT);

    unsigned long calls = atomic_load(shared_calls);
    own[7] = 1; /* not winvmem's: no vectored handler sees it */
    CHECK(atomic_load(&own_fixed) == 1 && atomic_load(shared_calls) == calls);
    mprotect(own, PG, PROT_NONE);

    atomic_store(&mode, V_HANDLE);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK(!pthread_create(&t[i], NULL, guard_loop, p + i * PG));
    int bad = 0;
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        bad |= ret != NULL;
    }
    CHECK(!bad);
    CHECK(atomic_load(&veh_guard) == g0 + 1 + THREADS * ROUNDS);
    unsigned long n = atomic_load(shared_calls) - calls0; /* one per fault: none offered twice */
    CHECK(n == 2 + THREADS * ROUNDS);
    CHECK(stats().faults_handled - handled0 >= n); /* and retries of a fault already resolved */
    printf("  %lu faults handled, %llu of them through wvm_handle_fault\n", n,
           (unsigned long long)(stats().faults_via_entry - via0));
    CHECK(VirtualFree(p, 0, MEM_RELEASE) && VirtualFree(r, 0, MEM_RELEASE));
    return 0;
}

/* In a child: a guard page no vectored handler takes. Offered once, then the process dies of
 * SIGSEGV (the guard is consumed: a retry would not fault, so someone must raise it). */
static int declined_guard_kills(void)
{
    unsigned long calls0 = atomic_load(shared_calls);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        atomic_store(&mode, V_DECLINE);
        DWORD old;
        char *p = VirtualAlloc(NULL, PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        if (!p || !VirtualProtect(p, PG, PAGE_READWRITE | PAGE_GUARD, &old))
            _exit(2);
        (void)*(volatile char *)p;
        _exit(3); /* survived */
    }
    int st;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    if (!WIFSIGNALED(st))
        printf("  child exited %d\n", WEXITSTATUS(st));
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    CHECK(atomic_load(shared_calls) == calls0 + 1);
    return 0;
}

/* winvmem first, then the runtime over it. */
static int runtime_after(void)
{
    CHECK(AddVectoredExceptionHandler(1, veh));
    CHECK(stats().fault_handler == WVM_FAULT_HANDLER_INSTALLED);
    /* WINVMEM_VERBOSE=1 (main): one line on stderr when winvmem finds its handler replaced */
    FILE *said = tmpfile();
    int err = dup(2);
    CHECK(said && err >= 0 && dup2(fileno(said), 2) == 2);
    install_runtime();
    int displaced = stats().fault_handler == WVM_FAULT_HANDLER_DISPLACED;
    stats(); /* said once */
    dup2(err, 2);
    close(err);
    char text[1024] = "";
    rewind(said);
    size_t n = fread(text, 1, sizeof text - 1, said);
    text[n] = 0;
    fclose(said);
    CHECK(below_segv.sa_flags & SA_SIGINFO); /* winvmem's handler */
    CHECK(displaced);
    const char *line = "another SIGSEGV and SIGBUS handler replaced winvmem's";
    char *first = strstr(text, line);
    CHECK(first && !strstr(first + 1, line));
    uint64_t via0 = stats().faults_via_entry;
    if (common())
        return 1;
    CHECK(stats().faults_via_entry - via0 >= 2 + THREADS * ROUNDS);
    CHECK(wvm_handle_fault(SIGINT, NULL, NULL) == 0 && wvm_handle_fault(SIGSEGV, NULL, NULL) == 0);
    return declined_guard_kills();
}

/* The runtime first, then winvmem over it, chaining to it. */
static int runtime_before(void)
{
    install_runtime();
    CHECK(stats().fault_handler == WVM_FAULT_HANDLER_NONE);
    CHECK(AddVectoredExceptionHandler(1, veh));
    CHECK(stats().fault_handler == WVM_FAULT_HANDLER_INSTALLED);
    uint64_t via0 = stats().faults_via_entry;
    if (common())
        return 1;
    CHECK(stats().faults_via_entry == via0);
    return declined_guard_kills();
}

int main(void)
{
    setenv("WINVMEM_VERBOSE", "1", 1);
    shared_calls = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    own = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (shared_calls == MAP_FAILED || own == MAP_FAILED)
        return 1;
    /* winvmem's handler is installed once per process: the second order runs in a child */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("runtime handler installed before winvmem's:\n");
        int rc = runtime_before();
        fflush(stdout);
        _exit(rc);
    }
    int st, failed = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
        printf("FAIL: the runtime-first child\n");
        failed = 1;
    }
    printf("runtime handler installed after winvmem's:\n");
    failed |= runtime_after();
    printf(failed ? "FAILED\n" : "ok\n");
    return failed;
}
