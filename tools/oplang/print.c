/* Printing results: the differential test's normalised transcript, text for a person, JSON. */
#include <inttypes.h>
#include <string.h>

#include "oplang_int.h"

#ifndef _WIN32
#include <winvmem/stats.h>
#endif

static const opl__name_t *newest(const opl_ctx_t *c, const char *id)
{
    for (size_t i = c->nnames; i-- > 0;)
        if (!strcmp(c->names[i].id, id))
            return &c->names[i];
    return NULL;
}

/* ---- the transcript ------------------------------------------------------------------- */

/* addr as NAME+0xOFF relative to, in this order: the newest allocation name whose region
 * contains it, the newest whose region ends exactly at it, the newest hole containing it
 * (end inclusive), the newest name whose region ends at most 1 MiB before it; else a
 * layout-independent token. The order makes an address where one region ends and another
 * begins print the same whether or not the two happen to be adjacent. */
static const opl__name_t *containing(const opl_ctx_t *c, uintptr_t a, int hole, uintptr_t end_slack)
{
    for (size_t i = c->nnames; i-- > 0;) {
        const opl__name_t *n = &c->names[i];
        if (n->span && n->hole == hole && a >= n->value && a - n->value < n->span + end_slack)
            return n;
    }
    return NULL;
}

static const char *norm(const opl_ctx_t *c, uintptr_t a, char *buf, size_t n)
{
    if (a == 0) {
        snprintf(buf, n, "0");
        return buf;
    }
    const opl__name_t *best = containing(c, a, 0, 0);
    if (!best)
        best = containing(c, a, 0, 1);
    if (!best)
        best = containing(c, a, 1, 1);
    for (size_t i = c->nnames; i-- > 0 && !best;)
        if (c->names[i].span && a + (1u << 20) >= c->names[i].value &&
            a - c->names[i].value <= c->names[i].span + (1u << 20))
            best = &c->names[i];
    if (!best) {
        if (a >= ((uintptr_t)1 << 47))
            snprintf(buf, n, "0x%" PRIxPTR, a);
        else
            snprintf(buf, n, "FOREIGN");
        return buf;
    }
    if (a >= best->value)
        snprintf(buf, n, "%s+0x%" PRIxPTR, best->id, a - best->value);
    else
        snprintf(buf, n, "%s-0x%" PRIxPTR, best->id, best->value - a);
    return buf;
}

static void t_mbi(FILE *out, const opl_ctx_t *c, const MEMORY_BASIC_INFORMATION *m)
{
    char b1[64], b2[64];
    fprintf(out, " base=%s abase=%s aprot=0x%lx", norm(c, (uintptr_t)m->BaseAddress, b1, sizeof b1),
            norm(c, (uintptr_t)m->AllocationBase, b2, sizeof b2),
            (unsigned long)m->AllocationProtect);
    if (m->State == MEM_FREE)
        fprintf(out, " size=*");
    else
        fprintf(out, " size=0x%zx", (size_t)m->RegionSize);
    fprintf(out, " state=0x%lx prot=0x%lx type=0x%lx", (unsigned long)m->State,
            (unsigned long)m->Protect, (unsigned long)m->Type);
}

/* " err=N ctx=C" of a failure */
static void t_err(FILE *out, const opl_result_t *r)
{
    if (!r->failed)
        fputc('\n', out);
    else if (r->range)
        fprintf(out, " err=%lu ctx=%c\n", (unsigned long)r->error, r->range);
    else
        fprintf(out, " err=%lu\n", (unsigned long)r->error);
}

static void t_regions(FILE *out, const opl_ctx_t *c, const opl_result_t *r)
{
    fputc('\n', out);
    for (size_t i = 0; i < r->nregions; i++) {
        fputs("  ", out);
        t_mbi(out, c, &r->regions[i]);
        fputc('\n', out);
    }
}

