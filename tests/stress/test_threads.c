/* Many threads reserving, committing, protecting, querying and releasing at once, on their
 * own allocations and on one shared allocation. Runs under TSan in CI. Afterwards the model
 * must be consistent and every byte of commit charge returned. */
#include <pthread.h>
#include <string.h>

#include <stdio.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

/* A plain program, not a Criterion test: Criterion cannot start under ThreadSanitizer. */
#define KiB ((SIZE_T)1024)

#define THREADS 8
#define ROUNDS  3000

static char *shared;

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        SIZE_T size = (1 + next_rand(&seed) % 32) * 4096;
        char *p = VirtualAlloc(NULL, size, MEM_RESERVE, PAGE_READWRITE);
        if (!p)
            return (void *)1;
        SIZE_T off = (next_rand(&seed) % (size / 4096)) * 4096;
        if (!VirtualAlloc(p + off, 4096, MEM_COMMIT, PAGE_READWRITE))
            return (void *)2;
        p[off] = (char)r;
        DWORD old;
        if (!VirtualProtect(p + off, 4096, PAGE_READONLY, &old) || old != PAGE_READWRITE)
            return (void *)3;
        if (p[off] != (char)r)
            return (void *)4;
        MEMORY_BASIC_INFORMATION m;
        if (VirtualQuery(p + off, &m, sizeof m) != sizeof m || m.Protect != PAGE_READONLY ||
            m.AllocationBase != p)
            return (void *)5;
        /* reserve+commit in one call returns this thread's own allocation (a snapshot
         * retired by the commit was once read after it: regression) */
        char *q = VirtualAlloc(NULL, 64 * 1024, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        if (!q || VirtualQuery(q, &m, sizeof m) != sizeof m || m.AllocationBase != q ||
            m.State != MEM_COMMIT)
            return (void *)9;
        q[0] = 1;
        if (!VirtualFree(q, 0, MEM_RELEASE))
            return (void *)10;
        /* the shared allocation: each thread owns one page of it */
        char *mine = shared + ((uintptr_t)arg % THREADS) * 4096;
        if (!VirtualAlloc(mine, 4096, MEM_COMMIT, PAGE_READWRITE))
            return (void *)6;
        mine[1] = 7;
        if (!VirtualFree(mine, 4096, MEM_DECOMMIT))
            return (void *)7;
        VirtualQuery(shared + next_rand(&seed) % (THREADS * 4096), &m, sizeof m);
        if (!VirtualFree(p, 0, MEM_RELEASE))
            return (void *)8;
    }
    return NULL;
}

static int passed, failed;

static void expect(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "pass" : "FAIL", what);
    ok ? passed++ : failed++;
}

int main(void)
{
    MEMORYSTATUSEX before = {.dwLength = sizeof before}, after = before;
    expect(GlobalMemoryStatusEx(&before), "GlobalMemoryStatusEx before");
    shared = VirtualAlloc(NULL, THREADS * 4096, MEM_RESERVE, PAGE_READWRITE);
    expect(shared != NULL, "shared reservation");
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        if (r)
            printf("worker %d failed at step %lu\n", i, (unsigned long)(uintptr_t)r);
        expect(r == NULL, "worker finished every round");
    }
    expect(wvm_check_invariants() == 0, "invariants hold afterwards");
    expect(VirtualFree(shared, 0, MEM_RELEASE), "release shared");
    expect(GlobalMemoryStatusEx(&after), "GlobalMemoryStatusEx after");
    expect(after.ullAvailPageFile == before.ullAvailPageFile, "all commit charge returned");
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
