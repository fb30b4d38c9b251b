/* Host benchmark: the host's VirtualAlloc/VirtualFree pair against the bare wvm_ pair, and
 * IHostMalloc Alloc/Free against glibc malloc/free on one and two threads. Variants run
 * interleaved, best of ROUNDS, so that a noisy machine hurts both sides alike. Costs are measured
 * in thread CPU time (CLOCK_THREAD_CPUTIME_ID, user + system), which a shared machine's
 * preemption does not inflate; the heap lines also show wall-clock throughput.
 *   bench_host [pairs [heap-ops]]   (defaults: 20000 VirtualAlloc pairs, 2000000 heap ops) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "winvmem/host.h"

#define ROUNDS 7
#define WINDOW 64

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static double cpu(void)
{
    return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static IHostMemoryManager *host;
static IHostMalloc *heap;
static long pairs;

static double run_bare(size_t size)
{
    double t0 = cpu();
    for (long i = 0; i < pairs; i++) {
        void *p =
            wvm_VirtualAlloc(NULL, size, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
        if (!p || !wvm_VirtualFree(p, 0, WVM_MEM_RELEASE))
            abort();
    }
    return (cpu() - t0) / (double)pairs;
}

static double run_host(size_t size)
{
    double t0 = cpu();
    for (long i = 0; i < pairs; i++) {
        void *p;
        if (host->lpVtbl->VirtualAlloc(host, NULL, size, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                                       WVM_PAGE_READWRITE, eAppDomainCritical, &p) != S_OK ||
            host->lpVtbl->VirtualFree(host, p, 0, WVM_MEM_RELEASE) != S_OK)
            abort();
    }
    return (cpu() - t0) / (double)pairs;
}

/* One heap workload: a window of WINDOW live blocks of 8..512 bytes, the oldest freed. */
typedef struct {
    int use_host;
    long ops;
    double cpu_secs;
    int cross, id; /* cross: hand blocks to the other thread, which frees them */
} hjob_t;

#define RING 1024
static _Atomic(void *) ring[2][RING];
static _Atomic unsigned ring_head[2], ring_tail[2];

static void *job_alloc(int use_host, size_t sz)
{
    void *p = NULL;
    if (use_host ? heap->lpVtbl->Alloc(heap, sz, eTaskCritical, &p) != S_OK : !(p = malloc(sz)))
        abort();
    *(volatile char *)p = 1;
    return p;
}

static void job_free(int use_host, void *p)
{
    if (use_host ? heap->lpVtbl->Free(heap, p) != S_OK : (free(p), 0))
        abort();
}

/* Producer-consumer variant: every block goes to the other thread when its ring has room. */
static void cross_loop(hjob_t *j, const size_t *sizes)
{
    int me = j->id, other = 1 - j->id;
    for (long i = 0; i < j->ops; i++) {
        void *p = job_alloc(j->use_host, sizes[i & 255]);
        unsigned t = atomic_load_explicit(&ring_tail[me], memory_order_relaxed);
        if (t - atomic_load_explicit(&ring_head[me], memory_order_acquire) < RING) {
            atomic_store_explicit(&ring[me][t % RING], p, memory_order_relaxed);
            atomic_store_explicit(&ring_tail[me], t + 1, memory_order_release);
        } else {
            job_free(j->use_host, p);
        }
        unsigned h = atomic_load_explicit(&ring_head[other], memory_order_relaxed);
        if (h != atomic_load_explicit(&ring_tail[other], memory_order_acquire)) {
            void *q = atomic_load_explicit(&ring[other][h % RING], memory_order_relaxed);
            atomic_store_explicit(&ring_head[other], h + 1, memory_order_release);
            job_free(j->use_host, q);
        }
    }
}

static void drain_rings(int use_host)
{
    for (int r = 0; r < 2; r++) {
        while (ring_head[r] != ring_tail[r])
            job_free(use_host, ring[r][ring_head[r]++ % RING]);
        ring_head[r] = ring_tail[r] = 0;
    }
}

