/* Wing & Gong's search for a linearization, with Lowe's memoisation: depth-first over the
 * history's call/return entries in time order; a call whose operation the model accepts from
 * the current state is linearized (its entries leave the list) unless the pair (set of
 * linearized operations, model state) was reached before; reaching a return entry of an
 * operation not yet linearized backtracks. The pair is remembered as two 64-bit hashes (a
 * Zobrist XOR over the operations, and a hash of the state bytes): a false "seen before"
 * needs both to collide at once (about n^2 / 2^128). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lin.h"

typedef struct entry {
    uint64_t time;
    uint32_t op;
    uint32_t ret; /* 1: the return entry */
    uint32_t prev, next;
    uint32_t match; /* call: index of its return entry */
} entry;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = mix64(h ^ w) + i;
    }
    uint64_t w = 0;
    memcpy(&w, b + i, n - i);
    return mix64(h ^ w);
}

/* ---- the set of (linearized set, state) pairs seen ------------------------------------------ */

typedef struct cache {
    uint64_t *k; /* pairs: k[2i], k[2i+1]; (0, 0) empty */
    size_t cap, n;
} cache;

static int cache_insert(cache *c, uint64_t a, uint64_t b)
{
    if (!a && !b)
        a = 1;
    if ((c->n + 1) * 2 > c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 1024;
        uint64_t *nk = calloc(ncap * 2, sizeof *nk);
        if (!nk) {
            fprintf(stderr, "lin: out of memory for the search cache\n");
            abort();
        }
        for (size_t i = 0; i < c->cap; i++)
            if (c->k[2 * i] || c->k[2 * i + 1]) {
                size_t j = mix64(c->k[2 * i] ^ c->k[2 * i + 1]) & (ncap - 1);
                while (nk[2 * j] || nk[2 * j + 1])
                    j = (j + 1) & (ncap - 1);
                nk[2 * j] = c->k[2 * i];
                nk[2 * j + 1] = c->k[2 * i + 1];
            }
        free(c->k);
        c->k = nk;
        c->cap = ncap;
    }
    size_t j = mix64(a ^ b) & (c->cap - 1);
    while (c->k[2 * j] || c->k[2 * j + 1]) {
        if (c->k[2 * j] == a && c->k[2 * j + 1] == b)
            return 0;
        j = (j + 1) & (c->cap - 1);
    }
    c->k[2 * j] = a;
    c->k[2 * j + 1] = b;
    c->n++;
    return 1;
}

static int cmp_entry(const void *x, const void *y)
{
    const entry *a = x, *b = y;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    if (a->ret != b->ret) /* equal times: parts of one call; all calls first */
        return a->ret < b->ret ? -1 : 1;
    return a->op < b->op ? -1 : a->op > b->op;
}

static void lift(entry *e, uint32_t c)
{
    uint32_t r = e[c].match;
    e[e[c].prev].next = e[c].next;
    e[e[c].next].prev = e[c].prev;
    e[e[r].prev].next = e[r].next;
    e[e[r].next].prev = e[r].prev;
}

static void unlift(entry *e, uint32_t c)
{
    uint32_t r = e[c].match;
    e[e[r].prev].next = r;
    e[e[r].next].prev = r;
    e[e[c].prev].next = c;
    e[e[c].next].prev = c;
}

static void print_op(FILE *f, const char *pfx, const lin_pop *o, const rm_res *res)
{
    char b[600] = "";
    rm_describe(b, sizeof b, &o->op, res);
    fprintf(f, "%s[t%u #%u %llu..%llu] %s\n", pfx, o->thread, o->seq, (unsigned long long)o->inv,
            (unsigned long long)o->resp, b);
}

/* Explains a violation: the longest linearizable prefix found, then why each operation that
 * could come next is refused by the model in the state after that prefix. */
static void explain(const lin_pop *ops, uint32_t n, const rm_state *init, const uint32_t *best,
                    const uint32_t *bestch, uint32_t nbest, const char *tag)
{
    size_t sz = rm_state_size(init->npages);
    rm_state *s = malloc(sz), *t = malloc(sz);
    memcpy(s, init, sz);
    char why[512];
    fprintf(stderr, "lin: %s: NOT LINEARIZABLE (%u operations; longest explained prefix %u)\n", tag,
            n, nbest);
    FILE *dump = NULL;
    char path[256];
    const char *dir = getenv("LIN_DUMP_DIR");
    snprintf(path, sizeof path, "%s/lin-history-%s.txt", dir ? dir : ".", tag);
    for (char *c = strrchr(path, '/') + 1; *c; c++)
        if (*c == ' ')
            *c = '-';
    if ((dump = fopen(path, "w"))) { /* the whole history, in order of invocation */
        fprintf(stderr, "  (the whole history of this partition: %s)\n", path);
        uint32_t *ord = malloc(n * sizeof *ord);
        for (uint32_t i = 0; i < n; i++)
            ord[i] = i;
        for (uint32_t i = 1; i < n; i++) /* insertion sort: dumps are for small histories */
            for (uint32_t j = i; j > 0 && ops[ord[j - 1]].inv > ops[ord[j]].inv; j--) {
                uint32_t x = ord[j];
                ord[j] = ord[j - 1];
                ord[j - 1] = x;
            }
        for (uint32_t i = 0; i < n; i++)
            print_op(dump, "", &ops[ord[i]], &ops[ord[i]].res);
        free(ord);
        fclose(dump);
    }
    unsigned char *done = calloc(n, 1);
    for (uint32_t i = 0; i < nbest; i++) {
        rm_apply_choice(s, &ops[best[i]].op, &ops[best[i]].res, bestch[i], why, sizeof why);
        done[best[i]] = 1;
        if (i + 12 >= nbest)
            print_op(stderr,
                     i + 1 == nbest ? "  last linearized: " : "  linearized:      ", &ops[best[i]],
                     &ops[best[i]].res);
    }
    /* the earliest pending return bounds which calls may come next */
    uint64_t bound = UINT64_MAX;
    for (uint32_t i = 0; i < n; i++)
        if (!done[i] && ops[i].resp < bound)
            bound = ops[i].resp;
    for (uint32_t i = 0; i < n; i++) {
        if (done[i] || ops[i].inv > bound)
            continue;
        int ok = 0;
        for (unsigned k = 0; !ok && k < rm_choices(&ops[i].op, &ops[i].res); k++) {
            memcpy(t, s, sz);
            why[0] = 0;
            ok = rm_apply_choice(t, &ops[i].op, &ops[i].res, k, why, sizeof why);
        }
        print_op(stderr, "  candidate:        ", &ops[i], &ops[i].res);
        fprintf(stderr, "                    model: %s\n",
                ok ? "accepts it here (a later operation then fails)" : why);
    }
    free(done);
    free(s);
    free(t);
}

