/* The measuring harness shared by bench.c (winvmem natively, or Windows under Wine) and floor.c
 * (bare Linux system calls): a clock, a seeded random sequence, medians, result lines, two
 * threads started together, and the resident set size.
 *
 * Every program prints one line per figure, merged by run.sh into the table:
 *   R <case> <value> <unit>     a median (ns per operation, ms, bytes)
 *   F <case> <n>                the case could not be set up: it failed after n steps
 *   F <case> unsupported        the variant lacks what the case needs (a note says what)
 *   N <case> <text...>          a note (system calls per operation, counts, mechanisms)
 * Case keys are the same in all variants; run.sh owns their descriptions and targets. */
#ifndef BENCH_HARNESS_H
#define BENCH_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#include <psapi.h>
#define bh_yield() SwitchToThread()
#else
#include <pthread.h>
#include <sched.h>
#include <time.h>
#define bh_yield() sched_yield()
#endif

#define BH_KIB  ((size_t)1 << 10)
#define BH_MIB  ((size_t)1 << 20)
#define BH_GIB  ((size_t)1 << 30)
#define BH_PAGE 4096u

/* ---- the cases' parameters: identical in every variant ------------------------------------ */

#define BH_SEED         0x9E3779B97F4A7C15ULL
#define BH_SMALL        (64 * BH_KIB) /* reserve+commit+touch+release; two threads     */
#define BH_RESERVE      (1 * BH_MIB)  /* reserve+release, never touched                */
#define BH_COMMIT_SPAN  (1 * BH_GIB)  /* one page committed in it, touched, decommitted */
#define BH_PROTECT_SPAN (64 * BH_MIB) /* one page's protection toggled in it            */
#define BH_REGION       (64 * BH_KIB) /* query: live regions of this size              */
#define BH_QUERY_ADDRS  65536         /* random query addresses, cycled                 */
#define BH_TIB_COUNT    16            /* 16 x 64 GiB = 1 TiB reserved                   */
#define BH_TIB_SIZE     ((size_t)64 << 30)
#define BH_TIB_PAGES    1000          /* scattered pages committed, touched, queried    */
#define BH_THREAD_OPS   2000          /* per thread and sample                          */
#define BH_ISLAND_SPAN  (2 * BH_GIB)  /* fragmented heap: one-page islands across it */
#define BH_VIEW         (64 * BH_KIB) /* view64k: the view; ring: each half of the ring */

/* Full mode by default; --quick divides every repetition count (and drops the 1M-region case)
 * so that a run takes seconds: CI uses it to check the programs work, never their timings. */
static int bh_quick;
/* --only a,b,...: run only these cases (alloc64k reserve1m commitpage protect 10k 100k 1m tib
 * threads2 islands view64k ring), e.g. to profile one of them with perf. */
static const char *bh_only;

static inline int bh_parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            bh_quick = 1;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            bh_only = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--quick] [--only case,case,...]\n", argv[0]);
            return -1;
        }
    }
    return 0;
}

static inline int bh_want(const char *name)
{
    size_t n = strlen(name);
    for (const char *p = bh_only; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0))
            return 1;
    }
    return bh_only == NULL;
}

/* n repetitions in full mode, n / 20 (at least 3) in quick mode. */
static inline int bh_reps(int n)
{
    if (!bh_quick)
        return n;
    return n / 20 < 3 ? 3 : n / 20;
}

static inline uint64_t bh_now_ns(void)
{
#ifdef _WIN32
    static LARGE_INTEGER freq;
    LARGE_INTEGER t;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&t);
    return (uint64_t)((double)t.QuadPart * 1e9 / (double)freq.QuadPart);
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

/* xorshift64*: the same sequence in every variant, so all three touch the same pages. */
static inline uint64_t bh_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline int bh_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place. */
static inline double bh_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bh_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void bh_result(const char *key, double value, const char *unit)
{
    printf("R %s %.4g %s\n", key, value, unit);
    fflush(stdout);
}

