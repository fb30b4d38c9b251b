/* Threads reserve, query and release allocations with a dedicated kernel mapping (AWE windows)
 * at once. A release unmaps before its index entries go, so the kernel can give the same range
 * to another thread's reservation meanwhile: that reservation must wait for the entries to go,
 * not have its own cleared by the release (found by stress_signal_context: "index does not
 * find the allocation"). A plain program: it runs under TSan too. */
#include <pthread.h>
#include <stdio.h>
#include <winvmem/stats.h>
#include <winvmem/vm.h>

enum { THREADS = 3, ROUNDS = 4000 };

static void *loop(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        char *w =
            wvm_VirtualAlloc(NULL, 1 << 16, WVM_MEM_RESERVE | WVM_MEM_PHYSICAL, WVM_PAGE_READWRITE);
        if (!w) {
            printf("FAIL: reserve: error %u\n", wvm_GetLastError());
            return (void *)1;
        }
        wvm_MEMORY_BASIC_INFORMATION m;
        if (wvm_VirtualQuery(w, &m, sizeof m) != sizeof m || m.AllocationBase != w) {
            printf("FAIL: a fresh window at %p reads as allocated at %p\n", (void *)w,
                   m.AllocationBase);
            return (void *)2;
        }
        if (!wvm_VirtualFree(w, 0, WVM_MEM_RELEASE)) {
            printf("FAIL: release of %p: error %u\n", (void *)w, wvm_GetLastError());
            return (void *)3;
        }
    }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, loop, NULL);
    int bad = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += r != NULL;
    }
    if (wvm_check_invariants())
        bad++;
    printf("%s\n", bad ? "FAILED" : "ok: every window was found, released, and the model holds");
    return bad != 0;
}
