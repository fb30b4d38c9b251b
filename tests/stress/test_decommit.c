/* Decommit of pages that are not writable (read-only, execute-read, no-access, guard) while
 * another thread writes and reads them through the kernel (process_vm_writev/readv, which
 * obey the page protections): a page that was never writable is never written, a page that
 * was never readable is never read, also half way through its decommit. (With guard markers,
 * decommit once widened the page to read-write before installing the marker.)
 * And a read-write page holding data, read the same way while it is decommitted: the read
 * returns the data or fails, never a zero the page never held (with guard markers, the
 * kernel's install zapped the page and a racing read faulted a fresh zero page in before the
 * marker was there: lin's finding h).
 * A plain program (run under TSan too). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>
#include <winvmem/win32.h>

#define ROUNDS 20000
#define PG     4096

static char *page;
static _Atomic int stop;
static _Atomic unsigned long writes, reads, tries;
static const DWORD prots[] = {PAGE_READONLY, PAGE_EXECUTE_READ, PAGE_NOACCESS,
                              PAGE_READWRITE | PAGE_GUARD};

static void *prober(void *arg)
{
    (void)arg;
    char byte = 1;
    while (!atomic_load(&stop)) {
        struct iovec l = {&byte, 1}, r = {page + 100, 1};
        if (process_vm_writev(getpid(), &l, 1, &r, 1, 0) == 1)
            atomic_fetch_add(&writes, 1);
        atomic_fetch_add_explicit(&tries, 1, memory_order_relaxed);
    }
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    char byte;
    while (!atomic_load(&stop)) {
        struct iovec l = {&byte, 1}, r = {page + 200, 1};
        if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) == 1)
            atomic_fetch_add(&reads, 1); /* only counted while the page is no-access */
    }
    return NULL;
}

#define DATA 0x5a
static _Atomic unsigned long seq; /* odd: the page holds DATA until decommitted */
static _Atomic unsigned long data_reads, zero_reads;

static void *data_reader(void *arg)
{
    (void)arg;
    char byte;
    while (!atomic_load(&stop)) {
        unsigned long s1 = atomic_load(&seq);
        struct iovec l = {&byte, 1}, r = {page + 300, 1};
        ssize_t n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
        if (n == 1 && (s1 & 1) && atomic_load(&seq) == s1) {
            atomic_fetch_add(&data_reads, 1);
            if (byte != DATA)
                atomic_fetch_add(&zero_reads, 1);
        }
    }
    return NULL;
}

static int data_rounds(void)
{
    atomic_store(&stop, 0);
    pthread_t r;
    pthread_create(&r, NULL, data_reader, NULL);
    int failed = 0;
    for (int i = 0; i < ROUNDS / 2 && !failed; i++) {
        if (!VirtualAlloc(page, PG, MEM_COMMIT, PAGE_READWRITE)) {
            failed = 1;
            break;
        }
        page[300] = DATA;
        atomic_fetch_add(&seq, 1);
        if (!VirtualFree(page, PG, MEM_DECOMMIT))
            failed = 1;
        atomic_fetch_add(&seq, 1);
    }
    atomic_store(&stop, 1);
    pthread_join(r, NULL);
    if (failed)
        printf("FAIL: commit/decommit read-write: error %u\n", (unsigned)GetLastError());
    if (atomic_load(&zero_reads)) {
        printf("FAIL: %lu of %lu reads of a page being decommitted returned a byte it never "
               "held\n",
               atomic_load(&zero_reads), atomic_load(&data_reads));
        failed = 1;
    }
    return failed;
}

int main(void)
{
    page = VirtualAlloc(NULL, 16 * PG, MEM_RESERVE, PAGE_READWRITE);
    if (!page) {
        printf("FAIL: setup\n");
        return 1;
    }
    pthread_t w, r;
    pthread_create(&w, NULL, prober, NULL);
    int failed = 0;
    for (unsigned k = 0; k < sizeof prots / sizeof *prots; k++) {
        atomic_store(&reads, 0);
        bool check_reads = prots[k] == PAGE_NOACCESS || (prots[k] & PAGE_GUARD);
        atomic_store(&stop, 0);
        if (check_reads)
            pthread_create(&r, NULL, reader, NULL);
        for (int i = 0; i < ROUNDS / 4; i++) {
            if (!VirtualAlloc(page, PG, MEM_COMMIT, prots[k]) ||
                !VirtualFree(page, PG, MEM_DECOMMIT)) {
                printf("FAIL: commit/decommit %#x: error %u\n", (unsigned)prots[k],
                       (unsigned)GetLastError());
                failed = 1;
                break;
            }
        }
        if (check_reads) {
            atomic_store(&stop, 1);
            pthread_join(r, NULL);
            if (atomic_load(&reads)) {
                printf("FAIL: %lu reads of a %#x page being decommitted succeeded\n",
                       atomic_load(&reads), (unsigned)prots[k]);
                failed = 1;
            }
        }
    }
    atomic_store(&stop, 1);
    pthread_join(w, NULL);
    failed |= data_rounds();
    if (atomic_load(&writes)) {
        printf("FAIL: %lu of %lu writes to pages never writable succeeded\n", atomic_load(&writes),
               atomic_load(&tries));
        failed = 1;
    }
    printf("%s: %lu writes tried, %lu reads inside a decommit window\n", failed ? "FAIL" : "pass",
           atomic_load(&tries), atomic_load(&data_reads));
    return failed;
}
