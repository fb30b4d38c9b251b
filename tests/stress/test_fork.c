/* fork() while other threads churn (issue 11, bug 3): whatever the other threads are doing at
 * the fork, the child (one thread) must be able to allocate, query, protect, decommit and
 * release (write-watch allocations included), use inherited allocations, and exit cleanly, in
 * every kernel-mechanism combination (ctest runs it with guard markers on and off; the
 * mechanisms stage of CI on all eight). Each child is watched by an alarm: a child stuck on
 * a lock the fork left held is killed and counted as a failure.
 * A plain program (run under TSan too). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#define CHURNERS 3
#define FORKS    150
#define PG       4096

static _Atomic int stop;
static char *stable;  /* committed, written by the parent before any fork */
static char *watched; /* write watch, shared by the churners */

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static LONG WINAPI on_guard(EXCEPTION_POINTERS *ep)
{
    return ep->ExceptionRecord->ExceptionCode == STATUS_GUARD_PAGE_VIOLATION
               ? EXCEPTION_CONTINUE_EXECUTION
               : EXCEPTION_CONTINUE_SEARCH;
}

/* Every kind of operation, so that a fork finds threads inside each of them. */
static void *churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    MEMORY_BASIC_INFORMATION m;
    DWORD old;
    while (!atomic_load(&stop)) {
        SIZE_T size = (1 + next_rand(&seed) % 8) * 16 * PG;
        char *p = VirtualAlloc(NULL, size, MEM_RESERVE | (next_rand(&seed) % 2 ? MEM_COMMIT : 0),
                               PAGE_READWRITE);
        if (!p)
            return (void *)1;
        if (!VirtualAlloc(p, 4 * PG, MEM_COMMIT, PAGE_READWRITE))
            return (void *)2;
        p[PG] = 1;
        VirtualProtect(p, PG, PAGE_READWRITE | PAGE_GUARD, &old);
        (void)*(volatile char *)p; /* consumes the guard */
        VirtualLock(p + PG, PG);
        VirtualQuery(p + next_rand(&seed) % size, &m, sizeof m);
        VirtualQuery(p + size + next_rand(&seed) % (1 << 20), &m, sizeof m); /* free space */
        VirtualUnlock(p + PG, PG);
        VirtualFree(p + 2 * PG, PG, MEM_DECOMMIT);
        __atomic_store_n(&watched[(next_rand(&seed) % 16) * PG], 1, __ATOMIC_RELAXED);
        if (next_rand(&seed) % 4 == 0) {
            void *res[16];
            ULONG_PTR n = 16;
            DWORD g;
            GetWriteWatch(WRITE_WATCH_FLAG_RESET, watched, 16 * PG, res, &n, &g);
        }
        if (next_rand(&seed) % 8 == 0) {
            void *h = AddVectoredExceptionHandler(0, on_guard);
            RemoveVectoredExceptionHandler(h);
        }
        if (!VirtualFree(p, 0, MEM_RELEASE))
            return (void *)3;
    }
    return NULL;
}

