/* The op language's parser: one line into an opl_op_t, a script into ops with every name
 * checked. Errors name the line, the column, the token and the reason. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "oplang_int.h"

/* Argument kinds, in the order an op takes them. */
enum arg {
    A_ADDR,
    A_SIZE,
    A_TYPE,
    A_PROT,
    A_BYTE,
    A_COUNT,
    A_LEN,
    A_WORD_NOOLD,
    A_WORD_RESET,
    A_HANDLE,  /* a NAME holding a handle */
    A_ACCESS,  /* FILE_MAP_ flags */
    A_SEC,     /* SEC_ flags */
    A_OBJNAME, /* an object name: one word */
    A_OFFSET,  /* a number: the offset in a section */
    A_LOW,     /* addresses: MEM_ADDRESS_REQUIREMENTS */
    A_HIGH,
    A_ALIGN,
    A_UTYPE, /* unmap's TYPE (UnmapViewOfFile2) */
    A_PRIO,
    A_NODE
};

typedef struct opdesc {
    const char *name;
    opl_kind_t kind;
    int defines;    /* 1: may have "NAME =", 2: must */
    int nreq, nopt; /* required / optional arguments */
    enum arg args[8];
    const char *usage;
} opdesc;

static const opdesc ops[] = {
    {"alloc",
     OPL_ALLOC,
     1,
     4,
     0,
     {A_ADDR, A_SIZE, A_TYPE, A_PROT},
     "[NAME =] alloc ADDR SIZE TYPE PROT"},
    {"allocapp",
     OPL_ALLOCAPP,
     1,
     4,
     0,
     {A_ADDR, A_SIZE, A_TYPE, A_PROT},
     "[NAME =] allocapp ADDR SIZE TYPE PROT"},
    {"hole", OPL_HOLE, 2, 1, 0, {A_SIZE}, "NAME = hole SIZE"},
    {"free", OPL_FREE, 0, 3, 0, {A_ADDR, A_SIZE, A_TYPE}, "free ADDR SIZE TYPE"},
    {"protect",
     OPL_PROTECT,
     0,
     3,
     1,
     {A_ADDR, A_SIZE, A_PROT, A_WORD_NOOLD},
     "protect ADDR SIZE PROT [noold]"},
    {"protectapp",
     OPL_PROTECTAPP,
     0,
     3,
     1,
     {A_ADDR, A_SIZE, A_PROT, A_WORD_NOOLD},
     "protectapp ADDR SIZE PROT [noold]"},
    {"query", OPL_QUERY, 0, 1, 1, {A_ADDR, A_LEN}, "query ADDR [LEN]"},
    {"scan", OPL_SCAN, 0, 1, 0, {A_ADDR}, "scan ADDR"},
    {"write", OPL_WRITE, 0, 2, 0, {A_ADDR, A_BYTE}, "write ADDR BYTE"},
    {"read", OPL_READ, 0, 1, 1, {A_ADDR, A_COUNT}, "read ADDR [N]"},
    {"access", OPL_ACCESS, 0, 2, 0, {A_ADDR, A_SIZE}, "access ADDR SIZE"},
    {"lock", OPL_LOCK, 0, 2, 0, {A_ADDR, A_SIZE}, "lock ADDR SIZE"},
    {"unlock", OPL_UNLOCK, 0, 2, 0, {A_ADDR, A_SIZE}, "unlock ADDR SIZE"},
    {"watch", OPL_WATCH, 0, 2, 1, {A_ADDR, A_SIZE, A_WORD_RESET}, "watch ADDR SIZE [reset]"},
    {"resetwatch", OPL_RESETWATCH, 0, 2, 0, {A_ADDR, A_SIZE}, "resetwatch ADDR SIZE"},
    {"map", OPL_MAP, 0, 0, 0, {0}, "map"},
    {"stats", OPL_STATS, 0, 0, 0, {0}, "stats"},
    {"section",
     OPL_SECTION,
     1,
     2,
     2,
     {A_SIZE, A_PROT, A_SEC, A_OBJNAME},
     "[NAME =] section SIZE PROT [ATTRS [OBJNAME]]"},
    {"open", OPL_OPEN, 1, 2, 0, {A_ACCESS, A_OBJNAME}, "[NAME =] open ACCESS OBJNAME"},
    {"close", OPL_CLOSE, 0, 1, 0, {A_HANDLE}, "close NAME"},
    {"view",
     OPL_VIEW,
     1,
     4,
     1,
     {A_HANDLE, A_ACCESS, A_OFFSET, A_SIZE, A_ADDR},
     "[NAME =] view NAME ACCESS OFFSET SIZE [ADDR]"},
    {"view3",
     OPL_VIEW3,
     1,
     6,
     0,
     {A_HANDLE, A_ADDR, A_OFFSET, A_SIZE, A_TYPE, A_PROT},
     "[NAME =] view3 NAME ADDR OFFSET SIZE TYPE PROT"},
    {"unmap", OPL_UNMAP, 0, 1, 1, {A_ADDR, A_UTYPE}, "unmap ADDR [TYPE]"},
    {"flush", OPL_FLUSH, 0, 2, 0, {A_ADDR, A_SIZE}, "flush ADDR SIZE"},
    {"alloc2",
     OPL_ALLOC2,
     1,
     4,
     3,
     {A_ADDR, A_SIZE, A_TYPE, A_PROT, A_LOW, A_HIGH, A_ALIGN},
     "[NAME =] alloc2 ADDR SIZE TYPE PROT [LOW HIGH ALIGN]"},
    {"discard", OPL_DISCARD, 0, 2, 0, {A_ADDR, A_SIZE}, "discard ADDR SIZE"},
    {"offer", OPL_OFFER, 0, 3, 0, {A_ADDR, A_SIZE, A_PRIO}, "offer ADDR SIZE PRIORITY"},
    {"reclaim", OPL_RECLAIM, 0, 2, 0, {A_ADDR, A_SIZE}, "reclaim ADDR SIZE"},
    {"prefetch", OPL_PREFETCH, 0, 2, 0, {A_ADDR, A_SIZE}, "prefetch ADDR SIZE"},
    {"wsquery", OPL_WSQUERY, 0, 1, 0, {A_ADDR}, "wsquery ADDR"},
    {"allocnuma",
     OPL_ALLOCNUMA,
     1,
     5,
     0,
     {A_ADDR, A_SIZE, A_TYPE, A_PROT, A_NODE},
     "[NAME =] allocnuma ADDR SIZE TYPE PROT NODE"},
    {"---", OPL_END, 0, 0, 0, {0}, "---"},
};
enum { NOPS = sizeof ops / sizeof ops[0] };

