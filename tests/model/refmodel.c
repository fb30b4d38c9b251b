/* The reference model (refmodel.h): Windows' rules, one operation at a time. Sources for each
 * rule are the rows of doc/windows-semantics.md (T/T2/R/D/K: Windows-verified or documented);
 * where Windows leaves a choice open the comment says what the model accepts. */
#include "refmodel.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Windows SDK values (the model does not include winvmem's headers). */
#define NOACCESS            0x01u
#define READONLY            0x02u
#define READWRITE           0x04u
#define WRITECOPY           0x08u
#define EXECUTE             0x10u
#define EXECUTE_READ        0x20u
#define EXECUTE_READWRITE   0x40u
#define EXECUTE_WRITECOPY   0x80u
#define GUARD               0x100u
#define M_COMMIT            0x1000u
#define M_RESERVE           0x2000u
#define M_FREE              0x10000u
#define M_PRIVATE           0x20000u
#define M_WRITE_WATCH       0x200000u
#define E_INVALID_PARAMETER 87u
#define E_NOT_LOCKED        158u
#define E_INVALID_ADDRESS   487u
#define E_NOACCESS          998u
#define E_GUARD_PAGE        0x80000001u /* STATUS_GUARD_PAGE_VIOLATION as VirtualLock's last error */

#define NONE 0xFFFFu

unsigned rm_divergences = 0;
unsigned rm_deviations = 0;

size_t rm_state_size(uint32_t npages)
{
    return sizeof(rm_state) + (size_t)npages * sizeof(rm_page);
}

static const rm_page free_page = {RM_FREE, 0, 0, 0, NONE, 0, 0, RM_V_KNOWN};

void rm_init(rm_state *s, uint32_t npages)
{
    s->npages = npages;
    s->pad = 0;
    for (uint32_t i = 0; i < npages; i++)
        s->p[i] = free_page;
}

int rm_valid_prot(uint32_t p)
{
    uint32_t base = p & ~GUARD;
    if (base != NOACCESS && base != READONLY && base != READWRITE && base != EXECUTE &&
        base != EXECUTE_READ && base != EXECUTE_READWRITE)
        return 0;
    return !(p & GUARD) || base != NOACCESS; /* "cannot be used with PAGE_NOACCESS" (D, K) */
}

int rm_readable(uint32_t p)
{
    return !(p & GUARD) && (p == READONLY || p == READWRITE || p == EXECUTE || p == EXECUTE_READ ||
                            p == EXECUTE_READWRITE);
}

int rm_writable(uint32_t p)
{
    return p == READWRITE || p == EXECUTE_READWRITE;
}

static const char *const names[RM_NKINDS] = {
    "reserve", "commit",     "decommit",  "release",  "protect", "query",
    "reset",   "reset_undo", "lock",      "unlock",   "ww_get",  "ww_reset",
    "read",    "write",      "freecheck", "bufcheck", "view"};

const char *rm_kind_name(unsigned kind)
{
    return kind < RM_NKINDS ? names[kind] : "?";
}

