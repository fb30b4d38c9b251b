/* The op-language executor from many threads at once, one context each (as tests/lin uses it):
 *   - every thread runs a fixed sequence on an allocation of its own and checks every result
 *     exactly (return value, last error, old protection, MEMORY_BASIC_INFORMATION, probe
 *     faults and bytes): contexts do not leak into each other;
 *   - at the same time all threads commit, decommit, protect, query and touch one shared
 *     allocation, named in every context with opl_name_set: the probes catch every fault while
 *     other threads change the pages under them, and every result is one a sequential order
 *     could give (a query's region lies inside the allocation, a failure has a Windows error).
 * A plain program (stress_*), so the TSan stage runs it. Exit 0 when everything held. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "oplang.h"

#define THREADS 4
#define ROUNDS  400
#define SHARED  (64 * OPL_PAGE)

static uintptr_t shared;
static atomic_int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "stress_oplang: %s:%d: %s: ", __FILE__, __LINE__, #cond);              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            atomic_fetch_add(&failures, 1);                                                        \
        }                                                                                          \
    } while (0)

static opl_op_t mk(opl_kind_t k, const char *name, uint64_t off, uint64_t size, uint32_t type,
                   uint32_t prot)
{
    opl_op_t op;
    memset(&op, 0, sizeof op);
    op.kind = k;
    if (name)
        snprintf(op.addr.name, sizeof op.addr.name, "%s", name);
    op.addr.off = off;
    op.size = size;
    op.type = type;
    op.prot = prot;
    return op;
}

/* The thread's own allocation: every result is determined. */
static void own_sequence(opl_ctx_t *c, unsigned char tag, int call_only)
{
    opl_result_t r;
    opl_op_t op = mk(OPL_ALLOC, NULL, 0, 16 * OPL_PAGE, MEM_RESERVE, PAGE_NOACCESS);
    strcpy(op.def, "P");
    opl_exec(c, &op, &r);
    CHECK(r.status == OPL_DONE && r.ret && !r.failed, "reserve: ret %llx error %u",
          (unsigned long long)r.ret, r.error);
    if (!r.ret)
        return;
    CHECK(r.t_call <= r.t_return, "timestamps");
    op = mk(OPL_ALLOC, "P", OPL_PAGE, 2 * OPL_PAGE, MEM_COMMIT, PAGE_READWRITE);
    opl_exec(c, &op, &r);
    CHECK(r.ret && r.error == 0, "commit: error %u", r.error);
    op = mk(OPL_WRITE, "P", OPL_PAGE + 7, tag, 0, 0);
    opl_exec(c, &op, &r);
    CHECK(r.fault == 0 && r.state == (call_only ? 0 : 'c'), "write: fault %d state %d", r.fault,
          r.state);
    op = mk(OPL_READ, "P", OPL_PAGE + 6, 3, 0, 0);
    opl_exec(c, &op, &r);
    CHECK(r.nbytes == 3 && r.bytes[0] == 0 && r.bytes[1] == tag && r.bytes[2] == 0 && !r.fault,
          "read back: %u bytes, %02x", r.nbytes, r.bytes[1]);
    op = mk(OPL_PROTECT, "P", OPL_PAGE, OPL_PAGE, 0, PAGE_READONLY);
    opl_exec(c, &op, &r);
    CHECK(r.ret == 1 && r.old_prot == PAGE_READWRITE, "protect: ret %llu old 0x%x",
          (unsigned long long)r.ret, r.old_prot);
    op = mk(OPL_WRITE, "P", OPL_PAGE, 1, 0, 0);
    opl_exec(c, &op, &r);
    CHECK(r.fault == 'f', "write to READONLY: fault %d", r.fault);
    op = mk(OPL_QUERY, "P", OPL_PAGE + 100, 0, 0, 0);
    opl_exec(c, &op, &r);
    CHECK(r.ret == sizeof(MEMORY_BASIC_INFORMATION) &&
              (uintptr_t)r.mbi.BaseAddress == r.addr - 100 && r.mbi.RegionSize == OPL_PAGE &&
              r.mbi.State == MEM_COMMIT && r.mbi.Protect == PAGE_READONLY &&
              r.mbi.AllocationProtect == PAGE_NOACCESS && r.mbi.Type == MEM_PRIVATE,
          "query: size %zx state %x prot %x", (size_t)r.mbi.RegionSize, (unsigned)r.mbi.State,
          (unsigned)r.mbi.Protect);
    /* caller-placed out-parameters, in the allocation's own read-write page */
    uintptr_t p;
    opl_name_get(c, "P", &p, NULL);
    op = mk(OPL_QUERY, "P", OPL_PAGE, 0, 0, 0);
    op.out.mbi = (void *)(p + 2 * OPL_PAGE + 8);
    opl_exec(c, &op, &r);
    CHECK(r.ret == sizeof(MEMORY_BASIC_INFORMATION) && !r.out_fault &&
              (uintptr_t)r.mbi.BaseAddress == p + OPL_PAGE && r.mbi.Protect == PAGE_READONLY &&
              !memcmp(&r.mbi, op.out.mbi, sizeof r.mbi),
          "query into caller memory: ret %llu fault %d", (unsigned long long)r.ret, r.out_fault);
    op = mk(OPL_PROTECT, "P", 2 * OPL_PAGE, OPL_PAGE, 0, PAGE_READWRITE);
    op.out.old_prot = (void *)(p + 2 * OPL_PAGE + 100);
    opl_exec(c, &op, &r);
    CHECK(r.ret == 1 && r.old_prot == PAGE_READWRITE && !r.out_fault,
          "old protection into caller "
          "memory: 0x%x",
          r.old_prot);
    op = mk(OPL_FREE, "P", OPL_PAGE, 0, MEM_RELEASE, 0);
    opl_exec(c, &op, &r);
    CHECK(r.ret == 0 && r.failed && r.error == ERROR_INVALID_ADDRESS &&
              r.range == (call_only ? 0 : 'I'),
          "release not at the base: ret %llu error %u range %d", (unsigned long long)r.ret, r.error,
          r.range);
    op = mk(OPL_FREE, "P", 0, 0, MEM_RELEASE, 0);
    opl_exec(c, &op, &r);
    CHECK(r.ret == 1 && !r.failed, "release: error %u", r.error);
    op = mk(OPL_READ, "P", 0, 1, 0, 0);
    opl_exec(c, &op, &r);
    CHECK(r.fault == 'f' && r.nbytes == 0, "read after release: fault %d", r.fault);
    opl_ctx_end(c);
}

