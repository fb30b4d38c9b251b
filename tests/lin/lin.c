/* lin_check: the linearizability checker (tests/lin/README.md).
 *
 * Rounds of: N worker threads run random operations on the slots of a private window of
 * address space, each call stamped with a global counter before and after it; then, alone, the
 * main thread walks and empties every slot (recorded too); then every slot's history is
 * searched for a sequential order that the reference model (tests/model) accepts and that
 * respects real time. Exit 0: every history explained; 1: a violation (printed with the
 * operations involved); 3: a search ran out of budget (nothing was proven for that slot). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#include "exec.h"
#include "fork.h"
#include "gen.h"
#include "lin.h"
#include "split.h"

typedef struct opts {
    uint32_t threads, ops, rounds, slots, granules, nhot;
    uint64_t seed, budget;
    double seconds; /* > 0: run rounds until this much time has passed */
    uint32_t extbuf, forks, locks;
    int verbose, keep_going, prefill;
    uint32_t skip;           /* rm_kind bits replaced by queries (--no) */
    uint32_t mix[RM_NKINDS]; /* --mix, else lin_default_mix */
} opts;

static opts o = {.threads = 4,
                 .ops = 400,
                 .rounds = 50,
                 .slots = 16,
                 .granules = 4,
                 .nhot = 2,
                 .seed = 1,
                 .budget = 20000000,
                 .extbuf = 150,
                 .forks = 2,
                 .locks = 1};
static _Atomic uint64_t clk = 1;
static lin_window win;
static int trace, guard_prots, no_write_watch;
static uint64_t kind_n[RM_NKINDS], kind_ok[RM_NKINDS];

typedef struct worker {
    pthread_t th;
    uint32_t id;
    uint64_t seed;
    lin_hint *hints;
    lin_rec *recs;
    uint32_t n;
    pthread_barrier_t *start;
} worker;

static lin_gen gen;

static void record(lin_rec *r, const lin_call *c)
{
    memset(r, 0, sizeof *r);
    r->op = c->op;
    r->slot = c->slot;
    r->buf_slot = c->buf_slot;
    r->view = -1;
}

static void run_call(uint32_t thread, const lin_call *c, lin_rec *r)
{
    record(r, c);
    if (c->fork) {
        lin_fork_call(&win, thread, &clk, r);
        return;
    }
    void *buf = c->buf_slot >= 0 ? lin_buffer(&win, (uint32_t)c->buf_slot, thread) : NULL;
    r->inv = atomic_fetch_add(&clk, 1);
    lin_exec(lin_slot_base(&win, c->slot), &c->op, buf, &r->res, &r->abs_base, &r->abs_size);
    r->resp = atomic_fetch_add(&clk, 1);
    if (trace) {
        char b[600] = "";
        rm_describe(b, sizeof b, &r->op, &r->res);
        fprintf(stderr, "trace t%u slot %u: %s\n", thread, c->slot, b);
    }
}

static void *work(void *arg)
{
    worker *w = arg;
    uint64_t seed = w->seed;
    memset(w->hints, 0, win.slots * sizeof *w->hints);
    pthread_barrier_wait(w->start);
    for (uint32_t i = 0; i < w->n; i++) {
        lin_call c;
        lin_gen_op(&gen, &seed, w->hints, &c);
        run_call(w->id, &c, &w->recs[i]);
        lin_gen_learn(&gen, w->hints, &c, &w->recs[i].res);
    }
    lin_exec_thread_end();
    return NULL;
}

/* Alone after the workers: one query per region of every slot, then the release of every
 * allocation found, so that the next round starts from empty slots. Both are recorded: they
 * come after every worker call in real time and pin down the round's final state. */
/* --prefill: alone, before the workers, one committed read-write reservation over each slot
 * (recorded), so that a round can run without reservations of its own. */
static uint32_t prefill(lin_rec *recs)
{
    for (uint32_t s = 0; s < win.slots; s++) {
        lin_call c = {s,
                      -1,
                      0,
                      {.kind = RM_RESERVE,
                       .page = 0,
                       .npages = win.slot_pages,
                       .type = MEM_RESERVE | MEM_COMMIT,
                       .prot = PAGE_READWRITE}};
        run_call(UINT32_MAX, &c, &recs[s]);
    }
    return win.slots;
}