static void say(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t n, const char *fmt, ...)
{
    if (!why || !n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
}

/* ---- shared checks -------------------------------------------------------------------------- */

/* The call's success and error against the model's verdict (want_err 0: success). */
static int outcome(const rm_res *r, uint32_t want_err, char *why, size_t n)
{
    if (!want_err && !r->ok) {
        say(why, n, "failed with %u, model: success", r->err);
        return 0;
    }
    if (want_err && r->ok) {
        say(why, n, "succeeded, model: error %u", want_err);
        return 0;
    }
    if (want_err && r->err != want_err) {
        say(why, n, "error %u, model: error %u", r->err, want_err);
        return 0;
    }
    return 1;
}

static int in_alloc(const rm_state *s, uint32_t p, uint32_t n)
{
    return p < s->npages && s->p[p].base != NONE && p + n <= s->p[p].end;
}

static int committed(const rm_page *g)
{
    return g->state == RM_COMM;
}

/* Protection first (D: validated before the type is looked at), then the range must lie in
 * one allocation (T, R): the checks of VirtualAlloc(MEM_COMMIT / MEM_RESET / MEM_RESET_UNDO). */
static uint32_t prot_range_err(const rm_state *s, const rm_op *op)
{
    return !rm_valid_prot(op->prot)             ? E_INVALID_PARAMETER
           : !in_alloc(s, op->page, op->npages) ? E_INVALID_ADDRESS
                                                : 0;
}

/* A successful VirtualAlloc returned the page-rounded address of `page`. */
static int returned(const rm_res *r, uint32_t page, char *why, size_t n)
{
    if (r->ret == (int64_t)page * RM_PAGE)
        return 1;
    say(why, n, "returned +0x%llx, model +0x%llx", (long long)r->ret, (long long)page * RM_PAGE);
    return 0;
}

/* ---- reserve, commit, decommit, release, protect -------------------------------------------- */

static int do_reserve(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                      size_t n)
{
    (void)choice;
    uint32_t b = op->page / RM_GRAN * RM_GRAN, end = op->page + op->npages;
    uint32_t err = 0;
    if (!rm_valid_prot(op->prot))
        err = E_INVALID_PARAMETER;
    else if (end > s->npages)
        err = E_INVALID_ADDRESS; /* the caller keeps reservations inside the window */
    for (uint32_t i = b; !err && i < end; i++)
        if (s->p[i].state != RM_FREE)
            err = E_INVALID_ADDRESS; /* conflicting addresses (R) */
    if (!outcome(r, err, why, n))
        return 0;
    if (err)
        return 1;
    /* the base rounds down to the granule, the end up to the page (R: CheckSize) */
    if (!returned(r, b, why, n))
        return 0;
    int commit = (op->type & M_COMMIT) != 0;
    rm_page pg = {commit ? RM_COMM : RM_RESV,
                  (op->type & M_WRITE_WATCH) ? RM_F_WW : 0,
                  commit ? (uint16_t)op->prot : 0,
                  (uint16_t)op->prot,
                  (uint16_t)b,
                  (uint16_t)end,
                  0,
                  RM_V_KNOWN};
    for (uint32_t i = b; i < end; i++)
        s->p[i] = pg;
    return 1;
}

static int do_commit(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                     size_t n)
{
    (void)choice;
    uint32_t err = prot_range_err(s, op);
    if (!outcome(r, err, why, n))
        return 0;
    if (err)
        return 1;
    if (!returned(r, op->page, why, n))
        return 0;
    for (uint32_t i = op->page; i < op->page + op->npages; i++) {
        rm_page *g = &s->p[i];
        if (!committed(g)) { /* fresh pages read zero; committed ones keep data and locks */
            g->val = 0;
            g->vstate = RM_V_KNOWN;
        }
        g->state = RM_COMM;
        g->prot = (uint16_t)op->prot; /* re-commit sets the new protection (R) */
    }
    return 1;
}

static void decommit_page(rm_page *g)
{
    g->state = RM_RESV;
    g->prot = 0;
    g->val = 0;
    g->vstate = RM_V_KNOWN;
    g->flags &= (uint8_t)~RM_F_LOCKED; /* Windows keeps the write-watch record (T) */
}

static int do_decommit(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                       size_t n)
{
    (void)choice;
    uint32_t p = op->page;
    int whole = op->npages == 0;
    uint16_t b = p < s->npages ? s->p[p].base : NONE;
    uint32_t err = 0;
    if (b == NONE)
        err = E_INVALID_ADDRESS; /* no allocation (K) */
    else if (whole && b != p)
        err = E_INVALID_ADDRESS; /* size 0 not at the base (T2) */
    else if (!whole && p + op->npages > s->p[p].end)
        err = E_INVALID_PARAMETER; /* range past the allocation (R) */
    if (!outcome(r, err, why, n))
        return 0;
    if (err)
        return 1;
    uint32_t end = whole ? s->p[p].end : p + op->npages;
    for (uint32_t i = p; i < end; i++)
        decommit_page(&s->p[i]);
    return 1;
}

static int do_release(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                      size_t n)
{
    (void)choice;
    uint32_t p = op->page;
    uint16_t b = p < s->npages ? s->p[p].base : NONE;
    uint32_t err = b == NONE || b != p ? E_INVALID_ADDRESS : 0; /* T2, R */
    if (!outcome(r, err, why, n))
        return 0;
    if (err)
        return 1;
    for (uint32_t i = p, end = s->p[p].end; i < end; i++)
        s->p[i] = free_page;
    return 1;
}

static int do_protect(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                      size_t n)
{
    /* order (windows-semantics "Order of checks" 3): protection, range, WRITECOPY on private
     * memory, commit state */
    uint32_t b = op->prot & 0xFFu;
    int wc = (b == WRITECOPY || b == EXECUTE_WRITECOPY) && !(op->prot & ~(0xFFu | GUARD));
    uint32_t err = !rm_valid_prot(op->prot) && !wc      ? E_INVALID_PARAMETER
                   : !in_alloc(s, op->page, op->npages) ? E_INVALID_ADDRESS
                   : wc                                 ? E_INVALID_PARAMETER
                                                        : 0;
    for (uint32_t i = op->page; !err && i < op->page + op->npages; i++)
        if (!committed(&s->p[i]))
            err = E_INVALID_ADDRESS; /* STATUS_NOT_COMMITTED, nothing changed (T) */
    /* lpflOldProtect elsewhere: 998 from the probe before anything changed (choice 0), or from
     * the write after the change (choice 1) */
    if (r->unknown && !r->ok && r->err == E_NOACCESS && (rm_valid_prot(op->prot) || wc)) {
        if (!choice)
            return 1;
        if (err) {
            say(why, n, "998 after a change that fails with %u", err);
            return 0;
        }
    } else if (!outcome(r, err, why, n))
        return 0;
    if (err)
        return 1;
    uint32_t old = s->p[op->page].prot; /* the first page's protection (D) */
    if (r->nold && r->old != old) {
        say(why, n, "old protection 0x%x, model 0x%x", r->old, old);
        return 0;
    }
    for (uint32_t i = op->page; i < op->page + op->npages; i++)
        s->p[i].prot = (uint16_t)op->prot;
    return 1;
}

/* ---- query ---------------------------------------------------------------------------------- */

/* One past the last page of the region that starts at page p: equal state, allocation and (if
 * committed) protection; locks, resets and write-watch records do not split regions. */
static uint32_t region_end(const rm_state *s, uint32_t p)
{
    const rm_page *m = &s->p[p];
    uint32_t j = p;
    while (j < s->npages && s->p[j].state == m->state && s->p[j].base == m->base &&
           (m->state != RM_COMM || s->p[j].prot == m->prot))
        j++;
    return j;
}

/* The MBI Windows reports for page p; *open: a free region that reaches the window's end
 * (its RegionSize is at least the one given). */
static void model_mbi(const rm_state *s, uint32_t p, rm_mbi *m, int *open)
{
    const rm_page *g = &s->p[p];
    uint32_t j = region_end(s, p);
    *open = g->state == RM_FREE && j == s->npages;
    m->base = (int64_t)p * RM_PAGE;
    m->size = (uint64_t)(j - p) * RM_PAGE;
    m->partition = 0;
    if (g->state == RM_FREE) { /* D, W: {page, NULL, 0, .., MEM_FREE, PAGE_NOACCESS, 0} */
        m->alloc_base = RM_NULL;
        m->alloc_prot = 0;
        m->state = M_FREE;
        m->prot = NOACCESS;
        m->type = 0;
        return;
    }
    m->alloc_base = (int64_t)g->base * RM_PAGE;
    m->alloc_prot = g->aprot;
    m->state = g->state == RM_COMM ? M_COMMIT : M_RESERVE;
    m->prot = g->state == RM_COMM ? g->prot : 0; /* reserved: Protect 0 (T) */
    m->type = M_PRIVATE;
}

static void mbi_str(char *b, size_t n, const rm_mbi *m)
{
    char ab[32] = "NULL";
    if (m->alloc_base != RM_NULL)
        snprintf(ab, sizeof ab, "%s0x%llx", m->alloc_base < 0 ? "-" : "+",
                 (unsigned long long)(m->alloc_base < 0 ? -m->alloc_base : m->alloc_base));
    snprintf(b, n,
             "{base %s0x%llx abase %s aprot 0x%x size 0x%llx state 0x%x prot 0x%x "
             "type 0x%x part %u}",
             m->base < 0 ? "-" : "+", (unsigned long long)(m->base < 0 ? -m->base : m->base), ab,
             m->alloc_prot, (unsigned long long)m->size, m->state, m->prot, m->type, m->partition);
}

static int same_mbi(const rm_mbi *got, const rm_mbi *want, int open)
{
    return got->base == want->base && got->alloc_base == want->alloc_base &&
           got->alloc_prot == want->alloc_prot && got->state == want->state &&
           got->prot == want->prot && got->type == want->type && got->partition == 0 &&
           (open ? got->size >= want->size : got->size == want->size);
}

static int do_query(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                    size_t n)
{
    (void)choice;
    if (r->unknown) /* buffer elsewhere: written or refused (998), RM_BUFCHECK checks which */
        return outcome(r, r->ok ? 0 : E_NOACCESS, why, n);
    if (!outcome(r, 0, why, n))
        return 0;
    rm_mbi want;
    int open;
    model_mbi(s, op->page, &want, &open);
    if (!same_mbi(&r->mbi, &want, open)) {
        char a[200], b[200];
        mbi_str(a, sizeof a, &r->mbi);
        mbi_str(b, sizeof b, &want);
        say(why, n, "%s, model %s%s", a, b, open ? " (size at least)" : "");
        return 0;
    }
    return 1;
}

/* ---- MEM_RESET, MEM_RESET_UNDO -------------------------------------------------------------- */

static int do_reset(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                    size_t n)
{
    (void)choice;
    uint32_t err = prot_range_err(s, op);
    int undo = op->kind == RM_RESET_UNDO;
    int lost = 0;
    for (uint32_t i = op->page; !err && i < op->page + op->npages; i++)
        lost += s->p[i].vstate == RM_V_RESET_LOST;
    /* D: "MEM_RESET_UNDO should only be called on an address range to which MEM_RESET was
     * successfully applied earlier"; otherwise the result is undefined, so a failure (487) is
     * accepted whenever the range is valid (winvmem: a fault of any kind while it pins the
     * pages makes it fail) */
    if (err || !undo) {
        if (!outcome(r, err, why, n))
            return 0;
    } else if (lost || !r->ok) {
        /* undo may fail when a reset page lost its data unseen (D: "fails"); must fail when a
         * read saw a reset page zero */
        if (!outcome(r, E_INVALID_ADDRESS, why, n)) {
            if (lost && r->ok)
                say(why, n, "MEM_RESET_UNDO succeeded, but a reset page was seen zero since");
            return 0;
        }
    }
    if (err)
        return 1;
    if (r->ok && !returned(r, op->page, why, n))
        return 0;
    for (uint32_t i = op->page; i < op->page + op->npages; i++) {
        rm_page *g = &s->p[i];
        if (!undo) {
            /* committed pages only; locked pages stay resident (their data is kept) */
            if (!committed(g) || (g->flags & RM_F_LOCKED))
                continue;
            if (g->vstate == RM_V_KNOWN)
                g->vstate = RM_V_RESET;
            else if (g->vstate == RM_V_INDET)
                g->vstate = RM_V_RESET_INDET;
        } else if (r->ok) { /* every page intact */
            if (g->vstate == RM_V_RESET)
                g->vstate = RM_V_KNOWN;
            else if (g->vstate == RM_V_RESET_INDET)
                g->vstate = RM_V_INDET;
        } else { /* "some data now zero": which is open until read */
            if (g->vstate == RM_V_RESET || g->vstate == RM_V_RESET_INDET)
                g->vstate = RM_V_INDET;
            else if (g->vstate == RM_V_RESET_LOST)
                g->vstate = RM_V_KNOWN;
        }
    }
    return 1;
}

/* ---- VirtualLock, VirtualUnlock ------------------------------------------------------------- */

static int do_lock(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                   size_t n)
{
    (void)choice;
    int lock = op->kind == RM_LOCK;
    uint32_t p = op->page, cnt = op->npages ? op->npages : 1, err = 0, guard = NONE;
    if (p < s->npages && s->p[p].state == RM_FREE) {
        /* free memory: Windows fails (nothing to lock); winvmem passes memory it does not own
         * to mlock, whose refusal it reports (1453 or 998), or 487 when the range runs into an
         * allocation. Any failure that changes nothing is accepted. */
        if (r->ok && (lock || !(rm_divergences & RM_DIV_UNLOCK_FREE))) {
            say(why, n, "%s of free memory succeeded", lock ? "VirtualLock" : "VirtualUnlock");
            return 0;
        }
        return 1;
    }
    if (!in_alloc(s, p, cnt))
        err = E_INVALID_ADDRESS;
    /* pages probed in order (D: all committed, no PAGE_NOACCESS; guard: STATUS_GUARD_PAGE) */
    for (uint32_t i = p; !err && i < p + cnt; i++) {
        const rm_page *g = &s->p[i];
        if (!committed(g))
            err = E_NOACCESS;
        else if (lock && (g->prot & GUARD)) {
            err = E_GUARD_PAGE;
            guard = i;
        } else if (lock && g->prot == NOACCESS)
            err = E_NOACCESS;
        else if (!lock && !(g->flags & RM_F_LOCKED))
            err = E_NOT_LOCKED;
    }
    if (!outcome(r, err, why, n))
        return 0;
    if (guard != NONE)
        s->p[guard].prot &= (uint16_t)~GUARD; /* the probe consumed that guard */
    if (err)
        return 1;
    for (uint32_t i = p; i < p + cnt; i++) /* a lock writes nothing (write watch unchanged) */
        s->p[i].flags =
            (uint8_t)(lock ? s->p[i].flags | RM_F_LOCKED : s->p[i].flags & ~RM_F_LOCKED);
    return 1;
}

/* ---- write watch ---------------------------------------------------------------------------- */

static int ww_range(const rm_state *s, uint32_t p, uint32_t cnt)
{
    return cnt && in_alloc(s, p, cnt) && (s->p[p].flags & RM_F_WW);
}

static int do_ww_get(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                     size_t n)
{
    (void)choice;
    uint32_t err = !ww_range(s, op->page, op->npages) || !op->cap ? E_INVALID_PARAMETER : 0;
    int reset = op->type & 1;
    if (r->unknown) {
        /* arrays elsewhere: the answer is not read back; a refusal (998) may come before or
         * after the records were reset. The records of the range become unknown. */
        if (!(!r->ok && r->err == E_NOACCESS) && !outcome(r, err, why, n))
            return 0;
        for (uint32_t i = 0; !err && reset && i < op->npages; i++)
            s->p[op->page + i].flags |= RM_F_WMAYBE;
        return 1;
    }
    if (!outcome(r, err, why, n))
        return 0;
    if (err)
        return 1;
    if (r->old != RM_PAGE || r->ww_n != (uint32_t)__builtin_popcountll(r->ww_mask) ||
        r->ww_n > op->cap || (op->npages < 64 && (r->ww_mask >> op->npages))) {
        say(why, n, "count %u granularity %u mask 0x%llx (cap %u)", r->ww_n, r->old,
            (unsigned long long)r->ww_mask, op->cap);
        return 0;
    }
    /* the first cap written pages in address order; pages after the last one returned are
     * unconstrained when the array was full */
    uint32_t last = r->ww_mask ? 63u - (uint32_t)__builtin_clzll(r->ww_mask) : 0;
    int full = r->ww_n == op->cap;
    for (uint32_t i = 0; i < op->npages; i++) {
        rm_page *g = &s->p[op->page + i];
        int got = (int)((r->ww_mask >> i) & 1);
        if ((op->contested >> i) & 1 || (g->flags & RM_F_WMAYBE)) {
            if ((op->contested >> i) & 1)
                g->flags |= RM_F_WMAYBE;       /* a racing write may land before or after */
            else if (got || !full || i < last) /* the call decided this record */
                g->flags = (uint8_t)((g->flags & ~RM_F_WMAYBE & ~RM_F_WRITTEN) |
                                     (got && !reset ? RM_F_WRITTEN : 0));
            continue;
        }
        int written = (g->flags & RM_F_WRITTEN) != 0;
        if (got && !written) {
            say(why, n, "returned page %u, never written since the last reset", op->page + i);
            return 0;
        }
        if (!got && written && (!full || i < last)) {
            say(why, n, "did not return written page %u (count %u, cap %u)", op->page + i, r->ww_n,
                op->cap);
            return 0;
        }
        if (got && reset)
            g->flags &= (uint8_t)~RM_F_WRITTEN; /* only the pages returned are reset */
    }
    return 1;
}

static int do_ww_reset(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                       size_t n)
{
    (void)choice;
    uint32_t err = !ww_range(s, op->page, op->npages) ? E_INVALID_PARAMETER : 0;
    if (!outcome(r, err, why, n))
        return 0;
    for (uint32_t i = 0; !err && i < op->npages; i++)
        s->p[op->page + i].flags &= (uint8_t) ~(RM_F_WRITTEN | RM_F_WMAYBE);
    return 1;
}

/* A store of the library or the program that did not happen (refused, faulted) but ran while
 * another call narrowed its page (op->contested, set by the caller) may have left the page
 * recorded written: the record is made when the store's fault is resolved, before the store
 * runs again and meets the narrowing. A documented deviation of winvmem (finding (m),
 * doc/porting.md); the record becomes unknown. */
static void maybe_recorded(rm_page *g, const rm_op *op)
{
    if ((op->contested & 1) && (g->flags & RM_F_WW) && !(g->flags & RM_F_WRITTEN))
        g->flags |= RM_F_WMAYBE;
}

/* ---- memory accesses ------------------------------------------------------------------------ */

/* A read that returned 0 without a fault while a decommit or release of its page ran: the
 * zero page the kernel maps between the guard marker's zap and its install (choice 1 of
 * rm_choices; RM_DEV_DECOMMIT_READ_ZERO). */
static int racing_zero(const rm_op *op, const rm_res *r)
{
    return (rm_deviations & RM_DEV_DECOMMIT_READ_ZERO) && op->kind == RM_READ && op->contested &&
           r->fault == RM_NOFAULT && r->val == 0;
}

static int do_access(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                     size_t n)
{
    rm_page *g = &s->p[op->page];
    if (choice == 1) { /* racing_zero: the page as it was just before the decommit */
        unsigned gr = committed(g) ? g->base / RM_GRAN : 63;
        int racing = (op->contested & 1) || (gr < 63 && ((op->contested >> (1 + gr)) & 1));
        if (!committed(g) || g->prot != READWRITE || (g->flags & RM_F_WW) || !racing) {
            say(why, n,
                "read 0 racing a decommit: the page is not a read-write page of the "
                "allocation being decommitted (state %u prot 0x%x)",
                g->state, g->prot);
            return 0;
        }
        return 1;
    }
    int write = op->kind == RM_WRITE;
    int want = RM_AV;
    if (committed(g) && (g->prot & GUARD))
        want = RM_GUARDFAULT; /* one STATUS_GUARD_PAGE_VIOLATION, then the plain protection */
    else if (committed(g) && (write ? rm_writable(g->prot) : rm_readable(g->prot)))
        want = RM_NOFAULT;
    if (r->fault != want) {
        static const char *const f[] = {"no fault", "an access violation", "a guard violation"};
        say(why, n, "%s gives %s, model %s (state %u prot 0x%x)", write ? "write" : "read",
            f[r->fault % 3], f[want], g->state, g->prot);
        return 0;
    }
    if (want != RM_NOFAULT && write)
        maybe_recorded(g, op);
    if (want == RM_GUARDFAULT) {
        g->prot &= (uint16_t)~GUARD;
        return 1;
    }
    if (want != RM_NOFAULT)
        return 1;
    if (write) {
        g->val = op->val;
        g->vstate = RM_V_KNOWN;
        if (g->flags & RM_F_WW)
            g->flags = (uint8_t)((g->flags | RM_F_WRITTEN) & ~RM_F_WMAYBE);
        return 1;
    }
    uint8_t v = r->val;
    switch (g->vstate) {
    case RM_V_KNOWN:
    case RM_V_RESET_LOST:
        if (v != g->val) {
            say(why, n, "read 0x%x, model 0x%x", v, g->val);
            return 0;
        }
        return 1;
    case RM_V_RESET: /* kept or dropped (D: "may be zero or kept"); a dropped page stays 0 */
        if (v != g->val && v != 0) {
            say(why, n, "read 0x%x from a reset page, model 0x%x or 0", v, g->val);
            return 0;
        }
        if (v != g->val) {
            g->val = 0;
            g->vstate = RM_V_RESET_LOST;
        }
        return 1;
    default: /* RM_V_INDET, RM_V_RESET_INDET: the first read tells which */
        if (v != g->val && v != 0) {
            say(why, n, "read 0x%x, model 0x%x or 0", v, g->val);
            return 0;
        }
        g->val = v;
        g->vstate = g->vstate == RM_V_INDET ? RM_V_KNOWN : RM_V_RESET;
        return 1;
    }
}

/* ---- parts of split operations -------------------------------------------------------------- */

static int do_freecheck(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                        size_t n)
{
    (void)choice;
    (void)r;
    for (uint32_t i = op->page; i < op->page + op->npages && i < s->npages; i++)
        if (s->p[i].state != RM_FREE) {
            say(why, n, "reported free up to page %u, but page %u is allocated",
                op->page + op->npages, i);
            return 0;
        }
    uint32_t e = op->page + op->npages;
    if ((op->type & 1) && (e >= s->npages || s->p[e].state == RM_FREE)) {
        say(why, n, "free region reported to end at page %u, which is free", e);
        return 0;
    }
    return 1;
}

static int do_bufcheck(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                       size_t n)
{
    rm_page *g = &s->p[op->page];
    int can = committed(g) && rm_writable(g->prot) && !(g->prot & GUARD);
    if (op->type & 1) { /* maybe stored (a failed VirtualProtect): choice 1 stored, 0 not */
        if (!choice) {
            maybe_recorded(g, op);
            return 1;
        }
        if (!can) {
            say(why, n,
                "out-parameter in page %u stored, model: page not writable (state %u prot "
                "0x%x)",
                op->page, g->state, g->prot);
            return 0;
        }
    } else if (can != r->ok) {
        say(why, n, "out-parameter in page %u %s, model: page %s (state %u prot 0x%x)", op->page,
            r->ok ? "written" : "refused (998)", can ? "writable" : "not writable", g->state,
            g->prot);
        return 0;
    }
    if (can && (g->flags & RM_F_WW)) /* the library's store is a write like any other */
        g->flags = (uint8_t)((g->flags | RM_F_WRITTEN) & ~RM_F_WMAYBE);
    if (!can)
        maybe_recorded(g, op);
    return 1;
}

static int do_view(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                   size_t n)
{
    (void)choice;
    (void)op;
    uint32_t p = 0, k = 0;
    for (; p < s->npages; k++) {
        rm_mbi want;
        int open;
        model_mbi(s, p, &want, &open);
        if (k >= r->nview || !same_mbi(&r->view[k], &want, open)) {
            char a[200] = "(none)", b[200];
            if (k < r->nview)
                mbi_str(a, sizeof a, &r->view[k]);
            mbi_str(b, sizeof b, &want);
            say(why, n, "forked child saw region %u as %s, model %s", k, a, b);
            return 0;
        }
        p += (uint32_t)(want.size / RM_PAGE);
    }
    return 1;
}

unsigned rm_choices(const rm_op *op, const rm_res *r)
{
    if ((op->kind == RM_BUFCHECK && (op->type & 1)) || racing_zero(op, r))
        return 2;
    return op->kind == RM_PROTECT && r->unknown && !r->ok && r->err == E_NOACCESS ? 2 : 1;
}

int rm_apply(rm_state *s, const rm_op *op, const rm_res *r, char *why, size_t n)
{
    return rm_apply_choice(s, op, r, 0, why, n);
}

int rm_apply_choice(rm_state *s, const rm_op *op, const rm_res *r, unsigned choice, char *why,
                    size_t n)
{
    if (op->page >= s->npages && op->kind != RM_VIEW) {
        say(why, n, "page %u outside the model (%u pages)", op->page, s->npages);
        return 0;
    }
    typedef int (*apply_fn)(rm_state *, const rm_op *, const rm_res *, unsigned, char *, size_t);
    static const apply_fn fns[RM_NKINDS] = {
        [RM_RESERVE] = do_reserve,   [RM_COMMIT] = do_commit,    [RM_DECOMMIT] = do_decommit,
        [RM_RELEASE] = do_release,   [RM_PROTECT] = do_protect,  [RM_QUERY] = do_query,
        [RM_RESET] = do_reset,       [RM_RESET_UNDO] = do_reset, [RM_LOCK] = do_lock,
        [RM_UNLOCK] = do_lock,       [RM_WW_GET] = do_ww_get,    [RM_WW_RESET] = do_ww_reset,
        [RM_READ] = do_access,       [RM_WRITE] = do_access,     [RM_FREECHECK] = do_freecheck,
        [RM_BUFCHECK] = do_bufcheck, [RM_VIEW] = do_view};
    if (op->kind < RM_NKINDS)
        return fns[op->kind](s, op, r, choice, why, n);
    say(why, n, "unknown operation %u", op->kind);
    return 0;
}

/* Appends to buf (NUL-terminated, capacity n). */
static void app(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void app(char *buf, size_t n, const char *fmt, ...)
{
    size_t l = strlen(buf);
    if (l + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + l, n - l, fmt, ap);
    va_end(ap);
}

void rm_describe(char *buf, size_t n, const rm_op *op, const rm_res *r)
{
    app(buf, n, "%s(page %u, %u pages", rm_kind_name(op->kind), op->page, op->npages);
    if (op->kind == RM_RESERVE || op->kind == RM_WW_GET || op->kind == RM_FREECHECK ||
        (op->kind == RM_BUFCHECK && op->type))
        app(buf, n, ", type 0x%x", op->type);
    if (op->prot)
        app(buf, n, ", prot 0x%x", op->prot);
    if (op->kind == RM_WRITE)
        app(buf, n, ", 0x%x", op->val);
    if (op->kind == RM_WW_GET)
        app(buf, n, ", cap %u contested 0x%llx", op->cap, (unsigned long long)op->contested);
    else if (op->contested)
        app(buf, n, ", racing a change of its page");
    app(buf, n, ")");
    if (!r)
        return;
    if (!r->ok && op->kind != RM_READ && op->kind != RM_WRITE) {
        app(buf, n, " -> error %u%s", r->err, r->unknown ? " (out-parameters elsewhere)" : "");
        return;
    }
    char t[200];
    switch (op->kind) {
    case RM_QUERY:
        mbi_str(t, sizeof t, &r->mbi);
        app(buf, n, " -> %s", r->unknown ? "ok (out-parameters elsewhere)" : t);
        break;
    case RM_READ:
    case RM_WRITE:
        app(buf, n, " -> %s 0x%x",
            r->fault == RM_NOFAULT ? "ok"
            : r->fault == RM_AV    ? "AV"
                                   : "GUARD",
            r->val);
        break;
    case RM_WW_GET:
        app(buf, n, " -> %u pages mask 0x%llx%s", r->ww_n, (unsigned long long)r->ww_mask,
            r->unknown ? " (out-parameters elsewhere)" : "");
        break;
    case RM_PROTECT:
        app(buf, n, r->nold ? " -> ok, old 0x%x" : " -> ok%.0x", r->old);
        break;
    default:
        app(buf, n, " -> ok +0x%llx", (long long)r->ret);
    }
}