/* Older spellings, still read (scripts in the wild); transcripts print the one spelling. */
static const struct {
    const char *alias, *name;
} aliases[] = {{"ww", "watch"}, {"resetww", "resetwatch"}};

static const char *const arg_names[] = {
    "ADDR",   "SIZE",  "TYPE",    "PROT",   "BYTE", "N",    "LEN",   "noold", "reset",    "NAME",
    "ACCESS", "ATTRS", "OBJNAME", "OFFSET", "LOW",  "HIGH", "ALIGN", "TYPE",  "PRIORITY", "NODE"};

/* The ops' names (what), or those that define a NAME (defining), space-separated. */
static void op_list(char *buf, size_t cap, int defining)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < NOPS && n < cap; i++)
        if (!defining || ops[i].defines)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? " " : "", ops[i].name);
}

/* OFFER_PRIORITY by name (VmOfferPriority...) */
static const char *const prio_names[] = {"VERYLOW", "LOW", "BELOWNORMAL", "NORMAL"};

const char *opl_kind_name(opl_kind_t k)
{
    for (int i = 0; i < NOPS; i++)
        if (ops[i].kind == k)
            return ops[i].name;
    return "?";
}

static const opdesc *desc_of(opl_kind_t k)
{
    for (int i = 0; i < NOPS; i++)
        if (ops[i].kind == k)
            return &ops[i];
    return NULL;
}

typedef struct tok {
    const char *s;
    size_t len;
    unsigned col;
} tok;

