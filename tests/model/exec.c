/* The executor (exec.h): model operations translated into the op-language module's
 * operations (tools/oplang: the one executor of Windows calls shared with the CLI and the
 * differential test), one context per thread, and its answers translated back. */
#include "exec.h"

#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "oplang.h"

static struct sigaction old_segv, old_bus;

/* Last in the chain (winvmem's dispatcher, then the probes' handler, then this): a fault
 * nobody claims. Says where before the process dies the way it would have. */
static void on_crash(int sig, siginfo_t *si, void *uc_)
{
    ucontext_t *uc = uc_;
    char msg[160];
    int len = snprintf(msg, sizeof msg, "exec: unhandled %s at pc %#llx, address %p\n",
                       sig == SIGSEGV ? "SIGSEGV" : "SIGBUS",
                       (unsigned long long)uc->uc_mcontext.gregs[REG_RIP], si->si_addr);
    if (len > 0 && write(2, msg, (size_t)len) < 0)
        len = 0;
    void *frames[32];
    backtrace_symbols_fd(frames, backtrace(frames, 32), 2);
    if (lin_exec_crash_hook)
        lin_exec_crash_hook();
    sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, NULL);
}

void (*lin_exec_crash_hook)(void);

void lin_exec_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_crash;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    void *frame;
    backtrace(&frame, 1); /* loads the unwinder now, not in the signal handler */
    opl_init();           /* the probes' handler, then winvmem's dispatcher on top of it */
}

static __thread opl_ctx_t *ctx;

void lin_exec_thread_end(void)
{
    if (ctx)
        opl_ctx_free(ctx); /* never opl_ctx_end: other threads own what this one reserved */
    ctx = NULL;
}

void lin_mbi_to_model(const MEMORY_BASIC_INFORMATION *m, const char *base, rm_mbi *out)
{
    out->base = (int64_t)((uintptr_t)m->BaseAddress - (uintptr_t)base);
    out->alloc_base =
        m->AllocationBase ? (int64_t)((uintptr_t)m->AllocationBase - (uintptr_t)base) : RM_NULL;
    out->size = m->RegionSize;
    out->alloc_prot = m->AllocationProtect;
    out->state = m->State;
    out->prot = m->Protect;
    out->type = m->Type;
    out->partition = m->PartitionId;
}

/* The op-language form of a model operation on the slot at base. */
static void translate(char *base, const rm_op *op, void *buf, opl_op_t *o, ULONG_PTR *count,
                      PVOID *addrs, ULONG *gran)
{
    memset(o, 0, sizeof *o);
    o->addr.off = (uintptr_t)base + (uint64_t)op->page * RM_PAGE;
    o->size = (uint64_t)op->npages * RM_PAGE;
    o->prot = op->prot;
    switch (op->kind) {
    case RM_RESERVE:
    case RM_COMMIT:
    case RM_RESET:
    case RM_RESET_UNDO:
        o->kind = OPL_ALLOC;
        o->type = op->kind == RM_RESERVE  ? op->type
                  : op->kind == RM_COMMIT ? MEM_COMMIT
                  : op->kind == RM_RESET  ? MEM_RESET
                                          : MEM_RESET_UNDO;
        break;
    case RM_DECOMMIT:
    case RM_RELEASE:
        o->kind = OPL_FREE;
        o->type = op->kind == RM_DECOMMIT ? MEM_DECOMMIT : MEM_RELEASE;
        if (op->kind == RM_RELEASE)
            o->size = 0;
        break;
    case RM_PROTECT:
        o->kind = OPL_PROTECT;
        o->out.old_prot = buf;
        break;
    case RM_QUERY:
        o->kind = OPL_QUERY;
        o->addr.off += op->val * 16u;
        o->out.mbi = buf;
        break;
    case RM_LOCK:
    case RM_UNLOCK:
        o->kind = op->kind == RM_LOCK ? OPL_LOCK : OPL_UNLOCK;
        break;
    case RM_WW_GET:
        /* the count stays on this thread's stack: the call reads it as its capacity, and
         * another thread's decommit of a buffer page would change that input */
        o->kind = OPL_WATCH;
        o->flags = (op->type & 1) ? OPL_F_RESET : 0;
        *count = op->cap;
        o->out.watch_count = count;
        o->out.watch_gran = buf ? buf : (void *)gran;
        o->out.watch_addrs = buf ? (char *)buf + 8 : (void *)addrs;
        break;
    case RM_WW_RESET:
        o->kind = OPL_RESETWATCH;
        break;
    case RM_READ:
        o->kind = OPL_READ;
        o->size = 1;
        break;
    case RM_WRITE:
        o->kind = OPL_WRITE;
        o->size = op->val;
        break;
    default:
        fprintf(stderr, "exec: cannot execute %s\n", rm_kind_name(op->kind));
        abort();
    }
}

