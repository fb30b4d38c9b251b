/* Decommit of pages that are not writable (read-only, execute-read, no-access, guard) while
 * another thread writes and reads them through the kernel (process_vm_writev/readv, which
 * obey the page protections): a page that was never writable is never written, a page that
 * was never readable is never read, also half way through its decommit. (With guard markers,
 * decommit once widened the page to read-write before installing the marker.)
 * And a page holding data, read the same way while it is decommitted: the read returns the
 * data or fails, never a zero the page never held (with guard markers, the kernel's install
 * zaps the page and a racing read faults a fresh zero page in before the marker is there:
 * lin's finding h). That holds for a read-only page always, for a read-write page under
 * WINVMEM_STRICT_DECOMMIT=1; by default a read-write page may read 0 then (the documented
 * deviation, doc/porting.md), never any other byte.
 * A plain program (run under TSan too). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <winvmem/stats.h>
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
static _Atomic unsigned long data_reads, zero_reads, other_reads;

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
            if (byte == 0)
                atomic_fetch_add(&zero_reads, 1);
            else if (byte != DATA)
                atomic_fetch_add(&other_reads, 1);
        }
    }
    return NULL;
}

/* WINVMEM_STRICT_DECOMMIT as winvmem reads it */
static bool strict_decommit(void)
{
    wvm_option_info o;
    for (unsigned i = 0; !wvm_option_get(i, &o); i++)
        if (!strcmp(o.name, "WINVMEM_STRICT_DECOMMIT"))
            return o.value != 0;
    return true;
}

/* Commit, store DATA, give the page prot, decommit, while a reader reads it; a read inside
 * the window must give DATA, or 0 where zero_ok. */
static int data_rounds(DWORD prot, int rounds, bool zero_ok)
{
    atomic_store(&stop, 0);
    atomic_store(&data_reads, 0);
    atomic_store(&zero_reads, 0);
    atomic_store(&other_reads, 0);
    pthread_t r;
    pthread_create(&r, NULL, data_reader, NULL);
    int failed = 0;
    DWORD old;
    for (int i = 0; i < rounds && !failed; i++) {
        if (!VirtualAlloc(page, PG, MEM_COMMIT, PAGE_READWRITE)) {
            failed = 1;
            break;
        }
        page[300] = DATA;
        if (prot != PAGE_READWRITE && !VirtualProtect(page, PG, prot, &old))
            failed = 1;
        atomic_fetch_add(&seq, 1);
        if (!VirtualFree(page, PG, MEM_DECOMMIT))
            failed = 1;
        atomic_fetch_add(&seq, 1);
    }
    atomic_store(&stop, 1);
    pthread_join(r, NULL);
    if (failed)
        printf("FAIL: commit/protect/decommit %#x: error %u\n", (unsigned)prot,
               (unsigned)GetLastError());
    unsigned long zeros = atomic_load(&zero_reads), others = atomic_load(&other_reads);
    if (others || (zeros && !zero_ok)) {
        printf("FAIL: %lu of %lu reads of a %#x page being decommitted returned a byte it "
               "never held (%lu of them 0)\n",
               zeros + others, atomic_load(&data_reads), (unsigned)prot, zeros);
        failed = 1;
    }
    printf("%#x: %lu reads inside a decommit window, %lu of them 0 (%s)\n", (unsigned)prot,
           atomic_load(&data_reads), zeros, zero_ok ? "allowed" : "none allowed");
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
    bool strict = strict_decommit();
    failed |= data_rounds(PAGE_READWRITE, ROUNDS / 2, !strict);
    failed |= data_rounds(PAGE_READONLY, ROUNDS / 4, false);
    if (atomic_load(&writes)) {
        printf("FAIL: %lu of %lu writes to pages never writable succeeded\n", atomic_load(&writes),
               atomic_load(&tries));
        failed = 1;
    }
    printf("%s: %lu writes tried (%s decommit)\n", failed ? "FAIL" : "pass", atomic_load(&tries),
           strict ? "strict" : "default");
    return failed;
}