static int fail(opl_error_t *e, unsigned line, const tok *t, const char *fmt, ...) OPL_PRINTF(4, 5);
static int fail(opl_error_t *e, unsigned line, const tok *t, const char *fmt, ...)
{
    e->line = line;
    e->col = t ? t->col : 0;
    snprintf(e->token, sizeof e->token, "%.*s", t ? (int)t->len : 0, t ? t->s : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    return -1;
}

static int valid_name(const char *s, size_t n)
{
    if (!n || n >= OPL_NAME_MAX || !(s[0] == '_' || ((s[0] | 32) >= 'a' && (s[0] | 32) <= 'z')))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') ||
              ((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z')))
            return 0;
    return 1;
}

static const char number_help[] = "not a number (decimal, or hexadecimal after 0x; no sign, no "
                                  "leading zeros)";

static int parse_addr(const char *s, opl_addr_t *a, opl_error_t *e, unsigned line, const tok *t,
                      const char *what)
{
    memset(a, 0, sizeof *a);
    if (*s == '@')
        s++;
    if (*s >= '0' && *s <= '9') {
        if (opl_parse_u64(s, &a->off))
            return fail(e, line, t, "%s: %s", what, number_help);
        return 0;
    }
    size_t n = strcspn(s, "+-");
    if (!valid_name(s, n))
        return fail(e, line, t,
                    "%s: a number, NAME, NAME+OFF or NAME-OFF (a NAME is a letter or _ then up "
                    "to %d letters, digits or _)",
                    what, OPL_NAME_MAX - 2);
    memcpy(a->name, s, n);
    a->name[n] = 0;
    if (!s[n])
        return 0;
    a->neg = s[n] == '-';
    if (opl_parse_u64(s + n + 1, &a->off))
        return fail(e, line, t, "%s: the offset after %c is %s", what, s[n], number_help);
    return 0;
}

static int parse_arg(enum arg k, const char *s, opl_op_t *op, opl_error_t *e, unsigned line,
                     const tok *t)
{
    uint64_t v;
    const char *bad;
    size_t badlen;
    char words[256];
    switch (k) {
    case A_ADDR:
        return parse_addr(s, &op->addr, e, line, t, "ADDR");
    case A_LOW:
    case A_HIGH:
        op->flags |= OPL_F_REQ;
        return parse_addr(s, k == A_LOW ? &op->low : &op->high, e, line, t, arg_names[k]);
    case A_OFFSET:
    case A_ALIGN:
        if (opl_parse_u64(s, k == A_OFFSET ? &op->offset : &op->align))
            return fail(e, line, t, "%s: %s", arg_names[k], number_help);
        return 0;
    case A_HANDLE:
        if (!valid_name(s, strlen(s)))
            return fail(e, line, t,
                        "NAME: the name of a handle (a letter or _ then up to %d letters, digits "
                        "or _)",
                        OPL_NAME_MAX - 2);
        memcpy(op->handle, s, strlen(s) + 1);
        return 0;
    case A_OBJNAME:
        if (strlen(s) >= sizeof op->objname)
            return fail(e, line, t, "OBJNAME: at most %zu characters", sizeof op->objname - 1);
        memcpy(op->objname, s, strlen(s) + 1);
        return 0;
    case A_SEC:
    case A_ACCESS:
        if (!(k == A_SEC ? opl_parse_sec(s, &op->attrs, &bad, &badlen)
                         : opl_parse_access(s, &op->access, &bad, &badlen)))
            return 0;
        opl__flag_words(k == A_SEC ? 2 : 3, words, sizeof words);
        return fail(e, line, t,
                    "%s: '%.*s' is not a %s flag (%s, with or without %s, or a number, "
                    "joined by |)",
                    arg_names[k], (int)badlen, bad, k == A_SEC ? "SEC_" : "FILE_MAP_", words,
                    k == A_SEC ? "SEC_" : "FILE_MAP_");
    case A_SIZE:
    case A_LEN:
        if (opl_parse_u64(s, &op->size))
            return fail(e, line, t, "%s: %s", arg_names[k], number_help);
        if (k == A_LEN)
            op->flags |= OPL_F_LEN;
        return 0;
    case A_BYTE:
        if (opl_parse_u64(s, &v) || v > 0xff)
            return fail(e, line, t, "BYTE: a number from 0 to 0xff");
        op->size = v;
        return 0;
    case A_COUNT:
        if (opl_parse_u64(s, &v) || v < 1 || v > OPL_READ_MAX)
            return fail(e, line, t, "N: a number of bytes from 1 to %d", OPL_READ_MAX);
        op->size = v;
        return 0;
    case A_TYPE:
    case A_UTYPE:
    case A_PROT:
        if (k == A_UTYPE)
            op->flags |= OPL_F_TYPE;
        if (!(k != A_PROT ? opl_parse_mem(s, &op->type, &bad, &badlen)
                          : opl_parse_prot(s, &op->prot, &bad, &badlen)))
            return 0;
        opl__flag_words(k == A_PROT, words, sizeof words);
        return fail(e, line, t,
                    "%s: '%.*s' is not a %s flag (%s, with or without %s, or a number, "
                    "joined by |)",
                    arg_names[k], (int)badlen, bad, k != A_PROT ? "MEM_" : "PAGE_", words,
                    k != A_PROT ? "MEM_" : "PAGE_");
    case A_PRIO:
        for (uint32_t i = 0; i < 4; i++)
            if (!strcmp(s, prio_names[i])) {
                op->arg = i + 1;
                return 0;
            }
        if (opl_parse_u64(s, &v) || v > 0xFFFFFFFFu)
            return fail(e, line, t,
                        "PRIORITY: VERYLOW LOW BELOWNORMAL NORMAL, or a number up to 0xffffffff");
        op->arg = (uint32_t)v;
        return 0;
    case A_NODE:
        if (!strcmp(s, "NONE")) { /* NUMA_NO_PREFERRED_NODE */
            op->arg = 0xFFFFFFFFu;
            return 0;
        }
        if (opl_parse_u64(s, &v) || v > 0xFFFFFFFFu)
            return fail(e, line, t, "NODE: NONE, or a number up to 0xffffffff");
        op->arg = (uint32_t)v;
        return 0;
    case A_WORD_NOOLD:
    case A_WORD_RESET:
        if (strcmp(s, arg_names[k]))
            return fail(e, line, t, "expected the word '%s' or the end of the line", arg_names[k]);
        op->flags |= k == A_WORD_NOOLD ? OPL_F_NOOLD : OPL_F_RESET;
        return 0;
    }
    return -1;
}

#define MAX_TOK 12

static int parse_line(const char *text, unsigned line, opl_op_t *op, opl_error_t *e,
                      unsigned *addr_col)
{
    memset(op, 0, sizeof *op);
    op->line = line;
    tok t[MAX_TOK];
    int nt = 0;
    for (const char *p = text;;) {
        p += strspn(p, " \t\r\n");
        if (!*p || *p == '#')
            break;
        size_t n = strcspn(p, " \t\r\n");
        if (nt == MAX_TOK) {
            tok x = {p, n, (unsigned)(p - text) + 1};
            return fail(e, line, &x, "too many words on one line");
        }
        t[nt++] = (tok){p, n, (unsigned)(p - text) + 1};
        p += n;
    }
    if (!nt)
        return 0;
    char w[MAX_TOK][96];
    for (int i = 0; i < nt; i++) {
        if (t[i].len >= sizeof w[i])
            return fail(e, line, &t[i], "a word longer than %zu characters", sizeof w[i] - 1);
        memcpy(w[i], t[i].s, t[i].len);
        w[i][t[i].len] = 0;
    }
    int k = 0;
    if (nt >= 2 && !strcmp(w[1], "=")) {
        if (!valid_name(w[0], t[0].len))
            return fail(e, line, &t[0],
                        "not a NAME (a letter or _ then up to %d letters, digits or _)",
                        OPL_NAME_MAX - 2);
        memcpy(op->def, w[0], t[0].len + 1);
        k = 2;
        if (nt == 2) {
            char list[160];
            op_list(list, sizeof list, 1);
            return fail(e, line, NULL, "missing the op after '%s =' (%s)", op->def, list);
        }
    }
    const char *opname = w[k];
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(opname, aliases[i].alias))
            opname = aliases[i].name;
    const opdesc *d = NULL;
    for (int i = 0; i < NOPS; i++)
        if (!strcmp(ops[i].name, opname))
            d = &ops[i];
    char list[240];
    if (!d) {
        op_list(list, sizeof list, 0);
        return fail(e, line, &t[k], "unknown op (%s)", list);
    }
    op->kind = d->kind;
    if (op->def[0] && !d->defines) {
        op_list(list, sizeof list, 1);
        return fail(e, line, &t[0], "only %s define a NAME (usage: %s)", list, d->usage);
    }
    if (!op->def[0] && d->defines == 2)
        return fail(e, line, &t[k], "needs a NAME (usage: %s)", d->usage);
    int na = nt - k - 1;
    if (na < d->nreq)
        return fail(e, line, NULL, "%s: missing %s (usage: %s)", d->name, arg_names[d->args[na]],
                    d->usage);
    if (na > d->nreq + d->nopt)
        return fail(e, line, &t[k + 1 + d->nreq + d->nopt],
                    "more arguments than %s takes (usage: %s)", d->name, d->usage);
    if (op->kind == OPL_READ)
        op->size = 1;
    for (int i = 0; i < na; i++) {
        if (d->args[i] == A_ADDR)
            *addr_col = t[k + 1 + i].col + (w[k + 1 + i][0] == '@');
        if (parse_arg(d->args[i], w[k + 1 + i], op, e, line, &t[k + 1 + i]))
            return -1;
    }
    return 1;
}

int opl_parse_line(const char *text, unsigned line, opl_op_t *op, opl_error_t *err)
{
    unsigned col;
    return parse_line(text, line, op, err, &col);
}

/* ---- scripts --------------------------------------------------------------------------- */

typedef struct vec {
    void *p;
    size_t n, cap, size;
} vec;

static void *vec_push(vec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        void *p = realloc(v->p, cap * v->size);
        if (!p)
            return NULL;
        v->p = p;
        v->cap = cap;
    }
    return (char *)v->p + v->size * v->n++;
}

static int defined(char (*names)[OPL_NAME_MAX], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], id))
            return 1;
    return 0;
}