/* One random op on the shared allocation; checks what holds in any interleaving. */
static void shared_op(opl_ctx_t *c, unsigned *seed)
{
    unsigned x = (unsigned)rand_r(seed);
    uint64_t page = x % 64, n = 1 + (x >> 8) % 4;
    if (page + n > 64)
        n = 64 - page;
    static const uint32_t prots[] = {PAGE_READWRITE, PAGE_READONLY, PAGE_NOACCESS,
                                     PAGE_READWRITE | PAGE_GUARD};
    opl_op_t op;
    switch ((x >> 4) % 6) {
    case 0:
        op = mk(OPL_ALLOC, "S", page * OPL_PAGE, n * OPL_PAGE, MEM_COMMIT, PAGE_READWRITE);
        break;
    case 1:
        op = mk(OPL_FREE, "S", page * OPL_PAGE, n * OPL_PAGE, MEM_DECOMMIT, 0);
        break;
    case 2:
        op = mk(OPL_PROTECT, "S", page * OPL_PAGE, n * OPL_PAGE, 0, prots[(x >> 12) % 4]);
        break;
    case 3:
        op = mk(OPL_QUERY, "S", page * OPL_PAGE + 5, 0, 0, 0);
        break;
    case 4:
        op = mk(OPL_WRITE, "S", page * OPL_PAGE + (x >> 16) % OPL_PAGE, x & 0xff, 0, 0);
        break;
    default:
        op = mk(OPL_ACCESS, "S", page * OPL_PAGE, n * OPL_PAGE, 0, 0);
        break;
    }
    opl_result_t r;
    opl_exec(c, &op, &r);
    CHECK(r.status == OPL_DONE, "status %d", (int)r.status);
    CHECK(r.addr == shared + op.addr.off, "resolved address");
    if (op.kind == OPL_QUERY) {
        uintptr_t b = (uintptr_t)r.mbi.BaseAddress;
        CHECK(r.ret == sizeof(MEMORY_BASIC_INFORMATION) && b == r.addr - 5 && r.mbi.RegionSize &&
                  b + r.mbi.RegionSize <= shared + SHARED &&
                  (uintptr_t)r.mbi.AllocationBase == shared &&
                  (r.mbi.State == MEM_COMMIT || r.mbi.State == MEM_RESERVE),
              "query: base +%lx size %zx state %x", (unsigned long)(b - shared),
              (size_t)r.mbi.RegionSize, (unsigned)r.mbi.State);
    } else if (op.kind == OPL_WRITE) {
        CHECK(r.fault == 0 || r.fault == 'f' || r.fault == 'g', "fault %d", r.fault);
    } else if (op.kind == OPL_ACCESS) {
        CHECK(r.pages && strlen(r.pages) == n && strspn(r.pages, "wr-g") == n, "pages %s",
              r.pages ? r.pages : "(null)");
    } else if (r.failed) {
        /* protect of a range with a decommitted page; nothing else may fail */
        CHECK(op.kind == OPL_PROTECT && r.error == ERROR_INVALID_ADDRESS, "%s failed with %u",
              opl_kind_name(op.kind), r.error);
    }
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
    int call_only = (uintptr_t)arg % 2;
    opl_ctx_t *c = opl_ctx_new(call_only ? OPL_CTX_CALL_ONLY : 0);
    for (int i = 0; i < ROUNDS; i++) {
        if (i % 8 == 0) { /* opl_ctx_end forgets S: name it again */
            own_sequence(c, (unsigned char)(0x10 + (uintptr_t)arg), call_only);
            CHECK(!opl_name_set(c, "S", shared, SHARED), "opl_name_set");
        }
        shared_op(c, &seed);
        shared_op(c, &seed);
    }
    opl_ctx_free(c);
    return NULL;
}

int main(void)
{
    opl_init();
    shared = (uintptr_t)VirtualAlloc(NULL, SHARED, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!shared) {
        fprintf(stderr, "stress_oplang: VirtualAlloc failed (%u)\n", (unsigned)GetLastError());
        return 1;
    }
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    VirtualFree((void *)shared, 0, MEM_RELEASE);
    int f = atomic_load(&failures);
    printf("stress_oplang: %d threads x %d rounds, %d failed checks\n", THREADS, ROUNDS, f);
    return f ? 1 : 0;
}