void lin_exec_format(const char *name, const rm_op *op, char *buf, size_t n)
{
    ULONG_PTR count;
    PVOID addrs[64];
    ULONG gran;
    opl_op_t o;
    translate(NULL, op, NULL, &o, &count, addrs, &gran);
    memset(&o.out, 0, sizeof o.out);
    snprintf(o.addr.name, sizeof o.addr.name, "%s", name);
    opl_op_format(&o, buf, n);
}

void lin_exec(char *base, const rm_op *op, void *buf, rm_res *res, uint64_t *abs_base,
              uint64_t *abs_size)
{
    if (!ctx && !(ctx = opl_ctx_new(OPL_CTX_CALL_ONLY))) {
        fprintf(stderr, "exec: out of memory\n");
        abort();
    }
    if (op->kind == RM_WW_GET && buf && op->cap > LIN_WW_CAP_EXT) {
        fprintf(stderr, "exec: GetWriteWatch cap %u over the external buffer\n", op->cap);
        abort();
    }
    ULONG_PTR count = 0;
    PVOID addrs[64];
    ULONG gran = 0;
    opl_op_t o;
    opl_result_t r;
    translate(base, op, buf, &o, &count, addrs, &gran);
    opl_exec(ctx, &o, &r);
    memset(res, 0, sizeof *res);
    res->unknown = buf != NULL;
    res->ok = !r.failed;
    res->err = r.failed ? r.error : 0;
    switch (op->kind) {
    case RM_RESERVE:
    case RM_COMMIT:
    case RM_RESET:
    case RM_RESET_UNDO:
        res->ret = r.ret ? (int64_t)((uintptr_t)r.ret - (uintptr_t)base) : 0;
        break;
    case RM_PROTECT:
        res->old = r.old_prot;
        res->nold = res->ok && !buf;
        break;
    case RM_QUERY:
        if (res->ok && !buf) {
            lin_mbi_to_model(&r.mbi, base, &res->mbi);
            *abs_base = (uintptr_t)r.mbi.BaseAddress;
            *abs_size = r.mbi.RegionSize;
        }
        break;
    case RM_WW_GET:
        if (res->ok && !buf) {
            uintptr_t a = (uintptr_t)o.addr.off;
            res->ww_n = (uint32_t)r.count;
            res->old = r.gran;
            for (uint64_t i = 0; i < r.count && i < 64; i++) {
                uintptr_t off = r.written[i] - a, pg = off / RM_PAGE;
                if (pg < op->npages && !(off % RM_PAGE))
                    res->ww_mask |= 1ull << pg;
                else /* an address outside the range: a count the model rejects */
                    res->ww_n = UINT32_MAX;
            }
        }
        break;
    case RM_READ:
    case RM_WRITE:
        res->ok = 1;
        res->err = 0;
        res->fault = r.fault == 'g' ? RM_GUARDFAULT : r.fault ? RM_AV : RM_NOFAULT;
        res->val = op->kind == RM_READ && !r.fault ? r.bytes[0] : 0;
        break;
    default:
        break;
    }
}
