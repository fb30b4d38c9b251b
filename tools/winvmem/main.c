/* winvmem: look at what winvmem sees and try Windows memory calls from a script. */
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: winvmem info [--json]\n"
    "       winvmem run [--json | --transcript | --html] [--keep-going] FILE|-\n"
    "       winvmem map [--json | --html] [--all]\n"
    "       winvmem map --html --from FILE|-\n"
    "       winvmem stats [--json]\n"
    "       winvmem --help | --version\n"
    "\n"
    "winvmem shows what the winvmem library (the Windows virtual-memory API on Linux) sees\n"
    "on this machine, and runs Windows memory calls from a script.\n"
    "\n"
    "commands:\n"
    "  info   page size, granularity, commit limit, kernel mechanisms found and chosen\n"
    "  run    executes an op-language script (VirtualAlloc, VirtualFree, VirtualProtect,\n"
    "         VirtualQuery, write watch, memory touches; see winvmem(1)), printing every\n"
    "         call's result and the map of the allocations each sequence made;\n"
    "         --transcript: the differential test's normalised transcript instead;\n"
    "         --html: a page with the map after each sequence;\n"
    "         --keep-going: run the lines that parse even if others do not\n"
    "  map    this process's address space as VirtualQuery reports it (like VMMap);\n"
    "         --all: also memory winvmem did not allocate;\n"
    "         --html: a self-contained HTML page (coloured bar by state and type, the\n"
    "         region table, the statistics); --from FILE: of a saved JSON document\n"
    "         (winvmem map --json, winvmem run --json, the demo's --json) instead\n"
    "  stats  winvmem's statistics for this process\n"
    "\n"
    "--json prints one JSON document. Environment: WINVMEM_* options, see winvmem(7).\n";

static int usage_error(const char *fmt, const char *a, const char *b)
{
    fputs("winvmem: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputs("\nusage: winvmem info|run|map|stats [options]; winvmem --help explains them\n", stderr);
    return 2;
}

typedef struct cmd {
    const char *name;
    const char *options[6]; /* the options it takes */
    int file;               /* takes FILE */
} cmd;

static const cmd cmds[] = {
    {"info", {"--json"}, 0},
    {"run", {"--json", "--transcript", "--html", "--keep-going", "-k"}, 1},
    {"map", {"--json", "--all", "--html", "--from"}, 0},
    {"stats", {"--json"}, 0},
};

static bool takes(const cmd *c, const char *opt)
{
    for (int i = 0; i < 6 && c->options[i]; i++)
        if (!strcmp(c->options[i], opt))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version"))
            return cli_version();
    const cmd *c = NULL;
    if (argc < 2)
        return usage_error("no command given%s%s", "", "");
    if (argv[1][0] == '-')
        return usage_error("'%s' before a command: options follow the command%s", argv[1], "");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(cmds[i].name, argv[1]))
            c = &cmds[i];
    if (!c)
        return usage_error("unknown command '%s' (commands: info, run, map, stats)%s", argv[1], "");
    bool json = false, all = false, keep_going = false, transcript = false, html = false;
    const char *file = NULL, *from = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "--from=", 7) && takes(c, "--from")) {
            from = a + 7;
        } else if (a[0] == '-' && a[1]) {
            if (!takes(c, a))
                return usage_error("'%s' is not an option of '%s'", a, c->name);
            if (!strcmp(a, "--from")) {
                if (++i == argc)
                    return usage_error("--from needs a FILE (or - for standard input)%s%s", "", "");
                from = argv[i];
            }
            html |= !strcmp(a, "--html");
            json |= !strcmp(a, "--json");
            all |= !strcmp(a, "--all");
            transcript |= !strcmp(a, "--transcript");
            keep_going |= !strcmp(a, "--keep-going") || !strcmp(a, "-k");
        } else if (c->file && !file) {
            file = a;
        } else {
            return usage_error("unexpected argument '%s' to '%s'", a, c->name);
        }
    }
    if (!strcmp(c->name, "info"))
        return cli_info(json);
    if (!strcmp(c->name, "run")) {
        if (!file)
            return usage_error("run: missing FILE (a script, or - for standard input)%s%s", "", "");
        if (json + transcript + html > 1)
            return usage_error("run: choose one of --json, --transcript and --html%s%s", "", "");
        return cli_run(file,
                       json         ? OPL_JSON
                       : transcript ? OPL_TRANSCRIPT
                                    : OPL_TEXT,
                       keep_going, html);
    }
    if (!strcmp(c->name, "map")) {
        if (json && html)
            return usage_error("map: choose one of --json and --html%s%s", "", "");
        if (from && !html)
            return usage_error("map: --from draws a saved map: it needs --html%s%s", "", "");
        if (from && all)
            return usage_error("map: --all is for this process, not with --from%s%s", "", "");
        return cli_map(json, all, html, from);
    }
    wvm_print_stats(stdout, json ? WVM_PRINT_JSON : 0);
    return 0;
}
