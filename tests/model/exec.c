/* The executor (exec.h): winvmem calls through the Windows names, memory accesses through two
 * probe instructions whose faults are caught (as in fuzz/fuzz_ops.c and tests/diff/interp.c),
 * with the fault state per thread so that many threads may probe at once. */
#include "exec.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <winvmem/win32.h>

extern const char lin_rd_insn[], lin_wr_insn[];
static __thread volatile int probe_fault; /* RM_NOFAULT, RM_AV, RM_GUARDFAULT */

__attribute__((noinline)) static unsigned probe_read(const volatile unsigned char *p)
{
    unsigned v = 0;
    __asm__ volatile(".globl lin_rd_insn\nlin_rd_insn: movb (%%rdi), %%al"
                     : "+a"(v)
                     : "D"(p)
                     : "memory");
    return v & 0xff;
}
__attribute__((noinline)) static void probe_write(volatile unsigned char *p, unsigned v)
{
    __asm__ volatile(".globl lin_wr_insn\nlin_wr_insn: movb %%al, (%%rdi)"
                     :
                     : "a"(v), "D"(p)
                     : "memory");
}

static int is_probe(const ucontext_t *uc)
{
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    return pc == (uintptr_t)lin_rd_insn || pc == (uintptr_t)lin_wr_insn;
}

static struct sigaction old_segv, old_bus;

