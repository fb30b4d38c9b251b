/* Out-parameters in memory another thread decommits or protects at the same time (issue 11,
 * bug 5): VirtualQuery's buffer, VirtualProtect's lpflOldProtect, GetWriteWatch's array and
 * count. Every call succeeds or fails with ERROR_NOACCESS; none may crash the process.
 * A plain program (run under TSan too). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <winvmem/win32.h>

#define ROUNDS 5000
#define PG     4096

static char *out;     /* one page, committed and decommitted, or protected, by the toggler */
static char *watched; /* a write-watch allocation the calls look at */
static char *target;  /* a plain committed page for VirtualProtect */
static _Atomic int stop;

static void *toggle(void *arg)
{
    (void)arg;
    DWORD old;
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        switch (i % 4) {
        case 0:
            VirtualFree(out, PG, MEM_DECOMMIT);
            break;
        case 1:
            VirtualAlloc(out, PG, MEM_COMMIT, PAGE_READWRITE);
            break;
        case 2:
            VirtualProtect(out, PG, i % 8 < 4 ? PAGE_NOACCESS : PAGE_READONLY, &old);
            break;
        default:
            VirtualProtect(out, PG, PAGE_READWRITE, &old);
            break;
        }
    }
    return NULL;
}

/* The test's own store into the toggled page, through the kernel: it must not crash either. */
static int store(void *dst, const void *src, size_t n)
{
    struct iovec l = {(void *)src, n}, r = {dst, n};
    return process_vm_writev(getpid(), &l, 1, &r, 1, 0) == (ssize_t)n;
}

static int failures;

static void expect(int ok, const char *what, unsigned round)
{
    if (!ok && failures++ < 5)
        printf("FAIL: %s in round %u (error %u)\n", what, round, (unsigned)GetLastError());
}

int main(void)
{
    out = VirtualAlloc(NULL, PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    watched =
        VirtualAlloc(NULL, 16 * PG, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    target = VirtualAlloc(NULL, PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!out || !watched || !target) {
        printf("FAIL: setup (error %u)\n", (unsigned)GetLastError());
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, toggle, NULL);
    unsigned ok[3] = {0}, refused[3] = {0};
    for (unsigned r = 0; r < ROUNDS; r++) {
        SetLastError(0);
        SIZE_T q =
            VirtualQuery(target, (MEMORY_BASIC_INFORMATION *)out, sizeof(MEMORY_BASIC_INFORMATION));
        expect(q == sizeof(MEMORY_BASIC_INFORMATION) || GetLastError() == ERROR_NOACCESS,
               "VirtualQuery", r);
        q ? ok[0]++ : refused[0]++;

        DWORD want = r % 2 ? PAGE_READONLY : PAGE_READWRITE;
        SetLastError(0);
        BOOL p = VirtualProtect(target, PG, want, (DWORD *)(out + 64));
        expect(p || GetLastError() == ERROR_NOACCESS, "VirtualProtect", r);
        p ? ok[1]++ : refused[1]++;

        watched[(r % 16) * PG] = 1;
        SetLastError(0);
        ULONG_PTR *count = (ULONG_PTR *)(out + 128);
        ULONG_PTR n = 16;
        DWORD gran;
        if (!store(count, &n, sizeof n))
            continue; /* the toggler took the page away: nothing to ask with */
        UINT g = GetWriteWatch(WRITE_WATCH_FLAG_RESET, watched, 16 * PG, (PVOID *)(out + 256),
                               count, &gran);
        /* ERROR_INVALID_PARAMETER: the page came back zero-filled, a count of 0 */
        expect(g == 0 || GetLastError() == ERROR_NOACCESS ||
                   GetLastError() == ERROR_INVALID_PARAMETER,
               "GetWriteWatch", r);
        g == 0 ? ok[2]++ : refused[2]++;
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("VirtualQuery %u ok %u refused; VirtualProtect %u ok %u refused; GetWriteWatch %u ok "
           "%u refused\n",
           ok[0], refused[0], ok[1], refused[1], ok[2], refused[2]);
    return failures != 0;
}
