/* A toy managed runtime hosted by winvmem's IHostMemoryManager under a tight budget.
 *
 * Mutator threads allocate "heap segments" at the three critical levels (task-critical object
 * allocation, app-domain-critical loader data, process-critical runtime structures); nothing is
 * freed until the "garbage collector" runs, which it does when the host notifies Low. The
 * program prints the notifications, each collection, and how requests of each level fared.
 *
 *   toy_runtime [seconds]     (default 3) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "winvmem/host.h"

#define MIB          ((size_t)1 << 20)
#define MAX_SEGMENTS 4096

static IHostMemoryManager *host;
static double t_start;
static volatile int running = 1;

static double elapsed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 - t_start;
}

static unsigned load_pct(void)
{
    uint32_t load = 0;
    size_t avail;
    host->lpVtbl->GetMemoryLoad(host, &load, &avail);
    return load;
}

/* ---- the managed heap: segments waiting for the collector ---------------------------------- */

static pthread_mutex_t heap_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gc_cv = PTHREAD_COND_INITIALIZER;
static void *segments[MAX_SEGMENTS];
static size_t seg_size[MAX_SEGMENTS];
static int nseg, gc_requested, collections;

static void keep(void *p, size_t size)
{
    pthread_mutex_lock(&heap_mu);
    if (nseg < MAX_SEGMENTS) {
        segments[nseg] = p;
        seg_size[nseg++] = size;
        p = NULL;
    }
    pthread_mutex_unlock(&heap_mu);
    if (p)
        host->lpVtbl->VirtualFree(host, p, 0, WVM_MEM_RELEASE);
}

/* Frees the older three quarters of the segments: most objects die young. */
static void *collector(void *arg)
{
    pthread_mutex_lock(&heap_mu);
    while (running) {
        while (running && !gc_requested)
            pthread_cond_wait(&gc_cv, &heap_mu);
        if (!running)
            break;
        gc_requested = 0;
        pthread_mutex_unlock(&heap_mu);
        usleep(150000); /* marking takes a while; the mutators keep allocating */
        pthread_mutex_lock(&heap_mu);
        int n = nseg * 3 / 4;
        size_t bytes = 0;
        for (int i = 0; i < n; i++) {
            bytes += seg_size[i];
            host->lpVtbl->VirtualFree(host, segments[i], 0, WVM_MEM_RELEASE);
        }
        memmove(segments, segments + n, (size_t)(nseg - n) * sizeof *segments);
        memmove(seg_size, seg_size + n, (size_t)(nseg - n) * sizeof *seg_size);
        nseg -= n;
        collections++;
        printf("[%6.3fs] gc #%d: freed %d segments (%zu MiB), load now %u%%\n", elapsed(),
               collections, n, bytes / MIB, load_pct());
    }
    pthread_mutex_unlock(&heap_mu);
    return NULL;
}

/* ---- the notification callback --------------------------------------------------------- */

static const char *level_name[] = {"?", "Low", "Neutral", "High"};

static HRESULT STDMETHODCALLTYPE cb_qi(ICLRMemoryNotificationCallback *This, REFIID riid,
                                       void **ppv)
{
    *ppv = NULL;
    return E_NOINTERFACE;
}
static uint32_t STDMETHODCALLTYPE cb_ref(ICLRMemoryNotificationCallback *This)
{
    return 1; /* a static object */
}
static HRESULT STDMETHODCALLTYPE cb_on(ICLRMemoryNotificationCallback *This, EMemoryAvailable lv)
{
    printf("[%6.3fs] host notifies: memory %s (load %u%%)\n", elapsed(), level_name[lv],
           load_pct());
    if (lv == eMemoryAvailableLow) {
        pthread_mutex_lock(&heap_mu);
        gc_requested = 1;
        pthread_cond_signal(&gc_cv);
        pthread_mutex_unlock(&heap_mu);
    }
    return S_OK;
}
static const ICLRMemoryNotificationCallbackVtbl cb_vtbl = {cb_qi, cb_ref, cb_ref, cb_on};
static ICLRMemoryNotificationCallback callback = {&cb_vtbl};

/* ---- mutators ------------------------------------------------------------------------------ */

typedef struct {
    const char *what;
    EMemoryCriticalLevel level;
    size_t size;
    unsigned pause_us;
    long asked, granted, oom, timeout, other;
    double worst_wait;
} mutator_t;

