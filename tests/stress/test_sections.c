/* Many threads mapping and unmapping views of shared sections, committing SEC_RESERVE pages
 * through views, and splitting, replacing and coalescing placeholders, while another thread
 * queries; the SEC_RESERVE section is named, as one other processes commit too. Runs under
 * TSan in CI. Afterwards the model must be consistent and every byte of
 * commit charge returned. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <winvmem/stats.h>
#include <winvmem/win32.h>

/* A plain program, not a Criterion test: Criterion cannot start under ThreadSanitizer. */
#define THREADS 6
#define ROUNDS  400
#define GRAN    ((SIZE_T)0x10000)

static HANDLE committed, reserved;
static _Atomic int stop;

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static int views(unsigned id, unsigned *seed)
{
    char *a = MapViewOfFile(committed, FILE_MAP_WRITE, 0, 0, 0);
    char *b = MapViewOfFile(committed, FILE_MAP_READ, 0, 0, 0);
    if (!a || !b)
        return 1;
    a[id * 4096] = (char)(id + 1);
    if (b[id * 4096] != (char)(id + 1))
        return 2;
    MEMORY_BASIC_INFORMATION m;
    if (VirtualQuery(b + id * 4096, &m, sizeof m) != sizeof m || m.Type != MEM_MAPPED ||
        m.AllocationBase != b || m.Protect != PAGE_READONLY)
        return 3;
    /* commit one 64 KiB piece of the reserved section through a new view */
    char *r = MapViewOfFile(reserved, FILE_MAP_WRITE, 0, 0, 0);
    if (!r)
        return 4;
    SIZE_T off = (next_rand(seed) % 16) * GRAN;
    if (VirtualAlloc(r + off, GRAN, MEM_COMMIT, PAGE_READWRITE) != r + off)
        return 5;
    r[off + id] = 1;
    if (VirtualQuery(r + off, &m, sizeof m) != sizeof m || m.State != MEM_COMMIT)
        return 6;
    if (!UnmapViewOfFile(r) || !UnmapViewOfFile(a) || !UnmapViewOfFile(b + 4096))
        return 7;
    return 0;
}

static int placeholders(unsigned id, unsigned *seed)
{
    (void)seed;
    char *p = VirtualAlloc2(NULL, NULL, 4 * GRAN, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                            PAGE_NOACCESS, NULL, 0);
    if (!p)
        return 10;
    if (!VirtualFree(p + GRAN, GRAN, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER))
        return 11;
    char *v = MapViewOfFile3(committed, NULL, p + GRAN, 0, GRAN, MEM_REPLACE_PLACEHOLDER,
                             PAGE_READWRITE, NULL, 0);
    if (v != p + GRAN)
        return 12;
    v[id] = 3;
    if (!UnmapViewOfFileEx(v, MEM_PRESERVE_PLACEHOLDER))
        return 13;
    if (VirtualAlloc2(NULL, p, GRAN, MEM_RESERVE | MEM_COMMIT | MEM_REPLACE_PLACEHOLDER,
                      PAGE_READWRITE, NULL, 0) != p)
        return 14;
    p[5] = 1;
    if (!VirtualFree(p, GRAN, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER))
        return 15;
    if (!VirtualFree(p, 4 * GRAN, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS))
        return 16;
    if (!VirtualFree(p, 0, MEM_RELEASE))
        return 17;
    return 0;
}

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg, seed = id * 7919u + 1;
    for (int r = 0; r < ROUNDS; r++) {
        int err = views(id, &seed);
        if (!err)
            err = placeholders(id, &seed);
        if (err) {
            fprintf(stderr, "thread %u round %d: step %d, last error %u\n", id, r, err,
                    GetLastError());
            return (void *)1;
        }
    }
    return NULL;
}

static void *querier(void *arg)
{
    (void)arg;
    unsigned seed = 99;
    char *anchor = VirtualAlloc(NULL, GRAN, MEM_RESERVE, PAGE_NOACCESS);
    while (!stop) {
        MEMORY_BASIC_INFORMATION m;
        char *at = anchor + ((SIZE_T)(next_rand(&seed) % 4096) - 2048) * GRAN;
        VirtualQuery(at, &m, sizeof m);
    }
    VirtualFree(anchor, 0, MEM_RELEASE);
    return NULL;
}

int main(void)
{
    wvm_stats before = {.version = WVM_STATS_VERSION, .size = sizeof before}, after = before;
    wvm_stats_get(&before);
    committed = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0,
                                   THREADS * 4096 + GRAN, NULL);
    /* named: its views follow the shared commit bits (core/xview.h) */
    char name[64];
    snprintf(name, sizeof name, "winvmem-stress-sections-%d", (int)getpid());
    reserved = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_RESERVE, 0,
                                  16 * GRAN, name);
    if (!committed || !reserved)
        return 1;
    pthread_t t[THREADS], q;
    pthread_create(&q, NULL, querier, NULL);
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    int failed = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        failed |= r != NULL;
    }
    stop = 1;
    pthread_join(q, NULL);
    CloseHandle(committed);
    CloseHandle(reserved);
    if (wvm_check_invariants())
        failed = 1;
    wvm_stats_get(&after);
    if (after.committed_bytes != before.committed_bytes) {
        fprintf(stderr, "commit charge %llu, was %llu\n", (unsigned long long)after.committed_bytes,
                (unsigned long long)before.committed_bytes);
        failed = 1;
    }
    printf("stress_sections: %s\n", failed ? "FAILED" : "ok");
    return failed;
}