static inline void bh_fail(const char *key, long long reached)
{
    printf("F %s %lld\n", key, reached);
    fflush(stdout);
}

/* The variant does not have what the case needs (Wine 8.0: no placeholders): why, as a note. */
static inline void bh_unsupported(const char *key, const char *why)
{
    printf("F %s unsupported\nN %s %s\n", key, key, why);
    fflush(stdout);
}

#define bh_note(key, ...)                                                                          \
    do {                                                                                           \
        printf("N %s ", key);                                                                      \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        fflush(stdout);                                                                            \
    } while (0)

/* Runs body `batch` times per sample, `samples` samples; reports the median ns per run of body
 * under key. Inside body, bh_i counts runs from 0 across all samples. A macro, not a callback,
 * so that nothing but the body itself is timed (a query costs tens of nanoseconds). */
#define BH_TIMED(key, samples, batch, body)                                                        \
    do {                                                                                           \
        int bh_n_ = (samples);                                                                     \
        double *bh_v_ = malloc(sizeof(double) * (size_t)bh_n_);                                    \
        long bh_i = 0;                                                                             \
        for (int bh_s_ = 0; bh_s_ < bh_n_; bh_s_++) {                                              \
            uint64_t bh_t0_ = bh_now_ns();                                                         \
            for (long bh_b_ = 0; bh_b_ < (batch); bh_b_++, bh_i++) {                               \
                body;                                                                              \
            }                                                                                      \
            bh_v_[bh_s_] = (double)(bh_now_ns() - bh_t0_) / (double)(batch);                       \
        }                                                                                          \
        (void)bh_i;                                                                                \
        bh_result(key, bh_median(bh_v_, bh_n_), "ns");                                             \
        free(bh_v_);                                                                               \
    } while (0)

/* ---- two threads started together --------------------------------------------------------- */

typedef struct bh_thread_arg {
    void (*fn)(void *ctx);
    void *ctx;
    volatile int *gate; /* both threads spin until it opens, so they really overlap */
} bh_thread_arg;

#ifdef _WIN32
static DWORD WINAPI bh_thread_main(LPVOID p)
#else
static void *bh_thread_main(void *p)
#endif
{
    bh_thread_arg *a = p;
    __atomic_add_fetch(a->gate, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(a->gate, __ATOMIC_ACQUIRE) < 2)
        bh_yield(); /* 2 CPUs: let the other thread start */
    a->fn(a->ctx);
    return 0;
}

/* Runs fn(ctx0) and fn(ctx1) on two new threads; returns the wall time in ns from the moment
 * both are running until both are done. */
static inline uint64_t bh_run2(void (*fn)(void *), void *ctx0, void *ctx1)
{
    volatile int gate = 0;
    bh_thread_arg a[2] = {{fn, ctx0, &gate}, {fn, ctx1, &gate}};
#ifdef _WIN32
    HANDLE t[2];
    for (int i = 0; i < 2; i++)
        t[i] = CreateThread(NULL, 0, bh_thread_main, &a[i], 0, NULL);
    while (__atomic_load_n(&gate, __ATOMIC_ACQUIRE) < 2)
        bh_yield();
    uint64_t t0 = bh_now_ns();
    WaitForMultipleObjects(2, t, TRUE, INFINITE);
    uint64_t t1 = bh_now_ns();
    CloseHandle(t[0]);
    CloseHandle(t[1]);
#else
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, bh_thread_main, &a[i]);
    while (__atomic_load_n(&gate, __ATOMIC_ACQUIRE) < 2)
        bh_yield();
    uint64_t t0 = bh_now_ns();
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    uint64_t t1 = bh_now_ns();
#endif
    return t1 - t0;
}

/* The TiB case's next BH_TIB_PAGES scattered pages, as (reservation << 40 | offset). A new
 * set for every sample: reusing the pages would let a library that keeps per-chunk state
 * across releases (winvmem's guard-marker chunks) measure a warm case the first run never has. */
