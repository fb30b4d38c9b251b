/* The HTML page of `winvmem map --html` (see html.h). Everything is inline (CSS, SVG): the
 * page needs no network and no script. Each drawn element carries the numbers it shows as
 * data-* attributes, so a test can check the page against the JSON it came from. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"

#define BAR_W 1200.0 /* px */
#define BAR_H 40

/* The colour of each state/type class (VMMap's: private data yellow, mapped files blue,
 * images purple; reserved is the pale form of its type; free is near-white). */
static const struct {
    const char *key, *label, *colour;
} classes[] = {
    {"commit-private", "committed, private", "#f2c230"},
    {"commit-mapped", "committed, mapped", "#4f8fd6"},
    {"commit-image", "committed, image", "#9a6ad6"},
    {"reserve-private", "reserved, private", "#f7e7a6"},
    {"reserve-mapped", "reserved, mapped", "#bcd5f2"},
    {"reserve-image", "reserved, image", "#d9c8f0"},
    {"commit-other", "committed, other type", "#999999"},
    {"reserve-other", "reserved, other type", "#d0d0d0"},
    {"free", "free", "#f4f4f4"},
};
enum { NCLASSES = sizeof classes / sizeof classes[0], FREE_CLASS = NCLASSES - 1, NTOTALS = 6 };

static int class_of(const cli_region *r)
{
    if (!strcmp(r->state, "Free"))
        return FREE_CLASS;
    int reserve = !strcmp(r->state, "Reserve");
    int t = !strcmp(r->type, "Private")  ? 0
            : !strcmp(r->type, "Mapped") ? 1
            : !strcmp(r->type, "Image")  ? 2
                                         : 3;
    return t == 3 ? 6 + reserve : reserve * 3 + t;
}

static void esc(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

/* "1,048,576 K" as VMMap writes sizes; huge ones as "128.0 T". */
static const char *size_text(uint64_t n, char *buf, size_t cap)
{
    uint64_t k = (n + 1023) / 1024;
    if (k >= 100000000) {
        double v = (double)n / (1u << 30);
        const char *u = "G";
        if (v >= 1024) {
            v /= 1024;
            u = "T";
        }
        snprintf(buf, cap, "%.1f %s", v, u);
        return buf;
    }
    char digits[24], tmp[32];
    int len = snprintf(digits, sizeof digits, "%" PRIu64, k), o = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            tmp[o++] = ',';
        tmp[o++] = digits[i];
    }
    tmp[o] = 0;
    snprintf(buf, cap, "%s K", tmp);
    return buf;
}

static const char *str_or(const cli_json *j, const char *dflt)
{
    const char *s = cli_json_str_of(j);
    return s ? s : dflt;
}

int cli_regions_from_json(const cli_json *map, cli_region **out, size_t *n, char *err,
                          size_t errcap)
{
    *out = NULL;
    *n = 0;
    if (!map || map->kind != CJ_ARR) {
        snprintf(err, errcap, "a map is an array of regions");
        return -1;
    }
    cli_region *r = calloc(map->n ? map->n : 1, sizeof *r);
    if (!r) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < map->n; i++) {
        const cli_json *o = map->items[i];
        const cli_json *w = cli_json_get(o, "winvmem");
        cli_region *x = &r[i];
        x->state = str_or(cli_json_get(o, "state"), NULL);
        x->protect = str_or(cli_json_get(o, "protect"), "");
        x->type = str_or(cli_json_get(o, "type"), "");
        x->allocation_protect = str_or(cli_json_get(o, "allocation_protect"), "");
        x->winvmem = w && w->kind == CJ_BOOL && w->b;
        if (cli_json_u64(cli_json_get(o, "base"), &x->base) ||
            cli_json_u64(cli_json_get(o, "size"), &x->size) || !x->state ||
            cli_json_u64(cli_json_get(o, "allocation_base"), &x->allocation_base)) {
            snprintf(err, errcap, "region %zu lacks base, size, state or allocation_base", i);
            free(r);
            return -1;
        }
    }
    *out = r;
    *n = map->n;
    return 0;
}

void cli_html_begin(FILE *out, const char *title, const char *source)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", out);
    esc(out, title);
    fputs("</title>\n<style>\n"
          "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}\n"
          "h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 4px}\n"
          ".source,.summary{color:#555;margin:2px 0}\n"
          ".legend span{display:inline-block;margin:4px 14px 4px 0}\n"
          ".legend i{display:inline-block;width:14px;height:14px;vertical-align:-2px;"
          "margin-right:5px;border:1px solid #888}\n"
          "svg{display:block;margin:6px 0;border:1px solid #888}\n"
          "table{border-collapse:collapse;margin-top:8px;font:12px/1.3 ui-monospace,monospace}\n"
          "th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;white-space:nowrap}\n"
          "th{background:#eee}td.num{text-align:right}td.sw{width:10px;padding:0}\n"
          "tr.free td{color:#999}\n"
          "</style></head>\n<body>\n<h1>",
          out);
    esc(out, title);
    fputs("</h1>\n<p class=\"source\">", out);
    esc(out, source);
    fputs("</p>\n<p class=\"legend\">", out);
    for (int i = 0; i < NCLASSES; i++)
        fprintf(out,
                "<span class=\"key\" data-class=\"%s\" data-colour=\"%s\"><i "
                "style=\"background:%s\"></i>%s</span>",
                classes[i].key, classes[i].colour, classes[i].colour, classes[i].label);
    fputs("<span><i style=\"background:#222\"></i>winvmem's own allocations (marks under the "
          "bar)</span></p>\n",
          out);
}

