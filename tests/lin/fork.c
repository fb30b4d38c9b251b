/* fork() as a checker operation (fork.h). */
#include "fork.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <winvmem/win32.h>

#include "exec.h"

enum { FORK_OK, FORK_HUNG, FORK_CRASHED, FORK_CALLS_FAILED, FORK_PIPE, FORK_EXIT };
static const char *const failures[] = {
    "ok",
    "the forked child did not finish within "
    "60"
    " s: deadlock (a winvmem lock held by "
    "another thread at the fork?)",
    "the forked child died of a signal",
    "the forked child's own VirtualAlloc/VirtualQuery/VirtualFree failed",
    "the forked child's report was cut short",
    "the forked child exited with a non-zero status (a sanitizer report at its exit?)"};

/* Views of this round: per fork, slots * (count, then up to slot_pages regions). */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static rm_mbi *store;
static uint32_t *index_; /* per view, per slot: offset into store, count */
static size_t nstore, capstore, nindex, capindex;
static uint32_t slots_per_view;
static uint64_t forks, longest_ms;

void lin_fork_round_start(void)
{
    nstore = nindex = 0;
}

void lin_fork_view(int32_t view, uint32_t slot, const rm_mbi **v, uint32_t *n)
{
    const uint32_t *ix = &index_[((size_t)view * slots_per_view + slot) * 2];
    *v = &store[ix[0]];
    *n = ix[1];
}

const char *lin_fork_failure(const lin_rec *r)
{
    return failures[r->res.err < sizeof failures / sizeof *failures ? r->res.err : FORK_PIPE];
}

void lin_fork_stats(void)
{
    if (forks)
        printf("lin_check: %llu forks, slowest child %llu ms\n", (unsigned long long)forks,
               (unsigned long long)longest_ms);
}

void lin_fork_done(void)
{
    free(store);
    free(index_);
    store = NULL;
    index_ = NULL;
    nstore = capstore = nindex = capindex = 0;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* In the child: only async-signal-safe calls and winvmem. */
static __attribute__((noreturn)) void child(const lin_window *w, int fd)
{
    for (uint32_t s = 0; s < w->slots; s++) {
        char *base = lin_slot_base(w, s);
        rm_mbi v[256];
        uint32_t n = 0;
        for (uint32_t p = 0; p < w->slot_pages && n < 256;) {
            MEMORY_BASIC_INFORMATION m;
            if (VirtualQuery(base + (size_t)p * RM_PAGE, &m, sizeof m) != sizeof m)
                break;
            lin_mbi_to_model(&m, base, &v[n++]);
            uint64_t adv = m.RegionSize / RM_PAGE;
            p += adv ? (uint32_t)(adv < w->slot_pages ? adv : w->slot_pages) : w->slot_pages;
        }
        if (write_all(fd, &n, sizeof n) || write_all(fd, v, n * sizeof *v))
            _exit(FORK_PIPE);
    }
    int status = FORK_OK;
    char *q = VirtualAlloc(NULL, 1 << 16, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    MEMORY_BASIC_INFORMATION m;
    if (!q)
        status = FORK_CALLS_FAILED;
    else {
        q[100] = 1;
        if (VirtualQuery(q, &m, sizeof m) != sizeof m || m.State != MEM_COMMIT ||
            !VirtualFree(q, 0, MEM_RELEASE))
            status = FORK_CALLS_FAILED;
    }
    write_all(fd, &status, sizeof status);
    _exit(0);
}

static int read_all(int fd, void *p, size_t n, double deadline)
{
    char *c = p;
    while (n) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        double left = deadline - ((double)t.tv_sec + (double)t.tv_nsec * 1e-9);
        if (left <= 0)
            return FORK_HUNG;
        struct pollfd pf = {fd, POLLIN, 0};
        int k = poll(&pf, 1, (int)(left * 1000) + 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k == 0)
            return FORK_HUNG;
        ssize_t got = read(fd, c, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return FORK_PIPE;
        c += got;
        n -= (size_t)got;
    }
    return FORK_OK;
}

static void reserve_views(uint32_t slots, uint32_t slot_pages)
{
    slots_per_view = slots;
    if (nindex + 2 * (size_t)slots > capindex) {
        capindex = (nindex + 2 * (size_t)slots) * 2;
        index_ = realloc(index_, capindex * sizeof *index_);
    }
    if (nstore + (size_t)slots * slot_pages > capstore) {
        capstore = (nstore + (size_t)slots * slot_pages) * 2;
        store = realloc(store, capstore * sizeof *store);
    }
    if (!index_ || !store) {
        fprintf(stderr, "lin: out of memory for fork views\n");
        abort();
    }
}

void lin_fork_call(const lin_window *w, uint32_t thread, _Atomic uint64_t *clk, lin_rec *r)
{
    (void)thread;
    r->op = (rm_op){.kind = RM_VIEW};
    int fd[2];
    if (pipe(fd)) {
        perror("lin: pipe");
        exit(2);
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r->inv = atomic_fetch_add(clk, 1);
    pid_t pid = fork();
    r->resp = atomic_fetch_add(clk, 1);
    if (pid == 0) {
        close(fd[0]);
        child(w, fd[1]);
    }
    close(fd[1]);
    if (pid < 0) {
        perror("lin: fork");
        exit(2);
    }
    double deadline = (double)t0.tv_sec + (double)t0.tv_nsec * 1e-9 + LIN_FORK_TIMEOUT;
    pthread_mutex_lock(&mu);
    reserve_views(w->slots, w->slot_pages);
    int32_t view = (int32_t)(nindex / (2 * (size_t)w->slots));
    int st = FORK_OK;
    for (uint32_t s = 0; s < w->slots && st == FORK_OK; s++) {
        uint32_t n = 0;
        st = read_all(fd[0], &n, sizeof n, deadline);
        if (st == FORK_OK && n > w->slot_pages)
            st = FORK_PIPE;
        if (st == FORK_OK)
            st = read_all(fd[0], &store[nstore], n * sizeof *store, deadline);
        index_[nindex++] = (uint32_t)nstore;
        index_[nindex++] = n;
        nstore += n;
    }
    int status = FORK_PIPE;
    if (st == FORK_OK)
        st = read_all(fd[0], &status, sizeof status, deadline);
    if (st == FORK_OK)
        st = status;
    forks++;
    pthread_mutex_unlock(&mu);
    close(fd[0]);
    int ws = 0;
    if (st == FORK_HUNG)
        kill(pid, SIGKILL);
    pid_t got;
    while ((got = waitpid(pid, &ws, 0)) < 0 && errno == EINTR)
        ;
    if (got != pid) {
        perror("lin: waitpid");
        exit(2);
    }
    /* The child reports FORK_OK before it exits: what happens after (a crash in an atfork or
     * exit path, a sanitizer's exit-time report) must fail the run too. */
    if (st == FORK_OK && WIFSIGNALED(ws))
        st = FORK_CRASHED;
    if (st == FORK_OK && WIFEXITED(ws) && WEXITSTATUS(ws))
        st = FORK_EXIT;
    if (st == FORK_PIPE && WIFSIGNALED(ws) && WTERMSIG(ws) != SIGKILL)
        st = FORK_CRASHED;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t ms = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    pthread_mutex_lock(&mu);
    if (ms > longest_ms)
        longest_ms = ms;
    pthread_mutex_unlock(&mu);
    r->view = view;
    r->res.ok = st == FORK_OK;
    r->res.err = (uint32_t)st;
}