static inline void bh_tib_pages(uint64_t *seed, uintptr_t *pages)
{
    for (int j = 0; j < BH_TIB_PAGES; j++)
        pages[j] = (uintptr_t)(bh_rand(seed) % BH_TIB_COUNT) << 40 |
                   (bh_rand(seed) % (BH_TIB_SIZE / BH_PAGE)) * BH_PAGE;
}

/* The region-count cases: 10,000, 100,000 and (full mode) 1,000,000 live regions. */
static inline void bh_region_cases(void (*run)(long n, const char *tag))
{
    if (bh_want("10k"))
        run(10000, "10k");
    if (bh_want("100k"))
        run(100000, "100k");
    if (!bh_quick && bh_want("1m"))
        run(1000000, "1m");
}

/* The fragmented-heap cases (issue 14): 256, 16,384 and 131,072 committed one-page islands
 * spread evenly over a BH_ISLAND_SPAN reservation, all read-write ("isl_N"), alternately
 * read-only and read-write ("islalt_N"), alternately NOACCESS (committed, never touched)
 * and read-write ("islna_N"), or alternately NOACCESS holding data (written before) and
 * read-write ("isldna_N"): the island mode `alternate` is BH_ISL_*. */
enum { BH_ISL_RW, BH_ISL_READONLY, BH_ISL_NOACCESS, BH_ISL_NOACCESS_DATA };
static inline void bh_island_cases(void (*run)(long n, int alternate, const char *key))
{
    static const long counts[] = {256, 16384, 131072};
    static const char *const tags[] = {"256", "16k", "128k"};
    static const char *const modes[] = {"isl", "islalt", "islna", "isldna"};
    if (!bh_want("islands"))
        return;
    for (int alt = BH_ISL_RW; alt <= BH_ISL_NOACCESS_DATA; alt++)
        for (int i = 0; i < 3; i++) {
            char key[32];
            snprintf(key, sizeof key, "%s_%s", modes[alt], tags[i]);
            run(counts[i], alt, key);
        }
}

/* Lines of /proc/self/maps (the process's kernel mappings), or -1 where it cannot be read
 * (under Wine it may not be). */
static inline long bh_map_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    long n = 0;
    for (int c; (c = fgetc(f)) != EOF;)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Key of the island toggle measured in an alternating island case: "islalt_N" -> "islprot_N"
 * (a read-only island made read-write and read-only again), "islna_N" -> "islnaprot_N" (the
 * same for a NOACCESS island); with what = "guard", "islna_N" -> "islguard_N" (a NOACCESS
 * island made PAGE_GUARD | PAGE_READWRITE, touched once, made NOACCESS again). */
static inline void bh_island_prot_key(const char *key, char *out, size_t cap)
{
    const char *n = strchr(key, '_') + 1;
    snprintf(out, cap, "%s_%s",
             !strncmp(key, "islna_", 6)    ? "islnaprot"
             : !strncmp(key, "isldna_", 7) ? "isldnaprot"
                                           : "islprot",
             n);
}

/* ...and "isldna_N" -> "isldguard_N": the same with the island's data. */
static inline void bh_island_guard_key(const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "%s_%s", strncmp(key, "isldna_", 7) ? "islguard" : "isldguard",
             strchr(key, '_') + 1);
}

/* A random page strictly between island i and island i + 1 (stride bytes apart). */
static inline size_t bh_island_gap(uint64_t *seed, long n, size_t stride)
{
    size_t island = bh_rand(seed) % (uint64_t)n;
    return island * stride + (1 + bh_rand(seed) % (stride / BH_PAGE - 1)) * BH_PAGE;
}

/* The two-thread case: cycle() BH_THREAD_OPS times on each of two threads at once; reports the
 * median wall time per operation (the operations of both threads counted). */
static void (*bh_cycle)(void);

static inline void bh_cycles(void *ctx)
{
    for (int i = 0; i < BH_THREAD_OPS; i++)
        bh_cycle();
}