/* Widths: regions in address order, committed and reserved in proportion to their size, free
 * regions too but no wider than the largest region in use (else a 128 TiB process shows one
 * free block); every region at least a sliver. */
static void widths(const cli_region *r, size_t n, double *w, int *shortened)
{
    uint64_t cap = 0, used = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].state, "Free")) {
            cap = r[i].size > cap ? r[i].size : cap;
            used += r[i].size;
        }
    if (!cap) /* nothing in use: free regions in proportion */
        for (size_t i = 0; i < n; i++)
            cap = r[i].size > cap ? r[i].size : cap;
    double total = 0, minw = n ? (n < 600 ? 1.0 : BAR_W / 2 / (double)n) : 0;
    for (size_t i = 0; i < n; i++) {
        shortened[i] = r[i].size > cap;
        total += (double)(shortened[i] ? cap : r[i].size);
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double p = total > 0 ? (double)(shortened[i] ? cap : r[i].size) / total * BAR_W : 0;
        w[i] = p > minw ? p : minw;
        sum += w[i];
    }
    for (size_t i = 0; i < n; i++)
        w[i] *= sum > 0 ? BAR_W / sum : 0;
    (void)used;
}

static void region_bar(FILE *out, const cli_region *r, size_t n)
{
    double *w = malloc((n ? n : 1) * sizeof *w);
    int *shortened = malloc((n ? n : 1) * sizeof *shortened);
    if (!w || !shortened) {
        free(w);
        free(shortened);
        return;
    }
    widths(r, n, w, shortened);
    fprintf(out,
            "<svg class=\"regions\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
            "height=\"%d\" viewBox=\"0 0 %.0f %d\">\n",
            BAR_W, BAR_H + 8, BAR_W, BAR_H + 8);
    double x = 0;
    char sz[48];
    for (size_t i = 0; i < n; i++) {
        int c = class_of(&r[i]);
        fprintf(out,
                "<rect class=\"region %s%s\" x=\"%.3f\" y=\"0\" width=\"%.3f\" height=\"%d\" "
                "fill=\"%s\" data-base=\"0x%" PRIx64 "\" data-size=\"%" PRIu64
                "\"><title>0x%" PRIx64 " %s ",
                classes[c].key, shortened[i] ? " shortened" : "", x, w[i], BAR_H, classes[c].colour,
                r[i].base, r[i].size, r[i].base, size_text(r[i].size, sz, sizeof sz));
        const char *words[] = {r[i].state, r[i].protect, r[i].type};
        for (int k = 0; k < 3; k++) {
            esc(out, words[k]);
            if (k < 2)
                fputc(' ', out);
        }
        fprintf(out, "%s</title></rect>\n", shortened[i] ? " (drawn shortened)" : "");
        if (r[i].winvmem)
            fprintf(out,
                    "<rect class=\"own\" x=\"%.3f\" y=\"%d\" width=\"%.3f\" height=\"6\" "
                    "fill=\"#222\" data-base=\"0x%" PRIx64 "\"/>\n",
                    x, BAR_H + 1, w[i], r[i].base);
        x += w[i];
    }
    fputs("</svg>\n", out);
    free(w);
    free(shortened);
}

/* Committed and reserved bytes by type, in proportion. */
static void totals_bar(FILE *out, const uint64_t *t)
{
    uint64_t all = 0;
    for (int i = 0; i < NTOTALS; i++)
        all += t[i];
    fprintf(out,
            "<svg class=\"totals\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
            "height=\"18\" viewBox=\"0 0 %.0f 18\">\n",
            BAR_W, BAR_W);
    double x = 0;
    char sz[48];
    for (int i = 0; i < NTOTALS; i++) {
        double w = all ? (double)t[i] / (double)all * BAR_W : 0;
        fprintf(out,
                "<rect class=\"total %s\" x=\"%.3f\" y=\"0\" width=\"%.3f\" height=\"18\" "
                "fill=\"%s\" data-bytes=\"%" PRIu64 "\"><title>%s %s</title></rect>\n",
                classes[i].key, x, w, classes[i].colour, t[i], classes[i].label,
                size_text(t[i], sz, sizeof sz));
        x += w;
    }
    fputs("</svg>\n", out);
}