static void transcript(FILE *out, const opl_ctx_t *c, const opl_op_t *op, const opl_result_t *r,
                       unsigned seqline)
{
    char b[64];
    if (op->kind == OPL_END) {
        fputs("---\n", out);
        return;
    }
    fprintf(out, "%u %s", seqline, opl_kind_name(op->kind));
    if (r->status == OPL_SKIP || r->status == OPL_BAD_NAME) {
        fputs(r->status == OPL_SKIP ? " -> skip\n" : " -> unknown name\n", out);
        return;
    }
    if (r->status == OPL_UNSUPPORTED || op->kind == OPL_STATS) {
        fputs(" -> unsupported\n", out); /* statistics are winvmem's, not comparable */
        return;
    }
    switch (op->kind) {
    case OPL_SECTION:
    case OPL_OPEN: /* a handle prints as its NAME; success may set the last error (183) */
        fprintf(out, " -> %s", !r->ret ? "0" : op->def[0] ? op->def : "HANDLE");
        if (!r->failed && r->error)
            fprintf(out, " lasterror=%lu", (unsigned long)r->error);
        t_err(out, r);
        return;
    case OPL_CLOSE:
    case OPL_UNMAP:
    case OPL_FLUSH:
        fprintf(out, " -> %d", r->ret ? 1 : 0);
        t_err(out, r);
        return;
    case OPL_ALLOC:
    case OPL_ALLOCAPP:
    case OPL_ALLOCNUMA:
    case OPL_ALLOC2:
    case OPL_VIEW:
    case OPL_VIEW3: {
        const opl__name_t *n = op->def[0] ? newest(c, op->def) : NULL;
        fprintf(out, " -> %s",
                !r->ret        ? "0"
                : n && n->span ? op->def
                               : norm(c, (uintptr_t)r->ret, b, sizeof b));
        t_err(out, r);
        return;
    }
    case OPL_HOLE:
        fputs(r->failed ? " -> failed\n" : " -> ok\n", out);
        return;
    case OPL_PROTECT:
    case OPL_PROTECTAPP:
        fprintf(out, " -> %d", r->ret ? 1 : 0);
        if (r->ret && !(op->flags & OPL_F_NOOLD))
            fprintf(out, " old=0x%lx", (unsigned long)r->old_prot);
        t_err(out, r);
        return;
    case OPL_FREE:
    case OPL_LOCK:
    case OPL_UNLOCK:
    case OPL_PREFETCH:
        fprintf(out, " -> %d", r->ret ? 1 : 0);
        t_err(out, r);
        return;
    case OPL_DISCARD:
    case OPL_OFFER:
    case OPL_RECLAIM: /* the error code is the result; the last error stays untouched */
        fprintf(out, " -> %lu", (unsigned long)r->ret);
        if (r->error)
            fprintf(out, " lasterr=%lu", (unsigned long)r->error);
        fputc('\n', out);
        return;
    case OPL_WSQUERY:
        fprintf(out, " -> %d", r->ret ? 1 : 0);
        if (r->ret)
            fprintf(out, " ws=0x%llx", (unsigned long long)r->ws);
        t_err(out, r);
        return;
    case OPL_WATCH:
        if (r->failed) {
            fprintf(out, " -> %u", (unsigned)r->ret);
            t_err(out, r);
            return;
        }
        fprintf(out, " -> 0 count=%lu gran=0x%lx", (unsigned long)r->count, (unsigned long)r->gran);
        for (uint64_t i = 0; i < r->count && i < OPL_WATCH_MAX; i++)
            fprintf(out, " %s", norm(c, r->written[i], b, sizeof b));
        fputc('\n', out);
        return;
    case OPL_RESETWATCH:
        fprintf(out, " -> %u", (unsigned)r->ret);
        t_err(out, r);
        return;
    case OPL_QUERY:
        fprintf(out, " -> %zu", (size_t)r->ret);
        if (r->ret >= sizeof(MEMORY_BASIC_INFORMATION))
            t_mbi(out, c, &r->mbi);
        t_err(out, r);
        return;
    case OPL_SCAN:
        if (!r->ret)
            fputs(" -> none\n", out);
        else
            t_regions(out, c, r);
        return;
    case OPL_MAP:
        t_regions(out, c, r);
        return;
    case OPL_WRITE:
        fprintf(out, " -> %s %c\n",
                r->fault == 'g' ? "guard"
                : r->fault      ? "fault"
                                : "ok",
                r->state ? r->state : '?');
        return;
    case OPL_READ:
        fputs(" ->", out);
        for (unsigned i = 0; i < r->nbytes; i++)
            fprintf(out, " %02x", r->bytes[i]);
        if (r->fault)
            fprintf(out, " %s %c", r->fault == 'g' ? "guard" : "fault", r->state ? r->state : '?');
        fputc('\n', out);
        return;
    case OPL_ACCESS:
        fprintf(out, " -> %s %s sum=%08lx\n", r->pages, r->states, (unsigned long)r->sum);
        return;
    default:
        fputc('\n', out);
    }
}

/* ---- text and JSON: one record per op -------------------------------------------------- */

typedef struct rec {
    FILE *out;
    int json, nfields;
    const opl_ctx_t *c;
} rec;

/* "A+0x1000" for an address inside a region a name made (end inclusive), else "". */
static const char *rel(const opl_ctx_t *c, uintptr_t a, char *buf, size_t cap)
{
    buf[0] = 0;
    for (size_t i = c->nnames; i-- > 0;) {
        const opl__name_t *n = &c->names[i];
        if (n->span && a >= n->value && a - n->value <= n->span) {
            if (a == n->value)
                snprintf(buf, cap, "%s", n->id);
            else
                snprintf(buf, cap, "%s+0x%" PRIxPTR, n->id, a - n->value);
            break;
        }
    }
    return buf;
}