static uint32_t audit(lin_rec *recs, uint32_t cap)
{
    uint32_t n = 0;
    for (uint32_t s = 0; s < win.slots; s++) {
        uint32_t bases[64], nb = 0;
        for (uint32_t p = 0; p < win.slot_pages && n < cap;) {
            lin_call c = {s, -1, 0, {.kind = RM_QUERY, .page = p}};
            lin_rec *r = &recs[n++];
            run_call(UINT32_MAX, &c, r);
            if (!r->res.ok || !r->abs_size ||
                r->abs_base != (uintptr_t)lin_slot_base(&win, s) + (uint64_t)p * RM_PAGE)
                break; /* the check reports it */
            if (r->res.mbi.state != MEM_FREE && r->res.mbi.alloc_base >= 0 &&
                r->res.mbi.alloc_base < (int64_t)win.slot_pages * RM_PAGE && nb < 64 &&
                (!nb || bases[nb - 1] != (uint32_t)(r->res.mbi.alloc_base / RM_PAGE)))
                bases[nb++] = (uint32_t)(r->res.mbi.alloc_base / RM_PAGE);
            p += (uint32_t)((r->abs_size + RM_PAGE - 1) / RM_PAGE);
        }
        for (uint32_t i = 0; i < nb && n < cap; i++) {
            lin_call c = {s, -1, 0, {.kind = RM_RELEASE, .page = bases[i]}};
            run_call(UINT32_MAX, &c, &recs[n++]);
        }
    }
    return n;
}

static int g_argc;
static char **g_argv;

/* The command again (the same operations per thread; the interleaving is the scheduler's). */
static void rerun(void)
{
    fprintf(stderr, "  rerun (same calls per thread, the interleaving is the scheduler's):");
    int seeded = 0;
    for (int i = 0; i < g_argc; i++) {
        fprintf(stderr, " %s", g_argv[i]);
        seeded |= !strcmp(g_argv[i], "--seed");
    }
    if (!seeded)
        fprintf(stderr, " --seed %llu", (unsigned long long)o.seed);
    fprintf(stderr, "\n");
}

static double now(void);
static double t_start;
static uint32_t cur_round;

static void on_crash(void)
{
    fprintf(stderr,
            "lin_check: CRASHED in round %u (seed %llu) after %.1f s and about %llu calls\n",
            cur_round, (unsigned long long)o.seed, now() - t_start,
            (unsigned long long)atomic_load(&clk) / 2);
    rerun();
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: lin_check [--threads N] [--ops N per thread and round] [--rounds N]\n"
            "                 [--seconds S (rounds until then)] [--seed N] [--slots N]\n"
            "                 [--granules N per slot, 1-4] [--hot N] [--extbuf PERMILLE]\n"
            "                 [--forks PERMILLE] [--locks 0|1] [--no KIND,...] [--budget STEPS]\n"
            "                 [--mix KIND=WEIGHT,...] [--keep-going] [--prefill] [--guard-prots]\n"
            "                 [--no-write-watch (reservations never MEM_WRITE_WATCH)]\n"
            "                 [--verbose]\n"
            "  KIND: reserve commit decommit release protect query reset reset_undo lock unlock\n"
            "        ww_get ww_reset read write (replaced by queries)\n");
    exit(2);
}