static void table(FILE *out, const cli_region *r, size_t n)
{
    fputs("<table class=\"regions\"><thead><tr><th></th><th>Address</th><th>Size</th>"
          "<th>State</th><th>Protection</th><th>Type</th><th>Alloc. base</th>"
          "<th>Alloc. protection</th><th>winvmem</th></tr></thead>\n<tbody>\n",
          out);
    char sz[48];
    for (size_t i = 0; i < n; i++) {
        const cli_region *x = &r[i];
        int c = class_of(x), is_free = c == FREE_CLASS;
        fprintf(out,
                "<tr class=\"%s\" data-base=\"0x%" PRIx64 "\" data-size=\"%" PRIu64
                "\" data-state=\"",
                classes[c].key, x->base, x->size);
        esc(out, x->state);
        fputs("\" data-protect=\"", out);
        esc(out, x->protect);
        fputs("\" data-type=\"", out);
        esc(out, x->type);
        fprintf(out, "\" data-allocation-base=\"0x%" PRIx64 "\" data-allocation-protect=\"",
                x->allocation_base);
        esc(out, x->allocation_protect);
        fprintf(out,
                "\" data-winvmem=\"%d\"><td class=\"sw\" style=\"background:%s\"></td>"
                "<td>%012" PRIx64 "</td><td class=\"num\">%s</td><td>",
                x->winvmem, classes[c].colour, x->base, size_text(x->size, sz, sizeof sz));
        esc(out, x->state);
        fputs("</td><td>", out);
        esc(out, is_free ? "" : x->protect);
        fputs("</td><td>", out);
        esc(out, x->type);
        fputs("</td><td>", out);
        if (!is_free)
            fprintf(out, "%012" PRIx64, x->allocation_base);
        fputs("</td><td>", out);
        esc(out, is_free ? "" : x->allocation_protect);
        fprintf(out, "</td><td>%s</td></tr>\n", x->winvmem ? "yes" : "");
    }
    fputs("</tbody></table>\n", out);
}

void cli_html_map(FILE *out, const char *heading, const cli_region *r, size_t n)
{
    uint64_t t[NTOTALS] = {0}, own_c = 0, own_r = 0;
    for (size_t i = 0; i < n; i++) {
        int c = class_of(&r[i]);
        if (c < NTOTALS)
            t[c] += r[i].size;
        if (r[i].winvmem && c < 3)
            own_c += r[i].size;
        else if (r[i].winvmem && c < NTOTALS)
            own_r += r[i].size;
    }
    char a[48], b[48], c[48], d[48], e[48], f[48], g[48];
    fputs("<section class=\"map\"><h2>", out);
    esc(out, heading);
    fprintf(out,
            "</h2>\n<p class=\"summary\">%zu region%s. Committed %s (private %s, image %s, "
            "mapped %s); reserved %s. winvmem's allocations: committed %s, reserved %s.</p>\n",
            n, n == 1 ? "" : "s", size_text(t[0] + t[1] + t[2], a, sizeof a),
            size_text(t[0], b, sizeof b), size_text(t[2], c, sizeof c),
            size_text(t[1], d, sizeof d), size_text(t[3] + t[4] + t[5], e, sizeof e),
            size_text(own_c, f, sizeof f), size_text(own_r, g, sizeof g));
    if (!n) {
        fputs("<p class=\"empty\">No regions.</p></section>\n", out);
        return;
    }
    region_bar(out, r, n);
    totals_bar(out, t);
    table(out, r, n);
    fputs("</section>\n", out);
}

static void stat_rows(FILE *out, const char *prefix, const cli_json *j)
{
    for (size_t i = 0; i < j->n; i++) {
        char key[128];
        snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", j->keys[i]);
        const cli_json *v = j->items[i];
        if (v->kind == CJ_OBJ) {
            stat_rows(out, key, v);
            continue;
        }
        fputs("<tr><td>", out);
        esc(out, key);
        fputs("</td><td>", out);
        if (v->kind == CJ_ARR)
            for (size_t k = 0; k < v->n; k++) {
                if (k)
                    fputs(", ", out);
                esc(out, v->items[k]->text ? v->items[k]->text : "");
            }
        else if (v->kind == CJ_BOOL)
            fputs(v->b ? "true" : "false", out);
        else
            esc(out, v->text ? v->text : "null");
        fputs("</td></tr>\n", out);
    }
}

void cli_html_stats(FILE *out, const cli_json *stats)
{
    if (!stats || stats->kind != CJ_OBJ)
        return;
    fputs("<section class=\"stats\"><h2>winvmem statistics</h2>\n<table class=\"stats\">"
          "<tbody>\n",
          out);
    stat_rows(out, "", stats);
    fputs("</tbody></table></section>\n", out);
}

void cli_html_end(FILE *out)
{
    fputs("</body></html>\n", out);
}
