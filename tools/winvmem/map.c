/* `winvmem map`: the address space as VirtualQuery reports it: a VMMap-like table, JSON, or a
 * self-contained HTML page (--html) of this process or of a saved JSON document (--from). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "html.h"

/* What a print function writes, as a string (malloc). */
static char *capture(void (*print)(FILE *, unsigned), unsigned flags)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    print(f, flags);
    fclose(f);
    return buf;
}

static char *read_all(const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (cap - len < 4096) {
            char *p = realloc(buf, cap = cap * 2 + 8192);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n);
    if (buf)
        buf[len] = 0;
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    if (f != stdin)
        fclose(f);
    return buf;
}

static cli_json *parse_doc(const char *text, const char *what)
{
    char err[200];
    cli_json *j = text ? cli_json_parse(text, err, sizeof err) : NULL;
    if (!j && text)
        fprintf(stderr, "winvmem map: %s: not JSON: %s\n", what, err);
    return j;
}

static int one_map(FILE *out, const char *heading, const cli_json *map, const char *what)
{
    cli_region *r;
    size_t n;
    char err[200];
    if (cli_regions_from_json(map, &r, &n, err, sizeof err)) {
        fprintf(stderr, "winvmem map: %s: %s\n", what, err);
        return -1;
    }
    cli_html_map(out, heading, r, n);
    free(r);
    return 0;
}

/* The maps of a document: an array of regions (map --json), an object with "map" (and maybe
 * "stats"), run --json's "sequences", the demo's "steps". */
static int maps_of(FILE *out, const cli_json *doc, const char *what)
{
    char heading[160];
    if (doc->kind == CJ_ARR)
        return one_map(out, "Regions", doc, what);
    const cli_json *seqs = cli_json_get(doc, "sequences"), *steps = cli_json_get(doc, "steps");
    const cli_json *list = seqs ? seqs : steps;
    int rc = 0, found = 0;
    if (cli_json_get(doc, "map")) {
        rc |= one_map(out, "Regions", cli_json_get(doc, "map"), what);
        found++;
    }
    for (size_t i = 0; list && list->kind == CJ_ARR && i < list->n; i++) {
        const cli_json *m = cli_json_get(list->items[i], "map");
        if (!m)
            continue;
        const char *step = cli_json_str_of(cli_json_get(list->items[i], "step"));
        if (step)
            snprintf(heading, sizeof heading, "%zu. %s", i + 1, step);
        else
            snprintf(heading, sizeof heading, "Sequence %zu", i + 1);
        rc |= one_map(out, heading, m, what);
        found++;
    }
    if (!found) {
        fprintf(stderr,
                "winvmem map: %s: no map in it (expected the output of winvmem map --json, "
                "winvmem run --json or demo --json)\n",
                what);
        return -1;
    }
    cli_html_stats(out, cli_json_get(doc, "stats"));
    return rc;
}

int cli_map_html_doc(const char *text, const char *what, const char *title, const char *source)
{
    cli_json *doc = parse_doc(text, what);
    if (!doc)
        return 1;
    /* the page goes out whole or not at all */
    char *page = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&page, &len);
    int rc = 1;
    if (f) {
        cli_html_begin(f, title, source);
        rc = maps_of(f, doc, what);
        cli_html_end(f);
        fclose(f);
        if (!rc)
            fwrite(page, 1, len, stdout);
    }
    free(page);
    cli_json_free(doc);
    return rc ? 1 : 0;
}

static int live_html(bool all)
{
    char *map = capture(wvm_print_map_ex, WVM_PRINT_JSON | (all ? 0 : WVM_PRINT_OWN));
    char *stats = capture(wvm_print_stats, WVM_PRINT_JSON);
    cli_json *m = parse_doc(map, "wvm_print_map_ex"), *s = parse_doc(stats, "wvm_print_stats");
    int rc = 1;
    if (m && s) {
        char source[200], when[40];
        time_t now = time(NULL);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&now));
        snprintf(source, sizeof source, "process %ld (winvmem map%s), %s", (long)getpid(),
                 all ? " --all: the whole address space" : ": winvmem's allocations", when);
        cli_html_begin(stdout, "winvmem: address space", source);
        rc = one_map(stdout, all ? "The whole address space" : "winvmem's allocations", m,
                     "this process") != 0;
        cli_html_stats(stdout, s);
        cli_html_end(stdout);
    }
    cli_json_free(m);
    cli_json_free(s);
    free(map);
    free(stats);
    return rc;
}

int cli_map(bool json, bool all, bool html, const char *from)
{
    if (!html) {
        wvm_print_map_ex(stdout, (json ? WVM_PRINT_JSON : 0) | (all ? 0 : WVM_PRINT_OWN));
        return 0;
    }
    if (!from)
        return live_html(all);
    char *text = read_all(from);
    if (!text) {
        perror(from);
        return 2;
    }
    char source[300];
    snprintf(source, sizeof source, "saved map: %s", strcmp(from, "-") ? from : "standard input");
    int rc = cli_map_html_doc(text, from, "winvmem: address space", source);
    free(text);
    return rc;
}
