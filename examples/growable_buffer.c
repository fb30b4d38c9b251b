/* A buffer that grows in place: reserve the largest size it may ever need once (address space
 * only, nothing charged), commit pages as the data grows, and decommit the tail when it
 * shrinks. Pointers into the buffer stay valid across growth, unlike with realloc.
 * Build: cc growable_buffer.c $(pkg-config --cflags --libs winvmem) */
#include <stdio.h>
#include <string.h>

#include <winvmem/stats.h>
#include <winvmem/win32.h>

typedef struct growable {
    char *base;
    size_t committed, used, max;
} growable;

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

static BOOL grow_init(growable *g, size_t max)
{
    g->base = VirtualAlloc(NULL, max, MEM_RESERVE, PAGE_NOACCESS);
    g->committed = g->used = 0;
    g->max = max;
    return g->base != NULL;
}

/* Makes room for n more bytes; commits in 64 KiB steps. FALSE (GetLastError set) when the
 * reservation is full or the commit limit refuses. */
static void *grow_append(growable *g, const void *data, size_t n)
{
    size_t need = g->used + n;
    if (need > g->max) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    if (need > g->committed) {
        size_t to = round_up(need, 65536);
        if (to > g->max)
            to = g->max;
        if (!VirtualAlloc(g->base + g->committed, to - g->committed, MEM_COMMIT, PAGE_READWRITE))
            return NULL;
        g->committed = to;
    }
    char *at = g->base + g->used;
    memcpy(at, data, n);
    g->used = need;
    return at;
}

/* Drops everything after the first n bytes and gives the whole pages back. */
static BOOL grow_truncate(growable *g, size_t n)
{
    size_t keep = round_up(n, 4096);
    if (keep < g->committed && !VirtualFree(g->base + keep, g->committed - keep, MEM_DECOMMIT))
        return FALSE;
    if (keep < g->committed)
        g->committed = keep;
    g->used = n < g->used ? n : g->used;
    return TRUE;
}

static unsigned long long committed_now(void)
{
    wvm_stats s = {.version = WVM_STATS_VERSION, .size = sizeof s};
    return wvm_stats_get(&s) ? 0 : (unsigned long long)s.committed_bytes;
}

int main(void)
{
    growable g;
    if (!grow_init(&g, (size_t)1 << 30)) { /* 1 GiB of address space, no memory yet */
        fprintf(stderr, "reserve failed: %u\n", GetLastError());
        return 1;
    }
    printf("reserved 1 GiB at %p, committed %llu bytes\n", (void *)g.base, committed_now());

    char line[100];
    char *first = NULL;
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(line, sizeof line, "record %05d: the buffer grows in place\n", i);
        char *at = grow_append(&g, line, (size_t)n);
        if (!at) {
            fprintf(stderr, "append failed: %u\n", GetLastError());
            return 1;
        }
        if (!first)
            first = at;
    }
    printf("appended %zu bytes; committed %llu bytes; the first record is still at %p: %.18s\n",
           g.used, committed_now(), (void *)first, first);

    MEMORY_BASIC_INFORMATION m;
    VirtualQuery(g.base + g.committed, &m, sizeof m);
    printf("beyond the committed part: state %s, %zu bytes still reserved\n",
           m.State == MEM_RESERVE ? "MEM_RESERVE" : "?", (size_t)m.RegionSize);

    if (!grow_truncate(&g, 4096)) {
        fprintf(stderr, "truncate failed: %u\n", GetLastError());
        return 1;
    }
    printf("truncated to 4 KiB; committed %llu bytes\n", committed_now());
    wvm_print_map_ex(stdout, WVM_PRINT_OWN);
    return VirtualFree(g.base, 0, MEM_RELEASE) ? 0 : 1;
}