static void f_str(rec *x, const char *key, const char *v)
{
    if (x->json) {
        fprintf(x->out, ", \"%s\": ", key);
        opl_json_str(x->out, v);
    } else {
        fprintf(x->out, x->nfields ? "  %s=%s" : " %s=%s", key, v);
    }
    x->nfields++;
}

static void f_num(rec *x, const char *key, uint64_t v, int hex)
{
    char b[32];
    if (x->json) {
        fprintf(x->out, ", \"%s\": %llu", key, (unsigned long long)v);
        x->nfields++;
        return;
    }
    snprintf(b, sizeof b, hex ? "0x%llx" : "%llu", (unsigned long long)v);
    f_str(x, key, b);
}

static void f_addr(rec *x, const char *key, uintptr_t a)
{
    char r[48], b[80];
    rel(x->c, a, r, sizeof r);
    if (x->json) {
        snprintf(b, sizeof b, "0x%" PRIxPTR, a);
        f_str(x, key, b);
        if (*r) {
            char k[40];
            snprintf(k, sizeof k, "%s_name", key);
            f_str(x, k, r);
        }
        return;
    }
    snprintf(b, sizeof b, *r ? "0x%" PRIxPTR "(%s)" : "0x%" PRIxPTR, a, r);
    f_str(x, key, b);
}

static void f_error(rec *x, uint32_t e)
{
    const char *n = opl_error_name(e);
    char b[32];
    snprintf(b, sizeof b, "%lu", (unsigned long)e);
    f_str(x, "error", n ? n : b);
    if (x->json)
        f_num(x, "error_code", e, 0);
}

static void f_mbi(rec *x, const MEMORY_BASIC_INFORMATION *m)
{
    char b[96];
    f_addr(x, "base", (uintptr_t)m->BaseAddress);
    f_addr(x, "allocation_base", (uintptr_t)m->AllocationBase);
    opl_prot_flags(m->AllocationProtect, b, sizeof b);
    f_str(x, "allocation_protect", b);
    f_num(x, "size", m->RegionSize, 1);
    f_str(x, "state", opl_state_name(m->State));
    opl_prot_flags(m->Protect, b, sizeof b);
    f_str(x, "protect", b);
    f_str(x, "type", opl_type_name(m->Type));
}

static void f_bool(rec *x, const opl_result_t *r)
{
    f_str(x, "result", r->ret ? "TRUE" : "FALSE");
    if (!r->ret)
        f_error(x, r->error);
}

static const char *fault_words(char f)
{
    return f == 'g' ? "guard page violation" : "access violation";
}

static void f_regions(rec *x, const opl_result_t *r)
{
    if (x->json)
        fputs(", \"regions\": [", x->out);
    for (size_t i = 0; i < r->nregions; i++) {
        fprintf(x->out, x->json ? "%s{\"i\": %zu" : "%s\n        [%zu]", x->json && i ? ", " : "",
                i);
        x->nfields = 1;
        f_mbi(x, &r->regions[i]);
        if (x->json)
            fputc('}', x->out);
    }
    if (x->json)
        fputc(']', x->out);
}