static void parse(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            o.verbose++;
            continue;
        }
        if (!strcmp(a, "--keep-going")) {
            o.keep_going = 1;
            continue;
        }
        if (!strcmp(a, "--prefill")) {
            o.prefill = 1;
            continue;
        }
        if (!strcmp(a, "--guard-prots")) {
            guard_prots = 1;
            continue;
        }
        if (!strcmp(a, "--no-write-watch")) {
            no_write_watch = 1;
            continue;
        }
        if (!strcmp(a, "--mix") && i + 1 < argc) {
            memset(o.mix, 0, sizeof o.mix);
            for (const char *k = argv[++i]; *k; k += strcspn(k, ","), k += *k == ',') {
                unsigned j = 0;
                size_t len = strcspn(k, "=");
                while (j < RM_FREECHECK &&
                       (strlen(rm_kind_name(j)) != len || strncmp(rm_kind_name(j), k, len)))
                    j++;
                if (j == RM_FREECHECK || k[len] != '=')
                    usage();
                o.mix[j] = (uint32_t)strtoul(k + len + 1, NULL, 10);
            }
            continue;
        }
        if (!strcmp(a, "--no") && i + 1 < argc) {
            for (const char *k = argv[++i]; *k; k += strcspn(k, ","), k += *k == ',') {
                unsigned j = 0;
                size_t len = strcspn(k, ",");
                while (j < RM_NKINDS &&
                       (strlen(rm_kind_name(j)) != len || strncmp(rm_kind_name(j), k, len)))
                    j++;
                if (j == RM_NKINDS || j >= RM_FREECHECK)
                    usage();
                o.skip |= 1u << j;
            }
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (*end || errno || d < 0)
            usage();
        uint64_t u = (uint64_t)d;
        const struct {
            const char *name;
            uint32_t *v;
        } nums[] = {{"--threads", &o.threads}, {"--ops", &o.ops},           {"--rounds", &o.rounds},
                    {"--slots", &o.slots},     {"--granules", &o.granules}, {"--hot", &o.nhot},
                    {"--extbuf", &o.extbuf},   {"--forks", &o.forks},       {"--locks", &o.locks}};
        size_t k = 0;
        while (k < sizeof nums / sizeof *nums && strcmp(a, nums[k].name))
            k++;
        if (k < sizeof nums / sizeof *nums)
            *nums[k].v = (uint32_t)u;
        else if (!strcmp(a, "--seconds"))
            o.seconds = d;
        else if (!strcmp(a, "--seed"))
            o.seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--budget"))
            o.budget = u;
        else
            usage();
    }
    if (!o.threads || o.threads > 64 || !o.slots || o.slots > 4096 || !o.granules ||
        o.granules > 4 || o.nhot > o.slots)
        usage();
}

/* Whether the library runs with WINVMEM_STRICT_DECOMMIT=1 (as winvmem reads it). */
static int strict_decommit(void)
{
    wvm_option_info info;
    for (unsigned i = 0; !wvm_option_get(i, &info); i++)
        if (!strcmp(info.name, "WINVMEM_STRICT_DECOMMIT"))
            return info.value != 0;
    return 1; /* a library without the option brackets every decommit */
}