int opl_script_parse(FILE *in, opl_script_t *out)
{
    vec ops_v = {.size = sizeof(opl_op_t)}, errs_v = {.size = sizeof(opl_error_t)};
    vec names_v = {.size = OPL_NAME_MAX}, src_v = {.size = sizeof(char *)};
    char buf[1024];
    unsigned line = 0;
    int rc = 0, continued = 0;
    while (fgets(buf, sizeof buf, in)) {
        size_t len = strlen(buf);
        int whole = len && buf[len - 1] == '\n';
        if (continued) { /* the rest of a line that was too long */
            continued = !whole && !feof(in);
            continue;
        }
        line++;
        opl_op_t op;
        opl_error_t err;
        unsigned addr_col = 0;
        int r;
        memset(&op, 0, sizeof op);
        if (!whole && !feof(in)) {
            continued = 1;
            r = fail(&err, line, NULL, "a line longer than %zu characters", sizeof buf - 2);
        } else {
            r = parse_line(buf, line, &op, &err, &addr_col);
        }
        if (r == 1 && op.addr.name[0] && !defined(names_v.p, names_v.n, op.addr.name)) {
            tok t = {op.addr.name, strlen(op.addr.name), addr_col};
            r = fail(&err, line, &t, "unknown name (no '%s = ...' earlier in this sequence)",
                     op.addr.name);
        }
        const char *other[] = {op.handle, op.low.name, op.high.name};
        for (int i = 0; r == 1 && i < 3; i++)
            if (other[i][0] && !defined(names_v.p, names_v.n, other[i])) {
                const char *at = strstr(buf, other[i]);
                tok t = {other[i], strlen(other[i]), at ? (unsigned)(at - buf) + 1 : 0};
                r = fail(&err, line, &t, "unknown name (no '%s = ...' earlier in this sequence)",
                         other[i]);
            }
        if (r == 1 && op.kind == OPL_END)
            names_v.n = 0;
        /* a line with an error still defines its NAME: one mistake, one message */
        if (r && op.def[0] && !defined(names_v.p, names_v.n, op.def)) {
            char *slot = vec_push(&names_v);
            if (!slot) {
                rc = -1;
                break;
            }
            memcpy(slot, op.def, OPL_NAME_MAX);
        }
        if (r == 1) {
            opl_op_t *slot = vec_push(&ops_v);
            char **src = vec_push(&src_v);
            if (src) {
                buf[strcspn(buf, "\r\n")] = 0;
                *src = strdup(buf + strspn(buf, " \t"));
            }
            if (!slot || !src || !*src) {
                rc = -1;
                break;
            }
            *slot = op;
        } else if (r == -1) {
            opl_error_t *slot = vec_push(&errs_v);
            if (!slot) {
                rc = -1;
                break;
            }
            *slot = err;
        }
    }
    if (ferror(in))
        rc = -1;
    free(names_v.p);
    out->ops = ops_v.p;
    out->src = src_v.p;
    out->nops = ops_v.n < src_v.n ? ops_v.n : src_v.n;
    out->errs = errs_v.p;
    out->nerrs = errs_v.n;
    return rc;
}