/* The child: one thread, the others' state frozen at whatever moment the fork caught them. */
static int child(void)
{
    alarm(30); /* a lock held forever: SIGALRM ends the child, the parent sees the signal */
    MEMORY_BASIC_INFORMATION m;
    DWORD old;
    if (stable[0] != 42 || stable[5 * PG] != 43)
        return 10; /* the parent's data */
    char *p = VirtualAlloc(NULL, 64 * PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!p)
        return 11;
    memset(p, 7, 64 * PG);
    if (VirtualQuery(p, &m, sizeof m) != sizeof m || m.AllocationBase != p ||
        m.State != MEM_COMMIT || m.RegionSize != 64 * PG)
        return 12;
    if (!VirtualProtect(p, PG, PAGE_READONLY, &old) || old != PAGE_READWRITE)
        return 13;
    if (!VirtualFree(p + PG, PG, MEM_DECOMMIT))
        return 14;
    if (VirtualQuery(p + PG, &m, sizeof m) != sizeof m || m.State != MEM_RESERVE)
        return 15;
    if (!VirtualFree(p, 0, MEM_RELEASE))
        return 16;
    if (VirtualQuery(p, &m, sizeof m) != sizeof m || m.State != MEM_FREE)
        return 17;
    /* inherited allocations: changed and released by the child */
    if (!VirtualProtect(stable, PG, PAGE_READONLY, &old) || old != PAGE_READWRITE)
        return 18;
    if (!VirtualFree(stable, 0, MEM_RELEASE))
        return 19;
    /* write watch in the child: new allocations track writes */
    char *w =
        VirtualAlloc(NULL, 16 * PG, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    if (!w)
        return 20;
    w[3 * PG] = 1;
    void *res[16];
    ULONG_PTR n = 16;
    DWORD g;
    if (GetWriteWatch(0, w, 16 * PG, res, &n, &g) || n != 1 || res[0] != w + 3 * PG)
        return 21;
    /* the inherited write-watch allocation still answers */
    n = 16;
    if (GetWriteWatch(WRITE_WATCH_FLAG_RESET, watched, 16 * PG, res, &n, &g))
        return 22;
    /* decommit and release of a range the child's own userfaultfd tracks: without guard
     * markers both drop pages with madvise(MADV_DONTNEED), which waits for a reader of the
     * descriptor when it was opened with UFFD_FEATURE_EVENT_REMOVE (a child of the fork has
     * no reader: it hung there on combinations 011 and 010) */
    if (!VirtualFree(w + 3 * PG, PG, MEM_DECOMMIT))
        return 28;
    if (!VirtualFree(w, 0, MEM_RELEASE))
        return 23;
    /* a guard page in the child */
    char *q = VirtualAlloc(NULL, PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    if (!q)
        return 24;
    (void)*(volatile char *)q;
    if (VirtualQuery(q, &m, sizeof m) != sizeof m || m.Protect != PAGE_READWRITE)
        return 25;
    if (!VirtualFree(q, 0, MEM_RELEASE))
        return 26;
    if (wvm_check_invariants())
        return 27;
    return 0;
}

int main(void)
{
    stable = VirtualAlloc(NULL, 16 * PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    watched =
        VirtualAlloc(NULL, 16 * PG, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    if (!stable || !watched) {
        printf("FAIL: setup (error %u)\n", (unsigned)GetLastError());
        return 1;
    }
    stable[0] = 42;
    stable[5 * PG] = 43;
    void *veh = AddVectoredExceptionHandler(1, on_guard);
    pthread_t t[CHURNERS];
    for (uintptr_t i = 0; i < CHURNERS; i++)
        pthread_create(&t[i], NULL, churn, (void *)(i + 1));
    int failed = 0;
    for (int f = 0; f < FORKS && !failed; f++) {
        usleep(1000 + (f % 7) * 300);
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            printf("FAIL: fork\n");
            failed = 1;
            break;
        }
        if (pid == 0)
            _exit(child());
        int status;
        if (waitpid(pid, &status, 0) != pid) {
            printf("FAIL: waitpid\n");
            failed = 1;
        } else if (WIFSIGNALED(status)) {
            printf("FAIL: fork %d: child killed by signal %d%s\n", f, WTERMSIG(status),
                   WTERMSIG(status) == SIGALRM ? " (stuck)" : "");
            failed = 1;
        } else if (WEXITSTATUS(status)) {
            printf("FAIL: fork %d: child step %d\n", f, WEXITSTATUS(status));
            failed = 1;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < CHURNERS; i++) {
        void *r;
        pthread_join(t[i], &r);
        if (r) {
            printf("FAIL: churner %d at step %lu\n", i, (unsigned long)(uintptr_t)r);
            failed = 1;
        }
    }
    RemoveVectoredExceptionHandler(veh);
    if (wvm_check_invariants()) {
        printf("FAIL: invariants in the parent\n");
        failed = 1;
    }
    printf("%s: %d forks\n", failed ? "FAIL" : "pass", FORKS);
    return failed;
}
