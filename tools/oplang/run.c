/* Running a whole script: parse it all (every error reported, with its line, token and
 * reason), then execute the ops in one context and print each result. */
#include <stdlib.h>

#include "oplang_int.h"

typedef struct runner {
    FILE *out;
    const opl_run_opts_t *o;
    opl_ctx_t *c;
    int open, first_seq, first_op;
} runner;

static void seq_begin(runner *x)
{
    if (x->o->style == OPL_JSON)
        fprintf(x->out, "%s\n  {\"ops\": [", x->first_seq ? "" : ",");
    x->first_seq = 0;
    x->first_op = 1;
    x->open = 1;
}

/* Shows what the caller wants to show, then releases everything the sequence made. */
static void seq_end(runner *x)
{
    int json = x->o->style == OPL_JSON;
    if (json)
        fputs("\n   ]", x->out);
    if (x->o->seq_end)
        x->o->seq_end(x->out, x->o->style, x->o->arg);
    if (json)
        fputs("  }", x->out);
    opl_ctx_end(x->c);
    x->open = 0;
}

int opl_run(FILE *in, FILE *out, const opl_run_opts_t *o)
{
    const char *file = o->file ? o->file : "-";
    opl_script_t s;
    if (opl_script_parse(in, &s)) {
        fprintf(stderr, "%s: cannot read the script\n", file);
        opl_script_free(&s);
        return 2;
    }
    for (size_t i = 0; i < s.nerrs; i++)
        opl_error_print(stderr, file, &s.errs[i]);
    if (s.nerrs && !o->keep_going) {
        fprintf(stderr, "%s: %zu line(s) with an error; nothing was run\n", file, s.nerrs);
        opl_script_free(&s);
        return 1;
    }
    runner x = {out, o, opl_ctx_new(0), 0, 1, 1};
    if (!x.c) {
        opl_script_free(&s);
        return 2;
    }
    int transcript = o->style == OPL_TRANSCRIPT;
    if (o->style == OPL_JSON)
        fputs("{\"sequences\": [", out);
    unsigned seq_start = 0; /* the line of the last "---": transcripts number lines after it */
    for (size_t i = 0; i < s.nops; i++) {
        const opl_op_t *op = &s.ops[i];
        opl_result_t r;
        if (op->kind == OPL_END) {
            if (transcript) {
                opl_exec(x.c, op, &r);
                fputs("---\n", out);
                fflush(out);
            } else if (x.open) {
                seq_end(&x);
            }
            seq_start = op->line;
            continue;
        }
        if (!transcript && !x.open)
            seq_begin(&x);
        opl_exec(x.c, op, &r);
        if (o->style == OPL_JSON)
            fputs(x.first_op ? "\n    " : ",\n    ", out);
        x.first_op = 0;
        opl_print(out, o->style, x.c, op, &r, op->line - seq_start, s.src[i]);
    }
    if (x.open)
        seq_end(&x);
    opl_ctx_end(x.c);
    if (o->style == OPL_JSON)
        fputs("\n]}\n", out);
    fflush(out);
    if (s.nerrs)
        fprintf(stderr, "%s: %zu line(s) with an error were not run\n", file, s.nerrs);
    int rc = s.nerrs ? 1 : 0;
    opl_ctx_free(x.c);
    opl_script_free(&s);
    return rc;
}
