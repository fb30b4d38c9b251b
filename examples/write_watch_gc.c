/* Write watch for a concurrent garbage collector: the collector marks while the program keeps
 * writing, then asks which pages were written meanwhile and re-scans only those, as the .NET GC
 * does with GetWriteWatch on Windows. The heap here is an array of cells; a cell is "marked"
 * when the collector has seen it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <winvmem/win32.h>

enum { HEAP = 64 << 20, CELLS = HEAP / sizeof(long) };

static long *heap;
static atomic_int mutating = 1; /* the heap itself is read while written, as a GC does */

static void *mutator(void *arg)
{
    unsigned x = 12345;
    (void)arg;
    while (mutating) { /* scattered writes while the collector marks */
        x = x * 1103515245 + 12345;
        heap[(x >> 4) % CELLS] = x;
    }
    return NULL;
}

int main(void)
{
    heap = VirtualAlloc(NULL, HEAP, MEM_RESERVE | MEM_WRITE_WATCH, PAGE_READWRITE);
    if (!heap || !VirtualAlloc(heap, HEAP, MEM_COMMIT, PAGE_READWRITE)) {
        /* ERROR_NOT_SUPPORTED (50): this kernel lacks userfaultfd's async write-protect */
        fprintf(stderr, "write-watch heap: error %u\n", GetLastError());
        return GetLastError() == ERROR_NOT_SUPPORTED ? 0 : 1;
    }
    memset(heap, 0, HEAP);
    ResetWriteWatch(heap, HEAP); /* the initial fill is not the program's doing */

    pthread_t t;
    pthread_create(&t, NULL, mutator, NULL);
    long marked = 0; /* concurrent mark: walk everything once */
    for (size_t i = 0; i < CELLS; i++)
        marked += heap[i] != 0;

    /* pages written during the mark must be scanned again */
    static void *dirty[HEAP / 4096];
    ULONG_PTR count = sizeof dirty / sizeof dirty[0];
    ULONG gran;
    mutating = 0;
    pthread_join(t, NULL);
    if (GetWriteWatch(WRITE_WATCH_FLAG_RESET, heap, HEAP, dirty, &count, &gran)) {
        fprintf(stderr, "GetWriteWatch: error %u\n", GetLastError());
        return 1;
    }
    long rescanned = 0;
    for (ULONG_PTR p = 0; p < count; p++)
        for (long *c = dirty[p]; c < (long *)((char *)dirty[p] + gran); c++)
            rescanned += *c != 0;
    printf("marked %ld cells concurrently; %lu of %d pages were written meanwhile and re-scanned "
           "(%ld live cells there)\n",
           marked, (unsigned long)count, HEAP / 4096, rescanned);

    /* after the reset nothing is dirty until the next write */
    count = sizeof dirty / sizeof dirty[0];
    GetWriteWatch(0, heap, HEAP, dirty, &count, &gran);
    heap[100] = 1;
    ULONG_PTR after = sizeof dirty / sizeof dirty[0];
    GetWriteWatch(0, heap, HEAP, dirty, &after, &gran);
    printf("after the reset: %lu dirty pages; after one more write: %lu (%p)\n",
           (unsigned long)count, (unsigned long)after, after ? dirty[0] : NULL);
    return VirtualFree(heap, 0, MEM_RELEASE) && count == 0 && after == 1 ? 0 : 1;
}