static void *mutate(void *arg)
{
    mutator_t *m = arg;
    while (running) {
        void *p = NULL;
        double t0 = elapsed();
        HRESULT hr =
            host->lpVtbl->VirtualAlloc(host, NULL, m->size, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                                       WVM_PAGE_READWRITE, m->level, &p);
        double waited = elapsed() - t0;
        if (waited > m->worst_wait)
            m->worst_wait = waited;
        m->asked++;
        if (hr == S_OK) {
            m->granted++;
            for (size_t off = 0; off < m->size; off += 4096) /* the runtime uses its memory */
                ((char *)p)[off] = 1;
            keep(p, m->size);
        } else if (hr == E_OUTOFMEMORY) {
            if (m->oom++ == 0 || m->level != eTaskCritical)
                printf("[%6.3fs] %s request of %zu KiB: E_OUTOFMEMORY%s\n", elapsed(), m->what,
                       m->size >> 10, m->level == eTaskCritical ? " (more not shown)" : "");
        } else if (hr == HOST_E_TIMEOUT) {
            m->timeout++;
            printf("[%6.3fs] %s request of %zu KiB timed out after %.0f ms\n", elapsed(), m->what,
                   m->size >> 10, waited * 1e3);
        } else {
            m->other++;
        }
        usleep(m->pause_us);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    wvm_host_config cfg;
    wvm_host_config_init(&cfg);
    cfg.budget = 128 * MIB;
    cfg.emergency_reserve = 8 * MIB;
    cfg.task_ceiling_pct = 75;
    cfg.appdomain_ceiling_pct = 88;
    cfg.low_watermark_pct = 70;
    cfg.high_watermark_pct = 30;
    cfg.wait_timeout_ms = 250;
    cfg.poll_interval_ms = 25;
    if (wvm_host_create(&cfg, &host) != S_OK) {
        fprintf(stderr, "toy_runtime: cannot create the host\n");
        return 1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t_start = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    wvm_host_stats st;
    wvm_host_get_stats(host, &st);
    printf("budget %zu MiB; ceilings: task %zu MiB, app-domain %zu MiB, process %zu MiB "
           "(reserve %zu MiB); pressure source: %s\n",
           (size_t)(st.budget / MIB), (size_t)(st.ceiling[0] / MIB), (size_t)(st.ceiling[1] / MIB),
           (size_t)(st.ceiling[2] / MIB), (size_t)(cfg.emergency_reserve / MIB),
           wvm_host_pressure_source(host));
    host->lpVtbl->RegisterMemoryNotificationCallback(host, &callback);

#define MUTATOR(w, l, sz, us) {.what = w, .level = l, .size = sz, .pause_us = us}
    mutator_t mut[] = {
        MUTATOR("task-critical (objects)", eTaskCritical, 2 * MIB, 1000),
        MUTATOR("task-critical (objects)", eTaskCritical, 2 * MIB, 1000),
        MUTATOR("app-domain-critical (loader)", eAppDomainCritical, 4 * MIB, 5000),
        MUTATOR("process-critical (runtime)", eProcessCritical, 2 * MIB, 5000),
    };
    enum { NMUT = sizeof mut / sizeof *mut };
    pthread_t t[NMUT], gc;
    pthread_create(&gc, NULL, collector, NULL);
    for (int i = 0; i < NMUT; i++)
        pthread_create(&t[i], NULL, mutate, &mut[i]);
    usleep((useconds_t)(seconds * 1e6));
    running = 0;
    for (int i = 0; i < NMUT; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_lock(&heap_mu);
    pthread_cond_signal(&gc_cv);
    pthread_mutex_unlock(&heap_mu);
    pthread_join(gc, NULL);

    printf("\n%-30s %7s %8s %6s %8s %10s\n", "requests", "asked", "granted", "E_OOM", "TIMEOUT",
           "worst wait");
    for (int i = 0; i < NMUT; i++)
        printf("%-30s %7ld %8ld %6ld %8ld %8.0f ms\n", mut[i].what, mut[i].asked, mut[i].granted,
               mut[i].oom, mut[i].timeout, mut[i].worst_wait * 1e3);
    wvm_host_get_stats(host, &st);
    printf("collections %d; notifications Low %llu, Neutral %llu, High %llu; waits %llu, "
           "timeouts %llu, draws on the emergency reserve %llu; peak %llu MiB of %llu\n",
           collections, (unsigned long long)st.notifications[1],
           (unsigned long long)st.notifications[2], (unsigned long long)st.notifications[3],
           (unsigned long long)st.waits, (unsigned long long)st.timeouts,
           (unsigned long long)st.reserve_draws, (unsigned long long)(st.peak / MIB),
           (unsigned long long)(st.budget / MIB));
    host->lpVtbl->Release(host); /* releases the segments still alive */
    return 0;
}