static void fields(rec *x, const opl_op_t *op, const opl_result_t *r)
{
    char b[OPL_WATCH_MAX * 24];
    switch (op->kind) {
    case OPL_SECTION:
    case OPL_OPEN:
        if (r->ret) {
            f_str(x, "result", op->def[0] ? op->def : "a handle");
            if (r->error)
                f_error(x, r->error);
        } else {
            f_str(x, "result", "NULL");
            f_error(x, r->error);
        }
        return;
    case OPL_CLOSE:
    case OPL_UNMAP:
    case OPL_FLUSH:
        f_bool(x, r);
        return;
    case OPL_ALLOC:
    case OPL_ALLOCAPP:
    case OPL_ALLOCNUMA:
    case OPL_ALLOC2:
    case OPL_VIEW:
    case OPL_VIEW3:
        if (r->ret)
            f_addr(x, "result", (uintptr_t)r->ret);
        else {
            f_str(x, "result", "NULL");
            f_error(x, r->error);
        }
        return;
    case OPL_HOLE:
        if (r->ret)
            f_addr(x, "free_space", (uintptr_t)r->ret);
        else
            f_str(x, "result", "failed");
        return;
    case OPL_FREE:
    case OPL_LOCK:
    case OPL_UNLOCK:
    case OPL_PREFETCH:
        f_bool(x, r);
        return;
    case OPL_DISCARD:
    case OPL_OFFER:
    case OPL_RECLAIM: {
        const char *n = opl_error_name((uint32_t)r->ret);
        if (n)
            f_str(x, "result", n);
        else
            f_num(x, "result", r->ret, 0);
        return;
    }
    case OPL_WSQUERY:
        f_bool(x, r);
        if (r->ret) {
            const uint64_t w = r->ws;
            f_num(x, "flags", w, 1);
            f_num(x, "valid", w & 1, 0);
            f_num(x, "share_count", w >> 1 & 7, 0);
            opl_prot_flags((uint32_t)(w >> 4 & 0x7FF), b, sizeof b);
            f_str(x, "protection", b);
            f_num(x, "shared", w >> 15 & 1, 0);
            f_num(x, "node", w >> 16 & 63, 0);
            f_num(x, "locked", w >> 22 & 1, 0);
            f_num(x, "large_page", w >> 23 & 1, 0);
            f_num(x, "bad", w >> 31 & 1, 0);
        }
        return;
    case OPL_PROTECT:
    case OPL_PROTECTAPP:
        f_bool(x, r);
        if (r->ret && !(op->flags & OPL_F_NOOLD)) {
            opl_prot_flags(r->old_prot, b, sizeof b);
            f_str(x, "old", b);
        }
        return;
    case OPL_QUERY:
        f_num(x, "result", r->ret, 0);
        if (r->ret >= sizeof(MEMORY_BASIC_INFORMATION))
            f_mbi(x, &r->mbi);
        else
            f_error(x, r->error);
        return;
    case OPL_SCAN:
        if (!r->ret)
            f_str(x, "result", "not in an allocation");
        else
            f_regions(x, r);
        return;
    case OPL_MAP:
        f_regions(x, r);
        return;
    case OPL_WRITE:
        f_str(x, "result", r->fault ? fault_words(r->fault) : "ok");
        return;
    case OPL_READ: {
        size_t o = 0;
        b[0] = 0;
        for (unsigned i = 0; i < r->nbytes; i++)
            o += (size_t)snprintf(b + o, sizeof b - o, "%s%02x", o ? " " : "", r->bytes[i]);
        f_str(x, "bytes", b);
        if (r->fault)
            f_str(x, "fault", fault_words(r->fault));
        return;
    }
    case OPL_ACCESS:
        f_str(x, "pages", r->pages);
        return;
    case OPL_WATCH: {
        f_num(x, "result", r->ret, r->ret != 0);
        if (r->failed) {
            f_error(x, r->error);
            return;
        }
        size_t o = 0;
        b[0] = 0;
        for (uint64_t i = 0; i < r->count && i < OPL_WATCH_MAX; i++) {
            char nb[48];
            if (!*rel(x->c, r->written[i], nb, sizeof nb))
                snprintf(nb, sizeof nb, "0x%" PRIxPTR, r->written[i]);
            o += (size_t)snprintf(b + o, sizeof b - o, "%s%s", i ? " " : "", nb);
        }
        f_num(x, "count", r->count, 0);
        f_str(x, "written", b);
        return;
    }
    case OPL_RESETWATCH:
        f_num(x, "result", r->ret, r->ret != 0);
        if (r->failed)
            f_error(x, r->error);
        return;
    default:
        return;
    }
}

static void record(FILE *out, int json, const opl_ctx_t *c, const opl_op_t *op,
                   const opl_result_t *r, const char *src)
{
    rec x = {out, json, 0, c};
    src = src ? src : "";
    if (json) {
        fprintf(out, "{\"line\": %u, \"op\": \"%s\", \"source\": ", op->line,
                opl_kind_name(op->kind));
        opl_json_str(out, src);
    } else if (op->kind == OPL_STATS && r->status == OPL_DONE) {
        fprintf(out, "%4u  %s\n", op->line, src);
    } else {
        fprintf(out, "%4u  %s\n      ->", op->line, src);
    }
    if (r->status == OPL_SKIP)
        f_str(&x, "result", "skip (the name's allocation failed)");
    else if (r->status == OPL_UNSUPPORTED)
        f_str(&x, "result", "unsupported here");
    else if (r->status == OPL_BAD_NAME)
        f_str(&x, "result", "unknown name");
#ifndef _WIN32
    else if (op->kind == OPL_STATS) {
        if (json)
            fputs(", \"stats\": ", out);
        wvm_print_stats(out, json ? WVM_PRINT_JSON : 0);
        if (json)
            fputc('}', out);
        return;
    }
#endif
    else
        fields(&x, op, r);
    fputs(json ? "}" : "\n", out);
}

void opl_print(FILE *out, opl_style_t style, const opl_ctx_t *c, const opl_op_t *op,
               const opl_result_t *r, unsigned seqline, const char *src)
{
    if (style == OPL_TRANSCRIPT)
        transcript(out, c, op, r, seqline);
    else
        record(out, style == OPL_JSON, c, op, r, src);
}
