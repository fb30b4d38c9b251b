/* The neighbours of VirtualAlloc while another thread releases and re-makes the memory they
 * work on: Discard, Offer, Reclaim, Prefetch and QueryWorkingSetEx on a range that a churner
 * reserves, commits, writes, locks and releases (plainly and with VirtualAllocExNuma), while a
 * third thread changes the working-set minimum, locks and trims. Nothing may crash, every
 * answer must be one a state of the range could give, and the invariants must hold at the end.
 * A plain program (run under TSan too). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#define ROUNDS 4000
#define PG     4096
#define PAGES  8

static char *slot; /* a 64 KiB address the churner keeps making and releasing */
static _Atomic int stop;
static _Atomic int failures;
static _Atomic unsigned made, released;

static void fail(const char *what, unsigned long v, unsigned round)
{
    if (atomic_fetch_add(&failures, 1) < 8)
        printf("FAIL: %s: %#lx in round %u\n", what, v, round);
}

/* The churner's stores go through the kernel: the main thread may have offered the page
 * (no access) meanwhile, and then the store fails instead of faulting. */
static void store(char *dst, int value, size_t n)
{
    static char buf[PAGES * PG];
    memset(buf, value, n);
    struct iovec l = {buf, n}, r = {dst, n};
    (void)process_vm_writev(getpid(), &l, 1, &r, 1, 0);
}

static void *churn(void *arg)
{
    (void)arg;
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        char *p = i % 3 ? VirtualAlloc(slot, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
                        : VirtualAllocExNuma(GetCurrentProcess(), slot, 0x10000,
                                             MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, 0);
        if (p != slot)
            continue; /* nobody else reserves there: never seen */
        atomic_fetch_add(&made, 1);
        store(p, (int)i, PAGES * PG);
        if (i % 5 == 0)
            VirtualLock(p, PG);
        if (i % 7 == 0) {
            DWORD old;
            VirtualProtect(p + PG, PG, PAGE_READONLY, &old);
        }
        if (VirtualFree(p, 0, MEM_RELEASE))
            atomic_fetch_add(&released, 1);
    }
    return NULL;
}

static void *quota(void *arg)
{
    char *own = arg;
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        SIZE_T mn, mx;
        DWORD fl;
        if (!GetProcessWorkingSetSizeEx(GetCurrentProcess(), &mn, &mx, &fl) || mn > mx)
            fail("GetProcessWorkingSetSizeEx", GetLastError(), i);
        if (!SetProcessWorkingSetSize(GetCurrentProcess(), (32 + i % 32) * PG, 1 << 20))
            fail("SetProcessWorkingSetSize", GetLastError(), i);
        if (VirtualLock(own + (i % 64) * PG, PG))
            VirtualUnlock(own + (i % 64) * PG, PG);
        else if (GetLastError() != ERROR_WORKING_SET_QUOTA)
            fail("VirtualLock", GetLastError(), i);
        if (i % 64 == 0 && !SetProcessWorkingSetSize(GetCurrentProcess(), (SIZE_T)-1, (SIZE_T)-1))
            fail("trim", GetLastError(), i);
    }
    VirtualFree(own, 0, MEM_RELEASE);
    return NULL;
}

static int allowed(DWORD r, int reclaim)
{
    return r == ERROR_SUCCESS || r == ERROR_INVALID_ADDRESS || r == ERROR_INVALID_PARAMETER ||
           (reclaim && r == ERROR_BUSY);
}

int main(void)
{
    /* the quota thread's pages are made before slot is given back: they cannot land on it */
    char *own = VirtualAlloc(NULL, 64 * PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    slot = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE);
    if (!own || !slot || !VirtualFree(slot, 0, MEM_RELEASE)) {
        printf("FAIL: setup\n");
        return 1;
    }
    pthread_t c, q;
    pthread_create(&c, NULL, churn, NULL);
    pthread_create(&q, NULL, quota, own);
    unsigned ok = 0;
    for (unsigned r = 0; r < ROUNDS; r++) {
        DWORD d = DiscardVirtualMemory(slot, PAGES * PG);
        DWORD o = OfferVirtualMemory(slot + PG * (r % 4), PG, VmOfferPriorityLow);
        DWORD rc = ReclaimVirtualMemory(slot, PAGES * PG);
        if (!allowed(d, 0) || !allowed(o, 0) || !allowed(rc, 1))
            fail("Discard/Offer/Reclaim", (unsigned long)d << 32 | o << 16 | rc, r);
        ok += d == 0 && o == 0 && (rc == 0 || rc == ERROR_BUSY);
        WIN32_MEMORY_RANGE_ENTRY e = {slot, 0x10000};
        if (!PrefetchVirtualMemory(GetCurrentProcess(), 1, &e, 0))
            fail("PrefetchVirtualMemory", GetLastError(), r);
        PSAPI_WORKING_SET_EX_INFORMATION w[PAGES];
        for (int i = 0; i < PAGES; i++)
            w[i].VirtualAddress = slot + i * PG;
        if (!QueryWorkingSetEx(GetCurrentProcess(), w, sizeof w))
            fail("QueryWorkingSetEx", GetLastError(), r);
        for (int i = 0; i < PAGES; i++) {
            PSAPI_WORKING_SET_EX_BLOCK b = w[i].VirtualAttributes;
            unsigned prot = b.Win32Protection;
            /* private memory: invalid means all 0; valid means RW or RO, nothing shared */
            if (b.Valid ? (prot != PAGE_READWRITE && prot != PAGE_READONLY) || b.Shared ||
                              b.ShareCount || b.LargePage
                        : b.Flags != 0)
                fail("QueryWorkingSetEx block", (unsigned long)b.Flags, r);
        }
    }
    atomic_store(&stop, 1);
    pthread_join(c, NULL);
    pthread_join(q, NULL);
    int inv = wvm_check_invariants();
    printf("%u rounds, %u with all three of Discard/Offer/Reclaim done; the churner made %u and "
           "released %u allocations; invariants %d\n",
           ROUNDS, ok, atomic_load(&made), atomic_load(&released), inv);
    return failures || inv || !atomic_load(&released);
}