static inline void bh_case_threads2(void (*cycle)(void))
{
    int samples = bh_reps(21);
    double *t;
    if (!bh_want("threads2"))
        return;
    t = malloc(sizeof(double) * (size_t)samples);
    bh_cycle = cycle;
    for (int rep = 0; rep < samples; rep++)
        t[rep] = (double)bh_run2(bh_cycles, NULL, NULL) / (2.0 * BH_THREAD_OPS);
    bh_result("threads2", bh_median(t, samples), "ns");
    free(t);
}

/* ---- the driver: every case, in order, those --only selects ------------------------------- */

typedef struct bh_cases {
    void (*alloc64k)(void), (*reserve1m)(void), (*commitpage)(void), (*protect)(void);
    void (*regions)(long n, const char *tag); /* NULL: no query cases in this variant */
    void (*tib)(void);                        /* NULL: likewise */
    void (*cycle64k)(void);                   /* one alloc64k cycle, run on two threads */
    void (*islands)(long n, int alternate, const char *key);
    void (*view64k)(void); /* map + touch + unmap a 64 KiB view of a section */
    void (*ring)(void);    /* a 64 KiB magic ring buffer made and undone (placeholders) */
} bh_cases;

static inline void bh_run_cases(const bh_cases *c)
{
    if (bh_want("alloc64k"))
        c->alloc64k();
    if (bh_want("reserve1m"))
        c->reserve1m();
    if (bh_want("commitpage"))
        c->commitpage();
    if (bh_want("protect"))
        c->protect();
    if (c->regions)
        bh_region_cases(c->regions);
    if (c->tib && bh_want("tib"))
        c->tib();
    bh_case_threads2(c->cycle64k);
    if (c->view64k && bh_want("view64k"))
        c->view64k();
    if (c->ring && bh_want("ring"))
        c->ring();
    /* Last: the alternating 128k-island case may use up vm.max_map_count (protections are
     * mprotect splits), and what a variant cannot undo at that limit would make every later case
     * of the process fail for a reason that is not its own. (winvmem's release of the islands'
     * reservation failed with ERROR_NOT_ENOUGH_MEMORY while a60081f was in; the case notes a
     * failed release; tests/scale/test_islands.c holds the release to account.) */
    if (c->islands)
        bh_island_cases(c->islands);
}

/* ---- memory ---------------------------------------------------------------------------------- */

/* The resident set size in bytes (Wine fills WorkingSetSize from /proc/self/status). */
static inline uint64_t bh_rss_bytes(void)
{
#ifdef _WIN32
    PROCESS_MEMORY_COUNTERS c = {.cb = sizeof c};
    if (!GetProcessMemoryInfo(GetCurrentProcess(), &c, sizeof c))
        return 0;
    return c.WorkingSetSize;
#else
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kib = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %llu", (unsigned long long *)&kib) == 1)
            break;
    fclose(f);
    return kib * 1024;
#endif
}

/* Bytes of page tables (VmPTE), or -1 where the system does not say (Wine). */
static inline int64_t bh_pte_bytes(void)
{
#ifdef _WIN32
    return -1;
#else
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kib = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmPTE: %lld", &kib) == 1)
            break;
    fclose(f);
    return kib < 0 ? -1 : kib * 1024;
#endif
}

/* Memory per region after n regions were made (rss0, pte0: before): the resident set's growth
 * ("rss_<tag>") and the page tables' ("pte_<tag>"), in bytes per region. */
static inline void bh_region_memory(const char *tag, long n, uint64_t rss0, int64_t pte0)
{
    char key[32];
    snprintf(key, sizeof key, "rss_%s", tag);
    bh_result(key, (double)((int64_t)bh_rss_bytes() - (int64_t)rss0) / (double)n, "B");
    int64_t pte = bh_pte_bytes();
    if (pte >= 0 && pte0 >= 0) {
        snprintf(key, sizeof key, "pte_%s", tag);
        bh_result(key, (double)(pte - pte0) / (double)n, "B");
    }
}

#endif
