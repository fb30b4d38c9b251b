/* A vectored exception handler that leaves by siglongjmp instead of returning, as runtimes do
 * (a managed exception thrown out of a fault), thousands of times on one thread while other
 * threads reserve, commit, protect, decommit and release. winvmem holds none of its own state
 * across a handler call (fault.h): had the dispatcher still been inside an epoch section, the
 * jump would leave the thread in it for good, and nothing retired afterwards would ever be
 * freed. Checks: every fault reaches the handler; the churn after the jumps gives its
 * metadata back (winvmem's metadata_bytes stays within a bound far below what the retired
 * snapshots would hold if kept); no hang (an alarm ends the run). A plain program (run under
 * TSan too). */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#define JUMPS    5000
#define CHURNERS 2
#define CHURN    20000 /* churn calls after the jumps, on the jumping thread */
#define PG       4096
#define KEPT_MAX (1u << 20) /* metadata the churn may keep: the retired state is ~10 MiB */

static __thread sigjmp_buf *landing;
static char *reserved; /* never committed: every access faults */
static _Atomic int stop, failed;
static _Atomic unsigned long caught, churned;

static LONG WINAPI leave_by_longjmp(EXCEPTION_POINTERS *ep)
{
    uintptr_t at = ep->ExceptionRecord->ExceptionInformation[1];
    if (!landing || at < (uintptr_t)reserved || at >= (uintptr_t)reserved + PG)
        return EXCEPTION_CONTINUE_SEARCH;
    atomic_fetch_add(&caught, 1);
    siglongjmp(*landing, 1);
}

static void churn_once(void)
{
    char *p = VirtualAlloc(NULL, 16 * PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    DWORD old;
    if (!p || (p[PG] = 1, !VirtualProtect(p + PG, PG, PAGE_READONLY, &old)) ||
        !VirtualFree(p + 2 * PG, PG, MEM_DECOMMIT) || !VirtualFree(p, 0, MEM_RELEASE)) {
        if (!atomic_exchange(&failed, 1))
            printf("FAIL: churn: error %u\n", (unsigned)GetLastError());
    }
}

static void *churner(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        churn_once();
        atomic_fetch_add_explicit(&churned, 1, memory_order_relaxed);
    }
    return NULL;
}

static uint64_t metadata(void)
{
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    wvm_stats_get(&st);
    return st.metadata_bytes;
}

int main(void)
{
    alarm(240); /* a hang is a failure, not a ctest timeout */
    reserved = VirtualAlloc(NULL, 16 * PG, MEM_RESERVE, PAGE_NOACCESS);
    if (!reserved || !AddVectoredExceptionHandler(1, leave_by_longjmp)) {
        printf("FAIL: setup: error %u\n", (unsigned)GetLastError());
        return 1;
    }
    pthread_t t[CHURNERS];
    for (int i = 0; i < CHURNERS; i++)
        pthread_create(&t[i], NULL, churner, NULL);
    sigjmp_buf env;
    for (int i = 0; i < JUMPS; i++) {
        landing = &env;
        if (!sigsetjmp(env, 1)) {
            (void)*(volatile char *)reserved;
            printf("FAIL: a read of a reserved page did not fault\n");
            return 1;
        }
        landing = NULL;
        churn_once(); /* winvmem calls on the jumping thread too, between the jumps */
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < CHURNERS; i++)
        pthread_join(t[i], NULL);
    uint64_t before = metadata();
    for (int i = 0; i < CHURN; i++)
        churn_once();
    uint64_t after = metadata(), kept = after > before ? after - before : 0;
    int bad = atomic_load(&failed);
    if (atomic_load(&caught) != JUMPS) {
        printf("FAIL: %lu of %d faults reached the handler\n", atomic_load(&caught), JUMPS);
        bad = 1;
    }
    if (kept > KEPT_MAX) {
        printf("FAIL: %d churn calls after the jumps kept %llu bytes of metadata (reclamation "
               "stalled)\n",
               CHURN, (unsigned long long)kept);
        bad = 1;
    }
    printf("%s: %d jumps out of the handler, %lu churn calls meanwhile; %d after them kept "
           "%llu bytes\n",
           bad ? "FAIL" : "pass", JUMPS, atomic_load(&churned), CHURN, (unsigned long long)kept);
    return bad;
}