int wgl_check(const lin_pop *ops, uint32_t n, const rm_state *init, uint64_t budget,
              const char *tag, wgl_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!n)
        return WGL_OK;
    size_t sz = rm_state_size(init->npages);
    uint32_t ne = 2 * n + 1, head = 2 * n; /* e[head]: the list's sentinel */
    entry *e = calloc(ne, sizeof *e);
    uint64_t *zob = malloc(n * sizeof *zob);
    uint32_t *stack = malloc(n * sizeof *stack), *best = malloc(n * sizeof *best);
    uint32_t *call_of = malloc(n * sizeof *call_of), *choice = malloc(n * sizeof *choice),
             *bestch = malloc(n * sizeof *bestch);
    rm_state *saved = malloc(sz * (size_t)(n + 1)), *state = malloc(sz);
    if (!e || !zob || !stack || !best || !call_of || !choice || !bestch || !saved || !state) {
        fprintf(stderr, "lin: out of memory for %u operations\n", n);
        abort();
    }
    for (uint32_t i = 0; i < n; i++) {
        e[2 * i] = (entry){ops[i].inv, i, 0, 0, 0, 0};
        e[2 * i + 1] = (entry){ops[i].resp, i, 1, 0, 0, 0};
        zob[i] = mix64(0x5eed0000ull + i * 0x9e3779b97f4a7c15ull);
    }
    qsort(e, 2 * n, sizeof *e, cmp_entry);
    uint32_t *ret_of = malloc(n * sizeof *ret_of);
    for (uint32_t i = 0; i < 2 * n; i++) {
        e[i].prev = i ? i - 1 : head;
        e[i].next = i + 1 < 2 * n ? i + 1 : head;
        if (e[i].ret)
            ret_of[e[i].op] = i;
        else
            call_of[e[i].op] = i;
    }
    for (uint32_t i = 0; i < 2 * n; i++)
        if (!e[i].ret)
            e[i].match = ret_of[e[i].op];
    free(ret_of);
    e[head].next = 0;
    e[head].prev = 2 * n - 1;

    memcpy(state, init, sz);
    cache c = {0};
    uint64_t hset = 0;
    uint32_t depth = 0, nbest = 0, ch = 0;
    int verdict = WGL_OK;
    char why[8];
    uint32_t cur = e[head].next;
    while (e[head].next != head) {
        if (st->steps++ >= budget) {
            verdict = WGL_BUDGET;
            break;
        }
        if (cur != head && !e[cur].ret) {
            uint32_t op = e[cur].op, nch = rm_choices(&ops[op].op, &ops[op].res);
            rm_state *keep = (rm_state *)((char *)saved + sz * depth);
            memcpy(keep, state, sz);
            for (; ch < nch; ch++) {
                if (rm_apply_choice(state, &ops[op].op, &ops[op].res, ch, why, sizeof why) &&
                    cache_insert(&c, hset ^ zob[op], hash_bytes(state, sz)))
                    break;
                memcpy(state, keep, sz);
            }
            if (ch < nch) {
                hset ^= zob[op];
                choice[depth] = ch;
                stack[depth++] = op;
                if (depth > nbest) {
                    nbest = depth;
                    memcpy(best, stack, depth * sizeof *stack);
                    memcpy(bestch, choice, depth * sizeof *choice);
                }
                lift(e, cur);
                cur = e[head].next;
                ch = 0;
                continue;
            }
            ch = 0;
            cur = e[cur].next;
            continue;
        }
        /* a return entry (or the end): its call could not be placed before it */
        if (!depth) {
            verdict = WGL_VIOLATION;
            break;
        }
        uint32_t op = stack[--depth];
        memcpy(state, (char *)saved + sz * depth, sz);
        hset ^= zob[op];
        unlift(e, call_of[op]);
        /* the op's next choice first, then the calls after it */
        ch = choice[depth] + 1;
        cur = call_of[op];
        if (ch >= rm_choices(&ops[op].op, &ops[op].res)) {
            ch = 0;
            cur = e[cur].next;
        }
    }
    st->cache = c.n;
    st->best = nbest;
    if (verdict == WGL_VIOLATION)
        explain(ops, n, init, best, bestch, nbest, tag);
    free(c.k);
    free(e);
    free(zob);
    free(stack);
    free(best);
    free(call_of);
    free(choice);
    free(bestch);
    free(saved);
    free(state);
    return verdict;
}