int main(int argc, char **argv)
{
    memcpy(o.mix, lin_default_mix, sizeof o.mix);
    parse(argc, argv);
    g_argc = argc;
    g_argv = argv;
    trace = getenv("LIN_TRACE") != NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    lin_exec_init();
    lin_exec_crash_hook = on_crash;
    lin_window_init(&win, o.slots, o.granules * RM_GRAN);
    int strict = strict_decommit();
    if (!strict) /* finding (h) as documented (doc/porting.md) */
        rm_deviations |= RM_DEV_DECOMMIT_READ_ZERO;
    uint32_t hot[64];
    gen = (lin_gen){.slots = win.slots,
                    .slot_pages = win.slot_pages,
                    .lock_pages = o.locks ? win.lock_pages : 0,
                    .hot = hot,
                    .nhot = o.nhot,
                    .extbuf_permille = o.extbuf,
                    .fork_permille = o.forks,
                    .skip = o.skip,
                    .guard_prots = guard_prots,
                    .no_write_watch = no_write_watch};
    memcpy(gen.mix, o.mix, sizeof gen.mix);
    worker *ws = calloc(o.threads, sizeof *ws);
    uint32_t audit_cap = win.slots * (win.slot_pages + 65);
    lin_rec *audit_recs = calloc(audit_cap, sizeof *audit_recs);
    for (uint32_t t = 0; t < o.threads; t++) {
        ws[t].id = t;
        ws[t].hints = calloc(win.slots, sizeof *ws[t].hints);
        ws[t].recs = calloc(o.ops, sizeof *ws[t].recs);
        ws[t].n = o.ops;
    }
    printf("lin_check: seed %llu, %u threads x %u ops per round, %u slots of %u pages "
           "(hot %u), extbuf %u/1000, forks %u/1000, %s decommit\n",
           (unsigned long long)o.seed, o.threads, o.ops, win.slots, win.slot_pages, o.nhot,
           o.extbuf, o.forks, strict ? "strict" : "default");
    double t0 = now();
    t_start = t0;
    uint64_t total_ops = 0, steps = 0, max_part = 0, violations = 0, inconclusive = 0;
    uint32_t first_bad_round = 0;
    double first_bad_time = 0;
    uint64_t first_bad_ops = 0;
    int verdict = 0;
    uint32_t round = 0;
    for (; o.seconds > 0 ? now() - t0 < o.seconds : round < o.rounds; round++) {
        cur_round = round;
        uint64_t rs = o.seed * 0x100000001b3ull + round;
        for (uint32_t h = 0; h < o.nhot; h++)
            hot[h] = (uint32_t)(lin_rand(&rs) % win.slots);
        for (uint32_t t = 0; t < o.threads; t++) {
            ws[t].seed = (o.seed << 20) ^ ((uint64_t)round << 8) ^ t;
            lin_rand(&ws[t].seed);
        }
        lin_fork_round_start();
        uint32_t np = o.prefill ? prefill(audit_recs) : 0;
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, o.threads);
        for (uint32_t t = 0; t < o.threads; t++) {
            ws[t].start = &start;
            if (pthread_create(&ws[t].th, NULL, work, &ws[t])) {
                fprintf(stderr, "lin: pthread_create failed\n");
                return 2;
            }
        }
        for (uint32_t t = 0; t < o.threads; t++)
            pthread_join(ws[t].th, NULL);
        pthread_barrier_destroy(&start);
        uint32_t na = np + audit(audit_recs + np, audit_cap - np);
        lin_history h = {o.threads, NULL, NULL, audit_recs, na};
        const lin_rec *recs[64];
        uint32_t lens[64];
        for (uint32_t t = 0; t < o.threads; t++) {
            recs[t] = ws[t].recs;
            lens[t] = ws[t].n;
        }
        h.recs = recs;
        h.lens = lens;
        for (uint32_t t = 0; t < o.threads; t++)
            for (uint32_t i = 0; i < ws[t].n; i++) {
                const lin_rec *r = &ws[t].recs[i];
                kind_n[r->op.kind]++;
                kind_ok[r->op.kind] += r->res.ok && r->res.fault == RM_NOFAULT;
            }
        lin_round_result rr;
        char label[64];
        snprintf(label, sizeof label, "seed%llu-round%u", (unsigned long long)o.seed, round);
        int v = lin_check_round(&win, &h, o.budget, o.keep_going, label, &rr);
        violations += rr.violations;
        inconclusive += v == WGL_BUDGET;
        verdict = verdict == WGL_VIOLATION || v == WGL_VIOLATION ? WGL_VIOLATION
                  : verdict                                      ? verdict
                                                                 : v;
        total_ops += (uint64_t)o.threads * o.ops + na;
        if (v && !first_bad_round)
            first_bad_round = round + 1, first_bad_time = now() - t0, first_bad_ops = total_ops;
        steps += rr.steps;
        if (rr.max_part > max_part)
            max_part = rr.max_part;
        if (o.verbose > 1)
            printf("round %u: %u partitions, largest %u ops, %llu steps\n", round, win.slots,
                   rr.max_part, (unsigned long long)rr.steps);
        if (v) {
            fprintf(stderr,
                    "lin_check: %s in round %u (seed %llu) after %.1f s and %llu operations\n",
                    v == WGL_BUDGET ? "INCONCLUSIVE (search budget exhausted)" : "VIOLATION", round,
                    (unsigned long long)o.seed, now() - t0, (unsigned long long)total_ops);
            if (!o.keep_going) {
                rerun();
                break;
            }
        }
    }
    if (verdict && o.keep_going)
        rerun();
    lin_fork_stats();
    if (o.verbose)
        for (unsigned k = 0; k < RM_NKINDS; k++)
            if (kind_n[k])
                printf("  %-10s %8llu calls, %5.1f%% succeeded\n", rm_kind_name(k),
                       (unsigned long long)kind_n[k],
                       100.0 * (double)kind_ok[k] / (double)kind_n[k]);
    if (verdict)
        printf("lin_check: %llu violations, %llu inconclusive rounds; the first in round %u, "
               "after %.1f s and %llu operations\n",
               (unsigned long long)violations, (unsigned long long)inconclusive,
               first_bad_round - 1, first_bad_time, (unsigned long long)first_bad_ops);
    printf("lin_check: %s: %u rounds, %llu operations, %llu search steps, largest partition "
           "history %llu ops, %.1f s\n",
           verdict == 0 ? "all histories linearizable" : "FAILED",
           round + (verdict && !o.keep_going), (unsigned long long)total_ops,
           (unsigned long long)steps, (unsigned long long)max_part, now() - t0);
    for (uint32_t t = 0; t < o.threads; t++) {
        free(ws[t].hints);
        free(ws[t].recs);
    }
    free(ws);
    free(audit_recs);
    lin_fork_done();
    if (!verdict && wvm_check_invariants()) {
        fprintf(stderr, "lin_check: winvmem's invariant checker failed\n");
        return 1;
    }
    return verdict == 0 ? 0 : verdict == WGL_BUDGET ? 3 : 1;
}
