/* The metadata allocator under threads and fork (a plain program: it runs under TSan).
 * Threads allocate, fill, check and free blocks of every class and hand blocks to each other
 * through a mutex-protected mailbox (frees on another thread than the allocation); the main
 * thread forks meanwhile and each child must allocate and free without hanging. Exits 0 when
 * every block kept its bytes, every child exited cleanly, and the byte count came back. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/meta.h"

enum { THREADS = 4, ROUNDS = 30000, LIVE = 128, BOX = 256, FORKS = 40 };

static pthread_mutex_t box_lock = PTHREAD_MUTEX_INITIALIZER;
static void *box[BOX];
static size_t box_size[BOX];
static _Atomic int failures, stop;

static size_t size_for(uint64_t x)
{
    switch (x % 8) {
    case 0:
        return 20000 + x % 50000; /* large */
    case 1:
        return 1 + x % 16384;
    default:
        return 1 + x % 512; /* the common metadata sizes */
    }
}

static void fill(unsigned char *p, size_t n, unsigned char v)
{
    memset(p, v, n < 64 ? n : 64);
    if (n > 64)
        memset(p + n - 32, v, 32);
}

static int intact(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t k = 0; k < (n < 64 ? n : 64); k++)
        if (p[k] != v)
            return 0;
    for (size_t k = n > 64 ? n - 32 : n; k < n; k++)
        if (p[k] != v)
            return 0;
    return 1;
}

static void *worker(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    uint64_t x = id * 0x9E3779B97F4A7C15ull + 1;
    void *mine[LIVE] = {0};
    size_t msz[LIVE] = {0};
    /* At least ROUNDS, and until the main thread's last fork is done: every fork must find all
     * workers running (the point of the test), and a worker that had finished but was not
     * joined yet is inherited by the child as a finished unjoined thread, which TSan reports
     * as a thread leak when the child exits (status 66, 'child N failed (status 0x4200)'). */
    for (int r = 0; r < ROUNDS || !stop; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int s = (int)(x % LIVE);
        if (mine[s] && !intact(mine[s], msz[s], (unsigned char)(s + id))) {
            fprintf(stderr, "stress_meta: thread %d: block of %zu bytes overwritten\n", (int)id,
                    msz[s]);
            failures++;
        }
        if (mine[s] && x % 5 == 0) { /* swap with the mailbox: another thread frees it */
            pthread_mutex_lock(&box_lock);
            int b = (int)(x / 5 % BOX);
            void *old = box[b];
            size_t osz = box_size[b];
            box[b] = mine[s];
            box_size[b] = msz[s];
            pthread_mutex_unlock(&box_lock);
            wvm__meta_free(old, osz);
        } else {
            wvm__meta_free(mine[s], msz[s]);
        }
        msz[s] = size_for(x >> 3);
        if (!(mine[s] = wvm__meta_alloc(msz[s]))) {
            fprintf(stderr, "stress_meta: out of memory\n");
            failures++;
            break;
        }
        fill(mine[s], msz[s], (unsigned char)(s + id));
    }
    for (int s = 0; s < LIVE; s++)
        wvm__meta_free(mine[s], msz[s]);
    return NULL;
}

static int child(void)
{
    alarm(20); /* a lock held across the fork would hang the child */
    for (unsigned i = 0; i < 3000; i++) {
        size_t n = size_for(i * 2654435761u);
        unsigned char *p = wvm__meta_alloc(n);
        if (!p)
            return 2;
        fill(p, n, 7);
        if (!intact(p, n, 7))
            return 3;
        wvm__meta_free(p, n);
    }
    return 0;
}

int main(void)
{
    size_t before = wvm__meta_bytes();
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (int f = 0; f < FORKS; f++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(child());
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
            fprintf(stderr, "stress_meta: child %d failed (status %#x)\n", f, status);
            failures++;
        }
        usleep(1000);
    }
    stop = 1;
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int b = 0; b < BOX; b++)
        wvm__meta_free(box[b], box_size[b]);
    size_t after = wvm__meta_bytes();
    if (after != before) {
        fprintf(stderr, "stress_meta: %zu bytes in use before, %zu after\n", before, after);
        failures++;
    }
    printf("stress_meta: %d failures; %zu metadata bytes held\n", failures, wvm__meta_held());
    return failures != 0;
}
