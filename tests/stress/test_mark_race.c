/* A page that is never writable while other threads store into it (lin's finding (s)): the
 * toggler takes one page PAGE_READONLY -> PAGE_NOACCESS -> PAGE_READONLY, and VirtualQuery
 * writes its MEMORY_BASIC_INFORMATION into that page meanwhile. Every such call must fail with
 * ERROR_NOACCESS: no instant lets a store through. In guard-marker mode with userfaultfd,
 * READONLY is a write-protect bit on an empty entry and NOACCESS a guard marker; installing the
 * marker zaps the entry first, and a store in between used to allocate a page and succeed.
 * A plain program (run under TSan too). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <winvmem/win32.h>

#define PG      4096
#define SECONDS 3

static char *page; /* PAGE_READONLY or PAGE_NOACCESS, never writable */
static _Atomic int stop;
static _Atomic unsigned long toggles;

static void *toggle(void *arg)
{
    (void)arg;
    DWORD old;
    while (!atomic_load(&stop)) {
        if (!VirtualProtect(page, PG, PAGE_NOACCESS, &old) ||
            !VirtualProtect(page, PG, PAGE_READONLY, &old)) {
            printf("FAIL: VirtualProtect (error %u)\n", (unsigned)GetLastError());
            atomic_store(&stop, 2);
        }
        atomic_fetch_add(&toggles, 1);
    }
    return NULL;
}

int main(void)
{
    page = VirtualAlloc(NULL, 16 * PG, MEM_RESERVE | MEM_COMMIT, PAGE_READONLY);
    char *target = VirtualAlloc(NULL, PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!page || !target) {
        printf("FAIL: setup (error %u)\n", (unsigned)GetLastError());
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, toggle, NULL);
    unsigned long calls = 0, stored = 0, other = 0;
    time_t end = time(NULL) + SECONDS;
    while (!atomic_load(&stop) && time(NULL) < end) {
        for (int i = 0; i < 256; i++, calls++) {
            SetLastError(0);
            if (VirtualQuery(target, (MEMORY_BASIC_INFORMATION *)page,
                             sizeof(MEMORY_BASIC_INFORMATION)))
                stored++;
            else if (GetLastError() != ERROR_NOACCESS)
                other++;
        }
    }
    int toggler_failed = atomic_exchange(&stop, 1) == 2;
    pthread_join(t, NULL);
    printf("%lu VirtualQuery calls into a never-writable page, %lu toggles: %lu stored, %lu other "
           "errors\n",
           calls, (unsigned long)atomic_load(&toggles), stored, other);
    if (stored || other)
        printf("FAIL: a store into a READONLY/NOACCESS page succeeded or failed oddly\n");
    return stored || other || toggler_failed || !atomic_load(&toggles);
}