void opl_script_free(opl_script_t *s)
{
    for (size_t i = 0; s->src && i < s->nops; i++)
        free(s->src[i]);
    free(s->src);
    free(s->ops);
    free(s->errs);
    memset(s, 0, sizeof *s);
}

void opl_error_print(FILE *out, const char *file, const opl_error_t *e)
{
    if (e->token[0])
        fprintf(out, "%s:%u:%u: '%s': %s\n", file, e->line, e->col, e->token, e->reason);
    else
        fprintf(out, "%s:%u: %s\n", file, e->line, e->reason);
}

/* ---- formatting an op back into its source form ---------------------------------------- */

static size_t fmt_addr(const opl_addr_t *a, char *buf, size_t cap)
{
    if (!a->name[0])
        return (size_t)snprintf(buf, cap, "0x%llx", (unsigned long long)a->off);
    if (!a->off)
        return (size_t)snprintf(buf, cap, "%s", a->name);
    return (size_t)snprintf(buf, cap, "%s%c0x%llx", a->name, a->neg ? '-' : '+',
                            (unsigned long long)a->off);
}

void opl_op_format(const opl_op_t *op, char *buf, size_t cap)
{
    const opdesc *d = desc_of(op->kind);
    size_t n = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n < cap)                                                                               \
            n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__);                                  \
    } while (0)
    buf[0] = 0;
    if (!d)
        return;
    if (op->def[0])
        ADD("%s = ", op->def);
    ADD("%s", d->name);
    for (int i = 0; i < d->nreq + d->nopt; i++) {
        char f[128];
        switch (d->args[i]) {
        case A_ADDR:
            if (n < cap)
                ADD(" ");
            if (n < cap)
                n += fmt_addr(&op->addr, buf + n, cap - n);
            break;
        case A_SIZE:
        case A_BYTE:
            ADD(" 0x%llx", (unsigned long long)op->size);
            break;
        case A_COUNT:
        case A_LEN:
            if (d->args[i] == A_COUNT || (op->flags & OPL_F_LEN))
                ADD(" %llu", (unsigned long long)op->size);
            break;
        case A_TYPE:
            opl_mem_flags(op->type, f, sizeof f);
            ADD(" %s", f);
            break;
        case A_PROT:
            opl_prot_flags(op->prot, f, sizeof f);
            ADD(" %s", f);
            break;
        case A_WORD_NOOLD:
            if (op->flags & OPL_F_NOOLD)
                ADD(" noold");
            break;
        case A_WORD_RESET:
            if (op->flags & OPL_F_RESET)
                ADD(" reset");
            break;
        case A_HANDLE:
            ADD(" %s", op->handle);
            break;
        case A_OBJNAME:
            if (op->objname[0])
                ADD(" %s", op->objname);
            break;
        case A_SEC:
            opl_sec_flags(op->attrs, f, sizeof f);
            if (op->attrs || op->objname[0])
                ADD(" %s", f);
            break;
        case A_ACCESS:
            opl_access_flags(op->access, f, sizeof f);
            ADD(" %s", f);
            break;
        case A_OFFSET:
            ADD(" 0x%llx", (unsigned long long)op->offset);
            break;
        case A_UTYPE:
            opl_mem_flags(op->type, f, sizeof f);
            if (op->flags & OPL_F_TYPE)
                ADD(" %s", f);
            break;
        case A_LOW:
        case A_HIGH:
            if ((op->flags & OPL_F_REQ) && n < cap)
                ADD(" ");
            if ((op->flags & OPL_F_REQ) && n < cap)
                n += fmt_addr(d->args[i] == A_LOW ? &op->low : &op->high, buf + n, cap - n);
            break;
        case A_ALIGN:
            if (op->flags & OPL_F_REQ)
                ADD(" 0x%llx", (unsigned long long)op->align);
            break;
        case A_PRIO:
            if (op->arg >= 1 && op->arg <= 4)
                ADD(" %s", prio_names[op->arg - 1]);
            else
                ADD(" %lu", (unsigned long)op->arg);
            break;
        case A_NODE:
            if (op->arg == 0xFFFFFFFFu)
                ADD(" NONE");
            else
                ADD(" %lu", (unsigned long)op->arg);
            break;
        }
    }
#undef ADD
}
