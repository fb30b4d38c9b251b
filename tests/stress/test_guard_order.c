/* A guard page consumed by one thread while another reads it through the kernel
 * (process_vm_readv obeys page protections and takes no fault of ours): once such a read
 * succeeded, the guard is gone, so a VirtualQuery made after it must not show PAGE_GUARD
 * (unless the page was armed again meanwhile, which the sequence number rules out). The fault
 * dispatcher once made the page accessible before it marked the guard consumed (lin's g2).
 * A plain program (run under TSan too). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>
#include <winvmem/win32.h>

#define ROUNDS 40000

static volatile char *page;
static _Atomic unsigned long seq; /* odd: the guard is being armed */
static _Atomic int stop;
static _Atomic unsigned long reads, stale;
static _Thread_local unsigned long guards;

static LONG WINAPI on_guard(PEXCEPTION_POINTERS ep)
{
    if (ep->ExceptionRecord->ExceptionCode != STATUS_GUARD_PAGE_VIOLATION)
        return EXCEPTION_CONTINUE_SEARCH;
    guards++;
    return EXCEPTION_CONTINUE_EXECUTION;
}

static void *reader(void *arg)
{
    (void)arg;
    char byte;
    while (!atomic_load(&stop)) {
        unsigned long s1 = atomic_load(&seq);
        if (s1 & 1)
            continue;
        struct iovec l = {&byte, 1}, r = {(void *)(page + 64), 1};
        if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) != 1)
            continue; /* still guarded */
        atomic_fetch_add(&reads, 1);
        MEMORY_BASIC_INFORMATION mbi;
        if (VirtualQuery((void *)page, &mbi, sizeof mbi) != sizeof mbi)
            continue;
        if ((mbi.Protect & PAGE_GUARD) && atomic_load(&seq) == s1)
            atomic_fetch_add(&stale, 1);
    }
    return NULL;
}

int main(void)
{
    page = VirtualAlloc(NULL, 4096, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!page || !AddVectoredExceptionHandler(1, on_guard)) {
        printf("FAIL: setup\n");
        return 1;
    }
    pthread_t r;
    pthread_create(&r, NULL, reader, NULL);
    int failed = 0;
    DWORD old;
    for (int i = 0; i < ROUNDS && !failed; i++) {
        atomic_fetch_add(&seq, 1);
        if (!VirtualProtect((void *)page, 4096, PAGE_READWRITE | PAGE_GUARD, &old)) {
            printf("FAIL: VirtualProtect: error %u\n", (unsigned)GetLastError());
            failed = 1;
        }
        atomic_fetch_add(&seq, 1);
        (void)page[i % 4096]; /* consumes the guard (exception) */
    }
    atomic_store(&stop, 1);
    pthread_join(r, NULL);
    if (guards != ROUNDS && !failed) {
        printf("FAIL: %lu guard exceptions for %d armings\n", guards, ROUNDS);
        failed = 1;
    }
    if (atomic_load(&stale)) {
        printf("FAIL: %lu of %lu reads that got through were followed by a query showing the "
               "guard still armed\n",
               atomic_load(&stale), atomic_load(&reads));
        failed = 1;
    }
    printf("%s: %lu reads got through\n", failed ? "FAIL" : "pass", atomic_load(&reads));
    return failed;
}
