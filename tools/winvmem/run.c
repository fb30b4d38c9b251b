/* `winvmem run FILE`: runs an op-language script (tools/oplang/README.md) with the shared
 * op-language module, and shows each call's result with the Windows names (--json: as one JSON
 * document; --transcript: the differential test's normalised transcript), then, after each
 * sequence, the map of the allocations it made. */
#include <stdlib.h>
#include <string.h>

#include <winvmem/stats.h>

#include "cli.h"
#include "oplang.h"

static void show_map(FILE *out, opl_style_t style, void *arg)
{
    (void)arg;
    if (style == OPL_JSON) {
        fputs(",\n   \"map\": ", out);
        wvm_print_map_ex(out, WVM_PRINT_JSON | WVM_PRINT_OWN);
    } else if (style == OPL_TEXT) {
        fputs("\nmap of winvmem's allocations:\n", out);
        wvm_print_map_ex(out, WVM_PRINT_OWN);
    }
}

int cli_run(const char *path, opl_style_t style, bool keep_going, bool html)
{
    bool std_in = !strcmp(path, "-");
    FILE *in = std_in ? stdin : fopen(path, "r");
    if (!in) {
        perror(path);
        return 2;
    }
    /* --html: the JSON document, then its maps drawn */
    char *doc = NULL;
    size_t len = 0;
    FILE *out = html ? open_memstream(&doc, &len) : stdout;
    if (!out) {
        perror("open_memstream");
        return 2;
    }
    opl_run_opts_t o = {.style = html ? OPL_JSON : style,
                        .keep_going = keep_going,
                        .file = std_in ? "<stdin>" : path,
                        .seq_end = style == OPL_TRANSCRIPT && !html ? NULL : show_map};
    int rc = opl_run(in, out, &o);
    if (!std_in)
        fclose(in);
    if (html) {
        fclose(out);
        char source[300];
        snprintf(source, sizeof source, "winvmem run %s: the map after each sequence", path);
        if (doc && len && (rc == 0 || keep_going)) {
            int h = cli_map_html_doc(doc, path, "winvmem run: address space", source);
            rc = rc ? rc : h;
        }
        free(doc);
    }
    return rc;
}