/* Faults winvmem does not claim (its dispatcher chains to the handler installed before it). */
static void on_signal(int sig, siginfo_t *si, void *uc_)
{
    ucontext_t *uc = uc_;
    if (is_probe(uc)) {
        probe_fault = RM_AV;
        uc->uc_mcontext.gregs[REG_RIP] += 2; /* both probes are 2-byte instructions */
        return;
    }
    /* a fault nobody claims: the process is about to die; say where (async-signal-safe) */
    char msg[160];
    int len = snprintf(msg, sizeof msg,
                       "exec: unhandled %s at pc %#llx, address %p: a crash, not a probe\n",
                       sig == SIGSEGV ? "SIGSEGV" : "SIGBUS",
                       (unsigned long long)uc->uc_mcontext.gregs[REG_RIP], si->si_addr);
    if (len > 0 && write(2, msg, (size_t)len) < 0)
        len = 0;
    const struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
    if (old->sa_flags & SA_SIGINFO)
        old->sa_sigaction(sig, si, uc_);
    else if (old->sa_handler != SIG_IGN && old->sa_handler != SIG_DFL)
        old->sa_handler(sig);
    else {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

/* winvmem's vectored handlers see faults on its memory first. */
static int32_t on_exception(EXCEPTION_POINTERS *ep)
{
    ucontext_t *uc = ep->ContextRecord;
    uint32_t code = ep->ExceptionRecord->ExceptionCode;
    if (!uc || !is_probe(uc) ||
        (code != STATUS_ACCESS_VIOLATION && code != STATUS_GUARD_PAGE_VIOLATION))
        return EXCEPTION_CONTINUE_SEARCH;
    probe_fault = code == STATUS_GUARD_PAGE_VIOLATION ? RM_GUARDFAULT : RM_AV;
    uc->uc_mcontext.gregs[REG_RIP] += 2;
    return EXCEPTION_CONTINUE_EXECUTION;
}

void lin_exec_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    /* installs winvmem's dispatcher after ours: it sees every fault first */
    if (!AddVectoredExceptionHandler(1, on_exception)) {
        fprintf(stderr, "lin: AddVectoredExceptionHandler failed (%u)\n", GetLastError());
        exit(2);
    }
}

void lin_mbi_to_model(const MEMORY_BASIC_INFORMATION *m, const char *base, rm_mbi *out)
{
    out->base = (int64_t)((uintptr_t)m->BaseAddress - (uintptr_t)base);
    out->alloc_base = m->AllocationBase
                          ? (int64_t)((uintptr_t)m->AllocationBase - (uintptr_t)base)
                          : RM_NULL;
    out->size = m->RegionSize;
    out->alloc_prot = m->AllocationProtect;
    out->state = m->State;
    out->prot = m->Protect;
    out->type = m->Type;
    out->partition = m->PartitionId;
}

static void alloc_result(rm_res *r, void *p, const char *base)
{
    r->ok = p != NULL;
    r->err = p ? 0 : GetLastError();
    r->ret = p ? (int64_t)((uintptr_t)p - (uintptr_t)base) : 0;
}

static void bool_result(rm_res *r, int ok)
{
    r->ok = ok != 0;
    r->err = ok ? 0 : GetLastError();
}

/* The external buffer's layout: granularity, then the GetWriteWatch array; the query's MBI and
 * the old protection at the start (LIN_BUF_BYTES covers the largest). */

void lin_exec(char *base, const rm_op *op, void *buf, rm_res *r, uint64_t *abs_base,
              uint64_t *abs_size)
{
    char *a = base + (size_t)op->page * RM_PAGE;
    size_t size = (size_t)op->npages * RM_PAGE;
    memset(r, 0, sizeof *r);
    r->unknown = buf != NULL;
    switch (op->kind) {
    case RM_RESERVE:
        alloc_result(r, VirtualAlloc(a, size, op->type, op->prot), base);
        break;
    case RM_COMMIT:
        alloc_result(r, VirtualAlloc(a, size, MEM_COMMIT, op->prot), base);
        break;
    case RM_RESET:
    case RM_RESET_UNDO:
        alloc_result(r,
                     VirtualAlloc(a, size, op->kind == RM_RESET ? MEM_RESET : MEM_RESET_UNDO,
                                  op->prot),
                     base);
        break;
    case RM_DECOMMIT:
        bool_result(r, VirtualFree(a, size, MEM_DECOMMIT));
        break;
    case RM_RELEASE:
        bool_result(r, VirtualFree(a, 0, MEM_RELEASE));
        break;
    case RM_PROTECT: {
        DWORD old = 0;
        DWORD *po = buf ? (DWORD *)buf : &old;
        bool_result(r, VirtualProtect(a, size, op->prot, po));
        r->old = old;
        r->nold = r->ok && !buf;
        break;
    }
    case RM_QUERY: {
        MEMORY_BASIC_INFORMATION m;
        MEMORY_BASIC_INFORMATION *pm = buf ? (MEMORY_BASIC_INFORMATION *)buf : &m;
        size_t got = VirtualQuery(a + op->val * 16u, pm, sizeof m);
        r->ok = got == sizeof m;
        r->err = r->ok ? 0 : GetLastError();
        if (r->ok && !buf) {
            lin_mbi_to_model(&m, base, &r->mbi);
            *abs_base = (uintptr_t)m.BaseAddress;
            *abs_size = m.RegionSize;
        }
        break;
    }
    case RM_LOCK:
        bool_result(r, VirtualLock(a, size));
        break;
    case RM_UNLOCK:
        bool_result(r, VirtualUnlock(a, size));
        break;
    case RM_WW_GET: {
        void *local[64];
        ULONG gl = 0;
        ULONG_PTR n = op->cap;
        void **arr = buf ? (void **)((char *)buf + 8) : local;
        ULONG *gran = buf ? (ULONG *)buf : &gl;
        if (buf && n > LIN_WW_CAP_EXT) {
            fprintf(stderr, "lin: GetWriteWatch cap %u over the external buffer\n", op->cap);
            abort();
        }
        UINT rc = GetWriteWatch(op->type, a, size, arr, &n, gran);
        r->ok = rc == 0;
        r->err = r->ok ? 0 : GetLastError();
        if (r->ok && !buf) {
            r->ww_n = (uint32_t)n;
            r->old = gl;
            for (ULONG_PTR i = 0; i < n && i < 64; i++) {
                uintptr_t off = (uintptr_t)local[i] - (uintptr_t)a, pg = off / RM_PAGE;
                if (pg < op->npages && !(off % RM_PAGE))
                    r->ww_mask |= 1ull << pg;
                else /* an address outside the range: a count the model rejects */
                    r->ww_n = UINT32_MAX;
            }
        }
        break;
    }
    case RM_WW_RESET:
        r->ok = ResetWriteWatch(a, size) == 0;
        r->err = r->ok ? 0 : GetLastError();
        break;
    case RM_READ:
        probe_fault = RM_NOFAULT;
        r->val = (uint8_t)probe_read((volatile unsigned char *)a);
        r->fault = (uint8_t)probe_fault;
        r->ok = 1;
        break;
    case RM_WRITE:
        probe_fault = RM_NOFAULT;
        probe_write((volatile unsigned char *)a, op->val);
        r->fault = (uint8_t)probe_fault;
        r->ok = 1;
        break;
    default:
        fprintf(stderr, "lin: cannot execute %s\n", rm_kind_name(op->kind));
        abort();
    }
}
