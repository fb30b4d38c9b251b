#include <errno.h>

#include "core/freespace.h"
#include "core/meta.h"

typedef struct node {
    uintptr_t start;
    size_t len, max;
    uint32_t prio;
    struct node *l, *r;
} node;

static node *root;
static size_t count, total;
static uint32_t seed = 2463534242u;

static uint32_t next_prio(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return seed;
}

static size_t max_of(node *n)
{
    return n ? n->max : 0;
}

static void update(node *n)
{
    size_t m = n->len;
    if (max_of(n->l) > m)
        m = max_of(n->l);
    if (max_of(n->r) > m)
        m = max_of(n->r);
    n->max = m;
}

/* Splits t into nodes with start < key and start >= key. */
static void split(node *t, uintptr_t key, node **lo, node **hi)
{
    if (!t) {
        *lo = *hi = NULL;
    } else if (t->start < key) {
        split(t->r, key, &t->r, hi);
        update(t);
        *lo = t;
    } else {
        split(t->l, key, lo, &t->l);
        update(t);
        *hi = t;
    }
}

static node *merge(node *a, node *b)
{
    if (!a || !b)
        return a ? a : b;
    if (a->prio > b->prio) {
        a->r = merge(a->r, b);
        update(a);
        return a;
    }
    b->l = merge(a, b->l);
    update(b);
    return b;
}

static node *make(uintptr_t start, size_t len)
{
    node *n = wvm__meta_alloc(sizeof *n);
    if (!n)
        return NULL;
    *n = (node){start, len, len, next_prio(), NULL, NULL};
    count++;
    return n;
}

static void drop(node *n)
{
    count--;
    wvm__meta_free(n, sizeof *n);
}

/* Removes and returns the node starting exactly at start, or NULL. */
static node *detach(uintptr_t start)
{
    node *a, *b, *c;
    split(root, start, &a, &b);
    split(b, start + 1, &b, &c);
    root = merge(a, c);
    return b;
}

static void attach(node *n)
{
    node *a, *b;
    update(n);
    n->l = n->r = NULL;
    update(n);
    split(root, n->start, &a, &b);
    root = merge(merge(a, n), b);
}

/* The node with the greatest start <= addr, or NULL. */
static node *floor_node(uintptr_t addr)
{
    node *best = NULL;
    for (node *t = root; t;)
        if (t->start <= addr) {
            best = t;
            t = t->r;
        } else {
            t = t->l;
        }
    return best;
}

int wvm__free_add(uintptr_t start, size_t len)
{
    node *prev = start ? floor_node(start - 1) : NULL;
    if (prev && prev->start + prev->len == start) {
        detach(prev->start);
        start = prev->start;
        len += prev->len;
        total -= prev->len;
        drop(prev);
    }
    node *next = floor_node(start + len);
    if (next && next->start == start + len) {
        detach(next->start);
        len += next->len;
        total -= next->len;
        drop(next);
    }
    node *n = make(start, len);
    if (!n)
        return ENOMEM; /* the space is leaked, not corrupted */
    total += len;
    attach(n);
    return 0;
}

/* Carves [start, start+len) out of n, which contains it. */
static int carve(node *n, uintptr_t start, size_t len)
{
    uintptr_t n_end = n->start + n->len, end = start + len;
    node *tail = NULL;
    if (end < n_end && start > n->start && !(tail = make(end, n_end - end)))
        return ENOMEM;
    detach(n->start);
    total -= len;
    if (start > n->start) {
        n->len = start - n->start;
        attach(n);
        if (tail)
            attach(tail);
    } else if (end < n_end) {
        n->start = end;
        n->len = n_end - end;
        attach(n);
    } else {
        drop(n);
    }
    return 0;
}

int wvm__free_take_low(size_t len, uintptr_t *out)
{
    node *t = root;
    if (max_of(t) < len)
        return ENOMEM;
    for (;;) {
        if (max_of(t->l) >= len)
            t = t->l;
        else if (t->len >= len)
            break;
        else
            t = t->r;
    }
    *out = t->start;
    return carve(t, t->start, len);
}

int wvm__free_take_high(size_t len, uintptr_t *out)
{
    node *t = root;
    if (max_of(t) < len)
        return ENOMEM;
    for (;;) {
        if (max_of(t->r) >= len)
            t = t->r;
        else if (t->len >= len)
            break;
        else
            t = t->l;
    }
    *out = t->start + t->len - len;
    return carve(t, *out, len);
}

int wvm__free_take_at(uintptr_t start, size_t len)
{
    node *n = floor_node(start);
    if (!n || start + len > n->start + n->len || start + len < start)
        return ENOENT;
    return carve(n, start, len);
}

typedef struct find_req {
    uintptr_t lo, hi;
    size_t len, align;
    bool top_down;
    bool found;
    uintptr_t at;
} find_req;

/* The lowest (highest) aligned fit inside extent n and [lo, hi), if any. */
static void fit(node *n, find_req *q)
{
    uintptr_t a = n->start > q->lo ? n->start : q->lo;
    uintptr_t b = n->start + n->len < q->hi ? n->start + n->len : q->hi;
    if (b <= a || b - a < q->len)
        return;
    uintptr_t s;
    if (q->top_down) {
        s = (b - q->len) & ~(uintptr_t)(q->align - 1);
        if (s < a)
            return;
    } else {
        s = (a + q->align - 1) & ~(uintptr_t)(q->align - 1);
        if (s < a || s > b - q->len)
            return;
    }
    q->found = true;
    q->at = s;
}

/* In address order (reverse for top-down), stopping at the first fit; subtrees without an
 * extent long enough, or starting past hi, are skipped. */
static void search(node *t, find_req *q)
{
    if (!t || q->found || t->max < q->len)
        return;
    if (q->top_down) {
        if (t->start < q->hi)
            search(t->r, q);
        if (!q->found && t->start < q->hi)
            fit(t, q);
        if (!q->found)
            search(t->l, q);
    } else {
        search(t->l, q);
        if (!q->found && t->start < q->hi)
            fit(t, q);
        if (!q->found && t->start < q->hi)
            search(t->r, q);
    }
}

int wvm__free_find(uintptr_t lo, uintptr_t hi, size_t len, size_t align, bool top_down,
                   uintptr_t *out)
{
    find_req q = {lo, hi, len, align, top_down, false, 0};
    search(root, &q);
    if (!q.found)
        return ENOMEM;
    *out = q.at;
    return 0;
}

size_t wvm__free_extents(size_t *bytes)
{
    if (bytes)
        *bytes = total;
    return count;
}
