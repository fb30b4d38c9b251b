/* winvmem: look at what winvmem sees and try Windows memory calls from a script. */
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: winvmem info [--json]\n"
    "       winvmem run [--json | --transcript] [--keep-going] FILE|-\n"
    "       winvmem map [--json] [--all]\n"
    "       winvmem stats [--json]\n"
    "       winvmem --help\n"
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
    "         --keep-going: run the lines that parse even if others do not\n"
    "  map    this process's address space as VirtualQuery reports it (like VMMap);\n"
    "         --all: also memory winvmem did not allocate\n"
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
    const char *options[4]; /* the options it takes */
    int file;               /* takes FILE */
} cmd;

static const cmd cmds[] = {
    {"info", {"--json"}, 0},
    {"run", {"--json", "--transcript", "--keep-going", "-k"}, 1},
    {"map", {"--json", "--all"}, 0},
    {"stats", {"--json"}, 0},
};

static bool takes(const cmd *c, const char *opt)
{
    for (int i = 0; i < 4 && c->options[i]; i++)
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
        }
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
    bool json = false, all = false, keep_going = false, transcript = false;
    const char *file = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1]) {
            if (!takes(c, a))
                return usage_error("'%s' is not an option of '%s'", a, c->name);
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
        if (json && transcript)
            return usage_error("run: --json and --transcript exclude each other%s%s", "", "");
        return cli_run(file, json ? OPL_JSON : transcript ? OPL_TRANSCRIPT : OPL_TEXT, keep_going);
    }
    unsigned flags = json ? WVM_PRINT_JSON : 0;
    if (!strcmp(c->name, "map"))
        wvm_print_map_ex(stdout, flags | (all ? 0 : WVM_PRINT_OWN));
    else
        wvm_print_stats(stdout, flags);
    return 0;
}