static void *heap_job(void *arg)
{
    hjob_t *j = arg;
    void *win[WINDOW] = {0};
    unsigned seed = 12345;
    size_t sizes[256];
    for (int i = 0; i < 256; i++)
        sizes[i] = 8 + (size_t)(rand_r(&seed) % 505);
    double t0 = cpu();
    if (j->cross) {
        cross_loop(j, sizes);
        j->cpu_secs = cpu() - t0;
        return NULL;
    }
    for (long i = 0; i < j->ops; i++) {
        int s = (int)(i % WINDOW);
        size_t sz = sizes[i & 255];
        if (j->use_host) {
            if (win[s] && heap->lpVtbl->Free(heap, win[s]) != S_OK)
                abort();
            if (heap->lpVtbl->Alloc(heap, sz, eTaskCritical, &win[s]) != S_OK)
                abort();
        } else {
            free(win[s]);
            if (!(win[s] = malloc(sz)))
                abort();
        }
        *(volatile char *)win[s] = 1;
    }
    j->cpu_secs = cpu() - t0;
    for (int s = 0; s < WINDOW; s++) {
        if (j->use_host)
            heap->lpVtbl->Free(heap, win[s]);
        else
            free(win[s]);
    }
    return NULL;
}

/* Alloc+Free pairs per CPU second over nthreads threads; *wall gets pairs per second. */
static double run_heap(int use_host, int nthreads, int cross, long ops, double *wall)
{
    pthread_t t[2];
    hjob_t j[2];
    double t0 = now();
    for (int i = 0; i < nthreads; i++) {
        j[i] = (hjob_t){use_host, ops, 0, cross, i};
        if (pthread_create(&t[i], NULL, heap_job, &j[i]))
            abort();
    }
    double cpu_secs = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(t[i], NULL);
        cpu_secs += j[i].cpu_secs;
    }
    *wall = (double)ops * nthreads / (now() - t0);
    drain_rings(use_host);
    return (double)ops * nthreads / cpu_secs;
}

static double minv(double a, double b)
{
    return a < b ? a : b;
}

static double maxv(double a, double b)
{
    return a > b ? a : b;
}

int main(int argc, char **argv)
{
    pairs = argc > 1 ? atol(argv[1]) : 20000;
    if (wvm_host_create(NULL, &host) != S_OK ||
        host->lpVtbl->CreateMalloc(host, MALLOC_THREADSAFE, &heap) != S_OK) {
        fprintf(stderr, "bench_host: cannot create the host or its heap\n");
        return 1;
    }
    int fails = 0;
    printf("%-34s %12s %12s %8s %s\n", "operation", "bare/glibc", "host", "ratio", "target");
    size_t sizes[] = {4096, 65536, 1 << 20};
    for (int k = 0; k < 3; k++) {
        double bare = 1e9, hst = 1e9;
        for (int r = 0; r < ROUNDS; r++) {
            bare = minv(bare, run_bare(sizes[k]));
            hst = minv(hst, run_host(sizes[k]));
        }
        double ratio = hst / bare;
        int ok = ratio <= 1.05;
        fails += !ok;
        printf("VirtualAlloc+Free %7zu B (cpu ns) %10.0f %12.0f %7.3fx  <= 1.05x %s\n", sizes[k],
               bare * 1e9, hst * 1e9, ratio, ok ? "ok" : "MISSED");
    }
    long ops = argc > 2 ? atol(argv[2]) : 2000000;
    const struct {
        int threads, cross;
        double want;
        const char *name;
    } runs[] = {{1, 0, 0.8, "1 thr"}, {2, 0, 1.0, "2 thr"}, {2, 1, 0, "2 thr, cross-thread frees"}};
    for (int k = 0; k < 3; k++) {
        int nt = runs[k].threads, cross = runs[k].cross;
        double g = 0, hh = 0, gw = 0, hw = 0, w;
        run_heap(1, nt, cross, ops / 10, &w); /* warm the arenas and mimalloc's thread heaps */
        for (int r = 0; r < ROUNDS; r++) {
            g = maxv(g, run_heap(0, nt, cross, ops, &w));
            gw = maxv(gw, w);
            hh = maxv(hh, run_heap(1, nt, cross, ops, &w));
            hw = maxv(hw, w);
        }
        double ratio = hh / g, want = runs[k].want;
        int ok = ratio >= want;
        fails += !ok;
        printf("IHostMalloc Alloc+Free, %-25s (M/cpu-s) %8.1f %8.1f %7.2fx", runs[k].name, g / 1e6,
               hh / 1e6, ratio);
        if (want > 0)
            printf("  >= %.1fx %s\n", want, ok ? "ok" : "MISSED");
        else
            printf("  (no target)\n");
        printf("  wall clock (M/s) %47.1f %8.1f %7.2fx\n", gw / 1e6, hw / 1e6, hw / gw);
    }
    heap->lpVtbl->Release(heap);
    host->lpVtbl->Release(host);
    return fails ? 2 : 0;
}
